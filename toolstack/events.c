/*
 * events.c - events: their JSON, the hooks that run for them and the
 * event log.  The contract is in events.h.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/inotify.h>
#include <sys/pidfd.h>
#include <sys/stat.h>
#include <sys/utsname.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include <yajl/yajl_gen.h>
#include <yajl/yajl_tree.h>

#include "events.h"
#include "pciback-helper/bdf.h"
#include "pciback-helper/state.h"
#include "pciback-helper/util.h"

#define EVENT_VERSION 1
#define LOG_NAME "events.log"
#define LOG1_NAME "events.log.1"
#define SEQ_NAME "events.seq"
/* What a reader takes as one line before it gives up on it. */
#define LINE_MAX_TEXT 8192
/* How far back from the end of a log the counter is recovered. */
#define SEQ_SCAN_BYTES (64 * 1024)
#define HOOK_OUTPUT_MAX 4096
#define HOOK_REASON_MAX 200
#define HOOK_PATH "PATH=/usr/sbin:/usr/bin:/sbin:/bin"
/* How often follow mode looks without being woken, and how often a
 * hook's exit is polled for when pidfds are not available. */
#define FOLLOW_POLL_MS 200
#define WAIT_POLL_MS 20
/* 9999-12-31T23:59:59.999Z: the last time the format can hold. */
#define TIME_MS_MAX 253402300799999LL
/* "migrate/rollback of 0000:01:00.0 for NAME" */
#define DESCRIBE_MAX (XENGPU_EVENT_DOMAIN_MAX + 64)

struct xengpu_events {
    xentoollog_logger *lg;
    int state_fd;  /* -1: the log is not available */
    int state_err; /* why not, already logged */
    char *state_dir;
    char *hooks_dir;
    int timeout_ms;
    size_t log_max;
    char host[XENGPU_EVENT_HOST_MAX + 1];
};

static const char *const kind_names[] = {
    [XENGPU_EVENT_PREPARE] = "prepare", [XENGPU_EVENT_RELEASE] = "release",
    [XENGPU_EVENT_ATTACH] = "attach",   [XENGPU_EVENT_DETACH] = "detach",
    [XENGPU_EVENT_CREATE] = "create",   [XENGPU_EVENT_SAVE] = "save",
    [XENGPU_EVENT_RESTORE] = "restore", [XENGPU_EVENT_MIGRATE] = "migrate",
    [XENGPU_EVENT_RECOVER] = "recover",
};

static const char *const phase_names[] = {
    [XENGPU_PHASE_PRE] = "pre",           [XENGPU_PHASE_POST] = "post",
    [XENGPU_PHASE_PRECHECK] = "precheck", [XENGPU_PHASE_RESERVE] = "reserve",
    [XENGPU_PHASE_UNPLUG] = "unplug",     [XENGPU_PHASE_TRANSFER] = "transfer",
    [XENGPU_PHASE_RESTORE] = "restore",   [XENGPU_PHASE_PLUG] = "plug",
    [XENGPU_PHASE_COMMIT] = "commit",     [XENGPU_PHASE_ROLLBACK] = "rollback",
};

static const char *const result_names[] = {
    [XENGPU_RESULT_NONE] = NULL,
    [XENGPU_RESULT_OK] = "ok",
    [XENGPU_RESULT_FAILED] = "failed",
};

_Static_assert(ARRAY_SIZE(kind_names) == XENGPU_EVENT_NKINDS, "kinds");
_Static_assert(ARRAY_SIZE(phase_names) == XENGPU_EVENT_NPHASES, "phases");

const char *xengpu_event_kind_name(xengpu_event_kind kind)
{
    return (unsigned)kind < ARRAY_SIZE(kind_names) ? kind_names[kind] : "?";
}

const char *xengpu_event_phase_name(xengpu_event_phase phase)
{
    return (unsigned)phase < ARRAY_SIZE(phase_names) ? phase_names[phase]
                                                     : "?";
}

const char *xengpu_event_result_name(xengpu_event_result result)
{
    return (unsigned)result < ARRAY_SIZE(result_names) ? result_names[result]
                                                       : "?";
}

static int name_index(const char *const *names, size_t n, const char *name)
{
    size_t i;

    for (i = 0; i < n; i++)
        if (names[i] && !strcmp(names[i], name)) return (int)i;
    return -EINVAL;
}

int xengpu_event_kind_parse(const char *name, xengpu_event_kind *kind_r)
{
    int i = name_index(kind_names, ARRAY_SIZE(kind_names), name);

    if (i < 0) return i;
    *kind_r = i;
    return 0;
}

int xengpu_event_phase_parse(const char *name, xengpu_event_phase *phase_r)
{
    int i = name_index(phase_names, ARRAY_SIZE(phase_names), name);

    if (i < 0) return i;
    *phase_r = i;
    return 0;
}

/* --- values -------------------------------------------------------------- */

/* Length of the well-formed UTF-8 character at S, or 0. */
static size_t utf8_len(const unsigned char *s)
{
    size_t n, i;

    if (s[0] < 0x80) return 1;
    if (s[0] >= 0xc2 && s[0] <= 0xdf)
        n = 2;
    else if ((s[0] & 0xf0) == 0xe0)
        n = 3;
    else if (s[0] >= 0xf0 && s[0] <= 0xf4)
        n = 4;
    else
        return 0;
    for (i = 1; i < n; i++)
        if ((s[i] & 0xc0) != 0x80) return 0;        /* a NUL stops here too */
    if (n == 3 && ((s[0] == 0xe0 && s[1] < 0xa0) || /* overlong */
                   (s[0] == 0xed && s[1] >= 0xa0))) /* surrogate */
        return 0;
    if (n == 4 && ((s[0] == 0xf0 && s[1] < 0x90) || /* overlong */
                   (s[0] == 0xf4 && s[1] >= 0x90))) /* > U+10FFFF */
        return 0;
    return n;
}

/*
 * Copy at most SRCMAX bytes of SRC into DST (SIZE bytes), as valid UTF-8
 * without control characters: anything else becomes '?'.  With ONE_LINE
 * it stops at the first line end.  Cut at a character boundary; the rest
 * of DST is zeroed.
 */
static void clean_copy(char *dst, size_t size, const char *src, size_t srcmax,
                       bool one_line)
{
    const unsigned char *s = (const unsigned char *)src;
    const unsigned char *end = s + strnlen(src, srcmax);
    size_t o = 0, n;
    bool bad;

    while (s < end && !(one_line && (*s == '\n' || *s == '\r'))) {
        n = utf8_len(s);
        if (n > (size_t)(end - s)) n = 0;
        bad = n == 0 || *s < 0x20 || *s == 0x7f ||
              (n == 2 && s[0] == 0xc2 && s[1] < 0xa0); /* C1 controls */
        if (bad) {
            if (o + 1 >= size) break;
            dst[o++] = '?';
            s += n ? n : 1;
            continue;
        }
        if (o + n >= size) break;
        memcpy(dst + o, s, n);
        o += n;
        s += n;
    }
    memset(dst + o, 0, size - o); /* no stale bytes behind a value */
}

void xengpu_event_init(xengpu_event *e, xengpu_event_kind kind,
                       xengpu_event_phase phase)
{
    memset(e, 0, sizeof(*e));
    e->kind = kind;
    e->phase = phase;
    e->result = XENGPU_RESULT_NONE;
    e->domid = -1;
}

void xengpu_event_set_card(xengpu_event *e, const xengpu_bdf *card)
{
    e->has_card = card != NULL;
    if (card)
        e->card = *card;
    else
        memset(&e->card, 0, sizeof(e->card));
}

void xengpu_event_set_domain(xengpu_event *e, long domid, const char *name)
{
    e->domid = domid < 0 ? -1 : domid;
    clean_copy(e->domain, sizeof(e->domain), name ? name : "", SIZE_MAX, true);
}

void xengpu_event_set_result(xengpu_event *e, int rc, const char *error)
{
    if (rc == 0) {
        e->result = XENGPU_RESULT_OK;
        e->error[0] = '\0';
        return;
    }
    e->result = XENGPU_RESULT_FAILED;
    if (!error || !*error) error = strerror(rc < 0 ? -rc : rc);
    clean_copy(e->error, sizeof(e->error), error, SIZE_MAX, true);
    if (!e->error[0]) snprintf(e->error, sizeof(e->error), "failed");
}

static bool terminated(const char *s, size_t size)
{
    return memchr(s, '\0', size) != NULL;
}

int xengpu_event_check(const xengpu_event *e)
{
    if ((unsigned)e->kind >= XENGPU_EVENT_NKINDS ||
        (unsigned)e->phase >= XENGPU_EVENT_NPHASES ||
        (unsigned)e->result > XENGPU_RESULT_FAILED)
        return -EINVAL;
    if (e->phase > XENGPU_PHASE_POST && e->kind != XENGPU_EVENT_MIGRATE)
        return -EINVAL;
    if (e->phase == XENGPU_PHASE_PRE && e->result != XENGPU_RESULT_NONE)
        return -EINVAL;
    if (e->phase == XENGPU_PHASE_POST && e->result == XENGPU_RESULT_NONE)
        return -EINVAL;
    if (!terminated(e->error, sizeof(e->error)) ||
        !terminated(e->domain, sizeof(e->domain)) ||
        !terminated(e->host, sizeof(e->host)))
        return -EINVAL;
    if ((e->result == XENGPU_RESULT_FAILED) != (e->error[0] != '\0'))
        return -EINVAL;
    if (e->domid < -1 || (e->has_card && e->card.fn > 7)) return -EINVAL;
    return 0;
}

/* --- time ---------------------------------------------------------------- */

static void time_format(int64_t ms, char *buf)
{
    char tmp[64];
    time_t t;
    struct tm tm;

    if (ms < 0) ms = 0;
    if (ms > TIME_MS_MAX) ms = TIME_MS_MAX;
    t = ms / 1000;
    gmtime_r(&t, &tm);
    snprintf(tmp, sizeof(tmp), "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ",
             tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday, tm.tm_hour,
             tm.tm_min, tm.tm_sec, (int)(ms % 1000));
    memcpy(buf, tmp, XENGPU_EVENT_TIME_STRLEN - 1);
    buf[XENGPU_EVENT_TIME_STRLEN - 1] = '\0';
}

/* Exactly the form time_format() writes, or -EINVAL. */
static int time_parse(const char *s, int64_t *ms_r)
{
    char again[XENGPU_EVENT_TIME_STRLEN];
    struct tm tm;
    int msec, n = -1;
    int64_t ms;

    if (strlen(s) != XENGPU_EVENT_TIME_STRLEN - 1) return -EINVAL;
    memset(&tm, 0, sizeof(tm));
    if (sscanf(s, "%4d-%2d-%2dT%2d:%2d:%2d.%3dZ%n", &tm.tm_year, &tm.tm_mon,
               &tm.tm_mday, &tm.tm_hour, &tm.tm_min, &tm.tm_sec, &msec,
               &n) != 7 ||
        n != XENGPU_EVENT_TIME_STRLEN - 1)
        return -EINVAL;
    tm.tm_year -= 1900;
    tm.tm_mon -= 1;
    ms = (int64_t)timegm(&tm) * 1000 + msec;
    time_format(ms, again); /* refuses "Feb 30", signs, spaces */
    if (strcmp(again, s)) return -EINVAL;
    *ms_r = ms;
    return 0;
}

static int64_t realtime_ms(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static int64_t monotonic_ms(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* --- JSON and text ------------------------------------------------------- */

static void gen_key(yajl_gen g, const char *key)
{
    yajl_gen_string(g, (const unsigned char *)key, strlen(key));
}

/* S, cleaned and bounded as the contract says (S may be the caller's
 * unchecked field), or null when S is NULL or "". */
static void gen_str(yajl_gen g, const char *s, size_t max)
{
    char buf[XENGPU_EVENT_ERROR_MAX + 1];

    if (!s || !*s) {
        yajl_gen_null(g);
        return;
    }
    clean_copy(buf, max + 1 < sizeof(buf) ? max + 1 : sizeof(buf), s, max,
               true);
    yajl_gen_string(g, (const unsigned char *)buf, strlen(buf));
}

static void gen_event(yajl_gen g, const xengpu_event *e)
{
    char t[XENGPU_EVENT_TIME_STRLEN], card[XENGPU_BDF_STRLEN] = "";

    time_format(e->time_ms, t);
    if (e->has_card && xengpu_bdf_format(&e->card, card, sizeof(card)))
        snprintf(card, sizeof(card), "?");
    yajl_gen_map_open(g);
    gen_key(g, "version");
    yajl_gen_integer(g, EVENT_VERSION);
    gen_key(g, "seq");
    yajl_gen_integer(g, (long long)e->seq);
    gen_key(g, "time");
    gen_str(g, t, sizeof(t));
    gen_key(g, "host");
    gen_str(g, e->host[0] ? e->host : "?", XENGPU_EVENT_HOST_MAX);
    gen_key(g, "pid");
    yajl_gen_integer(g, e->pid);
    gen_key(g, "kind");
    gen_str(g, xengpu_event_kind_name(e->kind), 16);
    gen_key(g, "phase");
    gen_str(g, xengpu_event_phase_name(e->phase), 16);
    gen_key(g, "card");
    gen_str(g, card, sizeof(card));
    gen_key(g, "domid");
    if (e->domid >= 0)
        yajl_gen_integer(g, e->domid);
    else
        yajl_gen_null(g);
    gen_key(g, "domain");
    gen_str(g, e->domain, XENGPU_EVENT_DOMAIN_MAX);
    gen_key(g, "result");
    gen_str(g, xengpu_event_result_name(e->result), 16);
    gen_key(g, "error");
    gen_str(g, e->result == XENGPU_RESULT_FAILED ? e->error : NULL,
            XENGPU_EVENT_ERROR_MAX);
    yajl_gen_map_close(g);
}

char *xengpu_event_json(const xengpu_event *e)
{
    yajl_gen g = yajl_gen_alloc(NULL);
    const unsigned char *buf;
    size_t len;
    char *out;

    if (!g) xengpu__oom();
    gen_event(g, e);
    if (yajl_gen_get_buf(g, &buf, &len) != yajl_gen_status_ok) xengpu__oom();
    out = xengpu__xmalloc(len + 2);
    memcpy(out, buf, len);
    out[len] = '\n';
    out[len + 1] = '\0';
    yajl_gen_free(g);
    return out;
}

char *xengpu_event_text(const xengpu_event *e)
{
    char t[XENGPU_EVENT_TIME_STRLEN], card[XENGPU_BDF_STRLEN] = "-";
    char what[40], dom[XENGPU_EVENT_DOMAIN_MAX + 32], *res, *out;

    time_format(e->time_ms, t);
    if (e->has_card && xengpu_bdf_format(&e->card, card, sizeof(card)))
        snprintf(card, sizeof(card), "?");
    snprintf(what, sizeof(what), "%s/%s", xengpu_event_kind_name(e->kind),
             xengpu_event_phase_name(e->phase));
    if (e->domain[0] && e->domid >= 0)
        snprintf(dom, sizeof(dom), "%s(%ld)", e->domain, e->domid);
    else if (e->domain[0])
        snprintf(dom, sizeof(dom), "%s", e->domain);
    else if (e->domid >= 0)
        snprintf(dom, sizeof(dom), "(%ld)", e->domid);
    else
        snprintf(dom, sizeof(dom), "-");
    if (e->result == XENGPU_RESULT_FAILED)
        res = xengpu__xasprintf("failed: %s", e->error);
    else
        res = xengpu__xstrdup(e->result == XENGPU_RESULT_OK ? "ok" : "-");
    out = xengpu__xasprintf("%s #%llu %-16s %-12s %s %s\n", t,
                            (unsigned long long)e->seq, what, card, dom, res);
    free(res);
    return out;
}

static yajl_val get(yajl_val obj, const char *key)
{
    const char *path[] = { key, NULL };

    return yajl_tree_get(obj, path, yajl_t_any);
}

/* A string of at most MAX bytes into BUF, or null (BUF ""); -EINVAL. */
static int parse_str(yajl_val v, bool nullable, char *buf, size_t max)
{
    if ((!v || YAJL_IS_NULL(v)) && nullable) {
        buf[0] = '\0';
        return 0;
    }
    if (!YAJL_IS_STRING(v) || strlen(v->u.string) > max) return -EINVAL;
    clean_copy(buf, max + 1, v->u.string, max, true);
    return 0;
}

static int parse_int(yajl_val v, long long min, long long max, long long *n_r)
{
    if (!YAJL_IS_INTEGER(v)) return -EINVAL;
    if (YAJL_GET_INTEGER(v) < min || YAJL_GET_INTEGER(v) > max) return -EINVAL;
    *n_r = YAJL_GET_INTEGER(v);
    return 0;
}

static int parse_names(yajl_val root, xengpu_event *e)
{
    char kind[16], phase[16], result[16], card[XENGPU_BDF_STRLEN];
    int r;

    if (parse_str(get(root, "kind"), false, kind, sizeof(kind) - 1) ||
        parse_str(get(root, "phase"), false, phase, sizeof(phase) - 1) ||
        parse_str(get(root, "result"), true, result, sizeof(result) - 1) ||
        parse_str(get(root, "card"), true, card, sizeof(card) - 1) ||
        xengpu_event_kind_parse(kind, &e->kind) ||
        xengpu_event_phase_parse(phase, &e->phase))
        return -EINVAL;
    r = name_index(result_names, ARRAY_SIZE(result_names), result);
    if (result[0] && r < 0) return -EINVAL;
    e->result = result[0] ? r : XENGPU_RESULT_NONE;
    e->has_card = card[0] != '\0';
    if (e->has_card && xengpu_bdf_parse(card, XENGPU_BDF_CANONICAL, &e->card))
        return -EINVAL;
    return 0;
}

static int parse_tree(yajl_val root, xengpu_event *e)
{
    char t[XENGPU_EVENT_TIME_STRLEN];
    yajl_val domid = get(root, "domid");
    long long ver, seq, pid, id = -1;

    if (!YAJL_IS_OBJECT(root)) return -EINVAL;
    if (parse_int(get(root, "version"), EVENT_VERSION, EVENT_VERSION, &ver) ||
        parse_int(get(root, "seq"), 0, LLONG_MAX, &seq) ||
        parse_int(get(root, "pid"), 0, LONG_MAX, &pid) ||
        parse_str(get(root, "time"), false, t, sizeof(t) - 1) ||
        time_parse(t, &e->time_ms) ||
        parse_str(get(root, "host"), false, e->host, XENGPU_EVENT_HOST_MAX) ||
        parse_str(get(root, "domain"), true, e->domain,
                  XENGPU_EVENT_DOMAIN_MAX) ||
        parse_str(get(root, "error"), true, e->error,
                  XENGPU_EVENT_ERROR_MAX) ||
        parse_names(root, e))
        return -EINVAL;
    if (domid && !YAJL_IS_NULL(domid) && parse_int(domid, 0, INT32_MAX, &id))
        return -EINVAL;
    e->seq = seq;
    e->pid = pid;
    e->domid = id;
    return xengpu_event_check(e);
}

int xengpu_event_parse(const char *text, size_t len, xengpu_event *e_r)
{
    char buf[LINE_MAX_TEXT + 1];
    xengpu_event e;
    yajl_val root;
    int r;

    if (len && text[len - 1] == '\n') len--;
    if (len > LINE_MAX_TEXT || memchr(text, '\0', len) ||
        memchr(text, '\n', len))
        return -EINVAL;
    memcpy(buf, text, len);
    buf[len] = '\0';
    root = yajl_tree_parse(buf, NULL, 0);
    if (!root) return -EINVAL;
    xengpu_event_init(&e, XENGPU_EVENT_PREPARE, XENGPU_PHASE_PRE);
    r = parse_tree(root, &e);
    yajl_tree_free(root);
    if (!r) *e_r = e;
    return r;
}

/* --- the handle ---------------------------------------------------------- */

void xengpu_events_config_init(xengpu_events_config *cfg)
{
    memset(cfg, 0, sizeof(*cfg));
}

static const char *env_or(const char *name, const char *dflt)
{
    const char *v = getenv(name);

    return v && *v ? v : dflt;
}

int xengpu_events_open(const xengpu_events_config *cfg, xentoollog_logger *lg,
                       xengpu_events **ev_r)
{
    xengpu_events_config dflt;
    struct utsname u;
    xengpu_events *ev;
    int r;

    if (!cfg) {
        xengpu_events_config_init(&dflt);
        cfg = &dflt;
    }
    ev = xengpu__xcalloc(1, sizeof(*ev));
    ev->lg = lg;
    ev->state_dir =
        xengpu__xstrdup(cfg->state_dir ? cfg->state_dir
                                       : env_or(XENGPU_STATE_DIR_ENV,
                                                XENGPU_STATE_DIR_DEFAULT));
    ev->hooks_dir =
        xengpu__xstrdup(cfg->hooks_dir ? cfg->hooks_dir
                                       : env_or(XENGPU_HOOKS_DIR_ENV,
                                                XENGPU_HOOKS_DIR_DEFAULT));
    ev->timeout_ms = cfg->hook_timeout_ms > 0 ? cfg->hook_timeout_ms
                                              : XENGPU_HOOK_TIMEOUT_MS_DEFAULT;
    ev->log_max = cfg->log_max ? cfg->log_max : XENGPU_EVENTS_LOG_MAX_DEFAULT;
    if (cfg->host)
        clean_copy(ev->host, sizeof(ev->host), cfg->host, SIZE_MAX, true);
    else if (uname(&u) == 0)
        clean_copy(ev->host, sizeof(ev->host), u.nodename, sizeof(u.nodename),
                   true);
    if (!ev->host[0]) snprintf(ev->host, sizeof(ev->host), "localhost");
    /* without a state directory the hooks must still run: they are the
     * admin's say over operations; only the log is lost (logged here) */
    r = xengpu_state_open(ev->state_dir, lg, &ev->state_fd);
    if (r) {
        ev->state_fd = -1;
        ev->state_err = r;
    }
    *ev_r = ev;
    return 0;
}

void xengpu_events_close(xengpu_events *ev)
{
    if (!ev) return;
    if (ev->state_fd >= 0) close(ev->state_fd);
    free(ev->state_dir);
    free(ev->hooks_dir);
    free(ev);
}

/* "attach/pre of 0000:01:00.0 for guest1", for messages. */
static void describe(const xengpu_event *e, char *buf, size_t size)
{
    char card[XENGPU_BDF_STRLEN] = "";
    size_t n;

    if (e->has_card) xengpu_bdf_format(&e->card, card, sizeof(card));
    n = snprintf(buf, size, "%s/%s", xengpu_event_kind_name(e->kind),
                 xengpu_event_phase_name(e->phase));
    if (card[0] && n < size) n += snprintf(buf + n, size - n, " of %s", card);
    if (e->domain[0] && n < size)
        snprintf(buf + n, size - n, " for %s", e->domain);
    else if (e->domid >= 0 && n < size)
        snprintf(buf + n, size - n, " for domain %ld", e->domid);
}

int xengpu_event_emit(xengpu_events *ev, xengpu_event *e, char **reason_r)
{
    char what[DESCRIBE_MAX];
    int r = xengpu_event_check(e);

    if (r) {
        describe(e, what, sizeof(what));
        LOG(ev->lg, ERROR, "event %s: not a valid event (bug)", what);
        if (reason_r)
            *reason_r = xengpu__xasprintf("event %s is not valid", what);
        return r;
    }
    (void)xengpu_events_append(ev, e); /* best effort, logged */
    return xengpu_hooks_run(ev, e, reason_r);
}

/* --- the event log ------------------------------------------------------- */

/* events.seq, open and flock()ed with OP (LOCK_EX creates it). */
static int seq_lock(xengpu_events *ev, int op, int *fd_r)
{
    int flags = op == LOCK_EX ? O_RDWR | O_CREAT : O_RDONLY;
    int fd, r;

    fd = openat(ev->state_fd, SEQ_NAME, flags | O_CLOEXEC | O_NOFOLLOW, 0600);
    if (fd < 0) return -errno;
    while (flock(fd, op) < 0) {
        if (errno == EINTR) continue;
        r = -errno;
        close(fd);
        return r;
    }
    *fd_r = fd;
    return 0;
}

/* The highest seq among the whole lines in the last bytes of NAME. */
static uint64_t seq_scan(xengpu_events *ev, const char *name)
{
    char *buf = xengpu__xmalloc(SEQ_SCAN_BYTES), *p, *nl;
    uint64_t best = 0;
    struct stat st;
    off_t off = 0;
    xengpu_event e;
    ssize_t n = -1;
    int fd;

    fd = openat(ev->state_fd, name, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
    if (fd >= 0 && fstat(fd, &st) == 0) {
        if (st.st_size > SEQ_SCAN_BYTES) off = st.st_size - SEQ_SCAN_BYTES;
        n = pread(fd, buf, SEQ_SCAN_BYTES, off);
    }
    p = buf;
    if (off > 0 && n > 0) { /* the first line is cut */
        nl = memchr(buf, '\n', n);
        p = nl ? nl + 1 : buf + n;
    }
    while (n > 0 && (nl = memchr(p, '\n', buf + n - p))) {
        if (!xengpu_event_parse(p, nl - p, &e) && e.seq > best) best = e.seq;
        p = nl + 1;
    }
    if (fd >= 0) close(fd);
    free(buf);
    return best;
}

/* The counter in events.seq (FD, locked) plus one, written back. */
static int seq_next(xengpu_events *ev, int fd, uint64_t *seq_r)
{
    char buf[32], *end;
    unsigned long long last = 0;
    ssize_t n = pread(fd, buf, sizeof(buf) - 1, 0);
    bool ok = false;
    int len;

    if (n < 0) return -errno;
    buf[n] = '\0';
    if (n > 0 && buf[0] >= '0' && buf[0] <= '9') {
        errno = 0;
        last = strtoull(buf, &end, 10);
        ok = errno == 0 && (!strcmp(end, "\n") || !*end);
    }
    if (!ok) {
        uint64_t a = seq_scan(ev, LOG_NAME), b = seq_scan(ev, LOG1_NAME);

        last = a > b ? a : b;
        if (n > 0)
            LOG(ev->lg, WARN, "%s/%s is damaged: counting on from %llu",
                ev->state_dir, SEQ_NAME, last);
    }
    len = snprintf(buf, sizeof(buf), "%llu\n", last + 1);
    errno = 0;
    if (pwrite(fd, buf, len, 0) != len || ftruncate(fd, len) < 0)
        return errno ? -errno : -EIO;
    *seq_r = last + 1;
    return 0;
}

static void stamp(xengpu_events *ev, xengpu_event *e)
{
    e->seq = 0;
    e->time_ms = realtime_ms();
    e->pid = (long)getpid();
    memcpy(e->host, ev->host, sizeof(e->host));
}

/* Append LINE to events.log in one write(); rotate it once it is full.
 * The caller holds the lock: the rename cannot race another. */
static int log_write(xengpu_events *ev, const char *line, const char **what)
{
    size_t len = strlen(line);
    struct stat st;
    ssize_t n;
    int fd, r = 0;

    *what = "open";
    fd = openat(ev->state_fd, LOG_NAME,
                O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600);
    if (fd < 0) return -errno;
    *what = "write";
    if (fstat(fd, &st) < 0) {
        r = -errno;
        goto out;
    }
    do
        n = write(fd, line, len);
    while (n < 0 && errno == EINTR);
    if (n < 0 || (size_t)n != len) {
        r = n < 0 ? -errno : -ENOSPC;
        /* a cut line would swallow the next one: take it back (every
         * appender holds the lock, so nobody wrote after it) */
        if (n > 0) (void)!ftruncate(fd, st.st_size);
        goto out;
    }
    *what = "rotate";
    if ((size_t)st.st_size + len >= ev->log_max &&
        renameat(ev->state_fd, LOG_NAME, ev->state_fd, LOG1_NAME) < 0)
        r = -errno;
out:
    close(fd);
    return r;
}

int xengpu_events_append(xengpu_events *ev, xengpu_event *e)
{
    const char *what = "lock";
    char *line = NULL;
    uint64_t seq = 0;
    int lockfd = -1, r;

    stamp(ev, e);
    if (ev->state_fd < 0) return ev->state_err;
    r = seq_lock(ev, LOCK_EX, &lockfd);
    if (r) goto out;
    what = "update the counter of";
    r = seq_next(ev, lockfd, &seq);
    if (r) goto out;
    e->seq = seq;
    line = xengpu_event_json(e);
    r = log_write(ev, line, &what);
out:
    if (r) {
        e->seq = 0;
        LOGE(ev->lg, WARN, -r, "cannot %s the event log %s/%s", what,
             ev->state_dir, LOG_NAME);
    }
    if (lockfd >= 0) close(lockfd); /* drops the flock */
    free(line);
    return r;
}

/* --- hooks --------------------------------------------------------------- */

struct hook_run {
    char out[HOOK_OUTPUT_MAX];
    size_t len;     /* kept */
    size_t dropped; /* read after the first HOOK_OUTPUT_MAX bytes */
    int status;     /* waitpid()'s */
    bool lost;      /* no status: SIGCHLD ignored, children auto-reaped */
    bool timed_out;
    int exec_errno; /* the hook could not be executed */
};

/* What the child needs, all allocated before fork(). */
struct hook_spawn {
    const char *path;
    char *argv[4];
    char *envp[4];
    int in_fd, out_fd, err_fd;
};

static bool hook_name_skipped(const char *name)
{
    size_t n = strlen(name);
    const char *dot = strrchr(name, '.');

    if (name[0] == '.' || name[n - 1] == '~' || strstr(name, ".dpkg-"))
        return true;
    return dot && (!strcmp(dot, ".bak") || !strncmp(dot, ".rpm", 4));
}

/* Why a hook or its directory must not be trusted, or NULL. */
static const char *unsafe_why(const struct stat *st, const char **fix)
{
    if (st->st_uid != 0 && st->st_uid != geteuid()) {
        *fix = "chown root";
        return "is not owned by root";
    }
    if (st->st_mode & (S_IWGRP | S_IWOTH)) {
        *fix = "chmod go-w";
        return "is writable by group or others";
    }
    return NULL;
}

/*
 * A problem with the hooks (MSG, malloc'ed, taken): on a pre event it
 * stops the operation (R returned, logged as an error, the reason
 * handed out), on any other a warning.
 */
static int hook_problem(xengpu_events *ev, const xengpu_event *e, int r,
                        char *msg, char **reason_r)
{
    char what[DESCRIBE_MAX];

    describe(e, what, sizeof(what));
    if (e->phase != XENGPU_PHASE_PRE) {
        LOG(ev->lg, WARN, "%s: %s", what, msg);
        free(msg);
        return 0;
    }
    LOG(ev->lg, ERROR, "%s: %s", what, msg);
    if (reason_r)
        *reason_r = msg;
    else
        free(msg);
    return r;
}

static int hook_cmp(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* The names in DFD that could be hooks, in C-locale order. */
static int hooks_list(int dfd, char ***names_r, size_t *n_r)
{
    char **names = NULL;
    size_t n = 0;
    struct dirent *de;
    DIR *d;
    int fd;

    fd = openat(dfd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0) return -errno;
    d = fdopendir(fd);
    if (!d) {
        close(fd);
        return -errno;
    }
    while ((de = readdir(d))) {
        if (hook_name_skipped(de->d_name)) continue; /* ".", ".." too */
        names = xengpu__xreallocarray(names, n + 1, sizeof(*names));
        names[n++] = xengpu__xstrdup(de->d_name);
    }
    closedir(d);
    qsort(names, n, sizeof(*names), hook_cmp);
    *names_r = names;
    *n_r = n;
    return 0;
}

/* In the child: become the hook.  Only async-signal-safe calls. */
static void __attribute__((noreturn)) hook_child(const struct hook_spawn *sp)
{
    struct sigaction sa;
    sigset_t none;
    int in, out, er, sig, e;

    setpgid(0, 0);
    memset(&sa, 0, sizeof(sa));
    sa.sa_handler = SIG_DFL;
    for (sig = 1; sig < NSIG; sig++)
        (void)sigaction(sig, &sa, NULL);
    sigemptyset(&none);
    sigprocmask(SIG_SETMASK, &none, NULL);
    /* all above 2 first, so that no dup2() below clobbers another */
    in = fcntl(sp->in_fd, F_DUPFD, 3);
    out = fcntl(sp->out_fd, F_DUPFD, 3);
    er = fcntl(sp->err_fd, F_DUPFD, 3);
    if (in < 0 || out < 0 || er < 0 || dup2(in, 0) < 0 || dup2(out, 1) < 0 ||
        dup2(out, 2) < 0 || dup2(er, 3) < 0 ||
        fcntl(3, F_SETFD, FD_CLOEXEC) < 0 || chdir("/") < 0)
        _exit(127); /* no way to say why */
    close_range(4, ~0U, 0);
    execve(sp->path, sp->argv, sp->envp);
    e = errno;
    (void)!write(3, &e, sizeof(e));
    _exit(127);
}

/* Read what HR can keep from FD (non-blocking); false at end of file. */
static bool hook_read(int fd, struct hook_run *hr)
{
    char scratch[4096];
    ssize_t n;

    for (;;) {
        if (hr->len < sizeof(hr->out))
            n = read(fd, hr->out + hr->len, sizeof(hr->out) - hr->len);
        else
            n = read(fd, scratch, sizeof(scratch));
        if (n < 0 && errno == EINTR) continue;
        if (n < 0) return errno == EAGAIN; /* an error: stop reading */
        if (n == 0) return false;
        if (hr->len < sizeof(hr->out))
            hr->len += n;
        else
            hr->dropped += n;
    }
}

/* Whether PID has exited (then HR has its status); WNOHANG or not. */
static bool hook_reaped(pid_t pid, int flags, struct hook_run *hr)
{
    pid_t r;

    do
        r = waitpid(pid, &hr->status, flags);
    while (r < 0 && errno == EINTR);
    hr->lost = r < 0;
    return r == pid || r < 0;
}

/*
 * Collect PID's output from OUTFD until it exits or TIMEOUT_MS passes
 * (then its process group is killed).  Output still written by what it
 * left behind is not waited for.
 */
static void hook_wait(pid_t pid, int outfd, int timeout_ms,
                      struct hook_run *hr)
{
    int64_t deadline = monotonic_ms() + timeout_ms, left;
    int pidfd = pidfd_open(pid, 0); /* close-on-exec already */
    struct pollfd p[2];
    bool reading = true;
    int n;

    for (;;) {
        left = deadline - monotonic_ms();
        if (left <= 0) {
            hr->timed_out = true;
            if (kill(-pid, SIGKILL) < 0) kill(pid, SIGKILL);
            hook_reaped(pid, 0, hr);
            break;
        }
        n = 0;
        if (reading) p[n++] = (struct pollfd){ .fd = outfd, .events = POLLIN };
        if (pidfd >= 0)
            p[n++] = (struct pollfd){ .fd = pidfd, .events = POLLIN };
        if (pidfd < 0 && left > WAIT_POLL_MS) left = WAIT_POLL_MS;
        (void)poll(p, n, left); /* EINTR: look again */
        if (reading) reading = hook_read(outfd, hr);
        if (hook_reaped(pid, WNOHANG, hr)) break;
    }
    hook_read(outfd, hr); /* what is left in the pipe */
    if (pidfd >= 0) close(pidfd);
}

/*
 * The hook's stdin IN, already holding JSON and closed for writing; its
 * output OUT, non-blocking to read; ERR for an execve() failure.  The
 * event (< 4 KiB) fits in a pipe: written before the hook runs, there
 * is no SIGPIPE when it never reads.
 */
static int hook_pipes(int in[2], int out[2], int err[2], const char *json)
{
    size_t len = strlen(json);

    if (pipe2(in, O_CLOEXEC) < 0 || pipe2(out, O_CLOEXEC) < 0 ||
        pipe2(err, O_CLOEXEC) < 0 || fcntl(in[1], F_SETFL, O_NONBLOCK) < 0 ||
        fcntl(out[0], F_SETFL, O_NONBLOCK) < 0)
        return -errno;
    if (write(in[1], json, len) != (ssize_t)len) return -E2BIG;
    close(in[1]);
    in[1] = -1;
    return 0;
}

/* Start the hook of SP with JSON on stdin; *pid_r, *outfd_r its output. */
static int hook_start(struct hook_spawn *sp, const char *json,
                      struct hook_run *hr, pid_t *pid_r, int *outfd_r)
{
    int in[2] = { -1, -1 }, out[2] = { -1, -1 }, err[2] = { -1, -1 };
    pid_t pid;
    int r;

    r = hook_pipes(in, out, err, json);
    if (r) goto out;
    sp->in_fd = in[0];
    sp->out_fd = out[1];
    sp->err_fd = err[1];
    pid = fork();
    if (pid < 0) {
        r = -errno;
        goto out;
    }
    if (pid == 0) hook_child(sp);
    (void)setpgid(pid, pid); /* whichever of us gets there first */
    close(err[1]);
    err[1] = -1;
    while (read(err[0], &hr->exec_errno, sizeof(hr->exec_errno)) < 0 &&
           errno == EINTR)
        ;
    *pid_r = pid;
    *outfd_r = out[0];
    out[0] = -1;
out:
    for (int i = 0; i < 2; i++) {
        if (in[i] >= 0) close(in[i]);
        if (out[i] >= 0) close(out[i]);
        if (err[i] >= 0) close(err[i]);
    }
    return r;
}

/* Run the hook NAME; 0 when it could be started, HR says how it went. */
static int hook_exec(xengpu_events *ev, const xengpu_event *e,
                     const char *name, const char *json, struct hook_run *hr)
{
    struct hook_spawn sp;
    char *path = xengpu__xasprintf("%s/%s", ev->hooks_dir, name);
    pid_t pid = -1;
    int outfd = -1, r;

    memset(&sp, 0, sizeof(sp));
    sp.path = path;
    sp.argv[0] = path;
    sp.argv[1] = (char *)xengpu_event_kind_name(e->kind);
    sp.argv[2] = (char *)xengpu_event_phase_name(e->phase);
    sp.envp[0] = (char *)HOOK_PATH;
    sp.envp[1] = xengpu__xasprintf("XENGPU_EVENT=%s", sp.argv[1]);
    sp.envp[2] = xengpu__xasprintf("XENGPU_PHASE=%s", sp.argv[2]);
    LOG(ev->lg, DEBUG, "running hook %s %s %s", path, sp.argv[1], sp.argv[2]);
    r = hook_start(&sp, json, hr, &pid, &outfd);
    if (!r) {
        hook_wait(pid, outfd, ev->timeout_ms, hr);
        close(outfd);
    }
    free(sp.envp[1]);
    free(sp.envp[2]);
    free(path);
    return r;
}

/* The first non-blank line of HR's output, cleaned, into BUF. */
static void hook_first_line(const struct hook_run *hr, char *buf, size_t size)
{
    char text[HOOK_OUTPUT_MAX + 1];
    const char *p = text;
    size_t n;

    memcpy(text, hr->out, hr->len);
    text[hr->len] = '\0';
    p += strspn(p, " \t\r\n");
    clean_copy(buf, size, p, SIZE_MAX, true);
    n = strlen(buf);
    while (n > 0 && (buf[n - 1] == ' ' || buf[n - 1] == '\t'))
        buf[--n] = 0;
}

/* Log each line of HR's output at XTL_INFO. */
static void hook_log_output(xengpu_events *ev, const char *name,
                            const struct hook_run *hr)
{
    char text[HOOK_OUTPUT_MAX + 1], line[HOOK_OUTPUT_MAX + 1];
    char *p = text, *nl;

    memcpy(text, hr->out, hr->len);
    text[hr->len] = '\0';
    for (; *p; p = nl ? nl + 1 : p + strlen(p)) {
        nl = strchr(p, '\n');
        if (nl == p) continue;
        clean_copy(line, sizeof(line), p, nl ? (size_t)(nl - p) : SIZE_MAX,
                   true);
        LOG(ev->lg, INFO, "hook %s: %s", name, line);
    }
    if (hr->dropped)
        LOG(ev->lg, INFO, "hook %s: (%zu more bytes of output dropped)", name,
            hr->dropped);
}

/* How the hook NAME failed, malloc'ed; NULL when it did not. */
static char *hook_failure(xengpu_events *ev, const xengpu_event *e,
                          const char *name, const struct hook_run *hr)
{
    const char *verb = e->phase == XENGPU_PHASE_PRE ? "refused" : "failed";
    char line[HOOK_REASON_MAX + 1], how[64];
    int t = ev->timeout_ms;

    hook_first_line(hr, line, sizeof(line));
    if (hr->exec_errno)
        return xengpu__xasprintf(
            "hook %s cannot be run: %s%s", name, strerror(hr->exec_errno),
            hr->exec_errno == ENOEXEC ? " (no #! line?)" : "");
    if (hr->timed_out) {
        if (t % 1000)
            snprintf(how, sizeof(how), "%d ms", t);
        else
            snprintf(how, sizeof(how), "%d s", t / 1000);
        return xengpu__xasprintf("hook %s timed out after %s%s%s", name, how,
                                 line[0] ? ": " : "", line);
    }
    if (hr->lost)
        return xengpu__xasprintf("hook %s %s: its exit status was lost "
                                 "(SIGCHLD ignored?)",
                                 name, verb);
    if (WIFEXITED(hr->status) && WEXITSTATUS(hr->status) == 0) return NULL;
    if (WIFEXITED(hr->status))
        snprintf(how, sizeof(how), "exit status %d", WEXITSTATUS(hr->status));
    else
        snprintf(how, sizeof(how), "killed by signal %d",
                 WTERMSIG(hr->status));
    return xengpu__xasprintf("hook %s %s: %s", name, verb,
                             line[0] ? line : how);
}

/* Whether NAME in the hooks directory DFD is a hook to run (*run_r);
 * one that is not safe to run is a problem. */
static int hook_check(xengpu_events *ev, const xengpu_event *e, int dfd,
                      const char *name, bool *run_r, char **reason_r)
{
    const char *why, *fix;
    struct stat st;

    *run_r = false;
    if (fstatat(dfd, name, &st, 0) < 0 || !S_ISREG(st.st_mode) ||
        faccessat(dfd, name, X_OK, AT_EACCESS) < 0) {
        LOG(ev->lg, DEBUG, "%s/%s: not an executable file, skipped",
            ev->hooks_dir, name);
        return 0;
    }
    why = unsafe_why(&st, &fix);
    if (why)
        return hook_problem(
            ev, e, -EPERM,
            xengpu__xasprintf("hook %s/%s %s: not run (%s %s/%s)",
                              ev->hooks_dir, name, why, fix, ev->hooks_dir,
                              name),
            reason_r);
    *run_r = true;
    return 0;
}

/*
 * Keep in NAMES (*n_r of them) the hooks to run.  All are checked
 * before any runs: a pre event with an unsafe hook runs none.
 */
static int hooks_select(xengpu_events *ev, const xengpu_event *e, int dfd,
                        char **names, size_t *n_r, char **reason_r)
{
    size_t i, kept = 0;
    bool run;
    int r = 0;

    for (i = 0; i < *n_r; i++) {
        if (!r) r = hook_check(ev, e, dfd, names[i], &run, reason_r);
        if (!r && run)
            names[kept++] = names[i];
        else
            free(names[i]);
    }
    *n_r = kept;
    return r;
}

/* Run the hook NAME from the hooks directory. */
static int hook_one(xengpu_events *ev, const xengpu_event *e, const char *name,
                    const char *json, char **reason_r)
{
    struct hook_run *hr;
    char *msg;
    int r;

    hr = xengpu__xcalloc(1, sizeof(*hr));
    r = hook_exec(ev, e, name, json, hr);
    if (r) {
        free(hr);
        return hook_problem(ev, e, r,
                            xengpu__xasprintf("hook %s cannot be started: %s",
                                              name, strerror(-r)),
                            reason_r);
    }
    hook_log_output(ev, name, hr);
    msg = hook_failure(ev, e, name, hr);
    free(hr);
    if (!msg) return 0;
    return hook_problem(ev, e, -ECANCELED, msg, reason_r);
}

/* The hooks directory, checked; *dfd_r -1 when there is none. */
static int hooks_open(xengpu_events *ev, const xengpu_event *e, int *dfd_r,
                      char **reason_r)
{
    const char *why, *fix;
    struct stat st;
    int dfd, err;

    *dfd_r = -1;
    dfd = open(ev->hooks_dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (dfd < 0 && errno == ENOENT) {
        LOG(ev->lg, DEBUG, "no hooks directory %s", ev->hooks_dir);
        return 0;
    }
    if (dfd < 0 || fstat(dfd, &st) < 0) {
        err = errno;
        if (dfd >= 0) close(dfd);
        return hook_problem(ev, e, -err,
                            xengpu__xasprintf("cannot open hooks directory "
                                              "%s: %s",
                                              ev->hooks_dir, strerror(err)),
                            reason_r);
    }
    why = unsafe_why(&st, &fix);
    if (why) {
        close(dfd);
        return hook_problem(
            ev, e, -EPERM,
            xengpu__xasprintf("hooks directory %s %s: no hooks run (%s %s)",
                              ev->hooks_dir, why, fix, ev->hooks_dir),
            reason_r);
    }
    *dfd_r = dfd;
    return 0;
}

int xengpu_hooks_run(xengpu_events *ev, const xengpu_event *e, char **reason_r)
{
    const char *outer = getenv("XENGPU_EVENT");
    char **names = NULL, *json = NULL;
    size_t n = 0, i;
    int dfd = -1, r;

    if (outer) {
        LOG(ev->lg, INFO, "running inside a hook (%s): no hooks for %s/%s",
            outer, xengpu_event_kind_name(e->kind),
            xengpu_event_phase_name(e->phase));
        return 0;
    }
    r = hooks_open(ev, e, &dfd, reason_r);
    if (r || dfd < 0) return r;
    r = hooks_list(dfd, &names, &n);
    if (r) {
        r = hook_problem(ev, e, r,
                         xengpu__xasprintf("cannot read hooks directory %s: "
                                           "%s",
                                           ev->hooks_dir, strerror(-r)),
                         reason_r);
        goto out;
    }
    r = hooks_select(ev, e, dfd, names, &n, reason_r);
    if (r) goto out;
    json = xengpu_event_json(e);
    for (i = 0; i < n && !r; i++)
        r = hook_one(ev, e, names[i], json, reason_r);
out:
    for (i = 0; i < n; i++)
        free(names[i]);
    free(names);
    free(json);
    close(dfd);
    return r;
}

/* --- reading ------------------------------------------------------------- */

void xengpu_events_query_init(xengpu_events_query *q)
{
    memset(q, 0, sizeof(*q));
    q->domid = -1;
    q->timeout_ms = -1;
}

/* Where the lines read go. */
struct printer {
    xengpu_events *ev;
    const xengpu_events_query *q;
    FILE *out;
    uint64_t seen;    /* the highest seq read so far */
    uint64_t skip_to; /* catching up: only seqs above this */
};

/* A log being read: its fd and the start of a line not complete yet. */
struct reader {
    int fd;
    char buf[LINE_MAX_TEXT + 1];
    size_t len;
    bool overlong; /* dropping a line too long to be an event */
};

/* Which file a name was (st_ino 0: none). */
struct file_id {
    dev_t dev;
    ino_t ino;
};

static bool selected(const xengpu_events_query *q, const xengpu_event *e)
{
    if (q->domid >= 0 && e->domid != q->domid) return false;
    if (q->has_card && (!e->has_card || xengpu_bdf_cmp(&e->card, &q->card)))
        return false;
    return e->seq > q->after_seq;
}

static void print_line(struct printer *pr, const char *line, size_t len)
{
    xengpu_event e;
    char *text;

    if (xengpu_event_parse(line, len, &e)) {
        LOG(pr->ev->lg, DEBUG, "%s: skipped a line that is not an event",
            pr->ev->state_dir);
        return;
    }
    if (e.seq <= pr->skip_to) return;
    if (e.seq > pr->seen) pr->seen = e.seq;
    if (!selected(pr->q, &e)) return;
    if (pr->q->text) {
        text = xengpu_event_text(&e);
        fputs(text, pr->out);
        free(text);
    } else {
        fwrite(line, 1, len, pr->out);
        fputc('\n', pr->out);
    }
}

/* Print the whole lines in RD's buffer; keep the rest. */
static void print_lines(struct printer *pr, struct reader *rd)
{
    char *p = rd->buf, *end = rd->buf + rd->len, *nl;

    while ((nl = memchr(p, '\n', end - p))) {
        if (!rd->overlong) print_line(pr, p, nl - p);
        rd->overlong = false;
        p = nl + 1;
    }
    rd->len = end - p;
    memmove(rd->buf, p, rd->len);
    if (rd->len == sizeof(rd->buf)) { /* no event is that long */
        rd->overlong = true;
        rd->len = 0;
    }
}

/* Print what RD's file has now, up to its end. */
static int reader_pump(struct printer *pr, struct reader *rd)
{
    ssize_t n;
    int r;

    while (rd->fd >= 0) {
        n = read(rd->fd, rd->buf + rd->len, sizeof(rd->buf) - rd->len);
        if (n < 0 && errno == EINTR) continue;
        if (n < 0) {
            r = -errno;
            LOGE(pr->ev->lg, ERROR, -r, "cannot read the event log in %s",
                 pr->ev->state_dir);
            return r;
        }
        if (n == 0) break;
        rd->len += n;
        print_lines(pr, rd);
    }
    return 0;
}

static void reader_close(struct reader *rd)
{
    if (rd->fd >= 0) close(rd->fd);
    rd->fd = -1;
    rd->len = 0;
    rd->overlong = false;
}

static struct file_id fd_id(int fd)
{
    struct file_id id = { 0, 0 };
    struct stat st;

    if (fd >= 0 && fstat(fd, &st) == 0)
        id = (struct file_id){ st.st_dev, st.st_ino };
    return id;
}

static struct file_id name_id(xengpu_events *ev, const char *name)
{
    struct file_id id = { 0, 0 };
    struct stat st;

    if (fstatat(ev->state_fd, name, &st, AT_SYMLINK_NOFOLLOW) == 0)
        id = (struct file_id){ st.st_dev, st.st_ino };
    return id;
}

static bool same_file(struct file_id a, struct file_id b)
{
    return a.ino == b.ino && a.dev == b.dev;
}

/* NAME's fd into *fd_r, -1 when there is no such file. */
static int open_log(xengpu_events *ev, const char *name, int *fd_r)
{
    int r;

    *fd_r = openat(ev->state_fd, name, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
    if (*fd_r >= 0 || errno == ENOENT) return 0;
    r = -errno;
    LOGE(ev->lg, ERROR, -r, "cannot open the event log %s/%s", ev->state_dir,
         name);
    return r;
}

/*
 * Both generations, opened under the lock so that no rotation falls
 * between the two opens, and the last seq given out then.
 */
static int open_logs(xengpu_events *ev, int *fd1_r, int *fd_r, uint64_t *seq_r)
{
    char buf[32];
    int lockfd = -1, r;
    ssize_t n;

    *fd1_r = *fd_r = -1;
    *seq_r = 0;
    r = seq_lock(ev, LOCK_SH, &lockfd);
    if (r && r != -ENOENT) {
        LOGE(ev->lg, ERROR, -r, "cannot lock the event log %s/%s",
             ev->state_dir, SEQ_NAME);
        return r;
    }
    if (lockfd >= 0 && (n = pread(lockfd, buf, sizeof(buf) - 1, 0)) > 0) {
        buf[n] = '\0';
        *seq_r = strtoull(buf, NULL, 10);
    }
    r = open_log(ev, LOG1_NAME, fd1_r);
    if (!r) r = open_log(ev, LOG_NAME, fd_r);
    if (lockfd >= 0) close(lockfd);
    if (r && *fd1_r >= 0) close(*fd1_r);
    return r;
}

static int flush_out(xengpu_events *ev, FILE *out)
{
    int r;

    errno = 0;
    if (fflush(out) != EOF && !ferror(out)) return 0;
    r = errno ? -errno : -EIO;
    LOGE(ev->lg, ERROR, -r, "cannot write the events");
    return r;
}

/* What a follower has: the events.log it reads, and the events.log.1 it
 * has read all of. */
struct follower {
    struct reader cur;
    struct file_id old;
};

/*
 * When events.log.1 is not the file the follower has read all of, it
 * was rotated away before the follower could read it to its end (or
 * open it at all): print what it has beyond the last seq read.
 */
static int follow_catch_up(struct printer *pr, struct follower *fl)
{
    struct file_id now = name_id(pr->ev, LOG1_NAME);
    struct reader *rd;
    int r;

    if (!now.ino || same_file(now, fl->old)) return 0;
    rd = xengpu__xcalloc(1, sizeof(*rd));
    r = open_log(pr->ev, LOG1_NAME, &rd->fd);
    fl->old = fd_id(rd->fd);
    pr->skip_to = pr->seen;
    if (!r) r = reader_pump(pr, rd); /* a cut last line is lost */
    pr->skip_to = 0;
    reader_close(rd);
    free(rd);
    return r;
}

/*
 * One look: finish the file being read; when events.log is another file
 * now (rotated, or created since), print what events.log.1 has that was
 * not seen, then go on with the new file from its start.
 */
static int follow_step(struct printer *pr, struct follower *fl)
{
    struct file_id now;
    int r;

    r = reader_pump(pr, &fl->cur);
    if (r) return r;
    now = name_id(pr->ev, LOG_NAME);
    if (now.ino && !same_file(now, fd_id(fl->cur.fd))) {
        r = reader_pump(pr, &fl->cur); /* appended before the rename */
        if (fl->cur.fd >= 0) fl->old = fd_id(fl->cur.fd);
        reader_close(&fl->cur);
        if (!r) r = open_log(pr->ev, LOG_NAME, &fl->cur.fd);
    }
    if (!r) r = follow_catch_up(pr, fl);
    if (!r) r = reader_pump(pr, &fl->cur);
    if (!r) r = flush_out(pr->ev, pr->out);
    return r;
}

/* Sleep up to MS, or until inotify (IFD, when >= 0) reports something. */
static void follow_sleep(int ifd, int ms)
{
    struct pollfd p = { .fd = ifd, .events = POLLIN };
    char buf[4096] __attribute__((aligned(8)));

    if (poll(&p, ifd >= 0 ? 1 : 0, ms) > 0)
        while (read(ifd, buf, sizeof(buf)) > 0)
            ;
}

static int follow_inotify(xengpu_events *ev)
{
    int ifd = inotify_init1(IN_NONBLOCK | IN_CLOEXEC);
    uint32_t mask = IN_CREATE | IN_MODIFY | IN_MOVED_TO | IN_MOVED_FROM;

    if (ifd >= 0 && inotify_add_watch(ifd, ev->state_dir, mask) < 0) {
        close(ifd);
        ifd = -1;
    }
    if (ifd < 0)
        LOGE(ev->lg, DEBUG, errno, "no inotify on %s: looking every %d ms",
             ev->state_dir, FOLLOW_POLL_MS);
    return ifd;
}

static int follow(struct printer *pr, struct follower *fl)
{
    const xengpu_events_query *q = pr->q;
    int64_t deadline = monotonic_ms() + q->timeout_ms, left;
    int ifd = follow_inotify(pr->ev), r;

    for (;;) {
        r = follow_step(pr, fl);
        if (r || (q->stop && q->stop(q->stop_arg))) break;
        left = q->timeout_ms < 0 ? FOLLOW_POLL_MS : deadline - monotonic_ms();
        if (left <= 0) break;
        follow_sleep(ifd, left < FOLLOW_POLL_MS ? (int)left : FOLLOW_POLL_MS);
    }
    if (ifd >= 0) close(ifd);
    return r;
}

int xengpu_events_print(xengpu_events *ev, const xengpu_events_query *q,
                        FILE *out)
{
    struct printer pr = { .ev = ev, .q = q, .out = out };
    struct reader *old = xengpu__xcalloc(1, sizeof(*old));
    struct follower *fl = xengpu__xcalloc(1, sizeof(*fl));
    uint64_t last;
    int r;

    old->fd = fl->cur.fd = -1;
    r = ev->state_fd < 0 ? ev->state_err : 0;
    if (!r) r = open_logs(ev, &old->fd, &fl->cur.fd, &last);
    if (r) goto out;
    fl->old = fd_id(old->fd);
    if (q->follow && q->new_only) {
        pr.seen = last;
        reader_close(old);
        if (fl->cur.fd >= 0 && lseek(fl->cur.fd, 0, SEEK_END) < 0) r = -errno;
    }
    if (!r) r = reader_pump(&pr, old); /* a cut last line is lost */
    if (!r) r = reader_pump(&pr, &fl->cur);
    if (!r) r = flush_out(ev, out);
    if (!r && q->follow) r = follow(&pr, fl);
out:
    reader_close(old);
    reader_close(&fl->cur);
    free(old);
    free(fl);
    return r;
}
