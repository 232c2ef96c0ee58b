/*
 * LD_PRELOAD shim for the tests that timeouts follow the monotonic clock: after the
 * process receives SIGUSR2, the wall clock (CLOCK_REALTIME through clock_gettime,
 * gettimeofday and time) reads one day later, as after an NTP step or an operator's
 * date command. CLOCK_MONOTONIC is left alone.
 */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <signal.h>
#include <string.h>
#include <sys/time.h>
#include <time.h>

#define JUMP_SECONDS 86400

static volatile sig_atomic_t jumped;

static void jump(int sig)
{
    (void)sig;
    jumped = 1;
}

__attribute__((constructor)) static void shim_init(void)
{
    struct sigaction sa;
    memset(&sa, 0, sizeof(sa));
    sa.sa_handler = jump;
    sa.sa_flags = SA_RESTART;
    sigaction(SIGUSR2, &sa, NULL);
}

int clock_gettime(clockid_t id, struct timespec *ts)
{
    static int (*real)(clockid_t, struct timespec *);
    if (!real)
        real = (int (*)(clockid_t, struct timespec *))dlsym(RTLD_NEXT, "clock_gettime");
    int rc = real(id, ts);
    if (rc == 0 && jumped && (id == CLOCK_REALTIME || id == CLOCK_REALTIME_COARSE))
        ts->tv_sec += JUMP_SECONDS;
    return rc;
}

int gettimeofday(struct timeval *tv, void *tz)
{
    static int (*real)(struct timeval *, void *);
    if (!real)
        real = (int (*)(struct timeval *, void *))dlsym(RTLD_NEXT, "gettimeofday");
    int rc = real(tv, tz);
    if (rc == 0 && jumped)
        tv->tv_sec += JUMP_SECONDS;
    return rc;
}

time_t time(time_t *out)
{
    static time_t (*real)(time_t *);
    if (!real)
        real = (time_t (*)(time_t *))dlsym(RTLD_NEXT, "time");
    time_t t = real(NULL);
    if (t != (time_t)-1 && jumped)
        t += JUMP_SECONDS;
    if (out)
        *out = t;
    return t;
}
