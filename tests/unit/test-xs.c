/*
 * test-xs.c - the checked write, the validator and the guest protocol
 * against the in-memory xenstore (fake-xs.h).  The real store is in the
 * nested scenarios (70-guest-protocol, and the validator after every
 * scenario); this covers what a real guest cannot be made to do on
 * demand: exact floods, exact garbage, injected xenstore failures.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <cmocka.h>

#include "capture-log.h"
#include "fake-xs.h"
#include "toolstack/reserve.h"
#include "xenstore-schema/xs.h"

#define UUID "6f1e5b1c-8a7e-4d2b-9c3f-0a1b2c3d4e5f"
#define UUID2 "00000000-0000-4000-8000-000000000002"
#define REC "/xengpu/domain/" UUID
#define BE "/local/domain/0/backend/pci/5/0"
#define DATA5 "/local/domain/5/data"

struct fix {
    struct capture_log lg;
    struct xs_handle *xs;
};

static int setup(void **state)
{
    struct fix *f = calloc(1, sizeof(*f));

    fake_xs_reset();
    capture_log_init(&f->lg);
    f->xs = xs_open(0);
    assert_non_null(f->xs);
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    struct fix *f = *state;

    fake_xs_on_write(NULL, NULL);
    xs_close(f->xs);
    capture_log_dispose(&f->lg);
    free(f);
    return 0;
}

#define LG(f) (&(f)->lg.vtable)

/* A guest 5 as libxl leaves it: its home and a data/ it may write. */
static void guest5(void)
{
    fake_xs_put("/local/domain/5", "", "n5,r0");
    fake_xs_put(DATA5, "", "n5");
}

/* --- the checked write ---------------------------------------------------- */

static void test_write_declared(void **state)
{
    struct fix *f = *state;

    assert_int_equal(
        xengpu_xs_write(f->xs, XBT_NULL, REC "/name", "vm 1", LG(f)), 0);
    assert_string_equal(fake_xs_get(REC "/name"), "vm 1");
    assert_string_equal(fake_xs_perms(REC "/name"), "n0");
    assert_int_equal(fake_xs_nwrites(), 1);
    assert_string_equal(fake_xs_write_path(0), REC "/name");
}

static void test_write_refused(void **state)
{
    static const char *const bad[][2] = {
        { "/xengpu/bogus", "1" },               /* undeclared */
        { REC "/domid", "five" },               /* bad value */
        { REC "/domid", "32752" },              /* out of range */
        { REC "/name", "" },                    /* empty name */
        { DATA5 "/xengpu/response", "1 done" }, /* the guest's node */
        { DATA5 "/xengpu/agent", "1" },         /* the guest's node */
        { BE "/vdev-0", "0000:00:00.0" },       /* pciback's node */
        { DATA5 "/xengpu/request", "1 release; x" },
    };
    struct fix *f = *state;
    size_t i;

    for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
        if (xengpu_xs_write(f->xs, XBT_NULL, bad[i][0], bad[i][1], LG(f)) !=
            -EPERM)
            fail_msg("%s = '%s' was not refused", bad[i][0], bad[i][1]);
    assert_int_equal(fake_xs_nwrites(), 0);
    assert_true(capture_log_has(&f->lg, "bug: xengpu tried to write "
                                        "/xengpu/bogus, which the xenstore "
                                        "schema does not give to the "
                                        "toolstack"));
    assert_true(capture_log_has(&f->lg, "tried to write 'five' to " REC
                                        "/domid, which is not a domain id"));
}

static void test_write_error(void **state)
{
    struct fix *f = *state;

    fake_xs_fail_next("xs_write", EIO);
    assert_int_equal(
        xengpu_xs_write(f->xs, XBT_NULL, REC "/domid", "3", LG(f)), -EIO);
    assert_true(capture_log_has(&f->lg, "cannot write " REC "/domid"));
    assert_null(fake_xs_get(REC "/domid"));
}

static void test_rm(void **state)
{
    struct fix *f = *state;

    fake_xs_put(REC "/name", "vm", "n0");
    fake_xs_put(REC "/gpu/0/card", "0000:01:00.0", "n0");
    assert_int_equal(xengpu_xs_rm(f->xs, XBT_NULL, REC, LG(f)), 0);
    assert_null(fake_xs_get(REC "/name"));
    assert_null(fake_xs_get(REC));
    /* Gone already: fine. */
    assert_int_equal(xengpu_xs_rm(f->xs, XBT_NULL, REC, LG(f)), 0);
    /* Not ours. */
    fake_xs_put(BE "/num_devs", "1", "n0,r5");
    assert_int_equal(xengpu_xs_rm(f->xs, XBT_NULL, BE, LG(f)), -EPERM);
    assert_int_equal(xengpu_xs_rm(f->xs, XBT_NULL, "/local/domain/5", LG(f)),
                     -EPERM);
    assert_string_equal(fake_xs_get(BE "/num_devs"), "1");
    assert_true(capture_log_has(&f->lg, "tried to remove " BE));
}

/* --- the validator ---------------------------------------------------- */

struct reports {
    char paths[64][160];
    char problems[64][256];
    unsigned n;
};

static void collect(const char *path, const char *problem, void *arg)
{
    struct reports *r = arg;

    if (r->n < 64) {
        snprintf(r->paths[r->n], sizeof(r->paths[0]), "%s", path);
        snprintf(r->problems[r->n], sizeof(r->problems[0]), "%s", problem);
    }
    r->n++;
}

static const char *problem_of(const struct reports *r, const char *path)
{
    unsigned i;

    for (i = 0; i < r->n && i < 64; i++)
        if (!strcmp(r->paths[i], path)) return r->problems[i];
    return NULL;
}

/* A store as a healthy host has it, for domains 5 and 6. */
static void healthy_store(void)
{
    guest5();
    fake_xs_put("/local/domain/6", "", "n6,r0");
    fake_xs_put("/local/domain/6/data", "", "n6");
    fake_xs_put(REC "/name", "vm5", "n0");
    fake_xs_put(REC "/domid", "5", "n0");
    fake_xs_put(REC "/gpu/0/spec", "10de:2204", "n0");
    fake_xs_put(REC "/gpu/0/card", "0000:01:00.0", "n0");
    fake_xs_put("/xengpu/domain/" UUID2 "/domid", "6", "n0");
    fake_xs_put(BE, "", "n0,r5");
    fake_xs_put(BE "/num_devs", "2", NULL);
    fake_xs_put(BE "/dev-0", "0000:01:00.0", NULL);
    fake_xs_put(BE "/vdev-0", "0000:00:00.00", NULL); /* as pciback has it */
    fake_xs_put(BE "/opts-0",
                "msitranslate=0,power_mgmt=0,permissive=0,rdm_policy=strict",
                NULL);
    fake_xs_put(BE "/state-0", "4", NULL);
    fake_xs_put(BE "/frontend", "/local/domain/5/device/pci/0", NULL);
    fake_xs_put(DATA5 "/xengpu/agent", "1", NULL);
    fake_xs_put(DATA5 "/xengpu/response", "17 released", NULL);
    fake_xs_put(DATA5 "/other-tool/anything", "goes", NULL);
    fake_xs_put("/libxl/pci/0000-01-00-0/driver_path",
                "/sys/bus/pci/drivers/nouveau", "n0");
}

static void test_validate_healthy(void **state)
{
    struct fix *f = *state;
    struct reports r = { .n = 0 };
    xengpu_xs_stats st;

    healthy_store();
    assert_int_equal(
        xengpu_xs_validate(f->xs, NULL, -1, collect, &r, &st, LG(f)), 0);
    if (r.n) fail_msg("%s: %s", r.paths[0], r.problems[0]);
    assert_int_equal(st.problems, 0);
    /* 5 record + 6 backend + 3 guest (dir, agent, response) + 1 libxl */
    assert_int_equal(st.checked, 14);
}

static int line_of(const char *path)
{
    const xengpu_xs_rule *rule =
        xengpu_xs_match(xengpu_xs_schema_builtin(), path, NULL);

    assert_non_null(rule);
    return rule->line;
}

static void test_validate_problems(void **state)
{
    struct fix *f = *state;
    struct reports r = { .n = 0 };
    xengpu_xs_stats st;
    char want[256];

    healthy_store();
    fake_xs_put(REC "/domid", "5x", NULL);                  /* value */
    fake_xs_put(REC "/name", NULL, "n0,r5");                /* perms */
    fake_xs_put("/xengpu/stray", "1", "n0");                /* undeclared */
    fake_xs_put(REC "/gpu/1", "oops", "n0");                /* dir value */
    fake_xs_put(BE "/dev-1", "1:0.0", NULL);                /* libxl's */
    fake_xs_put(DATA5 "/xengpu/response/child", "x", NULL); /* guest */
    fake_xs_put(DATA5 "/xengpu/agent", "1\x1b[2J", NULL);   /* guest */
    fake_xs_put(DATA5 "/xengpu/request", "1 release", "n5,w0"); /* perms */
    assert_int_equal(
        xengpu_xs_validate(f->xs, NULL, -1, collect, &r, &st, LG(f)), 0);
    assert_int_equal(st.problems, 8);
    assert_int_equal(r.n, 8);
    snprintf(want, sizeof(want),
             "value '5x' is not a domain id (schema line %d: grammar, at "
             "most 5 bytes)",
             line_of(REC "/domid"));
    assert_string_equal(problem_of(&r, REC "/domid"), want);
    snprintf(want, sizeof(want),
             "permissions n0,r5, the schema says n0 (line %d)",
             line_of(REC "/name"));
    assert_string_equal(problem_of(&r, REC "/name"), want);
    assert_string_equal(problem_of(&r, "/xengpu/stray"),
                        "not declared by the xenstore schema");
    assert_string_equal(problem_of(&r, REC "/gpu/1"),
                        "a directory with a value ('oops')");
    assert_non_null(problem_of(&r, BE "/dev-1"));
    assert_string_equal(problem_of(&r, DATA5 "/xengpu/response/child"),
                        "not declared by the xenstore schema");
    snprintf(want, sizeof(want),
             "value '1\\x1b[2J' is longer than the schema allows (schema "
             "line %d: grammar, at most 4 bytes)",
             line_of(DATA5 "/xengpu/agent"));
    assert_string_equal(problem_of(&r, DATA5 "/xengpu/agent"), want);
    snprintf(want, sizeof(want),
             "permissions n5,w0, the schema says n5 (line %d)",
             line_of(DATA5 "/xengpu/request"));
    assert_string_equal(problem_of(&r, DATA5 "/xengpu/request"), want);
}

static void test_validate_one_domain(void **state)
{
    struct fix *f = *state;
    struct reports r = { .n = 0 };
    xengpu_xs_stats st;

    healthy_store();
    fake_xs_put("/xengpu/domain/" UUID2 "/name", "", NULL); /* domain 6 */
    fake_xs_put("/local/domain/6/data/xengpu/agent", "x", NULL);
    fake_xs_put(DATA5 "/xengpu/agent", "0", NULL); /* domain 5 */
    assert_int_equal(
        xengpu_xs_validate(f->xs, NULL, 5, collect, &r, &st, LG(f)), 0);
    assert_int_equal(r.n, 1);
    assert_string_equal(r.paths[0], DATA5 "/xengpu/agent");
    assert_int_equal(st.checked, 12); /* not domain 6's, nor libxl's card */
    memset(&r, 0, sizeof(r));
    assert_int_equal(
        xengpu_xs_validate(f->xs, NULL, 6, collect, &r, &st, LG(f)), 0);
    assert_int_equal(r.n, 2);
    assert_non_null(problem_of(&r, "/xengpu/domain/" UUID2 "/name"));
    assert_non_null(problem_of(&r, "/local/domain/6/data/xengpu/agent"));
}

static void test_validate_flood_capped(void **state)
{
    struct fix *f = *state;
    struct reports r = { .n = 0 };
    xengpu_xs_stats st;
    char path[128];
    int i;

    guest5();
    for (i = 0; i < XENGPU_XS_MAX_CHILDREN + 10; i++) {
        snprintf(path, sizeof(path), DATA5 "/xengpu/junk/n%d", i);
        fake_xs_put(path, "x", NULL);
    }
    assert_int_equal(
        xengpu_xs_validate(f->xs, NULL, -1, collect, &r, &st, LG(f)), 0);
    /* The junk dir, the first 4096 of its children, and the cap. */
    assert_int_equal(r.n, 1 + XENGPU_XS_MAX_CHILDREN + 1);
    assert_string_equal(problem_of(&r, DATA5 "/xengpu/junk"),
                        "not declared by the xenstore schema");
    assert_non_null(strstr(r.problems[1], "has 4106 children; only the "
                                          "first 4096 were checked"));
}

static void test_validate_store_error(void **state)
{
    struct fix *f = *state;
    struct reports r = { .n = 0 };
    xengpu_xs_stats st;

    healthy_store();
    fake_xs_fail_next("xs_directory", EIO);
    assert_int_equal(
        xengpu_xs_validate(f->xs, NULL, -1, collect, &r, &st, LG(f)), -EIO);
    assert_true(capture_log_has(&f->lg, "cannot read xenstore"));
}

/* --- the guest protocol ---------------------------------------------------- */

struct guest {
    const char *answer; /* printf format taking the request's SEQ */
    unsigned times;     /* how often to write it */
    unsigned delta;     /* answer SEQ + DELTA: a stale answer */
    unsigned calls;
    char request[64];
    struct xs_handle *xs;
};

/* Guest 5's agent: answers dom0's request as told. */
static void agent5(const char *path, const char *value, void *arg)
{
    struct guest *g = arg;
    char ans[8192];
    unsigned seq = 0, i;

    if (strcmp(path, DATA5 "/xengpu/request")) return;
    g->calls++;
    snprintf(g->request, sizeof(g->request), "%s", value);
    assert_int_equal(sscanf(value, "%u", &seq), 1);
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wformat-nonliteral"
    snprintf(ans, sizeof(ans), g->answer, seq + g->delta);
#pragma GCC diagnostic pop
    fake_xs_as(5);
    for (i = 0; i < g->times; i++)
        assert_true(xs_write(g->xs, XBT_NULL, DATA5 "/xengpu/response", ans,
                             (unsigned)strlen(ans)));
    fake_xs_as(0);
}

static int ask5(struct fix *f, struct guest *g, xengpu_guest_verb verb,
                unsigned ms, xengpu_guest_response *r)
{
    g->xs = f->xs;
    fake_xs_on_write(agent5, g);
    return xengpu_guest_ask(f->xs, 5, verb, ms, r, LG(f));
}

static void with_agent(void)
{
    guest5();
    fake_xs_as(5);
    fake_xs_put(DATA5 "/xengpu/agent", "1", NULL);
    fake_xs_as(0);
}

static void test_ask_released(void **state)
{
    struct fix *f = *state;
    struct guest g = { "%u released", 1, 0, 0, "", NULL };
    xengpu_guest_response r;

    with_agent();
    assert_int_equal(ask5(f, &g, XENGPU_GUEST_RELEASE, 2000, &r), 0);
    assert_int_equal(r.answer, XENGPU_GUEST_RELEASED);
    assert_int_equal(g.calls, 1);
    assert_non_null(strstr(g.request, " release"));
    /* The request is gone, the nodes keep the guest's permissions. */
    assert_null(fake_xs_get(DATA5 "/xengpu/request"));
    assert_string_equal(fake_xs_perms(DATA5 "/xengpu/response"), "n5");
}

static void test_ask_refused(void **state)
{
    struct fix *f = *state;
    struct guest g = { "%u refused busy: a frame", 1, 0, 0, "", NULL };
    xengpu_guest_response r;

    with_agent();
    assert_int_equal(ask5(f, &g, XENGPU_GUEST_PLUGGED, 2000, &r), 0);
    assert_int_equal(r.answer, XENGPU_GUEST_REFUSED);
    assert_string_equal(r.reason, "busy: a frame");
    assert_non_null(strstr(g.request, " plugged"));
}

static void test_ask_no_agent(void **state)
{
    struct fix *f = *state;
    struct guest g = { "%u released", 1, 0, 0, "", NULL };
    xengpu_guest_response r;

    guest5();
    assert_int_equal(ask5(f, &g, XENGPU_GUEST_RELEASE, 2000, &r), -ENOENT);
    assert_int_equal(g.calls, 0);
    assert_int_equal(fake_xs_nwrites(), 0);
    /* A garbage agent node is no agent, and says so. */
    fake_xs_put(DATA5 "/xengpu/agent", "yes please", NULL);
    assert_int_equal(ask5(f, &g, XENGPU_GUEST_RELEASE, 2000, &r), -ENOENT);
    assert_true(capture_log_has(&f->lg, "domain 5: ignoring its agent: "
                                        "data/xengpu/agent 'yes please' is "
                                        "not a protocol version"));
}

static long ms_since(const struct timespec *t0)
{
    struct timespec t;

    clock_gettime(CLOCK_MONOTONIC, &t);
    return (t.tv_sec - t0->tv_sec) * 1000 +
           (t.tv_nsec - t0->tv_nsec) / 1000000;
}

static void test_ask_silent_and_stale(void **state)
{
    static const struct {
        const char *answer;
        unsigned times, delta;
    } cases[] = {
        { "", 0, 0 },            /* silent */
        { "%u done", 1, 1 },     /* stale: another request's SEQ */
        { "%u releasedX", 1, 0 } /* malformed */
    };
    struct fix *f = *state;
    xengpu_guest_response r;
    struct timespec t0;
    size_t i;

    with_agent();
    for (i = 0; i < 3; i++) {
        struct guest g = {
            cases[i].answer, cases[i].times, cases[i].delta, 0, "", NULL
        };
        clock_gettime(CLOCK_MONOTONIC, &t0);
        assert_int_equal(ask5(f, &g, XENGPU_GUEST_RELEASE, 100, &r),
                         -ETIMEDOUT);
        assert_true(ms_since(&t0) >= 100);
        assert_true(ms_since(&t0) < 2000);
        assert_int_equal(g.calls, 1);
        assert_null(fake_xs_get(DATA5 "/xengpu/request"));
    }
    assert_true(capture_log_has(&f->lg, "ignoring a malformed answer in "
                                        "data/xengpu/response: '"));
}

static void test_ask_flood(void **state)
{
    struct fix *f = *state;
    struct guest g = { "%u released but not really", 5000, 0, 0, "", NULL };
    xengpu_guest_response r;
    struct timespec t0;

    with_agent();
    clock_gettime(CLOCK_MONOTONIC, &t0);
    assert_int_equal(ask5(f, &g, XENGPU_GUEST_RELEASE, 10000, &r), -EPROTO);
    assert_true(ms_since(&t0) < 5000);
    assert_true(capture_log_has(&f->lg, "domain 5 floods data/xengpu"));
    /* One malformed answer logged, not 5000. */
    assert_true(f->lg.count <= 4);
}

static void test_ask_oversized_answer(void **state)
{
    struct fix *f = *state;
    char big[4000 + 16];
    struct guest g = { big, 1, 0, 0, "", NULL };
    xengpu_guest_response r;

    memset(big, 'A', sizeof(big));
    memcpy(big, "%u done ", 8);
    big[4000] = '\0';
    with_agent();
    assert_int_equal(ask5(f, &g, XENGPU_GUEST_PLUGGED, 100, &r), -ETIMEDOUT);
    /* Logged escaped and cut at 48 characters. */
    assert_true(capture_log_has(&f->lg, "AAAA..."));
}

static void test_ask_xenstore_failures(void **state)
{
    struct fix *f = *state;
    struct guest g = { "%u released", 1, 0, 0, "", NULL };
    xengpu_guest_response r;

    with_agent();
    fake_xs_fail_next("xs_watch", ENOSPC);
    assert_int_equal(ask5(f, &g, XENGPU_GUEST_RELEASE, 100, &r), -ENOSPC);
    assert_true(
        capture_log_has(&f->lg, "cannot watch " DATA5 "/xengpu/response"));
    fake_xs_fail_next("xs_write", EACCES);
    assert_int_equal(ask5(f, &g, XENGPU_GUEST_RELEASE, 100, &r), -EACCES);
    assert_int_equal(g.calls, 0);
}

/* --- reservations (toolstack/reserve.c) ----------------------------------- */

static void test_reservations(void **state)
{
    struct fix *f = *state;
    xengpu_bdf card = { 0, 1, 0, 0 };
    char uuid[XENGPU_UUID_STRLEN] = "";

    assert_int_equal(xengpu_reserved(&card, uuid, LG(f)), 0);
    assert_int_equal(xengpu_reserve(&card, UUID, time(NULL) + 60, LG(f)), 0);
    assert_string_equal(fake_xs_get("/xengpu/reserved/0000-01-00-0/uuid"),
                        UUID);
    assert_int_equal(xengpu_reserved(&card, uuid, LG(f)), 1);
    assert_string_equal(uuid, UUID);
    /* Expired, or damaged: not a reservation. */
    fake_xs_put("/xengpu/reserved/0000-01-00-0/expires", "1", NULL);
    assert_int_equal(xengpu_reserved(&card, NULL, LG(f)), 0);
    fake_xs_put("/xengpu/reserved/0000-01-00-0/expires", "99999999999x", NULL);
    assert_int_equal(xengpu_reserved(&card, NULL, LG(f)), 0);
    assert_int_equal(xengpu_unreserve(&card, LG(f)), 0);
    assert_null(fake_xs_get("/xengpu/reserved/0000-01-00-0"));
    assert_int_equal(xengpu_unreserve(&card, LG(f)), 0);
    /* A conflicting transaction is retried. */
    fake_xs_fail_commit(2);
    assert_int_equal(xengpu_reserve(&card, UUID, time(NULL) + 60, LG(f)), 0);
    assert_int_equal(xengpu_reserved(&card, NULL, LG(f)), 1);
    fake_xs_fail_open(true);
    assert_true(xengpu_reserved(&card, NULL, LG(f)) < 0);
    fake_xs_fail_open(false);
}

static void test_show(void **state)
{
    char buf[XENGPU_XS_SHOWLEN];
    char big[100];

    (void)state;
    assert_string_equal(xengpu_xs_show("a\\b\n\x7f\xff", 6, buf),
                        "a\\x5cb\\x0a\\x7f\\xff");
    memset(big, 'z', sizeof(big));
    assert_int_equal(strlen(xengpu_xs_show(big, sizeof(big), buf)), 51);
    /* Worst case: 48 escapes and the dots fit. */
    memset(big, 1, sizeof(big));
    assert_int_equal(strlen(xengpu_xs_show(big, sizeof(big), buf)),
                     48 * 4 + 3);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_write_declared, setup, teardown),
        cmocka_unit_test_setup_teardown(test_write_refused, setup, teardown),
        cmocka_unit_test_setup_teardown(test_write_error, setup, teardown),
        cmocka_unit_test_setup_teardown(test_rm, setup, teardown),
        cmocka_unit_test_setup_teardown(test_validate_healthy, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_validate_problems, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_validate_one_domain, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_validate_flood_capped, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_validate_store_error, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_ask_released, setup, teardown),
        cmocka_unit_test_setup_teardown(test_ask_refused, setup, teardown),
        cmocka_unit_test_setup_teardown(test_ask_no_agent, setup, teardown),
        cmocka_unit_test_setup_teardown(test_ask_silent_and_stale, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_ask_flood, setup, teardown),
        cmocka_unit_test_setup_teardown(test_ask_oversized_answer, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_ask_xenstore_failures, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_reservations, setup, teardown),
        cmocka_unit_test(test_show),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
