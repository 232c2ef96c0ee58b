/*
 * The event loop everything in sockgate plugs into: one epoll set for every file
 * descriptor (client sockets, the HTTP daemon, the resolver, signals) and one timer heap
 * for every deadline. It runs on one thread and never blocks anywhere but in epoll_wait.
 *
 * The caller owns every eng_watch and eng_timer; the loop only links them. A watch or
 * timer must be removed before its memory is freed.
 */
#ifndef SOCKGATE_LOOP_H
#define SOCKGATE_LOOP_H

#include <stddef.h>
#include <stdint.h>

struct eng_loop;
struct eng_watch;
struct eng_timer;

typedef void (*eng_watch_fn)(struct eng_watch *w, uint32_t events);
typedef void (*eng_timer_fn)(struct eng_timer *t);

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

/* Creates a loop that holds at most `max_timers` armed timers. NULL on failure. */
struct eng_loop *eng_loop_new(size_t max_timers);
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

/* Milliseconds until the earliest timer, capped at `cap_ms` (-1: no cap, -1 back when
 * there are no timers and no cap). */
int eng_loop_next_timeout(struct eng_loop *loop, int cap_ms);

/* Waits at most `timeout_ms` (-1: no limit) for events, dispatches them, then runs the
 * timers that are due. Returns the number of events dispatched or -errno. */
int eng_loop_run_once(struct eng_loop *loop, int timeout_ms);

#endif
