#define SPANDSP_EXPOSE_INTERNAL_STRUCTURES
#include <spandsp.h>

#include "CFaxFrontEnd.h"

void lc_fax_set_signal_cutoff(void *fax, float cutoff) {
    fax_state_t *s = (fax_state_t *) fax;
    fsk_rx_signal_cutoff(&s->modems.v21_rx, cutoff);
    v17_rx_signal_cutoff(&s->modems.fast_modems.v17_rx, cutoff);
    v29_rx_signal_cutoff(&s->modems.fast_modems.v29_rx, cutoff);
    v27ter_rx_signal_cutoff(&s->modems.fast_modems.v27ter_rx, cutoff);
}
