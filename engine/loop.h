/*
 * The event loop everything in sockgate plugs into, as redis's `ae` is: one epoll set for
 * every file descriptor (client sockets, the HTTP daemon, the resolver, signals), one
 * timer heap for every deadline, and a list of hooks that run before the loop sleeps
 * (deferred frees, the log flush). It runs on one thread and never blocks anywhere but
 * in epoll_wait. A subsystem plugs in with watches, timers and hooks; nothing else
 * calls it per turn.
 *
 * The caller owns every eng_watch, eng_timer and eng_hook; the loop only links them. Each
 * must be removed before its memory is freed.
 */
#ifndef SOCKGATE_LOOP_H
#define SOCKGATE_LOOP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct eng_loop;
struct eng_watch;
struct eng_timer;

typedef void (*eng_watch_fn)(struct eng_watch *w, uint32_t events);
typedef void (*eng_timer_fn)(struct eng_timer *t);
struct eng_hook;
typedef void (*eng_hook_fn)(struct eng_hook *h);

struct eng_watch {
    int fd;               /* the descriptor watched */
    uint32_t events;      /* EPOLLIN/EPOLLOUT/... now registered; 0 when not in the set */
    eng_watch_fn fn;      /* called with the ready events */
};

struct eng_timer {
    uint64_t deadline_ms; /* monotonic time at which fn runs */
    size_t heap_index;    /* position in the heap, or SIZE_MAX when not armed */
    eng_timer_fn fn;      /* called once when the deadline passes */
};

/* A function run on every turn just before the loop waits (redis's beforeSleep): work
 * that must happen at a safe point, where no callback is on the stack. */
struct eng_hook {
    eng_hook_fn fn;       /* called before every wait */
    struct eng_hook *next; /* the loop's list, in the order added */
    bool linked;          /* on the list */
};

/* Creates a loop that holds at most `max_timers` armed timers. NULL on failure. */
struct eng_loop *eng_loop_new(size_t max_timers);
/* A subsystem that arms up to n timers of its own reserves room for them here, so that
 * its creator need not know its needs (the engine: one per wait). Returns 0 or -ENOMEM;
 * _release gives the room back when the subsystem goes. */
int eng_loop_reserve_timers(struct eng_loop *loop, size_t n);
void eng_loop_release_timers(struct eng_loop *loop, size_t n);
void eng_loop_free(struct eng_loop *loop);

/* Monotonic milliseconds, the clock of every deadline. */
uint64_t eng_now_ms(void);

/* Sets the events a watch waits for; 0 removes it from the set. Returns 0 or -errno. */
void eng_watch_init(struct eng_watch *w, int fd, eng_watch_fn fn);
int eng_watch_set(struct eng_loop *loop, struct eng_watch *w, uint32_t events);

/* Arms (or re-arms) a timer for an absolute deadline. Returns 0 or -ENOMEM when the heap
 * is full. eng_timer_stop accepts a timer that is not armed. */
void eng_timer_init(struct eng_timer *t, eng_timer_fn fn);
int eng_timer_start(struct eng_loop *loop, struct eng_timer *t, uint64_t deadline_ms);
void eng_timer_stop(struct eng_loop *loop, struct eng_timer *t);
static inline int eng_timer_armed(const struct eng_timer *t) { return t->heap_index != SIZE_MAX; }

/* Adds a hook run before every wait, after those added earlier; removing one that is
 * not added does nothing. A hook may remove itself or stop the loop. */
void eng_hook_init(struct eng_hook *h, eng_hook_fn fn);
void eng_loop_add_before_sleep(struct eng_loop *loop, struct eng_hook *h);
void eng_loop_remove_before_sleep(struct eng_loop *loop, struct eng_hook *h);

/* One turn: the before-sleep hooks, a wait of at most `cap_ms` (-1: until the earliest
 * timer or an event), the ready watches, then the timers that are due. Returns the
 * number of events dispatched or -errno. */
int eng_loop_run_once(struct eng_loop *loop, int cap_ms);

/* Runs turns until eng_loop_stop. Returns 0, or -errno when epoll failed. */
int eng_loop_run(struct eng_loop *loop);
/* Makes eng_loop_run return after the current turn (from any callback or hook). */
void eng_loop_stop(struct eng_loop *loop);

#endif
