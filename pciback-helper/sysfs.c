/*
 * sysfs.c - bounded, openat-relative reads of sysfs attributes.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "sysfs.h"

static int open_attr(int dirfd, const char *name, uint64_t *claimed_r)
{
    struct stat st;
    int fd;

    fd = openat(dirfd, name, O_RDONLY | O_CLOEXEC | O_NOFOLLOW | O_NONBLOCK);
    if (fd < 0) return errno == ELOOP ? -EINVAL : -errno;
    if (fstat(fd, &st) < 0) {
        close(fd);
        return -EIO;
    }
    if (!S_ISREG(st.st_mode)) {
        close(fd);
        return S_ISDIR(st.st_mode) ? -EISDIR : -EINVAL;
    }
    if (claimed_r) *claimed_r = (uint64_t)st.st_size;
    return fd;
}

int xengpu__sysfs_read(int dirfd, const char *name, void *buf, size_t size,
                       size_t *len_r)
{
    return xengpu__sysfs_read_claimed(dirfd, name, buf, size, len_r, NULL);
}

int xengpu__sysfs_read_claimed(int dirfd, const char *name, void *buf,
                               size_t size, size_t *len_r, uint64_t *claimed_r)
{
    size_t len = 0;
    ssize_t r;
    int fd, rc;

    fd = open_attr(dirfd, name, claimed_r);
    if (fd < 0) return fd;
    while (len < size) {
        r = read(fd, (char *)buf + len, size - len);
        if (r < 0 && errno == EINTR) continue;
        if (r < 0) {
            rc = -errno;
            goto out;
        }
        if (r == 0) break;
        len += (size_t)r;
        /* Only regular files get here: a short read is end of file. */
        if ((size_t)r < size - (len - (size_t)r)) break;
    }
    *len_r = len;
    rc = 0;
out:
    close(fd);
    return rc;
}

int xengpu__sysfs_read_text(int dirfd, const char *name, char *buf,
                            size_t size)
{
    size_t len;
    int rc;

    /* One byte more than fits, to tell "exactly full" from "truncated". */
    rc = xengpu__sysfs_read(dirfd, name, buf, size, &len);
    if (rc) return rc;
    if (len == size) return -EFBIG;
    if (memchr(buf, '\0', len)) return -EINVAL;
    if (len && buf[len - 1] == '\n') len--;
    buf[len] = '\0';
    return 0;
}

int xengpu__parse_uint(const char *s, uint64_t max, uint64_t *val_r)
{
    unsigned base = 10;
    uint64_t v = 0;
    unsigned d;

    if (s[0] == '0' && (s[1] == 'x' || s[1] == 'X')) {
        base = 16;
        s += 2;
    }
    if (!*s) return -EINVAL;
    for (; *s; s++) {
        if (*s >= '0' && *s <= '9')
            d = (unsigned)(*s - '0');
        else if (base == 16 && *s >= 'a' && *s <= 'f')
            d = (unsigned)(*s - 'a' + 10);
        else if (base == 16 && *s >= 'A' && *s <= 'F')
            d = (unsigned)(*s - 'A' + 10);
        else
            return -EINVAL;
        if (v > (max - d) / base) return -EINVAL;
        v = v * base + d;
    }
    *val_r = v;
    return 0;
}

int xengpu__sysfs_read_uint(int dirfd, const char *name, uint64_t max,
                            uint64_t *val_r)
{
    char buf[32];
    int rc;

    rc = xengpu__sysfs_read_text(dirfd, name, buf, sizeof(buf));
    if (rc) return rc;
    return xengpu__parse_uint(buf, max, val_r);
}

int xengpu__sysfs_read_int(int dirfd, const char *name, int *val_r)
{
    char buf[32];
    uint64_t v;
    int rc;

    rc = xengpu__sysfs_read_text(dirfd, name, buf, sizeof(buf));
    if (rc) return rc;
    if (buf[0] == '-') {
        rc = xengpu__parse_uint(buf + 1, (uint64_t)INT_MAX + 1, &v);
        if (rc || buf[1] == '0') return -EINVAL;
        *val_r = (int)-(int64_t)v;
        return 0;
    }
    rc = xengpu__parse_uint(buf, INT_MAX, &v);
    if (rc) return rc;
    *val_r = (int)v;
    return 0;
}

int xengpu__sysfs_link(int dirfd, const char *name, char *buf, size_t size)
{
    ssize_t r;

    r = readlinkat(dirfd, name, buf, size);
    if (r < 0) return -errno;
    if ((size_t)r >= size) return -EFBIG;
    buf[r] = '\0';
    return 0;
}

int xengpu__sysfs_link_base(int dirfd, const char *name, char *buf,
                            size_t size)
{
    char target[PATH_MAX];
    const char *base;
    size_t len;
    int rc;

    rc = xengpu__sysfs_link(dirfd, name, target, sizeof(target));
    if (rc) return rc;
    len = strlen(target);
    while (len > 1 && target[len - 1] == '/')
        target[--len] = '\0';
    base = strrchr(target, '/');
    base = base ? base + 1 : target;
    if (!*base || !strcmp(base, ".") || !strcmp(base, "..")) return -EINVAL;
    if (strlen(base) >= size) return -EFBIG;
    strcpy(buf, base);
    return 0;
}
