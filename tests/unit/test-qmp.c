/*
 * test-qmp.c - which slots a device model holds: the parse of QEMU's
 * query-pci reply, and the conversation with a fake QMP server on a
 * socket in a temporary directory (a greeting, an event in between, an
 * error, silence).  Against real QEMU: nested scenario 56-hvm-one-slot.
 */
#include <errno.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

#include "capture-log.h"
#include "toolstack/qmp.h"

/* Shaped as QEMU 7.2 answers for a Xen HVM guest (fields trimmed). */
#define REPLY                                                            \
    "{\"return\": [{\"bus\": 0, \"devices\": ["                          \
    "{\"bus\": 0, \"slot\": 0, \"function\": 0, \"class_info\": "        \
    "{\"class\": 1536, \"desc\": \"Host bridge\"}, \"regions\": []}, "   \
    "{\"bus\": 0, \"slot\": 1, \"function\": 1, \"class_info\": "        \
    "{\"class\": 257}, \"regions\": [{\"bar\": 4, \"type\": \"io\"}]}, " \
    "{\"bus\": 0, \"slot\": 2, \"function\": 0, \"qdev_id\": \"\"}, "    \
    "{\"bus\": 0, \"slot\": 5, \"function\": 1, "                        \
    "\"qdev_id\": \"pci-pt-01_00.1\"}]}, "                               \
    "{\"bus\": 1, \"devices\": [{\"bus\": 1, \"slot\": 9, "              \
    "\"function\": 0}]}]}"

static uint32_t parse(const char *s, int *r)
{
    uint32_t used = 0xdeadbeef;

    *r = xengpu__qmp_parse_slots(s, strlen(s), &used);
    return used;
}

static void parse_reply(void **state)
{
    int r;

    (void)state;
    /* slots 0, 1, 2 and 5 of bus 0; bus 1's slot 9 is not bus 0's */
    assert_int_equal(parse(REPLY, &r), 0x27);
    assert_int_equal(r, 0);
    assert_int_equal(parse("{\"return\": []}", &r), 0);
    assert_int_equal(r, 0);
}

static void parse_refusals(void **state)
{
    static const char *const bad[] = {
        "",
        "{}",
        "{\"error\": {\"class\": \"GenericError\", \"desc\": \"no\"}}",
        "{\"return\": {}}",
        "{\"return\": [{\"bus\": 0}]}",
        "{\"return\": [{\"bus\": \"0\", \"devices\": []}]}",
        "{\"return\": [{\"bus\": 0, \"devices\": [{\"slot\": 32}]}]}",
        "{\"return\": [{\"bus\": 0, \"devices\": [{\"slot\": -1}]}]}",
        "{\"return\": [{\"bus\": 0, \"devices\": [{\"slot\": 1.5}]}]}",
        "{\"return\": [{\"bus\": 0, \"devices\": [{}]}]}",
        "{\"return\": [{\"bus\": 0, \"devices\": [{\"slot\": 3}",
        "[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]"
        "]]]]]]]",
    };
    uint32_t used = 7;
    size_t i;
    int r;

    (void)state;
    for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        parse(bad[i], &r);
        assert_int_equal(r, -EINVAL);
    }
    /* a NUL inside, and more than the limit: refused before yajl */
    assert_int_equal(xengpu__qmp_parse_slots("{\"return\": []}\0x", 16, &used),
                     -EINVAL);
    assert_int_equal(
        xengpu__qmp_parse_slots(REPLY, XENGPU_QMP_MAX_REPLY + 1, &used),
        -EINVAL);
    assert_int_equal(used, 7); /* untouched */
}

/* --- a fake QMP server ------------------------------------------------- */

static char dir[64];

enum script { GOOD, WITH_EVENT, ERROR_REPLY, SILENT, GARBAGE };

static void serve(int lfd, enum script how)
{
    char buf[512];
    int fd = accept(lfd, NULL, NULL);

    if (fd < 0) _exit(1);
    if (how == SILENT) {
        sleep(5);
        _exit(0);
    }
    dprintf(fd, "{\"QMP\": {\"version\": {}, \"capabilities\": []}}\r\n");
    if (read(fd, buf, sizeof(buf)) <= 0) _exit(1);
    if (!strstr(buf, "qmp_capabilities")) _exit(1);
    dprintf(fd, "{\"return\": {}}\r\n");
    if (read(fd, buf, sizeof(buf)) <= 0) _exit(1);
    if (!strstr(buf, "query-pci")) _exit(1);
    if (how == WITH_EVENT)
        dprintf(fd, "{\"timestamp\": {\"seconds\": 1}, \"event\": "
                    "\"RESUME\"}\r\n");
    if (how == ERROR_REPLY)
        dprintf(fd, "{\"error\": {\"class\": \"CommandNotFound\"}}\r\n");
    else if (how == GARBAGE)
        dprintf(fd, "\x1b[2J not json\r\n");
    else
        dprintf(fd, "%s\r\n", REPLY);
    _exit(0);
}

static pid_t server(uint32_t domid, enum script how)
{
    struct sockaddr_un sa = { .sun_family = AF_UNIX };
    pid_t pid;
    int lfd;

    snprintf(sa.sun_path, sizeof(sa.sun_path), "%s/qmp-libxl-%u", dir, domid);
    unlink(sa.sun_path);
    lfd = socket(AF_UNIX, SOCK_STREAM, 0);
    assert_true(lfd >= 0);
    assert_int_equal(bind(lfd, (struct sockaddr *)&sa, sizeof(sa)), 0);
    assert_int_equal(listen(lfd, 1), 0);
    pid = fork();
    assert_true(pid >= 0);
    if (!pid) serve(lfd, how);
    close(lfd);
    return pid;
}

static int setup(void **state)
{
    (void)state;
    snprintf(dir, sizeof(dir), "/tmp/xengpu-qmp-XXXXXX");
    return mkdtemp(dir) ? 0 : -1;
}

static int teardown(void **state)
{
    char cmd[128];

    (void)state;
    snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
    return system(cmd) ? -1 : 0;
}

static int ask(uint32_t domid, enum script how, int timeout_ms, uint32_t *used,
               struct capture_log *lg)
{
    pid_t pid = server(domid, how);
    int r = xengpu__qmp_used_slots(&lg->vtable, XTL_WARN, dir, domid,
                                   timeout_ms, used);

    kill(pid, SIGKILL);
    waitpid(pid, NULL, 0);
    return r;
}

static void asks_the_device_model(void **state)
{
    struct capture_log lg;
    uint32_t used = 0;

    (void)state;
    capture_log_init(&lg);
    assert_int_equal(ask(7, GOOD, 5000, &used, &lg), 0);
    assert_int_equal(used, 0x27);
    used = 0;
    assert_int_equal(ask(8, WITH_EVENT, 5000, &used, &lg), 0);
    assert_int_equal(used, 0x27);
    capture_log_dispose(&lg);
}

static void failures_are_named(void **state)
{
    struct capture_log lg;
    uint32_t used = 3;

    (void)state;
    capture_log_init(&lg);
    assert_int_equal(ask(9, ERROR_REPLY, 5000, &used, &lg), -EPROTO);
    assert_true(capture_log_has(&lg, "domain 9's device model"));
    assert_int_equal(ask(10, GARBAGE, 5000, &used, &lg), -EPROTO);
    assert_int_equal(ask(11, SILENT, 300, &used, &lg), -ETIMEDOUT);
    assert_true(capture_log_has(&lg, "qmp-libxl-11"));
    /* no socket: a device model in a stub domain, or none */
    assert_int_equal(
        xengpu__qmp_used_slots(&lg.vtable, XTL_WARN, dir, 12, 300, &used),
        -ENOENT);
    assert_int_equal(used, 3);
    capture_log_dispose(&lg);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(parse_reply),
        cmocka_unit_test(parse_refusals),
        cmocka_unit_test_setup_teardown(asks_the_device_model, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(failures_are_named, setup, teardown),
    };

    signal(SIGPIPE, SIG_IGN);
    return cmocka_run_group_tests(tests, NULL, NULL);
}
