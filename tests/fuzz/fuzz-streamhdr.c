/*
 * fuzz-streamhdr.c - libFuzzer target for the stream header parser,
 * which reads the start of a save file or what a migration source sent.
 *
 * Whatever the input, parsing must not read past it and a refusal must
 * give a one-line reason.  An accepted header must pass its own check,
 * encode to bytes that parse back to the same header (the same JSON),
 * and those bytes must encode the same again.  A first input byte of
 * 0xff (never a header's) picks a small reason buffer, so that cutting a
 * reason short is fuzzed too.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "migrate/stream.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check_why(const char *why, size_t size)
{
    if (!memchr(why, '\0', size) || strchr(why, '\n') || !*why) abort();
}

static void round_trip(const xengpu_stream_hdr *a)
{
    char why[XENGPU_STREAM_WHYLEN], *buf = NULL, *again = NULL, *ja, *jb;
    size_t len = 0, len2 = 0;
    xengpu_stream_hdr b;

    if (xengpu_stream_hdr_check(a, why, sizeof(why))) abort();
    if (xengpu_stream_hdr_encode(a, &buf, &len, why, sizeof(why))) abort();
    if (xengpu_stream_hdr_parse(buf, len, &b, why, sizeof(why))) abort();
    ja = xengpu_stream_hdr_json(a);
    jb = xengpu_stream_hdr_json(&b);
    if (strcmp(ja, jb) || a->ncards != b.ncards || a->nspecs != b.nspecs)
        abort();
    if (xengpu_stream_hdr_encode(&b, &again, &len2, why, sizeof(why)) ||
        len != len2 || memcmp(buf, again, len))
        abort();
    free(ja);
    free(jb);
    free(again);
    free(buf);
    xengpu_stream_hdr_dispose(&b);
}

static void one(const char *buf, size_t len, size_t whysize)
{
    char why[XENGPU_STREAM_WHYLEN];
    xengpu_stream_hdr h;

    memset(why, 'x', sizeof(why));
    xengpu_stream_hdr_init(&h);
    if (xengpu_stream_hdr_parse(buf, len, &h, why, whysize)) {
        check_why(why, whysize);
        if (h.domain_config || h.nspecs || h.ncards) abort(); /* untouched */
        return;
    }
    round_trip(&h);
    xengpu_stream_hdr_dispose(&h);
}

/*
 * The input as it is, preamble and all; and, unless it starts like a
 * header, as the JSON behind a preamble that announces its length, so
 * that mutations of the JSON are not all stopped by a length that no
 * longer fits.
 */
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    size_t whysize = size && data[0] == 0xff ? 24 : XENGPU_STREAM_WHYLEN;
    uint32_t n = (uint32_t)size;
    char *buf;
    unsigned i;

    one((const char *)data, size, whysize);
    if (size > XENGPU_STREAM_MAX_JSON ||
        (size && data[0] == (uint8_t)XENGPU_STREAM_MAGIC[0]))
        return 0;
    buf = malloc(XENGPU_STREAM_PREAMBLE_LEN + size + 1);
    if (!buf) abort();
    memcpy(buf, XENGPU_STREAM_MAGIC, XENGPU_STREAM_MAGIC_LEN);
    for (i = 0; i < 4; i++) {
        buf[8 + i] = (char)(i ? 0 : XENGPU_STREAM_VERSION);
        buf[12 + i] = (char)(n >> (8 * i));
    }
    memcpy(buf + XENGPU_STREAM_PREAMBLE_LEN, data, size);
    one(buf, XENGPU_STREAM_PREAMBLE_LEN + size, whysize);
    free(buf);
    return 0;
}
