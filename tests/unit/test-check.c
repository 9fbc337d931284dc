/*
 * test-check.c - `xengpu check`: the console and command-line parsers
 * on real text, the judgement, and the verb end to end with libxl and
 * libxenctrl wrapped.
 *
 * Console samples:
 *   - tests/unit/data/xl-dmesg-iommu-vtd-raptorlake-xen417.txt (copied
 *     from /work/shared/realworld/: `xl dmesg | grep -i iommu` on Xen
 *     4.17.4-pre, Intel Raptor Lake, two DRHD units);
 *   - the nested test bed's lines (Xen 4.17 with QEMU's intel-iommu,
 *     intremap=on; /work/shared/nested-xen-lab/NOTES.md) and its
 *     virt_caps "pv hvm hvm_directio pv_directio hap iommu_hap_pt_share
 *     gnttab-v1 gnttab-v2".
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <cmocka.h>
#include <yajl/yajl_tree.h>

#include "fake-sysfs.h"
#include "pciback-helper/libxl-compat.h"
#include "toolstack/check.h"
#include "toolstack/cli.h"
#include <xenctrl.h>

#ifndef XENGPU_TEST_DATA
#define XENGPU_TEST_DATA "tests/unit/data"
#endif

#define NESTED_CAPS                                                     \
    "pv hvm hvm_directio pv_directio hap iommu_hap_pt_share gnttab-v1 " \
    "gnttab-v2"

static const char nested_console[] =
    "(XEN) Intel VT-d iommu 0 supported page sizes: 4kB, 2MB, 1GB\n"
    "(XEN) Intel VT-d Interrupt Remapping enabled.\n"
    "(XEN) I/O virtualisation enabled\n"
    "(XEN)  - Dom0 mode: Relaxed\n"
    "(XEN) Interrupt remapping enabled\n";

static char *slurp(const char *name, size_t *len_r)
{
    char path[256], *buf;
    FILE *f;
    long n;

    snprintf(path, sizeof(path), "%s/%s", XENGPU_TEST_DATA, name);
    f = fopen(path, "r");
    assert_non_null(f);
    fseek(f, 0, SEEK_END);
    n = ftell(f);
    rewind(f);
    buf = malloc(n + 1);
    assert_non_null(buf);
    assert_int_equal(fread(buf, 1, n, f), n);
    buf[n] = '\0';
    fclose(f);
    *len_r = n;
    return buf;
}

static void test_console_raptorlake(void **state)
{
    xengpu_check_console con;
    xengpu_check_cmdline cl;
    size_t len;
    char *text = slurp("xl-dmesg-iommu-vtd-raptorlake-xen417.txt", &len);

    (void)state;
    xengpu_check_console_parse(text, len, &con);
    assert_string_equal(con.hw, "Intel VT-d");
    /* grep -i iommu kept neither line: unknown, never "off" */
    assert_int_equal(con.iommu, XENGPU_TRI_UNKNOWN);
    assert_int_equal(con.intremap, XENGPU_TRI_UNKNOWN);
    assert_string_equal(con.cmdline,
                        "placeholder iommu=1 iommu=verbose "
                        "dom0_mem=4096M,max:4096M no-real-mode edd=off");
    xengpu_check_cmdline_parse(con.cmdline, &cl);
    assert_int_equal(cl.iommu, XENGPU_TRI_YES);
    assert_int_equal(cl.intremap, XENGPU_TRI_UNKNOWN);
    assert_int_equal(cl.quarantine, XENGPU_TRI_UNKNOWN);
    free(text);
}

static void test_console_nested(void **state)
{
    xengpu_check_console con;

    (void)state;
    xengpu_check_console_parse(nested_console, strlen(nested_console), &con);
    assert_int_equal(con.iommu, XENGPU_TRI_YES);
    assert_int_equal(con.intremap, XENGPU_TRI_YES);
    assert_string_equal(con.hw, "Intel VT-d");
    assert_string_equal(con.dom0_mode, "Relaxed");
    assert_string_equal(con.quarantine, "");
}

static void test_console_disabled(void **state)
{
    static const char off[] =
        "(XEN) [    0.512345] Intel VT-d Interrupt Remapping not enabled.\n"
        "(XEN) [    0.512400] I/O virtualisation disabled\r\n";
    /* the generic line comes last and wins */
    static const char last[] =
        "(XEN) Intel VT-d Interrupt Remapping enabled.\n"
        "(XEN) Interrupt remapping disabled";
    static const char amd[] = "(XEN) AMD-Vi: IOMMU 0 Enabled.\n"
                              "(XEN) I/O virtualisation enabled\n"
                              "(XEN) Interrupt remapping enabled\n";
    static const char nul[] = "I/O virtualisation\0 enabled\n";
    xengpu_check_console con;

    (void)state;
    xengpu_check_console_parse(off, strlen(off), &con);
    assert_int_equal(con.iommu, XENGPU_TRI_NO);
    assert_int_equal(con.intremap, XENGPU_TRI_NO);
    xengpu_check_console_parse(last, strlen(last), &con);
    assert_int_equal(con.intremap, XENGPU_TRI_NO);
    xengpu_check_console_parse(amd, strlen(amd), &con);
    assert_string_equal(con.hw, "AMD-Vi");
    assert_int_equal(con.intremap, XENGPU_TRI_YES);
    xengpu_check_console_parse(nul, sizeof(nul) - 1, &con);
    assert_int_equal(con.iommu, XENGPU_TRI_UNKNOWN);
    xengpu_check_console_parse("", 0, &con);
    assert_int_equal(con.iommu, XENGPU_TRI_UNKNOWN);
}

static void test_cmdline(void **state)
{
    xengpu_check_cmdline cl;

    (void)state;
    xengpu_check_cmdline_parse(NULL, &cl);
    assert_int_equal(cl.iommu, XENGPU_TRI_UNKNOWN);
    xengpu_check_cmdline_parse("console=com1 iommu=0", &cl);
    assert_int_equal(cl.iommu, XENGPU_TRI_NO);
    xengpu_check_cmdline_parse("iommu=off iommu=required", &cl);
    assert_int_equal(cl.iommu, XENGPU_TRI_YES);
    xengpu_check_cmdline_parse("iommu=1,no-intremap,no-quarantine", &cl);
    assert_int_equal(cl.iommu, XENGPU_TRI_YES);
    assert_int_equal(cl.intremap, XENGPU_TRI_NO);
    assert_int_equal(cl.quarantine, XENGPU_TRI_NO);
    xengpu_check_cmdline_parse("iommu=intremap=false,quarantine=scratch-page",
                               &cl);
    assert_int_equal(cl.intremap, XENGPU_TRI_NO);
    assert_int_equal(cl.quarantine, XENGPU_TRI_YES);
    assert_true(cl.scratch_page);
    xengpu_check_cmdline_parse("iommu=quarantine=scratch-page,quarantine=0",
                               &cl);
    assert_int_equal(cl.quarantine, XENGPU_TRI_NO);
    assert_false(cl.scratch_page);
    xengpu_check_cmdline_parse("xiommu=0 iommu=bogus,intremap=maybe", &cl);
    assert_int_equal(cl.iommu, XENGPU_TRI_UNKNOWN);
    assert_int_equal(cl.intremap, XENGPU_TRI_UNKNOWN);
}

static void test_caps_and_version(void **state)
{
    char v[32];

    (void)state;
    assert_true(xengpu_check_has_cap(NESTED_CAPS, "hvm_directio"));
    assert_true(xengpu_check_has_cap(NESTED_CAPS, "pv_directio"));
    assert_true(xengpu_check_has_cap(NESTED_CAPS, "gnttab-v2"));
    assert_false(xengpu_check_has_cap("pv hvm hap", "hvm_directio"));
    assert_false(xengpu_check_has_cap("hvm_directio_x", "hvm_directio"));
    assert_false(xengpu_check_has_cap("", "pv"));
    assert_false(xengpu_check_has_cap("pv", ""));
    xengpu_check_lib_version("/usr/lib/x86_64-linux-gnu/libxenlight.so.4.17.0",
                             v, sizeof(v));
    assert_string_equal(v, "4.17.0");
    xengpu_check_lib_version("/usr/lib/libxenlight.so", v, sizeof(v));
    assert_string_equal(v, "");
    xengpu_check_lib_version("xengpu", v, sizeof(v));
    assert_string_equal(v, "");
}

/* The nested bed's host: ready. */
static void ready_facts(xengpu_check_facts *f)
{
    xengpu_check_facts_init(f);
    f->root = f->xen = f->console_read = f->pciback = true;
    strcpy(f->xen_version, "4.17.3");
    strcpy(f->libxl_version, "4.17.0");
    strcpy(f->virt_caps, NESTED_CAPS);
    xengpu_check_console_parse(nested_console, strlen(nested_console),
                               &f->console);
    xengpu_check_cmdline_parse("dom0_mem=1024M iommu=verbose", &f->cmdline);
}

static const xengpu_check_finding *find(const xengpu_check_report *rep,
                                        const char *id)
{
    size_t i;

    for (i = 0; i < rep->n; i++)
        if (!strcmp(rep->f[i].id, id)) return &rep->f[i];
    return NULL;
}

static void test_assess(void **state)
{
    const xengpu_check_finding *x;
    xengpu_check_facts f;
    xengpu_check_report rep;

    (void)state;
    ready_facts(&f);
    xengpu_check_assess(&f, &rep);
    assert_int_equal(rep.n, 0);

    strcpy(f.virt_caps, "pv hvm hap gnttab-v1");
    xengpu_check_assess(&f, &rep);
    assert_int_equal(rep.problems, 1);
    assert_non_null(x = find(&rep, "iommu-off"));
    assert_non_null(strstr(x->what, "lack hvm_directio and pv_directio"));
    assert_non_null(strstr(x->fix, "iommu=1"));
    assert_non_null(strstr(x->fix, "firmware"));
    xengpu_check_cmdline_parse("iommu=0", &f.cmdline);
    xengpu_check_assess(&f, &rep);
    assert_non_null(strstr(find(&rep, "iommu-off")->fix, "remove iommu=0"));

    ready_facts(&f);
    f.console.intremap = XENGPU_TRI_NO;
    xengpu_check_assess(&f, &rep);
    assert_int_equal(rep.problems, 1);
    assert_non_null(x = find(&rep, "no-intremap"));
    assert_non_null(strstr(x->what, "unsafe"));

    /* scrolled out of the ring: a note; the command line can still say */
    f.console.intremap = XENGPU_TRI_UNKNOWN;
    xengpu_check_assess(&f, &rep);
    assert_int_equal(rep.problems, 0);
    assert_non_null(find(&rep, "intremap-unknown"));
    xengpu_check_cmdline_parse("iommu=no-intremap", &f.cmdline);
    xengpu_check_assess(&f, &rep);
    assert_non_null(x = find(&rep, "no-intremap"));
    assert_non_null(strstr(x->fix, "remove no-intremap"));

    ready_facts(&f);
    xengpu_check_cmdline_parse("iommu=no-quarantine", &f.cmdline);
    f.pciback = false;
    strcpy(f.xen_version, "4.18.0");
    xengpu_check_assess(&f, &rep);
    assert_int_equal(rep.problems, 2);
    assert_non_null(find(&rep, "no-quarantine"));
    assert_non_null(x = find(&rep, "pciback-missing"));
    assert_non_null(strstr(x->fix, "modprobe xen-pciback"));
    assert_non_null(find(&rep, "version-mismatch"));

    xengpu_check_facts_init(&f);
    f.pciback = true;
    xengpu_check_assess(&f, &rep);
    assert_int_equal(rep.problems, 1);
    assert_non_null(find(&rep, "not-root"));
    f.root = true;
    xengpu_check_assess(&f, &rep);
    assert_non_null(x = find(&rep, "not-xen"));
    assert_non_null(strstr(x->what, "not a Xen dom0"));
}

static void test_report(void **state)
{
    xengpu_check_facts f;
    xengpu_check_report rep;
    const char *path[] = { "ready", NULL }, *probs[] = { "problems", NULL };
    char *text = NULL, err[128];
    yajl_val root, v;

    (void)state;
    ready_facts(&f);
    xengpu_check_assess(&f, &rep);
    assert_int_equal(xengpu_check_text(&f, &rep, &text), 0);
    assert_non_null(strstr(text, "IOMMU:               enabled (Intel VT-d)"));
    assert_non_null(strstr(text, "interrupt remapping: enabled\n"));
    assert_non_null(strstr(text, "\nready for GPU passthrough\n"));
    free(text);
    assert_int_equal(xengpu_check_json(&f, &rep, &text), 0);
    root = yajl_tree_parse(text, err, sizeof(err));
    assert_non_null(root);
    assert_true(YAJL_IS_TRUE(yajl_tree_get(root, path, yajl_t_any)));
    v = yajl_tree_get(root, probs, yajl_t_array);
    assert_non_null(v);
    assert_int_equal(v->u.array.len, 0);
    yajl_tree_free(root);
    free(text);

    f.pciback = false;
    xengpu_check_assess(&f, &rep);
    xengpu_check_text(&f, &rep, &text);
    assert_non_null(strstr(text, "problem: xen-pciback is not loaded"));
    assert_non_null(strstr(text, "fix: modprobe xen-pciback"));
    assert_non_null(strstr(text, "not ready for GPU passthrough: 1 problem"));
    free(text);
}

/* --- the verb, with libxl and libxenctrl wrapped ---------------------- */

static struct {
    bool xen;         /* libxl_ctx_alloc succeeds */
    bool console;     /* xc_interface_open succeeds */
    const char *ring; /* Xen's console ring */
    unsigned chunk;   /* at most this many bytes per read */
    unsigned reads;   /* xc_readconsolering calls */
    bool physinfo_fails;
    int ctx_live, xch_live;
} fx;

static libxl_version_info version = {
    .xen_version_major = 4,
    .xen_version_minor = 17,
    .xen_version_extra = ".3",
    .commandline = "dom0_mem=1024M,max:1024M iommu=verbose smap=0",
};

int __wrap_libxl_ctx_alloc(libxl_ctx **pctx, int version_, unsigned flags,
                           xentoollog_logger *lg);
int __wrap_libxl_ctx_alloc(libxl_ctx **pctx, int version_, unsigned flags,
                           xentoollog_logger *lg)
{
    (void)version_, (void)flags, (void)lg;
    if (!fx.xen) return ERROR_FAIL;
    *pctx = (libxl_ctx *)&fx;
    fx.ctx_live++;
    return 0;
}

int __wrap_libxl_ctx_free(libxl_ctx *ctx);
int __wrap_libxl_ctx_free(libxl_ctx *ctx)
{
    if (ctx) fx.ctx_live--;
    return 0;
}

int __wrap_libxl_get_physinfo(libxl_ctx *ctx, libxl_physinfo *pi);
int __wrap_libxl_get_physinfo(libxl_ctx *ctx, libxl_physinfo *pi)
{
    (void)ctx;
    if (fx.physinfo_fails) return ERROR_FAIL;
    pi->cap_pv = pi->cap_hvm = pi->cap_hvm_directio = pi->cap_hap = true;
    pi->cap_iommu_hap_pt_share = pi->cap_gnttab_v1 = pi->cap_gnttab_v2 = true;
    return 0;
}

const libxl_version_info *__wrap_libxl_get_version_info(libxl_ctx *ctx);
const libxl_version_info *__wrap_libxl_get_version_info(libxl_ctx *ctx)
{
    (void)ctx;
    return &version;
}

xc_interface *__wrap_xc_interface_open(xentoollog_logger *lg,
                                       xentoollog_logger *dlg, unsigned f);
xc_interface *__wrap_xc_interface_open(xentoollog_logger *lg,
                                       xentoollog_logger *dlg, unsigned f)
{
    (void)lg, (void)dlg, (void)f;
    if (!fx.console) return NULL;
    fx.xch_live++;
    return (xc_interface *)&fx;
}

int __wrap_xc_interface_close(xc_interface *xch);
int __wrap_xc_interface_close(xc_interface *xch)
{
    if (xch) fx.xch_live--;
    return 0;
}

int __wrap_xc_readconsolering(xc_interface *xch, char *buffer,
                              unsigned int *pnr_chars, int clear,
                              int incremental, uint32_t *pindex);
int __wrap_xc_readconsolering(xc_interface *xch, char *buffer,
                              unsigned int *pnr_chars, int clear,
                              int incremental, uint32_t *pindex)
{
    size_t left = strlen(fx.ring) - *pindex;
    unsigned n = *pnr_chars;

    (void)xch;
    assert_int_equal(clear, 0);
    assert_int_equal(incremental, 1);
    fx.reads++;
    if (n > fx.chunk) n = fx.chunk;
    if (n > left) n = left;
    memcpy(buffer, fx.ring + *pindex, n);
    *pnr_chars = n;
    *pindex += n;
    return 0;
}

uid_t __wrap_geteuid(void);
uid_t __wrap_geteuid(void)
{
    return 0;
}

struct run {
    struct fake_sysfs *fs;
    int status;
    char *out, *err;
};

static int setup(void **state)
{
    struct run *r = calloc(1, sizeof(*r));

    assert_non_null(r);
    r->fs = fake_sysfs_new();
    fake_sysfs_write(r->fs, "bus/pci/drivers/pciback/new_slot", "");
    memset(&fx, 0, sizeof(fx));
    fx.xen = fx.console = true;
    fx.ring = nested_console;
    fx.chunk = 40; /* several reads, lines cut in the middle */
    *state = r;
    return 0;
}

static int teardown(void **state)
{
    struct run *r = *state;

    assert_int_equal(fx.ctx_live, 0);
    assert_int_equal(fx.xch_live, 0);
    fake_sysfs_free(r->fs);
    free(r->out);
    free(r->err);
    free(r);
    return 0;
}

static void check(struct run *r, bool json)
{
    char *argv[] = { "xengpu", "--sysfs-root",         r->fs->root,
                     "check",  json ? "--json" : NULL, NULL };
    size_t len;
    FILE *out, *err;

    free(r->out);
    free(r->err);
    out = open_memstream(&r->out, &len);
    err = open_memstream(&r->err, &len);
    r->status = xengpu_cli(json ? 5 : 4, argv, out, err);
    fclose(out);
    fclose(err);
}

static void test_cli_ready(void **state)
{
    struct run *r = *state;

    check(r, false);
    if (r->status) fail_msg("exit %d: %s%s", r->status, r->out, r->err);
    assert_true(fx.reads > 3);
    assert_non_null(strstr(r->out, "Xen:                 4.17.3 (libxl 4.17"));
    assert_non_null(strstr(r->out, "virt_caps:           " NESTED_CAPS "\n"));
    assert_non_null(
        strstr(r->out, "IOMMU:               enabled (Intel VT-d)"));
    assert_non_null(strstr(r->out, "interrupt remapping: enabled"));
    assert_non_null(strstr(r->out, "quarantine:          basic"));
    assert_non_null(strstr(r->out, "xen-pciback:         loaded"));
    assert_string_equal(r->err, "");
    check(r, true);
    assert_int_equal(r->status, 0);
    assert_non_null(strstr(r->out, "\"ready\": true"));
    assert_non_null(strstr(r->out, "\"interrupt_remapping\": true"));
}

static void test_cli_problems(void **state)
{
    struct run *r = *state;
    char path[512];

    snprintf(path, sizeof(path), "%s/bus/pci/drivers/pciback", r->fs->root);
    unlink(strcat(path, "/new_slot"));
    *strrchr(path, '/') = '\0';
    assert_int_equal(rmdir(path), 0);
    fx.physinfo_fails = true;
    fx.console = false;
    check(r, false);
    assert_int_equal(r->status, 1);
    assert_non_null(strstr(r->out, "problem: Xen has no IOMMU"));
    assert_non_null(strstr(r->out, "problem: xen-pciback is not loaded"));
    assert_non_null(strstr(r->out, "fix: modprobe xen-pciback"));
    assert_non_null(strstr(r->err, "not ready for GPU passthrough"));

    fx.xen = false;
    check(r, true);
    assert_int_equal(r->status, 1);
    assert_non_null(strstr(r->out, "\"ready\": false"));
    assert_non_null(strstr(r->out, "\"id\": \"not-xen\""));
}

static void test_cli_usage(void **state)
{
    struct run *r = *state;
    char *argv[] = { "xengpu", "check", "extra", NULL };
    size_t len;
    FILE *out, *err;

    out = open_memstream(&r->out, &len);
    err = open_memstream(&r->err, &len);
    assert_int_equal(xengpu_cli(3, argv, out, err), 2);
    fclose(out);
    fclose(err);
    assert_non_null(strstr(r->err, "check takes no arguments"));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_console_raptorlake),
        cmocka_unit_test(test_console_nested),
        cmocka_unit_test(test_console_disabled),
        cmocka_unit_test(test_cmdline),
        cmocka_unit_test(test_caps_and_version),
        cmocka_unit_test(test_assess),
        cmocka_unit_test(test_report),
        cmocka_unit_test_setup_teardown(test_cli_ready, setup, teardown),
        cmocka_unit_test_setup_teardown(test_cli_problems, setup, teardown),
        cmocka_unit_test_setup_teardown(test_cli_usage, setup, teardown),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
