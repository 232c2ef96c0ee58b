/*
 * The console's files, served from --web-dir. Only plain file names directly inside that
 * folder are served (no sub-paths, no dot files), so a URL cannot reach anything else.
 * The page gets a Content-Security-Policy that allows nothing but its own files.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "server.h"

#define STATIC_MAX_FILE (8u << 20)

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

enum MHD_Result static_serve(struct srv_req *r, const char *url)
{
    const char *name = url[0] == '/' ? url + 1 : url;
    if (name[0] == '\0')
        name = "index.html";
    const char *type = content_type(name);
    if (name[0] == '.' || strchr(name, '/') || strchr(name, '\\') || !type)
        return srv_reply_error(r, 404, "request", ENG_EINVAL, "no such endpoint");
    char path[768];
    int n = snprintf(path, sizeof(path), "%s/%s", r->srv->cfg->web_dir, name);
    if (n < 0 || (size_t)n >= sizeof(path))
        return srv_reply_error(r, 404, "request", ENG_EINVAL, "no such endpoint");
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    struct stat st;
    if (fd < 0 || fstat(fd, &st) < 0 || !S_ISREG(st.st_mode) || st.st_size > STATIC_MAX_FILE) {
        if (fd >= 0)
            close(fd);
        return srv_reply_error(r, 404, "request", ENG_EINVAL, "no such endpoint");
    }
    /* The files are small and few: read into memory rather than hold a descriptor. */
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
        return srv_reply_error(r, 500, "request", -EIO, "cannot read the console file");
    }
    struct MHD_Response *resp = MHD_create_response_from_buffer(size, buf, MHD_RESPMEM_MUST_FREE);
    if (!resp) {
        free(buf); /* not taken when the response could not be made */
        return MHD_NO;
    }
    MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_TYPE, type);
    MHD_add_response_header(resp, "X-Content-Type-Options", "nosniff");
    MHD_add_response_header(resp, MHD_HTTP_HEADER_CACHE_CONTROL, "no-cache");
    if (strstr(type, "text/html")) {
        MHD_add_response_header(resp, "Content-Security-Policy", console_csp);
        MHD_add_response_header(resp, "X-Frame-Options", "DENY");
        MHD_add_response_header(resp, "Referrer-Policy", "no-referrer");
    }
    enum MHD_Result ret = MHD_queue_response(r->conn, 200, resp);
    MHD_destroy_response(resp);
    r->answered = true;
    r->status = 200;
    r->bytes_out = size;
    return ret;
}
