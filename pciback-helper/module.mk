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
	pciback-helper/host-access.c \
	pciback-helper/isolation.c \
	pciback-helper/pcicfg.c \
	pciback-helper/reset.c \
	pciback-helper/resource.c \
	pciback-helper/snapshot.c \
	pciback-helper/sysfs.c \
	pciback-helper/util.c
libxengpu-pciback_LDLIBS := -lxentoollog

# Prepare/release/recover: the state directory, the journal and the
# engine over libxl.  A library of its own so that code which only reads
# the host (the unit tests of discovery, `xengpu list`) needs no libxl.
LIBS += xengpu-pciback-ops
libxengpu-pciback-ops_SRCS := \
	pciback-helper/libxl-compat.c \
	pciback-helper/pciback.c \
	pciback-helper/state.c
libxengpu-pciback-ops_LDLIBS := -lxenlight -lxenctrl -lxentoollog \
	$(call pkg_libs,yajl)

# The privileged helper: the only program that writes sysfs.
PROGRAMS += xengpu-pciback
xengpu-pciback_SRCS := pciback-helper/xengpu-pciback.c
xengpu-pciback_LIBS := xengpu-pciback-ops xengpu-pciback
xengpu-pciback_LDLIBS := $(libxengpu-pciback-ops_LDLIBS)
xengpu-pciback_INSTALLDIR = $(SBINDIR)
