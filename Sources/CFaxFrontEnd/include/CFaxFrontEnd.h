#ifndef LINECARD_FAX_FRONT_END_H
#define LINECARD_FAX_FRONT_END_H

/* spandsp 0.0.6 declares carrier on its fax receivers at about -43 dBm0 and offers no call
   to change that for a fax_state_t; worse, the front end re-initialises its receivers as
   T.30 switches between them, back to that level. Line noise 30 dB below a -14 dBm0 fax
   signal sits right there, and T.30 then stalls (no response to DCS). This reaches into the
   private structures to set the level on every receiver; the caller does it before every
   block it feeds, so that a re-initialised receiver is set again at once. */

/* `fax` is a fax_state_t; `cutoff` in dBm0. */
void lc_fax_set_signal_cutoff(void *fax, float cutoff);

#endif
