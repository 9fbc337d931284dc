/*
 * reset.c - how a function, and a whole card, can be reset.
 *
 * When the kernel publishes reset_method (Linux 5.15+), its list is the
 * truth: it is what the kernel probed, in the order it tries.  Otherwise
 * the same order is computed from config space: PCIe FLR (DevCap), PCI
 * Advanced Features FLR (needs TP too), PM reset (D3hot->D0 with
 * No_Soft_Reset clear) and secondary bus reset (pci_parent_bus_reset():
 * not on a root bus, not a bridge, alone on its bus).  Device-specific
 * and ACPI _RST resets are invisible without reset_method.
 */
#include <string.h>

#include "host-private.h"
#include "util.h"

static const char *const reset_names[] = {
    [XENGPU_RESET_NONE] = "none",
    [XENGPU_RESET_DEVICE_SPECIFIC] = "device_specific",
    [XENGPU_RESET_ACPI] = "acpi",
    [XENGPU_RESET_FLR] = "flr",
    [XENGPU_RESET_AF_FLR] = "af_flr",
    [XENGPU_RESET_PM] = "pm",
    [XENGPU_RESET_BUS] = "bus",
};

const char *xengpu_reset_name(xengpu_reset reset)
{
    if ((size_t)reset >= ARRAY_SIZE(reset_names)) return "none";
    return reset_names[reset];
}

unsigned xengpu__reset_methods_parse(const char *text)
{
    unsigned mask = 0;
    const char *p = text;
    size_t n, i;

    while (*p) {
        n = strcspn(p, " \t");
        for (i = 1; i < ARRAY_SIZE(reset_names); i++)
            if (n == strlen(reset_names[i]) && !strncmp(p, reset_names[i], n))
                mask |= 1u << i;
        /* CXL bus reset is a secondary bus reset for our purposes. */
        if (n == 7 && !strncmp(p, "cxl_bus", n))
            mask |= 1u << XENGPU_RESET_BUS;
        p += n;
        p += strspn(p, " \t");
    }
    return mask;
}

/*
 * AMD GPUs that do not come back from a function or bus reset, from
 * gnif/vendor-reset's device table (Polaris 10/11/12, Vega 10/20,
 * Navi 10/12/14).  A flag for the admin, not a classification.
 */
static const uint16_t amd_reset_bug[] = {
    0x67c0, 0x67c1, 0x67c2, 0x67c4, 0x67c7, 0x67c8, 0x67c9, 0x67ca, 0x67cc,
    0x67cf, 0x67d0, 0x67df, 0x6fdf, 0x67e0, 0x67e1, 0x67e3, 0x67e7, 0x67e8,
    0x67e9, 0x67eb, 0x67ef, 0x67ff, 0x6980, 0x6981, 0x6985, 0x6986, 0x6987,
    0x6995, 0x6997, 0x699f, 0x6860, 0x6861, 0x6862, 0x6863, 0x6864, 0x6867,
    0x6868, 0x6869, 0x686a, 0x686b, 0x686c, 0x686d, 0x686e, 0x686f, 0x687f,
    0x66a0, 0x66a1, 0x66a2, 0x66a3, 0x66a4, 0x66a7, 0x66af, 0x7310, 0x7312,
    0x7318, 0x7319, 0x731a, 0x731b, 0x731e, 0x731f, 0x7360, 0x7362, 0x7340,
    0x7341, 0x7347, 0x734f,
};

static bool reset_quirk(const xengpu_pcidev *dev)
{
    size_t i;

    if (!dev->ids_known || dev->vendor != 0x1002) return false;
    for (i = 0; i < ARRAY_SIZE(amd_reset_bug); i++)
        if (dev->device == amd_reset_bug[i]) return true;
    return false;
}

static bool same_bus(const xengpu_pcidev *a, const xengpu_pcidev *b)
{
    return a->bdf.domain == b->bdf.domain && a->bdf.bus == b->bdf.bus;
}

/*
 * pci_parent_bus_reset(): only for a function alone on its bus.  Devices
 * are sorted by address, so a bus's functions are neighbours.
 */
static bool alone_on_bus(const xengpu_host *host, const xengpu_pcidev *dev)
{
    size_t i = (size_t)(dev - host->devs);

    if (dev->on_root_bus || !dev->parent || dev->is_bridge) return false;
    if (i > 0 && same_bus(&host->devs[i - 1], dev)) return false;
    if (i + 1 < host->ndevs && same_bus(&host->devs[i + 1], dev)) return false;
    return true;
}

static xengpu_reset computed_reset(const xengpu_host *host,
                                   const xengpu_pcidev *dev)
{
    const xengpu_pcicfg *c = &dev->cfg;

    if (dev->dead || !c->header) return XENGPU_RESET_NONE;
    if (c->has_pcie && c->flr) return XENGPU_RESET_FLR;
    if (c->af_flr) return XENGPU_RESET_AF_FLR;
    if (c->has_pm && !c->pm_no_soft_reset) return XENGPU_RESET_PM;
    if (alone_on_bus(host, dev)) return XENGPU_RESET_BUS;
    return XENGPU_RESET_NONE;
}

static xengpu_reset first_method(unsigned mask)
{
    unsigned i;

    for (i = 1; i < ARRAY_SIZE(reset_names); i++)
        if (mask & (1u << i)) return (xengpu_reset)i;
    return XENGPU_RESET_NONE;
}

/*
 * The kernel shows reset_method only for functions it can reset, so once
 * any function has the file, a function without it has no method.
 */
void xengpu__host_function_resets(xengpu_host *host)
{
    bool kernel_knows = false;
    xengpu_pcidev *dev;
    size_t i;

    for (i = 0; i < host->ndevs; i++)
        kernel_knows |= host->devs[i].reset_method_known;
    for (i = 0; i < host->ndevs; i++) {
        dev = &host->devs[i];
        dev->reset_quirk = reset_quirk(dev);
        if (dev->reset_method_known)
            dev->reset = first_method(dev->reset_methods);
        else if (kernel_knows)
            dev->reset = XENGPU_RESET_NONE;
        else
            dev->reset = computed_reset(host, dev);
    }
}

static bool is_card_fn(const xengpu_card *card, const xengpu_pcidev *dev)
{
    size_t i;

    for (i = 0; i < card->nfns; i++)
        if (card->fns[i] == dev) return true;
    return false;
}

/*
 * A secondary bus reset through the card's parent bridge resets
 * everything below that bridge, so it is only safe when all of that is
 * the card.  The helper does it through the bridge itself (Linux's
 * per-function "bus" refuses a function with siblings).
 */
static bool card_bus_reset_possible(const xengpu_host *host,
                                    const xengpu_card *card)
{
    const xengpu_pcidev *bridge = card->fns[0]->parent;
    size_t i;

    if (card->is_vf || card->fns[0]->on_root_bus || !bridge) return false;
    for (i = 0; i < card->nfns; i++)
        if (card->fns[i]->parent != bridge) return false;
    for (i = 0; i < host->ndevs; i++)
        if (xengpu__is_below(&host->devs[i], bridge) &&
            !is_card_fn(card, &host->devs[i]))
            return false;
    return true;
}

void xengpu__card_reset(const xengpu_host *host, xengpu_card *card)
{
    xengpu_reset first = card->fns[0]->reset;
    bool same = first != XENGPU_RESET_NONE, all_flr = true;
    xengpu_reset r;
    size_t i;

    for (i = 0; i < card->nfns; i++) {
        r = card->fns[i]->reset;
        same = same && r == first;
        all_flr =
            all_flr && (r == XENGPU_RESET_FLR || r == XENGPU_RESET_AF_FLR);
    }
    card->bus_reset_possible = card_bus_reset_possible(host, card);
    if (same)
        card->reset = first;
    else if (all_flr)
        card->reset = XENGPU_RESET_FLR;
    else if (card->bus_reset_possible)
        card->reset = XENGPU_RESET_BUS;
    else
        card->reset = XENGPU_RESET_NONE;
}
