/*
 * Rendering answers. Lists are written by hand into one buffer sized up front, because
 * a recv answer can be megabytes of encoded data and building a cJSON tree for it would
 * copy it twice; the listings are small and use cJSON.
 */
#include "render.h"

#include <cjson/cJSON.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

/* The bytes JSON text must escape (and DEL, which some readers mind): a table, since every
 * answer's every text element goes through render_json_escape. */
static const bool json_escaped[256] = {
    [0 ... 0x1f] = true, ['"'] = true, ['\\'] = true, [0x7f] = true,
};

size_t render_json_escape(const char *s, size_t len, char *out)
{
    /* Nearly all text needs no escape: it is copied with one look-up a byte, and only
     * text that holds one is written again, escaped. */
    bool escapes = false;
#pragma GCC unroll 4
    for (size_t i = 0; i < len; i++) {
        out[i] = s[i];
        escapes |= json_escaped[(unsigned char)s[i]];
    }
    if (!escapes)
        return len;
    static const char hex[] = "0123456789abcdef";
    char *o = out;
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)s[i];
        if (!json_escaped[c]) {
            *o++ = (char)c;
        } else if (c == '"' || c == '\\') {
            *o++ = '\\';
            *o++ = (char)c;
        } else if (c < 0x20 || c == 0x7f) {
            memcpy(o, "\\u00", 4);
            o[4] = hex[c >> 4];
            o[5] = hex[c & 15];
            o += 6;
        }
    }
    return (size_t)(o - out);
}

size_t render_list_max(const struct eng_list *l, enum codec_encoding enc)
{
    size_t cap = 3;
    for (int i = 0; i < l->nitems; i++)
        cap = eng_size_add(cap, eng_size_add(5, l->items[i].is_data /* 2: a row's [ ] */
                                                    ? codec_encoded_max(enc, l->items[i].len)
                                                    : eng_size_mul(6, l->items[i].len)));
    return eng_size_add(cap, 1);
}

size_t render_list_into(const struct eng_list *l, enum codec_encoding enc, char *buf)
{
    char *o = buf;
    *o++ = '[';
    for (int i = 0; i < l->nitems; i++) {
        const struct eng_item *it = &l->items[i];
        /* A look-up's rows nest: ["getaddrinfo","ok",["PF_INET",...],...] (SPEC §13). */
        int in_row = l->row_len > 0 && i >= 2 ? (i - 2) % l->row_len : -1;
        if (i)
            *o++ = ',';
        if (in_row == 0)
            *o++ = '[';
        *o++ = '"';
        /* Every encoding writes only characters that need no JSON escaping. */
        if (it->is_data)
            o += codec_encode(enc, (const uint8_t *)it->bytes, it->len, o);
        else
            o += render_json_escape(it->bytes, it->len, o);
        *o++ = '"';
        if (in_row >= 0 && (in_row == l->row_len - 1 || i == l->nitems - 1))
            *o++ = ']';
    }
    *o++ = ']';
    *o = '\0';
    return (size_t)(o - buf);
}

char *render_list(const struct eng_list *l, enum codec_encoding enc, size_t *len)
{
    char *buf = malloc(render_list_max(l, enc));
    if (!buf)
        return NULL;
    *len = render_list_into(l, enc, buf);
    return buf;
}

char *render_error(const char *name, int code, const char *detail, size_t *len)
{
    char text[400];
    eng_err_format(text, sizeof(text), code, detail);
    struct eng_list l = {.err = code, .nitems = 2, .cap = ENG_LIST_INLINE};
    l.items = l.inline_items;
    l.items[0] = (struct eng_item){.bytes = (char *)name, .len = strlen(name)};
    l.items[1] = (struct eng_item){.bytes = text, .len = strlen(text)};
    return render_list(&l, CODEC_ASCIIHEX, len);
}

static void add_time(cJSON *obj, const char *key, int64_t unix_ms)
{
    char buf[40];
    time_t secs = (time_t)(unix_ms / 1000);
    struct tm tm;
    gmtime_r(&secs, &tm);
    size_t n = strftime(buf, sizeof(buf), "%Y-%m-%dT%H:%M:%S", &tm);
    snprintf(buf + n, sizeof(buf) - n, ".%03dZ", (int)(unix_ms % 1000));
    cJSON_AddStringToObject(obj, key, buf);
}

static cJSON *info_object(const struct eng_socket_info *info)
{
    cJSON *o = cJSON_CreateObject();
    if (!o)
        return NULL;
    cJSON_AddStringToObject(o, "id", info->id);
    cJSON_AddStringToObject(o, "type", info->type);
    cJSON_AddStringToObject(o, "family", info->family);
    cJSON_AddStringToObject(o, "state", info->state);
    cJSON_AddBoolToObject(o, "blocking", info->blocking);
    if (info->tls && info->tls[0])
        cJSON_AddStringToObject(o, "tls", info->tls);
    cJSON_AddStringToObject(o, "local_address", info->local_address);
    cJSON_AddStringToObject(o, "local_port", info->local_port);
    cJSON_AddStringToObject(o, "peer_address", info->peer_address);
    cJSON_AddStringToObject(o, "peer_port", info->peer_port);
    cJSON_AddNumberToObject(o, "bytes_in", (double)info->bytes_in);
    cJSON_AddNumberToObject(o, "bytes_out", (double)info->bytes_out);
    cJSON_AddNumberToObject(o, "pending", info->pending);
    add_time(o, "created", info->created_unix_ms);
    add_time(o, "last_used", info->last_used_unix_ms);
    return o;
}

static char *print_and_free(cJSON *root, size_t *len)
{
    char *text = root ? cJSON_PrintUnformatted(root) : NULL;
    cJSON_Delete(root);
    if (!text)
        return NULL;
    /* Hand back plain malloc memory: cJSON_free is free unless hooks are installed. */
    *len = strlen(text);
    return text;
}

char *render_socket_info(const struct eng_socket_info *info, size_t *len)
{
    return print_and_free(info_object(info), len);
}

static void add_info(void *ctx, const struct eng_socket_info *info)
{
    cJSON *o = info_object(info);
    if (o)
        cJSON_AddItemToArray(ctx, o);
}

char *render_socket_list(struct eng *e, int owner, size_t *len)
{
    cJSON *root = cJSON_CreateObject();
    cJSON *arr = root ? cJSON_AddArrayToObject(root, "sockets") : NULL;
    if (!arr) {
        cJSON_Delete(root);
        return NULL;
    }
    eng_socket_foreach(e, owner, add_info, arr);
    return print_and_free(root, len);
}
