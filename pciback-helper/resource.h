/*
 * resource.h - decode a PCI function's sysfs "resource" file.
 *
 * The kernel prints one line per resource, "0x%016llx 0x%016llx
 * 0x%016llx" (start, end, flags): lines 0-5 are the BARs, 6 the
 * expansion ROM, 7-12 the SR-IOV VF BARs (sized for all VFs), and on
 * bridges more lines for the windows.  An unimplemented BAR (and the
 * upper half of a 64-bit BAR) has flags 0; a BAR the firmware or kernel
 * could not place reads start 0 and end 0 with flags set ("Memory at
 * <unassigned>" in lspci).
 *
 * Pure function over memory: no I/O, no allocation, no logging.
 */
#ifndef XENGPU_RESOURCE_H
#define XENGPU_RESOURCE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define XENGPU_NUM_BARS 6
#define XENGPU_BAR_ROM 6

typedef struct xengpu_bar {
    uint8_t index; /* 0-5; XENGPU_BAR_ROM for the ROM */
    uint64_t size; /* bytes; 0 when unassigned */
    bool is64;     /* 64-bit memory BAR */
    bool prefetch; /* prefetchable memory */
    bool io;       /* I/O port BAR */
    bool assigned; /* has an address */
} xengpu_bar;

typedef struct xengpu_resources {
    xengpu_bar bars[XENGPU_NUM_BARS]; /* implemented BARs, by index */
    unsigned nbars;
    bool has_rom;
    xengpu_bar rom;
    xengpu_bar vf_bars[XENGPU_NUM_BARS]; /* SR-IOV, total for all VFs */
    unsigned nvf_bars;
} xengpu_resources;

/*
 * Decode LEN bytes of resource file TEXT into *res_r (always zeroed
 * first).  Returns 0, or -EINVAL when a line is not three 0x-prefixed
 * hex numbers or end < start.  Lines after the SR-IOV ones are checked
 * but not kept.
 */
int xengpu_resource_parse(const char *text, size_t len,
                          xengpu_resources *res_r);

#endif /* XENGPU_RESOURCE_H */
