/*
 * snapshot.c - copy what discovery reads from sysfs into a new tree.
 *
 * Two passes: first every bus/pci/devices entry is checked (canonical
 * address, a device path made only of names we accept) so that links
 * between devices (physfn) can point at the right directory; then each
 * device is copied.  The destination is walked one component at a time
 * with O_NOFOLLOW, so nothing written can land outside DIR whatever the
 * source tree says.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/utsname.h>
#include <time.h>
#include <unistd.h>

#include "bdf.h"
#include "snapshot.h"
#include "sysfs-paths.h"
#include "sysfs.h"
#include "util.h"

/* Far above any real host; bounds memory on a corrupt or hostile tree. */
#define MAX_DEVICES (1u << 20)
/* Components of a device path; PCI nests at most 256 buses deep. */
#define MAX_DEPTH 300
#define MAX_NAME 64
/* Every attribute is at most a 4096-byte config space or a page. */
#define ATTR_MAX 4096

static const char *const attrs[] = {
    SYSFS_DEV_VENDOR,         SYSFS_DEV_DEVICE,         SYSFS_DEV_CLASS,
    SYSFS_DEV_RESOURCE,       SYSFS_DEV_BOOT_VGA,       SYSFS_DEV_NUMA_NODE,
    SYSFS_DEV_RESET_METHOD,   SYSFS_DEV_SRIOV_TOTALVFS, SYSFS_DEV_SRIOV_NUMVFS,
    SYSFS_DEV_SNAPSHOT_EXTRA,
};

struct entry {
    xengpu_bdf bdf;
    char name[XENGPU_BDF_STRLEN];
    char *path;     /* "devices/.../<name>", every component checked */
    unsigned depth; /* components in path */
};

struct snap {
    xentoollog_logger *lg;
    int src, dst;
    struct entry *ents;
    size_t n;
    xengpu_snapshot_info info;
};

/* --- names we accept from the source tree ------------------------------ */

static bool plain_name(const char *s)
{
    size_t n = strlen(s);

    if (!n || n >= MAX_NAME || !strcmp(s, ".") || !strcmp(s, ".."))
        return false;
    return strspn(s, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
                     "0123456789_.:+-") == n;
}

/* A host bridge's directory: "pci" DOMAIN ":" BUS, e.g. "pci0000:00". */
static bool host_bridge_name(const char *s)
{
    size_t dom;

    if (strncmp(s, "pci", 3)) return false;
    s += 3;
    dom = strspn(s, "0123456789abcdef");
    return dom >= 4 && dom <= 8 && s[dom] == ':' &&
           strspn(s + dom + 1, "0123456789abcdef") == 2 && !s[dom + 3];
}

static bool is_bdf(const char *s)
{
    xengpu_bdf bdf;

    return !xengpu_bdf_parse(s, XENGPU_BDF_CANONICAL, &bdf);
}

/*
 * Check the components of a device path after "devices": plain names
 * (platform devices above the PCI host bridge), then a host bridge, then
 * only addresses (and nested host bridges, e.g. VMD), ending in NAME.
 * Directories named like attributes or links can thus never be made.
 */
static bool device_path_ok(char **comps, unsigned n, const char *name)
{
    bool below_host = false;
    unsigned i;

    for (i = 0; i < n; i++) {
        if (host_bridge_name(comps[i]))
            below_host = true;
        else if (below_host ? !is_bdf(comps[i])
                            : !plain_name(comps[i]) || is_bdf(comps[i]))
            return false;
    }
    return below_host && n >= 2 && !strcmp(comps[n - 1], name);
}

/*
 * The device path "devices/.../NAME" from the target of the
 * bus/pci/devices/NAME link ("../../../devices/pci0000:00/..."): what
 * follows its first "devices" component.  Returns 0 or -EINVAL.
 */
static int device_path(char *target, const char *name, struct entry *e)
{
    char *comps[MAX_DEPTH], *tok, *save = NULL;
    unsigned n = 0;
    bool in = false;

    for (tok = strtok_r(target, "/", &save); tok;
         tok = strtok_r(NULL, "/", &save)) {
        if (!in) {
            in = !strcmp(tok, SYSFS_DEVICES);
            continue;
        }
        if (n == MAX_DEPTH) return -EINVAL;
        comps[n++] = tok;
    }
    if (!device_path_ok(comps, n, name)) return -EINVAL;
    e->depth = n + 1;
    e->path = xengpu__xstrdup(SYSFS_DEVICES);
    for (unsigned i = 0; i < n; i++) {
        tok = xengpu__xasprintf("%s/%s", e->path, comps[i]);
        free(e->path);
        e->path = tok;
    }
    return 0;
}

/* --- pass 1: the devices ---------------------------------------------- */

static void add_entry(struct snap *s, const char *name, size_t *cap)
{
    char link[sizeof(SYSFS_PCI_DEVICES) + XENGPU_BDF_STRLEN + 1];
    char target[PATH_MAX];
    struct entry e = { .path = NULL };
    int rc;

    rc = xengpu_bdf_parse(name, XENGPU_BDF_CANONICAL, &e.bdf);
    if (!rc) {
        xengpu_bdf_format(&e.bdf, e.name, sizeof(e.name));
        snprintf(link, sizeof(link), "%s/%s", SYSFS_PCI_DEVICES, e.name);
        rc = xengpu__sysfs_link(s->src, link, target, sizeof(target));
    }
    if (!rc) rc = device_path(target, e.name, &e);
    if (rc) {
        LOGE(s->lg, WARN, -rc,
             "snapshot: leaving out %s/%s: not a canonical PCI address "
             "linked to a device path xengpu accepts",
             SYSFS_PCI_DEVICES, name);
        s->info.skipped++;
        return;
    }
    if (s->n == *cap) {
        *cap = *cap ? *cap * 2 : 64;
        s->ents = xengpu__xreallocarray(s->ents, *cap, sizeof(*s->ents));
    }
    s->ents[s->n++] = e;
}

static int cmp_entry(const void *a, const void *b)
{
    return xengpu_bdf_cmp(&((const struct entry *)a)->bdf,
                          &((const struct entry *)b)->bdf);
}

static int list_entries(struct snap *s)
{
    struct dirent *de;
    DIR *dir = NULL;
    size_t cap = 0;
    int dfd, rc;

    dfd =
        openat(s->src, SYSFS_PCI_DEVICES, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (dfd < 0 || !(dir = fdopendir(dfd))) {
        rc = -errno;
        LOGE(s->lg, ERROR, -rc, "snapshot: cannot read %s", SYSFS_PCI_DEVICES);
        if (dfd >= 0) close(dfd);
        return rc;
    }
    while ((errno = 0, de = readdir(dir))) {
        if (de->d_name[0] == '.') continue;
        if (s->n + s->info.skipped >= MAX_DEVICES) {
            errno = E2BIG;
            break;
        }
        add_entry(s, de->d_name, &cap);
    }
    rc = -errno;
    if (rc)
        LOGE(s->lg, ERROR, -rc, "snapshot: cannot list %s", SYSFS_PCI_DEVICES);
    closedir(dir);
    if (!rc && s->n) qsort(s->ents, s->n, sizeof(*s->ents), cmp_entry);
    return rc;
}

static const struct entry *find_entry(const struct snap *s, const char *name)
{
    struct entry key;

    if (xengpu_bdf_parse(name, XENGPU_BDF_CANONICAL, &key.bdf) || !s->n)
        return NULL;
    return bsearch(&key, s->ents, s->n, sizeof(*s->ents), cmp_entry);
}

/* --- writing the destination ----------------------------------------- */

/*
 * Open directory PATH below DIRFD, creating missing components, never
 * following a symlink.  Returns an O_CLOEXEC fd or a negative errno.
 */
static int mkdirs_at(int dirfd, const char *path)
{
    char *copy = xengpu__xstrdup(path), *tok, *save = NULL;
    int fd = -1, next, rc = 0;

    for (tok = strtok_r(copy, "/", &save); tok;
         tok = strtok_r(NULL, "/", &save)) {
        if (mkdirat(fd < 0 ? dirfd : fd, tok, 0755) && errno != EEXIST) {
            rc = -errno;
            break;
        }
        next = openat(fd < 0 ? dirfd : fd, tok,
                      O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
        if (next < 0) rc = -errno;
        if (fd >= 0) close(fd);
        fd = next;
        if (rc) break;
    }
    free(copy);
    if (!rc && fd < 0) rc = -EINVAL;
    if (rc && fd >= 0) close(fd);
    return rc ? rc : fd;
}

static int write_file(int dirfd, const char *name, const void *buf, size_t len)
{
    size_t off = 0;
    ssize_t r;
    int fd, rc = 0;

    fd = openat(dirfd, name,
                O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0644);
    if (fd < 0) return -errno;
    while (off < len) {
        r = write(fd, (const char *)buf + off, len - off);
        if (r < 0 && errno == EINTR) continue;
        if (r <= 0) {
            rc = r < 0 ? -errno : -EIO;
            break;
        }
        off += (size_t)r;
    }
    if (close(fd) && !rc) rc = -errno;
    return rc;
}

/* Symlink DIRPATH/NAME -> TARGET in the destination. */
static int make_link(struct snap *s, const char *dirpath, const char *name,
                     const char *target)
{
    int dfd, rc = 0;

    dfd = mkdirs_at(s->dst, dirpath);
    if (dfd < 0) return dfd;
    if (symlinkat(target, dfd, name)) rc = -errno;
    close(dfd);
    return rc;
}

/* "../" DEPTH times, then TAIL. */
static char *up(unsigned depth, const char *tail)
{
    size_t len = strlen(tail);
    char *p = xengpu__xmalloc(3 * (size_t)depth + len + 1);

    for (unsigned i = 0; i < depth; i++)
        memcpy(p + 3 * i, "../", 3);
    memcpy(p + 3 * (size_t)depth, tail, len + 1);
    return p;
}

/* --- pass 2: one device --------------------------------------------- */

static void attr_error(struct snap *s, const struct entry *e, const char *what,
                       int rc)
{
    LOGE(s->lg, WARN, -rc, "snapshot: %s: %s not copied", e->name, what);
    s->info.attr_errors++;
}

static void copy_attr(struct snap *s, const struct entry *e, int sfd, int dfd,
                      const char *name, uint8_t *buf)
{
    uint64_t claimed = 0;
    size_t len;
    int rc;

    rc = xengpu__sysfs_read_claimed(sfd, name, buf, ATTR_MAX, &len, &claimed);
    if (rc == -ENOENT) return;
    if (!rc) rc = write_file(dfd, name, buf, len);
    if (rc) {
        attr_error(s, e, name, rc);
        return;
    }
    if (!strcmp(name, SYSFS_DEV_CONFIG) && len < claimed && len < ATTR_MAX) {
        s->info.cfg_short++;
        if (len > s->info.cfg_short_len) s->info.cfg_short_len = len;
    }
}

static void copy_attrs(struct snap *s, const struct entry *e, int sfd, int dfd)
{
    uint8_t *buf = xengpu__xmalloc(ATTR_MAX);
    size_t i;

    copy_attr(s, e, sfd, dfd, SYSFS_DEV_CONFIG, buf);
    for (i = 0; i < ARRAY_SIZE(attrs); i++)
        copy_attr(s, e, sfd, dfd, attrs[i], buf);
    free(buf);
}

static void link_driver(struct snap *s, const struct entry *e, int sfd,
                        int dfd)
{
    char drv[MAX_NAME], *dir = NULL, *target = NULL;
    int rc;

    rc = xengpu__sysfs_link_base(sfd, SYSFS_DEV_DRIVER, drv, sizeof(drv));
    if (rc == -ENOENT) return;
    if (!rc && !plain_name(drv)) rc = -EINVAL;
    if (rc) goto out;
    dir = xengpu__xasprintf("%s/%s", SYSFS_PCI_DRIVERS, drv);
    target = up(e->depth, dir);
    rc = symlinkat(target, dfd, SYSFS_DEV_DRIVER) ? -errno : 0;
    free(target);
    target = up(4, e->path);
    if (!rc) rc = make_link(s, dir, e->name, target);
out:
    if (rc) attr_error(s, e, "driver link", rc);
    free(dir);
    free(target);
}

static void link_group(struct snap *s, const struct entry *e, int sfd, int dfd)
{
    char buf[MAX_NAME], *dir = NULL, *target = NULL;
    uint64_t group;
    int rc;

    rc = xengpu__sysfs_link_base(sfd, SYSFS_DEV_IOMMU_GROUP, buf, sizeof(buf));
    if (rc == -ENOENT) return;
    if (!rc) rc = xengpu__parse_uint(buf, INT_MAX, &group);
    if (rc) goto out;
    dir = xengpu__xasprintf("%s/%llu", SYSFS_IOMMU_GROUPS,
                            (unsigned long long)group);
    target = up(e->depth, dir);
    rc = symlinkat(target, dfd, SYSFS_DEV_IOMMU_GROUP) ? -errno : 0;
    free(target);
    target = up(4, e->path);
    free(dir);
    dir = xengpu__xasprintf("%s/%llu/devices", SYSFS_IOMMU_GROUPS,
                            (unsigned long long)group);
    if (!rc) rc = make_link(s, dir, e->name, target);
out:
    if (rc) attr_error(s, e, "iommu_group link", rc);
    free(dir);
    free(target);
}

/* From E's directory to PF's: up to the common ancestor, then down. */
static char *relative_path(const struct entry *e, const struct entry *pf)
{
    size_t common = 0, i;
    unsigned shared = 0;

    for (i = 0; e->path[i] && e->path[i] == pf->path[i]; i++)
        if (e->path[i] == '/') {
            common = i + 1;
            shared++;
        }
    return up(e->depth - shared, pf->path + common);
}

static void link_physfn(struct snap *s, const struct entry *e, int sfd,
                        int dfd)
{
    char buf[MAX_NAME], *target;
    const struct entry *pf;
    int rc;

    rc = xengpu__sysfs_link_base(sfd, SYSFS_DEV_PHYSFN, buf, sizeof(buf));
    if (rc == -ENOENT) return;
    if (!rc && !is_bdf(buf)) rc = -EINVAL;
    if (rc) {
        attr_error(s, e, "physfn link", rc);
        return;
    }
    pf = find_entry(s, buf);
    target = pf ? relative_path(e, pf) : xengpu__xasprintf("../%s", buf);
    if (symlinkat(target, dfd, SYSFS_DEV_PHYSFN))
        attr_error(s, e, "physfn link", -errno);
    free(target);
}

static void copy_device(struct snap *s, const struct entry *e)
{
    char link[sizeof(SYSFS_PCI_DEVICES) + XENGPU_BDF_STRLEN + 1], *target;
    int sfd, dfd = -1, rc;

    snprintf(link, sizeof(link), "%s/%s", SYSFS_PCI_DEVICES, e->name);
    sfd = openat(s->src, link, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    rc = sfd < 0 ? -errno : 0;
    if (!rc) {
        dfd = mkdirs_at(s->dst, e->path);
        rc = dfd < 0 ? dfd : 0;
    }
    if (rc) {
        LOGE(s->lg, WARN, -rc, "snapshot: leaving out %s", e->name);
        s->info.skipped++;
        goto out;
    }
    copy_attrs(s, e, sfd, dfd);
    link_driver(s, e, sfd, dfd);
    link_group(s, e, sfd, dfd);
    link_physfn(s, e, sfd, dfd);
    target = up(3, e->path);
    rc = make_link(s, SYSFS_PCI_DEVICES, e->name, target);
    free(target);
    if (rc) {
        LOGE(s->lg, WARN, -rc, "snapshot: leaving out %s", e->name);
        s->info.skipped++;
        goto out;
    }
    s->info.copied++;
out:
    if (sfd >= 0) close(sfd);
    if (dfd >= 0) close(dfd);
}

/* --- physical slots ------------------------------------------------- */

static void copy_slot(struct snap *s, int slots_fd, const char *name)
{
    char buf[64], *dir;
    int sfd, dfd = -1, rc;
    size_t len;

    sfd = openat(slots_fd, name,
                 O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    rc = sfd < 0 ? -errno : 0;
    if (!rc)
        rc = xengpu__sysfs_read(sfd, SYSFS_SLOT_ADDRESS, buf, sizeof(buf),
                                &len);
    if (!rc) {
        dir = xengpu__xasprintf("%s/%s", SYSFS_PCI_SLOTS, name);
        dfd = mkdirs_at(s->dst, dir);
        free(dir);
        rc = dfd < 0 ? dfd : write_file(dfd, SYSFS_SLOT_ADDRESS, buf, len);
    }
    if (rc) {
        LOGE(s->lg, WARN, -rc, "snapshot: slot %s not copied", name);
        s->info.attr_errors++;
    }
    if (sfd >= 0) close(sfd);
    if (dfd >= 0) close(dfd);
}

/*
 * bus/pci/slots/<name>/address: lspci shows it as "Physical Slot"; no
 * slots (most hosts without hotplug) is fine.
 */
static void copy_slots(struct snap *s)
{
    struct dirent *de;
    unsigned n = 0;
    DIR *dir = NULL;
    int fd;

    fd = openat(s->src, SYSFS_PCI_SLOTS, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0 || !(dir = fdopendir(fd))) {
        if (errno != ENOENT)
            LOGE(s->lg, WARN, errno, "snapshot: %s not copied",
                 SYSFS_PCI_SLOTS);
        if (fd >= 0) close(fd);
        return;
    }
    while ((de = readdir(dir)) && n++ < MAX_DEVICES) {
        if (de->d_name[0] == '.') continue;
        if (plain_name(de->d_name))
            copy_slot(s, dirfd(dir), de->d_name);
        else
            LOG(s->lg, WARN, "snapshot: leaving out slot %s/%s",
                SYSFS_PCI_SLOTS, de->d_name);
    }
    closedir(dir);
}

/* --- the snapshot ---------------------------------------------------- */

static int dir_empty(int fd)
{
    struct dirent *de;
    int rc = 0, dup_fd;
    DIR *d;

    dup_fd = openat(fd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (dup_fd < 0 || !(d = fdopendir(dup_fd))) {
        rc = -errno;
        if (dup_fd >= 0) close(dup_fd);
        return rc;
    }
    while ((errno = 0, de = readdir(d)))
        if (strcmp(de->d_name, ".") && strcmp(de->d_name, "..")) {
            rc = -ENOTEMPTY;
            break;
        }
    if (!rc && errno) rc = -errno;
    closedir(d);
    return rc;
}

static int open_dest(xentoollog_logger *lg, const char *dir, int *fd_r)
{
    int fd = -1, rc;

    if (mkdir(dir, 0755) && errno != EEXIST) {
        rc = -errno;
        LOGE(lg, ERROR, -rc, "snapshot: cannot create %s", dir);
        return rc;
    }
    fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    rc = fd < 0 ? -errno : dir_empty(fd);
    if (rc == -ENOTEMPTY)
        LOG(lg, ERROR,
            "snapshot: %s is not empty; give a new or empty directory", dir);
    else if (rc)
        LOGE(lg, ERROR, -rc, "snapshot: cannot use %s", dir);
    if (rc) {
        if (fd >= 0) close(fd);
        return rc;
    }
    *fd_r = fd;
    return 0;
}

static int make_skeleton(struct snap *s)
{
    static const char *const dirs[] = { SYSFS_PCI_DEVICES, SYSFS_PCI_DRIVERS,
                                        SYSFS_IOMMU_GROUPS, SYSFS_DEVICES };
    int fd;

    for (size_t i = 0; i < ARRAY_SIZE(dirs); i++) {
        fd = mkdirs_at(s->dst, dirs[i]);
        if (fd < 0) {
            LOGE(s->lg, ERROR, -fd, "snapshot: cannot create %s", dirs[i]);
            return fd;
        }
        close(fd);
    }
    return 0;
}

static void note_config(FILE *f, const xengpu_snapshot_info *info)
{
    if (!info->cfg_short) {
        fprintf(f, "config space: as much as the kernel showed\n");
        return;
    }
    fprintf(f,
            "config space: INCOMPLETE for %u functions: only the first %zu "
            "bytes were readable\n"
            "  (Linux shows the rest of config space only to root), so "
            "capabilities\n"
            "  (FLR, ACS, SR-IOV, PCIe link, power management) are missing "
            "and resets\n"
            "  and isolation will read differently.  Take the snapshot "
            "again as root.\n",
            info->cfg_short, info->cfg_short_len);
}

static int write_note(struct snap *s)
{
    char *text = NULL, when[64] = "unknown";
    struct utsname u;
    size_t len = 0;
    time_t now = time(NULL);
    struct tm tm;
    FILE *f;
    int rc;

    f = open_memstream(&text, &len);
    if (!f) xengpu__oom();
    if (gmtime_r(&now, &tm)) strftime(when, sizeof(when), "%FT%TZ", &tm);
    fprintf(f, "xengpu snapshot of the PCI devices in sysfs, taken %s\n",
            when);
    if (!uname(&u))
        fprintf(f, "host kernel: %s %s %s %s\n", u.sysname, u.release,
                u.version, u.machine);
    fprintf(f, "functions: %u copied, %u left out\n", s->info.copied,
            s->info.skipped);
    note_config(f, &s->info);
    fprintf(f, "\nread it with:  xengpu --sysfs-root DIR list\n"
               "          or:  lspci -A linux-sysfs -O "
               "sysfs.path=DIR/bus/pci -vvv\n");
    if (fclose(f)) xengpu__oom();
    rc = write_file(s->dst, XENGPU_SNAPSHOT_NOTE, text, len);
    if (rc)
        LOGE(s->lg, ERROR, -rc, "snapshot: cannot write %s",
             XENGPU_SNAPSHOT_NOTE);
    free(text);
    return rc;
}

int xengpu_snapshot_take(int sysfs_fd, const char *dir, xentoollog_logger *lg,
                         xengpu_snapshot_info *info_r)
{
    struct snap s = { .lg = lg ? lg : xengpu__logger_default(),
                      .src = sysfs_fd,
                      .dst = -1 };
    size_t i;
    int rc;

    rc = open_dest(s.lg, dir, &s.dst);
    if (rc) goto out;
    rc = make_skeleton(&s);
    if (!rc) rc = list_entries(&s);
    if (rc) goto out;
    for (i = 0; i < s.n; i++)
        copy_device(&s, &s.ents[i]);
    copy_slots(&s);
    rc = write_note(&s);
    if (rc) goto out;
    if (info_r) *info_r = s.info;
out:
    for (i = 0; i < s.n; i++)
        free(s.ents[i].path);
    free(s.ents);
    if (s.dst >= 0) close(s.dst);
    return rc;
}
