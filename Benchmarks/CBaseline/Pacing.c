#define _GNU_SOURCE
#include "CBaseline.h"
#include <pthread.h>
#include <sched.h>
#include <sys/mman.h>
#include <time.h>

struct pacing {
    int64_t period_ns, periods, misses, worst_ns;
    int seconds, realtime;
};

static int64_t now_ns(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t) ts.tv_sec * 1000000000 + ts.tv_nsec;
}

static void *pace(void *arg) {
    struct pacing *p = arg;
    struct sched_param param = {.sched_priority = 50};
    p->realtime = pthread_setschedparam(pthread_self(), SCHED_FIFO, &param) == 0 && mlockall(MCL_CURRENT | MCL_FUTURE) == 0;
    int64_t deadline = now_ns() + p->period_ns;
    int64_t end = deadline + (int64_t) p->seconds * 1000000000;
    while (deadline < end) {
        struct timespec ts = {.tv_sec = deadline / 1000000000, .tv_nsec = deadline % 1000000000};
        while (clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &ts, NULL) != 0) {}
        int64_t late = now_ns() - deadline;
        if (late > p->worst_ns) p->worst_ns = late;
        if (late > p->period_ns) p->misses++;
        p->periods++;
        deadline += p->period_ns;
    }
    return NULL;
}

int64_t linecard_baseline_pacing(int64_t period_ns, int seconds, int64_t *misses, int64_t *worst_ns, int *realtime) {
    struct pacing p = {.period_ns = period_ns, .seconds = seconds};
    pthread_t thread;
    if (pthread_create(&thread, NULL, pace, &p) != 0) return -1;
    pthread_join(thread, NULL);
    *misses = p.misses;
    *worst_ns = p.worst_ns;
    *realtime = p.realtime;
    return p.periods;
}
