# xengpu - one non-recursive Makefile.
#
# Each folder's module.mk appends to the lists below (LIBS, PROGRAMS,
# UNIT_TESTS, FUZZERS) and sets per-item variables; the templates at the
# end of this file turn them into rules.  Everything built goes under
# $(B) (default build/): objects in $(B)/obj, programs in $(B)/bin,
# static libraries in $(B)/lib, test programs in $(B)/tests, libFuzzer
# targets in $(B)/fuzz and result counts in $(B)/results.  Shared
# libraries (SHLIBS) go to $(B)/lib too, from the same objects: every
# object is compiled -fPIC.
#
# The only recursive invocations are of this same Makefile: `asan` builds
# the unit suite again with B=build/asan, and `check` runs its parts as
# separate makes so that one failing part does not stop the others.

.DEFAULT_GOAL := all
.DELETE_ON_ERROR:
.SUFFIXES:
MAKEFLAGS += --no-builtin-rules --no-print-directory

PREFIX ?= /usr/local
BINDIR ?= $(PREFIX)/bin
SBINDIR ?= $(PREFIX)/sbin
LIBEXECDIR ?= $(PREFIX)/libexec
LIBDIR ?= $(PREFIX)/lib
INCLUDEDIR ?= $(PREFIX)/include
PKGCONFIGDIR ?= $(LIBDIR)/pkgconfig
MANDIR ?= $(PREFIX)/share/man
DESTDIR ?=

B ?= build
O := $(B)/obj
R := $(B)/results

PKG_CONFIG ?= pkg-config
FUZZ_CC ?= clang
INSTALL ?= install

# CFLAGS is the user's to override (optimisation, debug); the warning set
# and language mode are not.
CFLAGS ?= -O2 -g
WARNFLAGS := -Wall -Wextra -Werror -Wmissing-prototypes \
	-Wstrict-prototypes -Wshadow -Wformat=2
SANFLAGS ?=
XCFLAGS = -std=gnu11 $(CFLAGS) $(WARNFLAGS) $(SANFLAGS) -D_GNU_SOURCE \
	-fPIC -MMD -MP -I. -Iinclude
XLDFLAGS = $(LDFLAGS) $(SANFLAGS)

FUZZ_SAN := -fsanitize=address,undefined -fno-sanitize-recover=all
FUZZ_CFLAGS = -std=gnu11 -O1 -g -fno-omit-frame-pointer $(WARNFLAGS) \
	-D_GNU_SOURCE -MMD -MP -I. -Iinclude $(FUZZ_SAN)

ASAN_SAN := -fsanitize=address,undefined -fno-sanitize-recover=all \
	-fno-omit-frame-pointer

pkg_cflags = $(shell $(PKG_CONFIG) --cflags $(1) 2>/dev/null)
pkg_libs = $(shell $(PKG_CONFIG) --libs $(1) 2>/dev/null)
CMOCKA_CFLAGS := $(call pkg_cflags,cmocka)
CMOCKA_LIBS := $(or $(call pkg_libs,cmocka),-lcmocka)

LIBS :=
SHLIBS :=
PROGRAMS :=
UNIT_TESTS :=
UNIT_SCRIPTS :=
FUZZERS :=

include pciback-helper/module.mk
include xenstore-schema/module.mk
include toolstack/module.mk
include migrate/module.mk
include stubdom/module.mk
include guest/module.mk
include tests/unit/module.mk
include tests/fuzz/module.mk

# --- templates ------------------------------------------------------------

objs = $(patsubst %.c,$(O)/%.o,$(1))
fuzz_objs = $(patsubst %.c,$(B)/fuzz/obj/%.o,$(1))

# $(1) = library name: $(B)/lib/lib$(1).a from lib$(1)_SRCS.  Programs
# that link it also get lib$(1)_LDLIBS.
define lib_template
lib$(1)_OBJS := $$(call objs,$$(lib$(1)_SRCS))
$(B)/lib/lib$(1).a: $$(lib$(1)_OBJS)
	@mkdir -p $$(@D)
	rm -f $$@
	$$(AR) rcs $$@ $$^
endef

# $(1) = shared library name: $(B)/lib/lib$(1).so.$(lib$(1)_VERSION)
# from lib$(1)_SO_SRCS, SONAME lib$(1).so.MAJOR, exporting only what the
# version script lib$(1)_MAP names; linked with lib$(1)_LDLIBS and no
# undefined symbol left.  lib$(1).so.MAJOR and lib$(1).so are symlinks.
define shlib_template
lib$(1)_SO_OBJS := $$(call objs,$$(lib$(1)_SO_SRCS))
lib$(1)_SONAME := lib$(1).so.$$(firstword $$(subst ., ,$$(lib$(1)_VERSION)))
lib$(1)_SO_FILES := $(B)/lib/lib$(1).so.$$(lib$(1)_VERSION) \
	$(B)/lib/$$(lib$(1)_SONAME) $(B)/lib/lib$(1).so
$(B)/lib/lib$(1).so.$$(lib$(1)_VERSION): $$(lib$(1)_SO_OBJS) $$(lib$(1)_MAP)
	@mkdir -p $$(@D)
	$$(CC) $$(XLDFLAGS) -shared -Wl,-soname,$$(lib$(1)_SONAME) \
		-Wl,--version-script=$$(lib$(1)_MAP) -Wl,-z,defs \
		-o $$@ $$(lib$(1)_SO_OBJS) $$(lib$(1)_LDLIBS)
$(B)/lib/$$(lib$(1)_SONAME): $(B)/lib/lib$(1).so.$$(lib$(1)_VERSION)
	ln -sf $$(<F) $$@
$(B)/lib/lib$(1).so: $(B)/lib/$$(lib$(1)_SONAME)
	ln -sf $$(<F) $$@
endef

# Programs find the shared libraries they link through RUNPATH:
# $ORIGIN/../lib is $(B)/lib in the build tree and $(LIBDIR) once
# installed when both keep the default layout; any other $(LIBDIR) is
# added unless the loader searches it anyway (without ldconfig's cache:
# /usr/local/lib is in Debian's ld.so.conf, not in the loader's default
# directories).  $(B)/rpath changes, and programs relink, when it does.
MULTIARCH := $(shell $(CC) -print-multiarch 2>/dev/null)
LOADER_LIBDIRS := /lib /usr/lib $(if $(MULTIARCH),/lib/$(MULTIARCH) \
	/usr/lib/$(MULTIARCH))
RPATH := $$ORIGIN/../lib$(if $(filter-out $(abspath $(SBINDIR)/../lib) \
	$(LOADER_LIBDIRS),$(abspath $(LIBDIR))),:$(abspath $(LIBDIR)))

RPATH_LDFLAGS = -Wl,--enable-new-dtags -Wl,-rpath,'$(RPATH)'

.PHONY: FORCE
$(B)/rpath: FORCE
	@mkdir -p $(@D)
	@echo '$(RPATH)' | cmp -s - $@ || echo '$(RPATH)' >$@

# $(1) = program name: $(B)/bin/$(1) from $(1)_SRCS, the archives named
# in $(1)_LIBS (most dependent first) and the shared libraries named in
# $(1)_SHLIBS.
define prog_template
$(1)_OBJS := $$(call objs,$$($(1)_SRCS))
$(B)/bin/$(1): $$($(1)_OBJS) $$(foreach l,$$($(1)_LIBS),$(B)/lib/lib$$(l).a) \
		$$(foreach l,$$($(1)_SHLIBS),$(B)/lib/lib$$(l).so) \
		$$(if $$($(1)_SHLIBS),$(B)/rpath)
	@mkdir -p $$(@D)
	$$(CC) $$(XLDFLAGS) -o $$@ $$(filter-out $(B)/rpath,$$^) \
		$$($(1)_LDLIBS) $$(foreach l,$$($(1)_LIBS),$$(lib$$(l)_LDLIBS)) \
		$$(if $$($(1)_SHLIBS),$$(RPATH_LDFLAGS))
endef

# $(1) = unit test name: $(B)/tests/$(1), linked from objects (never a
# shared library) so that -Wl,--wrap= can intercept calls between them.
define unit_template
$(1)_OBJS := $$(call objs,$$($(1)_SRCS))
$(B)/tests/$(1): $$($(1)_OBJS)
	@mkdir -p $$(@D)
	$$(CC) $$(XLDFLAGS) -o $$@ $$^ \
		$$(foreach w,$$($(1)_WRAP),-Wl,--wrap=$$(w)) \
		$$($(1)_LDLIBS) $$(CMOCKA_LIBS)
endef

# $(1) = fuzzer name: $(B)/fuzz/fuzz-$(1) from fuzz-$(1)_SRCS, built by
# clang with libFuzzer; its corpus is tests/fuzz/corpus/$(1)/.
define fuzz_template
$(B)/fuzz/fuzz-$(1): $$(call fuzz_objs,$$(fuzz-$(1)_SRCS))
	@mkdir -p $$(@D)
	$$(FUZZ_CC) $$(FUZZ_SAN) -fsanitize=fuzzer -o $$@ $$^ \
		$$(fuzz-$(1)_LDLIBS)
endef

$(foreach x,$(LIBS),$(eval $(call lib_template,$(x))))
$(foreach x,$(SHLIBS),$(eval $(call shlib_template,$(x))))
$(foreach x,$(PROGRAMS),$(eval $(call prog_template,$(x))))
$(foreach x,$(UNIT_TESTS),$(eval $(call unit_template,$(x))))
$(foreach x,$(FUZZERS),$(eval $(call fuzz_template,$(x))))

# Objects are rebuilt when the compiler flags change ($(B)/cflags).
$(B)/cflags: FORCE
	@mkdir -p $(@D)
	@echo '$(CC) $(XCFLAGS)' | cmp -s - $@ || echo '$(CC) $(XCFLAGS)' >$@

$(O)/%.o: %.c $(B)/cflags
	@mkdir -p $(@D)
	$(CC) $(XCFLAGS) $(CFLAGS_$(<D)) -c -o $@ $<

$(B)/fuzz/obj/%.o: %.c
	@mkdir -p $(@D)
	$(FUZZ_CC) $(FUZZ_CFLAGS) $(CFLAGS_$(<D)) -fsanitize=fuzzer-no-link \
		-c -o $@ $<

LIB_FILES := $(foreach x,$(LIBS),$(B)/lib/lib$(x).a) \
	$(foreach x,$(SHLIBS),$(lib$(x)_SO_FILES))
PROG_FILES := $(foreach x,$(PROGRAMS),$(B)/bin/$(x))
UNIT_FILES := $(foreach x,$(UNIT_TESTS) $(UNIT_SCRIPTS),$(B)/tests/$(x))
FUZZ_FILES := $(foreach x,$(FUZZERS),$(B)/fuzz/fuzz-$(x))

ALL_OBJS += $(foreach x,$(LIBS),$(lib$(x)_OBJS)) \
	$(foreach x,$(SHLIBS),$(lib$(x)_SO_OBJS)) \
	$(foreach x,$(PROGRAMS) $(UNIT_TESTS),$($(x)_OBJS))
FUZZ_OBJS := $(foreach x,$(FUZZERS),$(call fuzz_objs,$(fuzz-$(x)_SRCS)))
-include $(sort $(ALL_OBJS:.o=.d) $(FUZZ_OBJS:.o=.d))

# --- targets --------------------------------------------------------------

.PHONY: all unit asan fuzz fuzz-replay check nested-check demo deps \
	install format format-check clean

all: $(LIB_FILES) $(PROG_FILES)

# Standalone `make unit` fails when any test fails; the count file is
# written either way for tests/summary.
unit: $(UNIT_FILES)
	@mkdir -p $(R)
	tests/unit/run $(R)/unit.count $(UNIT_FILES)

asan:
	$(MAKE) B=$(B)/asan CFLAGS="-O1 -g" SANFLAGS="$(ASAN_SAN)" unit

fuzz: $(FUZZ_FILES)

fuzz-replay: $(FUZZ_FILES)
	@mkdir -p $(R)
	tests/fuzz/replay $(R)/fuzz.count $(B)/fuzz tests/fuzz/corpus \
		$(FUZZERS)

deps:
	scripts/deps

# tests/nested/run belongs to the nested test bed; it writes
# $(R)/nested.count itself.  NESTED_RUN=false checks the rest of `check`
# without booting anything.
NESTED_RUN ?= tests/nested/run
nested-check: all
	$(NESTED_RUN)

demo: deps all
	tests/nested/demo

# Every part runs even when an earlier one fails; a part that does not
# leave a count file is counted by tests/summary as one failure.  The
# summary line is the last line this target prints on stdout.
check: deps
	@mkdir -p $(R)
	@rm -f $(R)/*.count
	-$(MAKE) unit
	-$(MAKE) fuzz-replay
	-$(MAKE) nested-check
	@tests/summary $(R)

install: all
	$(foreach p,$(PROGRAMS),$(INSTALL) -D -m 0755 $(B)/bin/$(p) \
		$(DESTDIR)$($(p)_INSTALLDIR)/$(p) &&) true
	$(INSTALL) -D -m 0644 doc/xengpu.8 $(DESTDIR)$(MANDIR)/man8/xengpu.8
	$(INSTALL) -D -m 0644 doc/xengpu-guest.8 \
		$(DESTDIR)$(MANDIR)/man8/xengpu-guest.8
	$(INSTALL) -D -m 0644 doc/xengpu.conf.5 \
		$(DESTDIR)$(MANDIR)/man5/xengpu.conf.5

# Tracked C sources only: work in progress is checked once it is added.
FORMAT_FILES = $(shell git ls-files '*.c' '*.h' 2>/dev/null)

format-check:
	@test -z "$(FORMAT_FILES)" || \
		clang-format --dry-run -Werror $(FORMAT_FILES)

format:
	@test -z "$(FORMAT_FILES)" || clang-format -i $(FORMAT_FILES)

clean:
	rm -rf $(B)
