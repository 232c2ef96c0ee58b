/*
 * Building answer lists. Every list starts as [command, "ok"]; errors replace element 2
 * with "NAME: text." and commands append their extra elements.
 */
#include <errno.h>
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

int engi_list_add_owned(struct eng_list *l, char *bytes, size_t len, bool is_data)
{
    int rc = list_reserve(l);
    if (rc < 0) {
        free(bytes);
        return rc;
    }
    bytes[len] = '\0';
    l->items[l->nitems++] = (struct eng_item){.bytes = bytes, .len = len, .is_data = is_data};
    return 0;
}

int engi_list_add(struct eng_list *l, const char *s, size_t len, bool is_data)
{
    char *copy = malloc(len + 1);
    if (!copy)
        return -ENOMEM;
    memcpy(copy, s, len);
    return engi_list_add_owned(l, copy, len, is_data);
}

int engi_list_add_str(struct eng_list *l, const char *s)
{
    return engi_list_add(l, s, strlen(s), false);
}

struct eng_list *engi_list_new(enum eng_cmd cmd)
{
    struct eng_list *l = calloc(1, sizeof(*l));
    if (!l)
        return NULL;
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
    char detail[256], text[320];
    if (fmt)
        vsnprintf(detail, sizeof(detail), fmt, ap);
    size_t len = eng_err_format(text, sizeof(text), code, fmt ? detail : NULL);
    /* The code is kept even when the text cannot be: the status still tells the error. */
    l->err = code;
    char *copy = malloc(len + 1);
    if (!copy)
        return;
    memcpy(copy, text, len + 1);
    if (!l->items[1].borrowed)
        free(l->items[1].bytes);
    l->items[1] = (struct eng_item){.bytes = copy, .len = len, .is_data = false};
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
