/* Interposes the C allocator for the test executable, forwarding to glibc's internal entry
 * points, and counts calls per thread. Linked only into tests. */
#define _GNU_SOURCE
#include "AllocationCounter.h"
#include <errno.h>
#include <stddef.h>
#include <stdatomic.h>
#include <execinfo.h>
#include <unistd.h>

#if defined(__has_feature)
#if __has_feature(thread_sanitizer) || __has_feature(address_sanitizer)
#define LINECARD_SANITIZED 1
#endif
#endif

#if LINECARD_SANITIZED
/* A sanitizer owns the allocator; interposing it too would bypass the sanitizer. */
int linecard_allocation_counting_available(void) { return 0; }
uint64_t linecard_thread_allocations(void) { return 0; }
uint64_t linecard_total_allocations(void) { return 0; }
void linecard_print_allocation_backtraces(int count) { (void) count; }
#else
int linecard_allocation_counting_available(void) { return 1; }

extern void *__libc_malloc(size_t);
extern void *__libc_calloc(size_t, size_t);
extern void *__libc_realloc(void *, size_t);
extern void *__libc_memalign(size_t, size_t);
extern void *__libc_valloc(size_t);
extern void *__libc_pvalloc(size_t);

static __thread uint64_t thread_count;
static __thread int backtraces_left;
static __thread int in_backtrace;
static _Atomic uint64_t total_count;

static inline void count(void) {
    thread_count++;
    atomic_fetch_add_explicit(&total_count, 1, memory_order_relaxed);
    if (backtraces_left > 0 && !in_backtrace) {
        in_backtrace = 1;
        backtraces_left--;
        void *frames[24];
        int n = backtrace(frames, 24);
        static const char header[] = "--- allocation on a measured thread:\n";
        write(2, header, sizeof header - 1);
        backtrace_symbols_fd(frames, n, 2);
        in_backtrace = 0;
    }
}

void linecard_print_allocation_backtraces(int count) {
    if (count > 0) {
        /* backtrace() loads its unwinder on first use; do that before counting. */
        void *frames[2];
        in_backtrace = 1;
        backtrace(frames, 2);
        in_backtrace = 0;
    }
    backtraces_left = count;
}

uint64_t linecard_thread_allocations(void) { return thread_count; }
uint64_t linecard_total_allocations(void) { return atomic_load(&total_count); }

void *malloc(size_t size) { count(); return __libc_malloc(size); }
void *calloc(size_t n, size_t size) { count(); return __libc_calloc(n, size); }
void *realloc(void *p, size_t size) { count(); return __libc_realloc(p, size); }
void *memalign(size_t alignment, size_t size) { count(); return __libc_memalign(alignment, size); }
void *aligned_alloc(size_t alignment, size_t size) { count(); return __libc_memalign(alignment, size); }
void *valloc(size_t size) { count(); return __libc_valloc(size); }
void *pvalloc(size_t size) { count(); return __libc_pvalloc(size); }
int posix_memalign(void **out, size_t alignment, size_t size) {
    count();
    if (alignment % sizeof(void *) != 0 || (alignment & (alignment - 1)) != 0) return EINVAL;
    void *p = __libc_memalign(alignment, size);
    if (p == NULL) return ENOMEM;
    *out = p;
    return 0;
}
#endif
