# xenstore-schema: the declaration of every xenstore node xengpu touches
# (xenstore-schema/schema), built into the library as text; the parser,
# matcher and value grammars (schema.c), the guest protocol's values
# (proto.c), and the checked write, validator and guest protocol over
# libxenstore (xs.c).

XS_SCHEMA_GEN := $(B)/gen/xenstore-schema/schema-text.c

# The schema as one C string.  Lines are escaped, never interpreted.
$(XS_SCHEMA_GEN): xenstore-schema/schema xenstore-schema/module.mk
	@mkdir -p $(@D)
	{ echo '/* Generated from xenstore-schema/schema: do not edit. */'; \
	  echo 'extern const char xengpu__xs_schema_text[];'; \
	  echo 'const char xengpu__xs_schema_text[] ='; \
	  sed -e 's/\\/\\\\/g' -e 's/"/\\"/g' -e 's/^/    "/' -e 's/$$/\\n"/' $<; \
	  echo '    ;'; } >$@.tmp
	mv $@.tmp $@

# Pure parts: the fuzzers and the schema's own tests link only these.
libxengpu-xs-pure_SRCS := xenstore-schema/schema.c xenstore-schema/proto.c \
	pciback-helper/util.c

LIBS += xengpu-xs
libxengpu-xs_SRCS := xenstore-schema/schema.c xenstore-schema/proto.c \
	xenstore-schema/xs.c $(XS_SCHEMA_GEN)
libxengpu-xs_LDLIBS := -lxenstore -lxentoollog

.PHONY: install-schema
install: install-schema
install-schema:
	$(INSTALL) -D -m 0644 xenstore-schema/schema \
		$(DESTDIR)$(PREFIX)/share/xengpu/xenstore-schema
