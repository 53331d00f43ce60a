/*  security.h — CURVE identities for the ZeroMQ links.
 *
 *  Every Foleni process that connects to the broker (scheduler, portal,
 *  counter, display) may carry a CURVE certificate of its own and the broker's
 *  public key; the broker carries its secret certificate and a directory of the
 *  client public certificates it accepts (broker/, through zauth).  The broker
 *  hands the client's public key to the worker with each request, so the
 *  scheduler can tell a counter from a portal.
 *
 *  Certificates are CZMQ's zcert files: NAME holds the public key, NAME_secret
 *  both keys.  deploy/ has a script that makes them.
 */
#ifndef FOLENI_SECURITY_H
#define FOLENI_SECURITY_H

#include <czmq.h>
#include <stdbool.h>

#include "libfoleni/error.h"

/* Length of a Z85-encoded CURVE key, without the NUL. */
#define FL_CURVE_KEY_TEXT 40

/* The ZAP domain every Foleni server socket uses. */
#define FL_ZAP_DOMAIN "foleni"

typedef struct fl_security fl_security_t;

/*  Security for a connecting socket.  own_cert: path of this process's
 *  certificate (its _secret file is read); server_cert: path of the broker's
 *  public certificate.  Both NULL (or empty): plain, unencrypted links.  One
 *  without the other is FL_E_INVALID.  A file that cannot be read is FL_E_IO.
 *  Returns a new object or NULL with err. */
fl_security_t *fl_security_new(const char *own_cert, const char *server_cert, fl_error_t *err);

/*  Read the paths from FOLENI_CURVE_CERT and FOLENI_CURVE_SERVER (the usual
 *  way processes get them); plain when neither is set. */
fl_security_t *fl_security_from_env(fl_error_t *err);

/*  Free; sets *self_p to NULL.  Safe on NULL. */
void fl_security_destroy(fl_security_t **self_p);

/*  True when links are encrypted. */
bool fl_security_is_curve(const fl_security_t *self);

/*  Make sock a CURVE client of the broker (before connecting).  Does nothing
 *  for plain security or self == NULL. */
void fl_security_apply(const fl_security_t *self, zsock_t *sock);

/*  This process's public key as Z85 text, or "" when plain. */
const char *fl_security_public_key(const fl_security_t *self);

#endif
