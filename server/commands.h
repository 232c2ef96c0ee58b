/*
 * Everything the server knows about a command, in one table: the HTTP methods that may
 * ask for it, its arguments (JSL's positional order, what else it takes by name), whether
 * it may run in the background and whether it carries socket data. Whether a command
 * waits is the engine's fact (eng_cmd_waits); its name, element 1 of every answer and its
 * metrics label, is the engine's too (eng_cmd_name), carried in each list as an enum.
 */
#ifndef SOCKGATE_COMMANDS_H
#define SOCKGATE_COMMANDS_H

#include <stdbool.h>

#include "engine.h"

/* Where an argument lands, whatever form (object, array, query) it came in. */
enum arg_slot {
    A_NONE,                          /* no argument: ends a list, fills the unused places */
    A_LOCALHOST, A_PORT, A_BACKLOG, A_CALLBACK, A_TIMEOUT, A_SOCKETNAME, A_STREAM,
    A_ADDRESS, A_DGRAM, A_N, A_ENCODING, A_REPEAT, A_FIONBIO, A_FIONREAD, A_TYPE, A_FAMILY,
    A_TLS, A_SERVERNAME, A_VERIFY, A_CA, A_CERT, A_KEY, A_NAME,
    A_COUNT
};

#define CMD_MAX_POSITIONAL 3

/* Which TLS arguments a command takes, by name only (SPEC §11). */
enum cmd_tls {
    CMD_TLS_NONE,
    CMD_TLS_OPTIONAL,                /* connect: tls=true turns it on; all six */
    CMD_TLS_UPGRADE,                 /* starttls: always TLS; all but "tls" */
};

struct srv_command {
    bool on_socket;                  /* POST /sockets/<id>/<name>; false for "socket" */
    bool get;                        /* GET may ask too: it only reads */
    bool background;                 /* takes callback (and repeat): may run as an event */
    bool data;                       /* carries socket data: takes encoding */
    enum cmd_tls tls;                /* its TLS arguments */
    signed char positional[CMD_MAX_POSITIONAL]; /* JSL's order, A_NONE-terminated */
    signed char by_name[2];          /* taken by name only (ioctl's FIONBIO, FIONREAD) */
    bool strings_only;               /* every value a string; a body of the wrong shape
                                      * answers object_form or list_form */
    const char *object_form;         /* the error for a bad object body, or NULL: generic */
    const char *list_form;           /* the error for a bad array body, or NULL: generic */
};

/* The facts of `cmd` (any enum eng_cmd below ENG_CMD_COUNT). */
const struct srv_command *cmd_info(enum eng_cmd cmd);
/* The name of an argument slot as a client writes it ("socketname", "FIONBIO"). */
const char *cmd_slot_name(enum arg_slot slot);
/* The slot a client's name stands for, case-insensitively; -1 for none. */
int cmd_slot_find(const char *name);
/* True when `cmd` takes the argument in `slot` by name. */
bool cmd_takes(enum eng_cmd cmd, int slot);

#endif
