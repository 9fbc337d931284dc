/*
 * pciback.c - prepare, release and recover whole cards.
 */
#include <errno.h>
#include <fcntl.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <xenctrl.h>

#include "host.h"
#include "libxl-compat.h"
#include "pciback.h"
#include "state.h"
#include "sysfs-paths.h"
#include "sysfs.h"
#include "util.h"

#define MODPROBE_CONF_DEFAULT "/etc/modprobe.d/xengpu-pciback.conf"
#define MODPROBE_CONF_ENV "XENGPU_MODPROBE_CONF"

extern char **environ;

struct xengpu_pciback {
    xentoollog_logger *lg;
    int sysfs_fd;
    int state_fd;
    bool real_sysfs; /* the root is /sys: modprobe may help */
    char *modprobe_conf;
    libxl_ctx *ctx;
};

/* --- libxl ---------------------------------------------------------------- */

static int assignable(xengpu_pciback *pb, const xengpu_bdf *bdf, bool add)
{
    libxl_device_pci pci;
    int rc;

    libxl_device_pci_init(&pci);
    xengpu__libxl_pci_from_bdf(&pci, bdf);
    rc = add ? libxl_device_pci_assignable_add(pb->ctx, &pci, 1)
             : libxl_device_pci_assignable_remove(pb->ctx, &pci, 1);
    libxl_device_pci_dispose(&pci);
    return xengpu__libxl_errno(rc);
}

/* The domain holding any of CARD's functions, or -1. */
static long holder(xengpu_pciback *pb, const xengpu_card *card)
{
    libxl_dominfo *doms;
    long found = -1;
    int ndoms = 0, i, j;
    size_t k;

    doms = libxl_list_domain(pb->ctx, &ndoms);
    for (i = 0; doms && i < ndoms && found < 0; i++) {
        libxl_device_pci *pcis;
        int npcis = 0;

        pcis = libxl_device_pci_list(pb->ctx, doms[i].domid, &npcis);
        for (j = 0; j < npcis && found < 0; j++)
            for (k = 0; k < card->nfns; k++) {
                const xengpu_bdf *b = &card->fns[k]->bdf;

                if (pcis[j].domain == b->domain && pcis[j].bus == b->bus &&
                    pcis[j].dev == b->dev && pcis[j].func == b->fn)
                    found = doms[i].domid;
            }
        libxl_device_pci_list_free(pcis, npcis);
    }
    libxl_dominfo_list_free(doms, ndoms);
    return found;
}

/* --- sysfs ---------------------------------------------------------------- */

static int dev_dir(xengpu_pciback *pb, const xengpu_bdf *bdf)
{
    char path[64], b[XENGPU_BDF_STRLEN];

    xengpu_bdf_format(bdf, b, sizeof(b));
    snprintf(path, sizeof(path), SYSFS_PCI_DEVICES "/%s", b);
    return openat(pb->sysfs_fd, path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
}

/* The driver BDF is bound to now, "" for none; false when unreadable. */
static bool current_driver(xengpu_pciback *pb, const xengpu_bdf *bdf,
                           char *buf, size_t size)
{
    int fd = dev_dir(pb, bdf), r;

    if (fd < 0) return false;
    r = xengpu__sysfs_link_base(fd, SYSFS_DEV_DRIVER, buf, size);
    close(fd);
    if (r == -ENOENT) {
        buf[0] = '\0';
        return true;
    }
    return r == 0;
}

static bool is_pciback(const char *driver)
{
    return !strcmp(driver, "pciback") || !strcmp(driver, "xen-pciback");
}

static bool on_pciback(xengpu_pciback *pb, const xengpu_bdf *bdf)
{
    char drv[XENGPU_DRIVER_MAX + 1];

    return current_driver(pb, bdf, drv, sizeof(drv)) && is_pciback(drv);
}

/* Write the canonical address of BDF to sysfs file PATH. */
static int write_bdf(xengpu_pciback *pb, const char *path,
                     const xengpu_bdf *bdf)
{
    char b[XENGPU_BDF_STRLEN];
    ssize_t n;
    int fd, r = 0;

    xengpu_bdf_format(bdf, b, sizeof(b));
    fd = openat(pb->sysfs_fd, path, O_WRONLY | O_CLOEXEC | O_NOFOLLOW);
    if (fd < 0) return -errno;
    n = write(fd, b, strlen(b));
    if (n < 0)
        r = -errno;
    else if ((size_t)n != strlen(b))
        r = -EIO;
    close(fd);
    return r;
}

/*
 * Put BDF back on DRIVER after libxl let go of it, when libxl did not
 * (it only knows drivers it recorded itself, in xenstore, which a reboot
 * empties).  DRIVER comes from a validated record.
 */
static int rebind(xengpu_pciback *pb, const xengpu_bdf *bdf,
                  const char *driver)
{
    char cur[XENGPU_DRIVER_MAX + 1], path[160], b[XENGPU_BDF_STRLEN];
    int r;

    if (!*driver || is_pciback(driver) || !xengpu_driver_name_ok(driver))
        return 0;
    if (!current_driver(pb, bdf, cur, sizeof(cur)) || *cur)
        return 0; /* bound already, to what libxl chose */
    snprintf(path, sizeof(path), SYSFS_PCI_DRIVERS "/%s/" SYSFS_DRIVER_BIND,
             driver);
    r = write_bdf(pb, path, bdf);
    if (r) {
        xengpu_bdf_format(bdf, b, sizeof(b));
        LOGE(pb->lg, WARN, -r,
             "%s: cannot bind it to its driver %s; "
             "it stays unbound",
             b, driver);
    }
    return r;
}

/* Take BDF off pciback without libxl (which refuses when a crash left
 * the function bound but not quarantined). */
static int force_unbind(xengpu_pciback *pb, const xengpu_bdf *bdf)
{
    int r = write_bdf(pb, SYSFS_PCIBACK_UNBIND, bdf);

    (void)write_bdf(pb, SYSFS_PCIBACK_REMOVE_SLOT, bdf);
    return r;
}

/* Give BDF back to DRIVER (its original one; "" none). */
static int give_back(xengpu_pciback *pb, const xengpu_bdf *bdf,
                     const char *driver)
{
    char b[XENGPU_BDF_STRLEN];
    int r;

    if (on_pciback(pb, bdf)) {
        r = assignable(pb, bdf, false);
        if (r && on_pciback(pb, bdf)) {
            xengpu_bdf_format(bdf, b, sizeof(b));
            LOGE(pb->lg, WARN, -r,
                 "%s: libxl could not release it; "
                 "unbinding it from pciback directly",
                 b);
            r = force_unbind(pb, bdf);
            if (r) {
                LOGE(pb->lg, ERROR, -r, "%s: cannot unbind it from pciback",
                     b);
                return r;
            }
        }
    }
    return rebind(pb, bdf, driver);
}

static int load_pciback(xengpu_pciback *pb)
{
    char *argv[] = { "modprobe", "xen-pciback", NULL };
    struct stat st;
    int status;
    pid_t pid;

    if (!fstatat(pb->sysfs_fd, SYSFS_PCIBACK_DIR, &st, 0)) return 0;
    if (pb->real_sysfs &&
        !posix_spawnp(&pid, "modprobe", NULL, NULL, argv, environ)) {
        while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
            ;
        if (!fstatat(pb->sysfs_fd, SYSFS_PCIBACK_DIR, &st, 0)) return 0;
    }
    LOG(pb->lg, ERROR,
        "xen-pciback is not loaded and `modprobe xen-pciback` "
        "did not load it; is this a Xen dom0 with the xen-pciback module?");
    return -ENOENT;
}

/* --- boot persistence ------------------------------------------------------ */

/* LINE (ending in a newline) is one of TEXT's lines, whole. */
static bool has_line(const char *text, const char *line)
{
    size_t n = strlen(line);

    for (; *text; text = strchr(text, '\n') + 1)
        if (!strncmp(text, line, n)) return true;
    return false;
}

/*
 * Rewrite the modprobe configuration from the card records: pciback
 * hides every prepared function, and loads before each original driver
 * so it gets there first.
 */
static int persist(xengpu_pciback *pb)
{
    xengpu_bdf *cards = NULL;
    char *hide = xengpu__xstrdup(""), *deps = xengpu__xstrdup(""), *tmp;
    char *line;
    size_t n = 0, i, j;
    FILE *f = NULL;
    int r;

    if (!*pb->modprobe_conf) goto out_ok;
    r = xengpu_rec_list(pb->state_fd, XENGPU_CARDREC, &cards, &n, pb->lg);
    if (r) goto out;
    for (i = 0; i < n; i++) {
        xengpu_cardrec rec;

        if (xengpu_rec_read(pb->state_fd, XENGPU_CARDREC, &cards[i], &rec,
                            pb->lg))
            continue;
        for (j = 0; j < rec.nfns; j++) {
            char b[XENGPU_BDF_STRLEN];
            const char *d = rec.fns[j].driver;

            xengpu_bdf_format(&rec.fns[j].bdf, b, sizeof(b));
            tmp = xengpu__xasprintf("%s(%s)", hide, b);
            free(hide);
            hide = tmp;
            if (!*d || is_pciback(d)) continue;
            line = xengpu__xasprintf("softdep %s pre: xen-pciback\n", d);
            if (!has_line(deps, line)) {
                tmp = xengpu__xasprintf("%s%s", deps, line);
                free(deps);
                deps = tmp;
            }
            free(line);
        }
    }
    if (!*hide) {
        if (unlink(pb->modprobe_conf) == 0)
            LOG(pb->lg, NOTICE, "removed %s: no card is prepared",
                pb->modprobe_conf);
        goto out_ok;
    }
    tmp = xengpu__xasprintf("%s.tmp", pb->modprobe_conf);
    f = fopen(tmp, "we");
    if (!f ||
        fprintf(f,
                "# Written by xengpu: cards prepared for guests "
                "stay with xen-pciback at boot.\n# Do not edit; "
                "`xengpu release` removes cards from it.\n"
                "options xen-pciback hide=%s\n%s",
                hide, deps) < 0 ||
        fflush(f) || fsync(fileno(f)) || rename(tmp, pb->modprobe_conf)) {
        r = -errno;
        LOGE(pb->lg, WARN, errno,
             "cannot write %s; prepared cards may go "
             "back to dom0's drivers at the next boot",
             pb->modprobe_conf);
        if (f) fclose(f);
        unlink(tmp);
        free(tmp);
        goto out;
    }
    fclose(f);
    free(tmp);
    LOG(pb->lg, NOTICE,
        "wrote %s: xen-pciback hide=%s (run update-initramfs "
        "-u if these drivers load from the initramfs)",
        pb->modprobe_conf, hide);
out_ok:
    r = 0;
out:
    free(cards);
    free(hide);
    free(deps);
    return r;
}

/* --- operations ------------------------------------------------------------ */

/*
 * Discover the host and find the card BDF belongs to; *host_r holds
 * what *card_r points into.
 */
static int find_card(xengpu_pciback *pb, const xengpu_bdf *bdf,
                     xengpu_host **host_r, const xengpu_card **card_r)
{
    char b[XENGPU_BDF_STRLEN];
    xengpu_host *host = NULL;
    const xengpu_card *card;
    int r;

    r = xengpu_host_discover(pb->sysfs_fd, pb->lg, &host);
    if (r) return r;
    card = xengpu_host_find_card(host, bdf);
    if (!card) {
        xengpu_bdf_format(bdf, b, sizeof(b));
        LOG(pb->lg, ERROR,
            "no GPU card at %s; `xengpu list` shows the "
            "host's cards",
            b);
        xengpu_host_free(host);
        return -ENODEV;
    }
    if (card->nfns > XENGPU_MAX_FNS) {
        xengpu_bdf_format(bdf, b, sizeof(b));
        LOG(pb->lg, ERROR,
            "card %s has %zu functions; xengpu handles at "
            "most %d",
            b, card->nfns, XENGPU_MAX_FNS);
        xengpu_host_free(host);
        return -E2BIG;
    }
    *host_r = host;
    *card_r = card;
    return 0;
}

/* Lock the card BDF belongs to, then look at it again: whoever held the
 * lock may have changed it. */
static int lock_card(xengpu_pciback *pb, const xengpu_bdf *bdf, const char *op,
                     int *lockfd_r, xengpu_host **host_r,
                     const xengpu_card **card_r)
{
    xengpu_bdf id;
    int r;

    r = find_card(pb, bdf, host_r, card_r);
    if (r) return r;
    id = (*card_r)->fns[0]->bdf;
    xengpu_host_free(*host_r);
    *host_r = NULL;
    r = xengpu_state_lock(pb->state_fd, &id, op, pb->lg, lockfd_r);
    if (r) return r;
    r = find_card(pb, &id, host_r, card_r);
    if (r) {
        xengpu_state_unlock(*lockfd_r);
        *lockfd_r = -1;
    }
    return r;
}

static void rec_init(xengpu_cardrec *rec, xengpu_recop op,
                     const xengpu_card *card)
{
    size_t i;

    memset(rec, 0, sizeof(*rec));
    rec->op = op;
    rec->card = card->fns[0]->bdf;
    rec->pid = getpid();
    rec->time = time(NULL);
    rec->nfns = card->nfns;
    for (i = 0; i < card->nfns; i++) {
        const char *d = card->fns[i]->driver;

        rec->fns[i].bdf = card->fns[i]->bdf;
        if (d && xengpu_driver_name_ok(d)) strcpy(rec->fns[i].driver, d);
    }
}

static int check_prepare(xengpu_pciback *pb, const xengpu_card *card,
                         unsigned flags)
{
    const char *id = card->fns[0]->name;

    if (card->dead) {
        LOG(pb->lg, ERROR,
            "card %s reads all ones: it fell off the bus; "
            "reset the slot or reboot the host first",
            id);
        return -EIO;
    }
    if (flags & XENGPU_PCIBACK_FORCE) return 0;
    if (card->boot_vga) {
        LOG(pb->lg, ERROR,
            "card %s is dom0's boot VGA (its console); "
            "preparing it takes dom0's display away: use --force to do it "
            "anyway",
            id);
        return -EPERM;
    }
    if (!card->isolated) {
        LOG(pb->lg, ERROR,
            "card %s is not isolated: %s can share its IOMMU "
            "context, so a guest could reach it; move the card to another "
            "slot, or use --force if you accept that",
            id, card->shares_with ? card->shares_with->name : "a device");
        return -EPERM;
    }
    return 0;
}

/* --- Xen's own view of isolation ------------------------------------------ */

#define XEN_GROUP_MAX 64
#define XEN_RDM_MAX 32

static bool card_has(const xengpu_card *card, const xengpu_bdf *b)
{
    size_t i;

    for (i = 0; i < card->nfns; i++)
        if (!xengpu_bdf_cmp(&card->fns[i]->bdf, b)) return true;
    return false;
}

/* Reserved memory regions (RMRRs) of BDF; -1 when Xen cannot say. */
static int rdm_of(xc_interface *xch, const xengpu_bdf *b,
                  struct xen_reserved_device_memory *rdm, uint32_t max)
{
    uint32_t n = max;

    if (xc_reserved_device_memory_map(xch, 0, b->domain, b->bus,
                                      (b->dev << 3) | b->fn, rdm, &n) < 0)
        return -1;
    return n > max ? (int)max : (int)n;
}

static bool rdm_overlap(const struct xen_reserved_device_memory *a, int na,
                        const struct xen_reserved_device_memory *b, int nb)
{
    int i, j;

    for (i = 0; i < na; i++)
        for (j = 0; j < nb; j++)
            if (a[i].start_pfn < b[j].start_pfn + b[j].nr_pages &&
                b[j].start_pfn < a[i].start_pfn + a[i].nr_pages)
                return true;
    return false;
}

/* A device outside CARD whose reserved memory overlaps the card's. */
static const xengpu_pcidev *
rdm_sharer(xc_interface *xch, const xengpu_host *host, const xengpu_card *card)
{
    struct xen_reserved_device_memory mine[XEN_RDM_MAX], other[XEN_RDM_MAX];
    int nmine = 0, n, k;
    size_t i;

    for (i = 0; i < card->nfns && nmine < XEN_RDM_MAX; i++) {
        n = rdm_of(xch, &card->fns[i]->bdf, mine + nmine, XEN_RDM_MAX - nmine);
        nmine += n > 0 ? n : 0;
    }
    for (i = 0; nmine && i < xengpu_host_ndevs(host); i++) {
        const xengpu_pcidev *d = xengpu_host_dev(host, i);

        if (card_has(card, &d->bdf)) continue;
        k = rdm_of(xch, &d->bdf, other, XEN_RDM_MAX);
        if (k > 0 && rdm_overlap(mine, nmine, other, k)) return d;
    }
    return NULL;
}

/*
 * Ask Xen which dom0 devices share the card's IOMMU context (its device
 * group), and whether a device outside the card shares reserved memory
 * with it (Xen refuses to assign those: "shared RMRR").  Not on Xen
 * (tests, a host booted without it): nothing to ask, no refusal.
 */
static int check_xen(xengpu_pciback *pb, const xengpu_host *host,
                     const xengpu_card *card)
{
    uint32_t sdevs[XEN_GROUP_MAX], n;
    const xengpu_pcidev *d;
    xc_interface *xch;
    size_t i, j;
    int r = 0;

    xch = xc_interface_open(pb->lg, pb->lg, 0);
    if (!xch) return 0;
    for (i = 0; !r && i < card->nfns; i++) {
        const xengpu_bdf *b = &card->fns[i]->bdf;

        n = 0;
        if (xc_get_device_group(xch, 0, xengpu_bdf_to_sbdf(b), XEN_GROUP_MAX,
                                &n, sdevs) < 0)
            continue; /* no IOMMU: the sysfs checks stand */
        for (j = 0; j < n && j < XEN_GROUP_MAX; j++) {
            /* Xen reports bus << 16 | devfn << 8 of the same segment */
            xengpu_bdf o = { b->domain, (sdevs[j] >> 16) & 0xff,
                             (sdevs[j] >> 11) & 0x1f, (sdevs[j] >> 8) & 7 };

            d = xengpu_host_find_dev(host, &o);
            if (card_has(card, &o) || (d && d->is_bridge)) continue;
            LOG(pb->lg, ERROR,
                "card %s is not isolated: Xen puts "
                "%04x:%02x:%02x.%x in its IOMMU device group; use --force "
                "if you accept that",
                card->fns[0]->name, o.domain, o.bus, o.dev, o.fn);
            r = -EPERM;
            break;
        }
    }
    if (!r && (d = rdm_sharer(xch, host, card))) {
        LOG(pb->lg, ERROR,
            "card %s shares a reserved memory region (RMRR) "
            "with %s and Xen refuses to assign such a card (\"disallowed to "
            "assign ... with shared RMRR\"); move it to another slot",
            card->fns[0]->name, d->name);
        r = -EPERM;
    }
    xc_interface_close(xch);
    return r;
}

/* Undo a prepare: every function REC moved goes back to its driver. */
static int undo_prepare(xengpu_pciback *pb, const xengpu_cardrec *rec)
{
    int r, first = 0;
    size_t i;

    for (i = rec->nfns; i-- > 0;) {
        if (is_pciback(rec->fns[i].driver))
            continue; /* it was on pciback before we started */
        r = give_back(pb, &rec->fns[i].bdf, rec->fns[i].driver);
        if (r && !first) first = r;
    }
    return first;
}

int xengpu_pciback_prepare(xengpu_pciback *pb, const xengpu_bdf *bdf,
                           unsigned flags)
{
    const xengpu_card *card = NULL;
    xengpu_host *host = NULL;
    xengpu_cardrec rec, old;
    int lockfd = -1, r;
    size_t i;

    r = lock_card(pb, bdf, "prepare", &lockfd, &host, &card);
    if (r) goto out;
    rec_init(&rec, XENGPU_REC_PREPARE, card);
    if (card->state == XENGPU_CARD_PREPARED) {
        LOG(pb->lg, NOTICE, "card %s is prepared already", card->fns[0]->name);
        goto out;
    }
    r = check_prepare(pb, card, flags);
    if (!r && !(flags & XENGPU_PCIBACK_FORCE)) r = check_xen(pb, host, card);
    if (r) goto out;
    r = load_pciback(pb);
    if (r) goto out;
    r = xengpu_rec_write(pb->state_fd, XENGPU_JOURNAL, &rec, pb->lg);
    if (r) goto out;
    for (i = 0; i < rec.nfns; i++) {
        if (is_pciback(rec.fns[i].driver)) continue;
        r = assignable(pb, &rec.fns[i].bdf, true);
        if (r) {
            LOGE(pb->lg, ERROR, -r,
                 "card %s: moving %s to pciback failed; "
                 "putting the card back",
                 card->fns[0]->name, card->fns[i]->name);
            undo_prepare(pb, &rec);
            xengpu_rec_remove(pb->state_fd, XENGPU_JOURNAL, &rec.card, pb->lg);
            goto out;
        }
    }
    /* keep what an earlier record knew for functions already on pciback */
    if (!xengpu_rec_read(pb->state_fd, XENGPU_CARDREC, &rec.card, &old, NULL))
        for (i = 0; i < rec.nfns && i < old.nfns; i++)
            if (is_pciback(rec.fns[i].driver) &&
                !xengpu_bdf_cmp(&rec.fns[i].bdf, &old.fns[i].bdf))
                strcpy(rec.fns[i].driver, old.fns[i].driver);
    rec.op = XENGPU_REC_PREPARED;
    r = xengpu_rec_write(pb->state_fd, XENGPU_CARDREC, &rec, pb->lg);
    if (!r)
        r = xengpu_rec_remove(pb->state_fd, XENGPU_JOURNAL, &rec.card, pb->lg);
    if (!r) {
        LOG(pb->lg, NOTICE, "card %s: %zu functions on pciback",
            card->fns[0]->name, rec.nfns);
        (void)persist(pb);
    }
out:
    xengpu_host_free(host);
    xengpu_state_unlock(lockfd);
    return r;
}

/* Finish a release: every function goes back to the driver REC names. */
static int finish_release(xengpu_pciback *pb, const xengpu_cardrec *rec)
{
    int r, first = 0;
    size_t i;

    for (i = 0; i < rec->nfns; i++) {
        r = give_back(pb, &rec->fns[i].bdf, rec->fns[i].driver);
        if (r && !first) first = r;
    }
    if (!first)
        first = xengpu_rec_remove(pb->state_fd, XENGPU_CARDREC, &rec->card,
                                  pb->lg);
    return first;
}

int xengpu_pciback_release(xengpu_pciback *pb, const xengpu_bdf *bdf,
                           unsigned flags)
{
    const xengpu_card *card = NULL;
    xengpu_host *host = NULL;
    xengpu_cardrec rec, old;
    int lockfd = -1, r;
    long domid;
    size_t i, on = 0;

    (void)flags;
    r = lock_card(pb, bdf, "release", &lockfd, &host, &card);
    if (r) goto out;
    domid = holder(pb, card);
    if (domid >= 0) {
        LOG(pb->lg, ERROR,
            "card %s is held by domain %ld; detach it first "
            "(xengpu detach %ld %s)",
            card->fns[0]->name, domid, domid, card->fns[0]->name);
        r = -EBUSY;
        goto out;
    }
    rec_init(&rec, XENGPU_REC_RELEASE, card);
    /* the drivers to go back to: xengpu's record, else libxl's */
    if (!xengpu_rec_read(pb->state_fd, XENGPU_CARDREC, &rec.card, &old,
                         pb->lg))
        for (i = 0; i < rec.nfns; i++) {
            rec.fns[i].driver[0] = '\0';
            if (i < old.nfns &&
                !xengpu_bdf_cmp(&rec.fns[i].bdf, &old.fns[i].bdf))
                strcpy(rec.fns[i].driver, old.fns[i].driver);
        }
    else
        for (i = 0; i < rec.nfns; i++)
            if (is_pciback(rec.fns[i].driver)) rec.fns[i].driver[0] = '\0';
    for (i = 0; i < card->nfns; i++)
        on += card->fns[i]->driver && is_pciback(card->fns[i]->driver);
    if (!on) {
        LOG(pb->lg, NOTICE, "card %s is not prepared; nothing to release",
            card->fns[0]->name);
        r = xengpu_rec_remove(pb->state_fd, XENGPU_CARDREC, &rec.card, pb->lg);
        goto out;
    }
    r = xengpu_rec_write(pb->state_fd, XENGPU_JOURNAL, &rec, pb->lg);
    if (r) goto out;
    r = finish_release(pb, &rec);
    if (r) {
        LOGE(pb->lg, ERROR, -r,
             "card %s: not every function could be "
             "given back; `xengpu recover` retries",
             card->fns[0]->name);
        goto out;
    }
    r = xengpu_rec_remove(pb->state_fd, XENGPU_JOURNAL, &rec.card, pb->lg);
    LOG(pb->lg, NOTICE, "card %s: given back to dom0", card->fns[0]->name);
    (void)persist(pb);
out:
    xengpu_host_free(host);
    xengpu_state_unlock(lockfd);
    return r;
}

static int recover_one(xengpu_pciback *pb, const xengpu_bdf *id)
{
    char b[XENGPU_BDF_STRLEN];
    xengpu_cardrec rec;
    int lockfd = -1, r;

    xengpu_bdf_format(id, b, sizeof(b));
    r = xengpu_state_lock(pb->state_fd, id, "recover", pb->lg, &lockfd);
    if (r) return r;
    r = xengpu_rec_read(pb->state_fd, XENGPU_JOURNAL, id, &rec, pb->lg);
    if (r == -ENOENT) { /* someone else finished it meanwhile */
        r = 0;
        goto out;
    }
    if (r) goto out;
    if (rec.op == XENGPU_REC_PREPARE) {
        r = undo_prepare(pb, &rec);
        if (!r)
            r = xengpu_rec_remove(pb->state_fd, XENGPU_CARDREC, id, pb->lg);
        if (!r)
            LOG(pb->lg, NOTICE,
                "card %s: interrupted prepare (pid %ld) "
                "undone; the card is back with its drivers",
                b, rec.pid);
    } else {
        r = finish_release(pb, &rec);
        if (!r)
            LOG(pb->lg, NOTICE,
                "card %s: interrupted release (pid %ld) "
                "finished",
                b, rec.pid);
    }
    if (!r) r = xengpu_rec_remove(pb->state_fd, XENGPU_JOURNAL, id, pb->lg);
    if (!r) (void)persist(pb);
out:
    xengpu_state_unlock(lockfd);
    return r;
}

int xengpu_pciback_recover(xengpu_pciback *pb, size_t *n_r)
{
    xengpu_bdf *ids = NULL;
    size_t n = 0, i, done = 0;
    int r, first;

    first = xengpu_rec_list(pb->state_fd, XENGPU_JOURNAL, &ids, &n, pb->lg);
    for (i = 0; !first && i < n; i++) {
        r = recover_one(pb, &ids[i]);
        if (r && !first) first = r;
        done += !r;
    }
    free(ids);
    if (n_r) *n_r = done;
    return first;
}

int xengpu_pciback_open(const xengpu_pciback_opts *opts, xentoollog_logger *lg,
                        xengpu_pciback **pb_r)
{
    const char *conf = opts ? opts->modprobe_conf : NULL;
    const char *root = opts ? opts->sysfs_root : NULL;
    const char *env = getenv(XENGPU_SYSFS_ROOT_ENV);
    xengpu_pciback *pb = xengpu__xcalloc(1, sizeof(*pb));
    int r;

    pb->lg = lg ? lg : xengpu__logger_default();
    pb->sysfs_fd = pb->state_fd = -1;
    if (!root && env && *env) root = env;
    pb->real_sysfs = !root || !strcmp(root, XENGPU_SYSFS_DEFAULT_ROOT);
    if (!conf) conf = getenv(MODPROBE_CONF_ENV);
    pb->modprobe_conf = xengpu__xstrdup(conf ? conf : MODPROBE_CONF_DEFAULT);
    r = xengpu_sysfs_open_root(root, pb->lg, &pb->sysfs_fd);
    if (!r)
        r = xengpu_state_open(opts ? opts->state_dir : NULL, pb->lg,
                              &pb->state_fd);
    if (!r && libxl_ctx_alloc(&pb->ctx, LIBXL_VERSION, 0, pb->lg)) {
        LOG(pb->lg, ERROR,
            "cannot talk to Xen's toolstack (libxl); is this "
            "a Xen dom0 with xenstored running?");
        r = -ENXIO;
    }
    if (r) {
        xengpu_pciback_close(pb);
        return r;
    }
    *pb_r = pb;
    return 0;
}

void xengpu_pciback_close(xengpu_pciback *pb)
{
    if (!pb) return;
    if (pb->ctx) libxl_ctx_free(pb->ctx);
    if (pb->sysfs_fd >= 0) close(pb->sysfs_fd);
    if (pb->state_fd >= 0) close(pb->state_fd);
    free(pb->modprobe_conf);
    free(pb);
}
