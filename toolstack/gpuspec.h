/*
 * gpuspec.h - the xl config extension: `gpu = [ "SPEC", ... ]`, the
 * domain config keys xengpu reads, and the pool file.
 *
 * SPEC grammar (one string of the gpu list; at most 256 bytes of
 * printable ASCII):
 *
 *   SPEC     := ITEM ( "," ITEM )*
 *   ITEM     := SELECTOR | KEY "=" VALUE        (SELECTOR: first item only)
 *   SELECTOR := [DDDD:]BB:DD.F      the card that holds this function
 *             | [DDDD:]BB:DD        the card in this slot
 *             | VVVV:DDDD           a card of this model (4 hex digits each)
 *   KEY=VALUE:
 *     vendor=VVVV     a card of this vendor (4 hex digits, optional 0x)
 *     device=DDDD     with vendor=: a card of this model
 *     pool=NAME       a card of the pool NAME in the pool file
 *     count=N         N cards (1..16) that match; 1 if not given
 *     permissive=0|1, msitranslate=0|1, power_mgmt=0|1,
 *     rdm_policy=strict|relaxed
 *                     passed to every function of the card, as xl's pci
 *                     spec options of the same names (xl-pci-configuration(5))
 *
 * Addresses follow xl and lspci: the domain may be left out, hex digits
 * in either case.  Spaces around ',' and '=' are ignored, as people write
 * them in xl specs (`'bridge=virbr0, mac=...'`, and Xen's own vtd.txt
 * writes rdm = "strategy=host, policy=relaxed").  Everything else is
 * refused with the bad part named: an unknown or repeated key, a bad
 * value, an empty item, a second selector, device= without vendor=,
 * count>1 with an address, control characters, NUL bytes, non-ASCII
 * bytes, a spec over 256 bytes.  `seize` is refused (xengpu prepares
 * cards itself, never through libxl's seize); `rom` and `migration` are
 * reserved for later versions and refused for now; `vslot`/`@VSLOT` are
 * not accepted (xengpu picks the virtual slot for the whole card).
 *
 * Domain config: the whole xl config is read with libxlutil, exactly as
 * xl reads it (the file, then each KEY=VALUE override from the command
 * line), so every other key behaves as under `xl create`.
 *
 * Pool file (default /etc/xengpu/xengpu.conf, else $XENGPU_CONF or the
 * caller's path): xl config syntax, one list per pool named pool_NAME,
 * whose members are selectors only (no count or options):
 *
 *   pool_render = [ "10de:2204", "0000:65:00.0", "vendor=1002" ]
 *
 * and `gpu = [ "pool=render" ]` picks a free card matching any member.
 * See examples/xengpu.conf.
 *
 * Parsers never log: xengpu_gpuspec_parse() describes what is wrong in a
 * caller's buffer; the config readers log once through LG, naming the
 * file, the key and the spec.
 */
#ifndef XENGPU_GPUSPEC_H
#define XENGPU_GPUSPEC_H

#include <stdbool.h>
#include <stddef.h>
#include <xentoollog.h>

#include "pciback-helper/bdf.h"

#define XENGPU_GPUSPEC_MAX 256    /* bytes of one SPEC */
#define XENGPU_GPU_COUNT_MAX 16   /* count=, and cards per domain */
#define XENGPU_POOL_NAME_MAX 32   /* [a-z0-9_], 1..32 */
#define XENGPU_GPUSPEC_WHYLEN 160 /* room for a parse error */

#define XENGPU_CONF_DEFAULT "/etc/xengpu/xengpu.conf"
#define XENGPU_CONF_ENV "XENGPU_CONF"

typedef enum xengpu_gpusel {
    XENGPU_SEL_NONE = 0,
    XENGPU_SEL_FUNCTION, /* "01:00.0": the card that holds it */
    XENGPU_SEL_SLOT,     /* "01:00": the card in that slot */
    XENGPU_SEL_MODEL,    /* "10de:2204", vendor=, device= */
    XENGPU_SEL_POOL,     /* pool=NAME */
} xengpu_gpusel;

typedef enum xengpu_rdm {
    XENGPU_RDM_UNSET = 0,
    XENGPU_RDM_STRICT,
    XENGPU_RDM_RELAXED,
} xengpu_rdm;

/* One parsed SPEC: a plain value, copy it freely. */
typedef struct xengpu_gpuspec {
    char text[XENGPU_GPUSPEC_MAX + 1]; /* as written */
    xengpu_gpusel sel;
    xengpu_bdf addr;    /* FUNCTION, SLOT (fn 0) */
    int vendor, device; /* MODEL; -1 for any device */
    char pool[XENGPU_POOL_NAME_MAX + 1];
    unsigned count;   /* 1..XENGPU_GPU_COUNT_MAX */
    int permissive;   /* -1 unset, 0, 1 */
    int msitranslate; /* -1 unset, 0, 1 */
    int power_mgmt;   /* -1 unset, 0, 1 */
    xengpu_rdm rdm_policy;
} xengpu_gpuspec;

/* Parse a pool member: a selector only, no pool=, count or options. */
#define XENGPU_GPUSPEC_MEMBER 0x1u
/*
 * Parse per-device options only ("permissive=1,rdm_policy=relaxed"), as
 * a save file or migration carries them for each card: sel stays
 * XENGPU_SEL_NONE.
 */
#define XENGPU_GPUSPEC_OPTIONS 0x2u

/*
 * Parse LEN bytes at S as one SPEC.  Returns 0 and fills *spec_r, or
 * -EINVAL and writes into WHY (WHYSIZE bytes, XENGPU_GPUSPEC_WHYLEN is
 * enough) what is wrong, naming the bad item.  S need not be NUL
 * terminated.  FLAGS is 0 or XENGPU_GPUSPEC_MEMBER.
 */
int xengpu_gpuspec_parse(const char *s, size_t len, unsigned flags,
                         xengpu_gpuspec *spec_r, char *why, size_t whysize);

/*
 * The xl pci spec options of SPEC (",permissive=1,rdm_policy=relaxed"),
 * in a fixed order, "" when none are set, into BUF.  Returns 0 or
 * -ENOSPC (64 bytes always suffice).
 */
int xengpu_gpuspec_xl_options(const xengpu_gpuspec *spec, char *buf,
                              size_t size);

/*
 * Quote LEN bytes at S for a message: printable ASCII as is, anything
 * else as \xNN, cut to about 80 characters with "...".  BUF of SIZE
 * bytes; always NUL terminated.
 */
void xengpu_quote(const char *s, size_t len, char *buf, size_t size);

/* --- the domain config ------------------------------------------------ */

/* What xengpu needs from a domain config; owns its strings. */
typedef struct xengpu_domcfg {
    char *file;          /* the name used in messages */
    char *name;          /* name=, or NULL */
    char *type;          /* "hvm", "pv" or "pvh" (type= or builder=) */
    long memory, maxmem; /* MiB; -1 when not given */
    char *passthrough;   /* passthrough=, or NULL */
    int numa_node;       /* from cpus = "node:N", else -1 */
    xengpu_gpuspec *gpus;
    size_t ngpus;
    char **pci; /* the config's own pci = [...] entries, verbatim */
    size_t npci;
    char **dm_args_hvm; /* device_model_args_hvm, verbatim */
    size_t ndm_args_hvm;
    bool stubdom; /* device_model_stubdomain_override = 1 */

    /* Guest layout (HVM). */
    bool gpu_unplug;   /* gpu_migration = "unplug" (default), not "refuse" */
    char *gpu_compat;  /* gpu_compat = "exact" (default) ... "any", or NULL */
    bool gfx_passthru; /* gfx_passthru = 1 or a kind: the card is primary */
    char *vga;         /* vga = "stdvga" | "cirrus" | "none", or NULL */
    long mmio_hole;    /* MiB; -1 when not given */
} xengpu_domcfg;

void xengpu_domcfg_init(xengpu_domcfg *cfg);
/* Frees what CFG owns and re-inits it; idempotent. */
void xengpu_domcfg_dispose(xengpu_domcfg *cfg);

/*
 * Read the xl config FILE, then each of the NOVR "KEY=VALUE" overrides
 * (as `xl create FILE KEY=VALUE...` does), into *cfg_r (init'ed by the
 * caller).  Returns 0, -ENOENT when FILE cannot be read, -EINVAL for a
 * syntax error (libxlutil's message, with the line, is logged), a gpu
 * key that is not a list of strings, a bad SPEC, more than
 * XENGPU_GPU_COUNT_MAX cards in all, a bad memory/maxmem/type, or a pci
 * entry that is not a string.
 */
int xengpu_domcfg_read(const char *file, char *const *ovr, size_t novr,
                       xentoollog_logger *lg, xengpu_domcfg *cfg_r);

/* As xengpu_domcfg_read(), from LEN bytes of DATA named NAME. */
int xengpu_domcfg_parse(const char *name, const char *data, size_t len,
                        xentoollog_logger *lg, xengpu_domcfg *cfg_r);

/*
 * The checks passthrough needs, for a config with gpus: memory equal to
 * maxmem (no populate-on-demand), a guest type that can have PCI
 * devices, passthrough not "disabled".  Returns 0 or -EINVAL, logged
 * with both values or the key.
 */
int xengpu_domcfg_check(const xengpu_domcfg *cfg, xentoollog_logger *lg);

/* --- the pool file ---------------------------------------------------- */

typedef struct xengpu_pools xengpu_pools;

/*
 * Read the pool file PATH (NULL: $XENGPU_CONF, else the default).  A
 * missing file is an empty set of pools, unless PATH was given
 * explicitly (-ENOENT).  -EINVAL for a syntax error (logged with the
 * line).  Free with xengpu_pools_free().
 */
int xengpu_pools_read(const char *path, xentoollog_logger *lg,
                      xengpu_pools **pools_r);

/* As xengpu_pools_read(), from LEN bytes of DATA named NAME. */
int xengpu_pools_parse(const char *name, const char *data, size_t len,
                       xentoollog_logger *lg, xengpu_pools **pools_r);

/* NULL is fine. */
void xengpu_pools_free(xengpu_pools *pools);

/*
 * The members of pool NAME, as selectors (XENGPU_GPUSPEC_MEMBER).
 * *members_r is malloc'ed (free() it).  -ENOENT when the file has no
 * pool_NAME list, -EINVAL when it is not a list of strings or a member
 * is bad; both logged with the file and key.
 */
int xengpu_pool_members(const xengpu_pools *pools, const char *name,
                        xentoollog_logger *lg, xengpu_gpuspec **members_r,
                        size_t *n_r);

#endif /* XENGPU_GPUSPEC_H */
