/*  foleni-bench-hello — the ceiling for the portal benchmark: a plain
 *  libmicrohttpd server that answers every GET or POST with a small JSON.
 *
 *    build/bin/foleni-bench-hello PORT [THREADS]
 *
 *  bench/bench-portal runs the same wrk load against it and against the
 *  portal in one run, so "portal / hello" says what the portal's work (JSON,
 *  validation, the broker round trip and the durable commit) costs on this
 *  machine.  It is as fast as libmicrohttpd goes here: epoll with its own
 *  thread pool (THREADS, default 2: one per core of the 2-core machines the
 *  figures come from), MHD_USE_TURBO like the portal, and one response made
 *  at start and queued again for every request.  As the field notes say, the
 *  response is queued on the second call of the access handler, never the
 *  first, or libmicrohttpd 0.9.75 answers `Connection: close`.  A POST body
 *  is read and dropped.
 *
 *  Listens on 127.0.0.1 only.  Prints "hello listening on PORT threads=N"
 *  when ready (PORT 0 picks one), serves until SIGINT or SIGTERM, exits 0.
 *  Exit 1 when it cannot listen, 2 on bad arguments.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <microhttpd.h>

#define HELLO_BODY        "{\"hello\":\"world\"}"
#define HELLO_THREADS_MAX 64
#define HELLO_CONNECTIONS 10000
#define HELLO_BACKLOG     4096

static volatile sig_atomic_t s_stop;

static void
s_on_signal(int sig)
{
    (void) sig;
    s_stop = 1;
}

/* First call: remember the request (any non-NULL mark) and say yes; body
 * chunks: drop them; last call: queue the shared response. */
static enum MHD_Result
s_access(void *cls, struct MHD_Connection *conn, const char *url, const char *method, const char *version,
         const char *upload_data, size_t *upload_data_size, void **con_cls)
{
    (void) url; (void) version; (void) upload_data;
    static int mark;
    struct MHD_Response *response = cls;
    if (strcmp(method, "GET") && strcmp(method, "POST") && strcmp(method, "HEAD"))
        return MHD_NO;
    if (!*con_cls) {
        *con_cls = &mark;
        return MHD_YES;
    }
    if (*upload_data_size) {
        *upload_data_size = 0;
        return MHD_YES;
    }
    return MHD_queue_response(conn, MHD_HTTP_OK, response);
}

static int
s_number(const char *text, long min, long max, long *out)
{
    char *end;
    long v = strtol(text, &end, 10);
    if (!*text || *end || v < min || v > max)
        return -1;
    *out = v;
    return 0;
}

int
main(int argc, char **argv)
{
    long port, threads = 2;
    if (argc < 2 || argc > 3 || s_number(argv[1], 0, 65535, &port) != 0
        || (argc == 3 && s_number(argv[2], 1, HELLO_THREADS_MAX, &threads) != 0)) {
        fprintf(stderr, "usage: foleni-bench-hello PORT [THREADS (1..%d, default 2)]\n", HELLO_THREADS_MAX);
        return 2;
    }
    /* SIGINT and SIGTERM stay blocked (in libmicrohttpd's threads too) except
     * while main waits in sigsuspend: no signal can slip in before the wait. */
    struct sigaction sa = { .sa_handler = s_on_signal };
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
    signal(SIGPIPE, SIG_IGN);
    sigset_t stops, before;
    sigemptyset(&stops);
    sigaddset(&stops, SIGINT);
    sigaddset(&stops, SIGTERM);
    sigprocmask(SIG_BLOCK, &stops, &before);
    struct sockaddr_in addr = { .sin_family = AF_INET, .sin_port = htons((uint16_t) port),
                                .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };

    struct MHD_Response *response = MHD_create_response_from_buffer(strlen(HELLO_BODY), (void *) HELLO_BODY,
                                                                     MHD_RESPMEM_PERSISTENT);
    if (!response || MHD_add_response_header(response, "Content-Type", "application/json") != MHD_YES) {
        fprintf(stderr, "foleni-bench-hello: cannot make the response\n");
        return 1;
    }
    struct MHD_Daemon *daemon = MHD_start_daemon(
        MHD_USE_EPOLL_INTERNAL_THREAD | MHD_USE_TURBO, (uint16_t) port, NULL, NULL, s_access, response,
        MHD_OPTION_SOCK_ADDR, (struct sockaddr *) &addr,
        MHD_OPTION_THREAD_POOL_SIZE, (unsigned) threads,
        MHD_OPTION_CONNECTION_LIMIT, (unsigned) HELLO_CONNECTIONS,
        MHD_OPTION_LISTEN_BACKLOG_SIZE, (unsigned) HELLO_BACKLOG,
        MHD_OPTION_CONNECTION_TIMEOUT, (unsigned) 30,
        MHD_OPTION_END);
    if (!daemon) {
        fprintf(stderr, "foleni-bench-hello: cannot listen on port %ld: %s\n", port, strerror(errno));
        MHD_destroy_response(response);
        return 1;
    }
    const union MHD_DaemonInfo *di = MHD_get_daemon_info(daemon, MHD_DAEMON_INFO_BIND_PORT);
    printf("hello listening on %u threads=%ld\n", di ? (unsigned) di->port : (unsigned) port, threads);
    fflush(stdout);
    while (!s_stop)
        sigsuspend(&before);
    MHD_stop_daemon(daemon);
    MHD_destroy_response(response);
    return 0;
}
