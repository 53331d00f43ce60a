/*  testutil.c — the shared main() and helpers for the Check suites.  See testutil.h. */
#include "tests/testutil.h"

#include "libfoleni/msg.h"

#include <arpa/inet.h>
#include <ftw.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <fcntl.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

char *
tu_tempdir(void)
{
    static char paths[8][256];
    static int next;
    char *path = paths[next++ % 8];
    const char *tmp = getenv("TMPDIR");
    snprintf(path, 256, "%s/foleni-test-XXXXXX", tmp && *tmp ? tmp : "/tmp");
    ck_assert_ptr_nonnull(mkdtemp(path));
    return path;
}

static int
s_remove(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
    (void) st; (void) flag; (void) ftw;
    return remove(path);
}

void
tu_rmtree(const char *path)
{
    if (path)
        nftw(path, s_remove, 16, FTW_DEPTH | FTW_PHYS);
}

long
tu_unhex(const char *hex, uint8_t *out, size_t cap)
{
    size_t n = 0;
    int half = -1;
    for (const char *p = hex; *p; p++) {
        int v;
        if (*p == ' ' || *p == '\n' || *p == '\t')
            continue;
        if (*p >= '0' && *p <= '9') v = *p - '0';
        else if (*p >= 'a' && *p <= 'f') v = *p - 'a' + 10;
        else if (*p >= 'A' && *p <= 'F') v = *p - 'A' + 10;
        else return -1;
        if (half < 0)
            half = v;
        else {
            if (n >= cap)
                return -1;
            out[n++] = (uint8_t) (half << 4 | v);
            half = -1;
        }
    }
    return half < 0 ? (long) n : -1;
}

size_t
tu_read_file(const char *path, char *buf, size_t cap)
{
    FILE *f = fopen(path, "r");
    size_t n = f ? fread(buf, 1, cap - 1, f) : 0;
    buf[n] = '\0';
    if (f)
        fclose(f);
    return n;
}

void
tu_fill_disk(const char *dir, char *path, size_t cap)
{
    snprintf(path, cap, "%s/filler", dir);
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    ck_assert_int_ge(fd, 0);
    static const char zeros[65536];
    for (size_t chunk = sizeof zeros; chunk >= 512; chunk /= 2)      /* then the last smaller bits */
        while (write(fd, zeros, chunk) == (ssize_t) chunk)
            ;
    close(fd);
}

int
tu_free_port(void)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    ck_assert_int_ge(fd, 0);
    struct sockaddr_in addr = { .sin_family = AF_INET, .sin_port = 0 };
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    ck_assert_int_eq(bind(fd, (struct sockaddr *) &addr, sizeof addr), 0);
    socklen_t len = sizeof addr;
    ck_assert_int_eq(getsockname(fd, (struct sockaddr *) &addr, &len), 0);
    close(fd);
    return ntohs(addr.sin_port);
}

/* ---- building a full sample of any type, from the schema alone ---- */

static void
s_sample_text(const fl_field_spec_t *spec, char *out, size_t n)
{
    static const char *by_format[] = {
        [FL_FMT_TEXT] = "Wanjiku Kamau \xc3\xa9", [FL_FMT_ASCII] = "AbC-123_x/Y",
        [FL_FMT_CODE] = "NBI2ABCDEFGH", [FL_FMT_WORD] = "checked_in_state",
        [FL_FMT_DATE] = "2026-12-24",
    };
    const char *src = by_format[spec->format];
    size_t len = strlen(src);
    size_t want = spec->lo > 0 ? spec->lo : 1;
    if (spec->format != FL_FMT_DATE && len > want && want < spec->hi)
        want = len < spec->hi ? len : spec->hi;   /* longer than the minimum where allowed */
    if (spec->format == FL_FMT_TEXT && want < len)
        src = "Wanjiku";                          /* never cut a multi-byte character */
    ck_assert_uint_lt(want, n);
    for (size_t i = 0; i < want; i++)
        out[i] = src[i % strlen(src)];
    out[want] = '\0';
}

static void
s_fill(fl_msg_t *m, int depth)
{
    const fl_type_spec_t *t = fl_schema_type(fl_msg_type(m));
    for (int i = 0; i < t->nuses; i++) {
        fl_field_t f = t->uses[i].field;
        const fl_field_spec_t *spec = fl_schema_field(f);
        char text[256];
        uint8_t bytes[64];
        switch (spec->kind) {
        case FL_K_UINT:
            ck_assert_int_eq(fl_msg_set_uint(m, f, spec->lo + (spec->hi - spec->lo) / 3), 0);
            break;
        case FL_K_BOOL:
            ck_assert_int_eq(fl_msg_set_bool(m, f, true), 0);
            break;
        case FL_K_STR:
            s_sample_text(spec, text, sizeof text);
            ck_assert_msg(fl_msg_set_str(m, f, text) == 0, "set %s=%s", spec->name, text);
            break;
        case FL_K_BIN:
            for (size_t k = 0; k < sizeof bytes; k++)
                bytes[k] = (uint8_t) (k * 37 + 1);
            ck_assert_int_eq(fl_msg_set_bin(m, f, bytes, spec->lo ? spec->lo : 7), 0);
            break;
        case FL_K_STRS:      /* lo..hi count entries here, not bytes */
            ck_assert_int_eq(fl_msg_add_str(m, f, spec->format == FL_FMT_DATE ? "2026-12-24" : "PASSPORT"), 0);
            ck_assert_int_eq(fl_msg_add_str(m, f, spec->format == FL_FMT_DATE ? "2027-01-01" : "B2"), 0);
            break;
        case FL_K_LIST:
            ck_assert_int_lt(depth, 3);
            for (int k = 0; k < 2; k++) {
                fl_msg_t *item = fl_msg_add_item(m, f);
                ck_assert_ptr_nonnull(item);
                s_fill(item, depth + 1);
            }
            break;
        }
    }
}

void
tu_fill_msg(fl_msg_t *m)
{
    s_fill(m, 0);
}

const char *
tu_bin(const char *name)
{
    static char paths[8][512];
    static int next;
    const char *bin = getenv("FOLENI_BIN");
    ck_assert_msg(bin != NULL, "FOLENI_BIN must name the build's bin folder (tests/run-suites sets it)");
    char *path = paths[next++ % 8];
    snprintf(path, 512, "%s/%s", bin, name);
    return path;
}

int
tu_spawn(const char *log_path, const char *const argv[])
{
    pid_t pid = fork();
    ck_assert_int_ge(pid, 0);
    if (pid == 0) {
        int fd = open(log_path ? log_path : "/dev/null", O_WRONLY | O_CREAT | O_APPEND, 0644);
        if (fd >= 0) {
            dup2(fd, 1);
            dup2(fd, 2);
            close(fd);
        }
        execv(argv[0], (char *const *) argv);
        _exit(127);
    }
    return pid;
}

void
tu_free_ports(int *ports, int n)
{
    ck_assert_int_le(n, 8);
    for (int i = 0; i < n; i++) {
        bool again;
        do {                                /* the kernel may hand out a port just closed */
            ports[i] = tu_free_port();
            again = false;
            for (int j = 0; j < i; j++)
                again |= ports[j] == ports[i];
        } while (again);
    }
}

bool
tu_log_has(const char *path, const char *needle)
{
    FILE *f = fopen(path, "r");
    if (!f)
        return false;
    char line[2048];
    bool found = false;
    while (!found && fgets(line, sizeof line, f))
        found = strstr(line, needle) != NULL;
    fclose(f);
    return found;
}

bool
tu_bind_refused(const char *log_path, const char *const *endpoints, int n)
{
    for (int i = 0; i < n; i++) {
        char needle[300];
        snprintf(needle, sizeof needle, "cannot bind %s: Address already in use", endpoints[i]);
        if (tu_log_has(log_path, needle))
            return true;
    }
    return false;
}

bool
tu_wait_started(int pid, const char *log_path, const char *needle, int timeout_ms)
{
    for (int waited = 0; waited <= timeout_ms; waited += 10) {
        if (tu_log_has(log_path, needle))
            return true;
        int status;
        if (waitpid(pid, &status, WNOHANG) == pid)
            return false;
        usleep(10000);
    }
    ck_abort_msg("%s neither said \"%s\" nor ended within %d ms", log_path, needle, timeout_ms);
    return false;
}

int
tu_stop(int pid, int sig, int timeout_ms)
{
    int status;
    kill(pid, sig);
    for (int waited = 0; waited <= timeout_ms; waited += 10) {
        if (waitpid(pid, &status, WNOHANG) == pid)
            return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
        nanosleep(&(struct timespec) { 0, 10 * 1000 * 1000 }, NULL);
    }
    kill(pid, SIGKILL);
    waitpid(pid, &status, 0);
    return -1;
}

int
main(void)
{
    SRunner *runner = srunner_create(make_suite());
    srunner_run_all(runner, CK_NORMAL);
    int failed = srunner_ntests_failed(runner);
    srunner_free(runner);
    return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
