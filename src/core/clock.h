/* clock.h — the library's one clock (internal): seconds on the monotonic clock, for the trainer's
 * and DQN's timings and the communicator's time-in-communication counters. */
#ifndef CURVO_CORE_CLOCK_H
#define CURVO_CORE_CLOCK_H

/* Seconds since an arbitrary fixed point (CLOCK_MONOTONIC): only differences mean anything. */
double core_seconds(void);

#endif
