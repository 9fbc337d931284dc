/*
 * test-schema.c - the xenstore schema's parser, path matching, value
 * grammars and the guest protocol's values.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdio.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "xenstore-schema/proto.h"
#include "xenstore-schema/schema.h"

#define UUID "6f1e5b1c-8a7e-4d2b-9c3f-0a1b2c3d4e5f"

static const xengpu_xs_schema *S(void)
{
    return xengpu_xs_schema_builtin();
}

static void test_builtin_parses(void **state)
{
    const xengpu_xs_schema *s = S();
    size_t i;

    (void)state;
    assert_true(s->nrules >= 20);
    assert_int_equal(s->ntrees, 2);
    for (i = 0; i < s->nrules; i++) {
        assert_true(s->rules[i].maxlen <= 4096);
        assert_true(s->rules[i].line > 0);
    }
    /* Parsed once: the same object every time. */
    assert_ptr_equal(s, xengpu_xs_schema_builtin());
}

static void test_match_binds(void **state)
{
    xengpu_xs_vars v;
    const xengpu_xs_rule *r;
    char perms[64];

    (void)state;
    r = xengpu_xs_match(S(), "/xengpu/domain/" UUID "/gpu/3/spec", &v);
    assert_non_null(r);
    assert_int_equal(r->grammar, XENGPU_XS_G_GPUSPEC);
    assert_int_equal(r->writer, XENGPU_XS_TOOLSTACK);
    assert_string_equal(v.uuid, UUID);
    assert_int_equal(v.domid, -1);

    r = xengpu_xs_match(S(), "/local/domain/0/backend/pci/17/0/vdev-2", &v);
    assert_non_null(r);
    assert_int_equal(r->writer, XENGPU_XS_BACKEND);
    assert_int_equal(v.domid, 17);
    assert_string_equal(xengpu_xs_rule_perms(r, &v, perms, sizeof(perms)),
                        "n0,r17");

    r = xengpu_xs_match(S(), "/local/domain/9/data/xengpu/response", &v);
    assert_non_null(r);
    assert_int_equal(r->writer, XENGPU_XS_GUEST);
    assert_true(r->owner_is_domid);
    assert_string_equal(xengpu_xs_rule_perms(r, &v, perms, sizeof(perms)),
                        "n9");

    r = xengpu_xs_match(S(), "/libxl/pci/0000-0a-1f-7/driver_path", &v);
    assert_non_null(r);
    assert_string_equal(v.bdfxs, "0000-0a-1f-7");
}

static void test_match_refuses(void **state)
{
    static const char *const bad[] = {
        "/xengpu/domain/6F1E5B1C-8A7E-4D2B-9C3F-0A1B2C3D4E5F/name",
        "/xengpu/domain/" UUID "x/name",
        "/xengpu/domain/" UUID "/gpu/256/spec",
        "/xengpu/domain/" UUID "/gpu/01/spec",
        "/xengpu/domain/" UUID "/gpu/0/spec/x",
        "/xengpu/domain/" UUID "/gpu/0",
        "/xengpu/domain/" UUID "/name/",
        "/xengpu/domain//name",
        "/local/domain/0/data/xengpu/agent",     /* dom0 is never a guest */
        "/local/domain/32752/data/xengpu/agent", /* DOMID_FIRST_RESERVED */
        "/local/domain/05/data/xengpu/agent",
        "/local/domain/-1/data/xengpu/agent",
        "/local/domain/5/data/xengpu/agentx",
        "/local/domain/0/backend/pci/5/1/dev-0",
        "/local/domain/0/backend/pci/5/0/dev-",
        "/local/domain/0/backend/pci/5/0/dev-x",
        "/libxl/pci/0000-01-20-0/domid",
        "/libxl/pci/0000-01-00-8/domid",
        "/libxl/pci/0000:01:00.0/domid",
        "xengpu/domain/" UUID "/name",
        "",
        "/",
    };
    size_t i;

    (void)state;
    for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
        if (xengpu_xs_match(S(), bad[i], NULL))
            fail_msg("'%s' matched a rule", bad[i]);
}

static void test_dirs_and_trees(void **state)
{
    (void)state;
    assert_true(xengpu_xs_is_dir(S(), "/"));
    assert_true(xengpu_xs_is_dir(S(), "/xengpu"));
    assert_true(xengpu_xs_is_dir(S(), "/xengpu/domain/" UUID));
    assert_true(xengpu_xs_is_dir(S(), "/xengpu/domain/" UUID "/gpu/0"));
    assert_false(xengpu_xs_is_dir(S(), "/xengpu/bogus"));
    assert_false(xengpu_xs_is_dir(S(), "/xengpu/domain/" UUID "/name"));
    assert_non_null(xengpu_xs_own_tree(S(), "/xengpu"));
    assert_non_null(xengpu_xs_own_tree(S(), "/xengpu/anything/below"));
    assert_non_null(
        xengpu_xs_own_tree(S(), "/local/domain/4/data/xengpu/junk/n1"));
    assert_null(xengpu_xs_own_tree(S(), "/xengpux"));
    assert_null(xengpu_xs_own_tree(S(), "/local/domain/4/data/other"));
    assert_null(xengpu_xs_own_tree(S(), "/local/domain/0/data/xengpu"));
}

struct gcase {
    xengpu_xs_grammar g;
    const char *v;
    bool ok;
};

static void test_grammars(void **state)
{
    static const struct gcase cases[] = {
        { XENGPU_XS_G_EMPTY, "", true },
        { XENGPU_XS_G_EMPTY, " ", false },
        { XENGPU_XS_G_NAME, "win10 gaming", true },
        { XENGPU_XS_G_NAME, " lead", false },
        { XENGPU_XS_G_NAME, "trail ", false },
        { XENGPU_XS_G_NAME, "tab\there", false },
        { XENGPU_XS_G_NAME, "", false },
        { XENGPU_XS_G_DOMID, "0", true },
        { XENGPU_XS_G_DOMID, "32751", true },
        { XENGPU_XS_G_DOMID, "32752", false },
        { XENGPU_XS_G_DOMID, "007", false },
        { XENGPU_XS_G_DOMID, "+1", false },
        { XENGPU_XS_G_UINT, "2147483647", true },
        { XENGPU_XS_G_UINT, "2147483648", false },
        { XENGPU_XS_G_UINT, "99999999999", false },
        { XENGPU_XS_G_VERSION, "1", true },
        { XENGPU_XS_G_VERSION, "0", false },
        { XENGPU_XS_G_VERSION, "10000", false },
        { XENGPU_XS_G_UUID, UUID, true },
        { XENGPU_XS_G_UUID, "6f1e5b1c8a7e-4d2b-9c3f-0a1b2c3d4e5f-", false },
        { XENGPU_XS_G_BDF, "0000:01:00.0", true },
        { XENGPU_XS_G_BDF, "0000:01:1f.7", true },
        { XENGPU_XS_G_BDF, "0000:01:20.0", false },
        { XENGPU_XS_G_BDF, "0000:01:00.8", false },
        { XENGPU_XS_G_BDF, "0000:0A:00.0", false },
        { XENGPU_XS_G_BDF, "01:00.0", false },
        /* Seen on real Xen: pciback's vdev-N (70-guest-protocol). */
        { XENGPU_XS_G_VBDF, "0000:00:00.01", true },
        { XENGPU_XS_G_VBDF, "0000:00:1f.07", true },
        { XENGPU_XS_G_VBDF, "0000:00:00.1", false },
        { XENGPU_XS_G_VBDF, "0000:00:00.11", false },
        { XENGPU_XS_G_VBDF, "0000:00:00.08", false },
        { XENGPU_XS_G_HEX, "28", true },
        { XENGPU_XS_G_HEX, "", false },
        { XENGPU_XS_G_HEX, "0x28", false },
        { XENGPU_XS_G_XBSTATE, "4", true },
        { XENGPU_XS_G_XBSTATE, "9", false },
        { XENGPU_XS_G_XBSTATE, "44", false },
        { XENGPU_XS_G_PCIOPTS,
          "msitranslate=0,power_mgmt=0,permissive=0,rdm_policy=strict", true },
        { XENGPU_XS_G_PCIOPTS, "permissive=1", true },
        { XENGPU_XS_G_PCIOPTS, "permissive=1,permissive=0", false },
        { XENGPU_XS_G_PCIOPTS, "permissive=2", false },
        { XENGPU_XS_G_PCIOPTS, "rdm_policy=lax", false },
        { XENGPU_XS_G_PCIOPTS, "permissive=1,", false },
        { XENGPU_XS_G_PCIOPTS, "seize=1", false },
        { XENGPU_XS_G_GPUSPEC, "10de:2204,count=2", true },
        { XENGPU_XS_G_GPUSPEC, "pool=render", true },
        { XENGPU_XS_G_GPUSPEC, ",x", false },
        { XENGPU_XS_G_GPUSPEC, "a b", false },
        { XENGPU_XS_G_DRVPATH, "/sys/bus/pci/drivers/snd_hda_intel", true },
        { XENGPU_XS_G_DRVPATH, "/sys/bus/pci/drivers/..", false },
        { XENGPU_XS_G_DRVPATH, "/sys/bus/pci/drivers/a/../../x", false },
        { XENGPU_XS_G_DRVPATH, "/sys/bus/pci/drivers/", false },
        { XENGPU_XS_G_HOST, "10.0.0.2", true },
        { XENGPU_XS_G_HOST, "host b", false },
        { XENGPU_XS_G_REQUEST, "12 release", true },
        { XENGPU_XS_G_REQUEST, "12 plugged", true },
        { XENGPU_XS_G_REQUEST, "12 release ", false },
        { XENGPU_XS_G_RESPONSE, "12 refused busy: a frame", true },
        { XENGPU_XS_G_RESPONSE, "12 releasedX", false },
    };
    size_t i;

    (void)state;
    for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
        if (xengpu_xs_grammar_ok(cases[i].g, cases[i].v, strlen(cases[i].v)) !=
            cases[i].ok)
            fail_msg("grammar %d, '%s': want %s", cases[i].g, cases[i].v,
                     cases[i].ok ? "ok" : "refused");
}

/* Every grammar refuses a control character, with a reason. */
static void test_every_grammar_has_a_reason(void **state)
{
    xengpu_xs_rule rule;
    int g;

    (void)state;
    memset(&rule, 0, sizeof(rule));
    rule.maxlen = 4096;
    for (g = 0; g <= XENGPU_XS_G_ENUM; g++) {
        const char *why;
        rule.grammar = (xengpu_xs_grammar)g;
        why = xengpu_xs_check_value(&rule, "\x01", 1);
        if (!why || !why[0]) fail_msg("grammar %d accepts \\x01", g);
    }
}

static void test_check_value(void **state)
{
    const xengpu_xs_rule *phase =
        xengpu_xs_match(S(), "/xengpu/migrate/" UUID "/phase", NULL);
    const xengpu_xs_rule *name =
        xengpu_xs_match(S(), "/xengpu/domain/" UUID "/name", NULL);
    char long_name[80];

    (void)state;
    assert_non_null(phase);
    assert_int_equal(phase->grammar, XENGPU_XS_G_ENUM);
    assert_null(xengpu_xs_check_value(phase, "saving", 6));
    assert_null(xengpu_xs_check_value(phase, "rolled-back", 11));
    assert_string_equal(xengpu_xs_check_value(phase, "savin", 5),
                        "is not one of the declared words");
    /* The length is checked first and never read past. */
    assert_non_null(xengpu_xs_check_value(phase, "saving", 5));
    memset(long_name, 'a', sizeof(long_name));
    assert_string_equal(xengpu_xs_check_value(name, long_name, 65),
                        "is longer than the schema allows");
    assert_null(xengpu_xs_check_value(name, long_name, 64));
}

struct pcase {
    const char *text;
    const char *err; /* NULL: parses */
};

static void test_parse_errors(void **state)
{
    static const struct pcase cases[] = {
        { "# only a comment\n\n   \n", NULL },
        { "/a/{n}  0 n0 toolstack uint 3", NULL },
        { "/a 0 n0 toolstack uint 3\n/a 0 n0 toolstack uint 3",
          "line 2: '/a' declared twice" },
        { "/a 0 n0 toolstack uint", "line 1: want PATH OWNER" },
        { "/a 0 n0 toolstack uint 3 7", "line 1: too many fields" },
        { "/a 0 n0 toolstack number 3", "line 1: unknown grammar 'number'" },
        { "/a 0 n0 root uint 3", "line 1: unknown writer 'root'" },
        { "/a 0 x0 toolstack uint 3", "line 1: bad permissions 'x0'" },
        { "/a 0 n1 toolstack uint 3", "line 1: OWNER is not the first" },
        { "/a 0 n0,r{domid} toolstack uint 3", "line 1: bad permissions" },
        { "/a {domid} n0 toolstack uint 3", "line 1: bad OWNER '{domid}'" },
        { "/a/{domid} {domid} n0 toolstack uint 3",
          "line 1: OWNER is not the first" },
        { "/a/{n}x 0 n0 toolstack uint 3", "line 1: bad path segment" },
        { "/a/{m} 0 n0 toolstack uint 3", "line 1: bad path segment" },
        { "/a/ 0 n0 toolstack uint 3", "line 1: empty path segment" },
        { "a 0 n0 toolstack uint 3", "line 1: path 'a' must start" },
        { "/a 0 n0 toolstack uint 4097", "line 1: bad MAXLEN '4097'" },
        { "/a 0 n0 toolstack uint -1", "line 1: bad MAXLEN '-1'" },
        { "/a 0 n0 toolstack enum() 3", "line 1: unknown grammar" },
        { "/a 0 n0 toolstack enum(a||b) 3", "line 1: bad enum" },
        { "/a 0 n0 toolstack enum(A) 3", "line 1: bad enum" },
        { "/a 0 n0 toolstack enum(a)x 3", "line 1: unknown grammar" },
        { "own /b\n/a 0 n0 toolstack uint 3",
          "line 1: own tree '/b' declares no node" },
        { "own /a /b", "line 1: 'own' takes one PATH" },
        { "\n\n/a 0 n0 toolstack uint 3\n/b\t0\tn0\tguest\tuint\t3\n/c",
          "line 5: want PATH" },
    };
    char err[XENGPU_XS_ERRLEN];
    xengpu_xs_schema *s;
    size_t i;
    int r;

    (void)state;
    for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        s = NULL;
        r = xengpu_xs_schema_parse(cases[i].text, strlen(cases[i].text), &s,
                                   err);
        if (!cases[i].err) {
            if (r) fail_msg("'%s': %s", cases[i].text, err);
            xengpu_xs_schema_free(s);
            continue;
        }
        if (!r || !strstr(err, cases[i].err))
            fail_msg("'%s': got %d '%s', want '%s'", cases[i].text, r, err,
                     cases[i].err);
        assert_null(s);
    }
}

static void test_parse_nul_and_long_lines(void **state)
{
    char err[XENGPU_XS_ERRLEN], big[2048];
    xengpu_xs_schema *s = NULL;
    static const char nul[] = "/a 0 n0 toolstack uint 3\0/b";

    (void)state;
    assert_int_equal(xengpu_xs_schema_parse(nul, sizeof(nul) - 1, &s, err),
                     -EINVAL);
    assert_string_equal(err, "line 1: NUL byte");
    memset(big, '#', sizeof(big));
    assert_int_equal(xengpu_xs_schema_parse(big, sizeof(big), &s, err),
                     -EINVAL);
    assert_non_null(strstr(err, "line longer than 1024 bytes"));
    /* LEN bounds the text: the bad second line is never seen. */
    assert_int_equal(xengpu_xs_schema_parse(nul, 24, &s, err), 0);
    assert_int_equal(s->nrules, 1);
    xengpu_xs_schema_free(s);
}

static void test_proto_request(void **state)
{
    char buf[XENGPU_PROTO_REQUEST_MAX + 1];
    xengpu_guest_verb verb;
    uint32_t seq;

    (void)state;
    assert_int_equal(xengpu_proto_format_request(
                         2147483647u, XENGPU_GUEST_RELEASE, buf, sizeof(buf)),
                     18);
    assert_string_equal(buf, "2147483647 release");
    assert_int_equal(xengpu_proto_parse_request(buf, strlen(buf), &seq, &verb),
                     0);
    assert_int_equal(seq, 2147483647u);
    assert_int_equal(verb, XENGPU_GUEST_RELEASE);
    assert_int_equal(
        xengpu_proto_format_request(0, XENGPU_GUEST_PLUGGED, buf, sizeof(buf)),
        -EINVAL);
    assert_int_equal(xengpu_proto_format_request(
                         2147483648u, XENGPU_GUEST_PLUGGED, buf, sizeof(buf)),
                     -EINVAL);
    assert_int_equal(
        xengpu_proto_format_request(5, XENGPU_GUEST_PLUGGED, buf, 5), -ENOSPC);
}

struct rcase {
    const char *v;
    int r;
    uint32_t seq;
    xengpu_guest_answer answer;
    const char *reason;
};

static void test_proto_response(void **state)
{
    static const struct rcase cases[] = {
        { "7 released", 0, 7, XENGPU_GUEST_RELEASED, "" },
        { "7 done", 0, 7, XENGPU_GUEST_DONE, "" },
        { "7 refused busy: a frame", 0, 7, XENGPU_GUEST_REFUSED,
          "busy: a frame" },
        { "0 released", -EINVAL, 0, 0, NULL },
        { "07 released", -EINVAL, 0, 0, NULL },
        { "2147483648 released", -EINVAL, 0, 0, NULL },
        { "7  released", -EINVAL, 0, 0, NULL },
        { "7 released ", -EINVAL, 0, 0, NULL },
        { "7 Released", -EINVAL, 0, 0, NULL },
        { "7 refused", -EINVAL, 0, 0, NULL },
        { "7 refused ", -EINVAL, 0, 0, NULL },
        { "7 refused  lead", -EINVAL, 0, 0, NULL },
        { "7 refused bell\a", -EINVAL, 0, 0, NULL },
        { "7 refused \xc3\xa9t\xc3\xa9", -EINVAL, 0, 0, NULL },
        { "released", -EINVAL, 0, 0, NULL },
        { " 7 released", -EINVAL, 0, 0, NULL },
        { "", -EINVAL, 0, 0, NULL },
    };
    xengpu_guest_response r;
    char reason[200];
    size_t i;

    (void)state;
    for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        int got =
            xengpu_proto_parse_response(cases[i].v, strlen(cases[i].v), &r);
        if (got != cases[i].r) fail_msg("'%s': got %d", cases[i].v, got);
        if (got) continue;
        assert_int_equal(r.seq, cases[i].seq);
        assert_int_equal(r.answer, cases[i].answer);
        assert_string_equal(r.reason, cases[i].reason);
    }
    /* A reason of 96 characters passes, 97 does not. */
    snprintf(reason, sizeof(reason), "1 refused %096d", 0);
    assert_int_equal(xengpu_proto_parse_response(reason, strlen(reason), &r),
                     0);
    assert_int_equal(strlen(r.reason), 96);
    snprintf(reason, sizeof(reason), "1 refused %097d", 0);
    assert_int_equal(xengpu_proto_parse_response(reason, strlen(reason), &r),
                     -EINVAL);
    /* LEN, not the NUL, ends the value. */
    assert_int_equal(xengpu_proto_parse_response("7 donex", 6, &r), 0);
    assert_int_equal(r.answer, XENGPU_GUEST_DONE);
}

static void test_proto_agent(void **state)
{
    unsigned v;

    (void)state;
    assert_int_equal(xengpu_proto_parse_agent("1", 1, &v), 0);
    assert_int_equal(v, 1);
    assert_int_equal(xengpu_proto_parse_agent("9999", 4, &v), 0);
    assert_int_equal(xengpu_proto_parse_agent("0", 1, &v), -EINVAL);
    assert_int_equal(xengpu_proto_parse_agent("10000", 5, &v), -EINVAL);
    assert_int_equal(xengpu_proto_parse_agent("1\n", 2, &v), -EINVAL);
    assert_int_equal(xengpu_proto_parse_agent("", 0, &v), -EINVAL);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_builtin_parses),
        cmocka_unit_test(test_match_binds),
        cmocka_unit_test(test_match_refuses),
        cmocka_unit_test(test_dirs_and_trees),
        cmocka_unit_test(test_grammars),
        cmocka_unit_test(test_every_grammar_has_a_reason),
        cmocka_unit_test(test_check_value),
        cmocka_unit_test(test_parse_errors),
        cmocka_unit_test(test_parse_nul_and_long_lines),
        cmocka_unit_test(test_proto_request),
        cmocka_unit_test(test_proto_response),
        cmocka_unit_test(test_proto_agent),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
