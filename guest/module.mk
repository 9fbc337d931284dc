# guest: xengpu-guest, the agent Linux guests run (guest/agent.h).  It
# links only libxenstore (xenstore-utils' library, in every Xen guest
# that has the xenstore tools) and the protocol's values.

xengpu-guest_SRCS_CORE := guest/agent.c xenstore-schema/proto.c

PROGRAMS += xengpu-guest
xengpu-guest_SRCS := guest/main.c $(xengpu-guest_SRCS_CORE)
xengpu-guest_LDLIBS := -lxenstore
xengpu-guest_INSTALLDIR = $(SBINDIR)
