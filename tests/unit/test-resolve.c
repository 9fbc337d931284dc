/*
 * test-resolve.c - choosing cards for gpu specs, on fake trees of real
 * hosts (realcards.c and below), and the xl pci entries written for them.
 *
 *  - lspci-nvidia-rtx-a6000-x4-romane.txt: four RTX A6000 + audio at
 *    01:00, 41:00, 81:00 and c1:00.  The listing shows neither root ports
 *    nor NUMA nodes: root ports with ACS and nodes 0,0,1,1 are assumed
 *    (a two-socket layout).
 *  - iommu-groups-amd-b550-navi21-rx6950xt-rx550-chipset-group.txt
 *    (rc_b550): the RX 550 is the boot VGA and shares chipset group 15.
 *  - lspci-brief-and-dmesg-nvidia-h100-nvl-x2-amd-genoa.txt (rc_h100):
 *    the H100 PF and its VFs share slot e1:00.
 *
 * Every pci entry written is read back with libxlutil's own
 * xlu_pci_parse_spec_string() to check what xl will make of it.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "capture-log.h"
#include "fake-sysfs.h"
#include "pciback-helper/libxl-compat.h"
#include "realcards.h"
#include "toolstack/resolve.h"

#include <libxlutil.h>

#define M (1ull << 20)

struct ctx {
    struct fake_sysfs *fs;
    struct capture_log log;
    xengpu_host *host;
    xengpu_resolution res;
    xengpu_gpuspec specs[8];
    size_t nspecs;
    xengpu_resolve_req req;
};

static int setup(void **state)
{
    struct ctx *c = calloc(1, sizeof(*c));

    assert_non_null(c);
    c->fs = fake_sysfs_new();
    capture_log_init(&c->log);
    xengpu_resolution_init(&c->res);
    c->req.numa_node = -1;
    c->req.file = "t.cfg";
    *state = c;
    return 0;
}

static int teardown(void **state)
{
    struct ctx *c = *state;

    xengpu_resolution_dispose(&c->res);
    xengpu_host_free(c->host);
    fake_sysfs_free(c->fs);
    capture_log_dispose(&c->log);
    free(c);
    return 0;
}

/* One A6000 (GPU + audio) at 0000:BB:00 below root port RP. */
static void a6000_at(struct fake_sysfs *fs, unsigned bus, const char *rp,
                     const char *node, const char *driver)
{
    struct fake_bar bar = { 0, 0xde000000, 16 * M, FAKE_MEM32 };
    struct bridge b = { rp,           NULL,         0x8086,    0x1901, 4,
                        (uint8_t)bus, (uint8_t)bus, RC_ACS_ON, false,  NULL };
    char gbdf[16], abdf[16], *res = fake_resource(&bar, 1);
    struct fake_cfg g, a;
    struct fake_dev gd = { .bdf = gbdf,
                           .parent = rp,
                           .cfg = &g,
                           .driver = driver,
                           .boot_vga = "0\n",
                           .numa_node = node,
                           .resource = res };
    struct fake_dev ad = { .bdf = abdf,
                           .parent = rp,
                           .cfg = &a,
                           .driver = driver ? driver : "snd_hda_intel",
                           .numa_node = node,
                           .resource = res };

    if (driver && strcmp(driver, "pciback")) ad.driver = "snd_hda_intel";
    snprintf(gbdf, sizeof(gbdf), "0000:%02x:00.0", bus);
    snprintf(abdf, sizeof(abdf), "0000:%02x:00.1", bus);
    rc_add_bridge(fs, &b);
    fake_cfg_init(&g, 0x10de, 0x2230, 0x030000, 0, 4096);
    fake_cfg_multifunction(&g);
    fake_cfg_pm(&g, true);
    fake_cfg_pcie(&g, 0, true, 4, 16, 4, 16);
    fake_cfg_init(&a, 0x10de, 0x1aef, 0x040300, 0, 4096);
    fake_cfg_multifunction(&a);
    fake_cfg_pm(&a, true);
    fake_cfg_pcie(&a, 0, true, 4, 16, 4, 16);
    fake_sysfs_add(fs, &gd);
    fake_sysfs_add(fs, &ad);
    free(res);
}

static void romane(struct ctx *c, const char *prepared_bus)
{
    static const struct {
        unsigned bus;
        const char *rp, *node;
    } cards[] = { { 0x01, "0000:00:01.0", "0\n" },
                  { 0x41, "0000:40:01.0", "0\n" },
                  { 0x81, "0000:80:01.0", "1\n" },
                  { 0xc1, "0000:c0:01.0", "1\n" } };
    char bus[4];
    size_t i;

    for (i = 0; i < 4; i++) {
        snprintf(bus, sizeof(bus), "%02x", cards[i].bus);
        a6000_at(c->fs, cards[i].bus, cards[i].rp, cards[i].node,
                 prepared_bus && !strcmp(bus, prepared_bus) ? "pciback"
                                                            : "nvidia");
    }
}

static void discover(struct ctx *c)
{
    assert_int_equal(xengpu_host_discover(c->fs->fd, &c->log.vtable, &c->host),
                     0);
    c->req.host = c->host;
}

static void spec(struct ctx *c, const char *s)
{
    char why[XENGPU_GPUSPEC_WHYLEN];

    if (xengpu_gpuspec_parse(s, strlen(s), 0, &c->specs[c->nspecs], why,
                             sizeof(why)))
        fail_msg("'%s': %s", s, why);
    c->nspecs++;
    c->req.specs = c->specs;
    c->req.nspecs = c->nspecs;
}

static int resolve(struct ctx *c)
{
    return xengpu_resolve(&c->req, &c->log.vtable, &c->res);
}

static void want_log(struct ctx *c, const char *needle)
{
    if (!capture_log_has(&c->log, needle))
        fail_msg("log '%s' lacks '%s'", c->log.text ? c->log.text : "",
                 needle);
}

/* What xl makes of ENTRY: bdf, virtual devfn, all functions or one. */
static void xl_reads(const char *entry, unsigned bus, unsigned fn,
                     unsigned vdevfn, bool all)
{
    XLU_Config *xlu = xlu_cfg_init(NULL, "test");
    libxl_device_pci pci;

    libxl_device_pci_init(&pci);
    assert_int_equal(xlu_pci_parse_spec_string(xlu, &pci, entry), 0);
    assert_int_equal(pci.bus, bus);
    assert_int_equal(pci.func, fn);
    assert_int_equal(pci.vdevfn, vdevfn);
    assert_int_equal(pci.vfunc_mask == LIBXL_PCI_FUNC_ALL, all);
    libxl_device_pci_dispose(&pci);
    xlu_cfg_destroy(xlu);
}

/* Two of four A6000s for a guest on node 1: the two on node 1. */
static void test_numa_preference(void **state)
{
    struct ctx *c = *state;

    romane(c, NULL);
    discover(c);
    assert_int_equal(xengpu_host_ncards(c->host), 4);
    spec(c, "10de:2230,count=2,permissive=1");
    c->req.numa_node = 1;
    assert_int_equal(resolve(c), 0);
    assert_int_equal(c->res.n, 2);
    assert_string_equal(c->res.choices[0].card->fns[0]->name, "0000:81:00.0");
    assert_string_equal(c->res.choices[1].card->fns[0]->name, "0000:c1:00.0");
    assert_string_equal(
        c->res.choices[0].pci,
        "0000:81:00.0,permissive=1', '0000:81:00.1,permissive=1");
    assert_string_equal(
        c->res.choices[1].pci,
        "0000:c1:00.0,permissive=1', '0000:c1:00.1,permissive=1");
    assert_false(c->res.choices[0].was_prepared);
    /* xl: each entry one function, no virtual slot asked for */
    xl_reads("0000:81:00.0,permissive=1", 0x81, 0, 0, false);
    xl_reads("0000:81:00.1,permissive=1", 0x81, 1, 0, false);
    /* Without a node: lowest addresses. */
    c->req.numa_node = -1;
    assert_int_equal(resolve(c), 0);
    assert_string_equal(c->res.choices[0].card->fns[0]->name, "0000:01:00.0");
    assert_string_equal(c->res.choices[1].card->fns[0]->name, "0000:41:00.0");
}

/* A prepared card is preferred and remembered as such. */
static void test_prefers_prepared(void **state)
{
    struct ctx *c = *state;

    romane(c, "c1");
    discover(c);
    spec(c, "vendor=10de");
    assert_int_equal(resolve(c), 0);
    assert_int_equal(c->res.n, 1);
    assert_string_equal(c->res.choices[0].card->fns[0]->name, "0000:c1:00.0");
    assert_true(c->res.choices[0].was_prepared);
}

/* All or nothing, and why each candidate was refused. */
static void test_held_and_all_or_nothing(void **state)
{
    struct ctx *c = *state;
    xengpu_held_fn fns[] = { { { 0, 0x81, 0, 1 }, 3 } };
    xengpu_held held = { fns, 1 };

    romane(c, NULL);
    discover(c);
    c->req.held = &held;
    spec(c, "41:00.0");
    spec(c, "10de:2230,count=3");
    assert_int_equal(resolve(c), -ENODEV);
    assert_int_equal(c->res.n, 0);
    want_log(c, "t.cfg: gpu[1] \"10de:2230,count=3\": needs 3 free cards, "
                "found 2; 0000:41:00.0 already chosen for gpu[0]; "
                "0000:81:00.0 held by domain 3");
    /* Count 2 fits: the address first, the model takes the others. */
    c->specs[1].count = 2;
    assert_int_equal(resolve(c), 0);
    assert_int_equal(c->res.n, 3);
    assert_string_equal(c->res.choices[0].card->fns[0]->name, "0000:41:00.0");
    assert_string_equal(c->res.choices[1].card->fns[0]->name, "0000:01:00.0");
    assert_string_equal(c->res.choices[2].card->fns[0]->name, "0000:c1:00.0");
    assert_int_equal(c->res.choices[2].spec, 1);
}

/* The config's own pci entries: their cards and virtual slots. */
static void test_config_pci(void **state)
{
    struct ctx *c = *state;
    char *pci[] = { "0000:41:00.0,permissive=1", "03:00.0@10" };
    char *value;

    romane(c, NULL);
    discover(c);
    c->req.pci = pci;
    c->req.npci = 2;
    spec(c, "41:00");
    assert_int_equal(resolve(c), -ENODEV);
    want_log(c, "gpu[0] \"41:00\": needs 1 free card, found 0; 0000:41:00.0 "
                "listed in the config's pci = [...]");
    c->nspecs = 0;
    spec(c, "01:00.1,rdm_policy=relaxed");
    assert_int_equal(resolve(c), 0);
    assert_string_equal(c->res.choices[0].pci,
                        "0000:01:00.0,rdm_policy=relaxed', "
                        "'0000:01:00.1,rdm_policy=relaxed");
    value = xengpu_resolution_pci_value(&c->res, pci, 2);
    assert_string_equal(value, "[ '0000:41:00.0,permissive=1', '03:00.0@10', "
                               "'0000:01:00.0,rdm_policy=relaxed', "
                               "'0000:01:00.1,rdm_policy=relaxed' ]");
    free(value);
    pci[1] = "03:00.0,bogus";
    assert_int_equal(resolve(c), -EINVAL);
    want_log(c, "t.cfg: pci[1] \"03:00.0,bogus\" is not a valid xl pci spec");
    pci[1] = "03:00.0,permissive='1'";
    assert_int_equal(resolve(c), -EINVAL);
}

static void test_no_match(void **state)
{
    struct ctx *c = *state;

    romane(c, NULL);
    discover(c);
    spec(c, "1002:73bf");
    assert_int_equal(resolve(c), -ENODEV);
    want_log(c, "gpu[0] \"1002:73bf\": no card on this host matches "
                "('xengpu list' shows the cards)");
}

/* B550: the RX 550 is dom0's console and not isolated. */
static void test_b550(void **state)
{
    struct ctx *c = *state;

    rc_b550(c->fs);
    discover(c);
    spec(c, "vendor=1002,count=2");
    assert_int_equal(resolve(c), -ENODEV);
    want_log(c, "needs 2 free cards, found 1; 0000:04:00.0 dom0's boot VGA "
                "(--force to take it anyway)");
    c->nspecs = 0;
    spec(c, "vendor=1002");
    assert_int_equal(resolve(c), 0);
    assert_string_equal(c->res.choices[0].pci, "0000:08:00.0', '0000:08:00.1");
    c->req.force = true;
    c->nspecs = 0;
    spec(c, "vendor=1002,count=2");
    assert_int_equal(resolve(c), 0);
    assert_int_equal(c->res.n, 2);
}

/* H100 with two VFs: PF and VFs share the slot; each is its own card. */
static void test_h100_vfs(void **state)
{
    struct ctx *c = *state;

    rc_h100(c->fs, 2);
    discover(c);
    assert_int_equal(xengpu_host_ncards(c->host), 3);
    spec(c, "e1:00.5,permissive=1");
    spec(c, "e1:00");
    spec(c, "10de:2321");
    assert_int_equal(resolve(c), 0);
    assert_int_equal(c->res.n, 3);
    assert_string_equal(c->res.choices[0].pci, "0000:e1:00.5,permissive=1");
    assert_string_equal(c->res.choices[1].pci, "0000:e1:00.0");
    assert_string_equal(c->res.choices[2].pci, "0000:e1:00.4");
    /* A single function is seen as function 0 of its virtual slot. */
    xl_reads(c->res.choices[0].pci, 0xe1, 5, 0, false);
}

static void test_pools(void **state)
{
    static const char text[] = "pool_render = [ \"41:00.0\", \"81:00\" ]\n";
    struct ctx *c = *state;
    xengpu_pools *pools = NULL;

    romane(c, NULL);
    discover(c);
    assert_int_equal(xengpu_pools_parse("xengpu.conf", text, strlen(text),
                                        &c->log.vtable, &pools),
                     0);
    c->req.pools = pools;
    spec(c, "pool=render,count=2");
    assert_int_equal(resolve(c), 0);
    assert_string_equal(c->res.choices[0].card->fns[0]->name, "0000:41:00.0");
    assert_string_equal(c->res.choices[1].card->fns[0]->name, "0000:81:00.0");
    c->specs[0].count = 3;
    assert_int_equal(resolve(c), -ENODEV);
    want_log(c, "\"pool=render,count=2\": needs 3 free cards, found 2");
    c->nspecs = 0;
    spec(c, "pool=compute");
    assert_int_equal(resolve(c), -ENOENT);
    want_log(c, "xengpu.conf: no pool 'compute'");
    c->req.pools = NULL;
    assert_int_equal(resolve(c), -ENOENT);
    xengpu_pools_free(pools);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_numa_preference, setup, teardown),
        cmocka_unit_test_setup_teardown(test_prefers_prepared, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_held_and_all_or_nothing, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_config_pci, setup, teardown),
        cmocka_unit_test_setup_teardown(test_no_match, setup, teardown),
        cmocka_unit_test_setup_teardown(test_b550, setup, teardown),
        cmocka_unit_test_setup_teardown(test_h100_vfs, setup, teardown),
        cmocka_unit_test_setup_teardown(test_pools, setup, teardown),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
