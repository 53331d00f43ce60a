/*  fullscreen.c — the clerk's terminal: keys in, actions out, the screen
 *  redrawn.  See fullscreen.h.
 */
#include "counter/fullscreen.h"

#include <ctype.h>
#include <curses.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "counter/screen.h"
#include "counter/session.h"
#include "libfoleni/log.h"

/* After this many wake-ups with stdin readable but no key, stdin is gone. */
#define FULLSCREEN_DEAD_INPUT 100

typedef struct {
    ctr_session_t *session;
    ctr_menu_t menu;
    bool menu_open;
    bool quit_armed;                    /* Q pressed once while an action was in flight */
    bool quit;
} ui_t;

static const char *
s_key_help(void)
{
    return "N next, R recall, S start, D done, X no-show, T transfer, P pause/resume, C close, Q quit";
}

static void
s_menu_key(ui_t *ui, int ch)
{
    if (ch == 27 || ch == '0' || ch == KEY_BACKSPACE || ch == 127) {
        ui->menu_open = false;
        ctr_session_notify(ui->session, CTR_NOTICE_INFO, "Transfer cancelled");
        return;
    }
    const ctr_menu_item_t *item = ctr_menu_find(&ui->menu, ch);
    if (!item) {
        ctr_session_notify(ui->session, CTR_NOTICE_WARN, "Press the key of a destination, or Esc to cancel");
        return;
    }
    ctr_args_t extra = { .to_service = item->to_service[0] ? item->to_service : NULL, .to_counter = item->to_counter };
    ui->menu_open = false;
    ctr_session_act(ui->session, CTR_ACT_TRANSFER, &extra);
}

static void
s_key(ui_t *ui, int ch)
{
    if (ch == KEY_RESIZE || ch == ERR)
        return;
    if (ui->menu_open) {
        s_menu_key(ui, ch);
        return;
    }
    int upper = ch > 0 && ch < 0x80 ? toupper(ch) : 0;
    int64_t since;
    int in_flight = ctr_session_in_flight(ui->session, &since, NULL);
    if (upper == 'Q') {
        if (in_flight >= 0 && !ui->quit_armed) {
            ui->quit_armed = true;
            ctr_session_notify(ui->session, CTR_NOTICE_WARN, "%s is still on its way: press Q again to quit "
                               "without waiting for the answer", ctr_action_spec(in_flight)->label);
            return;
        }
        ui->quit = true;
        return;
    }
    ui->quit_armed = false;
    const ctr_view_t *v = ctr_session_view(ui->session);
    int action = ctr_action_by_key(ch);
    if (upper == 'P')
        action = !strcmp(v->state, "open") ? CTR_ACT_PAUSE : CTR_ACT_OPEN;
    if (action < 0) {
        if (upper >= 'A' && upper <= 'Z')
            ctr_session_notify(ui->session, CTR_NOTICE_INFO, "Key %c does nothing. Keys: %s", upper, s_key_help());
        return;
    }
    if (in_flight >= 0) {
        ctr_session_notify(ui->session, CTR_NOTICE_WARN, "Wait: %s is still on its way (%lld s); %c was not sent",
                           ctr_action_spec(in_flight)->label, (long long) (since / 1000), upper);
        return;
    }
    if (action == CTR_ACT_TRANSFER) {
        if (v->current.state == CTR_TICKET_NONE) {
            ctr_session_notify(ui->session, CTR_NOTICE_WARN, "No ticket in hand to transfer: press N to call one");
            return;
        }
        ctr_menu_build(&ui->menu, v);
        ui->menu_open = true;
        ctr_session_notify(ui->session, CTR_NOTICE_INFO, "Transfer %s: choose where to", v->current.ticket);
        return;
    }
    ctr_session_act(ui->session, (ctr_action_t) action, NULL);
}

static void
s_restore_stderr(int saved)
{
    if (saved >= 0) {
        dup2(saved, STDERR_FILENO);
        close(saved);
    }
}

static void
s_draw(ui_t *ui)
{
    char link[CTR_NOTICE_MAX];
    ctr_frame_t f = { .view = ctr_session_view(ui->session), .mono_ms = zclock_mono() };
    f.link = ctr_session_link(ui->session, link, sizeof link);
    f.link_text = link;
    f.notice = ctr_session_notice(ui->session, &f.notice_level);
    f.in_flight = ctr_session_in_flight(ui->session, &f.in_flight_ms, &f.attempts);
    f.menu = ui->menu_open ? &ui->menu : NULL;
    ctr_screen_draw(&f);
}

int
ctr_fullscreen_run(const ctr_options_t *opts, int quiet_fd)
{
    fl_error_t err;
    fl_security_t *security = fl_security_from_env(&err);
    if (!security) {
        fprintf(stderr, "foleni-counter: %s\n", err.message);
        return CTR_EXIT_USAGE;
    }
    ui_t ui = { .session = ctr_session_new(opts, security, &err) };
    if (!ui.session) {
        fprintf(stderr, "foleni-counter: %s\n", err.message);
        fl_security_destroy(&security);
        return CTR_EXIT_NO_ANSWER;
    }
    int saved_stderr = quiet_fd >= 0 ? dup(STDERR_FILENO) : -1;
    if (saved_stderr >= 0)
        dup2(quiet_fd, STDERR_FILENO);
    if (ctr_screen_open() != 0) {
        s_restore_stderr(saved_stderr);
        fprintf(stderr, "foleni-counter: this terminal cannot be used full-screen (TERM=%s)\n",
                getenv("TERM") ? getenv("TERM") : "");
        ctr_session_destroy(&ui.session);
        fl_security_destroy(&security);
        return CTR_EXIT_USAGE;
    }
    fl_log(FL_LOG_INFO, "counter screen started", FL_S("office", opts->office), FL_U("counter", opts->counter),
           FL_S("broker", opts->broker), NULL);
    int dead_input = 0;
    while (!ui.quit && !zsys_interrupted && dead_input < FULLSCREEN_DEAD_INPUT) {
        s_draw(&ui);
        zmq_pollitem_t items[CTR_SESSION_POLLITEMS + 1];
        int n = ctr_session_pollitems(ui.session, items);
        int stdin_item = n;
        items[n++] = (zmq_pollitem_t) { NULL, 0, ZMQ_POLLIN, 0 };
        int timeout = ctr_session_timeout_ms(ui.session);
        int tick = 1000 - (int) (zclock_mono() % 1000);    /* the clock on screen moves each second */
        if (timeout > tick)
            timeout = tick;
        if (zmq_poll(items, n, timeout) < 0 && errno != EINTR)
            break;
        int keys = 0, ch;
        while ((ch = getch()) != ERR) {
            s_key(&ui, ch);
            keys++;
        }
        dead_input = (items[stdin_item].revents & ZMQ_POLLIN) && !keys ? dead_input + 1 : 0;
        ctr_session_step(ui.session);
    }
    ctr_screen_close();
    s_restore_stderr(saved_stderr);
    fl_log(FL_LOG_INFO, "counter screen closed", FL_S("reason", ui.quit ? "quit" : "interrupted"), NULL);
    ctr_session_destroy(&ui.session);
    fl_security_destroy(&security);
    return CTR_EXIT_OK;
}
