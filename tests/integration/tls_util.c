/*
 * TLS peers and certificates for the tests (see tls_util.h). openssl makes every key and
 * certificate at test time, so nothing secret or expiring lives in the repository.
 */
#include "tls_util.h"

#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

#include "harness.h"

const char *tu_path(const struct tu_certs *c, const char *name, char *out)
{
    snprintf(out, 256, "%s/%s", c->dir, name);
    return out;
}

static void run(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void run(const char *fmt, ...)
{
    char cmd[2048];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(cmd, sizeof(cmd), fmt, ap);
    va_end(ap);
    assert_true(n > 0 && (size_t)n < sizeof(cmd));
    if (system(cmd) != 0)
        fail_msg("command failed: %s", cmd);
}

static char *slurp(const char *path)
{
    FILE *f = fopen(path, "r");
    if (!f)
        fail_msg("cannot read %s", path);
    char *buf = calloc(1, 65536);
    assert_non_null(buf);
    size_t n = fread(buf, 1, 65535, f);
    fclose(f);
    assert_true(n > 0);
    return buf;
}

/* A key and a certificate for `cn` with the subjectAltName `san`, signed by the CA.
 * `dates` NULL is "-days 2" from now; else "START END" (openssl's YYYYMMDDHHMMSSZ), for
 * an openssl ca run with those fixed dates (an expired or a not yet valid certificate). */
static void leaf(const struct tu_certs *c, const char *name, const char *cn, const char *san,
                 const char *dates)
{
    const char *d = c->dir;
    run("cd %s && openssl req -newkey rsa:2048 -nodes -keyout %s.key -out %s.csr -subj /CN=%s "
        ">/dev/null 2>&1", d, name, name, cn);
    run("cd %s && printf 'subjectAltName=%s\\nextendedKeyUsage=serverAuth,clientAuth\\n' > %s.ext",
        d, san, name);
    if (!dates) {
        run("cd %s && openssl x509 -req -in %s.csr -CA ca.pem -CAkey ca.key -CAcreateserial "
            "-days 2 -extfile %s.ext -out %s.pem >/dev/null 2>&1", d, name, name, name);
        return;
    }
    /* openssl x509 (3.0) cannot choose the dates; openssl ca can. */
    char start[16], end[16];
    assert_int_equal(sscanf(dates, "%15s %15s", start, end), 2);
    run("cd %s && { [ -f serial ] || { : > index.txt && echo 1000 > serial; }; } && printf '[ca]\\ndefault_ca=c\\n[c]\\n"
        "database=index.txt\\nserial=serial\\nnew_certs_dir=.\\ndefault_md=sha256\\n"
        "policy=p\\ncopy_extensions=copy\\nunique_subject=no\\n[p]\\ncommonName=supplied\\n' > ca.cnf",
        d);
    run("cd %s && openssl ca -batch -config ca.cnf -cert ca.pem -keyfile ca.key -in %s.csr "
        "-extfile %s.ext -startdate %s -enddate %s -notext -out %s.pem >/dev/null 2>&1", d, name,
        name, start, end, name);
}

void tu_certs_make(struct tu_certs *c)
{
    memset(c, 0, sizeof(*c));
    snprintf(c->dir, sizeof(c->dir), "/tmp/sockgate-tls-%d-XXXXXX", (int)getpid());
    assert_non_null(mkdtemp(c->dir));
    run("cd %s && openssl req -x509 -newkey rsa:2048 -nodes -keyout ca.key -out ca.pem -days 2 "
        "-subj '/CN=sockgate test CA' >/dev/null 2>&1", c->dir);
    leaf(c, "localhost", "localhost", "DNS:localhost,IP:127.0.0.1", NULL);
    leaf(c, "wrong", "wrong.example", "DNS:wrong.example", NULL);
    leaf(c, "expired", "localhost", "DNS:localhost,IP:127.0.0.1",
         "20200101000000Z 20200102000000Z");
    leaf(c, "future", "localhost", "DNS:localhost,IP:127.0.0.1",
         "20990101000000Z 20990102000000Z");
    leaf(c, "client", "sockgate-test-client", "DNS:client.example", NULL);
    char p[256];
    c->ca_pem = slurp(tu_path(c, "ca.pem", p));
    c->client_pem = slurp(tu_path(c, "client.pem", p));
    c->client_key = slurp(tu_path(c, "client.key", p));
}

void tu_certs_free(struct tu_certs *c)
{
    free(c->ca_pem);
    free(c->client_pem);
    free(c->client_key);
    if (c->dir[0])
        run("rm -rf %s", c->dir);
    memset(c, 0, sizeof(*c));
}

/* Waits (10 s at most) until something accepts on 127.0.0.1:port. */
static void wait_listening(struct tu_proc *p)
{
    long long deadline = hx_now_ms() + 10000;
    while (hx_now_ms() < deadline) {
        int fd = hx_tcp_connect(false, p->port);
        if (fd >= 0) {
            close(fd);
            return;
        }
        int st;
        if (waitpid(p->pid, &st, WNOHANG) == p->pid) {
            p->pid = 0;
            fail_msg("the TLS peer exited before listening");
        }
        usleep(20000);
    }
    fail_msg("the TLS peer did not listen on port %u", p->port);
}

static void spawn(struct tu_proc *p, const char *const *argv)
{
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        prctl(PR_SET_PDEATHSIG, SIGKILL);
        int null = open("/dev/null", O_RDWR);
        if (null >= 0) {
            /* s_server relays stdin to the client: -ign_eof keeps an empty one from
             * ending the conversation. */
            dup2(null, 0);
            dup2(null, 1);
            dup2(null, 2);
        }
        execvp(argv[0], (char *const *)argv);
        _exit(127);
    }
    p->pid = pid;
    wait_listening(p);
}

void tu_s_server(struct tu_proc *p, const struct tu_certs *c, const char *cert_name,
                 const char *const *extra)
{
    char accept[32], cert[256], key[256], n1[64], n2[64];
    p->port = hx_free_port();
    snprintf(accept, sizeof(accept), "127.0.0.1:%u", (unsigned)p->port);
    snprintf(n1, sizeof(n1), "%s.pem", cert_name);
    snprintf(n2, sizeof(n2), "%s.key", cert_name);
    const char *argv[40] = {"openssl", "s_server", "-quiet", "-ign_eof", "-accept", accept,
                            "-cert", tu_path(c, n1, cert), "-key", tu_path(c, n2, key)};
    int argc = 10;
    for (int i = 0; extra && extra[i] && argc < 38; i++)
        argv[argc++] = extra[i];
    argv[argc] = NULL;
    spawn(p, argv);
}

void tu_starttls_server(struct tu_proc *p, const struct tu_certs *c)
{
    char port[8], cert[256], key[256];
    p->port = hx_free_port();
    snprintf(port, sizeof(port), "%u", (unsigned)p->port);
    const char *script = getenv("STARTTLS_SERVER_JS");
    const char *argv[] = {"node", script ? script : "tests/integration/starttls_server.js", port,
                          tu_path(c, "localhost.pem", cert), tu_path(c, "localhost.key", key),
                          NULL};
    spawn(p, argv);
}

void tu_proc_stop(struct tu_proc *p)
{
    if (p->pid <= 0)
        return;
    kill(p->pid, SIGTERM);
    int st;
    long long deadline = hx_now_ms() + 3000;
    while (hx_now_ms() < deadline) {
        if (waitpid(p->pid, &st, WNOHANG) == p->pid) {
            p->pid = 0;
            return;
        }
        usleep(10000);
    }
    kill(p->pid, SIGKILL);
    waitpid(p->pid, &st, 0);
    p->pid = 0;
}

char *tu_json_str(const char *s, char *out, size_t cap)
{
    size_t o = 0;
    assert_true(cap > 2);
    out[o++] = '"';
    for (; *s; s++) {
        assert_true(o + 8 < cap);
        unsigned char ch = (unsigned char)*s;
        if (ch == '"' || ch == '\\') {
            out[o++] = '\\';
            out[o++] = (char)ch;
        } else if (ch < 0x20) {
            o += (size_t)snprintf(out + o, cap - o, "\\u%04x", ch);
        } else {
            out[o++] = (char)ch;
        }
    }
    out[o++] = '"';
    out[o] = '\0';
    return out;
}
