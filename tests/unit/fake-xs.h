/*
 * fake-xs.h - an in-memory libxenstore for unit tests.
 *
 * Link tests/unit/fake-xs.c and wrap $(FAKE_XS_WRAP) (tests/unit/
 * module.mk): every xs_open, xs_read, xs_write, ... of the code under
 * test then lands in one store in this process, modelled on C xenstored
 * and libxenstore of Xen 4.17:
 *
 *  - a tree of nodes, each with a value (bytes, may be empty) and a
 *    permission list (first entry: owner and what every other domain
 *    gets; then per-domain entries), printed as `xenstore-ls -p` does:
 *    "n0,r5" (n none, r read, w write, b both);
 *  - a write creates missing parents with empty values; a new node
 *    inherits its parent's permissions, and one created by an
 *    unprivileged domain is owned by it;
 *  - calls act as dom0 (no permission checks) unless fake_xs_as() says
 *    otherwise; a domain needs read permission to read, list or get
 *    permissions, write permission to write, mkdir or rm (creating a
 *    node: write permission on its nearest existing ancestor), and must
 *    own a node to set its permissions (EACCES; giving it away: EPERM);
 *  - errors as libxenstore reports them: EINVAL for a bad path (not
 *    absolute, "//", a trailing '/', a character outside
 *    [A-Za-z0-9/_@-], longer than 2048 past "/local/domain/N/"),
 *    E2BIG for a request over 4096 bytes (path, NUL and value of a
 *    write), ENOENT for a missing node or an unknown transaction,
 *    ENOSPC when an unprivileged domain would own more nodes than its
 *    quota (cxenstored's errno; libxenstore never sets EDQUOT);
 *  - one transaction at a time (another start: EBUSY).  Its operations
 *    go to the live tree, visible to reads outside it; abort restores
 *    the tree as it was at start, undoing changes made outside it
 *    meanwhile too (xenstored would keep those).  The watch events and
 *    on_write calls its operations cause are held back until it
 *    commits and dropped if it does not;
 *  - watches per handle: xs_watch queues one initial event; a change at
 *    or below the watched path queues (path changed, token); rm also
 *    fires watches set on each removed descendant.  A watch set while
 *    acting as an unprivileged domain only sees changes that domain may
 *    read.  xs_fileno is readable exactly while events are queued;
 *    xs_read_watch never blocks (NULL, EAGAIN when none is queued).
 *    xs_unwatch drops queued events only for a handle opened with
 *    XS_UNWATCH_FILTER, as libxenstore does.
 *
 * Relative paths (refused, EINVAL), domain introduction (@introduceDomain
 * fires only its initial event), the 2048-byte node size quota for
 * guests and real transaction conflicts are not modelled: see
 * fake_xs_fail_commit().
 * Not thread-safe.  Test support code: helpers abort on misuse (a bad
 * path given to fake_xs_put, an unknown handle) rather than returning
 * an error.
 */
#ifndef XENGPU_FAKE_XS_H
#define XENGPU_FAKE_XS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>

/* Defaults, restored by fake_xs_reset(). */
#define FAKE_XS_QUOTA 1000 /* nodes an unprivileged domain may own */

/*
 * Empty the store: only "/" (owned by dom0, "n0"), acting as dom0, the
 * default quota, no failure armed, no write hook, an empty write log.
 * Handles still open stay valid but lose their watches, queued events
 * and transaction.
 */
void fake_xs_reset(void);

/*
 * Make later calls act as DOMID, unprivileged unless it is 0, until the
 * next fake_xs_as().  Returns the domain acted as before.
 */
unsigned fake_xs_as(unsigned domid);

/* The number of nodes an unprivileged domain may own (ENOSPC past it). */
void fake_xs_set_quota(unsigned nodes);

/* Make xs_open() fail with ENOENT (no xenstored) while FAIL is true. */
void fake_xs_fail_open(bool fail);

/*
 * Make the next call of the wrapped function OP ("xs_write",
 * "xs_transaction_end", ...) fail with errno ERR, once, without effect
 * (except that a failing xs_transaction_end ends the transaction
 * unapplied).  Several may be armed, for the same OP or not; each call
 * takes the oldest armed for its name.  xs_close cannot fail; an OP
 * that is not a wrapped function aborts the test.
 */
void fake_xs_fail_next(const char *op, int err);

/*
 * Make the next N commits fail with EAGAIN and roll the transaction
 * back, as when another transaction conflicted.
 */
void fake_xs_fail_commit(unsigned n);

/*
 * Call CB(path, value, ARG) after every successful xs_write made as
 * dom0 (after the commit for one inside a transaction), to play a guest
 * that reacts: CB may fake_xs_as(guest), xs_write through any open
 * handle and fake_xs_as(0).  Writes CB makes do not call CB again; the
 * domain acted as is restored when CB returns.  NULL removes the hook.
 */
void fake_xs_on_write(void (*cb)(const char *path, const char *value,
                                 void *arg),
                      void *arg);

/*
 * Set PATH, as dom0 and outside any transaction, creating parents as a
 * write does: its value to VALUE (NULL: keep the value, "" for a new
 * node) and, unless PERMS is NULL, its permissions to PERMS ("n0,r5").
 * Fires watches; not in the write log, no on_write call.
 */
void fake_xs_put(const char *path, const char *value, const char *perms);

/* PATH's value (NUL-terminated; valid until the store changes), or NULL. */
const char *fake_xs_get(const char *path);

/* PATH's permissions as "n0,r5" (a static buffer), or NULL. */
const char *fake_xs_perms(const char *path);

/* The number of nodes, "/" included. */
size_t fake_xs_count(void);

/* The number of nodes DOMID owns (first permission entry). */
size_t fake_xs_count_owned(unsigned domid);

/* Every node, one a line: /path = "value"  (n0,r5). */
void fake_xs_dump(FILE *f);

/*
 * The write log: every successful xs_write, xs_mkdir and xs_rm made as
 * dom0 since fake_xs_reset(), in order, including those of transactions
 * later aborted.  Entry I is the path, "rm PATH" for an xs_rm; NULL past
 * the end.
 */
size_t fake_xs_nwrites(void);
const char *fake_xs_write_path(size_t i);

#endif /* XENGPU_FAKE_XS_H */
