# pciback-helper: host side of PCI (addresses, sysfs discovery, and later
# bind/unbind, resets, locks, journal).  Built as a static library that
# the xengpu command, the privileged xengpu-pciback program and the unit
# tests link.

LIBS += xengpu-pciback
xengpu-pciback_SRCS := pciback-helper/bdf.c
