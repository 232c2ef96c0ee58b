/*
 * The engine's internal structures, shared by its .c files and by no one else. The names
 * here carry the engi_ prefix; nothing outside engine/ includes this header.
 */
#ifndef SOCKGATE_ENGINE_INT_H
#define SOCKGATE_ENGINE_INT_H

#include <netinet/in.h>

#include "engine.h"
#include "loop.h"
#include "tls.h"

#define ENGI_HASH_BUCKETS 65536u      /* socket table buckets (power of two) */
#define ENGI_SCRATCH_SIZE 65536u      /* scratch for reads whose bytes are copied on */
#define ENGI_READ_PROBE 4096u         /* a recv's buffer when nothing is said to be waiting */
#define ENGI_MAX_ADDRS 16             /* resolved addresses tried by connect */
#define ENGI_TURN_OPS 32              /* operations a socket finishes per loop turn... */
#define ENGI_TURN_BYTES (256u << 10)  /* ...or bytes it moves, whichever comes first */
#define ENGI_OWN_TIMERS 2             /* the kick and the resolver's, beside one per wait */

enum engi_state {
    ENGI_NEW,
    ENGI_BOUND,
    ENGI_LISTENING,
    ENGI_CONNECTING,
    ENGI_CONNECTED,
    ENGI_CLOSED,
};

/* Bytes read for an answer that could not be delivered, to be returned first. */
struct engi_chunk {
    struct engi_chunk *next;         /* toward the newer chunks */
    uint64_t seq;                    /* the read it came from (eng_list.read_seq) */
    size_t len, off;                 /* bytes held and bytes already returned */
    struct sockaddr_storage from;    /* datagram sender */
    socklen_t fromlen;               /* 0 when unknown */
    uint8_t data[];                  /* the bytes */
};

/* A FIFO of operations waiting on one direction of a socket. */
struct engi_queue {
    struct eng_op *head, *tail;
};

struct eng_socket {
    struct eng *e;                   /* owning engine */
    uint64_t num;                    /* the number in the id */
    char id[64];                     /* "s12" or "node.s12" */
    int owner;                       /* credential that created it */
    int fd;                          /* the OS socket, always O_NONBLOCK */
    int type;                        /* SOCK_STREAM | SOCK_DGRAM */
    int family;                      /* AF_INET | AF_INET6 */
    enum engi_state state;           /* lifecycle, for listings and checks */
    bool nonblocking;                /* FIONBIO: commands never wait */
    bool bound;                      /* bind succeeded: connect must keep that address */
    bool kicked;                     /* on the engine's kick list */
    int watch_failed;                /* -errno of a watch the loop refused, else 0 */
    struct eng_watch watch;          /* readiness of fd */
    struct engi_queue readq;         /* recv, recvfrom, accept in arrival order */
    struct engi_queue writeq;        /* connect, send, sendto in arrival order */
    struct eng_stream *stream;       /* the pump it is lent to (stream.c), or NULL */
    struct engi_chunk *pushback;     /* given-back bytes, in read order */
    uint64_t reads;                  /* reads from fd so far: numbers them for read order */
    size_t pushback_bytes;           /* their total */
    uint64_t bytes_in, bytes_out;    /* payload counters */
    int64_t created_ms;              /* wall-clock ms since the epoch, for listings */
    uint64_t created_mono_ms;        /* the same moment on the monotonic clock */
    uint64_t used_mono_ms;           /* last use, monotonic: idle time survives clock jumps */
    struct eng_socket *hash_next;    /* bucket chain */
    struct eng_socket *all_prev, *all_next; /* creation order */
    struct eng_socket *kick_next;    /* kick list */
    struct eng_socket *dead_next;    /* closed, freed before the loop next sleeps */
    struct engi_tls *tls;            /* TLS state once a handshake began, or NULL */
    char *connected_name;            /* the name connect was given: starttls checks it */
};

enum engi_phase {
    ENGI_PH_READINESS,                   /* waiting on the socket's readiness */
    ENGI_PH_RESOLVING,               /* waiting on a name lookup */
    ENGI_PH_CONNECTING,              /* connect() in progress */
    ENGI_PH_HANDSHAKE,               /* connect with tls, starttls: TLS handshake */
};

struct engi_resolve;

/* Where a connect or sendto goes: the name as given and the addresses it resolved to.
 * Only those commands have one, so that a waiting recv's record stays small. */
struct engi_dest {
    struct sockaddr_storage addrs[ENGI_MAX_ADDRS]; /* candidates, each checked by policy */
    int naddrs, addr_index;          /* how many, and which one is tried */
    uint16_t port;                   /* destination port */
    char host[];                     /* the name, NUL-terminated */
};

/* A connection an accept has taken while its peer's name is looked up. */
struct engi_accepted {
    uint64_t num;                    /* the new socket, until the answer hands it over */
    char peer_name[256];             /* the peer's name, or its numeric address */
};

struct eng_op {
    struct eng *e;                   /* owning engine */
    struct eng_socket *sock;         /* the socket it waits on */
    struct engi_queue *queue;        /* readq or writeq while queued, else NULL */
    struct eng_op *prev, *next;      /* queue links */
    enum eng_cmd cmd;                /* what it does */
    enum engi_phase phase;           /* where it waits */
    struct eng_timer timer;          /* timeout */
    uint64_t timeout_ms;             /* its length, 0 for none; a repeat re-arms it */
    eng_done_fn done;                /* delivery */
    void *ctx;                       /* done's argument */
    bool background;                 /* delivered as an event */
    bool repeat;                     /* background: re-arm after delivery */
    bool in_exec;                    /* inside eng_exec: answers go to sync_result */
    struct eng_list *sync_result;    /* the answer found during eng_exec */
    size_t n;                        /* recv: most bytes */
    uint8_t *data;                   /* send: owned copy of the bytes */
    size_t data_len, data_off;       /* send: size and progress */
    struct engi_resolve *resolve;    /* name lookup in flight, or NULL */
    struct engi_dest *dest;          /* connect/sendto to a name: owned, else NULL */
    struct engi_accepted *accepted;  /* accept waiting on a peer's name: owned, else NULL */
    struct engi_tls_opts *tls;       /* connect with tls, starttls: owned options */
    bool handshake_deadline;         /* its timer is the handshake's own deadline */
};

struct eng {
    struct eng_loop *loop;           /* the event loop */
    struct eng_config cfg;           /* settings, node copied below */
    char node[32];                   /* id prefix without the dot */
    uint64_t next_num;               /* the next socket number */
    struct eng_socket **buckets;     /* id -> socket */
    struct eng_socket *all_head, *all_tail; /* creation order */
    struct eng_socket *kick_head;    /* sockets whose queues must be run */
    struct eng_timer kick_timer;     /* runs the kick list on the next turn */
    struct eng_socket *dead;         /* closed sockets to free */
    struct eng_hook collect_hook;    /* frees them before the loop sleeps */
    size_t nsockets;                 /* open sockets */
    size_t owner_sockets[ENG_MAX_OWNERS]; /* open sockets per owner */
    size_t nwaits;                   /* operations in progress */
    uint64_t bytes_in, bytes_out;    /* totals */
    struct engi_resolver *resolver;  /* c-ares state */
    struct engi_tls_shared *tls_shared; /* system trust for TLS, loaded on first use */
    uint8_t scratch[ENGI_SCRATCH_SIZE]; /* small reads land here first */
};

/* Lists (list.c). */
struct eng_list *engi_list_new(enum eng_cmd cmd);
int engi_list_add(struct eng_list *l, const char *s, size_t len, bool is_data);
int engi_list_add_str(struct eng_list *l, const char *s);
/* Adds sa's address and port (eng_addr_format) as two text elements. Returns 0, or
 * -EAFNOSUPPORT when they cannot be written (nothing added), or -ENOMEM (the list is the
 * NOMEM error). */
int engi_list_add_addr(struct eng_list *l, const struct sockaddr *sa);
/* Takes ownership of `bytes` (malloc'd, at least len + 1 long). */
int engi_list_add_owned(struct eng_list *l, char *bytes, size_t len, bool is_data);
void engi_list_set_err(struct eng_list *l, int code, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
struct eng_list *engi_list_err(enum eng_cmd cmd, int code, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* Addresses (addr.c). */
int engi_addr_literal(const char *host, int family, uint16_t port, struct sockaddr_storage *out);
socklen_t engi_addr_len(const struct sockaddr_storage *ss);
void engi_addr_set_port(struct sockaddr_storage *ss, uint16_t port);

/* Socket table (engine.c). */
/* True when `owner` holds max_sockets_per_owner sockets: the one quota check, for created
 * and accepted sockets alike. */
bool engi_owner_quota_reached(const struct eng *e, int owner);
struct eng_socket *engi_socket_find(struct eng *e, int owner, const char *id);
struct eng_socket *engi_socket_by_num(struct eng *e, uint64_t num);
struct eng_socket *engi_socket_add(struct eng *e, int owner, int fd, int type, int family);
void engi_socket_close(struct eng_socket *s, int code);
/* Ends every operation queued on s with `code` and `why`. */
void engi_socket_fail_queued(struct eng_socket *s, int code, const char *why);
void engi_kick(struct eng_socket *s);
int64_t engi_wall_ms(void);
/* Marks a socket used now (for --idle-timeout). */
void engi_socket_used(struct eng_socket *s);
/* 0 when one more socket may open, else ENG_ELIMIT with why in `why` (64 bytes at
 * least): the --max-sockets limit, or the room the open-file limit leaves. */
int engi_socket_room(const struct eng *e, char *why, size_t size);

/* Operations (ops.c). */
struct eng_op *engi_op_new(struct eng_socket *s, const struct eng_request *req,
                           eng_done_fn done, void *ctx);
void engi_op_free(struct eng_op *op);
void engi_op_finish(struct eng_op *op, struct eng_list *list);
/* The queue an operation waits in: readq for recv/recvfrom/accept, writeq otherwise. */
struct engi_queue *engi_op_queue_for(struct eng_op *op);
void engi_op_enqueue(struct eng_op *op);
/* Arms op's timeout (timeout < 0: none). Returns 0, or -ENOMEM when the loop has no room
 * left for a timer (something armed more than it reserved). */
int engi_op_start_timer(struct eng_op *op, double timeout);
void engi_socket_run(struct eng_socket *s);
/* Registers with the loop the events the socket's queue heads (or its stream) wait for.
 * Returns 0 or -errno (epoll_ctl refused: out of memory or of watches). */
int engi_socket_set_watch(struct eng_socket *s);
/* engi_socket_set_watch for the loop's own paths: a failure is remembered and the socket
 * kicked, and its next run answers every operation waiting on it (none could be woken). */
void engi_socket_update_watch(struct eng_socket *s);
void engi_socket_ready(struct eng_watch *w, uint32_t events);
/* Tries an operation once. Returns 1 when it finished (its answer delivered), 0 when it
 * must wait for readiness. */
int engi_op_try(struct eng_op *op);

/* The commands (cmd_*.c). */
struct eng_list *engi_cmd_bind(struct eng_socket *s, const struct eng_request *req);
struct eng_list *engi_cmd_listen(struct eng_socket *s, const struct eng_request *req);
struct eng_list *engi_cmd_name(struct eng_socket *s, enum eng_cmd cmd);
struct eng_list *engi_cmd_ioctl(struct eng_socket *s, const struct eng_request *req);
int engi_try_recv(struct eng_op *op);
int engi_try_send(struct eng_op *op);
int engi_try_accept(struct eng_op *op);
int engi_try_connect(struct eng_op *op);
void engi_connect_abort(struct eng_op *op);
/* The answer of an accept whose connection is accepted (its peer name looked up, or
 * still the numeric address when the lookup is withdrawn); the new socket is handed over
 * with it. An accept that ends without this closes its accepted socket. */
struct eng_list *engi_accept_settle(struct eng_op *op);
/* Answer of a send or sendto that stops now: ok or error, with the unsent part. */
struct eng_list *engi_send_answer(struct eng_op *op, int code, const char *detail);

/* TLS as an operation (cmd_tls.c). */
/* Starts the handshake of op (a connect that has connected, or a starttls) under its own
 * deadline. Returns 1 when op finished, 0 when it waits. */
int engi_tls_start(struct eng_op *op);
/* Advances op's handshake; 1 when op finished, 0 when it waits. */
int engi_try_handshake(struct eng_op *op);
int engi_try_starttls(struct eng_op *op);
/* The answer of an op whose handshake ran past its deadline (the socket's TLS fails). */
struct eng_list *engi_handshake_timed_out(struct eng_op *op);
/* Withdraws op from its handshake (the socket's TLS fails). */
void engi_handshake_cancel(struct eng_op *op);

/* Streams (stream.c): how the engine treats a socket lent to a pump. */
/* True when cmd may not run on s because it streams (the answer is ALREADY). */
bool engi_stream_refuses(const struct eng_socket *s, enum eng_cmd cmd);
/* The epoll events the pump of s waits for. */
uint32_t engi_stream_epoll_events(const struct eng_socket *s);
/* Passes readiness (epoll events, or 0 for a kick) to the pump of s. */
void engi_stream_run(struct eng_socket *s, uint32_t epoll_events);
/* Tells the pump of s that its socket is closing, and frees the stream. */
void engi_stream_socket_closed(struct eng_socket *s, int code);

/* Resolver (resolve.c). */
struct engi_resolver *engi_resolver_new(struct eng *e);
void engi_resolver_free(struct engi_resolver *r);
/* Frees the watches of sockets c-ares has closed (engine.c's before-sleep hook). */
void engi_resolver_collect(struct engi_resolver *r);
/* Called when a lookup that did not finish at once has finished: 0 and op->dest->addrs
 * or op->accepted->peer_name filled in, or a negative code. */
typedef void (*engi_resolved_fn)(struct eng_op *op, int code);
/* Resolves op->dest->host for a socket of op's family into op->dest->addrs (port
 * op->dest->port) and checks each address against the destination policy. Returns the
 * number of addresses when that was possible at once, a negative code on failure, or 0
 * when fn will be called later (never from within this call); op->resolve is set
 * meanwhile. */
int engi_resolve(struct eng_op *op, engi_resolved_fn fn);
/* Reverse lookup of a peer into op->accepted->peer_name (the numeric address when the
 * name is not known). Returns 1 when done at once, 0 when fn will be called later. */
int engi_resolve_name(struct eng_op *op, const struct sockaddr *sa, engi_resolved_fn fn);
/* getaddrinfo of op->dest->host for a look-up (lookup.c): 1 when answered at once (the
 * rows in op->sync_result), a negative code, or 0 when fn will be called later. */
int engi_lookup_addrinfo(struct eng_op *op, engi_resolved_fn fn);

/* Look-ups (lookup.c): the rows of a getaddrinfo answer from c-ares's result, each
 * checked by policy (0, ENG_EDENIED, ENG_EHOSTNOTFOUND or -errno); the row of a
 * getnameinfo answer, with the name found or NULL for the numeric address. */
struct ares_addrinfo;
int engi_lookup_take(struct eng_op *op, const struct ares_addrinfo *res);
int engi_lookup_named(struct eng_op *op, const char *name);

/* Detaches op from its lookup: fn will not be called. Accepts an op with none. */
void engi_resolve_detach(struct eng_op *op);

#endif
