/*
 * domains.h - domains and the cards they hold, through libxl.
 *
 * A card is attached function by function with libxl's PCI hot-plug,
 * the way `xl pci-attach` does it: a PV guest's pcifront shows the
 * functions of one card in one virtual slot (pciback keeps them
 * together); an HVM guest's device model gives each function a slot of
 * its own, because libxl 4.17's multifunction hot-plug (`BDF.*@VSLOT`)
 * adds only the highest function and leaves the rest unremovable (seen
 * in the nested test bed; see the toolstack issue's notes).  If any
 * function fails, the ones added are removed again: the card is either
 * wholly attached or where it was.
 *
 * All functions return 0 or a negative errno and log refusals and
 * failures once, naming the card and domain and what to do.  They are
 * public: the session (xengpu_xl_*) is declared in include/xengpu.h.
 */
#ifndef XENGPU_DOMAINS_H
#define XENGPU_DOMAINS_H

#include <stdbool.h>
#include <stdint.h>
#include <xentoollog.h>

#include <xengpu.h>

#include "pciback-helper/host.h"

/*
 * Would the N CARDS (the domain's and the one to add) fit domain DOMID's
 * MMIO hole?  Only HVM guests have one: a PV guest always fits.  The
 * hole is fixed when the guest boots, at its config's mmio_hole or
 * libxl's default (taken never to have grown: a hot-plugged card gets
 * only the window the guest's firmware declared).  Returns 0; -ENOSPC
 * when they do not fit (logged, naming the card, the BAR and the
 * mmio_hole that would do); -EIO when the domain's config is unreadable.
 */
int xengpu__xl_fits(xengpu_xl *xl, uint32_t domid,
                    const xengpu_card *const *cards, size_t n);

/* b_info.u.hvm.mmio_hole_memkb in MiB; 0 for libxl's default. */
unsigned xengpu__mmio_hole_mib(uint64_t memkb);

/* Milliseconds between removes of a function libxl left listed (1000). */
extern unsigned xengpu__relist_ms;

/* The session's libxl context, for xengpu's own modules. */
struct libxl__ctx;
struct libxl__ctx *xengpu__xl_ctx(xengpu_xl *xl);

#endif /* XENGPU_DOMAINS_H */
