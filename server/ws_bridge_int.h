/*
 * The WebSocket bridge's inside, shared by ws_bridge.c (life, ending, timers, the step)
 * and ws_pump.c (moving bytes): the bridge's record, its caps, and the pumps. Nothing else
 * includes this header; cross-file names carry the wsb_ prefix.
 */
#ifndef SOCKGATE_WS_BRIDGE_INT_H
#define SOCKGATE_WS_BRIDGE_INT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "ws_bridge.h"
#include "ws_framer.h"

#define WS_DOWN_CAP (256u << 10)     /* socket bytes waiting to be framed (buffer path) */
#define WS_PIPE_CAP (1u << 20)       /* the pipe's size, when the kernel grants it */
#define WS_UP_CAP (256u << 10)       /* client bytes waiting for the socket */
#define WS_DGRAM_MAX 65507u          /* the largest UDP payload over IPv4 */
#define WS_DGRAM_READ 65536u         /* room for any datagram */
#define WS_DGRAM_QUEUE 2048u         /* whole messages waiting for the socket, at most */
/* One read hands wslay WS_FRAMER_CHUNK bytes, which hold at most this many (empty,
 * masked, 6-byte) messages. */
#define WS_DGRAM_PER_CHUNK (WS_FRAMER_CHUNK / 6 + 1)
#define WS_CLOSE_WAIT_MS 5000u       /* how long a closing handshake may take */
#define WS_DRAIN_MS 2000u            /* how long the client's last bytes are read away */
#define WS_STEP_ROUNDS 16            /* pump rounds per event: no bridge hogs the loop */

enum ws_phase {
    WS_PENDING,                      /* 101 queued, connection not yet handed over */
    WS_OPEN,                         /* pumping */
    WS_DRAINING,                     /* FIN sent to the client; its last bytes read away */
    WS_DONE,                         /* connection given back; waiting to be freed */
};

struct ws_hub {
    struct eng_loop *loop;           /* the loop the bridges run on */
    struct eng_hook collect_hook;    /* frees the dead before the loop sleeps */
    struct ws_bridge *live;          /* bridges not yet done */
    struct ws_bridge *dead;          /* done, to free in ws_hub_collect */
    unsigned count;                  /* live bridges */
};

struct ws_bridge {
    struct srv *srv;                 /* the server */
    struct ws_bridge *next, *prev;   /* the hub's list */
    struct ws_bridge_opts opts;      /* options of this bridge */
    enum ws_phase phase;             /* where it is */
    /* The client's side. */
    int fd;                          /* the upgraded connection */
    struct eng_watch watch;          /* its readiness */
    struct MHD_UpgradeResponseHandle *urh; /* to give it back to libmicrohttpd */
    struct ws_framer *fr;            /* frames in and out */
    bool client_failed;              /* a write to it failed */
    bool client_blocked;             /* its connection is full: wait for writability */
    bool client_readable;            /* epoll said readable since a read found nothing */
    /* The socket's side. */
    struct eng_stream *st;           /* the stream, NULL once the socket is gone */
    int type;                        /* SOCK_STREAM | SOCK_DGRAM */
    char id[64];                     /* the socket's id, for close reasons */
    int gone_code;                   /* why the socket went under us (ENG_ECLOSED, ...) */
    bool peer_eof;                   /* the peer closed its sending side */
    int peer_err;                    /* a read or write failed: -errno */
    bool sock_blocked;               /* the socket is full: wait for writability */
    bool shut_wr;                    /* half-closed (halfclose) */
    bool given_up;                   /* idle while half-closed: answer the Close anyway */
    /* Down: the socket's bytes on their way to the client. */
    int pipe_rd, pipe_wr;            /* the pipe, or -1 */
    size_t pipe_cap, pipe_bytes;     /* its size and the bytes in it */
    uint8_t *down;                   /* the buffer path (allocated on first use) */
    size_t down_cap;                 /* its size */
    size_t down_start, down_end;     /* bytes waiting are [down_start, down_end) */
    bool dgram_down;                 /* a datagram (maybe empty) waits in down */
    int frame_src;                   /* what the frame on its way carries: 0 none, 1 down, 2 pipe */
    size_t frame_end;                /* down: the end of its bytes; pipe: their number */
    /* Up: the client's bytes on their way to the socket. */
    uint8_t *up;                     /* the buffer */
    size_t up_cap;                   /* its size */
    size_t up_start, up_end;         /* bytes waiting are [up_start, up_end) */
    size_t *dgram_len;               /* datagram socket: lengths of the whole messages */
    size_t dgram_head, dgram_count;  /* their ring: first and number */
    size_t dgram_bytes;              /* their total; bytes after it are a message in part */
    /* Time. */
    struct eng_timer timer;          /* the next deadline, or a kick */
    uint64_t last_client_ms;         /* the client last sent anything */
    uint64_t last_data_ms;           /* data last moved either way */
    uint64_t pinged_ms;              /* our last ping, 0 when answered */
    uint64_t ending_since;           /* the client's side ended (Close, error, gone) */
    uint64_t close_deadline;         /* a closing handshake ends by then (0: none) */
    uint64_t drain_deadline;         /* the drain ends by then */
};


/* The client's connection as the framer reads and writes it (ws_pump.c). */
extern const struct ws_framer_io wsb_client_io;
/* Room for client payload in the up buffer (compacting it when that makes room). */
size_t wsb_up_room(void *ctx);
/* Each pump moves what it can now and returns true when it moved something. */
bool wsb_pump_up_write(struct ws_bridge *b);   /* client payload to the socket */
bool wsb_pump_down_read(struct ws_bridge *b);  /* socket bytes into the pipe or buffer */
bool wsb_pump_down_write(struct ws_bridge *b); /* frames and control frames to the client */
/* True while the socket is still to be read (open, not at its end, client able). */
bool wsb_down_wanted(struct ws_bridge *b);
/* True when the pipe or buffer can take more socket bytes. */
bool wsb_down_has_room(struct ws_bridge *b);
/* True when no socket byte waits to be framed or sent. */
bool wsb_down_empty(const struct ws_bridge *b);
/* True when no whole message (or stream byte) waits for the socket. */
bool wsb_up_empty(const struct ws_bridge *b);

#endif
