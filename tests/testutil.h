/*  testutil.h — small helpers shared by the Check suites in tests/.
 *
 *  Every suite file defines `Suite *make_suite(void)` and links testutil.c, whose
 *  main() runs it.  Check forks each test (CK_FORK), and LMDB environments and
 *  ZeroMQ contexts must not cross fork(): tests open them inside the test body.
 */
#ifndef FOLENI_TESTUTIL_H
#define FOLENI_TESTUTIL_H

#include <check.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Defined by each suite file. */
Suite *make_suite(void);

/*  Make a fresh empty directory under $TMPDIR (or /tmp) and return its path
 *  (static storage per call slot, so copy it if you need two).  Fails the test
 *  on error. */
char *tu_tempdir(void);

/*  Remove a directory tree made by tu_tempdir.  Safe on NULL. */
void tu_rmtree(const char *path);

/*  Decode a hex string ("dd ff ff" or "ddffff"; spaces ignored) into out.
 *  Returns the byte count, or -1 if the text is not hex or does not fit. */
long tu_unhex(const char *hex, uint8_t *out, size_t cap);

/*  A TCP port on 127.0.0.1 that was free a moment ago (bound, then released). */
int tu_free_port(void);

/*  Path of a program of this build: $FOLENI_BIN/name (tests/run-suites sets
 *  FOLENI_BIN).  Static storage per call slot (8 slots).  Fails the test when
 *  FOLENI_BIN is unset. */
const char *tu_bin(const char *name);

/*  Read up to cap - 1 bytes of the file at path into buf, NUL-terminated
 *  (empty when the file cannot be read).  Returns the bytes read. */
size_t tu_read_file(const char *path, char *buf, size_t cap);

/*  Fill the filesystem that holds dir, to the last byte, with a file of
 *  zeros named dir/filler (its path goes to path); remove it to make room. */
void tu_fill_disk(const char *dir, char *path, size_t cap);

/*  Start argv[0] with argv as a real process, its stdout and stderr appended
 *  to log_path (or /dev/null when NULL).  Returns the pid.  The child is
 *  exec'd at once, so no ZeroMQ context crosses the fork. */
int tu_spawn(const char *log_path, const char *const argv[]);

/*  Pick n (<= 8) distinct free loopback TCP ports.  A port picked free may be
 *  taken before the program meant for it binds it (another test's
 *  connection can get it as its own), so a caller checks that the program
 *  started: tu_wait_started. */
void tu_free_ports(int *ports, int n);

/*  Wait until log_path holds needle (returns true) or pid has ended (returns
 *  false; it is reaped).  Fails the test when neither happens within
 *  timeout_ms. */
bool tu_wait_started(int pid, const char *log_path, const char *needle, int timeout_ms);

/*  Whether the file at path holds a line containing needle. */
bool tu_log_has(const char *path, const char *needle);

/*  Whether a broker's log says one of its n endpoints was already in use
 *  (what a free port taken before the broker bound it looks like). */
bool tu_bind_refused(const char *log_path, const char *const *endpoints, int n);

/*  Send sig to pid and wait up to timeout_ms for it to end; SIGKILL it after
 *  that.  Returns its exit status (0..255), 128+signal when a signal ended
 *  it, or -1 when it had to be killed. */
int tu_stop(int pid, int sig, int timeout_ms);

/*  Set every field of m (and of two items in each list field) to a valid
 *  sample value derived from the schema alone.  Fails the test if the codec
 *  refuses any of them. */
struct fl_msg;
void tu_fill_msg(struct fl_msg *m);

#endif
