/*
 * host-private.h - the host model's internals, shared by host.c,
 * device.c, isolation.c and reset.c.  Not installed.
 */
#ifndef XENGPU_HOST_PRIVATE_H
#define XENGPU_HOST_PRIVATE_H

#include "host.h"

/* Deepest bridge nesting followed; PCI allows at most 256 buses. */
#define XENGPU_MAX_DEPTH 256

struct xengpu_host {
    xentoollog_logger *lg;
    xengpu_pcidev *devs; /* sorted by bdf, never reallocated after read */
    size_t ndevs;
    xengpu_card *cards;
    size_t ncards;
    bool sysfs_groups;
};

/*
 * Read the function NAME (a bus/pci/devices entry) into *dev, which the
 * caller has zeroed.  Returns 0, or a negative errno (logged) when NAME
 * is not a canonical address or its directory cannot be opened; a bad
 * attribute is logged and left unknown.  dev->parent is not set.
 */
int xengpu__pcidev_read(int root_fd, const char *name, xentoollog_logger *lg,
                        xengpu_pcidev *dev);

/* Free what *dev owns; idempotent. */
void xengpu__pcidev_dispose(xengpu_pcidev *dev);

/* True when ANC is DEV's parent, grandparent, ... */
bool xengpu__is_below(const xengpu_pcidev *dev, const xengpu_pcidev *anc);

/* Group functions into host->cards, with their resets and state. */
void xengpu__build_cards(xengpu_host *host);

/* Fill each function's reset and reset_quirk. */
void xengpu__host_function_resets(xengpu_host *host);

/* Fill card->reset and card->bus_reset_possible. */
void xengpu__card_reset(const xengpu_host *host, xengpu_card *card);

/* Fill every card's isolation fields. */
void xengpu__host_isolation(xengpu_host *host);

/* Parse a reset_method file's text into a bitmask of methods. */
unsigned xengpu__reset_methods_parse(const char *text);

#endif /* XENGPU_HOST_PRIVATE_H */
