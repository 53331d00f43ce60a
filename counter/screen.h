/*  screen.h — drawing the clerk's screen with ncurses.
 *
 *  One function draws everything from a frame: the view (view.h) plus what
 *  the loop knows (link state, the message line, the action in flight, the
 *  transfer menu).  The layout, top to bottom:
 *
 *    header      counter number and name, office, clock
 *                the services it serves and its state (open, paused, closed)
 *    NOW         the ticket in hand and for how long it has been called or served
 *    QUEUES      per service: waiting, estimated wait, open counters (this
 *                counter's services first)
 *    LAST CALLS  the hall's latest calls, this counter's marked
 *    keys        N next  R recall  S start  D done  X no-show  T transfer ...
 *    message     what the last action did, or why it was refused
 *    status      the connection, and the action being retried
 *
 *  Only ASCII is drawn by the program itself, so the screen reads the same
 *  on any terminal and in `tmux capture-pane`.  Lines are cut at the
 *  window's width; sections shrink from the bottom on a small window.
 */
#ifndef FOLENI_COUNTER_SCREEN_H
#define FOLENI_COUNTER_SCREEN_H

#include <stdbool.h>
#include <stdint.h>

#include "counter/session.h"
#include "counter/view.h"

/* Most entries of the transfer menu: keys 1-9 then a-z. */
#define CTR_MENU_MAX   35
#define CTR_MENU_LABEL 96

/* One destination of a transfer. */
typedef struct {
    char     key;                       /* '1'..'9', 'a'..'z' */
    char     to_service[CTR_CODE_MAX + 1];      /* or "" */
    unsigned to_counter;                        /* or 0 */
    char     label[CTR_MENU_LABEL];
} ctr_menu_item_t;

typedef struct {
    ctr_menu_item_t items[CTR_MENU_MAX];
    int             n;
} ctr_menu_t;

/* Everything one drawing needs. */
typedef struct {
    const ctr_view_t *view;
    int64_t           mono_ms;          /* now, for durations */
    ctr_link_state_t  link;
    const char       *link_text;
    const char       *notice;
    ctr_notice_level_t notice_level;
    int               in_flight;        /* ctr_action_t, or -1 */
    int64_t           in_flight_ms;
    int               attempts;
    const ctr_menu_t *menu;             /* the transfer menu when open, else NULL */
} ctr_frame_t;

/*  Set up the terminal (curses mode, colours, keys without echo, no
 *  waiting in getch).  Returns 0, or FL_E_IO when the terminal cannot be
 *  used. */
int ctr_screen_open(void);

/*  Give the terminal back.  Safe to call twice. */
void ctr_screen_close(void);

/*  Draw a frame. */
void ctr_screen_draw(const ctr_frame_t *frame);

/*  Fill menu with the places a ticket can be transferred to: every service
 *  of the office, then every other counter. */
void ctr_menu_build(ctr_menu_t *menu, const ctr_view_t *view);

/*  The menu item for a key, or NULL. */
const ctr_menu_item_t *ctr_menu_find(const ctr_menu_t *menu, int key);

#endif
