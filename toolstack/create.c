/*
 * create.c - `xengpu create`: resolve, prepare, run xl, undo on failure.
 */
#include <errno.h>
#include <spawn.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>

#include "create.h"
#include "compat.h"
#include "domains.h"
#include "layout.h"
#include "pciback-helper/libxl-compat.h"
#include "pciback-helper/util.h"

extern char **environ;

struct args {
    char **ovr; /* KEY=VALUE */
    size_t novr;
    char **opts; /* xl's options */
    size_t nopts;
};

/* Sort the arguments after CONFIG the way xl create reads them. */
static int split_args(const xengpu_create_req *req, xentoollog_logger *lg,
                      struct args *a)
{
    const char *s;
    size_t i;

    a->ovr = xengpu__xcalloc(req->nargs, sizeof(*a->ovr));
    a->opts = xengpu__xcalloc(req->nargs, sizeof(*a->opts));
    for (i = 0; i < req->nargs; i++) {
        s = req->args[i];
        if (!strcmp(s, "--")) continue;
        if (s[0] == '-') {
            if (!strcmp(s, "-f") || !strncmp(s, "--defconfig", 11) ||
                !strncmp(s, "-f", 2) || !strcmp(s, "-h")) {
                LOG(lg, ERROR,
                    "create: xl option %s does not apply: the "
                    "config is CONFIG",
                    s);
                return 2;
            }
            a->opts[a->nopts++] = (char *)s;
        } else if (strchr(s, '=')) {
            a->ovr[a->novr++] = (char *)s;
        } else {
            LOG(lg, ERROR,
                "create: unexpected argument '%s' (expected "
                "KEY=VALUE or, after --, xl create options)",
                s);
            return 2;
        }
    }
    return 0;
}

static const char *passthrough_value(const xengpu_domcfg *cfg)
{
    if (cfg->passthrough && strcmp(cfg->passthrough, "default"))
        return cfg->passthrough;
    return "enabled";
}

/* The choices, as comments, then the lines xl gets after the config. */
static void print_lines(const xengpu_create_req *req, const xengpu_domcfg *cfg,
                        const xengpu_resolution *res, char *const *extra,
                        size_t n, bool later)
{
    const xengpu_choice *ch;
    size_t i;

    for (i = 0; i < res->n; i++) {
        ch = &res->choices[i];
        fprintf(
            req->out,
            "# gpu[%zu] \"%s\": card %s (%04x:%04x, %zu function%s, %s)%s\n",
            ch->spec, cfg->gpus[ch->spec].text, ch->card->fns[0]->name,
            ch->card->primary->vendor, ch->card->primary->device,
            ch->card->nfns, ch->card->nfns > 1 ? "s" : "",
            xengpu_card_state_name(ch->card->state),
            later ? ", plugged into one slot once xl created the "
                    "domain paused"
                  : "");
    }
    for (i = 0; i < n; i++) {
        const char *eq = strchr(extra[i], '=');

        fprintf(req->out, "%.*s = %s\n", (int)(eq - extra[i]), extra[i],
                eq + 1);
    }
}

/*
 * The MMIO hole of an HVM guest: the one its cards need when the config
 * sets none (returned, MiB, to pass to xl), a warning when the config's
 * is too small; 0 when there is nothing to set.  -EINVAL when no hole
 * can hold the cards (logged).
 */
/*
 * The hole is fixed at boot, but a restore or migration may plug in
 * another card the guest's gpu_compat allows: leave room for the
 * largest such card on this host.  *NEED grows to the largest hole any
 * substitution needs.  (Another host's cards are checked by the migrate
 * precheck, before the guest loses its card.)
 */
static void roomier(const xengpu_create_req *req, const xengpu_domcfg *cfg,
                    const xengpu_card **cards, size_t n,
                    xengpu_layout_need *need, xentoollog_logger *lg)
{
    xengpu_card_desc mine, other;
    xengpu_layout_need alt;
    xengpu_compat policy = XENGPU_COMPAT_EXACT;
    const xengpu_card *keep, *c;
    char why[XENGPU_LAYOUT_WHYLEN];
    size_t i, j;

    if (cfg->gpu_compat) xengpu_compat_parse(cfg->gpu_compat, &policy);
    if (policy == XENGPU_COMPAT_EXACT || !req->host) return;
    for (i = 0; i < n; i++) {
        keep = cards[i];
        if (xengpu_card_desc_from_card(keep, &mine, why, sizeof(why)))
            continue;
        for (j = 0; j < xengpu_host_ncards(req->host); j++) {
            c = xengpu_host_card(req->host, j);
            if (c == keep ||
                xengpu_card_desc_from_card(c, &other, why, sizeof(why)) ||
                xengpu_compat_check(&mine, &other, policy, why, sizeof(why)))
                continue;
            cards[i] = c;
            if (!xengpu_layout_plan(cards, n, &alt, why, sizeof(why)) &&
                alt.hole_mib > need->hole_mib) {
                LOG(lg, DETAIL,
                    "%s: mmio_hole %u leaves room for card %s, which "
                    "gpu_compat = \"%s\" allows in place of %s",
                    cfg->file, alt.hole_mib, c->fns[0]->name,
                    xengpu_compat_name(policy), keep->fns[0]->name);
                need->hole_mib = alt.hole_mib;
            }
        }
        cards[i] = keep;
    }
}

static int plan_hole(const xengpu_create_req *req, const xengpu_domcfg *cfg,
                     const xengpu_resolution *res, xentoollog_logger *lg,
                     unsigned *hole_r)
{
    const xengpu_card **cards;
    xengpu_layout_need need;
    char why[XENGPU_LAYOUT_WHYLEN];
    size_t i;
    int rc;

    *hole_r = 0;
    if (strcmp(cfg->type, "hvm") || !res->n) return 0;
    cards = xengpu__xcalloc(res->n, sizeof(*cards));
    for (i = 0; i < res->n; i++)
        cards[i] = res->choices[i].card;
    if (cfg->mmio_hole > 0) {
        if (xengpu_layout_check(cards, res->n, (unsigned)cfg->mmio_hole, why,
                                sizeof(why)))
            LOG(lg, WARN, "%s: mmio_hole = %ld is too small: %s", cfg->file,
                cfg->mmio_hole, why);
        free(cards);
        return 0;
    }
    rc = xengpu_layout_plan(cards, res->n, &need, why, sizeof(why));
    if (rc) {
        LOG(lg, ERROR, "%s: %s", cfg->file, why);
    } else {
        roomier(req, cfg, cards, res->n, &need, lg);
        /* libxl's default is the smallest: set a hole only when larger. */
        if (need.hole_mib > XENGPU_MMIO_HOLE_MIN) *hole_r = need.hole_mib;
    }
    free(cards);
    return rc;
}

/* Release the cards of RES this command prepared (the first N). */
static void undo(const xengpu_create_req *req, const xengpu_resolution *res,
                 size_t n, xentoollog_logger *lg)
{
    const xengpu_choice *ch;
    size_t i;

    for (i = n; i-- > 0;) {
        ch = &res->choices[i];
        if (ch->was_prepared) continue;
        if (req->ops->release(req->ops->opaque, ch->card->fns[0]->name))
            LOG(lg, ERROR,
                "create: could not release %s again; run "
                "'xengpu release %s'",
                ch->card->fns[0]->name, ch->card->fns[0]->name);
    }
}

static int prepare_all(const xengpu_create_req *req,
                       const xengpu_resolution *res, xentoollog_logger *lg)
{
    const xengpu_choice *ch;
    size_t i;

    for (i = 0; i < res->n; i++) {
        ch = &res->choices[i];
        if (ch->was_prepared) continue;
        if (req->ops->prepare(req->ops->opaque, ch->card->fns[0]->name)) {
            LOG(lg, ERROR,
                "create: could not prepare %s; nothing was "
                "created",
                ch->card->fns[0]->name);
            undo(req, res, i, lg);
            return -EIO;
        }
    }
    return 0;
}

/* xl create CONFIG OPTS... [-p] OVR... EXTRA...; its status. */
static int run_xl(const xengpu_create_req *req, const struct args *a,
                  bool pause, char *const *extra, size_t nextra,
                  xentoollog_logger *lg)
{
    const char *xl = getenv(XENGPU_XL_ENV);
    char **argv;
    size_t argc = 0, i;
    int status = -1, r;
    pid_t pid;

    if (!xl || !*xl) xl = "xl";
    argv = xengpu__xcalloc(a->nopts + a->novr + nextra + 5, sizeof(*argv));
    argv[argc++] = (char *)xl;
    argv[argc++] = "create";
    argv[argc++] = (char *)req->config;
    for (i = 0; i < a->nopts; i++)
        argv[argc++] = a->opts[i];
    if (pause) argv[argc++] = "-p";
    for (i = 0; i < a->novr; i++)
        argv[argc++] = a->ovr[i];
    for (i = 0; i < nextra; i++)
        argv[argc++] = extra[i];
    fflush(NULL);
    r = posix_spawnp(&pid, xl, NULL, NULL, argv, environ);
    if (r) {
        LOGE(lg, ERROR, r, "create: cannot run %s", xl);
    } else {
        while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
            ;
        status = WIFEXITED(status) ? WEXITSTATUS(status) : 128;
        if (status)
            LOG(lg, ERROR, "create: %s create %s failed (status %d)", xl,
                req->config, status);
    }
    free(argv);
    return r ? -1 : status;
}

static bool has_opt(const struct args *a, const char *opt)
{
    size_t i;

    for (i = 0; i < a->nopts; i++)
        if (!strcmp(a->opts[i], opt)) return true;
    return false;
}

/*
 * Whether xengpu plugs an HVM guest's cards itself once xl has created
 * it, paused: only then does each card get one virtual slot (libxl's
 * config entries cannot say so; see domains.h).  xl options that wait
 * for the domain or its console, or create nothing, keep the cards in
 * the config's pci entries, a slot per function.
 */
static bool plug_after(const xengpu_domcfg *cfg, const struct args *a,
                       const xengpu_resolution *res, xentoollog_logger *lg)
{
    static const char *const returns[] = { "-p", "-q", "--quiet",
                                           "-d", "-e", NULL };
    bool multi = false;
    size_t i, k;

    if (strcmp(cfg->type, "hvm") || cfg->stubdom) return false;
    for (i = 0; i < res->n; i++)
        multi |= res->choices[i].card->nfns > 1;
    for (i = 0; multi && i < cfg->ndm_args_hvm; i++)
        if (strchr(cfg->dm_args_hvm[i], '\'')) return false;
    for (i = 0; multi && i < a->nopts; i++) {
        for (k = 0; returns[k] && strcmp(returns[k], a->opts[i]); k++)
            ;
        if (returns[k]) continue;
        LOG(lg, WARN,
            "create: with xl's %s, each function of the cards gets a "
            "virtual slot of its own (xengpu plugs a card into one slot "
            "only after xl returns)",
            a->opts[i]);
        return false;
    }
    return multi;
}

/* device_model_args_hvm=[ the config's..., "-global", MULTIFN ] */
static char *dm_args_value(const xengpu_domcfg *cfg)
{
    char *text = NULL;
    size_t len = 0, i;
    bool has = false;
    FILE *f = open_memstream(&text, &len);

    if (!f) xengpu__oom();
    fputs("device_model_args_hvm=[ ", f);
    for (i = 0; i < cfg->ndm_args_hvm; i++) {
        fprintf(f, "'%s', ", cfg->dm_args_hvm[i]);
        has |= !strcmp(cfg->dm_args_hvm[i], XENGPU_MULTIFN_ARG);
    }
    if (!has) fputs("'-global', '" XENGPU_MULTIFN_ARG "'", f);
    fputs(" ]", f);
    if (fclose(f)) xengpu__oom();
    return text;
}

/*
 * Plug the cards into the domain xl created paused, then let it run
 * (unless -p).  If a card cannot be plugged, the domain is destroyed.
 */
static int plug_cards(const xengpu_domcfg *cfg, const xengpu_resolution *res,
                      bool unpause, xentoollog_logger *lg)
{
    xengpu_xl *xl = NULL;
    uint32_t domid = 0;
    size_t i;
    int r;

    if (!cfg->name) return -EINVAL; /* xl refused it already */
    r = xengpu_xl_open(lg, false, &xl);
    if (!r) r = xengpu_xl_domid(xl, cfg->name, &domid);
    if (r) goto out;
    for (i = 0; !r && i < res->n; i++)
        r = xengpu__xl_plug(xl, domid, res->choices[i].card,
                            &cfg->gpus[res->choices[i].spec]);
    if (r) {
        LOG(lg, ERROR,
            "create: destroying domain %s (%u): its cards could "
            "not be plugged",
            cfg->name, domid);
        if (libxl_domain_destroy(xengpu__xl_ctx(xl), domid, NULL))
            LOG(lg, ERROR,
                "create: could not destroy domain %u; run "
                "`xl destroy %u`",
                domid, domid);
    } else if (unpause &&
               libxl_domain_unpause(xengpu__xl_ctx(xl), domid, NULL)) {
        LOG(lg, ERROR,
            "create: domain %s has its cards but is still "
            "paused; run `xl unpause %s`",
            cfg->name, cfg->name);
    }
out:
    xengpu_xl_close(xl);
    return r;
}

static bool wants_pools(const xengpu_domcfg *cfg)
{
    size_t i;

    for (i = 0; i < cfg->ngpus; i++)
        if (cfg->gpus[i].sel == XENGPU_SEL_POOL) return true;
    return false;
}

static int resolve_cfg(const xengpu_create_req *req, const xengpu_domcfg *cfg,
                       xentoollog_logger *lg, xengpu_resolution *res)
{
    xengpu_resolve_req rr = { .host = req->host,
                              .specs = cfg->gpus,
                              .nspecs = cfg->ngpus,
                              .held = req->held,
                              .pci = cfg->pci,
                              .npci = cfg->npci,
                              .numa_node = cfg->numa_node,
                              .force = req->force,
                              .file = cfg->file };
    xengpu_pools *pools = NULL;
    int rc;

    if (wants_pools(cfg)) {
        rc = xengpu_pools_read(req->pools_path, lg, &pools);
        if (rc) return rc;
        rr.pools = pools;
    }
    rc = xengpu_resolve(&rr, lg, res);
    xengpu_pools_free(pools);
    return rc;
}

static int create_cfg(const xengpu_create_req *req, const struct args *a,
                      xengpu_domcfg *cfg, xentoollog_logger *lg)
{
    xengpu_resolution res, none;
    char *pci = NULL, *extra[4];
    unsigned hole = 0;
    size_t n = 0;
    bool later;
    int rc = 1;

    xengpu_resolution_init(&res);
    xengpu_resolution_init(&none);
    if (!cfg->ngpus) {
        LOG(lg, ERROR,
            "create: %s has no gpu = [...]; nothing for xengpu "
            "to do (use xl create)",
            cfg->file);
        goto out;
    }
    if (xengpu_domcfg_check(cfg, lg) || resolve_cfg(req, cfg, lg, &res) ||
        plan_hole(req, cfg, &res, lg, &hole))
        goto out;
    later = plug_after(cfg, a, &res, lg);
    pci =
        xengpu_resolution_pci_value(later ? &none : &res, cfg->pci, cfg->npci);
    extra[n++] = xengpu__xasprintf("pci=%s", pci);
    extra[n++] =
        xengpu__xasprintf("passthrough=\"%s\"", passthrough_value(cfg));
    if (hole) extra[n++] = xengpu__xasprintf("mmio_hole=%u", hole);
    if (later) extra[n++] = dm_args_value(cfg);
    if (req->dry_run) {
        print_lines(req, cfg, &res, extra, n, later);
        rc = 0;
        goto out;
    }
    if (prepare_all(req, &res, lg)) goto out;
    if (run_xl(req, a, later && !has_opt(a, "-p"), extra, n, lg) ||
        (later && plug_cards(cfg, &res, !has_opt(a, "-p"), lg))) {
        undo(req, &res, res.n, lg);
        goto out;
    }
    if (req->ops->record && req->ops->record(req->ops->opaque, cfg, &res))
        LOG(lg, WARN,
            "create: domain %s runs, but its GPU request is not "
            "recorded; a later restore or migration cannot see it",
            cfg->name ? cfg->name : cfg->file);
    rc = 0;
out:
    while (n-- > 0)
        free(extra[n]);
    free(pci);
    xengpu_resolution_dispose(&res);
    return rc;
}

int xengpu_create(const xengpu_create_req *req, xentoollog_logger *lg)
{
    struct args a = { 0 };
    xengpu_domcfg cfg;
    int rc;

    if (!lg) lg = xengpu__logger_default();
    xengpu_domcfg_init(&cfg);
    rc = split_args(req, lg, &a);
    if (rc) goto out;
    rc = 1;
    if (xengpu_domcfg_read(req->config, a.ovr, a.novr, lg, &cfg)) goto out;
    rc = create_cfg(req, &a, &cfg, lg);
out:
    xengpu_domcfg_dispose(&cfg);
    free(a.ovr);
    free(a.opts);
    return rc;
}

int xengpu_held_query(xentoollog_logger *lg, xengpu_held_fn **fns_r,
                      size_t *n_r)
{
    libxl_ctx *ctx = NULL;
    libxl_dominfo *doms;
    libxl_device_pci *pcis;
    xengpu_held_fn *fns = NULL;
    int ndoms = 0, npcis, i, j, r;
    size_t n = 0;

    if (!lg) lg = xengpu__logger_default();
    r = libxl_ctx_alloc(&ctx, LIBXL_VERSION, 0, lg);
    if (r) {
        LOG(lg, ERROR, "cannot open libxl (is this Xen's dom0, as root?)");
        return -ENXIO;
    }
    doms = libxl_list_domain(ctx, &ndoms);
    for (i = 0; doms && i < ndoms; i++) {
        npcis = 0;
        pcis = libxl_device_pci_list(ctx, doms[i].domid, &npcis);
        fns = xengpu__xreallocarray(fns, n + (size_t)npcis + 1, sizeof(*fns));
        for (j = 0; j < npcis; j++)
            fns[n++] =
                (xengpu_held_fn){ { (uint16_t)pcis[j].domain, pcis[j].bus,
                                    pcis[j].dev, pcis[j].func },
                                  doms[i].domid };
        libxl_device_pci_list_free(pcis, npcis);
    }
    libxl_dominfo_list_free(doms, ndoms);
    libxl_ctx_free(ctx);
    *fns_r = fns;
    *n_r = n;
    return 0;
}
