/*  certdir.h — a folder of CURVE public certificates, read again as it changes.
 *
 *  The broker's authenticator (which client keys may connect) and the
 *  scheduler (which keys are counters' and administrators') look keys up in
 *  folders that an operator manages by hand.  CZMQ's zcertstore did this, but
 *  it leaks memory for every file in the folder that is not a certificate (a
 *  README, an editor's backup file) each time it reads the folder, inside
 *  zcert_load.  fl_certdir_t reads the folder itself:
 *
 *    - every regular file (or link to one: Kubernetes mounts Secrets as
 *      links) whose name does not begin with '.', of at most
 *      FL_CERTDIR_FILE_MAX bytes, that parses as a ZPL certificate with a
 *      valid Z85 `curve/public-key` counts, with its `metadata` entries; a
 *      NAME_secret file counts too (it holds the same public key);
 *    - a key found in two files with different metadata (an old copy of a
 *      rebound counter's certificate beside the new one) is refused, with a
 *      warning in the log: which binding holds must not depend on the order
 *      of the folder; identical copies are one certificate;
 *    - anything else is skipped: the folder is the operator's, and other
 *      files in it are allowed.  Only a file that mentions `public-key` but
 *      does not parse leaves a line in the log (CZMQ's ZPL parser writes it).
 *
 *  Each lookup lists the folder (names, sizes, modification times, inodes),
 *  which is cheap, and reads the files again only when that listing differs
 *  from the last one (and at every lookup while a file changed in the last two
 *  seconds): a key added, removed or edited counts from the next lookup.  A
 *  folder that cannot be listed any more holds no keys (refuse, not guess)
 *  until it can; a file that cannot be read for a passing reason (out of
 *  descriptors) keeps the keys as they were until the next lookup.
 *
 *  Not thread-safe: one user per object.
 */
#ifndef FOLENI_CERTDIR_H
#define FOLENI_CERTDIR_H

#include <czmq.h>
#include <stddef.h>

#include "libfoleni/error.h"

/* Largest certificate file read; a zcert file is a few hundred bytes. */
#define FL_CERTDIR_FILE_MAX 16384

typedef struct fl_certdir fl_certdir_t;

/*  Read the folder dir.  NULL with err (FL_E_IO) when dir is not a folder
 *  that can be listed. */
fl_certdir_t *fl_certdir_new(const char *dir, fl_error_t *err);

/*  Free; sets *self_p to NULL.  Safe on NULL. */
void fl_certdir_destroy(fl_certdir_t **self_p);

/*  The certificate with this public key (40 characters of Z85), or NULL.
 *  Only its public key and metadata are set.  Borrowed: valid until the
 *  next lookup or destroy. */
zcert_t *fl_certdir_lookup(fl_certdir_t *self, const char *public_txt);

/*  How many certificates the folder held at the last lookup (or at new). */
size_t fl_certdir_size(const fl_certdir_t *self);

#endif
