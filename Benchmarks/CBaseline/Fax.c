#include "CBaseline.h"
#include <spandsp.h>

static void phase_e(t30_state_t *s, void *user_data, int code) {
    (void) s;
    *(int *) user_data = code;
}

int64_t linecard_baseline_fax(const char *tiff, const char *received, int block, int *sender_code, int *receiver_code) {
    fax_state_t *sender = fax_init(NULL, 1);
    fax_state_t *receiver = fax_init(NULL, 0);
    int16_t a[160], b[160];
    if (block > 160) block = 160;
    *sender_code = -1;
    *receiver_code = -1;
    fax_set_transmit_on_idle(sender, 1);
    fax_set_transmit_on_idle(receiver, 1);
    t30_state_t *ts = fax_get_t30_state(sender), *tr = fax_get_t30_state(receiver);
    t30_set_tx_file(ts, tiff, -1, -1);
    t30_set_rx_file(tr, received, -1);
    t30_set_phase_e_handler(ts, phase_e, sender_code);
    t30_set_phase_e_handler(tr, phase_e, receiver_code);
    int modems = T30_SUPPORT_V27TER | T30_SUPPORT_V29 | T30_SUPPORT_V17;
    int compressions = T30_SUPPORT_T4_1D_COMPRESSION | T30_SUPPORT_T4_2D_COMPRESSION | T30_SUPPORT_T6_COMPRESSION;
    int resolutions = T30_SUPPORT_STANDARD_RESOLUTION | T30_SUPPORT_FINE_RESOLUTION | T30_SUPPORT_SUPERFINE_RESOLUTION;
    t30_set_supported_modems(ts, modems);
    t30_set_supported_modems(tr, modems);
    t30_set_ecm_capability(ts, 1);
    t30_set_ecm_capability(tr, 1);
    t30_set_supported_compressions(ts, compressions);
    t30_set_supported_compressions(tr, compressions);
    t30_set_supported_resolutions(ts, resolutions);
    t30_set_supported_resolutions(tr, resolutions);
    int64_t samples = 0;
    while ((*sender_code < 0 || *receiver_code < 0) && samples < (int64_t) 8000 * 600) {
        fax_tx(sender, a, block);
        fax_tx(receiver, b, block);
        fax_rx(receiver, a, block);
        fax_rx(sender, b, block);
        samples += block;
    }
    fax_free(sender);
    fax_free(receiver);
    return samples;
}
