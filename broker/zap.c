/*  zap.c — answering ZAP requests from a directory of certificates.  See zap.h. */
#include "broker/zap.h"

#include <string.h>
#include <sys/stat.h>

#include "libfoleni/certdir.h"
#include "libfoleni/log.h"
#include "libfoleni/security.h"

#define ZAP_ENDPOINT "inproc://zeromq.zap.01"

struct zap {
    zsock_t *sock;
    fl_certdir_t *allowed;
};

zap_t *
zap_new(const char *dir, fl_error_t *err)
{
    struct stat st;
    if (stat(dir, &st) != 0 || !S_ISDIR(st.st_mode)) {
        fl_error_set(err, FL_E_IO, "clients", "%s: not a directory of client certificates", dir);
        return NULL;
    }
    zap_t *self = calloc(1, sizeof *self);
    if (!self) {
        fl_error_set(err, FL_E_NOMEM, "", "out of memory");
        return NULL;
    }
    if (!(self->allowed = fl_certdir_new(dir, err))) {
        zap_destroy(&self);
        return NULL;
    }
    self->sock = zsock_new(ZMQ_REP);
    if (!self->sock || zsock_bind(self->sock, ZAP_ENDPOINT) != 0) {
        fl_error_set(err, FL_E_IO, "", "cannot start the authenticator on %s", ZAP_ENDPOINT);
        zap_destroy(&self);
    }
    return self;
}

void
zap_destroy(zap_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    zsock_destroy(&(*self_p)->sock);
    fl_certdir_destroy(&(*self_p)->allowed);
    free(*self_p);
    *self_p = NULL;
}

zsock_t *
zap_socket(zap_t *self)
{
    return self->sock;
}

int
zap_handle(zap_t *self)
{
    zmsg_t *req = zmsg_recv(self->sock);
    if (!req)
        return -1;
    /* version, request id, domain, address, routing id, mechanism, credentials... */
    char *version = zmsg_popstr(req), *request_id = zmsg_popstr(req), *domain = zmsg_popstr(req);
    char *address = zmsg_popstr(req), *routing = zmsg_popstr(req), *mechanism = zmsg_popstr(req);
    zframe_t *key = zmsg_pop(req);
    char key_text[FL_CURVE_KEY_TEXT + 1] = "";
    const char *refusal = NULL;
    if (!version || strcmp(version, "1.0") != 0)
        refusal = "unknown ZAP version";
    else if (!domain || strcmp(domain, FL_ZAP_DOMAIN) != 0)
        refusal = "unknown domain";
    else if (!mechanism || strcmp(mechanism, "CURVE") != 0)
        refusal = "only CURVE is accepted";
    else if (!key || zframe_size(key) != 32)
        refusal = "malformed CURVE key";
    else {
        zmq_z85_encode(key_text, zframe_data(key), 32);
        if (!fl_certdir_lookup(self->allowed, key_text))
            refusal = "key not allowed";
    }
    zmsg_t *reply = zmsg_new();
    zmsg_addstr(reply, "1.0");
    zmsg_addstr(reply, request_id ? request_id : "");
    zmsg_addstr(reply, refusal ? "400" : "200");
    zmsg_addstr(reply, refusal ? refusal : "OK");
    zmsg_addstr(reply, refusal ? "" : key_text);        /* User-Id */
    zmsg_addmem(reply, NULL, 0);                         /* no metadata */
    zmsg_send(&reply, self->sock);
    if (refusal)
        fl_log(FL_LOG_WARN, "refused a peer", FL_S("reason", refusal), FL_S("address", address ? address : ""),
               FL_S("key", key_text), NULL);
    zstr_free(&version);
    zstr_free(&request_id);
    zstr_free(&domain);
    zstr_free(&address);
    zstr_free(&routing);
    zstr_free(&mechanism);
    zframe_destroy(&key);
    zmsg_destroy(&req);
    return refusal ? 0 : 1;
}
