/*  tty.c — drawing the board as text, with block letters for the newest call.
 *  See tty.h.
 */
#include "display/tty.h"

#include <assert.h>
#include <ctype.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include "libfoleni/localtime.h"

#define BIG_ROWS 5
#define BIG_COLS 5

struct disp_tty {
    int fd;
    bool terminal;
    char langs[DISP_TTY_LANGS_MAX][3];
    size_t nlangs;
    disp_call_t last;               /* latest announcement (a recall is said the same way) */
    bool have_last;
    fl_zone_t *zone;                /* the office's time zone, cached */
    char zone_name[DISP_TZ_MAX + 1];
    char *frame;
    size_t len;
};

/* ---- block letters ---- */

typedef struct {
    char ch;
    const char *rows[BIG_ROWS];
} glyph_t;

static const glyph_t s_glyphs[] = {
    { '0', { " ### ", "#   #", "#   #", "#   #", " ### " } }, { '1', { "  #  ", " ##  ", "  #  ", "  #  ", " ### " } },
    { '2', { " ### ", "#   #", "  ## ", " #   ", "#####" } }, { '3', { "#### ", "    #", " ### ", "    #", "#### " } },
    { '4', { "#   #", "#   #", "#####", "    #", "    #" } }, { '5', { "#####", "#    ", "#### ", "    #", "#### " } },
    { '6', { " ### ", "#    ", "#### ", "#   #", " ### " } }, { '7', { "#####", "    #", "   # ", "  #  ", "  #  " } },
    { '8', { " ### ", "#   #", " ### ", "#   #", " ### " } }, { '9', { " ### ", "#   #", " ####", "    #", " ### " } },
    { 'A', { " ### ", "#   #", "#####", "#   #", "#   #" } }, { 'B', { "#### ", "#   #", "#### ", "#   #", "#### " } },
    { 'C', { " ####", "#    ", "#    ", "#    ", " ####" } }, { 'D', { "#### ", "#   #", "#   #", "#   #", "#### " } },
    { 'E', { "#####", "#    ", "#### ", "#    ", "#####" } }, { 'F', { "#####", "#    ", "#### ", "#    ", "#    " } },
    { 'G', { " ####", "#    ", "#  ##", "#   #", " ####" } }, { 'H', { "#   #", "#   #", "#####", "#   #", "#   #" } },
    { 'I', { "#####", "  #  ", "  #  ", "  #  ", "#####" } }, { 'J', { "#####", "   # ", "   # ", "#  # ", " ##  " } },
    { 'K', { "#   #", "#  # ", "###  ", "#  # ", "#   #" } }, { 'L', { "#    ", "#    ", "#    ", "#    ", "#####" } },
    { 'M', { "#   #", "## ##", "# # #", "#   #", "#   #" } }, { 'N', { "#   #", "##  #", "# # #", "#  ##", "#   #" } },
    { 'O', { " ### ", "#   #", "#   #", "#   #", " ### " } }, { 'P', { "#### ", "#   #", "#### ", "#    ", "#    " } },
    { 'Q', { " ### ", "#   #", "# # #", "#  # ", " ## #" } }, { 'R', { "#### ", "#   #", "#### ", "#  # ", "#   #" } },
    { 'S', { " ####", "#    ", " ### ", "    #", "#### " } }, { 'T', { "#####", "  #  ", "  #  ", "  #  ", "  #  " } },
    { 'U', { "#   #", "#   #", "#   #", "#   #", " ### " } }, { 'V', { "#   #", "#   #", "#   #", " # # ", "  #  " } },
    { 'W', { "#   #", "#   #", "# # #", "## ##", "#   #" } }, { 'X', { "#   #", " # # ", "  #  ", " # # ", "#   #" } },
    { 'Y', { "#   #", " # # ", "  #  ", "  #  ", "  #  " } }, { 'Z', { "#####", "   # ", "  #  ", " #   ", "#####" } },
    { '-', { "     ", "     ", " ### ", "     ", "     " } }, { '>', { "  #  ", "   # ", "#####", "   # ", "  #  " } },
};

static const char *const *
s_glyph(char c)
{
    c = (char) toupper((unsigned char) c);
    for (size_t i = 0; i < sizeof s_glyphs / sizeof s_glyphs[0]; i++)
        if (s_glyphs[i].ch == c)
            return s_glyphs[i].rows;
    return NULL;
}

size_t
disp_tty_big(const char *text, char *out, size_t cap)
{
    assert(text && out);
    static const char block[] = "\xe2\x96\x88";        /* U+2588 FULL BLOCK */
    size_t n = 0;
    for (int row = 0; row < BIG_ROWS; row++) {
        for (const char *p = text; *p; p++) {
            const char *const *g = s_glyph(*p);
            for (int col = 0; col < BIG_COLS + 1; col++) {
                bool on = g && col < BIG_COLS && g[row][col] == '#';
                const char *cell = on ? block : " ";
                size_t len = on ? sizeof block - 1 : 1;
                if (n + len + 2 > cap)
                    return 0;
                memcpy(out + n, cell, len);
                n += len;
            }
        }
        out[n++] = '\n';
    }
    out[n] = '\0';
    return n;
}

/* ---- frames ---- */

disp_tty_t *
disp_tty_new(int fd, const char *langs)
{
    disp_tty_t *self = calloc(1, sizeof *self);
    if (!self)
        return NULL;
    self->frame = malloc(DISP_TTY_FRAME_MAX);
    if (!self->frame) {
        free(self);
        return NULL;
    }
    self->fd = fd;
    self->terminal = isatty(fd);
    const char *p = langs && *langs ? langs : "en,sw";
    while (*p && self->nlangs < DISP_TTY_LANGS_MAX) {
        if (!strncmp(p, "en", 2) || !strncmp(p, "sw", 2))
            snprintf(self->langs[self->nlangs++], 3, "%.2s", p);
        p = strchr(p, ',');
        if (!p)
            break;
        p++;
    }
    if (!self->nlangs)
        snprintf(self->langs[self->nlangs++], 3, "en");
    return self;
}

void
disp_tty_destroy(disp_tty_t **self_p)
{
    assert(self_p);
    disp_tty_t *self = *self_p;
    if (!self)
        return;
    fl_zone_destroy(&self->zone);
    free(self->frame);
    free(self);
    *self_p = NULL;
}

static void
s_put(disp_tty_t *self, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static void
s_put(disp_tty_t *self, const char *fmt, ...)
{
    if (self->len >= DISP_TTY_FRAME_MAX - 1)
        return;
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(self->frame + self->len, DISP_TTY_FRAME_MAX - self->len, fmt, ap);
    va_end(ap);
    if (n > 0)
        self->len += (size_t) n < DISP_TTY_FRAME_MAX - self->len ? (size_t) n : DISP_TTY_FRAME_MAX - 1 - self->len;
}

/* A label in the chosen languages: "Now serving · Sasa anahudumiwa". */
static void
s_label(disp_tty_t *self, const char *en, const char *sw)
{
    for (size_t i = 0; i < self->nlangs; i++)
        s_put(self, "%s%s", i ? " · " : "", !strcmp(self->langs[i], "sw") ? sw : en);
}

static const char *
s_service_name(const disp_names_t *names, const char *code, const char *lang)
{
    for (size_t i = 0; names && i < names->nservices; i++)
        if (!strcmp(names->services[i].service, code))
            return !strcmp(lang, "sw") && names->services[i].name_sw[0] ? names->services[i].name_sw
                                                                        : names->services[i].name;
    return code;
}

void
disp_tty_announce(disp_tty_t *self, const disp_call_t *call)
{
    assert(self && call);
    self->last = *call;
    self->have_last = true;
    if (self->terminal && write(self->fd, "\a", 1) < 0)
        return;
}

static void
s_clock(disp_tty_t *self, const disp_names_t *names, int64_t now_utc, char out[6])
{
    const char *tz = names && names->tz[0] ? names->tz : "Africa/Nairobi";
    if (!self->zone || strcmp(self->zone_name, tz) != 0) {
        fl_zone_destroy(&self->zone);
        self->zone = fl_zone_new(tz, NULL);
        snprintf(self->zone_name, sizeof self->zone_name, "%s", tz);
    }
    int64_t local = now_utc + (self->zone ? fl_zone_offset(self->zone, now_utc) : 0);
    int64_t minute = ((local % 86400) + 86400) % 86400 / 60;
    snprintf(out, 6, "%02d:%02d", (int) (minute / 60), (int) (minute % 60));
}

void
disp_tty_draw(disp_tty_t *self, const disp_board_t *b, const disp_names_t *names, const char *status, int64_t now_utc)
{
    assert(self && b && status);
    int cols = 80, rows = 24;
    struct winsize ws;
    if (self->terminal && ioctl(self->fd, TIOCGWINSZ, &ws) == 0 && ws.ws_col >= 20 && ws.ws_row >= 8) {
        cols = ws.ws_col;
        rows = ws.ws_row;
    }
    self->len = 0;
    s_put(self, self->terminal ? "\033[H\033[2J" : "%s\n", self->terminal ? "" : "========");
    char clock[6];
    s_clock(self, names, now_utc, clock);
    const char *office = names && names->name[0] ? names->name : b->office;
    s_put(self, "%s   %s%s%s\n\n", office, clock, strcmp(status, "live") ? "   " : "",
          strcmp(status, "live") ? status : "");
    s_label(self, "NOW SERVING", "SASA ANAHUDUMIWA");
    s_put(self, "\n");
    const disp_call_t *newest = NULL;
    for (size_t i = 0; i < b->nserving; i++)
        if (!strcmp(b->serving[i].ticket, b->newest))
            newest = &b->serving[i];
    if (!newest && b->nserving)
        newest = &b->serving[0];
    int used = 5;
    if (newest) {
        char text[DISP_TICKET_MAX + 16], big[4096];
        snprintf(text, sizeof text, "%s > %u", newest->ticket, newest->counter);
        if (strlen(text) * (BIG_COLS + 1) <= (size_t) cols && rows >= 16 && disp_tty_big(text, big, sizeof big)) {
            s_put(self, "\n%s\n", big);
            used += 7;
        } else {
            s_put(self, "  >>> %s  ->  %u <<<\n", newest->ticket, newest->counter);
            used += 1;
        }
        s_put(self, "  %s -> %u\n", newest->ticket, newest->counter);
        used++;
    } else {
        s_put(self, "  -\n");
        used++;
    }
    for (size_t i = 0; i < b->nserving && used < rows - 8; i++) {
        if (&b->serving[i] == newest)
            continue;
        s_put(self, "  %-8s -> %u\n", b->serving[i].ticket, b->serving[i].counter);
        used++;
    }
    s_put(self, "\n");
    s_label(self, "LAST CALLS", "WALIOITWA");
    s_put(self, ":");
    size_t shown = 0;                       /* earlier calls not on the screen already */
    for (size_t i = 0; i < b->nrecent && shown < 6; i++) {
        bool served = false;
        for (size_t k = 0; k < b->nserving && !served; k++)
            served = !strcmp(b->serving[k].ticket, b->recent[i].ticket);
        if (!served) {
            s_put(self, "  %s->%u", b->recent[i].ticket, b->recent[i].counter);
            shown++;
        }
    }
    s_put(self, "\n\n");
    s_label(self, "WAITING", "WANAOSUBIRI");
    s_put(self, "\n");
    for (size_t i = 0; i < b->nqueues && used < rows - 3; i++) {
        const disp_queue_t *q = &b->queues[i];
        if (q->waiting == 0 && q->open_counters == 0)
            continue;                       /* nobody waits, no counter serves: nothing to say */
        char name[2 * DISP_NAME_MAX + 8] = "";
        for (size_t l = 0; l < self->nlangs; l++) {
            size_t len = strlen(name);
            snprintf(name + len, sizeof name - len, "%s%s", l ? " / " : "", s_service_name(names, q->service, self->langs[l]));
        }
        if (q->waiting == 0)
            s_put(self, "  %-40.40s %5u\n", name, 0u);
        else if (q->open_counters == 0)
            s_put(self, "  %-40.40s %5u   (no counter open)\n", name, (unsigned) q->waiting);
        else
            s_put(self, "  %-40.40s %5u   ~%u min\n", name, (unsigned) q->waiting, (unsigned) ((q->wait_s + 59) / 60));
        used++;
    }
    if (self->have_last) {
        s_put(self, "\n");
        for (size_t l = 0; l < self->nlangs; l++) {
            char say[DISP_SAY_MAX];
            disp_say(self->last.ticket, self->last.counter, self->langs[l], say, sizeof say);
            s_put(self, "%s%s", l ? "  ·  " : "", say);
        }
        s_put(self, "\n");
    }
    size_t off = 0;
    while (off < self->len) {
        ssize_t n = write(self->fd, self->frame + off, self->len - off);
        if (n <= 0)
            return;
        off += (size_t) n;
    }
}
