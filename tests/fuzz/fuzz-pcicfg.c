/*
 * fuzz-pcicfg.c - libFuzzer target for the configuration space decoder.
 *
 * Any bytes (any length, including beyond 4096) must decode without
 * reading outside the buffer, deterministically, and consistently with
 * the header bytes.
 */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "pciback-helper/pcicfg.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    uint8_t *copy = malloc(size ? size : 1);
    xengpu_pcicfg a, b;
    int ra, rb;

    if (!copy) return 0;
    memcpy(copy, data, size);
    ra = xengpu_pcicfg_parse(copy, size, &a);
    rb = xengpu_pcicfg_parse(copy, size, &b);
    if (ra != rb || memcmp(&a, &b, sizeof(a))) abort();
    if (size < 64 && (ra != -ENODATA || a.header)) abort();
    if (ra == 0 &&
        (!a.header || a.dead || a.vendor != (data[0] | data[1] << 8)))
        abort();
    if (ra == -ENODEV && !a.dead) abort();
    if (a.af_flr && !a.has_af) abort();
    if ((a.has_acs || a.has_sriov) && !a.has_pcie) abort();
    if (a.header_type > 0x7f) abort();
    free(copy);
    return 0;
}
