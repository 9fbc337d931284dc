/*
 * fake-sysfs.h - build fake sysfs trees for unit tests.
 *
 * Modelled on libvirt's tests/virpcimock.c, without LD_PRELOAD: xengpu
 * takes a sysfs root directory fd, so a test builds a tree under a
 * mkdtemp() directory and hands its fd over.  The layout imitates the
 * kernel's:
 *
 *   devices/pciDDDD:BB/<bridge bdf>/.../<bdf>/{vendor,config,...}
 *   bus/pci/devices/<bdf> -> ../../../devices/pciDDDD:BB/.../<bdf>
 *   <bdf>/driver -> <root>/bus/pci/drivers/<name>
 *   <bdf>/iommu_group -> <root>/kernel/iommu_groups/<n>
 *   <vf bdf>/physfn -> ../<pf bdf>
 *
 * Every attribute is given as the text the kernel would print, so tests
 * can just as well give garbage; NULL leaves a derived default or no
 * file (see struct fake_dev).  Helpers abort the test on I/O errors.
 */
#ifndef XENGPU_FAKE_SYSFS_H
#define XENGPU_FAKE_SYSFS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Configuration space under construction. */
struct fake_cfg {
    uint8_t b[4096];
    size_t len;    /* bytes the config file will hold */
    uint8_t last;  /* offset of the last standard capability, or 0 */
    uint16_t next; /* where the next one goes, 0: 0x40 */
    uint16_t last_ext, next_ext;
};

/* Header: ids, class, header type (1 for bridges); LEN 256 or 4096. */
void fake_cfg_init(struct fake_cfg *c, uint16_t vendor, uint16_t device,
                   uint32_t class, uint8_t header_type, size_t len);
void fake_cfg_multifunction(struct fake_cfg *c);
void fake_cfg_bridge(struct fake_cfg *c, uint8_t secondary,
                     uint8_t subordinate);
/* Append a standard capability of SIZE bytes; returns its offset. */
size_t fake_cfg_cap(struct fake_cfg *c, uint8_t id, size_t size);
void fake_cfg_pm(struct fake_cfg *c, bool no_soft_reset);
void fake_cfg_pcie(struct fake_cfg *c, uint8_t type, bool flr,
                   uint8_t max_speed, uint8_t max_width, uint8_t speed,
                   uint8_t width);
void fake_cfg_af(struct fake_cfg *c, bool flr);
/* Append an extended capability of SIZE bytes; returns its offset. */
size_t fake_cfg_ext(struct fake_cfg *c, uint16_t id, size_t size);
void fake_cfg_acs(struct fake_cfg *c, uint16_t cap, uint16_t ctrl);
void fake_cfg_sriov(struct fake_cfg *c, uint16_t total, uint16_t num,
                    uint16_t vf_device);
/*
 * Load an `lspci -xxx` dump ("00: de 10 07 1e ...") of the function
 * headed "NAME" in FILE (a line starting with NAME, then the hex lines).
 */
void fake_cfg_from_lspci(struct fake_cfg *c, const char *file,
                         const char *name);

/* One BAR for fake_resource(). */
struct fake_bar {
    unsigned index; /* 0-5, 6 for the ROM, 7-12 for VF BARs */
    uint64_t start; /* 0 with size 0: unassigned */
    uint64_t size;
    enum { FAKE_MEM32, FAKE_MEM64, FAKE_MEM64_PREF, FAKE_IO } kind;
};

/* The resource file text for BARS (13 lines), malloc'ed. */
char *fake_resource(const struct fake_bar *bars, size_t n);

/* Leave this attribute out even where a default would be derived. */
#define FAKE_OMIT ((const char *)1)

struct fake_dev {
    const char *bdf;
    const char *parent;         /* upstream bridge bdf; NULL: root bus */
    const struct fake_cfg *cfg; /* NULL: no config file */
    const char *vendor, *device, *class;       /* NULL: from cfg */
    const char *resource;                      /* NULL: no file */
    const char *driver;                        /* NULL: unbound */
    const char *iommu_group;                   /* NULL: no link */
    const char *boot_vga;                      /* NULL: no file */
    const char *numa_node;                     /* NULL: "-1" */
    const char *reset_method;                  /* NULL: no file */
    const char *sriov_totalvfs, *sriov_numvfs; /* NULL: no file */
    const char *physfn;                        /* PF bdf for a VF */
};

struct fake_node {
    char bdf[16];
    char *dir; /* device-tree directory, relative to root */
};

struct fake_sysfs {
    char *root;
    int fd; /* O_DIRECTORY fd of root */
    struct fake_node *nodes;
    size_t nnodes;
};

struct fake_sysfs *fake_sysfs_new(void);
/* Remove PATH and everything below it, never following symlinks. */
void fake_rmtree(const char *path);
/* Remove the tree and free FS; NULL is fine. */
void fake_sysfs_free(struct fake_sysfs *fs);
/* Add a function; its parent must have been added first. */
void fake_sysfs_add(struct fake_sysfs *fs, const struct fake_dev *dev);
/* Write TEXT to ROOT/PATH (creating directories). */
void fake_sysfs_write(struct fake_sysfs *fs, const char *path,
                      const char *text);
/* Make ROOT/PATH a symlink to TARGET (creating directories). */
void fake_sysfs_symlink(struct fake_sysfs *fs, const char *path,
                        const char *target);
/* The device-tree directory of BDF relative to the root, or NULL. */
const char *fake_sysfs_devdir(struct fake_sysfs *fs, const char *bdf);

#endif /* XENGPU_FAKE_SYSFS_H */
