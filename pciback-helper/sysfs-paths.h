/*
 * sysfs-paths.h - every sysfs path xengpu uses, relative to the sysfs
 * root directory fd (normally "/sys", XENGPU_SYSFS_ROOT or --sysfs-root
 * in tests and snapshots).  No other file spells a sysfs path.
 */
#ifndef XENGPU_SYSFS_PATHS_H
#define XENGPU_SYSFS_PATHS_H

#define XENGPU_SYSFS_DEFAULT_ROOT "/sys"
#define XENGPU_SYSFS_ROOT_ENV "XENGPU_SYSFS_ROOT"

/* Directory of per-device symlinks named by canonical BDF. */
#define SYSFS_PCI_DEVICES "bus/pci/devices"
/* Populated only when Linux itself drives an IOMMU (never on Xen dom0). */
#define SYSFS_IOMMU_GROUPS "kernel/iommu_groups"

/* Attributes inside a device directory. */
#define SYSFS_DEV_VENDOR "vendor"
#define SYSFS_DEV_DEVICE "device"
#define SYSFS_DEV_CLASS "class"
#define SYSFS_DEV_CONFIG "config"
#define SYSFS_DEV_RESOURCE "resource"
#define SYSFS_DEV_DRIVER "driver"
#define SYSFS_DEV_BOOT_VGA "boot_vga"
#define SYSFS_DEV_NUMA_NODE "numa_node"
#define SYSFS_DEV_RESET_METHOD "reset_method"
#define SYSFS_DEV_IOMMU_GROUP "iommu_group"
#define SYSFS_DEV_SRIOV_TOTALVFS "sriov_totalvfs"
#define SYSFS_DEV_SRIOV_NUMVFS "sriov_numvfs"
#define SYSFS_DEV_PHYSFN "physfn"

/*
 * Drivers.  The only sysfs files xengpu writes: "bind" of a function's
 * recorded original driver (a name checked by xengpu_driver_name_ok()),
 * and pciback's "unbind" and "remove_slot" when libxl cannot let go.
 */
#define SYSFS_PCI_DRIVERS "bus/pci/drivers"
#define SYSFS_PCIBACK_DIR "bus/pci/drivers/pciback"
#define SYSFS_PCIBACK_UNBIND "bus/pci/drivers/pciback/unbind"
#define SYSFS_PCIBACK_REMOVE_SLOT "bus/pci/drivers/pciback/remove_slot"
#define SYSFS_DRIVER_BIND "bind"

#endif /* XENGPU_SYSFS_PATHS_H */
