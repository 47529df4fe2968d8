#include "CIsdnBaseline.h"

#include <errno.h>
#include <poll.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>
#include <libpri.h>

static int read_frame(struct pri *pri, void *buf, int len) {
    int fd = *(int *)pri_get_userdata(pri);
    ssize_t n = recv(fd, buf, len - 2, MSG_DONTWAIT);
    if (n <= 0) return 0;
    ((unsigned char *)buf)[n] = 0;
    ((unsigned char *)buf)[n + 1] = 0;
    return (int)n + 2;
}

static int write_frame(struct pri *pri, void *buf, int len) {
    int fd = *(int *)pri_get_userdata(pri);
    ssize_t n = send(fd, buf, len - 2, MSG_DONTWAIT | MSG_NOSIGNAL);
    return n == len - 2 ? len : 0;
}

static void quiet(struct pri *pri, char *text) { (void)pri; (void)text; }

static double now(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return t.tv_sec + t.tv_nsec / 1e9;
}

static int timeout_ms(struct pri *a, struct pri *b) {
    int best = 1000;
    struct pri *both[2] = { a, b };
    for (int i = 0; i < 2; i++) {
        struct timeval *next = pri_schedule_next(both[i]);
        if (!next) continue;
        struct timeval t;
        gettimeofday(&t, NULL);
        long ms = (next->tv_sec - t.tv_sec) * 1000 + (next->tv_usec - t.tv_usec) / 1000;
        if (ms < 0) ms = 0;
        if (ms < best) best = (int)ms;
    }
    return best;
}

#define MAX_CHANNELS 31

double linecard_baseline_isdn(int channels, int calls) {
    if (channels < 1 || channels > 30) return -1;
    int fds[2];
    if (socketpair(AF_UNIX, SOCK_SEQPACKET, 0, fds) != 0) return -1;
    pri_set_message(quiet);
    pri_set_error(quiet);
    struct pri *net = pri_new_cb(fds[0], PRI_NETWORK, PRI_SWITCH_EUROISDN_E1, read_frame, write_frame, &fds[0]);
    struct pri *cpe = pri_new_cb(fds[1], PRI_CPE, PRI_SWITCH_EUROISDN_E1, read_frame, write_frame, &fds[1]);
    if (!net || !cpe) return -1;
    pri_hangup_fix_enable(net, 1);
    pri_hangup_fix_enable(cpe, 1);
    pri_set_inbanddisconnect(net, 1);
    pri_set_inbanddisconnect(cpe, 1);

    /* E1 timeslots 1-15 and 17-31. */
    int number[MAX_CHANNELS];
    q931_call *call[MAX_CHANNELS];
    int busy[MAX_CHANNELS];
    for (int i = 0, ts = 1; i < channels; i++, ts++) {
        if (ts == 16) ts++;
        number[i] = ts;
        call[i] = NULL;
        busy[i] = 0;
    }
    int up = 0, started = 0, done = 0;
    double start = 0;
    struct pollfd p[2] = { { fds[0], POLLIN, 0 }, { fds[1], POLLIN, 0 } };
    double give_up = now() + 60;
    while (done < calls) {
        if (now() > give_up) return -1;
        if (up == 2) {
            if (start == 0) start = now();
            for (int i = 0; i < channels && started < calls; i++) {
                if (busy[i]) continue;
                q931_call *c = pri_new_call(cpe);
                struct pri_sr *sr = pri_sr_new();
                pri_sr_set_channel(sr, number[i], 1, 0);
                pri_sr_set_bearer(sr, PRI_TRANS_CAP_SPEECH, PRI_LAYER_1_ALAW);
                pri_sr_set_called(sr, "200", PRI_UNKNOWN, 1);
                if (pri_setup(cpe, c, sr) != 0) return -1;
                pri_sr_free(sr);
                call[i] = c;
                busy[i] = 1;
                started++;
            }
        }
        if (poll(p, 2, timeout_ms(net, cpe)) < 0 && errno != EINTR) return -1;
        for (int side = 0; side < 2; side++) {
            struct pri *pri = side == 0 ? net : cpe;
            pri_event *e = NULL;
            if (p[side].revents & POLLIN) e = pri_check_event(pri);
            for (;;) {
                if (!e) e = pri_schedule_run(pri);
                if (!e) break;
                if (side == 0) {
                    switch (e->e) {
                    case PRI_EVENT_DCHAN_UP: up++; break;
                    case PRI_EVENT_RING: {
                        q931_call *c = e->ring.call;
                        int ch = e->ring.channel & 0xff;
                        pri_proceeding(net, c, ch, 0);
                        pri_acknowledge(net, c, ch, 1);
                        pri_answer(net, c, ch, 0);
                        break;
                    }
                    case PRI_EVENT_HANGUP_REQ: pri_hangup(net, e->hangup.call, e->hangup.cause); break;
                    case PRI_EVENT_HANGUP: pri_hangup(net, e->hangup.call, e->hangup.cause); break;
                    default: break;
                    }
                } else {
                    switch (e->e) {
                    case PRI_EVENT_DCHAN_UP: up++; break;
                    case PRI_EVENT_ANSWER: pri_hangup(cpe, e->answer.call, PRI_CAUSE_NORMAL_CLEARING); break;
                    case PRI_EVENT_HANGUP_REQ: pri_hangup(cpe, e->hangup.call, e->hangup.cause); break;
                    case PRI_EVENT_HANGUP:
                    case PRI_EVENT_HANGUP_ACK: {
                        q931_call *c = e->hangup.call;
                        if (e->e == PRI_EVENT_HANGUP) pri_hangup(cpe, c, e->hangup.cause);
                        for (int i = 0; i < channels; i++) {
                            if (busy[i] && call[i] == c) { busy[i] = 0; call[i] = NULL; done++; }
                        }
                        break;
                    }
                    default: break;
                    }
                }
                e = NULL;
            }
        }
    }
    double seconds = now() - start;
    close(fds[0]);
    close(fds[1]);
    return seconds;
}
