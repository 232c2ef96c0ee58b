/*
 * The command table (see commands.h). A row per command; the rest of the server asks
 * here rather than testing command names or enums in its own code.
 */
#include "commands.h"

#include <strings.h>

#define POS(a, b, c) {a, b, c}
#define NONE POS(A_NONE, A_NONE, A_NONE)

static const struct srv_command commands[ENG_CMD_COUNT] = {
    [ENG_CMD_BIND] = {.on_socket = true, .positional = POS(A_LOCALHOST, A_PORT, A_NONE)},
    [ENG_CMD_LISTEN] = {.on_socket = true, .positional = POS(A_BACKLOG, A_NONE, A_NONE)},
    [ENG_CMD_ACCEPT] = {.on_socket = true, .background = true,
                        .positional = POS(A_CALLBACK, A_TIMEOUT, A_NONE)},
    [ENG_CMD_ACCEPTFAST] = {.on_socket = true, .background = true,
                            .positional = POS(A_CALLBACK, A_TIMEOUT, A_NONE)},
    [ENG_CMD_CONNECT] = {.on_socket = true, .tls = CMD_TLS_OPTIONAL,
                         .positional = POS(A_SOCKETNAME, A_PORT, A_NONE)},
    [ENG_CMD_SEND] = {.on_socket = true, .data = true, .positional = POS(A_STREAM, A_NONE, A_NONE)},
    [ENG_CMD_SENDTO] = {.on_socket = true, .data = true,
                        .positional = POS(A_ADDRESS, A_PORT, A_DGRAM)},
    [ENG_CMD_RECV] = {.on_socket = true, .background = true, .data = true,
                      .positional = POS(A_N, A_CALLBACK, A_TIMEOUT)},
    [ENG_CMD_RECVFROM] = {.on_socket = true, .background = true, .data = true,
                          .positional = POS(A_N, A_CALLBACK, A_TIMEOUT)},
    [ENG_CMD_GETPEERNAME] = {.on_socket = true, .get = true, .positional = NONE},
    [ENG_CMD_GETSOCKNAME] = {.on_socket = true, .get = true, .positional = NONE},
    [ENG_CMD_IOCTL] = {.on_socket = true, .get = true, .positional = NONE,
                       .by_name = {A_FIONBIO, A_FIONREAD},
                       .list_form = "ioctl takes [\"FIONBIO\", 0|1] or [\"FIONREAD\"]"},
    [ENG_CMD_CLOSE] = {.on_socket = true, .positional = NONE},
    [ENG_CMD_STARTTLS] = {.on_socket = true, .tls = CMD_TLS_UPGRADE,
                          .positional = POS(A_SERVERNAME, A_NONE, A_NONE)},
    [ENG_CMD_SOCKET] = {.positional = POS(A_TYPE, A_FAMILY, A_NONE), .strings_only = true,
                        .object_form = "socket takes \"type\" and \"family\" strings",
                        .list_form = "socket takes [\"STREAM\"|\"DGRAM\", \"IPV4\"|\"IPV6\"]"},
    [ENG_CMD_GETADDRINFO] = {.get = true, .positional = POS(A_NAME, A_PORT, A_NONE)},
    [ENG_CMD_GETNAMEINFO] = {.get = true, .positional = POS(A_ADDRESS, A_PORT, A_NONE)},
};

static const char *const slot_names[A_COUNT] = {
    "",
    "localhost", "port", "backlog", "callback", "timeout", "socketname", "stream",
    "address", "dgram", "n", "encoding", "repeat", "FIONBIO", "FIONREAD", "type", "family",
    "tls", "servername", "verify", "ca", "cert", "key", "name",
};

const struct srv_command *cmd_info(enum eng_cmd cmd)
{
    return &commands[(unsigned)cmd < ENG_CMD_COUNT ? cmd : ENG_CMD_CLOSE];
}

const char *cmd_slot_name(enum arg_slot slot)
{
    return (unsigned)slot < A_COUNT ? slot_names[slot] : "?";
}

int cmd_slot_find(const char *name)
{
    for (int i = A_NONE + 1; i < A_COUNT; i++)
        if (strcasecmp(name, slot_names[i]) == 0)
            return i;
    return -1;
}

bool cmd_takes(enum eng_cmd cmd, int slot)
{
    const struct srv_command *c = cmd_info(cmd);
    if (slot == A_ENCODING)
        return c->data;
    if (slot == A_TIMEOUT)
        return eng_cmd_waits(cmd);
    if (slot == A_CALLBACK || slot == A_REPEAT)
        return c->background;
    /* TLS arguments are named only (SPEC §11): connect takes them all, starttls all but
     * tls itself. */
    if (slot == A_TLS)
        return c->tls == CMD_TLS_OPTIONAL;
    if (slot >= A_SERVERNAME && slot <= A_KEY)
        return c->tls != CMD_TLS_NONE;
    for (int i = 0; slot != A_NONE && i < CMD_MAX_POSITIONAL; i++)
        if (c->positional[i] == slot)
            return true;
    return slot != A_NONE && (c->by_name[0] == slot || c->by_name[1] == slot);
}
