/*
 * The socket engine: the commands of JMP's Socket() object on real, non-blocking sockets
 * driven by the event loop. It knows nothing of HTTP or JSON: a caller hands it a parsed
 * eng_request and gets back an eng_list, the command's answer, at once or later.
 *
 * Ownership: an eng_list given to the caller (returned or passed to an eng_done_fn)
 * belongs to the caller, who frees it with eng_list_free. Requests are borrowed for the
 * duration of the call only. Sockets belong to the engine; callers hold ids, not pointers.
 */
#ifndef SOCKGATE_ENGINE_H
#define SOCKGATE_ENGINE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

#include "errname.h"
#include "loop.h"

struct eng;
struct eng_op;
struct eng_policy;

enum eng_cmd {
    ENG_CMD_BIND,
    ENG_CMD_LISTEN,
    ENG_CMD_ACCEPT,
    ENG_CMD_ACCEPTFAST,
    ENG_CMD_CONNECT,
    ENG_CMD_SEND,
    ENG_CMD_SENDTO,
    ENG_CMD_RECV,
    ENG_CMD_RECVFROM,
    ENG_CMD_GETPEERNAME,
    ENG_CMD_GETSOCKNAME,
    ENG_CMD_IOCTL,
    ENG_CMD_CLOSE,
    ENG_CMD_STARTTLS,
    ENG_CMD_SOCKET,             /* creating a socket (POST /sockets), not a command on one */
    ENG_CMD_GETADDRINFO,        /* name look-ups (SPEC §13), not on a socket either */
    ENG_CMD_GETNAMEINFO,
    ENG_CMD_COUNT
};

/* The lower-case name of a command ("acceptfast"), element 1 of its answers. */
const char *eng_cmd_name(enum eng_cmd cmd);
/* True for the commands that may wait: accept, acceptfast, connect, send, sendto, recv,
 * recvfrom, starttls. */
bool eng_cmd_waits(enum eng_cmd cmd);
/* Finds a command by name, case-insensitively. Returns 0 or -EINVAL. */
int eng_cmd_from_name(const char *name, enum eng_cmd *out);

enum eng_ioctl { ENG_IOCTL_FIONBIO, ENG_IOCTL_FIONREAD };

/* The TLS arguments of connect and starttls (SPEC section 11). All zero: no TLS on
 * connect; verification on. Strings are borrowed for the call and NUL-terminated. */
struct eng_tls_args {
    bool on;                    /* connect: speak TLS once connected */
    const char *servername;     /* SNI and the name checked; NULL: the socketname */
    bool no_verify;             /* verify=false: any certificate is accepted */
    const char *ca;             /* PEM CAs trusted instead of the system's, or NULL */
    const char *cert;           /* PEM client certificate (chain), or NULL */
    const char *key;            /* PEM private key of cert, or NULL */
};

/* A parsed command. Fields a command does not use are ignored. */
struct eng_request {
    enum eng_cmd cmd;
    const char *host;           /* bind: local name; connect: socketname; sendto: address */
    uint16_t port;              /* bind/connect/sendto */
    bool has_port;              /* sendto: false when address/port are left out */
    int backlog;                /* listen; < 0 for the default */
    size_t n;                   /* recv/recvfrom: most bytes to return */
    const uint8_t *data;        /* send/sendto: the bytes, decoded */
    size_t data_len;            /* send/sendto: their number */
    double timeout;             /* seconds; < 0 when absent */
    enum eng_ioctl ioctl_op;    /* ioctl */
    bool ioctl_value;           /* ioctl FIONBIO: 1 = non-blocking */
    bool background;            /* accept/recv/recvfrom run with a callback */
    bool repeat;                /* background: re-arm after every delivery */
    struct eng_tls_args tls;    /* connect, starttls */
};

/* One element of an answer. Data elements hold raw bytes the caller must encode. */
struct eng_item {
    char *bytes;                /* owned (unless borrowed); NUL-terminated for convenience */
    size_t len;                 /* without the NUL */
    bool is_data;               /* raw socket bytes (encode) rather than text */
    bool borrowed;              /* static text (the command's name, "ok"): never freed */
};

#define ENG_LIST_INLINE 8       /* elements held in the list itself; more are allocated */
#define ENG_LIST_TEXT 512       /* bytes of short text elements held in the list itself */
#define ENG_LIST_MAX 128        /* elements a list may hold at all */
/* Credentials the engine counts sockets for: an owner is a number below this. */
#define ENG_MAX_OWNERS 64

/* A command's answer: ["recv", "ok" | "NAME: text.", extra...]. */
struct eng_list {
    enum eng_cmd cmd;           /* the command element 1 names, for whoever counts them */
    int err;                    /* 0 or the negative code of element 2 */
    int nitems;                 /* elements used */
    int row_len;                /* 0: flat; n > 0: the elements after the first two are rows
                                 * of n, each rendered as a list of its own (look-ups) */
    struct eng_item *items;     /* inline_items, or an allocated array for a long answer */
    int cap;                    /* elements items holds */
    size_t text_used;           /* bytes of text taken */
    bool failed;                /* memory ran out while it was built: it is the NOMEM error
                                 * ["cmd","NOMEM: ..."], and takes no more elements */
    /* Bookkeeping to give unread bytes back (eng_give_back). */
    uint64_t sock_num;          /* the socket the data came from; 0 for none */
    uint64_t read_seq;          /* which of its reads: given-back data returns in this order */
    struct sockaddr_storage from; /* recvfrom: the sender */
    socklen_t fromlen;          /* 0 when unknown */
    bool last;                  /* the operation ends with this answer (no repeat) */
    /* Last, and not cleared when a list is made (engi_list_new): only the first nitems
     * elements and text_used bytes of text are ever read. */
    struct eng_item inline_items[ENG_LIST_INLINE];
    /* Short text elements (an id, an address, an error's words) are copied here, so that
     * adding one cannot fail: an answer runs out of memory only for its data, if at all. */
    char text[ENG_LIST_TEXT];
};

void eng_list_free(struct eng_list *list);

/* Size arithmetic that saturates at SIZE_MAX instead of wrapping: a size too large for
 * memory then fails its allocation or its limit check, and never turns small. */
static inline size_t eng_size_add(size_t a, size_t b)
{
    return a > SIZE_MAX - b ? SIZE_MAX : a + b;
}
static inline size_t eng_size_mul(size_t a, size_t b)
{
    return b && a > SIZE_MAX / b ? SIZE_MAX : a * b;
}

/* Delivers the answer of a command that could not answer at once. Must not call into the
 * engine. The list is the callee's. */
typedef void (*eng_done_fn)(void *ctx, struct eng_list *list);

struct eng_config {
    const char *node;           /* id prefix ("gw2" gives "gw2.s1"); NULL or "" for none */
    uint64_t first_id;          /* number of the first socket id (0: 1), past every id an
                                 * earlier run of the gateway gave out */
    double max_wait;            /* seconds a blocking command waits at most */
    size_t max_sockets;         /* open sockets in total */
    size_t max_fd_sockets;      /* sockets the open-file limit leaves room for; 0: no cap */
    size_t max_sockets_per_owner; /* open sockets per owner, created and accepted; 0: none */
    size_t max_waits;           /* operations in progress in total */
    bool allow_bind_any;        /* bind to non-loopback addresses and ports below 1024 */
    const struct eng_policy *policy; /* destination check for connect/sendto; NULL: all */
    double tls_handshake_timeout; /* seconds a TLS handshake may take; 0: 10 */
};

/* Creates an engine on `loop`. It plugs in by itself: its sockets and the resolver's are
 * watches, their deadlines timers, and what closing leaves behind is freed by a
 * before-sleep hook, where no engine callback is on the stack. NULL on failure. */
struct eng *eng_new(struct eng_loop *loop, const struct eng_config *cfg);
/* Closes every socket (answering their waits CLOSED) and frees the engine. Accepts NULL. */
void eng_free(struct eng *e);


/* Creates a socket for `owner` (a credential number below ENG_MAX_OWNERS). type is
 * SOCK_STREAM or SOCK_DGRAM, family AF_INET or AF_INET6. Returns the answer list
 * ["socket","ok",id] or an error list (LIMIT past max_sockets or the owner's quota, which
 * is enforced here and for accepted sockets alike); never NULL except on allocation
 * failure. */
struct eng_list *eng_socket_create(struct eng *e, int owner, int type, int family);

/* Runs a command on socket `id` of `owner`. Returns 0 with *now set when the answer is
 * ready, ENG_PENDING with *op set when it will come later through done(ctx, list), or
 * -ENOMEM. done is never called from within this call. */
#define ENG_PENDING 1
int eng_exec(struct eng *e, int owner, const char *id, const struct eng_request *req,
             eng_done_fn done, void *ctx, struct eng_list **now, struct eng_op **op);

/* Name look-ups (SPEC §13): req->cmd is ENG_CMD_GETADDRINFO (req->host a name or a
 * literal) or ENG_CMD_GETNAMEINFO (req->host a numeric address), req->port the port the
 * rows carry. The answer has rows of 5 (row_len): ["PF_INET","SOCK_0","IPPROTO_0",
 * address or name, port], only of addresses the destination policy allows; otherwise
 * HOSTNOTFOUND, DENIED, or INVAL for a name that is no DNS name or looks numeric without
 * being a plain address. Answers as eng_exec does: at once in *now, or ENG_PENDING with
 * *op (cancel with eng_op_cancel) and later through done; it never blocks. */
int eng_lookup(struct eng *e, const struct eng_request *req, eng_done_fn done, void *ctx,
               struct eng_list **now, struct eng_op **op);

/* Writes sa's address ("127.0.0.1", "::1") and port as text: the one formatter of
 * addresses, answers and the access log alike (IPv4 and ports by hand: it runs on every
 * getsockname). host holds INET6_ADDRSTRLEN, port 6. Returns host's length or -errno. */
int eng_addr_format(const struct sockaddr *sa, char *host, size_t hostlen, char *port,
                    size_t portlen);
/* True for 127.0.0.0/8, ::1 and v4-mapped 127.x: the one loopback test. */
bool eng_addr_is_loopback(const struct sockaddr *sa);
/* True when `host` names this machine's loopback: such an address literal, or localhost
 * (eng_name_is_localhost). */
bool eng_host_is_loopback(const char *host);

/* True for "localhost" and names under it (RFC 6761), with or without the final dot:
 * this machine's loopback, looked up in no hosts file and no DNS. */
bool eng_name_is_localhost(const char *host);

/* Withdraws a pending operation: done is not called. A recv reads no byte for it, a send
 * stops where it was (the unsent part is dropped), an accept closes a connection it took
 * but had not answered yet. The next operation in line runs on the next turn. */
void eng_op_cancel(struct eng *e, struct eng_op *op);

/* Puts the data of an answer that could not be delivered back in front of its socket's
 * input, so the next recv returns it. Consumes `list`. */
void eng_give_back(struct eng *e, struct eng_list *list);

/* Closes every socket, answering waits with `code` (ENG_ECLOSED or ENG_ESHUTDOWN). */
void eng_close_all(struct eng *e, int code);

/* A snapshot of one socket for listings. Strings are NUL-terminated copies. */
struct eng_socket_info {
    char id[64];
    const char *type;           /* "STREAM" | "DGRAM" */
    const char *family;         /* "IPV4" | "IPV6" */
    const char *state;          /* "new" | "bound" | "listening" | "connecting" | ... */
    bool blocking;
    char local_address[64];
    char local_port[8];
    char peer_address[64];
    char peer_port[8];
    uint64_t bytes_in, bytes_out;
    unsigned pending;           /* operations waiting */
    int64_t created_unix_ms, last_used_unix_ms;
    const char *tls;            /* "" (plain) | "handshake" | "on" | "failed" */
};

/* Fills *info for socket `id` of `owner`. Returns 0 or ENG_ENOTSOCK. */
int eng_socket_info(struct eng *e, int owner, const char *id, struct eng_socket_info *info);
/* Calls fn for every socket of `owner` (any owner when owner < 0), in creation order. */
void eng_socket_foreach(struct eng *e, int owner,
                        void (*fn)(void *ctx, const struct eng_socket_info *info), void *ctx);

/* Closes every socket with no operation pending that was last used before `before_ms`
 * (eng_now_ms, the monotonic clock: a wall-clock jump closes nothing), calling
 * fn(ctx, owner, id) for each just before. */
void eng_close_idle(struct eng *e, uint64_t before_ms,
                    void (*fn)(void *ctx, int owner, const char *id), void *ctx);

/* Open sockets of `owner`. */
size_t eng_socket_count(const struct eng *e, int owner);

/* Counters for metrics and tests. */
struct eng_stats {
    size_t open_sockets;
    size_t waits;               /* operations in progress */
    uint64_t bytes_in, bytes_out;
};
void eng_get_stats(const struct eng *e, struct eng_stats *st);

#endif
