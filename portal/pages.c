/*  pages.c — the static pages, read once at start and served from memory.
 *
 *  The folder is small (the whole booking flow is under 50 KB), so keeping it
 *  in memory makes every page a lookup; a page changed on disk is picked up at
 *  the next start.  Only regular files directly in the folder and one level of
 *  subfolders are served, names of [A-Za-z0-9._-], so no path ever leaves it.
 */
#include "portal/internal.h"

#include <dirent.h>
#include <string.h>
#include <sys/stat.h>

#define PAGES_MAX       256             /* files served */
#define PAGES_FILE_MAX  (512 * 1024)    /* largest file */

typedef struct {
    char path[128];                     /* "/index.html", "/i18n/sw.json" */
    char *data;
    size_t len;
    const char *type;
} page_t;

struct pages {
    page_t files[PAGES_MAX];
    size_t n;
};

static const char *
s_type(const char *name)
{
    const char *dot = strrchr(name, '.');
    static const struct { const char *ext, *type; } types[] = {
        { ".html", "text/html; charset=utf-8" }, { ".css", "text/css; charset=utf-8" },
        { ".js", "text/javascript; charset=utf-8" }, { ".json", "application/json; charset=utf-8" },
        { ".svg", "image/svg+xml" }, { ".png", "image/png" }, { ".ico", "image/x-icon" },
        { ".txt", "text/plain; charset=utf-8" }, { ".webmanifest", "application/manifest+json" },
    };
    for (size_t i = 0; dot && i < sizeof types / sizeof types[0]; i++)
        if (!strcmp(dot, types[i].ext))
            return types[i].type;
    return NULL;                        /* unknown kinds are not served */
}

static bool
s_name_ok(const char *name)
{
    if (name[0] == '.' || !*name)
        return false;
    for (const char *c = name; *c; c++)
        if (!((*c >= 'a' && *c <= 'z') || (*c >= 'A' && *c <= 'Z') || (*c >= '0' && *c <= '9') || *c == '.'
              || *c == '_' || *c == '-'))
            return false;
    return true;
}

static int
s_load_dir(pages_t *self, const char *dir, const char *prefix, int depth, fl_error_t *err)
{
    DIR *d = opendir(dir);
    if (!d)
        return fl_error_set(err, FL_E_IO, "www", "%s: cannot read the pages folder", dir);
    struct dirent *e;
    int rc = 0;
    while (rc == 0 && (e = readdir(d))) {
        if (!s_name_ok(e->d_name))
            continue;
        char path[1024];
        snprintf(path, sizeof path, "%s/%s", dir, e->d_name);
        struct stat st;
        if (stat(path, &st) != 0)
            continue;
        if (S_ISDIR(st.st_mode)) {
            if (depth == 0) {
                char sub[128];
                snprintf(sub, sizeof sub, "%.60s/%.60s", prefix, e->d_name);
                rc = s_load_dir(self, path, sub, 1, err);
            }
            continue;
        }
        const char *type = s_type(e->d_name);
        if (!S_ISREG(st.st_mode) || !type || st.st_size > PAGES_FILE_MAX)
            continue;
        if (self->n == PAGES_MAX) {
            rc = fl_error_set(err, FL_E_TOO_LONG, "www", "%s: more than %d files", dir, PAGES_MAX);
            break;
        }
        page_t *p = &self->files[self->n];
        FILE *f = fopen(path, "rb");
        p->data = malloc((size_t) st.st_size + 1);
        if (!f || !p->data || fread(p->data, 1, (size_t) st.st_size, f) != (size_t) st.st_size) {
            if (f) fclose(f);
            free(p->data);
            p->data = NULL;
            rc = fl_error_set(err, FL_E_IO, "www", "%s: cannot read", path);
            break;
        }
        fclose(f);
        p->len = (size_t) st.st_size;
        p->type = type;
        snprintf(p->path, sizeof p->path, "%.60s/%.60s", prefix, e->d_name);
        self->n++;
    }
    closedir(d);
    return rc;
}

pages_t *
pages_new(const char *dir, fl_error_t *err)
{
    pages_t *self = calloc(1, sizeof *self);
    if (!self) {
        fl_error_set(err, FL_E_NOMEM, "", "out of memory");
        return NULL;
    }
    if (s_load_dir(self, dir, "", 0, err) != 0)
        pages_destroy(&self);
    return self;
}

void
pages_destroy(pages_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    for (size_t i = 0; i < (*self_p)->n; i++)
        free((*self_p)->files[i].data);
    free(*self_p);
    *self_p = NULL;
}

size_t
pages_count(const pages_t *self)
{
    return self->n;
}

const void *
pages_get(const pages_t *self, const char *path, size_t *len, const char **content_type)
{
    if (!strcmp(path, "/"))
        path = "/index.html";
    for (size_t i = 0; i < self->n; i++)
        if (!strcmp(self->files[i].path, path)) {
            *len = self->files[i].len;
            *content_type = self->files[i].type;
            return self->files[i].data;
        }
    return NULL;
}
