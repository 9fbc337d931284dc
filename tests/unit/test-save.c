/*
 * test-save.c - the save file's trailer (migrate/save.c): what xengpu
 * save appends after xl's stream and xengpu restore reads back, and each
 * way a file can fail to be one.  save and restore themselves run
 * against real Xen in the nested scenarios 85 and 87.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "migrate/save.h"
#include "migrate/stream.h"
#include "pciback-helper/state.h"

static void fill(xengpu_stream_hdr *h)
{
    xengpu_stream_hdr_init(h);
    snprintf(h->uuid, sizeof(h->uuid), "6f1e5b1c-8a7e-4d2b-9c3f-0a1b2c3d4e5f");
    snprintf(h->name, sizeof(h->name), "win10");
    snprintf(h->host, sizeof(h->host), "host-a");
    h->hvm = true;
    h->mmio_hole = 1024;
    h->time = 1700000000;
    h->domain_config = strdup("{\"c_info\":{}}");
    assert_int_equal(xengpu_stream_hdr_add_spec(h, "1002:5046"), 0);
}

/* A temporary file holding LEN bytes of "xl's stream". */
static int xl_file(size_t len)
{
    char path[] = "/tmp/xengpu-save-XXXXXX";
    int fd = mkstemp(path);
    size_t i;

    assert_true(fd >= 0);
    unlink(path);
    for (i = 0; i < len; i++)
        assert_int_equal(write(fd, "x", 1), 1);
    return fd;
}

static void test_round_trip(void **state)
{
    xengpu_stream_hdr h, back;
    char why[256];
    int fd = xl_file(4096);

    (void)state;
    fill(&h);
    assert_int_equal(xengpu__trailer_append(fd, &h, why, sizeof(why)), 0);
    xengpu_stream_hdr_init(&back);
    assert_int_equal(xengpu__trailer_read(fd, &back, why, sizeof(why)), 0);
    assert_string_equal(back.uuid, h.uuid);
    assert_string_equal(back.name, "win10");
    assert_true(back.hvm);
    assert_int_equal(back.mmio_hole, 1024);
    assert_int_equal(back.nspecs, 1);
    assert_string_equal(back.specs[0], "1002:5046");
    assert_string_equal(back.domain_config, h.domain_config);
    /* xl's bytes are untouched in front of it. */
    assert_int_equal(pread(fd, why, 1, 4095), 1);
    assert_int_equal(why[0], 'x');
    xengpu_stream_hdr_dispose(&back);
    xengpu_stream_hdr_dispose(&h);
    close(fd);
}

static void expect_refused(int fd, const char *needle)
{
    xengpu_stream_hdr h;
    char why[256] = "";

    xengpu_stream_hdr_init(&h);
    assert_int_equal(xengpu__trailer_read(fd, &h, why, sizeof(why)), -EINVAL);
    if (!strstr(why, needle)) fail_msg("why '%s' lacks '%s'", why, needle);
    xengpu_stream_hdr_dispose(&h);
}

static void test_refusals(void **state)
{
    static const char xl_magic[] = "Xen saved domain, xl format\n \0 \r";
    xengpu_stream_hdr h;
    char why[256], foot[16];
    off_t end;
    int fd;

    (void)state;
    /* A plain xl save file, an empty file. */
    fd = xl_file(0);
    assert_int_equal(write(fd, xl_magic, sizeof(xl_magic)), sizeof(xl_magic));
    expect_refused(fd, "not a xengpu save file (no xengpu trailer)");
    close(fd);
    fd = xl_file(0);
    expect_refused(fd, "not a xengpu save file");
    close(fd);

    /* A footer claiming more than the file, or more than 1 MiB. */
    fd = xl_file(100);
    memcpy(foot, "\xff\x00\x00\x00\x00\x00\x00\x00XGPUtail", 16);
    assert_int_equal(write(fd, foot, 16), 16);
    expect_refused(fd, "damaged xengpu trailer (length 255)");
    close(fd);
    fd = xl_file(100);
    memcpy(foot, "\x00\x00\x00\x10\x00\x00\x00\x00XGPUtail", 16);
    assert_int_equal(write(fd, foot, 16), 16);
    expect_refused(fd, "damaged xengpu trailer (length 268435456)");
    close(fd);

    /* A valid trailer with one byte of its JSON changed. */
    fd = xl_file(10);
    fill(&h);
    assert_int_equal(xengpu__trailer_append(fd, &h, why, sizeof(why)), 0);
    end = lseek(fd, 0, SEEK_END);
    assert_int_equal(pwrite(fd, "#", 1, end - 16 - 2), 1);
    expect_refused(fd, "");
    xengpu_stream_hdr_dispose(&h);
    close(fd);

    /* A header the format refuses is not written. */
    fd = xl_file(10);
    fill(&h);
    h.mmio_hole = 100;
    assert_int_equal(xengpu__trailer_append(fd, &h, why, sizeof(why)),
                     -EINVAL);
    assert_non_null(strstr(why, "mmio_hole"));
    assert_int_equal(lseek(fd, 0, SEEK_END), 10);
    xengpu_stream_hdr_dispose(&h);
    close(fd);
}

static double now(void)
{
    struct timespec t;

    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + (double)t.tv_nsec / 1e9;
}

/*
 * Two commands choosing cards take turns: the second waits until the
 * first lets go (create, restore and a migration's destination hold it
 * from looking at the host until the cards are theirs).
 */
static void test_choose_lock(void **state)
{
    char dir[] = "/tmp/xengpu-choose-XXXXXX", cmd[64];
    int fd, status;
    double t0;
    pid_t pid;

    (void)state;
    assert_non_null(mkdtemp(dir));
    fd = xengpu__choose_lock(dir, NULL);
    assert_true(fd >= 0);
    t0 = now();
    pid = fork();
    assert_true(pid >= 0);
    if (!pid) {
        int again;

        close(fd); /* the parent's: a copy would hold the lock too */
        again = xengpu__choose_lock(dir, NULL);

        /* the parent held it for 0.3 s */
        _exit(again >= 0 && now() - t0 >= 0.25 ? 0 : 1);
    }
    usleep(300000);
    xengpu__choose_unlock(fd);
    assert_int_equal(waitpid(pid, &status, 0), pid);
    assert_true(WIFEXITED(status) && WEXITSTATUS(status) == 0);
    fd = xengpu__choose_lock(dir, NULL); /* free again */
    assert_true(fd >= 0);
    xengpu__choose_unlock(fd);
    xengpu__choose_unlock(-1); /* nothing held: fine */
    snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
    assert_int_equal(system(cmd), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_round_trip),
        cmocka_unit_test(test_refusals),
        cmocka_unit_test(test_choose_lock),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
