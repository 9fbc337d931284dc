/*
 * save.h - save and restore GPU guests by unplugging and replugging their
 * cards.
 *
 * Xen cannot track a guest's dirty memory while a device is assigned to
 * it (the IOMMU does not report DMA writes), so `xl save` of a guest
 * with a card fails.  xengpu_save():
 *
 *   1. precheck: the domain, its cards, its gpu_migration (a guest that
 *      says "refuse" is not saved with a card), the pre hooks;
 *   2. reserve its cards for it (toolstack/reserve.h), ask its agent to
 *      let go (toolstack/xstore.h), and unplug them through libxl: they
 *      stay on xen-pciback, quarantined, never back to a dom0 driver;
 *   3. write FILE: `xl save` writes FILE.tmp itself, xengpu appends its
 *      header (migrate/stream.h: the request, each card's description,
 *      libxl's config of the domain) as a trailer with a footer, and
 *      renames it (xl restore ignores the trailer: the file also
 *      restores without xengpu);
 *   4. commit: the cards go back to the pool, the reservation goes.
 *
 * Any failure before the commit rolls back: the cards go back into the
 * still running guest (xl resumes a guest whose save failed) and its
 * agent is told; FILE is not written.
 *
 * xengpu_restore() reads the header, picks on this host a free card for
 * each of the guest's that its gpu_compat allows and its MMIO hole holds
 * (the same card when it is free), prepares and reserves them, runs
 * `xl restore` on the rest of FILE, plugs the cards in, tells the agent,
 * records the request, and commits.  A failure after the domain exists
 * destroys it again: FILE is never changed, so the restore can be tried
 * again.
 *
 * Both journal their phase in STATE_DIR/ops/UUID.json while they run
 * (a save keeps its header beside it, in UUID.hdr);
 * xengpu_save_recover() finishes or undoes what a killed save or restore
 * left: it waits for a save's xl to end, then puts the cards back into
 * a guest that still exists (resuming it if a save left it suspended),
 * or finishes the file of a guest xl saved; it destroys a half-restored
 * domain.  Both return 0 or a negative errno, each failure logged once with
 * what to do.
 */
#ifndef XENGPU_SAVE_H
#define XENGPU_SAVE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>
#include <xentoollog.h>

typedef struct xengpu_save_ops {
    /* Prepare / release a card (the privileged helper), by address. */
    int (*prepare)(void *opaque, const char *bdf);
    int (*release)(void *opaque, const char *bdf);
    void *opaque;
} xengpu_save_ops;

typedef struct xengpu_save_req {
    const char *domain;    /* save: a name or id */
    const char *file;      /* the save file */
    const char *state_dir; /* NULL: default */
    int timeout;           /* seconds for the agent and each unplug; 0: 10 */
    bool force;            /* unplug what the guest will not release */
    FILE *out;             /* progress, one line per phase */
    const xengpu_save_ops *ops;
    /* migrate: */
    const char *host;      /* the destination, as TRANSPORT takes it */
    const char *transport; /* shell words run as TRANSPORT HOST COMMAND;
                              NULL: "ssh" */
    /* migrate-receive: */
    const char *uuid; /* the migrating domain's UUID */
} xengpu_save_req;

int xengpu_save(const xengpu_save_req *req, xentoollog_logger *lg);
int xengpu_restore(const xengpu_save_req *req, xentoollog_logger *lg);

/*
 * Migration, by unplug and replug around `xl migrate`.
 *
 * xengpu_migrate() on the source host:
 *   1. precheck here (the domain, its cards, gpu_migration), then on
 *      HOST: runs
 *      `TRANSPORT HOST xengpu migrate-receive check UUID` with the
 *      stream header (migrate/stream.h) on its input; the receiver picks,
 *      prepares and reserves a compatible card for each, or refuses:
 *      then nothing here was touched;
 *   2. reserve the cards here too, ask the agent, unplug;
 *   3. `xl migrate -s "" DOMAIN "exec TRANSPORT HOST xengpu
 *      migrate-receive incoming UUID"`: on HOST, xengpu runs `xl
 *      migrate-receive` and relays its stream.  When xl has the domain
 *      rebuilt (paused, before the sender's "go"), xengpu checks that
 *      the reserved cards are still prepared and reserved; if not it
 *      withholds xl's "ready": the sender's xl resumes the guest here,
 *      and HOST destroys its copy.  A PV guest moves cold (Debian's
 *      Xen cannot track a PV guest's dirty memory): xengpu speaks the
 *      sender's side of xl's protocol itself around `xl save -p`, the
 *      guest paused here until HOST runs it, renamed
 *      DOMAIN--migratedaway once it gave the go, destroyed after;
 *   4. `... migrate-receive finish UUID`: HOST plugs the reserved cards
 *      into the guest once it runs there (an HVM guest given a card
 *      while xl holds it paused never sees it), tells its agent and
 *      records its request; this host's cards go back to its pool.  A
 *      failure here leaves the guest running on HOST without its card,
 *      said with what to do: there is no way back once xl said go.
 *   On any failure before the go, the guest runs here with its cards
 *   again, and HOST is told to drop its reservation.
 *
 * Progress is printed per phase, with the guest's time without its
 * card.  Both sides journal (STATE/ops/UUID.json, UUID.in.json on the
 * receiver) for xengpu_save_recover().
 */
int xengpu_migrate(const xengpu_save_req *req, xentoollog_logger *lg);

/*
 * The receiving side; REQ->uuid names the migration.  MODE "check"
 * reads the header from standard input and answers one line on
 * standard output: "ok BDF..." or "refused"; "incoming" relays `xl
 * migrate-receive` between standard input and output; "finish" plugs
 * the cards into the guest that runs and answers "ok" or "failed";
 * "cancel" drops what "check" reserved.
 */
int xengpu_migrate_receive(const xengpu_save_req *req, const char *mode,
                           xentoollog_logger *lg);

/*
 * Finish or undo the saves, restores and migrations (either side) a
 * crash interrupted, from their journals; leave alone those whose
 * process still runs (it holds STATE/ops/UUID[.in].lock) and, for ten
 * minutes, an incoming migration still waiting for its source.  At a
 * migration's source it tells the destination (through the journaled
 * transport) to cancel or finish.  Returns how many it handled, or a
 * negative errno.
 */
int xengpu_save_recover(const char *state_dir, xentoollog_logger *lg);

/*
 * The save file's trailer (internal; for the tests and the fuzzer).
 * _append writes H's encoded header and the footer (its length as a
 * little-endian uint64, then "XGPUtail") at the end of FD.  _read reads
 * them back from the end of FD into *H (init'ed by the caller), never
 * reading more than the footer claims within the file and 1 MiB; both
 * return 0, or -EINVAL / -errno with WHY saying what is wrong.
 */
struct xengpu_stream_hdr;
int xengpu__trailer_append(int fd, const struct xengpu_stream_hdr *h,
                           char *why, size_t whysize);
int xengpu__trailer_read(int fd, struct xengpu_stream_hdr *h, char *why,
                         size_t whysize);

#endif /* XENGPU_SAVE_H */
