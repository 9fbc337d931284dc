/*
 * fake-xs.c - an in-memory libxenstore for unit tests (see fake-xs.h).
 *
 * The semantics follow Xen 4.17's tools/xenstore/xenstored_core.c,
 * xenstored_watch.c and xenstored_transaction.c (the daemon) and
 * tools/libs/store/xs.c (the library); the comments name the function
 * a rule comes from.  Test support code: it aborts on misuse and on
 * allocation failure rather than returning an error.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <xenstore.h>

#include "fake-xs.h"

#define PERM_RW (XS_PERM_READ | XS_PERM_WRITE)
#define PERMS_MAX 5 /* cxenstored: permission entries a guest may set */
#define NFAILS 16

static void __attribute__((noreturn, format(printf, 1, 2)))
die(const char *fmt, ...)
{
    va_list ap;

    va_start(ap, fmt);
    fprintf(stderr, "fake-xs: ");
    vfprintf(stderr, fmt, ap);
    fprintf(stderr, "\n");
    va_end(ap);
    abort();
}

static void *xmalloc(size_t n)
{
    void *p = malloc(n ? n : 1);

    if (!p) die("out of memory");
    return p;
}

static void *xcalloc(size_t n, size_t size)
{
    void *p = calloc(n ? n : 1, size);

    if (!p) die("out of memory");
    return p;
}

static void *xmemdup(const void *src, size_t n)
{
    void *p = xmalloc(n);

    if (n) memcpy(p, src, n);
    return p;
}

static char *xstrdup(const char *s)
{
    return xmemdup(s, strlen(s) + 1);
}

static char *xasprintf(const char *fmt, ...)
    __attribute__((format(printf, 1, 2)));

static char *xasprintf(const char *fmt, ...)
{
    va_list ap;
    char *s;

    va_start(ap, fmt);
    if (vasprintf(&s, fmt, ap) < 0) die("out of memory");
    va_end(ap);
    return s;
}

/* --- state ------------------------------------------------------------ */

struct node {
    char *name;  /* path segment, "" for the root */
    char *value; /* len bytes and a NUL */
    unsigned len;
    struct xs_permissions *perms;
    unsigned nperms;
    struct node *parent;
    struct node **kids; /* in creation order, as xenstored lists them */
    unsigned nkids;
};

struct watch {
    char *path, *token;
    unsigned domid; /* who set it: an unprivileged one sees less */
    struct watch *next;
};

struct event {
    char *path, *token;
    struct event *next;
};

struct xs_handle {
    int pipe[2]; /* [0] is readable while events are queued */
    bool filter; /* XS_UNWATCH_FILTER */
    struct watch *watches;
    struct event *events, **tail;
    struct xs_handle *next;
};

/* What a transaction's operation causes once it commits. */
struct deferred {
    char *path;
    char *value; /* NULL: a change for the watches; else an on_write call */
    bool exact;
    struct xs_permissions *perms; /* the node's then, for permitted() */
    unsigned nperms;
    struct deferred *next;
};

static struct {
    bool ready;
    struct node *root;
    unsigned actor;
    unsigned quota;
    bool fail_open;
    struct {
        char op[32];
        int err;
    } fails[NFAILS];
    unsigned nfails;
    unsigned fail_commits;
    char **log;
    size_t nlog;
    void (*on_write)(const char *path, const char *value, void *arg);
    void *on_write_arg;
    bool in_hook;
    struct xs_handle *handles;
    struct xs_handle *txn_h; /* the open transaction's handle, or NULL */
    xs_transaction_t txn_id, last_txn;
    struct node *snapshot;
    struct deferred *deferred, **deferred_tail;
} fx;

static void ensure(void)
{
    if (!fx.ready) fake_xs_reset();
}

static bool fail(int err)
{
    errno = err;
    return false;
}

static void *fail_null(int err)
{
    errno = err;
    return NULL;
}

/* --- the tree --------------------------------------------------------- */

static struct xs_permissions *perms_dup(const struct xs_permissions *p,
                                        unsigned n)
{
    return xmemdup(p, n * sizeof(*p));
}

static struct node *kid(const struct node *n, const char *name, size_t len)
{
    unsigned i;

    for (i = 0; i < n->nkids; i++)
        if (!strncmp(n->kids[i]->name, name, len) && !n->kids[i]->name[len])
            return n->kids[i];
    return NULL;
}

/* A child of PARENT (NULL: a root) with an empty value and its perms. */
static struct node *node_new(struct node *parent, const char *name, size_t len)
{
    struct node *n = xcalloc(1, sizeof(*n));

    n->name = xmalloc(len + 1);
    memcpy(n->name, name, len);
    n->name[len] = '\0';
    n->value = xstrdup("");
    n->parent = parent;
    if (!parent) return n;
    n->perms = perms_dup(parent->perms, parent->nperms);
    n->nperms = parent->nperms;
    parent->kids =
        realloc(parent->kids, (parent->nkids + 1) * sizeof(*parent->kids));
    if (!parent->kids) die("out of memory");
    parent->kids[parent->nkids++] = n;
    return n;
}

static void node_free(struct node *n)
{
    unsigned i;

    if (!n) return;
    for (i = 0; i < n->nkids; i++)
        node_free(n->kids[i]);
    free(n->kids);
    free(n->name);
    free(n->value);
    free(n->perms);
    free(n);
}

static void node_unlink(struct node *n)
{
    struct node *p = n->parent;
    unsigned i;

    for (i = 0; p->kids[i] != n; i++)
        ;
    memmove(&p->kids[i], &p->kids[i + 1],
            (p->nkids - i - 1) * sizeof(*p->kids));
    p->nkids--;
}

static struct node *node_copy(const struct node *n, struct node *parent)
{
    struct node *c = xcalloc(1, sizeof(*c));
    unsigned i;

    c->name = xstrdup(n->name);
    c->value = xmemdup(n->value, n->len + 1);
    c->len = n->len;
    c->perms = perms_dup(n->perms, n->nperms);
    c->nperms = n->nperms;
    c->parent = parent;
    c->nkids = n->nkids;
    c->kids = xcalloc(n->nkids, sizeof(*c->kids));
    for (i = 0; i < n->nkids; i++)
        c->kids[i] = node_copy(n->kids[i], c);
    return c;
}

static void node_set_value(struct node *n, const void *data, unsigned len)
{
    free(n->value);
    n->value = xmalloc(len + 1);
    if (len) memcpy(n->value, data, len);
    n->value[len] = '\0';
    n->len = len;
}

/*
 * The node at PATH (a valid path), or NULL; *NEAREST (if not NULL) is
 * then its deepest existing ancestor.
 */
static struct node *walk(const char *path, struct node **nearest)
{
    struct node *n = fx.root, *k;
    const char *p = path + 1, *slash;
    size_t len;

    for (; *p; n = k, p += len + (slash != NULL)) {
        slash = strchr(p, '/');
        len = slash ? (size_t)(slash - p) : strlen(p);
        k = kid(n, p, len);
        if (!k) {
            if (nearest) *nearest = n;
            return NULL;
        }
    }
    return n;
}

static size_t count_owned(const struct node *n, unsigned domid)
{
    size_t c = n->perms[0].id == domid;
    unsigned i;

    for (i = 0; i < n->nkids; i++)
        c += count_owned(n->kids[i], domid);
    return c;
}

static size_t count(const struct node *n)
{
    size_t c = 1;
    unsigned i;

    for (i = 0; i < n->nkids; i++)
        c += count(n->kids[i]);
    return c;
}

/* --- xenstored's rules ------------------------------------------------ */

/* Up to 5 digits after "/local/domain/" and a '/': its length, else 0. */
static size_t local_prefix(const char *path)
{
    static const char pre[] = "/local/domain/";
    size_t n = sizeof(pre) - 1, d;

    if (strncmp(path, pre, n)) return 0;
    d = strspn(path + n, "0123456789");
    return d && d <= 5 && path[n + d] == '/' ? n + d + 1 : 0;
}

/* is_valid_nodename(): the path quota counts past a domain's home. */
static bool valid_path(const char *path)
{
    static const char ok[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZ"
                             "abcdefghijklmnopqrstuvwxyz"
                             "0123456789-/_@";
    size_t len = strlen(path);

    if (path[0] != '/' || strstr(path, "//")) return false;
    if (len > 1 && path[len - 1] == '/') return false;
    if (len > local_prefix(path) + XENSTORE_REL_PATH_MAX) return false;
    return strspn(path, ok) == len;
}

/*
 * A request's checks in the order they happen: the library's size limit
 * (xs_talkv: path, NUL and EXTRA bytes), the transaction, the path.
 */
static int request(struct xs_handle *h, xs_transaction_t t, const char *path,
                   size_t extra)
{
    if (strlen(path) + 1 + extra > XENSTORE_PAYLOAD_MAX) return E2BIG;
    if (t != XBT_NULL && (fx.txn_h != h || t != fx.txn_id)) return ENOENT;
    return valid_path(path) ? 0 : EINVAL;
}

/* perm_for_conn(): dom0 and the owner get everything. */
static unsigned perm_for(const struct xs_permissions *p, unsigned n,
                         unsigned domid)
{
    unsigned i;

    if (!domid || p[0].id == domid) return PERM_RW | XS_PERM_OWNER;
    for (i = 1; i < n; i++)
        if (p[i].id == domid) return p[i].perms & PERM_RW;
    return p[0].perms & PERM_RW;
}

/*
 * PATH's node if the actor has every permission in NEED; else NULL and
 * *ERR, ENOENT only if the deepest existing ancestor grants one of NEED:
 * a domain learns nothing of what it may not see (get_node() and
 * errno_from_parents()).
 */
static struct node *get_node(const char *path, unsigned need, int *err)
{
    struct node *near = NULL, *n = walk(path, &near);

    if (n && (perm_for(n->perms, n->nperms, fx.actor) & need) == need)
        return n;
    if (n)
        *err = EACCES;
    else
        *err = perm_for(near->perms, near->nperms, fx.actor) & need ? ENOENT
                                                                    : EACCES;
    return NULL;
}

/*
 * Create PATH and its missing parents (construct_node() and
 * create_node()): each inherits its parent's permissions and is owned
 * by the actor unless that is dom0; an unprivileged actor may own at
 * most fx.quota nodes.  On failure nothing is left created.
 */
static struct node *create(const char *path, int *err)
{
    struct node *n = fx.root, *k, *top = NULL;
    size_t owned = fx.actor ? count_owned(fx.root, fx.actor) : 0;
    const char *p = path + 1, *slash;
    size_t len;

    for (; *p; n = k, p += len + (slash != NULL)) {
        slash = strchr(p, '/');
        len = slash ? (size_t)(slash - p) : strlen(p);
        k = kid(n, p, len);
        if (k) continue;
        if (fx.actor && owned++ >= fx.quota) {
            if (top) {
                node_unlink(top);
                node_free(top);
            }
            *err = ENOSPC;
            return NULL;
        }
        k = node_new(n, p, len);
        if (fx.actor) k->perms[0].id = fx.actor;
        if (!top) top = k;
    }
    return n;
}

/* --- watches ---------------------------------------------------------- */

/* The pipe holds one byte while events are queued, as in xs.c. */
static void pipe_set(struct xs_handle *h, bool readable)
{
    char c = 0;

    if (readable ? write(h->pipe[1], &c, 1) != 1
                 : read(h->pipe[0], &c, 1) != 1)
        die("watch pipe: %s", strerror(errno));
}

static void queue_event(struct xs_handle *h, const char *path,
                        const char *token)
{
    struct event *e = xcalloc(1, sizeof(*e));

    e->path = xstrdup(path);
    e->token = xstrdup(token);
    if (!h->events) pipe_set(h, true);
    *h->tail = e;
    h->tail = &e->next;
}

static void event_free(struct event *e)
{
    free(e->path);
    free(e->token);
    free(e);
}

static struct event *take_event(struct xs_handle *h)
{
    struct event *e = h->events;

    if (!e) return NULL;
    h->events = e->next;
    if (!h->events) {
        h->tail = &h->events;
        pipe_set(h, false);
    }
    return e;
}

static void watch_free(struct watch *w)
{
    free(w->path);
    free(w->token);
    free(w);
}

static void handle_clear(struct xs_handle *h)
{
    struct watch *w;
    struct event *e;

    while ((w = h->watches)) {
        h->watches = w->next;
        watch_free(w);
    }
    while ((e = take_event(h)))
        event_free(e);
}

/* is_child(): "/" is the parent of everything. */
static bool is_child(const char *child, const char *parent)
{
    size_t len = strlen(parent);

    if (!strcmp(parent, "/")) return true;
    return !strncmp(child, parent, len) &&
           (child[len] == '/' || child[len] == '\0');
}

/* xs_path_is_subpath(), whose "/" is the parent of nothing but "/". */
static bool is_subpath(const char *parent, const char *child)
{
    size_t len = strlen(parent);

    return !strncmp(child, parent, len) &&
           (child[len] == '/' || child[len] == '\0');
}

/*
 * watch_permitted(): DOMID may see a change at PATH if it can read the
 * node as it was (PERMS, if given), as it is, or its parent.
 */
static bool permitted(unsigned domid, const char *path,
                      const struct xs_permissions *perms, unsigned nperms)
{
    struct node *n;

    if (!domid) return true;
    if (perms && perm_for(perms, nperms, domid) & XS_PERM_READ) return true;
    n = walk(path, NULL);
    if (!n) return false;
    if (perm_for(n->perms, n->nperms, domid) & XS_PERM_READ) return true;
    return n->parent &&
           perm_for(n->parent->perms, n->parent->nperms, domid) & XS_PERM_READ;
}

/* fire_watches(): EXACT only fires watches set on PATH itself. */
static void fire(const char *path, bool exact,
                 const struct xs_permissions *perms, unsigned nperms)
{
    struct xs_handle *h;
    struct watch *w;

    for (h = fx.handles; h; h = h->next)
        for (w = h->watches; w; w = w->next) {
            if (exact ? strcmp(path, w->path) != 0 : !is_child(path, w->path))
                continue;
            if (permitted(w->domid, path, perms, nperms))
                queue_event(h, path, w->token);
        }
}

static void defer(const char *path, const char *value, bool exact,
                  const struct xs_permissions *perms, unsigned nperms)
{
    struct deferred *d = xcalloc(1, sizeof(*d));

    d->path = xstrdup(path);
    d->value = value ? xstrdup(value) : NULL;
    d->exact = exact;
    if (perms) d->perms = perms_dup(perms, nperms);
    d->nperms = perms ? nperms : 0;
    *fx.deferred_tail = d;
    fx.deferred_tail = &d->next;
}

/*
 * A change at PATH: it fires now, or at commit inside a transaction,
 * once per node (queue_watches()).  PERMS: the node's permissions
 * before the change, NULL to take them from the tree.
 */
static void changed(xs_transaction_t t, const char *path, bool exact,
                    const struct xs_permissions *perms, unsigned nperms)
{
    struct deferred *d;
    struct node *n;

    if (t == XBT_NULL) {
        fire(path, exact, perms, nperms);
        return;
    }
    for (d = fx.deferred; d; d = d->next)
        if (!d->value && !strcmp(d->path, path)) return;
    n = perms ? NULL : walk(path, NULL);
    if (n)
        defer(path, NULL, exact, n->perms, n->nperms);
    else
        defer(path, NULL, exact, perms, nperms);
}

/* Removing N at PATH fires for its descendants first (delnode_sub()). */
static void removed(xs_transaction_t t, const struct node *n, const char *path,
                    bool exact)
{
    unsigned i;
    char *p;

    for (i = 0; i < n->nkids; i++) {
        p = xasprintf("%s/%s", path, n->kids[i]->name);
        removed(t, n->kids[i], p, true);
        free(p);
    }
    changed(t, path, exact, n->perms, n->nperms);
}

/* --- the write log and the guest hook --------------------------------- */

static void log_write(const char *prefix, const char *path)
{
    if (fx.actor) return;
    fx.log = realloc(fx.log, (fx.nlog + 1) * sizeof(*fx.log));
    if (!fx.log) die("out of memory");
    fx.log[fx.nlog++] = xasprintf("%s%s", prefix, path);
}

static void call_hook(const char *path, const char *value)
{
    unsigned actor = fx.actor;

    if (!fx.on_write) return;
    fx.in_hook = true;
    fx.on_write(path, value, fx.on_write_arg);
    fx.in_hook = false;
    fx.actor = actor;
}

static void wrote(xs_transaction_t t, const char *path, const char *value)
{
    char *v;

    if (fx.actor || !fx.on_write || fx.in_hook) return;
    if (t != XBT_NULL) {
        defer(path, value, false, NULL, 0);
        return;
    }
    v = xstrdup(value); /* the hook may change the node */
    call_hook(path, v);
    free(v);
}

/* --- transactions ----------------------------------------------------- */

static void deferred_free(struct deferred *d)
{
    struct deferred *next;

    for (; d; d = next) {
        next = d->next;
        free(d->path);
        free(d->value);
        free(d->perms);
        free(d);
    }
}

/* End the open transaction: keep its changes and fire, or roll back. */
static void txn_finish(bool commit)
{
    struct deferred *list = fx.deferred, *d;

    if (commit) {
        node_free(fx.snapshot);
    } else {
        node_free(fx.root);
        fx.root = fx.snapshot;
    }
    fx.snapshot = NULL;
    fx.txn_h = NULL;
    fx.deferred = NULL;
    fx.deferred_tail = &fx.deferred;
    if (commit) {
        for (d = list; d; d = d->next)
            if (!d->value) fire(d->path, d->exact, d->perms, d->nperms);
        for (d = list; d; d = d->next)
            if (d->value) call_hook(d->path, d->value);
    }
    deferred_free(list);
}

/* --- failure injection ------------------------------------------------ */

/* xs_close cannot fail: it is not here. */
static const char *const ops[] = {
    "xs_open",
    "xs_read",
    "xs_write",
    "xs_mkdir",
    "xs_rm",
    "xs_directory",
    "xs_get_permissions",
    "xs_set_permissions",
    "xs_transaction_start",
    "xs_transaction_end",
    "xs_watch",
    "xs_unwatch",
    "xs_fileno",
    "xs_check_watch",
    "xs_read_watch",
};

static bool injected(const char *op)
{
    unsigned i;

    for (i = 0; i < fx.nfails; i++)
        if (!strcmp(fx.fails[i].op, op)) {
            errno = fx.fails[i].err;
            memmove(&fx.fails[i], &fx.fails[i + 1],
                    (fx.nfails - i - 1) * sizeof(fx.fails[0]));
            fx.nfails--;
            return true;
        }
    return false;
}

static void check_handle(const struct xs_handle *h)
{
    const struct xs_handle *i;

    ensure();
    for (i = fx.handles; i && i != h; i = i->next)
        ;
    if (!i) die("%p is not an open xenstore handle", (const void *)h);
}

/* --- the wrapped libxenstore ------------------------------------------ */

struct xs_handle *__wrap_xs_open(unsigned long flags);
struct xs_handle *__wrap_xs_open(unsigned long flags)
{
    struct xs_handle *h;

    ensure();
    if (fx.fail_open) return fail_null(ENOENT);
    if (injected("xs_open")) return NULL;
    h = xcalloc(1, sizeof(*h));
    if (pipe2(h->pipe, O_CLOEXEC | O_NONBLOCK))
        die("pipe2: %s", strerror(errno));
    h->filter = flags & XS_UNWATCH_FILTER;
    h->tail = &h->events;
    h->next = fx.handles;
    fx.handles = h;
    return h;
}

void __wrap_xs_close(struct xs_handle *h);
void __wrap_xs_close(struct xs_handle *h)
{
    struct xs_handle **pp;

    if (!h) return;
    check_handle(h);
    for (pp = &fx.handles; *pp != h; pp = &(*pp)->next)
        ;
    *pp = h->next;
    if (fx.txn_h == h) txn_finish(false);
    handle_clear(h);
    close(h->pipe[0]);
    close(h->pipe[1]);
    free(h);
}

void *__wrap_xs_read(struct xs_handle *h, xs_transaction_t t, const char *path,
                     unsigned int *len);
void *__wrap_xs_read(struct xs_handle *h, xs_transaction_t t, const char *path,
                     unsigned int *len)
{
    struct node *n;
    int err;

    check_handle(h);
    if (injected("xs_read")) return NULL;
    err = request(h, t, path, 0);
    if (err) return fail_null(err);
    n = get_node(path, XS_PERM_READ, &err);
    if (!n) return fail_null(err);
    if (len) *len = n->len;
    return xmemdup(n->value, n->len + 1);
}

bool __wrap_xs_write(struct xs_handle *h, xs_transaction_t t, const char *path,
                     const void *data, unsigned int len);
bool __wrap_xs_write(struct xs_handle *h, xs_transaction_t t, const char *path,
                     const void *data, unsigned int len)
{
    struct node *n;
    int err;

    check_handle(h);
    if (injected("xs_write")) return false;
    err = request(h, t, path, len);
    if (err) return fail(err);
    n = get_node(path, XS_PERM_WRITE, &err);
    if (!n && err == ENOENT) n = create(path, &err);
    if (!n) return fail(err);
    node_set_value(n, data, len);
    changed(t, path, false, NULL, 0);
    log_write("", path);
    wrote(t, path, n->value);
    return true;
}

bool __wrap_xs_mkdir(struct xs_handle *h, xs_transaction_t t,
                     const char *path);
bool __wrap_xs_mkdir(struct xs_handle *h, xs_transaction_t t, const char *path)
{
    int err;

    check_handle(h);
    if (injected("xs_mkdir")) return false;
    err = request(h, t, path, 0);
    if (err) return fail(err);
    if (!get_node(path, XS_PERM_WRITE, &err)) {
        if (err != ENOENT || !create(path, &err)) return fail(err);
        changed(t, path, false, NULL, 0);
    }
    log_write("", path);
    return true;
}

/* do_rm(): a missing node whose parent exists is removed already. */
static bool parent_exists(const char *path)
{
    size_t len = (size_t)(strrchr(path, '/') - path);
    char *parent = len ? xasprintf("%.*s", (int)len, path) : xstrdup("/");
    bool r = walk(parent, NULL) != NULL;

    free(parent);
    return r;
}

bool __wrap_xs_rm(struct xs_handle *h, xs_transaction_t t, const char *path);
bool __wrap_xs_rm(struct xs_handle *h, xs_transaction_t t, const char *path)
{
    struct node *n;
    int err;

    check_handle(h);
    if (injected("xs_rm")) return false;
    err = request(h, t, path, 0);
    if (err) return fail(err);
    n = get_node(path, XS_PERM_WRITE, &err);
    if (!n && !(err == ENOENT && parent_exists(path))) return fail(err);
    if (n == fx.root) return fail(EINVAL);
    if (n) {
        removed(t, n, path, false);
        node_unlink(n);
        node_free(n);
    }
    log_write("rm ", path);
    return true;
}

char **__wrap_xs_directory(struct xs_handle *h, xs_transaction_t t,
                           const char *path, unsigned int *num);
char **__wrap_xs_directory(struct xs_handle *h, xs_transaction_t t,
                           const char *path, unsigned int *num)
{
    struct node *n;
    size_t size = 0, len;
    unsigned i;
    char **r, *p;
    int err;

    check_handle(h);
    if (injected("xs_directory")) return NULL;
    err = request(h, t, path, 0);
    if (err) return fail_null(err);
    n = get_node(path, XS_PERM_READ, &err);
    if (!n) return fail_null(err);
    for (i = 0; i < n->nkids; i++)
        size += strlen(n->kids[i]->name) + 1;
    /* one block, the strings after the pointers, as xs_directory_common */
    r = xmalloc(n->nkids * sizeof(*r) + size);
    p = (char *)(r + n->nkids);
    for (i = 0; i < n->nkids; i++) {
        len = strlen(n->kids[i]->name) + 1;
        r[i] = memcpy(p, n->kids[i]->name, len);
        p += len;
    }
    *num = n->nkids;
    return r;
}

struct xs_permissions *__wrap_xs_get_permissions(struct xs_handle *h,
                                                 xs_transaction_t t,
                                                 const char *path,
                                                 unsigned int *num);
struct xs_permissions *__wrap_xs_get_permissions(struct xs_handle *h,
                                                 xs_transaction_t t,
                                                 const char *path,
                                                 unsigned int *num)
{
    struct node *n;
    int err;

    check_handle(h);
    if (injected("xs_get_permissions")) return NULL;
    err = request(h, t, path, 0);
    if (err) return fail_null(err);
    n = get_node(path, XS_PERM_READ, &err);
    if (!n) return fail_null(err);
    *num = n->nperms;
    return perms_dup(n->perms, n->nperms);
}

/*
 * xs_perm_to_string() refuses other bits; the request carries "b5\0"
 * for each entry.  The size of the request, or 0 for a bad entry.
 */
static size_t perms_request_size(const struct xs_permissions *p, unsigned num)
{
    size_t size = 0;
    unsigned i;

    for (i = 0; i < num; i++) {
        if (p[i].perms & ~(PERM_RW | XS_PERM_IGNORE)) return 0;
        size += (size_t)snprintf(NULL, 0, "%u", p[i].id) + 2;
    }
    return size;
}

bool __wrap_xs_set_permissions(struct xs_handle *h, xs_transaction_t t,
                               const char *path, struct xs_permissions *perms,
                               unsigned int num_perms);
bool __wrap_xs_set_permissions(struct xs_handle *h, xs_transaction_t t,
                               const char *path, struct xs_permissions *perms,
                               unsigned int num_perms)
{
    size_t size = perms_request_size(perms, num_perms);
    struct xs_permissions *old;
    struct node *n;
    unsigned i, nold;
    int err;

    check_handle(h);
    if (injected("xs_set_permissions")) return false;
    if (num_perms && !size) return fail(EINVAL);
    err = request(h, t, path, size);
    if (err) return fail(err);
    if (!num_perms) return fail(EINVAL);
    if (fx.actor && num_perms > PERMS_MAX) return fail(ENOSPC);
    n = get_node(path, XS_PERM_WRITE | XS_PERM_OWNER, &err);
    if (!n) return fail(err);
    if (fx.actor && perms[0].id != n->perms[0].id) return fail(EPERM);
    old = n->perms;
    nold = n->nperms;
    n->perms = perms_dup(perms, num_perms);
    n->nperms = num_perms;
    for (i = 0; i < num_perms; i++)
        n->perms[i].perms &= PERM_RW;
    changed(t, path, false, old, nold);
    free(old);
    return true;
}

xs_transaction_t __wrap_xs_transaction_start(struct xs_handle *h);
xs_transaction_t __wrap_xs_transaction_start(struct xs_handle *h)
{
    check_handle(h);
    if (injected("xs_transaction_start")) return XBT_NULL;
    if (fx.txn_h) {
        errno = EBUSY;
        return XBT_NULL;
    }
    fx.snapshot = node_copy(fx.root, NULL);
    fx.txn_h = h;
    if (++fx.last_txn == XBT_NULL) ++fx.last_txn;
    fx.txn_id = fx.last_txn;
    return fx.txn_id;
}

bool __wrap_xs_transaction_end(struct xs_handle *h, xs_transaction_t t,
                               bool abort);
bool __wrap_xs_transaction_end(struct xs_handle *h, xs_transaction_t t,
                               bool abort)
{
    bool open;

    check_handle(h);
    open = t != XBT_NULL && fx.txn_h == h && t == fx.txn_id;
    if (injected("xs_transaction_end")) {
        /* xenstored forgets the transaction whatever the outcome */
        if (open) txn_finish(false);
        return false;
    }
    if (!open) return fail(ENOENT);
    if (!abort && fx.fail_commits) {
        fx.fail_commits--;
        txn_finish(false);
        return fail(EAGAIN);
    }
    txn_finish(!abort);
    return true;
}

bool __wrap_xs_watch(struct xs_handle *h, const char *path, const char *token);
bool __wrap_xs_watch(struct xs_handle *h, const char *path, const char *token)
{
    struct watch *w, **pp;

    check_handle(h);
    if (injected("xs_watch")) return false;
    if (strlen(path) + strlen(token) + 2 > XENSTORE_PAYLOAD_MAX)
        return fail(E2BIG);
    /* check_watch_path(): "@introduceDomain" and the like are fine */
    if (path[0] == '@' ? strlen(path) > XENSTORE_REL_PATH_MAX
                       : !valid_path(path))
        return fail(EINVAL);
    for (pp = &h->watches; *pp; pp = &(*pp)->next)
        if (!strcmp((*pp)->path, path) && !strcmp((*pp)->token, token))
            return fail(EEXIST);
    w = xcalloc(1, sizeof(*w));
    w->path = xstrdup(path);
    w->token = xstrdup(token);
    w->domid = fx.actor;
    *pp = w;
    /* do_watch() fires once up front */
    queue_event(h, path, token);
    return true;
}

bool __wrap_xs_unwatch(struct xs_handle *h, const char *path,
                       const char *token);
bool __wrap_xs_unwatch(struct xs_handle *h, const char *path,
                       const char *token)
{
    struct watch *w, **pp;
    struct event *e, **ep;
    bool found = false;

    check_handle(h);
    if (injected("xs_unwatch")) return false;
    if (strlen(path) + strlen(token) + 2 > XENSTORE_PAYLOAD_MAX)
        return fail(E2BIG);
    for (pp = &h->watches; *pp; pp = &(*pp)->next)
        if (!strcmp((*pp)->path, path) && !strcmp((*pp)->token, token)) {
            w = *pp;
            *pp = w->next;
            watch_free(w);
            found = true;
            break;
        }
    /* xs_unwatch() filters whether or not xenstored knew the watch */
    if (h->filter && h->events) {
        for (ep = &h->events; (e = *ep);)
            if (!strcmp(e->token, token) && is_subpath(path, e->path)) {
                *ep = e->next;
                event_free(e);
            } else {
                ep = &e->next;
            }
        h->tail = ep;
        if (!h->events) pipe_set(h, false);
    }
    return found ? true : fail(ENOENT);
}

int __wrap_xs_fileno(struct xs_handle *h);
int __wrap_xs_fileno(struct xs_handle *h)
{
    check_handle(h);
    if (injected("xs_fileno")) return -1;
    return h->pipe[0];
}

/* One block: the two pointers, then path and token (read_watch_internal). */
static char **next_event(struct xs_handle *h)
{
    struct event *e = take_event(h);
    size_t plen, tlen;
    char **v;

    if (!e) return fail_null(EAGAIN);
    plen = strlen(e->path) + 1;
    tlen = strlen(e->token) + 1;
    v = xmalloc(2 * sizeof(*v) + plen + tlen);
    v[XS_WATCH_PATH] = memcpy((char *)(v + 2), e->path, plen);
    v[XS_WATCH_TOKEN] = memcpy(v[XS_WATCH_PATH] + plen, e->token, tlen);
    event_free(e);
    return v;
}

char **__wrap_xs_check_watch(struct xs_handle *h);
char **__wrap_xs_check_watch(struct xs_handle *h)
{
    check_handle(h);
    if (injected("xs_check_watch")) return NULL;
    return next_event(h);
}

char **__wrap_xs_read_watch(struct xs_handle *h, unsigned int *num);
char **__wrap_xs_read_watch(struct xs_handle *h, unsigned int *num)
{
    char **v;

    check_handle(h);
    if (injected("xs_read_watch")) return NULL;
    v = next_event(h);
    if (v && num) *num = 2;
    return v;
}

/* --- test helpers ----------------------------------------------------- */

void fake_xs_reset(void)
{
    struct xs_handle *h;
    size_t i;

    fx.ready = true;
    for (h = fx.handles; h; h = h->next)
        handle_clear(h);
    node_free(fx.snapshot);
    fx.snapshot = NULL;
    fx.txn_h = NULL;
    deferred_free(fx.deferred);
    fx.deferred = NULL;
    fx.deferred_tail = &fx.deferred;
    node_free(fx.root);
    fx.root = node_new(NULL, "", 0);
    fx.root->perms = xcalloc(1, sizeof(*fx.root->perms)); /* "n0" */
    fx.root->nperms = 1;
    fx.actor = 0;
    fx.quota = FAKE_XS_QUOTA;
    fx.fail_open = false;
    fx.nfails = 0;
    fx.fail_commits = 0;
    for (i = 0; i < fx.nlog; i++)
        free(fx.log[i]);
    free(fx.log);
    fx.log = NULL;
    fx.nlog = 0;
    fx.on_write = NULL;
    fx.on_write_arg = NULL;
    fx.in_hook = false;
}

unsigned fake_xs_as(unsigned domid)
{
    unsigned was;

    ensure();
    was = fx.actor;
    fx.actor = domid;
    return was;
}

void fake_xs_set_quota(unsigned nodes)
{
    ensure();
    fx.quota = nodes;
}

void fake_xs_fail_open(bool fail_it)
{
    ensure();
    fx.fail_open = fail_it;
}

void fake_xs_fail_next(const char *op, int err)
{
    size_t i;

    ensure();
    for (i = 0; i < sizeof(ops) / sizeof(ops[0]) && strcmp(ops[i], op); i++)
        ;
    if (i == sizeof(ops) / sizeof(ops[0]))
        die("fake_xs_fail_next: %s is not a wrapped function", op);
    if (fx.nfails == NFAILS) die("fake_xs_fail_next: too many armed");
    snprintf(fx.fails[fx.nfails].op, sizeof(fx.fails[0].op), "%s", op);
    fx.fails[fx.nfails++].err = err;
}

void fake_xs_fail_commit(unsigned n)
{
    ensure();
    fx.fail_commits = n;
}

void fake_xs_on_write(void (*cb)(const char *path, const char *value,
                                 void *arg),
                      void *arg)
{
    ensure();
    fx.on_write = cb;
    fx.on_write_arg = arg;
}

/* "n0,r5" into a malloc'ed array; dies on anything else. */
static struct xs_permissions *parse_perms(const char *s, unsigned *num)
{
    struct xs_permissions *p;
    const char *c, *letters = "nrwb", *l;
    char *end;
    unsigned n = 1, i;

    for (c = s; *c; c++)
        n += *c == ',';
    p = xcalloc(n, sizeof(*p));
    for (c = s, i = 0; i < n; i++, c = end + 1) {
        l = *c ? strchr(letters, *c) : NULL;
        if (!l || c[1] < '0' || c[1] > '9') die("bad permissions %s", s);
        p[i].perms = (unsigned)(l - letters);
        p[i].id = (unsigned)strtoul(c + 1, &end, 10);
        if (*end != (i + 1 < n ? ',' : '\0')) die("bad permissions %s", s);
    }
    *num = n;
    return p;
}

void fake_xs_put(const char *path, const char *value, const char *perms)
{
    struct xs_permissions *p = NULL, *old = NULL;
    unsigned np = 0, nold = 0, actor;
    struct node *n;
    int err;

    ensure();
    if (!valid_path(path)) die("fake_xs_put: invalid path %s", path);
    if (perms) p = parse_perms(perms, &np);
    n = walk(path, NULL);
    if (!n) {
        actor = fake_xs_as(0);
        n = create(path, &err);
        fake_xs_as(actor);
    }
    if (value) node_set_value(n, value, strlen(value));
    if (p) {
        old = n->perms;
        nold = n->nperms;
        n->perms = p;
        n->nperms = np;
    }
    fire(path, false, old, nold);
    free(old);
}

const char *fake_xs_get(const char *path)
{
    struct node *n;

    ensure();
    n = valid_path(path) ? walk(path, NULL) : NULL;
    return n ? n->value : NULL;
}

static char *perms_string(const struct node *n)
{
    size_t size = 0, len = 0;
    unsigned i;
    char *s;

    for (i = 0; i < n->nperms; i++)
        size += (size_t)snprintf(NULL, 0, ",n%u", n->perms[i].id);
    s = xmalloc(size + 1);
    for (i = 0; i < n->nperms; i++)
        len +=
            (size_t)snprintf(s + len, size + 1 - len, "%s%c%u", i ? "," : "",
                             "nrwb"[n->perms[i].perms & 3], n -> perms[i].id);
    s[len] = '\0';
    return s;
}

const char *fake_xs_perms(const char *path)
{
    static char *last;
    struct node *n;

    ensure();
    n = valid_path(path) ? walk(path, NULL) : NULL;
    free(last);
    last = n ? perms_string(n) : NULL;
    return last;
}

size_t fake_xs_count(void)
{
    ensure();
    return count(fx.root);
}

size_t fake_xs_count_owned(unsigned domid)
{
    ensure();
    return count_owned(fx.root, domid);
}

static void dump(FILE *f, const struct node *n, const char *path)
{
    unsigned i;
    unsigned char c;
    char *p, *perms = perms_string(n);

    fprintf(f, "%s = \"", path);
    for (i = 0; i < n->len; i++) {
        c = (unsigned char)n->value[i];
        if (c == '"' || c == '\\')
            fprintf(f, "\\%c", c);
        else if (c < 0x20 || c > 0x7e)
            fprintf(f, "\\x%02x", c);
        else
            fputc(c, f);
    }
    fprintf(f, "\"  (%s)\n", perms);
    free(perms);
    for (i = 0; i < n->nkids; i++) {
        p = xasprintf("%s/%s", n == fx.root ? "" : path, n->kids[i]->name);
        dump(f, n->kids[i], p);
        free(p);
    }
}

void fake_xs_dump(FILE *f)
{
    ensure();
    dump(f, fx.root, "/");
}

size_t fake_xs_nwrites(void)
{
    ensure();
    return fx.nlog;
}

const char *fake_xs_write_path(size_t i)
{
    ensure();
    return i < fx.nlog ? fx.log[i] : NULL;
}
