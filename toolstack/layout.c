/*
 * layout.c - hvmloader's BAR placement, replayed on the host model.
 *
 * The placement below follows what Xen 4.17.5's hvmloader does (see
 * layout.h); it is written from that description, not from its code.
 */
#include <errno.h>
#include <stdarg.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "layout.h"
#include "pciback-helper/util.h"

#define KiB ((uint64_t)1 << 10)
#define MiB ((uint64_t)1 << 20)
#define GiB ((uint64_t)1 << 30)

#define MMIO_START_DEFAULT 0xf0000000ull /* HVM_BELOW_4G_MMIO_START */
#define MMIO_END 0xfc000000ull           /* RESERVED_MEMBASE */
#define BAR_RELOC_THRESH GiB             /* 64-bit BARs above: always high */
#define HOLE_STEP_MIB 64u
#define MAX_BAR_SIZE (1ull << 63)

/*
 * QEMU's own BARs in the hole, from the devices libxl 4.17 gives an HVM
 * guest with qemu-xen (libxl_dm.c, libxl__build_device_model_args_new()),
 * sized from QEMU 7.2 (Debian 12's qemu-system-x86), SeaBIOS 1.16.2 and
 * ipxe-qemu; option ROM files are rounded up to a power of two by QEMU:
 *
 *  - the emulated VGA, as cirrus-vga, libxl's default: BAR 0 32 MiB (a
 *    fixed window whatever videoram is), BAR 1 4 KiB of registers, and
 *    vgabios-cirrus.bin (38.5 KiB) as a 64 KiB ROM.  Cirrus is the
 *    largest of the two: std VGA ("VGA", vga = "stdvga") has BAR 0 =
 *    videoram, 16 MiB by default, BAR 2 4 KiB, a 64 KiB ROM.  The
 *    lspci-guestside-xen-hvm-aws-g2-grid-k520-passthrough.txt dump shows
 *    the same 32 MiB + 4 KiB and the platform device's 16 MiB;
 *  - the Xen platform device (xen-platform, machine xenfv): BAR 1 16 MiB
 *    (BAR 0 is 256 I/O ports);
 *  - four emulated NICs, as e1000 (the larger of e1000 and libxl's
 *    default rtl8139, whose registers are 256 bytes): BAR 0 128 KiB and
 *    efi-e1000.rom (244 KiB) as a 256 KiB ROM each.
 *
 * Not assumed: qxl (vga = "qxl": 64 + 64 MiB and more), std VGA with
 * videoram above 32 MiB, USB controllers (xhci 16 KiB), emulated SCSI.
 * All of these are counted as 32-bit, below 4 GiB.
 */
static const struct emu {
    const char *dev;
    uint8_t index;
    uint64_t size;
    unsigned count;
} emulated[] = {
    { "cirrus-vga", 0, 32 * MiB, 1 },
    { "cirrus-vga", 1, 4 * KiB, 1 },
    { "cirrus-vga", XENGPU_BAR_ROM, 64 * KiB, 1 },
    { "xen-platform", 1, 16 * MiB, 1 },
    { "e1000", 0, 128 * KiB, 4 },
    { "e1000", XENGPU_BAR_ROM, 256 * KiB, 4 },
};

/* One memory BAR or ROM as the guest will see it. */
struct lbar {
    uint64_t size; /* a power of two */
    bool is64;
    uint8_t index;           /* 0-5, XENGPU_BAR_ROM */
    const xengpu_card *card; /* NULL for QEMU's */
    const xengpu_pcidev *fn;
    const char *dev; /* QEMU's device */
    size_t order;    /* emulated first, then the cards in order */
};

struct bars {
    struct lbar *v;
    size_t n;
};

/* What replaying hvmloader with one hole gave. */
struct sim {
    const struct lbar *failed; /* the first BAR that found no room */
    bool relocated;            /* a 64-bit BAR <= 1 GiB went above 4 GiB */
    uint64_t must_low;         /* bytes that had to stay below */
};

void xengpu__size_format(uint64_t bytes, char *buf, size_t size)
{
    if (bytes && !(bytes % GiB))
        snprintf(buf, size, "%" PRIu64 " GiB", bytes / GiB);
    else if (bytes && !(bytes % MiB))
        snprintf(buf, size, "%" PRIu64 " MiB", bytes / MiB);
    else if (bytes >= MiB)
        snprintf(buf, size, "%.1f MiB", (double)bytes / MiB);
    else if (bytes && !(bytes % KiB))
        snprintf(buf, size, "%" PRIu64 " KiB", bytes / KiB);
    else
        snprintf(buf, size, "%" PRIu64 " bytes", bytes);
}

static void say(char *why, size_t whysize, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static void say(char *why, size_t whysize, const char *fmt, ...)
{
    va_list ap;

    if (!why || !whysize) return;
    va_start(ap, fmt);
    vsnprintf(why, whysize, fmt, ap);
    va_end(ap);
}

/* "BAR 1 of 0000:01:00.0 (256 MiB, 64-bit)", "QEMU's e1000 ROM (...)". */
static void bar_name(const struct lbar *b, char *buf, size_t size)
{
    char sz[XENGPU_SIZE_STRLEN], what[16];

    xengpu__size_format(b->size, sz, sizeof(sz));
    if (b->index == XENGPU_BAR_ROM)
        snprintf(what, sizeof(what), "ROM");
    else
        snprintf(what, sizeof(what), "BAR %u", b->index);
    if (b->card)
        snprintf(buf, size, "card %s: %s of %s (%s%s)", b->card->fns[0]->name,
                 what, b->fn->name, sz,
                 b->index == XENGPU_BAR_ROM ? ""
                 : b->is64                  ? ", 64-bit"
                                            : ", 32-bit");
    else
        snprintf(buf, size, "QEMU's %s %s (%s)", b->dev, what, sz);
}

static uint64_t pow2_up(uint64_t v)
{
    uint64_t p = 1;

    while (p < v)
        p <<= 1;
    return p;
}

static void add(struct bars *bs, const struct lbar *b)
{
    bs->v = xengpu__xreallocarray(bs->v, bs->n + 1, sizeof(*bs->v));
    bs->v[bs->n] = *b;
    bs->v[bs->n].order = bs->n;
    bs->n++;
}

static void add_emulated(struct bars *bs)
{
    size_t i;
    unsigned k;

    for (i = 0; i < ARRAY_SIZE(emulated); i++) {
        struct lbar b = { .size = emulated[i].size,
                          .index = emulated[i].index,
                          .dev = emulated[i].dev };

        for (k = 0; k < emulated[i].count; k++)
            add(bs, &b);
    }
}

/* BAR or ROM BAR of FN, added as QEMU will pass it through. */
static int add_bar(struct bars *bs, const xengpu_card *card,
                   const xengpu_pcidev *fn, const xengpu_bar *bar, char *why,
                   size_t whysize)
{
    bool rom = bar->index == XENGPU_BAR_ROM;
    struct lbar b = {
        .is64 = bar->is64 && !rom, .index = bar->index, .card = card, .fn = fn
    };
    char name[128];

    if (bar->io) return 0;
    /* QEMU leaves out a ROM without an address; the guest just has none. */
    if (rom && (!bar->assigned || !bar->size)) return 0;
    b.size = bar->size;
    bar_name(&b, name, sizeof(name));
    if (!bar->assigned || !bar->size) {
        say(why, whysize,
            "card %s: BAR %u of %s is unassigned on this host, and QEMU "
            "passes through only assigned BARs, so the guest's driver would "
            "miss it; have the host assign it (Above 4G Decoding in the "
            "firmware, or pci=realloc)",
            card->fns[0]->name, bar->index, fn->name);
        return -ENODATA;
    }
    if (bar->size > MAX_BAR_SIZE || (!b.is64 && bar->size >= 4 * GiB)) {
        say(why, whysize, "%s is not a real BAR", name);
        return -EINVAL;
    }
    b.size = pow2_up(bar->size);
    add(bs, &b);
    return 0;
}

static int add_card(struct bars *bs, const xengpu_card *card, char *why,
                    size_t whysize)
{
    const xengpu_pcidev *fn;
    size_t i;
    unsigned j;
    int rc;

    for (i = 0; i < card->nfns; i++) {
        fn = card->fns[i];
        if (!fn->res_known) {
            say(why, whysize,
                "card %s: the BARs of %s are unknown (no readable resource "
                "file)",
                card->fns[0]->name, fn->name);
            return -ENODATA;
        }
        for (j = 0; j < fn->res.nbars; j++) {
            rc = add_bar(bs, card, fn, &fn->res.bars[j], why, whysize);
            if (rc) return rc;
        }
        if (fn->res.has_rom) {
            rc = add_bar(bs, card, fn, &fn->res.rom, why, whysize);
            if (rc) return rc;
        }
    }
    return 0;
}

/* hvmloader sorts by size, largest first; equal sizes keep bus order. */
static int cmp_lbar(const void *a, const void *b)
{
    const struct lbar *x = a, *y = b;

    if (x->size != y->size) return x->size > y->size ? -1 : 1;
    return x->order < y->order ? -1 : x->order > y->order;
}

/* QEMU's BARs and the cards', sorted as hvmloader will place them. */
static int collect(const xengpu_card *const *cards, size_t n, struct bars *bs,
                   char *why, size_t whysize)
{
    size_t i;
    int rc;

    add_emulated(bs);
    for (i = 0; i < n; i++) {
        rc = add_card(bs, cards[i], why, whysize);
        if (rc) return rc;
    }
    qsort(bs->v, bs->n, sizeof(*bs->v), cmp_lbar);
    return 0;
}

/* Where hvmloader starts placing BARs for a hole of HOLE_MIB (0: none). */
static uint64_t hole_start(unsigned hole_mib)
{
    return hole_mib ? 4 * GiB - hole_mib * MiB : MMIO_START_DEFAULT;
}

/*
 * Replay hvmloader's placement with BARs from START to MMIO_END.  Above 4
 * GiB everything fits (the limit there is not modelled).
 */
static void simulate(const struct bars *bs, uint64_t start, struct sim *s)
{
    uint64_t total = 0, base = start, at, sz;
    bool relocate = false, high;
    size_t i;

    memset(s, 0, sizeof(*s));
    for (i = 0; i < bs->n; i++) {
        if (!bs->v[i].is64) s->must_low += bs->v[i].size;
        if (bs->v[i].is64 && bs->v[i].size > BAR_RELOC_THRESH)
            relocate = true;
        else
            total += bs->v[i].size;
    }
    if (total > MMIO_END - start) relocate = true;
    for (i = 0; i < bs->n; i++) {
        sz = bs->v[i].size;
        /* hvmloader compares with the room left, before alignment. */
        high = bs->v[i].is64 && relocate &&
               (total > MMIO_END - base || sz > BAR_RELOC_THRESH);
        if (sz <= BAR_RELOC_THRESH) total -= sz;
        if (high) {
            if (sz <= BAR_RELOC_THRESH) s->relocated = true;
            continue;
        }
        at = (base + sz - 1) & ~(sz - 1);
        if (at + sz > MMIO_END) {
            if (!s->failed) s->failed = &bs->v[i];
            continue;
        }
        base = at + sz;
    }
}

/*
 * The smallest hole (multiple of HOLE_STEP_MIB) with every BAR of 1 GiB
 * or less below 4 GiB, else the smallest with every BAR placed; -ENOSPC
 * when there is none.
 */
static int recommend(const struct bars *bs, unsigned *hole_r,
                     bool *relocated_r)
{
    unsigned h, placed = 0;
    struct sim s;

    for (h = XENGPU_MMIO_HOLE_MIN; h <= XENGPU_MMIO_HOLE_MAX;
         h += HOLE_STEP_MIB) {
        simulate(bs, hole_start(h), &s);
        if (s.failed) continue;
        if (!s.relocated) {
            *hole_r = h;
            *relocated_r = false;
            return 0;
        }
        if (!placed) placed = h;
    }
    if (!placed) return -ENOSPC;
    *hole_r = placed;
    *relocated_r = true;
    return 0;
}

static void summarize(const struct bars *bs, xengpu_layout_need *need)
{
    const struct lbar *b;
    size_t i;

    for (i = 0; i < bs->n; i++) {
        b = &bs->v[i];
        if (!b->card) {
            need->emulated_bytes += b->size;
            continue;
        }
        if (!b->is64)
            need->low_bytes += b->size;
        else if (need->high_bytes > UINT64_MAX - b->size)
            need->high_bytes = UINT64_MAX;
        else
            need->high_bytes += b->size;
        if (b->size > need->largest_bar) {
            need->largest_bar = b->size;
            need->largest_fn = b->fn;
            need->largest_index = b->index;
        }
    }
}

/* WHY for a failed placement S with hole HOLE_MIB (0: the default). */
static void explain(const struct bars *bs, const struct sim *s,
                    unsigned hole_mib, char *why, size_t whysize)
{
    char name[128], room[XENGPU_SIZE_STRLEN], low[XENGPU_SIZE_STRLEN],
        hole[48], advice[48];
    unsigned h;
    bool reloc;

    bar_name(s->failed, name, sizeof(name));
    xengpu__size_format(MMIO_END - hole_start(hole_mib), room, sizeof(room));
    xengpu__size_format(s->must_low, low, sizeof(low));
    if (hole_mib)
        snprintf(hole, sizeof(hole), "mmio_hole = %u", hole_mib);
    else
        snprintf(hole, sizeof(hole), "the default %u MiB MMIO hole",
                 XENGPU_MMIO_HOLE_MIN);
    if (recommend(bs, &h, &reloc))
        snprintf(advice, sizeof(advice), "no mmio_hole up to %u would do",
                 XENGPU_MMIO_HOLE_MAX);
    else
        snprintf(advice, sizeof(advice), "use mmio_hole = %u", h);
    say(why, whysize,
        "%s finds no room below 4 GiB with %s (%s for BARs, %s of 32-bit "
        "BARs and ROMs); %s",
        name, hole, room, low, advice);
}

int xengpu_layout_plan(const xengpu_card *const *cards, size_t n,
                       xengpu_layout_need *need_r, char *why, size_t whysize)
{
    xengpu_layout_need need;
    struct bars bs = { NULL, 0 };
    struct sim s;
    int rc;

    memset(&need, 0, sizeof(need));
    rc = collect(cards, n, &bs, why, whysize);
    if (rc) goto out;
    summarize(&bs, &need);
    rc = recommend(&bs, &need.hole_mib, &need.relocated);
    if (rc) {
        simulate(&bs, hole_start(XENGPU_MMIO_HOLE_MAX), &s);
        explain(&bs, &s, XENGPU_MMIO_HOLE_MAX, why, whysize);
        goto out;
    }
    *need_r = need;
out:
    free(bs.v);
    return rc;
}

int xengpu_layout_check(const xengpu_card *const *cards, size_t n,
                        unsigned hole_mib, char *why, size_t whysize)
{
    struct bars bs = { NULL, 0 };
    struct sim s;
    int rc;

    if (hole_mib &&
        (hole_mib < XENGPU_MMIO_HOLE_MIN || hole_mib > XENGPU_MMIO_HOLE_MAX)) {
        say(why, whysize, "mmio_hole = %u is outside xl's range %u to %u",
            hole_mib, XENGPU_MMIO_HOLE_MIN, XENGPU_MMIO_HOLE_MAX);
        return -EINVAL;
    }
    rc = collect(cards, n, &bs, why, whysize);
    if (rc) goto out;
    simulate(&bs, hole_start(hole_mib), &s);
    if (s.failed) {
        explain(&bs, &s, hole_mib, why, whysize);
        rc = -ENOSPC;
    }
out:
    free(bs.v);
    return rc;
}
