/*
 * test-gpuspec.c - the gpu = [...] grammar, the domain config reader and
 * the pool file.
 *
 * Real configs (copied into tests/unit/data/ from /work/shared/realworld/):
 *  - xlcfg-win10-rtx4060-laptop-permissive-seabios.txt:
 *    pci = [ '0000:01:00.0,permissive=1' ], memory without maxmem
 *  - xlcfg-win11-ovmf-rtx4060-rdm-relaxed.txt:
 *    '01:00.0,permissive=1,rdm_policy=relaxed', wrapped in a markdown
 *    code block (a "sudo nano" line before it, ``` after it)
 *  - xlcfg-win7-ati-hd7850-qemu-trad-lofyer.txt: builder="hvm",
 *    memory=maxmem=2048, pci = [ '01:00.0' , '01:00.1'  ] (spaces
 *    between items), vif 'bridge=virbr0, mac=..., model=rtl8139' (spaces
 *    after commas), an HTML <pre> before the first line
 *  - xlcfg-fragments-xen-docs-vtd-msitranslate-rdm.txt (Xen's vtd.txt):
 *    '01:00.0,msitranslate=0', '01:00.0,rdm_policy=relaxed',
 *    '03:00.0,rdm_policy=strict', rdm = "strategy=host, policy=relaxed"
 * Every pci entry of them must also be a valid gpu SPEC: the grammar is
 * xl's pci spec plus selectors and count.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <cmocka.h>

#include "capture-log.h"
#include "pciback-helper/util.h"
#include "toolstack/gpuspec.h"

#ifndef XENGPU_TEST_DATA
#define XENGPU_TEST_DATA "tests/unit/data"
#endif

static xengpu_gpuspec parse_ok(const char *s)
{
    char why[XENGPU_GPUSPEC_WHYLEN] = "";
    xengpu_gpuspec spec;

    if (xengpu_gpuspec_parse(s, strlen(s), 0, &spec, why, sizeof(why)))
        fail_msg("'%s' refused: %s", s, why);
    return spec;
}

static void parse_bad(const char *s, size_t len, unsigned flags,
                      const char *needle)
{
    char why[XENGPU_GPUSPEC_WHYLEN] = "";
    xengpu_gpuspec spec;

    if (xengpu_gpuspec_parse(s, len, flags, &spec, why, sizeof(why)) !=
        -EINVAL)
        fail_msg("'%.*s' accepted", (int)len, s);
    if (!strstr(why, needle))
        fail_msg("'%.*s': message '%s' lacks '%s'", (int)len, s, why, needle);
}

#define BAD(s, needle) parse_bad((s), strlen(s), 0, (needle))

static void test_selectors(void **state)
{
    xengpu_gpuspec g;

    (void)state;
    g = parse_ok("01:00.0");
    assert_int_equal(g.sel, XENGPU_SEL_FUNCTION);
    assert_int_equal(g.addr.bus, 1);
    assert_int_equal(g.count, 1);
    g = parse_ok("0002:21:00.1");
    assert_int_equal(g.sel, XENGPU_SEL_FUNCTION);
    assert_int_equal(g.addr.domain, 2);
    assert_int_equal(g.addr.fn, 1);
    g = parse_ok("01:00");
    assert_int_equal(g.sel, XENGPU_SEL_SLOT);
    g = parse_ok("0000:c1:00");
    assert_int_equal(g.sel, XENGPU_SEL_SLOT);
    assert_int_equal(g.addr.bus, 0xc1);
    g = parse_ok("10de:2204");
    assert_int_equal(g.sel, XENGPU_SEL_MODEL);
    assert_int_equal(g.vendor, 0x10de);
    assert_int_equal(g.device, 0x2204);
    /* lspci -d 10DE: spells ids in upper case. */
    g = parse_ok("10DE:2230");
    assert_int_equal(g.device, 0x2230);
    g = parse_ok("vendor=1002");
    assert_int_equal(g.sel, XENGPU_SEL_MODEL);
    assert_int_equal(g.vendor, 0x1002);
    assert_int_equal(g.device, -1);
    g = parse_ok("vendor=0x10de,device=2204");
    assert_int_equal(g.device, 0x2204);
    g = parse_ok("pool=render_1,count=3");
    assert_int_equal(g.sel, XENGPU_SEL_POOL);
    assert_string_equal(g.pool, "render_1");
    assert_int_equal(g.count, 3);
    g = parse_ok("vendor=10de,count=16");
    assert_int_equal(g.count, 16);
}

static void test_options(void **state)
{
    char opts[64];
    xengpu_gpuspec g;

    (void)state;
    g = parse_ok("01:00.0");
    assert_int_equal(g.permissive, -1);
    assert_int_equal(g.rdm_policy, XENGPU_RDM_UNSET);
    assert_int_equal(xengpu_gpuspec_xl_options(&g, opts, sizeof(opts)), 0);
    assert_string_equal(opts, "");
    g = parse_ok("10de:2204,count=2,rdm_policy=strict,power_mgmt=1,"
                 "msitranslate=0,permissive=1");
    assert_int_equal(xengpu_gpuspec_xl_options(&g, opts, sizeof(opts)), 0);
    assert_string_equal(opts, ",permissive=1,msitranslate=0,power_mgmt=1,"
                              "rdm_policy=strict");
    assert_int_equal(xengpu_gpuspec_xl_options(&g, opts, 10), -ENOSPC);
    g = parse_ok("01:00.0,permissive=0,rdm_policy=relaxed");
    assert_int_equal(xengpu_gpuspec_xl_options(&g, opts, sizeof(opts)), 0);
    assert_string_equal(opts, ",permissive=0,rdm_policy=relaxed");
}

/*
 * Spaces around ',' and '=' as people write them: "strategy=host,
 * policy=relaxed" (Xen's vtd.txt), 'bridge=virbr0, mac=...' (win7).
 */
static void test_spaces(void **state)
{
    xengpu_gpuspec g;

    (void)state;
    g = parse_ok("10de:2204, permissive=1");
    assert_int_equal(g.permissive, 1);
    g = parse_ok(" 01:00.0 , rdm_policy = relaxed ");
    assert_int_equal(g.rdm_policy, XENGPU_RDM_RELAXED);
    assert_string_equal(g.text, " 01:00.0 , rdm_policy = relaxed ");
    g = parse_ok("vendor = 1002 ,count= 2");
    assert_int_equal(g.count, 2);
    BAD("01:00.0,\tpermissive=1", "control byte \\x09 at offset 8");
    BAD("01: 00.0", "'01: 00.0' is not a PCI address");
}

static void test_bad_items(void **state)
{
    (void)state;
    BAD("", "empty spec");
    BAD("   ", "empty spec");
    BAD("01:00.0,", "empty item 2 (stray ',')");
    BAD(",01:00.0", "empty item 1");
    BAD("01:00.0,,permissive=1", "empty item 2");
    BAD("01:00.0,foo=1", "unknown key 'foo' (expected vendor, device, pool");
    BAD("01:00.0,permissive=1,permissive=0", "key 'permissive' given twice");
    BAD("01:00.0,permissive=2", "bad value '2' for permissive (expected 0 "
                                "or 1)");
    BAD("01:00.0,permissive=true", "bad value 'true' for permissive");
    BAD("01:00.0,permissive=", "key 'permissive' has no value");
    BAD("01:00.0,permissive", "'permissive' is not KEY=VALUE");
    BAD("01:00.0,rdm_policy=loose", "bad value 'loose' for rdm_policy "
                                    "(expected strict or relaxed)");
    BAD("01:00.0,rdm_policy=Strict", "bad value 'Strict'");
    BAD("01:00.0,10de:2204", "'10de:2204' is not KEY=VALUE");
    BAD("permissive=1", "names no card");
    BAD("=1", "unknown key ''");
}

static void test_bad_selectors(void **state)
{
    (void)state;
    BAD("10de:22045", "'10de:22045' is not a PCI address");
    BAD("10:22", "'10:22' is not a PCI address");
    BAD("0x10de:2204", "is not a PCI address");
    BAD("01:00.8", "'01:00.8' is not a PCI address");
    BAD("01:20.0", "'01:20.0' is not a PCI address");
    BAD("00000:01:00.0", "is not a PCI address");
    BAD("01:00.*", "is not a PCI address");
    BAD("01:00.0@08", "xengpu picks the virtual slot, drop '@'");
    BAD("01:00.0,seize=1", "key 'seize' is refused: xengpu prepares cards "
                           "itself");
    BAD("01:00.0,vslot=8", "key 'vslot' is refused");
    BAD("01:00.0,rom=none", "key 'rom' is refused: reserved for a later");
    BAD("10de:2204,migration=unplug", "key 'migration' is refused");
    BAD("device=2204", "device= needs vendor=");
    BAD("vendor=10de,pool=x", "names the card twice");
    BAD("01:00.0,vendor=10de", "names the card twice");
    BAD("10de:2204,pool=x", "names the card twice");
    BAD("vendor=10d", "bad value '10d' for vendor (expected 4 hex digits)");
    BAD("vendor=10de,device=22041", "bad value '22041' for device");
    BAD("pool=Render", "bad value 'Render' for pool");
    BAD("pool=a-b", "bad value 'a-b' for pool");
    BAD("pool=abcdefghijklmnopqrstuvwxyz0123456", "for pool");
    BAD("01:00.0,count=2", "count=2 but an address names one card");
    BAD("01:00,count=2", "count=2 but an address names one card");
    BAD("10de:2204,count=0", "bad value '0' for count (expected 1 to 16)");
    BAD("10de:2204,count=17", "bad value '17' for count");
    BAD("10de:2204,count=01", "bad value '01' for count");
    BAD("10de:2204,count=-1", "bad value '-1' for count");
}

static void test_bytes(void **state)
{
    char big[XENGPU_GPUSPEC_MAX + 2];
    xengpu_gpuspec g;
    char why[XENGPU_GPUSPEC_WHYLEN];

    (void)state;
    parse_bad("01:00.0\0,permissive=1", 21, 0, "NUL byte at offset 7");
    BAD("01:00.0\n", "control byte \\x0a at offset 7");
    BAD("01:00.0\x7f", "control byte \\x7f");
    BAD("10de:2204,pool=\xc3\xa9", "non-ASCII byte \\xc3 at offset 15");
    /* 256 bytes is the cap: trailing spaces up to it are fine. */
    memset(big, ' ', sizeof(big));
    memcpy(big, "01:00.0", 7);
    assert_int_equal(
        xengpu_gpuspec_parse(big, XENGPU_GPUSPEC_MAX, 0, &g, why, sizeof(why)),
        0);
    parse_bad(big, XENGPU_GPUSPEC_MAX + 1, 0, "longer than 256 bytes");
}

static void test_member(void **state)
{
    char why[XENGPU_GPUSPEC_WHYLEN];
    xengpu_gpuspec g;

    (void)state;
    assert_int_equal(xengpu_gpuspec_parse("10de:2204", 9,
                                          XENGPU_GPUSPEC_MEMBER, &g, why,
                                          sizeof(why)),
                     0);
    assert_int_equal(xengpu_gpuspec_parse("vendor=1002", 11,
                                          XENGPU_GPUSPEC_MEMBER, &g, why,
                                          sizeof(why)),
                     0);
    parse_bad("10de:2204,count=2", 17, XENGPU_GPUSPEC_MEMBER,
              "a pool member is an address or a model only");
    parse_bad("pool=x", 6, XENGPU_GPUSPEC_MEMBER, "a pool member");
    parse_bad("01:00.0,permissive=1", 20, XENGPU_GPUSPEC_MEMBER,
              "a pool member");
}

/* The options a save file or migration carries for each card. */
static void test_options_only(void **state)
{
    char why[XENGPU_GPUSPEC_WHYLEN], buf[64];
    xengpu_gpuspec g;

    (void)state;
    assert_int_equal(xengpu_gpuspec_parse("permissive=1,rdm_policy=relaxed",
                                          31, XENGPU_GPUSPEC_OPTIONS, &g, why,
                                          sizeof(why)),
                     0);
    assert_int_equal(g.sel, XENGPU_SEL_NONE);
    assert_int_equal(g.permissive, 1);
    assert_int_equal(g.msitranslate, -1);
    assert_int_equal(g.rdm_policy, XENGPU_RDM_RELAXED);
    assert_int_equal(xengpu_gpuspec_xl_options(&g, buf, sizeof(buf)), 0);
    assert_string_equal(buf, ",permissive=1,rdm_policy=relaxed");
    parse_bad("01:00.0,permissive=1", 20, XENGPU_GPUSPEC_OPTIONS,
              "only per-device options here");
    parse_bad("vendor=10de", 11, XENGPU_GPUSPEC_OPTIONS,
              "only per-device options here");
    parse_bad("count=2", 7, XENGPU_GPUSPEC_OPTIONS,
              "only per-device options here");
    parse_bad("pool=a", 6, XENGPU_GPUSPEC_OPTIONS,
              "only per-device options here");
    parse_bad("permissive=2", 12, XENGPU_GPUSPEC_OPTIONS, "permissive");
}

static void test_quote(void **state)
{
    char buf[96], big[300];

    (void)state;
    xengpu_quote("a\tb\xff", 4, buf, sizeof(buf));
    assert_string_equal(buf, "a\\x09b\\xff");
    memset(big, 'x', sizeof(big));
    xengpu_quote(big, sizeof(big), buf, sizeof(buf));
    assert_true(strlen(buf) < sizeof(buf));
    assert_non_null(strstr(buf, "..."));
    xengpu_quote("abc", 3, buf, 1);
    assert_string_equal(buf, "");
}

/* --- domain configs --------------------------------------------------- */

static char *slurp(const char *name)
{
    char path[256], *data = NULL;
    size_t len = 0;
    FILE *f, *out;
    int c;

    snprintf(path, sizeof(path), "%s/%s", XENGPU_TEST_DATA, name);
    f = fopen(path, "r");
    if (!f) fail_msg("cannot open %s", path);
    out = open_memstream(&data, &len);
    assert_non_null(out);
    while ((c = fgetc(f)) != EOF)
        fputc(c, out);
    fclose(f);
    fclose(out);
    return data;
}

/* Remove every line that starts with PREFIX. */
static void drop_lines(char *text, const char *prefix)
{
    char *p = text, *nl;

    while (*p) {
        nl = strchr(p, '\n');
        if (!strncmp(p, prefix, strlen(prefix)))
            memmove(p, nl ? nl + 1 : p + strlen(p),
                    strlen(nl ? nl + 1 : p + strlen(p)) + 1);
        else
            p = nl ? nl + 1 : p + strlen(p);
    }
}

static void parse_cfg(const char *name, const char *text, xengpu_domcfg *cfg,
                      struct capture_log *lg)
{
    xengpu_domcfg_init(cfg);
    if (xengpu_domcfg_parse(name, text, strlen(text), &lg->vtable, cfg))
        fail_msg("%s: %s", name, lg->text ? lg->text : "refused");
}

/* Each pci entry of a real config is also a valid gpu SPEC. */
static void pci_entries_are_specs(const xengpu_domcfg *cfg)
{
    size_t i;

    for (i = 0; i < cfg->npci; i++)
        parse_ok(cfg->pci[i]);
}

static void test_realworld_win10(void **state)
{
    char *text = slurp("xlcfg-win10-rtx4060-laptop-permissive-seabios.txt");
    struct capture_log lg;
    xengpu_domcfg cfg;
    xengpu_gpuspec g;

    (void)state;
    capture_log_init(&lg);
    parse_cfg("win10.cfg", text, &cfg, &lg);
    assert_string_equal(cfg.name, "win10");
    assert_string_equal(cfg.type, "hvm");
    assert_int_equal(cfg.memory, 8192);
    assert_int_equal(cfg.maxmem, -1);
    assert_int_equal(cfg.npci, 1);
    assert_string_equal(cfg.pci[0], "0000:01:00.0,permissive=1");
    assert_int_equal(cfg.ngpus, 0);
    pci_entries_are_specs(&cfg);
    g = parse_ok(cfg.pci[0]);
    assert_int_equal(g.permissive, 1);
    assert_int_equal(xengpu_domcfg_check(&cfg, &lg.vtable), 0);
    xengpu_domcfg_dispose(&cfg);
    xengpu_domcfg_dispose(&cfg);
    capture_log_dispose(&lg);
    free(text);
}

static void test_realworld_win11(void **state)
{
    char *text = slurp("xlcfg-win11-ovmf-rtx4060-rdm-relaxed.txt");
    struct capture_log lg;
    xengpu_domcfg cfg;
    xengpu_gpuspec g;

    (void)state;
    capture_log_init(&lg);
    /* As posted it is wrapped in markdown: libxlutil must refuse that. */
    xengpu_domcfg_init(&cfg);
    assert_int_equal(
        xengpu_domcfg_parse("win11.cfg", text, strlen(text), &lg.vtable, &cfg),
        -EINVAL);
    assert_true(capture_log_has(&lg, "win11.cfg: not a valid xl config"));
    assert_true(capture_log_has(&lg, "win11.cfg:3"));
    drop_lines(text, "sudo nano");
    drop_lines(text, "```");
    parse_cfg("win11.cfg", text, &cfg, &lg);
    assert_string_equal(cfg.name, "win11");
    assert_int_equal(cfg.memory, 16384);
    assert_int_equal(cfg.npci, 1);
    g = parse_ok(cfg.pci[0]);
    assert_int_equal(g.sel, XENGPU_SEL_FUNCTION);
    assert_int_equal(g.permissive, 1);
    assert_int_equal(g.rdm_policy, XENGPU_RDM_RELAXED);
    xengpu_domcfg_dispose(&cfg);
    capture_log_dispose(&lg);
    free(text);
}

static void test_realworld_win7(void **state)
{
    char *text = slurp("xlcfg-win7-ati-hd7850-qemu-trad-lofyer.txt");
    char *pre = strstr(text, "<pre>");
    struct capture_log lg;
    xengpu_domcfg cfg;

    (void)state;
    capture_log_init(&lg);
    assert_non_null(pre);
    memset(pre, ' ', 5);
    parse_cfg("win7.cfg", text, &cfg, &lg);
    assert_string_equal(cfg.name, "win77");
    assert_string_equal(cfg.type, "hvm"); /* from builder="hvm" */
    assert_int_equal(cfg.memory, 2048);
    assert_int_equal(cfg.maxmem, 2048);
    assert_int_equal(cfg.npci, 2);
    assert_string_equal(cfg.pci[0], "01:00.0");
    assert_string_equal(cfg.pci[1], "01:00.1");
    pci_entries_are_specs(&cfg);
    assert_int_equal(xengpu_domcfg_check(&cfg, &lg.vtable), 0);
    xengpu_domcfg_dispose(&cfg);
    capture_log_dispose(&lg);
    free(text);
}

static void test_realworld_vtd_fragments(void **state)
{
    char *text = slurp("xlcfg-fragments-xen-docs-vtd-msitranslate-rdm.txt");
    struct capture_log lg;
    xengpu_domcfg cfg;
    char *p, line[256], *cfgtext = NULL;
    size_t len = 0;
    FILE *out = open_memstream(&cfgtext, &len);

    (void)state;
    capture_log_init(&lg);
    /* The doc is prose: take its config lines, without "(default ...)". */
    for (p = strtok(text, "\n"); p; p = strtok(NULL, "\n")) {
        p += strspn(p, " \t");
        if (strncmp(p, "pci", 3) && strncmp(p, "rdm =", 5)) continue;
        snprintf(line, sizeof(line), "%s", p);
        if (strstr(line, "   (default")) *strstr(line, "   (default") = '\0';
        fprintf(out, "%s\n", line);
    }
    fclose(out);
    parse_cfg("vtd.txt", cfgtext, &cfg, &lg);
    /* The later pci = [...] line wins, as in xl. */
    assert_int_equal(cfg.npci, 2);
    assert_string_equal(cfg.pci[0], "01:00.0,rdm_policy=relaxed");
    assert_string_equal(cfg.pci[1], "03:00.0,rdm_policy=strict");
    pci_entries_are_specs(&cfg);
    assert_int_equal(parse_ok("01:00.0,msitranslate=0").msitranslate, 0);
    /* rdm's own syntax is not a gpu spec. */
    BAD("strategy=host, policy=relaxed", "unknown key 'strategy'");
    xengpu_domcfg_dispose(&cfg);
    capture_log_dispose(&lg);
    free(cfgtext);
    free(text);
}

static int cfg_bad(const char *text, const char *needle)
{
    struct capture_log lg;
    xengpu_domcfg cfg;
    int rc;

    capture_log_init(&lg);
    xengpu_domcfg_init(&cfg);
    rc = xengpu_domcfg_parse("t.cfg", text, strlen(text), &lg.vtable, &cfg);
    if (!rc) rc = xengpu_domcfg_check(&cfg, &lg.vtable);
    if (!rc) fail_msg("accepted: %s", text);
    if (!capture_log_has(&lg, needle))
        fail_msg("log '%s' lacks '%s'", lg.text ? lg.text : "", needle);
    xengpu_domcfg_dispose(&cfg);
    capture_log_dispose(&lg);
    return rc;
}

static void test_gpu_key(void **state)
{
    static const char text[] =
        "name = \"g\"\ntype = \"hvm\"\nmemory = 4096\nmaxmem = 4096\n"
        "cpus = \"node:1\"\n"
        "gpu = [ \"10de:2230,count=2,permissive=1\", \"pool=render\" ]\n";
    struct capture_log lg;
    xengpu_domcfg cfg;

    (void)state;
    capture_log_init(&lg);
    parse_cfg("t.cfg", text, &cfg, &lg);
    assert_int_equal(cfg.ngpus, 2);
    assert_int_equal(cfg.gpus[0].count, 2);
    assert_int_equal(cfg.gpus[0].permissive, 1);
    assert_string_equal(cfg.gpus[1].pool, "render");
    assert_int_equal(cfg.numa_node, 1);
    assert_null(cfg.passthrough);
    assert_int_equal(xengpu_domcfg_check(&cfg, &lg.vtable), 0);
    xengpu_domcfg_dispose(&cfg);
    capture_log_dispose(&lg);

    assert_int_equal(cfg_bad("gpu = [ \"01:00.0\", \"01:00.0,foo=1\" ]\n",
                             "t.cfg: gpu[1] \"01:00.0,foo=1\": unknown key "
                             "'foo'"),
                     -EINVAL);
    cfg_bad("gpu = \"01:00.0\"\n", "t.cfg: gpu must be a list");
    cfg_bad("gpu = [ \"01:00.0\", [ \"x\" ] ]\n", "t.cfg: gpu[1] is not a "
                                                  "string");
    cfg_bad("gpu = [ \"vendor=10de,count=16\", \"01:00.0\" ]\n",
            "gpu asks for 17 cards; at most 16");
    cfg_bad("pci = \"01:00.0\"\n", "t.cfg: pci must be a list");
    cfg_bad("memory = \"lots\"\n", "memory must be a positive number");
    cfg_bad("maxmem = \"-5\"\n", "maxmem must be a positive number");
    cfg_bad("type = \"hvm\"\nname = [ \"a\" ]\n", "name must be a string");
    cfg_bad("type = \"xen\"\n", "type \"xen\" is not hvm, pv or pvh");
    cfg_bad("memory = 1024\ngpu = [ \"01:00.0\" ]\nmemory = 2048 x\n",
            "t.cfg:3");
}

static void test_passthrough_checks(void **state)
{
    (void)state;
    cfg_bad("type = \"hvm\"\nmemory = 4096\nmaxmem = 8192\n"
            "gpu = [ \"01:00.0\" ]\n",
            "t.cfg: memory = 4096 but maxmem = 8192: a guest with a GPU "
            "cannot use populate-on-demand memory");
    cfg_bad("type = \"pvh\"\ngpu = [ \"01:00.0\" ]\n",
            "Xen does not pass PCI devices through to PVH guests");
    cfg_bad("type = \"hvm\"\npassthrough = \"disabled\"\n"
            "gpu = [ \"01:00.0\" ]\n",
            "passthrough = \"disabled\" but gpu = [...]");
}

static void layout_ok(const char *text, bool unplug, long hole)
{
    struct capture_log lg;
    xengpu_domcfg cfg;

    capture_log_init(&lg);
    parse_cfg("t.cfg", text, &cfg, &lg);
    if (xengpu_domcfg_check(&cfg, &lg.vtable))
        fail_msg("refused: %s: %s", text, lg.text);
    assert_int_equal(cfg.gpu_unplug, unplug);
    assert_int_equal(cfg.mmio_hole, hole);
    xengpu_domcfg_dispose(&cfg);
    capture_log_dispose(&lg);
}

/* A guest that may lose its card keeps an emulated primary display. */
static void test_layout_checks(void **state)
{
    char *text = slurp("xlcfg-win11-ovmf-rtx4060-rdm-relaxed.txt");
    char *with_gpu;

    (void)state;
    drop_lines(text, "sudo nano"); /* the markdown around it */
    drop_lines(text, "```");
    cfg_bad("type = \"hvm\"\ngfx_passthru = 1\ngpu = [ \"01:00.0\" ]\n",
            "t.cfg: gfx_passthru makes the card the guest's primary display, "
            "but the guest may lose its card (gpu_migration = \"unplug\", "
            "the default)");
    cfg_bad("type = \"hvm\"\ngfx_passthru = \"igd\"\n"
            "gpu_migration = \"unplug\"\ngpu = [ \"01:00.0\" ]\n",
            "remove gfx_passthru, or set gpu_migration = \"refuse\"");
    cfg_bad("type = \"hvm\"\ngpu_migration = \"sometimes\"\n"
            "gpu = [ \"01:00.0\" ]\n",
            "t.cfg: gpu_migration = \"sometimes\" is not one of \"unplug\", "
            "\"refuse\"");
    cfg_bad(
        "type = \"hvm\"\ngpu_compat = \"similar\"\ngpu = [ \"01:00.0\" ]\n",
        "is not one of \"exact\", \"device\", \"vendor\", \"any\"");
    cfg_bad("type = \"hvm\"\nmmio_hole = \"big\"\ngpu = [ \"01:00.0\" ]\n",
            "mmio_hole must be a positive number of MiB");
    layout_ok("type = \"hvm\"\ngfx_passthru = 1\ngpu_migration = \"refuse\"\n"
              "vga = \"none\"\nmmio_hole = 2048\ngpu = [ \"01:00.0\" ]\n",
              false, 2048);
    layout_ok("type = \"hvm\"\ngfx_passthru = 0\nvga = \"stdvga\"\n"
              "gpu = [ \"01:00.0\" ]\n",
              true, -1);
    /* A PV guest has no emulated display to keep. */
    layout_ok("type = \"pv\"\nvga = \"none\"\ngpu = [ \"01:00.0\" ]\n", true,
              -1);
    /* The real Windows 11 config says vga = "none": fine with pci = [...]
     * (xengpu is not involved), refused once it asks for a gpu. */
    with_gpu = xengpu__xasprintf("%s\ngpu = [ \"01:00.0\" ]\n", text);
    cfg_bad(with_gpu, "vga = \"none\" leaves the card as the guest's only "
                      "display");
    free(with_gpu);
    free(text);
}

/* KEY=VALUE overrides are read after the file, as xl reads them. */
static void test_read_overrides(void **state)
{
    char path[] = "/tmp/xengpu-cfg-XXXXXX";
    char *ovr[] = { "memory=8192", "gpu=[\"vendor=1002\"]" };
    struct capture_log lg;
    xengpu_domcfg cfg;
    FILE *f;
    int fd;

    (void)state;
    capture_log_init(&lg);
    fd = mkstemp(path);
    assert_true(fd >= 0);
    f = fdopen(fd, "w");
    fputs("type = \"hvm\"\nmemory = 4096\nmaxmem = 8192\n"
          "gpu = [ \"01:00.0\" ]\n",
          f);
    fclose(f);
    xengpu_domcfg_init(&cfg);
    assert_int_equal(xengpu_domcfg_read(path, ovr, 2, &lg.vtable, &cfg), 0);
    assert_int_equal(cfg.memory, 8192);
    assert_int_equal(cfg.ngpus, 1);
    assert_int_equal(cfg.gpus[0].vendor, 0x1002);
    assert_int_equal(xengpu_domcfg_check(&cfg, &lg.vtable), 0);
    xengpu_domcfg_dispose(&cfg);
    ovr[0] = "memory=";
    assert_int_equal(xengpu_domcfg_read(path, ovr, 1, &lg.vtable, &cfg),
                     -EINVAL);
    assert_true(capture_log_has(&lg, "command line"));
    unlink(path);
    assert_int_equal(xengpu_domcfg_read(path, NULL, 0, &lg.vtable, &cfg),
                     -ENOENT);
    assert_true(capture_log_has(&lg, "cannot open /tmp/xengpu-cfg-"));
    capture_log_dispose(&lg);
}

/* --- pools ------------------------------------------------------------ */

static void test_pools(void **state)
{
    static const char text[] =
        "# render farm\n"
        "pool_render = [ \"10de:2204\", \"0000:65:00.0\", \"vendor=1002\" ]\n"
        "pool_str = \"10de:2204\"\n"
        "pool_bad = [ \"10de:2204,count=2\" ]\n"
        "pool_empty = [ ]\n";
    struct capture_log lg;
    xengpu_gpuspec *m = NULL;
    xengpu_pools *pools = NULL;
    size_t n = 0;

    (void)state;
    capture_log_init(&lg);
    assert_int_equal(xengpu_pools_parse("xengpu.conf", text, strlen(text),
                                        &lg.vtable, &pools),
                     0);
    assert_int_equal(xengpu_pool_members(pools, "render", &lg.vtable, &m, &n),
                     0);
    assert_int_equal(n, 3);
    assert_int_equal(m[0].sel, XENGPU_SEL_MODEL);
    assert_int_equal(m[1].sel, XENGPU_SEL_FUNCTION);
    assert_int_equal(m[1].addr.bus, 0x65);
    assert_int_equal(m[2].vendor, 0x1002);
    free(m);
    assert_int_equal(xengpu_pool_members(pools, "compute", &lg.vtable, &m, &n),
                     -ENOENT);
    assert_true(capture_log_has(&lg, "xengpu.conf: no pool 'compute': define "
                                     "it as pool_compute = [ "));
    assert_int_equal(xengpu_pool_members(pools, "str", &lg.vtable, &m, &n),
                     -EINVAL);
    assert_true(capture_log_has(&lg, "xengpu.conf: pool_str must be a list"));
    assert_int_equal(xengpu_pool_members(pools, "bad", &lg.vtable, &m, &n),
                     -EINVAL);
    assert_true(capture_log_has(&lg, "xengpu.conf: pool_bad[0] "
                                     "\"10de:2204,count=2\": a pool member"));
    assert_int_equal(xengpu_pool_members(pools, "empty", &lg.vtable, &m, &n),
                     -ENOENT);
    xengpu_pools_free(pools);
    xengpu_pools_free(NULL);
    assert_int_equal(xengpu_pools_parse("xengpu.conf",
                                        "pool_a = [\n\"x\"\n= 3", 16,
                                        &lg.vtable, &pools),
                     -EINVAL);
    assert_true(capture_log_has(&lg, "xengpu.conf:3"));
    capture_log_dispose(&lg);
}

static void test_pools_file(void **state)
{
    struct capture_log lg;
    xengpu_pools *pools = NULL;
    xengpu_gpuspec *m = NULL;
    size_t n;

    (void)state;
    capture_log_init(&lg);
    /* The shipped example must parse, and its pools be valid. */
    assert_int_equal(
        xengpu_pools_read("examples/xengpu.conf", &lg.vtable, &pools), 0);
    assert_int_equal(xengpu_pool_members(pools, "render", &lg.vtable, &m, &n),
                     0);
    free(m);
    xengpu_pools_free(pools);
    assert_int_equal(
        xengpu_pools_read("/nonexistent/xengpu.conf", &lg.vtable, &pools),
        -ENOENT);
    /* The default file may be missing: no pools, said when one is asked. */
    if (access(XENGPU_CONF_DEFAULT, F_OK)) {
        unsetenv(XENGPU_CONF_ENV);
        assert_int_equal(xengpu_pools_read(NULL, &lg.vtable, &pools), 0);
        assert_int_equal(
            xengpu_pool_members(pools, "render", &lg.vtable, &m, &n), -ENOENT);
        assert_true(capture_log_has(&lg, "no pool 'render' (the file does "
                                         "not exist)"));
        xengpu_pools_free(pools);
    }
    capture_log_dispose(&lg);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_selectors),
        cmocka_unit_test(test_options),
        cmocka_unit_test(test_spaces),
        cmocka_unit_test(test_bad_items),
        cmocka_unit_test(test_bad_selectors),
        cmocka_unit_test(test_bytes),
        cmocka_unit_test(test_member),
        cmocka_unit_test(test_options_only),
        cmocka_unit_test(test_quote),
        cmocka_unit_test(test_realworld_win10),
        cmocka_unit_test(test_realworld_win11),
        cmocka_unit_test(test_realworld_win7),
        cmocka_unit_test(test_realworld_vtd_fragments),
        cmocka_unit_test(test_gpu_key),
        cmocka_unit_test(test_passthrough_checks),
        cmocka_unit_test(test_layout_checks),
        cmocka_unit_test(test_read_overrides),
        cmocka_unit_test(test_pools),
        cmocka_unit_test(test_pools_file),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
