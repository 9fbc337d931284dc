/*
 * libxl-compat.h - the one place xengpu includes libxl.
 *
 * Pins the libxl API version (Xen 4.17 accepts at most 0x041400) so a
 * newer libxl keeps the semantics this code was written against, and
 * converts libxl's ERROR_* codes to negative errno values.  No other file
 * includes <libxl.h>.
 */
#ifndef XENGPU_LIBXL_COMPAT_H
#define XENGPU_LIBXL_COMPAT_H

#define LIBXL_API_VERSION 0x041400
#include <libxl.h>
#include <libxl_utils.h>

#include "bdf.h"

/* A libxl return code (0 or ERROR_*) as 0 or a negative errno. */
int xengpu__libxl_errno(int rc);

/* Fill libxl's PCI device from a parsed address (init'ed by the caller). */
void xengpu__libxl_pci_from_bdf(libxl_device_pci *pci, const xengpu_bdf *bdf);

#endif /* XENGPU_LIBXL_COMPAT_H */
