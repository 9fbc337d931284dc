/*
 * inventory.h - the host's cards as JSON (the `xengpu list --json` and
 * `xengpu show --json` contract in design.md).
 *
 * Each card object has at least: bdf (function 0's full address),
 * vendor, device (4 lower-case hex digits), class (6), functions (each
 * with bdf, vendor, device, class, driver or null, iommu_group or null,
 * bars, reset), reset, iommu_isolated, boot_vga, numa_node (null when
 * unknown), bars (function 0's: index, size, is64, prefetch), state and
 * domain (null).  Extra members describe what xengpu saw in more detail
 * (switch ports, upstream bridges, link, SR-IOV, why a card is not
 * isolated); consumers must ignore members they do not know.
 *
 * xengpu_inventory_json() and xengpu_card_json() are public, declared
 * in include/xengpu.h.
 */
#ifndef XENGPU_INVENTORY_H
#define XENGPU_INVENTORY_H

#include <stdbool.h>
#include <stddef.h>

#include <xengpu.h>

#include "pciback-helper/host.h"

#endif /* XENGPU_INVENTORY_H */
