/*
 * test-layout.c - the MMIO hole a guest needs, on fake trees of real
 * cards (realcards.c and the dumps named at each case), discovered by the
 * real discovery code.
 *
 * Every case also counts QEMU's own BARs (layout.c): cirrus-vga 32 MiB +
 * 4 KiB + a 64 KiB ROM, xen-platform 16 MiB, four e1000 NICs with 128 KiB
 * + a 256 KiB ROM each.
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
#include "pciback-helper/pcicfg.h"
#include "realcards.h"
#include "toolstack/layout.h"

#define K (1ull << 10)
#define M (1ull << 20)
#define G (1ull << 30)

#define EMULATED (32 * M + 4 * K + 64 * K + 16 * M + 4 * (128 * K + 256 * K))

struct ctx {
    struct fake_sysfs *fs;
    struct capture_log log;
    xengpu_host *host;
    const xengpu_card *cards[8];
    size_t n;
    char why[XENGPU_LAYOUT_WHYLEN];
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

/* A PCIe endpoint on the root bus with BARS as a dump lists them. */
static void add_fn(struct fake_sysfs *fs, const char *bdf, uint16_t vendor,
                   uint16_t device, uint32_t class, bool mf,
                   const struct fake_bar *bars, size_t nbars)
{
    char *res = fake_resource(bars, nbars);
    struct fake_cfg cfg;
    struct fake_dev d = { .bdf = bdf, .cfg = &cfg, .resource = res };

    fake_cfg_init(&cfg, vendor, device, class, 0, 4096);
    if (mf) fake_cfg_multifunction(&cfg);
    fake_cfg_pm(&cfg, true);
    fake_cfg_pcie(&cfg, XENGPU_PCIE_LEGACY_ENDPOINT, true, 4, 16, 4, 16);
    fake_sysfs_add(fs, &d);
    free(res);
}

/*
 * lspci-nvidia-rtx-a6000-x4-romane.txt: GPU BAR 0 16M 32-bit, BAR 1
 * 256M and BAR 3 32M 64-bit prefetchable, 128 I/O ports, a 512K ROM;
 * audio BAR 0 16K.  BAR1 as given: the dump's ReBAR capability offers 64
 * MiB to 64 GiB.
 */
static void a6000(struct fake_sysfs *fs, unsigned bus, uint64_t bar1)
{
    const struct fake_bar gpu[] = {
        { 0, 0xde000000, 16 * M, FAKE_MEM32 },
        { 1, 0x28000000000ull + bus * 0x2000000000ull, bar1, FAKE_MEM64_PREF },
        { 3, 0x28070000000ull + bus * 0x2000000000ull, 32 * M,
          FAKE_MEM64_PREF },
        { 5, 0x3000, 128, FAKE_IO },
        { 6, 0xdf000000, 512 * K, FAKE_MEM32 },
    };
    const struct fake_bar audio[] = { { 0, 0xdf080000, 16 * K, FAKE_MEM32 } };
    char g[16], a[16];

    snprintf(g, sizeof(g), "0000:%02x:00.0", bus);
    snprintf(a, sizeof(a), "0000:%02x:00.1", bus);
    add_fn(fs, g, 0x10de, 0x2230, 0x030000, true, gpu, 5);
    add_fn(fs, a, 0x10de, 0x1aef, 0x040300, true, audio, 1);
}

/* Discover, and take every card of the host, ascending. */
static void discover(struct ctx *c)
{
    size_t i;

    assert_int_equal(xengpu_host_discover(c->fs->fd, &c->log.vtable, &c->host),
                     0);
    c->n = xengpu_host_ncards(c->host);
    assert_true(c->n <= 8);
    for (i = 0; i < c->n; i++)
        c->cards[i] = xengpu_host_card(c->host, i);
}

static void plan(struct ctx *c, xengpu_layout_need *need)
{
    if (xengpu_layout_plan(c->cards, c->n, need, c->why, sizeof(c->why)))
        fail_msg("plan: %s", c->why);
    assert_int_equal(need->emulated_bytes, EMULATED);
}

static void fits(struct ctx *c, unsigned hole)
{
    if (xengpu_layout_check(c->cards, c->n, hole, c->why, sizeof(c->why)))
        fail_msg("mmio_hole %u: %s", hole, c->why);
}

/* The A6000 with BAR 1 resized to 64 GiB, the most its ReBAR offers. */
static void test_64g_bar(void **state)
{
    struct ctx *c = *state;
    xengpu_layout_need need;

    a6000(c->fs, 1, 64 * G);
    discover(c);
    assert_int_equal(c->n, 1);
    plan(c, &need);
    assert_int_equal(need.low_bytes, 16 * M + 512 * K + 16 * K);
    assert_int_equal(need.high_bytes, 64 * G + 32 * M);
    assert_int_equal(need.largest_bar, 64 * G);
    assert_string_equal(need.largest_fn->name, "0000:01:00.0");
    assert_int_equal(need.largest_index, 1);
    /* 64 GiB goes above 4 GiB anyway; the rest fits the default hole. */
    assert_int_equal(need.hole_mib, 256);
    assert_false(need.relocated);
    fits(c, 0);
    fits(c, 256);
}

/* lspci-brief-and-dmesg-nvidia-h100-nvl-x2-amd-genoa.txt: 128 GiB BAR 2. */
static void test_h100_128g(void **state)
{
    struct ctx *c = *state;
    xengpu_layout_need need;

    rc_h100(c->fs, 0);
    discover(c);
    assert_int_equal(c->n, 1);
    plan(c, &need);
    /* All three BARs are 64-bit; the VF BARs are not the PF's. */
    assert_int_equal(need.low_bytes, 0);
    assert_int_equal(need.high_bytes, 128 * G + 16 * M + 32 * M);
    assert_int_equal(need.largest_bar, 128 * G);
    assert_int_equal(need.largest_index, 2);
    assert_int_equal(need.hole_mib, 256);
    assert_false(need.relocated);
    fits(c, 0);
}

/* lspci-nvidia-tesla-p100-pcie-dell-xeon-e5v4-full.txt (rc_dell_p100). */
static void test_p100_16g(void **state)
{
    struct ctx *c = *state;
    xengpu_layout_need need;

    rc_dell_p100(c->fs);
    discover(c);
    assert_int_equal(c->n, 2); /* the P100 and the Matrox */
    assert_string_equal(c->cards[0]->fns[0]->name, "0000:04:00.0");
    c->n = 1;
    plan(c, &need);
    assert_int_equal(need.low_bytes, 16 * M);
    assert_int_equal(need.high_bytes, 16 * G + 32 * M);
    assert_int_equal(need.largest_bar, 16 * G);
    assert_int_equal(need.hole_mib, 256);
    fits(c, 0);
}

/*
 * lspci-nvidia-rtx3090-fe-nouveau-rk3588.txt: the 256 MiB BAR of a
 * consumer card.  Below 4 GiB it needs a 256 MiB-aligned slot: hvmloader
 * checks the room left before aligning, so mmio_hole = 448 (384 MiB for
 * 354 MiB of BARs) leaves BAR 1 unprogrammed.  The default hole works by
 * moving it above 4 GiB.
 */
static void test_rtx3090_256m(void **state)
{
    static const struct fake_bar bars[] = {
        { 0, 0x918000000, 16 * M, FAKE_MEM32 },
        { 1, 0x900000000, 256 * M, FAKE_MEM64_PREF },
        { 3, 0x910000000, 32 * M, FAKE_MEM64_PREF },
        { 5, 0x100000, 128, FAKE_IO },
        { 6, 0x919000000, 512 * K, FAKE_MEM32 },
    };
    struct ctx *c = *state;
    xengpu_layout_need need;

    add_fn(c->fs, "0000:01:00.0", 0x10de, 0x2204, 0x030000, false, bars, 5);
    discover(c);
    assert_int_equal(c->n, 1);
    plan(c, &need);
    assert_int_equal(need.low_bytes, 16 * M + 512 * K);
    assert_int_equal(need.high_bytes, 256 * M + 32 * M);
    assert_int_equal(need.largest_bar, 256 * M);
    assert_int_equal(need.hole_mib, 512);
    assert_false(need.relocated);
    fits(c, 0);
    fits(c, 512);
    fits(c, 3072);
    assert_int_equal(
        xengpu_layout_check(c->cards, c->n, 448, c->why, sizeof(c->why)),
        -ENOSPC);
    assert_string_equal(c->why,
                        "card 0000:01:00.0: BAR 1 of 0000:01:00.0 (256 MiB, "
                        "64-bit) finds no room below 4 GiB with mmio_hole = "
                        "448 (384 MiB for BARs, 66.1 MiB of 32-bit BARs and "
                        "ROMs); use mmio_hole = 512");
}

/*
 * lspci-v-xxx-nvidia-rtx2080ti-x4-4func-old-pciids-bugreport.txt
 * (rc_rtx2080ti): four functions, eight memory BARs from 4 KiB to 256
 * MiB, 32- and 64-bit.
 */
static void test_2080ti_many_small(void **state)
{
    struct ctx *c = *state;
    xengpu_layout_need need;

    rc_rtx2080ti(c->fs, RC_ACS_ON);
    discover(c);
    assert_int_equal(c->n, 1);
    assert_int_equal(c->cards[0]->nfns, 4);
    plan(c, &need);
    /* VGA BAR 0 + ROM, audio 16K, UCSI 4K; xHCI's BARs are 64-bit. */
    assert_int_equal(need.low_bytes, 16 * M + 512 * K + 16 * K + 4 * K);
    assert_int_equal(need.high_bytes, 256 * M + 32 * M + 256 * K + 64 * K);
    assert_int_equal(need.largest_bar, 256 * M);
    assert_string_equal(need.largest_fn->name, "0000:02:00.0");
    assert_int_equal(need.hole_mib, 512);
    assert_false(need.relocated);
    fits(c, 0);
    fits(c, 512);
}

/*
 * lspci-nvidia-tesla-p100-pcie-dell-xeon-e5v4-full.txt, 0a:00.0: the
 * Matrox G200eR2, whose BARs are all 32-bit: 16M, 16K, 8M, and the 128K
 * shadow ROM.  Nothing can go above 4 GiB.
 */
static void test_matrox_all_32bit(void **state)
{
    static const struct fake_bar bars[] = {
        { 0, 0x90000000, 16 * M, FAKE_MEM32 },
        { 1, 0x92800000, 16 * K, FAKE_MEM32 },
        { 2, 0x92000000, 8 * M, FAKE_MEM32 },
        { 6, 0xc0000, 128 * K, FAKE_MEM32 },
    };
    struct ctx *c = *state;
    xengpu_layout_need need;

    add_fn(c->fs, "0000:0a:00.0", 0x102b, 0x0534, 0x030000, false, bars, 4);
    discover(c);
    plan(c, &need);
    assert_int_equal(need.low_bytes, 16 * M + 8 * M + 16 * K + 128 * K);
    assert_int_equal(need.high_bytes, 0);
    assert_int_equal(need.largest_bar, 16 * M);
    assert_int_equal(need.largest_index, 0);
    assert_int_equal(need.hole_mib, 256);
    assert_false(need.relocated);
    fits(c, 0);
}

/*
 * lspci-nvidia-rtx-a6000-x4-romane.txt: all four A6000s in one guest,
 * 1267.6 MiB of BARs of 1 GiB or less.  Four 256 MiB BARs need a 256
 * MiB-aligned start, so mmio_hole = 1536 is the smallest that keeps them
 * all below 4 GiB; 1408 looks big enough (1344 MiB) but alignment wastes
 * 128 MiB and a 16 MiB BAR finds no room.  The default hole works by
 * moving two 256 MiB and two 32 MiB BARs above 4 GiB.
 */
static void test_four_a6000(void **state)
{
    static const unsigned buses[] = { 0x01, 0x41, 0x81, 0xc1 };
    struct ctx *c = *state;
    xengpu_layout_need need;
    size_t i;

    for (i = 0; i < 4; i++)
        a6000(c->fs, buses[i], 256 * M);
    discover(c);
    assert_int_equal(c->n, 4);
    plan(c, &need);
    assert_int_equal(need.low_bytes, 4 * (16 * M + 512 * K + 16 * K));
    assert_int_equal(need.high_bytes, 4 * (256 * M + 32 * M));
    assert_int_equal(need.largest_bar, 256 * M);
    assert_string_equal(need.largest_fn->name, "0000:01:00.0");
    assert_int_equal(need.hole_mib, 1536);
    assert_false(need.relocated);
    fits(c, 0);
    fits(c, 1024);
    fits(c, 1536);
    assert_int_equal(
        xengpu_layout_check(c->cards, c->n, 1408, c->why, sizeof(c->why)),
        -ENOSPC);
    assert_string_equal(c->why,
                        "card 0000:41:00.0: BAR 0 of 0000:41:00.0 (16 MiB, "
                        "32-bit) finds no room below 4 GiB with mmio_hole = "
                        "1408 (1344 MiB for BARs, 115.6 MiB of 32-bit BARs "
                        "and ROMs); use mmio_hole = 1536");
}

/*
 * lspci-nvidia-rtx3090-fe-domain0002-unassigned-bars-rk3568.txt
 * (rc_rtx3090_domain2): BAR 1 and 3 "<unassigned>".  QEMU passes only
 * assigned BARs, so no hole helps; err-nvrm-bar-invalid-fallen-off-bus-
 * rtx3090-rk3568.txt is what the driver then says ("BAR1 is 0M @ 0x0").
 */
static void test_unassigned_bar(void **state)
{
    struct ctx *c = *state;
    xengpu_layout_need need;

    rc_rtx3090_domain2(c->fs);
    discover(c);
    assert_int_equal(c->n, 1);
    assert_int_equal(
        xengpu_layout_plan(c->cards, c->n, &need, c->why, sizeof(c->why)),
        -ENODATA);
    assert_string_equal(c->why,
                        "card 0002:21:00.0: BAR 1 of 0002:21:00.0 is "
                        "unassigned on this host, and QEMU passes through "
                        "only assigned BARs, so the guest's driver would "
                        "miss it; have the host assign it (Above 4G Decoding "
                        "in the firmware, or pci=realloc)");
    assert_int_equal(
        xengpu_layout_check(c->cards, c->n, 3072, c->why, sizeof(c->why)),
        -ENODATA);
}

/*
 * A card that fits no hole: the A6000 of
 * lspci-nvidia-rtx-a6000-x4-romane.txt with BAR 1 a 2 GiB 32-bit BAR
 * (synthetic: no real card has one).  Aligned to 2 GiB it could only
 * start at 0x80000000 and would end at 4 GiB, past 0xFC000000.
 */
static void test_no_hole_fits(void **state)
{
    static const struct fake_bar gpu[] = {
        { 0, 0xde000000, 16 * M, FAKE_MEM32 },
        { 1, 0x80000000, 2 * G, FAKE_MEM32 },
        { 6, 0xdf000000, 512 * K, FAKE_MEM32 },
    };
    struct ctx *c = *state;
    xengpu_layout_need need;

    add_fn(c->fs, "0000:01:00.0", 0x10de, 0x2230, 0x030000, false, gpu, 3);
    discover(c);
    assert_int_equal(
        xengpu_layout_plan(c->cards, c->n, &need, c->why, sizeof(c->why)),
        -ENOSPC);
    assert_string_equal(c->why,
                        "card 0000:01:00.0: BAR 1 of 0000:01:00.0 (2 GiB, "
                        "32-bit) finds no room below 4 GiB with mmio_hole = "
                        "3840 (3776 MiB for BARs, 2114.1 MiB of 32-bit BARs "
                        "and ROMs); no mmio_hole up to 3840 would do");
    assert_int_equal(
        xengpu_layout_check(c->cards, c->n, 0, c->why, sizeof(c->why)),
        -ENOSPC);
    assert_non_null(strstr(c->why, "with the default 256 MiB MMIO hole "
                                   "(192 MiB for BARs"));
}

/* No cards: QEMU's devices alone; holes outside xl's range refused. */
static void test_no_cards_and_bad_hole(void **state)
{
    struct ctx *c = *state;
    xengpu_layout_need need;

    assert_int_equal(xengpu_layout_plan(NULL, 0, &need, NULL, 0), 0);
    assert_int_equal(need.emulated_bytes, EMULATED);
    assert_int_equal(need.low_bytes + need.high_bytes + need.largest_bar, 0);
    assert_null(need.largest_fn);
    assert_int_equal(need.hole_mib, 256);
    assert_int_equal(xengpu_layout_check(NULL, 0, 0, NULL, 0), 0);
    assert_int_equal(xengpu_layout_check(NULL, 0, 255, c->why, sizeof(c->why)),
                     -EINVAL);
    assert_string_equal(c->why,
                        "mmio_hole = 255 is outside xl's range 256 to 3840");
    assert_int_equal(xengpu_layout_check(NULL, 0, 3841, NULL, 0), -EINVAL);
    assert_int_equal(xengpu_layout_check(NULL, 0, 3840, NULL, 0), 0);
}

static void test_size_format(void **state)
{
    char b[XENGPU_SIZE_STRLEN];

    (void)state;
    xengpu__size_format(128 * G, b, sizeof(b));
    assert_string_equal(b, "128 GiB");
    xengpu__size_format(1344 * M, b, sizeof(b));
    assert_string_equal(b, "1344 MiB");
    xengpu__size_format(EMULATED, b, sizeof(b));
    assert_string_equal(b, "49.6 MiB");
    xengpu__size_format(512 * K, b, sizeof(b));
    assert_string_equal(b, "512 KiB");
    xengpu__size_format(128, b, sizeof(b));
    assert_string_equal(b, "128 bytes");
    xengpu__size_format(0, b, sizeof(b));
    assert_string_equal(b, "0 bytes");
    xengpu__size_format(UINT64_MAX, b, sizeof(b));
    assert_true(strlen(b) < sizeof(b) - 1);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_64g_bar, setup, teardown),
        cmocka_unit_test_setup_teardown(test_h100_128g, setup, teardown),
        cmocka_unit_test_setup_teardown(test_p100_16g, setup, teardown),
        cmocka_unit_test_setup_teardown(test_rtx3090_256m, setup, teardown),
        cmocka_unit_test_setup_teardown(test_2080ti_many_small, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_matrox_all_32bit, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_four_a6000, setup, teardown),
        cmocka_unit_test_setup_teardown(test_unassigned_bar, setup, teardown),
        cmocka_unit_test_setup_teardown(test_no_hole_fits, setup, teardown),
        cmocka_unit_test_setup_teardown(test_no_cards_and_bad_hole, setup,
                                        teardown),
        cmocka_unit_test(test_size_format),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
