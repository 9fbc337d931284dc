/*
 * xs.c - the checked write, the validator of the live store and the
 * guest cooperation protocol over libxenstore.
 *
 * A guest controls every byte under its data/ subtree, including how
 * many nodes there are and how often they change.  So: values are
 * length-checked before anything looks at them, listings are capped,
 * waits have deadlines, and what a guest writes is only ever logged in
 * escaped, truncated form.
 */
#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>
#include <unistd.h>
#include <stdarg.h>

#include "pciback-helper/util.h"
#include "xs.h"

#define MAX_DEPTH 16
#define MAX_WALK 65536  /* nodes one validation looks at, at most */
#define MAX_EVENTS 4096 /* watch events one guest_ask handles */
#define BAD_LOGGED 3    /* malformed answers logged per request */

const char *xengpu_xs_show(const char *value, size_t len, char *buf)
{
    size_t i, o = 0;

    for (i = 0; i < len && i < 48; i++) {
        unsigned char c = (unsigned char)value[i];
        if (c >= 0x20 && c < 0x7f && c != '\\')
            buf[o++] = (char)c;
        else
            o += (size_t)sprintf(buf + o, "\\x%02x", c);
    }
    if (i < len) o += (size_t)sprintf(buf + o, "...");
    buf[o] = '\0';
    return buf;
}

/* --- the checked write ---------------------------------------------------- */

int xengpu_xs_write(struct xs_handle *xs, xs_transaction_t t, const char *path,
                    const char *value, xentoollog_logger *lg)
{
    const xengpu_xs_schema *s = xengpu_xs_schema_builtin();
    const xengpu_xs_rule *rule = xengpu_xs_match(s, path, NULL);
    size_t len = strlen(value);
    const char *why;
    char shown[XENGPU_XS_SHOWLEN];

    if (!rule || rule->writer != XENGPU_XS_TOOLSTACK) {
        LOG(lg, ERROR,
            "bug: xengpu tried to write %s, which the xenstore schema does"
            " not give to the toolstack; nothing written",
            path);
        return -EPERM;
    }
    why = xengpu_xs_check_value(rule, value, len);
    if (why) {
        LOG(lg, ERROR,
            "bug: xengpu tried to write '%s' to %s, which %s (schema line"
            " %d); nothing written",
            xengpu_xs_show(value, len, shown), path, why, rule->line);
        return -EPERM;
    }
    if (!xs_write(xs, t, path, value, (unsigned)len)) {
        int r = -errno;
        LOGE(lg, ERROR, errno, "cannot write %s in xenstore", path);
        return r;
    }
    return 0;
}

int xengpu_xs_rm(struct xs_handle *xs, xs_transaction_t t, const char *path,
                 xentoollog_logger *lg)
{
    const xengpu_xs_schema *s = xengpu_xs_schema_builtin();
    const xengpu_xs_rule *rule = xengpu_xs_match(s, path, NULL);

    if (!xengpu_xs_own_tree(s, path) &&
        (!rule || rule->writer != XENGPU_XS_TOOLSTACK)) {
        LOG(lg, ERROR,
            "bug: xengpu tried to remove %s, outside what the xenstore"
            " schema gives it; nothing removed",
            path);
        return -EPERM;
    }
    if (!xs_rm(xs, t, path) && errno != ENOENT) {
        int r = -errno;
        LOGE(lg, ERROR, errno, "cannot remove %s from xenstore", path);
        return r;
    }
    return 0;
}

/* --- the validator --------------------------------------------------- */

struct walk {
    struct xs_handle *xs;
    const xengpu_xs_schema *s;
    long domid;
    xengpu_xs_report_fn *report;
    void *arg;
    xengpu_xs_stats *st;
    unsigned visited;
    int err; /* first hard xenstore error */
};

static void report(struct walk *w, const char *path, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static void report(struct walk *w, const char *path, const char *fmt, ...)
{
    char problem[2 * XENGPU_XS_SHOWLEN];
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(problem, sizeof(problem), fmt, ap);
    va_end(ap);
    w->st->problems++;
    w->report(path, problem, w->arg);
}

static void perms_string(const struct xs_permissions *p, unsigned n, char *buf,
                         size_t size)
{
    static const char letter[] = { 'n', 'r', 'w', 'b' };
    size_t o = 0;
    unsigned i;

    buf[0] = '\0';
    for (i = 0; i < n && o < size; i++)
        o += (size_t)snprintf(buf + o, size - o, "%s%c%u", i ? "," : "",
                              letter[p[i].perms & 3], p[i].id);
}

/*
 * Is PATH, whose last segment is placeholder PH (bound in V), about the
 * domain asked for?
 */
static bool in_scope(struct walk *w, const char *path,
                     xengpu_xs_placeholder ph, const xengpu_xs_vars *v)
{
    char sub[512];
    char *val;
    unsigned len;
    bool yes;

    if (w->domid < 0) return true;
    if (ph == XENGPU_XS_P_DOMID) return v->domid == w->domid;
    if (ph != XENGPU_XS_P_UUID && ph != XENGPU_XS_P_BDFXS) return true;
    /* A UUID or a card: about the domain its domid node names. */
    snprintf(sub, sizeof(sub), "%s/domid", path);
    val = xs_read(w->xs, XBT_NULL, sub, &len);
    yes = val && xengpu_xs_grammar_ok(XENGPU_XS_G_DOMID, val, len) &&
          strtol(val, NULL, 10) == w->domid;
    free(val);
    return yes;
}

static void check_node(struct walk *w, const char *path,
                       const xengpu_xs_rule *rule, const xengpu_xs_vars *v)
{
    char want[64], have[64], shown[XENGPU_XS_SHOWLEN];
    struct xs_permissions *perms;
    unsigned len, n;
    const char *why;
    char *val = xs_read(w->xs, XBT_NULL, path, &len);

    if (!val) {
        if (errno != ENOENT && errno != EACCES && !w->err) w->err = -errno;
        return;
    }
    w->st->checked++;
    why = xengpu_xs_check_value(rule, val, len);
    if (why)
        report(w, path,
               "value '%s' %s (schema line %d: %s, at most %zu"
               " bytes)",
               xengpu_xs_show(val, len, shown), why, rule->line,
               rule->grammar == XENGPU_XS_G_ENUM ? "enum" : "grammar",
               rule->maxlen);
    free(val);
    perms = xs_get_permissions(w->xs, XBT_NULL, path, &n);
    if (!perms) return;
    perms_string(perms, n, have, sizeof(have));
    free(perms);
    xengpu_xs_rule_perms(rule, v, want, sizeof(want));
    if (strcmp(have, want))
        report(w, path, "permissions %s, the schema says %s (line %d)", have,
               want, rule->line);
}

/* The children of PATH, capped; NULL when it has none or is not there. */
static char **children(struct walk *w, const char *path, unsigned *n)
{
    char **kids = xs_directory(w->xs, XBT_NULL, path, n);

    if (!kids) {
        if (errno != ENOENT && errno != EACCES && !w->err) w->err = -errno;
        *n = 0;
        return NULL;
    }
    if (*n > XENGPU_XS_MAX_CHILDREN) {
        report(w, path,
               "has %u children; only the first %d were checked (a guest"
               " flooding its nodes?)",
               *n, XENGPU_XS_MAX_CHILDREN);
        *n = XENGPU_XS_MAX_CHILDREN;
    }
    return kids;
}

typedef void visit_fn(struct walk *w, const char *path,
                      const xengpu_xs_vars *v, const void *what);

/* Call VISIT for each live path that SEGS[0..NSEGS) expands to. */
static void expand(struct walk *w, const xengpu_xs_seg *segs, size_t nsegs,
                   const char *path, xengpu_xs_vars v, visit_fn *visit,
                   const void *what)
{
    char next[512];
    char **kids;
    unsigned i, n;

    if (!nsegs) {
        visit(w, path[0] ? path : "/", &v, what);
        return;
    }
    if (segs[0].ph == XENGPU_XS_P_NONE) {
        snprintf(next, sizeof(next), "%s/%s", path, segs[0].lit);
        expand(w, segs + 1, nsegs - 1, next, v, visit, what);
        return;
    }
    kids = children(w, path[0] ? path : "/", &n);
    for (i = 0; i < n; i++) {
        xengpu_xs_vars kv = v;
        if (!xengpu_xs_seg_match(&segs[0], kids[i], strlen(kids[i]), &kv))
            continue;
        snprintf(next, sizeof(next), "%s/%s", path, kids[i]);
        if (in_scope(w, next, segs[0].ph, &kv))
            expand(w, segs + 1, nsegs - 1, next, kv, visit, what);
    }
    free(kids);
}

static void visit_rule(struct walk *w, const char *path,
                       const xengpu_xs_vars *v, const void *what)
{
    check_node(w, path, what, v);
}

/* Every node under an own tree: declared, or an empty directory. */
static void sweep(struct walk *w, const char *path, unsigned depth)
{
    char next[512], shown[XENGPU_XS_SHOWLEN];
    xengpu_xs_placeholder ph;
    xengpu_xs_vars v;
    char **kids, *val;
    unsigned i, n, len;

    if (++w->visited > MAX_WALK) {
        if (w->visited == MAX_WALK + 1)
            report(w, path, "more than %d nodes; the rest not checked",
                   MAX_WALK);
        return;
    }
    if (!xengpu_xs_match(w->s, path, NULL)) {
        if (!xengpu_xs_is_dir(w->s, path)) {
            report(w, path, "not declared by the xenstore schema");
        } else if ((val = xs_read(w->xs, XBT_NULL, path, &len))) {
            if (len)
                report(w, path, "a directory with a value ('%s')",
                       xengpu_xs_show(val, len, shown));
            free(val);
        }
    }
    if (depth >= MAX_DEPTH) return;
    kids = children(w, path, &n);
    for (i = 0; i < n; i++) {
        snprintf(next, sizeof(next), "%s/%s", path, kids[i]);
        ph = xengpu_xs_bind(w->s, next, &v);
        if (in_scope(w, next, ph, &v)) sweep(w, next, depth + 1);
    }
    free(kids);
}

static void visit_tree(struct walk *w, const char *path,
                       const xengpu_xs_vars *v, const void *what)
{
    (void)v;
    (void)what;
    sweep(w, path, 0);
}

int xengpu_xs_validate(struct xs_handle *xs, const xengpu_xs_schema *s,
                       long domid, xengpu_xs_report_fn *fn, void *arg,
                       xengpu_xs_stats *st, xentoollog_logger *lg)
{
    struct walk w = {
        xs, s ? s : xengpu_xs_schema_builtin(), domid, fn, arg, st, 0, 0
    };
    xengpu_xs_vars v = { -1, "", "" };
    size_t i;

    memset(st, 0, sizeof(*st));
    for (i = 0; i < w.s->nrules; i++)
        expand(&w, w.s->rules[i].segs, w.s->rules[i].nsegs, "", v, visit_rule,
               &w.s->rules[i]);
    for (i = 0; i < w.s->ntrees; i++)
        expand(&w, w.s->trees[i].segs, w.s->trees[i].nsegs, "", v, visit_tree,
               NULL);
    if (w.err) LOGE(lg, ERROR, -w.err, "cannot read xenstore");
    return w.err;
}

/* --- the guest cooperation protocol -------------------------------------- */

static long ms_left(const struct timespec *deadline)
{
    struct timespec now;

    long long ns;

    clock_gettime(CLOCK_MONOTONIC, &now);
    ns = (long long)(deadline->tv_sec - now.tv_sec) * 1000000000 +
         (deadline->tv_nsec - now.tv_nsec);
    return ns <= 0 ? 0 : (long)((ns + 999999) / 1000000); /* rounded up */
}

static bool has_agent(struct xs_handle *xs, unsigned domid, const char *base,
                      xentoollog_logger *lg)
{
    char path[128], shown[XENGPU_XS_SHOWLEN];
    unsigned len, version;
    char *val;
    bool ok;

    snprintf(path, sizeof(path), "%s/agent", base);
    val = xs_read(xs, XBT_NULL, path, &len);
    if (!val) return false;
    ok = !xengpu_proto_parse_agent(val, len, &version);
    if (!ok)
        LOG(lg, WARN,
            "domain %u: ignoring its agent: data/xengpu/agent '%s' is not"
            " a protocol version",
            domid, xengpu_xs_show(val, len, shown));
    free(val);
    return ok;
}

/* Drain the watch events; NULL events are fine, errors are not. */
static int drain(struct xs_handle *xs, unsigned *events)
{
    char **ev;

    while ((ev = xs_check_watch(xs))) {
        free(ev);
        if (++*events > MAX_EVENTS) return -EPROTO;
    }
    return errno == EAGAIN ? 0 : -errno;
}

/*
 * Read the response node: 1 with *R when it answers SEQ, 0 when it is
 * absent, stale or malformed (logged, a few times).
 */
static int read_answer(struct xs_handle *xs, unsigned domid, const char *path,
                       uint32_t seq, xengpu_guest_response *r, unsigned *bad,
                       xentoollog_logger *lg)
{
    char shown[XENGPU_XS_SHOWLEN];
    unsigned len;
    char *val = xs_read(xs, XBT_NULL, path, &len);
    int got = 0;

    if (!val) return 0;
    if (xengpu_proto_parse_response(val, len, r)) {
        if (++*bad <= BAD_LOGGED)
            LOG(lg, WARN,
                "domain %u: ignoring a malformed answer in"
                " data/xengpu/response: '%s'%s",
                domid, xengpu_xs_show(val, len, shown),
                *bad == BAD_LOGGED ? " (no more of these are logged)" : "");
    } else {
        got = r->seq == seq;
    }
    free(val);
    return got;
}

static int wait_answer(struct xs_handle *xs, unsigned domid, const char *path,
                       uint32_t seq, unsigned timeout_ms,
                       xengpu_guest_response *r, xentoollog_logger *lg)
{
    struct pollfd pfd = { xs_fileno(xs), POLLIN, 0 };
    struct timespec deadline;
    unsigned events = 0, bad = 0;
    long left;
    int rc;

    if (pfd.fd < 0) return -errno;
    clock_gettime(CLOCK_MONOTONIC, &deadline);
    deadline.tv_sec += timeout_ms / 1000;
    deadline.tv_nsec += (long)(timeout_ms % 1000) * 1000000;
    if (deadline.tv_nsec >= 1000000000) {
        deadline.tv_sec++;
        deadline.tv_nsec -= 1000000000;
    }
    for (;;) {
        if (read_answer(xs, domid, path, seq, r, &bad, lg)) return 0;
        left = ms_left(&deadline);
        if (left <= 0) return -ETIMEDOUT;
        rc = poll(&pfd, 1, (int)left);
        if (rc < 0 && errno != EINTR) return -errno;
        rc = drain(xs, &events);
        if (rc == -EPROTO)
            LOG(lg, WARN,
                "domain %u floods data/xengpu: more than %d changes while"
                " waiting for one answer; not waiting any longer",
                domid, MAX_EVENTS);
        if (rc) return rc;
    }
}

int xengpu_guest_ask(struct xs_handle *xs, unsigned domid,
                     xengpu_guest_verb verb, unsigned timeout_ms,
                     xengpu_guest_response *r, xentoollog_logger *lg)
{
    char base[64], req[80], resp[80], token[32], value[32];
    uint32_t seq = 0;
    int rc;

    snprintf(base, sizeof(base), "/local/domain/%u/data/xengpu", domid);
    if (!has_agent(xs, domid, base, lg)) return -ENOENT;
    snprintf(req, sizeof(req), "%s/request", base);
    snprintf(resp, sizeof(resp), "%s/response", base);
    if (getrandom(&seq, sizeof(seq), 0) != sizeof(seq))
        seq = (uint32_t)time(NULL) ^ (uint32_t)getpid();
    seq = (seq & XENGPU_PROTO_SEQ_MAX) ? seq & XENGPU_PROTO_SEQ_MAX : 1;
    snprintf(token, sizeof(token), "xengpu-ask-%u", seq);
    if (xengpu_proto_format_request(seq, verb, value, sizeof(value)) < 0)
        return -EINVAL;
    if (!xs_watch(xs, resp, token)) {
        rc = -errno;
        LOGE(lg, ERROR, errno, "cannot watch %s", resp);
        return rc;
    }
    rc = xengpu_xs_write(xs, XBT_NULL, req, value, lg);
    if (!rc) rc = wait_answer(xs, domid, resp, seq, timeout_ms, r, lg);
    xs_unwatch(xs, resp, token);
    xengpu_xs_rm(xs, XBT_NULL, req, lg);
    return rc;
}
