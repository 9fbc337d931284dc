# libFuzzer targets: tests/fuzz/fuzz-<name>.c with its corpus in
# tests/fuzz/corpus/<name>/.  `make fuzz` builds them with clang,
# `make fuzz-replay` runs each over its corpus (one case per file).

FUZZERS += bdf
fuzz-bdf_SRCS := tests/fuzz/fuzz-bdf.c pciback-helper/bdf.c

FUZZERS += pcicfg
fuzz-pcicfg_SRCS := tests/fuzz/fuzz-pcicfg.c pciback-helper/pcicfg.c

FUZZERS += resource
fuzz-resource_SRCS := tests/fuzz/fuzz-resource.c pciback-helper/resource.c

FUZZERS += cardrec
fuzz-cardrec_SRCS := tests/fuzz/fuzz-cardrec.c pciback-helper/state.c \
	pciback-helper/bdf.c pciback-helper/util.c
fuzz-cardrec_LDLIBS := -lxentoollog $(call pkg_libs,yajl)

FUZZERS += gpuspec
fuzz-gpuspec_SRCS := tests/fuzz/fuzz-gpuspec.c toolstack/gpuspec.c \
	pciback-helper/bdf.c pciback-helper/util.c
fuzz-gpuspec_LDLIBS := -lxlutil -lxenlight -lxentoollog

FUZZERS += xencheck
fuzz-xencheck_SRCS := tests/fuzz/fuzz-xencheck.c toolstack/check.c \
	pciback-helper/util.c
fuzz-xencheck_LDLIBS := -lxenlight -lxenctrl -lxentoollog $(call pkg_libs,yajl)

FUZZERS += xsschema
fuzz-xsschema_SRCS := tests/fuzz/fuzz-xsschema.c $(libxengpu-xs-pure_SRCS) \
	$(XS_SCHEMA_GEN)
fuzz-xsschema_LDLIBS := -lxentoollog

FUZZERS += xsproto
fuzz-xsproto_SRCS := tests/fuzz/fuzz-xsproto.c $(libxengpu-xs_SRCS) \
	pciback-helper/util.c
fuzz-xsproto_LDLIBS := -lxenstore -lxentoollog

FUZZERS += carddesc
fuzz-carddesc_SRCS := tests/fuzz/fuzz-carddesc.c toolstack/compat.c \
	toolstack/layout.c pciback-helper/util.c
fuzz-carddesc_LDLIBS := -lxentoollog $(call pkg_libs,yajl)

FUZZERS += streamhdr
fuzz-streamhdr_SRCS := tests/fuzz/fuzz-streamhdr.c \
	$(libxengpu-migrate_SRCS) $(libxengpu-migrate_DEPS_SRCS)
fuzz-streamhdr_LDLIBS := $(libxengpu-migrate_LDLIBS)

FUZZERS += qmpslots
fuzz-qmpslots_SRCS := tests/fuzz/fuzz-qmpslots.c toolstack/qmp.c \
	toolstack/compat.c toolstack/layout.c pciback-helper/util.c
fuzz-qmpslots_LDLIBS := -lxentoollog $(call pkg_libs,yajl)
