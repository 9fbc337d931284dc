/*
 * test-host.c - discovery of functions and cards from fake sysfs trees.
 *
 * The real-card trees come from realcards.c, where each is tied to its
 * source file in /work/shared/realworld/:
 *  - lspci-v-xxx-nvidia-rtx2080ti-x4-4func-old-pciids-bugreport.txt
 *  - lspci-nvidia-rtx-a6000-x4-romane.txt
 *  - lspci-nvidia-tesla-p100-pcie-dell-xeon-e5v4-full.txt
 *  - lspci-nvidia-rtx3090-fe-domain0002-unassigned-bars-rk3568.txt
 *  - lspci-brief-and-dmesg-nvidia-h100-nvl-x2-amd-genoa.txt
 *  - iommu-groups-amd-b550-navi21-rx6950xt-rx550-chipset-group.txt
 *  - iommu-groups-intel-z370-igd-uhd630-gt1030.txt
 *  - lspci-guestside-xen-hvm-aws-g2-grid-k520-passthrough.txt
 *  - err-amd-reset-bug-vega56-rx6700xt-unknown-header-type-127.txt
 * The bad trees below are made by hand.
 */
#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <cmocka.h>

#include "capture-log.h"
#include "fake-sysfs.h"
#include "pciback-helper/host.h"
#include "realcards.h"

#define G (1ull << 30)
#define M (1ull << 20)

struct ctx {
    struct fake_sysfs *fs;
    struct capture_log log;
    xengpu_host *host;
};

static int setup(void **state)
{
    struct ctx *c = calloc(1, sizeof(*c));

    assert_non_null(c);
    c->fs = fake_sysfs_new();
    capture_log_init(&c->log);
    *state = c;
    return 0;
}

static int teardown(void **state)
{
    struct ctx *c = *state;

    xengpu_host_free(c->host);
    fake_sysfs_free(c->fs);
    capture_log_dispose(&c->log);
    free(c);
    return 0;
}

static const xengpu_host *discover(struct ctx *c)
{
    xengpu_host_free(c->host);
    c->host = NULL;
    assert_int_equal(xengpu_host_discover(c->fs->fd, &c->log.vtable, &c->host),
                     0);
    return c->host;
}

static const xengpu_card *card_at(const xengpu_host *h, const char *s)
{
    xengpu_bdf bdf;
    const xengpu_card *card;

    assert_int_equal(xengpu_bdf_parse(s, 0, &bdf), 0);
    card = xengpu_host_find_card(h, &bdf);
    if (!card) fail_msg("no card at %s", s);
    assert_int_equal(xengpu_bdf_cmp(&card->fns[0]->bdf, &bdf), 0);
    return card;
}

static const xengpu_pcidev *dev_at(const xengpu_host *h, const char *s)
{
    xengpu_bdf bdf;
    const xengpu_pcidev *dev;

    assert_int_equal(xengpu_bdf_parse(s, 0, &bdf), 0);
    dev = xengpu_host_find_dev(h, &bdf);
    if (!dev) fail_msg("no function at %s", s);
    return dev;
}

/* --- real cards ------------------------------------------------------ */

static void test_rtx2080ti(void **state)
{
    struct ctx *c = *state;
    const xengpu_card *card;
    const xengpu_pcidev *gpu;

    rc_rtx2080ti(c->fs, RC_ACS_ON);
    discover(c);
    assert_int_equal(xengpu_host_ncards(c->host), 1);
    card = card_at(c->host, "0000:02:00.0");
    assert_int_equal(card->nfns, 4);
    gpu = card->fns[0];
    assert_ptr_equal(card->primary, gpu);
    assert_int_equal(gpu->vendor, 0x10de);
    assert_int_equal(gpu->device, 0x1e07);
    assert_int_equal(gpu->class, 0x030000);
    assert_string_equal(gpu->driver, "nvidia");
    assert_string_equal(card->fns[3]->driver, "nvidia-gpu");
    assert_int_equal(card->fns[2]->class, 0x0c0330);
    assert_int_equal(card->fns[3]->class, 0x0c8000);
    /* Only function 0 has FLR (DevCap at 0x7c); NoSoftRst+ everywhere. */
    assert_true(gpu->cfg.flr);
    assert_int_equal(gpu->reset, XENGPU_RESET_FLR);
    assert_int_equal(card->fns[1]->reset, XENGPU_RESET_NONE);
    assert_int_equal(card->fns[2]->reset, XENGPU_RESET_NONE);
    assert_int_equal(card->fns[3]->reset, XENGPU_RESET_NONE);
    assert_true(card->bus_reset_possible);
    assert_int_equal(card->reset, XENGPU_RESET_BUS);
    /* 256 bytes of config: standard list complete, extended unseen. */
    assert_true(gpu->cfg.caps_complete);
    assert_false(gpu->cfg.ext_complete);
    assert_true(gpu->cfg.multifunction);
    assert_true(card->isolated);
    assert_false(card->groups_from_sysfs);
    assert_int_equal(card->nupstream, 1);
    assert_string_equal(card->upstream[0]->name, "0000:00:02.0");
    assert_int_equal(card->nswitch_ports, 0);
    assert_int_equal(gpu->res.nbars, 4);
    assert_int_equal(gpu->res.bars[1].index, 1);
    assert_int_equal(gpu->res.bars[1].size, 256 * M);
    assert_true(gpu->res.bars[1].is64 && gpu->res.bars[1].prefetch);
    assert_true(gpu->res.bars[3].io);
    assert_true(gpu->res.has_rom);
    assert_int_equal(gpu->numa_node, 0);
    assert_int_equal(card->state, XENGPU_CARD_HOST);
    assert_false(card->boot_vga);
    assert_int_equal(c->log.count, 0);
}

/* The same card behind a root port without ACS shares its group. */
static void test_rtx2080ti_shared_root_port(void **state)
{
    struct ctx *c = *state;
    static const struct bridge sibling = {
        "0000:00:02.1", NULL, 0x8086, 0x6f05, 4, 3, 3, RC_ACS_NONE, true, NULL
    };
    struct fake_cfg nvme;
    struct fake_dev d = { .bdf = "0000:03:00.0",
                          .parent = "0000:00:02.1",
                          .cfg = &nvme,
                          .driver = "nvme" };
    struct fake_cfg *rp = calloc(1, sizeof(*rp));
    const xengpu_card *card;

    /* Root port 00:02.0 made multifunction by a sibling 00:02.1. */
    rc_rtx2080ti(c->fs, RC_ACS_NONE);
    rc_add_bridge(c->fs, &sibling);
    fake_cfg_init(&nvme, 0x144d, 0xa808, 0x010802, 0, 4096);
    fake_cfg_pcie(&nvme, XENGPU_PCIE_ENDPOINT, true, 3, 4, 3, 4);
    fake_sysfs_add(c->fs, &d);
    /* Rewrite 00:02.0's header type as multifunction. */
    fake_cfg_init(rp, 0x8086, 0x6f04, 0x060400, 0x81, 4096);
    fake_cfg_bridge(rp, 2, 2);
    fake_cfg_pcie(rp, XENGPU_PCIE_ROOT_PORT, false, 3, 16, 3, 16);
    {
        char path[256];
        int fd;

        snprintf(path, sizeof(path), "%s/config",
                 fake_sysfs_devdir(c->fs, "0000:00:02.0"));
        fd = openat(c->fs->fd, path, O_WRONLY | O_TRUNC | O_CLOEXEC);
        assert_true(fd >= 0);
        assert_int_equal(write(fd, rp->b, rp->len), (ssize_t)rp->len);
        close(fd);
    }
    free(rp);
    discover(c);
    card = card_at(c->host, "0000:02:00.0");
    assert_false(card->isolated);
    assert_non_null(card->shares_with);
    assert_string_equal(card->shares_with->name, "0000:03:00.0");
}

static void test_a6000(void **state)
{
    struct ctx *c = *state;
    const xengpu_card *card;

    rc_a6000(c->fs, false);
    discover(c);
    card = card_at(c->host, "0000:01:00.0");
    assert_int_equal(card->nfns, 2);
    assert_int_equal(card->fns[0]->reset, XENGPU_RESET_FLR);
    /* Audio: no FLR, NoSoftRst+ (no PM reset), a sibling (no bus). */
    assert_int_equal(card->fns[1]->reset, XENGPU_RESET_NONE);
    assert_int_equal(card->reset, XENGPU_RESET_BUS);
    assert_true(card->isolated);
    assert_int_equal(card->fns[0]->cfg.link_max_speed, 4);
    assert_int_equal(card->fns[0]->cfg.link_speed, 1);
    assert_int_equal(card->fns[0]->cfg.link_width, 16);
    assert_true(card->fns[0]->cfg.ext_complete);
}

/* With the kernel's reset_method files the kernel's word is taken. */
static void test_a6000_reset_method(void **state)
{
    struct ctx *c = *state;
    const xengpu_card *card;

    rc_a6000(c->fs, true);
    discover(c);
    card = card_at(c->host, "0000:01:00.0");
    assert_true(card->fns[0]->reset_method_known);
    assert_int_equal(card->fns[0]->reset, XENGPU_RESET_FLR);
    assert_false(card->fns[1]->reset_method_known);
    assert_int_equal(card->fns[1]->reset, XENGPU_RESET_NONE);
    assert_int_equal(card->reset, XENGPU_RESET_BUS);
}

static void test_dell_p100(void **state)
{
    struct ctx *c = *state;
    const xengpu_card *p100, *mga;

    rc_dell_p100(c->fs);
    discover(c);
    assert_int_equal(xengpu_host_ncards(c->host), 2);
    p100 = card_at(c->host, "0000:04:00.0");
    assert_int_equal(p100->primary->class, 0x030200);
    assert_int_equal(p100->nfns, 1);
    /* FLReset-, NoSoftRst+: alone below its root port, so bus reset. */
    assert_int_equal(p100->fns[0]->reset, XENGPU_RESET_BUS);
    assert_int_equal(p100->reset, XENGPU_RESET_BUS);
    assert_int_equal(p100->fns[0]->res.bars[1].size, 16 * G);
    /* ACS present but off: grouped with its root port, still alone. */
    assert_true(p100->isolated);

    mga = card_at(c->host, "0000:0a:00.0");
    assert_true(mga->boot_vga);
    assert_false(mga->fns[0]->cfg.has_pcie);
    assert_int_equal(mga->fns[0]->reset, XENGPU_RESET_PM);
    assert_int_equal(mga->nupstream, 4);
    /* The nearest bridge is a PCIe-to-PCI bridge: no on-card ports. */
    assert_int_equal(mga->nswitch_ports, 0);
    assert_string_equal(mga->upstream[0]->name, "0000:09:00.0");
    assert_string_equal(mga->upstream[3]->name, "0000:00:1c.7");
}

static void test_rtx3090_unassigned_bars(void **state)
{
    struct ctx *c = *state;
    const xengpu_card *card;
    const xengpu_pcidev *gpu;

    rc_rtx3090_domain2(c->fs);
    discover(c);
    card = card_at(c->host, "0002:21:00.0");
    gpu = card->fns[0];
    assert_int_equal(gpu->bdf.domain, 2);
    assert_null(gpu->driver);
    assert_int_equal(gpu->res.nbars, 4);
    assert_true(gpu->res.bars[0].assigned);
    assert_int_equal(gpu->res.bars[0].size, 16 * M);
    assert_false(gpu->res.bars[1].assigned);
    assert_int_equal(gpu->res.bars[1].size, 0);
    assert_true(gpu->res.bars[1].is64);
    assert_false(gpu->res.bars[2].assigned);
    assert_int_equal(gpu->cfg.link_width, 1);
    assert_int_equal(gpu->cfg.link_max_width, 16);
    assert_int_equal(card->reset, XENGPU_RESET_FLR);
    assert_true(card->isolated);
}

static void test_h100(void **state)
{
    struct ctx *c = *state;
    const xengpu_card *card;

    rc_h100(c->fs, 0);
    discover(c);
    assert_int_equal(xengpu_host_ncards(c->host), 1);
    card = card_at(c->host, "0000:e1:00.0");
    assert_int_equal(card->primary->class, 0x030200);
    assert_int_equal(card->fns[0]->res.bars[1].index, 2);
    assert_int_equal(card->fns[0]->res.bars[1].size, 128 * G);
    assert_int_equal(card->fns[0]->res.nvf_bars, 3);
    assert_int_equal(card->fns[0]->sriov_total, 32);
    assert_int_equal(card->fns[0]->sriov_num, 0);
    assert_true(card->fns[0]->cfg.has_sriov);
    assert_int_equal(card->fns[0]->cfg.sriov_total, 32);
    assert_int_equal(card->fns[0]->numa_node, 1);
}

static void test_h100_vfs(void **state)
{
    struct ctx *c = *state;
    const xengpu_card *pf, *vf;

    rc_h100(c->fs, 2);
    discover(c);
    assert_int_equal(xengpu_host_ncards(c->host), 3);
    pf = card_at(c->host, "0000:e1:00.0");
    assert_int_equal(pf->nfns, 1);
    assert_false(pf->is_vf);
    vf = card_at(c->host, "0000:e1:00.5");
    assert_true(vf->is_vf);
    assert_int_equal(vf->nfns, 1);
    assert_false(vf->fns[0]->dead);
    assert_int_equal(vf->fns[0]->vendor, 0x10de);
    assert_int_equal(vf->fns[0]->class, 0x030200);
    assert_int_equal(xengpu_bdf_cmp(&vf->fns[0]->physfn, &pf->fns[0]->bdf), 0);
    assert_true(vf->isolated);
}

static void test_b550_groups(void **state)
{
    struct ctx *c = *state;
    const xengpu_card *navi, *rx550;

    rc_b550(c->fs);
    discover(c);
    assert_true(xengpu_host_has_sysfs_groups(c->host));
    assert_int_equal(xengpu_host_ncards(c->host), 2);
    navi = card_at(c->host, "0000:08:00.0");
    assert_true(navi->groups_from_sysfs);
    assert_true(navi->isolated);
    assert_int_equal(navi->fns[0]->iommu_group, 18);
    assert_int_equal(navi->fns[1]->iommu_group, 19);
    assert_int_equal(navi->nswitch_ports, 2);
    assert_string_equal(navi->switch_ports[0]->name, "0000:07:00.0");
    assert_string_equal(navi->switch_ports[1]->name, "0000:06:00.0");
    assert_int_equal(navi->nupstream, 3);
    assert_true(navi->bus_reset_possible);
    assert_false(navi->reset_quirk);

    rx550 = card_at(c->host, "0000:04:00.0");
    assert_false(rx550->isolated);
    assert_non_null(rx550->shares_with);
    assert_string_equal(rx550->shares_with->name, "0000:02:00.0");
    assert_string_equal(rx550->not_isolated_why, "shares its IOMMU context");
    assert_null(navi->not_isolated_why);
    assert_true(rx550->reset_quirk);
    assert_true(rx550->boot_vga);
}

static void test_z370_groups(void **state)
{
    struct ctx *c = *state;
    const xengpu_card *igd, *gt1030;

    rc_z370(c->fs);
    discover(c);
    igd = card_at(c->host, "0000:00:02.0");
    assert_true(igd->isolated);
    assert_true(igd->boot_vga);
    assert_int_equal(igd->reset, XENGPU_RESET_AF_FLR);
    assert_int_equal(igd->nupstream, 0);
    gt1030 = card_at(c->host, "0000:01:00.0");
    /* Group 2 holds the root port too: a bridge does not break it. */
    assert_true(gt1030->isolated);
    assert_null(gt1030->shares_with);
}

static void test_k520_guest(void **state)
{
    struct ctx *c = *state;
    const xengpu_card *cirrus, *k520;

    rc_k520_guest(c->fs);
    discover(c);
    /* The Xen platform device (class ff80) is not a card. */
    assert_int_equal(xengpu_host_ncards(c->host), 2);
    cirrus = card_at(c->host, "0000:00:02.0");
    assert_true(cirrus->boot_vga);
    k520 = card_at(c->host, "0000:00:03.0");
    assert_false(k520->boot_vga);
    assert_int_equal(k520->reset, XENGPU_RESET_NONE);
    assert_true(k520->isolated);
    assert_true(dev_at(c->host, "0000:00:01.0")->cfg.multifunction);
}

static void test_vega56_fell_off_bus(void **state)
{
    struct ctx *c = *state;
    const xengpu_card *card;

    rc_vega56_dead(c->fs);
    discover(c);
    card = card_at(c->host, "0000:0b:00.0");
    assert_true(card->dead);
    assert_true(card->fns[0]->dead);
    assert_int_equal(card->fns[0]->vendor, 0x1002);
    assert_int_equal(card->fns[0]->device, 0x687f);
    assert_true(card->reset_quirk);
    assert_int_equal(card->fns[0]->reset, XENGPU_RESET_NONE);
    assert_int_equal(card->fns[1]->reset, XENGPU_RESET_PM);
    assert_int_equal(card->reset, XENGPU_RESET_BUS);
    assert_true(capture_log_has(&c->log, "0000:0b:00.0: config space reads "
                                         "all ones"));
}

/* --- bad trees ------------------------------------------------------- */

static void test_empty_tree(void **state)
{
    struct ctx *c = *state;

    discover(c);
    assert_int_equal(xengpu_host_ndevs(c->host), 0);
    assert_int_equal(xengpu_host_ncards(c->host), 0);
}

static void test_no_pci_dir(void **state)
{
    struct ctx *c = *state;
    xengpu_host *h = NULL;
    char empty[] = "/tmp/xengpu-empty-XXXXXX";
    int fd;

    assert_non_null(mkdtemp(empty));
    fd = open(empty, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    assert_int_equal(xengpu_host_discover(fd, &c->log.vtable, &h), -ENOENT);
    assert_null(h);
    assert_true(capture_log_has(&c->log, "cannot read bus/pci/devices"));
    close(fd);
    rmdir(empty);
}

static void add_gpu(struct ctx *c, struct fake_dev *d, struct fake_cfg *cfg)
{
    fake_cfg_init(cfg, 0x10de, 0x2204, 0x030000, 0, 4096);
    fake_cfg_pm(cfg, true);
    fake_cfg_pcie(cfg, XENGPU_PCIE_LEGACY_ENDPOINT, true, 4, 16, 4, 16);
    d->cfg = cfg;
    fake_sysfs_add(c->fs, d);
}

static void test_missing_files(void **state)
{
    struct ctx *c = *state;
    struct fake_cfg cfg;
    struct fake_dev no_config = { .bdf = "0000:01:00.0",
                                  .vendor = "0x10de\n",
                                  .device = "0x2204\n",
                                  .class = "0x030000\n" };
    struct fake_dev no_ids = { .bdf = "0000:02:00.0", .vendor = FAKE_OMIT };
    struct fake_dev nothing = { .bdf = "0000:03:00.0",
                                .numa_node = FAKE_OMIT };
    const xengpu_card *card;

    fake_sysfs_add(c->fs, &no_config);
    add_gpu(c, &no_ids, &cfg);
    fake_sysfs_add(c->fs, &nothing);
    discover(c);
    assert_int_equal(xengpu_host_ndevs(c->host), 3);
    /* No config: the sysfs ids still make it a card, reset unknown. */
    card = card_at(c->host, "0000:01:00.0");
    assert_false(card->fns[0]->cfg.header);
    assert_int_equal(card->reset, XENGPU_RESET_NONE);
    assert_false(card->fns[0]->res_known);
    assert_true(capture_log_has(&c->log, "0000:01:00.0: config space "
                                         "unreadable"));
    /* No vendor file: ids from config space. */
    card = card_at(c->host, "0000:02:00.0");
    assert_int_equal(card->fns[0]->vendor, 0x10de);
    /* Nothing at all: a function with unknown ids, not a card. */
    assert_false(dev_at(c->host, "0000:03:00.0")->ids_known);
    assert_int_equal(dev_at(c->host, "0000:03:00.0")->numa_node, -1);
    assert_int_equal(xengpu_host_ncards(c->host), 2);
}

static void test_garbage_values(void **state)
{
    struct ctx *c = *state;
    struct fake_cfg cfg;
    struct fake_dev d = { .bdf = "0000:01:00.0",
                          .vendor = "0xzz\n",
                          .class = "0x03000000\n",
                          .numa_node = "abc\n",
                          .boot_vga = "2\n",
                          .resource = "garbage\n",
                          .reset_method = "bogus words\n",
                          .sriov_totalvfs = "-5\n",
                          .sriov_numvfs = "99999999999999999999\n" };
    const xengpu_pcidev *dev;

    add_gpu(c, &d, &cfg);
    fake_sysfs_symlink(c->fs, "devices/pci0000:01/0000:01:00.0/iommu_group",
                       "../../../kernel/iommu_groups/notanumber");
    discover(c);
    dev = dev_at(c->host, "0000:01:00.0");
    /* Bad sysfs ids: config space is used instead. */
    assert_true(dev->ids_known);
    assert_int_equal(dev->class, 0x030000);
    assert_int_equal(dev->numa_node, -1);
    assert_false(dev->boot_vga);
    assert_false(dev->res_known);
    assert_int_equal(dev->iommu_group, -1);
    assert_int_equal(dev->sriov_total, -1);
    assert_int_equal(dev->sriov_num, -1);
    assert_true(dev->reset_method_known);
    assert_int_equal(dev->reset, XENGPU_RESET_NONE);
    assert_true(capture_log_has(&c->log, "ignoring unreadable or malformed "
                                         "numa_node"));
    assert_true(capture_log_has(&c->log, "malformed resource"));
    assert_true(capture_log_has(&c->log, "malformed iommu_group"));
}

static void test_truncated_config(void **state)
{
    struct ctx *c = *state;
    struct fake_cfg cfg;
    struct fake_dev d = { .bdf = "0000:01:00.0" };
    const xengpu_pcidev *dev;

    /* PM at 0x40 fits; the PCIe capability at 0x48 is cut at 0x4a. */
    fake_cfg_init(&cfg, 0x10de, 0x2204, 0x030000, 0, 4096);
    fake_cfg_pm(&cfg, true);
    fake_cfg_pcie(&cfg, XENGPU_PCIE_LEGACY_ENDPOINT, true, 4, 16, 4, 16);
    cfg.len = 0x4a;
    d.cfg = &cfg;
    fake_sysfs_add(c->fs, &d);
    discover(c);
    dev = dev_at(c->host, "0000:01:00.0");
    assert_true(dev->cfg.header);
    assert_true(dev->cfg.has_pm);
    assert_false(dev->cfg.has_pcie);
    assert_false(dev->cfg.caps_complete);
    assert_int_equal(dev->reset, XENGPU_RESET_NONE);
}

static void test_short_config(void **state)
{
    struct ctx *c = *state;
    struct fake_cfg cfg;
    struct fake_dev d = { .bdf = "0000:01:00.0" };

    fake_cfg_init(&cfg, 0x10de, 0x2204, 0x030000, 0, 32);
    d.cfg = &cfg;
    fake_sysfs_add(c->fs, &d);
    discover(c);
    assert_false(dev_at(c->host, "0000:01:00.0")->cfg.header);
    assert_true(capture_log_has(&c->log, "truncated to 32 bytes"));
    assert_int_equal(xengpu_host_ncards(c->host), 1);
}

static void test_dead_bridge(void **state)
{
    struct ctx *c = *state;
    struct fake_cfg cfg;
    struct fake_dev gpu = { .bdf = "0000:02:00.0", .parent = "0000:00:01.0" };
    struct fake_dev rp = { .bdf = "0000:00:01.0",
                           .vendor = "0x8086\n",
                           .device = "0x1901\n",
                           .class = "0x060400\n" };
    const xengpu_card *card;

    fake_cfg_init(&cfg, 0, 0, 0, 0, 4096);
    memset(cfg.b, 0xff, cfg.len);
    rp.cfg = &cfg;
    fake_sysfs_add(c->fs, &rp);
    add_gpu(c, &gpu, &cfg);
    discover(c);
    card = card_at(c->host, "0000:02:00.0");
    assert_true(dev_at(c->host, "0000:00:01.0")->dead);
    /* The dead bridge is not known to be a bridge: not isolated. */
    assert_false(card->isolated);
}

static void test_symlink_loops(void **state)
{
    struct ctx *c = *state;
    struct fake_cfg cfg;
    struct fake_dev d = { .bdf = "0000:01:00.0" };
    const xengpu_pcidev *dev;

    add_gpu(c, &d, &cfg);
    /* A device entry pointing at itself, an attribute loop, a driver loop. */
    fake_sysfs_symlink(c->fs, "bus/pci/devices/0000:05:00.0", "0000:05:00.0");
    fake_sysfs_symlink(c->fs, "devices/pci0000:01/0000:01:00.0/reset_method",
                       "reset_method");
    fake_sysfs_symlink(c->fs, "devices/pci0000:01/0000:01:00.0/driver",
                       "driver");
    discover(c);
    assert_int_equal(xengpu_host_ndevs(c->host), 1);
    dev = dev_at(c->host, "0000:01:00.0");
    assert_false(dev->reset_method_known);
    assert_string_equal(dev->driver, "driver");
    assert_true(capture_log_has(&c->log, "skipping 0000:05:00.0"));
}

static void test_parent_loop(void **state)
{
    struct ctx *c = *state;
    struct fake_cfg cfg;
    struct fake_dev a = { .bdf = "0000:01:00.0" };
    struct fake_dev b = { .bdf = "0000:02:00.0" };
    const xengpu_pcidev *dev;

    add_gpu(c, &a, &cfg);
    add_gpu(c, &b, &cfg);
    /* 02:00.0 claims to be below 01:00.0, and 01:00.0 below 02:00.0. */
    fake_sysfs_symlink(c->fs, "devices/x/0000:02:00.0/0000:01:00.0",
                       "../../pci0000:01/0000:01:00.0");
    fake_sysfs_symlink(c->fs, "devices/x/0000:01:00.0/0000:02:00.0",
                       "../../pci0000:02/0000:02:00.0");
    assert_int_equal(unlinkat(c->fs->fd, "bus/pci/devices/0000:01:00.0", 0),
                     0);
    assert_int_equal(unlinkat(c->fs->fd, "bus/pci/devices/0000:02:00.0", 0),
                     0);
    fake_sysfs_symlink(c->fs, "bus/pci/devices/0000:01:00.0",
                       "../../../devices/x/0000:02:00.0/0000:01:00.0");
    fake_sysfs_symlink(c->fs, "bus/pci/devices/0000:02:00.0",
                       "../../../devices/x/0000:01:00.0/0000:02:00.0");
    discover(c);
    assert_int_equal(xengpu_host_ndevs(c->host), 2);
    dev = dev_at(c->host, "0000:01:00.0");
    assert_null(dev->parent);
    assert_true(capture_log_has(&c->log, "form a loop"));
    assert_string_equal(card_at(c->host, "0000:01:00.0")->not_isolated_why,
                        "upstream topology unknown");
    /* Topology that cannot be trusted never counts as isolated. */
    assert_false(card_at(c->host, "0000:01:00.0")->isolated);
    assert_false(card_at(c->host, "0000:02:00.0")->isolated);
}

static void test_odd_entries(void **state)
{
    struct ctx *c = *state;
    struct fake_cfg cfg;
    struct fake_dev d = { .bdf = "0000:01:00.0" };
    const xengpu_pcidev *dev;

    add_gpu(c, &d, &cfg);
    /* VMD domains are beyond Xen's 16-bit segments. */
    fake_sysfs_write(c->fs, "devices/pci10000:e0/10000:e0:17.0/vendor",
                     "0x8086\n");
    fake_sysfs_symlink(c->fs, "bus/pci/devices/10000:e0:17.0",
                       "../../../devices/pci10000:e0/10000:e0:17.0");
    fake_sysfs_write(c->fs, "bus/pci/devices/0000:09:00.0", "a file\n");
    fake_sysfs_write(c->fs, "bus/pci/devices/README", "x\n");
    /* A FIFO where an attribute should be must not block discovery. */
    assert_int_equal(
        mkfifoat(c->fs->fd, "devices/pci0000:01/0000:01:00.0/boot_vga", 0644),
        0);
    assert_int_equal(mkdirat(c->fs->fd,
                             "devices/pci0000:01/0000:01:00.0/reset_method",
                             0755),
                     0);
    discover(c);
    assert_int_equal(xengpu_host_ndevs(c->host), 1);
    dev = dev_at(c->host, "0000:01:00.0");
    assert_false(dev->boot_vga);
    assert_false(dev->reset_method_known);
    assert_true(capture_log_has(&c->log, "skipping bus/pci/devices/"
                                         "10000:e0:17.0"));
    assert_true(capture_log_has(&c->log, "skipping 0000:09:00.0"));
}

int main(void)
{
#define T(f) cmocka_unit_test_setup_teardown(f, setup, teardown)
    const struct CMUnitTest tests[] = {
        T(test_rtx2080ti),
        T(test_rtx2080ti_shared_root_port),
        T(test_a6000),
        T(test_a6000_reset_method),
        T(test_dell_p100),
        T(test_rtx3090_unassigned_bars),
        T(test_h100),
        T(test_h100_vfs),
        T(test_b550_groups),
        T(test_z370_groups),
        T(test_k520_guest),
        T(test_vega56_fell_off_bus),
        T(test_empty_tree),
        T(test_no_pci_dir),
        T(test_missing_files),
        T(test_garbage_values),
        T(test_truncated_config),
        T(test_short_config),
        T(test_dead_bridge),
        T(test_symlink_loops),
        T(test_parent_loop),
        T(test_odd_entries),
    };
#undef T

    return cmocka_run_group_tests_name("host", tests, NULL, NULL);
}
