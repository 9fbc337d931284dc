/*
 * bdf.c - strict PCI address parser and canonical formatter.
 *
 * Hand-written rather than sscanf(): "%x" skips white space, accepts a
 * sign and "0x", and silently truncates long fields, which is exactly
 * what must be refused before an address reaches sysfs.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "bdf.h"

#define DOMAIN_WIDTH 4
#define BUS_WIDTH 2
#define DEV_WIDTH 2
#define FN_WIDTH 1
#define DEV_MAX 0x1f
#define FN_MAX 0x7

struct cursor {
    const char *p;
    const char *end;
    unsigned flags;
};

static int hexdigit(char c, unsigned flags)
{
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F' && !(flags & XENGPU_BDF_CANONICAL))
        return c - 'A' + 10;
    return -1;
}

/*
 * One hex field of at most WIDTH digits (exactly WIDTH when canonical).
 * Reads one digit past WIDTH so that an overlong field is refused rather
 * than split.
 */
static int hexfield(struct cursor *c, unsigned width, unsigned *val_r)
{
    unsigned v = 0, n = 0;
    int d;

    while (c->p < c->end && n <= width) {
        d = hexdigit(*c->p, c->flags);
        if (d < 0) break;
        v = v << 4 | (unsigned)d;
        n++;
        c->p++;
    }
    if (n == 0 || n > width) return -EINVAL;
    if ((c->flags & XENGPU_BDF_CANONICAL) && n != width) return -EINVAL;
    *val_r = v;
    return 0;
}

static int expect(struct cursor *c, char sep)
{
    if (c->p >= c->end || *c->p != sep) return -EINVAL;
    c->p++;
    return 0;
}

static unsigned count_char(const char *s, size_t len, char ch)
{
    unsigned n = 0;
    size_t i;

    for (i = 0; i < len; i++)
        n += s[i] == ch;
    return n;
}

/* "[D:]B:S" then, when WANT_FN, ".F"; nothing may follow. */
static int parse_addr(const char *s, size_t len, unsigned flags, bool want_fn,
                      xengpu_bdf *bdf_r)
{
    struct cursor c = { s, s + len, flags };
    unsigned colons = count_char(s, len, ':');
    unsigned domain = 0, bus, dev, fn = 0;

    if (colons == 2) {
        if (hexfield(&c, DOMAIN_WIDTH, &domain) || expect(&c, ':'))
            return -EINVAL;
    } else if (colons != 1 || (flags & XENGPU_BDF_CANONICAL)) {
        return -EINVAL;
    }
    if (hexfield(&c, BUS_WIDTH, &bus) || expect(&c, ':') ||
        hexfield(&c, DEV_WIDTH, &dev))
        return -EINVAL;
    if (want_fn && (expect(&c, '.') || hexfield(&c, FN_WIDTH, &fn)))
        return -EINVAL;
    if (c.p != c.end || dev > DEV_MAX || fn > FN_MAX) return -EINVAL;

    bdf_r->domain = (uint16_t)domain;
    bdf_r->bus = (uint8_t)bus;
    bdf_r->dev = (uint8_t)dev;
    bdf_r->fn = (uint8_t)fn;
    return 0;
}

int xengpu_bdf_parse_mem(const char *s, size_t len, unsigned flags,
                         xengpu_bdf *bdf_r)
{
    return parse_addr(s, len, flags, true, bdf_r);
}

int xengpu_bdf_parse(const char *s, unsigned flags, xengpu_bdf *bdf_r)
{
    return parse_addr(s, strlen(s), flags, true, bdf_r);
}

int xengpu_slot_parse_mem(const char *s, size_t len, unsigned flags,
                          xengpu_bdf *slot_r)
{
    return parse_addr(s, len, flags, false, slot_r);
}

int xengpu_slot_parse(const char *s, unsigned flags, xengpu_bdf *slot_r)
{
    return parse_addr(s, strlen(s), flags, false, slot_r);
}

int xengpu_bdf_format(const xengpu_bdf *bdf, char *buf, size_t size)
{
    if (bdf->dev > DEV_MAX || bdf->fn > FN_MAX) return -EINVAL;
    if (size < XENGPU_BDF_STRLEN) return -ENOSPC;
    snprintf(buf, size, "%04x:%02x:%02x.%x", bdf->domain, bdf->bus, bdf->dev,
             bdf->fn);
    return 0;
}

int xengpu_slot_format(const xengpu_bdf *slot, char *buf, size_t size)
{
    if (slot->dev > DEV_MAX) return -EINVAL;
    if (size < XENGPU_SLOT_STRLEN) return -ENOSPC;
    snprintf(buf, size, "%04x:%02x:%02x", slot->domain, slot->bus, slot->dev);
    return 0;
}

int xengpu_bdf_cmp(const xengpu_bdf *a, const xengpu_bdf *b)
{
    uint32_t x = xengpu_bdf_to_sbdf(a), y = xengpu_bdf_to_sbdf(b);

    return (x > y) - (x < y);
}

bool xengpu_bdf_same_slot(const xengpu_bdf *a, const xengpu_bdf *b)
{
    return a->domain == b->domain && a->bus == b->bus && a->dev == b->dev;
}

uint32_t xengpu_bdf_to_sbdf(const xengpu_bdf *bdf)
{
    return (uint32_t)bdf->domain << 16 | (uint32_t)bdf->bus << 8 |
           (uint32_t)(bdf->dev & DEV_MAX) << 3 | (bdf->fn & FN_MAX);
}

xengpu_bdf xengpu_bdf_from_sbdf(uint32_t sbdf)
{
    xengpu_bdf bdf = {
        .domain = (uint16_t)(sbdf >> 16),
        .bus = (uint8_t)(sbdf >> 8),
        .dev = (uint8_t)((sbdf >> 3) & DEV_MAX),
        .fn = (uint8_t)(sbdf & FN_MAX),
    };

    return bdf;
}
