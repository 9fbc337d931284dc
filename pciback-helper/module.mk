# pciback-helper: host side of PCI.  A static library that the xengpu
# command, the privileged xengpu-pciback program (later) and the unit
# tests link: addresses, sysfs reading, config space and resource
# decoding, and the host model (functions, cards, isolation, resets).

LIBS += xengpu-pciback
libxengpu-pciback_SRCS := \
	pciback-helper/bdf.c \
	pciback-helper/cards.c \
	pciback-helper/device.c \
	pciback-helper/host.c \
	pciback-helper/isolation.c \
	pciback-helper/pcicfg.c \
	pciback-helper/reset.c \
	pciback-helper/resource.c \
	pciback-helper/sysfs.c \
	pciback-helper/util.c
libxengpu-pciback_LDLIBS := -lxentoollog
