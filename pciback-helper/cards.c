/*
 * cards.c - group functions into cards.
 *
 * A card is the non-VF, non-bridge functions of one slot holding a
 * display (class 03xx) or processing accelerator (class 12xx) function;
 * a VF of such a class is a card alone.  Only the class decides, never
 * the vendor.
 */
#include <stdlib.h>
#include <string.h>

#include "host-private.h"
#include "util.h"

static bool is_card_class(const xengpu_pcidev *dev)
{
    unsigned base = dev->class >> 16;

    return dev->ids_known && !dev->is_bridge && (base == 0x03 || base == 0x12);
}

static bool slot_member(const xengpu_pcidev *dev, const xengpu_bdf *slot)
{
    return !dev->is_vf && !dev->is_bridge &&
           xengpu_bdf_same_slot(&dev->bdf, slot);
}

/* Bounds of DEV's slot in the sorted array: [*first, *end). */
static void slot_range(const xengpu_host *host, size_t i, size_t *first,
                       size_t *end)
{
    const xengpu_bdf *slot = &host->devs[i].bdf;
    size_t a = i, b = i + 1;

    while (a > 0 && xengpu_bdf_same_slot(&host->devs[a - 1].bdf, slot))
        a--;
    while (b < host->ndevs && xengpu_bdf_same_slot(&host->devs[b].bdf, slot))
        b++;
    *first = a;
    *end = b;
}

static void set_functions(const xengpu_host *host, size_t i, xengpu_card *card)
{
    const xengpu_pcidev *dev = &host->devs[i];
    size_t a, b, j;

    if (dev->is_vf) {
        card->fns = xengpu__xcalloc(1, sizeof(*card->fns));
        card->fns[card->nfns++] = dev;
        return;
    }
    slot_range(host, i, &a, &b);
    card->fns = xengpu__xcalloc(b - a, sizeof(*card->fns));
    for (j = a; j < b; j++)
        if (slot_member(&host->devs[j], &dev->bdf))
            card->fns[card->nfns++] = &host->devs[j];
}

static void set_upstream(xengpu_card *card)
{
    const xengpu_pcidev *p;
    size_t n = 0;

    for (p = card->fns[0]->parent; p && n < XENGPU_MAX_DEPTH; p = p->parent)
        n++;
    card->upstream = xengpu__xcalloc(n, sizeof(*card->upstream));
    for (p = card->fns[0]->parent; p && card->nupstream < n; p = p->parent)
        card->upstream[card->nupstream++] = p;
}

static bool in_card(const xengpu_card *card, const xengpu_pcidev *dev)
{
    size_t i;

    for (i = 0; i < card->nfns; i++)
        if (card->fns[i] == dev) return true;
    return false;
}

static bool subtree_is_card(const xengpu_host *host, const xengpu_card *card,
                            const xengpu_pcidev *bridge)
{
    size_t i;

    for (i = 0; i < host->ndevs; i++)
        if (!host->devs[i].is_bridge && !in_card(card, &host->devs[i]) &&
            xengpu__is_below(&host->devs[i], bridge))
            return false;
    return true;
}

/*
 * On-card switch ports: the nearest upstream bridges that are PCIe
 * switch ports and have nothing but this card below them.  They are
 * the first entries of card->upstream.
 */
static void set_switch_ports(const xengpu_host *host, xengpu_card *card)
{
    const xengpu_pcidev *b;
    size_t k;

    card->switch_ports = card->upstream;
    if (card->is_vf) return;
    for (k = 0; k < card->nupstream; k++) {
        b = card->upstream[k];
        if (!b->cfg.has_pcie || (b->cfg.pcie_type != XENGPU_PCIE_UPSTREAM &&
                                 b->cfg.pcie_type != XENGPU_PCIE_DOWNSTREAM))
            break;
        if (!subtree_is_card(host, card, b)) break;
    }
    card->nswitch_ports = k;
}

static bool is_pciback(const char *driver)
{
    return driver &&
           (!strcmp(driver, "pciback") || !strcmp(driver, "xen-pciback"));
}

static void set_summary(xengpu_card *card)
{
    bool prepared = true;
    size_t i;

    for (i = 0; i < card->nfns; i++) {
        card->boot_vga |= card->fns[i]->boot_vga;
        card->dead |= card->fns[i]->dead;
        card->reset_quirk |= card->fns[i]->reset_quirk;
        prepared = prepared && is_pciback(card->fns[i]->driver);
    }
    card->state = prepared ? XENGPU_CARD_PREPARED : XENGPU_CARD_HOST;
    card->domid = -1;
}

/* True when an earlier function of DEV's slot already made the card. */
static bool slot_seen(const xengpu_host *host, size_t i)
{
    const xengpu_pcidev *dev = &host->devs[i];
    size_t j;

    for (j = i;
         j > 0 && xengpu_bdf_same_slot(&host->devs[j - 1].bdf, &dev->bdf); j--)
        if (slot_member(&host->devs[j - 1], &dev->bdf) &&
            is_card_class(&host->devs[j - 1]))
            return true;
    return false;
}

static void add_card(xengpu_host *host, size_t i, size_t *cap)
{
    xengpu_card *card;

    if (host->ncards == *cap) {
        *cap = *cap ? *cap * 2 : 8;
        host->cards =
            xengpu__xreallocarray(host->cards, *cap, sizeof(*host->cards));
    }
    card = &host->cards[host->ncards++];
    memset(card, 0, sizeof(*card));
    card->primary = &host->devs[i];
    card->is_vf = host->devs[i].is_vf;
    set_functions(host, i, card);
    set_upstream(card);
    set_switch_ports(host, card);
    set_summary(card);
    xengpu__card_reset(host, card);
}

static int cmp_card(const void *a, const void *b)
{
    return xengpu_bdf_cmp(&((const xengpu_card *)a)->fns[0]->bdf,
                          &((const xengpu_card *)b)->fns[0]->bdf);
}

void xengpu__build_cards(xengpu_host *host)
{
    size_t i, cap = 0;

    for (i = 0; i < host->ndevs; i++) {
        if (!is_card_class(&host->devs[i])) continue;
        if (!host->devs[i].is_vf && slot_seen(host, i)) continue;
        add_card(host, i, &cap);
    }
    if (host->ncards)
        qsort(host->cards, host->ncards, sizeof(*host->cards), cmp_card);
}
