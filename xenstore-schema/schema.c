/*
 * schema.c - parse xengpu's xenstore schema and match paths against it.
 *
 * The schema is trusted input (it is built into the library), but it is
 * still parsed strictly and fuzzed: a typo in it must fail the build's
 * tests, not quietly allow a node.
 */
#include <errno.h>
#include <stdarg.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "pciback-helper/util.h"
#include "proto.h"
#include "schema.h"

#define MAX_LINE 1024
#define MAX_TOKENS 6
#define MAX_SEGS 32
#define MAX_PERMS 8
#define MAX_WORDS 32
#define VALUE_MAX 4096

static const char *const writers[] = {
    [XENGPU_XS_TOOLSTACK] = "toolstack",
    [XENGPU_XS_BACKEND] = "backend",
    [XENGPU_XS_GUEST] = "guest",
};

static const char *const grammars[] = {
    [XENGPU_XS_G_EMPTY] = "empty",     [XENGPU_XS_G_NAME] = "name",
    [XENGPU_XS_G_DOMID] = "domid",     [XENGPU_XS_G_UINT] = "uint",
    [XENGPU_XS_G_VERSION] = "version", [XENGPU_XS_G_UUID] = "uuid",
    [XENGPU_XS_G_BDF] = "bdf",         [XENGPU_XS_G_VBDF] = "vbdf",
    [XENGPU_XS_G_HEX] = "hex",         [XENGPU_XS_G_XBSTATE] = "xbstate",
    [XENGPU_XS_G_PCIOPTS] = "pciopts", [XENGPU_XS_G_GPUSPEC] = "gpuspec",
    [XENGPU_XS_G_DRVPATH] = "drvpath", [XENGPU_XS_G_HOST] = "host",
    [XENGPU_XS_G_REQUEST] = "request", [XENGPU_XS_G_RESPONSE] = "response",
    [XENGPU_XS_G_ENUM] = "enum",
};

static const char *const placeholders[] = {
    [XENGPU_XS_P_UUID] = "{uuid}",
    [XENGPU_XS_P_DOMID] = "{domid}",
    [XENGPU_XS_P_N] = "{n}",
    [XENGPU_XS_P_BDFXS] = "{bdfxs}",
};

const char *xengpu_xs_writer_name(xengpu_xs_writer w)
{
    return (unsigned)w < ARRAY_SIZE(writers) ? writers[w] : "?";
}

/* --- freeing ------------------------------------------------------------ */

static void segs_free(xengpu_xs_seg *segs, size_t n)
{
    size_t i;

    for (i = 0; i < n; i++)
        free(segs[i].lit);
    free(segs);
}

void xengpu_xs_schema_free(xengpu_xs_schema *s)
{
    size_t i, j;

    if (!s) return;
    for (i = 0; i < s->nrules; i++) {
        xengpu_xs_rule *r = &s->rules[i];
        free(r->path);
        segs_free(r->segs, r->nsegs);
        free(r->perms);
        for (j = 0; j < r->nwords; j++)
            free(r->words[j]);
        free(r->words);
    }
    for (i = 0; i < s->ntrees; i++) {
        free(s->trees[i].path);
        segs_free(s->trees[i].segs, s->trees[i].nsegs);
    }
    free(s->rules);
    free(s->trees);
    free(s);
}

/* --- parsing ------------------------------------------------------------ */

struct parser {
    xengpu_xs_schema *s;
    int line;
    char *err;
};

static int fail(struct parser *p, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

static int fail(struct parser *p, const char *fmt, ...)
{
    va_list ap;
    int n = snprintf(p->err, XENGPU_XS_ERRLEN, "line %d: ", p->line);

    va_start(ap, fmt);
    vsnprintf(p->err + n, XENGPU_XS_ERRLEN - (size_t)n, fmt, ap);
    va_end(ap);
    return -EINVAL;
}

static bool lit_char(char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
           (c >= '0' && c <= '9') || c == '_' || c == '-' || c == '@';
}

static int parse_seg(struct parser *p, const char *c, size_t len,
                     xengpu_xs_seg *seg)
{
    size_t i, k;

    seg->ph = XENGPU_XS_P_NONE;
    for (i = 0; i < len && lit_char(c[i]); i++)
        ;
    if (i < len) {
        for (k = 1; k < ARRAY_SIZE(placeholders); k++)
            if (len - i == strlen(placeholders[k]) &&
                !memcmp(c + i, placeholders[k], len - i))
                break;
        if (k == ARRAY_SIZE(placeholders)) {
            char bad[64];
            snprintf(bad, sizeof(bad), "%.*s", (int)len, c);
            return fail(p,
                        "bad path segment '%s' (one placeholder at its"
                        " end: {uuid} {domid} {n} {bdfxs})",
                        bad);
        }
        seg->ph = (xengpu_xs_placeholder)k;
    } else if (len == 0) {
        return fail(p, "empty path segment");
    }
    seg->lit = xengpu__xasprintf("%.*s", (int)i, c);
    return 0;
}

static int parse_path(struct parser *p, const char *path,
                      xengpu_xs_seg **segs_r, size_t *n_r)
{
    xengpu_xs_seg *segs = NULL;
    const char *c = path + 1, *e;
    size_t n = 0;
    int r;

    if (path[0] != '/' || !path[1])
        return fail(p, "path '%s' must start with / and name a node", path);
    segs = xengpu__xcalloc(MAX_SEGS, sizeof(*segs));
    for (;;) {
        e = strchr(c, '/');
        if (n == MAX_SEGS) {
            r = fail(p, "path '%s' is too deep", path);
            goto out;
        }
        r = parse_seg(p, c, e ? (size_t)(e - c) : strlen(c), &segs[n]);
        if (r) goto out;
        n++;
        if (!e) break;
        c = e + 1;
    }
    *segs_r = segs;
    *n_r = n;
    return 0;
out:
    segs_free(segs, n);
    return r;
}

static bool binds_domid(const xengpu_xs_seg *segs, size_t n)
{
    size_t i;

    for (i = 0; i < n; i++)
        if (segs[i].ph == XENGPU_XS_P_DOMID) return true;
    return false;
}

/* "n0,r{domid}": letters n r w b, each entry a 0 or {domid}. */
static int parse_perms(struct parser *p, const char *perms, bool domid_ok,
                       const char *owner)
{
    const char *c = perms;
    size_t n = 0;

    for (;;) {
        if (!strchr("nrwb", *c) || !*c || ++n > MAX_PERMS)
            return fail(p, "bad permissions '%s'", perms);
        c++;
        if (n == 1 && strncmp(c, owner, strlen(owner)))
            return fail(p, "OWNER is not the first entry of '%s'", perms);
        if (*c == '0') {
            c++;
        } else if (domid_ok && !strncmp(c, "{domid}", 7)) {
            c += 7;
        } else {
            return fail(p, "bad permissions '%s' (entries: 0 or {domid})",
                        perms);
        }
        if (!*c) return 0;
        if (*c++ != ',') return fail(p, "bad permissions '%s'", perms);
    }
}

static int parse_grammar(struct parser *p, const char *g, xengpu_xs_rule *r)
{
    const char *c, *e;
    size_t k;

    for (k = 0; k < ARRAY_SIZE(grammars); k++)
        if (k != XENGPU_XS_G_ENUM && grammars[k] && !strcmp(g, grammars[k])) {
            r->grammar = (xengpu_xs_grammar)k;
            return 0;
        }
    if (strncmp(g, "enum(", 5) || g[strlen(g) - 1] != ')' || strlen(g) < 7)
        return fail(p, "unknown grammar '%s'", g);
    r->grammar = XENGPU_XS_G_ENUM;
    r->words = xengpu__xcalloc(MAX_WORDS, sizeof(*r->words));
    for (c = g + 5;; c = e + 1) {
        for (e = c;
             (*e >= 'a' && *e <= 'z') || (*e >= '0' && *e <= '9') || *e == '-';
             e++)
            ;
        if (e == c || (*e != '|' && *e != ')') || r->nwords == MAX_WORDS)
            return fail(p, "bad enum '%s' (words of [a-z0-9-] split by |)", g);
        r->words[r->nwords++] = xengpu__xasprintf("%.*s", (int)(e - c), c);
        if (*e == ')') return e[1] ? fail(p, "bad enum '%s'", g) : 0;
    }
}

static int parse_maxlen(struct parser *p, const char *m, size_t *out)
{
    char *end;
    unsigned long v;

    if (m[0] < '0' || m[0] > '9') return fail(p, "bad MAXLEN '%s'", m);
    errno = 0;
    v = strtoul(m, &end, 10);
    if (*end || errno || v > VALUE_MAX)
        return fail(p, "bad MAXLEN '%s' (0..4096)", m);
    *out = v;
    return 0;
}

static int add_rule(struct parser *p, char **tok)
{
    xengpu_xs_schema *s = p->s;
    xengpu_xs_rule *r;
    bool dom;
    size_t i;
    int rc;

    for (i = 0; i < s->nrules; i++)
        if (!strcmp(s->rules[i].path, tok[0]))
            return fail(p, "'%s' declared twice", tok[0]);
    s->rules =
        xengpu__xreallocarray(s->rules, s->nrules + 1, sizeof(*s->rules));
    r = &s->rules[s->nrules++];
    memset(r, 0, sizeof(*r));
    r->line = p->line;
    r->path = xengpu__xstrdup(tok[0]);
    rc = parse_path(p, tok[0], &r->segs, &r->nsegs);
    if (rc) return rc;
    dom = binds_domid(r->segs, r->nsegs);
    if (strcmp(tok[1], "0") && !(dom && !strcmp(tok[1], "{domid}")))
        return fail(p, "bad OWNER '%s' (0, or {domid} of the path)", tok[1]);
    r->owner_is_domid = tok[1][0] == '{';
    rc = parse_perms(p, tok[2], dom, tok[1]);
    if (rc) return rc;
    r->perms = xengpu__xstrdup(tok[2]);
    for (i = 0; i < ARRAY_SIZE(writers); i++)
        if (!strcmp(tok[3], writers[i])) break;
    if (i == ARRAY_SIZE(writers))
        return fail(p, "unknown writer '%s' (toolstack, backend, guest)",
                    tok[3]);
    r->writer = (xengpu_xs_writer)i;
    rc = parse_grammar(p, tok[4], r);
    return rc ? rc : parse_maxlen(p, tok[5], &r->maxlen);
}

static int add_tree(struct parser *p, const char *path)
{
    xengpu_xs_schema *s = p->s;
    xengpu_xs_tree *t;

    s->trees =
        xengpu__xreallocarray(s->trees, s->ntrees + 1, sizeof(*s->trees));
    t = &s->trees[s->ntrees++];
    memset(t, 0, sizeof(*t));
    t->line = p->line;
    t->path = xengpu__xstrdup(path);
    return parse_path(p, path, &t->segs, &t->nsegs);
}

static int parse_line(struct parser *p, char *line)
{
    char *tok[MAX_TOKENS + 1] = { NULL }, *save = NULL, *t;
    size_t n = 0;

    line += strspn(line, " \t");
    if (!*line || *line == '#') return 0;
    for (t = strtok_r(line, " \t", &save); t;
         t = strtok_r(NULL, " \t", &save)) {
        if (n == MAX_TOKENS) return fail(p, "too many fields");
        tok[n++] = t;
    }
    if (!strcmp(tok[0], "own"))
        return n == 2 ? add_tree(p, tok[1]) : fail(p, "'own' takes one PATH");
    if (n != MAX_TOKENS)
        return fail(p, "want PATH OWNER PERMS WRITER GRAMMAR MAXLEN, or "
                       "own PATH");
    return add_rule(p, tok);
}

static bool segs_prefix(const xengpu_xs_seg *a, size_t na,
                        const xengpu_xs_seg *b, size_t nb)
{
    size_t i;

    if (na > nb) return false;
    for (i = 0; i < na; i++)
        if (a[i].ph != b[i].ph || strcmp(a[i].lit, b[i].lit)) return false;
    return true;
}

/* Every own tree declares at least one node. */
static int check_trees(struct parser *p)
{
    xengpu_xs_schema *s = p->s;
    size_t i, j;

    for (i = 0; i < s->ntrees; i++) {
        for (j = 0; j < s->nrules; j++)
            if (segs_prefix(s->trees[i].segs, s->trees[i].nsegs,
                            s->rules[j].segs, s->rules[j].nsegs))
                break;
        if (j == s->nrules) {
            p->line = s->trees[i].line;
            return fail(p, "own tree '%s' declares no node", s->trees[i].path);
        }
    }
    return 0;
}

int xengpu_xs_schema_parse(const char *text, size_t len,
                           xengpu_xs_schema **schema_r, char *err)
{
    struct parser p = { xengpu__xcalloc(1, sizeof(xengpu_xs_schema)), 0, err };
    char line[MAX_LINE + 1];
    size_t i = 0, n;
    int rc = 0;

    err[0] = '\0';
    while (i < len && !rc) {
        p.line++;
        for (n = 0; i + n < len && text[i + n] != '\n'; n++)
            ;
        if (n > MAX_LINE) {
            rc = fail(&p, "line longer than %d bytes", MAX_LINE);
        } else if (memchr(text + i, '\0', n)) {
            rc = fail(&p, "NUL byte");
        } else {
            memcpy(line, text + i, n);
            line[n] = '\0';
            rc = parse_line(&p, line);
        }
        i += n + 1;
    }
    if (!rc) rc = check_trees(&p);
    if (rc) {
        xengpu_xs_schema_free(p.s);
        return rc;
    }
    *schema_r = p.s;
    return 0;
}

/* --- the built-in schema -------------------------------------------------- */

static xengpu_xs_schema *builtin;
static pthread_once_t builtin_once = PTHREAD_ONCE_INIT;

static void builtin_parse(void)
{
    char err[XENGPU_XS_ERRLEN];

    if (xengpu_xs_schema_parse(xengpu__xs_schema_text,
                               strlen(xengpu__xs_schema_text), &builtin,
                               err)) {
        fprintf(stderr, "xengpu: built-in xenstore schema: %s\n", err);
        abort();
    }
}

const xengpu_xs_schema *xengpu_xs_schema_builtin(void)
{
    pthread_once(&builtin_once, builtin_parse);
    return builtin;
}

/* --- matching ------------------------------------------------------------- */

static bool all_of(const char *v, size_t len, const char *set)
{
    size_t i;

    for (i = 0; i < len; i++)
        if (!v[i] || !strchr(set, v[i])) return false;
    return true;
}

#define HEXL "0123456789abcdef"
#define DIGITS "0123456789"

static bool dec_ok(const char *v, size_t len, unsigned long min,
                   unsigned long max)
{
    unsigned long n = 0;
    size_t i;

    if (len == 0 || len > 10 || (v[0] == '0' && len > 1)) return false;
    for (i = 0; i < len; i++) {
        if (v[i] < '0' || v[i] > '9') return false;
        n = n * 10 + (unsigned long)(v[i] - '0');
    }
    return n >= min && n <= max;
}

static bool uuid_ok(const char *v, size_t len)
{
    static const size_t dash[] = { 8, 13, 18, 23 };
    size_t i, d = 0;

    if (len != 36) return false;
    for (i = 0; i < len; i++) {
        if (d < 4 && i == dash[d]) {
            if (v[i] != '-') return false;
            d++;
        } else if (!v[i] || !strchr(HEXL, v[i])) {
            return false;
        }
    }
    return true;
}

/* dddd SEP bb SEP dd SEP2 f, lower-case hex, device <= 1f, function <= 7. */
static bool pci_ok(const char *v, size_t len, char sep, char sep2)
{
    if (len != 12 || v[4] != sep || v[7] != sep || v[10] != sep2) return false;
    if (!all_of(v, 4, HEXL) || !all_of(v + 5, 2, HEXL) ||
        !all_of(v + 8, 2, HEXL) || v[11] < '0' || v[11] > '7')
        return false;
    return v[8] <= '1';
}

/* xen-pciback prints the function of vdev-N as %02x: 0000:00:00.01. */
static bool vbdf_ok(const char *v, size_t len)
{
    char t[12];

    if (len != 13 || v[11] != '0') return false;
    memcpy(t, v, 11);
    t[11] = v[12];
    return pci_ok(t, sizeof(t), ':', '.');
}

bool xengpu_xs_seg_match(const xengpu_xs_seg *seg, const char *c, size_t len,
                         xengpu_xs_vars *vars)
{
    size_t l = strlen(seg->lit);
    const char *v = c + l;
    size_t n = len - l;

    if (len < l || memcmp(c, seg->lit, l)) return false;
    switch (seg->ph) {
    case XENGPU_XS_P_NONE:
        return n == 0;
    case XENGPU_XS_P_UUID:
        if (!uuid_ok(v, n)) return false;
        if (vars) snprintf(vars->uuid, sizeof(vars->uuid), "%.*s", 36, v);
        return true;
    case XENGPU_XS_P_DOMID:
        if (!dec_ok(v, n, 1, 32751)) return false;
        if (vars) vars->domid = strtol(v, NULL, 10);
        return true;
    case XENGPU_XS_P_N:
        return dec_ok(v, n, 0, 255);
    case XENGPU_XS_P_BDFXS:
        if (!pci_ok(v, n, '-', '-')) return false;
        if (vars) snprintf(vars->bdfxs, sizeof(vars->bdfxs), "%.*s", 12, v);
        return true;
    }
    return false;
}

/* Match the first NSEGS components of PATH; returns the rest or NULL. */
static const char *match_prefix(const xengpu_xs_seg *segs, size_t nsegs,
                                const char *path, xengpu_xs_vars *vars)
{
    const char *c = path, *e;
    size_t i;

    for (i = 0; i < nsegs; i++) {
        if (*c != '/') return NULL;
        c++;
        e = strchrnul(c, '/');
        if (!xengpu_xs_seg_match(&segs[i], c, (size_t)(e - c), vars))
            return NULL;
        c = e;
    }
    return c;
}

static void vars_init(xengpu_xs_vars *vars)
{
    vars->domid = -1;
    vars->uuid[0] = vars->bdfxs[0] = '\0';
}

const xengpu_xs_rule *xengpu_xs_match(const xengpu_xs_schema *s,
                                      const char *path, xengpu_xs_vars *vars)
{
    xengpu_xs_vars v;
    const char *rest;
    size_t i;

    for (i = 0; i < s->nrules; i++) {
        vars_init(&v);
        rest = match_prefix(s->rules[i].segs, s->rules[i].nsegs, path, &v);
        if (rest && !*rest) {
            if (vars) *vars = v;
            return &s->rules[i];
        }
    }
    return NULL;
}

bool xengpu_xs_is_dir(const xengpu_xs_schema *s, const char *path)
{
    const char *rest;
    size_t i, k, depth = 0;

    for (rest = path; *rest; rest++)
        depth += *rest == '/';
    if (!strcmp(path, "/")) depth = 0;
    for (i = 0; i < s->nrules; i++) {
        k = depth;
        if (s->rules[i].nsegs <= k) continue;
        rest = k ? match_prefix(s->rules[i].segs, k, path, NULL) : "";
        if (rest && !*rest) return true;
    }
    return false;
}

xengpu_xs_placeholder xengpu_xs_bind(const xengpu_xs_schema *s,
                                     const char *path, xengpu_xs_vars *vars)
{
    const char *c, *rest;
    size_t i, depth = 0;

    for (c = path; *c; c++)
        depth += *c == '/';
    for (i = 0; i < s->nrules + s->ntrees; i++) {
        const xengpu_xs_seg *segs =
            i < s->nrules ? s->rules[i].segs : s->trees[i - s->nrules].segs;
        size_t n =
            i < s->nrules ? s->rules[i].nsegs : s->trees[i - s->nrules].nsegs;
        if (n < depth || !depth) continue;
        vars_init(vars);
        rest = match_prefix(segs, depth, path, vars);
        if (rest && !*rest) return segs[depth - 1].ph;
    }
    vars_init(vars);
    return XENGPU_XS_P_NONE;
}

const xengpu_xs_tree *xengpu_xs_own_tree(const xengpu_xs_schema *s,
                                         const char *path)
{
    const char *rest;
    size_t i;

    for (i = 0; i < s->ntrees; i++) {
        rest = match_prefix(s->trees[i].segs, s->trees[i].nsegs, path, NULL);
        if (rest && (!*rest || *rest == '/')) return &s->trees[i];
    }
    return NULL;
}

/* --- values ------------------------------------------------------------- */

static bool name_ok(const char *v, size_t len)
{
    size_t i;

    if (len == 0 || len > 64 || v[0] == ' ' || v[len - 1] == ' ') return false;
    for (i = 0; i < len; i++)
        if (v[i] < 0x20 || v[i] > 0x7e) return false;
    return true;
}

static bool opt_ok(const char *k, size_t kl, const char *v, size_t vl,
                   unsigned *seen)
{
    static const char *const keys[] = { "msitranslate", "power_mgmt",
                                        "permissive", "rdm_policy" };
    size_t i;

    for (i = 0; i < ARRAY_SIZE(keys); i++)
        if (kl == strlen(keys[i]) && !memcmp(k, keys[i], kl)) break;
    if (i == ARRAY_SIZE(keys) || (*seen & (1u << i))) return false;
    *seen |= 1u << i;
    if (i < 3) return vl == 1 && (v[0] == '0' || v[0] == '1');
    return (vl == 6 && !memcmp(v, "strict", 6)) ||
           (vl == 7 && !memcmp(v, "relaxed", 7)) ||
           (vl == 7 && !memcmp(v, "invalid", 7));
}

static bool pciopts_ok(const char *v, size_t len)
{
    const char *c = v, *end = v + len, *comma, *eq;
    unsigned seen = 0;

    if (len == 0) return false;
    for (;;) {
        comma = memchr(c, ',', (size_t)(end - c));
        if (!comma) comma = end;
        eq = memchr(c, '=', (size_t)(comma - c));
        if (!eq || !opt_ok(c, (size_t)(eq - c), eq + 1,
                           (size_t)(comma - eq - 1), &seen))
            return false;
        if (comma == end) return true;
        c = comma + 1;
    }
}

static bool drvpath_ok(const char *v, size_t len)
{
    static const char pre[] = "/sys/bus/pci/drivers/";
    size_t l = sizeof(pre) - 1;

    if (len <= l || memcmp(v, pre, l)) return false;
    if ((len == l + 1 && v[l] == '.') ||
        (len == l + 2 && v[l] == '.' && v[l + 1] == '.'))
        return false;
    return all_of(v + l, len - l,
                  "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
                  "0123456789_.-");
}

#define ALNUM "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"

bool xengpu_xs_grammar_ok(xengpu_xs_grammar g, const char *v, size_t len)
{
    uint32_t seq;
    xengpu_guest_verb verb;
    xengpu_guest_response resp;

    switch (g) {
    case XENGPU_XS_G_EMPTY:
        return len == 0;
    case XENGPU_XS_G_NAME:
        return name_ok(v, len);
    case XENGPU_XS_G_DOMID:
        return dec_ok(v, len, 0, 32751);
    case XENGPU_XS_G_UINT:
        return dec_ok(v, len, 0, 2147483647ul);
    case XENGPU_XS_G_VERSION:
        return dec_ok(v, len, 1, 9999);
    case XENGPU_XS_G_UUID:
        return uuid_ok(v, len);
    case XENGPU_XS_G_BDF:
        return pci_ok(v, len, ':', '.');
    case XENGPU_XS_G_VBDF:
        return vbdf_ok(v, len);
    case XENGPU_XS_G_HEX:
        return len >= 1 && len <= 8 && all_of(v, len, HEXL);
    case XENGPU_XS_G_XBSTATE:
        return len == 1 && v[0] >= '0' && v[0] <= '8';
    case XENGPU_XS_G_PCIOPTS:
        return pciopts_ok(v, len);
    case XENGPU_XS_G_GPUSPEC:
        return len >= 1 && len <= 256 && v[0] && strchr(ALNUM, v[0]) &&
               all_of(v, len, ALNUM ":.,=_@-");
    case XENGPU_XS_G_DRVPATH:
        return drvpath_ok(v, len);
    case XENGPU_XS_G_HOST:
        return len >= 1 && len <= 255 && all_of(v, len, ALNUM ".:_-");
    case XENGPU_XS_G_REQUEST:
        return !xengpu_proto_parse_request(v, len, &seq, &verb);
    case XENGPU_XS_G_RESPONSE:
        return !xengpu_proto_parse_response(v, len, &resp);
    case XENGPU_XS_G_ENUM:
        return false; /* needs the rule's words */
    }
    return false;
}

const char *xengpu_xs_check_value(const xengpu_xs_rule *rule,
                                  const char *value, size_t len)
{
    static const char *const why[] = {
        [XENGPU_XS_G_EMPTY] = "is not empty",
        [XENGPU_XS_G_NAME] = "is not a domain name",
        [XENGPU_XS_G_DOMID] = "is not a domain id",
        [XENGPU_XS_G_UINT] = "is not a decimal number",
        [XENGPU_XS_G_VERSION] = "is not a protocol version (1..9999)",
        [XENGPU_XS_G_UUID] = "is not a UUID",
        [XENGPU_XS_G_BDF] = "is not a PCI address like 0000:01:00.0",
        [XENGPU_XS_G_VBDF] = "is not pciback's address like 0000:00:00.01",
        [XENGPU_XS_G_HEX] = "is not a hex number",
        [XENGPU_XS_G_XBSTATE] = "is not a XenbusState (0..8)",
        [XENGPU_XS_G_PCIOPTS] = "is not libxl's pci options",
        [XENGPU_XS_G_GPUSPEC] = "is not a gpu spec",
        [XENGPU_XS_G_DRVPATH] = "is not /sys/bus/pci/drivers/NAME",
        [XENGPU_XS_G_HOST] = "is not a host name",
        [XENGPU_XS_G_REQUEST] = "is not 'SEQ release' or 'SEQ plugged'",
        [XENGPU_XS_G_RESPONSE] =
            "is not 'SEQ released', 'SEQ done' or 'SEQ refused REASON'",
        [XENGPU_XS_G_ENUM] = "is not one of the declared words",
    };
    size_t i;

    if (len > rule->maxlen) return "is longer than the schema allows";
    if (rule->grammar == XENGPU_XS_G_ENUM) {
        for (i = 0; i < rule->nwords; i++)
            if (len == strlen(rule->words[i]) &&
                !memcmp(value, rule->words[i], len))
                return NULL;
        return why[XENGPU_XS_G_ENUM];
    }
    return xengpu_xs_grammar_ok(rule->grammar, value, len)
               ? NULL
               : why[rule->grammar];
}

const char *xengpu_xs_rule_perms(const xengpu_xs_rule *rule,
                                 const xengpu_xs_vars *vars, char *buf,
                                 size_t size)
{
    const char *c = rule->perms, *ph;
    size_t o = 0;
    int n;

    buf[0] = '\0';
    while ((ph = strstr(c, "{domid}"))) {
        n = snprintf(buf + o, size - o, "%.*s%ld", (int)(ph - c), c,
                     vars->domid);
        if (n < 0 || (size_t)n >= size - o) return buf;
        o += (size_t)n;
        c = ph + 7;
    }
    snprintf(buf + o, size - o, "%s", c);
    return buf;
}
