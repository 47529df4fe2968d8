#ifndef LINECARD_ALLOCATION_COUNTER_H
#define LINECARD_ALLOCATION_COUNTER_H
#include <stdint.h>
/* Heap allocations (malloc, calloc, realloc, the aligned family) made by the calling thread
 * since the process started. Counting is per thread so that the test runner's own threads
 * do not disturb a measurement of the tick. */
uint64_t linecard_thread_allocations(void);
/* 0 in sanitizer builds, where the sanitizer owns the allocator and nothing is counted. */
int linecard_allocation_counting_available(void);
/* Allocations made by all threads. */
uint64_t linecard_total_allocations(void);
/* Diagnostics: print a backtrace to stderr for each of the next `count` allocations made
 * by the calling thread (0 turns it off). */
void linecard_print_allocation_backtraces(int count);
#endif
