/*
 * fuzz-gpuspec.c - libFuzzer target for the gpu = [...] SPEC grammar.
 *
 * Whatever the input, parsing must not read past it and must fill the
 * reason on refusal.  An accepted spec must be consistent (a selector,
 * count in range, count 1 for an address, device only with vendor),
 * keep its text, and parse again to the same value; its xl options must
 * fit 64 bytes.  The pool-member mode may accept only what the full
 * grammar accepts.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "toolstack/gpuspec.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check(const char *s, size_t size, const xengpu_gpuspec *a)
{
    char why[XENGPU_GPUSPEC_WHYLEN], opts[64];
    xengpu_gpuspec b;

    if (a->sel == XENGPU_SEL_NONE) abort();
    if (a->count < 1 || a->count > XENGPU_GPU_COUNT_MAX) abort();
    if (a->count > 1 &&
        (a->sel == XENGPU_SEL_FUNCTION || a->sel == XENGPU_SEL_SLOT))
        abort();
    if (a->device >= 0 && a->vendor < 0) abort();
    if (a->sel == XENGPU_SEL_POOL && !a->pool[0]) abort();
    if (strlen(a->text) != size || memcmp(a->text, s, size)) abort();
    if (xengpu_gpuspec_parse(a->text, size, 0, &b, why, sizeof(why))) abort();
    if (memcmp(a, &b, sizeof(b))) abort();
    if (xengpu_gpuspec_xl_options(a, opts, sizeof(opts))) abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    /* An exact-size copy so ASan catches any read past the input. */
    char *s = malloc(size ? size : 1);
    char why[XENGPU_GPUSPEC_WHYLEN];
    xengpu_gpuspec a, m;

    if (!s) return 0;
    memcpy(s, data, size);
    why[0] = '\0';
    memset(&a, 0, sizeof(a));
    if (xengpu_gpuspec_parse(s, size, 0, &a, why, sizeof(why))) {
        if (!why[0]) abort();
    } else {
        check(s, size, &a);
    }
    if (!xengpu_gpuspec_parse(s, size, XENGPU_GPUSPEC_MEMBER, &m, why,
                              sizeof(why))) {
        if (xengpu_gpuspec_parse(s, size, 0, &a, why, sizeof(why))) abort();
        if (m.sel == XENGPU_SEL_POOL || m.count != 1) abort();
    }
    free(s);
    return 0;
}
