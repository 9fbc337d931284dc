/*
 * domains.h - domains and the cards they hold, through libxl.
 *
 * A card is attached function by function with libxl's PCI hot-plug,
 * the way `xl pci-attach` does it.  A PV guest's pcifront shows the
 * functions of one card in one virtual slot (pciback keeps them
 * together).  An HVM guest gets them in one slot too, at the function
 * numbers they have on the host, when its device model allows it (see
 * XENGPU_MULTIFN_ARG): xengpu picks a free slot (qmp.h) and adds the
 * functions one by one, function 0 last.  libxl 4.17's own multifunction
 * form (`BDF.*@VSLOT`) cannot be used: it adds only the highest function
 * and leaves the rest unremovable (seen in the nested test bed).  Else
 * each function of an HVM guest's card gets a slot of its own.  If any
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
 * The device-model argument (after "-global") that lets QEMU take a
 * function 0 into a slot whose other functions are there already: each
 * passed-through function is created multifunction, which the guest
 * cannot tell (QEMU's xen-pci-passthrough always shows the
 * multifunction bit).  libxl never asks for it; xengpu create adds it to
 * device_model_args_hvm.
 */
#define XENGPU_MULTIFN_ARG "xen-pci-passthrough.multifunction=on"

/*
 * xengpu_xl_attach() without looking at the card's state, for a caller
 * that has just prepared it (xengpu create), with the per-device options
 * of OPTS (NULL: libxl's defaults).  The same returns.
 */
struct xengpu_gpuspec;
int xengpu__xl_plug(xengpu_xl *xl, uint32_t domid, const xengpu_card *card,
                    const struct xengpu_gpuspec *opts);

/* xengpu_xl_attach() with the per-device options of OPTS (NULL: none). */
int xengpu__xl_attach_opts(xengpu_xl *xl, uint32_t domid,
                           const xengpu_card *card,
                           const struct xengpu_gpuspec *opts);

/*
 * The per-device options libxl gave CARD's function 0 in DOMID, into
 * *OPTS_R's option fields (the rest zeroed, sel XENGPU_SEL_NONE): what a
 * replug must give again.  Returns 0, or -ENOENT when DOMID does not
 * hold the card (*OPTS_R then has every option unset).
 */
int xengpu__xl_opts(xengpu_xl *xl, uint32_t domid, const xengpu_card *card,
                    struct xengpu_gpuspec *opts_r);

/* How long xengpu waits for a device model's answer on QMP. */
#define XENGPU_QMP_TIMEOUT_MS 5000

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
