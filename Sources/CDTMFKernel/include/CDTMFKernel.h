#ifndef LINECARD_DTMF_KERNEL_H
#define LINECARD_DTMF_KERNEL_H

#include <stdint.h>

/* The per-sample arithmetic of Linecard's DTMF detector (LinecardDSP.DTMFDetector), in C so
   that it is compiled with optimisation even in a debug build: the tests run hours of
   signal through it. The decisions are made in Swift, once per block. */

#define LC_DTMF_BLOCK 102

typedef struct lc_dtmf_kernel {
    /* The block being collected, as floats (after the dial-tone notches when they are on). */
    float block[LC_DTMF_BLOCK];
    int filled;
    int filter_dial_tone;
    /* Notch filter states: two past inputs and outputs per notch (350 and 440 Hz). */
    float n350[4];
    float n440[4];
    /* 2cos(w) at 350 and 440 Hz. */
    float notch_coefficients[2];
    /* 2cos(w) for the 8 DTMF frequencies: rows 697, 770, 852, 941, then columns
       1209, 1336, 1477, 1633. */
    float coefficients[8];
    /* For each DTMF frequency f: 2cos(w) at 0.95 f, f and 1.05 f. */
    float neighbours[8][3];
    /* A Hann window over one block. */
    float window[LC_DTMF_BLOCK];
} lc_dtmf_kernel;

void lc_dtmf_kernel_init(lc_dtmf_kernel *k, int filter_dial_tone);

/* Forgets the block being collected and the notch filters' history. */
void lc_dtmf_kernel_reset(lc_dtmf_kernel *k);

/* Appends samples to the block until it is full; returns how many it took. */
int lc_dtmf_fill(lc_dtmf_kernel *k, const int16_t *amp, int count);

/* For a full block: the squared magnitude at each DTMF frequency (a tone of amplitude A on
   frequency reads A*A*N*N/4) into energies, and the block's total energy (sum of squares). */
float lc_dtmf_analyse(const lc_dtmf_kernel *k, float energies[8]);

/* For a full block through the Hann window: the squared magnitudes at 0.95 f, f and 1.05 f of
   tones a and b (indexes 0-7), into out[0..2] and out[3..5]. */
void lc_dtmf_neighbourhood(const lc_dtmf_kernel *k, int a, int b, float out[6]);

#endif
