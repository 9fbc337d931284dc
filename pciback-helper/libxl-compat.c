/*
 * libxl-compat.c - libxl's return codes and types, converted once.
 */
#include <errno.h>

#include "libxl-compat.h"

int xengpu__libxl_errno(int rc)
{
    switch (rc) {
    case 0:
        return 0;
    case ERROR_NOMEM:
        return -ENOMEM;
    case ERROR_INVAL:
        return -EINVAL;
    case ERROR_NOTFOUND:
        return -ENOENT;
    case ERROR_DEVICE_EXISTS:
        return -EEXIST;
    case ERROR_NOPARAVIRT:
    case ERROR_FEATURE_REMOVED:
        return -EOPNOTSUPP;
    case ERROR_LOCK_FAIL:
        return -EBUSY;
    case ERROR_TIMEDOUT:
        return -ETIMEDOUT;
    default:
        return -EIO;
    }
}

void xengpu__libxl_pci_from_bdf(libxl_device_pci *pci, const xengpu_bdf *bdf)
{
    pci->domain = bdf->domain;
    pci->bus = bdf->bus;
    pci->dev = bdf->dev;
    pci->func = bdf->fn;
}
