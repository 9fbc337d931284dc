/*
 * test-pcicfg.c - configuration space and resource file decoding.
 *
 * Real bytes: data/lspci-xxx-rtx2080ti-4func.txt, copied from
 * /work/shared/realworld/lspci-v-xxx-nvidia-rtx2080ti-x4-4func-old-pciids-
 * bugreport.txt (DevCap at 0x7c: FLR on function 0 only).  Unassigned
 * BARs: lspci-nvidia-rtx3090-fe-domain0002-unassigned-bars-rk3568.txt.
 * 128 GiB BAR: lspci-brief-and-dmesg-nvidia-h100-nvl-x2-amd-genoa.txt.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <string.h>
#include <cmocka.h>

#include "fake-sysfs.h"
#include "pciback-helper/pcicfg.h"
#include "pciback-helper/resource.h"

#define DUMP "tests/unit/data/lspci-xxx-rtx2080ti-4func.txt"

static void test_real_turing(void **state)
{
    struct fake_cfg raw;
    xengpu_pcicfg c;

    (void)state;
    fake_cfg_from_lspci(&raw, DUMP, "02:00.0");
    assert_int_equal(raw.len, 256);
    assert_int_equal(xengpu_pcicfg_parse(raw.b, raw.len, &c), 0);
    assert_int_equal(c.vendor, 0x10de);
    assert_int_equal(c.device, 0x1e07);
    assert_int_equal(c.class, 0x030000);
    assert_int_equal(c.revision, 0xa1);
    assert_true(c.multifunction);
    assert_true(c.has_pm && c.pm_no_soft_reset);
    assert_true(c.has_pcie);
    assert_int_equal(c.pcie_type, XENGPU_PCIE_LEGACY_ENDPOINT);
    assert_true(c.flr);
    assert_true(c.caps_complete);
    assert_false(c.ext_complete);
    /* "Subsystem: NVIDIA Corporation Device 12fa", bytes 0x2c-0x2f. */
    assert_true(c.has_subsys);
    assert_int_equal(c.subsys_vendor, 0x10de);
    assert_int_equal(c.subsys_device, 0x12fa);

    fake_cfg_from_lspci(&raw, DUMP, "02:00.2");
    assert_int_equal(xengpu_pcicfg_parse(raw.b, raw.len, &c), 0);
    assert_int_equal(c.class, 0x0c0330);
    assert_true(c.has_subsys);
    assert_int_equal(c.subsys_vendor, 0x10de);
    assert_int_equal(c.subsys_device, 0x12fa);
    assert_false(c.flr);
    assert_true(c.has_pm && c.pm_no_soft_reset); /* PM cap at 0xb4 */
}

static void test_short_and_dead(void **state)
{
    uint8_t b[4096];
    xengpu_pcicfg c;

    (void)state;
    memset(b, 0xff, sizeof(b));
    assert_int_equal(xengpu_pcicfg_parse(b, 0, &c), -ENODATA);
    assert_false(c.header);
    assert_int_equal(xengpu_pcicfg_parse(b, 63, &c), -ENODATA);
    /* err-amd-reset-bug-...-unknown-header-type-127.txt: all ones. */
    assert_int_equal(xengpu_pcicfg_parse(b, 256, &c), -ENODEV);
    assert_true(c.dead);
    assert_false(c.has_pcie);
    /* A VF's ids read 0xffff but its header type does not. */
    b[0x0e] = 0;
    b[0x06] = 0;
    assert_int_equal(xengpu_pcicfg_parse(b, 256, &c), 0);
    assert_false(c.dead);
}

static void test_non_root_read(void **state)
{
    struct fake_cfg raw;
    xengpu_pcicfg c;

    (void)state;
    /* Without CAP_SYS_ADMIN sysfs gives 64 bytes: no capabilities. */
    fake_cfg_from_lspci(&raw, DUMP, "02:00.0");
    assert_int_equal(xengpu_pcicfg_parse(raw.b, 64, &c), 0);
    assert_int_equal(c.device, 0x1e07);
    assert_false(c.caps_complete);
    assert_false(c.has_pcie);
    assert_false(c.flr);
    /* The subsystem ids are inside those 64 bytes. */
    assert_true(c.has_subsys);
    assert_int_equal(c.subsys_device, 0x12fa);
}

static void test_cap_loops(void **state)
{
    struct fake_cfg f;
    xengpu_pcicfg c;
    size_t pm;

    (void)state;
    fake_cfg_init(&f, 0x10de, 0x1, 0x030000, 0, 4096);
    pm = fake_cfg_cap(&f, 0x01, 8);
    f.b[pm + 1] = (uint8_t)pm; /* points at itself */
    assert_int_equal(xengpu_pcicfg_parse(f.b, f.len, &c), 0);
    assert_true(c.has_pm);
    assert_false(c.caps_complete);

    /* Pointer below 0x40 ends the list; low two bits are ignored. */
    f.b[pm + 1] = 0x3f;
    assert_int_equal(xengpu_pcicfg_parse(f.b, f.len, &c), 0);
    assert_true(c.caps_complete);

    /* Extended list looping back on itself. */
    fake_cfg_init(&f, 0x10de, 0x1, 0x030000, 0, 4096);
    fake_cfg_pcie(&f, XENGPU_PCIE_ENDPOINT, true, 4, 16, 4, 16);
    fake_cfg_acs(&f, 0x1f, 0x1d);
    f.b[0x103] = 0x10; /* next = 0x100 */
    assert_int_equal(xengpu_pcicfg_parse(f.b, f.len, &c), 0);
    assert_true(c.has_acs);
    assert_false(c.ext_complete);
}

static void test_ext_caps(void **state)
{
    struct fake_cfg f;
    xengpu_pcicfg c;

    (void)state;
    fake_cfg_init(&f, 0x10de, 0x2321, 0x030200, 0, 4096);
    fake_cfg_pm(&f, false);
    fake_cfg_af(&f, true);
    fake_cfg_pcie(&f, XENGPU_PCIE_ENDPOINT, false, 5, 16, 4, 8);
    fake_cfg_acs(&f, 0x5f, 0x1d);
    fake_cfg_sriov(&f, 32, 4, 0x2321);
    assert_int_equal(xengpu_pcicfg_parse(f.b, f.len, &c), 0);
    assert_true(c.caps_complete && c.ext_complete);
    assert_true(c.has_af && c.af_flr);
    assert_false(c.pm_no_soft_reset);
    assert_int_equal(c.link_max_speed, 5);
    assert_int_equal(c.link_width, 8);
    assert_int_equal(c.acs_cap, 0x5f);
    assert_int_equal(c.acs_ctrl, 0x1d);
    assert_int_equal(c.sriov_total, 32);
    assert_int_equal(c.sriov_num, 4);
    assert_int_equal(c.sriov_vf_device, 0x2321);
    /* Cut inside the SR-IOV capability: seen as incomplete. */
    assert_int_equal(xengpu_pcicfg_parse(f.b, 0x118, &c), 0);
    assert_true(c.has_acs);
    assert_false(c.has_sriov);
    assert_false(c.ext_complete);
    /* Extended header all ones: no extended capabilities. */
    memset(f.b + 0x100, 0xff, 4);
    assert_int_equal(xengpu_pcicfg_parse(f.b, f.len, &c), 0);
    assert_false(c.has_acs);
    assert_true(c.ext_complete);
    assert_string_equal(xengpu_pcicfg_speed_name(4), "16 GT/s");
    assert_null(xengpu_pcicfg_speed_name(0));
    assert_null(xengpu_pcicfg_speed_name(15));
}

static void test_bridge_and_cardbus(void **state)
{
    struct fake_cfg f;
    xengpu_pcicfg c;

    (void)state;
    fake_cfg_init(&f, 0x1002, 0x1478, 0x060400, 1, 4096);
    fake_cfg_bridge(&f, 7, 8);
    fake_cfg_pcie(&f, XENGPU_PCIE_UPSTREAM, false, 4, 16, 4, 16);
    assert_int_equal(xengpu_pcicfg_parse(f.b, f.len, &c), 0);
    assert_int_equal(c.header_type, 1);
    assert_int_equal(c.secondary_bus, 7);
    assert_int_equal(c.subordinate_bus, 8);
    assert_int_equal(c.pcie_type, XENGPU_PCIE_UPSTREAM);
    /* 0x2c-0x2f of a type 1 header are the prefetchable window. */
    assert_false(c.has_subsys);
    assert_int_equal(c.subsys_vendor, 0);
    /* CardBus keeps its capability pointer at 0x14. */
    fake_cfg_init(&f, 0x1180, 0x476, 0x060700, 2, 256);
    f.b[0x06] = 0x10;
    f.b[0x14] = 0x80;
    f.b[0x80] = 0x01;
    assert_int_equal(xengpu_pcicfg_parse(f.b, f.len, &c), 0);
    assert_true(c.has_pm);
    assert_true(c.caps_complete);
    assert_false(c.has_subsys);
}

static const char h100_resource[] =
    "0x0000068042000000 0x0000068042ffffff 0x000000000014220c\n"
    "0x0000000000000000 0x0000000000000000 0x0000000000000000\n"
    "0x0000064000000000 0x0000065fffffffff 0x000000000014220c\n"
    "0x0000000000000000 0x0000000000000000 0x0000000000000000\n"
    "0x0000068040000000 0x0000068041ffffff 0x000000000014220c\n"
    "0x0000000000000000 0x0000000000000000 0x0000000000000000\n"
    "0x0000000000000000 0x0000000000000000 0x0000000000000000\n"
    "0x00000000c4000000 0x00000000c47fffff 0x0000000000040200\n";

static void test_resource(void **state)
{
    xengpu_resources r;

    (void)state;
    assert_int_equal(
        xengpu_resource_parse(h100_resource, strlen(h100_resource), &r), 0);
    assert_int_equal(r.nbars, 3);
    assert_int_equal(r.bars[1].index, 2);
    assert_int_equal(r.bars[1].size, 128ull << 30);
    assert_true(r.bars[1].is64 && r.bars[1].prefetch && r.bars[1].assigned);
    assert_false(r.has_rom);
    assert_int_equal(r.nvf_bars, 1);
    assert_int_equal(r.vf_bars[0].size, 8u << 20);
    /* No trailing newline is fine; nothing at all is no BARs. */
    assert_int_equal(xengpu_resource_parse(h100_resource, 56, &r), 0);
    assert_int_equal(r.nbars, 1);
    assert_int_equal(xengpu_resource_parse("", 0, &r), 0);
    assert_int_equal(r.nbars, 0);
}

static void test_resource_unassigned(void **state)
{
    static const char text[] =
        "0x00000000f1000000 0x00000000f1ffffff 0x0000000000040200\n"
        "0x0000000000000000 0x0000000000000000 0x000000000014220c\n"
        "0x0000000000000000 0x0000000000000000 0x0000000000000000\n"
        "0x0000000000000000 0x000000001fffffff 0x000000002014220c\n";
    xengpu_resources r;

    (void)state;
    assert_int_equal(xengpu_resource_parse(text, strlen(text), &r), 0);
    assert_int_equal(r.nbars, 3);
    assert_false(r.bars[0].is64);
    assert_false(r.bars[1].assigned);
    assert_int_equal(r.bars[1].size, 0);
    /* IORESOURCE_UNSET: sized but not placed. */
    assert_false(r.bars[2].assigned);
    assert_int_equal(r.bars[2].size, 512u << 20);
}

static void test_resource_bad(void **state)
{
    static const char *const bad[] = {
        "garbage\n",
        "0x0 0x0\n",
        "0x0 0x0 0x0 0x0\n",
        "0x0  0x0 0x0\n",
        "0x1 0x0 0x200\n", /* end < start */
        "0x00000000000000000 0x0 0x0\n",
        "0X0 0x0 0x0\n",
        "0x0 0x0 0x0\n\n",
        "0x0 0x0 0xG\n",
        " 0x0 0x0 0x0\n",
    };
    static const char line[] =
        "0x00000000de000000 0x00000000deffffff 0x0000000000040200\n";
    char many[65 * sizeof(line)] = "";
    xengpu_resources r;
    size_t i;

    (void)state;
    /* Found by fuzz-resource: too many lines must not keep BARs. */
    for (i = 0; i < 65; i++)
        strcat(many, line);
    assert_int_equal(xengpu_resource_parse(many, strlen(many), &r), -EINVAL);
    assert_int_equal(r.nbars, 0);
    /* Found by fuzz-resource: I/O and memory flags together. */
    assert_int_equal(xengpu_resource_parse("0x1 0x2 0xffff00", 16, &r), 0);
    assert_false(r.bars[0].io);
    for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        if (xengpu_resource_parse(bad[i], strlen(bad[i]), &r) != -EINVAL)
            fail_msg("accepted resource text %zu", i);
        assert_int_equal(r.nbars, 0);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_real_turing),
        cmocka_unit_test(test_short_and_dead),
        cmocka_unit_test(test_non_root_read),
        cmocka_unit_test(test_cap_loops),
        cmocka_unit_test(test_ext_caps),
        cmocka_unit_test(test_bridge_and_cardbus),
        cmocka_unit_test(test_resource),
        cmocka_unit_test(test_resource_unassigned),
        cmocka_unit_test(test_resource_bad),
    };

    return cmocka_run_group_tests_name("pcicfg", tests, NULL, NULL);
}
