/*
 * Metrics (see metrics.h). Commands and outcomes are small closed sets, so the counters
 * are fixed arrays indexed by command and by outcome; nothing allocates per request.
 */
#include "metrics.h"

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "events.h"

#define METRICS_NAMES ENG_CMD_COUNT      /* the commands, "socket" included */
#define METRICS_OUTCOMES 48
#define METRICS_STATUSES 600

struct metrics {
    const char *outcome_names[METRICS_OUTCOMES];  /* "ok", "WOULDBLOCK", ... */
    int outcome_codes[METRICS_OUTCOMES];          /* their codes */
    bool outcome_owned[METRICS_OUTCOMES];         /* the name was copied */
    size_t noutcomes;
    unsigned long long commands[METRICS_NAMES][METRICS_OUTCOMES];
    unsigned long long statuses[METRICS_STATUSES];
};

struct metrics *metrics_new(void)
{
    struct metrics *m = calloc(1, sizeof(*m));
    if (m) {
        m->outcome_names[0] = "ok";
        m->noutcomes = 1;
    }
    return m;
}

void metrics_free(struct metrics *m)
{
    if (!m)
        return;
    for (size_t i = 0; i < m->noutcomes; i++)
        if (m->outcome_owned[i])
            free((char *)m->outcome_names[i]);
    free(m);
}

static size_t outcome_index(struct metrics *m, int code)
{
    if (code == 0)
        return 0;
    for (size_t i = 1; i < m->noutcomes; i++)
        if (m->outcome_codes[i] == code)
            return i;
    if (m->noutcomes == METRICS_OUTCOMES)
        return METRICS_OUTCOMES - 1; /* the last slot collects the rare rest */
    char buf[24];
    const char *n = eng_err_name(code, buf, sizeof(buf));
    /* Names from the table are static; an unnamed errno gets a lasting copy. */
    m->outcome_owned[m->noutcomes] = n == buf;
    m->outcome_names[m->noutcomes] = n == buf ? strdup(buf) : n;
    if (!m->outcome_names[m->noutcomes])
        m->outcome_names[m->noutcomes] = "other";
    m->outcome_codes[m->noutcomes] = code;
    return m->noutcomes++;
}

void metrics_count_command(struct metrics *m, enum eng_cmd cmd, int code)
{
    if (m && (unsigned)cmd < METRICS_NAMES)
        m->commands[cmd][outcome_index(m, code)]++;
}

void metrics_count_status(struct metrics *m, int status)
{
    if (m && status > 0 && status < METRICS_STATUSES)
        m->statuses[status]++;
}

enum MHD_Result metrics_serve(struct srv_req *r)
{
    struct metrics *m = r->srv->metrics;
    struct eng_stats st;
    eng_get_stats(r->srv->eng, &st);
    size_t cap = 65536, len = 0;
    char *buf = malloc(cap);
    if (!buf)
        return MHD_NO;
#define OUT(...) \
    do { \
        int n_ = snprintf(buf + len, cap - len, __VA_ARGS__); \
        if (n_ > 0) \
            len += (size_t)n_ < cap - len ? (size_t)n_ : cap - len - 1; \
    } while (0)
    OUT("# HELP sockgate_open_sockets Sockets open now.\n# TYPE sockgate_open_sockets gauge\n"
        "sockgate_open_sockets %zu\n", st.open_sockets);
    OUT("# HELP sockgate_waits Operations waiting now.\n# TYPE sockgate_waits gauge\n"
        "sockgate_waits %zu\n", st.waits);
    OUT("# HELP sockgate_suspended_requests HTTP requests waiting on a socket.\n"
        "# TYPE sockgate_suspended_requests gauge\nsockgate_suspended_requests %u\n",
        r->srv->suspended);
    OUT("# HELP sockgate_bytes_sent_total Bytes sent on sockets.\n"
        "# TYPE sockgate_bytes_sent_total counter\nsockgate_bytes_sent_total %llu\n",
        (unsigned long long)st.bytes_out);
    OUT("# HELP sockgate_bytes_received_total Bytes received on sockets.\n"
        "# TYPE sockgate_bytes_received_total counter\nsockgate_bytes_received_total %llu\n",
        (unsigned long long)st.bytes_in);
    OUT("# HELP sockgate_events_dropped_total Events pushed out of a full buffer.\n"
        "# TYPE sockgate_events_dropped_total counter\nsockgate_events_dropped_total %llu\n",
        r->srv->events ? events_dropped(r->srv->events) : 0ull);
    OUT("# HELP sockgate_commands_total Commands answered, by command and outcome.\n"
        "# TYPE sockgate_commands_total counter\n");
    for (size_t c = 0; m && c < METRICS_NAMES; c++)
        for (size_t o = 0; o < m->noutcomes; o++)
            if (m->commands[c][o])
                OUT("sockgate_commands_total{command=\"%s\",outcome=\"%s\"} %llu\n",
                    eng_cmd_name((enum eng_cmd)c),
                    m->outcome_names[o], m->commands[c][o]);
    OUT("# HELP sockgate_http_requests_total HTTP responses, by status.\n"
        "# TYPE sockgate_http_requests_total counter\n");
    for (int sc = 100; m && sc < METRICS_STATUSES; sc++)
        if (m->statuses[sc])
            OUT("sockgate_http_requests_total{status=\"%d\"} %llu\n", sc, m->statuses[sc]);
#undef OUT
    return srv_reply(r, 200, buf, len, "text/plain; version=0.0.4");
}
