/*
 * isolation.c - which functions can share an IOMMU context.
 *
 * With sysfs IOMMU groups the kernel already answered.  Without them (a
 * Xen PV dom0: Xen keeps the DMAR/IVRS tables) the groups are rebuilt
 * with Linux's rules from drivers/iommu/iommu.c:pci_device_group():
 *
 *  1. walking up from a function, the first bridge whose path to the
 *     root does not have ACS (source validation, request and completion
 *     redirect, upstream forwarding) enabled swallows the function into
 *     its own group;
 *  2. otherwise a function of a multifunction device without ACS shares
 *     a group with its sibling functions that lack ACS too;
 *  3. otherwise the function is alone.
 *
 * pci_acs_enabled()'s treatment of device types is copied (conventional
 * PCI and PCIe-to-PCI bridges never isolate; single-function endpoints
 * need no ACS; ports need it); its per-device quirks are not, so a few
 * chipsets Linux trusts are treated more cautiously here.  Only the ACS
 * control bits as currently set count: Xen enables ACS when it owns the
 * IOMMU, a host without one leaves it off.
 */
#include <stdlib.h>

#include "host-private.h"
#include "util.h"

#define REQ_ACS (XENGPU_ACS_SV | XENGPU_ACS_RR | XENGPU_ACS_CR | XENGPU_ACS_UF)

static bool acs_flags_enabled(const xengpu_pcidev *dev)
{
    uint16_t flags = REQ_ACS;

    if (!dev->cfg.has_acs) return false;
    /* Features a port lacks are hard-wired: they count as enabled. */
    flags &= dev->cfg.acs_cap | XENGPU_ACS_EC;
    return (dev->cfg.acs_ctrl & flags) == flags;
}

static bool acs_enabled(const xengpu_pcidev *dev)
{
    if (dev->dead || !dev->cfg.header || !dev->cfg.has_pcie) return false;
    switch (dev->cfg.pcie_type) {
    case XENGPU_PCIE_PCIE_TO_PCI:
    case XENGPU_PCIE_PCI_TO_PCIE:
    case XENGPU_PCIE_RC_EC:
        return false;
    case XENGPU_PCIE_DOWNSTREAM:
    case XENGPU_PCIE_ROOT_PORT:
        return acs_flags_enabled(dev);
    case XENGPU_PCIE_ENDPOINT:
    case XENGPU_PCIE_UPSTREAM:
    case XENGPU_PCIE_LEGACY_ENDPOINT:
    case XENGPU_PCIE_RC_ENDPOINT:
        /* VFs are never multifunction to the kernel. */
        if (!dev->cfg.multifunction || dev->is_vf) return true;
        return acs_flags_enabled(dev);
    }
    return true;
}

/* pci_acs_path_enabled(dev, NULL, REQ_ACS). */
static bool acs_path_enabled(const xengpu_pcidev *dev)
{
    unsigned depth = 0;

    for (; dev && depth < XENGPU_MAX_DEPTH; dev = dev->parent, depth++) {
        if (!acs_enabled(dev)) return false;
        if (dev->on_root_bus) return true;
    }
    /* Parent unknown before reaching a root bus: assume the worst. */
    return false;
}

static size_t find(size_t *uf, size_t i)
{
    while (uf[i] != i) {
        uf[i] = uf[uf[i]];
        i = uf[i];
    }
    return i;
}

static void join(size_t *uf, size_t a, size_t b)
{
    a = find(uf, a);
    b = find(uf, b);
    if (a != b) uf[a > b ? a : b] = a > b ? b : a;
}

/* Slot siblings are neighbours in the sorted array. */
static void join_siblings(xengpu_host *host, size_t *uf, size_t i)
{
    const xengpu_bdf *slot = &host->devs[i].bdf;
    size_t j = i;

    while (j > 0 && xengpu_bdf_same_slot(&host->devs[j - 1].bdf, slot))
        j--;
    for (; j < host->ndevs && xengpu_bdf_same_slot(&host->devs[j].bdf, slot);
         j++)
        if (j != i && !host->devs[j].is_vf && !acs_enabled(&host->devs[j]))
            join(uf, i, j);
}

static void group_one(xengpu_host *host, size_t *uf, size_t i)
{
    const xengpu_pcidev *dev = &host->devs[i];

    if (dev->parent && !dev->on_root_bus && !acs_path_enabled(dev->parent)) {
        join(uf, i, (size_t)(dev->parent - host->devs));
        return;
    }
    if (dev->cfg.multifunction && !dev->is_vf && !acs_enabled(dev))
        join_siblings(host, uf, i);
}

/* Union-find roots as group ids; computed groups, sysfs's otherwise. */
static size_t *group_ids(xengpu_host *host)
{
    size_t *uf = xengpu__xcalloc(host->ndevs, sizeof(*uf));
    size_t i;

    for (i = 0; i < host->ndevs; i++)
        uf[i] = i;
    for (i = 0; i < host->ndevs && !host->sysfs_groups; i++)
        group_one(host, uf, i);
    for (i = 0; i < host->ndevs; i++)
        uf[i] = find(uf, i);
    return uf;
}

static bool in_card(const xengpu_card *card, const xengpu_pcidev *dev)
{
    size_t i;

    for (i = 0; i < card->nfns; i++)
        if (card->fns[i] == dev) return true;
    return false;
}

static bool shares(const xengpu_host *host, const size_t *gid, size_t a,
                   size_t b)
{
    if (!host->sysfs_groups) return gid[a] == gid[b];
    return host->devs[a].iommu_group >= 0 &&
           host->devs[a].iommu_group == host->devs[b].iommu_group;
}

static void card_isolation(const xengpu_host *host, const size_t *gid,
                           xengpu_card *card)
{
    size_t f, j, fi;

    card->isolated = true;
    card->groups_from_sysfs = host->sysfs_groups;
    for (f = 0; f < card->nfns; f++) {
        fi = (size_t)(card->fns[f] - host->devs);
        if (host->sysfs_groups && card->fns[f]->iommu_group < 0) {
            card->isolated = false;
            card->not_isolated_why = "a function has no IOMMU group";
            continue;
        }
        if (!host->sysfs_groups && !card->fns[f]->on_root_bus &&
            !card->fns[f]->parent) {
            card->isolated = false;
            card->not_isolated_why = "upstream topology unknown";
            continue;
        }
        for (j = 0; j < host->ndevs; j++) {
            if (j == fi || !shares(host, gid, fi, j)) continue;
            if (host->devs[j].is_bridge || in_card(card, &host->devs[j]))
                continue;
            card->isolated = false;
            card->not_isolated_why = "shares its IOMMU context";
            if (!card->shares_with) card->shares_with = &host->devs[j];
        }
    }
}

void xengpu__host_isolation(xengpu_host *host)
{
    size_t *gid = group_ids(host);
    size_t c;

    for (c = 0; c < host->ncards; c++)
        card_isolation(host, gid, &host->cards[c]);
    free(gid);
}
