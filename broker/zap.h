/*  zap.h — the broker's CURVE authenticator (ZAP, ZeroMQ RFC 27).
 *
 *  libzmq asks a ZAP handler, over inproc://zeromq.zap.01, whether each peer
 *  that completes a CURVE handshake may connect.  This handler allows a peer
 *  when its public key is among the certificates in a directory
 *  (libfoleni/certdir.h, which rereads it when it changes), and answers with
 *  the key itself, in Z85, as the connection's User-Id.  libzmq then attaches
 *  that User-Id to every message from the peer, which is how the broker tells
 *  workers who called.
 *
 *  Why not CZMQ's zauth: in CZMQ 4.2 it allows and refuses CURVE peers the
 *  same way but leaves User-Id empty, so the key could not reach the workers
 *  (docs/architecture.md).
 *
 *  The handler is a socket the broker polls in its own loop; there is no
 *  thread.  One per process (the inproc address is fixed by RFC 27).
 */
#ifndef FOLENI_BROKER_ZAP_H
#define FOLENI_BROKER_ZAP_H

#include <czmq.h>

#include "libfoleni/error.h"

typedef struct zap zap_t;

/*  Bind the ZAP endpoint and load the allowed certificates from dir.
 *  Returns NULL with err: FL_E_IO (dir unreadable, endpoint taken). */
zap_t *zap_new(const char *dir, fl_error_t *err);

/*  Unbind and free; sets *self_p to NULL. */
void zap_destroy(zap_t **self_p);

/*  The socket to poll. */
zsock_t *zap_socket(zap_t *self);

/*  Answer one waiting request.  Returns 1 when it allowed the peer, 0 when it
 *  refused it, -1 when nothing could be read. */
int zap_handle(zap_t *self);

#endif
