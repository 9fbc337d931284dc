/*
 * snapshot.h - copy what discovery reads from sysfs into a new tree.
 *
 * `xengpu snapshot DIR` lets a user attach their host to a bug report:
 * DIR afterwards works as `xengpu --sysfs-root DIR` (and for
 * `lspci -A linux-sysfs -O sysfs.path=DIR/bus/pci`) and describes the
 * same cards as the host did.
 *
 * For every function named by a canonical address in bus/pci/devices the
 * kernel's layout is recreated:
 *
 *   devices/.../pciDDDD:BB/<bridge>/.../<bdf>/   the device's real path
 *   bus/pci/devices/<bdf> -> ../../../devices/.../<bdf>
 *   <bdf>/driver -> ../..../bus/pci/drivers/<name>
 *   <bdf>/iommu_group -> ../..../kernel/iommu_groups/<n>
 *   <vf>/physfn -> the PF's directory
 *   bus/pci/slots/<name>/address
 *
 * and the plain attributes listed in sysfs-paths.h (config, resource,
 * ids, boot_vga, numa_node, reset_method, sriov_*, irq, ...) are copied
 * byte for byte, each read bounded, through openat() relative to the
 * source root fd, never following a symlink where a file belongs, so a
 * broken or hostile tree (symlink loops, FIFOs) costs a warning, never a
 * hang.  No path is built from the source tree's text unless it parses
 * as a canonical address, a host bridge name or a plain driver name.
 * The snapshot's own links are relative, so DIR can be moved or packed.
 *
 * Linux shows only the first 64 bytes of "config" to a reader without
 * CAP_SYS_ADMIN; such a snapshot lacks every capability (FLR, ACS,
 * SR-IOV, link).  That is reported in xengpu_snapshot_info and said in
 * the note file DIR/XENGPU_SNAPSHOT_NOTE.
 */
#ifndef XENGPU_SNAPSHOT_H
#define XENGPU_SNAPSHOT_H

#include <stddef.h>
#include <xentoollog.h>

/* Plain text in DIR saying what the snapshot is and what it lacks. */
#define XENGPU_SNAPSHOT_NOTE "xengpu-snapshot.txt"

typedef struct xengpu_snapshot_info {
    unsigned copied;      /* functions written to the snapshot */
    unsigned skipped;     /* bus/pci/devices entries left out (logged) */
    unsigned cfg_short;   /* functions whose config read short */
    size_t cfg_short_len; /* the longest such short read, e.g. 64 */
    unsigned attr_errors; /* attributes present but not copied (logged) */
} xengpu_snapshot_info;

/*
 * Copy the PCI part of the sysfs tree at SYSFS_FD (from
 * xengpu_sysfs_open_root(); not closed) into DIR, which must not exist
 * or be an empty directory; it is created mode 0755.
 *
 * Returns 0 when the snapshot was written, with what happened in *info_r
 * (may be NULL); a function that cannot be copied is skipped with a
 * warning and counted, it does not fail the snapshot.  Returns
 * -ENOTEMPTY when DIR exists and is not empty (nothing is written),
 * -ENOTDIR when it is not a directory, or another negative errno when
 * DIR cannot be created or written or bus/pci/devices cannot be read;
 * then DIR may hold a partial tree.  Every failure is logged through LG
 * (NULL: stderr).
 */
int xengpu_snapshot_take(int sysfs_fd, const char *dir, xentoollog_logger *lg,
                         xengpu_snapshot_info *info_r);

#endif /* XENGPU_SNAPSHOT_H */
