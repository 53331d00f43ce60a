/*  webdriver.c — driving headless Chromium over WebDriver.  See webdriver.h. */
#include "tests/webdriver.h"

#include <curl/curl.h>
#include <czmq.h>
#include <jansson.h>
#include <signal.h>
#include <sodium.h>
#include <stdio.h>
#include <string.h>

#include "tests/testutil.h"

#define ELEMENT_KEY "element-6066-11e4-a52e-4f735466cecf"  /* W3C WebDriver element reference */

struct tu_web {
    int driver;                     /* chromedriver pid */
    char base[64];                  /* http://127.0.0.1:PORT */
    char session[128];
    char *profile;
};

/* Every wait in the suites waits for something that must happen, so a wait that
   succeeds returns at once and its timeout only bounds a failure.  The bound is
   therefore generous and counted on the clock, not in loop turns (each turn is a
   round trip to chromedriver): a fresh machine's first Chromium start, or a busy
   CI machine, can be several times slower than a developer's. */
#define TU_WEB_MIN_WAIT_MS 20000

static int64_t
s_deadline(int timeout_ms)
{
    return zclock_mono() + (timeout_ms > TU_WEB_MIN_WAIT_MS ? timeout_ms : TU_WEB_MIN_WAIT_MS);
}

/* One WebDriver command; returns the parsed "value" (owned) or NULL. */
static json_t *
s_command(tu_web_t *self, const char *method, const char *path, json_t *body, long *status_out)
{
    CURL *c = curl_easy_init();
    char url[512];
    snprintf(url, sizeof url, "%s%s", self->base, path);
    char *buf = NULL;
    size_t len = 0;
    FILE *mem = open_memstream(&buf, &len);
    char *text = body ? json_dumps(body, JSON_COMPACT) : NULL;
    struct curl_slist *h = curl_slist_append(NULL, "Content-Type: application/json");
    curl_easy_setopt(c, CURLOPT_URL, url);
    curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, method);
    curl_easy_setopt(c, CURLOPT_HTTPHEADER, h);
    curl_easy_setopt(c, CURLOPT_WRITEDATA, mem);
    curl_easy_setopt(c, CURLOPT_TIMEOUT, 60L);
    if (text || !strcmp(method, "POST")) {
        curl_easy_setopt(c, CURLOPT_POSTFIELDS, text ? text : "{}");
        curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE, (long) strlen(text ? text : "{}"));
    }
    long status = 0;
    if (curl_easy_perform(c) == CURLE_OK)
        curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &status);
    fclose(mem);
    curl_slist_free_all(h);
    curl_easy_cleanup(c);
    free(text);
    json_decref(body);
    if (status_out)
        *status_out = status;
    json_t *j = buf ? json_loads(buf, 0, NULL) : NULL;
    free(buf);
    json_t *value = j ? json_incref(json_object_get(j, "value")) : NULL;
    json_decref(j);
    return value;
}

tu_web_t *
tu_web_start(int width, int height)
{
    curl_global_init(CURL_GLOBAL_DEFAULT);
    tu_web_t *self = calloc(1, sizeof *self);
    int port = tu_free_port();
    char port_arg[32];
    snprintf(port_arg, sizeof port_arg, "--port=%d", port);
    snprintf(self->base, sizeof self->base, "http://127.0.0.1:%d", port);
    const char *argv[] = { "/usr/bin/chromedriver", port_arg, NULL };
    self->driver = tu_spawn(NULL, argv);
    bool ready = false;
    int64_t deadline = s_deadline(0);
    while (!ready && zclock_mono() < deadline) {
        long status;
        json_t *v = s_command(self, "GET", "/status", NULL, &status);
        ready = v && json_is_true(json_object_get(v, "ready"));
        json_decref(v);
        if (!ready)
            zclock_sleep(25);
    }
    ck_assert_msg(ready, "chromedriver did not start (is chromium-driver installed?)");
    self->profile = strdup(tu_tempdir());
    char profile_arg[300], size_arg[64];
    snprintf(profile_arg, sizeof profile_arg, "--user-data-dir=%s", self->profile);
    snprintf(size_arg, sizeof size_arg, "--window-size=%d,%d", width, height);
    json_t *caps = json_pack(
        "{s:{s:{s:s, s:{s:s, s:[s,s,s,s,s,s,s,s,s,s,s,s]}}}}", "capabilities", "alwaysMatch", "browserName", "chrome",
        "goog:chromeOptions", "binary", "/usr/bin/chromium", "args", "--headless=new", "--no-sandbox", "--disable-gpu",
        "--disable-dev-shm-usage", "--no-first-run", "--disable-background-networking", "--disable-component-update",
        "--disable-sync", "--disable-quic", "--hide-scrollbars", profile_arg, size_arg);
    json_t *v = s_command(self, "POST", "/session", caps, NULL);
    const char *id = json_string_value(json_object_get(v, "sessionId"));
    ck_assert_msg(id != NULL, "chromium did not start a session");
    snprintf(self->session, sizeof self->session, "/session/%s", id);
    json_decref(v);
    return self;
}

void
tu_web_stop(tu_web_t **self_p)
{
    tu_web_t *self = *self_p;
    if (!self)
        return;
    if (self->session[0])
        json_decref(s_command(self, "DELETE", self->session, NULL, NULL));
    tu_stop(self->driver, SIGTERM, 3000);
    tu_rmtree(self->profile);
    free(self->profile);
    free(self);
    *self_p = NULL;
}

static json_t *
s_session(tu_web_t *self, const char *method, const char *what, json_t *body)
{
    char path[512];
    snprintf(path, sizeof path, "%s%s", self->session, what);
    return s_command(self, method, path, body, NULL);
}

char *
tu_web_eval(tu_web_t *self, const char *expression)
{
    char script[4096];
    snprintf(script, sizeof script, "return %s;", expression);
    json_t *v = s_session(self, "POST", "/execute/sync", json_pack("{s:s, s:[]}", "script", script, "args"));
    char *text = v ? json_dumps(v, JSON_ENCODE_ANY | JSON_COMPACT) : strdup("null");
    json_decref(v);
    return text;
}

void
tu_web_open(tu_web_t *self, const char *url)
{
    json_decref(s_session(self, "POST", "/url", json_pack("{s:s}", "url", url)));
    for (int i = 0; i < 200; i++) {
        char *state = tu_web_eval(self, "document.readyState");
        bool done = !strcmp(state, "\"complete\"");
        free(state);
        if (done)
            return;
        zclock_sleep(25);
    }
    ck_abort_msg("%s did not finish loading", url);
}

/* The id of the first displayed element matching css, or "" (out: 128 bytes). */
static void
s_find(tu_web_t *self, const char *css, char out[128])
{
    out[0] = '\0';
    json_t *v = s_session(self, "POST", "/elements", json_pack("{s:s, s:s}", "using", "css selector", "value", css));
    size_t i;
    json_t *e;
    json_array_foreach(v, i, e) {
        const char *id = json_string_value(json_object_get(e, ELEMENT_KEY));
        if (!id)
            continue;
        char what[256];
        snprintf(what, sizeof what, "/element/%s/displayed", id);
        json_t *shown = s_session(self, "GET", what, NULL);
        bool visible = json_is_true(shown);
        json_decref(shown);
        if (visible) {
            snprintf(out, 128, "%s", id);
            break;
        }
    }
    json_decref(v);
}

bool
tu_web_wait(tu_web_t *self, const char *css, int timeout_ms)
{
    char id[128];
    int64_t deadline = s_deadline(timeout_ms);
    for (;;) {
        s_find(self, css, id);
        if (id[0])
            return true;
        if (zclock_mono() >= deadline)
            return false;
        zclock_sleep(50);
    }
}

static void
s_must_find(tu_web_t *self, const char *css, char id[128])
{
    int64_t deadline = s_deadline(0);
    for (;;) {
        s_find(self, css, id);
        if (id[0])
            return;
        if (zclock_mono() >= deadline)
            break;
        zclock_sleep(50);
    }
    ck_abort_msg("no visible element matches %s", css);
}

void
tu_web_click(tu_web_t *self, const char *css)
{
    char id[128], what[256];
    s_must_find(self, css, id);
    snprintf(what, sizeof what, "/element/%s/click", id);
    json_decref(s_session(self, "POST", what, json_object()));
}

void
tu_web_type(tu_web_t *self, const char *css, const char *text)
{
    char id[128], what[256];
    s_must_find(self, css, id);
    snprintf(what, sizeof what, "/element/%s/clear", id);
    json_decref(s_session(self, "POST", what, json_object()));
    snprintf(what, sizeof what, "/element/%s/value", id);
    json_decref(s_session(self, "POST", what, json_pack("{s:s}", "text", text)));
}

char *
tu_web_text(tu_web_t *self, const char *css)
{
    char id[128], what[256];
    s_must_find(self, css, id);
    snprintf(what, sizeof what, "/element/%s/text", id);
    json_t *v = s_session(self, "GET", what, NULL);
    char *text = strdup(json_is_string(v) ? json_string_value(v) : "");
    json_decref(v);
    return text;
}

bool
tu_web_wait_text(tu_web_t *self, const char *css, const char *needle, int timeout_ms)
{
    int64_t deadline = s_deadline(timeout_ms);
    for (;;) {
        char id[128];
        s_find(self, css, id);
        if (id[0]) {
            char *text = tu_web_text(self, css);
            bool found = strstr(text, needle) != NULL;
            free(text);
            if (found)
                return true;
        }
        if (zclock_mono() >= deadline)
            return false;
        zclock_sleep(100);
    }
}

bool
tu_web_wait_true(tu_web_t *self, const char *expression, int timeout_ms)
{
    char js[2048];
    snprintf(js, sizeof js, "!!(function(){try{return %s;}catch(e){return false;}})()", expression);
    int64_t deadline = s_deadline(timeout_ms);
    for (;;) {
        char *v = tu_web_eval(self, js);
        bool yes = !strcmp(v, "true");
        free(v);
        if (yes)
            return true;
        if (zclock_mono() >= deadline)
            return false;
        zclock_sleep(100);
    }
}

void
tu_web_screenshot(tu_web_t *self, const char *path)
{
    json_t *v = s_session(self, "GET", "/screenshot", NULL);
    const char *b64 = json_string_value(v);
    ck_assert_msg(b64 != NULL, "no screenshot");
    size_t cap = strlen(b64), len = 0;
    unsigned char *png = malloc(cap);
    ck_assert_int_eq(sodium_base642bin(png, cap, b64, strlen(b64), NULL, &len, NULL,
                                       sodium_base64_VARIANT_ORIGINAL), 0);
    char dir[512];
    snprintf(dir, sizeof dir, "%s", path);
    char *slash = strrchr(dir, '/');
    if (slash) {
        *slash = '\0';
        char cmd[600];
        snprintf(cmd, sizeof cmd, "mkdir -p '%s'", dir);
        ck_assert_int_eq(system(cmd), 0);
    }
    FILE *f = fopen(path, "wb");
    ck_assert_ptr_nonnull(f);
    ck_assert_uint_eq(fwrite(png, 1, len, f), len);
    fclose(f);
    free(png);
    json_decref(v);
}
