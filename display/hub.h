/*  hub.h — server-sent events to many hall screens: one message log per office,
 *  one cursor per screen, idle streams suspended.
 *
 *  Each office has a ring of the last DISP_HUB_RING messages, each already
 *  written out as SSE text ("event: board\nid: 17\ndata: {...}\n\n").  A
 *  message is formatted once, however many screens read it.  A stream (one
 *  screen's GET /events) is an MHD response whose content comes from
 *  s_read: it starts at the office's latest `board` message (so a screen that
 *  connects sees the whole state at once), then follows the ring.
 *
 *  Idle streams cost nothing: when a stream has nothing to send, its reader
 *  suspends the connection (MHD_suspend_connection) and returns 0.
 *
 *  disp_hub_flush writes what was published straight to the idle streams'
 *  sockets: a suspended stream has had every byte MHD took from it written
 *  (MHD asks the reader for more only then), MHD neither reads nor writes a
 *  suspended connection nor closes its socket (libmicrohttpd 0.9.75 even
 *  takes it out of its epoll set), and the body is close-delimited (no
 *  chunked framing), so the hub may append the messages' bytes to the socket
 *  itself, without a copy and without waking MHD.  A non-blocking sendmsg() that takes everything
 *  leaves the stream suspended; one that takes part (or nothing: the screen
 *  is slow) records how far it got and resumes the connection, and MHD
 *  writes the rest through the reader when the socket is writable again (it
 *  treats a resumed connection as ready, so no poll edge is lost); one that
 *  fails resumes it too, and the reader ends the stream, so MHD closes it
 *  and frees the slot.  With many idle streams the writes are shared with a
 *  helper thread (fork-join: the flushing thread waits for it before
 *  returning, and neither touches MHD meanwhile; both take streams from one
 *  atomic counter, so a helper that wakes late just takes fewer), so a call
 *  reaches 200 screens on two cores sooner than one thread could
 *  (docs/benchmarks.md, "Display").
 *
 *  Suspended connections never time out in MHD and a dead peer goes
 *  unnoticed, so every keepalive_ms a stream with nothing to send gets an
 *  SSE comment (": keep-alive"), written the same way; the write to a screen
 *  that is gone fails and the connection is closed, freeing its slot (the
 *  sockets also get TCP_USER_TIMEOUT, see http.c, so a screen whose power
 *  was cut is dropped too).
 *
 *  A stream that falls more than the ring behind (a screen that cannot keep
 *  up) jumps to the latest board, dropping the calls in between; one caught
 *  in the middle of a message is closed instead, and the screen reconnects.
 *
 *  Caveats:
 *    - The hub's calls and MHD run in one thread (MHD in external polling
 *      mode, see http.c); the helper only writes during disp_hub_flush.
 *    - Resuming lets MHD free the stream during the next MHD_run, never
 *      during disp_hub_* calls themselves.
 *    - Before MHD_stop_daemon, call disp_hub_stop and run MHD until
 *      disp_hub_streams() is 0 (or a bound): every stream is resumed and ends.
 */
#ifndef FOLENI_DISPLAY_HUB_H
#define FOLENI_DISPLAY_HUB_H

#include <microhttpd.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define DISP_HUB_OFFICES_MAX 16         /* offices one display serves */
#define DISP_HUB_RING        256        /* messages kept per office */
#define DISP_HUB_MSG_MAX     (512 * 1024)   /* longest SSE message, bytes */
#define DISP_HUB_BLOCK       (16 * 1024)    /* MHD's read block per stream */
#define DISP_HUB_LATENCY_SAMPLES 8192   /* per-screen delivery times kept for quantiles */
#define DISP_HUB_SHARE_MIN   32         /* idle streams from which a publish shares the writes */

/* Counters for /metrics. */
typedef struct {
    uint64_t opened, closed;            /* streams */
    uint64_t messages;                  /* messages published */
    uint64_t bytes;                     /* bytes handed to MHD, all streams */
    uint64_t keepalives;                /* keep-alive comments written */
    uint64_t lagged;                    /* streams that jumped to the latest board */
    uint64_t dropped;                   /* streams closed for being too far behind */
    uint64_t direct;                    /* writes made straight to an idle stream's socket */
    uint64_t direct_short;              /* ... of which the socket took only part: MHD wrote the rest */
    uint64_t deliveries;                /* call messages written to a stream's socket */
    double   delivery_sum_s;            /* their total delay since the event arrived */
} disp_hub_stats_t;

typedef struct disp_hub disp_hub_t;

/*  A hub for noffices offices (1..DISP_HUB_OFFICES_MAX); keepalive_ms between
 *  comments on an idle stream; retry_ms is sent as the SSE `retry:` (how soon
 *  a browser reconnects); writers: threads that write a publish to the idle
 *  streams (1: the caller's only; 2: one helper thread, started here; 0:
 *  2 when the machine has more than one core).  NULL when out of memory or
 *  the helper cannot start. */
disp_hub_t *disp_hub_new(size_t noffices, int keepalive_ms, int retry_ms, int writers);

/*  Free the hub and its messages.  Every stream must have ended (see the
 *  caveats); sets *self_p to NULL.  Safe on NULL. */
void disp_hub_destroy(disp_hub_t **self_p);

/*  Add a message for every stream of an office: `event` is the SSE event name,
 *  `id` the SSE id (0: none), data one line of text (JSON, no newline).
 *  origin_us: monotonic microseconds when the cause arrived (0: not timed);
 *  is_board: a full board (where new streams start).  Busy streams get it
 *  from their reader; idle ones at the next disp_hub_flush.  0,
 *  FL_E_TOO_LONG (over DISP_HUB_MSG_MAX) or FL_E_NOMEM. */
int disp_hub_publish(disp_hub_t *self, size_t office, const char *event, uint64_t id, const char *data,
                     int64_t origin_us, bool is_board);

/*  Write what was published since the last flush to the office's idle
 *  streams, in one write each (sharing the writes with the helper thread
 *  when there are DISP_HUB_SHARE_MIN or more), and resume those whose socket
 *  did not take it all.  Call after each batch of publishes (a call and the
 *  board after it: one write per screen, not two). */
void disp_hub_flush(disp_hub_t *self, size_t office);

/*  Queue a response for a new stream of an office on connection.  Returns
 *  MHD's result; MHD_NO when out of memory or stopping. */
enum MHD_Result disp_hub_open(disp_hub_t *self, size_t office, struct MHD_Connection *connection);

/*  Write a keep-alive comment to idle streams whose keep-alive is due (or
 *  resume them when the socket does not take it).  Call at least every
 *  keepalive_ms / 2.  now_ms: monotonic milliseconds. */
void disp_hub_keepalive(disp_hub_t *self, int64_t now_ms);

/*  Milliseconds until disp_hub_keepalive has work (for a poll timeout). */
int disp_hub_next_ms(const disp_hub_t *self, int64_t now_ms);

/*  End every stream: readers return end-of-stream; suspended ones are resumed. */
void disp_hub_stop(disp_hub_t *self);

/*  Streams open now, and how many of them are suspended. */
size_t disp_hub_streams(const disp_hub_t *self);
size_t disp_hub_suspended(const disp_hub_t *self);
/*  Streams open on one office. */
size_t disp_hub_office_streams(const disp_hub_t *self, size_t office);

const disp_hub_stats_t *disp_hub_stats(const disp_hub_t *self);

/*  Quantile q (0..1) of recent per-screen delivery times of call messages,
 *  seconds: from the arrival of the event at the display until its last byte
 *  was handed to the screen's socket (the return of the direct write that
 *  finished it; when MHD wrote it, the moment MHD, having written the block
 *  that carried it, asks the stream for more).  0 when none yet. */
double disp_hub_delivery_quantile(const disp_hub_t *self, double q);

#endif
