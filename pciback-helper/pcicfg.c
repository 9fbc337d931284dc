/*
 * pcicfg.c - bounds-checked configuration space decoding.
 *
 * Offsets and the walk limits follow Linux (drivers/pci/pci.c): the
 * standard list is followed at most 48 times from the pointer at 0x34
 * (0x14 for CardBus), pointers below 0x40 end it; the extended list
 * starts at 0x100, is followed at most 480 times, and an all-zero or
 * all-ones header ends it.  The first instance of a capability wins, as
 * in pci_find_capability().
 */
#include <errno.h>
#include <string.h>

#include "pcicfg.h"

#define HDR_LEN 0x40
#define CFG_STD_LEN 0x100
#define CFG_EXT_LEN 0x1000
#define STD_TTL 48
#define EXT_TTL ((CFG_EXT_LEN - CFG_STD_LEN) / 8)

#define OFF_STATUS 0x06
#define STATUS_CAP_LIST 0x10
#define OFF_CAP_PTR 0x34
#define OFF_CB_CAP_PTR 0x14
#define OFF_SUBSYS_VENDOR 0x2c
#define OFF_SUBSYS_ID 0x2e

#define CAP_PM 0x01
#define CAP_PCIE 0x10
#define CAP_AF 0x13
#define EXT_ACS 0x000d
#define EXT_SRIOV 0x0010
#define EXT_REBAR 0x0015

struct buf {
    const uint8_t *p;
    size_t len;
};

static bool has(const struct buf *b, size_t off, size_t n)
{
    return off <= b->len && n <= b->len - off;
}

static uint16_t rd16(const struct buf *b, size_t off)
{
    return (uint16_t)(b->p[off] | b->p[off + 1] << 8);
}

static uint32_t rd32(const struct buf *b, size_t off)
{
    return (uint32_t)rd16(b, off) | (uint32_t)rd16(b, off + 2) << 16;
}

static void parse_header(const struct buf *b, xengpu_pcicfg *c)
{
    uint8_t ht = b->p[0x0e];

    c->vendor = rd16(b, 0x00);
    c->device = rd16(b, 0x02);
    c->revision = b->p[0x08];
    c->class =
        (uint32_t)b->p[0x0b] << 16 | (uint32_t)b->p[0x0a] << 8 | b->p[0x09];
    c->header_type = ht & 0x7f;
    c->multifunction = ht & 0x80;
    if (c->header_type == 0) {
        c->has_subsys = true;
        c->subsys_vendor = rd16(b, OFF_SUBSYS_VENDOR);
        c->subsys_device = rd16(b, OFF_SUBSYS_ID);
    }
    if (c->header_type == 1) {
        c->secondary_bus = b->p[0x19];
        c->subordinate_bus = b->p[0x1a];
    }
}

static void cap_pcie(const struct buf *b, size_t pos, xengpu_pcicfg *c)
{
    uint16_t flags;

    flags = rd16(b, pos + 0x02);
    c->has_pcie = true;
    c->pcie_version = flags & 0xf;
    c->pcie_type = (flags >> 4) & 0xf;
    c->flr = rd32(b, pos + 0x04) & 0x10000000;
    if (c->pcie_type == XENGPU_PCIE_RC_ENDPOINT ||
        c->pcie_type == XENGPU_PCIE_RC_EC || !has(b, pos, 0x14))
        return;
    c->has_link = true;
    c->link_max_speed = rd32(b, pos + 0x0c) & 0xf;
    c->link_max_width = (rd32(b, pos + 0x0c) >> 4) & 0x3f;
    c->link_speed = rd16(b, pos + 0x12) & 0xf;
    c->link_width = (rd16(b, pos + 0x12) >> 4) & 0x3f;
}

/* Bytes of each decoded capability that must be present to use it. */
static size_t std_cap_len(uint8_t id)
{
    switch (id) {
    case CAP_PCIE:
        return 0x08;
    case CAP_PM:
        return 0x06;
    case CAP_AF:
        return 0x04;
    }
    return 2;
}

static void std_cap(const struct buf *b, uint8_t id, size_t pos,
                    xengpu_pcicfg *c)
{
    if (id == CAP_PCIE && !c->has_pcie) {
        cap_pcie(b, pos, c);
    } else if (id == CAP_PM && !c->has_pm) {
        c->has_pm = true;
        c->pm_no_soft_reset = rd16(b, pos + 0x04) & 0x0008;
    } else if (id == CAP_AF && !c->has_af) {
        c->has_af = true;
        /* Linux uses AF FLR only when Transactions Pending is there. */
        c->af_flr = (b->p[pos + 3] & 0x03) == 0x03;
    }
}

static void walk_std(const struct buf *b, xengpu_pcicfg *c)
{
    size_t lim = b->len < CFG_STD_LEN ? b->len : CFG_STD_LEN;
    struct buf std = { b->p, lim };
    unsigned ttl = STD_TTL;
    size_t pos;
    uint8_t id;

    if (!(rd16(b, OFF_STATUS) & STATUS_CAP_LIST)) {
        c->caps_complete = true;
        return;
    }
    pos = b->p[c->header_type == 2 ? OFF_CB_CAP_PTR : OFF_CAP_PTR];
    while (ttl--) {
        pos &= ~(size_t)3;
        if (pos < HDR_LEN) {
            c->caps_complete = true;
            return;
        }
        if (!has(&std, pos, 2)) return;
        id = std.p[pos];
        if (id == 0xff) {
            c->caps_complete = true;
            return;
        }
        /* A capability cut short leaves the list incomplete. */
        if (!has(&std, pos, std_cap_len(id))) return;
        std_cap(&std, id, pos, c);
        pos = std.p[pos + 1];
    }
}

static size_t ext_cap_len(uint16_t id)
{
    switch (id) {
    case EXT_ACS:
        return 0x08;
    case EXT_SRIOV:
        return 0x1c;
    }
    return 4;
}

static void ext_cap(const struct buf *b, uint16_t id, size_t pos,
                    xengpu_pcicfg *c)
{
    if (id == EXT_ACS && !c->has_acs) {
        c->has_acs = true;
        c->acs_cap = rd16(b, pos + 0x04);
        c->acs_ctrl = rd16(b, pos + 0x06);
    } else if (id == EXT_SRIOV && !c->has_sriov) {
        c->has_sriov = true;
        c->sriov_total = rd16(b, pos + 0x0e);
        c->sriov_num = rd16(b, pos + 0x10);
        c->sriov_vf_device = rd16(b, pos + 0x1a);
    } else if (id == EXT_REBAR) {
        c->has_rebar = true;
    }
}

static void walk_ext(const struct buf *b, xengpu_pcicfg *c)
{
    unsigned ttl = EXT_TTL;
    size_t pos = CFG_STD_LEN;
    uint32_t hdr;

    if (!c->has_pcie) {
        c->ext_complete = true;
        return;
    }
    while (ttl--) {
        if (!has(b, pos, 4)) return;
        hdr = rd32(b, pos);
        if (hdr == 0 || hdr == 0xffffffff) {
            c->ext_complete = true;
            return;
        }
        if (!has(b, pos, ext_cap_len((uint16_t)(hdr & 0xffff)))) return;
        ext_cap(b, (uint16_t)(hdr & 0xffff), pos, c);
        pos = (hdr >> 20) & ~(uint32_t)3;
        if (pos < CFG_STD_LEN) {
            c->ext_complete = true;
            return;
        }
    }
}

int xengpu_pcicfg_parse(const uint8_t *cfg, size_t len, xengpu_pcicfg *cfg_r)
{
    struct buf b = { cfg, len };

    memset(cfg_r, 0, sizeof(*cfg_r));
    cfg_r->len = len;
    if (len < HDR_LEN) return -ENODATA;
    cfg_r->header = true;
    /*
     * A VF's vendor and device ids read 0xffff by design, so only a
     * header whose type byte is all ones too counts as gone.
     */
    if (rd32(&b, 0) == 0xffffffff && cfg[0x0e] == 0xff) {
        cfg_r->dead = true;
        return -ENODEV;
    }
    parse_header(&b, cfg_r);
    walk_std(&b, cfg_r);
    walk_ext(&b, cfg_r);
    return 0;
}

const char *xengpu_pcicfg_speed_name(uint8_t speed)
{
    static const char *const names[] = {
        NULL, "2.5 GT/s", "5 GT/s", "8 GT/s", "16 GT/s", "32 GT/s", "64 GT/s",
    };

    return speed < sizeof(names) / sizeof(names[0]) ? names[speed] : NULL;
}
