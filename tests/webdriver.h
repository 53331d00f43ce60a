/*  webdriver.h — a real browser for the page tests: Debian's headless
 *  Chromium driven through chromedriver's W3C WebDriver HTTP API, with libcurl.
 *
 *  No npm and no network: chromium and chromium-driver come from Debian's
 *  archive (make deps installs them).  Every call fails the test with a clear
 *  message when the browser does not do what was asked; waits poll with a
 *  bound, never sleep blindly.
 */
#ifndef FOLENI_TESTS_WEBDRIVER_H
#define FOLENI_TESTS_WEBDRIVER_H

#include <stdbool.h>

typedef struct tu_web tu_web_t;

/*  Start chromedriver on a free port and a headless Chromium session with a
 *  window of width x height (a phone: 412 x 900; a TV: 1920 x 1080). */
tu_web_t *tu_web_start(int width, int height);

/*  End the session, stop chromedriver, remove the profile; sets *self_p NULL. */
void tu_web_stop(tu_web_t **self_p);

/*  Load url and wait for the document to be complete. */
void tu_web_open(tu_web_t *self, const char *url);

/*  True once an element matching css is displayed (within timeout_ms). */
bool tu_web_wait(tu_web_t *self, const char *css, int timeout_ms);

/*  True once the text of the first element matching css contains needle. */
bool tu_web_wait_text(tu_web_t *self, const char *css, const char *needle, int timeout_ms);

/*  True once the JavaScript expression is true in the page (within timeout_ms):
 *  for waiting until a page has finished what it does on load. */
bool tu_web_wait_true(tu_web_t *self, const char *expression, int timeout_ms);

/*  Click / type into the first displayed element matching css (waits up to 5 s for it). */
void tu_web_click(tu_web_t *self, const char *css);
void tu_web_type(tu_web_t *self, const char *css, const char *text);

/*  The visible text of the first element matching css (caller frees). */
char *tu_web_text(tu_web_t *self, const char *css);

/*  Run `return <expression>` in the page and give the result as JSON text (caller frees). */
char *tu_web_eval(tu_web_t *self, const char *expression);

/*  Save a PNG screenshot of the window to path (folders are made). */
void tu_web_screenshot(tu_web_t *self, const char *path);

#endif
