/*  test_portal.c — the portal over real HTTP, in front of a real stack.
 *
 *  Starts broker, scheduler (fixed clock: Tuesday 2026-12-01 09:00 Nairobi)
 *  and foleni-portal as processes on free ports and talks to the portal with
 *  libcurl, as a browser or kiosk would: bookings, lookups, tickets, check-in,
 *  bad input, a stopped scheduler, rate limits.
 */
#include <curl/curl.h>
#include <jansson.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>

#include "libfoleni/ids.h"
#include "libfoleni/json.h"
#include "portal/internal.h"
#include "tests/stack.h"
#include "tests/testutil.h"

static const char *s_config =
    "{\"version\":1,\"offices\":[{\"code\":\"NBI\",\"name\":{\"en\":\"Nairobi\",\"sw\":\"Nairobi\"},"
    "\"hours\":{\"mon\":[\"08:00\",\"17:00\"],\"tue\":[\"08:00\",\"17:00\"],\"wed\":[\"08:00\",\"17:00\"],"
    "\"thu\":[\"08:00\",\"17:00\"],\"fri\":[\"08:00\",\"17:00\"]},"
    "\"services\":[{\"code\":\"PASSPORT\",\"prefix\":\"P\",\"name\":{\"en\":\"Passports\"},\"slot_minutes\":15,"
    "\"capacity\":2,\"service_minutes\":10}],"
    "\"counters\":[{\"number\":1,\"services\":[\"PASSPORT\"]}]}]}";

#define T0 1796104800                   /* 09:00 local */

typedef struct {
    tu_stack_t st;
    int pid;
    int port;
    char base[64];
} fx_t;

static const char *s_trust_proxy;      /* --trust-proxy for the next portal started */
static const char *s_forwarded_for;    /* X-Forwarded-For for the next requests */

static void
s_portal_start(fx_t *fx, const char *burst)
{
    char port[16], log[600];
    snprintf(log, sizeof log, "%s/portal.log", fx->st.dir);
    for (int attempt = 1;; attempt++) {
        fx->port = tu_free_port();
        snprintf(port, sizeof port, "%d", fx->port);
        snprintf(fx->base, sizeof fx->base, "http://127.0.0.1:%d", fx->port);
        const char *argv[] = { tu_bin("foleni-portal"), "-p", port, "-e", fx->st.endpoint, "-w", "portal/www",
                               "--rate-burst", burst, "--scheduler-timeout-ms", "1000",
                               "--log-level", "info",    /* the "portal serving" line we wait for */
                               s_trust_proxy ? "--trust-proxy" : NULL, s_trust_proxy, NULL };
        fx->pid = tu_spawn(log, argv);
        char serving[80], refused[80];
        snprintf(serving, sizeof serving, "msg=\"portal serving\" port=%d ", fx->port);
        if (tu_wait_started(fx->pid, log, serving, 10000))
            return;
        fx->pid = 0;
        /* the port picked free was taken before the portal could bind it */
        snprintf(refused, sizeof refused, "cannot listen on 127.0.0.1:%d: ", fx->port);
        ck_assert_msg(tu_log_has(log, refused), "the portal ended at start (log: %s)", log);
        ck_assert_msg(attempt < 5, "the portal could not bind a free port in 5 attempts (log: %s)", log);
    }
}

/* One HTTP exchange; returns the status and fills body (caller frees). */
static long
s_http(fx_t *fx, const char *method, const char *path, const char *body, char **out, char *retry_after)
{
    CURL *c = curl_easy_init();
    char url[512];
    snprintf(url, sizeof url, "%s%s", fx->base, path);
    char *buf = NULL;
    size_t len = 0;
    FILE *mem = open_memstream(&buf, &len);
    char headers[2048] = "";
    FILE *hmem = fmemopen(headers, sizeof headers - 1, "w");
    curl_easy_setopt(c, CURLOPT_URL, url);
    curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, method);
    curl_easy_setopt(c, CURLOPT_WRITEDATA, mem);
    curl_easy_setopt(c, CURLOPT_HEADERDATA, hmem);
    curl_easy_setopt(c, CURLOPT_TIMEOUT, 20L);
    struct curl_slist *h = curl_slist_append(NULL, "Content-Type: application/json");
    char xff[256];
    if (s_forwarded_for) {
        snprintf(xff, sizeof xff, "X-Forwarded-For: %s", s_forwarded_for);
        h = curl_slist_append(h, xff);
    }
    curl_easy_setopt(c, CURLOPT_HTTPHEADER, h);
    if (body) {
        curl_easy_setopt(c, CURLOPT_POSTFIELDS, body);
        curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE, (long) strlen(body));
    }
    long status = 0;
    CURLcode rc = curl_easy_perform(c);
    if (rc == CURLE_OK)
        curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &status);
    fclose(mem);
    fclose(hmem);
    curl_slist_free_all(h);
    curl_easy_cleanup(c);
    if (retry_after) {
        char *ra = strcasestr(headers, "Retry-After: ");
        snprintf(retry_after, 16, "%s", ra ? ra + 13 : "");
        retry_after[strcspn(retry_after, "\r\n")] = '\0';
    }
    if (out)
        *out = buf;
    else
        free(buf);
    return status;
}

/* Wait until the portal answers anything. */
static void
s_wait_portal(fx_t *fx)
{
    for (int i = 0; i < 200; i++) {
        if (s_http(fx, "GET", "/healthz", NULL, NULL, NULL) > 0)
            return;
        zclock_sleep(20);
    }
    ck_abort_msg("the portal never answered");
}

static void
fx_start(fx_t *fx, const char *burst)
{
    curl_global_init(CURL_GLOBAL_DEFAULT);
    tu_stack_start(&fx->st, s_config, "1796104800");
    s_portal_start(fx, burst);
    s_wait_portal(fx);
}

static void
fx_stop(fx_t *fx)
{
    ck_assert_int_eq(tu_stop(fx->pid, SIGTERM, 5000), 0);
    tu_stack_stop(&fx->st);
}

static json_t *
s_json(const char *text)
{
    json_t *j = json_loads(text ? text : "", 0, NULL);
    ck_assert_msg(j != NULL, "not JSON: %s", text ? text : "(null)");
    return j;
}

static const char *
s_str(json_t *j, const char *path1, const char *path2)
{
    json_t *v = json_object_get(j, path1);
    if (path2)
        v = json_object_get(v, path2);
    return json_is_string(v) ? json_string_value(v) : "";
}

static char *
s_book_body(long long start, const char *id)
{
    char *b = malloc(512);
    snprintf(b, 512, "{\"office\":\"NBI\",\"service\":\"PASSPORT\",\"start\":%lld,\"name\":\"Achieng Otieno\","
             "\"id_type\":\"national\",\"id_number\":\"%s\",\"phone\":\"0712 345 678\"}", start, id);
    return b;
}

static long
s_book(fx_t *fx, long long start, const char *id, json_t **reply)
{
    char *body = s_book_body(start, id), *out = NULL;
    long status = s_http(fx, "POST", "/api/bookings", body, &out, NULL);
    *reply = s_json(out);
    free(body);
    free(out);
    return status;
}

static long
s_free(fx_t *fx, long long start)
{
    char *out = NULL;
    ck_assert_int_eq(s_http(fx, "GET", "/api/offices/NBI/services/PASSPORT/slots?from=2026-12-01&days=1", NULL,
                            &out, NULL), 200);
    json_t *j = s_json(out);
    free(out);
    long free_places = -1;
    size_t i;
    json_t *slot;
    json_array_foreach(json_object_get(j, "slots"), i, slot)
        if (json_integer_value(json_object_get(slot, "start")) == start)
            free_places = (long) json_integer_value(json_object_get(slot, "free"));
    json_decref(j);
    return free_places;
}

START_TEST(test_a_full_booking_view_and_qr)
{
    fx_t fx = { 0 };
    fx_start(&fx, "1000");
    json_t *b;
    ck_assert_int_eq(s_book(&fx, T0 + 3600, "22223333", &b), 201);
    ck_assert_str_eq(s_str(b, "state", NULL), "confirmed");
    ck_assert_str_eq(s_str(b, "phone", NULL), "+254712345678");        /* normalised */
    char ref[32], path[128], body[128];
    snprintf(ref, sizeof ref, "%s", s_str(b, "ref_display", NULL));
    ck_assert_uint_eq(strlen(ref), 13);
    snprintf(path, sizeof path, "/api/bookings/%s/view", ref);
    snprintf(body, sizeof body, "{\"id_number\":\"22223333\"}");
    char *out = NULL;
    ck_assert_int_eq(s_http(&fx, "POST", path, body, &out, NULL), 200);
    json_t *v = s_json(out);
    ck_assert_str_eq(s_str(v, "ref", NULL), s_str(b, "ref", NULL));
    free(out);
    json_decref(v);
    snprintf(body, sizeof body, "{\"id_number\":\"99998888\"}");          /* someone else's ID */
    ck_assert_int_eq(s_http(&fx, "POST", path, body, NULL, NULL), 404);
    snprintf(path, sizeof path, "/api/qr/%s.svg", ref);
    ck_assert_int_eq(s_http(&fx, "GET", path, NULL, &out, NULL), 200);
    ck_assert_ptr_nonnull(strstr(out, "<svg"));
    free(out);
    json_decref(b);
    fx_stop(&fx);
}
END_TEST

START_TEST(test_same_id_refused_full_slot_409_and_cancel_frees)
{
    fx_t fx = { 0 };
    fx_start(&fx, "1000");
    long long ten = T0 + 3600;
    json_t *a, *b, *c, *again;
    ck_assert_int_eq(s_book(&fx, ten, "30000001", &a), 201);
    ck_assert_int_eq(s_book(&fx, ten + 900, "30000001", &again), 409);     /* the same person */
    ck_assert_str_eq(s_str(again, "error", "code"), "conflict");
    ck_assert_int_eq(s_book(&fx, ten, "30000002", &b), 201);
    ck_assert_int_eq(s_free(&fx, ten), 0);
    ck_assert_int_eq(s_book(&fx, ten, "30000003", &c), 409);               /* capacity 2 */
    ck_assert_str_eq(s_str(c, "error", "code"), "full");
    ck_assert(strlen(s_str(c, "error", "message")) > 5);
    char path[128];
    snprintf(path, sizeof path, "/api/bookings/%s/cancel", s_str(a, "ref", NULL));
    ck_assert_int_eq(s_http(&fx, "POST", path, "{\"id_number\":\"30000001\"}", NULL, NULL), 200);
    ck_assert_int_eq(s_free(&fx, ten), 1);
    json_decref(c);
    ck_assert_int_eq(s_book(&fx, ten, "30000003", &c), 201);
    json_decref(a);
    json_decref(b);
    json_decref(c);
    json_decref(again);
    fx_stop(&fx);
}
END_TEST

START_TEST(test_kiosk_numbers_tickets_and_checks_in)
{
    fx_t fx = { 0 };
    fx_start(&fx, "1000");
    char *out = NULL;
    for (int i = 1; i <= 2; i++) {
        ck_assert_int_eq(s_http(&fx, "POST", "/api/offices/NBI/tickets", "{\"service\":\"PASSPORT\"}", &out, NULL), 201);
        json_t *t = s_json(out);
        char want[8];
        snprintf(want, sizeof want, "P-%03d", i);
        ck_assert_str_eq(s_str(t, "ticket", NULL), want);
        json_decref(t);
        free(out);
    }
    json_t *b;
    ck_assert_int_eq(s_book(&fx, T0 + 1800, "40000001", &b), 201);        /* 09:30, check-in open */
    char body[128];
    snprintf(body, sizeof body, "{\"ref\":\"%s\"}", s_str(b, "ref_display", NULL));
    ck_assert_int_eq(s_http(&fx, "POST", "/api/offices/NBI/checkin", body, &out, NULL), 201);
    json_t *t = s_json(out);
    ck_assert_str_eq(s_str(t, "ticket", NULL), "P-003");
    ck_assert_str_eq(s_str(t, "kind", NULL), "appointment");
    json_decref(t);
    free(out);
    ck_assert_int_eq(s_http(&fx, "POST", "/api/offices/NBI/checkin", body, &out, NULL), 409);   /* once */
    free(out);
    ck_assert_int_eq(s_http(&fx, "GET", "/api/offices/NBI/status", NULL, &out, NULL), 200);
    json_t *s = s_json(out);
    ck_assert_int_eq(json_integer_value(json_object_get(json_array_get(json_object_get(s, "services"), 0), "waiting")), 3);
    json_decref(s);
    free(out);
    json_decref(b);
    fx_stop(&fx);
}
END_TEST

static size_t
s_entries(fx_t *fx)
{
    char cmd[1200];
    snprintf(cmd, sizeof cmd, "%s --data %s stat", tu_bin("foleni-store"), fx->st.data);
    FILE *p = popen(cmd, "r");
    char line[256];
    size_t total = 0;
    while (p && fgets(line, sizeof line, p))
        if (!strncmp(line, "entries.", 8))
            total += strtoul(strchr(line, ' ') + 1, NULL, 10);
    pclose(p);
    return total;
}

static const struct { const char *why, *method, *path, *body; long status; const char *code; } s_bad[] = {
    { "not JSON", "POST", "/api/bookings", "{\"office\":", 400, "invalid" },
    { "an array", "POST", "/api/bookings", "[1,2]", 400, "type" },
    { "start as text", "POST", "/api/bookings", "{\"office\":\"NBI\",\"service\":\"PASSPORT\",\"start\":\"10:00\",\"name\":\"A B\",\"id_type\":\"national\",\"id_number\":\"1234567\",\"phone\":\"0712345678\"}", 400, "type" },
    { "a bad phone", "POST", "/api/bookings", "{\"office\":\"NBI\",\"service\":\"PASSPORT\",\"start\":1796108400,\"name\":\"A B\",\"id_type\":\"national\",\"id_number\":\"1234567\",\"phone\":\"+44 20 7946 0958\"}", 400, "invalid" },
    { "a bad ID number", "POST", "/api/bookings", "{\"office\":\"NBI\",\"service\":\"PASSPORT\",\"start\":1796108400,\"name\":\"A B\",\"id_type\":\"national\",\"id_number\":\"12-AB\",\"phone\":\"0712345678\"}", 400, "invalid" },
    { "a name of digits", "POST", "/api/bookings", "{\"office\":\"NBI\",\"service\":\"PASSPORT\",\"start\":1796108400,\"name\":\"12345\",\"id_type\":\"national\",\"id_number\":\"1234567\",\"phone\":\"0712345678\"}", 400, "invalid" },
    { "an unknown field", "POST", "/api/bookings", "{\"office\":\"NBI\",\"service\":\"PASSPORT\",\"start\":1796108400,\"name\":\"A B\",\"id_type\":\"national\",\"id_number\":\"1234567\",\"phone\":\"0712345678\",\"admin\":true}", 400, "unknown" },
    { "a missing field", "POST", "/api/bookings", "{\"office\":\"NBI\",\"service\":\"PASSPORT\",\"start\":1796108400}", 400, "missing" },
    { "an unknown office", "POST", "/api/offices/MSA/tickets", "{\"service\":\"PASSPORT\"}", 404, "not_found" },
    { "a bad priority", "POST", "/api/offices/NBI/tickets", "{\"service\":\"PASSPORT\",\"priority\":\"vip\"}", 400, "invalid" },
    { "a mistyped reference", "POST", "/api/bookings/ABCD-EFGH-JKL/view", "{\"id_number\":\"1234567\"}", 400, "invalid" },
    { "no such endpoint", "GET", "/api/nothing", NULL, 404, "not_found" },
    { "days out of range", "GET", "/api/offices/NBI/services/PASSPORT/slots?from=2026-12-01&days=90", NULL, 400, "range" },
};

START_TEST(test_bad_input_gets_4xx_with_a_message_and_changes_nothing)
{
    fx_t fx = { 0 };
    fx_start(&fx, "1000");
    size_t before = s_entries(&fx);
    for (size_t i = 0; i < sizeof s_bad / sizeof s_bad[0]; i++) {
        char *out = NULL;
        long status = s_http(&fx, s_bad[i].method, s_bad[i].path, s_bad[i].body, &out, NULL);
        ck_assert_msg(status == s_bad[i].status, "%s: status %ld: %s", s_bad[i].why, status, out);
        json_t *j = s_json(out);
        ck_assert_msg(!strcmp(s_str(j, "error", "code"), s_bad[i].code), "%s: code %s", s_bad[i].why,
                      s_str(j, "error", "code"));
        ck_assert_msg(strlen(s_str(j, "error", "message")) > 5, "%s: no message", s_bad[i].why);
        json_decref(j);
        free(out);
    }
    /* a body over 4 KiB */
    char *big = malloc(6000);
    memset(big, 'a', 5999);
    big[0] = '"';
    big[5998] = '"';
    big[5999] = '\0';
    char *out = NULL;
    ck_assert_int_eq(s_http(&fx, "POST", "/api/bookings", big, &out, NULL), 413);
    free(out);
    free(big);
    ck_assert_uint_eq(s_entries(&fx), before);
    fx_stop(&fx);
}
END_TEST

START_TEST(test_scheduler_stopped_503_then_recovers)
{
    fx_t fx = { 0 };
    fx_start(&fx, "1000");
    ck_assert_int_eq(s_http(&fx, "GET", "/api/offices", NULL, NULL, NULL), 200);
    ck_assert_int_eq(tu_stop(fx.st.scheduler, SIGTERM, 5000), 0);
    fx.st.scheduler = 0;
    char retry[16], *out = NULL;
    ck_assert_int_eq(s_http(&fx, "GET", "/api/offices", NULL, &out, retry), 503);
    ck_assert_str_eq(retry, "5");
    json_t *j = s_json(out);
    ck_assert(strlen(s_str(j, "error", "message")) > 5);
    json_decref(j);
    free(out);
    tu_stack_start_scheduler(&fx.st);
    ck_assert_int_eq(s_http(&fx, "GET", "/api/offices", NULL, NULL, NULL), 200);
    fx_stop(&fx);
}
END_TEST

START_TEST(test_rate_limit_answers_429)
{
    fx_t fx = { 0 };
    fx_start(&fx, "3");
    char retry[16];
    long last = 0;
    for (int i = 0; i < 4; i++)
        last = s_http(&fx, "POST", "/api/offices/NBI/tickets", "{\"service\":\"PASSPORT\"}", NULL, retry);
    ck_assert_int_eq(last, 429);
    ck_assert(atoi(retry) >= 1);
    ck_assert_int_eq(s_http(&fx, "GET", "/api/offices", NULL, NULL, NULL), 200);   /* reading is not limited */
    /* X-Forwarded-For from a peer that is not a trusted proxy changes nothing */
    s_forwarded_for = "198.51.100.7";
    ck_assert_int_eq(s_http(&fx, "POST", "/api/offices/NBI/tickets", "{\"service\":\"PASSPORT\"}", NULL, NULL), 429);
    s_forwarded_for = NULL;
    fx_stop(&fx);
}
END_TEST

/* Behind a trusted proxy each citizen has a bucket of their own: the address
 * the proxy forwarded, read from the right, so what a client writes into the
 * header itself cannot move it to a fresh bucket. */
static long
s_ticket_from(fx_t *fx, const char *forwarded_for)
{
    s_forwarded_for = forwarded_for;
    long status = s_http(fx, "POST", "/api/offices/NBI/tickets", "{\"service\":\"PASSPORT\"}", NULL, NULL);
    s_forwarded_for = NULL;
    return status;
}

START_TEST(test_rate_limit_behind_a_trusted_proxy_is_per_forwarded_client)
{
    fx_t fx = { 0 };
    s_trust_proxy = "10.9.0.0/16,127.0.0.0/8,2001:db8:f::/48,fc00::/7";    /* ranges, as in a cluster */
    fx_start(&fx, "2");
    s_trust_proxy = NULL;
    ck_assert_int_eq(s_ticket_from(&fx, "203.0.113.5"), 201);
    ck_assert_int_eq(s_ticket_from(&fx, "203.0.113.5"), 201);
    ck_assert_int_eq(s_ticket_from(&fx, "203.0.113.5"), 429);
    ck_assert_int_eq(s_ticket_from(&fx, "198.51.100.7"), 201);                /* another citizen */
    ck_assert_int_eq(s_ticket_from(&fx, "198.51.100.99, 203.0.113.5"), 429);   /* a forged left part */
    ck_assert_int_eq(s_ticket_from(&fx, "203.0.113.5, 10.9.8.7"), 429);       /* through two proxies */
    ck_assert_int_eq(s_ticket_from(&fx, "203.0.113.5, 2001:db8:f:1::2, 10.9.255.1"), 429);  /* three */
    ck_assert_int_eq(s_ticket_from(&fx, "203.0.113.5, 10.10.0.1"), 201);    /* 10.10.0.1: outside, a client */
    ck_assert_int_eq(s_ticket_from(&fx, "2001:db8::1"), 201);
    /* no header, or one that does not parse: the proxy's own address counts */
    ck_assert_int_eq(s_ticket_from(&fx, NULL), 201);
    ck_assert_int_eq(s_ticket_from(&fx, "not-an-address"), 201);
    ck_assert_int_eq(s_ticket_from(&fx, "203.0.113.5 junk"), 429);       /* the proxy's bucket, now empty */
    /* a bad --trust-proxy stops the portal at start, saying why: a bad
     * address, a prefix too long, a range with bits set past its prefix (a
     * typo must not widen the trust), a prefix that is not a number, a
     * range wider than any private one (every client would be trusted) */
    static const char *bad[] = { "10.0.0.300", "10.0.0.0/33", "10.0.0.1/8", "2001:db8::/129", "10.0.0.0/",
                                 "10.0.0.0/8x", "10.0.0.0/-1", "127.0.0.1,,10.0.0.0/8", "0.0.0.0/0",
                                 "::/0", "8.0.0.0/7", "fc00::/6" };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        char log[600];
        snprintf(log, sizeof log, "%s/bad%zu.log", fx.st.dir, i);
        const char *argv[] = { tu_bin("foleni-portal"), "-p", "0", "-e", fx.st.endpoint, "-w", "portal/www",
                               "--trust-proxy", bad[i], NULL };
        int pid = tu_spawn(log, argv), status;
        ck_assert_int_eq(waitpid(pid, &status, 0), pid);
        ck_assert_msg(WIFEXITED(status) && WEXITSTATUS(status) == 1, "--trust-proxy %s was taken", bad[i]);
        char text[4096];
        tu_read_file(log, text, sizeof text);
        ck_assert_msg(strstr(text, "not a list of up to 16 IP addresses or ranges"), "%s", text);
    }
    fx_stop(&fx);
}
END_TEST

START_TEST(test_pages_health_metrics_and_security_headers)
{
    fx_t fx = { 0 };
    fx_start(&fx, "1000");
    CURL *c = curl_easy_init();
    char url[128], headers[4096] = "";
    snprintf(url, sizeof url, "%s/", fx.base);
    FILE *h = fmemopen(headers, sizeof headers - 1, "w");
    FILE *null = fopen("/dev/null", "w");
    curl_easy_setopt(c, CURLOPT_URL, url);
    curl_easy_setopt(c, CURLOPT_HEADERDATA, h);
    curl_easy_setopt(c, CURLOPT_WRITEDATA, null);
    ck_assert_int_eq(curl_easy_perform(c), CURLE_OK);
    long status;
    curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &status);
    fclose(h);
    fclose(null);
    curl_easy_cleanup(c);
    ck_assert_int_eq(status, 200);
    ck_assert_ptr_nonnull(strcasestr(headers, "Content-Security-Policy: default-src 'self'"));
    ck_assert_ptr_nonnull(strcasestr(headers, "frame-ancestors 'none'"));
    ck_assert_ptr_nonnull(strcasestr(headers, "X-Content-Type-Options: nosniff"));
    ck_assert_int_eq(s_http(&fx, "GET", "/no-such-page.html", NULL, NULL, NULL), 404);
    ck_assert_int_eq(s_http(&fx, "GET", "/../../etc/passwd", NULL, NULL, NULL), 404);
    char *out = NULL;
    for (int i = 0; i < 100 && s_http(&fx, "GET", "/healthz", NULL, NULL, NULL) != 200; i++)
        zclock_sleep(50);
    ck_assert_int_eq(s_http(&fx, "GET", "/healthz", NULL, NULL, NULL), 200);
    ck_assert_int_eq(s_http(&fx, "GET", "/metrics", NULL, &out, NULL), 200);
    ck_assert_ptr_nonnull(strstr(out, "foleni_portal_requests_total{route=\"page\",status=\"200\"}"));
    ck_assert_ptr_nonnull(strstr(out, "foleni_portal_request_seconds_bucket"));
    ck_assert_ptr_nonnull(strstr(out, "foleni_portal_in_flight"));
    free(out);
    fx_stop(&fx);
}
END_TEST

/* GET path with one extra header of n bytes; the status. */
static long
s_get_with_header(fx_t *fx, const char *path, size_t n)
{
    char *h = malloc(n + 16);
    memcpy(h, "X-Big: ", 7);
    memset(h + 7, 'a', n);
    h[7 + n] = '\0';
    CURL *c = curl_easy_init();
    char url[512];
    snprintf(url, sizeof url, "%s%s", fx->base, path);
    struct curl_slist *list = curl_slist_append(NULL, h);
    FILE *null = fopen("/dev/null", "w");
    curl_easy_setopt(c, CURLOPT_URL, url);
    curl_easy_setopt(c, CURLOPT_HTTPHEADER, list);
    curl_easy_setopt(c, CURLOPT_WRITEDATA, null);
    curl_easy_setopt(c, CURLOPT_TIMEOUT, 20L);
    long status = 0;
    if (curl_easy_perform(c) == CURLE_OK)
        curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &status);
    fclose(null);
    curl_slist_free_all(list);
    curl_easy_cleanup(c);
    free(h);
    return status;
}

START_TEST(test_headers_up_to_12_kib_pass_larger_get_431)
{
    fx_t fx = { 0 };
    fx_start(&fx, "1000");
    /* a page: 200 whatever the scheduler's health */
    ck_assert_int_eq(s_get_with_header(&fx, "/", 12 * 1024), 200);
    ck_assert_int_eq(s_get_with_header(&fx, "/", 20 * 1024), 431);
    ck_assert_int_eq(s_get_with_header(&fx, "/healthz", 20 * 1024), 431);
    ck_assert_int_eq(s_http(&fx, "GET", "/", NULL, NULL, NULL), 200);            /* and it still serves */
    fx_stop(&fx);
}
END_TEST

Suite *
make_suite(void)
{
    Suite *s = suite_create("portal");
    TCase *tc = tcase_create("http");
    tcase_set_timeout(tc, 90);
    tcase_add_test(tc, test_a_full_booking_view_and_qr);
    tcase_add_test(tc, test_same_id_refused_full_slot_409_and_cancel_frees);
    tcase_add_test(tc, test_kiosk_numbers_tickets_and_checks_in);
    tcase_add_test(tc, test_bad_input_gets_4xx_with_a_message_and_changes_nothing);
    tcase_add_test(tc, test_scheduler_stopped_503_then_recovers);
    tcase_add_test(tc, test_rate_limit_answers_429);
    tcase_add_test(tc, test_rate_limit_behind_a_trusted_proxy_is_per_forwarded_client);
    tcase_add_test(tc, test_pages_health_metrics_and_security_headers);
    tcase_add_test(tc, test_headers_up_to_12_kib_pass_larger_get_431);
    suite_add_tcase(s, tc);
    return s;
}
