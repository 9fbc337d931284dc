/*
 * state.h - xengpu's state directory: per-card locks, the operation
 * journal and the records of prepared cards.
 *
 * Layout below the state directory (default /var/lib/xengpu,
 * $XENGPU_STATE_DIR or --state-dir):
 *
 *   locks/DDDD:BB:DD.F.lock    flock(2)ed while an operation runs on the
 *                              card; holds "OP PID" for whoever waits
 *   journal/DDDD:BB:DD.F.json  an operation in flight: written (fsync,
 *                              rename) before the first function moves,
 *                              removed when the operation is complete or
 *                              undone; what `recover` reads
 *   cards/DDDD:BB:DD.F.json    a prepared card and the driver each of its
 *                              functions had before, so `release` can
 *                              give them back after a reboot
 *
 * Every file name is formatted from a parsed xengpu_bdf, never taken from
 * input.  Records are small JSON objects (see xengpu_cardrec_format());
 * the parser is strict and bounded, since a record may be damaged.
 *
 * All functions return 0 or a negative errno and log failures through LG
 * (NULL: stderr) once, naming the card.
 */
#ifndef XENGPU_STATE_H
#define XENGPU_STATE_H

#include <stdbool.h>
#include <stddef.h>
#include <xentoollog.h>

#include "bdf.h"

#define XENGPU_STATE_DIR_DEFAULT "/var/lib/xengpu"
#define XENGPU_STATE_DIR_ENV "XENGPU_STATE_DIR"

/* Functions per card xengpu handles (a slot has at most 8). */
#define XENGPU_MAX_FNS 8
/* Longest driver name kept ("snd_hda_intel", "nvidia", "xhci_hcd"). */
#define XENGPU_DRIVER_MAX 63

typedef struct xengpu_fnrec {
    xengpu_bdf bdf;
    char driver[XENGPU_DRIVER_MAX + 1]; /* "" when it had none */
} xengpu_fnrec;

/* What a journal entry or card record says. */
typedef enum xengpu_recop {
    XENGPU_REC_PREPARE,  /* journal: moving the card to pciback */
    XENGPU_REC_RELEASE,  /* journal: giving it back */
    XENGPU_REC_PREPARED, /* card record: prepared by xengpu */
} xengpu_recop;

typedef struct xengpu_cardrec {
    xengpu_recop op;
    xengpu_bdf card; /* function 0's address names the card */
    long pid;        /* of the process that wrote it */
    long long time;  /* seconds since the epoch */
    size_t nfns;
    xengpu_fnrec fns[XENGPU_MAX_FNS];
} xengpu_cardrec;

/* Which file of a card: journal/ or cards/. */
typedef enum xengpu_reckind {
    XENGPU_JOURNAL,
    XENGPU_CARDREC,
} xengpu_reckind;

/* "prepare", "release", "prepared". */
const char *xengpu_recop_name(xengpu_recop op);

/* True for a plausible kernel driver name: [A-Za-z0-9_-], 1..63 chars. */
bool xengpu_driver_name_ok(const char *name);

/*
 * Open (creating, mode 0700, with its subdirectories) the state
 * directory DIR; NULL means $XENGPU_STATE_DIR if set, else the default.
 * *fd_r gets an O_CLOEXEC directory fd.
 */
int xengpu_state_open(const char *dir, xentoollog_logger *lg, int *fd_r);

/*
 * Take CARD's lock for OP ("prepare", "release", "recover", ...).  When
 * another process holds it, logs (at XTL_NOTICE) which operation it is
 * running and waits for it.  *lockfd_r gets the fd to pass to
 * xengpu_state_unlock().
 */
int xengpu_state_lock(int state_fd, const xengpu_bdf *card, const char *op,
                      xentoollog_logger *lg, int *lockfd_r);
/* Release a lock from xengpu_state_lock(); -1 is fine. */
void xengpu_state_unlock(int lockfd);

/* Write REC atomically (temporary file, fsync, rename, fsync dir). */
int xengpu_rec_write(int state_fd, xengpu_reckind kind,
                     const xengpu_cardrec *rec, xentoollog_logger *lg);
/* Read CARD's record of KIND; -ENOENT (not logged) when there is none. */
int xengpu_rec_read(int state_fd, xengpu_reckind kind, const xengpu_bdf *card,
                    xengpu_cardrec *rec_r, xentoollog_logger *lg);
/* Remove CARD's record of KIND; absent is success. */
int xengpu_rec_remove(int state_fd, xengpu_reckind kind,
                      const xengpu_bdf *card, xentoollog_logger *lg);
/*
 * The cards that have a record of KIND, ascending; *cards_r is malloc'ed
 * (free() it).  Files whose names are not canonical card records are
 * ignored.
 */
int xengpu_rec_list(int state_fd, xengpu_reckind kind, xengpu_bdf **cards_r,
                    size_t *n_r, xentoollog_logger *lg);

/*
 * The JSON text of REC, malloc'ed:
 *   {"version":1,"op":"prepare","card":"0000:01:00.0","pid":42,
 *    "time":1764201600,"functions":[{"bdf":"0000:01:00.0","driver":null},
 *    {"bdf":"0000:01:00.1","driver":"snd_hda_intel"}]}
 */
char *xengpu_cardrec_format(const xengpu_cardrec *rec);
/*
 * Parse LEN bytes of TEXT into *rec_r.  -EINVAL for anything that is not
 * exactly such a record: unknown version or op, a bad address, a driver
 * name xengpu_driver_name_ok() refuses, functions not of the card's slot,
 * duplicates, too many functions, or text over 8 KiB.
 */
int xengpu_cardrec_parse(const char *text, size_t len, xengpu_cardrec *rec_r);

/*
 * Commands that pick free cards (create, restore, a migration's
 * destination) hold STATE_DIR/choose.lock from looking at the host until
 * the cards are theirs (plugged, or reserved), so that two of them never
 * pick the same card.  Returns the lock's fd (give it to
 * xengpu__choose_unlock()), waiting for the holder, or a negative errno
 * (logged).  STATE_DIR NULL: the default.
 */
int xengpu__choose_lock(const char *state_dir, xentoollog_logger *lg);
void xengpu__choose_unlock(int fd);

#endif /* XENGPU_STATE_H */
