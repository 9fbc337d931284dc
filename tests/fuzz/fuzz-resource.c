/*
 * fuzz-resource.c - libFuzzer target for the sysfs resource decoder.
 *
 * Any text must decode without reading outside it; an accepted file
 * yields at most six BARs in ascending index order, sizes consistent
 * with their flags, and the same result when decoded again.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "pciback-helper/resource.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *copy = malloc(size ? size : 1);
    xengpu_resources a, b;
    unsigned i;
    int ra;

    if (!copy) return 0;
    memcpy(copy, data, size);
    ra = xengpu_resource_parse(copy, size, &a);
    if (ra != xengpu_resource_parse(copy, size, &b)) abort();
    if (memcmp(&a, &b, sizeof(a))) abort();
    if (a.nbars > XENGPU_NUM_BARS || a.nvf_bars > XENGPU_NUM_BARS) abort();
    for (i = 0; i < a.nbars; i++) {
        if (a.bars[i].index >= XENGPU_NUM_BARS) abort();
        if (i && a.bars[i].index <= a.bars[i - 1].index) abort();
        if (a.bars[i].io && (a.bars[i].is64 || a.bars[i].prefetch)) abort();
        if (a.bars[i].assigned && !a.bars[i].size) abort();
    }
    if (ra && (a.nbars || a.has_rom)) abort();
    free(copy);
    return 0;
}
