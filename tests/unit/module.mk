# Unit tests: one cmocka program per module, tests/unit/test-<module>.c,
# linked from objects so that -Wl,--wrap= works.  For each test set
# <name>_SRCS (test source plus the objects under test), optionally
# <name>_LDLIBS and <name>_WRAP (symbols to wrap).
#
# UNIT_SCRIPTS are tests that are not cmocka programs but print its
# summary lines; $(B)/tests/<name> runs them with the build's settings.

# libxengpu's exports against toolstack/libxengpu.map and
# include/xengpu.h, and a program built with pkg-config against it.
UNIT_SCRIPTS += test-abi
$(B)/tests/test-abi: tests/unit/test-abi \
		$(B)/lib/libxengpu.so.$(libxengpu_VERSION) \
		$(B)/lib/libxengpu.so toolstack/libxengpu.map include/xengpu.h \
		$(B)/lib/pkgconfig/xengpu-uninstalled.pc
	@mkdir -p $(@D)
	printf '#!/bin/sh\ncd %s && B=%s CC="%s" SANFLAGS="%s" exec %s\n' \
		'$(CURDIR)' '$(B)' '$(CC)' '$(SANFLAGS)' $< >$@
	chmod +x $@

# No object but xenstore-schema/xs.o calls libxenstore's writers.
UNIT_SCRIPTS += test-xsenforce
$(B)/tests/test-xsenforce: tests/unit/test-xsenforce \
		$(B)/lib/libxengpu.so.$(libxengpu_VERSION) $(B)/bin/xengpu \
		$(B)/bin/xengpu-pciback
	@mkdir -p $(@D)
	printf '#!/bin/sh\ncd %s && B=%s exec %s\n' '$(CURDIR)' '$(B)' $< >$@
	chmod +x $@

UNIT_TESTS += test-bdf
test-bdf_SRCS := tests/unit/test-bdf.c pciback-helper/bdf.c

FAKE_SYSFS_SRCS := tests/unit/fake-sysfs.c tests/unit/realcards.c \
	tests/unit/capture-log.c

UNIT_TESTS += test-host
test-host_SRCS := tests/unit/test-host.c $(FAKE_SYSFS_SRCS) \
	$(libxengpu-pciback_SRCS)
test-host_LDLIBS := $(libxengpu-pciback_LDLIBS)

UNIT_TESTS += test-pcicfg
test-pcicfg_SRCS := tests/unit/test-pcicfg.c tests/unit/fake-sysfs.c \
	pciback-helper/pcicfg.c pciback-helper/resource.c

UNIT_TESTS += test-cli
test-cli_SRCS := tests/unit/test-cli.c $(FAKE_SYSFS_SRCS) \
	$(libxengpu_SRCS) $(libxengpu-xs_SRCS) $(libxengpu-pciback_SRCS) pciback-helper/libxl-compat.c \
	pciback-helper/state.c
test-cli_LDLIBS := $(libxengpu_LDLIBS) $(libxengpu-pciback_LDLIBS)

UNIT_TESTS += test-pciback
test-pciback_SRCS := tests/unit/test-pciback.c $(FAKE_SYSFS_SRCS) \
	$(libxengpu-pciback_SRCS) $(libxengpu-pciback-ops_SRCS)
test-pciback_LDLIBS := $(libxengpu-pciback-ops_LDLIBS)
test-pciback_WRAP := libxl_ctx_alloc libxl_ctx_free \
	libxl_device_pci_assignable_add libxl_device_pci_assignable_remove \
	libxl_list_domain libxl_dominfo_list_free libxl_device_pci_list \
	libxl_device_pci_list_free xc_interface_open xc_interface_close \
	xc_get_device_group xc_reserved_device_memory_map

UNIT_TESTS += test-snapshot
test-snapshot_SRCS := tests/unit/test-snapshot.c $(FAKE_SYSFS_SRCS) \
	$(libxengpu_SRCS) $(libxengpu-xs_SRCS) $(libxengpu-pciback_SRCS) pciback-helper/libxl-compat.c \
	pciback-helper/state.c
test-snapshot_LDLIBS := $(libxengpu_LDLIBS) $(libxengpu-pciback_LDLIBS)

UNIT_TESTS += test-gpuspec
test-gpuspec_SRCS := tests/unit/test-gpuspec.c tests/unit/capture-log.c \
	toolstack/gpuspec.c $(libxengpu-pciback_SRCS)
test-gpuspec_LDLIBS := $(libxengpu_LDLIBS) $(libxengpu-pciback_LDLIBS)

UNIT_TESTS += test-resolve
test-resolve_SRCS := tests/unit/test-resolve.c $(FAKE_SYSFS_SRCS) \
	toolstack/gpuspec.c toolstack/resolve.c $(libxengpu-pciback_SRCS)
test-resolve_LDLIBS := $(libxengpu_LDLIBS) $(libxengpu-pciback_LDLIBS)

UNIT_TESTS += test-create
test-create_SRCS := tests/unit/test-create.c $(FAKE_SYSFS_SRCS) \
	$(libxengpu_SRCS) $(libxengpu-xs_SRCS) $(libxengpu-pciback_SRCS) pciback-helper/libxl-compat.c \
	pciback-helper/state.c
test-create_LDLIBS := $(libxengpu_LDLIBS) $(libxengpu-pciback_LDLIBS)

UNIT_TESTS += test-domains
test-domains_SRCS := tests/unit/test-domains.c $(FAKE_SYSFS_SRCS) toolstack/layout.c \
	toolstack/domains.c toolstack/qmp.c toolstack/compat.c \
	pciback-helper/libxl-compat.c $(libxengpu-pciback_SRCS)
test-domains_LDLIBS := -lxenlight -lxentoollog $(call pkg_libs,yajl)
test-domains_WRAP := libxl_ctx_alloc libxl_ctx_free libxl_device_pci_add \
	libxl_device_pci_remove libxl_device_pci_destroy \
	libxl_device_pci_list libxl_device_pci_list_free \
	libxl_retrieve_domain_configuration libxl_domain_info \
	libxl_name_to_domid xengpu__qmp_used_slots

UNIT_TESTS += test-qmp
test-qmp_SRCS := tests/unit/test-qmp.c tests/unit/capture-log.c \
	toolstack/qmp.c toolstack/compat.c toolstack/layout.c \
	pciback-helper/util.c
test-qmp_LDLIBS := -lxentoollog $(call pkg_libs,yajl)

UNIT_TESTS += test-check
test-check_SRCS := tests/unit/test-check.c $(FAKE_SYSFS_SRCS) \
	$(libxengpu_SRCS) $(libxengpu-xs_SRCS) $(libxengpu-pciback_SRCS) pciback-helper/libxl-compat.c \
	pciback-helper/state.c
test-check_LDLIBS := $(libxengpu_LDLIBS) $(libxengpu-pciback_LDLIBS)
test-check_WRAP := libxl_ctx_alloc libxl_ctx_free libxl_get_physinfo \
	libxl_get_version_info xc_interface_open xc_interface_close \
	xc_readconsolering geteuid

UNIT_TESTS += test-examples
test-examples_SRCS := tests/unit/test-examples.c $(FAKE_SYSFS_SRCS) \
	$(libxengpu_SRCS) $(libxengpu-xs_SRCS) $(libxengpu-pciback_SRCS) pciback-helper/libxl-compat.c \
	pciback-helper/state.c
test-examples_LDLIBS := $(libxengpu_LDLIBS) $(libxengpu-pciback_LDLIBS)

# An in-memory xenstore (tests/unit/fake-xs.h): tests that use it link
# $(FAKE_XS_SRCS) and wrap $(FAKE_XS_WRAP).
FAKE_XS_SRCS := tests/unit/fake-xs.c
FAKE_XS_WRAP := xs_open xs_close xs_read xs_write xs_mkdir xs_rm \
	xs_directory xs_get_permissions xs_set_permissions \
	xs_transaction_start xs_transaction_end xs_watch xs_unwatch \
	xs_fileno xs_check_watch xs_read_watch

UNIT_TESTS += test-fakexs
test-fakexs_SRCS := tests/unit/test-fakexs.c $(FAKE_XS_SRCS)
test-fakexs_WRAP := $(FAKE_XS_WRAP)
test-fakexs_LDLIBS := -lxenstore

# The schema's parser, matching and grammars, and the protocol's values:
# pure, no xenstore.
UNIT_TESTS += test-schema
test-schema_SRCS := tests/unit/test-schema.c $(libxengpu-xs-pure_SRCS) \
	$(XS_SCHEMA_GEN)
test-schema_LDLIBS := -lxentoollog

# The checked write, the validator and the guest protocol on the fake
# store.
UNIT_TESTS += test-xs
test-xs_SRCS := tests/unit/test-xs.c tests/unit/capture-log.c \
	$(FAKE_XS_SRCS) $(libxengpu-xs_SRCS) pciback-helper/util.c \
	toolstack/reserve.c
test-xs_WRAP := $(FAKE_XS_WRAP)
test-xs_LDLIBS := -lxenstore -lxentoollog

# The MMIO hole a guest's cards need: hvmloader's placement replayed on
# fake trees of real cards.
UNIT_TESTS += test-layout
test-layout_SRCS := tests/unit/test-layout.c $(FAKE_SYSFS_SRCS) \
	toolstack/layout.c $(libxengpu-pciback_SRCS)
test-layout_LDLIBS := $(libxengpu-pciback_LDLIBS)

# Card descriptions, their JSON and the replacement policies.
UNIT_TESTS += test-compat
test-compat_SRCS := tests/unit/test-compat.c $(FAKE_SYSFS_SRCS) \
	toolstack/compat.c toolstack/layout.c $(libxengpu-pciback_SRCS)
test-compat_LDLIBS := $(libxengpu-pciback_LDLIBS) $(call pkg_libs,yajl)

# Events: their JSON, hooks (shell scripts in a temporary directory) and
# the event log, with forked processes appending and following.
UNIT_TESTS += test-events
test-events_SRCS := tests/unit/test-events.c tests/unit/capture-log.c \
	tests/unit/fake-sysfs.c toolstack/events.c pciback-helper/state.c \
	pciback-helper/bdf.c pciback-helper/util.c
test-events_LDLIBS := -lxentoollog $(call pkg_libs,yajl)

# The stream header in front of libxl's save and migration streams: its
# bytes, pipes, sockets and files, and every refusal; real cards'
# descriptions from the fake trees.
UNIT_TESTS += test-stream
test-stream_SRCS := tests/unit/test-stream.c $(FAKE_SYSFS_SRCS) \
	$(libxengpu-migrate_SRCS) toolstack/compat.c toolstack/layout.c \
	$(libxengpu-pciback_SRCS)
test-stream_LDLIBS := $(libxengpu-migrate_LDLIBS) \
	$(libxengpu-pciback_LDLIBS)

# The save file's trailer (migrate/save.c); save and restore themselves
# are nested scenarios 85 and 87.
UNIT_TESTS += test-save
test-save_SRCS := tests/unit/test-save.c $(libxengpu_SRCS) $(libxengpu-xs_SRCS) \
	$(libxengpu-pciback_SRCS) pciback-helper/libxl-compat.c \
	pciback-helper/state.c
test-save_LDLIBS := $(libxengpu_LDLIBS) $(libxengpu-pciback_LDLIBS)

# xengpu-guest: hooks on a temporary directory, the card's drivers on a
# fake sysfs tree, the protocol on the fake store, acting as a guest.
UNIT_TESTS += test-guest
test-guest_SRCS := tests/unit/test-guest.c $(FAKE_XS_SRCS) \
	$(xengpu-guest_SRCS_CORE)
test-guest_WRAP := $(FAKE_XS_WRAP)
test-guest_LDLIBS := -lxenstore
