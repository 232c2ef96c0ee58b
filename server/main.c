/*
 * sockgate's entry point: read the settings, open the server (lifecycle.c), run the
 * event loop until SIGTERM or SIGINT has been answered, close the server, exit 0.
 */
#include <stdio.h>

#include "log.h"
#include "server.h"

int main(int argc, char **argv)
{
    log_buffer_stderr();
    struct cfg cfg;
    int rc = cfg_load(&cfg, argc, argv);
    if (rc != 0) {
        cfg_free(&cfg);
        return rc > 0 ? 0 : 2;
    }
    struct srv s;
    int exit_code = 1;
    if (srv_open(&s, &cfg) == 0 && srv_run(&s) == 0)
        exit_code = 0;
    srv_close(&s);
    if (exit_code == 0)
        log_line(&cfg, "stopped");
    cfg_free(&cfg);
    return exit_code;
}
