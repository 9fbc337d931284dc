/*
 * gen-inventory-tree.c - the large host bench/inventory measures.
 *
 * usage: gen-inventory-tree FUNCTIONS GPUS
 *
 * Builds under /tmp, and prints the path of, a sysfs tree of exactly FUNCTIONS PCI
 * functions of which GPUS are GPU cards: every card (a VGA function and
 * its HDMI audio) and every other device (a 7-function NIC) sits below a
 * root port of its own, on as many PCI segments as the bus numbers need,
 * as on a big dom0 (no IOMMU groups: isolation is computed).  Every
 * function gets what `lspci -A linux-sysfs -vvv` reads (config, resource,
 * irq, ids, subsystem ids, revision, ...) on top of what xengpu reads.
 * The tree is built with the unit tests' fake-sysfs.c, whose layout
 * imitates the kernel's.
 */
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "tests/unit/fake-sysfs.h"

#define NIC_FNS 7
#define PORTS_PER_SEGMENT 200 /* secondary buses 1..200 on each segment */
#define M (1ull << 20)
#define G (1ull << 30)

struct gen {
    struct fake_sysfs *fs;
    unsigned irq;
    unsigned long long mmio; /* next free address */
};

/*
 * fake-sysfs.c links "driver" by absolute path; the kernel's link is
 * relative, and lspci only follows that one to name the driver.
 */
static void relative_driver(struct gen *g, const char *dir)
{
    char path[128], target[256], rel[512];
    const char *drv;
    size_t depth = 1, len = 0;
    ssize_t n;

    snprintf(path, sizeof(path), "%s/driver", dir);
    n = readlinkat(g->fs->fd, path, target, sizeof(target) - 1);
    if (n <= 0) return;
    target[n] = '\0';
    drv = strrchr(target, '/') + 1;
    for (const char *p = dir; *p; p++)
        depth += *p == '/';
    while (depth--)
        len += (size_t)snprintf(rel + len, sizeof(rel) - len, "../");
    snprintf(rel + len, sizeof(rel) - len, "bus/pci/drivers/%s", drv);
    unlinkat(g->fs->fd, path, 0);
    fake_sysfs_symlink(g->fs, path, rel);
}

static void extras(struct gen *g, const char *bdf, const struct fake_cfg *cfg)
{
    char path[128], buf[32];
    const char *dir = fake_sysfs_devdir(g->fs, bdf);

    relative_driver(g, dir);

    snprintf(path, sizeof(path), "%s/irq", dir);
    snprintf(buf, sizeof(buf), "%u\n", 16 + g->irq++ % 200);
    fake_sysfs_write(g->fs, path, buf);
    snprintf(path, sizeof(path), "%s/revision", dir);
    snprintf(buf, sizeof(buf), "0x%02x\n", cfg->b[0x08]);
    fake_sysfs_write(g->fs, path, buf);
    snprintf(path, sizeof(path), "%s/subsystem_vendor", dir);
    snprintf(buf, sizeof(buf), "0x%02x%02x\n", cfg->b[0x2d], cfg->b[0x2c]);
    fake_sysfs_write(g->fs, path, buf);
    snprintf(path, sizeof(path), "%s/subsystem_device", dir);
    snprintf(buf, sizeof(buf), "0x%02x%02x\n", cfg->b[0x2f], cfg->b[0x2e]);
    fake_sysfs_write(g->fs, path, buf);
    snprintf(path, sizeof(path), "%s/enable", dir);
    fake_sysfs_write(g->fs, path, "1\n");
}

static void subsystem(struct fake_cfg *cfg, uint16_t vendor, uint16_t device)
{
    cfg->b[0x2c] = (uint8_t)vendor;
    cfg->b[0x2d] = (uint8_t)(vendor >> 8);
    cfg->b[0x2e] = (uint8_t)device;
    cfg->b[0x2f] = (uint8_t)(device >> 8);
}

static void root_port(struct gen *g, const char *bdf, unsigned secondary)
{
    struct fake_cfg cfg;
    struct fake_dev dev = {
        .bdf = bdf, .cfg = &cfg, .driver = "pcieport", .resource = ""
    };

    fake_cfg_init(&cfg, 0x8086, 0x347a, 0x060400, 1, 4096);
    fake_cfg_bridge(&cfg, (uint8_t)secondary, (uint8_t)secondary);
    fake_cfg_pm(&cfg, false);
    fake_cfg_pcie(&cfg, 4, false, 4, 16, 4, 16);
    fake_cfg_acs(&cfg, 0x005f, 0x001d);
    fake_sysfs_add(g->fs, &dev);
    extras(g, bdf, &cfg);
}

static void function(struct gen *g, struct fake_dev *dev, struct fake_cfg *cfg,
                     const struct fake_bar *bars, size_t nbars)
{
    char *res = fake_resource(bars, nbars);

    dev->cfg = cfg;
    dev->resource = res;
    fake_sysfs_add(g->fs, dev);
    free(res);
    extras(g, dev->bdf, cfg);
}

static void gpu(struct gen *g, const char *port, const char *slot, bool boot)
{
    struct fake_bar bars[] = {
        { 0, g->mmio, 16 * M, FAKE_MEM32 },
        { 1, g->mmio + 32 * G, 32 * G, FAKE_MEM64_PREF },
        { 3, g->mmio + 64 * G, 32 * M, FAKE_MEM64_PREF },
    };
    struct fake_bar abar = { 0, g->mmio + 16 * M, 16384, FAKE_MEM32 };
    struct fake_cfg cfg;
    char bdf[16];
    struct fake_dev dev = { .bdf = bdf,
                            .parent = port,
                            .driver = "nvidia",
                            .boot_vga = boot ? "1\n" : "0\n",
                            .numa_node = "0\n",
                            .reset_method = "flr bus\n" };

    g->mmio += 128 * G;
    snprintf(bdf, sizeof(bdf), "%s.0", slot);
    fake_cfg_init(&cfg, 0x10de, 0x2204, 0x030000, 0, 4096);
    fake_cfg_multifunction(&cfg);
    subsystem(&cfg, 0x10de, 0x1454);
    fake_cfg_pm(&cfg, true);
    fake_cfg_pcie(&cfg, 0, true, 4, 16, 4, 16);
    function(g, &dev, &cfg, bars, 3);

    snprintf(bdf, sizeof(bdf), "%s.1", slot);
    fake_cfg_init(&cfg, 0x10de, 0x1aef, 0x040300, 0, 4096);
    fake_cfg_multifunction(&cfg);
    subsystem(&cfg, 0x10de, 0x1454);
    fake_cfg_pm(&cfg, true);
    fake_cfg_pcie(&cfg, 0, false, 4, 16, 4, 16);
    dev.driver = "snd_hda_intel";
    dev.boot_vga = NULL;
    dev.reset_method = "bus\n";
    function(g, &dev, &cfg, &abar, 1);
}

static void nic(struct gen *g, const char *port, const char *slot)
{
    struct fake_cfg cfg;
    char bdf[16];
    struct fake_dev dev = { .bdf = bdf,
                            .parent = port,
                            .driver = "ixgbe",
                            .numa_node = "1\n",
                            .reset_method = "flr\n" };
    struct fake_bar bars[2];
    unsigned f;

    for (f = 0; f < NIC_FNS; f++) {
        bars[0] = (struct fake_bar){ 0, g->mmio, M, FAKE_MEM64_PREF };
        bars[1] = (struct fake_bar){ 4, g->mmio + M, 16384, FAKE_MEM64_PREF };
        g->mmio += 2 * M;
        snprintf(bdf, sizeof(bdf), "%s.%u", slot, f);
        fake_cfg_init(&cfg, 0x8086, 0x10fb, 0x020000, 0, 4096);
        fake_cfg_multifunction(&cfg);
        subsystem(&cfg, 0x8086, 0x000c);
        fake_cfg_pm(&cfg, false);
        fake_cfg_pcie(&cfg, 0, true, 2, 8, 2, 8);
        function(g, &dev, &cfg, bars, 2);
    }
}

static int generate(struct gen *g, unsigned functions, unsigned gpus)
{
    char port[16], slot[16];
    unsigned slots, k, seg, j, left = functions;
    bool console = true;

    /* Each card or NIC brings its root port: 3 or 1 + NIC_FNS functions. */
    if (functions < 3 * gpus || (functions - 3 * gpus) % (1 + NIC_FNS))
        return -1;
    slots = gpus + (functions - 3 * gpus) / (1 + NIC_FNS);
    for (k = 0; k < slots; k++) {
        seg = k / PORTS_PER_SEGMENT;
        j = k % PORTS_PER_SEGMENT;
        snprintf(port, sizeof(port), "%04x:00:%02x.%x", seg, j / 8, j % 8);
        snprintf(slot, sizeof(slot), "%04x:%02x:00", seg, j + 1);
        root_port(g, port, j + 1);
        /* Spread the GPUs over the host, the first one the console. */
        if (k * gpus / slots != (k + 1) * gpus / slots) {
            gpu(g, port, slot, console);
            console = false;
            left -= 3;
        } else {
            nic(g, port, slot);
            left -= 1 + NIC_FNS;
        }
    }
    return left ? -1 : 0;
}

int main(int argc, char **argv)
{
    struct gen g = { .mmio = 1ull << 40 };
    unsigned functions, gpus;

    if (argc != 3 || sscanf(argv[1], "%u", &functions) != 1 ||
        sscanf(argv[2], "%u", &gpus) != 1) {
        fprintf(stderr, "usage: gen-inventory-tree FUNCTIONS GPUS\n");
        return 2;
    }
    g.fs = fake_sysfs_new();
    if (generate(&g, functions, gpus)) {
        fprintf(stderr,
                "gen-inventory-tree: %u functions cannot hold %u GPUs "
                "(3 functions each) and %u-function NICs (with ports)\n",
                functions, gpus, NIC_FNS);
        fake_sysfs_free(g.fs);
        return 2;
    }
    /* The tree stays (driver links name its path); the caller removes it. */
    printf("%s\n", g.fs->root);
    return 0;
}
