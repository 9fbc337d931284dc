/*
 * agent.h - xengpu-guest, the guest's side of xengpu's cooperation
 * protocol (xenstore-schema/schema, "the guest cooperation protocol").
 *
 * It runs in a Linux guest, as root.  dom0 writes "SEQ release" into the
 * guest's data/xengpu/request before it unplugs the guest's cards (for a
 * detach, a save or a migration) and "SEQ plugged" after it plugged one
 * in; the agent answers in data/xengpu/response.
 *
 * release: run the hooks in HOOKS_DIR in name order with the argument
 *   "release" (stop the display manager, checkpoint CUDA processes...),
 *   then unbind the guest drivers of every display-class PCI function
 *   and of the other functions of its slot, and answer "SEQ released".
 *   A hook that fails or outlives the deadline refuses: the hooks that
 *   already ran are run again, in reverse order, with "plugged" and
 *   XENGPU_UNDO=1 (so the display manager comes back), and the answer
 *   is "SEQ refused REASON", REASON the failed hook's first line of
 *   output.  The card then stays with the guest.
 * plugged: wait for the guest's PCI device list to settle (libxl adds a
 *   card's functions one at a time; the kernel binds them), run the
 *   hooks in reverse name order with "plugged", answer "SEQ done" (or
 *   "SEQ refused REASON" when a hook failed: dom0 logs it; the card is
 *   plugged either way).
 *
 * Hooks are the executable regular files of HOOKS_DIR whose names are
 * made of [A-Za-z0-9_-] only (run-parts' rule: "foo.dpkg-old" and
 * editor backups are skipped), owned by root or by the agent's user and
 * writable by nobody else; anything else is logged and skipped.  Each
 * runs with stdin on /dev/null, XENGPU_VERB, XENGPU_SEQ and (for an
 * undo) XENGPU_UNDO=1 in its environment, in its own process group,
 * which is killed when the request's deadline passes.
 *
 * The agent never rescans the PCI bus: the kernel adds plugged
 * functions itself (pcifront for PV guests, ACPI hotplug for HVM), and
 * a rescan racing pcifront's own add oopses Linux 6.1's PCI core.
 */
#ifndef XENGPU_GUEST_AGENT_H
#define XENGPU_GUEST_AGENT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <xenstore.h>

#include "xenstore-schema/proto.h"

#define XENGPU_GUEST_HOOKS_DIR "/etc/xengpu/guest.d"
#define XENGPU_GUEST_BASE "data/xengpu"
#define XENGPU_GUEST_DEADLINE 60 /* seconds for all hooks of a request */
#define XENGPU_GUEST_HOOKS_MAX 64

struct xengpu_agent_cfg {
    const char *base;       /* the protocol's xenstore directory */
    const char *hooks_dir;  /* NULL: no hooks */
    const char *sysfs;      /* sysfs root, "/sys" */
    unsigned deadline_s;    /* for all hooks of one request */
    bool unbind;            /* unbind the card's drivers on release */
    unsigned settle_ms;     /* the PCI list unchanged this long... */
    unsigned settle_max_ms; /* ...or this long at most */
    bool verbose;
};

/* The defaults above; BASE "data/xengpu", SYSFS "/sys". */
void xengpu_agent_cfg_init(struct xengpu_agent_cfg *cfg);

/*
 * The hooks of DIR, sorted by name (strcmp), into NAMES (up to MAX
 * entries, each malloc'ed: free them).  Files that are not hooks (see
 * above) are logged and skipped.  Returns how many, 0 when DIR does not
 * exist, or -errno when it cannot be read.
 */
int xengpu_agent_hooks(const char *dir, char **names, int max);

/*
 * Run hook NAME of DIR as `NAME VERB`, its environment as above, until
 * it exits or DEADLINE (CLOCK_MONOTONIC, ms) passes.  Returns 0 when it
 * exited 0; 1 when it refused, REASON (SIZE bytes) then holds why: its
 * first line of output, cut to what the protocol carries, or "hook NAME
 * exited N" / "hook NAME timed out"; -errno when it could not be run.
 */
int xengpu_agent_run_hook(const char *dir, const char *name, const char *verb,
                          uint32_t seq, bool undo, uint64_t deadline,
                          char *reason, size_t size);

/*
 * The first line of OUT (LEN bytes) as a protocol reason into REASON:
 * printable ASCII only, no leading space, at most
 * XENGPU_PROTO_REASON_MAX characters.  Empty when nothing printable.
 */
void xengpu_agent_reason(const char *out, size_t len, char *reason,
                         size_t size);

/*
 * Unbind the drivers of every display-class (0x03xxxx) function under
 * SYSFS/bus/pci/devices and of the other functions of its slot.
 * Returns how many were unbound, or -errno (the first failure; the
 * others are still tried).
 */
int xengpu_agent_unbind(const char *sysfs);

/*
 * Wait until SYSFS/bus/pci/devices has not changed for SETTLE_MS, at
 * most MAX_MS.  Returns 0 when settled, -ETIMEDOUT when not.
 */
int xengpu_agent_settle(const char *sysfs, unsigned settle_ms,
                        unsigned max_ms);

/*
 * Act on a request (the verb, its SEQ) as described above and format
 * the answer into RESPONSE (SIZE bytes, at least
 * XENGPU_PROTO_RESPONSE_MAX + 1).  Returns 0, or -errno when no answer
 * can be formed.
 */
int xengpu_agent_handle(const struct xengpu_agent_cfg *cfg, uint32_t seq,
                        xengpu_guest_verb verb, char *response, size_t size);

/* One agent on one xenstore connection. */
typedef struct xengpu_agent xengpu_agent;

/*
 * Announce the agent (BASE/agent = version) and watch BASE on XS (the
 * caller keeps XS open while the agent lives).  Returns 0 and the agent
 * in *AGENT_R, or -errno.
 */
int xengpu_agent_start(const struct xengpu_agent_cfg *cfg,
                       struct xs_handle *xs, xengpu_agent **agent_r);

/*
 * Handle every watch event queued on the agent's connection without
 * blocking: announce the agent again if its node is gone (a restored or
 * migrated guest starts with an empty data/ subtree), act on a new
 * request once and answer it.  A malformed request is logged and
 * ignored.  Returns the number of requests answered, or -errno when
 * xenstore failed.
 */
int xengpu_agent_step(xengpu_agent *agent);

/* Withdraw the announcement, unwatch and free.  NULL is fine. */
void xengpu_agent_stop(xengpu_agent *agent);

/* Logging: to standard error, "xengpu-guest: ..." */
void xengpu_agent_log(const char *fmt, ...)
    __attribute__((format(printf, 1, 2)));

#endif /* XENGPU_GUEST_AGENT_H */
