/*
 * fuzz-carddesc.c - libFuzzer target for the card description parser,
 * which reads what another host sent.
 *
 * Whatever the input, parsing must not read past it and a refusal must
 * give a one-line reason.  An accepted description must format to text
 * that parses back to the same description and formats to the same
 * text, and must be a match for itself under every policy.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "toolstack/compat.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char why[XENGPU_COMPAT_WHYLEN], *text, *again;
    xengpu_card_desc a, b;
    unsigned p;

    memset(why, 'x', sizeof(why));
    if (xengpu_card_desc_parse((const char *)data, size, &a, why,
                               sizeof(why))) {
        if (!memchr(why, '\0', sizeof(why)) || strchr(why, '\n') || !*why)
            abort();
        return 0;
    }
    if (a.nfns < 1 || a.nfns > XENGPU_DESC_MAX_FNS) abort();
    text = xengpu_card_desc_format(&a);
    if (strlen(text) > XENGPU_DESC_MAX_TEXT) abort();
    if (xengpu_card_desc_parse(text, strlen(text), &b, why, sizeof(why)))
        abort();
    if (memcmp(&a, &b, sizeof(a))) abort();
    again = xengpu_card_desc_format(&b);
    if (strcmp(text, again)) abort();
    for (p = XENGPU_COMPAT_EXACT; p <= XENGPU_COMPAT_ANY; p++)
        if (xengpu_compat_check(&a, &b, (xengpu_compat)p, why, sizeof(why)))
            abort();
    free(again);
    free(text);
    return 0;
}
