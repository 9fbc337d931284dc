/*
 * resource.c - decode the sysfs "resource" file.
 */
#include <errno.h>
#include <string.h>

#include "resource.h"

/* include/linux/ioport.h */
#define IORESOURCE_IO 0x00000100
#define IORESOURCE_MEM 0x00000200
#define IORESOURCE_PREFETCH 0x00002000
#define IORESOURCE_MEM_64 0x00100000
#define IORESOURCE_UNSET 0x20000000

#define LINE_IOV_FIRST 7
#define MAX_LINES 64

struct line {
    uint64_t start, end, flags;
};

static int hexnum(const char **p, const char *end, uint64_t *v_r)
{
    const char *s = *p;
    uint64_t v = 0;
    unsigned n = 0;
    int d;

    if (end - s < 3 || s[0] != '0' || s[1] != 'x') return -EINVAL;
    for (s += 2; s < end; s++, n++) {
        if (*s >= '0' && *s <= '9')
            d = *s - '0';
        else if (*s >= 'a' && *s <= 'f')
            d = *s - 'a' + 10;
        else
            break;
        if (n == 16) return -EINVAL;
        v = v << 4 | (uint64_t)d;
    }
    if (!n) return -EINVAL;
    *p = s;
    *v_r = v;
    return 0;
}

static int parse_line(const char *s, const char *end, struct line *l)
{
    if (hexnum(&s, end, &l->start) || s >= end || *s++ != ' ' ||
        hexnum(&s, end, &l->end) || s >= end || *s++ != ' ' ||
        hexnum(&s, end, &l->flags) || s != end)
        return -EINVAL;
    /* A resource spanning all 2^64 bytes has no size we can hold. */
    if (l->end < l->start || l->end - l->start == UINT64_MAX) return -EINVAL;
    return 0;
}

static xengpu_bar to_bar(unsigned index, const struct line *l)
{
    xengpu_bar bar = { .index = (uint8_t)index };

    bar.assigned = (l->start || l->end) && !(l->flags & IORESOURCE_UNSET);
    if (l->start || l->end) bar.size = l->end - l->start + 1;
    bar.io = (l->flags & IORESOURCE_IO) && !(l->flags & IORESOURCE_MEM);
    bar.is64 = (l->flags & IORESOURCE_MEM) && (l->flags & IORESOURCE_MEM_64);
    bar.prefetch =
        (l->flags & IORESOURCE_MEM) && (l->flags & IORESOURCE_PREFETCH);
    return bar;
}

static void keep(unsigned i, const struct line *l, xengpu_resources *r)
{
    if (!l->flags) return;
    if (i < XENGPU_NUM_BARS) {
        r->bars[r->nbars++] = to_bar(i, l);
    } else if (i == XENGPU_BAR_ROM) {
        r->has_rom = true;
        r->rom = to_bar(i, l);
    } else if (i < LINE_IOV_FIRST + XENGPU_NUM_BARS) {
        r->vf_bars[r->nvf_bars++] = to_bar(i - LINE_IOV_FIRST, l);
    }
}

int xengpu_resource_parse(const char *text, size_t len,
                          xengpu_resources *res_r)
{
    const char *p = text, *end = text + len, *nl;
    struct line l;
    unsigned i;

    memset(res_r, 0, sizeof(*res_r));
    for (i = 0; p < end; i++) {
        nl = memchr(p, '\n', (size_t)(end - p));
        if (!nl) nl = end;
        if (i == MAX_LINES || parse_line(p, nl, &l)) {
            memset(res_r, 0, sizeof(*res_r));
            return -EINVAL;
        }
        keep(i, &l, res_r);
        if (nl == end) break;
        p = nl + 1;
    }
    return 0;
}
