/*
 * migrate.c - xengpu migrate (the source) and migrate-receive (the
 * destination): xengpu's precheck, reservation, unplug and plug around
 * xl's own migration, live for HVM, cold (xl save -p) for PV.
 */
#include <spawn.h>
#include <stdlib.h>
#include <sys/file.h>
#include <sys/stat.h>

#include "migrate/op.h"
#include "pciback-helper/libxl-compat.h"
#include "pciback-helper/state.h"
#include "pciback-helper/util.h"

extern char **environ;

/* --- migrate ---------------------------------------------------------- */

/*
 * The name xl (and a cold migration) gives the source's copy of guest
 * NAME just before the go, so that the destination's copy can take NAME.
 */
void xengpu__mig_away_name(const char *name, char *buf, size_t size)
{
    snprintf(buf, size, "%s--migratedaway", name);
}

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
bool xengpu__mig_host_ok(const char *h)
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
    xengpu__op_event(o, XENGPU_EVENT_MIGRATE, ph, 0, NULL);
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
int xengpu__mig_remote(struct op *o, const char *mode,
                       const xengpu_stream_hdr *h, char *reply, size_t size)
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
    if (xengpu__op_wait_xl(pid) && !r) r = -EIO;
    if (!r && strncmp(reply, "ok", 2)) r = -EPERM;
    return r;
}

bool xengpu__mig_domain_exists(struct op *o)
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

    xengpu__mig_away_name(o->name, away, sizeof(away));
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
                o->pause = xengpu__op_since(&t0);
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
    r = xengpu__op_spawn_xl(argv, -1, &pid, o->lg);
    if (!r) {
        o->xl_pid = pid;
        xengpu__op_journal(o, "migrating");
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
    xengpu__mig_away_name(o->name, away, sizeof(away));
    r = spawn_sh(o, rune, &to, &from, &sh);
    free(rune);
    if (r) return r;
    if ((r = expect(from, xl_banner, sizeof(xl_banner) - 1)))
        LOG(o->lg, ERROR, "migrate: %s did not start xl migrate-receive",
            o->req->host);
    clock_gettime(CLOCK_MONOTONIC, &t_pause); /* xl save suspends first */
    if (!r) r = xengpu__op_spawn_xl3(argv, -1, to, &pid, o->lg);
    if (!r) {
        o->xl_pid = pid;
        xengpu__op_journal(o, "migrating");
        r = xengpu__op_wait_xl(pid);
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
    if (!r) r = xengpu__op_journal(o, "go");
    if (!r) r = libxl_domain_rename(ctx, o->domid, o->name, away) ? -EIO : 0;
    renamed = !r;
    if (!r) r = write_all(to, xl_go, sizeof(xl_go));
    if (!r) r = read_report(o, from);
    if (!r) {
        o->pause = xengpu__op_since(&t_pause);
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
    xengpu__op_wait_xl(sh);
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

    xengpu__op_init(&o, req, lg, "migrate");
    xengpu_stream_hdr_init(&h);
    pipe_was = signal(SIGPIPE, SIG_IGN);
    if (!xengpu__mig_host_ok(req->host)) {
        LOG(o.lg, ERROR,
            "migrate: '%s' is not a host name (letters, digits and "
            "._:@%%-[] only)",
            req->host ? req->host : "");
        r = -EINVAL;
        goto out;
    }
    r = xengpu__op_take_stock(&o, &h);
    if (!r)
        r = xengpu__op_event(&o, XENGPU_EVENT_MIGRATE, XENGPU_PHASE_PRE, 0,
                             NULL);
    if (r) goto out;
    begun = true;

    event_phase(&o, XENGPU_PHASE_PRECHECK);
    xengpu__op_say(&o, "asking %s for a card for domain %s", req->host,
                   o.name);
    r = xengpu__mig_remote(&o, "check", &h, reply, sizeof(reply));
    if (r) {
        LOG(o.lg, ERROR,
            "migrate: %s cannot take domain %s%s%s; nothing was changed here",
            req->host, o.name, reply[0] ? ": " : "", reply);
        goto out;
    }
    event_phase(&o, XENGPU_PHASE_RESERVE);
    xengpu__op_say(&o, "%s reserved %s", req->host,
                   reply[2] ? reply + 3 : "no card");

    event_phase(&o, XENGPU_PHASE_UNPLUG);
    clock_gettime(CLOCK_MONOTONIC, &t_out);
    r = xengpu__op_journal(&o, "unplug");
    if (!r) r = xengpu__op_unplug_all(&o);
    if (!r) {
        event_phase(&o, XENGPU_PHASE_TRANSFER);
        xengpu__op_say(&o, "sending domain %s to %s%s", o.name, req->host,
                       h.hvm ? ""
                             : " (PV: cold, paused here until it runs there)");
        r = h.hvm ? run_migrate(&o) : run_cold(&o);
    }
    if (r == -EPROTO && !h.hvm) {
        /* No way to tell where it runs: keep everything as it is. */
        xengpu__op_journal(&o, NULL);
        goto out;
    }
    if (r) {
        event_phase(&o, XENGPU_PHASE_ROLLBACK);
        if (xengpu__mig_domain_exists(&o)) {
            xengpu__op_say(
                &o, "failed; domain %s stays here, putting its cards back",
                o.name);
            xengpu__op_resume_if_suspended(&o);
            xengpu__op_replug(&o);
        } else {
            LOG(o.lg, ERROR,
                "migrate: domain %s is gone from this host but %s did not "
                "confirm it; run `xengpu recover` here and there",
                o.name, req->host);
        }
        xengpu__op_unreserve_all(&o);
        if (xengpu__mig_remote(&o, "cancel", NULL, reply, sizeof(reply)))
            LOG(o.lg, WARN,
                "migrate: %s did not confirm it dropped its reservation "
                "(%s); run `xengpu recover` there",
                req->host, reply);
        xengpu__op_journal(&o, NULL);
        goto out;
    }
    /* xl destroyed the guest here: from now on there is no way back. */
    xengpu__op_unreserve_all(&o);
    xengpu__op_journal(&o, NULL);
    event_phase(&o, XENGPU_PHASE_PLUG);
    if (xengpu__mig_remote(&o, "finish", NULL, reply, sizeof(reply))) {
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
    xengpu__op_say(
        &o,
        "domain %s runs on %s with its card%s; it was without one for "
        "%.1fs%s; %zu card%s back in this host's pool",
        o.name, req->host, o.n == 1 ? "" : "s", xengpu__op_since(&t_out),
        reply, o.n, o.n == 1 ? "" : "s");
out:
    if (begun)
        xengpu__op_event(&o, XENGPU_EVENT_MIGRATE, XENGPU_PHASE_POST, r, NULL);
    signal(SIGPIPE, pipe_was);
    xengpu_stream_hdr_dispose(&h);
    xengpu__op_dispose(&o);
    return r;
}

/* --- migrate-receive ------------------------------------------------------ */

/* The domain xl migrate-receive builds: NAME--incoming. */
int xengpu__mig_incoming_domid(struct op *o)
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
    int r = xengpu__mig_incoming_domid(o);

    if (r) {
        LOG(o->lg, ERROR, "%s: xl built no domain %s--incoming", o->verb,
            o->name);
        return r;
    }
    r = xengpu__op_discover(o);
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
    r = xengpu__op_spawn_xl(argv, from[1], &pid, o->lg);
    close(from[1]);
    if (r) {
        close(from[0]);
        return r;
    }
    o->xl_pid = pid;
    xengpu__op_journal(o, "receiving");
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
            xengpu__op_journal(o, "ready");
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
    r = xengpu__op_wait_xl(pid);
    return failed ? -EIO : r;
}

static bool incoming_journal_exists(struct op *o)
{
    char name[96];
    bool yes;
    int sfd;

    if (xengpu_state_open(o->req->state_dir, o->lg, &sfd)) return false;
    xengpu__op_file(o, "json", name, sizeof(name));
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
    xengpu__op_file(o, "json", name, sizeof(name));
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
        xengpu__op_journal_opts(root, i, o->opts[o->n]);
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
    xengpu__op_file(o, "hdr", name, sizeof(name));
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
    if (!r) r = xengpu__op_discover(o); /* again, under the lock */
    if (!r) r = xengpu__op_choose(o, &h);
    if (!r)
        r = xengpu__op_event(o, XENGPU_EVENT_MIGRATE, XENGPU_PHASE_PRE, 0,
                             NULL);
    for (i = 0; i < o->n && !r; i++)
        r = xengpu_reserve(&o->cards[i]->fns[0]->bdf, o->uuid,
                           time(NULL) + RESERVE_SECONDS, o->lg);
    xengpu__choose_unlock(lock); /* they are reserved */
    if (!r) r = xengpu__op_journal(o, "reserved");
    if (!r) r = xengpu__op_keep_header(o, &h);
    if (!r) r = xengpu__op_prepare_chosen(o);
    if (r) {
        xengpu__op_release_prepared(o);
        xengpu__op_unreserve_all(o);
        xengpu__op_journal(o, NULL);
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
int xengpu__mig_receive_finish(struct op *o)
{
    xengpu_stream_hdr h;
    libxl_dominfo info;
    int r, i;

    xengpu_stream_hdr_init(&h);
    r = xengpu__op_discover(o);
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
        r = xengpu__op_plug_all(o);
        if (r)
            LOG(o->lg, ERROR,
                "%s: domain %s runs here without its card%s; give it one: "
                "`xengpu attach %s CARD`",
                o->verb, o->name, o->n == 1 ? "" : "s", o->name);
        else
            xengpu__op_record(o, &h);
        event_phase(o, XENGPU_PHASE_COMMIT);
    }
    if (o->n) {
        xengpu__op_unreserve_all(o);
        xengpu__op_journal(o, NULL);
    }
    xengpu_stream_hdr_dispose(&h);
    return r;
}

int xengpu_migrate_receive(const xengpu_save_req *req, const char *mode,
                           xentoollog_logger *lg)
{
    struct op o;
    int r;

    xengpu__op_init(&o, req, lg, "migrate-receive");
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
    if (!r && strcmp(mode, "finish"))
        r = xengpu__op_discover(&o); /* finish: later */
    if (r) goto out;
    if (!strcmp(mode, "check")) {
        r = receive_check(&o);
    } else if (!strcmp(mode, "incoming")) {
        r = load_incoming(&o);
        if (!r) r = relay(&o);
        if (r) {
            event_phase(&o, XENGPU_PHASE_ROLLBACK);
            if (!xengpu__mig_incoming_domid(&o)) xengpu__op_destroy(&o);
            xengpu__op_unreserve_all(&o);
            xengpu__op_journal(&o, NULL);
        } else {
            /* It runs here; `finish` from the source plugs the cards. */
            xengpu__op_journal(&o, "running");
        }
        xengpu__op_event(&o, XENGPU_EVENT_MIGRATE, XENGPU_PHASE_POST, r, NULL);
    } else if (!strcmp(mode, "finish")) {
        r = xengpu__op_lock_now(&o);
        if (!r && !incoming_journal_exists(&o)) {
            /* Nothing left: `recover` here already finished it. */
            LOG(o.lg, NOTICE, "migrate-receive: nothing to finish for %s",
                o.uuid);
            xengpu__op_journal(&o, NULL); /* drops the lock */
        } else if (!r)
            r = xengpu__mig_receive_finish(&o);
        printf(r ? "failed\n" : "ok\n");
        fflush(stdout);
    } else if (!strcmp(mode, "cancel")) {
        /* Nothing left to cancel when the incoming side undid itself. */
        if (incoming_journal_exists(&o) && !xengpu__op_lock_now(&o) &&
            !load_incoming(&o)) {
            /* The receiving side died before undoing itself: its xl
             * may still be finishing; then no half-made copy stays. */
            xengpu__op_wait_gone(o.xl_pid);
            if (!xengpu__mig_incoming_domid(&o)) xengpu__op_destroy(&o);
            xengpu__op_unreserve_all(&o);
            xengpu__op_journal(&o, NULL);
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
    xengpu__op_dispose(&o);
    return r;
}
