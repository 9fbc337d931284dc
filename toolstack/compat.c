/*
 * compat.c - card descriptions, their JSON form, and the policies that
 * say whether one card may replace another.
 */
#include <errno.h>
#include <inttypes.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <yajl/yajl_gen.h>
#include <yajl/yajl_tree.h>

#include "compat.h"
#include "layout.h"
#include "pciback-helper/util.h"

#define KiB ((uint64_t)1 << 10)
#define GiB ((uint64_t)1 << 30)

#define IO_MIN 4
#define IO_MAX (64 * KiB)
#define MEM_MIN 16
#define MEM32_MAX (2 * GiB)
#define MEM64_MAX ((uint64_t)1 << 62)
#define ROM_MIN (2 * KiB)
#define ROM_MAX (2 * GiB)

/* The grammar's objects nest five deep; refuse deeper text before yajl. */
#define MAX_DEPTH 8

static const char *const policy_names[] = {
    [XENGPU_COMPAT_EXACT] = "exact",
    [XENGPU_COMPAT_DEVICE] = "device",
    [XENGPU_COMPAT_VENDOR] = "vendor",
    [XENGPU_COMPAT_ANY] = "any",
};

/*
 * Keys of the card and function objects: the first and last differ, the
 * five ids in between are shared.
 */
enum { K_FIRST, K_VENDOR, K_DEVICE, K_SVENDOR, K_SDEVICE, K_CLASS, K_LIST };
static const char *const card_keys[] = {
    "version",          "vendor", "device",   "subsystem_vendor",
    "subsystem_device", "class",  "functions"
};
static const char *const fn_keys[] = {
    "function",         "vendor", "device", "subsystem_vendor",
    "subsystem_device", "class",  "bars"
};
enum { B_INDEX, B_SIZE, B_IS64, B_IO };
static const char *const bar_keys[] = { "index", "size", "is64", "io" };

static int say(char *why, size_t whysize, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* Write the reason; returns -EINVAL, what most callers return with it. */
static int say(char *why, size_t whysize, const char *fmt, ...)
{
    va_list ap;

    if (why && whysize) {
        va_start(ap, fmt);
        vsnprintf(why, whysize, fmt, ap);
        va_end(ap);
    }
    return -EINVAL;
}

/* --- validation ---------------------------------------------------------- */

static bool pow2(uint64_t v)
{
    return v && !(v & (v - 1));
}

static bool is_card_class(uint32_t class)
{
    return class >> 16 == 0x03 || class >> 16 == 0x12;
}

/* Size bounds of B's kind; a reason when its flags make no BAR. */
static const char *bar_kind(const xengpu_bar_desc *b, uint64_t *lo,
                            uint64_t *hi)
{
    if (b->index > XENGPU_BAR_ROM) return "has an index above 6";
    if (b->index == XENGPU_BAR_ROM) {
        *lo = ROM_MIN;
        *hi = ROM_MAX;
        return b->io || b->is64 ? "is the ROM, neither I/O nor 64-bit" : NULL;
    }
    if (b->io) {
        *lo = IO_MIN;
        *hi = IO_MAX;
        return b->is64 ? "is both I/O and 64-bit" : NULL;
    }
    *lo = MEM_MIN;
    *hi = b->is64 ? MEM64_MAX : MEM32_MAX;
    return b->is64 && b->index > 4 ? "is 64-bit at index 5" : NULL;
}

static int check_bars(const xengpu_fn_desc *f, size_t i, char *why,
                      size_t whysize)
{
    const xengpu_bar_desc *b, *prev = NULL;
    const char *bad;
    uint64_t lo = 0, hi = 0;
    size_t j;

    if (f->nbars > XENGPU_DESC_MAX_BARS)
        return say(why, whysize, "functions[%zu].bars has %zu entries", i,
                   f->nbars);
    for (j = 0; j < f->nbars; prev = b, j++) {
        b = &f->bars[j];
        bad = bar_kind(b, &lo, &hi);
        if (!bad && prev && b->index <= prev->index)
            bad = "is not in ascending order of index";
        if (!bad && prev && prev->is64 && b->index == prev->index + 1)
            bad = "is the upper half of the 64-bit BAR before it";
        if (!bad && !pow2(b->size)) bad = "has a size that is no power of two";
        if (!bad && (b->size < lo || b->size > hi))
            bad = "has a size out of range for its kind";
        if (bad)
            return say(why, whysize, "functions[%zu].bars[%zu] (index %u) %s",
                       i, j, b->index, bad);
    }
    return 0;
}

static bool same_ids(const xengpu_card_desc *d, const xengpu_fn_desc *f)
{
    return f->vendor == d->vendor && f->device == d->device &&
           f->subsys_vendor == d->subsys_vendor &&
           f->subsys_device == d->subsys_device && f->class == d->class;
}

/* What the grammar in compat.h asks beyond the types of the values. */
static int validate(const xengpu_card_desc *d, char *why, size_t whysize)
{
    bool primary = false;
    size_t i;
    int rc;

    if (d->nfns < 1 || d->nfns > XENGPU_DESC_MAX_FNS)
        return say(why, whysize, "functions has %zu entries, not 1 to %d",
                   d->nfns, XENGPU_DESC_MAX_FNS);
    if (!is_card_class(d->class) || d->class > 0xffffff)
        return say(why, whysize,
                   "class %06" PRIx32 " is neither a display (03) nor an "
                   "accelerator (12)",
                   d->class);
    for (i = 0; i < d->nfns; i++) {
        if (d->fns[i].function > 7 || d->fns[i].class > 0xffffff)
            return say(why, whysize, "functions[%zu] is not a function", i);
        if (i && d->fns[i].function <= d->fns[i - 1].function)
            return say(why, whysize,
                       "functions[%zu] is not in ascending order of function",
                       i);
        rc = check_bars(&d->fns[i], i, why, whysize);
        if (rc) return rc;
        if (same_ids(d, &d->fns[i])) primary = true;
    }
    if (!primary)
        return say(why, whysize,
                   "no function has the card's ids %04x:%04x, subsystem "
                   "%04x:%04x and class %06" PRIx32,
                   d->vendor, d->device, d->subsys_vendor, d->subsys_device,
                   d->class);
    return 0;
}

/* --- from the host model ------------------------------------------------- */

/* One BAR or the ROM of DEV into F, as QEMU will pass it through. */
static int fn_bar(const xengpu_card *card, const xengpu_pcidev *dev,
                  const xengpu_bar *bar, xengpu_fn_desc *f, char *why,
                  size_t whysize)
{
    bool unassigned = !bar->assigned || !bar->size;

    /* QEMU leaves out I/O BARs and the ROM the host did not assign. */
    if (unassigned && (bar->io || bar->index == XENGPU_BAR_ROM)) return 0;
    if (unassigned) {
        say(why, whysize, "card %s: BAR %u of %s is unassigned on this host",
            card->fns[0]->name, bar->index, dev->name);
        return -ENODATA;
    }
    f->bars[f->nbars++] = (xengpu_bar_desc){ .index = bar->index,
                                             .size = bar->size,
                                             .is64 = bar->is64,
                                             .io = bar->io };
    return 0;
}

static int fn_bars(const xengpu_card *card, const xengpu_pcidev *dev,
                   xengpu_fn_desc *f, char *why, size_t whysize)
{
    unsigned j;
    int rc;

    for (j = 0; j < dev->res.nbars; j++) {
        rc = fn_bar(card, dev, &dev->res.bars[j], f, why, whysize);
        if (rc) return rc;
    }
    if (!dev->res.has_rom) return 0;
    return fn_bar(card, dev, &dev->res.rom, f, why, whysize);
}

static int fn_from_dev(const xengpu_card *card, const xengpu_pcidev *dev,
                       xengpu_fn_desc *f, char *why, size_t whysize)
{
    const char *c = card->fns[0]->name;

    if (dev->dead || dev->cfg.dead) {
        say(why, whysize,
            "card %s: %s has fallen off the bus (its configuration space "
            "reads all ones)",
            c, dev->name);
        return -ENODEV;
    }
    if (!dev->ids_known || !dev->cfg.header || !dev->res_known) {
        say(why, whysize, "card %s: the %s of %s could not be read", c,
            !dev->ids_known    ? "ids"
            : !dev->cfg.header ? "configuration header"
                               : "BARs",
            dev->name);
        return -ENODATA;
    }
    f->function = dev->bdf.fn;
    f->vendor = dev->vendor;
    f->device = dev->device;
    f->class = dev->class;
    if (dev->cfg.has_subsys) {
        f->subsys_vendor = dev->cfg.subsys_vendor;
        f->subsys_device = dev->cfg.subsys_device;
    }
    return fn_bars(card, dev, f, why, whysize);
}

int xengpu_card_desc_from_card(const xengpu_card *card,
                               xengpu_card_desc *desc_r, char *why,
                               size_t whysize)
{
    xengpu_card_desc d;
    const xengpu_fn_desc *p = NULL;
    size_t i;
    int rc;

    memset(&d, 0, sizeof(d));
    if (card->nfns > XENGPU_DESC_MAX_FNS)
        return say(why, whysize, "card %s has %zu functions",
                   card->fns[0]->name, card->nfns);
    for (i = 0; i < card->nfns; i++) {
        rc = fn_from_dev(card, card->fns[i], &d.fns[i], why, whysize);
        if (rc) return rc;
        if (card->fns[i] == card->primary) p = &d.fns[i];
        d.nfns++;
    }
    if (p) {
        d.vendor = p->vendor;
        d.device = p->device;
        d.subsys_vendor = p->subsys_vendor;
        d.subsys_device = p->subsys_device;
        d.class = p->class;
    }
    rc = validate(&d, why, whysize);
    if (rc) return rc;
    *desc_r = d;
    return 0;
}

/* --- JSON ---------------------------------------------------------------- */

static void gen_str(yajl_gen g, const char *s)
{
    yajl_gen_string(g, (const unsigned char *)s, strlen(s));
}

static void gen_hex(yajl_gen g, const char *key, unsigned digits, uint32_t v)
{
    char b[16];

    gen_str(g, key);
    snprintf(b, sizeof(b), "%0*" PRIx32, (int)digits, v);
    gen_str(g, b);
}

static void gen_ids(yajl_gen g, uint16_t vendor, uint16_t device,
                    uint16_t svendor, uint16_t sdevice, uint32_t class)
{
    gen_hex(g, card_keys[K_VENDOR], 4, vendor);
    gen_hex(g, card_keys[K_DEVICE], 4, device);
    gen_hex(g, card_keys[K_SVENDOR], 4, svendor);
    gen_hex(g, card_keys[K_SDEVICE], 4, sdevice);
    gen_hex(g, card_keys[K_CLASS], 6, class);
}

static void gen_bar(yajl_gen g, const xengpu_bar_desc *b)
{
    yajl_gen_map_open(g);
    gen_str(g, bar_keys[B_INDEX]);
    yajl_gen_integer(g, b->index);
    gen_str(g, bar_keys[B_SIZE]);
    yajl_gen_integer(g, (long long)b->size);
    gen_str(g, bar_keys[B_IS64]);
    yajl_gen_bool(g, b->is64);
    gen_str(g, bar_keys[B_IO]);
    yajl_gen_bool(g, b->io);
    yajl_gen_map_close(g);
}

static void gen_fn(yajl_gen g, const xengpu_fn_desc *f)
{
    size_t j;

    yajl_gen_map_open(g);
    gen_str(g, fn_keys[K_FIRST]);
    yajl_gen_integer(g, f->function);
    gen_ids(g, f->vendor, f->device, f->subsys_vendor, f->subsys_device,
            f->class);
    gen_str(g, fn_keys[K_LIST]);
    yajl_gen_array_open(g);
    for (j = 0; j < f->nbars; j++)
        gen_bar(g, &f->bars[j]);
    yajl_gen_array_close(g);
    yajl_gen_map_close(g);
}

char *xengpu_card_desc_format(const xengpu_card_desc *desc)
{
    yajl_gen g = yajl_gen_alloc(NULL);
    const unsigned char *buf;
    size_t len, i;
    char *out;

    if (!g) xengpu__oom();
    yajl_gen_map_open(g);
    gen_str(g, card_keys[K_FIRST]);
    yajl_gen_integer(g, XENGPU_DESC_VERSION);
    gen_ids(g, desc->vendor, desc->device, desc->subsys_vendor,
            desc->subsys_device, desc->class);
    gen_str(g, card_keys[K_LIST]);
    yajl_gen_array_open(g);
    for (i = 0; i < desc->nfns && i < XENGPU_DESC_MAX_FNS; i++)
        gen_fn(g, &desc->fns[i]);
    yajl_gen_array_close(g);
    yajl_gen_map_close(g);
    yajl_gen_get_buf(g, &buf, &len);
    out = xengpu__xmalloc(len + 1);
    memcpy(out, buf, len);
    out[len] = '\0';
    yajl_gen_free(g);
    return out;
}

bool xengpu__json_too_deep(const char *s, size_t len, unsigned max)
{
    bool in_str = false;
    unsigned depth = 0;
    size_t i;

    for (i = 0; i < len; i++) {
        if (in_str) {
            if (s[i] == '\\')
                i++;
            else if (s[i] == '"')
                in_str = false;
        } else if (s[i] == '"') {
            in_str = true;
        } else if (s[i] == '[' || s[i] == '{') {
            if (++depth > max) return true;
        } else if ((s[i] == ']' || s[i] == '}') && depth) {
            depth--;
        }
    }
    return false;
}

/* A key from the text, printable, for a message. */
static void quote(const char *s, char *buf, size_t size)
{
    size_t i;

    for (i = 0; s[i] && i + 4 < size; i++)
        buf[i] = s[i] >= 0x20 && s[i] < 0x7f && s[i] != '"' ? s[i] : '?';
    if (s[i]) {
        memcpy(buf + i, "...", 3);
        i += 3;
    }
    buf[i] = '\0';
}

/*
 * The values of OBJ (at PATH, "" for the top) for the N KEYS, each
 * present exactly once, into VALS; any other key is refused.
 */
static int fields(yajl_val obj, const char *path, const char *const *keys,
                  size_t n, yajl_val *vals, char *why, size_t whysize)
{
    const char *what = *path ? path : "the description";
    char k[40];
    size_t i, j;

    if (!YAJL_IS_OBJECT(obj))
        return say(why, whysize, "%s is not an object", what);
    memset(vals, 0, n * sizeof(*vals));
    for (i = 0; i < obj->u.object.len; i++) {
        for (j = 0; j < n; j++)
            if (!strcmp(obj->u.object.keys[i], keys[j])) break;
        quote(obj->u.object.keys[i], k, sizeof(k));
        if (j == n)
            return say(why, whysize, "%s has an unknown key \"%s\"", what, k);
        if (vals[j]) return say(why, whysize, "%s has \"%s\" twice", what, k);
        vals[j] = obj->u.object.values[i];
    }
    for (j = 0; j < n; j++)
        if (!vals[j])
            return say(why, whysize, "%s lacks \"%s\"", what, keys[j]);
    return 0;
}

static int get_hex(yajl_val v, const char *path, const char *key,
                   unsigned digits, uint32_t *out, char *why, size_t whysize)
{
    const char *s = YAJL_IS_STRING(v) ? v->u.string : "";

    if (strlen(s) != digits || strspn(s, "0123456789abcdef") != digits)
        return say(why, whysize, "%s%s is not %u lower-case hex digits", path,
                   key, digits);
    *out = (uint32_t)strtoul(s, NULL, 16);
    return 0;
}

static int get_int(yajl_val v, const char *path, const char *key,
                   long long max, long long *out, char *why, size_t whysize)
{
    if (!YAJL_IS_INTEGER(v) || YAJL_GET_INTEGER(v) < 0 ||
        YAJL_GET_INTEGER(v) > max)
        return say(why, whysize, "%s%s is not an integer from 0 to %lld", path,
                   key, max);
    *out = YAJL_GET_INTEGER(v);
    return 0;
}

static int get_bool(yajl_val v, const char *path, const char *key, bool *out,
                    char *why, size_t whysize)
{
    if (!YAJL_IS_TRUE(v) && !YAJL_IS_FALSE(v))
        return say(why, whysize, "%s%s is not true or false", path, key);
    *out = YAJL_IS_TRUE(v);
    return 0;
}

/* The five ids at VALS[K_VENDOR ... K_CLASS] of the object at PATH. */
static int get_ids(yajl_val *vals, const char *path, uint16_t *vendor,
                   uint16_t *device, uint16_t *svendor, uint16_t *sdevice,
                   uint32_t *class, char *why, size_t whysize)
{
    uint16_t *ids[] = { vendor, device, svendor, sdevice };
    uint32_t v;
    size_t i;
    int rc;

    for (i = 0; i < 4; i++) {
        rc = get_hex(vals[K_VENDOR + i], path, card_keys[K_VENDOR + i], 4, &v,
                     why, whysize);
        if (rc) return rc;
        *ids[i] = (uint16_t)v;
    }
    return get_hex(vals[K_CLASS], path, card_keys[K_CLASS], 6, class, why,
                   whysize);
}

static int parse_bar(yajl_val obj, const char *path, xengpu_bar_desc *b,
                     char *why, size_t whysize)
{
    yajl_val v[ARRAY_SIZE(bar_keys)];
    long long n = 0;
    int rc;

    rc = fields(obj, path, bar_keys, ARRAY_SIZE(bar_keys), v, why, whysize);
    if (!rc) rc = get_int(v[B_INDEX], path, ".index", 255, &n, why, whysize);
    if (rc) return rc;
    b->index = (uint8_t)n;
    rc = get_int(v[B_SIZE], path, ".size", LLONG_MAX, &n, why, whysize);
    if (rc) return rc;
    b->size = (uint64_t)n;
    rc = get_bool(v[B_IS64], path, ".is64", &b->is64, why, whysize);
    if (rc) return rc;
    return get_bool(v[B_IO], path, ".io", &b->io, why, whysize);
}

static int parse_fn(yajl_val obj, size_t i, xengpu_fn_desc *f, char *why,
                    size_t whysize)
{
    yajl_val v[ARRAY_SIZE(fn_keys)], list;
    char path[40], bpath[80];
    long long n = 0;
    size_t j;
    int rc;

    snprintf(path, sizeof(path), "functions[%zu]", i);
    rc = fields(obj, path, fn_keys, ARRAY_SIZE(fn_keys), v, why, whysize);
    if (!rc)
        rc = get_int(v[K_FIRST], path, ".function", 255, &n, why, whysize);
    if (rc) return rc;
    f->function = (uint8_t)n;
    strcat(path, ".");
    rc = get_ids(v, path, &f->vendor, &f->device, &f->subsys_vendor,
                 &f->subsys_device, &f->class, why, whysize);
    if (rc) return rc;
    list = v[K_LIST];
    if (!YAJL_IS_ARRAY(list) || list->u.array.len > XENGPU_DESC_MAX_BARS)
        return say(why, whysize, "%sbars is not an array of at most %d", path,
                   XENGPU_DESC_MAX_BARS);
    for (j = 0; j < list->u.array.len; j++) {
        snprintf(bpath, sizeof(bpath), "%sbars[%zu]", path, j);
        rc = parse_bar(list->u.array.values[j], bpath, &f->bars[j], why,
                       whysize);
        if (rc) return rc;
        f->nbars++;
    }
    return 0;
}

static int parse_card(yajl_val root, xengpu_card_desc *d, char *why,
                      size_t whysize)
{
    yajl_val v[ARRAY_SIZE(card_keys)], list;
    long long ver = 0;
    size_t i;
    int rc;

    rc = fields(root, "", card_keys, ARRAY_SIZE(card_keys), v, why, whysize);
    if (!rc) rc = get_int(v[K_FIRST], "", "version", 255, &ver, why, whysize);
    if (rc) return rc;
    if (ver != XENGPU_DESC_VERSION)
        return say(why, whysize, "version %lld is not %d", ver,
                   XENGPU_DESC_VERSION);
    rc = get_ids(v, "", &d->vendor, &d->device, &d->subsys_vendor,
                 &d->subsys_device, &d->class, why, whysize);
    if (rc) return rc;
    list = v[K_LIST];
    if (!YAJL_IS_ARRAY(list) || list->u.array.len > XENGPU_DESC_MAX_FNS)
        return say(why, whysize, "functions is not an array of at most %d",
                   XENGPU_DESC_MAX_FNS);
    for (i = 0; i < list->u.array.len; i++) {
        rc = parse_fn(list->u.array.values[i], i, &d->fns[i], why, whysize);
        if (rc) return rc;
        d->nfns++;
    }
    return 0;
}

int xengpu_card_desc_parse(const char *text, size_t len,
                           xengpu_card_desc *desc_r, char *why, size_t whysize)
{
    xengpu_card_desc d;
    char err[160], *buf;
    yajl_val root;
    int rc;

    if (len > XENGPU_DESC_MAX_TEXT)
        return say(why, whysize, "the description is over %d bytes",
                   XENGPU_DESC_MAX_TEXT);
    if (memchr(text, '\0', len))
        return say(why, whysize, "the description holds a NUL byte");
    if (xengpu__json_too_deep(text, len, MAX_DEPTH))
        return say(why, whysize, "the description nests over %d deep",
                   MAX_DEPTH);
    buf = xengpu__xmalloc(len + 1);
    memcpy(buf, text, len);
    buf[len] = '\0';
    err[0] = '\0';
    root = yajl_tree_parse(buf, err, sizeof(err));
    free(buf);
    if (!root) {
        err[strcspn(err, "\n")] = '\0';
        quote(err, err, sizeof(err));
        return say(why, whysize, "the description is not JSON: %s", err);
    }
    memset(&d, 0, sizeof(d));
    rc = parse_card(root, &d, why, whysize);
    if (!rc) rc = validate(&d, why, whysize);
    yajl_tree_free(root);
    if (!rc) *desc_r = d;
    return rc;
}

/* --- policies ------------------------------------------------------------ */

int xengpu_compat_parse(const char *name, xengpu_compat *policy_r)
{
    size_t i;

    for (i = 0; name && i < ARRAY_SIZE(policy_names); i++)
        if (!strcmp(name, policy_names[i])) {
            *policy_r = (xengpu_compat)i;
            return 0;
        }
    return -EINVAL;
}

const char *xengpu_compat_name(xengpu_compat policy)
{
    return (unsigned)policy < ARRAY_SIZE(policy_names) ? policy_names[policy]
                                                       : "?";
}

static const xengpu_bar_desc *find_bar(const xengpu_fn_desc *f, unsigned index)
{
    size_t j;

    for (j = 0; j < f->nbars; j++)
        if (f->bars[j].index == index) return &f->bars[j];
    return NULL;
}

/* BAR INDEX of function FN: candidate C against the guest's G. */
static int check_bar(unsigned fn, unsigned index, const xengpu_bar_desc *c,
                     const xengpu_bar_desc *g, char *why, size_t whysize)
{
    char what[32], cs[XENGPU_SIZE_STRLEN], gs[XENGPU_SIZE_STRLEN];

    if (!c && !g) return 0;
    if (index == XENGPU_BAR_ROM)
        snprintf(what, sizeof(what), "ROM of function %u", fn);
    else
        snprintf(what, sizeof(what), "BAR %u of function %u", index, fn);
    if (c) xengpu__size_format(c->size, cs, sizeof(cs));
    if (g) xengpu__size_format(g->size, gs, sizeof(gs));
    if (!c)
        return say(why, whysize, "%s is missing, the guest's card had %s",
                   what, gs);
    if (!g)
        return say(why, whysize, "%s is %s, the guest's card had none", what,
                   cs);
    if (c->io != g->io)
        return say(why, whysize, "%s is %s, the guest's card had %s", what,
                   c->io ? "I/O" : "memory", g->io ? "I/O" : "memory");
    if (c->size != g->size)
        return say(why, whysize, "%s is %s, the guest's card had %s", what, cs,
                   gs);
    if (c->is64 != g->is64)
        return say(why, whysize, "%s is %s, the guest's card had %s", what,
                   c->is64 ? "64-bit" : "32-bit",
                   g->is64 ? "64-bit" : "32-bit");
    return 0;
}

static int check_fn(const xengpu_fn_desc *c, const xengpu_fn_desc *g,
                    char *why, size_t whysize)
{
    unsigned fn = c->function, i;
    int rc;

    if (c->vendor != g->vendor || c->device != g->device)
        return say(why, whysize,
                   "function %u is %04x:%04x, the guest's card had %04x:%04x",
                   fn, c->vendor, c->device, g->vendor, g->device);
    if (c->subsys_vendor != g->subsys_vendor ||
        c->subsys_device != g->subsys_device)
        return say(why, whysize,
                   "function %u: subsystem %04x:%04x differs from %04x:%04x",
                   fn, c->subsys_vendor, c->subsys_device, g->subsys_vendor,
                   g->subsys_device);
    if (c->class != g->class)
        return say(why, whysize,
                   "function %u: class %06" PRIx32 " differs from %06" PRIx32,
                   fn, c->class, g->class);
    for (i = 0; i <= XENGPU_BAR_ROM; i++) {
        rc = check_bar(fn, i, find_bar(c, i), find_bar(g, i), why, whysize);
        if (rc) return rc;
    }
    return 0;
}

/* "0, 1" for the function numbers of D. */
static void fn_list(const xengpu_card_desc *d, char *buf, size_t size)
{
    size_t i, o = 0;

    buf[0] = '\0';
    for (i = 0; i < d->nfns && o < size; i++)
        o += (size_t)snprintf(buf + o, size - o, "%s%u", i ? ", " : "",
                              d->fns[i].function);
}

static int check_exact(const xengpu_card_desc *g, const xengpu_card_desc *c,
                       char *why, size_t whysize)
{
    char cl[32], gl[32];
    size_t i;
    int rc;

    if (c->subsys_vendor != g->subsys_vendor ||
        c->subsys_device != g->subsys_device)
        return say(why, whysize, "subsystem %04x:%04x differs from %04x:%04x",
                   c->subsys_vendor, c->subsys_device, g->subsys_vendor,
                   g->subsys_device);
    if (c->class != g->class)
        return say(why, whysize, "class %06" PRIx32 " differs from %06" PRIx32,
                   c->class, g->class);
    if (c->nfns != g->nfns)
        return say(why, whysize, "%zu function%s, the guest's card had %zu",
                   c->nfns, c->nfns == 1 ? "" : "s", g->nfns);
    fn_list(c, cl, sizeof(cl));
    fn_list(g, gl, sizeof(gl));
    if (strcmp(cl, gl))
        return say(why, whysize, "functions %s differ from %s", cl, gl);
    for (i = 0; i < c->nfns; i++) {
        rc = check_fn(&c->fns[i], &g->fns[i], why, whysize);
        if (rc) return rc;
    }
    return 0;
}

int xengpu_compat_check(const xengpu_card_desc *guest,
                        const xengpu_card_desc *candidate,
                        xengpu_compat policy, char *why, size_t whysize)
{
    const xengpu_card_desc *g = guest, *c = candidate;

    if ((unsigned)policy >= ARRAY_SIZE(policy_names))
        return say(why, whysize, "compatibility policy %d is unknown",
                   (int)policy);
    if (policy == XENGPU_COMPAT_ANY) return 0;
    if (c->vendor != g->vendor)
        return say(why, whysize, "vendor %04x differs from %04x", c->vendor,
                   g->vendor);
    if (policy == XENGPU_COMPAT_VENDOR) return 0;
    if (c->device != g->device)
        return say(why, whysize, "device %04x:%04x differs from %04x:%04x",
                   c->vendor, c->device, g->vendor, g->device);
    if (policy == XENGPU_COMPAT_DEVICE) return 0;
    return check_exact(g, c, why, whysize);
}
