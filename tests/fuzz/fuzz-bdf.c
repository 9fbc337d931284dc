/*
 * fuzz-bdf.c - libFuzzer target for the PCI address parser.
 *
 * Whatever the input, parsing must not read past it, and an accepted
 * address must survive parse -> format -> canonical parse unchanged; an
 * input accepted in canonical mode must already be the formatted string.
 * The same holds for slot addresses.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "pciback-helper/bdf.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check_bdf(const char *s, size_t len, unsigned flags)
{
    char buf[XENGPU_BDF_STRLEN];
    xengpu_bdf a, b;

    if (xengpu_bdf_parse_mem(s, len, flags, &a)) return;
    if (xengpu_bdf_format(&a, buf, sizeof(buf))) abort();
    if (xengpu_bdf_parse(buf, XENGPU_BDF_CANONICAL, &b)) abort();
    if (xengpu_bdf_cmp(&a, &b)) abort();
    b = xengpu_bdf_from_sbdf(xengpu_bdf_to_sbdf(&a));
    if (xengpu_bdf_cmp(&a, &b)) abort();
    if ((flags & XENGPU_BDF_CANONICAL) &&
        (len != strlen(buf) || memcmp(s, buf, len)))
        abort();
}

static void check_slot(const char *s, size_t len, unsigned flags)
{
    char buf[XENGPU_SLOT_STRLEN];
    xengpu_bdf a, b;

    if (xengpu_slot_parse_mem(s, len, flags, &a)) return;
    if (a.fn != 0) abort();
    if (xengpu_slot_format(&a, buf, sizeof(buf))) abort();
    if (xengpu_slot_parse(buf, XENGPU_BDF_CANONICAL, &b)) abort();
    if (!xengpu_bdf_same_slot(&a, &b)) abort();
    if ((flags & XENGPU_BDF_CANONICAL) &&
        (len != strlen(buf) || memcmp(s, buf, len)))
        abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    /* An exact-size copy so ASan catches any read past the input. */
    char *s = malloc(size ? size : 1);

    if (!s) return 0;
    memcpy(s, data, size);
    check_bdf(s, size, 0);
    check_bdf(s, size, XENGPU_BDF_CANONICAL);
    check_slot(s, size, 0);
    check_slot(s, size, XENGPU_BDF_CANONICAL);
    free(s);
    return 0;
}
