/*  screen.c — the clerk's screen, drawn with ncurses.  See screen.h.
 *
 *  Every frame is drawn whole into curses' buffer (erase, then each line);
 *  refresh() sends only what changed, so a frame a second costs a few bytes.
 */
#include "counter/screen.h"

#include <ctype.h>
#include <curses.h>
#include <locale.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

/* Longest line drawn; wider windows are padded, not filled further. */
#define SCREEN_LINE_MAX 512
/* Rows under the sections: separator, keys, message, status. */
#define SCREEN_FOOTER   4
/* Last calls always shown when there are any, even on a small window. */
#define SCREEN_MIN_RECENT 3

enum { PAIR_OK = 1, PAIR_WARN, PAIR_ERROR, PAIR_BAR, PAIR_BAR_BAD };

static bool s_open;

int
ctr_screen_open(void)
{
    setlocale(LC_ALL, "");
    if (!initscr())
        return FL_E_IO;
    s_open = true;
    cbreak();
    noecho();
    nonl();
    keypad(stdscr, TRUE);
    nodelay(stdscr, TRUE);
    set_escdelay(25);
    curs_set(0);
    if (has_colors()) {
        start_color();
        use_default_colors();
        init_pair(PAIR_OK, COLOR_GREEN, -1);
        init_pair(PAIR_WARN, COLOR_YELLOW, -1);
        init_pair(PAIR_ERROR, COLOR_RED, -1);
        init_pair(PAIR_BAR, COLOR_BLACK, COLOR_CYAN);
        init_pair(PAIR_BAR_BAD, COLOR_WHITE, COLOR_RED);
    }
    return 0;
}

void
ctr_screen_close(void)
{
    if (s_open)
        endwin();
    s_open = false;
}

static attr_t
s_color(int pair)
{
    return has_colors() ? COLOR_PAIR(pair) : 0;
}

/* Draw one line at row, cut to the window; pad (for bars) fills it with spaces. */
static void
s_line(int row, attr_t attr, bool pad, const char *fmt, ...)
{
    if (row < 0 || row >= LINES)
        return;
    char buf[SCREEN_LINE_MAX];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(buf, sizeof buf, fmt, ap);
    va_end(ap);
    int width = COLS < SCREEN_LINE_MAX - 1 ? COLS : SCREEN_LINE_MAX - 1;
    if (pad) {
        size_t n = strlen(buf);
        while ((int) n < width)
            buf[n++] = ' ';
        buf[n] = '\0';
    }
    attron(attr);
    mvaddnstr(row, 0, buf, width);
    attroff(attr);
}

/* Text at a column of a row, cut to the window. */
static void
s_at(int row, int col, attr_t attr, const char *text)
{
    if (row < 0 || row >= LINES || col >= COLS)
        return;
    attron(attr);
    mvaddnstr(row, col, text, COLS - col);
    attroff(attr);
}

static void
s_header(const ctr_frame_t *f, int *row)
{
    const ctr_view_t *v = f->view;
    char office[CTR_NAME_MAX + CTR_CODE_MAX + 8], clock[16] = "";
    if (v->office_name[0])
        snprintf(office, sizeof office, "%s (%s)", v->office_name, v->office);
    else
        snprintf(office, sizeof office, "%s", v->office);
    int64_t now = ctr_view_server_now(v, f->mono_ms);
    if (now)
        ctr_view_clock(v, now, clock, sizeof clock);
    s_line(*row, s_color(PAIR_BAR) | A_BOLD | (has_colors() ? 0 : A_REVERSE), true,
           " FOLENI COUNTER %u%s%s  |  %s", v->counter, v->counter_name[0] ? "  " : "", v->counter_name, office);
    if (clock[0] && COLS > (int) strlen(clock) + 2)
        s_at(*row, COLS - (int) strlen(clock) - 1, s_color(PAIR_BAR) | A_BOLD | (has_colors() ? 0 : A_REVERSE), clock);
    (*row)++;
    char serves[CTR_SENTENCE_MAX];
    ctr_view_serves_text(v, serves, sizeof serves);
    s_line(*row, 0, false, " Serves %s", serves[0] ? serves : "(not known yet)");
    const char *state = v->state[0] ? v->state : "state not known yet";
    int pair = !strcmp(state, "open") ? PAIR_OK : !strcmp(state, "paused") ? PAIR_WARN : PAIR_ERROR;
    char text[CTR_STATE_MAX + 32];
    snprintf(text, sizeof text, "   Counter %s", state);
    int col = 8 + (int) strlen(serves[0] ? serves : "(not known yet)");
    s_at(*row, col, s_color(pair) | A_BOLD, text);
    *row += 2;
}

static void
s_now(const ctr_frame_t *f, int *row)
{
    const ctr_view_t *v = f->view;
    const ctr_current_t *cur = &v->current;
    s_line((*row)++, A_BOLD, false, " NOW");
    if (cur->state == CTR_TICKET_NONE) {
        const char *hint = !strcmp(v->state, "open")     ? "No ticket in hand. Press N to call the next citizen."
                           : !strcmp(v->state, "paused") ? "Counter paused: press P to resume calling."
                           : !strcmp(v->state, "closed") ? "Counter closed: press P to open it."
                                                         : "Waiting for the scheduler...";
        s_line((*row)++, 0, false, "   %s", hint);
    } else {
        int64_t now = ctr_view_server_now(v, f->mono_ms);
        char since[16], at[16], when[80];
        const ctr_service_t *s = ctr_view_service(v, cur->service);
        if (cur->state == CTR_TICKET_SERVING) {
            ctr_view_duration(now - cur->started, since, sizeof since);
            ctr_view_clock(v, cur->called, at, sizeof at);
            snprintf(when, sizeof when, "serving for %s (called at %s)", since, at);
        } else {
            ctr_view_duration(now - cur->called, since, sizeof since);
            snprintf(when, sizeof when, "%s %s ago", cur->state == CTR_TICKET_CALLED ? "called" : "in hand, called",
                     since);
            if (cur->calls > 1) {
                size_t n = strlen(when);
                snprintf(when + n, sizeof when - n, " (call %u)", cur->calls);
            }
        }
        s_line(*row, 0, false, "   %-8s", "");
        s_at(*row, 3, A_BOLD | A_STANDOUT, cur->ticket);
        char rest[CTR_NAME_MAX + 96];
        snprintf(rest, sizeof rest, "  %s  -  %s", s && s->name[0] ? s->name : cur->service, when);
        s_at(*row, 3 + (int) strlen(cur->ticket), cur->state == CTR_TICKET_SERVING ? s_color(PAIR_OK) : 0, rest);
        (*row)++;
    }
    (*row)++;
}

static void
s_queue_row(const ctr_service_t *s, int row, attr_t attr)
{
    char wait[24];
    if (!s->has_queue)
        snprintf(wait, sizeof wait, "?");
    else if (s->waiting == 0)
        snprintf(wait, sizeof wait, "-");
    else
        snprintf(wait, sizeof wait, "~%u min", (s->wait_s + 59) / 60);
    s_line(row, attr, false, "   %-8s %7u  %9s  %4u  %s", s->code, s->waiting, wait, s->open_counters, s->name);
}

static void
s_queues(const ctr_frame_t *f, int *row, int last)
{
    const ctr_view_t *v = f->view;
    s_line((*row)++, A_BOLD, false, " QUEUE      WAITING  EST. WAIT  OPEN  SERVICE");
    for (int pass = 0; pass < 2; pass++)        /* this counter's services first */
        for (size_t i = 0; i < v->nservices && *row < last; i++) {
            const ctr_service_t *s = &v->services[i];
            if (s->mine == (pass == 0))
                s_queue_row(s, (*row)++, pass == 0 ? A_BOLD : A_DIM);
        }
    (*row)++;
}

static void
s_recent(const ctr_frame_t *f, int *row, int last)
{
    const ctr_view_t *v = f->view;
    s_line((*row)++, A_BOLD, false, " LAST CALLS");
    if (v->nrecent == 0 && *row < last)
        s_line((*row)++, A_DIM, false, "   none yet today");
    for (size_t i = 0; i < v->nrecent && *row < last; i++) {
        const ctr_call_t *c = &v->recent[i];
        char at[16];
        ctr_view_clock(v, c->at, at, sizeof at);
        bool mine = c->counter == v->counter;
        s_line((*row)++, mine ? A_BOLD : 0, false, "   %s  %-8s -> counter %-3u %s", at, c->ticket, c->counter,
               mine ? " <- this counter" : "");
    }
}

static void
s_menu(const ctr_frame_t *f, int *row, int last)
{
    const ctr_menu_t *m = f->menu;
    s_line((*row)++, A_BOLD, false, " TRANSFER %s TO:", f->view->current.ticket);
    int rows = last - *row - 2;
    if (rows < 1)
        rows = 1;
    int cols = (m->n + rows - 1) / rows;
    if (cols < 1)
        cols = 1;
    int width = COLS / cols;
    for (int i = 0; i < m->n; i++) {
        char text[CTR_MENU_LABEL + 8];
        snprintf(text, sizeof text, "  %c  %s", m->items[i].key, m->items[i].label);
        if (width > 0 && (int) strlen(text) > width - 1)
            text[width - 1 > 0 ? width - 1 : 0] = '\0';
        s_at(*row + i % rows, (i / rows) * width, 0, text);
    }
    *row += (m->n < rows ? m->n : rows) + 1;
    s_line((*row)++, A_DIM, false, "   Press the key of the destination; Esc or 0 cancels.");
}

static void
s_footer(const ctr_frame_t *f)
{
    const ctr_view_t *v = f->view;
    int row = LINES - SCREEN_FOOTER;
    mvhline(row++, 0, '-', COLS);
    const char *p = !strcmp(v->state, "open") ? "pause" : !strcmp(v->state, "paused") ? "resume" : "open";
    const char *keys[] = { "N next", "R recall", "S start", "D done", "X no-show", "T transfer", NULL, "C close",
                           "Q quit" };
    char pkey[16];
    snprintf(pkey, sizeof pkey, "P %s", p);
    keys[6] = pkey;
    char line[SCREEN_LINE_MAX] = " ";
    size_t n = sizeof keys / sizeof keys[0], wide = 0;
    for (size_t i = 0; i < n; i++)
        wide += strlen(keys[i]) + 2;
    const char *gap = (int) wide < COLS ? "  " : " ";
    for (size_t i = 0; i < n; i++) {
        size_t used = strlen(line);
        snprintf(line + used, sizeof line - used, "%s%s", i ? gap : "", keys[i]);
    }
    s_line(row++, A_BOLD, false, "%s", line);
    static const int notice_pair[] = { [CTR_NOTICE_INFO] = 0, [CTR_NOTICE_OK] = PAIR_OK,
                                       [CTR_NOTICE_WARN] = PAIR_WARN, [CTR_NOTICE_ERROR] = PAIR_ERROR };
    attr_t nattr = notice_pair[f->notice_level] ? s_color(notice_pair[f->notice_level]) | A_BOLD : 0;
    s_line(row++, nattr, false, " > %s", f->notice ? f->notice : "");
    bool bad = f->link == CTR_LINK_DOWN || f->link == CTR_LINK_REFUSED || f->link == CTR_LINK_NO_SCHEDULER;
    const char *mark = f->link == CTR_LINK_UP ? "OK" : bad ? "!!" : "..";
    char flight[160] = "";
    if (f->in_flight >= 0) {
        const char *label = ctr_action_spec((ctr_action_t) f->in_flight)->label;
        if (bad || f->attempts > 1)
            snprintf(flight, sizeof flight, "  |  retrying last action: %s, same request id (%lld s)", label,
                     (long long) (f->in_flight_ms / 1000));
        else
            snprintf(flight, sizeof flight, "  |  %s: on its way", label);
    }
    attr_t battr = bad ? s_color(PAIR_BAR_BAD) | A_BOLD : s_color(PAIR_BAR);
    if (!has_colors())
        battr |= A_REVERSE;
    s_line(row, battr, true, " [%s] %s%s", mark, f->link_text ? f->link_text : "", flight);
}

void
ctr_screen_draw(const ctr_frame_t *f)
{
    erase();
    int row = 0, last = LINES - SCREEN_FOOTER;
    s_header(f, &row);
    if (f->menu)
        s_menu(f, &row, last);
    else {
        s_now(f, &row);
        size_t recent = f->view->nrecent < SCREEN_MIN_RECENT ? f->view->nrecent : SCREEN_MIN_RECENT;
        s_queues(f, &row, last - 2 - (int) (recent ? recent : 1));
        s_recent(f, &row, last);
    }
    s_footer(f);
    refresh();
}

/* ---- the transfer menu ---- */

static char
s_menu_key(int i)
{
    return (char) (i < 9 ? '1' + i : 'a' + (i - 9));
}

void
ctr_menu_build(ctr_menu_t *menu, const ctr_view_t *view)
{
    memset(menu, 0, sizeof *menu);
    for (size_t i = 0; i < view->nservices && menu->n < CTR_MENU_MAX; i++) {
        const ctr_service_t *s = &view->services[i];
        if (!strcmp(s->code, view->current.service))
            continue;                   /* the queue it is in already */
        ctr_menu_item_t *it = &menu->items[menu->n];
        it->key = s_menu_key(menu->n);
        snprintf(it->to_service, sizeof it->to_service, "%s", s->code);
        snprintf(it->label, sizeof it->label, "service %-8s %s (%u waiting)", s->code, s->name, s->waiting);
        menu->n++;
    }
    for (size_t i = 0; i < view->ncounters && menu->n < CTR_MENU_MAX; i++) {
        const ctr_counter_t *c = &view->counters[i];
        ctr_menu_item_t *it = &menu->items[menu->n];
        it->key = s_menu_key(menu->n);
        it->to_counter = c->number;
        snprintf(it->label, sizeof it->label, "counter %-3u %s (%s), %s", c->number, c->name, c->serves, c->state);
        menu->n++;
    }
}

const ctr_menu_item_t *
ctr_menu_find(const ctr_menu_t *menu, int key)
{
    if (key <= 0 || key > 0x7f)
        return NULL;
    key = tolower(key);
    for (int i = 0; i < menu->n; i++)
        if (menu->items[i].key == key)
            return &menu->items[i];
    return NULL;
}
