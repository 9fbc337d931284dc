/*
 * fuzz-xsproto.c - libFuzzer target for everything a guest can write
 * where xengpu reads: the protocol's response, request and agent
 * values, every grammar of the schema, path matching, and the escaping
 * of a value for a log line.
 *
 * The input is the guest's bytes, exactly sized (ASan catches a read
 * past them), with no NUL at the end.  An accepted response must format
 * back to the same bytes; an accepted request must too.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "xenstore-schema/proto.h"
#include "xenstore-schema/schema.h"
#include "xenstore-schema/xs.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const char *const answers[] = { "released", "done", "refused" };

static void response(const char *v, size_t size)
{
    xengpu_guest_response r;
    char back[XENGPU_PROTO_RESPONSE_MAX + 64];
    int n;

    if (xengpu_proto_parse_response(v, size, &r)) return;
    if (!r.seq || r.seq > XENGPU_PROTO_SEQ_MAX || r.answer > 2) abort();
    if ((r.answer == XENGPU_GUEST_REFUSED) != (r.reason[0] != '\0')) abort();
    n = r.reason[0]
            ? snprintf(back, sizeof(back), "%u refused %s", r.seq, r.reason)
            : snprintf(back, sizeof(back), "%u %s", r.seq, answers[r.answer]);
    if ((size_t)n != size || memcmp(back, v, size)) abort();
}

static void request(const char *v, size_t size)
{
    char back[XENGPU_PROTO_REQUEST_MAX + 1];
    xengpu_guest_verb verb;
    uint32_t seq;
    int n;

    if (xengpu_proto_parse_request(v, size, &seq, &verb)) return;
    n = xengpu_proto_format_request(seq, verb, back, sizeof(back));
    if (n < 0 || (size_t)n != size || memcmp(back, v, size)) abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const xengpu_xs_schema *s = xengpu_xs_schema_builtin();
    char *v = malloc(size ? size : 1);
    char shown[XENGPU_XS_SHOWLEN], *path;
    unsigned version;
    size_t i;

    memcpy(v, data, size);
    response(v, size);
    request(v, size);
    if (!xengpu_proto_parse_agent(v, size, &version) &&
        (version < 1 || version > 9999))
        abort();
    for (i = 0; i < s->nrules; i++)
        xengpu_xs_check_value(&s->rules[i], v, size);
    if (strlen(xengpu_xs_show(v, size, shown)) >= XENGPU_XS_SHOWLEN) abort();
    /* As a path (a guest names its nodes too). */
    path = malloc(size + 1);
    memcpy(path, data, size);
    path[size] = '\0';
    xengpu_xs_match(s, path, NULL);
    xengpu_xs_is_dir(s, path);
    xengpu_xs_own_tree(s, path);
    free(path);
    free(v);
    return 0;
}
