# migrate: save/restore and migration with unplug/replug.
#
# libxengpu-migrate: the stream header in front of libxl's save and
# migration streams (migrate/stream.h).  It reuses the card descriptions
# of toolstack/compat.c (which needs toolstack/layout.c) and
# pciback-helper's bdf.c and util.c; those objects are libxengpu's, so a
# program or test that links this archive links them too, from
# libxengpu or as $(libxengpu-migrate_DEPS_SRCS).

LIBS += xengpu-migrate
libxengpu-migrate_SRCS := migrate/stream.c
libxengpu-migrate_DEPS_SRCS := toolstack/compat.c toolstack/layout.c \
	pciback-helper/bdf.c pciback-helper/util.c
libxengpu-migrate_LDLIBS := -lxentoollog $(call pkg_libs,yajl)
