/*
 * create.h - `xengpu create CONFIG`: the xl config extension end to end.
 *
 * Reads CONFIG and the KEY=VALUE overrides with libxlutil as xl does,
 * checks what passthrough needs, resolves gpu = [...] to free cards and
 * either prints the resolved lines (dry run) or prepares the cards that
 * are not prepared yet and runs
 *
 *   xl create CONFIG [XL-OPTIONS...] [KEY=VALUE...] \
 *       'pci=[ <config's own entries>, <one per card> ]' \
 *       'passthrough="enabled"'
 *
 * so that every other key behaves exactly as under `xl create` (xl reads
 * the trailing KEY=VALUE lines after the file; the last one wins).  If
 * preparing or xl fails, the cards this command prepared are released
 * again: a failed create leaves every card where it was.
 *
 * xl is $XENGPU_XL when set, else "xl" from $PATH.
 */
#ifndef XENGPU_CREATE_H
#define XENGPU_CREATE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>
#include <xentoollog.h>

#include "pciback-helper/host.h"
#include "resolve.h"

#define XENGPU_XL_ENV "XENGPU_XL"

/*
 * Moving cards, done by the caller (the xengpu command runs the
 * privileged helper).  BDF is the card's function 0, canonical.  Each
 * returns 0 on success.
 */
typedef struct xengpu_create_ops {
    int (*prepare)(void *opaque, const char *bdf);
    int (*release)(void *opaque, const char *bdf);
    /*
     * After xl created the domain: record what it asked for (NULL: not
     * recorded).  A failure is logged as a warning; the domain stays.
     */
    int (*record)(void *opaque, const xengpu_domcfg *cfg,
                  const xengpu_resolution *res);
    void *opaque;
} xengpu_create_ops;

typedef struct xengpu_create_req {
    const char *config;
    char *const *args; /* after CONFIG: KEY=VALUE and xl's options */
    size_t nargs;
    const char *pools_path; /* NULL: $XENGPU_CONF or the default */
    bool dry_run;
    bool force; /* boot VGA and non-isolated cards too */
    const xengpu_host *host;
    const xengpu_held *held; /* NULL: nobody holds anything */
    const xengpu_create_ops *ops;
    FILE *out; /* the dry run's lines */
} xengpu_create_req;

/*
 * Run a create.  Returns an exit status: 0 done (or printed), 1 refused
 * or failed (logged through LG, naming the config, spec or card), 2 bad
 * arguments (an argument that is neither KEY=VALUE nor an option, xl's
 * -f/--defconfig which would name a second config, -h).  xl's own
 * messages go to the caller's stderr.
 */
int xengpu_create(const xengpu_create_req *req, xentoollog_logger *lg);

/*
 * Every PCI function some domain holds, from libxl: *fns_r is malloc'ed
 * (free() it).  Returns 0 or a negative errno (no Xen, no privilege),
 * logged.
 */
int xengpu_held_query(xentoollog_logger *lg, xengpu_held_fn **fns_r,
                      size_t *n_r);

#endif /* XENGPU_CREATE_H */
