/*
 * record.c - the request of a GPU domain, in the state directory and in
 * xenstore.
 */
#include <errno.h>
#include <dirent.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <xenstore.h>
#include <yajl/yajl_gen.h>

#include "pciback-helper/libxl-compat.h"
#include "pciback-helper/state.h"
#include "pciback-helper/util.h"
#include "record.h"
#include "xenstore-schema/xs.h"

#define GEN_STR(g, s) \
    yajl_gen_string((g), (const unsigned char *)(s), strlen(s))

static char *request_json(const char *uuid, const xengpu_request *req)
{
    char b[XENGPU_BDF_STRLEN], *out;
    yajl_gen g = yajl_gen_alloc(NULL);
    const unsigned char *buf;
    size_t len, i;

    if (!g) xengpu__oom();
    yajl_gen_map_open(g);
    GEN_STR(g, "version");
    yajl_gen_integer(g, 1);
    GEN_STR(g, "uuid");
    GEN_STR(g, uuid);
    GEN_STR(g, "name");
    GEN_STR(g, req->name);
    GEN_STR(g, "gpu");
    yajl_gen_array_open(g);
    for (i = 0; i < req->nspecs; i++)
        GEN_STR(g, req->specs[i]);
    yajl_gen_array_close(g);
    GEN_STR(g, "cards");
    yajl_gen_array_open(g);
    for (i = 0; i < req->ncards; i++) {
        xengpu_bdf_format(&req->cards[i], b, sizeof(b));
        GEN_STR(g, b);
    }
    yajl_gen_array_close(g);
    GEN_STR(g, "migration");
    GEN_STR(g, req->unplug ? "unplug" : "refuse");
    GEN_STR(g, "compat");
    GEN_STR(g, req->compat ? req->compat : "exact");
    yajl_gen_map_close(g);
    yajl_gen_get_buf(g, &buf, &len);
    out = xengpu__xasprintf("%.*s\n", (int)len, (const char *)buf);
    yajl_gen_free(g);
    return out;
}

/* STATE/domains/UUID.json, written atomically. */
static int write_file(const char *state_dir, const char *uuid,
                      const char *text, xentoollog_logger *lg)
{
    char name[80], tmp[90];
    int sfd = -1, fd = -1, r;
    size_t len = strlen(text);

    r = xengpu_state_open(state_dir, lg, &sfd);
    if (r) return r;
    if (mkdirat(sfd, "domains", 0700) < 0 && errno != EEXIST) goto fail;
    snprintf(name, sizeof(name), "domains/%s.json", uuid);
    snprintf(tmp, sizeof(tmp), "%s.tmp", name);
    fd = openat(sfd, tmp,
                O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, 0600);
    if (fd < 0 || write(fd, text, len) != (ssize_t)len || fsync(fd) < 0)
        goto fail;
    close(fd);
    fd = -1;
    if (renameat(sfd, tmp, sfd, name) < 0) goto fail;
    close(sfd);
    return 0;
fail:
    r = -errno;
    LOGE(lg, ERROR, errno, "cannot record the GPU request of domain %s", uuid);
    if (fd >= 0) close(fd);
    unlinkat(sfd, tmp, 0);
    close(sfd);
    return r;
}

/* One node of the mirror, through the schema-checked write. */
static int xs_put(struct xs_handle *xs, xs_transaction_t t, const char *uuid,
                  const char *key, const char *value, xentoollog_logger *lg)
{
    char path[160];

    snprintf(path, sizeof(path), XENGPU_XS_ROOT "/%s/%s", uuid, key);
    return xengpu_xs_write(xs, t, path, value, lg);
}

/* The nodes of REQ within transaction T. */
static int put_all(struct xs_handle *xs, xs_transaction_t t, const char *uuid,
                   unsigned domid, const xengpu_request *req,
                   xentoollog_logger *lg)
{
    char key[32], val[XENGPU_BDF_STRLEN];
    size_t i;
    int r;

    snprintf(val, sizeof(val), "%u", domid);
    r = xs_put(xs, t, uuid, "name", req->name, lg);
    if (!r) r = xs_put(xs, t, uuid, "domid", val, lg);
    for (i = 0; !r && i < req->nspecs; i++) {
        snprintf(key, sizeof(key), "gpu/%zu/spec", i);
        r = xs_put(xs, t, uuid, key, req->specs[i], lg);
    }
    for (i = 0; !r && i < req->ncards; i++) {
        snprintf(key, sizeof(key), "gpu/%zu/card", i);
        xengpu_bdf_format(&req->cards[i], val, sizeof(val));
        r = xs_put(xs, t, uuid, key, val, lg);
    }
    if (!r)
        r = xs_put(xs, t, uuid, "migration", req->unplug ? "unplug" : "refuse",
                   lg);
    if (!r)
        r = xs_put(xs, t, uuid, "compat", req->compat ? req->compat : "exact",
                   lg);
    return r;
}

/* The xenstore mirror: one transaction, retried when it conflicts. */
static int mirror(const char *uuid, unsigned domid, const xengpu_request *req,
                  xentoollog_logger *lg)
{
    struct xs_handle *xs = xs_open(0);
    char top[128];
    int tries = 0, r;
    xs_transaction_t t;

    if (!xs) {
        LOGE(lg, ERROR, errno, "cannot open xenstore");
        return -errno;
    }
    snprintf(top, sizeof(top), XENGPU_XS_ROOT "/%s", uuid);
    for (;;) {
        t = xs_transaction_start(xs);
        if (t == XBT_NULL) {
            r = -errno;
            LOGE(lg, ERROR, errno, "cannot start a xenstore transaction");
            break;
        }
        /* A restarted domain keeps its UUID: replace, never merge. */
        r = xengpu_xs_rm(xs, t, top, lg);
        if (!r) r = put_all(xs, t, uuid, domid, req, lg);
        if (r) {
            xs_transaction_end(xs, t, true);
        } else if (!xs_transaction_end(xs, t, false)) {
            r = -errno;
            if (r == -EAGAIN && ++tries < 10) continue; /* raced: again */
            LOGE(lg, ERROR, -r, "cannot write %s in xenstore", top);
        }
        break;
    }
    xs_close(xs);
    return r;
}

int xengpu_request_record(const char *state_dir, const xengpu_request *req,
                          xentoollog_logger *lg)
{
    char uuid[LIBXL_UUID_FMTLEN + 1], *text;
    libxl_dominfo info;
    libxl_ctx *ctx = NULL;
    uint32_t domid;
    int r;

    if (libxl_ctx_alloc(&ctx, LIBXL_VERSION, 0, lg)) {
        LOG(lg, ERROR, "cannot talk to libxl to record domain %s's request",
            req->name);
        return -ENXIO;
    }
    libxl_dominfo_init(&info);
    if (libxl_name_to_domid(ctx, req->name, &domid) ||
        libxl_domain_info(ctx, &info, domid)) {
        LOG(lg, ERROR,
            "domain %s is not running; its GPU request is not "
            "recorded",
            req->name);
        r = -ENOENT;
        goto out;
    }
    snprintf(uuid, sizeof(uuid), LIBXL_UUID_FMT, LIBXL_UUID_BYTES(info.uuid));
    text = request_json(uuid, req);
    r = write_file(state_dir, uuid, text, lg);
    free(text);
    if (!r) r = mirror(uuid, domid, req, lg);
out:
    libxl_dominfo_dispose(&info);
    libxl_ctx_free(ctx);
    return r;
}

/* Is UUID (text) one of the running domains'? */
static bool running(const libxl_dominfo *doms, int n, const char *uuid)
{
    char u[LIBXL_UUID_FMTLEN + 1];
    int i;

    for (i = 0; i < n; i++) {
        snprintf(u, sizeof(u), LIBXL_UUID_FMT, LIBXL_UUID_BYTES(doms[i].uuid));
        if (!strcmp(u, uuid)) return true;
    }
    return false;
}

/* Forget one request: its file, then its xenstore mirror. */
static int forget(int sfd, struct xs_handle *xs, const char *uuid,
                  xentoollog_logger *lg)
{
    char name[80], top[128];

    snprintf(name, sizeof(name), "domains/%s.json", uuid);
    if (unlinkat(sfd, name, 0) < 0 && errno != ENOENT) {
        int r = -errno;
        LOGE(lg, ERROR, errno, "cannot remove the request of domain %s", uuid);
        return r;
    }
    snprintf(top, sizeof(top), XENGPU_XS_ROOT "/%s", uuid);
    return xs ? xengpu_xs_rm(xs, XBT_NULL, top, lg) : 0;
}

/* STATE_DIR/domains/UUID.json names whose UUID no domain runs with. */
static int prune_dir(int sfd, const libxl_dominfo *doms, int ndoms,
                     xentoollog_logger *lg)
{
    struct xs_handle *xs = xs_open(0);
    char uuid[LIBXL_UUID_FMTLEN + 1];
    struct dirent *de;
    int dfd, n = 0, r = 0;
    DIR *d;

    dfd = openat(sfd, "domains", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    d = dfd < 0 ? NULL : fdopendir(dfd);
    if (!d) {
        if (dfd >= 0) close(dfd);
        if (xs) xs_close(xs);
        return errno == ENOENT ? 0 : -errno;
    }
    while ((de = readdir(d)) && !r) {
        size_t len = strlen(de->d_name);
        if (len != LIBXL_UUID_FMTLEN + 5 ||
            strcmp(de->d_name + LIBXL_UUID_FMTLEN, ".json"))
            continue;
        snprintf(uuid, sizeof(uuid), "%.*s", LIBXL_UUID_FMTLEN, de->d_name);
        if (running(doms, ndoms, uuid)) continue;
        r = forget(sfd, xs, uuid, lg);
        if (!r) {
            LOG(lg, INFO, "forgot the GPU request of domain %s: it is gone",
                uuid);
            n++;
        }
    }
    closedir(d);
    if (xs) xs_close(xs);
    return r ? r : n;
}

int xengpu_request_prune(const char *state_dir, xentoollog_logger *lg)
{
    libxl_ctx *ctx = NULL;
    libxl_dominfo *doms;
    int ndoms = 0, sfd = -1, r;

    if (libxl_ctx_alloc(&ctx, LIBXL_VERSION, 0, lg)) {
        LOG(lg, ERROR, "cannot talk to libxl to list domains");
        return -ENXIO;
    }
    doms = libxl_list_domain(ctx, &ndoms);
    if (!doms) {
        LOG(lg, ERROR, "cannot list the domains");
        libxl_ctx_free(ctx);
        return -EIO;
    }
    r = xengpu_state_open(state_dir, lg, &sfd);
    if (!r) {
        r = prune_dir(sfd, doms, ndoms, lg);
        close(sfd);
    }
    libxl_dominfo_list_free(doms, ndoms);
    libxl_ctx_free(ctx);
    return r;
}
