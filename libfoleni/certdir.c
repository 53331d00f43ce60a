/*  certdir.c — a folder of CURVE public certificates.  See certdir.h.
 *
 *  The folder's listing is summed up in a 64-bit FNV-1a hash of each entry's
 *  name, size, modification time and inode; the certificates are read again
 *  only when the hash changes.  Files are read whole (bounded) and parsed with
 *  zconfig_str_load, which, unlike zcert_load on a file, frees everything it
 *  took when the text is not ZPL.
 */
#include "libfoleni/certdir.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "libfoleni/security.h"

struct fl_certdir {
    char *dir;
    zhashx_t *certs;                /* public key text -> zcert_t * */
    uint64_t listing;               /* hash of the listing the certs were read from */
    bool listed;                    /* listing is valid (the folder could be listed) */
};

static uint64_t
s_fnv(uint64_t h, const void *data, size_t size)
{
    const uint8_t *p = data;
    for (size_t i = 0; i < size; i++) {
        h ^= p[i];
        h *= UINT64_C(0x100000001b3);
    }
    return h;
}

/* Whether a folder entry is one to read: a visible regular file. */
static bool
s_candidate(int dirfd, const char *name, struct stat *st)
{
    return name[0] != '.' && fstatat(dirfd, name, st, 0) == 0 && S_ISREG(st->st_mode);
}

/* Hash of the folder's listing into *out.  -1 when it cannot be listed. */
static int
s_listing(const char *dir, uint64_t *out)
{
    DIR *d = opendir(dir);
    if (!d)
        return -1;
    uint64_t h = UINT64_C(0xcbf29ce484222325);
    struct dirent *e;
    while ((e = readdir(d))) {
        struct stat st;
        if (!s_candidate(dirfd(d), e->d_name, &st))
            continue;
        h = s_fnv(h, e->d_name, strlen(e->d_name) + 1);
        int64_t facts[] = { (int64_t) st.st_size, (int64_t) st.st_mtim.tv_sec, (int64_t) st.st_mtim.tv_nsec,
                            (int64_t) st.st_ino };
        h = s_fnv(h, facts, sizeof facts);
    }
    closedir(d);
    *out = h;
    return 0;
}

/* The certificate in a file's text, or NULL when it holds none. */
static zcert_t *
s_parse(const char *text)
{
    zconfig_t *root = zconfig_str_load(text);
    if (!root)
        return NULL;
    zcert_t *cert = NULL;
    const char *public_txt = zconfig_get(root, "curve/public-key", NULL);
    uint8_t public_key[32], secret_key[32] = { 0 };
    if (public_txt && strlen(public_txt) == FL_CURVE_KEY_TEXT && zmq_z85_decode(public_key, public_txt)
        && (cert = zcert_new_from(public_key, secret_key))) {
        zconfig_t *meta = zconfig_locate(root, "metadata");
        for (zconfig_t *item = meta ? zconfig_child(meta) : NULL; item; item = zconfig_next(item))
            if (zconfig_name(item) && zconfig_value(item))
                zcert_set_meta(cert, zconfig_name(item), "%s", zconfig_value(item));
    }
    zconfig_destroy(&root);
    return cert;
}

/* Read one file's text (at most FL_CERTDIR_FILE_MAX bytes) into buf.
 * Symbolic links are followed: a Kubernetes Secret mounted as a folder is
 * made of links into a hidden ..data folder.  O_NONBLOCK and the fstat of
 * what was opened keep a FIFO put there meanwhile from blocking the read. */
static bool
s_read(int dirfd, const char *name, char *buf, size_t cap)
{
    int fd = openat(dirfd, name, O_RDONLY | O_CLOEXEC | O_NONBLOCK);
    if (fd < 0)
        return false;
    struct stat st;
    if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode) || st.st_size > FL_CERTDIR_FILE_MAX) {
        close(fd);
        return false;
    }
    size_t got = 0;
    ssize_t n = 0;
    while (got < cap - 1 && (n = read(fd, buf + got, cap - 1 - got)) > 0)
        got += (size_t) n;
    bool whole = got < cap - 1 && n == 0;   /* more than the cap: not a certificate */
    close(fd);
    buf[got] = '\0';
    return whole && memchr(buf, '\0', got) == NULL;
}

static void
s_cert_free(void **item)
{
    zcert_destroy((zcert_t **) item);
}

/* Read every certificate of the folder again. */
static void
s_reload(fl_certdir_t *self)
{
    zhashx_purge(self->certs);
    DIR *d = opendir(self->dir);
    if (!d)
        return;
    char *text = malloc(FL_CERTDIR_FILE_MAX + 1);
    struct dirent *e;
    while (text && (e = readdir(d))) {
        struct stat st;
        if (!s_candidate(dirfd(d), e->d_name, &st) || st.st_size > FL_CERTDIR_FILE_MAX
            || !s_read(dirfd(d), e->d_name, text, FL_CERTDIR_FILE_MAX + 1))
            continue;
        /* Only what looks like a certificate goes to the ZPL parser, which
         * logs every syntax error it meets: a README is not worth a line in
         * the log, a damaged certificate is. */
        zcert_t *cert = strstr(text, "public-key") ? s_parse(text) : NULL;
        if (cert && zhashx_insert(self->certs, zcert_public_txt(cert), cert) != 0)
            zcert_destroy(&cert);           /* the same key twice (NAME and NAME_secret) */
    }
    free(text);
    closedir(d);
}

/* Bring the certificates up to date with the folder. */
static void
s_refresh(fl_certdir_t *self)
{
    uint64_t listing;
    if (s_listing(self->dir, &listing) != 0) {
        zhashx_purge(self->certs);          /* refuse, not guess */
        self->listed = false;
        return;
    }
    if (!self->listed || listing != self->listing) {
        s_reload(self);
        self->listing = listing;
        self->listed = true;
    }
}

fl_certdir_t *
fl_certdir_new(const char *dir, fl_error_t *err)
{
    struct stat st;
    if (!dir || stat(dir, &st) != 0 || !S_ISDIR(st.st_mode)) {
        fl_error_set(err, FL_E_IO, "", "%s: not a folder of certificates", dir ? dir : "(none)");
        return NULL;
    }
    fl_certdir_t *self = calloc(1, sizeof *self);
    if (!self || !(self->dir = strdup(dir)) || !(self->certs = zhashx_new())) {
        fl_certdir_destroy(&self);
        fl_error_set(err, FL_E_NOMEM, "", "out of memory");
        return NULL;
    }
    zhashx_set_destructor(self->certs, s_cert_free);
    s_refresh(self);
    if (!self->listed) {
        fl_error_set(err, FL_E_IO, "", "%s: cannot list the folder: %s", dir, strerror(errno));
        fl_certdir_destroy(&self);
    }
    return self;
}

void
fl_certdir_destroy(fl_certdir_t **self_p)
{
    fl_certdir_t *self = *self_p;
    if (!self)
        return;
    zhashx_destroy(&self->certs);
    free(self->dir);
    free(self);
    *self_p = NULL;
}

zcert_t *
fl_certdir_lookup(fl_certdir_t *self, const char *public_txt)
{
    s_refresh(self);
    return public_txt ? zhashx_lookup(self->certs, public_txt) : NULL;
}

size_t
fl_certdir_size(const fl_certdir_t *self)
{
    return zhashx_size(self->certs);
}
