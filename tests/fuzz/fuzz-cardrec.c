/*
 * fuzz-cardrec.c - libFuzzer target for the journal and card record
 * parser, which reads files a crash may have damaged.
 *
 * Whatever the input, parsing must not read past it; an accepted record
 * must hold only valid driver names and functions of its own slot, and
 * must survive format -> parse unchanged.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "pciback-helper/state.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    xengpu_cardrec a, b;
    char *text;
    size_t i;

    if (xengpu_cardrec_parse((const char *)data, size, &a)) return 0;
    if (a.nfns > XENGPU_MAX_FNS) abort();
    for (i = 0; i < a.nfns; i++) {
        if (!xengpu_bdf_same_slot(&a.fns[i].bdf, &a.card)) abort();
        if (a.fns[i].driver[0] && !xengpu_driver_name_ok(a.fns[i].driver))
            abort();
    }
    text = xengpu_cardrec_format(&a);
    if (xengpu_cardrec_parse(text, strlen(text), &b)) abort();
    if (memcmp(&a, &b, sizeof(a))) abort();
    free(text);
    return 0;
}
