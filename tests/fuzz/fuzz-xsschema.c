/*
 * fuzz-xsschema.c - libFuzzer target for the xenstore schema parser.
 *
 * Whatever the text, parsing must not read past LEN, must say which line
 * is wrong when it refuses, and must free everything.  An accepted
 * schema must be usable: every rule matches its own pattern with the
 * placeholders filled in, and its permissions format.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "xenstore-schema/schema.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* RULE's pattern with sample values for its placeholders. */
static void instance(const xengpu_xs_rule *r, char *buf, size_t size)
{
    static const char *const sample[] = {
        "", "6f1e5b1c-8a7e-4d2b-9c3f-0a1b2c3d4e5f", "7", "3", "0000-01-00-0"
    };
    size_t i, o = 0;

    buf[0] = '\0';
    for (i = 0; i < r->nsegs && o < size; i++)
        o += (size_t)snprintf(buf + o, size - o, "/%s%s", r->segs[i].lit,
                              sample[r->segs[i].ph]);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char err[XENGPU_XS_ERRLEN], path[4096], perms[128];
    char *text = malloc(size ? size : 1);
    xengpu_xs_schema *s = NULL;
    xengpu_xs_vars v;
    size_t i;

    memcpy(text, data, size);
    if (xengpu_xs_schema_parse(text, size, &s, err)) {
        if (strncmp(err, "line ", 5) || s) abort();
        free(text);
        return 0;
    }
    for (i = 0; i < s->nrules; i++) {
        const xengpu_xs_rule *r = &s->rules[i];
        if (r->maxlen > 4096 || !r->nsegs) abort();
        instance(r, path, sizeof(path));
        if (strlen(path) < sizeof(path) - 1 && !xengpu_xs_match(s, path, &v))
            abort();
        xengpu_xs_rule_perms(r, &v, perms, sizeof(perms));
        xengpu_xs_check_value(r, "x", 1);
        xengpu_xs_is_dir(s, path);
        xengpu_xs_own_tree(s, path);
    }
    xengpu_xs_schema_free(s);
    free(text);
    return 0;
}
