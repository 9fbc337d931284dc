/*
 * sysfs.h - bounded, openat-relative reads of sysfs attributes.
 *
 * Every function takes a directory fd (the sysfs root or a device
 * directory) and a relative NAME.  Attributes are opened with
 * O_NOFOLLOW | O_NONBLOCK and must be regular files, so a hostile or
 * broken tree (symlink loops, FIFOs, directories where files belong)
 * yields an error instead of a hang.  Reads are bounded by the caller's
 * buffer.  Nothing here logs: callers know which device they were
 * reading and log once.
 *
 * Returns are 0 or a negative errno; -ENOENT means "attribute absent",
 * which callers usually treat as "unknown" rather than as a failure.
 */
#ifndef XENGPU_SYSFS_H
#define XENGPU_SYSFS_H

#include <stddef.h>
#include <stdint.h>

/*
 * Read at most SIZE bytes of DIRFD/NAME into BUF; *len_r gets the count.
 * -EISDIR/-EINVAL when NAME is not a regular file.
 */
int xengpu__sysfs_read(int dirfd, const char *name, void *buf, size_t size,
                       size_t *len_r);

/*
 * As xengpu__sysfs_read(), also giving in *claimed_r (when not NULL) the
 * size the file's inode claims.  Reading fewer bytes than claimed is how
 * a truncated attribute shows: "config" claims 256 or 4096 bytes but
 * Linux lets a reader without CAP_SYS_ADMIN see only the first 64.
 */
int xengpu__sysfs_read_claimed(int dirfd, const char *name, void *buf,
                               size_t size, size_t *len_r,
                               uint64_t *claimed_r);

/*
 * Read a text attribute into BUF (SIZE >= 1), NUL-terminated, with one
 * trailing newline removed.  -EFBIG when it does not fit, -EINVAL when
 * it contains a NUL byte.
 */
int xengpu__sysfs_read_text(int dirfd, const char *name, char *buf,
                            size_t size);

/*
 * Read an attribute holding one unsigned number ("0x10de", "0x030000",
 * "4") and check it is at most MAX.  -EINVAL on anything else.
 */
int xengpu__sysfs_read_uint(int dirfd, const char *name, uint64_t max,
                            uint64_t *val_r);

/* As xengpu__sysfs_read_uint(), for a signed decimal ("-1"). */
int xengpu__sysfs_read_int(int dirfd, const char *name, int *val_r);

/*
 * The last path component of symlink DIRFD/NAME (e.g. "nvidia" for
 * driver -> ../../../bus/pci/drivers/nvidia), NUL-terminated in BUF.
 * -EINVAL when NAME is not a symlink, -EFBIG when it does not fit.
 */
int xengpu__sysfs_link_base(int dirfd, const char *name, char *buf,
                            size_t size);

/*
 * The whole target of symlink DIRFD/NAME, NUL-terminated in BUF.
 * -EINVAL when NAME is not a symlink, -EFBIG when it does not fit.
 */
int xengpu__sysfs_link(int dirfd, const char *name, char *buf, size_t size);

/*
 * Parse one unsigned number as sysfs prints it: decimal, or hex with a
 * 0x prefix; nothing else in S (the newline already stripped).
 */
int xengpu__parse_uint(const char *s, uint64_t max, uint64_t *val_r);

#endif /* XENGPU_SYSFS_H */
