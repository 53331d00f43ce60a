/*  keys.h — fixed-width, big-endian composite keys for the store.
 *
 *  LMDB orders keys by memcmp.  Writing every number big-endian and every code
 *  as a fixed-width, zero-padded field makes that byte order the natural one:
 *  all slots of one service of one office sit together, in time order; tickets
 *  sort by office, day, prefix, number; events by office, then seq.  A range scan
 *  is then a cursor walk from a prefix.  Codes are [A-Z0-9] (schema.h), never
 *  NUL, so padding cannot make two codes collide.
 *
 *  Layouts (bytes):
 *    office          office(8)
 *    service         office(8) service(8)
 *    counter         office(8) counter(2)
 *    slot            office(8) service(8) start(8)
 *    booking         ref(1..16)                        (the reference text)
 *    citizen index   id_hash(32) service(8)            -> ref
 *    ticket          office(8) day(4) prefix(1) number(4)
 *    event           office(8) seq(8)
 *    waiting         = ticket key                      -> empty
 *    hold expiry     expires(8) ref(1..16)             -> empty
 *    idempotency     rid(8..64)
 *    idem expiry     expires(8) rid(8..64)             -> empty
 */
#ifndef FOLENI_STORE_KEYS_H
#define FOLENI_STORE_KEYS_H

#include <stddef.h>
#include <stdint.h>

#define STORE_CODE_WIDTH  8          /* office and service codes */
#define STORE_HASH_WIDTH  32         /* HMAC-SHA256 of a citizen's ID number */
#define STORE_KEY_MAX     80

typedef struct {
    uint8_t b[STORE_KEY_MAX];
    size_t  len;
} store_key_t;

/* Builders.  Codes longer than STORE_CODE_WIDTH, refs longer than 16 and rids
 * longer than 64 are programmer errors (the codec bounds them first): assert. */
store_key_t store_key_office(const char *office);
store_key_t store_key_service(const char *office, const char *service);
store_key_t store_key_counter(const char *office, unsigned counter);
store_key_t store_key_slot(const char *office, const char *service, uint64_t start);
/* All slots of one service of one office: the prefix of store_key_slot. */
store_key_t store_key_slot_prefix(const char *office, const char *service);
store_key_t store_key_booking(const char *ref);
store_key_t store_key_citizen(const uint8_t id_hash[STORE_HASH_WIDTH], const char *service);
store_key_t store_key_ticket(const char *office, uint32_t day, char prefix, uint32_t number);
/* All tickets of one office on one day. */
store_key_t store_key_ticket_day(const char *office, uint32_t day);
store_key_t store_key_event(const char *office, uint64_t seq);
store_key_t store_key_hold(uint64_t expires, const char *ref);
store_key_t store_key_idem(const char *rid);
store_key_t store_key_idem_expiry(uint64_t expires, const char *rid);

/* Big-endian helpers, also for reading keys back. */
void     store_be_put(uint8_t *out, uint64_t value, int width);
uint64_t store_be_get(const uint8_t *in, int width);

/*  Copy a zero-padded code field back into text (out has STORE_CODE_WIDTH+1
 *  bytes).  Returns out. */
char *store_code_get(const uint8_t *field, char out[STORE_CODE_WIDTH + 1]);

#endif
