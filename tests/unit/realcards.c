/*
 * realcards.c - fake sysfs trees of real hosts and cards.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "pciback-helper/pcicfg.h"
#include "realcards.h"

#define G (1ull << 30)
#define M (1ull << 20)
#define K (1ull << 10)

/* PCIe link speed codes. */
#define GT2_5 1
#define GT8 3
#define GT16 4

#define ACS_CAP 0x005f  /* SV TB RR CR UF DT */
#define ACS_CTRL 0x001d /* SV RR CR UF: what Xen and Linux enable */

#ifndef XENGPU_TEST_DATA
#define XENGPU_TEST_DATA "tests/unit/data"
#endif

void rc_add_bridge(struct fake_sysfs *fs, const struct bridge *b)
{
    struct fake_cfg cfg;
    struct fake_dev dev = {
        .bdf = b->bdf,
        .parent = b->parent,
        .cfg = &cfg,
        .driver = "pcieport",
        .iommu_group = b->group,
        .resource = "",
    };

    fake_cfg_init(&cfg, b->vendor, b->device, 0x060400, 1,
                  b->type == 0xff ? 256 : 4096);
    fake_cfg_bridge(&cfg, b->secondary, b->subordinate);
    if (b->multifunction) fake_cfg_multifunction(&cfg);
    fake_cfg_pm(&cfg, false);
    if (b->type != 0xff) fake_cfg_pcie(&cfg, b->type, false, GT8, 16, GT8, 16);
    if (b->acs != RC_ACS_NONE)
        fake_cfg_acs(&cfg, ACS_CAP, b->acs == RC_ACS_ON ? ACS_CTRL : 0);
    if (b->type == 0xff) dev.driver = NULL;
    fake_sysfs_add(fs, &dev);
}

static void add_fn(struct fake_sysfs *fs, struct fake_dev *dev,
                   const struct fake_bar *bars, size_t nbars)
{
    char *res = fake_resource(bars, nbars);

    dev->resource = res;
    fake_sysfs_add(fs, dev);
    free(res);
}

/* Endpoint config: PM (No_Soft_Reset as given) then PCIe. */
static void endpoint_cfg(struct fake_cfg *cfg, uint16_t vendor,
                         uint16_t device, uint32_t class, bool mf, bool nsr,
                         uint8_t type, bool flr)
{
    fake_cfg_init(cfg, vendor, device, class, 0, 4096);
    if (mf) fake_cfg_multifunction(cfg);
    fake_cfg_pm(cfg, nsr);
    fake_cfg_pcie(cfg, type, flr, GT16, 16, GT2_5, 16);
}

/*
 * lspci-v-xxx-nvidia-rtx2080ti-x4-4func-old-pciids-bugreport.txt: the
 * card at 02:00 (config copied to data/lspci-xxx-rtx2080ti-4func.txt),
 * drivers and BARs as printed; the root port's ACS is assumed.
 */
void rc_rtx2080ti(struct fake_sysfs *fs, enum rc_acs acs)
{
    static const char *const names[] = { "02:00.0", "02:00.1", "02:00.2",
                                         "02:00.3" };
    static const char *const drivers[] = { "nvidia", "snd_hda_intel",
                                           "xhci_hcd", "nvidia-gpu" };
    static const struct fake_bar bars[4][5] = {
        { { 0, 0xd3000000, 16 * M, FAKE_MEM32 },
          { 1, 0x383fe0000000, 256 * M, FAKE_MEM64_PREF },
          { 3, 0x383ff0000000, 32 * M, FAKE_MEM64_PREF },
          { 5, 0x6000, 128, FAKE_IO },
          { 6, 0xd4000000, 512 * K, FAKE_MEM32 } },
        { { 0, 0xd4080000, 16 * K, FAKE_MEM32 } },
        { { 0, 0x383ff2000000, 256 * K, FAKE_MEM64_PREF },
          { 3, 0x383ff2040000, 64 * K, FAKE_MEM64_PREF } },
        { { 0, 0xd4084000, 4 * K, FAKE_MEM32 } },
    };
    static const size_t nbars[] = { 5, 1, 2, 1 };
    struct bridge rp = { "0000:00:02.0", NULL, 0x8086, 0x6f04, 4, 2, 2, acs,
                         false,          NULL };
    struct fake_cfg cfg;
    char bdf[16];
    size_t i;

    rc_add_bridge(fs, &rp);
    for (i = 0; i < 4; i++) {
        struct fake_dev dev = { .bdf = bdf,
                                .parent = "0000:00:02.0",
                                .cfg = &cfg,
                                .driver = drivers[i],
                                .numa_node = "0\n" };

        snprintf(bdf, sizeof(bdf), "0000:%s", names[i]);
        fake_cfg_from_lspci(
            &cfg, XENGPU_TEST_DATA "/lspci-xxx-rtx2080ti-4func.txt", names[i]);
        if (i == 0) dev.boot_vga = "0\n";
        add_fn(fs, &dev, bars[i], nbars[i]);
    }
}

/*
 * lspci-nvidia-rtx-a6000-x4-romane.txt, first card: GPU FLReset+,
 * NoSoftRst+, Legacy Endpoint; audio FLReset-, NoSoftRst+.  Root port
 * assumed (the listing is filtered to NVIDIA), ACS on.  With
 * WITH_RESET_METHOD, the reset_method files a 6.x kernel would show:
 * "flr" for the GPU, none for the audio function (no method works).
 */
void rc_a6000(struct fake_sysfs *fs, bool with_reset_method)
{
    static const struct fake_bar gpu_bars[] = {
        { 0, 0xde000000, 16 * M, FAKE_MEM32 },
        { 1, 0xc0000000, 256 * M, FAKE_MEM64_PREF },
        { 3, 0xd0000000, 32 * M, FAKE_MEM64_PREF },
        { 5, 0x3000, 128, FAKE_IO },
        { 6, 0xdf000000, 512 * K, FAKE_MEM32 },
    };
    static const struct fake_bar audio_bars[] = {
        { 0, 0xdf080000, 16 * K, FAKE_MEM32 },
    };
    struct bridge rp = { "0000:00:01.0", NULL,  0x8086, 0x1901, 4, 1, 1,
                         RC_ACS_ON,      false, NULL };
    struct fake_cfg gpu, audio;
    struct fake_dev g = { .bdf = "0000:01:00.0",
                          .parent = "0000:00:01.0",
                          .cfg = &gpu,
                          .driver = "nvidia",
                          .boot_vga = "0\n",
                          .numa_node = "0\n" };
    struct fake_dev a = { .bdf = "0000:01:00.1",
                          .parent = "0000:00:01.0",
                          .cfg = &audio,
                          .driver = "snd_hda_intel",
                          .numa_node = "0\n" };

    rc_add_bridge(fs, &rp);
    endpoint_cfg(&gpu, 0x10de, 0x2230, 0x030000, true, true,
                 XENGPU_PCIE_LEGACY_ENDPOINT, true);
    endpoint_cfg(&audio, 0x10de, 0x1aef, 0x040300, true, true,
                 XENGPU_PCIE_ENDPOINT, false);
    if (with_reset_method) g.reset_method = "flr\n";
    add_fn(fs, &g, gpu_bars, 5);
    add_fn(fs, &a, audio_bars, 1);
}

/*
 * lspci-nvidia-tesla-p100-pcie-dell-xeon-e5v4-full.txt: root ports with
 * ACSCap+ and ACSCtl all off (this host ran without an IOMMU); the
 * chipset root ports 00:1c.0/00:1c.7 show no ACS capability; the Matrox
 * sits below 07:00.0 -> 08:00.0 -> 09:00.0 (PCIe-PCI bridge).
 */
void rc_dell_p100(struct fake_sysfs *fs)
{
    static const struct fake_bar p100_bars[] = {
        { 0, 0x91000000, 16 * M, FAKE_MEM32 },
        { 1, 0x3b800000000, 16 * G, FAKE_MEM64_PREF },
        { 3, 0x3bc00000000, 32 * M, FAKE_MEM64_PREF },
    };
    static const struct fake_bar mga_bars[] = {
        { 0, 0x90000000, 16 * M, FAKE_MEM32 },
        { 1, 0x91800000, 16 * K, FAKE_MEM32 },
        { 2, 0x91000000, 8 * M, FAKE_MEM32 },
    };
    static const struct bridge bridges[] = {
        { "0000:00:02.0", NULL, 0x8086, 0x6f04, 4, 4, 4, RC_ACS_OFF, false,
          NULL },
        { "0000:00:1c.0", NULL, 0x8086, 0x8d10, 4, 6, 6, RC_ACS_NONE, true,
          NULL },
        { "0000:00:1c.7", NULL, 0x8086, 0x8d1e, 4, 7, 0xb, RC_ACS_NONE, true,
          NULL },
        { "0000:07:00.0", "0000:00:1c.7", 0x1912, 0x001d, 5, 8, 0xb,
          RC_ACS_NONE, false, NULL },
        { "0000:08:00.0", "0000:07:00.0", 0x1912, 0x001d, 6, 9, 0xa,
          RC_ACS_NONE, false, NULL },
        { "0000:09:00.0", "0000:08:00.0", 0x1912, 0x001a, 7, 0xa, 0xa,
          RC_ACS_NONE, false, NULL },
    };
    struct fake_cfg p100, mga;
    struct fake_dev p = { .bdf = "0000:04:00.0",
                          .parent = "0000:00:02.0",
                          .cfg = &p100,
                          .driver = "nvidia" };
    struct fake_dev m = { .bdf = "0000:0a:00.0",
                          .parent = "0000:09:00.0",
                          .cfg = &mga,
                          .driver = "mgag200",
                          .boot_vga = "1\n" };
    size_t i;

    for (i = 0; i < sizeof(bridges) / sizeof(bridges[0]); i++)
        rc_add_bridge(fs, &bridges[i]);
    fake_cfg_init(&p100, 0x10de, 0x15f7, 0x030200, 0, 4096);
    fake_cfg_pm(&p100, true);
    fake_cfg_pcie(&p100, XENGPU_PCIE_ENDPOINT, false, GT8, 16, GT8, 16);
    add_fn(fs, &p, p100_bars, 3);
    /* Conventional PCI: PM only, No_Soft_Reset clear (assumed). */
    fake_cfg_init(&mga, 0x102b, 0x0534, 0x030000, 0, 256);
    fake_cfg_pm(&mga, false);
    add_fn(fs, &m, mga_bars, 3);
}

/*
 * lspci-nvidia-rtx3090-fe-domain0002-unassigned-bars-rk3568.txt: domain
 * 0002, Region 1 and 3 "<unassigned>", link 16GT/s x16 running 2.5GT/s
 * x1, FLReset+, NoSoftRst+, no driver.  RK3568 root port assumed.
 */
void rc_rtx3090_domain2(struct fake_sysfs *fs)
{
    static const struct fake_bar bars[] = {
        { 0, 0xf1000000, 16 * M, FAKE_MEM32 },  { 1, 0, 0, FAKE_MEM64_PREF },
        { 3, 0, 0, FAKE_MEM64_PREF },           { 5, 0x200000, 128, FAKE_IO },
        { 6, 0xf0800000, 512 * K, FAKE_MEM32 },
    };
    struct bridge rp = { "0002:20:00.0", NULL, 0x1d87,      0x3566, 4,
                         0x21,           0x21, RC_ACS_NONE, false,  NULL };
    struct fake_cfg cfg;
    struct fake_dev g = { .bdf = "0002:21:00.0",
                          .parent = "0002:20:00.0",
                          .cfg = &cfg,
                          .boot_vga = "0\n" };

    rc_add_bridge(fs, &rp);
    fake_cfg_init(&cfg, 0x10de, 0x2204, 0x030000, 0, 4096);
    fake_cfg_pm(&cfg, true);
    fake_cfg_pcie(&cfg, XENGPU_PCIE_LEGACY_ENDPOINT, true, GT16, 16, GT2_5, 1);
    add_fn(fs, &g, bars, 5);
}

/*
 * lspci-brief-and-dmesg-nvidia-h100-nvl-x2-amd-genoa.txt: 10de:2321
 * class 0x030200 at e1:00.0; BAR 0 16M, BAR 2 128G, BAR 4 32M, all
 * 64-bit prefetchable; VF BARs for 32 VFs.  Root port, FLR and the
 * enabled VFs are assumed.
 */
void rc_h100(struct fake_sysfs *fs, int nvfs)
{
    static const struct fake_bar bars[] = {
        { 0, 0x68042000000, 16 * M, FAKE_MEM64_PREF },
        { 2, 0x64000000000, 128 * G, FAKE_MEM64_PREF },
        { 4, 0x68040000000, 32 * M, FAKE_MEM64_PREF },
        { 7, 0xc4000000, 8 * M, FAKE_MEM32 },
        { 8, 0x66000000000, 128 * G, FAKE_MEM64_PREF },
        { 10, 0x68000000000, 1 * G, FAKE_MEM64_PREF },
    };
    static const struct fake_bar vf_bars[] = {
        { 0, 0xc4000000, 256 * K, FAKE_MEM32 },
        { 1, 0x66000000000, 4 * G, FAKE_MEM64_PREF },
    };
    struct bridge rp = { "0000:e0:01.1", NULL, 0x1022,    0x14ab, 4,
                         0xe1,           0xe1, RC_ACS_ON, false,  NULL };
    struct fake_cfg cfg, vcfg;
    struct fake_dev g = { .bdf = "0000:e1:00.0",
                          .parent = "0000:e0:01.1",
                          .cfg = &cfg,
                          .driver = "nvidia",
                          .sriov_totalvfs = "32\n",
                          .numa_node = "1\n" };
    char num[16], bdf[32];
    int i;

    snprintf(num, sizeof(num), "%d\n", nvfs);
    g.sriov_numvfs = num;
    rc_add_bridge(fs, &rp);
    fake_cfg_init(&cfg, 0x10de, 0x2321, 0x030200, 0, 4096);
    fake_cfg_pm(&cfg, true);
    fake_cfg_pcie(&cfg, XENGPU_PCIE_ENDPOINT, true, 5, 16, 5, 16);
    fake_cfg_sriov(&cfg, 32, (uint16_t)nvfs, 0x2321);
    add_fn(fs, &g, bars, 6);
    for (i = 0; i < nvfs; i++) {
        struct fake_dev v = { .bdf = bdf,
                              .parent = "0000:e0:01.1",
                              .cfg = &vcfg,
                              .vendor = "0x10de\n",
                              .device = "0x2321\n",
                              .physfn = g.bdf,
                              .numa_node = "1\n" };

        snprintf(bdf, sizeof(bdf), "0000:e1:00.%d", 4 + i);
        /* A VF's config reads 0xffff for its ids, by design. */
        fake_cfg_init(&vcfg, 0xffff, 0xffff, 0x030200, 0, 4096);
        fake_cfg_pcie(&vcfg, XENGPU_PCIE_ENDPOINT, true, 5, 16, 5, 16);
        add_fn(fs, &v, vf_bars, 2);
    }
}

/*
 * iommu-groups-amd-b550-navi21-rx6950xt-rx550-chipset-group.txt, the
 * groups as listed.  Bridges' ACS and PCIe types assumed from their names.
 */
void rc_b550(struct fake_sysfs *fs)
{
    static const struct bridge bridges[] = {
        { "0000:00:01.1", NULL, 0x1022, 0x1483, 4, 6, 8, RC_ACS_ON, true,
          "1" },
        { "0000:00:01.2", NULL, 0x1022, 0x1483, 4, 2, 5, RC_ACS_ON, true,
          "2" },
        { "0000:02:00.2", "0000:00:01.2", 0x1022, 0x43e9, 5, 3, 5, RC_ACS_NONE,
          true, "15" },
        { "0000:03:00.0", "0000:02:00.2", 0x1022, 0x43ea, 6, 4, 4, RC_ACS_NONE,
          false, "15" },
        { "0000:03:08.0", "0000:02:00.2", 0x1022, 0x43ea, 6, 5, 5, RC_ACS_NONE,
          false, "15" },
        { "0000:06:00.0", "0000:00:01.1", 0x1002, 0x1478, 5, 7, 8, RC_ACS_NONE,
          false, "16" },
        { "0000:07:00.0", "0000:06:00.0", 0x1002, 0x1479, 6, 8, 8, RC_ACS_ON,
          false, "17" },
    };
    static const struct {
        const char *bdf, *parent;
        uint16_t vendor, device;
        uint32_t class;
        bool mf;
        const char *group, *driver;
    } fns[] = {
        { "0000:02:00.0", "0000:00:01.2", 0x1022, 0x43ee, 0x0c0330, true, "15",
          "xhci_hcd" },
        { "0000:02:00.1", "0000:00:01.2", 0x1022, 0x43eb, 0x010601, true, "15",
          "ahci" },
        { "0000:04:00.0", "0000:03:00.0", 0x1002, 0x699f, 0x030000, true, "15",
          "amdgpu" },
        { "0000:04:00.1", "0000:03:00.0", 0x1002, 0xaae0, 0x040300, true, "15",
          "snd_hda_intel" },
        { "0000:05:00.0", "0000:03:08.0", 0x10ec, 0x8125, 0x020000, false,
          "15", "r8169" },
        { "0000:08:00.0", "0000:07:00.0", 0x1002, 0x73a5, 0x030000, true, "18",
          "amdgpu" },
        { "0000:08:00.1", "0000:07:00.0", 0x1002, 0xab28, 0x040300, true, "19",
          "snd_hda_intel" },
    };
    static const struct fake_bar bars[] = {
        { 0, 0xe0000000, 256 * M, FAKE_MEM64_PREF },
    };
    struct fake_cfg cfg;
    size_t i;

    for (i = 0; i < 3; i++)
        rc_add_bridge(fs, &bridges[i]);
    for (i = 0; i < 2; i++) {
        struct fake_dev d = { .bdf = fns[i].bdf,
                              .parent = fns[i].parent,
                              .cfg = &cfg,
                              .iommu_group = fns[i].group,
                              .driver = fns[i].driver };

        endpoint_cfg(&cfg, fns[i].vendor, fns[i].device, fns[i].class,
                     fns[i].mf, false, XENGPU_PCIE_ENDPOINT, false);
        add_fn(fs, &d, bars, 1);
    }
    for (i = 3; i < 7; i++)
        rc_add_bridge(fs, &bridges[i]);
    for (i = 2; i < 7; i++) {
        struct fake_dev d = { .bdf = fns[i].bdf,
                              .parent = fns[i].parent,
                              .cfg = &cfg,
                              .iommu_group = fns[i].group,
                              .driver = fns[i].driver };

        endpoint_cfg(&cfg, fns[i].vendor, fns[i].device, fns[i].class,
                     fns[i].mf, true, XENGPU_PCIE_LEGACY_ENDPOINT, true);
        if (fns[i].class == 0x030000)
            d.boot_vga = fns[i].device == 0x699f ? "1\n" : "0\n";
        add_fn(fs, &d, bars, 1);
    }
}

/*
 * iommu-groups-intel-z370-igd-uhd630-gt1030.txt: group 0 the IGD, group
 * 2 root port 00:01.0 with the GT 1030 and its audio.
 */
void rc_z370(struct fake_sysfs *fs)
{
    static const struct fake_bar bars[] = {
        { 0, 0xde000000, 16 * M, FAKE_MEM32 },
    };
    struct bridge rp = { "0000:00:01.0", NULL,  0x8086, 0x1901, 4, 1, 1,
                         RC_ACS_NONE,    false, "2" };
    struct fake_cfg igd, gpu, audio;
    struct fake_dev i = { .bdf = "0000:00:02.0",
                          .cfg = &igd,
                          .iommu_group = "0",
                          .driver = "i915",
                          .boot_vga = "1\n" };
    struct fake_dev g = { .bdf = "0000:01:00.0",
                          .parent = "0000:00:01.0",
                          .cfg = &gpu,
                          .iommu_group = "2",
                          .driver = "nvidia",
                          .boot_vga = "0\n" };
    struct fake_dev a = { .bdf = "0000:01:00.1",
                          .parent = "0000:00:01.0",
                          .cfg = &audio,
                          .iommu_group = "2",
                          .driver = "snd_hda_intel" };

    fake_cfg_init(&igd, 0x8086, 0x3e92, 0x030000, 0, 4096);
    fake_cfg_pm(&igd, false);
    fake_cfg_af(&igd, true);
    add_fn(fs, &i, bars, 1);
    rc_add_bridge(fs, &rp);
    endpoint_cfg(&gpu, 0x10de, 0x1d01, 0x030000, true, true,
                 XENGPU_PCIE_LEGACY_ENDPOINT, true);
    endpoint_cfg(&audio, 0x10de, 0x0fb8, 0x040300, true, true,
                 XENGPU_PCIE_ENDPOINT, false);
    add_fn(fs, &g, bars, 1);
    add_fn(fs, &a, bars, 1);
}

/*
 * lspci-guestside-xen-hvm-aws-g2-grid-k520-passthrough.txt: i440FX
 * guest, conventional PCI only, Cirrus GD 5446 emulated VGA, the
 * passed-through GRID K520 at 00:03.0 and the Xen platform device.
 */
void rc_k520_guest(struct fake_sysfs *fs)
{
    static const struct {
        const char *bdf;
        uint16_t vendor, device;
        uint32_t class;
        bool mf;
        const char *boot_vga, *driver;
    } fns[] = {
        { "0000:00:00.0", 0x8086, 0x1237, 0x060000, false, NULL, NULL },
        { "0000:00:01.0", 0x8086, 0x7000, 0x060100, true, NULL, NULL },
        { "0000:00:01.1", 0x8086, 0x7010, 0x010180, true, NULL, "ata_piix" },
        { "0000:00:01.3", 0x8086, 0x7113, 0x068000, true, NULL, NULL },
        { "0000:00:02.0", 0x1013, 0x00b8, 0x030000, false, "1\n", NULL },
        { "0000:00:03.0", 0x10de, 0x118a, 0x030000, false, "0\n", "nvidia" },
        { "0000:00:1f.0", 0x5853, 0x0001, 0xff8000, false, NULL,
          "xen-platform-pci" },
    };
    static const struct fake_bar bars[] = {
        { 0, 0xf0000000, 32 * M, FAKE_MEM32 },
    };
    struct fake_cfg cfg;
    size_t i;

    for (i = 0; i < sizeof(fns) / sizeof(fns[0]); i++) {
        struct fake_dev d = { .bdf = fns[i].bdf,
                              .cfg = &cfg,
                              .boot_vga = fns[i].boot_vga,
                              .driver = fns[i].driver };

        fake_cfg_init(&cfg, fns[i].vendor, fns[i].device, fns[i].class, 0,
                      256);
        if (fns[i].mf) fake_cfg_multifunction(&cfg);
        add_fn(fs, &d, bars, 1);
    }
}

/*
 * err-amd-reset-bug-vega56-rx6700xt-unknown-header-type-127.txt: after a
 * failed reset the Vega 56's config space reads all ones ("Unknown PCI
 * header type '127'"); sysfs still has the ids the kernel cached.  Root
 * port and audio function assumed.
 */
void rc_vega56_dead(struct fake_sysfs *fs)
{
    static const struct fake_bar bars[] = {
        { 0, 0xe0000000, 256 * M, FAKE_MEM64_PREF },
        { 2, 0xf0000000, 2 * M, FAKE_MEM64_PREF },
        { 5, 0xfce00000, 512 * K, FAKE_MEM32 },
    };
    struct bridge rp = { "0000:00:03.1", NULL, 0x1022,    0x1483, 4,
                         0x0b,           0x0b, RC_ACS_ON, false,  NULL };
    struct fake_cfg dead, audio;
    struct fake_dev g = { .bdf = "0000:0b:00.0",
                          .parent = "0000:00:03.1",
                          .cfg = &dead,
                          .vendor = "0x1002\n",
                          .device = "0x687f\n",
                          .class = "0x030000\n",
                          .driver = "vfio-pci",
                          .boot_vga = "0\n" };
    struct fake_dev a = { .bdf = "0000:0b:00.1",
                          .parent = "0000:00:03.1",
                          .cfg = &audio,
                          .driver = "vfio-pci" };

    rc_add_bridge(fs, &rp);
    fake_cfg_init(&dead, 0, 0, 0, 0, 256);
    memset(dead.b, 0xff, 256);
    endpoint_cfg(&audio, 0x1002, 0xaaf8, 0x040300, true, false,
                 XENGPU_PCIE_LEGACY_ENDPOINT, false);
    add_fn(fs, &g, bars, 3);
    add_fn(fs, &a, bars, 1);
}
