/*
 * recover.c - xengpu_save_recover(): finish or undo what a killed save,
 * restore or migration left, from its journal, on either host.
 */
#include <dirent.h>
#include <stdlib.h>
#include <sys/file.h>
#include <sys/stat.h>

#include "migrate/op.h"
#include "pciback-helper/libxl-compat.h"
#include "pciback-helper/state.h"
#include "pciback-helper/util.h"

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

    xengpu__op_file(o, "hdr", name, sizeof(name));
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

    req.host = xengpu__op_jstr(root, "host");
    req.transport = xengpu__op_jstr(root, "transport");
    if (!req.host || !xengpu__mig_host_ok(req.host)) return -ENOENT;
    if (req.transport && !*req.transport) req.transport = NULL;
    o->req = &req;
    r = xengpu__mig_remote(o, mode, NULL, reply, sizeof(reply));
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

    xengpu__mig_away_name(name, away, sizeof(away));
    yes = now && !strcmp(now, away);
    free(now);
    return yes;
}

static void settle_stepped_aside(struct op *o, yajl_val root, const char *name)
{
    if (!tell_destination(o, root, "finish")) {
        xengpu__op_destroy(o);
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

    xengpu__op_file(o, "json", name, sizeof(name));
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

    op = root ? xengpu__op_jstr(root, "op") : NULL;
    phase = root ? xengpu__op_jstr(root, "phase") : NULL;
    name = root ? xengpu__op_jstr(root, "name") : NULL;
    file = root ? xengpu__op_jstr(root, "file") : NULL;
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
        xengpu__op_journal_opts(root, i, o->opts[i]);
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
        xengpu__op_wait_gone((pid_t)YAJL_GET_INTEGER(xlpid));
    alive = name[0] && !xengpu_xl_domid(o->xl, name, &o->domid);
    if (!strcmp(op, "migrate")) {
        /* By id: the migrated copy may run here under the same name. */
        o->domid = (uint32_t)YAJL_GET_INTEGER(dom);
        alive = YAJL_IS_INTEGER(dom) && xengpu__mig_domain_exists(o);
    }
    if (!strcmp(op, "migrate-receive")) {
        /* xl's copy not yet let run is half-made; a running one is done. */
        snprintf(o->name, sizeof(o->name), "%s", name);
        if (!strcmp(phase, "running") && alive) {
            if (!xengpu__mig_receive_finish(o))
                LOG(o->lg, NOTICE,
                    "recover: domain %s, migrated here, has its card%s", name,
                    o->n == 1 ? "" : "s");
        } else if (!xengpu__mig_incoming_domid(o)) {
            xengpu__op_destroy(o);
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
        xengpu__op_resume_if_suspended(o);
        if (!strcmp(op, "migrate")) {
            unpause_if_paused(o);
            xengpu__op_logdirty_off(o);
        }
        xengpu__op_discover(o);
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
                !xengpu_xl_detach(o->xl, o->domid, c, xengpu__op_timeout_of(o),
                                  true)) {
                xengpu__op_discover(o);
                c = xengpu_host_find_card(o->host, &b);
            }
            if (c && c->state == XENGPU_CARD_PREPARED &&
                !xengpu__op_plug_card(o, i, c))
                LOG(o->lg, NOTICE, "recover: card %s back in domain %s",
                    o->bdfs[i], name);
        }
        tmp = xengpu__xasprintf("%s.tmp", file);
        unlink(tmp);
        free(tmp);
        if (!strcmp(op, "migrate")) (void)tell_destination(o, root, "cancel");
    } else if (!strcmp(op, "restore") && alive) {
        /* Half restored: nothing half-made stays; the file is intact. */
        xengpu__op_destroy(o);
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
    xengpu__op_unreserve_all(o);
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

    xengpu__op_init(&o, &req, lg, "recover");
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
        if (xengpu__op_lock(&o, sfd, XTL_WARN)) continue; /* still running */
        snprintf(name, sizeof(name), "ops/%s", de->d_name);
        fd = openat(sfd, name, O_RDONLY | O_CLOEXEC);
        len = fd < 0 ? -1 : read(fd, text, sizeof(text) - 1);
        if (fd >= 0) close(fd);
        if (len < 0) {
            xengpu__op_unlock(&o, sfd); /* it finished meanwhile */
            continue;
        }
        text[len] = '\0';
        if ((one = recover_one(&o, sfd, text)) < 0) {
            xengpu__op_unlock(&o, sfd);
            continue;
        }
        n += one;
        unlinkat(sfd, name, 0);
        snprintf(name, sizeof(name), "ops/%.36s%s.hdr", de->d_name,
                 o.incoming ? ".in" : "");
        unlinkat(sfd, name, 0);
        xengpu__op_unlock(&o, sfd);
    }
    closedir(d);
    close(sfd);
out:
    xengpu__op_dispose(&o);
    return r ? r : n;
}
