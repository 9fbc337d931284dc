# toolstack: libxengpu and the xengpu command.
#
# libxengpu is the shared library of include/xengpu.h: the toolstack
# objects and the pciback-helper library's, exporting only what
# toolstack/libxengpu.map lists.  The xengpu command is main() over it.
# Unit tests link the objects of libxengpu_SRCS instead (see
# tests/unit/module.mk), so that -Wl,--wrap works.

SHLIBS += xengpu
libxengpu_VERSION := 0.1
libxengpu_MAP := toolstack/libxengpu.map
libxengpu_SRCS := toolstack/cli.c toolstack/inventory.c \
	toolstack/gpuspec.c toolstack/resolve.c toolstack/create.c \
	toolstack/domains.c toolstack/record.c toolstack/check.c \
	toolstack/reserve.c migrate/op.c migrate/save.c migrate/migrate.c \
	migrate/recover.c migrate/stream.c \
	toolstack/xstore.c toolstack/layout.c toolstack/compat.c \
	toolstack/events.c toolstack/qmp.c
libxengpu_SO_SRCS := $(libxengpu_SRCS) $(libxengpu-pciback-ops_SRCS) \
	$(libxengpu-pciback_SRCS) $(libxengpu-xs_SRCS)
libxengpu_LDLIBS := -lxlutil -lxenlight -lxenctrl -lxenstore -lxentoollog $(call pkg_libs,yajl)

PROGRAMS += xengpu
xengpu_SRCS := toolstack/main.c
xengpu_SHLIBS := xengpu
xengpu_INSTALLDIR = $(SBINDIR)

# xengpu.pc for the installed library, and xengpu-uninstalled.pc (which
# pkg-config prefers when both are on PKG_CONFIG_PATH) for building
# against the build tree.  $(B)/pcdirs changes when the directories do.
PC_DIRS := $(PREFIX) $(LIBDIR) $(INCLUDEDIR) $(libxengpu_VERSION)
$(B)/pcdirs: FORCE
	@mkdir -p $(@D)
	@echo '$(PC_DIRS)' | cmp -s - $@ || echo '$(PC_DIRS)' >$@

pc_subst = sed -e 's|@PREFIX@|$(1)|g' -e 's|@LIBDIR@|$(2)|g' \
	-e 's|@INCLUDEDIR@|$(3)|g' -e 's|@VERSION@|$(libxengpu_VERSION)|g'

$(B)/lib/pkgconfig/xengpu.pc: toolstack/xengpu.pc.in $(B)/pcdirs
	@mkdir -p $(@D)
	$(call pc_subst,$(PREFIX),$(LIBDIR),$(INCLUDEDIR)) $< >$@

$(B)/lib/pkgconfig/xengpu-uninstalled.pc: toolstack/xengpu.pc.in $(B)/pcdirs
	@mkdir -p $(@D)
	$(call pc_subst,$(CURDIR),$(abspath $(B)/lib),$(CURDIR)/include) $< >$@

XENGPU_PC := $(B)/lib/pkgconfig/xengpu.pc \
	$(B)/lib/pkgconfig/xengpu-uninstalled.pc
all: $(XENGPU_PC)

.PHONY: install-libxengpu
install: install-libxengpu
install-libxengpu: $(B)/lib/libxengpu.so.$(libxengpu_VERSION) $(XENGPU_PC)
	$(INSTALL) -D -m 0755 $(B)/lib/libxengpu.so.$(libxengpu_VERSION) \
		$(DESTDIR)$(LIBDIR)/libxengpu.so.$(libxengpu_VERSION)
	ln -sf libxengpu.so.$(libxengpu_VERSION) \
		$(DESTDIR)$(LIBDIR)/$(libxengpu_SONAME)
	ln -sf $(libxengpu_SONAME) $(DESTDIR)$(LIBDIR)/libxengpu.so
	$(INSTALL) -D -m 0644 include/xengpu.h $(DESTDIR)$(INCLUDEDIR)/xengpu.h
	$(INSTALL) -D -m 0644 $(B)/lib/pkgconfig/xengpu.pc \
		$(DESTDIR)$(PKGCONFIGDIR)/xengpu.pc
