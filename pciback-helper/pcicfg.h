/*
 * pcicfg.h - decode a PCI function's configuration space.
 *
 * Input is whatever the sysfs "config" file gave: 4096 bytes for a PCIe
 * function read by root, 256 for conventional PCI, only 64 for a reader
 * without CAP_SYS_ADMIN, possibly fewer in a damaged snapshot, and all
 * 0xff bytes for a function that fell off the bus (the AMD reset bug's
 * "Unknown PCI header type '127'").  xengpu_pcicfg_parse() never reads
 * outside the buffer, stops capability walks that loop (the kernel's TTL
 * of 48 standard and 480 extended entries), and says in the result how
 * much it could see, so callers can tell "no FLR" from "could not read".
 *
 * Pure function over memory: no I/O, no allocation, no logging.
 */
#ifndef XENGPU_PCICFG_H
#define XENGPU_PCICFG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* PCI Express device/port types (PCIe cap flags bits 7:4). */
#define XENGPU_PCIE_ENDPOINT 0x0
#define XENGPU_PCIE_LEGACY_ENDPOINT 0x1
#define XENGPU_PCIE_ROOT_PORT 0x4
#define XENGPU_PCIE_UPSTREAM 0x5
#define XENGPU_PCIE_DOWNSTREAM 0x6
#define XENGPU_PCIE_PCIE_TO_PCI 0x7
#define XENGPU_PCIE_PCI_TO_PCIE 0x8
#define XENGPU_PCIE_RC_ENDPOINT 0x9
#define XENGPU_PCIE_RC_EC 0xa

/* ACS capability/control bits (PCIe ACS extended capability). */
#define XENGPU_ACS_SV 0x0001 /* source validation */
#define XENGPU_ACS_TB 0x0002 /* translation blocking */
#define XENGPU_ACS_RR 0x0004 /* P2P request redirect */
#define XENGPU_ACS_CR 0x0008 /* P2P completion redirect */
#define XENGPU_ACS_UF 0x0010 /* upstream forwarding */
#define XENGPU_ACS_EC 0x0020 /* P2P egress control */
#define XENGPU_ACS_DT 0x0040 /* direct translated P2P */

typedef struct xengpu_pcicfg {
    size_t len;  /* bytes that were available */
    bool header; /* the 64-byte header was complete */
    bool dead;   /* ids and header type all ones: the function is gone */

    /* Valid when header && !dead. */
    uint16_t vendor, device;
    uint32_t class; /* base << 16 | sub << 8 | prog-if */
    uint8_t revision;
    uint8_t header_type; /* 0 normal, 1 bridge, 2 cardbus (bit 7 cleared) */
    bool multifunction;
    /*
     * Subsystem ids (0x2c, 0x2e), which say whose board this is (10de:12fa
     * an NVIDIA-built card, 1462:8a91 an MSI one).  Only header type 0 has
     * them in the header: has_subsys is false for bridges and CardBus.
     */
    bool has_subsys;
    uint16_t subsys_vendor, subsys_device;
    uint8_t secondary_bus, subordinate_bus; /* bridges only */

    /*
     * caps_complete: the standard capability list was walked to its end
     * inside LEN (false when LEN ends inside it or it loops; then any
     * capability below may be missing).  ext_complete: likewise for the
     * extended list, which needs LEN 4096 on a PCIe function.
     */
    bool caps_complete, ext_complete;

    bool has_pcie;
    uint8_t pcie_type, pcie_version;
    bool flr; /* DevCap Function Level Reset */
    bool has_link;
    uint8_t link_max_speed, link_max_width; /* speed: 1 = 2.5 GT/s ... */
    uint8_t link_speed, link_width;

    bool has_af, af_flr; /* Advanced Features: TP and FLR both set */
    bool has_pm, pm_no_soft_reset;

    bool has_acs;
    uint16_t acs_cap, acs_ctrl;

    bool has_sriov;
    uint16_t sriov_total, sriov_num, sriov_vf_device;

    bool has_rebar;
} xengpu_pcicfg;

/*
 * Decode LEN bytes of configuration space at CFG into *cfg_r (always
 * fully written, zeroed first).  Returns 0 when the header was complete
 * and not all ones; -ENODATA when LEN < 64; -ENODEV when the header is
 * all ones (cfg_r->dead is set).  Capability problems are not errors:
 * see caps_complete/ext_complete.
 */
int xengpu_pcicfg_parse(const uint8_t *cfg, size_t len, xengpu_pcicfg *cfg_r);

/* "2.5 GT/s", "5 GT/s", ... "64 GT/s" for a link speed code, or NULL. */
const char *xengpu_pcicfg_speed_name(uint8_t speed);

#endif /* XENGPU_PCICFG_H */
