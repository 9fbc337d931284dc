/*
 * test-compat.c - card descriptions, their JSON, and the replacement
 * policies, on fake trees of real cards (realcards.c and the dumps named
 * at each case) discovered by the real discovery code.
 *
 * Subsystem ids as the dumps show them: 10de:12fa for the RTX 2080 Ti
 * (its config bytes), 10de:11da for the Tesla P100, 1002:0e36 for the RX
 * 6700 XT (iommu-groups-intel-alderlake-igd-navi22-rx6700xt-rx560.txt).
 * The A6000 dump names its subsystem without ids: 10de:1459 is assumed.
 * Cases marked synthetic alter a real card to make one property differ.
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
#include "toolstack/compat.h"

#define K (1ull << 10)
#define M (1ull << 20)
#define G (1ull << 30)

struct ctx {
    struct fake_sysfs *fs;
    struct capture_log log;
    xengpu_host *host;
    char why[XENGPU_COMPAT_WHYLEN];
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

/* One function of a card on the root bus. */
struct fn {
    const char *bdf;
    uint16_t vendor, device, svid, ssid;
    uint32_t class;
    const struct fake_bar *bars;
    size_t nbars;
};

static void add_fn(struct fake_sysfs *fs, const struct fn *f, bool mf)
{
    char *res = fake_resource(f->bars, f->nbars);
    struct fake_cfg cfg;
    struct fake_dev d = { .bdf = f->bdf, .cfg = &cfg, .resource = res };

    fake_cfg_init(&cfg, f->vendor, f->device, f->class, 0, 4096);
    cfg.b[0x2c] = (uint8_t)f->svid;
    cfg.b[0x2d] = (uint8_t)(f->svid >> 8);
    cfg.b[0x2e] = (uint8_t)f->ssid;
    cfg.b[0x2f] = (uint8_t)(f->ssid >> 8);
    if (mf) fake_cfg_multifunction(&cfg);
    fake_cfg_pm(&cfg, true);
    fake_cfg_pcie(&cfg, XENGPU_PCIE_LEGACY_ENDPOINT, true, 4, 16, 4, 16);
    fake_sysfs_add(fs, &d);
    free(res);
}

/*
 * lspci-nvidia-rtx-a6000-x4-romane.txt at BUS, BAR 1 as given (its ReBAR
 * offers 64 MiB to 64 GiB), with or without the audio function.
 */
static void a6000(struct fake_sysfs *fs, unsigned bus, uint64_t bar1,
                  bool audio)
{
    const struct fake_bar gpu_bars[] = {
        { 0, 0xde000000, 16 * M, FAKE_MEM32 },
        { 1, 0x28000000000ull + bus * 0x2000000000ull, bar1, FAKE_MEM64_PREF },
        { 3, 0x28070000000ull + bus * 0x2000000000ull, 32 * M,
          FAKE_MEM64_PREF },
        { 5, 0x3000, 128, FAKE_IO },
        { 6, 0xdf000000, 512 * K, FAKE_MEM32 },
    };
    const struct fake_bar audio_bars[] = {
        { 0, 0xdf080000, 16 * K, FAKE_MEM32 },
    };
    char g[16], a[16];
    struct fn gpu = {
        g, 0x10de, 0x2230, 0x10de, 0x1459, 0x030000, gpu_bars, 5
    };
    struct fn hda = { a,      0x10de,   0x1aef,     0x10de,
                      0x1459, 0x040300, audio_bars, 1 };

    snprintf(g, sizeof(g), "0000:%02x:00.0", bus);
    snprintf(a, sizeof(a), "0000:%02x:00.1", bus);
    add_fn(fs, &gpu, audio);
    if (audio) add_fn(fs, &hda, true);
}

/* lspci-nvidia-tesla-p100-pcie-dell-xeon-e5v4-full.txt, 04:00.0. */
static const struct fake_bar p100_bars[] = {
    { 0, 0x91000000, 16 * M, FAKE_MEM32 },
    { 1, 0x3b800000000, 16 * G, FAKE_MEM64_PREF },
    { 3, 0x3bc00000000, 32 * M, FAKE_MEM64_PREF },
};

static void discover(struct ctx *c)
{
    xengpu_host_free(c->host);
    c->host = NULL;
    assert_int_equal(xengpu_host_discover(c->fs->fd, &c->log.vtable, &c->host),
                     0);
}

/* Describe card I of the host. */
static void describe(struct ctx *c, size_t i, xengpu_card_desc *d)
{
    const xengpu_card *card = xengpu_host_card(c->host, i);

    assert_non_null(card);
    if (xengpu_card_desc_from_card(card, d, c->why, sizeof(c->why)))
        fail_msg("describe %s: %s", card->fns[0]->name, c->why);
}

/* Format D, parse it back: the same description. */
static void round_trip(const xengpu_card_desc *d)
{
    xengpu_card_desc back;
    char why[XENGPU_COMPAT_WHYLEN], *text = xengpu_card_desc_format(d), *again;

    if (xengpu_card_desc_parse(text, strlen(text), &back, why, sizeof(why)))
        fail_msg("%s: %s", text, why);
    assert_memory_equal(&back, d, sizeof(back));
    again = xengpu_card_desc_format(&back);
    assert_string_equal(again, text);
    free(again);
    free(text);
}

/* CAND may not replace GUEST under POLICY, for WANT. */
static void refused(const xengpu_card_desc *guest,
                    const xengpu_card_desc *cand, xengpu_compat policy,
                    const char *want)
{
    char why[XENGPU_COMPAT_WHYLEN] = "";

    assert_int_equal(
        xengpu_compat_check(guest, cand, policy, why, sizeof(why)), -EINVAL);
    assert_string_equal(why, want);
}

static void allowed(const xengpu_card_desc *guest,
                    const xengpu_card_desc *cand, xengpu_compat policy)
{
    char why[XENGPU_COMPAT_WHYLEN] = "";

    if (xengpu_compat_check(guest, cand, policy, why, sizeof(why)))
        fail_msg("%s: %s", xengpu_compat_name(policy), why);
}

/*
 * lspci-v-xxx-nvidia-rtx2080ti-x4-4func-old-pciids-bugreport.txt
 * (rc_rtx2080ti, real config space): four functions, all with subsystem
 * 10de:12fa.
 */
static void test_2080ti_described(void **state)
{
    struct ctx *c = *state;
    xengpu_card_desc d;
    const xengpu_fn_desc *f;

    rc_rtx2080ti(c->fs, RC_ACS_ON);
    discover(c);
    describe(c, 0, &d);
    assert_int_equal(d.vendor, 0x10de);
    assert_int_equal(d.device, 0x1e07);
    assert_int_equal(d.subsys_vendor, 0x10de);
    assert_int_equal(d.subsys_device, 0x12fa);
    assert_int_equal(d.class, 0x030000);
    assert_int_equal(d.nfns, 4);
    f = &d.fns[0];
    assert_int_equal(f->nbars, 5); /* BARs 0, 1, 3, 5 (I/O) and the ROM */
    assert_int_equal(f->bars[1].index, 1);
    assert_int_equal(f->bars[1].size, 256 * M);
    assert_true(f->bars[1].is64);
    assert_int_equal(f->bars[3].index, 5);
    assert_true(f->bars[3].io);
    assert_int_equal(f->bars[3].size, 128);
    assert_int_equal(f->bars[4].index, XENGPU_BAR_ROM);
    assert_int_equal(f->bars[4].size, 512 * K);
    assert_int_equal(d.fns[1].device, 0x10f7);
    assert_int_equal(d.fns[1].class, 0x040300);
    assert_int_equal(d.fns[2].class, 0x0c0330);
    assert_int_equal(d.fns[2].nbars, 2);
    assert_int_equal(d.fns[3].function, 3);
    assert_int_equal(d.fns[3].subsys_device, 0x12fa);
    round_trip(&d);
    allowed(&d, &d, XENGPU_COMPAT_EXACT);
}

/* The P100's JSON, byte for byte. */
static void test_p100_json(void **state)
{
    struct ctx *c = *state;
    struct fn p = { "0000:04:00.0", 0x10de,   0x15f7,    0x10de,
                    0x11da,         0x030200, p100_bars, 3 };
    xengpu_card_desc d;
    char *text;

    add_fn(c->fs, &p, false);
    discover(c);
    describe(c, 0, &d);
    text = xengpu_card_desc_format(&d);
    assert_string_equal(
        text,
        "{\"version\":1,\"vendor\":\"10de\",\"device\":\"15f7\","
        "\"subsystem_vendor\":\"10de\",\"subsystem_device\":\"11da\","
        "\"class\":\"030200\",\"functions\":[{\"function\":0,"
        "\"vendor\":\"10de\",\"device\":\"15f7\","
        "\"subsystem_vendor\":\"10de\",\"subsystem_device\":\"11da\","
        "\"class\":\"030200\",\"bars\":["
        "{\"index\":0,\"size\":16777216,\"is64\":false,\"io\":false},"
        "{\"index\":1,\"size\":17179869184,\"is64\":true,\"io\":false},"
        "{\"index\":3,\"size\":33554432,\"is64\":true,\"io\":false}]}]}");
    free(text);
    round_trip(&d);
}

/*
 * lspci-brief-and-dmesg-nvidia-h100-nvl-x2-amd-genoa.txt (rc_h100): a VF
 * is a card of its own; its ids come from sysfs (its config reads
 * 0xffff), its 4 GiB BAR 1 from its own resource file.
 */
static void test_h100_vf(void **state)
{
    struct ctx *c = *state;
    xengpu_card_desc pf, vf;

    rc_h100(c->fs, 1);
    discover(c);
    assert_int_equal(xengpu_host_ncards(c->host), 2);
    describe(c, 0, &pf);
    describe(c, 1, &vf);
    assert_int_equal(pf.fns[0].bars[1].size, 128 * G);
    assert_int_equal(vf.vendor, 0x10de);
    assert_int_equal(vf.device, 0x2321);
    assert_int_equal(vf.fns[0].function, 4);
    assert_int_equal(vf.fns[0].nbars, 2);
    assert_int_equal(vf.fns[0].bars[1].size, 4 * G);
    round_trip(&pf);
    round_trip(&vf);
    /* Same ids, but a VF is not the whole GPU the guest had. */
    allowed(&pf, &vf, XENGPU_COMPAT_DEVICE);
    refused(&pf, &vf, XENGPU_COMPAT_EXACT, "functions 4 differ from 0");
}

/*
 * The refusals under exact, each property in turn, on the romane A6000s
 * (lspci-nvidia-rtx-a6000-x4-romane.txt): the guest had 01:00 with BAR 1
 * resized to 16 GiB; this host offers 41:00 at 256 MiB, 81:00 as the
 * guest's, c1:00 with its audio function hidden (synthetic: some boards
 * hide it until a driver enables it).
 */
static void test_exact_a6000(void **state)
{
    struct ctx *c = *state;
    xengpu_card_desc guest, small, same, noaudio, d;

    a6000(c->fs, 0x01, 16 * G, true);
    a6000(c->fs, 0x41, 256 * M, true);
    a6000(c->fs, 0x81, 16 * G, true);
    a6000(c->fs, 0xc1, 16 * G, false);
    discover(c);
    assert_int_equal(xengpu_host_ncards(c->host), 4);
    describe(c, 0, &guest);
    describe(c, 1, &small);
    describe(c, 2, &same);
    describe(c, 3, &noaudio);

    allowed(&guest, &same, XENGPU_COMPAT_EXACT);
    refused(&guest, &small, XENGPU_COMPAT_EXACT,
            "BAR 1 of function 0 is 256 MiB, the guest's card had 16 GiB");
    allowed(&guest, &small, XENGPU_COMPAT_DEVICE);
    refused(&guest, &noaudio, XENGPU_COMPAT_EXACT,
            "1 function, the guest's card had 2");
    refused(&noaudio, &guest, XENGPU_COMPAT_EXACT,
            "2 functions, the guest's card had 1");
    allowed(&guest, &noaudio, XENGPU_COMPAT_DEVICE);

    /* Synthetic: another board of the same chip. */
    d = same;
    d.subsys_vendor = d.fns[0].subsys_vendor = 0x1043;
    d.subsys_device = d.fns[0].subsys_device = 0x87b3;
    refused(&guest, &d, XENGPU_COMPAT_EXACT,
            "subsystem 1043:87b3 differs from 10de:1459");
    allowed(&guest, &d, XENGPU_COMPAT_DEVICE);

    /* Synthetic: GPU mode switched (as gpumodeswitch does) to 3D. */
    d = same;
    d.class = d.fns[0].class = 0x030200;
    refused(&guest, &d, XENGPU_COMPAT_EXACT,
            "class 030200 differs from 030000");

    /* Synthetic: the audio function of another chip's board. */
    d = same;
    d.fns[1].device = 0x228b;
    refused(&guest, &d, XENGPU_COMPAT_EXACT,
            "function 1 is 10de:228b, the guest's card had 10de:1aef");
    d = same;
    d.fns[1].subsys_device = 0x147d;
    refused(&guest, &d, XENGPU_COMPAT_EXACT,
            "function 1: subsystem 10de:147d differs from 10de:1459");
    d = same;
    d.fns[1].class = 0x040100;
    refused(&guest, &d, XENGPU_COMPAT_EXACT,
            "function 1: class 040100 differs from 040300");
    d = same;
    d.fns[1].function = 2;
    refused(&guest, &d, XENGPU_COMPAT_EXACT,
            "functions 0, 2 differ from 0, 1");
}

/* BARs: present or not, I/O or memory, 32- or 64-bit, the ROM. */
static void test_exact_bars(void **state)
{
    struct ctx *c = *state;
    xengpu_card_desc guest, d;

    a6000(c->fs, 0x01, 256 * M, true);
    discover(c);
    describe(c, 0, &guest);

    /* Synthetic: BAR 1 decoded as 32-bit (bars[1] is BAR 1). */
    d = guest;
    d.fns[0].bars[1].is64 = false;
    refused(&guest, &d, XENGPU_COMPAT_EXACT,
            "BAR 1 of function 0 is 32-bit, the guest's card had 64-bit");
    /* A host that did not assign the ROM (bars[4]). */
    d = guest;
    d.fns[0].nbars = 4;
    refused(&guest, &d, XENGPU_COMPAT_EXACT,
            "ROM of function 0 is missing, the guest's card had 512 KiB");
    refused(&d, &guest, XENGPU_COMPAT_EXACT,
            "ROM of function 0 is 512 KiB, the guest's card had none");
    /* Synthetic: BAR 5 as memory. */
    d = guest;
    d.fns[0].bars[3].io = false;
    refused(&guest, &d, XENGPU_COMPAT_EXACT,
            "BAR 5 of function 0 is memory, the guest's card had I/O");
    d = guest;
    d.fns[1].bars[0].size = 32 * K;
    refused(&guest, &d, XENGPU_COMPAT_EXACT,
            "BAR 0 of function 1 is 32 KiB, the guest's card had 16 KiB");
}

/*
 * Looser policies: the RTX 3090 of
 * lspci-nvidia-rtx3090-fe-nouveau-rk3588.txt (10de:2204, subsystem
 * 10de:147d as pci.ids names the Founders Edition), the A6000, and the RX
 * 6700 XT (1002:73df, subsystem 1002:0e36) of
 * iommu-groups-intel-alderlake-igd-navi22-rx6700xt-rx560.txt, whose BARs
 * that listing does not show (assumed: Navi's 256 MiB + 2 MiB + 1 MiB).
 */
static void test_device_vendor_any(void **state)
{
    static const struct fake_bar rtx3090_bars[] = {
        { 0, 0x918000000, 16 * M, FAKE_MEM32 },
        { 1, 0x900000000, 256 * M, FAKE_MEM64_PREF },
        { 3, 0x910000000, 32 * M, FAKE_MEM64_PREF },
        { 5, 0x100000, 128, FAKE_IO },
        { 6, 0x919000000, 512 * K, FAKE_MEM32 },
    };
    static const struct fake_bar navi22_bars[] = {
        { 0, 0x7c00000000, 256 * M, FAKE_MEM64_PREF },
        { 2, 0x7c10000000, 2 * M, FAKE_MEM64_PREF },
        { 5, 0xfc900000, 1 * M, FAKE_MEM32 },
    };
    struct fn rtx3090 = { "0000:02:00.0", 0x10de,   0x2204,       0x10de,
                          0x147d,         0x030000, rtx3090_bars, 5 };
    struct fn navi22 = { "0000:03:00.0", 0x1002,   0x73df,      0x1002,
                         0x0e36,         0x030000, navi22_bars, 3 };
    struct ctx *c = *state;
    xengpu_card_desc a6k, ga102, navi;

    a6000(c->fs, 0x01, 256 * M, true);
    add_fn(c->fs, &rtx3090, false);
    add_fn(c->fs, &navi22, false);
    discover(c);
    describe(c, 0, &a6k);
    describe(c, 1, &ga102);
    describe(c, 2, &navi);

    refused(&a6k, &ga102, XENGPU_COMPAT_EXACT,
            "device 10de:2204 differs from 10de:2230");
    refused(&a6k, &ga102, XENGPU_COMPAT_DEVICE,
            "device 10de:2204 differs from 10de:2230");
    allowed(&a6k, &ga102, XENGPU_COMPAT_VENDOR);
    refused(&a6k, &navi, XENGPU_COMPAT_VENDOR,
            "vendor 1002 differs from 10de");
    refused(&a6k, &navi, XENGPU_COMPAT_EXACT, "vendor 1002 differs from 10de");
    allowed(&a6k, &navi, XENGPU_COMPAT_ANY);
    refused(&a6k, &navi, (xengpu_compat)7,
            "compatibility policy 7 is unknown");
}

static void test_policy_names(void **state)
{
    static const char *const names[] = { "exact", "device", "vendor", "any" };
    xengpu_compat p;
    size_t i;

    (void)state;
    for (i = 0; i < 4; i++) {
        assert_int_equal(xengpu_compat_parse(names[i], &p), 0);
        assert_int_equal(p, i);
        assert_string_equal(xengpu_compat_name(p), names[i]);
    }
    assert_int_equal(XENGPU_COMPAT_DEFAULT, XENGPU_COMPAT_EXACT);
    p = XENGPU_COMPAT_ANY;
    assert_int_equal(xengpu_compat_parse("Exact", &p), -EINVAL);
    assert_int_equal(xengpu_compat_parse("exact ", &p), -EINVAL);
    assert_int_equal(xengpu_compat_parse("", &p), -EINVAL);
    assert_int_equal(xengpu_compat_parse(NULL, &p), -EINVAL);
    assert_int_equal(p, XENGPU_COMPAT_ANY);
    assert_string_equal(xengpu_compat_name((xengpu_compat)4), "?");
}

/*
 * Cards that cannot be described:
 * lspci-nvidia-rtx3090-fe-domain0002-unassigned-bars-rk3568.txt
 * (rc_rtx3090_domain2) and
 * err-amd-reset-bug-vega56-rx6700xt-unknown-header-type-127.txt
 * (rc_vega56_dead).
 */
static void test_not_describable(void **state)
{
    struct ctx *c = *state;
    xengpu_card_desc d;

    rc_rtx3090_domain2(c->fs);
    rc_vega56_dead(c->fs);
    discover(c);
    assert_int_equal(xengpu_host_ncards(c->host), 2);
    assert_int_equal(xengpu_card_desc_from_card(xengpu_host_card(c->host, 0),
                                                &d, c->why, sizeof(c->why)),
                     -ENODEV);
    assert_string_equal(c->why, "card 0000:0b:00.0: 0000:0b:00.0 has fallen "
                                "off the bus (its configuration space reads "
                                "all ones)");
    assert_int_equal(xengpu_card_desc_from_card(xengpu_host_card(c->host, 1),
                                                &d, c->why, sizeof(c->why)),
                     -ENODATA);
    assert_string_equal(c->why, "card 0002:21:00.0: BAR 1 of 0002:21:00.0 is "
                                "unassigned on this host");
}

/* --- the parser ---------------------------------------------------------- */

#define IDS                                                                  \
    "\"vendor\":\"10de\",\"device\":\"15f7\",\"subsystem_vendor\":\"10de\"," \
    "\"subsystem_device\":\"11da\",\"class\":\"030200\""
#define BAR(i, size, is64, io) \
    "{\"index\":" #i ",\"size\":" #size ",\"is64\":" #is64 ",\"io\":" #io "}"
#define BARS \
    BAR(0, 16777216, false, false) "," BAR(1, 17179869184, true, false)
#define FN(n, bars) "{\"function\":" #n "," IDS ",\"bars\":[" bars "]}"
#define DESC(fns) "{\"version\":1," IDS ",\"functions\":[" fns "]}"

static const struct bad {
    const char *text, *why;
} bad[] = {
    { "[]", "the description is not an object" },
    { "{\"version\":1," IDS
      ",\"functions\":[" FN(0, BARS) "],\"driver\":\"x\"}",
      "the description has an unknown key \"driver\"" },
    { "{\"version\":1," IDS
      ",\"vendor\":\"10de\",\"functions\":[" FN(0, BARS) "]}",
      "the description has \"vendor\" twice" },
    { "{\"version\":1,\"vendor\":\"10de\",\"device\":\"15f7\","
      "\"subsystem_vendor\":\"10de\",\"subsystem_device\":\"11da\","
      "\"functions\":[" FN(0, BARS) "]}",
      "the description lacks \"class\"" },
    { "{\"version\":2," IDS ",\"functions\":[" FN(0, BARS) "]}",
      "version 2 is not 1" },
    { "{\"version\":\"1\"," IDS ",\"functions\":[" FN(0, BARS) "]}",
      "version is not an integer from 0 to 255" },
    { "{\"version\":1,\"vendor\":\"10DE\",\"device\":\"15f7\","
      "\"subsystem_vendor\":\"10de\",\"subsystem_device\":\"11da\","
      "\"class\":\"030200\",\"functions\":[" FN(0, BARS) "]}",
      "vendor is not 4 lower-case hex digits" },
    { DESC(FN(0, BAR(0, 16777216, false, false) "," BAR(1, 17179869184.0, true,
                                                        false))),
      "functions[0].bars[1].size is not an integer from 0 to "
      "9223372036854775807" },
    { DESC(FN(0, BAR(0, 16777215, false, false))),
      "functions[0].bars[0] (index 0) has a size that is no power of two" },
    { DESC(FN(0, BAR(0, 4294967296, false, false))),
      "functions[0].bars[0] (index 0) has a size out of range for its kind" },
    { DESC(FN(0, BAR(1, 16777216, true, false) "," BAR(2, 16, false, false))),
      "functions[0].bars[1] (index 2) is the upper half of the 64-bit BAR "
      "before it" },
    { DESC(FN(0, BAR(5, 16777216, true, false))),
      "functions[0].bars[0] (index 5) is 64-bit at index 5" },
    { DESC(FN(0, BAR(5, 128, true, true))),
      "functions[0].bars[0] (index 5) is both I/O and 64-bit" },
    { DESC(FN(0, BAR(6, 524288, false, true))),
      "functions[0].bars[0] (index 6) is the ROM, neither I/O nor 64-bit" },
    { DESC(FN(0, BAR(7, 524288, false, false))),
      "functions[0].bars[0] (index 7) has an index above 6" },
    { DESC(FN(0, BAR(3, 16, false, false) "," BAR(1, 16, false, false))),
      "functions[0].bars[1] (index 1) is not in ascending order of index" },
    { DESC(FN(0, BAR(0, 16, false, false) "@")),
      "the description is not JSON: lexical error: invalid char in json "
      "text." },
    { DESC(FN(0, "{\"index\":0,\"size\":16,\"is64\":0,\"io\":false}")),
      "functions[0].bars[0].is64 is not true or false" },
    { DESC(FN(0, "7")), "functions[0].bars[0] is not an object" },
    { DESC(FN(0, BARS) "," FN(0, BARS)),
      "functions[1] is not in ascending order of function" },
    { DESC(FN(8, BARS)), "functions[0] is not a function" },
    { DESC(""), "functions has 0 entries, not 1 to 8" },
    { DESC(FN(0, BARS) "," FN(1, BARS) "," FN(2, BARS) "," FN(3, BARS) "," FN(
          4, BARS) "," FN(5, BARS) "," FN(6, BARS) "," FN(7,
                                                          BARS) "," FN(7,
                                                                       BARS)),
      "functions is not an array of at most 8" },
    { "{\"version\":1,\"vendor\":\"10de\",\"device\":\"15f7\","
      "\"subsystem_vendor\":\"10de\",\"subsystem_device\":\"11da\","
      "\"class\":\"040300\",\"functions\":[" FN(0, BARS) "]}",
      "class 040300 is neither a display (03) nor an accelerator (12)" },
    { "{\"version\":1,\"vendor\":\"10de\",\"device\":\"15f8\","
      "\"subsystem_vendor\":\"10de\",\"subsystem_device\":\"11da\","
      "\"class\":\"030200\",\"functions\":[" FN(0, BARS) "]}",
      "no function has the card's ids 10de:15f8, subsystem 10de:11da and "
      "class 030200" },
    { "[[[[[[[[[]]]]]]]]]", "the description nests over 8 deep" },
    { "{\"version\":1," IDS ",\"functions\":[" FN(0, BARS) "]",
      "the description is not JSON: parse error: premature EOF" },
};

static void test_parse_refusals(void **state)
{
    char why[XENGPU_COMPAT_WHYLEN];
    xengpu_card_desc d;
    size_t i;

    (void)state;
    for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        why[0] = '\0';
        if (xengpu_card_desc_parse(bad[i].text, strlen(bad[i].text), &d, why,
                                   sizeof(why)) != -EINVAL)
            fail_msg("accepted: %s", bad[i].text);
        if (strcmp(why, bad[i].why))
            fail_msg("%s\n  said: %s\n  want: %s", bad[i].text, why,
                     bad[i].why);
    }
}

static void test_parse_accepts(void **state)
{
    static const char good[] = DESC(FN(0, BARS));
    static const char spaced[] =
        " { \"functions\" : [ { \"bars\" : [ ] , \"class\":\"030200\","
        "\"function\":0,\"vendor\":\"10de\",\"device\":\"15f7\","
        "\"subsystem_device\":\"11da\",\"subsystem_vendor\":\"10de\"} ],"
        " \"version\" : 1 , " IDS " } ";
    char why[XENGPU_COMPAT_WHYLEN], big[XENGPU_DESC_MAX_TEXT + 2];
    xengpu_card_desc d;

    (void)state;
    assert_int_equal(
        xengpu_card_desc_parse(good, strlen(good), &d, why, sizeof(why)), 0);
    assert_int_equal(d.nfns, 1);
    assert_int_equal(d.fns[0].nbars, 2);
    assert_int_equal(d.fns[0].bars[1].size, 16 * G);
    round_trip(&d);
    /* Any key order, any whitespace; not NUL terminated. */
    assert_int_equal(
        xengpu_card_desc_parse(spaced, strlen(spaced), &d, why, sizeof(why)),
        0);
    assert_int_equal(d.fns[0].nbars, 0);
    assert_int_equal(
        xengpu_card_desc_parse(good, strlen(good) - 1, &d, why, sizeof(why)),
        -EINVAL);
    /* A NUL byte, and text over the limit, whatever follows. */
    assert_int_equal(
        xengpu_card_desc_parse(good, sizeof(good), &d, why, sizeof(why)),
        -EINVAL);
    assert_string_equal(why, "the description holds a NUL byte");
    memset(big, ' ', sizeof(big));
    memcpy(big, good, strlen(good));
    assert_int_equal(xengpu_card_desc_parse(big, XENGPU_DESC_MAX_TEXT, &d, why,
                                            sizeof(why)),
                     0);
    assert_int_equal(xengpu_card_desc_parse(big, XENGPU_DESC_MAX_TEXT + 1, &d,
                                            why, sizeof(why)),
                     -EINVAL);
    assert_string_equal(why, "the description is over 16384 bytes");
    /* A NULL reason buffer is fine. */
    assert_int_equal(xengpu_card_desc_parse("{}", 2, &d, NULL, 0), -EINVAL);
}

#define T(f) cmocka_unit_test_setup_teardown(f, setup, teardown)

int main(void)
{
    const struct CMUnitTest tests[] = {
        T(test_2080ti_described), T(test_p100_json),
        T(test_h100_vf),          T(test_exact_a6000),
        T(test_exact_bars),       T(test_device_vendor_any),
        T(test_policy_names),     T(test_not_describable),
        T(test_parse_refusals),   T(test_parse_accepts),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
