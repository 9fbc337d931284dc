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
 * failures once, naming the card and domain and what to do.
 */
#ifndef XENGPU_DOMAINS_H
#define XENGPU_DOMAINS_H

#include <stdbool.h>
#include <stdint.h>
#include <xentoollog.h>

#include "pciback-helper/host.h"

typedef struct xengpu_xl xengpu_xl;

/*
 * Open a libxl session.  QUIET: not being on Xen (or not root) is
 * -ENXIO without a message, for callers that can do without domains.
 */
int xengpu_xl_open(xentoollog_logger *lg, bool quiet, xengpu_xl **xl_r);
/* NULL is fine. */
void xengpu_xl_close(xengpu_xl *xl);

/* DOMAIN is a name or a domain id; -ENOENT names it when unknown. */
int xengpu_xl_domid(xengpu_xl *xl, const char *domain, uint32_t *domid_r);

/* Mark every card of HOST that a domain holds (xengpu_host_set_holder). */
int xengpu_xl_annotate(xengpu_xl *xl, xengpu_host *host);

/*
 * Hot-plug every function of CARD (prepared; held by nobody) into
 * DOMID.  -EPERM: a PVH guest, or one created without passthrough;
 * -EBUSY: held by a domain; -EINVAL: not prepared.
 */
int xengpu_xl_attach(xengpu_xl *xl, uint32_t domid, const xengpu_card *card);

/*
 * Remove every function of CARD from DOMID, waiting up to TIMEOUT
 * seconds (0: libxl's own 10 s per try) for the guest to let go.  FORCE
 * removes a function the guest does not release.  -ETIMEDOUT: the guest
 * kept it; the card stays attached as far as it was.
 */
int xengpu_xl_detach(xengpu_xl *xl, uint32_t domid, const xengpu_card *card,
                     int timeout, bool force);

#endif /* XENGPU_DOMAINS_H */
