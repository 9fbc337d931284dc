/*
 * test-cli.c - the xengpu command: exit codes, and the `list --json`
 * contract of design.md, on fake trees of real cards (realcards.c:
 * iommu-groups-amd-b550-navi21-rx6950xt-rx550-chipset-group.txt,
 * lspci-brief-and-dmesg-nvidia-h100-nvl-x2-amd-genoa.txt and
 * lspci-nvidia-rtx3090-fe-domain0002-unassigned-bars-rk3568.txt).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>
#include <yajl/yajl_tree.h>

#include "fake-sysfs.h"
#include "realcards.h"
#include "toolstack/cli.h"

struct run {
    int status;
    char *out, *err;
};

struct ctx {
    struct fake_sysfs *fs;
    struct run r;
};

static int setup(void **state)
{
    struct ctx *c = calloc(1, sizeof(*c));

    assert_non_null(c);
    c->fs = fake_sysfs_new();
    rc_b550(c->fs);
    rc_h100(c->fs, 1);
    rc_rtx3090_domain2(c->fs);
    *state = c;
    return 0;
}

static int teardown(void **state)
{
    struct ctx *c = *state;

    free(c->r.out);
    free(c->r.err);
    fake_sysfs_free(c->fs);
    free(c);
    return 0;
}

/* Run xengpu with ARGS (NULL-terminated), --sysfs-root first if ROOT. */
static void run(struct ctx *c, bool root, ...)
{
    char *argv[32] = { "xengpu" };
    size_t outlen, errlen;
    int argc = 1;
    FILE *out, *err;
    va_list ap;

    free(c->r.out);
    free(c->r.err);
    if (root) {
        argv[argc++] = "--sysfs-root";
        argv[argc++] = c->fs->root;
    }
    va_start(ap, root);
    while ((argv[argc] = va_arg(ap, char *)))
        argc++;
    va_end(ap);
    out = open_memstream(&c->r.out, &outlen);
    err = open_memstream(&c->r.err, &errlen);
    assert_non_null(out);
    assert_non_null(err);
    c->r.status = xengpu_cli(argc, argv, out, err);
    fclose(out);
    fclose(err);
}

static void test_usage(void **state)
{
    struct ctx *c = *state;

    run(c, false, NULL);
    assert_int_equal(c->r.status, 2);
    assert_non_null(strstr(c->r.err, "usage: xengpu"));
    run(c, false, "--help", NULL);
    assert_int_equal(c->r.status, 0);
    assert_non_null(strstr(c->r.out, "list"));
    run(c, false, "frob", NULL);
    assert_int_equal(c->r.status, 2);
    assert_non_null(strstr(c->r.err, "unknown verb: frob"));
    run(c, true, "list", "--bogus", NULL);
    assert_int_equal(c->r.status, 2);
    run(c, true, "list", "extra", NULL);
    assert_int_equal(c->r.status, 2);
    run(c, false, "--sysfs-root", NULL);
    assert_int_equal(c->r.status, 2);
    run(c, false, "list", "--help", NULL);
    assert_int_equal(c->r.status, 0);
    assert_non_null(strstr(c->r.out, "usage: xengpu list"));
    run(c, false, "show", "--help", NULL);
    assert_int_equal(c->r.status, 0);
}

static void test_list_text(void **state)
{
    struct ctx *c = *state;

    run(c, true, "list", NULL);
    assert_int_equal(c->r.status, 0);
    assert_non_null(strstr(c->r.out, "0000:08:00.0  1002:73a5 030000   2"));
    assert_non_null(strstr(c->r.out, "shares-iommu-with:0000:02:00.0"));
    assert_non_null(strstr(c->r.out, "0002:21:00.0"));
    assert_non_null(strstr(c->r.out, "0000:e1:00.4"));
}

static bool is_hex(const char *s, size_t n)
{
    size_t i;

    if (strlen(s) != n) return false;
    for (i = 0; i < n; i++)
        if (!strchr("0123456789abcdef", s[i])) return false;
    return true;
}

static yajl_val get(yajl_val obj, const char *key, yajl_type type)
{
    const char *path[] = { key, NULL };
    yajl_val v = yajl_tree_get(obj, path, type);

    if (!v) fail_msg("member \"%s\" missing or of the wrong type", key);
    return v;
}

static const char *sget(yajl_val obj, const char *key)
{
    const char *s = YAJL_GET_STRING(get(obj, key, yajl_t_string));

    return s ? s : "";
}

static bool is_null_or(yajl_val obj, const char *key, yajl_type type)
{
    const char *path[] = { key, NULL };
    yajl_val v = yajl_tree_get(obj, path, yajl_t_any);

    return v && (YAJL_IS_NULL(v) || yajl_tree_get(obj, path, type));
}

static void check_ids(yajl_val o)
{
    const char *bdf = sget(o, "bdf");

    assert_int_equal(strlen(bdf), 12);
    assert_true(is_hex(sget(o, "vendor"), 4));
    assert_true(is_hex(sget(o, "device"), 4));
    assert_true(is_hex(sget(o, "class"), 6));
}

static void check_reset(yajl_val o)
{
    static const char *const names[] = {
        "device_specific", "acpi", "flr", "af_flr", "pm", "bus", "none"
    };
    const char *r = sget(o, "reset");
    size_t i;

    for (i = 0; i < sizeof(names) / sizeof(names[0]); i++)
        if (!strcmp(r, names[i])) return;
    fail_msg("reset \"%s\" not in the contract", r);
}

static void check_bars(yajl_val o)
{
    yajl_val bars = get(o, "bars", yajl_t_array), bar;
    size_t i;

    for (i = 0; i < YAJL_GET_ARRAY(bars)->len; i++) {
        bar = YAJL_GET_ARRAY(bars)->values[i];
        get(bar, "index", yajl_t_number);
        get(bar, "size", yajl_t_number);
        assert_true(YAJL_IS_TRUE(get(bar, "is64", yajl_t_any)) ||
                    YAJL_IS_FALSE(get(bar, "is64", yajl_t_any)));
        assert_true(YAJL_IS_TRUE(get(bar, "prefetch", yajl_t_any)) ||
                    YAJL_IS_FALSE(get(bar, "prefetch", yajl_t_any)));
    }
}

static void check_card(yajl_val card)
{
    yajl_val fns = get(card, "functions", yajl_t_array), fn;
    const char *state;
    size_t i;

    check_ids(card);
    check_reset(card);
    check_bars(card);
    assert_true(YAJL_GET_ARRAY(fns)->len >= 1);
    for (i = 0; i < YAJL_GET_ARRAY(fns)->len; i++) {
        fn = YAJL_GET_ARRAY(fns)->values[i];
        check_ids(fn);
        check_reset(fn);
        check_bars(fn);
        assert_true(is_null_or(fn, "driver", yajl_t_string));
        assert_true(is_null_or(fn, "iommu_group", yajl_t_number));
    }
    assert_string_equal(sget(card, "bdf"),
                        sget(YAJL_GET_ARRAY(fns)->values[0], "bdf"));
    assert_false(YAJL_IS_NUMBER(get(card, "iommu_isolated", yajl_t_any)));
    assert_false(YAJL_IS_STRING(get(card, "boot_vga", yajl_t_any)));
    assert_true(is_null_or(card, "numa_node", yajl_t_number));
    state = sget(card, "state");
    assert_true(!strcmp(state, "host") || !strcmp(state, "prepared") ||
                !strcmp(state, "reserved") || !strcmp(state, "assigned"));
    assert_true(is_null_or(card, "domain", yajl_t_number));
}

static yajl_val find_card(yajl_val cards, const char *bdf)
{
    size_t i;
    yajl_val card;

    for (i = 0; i < YAJL_GET_ARRAY(cards)->len; i++) {
        card = YAJL_GET_ARRAY(cards)->values[i];
        if (!strcmp(sget(card, "bdf"), bdf)) return card;
    }
    fail_msg("no card %s in JSON", bdf);
    return NULL;
}

static void test_list_json_contract(void **state)
{
    struct ctx *c = *state;
    char errbuf[256];
    yajl_val root, cards, rx550, h100;
    size_t i;

    run(c, true, "list", "--json", NULL);
    assert_int_equal(c->r.status, 0);
    root = yajl_tree_parse(c->r.out, errbuf, sizeof(errbuf));
    if (!root) fail_msg("bad JSON: %s", errbuf);
    cards = get(root, "cards", yajl_t_array);
    /* Navi 21, RX 550, H100 PF and its VF, RTX 3090. */
    assert_int_equal(YAJL_GET_ARRAY(cards)->len, 5);
    for (i = 0; i < YAJL_GET_ARRAY(cards)->len; i++)
        check_card(YAJL_GET_ARRAY(cards)->values[i]);

    rx550 = find_card(cards, "0000:04:00.0");
    assert_true(YAJL_IS_FALSE(get(rx550, "iommu_isolated", yajl_t_any)));
    assert_true(YAJL_IS_TRUE(get(rx550, "boot_vga", yajl_t_any)));
    assert_string_equal(sget(rx550, "shares_iommu_with"), "0000:02:00.0");
    h100 = find_card(cards, "0000:e1:00.0");
    assert_int_equal(YAJL_GET_INTEGER(get(h100, "numa_node", yajl_t_number)),
                     1);
    assert_int_equal(
        YAJL_GET_INTEGER(
            get(YAJL_GET_ARRAY(get(h100, "bars", yajl_t_array))->values[1],
                "size", yajl_t_number)),
        128ll << 30);
    yajl_tree_free(root);
}

static size_t count_lines(const char *s)
{
    size_t n = 0;

    for (; *s; s++)
        n += *s == '\n';
    return n;
}

static void test_show(void **state)
{
    struct ctx *c = *state;
    char errbuf[256];
    yajl_val card;

    run(c, true, "show", "08:00", NULL);
    assert_int_equal(c->r.status, 0);
    assert_non_null(strstr(c->r.out, "card 0000:08:00.0"));
    assert_non_null(strstr(c->r.out, "0000:07:00.0 (on-card switch port)"));
    run(c, true, "show", "--json", "0000:08:00.1", NULL);
    assert_int_equal(c->r.status, 0);
    card = yajl_tree_parse(c->r.out, errbuf, sizeof(errbuf));
    assert_non_null(card);
    check_card(card);
    assert_string_equal(sget(card, "bdf"), "0000:08:00.0");
    yajl_tree_free(card);

    run(c, true, "show", "0000:05:00.0", NULL);
    assert_int_equal(c->r.status, 1);
    assert_non_null(strstr(c->r.err, "no GPU card has a function at "
                                     "0000:05:00.0"));
    /* One line: the reason, naming the device. */
    assert_int_equal(count_lines(c->r.err), 1);
    run(c, true, "show", "0000:01:00.0 ", NULL);
    assert_int_equal(c->r.status, 2);
    run(c, true, "show", NULL);
    assert_int_equal(c->r.status, 2);
}

static void test_sysfs_root(void **state)
{
    struct ctx *c = *state;

    run(c, false, "--sysfs-root", "/nonexistent/xengpu", "list", NULL);
    assert_int_equal(c->r.status, 1);
    assert_non_null(strstr(c->r.err, "/nonexistent/xengpu"));
    setenv("XENGPU_SYSFS_ROOT", c->fs->root, 1);
    run(c, false, "list", "--json", NULL);
    unsetenv("XENGPU_SYSFS_ROOT");
    assert_int_equal(c->r.status, 0);
    assert_non_null(strstr(c->r.out, "0002:21:00.0"));
}

int main(void)
{
#define T(f) cmocka_unit_test_setup_teardown(f, setup, teardown)
    const struct CMUnitTest tests[] = {
        T(test_usage), T(test_list_text),  T(test_list_json_contract),
        T(test_show),  T(test_sysfs_root),
    };
#undef T

    return cmocka_run_group_tests_name("cli", tests, NULL, NULL);
}
