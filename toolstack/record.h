/*
 * record.h - what a domain asked for, kept where a migration or restore
 * can find it: the request of `xengpu create`, keyed by the domain's
 * UUID (which survives guest reboots and migration, unlike its domid).
 *
 *   STATE_DIR/domains/UUID.json   {"version":1,"uuid":...,"name":...,
 *                                  "gpu":["SPEC",...],
 *                                  "cards":["0000:01:00.0",...],
 *                                  "migration":"unplug"|"refuse",
 *                                  "compat":"exact"|...}
 *   /xengpu/domain/UUID/name, /domid        mirrored in xenstore, one
 *   /xengpu/domain/UUID/gpu/N/spec, /card   transaction, readable by
 *   /xengpu/domain/UUID/migration, /compat
 *                                           dom0 only (declared in
 *                                           xenstore-schema/schema)
 *
 * Returns 0 or a negative errno; failures are logged once, naming the
 * domain.  The domain must exist (it is looked up by NAME through libxl).
 */
#ifndef XENGPU_RECORD_H
#define XENGPU_RECORD_H

#include <stdbool.h>
#include <stddef.h>
#include <xentoollog.h>

#include "pciback-helper/bdf.h"

#define XENGPU_XS_ROOT "/xengpu/domain"

typedef struct xengpu_request {
    const char *name;         /* the domain's name */
    const char *const *specs; /* gpu = [...] entries, verbatim */
    size_t nspecs;
    const xengpu_bdf *cards; /* the cards chosen, function 0 each */
    size_t ncards;
    bool unplug;        /* gpu_migration = "unplug" (else "refuse") */
    const char *compat; /* gpu_compat: "exact", "device", "vendor", "any" */
} xengpu_request;

/* Record REQ for the running domain it names.  STATE_DIR NULL: default. */
int xengpu_request_record(const char *state_dir, const xengpu_request *req,
                          xentoollog_logger *lg);

/*
 * Forget the requests of domains that no longer run here (destroyed, shut
 * down for good): each STATE_DIR/domains/UUID.json whose UUID no running
 * domain has, and its xenstore mirror.  A domain restarted by on_reboot
 * keeps its UUID and so its request.  Returns how many were forgotten,
 * or a negative errno (logged).
 */
int xengpu_request_prune(const char *state_dir, xentoollog_logger *lg);

#endif /* XENGPU_RECORD_H */
