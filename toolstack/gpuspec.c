/*
 * gpuspec.c - the gpu = [...] grammar, the domain config and pool file
 * readers over libxlutil.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "gpuspec.h"
#include "pciback-helper/libxl-compat.h"
#include "pciback-helper/util.h"

#include <libxlutil.h>

/* --- SPEC ------------------------------------------------------------ */

enum key {
    K_VENDOR,
    K_DEVICE,
    K_POOL,
    K_COUNT,
    K_PERMISSIVE,
    K_MSITRANSLATE,
    K_POWER_MGMT,
    K_RDM_POLICY,
    K_NKEYS,
};

static const char *const key_names[K_NKEYS] = {
    "vendor",     "device",       "pool",       "count",
    "permissive", "msitranslate", "power_mgmt", "rdm_policy",
};

#define KEYS_EXPECTED                                                     \
    "vendor, device, pool, count, permissive, msitranslate, power_mgmt, " \
    "rdm_policy"

struct tok {
    const char *p;
    size_t len;
};

static void __attribute__((format(printf, 3, 4)))
why_set(char *why, size_t size, const char *fmt, ...)
{
    va_list ap;

    if (!size) return;
    va_start(ap, fmt);
    vsnprintf(why, size, fmt, ap);
    va_end(ap);
}

void xengpu_quote(const char *s, size_t len, char *buf, size_t size)
{
    size_t i, o = 0;
    unsigned char c;

    if (!size) return;
    for (i = 0; i < len && o + 8 < size && o < 80; i++) {
        c = (unsigned char)s[i];
        if (c >= 0x20 && c < 0x7f)
            buf[o++] = (char)c;
        else
            o += (size_t)snprintf(buf + o, size - o, "\\x%02x", c);
    }
    if (i < len && o + 4 <= size) {
        memcpy(buf + o, "...", 3);
        o += 3;
    }
    buf[o] = '\0';
}

static struct tok trim(struct tok t)
{
    while (t.len && t.p[0] == ' ') {
        t.p++;
        t.len--;
    }
    while (t.len && t.p[t.len - 1] == ' ')
        t.len--;
    return t;
}

static bool tok_is(struct tok t, const char *s)
{
    return t.len == strlen(s) && !memcmp(t.p, s, t.len);
}

static int hexval(char c)
{
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
}

/* Exactly 4 hex digits at P. */
static int hex4(const char *p, size_t len)
{
    int v = 0, d;
    size_t i;

    if (len != 4) return -1;
    for (i = 0; i < 4; i++) {
        d = hexval(p[i]);
        if (d < 0) return -1;
        v = v * 16 + d;
    }
    return v;
}

/* An id value: 4 hex digits, optionally after "0x". */
static int id_value(struct tok v)
{
    if (v.len == 6 && v.p[0] == '0' && (v.p[1] == 'x' || v.p[1] == 'X'))
        return hex4(v.p + 2, 4);
    return hex4(v.p, v.len);
}

static int bool_value(struct tok v)
{
    if (tok_is(v, "0")) return 0;
    if (tok_is(v, "1")) return 1;
    return -1;
}

static bool pool_name_ok(struct tok v)
{
    size_t i;

    if (!v.len || v.len > XENGPU_POOL_NAME_MAX) return false;
    for (i = 0; i < v.len; i++)
        if (!((v.p[i] >= 'a' && v.p[i] <= 'z') ||
              (v.p[i] >= '0' && v.p[i] <= '9') || v.p[i] == '_'))
            return false;
    return true;
}

static int count_value(struct tok v)
{
    int n = 0;
    size_t i;

    if (!v.len || v.len > 2 || v.p[0] == '0') return -1;
    for (i = 0; i < v.len; i++) {
        if (v.p[i] < '0' || v.p[i] > '9') return -1;
        n = n * 10 + (v.p[i] - '0');
    }
    return n >= 1 && n <= XENGPU_GPU_COUNT_MAX ? n : -1;
}

/* Printable ASCII, no NUL, at most the cap. */
static int check_bytes(const char *s, size_t len, char *why, size_t whysize)
{
    unsigned char c;
    size_t i;

    if (len > XENGPU_GPUSPEC_MAX) {
        why_set(why, whysize, "longer than %d bytes", XENGPU_GPUSPEC_MAX);
        return -EINVAL;
    }
    for (i = 0; i < len; i++) {
        c = (unsigned char)s[i];
        if (c == 0) {
            why_set(why, whysize, "NUL byte at offset %zu", i);
            return -EINVAL;
        }
        if (c < 0x20 || c >= 0x7f) {
            why_set(why, whysize,
                    "%s byte \\x%02x at offset %zu (only printable ASCII)",
                    c < 0x20 || c == 0x7f ? "control" : "non-ASCII", c, i);
            return -EINVAL;
        }
    }
    if (!trim((struct tok){ s, len }).len) {
        why_set(why, whysize, "empty spec");
        return -EINVAL;
    }
    return 0;
}

static int parse_selector(struct tok t, xengpu_gpuspec *spec, char *why,
                          size_t whysize)
{
    const char *colon = memchr(t.p, ':', t.len);
    char q[96];

    if (!xengpu_bdf_parse_mem(t.p, t.len, 0, &spec->addr)) {
        spec->sel = XENGPU_SEL_FUNCTION;
        return 0;
    }
    if (!xengpu_slot_parse_mem(t.p, t.len, 0, &spec->addr)) {
        spec->sel = XENGPU_SEL_SLOT;
        return 0;
    }
    if (colon && colon - t.p == 4 && t.len == 9) {
        spec->vendor = hex4(t.p, 4);
        spec->device = hex4(colon + 1, 4);
        if (spec->vendor >= 0 && spec->device >= 0) {
            spec->sel = XENGPU_SEL_MODEL;
            return 0;
        }
    }
    xengpu_quote(t.p, t.len, q, sizeof(q));
    why_set(why, whysize,
            "'%s' is not a PCI address (01:00.0, 0000:01:00.0), a slot "
            "(01:00) or a model (10de:2204)%s",
            q,
            memchr(t.p, '@', t.len)
                ? "; xengpu picks the virtual slot, drop '@'"
                : "");
    return -EINVAL;
}

static enum key find_key(struct tok k)
{
    int i;

    for (i = 0; i < K_NKEYS; i++)
        if (tok_is(k, key_names[i])) return (enum key)i;
    return K_NKEYS;
}

/* Keys xl knows that xengpu refuses, and why. */
static const char *refused_key(struct tok k)
{
    if (tok_is(k, "seize"))
        return "xengpu prepares cards itself, never through libxl's seize";
    if (tok_is(k, "rom") || tok_is(k, "migration"))
        return "reserved for a later xengpu version, not supported yet";
    if (tok_is(k, "vslot") || tok_is(k, "bdf") || tok_is(k, "name"))
        return "xengpu picks the card's address and virtual slot itself";
    return NULL;
}

static int bad_value(const char *key, struct tok v, const char *want,
                     char *why, size_t whysize)
{
    char q[96];

    xengpu_quote(v.p, v.len, q, sizeof(q));
    why_set(why, whysize, "bad value '%s' for %s (expected %s)", q, key, want);
    return -EINVAL;
}

static int set_value(enum key k, struct tok v, xengpu_gpuspec *spec, char *why,
                     size_t whysize)
{
    const char *name = key_names[k];
    int n;

    switch (k) {
    case K_VENDOR:
    case K_DEVICE:
        n = id_value(v);
        if (n < 0) return bad_value(name, v, "4 hex digits", why, whysize);
        if (k == K_VENDOR)
            spec->vendor = n;
        else
            spec->device = n;
        return 0;
    case K_POOL:
        if (!pool_name_ok(v))
            return bad_value(name, v, "a pool name of 1-32 [a-z0-9_]", why,
                             whysize);
        memcpy(spec->pool, v.p, v.len);
        spec->pool[v.len] = '\0';
        return 0;
    case K_COUNT:
        n = count_value(v);
        if (n < 0) return bad_value(name, v, "1 to 16", why, whysize);
        spec->count = (unsigned)n;
        return 0;
    case K_RDM_POLICY:
        if (tok_is(v, "strict"))
            spec->rdm_policy = XENGPU_RDM_STRICT;
        else if (tok_is(v, "relaxed"))
            spec->rdm_policy = XENGPU_RDM_RELAXED;
        else
            return bad_value(name, v, "strict or relaxed", why, whysize);
        return 0;
    default:
        n = bool_value(v);
        if (n < 0) return bad_value(name, v, "0 or 1", why, whysize);
        if (k == K_PERMISSIVE) spec->permissive = n;
        if (k == K_MSITRANSLATE) spec->msitranslate = n;
        if (k == K_POWER_MGMT) spec->power_mgmt = n;
        return 0;
    }
}

static int parse_keyval(struct tok item, unsigned *seen, xengpu_gpuspec *spec,
                        char *why, size_t whysize)
{
    const char *eq = memchr(item.p, '=', item.len);
    struct tok k, v;
    const char *refused;
    char q[96];
    enum key key;

    k = trim((struct tok){ item.p, (size_t)(eq - item.p) });
    v = trim((struct tok){ eq + 1, item.len - (size_t)(eq - item.p) - 1 });
    xengpu_quote(k.p, k.len, q, sizeof(q));
    key = find_key(k);
    if (key == K_NKEYS) {
        refused = refused_key(k);
        if (refused)
            why_set(why, whysize, "key '%s' is refused: %s", q, refused);
        else
            why_set(why, whysize, "unknown key '%s' (expected %s)", q,
                    KEYS_EXPECTED);
        return -EINVAL;
    }
    if (*seen & (1u << key)) {
        why_set(why, whysize, "key '%s' given twice", q);
        return -EINVAL;
    }
    *seen |= 1u << key;
    if (!v.len) {
        why_set(why, whysize, "key '%s' has no value", q);
        return -EINVAL;
    }
    return set_value(key, v, spec, why, whysize);
}

/* Selector and key combinations that make no sense together. */
static int check_combination(xengpu_gpuspec *spec, unsigned seen,
                             unsigned flags, char *why, size_t whysize)
{
    bool positional = spec->sel != XENGPU_SEL_NONE;
    bool vendor = seen & (1u << K_VENDOR), device = seen & (1u << K_DEVICE);
    bool pool = seen & (1u << K_POOL);
    unsigned options =
        seen & ~((1u << K_VENDOR) | (1u << K_DEVICE) | (1u << K_POOL));

    if ((positional && (vendor || device || pool)) || (pool && vendor)) {
        why_set(why, whysize,
                "names the card twice: give one of an "
                "address, a model, vendor=/device= or pool=");
        return -EINVAL;
    }
    if (device && !vendor) {
        why_set(why, whysize,
                "device= needs vendor= (device ids are "
                "per vendor)");
        return -EINVAL;
    }
    if (flags & XENGPU_GPUSPEC_OPTIONS) {
        if (positional || vendor || device || pool ||
            (seen & (1u << K_COUNT))) {
            why_set(why, whysize,
                    "only per-device options here (permissive=, "
                    "msitranslate=, power_mgmt=, rdm_policy=)");
            return -EINVAL;
        }
        return 0;
    }
    if (vendor) spec->sel = XENGPU_SEL_MODEL;
    if (pool) spec->sel = XENGPU_SEL_POOL;
    if (spec->sel == XENGPU_SEL_NONE) {
        why_set(why, whysize,
                "names no card: give an address (01:00.0), a "
                "model (10de:2204, vendor=) or pool=NAME");
        return -EINVAL;
    }
    if ((flags & XENGPU_GPUSPEC_MEMBER) && (pool || options)) {
        why_set(why, whysize,
                "a pool member is an address or a model only "
                "(no pool=, count= or options)");
        return -EINVAL;
    }
    if (spec->count > 1 &&
        (spec->sel == XENGPU_SEL_FUNCTION || spec->sel == XENGPU_SEL_SLOT)) {
        why_set(why, whysize, "count=%u but an address names one card",
                spec->count);
        return -EINVAL;
    }
    return 0;
}

static void spec_init(xengpu_gpuspec *spec)
{
    memset(spec, 0, sizeof(*spec));
    spec->vendor = spec->device = -1;
    spec->count = 1;
    spec->permissive = spec->msitranslate = spec->power_mgmt = -1;
}

static int parse_items(struct tok all, unsigned flags, xengpu_gpuspec *spec,
                       char *why, size_t whysize)
{
    const char *p = all.p, *end = all.p + all.len, *comma;
    unsigned seen = 0;
    struct tok item;
    size_t n = 0;
    char q[96];
    int rc;

    for (;; n++) {
        comma = memchr(p, ',', (size_t)(end - p));
        item = trim((struct tok){ p, (size_t)((comma ? comma : end) - p) });
        if (!item.len) {
            why_set(why, whysize, "empty item %zu (stray ',')", n + 1);
            return -EINVAL;
        }
        if (memchr(item.p, '=', item.len)) {
            rc = parse_keyval(item, &seen, spec, why, whysize);
        } else if (n == 0) {
            rc = parse_selector(item, spec, why, whysize);
        } else {
            xengpu_quote(item.p, item.len, q, sizeof(q));
            why_set(why, whysize,
                    "'%s' is not KEY=VALUE (only the first "
                    "item may be an address or model)",
                    q);
            rc = -EINVAL;
        }
        if (rc) return rc;
        if (!comma) break;
        p = comma + 1;
    }
    return check_combination(spec, seen, flags, why, whysize);
}

int xengpu_gpuspec_parse(const char *s, size_t len, unsigned flags,
                         xengpu_gpuspec *spec_r, char *why, size_t whysize)
{
    xengpu_gpuspec spec;
    int rc;

    rc = check_bytes(s, len, why, whysize);
    if (rc) return rc;
    spec_init(&spec);
    memcpy(spec.text, s, len);
    spec.text[len] = '\0';
    rc = parse_items((struct tok){ spec.text, len }, flags, &spec, why,
                     whysize);
    if (rc) return rc;
    *spec_r = spec;
    return 0;
}

int xengpu_gpuspec_xl_options(const xengpu_gpuspec *spec, char *buf,
                              size_t size)
{
    static const char *const rdm[] = { "", ",rdm_policy=strict",
                                       ",rdm_policy=relaxed" };
    char p[32] = "", m[32] = "", w[32] = "";
    int n;

    if (spec->permissive >= 0)
        snprintf(p, sizeof(p), ",permissive=%d", spec->permissive);
    if (spec->msitranslate >= 0)
        snprintf(m, sizeof(m), ",msitranslate=%d", spec->msitranslate);
    if (spec->power_mgmt >= 0)
        snprintf(w, sizeof(w), ",power_mgmt=%d", spec->power_mgmt);
    n = snprintf(buf, size, "%s%s%s%s", p, m, w, rdm[spec->rdm_policy]);
    return n < 0 || (size_t)n >= size ? -ENOSPC : 0;
}

/* --- libxlutil ------------------------------------------------------- */

/* A libxlutil config whose complaints are kept for our logger. */
struct xlu {
    XLU_Config *cfg;
    FILE *report;
    char *text;
    size_t len;
};

static void xlu_open(struct xlu *x, const char *name)
{
    x->text = NULL;
    x->report = open_memstream(&x->text, &x->len);
    if (!x->report) xengpu__oom();
    x->cfg = xlu_cfg_init(x->report, name);
    if (!x->cfg) xengpu__oom();
}

static void xlu_close(struct xlu *x)
{
    if (x->cfg) xlu_cfg_destroy(x->cfg);
    if (x->report) fclose(x->report);
    free(x->text);
    x->cfg = NULL;
    x->report = NULL;
    x->text = NULL;
}

/* Read LEN bytes of DATA; libxlutil's complaint (with line) is logged. */
static int xlu_read(struct xlu *x, const char *name, const char *data,
                    size_t len, xentoollog_logger *lg)
{
    char *nl;
    int r;

    if (len > 1024 * 1024) {
        LOG(lg, ERROR, "%s: larger than 1 MiB; not an xl config", name);
        return -EINVAL;
    }
    r = xlu_cfg_readdata(x->cfg, data, (int)len);
    if (!r) return 0;
    fflush(x->report);
    nl = x->text ? strrchr(x->text, '\n') : NULL;
    if (nl && !nl[1]) *nl = '\0';
    LOG(lg, ERROR, "%s: not a valid xl config: %s", name,
        x->text && x->text[0] ? x->text : strerror(r));
    return -EINVAL;
}

static int read_whole(const char *path, xentoollog_logger *lg, char **data_r,
                      size_t *len_r)
{
    FILE *f = fopen(path, "re");
    char *data = NULL;
    size_t len = 0, n;

    if (!f) {
        LOGE(lg, ERROR, errno, "cannot open %s", path);
        return -errno;
    }
    data = xengpu__xmalloc(1024 * 1024 + 1);
    n = fread(data, 1, 1024 * 1024 + 1, f);
    len = n;
    if (ferror(f)) {
        LOGE(lg, ERROR, errno, "cannot read %s", path);
        fclose(f);
        free(data);
        return -EIO;
    }
    fclose(f);
    *data_r = data;
    *len_r = len;
    return 0;
}

/* A list of strings KEY: -ESRCH (not logged) when absent. */
static int get_strings(const struct xlu *x, const char *file, const char *key,
                       xentoollog_logger *lg, XLU_ConfigList **list_r,
                       int *n_r)
{
    int r, i;

    r = xlu_cfg_get_list(x->cfg, key, list_r, n_r, 1);
    if (r == ESRCH) return -ESRCH;
    if (r) {
        LOG(lg, ERROR, "%s: %s must be a list: %s = [ \"...\", ... ]", file,
            key, key);
        return -EINVAL;
    }
    for (i = 0; i < *n_r; i++) {
        if (!xlu_cfg_get_listitem(*list_r, i)) {
            LOG(lg, ERROR, "%s: %s[%d] is not a string", file, key, i);
            return -EINVAL;
        }
    }
    return 0;
}

/* --- the domain config ------------------------------------------------ */

void xengpu_domcfg_init(xengpu_domcfg *cfg)
{
    memset(cfg, 0, sizeof(*cfg));
    cfg->memory = cfg->maxmem = -1;
    cfg->mmio_hole = -1;
    cfg->gpu_unplug = true;
    cfg->numa_node = -1;
}

void xengpu_domcfg_dispose(xengpu_domcfg *cfg)
{
    size_t i;

    free(cfg->file);
    free(cfg->name);
    free(cfg->type);
    free(cfg->passthrough);
    free(cfg->gpu_compat);
    free(cfg->vga);
    free(cfg->gpus);
    for (i = 0; i < cfg->npci; i++)
        free(cfg->pci[i]);
    free(cfg->pci);
    for (i = 0; i < cfg->ndm_args_hvm; i++)
        free(cfg->dm_args_hvm[i]);
    free(cfg->dm_args_hvm);
    xengpu_domcfg_init(cfg);
}

/* An optional string KEY into *val_r (malloc'ed, or left NULL). */
static int get_string(const struct xlu *x, const char *file, const char *key,
                      xentoollog_logger *lg, char **val_r)
{
    const char *v;
    int r = xlu_cfg_get_string(x->cfg, key, &v, 1);

    if (r == ESRCH) return 0;
    if (r) {
        LOG(lg, ERROR, "%s: %s must be a string", file, key);
        return -EINVAL;
    }
    *val_r = xengpu__xstrdup(v);
    return 0;
}

static int get_mib(const struct xlu *x, const char *file, const char *key,
                   xentoollog_logger *lg, long *val_r)
{
    long v;
    int r = xlu_cfg_get_long(x->cfg, key, &v, 1);

    if (r == ESRCH) return 0;
    if (r || v <= 0) {
        LOG(lg, ERROR, "%s: %s must be a positive number of MiB", file, key);
        return -EINVAL;
    }
    *val_r = v;
    return 0;
}

/* type=, else the old builder= ("hvm" or "generic"), else xl's "pv". */
static int get_type(const struct xlu *x, xengpu_domcfg *cfg,
                    xentoollog_logger *lg)
{
    char *builder = NULL;
    int rc;

    rc = get_string(x, cfg->file, "type", lg, &cfg->type);
    if (!rc && !cfg->type)
        rc = get_string(x, cfg->file, "builder", lg, &builder);
    if (rc) return rc;
    if (!cfg->type)
        cfg->type =
            xengpu__xstrdup(builder && !strcmp(builder, "hvm") ? "hvm" : "pv");
    free(builder);
    if (strcmp(cfg->type, "hvm") && strcmp(cfg->type, "pv") &&
        strcmp(cfg->type, "pvh")) {
        LOG(lg, ERROR, "%s: type \"%s\" is not hvm, pv or pvh", cfg->file,
            cfg->type);
        return -EINVAL;
    }
    return 0;
}

/* cpus = "node:N" (or "nodes:N"): the guest's NUMA node. */
static void get_numa_node(const struct xlu *x, xengpu_domcfg *cfg)
{
    const char *v, *p;
    char *end;
    long n;

    if (xlu_cfg_get_string(x->cfg, "cpus", &v, 1)) return;
    if (!strncmp(v, "node:", 5))
        p = v + 5;
    else if (!strncmp(v, "nodes:", 6))
        p = v + 6;
    else
        return;
    if (*p < '0' || *p > '9') return;
    n = strtol(p, &end, 10);
    if (!*end && n < 1024) cfg->numa_node = (int)n;
}

static int get_gpus(const struct xlu *x, xengpu_domcfg *cfg,
                    xentoollog_logger *lg)
{
    char why[XENGPU_GPUSPEC_WHYLEN], q[96];
    XLU_ConfigList *list;
    unsigned total = 0;
    const char *s;
    int rc, n, i;

    rc = get_strings(x, cfg->file, "gpu", lg, &list, &n);
    if (rc == -ESRCH) return 0;
    if (rc) return rc;
    cfg->gpus = xengpu__xcalloc((size_t)n, sizeof(*cfg->gpus));
    for (i = 0; i < n; i++) {
        s = xlu_cfg_get_listitem(list, i);
        if (xengpu_gpuspec_parse(s, strlen(s), 0, &cfg->gpus[i], why,
                                 sizeof(why))) {
            xengpu_quote(s, strlen(s), q, sizeof(q));
            LOG(lg, ERROR, "%s: gpu[%d] \"%s\": %s", cfg->file, i, q, why);
            return -EINVAL;
        }
        cfg->ngpus++;
        total += cfg->gpus[i].count;
    }
    if (total > XENGPU_GPU_COUNT_MAX) {
        LOG(lg, ERROR, "%s: gpu asks for %u cards; at most %d per domain",
            cfg->file, total, XENGPU_GPU_COUNT_MAX);
        return -EINVAL;
    }
    return 0;
}

/* The list of strings KEY, verbatim, into *V_R and *N_R (if present). */
static int get_verbatim(const struct xlu *x, const char *file, const char *key,
                        xentoollog_logger *lg, char ***v_r, size_t *n_r)
{
    XLU_ConfigList *list;
    int rc, n, i;

    rc = get_strings(x, file, key, lg, &list, &n);
    if (rc == -ESRCH) return 0;
    if (rc) return rc;
    *v_r = xengpu__xcalloc((size_t)n + 1, sizeof(**v_r));
    for (i = 0; i < n; i++)
        (*v_r)[(*n_r)++] = xengpu__xstrdup(xlu_cfg_get_listitem(list, i));
    return 0;
}

static int get_pci(const struct xlu *x, xengpu_domcfg *cfg,
                   xentoollog_logger *lg)
{
    long v;
    int rc = get_verbatim(x, cfg->file, "pci", lg, &cfg->pci, &cfg->npci);

    if (!rc)
        rc = get_verbatim(x, cfg->file, "device_model_args_hvm", lg,
                          &cfg->dm_args_hvm, &cfg->ndm_args_hvm);
    if (!xlu_cfg_get_long(x->cfg, "device_model_stubdomain_override", &v, 1))
        cfg->stubdom = v != 0;
    return rc;
}

/* One of WORDS (NULL-terminated) or absent; else an error naming them. */
static int get_word(const struct xlu *x, const char *file, const char *key,
                    const char *const *words, xentoollog_logger *lg,
                    char **val_r)
{
    char *v = NULL, list[96];
    size_t i, o;
    int rc = get_string(x, file, key, lg, &v);

    if (rc || !v) return rc;
    for (i = 0; words[i]; i++)
        if (!strcmp(v, words[i])) {
            *val_r = v;
            return 0;
        }
    for (i = 0, o = 0; words[i] && o < sizeof(list); i++)
        o += (size_t)snprintf(list + o, sizeof(list) - o, "%s\"%s\"",
                              i ? ", " : "", words[i]);
    LOG(lg, ERROR, "%s: %s = \"%s\" is not one of %s", file, key, v, list);
    free(v);
    return -EINVAL;
}

/* gpu_migration, gpu_compat, gfx_passthru, vga, mmio_hole. */
static int get_layout(const struct xlu *x, xengpu_domcfg *cfg,
                      xentoollog_logger *lg)
{
    static const char *const migration[] = { "unplug", "refuse", NULL };
    static const char *const compat[] = { "exact", "device", "vendor", "any",
                                          NULL };
    static const char *const vga[] = { "stdvga", "cirrus", "none", NULL };
    char *mig = NULL;
    const char *sv;
    long v;
    int rc;

    rc = get_word(x, cfg->file, "gpu_migration", migration, lg, &mig);
    if (!rc && mig) cfg->gpu_unplug = !strcmp(mig, "unplug");
    free(mig);
    if (!rc)
        rc =
            get_word(x, cfg->file, "gpu_compat", compat, lg, &cfg->gpu_compat);
    if (!rc) rc = get_word(x, cfg->file, "vga", vga, lg, &cfg->vga);
    if (!rc) rc = get_mib(x, cfg->file, "mmio_hole", lg, &cfg->mmio_hole);
    if (rc) return rc;
    /* gfx_passthru = 1, 0, or a string naming the kind ("igd"). */
    if (!xlu_cfg_get_long(x->cfg, "gfx_passthru", &v, 1))
        cfg->gfx_passthru = v != 0;
    else if (!xlu_cfg_get_string(x->cfg, "gfx_passthru", &sv, 1))
        cfg->gfx_passthru = strcmp(sv, "0") && strcmp(sv, "none");
    return 0;
}

static int domcfg_extract(const struct xlu *x, xengpu_domcfg *cfg,
                          xentoollog_logger *lg)
{
    int rc;

    rc = get_string(x, cfg->file, "name", lg, &cfg->name);
    if (!rc) rc = get_type(x, cfg, lg);
    if (!rc) rc = get_mib(x, cfg->file, "memory", lg, &cfg->memory);
    if (!rc) rc = get_mib(x, cfg->file, "maxmem", lg, &cfg->maxmem);
    if (!rc)
        rc = get_string(x, cfg->file, "passthrough", lg, &cfg->passthrough);
    if (!rc) rc = get_gpus(x, cfg, lg);
    if (!rc) rc = get_pci(x, cfg, lg);
    if (!rc) rc = get_layout(x, cfg, lg);
    if (!rc) get_numa_node(x, cfg);
    return rc;
}

static int domcfg_load(const char *name, const char *data, size_t len,
                       char *const *ovr, size_t novr, xentoollog_logger *lg,
                       xengpu_domcfg *cfg_r)
{
    struct xlu x;
    size_t i;
    int rc;

    xlu_open(&x, name);
    rc = xlu_read(&x, name, data, len, lg);
    for (i = 0; !rc && i < novr; i++)
        rc = xlu_read(&x, "command line", ovr[i], strlen(ovr[i]), lg);
    if (rc) goto out;
    xengpu_domcfg_dispose(cfg_r);
    cfg_r->file = xengpu__xstrdup(name);
    rc = domcfg_extract(&x, cfg_r, lg);
    if (rc) xengpu_domcfg_dispose(cfg_r);
out:
    xlu_close(&x);
    return rc;
}

int xengpu_domcfg_parse(const char *name, const char *data, size_t len,
                        xentoollog_logger *lg, xengpu_domcfg *cfg_r)
{
    if (!lg) lg = xengpu__logger_default();
    return domcfg_load(name, data, len, NULL, 0, lg, cfg_r);
}

int xengpu_domcfg_read(const char *file, char *const *ovr, size_t novr,
                       xentoollog_logger *lg, xengpu_domcfg *cfg_r)
{
    char *data = NULL;
    size_t len;
    int rc;

    if (!lg) lg = xengpu__logger_default();
    rc = read_whole(file, lg, &data, &len);
    if (rc) return rc;
    rc = domcfg_load(file, data, len, ovr, novr, lg, cfg_r);
    free(data);
    return rc;
}

/*
 * A guest that may lose its card (save, migrate, detach) keeps an
 * emulated VGA as its primary display: a guest OS may restart when its
 * boot display disappears.
 */
static int check_layout(const xengpu_domcfg *cfg, xentoollog_logger *lg)
{
    if (!cfg->gpu_unplug || strcmp(cfg->type, "hvm")) return 0;
    if (cfg->gfx_passthru) {
        LOG(lg, ERROR,
            "%s: gfx_passthru makes the card the guest's primary display, "
            "but the guest may lose its card (gpu_migration = \"unplug\", "
            "the default), and a guest OS can restart when its boot display "
            "disappears; remove gfx_passthru, or set gpu_migration = "
            "\"refuse\" (no save, restore or migration with the card)",
            cfg->file);
        return -EINVAL;
    }
    if (cfg->vga && !strcmp(cfg->vga, "none")) {
        LOG(lg, ERROR,
            "%s: vga = \"none\" leaves the card as the guest's only display, "
            "but the guest may lose its card (gpu_migration = \"unplug\", "
            "the default); use vga = \"stdvga\", or set gpu_migration = "
            "\"refuse\"",
            cfg->file);
        return -EINVAL;
    }
    return 0;
}

int xengpu_domcfg_check(const xengpu_domcfg *cfg, xentoollog_logger *lg)
{
    if (!lg) lg = xengpu__logger_default();
    if (!cfg->ngpus) return 0;
    if (cfg->memory > 0 && cfg->maxmem > 0 && cfg->memory != cfg->maxmem) {
        LOG(lg, ERROR,
            "%s: memory = %ld but maxmem = %ld: a guest with a GPU cannot "
            "use populate-on-demand memory; set both to the same value",
            cfg->file, cfg->memory, cfg->maxmem);
        return -EINVAL;
    }
    if (!strcmp(cfg->type, "pvh")) {
        LOG(lg, ERROR,
            "%s: type = \"pvh\": Xen does not pass PCI devices "
            "through to PVH guests; use hvm or pv",
            cfg->file);
        return -EINVAL;
    }
    if (cfg->passthrough && !strcmp(cfg->passthrough, "disabled")) {
        LOG(lg, ERROR,
            "%s: passthrough = \"disabled\" but gpu = [...] asks "
            "for cards; remove the passthrough line",
            cfg->file);
        return -EINVAL;
    }
    return check_layout(cfg, lg);
}

/* --- the pool file ---------------------------------------------------- */

struct xengpu_pools {
    struct xlu x;
    char *file;
    bool empty; /* no file */
};

int xengpu_pools_parse(const char *name, const char *data, size_t len,
                       xentoollog_logger *lg, xengpu_pools **pools_r)
{
    xengpu_pools *pools = xengpu__xcalloc(1, sizeof(*pools));
    int rc;

    if (!lg) lg = xengpu__logger_default();
    pools->file = xengpu__xstrdup(name);
    xlu_open(&pools->x, name);
    rc = xlu_read(&pools->x, name, data, len, lg);
    if (rc) {
        xengpu_pools_free(pools);
        return rc;
    }
    *pools_r = pools;
    return 0;
}

int xengpu_pools_read(const char *path, xentoollog_logger *lg,
                      xengpu_pools **pools_r)
{
    const char *env = getenv(XENGPU_CONF_ENV);
    bool explicit = path || (env && *env);
    char *data = NULL;
    size_t len;
    int rc;

    if (!lg) lg = xengpu__logger_default();
    if (!path) path = env && *env ? env : XENGPU_CONF_DEFAULT;
    if (!explicit && access(path, F_OK) && errno == ENOENT) {
        rc = xengpu_pools_parse(path, "", 0, lg, pools_r);
        if (!rc) (*pools_r)->empty = true;
        return rc;
    }
    rc = read_whole(path, lg, &data, &len);
    if (rc) return rc;
    rc = xengpu_pools_parse(path, data, len, lg, pools_r);
    free(data);
    return rc;
}

void xengpu_pools_free(xengpu_pools *pools)
{
    if (!pools) return;
    xlu_close(&pools->x);
    free(pools->file);
    free(pools);
}

int xengpu_pool_members(const xengpu_pools *pools, const char *name,
                        xentoollog_logger *lg, xengpu_gpuspec **members_r,
                        size_t *n_r)
{
    char key[XENGPU_POOL_NAME_MAX + 8], why[XENGPU_GPUSPEC_WHYLEN], q[96];
    xengpu_gpuspec *members = NULL;
    XLU_ConfigList *list;
    const char *s;
    int rc, n, i;

    if (!lg) lg = xengpu__logger_default();
    snprintf(key, sizeof(key), "pool_%s", name);
    rc = get_strings(&pools->x, pools->file, key, lg, &list, &n);
    if (rc == -ESRCH || (!rc && n == 0)) {
        LOG(lg, ERROR,
            "%s: no pool '%s'%s: define it as %s = [ \"10de:2204\", "
            "\"0000:01:00.0\", ... ]",
            pools->file, name,
            pools->empty ? " (the file does not exist)" : "", key);
        return -ENOENT;
    }
    if (rc) return rc;
    members = xengpu__xcalloc((size_t)n, sizeof(*members));
    for (i = 0; i < n; i++) {
        s = xlu_cfg_get_listitem(list, i);
        if (xengpu_gpuspec_parse(s, strlen(s), XENGPU_GPUSPEC_MEMBER,
                                 &members[i], why, sizeof(why))) {
            xengpu_quote(s, strlen(s), q, sizeof(q));
            LOG(lg, ERROR, "%s: %s[%d] \"%s\": %s", pools->file, key, i, q,
                why);
            free(members);
            return -EINVAL;
        }
    }
    *members_r = members;
    *n_r = (size_t)n;
    return 0;
}
