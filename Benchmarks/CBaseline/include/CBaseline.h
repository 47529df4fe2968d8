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

#ifndef LINECARD_CBASELINE_PACING
#define LINECARD_CBASELINE_PACING
/* The paced benchmark's baseline: a thread with SCHED_FIFO (when permitted) and locked
 * memory that sleeps to absolute deadlines every `period_ns` for `seconds` and does no work,
 * measuring how late it wakes. What it sees is the machine's own scheduling latency.
 * Fills `misses` (wake-ups more than one period late), `worst_ns`, and returns the number
 * of periods, or -1 if the thread could not be started. */
int64_t linecard_baseline_pacing(int64_t period_ns, int seconds, int64_t *misses, int64_t *worst_ns, int *realtime);
#endif

#ifndef LINECARD_CBASELINE_FAX
#define LINECARD_CBASELINE_FAX
/* The fax benchmark's baseline: two spandsp fax terminals back to back in a plain C loop
 * (V.17, ECM, T.4/T.6, as the channel API configures them), the caller sending `tiff` and
 * the answerer writing `received`, in blocks of `block` samples (at most 160). Fills both
 * T.30 completion codes and returns the line time in samples. */
int64_t linecard_baseline_fax(const char *tiff, const char *received, int block, int *sender_code, int *receiver_code);
#endif
