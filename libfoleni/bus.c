/*  bus.c — publisher and subscriber sockets for the event bus.  See bus.h. */
#include "libfoleni/bus.h"

#define BUS_HWM 100000              /* events buffered per peer before drops */

static zsock_t *
s_socket(int type, const char *endpoint, const fl_security_t *security, fl_error_t *err)
{
    zsock_t *sock = zsock_new(type);
    if (!sock) {
        fl_error_set(err, FL_E_IO, "", "cannot create a socket");
        return NULL;
    }
    zsock_set_linger(sock, 0);
    zsock_set_sndhwm(sock, BUS_HWM);
    zsock_set_rcvhwm(sock, BUS_HWM);
    fl_security_apply(security, sock);
    if (zsock_connect(sock, "%s", endpoint) != 0) {
        fl_error_set(err, FL_E_IO, "endpoint", "cannot connect to %s", endpoint);
        zsock_destroy(&sock);
    }
    return sock;
}

zsock_t *
fl_bus_publisher(const char *endpoint, const fl_security_t *security, fl_error_t *err)
{
    return s_socket(ZMQ_PUB, endpoint, security, err);
}

zsock_t *
fl_bus_subscriber(const char *endpoint, const fl_security_t *security, const char *const *topics, size_t n,
                  fl_error_t *err)
{
    zsock_t *sock = s_socket(ZMQ_SUB, endpoint, security, err);
    if (!sock)
        return NULL;
    if (n == 0)
        zsock_set_subscribe(sock, "");
    for (size_t i = 0; i < n; i++)
        zsock_set_subscribe(sock, topics[i]);
    return sock;
}

int
fl_bus_publish(zsock_t *publisher, const char *topic, const void *body, size_t len)
{
    zmsg_t *msg = zmsg_new();
    zmsg_addstr(msg, topic);
    zmsg_addmem(msg, body, len);
    int rc = zmsg_send(&msg, publisher) == 0 ? 0 : FL_E_IO;
    zmsg_destroy(&msg);                 /* CZMQ keeps a message it could not send */
    return rc;
}
