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
 * What `xengpu snapshot` copies besides the attributes above: the rest
 * of what lspci's linux-sysfs method reads, and what a bug report needs.
 * Never resourceN, rom or vpd: reading those reaches the device itself.
 */
#define SYSFS_DEV_SNAPSHOT_EXTRA                                             \
    "subsystem_vendor", "subsystem_device", "revision", "irq", "enable",     \
        "modalias", "label", "index", "acpi_index", "local_cpus",            \
        "local_cpulist", "current_link_speed", "current_link_width",         \
        "max_link_speed", "max_link_width", "sriov_offset", "sriov_stride",  \
        "sriov_vf_device", "sriov_drivers_autoprobe", "msi_bus",             \
        "ari_enabled", "d3cold_allowed", "power_state",                      \
        "broken_parity_status", "dma_mask_bits", "consistent_dma_mask_bits", \
        "driver_override"
/* The device tree that bus/pci/devices links point into. */
#define SYSFS_DEVICES "devices"
/* Physical slots: <name>/address is "DDDD:BB:DD" (lspci's Physical Slot). */
#define SYSFS_PCI_SLOTS "bus/pci/slots"
#define SYSFS_SLOT_ADDRESS "address"

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
