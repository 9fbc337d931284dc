/*
 * save.c - save, restore and migrate GPU guests by unplug and replug.
 *
 * The order of things is the point of this file: nothing the guest
 * holds is let go before everything that can be checked has been, and
 * every step after that has its undo, run on any failure and by
 * xengpu_save_recover() after a crash.
 */
#include <errno.h>
#include <dirent.h>
#include <fcntl.h>
#include <signal.h>
#include <stdint.h>
#include <spawn.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <sys/utsname.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include <xenctrl.h>
#include <xenstore.h>
#include <yajl/yajl_gen.h>
#include <yajl/yajl_tree.h>

#include "migrate/save.h"
#include "migrate/stream.h"
#include "pciback-helper/libxl-compat.h"
#include "pciback-helper/state.h"
#include "pciback-helper/util.h"
#include "toolstack/compat.h"
#include "toolstack/create.h"
#include "toolstack/domains.h"
#include "toolstack/events.h"
#include "toolstack/layout.h"
#include "toolstack/record.h"
#include "toolstack/reserve.h"
#include "toolstack/xstore.h"
#include "xenstore-schema/schema.h"

extern char **environ;

#define MAX_CARDS 16
#define RESERVE_SECONDS 3600

/* What one save or restore works on. */
struct op {
    const xengpu_save_req *req;
    xentoollog_logger *lg;
    const char *verb; /* "save" / "restore" */
    char uuid[XENGPU_UUID_STRLEN];
    char name[65];
    uint32_t domid;
    xengpu_host *host;
    xengpu_xl *xl;
    const xengpu_card *cards[MAX_CARDS]; /* this host's cards */
    char bdfs[MAX_CARDS][XENGPU_BDF_STRLEN];
    /* the per-device options each card had, to give it (or the card
     * that replaces it) again: "permissive=1,...", "" for none */
    char opts[MAX_CARDS][XENGPU_STREAM_OPTS_MAX + 2];
    size_t n;
    size_t unplugged;         /* save: how many are out of the guest */
    bool prepared[MAX_CARDS]; /* restore: prepared by this command */
    xengpu_events *ev;
    struct timespec t0;
    pid_t xl_pid;  /* the running xl save or migrate, for recover */
    double pause;  /* migrate: seconds the guest was paused, < 0 unknown */
    bool incoming; /* migrate-receive: journal in UUID.in.json */
    int lock_fd;   /* ops/UUID[.in].lock, flock'ed while we work on it */
};

static double since(const struct timespec *t0)
{
    struct timespec t;

    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)(t.tv_sec - t0->tv_sec) +
           (double)(t.tv_nsec - t0->tv_nsec) / 1e9;
}

static void say(struct op *o, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

static void say(struct op *o, const char *fmt, ...)
{
    va_list ap;

    if (!o->req->out) return;
    fprintf(o->req->out, "%s: [%5.1fs] ", o->verb, since(&o->t0));
    va_start(ap, fmt);
    vfprintf(o->req->out, fmt, ap);
    va_end(ap);
    fputc('\n', o->req->out);
    fflush(o->req->out);
}

static int timeout_of(const struct op *o)
{
    return o->req->timeout > 0 ? o->req->timeout : 10;
}

/* --- events ------------------------------------------------------------- */

static int event(struct op *o, xengpu_event_kind kind, xengpu_event_phase ph,
                 int rc, const char *error)
{
    xengpu_event e;
    char *reason = NULL;
    int r;

    xengpu_event_init(&e, kind, ph);
    xengpu_event_set_card(&e, o->n ? &o->cards[0]->fns[0]->bdf : NULL);
    xengpu_event_set_domain(&e, (long)o->domid, o->name[0] ? o->name : NULL);
    if (ph == XENGPU_PHASE_POST) xengpu_event_set_result(&e, rc, error);
    r = xengpu_event_emit(o->ev, &e, &reason);
    free(reason);
    return r;
}

/* --- the journal ------------------------------------------------------ */

#define GEN_STR(g, s) \
    yajl_gen_string((g), (const unsigned char *)(s), strlen(s))

/* The operation's EXT file, relative to STATE: ops/UUID[.in].EXT. */
static void op_file(const struct op *o, const char *ext, char *buf,
                    size_t size)
{
    snprintf(buf, size, "ops/%s%s.%s", o->uuid, o->incoming ? ".in" : "", ext);
}

/*
 * STATE/ops/UUID[.in].lock, held (flock) by the process working on the
 * operation, so that `recover` leaves alone what still runs; the kernel
 * drops it when that process dies, however it dies.  Our pid is in it,
 * for the message.  0, -EBUSY when another process holds it, or -errno.
 */
static int op_lock(struct op *o, int sfd, xentoollog_level busy_level)
{
    char name[96], pid[16] = "";
    int fd, n;

    if (o->lock_fd >= 0) return 0;
    if (mkdirat(sfd, "ops", 0700) < 0 && errno != EEXIST) return -errno;
    op_file(o, "lock", name, sizeof(name));
    fd = openat(sfd, name, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
    if (fd < 0) return -errno;
    if (flock(fd, LOCK_EX | LOCK_NB) < 0) {
        n = (int)pread(fd, pid, sizeof(pid) - 1, 0);
        pid[n > 0 ? n : 0] = '\0';
        pid[strcspn(pid, "\n")] = '\0';
        xengpu__log(o->lg, busy_level, -1,
                    "%s: the %s of domain %s is in the hands of pid %s%s",
                    o->verb, o->incoming ? "incoming migration" : "operation",
                    o->uuid, pid[0] ? pid : "?",
                    busy_level == XTL_ERROR ? "" : "; left alone");
        close(fd);
        return -EBUSY;
    }
    n = snprintf(pid, sizeof(pid), "%d\n", (int)getpid());
    if (ftruncate(fd, 0) == 0 && pwrite(fd, pid, (size_t)n, 0) < 0) {
        /* only the message above would lack it */
    }
    o->lock_fd = fd;
    return 0;
}

static void op_unlock(struct op *o, int sfd)
{
    char name[96];

    if (o->lock_fd < 0) return;
    op_file(o, "lock", name, sizeof(name));
    unlinkat(sfd, name, 0);
    close(o->lock_fd);
    o->lock_fd = -1;
}

/* Take the operation's lock before touching a journal another wrote. */
static int lock_now(struct op *o)
{
    int sfd, r = xengpu_state_open(o->req->state_dir, o->lg, &sfd);

    if (r) return r;
    r = op_lock(o, sfd, XTL_ERROR);
    close(sfd);
    return r;
}

/*
 * STATE/ops/UUID.json: {"op","phase","domid","name","file","cards",
 * "opts"} ("opts": each card's per-device options, "" for none).
 */
static int journal(struct op *o, const char *phase)
{
    char name[96], tmp[104];
    const unsigned char *buf;
    int sfd = -1, fd = -1, r;
    yajl_gen g;
    size_t len, i;

    r = xengpu_state_open(o->req->state_dir, o->lg, &sfd);
    if (r) return r;
    if (mkdirat(sfd, "ops", 0700) < 0 && errno != EEXIST) goto fail;
    op_file(o, "json", name, sizeof(name));
    if (!phase) {
        if (unlinkat(sfd, name, 0) < 0 && errno != ENOENT) goto fail;
        op_file(o, "hdr", name, sizeof(name));
        unlinkat(sfd, name, 0);
        op_unlock(o, sfd);
        close(sfd);
        return 0;
    }
    if ((r = op_lock(o, sfd, XTL_ERROR))) {
        close(sfd);
        return r;
    }
    g = yajl_gen_alloc(NULL);
    if (!g) xengpu__oom();
    yajl_gen_map_open(g);
    GEN_STR(g, "op");
    GEN_STR(g, o->verb);
    GEN_STR(g, "phase");
    GEN_STR(g, phase);
    GEN_STR(g, "domid");
    yajl_gen_integer(g, o->domid == (uint32_t)-1 ? -1 : (long long)o->domid);
    GEN_STR(g, "name");
    GEN_STR(g, o->name);
    GEN_STR(g, "file");
    GEN_STR(g, o->req->file ? o->req->file : "");
    GEN_STR(g, "xl_pid");
    yajl_gen_integer(g, o->xl_pid);
    if (!o->incoming && o->req->host) {
        /* recover at the source tells the destination */
        GEN_STR(g, "host");
        GEN_STR(g, o->req->host);
        GEN_STR(g, "transport");
        GEN_STR(g, o->req->transport ? o->req->transport : "");
    }
    GEN_STR(g, "cards");
    yajl_gen_array_open(g);
    for (i = 0; i < o->n; i++)
        GEN_STR(g, o->bdfs[i]);
    yajl_gen_array_close(g);
    GEN_STR(g, "opts");
    yajl_gen_array_open(g);
    for (i = 0; i < o->n; i++)
        GEN_STR(g, o->opts[i]);
    yajl_gen_array_close(g);
    yajl_gen_map_close(g);
    yajl_gen_get_buf(g, &buf, &len);
    snprintf(tmp, sizeof(tmp), "%s.tmp", name);
    fd = openat(sfd, tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    if (fd < 0 || write(fd, buf, len) != (ssize_t)len || fsync(fd) < 0 ||
        renameat(sfd, tmp, sfd, name) < 0) {
        yajl_gen_free(g);
        goto fail;
    }
    yajl_gen_free(g);
    close(fd);
    close(sfd);
    return 0;
fail:
    r = -errno;
    LOGE(o->lg, ERROR, errno, "%s: cannot write the journal of domain %s",
         o->verb, o->uuid);
    if (fd >= 0) close(fd);
    close(sfd);
    return r;
}

/* --- xl through a pipe ---------------------------------------------------- */

/*
 * Run xl ARGV (argv[0] is replaced by $XENGPU_XL or "xl"), its standard
 * output OUT and its fd 3 FD3 unless they are -1; *pid_r gets the child.
 */
static int spawn_xl3(char **argv, int out, int fd3, pid_t *pid_r,
                     xentoollog_logger *lg)
{
    const char *xl = getenv(XENGPU_XL_ENV);
    posix_spawn_file_actions_t fa;
    int r;

    if (!xl || !*xl) xl = "xl";
    argv[0] = (char *)xl;
    posix_spawn_file_actions_init(&fa);
    if (out >= 0) posix_spawn_file_actions_adddup2(&fa, out, 1);
    if (fd3 >= 0) posix_spawn_file_actions_adddup2(&fa, fd3, 3);
    fflush(NULL);
    r = posix_spawnp(pid_r, xl, &fa, NULL, argv, environ);
    posix_spawn_file_actions_destroy(&fa);
    if (r) LOGE(lg, ERROR, r, "cannot run %s", xl);
    return -r;
}

static int spawn_xl(char **argv, int out, pid_t *pid_r, xentoollog_logger *lg)
{
    return spawn_xl3(argv, out, -1, pid_r, lg);
}

static int wait_xl(pid_t pid)
{
    int status;

    while (waitpid(pid, &status, 0) < 0)
        if (errno != EINTR) return -errno;
    return WIFEXITED(status) && !WEXITSTATUS(status) ? 0 : -EIO;
}

/* --- the domain ----------------------------------------------------------- */

static int open_domain(struct op *o)
{
    libxl_ctx *ctx;
    libxl_dominfo info;
    char *name;
    int r;

    r = xengpu_xl_open(o->lg, false, &o->xl);
    if (!r) r = xengpu_xl_domid(o->xl, o->req->domain, &o->domid);
    if (r) return r;
    ctx = xengpu__xl_ctx(o->xl);
    libxl_dominfo_init(&info);
    if (libxl_domain_info(ctx, &info, o->domid)) {
        libxl_dominfo_dispose(&info);
        LOG(o->lg, ERROR, "save: cannot read domain %u", o->domid);
        return -ENOENT;
    }
    snprintf(o->uuid, sizeof(o->uuid), LIBXL_UUID_FMT,
             LIBXL_UUID_BYTES(info.uuid));
    libxl_dominfo_dispose(&info);
    name = libxl_domid_to_name(ctx, o->domid);
    snprintf(o->name, sizeof(o->name), "%s", name ? name : "");
    free(name);
    return 0;
}

static int discover(struct op *o)
{
    int fd, r;

    xengpu_host_free(o->host);
    o->host = NULL;
    r = xengpu_sysfs_open_root(NULL, o->lg, &fd);
    if (r) return r;
    r = xengpu_host_discover(fd, o->lg, &o->host);
    close(fd);
    if (!r) r = xengpu_xl_annotate(o->xl, o->host);
    return r;
}

/* The per-device options libxl gave card C in the guest, into OPTS. */
static void held_opts(struct op *o, const xengpu_card *c, char *opts)
{
    xengpu_gpuspec spec;
    char buf[XENGPU_STREAM_OPTS_MAX + 2];

    opts[0] = '\0';
    if (xengpu__xl_opts(o->xl, o->domid, c, &spec) ||
        xengpu_gpuspec_xl_options(&spec, buf, sizeof(buf)) || !buf[0])
        return;
    snprintf(opts, XENGPU_STREAM_OPTS_MAX + 2, "%s", buf + 1); /* no ',' */
}

/*
 * Plug card I of the op (C: this host's card for it) with the options
 * its predecessor had.  Options that do not parse (a journal or header
 * is checked for their characters only) are left out, with a warning.
 */
static int plug_card(struct op *o, size_t i, const xengpu_card *c)
{
    char why[XENGPU_GPUSPEC_WHYLEN];
    xengpu_gpuspec spec;
    const char *opts = o->opts[i];

    if (!opts[0]) return xengpu_xl_attach(o->xl, o->domid, c);
    if (xengpu_gpuspec_parse(opts, strlen(opts), XENGPU_GPUSPEC_OPTIONS, &spec,
                             why, sizeof(why))) {
        LOG(o->lg, WARN, "%s: card %s: leaving out its options \"%s\": %s",
            o->verb, o->bdfs[i], opts, why);
        return xengpu_xl_attach(o->xl, o->domid, c);
    }
    return xengpu__xl_attach_opts(o->xl, o->domid, c, &spec);
}

/* Entry I of a journal's "opts" into OUT ("" when absent or bad). */
static void journal_opts(yajl_val root, size_t i, char *out)
{
    const char *path[] = { "opts", NULL };
    yajl_val a = root ? yajl_tree_get(root, path, yajl_t_array) : NULL;
    yajl_val v =
        a && i < YAJL_GET_ARRAY(a)->len ? YAJL_GET_ARRAY(a)->values[i] : NULL;
    const char *t = YAJL_IS_STRING(v) ? YAJL_GET_STRING(v) : "";

    out[0] = '\0';
    if (strlen(t) <= XENGPU_STREAM_OPTS_MAX &&
        strspn(t, "abcdefghijklmnopqrstuvwxyz0123456789_=,") == strlen(t))
        snprintf(out, XENGPU_STREAM_OPTS_MAX + 2, "%s", t);
}

/* The cards domid holds, in host order. */
static int held_cards(struct op *o)
{
    const xengpu_card *c;
    size_t i;

    o->n = 0;
    for (i = 0; i < xengpu_host_ncards(o->host); i++) {
        c = xengpu_host_card(o->host, i);
        if (c->state != XENGPU_CARD_ASSIGNED || c->domid != (long)o->domid)
            continue;
        if (o->n == MAX_CARDS) {
            LOG(o->lg, ERROR, "save: domain %s holds more than %d cards",
                o->name, MAX_CARDS);
            return -E2BIG;
        }
        snprintf(o->bdfs[o->n], sizeof(o->bdfs[0]), "%s", c->fns[0]->name);
        held_opts(o, c, o->opts[o->n]);
        o->cards[o->n++] = c;
    }
    return 0;
}

/* The guest's recorded choices: /xengpu/domain/UUID/{migration,compat}. */
static void read_choices(struct op *o, xengpu_stream_hdr *h)
{
    struct xs_handle *xs = xs_open(0);
    char path[128], *v;
    unsigned len;
    size_t i;

    if (!xs) return;
    snprintf(path, sizeof(path), "/xengpu/domain/%s/migration", o->uuid);
    v = xs_read(xs, XBT_NULL, path, &len);
    if (v && len == 6 && !memcmp(v, "refuse", 6)) h->unplug = false;
    free(v);
    snprintf(path, sizeof(path), "/xengpu/domain/%s/compat", o->uuid);
    v = xs_read(xs, XBT_NULL, path, &len);
    if (v) xengpu_compat_parse(v, &h->compat);
    free(v);
    for (i = 0; i < XENGPU_STREAM_MAX_SPECS; i++) {
        snprintf(path, sizeof(path), "/xengpu/domain/%s/gpu/%zu/spec", o->uuid,
                 i);
        v = xs_read(xs, XBT_NULL, path, &len);
        if (!v) break;
        if (xengpu_xs_grammar_ok(XENGPU_XS_G_GPUSPEC, v, len))
            xengpu_stream_hdr_add_spec(h, v);
        free(v);
    }
    xs_close(xs);
}

/* --- save -------------------------------------------------------------- */

/*
 * A live migration that broke mid-stream can leave the guest in
 * log-dirty mode (nested bed: the destination died, libxl's save helper
 * with it, before libxc's cleanup turned it off), and Xen then refuses
 * to assign it a device (EXDEV, "Invalid cross-device link").  Turn it
 * off before giving the cards back; harmless when it is off.  HVM only:
 * Debian's Xen has no shadow paging, so no PV log-dirty to undo.
 */
static void logdirty_off(struct op *o)
{
    libxl_dominfo info;
    xc_interface *xch;
    bool hvm;

    libxl_dominfo_init(&info);
    hvm = !libxl_domain_info(xengpu__xl_ctx(o->xl), &info, o->domid) &&
          info.domain_type == LIBXL_DOMAIN_TYPE_HVM;
    libxl_dominfo_dispose(&info);
    if (!hvm || !(xch = xc_interface_open(o->lg, o->lg, 0))) return;
    if (xc_shadow_control(xch, o->domid, XEN_DOMCTL_SHADOW_OP_OFF, NULL, 0))
        LOGE(o->lg, WARN, errno,
             "%s: cannot turn log-dirty mode off for domain %s", o->verb,
             o->name);
    xc_interface_close(xch);
}

/* Put the unplugged cards back into the guest and tell its agent. */
static void replug(struct op *o)
{
    size_t i;
    int r;

    if (o->unplugged) {
        discover(o); /* their state is "prepared" again */
        logdirty_off(o);
    }
    for (i = 0; i < o->unplugged; i++) {
        xengpu_bdf b = o->cards[i]->fns[0]->bdf;
        const xengpu_card *c = xengpu_host_find_card(o->host, &b);
        r = c ? plug_card(o, i, c) : -ENODEV;
        if (r)
            LOG(o->lg, ERROR,
                "%s: could not give card %s back to domain %s; run `xengpu "
                "attach %s %s`",
                o->verb, o->bdfs[i], o->name, o->name, o->bdfs[i]);
        else
            xengpu_guest_plugged(o->domid, o->bdfs[i], timeout_of(o), o->lg);
    }
    o->unplugged = 0;
}

static void unreserve_all(struct op *o)
{
    size_t i;
    xengpu_bdf b;

    for (i = 0; i < o->n; i++)
        if (!xengpu_bdf_parse(o->bdfs[i], 0, &b)) xengpu_unreserve(&b, o->lg);
}

/* Reserve, ask the agent, unplug: each card, in order. */
static int unplug_all(struct op *o)
{
    size_t i;
    int r;

    for (i = 0; i < o->n; i++) {
        const xengpu_card *c = o->cards[i];
        r = xengpu_reserve(&c->fns[0]->bdf, o->uuid,
                           time(NULL) + RESERVE_SECONDS, o->lg);
        if (!r)
            r = xengpu_guest_release(o->domid, o->bdfs[i], timeout_of(o),
                                     o->req->force, o->lg);
        if (!r)
            r = xengpu_xl_detach(o->xl, o->domid, c, timeout_of(o),
                                 o->req->force);
        if (r) return r;
        o->unplugged++;
        say(o, "card %s unplugged", o->bdfs[i]);
    }
    return 0;
}

static int fill_header(struct op *o, xengpu_stream_hdr *h)
{
    libxl_domain_config cfg;
    char why[XENGPU_COMPAT_WHYLEN];
    struct utsname u;
    size_t i;
    int r = 0;

    snprintf(h->uuid, sizeof(h->uuid), "%s", o->uuid);
    snprintf(h->name, sizeof(h->name), "%s", o->name);
    uname(&u);
    snprintf(h->host, sizeof(h->host), "%s", u.nodename);
    h->time = (int64_t)time(NULL);
    read_choices(o, h);
    for (i = 0; i < o->n && !r; i++) {
        h->cards[i].bdf = o->cards[i]->fns[0]->bdf;
        snprintf(h->cards[i].opts, sizeof(h->cards[i].opts), "%s", o->opts[i]);
        r = xengpu_card_desc_from_card(o->cards[i], &h->cards[i].desc, why,
                                       sizeof(why));
        if (r) LOG(o->lg, ERROR, "save: card %s: %s", o->bdfs[i], why);
    }
    h->ncards = o->n;
    if (r) return r;
    libxl_domain_config_init(&cfg);
    if (libxl_retrieve_domain_configuration(xengpu__xl_ctx(o->xl), o->domid,
                                            &cfg, NULL)) {
        LOG(o->lg, ERROR, "save: cannot read domain %s's configuration",
            o->name);
        r = -EIO;
    } else {
        h->hvm = cfg.c_info.type == LIBXL_DOMAIN_TYPE_HVM;
        if (h->hvm)
            h->mmio_hole =
                xengpu__mmio_hole_mib(cfg.b_info.u.hvm.mmio_hole_memkb);
        h->domain_config =
            libxl_domain_config_to_json(xengpu__xl_ctx(o->xl), &cfg);
        if (!h->domain_config) r = -EIO;
    }
    libxl_domain_config_dispose(&cfg);
    return r;
}

/*
 * The save file is what `xl save` writes, followed by xengpu's header
 * (migrate/stream.h) as a trailer and a footer: the header's length as
 * a little-endian uint64 and TRAILER_MAGIC.  xl reads and writes the
 * file itself (a pipe between them cost half again the time of a save
 * in the nested bed), `xl restore` ignores what follows libxl's stream,
 * so a xengpu save file is also a valid xl save file: nothing is lost
 * without xengpu.
 */
#define TRAILER_MAGIC "XGPUtail"
#define FOOTER_LEN 16

int xengpu__trailer_append(int fd, const xengpu_stream_hdr *h, char *why,
                           size_t whysize)
{
    char foot[FOOTER_LEN], *buf = NULL;
    size_t len = 0, i;
    uint64_t l;
    int r;

    r = xengpu_stream_hdr_encode(h, &buf, &len, why, whysize);
    if (r) return r;
    for (i = 0, l = len; i < 8; i++, l >>= 8)
        foot[i] = (char)(l & 0xff);
    memcpy(foot + 8, TRAILER_MAGIC, 8);
    errno = 0;
    if (lseek(fd, 0, SEEK_END) < 0 || write(fd, buf, len) != (ssize_t)len ||
        write(fd, foot, FOOTER_LEN) != FOOTER_LEN) {
        r = errno ? -errno : -EIO;
        snprintf(why, whysize, "cannot write the trailer: %s", strerror(-r));
    }
    free(buf);
    return r;
}

static int append_trailer(struct op *o, int fd, const xengpu_stream_hdr *h)
{
    char why[256];
    int r = xengpu__trailer_append(fd, h, why, sizeof(why));

    if (r) LOG(o->lg, ERROR, "save: domain %s: %s", o->name, why);
    return r;
}

/* STATE/ops/UUID.hdr: the trailer to be, so recover can finish the save. */
static int keep_header(struct op *o, const xengpu_stream_hdr *h)
{
    char why[256], name[96], *buf = NULL;
    size_t len = 0;
    int sfd, fd, r;

    r = xengpu_stream_hdr_encode(h, &buf, &len, why, sizeof(why));
    if (r) {
        LOG(o->lg, ERROR, "save: bad header for domain %s: %s", o->name, why);
        return r;
    }
    r = xengpu_state_open(o->req->state_dir, o->lg, &sfd);
    if (!r) {
        op_file(o, "hdr", name, sizeof(name));
        fd = openat(sfd, name, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
        if (fd < 0 || write(fd, buf, len) != (ssize_t)len || fsync(fd) < 0)
            r = -errno ? -errno : -EIO;
        if (fd >= 0) close(fd);
        close(sfd);
    }
    free(buf);
    return r;
}

/* `xl save DOMID FILE.tmp`, the trailer, then FILE.tmp renamed FILE. */
static int write_file(struct op *o, const xengpu_stream_hdr *h)
{
    char *tmp = xengpu__xasprintf("%s.tmp", o->req->file);
    char dom[16], *argv[] = { NULL, "save", dom, tmp, NULL };
    struct stat st;
    int fd = -1, r;
    pid_t pid;

    snprintf(dom, sizeof(dom), "%u", o->domid);
    if (!access(tmp, F_OK)) {
        LOG(o->lg, ERROR,
            "save: %s exists (an interrupted save?); remove it first", tmp);
        free(tmp);
        return -EEXIST;
    }
    r = keep_header(o, h);
    if (!r) r = spawn_xl(argv, -1, &pid, o->lg);
    if (!r) {
        o->xl_pid = pid;
        journal(o, "saving");
        r = wait_xl(pid);
        if (r) LOG(o->lg, ERROR, "save: xl save of domain %s failed", o->name);
    }
    if (!r) {
        fd = open(tmp, O_WRONLY | O_CLOEXEC);
        r = fd < 0 ? -errno : append_trailer(o, fd, h);
    }
    if (!r && fsync(fd) < 0) r = -errno;
    if (!r && fstat(fd, &st) < 0) r = -errno;
    if (fd >= 0) close(fd);
    if (!r && rename(tmp, o->req->file) < 0) r = -errno;
    if (r) {
        if (r != -EIO) LOGE(o->lg, ERROR, -r, "save: cannot write %s", tmp);
        unlink(tmp);
    } else {
        say(o, "wrote %s (%.1f MiB)", o->req->file,
            (double)st.st_size / 1048576);
    }
    free(tmp);
    return r;
}

int xengpu__trailer_read(int fd, xengpu_stream_hdr *h, char *why,
                         size_t whysize)
{
    unsigned char foot[FOOTER_LEN];
    struct stat st;
    uint64_t len = 0;
    char *buf;
    int i, r;

    if (fstat(fd, &st) < 0) return -errno;
    if (st.st_size < FOOTER_LEN ||
        pread(fd, foot, FOOTER_LEN, st.st_size - FOOTER_LEN) != FOOTER_LEN ||
        memcmp(foot + 8, TRAILER_MAGIC, 8)) {
        snprintf(why, whysize,
                 "not a xengpu save file (no xengpu trailer); an xl save "
                 "file is restored with xl restore");
        return -EINVAL;
    }
    for (i = 7; i >= 0; i--)
        len = len << 8 | foot[i];
    if (len < XENGPU_STREAM_PREAMBLE_LEN ||
        len > XENGPU_STREAM_PREAMBLE_LEN + XENGPU_STREAM_MAX_JSON ||
        (off_t)len > st.st_size - FOOTER_LEN) {
        snprintf(why, whysize, "damaged xengpu trailer (length %llu)",
                 (unsigned long long)len);
        return -EINVAL;
    }
    buf = xengpu__xmalloc(len);
    if (pread(fd, buf, len, st.st_size - FOOTER_LEN - (off_t)len) !=
        (ssize_t)len) {
        snprintf(why, whysize, "cannot read the xengpu trailer");
        r = -EIO;
    } else {
        r = xengpu_stream_hdr_parse(buf, len, h, why, whysize);
    }
    free(buf);
    return r;
}

static void op_init(struct op *o, const xengpu_save_req *req,
                    xentoollog_logger *lg, const char *verb)
{
    xengpu_events_config cfg;

    memset(o, 0, sizeof(*o));
    o->lock_fd = -1;
    o->pause = -1;
    o->req = req;
    o->lg = lg ? lg : xengpu__logger_default();
    o->verb = verb;
    clock_gettime(CLOCK_MONOTONIC, &o->t0);
    xengpu_events_config_init(&cfg);
    cfg.state_dir = req->state_dir;
    xengpu_events_open(&cfg, o->lg, &o->ev);
}

static void op_dispose(struct op *o)
{
    if (o->lock_fd >= 0) close(o->lock_fd); /* the journal stays: recover */
    xengpu_events_close(o->ev);
    xengpu_host_free(o->host);
    xengpu_xl_close(o->xl);
}

/*
 * What a save or a migration starts from: the domain, the cards it
 * holds, its header; refused when the guest says it may not lose them.
 */
static int take_stock(struct op *o, xengpu_stream_hdr *h)
{
    int r = open_domain(o);

    if (!r) r = discover(o);
    if (!r) r = held_cards(o);
    if (!r) r = fill_header(o, h);
    if (!r && o->n && !h->unplug) {
        LOG(o->lg, ERROR,
            "%s: domain %s says gpu_migration = \"refuse\": it may not lose "
            "its card; detach it yourself if the guest can do without",
            o->verb, o->name);
        r = -EPERM;
    }
    return r;
}

int xengpu_save(const xengpu_save_req *req, xentoollog_logger *lg)
{
    xengpu_stream_hdr h;
    struct op o;
    bool begun = false;
    int r;

    op_init(&o, req, lg, "save");
    xengpu_stream_hdr_init(&h);
    r = take_stock(&o, &h);
    if (!r) r = event(&o, XENGPU_EVENT_SAVE, XENGPU_PHASE_PRE, 0, NULL);
    if (r) goto out;
    begun = true;
    r = journal(&o, "unplug");
    if (!r) r = unplug_all(&o);
    if (!r) r = journal(&o, "saving");
    if (!r) r = write_file(&o, &h);
    if (r) {
        say(&o, "failed; putting the cards back");
        replug(&o);
        unreserve_all(&o);
        journal(&o, NULL);
        goto out;
    }
    /* Committed: the cards are free for others again. */
    unreserve_all(&o);
    journal(&o, NULL);
    say(&o, "domain %s saved; %zu card%s back in the pool", o.name, o.n,
        o.n == 1 ? "" : "s");
out:
    if (begun) event(&o, XENGPU_EVENT_SAVE, XENGPU_PHASE_POST, r, NULL);
    xengpu_stream_hdr_dispose(&h);
    op_dispose(&o);
    return r;
}

/* --- restore --------------------------------------------------------- */

/* Why host card C cannot stand in for the guest's card G; NULL if it can. */
static const char *unfit(struct op *o, const xengpu_stream_hdr *h,
                         const xengpu_stream_card *g, const xengpu_card *c,
                         char *why, size_t size)
{
    xengpu_card_desc d;
    char uuid[XENGPU_UUID_STRLEN];
    size_t i;

    for (i = 0; i < o->n; i++)
        if (o->cards[i] == c) return "already chosen";
    if (c->state == XENGPU_CARD_ASSIGNED) return "held by another domain";
    if (c->boot_vga) return "dom0's boot display";
    if (c->dead) return "fallen off the bus";
    if (!c->isolated && !o->req->force) return "not isolated";
    if (xengpu_reserved(&c->fns[0]->bdf, uuid, o->lg) == 1 &&
        strcmp(uuid, h->uuid))
        return "reserved for another domain";
    if (xengpu_card_desc_from_card(c, &d, why, size)) return why;
    if (xengpu_compat_check(&g->desc, &d, h->compat, why, size)) return why;
    return NULL;
}

/* A free card for each of the guest's, the same one first. */
static int choose(struct op *o, const xengpu_stream_hdr *h)
{
    char why[XENGPU_COMPAT_WHYLEN], lwhy[XENGPU_LAYOUT_WHYLEN];
    const xengpu_card *same, *c;
    const char *no;
    size_t i, j;

    for (i = 0; i < h->ncards; i++) {
        const xengpu_stream_card *g = &h->cards[i];
        same = xengpu_host_find_card(o->host, &g->bdf);
        c = same && !unfit(o, h, g, same, why, sizeof(why)) ? same : NULL;
        for (j = 0; !c && j < xengpu_host_ncards(o->host); j++) {
            const xengpu_card *k = xengpu_host_card(o->host, j);
            if (!unfit(o, h, g, k, why, sizeof(why))) c = k;
        }
        if (!c) {
            no = same ? unfit(o, h, g, same, why, sizeof(why)) : NULL;
            LOG(o->lg, ERROR,
                "%s: no free card on this host may replace the guest's "
                "%04x:%04x from %04x:%02x:%02x.%x (gpu_compat = \"%s\")%s%s; "
                "free one, or give the guest a wider gpu_compat",
                o->verb, g->desc.vendor, g->desc.device, g->bdf.domain,
                g->bdf.bus, g->bdf.dev, g->bdf.fn,
                xengpu_compat_name(h->compat),
                no ? "; the same address here: " : "", no ? no : "");
            return -ENODEV;
        }
        snprintf(o->bdfs[o->n], sizeof(o->bdfs[0]), "%s", c->fns[0]->name);
        snprintf(o->opts[o->n], sizeof(o->opts[0]), "%s", g->opts);
        o->cards[o->n++] = c;
    }
    if (h->hvm && o->n &&
        xengpu_layout_check(o->cards, o->n, h->mmio_hole, lwhy,
                            sizeof(lwhy))) {
        LOG(o->lg, ERROR, "%s: the guest's MMIO hole is too small: %s",
            o->verb, lwhy);
        return -ENOSPC;
    }
    return 0;
}

/* Prepare what is not, then see the host again. */
static int prepare_chosen(struct op *o)
{
    size_t i;
    int r;

    for (i = 0; i < o->n; i++) {
        if (o->cards[i]->state == XENGPU_CARD_PREPARED) continue;
        r = o->req->ops->prepare(o->req->ops->opaque, o->bdfs[i]);
        if (r) return r;
        o->prepared[i] = true;
    }
    r = discover(o);
    for (i = 0; !r && i < o->n; i++) {
        xengpu_bdf b;
        xengpu_bdf_parse(o->bdfs[i], 0, &b);
        o->cards[i] = xengpu_host_find_card(o->host, &b);
        if (!o->cards[i]) r = -ENODEV;
    }
    return r;
}

static void release_prepared(struct op *o)
{
    size_t i;

    for (i = 0; i < o->n; i++)
        if (o->prepared[i])
            o->req->ops->release(o->req->ops->opaque, o->bdfs[i]);
}

/* `xl restore FILE`: xl reads the file itself, up to libxl's end. */
static int run_restore(struct op *o)
{
    char *argv[] = { NULL, "restore", (char *)o->req->file, NULL };
    pid_t pid;
    int r;

    r = spawn_xl(argv, -1, &pid, o->lg);
    if (!r) r = wait_xl(pid);
    if (r) LOG(o->lg, ERROR, "restore: xl restore of %s failed", o->req->file);
    return r;
}

static int plug_all(struct op *o)
{
    size_t i;
    int r;

    for (i = 0; i < o->n; i++) {
        r = plug_card(o, i, o->cards[i]);
        if (r) return r;
        o->unplugged = i + 1; /* how many are in: for the undo */
        say(o, "card %s plugged", o->bdfs[i]);
        xengpu_guest_plugged(o->domid, o->bdfs[i], timeout_of(o), o->lg);
    }
    return 0;
}

static void record(struct op *o, const xengpu_stream_hdr *h)
{
    xengpu_bdf cards[MAX_CARDS];
    xengpu_request req = {
        o->name,   (const char *const *)h->specs, h->nspecs, cards, o->n,
        h->unplug, xengpu_compat_name(h->compat)
    };
    size_t i;

    for (i = 0; i < o->n; i++)
        cards[i] = o->cards[i]->fns[0]->bdf;
    xengpu_request_record(o->req->state_dir, &req, o->lg);
}

/* Destroy a half-restored domain: its cards go back to pciback. */
static void destroy(struct op *o)
{
    if (libxl_domain_destroy(xengpu__xl_ctx(o->xl), o->domid, NULL))
        LOG(o->lg, ERROR,
            "restore: could not destroy domain %u; run `xl "
            "destroy %u`",
            o->domid, o->domid);
}

int xengpu_restore(const xengpu_save_req *req, xentoollog_logger *lg)
{
    char why[256];
    xengpu_stream_hdr h;
    struct op o;
    bool begun = false, exists = false;
    size_t i;
    int fd, r, lock = -1;

    op_init(&o, req, lg, "restore");
    xengpu_stream_hdr_init(&h);
    fd = open(req->file, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        r = -errno;
        LOGE(o.lg, ERROR, errno, "restore: cannot open %s", req->file);
        goto out;
    }
    r = xengpu__trailer_read(fd, &h, why, sizeof(why));
    if (r) {
        LOG(o.lg, ERROR, "restore: %s: %s", req->file, why);
        goto out;
    }
    /* Parsed, so within the grammar: 36 and at most 64 characters. */
    snprintf(o.uuid, sizeof(o.uuid), "%.36s", h.uuid);
    snprintf(o.name, sizeof(o.name), "%.64s", h.name);
    o.domid = (uint32_t)-1;
    r = xengpu_xl_open(o.lg, false, &o.xl);
    if (!r) r = lock = xengpu__choose_lock(req->state_dir, o.lg);
    if (r > 0) r = 0;
    if (!r) r = discover(&o);
    if (!r) r = choose(&o, &h);
    if (!r) r = event(&o, XENGPU_EVENT_RESTORE, XENGPU_PHASE_PRE, 0, NULL);
    if (r) goto out;
    begun = true;
    for (i = 0; i < o.n && !r; i++)
        r = xengpu_reserve(&o.cards[i]->fns[0]->bdf, o.uuid,
                           time(NULL) + RESERVE_SECONDS, o.lg);
    xengpu__choose_unlock(lock); /* they are reserved */
    lock = -1;
    if (!r) r = journal(&o, "restoring");
    if (!r) r = prepare_chosen(&o);
    if (!r) r = run_restore(&o);
    if (!r) {
        exists = true;
        say(&o, "domain %s restored", o.name);
        r = xengpu_xl_domid(o.xl, o.name, &o.domid);
    }
    if (!r) r = journal(&o, "plugging");
    if (!r) r = plug_all(&o);
    if (r) {
        say(&o, "failed; undoing");
        if (exists && o.domid != (uint32_t)-1) destroy(&o);
        release_prepared(&o);
    } else {
        record(&o, &h);
        say(&o, "domain %s runs with %zu card%s", o.name, o.n,
            o.n == 1 ? "" : "s");
    }
    unreserve_all(&o);
    journal(&o, NULL);
out:
    xengpu__choose_unlock(lock);
    if (begun) event(&o, XENGPU_EVENT_RESTORE, XENGPU_PHASE_POST, r, NULL);
    if (fd >= 0) close(fd);
    xengpu_stream_hdr_dispose(&h);
    op_dispose(&o);
    return r;
}

/* --- migrate ---------------------------------------------------------- */

/*
 * The name xl (and a cold migration) gives the source's copy of guest
 * NAME just before the go, so that the destination's copy can take NAME.
 */
static void away_name(const char *name, char *buf, size_t size)
{
    snprintf(buf, size, "%s--migratedaway", name);
}

static void resume_if_suspended(struct op *o);

static int write_all(int fd, const char *p, size_t n)
{
    ssize_t w;

    while (n) {
        w = write(fd, p, n);
        if (w < 0 && errno == EINTR) continue;
        if (w <= 0) return -EIO;
        p += w, n -= (size_t)w;
    }
    return 0;
}

/*
 * xl's migration messages (tools/xl/xl_migrate.c, sent with their NUL):
 * the receiver says READY once the domain is rebuilt and paused, and
 * waits for the sender's go.  The receiving xengpu plugs the cards in
 * between, and withholds READY when it cannot.
 */
static const char xl_ready[] = "domain received, ready to unpause";

/* The length of the longest end of BUF[0..N) that begins xl_ready. */
static size_t partial_ready(const char *buf, size_t n)
{
    size_t k = n < sizeof(xl_ready) - 1 ? n : sizeof(xl_ready) - 1;

    for (; k; k--)
        if (!memcmp(buf + n - k, xl_ready, k)) return k;
    return 0;
}

/* A destination name that is safe to hand to a shell: no quoting. */
static bool host_ok(const char *h)
{
    size_t n = h ? strlen(h) : 0;

    return n && n <= 255 && h[0] != '-' &&
           strspn(h, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
                     "0123456789._:@%-[]") == n;
}

static bool uuid_ok(const char *u)
{
    size_t i;

    if (!u || strlen(u) != XENGPU_UUID_STRLEN - 1) return false;
    for (i = 0; u[i]; i++)
        if (i == 8 || i == 13 || i == 18 || i == 23
                ? u[i] != '-'
                : !strchr("0123456789abcdef", u[i]))
            return false;
    return true;
}

static void event_phase(struct op *o, xengpu_event_phase ph)
{
    event(o, XENGPU_EVENT_MIGRATE, ph, 0, NULL);
}

/* `sh -c RUNE` with its input and output on pipes; *to_r, *from_r ours. */
static int spawn_sh(struct op *o, const char *rune, int *to_r, int *from_r,
                    pid_t *pid_r)
{
    char *argv[] = { "sh", "-c", (char *)rune, NULL };
    posix_spawn_file_actions_t fa;
    int in[2], out[2], r;

    if (pipe2(in, O_CLOEXEC) < 0) return -errno;
    if (pipe2(out, O_CLOEXEC) < 0) {
        r = -errno;
        close(in[0]), close(in[1]);
        return r;
    }
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_adddup2(&fa, in[0], 0);
    posix_spawn_file_actions_adddup2(&fa, out[1], 1);
    fflush(NULL);
    r = posix_spawn(pid_r, "/bin/sh", &fa, NULL, argv, environ);
    posix_spawn_file_actions_destroy(&fa);
    close(in[0]), close(out[1]);
    if (r) {
        LOGE(o->lg, ERROR, r, "%s: cannot run /bin/sh", o->verb);
        close(in[1]), close(out[0]);
        return -r;
    }
    *to_r = in[1];
    *from_r = out[0];
    return 0;
}

static char *rune_for(struct op *o, const char *mode)
{
    return xengpu__xasprintf("exec %s %s xengpu migrate-receive %s %s",
                             o->req->transport ? o->req->transport : "ssh",
                             o->req->host, mode, o->uuid);
}

/*
 * Run migrate-receive MODE on the destination, H on its input when not
 * NULL; its one-line answer in REPLY.  0 when it answered "ok".
 */
static int remote(struct op *o, const char *mode, const xengpu_stream_hdr *h,
                  char *reply, size_t size)
{
    char *rune = rune_for(o, mode);
    size_t len = 0;
    ssize_t n;
    int to = -1, from = -1, r;
    pid_t pid;

    reply[0] = '\0';
    r = spawn_sh(o, rune, &to, &from, &pid);
    free(rune);
    if (r) return r;
    if (h) r = xengpu_stream_hdr_write(to, h, o->lg);
    close(to);
    while (len + 1 < size && (n = read(from, reply + len, size - 1 - len)))
        if (n > 0)
            len += (size_t)n;
        else if (errno != EINTR)
            break;
    reply[len] = '\0';
    reply[strcspn(reply, "\n")] = '\0';
    close(from);
    if (wait_xl(pid) && !r) r = -EIO;
    if (!r && strncmp(reply, "ok", 2)) r = -EPERM;
    return r;
}

static bool domain_exists(struct op *o)
{
    libxl_dominfo info;
    bool ok;

    libxl_dominfo_init(&info);
    ok = !libxl_domain_info(xengpu__xl_ctx(o->xl), &info, o->domid);
    libxl_dominfo_dispose(&info);
    return ok;
}

/*
 * Wait for xl migrate, watching our copy of the guest to time its pause
 * (xl does not report it): paused from when libxc suspends it for the
 * last round until xl renames it NAME--migratedaway to give the go (or
 * it is gone); the destination lets its copy run on that go.  Polled
 * every 50 ms.  0 when xl succeeded.
 */
static int wait_migrate(struct op *o, pid_t pid)
{
    libxl_ctx *ctx = xengpu__xl_ctx(o->xl);
    char away[96], *now;
    struct timespec t0;
    bool suspended = false;
    libxl_dominfo info;
    int status, r;
    pid_t w;

    away_name(o->name, away, sizeof(away));
    o->pause = -1;
    while ((w = waitpid(pid, &status, WNOHANG)) != pid) {
        if (w < 0 && errno != EINTR) return -errno;
        if (o->pause < 0) {
            libxl_dominfo_init(&info);
            r = libxl_domain_info(ctx, &info, o->domid);
            if (!suspended && !r && info.shutdown &&
                info.shutdown_reason == LIBXL_SHUTDOWN_REASON_SUSPEND) {
                suspended = true;
                clock_gettime(CLOCK_MONOTONIC, &t0);
            }
            libxl_dominfo_dispose(&info);
            now = suspended && !r ? libxl_domid_to_name(ctx, o->domid) : NULL;
            if (suspended && (r || (now && !strcmp(now, away))))
                o->pause = since(&t0);
            free(now);
        }
        usleep(50000);
    }
    return WIFEXITED(status) && !WEXITSTATUS(status) ? 0 : -EIO;
}

/* `xl migrate -s "" DOMID RUNE`: xl runs RUNE itself, through sh. */
static int run_migrate(struct op *o)
{
    char dom[16], *rune = rune_for(o, "incoming");
    char *argv[] = { NULL, "migrate", "-s", "", dom, rune, NULL };
    pid_t pid;
    int r;

    snprintf(dom, sizeof(dom), "%u", o->domid);
    r = spawn_xl(argv, -1, &pid, o->lg);
    if (!r) {
        o->xl_pid = pid;
        journal(o, "migrating");
        r = wait_migrate(o, pid);
        if (r)
            LOG(o->lg, ERROR, "migrate: xl migrate of domain %s to %s failed",
                o->name, o->req->host);
    }
    free(rune);
    return r;
}

/* xl's migration protocol (tools/xl/xl.h), around the stream. */
static const char xl_banner[] =
    "xl migration receiver ready, send binary domain data.\n";
static const char xl_go[] = "domain is yours, you are cleared to unpause";
static const char xl_report[] = "my copy unpause results are as follows";

/* Read exactly LEN bytes from FD: 0 when they are WANT. */
static int expect(int fd, const char *want, size_t len)
{
    char buf[128];
    size_t got = 0;
    ssize_t n;

    if (len > sizeof(buf)) return -EINVAL;
    while (got < len) {
        n = read(fd, buf + got, len - got);
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0) return -EIO;
        got += (size_t)n;
    }
    return memcmp(buf, want, len) ? -EPROTO : 0;
}

/*
 * After the go: did the destination's copy start?  0 yes, -EIO it says
 * no (and destroyed it), -EPROTO when it does not say.
 */
static int read_report(struct op *o, int from)
{
    char rc = 1;

    if (expect(from, xl_report, sizeof(xl_report)) || read(from, &rc, 1) != 1)
        return -EPROTO;
    if (rc)
        LOG(o->lg, ERROR, "migrate: %s could not start domain %s",
            o->req->host, o->name);
    return rc ? -EIO : 0;
}

/*
 * A PV guest moves cold: Debian's Xen cannot track a PV guest's dirty
 * memory (no shadow paging), so `xl migrate` fails for it.  xengpu
 * speaks the sender's side of xl's migration protocol itself around a
 * non-live `xl save -p`, whose output is byte for byte what xl migrate
 * sends (the xl header, then libxl's stream), so the destination runs
 * the same `migrate-receive incoming` as for a live migration (xl writes
 * into /proc/self/fd/3: a dom0 without udev has no /dev/fd).  Until
 * the go the guest stays here, paused; any failure before it unpauses
 * it.  After the go there is no way back.
 */
static int run_cold(struct op *o)
{
    char dom[16], away[96], *rune = rune_for(o, "incoming");
    char *argv[] = { NULL, "save", "-p", dom, "/proc/self/fd/3", NULL };
    libxl_ctx *ctx = xengpu__xl_ctx(o->xl);
    bool paused = false, renamed = false;
    struct timespec t_pause;
    int to = -1, from = -1, r;
    pid_t sh, pid;

    snprintf(dom, sizeof(dom), "%u", o->domid);
    away_name(o->name, away, sizeof(away));
    r = spawn_sh(o, rune, &to, &from, &sh);
    free(rune);
    if (r) return r;
    if ((r = expect(from, xl_banner, sizeof(xl_banner) - 1)))
        LOG(o->lg, ERROR, "migrate: %s did not start xl migrate-receive",
            o->req->host);
    clock_gettime(CLOCK_MONOTONIC, &t_pause); /* xl save suspends first */
    if (!r) r = spawn_xl3(argv, -1, to, &pid, o->lg);
    if (!r) {
        o->xl_pid = pid;
        journal(o, "migrating");
        r = wait_xl(pid);
        paused = !r;
        if (r)
            LOG(o->lg, ERROR, "migrate: xl save of domain %s failed", o->name);
    }
    if (!r && (r = expect(from, xl_ready, sizeof(xl_ready))))
        LOG(o->lg, ERROR,
            "migrate: %s did not take domain %s (its log says why)",
            o->req->host, o->name);
    /* Its copy takes the name: ours steps aside, as xl migrate's does.
     * From the "go" phase on, recover must not wake ours. */
    if (!r) r = journal(o, "go");
    if (!r) r = libxl_domain_rename(ctx, o->domid, o->name, away) ? -EIO : 0;
    renamed = !r;
    if (!r) r = write_all(to, xl_go, sizeof(xl_go));
    if (!r) r = read_report(o, from);
    if (!r) {
        o->pause = since(&t_pause);
        if (libxl_domain_destroy(ctx, o->domid, NULL))
            LOG(o->lg, ERROR,
                "migrate: could not destroy %s here; `xl "
                "destroy %s`",
                away, away);
    } else if (r == -EPROTO && renamed) {
        LOG(o->lg, ERROR,
            "migrate: %s did not say whether domain %s started there; it "
            "stays here, paused, as %s: if it runs on %s, `xl destroy %s`; "
            "if not, `xl rename %s %s` and `xl unpause %s`",
            o->req->host, o->name, away, o->req->host, away, away, o->name,
            o->name);
    } else {
        if (renamed && libxl_domain_rename(ctx, o->domid, away, o->name))
            LOG(o->lg, ERROR, "migrate: cannot rename %s back to %s", away,
                o->name);
        if (paused) libxl_domain_unpause(ctx, o->domid, NULL);
        if (r == -EPROTO) r = -EIO; /* before the go: a plain failure */
    }
    close(to);
    close(from);
    wait_xl(sh);
    return r;
}

int xengpu_migrate(const xengpu_save_req *req, xentoollog_logger *lg)
{
    char reply[512];
    struct timespec t_out;
    xengpu_stream_hdr h;
    struct op o;
    bool begun = false;
    void (*pipe_was)(int);
    int r;

    op_init(&o, req, lg, "migrate");
    xengpu_stream_hdr_init(&h);
    pipe_was = signal(SIGPIPE, SIG_IGN);
    if (!host_ok(req->host)) {
        LOG(o.lg, ERROR,
            "migrate: '%s' is not a host name (letters, digits and "
            "._:@%%-[] only)",
            req->host ? req->host : "");
        r = -EINVAL;
        goto out;
    }
    r = take_stock(&o, &h);
    if (!r) r = event(&o, XENGPU_EVENT_MIGRATE, XENGPU_PHASE_PRE, 0, NULL);
    if (r) goto out;
    begun = true;

    event_phase(&o, XENGPU_PHASE_PRECHECK);
    say(&o, "asking %s for a card for domain %s", req->host, o.name);
    r = remote(&o, "check", &h, reply, sizeof(reply));
    if (r) {
        LOG(o.lg, ERROR,
            "migrate: %s cannot take domain %s%s%s; nothing was changed here",
            req->host, o.name, reply[0] ? ": " : "", reply);
        goto out;
    }
    event_phase(&o, XENGPU_PHASE_RESERVE);
    say(&o, "%s reserved %s", req->host, reply[2] ? reply + 3 : "no card");

    event_phase(&o, XENGPU_PHASE_UNPLUG);
    clock_gettime(CLOCK_MONOTONIC, &t_out);
    r = journal(&o, "unplug");
    if (!r) r = unplug_all(&o);
    if (!r) {
        event_phase(&o, XENGPU_PHASE_TRANSFER);
        say(&o, "sending domain %s to %s%s", o.name, req->host,
            h.hvm ? "" : " (PV: cold, paused here until it runs there)");
        r = h.hvm ? run_migrate(&o) : run_cold(&o);
    }
    if (r == -EPROTO && !h.hvm) {
        /* No way to tell where it runs: keep everything as it is. */
        journal(&o, NULL);
        goto out;
    }
    if (r) {
        event_phase(&o, XENGPU_PHASE_ROLLBACK);
        if (domain_exists(&o)) {
            say(&o, "failed; domain %s stays here, putting its cards back",
                o.name);
            resume_if_suspended(&o);
            replug(&o);
        } else {
            LOG(o.lg, ERROR,
                "migrate: domain %s is gone from this host but %s did not "
                "confirm it; run `xengpu recover` here and there",
                o.name, req->host);
        }
        unreserve_all(&o);
        if (remote(&o, "cancel", NULL, reply, sizeof(reply)))
            LOG(o.lg, WARN,
                "migrate: %s did not confirm it dropped its reservation "
                "(%s); run `xengpu recover` there",
                req->host, reply);
        journal(&o, NULL);
        goto out;
    }
    /* xl destroyed the guest here: from now on there is no way back. */
    unreserve_all(&o);
    journal(&o, NULL);
    event_phase(&o, XENGPU_PHASE_PLUG);
    if (remote(&o, "finish", NULL, reply, sizeof(reply))) {
        LOG(o.lg, ERROR,
            "migrate: domain %s runs on %s, but without its card%s (%s); "
            "see the error above, then `xengpu attach` it there",
            o.name, req->host, o.n == 1 ? "" : "s",
            reply[0] ? reply : "no answer");
        r = -EIO;
        goto out;
    }
    event_phase(&o, XENGPU_PHASE_COMMIT);
    if (o.pause >= 0)
        snprintf(reply, sizeof(reply), " (paused for %.2fs of it)", o.pause);
    else
        reply[0] = '\0';
    say(&o,
        "domain %s runs on %s with its card%s; it was without one for "
        "%.1fs%s; %zu card%s back in this host's pool",
        o.name, req->host, o.n == 1 ? "" : "s", since(&t_out), reply, o.n,
        o.n == 1 ? "" : "s");
out:
    if (begun) event(&o, XENGPU_EVENT_MIGRATE, XENGPU_PHASE_POST, r, NULL);
    signal(SIGPIPE, pipe_was);
    xengpu_stream_hdr_dispose(&h);
    op_dispose(&o);
    return r;
}

/* --- migrate-receive ------------------------------------------------------ */

static void wait_gone(pid_t pid);

/* The domain xl migrate-receive builds: NAME--incoming. */
static int incoming_domid(struct op *o)
{
    char name[96];

    snprintf(name, sizeof(name), "%s--incoming", o->name);
    return libxl_name_to_domid(xengpu__xl_ctx(o->xl), name, &o->domid)
               ? -ENOENT
               : 0;
}

/*
 * Before xl lets the rebuilt domain run: are the reserved cards still
 * prepared and still ours?  (They are plugged in only once the guest
 * runs: the nested bed showed that an HVM guest given a card while xl
 * holds it paused never sees that card, and stops answering ACPI
 * hotplug at all.)
 */
static int preflight(struct op *o)
{
    char uuid[XENGPU_UUID_STRLEN];
    size_t i;
    int r = incoming_domid(o);

    if (r) {
        LOG(o->lg, ERROR, "%s: xl built no domain %s--incoming", o->verb,
            o->name);
        return r;
    }
    r = discover(o);
    for (i = 0; !r && i < o->n; i++) {
        xengpu_bdf b;
        const xengpu_card *c = xengpu_bdf_parse(o->bdfs[i], 0, &b)
                                   ? NULL
                                   : xengpu_host_find_card(o->host, &b);
        if (!c || c->state != XENGPU_CARD_PREPARED ||
            xengpu_reserved(&b, uuid, o->lg) != 1 || strcmp(uuid, o->uuid)) {
            LOG(o->lg, ERROR,
                "%s: card %s is no longer prepared and reserved for domain "
                "%s; the migration is refused, the guest stays on its host",
                o->verb, o->bdfs[i], o->name);
            r = -ENODEV;
        } else {
            o->cards[i] = c;
        }
    }
    return r;
}

/*
 * Relay between our standard input / output and `xl migrate-receive`,
 * plugging the cards in when xl says it is ready.  0 when xl succeeded.
 */
static int relay(struct op *o)
{
    char *argv[] = { NULL, "migrate-receive", NULL };
    char held[2 * sizeof(xl_ready) + 65536];
    size_t nheld = 0;
    bool plugged = false, failed = false;
    int from[2], r;
    pid_t pid;

    /*
     * Only xl's answers pass through xengpu: the stream itself (and the
     * sender's "go") goes straight from our standard input to xl's; a
     * copy through xengpu cost a fifth of the migration in the nested bed.
     */
    if (pipe2(from, O_CLOEXEC) < 0) return -errno;
    r = spawn_xl(argv, from[1], &pid, o->lg);
    close(from[1]);
    if (r) {
        close(from[0]);
        return r;
    }
    o->xl_pid = pid;
    journal(o, "receiving");
    event_phase(o, XENGPU_PHASE_TRANSFER);
    for (;;) {
        char *at;
        ssize_t n;

        n = read(from[0], held + nheld, sizeof(held) - nheld);
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0) break;
        nheld += (size_t)n;
        at = plugged ? NULL : memmem(held, nheld, xl_ready, sizeof(xl_ready));
        if (at) {
            event_phase(o, XENGPU_PHASE_RESTORE);
            if (write_all(1, held, (size_t)(at - held)) || preflight(o)) {
                failed = true;
                break;
            }
            nheld -= (size_t)(at - held);
            memmove(held, at, nheld);
            plugged = true;
            journal(o, "ready");
        }
        if (!plugged) {
            /* Keep back only what may be the start of READY. */
            size_t keep = partial_ready(held, nheld), out = nheld - keep;
            if (write_all(1, held, out)) break;
            memmove(held, held + out, keep);
            nheld = keep;
        } else {
            if (write_all(1, held, nheld)) break;
            nheld = 0;
        }
    }
    if (failed) {
        /* Withhold READY: the sender resumes its guest.  Our copy goes. */
        close(1);
        kill(pid, SIGTERM);
    }
    close(from[0]);
    r = wait_xl(pid);
    return failed ? -EIO : r;
}

static bool incoming_journal_exists(struct op *o)
{
    char name[96];
    bool yes;
    int sfd;

    if (xengpu_state_open(o->req->state_dir, o->lg, &sfd)) return false;
    op_file(o, "json", name, sizeof(name));
    yes = !faccessat(sfd, name, F_OK, 0);
    close(sfd);
    return yes;
}

/* Read STATE/ops/UUID.in.json back: the name and the reserved cards. */
static int load_incoming(struct op *o)
{
    const char *cpath[] = { "cards", NULL }, *npath[] = { "name", NULL };
    const char *ppath[] = { "xl_pid", NULL };
    char name[96], text[8192], err[128];
    yajl_val root, cards, nm, pid;
    ssize_t len = -1;
    int sfd, fd, r;
    size_t i;

    r = xengpu_state_open(o->req->state_dir, o->lg, &sfd);
    if (r) return r;
    op_file(o, "json", name, sizeof(name));
    fd = openat(sfd, name, O_RDONLY | O_CLOEXEC);
    if (fd >= 0) len = read(fd, text, sizeof(text) - 1);
    if (fd >= 0) close(fd);
    close(sfd);
    if (len < 0) {
        LOG(o->lg, ERROR,
            "%s: no migration of domain %s was checked here (run `xengpu "
            "migrate` from the source)",
            o->verb, o->uuid);
        return -ENOENT;
    }
    text[len] = '\0';
    root = yajl_tree_parse(text, err, sizeof(err));
    cards = root ? yajl_tree_get(root, cpath, yajl_t_array) : NULL;
    nm = root ? yajl_tree_get(root, npath, yajl_t_string) : NULL;
    if (!cards || !nm) {
        yajl_tree_free(root);
        LOG(o->lg, ERROR, "%s: damaged journal %s", o->verb, name);
        return -EINVAL;
    }
    snprintf(o->name, sizeof(o->name), "%s", YAJL_GET_STRING(nm));
    pid = yajl_tree_get(root, ppath, yajl_t_number);
    o->xl_pid = pid && YAJL_IS_INTEGER(pid) ? (pid_t)YAJL_GET_INTEGER(pid) : 0;
    o->n = 0;
    for (i = 0; i < YAJL_GET_ARRAY(cards)->len && i < MAX_CARDS; i++) {
        yajl_val c = YAJL_GET_ARRAY(cards)->values[i];
        xengpu_bdf b;

        if (!YAJL_IS_STRING(c) || xengpu_bdf_parse(YAJL_GET_STRING(c), 0, &b))
            continue;
        snprintf(o->bdfs[o->n], sizeof(o->bdfs[0]), "%s", YAJL_GET_STRING(c));
        journal_opts(root, i, o->opts[o->n]);
        o->cards[o->n] = xengpu_host_find_card(o->host, &b);
        if (o->cards[o->n]) o->n++;
    }
    yajl_tree_free(root);
    return 0;
}

/* STATE/ops/UUID.in.hdr, kept by the check. */
static int load_header(struct op *o, xengpu_stream_hdr *h)
{
    char name[96], why[XENGPU_STREAM_WHYLEN], *buf;
    struct stat st;
    int sfd, fd, r;

    r = xengpu_state_open(o->req->state_dir, o->lg, &sfd);
    if (r) return r;
    op_file(o, "hdr", name, sizeof(name));
    fd = openat(sfd, name, O_RDONLY | O_CLOEXEC);
    close(sfd);
    if (fd < 0 || fstat(fd, &st) < 0 || st.st_size > XENGPU_STREAM_MAX_JSON) {
        if (fd >= 0) close(fd);
        LOG(o->lg, ERROR, "%s: the header of domain %s is gone", o->verb,
            o->uuid);
        return -ENOENT;
    }
    buf = xengpu__xmalloc((size_t)st.st_size + 1);
    if (read(fd, buf, (size_t)st.st_size) != st.st_size)
        r = -EIO;
    else
        r = xengpu_stream_hdr_parse(buf, (size_t)st.st_size, h, why,
                                    sizeof(why));
    if (r) LOG(o->lg, ERROR, "%s: %s: bad header", o->verb, name);
    free(buf);
    close(fd);
    return r;
}

static int receive_check(struct op *o)
{
    char why[XENGPU_STREAM_WHYLEN];
    xengpu_stream_hdr h;
    size_t i;
    int r, lock = -1;

    xengpu_stream_hdr_init(&h);
    r = xengpu_stream_hdr_read(0, &h, why, sizeof(why), o->lg);
    if (r)
        LOG(o->lg, ERROR, "%s: the source sent a bad header: %s", o->verb,
            why);
    if (!r && strcmp(h.uuid, o->uuid)) {
        LOG(o->lg, ERROR, "%s: the header is for domain %s, not %s", o->verb,
            h.uuid, o->uuid);
        r = -EINVAL;
    }
    if (!r) {
        snprintf(o->name, sizeof(o->name), "%.64s", h.name);
        r = lock = xengpu__choose_lock(o->req->state_dir, o->lg);
        if (r > 0) r = 0;
    }
    if (!r) r = discover(o); /* again, under the lock */
    if (!r) r = choose(o, &h);
    if (!r) r = event(o, XENGPU_EVENT_MIGRATE, XENGPU_PHASE_PRE, 0, NULL);
    for (i = 0; i < o->n && !r; i++)
        r = xengpu_reserve(&o->cards[i]->fns[0]->bdf, o->uuid,
                           time(NULL) + RESERVE_SECONDS, o->lg);
    xengpu__choose_unlock(lock); /* they are reserved */
    if (!r) r = journal(o, "reserved");
    if (!r) r = keep_header(o, &h);
    if (!r) r = prepare_chosen(o);
    if (r) {
        release_prepared(o);
        unreserve_all(o);
        journal(o, NULL);
        printf("refused\n");
    } else {
        printf("ok");
        for (i = 0; i < o->n; i++)
            printf(" %s", o->bdfs[i]);
        printf("\n");
    }
    fflush(stdout);
    xengpu_stream_hdr_dispose(&h);
    return r;
}

/*
 * The guest runs here: plug the reserved cards in (waiting up to a
 * minute for xl to have renamed the domain and let it run), tell its
 * agent, record its request, drop the reservation.
 */
static int receive_finish(struct op *o)
{
    xengpu_stream_hdr h;
    libxl_dominfo info;
    int r, i;

    xengpu_stream_hdr_init(&h);
    r = discover(o);
    if (!r) r = load_incoming(o);
    if (!r) r = load_header(o, &h);
    for (i = 0; !r && i < 600; i++) {
        bool running = false;

        if (!libxl_name_to_domid(xengpu__xl_ctx(o->xl), o->name, &o->domid)) {
            libxl_dominfo_init(&info);
            running =
                !libxl_domain_info(xengpu__xl_ctx(o->xl), &info, o->domid) &&
                !info.paused;
            libxl_dominfo_dispose(&info);
        }
        if (running) break;
        usleep(100000);
    }
    if (!r && i == 600) {
        LOG(o->lg, ERROR, "%s: domain %s does not run here", o->verb, o->name);
        r = -ENOENT;
    }
    if (!r) {
        event_phase(o, XENGPU_PHASE_PLUG);
        r = plug_all(o);
        if (r)
            LOG(o->lg, ERROR,
                "%s: domain %s runs here without its card%s; give it one: "
                "`xengpu attach %s CARD`",
                o->verb, o->name, o->n == 1 ? "" : "s", o->name);
        else
            record(o, &h);
        event_phase(o, XENGPU_PHASE_COMMIT);
    }
    if (o->n) {
        unreserve_all(o);
        journal(o, NULL);
    }
    xengpu_stream_hdr_dispose(&h);
    return r;
}

int xengpu_migrate_receive(const xengpu_save_req *req, const char *mode,
                           xentoollog_logger *lg)
{
    struct op o;
    int r;

    op_init(&o, req, lg, "migrate-receive");
    o.incoming = true;
    o.domid = (uint32_t)-1;
    if (!uuid_ok(req->uuid)) {
        LOG(o.lg, ERROR, "migrate-receive: '%s' is not a domain UUID",
            req->uuid ? req->uuid : "");
        r = -EINVAL;
        goto out;
    }
    snprintf(o.uuid, sizeof(o.uuid), "%s", req->uuid);
    r = xengpu_xl_open(o.lg, false, &o.xl);
    if (!r && strcmp(mode, "finish")) r = discover(&o); /* finish: later */
    if (r) goto out;
    if (!strcmp(mode, "check")) {
        r = receive_check(&o);
    } else if (!strcmp(mode, "incoming")) {
        r = load_incoming(&o);
        if (!r) r = relay(&o);
        if (r) {
            event_phase(&o, XENGPU_PHASE_ROLLBACK);
            if (!incoming_domid(&o)) destroy(&o);
            unreserve_all(&o);
            journal(&o, NULL);
        } else {
            /* It runs here; `finish` from the source plugs the cards. */
            journal(&o, "running");
        }
        event(&o, XENGPU_EVENT_MIGRATE, XENGPU_PHASE_POST, r, NULL);
    } else if (!strcmp(mode, "finish")) {
        r = lock_now(&o);
        if (!r && !incoming_journal_exists(&o)) {
            /* Nothing left: `recover` here already finished it. */
            LOG(o.lg, NOTICE, "migrate-receive: nothing to finish for %s",
                o.uuid);
            journal(&o, NULL); /* drops the lock */
        } else if (!r)
            r = receive_finish(&o);
        printf(r ? "failed\n" : "ok\n");
        fflush(stdout);
    } else if (!strcmp(mode, "cancel")) {
        /* Nothing left to cancel when the incoming side undid itself. */
        if (incoming_journal_exists(&o) && !lock_now(&o) &&
            !load_incoming(&o)) {
            /* The receiving side died before undoing itself: its xl
             * may still be finishing; then no half-made copy stays. */
            wait_gone(o.xl_pid);
            if (!incoming_domid(&o)) destroy(&o);
            unreserve_all(&o);
            journal(&o, NULL);
        }
        printf("ok\n");
        fflush(stdout);
    } else {
        LOG(o.lg, ERROR,
            "migrate-receive: no mode '%s' (check, incoming, finish, "
            "cancel)",
            mode);
        r = -EINVAL;
    }
out:
    op_dispose(&o);
    return r;
}

/* --- recover ---------------------------------------------------------- */

static const char *jstr(yajl_val root, const char *key)
{
    const char *path[] = { key, NULL };
    yajl_val v = yajl_tree_get(root, path, yajl_t_string);

    return v ? YAJL_GET_STRING(v) : NULL;
}

static void resume_if_suspended(struct op *o)
{
    libxl_ctx *ctx = xengpu__xl_ctx(o->xl);
    libxl_dominfo info;

    libxl_dominfo_init(&info);
    if (!libxl_domain_info(ctx, &info, o->domid) && info.shutdown &&
        info.shutdown_reason == LIBXL_SHUTDOWN_REASON_SUSPEND) {
        if (libxl_domain_resume(ctx, o->domid, 1, NULL))
            LOG(o->lg, ERROR, "recover: could not resume domain %s", o->name);
        else
            LOG(o->lg, NOTICE,
                "recover: resumed domain %s, which an "
                "interrupted save had suspended",
                o->name);
    }
    libxl_dominfo_dispose(&info);
}

/* A cold migration killed before its go left the guest paused here. */
static void unpause_if_paused(struct op *o)
{
    libxl_ctx *ctx = xengpu__xl_ctx(o->xl);
    libxl_dominfo info;

    libxl_dominfo_init(&info);
    if (!libxl_domain_info(ctx, &info, o->domid) && info.paused &&
        !libxl_domain_unpause(ctx, o->domid, NULL))
        LOG(o->lg, NOTICE, "recover: domain %s runs here again", o->name);
    libxl_dominfo_dispose(&info);
}

/* Wait (up to 10 minutes) for an xl save the killed xengpu left running. */
static void wait_gone(pid_t pid)
{
    int i;

    for (i = 0; pid > 0 && i < 6000 && !kill(pid, 0); i++)
        usleep(100000);
}

/*
 * xl finished a save whose xengpu was killed: append the kept header
 * (ops/UUID.hdr) as the trailer, and FILE.tmp becomes FILE.
 */
static bool finish_save(struct op *o, int sfd, const char *file)
{
    char name[96], foot[FOOTER_LEN], *tmp, buf[65536];
    bool done = false;
    int hfd, fd = -1;
    uint64_t len = 0, l;
    ssize_t n;
    size_t i;

    op_file(o, "hdr", name, sizeof(name));
    hfd = openat(sfd, name, O_RDONLY | O_CLOEXEC);
    tmp = xengpu__xasprintf("%s.tmp", file);
    if (hfd >= 0) fd = open(tmp, O_WRONLY | O_APPEND | O_CLOEXEC);
    if (fd >= 0) {
        while ((n = read(hfd, buf, sizeof(buf))) > 0 &&
               write(fd, buf, (size_t)n) == n)
            len += (uint64_t)n;
        for (i = 0, l = len; i < 8; i++, l >>= 8)
            foot[i] = (char)(l & 0xff);
        memcpy(foot + 8, TRAILER_MAGIC, 8);
        done = n == 0 && len && write(fd, foot, FOOTER_LEN) == FOOTER_LEN &&
               !fsync(fd) && !rename(tmp, file);
        close(fd);
    }
    if (hfd >= 0) close(hfd);
    if (done)
        LOG(o->lg, NOTICE, "recover: finished the save of domain %s into %s",
            o->name, file);
    free(tmp);
    return done;
}

/*
 * A migration's source recovered: the destination (host and transport
 * from the journal ROOT) drops its reservation and half-received copy
 * ("cancel": the guest is back here) or plugs the guest's cards
 * ("finish": the guest left).  Both are harmless when the destination
 * has nothing left to do.
 */
static int tell_destination(struct op *o, yajl_val root, const char *mode)
{
    const xengpu_save_req *was = o->req;
    xengpu_save_req req = *o->req;
    char reply[512];
    int r;

    req.host = jstr(root, "host");
    req.transport = jstr(root, "transport");
    if (!req.host || !host_ok(req.host)) return -ENOENT;
    if (req.transport && !*req.transport) req.transport = NULL;
    o->req = &req;
    r = remote(o, mode, NULL, reply, sizeof(reply));
    if (r)
        LOG(o->lg, WARN,
            "recover: %s did not confirm the %s of the migration of "
            "domain %s (%s); run `xengpu recover` there",
            req.host, mode, o->name, reply[0] ? reply : "no answer");
    else
        LOG(o->lg, NOTICE, "recover: %s confirmed the %s of domain %s",
            req.host, mode, o->name);
    o->req = was;
    return r;
}

/*
 * Our copy of a migrating guest stepped aside (xl, and xengpu for a cold
 * migration, rename it NAME--migratedaway just before the go): the
 * destination may run the guest.  Never wake it; ask the destination
 * to finish: if the guest runs there, our copy is a leftover.
 */
static bool stepped_aside(struct op *o, const char *name)
{
    char *now = libxl_domid_to_name(xengpu__xl_ctx(o->xl), o->domid);
    char away[96];
    bool yes;

    away_name(name, away, sizeof(away));
    yes = now && !strcmp(now, away);
    free(now);
    return yes;
}

static void settle_stepped_aside(struct op *o, yajl_val root, const char *name)
{
    if (!tell_destination(o, root, "finish")) {
        destroy(o);
        LOG(o->lg, NOTICE,
            "recover: domain %s runs at its destination; destroyed its "
            "leftover copy %s--migratedaway here",
            name, name);
        return;
    }
    LOG(o->lg, ERROR,
        "recover: domain %s (id %u) was handed to its destination, which "
        "may run it: check there; if it runs there, `xl destroy %u` here; "
        "if not, `xl rename %u %s`, `xl unpause %s` and give it its "
        "cards",
        name, o->domid, o->domid, o->domid, name, name);
}

#define AWAIT_SECONDS 600

/*
 * An incoming migration that was checked and reserved here is waiting
 * for its source to unplug the guest and send it: no process of ours
 * holds it meanwhile.  Recover leaves it alone for AWAIT_SECONDS after
 * its journal was written.
 */
static bool awaits_stream(struct op *o, int sfd)
{
    char name[96];
    struct stat st;
    time_t left;

    op_file(o, "json", name, sizeof(name));
    if (fstatat(sfd, name, &st, 0) < 0) return false;
    left = st.st_mtime + AWAIT_SECONDS - time(NULL);
    if (left <= 0) return false;
    LOG(o->lg, WARN,
        "recover: the incoming migration %s waits for its source for "
        "%lds more; left alone (`xengpu migrate-receive cancel %s` drops "
        "it now)",
        o->uuid, (long)left, o->uuid);
    return true;
}

/*
 * Undo one interrupted operation whose journal is TEXT.  1 when done
 * (the journal goes), -1 when it is left alone for now (it stays).
 */
static int recover_one(struct op *o, int sfd, const char *text)
{
    const char *path[] = { "cards", NULL }, *dpath[] = { "domid", NULL };
    const char *ppath[] = { "xl_pid", NULL };
    yajl_val xlpid;
    char err[128], *tmp;
    const char *op, *phase, *name, *file;
    yajl_val root = yajl_tree_parse(text, err, sizeof(err)), cards, dom;
    size_t i;
    bool alive;

    op = root ? jstr(root, "op") : NULL;
    phase = root ? jstr(root, "phase") : NULL;
    name = root ? jstr(root, "name") : NULL;
    file = root ? jstr(root, "file") : NULL;
    cards = root ? yajl_tree_get(root, path, yajl_t_array) : NULL;
    dom = root ? yajl_tree_get(root, dpath, yajl_t_number) : NULL;
    xlpid = root ? yajl_tree_get(root, ppath, yajl_t_number) : NULL;
    if (!op || !phase || !name || !file || !cards || !dom) {
        LOG(o->lg, ERROR, "recover: a damaged journal of domain %s; removed",
            o->uuid);
        yajl_tree_free(root);
        return 0;
    }
    snprintf(o->name, sizeof(o->name), "%s", name);
    for (i = 0; i < YAJL_GET_ARRAY(cards)->len && i < MAX_CARDS; i++) {
        yajl_val c = YAJL_GET_ARRAY(cards)->values[i];
        snprintf(o->bdfs[i], sizeof(o->bdfs[0]), "%s",
                 YAJL_IS_STRING(c) ? YAJL_GET_STRING(c) : "");
        journal_opts(root, i, o->opts[i]);
    }
    o->n = i;
    if (!strcmp(op, "migrate-receive") && !strcmp(phase, "reserved") &&
        awaits_stream(o, sfd)) {
        yajl_tree_free(root);
        return -1;
    }
    if ((!strcmp(op, "save") || !strcmp(op, "migrate") ||
         !strcmp(op, "migrate-receive")) &&
        xlpid && YAJL_IS_INTEGER(xlpid))
        wait_gone((pid_t)YAJL_GET_INTEGER(xlpid));
    alive = name[0] && !xengpu_xl_domid(o->xl, name, &o->domid);
    if (!strcmp(op, "migrate")) {
        /* By id: the migrated copy may run here under the same name. */
        o->domid = (uint32_t)YAJL_GET_INTEGER(dom);
        alive = YAJL_IS_INTEGER(dom) && domain_exists(o);
    }
    if (!strcmp(op, "migrate-receive")) {
        /* xl's copy not yet let run is half-made; a running one is done. */
        snprintf(o->name, sizeof(o->name), "%s", name);
        if (!strcmp(phase, "running") && alive) {
            if (!receive_finish(o))
                LOG(o->lg, NOTICE,
                    "recover: domain %s, migrated here, has its card%s", name,
                    o->n == 1 ? "" : "s");
        } else if (!incoming_domid(o)) {
            destroy(o);
            LOG(o->lg, NOTICE,
                "recover: destroyed the half-received domain %s--incoming; "
                "the source keeps the guest",
                name);
        }
    } else if (!strcmp(op, "migrate") && alive &&
               (!strcmp(phase, "go") || stepped_aside(o, name))) {
        settle_stepped_aside(o, root, name);
    } else if (!strcmp(op, "migrate") && !alive) {
        LOG(o->lg, NOTICE,
            "recover: domain %s left this host during its migration; its "
            "cards are back in the pool",
            name);
        (void)tell_destination(o, root, "finish");
    } else if ((!strcmp(op, "save") || !strcmp(op, "migrate")) && alive) {
        /* The guest still exists: wake it if a save left it suspended
         * (or a cold migration paused), and give back what was unplugged. */
        resume_if_suspended(o);
        if (!strcmp(op, "migrate")) {
            unpause_if_paused(o);
            logdirty_off(o);
        }
        discover(o);
        for (i = 0; i < o->n; i++) {
            xengpu_bdf b;
            const xengpu_card *c = xengpu_bdf_parse(o->bdfs[i], 0, &b)
                                       ? NULL
                                       : xengpu_host_find_card(o->host, &b);
            /* Killed while libxl removed it: libxl still lists what QEMU
             * may have dropped (nested bed: the next unplug failed with
             * "Device 'pci-pt-02_00.1' not found").  Finish the remove,
             * forced, and plug the card in whole again. */
            if (c && c->state == XENGPU_CARD_ASSIGNED &&
                !strcmp(phase, "unplug") &&
                !xengpu_xl_detach(o->xl, o->domid, c, timeout_of(o), true)) {
                discover(o);
                c = xengpu_host_find_card(o->host, &b);
            }
            if (c && c->state == XENGPU_CARD_PREPARED && !plug_card(o, i, c))
                LOG(o->lg, NOTICE, "recover: card %s back in domain %s",
                    o->bdfs[i], name);
        }
        tmp = xengpu__xasprintf("%s.tmp", file);
        unlink(tmp);
        free(tmp);
        if (!strcmp(op, "migrate")) (void)tell_destination(o, root, "cancel");
    } else if (!strcmp(op, "restore") && alive) {
        /* Half restored: nothing half-made stays; the file is intact. */
        destroy(o);
        LOG(o->lg, NOTICE,
            "recover: destroyed the half-restored domain %s; restore %s "
            "again",
            name, file);
    } else if (!strcmp(op, "save") && !finish_save(o, sfd, file)) {
        LOG(o->lg, WARN,
            "recover: domain %s is gone; if %s.tmp exists it may hold a "
            "complete xl save: check it before removing it",
            name, file);
    }
    unreserve_all(o);
    yajl_tree_free(root);
    return 1;
}

/*
 * NAME in ops/ is a lock left without its journal (a process killed
 * between taking the lock and writing the journal): remove it unless
 * someone holds it.  True when NAME is a lock, stale or not.
 */
static bool stale_lock(int sfd, const char *name)
{
    char json[300];
    size_t l = strlen(name);
    int fd;

    if (l < 5 || l > 200 || strcmp(name + l - 5, ".lock")) return false;
    snprintf(json, sizeof(json), "ops/%.*s.json", (int)(l - 5), name);
    if (faccessat(sfd, json, F_OK, 0) == 0) return true;
    snprintf(json, sizeof(json), "ops/%s", name);
    fd = openat(sfd, json, O_RDWR | O_CLOEXEC);
    if (fd >= 0 && flock(fd, LOCK_EX | LOCK_NB) == 0) unlinkat(sfd, json, 0);
    if (fd >= 0) close(fd);
    return true;
}

int xengpu_save_recover(const char *state_dir, xentoollog_logger *lg)
{
    xengpu_save_req req = { .state_dir = state_dir, .file = "" };
    char name[300], text[8192];
    struct dirent *de;
    struct op o;
    int sfd, dfd, fd, n = 0, one, r;
    ssize_t len;
    DIR *d;

    op_init(&o, &req, lg, "recover");
    r = xengpu_state_open(state_dir, o.lg, &sfd);
    if (r) goto out;
    dfd = openat(sfd, "ops", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    d = dfd < 0 ? NULL : fdopendir(dfd);
    if (!d) {
        if (dfd >= 0) close(dfd);
        close(sfd);
        goto out;
    }
    r = xengpu_xl_open(o.lg, false, &o.xl);
    while (!r && (de = readdir(d))) {
        size_t l = strlen(de->d_name);
        if (stale_lock(sfd, de->d_name)) continue;
        if ((l != XENGPU_UUID_STRLEN - 1 + 5 &&
             l != XENGPU_UUID_STRLEN - 1 + 8) ||
            strcmp(de->d_name + l - 5, ".json"))
            continue;
        o.incoming = l == XENGPU_UUID_STRLEN - 1 + 8;
        if (o.incoming && strcmp(de->d_name + 36, ".in.json")) continue;
        snprintf(o.uuid, sizeof(o.uuid), "%.36s", de->d_name);
        if (op_lock(&o, sfd, XTL_WARN)) continue; /* still running */
        snprintf(name, sizeof(name), "ops/%s", de->d_name);
        fd = openat(sfd, name, O_RDONLY | O_CLOEXEC);
        len = fd < 0 ? -1 : read(fd, text, sizeof(text) - 1);
        if (fd >= 0) close(fd);
        if (len < 0) {
            op_unlock(&o, sfd); /* it finished meanwhile */
            continue;
        }
        text[len] = '\0';
        if ((one = recover_one(&o, sfd, text)) < 0) {
            op_unlock(&o, sfd);
            continue;
        }
        n += one;
        unlinkat(sfd, name, 0);
        snprintf(name, sizeof(name), "ops/%.36s%s.hdr", de->d_name,
                 o.incoming ? ".in" : "");
        unlinkat(sfd, name, 0);
        op_unlock(&o, sfd);
    }
    closedir(d);
    close(sfd);
out:
    op_dispose(&o);
    return r ? r : n;
}
