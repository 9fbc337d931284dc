/*
 * save.c - save and restore GPU guests by unplug and replug, and the
 * trailer xengpu appends to xl's save file.
 */
#include <stdlib.h>
#include <sys/file.h>
#include <sys/stat.h>

#include "migrate/op.h"
#include "pciback-helper/libxl-compat.h"
#include "pciback-helper/state.h"
#include "pciback-helper/util.h"

/* --- the save file's trailer (layout in op.h) ---------------------------- */

int xengpu__trailer_append(int fd, const xengpu_stream_hdr *h, char *why,
                           size_t whysize)
{
    char foot[FOOTER_LEN], *buf = NULL;
    size_t len = 0, i;
    uint64_t l;
    int r;

    r = xengpu_stream_hdr_encode(h, &buf, &len, why, whysize);
    if (r) return r;
    for (i = 0, l = len; i < 8; i++, l >>= 8)
        foot[i] = (char)(l & 0xff);
    memcpy(foot + 8, TRAILER_MAGIC, 8);
    errno = 0;
    if (lseek(fd, 0, SEEK_END) < 0 || write(fd, buf, len) != (ssize_t)len ||
        write(fd, foot, FOOTER_LEN) != FOOTER_LEN) {
        r = errno ? -errno : -EIO;
        snprintf(why, whysize, "cannot write the trailer: %s", strerror(-r));
    }
    free(buf);
    return r;
}

static int append_trailer(struct op *o, int fd, const xengpu_stream_hdr *h)
{
    char why[256];
    int r = xengpu__trailer_append(fd, h, why, sizeof(why));

    if (r) LOG(o->lg, ERROR, "save: domain %s: %s", o->name, why);
    return r;
}

/* `xl save DOMID FILE.tmp`, the trailer, then FILE.tmp renamed FILE. */
static int write_file(struct op *o, const xengpu_stream_hdr *h)
{
    char *tmp = xengpu__xasprintf("%s.tmp", o->req->file);
    char dom[16], *argv[] = { NULL, "save", dom, tmp, NULL };
    struct stat st;
    int fd = -1, r;
    pid_t pid;

    snprintf(dom, sizeof(dom), "%u", o->domid);
    if (!access(tmp, F_OK)) {
        LOG(o->lg, ERROR,
            "save: %s exists (an interrupted save?); remove it first", tmp);
        free(tmp);
        return -EEXIST;
    }
    r = xengpu__op_keep_header(o, h);
    if (!r) r = xengpu__op_spawn_xl(argv, -1, &pid, o->lg);
    if (!r) {
        o->xl_pid = pid;
        xengpu__op_journal(o, "saving");
        r = xengpu__op_wait_xl(pid);
        if (r) LOG(o->lg, ERROR, "save: xl save of domain %s failed", o->name);
    }
    if (!r) {
        fd = open(tmp, O_WRONLY | O_CLOEXEC);
        r = fd < 0 ? -errno : append_trailer(o, fd, h);
    }
    if (!r && fsync(fd) < 0) r = -errno;
    if (!r && fstat(fd, &st) < 0) r = -errno;
    if (fd >= 0) close(fd);
    if (!r && rename(tmp, o->req->file) < 0) r = -errno;
    if (r) {
        if (r != -EIO) LOGE(o->lg, ERROR, -r, "save: cannot write %s", tmp);
        unlink(tmp);
    } else {
        xengpu__op_say(o, "wrote %s (%.1f MiB)", o->req->file,
                       (double)st.st_size / 1048576);
    }
    free(tmp);
    return r;
}

int xengpu__trailer_read(int fd, xengpu_stream_hdr *h, char *why,
                         size_t whysize)
{
    unsigned char foot[FOOTER_LEN];
    struct stat st;
    uint64_t len = 0;
    char *buf;
    int i, r;

    if (fstat(fd, &st) < 0) return -errno;
    if (st.st_size < FOOTER_LEN ||
        pread(fd, foot, FOOTER_LEN, st.st_size - FOOTER_LEN) != FOOTER_LEN ||
        memcmp(foot + 8, TRAILER_MAGIC, 8)) {
        snprintf(why, whysize,
                 "not a xengpu save file (no xengpu trailer); an xl save "
                 "file is restored with xl restore");
        return -EINVAL;
    }
    for (i = 7; i >= 0; i--)
        len = len << 8 | foot[i];
    if (len < XENGPU_STREAM_PREAMBLE_LEN ||
        len > XENGPU_STREAM_PREAMBLE_LEN + XENGPU_STREAM_MAX_JSON ||
        (off_t)len > st.st_size - FOOTER_LEN) {
        snprintf(why, whysize, "damaged xengpu trailer (length %llu)",
                 (unsigned long long)len);
        return -EINVAL;
    }
    buf = xengpu__xmalloc(len);
    if (pread(fd, buf, len, st.st_size - FOOTER_LEN - (off_t)len) !=
        (ssize_t)len) {
        snprintf(why, whysize, "cannot read the xengpu trailer");
        r = -EIO;
    } else {
        r = xengpu_stream_hdr_parse(buf, len, h, why, whysize);
    }
    free(buf);
    return r;
}

int xengpu_save(const xengpu_save_req *req, xentoollog_logger *lg)
{
    xengpu_stream_hdr h;
    struct op o;
    bool begun = false;
    int r;

    xengpu__op_init(&o, req, lg, "save");
    xengpu_stream_hdr_init(&h);
    r = xengpu__op_take_stock(&o, &h);
    if (!r)
        r = xengpu__op_event(&o, XENGPU_EVENT_SAVE, XENGPU_PHASE_PRE, 0, NULL);
    if (r) goto out;
    begun = true;
    r = xengpu__op_journal(&o, "unplug");
    if (!r) r = xengpu__op_unplug_all(&o);
    if (!r) r = xengpu__op_journal(&o, "saving");
    if (!r) r = write_file(&o, &h);
    if (r) {
        xengpu__op_say(&o, "failed; putting the cards back");
        xengpu__op_replug(&o);
        xengpu__op_unreserve_all(&o);
        xengpu__op_journal(&o, NULL);
        goto out;
    }
    /* Committed: the cards are free for others again. */
    xengpu__op_unreserve_all(&o);
    xengpu__op_journal(&o, NULL);
    xengpu__op_say(&o, "domain %s saved; %zu card%s back in the pool", o.name,
                   o.n, o.n == 1 ? "" : "s");
out:
    if (begun)
        xengpu__op_event(&o, XENGPU_EVENT_SAVE, XENGPU_PHASE_POST, r, NULL);
    xengpu_stream_hdr_dispose(&h);
    xengpu__op_dispose(&o);
    return r;
}

/* `xl restore FILE`: xl reads the file itself, up to libxl's end. */
static int run_restore(struct op *o)
{
    char *argv[] = { NULL, "restore", (char *)o->req->file, NULL };
    pid_t pid;
    int r;

    r = xengpu__op_spawn_xl(argv, -1, &pid, o->lg);
    if (!r) r = xengpu__op_wait_xl(pid);
    if (r) LOG(o->lg, ERROR, "restore: xl restore of %s failed", o->req->file);
    return r;
}

int xengpu_restore(const xengpu_save_req *req, xentoollog_logger *lg)
{
    char why[256];
    xengpu_stream_hdr h;
    struct op o;
    bool begun = false, exists = false;
    size_t i;
    int fd, r, lock = -1;

    xengpu__op_init(&o, req, lg, "restore");
    xengpu_stream_hdr_init(&h);
    fd = open(req->file, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        r = -errno;
        LOGE(o.lg, ERROR, errno, "restore: cannot open %s", req->file);
        goto out;
    }
    r = xengpu__trailer_read(fd, &h, why, sizeof(why));
    if (r) {
        LOG(o.lg, ERROR, "restore: %s: %s", req->file, why);
        goto out;
    }
    /* Parsed, so within the grammar: 36 and at most 64 characters. */
    snprintf(o.uuid, sizeof(o.uuid), "%.36s", h.uuid);
    snprintf(o.name, sizeof(o.name), "%.64s", h.name);
    o.domid = (uint32_t)-1;
    r = xengpu_xl_open(o.lg, false, &o.xl);
    if (!r) r = lock = xengpu__choose_lock(req->state_dir, o.lg);
    if (r > 0) r = 0;
    if (!r) r = xengpu__op_discover(&o);
    if (!r) r = xengpu__op_choose(&o, &h);
    if (!r)
        r = xengpu__op_event(&o, XENGPU_EVENT_RESTORE, XENGPU_PHASE_PRE, 0,
                             NULL);
    if (r) goto out;
    begun = true;
    for (i = 0; i < o.n && !r; i++)
        r = xengpu_reserve(&o.cards[i]->fns[0]->bdf, o.uuid,
                           time(NULL) + RESERVE_SECONDS, o.lg);
    xengpu__choose_unlock(lock); /* they are reserved */
    lock = -1;
    if (!r) r = xengpu__op_journal(&o, "restoring");
    if (!r) r = xengpu__op_prepare_chosen(&o);
    if (!r) r = run_restore(&o);
    if (!r) {
        exists = true;
        xengpu__op_say(&o, "domain %s restored", o.name);
        r = xengpu_xl_domid(o.xl, o.name, &o.domid);
    }
    if (!r) r = xengpu__op_journal(&o, "plugging");
    if (!r) r = xengpu__op_plug_all(&o);
    if (r) {
        xengpu__op_say(&o, "failed; undoing");
        if (exists && o.domid != (uint32_t)-1) xengpu__op_destroy(&o);
        xengpu__op_release_prepared(&o);
    } else {
        xengpu__op_record(&o, &h);
        xengpu__op_say(&o, "domain %s runs with %zu card%s", o.name, o.n,
                       o.n == 1 ? "" : "s");
    }
    xengpu__op_unreserve_all(&o);
    xengpu__op_journal(&o, NULL);
out:
    xengpu__choose_unlock(lock);
    if (begun)
        xengpu__op_event(&o, XENGPU_EVENT_RESTORE, XENGPU_PHASE_POST, r, NULL);
    if (fd >= 0) close(fd);
    xengpu_stream_hdr_dispose(&h);
    xengpu__op_dispose(&o);
    return r;
}
