#include "CBaseline.h"
#include <spandsp.h>
#include <stdlib.h>
#include <string.h>

/* The two ends of a call send different digits at any moment, as in the engine run (whose
   ports take a digit heard while they send that same digit for their own echo). */
static const char *const digits[2] = { "0123456789ABCD*#0123456789ABCD*#", "123456789ABCD*#0123456789ABCD*#0" };

static int64_t detected;

static void report(void *user_data, int code, int level, int delay) {
    (void) user_data; (void) level; (void) delay;
    if (code) detected++;
}

int64_t linecard_baseline_dtmf(int channels, int block, int64_t samples) {
    dtmf_tx_state_t **tx = calloc(channels, sizeof *tx);
    dtmf_rx_state_t **rx = calloc(channels, sizeof *rx);
    int16_t *audio = calloc((size_t) channels * block, sizeof(int16_t));
    for (int c = 0; c < channels; c++) {
        tx[c] = dtmf_tx_init(NULL);
        rx[c] = dtmf_rx_init(NULL, NULL, NULL);
        dtmf_rx_parms(rx[c], 0, 8, 4, -42);
        dtmf_rx_set_realtime_callback(rx[c], report, NULL);
        dtmf_tx_put(tx[c], digits[c & 1], -1);
    }
    detected = 0;
    for (int64_t done = 0; done < samples; done += block) {
        for (int c = 0; c < channels; c++) {
            int16_t *out = audio + (size_t) c * block;
            int n = dtmf_tx(tx[c], out, block);
            if (n < block) {
                memset(out + n, 0, (size_t) (block - n) * sizeof(int16_t));
                dtmf_tx_put(tx[c], digits[c & 1], -1);
            }
        }
        for (int c = 0; c < channels; c++) {
            dtmf_rx(rx[c], audio + (size_t) (c ^ 1) * block, block);
        }
    }
    for (int c = 0; c < channels; c++) {
        dtmf_tx_free(tx[c]);
        dtmf_rx_free(rx[c]);
    }
    free(tx);
    free(rx);
    free(audio);
    return detected;
}
