/*  test_browser.c — the pages in a real browser, as a citizen and a kiosk use them.
 *
 *  Headless Chromium (Debian's chromium, through chromedriver) goes through the
 *  booking flow on a phone-sized window and through the kiosk on a touch
 *  screen, against real broker, scheduler and portal processes, and saves
 *  screenshots under build/screenshots/ for a person to look at.
 */
#include <signal.h>
#include <stdio.h>
#include <string.h>

#include "tests/stack.h"
#include "tests/testutil.h"
#include "tests/webdriver.h"

typedef struct {
    tu_stack_t st;
    int portal;
    char base[64];
} fx_t;

static void
fx_start(fx_t *fx, const char *clock)
{
    tu_stack_start(&fx->st, NULL, clock);           /* the demo office, NBIGPO */
    char port[16], log[600];
    int p = tu_free_port();
    snprintf(port, sizeof port, "%d", p);
    snprintf(fx->base, sizeof fx->base, "http://127.0.0.1:%d", p);
    snprintf(log, sizeof log, "%s/portal.log", fx->st.dir);
    const char *argv[] = { tu_bin("foleni-portal"), "-p", port, "-e", fx->st.endpoint, "-w", "portal/www", NULL };
    fx->portal = tu_spawn(log, argv);
}

static void
fx_stop(fx_t *fx)
{
    ck_assert_int_eq(tu_stop(fx->portal, SIGTERM, 5000), 0);
    tu_stack_stop(&fx->st);
}

START_TEST(test_a_citizen_books_on_a_phone)
{
    fx_t fx;
    fx_start(&fx, NULL);                            /* real time: the page and the scheduler agree on "today" */
    tu_web_t *web = tu_web_start(412, 900);
    char url[128];
    snprintf(url, sizeof url, "%s/index.html?lang=en", fx.base);
    tu_web_open(web, url);
    ck_assert_msg(tu_web_wait(web, "#service-list button[data-service=IDCARD]", 10000), "no services shown");
    tu_web_click(web, "#service-list button[data-service=IDCARD]");
    /* The page fetches a week of slots and selects its first day with a free place by
       itself.  #day exists before that fetch answers, so wait for the fetch to finish
       (options drawn, the list no longer busy), then for a free slot. */
    ck_assert_msg(tu_web_wait_true(web, "document.getElementById('day').options.length > 0 && "
                                        "!document.getElementById('slot-list').hasAttribute('aria-busy')", 30000),
                  "the days were never drawn");
    bool found = tu_web_wait(web, "#slot-list button[data-start]:not([disabled])", 10000);
    ck_assert_msg(found, "no day with a free slot");
    tu_web_screenshot(web, "build/screenshots/booking-slots.png");
    tu_web_click(web, "#slot-list button[data-start]:not([disabled])");
    ck_assert(tu_web_wait(web, "#name", 5000));
    tu_web_type(web, "#name", "Wanjiku Kamau");
    tu_web_type(web, "#id_number", "23456789");
    tu_web_type(web, "#phone", "0722 123 456");
    tu_web_screenshot(web, "build/screenshots/booking-details.png");
    tu_web_click(web, "#submit");
    ck_assert_msg(tu_web_wait(web, "#done", 10000), "no confirmation");
    char *ref = tu_web_text(web, "#ref");
    ck_assert_msg(strlen(ref) == 13 && ref[4] == '-' && ref[9] == '-', "reference shown: '%s'", ref);
    ck_assert(tu_web_wait(web, "#qr", 3000));
    char *qr_ok = tu_web_eval(web, "document.getElementById('qr').complete && document.getElementById('qr').naturalWidth > 0");
    ck_assert_str_eq(qr_ok, "true");
    tu_web_screenshot(web, "build/screenshots/booking-done.png");
    /* the booking exists: the API finds it with the ID number */
    fl_client_t *c = tu_stack_client(&fx.st, 2000, 2);
    char json[200];
    snprintf(json, sizeof json, "{\"type\":\"view\",\"ref\":\"%s\",\"id_number\":\"23456789\"}", ref);
    fl_msg_t *b = tu_stack_call(c, json);
    ck_assert_int_eq(fl_msg_type(b), FL_T_BOOKING);
    ck_assert_str_eq(fl_msg_str(b, FL_F_PHONE), "+254722123456");
    fl_msg_destroy(&b);
    fl_client_destroy(&c);
    /* and in Kiswahili the same page speaks Kiswahili */
    snprintf(url, sizeof url, "%s/index.html?lang=sw", fx.base);
    tu_web_open(web, url);
    ck_assert(tu_web_wait_true(web, "document.documentElement.lang === 'sw'", 10000));
    char *lang = tu_web_eval(web, "document.getElementById('submit').textContent");
    ck_assert_msg(strstr(lang, "Weka") != NULL, "the button is not in Kiswahili: %s", lang);
    tu_web_screenshot(web, "build/screenshots/booking-sw.png");
    free(lang);
    free(qr_ok);
    free(ref);
    tu_web_stop(&web);
    fx_stop(&fx);
}
END_TEST

START_TEST(test_the_kiosk_issues_a_ticket_and_checks_in)
{
    fx_t fx;
    fx_start(&fx, "2026-12-01T06:00:00Z");          /* Tuesday 09:00: the office is open */
    tu_web_t *web = tu_web_start(1080, 1920);
    char url[128];
    snprintf(url, sizeof url, "%s/kiosk.html?office=NBIGPO&lang=en", fx.base);
    tu_web_open(web, url);
    ck_assert_msg(tu_web_wait(web, ".service-button[data-service=PASSPORT]", 10000), "no service buttons");
    /* the page has loaded the queues into its buttons: it is done drawing them */
    ck_assert(tu_web_wait_true(web, "document.querySelector('.service-button[data-service=PASSPORT] .queue')"
                                    ".textContent.length > 0", 15000));
    tu_web_click(web, ".service-button[data-service=PASSPORT]");
    if (!tu_web_wait_text(web, "#ticket-number", "P-001", 15000)) {
        tu_web_screenshot(web, "build/screenshots/kiosk-failure.png");
        ck_abort_msg("no ticket shown (see build/screenshots/kiosk-failure.png)");
    }
    tu_web_screenshot(web, "build/screenshots/kiosk-ticket.png");
    /* a booking for 09:30 checks in at the kiosk by typing its reference */
    fl_client_t *c = tu_stack_client(&fx.st, 2000, 2);
    fl_msg_t *b = tu_stack_call(c, "{\"type\":\"book\",\"rid\":\"browser-0001\",\"office\":\"NBIGPO\",\"service\":\"IDCARD\","
                                   "\"start\":1796106600,\"name\":\"Juma Ali\",\"id_type\":\"national\","
                                   "\"id_number\":\"34567890\",\"phone\":\"+254711000111\"}");
    ck_assert_int_eq(fl_msg_type(b), FL_T_BOOKING);
    tu_web_open(web, url);
    ck_assert(tu_web_wait(web, "#checkin-ref", 10000));
    ck_assert(tu_web_wait_true(web, "document.querySelector('.service-button .queue').textContent.length > 0", 15000));
    tu_web_type(web, "#checkin-ref", fl_msg_str(b, FL_F_REF));
    tu_web_click(web, "#checkin-submit");
    ck_assert_msg(tu_web_wait_text(web, "#ticket-number", "I-001", 10000), "check-in gave no ticket");
    tu_web_screenshot(web, "build/screenshots/kiosk-checkin.png");
    fl_msg_destroy(&b);
    fl_client_destroy(&c);
    tu_web_stop(&web);
    fx_stop(&fx);
}
END_TEST

Suite *
make_suite(void)
{
    Suite *s = suite_create("browser");
    TCase *tc = tcase_create("chromium");
    tcase_set_timeout(tc, 120);
    tcase_add_test(tc, test_a_citizen_books_on_a_phone);
    tcase_add_test(tc, test_the_kiosk_issues_a_ticket_and_checks_in);
    suite_add_tcase(s, tc);
    return s;
}
