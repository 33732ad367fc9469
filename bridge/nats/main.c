/* SPDX-License-Identifier: MIT */
/* shmring-nats: entry point, signals. */
#include <stdio.h>
#include <string.h>

#include "bridge.h"

volatile sig_atomic_t bridge_stop;

static void on_signal(int sig)
{
    (void)sig;
    bridge_stop = 1;
}

int main(int argc, char **argv)
{
    struct bridge_opts o;
    if (bridge_parse(argc, argv, &o) < 0) {
        bridge_usage(stderr);
        return argc >= 2 && (strcmp(argv[1], "-h") == 0 || strcmp(argv[1], "--help") == 0)
                   ? EXIT_OK
                   : EXIT_USAGE;
    }
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_signal; /* no SA_RESTART: blocking ring waits return -EINTR */
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
    signal(SIGPIPE, SIG_IGN);
    if (nats_Open(-1) != NATS_OK) {
        bridge_log("cannot initialise the NATS library");
        return EXIT_NATS;
    }
    natsConnection *nc = NULL;
    int rc = bridge_connect(&o, &nc);
    if (rc == EXIT_OK) {
        rc = o.dir == DIR_OUT ? bridge_out(&o, nc) : bridge_in(&o, nc);
    }
    if (nc != NULL) {
        natsConnection_FlushTimeout(nc, 2000); /* acks of the last messages reach the server */
        natsConnection_Destroy(nc);
    }
    nats_CloseAndWait(2000);
    return rc;
}
