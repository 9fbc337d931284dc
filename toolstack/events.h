/*
 * events.h - xengpu's events: the admin's hooks and the event log.
 *
 * Every operation xengpu performs on a card or a GPU guest is announced
 * as events: a "pre" event before it starts, a "post" event after it
 * ends, carrying its result, and for migrations one event per phase.
 * xengpu_event_emit() does both things an event is for:
 *
 *   1. it appends the event as one JSON line to STATE_DIR/events.log,
 *      which `xengpu events [--follow] [--json]` prints
 *      (xengpu_events_print());
 *   2. it runs the admin's hooks, each executable in the hooks directory
 *      in turn, with that same JSON line on stdin.  A hook that fails on
 *      a pre event stops the operation before it has touched anything.
 *
 * Typical use by a command (attach shown; every operation the same way):
 *
 *     xengpu_events *ev = NULL;
 *     xengpu_event e;
 *     char *reason = NULL;
 *
 *     r = xengpu_events_open(NULL, lg, &ev);          // or a config
 *     xengpu_event_init(&e, XENGPU_EVENT_ATTACH, XENGPU_PHASE_PRE);
 *     xengpu_event_set_card(&e, &card);
 *     xengpu_event_set_domain(&e, domid, name);
 *     r = xengpu_event_emit(ev, &e, &reason);
 *     if (!r) r = do_the_attach(...);
 *     e.phase = XENGPU_PHASE_POST;                    // always a post
 *     xengpu_event_set_result(&e, r, reason);         // even if refused
 *     xengpu_event_emit(ev, &e, NULL);                // never fails
 *     free(reason);
 *     xengpu_events_close(ev);
 *
 * Every pre event is followed by exactly one post event of the same kind,
 * card and domain, also when a pre-hook refused (result "failed", the
 * refusal as error), so hooks that take a resource at pre can always
 * give it back at post.
 *
 * ---- The event (JSON contract for hooks and dom0 scripts) ------------
 *
 * One JSON object on one line, ending in "\n", always with these keys in
 * this order (an absent value is null, never a missing key):
 *
 *   {"version":1,"seq":42,"time":"2026-11-27T08:00:00.250Z",
 *    "host":"dom0a","pid":1234,"kind":"attach","phase":"post",
 *    "card":"0000:01:00.0","domid":5,"domain":"guest1",
 *    "result":"failed","error":"hook 10-check-load refused: too busy"}
 *
 *   version  1; a change that breaks a reader gets a new version
 *   seq      integer: increases by one for each event logged on this
 *            host, across processes; 0 when the event could not be
 *            logged (see the event log below)
 *   time     string: UTC, RFC 3339 with milliseconds, "Z" suffix
 *   host     string: the host's name (uname nodename)
 *   pid      integer: the xengpu process that emitted it; a pre event
 *            and its post event have the same pid
 *   kind     "prepare", "release", "attach", "detach", "create", "save",
 *            "restore", "migrate" or "recover"
 *   phase    "pre" (before the operation; a hook can stop it), "post"
 *            (after it), or, for "migrate" only, the phase of the
 *            migration about to run: "precheck", "reserve", "unplug",
 *            "transfer", "restore", "plug", "commit" or "rollback"
 *   card     string "DDDD:BB:DD.F", function 0 of the card; or null
 *   domid    integer domain id; or null
 *   domain   string domain name; or null
 *   result   "ok" or "failed" on post events; null on pre events;
 *            a migrate phase event may carry either
 *   error    string, one line, why it failed; null unless "failed"
 *
 * Strings are valid UTF-8 without control characters: anything else a
 * caller passes (a domain name, an error) is replaced by '?'.  Lengths
 * are bounded by the XENGPU_EVENT_*_MAX below (longer values are cut),
 * so one event is always shorter than 4 KiB.
 *
 * ---- Hooks ------------------------------------------------------------
 *
 * The hooks directory is the config's hooks_dir, else $XENGPU_HOOKS_DIR,
 * else /etc/xengpu/hooks.d.  No such directory: nothing to run.  For
 * each event xengpu_hooks_run() runs, in the C locale's lexical order of
 * their names (like run-parts: "10-a" < "20-b" < "9-c"), every entry
 * that is a regular file (symlinks followed) with an execute bit, except
 * names that start with '.' or end in '~', ".bak", ".dpkg-*" (".dpkg-old",
 * ".dpkg-dist", ...) or ".rpm*" (".rpmnew", ".rpmsave", ...).
 *
 * Each hook runs as argv {PATH, KIND, PHASE}, in its own process group,
 * in "/", with signals at their defaults, no file descriptor but 0-2 and
 * exactly this environment:
 *
 *   PATH=/usr/sbin:/usr/bin:/sbin:/bin
 *   XENGPU_EVENT=KIND          (e.g. "attach")
 *   XENGPU_PHASE=PHASE         (e.g. "pre", "transfer")
 *
 * stdin holds the event's JSON line, then end of file.  stdout and
 * stderr go to one pipe; the first 4 KiB are kept and logged at
 * XTL_INFO, the rest read and dropped.  A hook is done when it exits
 * (output its own children still write is not waited for).  A hook that
 * runs longer than the timeout (30 s by default) has its whole process
 * group killed with SIGKILL.
 *
 * A hook fails when it exits non-zero, is killed by a signal, times out
 * or cannot be executed.  What a failure does depends on the phase:
 *
 *   pre     the run stops there (later hooks are not run) and returns
 *           -ECANCELED with one of these reasons (FIRST LINE is the
 *           hook's first non-blank line of output, at most 200 bytes):
 *             "hook NAME refused: FIRST LINE"
 *             "hook NAME refused: exit status N"     (no output)
 *             "hook NAME refused: killed by signal N" (no output)
 *             "hook NAME timed out after 30 s[: FIRST LINE]"
 *             "hook NAME cannot be run: Exec format error (no #! line?)"
 *           The caller must not perform the operation.
 *   other   logged as a warning ("hook NAME failed: ..."); the next
 *           hooks still run and the result is 0: an operation that
 *           happened cannot be undone by a hook.
 *
 * Safety: hooks run as root, so the directory and every hook (the file a
 * symlink points to) must be owned by root or by the effective user, and
 * not be writable by group or others.  Every hook is checked before the
 * first one runs.  On a pre event, anything unsafe means no hook runs
 * and the run returns -EPERM, with a reason naming the path and the fix
 * ("hooks directory D is writable by group or others: no hooks run
 * (chmod go-w D)"): the operation must not go ahead without the admin's
 * checks.  On other events the unsafe hook (for the directory: every
 * hook) is skipped with a warning.
 *
 * Hooks are started with fork() (the child calls only async-signal-safe
 * functions before execve(), so threaded callers are fine) and waited
 * for with waitpid() on their pid only; the caller must not have SIGCHLD
 * set to SIG_IGN (a hook's exit status would be lost, which counts as a
 * failure).
 *
 * Recursion: a hook that runs xengpu (say `xengpu detach` of another
 * card) gets its events logged, but no hooks are run for them (xengpu
 * sees XENGPU_EVENT in its environment), so hooks cannot call each
 * other forever or deadlock on a card's lock.
 *
 * ---- The event log ----------------------------------------------------
 *
 *   STATE_DIR/events.log     one JSON line per event, oldest first
 *   STATE_DIR/events.log.1   the previous generation
 *   STATE_DIR/events.seq     the last sequence number given out, in
 *                            decimal; flock(2)ed by every appender
 *
 * An appender takes events.seq's lock, increments the number in it,
 * appends the line to events.log (O_APPEND, one write()) and, once the
 * log is 1 MiB or more (the config's log_max), renames it to
 * events.log.1, replacing the older generation, before unlocking.  So
 * lines never interleave, sequence numbers are unique and appear in
 * increasing order through events.log.1 then events.log, and two
 * processes never rotate at once.  The counter is in its own file so that
 * it survives rotation; when it is missing or damaged, counting resumes
 * after the highest seq in the last 64 KiB of either log.  Nothing is
 * fsynced: after a power loss the last events may be missing (a crash of
 * the process loses nothing).
 *
 * Writing the log is best effort: xengpu_event_emit() logs a warning and
 * runs the hooks anyway (with seq 0) when the log cannot be written;
 * an operation is never refused for that.
 *
 * ---- Reading ----------------------------------------------------------
 *
 * xengpu_events_print() prints the logged events, events.log.1 then
 * events.log, either as the JSON lines exactly as logged (what the hooks
 * got) or as text, one line per event:
 *
 *   2026-11-27T08:00:00.250Z #42 attach/post      0000:01:00.0 guest1(5)
 *   failed: hook 10-check-load refused: too busy
 *
 * (one line; shown on two here), fields time, #seq, kind/phase (padded
 * to 16 columns), card or "-" (padded to 12), domain as NAME(ID), NAME,
 * (ID) or "-", and the result: "-" (none), "ok" or "failed: ERROR".  Lines that are not events (damaged by a
 * power loss) are skipped.  In follow mode it then keeps printing events
 * as they are appended, across rotations (inotify on the state
 * directory, and a look every 200 ms in case inotify is not available),
 * until the stop callback says so or the timeout passes.
 *
 * All functions that can fail return 0 or a negative errno and log the
 * failure once through the handle's logger (NULL: stderr at XTL_WARN).
 * Nothing here prints except xengpu_events_print() to its FILE *.
 * A handle is not thread-safe; processes may share the state directory
 * freely.
 */
#ifndef XENGPU_EVENTS_H
#define XENGPU_EVENTS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <xengpu.h>
#include <xentoollog.h>

#define XENGPU_HOOKS_DIR_DEFAULT "/etc/xengpu/hooks.d"
#define XENGPU_HOOKS_DIR_ENV "XENGPU_HOOKS_DIR"
#define XENGPU_HOOK_TIMEOUT_MS_DEFAULT 30000
#define XENGPU_EVENTS_LOG_MAX_DEFAULT (1024 * 1024)

/* Longest values kept in an event, in bytes, terminating NUL excluded. */
#define XENGPU_EVENT_HOST_MAX 255
#define XENGPU_EVENT_DOMAIN_MAX 255
#define XENGPU_EVENT_ERROR_MAX 511

/* "2026-11-27T08:00:00.250Z" and its NUL. */
#define XENGPU_EVENT_TIME_STRLEN 25

typedef enum xengpu_event_kind {
    XENGPU_EVENT_PREPARE,
    XENGPU_EVENT_RELEASE,
    XENGPU_EVENT_ATTACH,
    XENGPU_EVENT_DETACH,
    XENGPU_EVENT_CREATE,
    XENGPU_EVENT_SAVE,
    XENGPU_EVENT_RESTORE,
    XENGPU_EVENT_MIGRATE,
    XENGPU_EVENT_RECOVER,
} xengpu_event_kind;
#define XENGPU_EVENT_NKINDS (XENGPU_EVENT_RECOVER + 1)

typedef enum xengpu_event_phase {
    XENGPU_PHASE_PRE,  /* before the operation: hooks may refuse it */
    XENGPU_PHASE_POST, /* after it: result set */
    /* XENGPU_EVENT_MIGRATE only, announced as each phase begins: */
    XENGPU_PHASE_PRECHECK, /* is a compatible card free there? */
    XENGPU_PHASE_RESERVE,  /* the destination's card is set aside */
    XENGPU_PHASE_UNPLUG,   /* the guest lets go of its card */
    XENGPU_PHASE_TRANSFER, /* the domain's memory is sent or saved */
    XENGPU_PHASE_RESTORE,  /* the domain is rebuilt on the destination */
    XENGPU_PHASE_PLUG,     /* the reserved card goes into the guest */
    XENGPU_PHASE_COMMIT,   /* done: the source card back to the pool */
    XENGPU_PHASE_ROLLBACK, /* failed: back to the source with its card */
} xengpu_event_phase;
#define XENGPU_EVENT_NPHASES (XENGPU_PHASE_ROLLBACK + 1)

typedef enum xengpu_event_result {
    XENGPU_RESULT_NONE, /* JSON null: pre events, phases without one */
    XENGPU_RESULT_OK,
    XENGPU_RESULT_FAILED, /* error says why */
} xengpu_event_result;

/*
 * One event; a plain value (copy it, keep it on the stack).  The caller
 * sets the first group, through xengpu_event_init() and the setters
 * (which bound and sanitize strings); xengpu_events_append() and
 * xengpu_event_emit() fill the second.
 */
typedef struct xengpu_event {
    xengpu_event_kind kind;
    xengpu_event_phase phase;
    xengpu_event_result result;
    char error[XENGPU_EVENT_ERROR_MAX + 1]; /* "" unless FAILED */
    bool has_card;
    xengpu_bdf card; /* function 0 of the card, when has_card */
    long domid;      /* -1: none */
    char domain[XENGPU_EVENT_DOMAIN_MAX + 1]; /* "": none */

    uint64_t seq;    /* 0: not logged */
    int64_t time_ms; /* milliseconds since the epoch, UTC */
    long pid;
    char host[XENGPU_EVENT_HOST_MAX + 1];
} xengpu_event;

/* "attach", "migrate", ...; "?" out of range. */
const char *xengpu_event_kind_name(xengpu_event_kind kind);
/* "pre", "post", "transfer", ...; "?" out of range. */
const char *xengpu_event_phase_name(xengpu_event_phase phase);
/* NULL for XENGPU_RESULT_NONE, "ok", "failed"; "?" out of range. */
const char *xengpu_event_result_name(xengpu_event_result result);

/* The kind or phase named NAME (as the *_name() functions write them):
 * 0, or -EINVAL for an unknown name. */
int xengpu_event_kind_parse(const char *name, xengpu_event_kind *kind_r);
int xengpu_event_phase_parse(const char *name, xengpu_event_phase *phase_r);

/* Set *E to KIND and PHASE with nothing else: no card, no domain (domid
 * -1), no result, seq 0, time 0, pid 0, host "". */
void xengpu_event_init(xengpu_event *e, xengpu_event_kind kind,
                       xengpu_event_phase phase);
/* The card (function 0 of it names it); NULL: none. */
void xengpu_event_set_card(xengpu_event *e, const xengpu_bdf *card);
/* The domain: DOMID (< 0: unknown) and NAME (NULL or "": unknown). */
void xengpu_event_set_domain(xengpu_event *e, long domid, const char *name);
/*
 * The result of the operation, from its return value RC: 0 is "ok"
 * (ERROR ignored, error cleared); a negative errno is "failed" with
 * ERROR as the reason, or strerror(-RC) when ERROR is NULL or "".  Only
 * ERROR's first line is kept.
 */
void xengpu_event_set_result(xengpu_event *e, int rc, const char *error);

/*
 * Whether *E makes sense: kind and phase in range, a migration phase
 * only on a migrate event, no result on a pre event, a result on a post
 * event, an error exactly when failed, domid >= -1.  0 or -EINVAL.
 */
int xengpu_event_check(const xengpu_event *e);

/*
 * The JSON line of *E as described above, malloc'ed (free() it), ending
 * in "\n"; under 4 KiB.  Does not check *E: values out of range are
 * written as "?".  Never fails (aborts when out of memory).
 */
char *xengpu_event_json(const xengpu_event *e);

/*
 * The text line of *E as described under Reading, malloc'ed, ending in
 * "\n".  Never fails.
 */
char *xengpu_event_text(const xengpu_event *e);

/*
 * Parse LEN bytes of TEXT (one JSON line as xengpu_event_json() writes
 * it; a final "\n" is allowed) into *e_r.  Keys it does not know are
 * ignored; each known key must have its documented type and a valid
 * value.  0, or -EINVAL (nothing logged: damaged lines are expected).
 */
int xengpu_event_parse(const char *text, size_t len, xengpu_event *e_r);

/* ---- the handle ------------------------------------------------------ */

typedef struct xengpu_events xengpu_events;

typedef struct xengpu_events_config {
    const char *state_dir; /* NULL: $XENGPU_STATE_DIR, else default */
    const char *hooks_dir; /* NULL: $XENGPU_HOOKS_DIR, else default */
    const char *host;      /* NULL: uname's nodename */
    int hook_timeout_ms;   /* per hook; <= 0: 30 s */
    size_t log_max;        /* rotate events.log at; 0: 1 MiB */
} xengpu_events_config;

/* All defaults: NULLs and zeros. */
void xengpu_events_config_init(xengpu_events_config *cfg);

/*
 * Open the state directory (creating it, see xengpu_state_open()) and
 * remember the rest of CFG (NULL: all defaults; its strings are copied).
 * LG is kept for every later call (NULL: stderr at XTL_WARN) and must
 * outlive the handle.  *ev_r gets the handle, for xengpu_events_close().
 * The hooks directory is not looked at until hooks run.
 *
 * Returns 0.  A state directory that cannot be opened is logged (as an
 * error) and only takes the event log away: appends and reads then
 * return its -errno without logging again, and hooks still run, since
 * they are the admin's say over operations.
 */
int xengpu_events_open(const xengpu_events_config *cfg, xentoollog_logger *lg,
                       xengpu_events **ev_r);

/* Close EV; NULL is fine. */
void xengpu_events_close(xengpu_events *ev);

/*
 * Emit *E: check it (-EINVAL, logged, for one that makes no sense), stamp
 * it (seq, time now, pid, host: written back into *E), append it to the
 * event log (a failure is only logged) and run the hooks
 * (xengpu_hooks_run()).  Returns what the hooks returned: always 0 for
 * events other than pre; for pre events 0 to go ahead, or -ECANCELED /
 * -EPERM / another -errno to stop, with *reason_r (when REASON_R is not
 * NULL) set to a malloc'ed one-line reason, already logged at XTL_ERROR.
 * *reason_r is left alone on success.
 */
int xengpu_event_emit(xengpu_events *ev, xengpu_event *e, char **reason_r);

/*
 * Stamp *E and append it to the event log, rotating it when it is full;
 * e->seq is 0 when this fails.  0, or -errno (logged as a warning).
 * Does not check *E.
 */
int xengpu_events_append(xengpu_events *ev, xengpu_event *e);

/*
 * Run the hooks for *E (as stamped: they get xengpu_event_json(E)), as
 * described under Hooks.  0; on a pre event -ECANCELED when a hook
 * refused or timed out, -EPERM when the directory or a hook is unsafe,
 * or -errno when the directory cannot be read or a hook not started,
 * with *reason_r as for xengpu_event_emit().
 */
int xengpu_hooks_run(xengpu_events *ev, const xengpu_event *e,
                     char **reason_r);

/* ---- reading ----------------------------------------------------------- */

typedef bool xengpu_events_stop_fn(void *arg);

/* What xengpu_events_print() prints, and how. */
typedef struct xengpu_events_query {
    long domid;                  /* >= 0: only events of this domain */
    bool has_card;               /* only events of this card, named */
    xengpu_bdf card;             /*   as events name it (function 0) */
    uint64_t after_seq;          /* only events with a larger seq */
    bool text;                   /* text lines instead of JSON lines */
    bool follow;                 /* then wait for more, see below */
    bool new_only;               /* follow: skip what is already logged */
    int timeout_ms;              /* follow: stop after this long; < 0 never */
    xengpu_events_stop_fn *stop; /* follow: stop when it returns true */
    void *stop_arg;
} xengpu_events_query;

/* Everything, as JSON, no follow: domid -1, timeout_ms -1, rest 0. */
void xengpu_events_query_init(xengpu_events_query *q);

/*
 * Print the events Q selects to OUT, flushing it after each batch.
 * Without Q->follow, returns once both generations are printed.  With
 * it, keeps printing new events as they are appended until Q->stop (when
 * set; called at least every 200 ms and after each batch) returns true
 * or Q->timeout_ms has passed; either is success.  A missing log is an
 * empty one.  0, or -errno when the log cannot be read or OUT written
 * (logged).
 */
int xengpu_events_print(xengpu_events *ev, const xengpu_events_query *q,
                        FILE *out);

#endif /* XENGPU_EVENTS_H */
