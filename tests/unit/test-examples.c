/*
 * test-examples.c - the shipped examples/ configs resolve: `xengpu
 * create --dry-run` of examples/gpu-hvm.cfg (a pool of
 * examples/xengpu.conf) and examples/gpu-pv.cfg (an address), without
 * Xen, on fake trees of real cards (realcards.c): the RX 6950 XT at
 * 08:00 of iommu-groups-amd-b550-navi21-rx6950xt-rx550-chipset-group.txt
 * (1002:73a5, a model of pool "render") and the GT 1030 at 01:00 of
 * iommu-groups-intel-z370-igd-uhd630-gt1030.txt.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "fake-sysfs.h"
#include "realcards.h"
#include "toolstack/cli.h"
#include "toolstack/gpuspec.h"

struct ctx {
    struct fake_sysfs *fs;
    char *out, *err;
};

static int setup(void **state)
{
    struct ctx *c = calloc(1, sizeof(*c));

    assert_non_null(c);
    c->fs = fake_sysfs_new();
    rc_z370(c->fs);
    rc_b550(c->fs);
    setenv(XENGPU_CONF_ENV, "examples/xengpu.conf", 1);
    *state = c;
    return 0;
}

static int teardown(void **state)
{
    struct ctx *c = *state;

    fake_sysfs_free(c->fs);
    free(c->out);
    free(c->err);
    free(c);
    return 0;
}

static int dry_run(struct ctx *c, const char *config)
{
    char *argv[] = { "xengpu",    "--sysfs-root", c->fs->root, "create",
                     "--dry-run", (char *)config, NULL };
    size_t len;
    FILE *out, *err;
    int rc;

    free(c->out);
    free(c->err);
    out = open_memstream(&c->out, &len);
    err = open_memstream(&c->err, &len);
    rc = xengpu_cli(6, argv, out, err);
    fclose(out);
    fclose(err);
    return rc;
}

static void test_hvm_pool(void **state)
{
    struct ctx *c = *state;

    if (dry_run(c, "examples/gpu-hvm.cfg")) fail_msg("%s%s", c->out, c->err);
    assert_non_null(strstr(c->out, "\"pool=render\": card 0000:08:00.0"));
    /* an HVM guest: xengpu plugs the card into one slot after xl */
    assert_non_null(strstr(c->out, "pci = [  ]\n"));
    assert_non_null(strstr(c->out, "plugged into one slot"));
    assert_non_null(strstr(c->out, "passthrough = \"enabled\"\n"));
}

static void test_pv_address(void **state)
{
    struct ctx *c = *state;

    if (dry_run(c, "examples/gpu-pv.cfg")) fail_msg("%s%s", c->out, c->err);
    assert_non_null(strstr(c->out, "pci = [ '0000:01:00.0,permissive=1', "
                                   "'0000:01:00.1,permissive=1' ]\n"));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_hvm_pool, setup, teardown),
        cmocka_unit_test_setup_teardown(test_pv_address, setup, teardown),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
