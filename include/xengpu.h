/*
 * xengpu.h - libxengpu, whole GPUs for Xen guests.
 *
 * This header is the library's manual.  It covers:
 *
 *  - discovery: the host's PCI functions and the GPU cards among them,
 *    read from sysfs below a root directory into a read-only model;
 *  - names of reset methods and card states;
 *  - PCI addresses: strict parsing and canonical formatting;
 *  - the inventory as JSON (the `xengpu list --json` contract);
 *  - a libxl session: which domain holds which card, attach and detach;
 *  - xenstore: the live store checked against xengpu's schema;
 *  - xengpu_cli(), the xengpu command itself.
 *
 * Build with `pkg-config --cflags --libs xengpu`.  The library exports
 * exactly what is declared here, under the symbol version XENGPU_0.1.
 *
 * Conventions, unless a function says otherwise:
 *
 *  - Fallible functions return 0 on success or a negative errno, and
 *    hand results back through `*thing_r`, which is untouched on
 *    failure.  Allocation failure aborts the process: -ENOMEM is never
 *    returned.
 *
 *  - The library never prints on its own account.  Functions that take
 *    a xentoollog_logger log each failure once, where it happens, naming
 *    the device or domain; a NULL logger means a default one that writes
 *    warnings and errors to stderr.  The logger must outlive the object
 *    it was given to.
 *
 *  - Every xengpu_*_free() and xengpu_*_close() accepts NULL.  Strings
 *    returned through `char **` are the caller's, to free() with free().
 *    Pointers returned by accessors belong to the object they came from.
 *
 *  - Handles are opaque.  One handle must not be used from two threads
 *    at once unless said otherwise.  Every file descriptor the library
 *    opens is close-on-exec, so fork()+exec() never leaks one; after a
 *    fork() without exec(), the child must not use a handle the parent
 *    created (the libxl session's rules).
 */
#ifndef XENGPU_H
#define XENGPU_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <xentoollog.h>

#ifdef __cplusplus
extern "C" {
#endif

/* ---- PCI addresses -------------------------------------------------- */

/*
 * A PCI function is named by segment (domain), bus, device and function:
 * "DDDD:BB:DD.F" in hexadecimal, the form of sysfs names and of xl's
 * pci = [...] specs.  A slot ("card address") is the same without the
 * function, "DDDD:BB:DD"; it names every function of one card.
 *
 * None of these functions allocates, logs or touches errno; all are safe
 * from any thread.
 */

/*
 * A parsed function address.  A plain value: copy it, compare it with
 * xengpu_bdf_cmp().  Xen and libxl limit the segment to 16 bits.
 */
typedef struct xengpu_bdf {
    uint16_t domain;
    uint8_t bus;
    uint8_t dev; /* 0 .. 0x1f */
    uint8_t fn;  /* 0 .. 7 */
} xengpu_bdf;

/* Buffer sizes for the canonical forms, terminating NUL included. */
#define XENGPU_BDF_STRLEN 13  /* "0000:01:00.0" */
#define XENGPU_SLOT_STRLEN 11 /* "0000:01:00" */

/*
 * Parser flag: accept only the exact form xengpu_bdf_format() writes
 * (domain present, every field at full width, lower-case hex).  Without
 * it the domain may be omitted (it is then 0), fields may be shorter than
 * full width ("1:0.0") and upper-case hex is accepted, as xl and lspci
 * accept them.  Whitespace, signs, "0x" and trailing bytes are refused
 * either way.
 */
#define XENGPU_BDF_CANONICAL 0x1u

/*
 * Parse the NUL-terminated string S as one function address.  FLAGS is
 * 0 or XENGPU_BDF_CANONICAL.  Returns 0 and fills *bdf_r, or -EINVAL.
 */
int xengpu_bdf_parse(const char *s, unsigned flags, xengpu_bdf *bdf_r);

/*
 * Parse a slot address "[DDDD:]BB:DD" by the same rules.  Returns 0 and
 * fills *slot_r (its fn is 0), or -EINVAL.
 */
int xengpu_slot_parse(const char *s, unsigned flags, xengpu_bdf *slot_r);

/*
 * Write the canonical "dddd:bb:dd.f" form of BDF into BUF of SIZE bytes.
 * Returns 0; -ENOSPC when SIZE < XENGPU_BDF_STRLEN; -EINVAL when BDF's
 * device or function is out of range.  BUF is untouched on failure.
 */
int xengpu_bdf_format(const xengpu_bdf *bdf, char *buf, size_t size);

/* As xengpu_bdf_format(), the slot "dddd:bb:dd" (SIZE >= 11); fn ignored. */
int xengpu_slot_format(const xengpu_bdf *slot, char *buf, size_t size);

/*
 * Total order: domain, bus, device, function.  Returns <0, 0 or >0 like
 * strcmp(), matching the order of the canonical strings.
 */
int xengpu_bdf_cmp(const xengpu_bdf *a, const xengpu_bdf *b);

/* ---- names ------------------------------------------------------------ */

/* Reset methods, in the order Linux tries them (sysfs reset_method). */
typedef enum xengpu_reset {
    XENGPU_RESET_NONE = 0,
    XENGPU_RESET_DEVICE_SPECIFIC,
    XENGPU_RESET_ACPI,
    XENGPU_RESET_FLR,
    XENGPU_RESET_AF_FLR,
    XENGPU_RESET_PM,
    XENGPU_RESET_BUS,
} xengpu_reset;

/*
 * "none", "device_specific", "acpi", "flr", "af_flr", "pm", "bus": a
 * static string.  An out-of-range value gives "none".
 */
const char *xengpu_reset_name(xengpu_reset reset);

/* Where a card is. */
typedef enum xengpu_card_state {
    XENGPU_CARD_HOST,     /* with dom0's drivers (or none) */
    XENGPU_CARD_PREPARED, /* every function on pciback */
    XENGPU_CARD_RESERVED, /* kept for a domain during a migration */
    XENGPU_CARD_ASSIGNED, /* held by a domain */
} xengpu_card_state;

/* "host", "prepared", "reserved", "assigned": a static string. */
const char *xengpu_card_state_name(xengpu_card_state state);

/* ---- discovery -------------------------------------------------------- */

/*
 * The host model.  xengpu_host_discover() reads every PCI function below
 * a sysfs root (ids, configuration space, BARs, driver, IOMMU group,
 * boot VGA, NUMA node, SR-IOV, topology, resets) and groups them into
 * cards.  A card is the non-VF functions of one slot that holds a
 * display (class 03xx) or processing accelerator (class 12xx) function;
 * each SR-IOV VF of such a class is a card of its own.  Cards are found
 * by class, never by vendor.
 *
 * A card is isolated when no device outside it can share its IOMMU
 * context: sysfs IOMMU groups are used when present; a Xen dom0 has none,
 * and groups are then computed from PCIe topology and ACS.
 *
 * The model is a snapshot: it is never updated; discover again to see
 * changes.  Everything an accessor returns belongs to the host and lives
 * until xengpu_host_free().  A host may be read from several threads at
 * once, but xengpu_xl_annotate() writes it.
 */
typedef struct xengpu_host xengpu_host;
typedef struct xengpu_card xengpu_card;     /* one card of a host */
typedef struct xengpu_pcidev xengpu_pcidev; /* one PCI function */

/*
 * Open the sysfs root directory DIR; NULL means $XENGPU_SYSFS_ROOT when
 * set and non-empty, else "/sys".  Returns 0 and an O_CLOEXEC directory
 * fd in *fd_r that the caller close()s, or a negative errno (logged).
 */
int xengpu_sysfs_open_root(const char *dir, xentoollog_logger *lg, int *fd_r);

/*
 * Read the PCI functions below SYSFS_FD (from xengpu_sysfs_open_root();
 * not closed, and not needed after return) and build the model.  A
 * function that cannot be read is skipped with a warning; a bad
 * attribute makes only that attribute unknown.  Returns 0 and a host in
 * *host_r that the caller frees with xengpu_host_free(), or a negative
 * errno (logged) when the PCI device directory itself cannot be read.
 * LG is kept for the host's lifetime.
 */
int xengpu_host_discover(int sysfs_fd, xentoollog_logger *lg,
                         xengpu_host **host_r);

/* Free HOST and everything its accessors returned.  NULL is fine. */
void xengpu_host_free(xengpu_host *host);

/* The functions, ascending by address; NULL when I >= ndevs. */
size_t xengpu_host_ndevs(const xengpu_host *host);
const xengpu_pcidev *xengpu_host_dev(const xengpu_host *host, size_t i);
/* The function at BDF, or NULL. */
const xengpu_pcidev *xengpu_host_find_dev(const xengpu_host *host,
                                          const xengpu_bdf *bdf);

/* The cards, ascending by address; NULL when I >= ncards. */
size_t xengpu_host_ncards(const xengpu_host *host);
const xengpu_card *xengpu_host_card(const xengpu_host *host, size_t i);
/* The card one of whose functions is BDF, or NULL. */
const xengpu_card *xengpu_host_find_card(const xengpu_host *host,
                                         const xengpu_bdf *bdf);

/* A function's canonical address "0000:01:00.0", and parsed. */
const char *xengpu_pcidev_name(const xengpu_pcidev *dev);
xengpu_bdf xengpu_pcidev_bdf(const xengpu_pcidev *dev);

/*
 * A function's vendor, device and class ids (each pointer may be NULL).
 * Returns 0, or -ENODATA when sysfs had no valid ids (nothing is set).
 */
int xengpu_pcidev_ids(const xengpu_pcidev *dev, uint16_t *vendor_r,
                      uint16_t *device_r, uint32_t *class_r);

/* The name of the driver bound to DEV ("pciback", "nouveau"), or NULL. */
const char *xengpu_pcidev_driver(const xengpu_pcidev *dev);

/* How DEV alone can be reset: the first method the kernel would use. */
xengpu_reset xengpu_pcidev_reset(const xengpu_pcidev *dev);

/*
 * A card's functions, ascending; function 0 (I == 0) names the card.
 * xengpu_card_fn() is NULL when I >= xengpu_card_nfns().  On-card switch
 * ports and upstream bridges are never among them.
 * xengpu_card_primary() is its display or accelerator function.
 */
size_t xengpu_card_nfns(const xengpu_card *card);
const xengpu_pcidev *xengpu_card_fn(const xengpu_card *card, size_t i);
const xengpu_pcidev *xengpu_card_primary(const xengpu_card *card);

/*
 * Where CARD is.  XENGPU_CARD_ASSIGNED (and the holder's domid) only on
 * a host passed to xengpu_xl_annotate(): discovery alone cannot see
 * domains.  *domid_r (may be NULL) is the holder, or -1.
 */
xengpu_card_state xengpu_card_get_state(const xengpu_card *card,
                                        long *domid_r);

/*
 * True when CARD is isolated.  Otherwise *why_r (may be NULL) is set to
 * a static sentence saying why, and the card should not be assigned.
 */
bool xengpu_card_isolated(const xengpu_card *card, const char **why_r);

/* True when a function of CARD is dom0's boot VGA (its console). */
bool xengpu_card_boot_vga(const xengpu_card *card);

/* One method that resets every function of CARD, or XENGPU_RESET_NONE. */
xengpu_reset xengpu_card_reset(const xengpu_card *card);

/* ---- inventory as JSON ------------------------------------------------ */

/*
 * {"cards": [...]} for every card of HOST, in the form of
 * `xengpu list --json`: each card has at least bdf, vendor, device,
 * class, functions, reset, iommu_isolated, boot_vga, numa_node, bars,
 * state and domain.  Consumers must ignore members they do not know.
 * PRETTY indents for humans.  Returns 0 and a NUL-terminated string in
 * *json_r that the caller frees with free(), or -EIO when the JSON
 * generator fails.
 */
int xengpu_inventory_json(const xengpu_host *host, bool pretty, char **json_r);

/* As xengpu_inventory_json(), the one object of CARD, a card of HOST. */
int xengpu_card_json(const xengpu_host *host, const xengpu_card *card,
                     bool pretty, char **json_r);

/* ---- domains: a libxl session ----------------------------------------- */

/*
 * A session with libxl (a libxl context and its xenstore connection).
 * Needs root in a Xen dom0.  Not thread-safe: one thread at a time.  Its
 * descriptors are close-on-exec; do not use it in a forked child.
 */
typedef struct xengpu_xl xengpu_xl;

/*
 * Open a session, logging through LG (NULL: stderr).  Returns 0 and the
 * session in *xl_r, to close with xengpu_xl_close(), or a negative
 * errno.  -ENXIO: not on Xen, or not allowed to talk to it; logged
 * unless QUIET, for callers that can do without domains.
 */
int xengpu_xl_open(xentoollog_logger *lg, bool quiet, xengpu_xl **xl_r);

/* Close XL.  NULL is fine. */
void xengpu_xl_close(xengpu_xl *xl);

/*
 * Resolve DOMAIN, a domain name or a decimal domain id.  Returns 0 and
 * the id in *domid_r, or -ENOENT (logged, naming DOMAIN) when no such
 * domain runs.
 */
int xengpu_xl_domid(xengpu_xl *xl, const char *domain, uint32_t *domid_r);

/*
 * Ask libxl which domain holds each card of HOST and record it: such a
 * card's state becomes XENGPU_CARD_ASSIGNED.  Returns 0 or a negative
 * errno (logged).  Writes HOST: no other thread may read it meanwhile.
 */
int xengpu_xl_annotate(xengpu_xl *xl, xengpu_host *host);

/*
 * Hot-plug every function of CARD into domain DOMID through libxl.  The
 * card must be prepared (every function on pciback) and held by nobody.
 * If one function fails, those already added are removed again: the
 * card ends wholly attached or where it was.  Returns 0, or -EINVAL (not
 * prepared), -EBUSY (held by a domain), -EPERM (a PVH guest, or one
 * created without passthrough), or another negative errno; all logged.
 * A change of owner is also logged to syslog, here and in detach.
 */
int xengpu_xl_attach(xengpu_xl *xl, uint32_t domid, const xengpu_card *card);

/*
 * Remove every function of CARD from domain DOMID, the last function
 * first, retrying for up to TIMEOUT seconds in all (0: one try, which
 * waits libxl's own 10 s) while the guest holds on.  FORCE removes a
 * function the guest will not release.  Returns 0, or -ENOENT (DOMID
 * does not hold CARD), -ETIMEDOUT (the guest kept a function; the card
 * stays attached as far as it was), or another negative errno; all
 * logged.  The functions stay on pciback, never going to a dom0 driver.
 */
int xengpu_xl_detach(xengpu_xl *xl, uint32_t domid, const xengpu_card *card,
                     int timeout, bool force);

/* ---- xenstore ------------------------------------------------------------ */

/*
 * Every xenstore node xengpu writes or reads is declared in its schema
 * (installed as /usr/share/xengpu/xenstore-schema and built into this
 * library), with owner, permissions, value grammar, maximum length and
 * writer.  Since XENGPU_0.2.
 */
typedef void xengpu_xenstore_report_fn(const char *path, const char *problem,
                                       void *arg);

/*
 * Check the live store against the schema: every declared node present
 * must hold a valid value and exactly its declared permissions, and
 * every node under a tree xengpu owns (/xengpu, a guest's
 * data/xengpu) must be declared.  DOMID >= 0 limits the check to that
 * domain's nodes.  Calls REPORT(path, problem, ARG) once per problem,
 * both strings valid during the call.  Sets *CHECKED_R (may be NULL) to
 * the number of declared nodes checked.  Returns the number of problems
 * (0: the store matches the schema), or a negative errno when xenstore
 * cannot be opened or read (logged).  Needs root in dom0.
 */
int xengpu_xenstore_validate(long domid, xengpu_xenstore_report_fn *report,
                             void *arg, unsigned *checked_r,
                             xentoollog_logger *lg);

/* ---- the xengpu command ----------------------------------------------- */

/* xengpu_cli()'s exit statuses (the command's contract). */
#define XENGPU_EXIT_OK 0    /* success */
#define XENGPU_EXIT_FAIL 1  /* refused or failed; one line on ERR says why */
#define XENGPU_EXIT_USAGE 2 /* bad usage */

/*
 * Run `xengpu ARGV[1] ...` in this process, writing results to OUT and
 * diagnostics to ERR.  Returns one of the exit statuses above.  Uses
 * getopt_long() and may run programs (xl, the xengpu-pciback helper):
 * not reentrant, not thread-safe; meant for main() and for tests.
 */
int xengpu_cli(int argc, char **argv, FILE *out, FILE *err);

#ifdef __cplusplus
}
#endif

#endif /* XENGPU_H */
