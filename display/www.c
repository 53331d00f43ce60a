/*  www.c — finding and reading the board page's files.  See www.h. */
#include "display/www.h"

#include <assert.h>
#include <dirent.h>
#include <limits.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

struct disp_www {
    disp_www_file_t files[DISP_WWW_FILES_MAX];
    size_t nfiles;
};

static bool
s_has_page(const char *dir)
{
    char path[DISP_WWW_PATH_MAX + 32];
    snprintf(path, sizeof path, "%s/%s", dir, DISP_WWW_PAGE);
    struct stat st;
    return stat(path, &st) == 0 && S_ISREG(st.st_mode);
}

int
disp_www_locate(const char *dir, char out[DISP_WWW_PATH_MAX])
{
    if (dir && *dir) {
        snprintf(out, DISP_WWW_PATH_MAX, "%s", dir);
        return s_has_page(out) ? 0 : FL_E_NOT_FOUND;
    }
    char exe[DISP_WWW_PATH_MAX - 16];   /* room for "/display/www" */
    ssize_t n = readlink("/proc/self/exe", exe, sizeof exe - 1);
    if (n > 0) {
        exe[n] = '\0';
        for (int up = 0; up < 5; up++) {   /* build/asan/bin/foleni-display is 4 levels below the tree */
            char *slash = strrchr(exe, '/');
            if (!slash)
                break;
            *slash = '\0';
            if (snprintf(out, DISP_WWW_PATH_MAX, "%s/display/www", exe) >= DISP_WWW_PATH_MAX)
                break;
            if (s_has_page(out))
                return 0;
        }
    }
    static const char *const fallbacks[] = { "display/www", "/usr/share/foleni/display/www" };
    for (size_t i = 0; i < sizeof fallbacks / sizeof fallbacks[0]; i++) {
        snprintf(out, DISP_WWW_PATH_MAX, "%s", fallbacks[i]);
        if (s_has_page(out))
            return 0;
    }
    return FL_E_NOT_FOUND;
}

static const char *
s_type(const char *name)
{
    static const struct { const char *ext, *type; } types[] = {
        { ".html", "text/html; charset=utf-8" }, { ".css", "text/css; charset=utf-8" },
        { ".js", "text/javascript; charset=utf-8" }, { ".json", "application/json" },
        { ".svg", "image/svg+xml" }, { ".png", "image/png" }, { ".ico", "image/x-icon" },
        { ".woff2", "font/woff2" }, { ".txt", "text/plain; charset=utf-8" }, { ".md", "text/plain; charset=utf-8" },
    };
    const char *dot = strrchr(name, '.');
    for (size_t i = 0; dot && i < sizeof types / sizeof types[0]; i++)
        if (!strcmp(dot, types[i].ext))
            return types[i].type;
    return "application/octet-stream";
}

static bool
s_name_ok(const char *name)
{
    size_t len = strlen(name);
    return len > 0 && len <= DISP_WWW_NAME_MAX && name[0] != '.'
           && strspn(name, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789._-") == len;
}

static int
s_read_file(const char *path, disp_www_file_t *f, fl_error_t *err)
{
    FILE *in = fopen(path, "rb");
    if (!in)
        return fl_error_set(err, FL_E_IO, "", "cannot open %s", path);
    f->data = malloc(DISP_WWW_FILE_MAX + 1);
    if (!f->data) {
        fclose(in);
        return fl_error_set(err, FL_E_NOMEM, "", "out of memory reading %s", path);
    }
    f->len = fread(f->data, 1, DISP_WWW_FILE_MAX + 1, in);
    bool failed = ferror(in);
    fclose(in);
    if (failed)
        return fl_error_set(err, FL_E_IO, "", "cannot read %s", path);
    if (f->len > DISP_WWW_FILE_MAX)
        return fl_error_set(err, FL_E_TOO_LONG, "", "%s is over %d bytes", path, DISP_WWW_FILE_MAX);
    return 0;
}

disp_www_t *
disp_www_load(const char *dir, fl_error_t *err)
{
    assert(dir);
    disp_www_t *self = calloc(1, sizeof *self);
    if (!self) {
        fl_error_set(err, FL_E_NOMEM, "", "out of memory");
        return NULL;
    }
    DIR *d = opendir(dir);
    if (!d) {
        fl_error_set(err, FL_E_IO, "", "cannot open the folder %s", dir);
        goto fail;
    }
    struct dirent *ent;
    int rc = 0;
    while (rc == 0 && (ent = readdir(d))) {
        if (!s_name_ok(ent->d_name))
            continue;
        char path[DISP_WWW_PATH_MAX + DISP_WWW_NAME_MAX + 2];
        snprintf(path, sizeof path, "%s/%s", dir, ent->d_name);
        struct stat st;
        if (stat(path, &st) != 0 || !S_ISREG(st.st_mode))
            continue;
        if (self->nfiles == DISP_WWW_FILES_MAX) {
            rc = fl_error_set(err, FL_E_TOO_LONG, "", "more than %d files in %s", DISP_WWW_FILES_MAX, dir);
            break;
        }
        disp_www_file_t *f = &self->files[self->nfiles++];
        snprintf(f->name, sizeof f->name, "%s", ent->d_name);
        f->type = s_type(f->name);
        rc = s_read_file(path, f, err);
    }
    closedir(d);
    if (rc)
        goto fail;
    if (!disp_www_get(self, DISP_WWW_PAGE)) {
        fl_error_set(err, FL_E_NOT_FOUND, "", "%s has no %s", dir, DISP_WWW_PAGE);
        goto fail;
    }
    return self;
fail:
    disp_www_destroy(&self);
    return NULL;
}

void
disp_www_destroy(disp_www_t **self_p)
{
    assert(self_p);
    disp_www_t *self = *self_p;
    if (!self)
        return;
    for (size_t i = 0; i < self->nfiles; i++)
        free(self->files[i].data);
    free(self);
    *self_p = NULL;
}

const disp_www_file_t *
disp_www_get(const disp_www_t *self, const char *name)
{
    assert(self && name);
    for (size_t i = 0; i < self->nfiles; i++)
        if (!strcmp(self->files[i].name, name))
            return &self->files[i];
    return NULL;
}

size_t
disp_www_count(const disp_www_t *self)
{
    assert(self);
    return self->nfiles;
}
