/*  keys.c — building the store's composite keys.  See keys.h for the layouts. */
#include "store/keys.h"

#include <assert.h>
#include <string.h>

void
store_be_put(uint8_t *out, uint64_t value, int width)
{
    for (int i = width - 1; i >= 0; i--) {
        out[i] = (uint8_t) value;
        value >>= 8;
    }
}

uint64_t
store_be_get(const uint8_t *in, int width)
{
    uint64_t v = 0;
    for (int i = 0; i < width; i++)
        v = v << 8 | in[i];
    return v;
}

char *
store_code_get(const uint8_t *field, char out[STORE_CODE_WIDTH + 1])
{
    memcpy(out, field, STORE_CODE_WIDTH);
    out[STORE_CODE_WIDTH] = '\0';
    return out;
}

static void
s_code(store_key_t *k, const char *code)
{
    size_t n = strlen(code);
    assert(n <= STORE_CODE_WIDTH);
    memset(k->b + k->len, 0, STORE_CODE_WIDTH);
    memcpy(k->b + k->len, code, n);
    k->len += STORE_CODE_WIDTH;
}

static void
s_num(store_key_t *k, uint64_t v, int width)
{
    store_be_put(k->b + k->len, v, width);
    k->len += (size_t) width;
}

static void
s_bytes(store_key_t *k, const void *p, size_t n)
{
    assert(k->len + n <= STORE_KEY_MAX);
    memcpy(k->b + k->len, p, n);
    k->len += n;
}

store_key_t
store_key_office(const char *office)
{
    store_key_t k = { .len = 0 };
    s_code(&k, office);
    return k;
}

store_key_t
store_key_service(const char *office, const char *service)
{
    store_key_t k = store_key_office(office);
    s_code(&k, service);
    return k;
}

store_key_t
store_key_counter(const char *office, unsigned counter)
{
    store_key_t k = store_key_office(office);
    s_num(&k, counter, 2);
    return k;
}

store_key_t
store_key_slot_prefix(const char *office, const char *service)
{
    return store_key_service(office, service);
}

store_key_t
store_key_slot(const char *office, const char *service, uint64_t start)
{
    store_key_t k = store_key_service(office, service);
    s_num(&k, start, 8);
    return k;
}

store_key_t
store_key_booking(const char *ref)
{
    store_key_t k = { .len = 0 };
    size_t n = strlen(ref);
    assert(n >= 1 && n <= 16);
    s_bytes(&k, ref, n);
    return k;
}

store_key_t
store_key_citizen(const uint8_t id_hash[STORE_HASH_WIDTH], const char *service)
{
    store_key_t k = { .len = 0 };
    s_bytes(&k, id_hash, STORE_HASH_WIDTH);
    s_code(&k, service);
    return k;
}

store_key_t
store_key_ticket_day(const char *office, uint32_t day)
{
    store_key_t k = store_key_office(office);
    s_num(&k, day, 4);
    return k;
}

store_key_t
store_key_ticket(const char *office, uint32_t day, char prefix, uint32_t number)
{
    store_key_t k = store_key_ticket_day(office, day);
    k.b[k.len++] = (uint8_t) prefix;
    s_num(&k, number, 4);
    return k;
}

store_key_t
store_key_event(const char *office, uint64_t seq)
{
    store_key_t k = store_key_office(office);
    s_num(&k, seq, 8);
    return k;
}

store_key_t
store_key_hold(uint64_t expires, const char *ref)
{
    store_key_t k = { .len = 0 };
    s_num(&k, expires, 8);
    size_t n = strlen(ref);
    assert(n >= 1 && n <= 16);
    s_bytes(&k, ref, n);
    return k;
}

store_key_t
store_key_idem(const char *rid)
{
    store_key_t k = { .len = 0 };
    size_t n = strlen(rid);
    assert(n >= 1 && n <= 64);
    s_bytes(&k, rid, n);
    return k;
}

store_key_t
store_key_idem_expiry(uint64_t expires, const char *rid)
{
    store_key_t k = { .len = 0 };
    s_num(&k, expires, 8);
    size_t n = strlen(rid);
    assert(n >= 1 && n <= 64);
    s_bytes(&k, rid, n);
    return k;
}
