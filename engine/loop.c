/*
 * The epoll + timer-heap event loop (see loop.h). Timers live in a binary min-heap of
 * pointers whose capacity is fixed at creation, so that arming a timer never allocates
 * and thousands of waits cost O(log n) each. Before-sleep hooks are a short list walked
 * once per turn.
 */
#include "loop.h"

#include <errno.h>
#include <stdlib.h>
#include <sys/epoll.h>
#include <time.h>
#include <unistd.h>

#define LOOP_EVENTS_PER_WAIT 256

struct eng_loop {
    int epfd;                   /* the epoll set */
    struct eng_timer **heap;    /* min-heap of armed timers by deadline */
    size_t heap_len;            /* armed timers */
    size_t heap_cap;            /* fixed capacity */
    struct eng_hook *hooks;     /* run before every wait, in the order added */
    bool stop;                  /* eng_loop_run returns after this turn */
};

uint64_t eng_now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

struct eng_loop *eng_loop_new(size_t max_timers)
{
    struct eng_loop *loop = calloc(1, sizeof(*loop));
    if (!loop)
        return NULL;
    loop->heap = calloc(max_timers ? max_timers : 1, sizeof(*loop->heap));
    loop->heap_cap = max_timers;
    loop->epfd = epoll_create1(EPOLL_CLOEXEC);
    if (!loop->heap || loop->epfd < 0) {
        if (loop->epfd >= 0)
            close(loop->epfd);
        free(loop->heap);
        free(loop);
        return NULL;
    }
    return loop;
}

int eng_loop_reserve_timers(struct eng_loop *loop, size_t n)
{
    if (n > SIZE_MAX / sizeof(*loop->heap) - loop->heap_cap)
        return -ENOMEM;
    size_t cap = loop->heap_cap + n;
    struct eng_timer **heap = realloc(loop->heap, (cap ? cap : 1) * sizeof(*heap));
    if (!heap)
        return -ENOMEM;
    loop->heap = heap;
    loop->heap_cap = cap;
    return 0;
}

void eng_loop_release_timers(struct eng_loop *loop, size_t n)
{
    /* The memory stays: only the promise shrinks, never below what is armed. */
    size_t cap = n < loop->heap_cap ? loop->heap_cap - n : 0;
    loop->heap_cap = cap > loop->heap_len ? cap : loop->heap_len;
}

void eng_loop_free(struct eng_loop *loop)
{
    if (!loop)
        return;
    close(loop->epfd);
    free(loop->heap);
    free(loop);
}

void eng_watch_init(struct eng_watch *w, int fd, eng_watch_fn fn)
{
    w->fd = fd;
    w->events = 0;
    w->fn = fn;
}

int eng_watch_set(struct eng_loop *loop, struct eng_watch *w, uint32_t events)
{
    if (events == w->events)
        return 0;
    struct epoll_event ev = {.events = events, .data.ptr = w};
    int op = w->events == 0 ? EPOLL_CTL_ADD : events == 0 ? EPOLL_CTL_DEL : EPOLL_CTL_MOD;
    if (epoll_ctl(loop->epfd, op, w->fd, &ev) < 0)
        return -errno;
    w->events = events;
    return 0;
}

/* Heap helpers: keep heap[i]->heap_index == i at every step. */
static void heap_place(struct eng_loop *loop, size_t i, struct eng_timer *t)
{
    loop->heap[i] = t;
    t->heap_index = i;
}

static void heap_sift_up(struct eng_loop *loop, size_t i)
{
    struct eng_timer *t = loop->heap[i];
    while (i > 0) {
        size_t parent = (i - 1) / 2;
        if (loop->heap[parent]->deadline_ms <= t->deadline_ms)
            break;
        heap_place(loop, i, loop->heap[parent]);
        i = parent;
    }
    heap_place(loop, i, t);
}

static void heap_sift_down(struct eng_loop *loop, size_t i)
{
    struct eng_timer *t = loop->heap[i];
    for (;;) {
        size_t child = 2 * i + 1;
        if (child >= loop->heap_len)
            break;
        if (child + 1 < loop->heap_len &&
            loop->heap[child + 1]->deadline_ms < loop->heap[child]->deadline_ms)
            child++;
        if (t->deadline_ms <= loop->heap[child]->deadline_ms)
            break;
        heap_place(loop, i, loop->heap[child]);
        i = child;
    }
    heap_place(loop, i, t);
}

void eng_timer_init(struct eng_timer *t, eng_timer_fn fn)
{
    t->deadline_ms = 0;
    t->heap_index = SIZE_MAX;
    t->fn = fn;
}

void eng_timer_stop(struct eng_loop *loop, struct eng_timer *t)
{
    if (!eng_timer_armed(t))
        return;
    size_t i = t->heap_index;
    struct eng_timer *last = loop->heap[--loop->heap_len];
    t->heap_index = SIZE_MAX;
    if (last == t)
        return;
    heap_place(loop, i, last);
    heap_sift_down(loop, i);
    heap_sift_up(loop, last->heap_index);
}

int eng_timer_start(struct eng_loop *loop, struct eng_timer *t, uint64_t deadline_ms)
{
    eng_timer_stop(loop, t);
    if (loop->heap_len >= loop->heap_cap)
        return -ENOMEM;
    t->deadline_ms = deadline_ms;
    heap_place(loop, loop->heap_len++, t);
    heap_sift_up(loop, t->heap_index);
    return 0;
}

void eng_hook_init(struct eng_hook *h, eng_hook_fn fn)
{
    h->fn = fn;
    h->next = NULL;
    h->linked = false;
}

void eng_loop_add_before_sleep(struct eng_loop *loop, struct eng_hook *h)
{
    if (h->linked)
        return;
    struct eng_hook **pp = &loop->hooks;
    while (*pp)
        pp = &(*pp)->next;
    h->next = NULL;
    h->linked = true;
    *pp = h;
}

void eng_loop_remove_before_sleep(struct eng_loop *loop, struct eng_hook *h)
{
    for (struct eng_hook **pp = &loop->hooks; *pp; pp = &(*pp)->next) {
        if (*pp == h) {
            *pp = h->next;
            h->linked = false;
            return;
        }
    }
}

static void run_hooks(struct eng_loop *loop)
{
    struct eng_hook *h = loop->hooks;
    while (h) {
        /* Read the next one first: a hook may remove itself. */
        struct eng_hook *next = h->next;
        h->fn(h);
        h = next;
    }
}

/* Milliseconds until the earliest timer, capped at `cap_ms` (-1: no cap, -1 back when
 * there are no timers and no cap). */
static int next_timeout(struct eng_loop *loop, int cap_ms)
{
    if (loop->heap_len == 0)
        return cap_ms;
    uint64_t now = eng_now_ms();
    uint64_t first = loop->heap[0]->deadline_ms;
    uint64_t wait = first > now ? first - now : 0;
    if (cap_ms >= 0 && wait > (uint64_t)cap_ms)
        return cap_ms;
    return wait > 86400000u ? 86400000 : (int)wait;
}

static void run_due_timers(struct eng_loop *loop)
{
    uint64_t now = eng_now_ms();
    while (loop->heap_len > 0 && loop->heap[0]->deadline_ms <= now) {
        struct eng_timer *t = loop->heap[0];
        eng_timer_stop(loop, t);
        t->fn(t);
    }
}

int eng_loop_run_once(struct eng_loop *loop, int cap_ms)
{
    struct epoll_event events[LOOP_EVENTS_PER_WAIT];
    run_hooks(loop);
    if (loop->stop)
        return 0;
    int timeout_ms = next_timeout(loop, cap_ms);
    int n = epoll_wait(loop->epfd, events, LOOP_EVENTS_PER_WAIT, timeout_ms);
    if (n < 0) {
        if (errno != EINTR)
            return -errno;
        n = 0;
    }
    for (int i = 0; i < n; i++) {
        struct eng_watch *w = events[i].data.ptr;
        /* An earlier callback of this batch may have removed this watch; its memory
         * stays valid until the owner's deferred free after this call returns. */
        if (w->events == 0)
            continue;
        w->fn(w, events[i].events);
    }
    run_due_timers(loop);
    return n;
}

int eng_loop_run(struct eng_loop *loop)
{
    loop->stop = false;
    while (!loop->stop) {
        int rc = eng_loop_run_once(loop, -1);
        if (rc < 0)
            return rc;
    }
    return 0;
}

void eng_loop_stop(struct eng_loop *loop)
{
    loop->stop = true;
}
