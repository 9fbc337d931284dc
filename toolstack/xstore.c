/*
 * xstore.c - xenstore validation output and the guest agent's part in
 * attach and detach.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <yajl/yajl_gen.h>

#include "pciback-helper/util.h"
#include "xenstore-schema/xs.h"
#include "xengpu.h"
#include "xstore.h"

struct found {
    char **lines; /* "PATH\0problem" pairs, as two strings */
    size_t n;
};

static void collect(const char *path, const char *problem, void *arg)
{
    struct found *f = arg;

    f->lines = xengpu__xreallocarray(f->lines, 2 * (f->n + 1), sizeof(char *));
    f->lines[2 * f->n] = xengpu__xstrdup(path);
    f->lines[2 * f->n + 1] = xengpu__xstrdup(problem);
    f->n++;
}

#define GEN_STR(g, s) \
    yajl_gen_string((g), (const unsigned char *)(s), strlen(s))

static void print_json(FILE *out, const struct found *f,
                       const xengpu_xs_stats *st)
{
    yajl_gen g = yajl_gen_alloc(NULL);
    const unsigned char *buf;
    size_t len, i;

    if (!g) xengpu__oom();
    yajl_gen_config(g, yajl_gen_beautify, 1);
    yajl_gen_map_open(g);
    GEN_STR(g, "checked");
    yajl_gen_integer(g, st->checked);
    GEN_STR(g, "problems");
    yajl_gen_array_open(g);
    for (i = 0; i < f->n; i++) {
        yajl_gen_map_open(g);
        GEN_STR(g, "path");
        GEN_STR(g, f->lines[2 * i]);
        GEN_STR(g, "problem");
        GEN_STR(g, f->lines[2 * i + 1]);
        yajl_gen_map_close(g);
    }
    yajl_gen_array_close(g);
    yajl_gen_map_close(g);
    yajl_gen_get_buf(g, &buf, &len);
    fwrite(buf, 1, len, out);
    yajl_gen_free(g);
}

int xengpu_xenstore_validate(long domid, xengpu_xenstore_report_fn *report,
                             void *arg, unsigned *checked_r,
                             xentoollog_logger *lg)
{
    struct xs_handle *xs;
    xengpu_xs_stats st;
    int r;

    if (!lg) lg = xengpu__logger_default();
    xs = xs_open(0);
    if (!xs) {
        r = -errno;
        LOGE(lg, ERROR, errno,
             "cannot open xenstore (run as root in dom0, with xenstored "
             "running)");
        return r;
    }
    r = xengpu_xs_validate(xs, NULL, domid, report, arg, &st, lg);
    xs_close(xs);
    if (r) return r;
    if (checked_r) *checked_r = st.checked;
    return (int)st.problems;
}

int xengpu_xstore_check(FILE *out, bool json, long domid,
                        xentoollog_logger *lg)
{
    struct found f = { NULL, 0 };
    xengpu_xs_stats st = { 0, 0 };
    size_t i;
    int r = xengpu_xenstore_validate(domid, collect, &f, &st.checked, lg);

    if (r >= 0 && json) {
        print_json(out, &f, &st);
    } else if (r >= 0) {
        for (i = 0; i < f.n; i++)
            fprintf(out, "%s: %s\n", f.lines[2 * i], f.lines[2 * i + 1]);
        fprintf(out, "xenstore: %u node%s checked, %zu problem%s\n",
                st.checked, st.checked == 1 ? "" : "s", f.n,
                f.n == 1 ? "" : "s");
    }
    for (i = 0; i < 2 * f.n; i++)
        free(f.lines[i]);
    free(f.lines);
    return r;
}

static int ask(unsigned domid, xengpu_guest_verb verb, int timeout_s,
               xengpu_guest_response *resp, xentoollog_logger *lg)
{
    struct xs_handle *xs = xs_open(0);
    int r;

    if (!xs) return -ENOENT; /* no xenstore, so no agent to ask */
    r = xengpu_guest_ask(xs, domid, verb, (unsigned)timeout_s * 1000u, resp,
                         lg);
    xs_close(xs);
    return r;
}

int xengpu_guest_release(unsigned domid, const char *card, int timeout_s,
                         bool force, xentoollog_logger *lg)
{
    xengpu_guest_response resp;
    int r = ask(domid, XENGPU_GUEST_RELEASE, timeout_s, &resp, lg);

    if (r == -ETIMEDOUT)
        LOG(lg, WARN,
            "domain %u's agent did not answer the release of card %s "
            "within %d s; unplugging it anyway",
            domid, card, timeout_s);
    if (r || resp.answer != XENGPU_GUEST_REFUSED) return 0;
    if (force) {
        LOG(lg, WARN,
            "domain %u refuses to release card %s (%s); --force: "
            "unplugging it anyway",
            domid, card, resp.reason);
        return 0;
    }
    LOG(lg, ERROR,
        "domain %u refuses to release card %s: %s; the card stays "
        "attached; retry when the guest is done with it, or use --force",
        domid, card, resp.reason);
    return -EBUSY;
}

int xengpu_guest_plugged(unsigned domid, const char *card, int timeout_s,
                         xentoollog_logger *lg)
{
    xengpu_guest_response resp;
    int r = ask(domid, XENGPU_GUEST_PLUGGED, timeout_s, &resp, lg);

    if (r == -ETIMEDOUT)
        LOG(lg, WARN,
            "domain %u's agent did not confirm card %s within %d s; the "
            "card is attached",
            domid, card, timeout_s);
    else if (!r && resp.answer == XENGPU_GUEST_REFUSED)
        LOG(lg, WARN, "domain %u's agent could not take card %s: %s", domid,
            card, resp.reason);
    return 0;
}
