/*
 * bdf.h - PCI addresses: strict parsing and canonical formatting.
 *
 * A PCI function is named by segment (domain), bus, device and function:
 * "DDDD:BB:DD.F" in hexadecimal, the form Linux uses for sysfs names and
 * xl uses in pci = [...] specs.  Every address that reaches sysfs or the
 * privileged helper goes through xengpu_bdf_parse(), so the parser is
 * deliberately strict: no whitespace, no sign, no "0x", no trailing bytes,
 * no field longer than its canonical width, device <= 0x1f, function <= 7.
 *
 * A slot ("card address") is the same without the function:
 * "DDDD:BB:DD".  It names every function of one physical card.
 *
 * The type, the flags and the functions worth a caller's while are
 * public, in include/xengpu.h; these are the library's own helpers.
 * Nothing here allocates, logs or touches errno; all functions are safe
 * to call from any thread.
 */
#ifndef XENGPU_BDF_H
#define XENGPU_BDF_H

#include <stddef.h>
#include <stdint.h>
#include <stdbool.h>
#include <xengpu.h>

/*
 * As xengpu_bdf_parse(), over exactly LEN bytes at S (need not be NUL
 * terminated; an embedded NUL is rejected).  Use it for a token inside a
 * longer string, e.g. the address before the first ',' of a pci spec.
 */
int xengpu_bdf_parse_mem(const char *s, size_t len, unsigned flags,
                         xengpu_bdf *bdf_r);

/* As xengpu_slot_parse(), over exactly LEN bytes. */
int xengpu_slot_parse_mem(const char *s, size_t len, unsigned flags,
                          xengpu_bdf *slot_r);

/* True when A and B are functions of the same slot (fn ignored). */
bool xengpu_bdf_same_slot(const xengpu_bdf *a, const xengpu_bdf *b);

/*
 * Xen's packed SBDF (segment << 16 | bus << 8 | dev << 3 | fn), as
 * libxl_device_pci and the domctls use it, and back.  The decoder never
 * fails: every 32-bit value is a valid address.
 */
uint32_t xengpu_bdf_to_sbdf(const xengpu_bdf *bdf);
xengpu_bdf xengpu_bdf_from_sbdf(uint32_t sbdf);

#endif /* XENGPU_BDF_H */
