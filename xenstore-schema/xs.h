/*
 * xs.h - xengpu's side of xenstore: the one checked write, the validator
 * of the live store, and the guest cooperation protocol.
 *
 * Every xenstore write and removal xengpu makes goes through
 * xengpu_xs_write() and xengpu_xs_rm(), which refuse anything the
 * built-in schema (xenstore-schema/schema) does not declare as the
 * toolstack's to write.  tests/unit/test-xsenforce checks that no other
 * file calls libxenstore's writers.
 */
#ifndef XENGPU_XS_H
#define XENGPU_XS_H

#include <stdbool.h>
#include <xenstore.h>
#include <xentoollog.h>

#include "proto.h"
#include "schema.h"

/*
 * Write VALUE at PATH within transaction T (XBT_NULL for none).  PATH
 * must be a node the built-in schema gives to the toolstack and VALUE
 * must satisfy its grammar and length.  Returns 0; -EPERM when the
 * schema refuses (logged: it is a bug in xengpu); or the write's -errno
 * (logged, naming PATH).
 */
int xengpu_xs_write(struct xs_handle *xs, xs_transaction_t t, const char *path,
                    const char *value, xentoollog_logger *lg);

/*
 * Remove PATH and everything below it within T.  PATH must lie in a tree
 * xengpu owns (an `own` line) or be a node the toolstack writes.
 * Removing a node that is not there succeeds.  Returns 0, -EPERM
 * (schema), or -errno (logged).
 */
int xengpu_xs_rm(struct xs_handle *xs, xs_transaction_t t, const char *path,
                 xentoollog_logger *lg);

/* One problem the validator found; both strings live for the call. */
typedef void xengpu_xs_report_fn(const char *path, const char *problem,
                                 void *arg);

typedef struct {
    unsigned checked;  /* declared nodes present and checked */
    unsigned problems; /* reports made */
} xengpu_xs_stats;

/* No more than this many children of one node are looked at. */
#define XENGPU_XS_MAX_CHILDREN 4096

/*
 * Walk the live store against schema S (NULL: the built-in one): every
 * declared node that exists must have a valid value and exactly its
 * declared permissions, and every node under an own tree must be
 * declared (or be an empty directory on the way to a declared node).
 * DOMID >= 0 limits the walk to that domain's nodes.  Calls REPORT once
 * per problem.  Returns 0 when the walk completed (problems or not,
 * counted in *ST), or -errno when xenstore could not be read (logged).
 */
int xengpu_xs_validate(struct xs_handle *xs, const xengpu_xs_schema *s,
                       long domid, xengpu_xs_report_fn *report, void *arg,
                       xengpu_xs_stats *st, xentoollog_logger *lg);

/*
 * Ask domain DOMID's agent VERB through data/xengpu/request and wait up
 * to TIMEOUT_MS for the answer to it in data/xengpu/response.  Returns
 * 0 with the answer in *R; -ENOENT when the guest runs no agent (no
 * valid data/xengpu/agent); -ETIMEDOUT when no valid answer to this
 * request came in time; -EPROTO when the guest flooded its response
 * node; or another -errno when xenstore failed.  Malformed answers are
 * logged (a few, not a flood) and ignored.  The request node is removed
 * before returning.
 */
int xengpu_guest_ask(struct xs_handle *xs, unsigned domid,
                     xengpu_guest_verb verb, unsigned timeout_ms,
                     xengpu_guest_response *r, xentoollog_logger *lg);

/*
 * VALUE (LEN bytes, maybe hostile) made printable for a log line: at
 * most 48 characters, others as \xNN, "..." when cut.  Into BUF of at
 * least XENGPU_XS_SHOWLEN bytes; returns BUF.
 */
#define XENGPU_XS_SHOWLEN 200
const char *xengpu_xs_show(const char *value, size_t len, char *buf);

#endif /* XENGPU_XS_H */
