/*
 * compat.h - may a card on this host replace the card a guest had?
 *
 * A guest that is restored or migrated gets a card on the destination
 * host in place of the one it lost.  The source describes its card
 * (xengpu_card_desc, which travels as JSON); the destination describes
 * each candidate the same way and checks it against the guest's under
 * the domain's policy (xl config key gpu_compat):
 *
 *   exact   (the default) same vendor:device, same subsystem ids, same
 *           class, the same functions with the same ids and classes,
 *           and the same BARs: index, size, 64-bit or not, I/O or not,
 *           and the same expansion ROM size.  The guest's driver is bound
 *           to the subsystem too (vendor VBIOS, board-specific clocks),
 *           and the guest's address space was laid out at boot for
 *           these BARs: a replacement hot-plugged into it must fit the
 *           windows hvmloader declared (see layout.h);
 *   device  same vendor:device;
 *   vendor  same vendor;
 *   any     any card.
 *
 * The looser policies leave it to the admin to know the guest copes; a
 * caller should still run xengpu_layout_check() on the candidate.
 *
 * A description holds, for the card and for each of its functions, the
 * ids and class from sysfs and the subsystem ids from configuration
 * space, and each function's BARs as the host assigned them.  Nothing
 * else: no addresses, drivers or state, which differ between hosts.
 *
 * JSON form (one object, no whitespace when written):
 *
 *   {"version":1,"vendor":"10de","device":"1e07",
 *    "subsystem_vendor":"10de","subsystem_device":"12fa","class":"030000",
 *    "functions":[{"function":0,"vendor":"10de","device":"1e07",
 *      "subsystem_vendor":"10de","subsystem_device":"12fa",
 *      "class":"030000","bars":[{"index":0,"size":16777216,"is64":false,
 *      "io":false}, ...]}, ...]}
 *
 * Ids are 4 and classes 6 lower-case hex digits; the card's ids and class
 * are those of its display or accelerator function (class 03xxxx or
 * 12xxxx), which must be among the functions.  The parser is strict,
 * since the text comes from another host: at most XENGPU_DESC_MAX_TEXT
 * bytes, no NUL; every key required, none repeated, no other key; 1 to 8
 * functions in ascending order of function number 0-7; 0 to 7 BARs per
 * function in ascending order of index 0-5 and 6 for the ROM; sizes
 * powers of two (I/O 4 bytes to 64 KiB; memory from 16 bytes, 32-bit up
 * to 2 GiB, 64-bit up to 2^62; ROM 2 KiB to 2 GiB); a 64-bit BAR at index
 * 0-4 with the next index absent (it holds the upper half); the ROM
 * neither I/O nor 64-bit.  yajl accepts comments in the text; nothing
 * else outside this grammar is accepted.
 *
 * Pure functions: no I/O, no Xen calls, no logging.  Reasons are one line
 * in the caller's buffer (XENGPU_COMPAT_WHYLEN bytes are enough), which
 * may be NULL.
 */
#ifndef XENGPU_COMPAT_H
#define XENGPU_COMPAT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "pciback-helper/host.h"

#define XENGPU_DESC_VERSION 1
#define XENGPU_DESC_MAX_FNS 8      /* functions of one slot */
#define XENGPU_DESC_MAX_BARS 7     /* BARs 0-5 and the ROM */
#define XENGPU_DESC_MAX_TEXT 16384 /* 8 functions of 7 BARs: 4 KiB */
#define XENGPU_COMPAT_WHYLEN 192

typedef struct xengpu_bar_desc {
    uint8_t index; /* 0-5, XENGPU_BAR_ROM (6) */
    uint64_t size; /* bytes, a power of two */
    bool is64;     /* 64-bit memory BAR */
    bool io;       /* I/O port BAR */
} xengpu_bar_desc;

typedef struct xengpu_fn_desc {
    uint8_t function; /* 0-7 */
    uint16_t vendor, device;
    uint16_t subsys_vendor, subsys_device; /* 0 when the header has none */
    uint32_t class;
    size_t nbars;
    xengpu_bar_desc bars[XENGPU_DESC_MAX_BARS]; /* ascending index */
} xengpu_fn_desc;

/* A plain value: copy it freely. */
typedef struct xengpu_card_desc {
    /* Of the display or accelerator function. */
    uint16_t vendor, device;
    uint16_t subsys_vendor, subsys_device;
    uint32_t class;
    size_t nfns;
    xengpu_fn_desc fns[XENGPU_DESC_MAX_FNS]; /* ascending function */
} xengpu_card_desc;

/*
 * Describe CARD (of a host model) into *desc_r.  Returns 0; -ENODEV when
 * a function has fallen off the bus; -ENODATA when a function's ids,
 * configuration header or BARs could not be read, or a memory BAR is
 * unassigned (no size or address: QEMU would not pass it through); the
 * ROM is described only when the host assigned it.  -EINVAL when the
 * host's values break the grammar above (a BAR size that is no power of
 * two).  WHY names the function.
 */
int xengpu_card_desc_from_card(const xengpu_card *card,
                               xengpu_card_desc *desc_r, char *why,
                               size_t whysize);

/*
 * The JSON text of DESC, malloc'ed (free() it), NUL terminated, no
 * trailing newline.  DESC must be valid (from _from_card or _parse).
 */
char *xengpu_card_desc_format(const xengpu_card_desc *desc);

/*
 * Parse LEN bytes of TEXT (need not be NUL terminated) into *desc_r.
 * Returns 0, or -EINVAL for anything but exactly the grammar above, with
 * WHY naming the first thing wrong ("functions[0].bars[1].size is not a
 * power of two").  Formatting an accepted description and parsing that
 * gives the same description.
 */
int xengpu_card_desc_parse(const char *text, size_t len,
                           xengpu_card_desc *desc_r, char *why,
                           size_t whysize);

typedef enum xengpu_compat {
    XENGPU_COMPAT_EXACT = 0, /* the default */
    XENGPU_COMPAT_DEVICE,
    XENGPU_COMPAT_VENDOR,
    XENGPU_COMPAT_ANY,
} xengpu_compat;

#define XENGPU_COMPAT_DEFAULT XENGPU_COMPAT_EXACT

/*
 * The policy named NAME ("exact", "device", "vendor", "any"; exactly, as
 * xl config values are) into *policy_r.  Returns 0, or -EINVAL for NULL
 * or any other string.
 */
int xengpu_compat_parse(const char *name, xengpu_compat *policy_r);

/* "exact", "device", "vendor", "any"; "?" for a value out of range. */
const char *xengpu_compat_name(xengpu_compat policy);

/*
 * Whether CANDIDATE (a card on this host) may replace GUEST (the card
 * the guest had) under POLICY.  Returns 0, or -EINVAL with WHY naming
 * the first property that differs, this card's value first, then the
 * guest's: "subsystem 1043:87b3 differs from 10de:1467", "BAR 1 of
 * function 0 is 256 MiB, the guest's card had 16 GiB".  -EINVAL too for
 * a POLICY out of range.
 */
int xengpu_compat_check(const xengpu_card_desc *guest,
                        const xengpu_card_desc *candidate,
                        xengpu_compat policy, char *why, size_t whysize);

/*
 * Whether the JSON text S nests deeper than MAX: refused before yajl,
 * whose tree would be built and freed recursively.  Brackets in strings
 * and comments count too, which only refuses more.
 */
bool xengpu__json_too_deep(const char *s, size_t len, unsigned max);

#endif /* XENGPU_COMPAT_H */
