/*
 * host.h - the host's PCI functions and the GPU cards among them.
 *
 * xengpu_host_discover() reads sysfs below a root directory fd into a
 * read-only model:
 *
 *  - every PCI function (xengpu_pcidev): ids, configuration space
 *    decoded (capabilities, link), BARs, driver, IOMMU group, boot VGA,
 *    NUMA node, SR-IOV, its upstream bridge, and how it alone can be
 *    reset;
 *
 *  - the cards (xengpu_card).  A card is the non-VF functions of one
 *    slot that holds a display (class 03xx) or processing accelerator
 *    (class 12xx) function; each SR-IOV VF of such a class is a card of
 *    its own.  Cards are found by class, never by vendor (an NVSwitch is
 *    vendor 10de, class 0680: not a card).  Bridges between the card and
 *    its root port whose whole subtree is this card are reported as
 *    on-card switch ports; they are never part of the card's functions.
 *
 * Isolation: when sysfs has IOMMU groups (a host where Linux drives the
 * IOMMU, or a snapshot of one) they are used as they are.  A Xen dom0
 * has none, so groups are computed from topology and ACS the way Linux's
 * pci_device_group() does (without its per-device ACS quirks, so the
 * answer can only be more cautious than Linux's).  A card is isolated
 * when every function sharing a group with it is a card function or a
 * bridge.
 *
 * Lifetime: everything returned by the accessors belongs to the host and
 * lives until xengpu_host_free().  The model is not updated; discover
 * again to see changes.  A host may be read from several threads.
 *
 * The public API (include/xengpu.h) declares discovery, the accessors
 * and the two enums, and keeps xengpu_card and xengpu_pcidev opaque;
 * their layout below is the library's own.
 */
#ifndef XENGPU_HOST_H
#define XENGPU_HOST_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <xentoollog.h>

#include <xengpu.h>

#include "bdf.h"
#include "pcicfg.h"
#include "resource.h"

struct xengpu_pcidev {
    xengpu_bdf bdf;
    char name[XENGPU_BDF_STRLEN]; /* canonical "0000:01:00.0" */

    /* From the sysfs id files; ids_known false when they were bad. */
    bool ids_known;
    uint16_t vendor, device;
    uint32_t class;

    /* Configuration space; cfg.header false when it was unreadable. */
    xengpu_pcicfg cfg;
    bool dead; /* config space all ones: fell off the bus */

    /* BARs; res_known false when "resource" was missing or bad. */
    bool res_known;
    xengpu_resources res;

    char *driver;    /* bound driver's name, or NULL */
    int iommu_group; /* sysfs IOMMU group number, or -1 */
    int numa_node;   /* -1 when unknown */
    bool boot_vga;   /* dom0's console */
    bool is_bridge;  /* PCI-to-PCI bridge (header type 1) */

    /* SR-IOV. */
    bool is_vf;
    xengpu_bdf physfn;          /* valid when is_vf */
    int sriov_total, sriov_num; /* -1 when not SR-IOV capable */

    /* Topology: the bridge above this function, from the sysfs path. */
    bool on_root_bus;
    const xengpu_pcidev *parent; /* NULL on a root bus or when unknown */

    /*
     * Reset.  reset_methods is a bitmask (1u << xengpu_reset) of what the
     * kernel's reset_method file lists, valid when reset_method_known.
     * When no function of the host has that file (kernels before 5.15,
     * some snapshots) reset is computed from capabilities and topology;
     * when some do, a function without it has none.
     */
    bool reset_method_known;
    unsigned reset_methods;
    xengpu_reset reset; /* how this function alone resets */
    bool reset_quirk;   /* model known to misbehave after reset */
};

struct xengpu_card {
    const xengpu_pcidev *primary;       /* the display/accelerator function */
    const xengpu_pcidev **fns;          /* all functions, ascending; fns[0] */
    size_t nfns;                        /* names the card */
    const xengpu_pcidev **switch_ports; /* on-card ports, nearest first */
    size_t nswitch_ports;
    const xengpu_pcidev **upstream; /* bridges from parent to root */
    size_t nupstream;

    bool is_vf;
    bool boot_vga;    /* some function is dom0's boot VGA */
    bool dead;        /* some function fell off the bus */
    bool reset_quirk; /* some function misbehaves after reset */

    xengpu_reset reset;      /* one method that resets every function */
    bool bus_reset_possible; /* nothing outside the card below parent */

    bool isolated;
    bool groups_from_sysfs;           /* else computed from topology */
    const xengpu_pcidev *shares_with; /* a non-card function in the
                                       * card's group, or NULL */
    const char *not_isolated_why;     /* static text, NULL if isolated */
    xengpu_card_state state;
    long domid; /* the domain holding it (state assigned), else -1 */
};

/*
 * Record that domain DOMID holds card I (from libxl; discovery itself
 * cannot see domains): its state becomes assigned.
 */
void xengpu_host_set_holder(xengpu_host *host, size_t i, long domid);

/* True when isolation came from sysfs IOMMU groups. */
bool xengpu_host_has_sysfs_groups(const xengpu_host *host);

#endif /* XENGPU_HOST_H */
