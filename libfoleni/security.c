/*  security.c — loading CURVE certificates for connecting sockets.  See security.h. */
#include "libfoleni/security.h"

#include <stdlib.h>
#include <string.h>
#include <unistd.h>

struct fl_security {
    zcert_t *own;                               /* NULL when plain */
    char server_key[FL_CURVE_KEY_TEXT + 1];     /* "" when plain */
};

fl_security_t *
fl_security_new(const char *own_cert, const char *server_cert, fl_error_t *err)
{
    bool has_own = own_cert && *own_cert, has_server = server_cert && *server_cert;
    if (has_own != has_server) {
        fl_error_set(err, FL_E_INVALID, has_own ? "server_cert" : "own_cert",
                     "CURVE needs both this process's certificate and the broker's public certificate");
        return NULL;
    }
    fl_security_t *self = calloc(1, sizeof *self);
    if (!self) {
        fl_error_set(err, FL_E_NOMEM, "", "out of memory");
        return NULL;
    }
    if (!has_own)
        return self;
    char secret[1024];
    snprintf(secret, sizeof secret, "%s_secret", own_cert);
    if (access(secret, R_OK) != 0 && access(own_cert, R_OK) != 0) {
        fl_error_set(err, FL_E_IO, "own_cert", "%s: cannot read this certificate (nor %s)", own_cert, secret);
        goto fail;
    }
    self->own = zcert_load(own_cert);           /* reads NAME_secret when present */
    zcert_t *server = zcert_load(server_cert);
    if (!self->own || !server) {
        zcert_destroy(&server);
        fl_error_set(err, FL_E_IO, self->own ? "server_cert" : "own_cert", "%s: not a readable CURVE certificate",
                     self->own ? server_cert : own_cert);
        goto fail;
    }
    static const char zero_key[FL_CURVE_KEY_TEXT + 1] = "0000000000000000000000000000000000000000";
    if (strcmp(zcert_secret_txt(self->own), zero_key) == 0) {
        zcert_destroy(&server);
        fl_error_set(err, FL_E_INVALID, "own_cert", "%s: holds no secret key (give the certificate, whose "
                     "_secret file must sit beside it)", own_cert);
        goto fail;
    }
    snprintf(self->server_key, sizeof self->server_key, "%s", zcert_public_txt(server));
    zcert_destroy(&server);
    return self;
fail:
    fl_security_destroy(&self);
    return NULL;
}

fl_security_t *
fl_security_from_env(fl_error_t *err)
{
    return fl_security_new(getenv("FOLENI_CURVE_CERT"), getenv("FOLENI_CURVE_SERVER"), err);
}

void
fl_security_destroy(fl_security_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    zcert_destroy(&(*self_p)->own);
    free(*self_p);
    *self_p = NULL;
}

bool
fl_security_is_curve(const fl_security_t *self)
{
    return self && self->own;
}

void
fl_security_apply(const fl_security_t *self, zsock_t *sock)
{
    if (!fl_security_is_curve(self))
        return;
    zcert_apply(self->own, sock);
    zsock_set_curve_serverkey(sock, self->server_key);
}

const char *
fl_security_public_key(const fl_security_t *self)
{
    return fl_security_is_curve(self) ? zcert_public_txt(self->own) : "";
}
