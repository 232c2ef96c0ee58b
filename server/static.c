/*
 * The console's files, read once at start from --web-dir and served from memory, so that
 * a page load costs no file system call on the loop (a slow or network disk would stall
 * every socket). Only plain file names directly inside that folder are kept (no
 * sub-paths, no dot files, known types only), so a URL cannot reach anything else. The
 * page gets a Content-Security-Policy that allows nothing but its own files. Files
 * changed after start are served as they were then: restart to pick up a new console.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "log.h"
#include "server.h"

#define STATIC_MAX_FILE (8u << 20)    /* bytes of one file */
#define STATIC_MAX_TOTAL (64u << 20)  /* bytes of them all */
#define STATIC_MAX_FILES 128          /* files kept */

struct static_file {
    char name[64];                   /* its name in the folder, and in the URL */
    const char *type;                /* Content-Type */
    char *data;                      /* its bytes (owned) */
    size_t len;                      /* their number */
};

struct static_files {
    struct static_file files[STATIC_MAX_FILES];
    size_t n;                        /* files kept */
    size_t bytes;                    /* their total size */
};

static const char console_csp[] =
    "default-src 'self'; script-src 'self' 'wasm-unsafe-eval'; style-src 'self'; "
    "img-src 'self' data:; connect-src 'self'; object-src 'none'; base-uri 'none'; "
    "frame-ancestors 'none'; form-action 'none'";

static const char *content_type(const char *name)
{
    static const struct {
        const char *ext, *type;
    } types[] = {
        {".html", "text/html; charset=utf-8"}, {".js", "text/javascript; charset=utf-8"},
        {".css", "text/css; charset=utf-8"},   {".wasm", "application/wasm"},
        {".json", "application/json"},         {".png", "image/png"},
        {".svg", "image/svg+xml"},             {".ico", "image/x-icon"},
    };
    const char *dot = strrchr(name, '.');
    for (size_t i = 0; dot && i < sizeof(types) / sizeof(types[0]); i++)
        if (strcmp(dot, types[i].ext) == 0)
            return types[i].type;
    return NULL;
}

/* Reads one file whole into f; 0, or -1 when it is not a regular file of fitting size. */
static int read_file(int dirfd, const char *name, size_t room, struct static_file *f)
{
    int fd = openat(dirfd, name, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
    struct stat st;
    if (fd < 0 || fstat(fd, &st) < 0 || !S_ISREG(st.st_mode) || st.st_size > STATIC_MAX_FILE ||
        (size_t)st.st_size > room) {
        if (fd >= 0)
            close(fd);
        return -1;
    }
    size_t size = (size_t)st.st_size, got = 0;
    char *buf = malloc(size ? size : 1);
    while (buf && got < size) {
        ssize_t k = read(fd, buf + got, size - got);
        if (k <= 0)
            break;
        got += (size_t)k;
    }
    close(fd);
    if (!buf || got != size) {
        free(buf);
        return -1;
    }
    f->data = buf;
    f->len = size;
    return 0;
}

struct static_files *static_load(const char *dir, const struct cfg *cfg)
{
    struct static_files *sf = calloc(1, sizeof(*sf));
    if (!sf)
        return NULL;
    DIR *d = opendir(dir);
    if (!d) {
        log_line(cfg, "console files: cannot open %s (%s); / answers 404", dir, strerror(errno));
        return sf;
    }
    for (struct dirent *de = readdir(d); de; de = readdir(d)) {
        const char *name = de->d_name;
        const char *type = content_type(name);
        size_t len = strlen(name);
        if (name[0] == '.' || !type || len >= sizeof(sf->files[0].name))
            continue;
        if (sf->n == STATIC_MAX_FILES) {
            log_line(cfg, "console files: more than %d in %s; the rest are not served",
                     STATIC_MAX_FILES, dir);
            break;
        }
        struct static_file *f = &sf->files[sf->n];
        if (read_file(dirfd(d), name, STATIC_MAX_TOTAL - sf->bytes, f) < 0)
            continue;
        memcpy(f->name, name, len + 1);
        f->type = type;
        sf->bytes += f->len;
        sf->n++;
    }
    closedir(d);
    return sf;
}

void static_free(struct static_files *sf)
{
    if (!sf)
        return;
    for (size_t i = 0; i < sf->n; i++)
        free(sf->files[i].data);
    free(sf);
}

enum MHD_Result static_serve(struct srv_req *r, const char *url)
{
    const struct static_files *sf = r->srv->files;
    const char *name = url[0] == '/' ? url + 1 : url;
    if (name[0] == '\0')
        name = "index.html";
    const struct static_file *f = NULL;
    for (size_t i = 0; sf && i < sf->n && !f; i++)
        if (strcmp(sf->files[i].name, name) == 0)
            f = &sf->files[i];
    if (!f)
        return srv_reply_error(r, 404, "request", ENG_EINVAL, "no such endpoint");
    /* The bytes stay ours and outlive the daemon: nothing is copied per request. */
    struct MHD_Response *resp =
        MHD_create_response_from_buffer(f->len, f->data, MHD_RESPMEM_PERSISTENT);
    if (!resp)
        return MHD_NO;
    const char *const page[] = {"Content-Security-Policy", console_csp,
                                "X-Frame-Options", "DENY", "Referrer-Policy", "no-referrer", NULL};
    const struct srv_resp_opts o = {
        .content_type = f->type,
        .cache = "no-cache",
        .extra = strstr(f->type, "text/html") ? page : NULL,
        .skip_cors = true,
    };
    return srv_queue(r, 200, resp, &o, f->len);
}
