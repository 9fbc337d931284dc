/*
 * domains.c - attach and detach cards through libxl.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <syslog.h>
#include <time.h>
#include <unistd.h>

#include "domains.h"
#include "gpuspec.h"
#include "layout.h"
#include "pciback-helper/libxl-compat.h"
#include "qmp.h"
#include "pciback-helper/util.h"

struct xengpu_xl {
    libxl_ctx *ctx;
    xentoollog_logger *lg;
    xentoollog_logger *quiet; /* for probes whose failure is an answer */
    libxl_ctx *qctx;          /* logging to quiet; made when first needed */
};

unsigned xengpu__mmio_hole_mib(uint64_t memkb)
{
    /* LIBXL_MEMKB_DEFAULT when the config set none (seen on real Xen). */
    return memkb == LIBXL_MEMKB_DEFAULT ? 0 : (unsigned)(memkb / 1024);
}

libxl_ctx *xengpu__xl_ctx(xengpu_xl *xl)
{
    return xl->ctx;
}

int xengpu_xl_open(xentoollog_logger *lg, bool quiet, xengpu_xl **xl_r)
{
    xengpu_xl *xl = xengpu__xcalloc(1, sizeof(*xl));

    xl->lg = lg ? lg : xengpu__logger_default();
    xl->quiet = (xentoollog_logger *)xtl_createlogger_stdiostream(
        stderr, XTL_NUM_LEVELS, 0); /* above every level: silent */
    if (!xl->quiet) xengpu__oom();
    if (libxl_ctx_alloc(&xl->ctx, LIBXL_VERSION, 0,
                        quiet ? xl->quiet : xl->lg)) {
        if (!quiet)
            LOG(xl->lg, ERROR,
                "cannot talk to Xen's toolstack (libxl); is "
                "this a Xen dom0, and are you root?");
        xengpu_xl_close(xl);
        return -ENXIO;
    }
    *xl_r = xl;
    return 0;
}

void xengpu_xl_close(xengpu_xl *xl)
{
    if (!xl) return;
    if (xl->ctx) libxl_ctx_free(xl->ctx);
    if (xl->qctx) libxl_ctx_free(xl->qctx);
    if (xl->quiet) xtl_logger_destroy(xl->quiet);
    free(xl);
}

int xengpu_xl_domid(xengpu_xl *xl, const char *domain, uint32_t *domid_r)
{
    libxl_dominfo info;
    char *end;
    unsigned long id;

    errno = 0;
    id = strtoul(domain, &end, 10);
    if (*domain >= '0' && *domain <= '9' && !*end && !errno &&
        id < 0x7ff0 /* DOMID_FIRST_RESERVED */) {
        libxl_dominfo_init(&info);
        if (!libxl_domain_info(xl->ctx, &info, id)) {
            libxl_dominfo_dispose(&info);
            *domid_r = id;
            return 0;
        }
        libxl_dominfo_dispose(&info);
    } else if (!libxl_name_to_domid(xl->ctx, domain, domid_r)) {
        return 0;
    }
    LOG(xl->lg, ERROR, "no domain '%s'; `xl list` shows the running ones",
        domain);
    return -ENOENT;
}

static bool same(const libxl_device_pci *p, const xengpu_bdf *b)
{
    return p->domain == b->domain && p->bus == b->bus && p->dev == b->dev &&
           p->func == b->fn;
}

/* How many of CARD's functions DOMID holds now. */
static size_t held_by(xengpu_xl *xl, uint32_t domid, const xengpu_card *card)
{
    libxl_device_pci *pcis;
    int n = 0, i;
    size_t k, count = 0;

    pcis = libxl_device_pci_list(xl->ctx, domid, &n);
    for (i = 0; i < n; i++)
        for (k = 0; k < card->nfns; k++)
            count += same(&pcis[i], &card->fns[k]->bdf);
    libxl_device_pci_list_free(pcis, n);
    return count;
}

int xengpu_xl_annotate(xengpu_xl *xl, xengpu_host *host)
{
    libxl_dominfo *doms;
    int ndoms = 0, d;
    size_t c;

    doms = libxl_list_domain(xl->ctx, &ndoms);
    if (!doms) return -EIO;
    for (d = 0; d < ndoms; d++)
        for (c = 0; c < xengpu_host_ncards(host); c++)
            if (held_by(xl, doms[d].domid, xengpu_host_card(host, c)))
                xengpu_host_set_holder(host, c, doms[d].domid);
    libxl_dominfo_list_free(doms, ndoms);
    return 0;
}

/*
 * OP 0 adds, 1 removes, 2 removes without the guest's consent, 3 removes
 * what the device model already dropped (quietly).  VSLOT: put the
 * function at VSLOT.FN, the same function number as on the host (libxl
 * keeps it only when vfunc_mask names that function alone); 0 lets
 * libxl and QEMU choose, at function 0 of a free slot.  O: the
 * per-device options of a gpu spec (NULL: libxl's defaults).
 */
static int pci_op_opts(xengpu_xl *xl, uint32_t domid, const xengpu_bdf *b,
                       int op, unsigned vslot, const xengpu_gpuspec *o)
{
    libxl_device_pci pci;
    int rc;

    libxl_device_pci_init(&pci);
    xengpu__libxl_pci_from_bdf(&pci, b);
    if (o && o->permissive >= 0) pci.permissive = o->permissive;
    if (o && o->msitranslate >= 0) pci.msitranslate = o->msitranslate;
    if (o && o->power_mgmt >= 0) pci.power_mgmt = o->power_mgmt;
    if (o && o->rdm_policy == XENGPU_RDM_STRICT)
        pci.rdm_policy = LIBXL_RDM_RESERVE_POLICY_STRICT;
    if (o && o->rdm_policy == XENGPU_RDM_RELAXED)
        pci.rdm_policy = LIBXL_RDM_RESERVE_POLICY_RELAXED;
    if (vslot) {
        pci.vdevfn = vslot << 3 | b->fn;
        pci.vfunc_mask = 1u << b->fn;
    }
    switch (op) {
    case 0:
        rc = libxl_device_pci_add(xl->ctx, domid, &pci, NULL);
        break;
    case 1:
        rc = libxl_device_pci_remove(xl->ctx, domid, &pci, NULL);
        break;
    case 2:
        rc = libxl_device_pci_destroy(xl->ctx, domid, &pci, NULL);
        break;
    default: /* gone from the device model: libxl's "not found" is noise */
        rc = ERROR_FAIL;
        if (xl->qctx ||
            !libxl_ctx_alloc(&xl->qctx, LIBXL_VERSION, 0, xl->quiet))
            rc = libxl_device_pci_destroy(xl->qctx, domid, &pci, NULL);
        break;
    }
    libxl_device_pci_dispose(&pci);
    return xengpu__libxl_errno(rc);
}

/* pci_op_opts() without options. */
static int pci_op(xengpu_xl *xl, uint32_t domid, const xengpu_bdf *b, int op,
                  unsigned vslot)
{
    return pci_op_opts(xl, domid, b, op, vslot, NULL);
}

static bool has_arg(char **list, const char *arg)
{
    for (; list && *list; list++)
        if (!strcmp(*list, arg)) return true;
    return false;
}

/*
 * Whether the card's functions can share one virtual slot in this HVM
 * guest: its device model must run in dom0 (xengpu asks it which slots
 * are free) and must have been started with XENGPU_MULTIFN_ARG, without
 * which QEMU refuses a function 0 joining the functions already in its
 * slot; xengpu create passes it.  And the card must have a function 0
 * and no two functions with one number (one behind an on-card switch).
 */
static bool can_share_slot(xengpu_xl *xl, uint32_t domid,
                           const libxl_domain_config *cfg,
                           const xengpu_card *card)
{
    unsigned seen = 0;
    size_t i;

    if (cfg->c_info.type != LIBXL_DOMAIN_TYPE_HVM || card->nfns < 2 ||
        (!libxl_defbool_is_default(cfg->b_info.device_model_stubdomain) &&
         libxl_defbool_val(cfg->b_info.device_model_stubdomain)))
        return false;
    for (i = 0; i < card->nfns; i++) {
        if (seen & 1u << card->fns[i]->bdf.fn) return false;
        seen |= 1u << card->fns[i]->bdf.fn;
    }
    if (!(seen & 1u)) return false;
    if (has_arg(cfg->b_info.extra_hvm, XENGPU_MULTIFN_ARG) ||
        has_arg(cfg->b_info.extra, XENGPU_MULTIFN_ARG))
        return true;
    LOG(xl->lg, WARN,
        "domain %u's device model was started without \"-global "
        "%s\" (xengpu create adds it), so each function of card %s gets a "
        "virtual slot of its own",
        domid, XENGPU_MULTIFN_ARG, card->fns[0]->name);
    return false;
}

/* The lowest slot DOMID's device model leaves free; 0 when none is. */
static unsigned free_slot(xengpu_xl *xl, uint32_t domid)
{
    uint32_t used;
    unsigned slot;

    if (xengpu__qmp_used_slots(xl->lg, XTL_WARN, NULL, domid,
                               XENGPU_QMP_TIMEOUT_MS, &used))
        return 0;
    for (slot = 1; slot < 32; slot++)
        if (!(used & 1u << slot)) return slot;
    LOG(xl->lg, WARN, "domain %u's device model has no free PCI slot", domid);
    return 0;
}

/* The hole check of xengpu__xl_fits() on a config already read. */
static int fits_cfg(xengpu_xl *xl, uint32_t domid,
                    const libxl_domain_config *cfg,
                    const xengpu_card *const *cards, size_t n)
{
    char why[XENGPU_LAYOUT_WHYLEN];
    unsigned hole;

    if (cfg->c_info.type != LIBXL_DOMAIN_TYPE_HVM) return 0;
    hole = xengpu__mmio_hole_mib(cfg->b_info.u.hvm.mmio_hole_memkb);
    if (!xengpu_layout_check(cards, n, hole, why, sizeof(why))) return 0;
    LOG(xl->lg, ERROR,
        "domain %u's MMIO hole is too small: %s; the hole is fixed "
        "when the guest boots, so recreate it with that mmio_hole "
        "to give it this card",
        domid, why);
    return -ENOSPC;
}

/*
 * Refuse a domain that cannot take a PCI device, or whose MMIO hole
 * cannot hold CARD (from one read of its config).  *pt_r: its config
 * asked for passthrough explicitly (libxl keeps "default" for a guest
 * whose config did not say, whatever Xen then decided).
 */
static int check_domain(xengpu_xl *xl, uint32_t domid, const xengpu_card *card,
                        bool *pt_r, bool *share_r)
{
    const char *name = card->fns[0]->name;
    libxl_domain_config cfg;
    int r = 0;

    libxl_domain_config_init(&cfg);
    if (libxl_retrieve_domain_configuration(xl->ctx, domid, &cfg, NULL)) {
        LOG(xl->lg, ERROR, "cannot read domain %u's configuration", domid);
        r = -EIO;
    } else if (cfg.c_info.type == LIBXL_DOMAIN_TYPE_PVH) {
        LOG(xl->lg, ERROR,
            "domain %u is a PVH guest, and Xen 4.17 cannot "
            "give PCI devices to PVH guests; use an HVM or PV guest for %s",
            domid, name);
        r = -EPERM;
    } else if (cfg.c_info.passthrough == LIBXL_PASSTHROUGH_DISABLED) {
        LOG(xl->lg, ERROR,
            "domain %u was created without passthrough "
            "(passthrough = \"enabled\" in its config), so Xen gave it no "
            "IOMMU context; recreate it with that line to attach %s",
            domid, name);
        r = -EPERM;
    }
    *pt_r = cfg.c_info.passthrough != LIBXL_PASSTHROUGH_DEFAULT &&
            cfg.c_info.passthrough != LIBXL_PASSTHROUGH_DISABLED;
    if (!r) r = fits_cfg(xl, domid, &cfg, &card, 1);
    *share_r = !r && can_share_slot(xl, domid, &cfg, card);
    libxl_domain_config_dispose(&cfg);
    return r;
}

/*
 * Only an HVM guest has a hole: the domain's type comes cheaply from the
 * hypervisor, its whole config (read from xenstore) only when needed.
 */
int xengpu__xl_fits(xengpu_xl *xl, uint32_t domid,
                    const xengpu_card *const *cards, size_t n)
{
    libxl_domain_config cfg;
    libxl_dominfo info;
    bool hvm;
    int r;

    libxl_dominfo_init(&info);
    hvm = libxl_domain_info(xl->ctx, &info, domid) ||
          info.domain_type == LIBXL_DOMAIN_TYPE_HVM;
    libxl_dominfo_dispose(&info);
    if (!hvm) return 0;
    libxl_domain_config_init(&cfg);
    if (libxl_retrieve_domain_configuration(xl->ctx, domid, &cfg, NULL)) {
        LOG(xl->lg, ERROR, "cannot read domain %u's configuration", domid);
        r = -EIO;
    } else {
        r = fits_cfg(xl, domid, &cfg, cards, n);
    }
    libxl_domain_config_dispose(&cfg);
    return r;
}

/*
 * Add CARD's functions; on a failure remove those added.  One slot
 * (VSLOT): function 0 last, since QEMU refuses a function hot-plugged
 * into a slot whose function 0 is there, and the guest looks at a slot
 * only when its function 0 appears.
 */
static int plug(xengpu_xl *xl, uint32_t domid, const xengpu_card *card,
                unsigned vslot, bool pt, const xengpu_gpuspec *opts)
{
    const char *name = card->fns[0]->name;
    size_t k, done, n = card->nfns;
    int r;

    for (done = 0; done < n; done++) {
        k = vslot ? n - 1 - done : done;
        r = pci_op_opts(xl, domid, &card->fns[k]->bdf, 0, vslot, opts);
        if (!r) continue;
        LOGE(xl->lg, ERROR, -r,
             "card %s: adding %s to domain %u failed; removing what "
             "was added%s",
             name, card->fns[k]->name, domid,
             pt ? ""
                : " (its config does not say passthrough = "
                  "\"enabled\"; a guest created without a PCI "
                  "device then has no IOMMU context: recreate it "
                  "with that line)");
        while (done-- > 0) {
            k = vslot ? n - 1 - done : done;
            if (pci_op(xl, domid, &card->fns[k]->bdf, 1, vslot))
                pci_op(xl, domid, &card->fns[k]->bdf, 2, vslot);
        }
        return r;
    }
    return 0;
}

int xengpu__xl_plug(xengpu_xl *xl, uint32_t domid, const xengpu_card *card,
                    const xengpu_gpuspec *opts)
{
    const char *name = card->fns[0]->name;
    bool pt = false, share = false;
    unsigned vslot = 0;
    int r;

    r = check_domain(xl, domid, card, &pt, &share);
    if (r) return r;
    if (share && !(vslot = free_slot(xl, domid)))
        LOG(xl->lg, WARN,
            "card %s: each function gets a slot of its own in "
            "domain %u",
            name, domid);
    r = plug(xl, domid, card, vslot, pt, opts);
    if (r) return r;
    if (vslot)
        syslog(LOG_NOTICE, "card %s attached to domain %u in slot %02x", name,
               domid, vslot);
    else
        syslog(LOG_NOTICE, "card %s attached to domain %u", name, domid);
    return 0;
}

int xengpu__xl_opts(xengpu_xl *xl, uint32_t domid, const xengpu_card *card,
                    xengpu_gpuspec *opts_r)
{
    libxl_device_pci *pcis;
    int n = 0, i;
    bool found = false;

    memset(opts_r, 0, sizeof(*opts_r));
    opts_r->permissive = opts_r->msitranslate = opts_r->power_mgmt = -1;
    pcis = libxl_device_pci_list(xl->ctx, domid, &n);
    for (i = 0; i < n && !found; i++) {
        if (!same(&pcis[i], &card->fns[0]->bdf)) continue;
        found = true;
        opts_r->permissive = pcis[i].permissive;
        opts_r->msitranslate = pcis[i].msitranslate;
        opts_r->power_mgmt = pcis[i].power_mgmt;
        if (pcis[i].rdm_policy == LIBXL_RDM_RESERVE_POLICY_STRICT)
            opts_r->rdm_policy = XENGPU_RDM_STRICT;
        if (pcis[i].rdm_policy == LIBXL_RDM_RESERVE_POLICY_RELAXED)
            opts_r->rdm_policy = XENGPU_RDM_RELAXED;
    }
    libxl_device_pci_list_free(pcis, n);
    return found ? 0 : -ENOENT;
}

int xengpu_xl_attach(xengpu_xl *xl, uint32_t domid, const xengpu_card *card)
{
    return xengpu__xl_attach_opts(xl, domid, card, NULL);
}

int xengpu__xl_attach_opts(xengpu_xl *xl, uint32_t domid,
                           const xengpu_card *card, const xengpu_gpuspec *opts)
{
    const char *name = card->fns[0]->name;

    if (card->state == XENGPU_CARD_ASSIGNED) {
        LOG(xl->lg, ERROR,
            "card %s is held by domain %ld; detach it first "
            "(xengpu detach %ld %s)",
            name, card->domid, card->domid, name);
        return -EBUSY;
    }
    if (card->state != XENGPU_CARD_PREPARED) {
        LOG(xl->lg, ERROR,
            "card %s is not prepared for guests; run `xengpu "
            "prepare %s` first, or attach with --prepare",
            name, name);
        return -EINVAL;
    }
    return xengpu__xl_plug(xl, domid, card, opts);
}

/* Whether DOMID's PCI backend lists B. */
static bool lists(xengpu_xl *xl, uint32_t domid, const xengpu_bdf *b)
{
    libxl_device_pci *pcis;
    int n = 0, i;
    bool found = false;

    pcis = libxl_device_pci_list(xl->ctx, domid, &n);
    for (i = 0; i < n; i++)
        found |= same(&pcis[i], b);
    libxl_device_pci_list_free(pcis, n);
    return found;
}

/*
 * libxl 4.17 reports a PV remove done even when the guest's pcifront
 * has not acknowledged the previous reconfiguration in time: it then
 * skips the backend's entry (libxl__wait_for_backend: "not ready"), and
 * the function stays listed, half-removed.  Seen on a slow nested host.
 * Remove it again, at least 3 times a second apart and until END, and
 * report -EBUSY if it stays.
 */
unsigned xengpu__relist_ms = 1000; /* tests shorten it */

static int still_listed(xengpu_xl *xl, uint32_t domid, const xengpu_bdf *b,
                        time_t end)
{
    int tries = 0;

    while (lists(xl, domid, b)) {
        if (tries++ >= 3 && time(NULL) >= end) return -EBUSY;
        usleep(xengpu__relist_ms * 1000);
        if (pci_op(xl, domid, b, 1, 0) == -ETIMEDOUT && time(NULL) >= end)
            return -ETIMEDOUT;
    }
    return 0;
}

/*
 * The virtual slot CARD's functions share in HVM guest DOMID, or 0 when
 * they do not (a PV guest's slot is pciback's business).
 */
static unsigned shared_slot(xengpu_xl *xl, uint32_t domid,
                            const xengpu_card *card)
{
    libxl_device_pci *pcis;
    libxl_dominfo info;
    int n = 0, i;
    size_t k, found = 0;
    unsigned slot = 0;
    bool hvm;

    libxl_dominfo_init(&info);
    hvm = !libxl_domain_info(xl->ctx, &info, domid) &&
          info.domain_type == LIBXL_DOMAIN_TYPE_HVM;
    libxl_dominfo_dispose(&info);
    if (!hvm || card->nfns < 2) return 0;
    pcis = libxl_device_pci_list(xl->ctx, domid, &n);
    for (i = 0; i < n; i++)
        for (k = 0; k < card->nfns; k++) {
            if (!same(&pcis[i], &card->fns[k]->bdf)) continue;
            if ((pcis[i].vdevfn & 7) != card->fns[k]->bdf.fn ||
                (found && pcis[i].vdevfn >> 3 != slot))
                slot = 0, found = card->nfns + 1;
            else
                slot = pcis[i].vdevfn >> 3, found++;
        }
    libxl_device_pci_list_free(pcis, n);
    return found == card->nfns ? slot : 0;
}

/*
 * The guest ejects a slot whole, and QEMU then drops every function in
 * it: after the first function of a shared slot went, the others are
 * gone from the device model, and libxl's remove would wait for the
 * guest and time out.  Whether SLOT is empty now.
 */
static bool slot_gone(xengpu_xl *xl, uint32_t domid, unsigned slot)
{
    uint32_t used;

    return slot &&
           !xengpu__qmp_used_slots(xl->lg, XTL_WARN, NULL, domid,
                                   XENGPU_QMP_TIMEOUT_MS, &used) &&
           !(used & 1u << slot);
}

/* Remove one function with the guest's consent (else --force). */
static int remove_fn(xengpu_xl *xl, uint32_t domid, const xengpu_pcidev *fn,
                     unsigned vslot, time_t end, bool force)
{
    int r;

    do
        r = pci_op(xl, domid, &fn->bdf, 1, vslot);
    while (r == -ETIMEDOUT && time(NULL) < end);
    if (!r) r = still_listed(xl, domid, &fn->bdf, end);
    if (r && force) {
        LOGE(xl->lg, WARN, -r,
             "domain %u did not release %s; removing it without the "
             "guest's consent",
             domid, fn->name);
        r = pci_op(xl, domid, &fn->bdf, 2, vslot);
    }
    return r;
}

int xengpu_xl_detach(xengpu_xl *xl, uint32_t domid, const xengpu_card *card,
                     int timeout, bool force)
{
    const char *name = card->fns[0]->name;
    time_t end = time(NULL) + timeout;
    unsigned vslot;
    bool gone = false;
    size_t i;
    int r = 0;

    if (!held_by(xl, domid, card)) {
        LOG(xl->lg, ERROR, "domain %u does not hold card %s", domid, name);
        return -ENOENT;
    }
    vslot = shared_slot(xl, domid, card);
    /* the last function first: the guest sees the slot go with fn 0 */
    for (i = card->nfns; i-- > 0;) {
        const xengpu_bdf *b = &card->fns[i]->bdf;

        if (!gone && vslot && i + 1 < card->nfns)
            gone = slot_gone(xl, domid, vslot);
        r = gone ? pci_op(xl, domid, b, 3, vslot)
                 : remove_fn(xl, domid, card->fns[i], vslot, end, force);
        if (r == -ETIMEDOUT) {
            LOG(xl->lg, ERROR,
                "domain %u did not release %s in time; the "
                "card stays attached; retry with a longer --timeout, or "
                "--force",
                domid, card->fns[i]->name);
            return r;
        }
        if (r == -EBUSY) {
            LOG(xl->lg, ERROR,
                "libxl removed %s from domain %u, but the domain's PCI "
                "backend still lists it: the guest has not acknowledged "
                "the removal; the card stays attached; retry the detach, "
                "or --force",
                card->fns[i]->name, domid);
            return r;
        }
        if (r) {
            LOGE(xl->lg, ERROR, -r,
                 "card %s: removing %s from domain %u "
                 "failed",
                 name, card->fns[i]->name, domid);
            return r;
        }
    }
    syslog(LOG_NOTICE, "card %s detached from domain %u", name, domid);
    return 0;
}
