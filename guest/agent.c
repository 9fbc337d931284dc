/*
 * agent.c - xengpu-guest: hooks, the card's drivers and the protocol
 * (see agent.h).
 */
#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "agent.h"

#define OUTPUT_KEEP 512 /* bytes of a hook's output kept for its reason */
#define DEVICES_MAX 256 /* PCI functions a guest has, at most */

struct xengpu_agent {
    const struct xengpu_agent_cfg *cfg;
    struct xs_handle *xs;
    char path_agent[128], path_request[128], path_response[128];
    char last[XENGPU_PROTO_REQUEST_MAX + 1]; /* the request answered */
};

void xengpu_agent_log(const char *fmt, ...)
{
    va_list ap;

    va_start(ap, fmt);
    fputs("xengpu-guest: ", stderr);
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
    va_end(ap);
}

static char *xstrdup(const char *s)
{
    char *p = strdup(s);

    if (!p) abort();
    return p;
}

static uint64_t now_ms(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

static void sleep_ms(unsigned ms)
{
    struct timespec ts = { ms / 1000, (long)(ms % 1000) * 1000000 };

    while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
        ;
}

void xengpu_agent_cfg_init(struct xengpu_agent_cfg *cfg)
{
    memset(cfg, 0, sizeof(*cfg));
    cfg->base = XENGPU_GUEST_BASE;
    cfg->hooks_dir = XENGPU_GUEST_HOOKS_DIR;
    cfg->sysfs = "/sys";
    cfg->deadline_s = XENGPU_GUEST_DEADLINE;
    cfg->unbind = true;
    cfg->settle_ms = 1000;
    cfg->settle_max_ms = 10000;
}

/* --- hooks ------------------------------------------------------------- */

/* run-parts' names: letters, digits, '_' and '-'. */
static bool hook_name_ok(const char *n)
{
    if (!*n) return false;
    for (; *n; n++)
        if (!isalnum((unsigned char)*n) && *n != '_' && *n != '-')
            return false;
    return true;
}

/* Why DIR/NAME is not a hook, or NULL when it is one. */
static const char *not_a_hook(int dfd, const char *name)
{
    struct stat st;

    if (!hook_name_ok(name)) return "its name is not [A-Za-z0-9_-]";
    if (fstatat(dfd, name, &st, 0) < 0) return strerror(errno);
    if (!S_ISREG(st.st_mode)) return "not a regular file";
    if (!(st.st_mode & S_IXUSR)) return "not executable";
    if (st.st_uid != 0 && st.st_uid != geteuid())
        return "owned by another user";
    if (st.st_mode & (S_IWGRP | S_IWOTH)) return "writable by group or others";
    return NULL;
}

static int cmp_names(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

int xengpu_agent_hooks(const char *dir, char **names, int max)
{
    DIR *d = opendir(dir);
    struct dirent *e;
    const char *why;
    int n = 0, i;

    if (!d) return errno == ENOENT ? 0 : -errno;
    while ((e = readdir(d))) {
        if (e->d_name[0] == '.') continue;
        if ((why = not_a_hook(dirfd(d), e->d_name))) {
            xengpu_agent_log("skipping %s/%s: %s", dir, e->d_name, why);
            continue;
        }
        if (n == max) {
            xengpu_agent_log("%s has more than %d hooks", dir, max);
            for (i = 0; i < n; i++)
                free(names[i]);
            closedir(d);
            return -E2BIG;
        }
        names[n++] = xstrdup(e->d_name);
    }
    closedir(d);
    qsort(names, (size_t)n, sizeof(*names), cmp_names);
    return n;
}

void xengpu_agent_reason(const char *out, size_t len, char *reason,
                         size_t size)
{
    size_t i, n = 0;

    for (i = 0; i < len && out[i] != '\n' && n + 1 < size &&
                n < XENGPU_PROTO_REASON_MAX;
         i++) {
        if (out[i] < 0x20 || out[i] > 0x7e) continue;
        if (n == 0 && out[i] == ' ') continue;
        reason[n++] = out[i];
    }
    if (size) reason[n] = '\0';
}

/* The hook's child side: never returns. */
static void exec_hook(const char *dir, const char *name, const char *verb,
                      uint32_t seq, bool undo, int out)
{
    char path[4096], s[16];
    int null = open("/dev/null", O_RDONLY | O_CLOEXEC);

    sigset_t none;

    sigemptyset(&none);
    sigprocmask(SIG_SETMASK, &none, NULL); /* main() blocks SIGTERM */
    setpgid(0, 0);
    if (null < 0 || dup2(null, 0) < 0 || dup2(out, 1) < 0 || dup2(out, 2) < 0)
        _exit(126);
    signal(SIGPIPE, SIG_DFL);
    snprintf(s, sizeof(s), "%u", seq);
    setenv("XENGPU_VERB", verb, 1);
    setenv("XENGPU_SEQ", s, 1);
    if (undo)
        setenv("XENGPU_UNDO", "1", 1);
    else
        unsetenv("XENGPU_UNDO");
    snprintf(path, sizeof(path), "%s/%s", dir, name);
    execl(path, name, verb, (char *)NULL);
    fprintf(stderr, "cannot run hook %s: %s\n", name, strerror(errno));
    _exit(127);
}

/*
 * Read the hook's output into BUF (keeping the first SIZE bytes) until
 * it exits or DEADLINE passes.  Returns its wait status, or -ETIMEDOUT.
 * A hook that leaves a daemon holding its output does not make the agent
 * wait for the daemon: reading stops when the hook itself exits.
 */
static int collect(pid_t pid, int fd, uint64_t deadline, char *buf,
                   size_t size, size_t *len)
{
    struct pollfd p = { fd, POLLIN, 0 };
    char junk[512];
    int status;
    ssize_t r;

    for (;;) {
        if (waitpid(pid, &status, WNOHANG) == pid) break;
        if (now_ms() >= deadline) return -ETIMEDOUT;
        if (p.fd >= 0 && poll(&p, 1, 50) > 0) {
            r = *len < size ? read(fd, buf + *len, size - *len)
                            : read(fd, junk, sizeof(junk));
            if (r > 0 && *len < size) *len += (size_t)r;
            if (r == 0) p.fd = -1; /* EOF; the hook may still run */
        } else if (p.fd < 0) {
            sleep_ms(20);
        }
    }
    if (*len < size && fcntl(fd, F_SETFL, O_NONBLOCK) == 0 &&
        (r = read(fd, buf + *len, size - *len)) > 0)
        *len += (size_t)r;
    return status;
}

int xengpu_agent_run_hook(const char *dir, const char *name, const char *verb,
                          uint32_t seq, bool undo, uint64_t deadline,
                          char *reason, size_t size)
{
    char out[OUTPUT_KEEP];
    size_t len = 0;
    int pfd[2], status;
    pid_t pid;

    if (pipe2(pfd, O_CLOEXEC) < 0) return -errno;
    pid = fork();
    if (pid < 0) {
        status = -errno;
        close(pfd[0]);
        close(pfd[1]);
        return status;
    }
    if (pid == 0) exec_hook(dir, name, verb, seq, undo, pfd[1]);
    close(pfd[1]);
    status = collect(pid, pfd[0], deadline, out, sizeof(out), &len);
    close(pfd[0]);
    if (status == -ETIMEDOUT) {
        kill(-pid, SIGKILL);
        kill(pid, SIGKILL);
        waitpid(pid, NULL, 0);
        xengpu_agent_log("hook %s %s: timed out, killed", name, verb);
        snprintf(reason, size, "hook %s timed out", name);
        return 1;
    }
    if (WIFEXITED(status) && WEXITSTATUS(status) == 0) return 0;
    xengpu_agent_reason(out, len, reason, size);
    xengpu_agent_log("hook %s %s: %s %d: %s", name, verb,
                     WIFEXITED(status) ? "exit" : "signal",
                     WIFEXITED(status) ? WEXITSTATUS(status)
                                       : WTERMSIG(status),
                     *reason ? reason : "(no output)");
    if (!*reason)
        snprintf(reason, size, "hook %s %s %d", name,
                 WIFEXITED(status) ? "exited" : "killed by signal",
                 WIFEXITED(status) ? WEXITSTATUS(status) : WTERMSIG(status));
    return 1;
}

/* --- the card's functions in sysfs ------------------------------------- */

/* The names of SYSFS/bus/pci/devices, sorted, into NAMES.  Count or -errno. */
static int pci_devices(const char *sysfs, char names[][16], int max)
{
    char path[4096];
    struct dirent *e;
    DIR *d;
    int n = 0;

    snprintf(path, sizeof(path), "%s/bus/pci/devices", sysfs);
    if (!(d = opendir(path))) return -errno;
    while ((e = readdir(d)) && n < max) {
        if (e->d_name[0] == '.' || strlen(e->d_name) >= 16) continue;
        snprintf(names[n++], 16, "%s", e->d_name);
    }
    closedir(d);
    qsort(names, (size_t)n, sizeof(names[0]),
          (int (*)(const void *, const void *))strcmp);
    return n;
}

static bool is_display(const char *sysfs, const char *bdf)
{
    char path[4096], class[16] = "";
    FILE *f;

    snprintf(path, sizeof(path), "%s/bus/pci/devices/%s/class", sysfs, bdf);
    if (!(f = fopen(path, "re"))) return false;
    if (!fgets(class, sizeof(class), f)) class[0] = '\0';
    fclose(f);
    return !strncmp(class, "0x03", 4);
}

/* "0000:00:05.1" and "0000:00:05.0" share a slot. */
static bool same_slot(const char *a, const char *b)
{
    const char *da = strrchr(a, '.'), *db = strrchr(b, '.');

    return da && db && da - a == db - b && !strncmp(a, b, (size_t)(da - a));
}

static int unbind_one(const char *sysfs, const char *bdf)
{
    char path[4096];
    int fd, rc = 0;

    snprintf(path, sizeof(path), "%s/bus/pci/devices/%s/driver/unbind", sysfs,
             bdf);
    if ((fd = open(path, O_WRONLY | O_CLOEXEC)) < 0)
        return errno == ENOENT ? 0 : -errno; /* no driver: nothing to do */
    if (write(fd, bdf, strlen(bdf)) < 0) rc = -errno;
    close(fd);
    if (rc)
        xengpu_agent_log("cannot unbind %s: %s", bdf, strerror(-rc));
    else
        xengpu_agent_log("unbound %s from its driver", bdf);
    return rc ? rc : 1;
}

int xengpu_agent_unbind(const char *sysfs)
{
    static char names[DEVICES_MAX][16];
    bool gpu[DEVICES_MAX] = { false };
    int n = pci_devices(sysfs, names, DEVICES_MAX), i, j, r, done = 0;
    int rc = 0;

    if (n < 0) return n;
    for (i = 0; i < n; i++)
        gpu[i] = is_display(sysfs, names[i]);
    for (i = 0; i < n; i++) {
        for (j = 0; j < n && !(gpu[j] && same_slot(names[i], names[j])); j++)
            ;
        if (j == n) continue;
        r = unbind_one(sysfs, names[i]);
        if (r < 0 && !rc) rc = r;
        if (r > 0) done++;
    }
    return rc ? rc : done;
}

/* The device list as one string, to compare. */
static void pci_snapshot(const char *sysfs, char *buf, size_t size)
{
    static char names[DEVICES_MAX][16];
    int n = pci_devices(sysfs, names, DEVICES_MAX), i;
    size_t off = 0;

    buf[0] = '\0';
    for (i = 0; i < n && off + 17 < size; i++)
        off += (size_t)snprintf(buf + off, size - off, "%s ", names[i]);
}

int xengpu_agent_settle(const char *sysfs, unsigned settle_ms, unsigned max_ms)
{
    static char prev[DEVICES_MAX * 17], cur[DEVICES_MAX * 17];
    uint64_t start = now_ms(), since = start;

    if (!settle_ms) return 0;
    pci_snapshot(sysfs, prev, sizeof(prev));
    for (;;) {
        sleep_ms(settle_ms < 250 ? settle_ms : 250);
        pci_snapshot(sysfs, cur, sizeof(cur));
        if (strcmp(cur, prev)) {
            memcpy(prev, cur, sizeof(prev));
            since = now_ms();
        } else if (now_ms() - since >= settle_ms) {
            return 0;
        }
        if (now_ms() - start >= max_ms) return -ETIMEDOUT;
    }
}

/* --- requests ---------------------------------------------------------- */

/* Undo hooks NAMES[0..N-1], last first: "plugged" with XENGPU_UNDO=1. */
static void undo_hooks(const struct xengpu_agent_cfg *cfg, char **names, int n,
                       uint32_t seq)
{
    uint64_t deadline = now_ms() + (uint64_t)cfg->deadline_s * 1000;
    char ignored[XENGPU_PROTO_REASON_MAX + 1];

    while (n-- > 0)
        xengpu_agent_run_hook(cfg->hooks_dir, names[n], "plugged", seq, true,
                              deadline, ignored, sizeof(ignored));
}

/* Run the hooks for VERB; 0, or 1 with REASON when one refused. */
static int run_hooks(const struct xengpu_agent_cfg *cfg,
                     xengpu_guest_verb verb, uint32_t seq, char *reason,
                     size_t size)
{
    uint64_t deadline = now_ms() + (uint64_t)cfg->deadline_s * 1000;
    char *names[XENGPU_GUEST_HOOKS_MAX];
    bool release = verb == XENGPU_GUEST_RELEASE;
    const char *v = xengpu_proto_verb_name(verb);
    int n, i, k, r, refused = 0;

    if (!cfg->hooks_dir) return 0;
    n = xengpu_agent_hooks(cfg->hooks_dir, names, XENGPU_GUEST_HOOKS_MAX);
    if (n < 0) {
        snprintf(reason, size, "cannot read the hooks in %s: %s",
                 cfg->hooks_dir, strerror(-n));
        return 1;
    }
    for (k = 0; k < n; k++) {
        i = release ? k : n - 1 - k;
        r = xengpu_agent_run_hook(cfg->hooks_dir, names[i], v, seq, false,
                                  deadline, reason, size);
        if (r < 0) snprintf(reason, size, "cannot run hook %s", names[i]);
        if (r == 0) continue;
        refused = 1;
        if (release) {
            undo_hooks(cfg, names, i, seq);
            break;
        }
    }
    for (i = 0; i < n; i++)
        free(names[i]);
    return refused;
}

int xengpu_agent_handle(const struct xengpu_agent_cfg *cfg, uint32_t seq,
                        xengpu_guest_verb verb, char *response, size_t size)
{
    char reason[XENGPU_PROTO_REASON_MAX + 1] = "";
    xengpu_guest_answer answer;
    int r;

    if (verb == XENGPU_GUEST_PLUGGED &&
        xengpu_agent_settle(cfg->sysfs, cfg->settle_ms, cfg->settle_max_ms))
        xengpu_agent_log("the PCI device list did not settle in %u ms",
                         cfg->settle_max_ms);
    if (run_hooks(cfg, verb, seq, reason, sizeof(reason))) {
        answer = XENGPU_GUEST_REFUSED;
        if (!*reason) snprintf(reason, sizeof(reason), "a hook refused");
    } else if (verb == XENGPU_GUEST_RELEASE) {
        answer = XENGPU_GUEST_RELEASED;
        if (cfg->unbind && (r = xengpu_agent_unbind(cfg->sysfs)) < 0)
            xengpu_agent_log("unbinding the card's drivers: %s", strerror(-r));
    } else {
        answer = XENGPU_GUEST_DONE;
    }
    r = xengpu_proto_format_response(seq, answer, reason, response, size);
    return r < 0 ? r : 0;
}

/* --- the protocol over xenstore ---------------------------------------- */

static int announce(xengpu_agent *a)
{
    char v[8];
    int n = snprintf(v, sizeof(v), "%d", XENGPU_PROTO_VERSION);

    int err;

    if (xs_write(a->xs, XBT_NULL, a->path_agent, v, (unsigned)n)) return 0;
    err = errno;
    xengpu_agent_log("cannot write %s: %s", a->path_agent, strerror(err));
    return -err;
}

int xengpu_agent_start(const struct xengpu_agent_cfg *cfg,
                       struct xs_handle *xs, xengpu_agent **agent_r)
{
    xengpu_agent *a = calloc(1, sizeof(*a));
    int rc;

    if (!a) abort();
    a->cfg = cfg;
    a->xs = xs;
    if (snprintf(a->path_agent, sizeof(a->path_agent), "%s/agent",
                 cfg->base) >= (int)sizeof(a->path_agent)) {
        free(a);
        return -ENAMETOOLONG;
    }
    snprintf(a->path_request, sizeof(a->path_request), "%s/request",
             cfg->base);
    snprintf(a->path_response, sizeof(a->path_response), "%s/response",
             cfg->base);
    if ((rc = announce(a))) goto out;
    if (!xs_watch(xs, cfg->base, "xengpu-guest")) {
        rc = -errno;
        xengpu_agent_log("cannot watch %s: %s", cfg->base, strerror(errno));
        xs_rm(xs, XBT_NULL, a->path_agent);
        goto out;
    }
    *agent_r = a;
    a = NULL;
out:
    free(a);
    return rc;
}

/* Answer the current request if it is new.  1 answered, 0 not, -errno. */
static int serve(xengpu_agent *a)
{
    char resp[XENGPU_PROTO_RESPONSE_MAX + 1];
    xengpu_guest_verb verb;
    unsigned len = 0;
    uint32_t seq;
    char *req = xs_read(a->xs, XBT_NULL, a->path_request, &len);
    int rc = 0;

    if (!req) return errno == ENOENT ? 0 : -errno;
    if (len <= XENGPU_PROTO_REQUEST_MAX && !strcmp(req, a->last)) goto out;
    if (xengpu_proto_parse_request(req, len, &seq, &verb)) {
        xengpu_agent_log("ignoring a malformed request (%u bytes)", len);
        goto out;
    }
    memcpy(a->last, req, len + 1);
    xengpu_agent_log("request %u: %s", seq, xengpu_proto_verb_name(verb));
    if ((rc = xengpu_agent_handle(a->cfg, seq, verb, resp, sizeof(resp))))
        goto out;
    if (!xs_write(a->xs, XBT_NULL, a->path_response, resp,
                  (unsigned)strlen(resp))) {
        rc = -errno;
        xengpu_agent_log("cannot answer '%s': %s", resp, strerror(errno));
        goto out;
    }
    xengpu_agent_log("answered '%s'", resp);
    rc = 1;
out:
    free(req);
    return rc;
}

int xengpu_agent_step(xengpu_agent *a)
{
    unsigned len, events = 0;
    char **ev, *v;
    int rc;

    while ((ev = xs_check_watch(a->xs))) {
        free(ev);
        events++;
    }
    if (errno != EAGAIN) return -errno;
    if (!events) return 0;
    if (!(v = xs_read(a->xs, XBT_NULL, a->path_agent, &len))) {
        if (errno != ENOENT) return -errno;
        xengpu_agent_log("announcing the agent again");
        if ((rc = announce(a))) return rc;
    }
    free(v);
    return serve(a);
}

void xengpu_agent_stop(xengpu_agent *a)
{
    if (!a) return;
    xs_unwatch(a->xs, a->cfg->base, "xengpu-guest");
    xs_rm(a->xs, XBT_NULL, a->path_agent);
    free(a);
}
