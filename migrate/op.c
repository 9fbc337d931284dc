/*
 * op.c - what save, restore, migration and recover share: the operation
 * (struct op), its journal and lock, running xl, the guest's cards and
 * their unplug and replug, choosing a host's cards for a guest.
 *
 * The order of things is the point of these files: nothing the guest
 * holds is let go before everything that can be checked has been, and
 * every step after that has its undo, run on any failure and by
 * xengpu_save_recover() after a crash.
 */
#include <spawn.h>
#include <stdlib.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <sys/utsname.h>
#include <xenctrl.h>
#include <xenstore.h>

#include "migrate/op.h"
#include "pciback-helper/libxl-compat.h"
#include "pciback-helper/state.h"
#include "pciback-helper/util.h"
#include "toolstack/create.h"
#include "toolstack/layout.h"
#include "toolstack/record.h"
#include "toolstack/xstore.h"
#include "xenstore-schema/schema.h"

extern char **environ;

double xengpu__op_since(const struct timespec *t0)
{
    struct timespec t;

    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)(t.tv_sec - t0->tv_sec) +
           (double)(t.tv_nsec - t0->tv_nsec) / 1e9;
}

void xengpu__op_say(struct op *o, const char *fmt, ...)
{
    va_list ap;

    if (!o->req->out) return;
    fprintf(o->req->out, "%s: [%5.1fs] ", o->verb, xengpu__op_since(&o->t0));
    va_start(ap, fmt);
    vfprintf(o->req->out, fmt, ap);
    va_end(ap);
    fputc('\n', o->req->out);
    fflush(o->req->out);
}

int xengpu__op_timeout_of(const struct op *o)
{
    return o->req->timeout > 0 ? o->req->timeout : 10;
}

/* --- events ------------------------------------------------------------- */

int xengpu__op_event(struct op *o, xengpu_event_kind kind,
                     xengpu_event_phase ph, int rc, const char *error)
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

/* The operation's EXT file, relative to STATE: ops/UUID[.in].EXT. */
void xengpu__op_file(const struct op *o, const char *ext, char *buf,
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
int xengpu__op_lock(struct op *o, int sfd, xentoollog_level busy_level)
{
    char name[96], pid[16] = "";
    int fd, n;

    if (o->lock_fd >= 0) return 0;
    if (mkdirat(sfd, "ops", 0700) < 0 && errno != EEXIST) return -errno;
    xengpu__op_file(o, "lock", name, sizeof(name));
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

void xengpu__op_unlock(struct op *o, int sfd)
{
    char name[96];

    if (o->lock_fd < 0) return;
    xengpu__op_file(o, "lock", name, sizeof(name));
    unlinkat(sfd, name, 0);
    close(o->lock_fd);
    o->lock_fd = -1;
}

/* Take the operation's lock before touching a journal another wrote. */
int xengpu__op_lock_now(struct op *o)
{
    int sfd, r = xengpu_state_open(o->req->state_dir, o->lg, &sfd);

    if (r) return r;
    r = xengpu__op_lock(o, sfd, XTL_ERROR);
    close(sfd);
    return r;
}

/*
 * STATE/ops/UUID.json: {"op","phase","domid","name","file","cards",
 * "opts"} ("opts": each card's per-device options, "" for none).
 */
int xengpu__op_journal(struct op *o, const char *phase)
{
    char name[96], tmp[104];
    const unsigned char *buf;
    int sfd = -1, fd = -1, r;
    yajl_gen g;
    size_t len, i;

    r = xengpu_state_open(o->req->state_dir, o->lg, &sfd);
    if (r) return r;
    if (mkdirat(sfd, "ops", 0700) < 0 && errno != EEXIST) goto fail;
    xengpu__op_file(o, "json", name, sizeof(name));
    if (!phase) {
        if (unlinkat(sfd, name, 0) < 0 && errno != ENOENT) goto fail;
        xengpu__op_file(o, "hdr", name, sizeof(name));
        unlinkat(sfd, name, 0);
        xengpu__op_unlock(o, sfd);
        close(sfd);
        return 0;
    }
    if ((r = xengpu__op_lock(o, sfd, XTL_ERROR))) {
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
int xengpu__op_spawn_xl3(char **argv, int out, int fd3, pid_t *pid_r,
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

int xengpu__op_spawn_xl(char **argv, int out, pid_t *pid_r,
                        xentoollog_logger *lg)
{
    return xengpu__op_spawn_xl3(argv, out, -1, pid_r, lg);
}

int xengpu__op_wait_xl(pid_t pid)
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

int xengpu__op_discover(struct op *o)
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
int xengpu__op_plug_card(struct op *o, size_t i, const xengpu_card *c)
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
void xengpu__op_journal_opts(yajl_val root, size_t i, char *out)
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

/* --- the guest's cards out and back in ------------------------------------ */

/*
 * A live migration that broke mid-stream can leave the guest in
 * log-dirty mode (nested bed: the destination died, libxl's save helper
 * with it, before libxc's cleanup turned it off), and Xen then refuses
 * to assign it a device (EXDEV, "Invalid cross-device link").  Turn it
 * off before giving the cards back; harmless when it is off.  HVM only:
 * Debian's Xen has no shadow paging, so no PV log-dirty to undo.
 */
void xengpu__op_logdirty_off(struct op *o)
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
void xengpu__op_replug(struct op *o)
{
    size_t i;
    int r;

    if (o->unplugged) {
        xengpu__op_discover(o); /* their state is "prepared" again */
        xengpu__op_logdirty_off(o);
    }
    for (i = 0; i < o->unplugged; i++) {
        xengpu_bdf b = o->cards[i]->fns[0]->bdf;
        const xengpu_card *c = xengpu_host_find_card(o->host, &b);
        r = c ? xengpu__op_plug_card(o, i, c) : -ENODEV;
        if (r)
            LOG(o->lg, ERROR,
                "%s: could not give card %s back to domain %s; run `xengpu "
                "attach %s %s`",
                o->verb, o->bdfs[i], o->name, o->name, o->bdfs[i]);
        else
            xengpu_guest_plugged(o->domid, o->bdfs[i],
                                 xengpu__op_timeout_of(o), o->lg);
    }
    o->unplugged = 0;
}

void xengpu__op_unreserve_all(struct op *o)
{
    size_t i;
    xengpu_bdf b;

    for (i = 0; i < o->n; i++)
        if (!xengpu_bdf_parse(o->bdfs[i], 0, &b)) xengpu_unreserve(&b, o->lg);
}

/* Reserve, ask the agent, unplug: each card, in order. */
int xengpu__op_unplug_all(struct op *o)
{
    size_t i;
    int r;

    for (i = 0; i < o->n; i++) {
        const xengpu_card *c = o->cards[i];
        r = xengpu_reserve(&c->fns[0]->bdf, o->uuid,
                           time(NULL) + RESERVE_SECONDS, o->lg);
        if (!r)
            r = xengpu_guest_release(o->domid, o->bdfs[i],
                                     xengpu__op_timeout_of(o), o->req->force,
                                     o->lg);
        if (!r)
            r = xengpu_xl_detach(o->xl, o->domid, c, xengpu__op_timeout_of(o),
                                 o->req->force);
        if (r) return r;
        o->unplugged++;
        xengpu__op_say(o, "card %s unplugged", o->bdfs[i]);
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

/* STATE/ops/UUID.hdr: the trailer to be, so recover can finish the save. */
int xengpu__op_keep_header(struct op *o, const xengpu_stream_hdr *h)
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
        xengpu__op_file(o, "hdr", name, sizeof(name));
        fd = openat(sfd, name, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
        if (fd < 0 || write(fd, buf, len) != (ssize_t)len || fsync(fd) < 0)
            r = -errno ? -errno : -EIO;
        if (fd >= 0) close(fd);
        close(sfd);
    }
    free(buf);
    return r;
}

void xengpu__op_init(struct op *o, const xengpu_save_req *req,
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

void xengpu__op_dispose(struct op *o)
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
int xengpu__op_take_stock(struct op *o, xengpu_stream_hdr *h)
{
    int r = open_domain(o);

    if (!r) r = xengpu__op_discover(o);
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

/* --- this host's cards for a guest from elsewhere -------------------------- */

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
int xengpu__op_choose(struct op *o, const xengpu_stream_hdr *h)
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
int xengpu__op_prepare_chosen(struct op *o)
{
    size_t i;
    int r;

    for (i = 0; i < o->n; i++) {
        if (o->cards[i]->state == XENGPU_CARD_PREPARED) continue;
        r = o->req->ops->prepare(o->req->ops->opaque, o->bdfs[i]);
        if (r) return r;
        o->prepared[i] = true;
    }
    r = xengpu__op_discover(o);
    for (i = 0; !r && i < o->n; i++) {
        xengpu_bdf b;
        xengpu_bdf_parse(o->bdfs[i], 0, &b);
        o->cards[i] = xengpu_host_find_card(o->host, &b);
        if (!o->cards[i]) r = -ENODEV;
    }
    return r;
}

void xengpu__op_release_prepared(struct op *o)
{
    size_t i;

    for (i = 0; i < o->n; i++)
        if (o->prepared[i])
            o->req->ops->release(o->req->ops->opaque, o->bdfs[i]);
}

int xengpu__op_plug_all(struct op *o)
{
    size_t i;
    int r;

    for (i = 0; i < o->n; i++) {
        r = xengpu__op_plug_card(o, i, o->cards[i]);
        if (r) return r;
        o->unplugged = i + 1; /* how many are in: for the undo */
        xengpu__op_say(o, "card %s plugged", o->bdfs[i]);
        xengpu_guest_plugged(o->domid, o->bdfs[i], xengpu__op_timeout_of(o),
                             o->lg);
    }
    return 0;
}

void xengpu__op_record(struct op *o, const xengpu_stream_hdr *h)
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
void xengpu__op_destroy(struct op *o)
{
    if (libxl_domain_destroy(xengpu__xl_ctx(o->xl), o->domid, NULL))
        LOG(o->lg, ERROR,
            "restore: could not destroy domain %u; run `xl "
            "destroy %u`",
            o->domid, o->domid);
}

/* --- the guest's state ------------------------------------------------------ */

const char *xengpu__op_jstr(yajl_val root, const char *key)
{
    const char *path[] = { key, NULL };
    yajl_val v = yajl_tree_get(root, path, yajl_t_string);

    return v ? YAJL_GET_STRING(v) : NULL;
}

void xengpu__op_resume_if_suspended(struct op *o)
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

/* Wait (up to 10 minutes) for an xl save the killed xengpu left running. */
void xengpu__op_wait_gone(pid_t pid)
{
    int i;

    for (i = 0; pid > 0 && i < 6000 && !kill(pid, 0); i++)
        usleep(100000);
}
