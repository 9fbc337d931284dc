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

#endif /* XENGPU_DOMAINS_H */
