/*
 * test-guest.c - xengpu-guest (guest/agent.h): real hooks (shell
 * scripts in a temporary directory), the card's drivers on a small fake
 * sysfs tree, and the protocol on the in-memory store (fake-xs.h)
 * acting as the guest.  The real agent in a real guest is proven by the
 * nested scenario 70-guest-protocol.
 */
#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "fake-xs.h"
#include "guest/agent.h"

#define HOME "/local/domain/5/data/xengpu"

static char dir[64], logpath[96];

static double now_s(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void put_file(const char *name, const char *text, mode_t mode)
{
    char path[256];
    FILE *f;

    snprintf(path, sizeof(path), "%s/%s", dir, name);
    assert_non_null(f = fopen(path, "w"));
    fputs(text, f);
    fclose(f);
    assert_int_equal(chmod(path, mode), 0);
}

/* A hook that logs "NAME VERB [undo]" and then runs BODY. */
static void hook(const char *name, const char *body)
{
    char text[512];

    snprintf(text, sizeof(text),
             "#!/bin/sh\necho \"%s $1${XENGPU_UNDO:+ undo}\" >>\"$LOG\"\n%s\n",
             name, body);
    put_file(name, text, 0755);
}

static char *slurp(const char *path)
{
    static char buf[4096];
    ssize_t n;
    int fd = open(path, O_RDONLY);

    buf[0] = '\0';
    if (fd < 0) return buf;
    n = read(fd, buf, sizeof(buf) - 1);
    buf[n > 0 ? n : 0] = '\0';
    close(fd);
    return buf;
}

static int setup(void **state)
{
    (void)state;
    snprintf(dir, sizeof(dir), "/tmp/test-guest-XXXXXX");
    assert_non_null(mkdtemp(dir));
    snprintf(logpath, sizeof(logpath), "%s.log", dir);
    unlink(logpath);
    setenv("LOG", logpath, 1);
    return 0;
}

static int teardown(void **state)
{
    char cmd[200];

    (void)state;
    snprintf(cmd, sizeof(cmd), "rm -rf '%s' '%s'", dir, logpath);
    return system(cmd) == 0 ? 0 : -1;
}

static struct xengpu_agent_cfg cfg_for_tests(void)
{
    struct xengpu_agent_cfg cfg;

    xengpu_agent_cfg_init(&cfg);
    cfg.hooks_dir = dir;
    cfg.sysfs = "/nonexistent";
    cfg.unbind = false;
    cfg.settle_ms = 0;
    cfg.deadline_s = 5;
    return cfg;
}

/* run-parts' rules: names, regular files, executable, not writable by
 * others; sorted by name whatever the directory order. */
static void hooks_sorted_and_filtered(void **state)
{
    char *names[8], sub[96];
    int n, i;

    (void)state;
    hook("20-b", "");
    hook("10-a", "");
    hook("x.dpkg-old", "");
    put_file("30-noexec", "#!/bin/sh\n", 0644);
    put_file("40-groupw", "#!/bin/sh\n", 0775);
    snprintf(sub, sizeof(sub), "%s/50-dir", dir);
    assert_int_equal(mkdir(sub, 0755), 0);
    n = xengpu_agent_hooks(dir, names, 8);
    assert_int_equal(n, 2);
    assert_string_equal(names[0], "10-a");
    assert_string_equal(names[1], "20-b");
    for (i = 0; i < n; i++)
        free(names[i]);
    assert_int_equal(xengpu_agent_hooks(dir, names, 1), -E2BIG);
    assert_int_equal(xengpu_agent_hooks("/nonexistent/hooks", names, 8), 0);
}

/* The reason dom0 prints: the first line, printable, 96 at most. */
static void reason_is_first_printable_line(void **state)
{
    char r[XENGPU_PROTO_REASON_MAX + 1], long_line[300];
    const char *out = "\x01  busy:\tGPU \x7frendering\nsecond line\n";

    (void)state;
    xengpu_agent_reason(out, strlen(out), r, sizeof(r));
    assert_string_equal(r, "busy:GPU rendering");
    memset(long_line, 'x', sizeof(long_line));
    xengpu_agent_reason(long_line, sizeof(long_line), r, sizeof(r));
    assert_int_equal(strlen(r), XENGPU_PROTO_REASON_MAX);
    xengpu_agent_reason("\n", 1, r, sizeof(r));
    assert_string_equal(r, "");
}

static void run_hook_outcomes(void **state)
{
    char r[XENGPU_PROTO_REASON_MAX + 1];
    uint64_t far = (uint64_t)-1;

    (void)state;
    hook("ok", "test \"$XENGPU_VERB $XENGPU_SEQ\" = \"release 7\"");
    hook("no", "echo 'busy: rendering a frame'; echo more; exit 1");
    hook("mute", "exit 3");
    assert_int_equal(
        xengpu_agent_run_hook(dir, "ok", "release", 7, false, far, r, 97), 0);
    assert_int_equal(
        xengpu_agent_run_hook(dir, "no", "release", 7, false, far, r, 97), 1);
    assert_string_equal(r, "busy: rendering a frame");
    assert_int_equal(
        xengpu_agent_run_hook(dir, "mute", "release", 7, false, far, r, 97),
        1);
    assert_string_equal(r, "hook mute exited 3");
}

static uint64_t ms_from_now(unsigned ms)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000 + ms;
}

/* A hook past the deadline is killed with its children; a hook that
 * leaves a daemon holding its output does not hold the agent. */
static void run_hook_deadline_and_daemons(void **state)
{
    char r[XENGPU_PROTO_REASON_MAX + 1];
    double t0;

    (void)state;
    hook("slow", "sleep 30");
    hook("daemon", "sleep 3 & exit 0");
    t0 = now_s();
    assert_int_equal(xengpu_agent_run_hook(dir, "slow", "release", 1, false,
                                           ms_from_now(300), r, sizeof(r)),
                     1);
    assert_string_equal(r, "hook slow timed out");
    assert_true(now_s() - t0 < 5);
    t0 = now_s();
    assert_int_equal(xengpu_agent_run_hook(dir, "daemon", "release", 1, false,
                                           ms_from_now(20000), r, sizeof(r)),
                     0);
    assert_true(now_s() - t0 < 5);
}

/* release runs the hooks in order; the first refusal stops it, undoes
 * the hooks that ran (last first) and becomes the answer. */
static void release_refused_undoes(void **state)
{
    struct xengpu_agent_cfg cfg = cfg_for_tests();
    char resp[XENGPU_PROTO_RESPONSE_MAX + 1];

    (void)state;
    hook("10-dm", "");
    hook("20-cuda", "");
    hook("30-busy", "echo 'busy: CUDA job 42 running'; exit 1");
    hook("40-never", "");
    assert_int_equal(
        xengpu_agent_handle(&cfg, 9, XENGPU_GUEST_RELEASE, resp, sizeof(resp)),
        0);
    assert_string_equal(resp, "9 refused busy: CUDA job 42 running");
    assert_string_equal(slurp(logpath),
                        "10-dm release\n20-cuda release\n30-busy release\n"
                        "20-cuda plugged undo\n10-dm plugged undo\n");
}

static void release_and_plugged_orders(void **state)
{
    struct xengpu_agent_cfg cfg = cfg_for_tests();
    char resp[XENGPU_PROTO_RESPONSE_MAX + 1];

    (void)state;
    hook("10-dm", "");
    hook("20-cuda", "");
    assert_int_equal(
        xengpu_agent_handle(&cfg, 1, XENGPU_GUEST_RELEASE, resp, sizeof(resp)),
        0);
    assert_string_equal(resp, "1 released");
    assert_int_equal(
        xengpu_agent_handle(&cfg, 2, XENGPU_GUEST_PLUGGED, resp, sizeof(resp)),
        0);
    assert_string_equal(resp, "2 done");
    assert_string_equal(slurp(logpath), "10-dm release\n20-cuda release\n"
                                        "20-cuda plugged\n10-dm plugged\n");
}

/* A sysfs tree as Linux shows a guest's PCI bus. */
static void fake_fn(const char *bdf, const char *class, bool driver)
{
    char path[256];

    snprintf(path, sizeof(path), "mkdir -p '%s/bus/pci/devices/%s%s'", dir,
             bdf, driver ? "/driver" : "");
    assert_int_equal(system(path), 0);
    snprintf(path, sizeof(path), "bus/pci/devices/%s/class", bdf);
    put_file(path, class, 0644);
    if (driver) {
        snprintf(path, sizeof(path), "bus/pci/devices/%s/driver/unbind", bdf);
        put_file(path, "", 0644);
    }
}

static const char *unbound(const char *bdf)
{
    char path[256];

    snprintf(path, sizeof(path), "%s/bus/pci/devices/%s/driver/unbind", dir,
             bdf);
    return slurp(path);
}

/* The display function and its slot siblings lose their drivers; the
 * guest's other devices keep theirs. */
static void unbind_card_functions_only(void **state)
{
    (void)state;
    fake_fn("0000:00:05.0", "0x030000\n", true);
    fake_fn("0000:00:05.1", "0x040300\n", true);
    fake_fn("0000:00:06.0", "0x020000\n", true);
    fake_fn("0000:00:07.0", "0x030000\n", false);
    assert_int_equal(xengpu_agent_unbind(dir), 2);
    assert_string_equal(unbound("0000:00:05.0"), "0000:00:05.0");
    assert_string_equal(unbound("0000:00:05.1"), "0000:00:05.1");
    assert_string_equal(unbound("0000:00:06.0"), "");
    assert_int_equal(xengpu_agent_unbind("/nonexistent"), -ENOENT);
}

static struct xs_handle *guest_store(void)
{
    struct xs_handle *xs;

    fake_xs_reset();
    fake_xs_put("/local/domain/5/data", "", "n5");
    fake_xs_as(5);
    assert_non_null(xs = xs_open(0));
    return xs;
}

static void dom0_writes(const char *path, const char *value)
{
    unsigned was = fake_xs_as(0);

    fake_xs_put(path, value, NULL);
    fake_xs_as(was);
}

/* The whole protocol: announce, answer each new request once, ignore
 * garbage, announce again when the node vanished (a restored guest),
 * withdraw on stop. */
static void protocol_on_the_store(void **state)
{
    struct xengpu_agent_cfg cfg = cfg_for_tests();
    xengpu_agent *agent = NULL;
    struct xs_handle *xs = guest_store();

    (void)state;
    cfg.base = HOME;
    hook("10-dm", "");
    assert_int_equal(xengpu_agent_start(&cfg, xs, &agent), 0);
    assert_string_equal(fake_xs_get(HOME "/agent"), "1");
    assert_int_equal(xengpu_agent_step(agent), 0); /* the watch's first */
    dom0_writes(HOME "/request", "7 release");
    assert_int_equal(xengpu_agent_step(agent), 1);
    assert_string_equal(fake_xs_get(HOME "/response"), "7 released");
    assert_int_equal(xengpu_agent_step(agent), 0); /* its own answer */
    assert_int_equal(xengpu_agent_step(agent), 0); /* nothing queued */
    dom0_writes(HOME "/request", "8 plugged");
    assert_int_equal(xengpu_agent_step(agent), 1);
    assert_string_equal(fake_xs_get(HOME "/response"), "8 done");
    dom0_writes(HOME "/request", "9 format c:");
    assert_int_equal(xengpu_agent_step(agent), 0);
    assert_string_equal(fake_xs_get(HOME "/response"), "8 done");
    dom0_writes(HOME "/request", "0 release");
    assert_int_equal(xengpu_agent_step(agent), 0);
    fake_xs_as(0);
    assert_true(xs_rm(xs, XBT_NULL, HOME "/agent"));
    fake_xs_as(5);
    assert_int_equal(xengpu_agent_step(agent), 0);
    assert_string_equal(fake_xs_get(HOME "/agent"), "1");
    assert_string_equal(slurp(logpath), "10-dm release\n10-dm plugged\n");
    xengpu_agent_stop(agent);
    assert_null(fake_xs_get(HOME "/agent"));
    xs_close(xs);
}

/* A store that refuses the announcement: no agent, the errno. */
static void start_fails_cleanly(void **state)
{
    struct xengpu_agent_cfg cfg = cfg_for_tests();
    xengpu_agent *agent = NULL;
    struct xs_handle *xs = guest_store();

    (void)state;
    cfg.base = HOME;
    fake_xs_fail_next("xs_write", EACCES);
    assert_int_equal(xengpu_agent_start(&cfg, xs, &agent), -EACCES);
    assert_null(agent);
    fake_xs_fail_next("xs_watch", ENOSPC);
    assert_int_equal(xengpu_agent_start(&cfg, xs, &agent), -ENOSPC);
    assert_null(fake_xs_get(HOME "/agent"));
    xs_close(xs);
}

/* The answers the agent writes are what dom0's parser accepts. */
static void responses_round_trip(void **state)
{
    xengpu_guest_response r;
    char buf[XENGPU_PROTO_RESPONSE_MAX + 1];
    int n;

    (void)state;
    n = xengpu_proto_format_response(42, XENGPU_GUEST_REFUSED, "busy", buf,
                                     sizeof(buf));
    assert_int_equal(xengpu_proto_parse_response(buf, (size_t)n, &r), 0);
    assert_int_equal(r.seq, 42);
    assert_string_equal(r.reason, "busy");
    assert_int_equal(xengpu_proto_format_response(1, XENGPU_GUEST_REFUSED,
                                                  " lead", buf, sizeof(buf)),
                     -EINVAL);
    assert_int_equal(xengpu_proto_format_response(0, XENGPU_GUEST_DONE, NULL,
                                                  buf, sizeof(buf)),
                     -EINVAL);
    assert_int_equal(
        xengpu_proto_format_response(1, XENGPU_GUEST_DONE, NULL, buf, 4),
        -ENOSPC);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(hooks_sorted_and_filtered, setup,
                                        teardown),
        cmocka_unit_test(reason_is_first_printable_line),
        cmocka_unit_test_setup_teardown(run_hook_outcomes, setup, teardown),
        cmocka_unit_test_setup_teardown(run_hook_deadline_and_daemons, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(release_refused_undoes, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(release_and_plugged_orders, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(unbind_card_functions_only, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(protocol_on_the_store, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(start_fails_cleanly, setup, teardown),
        cmocka_unit_test(responses_round_trip),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
