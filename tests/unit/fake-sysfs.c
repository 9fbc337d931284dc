/*
 * fake-sysfs.c - build fake sysfs trees for unit tests.
 *
 * Test support code: it aborts on any I/O error rather than returning
 * one, so a broken fixture is a loud test failure.
 */
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "fake-sysfs.h"

static void __attribute__((noreturn, format(printf, 1, 2)))
die(const char *fmt, ...)
{
    va_list ap;

    va_start(ap, fmt);
    fprintf(stderr, "fake-sysfs: ");
    vfprintf(stderr, fmt, ap);
    fprintf(stderr, "\n");
    va_end(ap);
    abort();
}

static char *xstrdup_printf(const char *fmt, ...)
    __attribute__((format(printf, 1, 2)));

static char *xstrdup_printf(const char *fmt, ...)
{
    va_list ap;
    char *s;

    va_start(ap, fmt);
    if (vasprintf(&s, fmt, ap) < 0) die("out of memory");
    va_end(ap);
    return s;
}

/* --- configuration space ------------------------------------------- */

static void put16(struct fake_cfg *c, size_t off, uint16_t v)
{
    c->b[off] = (uint8_t)v;
    c->b[off + 1] = (uint8_t)(v >> 8);
}

static void put32(struct fake_cfg *c, size_t off, uint32_t v)
{
    put16(c, off, (uint16_t)v);
    put16(c, off + 2, (uint16_t)(v >> 16));
}

void fake_cfg_init(struct fake_cfg *c, uint16_t vendor, uint16_t device,
                   uint32_t class, uint8_t header_type, size_t len)
{
    memset(c, 0, sizeof(*c));
    c->len = len;
    put16(c, 0x00, vendor);
    put16(c, 0x02, device);
    c->b[0x09] = (uint8_t) class;
    c->b[0x0a] = (uint8_t)(class >> 8);
    c->b[0x0b] = (uint8_t)(class >> 16);
    c->b[0x0e] = header_type;
}

void fake_cfg_multifunction(struct fake_cfg *c)
{
    c->b[0x0e] |= 0x80;
}

void fake_cfg_bridge(struct fake_cfg *c, uint8_t secondary,
                     uint8_t subordinate)
{
    c->b[0x19] = secondary;
    c->b[0x1a] = subordinate;
}

size_t fake_cfg_cap(struct fake_cfg *c, uint8_t id, size_t size)
{
    size_t off = c->next ? c->next : 0x40;

    if (off + size > 0x100) die("standard capabilities overflow");
    c->b[off] = id;
    c->b[off + 1] = 0;
    if (c->last)
        c->b[c->last + 1] = (uint8_t)off;
    else
        c->b[0x34] = (uint8_t)off;
    c->b[0x06] |= 0x10; /* status: capabilities list */
    c->last = (uint8_t)off;
    c->next = (uint16_t)((off + size + 3) & ~(size_t)3);
    return off;
}

void fake_cfg_pm(struct fake_cfg *c, bool no_soft_reset)
{
    size_t off = fake_cfg_cap(c, 0x01, 8);

    put16(c, off + 2, 0x0003); /* PM version 3 */
    put16(c, off + 4, no_soft_reset ? 0x0008 : 0x0000);
}

void fake_cfg_pcie(struct fake_cfg *c, uint8_t type, bool flr,
                   uint8_t max_speed, uint8_t max_width, uint8_t speed,
                   uint8_t width)
{
    size_t off = fake_cfg_cap(c, 0x10, 0x3c);

    put16(c, off + 0x02, (uint16_t)(0x0002 | type << 4));
    put32(c, off + 0x04, flr ? 0x10000000 : 0);
    put32(c, off + 0x0c, (uint32_t)(max_speed | max_width << 4));
    put16(c, off + 0x12, (uint16_t)(speed | width << 4));
}

void fake_cfg_af(struct fake_cfg *c, bool flr)
{
    size_t off = fake_cfg_cap(c, 0x13, 6);

    c->b[off + 2] = 6;                 /* length */
    c->b[off + 3] = flr ? 0x03 : 0x01; /* TP, FLR */
}

size_t fake_cfg_ext(struct fake_cfg *c, uint16_t id, size_t size)
{
    size_t off = c->next_ext ? c->next_ext : 0x100;
    uint32_t hdr;

    if (c->len < 0x1000) die("extended capability in 256-byte config");
    if (off + size > 0x1000) die("extended capabilities overflow");
    put32(c, off, (uint32_t)id | 1u << 16);
    if (c->last_ext) {
        hdr = (uint32_t)c->b[c->last_ext] |
              (uint32_t)c->b[c->last_ext + 1] << 8 |
              (uint32_t)c->b[c->last_ext + 2] << 16;
        put32(c, c->last_ext, hdr | (uint32_t)off << 20);
    }
    c->last_ext = (uint16_t)off;
    c->next_ext = (uint16_t)((off + size + 3) & ~(size_t)3);
    return off;
}

void fake_cfg_acs(struct fake_cfg *c, uint16_t cap, uint16_t ctrl)
{
    size_t off = fake_cfg_ext(c, 0x000d, 8);

    put16(c, off + 4, cap);
    put16(c, off + 6, ctrl);
}

void fake_cfg_sriov(struct fake_cfg *c, uint16_t total, uint16_t num,
                    uint16_t vf_device)
{
    size_t off = fake_cfg_ext(c, 0x0010, 0x40);

    put16(c, off + 0x0c, total);
    put16(c, off + 0x0e, total);
    put16(c, off + 0x10, num);
    put16(c, off + 0x1a, vf_device);
}

static bool hexline(const char *line, struct fake_cfg *c)
{
    unsigned off, v, i;
    int n;

    if (sscanf(line, "%2x: %n", &off, &n) != 1 || line[2] != ':') return false;
    line += n;
    for (i = 0; i < 16; i++) {
        if (sscanf(line, "%2x%n", &v, &n) != 1) return false;
        if (off + i >= sizeof(c->b)) return false;
        c->b[off + i] = (uint8_t)v;
        line += n;
    }
    if (off + 16 > c->len) c->len = off + 16;
    return true;
}

void fake_cfg_from_lspci(struct fake_cfg *c, const char *file,
                         const char *name)
{
    FILE *f = fopen(file, "r");
    char line[512];
    bool in = false;

    if (!f) die("%s: %s", file, strerror(errno));
    memset(c, 0, sizeof(*c));
    while (fgets(line, sizeof(line), f)) {
        if (!in) {
            in = !strncmp(line, name, strlen(name));
            continue;
        }
        if (!hexline(line, c) && c->len) break;
    }
    fclose(f);
    if (!c->len) die("%s: no config dump for %s", file, name);
}

/* --- resource -------------------------------------------------------- */

static uint64_t bar_flags(const struct fake_bar *bar)
{
    switch (bar->kind) {
    case FAKE_IO:
        return 0x00040101;
    case FAKE_MEM64:
        return 0x00140204;
    case FAKE_MEM64_PREF:
        return 0x0014220c;
    case FAKE_MEM32:
        break;
    }
    return 0x00040200;
}

char *fake_resource(const struct fake_bar *bars, size_t n)
{
    uint64_t start[13] = { 0 }, end[13] = { 0 }, flags[13] = { 0 };
    char *text = NULL;
    size_t i, len = 0;
    FILE *f = open_memstream(&text, &len);

    if (!f) die("out of memory");
    for (i = 0; i < n; i++) {
        if (bars[i].index >= 13) die("bad BAR index %u", bars[i].index);
        start[bars[i].index] = bars[i].start;
        end[bars[i].index] =
            bars[i].size ? bars[i].start + bars[i].size - 1 : 0;
        flags[bars[i].index] = bar_flags(&bars[i]);
    }
    for (i = 0; i < 13; i++)
        fprintf(f, "0x%016llx 0x%016llx 0x%016llx\n",
                (unsigned long long)start[i], (unsigned long long)end[i],
                (unsigned long long)flags[i]);
    fclose(f);
    return text;
}

/* --- the tree -------------------------------------------------------- */

static void mkdirs(struct fake_sysfs *fs, const char *path)
{
    char *p = strdup(path), *s;

    if (!p) die("out of memory");
    for (s = strchr(p + 1, '/'); s; s = strchr(s + 1, '/')) {
        *s = '\0';
        if (mkdirat(fs->fd, p, 0755) && errno != EEXIST)
            die("mkdir %s: %s", p, strerror(errno));
        *s = '/';
    }
    if (mkdirat(fs->fd, p, 0755) && errno != EEXIST)
        die("mkdir %s: %s", p, strerror(errno));
    free(p);
}

static void parent_dirs(struct fake_sysfs *fs, const char *path)
{
    char *p = strdup(path), *s;

    if (!p) die("out of memory");
    s = strrchr(p, '/');
    if (s) {
        *s = '\0';
        mkdirs(fs, p);
    }
    free(p);
}

void fake_sysfs_write(struct fake_sysfs *fs, const char *path,
                      const char *text)
{
    int fd;

    parent_dirs(fs, path);
    fd = openat(fs->fd, path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (fd < 0) die("create %s: %s", path, strerror(errno));
    if (write(fd, text, strlen(text)) != (ssize_t)strlen(text))
        die("write %s", path);
    close(fd);
}

static void write_bytes(struct fake_sysfs *fs, const char *path,
                        const void *buf, size_t len)
{
    int fd;

    parent_dirs(fs, path);
    fd = openat(fs->fd, path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (fd < 0) die("create %s: %s", path, strerror(errno));
    if (write(fd, buf, len) != (ssize_t)len) die("write %s", path);
    close(fd);
}

void fake_sysfs_symlink(struct fake_sysfs *fs, const char *path,
                        const char *target)
{
    parent_dirs(fs, path);
    if (symlinkat(target, fs->fd, path))
        die("symlink %s: %s", path, strerror(errno));
}

struct fake_sysfs *fake_sysfs_new(void)
{
    struct fake_sysfs *fs = calloc(1, sizeof(*fs));
    char tmpl[] = "/tmp/xengpu-fake-sysfs-XXXXXX";

    if (!fs || !mkdtemp(tmpl)) die("mkdtemp: %s", strerror(errno));
    fs->root = strdup(tmpl);
    fs->fd = open(tmpl, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (!fs->root || fs->fd < 0) die("open %s", tmpl);
    mkdirs(fs, "bus/pci/devices");
    mkdirs(fs, "bus/pci/drivers");
    mkdirs(fs, "kernel/iommu_groups");
    return fs;
}

static int rm_one(const char *path, const struct stat *st, int flag,
                  struct FTW *ftw)
{
    (void)st;
    (void)flag;
    (void)ftw;
    return remove(path);
}

void fake_rmtree(const char *path)
{
    nftw(path, rm_one, 16, FTW_DEPTH | FTW_PHYS);
}

void fake_sysfs_free(struct fake_sysfs *fs)
{
    size_t i;

    if (!fs) return;
    fake_rmtree(fs->root);
    close(fs->fd);
    for (i = 0; i < fs->nnodes; i++)
        free(fs->nodes[i].dir);
    free(fs->nodes);
    free(fs->root);
    free(fs);
}

const char *fake_sysfs_devdir(struct fake_sysfs *fs, const char *bdf)
{
    size_t i;

    for (i = 0; i < fs->nnodes; i++)
        if (!strcmp(fs->nodes[i].bdf, bdf)) return fs->nodes[i].dir;
    return NULL;
}

static char *device_dir(struct fake_sysfs *fs, const struct fake_dev *dev)
{
    const char *pdir;

    if (!dev->parent)
        return xstrdup_printf("devices/pci%.7s/%s", dev->bdf, dev->bdf);
    pdir = fake_sysfs_devdir(fs, dev->parent);
    if (!pdir) die("%s: parent %s not added yet", dev->bdf, dev->parent);
    return xstrdup_printf("%s/%s", pdir, dev->bdf);
}

static void attr(struct fake_sysfs *fs, const char *dir, const char *name,
                 const char *text)
{
    char *path;

    if (!text || text == FAKE_OMIT) return;
    path = xstrdup_printf("%s/%s", dir, name);
    fake_sysfs_write(fs, path, text);
    free(path);
}

static void id_attr(struct fake_sysfs *fs, const char *dir, const char *name,
                    const char *text, const struct fake_cfg *cfg, unsigned off,
                    unsigned bytes)
{
    char buf[16];
    unsigned v = 0, i;

    if (text || !cfg) {
        attr(fs, dir, name, text);
        return;
    }
    for (i = 0; i < bytes; i++)
        v |= (unsigned)cfg->b[off + i] << (8 * i);
    snprintf(buf, sizeof(buf), "0x%0*x\n", bytes * 2, v);
    attr(fs, dir, name, buf);
}

static void link_attr(struct fake_sysfs *fs, const char *dir, const char *name,
                      const char *target)
{
    char *path = xstrdup_printf("%s/%s", dir, name);

    fake_sysfs_symlink(fs, path, target);
    free(path);
}

static void links(struct fake_sysfs *fs, const char *dir,
                  const struct fake_dev *dev)
{
    char *t;

    if (dev->driver) {
        t = xstrdup_printf("bus/pci/drivers/%s", dev->driver);
        mkdirs(fs, t);
        free(t);
        t = xstrdup_printf("%s/bus/pci/drivers/%s", fs->root, dev->driver);
        link_attr(fs, dir, "driver", t);
        free(t);
    }
    if (dev->iommu_group) {
        t = xstrdup_printf("kernel/iommu_groups/%s/devices", dev->iommu_group);
        mkdirs(fs, t);
        free(t);
        t = xstrdup_printf("%s/kernel/iommu_groups/%s", fs->root,
                           dev->iommu_group);
        link_attr(fs, dir, "iommu_group", t);
        free(t);
    }
    if (dev->physfn) {
        t = xstrdup_printf("../%s", dev->physfn);
        link_attr(fs, dir, "physfn", t);
        free(t);
    }
}

void fake_sysfs_add(struct fake_sysfs *fs, const struct fake_dev *dev)
{
    char *dir = device_dir(fs, dev), *link, *target;

    mkdirs(fs, dir);
    id_attr(fs, dir, "vendor", dev->vendor, dev->cfg, 0x00, 2);
    id_attr(fs, dir, "device", dev->device, dev->cfg, 0x02, 2);
    id_attr(fs, dir, "class", dev->class, dev->cfg, 0x09, 3);
    if (dev->cfg) {
        link = xstrdup_printf("%s/config", dir);
        write_bytes(fs, link, dev->cfg->b, dev->cfg->len);
        free(link);
    }
    attr(fs, dir, "resource", dev->resource);
    attr(fs, dir, "boot_vga", dev->boot_vga);
    attr(fs, dir, "numa_node", dev->numa_node ? dev->numa_node : "-1\n");
    attr(fs, dir, "reset_method", dev->reset_method);
    attr(fs, dir, "sriov_totalvfs", dev->sriov_totalvfs);
    attr(fs, dir, "sriov_numvfs", dev->sriov_numvfs);
    links(fs, dir, dev);

    link = xstrdup_printf("bus/pci/devices/%s", dev->bdf);
    target = xstrdup_printf("../../../%s", dir);
    fake_sysfs_symlink(fs, link, target);
    free(link);
    free(target);

    fs->nodes = realloc(fs->nodes, (fs->nnodes + 1) * sizeof(*fs->nodes));
    if (!fs->nodes) die("out of memory");
    snprintf(fs->nodes[fs->nnodes].bdf, sizeof(fs->nodes[0].bdf), "%s",
             dev->bdf);
    fs->nodes[fs->nnodes++].dir = dir;
}
