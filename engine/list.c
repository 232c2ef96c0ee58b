/*
 * Building answer lists. Every list starts as [command, "ok"]; errors replace element 2
 * with "NAME: text." and commands append their extra elements. An answer is whole or an
 * error: when memory runs out while one is built, it becomes ["cmd","NOMEM: ..."] and
 * takes nothing more, so no client ever reads "ok" with an element missing.
 */
#include <errno.h>
#include <stddef.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "engine_int.h"

void eng_list_free(struct eng_list *l)
{
    if (!l)
        return;
    for (int i = 0; i < l->nitems; i++)
        if (!l->items[i].borrowed)
            free(l->items[i].bytes);
    if (l->items != l->inline_items)
        free(l->items);
    free(l);
}

/* Makes room for one more element: the inline ones first, then a doubling array. */
static int list_reserve(struct eng_list *l)
{
    if (l->nitems < l->cap)
        return 0;
    if (l->cap >= ENG_LIST_MAX)
        return -ENOSPC;
    int cap = l->cap * 2 > ENG_LIST_MAX ? ENG_LIST_MAX : l->cap * 2;
    struct eng_item *items = malloc((size_t)cap * sizeof(*items));
    if (!items)
        return -ENOMEM;
    memcpy(items, l->items, (size_t)l->nitems * sizeof(*items));
    if (l->items != l->inline_items)
        free(l->items);
    l->items = items;
    l->cap = cap;
    return 0;
}

static const char nomem_text[] = "NOMEM: out of memory; the answer could not be made.";

/* Memory ran out while l was built: it becomes the NOMEM error, whatever it held. */
static void list_fail(struct eng_list *l)
{
    for (int i = 1; i < l->nitems; i++)
        if (!l->items[i].borrowed)
            free(l->items[i].bytes);
    l->items[1] = (struct eng_item){.bytes = (char *)nomem_text, .len = sizeof(nomem_text) - 1,
                                    .borrowed = true};
    l->nitems = 2;
    l->row_len = 0;
    l->err = -ENOMEM;
    l->failed = true;
}

int engi_list_add_owned(struct eng_list *l, char *bytes, size_t len, bool is_data)
{
    if (l->failed) {
        free(bytes);
        return -ENOMEM;
    }
    int rc = list_reserve(l);
    if (rc < 0) {
        free(bytes);
        list_fail(l);
        return rc;
    }
    bytes[len] = '\0';
    l->items[l->nitems++] = (struct eng_item){.bytes = bytes, .len = len, .is_data = is_data};
    return 0;
}

/* Copies text into the list's own room when it fits; NULL when it does not. */
static char *list_text(struct eng_list *l, const char *s, size_t len)
{
    if (len >= ENG_LIST_TEXT - l->text_used)
        return NULL;
    char *copy = l->text + l->text_used;
    memcpy(copy, s, len);
    copy[len] = '\0';
    l->text_used += len + 1;
    return copy;
}

int engi_list_add(struct eng_list *l, const char *s, size_t len, bool is_data)
{
    if (l->failed)
        return -ENOMEM;
    char *text = is_data ? NULL : list_text(l, s, len);
    if (text) {
        if (list_reserve(l) < 0) {
            list_fail(l);
            return -ENOMEM;
        }
        l->items[l->nitems++] = (struct eng_item){.bytes = text, .len = len, .borrowed = true};
        return 0;
    }
    char *copy = malloc(len + 1);
    if (!copy) {
        list_fail(l);
        return -ENOMEM;
    }
    memcpy(copy, s, len);
    return engi_list_add_owned(l, copy, len, is_data);
}

int engi_list_add_str(struct eng_list *l, const char *s)
{
    return engi_list_add(l, s, strlen(s), false);
}

int engi_list_add_addr(struct eng_list *l, const struct sockaddr *sa)
{
    /* The port goes first in the room, where its 6 bytes fit whatever it is, and the host
     * after it: both are written in place, with no copy and no allocation. */
    size_t used = l->text_used;
    if (!l->failed && l->nitems + 2 <= l->cap && ENG_LIST_TEXT - used >= 8 + 64) {
        char *port = l->text + used, *host = port + 8;
        int n = eng_addr_format(sa, host, 64, port, 8);
        if (n < 0)
            return -EAFNOSUPPORT;
        l->items[l->nitems++] = (struct eng_item){.bytes = host, .len = (size_t)n, .borrowed = true};
        l->items[l->nitems++] = (struct eng_item){.bytes = port, .len = strlen(port), .borrowed = true};
        l->text_used = used + 8 + (size_t)n + 1;
        return 0;
    }
    char host[64], port[8];
    int n = eng_addr_format(sa, host, sizeof(host), port, sizeof(port));
    if (n < 0)
        return -EAFNOSUPPORT;
    engi_list_add(l, host, (size_t)n, false);
    return engi_list_add_str(l, port);
}

struct eng_list *engi_list_new(enum eng_cmd cmd)
{
    /* Every answer makes one: clearing its 700 bytes of element and text room cost
     * more than the rest of a small command's list (engine.h: they are read only as used). */
    struct eng_list *l = malloc(sizeof(*l));
    if (!l)
        return NULL;
    memset(l, 0, offsetof(struct eng_list, inline_items));
    l->cmd = cmd;
    l->items = l->inline_items;
    l->cap = ENG_LIST_INLINE;
    /* Every answer starts with these two: static text, not a copy each time. */
    const char *name = eng_cmd_name(cmd);
    l->items[0] = (struct eng_item){.bytes = (char *)name, .len = strlen(name), .borrowed = true};
    l->items[1] = (struct eng_item){.bytes = (char *)"ok", .len = 2, .borrowed = true};
    l->nitems = 2;
    return l;
}

static void list_set_err_v(struct eng_list *l, int code, const char *fmt, va_list ap)
    __attribute__((format(printf, 3, 0)));
static void list_set_err_v(struct eng_list *l, int code, const char *fmt, va_list ap)
{
    if (l->failed)
        return;
    char detail[256], text[320];
    if (fmt)
        vsnprintf(detail, sizeof(detail), fmt, ap);
    size_t len = eng_err_format(text, sizeof(text), code, fmt ? detail : NULL);
    char *copy = list_text(l, text, len);
    bool in_list = copy != NULL;
    if (!copy && (copy = malloc(len + 1)) != NULL)
        memcpy(copy, text, len + 1);
    if (!copy) {
        list_fail(l); /* this error cannot be told; running out of memory can, with no copy */
        return;
    }
    if (!l->items[1].borrowed)
        free(l->items[1].bytes);
    l->items[1] = (struct eng_item){.bytes = copy, .len = len, .borrowed = in_list};
    l->err = code;
}

void engi_list_set_err(struct eng_list *l, int code, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    list_set_err_v(l, code, fmt, ap);
    va_end(ap);
}

struct eng_list *engi_list_err(enum eng_cmd cmd, int code, const char *fmt, ...)
{
    struct eng_list *l = engi_list_new(cmd);
    if (!l)
        return NULL;
    va_list ap;
    va_start(ap, fmt);
    list_set_err_v(l, code, fmt, ap);
    va_end(ap);
    return l;
}
