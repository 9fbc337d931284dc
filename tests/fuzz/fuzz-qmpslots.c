/*
 * fuzz-qmpslots.c - libFuzzer target for the parse of a device model's
 * query-pci reply (QEMU may be in a hostile guest's hands).
 *
 * Whatever the input, the parse must not read past it; a refusal leaves
 * the result untouched, and an accepted reply parses the same again.
 */
#include <stdint.h>
#include <stdlib.h>

#include "toolstack/qmp.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    uint32_t used = 0x80000001u, again = 0;

    if (xengpu__qmp_parse_slots((const char *)data, size, &used)) {
        if (used != 0x80000001u) abort();
        return 0;
    }
    if (xengpu__qmp_parse_slots((const char *)data, size, &again) ||
        again != used)
        abort();
    return 0;
}
