/*  bus.h — the event bus seen from a process: publish, or subscribe by office.
 *
 *  The broker passes every message from its XSUB endpoint (publishers connect
 *  there: the scheduler) to its XPUB endpoint (subscribers connect there:
 *  displays, counters, portals).  An event is two frames: the topic, which
 *  begins with the office code ("NBIGPO" or "NBIGPO.call"), then the msgpack
 *  `event` body.  A subscriber filters by prefix, so subscribing to "NBIGPO"
 *  gets every event of that office and none of another.
 *
 *  ZeroMQ's PUB drops messages at its high-water mark and a late subscriber
 *  misses what came before it joined: events carry a per-office seq so a
 *  subscriber can see a gap and take a fresh snapshot (the Clone pattern).
 */
#ifndef FOLENI_BUS_H
#define FOLENI_BUS_H

#include <czmq.h>

#include "libfoleni/error.h"
#include "libfoleni/security.h"

/*  A PUB socket connected to the broker's publish endpoint, with a high-water
 *  mark large enough for bursts.  security may be NULL.  NULL with err. */
zsock_t *fl_bus_publisher(const char *endpoint, const fl_security_t *security, fl_error_t *err);

/*  A SUB socket connected to the broker's subscribe endpoint, subscribed to
 *  each of the n topic prefixes (n == 0: everything).  NULL with err. */
zsock_t *fl_bus_subscriber(const char *endpoint, const fl_security_t *security, const char *const *topics,
                           size_t n, fl_error_t *err);

/*  Publish one event: topic frame, then body.  0 or FL_E_IO. */
int fl_bus_publish(zsock_t *publisher, const char *topic, const void *body, size_t len);

#endif
