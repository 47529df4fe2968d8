#ifndef LINECARD_CBASELINE_H
#define LINECARD_CBASELINE_H
#include <stdint.h>

/* A plain C loop doing the engine benchmark's DSP work with spandsp and nothing else:
 * `channels` channels in pairs, each generating DTMF (dtmf_tx, refilled with 32 digits when
 * its queue drains) towards its pair and detecting the pair's DTMF (dtmf_rx with the engine's
 * settings: twist 8/4 dB, threshold -42 dBm0, no dial-tone filter), for `samples` samples in blocks of `block`.
 * Returns the digits detected in total, so that the work cannot be optimised away. */
int64_t linecard_baseline_dtmf(int channels, int block, int64_t samples);

#endif
