/*
 * test-fakexs.c - the in-memory xenstore of fake-xs.c behaves as
 * xenstored and libxenstore of Xen 4.17 do, so that tests built on it
 * prove something about the real store: permissions and ownership,
 * quotas and limits, transactions, watches and their fd, failure
 * injection and the guest hook.
 */
#include <errno.h>
#include <poll.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <xenstore.h>

#include "fake-xs.h"

/* --- helpers ---------------------------------------------------------- */

static int setup(void **st)
{
    fake_xs_reset();
    *st = xs_open(0);
    return *st ? 0 : -1;
}

static int teardown(void **st)
{
    xs_close(*st);
    fake_xs_reset();
    return 0;
}

static bool readable(struct xs_handle *h, int timeout_ms)
{
    struct pollfd p = { .fd = xs_fileno(h), .events = POLLIN };

    return poll(&p, 1, timeout_ms) == 1 && (p.revents & POLLIN);
}

static void expect_event(struct xs_handle *h, const char *path,
                         const char *token)
{
    char **v = xs_check_watch(h);

    assert_non_null(v);
    assert_string_equal(v[XS_WATCH_PATH], path);
    assert_string_equal(v[XS_WATCH_TOKEN], token);
    free(v);
}

static void expect_no_event(struct xs_handle *h)
{
    assert_false(readable(h, 0));
    assert_null(xs_check_watch(h));
    assert_int_equal(errno, EAGAIN);
}

static void drain(struct xs_handle *h)
{
    char **v;

    while ((v = xs_check_watch(h)))
        free(v);
}

static bool put_str(struct xs_handle *h, xs_transaction_t t, const char *path,
                    const char *v)
{
    return xs_write(h, t, path, v, strlen(v));
}

/* PREFIX then 'a's, LEN characters in all. */
static char *long_path(const char *prefix, size_t len)
{
    char *p = malloc(len + 1);
    size_t n = strlen(prefix);

    assert_non_null(p);
    memcpy(p, prefix, n);
    memset(p + n, 'a', len - n);
    p[len] = '\0';
    return p;
}

/* --- the tree --------------------------------------------------------- */

static void write_creates_parents_inheriting_perms(void **st)
{
    struct xs_handle *h = *st;

    fake_xs_put("/local/domain/5", NULL, "n0,r5");
    assert_int_equal(fake_xs_count(), 4);
    assert_string_equal(fake_xs_perms("/local"), "n0");
    assert_true(put_str(h, XBT_NULL, "/local/domain/5/data/xengpu", "1"));
    assert_int_equal(fake_xs_count(), 6);
    assert_string_equal(fake_xs_get("/local/domain/5/data"), "");
    assert_string_equal(fake_xs_perms("/local/domain/5/data"), "n0,r5");
    assert_string_equal(fake_xs_get("/local/domain/5/data/xengpu"), "1");
    assert_string_equal(fake_xs_perms("/local/domain/5/data/xengpu"), "n0,r5");
    /* rewriting keeps the permissions */
    fake_xs_put("/local/domain/5/data/xengpu", NULL, "n0,b5");
    assert_true(put_str(h, XBT_NULL, "/local/domain/5/data/xengpu", "2"));
    assert_string_equal(fake_xs_perms("/local/domain/5/data/xengpu"), "n0,b5");
    assert_string_equal(fake_xs_get("/local/domain/5/data/xengpu"), "2");
}

static void guest_owns_what_it_creates(void **st)
{
    struct xs_handle *h = *st;

    fake_xs_put("/local/domain/5", NULL, "n0,b5");
    assert_int_equal(fake_xs_as(5), 0);
    assert_true(put_str(h, XBT_NULL, "/local/domain/5/data/x", "y"));
    assert_int_equal(fake_xs_as(0), 5);
    assert_string_equal(fake_xs_perms("/local/domain/5/data"), "n5,b5");
    assert_string_equal(fake_xs_perms("/local/domain/5/data/x"), "n5,b5");
    assert_string_equal(fake_xs_perms("/local/domain/5"), "n0,b5");
    assert_int_equal(fake_xs_count_owned(5), 2);
    /* dom0 writing below the guest's node: inherited, still the guest's */
    assert_true(put_str(h, XBT_NULL, "/local/domain/5/data/x/z", ""));
    assert_string_equal(fake_xs_perms("/local/domain/5/data/x/z"), "n5,b5");
    assert_int_equal(fake_xs_count_owned(5), 3);
}

static void guest_needs_permission(void **st)
{
    struct xs_handle *h = *st;
    struct xs_permissions mine[2] = { { 5, XS_PERM_NONE },
                                      { 7, XS_PERM_READ } };
    struct xs_permissions away[1] = { { 7, XS_PERM_NONE } };
    struct xs_permissions many[6] = { { 5, XS_PERM_NONE } };
    unsigned len, num;
    char *v;

    fake_xs_put("/secret", "s", "n0");
    fake_xs_put("/pub", "p", "n0,r5");
    fake_xs_put("/shared", "", "n0,b5");
    fake_xs_as(5);
    assert_null(xs_read(h, XBT_NULL, "/secret", &len));
    assert_int_equal(errno, EACCES);
    v = xs_read(h, XBT_NULL, "/pub", &len);
    assert_non_null(v);
    assert_string_equal(v, "p");
    free(v);
    assert_false(put_str(h, XBT_NULL, "/pub", "x"));
    assert_int_equal(errno, EACCES);
    assert_false(put_str(h, XBT_NULL, "/pub/new", "x")); /* parent r only */
    assert_int_equal(errno, EACCES);
    assert_false(xs_mkdir(h, XBT_NULL, "/pub"));
    assert_int_equal(errno, EACCES);
    assert_false(xs_rm(h, XBT_NULL, "/pub"));
    assert_int_equal(errno, EACCES);
    /* what lies below an unreadable node is not even said to be missing */
    assert_null(xs_read(h, XBT_NULL, "/secret/missing", &len));
    assert_int_equal(errno, EACCES);
    assert_null(xs_read(h, XBT_NULL, "/pub/missing", &len));
    assert_int_equal(errno, ENOENT);
    assert_null(xs_directory(h, XBT_NULL, "/secret", &num));
    assert_int_equal(errno, EACCES);
    assert_null(xs_get_permissions(h, XBT_NULL, "/secret", &num));
    assert_int_equal(errno, EACCES);
    assert_true(put_str(h, XBT_NULL, "/shared/a", "1"));
    /* only the owner sets permissions, and may not give the node away */
    assert_false(xs_set_permissions(h, XBT_NULL, "/shared", mine, 2));
    assert_int_equal(errno, EACCES);
    assert_true(xs_set_permissions(h, XBT_NULL, "/shared/a", mine, 2));
    assert_false(xs_set_permissions(h, XBT_NULL, "/shared/a", away, 1));
    assert_int_equal(errno, EPERM);
    assert_false(xs_set_permissions(h, XBT_NULL, "/shared/a", many, 6));
    assert_int_equal(errno, ENOSPC);
    /* "n5": others get nothing, the owner everything */
    assert_true(put_str(h, XBT_NULL, "/shared/a", "2"));
    fake_xs_as(7);
    assert_false(put_str(h, XBT_NULL, "/shared/a", "3"));
    assert_int_equal(errno, EACCES);
    v = xs_read(h, XBT_NULL, "/shared/a", &len);
    assert_string_equal(v, "2");
    free(v);
    fake_xs_as(0);
    assert_string_equal(fake_xs_perms("/shared/a"), "n5,r7");
    v = xs_read(h, XBT_NULL, "/secret", &len);
    assert_string_equal(v, "s");
    free(v);
    assert_true(xs_set_permissions(h, XBT_NULL, "/shared/a", away, 1));
    assert_string_equal(fake_xs_perms("/shared/a"), "n7");
}

static void guest_quota(void **st)
{
    struct xs_handle *h = *st;
    char path[32];
    int i;

    fake_xs_put("/local/domain/5", NULL, "n0,b5");
    fake_xs_set_quota(3);
    fake_xs_as(5);
    assert_true(put_str(h, XBT_NULL, "/local/domain/5/a", ""));
    assert_true(put_str(h, XBT_NULL, "/local/domain/5/b", ""));
    /* two more nodes would be four: neither is left behind */
    assert_false(put_str(h, XBT_NULL, "/local/domain/5/c/d", ""));
    assert_int_equal(errno, ENOSPC);
    assert_null(fake_xs_get("/local/domain/5/c"));
    assert_true(put_str(h, XBT_NULL, "/local/domain/5/c", ""));
    assert_false(xs_mkdir(h, XBT_NULL, "/local/domain/5/e"));
    assert_int_equal(errno, ENOSPC);
    assert_true(put_str(h, XBT_NULL, "/local/domain/5/a", "rewritten"));
    fake_xs_as(0);
    assert_int_equal(fake_xs_count_owned(5), 3);
    /* dom0 has no quota */
    for (i = 0; i < 5; i++) {
        snprintf(path, sizeof(path), "/tool/n%d", i);
        assert_true(put_str(h, XBT_NULL, path, ""));
    }
    assert_int_equal(fake_xs_count_owned(0), fake_xs_count() - 3);
}

static void request_too_big(void **st)
{
    struct xs_handle *h = *st;
    char *v = malloc(5000);
    char *r;
    unsigned len;

    memset(v, 'x', 5000);
    /* "/big", its NUL and the value fit in 4096 bytes */
    assert_true(xs_write(h, XBT_NULL, "/big", v, 4096 - 5));
    assert_false(xs_write(h, XBT_NULL, "/big", v, 4096 - 4));
    assert_int_equal(errno, E2BIG);
    assert_false(xs_write(h, XBT_NULL, "/big2", v, 4097));
    assert_int_equal(errno, E2BIG);
    assert_null(fake_xs_get("/big2"));
    r = xs_read(h, XBT_NULL, "/big", &len);
    assert_int_equal(len, 4091);
    free(r);
    free(v);
}

static void invalid_paths(void **st)
{
    /* relative paths ("a") are not modelled: refused too */
    static const char *const bad[] = {
        "",      "a",    "local/domain", "/a/",  "//a",
        "/a//b", "/a b", "/a.b",         "/a\n", "/\xc3\xa9",
    };
    struct xs_handle *h = *st;
    unsigned len, num;
    size_t i;
    char *p;

    for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        assert_null(xs_read(h, XBT_NULL, bad[i], &len));
        assert_int_equal(errno, EINVAL);
        assert_false(put_str(h, XBT_NULL, bad[i], "v"));
        assert_int_equal(errno, EINVAL);
        assert_false(xs_mkdir(h, XBT_NULL, bad[i]));
        assert_int_equal(errno, EINVAL);
        assert_false(xs_rm(h, XBT_NULL, bad[i]));
        assert_int_equal(errno, EINVAL);
        assert_null(xs_directory(h, XBT_NULL, bad[i], &num));
        assert_int_equal(errno, EINVAL);
        assert_false(xs_watch(h, bad[i], "t"));
        assert_int_equal(errno, EINVAL);
    }
    assert_int_equal(fake_xs_count(), 1);
    /* 2048 characters, counted past a domain's home "/local/domain/N/" */
    p = long_path("/", 2048);
    assert_true(xs_mkdir(h, XBT_NULL, p));
    free(p);
    p = long_path("/", 2049);
    assert_false(xs_mkdir(h, XBT_NULL, p));
    assert_int_equal(errno, EINVAL);
    free(p);
    p = long_path("/local/domain/5/", 16 + 2048);
    assert_true(xs_mkdir(h, XBT_NULL, p));
    free(p);
    p = long_path("/local/domain/5/", 3073);
    assert_false(xs_mkdir(h, XBT_NULL, p));
    assert_int_equal(errno, EINVAL);
    free(p);
    /* past the request size the library refuses it first */
    p = long_path("/", 5000);
    assert_false(xs_mkdir(h, XBT_NULL, p));
    assert_int_equal(errno, E2BIG);
    free(p);
}

static void missing_nodes(void **st)
{
    struct xs_handle *h = *st;
    struct xs_permissions p = { 0, XS_PERM_READ };
    unsigned len, num;

    fake_xs_put("/a", "1", NULL);
    assert_null(xs_read(h, XBT_NULL, "/a/b", &len));
    assert_int_equal(errno, ENOENT);
    assert_null(xs_directory(h, XBT_NULL, "/nope", &num));
    assert_int_equal(errno, ENOENT);
    assert_null(xs_get_permissions(h, XBT_NULL, "/nope", &num));
    assert_int_equal(errno, ENOENT);
    assert_false(xs_set_permissions(h, XBT_NULL, "/nope", &p, 1));
    assert_int_equal(errno, ENOENT);
    /* xenstored: removing what is not there is fine if its parent is */
    assert_true(xs_rm(h, XBT_NULL, "/a/b"));
    assert_false(xs_rm(h, XBT_NULL, "/nope/x"));
    assert_int_equal(errno, ENOENT);
    assert_int_equal(fake_xs_count(), 2);
}

static void rm_removes_subtree(void **st)
{
    struct xs_handle *h = *st;
    unsigned len;

    fake_xs_put("/a/b/c", "1", NULL);
    fake_xs_put("/a/d", "2", NULL);
    fake_xs_put("/e", "3", NULL);
    assert_int_equal(fake_xs_count(), 6);
    assert_true(xs_rm(h, XBT_NULL, "/a"));
    assert_int_equal(fake_xs_count(), 2);
    assert_null(fake_xs_get("/a/b/c"));
    assert_null(xs_read(h, XBT_NULL, "/a/b", &len));
    assert_int_equal(errno, ENOENT);
    assert_string_equal(fake_xs_get("/e"), "3");
    assert_false(xs_rm(h, XBT_NULL, "/"));
    assert_int_equal(errno, EINVAL);
    assert_int_equal(fake_xs_count(), 2);
}

static void directory_lists_children(void **st)
{
    struct xs_handle *h = *st;
    unsigned num = 99;
    char **names;

    fake_xs_put("/d/zeta", "", NULL);
    fake_xs_put("/d/alpha/deep", "", NULL);
    fake_xs_put("/d/mid", "", NULL);
    names = xs_directory(h, XBT_NULL, "/d", &num);
    assert_non_null(names);
    assert_int_equal(num, 3);
    assert_string_equal(names[0], "zeta"); /* in creation order */
    assert_string_equal(names[1], "alpha");
    assert_string_equal(names[2], "mid");
    free(names); /* one block, as the real library's */
    assert_true(xs_rm(h, XBT_NULL, "/d/alpha"));
    names = xs_directory(h, XBT_NULL, "/d", &num);
    assert_int_equal(num, 2);
    assert_string_equal(names[1], "mid");
    free(names);
    names = xs_directory(h, XBT_NULL, "/d/zeta", &num);
    assert_non_null(names);
    assert_int_equal(num, 0);
    free(names);
}

static void read_returns_a_copy(void **st)
{
    struct xs_handle *h = *st;
    unsigned len = 99;
    char *v;

    assert_true(xs_write(h, XBT_NULL, "/bin", "a\0b", 3));
    v = xs_read(h, XBT_NULL, "/bin", &len);
    assert_int_equal(len, 3);
    assert_memory_equal(v, "a\0b", 4); /* NUL-terminated after len */
    v[0] = 'X';
    free(v);
    assert_string_equal(fake_xs_get("/bin"), "a");
    assert_true(xs_write(h, XBT_NULL, "/empty", NULL, 0));
    v = xs_read(h, XBT_NULL, "/empty", &len);
    assert_int_equal(len, 0);
    assert_string_equal(v, "");
    free(v);
}

/* --- transactions ----------------------------------------------------- */

static void transaction_abort_restores(void **st)
{
    struct xs_handle *h = *st, *g;
    struct xs_permissions p = { 3, XS_PERM_READ };
    xs_transaction_t t;

    fake_xs_put("/t/keep", "1", NULL);
    t = xs_transaction_start(h);
    assert_int_not_equal(t, XBT_NULL);
    assert_int_equal(xs_transaction_start(h), XBT_NULL);
    assert_int_equal(errno, EBUSY);
    assert_true(put_str(h, t, "/t/new", "2"));
    assert_true(xs_rm(h, t, "/t/keep"));
    assert_true(xs_set_permissions(h, t, "/t", &p, 1));
    assert_string_equal(fake_xs_get("/t/new"), "2"); /* the live tree */
    assert_true(xs_transaction_end(h, t, true));
    assert_null(fake_xs_get("/t/new"));
    assert_string_equal(fake_xs_get("/t/keep"), "1");
    assert_string_equal(fake_xs_perms("/t"), "n0");
    assert_int_equal(fake_xs_count(), 3);
    /* an ended transaction is unknown */
    assert_false(put_str(h, t, "/t/x", "1"));
    assert_int_equal(errno, ENOENT);
    assert_false(xs_transaction_end(h, t, false));
    assert_int_equal(errno, ENOENT);
    /* a commit keeps what it did */
    t = xs_transaction_start(h);
    assert_true(put_str(h, t, "/t/new", "3"));
    assert_true(xs_transaction_end(h, t, false));
    assert_string_equal(fake_xs_get("/t/new"), "3");
    /* closing the handle abandons its transaction */
    g = xs_open(0);
    t = xs_transaction_start(g);
    assert_true(put_str(g, t, "/t/gone", "4"));
    assert_false(put_str(h, t, "/t/other", "4")); /* not h's */
    assert_int_equal(errno, ENOENT);
    xs_close(g);
    assert_null(fake_xs_get("/t/gone"));
    t = xs_transaction_start(h);
    assert_int_not_equal(t, XBT_NULL);
    assert_true(xs_transaction_end(h, t, true));
}

static void failed_commit_rolls_back(void **st)
{
    struct xs_handle *h = *st;
    xs_transaction_t t;
    int tries = 0;

    fake_xs_fail_commit(2);
    do {
        t = xs_transaction_start(h);
        assert_int_not_equal(t, XBT_NULL);
        assert_true(put_str(h, t, "/c", "1"));
        tries++;
        if (xs_transaction_end(h, t, false)) break;
        assert_int_equal(errno, EAGAIN);
        assert_null(fake_xs_get("/c"));
    } while (tries < 5);
    assert_int_equal(tries, 3);
    assert_string_equal(fake_xs_get("/c"), "1");
}

static void transaction_events_at_commit(void **st)
{
    struct xs_handle *h = *st;
    xs_transaction_t t;

    assert_true(xs_watch(h, "/w", "tok"));
    drain(h);
    t = xs_transaction_start(h);
    assert_true(put_str(h, t, "/w/a", "1"));
    assert_true(put_str(h, t, "/w/a", "2"));
    expect_no_event(h);
    assert_true(xs_transaction_end(h, t, false));
    expect_event(h, "/w/a", "tok"); /* once per node */
    expect_no_event(h);
    t = xs_transaction_start(h);
    assert_true(put_str(h, t, "/w/b", "1"));
    assert_true(xs_transaction_end(h, t, true));
    expect_no_event(h);
    /* outside the transaction, changes fire at once */
    t = xs_transaction_start(h);
    assert_true(put_str(h, XBT_NULL, "/w/c", "1"));
    expect_event(h, "/w/c", "tok");
    assert_true(xs_transaction_end(h, t, true));
}

/* --- watches ---------------------------------------------------------- */

static void watch_fires_once_up_front(void **st)
{
    struct xs_handle *h = *st;

    assert_false(readable(h, 0));
    assert_true(xs_watch(h, "/nothing/here", "t1")); /* need not exist */
    assert_true(readable(h, 0));
    expect_event(h, "/nothing/here", "t1");
    expect_no_event(h);
    assert_false(xs_watch(h, "/nothing/here", "t1"));
    assert_int_equal(errno, EEXIST);
    assert_true(xs_watch(h, "@releaseDomain", "t2"));
    expect_event(h, "@releaseDomain", "t2");
    assert_true(put_str(h, XBT_NULL, "/x", "1"));
    expect_no_event(h);
}

static void watch_sees_changes_at_or_below(void **st)
{
    struct xs_handle *h = *st;
    struct xs_permissions p = { 0, XS_PERM_READ };

    fake_xs_put("/local/domain/5", "", NULL);
    assert_true(xs_watch(h, "/local/domain/5", "dom5"));
    drain(h);
    assert_true(put_str(h, XBT_NULL, "/local/domain/5/x/y", "1"));
    expect_event(h, "/local/domain/5/x/y", "dom5");
    expect_no_event(h);
    assert_true(put_str(h, XBT_NULL, "/local/domain/6", "1"));
    assert_true(put_str(h, XBT_NULL, "/local/domain/50", "1"));
    assert_true(put_str(h, XBT_NULL, "/local/domain", "1"));
    expect_no_event(h);
    assert_true(xs_mkdir(h, XBT_NULL, "/local/domain/5/m"));
    expect_event(h, "/local/domain/5/m", "dom5");
    assert_true(xs_mkdir(h, XBT_NULL, "/local/domain/5/m")); /* exists */
    expect_no_event(h);
    assert_true(xs_set_permissions(h, XBT_NULL, "/local/domain/5", &p, 1));
    expect_event(h, "/local/domain/5", "dom5");
    fake_xs_put("/local/domain/5/put", "1", NULL);
    expect_event(h, "/local/domain/5/put", "dom5");
    assert_true(xs_rm(h, XBT_NULL, "/local/domain/5/x"));
    expect_event(h, "/local/domain/5/x", "dom5");
    expect_no_event(h);
}

/* rm fires the watches set on each removed node, the deepest first. */
static void rm_fires_watches_below(void **st)
{
    struct xs_handle *h = *st;

    fake_xs_put("/r/a/b", "", NULL);
    fake_xs_put("/r/a/c", "", NULL);
    assert_true(xs_watch(h, "/r", "top"));
    assert_true(xs_watch(h, "/r/a/b", "leaf"));
    drain(h);
    assert_true(xs_rm(h, XBT_NULL, "/r/a"));
    expect_event(h, "/r/a/b", "leaf");
    expect_event(h, "/r/a", "top");
    expect_no_event(h);
}

static void fileno_readable_while_queued(void **st)
{
    struct xs_handle *h = *st;
    int fd = xs_fileno(h);

    assert_true(fd >= 0);
    assert_false(readable(h, 50)); /* a deadline, never a hang */
    assert_true(xs_watch(h, "/p", "t"));
    assert_true(put_str(h, XBT_NULL, "/p", "1"));
    assert_int_equal(xs_fileno(h), fd);
    assert_true(readable(h, 0));
    expect_event(h, "/p", "t");
    assert_true(readable(h, 0));
    expect_event(h, "/p", "t");
    assert_false(readable(h, 0));
    assert_true(put_str(h, XBT_NULL, "/p", "2"));
    assert_true(readable(h, 0));
}

static void read_watch_never_blocks(void **st)
{
    struct xs_handle *h = *st;
    unsigned num = 0;
    char **v;

    assert_null(xs_read_watch(h, &num));
    assert_int_equal(errno, EAGAIN);
    assert_true(xs_watch(h, "/rw", "t"));
    v = xs_read_watch(h, &num);
    assert_non_null(v);
    assert_int_equal(num, 2);
    assert_string_equal(v[XS_WATCH_PATH], "/rw");
    free(v);
    assert_null(xs_read_watch(h, &num));
    assert_int_equal(errno, EAGAIN);
}

static void unwatch(void **st)
{
    struct xs_handle *h = *st, *g;

    assert_true(xs_watch(h, "/u", "t"));
    assert_true(put_str(h, XBT_NULL, "/u/x", "1"));
    assert_true(xs_unwatch(h, "/u", "t"));
    /* queued events stay without XS_UNWATCH_FILTER, as in libxenstore */
    expect_event(h, "/u", "t");
    expect_event(h, "/u/x", "t");
    assert_true(put_str(h, XBT_NULL, "/u/y", "1"));
    expect_no_event(h);
    assert_false(xs_unwatch(h, "/u", "t"));
    assert_int_equal(errno, ENOENT);
    /* with it they go, and only theirs */
    g = xs_open(XS_UNWATCH_FILTER);
    assert_non_null(g);
    assert_true(xs_watch(g, "/u", "t"));
    assert_true(xs_watch(g, "/v", "t2"));
    assert_true(xs_watch(g, "/w", "t"));
    assert_true(xs_watch(g, "/u", "keep"));
    assert_true(put_str(h, XBT_NULL, "/u/z", "1"));
    assert_true(xs_unwatch(g, "/u", "t"));
    expect_event(g, "/v", "t2");
    expect_event(g, "/w", "t");
    expect_event(g, "/u", "keep");
    expect_event(g, "/u/z", "keep");
    expect_no_event(g);
    assert_true(xs_watch(g, "/u", "t"));
    assert_true(xs_unwatch(g, "/u", "t"));
    expect_no_event(g);
    xs_close(g);
}

static void guest_watch_sees_what_it_may_read(void **st)
{
    struct xs_handle *h = *st, *g = xs_open(0);
    struct xs_permissions none = { 0, XS_PERM_NONE };

    fake_xs_put("/local/domain/5", "", "n0,r5");
    fake_xs_put("/secret", "", "n0");
    fake_xs_as(5);
    assert_true(xs_watch(g, "/", "guest"));
    fake_xs_as(0);
    assert_true(xs_watch(h, "/", "dom0"));
    drain(g);
    drain(h);
    assert_true(put_str(h, XBT_NULL, "/secret/x", "1"));
    expect_no_event(g);
    expect_event(h, "/secret/x", "dom0");
    assert_true(put_str(h, XBT_NULL, "/local/domain/5/y", "1"));
    expect_event(g, "/local/domain/5/y", "guest");
    expect_event(h, "/local/domain/5/y", "dom0");
    /* losing read permission is still seen: the old permissions count */
    fake_xs_put("/secret/y", "", "n0,r5");
    drain(g);
    assert_true(xs_set_permissions(h, XBT_NULL, "/secret/y", &none, 1));
    expect_event(g, "/secret/y", "guest");
    assert_true(put_str(h, XBT_NULL, "/secret/y", "1"));
    expect_no_event(g);
    /* nor does reading the parent: it tells the node exists */
    fake_xs_put("/local/domain/5/hidden", "", "n0");
    drain(g);
    assert_true(put_str(h, XBT_NULL, "/local/domain/5/hidden", "1"));
    expect_event(g, "/local/domain/5/hidden", "guest");
    xs_close(g);
}

/* --- failure injection ------------------------------------------------ */

static void failure_injection(void **st)
{
    struct xs_handle *h = *st, *g;
    xs_transaction_t t;
    unsigned len;
    char *v;

    fake_xs_fail_open(true);
    assert_null(xs_open(0));
    assert_int_equal(errno, ENOENT);
    fake_xs_fail_open(false);
    g = xs_open(0);
    assert_non_null(g);
    xs_close(g);

    fake_xs_fail_next("xs_write", EIO);
    assert_false(put_str(h, XBT_NULL, "/f", "1"));
    assert_int_equal(errno, EIO);
    assert_null(fake_xs_get("/f"));
    assert_int_equal(fake_xs_nwrites(), 0);
    assert_true(put_str(h, XBT_NULL, "/f", "1"));

    fake_xs_fail_next("xs_read", ENOMEM);
    fake_xs_fail_next("xs_read", EIO);
    assert_null(xs_read(h, XBT_NULL, "/f", &len));
    assert_int_equal(errno, ENOMEM);
    assert_null(xs_read(h, XBT_NULL, "/f", &len));
    assert_int_equal(errno, EIO);
    v = xs_read(h, XBT_NULL, "/f", &len);
    assert_string_equal(v, "1");
    free(v);

    /* a failed end: the transaction is over and undone */
    fake_xs_fail_next("xs_transaction_end", EIO);
    t = xs_transaction_start(h);
    assert_true(put_str(h, t, "/f", "2"));
    assert_false(xs_transaction_end(h, t, false));
    assert_int_equal(errno, EIO);
    assert_string_equal(fake_xs_get("/f"), "1");
    t = xs_transaction_start(h);
    assert_int_not_equal(t, XBT_NULL);
    assert_true(xs_transaction_end(h, t, true));

    fake_xs_fail_next("xs_fileno", EBADF);
    assert_int_equal(xs_fileno(h), -1);
    assert_int_equal(errno, EBADF);
    assert_true(xs_watch(h, "/f", "t"));
    fake_xs_fail_next("xs_check_watch", EINTR);
    assert_null(xs_check_watch(h));
    assert_int_equal(errno, EINTR);
    expect_event(h, "/f", "t"); /* still queued */
    fake_xs_fail_next("xs_watch", ENOSPC);
    assert_false(xs_watch(h, "/g", "t"));
    assert_int_equal(errno, ENOSPC);
    expect_no_event(h);
}

/* --- the guest hook --------------------------------------------------- */

struct guest {
    struct xs_handle *xs;
    int calls;
};

#define REQUEST "/local/domain/5/data/xengpu/request"
#define RESPONSE "/local/domain/5/data/xengpu/response"

/* A guest agent: answers "N release" with "N released". */
static void guest_answers(const char *path, const char *value, void *arg)
{
    struct guest *g = arg;
    char buf[64];
    unsigned seq;

    g->calls++;
    if (strcmp(path, REQUEST) || sscanf(value, "%u release", &seq) != 1)
        return;
    snprintf(buf, sizeof(buf), "%u released", seq);
    fake_xs_as(5);
    assert_true(put_str(g->xs, XBT_NULL, RESPONSE, buf));
    /* forgets fake_xs_as(0): the fake restores it */
}

static void on_write_plays_guest(void **st)
{
    struct xs_handle *h = *st;
    struct guest g = { h, 0 };
    xs_transaction_t t;

    fake_xs_put("/local/domain/5", "", "n0,r5");
    fake_xs_put("/local/domain/5/data", "", "n5");
    fake_xs_on_write(guest_answers, &g);
    assert_true(xs_watch(h, RESPONSE, "resp"));
    drain(h);
    assert_true(put_str(h, XBT_NULL, REQUEST, "1 release"));
    assert_int_equal(g.calls, 1); /* not again for the guest's write */
    assert_int_equal(fake_xs_as(0), 0);
    assert_string_equal(fake_xs_get(RESPONSE), "1 released");
    assert_string_equal(fake_xs_perms(RESPONSE), "n5");
    expect_event(h, RESPONSE, "resp");
    /* the guest's own writes call nothing */
    fake_xs_as(5);
    assert_true(put_str(h, XBT_NULL, "/local/domain/5/data/note", "1"));
    fake_xs_as(0);
    assert_int_equal(g.calls, 1);
    /* inside a transaction the guest sees the request once committed */
    t = xs_transaction_start(h);
    assert_true(put_str(h, t, REQUEST, "2 release"));
    assert_int_equal(g.calls, 1);
    assert_true(xs_transaction_end(h, t, false));
    assert_int_equal(g.calls, 2);
    assert_string_equal(fake_xs_get(RESPONSE), "2 released");
    /* and never if it aborts */
    t = xs_transaction_start(h);
    assert_true(put_str(h, t, REQUEST, "3 release"));
    assert_true(xs_transaction_end(h, t, true));
    assert_int_equal(g.calls, 2);
    /* mkdir is no write */
    assert_true(xs_mkdir(h, XBT_NULL, "/local/domain/5/data/other"));
    assert_int_equal(g.calls, 2);
    fake_xs_on_write(NULL, NULL);
    assert_true(put_str(h, XBT_NULL, REQUEST, "4 release"));
    assert_int_equal(g.calls, 2);
}

/* A hook that writes as dom0: its writes do not call it again. */
static void echo(const char *path, const char *value, void *arg)
{
    struct guest *g = arg;
    char buf[64];

    g->calls++;
    snprintf(buf, sizeof(buf), "/echo%s", path);
    assert_true(put_str(g->xs, XBT_NULL, buf, value));
}

static void on_write_does_not_recurse(void **st)
{
    struct xs_handle *h = *st;
    struct guest g = { h, 0 };

    fake_xs_on_write(echo, &g);
    assert_true(put_str(h, XBT_NULL, "/x", "1"));
    assert_int_equal(g.calls, 1);
    assert_string_equal(fake_xs_get("/echo/x"), "1");
    assert_int_equal(fake_xs_nwrites(), 2); /* dom0 wrote both */
}

/* --- helpers ---------------------------------------------------------- */

static void write_log(void **st)
{
    struct xs_handle *h = *st;

    fake_xs_put("/setup", "x", "n0,b5");
    assert_true(put_str(h, XBT_NULL, "/a/b", "1"));
    assert_true(xs_mkdir(h, XBT_NULL, "/m"));
    assert_true(xs_rm(h, XBT_NULL, "/a"));
    assert_true(xs_rm(h, XBT_NULL, "/missing"));
    assert_false(put_str(h, XBT_NULL, "/bad path", "1"));
    fake_xs_as(5);
    assert_true(put_str(h, XBT_NULL, "/setup/guest", "1"));
    fake_xs_as(0);
    assert_int_equal(fake_xs_nwrites(), 4);
    assert_string_equal(fake_xs_write_path(0), "/a/b");
    assert_string_equal(fake_xs_write_path(1), "/m");
    assert_string_equal(fake_xs_write_path(2), "rm /a");
    assert_string_equal(fake_xs_write_path(3), "rm /missing");
    assert_null(fake_xs_write_path(4));
    fake_xs_reset();
    assert_int_equal(fake_xs_nwrites(), 0);
}

static void perms_get_and_dump(void **st)
{
    struct xs_handle *h = *st;
    struct xs_permissions *p;
    struct xs_permissions bad = { 0, XS_PERM_OWNER };
    struct xs_permissions ignored = { 2, XS_PERM_READ };
    unsigned num = 0;
    char *out = NULL;
    size_t size = 0;
    FILE *f;

    fake_xs_put("/h", "va\"l\n", "b5,w7,r0");
    fake_xs_put("/i", "", NULL);
    assert_string_equal(fake_xs_perms("/h"), "b5,w7,r0");
    p = xs_get_permissions(h, XBT_NULL, "/h", &num);
    assert_int_equal(num, 3);
    assert_int_equal(p[0].id, 5);
    assert_int_equal(p[0].perms, XS_PERM_READ | XS_PERM_WRITE);
    assert_int_equal(p[1].id, 7);
    assert_int_equal(p[1].perms, XS_PERM_WRITE);
    assert_int_equal(p[2].perms, XS_PERM_READ);
    free(p);
    assert_false(xs_set_permissions(h, XBT_NULL, "/h", &bad, 1));
    assert_int_equal(errno, EINVAL);
    assert_false(xs_set_permissions(h, XBT_NULL, "/h", NULL, 0));
    assert_int_equal(errno, EINVAL);
    /* the library never sends its internal XS_PERM_IGNORE */
    ignored.perms |= XS_PERM_IGNORE;
    assert_true(xs_set_permissions(h, XBT_NULL, "/i", &ignored, 1));
    p = xs_get_permissions(h, XBT_NULL, "/i", &num);
    assert_int_equal(p[0].perms, XS_PERM_READ);
    free(p);
    assert_true(xs_rm(h, XBT_NULL, "/i"));
    assert_null(fake_xs_get("/nope"));
    assert_null(fake_xs_perms("/nope"));
    f = open_memstream(&out, &size);
    fake_xs_dump(f);
    fclose(f);
    assert_string_equal(out, "/ = \"\"  (n0)\n"
                             "/h = \"va\\\"l\\x0a\"  (b5,w7,r0)\n");
    free(out);
    fake_xs_reset();
    assert_int_equal(fake_xs_count(), 1);
    assert_string_equal(fake_xs_perms("/"), "n0");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(write_creates_parents_inheriting_perms,
                                        setup, teardown),
        cmocka_unit_test_setup_teardown(guest_owns_what_it_creates, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(guest_needs_permission, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(guest_quota, setup, teardown),
        cmocka_unit_test_setup_teardown(request_too_big, setup, teardown),
        cmocka_unit_test_setup_teardown(invalid_paths, setup, teardown),
        cmocka_unit_test_setup_teardown(missing_nodes, setup, teardown),
        cmocka_unit_test_setup_teardown(rm_removes_subtree, setup, teardown),
        cmocka_unit_test_setup_teardown(directory_lists_children, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(read_returns_a_copy, setup, teardown),
        cmocka_unit_test_setup_teardown(transaction_abort_restores, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(failed_commit_rolls_back, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(transaction_events_at_commit, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(watch_fires_once_up_front, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(watch_sees_changes_at_or_below, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(rm_fires_watches_below, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(fileno_readable_while_queued, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(read_watch_never_blocks, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(unwatch, setup, teardown),
        cmocka_unit_test_setup_teardown(guest_watch_sees_what_it_may_read,
                                        setup, teardown),
        cmocka_unit_test_setup_teardown(failure_injection, setup, teardown),
        cmocka_unit_test_setup_teardown(on_write_plays_guest, setup, teardown),
        cmocka_unit_test_setup_teardown(on_write_does_not_recurse, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(write_log, setup, teardown),
        cmocka_unit_test_setup_teardown(perms_get_and_dump, setup, teardown),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
