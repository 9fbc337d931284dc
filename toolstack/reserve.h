/*
 * reserve.h - cards reserved for a domain while a save, restore or
 * migration moves it: nobody else may take them until the operation
 * commits or rolls back.
 *
 * A reservation is /xengpu/reserved/BDFXS/uuid and /expires in xenstore
 * (declared in xenstore-schema/schema), BDFXS the card's function 0 as
 * libxl spells addresses in paths (0000-01-00-0).  One that has expired
 * (unix time) counts as none: a crashed xengpu cannot hold a card for
 * ever, and `xengpu recover` removes what it finds.
 *
 * Functions return 0 or a negative errno, logged once.
 */
#ifndef XENGPU_RESERVE_H
#define XENGPU_RESERVE_H

#include <stdbool.h>
#include <time.h>
#include <xentoollog.h>

#include "pciback-helper/bdf.h"

#define XENGPU_UUID_STRLEN 37

/* Reserve CARD for the domain UUID until EXPIRES (unix time). */
int xengpu_reserve(const xengpu_bdf *card, const char *uuid, time_t expires,
                   xentoollog_logger *lg);

/* Drop CARD's reservation; none is fine. */
int xengpu_unreserve(const xengpu_bdf *card, xentoollog_logger *lg);

/*
 * Is CARD reserved (and not expired)?  Returns 1 with the holder's UUID
 * in UUID_R (XENGPU_UUID_STRLEN bytes, may be NULL), 0 when it is not,
 * or a negative errno when xenstore cannot be read (then the caller
 * should treat the card as taken).
 */
int xengpu_reserved(const xengpu_bdf *card, char *uuid_r,
                    xentoollog_logger *lg);

#endif /* XENGPU_RESERVE_H */
