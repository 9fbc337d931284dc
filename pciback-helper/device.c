/*
 * device.c - read one PCI function's sysfs directory.
 *
 * Attributes that a function may lack (boot_vga exists only for VGA
 * class, reset_method only where the kernel can reset, sriov_* only on
 * PFs, driver when unbound, iommu_group without a Linux IOMMU) are
 * silently unknown when absent; present but unreadable or malformed
 * attributes are logged once and treated as unknown.
 */
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

#define CONFIG_MAX 4096
#define RESOURCE_MAX 4096
#define NAME_MAX_LEN 64

static void warn_attr(xentoollog_logger *lg, const xengpu_pcidev *dev,
                      const char *attr, int rc)
{
    if (rc == -ENOENT) return;
    LOGE(lg, WARN, -rc, "%s: ignoring unreadable or malformed %s", dev->name,
         attr);
}

static void read_ids(int dfd, xentoollog_logger *lg, xengpu_pcidev *dev)
{
    uint64_t v, d, c;
    int rc;

    rc = xengpu__sysfs_read_uint(dfd, SYSFS_DEV_VENDOR, 0xffff, &v);
    if (!rc) rc = xengpu__sysfs_read_uint(dfd, SYSFS_DEV_DEVICE, 0xffff, &d);
    if (!rc) rc = xengpu__sysfs_read_uint(dfd, SYSFS_DEV_CLASS, 0xffffff, &c);
    if (rc) {
        LOGE(lg, WARN, -rc, "%s: vendor/device/class unreadable", dev->name);
        return;
    }
    dev->ids_known = true;
    dev->vendor = (uint16_t)v;
    dev->device = (uint16_t)d;
    dev->class = (uint32_t)c;
}

static void read_config(int dfd, xentoollog_logger *lg, xengpu_pcidev *dev)
{
    uint8_t buf[CONFIG_MAX];
    size_t len = 0;
    int rc;

    rc = xengpu__sysfs_read(dfd, SYSFS_DEV_CONFIG, buf, sizeof(buf), &len);
    if (rc) {
        LOGE(lg, WARN, -rc, "%s: config space unreadable", dev->name);
        len = 0;
    }
    rc = xengpu_pcicfg_parse(buf, len, &dev->cfg);
    if (rc == -ENODEV) {
        dev->dead = true;
        LOG(lg, WARN,
            "%s: config space reads all ones: the device has "
            "fallen off the bus (a reset that failed?)",
            dev->name);
    } else if (rc == -ENODATA && len) {
        LOG(lg, WARN, "%s: config space truncated to %zu bytes", dev->name,
            len);
    }
    if (!dev->ids_known && dev->cfg.header && !dev->dead && !dev->is_vf) {
        dev->ids_known = true;
        dev->vendor = dev->cfg.vendor;
        dev->device = dev->cfg.device;
        dev->class = dev->cfg.class;
    }
    dev->is_bridge =
        dev->cfg.header && !dev->dead && dev->cfg.header_type == 1;
}

static void read_resources(int dfd, xentoollog_logger *lg, xengpu_pcidev *dev)
{
    char buf[RESOURCE_MAX];
    size_t len;
    int rc;

    rc = xengpu__sysfs_read(dfd, SYSFS_DEV_RESOURCE, buf, sizeof(buf), &len);
    if (!rc && len == sizeof(buf)) rc = -EFBIG;
    if (!rc) rc = xengpu_resource_parse(buf, len, &dev->res);
    if (rc) {
        warn_attr(lg, dev, SYSFS_DEV_RESOURCE, rc);
        return;
    }
    dev->res_known = true;
}

/* Kernel driver names are short ASCII words; anything else is garbage. */
static bool plain_name(const char *s)
{
    for (; *s; s++)
        if (*s <= ' ' || *s > '~' || *s == '"' || *s == '\\') return false;
    return true;
}

static void read_links(int dfd, xentoollog_logger *lg, xengpu_pcidev *dev)
{
    char buf[NAME_MAX_LEN];
    uint64_t group;
    int rc;

    rc = xengpu__sysfs_link_base(dfd, SYSFS_DEV_DRIVER, buf, sizeof(buf));
    if (!rc && !plain_name(buf)) rc = -EINVAL;
    if (!rc)
        dev->driver = xengpu__xstrdup(buf);
    else
        warn_attr(lg, dev, SYSFS_DEV_DRIVER, rc);

    rc = xengpu__sysfs_link_base(dfd, SYSFS_DEV_IOMMU_GROUP, buf, sizeof(buf));
    if (!rc) rc = xengpu__parse_uint(buf, INT_MAX, &group);
    if (!rc)
        dev->iommu_group = (int)group;
    else
        warn_attr(lg, dev, SYSFS_DEV_IOMMU_GROUP, rc);

    rc = xengpu__sysfs_link_base(dfd, SYSFS_DEV_PHYSFN, buf, sizeof(buf));
    if (!rc) rc = xengpu_bdf_parse(buf, XENGPU_BDF_CANONICAL, &dev->physfn);
    if (!rc)
        dev->is_vf = true;
    else
        warn_attr(lg, dev, SYSFS_DEV_PHYSFN, rc);
}

static int read_count(int dfd, xentoollog_logger *lg, xengpu_pcidev *dev,
                      const char *attr)
{
    uint64_t v;
    int rc;

    rc = xengpu__sysfs_read_uint(dfd, attr, 0xffff, &v);
    if (rc) {
        warn_attr(lg, dev, attr, rc);
        return -1;
    }
    return (int)v;
}

static void read_misc(int dfd, xentoollog_logger *lg, xengpu_pcidev *dev)
{
    char buf[256];
    int v, rc;

    rc = xengpu__sysfs_read_int(dfd, SYSFS_DEV_BOOT_VGA, &v);
    if (!rc && (v == 0 || v == 1))
        dev->boot_vga = v;
    else if (rc != -ENOENT)
        warn_attr(lg, dev, SYSFS_DEV_BOOT_VGA, rc ? rc : -EINVAL);

    rc = xengpu__sysfs_read_int(dfd, SYSFS_DEV_NUMA_NODE, &v);
    if (!rc && v >= -1)
        dev->numa_node = v;
    else if (rc != -ENOENT)
        warn_attr(lg, dev, SYSFS_DEV_NUMA_NODE, rc ? rc : -EINVAL);

    dev->sriov_total = read_count(dfd, lg, dev, SYSFS_DEV_SRIOV_TOTALVFS);
    dev->sriov_num = read_count(dfd, lg, dev, SYSFS_DEV_SRIOV_NUMVFS);

    rc =
        xengpu__sysfs_read_text(dfd, SYSFS_DEV_RESET_METHOD, buf, sizeof(buf));
    if (!rc) {
        dev->reset_method_known = true;
        dev->reset_methods = xengpu__reset_methods_parse(buf);
    } else {
        warn_attr(lg, dev, SYSFS_DEV_RESET_METHOD, rc);
    }
}

int xengpu__pcidev_read(int root_fd, const char *name, xentoollog_logger *lg,
                        xengpu_pcidev *dev)
{
    char path[sizeof(SYSFS_PCI_DEVICES) + XENGPU_BDF_STRLEN + 1];
    int dfd = -1, rc;

    dev->iommu_group = -1;
    dev->numa_node = -1;
    dev->sriov_total = dev->sriov_num = -1;
    rc = xengpu_bdf_parse(name, XENGPU_BDF_CANONICAL, &dev->bdf);
    if (rc) {
        LOG(lg, WARN, "skipping %s/%s: not a PCI address xengpu can use",
            SYSFS_PCI_DEVICES, name);
        goto out;
    }
    xengpu_bdf_format(&dev->bdf, dev->name, sizeof(dev->name));
    snprintf(path, sizeof(path), "%s/%s", SYSFS_PCI_DEVICES, dev->name);
    dfd = openat(root_fd, path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (dfd < 0) {
        rc = -errno;
        LOGE(lg, WARN, errno, "skipping %s: cannot open its sysfs directory",
             dev->name);
        goto out;
    }
    read_ids(dfd, lg, dev);
    read_links(dfd, lg, dev);
    read_config(dfd, lg, dev);
    read_resources(dfd, lg, dev);
    read_misc(dfd, lg, dev);
    rc = 0;
out:
    if (dfd >= 0) close(dfd);
    return rc;
}

void xengpu__pcidev_dispose(xengpu_pcidev *dev)
{
    free(dev->driver);
    dev->driver = NULL;
}
