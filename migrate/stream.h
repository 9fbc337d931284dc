/*
 * stream.h - the header xengpu puts in front of libxl's stream.
 *
 * `xengpu save` writes it at the start of the save file, before what `xl
 * save` writes; `xengpu migrate` sends it before libxl's migration
 * stream.  It carries what the destination needs to give the guest a
 * card again: the GPU request of the domain (as record.h keeps it), a
 * description of each card it had (compat.h), and libxl's configuration
 * of the domain.
 *
 * FORMAT (version 1)
 *
 *   offset  size  what
 *   0       8     magic: the bytes 89 58 45 4e 47 50 55 0a, "\x89XENGPU\n"
 *   8       4     format version, little-endian uint32: 1
 *   12      4     L, little-endian uint32: bytes of JSON that follow,
 *                 1 <= L <= 1 MiB (1048576)
 *   16      L     the JSON text, UTF-8 (below)
 *   16+L    ...   libxl's stream (the xl save file or the migration
 *                 stream), which is not this header's business
 *
 * The magic's first byte has the high bit set, so no text file and
 * neither an xl save file ("Xen saved domain, xl format\n \0 \r"), nor a
 * bare libxl stream ("LibxlFmt"), nor libxc's (8 bytes ff) starts like
 * it; like PNG's, the "\n" catches a file that went through a newline
 * conversion.
 *
 * The JSON is one object with exactly these keys, each once, in any
 * order (written in this order, compact, no whitespace); an unknown key,
 * a repeated key or a missing key is refused:
 *
 *   "version"        1
 *   "uuid"           the domain's UUID, 8-4-4-4-12 lower-case hex digits
 *   "name"           the domain's name: 1 to 64 printable ASCII
 *                    characters (0x20-0x7e), no leading or trailing space
 *   "type"           "hvm" or "pv"
 *   "gpu_migration"  "unplug" or "refuse"
 *   "gpu_compat"     "exact", "device", "vendor" or "any" (compat.h)
 *   "mmio_hole"      integer MiB: 0 (libxl's default) or 256 to 3840
 *   "specs"          array of 0 to 16 strings, the domain's gpu = [...]
 *                    entries as recorded: 1 to 256 characters of
 *                    [A-Za-z0-9:.,=_@-] each; repeats allowed (two
 *                    "10de:2204" ask for two such cards)
 *   "cards"          array of 0 to 16 objects, each with exactly
 *                    "bdf"   the card's address on the source host,
 *                            canonical "0000:01:00.0"; no two alike
 *                    "desc"  the card's description, the object
 *                            xengpu_card_desc_format() writes (compat.h,
 *                            whose strict grammar it must meet)
 *                  and optionally
 *                    "opts"  the per-device options libxl gave it
 *                            ("permissive=1,rdm_policy=relaxed"), for
 *                            the card that replaces it: 1 to 96 of
 *                            [a-z0-9_=,]; absent when it had none
 *   "host"           the source host's name: 1 to 255 of [A-Za-z0-9.:_-]
 *   "time"           integer unix seconds of the save, 0 or more
 *   "domain_config"  string: libxl's JSON of the domain's configuration
 *                    (libxl_domain_config_to_json()), 1 to 512 KiB
 *                    (524288 bytes) once decoded, valid UTF-8 (RFC
 *                    3629); opaque otherwise.  It grows as the JSON
 *                    escapes it (a quote takes 2 bytes, a control
 *                    character 6), and the whole JSON must still fit
 *                    in 1 MiB
 *
 * No string may hold a NUL (raw or as \u0000) and the text is no deeper
 * than 10 levels of arrays and objects (brackets in comments count).
 * yajl accepts comments in the text.  The writer checks everything above
 * before it writes, so what it writes, its reader accepts.
 *
 * CONVENTIONS
 *
 * Functions return 0 or a negative errno.  Reasons ("WHY") are one line
 * in the caller's buffer of WHYSIZE bytes (XENGPU_STREAM_WHYLEN is
 * enough), which may be NULL; they name the key at fault ("cards[1].desc:
 * functions[0].bars[1] (index 1) has a size that is no power of two").
 * Allocation failure aborts the process.
 */
#ifndef XENGPU_STREAM_H
#define XENGPU_STREAM_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <xentoollog.h>

#include "pciback-helper/bdf.h"
#include "toolstack/compat.h"

#define XENGPU_STREAM_MAGIC "\x89XENGPU\n" /* 8 bytes, no NUL */
#define XENGPU_STREAM_MAGIC_LEN 8
#define XENGPU_STREAM_VERSION 1
#define XENGPU_STREAM_PREAMBLE_LEN 16
#define XENGPU_STREAM_MAX_JSON (1024 * 1024)

#define XENGPU_STREAM_MAX_SPECS 16
#define XENGPU_STREAM_MAX_CARDS 16
#define XENGPU_STREAM_SPEC_MAX 256            /* characters of one spec */
#define XENGPU_STREAM_NAME_MAX 64             /* characters of a domain name */
#define XENGPU_STREAM_HOST_MAX 255            /* characters of a host name */
#define XENGPU_STREAM_CONFIG_MAX (512 * 1024) /* bytes of domain_config */
#define XENGPU_STREAM_HOLE_MIN 256            /* MiB, when not 0 */
#define XENGPU_STREAM_HOLE_MAX 3840           /* MiB */
#define XENGPU_STREAM_UUID_LEN 36             /* characters of a UUID */

#define XENGPU_STREAM_WHYLEN 256

#define XENGPU_STREAM_OPTS_MAX 96 /* characters of a card's "opts" */

/* One card the domain had on the source host. */
typedef struct xengpu_stream_card {
    xengpu_bdf bdf; /* its function 0 (or the VF), on the source host */
    xengpu_card_desc desc;
    char opts[XENGPU_STREAM_OPTS_MAX + 2]; /* "" when none */
} xengpu_stream_card;

/*
 * The header in memory; each member is the JSON key of the same meaning.
 *
 * The character arrays are one byte longer than the longest valid value
 * and its NUL: a value too long that is snprintf()'ed in stays too long,
 * and is refused, rather than being cut to a valid but different one.
 *
 * The header owns SPECS (an array of NSPECS strings) and DOMAIN_CONFIG:
 * both malloc'ed, freed by xengpu_stream_hdr_dispose().  Give it strings
 * it may free(): strdup()'ed ones, libxl_domain_config_to_json()'s
 * result, or through xengpu_stream_hdr_add_spec().  Everything else is
 * plain values: CARDS is filled in place, NCARDS of them.
 */
typedef struct xengpu_stream_hdr {
    char uuid[XENGPU_STREAM_UUID_LEN + 2];
    char name[XENGPU_STREAM_NAME_MAX + 2];
    bool hvm;             /* "type": "hvm" (true) or "pv" */
    bool unplug;          /* "gpu_migration": "unplug" (true) or "refuse" */
    xengpu_compat compat; /* "gpu_compat" */
    unsigned mmio_hole;   /* MiB, 0 for libxl's default */
    char **specs;
    size_t nspecs;
    xengpu_stream_card cards[XENGPU_STREAM_MAX_CARDS];
    size_t ncards;
    char host[XENGPU_STREAM_HOST_MAX + 2];
    int64_t time;        /* unix seconds */
    char *domain_config; /* libxl's JSON */
} xengpu_stream_hdr;

/*
 * An empty header: every string empty, no specs or cards, "type" pv,
 * mmio_hole 0, time 0, no domain_config; gpu_migration and gpu_compat
 * at the defaults of their xl config keys, "unplug" and "exact".  Not
 * valid until filled in.
 */
void xengpu_stream_hdr_init(xengpu_stream_hdr *h);

/*
 * Free what H owns and make it empty again, as _init() does.
 * Idempotent: a disposed header may be disposed again, or reused.
 */
void xengpu_stream_hdr_dispose(xengpu_stream_hdr *h);

/*
 * Append a copy of SPEC to H's specs.  Returns 0, or -E2BIG when H has
 * XENGPU_STREAM_MAX_SPECS already.  SPEC itself is checked on write.
 */
int xengpu_stream_hdr_add_spec(xengpu_stream_hdr *h, const char *spec);

/*
 * Whether H is a header the format above allows: every member in its
 * grammar, each card's description valid, no card twice, and its JSON
 * no longer than XENGPU_STREAM_MAX_JSON.  Returns 0, or -EINVAL with WHY
 * naming the first member at fault by its JSON key ("name is not 1 to 64
 * printable ASCII characters without a leading or trailing space").
 * Pure: no I/O, no logging.
 */
int xengpu_stream_hdr_check(const xengpu_stream_hdr *h, char *why,
                            size_t whysize);

/*
 * The JSON text of H as the format above writes it, malloc'ed (free()
 * it), NUL terminated, no trailing newline.  Never fails, and does not
 * check H: a header that xengpu_stream_hdr_check() refuses gives text
 * the parser refuses too (null for a missing domain_config).
 */
char *xengpu_stream_hdr_json(const xengpu_stream_hdr *h);

/*
 * The whole header, preamble and JSON, as it goes on the wire: a
 * malloc'ed buffer in *buf_r (free() it) of *len_r bytes, not NUL
 * terminated.  Returns 0, or -EINVAL with WHY when
 * xengpu_stream_hdr_check() refuses H; *buf_r and *len_r are untouched
 * then.  Pure: no I/O, no logging.
 */
int xengpu_stream_hdr_encode(const xengpu_stream_hdr *h, char **buf_r,
                             size_t *len_r, char *why, size_t whysize);

/*
 * Parse a whole header, preamble and JSON, from the LEN bytes at BUF
 * (exactly the header: no byte of libxl's stream after it) into *h_r.
 * Returns 0, or -EINVAL with WHY; *h_r is untouched on failure.  On
 * success *h_r is overwritten without being disposed first: pass an
 * empty or uninitialized header, and dispose of it after.
 *
 * Refusals, the WHY text starting with:
 *   "truncated"  fewer than 16 bytes of preamble with the right magic so
 *                far, or fewer than L bytes of JSON;
 *   "not a xengpu save file: it starts like an xl save file; use xl
 *                restore", or "...: it starts like a bare libxl stream",
 *                or "...: bad magic" for any other first 8 bytes;
 *   "format version N is not 1";
 *   "header length N is out of range 1 to 1048576";
 *   "N bytes follow the header";
 *   the JSON's: "the header is not JSON: ...", "the header lacks
 *                \"uuid\"", "the header has an unknown key \"x\"", "the
 *                header has \"name\" twice", "KEY is not ..." (the
 *                value's grammar), "cards[I].desc: ..." (compat.h's
 *                reason).
 * Pure: no I/O, no logging; safe on any input (it is fuzzed).
 */
int xengpu_stream_hdr_parse(const char *buf, size_t len,
                            xengpu_stream_hdr *h_r, char *why, size_t whysize);

/*
 * Write H to FD: xengpu_stream_hdr_encode()'s bytes, all of them.  FD may
 * be a file, a pipe or a socket, blocking or not (a non-blocking one is
 * waited on with poll(), without a deadline); interrupted writes are
 * resumed.  On a socket, a peer that went away gives -EPIPE, not
 * SIGPIPE; on a pipe, SIGPIPE is raised as write(2) raises it (-EPIPE
 * when it is ignored).
 *
 * Returns 0; -EINVAL when H is refused by xengpu_stream_hdr_check(); or
 * the negative errno of the write that failed (then FD has an unknown
 * part of the header: discard what it leads to).  Each failure is logged
 * once through LG (NULL: xengpu's default logger), naming the domain.
 */
int xengpu_stream_hdr_write(int fd, const xengpu_stream_hdr *h,
                            xentoollog_logger *lg);

/*
 * Read a header from FD into *h_r: exactly the 16 bytes of the preamble
 * and then exactly the L bytes of JSON it announces, with no read-ahead,
 * so that FD is left at the first byte of libxl's stream, on a file, a
 * pipe or a socket alike.  Reads block for as long as it takes (a
 * non-blocking FD is waited on with poll()); interrupted reads are
 * resumed.
 *
 * Returns 0; -EINVAL for a header xengpu_stream_hdr_parse() refuses, or
 * end of file before its end ("truncated: ..."); or the negative errno
 * of the read that failed.  Every failure has its reason in WHY
 * (XENGPU_STREAM_WHYLEN bytes are enough; may be NULL) and is logged
 * through LG only at XTL_DEBUG: the caller reports it, once, with the
 * name of the file or peer it read.  *h_r is untouched on failure, and
 * overwritten without being disposed first on success, as with
 * xengpu_stream_hdr_parse().  On failure, how much of FD was consumed is
 * unspecified.
 */
int xengpu_stream_hdr_read(int fd, xengpu_stream_hdr *h_r, char *why,
                           size_t whysize, xentoollog_logger *lg);

#endif /* XENGPU_STREAM_H */
