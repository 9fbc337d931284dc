/*
 * host.c - discover PCI functions and group them into cards.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "host-private.h"
#include "sysfs-paths.h"
#include "sysfs.h"
#include "util.h"

/* Far above any real host; bounds memory on a corrupt or hostile tree. */
#define MAX_DEVICES (1u << 20)

static const char *const state_names[] = {
    [XENGPU_CARD_HOST] = "host",
    [XENGPU_CARD_PREPARED] = "prepared",
    [XENGPU_CARD_RESERVED] = "reserved",
    [XENGPU_CARD_ASSIGNED] = "assigned",
};

const char *xengpu_card_state_name(xengpu_card_state state)
{
    if ((size_t)state >= ARRAY_SIZE(state_names)) return "host";
    return state_names[state];
}

int xengpu_sysfs_open_root(const char *dir, xentoollog_logger *lg, int *fd_r)
{
    const char *env = getenv(XENGPU_SYSFS_ROOT_ENV);
    int fd, err;

    if (!dir) dir = env && *env ? env : XENGPU_SYSFS_DEFAULT_ROOT;
    fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0) {
        err = errno;
        LOGE(lg, ERROR, err, "cannot open sysfs root %s", dir);
        return -err;
    }
    *fd_r = fd;
    return 0;
}

static int cmp_dev(const void *a, const void *b)
{
    return xengpu_bdf_cmp(&((const xengpu_pcidev *)a)->bdf,
                          &((const xengpu_pcidev *)b)->bdf);
}

static void add_device(xengpu_host *host, int root_fd, const char *name,
                       size_t *cap)
{
    xengpu_pcidev *dev;

    if (host->ndevs == *cap) {
        *cap = *cap ? *cap * 2 : 64;
        host->devs =
            xengpu__xreallocarray(host->devs, *cap, sizeof(*host->devs));
    }
    dev = &host->devs[host->ndevs];
    memset(dev, 0, sizeof(*dev));
    if (xengpu__pcidev_read(root_fd, name, host->lg, dev)) {
        xengpu__pcidev_dispose(dev);
        return;
    }
    host->ndevs++;
}

static int read_devices(xengpu_host *host, int root_fd)
{
    struct dirent *de;
    DIR *dir = NULL;
    size_t cap = 0;
    int dfd, rc;

    dfd =
        openat(root_fd, SYSFS_PCI_DEVICES, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (dfd < 0 || !(dir = fdopendir(dfd))) {
        rc = -errno;
        LOGE(host->lg, ERROR, -rc, "cannot read %s", SYSFS_PCI_DEVICES);
        if (dfd >= 0) close(dfd);
        goto out;
    }
    while ((errno = 0, de = readdir(dir))) {
        if (de->d_name[0] == '.') continue;
        if (host->ndevs == MAX_DEVICES) {
            rc = -E2BIG;
            LOG(host->lg, ERROR, "more than %u entries in %s", MAX_DEVICES,
                SYSFS_PCI_DEVICES);
            goto out;
        }
        add_device(host, root_fd, de->d_name, &cap);
    }
    if (errno) {
        rc = -errno;
        LOGE(host->lg, ERROR, -rc, "cannot list %s", SYSFS_PCI_DEVICES);
        goto out;
    }
    if (host->ndevs)
        qsort(host->devs, host->ndevs, sizeof(*host->devs), cmp_dev);
    rc = 0;
out:
    if (dir) closedir(dir);
    return rc;
}

/*
 * bus/pci/devices/<bdf> links to the device's place in the device tree,
 * ".../pci0000:00/0000:00:01.0/0000:01:00.0": the component before the
 * last is the upstream bridge, or the host bridge ("pciDDDD:BB") for a
 * function on a root bus.
 */
static void read_parent(xengpu_host *host, int root_fd, xengpu_pcidev *dev)
{
    char path[sizeof(SYSFS_PCI_DEVICES) + XENGPU_BDF_STRLEN + 1];
    char target[PATH_MAX];
    char *slash, *up;
    xengpu_bdf pbdf;

    snprintf(path, sizeof(path), "%s/%s", SYSFS_PCI_DEVICES, dev->name);
    if (xengpu__sysfs_link(root_fd, path, target, sizeof(target)) ||
        !(slash = strrchr(target, '/')) || strcmp(slash + 1, dev->name)) {
        LOG(host->lg, WARN, "%s: upstream topology unknown", dev->name);
        return;
    }
    *slash = '\0';
    up = strrchr(target, '/');
    up = up ? up + 1 : target;
    if (!strncmp(up, "pci", 3)) {
        dev->on_root_bus = true;
        return;
    }
    if (xengpu_bdf_parse(up, XENGPU_BDF_CANONICAL, &pbdf) ||
        !(dev->parent = xengpu_host_find_dev(host, &pbdf)) ||
        dev->parent == dev)
        LOG(host->lg, WARN, "%s: upstream bridge %s unknown", dev->name, up);
    if (dev->parent == dev) dev->parent = NULL;
}

bool xengpu__is_below(const xengpu_pcidev *dev, const xengpu_pcidev *anc)
{
    unsigned depth = 0;

    for (dev = dev->parent; dev && depth < XENGPU_MAX_DEPTH;
         dev = dev->parent, depth++)
        if (dev == anc) return true;
    return false;
}

/* A crafted tree can make bridges each other's parents; cut such loops. */
static void break_loops(xengpu_host *host)
{
    const xengpu_pcidev *p;
    unsigned depth;
    size_t i;

    for (i = 0; i < host->ndevs; i++) {
        depth = 0;
        for (p = host->devs[i].parent; p && depth < XENGPU_MAX_DEPTH;
             p = p->parent)
            depth++;
        if (!p) continue;
        LOG(host->lg, WARN, "%s: upstream bridges form a loop; ignoring them",
            host->devs[i].name);
        host->devs[i].parent = NULL;
    }
}

static void link_parents(xengpu_host *host, int root_fd)
{
    size_t i;

    for (i = 0; i < host->ndevs; i++) {
        read_parent(host, root_fd, &host->devs[i]);
        if (host->devs[i].iommu_group >= 0) host->sysfs_groups = true;
    }
    break_loops(host);
}

void xengpu_host_free(xengpu_host *host)
{
    size_t i;

    if (!host) return;
    for (i = 0; i < host->ncards; i++) {
        free(host->cards[i].fns);
        free(host->cards[i].upstream);
    }
    free(host->cards);
    for (i = 0; i < host->ndevs; i++)
        xengpu__pcidev_dispose(&host->devs[i]);
    free(host->devs);
    free(host);
}

size_t xengpu_host_ndevs(const xengpu_host *host)
{
    return host->ndevs;
}

const xengpu_pcidev *xengpu_host_dev(const xengpu_host *host, size_t i)
{
    return i < host->ndevs ? &host->devs[i] : NULL;
}

static int cmp_key(const void *key, const void *elem)
{
    return xengpu_bdf_cmp(key, &((const xengpu_pcidev *)elem)->bdf);
}

const xengpu_pcidev *xengpu_host_find_dev(const xengpu_host *host,
                                          const xengpu_bdf *bdf)
{
    if (!host->ndevs) return NULL;
    return bsearch(bdf, host->devs, host->ndevs, sizeof(*host->devs), cmp_key);
}

size_t xengpu_host_ncards(const xengpu_host *host)
{
    return host->ncards;
}

const xengpu_card *xengpu_host_card(const xengpu_host *host, size_t i)
{
    return i < host->ncards ? &host->cards[i] : NULL;
}

void xengpu_host_set_holder(xengpu_host *host, size_t i, long domid)
{
    if (i >= host->ncards) return;
    host->cards[i].domid = domid;
    host->cards[i].state = XENGPU_CARD_ASSIGNED;
}

const xengpu_card *xengpu_host_find_card(const xengpu_host *host,
                                         const xengpu_bdf *bdf)
{
    size_t c, f;

    for (c = 0; c < host->ncards; c++)
        for (f = 0; f < host->cards[c].nfns; f++)
            if (!xengpu_bdf_cmp(&host->cards[c].fns[f]->bdf, bdf))
                return &host->cards[c];
    return NULL;
}

bool xengpu_host_has_sysfs_groups(const xengpu_host *host)
{
    return host->sysfs_groups;
}

int xengpu_host_discover(int sysfs_fd, xentoollog_logger *lg,
                         xengpu_host **host_r)
{
    xengpu_host *host = xengpu__xcalloc(1, sizeof(*host));
    int rc;

    host->lg = lg ? lg : xengpu__logger_default();
    rc = read_devices(host, sysfs_fd);
    if (rc) goto out;
    link_parents(host, sysfs_fd);
    xengpu__host_function_resets(host);
    xengpu__build_cards(host);
    xengpu__host_isolation(host);
    *host_r = host;
    host = NULL;
    rc = 0;
out:
    xengpu_host_free(host);
    return rc;
}
