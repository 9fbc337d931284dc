/*
 * test-snapshot.c - `xengpu snapshot DIR`: a snapshot of a fake tree of
 * real cards reads back (`list --json`, `show --json`) exactly as the
 * tree itself, from anywhere it is moved to; DIR must be new or empty;
 * broken and hostile trees (symlink loops, FIFOs, paths that climb out)
 * cost warnings, never a hang or a file outside DIR.  The real cards are
 * those of realcards.c, each citing its file in /work/shared/realworld/.
 */
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <limits.h>
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
#include "pciback-helper/host.h"
#include "pciback-helper/snapshot.h"
#include "realcards.h"
#include "toolstack/cli.h"

/* A hang is the failure mode under test: die loudly instead. */
#define TEST_TIMEOUT 60

struct ctx {
    struct fake_sysfs *fs;
    char *snap; /* the snapshot directory */
    char tmp[64];
    struct capture_log log;
};

static int setup(void **state)
{
    struct ctx *c = calloc(1, sizeof(*c));

    assert_non_null(c);
    c->fs = fake_sysfs_new();
    strcpy(c->tmp, "/tmp/xengpu-snapshot-XXXXXX");
    assert_non_null(mkdtemp(c->tmp));
    assert_true(asprintf(&c->snap, "%s/snap", c->tmp) > 0);
    capture_log_init(&c->log);
    alarm(TEST_TIMEOUT);
    *state = c;
    return 0;
}

static int teardown(void **state)
{
    struct ctx *c = *state;

    alarm(0);
    fake_rmtree(c->tmp);
    capture_log_dispose(&c->log);
    fake_sysfs_free(c->fs);
    free(c->snap);
    free(c);
    return 0;
}

/* `xengpu --sysfs-root ROOT ARGS...` (NULL-terminated); stdout in *out. */
static int xengpu(const char *root, char **out, ...)
{
    char *argv[16] = { "xengpu", "--sysfs-root", (char *)root };
    char *err = NULL;
    size_t outlen, errlen;
    FILE *o, *e;
    int argc = 3, status;
    va_list ap;

    va_start(ap, out);
    while ((argv[argc] = va_arg(ap, char *)))
        argc++;
    va_end(ap);
    o = open_memstream(out, &outlen);
    e = open_memstream(&err, &errlen);
    assert_non_null(o);
    assert_non_null(e);
    status = xengpu_cli(argc, argv, o, e);
    fclose(o);
    fclose(e);
    if (status) fprintf(stderr, "xengpu said: %s", err);
    free(err);
    return status;
}

static int take(struct ctx *c, xengpu_snapshot_info *info)
{
    return xengpu_snapshot_take(c->fs->fd, c->snap, &c->log.vtable, info);
}

/* `list --json` (and show --json of every card) of A and B are equal. */
static void assert_same_inventory(const char *a, const char *b)
{
    char *ja = NULL, *jb = NULL;

    assert_int_equal(xengpu(a, &ja, "list", "--json", NULL), 0);
    assert_int_equal(xengpu(b, &jb, "list", "--json", NULL), 0);
    assert_string_equal(ja, jb);
    free(ja);
    free(jb);
    assert_int_equal(xengpu(a, &ja, "list", NULL), 0);
    assert_int_equal(xengpu(b, &jb, "list", NULL), 0);
    assert_string_equal(ja, jb);
    free(ja);
    free(jb);
}

static size_t count_cards(const char *root)
{
    xengpu_host *host = NULL;
    struct capture_log lg;
    size_t n;
    int fd;

    capture_log_init(&lg);
    fd = open(root, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    assert_true(fd >= 0);
    assert_int_equal(xengpu_host_discover(fd, &lg.vtable, &host), 0);
    n = xengpu_host_ncards(host);
    xengpu_host_free(host);
    capture_log_dispose(&lg);
    close(fd);
    return n;
}

static void rtx2080ti(struct fake_sysfs *fs)
{
    rc_rtx2080ti(fs, RC_ACS_ON);
}
static void a6000(struct fake_sysfs *fs)
{
    rc_a6000(fs, true);
}
static void h100_vfs(struct fake_sysfs *fs)
{
    rc_h100(fs, 2);
}
static void b550_and_more(struct fake_sysfs *fs)
{
    rc_b550(fs);
    rc_h100(fs, 1);
    rc_rtx3090_domain2(fs);
}

static void (*const hosts[])(struct fake_sysfs *) = {
    rtx2080ti, a6000,   rc_dell_p100,  rc_rtx3090_domain2, h100_vfs,
    rc_b550,   rc_z370, rc_k520_guest, rc_vega56_dead,     b550_and_more,
};

static void roundtrip(struct ctx *c, void (*build)(struct fake_sysfs *))
{
    xengpu_snapshot_info info;
    char *again = NULL, *out = NULL;

    build(c->fs);
    assert_true(count_cards(c->fs->root) > 0);
    assert_int_equal(take(c, &info), 0);
    assert_int_equal(info.skipped, 0);
    assert_int_equal(info.attr_errors, 0);
    assert_int_equal(info.cfg_short, 0);
    assert_int_equal(info.copied, c->fs->nnodes);
    assert_same_inventory(c->fs->root, c->snap);

    /* A snapshot of the snapshot is the same host again. */
    assert_true(asprintf(&again, "%s/again", c->tmp) > 0);
    assert_int_equal(xengpu(c->snap, &out, "snapshot", again, NULL), 0);
    free(out);
    assert_same_inventory(c->fs->root, again);
    free(again);
}

static void test_realcards(void **state)
{
    struct ctx *c = *state;
    size_t i;

    for (i = 0; i < sizeof(hosts) / sizeof(hosts[0]); i++) {
        if (i) {
            teardown(state);
            setup(state);
            c = *state;
        }
        roundtrip(c, hosts[i]);
    }
}

/* The snapshot's links are relative: it reads the same after a move. */
static void test_moved(void **state)
{
    struct ctx *c = *state;
    char *moved = NULL, *out = NULL, link[PATH_MAX];
    ssize_t n;

    rc_b550(c->fs);
    assert_int_equal(take(c, NULL), 0);
    assert_true(asprintf(&moved, "%s/moved", c->tmp) > 0);
    assert_int_equal(rename(c->snap, moved), 0);
    assert_same_inventory(c->fs->root, moved);
    free(moved);
    assert_int_equal(
        xengpu(c->fs->root, &out, "show", "--json", "08:00", NULL), 0);
    free(out);

    assert_true(asprintf(&moved, "%s/moved/%s/driver", c->tmp,
                         fake_sysfs_devdir(c->fs, "0000:08:00.0")) > 0);
    n = readlink(moved, link, sizeof(link) - 1);
    assert_true(n > 0);
    link[n] = '\0';
    assert_string_equal(link, "../../../../../../bus/pci/drivers/amdgpu");
    free(moved);
}

/* VF links point at the PF's directory, as the kernel's do. */
static void test_physfn(void **state)
{
    struct ctx *c = *state;
    char *path = NULL, link[PATH_MAX];
    ssize_t n;

    rc_h100(c->fs, 2);
    assert_int_equal(take(c, NULL), 0);
    assert_true(asprintf(&path, "%s/bus/pci/devices/0000:e1:00.5/physfn",
                         c->snap) > 0);
    n = readlink(path, link, sizeof(link) - 1);
    assert_true(n > 0);
    link[n] = '\0';
    assert_string_equal(link, "../0000:e1:00.0");
    free(path);
}

/* Physical slots (lspci's "Physical Slot") come along; bad ones do not. */
static void test_slots(void **state)
{
    struct ctx *c = *state;
    xengpu_snapshot_info info;
    char *path = NULL, buf[64];
    ssize_t n;
    int fd;

    rc_a6000(c->fs, false);
    fake_sysfs_write(c->fs, "bus/pci/slots/3/address", "0000:01:00\n");
    fake_sysfs_symlink(c->fs, "bus/pci/slots/4", "4");
    assert_int_equal(take(c, &info), 0);
    assert_int_equal(info.attr_errors, 1);
    assert_true(capture_log_has(&c->log, "slot 4 not copied"));
    assert_true(asprintf(&path, "%s/bus/pci/slots/3/address", c->snap) > 0);
    fd = open(path, O_RDONLY | O_CLOEXEC);
    assert_true(fd >= 0);
    n = read(fd, buf, sizeof(buf) - 1);
    close(fd);
    assert_int_equal(n, 11);
    buf[n] = '\0';
    assert_string_equal(buf, "0000:01:00\n");
    free(path);
}

static void test_note_and_cli(void **state)
{
    struct ctx *c = *state;
    char *out = NULL, *path = NULL, buf[4096];
    ssize_t n;
    int fd;

    rc_z370(c->fs);
    assert_int_equal(xengpu(c->fs->root, &out, "snapshot", c->snap, NULL), 0);
    assert_non_null(strstr(out, "snapshot of 4 PCI functions written to"));
    free(out);
    assert_true(asprintf(&path, "%s/%s", c->snap, XENGPU_SNAPSHOT_NOTE) > 0);
    fd = open(path, O_RDONLY | O_CLOEXEC);
    assert_true(fd >= 0);
    n = read(fd, buf, sizeof(buf) - 1);
    close(fd);
    assert_true(n > 0);
    buf[n] = '\0';
    assert_non_null(strstr(buf, "functions: 4 copied, 0 left out"));
    assert_non_null(strstr(buf, "config space: as much as the kernel"));
    free(path);

    out = NULL;
    assert_int_equal(xengpu(c->fs->root, &out, "snapshot", "--help", NULL), 0);
    assert_non_null(strstr(out, "usage: xengpu snapshot DIR"));
    free(out);
    assert_int_equal(xengpu(c->fs->root, &out, "snapshot", NULL), 2);
    free(out);
    assert_int_equal(xengpu(c->fs->root, &out, "snapshot", "a", "b", NULL), 2);
    free(out);
    assert_int_equal(
        xengpu(c->fs->root, &out, "snapshot", "--json", c->tmp, NULL), 2);
    free(out);
}

static void test_destination(void **state)
{
    struct ctx *c = *state;
    char *file = NULL, *out = NULL;
    int fd;

    rc_z370(c->fs);
    /* An empty directory is fine, and is then not empty any more. */
    assert_int_equal(mkdir(c->snap, 0755), 0);
    assert_int_equal(take(c, NULL), 0);
    assert_int_equal(take(c, NULL), -ENOTEMPTY);
    assert_true(capture_log_has(&c->log, "is not empty; give a new or empty "
                                         "directory"));
    assert_int_equal(xengpu(c->fs->root, &out, "snapshot", c->snap, NULL), 1);
    free(out);

    assert_true(asprintf(&file, "%s/file", c->tmp) > 0);
    fd = open(file, O_WRONLY | O_CREAT | O_CLOEXEC, 0644);
    assert_true(fd >= 0);
    close(fd);
    assert_int_equal(
        xengpu_snapshot_take(c->fs->fd, file, &c->log.vtable, NULL), -ENOTDIR);
    free(file);
    assert_true(asprintf(&file, "%s/no/such/dir", c->tmp) > 0);
    assert_int_equal(
        xengpu_snapshot_take(c->fs->fd, file, &c->log.vtable, NULL), -ENOENT);
    free(file);
}

static void fifo(struct fake_sysfs *fs, const char *dir, const char *name)
{
    char *path = NULL;

    assert_true(asprintf(&path, "%s/%s", dir, name) > 0);
    assert_int_equal(unlinkat(fs->fd, path, 0) == 0 || errno == ENOENT, 1);
    assert_int_equal(mkfifoat(fs->fd, path, 0644), 0);
    free(path);
}

static void relink(struct fake_sysfs *fs, const char *path, const char *target)
{
    unlinkat(fs->fd, path, 0);
    fake_sysfs_symlink(fs, path, target);
}

/*
 * Symlink loops where directories and files belong, FIFOs where
 * attributes belong, links that climb out of the tree or name no PCI
 * address: each is left out with a warning, and the snapshot still reads
 * the same as the tree.
 */
static void build_bad_tree(struct fake_sysfs *fs)
{
    const char *gpu, *aud;

    rc_a6000(fs, true);
    gpu = fake_sysfs_devdir(fs, "0000:01:00.0");
    aud = fake_sysfs_devdir(fs, "0000:01:00.1");
    fifo(fs, gpu, "config");
    fifo(fs, aud, "vendor");
    fifo(fs, aud, "irq");
    relink(fs, "devices/pci0000:00/0000:00:01.0/resource", "resource");
    relink(fs, "devices/pci0000:00/0000:00:01.0/numa_node", "../numa_node");
    fake_sysfs_symlink(fs, "bus/pci/devices/0000:00:1f.0", "0000:00:1f.0");
    fake_sysfs_symlink(fs, "bus/pci/devices/0000:00:1f.1",
                       "../../../devices/pci0000:00/0000:00:1f.1");
    fake_sysfs_symlink(fs, "devices/pci0000:00/0000:00:1f.1", "0000:00:1f.1");
    fake_sysfs_symlink(fs, "bus/pci/devices/0000:00:1f.2",
                       "../../../devices/pci0000:00/../../../../etc/"
                       "0000:00:1f.2");
    fake_sysfs_symlink(fs, "bus/pci/devices/0000:00:1f.3",
                       "../../../devices/0000:00:1f.3");
    fake_sysfs_symlink(fs, "bus/pci/devices/0000:00:1f.4",
                       "../../../devices/pci0000:00/config/0000:00:1f.4");
    fake_sysfs_symlink(fs, "bus/pci/devices/not-a-bdf",
                       "../../../devices/pci0000:00/not-a-bdf");
    fake_sysfs_write(fs, "bus/pci/devices/0000:00:1f.5", "a file\n");
}

static void test_bad_tree(void **state)
{
    struct ctx *c = *state;
    xengpu_snapshot_info info;

    build_bad_tree(c->fs);
    assert_int_equal(take(c, &info), 0);
    /* 01:00.0, 01:00.1 and the root port are copied, 7 entries are not. */
    assert_int_equal(info.copied, 3);
    assert_int_equal(info.skipped, 7);
    assert_int_equal(info.attr_errors, 5);
    assert_true(capture_log_has(&c->log, "0000:01:00.0: config not copied"));
    assert_true(capture_log_has(&c->log, "0000:00:01.0: resource not copied"));
    assert_true(capture_log_has(&c->log, "leaving out bus/pci/devices/"
                                         "0000:00:1f.2"));
    assert_true(capture_log_has(&c->log, "leaving out 0000:00:1f.1"));
    assert_int_equal(access("/etc/0000:00:1f.2", F_OK), -1);
    assert_same_inventory(c->fs->root, c->snap);
}

int main(void)
{
#define T(f) cmocka_unit_test_setup_teardown(f, setup, teardown)
    const struct CMUnitTest tests[] = {
        T(test_realcards), T(test_moved),        T(test_physfn),
        T(test_slots),     T(test_note_and_cli), T(test_destination),
        T(test_bad_tree),
    };
#undef T

    return cmocka_run_group_tests_name("snapshot", tests, NULL, NULL);
}
