/*
 * host-access.c - the public accessors of cards and functions.
 *
 * include/xengpu.h keeps xengpu_card and xengpu_pcidev opaque so that
 * their layout can change without breaking callers; the library's own
 * code reads the fields (host.h).
 */
#include <errno.h>

#include "host.h"

const char *xengpu_pcidev_name(const xengpu_pcidev *dev)
{
    return dev->name;
}

xengpu_bdf xengpu_pcidev_bdf(const xengpu_pcidev *dev)
{
    return dev->bdf;
}

int xengpu_pcidev_ids(const xengpu_pcidev *dev, uint16_t *vendor_r,
                      uint16_t *device_r, uint32_t *class_r)
{
    if (!dev->ids_known) return -ENODATA;
    if (vendor_r) *vendor_r = dev->vendor;
    if (device_r) *device_r = dev->device;
    if (class_r) *class_r = dev->class;
    return 0;
}

const char *xengpu_pcidev_driver(const xengpu_pcidev *dev)
{
    return dev->driver;
}

xengpu_reset xengpu_pcidev_reset(const xengpu_pcidev *dev)
{
    return dev->reset;
}

size_t xengpu_card_nfns(const xengpu_card *card)
{
    return card->nfns;
}

const xengpu_pcidev *xengpu_card_fn(const xengpu_card *card, size_t i)
{
    return i < card->nfns ? card->fns[i] : NULL;
}

const xengpu_pcidev *xengpu_card_primary(const xengpu_card *card)
{
    return card->primary;
}

xengpu_card_state xengpu_card_get_state(const xengpu_card *card, long *domid_r)
{
    if (domid_r) *domid_r = card->domid;
    return card->state;
}

bool xengpu_card_isolated(const xengpu_card *card, const char **why_r)
{
    if (!card->isolated && why_r) *why_r = card->not_isolated_why;
    return card->isolated;
}

bool xengpu_card_boot_vga(const xengpu_card *card)
{
    return card->boot_vga;
}

xengpu_reset xengpu_card_reset(const xengpu_card *card)
{
    return card->reset;
}
