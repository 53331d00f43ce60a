/*  www.h — the board page's static files, read once at start.
 *
 *  The page (HTML, CSS, JavaScript, no build step and no third-party code)
 *  lives in display/www/ of the source tree.  The display reads every regular
 *  file of that folder into memory when it starts and serves them from there,
 *  so a running display never touches the disk for a request and a page edit
 *  takes a restart.
 *
 *  Where the folder is: --www DIR when given; otherwise display/www found by
 *  walking up from the program's own location (build/bin/foleni-display and
 *  build/asan/bin/foleni-display both find the source tree's folder), then
 *  ./display/www, then /usr/share/foleni/display/www (an installed system).
 */
#ifndef FOLENI_DISPLAY_WWW_H
#define FOLENI_DISPLAY_WWW_H

#include <stddef.h>

#include "libfoleni/error.h"

#define DISP_WWW_FILES_MAX  32          /* files in the folder */
#define DISP_WWW_FILE_MAX   (1024 * 1024)   /* bytes per file */
#define DISP_WWW_NAME_MAX   64          /* bytes per file name */
#define DISP_WWW_PATH_MAX   1024        /* bytes of the folder's path */
#define DISP_WWW_PAGE       "board.html"    /* the page served at / */

typedef struct {
    char name[DISP_WWW_NAME_MAX + 1];
    const char *type;                   /* Content-Type */
    char *data;
    size_t len;
} disp_www_file_t;

typedef struct disp_www disp_www_t;

/*  Find the folder (see above; dir may be NULL) and write its path to out.
 *  0, or FL_E_NOT_FOUND when no candidate holds DISP_WWW_PAGE. */
int disp_www_locate(const char *dir, char out[DISP_WWW_PATH_MAX]);

/*  Read every regular file of dir whose name is [A-Za-z0-9._-] and not hidden.
 *  NULL with err: FL_E_IO (unreadable), FL_E_TOO_LONG (a file or the count over
 *  its limit), FL_E_NOT_FOUND (no DISP_WWW_PAGE), FL_E_NOMEM. */
disp_www_t *disp_www_load(const char *dir, fl_error_t *err);

/*  Free; sets *self_p to NULL.  Safe on NULL. */
void disp_www_destroy(disp_www_t **self_p);

/*  The file called name, or NULL. */
const disp_www_file_t *disp_www_get(const disp_www_t *self, const char *name);

/*  Number of files. */
size_t disp_www_count(const disp_www_t *self);

#endif
