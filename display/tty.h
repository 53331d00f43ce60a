/*  tty.h — the board on a plain text screen (foleni-display --tty).
 *
 *  For a hall with a monitor and no browser: the same board the page shows,
 *  drawn with text.  The newest call is drawn in 5-line block letters
 *  ("P-042 > 3") so it reads from across the hall; the other tickets being
 *  served, the last calls and the queues follow in plain text, then the spoken
 *  form of the latest announcement.  A call rings the terminal bell.
 *
 *  On a terminal each frame clears the screen (ANSI) and fits its width and
 *  height; written to a file or pipe, frames are plain text separated by a
 *  line of '=' (so the output can be read and tested).
 */
#ifndef FOLENI_DISPLAY_TTY_H
#define FOLENI_DISPLAY_TTY_H

#include <stdbool.h>
#include <stdint.h>

#include "display/board.h"

#define DISP_TTY_FRAME_MAX (64 * 1024)  /* bytes of one frame */
#define DISP_TTY_LANGS_MAX 2            /* languages shown side by side */

typedef struct disp_tty disp_tty_t;

/*  A renderer writing to fd (borrowed).  langs: "en", "sw", "en,sw" or
 *  "sw,en" (labels and announcements in that order; NULL: "en,sw").  NULL
 *  when out of memory. */
disp_tty_t *disp_tty_new(int fd, const char *langs);

/*  Free; sets *self_p to NULL.  Safe on NULL. */
void disp_tty_destroy(disp_tty_t **self_p);

/*  Remember a call (or recall: said the same way) to show as the latest
 *  announcement, and ring the bell. */
void disp_tty_announce(disp_tty_t *self, const disp_call_t *call);

/*  Draw the board (names may be NULL) with the office's local time for
 *  now_utc.  Writes one frame; a failed write is dropped. */
void disp_tty_draw(disp_tty_t *self, const disp_board_t *board, const disp_names_t *names, const char *status,
                   int64_t now_utc);

/*  Render the block letters of text (digits, A-Z, '-', '>' and ' '; other
 *  characters as blanks) into out as 5 lines, each ending in '\n'.  Returns
 *  the bytes written (0 when it does not fit in cap). */
size_t disp_tty_big(const char *text, char *out, size_t cap);

#endif
