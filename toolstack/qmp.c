/*
 * qmp.c - which slots an HVM guest's device model has taken.
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>
#include <yajl/yajl_tree.h>

#include "compat.h"
#include "pciback-helper/util.h"
#include "qmp.h"

#define MAX_DEPTH 16 /* a device behind two bridges */

const char *xengpu__qmp_dir = XENGPU_QMP_DIR;

static int slots_of_bus(yajl_val bus, uint32_t *used)
{
    const char *bus_key[] = { "bus", NULL };
    const char *devs_key[] = { "devices", NULL };
    const char *slot_key[] = { "slot", NULL };
    yajl_val nr = yajl_tree_get(bus, bus_key, yajl_t_number);
    yajl_val devs = yajl_tree_get(bus, devs_key, yajl_t_array);
    size_t i;

    if (!nr || !YAJL_IS_INTEGER(nr) || !devs) return -EINVAL;
    if (YAJL_GET_INTEGER(nr) != 0) return 0; /* behind a bridge */
    for (i = 0; i < YAJL_GET_ARRAY(devs)->len; i++) {
        yajl_val slot = yajl_tree_get(YAJL_GET_ARRAY(devs)->values[i],
                                      slot_key, yajl_t_number);

        if (!slot || !YAJL_IS_INTEGER(slot) || YAJL_GET_INTEGER(slot) < 0 ||
            YAJL_GET_INTEGER(slot) > 31)
            return -EINVAL;
        *used |= 1u << YAJL_GET_INTEGER(slot);
    }
    return 0;
}

int xengpu__qmp_parse_slots(const char *reply, size_t len, uint32_t *used_r)
{
    const char *ret_key[] = { "return", NULL };
    char *text, err[64];
    yajl_val root, buses;
    uint32_t used = 0;
    size_t i;
    int r = -EINVAL;

    if (len > XENGPU_QMP_MAX_REPLY || memchr(reply, '\0', len) ||
        xengpu__json_too_deep(reply, len, MAX_DEPTH))
        return -EINVAL;
    text = xengpu__xstrndup(reply, len);
    root = yajl_tree_parse(text, err, sizeof(err));
    free(text);
    buses = yajl_tree_get(root, ret_key, yajl_t_array);
    if (!buses) goto out;
    for (i = 0; i < YAJL_GET_ARRAY(buses)->len; i++)
        if (slots_of_bus(YAJL_GET_ARRAY(buses)->values[i], &used)) goto out;
    *used_r = used;
    r = 0;
out:
    yajl_tree_free(root);
    return r;
}

static long ms_left(const struct timespec *end)
{
    struct timespec now;

    clock_gettime(CLOCK_MONOTONIC, &now);
    return (end->tv_sec - now.tv_sec) * 1000 +
           (end->tv_nsec - now.tv_nsec) / 1000000;
}

/*
 * The next line from FD that is not an asynchronous event, without its
 * newline, into BUF (which keeps what follows it for the next call).
 */
typedef struct reader {
    int fd;
    char *buf;
    size_t len;
    struct timespec end;
} reader;

static bool is_event(const char *line, size_t len)
{
    return strlen(line) == len && strstr(line, "\"event\"") &&
           !strstr(line, "\"return\"") && !strstr(line, "\"error\"");
}

static int next_reply(reader *rd, char **line_r, size_t *len_r)
{
    char *nl;
    ssize_t n;
    long left;

    for (;;) {
        while ((nl = memchr(rd->buf, '\n', rd->len))) {
            size_t ll = (size_t)(nl - rd->buf);

            *nl = '\0';
            if (!is_event(rd->buf, ll)) { /* a reply, or junk */
                *line_r = xengpu__xstrndup(rd->buf, ll);
                *len_r = ll;
                memmove(rd->buf, nl + 1, rd->len - ll - 1);
                rd->len -= ll + 1;
                rd->buf[rd->len] = '\0';
                return 0;
            }
            memmove(rd->buf, nl + 1, rd->len - ll - 1);
            rd->len -= ll + 1;
            rd->buf[rd->len] = '\0';
        }
        if (rd->len >= XENGPU_QMP_MAX_REPLY) return -EMSGSIZE;
        left = ms_left(&rd->end);
        if (left <= 0) return -ETIMEDOUT;
        struct pollfd p = { rd->fd, POLLIN, 0 };
        if (poll(&p, 1, (int)left) <= 0) continue;
        n = read(rd->fd, rd->buf + rd->len, XENGPU_QMP_MAX_REPLY - rd->len);
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0) return n ? -errno : -ECONNRESET;
        rd->len += (size_t)n;
        rd->buf[rd->len] = '\0';
    }
}

static int send_cmd(int fd, const char *cmd)
{
    size_t len = strlen(cmd);

    return write(fd, cmd, len) == (ssize_t)len ? 0 : -EIO;
}

static int connect_to(const char *dir, uint32_t domid)
{
    struct sockaddr_un sa = { .sun_family = AF_UNIX };
    int fd;

    if ((size_t)snprintf(sa.sun_path, sizeof(sa.sun_path), "%s/qmp-libxl-%u",
                         dir, domid) >= sizeof(sa.sun_path))
        return -ENAMETOOLONG;
    fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0) return -errno;
    if (connect(fd, (struct sockaddr *)&sa, sizeof(sa))) {
        int e = errno;

        close(fd);
        return -e;
    }
    return fd;
}

/* The greeting, then capabilities, then query-pci; each reply read. */
static int converse(reader *rd, uint32_t *used_r)
{
    static const char *const cmds[] = {
        "{\"execute\":\"qmp_capabilities\"}\n",
        "{\"execute\":\"query-pci\"}\n",
    };
    char *line = NULL;
    size_t len, i;
    int r = next_reply(rd, &line, &len); /* {"QMP": ...} */

    for (i = 0; !r && i < 2; i++) {
        free(line);
        line = NULL;
        r = send_cmd(rd->fd, cmds[i]);
        if (!r) r = next_reply(rd, &line, &len);
        if (!r && i == 0 && !strstr(line, "\"return\"")) r = -EPROTO;
    }
    if (!r) r = xengpu__qmp_parse_slots(line, len, used_r) ? -EPROTO : 0;
    free(line);
    return r;
}

int xengpu__qmp_used_slots(xentoollog_logger *lg, xentoollog_level level,
                           const char *dir, uint32_t domid, int timeout_ms,
                           uint32_t *used_r)
{
    reader rd = { .fd = -1 };
    int r;

    if (!dir) dir = xengpu__qmp_dir;
    clock_gettime(CLOCK_MONOTONIC, &rd.end);
    rd.end.tv_sec += timeout_ms / 1000;
    rd.end.tv_nsec += (long)(timeout_ms % 1000) * 1000000;
    if (rd.end.tv_nsec >= 1000000000) {
        rd.end.tv_sec++;
        rd.end.tv_nsec -= 1000000000;
    }
    rd.fd = connect_to(dir, domid);
    if (rd.fd < 0) {
        r = rd.fd;
        goto out;
    }
    rd.buf = xengpu__xcalloc(1, XENGPU_QMP_MAX_REPLY + 1);
    r = converse(&rd, used_r);
out:
    if (r)
        xengpu__log(lg, level, -r,
                    "cannot ask domain %u's device model (%s/qmp-libxl-%u) "
                    "which PCI slots it uses",
                    domid, dir, domid);
    if (rd.fd >= 0) close(rd.fd);
    free(rd.buf);
    return r;
}
