/*
 * reserve.c - card reservations in xenstore.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <xenstore.h>

#include "pciback-helper/util.h"
#include "reserve.h"
#include "xenstore-schema/xs.h"

#define ROOT "/xengpu/reserved"

static void node(const xengpu_bdf *card, const char *leaf, char *buf,
                 size_t size)
{
    snprintf(buf, size, ROOT "/%04x-%02x-%02x-%x%s%s", card->domain, card->bus,
             card->dev, card->fn, leaf ? "/" : "", leaf ? leaf : "");
}

static struct xs_handle *open_xs(xentoollog_logger *lg, int *r)
{
    struct xs_handle *xs = xs_open(0);

    if (!xs) {
        *r = -errno;
        LOGE(lg, ERROR, errno, "cannot open xenstore to reserve cards");
    }
    return xs;
}

int xengpu_reserve(const xengpu_bdf *card, const char *uuid, time_t expires,
                   xentoollog_logger *lg)
{
    char path[96], val[24];
    struct xs_handle *xs;
    xs_transaction_t t;
    int r = 0, tries = 0;

    if (!lg) lg = xengpu__logger_default();
    xs = open_xs(lg, &r);
    if (!xs) return r;
    snprintf(val, sizeof(val), "%lld", (long long)expires);
    do {
        t = xs_transaction_start(xs);
        if (t == XBT_NULL) {
            r = -errno;
            break;
        }
        node(card, "uuid", path, sizeof(path));
        r = xengpu_xs_write(xs, t, path, uuid, lg);
        node(card, "expires", path, sizeof(path));
        if (!r) r = xengpu_xs_write(xs, t, path, val, lg);
        if (r) {
            xs_transaction_end(xs, t, true);
            break;
        }
        r = xs_transaction_end(xs, t, false) ? 0 : -errno;
    } while (r == -EAGAIN && ++tries < 10);
    if (r) LOGE(lg, ERROR, -r, "cannot write the reservation of a card");
    xs_close(xs);
    return r;
}

int xengpu_unreserve(const xengpu_bdf *card, xentoollog_logger *lg)
{
    struct xs_handle *xs;
    char path[96];
    int r = 0;

    if (!lg) lg = xengpu__logger_default();
    xs = open_xs(lg, &r);
    if (!xs) return r;
    node(card, NULL, path, sizeof(path));
    r = xengpu_xs_rm(xs, XBT_NULL, path, lg);
    xs_close(xs);
    return r;
}

int xengpu_reserved(const xengpu_bdf *card, char *uuid_r,
                    xentoollog_logger *lg)
{
    char path[96], *uuid, *exp;
    struct xs_handle *xs;
    unsigned len, elen;
    int r = 0;

    if (!lg) lg = xengpu__logger_default();
    xs = open_xs(lg, &r);
    if (!xs) return r;
    node(card, "uuid", path, sizeof(path));
    uuid = xs_read(xs, XBT_NULL, path, &len);
    node(card, "expires", path, sizeof(path));
    exp = xs_read(xs, XBT_NULL, path, &elen);
    xs_close(xs);
    /* Only well-formed, unexpired reservations count. */
    if (uuid && exp && xengpu_xs_grammar_ok(XENGPU_XS_G_UUID, uuid, len) &&
        xengpu_xs_grammar_ok(XENGPU_XS_G_UINT, exp, elen) &&
        strtoll(exp, NULL, 10) > (long long)time(NULL)) {
        if (uuid_r) snprintf(uuid_r, XENGPU_UUID_STRLEN, "%s", uuid);
        r = 1;
    }
    free(uuid);
    free(exp);
    return r;
}
