/*
 * test-create.c - `xengpu create` without Xen: the dry run's output
 * (golden text), and the real path with the card moves recorded and xl
 * replaced by a script ($XENGPU_XL) that logs its arguments and fails
 * on request.  Host: two real trees with IOMMU groups side by side
 * (realcards.c): iommu-groups-intel-z370-igd-uhd630-gt1030.txt (GT 1030
 * + audio at 01:00) and
 * iommu-groups-amd-b550-navi21-rx6950xt-rx550-chipset-group.txt.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <cmocka.h>

#include "capture-log.h"
#include "fake-sysfs.h"
#include "realcards.h"
#include "toolstack/cli.h"
#include "toolstack/create.h"

struct ctx {
    struct fake_sysfs *fs;
    struct capture_log log;
    xengpu_host *host;
    char dir[64], cfg[96], xl[96], xllog[96];
    char moves[512];
    int fail_prepare; /* fail the Nth prepare (1-based), 0 never */
    int nprepare;
    char *out;
    size_t outlen;
};

static int op(void *opaque, const char *what, const char *bdf)
{
    struct ctx *c = opaque;

    snprintf(c->moves + strlen(c->moves), sizeof(c->moves) - strlen(c->moves),
             "%s %s\n", what, bdf);
    if (!strcmp(what, "prepare") && ++c->nprepare == c->fail_prepare) return 1;
    return 0;
}

static int prepare(void *opaque, const char *bdf)
{
    return op(opaque, "prepare", bdf);
}

static int release(void *opaque, const char *bdf)
{
    return op(opaque, "release", bdf);
}

static void write_file(const char *path, const char *text, mode_t mode)
{
    FILE *f = fopen(path, "w");

    assert_non_null(f);
    fputs(text, f);
    fclose(f);
    chmod(path, mode);
}

static int setup(void **state)
{
    struct ctx *c = calloc(1, sizeof(*c));
    char script[512];

    assert_non_null(c);
    c->fs = fake_sysfs_new();
    rc_z370(c->fs);
    rc_b550(c->fs);
    capture_log_init(&c->log);
    assert_int_equal(xengpu_host_discover(c->fs->fd, &c->log.vtable, &c->host),
                     0);
    strcpy(c->dir, "/tmp/xengpu-create-XXXXXX");
    assert_non_null(mkdtemp(c->dir));
    snprintf(c->cfg, sizeof(c->cfg), "%s/guest.cfg", c->dir);
    snprintf(c->xl, sizeof(c->xl), "%s/xl", c->dir);
    snprintf(c->xllog, sizeof(c->xllog), "%s/xl.log", c->dir);
    snprintf(script, sizeof(script),
             "#!/bin/sh\nfor a in \"$@\"; do echo \"$a\"; done > %s\n"
             "exit ${FAKE_XL_STATUS:-0}\n",
             c->xllog);
    write_file(c->xl, script, 0755);
    setenv(XENGPU_XL_ENV, c->xl, 1);
    unsetenv("FAKE_XL_STATUS");
    *state = c;
    return 0;
}

static int teardown(void **state)
{
    struct ctx *c = *state;
    char cmd[128];

    snprintf(cmd, sizeof(cmd), "rm -rf %s", c->dir);
    assert_int_equal(system(cmd), 0);
    xengpu_host_free(c->host);
    fake_sysfs_free(c->fs);
    capture_log_dispose(&c->log);
    free(c->out);
    free(c);
    return 0;
}

static int create(struct ctx *c, bool dry_run, char **args, size_t nargs)
{
    xengpu_create_ops ops = { prepare, release, NULL, c };
    xengpu_create_req req = { .config = c->cfg,
                              .args = args,
                              .nargs = nargs,
                              .dry_run = dry_run,
                              .host = c->host,
                              .ops = &ops };
    FILE *out;
    int rc;

    free(c->out);
    c->out = NULL;
    out = open_memstream(&c->out, &c->outlen);
    req.out = out;
    rc = xengpu_create(&req, &c->log.vtable);
    fclose(out);
    return rc;
}

static char *xl_args(struct ctx *c)
{
    static char buf[1024];
    FILE *f = fopen(c->xllog, "r");
    size_t n;

    if (!f) return NULL;
    n = fread(buf, 1, sizeof(buf) - 1, f);
    buf[n] = '\0';
    fclose(f);
    return buf;
}

static const char guest[] =
    "name = \"render1\"\ntype = \"hvm\"\nmemory = 8192\nmaxmem = 8192\n"
    "pci = [ '0000:02:00.1' ]\n"
    "gpu = [ \"10de:1d01,permissive=1\", \"vendor=1002,rdm_policy=relaxed\" "
    "]\n";

static void test_dry_run_golden(void **state)
{
    struct ctx *c = *state;

    write_file(c->cfg, guest, 0644);
    if (create(c, true, NULL, 0)) fail_msg("%s", c->log.text);
    assert_string_equal(
        c->out,
        "# gpu[0] \"10de:1d01,permissive=1\": card 0000:01:00.0 (10de:1d01, "
        "2 functions, host), plugged into one slot once xl created the "
        "domain paused\n"
        "# gpu[1] \"vendor=1002,rdm_policy=relaxed\": card 0000:08:00.0 "
        "(1002:73a5, 2 functions, host), plugged into one slot once xl "
        "created the domain paused\n"
        "pci = [ '0000:02:00.1' ]\n"
        "passthrough = \"enabled\"\n"
        /* Two 256 MiB BARs, naturally aligned below 0xfc000000: the
         * hole must start at 0xd0000000 or lower. */
        "mmio_hole = 768\n"
        "device_model_args_hvm = [ '-global', "
        "'xen-pci-passthrough.multifunction=on' ]\n");
}

/*
 * xl options that wait for the domain (-F, -c) leave xengpu no moment
 * to plug the cards: they go into the pci entries, a slot per function,
 * and the config's own device-model arguments are kept as they are.
 */
static void test_dry_run_xl_waits(void **state)
{
    struct ctx *c = *state;
    char *opts[] = { (char *)"-c" };

    write_file(c->cfg, guest, 0644);
    if (create(c, true, opts, 1)) fail_msg("%s", c->log.text);
    assert_non_null(strstr(c->out, "pci = [ '0000:02:00.1', "
                                   "'0000:01:00.0,permissive=1', "
                                   "'0000:01:00.1,permissive=1', "
                                   "'0000:08:00.0,rdm_policy=relaxed', "
                                   "'0000:08:00.1,rdm_policy=relaxed' ]\n"));
    assert_null(strstr(c->out, "device_model_args_hvm"));
    assert_true(capture_log_has(&c->log, "with xl's -c, each function"));
}

/* The config's own device-model arguments come first, kept. */
static void test_dry_run_keeps_dm_args(void **state)
{
    struct ctx *c = *state;
    char text[1024];

    snprintf(text, sizeof(text),
             "%sdevice_model_args_hvm = [ \"-d\", \"guest_errors\" ]\n",
             guest);
    write_file(c->cfg, text, 0644);
    if (create(c, true, NULL, 0)) fail_msg("%s", c->log.text);
    assert_non_null(strstr(c->out,
                           "device_model_args_hvm = [ '-d', 'guest_errors', "
                           "'-global', "
                           "'xen-pci-passthrough.multifunction=on' ]\n"));
    assert_string_equal(c->moves, "");
    assert_null(xl_args(c));
}

static void test_memory_maxmem(void **state)
{
    struct ctx *c = *state;
    char *args[] = { "maxmem=16384" };

    write_file(c->cfg, guest, 0644);
    assert_int_equal(create(c, true, args, 1), 1);
    assert_true(capture_log_has(&c->log, "memory = 8192 but maxmem = 16384"));
    assert_string_equal(c->out, "");
}

static void test_create_runs_xl(void **state)
{
    struct ctx *c = *state;
    char *args[] = { "--", "-c", "vcpus=4" };
    char want[512];

    write_file(c->cfg, guest, 0644);
    assert_int_equal(create(c, false, args, 3), 0);
    assert_string_equal(c->moves, "prepare 0000:01:00.0\n"
                                  "prepare 0000:08:00.0\n");
    snprintf(want, sizeof(want),
             "create\n%s\n-c\nvcpus=4\n"
             "pci=[ '0000:02:00.1', '0000:01:00.0,permissive=1', "
             "'0000:01:00.1,permissive=1', '0000:08:00.0,rdm_policy=relaxed', "
             "'0000:08:00.1,rdm_policy=relaxed' ]\n"
             "passthrough=\"enabled\"\nmmio_hole=768\n",
             c->cfg);
    assert_string_equal(xl_args(c), want);
}

/*
 * The config's own hole is kept.  256 MiB holds these cards: hvmloader
 * moves their 64-bit BARs above 4 GiB (test-layout covers a hole too
 * small, which only warns here).
 */
static void test_config_hole_kept(void **state)
{
    struct ctx *c = *state;
    char *args[] = { "mmio_hole=256" };

    write_file(c->cfg, guest, 0644);
    assert_int_equal(create(c, true, args, 1), 0);
    assert_false(capture_log_has(&c->log, "too small"));
    assert_null(strstr(c->out, "mmio_hole"));
}

/*
 * gpu_compat = "any" leaves room for the largest card that could replace
 * the chosen one on this host: more than the 768 MiB of the exact cards.
 */
static void test_compat_widens_hole(void **state)
{
    struct ctx *c = *state;
    char *args[] = { "gpu_compat=\"any\"" };
    unsigned hole = 0;
    const char *h;

    write_file(c->cfg, guest, 0644);
    assert_int_equal(create(c, true, args, 1), 0);
    h = strstr(c->out, "mmio_hole = ");
    assert_non_null(h);
    assert_int_equal(sscanf(h, "mmio_hole = %u", &hole), 1);
    if (hole <= 768) fail_msg("hole %u with gpu_compat any", hole);
}

/* xl fails: what this command prepared goes back, in reverse. */
static void test_xl_fails_releases(void **state)
{
    struct ctx *c = *state;

    write_file(c->cfg, guest, 0644);
    setenv("FAKE_XL_STATUS", "3", 1);
    assert_int_equal(create(c, false, NULL, 0), 1);
    assert_string_equal(c->moves, "prepare 0000:01:00.0\n"
                                  "prepare 0000:08:00.0\n"
                                  "release 0000:08:00.0\n"
                                  "release 0000:01:00.0\n");
    assert_true(capture_log_has(&c->log, "guest.cfg failed (status 3)"));
}

/* A prepare fails: the earlier ones are undone, xl never runs. */
static void test_prepare_fails(void **state)
{
    struct ctx *c = *state;

    write_file(c->cfg, guest, 0644);
    c->fail_prepare = 2;
    assert_int_equal(create(c, false, NULL, 0), 1);
    assert_string_equal(c->moves, "prepare 0000:01:00.0\n"
                                  "prepare 0000:08:00.0\n"
                                  "release 0000:01:00.0\n");
    assert_null(xl_args(c));
    assert_true(capture_log_has(&c->log, "could not prepare 0000:08:00.0"));
}

static void test_bad_args(void **state)
{
    struct ctx *c = *state;
    char *f[] = { "-f", "other.cfg" }, *extra[] = { "other.cfg" };

    write_file(c->cfg, guest, 0644);
    assert_int_equal(create(c, true, f, 2), 2);
    assert_int_equal(create(c, true, extra, 1), 2);
    assert_true(capture_log_has(&c->log, "unexpected argument 'other.cfg'"));
    write_file(c->cfg, "name = \"x\"\n", 0644);
    assert_int_equal(create(c, true, NULL, 0), 1);
    assert_true(capture_log_has(&c->log, "has no gpu = [...]"));
}

/* The command: `xengpu create --dry-run`, exit status and stdout. */
static void test_cli_dry_run(void **state)
{
    struct ctx *c = *state;
    char *argv[] = { "xengpu",      "--sysfs-root", c->fs->root,
                     "create",      "--dry-run",    c->cfg,
                     "memory=4096", "maxmem=4096",  NULL };
    char *err = NULL;
    size_t errlen;
    FILE *out, *errf;
    int rc;

    write_file(c->cfg, guest, 0644);
    out = open_memstream(&c->out, &c->outlen);
    errf = open_memstream(&err, &errlen);
    rc = xengpu_cli(8, argv, out, errf);
    fclose(out);
    fclose(errf);
    if (rc) fail_msg("exit %d: %s", rc, err);
    assert_non_null(strstr(c->out, "\npci = [ '0000:02:00.1' ]\n"
                                   "passthrough = \"enabled\"\n"));
    assert_string_equal(c->moves, "");
    free(err);
    argv[3] = "create";
    argv[4] = "--json";
    err = NULL;
    free(c->out);
    c->out = NULL;
    out = open_memstream(&c->out, &c->outlen);
    errf = open_memstream(&err, &errlen);
    assert_int_equal(xengpu_cli(6, argv, out, errf), 2);
    fclose(out);
    fclose(errf);
    free(err);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_dry_run_golden, setup, teardown),
        cmocka_unit_test_setup_teardown(test_dry_run_xl_waits, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_dry_run_keeps_dm_args, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_memory_maxmem, setup, teardown),
        cmocka_unit_test_setup_teardown(test_config_hole_kept, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_compat_widens_hole, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_create_runs_xl, setup, teardown),
        cmocka_unit_test_setup_teardown(test_xl_fails_releases, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_prepare_fails, setup, teardown),
        cmocka_unit_test_setup_teardown(test_bad_args, setup, teardown),
        cmocka_unit_test_setup_teardown(test_cli_dry_run, setup, teardown),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
