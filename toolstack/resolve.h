/*
 * resolve.h - pick the cards a domain's gpu = [...] asks for, and turn
 * them into xl pci entries.
 *
 * A card is free when its state is host or prepared and no domain holds
 * one of its functions (the caller says which do: xengpu_held, filled
 * from libxl).  Candidates are refused, with the reason kept for the
 * error message, when held by a domain, reserved or assigned, listed in
 * the config's own pci = [...], already chosen for another spec, dead
 * (fell off the bus), and unless forced when dom0's boot VGA or not
 * isolated.
 *
 * Specs are resolved most specific first (addresses, then models, then
 * vendors, then pools) so a broad spec does not take the card a narrow
 * one needs.  Among free matches the card on the guest's NUMA node comes
 * first, then one already prepared, then the lowest address.  It is all
 * or nothing: one spec that cannot be met fails the whole resolution,
 * logged with the spec and why each candidate was refused.
 *
 * pci entries (xl-pci-configuration(5) of Xen 4.17): one entry per
 * function of the card, "DDDD:BB:DD.F" followed by the spec's options
 * (",permissive=1" ...), without a virtual slot.  A PV guest's pcifront
 * then shows the card's functions together in one slot (pciback keeps a
 * slot's functions together); an HVM guest's device model gives each
 * function a slot of its own.  libxl's one-slot form "DDDD:BB:DD.*@VS"
 * is not used: in the nested test bed, Xen 4.17's libxl added only the
 * card's highest function with it, at creation and at hot-plug, and then
 * could not remove it.  A choice's `pci` holds its entries joined by
 * "', '", ready to be quoted as one list item.
 */
#ifndef XENGPU_RESOLVE_H
#define XENGPU_RESOLVE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <xentoollog.h>

#include "gpuspec.h"
#include "pciback-helper/host.h"

/* The entries of one card: up to 8 functions, each with every option. */
#define XENGPU_PCI_ENTRY_MAX 768

/*
 * The domid of a function whose card is reserved for a domain being
 * saved, restored or migrated (toolstack/reserve.h): DOMID_FIRST_RESERVED,
 * never a real domain's.
 */
#define XENGPU_DOMID_RESERVED 0x7FF0

/* A function a domain holds (from libxl_device_pci_list). */
typedef struct xengpu_held_fn {
    xengpu_bdf bdf;
    uint32_t domid;
} xengpu_held_fn;

/* Every function held by some domain; fns may be NULL when n == 0. */
typedef struct xengpu_held {
    const xengpu_held_fn *fns;
    size_t n;
} xengpu_held;

typedef struct xengpu_resolve_req {
    const xengpu_host *host;
    const xengpu_gpuspec *specs;
    size_t nspecs;
    const xengpu_pools *pools; /* NULL: pool= specs fail */
    const xengpu_held *held;   /* NULL: no domain holds anything */
    char *const *pci;          /* the config's own pci entries */
    size_t npci;
    int numa_node;    /* guest's NUMA node, -1 for no preference */
    bool force;       /* accept boot VGA and non-isolated cards */
    const char *file; /* config name for messages */
} xengpu_resolve_req;

typedef struct xengpu_choice {
    const xengpu_card *card; /* belongs to the host */
    size_t spec;             /* index into the request's specs */
    bool was_prepared;       /* on pciback before this request */
    char pci[XENGPU_PCI_ENTRY_MAX];
} xengpu_choice;

typedef struct xengpu_resolution {
    xengpu_choice *choices; /* in the order of the specs */
    size_t n;
} xengpu_resolution;

void xengpu_resolution_init(xengpu_resolution *res);
/* Frees the choices; idempotent. */
void xengpu_resolution_dispose(xengpu_resolution *res);

/*
 * Resolve REQ into *res_r (init'ed by the caller).  Returns 0; -ENODEV
 * when some spec cannot be met (logged: the spec, and each candidate with
 * why it was refused, or that no card matches at all); -ENOENT/-EINVAL
 * for a pool that does not exist or is bad; -EINVAL when the config's
 * pci entries name a chosen function, when a config pci entry is not a
 * valid xl pci spec, when virtual slots run out, or a card cannot be
 * written as one slot (several functions sharing their slot with
 * functions outside the card).
 */
int xengpu_resolve(const xengpu_resolve_req *req, xentoollog_logger *lg,
                   xengpu_resolution *res_r);

/*
 * The xl value of pci: the config's own entries then the chosen ones,
 * "[ 'a', 'b' ]", malloc'ed.  Entries are known to hold no quote.
 */
char *xengpu_resolution_pci_value(const xengpu_resolution *res,
                                  char *const *pci, size_t npci);

#endif /* XENGPU_RESOLVE_H */
