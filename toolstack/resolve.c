/*
 * resolve.c - choose free cards for gpu specs and write their xl pci
 * entries.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "resolve.h"
#include "pciback-helper/libxl-compat.h"
#include "pciback-helper/util.h"

#include <libxlutil.h>

/* What the config's own pci = [...] entries name. */
struct cfgpci {
    xengpu_bdf bdf;
    bool all_fns; /* "BB:DD.*" */
};

struct ctx {
    const xengpu_resolve_req *req;
    xentoollog_logger *lg;
    struct cfgpci *cfgpci;
    size_t ncfgpci;
    const xengpu_card **taken;
    size_t *taken_by; /* spec index of each taken card */
    size_t ntaken;
};

/* --- the config's pci entries ---------------------------------------- */

static int read_cfgpci(struct ctx *c)
{
    const xengpu_resolve_req *req = c->req;
    XLU_Config *xlu = xlu_cfg_init(NULL, "pci");
    libxl_device_pci pci;
    size_t i;
    int rc = 0;

    if (!xlu) xengpu__oom();
    c->cfgpci = xengpu__xcalloc(req->npci, sizeof(*c->cfgpci));
    for (i = 0; i < req->npci && !rc; i++) {
        libxl_device_pci_init(&pci);
        if (strpbrk(req->pci[i], "'\"\\") ||
            xlu_pci_parse_spec_string(xlu, &pci, req->pci[i])) {
            LOG(c->lg, ERROR, "%s: pci[%zu] \"%s\" is not a valid xl pci spec",
                req->file, i, req->pci[i]);
            rc = -EINVAL;
        } else if (!pci.name) {
            c->cfgpci[c->ncfgpci].bdf =
                (xengpu_bdf){ (uint16_t)pci.domain, pci.bus, pci.dev,
                              pci.func };
            c->cfgpci[c->ncfgpci++].all_fns =
                pci.vfunc_mask == LIBXL_PCI_FUNC_ALL;
        }
        libxl_device_pci_dispose(&pci);
    }
    xlu_cfg_destroy(xlu);
    return rc;
}

static bool in_cfgpci(const struct ctx *c, const xengpu_card *card)
{
    size_t i, j;

    for (i = 0; i < c->ncfgpci; i++)
        for (j = 0; j < card->nfns; j++)
            if (c->cfgpci[i].all_fns
                    ? xengpu_bdf_same_slot(&c->cfgpci[i].bdf,
                                           &card->fns[j]->bdf)
                    : !xengpu_bdf_cmp(&c->cfgpci[i].bdf, &card->fns[j]->bdf))
                return true;
    return false;
}

/* --- matching --------------------------------------------------------- */

static bool has_fn(const xengpu_card *card, const xengpu_bdf *bdf)
{
    size_t i;

    for (i = 0; i < card->nfns; i++)
        if (!xengpu_bdf_cmp(&card->fns[i]->bdf, bdf)) return true;
    return false;
}

static bool matches(const xengpu_gpuspec *s, const xengpu_card *card)
{
    switch (s->sel) {
    case XENGPU_SEL_FUNCTION:
        return has_fn(card, &s->addr);
    case XENGPU_SEL_SLOT:
        return !card->is_vf &&
               xengpu_bdf_same_slot(&card->fns[0]->bdf, &s->addr);
    case XENGPU_SEL_MODEL:
        return card->primary->vendor == s->vendor &&
               (s->device < 0 || card->primary->device == s->device);
    default:
        return false;
    }
}

static bool matches_any(const xengpu_gpuspec *members, size_t n,
                        const xengpu_card *card)
{
    size_t i;

    for (i = 0; i < n; i++)
        if (matches(&members[i], card)) return true;
    return false;
}

static long held_by(const struct ctx *c, const xengpu_card *card)
{
    const xengpu_held *held = c->req->held;
    size_t i;

    for (i = 0; held && i < held->n; i++)
        if (has_fn(card, &held->fns[i].bdf)) return (long)held->fns[i].domid;
    return -1;
}

static long taken_by(const struct ctx *c, const xengpu_card *card)
{
    size_t i;

    for (i = 0; i < c->ntaken; i++)
        if (c->taken[i] == card) return (long)c->taken_by[i];
    return -1;
}

/* Functions of the card's slot that are not the card's (VFs). */
static bool slot_shared(const xengpu_host *host, const xengpu_card *card)
{
    const xengpu_pcidev *dev;
    size_t i;

    for (i = 0; i < xengpu_host_ndevs(host); i++) {
        dev = xengpu_host_dev(host, i);
        if (xengpu_bdf_same_slot(&dev->bdf, &card->fns[0]->bdf) &&
            !has_fn(card, &dev->bdf))
            return true;
    }
    return false;
}

/* Why CARD cannot be had, into WHY; false when it can. */
static bool refused(const struct ctx *c, const xengpu_card *card, char *why,
                    size_t size)
{
    long n;

    if (card->dead)
        snprintf(why, size, "fell off the bus");
    else if ((n = held_by(c, card)) == XENGPU_DOMID_RESERVED)
        snprintf(why, size,
                 "reserved by a save, restore or migration in progress");
    else if (n >= 0)
        snprintf(why, size, "held by domain %ld", n);
    else if (card->state == XENGPU_CARD_RESERVED ||
             card->state == XENGPU_CARD_ASSIGNED)
        snprintf(why, size, "%s", xengpu_card_state_name(card->state));
    else if ((n = taken_by(c, card)) >= 0)
        snprintf(why, size, "already chosen for gpu[%ld]", n);
    else if (in_cfgpci(c, card))
        snprintf(why, size, "listed in the config's pci = [...]");
    else if (card->boot_vga && !c->req->force)
        snprintf(why, size, "dom0's boot VGA (--force to take it anyway)");
    else if (!card->isolated && !c->req->force)
        snprintf(why, size, "not isolated: %s%s%s",
                 card->not_isolated_why ? card->not_isolated_why
                                        : "shares its IOMMU group",
                 card->shares_with ? " with " : "",
                 card->shares_with ? card->shares_with->name : "");
    else if (card->nfns > 1 && slot_shared(c->req->host, card))
        snprintf(why, size,
                 "its slot holds functions outside the card, "
                 "which xl cannot leave out");
    else
        return false;
    return true;
}

/* --- choosing --------------------------------------------------------- */

/* Lower is better: NUMA node, then already prepared, then address. */
static int rank(const struct ctx *c, const xengpu_card *card)
{
    int r = 0;

    if (c->req->numa_node >= 0 &&
        card->primary->numa_node != c->req->numa_node)
        r += 2;
    if (card->state != XENGPU_CARD_PREPARED) r += 1;
    return r;
}

static void log_refusals(struct ctx *c, size_t si, const xengpu_gpuspec *s,
                         const xengpu_gpuspec *members, size_t nmembers,
                         unsigned found)
{
    const xengpu_host *host = c->req->host;
    const xengpu_card *card;
    char *text = NULL, why[160];
    size_t len = 0, i, nmatch = 0;
    FILE *f = open_memstream(&text, &len);

    if (!f) xengpu__oom();
    for (i = 0; i < xengpu_host_ncards(host); i++) {
        card = xengpu_host_card(host, i);
        if (members ? !matches_any(members, nmembers, card)
                    : !matches(s, card))
            continue;
        nmatch++;
        if (taken_by(c, card) == (long)si) continue; /* one of the found */
        if (refused(c, card, why, sizeof(why)))
            fprintf(f, "; %s %s", card->fns[0]->name, why);
    }
    fclose(f);
    if (!nmatch)
        LOG(c->lg, ERROR,
            "%s: gpu[%zu] \"%s\": no card on this host matches "
            "('xengpu list' shows the cards)",
            c->req->file, si, s->text);
    else
        LOG(c->lg, ERROR,
            "%s: gpu[%zu] \"%s\": needs %u free card%s, found "
            "%u%s",
            c->req->file, si, s->text, s->count, s->count > 1 ? "s" : "",
            found, text ? text : "");
    free(text);
}

static void take(struct ctx *c, size_t si, const xengpu_card *card)
{
    c->taken[c->ntaken] = card;
    c->taken_by[c->ntaken++] = si;
}

/* Take spec SI's count of cards, best first; -ENODEV if too few. */
static int resolve_spec(struct ctx *c, size_t si)
{
    const xengpu_gpuspec *s = &c->req->specs[si];
    const xengpu_host *host = c->req->host;
    xengpu_gpuspec *members = NULL;
    const xengpu_card *card, *best;
    size_t nmembers = 0, i;
    unsigned found;
    char why[160];
    int rc;

    if (s->sel == XENGPU_SEL_POOL) {
        if (!c->req->pools) {
            LOG(c->lg, ERROR, "%s: gpu[%zu] \"%s\": no pool file was read",
                c->req->file, si, s->text);
            return -ENOENT;
        }
        rc = xengpu_pool_members(c->req->pools, s->pool, c->lg, &members,
                                 &nmembers);
        if (rc) return rc;
    }
    for (found = 0; found < s->count; found++) {
        best = NULL;
        for (i = 0; i < xengpu_host_ncards(host); i++) {
            card = xengpu_host_card(host, i);
            if (members ? !matches_any(members, nmembers, card)
                        : !matches(s, card))
                continue;
            if (refused(c, card, why, sizeof(why))) continue;
            if (!best || rank(c, card) < rank(c, best)) best = card;
        }
        if (!best) break;
        take(c, si, best);
    }
    if (found < s->count) log_refusals(c, si, s, members, nmembers, found);
    free(members);
    return found < s->count ? -ENODEV : 0;
}

/* Addresses first, then models, vendors, pools. */
static int specificity(const xengpu_gpuspec *s)
{
    switch (s->sel) {
    case XENGPU_SEL_FUNCTION:
    case XENGPU_SEL_SLOT:
        return 0;
    case XENGPU_SEL_MODEL:
        return s->device >= 0 ? 1 : 2;
    default:
        return 3;
    }
}

static void write_entry(xengpu_choice *ch, const xengpu_gpuspec *s)
{
    const xengpu_card *card = ch->card;
    size_t i, off = 0;
    char opts[64];

    xengpu_gpuspec_xl_options(s, opts, sizeof(opts));
    for (i = 0; i < card->nfns && off < sizeof(ch->pci); i++)
        off += snprintf(ch->pci + off, sizeof(ch->pci) - off, "%s%s%s",
                        i ? "', '" : "", card->fns[i]->name, opts);
}

/* The taken cards as choices, in spec order, with their entries. */
static void make_choices(struct ctx *c, xengpu_resolution *res)
{
    xengpu_choice *ch;
    size_t si, i;

    res->choices = xengpu__xcalloc(c->ntaken, sizeof(*res->choices));
    for (si = 0; si < c->req->nspecs; si++) {
        for (i = 0; i < c->ntaken; i++) {
            if (c->taken_by[i] != si) continue;
            ch = &res->choices[res->n++];
            ch->card = c->taken[i];
            ch->spec = si;
            ch->was_prepared = ch->card->state == XENGPU_CARD_PREPARED;
            write_entry(ch, &c->req->specs[si]);
        }
    }
}

void xengpu_resolution_init(xengpu_resolution *res)
{
    memset(res, 0, sizeof(*res));
}

void xengpu_resolution_dispose(xengpu_resolution *res)
{
    free(res->choices);
    xengpu_resolution_init(res);
}

int xengpu_resolve(const xengpu_resolve_req *req, xentoollog_logger *lg,
                   xengpu_resolution *res_r)
{
    struct ctx c = { .req = req, .lg = lg ? lg : xengpu__logger_default() };
    size_t total = 0, si;
    int rc, level;

    for (si = 0; si < req->nspecs; si++)
        total += req->specs[si].count;
    c.taken = xengpu__xcalloc(total, sizeof(*c.taken));
    c.taken_by = xengpu__xcalloc(total, sizeof(*c.taken_by));
    rc = read_cfgpci(&c);
    for (level = 0; !rc && level < 4; level++)
        for (si = 0; !rc && si < req->nspecs; si++)
            if (specificity(&req->specs[si]) == level)
                rc = resolve_spec(&c, si);
    xengpu_resolution_dispose(res_r);
    if (!rc) make_choices(&c, res_r);
    if (rc) xengpu_resolution_dispose(res_r);
    free(c.cfgpci);
    free(c.taken);
    free(c.taken_by);
    return rc;
}

char *xengpu_resolution_pci_value(const xengpu_resolution *res,
                                  char *const *pci, size_t npci)
{
    char *text = NULL;
    size_t len = 0, i;
    FILE *f = open_memstream(&text, &len);

    if (!f) xengpu__oom();
    fputs("[ ", f);
    for (i = 0; i < npci; i++)
        fprintf(f, "%s'%s'", i ? ", " : "", pci[i]);
    for (i = 0; i < res->n; i++)
        fprintf(f, "%s'%s'", i + npci ? ", " : "", res->choices[i].pci);
    fputs(" ]", f);
    if (fclose(f)) xengpu__oom();
    return text;
}
