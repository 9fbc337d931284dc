/*
 * pciback.h - prepare and release whole cards: every function of a card
 * moves to xen-pciback, or none does.
 *
 * A card is prepared the way `xl pci-assignable-add` prepares a device,
 * by libxl's assignable-add for each function after xengpu's own checks
 * and journal, so Xen quarantines it and libxl records each function's
 * original driver where `xl pci-assignable-remove -r` finds it.  xengpu
 * also keeps that driver in its own card record (the state directory
 * outlives xenstore across a reboot) and writes a modprobe configuration
 * that keeps prepared cards away from dom0's drivers at boot.
 *
 * Each operation takes the card's lock, writes a journal entry before
 * the first function moves and removes it when done.  On failure it puts
 * back what already moved; after a crash, xengpu_pciback_recover() undoes
 * an interrupted prepare and finishes an interrupted release.
 *
 * The only sysfs writes xengpu itself makes (libxl makes the rest):
 * binding a function to its recorded original driver, and unbinding a
 * function from pciback when libxl cannot.
 *
 * All functions return 0 or a negative errno, and log every refusal or
 * failure once through the logger given to xengpu_pciback_open(), naming
 * the card and what to do.
 */
#ifndef XENGPU_PCIBACK_H
#define XENGPU_PCIBACK_H

#include <stddef.h>
#include <xentoollog.h>

#include "bdf.h"

typedef struct xengpu_pciback xengpu_pciback;

typedef struct xengpu_pciback_opts {
    const char *sysfs_root;    /* NULL: $XENGPU_SYSFS_ROOT or /sys */
    const char *state_dir;     /* NULL: $XENGPU_STATE_DIR or default */
    const char *modprobe_conf; /* NULL: $XENGPU_MODPROBE_CONF or
                                * /etc/modprobe.d/xengpu-pciback.conf;
                                * "" for none */
} xengpu_pciback_opts;

/*
 * Open sysfs, the state directory and a libxl context.  LG must stay
 * valid until xengpu_pciback_close(); NULL logs to stderr.
 */
int xengpu_pciback_open(const xengpu_pciback_opts *opts, xentoollog_logger *lg,
                        xengpu_pciback **pb_r);
/* NULL is fine. */
void xengpu_pciback_close(xengpu_pciback *pb);

/* Prepare a boot VGA or non-isolated card anyway. */
#define XENGPU_PCIBACK_FORCE 0x1u

/*
 * Move every function of the card that BDF belongs to onto pciback.
 * -ENODEV: no such card; -EPERM: refused (boot VGA, not isolated, fell
 * off the bus) unless forced; -E2BIG: more functions than xengpu
 * handles; other errors from libxl or sysfs, after undoing what moved.
 * Preparing a prepared card succeeds without changing anything.
 */
int xengpu_pciback_prepare(xengpu_pciback *pb, const xengpu_bdf *bdf,
                           unsigned flags);

/*
 * Give every function of the card back to the driver it had before
 * (or leave it unbound if it had none).  -EBUSY when a domain holds it.
 */
int xengpu_pciback_release(xengpu_pciback *pb, const xengpu_bdf *bdf,
                           unsigned flags);

/*
 * Finish or undo every operation the journal shows interrupted;
 * *n_r (may be NULL) gets how many.  Continues past a card it cannot
 * recover and returns the first error.
 */
int xengpu_pciback_recover(xengpu_pciback *pb, size_t *n_r);

#endif /* XENGPU_PCIBACK_H */
