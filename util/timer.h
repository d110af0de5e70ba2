/* Monotonic wall-clock timing. */
#ifndef HWNAS_UTIL_TIMER_H
#define HWNAS_UTIL_TIMER_H

#include <stdint.h>

/* Nanoseconds from CLOCK_MONOTONIC. */
uint64_t timer_now_ns(void);
/* Seconds elapsed since a timer_now_ns() reading. */
double timer_since_s(uint64_t start_ns);

#endif
