/*  benchproc.c — the child processes, clock and scratch folder the benchmark
 *  drivers share.  See benchproc.h. */
#include "bench/benchproc.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

char bp_tempdir[PATH_MAX];
bool bp_keep;

static pid_t s_children[BP_CHILDREN_MAX];
static char s_signal_msg[160] = "benchmark: stopped by a signal; children killed\n";
static const char *s_program = "benchmark";

int64_t
bp_now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t) ts.tv_sec * 1000000000 + ts.tv_nsec;
}

int64_t
bp_now_ms(void)
{
    return bp_now_ns() / 1000000;
}

int
bp_path(char *out, size_t cap, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(out, cap, fmt, ap);
    va_end(ap);
    if (n < 0 || (size_t) n >= cap) {
        fprintf(stderr, "%s: path too long: %s\n", s_program, out);
        return -1;
    }
    return 0;
}

static void
s_forget(pid_t pid)
{
    for (size_t i = 0; i < BP_CHILDREN_MAX; i++)
        if (s_children[i] == pid)
            s_children[i] = 0;
}

int
bp_stop(pid_t pid, int sig, int timeout_ms)
{
    if (pid <= 0)
        return 0;
    kill(pid, sig);
    int64_t until = bp_now_ms() + timeout_ms;
    int status = 0;
    while (true) {
        pid_t got = waitpid(pid, &status, WNOHANG);
        if (got == pid || (got < 0 && errno == ECHILD))
            break;
        if (bp_now_ms() >= until) {
            kill(pid, SIGKILL);
            waitpid(pid, NULL, 0);
            status = -1;
            break;
        }
        usleep(10000);
    }
    s_forget(pid);
    return status;
}

bool
bp_alive(pid_t pid)
{
    pid_t got = waitpid(pid, NULL, WNOHANG);
    if (got == pid) {
        s_forget(pid);
        return false;
    }
    return got == 0;
}

int
bp_rmtree(const char *path)
{
    /* small and bounded: our own scratch tree */
    char cmd[PATH_MAX + 32];
    if (bp_path(cmd, sizeof cmd, "rm -rf '%s'", path) != 0)
        return -1;
    if (system(cmd) != 0) {
        fprintf(stderr, "%s: could not remove %s\n", s_program, path);
        return -1;
    }
    return 0;
}

pid_t
bp_spawn(char *const argv[], const char *log)
{
    size_t slot = 0;
    while (slot < BP_CHILDREN_MAX && s_children[slot] > 0)
        slot++;
    if (slot == BP_CHILDREN_MAX)
        return -1;
    int fd = open(log ? log : "/dev/null", O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
    if (fd < 0)
        return -1;
    pid_t parent = getpid();
    pid_t pid = fork();
    if (pid == 0) {
        /* only async-signal-safe calls between fork and exec */
        prctl(PR_SET_PDEATHSIG, SIGKILL);
        if (getppid() != parent)
            _exit(127);
        if (dup2(fd, STDOUT_FILENO) < 0 || dup2(fd, STDERR_FILENO) < 0)
            _exit(127);
        execv(argv[0], argv);
        _exit(127);
    }
    close(fd);
    if (pid > 0)
        s_children[slot] = pid;
    return pid;
}

int
bp_free_port(void)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    if (fd < 0)
        return -1;
    struct sockaddr_in addr = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
    socklen_t len = sizeof addr;
    int port = -1;
    if (bind(fd, (struct sockaddr *) &addr, sizeof addr) == 0
        && getsockname(fd, (struct sockaddr *) &addr, &len) == 0)
        port = ntohs(addr.sin_port);
    close(fd);
    return port;
}

static void
s_atexit(void)
{
    for (size_t i = 0; i < BP_CHILDREN_MAX; i++)
        if (s_children[i] > 0)
            bp_stop(s_children[i], SIGTERM, 2000);
    if (bp_tempdir[0] && !bp_keep)
        bp_rmtree(bp_tempdir);
}

static void
s_on_signal(int sig)
{
    for (size_t i = 0; i < BP_CHILDREN_MAX; i++)
        if (s_children[i] > 0)
            kill(s_children[i], SIGKILL);
    ssize_t ignored = write(STDERR_FILENO, s_signal_msg, strlen(s_signal_msg));
    (void) ignored;
    _exit(sig == SIGALRM ? 124 : 128 + sig);
}

void
bp_setup(const char *program)
{
    s_program = program;
    snprintf(s_signal_msg, sizeof s_signal_msg, "%s: stopped by a signal; children killed\n", program);
    atexit(s_atexit);
    struct sigaction sa = { .sa_handler = s_on_signal };
    sigemptyset(&sa.sa_mask);
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
    sigaction(SIGALRM, &sa, NULL);
}
