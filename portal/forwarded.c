/*  forwarded.c — the citizen's address behind a reverse proxy.
 *
 *  A portal behind a TLS proxy sees every request come from the proxy, so its
 *  per-address rate limit would be one bucket for the whole country.  When the
 *  operator names the proxies it trusts (--trust-proxy: addresses, or ranges
 *  such as 10.0.0.0/8 for proxies that come and go, as in Kubernetes), a
 *  request whose TCP peer is one of them is counted under the address the proxy reports in
 *  X-Forwarded-For.  Only that peer is believed: the header is read from the
 *  right (each proxy appends the address it saw), trusted proxies are skipped,
 *  and the first address that is not one of them is the client.  Anything a
 *  client wrote further left is never reached.  A header that is missing, too
 *  long or malformed before a client address is found leaves the peer's own
 *  address: a broken proxy makes the limit stricter, never looser.
 */
#include "portal/internal.h"

#include <arpa/inet.h>
#include <stdint.h>
#include <string.h>

/* An address in a fixed binary form for comparison: IPv4 as ::ffff:a.b.c.d. */
static bool
s_parse(const char *text, size_t len, struct in6_addr *out)
{
    char buf[INET6_ADDRSTRLEN];
    if (len == 0 || len >= sizeof buf)
        return false;
    memcpy(buf, text, len);
    buf[len] = '\0';
    struct in_addr v4;
    if (inet_pton(AF_INET, buf, &v4) == 1) {
        memset(out, 0, sizeof *out);
        out->s6_addr[10] = out->s6_addr[11] = 0xff;
        memcpy(&out->s6_addr[12], &v4, 4);
        return true;
    }
    return inet_pton(AF_INET6, buf, out) == 1;
}

/* One entry of --trust-proxy: an address, or a range ADDR/BITS (BITS 8..32
 * for IPv4, 7..128 for IPv6: nothing wider than 10.0.0.0/8 or fc00::/7, the
 * widest private ranges).  The address of a range must have no bits set
 * past its prefix, so "10.0.0.1/8" is refused rather than read as 10.0.0.0/8:
 * a typo in a trust list should stop the portal, not widen the trust; and
 * "0.0.0.0/0" would let every client name its own address. */
static bool
s_parse_range(const char *text, size_t len, struct in6_addr *addr, unsigned *bits)
{
    const char *slash = memchr(text, '/', len);
    size_t addr_len = slash ? (size_t) (slash - text) : len;
    if (!s_parse(text, addr_len, addr))
        return false;
    bool v4 = memchr(text, ':', addr_len) == NULL;
    unsigned max = v4 ? 32 : 128;
    unsigned prefix = max;
    if (slash) {
        size_t digits = len - addr_len - 1;
        if (digits < 1 || digits > 3 || strspn(slash + 1, "0123456789") < digits)
            return false;
        prefix = 0;
        for (size_t i = 0; i < digits; i++)
            prefix = prefix * 10 + (unsigned) (slash[1 + i] - '0');
        if (prefix > max || prefix < (v4 ? 8u : 7u))
            return false;
    }
    *bits = v4 ? prefix + 96 : prefix;      /* IPv4 is held as ::ffff:a.b.c.d */
    for (unsigned bit = *bits; bit < 128; bit++)
        if (addr->s6_addr[bit / 8] & (0x80u >> (bit % 8)))
            return false;                   /* set past the prefix */
    return true;
}

int
forwarded_trust_parse(const char *list, forwarded_trust_t *out)
{
    memset(out, 0, sizeof *out);
    const char *p = list;
    while (*p) {
        size_t len = strcspn(p, ",");
        if (out->n == FORWARDED_TRUST_MAX || !s_parse_range(p, len, &out->addr[out->n], &out->bits[out->n]))
            return FL_E_INVALID;
        out->n++;
        p += len;
        if (*p == ',')
            p++;
    }
    return out->n ? 0 : FL_E_INVALID;
}

/* Whether a's first bits bits equal those of prefix. */
static bool
s_in_range(const struct in6_addr *prefix, unsigned bits, const struct in6_addr *a)
{
    unsigned whole = bits / 8, rest = bits % 8;
    if (memcmp(prefix->s6_addr, a->s6_addr, whole) != 0)
        return false;
    if (!rest)
        return true;
    uint8_t mask = (uint8_t) (0xffu << (8 - rest));
    return (prefix->s6_addr[whole] & mask) == (a->s6_addr[whole] & mask);
}

static bool
s_trusted(const forwarded_trust_t *trust, const struct in6_addr *a)
{
    for (size_t i = 0; i < trust->n; i++)
        if (s_in_range(&trust->addr[i], trust->bits[i], a))
            return true;
    return false;
}

bool
forwarded_is_trusted(const forwarded_trust_t *trust, const struct sockaddr *peer)
{
    struct in6_addr a;
    if (!trust || !trust->n || !peer)
        return false;
    if (peer->sa_family == AF_INET) {
        memset(&a, 0, sizeof a);
        a.s6_addr[10] = a.s6_addr[11] = 0xff;
        memcpy(&a.s6_addr[12], &((const struct sockaddr_in *) peer)->sin_addr, 4);
    } else if (peer->sa_family == AF_INET6)
        a = ((const struct sockaddr_in6 *) peer)->sin6_addr;
    else
        return false;
    return s_trusted(trust, &a);
}

bool
forwarded_client(const forwarded_trust_t *trust, const char *header, char *out, size_t cap)
{
    if (!header)
        return false;
    size_t end = strnlen(header, FORWARDED_HEADER_MAX + 1);
    if (end > FORWARDED_HEADER_MAX)
        return false;
    for (int hops = 0; end > 0 && hops < FORWARDED_HOPS_MAX; hops++) {
        size_t start = end;
        while (start > 0 && header[start - 1] != ',')
            start--;
        size_t from = start, to = end;          /* trim the spaces around one entry */
        while (from < to && (header[from] == ' ' || header[from] == '\t'))
            from++;
        while (to > from && (header[to - 1] == ' ' || header[to - 1] == '\t'))
            to--;
        struct in6_addr a;
        if (!s_parse(header + from, to - from, &a))
            return false;
        if (!s_trusted(trust, &a)) {
            if (to - from >= cap)
                return false;
            memcpy(out, header + from, to - from);
            out[to - from] = '\0';
            return true;
        }
        end = start ? start - 1 : 0;
    }
    return false;
}
