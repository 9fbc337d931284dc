/*
 * state.c - locks, journal and card records in the state directory.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
#include <yajl/yajl_gen.h>
#include <yajl/yajl_tree.h>

#include "state.h"
#include "util.h"

#define REC_MAX_TEXT 8192
#define REC_VERSION 1

static const char *const subdirs[] = { "locks", "journal", "cards" };

static const char *const op_names[] = {
    [XENGPU_REC_PREPARE] = "prepare",
    [XENGPU_REC_RELEASE] = "release",
    [XENGPU_REC_PREPARED] = "prepared",
};

const char *xengpu_recop_name(xengpu_recop op)
{
    return (unsigned)op < ARRAY_SIZE(op_names) ? op_names[op] : "?";
}

bool xengpu_driver_name_ok(const char *name)
{
    size_t n = strspn(name, "abcdefghijklmnopqrstuvwxyz"
                            "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_-");

    return n > 0 && n <= XENGPU_DRIVER_MAX && name[n] == '\0';
}

int xengpu_state_open(const char *dir, xentoollog_logger *lg, int *fd_r)
{
    const char *env = getenv(XENGPU_STATE_DIR_ENV);
    int fd = -1;
    size_t i;

    if (!dir) dir = env && *env ? env : XENGPU_STATE_DIR_DEFAULT;
    if (mkdir(dir, 0700) < 0 && errno != EEXIST) {
        LOGE(lg, ERROR, errno, "cannot create state directory %s", dir);
        return -errno;
    }
    fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0) {
        LOGE(lg, ERROR, errno, "cannot open state directory %s", dir);
        return -errno;
    }
    for (i = 0; i < ARRAY_SIZE(subdirs); i++) {
        if (mkdirat(fd, subdirs[i], 0700) < 0 && errno != EEXIST) {
            int r = -errno;

            LOGE(lg, ERROR, errno, "cannot create %s/%s", dir, subdirs[i]);
            close(fd);
            return r;
        }
    }
    *fd_r = fd;
    return 0;
}

static void lock_name(const xengpu_bdf *card, char *buf, size_t size)
{
    char b[XENGPU_BDF_STRLEN];

    xengpu_bdf_format(card, b, sizeof(b));
    snprintf(buf, size, "locks/%s.lock", b);
}

int xengpu_state_lock(int state_fd, const xengpu_bdf *card, const char *op,
                      xentoollog_logger *lg, int *lockfd_r)
{
    char name[64], holder[64] = "", b[XENGPU_BDF_STRLEN];
    ssize_t n;
    int fd, r;

    lock_name(card, name, sizeof(name));
    xengpu_bdf_format(card, b, sizeof(b));
    fd = openat(state_fd, name, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW,
                0600);
    if (fd < 0) {
        r = -errno;
        LOGE(lg, ERROR, errno, "card %s: cannot open its lock", b);
        return r;
    }
    if (flock(fd, LOCK_EX | LOCK_NB) < 0) {
        if (errno != EWOULDBLOCK) {
            r = -errno;
            LOGE(lg, ERROR, errno, "card %s: cannot lock", b);
            close(fd);
            return r;
        }
        n = pread(fd, holder, sizeof(holder) - 1, 0);
        holder[n > 0 ? n : 0] = '\0';
        holder[strcspn(holder, "\n")] = '\0';
        LOG(lg, NOTICE, "card %s: waiting for another xengpu (%s) to finish",
            b, *holder ? holder : "unknown operation");
        while (flock(fd, LOCK_EX) < 0) {
            if (errno != EINTR) {
                r = -errno;
                LOGE(lg, ERROR, errno, "card %s: cannot lock", b);
                close(fd);
                return r;
            }
        }
    }
    snprintf(holder, sizeof(holder), "%s pid %ld\n", op, (long)getpid());
    if (ftruncate(fd, 0) == 0) (void)!pwrite(fd, holder, strlen(holder), 0);
    *lockfd_r = fd;
    return 0;
}

void xengpu_state_unlock(int lockfd)
{
    if (lockfd < 0) return;
    (void)!ftruncate(lockfd, 0);
    close(lockfd); /* drops the flock */
}

static void rec_name(xengpu_reckind kind, const xengpu_bdf *card, char *buf,
                     size_t size)
{
    char b[XENGPU_BDF_STRLEN];

    xengpu_bdf_format(card, b, sizeof(b));
    snprintf(buf, size, "%s/%s.json",
             kind == XENGPU_JOURNAL ? "journal" : "cards", b);
}

/* --- JSON ---------------------------------------------------------------- */

#define GEN_STR(g, s) \
    yajl_gen_string((g), (const unsigned char *)(s), strlen(s))

char *xengpu_cardrec_format(const xengpu_cardrec *rec)
{
    yajl_gen g = yajl_gen_alloc(NULL);
    const unsigned char *buf;
    char b[XENGPU_BDF_STRLEN];
    size_t len, i;
    char *out;

    if (!g) xengpu__oom();
    yajl_gen_map_open(g);
    GEN_STR(g, "version");
    yajl_gen_integer(g, REC_VERSION);
    GEN_STR(g, "op");
    GEN_STR(g, xengpu_recop_name(rec->op));
    GEN_STR(g, "card");
    xengpu_bdf_format(&rec->card, b, sizeof(b));
    GEN_STR(g, b);
    GEN_STR(g, "pid");
    yajl_gen_integer(g, rec->pid);
    GEN_STR(g, "time");
    yajl_gen_integer(g, rec->time);
    GEN_STR(g, "functions");
    yajl_gen_array_open(g);
    for (i = 0; i < rec->nfns; i++) {
        yajl_gen_map_open(g);
        GEN_STR(g, "bdf");
        xengpu_bdf_format(&rec->fns[i].bdf, b, sizeof(b));
        GEN_STR(g, b);
        GEN_STR(g, "driver");
        if (rec->fns[i].driver[0])
            GEN_STR(g, rec->fns[i].driver);
        else
            yajl_gen_null(g);
        yajl_gen_map_close(g);
    }
    yajl_gen_array_close(g);
    yajl_gen_map_close(g);
    yajl_gen_get_buf(g, &buf, &len);
    out = xengpu__xmalloc(len + 2);
    memcpy(out, buf, len);
    out[len] = '\n';
    out[len + 1] = '\0';
    yajl_gen_free(g);
    return out;
}

static yajl_val get(yajl_val obj, const char *key)
{
    const char *path[] = { key, NULL };

    return yajl_tree_get(obj, path, yajl_t_any);
}

static int parse_fn(yajl_val v, const xengpu_cardrec *rec, xengpu_fnrec *fn)
{
    yajl_val bdf = get(v, "bdf"), drv = get(v, "driver");
    size_t i;

    if (!YAJL_IS_OBJECT(v) || v->u.object.len != 2 || !YAJL_IS_STRING(bdf))
        return -EINVAL;
    if (xengpu_bdf_parse(bdf->u.string, XENGPU_BDF_CANONICAL, &fn->bdf) ||
        !xengpu_bdf_same_slot(&fn->bdf, &rec->card))
        return -EINVAL;
    for (i = 0; i < rec->nfns; i++)
        if (!xengpu_bdf_cmp(&rec->fns[i].bdf, &fn->bdf)) return -EINVAL;
    fn->driver[0] = '\0';
    if (YAJL_IS_NULL(drv)) return 0;
    if (!YAJL_IS_STRING(drv) || !xengpu_driver_name_ok(drv->u.string))
        return -EINVAL;
    strcpy(fn->driver, drv->u.string); /* length checked above */
    return 0;
}

static int parse_tree(yajl_val root, xengpu_cardrec *rec)
{
    yajl_val ver = get(root, "version"), op = get(root, "op"),
             card = get(root, "card"), pid = get(root, "pid"),
             tm = get(root, "time"), fns = get(root, "functions");
    size_t i;
    int r;

    if (!YAJL_IS_OBJECT(root) || root->u.object.len != 6) return -EINVAL;
    if (!YAJL_IS_INTEGER(ver) || YAJL_GET_INTEGER(ver) != REC_VERSION ||
        !YAJL_IS_STRING(op) || !YAJL_IS_STRING(card) ||
        !YAJL_IS_INTEGER(pid) || !YAJL_IS_INTEGER(tm) || !YAJL_IS_ARRAY(fns))
        return -EINVAL;
    for (i = 0; i < ARRAY_SIZE(op_names); i++)
        if (!strcmp(op->u.string, op_names[i])) break;
    if (i == ARRAY_SIZE(op_names)) return -EINVAL;
    rec->op = i;
    if (xengpu_bdf_parse(card->u.string, XENGPU_BDF_CANONICAL, &rec->card))
        return -EINVAL;
    rec->pid = YAJL_GET_INTEGER(pid);
    rec->time = YAJL_GET_INTEGER(tm);
    if (fns->u.array.len > XENGPU_MAX_FNS) return -EINVAL;
    rec->nfns = 0;
    for (i = 0; i < fns->u.array.len; i++) {
        r = parse_fn(fns->u.array.values[i], rec, &rec->fns[i]);
        if (r) return r;
        rec->nfns++;
    }
    return 0;
}

int xengpu_cardrec_parse(const char *text, size_t len, xengpu_cardrec *rec_r)
{
    char buf[REC_MAX_TEXT + 1];
    xengpu_cardrec rec;
    yajl_val root;
    int r;

    if (len > REC_MAX_TEXT || memchr(text, '\0', len)) return -EINVAL;
    memcpy(buf, text, len);
    buf[len] = '\0';
    root = yajl_tree_parse(buf, NULL, 0);
    if (!root) return -EINVAL;
    memset(&rec, 0, sizeof(rec));
    r = parse_tree(root, &rec);
    yajl_tree_free(root);
    if (!r) *rec_r = rec;
    return r;
}

/* --- files --------------------------------------------------------------- */

int xengpu_rec_write(int state_fd, xengpu_reckind kind,
                     const xengpu_cardrec *rec, xentoollog_logger *lg)
{
    char name[64], tmp[80], b[XENGPU_BDF_STRLEN];
    char *text = xengpu_cardrec_format(rec);
    size_t len = strlen(text), off = 0;
    int fd = -1, dfd = -1, r = 0;
    ssize_t n;

    xengpu_bdf_format(&rec->card, b, sizeof(b));
    rec_name(kind, &rec->card, name, sizeof(name));
    snprintf(tmp, sizeof(tmp), "%s.tmp", name);
    fd = openat(state_fd, tmp,
                O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, 0600);
    if (fd < 0) goto fail;
    while (off < len) {
        n = write(fd, text + off, len - off);
        if (n < 0 && errno == EINTR) continue;
        if (n < 0) goto fail;
        off += n;
    }
    if (fsync(fd) < 0 || close(fd) < 0) {
        fd = -1;
        goto fail;
    }
    fd = -1;
    if (renameat(state_fd, tmp, state_fd, name) < 0) goto fail;
    /* the rename itself must survive a power loss */
    dfd = openat(state_fd, kind == XENGPU_JOURNAL ? "journal" : "cards",
                 O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (dfd >= 0) {
        (void)fsync(dfd);
        close(dfd);
    }
    goto out;

fail:
    r = -errno;
    LOGE(lg, ERROR, errno, "card %s: cannot write state file %s", b, name);
    if (fd >= 0) close(fd);
    unlinkat(state_fd, tmp, 0);
out:
    free(text);
    return r;
}

int xengpu_rec_read(int state_fd, xengpu_reckind kind, const xengpu_bdf *card,
                    xengpu_cardrec *rec_r, xentoollog_logger *lg)
{
    char name[64], text[REC_MAX_TEXT + 1];
    ssize_t n;
    int fd, r;

    rec_name(kind, card, name, sizeof(name));
    fd = openat(state_fd, name, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
    if (fd < 0) {
        r = -errno;
        if (r != -ENOENT)
            LOGE(lg, ERROR, errno, "cannot open state file %s", name);
        return r;
    }
    n = read(fd, text, sizeof(text));
    r = n < 0 ? -errno : 0;
    close(fd);
    if (r) {
        LOGE(lg, ERROR, -r, "cannot read state file %s", name);
        return r;
    }
    r = xengpu_cardrec_parse(text, n, rec_r);
    if (!r && xengpu_bdf_cmp(&rec_r->card, card)) r = -EINVAL;
    if (r)
        LOG(lg, ERROR,
            "state file %s is damaged; move it aside and run "
            "`xengpu recover`",
            name);
    return r;
}

int xengpu_rec_remove(int state_fd, xengpu_reckind kind,
                      const xengpu_bdf *card, xentoollog_logger *lg)
{
    char name[64];

    rec_name(kind, card, name, sizeof(name));
    if (unlinkat(state_fd, name, 0) < 0 && errno != ENOENT) {
        int r = -errno;

        LOGE(lg, ERROR, errno, "cannot remove state file %s", name);
        return r;
    }
    return 0;
}

static int cmp_bdf(const void *a, const void *b)
{
    return xengpu_bdf_cmp(a, b);
}

int xengpu_rec_list(int state_fd, xengpu_reckind kind, xengpu_bdf **cards_r,
                    size_t *n_r, xentoollog_logger *lg)
{
    const char *sub = kind == XENGPU_JOURNAL ? "journal" : "cards";
    xengpu_bdf *cards = NULL;
    size_t n = 0, len;
    struct dirent *de;
    DIR *d = NULL;
    int fd;

    fd = openat(state_fd, sub, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0 || !(d = fdopendir(fd))) {
        int r = -errno;

        LOGE(lg, ERROR, errno, "cannot read state directory %s", sub);
        if (fd >= 0) close(fd);
        return r;
    }
    while ((de = readdir(d))) {
        xengpu_bdf bdf;

        len = strlen(de->d_name);
        if (len != XENGPU_BDF_STRLEN - 1 + 5 ||
            strcmp(de->d_name + len - 5, ".json") ||
            xengpu_bdf_parse_mem(de->d_name, len - 5, XENGPU_BDF_CANONICAL,
                                 &bdf))
            continue;
        cards = xengpu__xreallocarray(cards, n + 1, sizeof(*cards));
        cards[n++] = bdf;
    }
    closedir(d);
    if (n) qsort(cards, n, sizeof(*cards), cmp_bdf);
    *cards_r = cards;
    *n_r = n;
    return 0;
}

int xengpu__choose_lock(const char *state_dir, xentoollog_logger *lg)
{
    int sfd = -1, fd, r;

    r = xengpu_state_open(state_dir, lg, &sfd);
    if (r) return r;
    fd = openat(sfd, "choose.lock", O_RDWR | O_CREAT | O_CLOEXEC, 0600);
    r = fd < 0 ? -errno : 0;
    close(sfd);
    if (r) {
        LOGE(lg, ERROR, -r, "cannot open the card-choosing lock");
        return r;
    }
    if (flock(fd, LOCK_EX | LOCK_NB) < 0) {
        LOG(lg, INFO, "waiting for another xengpu that is choosing cards");
        while (flock(fd, LOCK_EX) < 0)
            if (errno != EINTR) {
                r = -errno;
                LOGE(lg, ERROR, errno, "cannot take the card-choosing lock");
                close(fd);
                return r;
            }
    }
    return fd;
}

void xengpu__choose_unlock(int fd)
{
    if (fd >= 0) close(fd);
}
