/*
 * fuzz-xencheck.c - libFuzzer target for `xengpu check`'s parsers: Xen's
 * console text, Xen's command line, virt_caps words and library file
 * names.
 *
 * Whatever the input, nothing reads past it, every answer is one of
 * the three values, and every string field stays NUL-terminated inside
 * its buffer.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "toolstack/check.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void tri_ok(xengpu_tri t)
{
    if (t != XENGPU_TRI_UNKNOWN && t != XENGPU_TRI_NO && t != XENGPU_TRI_YES)
        abort();
}

static void str_ok(const char *s, size_t size)
{
    if (!memchr(s, '\0', size)) abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    /* An exact-size copy so ASan catches any read past the input. */
    char *s = malloc(size ? size : 1), *z = malloc(size + 1), v[32];
    xengpu_check_console con;
    xengpu_check_cmdline cl;

    if (!s || !z) abort();
    memcpy(s, data, size);
    xengpu_check_console_parse(s, size, &con);
    tri_ok(con.iommu);
    tri_ok(con.intremap);
    str_ok(con.hw, sizeof(con.hw));
    str_ok(con.dom0_mode, sizeof(con.dom0_mode));
    str_ok(con.quarantine, sizeof(con.quarantine));
    str_ok(con.cmdline, sizeof(con.cmdline));
    xengpu_check_cmdline_parse(con.cmdline, &cl);

    memcpy(z, data, size);
    z[size] = '\0';
    xengpu_check_cmdline_parse(z, &cl);
    tri_ok(cl.iommu);
    tri_ok(cl.intremap);
    tri_ok(cl.quarantine);
    if (cl.scratch_page && cl.quarantine != XENGPU_TRI_YES) abort();
    (void)xengpu_check_has_cap(z, "hvm_directio");
    xengpu_check_lib_version(z, v, sizeof(v));
    str_ok(v, sizeof(v));
    free(s);
    free(z);
    return 0;
}
