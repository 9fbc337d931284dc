/*
 * test-bdf.c - PCI address parser and formatter.
 *
 * The accepted forms come from real configs and tool output in
 * /work/shared/realworld/:
 *  - xlcfg-win10-rtx4060-laptop-permissive-seabios.txt: full SBDF
 *    '0000:01:00.0,permissive=1' (the address before the first ',');
 *  - xlcfg-win7-ati-hd7850-qemu-trad-lofyer.txt: short '01:00.0' and
 *    '01:00.1' with odd spacing around them (the spacing belongs to the
 *    list syntax, the address itself has none);
 *  - xl-pci-assignable-list-and-lspci-nnk-pciback-rtx4060-laptop.txt:
 *    "0000:01:00.0 " lines with a trailing space, which the strict
 *    parser refuses (callers strip list syntax first);
 *  - lspci-nvidia-rtx3090-fe-domain0002-unassigned-bars-rk3568.txt:
 *    PCI domain 0002 ("0002:21:00.0");
 *  - lspci-v-xxx-nvidia-rtx2080ti-x4-4func-old-pciids-bugreport.txt:
 *    four functions per slot (".0" to ".3") on one card.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <string.h>
#include <cmocka.h>

#include "pciback-helper/bdf.h"

struct good_case {
    const char *in;
    unsigned flags;
    const char *canonical;
};

static const struct good_case good[] = {
    /* xlcfg-win10-rtx4060-laptop-permissive-seabios.txt */
    { "0000:01:00.0", 0, "0000:01:00.0" },
    { "0000:01:00.0", XENGPU_BDF_CANONICAL, "0000:01:00.0" },
    /* xlcfg-win7-ati-hd7850-qemu-trad-lofyer.txt */
    { "01:00.0", 0, "0000:01:00.0" },
    { "01:00.1", 0, "0000:01:00.1" },
    /* lspci-nvidia-rtx3090-fe-domain0002-unassigned-bars-rk3568.txt */
    { "0002:21:00.0", XENGPU_BDF_CANONICAL, "0002:21:00.0" },
    /* lspci-v-xxx-nvidia-rtx2080ti-x4-4func-old-pciids-bugreport.txt */
    { "0000:65:00.3", XENGPU_BDF_CANONICAL, "0000:65:00.3" },
    /* upper-case hex as lspci -D prints on some distributions */
    { "0000:AF:1F.7", 0, "0000:af:1f.7" },
    { "aF:0a.2", 0, "0000:af:0a.2" },
    /* short fields, as xl and lspci -s accept */
    { "1:0.0", 0, "0000:01:00.0" },
    { "1:2:3.4", 0, "0001:02:03.4" },
    /* limits */
    { "ffff:ff:1f.7", XENGPU_BDF_CANONICAL, "ffff:ff:1f.7" },
    { "0000:00:00.0", XENGPU_BDF_CANONICAL, "0000:00:00.0" },
};

static const struct good_case good_slot[] = {
    { "01:00", 0, "0000:01:00" },
    { "0000:01:00", XENGPU_BDF_CANONICAL, "0000:01:00" },
    { "0002:21:00", 0, "0002:21:00" },
    { "FF:1F", 0, "0000:ff:1f" },
};

struct bad_case {
    const char *in;
    unsigned flags;
    const char *why;
};

static const struct bad_case bad[] = {
    { "", 0, "empty" },
    /* xl-pci-assignable-list-...-rtx4060-laptop.txt: trailing space */
    { "0000:01:00.0 ", 0, "trailing space" },
    { " 0000:01:00.0", 0, "leading space" },
    { "0000:01:00.0\n", 0, "trailing newline" },
    { "0000:01:00.0\t", 0, "trailing tab" },
    { "0000: 01:00.0", 0, "inner space" },
    { "0000:01:00.0,permissive=1", 0, "spec options" },
    { "0000:01:00.0x", 0, "trailing garbage" },
    { "0000:01:00.00", 0, "function too long" },
    { "00000:01:00.0", 0, "domain too long" },
    { "10000:00:00.0", 0, "domain > 0xffff (VMD)" },
    { "0000:001:00.0", 0, "bus too long" },
    { "0000:01:000.0", 0, "device too long" },
    { "0000:01:20.0", 0, "device > 0x1f" },
    { "0000:01:ff.0", 0, "device 0xff" },
    { "0000:01:00.8", 0, "function > 7" },
    { "0000:01:00.f", 0, "function 0xf" },
    { "+000:01:00.0", 0, "sign in domain" },
    { "0000:-1:00.0", 0, "negative bus" },
    { "0000:+1:00.0", 0, "plus sign" },
    { "0x00:01:00.0", 0, "hex prefix" },
    { "0000:0x:00.0", 0, "x in bus" },
    { "0000:01:00", 0, "slot, not function" },
    { "0000:01.00.0", 0, "dot for colon" },
    { "0000-01-00.0", 0, "dashes" },
    { "0000:01:00:0", 0, "colon for dot" },
    { "0000::00.0", 0, "empty bus" },
    { ":01:00.0", 0, "empty domain" },
    { "0000:01:.0", 0, "empty device" },
    { "0000:01:00.", 0, "empty function" },
    { "0:0:0:0.0", 0, "too many colons" },
    { "01:00.0", XENGPU_BDF_CANONICAL, "canonical needs domain" },
    { "0000:1:00.0", XENGPU_BDF_CANONICAL, "canonical needs width" },
    { "0000:AF:00.0", XENGPU_BDF_CANONICAL, "canonical is lower case" },
    { "0000:0g:00.0", 0, "not hex" },
    { "0000:01:00.0\xc2\xa0", 0, "UTF-8 no-break space" },
};

static const struct bad_case bad_slot[] = {
    { "01:00.0", 0, "function given" },
    { "01:20", 0, "device > 0x1f" },
    { "01", 0, "bus only" },
    { "01:00 ", 0, "trailing space" },
    { "1:00", XENGPU_BDF_CANONICAL, "canonical needs domain" },
};

static void test_parse_good(void **state)
{
    char buf[XENGPU_BDF_STRLEN];
    xengpu_bdf bdf;
    size_t i;

    (void)state;
    for (i = 0; i < sizeof(good) / sizeof(good[0]); i++) {
        memset(&bdf, 0xaa, sizeof(bdf));
        assert_int_equal(xengpu_bdf_parse(good[i].in, good[i].flags, &bdf), 0);
        assert_int_equal(xengpu_bdf_format(&bdf, buf, sizeof(buf)), 0);
        assert_string_equal(buf, good[i].canonical);
    }
}

static void test_parse_bad(void **state)
{
    xengpu_bdf bdf = { 0x1234, 0x56, 0x07, 0x1 }, before = bdf;
    size_t i;

    (void)state;
    for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        if (xengpu_bdf_parse(bad[i].in, bad[i].flags, &bdf) != -EINVAL)
            fail_msg("accepted \"%s\" (%s)", bad[i].in, bad[i].why);
        assert_memory_equal(&bdf, &before, sizeof(bdf));
    }
}

static void test_slot(void **state)
{
    char buf[XENGPU_SLOT_STRLEN];
    xengpu_bdf slot;
    size_t i;

    (void)state;
    for (i = 0; i < sizeof(good_slot) / sizeof(good_slot[0]); i++) {
        assert_int_equal(
            xengpu_slot_parse(good_slot[i].in, good_slot[i].flags, &slot), 0);
        assert_int_equal(slot.fn, 0);
        assert_int_equal(xengpu_slot_format(&slot, buf, sizeof(buf)), 0);
        assert_string_equal(buf, good_slot[i].canonical);
    }
    for (i = 0; i < sizeof(bad_slot) / sizeof(bad_slot[0]); i++) {
        if (xengpu_slot_parse(bad_slot[i].in, bad_slot[i].flags, &slot) !=
            -EINVAL)
            fail_msg("accepted slot \"%s\" (%s)", bad_slot[i].in,
                     bad_slot[i].why);
    }
}

/* xlcfg-win10-rtx4060-laptop-permissive-seabios.txt: the spec token. */
static void test_parse_mem(void **state)
{
    const char *spec = "0000:01:00.0,permissive=1";
    const char nul[] = "0000:01:00.0\0garbage";
    xengpu_bdf bdf;

    (void)state;
    assert_int_equal(xengpu_bdf_parse_mem(spec, 12, 0, &bdf), 0);
    assert_int_equal(bdf.bus, 1);
    assert_int_equal(xengpu_bdf_parse_mem(spec, 13, 0, &bdf), -EINVAL);
    assert_int_equal(xengpu_bdf_parse_mem(spec, 11, 0, &bdf), -EINVAL);
    assert_int_equal(xengpu_bdf_parse_mem(spec, 0, 0, &bdf), -EINVAL);
    assert_int_equal(xengpu_bdf_parse_mem(nul, 13, 0, &bdf), -EINVAL);
    assert_int_equal(xengpu_bdf_parse_mem(nul, sizeof(nul) - 1, 0, &bdf),
                     -EINVAL);
}

static void test_format_limits(void **state)
{
    xengpu_bdf bdf = { 0, 1, 0, 0 };
    char buf[XENGPU_BDF_STRLEN] = "untouched";

    (void)state;
    assert_int_equal(xengpu_bdf_format(&bdf, buf, XENGPU_BDF_STRLEN - 1),
                     -ENOSPC);
    bdf.dev = 0x20;
    assert_int_equal(xengpu_bdf_format(&bdf, buf, sizeof(buf)), -EINVAL);
    bdf.dev = 0;
    bdf.fn = 8;
    assert_int_equal(xengpu_bdf_format(&bdf, buf, sizeof(buf)), -EINVAL);
    assert_string_equal(buf, "untouched");
    assert_int_equal(xengpu_slot_format(&bdf, buf, XENGPU_SLOT_STRLEN - 1),
                     -ENOSPC);
}

static void test_order_and_sbdf(void **state)
{
    xengpu_bdf a, b;

    (void)state;
    assert_int_equal(xengpu_bdf_parse("0000:01:00.0", 0, &a), 0);
    assert_int_equal(xengpu_bdf_parse("0000:01:00.1", 0, &b), 0);
    assert_true(xengpu_bdf_cmp(&a, &b) < 0);
    assert_true(xengpu_bdf_cmp(&b, &a) > 0);
    assert_int_equal(xengpu_bdf_cmp(&a, &a), 0);
    assert_true(xengpu_bdf_same_slot(&a, &b));
    assert_int_equal(xengpu_bdf_to_sbdf(&b), 0x0101);

    assert_int_equal(xengpu_bdf_parse("0002:21:1f.7", 0, &a), 0);
    assert_int_equal(xengpu_bdf_to_sbdf(&a), 0x000221ff);
    b = xengpu_bdf_from_sbdf(0x000221ff);
    assert_int_equal(xengpu_bdf_cmp(&a, &b), 0);
    assert_false(xengpu_bdf_same_slot(&a, &(xengpu_bdf){ 2, 0x21, 0x1e, 7 }));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_parse_good),
        cmocka_unit_test(test_parse_bad),
        cmocka_unit_test(test_slot),
        cmocka_unit_test(test_parse_mem),
        cmocka_unit_test(test_format_limits),
        cmocka_unit_test(test_order_and_sbdf),
    };

    return cmocka_run_group_tests_name("bdf", tests, NULL, NULL);
}
