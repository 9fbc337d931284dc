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
 * Nothing here allocates, logs or touches errno; all functions are safe
 * to call from any thread.
 */
#ifndef XENGPU_BDF_H
#define XENGPU_BDF_H

#include <stddef.h>
#include <stdint.h>
#include <stdbool.h>

/*
 * A parsed PCI function address.  A plain value: copy it, compare it
 * with xengpu_bdf_cmp().  Xen and libxl limit the segment to 16 bits,
 * so this does too.
 */
typedef struct xengpu_bdf {
    uint16_t domain;
    uint8_t bus;
    uint8_t dev; /* 0 .. 0x1f */
    uint8_t fn;  /* 0 .. 7 */
} xengpu_bdf;

/* Buffer sizes for the canonical forms, terminating NUL included. */
#define XENGPU_BDF_STRLEN 13  /* "0000:01:00.0" */
#define XENGPU_SLOT_STRLEN 11 /* "0000:01:00" */

/*
 * Flags for the parsers.
 *
 * XENGPU_BDF_CANONICAL: accept only the exact form xengpu_bdf_format()
 * writes: domain present, every field at full width, lower-case hex.
 * Use it for names that come from the kernel (sysfs directory entries,
 * pciback "slots"), where anything else means the tree is not what we
 * think it is.
 *
 * Without it the domain may be omitted (it is then 0), fields may be
 * shorter than full width ("1:0.0"), and upper-case hex is accepted, as
 * xl and lspci accept them.
 */
#define XENGPU_BDF_CANONICAL 0x1u

/*
 * Parse the NUL-terminated string S as a function address.
 *
 * Returns 0 and fills *bdf_r, or -EINVAL (and leaves *bdf_r untouched)
 * when S is not exactly one address.  FLAGS is 0 or XENGPU_BDF_CANONICAL.
 */
int xengpu_bdf_parse(const char *s, unsigned flags, xengpu_bdf *bdf_r);

/*
 * As xengpu_bdf_parse(), over exactly LEN bytes at S (need not be NUL
 * terminated; an embedded NUL is rejected).  Use it for a token inside a
 * longer string, e.g. the address before the first ',' of a pci spec.
 */
int xengpu_bdf_parse_mem(const char *s, size_t len, unsigned flags,
                         xengpu_bdf *bdf_r);

/*
 * Parse a slot address "[DDDD:]BB:DD" (same rules, no function).  On
 * success *slot_r has fn == 0.  Returns 0 or -EINVAL.
 */
int xengpu_slot_parse(const char *s, unsigned flags, xengpu_bdf *slot_r);

/* As xengpu_slot_parse(), over exactly LEN bytes. */
int xengpu_slot_parse_mem(const char *s, size_t len, unsigned flags,
                          xengpu_bdf *slot_r);

/*
 * Write the canonical "dddd:bb:dd.f" form of BDF into BUF of SIZE bytes.
 * Returns 0, or -ENOSPC when SIZE < XENGPU_BDF_STRLEN, or -EINVAL when
 * BDF's device or function is out of range (BUF is then untouched).
 */
int xengpu_bdf_format(const xengpu_bdf *bdf, char *buf, size_t size);

/* As xengpu_bdf_format(), for the slot "dddd:bb:dd"; fn is ignored. */
int xengpu_slot_format(const xengpu_bdf *slot, char *buf, size_t size);

/*
 * Total order: domain, bus, device, function.  Returns <0, 0 or >0 like
 * strcmp(), matching the order of the canonical strings.
 */
int xengpu_bdf_cmp(const xengpu_bdf *a, const xengpu_bdf *b);

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
