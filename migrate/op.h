/*
 * op.h - private to migrate/: the operation that save, restore,
 * migrate, migrate-receive and recover share (op.c), and the parts of
 * migrate.c that recover uses.  Each function returns 0 or a negative
 * errno unless it says otherwise; the comments at the definitions say
 * what each does.
 */
#ifndef XENGPU_MIGRATE_OP_H
#define XENGPU_MIGRATE_OP_H

#include <errno.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <sys/types.h>
#include <time.h>
#include <xentoollog.h>
#include <yajl/yajl_gen.h>
#include <yajl/yajl_tree.h>

#include "migrate/save.h"
#include "migrate/stream.h"
#include "pciback-helper/host.h"
#include "toolstack/domains.h"
#include "toolstack/events.h"
#include "toolstack/reserve.h"

#define MAX_CARDS 16

#define RESERVE_SECONDS 3600

/* What one save or restore works on. */
struct op {
    const xengpu_save_req *req;
    xentoollog_logger *lg;
    const char *verb; /* "save" / "restore" */
    char uuid[XENGPU_UUID_STRLEN];
    char name[65];
    uint32_t domid;
    xengpu_host *host;
    xengpu_xl *xl;
    const xengpu_card *cards[MAX_CARDS]; /* this host's cards */
    char bdfs[MAX_CARDS][XENGPU_BDF_STRLEN];
    /* the per-device options each card had, to give it (or the card
     * that replaces it) again: "permissive=1,...", "" for none */
    char opts[MAX_CARDS][XENGPU_STREAM_OPTS_MAX + 2];
    size_t n;
    size_t unplugged;         /* save: how many are out of the guest */
    bool prepared[MAX_CARDS]; /* restore: prepared by this command */
    xengpu_events *ev;
    struct timespec t0;
    pid_t xl_pid;  /* the running xl save or migrate, for recover */
    double pause;  /* migrate: seconds the guest was paused, < 0 unknown */
    bool incoming; /* migrate-receive: journal in UUID.in.json */
    int lock_fd;   /* ops/UUID[.in].lock, flock'ed while we work on it */
};

/*
 * The save file is what `xl save` writes, followed by xengpu's header
 * (migrate/stream.h) as a trailer and a footer: the header's length as
 * a little-endian uint64 and TRAILER_MAGIC.  xl reads and writes the
 * file itself (a pipe between them cost half again the time of a save
 * in the nested bed), `xl restore` ignores what follows libxl's stream,
 * so a xengpu save file is also a valid xl save file: nothing is lost
 * without xengpu.
 */
#define TRAILER_MAGIC "XGPUtail"
#define FOOTER_LEN 16

/* A JSON string out, for the journals. */
#define GEN_STR(g, s) \
    yajl_gen_string((g), (const unsigned char *)(s), strlen(s))

/* --- op.c ---------------------------------------------------------------- */

double xengpu__op_since(const struct timespec *t0);
void xengpu__op_say(struct op *o, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
int xengpu__op_timeout_of(const struct op *o);
int xengpu__op_event(struct op *o, xengpu_event_kind kind,
                     xengpu_event_phase ph, int rc, const char *error);
void xengpu__op_file(const struct op *o, const char *ext, char *buf,
                     size_t size);
int xengpu__op_lock(struct op *o, int sfd, xentoollog_level busy_level);
void xengpu__op_unlock(struct op *o, int sfd);
int xengpu__op_lock_now(struct op *o);
int xengpu__op_journal(struct op *o, const char *phase);
int xengpu__op_spawn_xl3(char **argv, int out, int fd3, pid_t *pid_r,
                         xentoollog_logger *lg);
int xengpu__op_spawn_xl(char **argv, int out, pid_t *pid_r,
                        xentoollog_logger *lg);
int xengpu__op_wait_xl(pid_t pid);
int xengpu__op_discover(struct op *o);
int xengpu__op_plug_card(struct op *o, size_t i, const xengpu_card *c);
void xengpu__op_journal_opts(yajl_val root, size_t i, char *out);
void xengpu__op_logdirty_off(struct op *o);
void xengpu__op_replug(struct op *o);
void xengpu__op_unreserve_all(struct op *o);
int xengpu__op_unplug_all(struct op *o);
int xengpu__op_keep_header(struct op *o, const xengpu_stream_hdr *h);
void xengpu__op_init(struct op *o, const xengpu_save_req *req,
                     xentoollog_logger *lg, const char *verb);
void xengpu__op_dispose(struct op *o);
int xengpu__op_take_stock(struct op *o, xengpu_stream_hdr *h);
int xengpu__op_choose(struct op *o, const xengpu_stream_hdr *h);
int xengpu__op_prepare_chosen(struct op *o);
void xengpu__op_release_prepared(struct op *o);
int xengpu__op_plug_all(struct op *o);
void xengpu__op_record(struct op *o, const xengpu_stream_hdr *h);
void xengpu__op_destroy(struct op *o);
const char *xengpu__op_jstr(yajl_val root, const char *key);
void xengpu__op_resume_if_suspended(struct op *o);
void xengpu__op_wait_gone(pid_t pid);

/* --- migrate.c, for recover.c -------------------------------------------- */

void xengpu__mig_away_name(const char *name, char *buf, size_t size);
bool xengpu__mig_host_ok(const char *h);
int xengpu__mig_remote(struct op *o, const char *mode,
                       const xengpu_stream_hdr *h, char *reply, size_t size);
bool xengpu__mig_domain_exists(struct op *o);
int xengpu__mig_incoming_domid(struct op *o);
int xengpu__mig_receive_finish(struct op *o);

#endif /* XENGPU_MIGRATE_OP_H */
