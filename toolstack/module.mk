# toolstack: libxengpu (for now the JSON inventory and the command's
# verbs) and the xengpu command.  Linked statically against the
# pciback-helper library; the libxl compat header arrives with the
# first libxl call.

LIBS += xengpu
libxengpu_SRCS := toolstack/cli.c toolstack/inventory.c \
	toolstack/gpuspec.c toolstack/resolve.c toolstack/create.c \
	toolstack/domains.c toolstack/record.c toolstack/check.c
libxengpu_LDLIBS := -lxlutil -lxenlight -lxenctrl -lxenstore -lxentoollog $(call pkg_libs,yajl)

PROGRAMS += xengpu
xengpu_SRCS := toolstack/main.c
xengpu_LIBS := xengpu xengpu-pciback-ops xengpu-pciback
xengpu_INSTALLDIR = $(SBINDIR)
