#include "CDTMFKernel.h"

#include <math.h>
#include <string.h>

typedef float v8f __attribute__((vector_size(32)));

static const float dtmf_frequencies[8] = { 697, 770, 852, 941, 1209, 1336, 1477, 1633 };

static float two_cos(float hz) { return 2.0f * cosf(2.0f * (float) M_PI * hz / 8000.0f); }

void lc_dtmf_kernel_init(lc_dtmf_kernel *k, int filter_dial_tone) {
    memset(k, 0, sizeof(*k));
    k->filter_dial_tone = filter_dial_tone;
    k->notch_coefficients[0] = two_cos(350);
    k->notch_coefficients[1] = two_cos(440);
    for (int i = 0; i < 8; i++) {
        k->coefficients[i] = two_cos(dtmf_frequencies[i]);
        k->neighbours[i][0] = two_cos(0.95f * dtmf_frequencies[i]);
        k->neighbours[i][1] = two_cos(dtmf_frequencies[i]);
        k->neighbours[i][2] = two_cos(1.05f * dtmf_frequencies[i]);
    }
    for (int i = 0; i < LC_DTMF_BLOCK; i++)
        k->window[i] = 0.5f - 0.5f * cosf(2.0f * (float) M_PI * (i + 0.5f) / LC_DTMF_BLOCK);
}

void lc_dtmf_kernel_reset(lc_dtmf_kernel *k) {
    k->filled = 0;
    memset(k->n350, 0, sizeof(k->n350));
    memset(k->n440, 0, sizeof(k->n440));
}

/* A second-order notch: zeros on the unit circle at w, poles just inside at radius 0.985,
   which leaves DTMF's lowest tone (697 Hz) within 0.1 dB. */
static inline float notch(float *z, float x, float c) {
    const float r = 0.985f;
    float y = x - c * z[0] + z[1] + r * c * z[2] - r * r * z[3];
    z[1] = z[0];
    z[0] = x;
    z[3] = z[2];
    z[2] = y;
    return y;
}

int lc_dtmf_fill(lc_dtmf_kernel *k, const int16_t *amp, int count) {
    int room = LC_DTMF_BLOCK - k->filled;
    int n = count < room ? count : room;
    float *out = k->block + k->filled;
    if (k->filter_dial_tone) {
        const float c350 = k->notch_coefficients[0], c440 = k->notch_coefficients[1];
        for (int i = 0; i < n; i++)
            out[i] = notch(k->n440, notch(k->n350, (float) amp[i], c350), c440);
    } else {
        for (int i = 0; i < n; i++)
            out[i] = (float) amp[i];
    }
    k->filled += n;
    return n;
}

/* Goertzel over the block for eight frequencies at once, two samples a step so that the
   loop-carried chain is one multiply and one add per two samples:
   s[n+1] = (c*c - 1) s[n-1] - c s[n-2] + c x[n] + x[n+1]. */
static inline void goertzel8(const float *x, const float *weights, v8f c, v8f *s1_out, v8f *s2_out) {
    v8f c2m1 = c * c - 1.0f;
    v8f s1 = { 0 }, s2 = { 0 };
    for (int i = 0; i < LC_DTMF_BLOCK; i += 2) {
        float x0 = x[i], x1 = x[i + 1];
        if (weights) {
            x0 *= weights[i];
            x1 *= weights[i + 1];
        }
        v8f next = c * s1 - s2 + x0;
        v8f after = c2m1 * s1 - c * s2 + (c * x0 + x1);
        s2 = next;
        s1 = after;
    }
    *s1_out = s1;
    *s2_out = s2;
}

float lc_dtmf_analyse(const lc_dtmf_kernel *k, float energies[8]) {
    v8f c;
    memcpy(&c, k->coefficients, sizeof(c));
    v8f s1, s2;
    goertzel8(k->block, 0, c, &s1, &s2);
    v8f e = s1 * s1 + s2 * s2 - c * s1 * s2;
    memcpy(energies, &e, sizeof(e));
    float t0 = 0, t1 = 0, t2 = 0, t3 = 0;
    for (int i = 0; i + 3 < LC_DTMF_BLOCK; i += 4) {
        t0 += k->block[i] * k->block[i];
        t1 += k->block[i + 1] * k->block[i + 1];
        t2 += k->block[i + 2] * k->block[i + 2];
        t3 += k->block[i + 3] * k->block[i + 3];
    }
    for (int i = LC_DTMF_BLOCK & ~3; i < LC_DTMF_BLOCK; i++)
        t0 += k->block[i] * k->block[i];
    return t0 + t1 + t2 + t3;
}

void lc_dtmf_neighbourhood(const lc_dtmf_kernel *k, int a, int b, float out[6]) {
    v8f c = { k->neighbours[a][0], k->neighbours[a][1], k->neighbours[a][2],
              k->neighbours[b][0], k->neighbours[b][1], k->neighbours[b][2], 0, 0 };
    v8f s1, s2;
    goertzel8(k->block, k->window, c, &s1, &s2);
    v8f e = s1 * s1 + s2 * s2 - c * s1 * s2;
    for (int i = 0; i < 6; i++)
        out[i] = e[i];
}
