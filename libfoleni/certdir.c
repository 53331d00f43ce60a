/*  certdir.c — a folder of CURVE public certificates.  See certdir.h.
 *
 *  The folder's listing is summed up in a 64-bit FNV-1a hash of each entry's
 *  name, size, modification and change times and inode; the certificates are
 *  read again when the hash changes, and at every lookup while a file changed
 *  within the last two seconds (an edit in place within the clock's
 *  resolution would not change the hash).  A reload builds a fresh table and
 *  replaces the old one only when every file could be read: a passing
 *  failure (out of descriptors) keeps the keys as they were and retries.  Files are read whole (bounded) and parsed with
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
#include <time.h>
#include <unistd.h>

#include "libfoleni/log.h"
#include "libfoleni/security.h"

struct fl_certdir {
    char *dir;
    zhashx_t *certs;                /* public key text -> zcert_t * */
    uint64_t listing;               /* hash of the listing the certs were read from */
    bool listed;                    /* listing is valid (the folder could be listed) */
    bool failing;                   /* the last reload failed (logged once, not per lookup) */
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

/* Hash of the folder's listing into *out; *recent when some entry changed
 * within the last two seconds.  -1 when it cannot be listed. */
static int
s_listing(const char *dir, uint64_t *out, bool *recent)
{
    DIR *d = opendir(dir);
    if (!d)
        return -1;
    uint64_t h = UINT64_C(0xcbf29ce484222325);
    time_t now = time(NULL);
    *recent = false;
    struct dirent *e;
    while ((e = readdir(d))) {
        struct stat st;
        if (!s_candidate(dirfd(d), e->d_name, &st))
            continue;
        h = s_fnv(h, e->d_name, strlen(e->d_name) + 1);
        int64_t facts[] = { (int64_t) st.st_size, (int64_t) st.st_mtim.tv_sec, (int64_t) st.st_mtim.tv_nsec,
                            (int64_t) st.st_ctim.tv_sec, (int64_t) st.st_ctim.tv_nsec, (int64_t) st.st_ino };
        h = s_fnv(h, facts, sizeof facts);
        if (st.st_mtim.tv_sec >= now - 2 || st.st_ctim.tv_sec >= now - 2)
            *recent = true;
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

#define READ_CAP (FL_CERTDIR_FILE_MAX + 2)  /* room to see that a file is longer than the limit */

/* Read one file's text (at most FL_CERTDIR_FILE_MAX bytes) into buf, which
 * holds READ_CAP bytes.  1: read; 0: not a certificate (gone meanwhile, not
 * a regular file, too long, holds a NUL); -1: could not be read now (out of
 * descriptors, an I/O error), so the folder must be read again later.
 * Symbolic links are followed: a Kubernetes Secret mounted as a folder is
 * made of links into a hidden ..data folder.  O_NONBLOCK and the fstat of
 * what was opened keep a FIFO put there meanwhile from blocking the read. */
static int
s_read(int dirfd, const char *name, char *buf)
{
    int fd = openat(dirfd, name, O_RDONLY | O_CLOEXEC | O_NONBLOCK);
    if (fd < 0)
        return errno == ENOENT || errno == ELOOP || errno == ENXIO || errno == EACCES ? 0 : -1;
    struct stat st;
    if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode) || st.st_size > FL_CERTDIR_FILE_MAX) {
        close(fd);
        return 0;
    }
    size_t got = 0;
    ssize_t n = 0;
    while (got < READ_CAP - 1 && (n = read(fd, buf + got, READ_CAP - 1 - got)) > 0)
        got += (size_t) n;
    int failed = n < 0;
    close(fd);
    buf[got] = '\0';
    if (failed)
        return -1;
    return got <= FL_CERTDIR_FILE_MAX && memchr(buf, '\0', got) == NULL;
}

static void
s_cert_free(void **item)
{
    zcert_destroy((zcert_t **) item);
}

/* True when two certificates carry the same metadata. */
static bool
s_same_meta(zcert_t *a, zcert_t *b)
{
    zlist_t *keys = zcert_meta_keys(a), *other_keys = zcert_meta_keys(b);   /* ours to destroy */
    bool same = keys && other_keys && zlist_size(keys) == zlist_size(other_keys);
    for (const char *k = same ? zlist_first(keys) : NULL; same && k; k = zlist_next(keys)) {
        const char *other = zcert_meta(b, k);
        same = other && strcmp(other, zcert_meta(a, k)) == 0;
    }
    zlist_destroy(&keys);
    zlist_destroy(&other_keys);
    return same;
}

/* Read every certificate of the folder into a fresh table.  NULL when the
 * folder or a file could not be read now: the caller keeps what it had and
 * tries again at the next lookup. */
static zhashx_t *
s_reload(fl_certdir_t *self)
{
    DIR *d = opendir(self->dir);
    zhashx_t *certs = zhashx_new(), *conflicts = zhashx_new();
    char *text = malloc(READ_CAP);
    bool failed = !d || !certs || !conflicts || !text;
    if (certs)
        zhashx_set_destructor(certs, s_cert_free);
    struct dirent *e;
    while (!failed && (e = readdir(d))) {
        struct stat st;
        if (!s_candidate(dirfd(d), e->d_name, &st) || st.st_size > FL_CERTDIR_FILE_MAX)
            continue;
        int got = s_read(dirfd(d), e->d_name, text);
        if (got <= 0) {
            failed = got < 0;
            continue;
        }
        /* Only what looks like a certificate goes to the ZPL parser, which
         * logs every syntax error it meets: a README is not worth a line in
         * the log, a damaged certificate is. */
        zcert_t *cert = strstr(text, "public-key") ? s_parse(text) : NULL;
        if (!cert)
            continue;
        const char *key = zcert_public_txt(cert);
        zcert_t *seen = zhashx_lookup(certs, key);
        if (zhashx_lookup(conflicts, key) || (seen && !s_same_meta(seen, cert))) {
            /* One key, two bindings (an old copy of a rebound counter's
             * certificate beside the new one, say): which holds must not
             * depend on the folder's order, so neither does. */
            if (!zhashx_lookup(conflicts, key)) {
                fl_log(FL_LOG_WARN, "a key appears in two certificates with different metadata; refused",
                       FL_S("folder", self->dir), FL_S("file", e->d_name), FL_S("public_key", key), NULL);
                zhashx_insert(conflicts, key, (void *) "");
            }
            zhashx_delete(certs, key);
            zcert_destroy(&cert);
        } else if (seen || zhashx_insert(certs, key, cert) != 0)
            zcert_destroy(&cert);           /* the same certificate twice (NAME and NAME_secret) */
    }
    if (text) {
        explicit_bzero(text, READ_CAP);     /* NAME_secret files hold secret keys */
        free(text);
    }
    if (d)
        closedir(d);
    zhashx_destroy(&conflicts);
    if (failed)
        zhashx_destroy(&certs);
    return certs;
}

/* Bring the certificates up to date with the folder. */
static void
s_refresh(fl_certdir_t *self)
{
    uint64_t listing;
    bool recent;
    if (s_listing(self->dir, &listing, &recent) != 0) {
        if (self->listed)
            fl_log(FL_LOG_WARN, "cannot list the folder of certificates; refusing its keys",
                   FL_S("folder", self->dir), FL_S("reason", strerror(errno)), NULL);
        zhashx_purge(self->certs);          /* refuse, not guess */
        self->listed = false;
        return;
    }
    if (self->listed && listing == self->listing)
        return;
    zhashx_t *fresh = s_reload(self);
    if (!fresh) {                           /* keep what we had; read again next time */
        if (!self->failing)
            fl_log(FL_LOG_WARN, "cannot read the folder of certificates now; keeping its keys as they were",
                   FL_S("folder", self->dir), FL_S("reason", strerror(errno)), NULL);
        self->failing = true;
        self->listed = false;
        return;
    }
    self->failing = false;
    zhashx_destroy(&self->certs);
    self->certs = fresh;
    self->listing = listing;
    /* A file changed within the clock's resolution of this listing could
     * change again without changing the listing: read again next time. */
    self->listed = !recent;
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
    uint64_t listing;
    bool recent;
    if (s_listing(dir, &listing, &recent) != 0) {
        fl_error_set(err, FL_E_IO, "", "%s: cannot list the folder: %s", dir, strerror(errno));
        fl_certdir_destroy(&self);
        return NULL;
    }
    s_refresh(self);
    return self;
}

void
fl_certdir_destroy(fl_certdir_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    fl_certdir_t *self = *self_p;
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
