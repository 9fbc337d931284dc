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
 */
#ifndef XENGPU_INVENTORY_H
#define XENGPU_INVENTORY_H

#include <stdbool.h>
#include <stddef.h>

#include "pciback-helper/host.h"

/*
 * {"cards": [...]} for every card of HOST.  On success returns 0 and a
 * NUL-terminated string in *json_r that the caller frees with free();
 * -ENOMEM is never returned (allocation failure aborts); -EIO when the
 * JSON generator fails.  PRETTY indents for humans.
 */
int xengpu_inventory_json(const xengpu_host *host, bool pretty, char **json_r);

/* As xengpu_inventory_json(), for the one CARD object of HOST. */
int xengpu_card_json(const xengpu_host *host, const xengpu_card *card,
                     bool pretty, char **json_r);

#endif /* XENGPU_INVENTORY_H */
