/*
 * layout.h - the MMIO hole below 4 GiB that an HVM guest needs for its
 * cards.
 *
 * A card's BARs are mapped into the guest's physical address space by
 * hvmloader at boot.  What Xen 4.17 does (tools/firmware/hvmloader/pci.c,
 * pci_setup(); tools/libs/light/libxl_create.c, libxl_dom.c, libxl_dm.c;
 * tools/xl/xl_parse.c; docs/man/xl.cfg.5.pod.in):
 *
 *  - Guest RAM below 4 GiB ends where the MMIO hole begins.  The hole is
 *    256 MiB by default (HVM_BELOW_4G_MMIO_START, 0xF0000000); xl's
 *    `mmio_hole = MiB` sets it to 256 ... 3840 MiB (xl refuses anything
 *    else), libxl passes it to hvmloader as platform/mmio_hole_size and
 *    to QEMU as max-ram-below-4g, and moves the RAM that would overlap
 *    above 4 GiB.
 *
 *  - hvmloader places BARs in [4 GiB - hole, 0xFC000000): the top 64 MiB
 *    (RESERVED_MEMBASE up) hold the ACPI tables, IOAPIC, HPET and LAPIC.
 *    A hole of H MiB leaves H - 64 MiB for BARs.
 *
 *  - With the default hole, hvmloader may double it (512 MiB, 1 GiB, 2
 *    GiB) when the BARs do not fit, but only over addresses that hold no
 *    RAM: libxl forbids relocating RAM with qemu-xen
 *    (hvmloader/allow-memory-relocate = 0).  A guest with 3840 MiB of RAM
 *    or more never gets more than 256 MiB, and xengpu counts on no more
 *    for any guest.
 *
 *  - BARs (and expansion ROMs) are placed largest first, each aligned to
 *    its size.  A 64-bit BAR larger than 1 GiB always goes above 4 GiB
 *    (BAR_RELOC_THRESH, Xen 4.17.4 and later).  When the rest does not
 *    fit below, 64-bit BARs go above too, largest first, while what is
 *    left is more than the room left below.  32-bit BARs and ROMs can
 *    only go below 4 GiB.  A BAR that finds no room is left unprogrammed:
 *    the guest's driver fails on it.
 *
 *  - Above 4 GiB, BARs go after the guest's RAM, up to the guest's
 *    physical address width.  That limit is not modelled: any size is
 *    taken to fit.  Nor are RMRRs (rdm = "strategy=host"), which
 *    hvmloader steps around below 4 GiB.
 *
 *  - The guest's ACPI tables declare the windows hvmloader used: the low
 *    one, and a high one only when some BAR went above 4 GiB.  A card
 *    hot-plugged later (attach, the replug after a migration) must fit
 *    in those, so its BAR sizes should be those of the card the guest
 *    booted with (see compat.h).
 *
 * QEMU's own devices share the hole; layout.c lists the ones assumed and
 * their sizes (one VGA, the Xen platform device, four NICs: 49.6 MiB).
 *
 * The cards come from the host model (pciback-helper/host.h).  QEMU
 * passes through only the BARs the host assigned (hw/xen/xen_pt.c,
 * xen_pt_register_regions()): a memory BAR of unknown size or without an
 * address on the host is an error, an unassigned ROM is left out.  I/O
 * BARs are not counted (they use I/O ports, not the hole).
 *
 * Pure functions over the model: no I/O, no Xen calls, no logging.
 */
#ifndef XENGPU_LAYOUT_H
#define XENGPU_LAYOUT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "pciback-helper/host.h"

/* xl's bounds on mmio_hole, in MiB (HVM_BELOW_4G_MMIO_LENGTH, _START). */
#define XENGPU_MMIO_HOLE_MIN 256u
#define XENGPU_MMIO_HOLE_MAX 3840u

/* Room for any reason these functions write, NUL included. */
#define XENGPU_LAYOUT_WHYLEN 320

/* Room for xengpu__size_format(): "18446744073709551615 bytes". */
#define XENGPU_SIZE_STRLEN 32

/* What a guest's cards need of its address space. */
typedef struct xengpu_layout_need {
    /*
     * Bytes that must be below 4 GiB: the cards' 32-bit memory BARs and
     * expansion ROMs, naturally aligned, largest first (their sum, as
     * every size is a power of two).
     */
    uint64_t low_bytes;
    /* Bytes that may go above 4 GiB: the cards' 64-bit memory BARs. */
    uint64_t high_bytes;
    /* QEMU's own BARs, always below 4 GiB (the allowance in layout.c). */
    uint64_t emulated_bytes;
    /* The cards' largest BAR, 0 when they have none; which one. */
    uint64_t largest_bar;
    const xengpu_pcidev *largest_fn;
    uint8_t largest_index; /* 0-5, XENGPU_BAR_ROM */
    /*
     * The recommended mmio_hole, MiB, a multiple of 64 within
     * XENGPU_MMIO_HOLE_MIN ... XENGPU_MMIO_HOLE_MAX: the smallest with
     * which hvmloader places every BAR of 1 GiB or less below 4 GiB (as
     * firmware on the host would), else the smallest with which it
     * places every BAR at all.
     */
    unsigned hole_mib;
    /* With hole_mib, 64-bit BARs of 1 GiB or less still go above 4 GiB. */
    bool relocated;
} xengpu_layout_need;

/*
 * What the N cards at CARDS (which belong to one host model) need, into
 * *need_r.  N may be 0: the need of QEMU's devices alone.
 *
 * Returns 0; -ENODATA when a card's BARs are not known (no resource file)
 * or one of its memory BARs has no size or address on this host; -EINVAL
 * when a 32-bit BAR or ROM is 4 GiB or larger (not a real BAR); -ENOSPC
 * when no mmio_hole xl accepts lets hvmloader place every BAR.  On error
 * WHY (WHYSIZE bytes, XENGPU_LAYOUT_WHYLEN is enough; may be NULL) gets
 * one line naming the card, the function and the BAR.
 */
int xengpu_layout_plan(const xengpu_card *const *cards, size_t n,
                       xengpu_layout_need *need_r, char *why, size_t whysize);

/*
 * Whether hvmloader places every BAR of the N CARDS, and QEMU's, in a
 * guest whose mmio_hole is HOLE_MIB (0: none given, libxl's default,
 * taken never to grow; see above).
 *
 * Returns 0 when every BAR finds room; -ENOSPC when one does not, and
 * WHY says which card, function and BAR, how much room the hole has and
 * how much must be below 4 GiB, and the mmio_hole to use instead (or that
 * none would do); -EINVAL when HOLE_MIB is neither 0 nor within xl's
 * range; -ENODATA and -EINVAL as xengpu_layout_plan().
 */
int xengpu_layout_check(const xengpu_card *const *cards, size_t n,
                        unsigned hole_mib, char *why, size_t whysize);

/*
 * BYTES for a message, in the largest unit that holds it whole: "16 GiB",
 * "1344 MiB", "512 KiB", "128 bytes"; from 1 MiB up a size that is not
 * whole MiB gets one decimal, "66.1 MiB".  BUF of SIZE bytes,
 * XENGPU_SIZE_STRLEN is enough.
 */
void xengpu__size_format(uint64_t bytes, char *buf, size_t size);

#endif /* XENGPU_LAYOUT_H */
