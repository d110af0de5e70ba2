#include "util/timer.h"

#include <time.h>

uint64_t timer_now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000ULL + (uint64_t)ts.tv_nsec;
}

double timer_since_s(uint64_t start_ns)
{
    return (double)(timer_now_ns() - start_ns) * 1e-9;
}
