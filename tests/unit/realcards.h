/*
 * realcards.h - fake sysfs trees of real hosts and cards.
 *
 * Each function adds to a fake tree the PCI functions of a real machine
 * described in /work/shared/realworld/ (the file is named above each
 * function in realcards.c).  Values the source shows are copied; values it
 * does not show (a root port's ACS, a driver that was not printed) are
 * marked "assumed" where they are set.
 */
#ifndef XENGPU_REALCARDS_H
#define XENGPU_REALCARDS_H

#include <stdbool.h>
#include <stdint.h>

#include "fake-sysfs.h"

/* ACS state of a synthesized bridge. */
enum rc_acs { RC_ACS_NONE, RC_ACS_OFF, RC_ACS_ON };

/* A synthesized PCI-to-PCI bridge (root port, switch port, ...). */
struct bridge {
    const char *bdf, *parent;
    uint16_t vendor, device;
    uint8_t type; /* PCIe port type, or 0xff for conventional PCI */
    uint8_t secondary, subordinate;
    enum rc_acs acs;
    bool multifunction;
    const char *group; /* sysfs IOMMU group, or NULL */
};

void rc_add_bridge(struct fake_sysfs *fs, const struct bridge *b);

/*
 * RTX 2080 Ti Rev.A, four functions (VGA, audio, xHCI, UCSI) with their
 * real 256-byte config space, below root port 0000:00:02.0.
 */
void rc_rtx2080ti(struct fake_sysfs *fs, enum rc_acs acs);

/* RTX A6000 + audio at 0000:01:00.x below root port 0000:00:01.0. */
void rc_a6000(struct fake_sysfs *fs, bool with_reset_method);

/*
 * Dell Xeon E5 v4: Tesla P100 (3D, single function, no FLR, 16G BAR1)
 * at 0000:04:00.0 below root port 00:02.0 (ACS present, off), and the
 * boot VGA Matrox G200eR2 at 0000:0a:00.0 behind a Renesas switch and a
 * PCIe-to-PCI bridge below the multifunction root ports 00:1c.0/00:1c.7.
 */
void rc_dell_p100(struct fake_sysfs *fs);

/* RTX 3090 FE at 0002:21:00.0, BAR1/BAR3 unassigned, link x1, unbound. */
void rc_rtx3090_domain2(struct fake_sysfs *fs);

/*
 * H100 NVL (class 0302) at 0000:e1:00.0 with a 128 GiB BAR2 and SR-IOV
 * (32 VFs).  NVFS VFs (0-2) are enabled, at e1:00.4 onwards.
 */
void rc_h100(struct fake_sysfs *fs, int nvfs);

/*
 * Gigabyte B550 with IOMMU groups: Navi 21 (+audio) behind the Navi
 * switch, each function in its own group; RX 550 (+audio) in chipset
 * group 15 with USB, SATA, a NIC and bridges.
 */
void rc_b550(struct fake_sysfs *fs);

/* ASRock Z370 with IOMMU groups: IGD alone, GT 1030 with its root port. */
void rc_z370(struct fake_sysfs *fs);

/* The inside of a Xen HVM guest on AWS g2: Cirrus VGA, GRID K520, platform device. */
void rc_k520_guest(struct fake_sysfs *fs);

/* Vega 56 + audio; the GPU's config space reads all ones. */
void rc_vega56_dead(struct fake_sysfs *fs);

#endif /* XENGPU_REALCARDS_H */
