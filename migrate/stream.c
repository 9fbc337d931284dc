/*
 * stream.c - the header in front of libxl's save and migration streams:
 * its checks, its JSON, and reading and writing it on any kind of fd.
 */
#include <errno.h>
#include <inttypes.h>
#include <limits.h>
#include <poll.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>
#include <yajl/yajl_gen.h>
#include <yajl/yajl_tree.h>

#include "stream.h"
#include "pciback-helper/util.h"

/*
 * The grammar nests eight deep (header, cards, card, desc, functions,
 * function, bars, bar); refuse deeper text before yajl, whose tree is
 * built and freed recursively.
 */
#define MAX_DEPTH 10

/* What other streams start with, to say what a wrong file is. */
static const char xl_magic[] = "Xen saved domain, xl format\n \0 \r";
static const char libxl_magic[] = "LibxlFmt";

enum {
    K_VERSION,
    K_UUID,
    K_NAME,
    K_TYPE,
    K_MIGRATION,
    K_COMPAT,
    K_HOLE,
    K_SPECS,
    K_CARDS,
    K_HOST,
    K_TIME,
    K_CONFIG,
    K_COUNT
};

/* In the order they are written. */
static const char *const keys[K_COUNT] = {
    [K_VERSION] = "version",
    [K_UUID] = "uuid",
    [K_NAME] = "name",
    [K_TYPE] = "type",
    [K_MIGRATION] = "gpu_migration",
    [K_COMPAT] = "gpu_compat",
    [K_HOLE] = "mmio_hole",
    [K_SPECS] = "specs",
    [K_CARDS] = "cards",
    [K_HOST] = "host",
    [K_TIME] = "time",
    [K_CONFIG] = "domain_config",
};

/* What each value must be: "KEY is not WANT". */
static const char *const want[K_COUNT] = {
    [K_VERSION] = "1",
    [K_UUID] = "a UUID of 8-4-4-4-12 lower-case hex digits",
    [K_NAME] = ("1 to 64 printable ASCII characters without a leading or "
                "trailing space"),
    [K_TYPE] = "\"hvm\" or \"pv\"",
    [K_MIGRATION] = "\"unplug\" or \"refuse\"",
    [K_COMPAT] = "\"exact\", \"device\", \"vendor\" or \"any\"",
    [K_HOLE] = "0 or 256 to 3840 (MiB)",
    [K_SPECS] = "an array of at most 16 strings",
    [K_CARDS] = "an array of at most 16 objects",
    [K_HOST] = "1 to 255 characters of A-Z a-z 0-9 . : _ -",
    [K_TIME] = "an integer of 0 or more (unix seconds)",
    [K_CONFIG] = "a string of 1 to 524288 bytes",
};

#define SPEC_WANT "1 to 256 characters of A-Z a-z 0-9 : . , = _ @ -"
#define BDF_WANT "a canonical address such as 0000:01:00.0"

/* A character array of the header that holds a string. */
#define TERMINATED(a) (memchr((a), '\0', sizeof(a)) != NULL)

enum { C_BDF, C_DESC, C_OPTS };
static const char *const card_keys[] = { "bdf", "desc", "opts" };
#define OPTS_WANT "1 to 96 characters of a-z 0-9 _ = ,"

static bool is_opts(const char *s)
{
    size_t n = strspn(s, "abcdefghijklmnopqrstuvwxyz0123456789_=,");

    return n && !s[n] && n <= XENGPU_STREAM_OPTS_MAX;
}

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

static int say_key(char *why, size_t whysize, int k)
{
    return say(why, whysize, "%s is not %s", keys[k], want[k]);
}

/* --- the grammar of the values ------------------------------------------ */

static bool all_of(const char *s, size_t min, size_t max, const char *set)
{
    size_t n = strlen(s);

    return n >= min && n <= max && strspn(s, set) == n;
}

#define ALNUM "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789"

static bool is_uuid(const char *s)
{
    static const char hex[] = "0123456789abcdef";
    size_t i;

    if (strlen(s) != XENGPU_STREAM_UUID_LEN) return false;
    for (i = 0; i < XENGPU_STREAM_UUID_LEN; i++) {
        bool dash = i == 8 || i == 13 || i == 18 || i == 23;

        if (dash && s[i] != '-') return false;
        if (!dash && !strchr(hex, s[i])) return false;
    }
    return true;
}

static bool is_name(const char *s)
{
    size_t n = strlen(s), i;

    if (n < 1 || n > XENGPU_STREAM_NAME_MAX) return false;
    for (i = 0; i < n; i++)
        if (s[i] < 0x20 || s[i] > 0x7e) return false;
    return s[0] != ' ' && s[n - 1] != ' ';
}

static bool is_spec(const char *s)
{
    return s && all_of(s, 1, XENGPU_STREAM_SPEC_MAX, ALNUM ":.,=_@-");
}

static bool is_host(const char *s)
{
    return all_of(s, 1, XENGPU_STREAM_HOST_MAX, ALNUM ".:_-");
}

/* RFC 3629: no overlong forms, no surrogates, nothing above U+10FFFF. */
static bool is_utf8(const unsigned char *s, size_t len)
{
    size_t i = 0, n, k;
    uint32_t c, min;

    while (i < len) {
        c = s[i];
        if (c < 0x80) {
            i++;
            continue;
        }
        if (c >= 0xc2 && c <= 0xdf)
            n = 1, c &= 0x1f, min = 0x80;
        else if (c >= 0xe0 && c <= 0xef)
            n = 2, c &= 0x0f, min = 0x800;
        else if (c >= 0xf0 && c <= 0xf4)
            n = 3, c &= 0x07, min = 0x10000;
        else
            return false;
        if (len - i - 1 < n) return false;
        for (k = 1; k <= n; k++) {
            if ((s[i + k] & 0xc0) != 0x80) return false;
            c = c << 6 | (s[i + k] & 0x3f);
        }
        if (c < min || c > 0x10ffff || (c >= 0xd800 && c <= 0xdfff))
            return false;
        i += n + 1;
    }
    return true;
}

static int check_config(const char *s, char *why, size_t whysize)
{
    size_t n = s ? strnlen(s, XENGPU_STREAM_CONFIG_MAX + 1) : 0;

    if (n < 1 || n > XENGPU_STREAM_CONFIG_MAX)
        return say_key(why, whysize, K_CONFIG);
    if (!is_utf8((const unsigned char *)s, n))
        return say(why, whysize, "%s is not valid UTF-8", keys[K_CONFIG]);
    return 0;
}

static int check_specs(const xengpu_stream_hdr *h, char *why, size_t whysize)
{
    size_t i;

    if (h->nspecs > XENGPU_STREAM_MAX_SPECS || (h->nspecs && !h->specs))
        return say_key(why, whysize, K_SPECS);
    for (i = 0; i < h->nspecs; i++)
        if (!is_spec(h->specs[i]))
            return say(why, whysize, "%s[%zu] is not " SPEC_WANT,
                       keys[K_SPECS], i);
    return 0;
}

/* A description is valid when its own parser takes what it formats. */
static int check_desc(const xengpu_card_desc *d, size_t i, char *why,
                      size_t whysize)
{
    char dwhy[XENGPU_COMPAT_WHYLEN], *text = xengpu_card_desc_format(d);
    xengpu_card_desc back;
    int rc;

    rc = xengpu_card_desc_parse(text, strlen(text), &back, dwhy, sizeof(dwhy));
    free(text);
    if (rc) return say(why, whysize, "cards[%zu].desc: %s", i, dwhy);
    return 0;
}

static int check_cards(const xengpu_stream_hdr *h, char *why, size_t whysize)
{
    char b[XENGPU_BDF_STRLEN];
    size_t i, j;
    int rc;

    if (h->ncards > XENGPU_STREAM_MAX_CARDS)
        return say_key(why, whysize, K_CARDS);
    for (i = 0; i < h->ncards; i++) {
        if (xengpu_bdf_format(&h->cards[i].bdf, b, sizeof(b)))
            return say(why, whysize, "cards[%zu].bdf is not " BDF_WANT, i);
        for (j = 0; j < i; j++)
            if (!xengpu_bdf_cmp(&h->cards[i].bdf, &h->cards[j].bdf))
                return say(why, whysize,
                           "cards[%zu].bdf %s is cards[%zu]'s too", i, b, j);
        rc = check_desc(&h->cards[i].desc, i, why, whysize);
        if (rc) return rc;
        if (!TERMINATED(h->cards[i].opts) ||
            (h->cards[i].opts[0] && !is_opts(h->cards[i].opts)))
            return say(why, whysize, "cards[%zu].opts is not " OPTS_WANT, i);
    }
    return 0;
}

/* Everything check() asks but the length of the JSON. */
static int check_fields(const xengpu_stream_hdr *h, char *why, size_t whysize)
{
    int rc;

    if (!TERMINATED(h->uuid) || !is_uuid(h->uuid))
        return say_key(why, whysize, K_UUID);
    if (!TERMINATED(h->name) || !is_name(h->name))
        return say_key(why, whysize, K_NAME);
    if ((unsigned)h->compat > XENGPU_COMPAT_ANY)
        return say_key(why, whysize, K_COMPAT);
    if (h->mmio_hole && (h->mmio_hole < XENGPU_STREAM_HOLE_MIN ||
                         h->mmio_hole > XENGPU_STREAM_HOLE_MAX))
        return say_key(why, whysize, K_HOLE);
    rc = check_specs(h, why, whysize);
    if (!rc) rc = check_cards(h, why, whysize);
    if (rc) return rc;
    if (!TERMINATED(h->host) || !is_host(h->host))
        return say_key(why, whysize, K_HOST);
    if (h->time < 0) return say_key(why, whysize, K_TIME);
    return check_config(h->domain_config, why, whysize);
}

/* --- JSON out ------------------------------------------------------------- */

static void gen_str(yajl_gen g, const char *s)
{
    if (s)
        yajl_gen_string(g, (const unsigned char *)s, strlen(s));
    else
        yajl_gen_null(g);
}

/* V again, numbers exactly as they were written. */
static void gen_tree(yajl_gen g, yajl_val v)
{
    size_t i;

    if (YAJL_IS_STRING(v)) {
        gen_str(g, v->u.string);
    } else if (YAJL_IS_NUMBER(v)) {
        yajl_gen_number(g, v->u.number.r, strlen(v->u.number.r));
    } else if (YAJL_IS_OBJECT(v)) {
        yajl_gen_map_open(g);
        for (i = 0; i < v->u.object.len; i++) {
            gen_str(g, v->u.object.keys[i]);
            gen_tree(g, v->u.object.values[i]);
        }
        yajl_gen_map_close(g);
    } else if (YAJL_IS_ARRAY(v)) {
        yajl_gen_array_open(g);
        for (i = 0; i < v->u.array.len; i++)
            gen_tree(g, v->u.array.values[i]);
        yajl_gen_array_close(g);
    } else if (YAJL_IS_TRUE(v) || YAJL_IS_FALSE(v)) {
        yajl_gen_bool(g, YAJL_IS_TRUE(v));
    } else {
        yajl_gen_null(g);
    }
}

/*
 * The description as xengpu_card_desc_format() writes it, through its
 * tree: yajl_gen cannot take JSON text as a value.  The format's output
 * is always JSON, so only an allocation failure leaves no tree.
 */
static void gen_desc(yajl_gen g, const xengpu_card_desc *d)
{
    char *text = xengpu_card_desc_format(d);
    yajl_val tree = yajl_tree_parse(text, NULL, 0);

    if (!tree) xengpu__oom();
    gen_tree(g, tree);
    yajl_tree_free(tree);
    free(text);
}

static void gen_cards(yajl_gen g, const xengpu_stream_hdr *h)
{
    char b[XENGPU_BDF_STRLEN];
    size_t i;

    yajl_gen_array_open(g);
    for (i = 0; i < h->ncards && i < XENGPU_STREAM_MAX_CARDS; i++) {
        if (xengpu_bdf_format(&h->cards[i].bdf, b, sizeof(b))) b[0] = '\0';
        yajl_gen_map_open(g);
        gen_str(g, card_keys[C_BDF]);
        gen_str(g, b);
        gen_str(g, card_keys[C_DESC]);
        gen_desc(g, &h->cards[i].desc);
        if (h->cards[i].opts[0]) {
            gen_str(g, card_keys[C_OPTS]);
            gen_str(g, h->cards[i].opts);
        }
        yajl_gen_map_close(g);
    }
    yajl_gen_array_close(g);
}

static void gen_body(yajl_gen g, const xengpu_stream_hdr *h)
{
    size_t i;

    gen_str(g, keys[K_VERSION]);
    yajl_gen_integer(g, XENGPU_STREAM_VERSION);
    gen_str(g, keys[K_UUID]);
    gen_str(g, h->uuid);
    gen_str(g, keys[K_NAME]);
    gen_str(g, h->name);
    gen_str(g, keys[K_TYPE]);
    gen_str(g, h->hvm ? "hvm" : "pv");
    gen_str(g, keys[K_MIGRATION]);
    gen_str(g, h->unplug ? "unplug" : "refuse");
    gen_str(g, keys[K_COMPAT]);
    gen_str(g, xengpu_compat_name(h->compat));
    gen_str(g, keys[K_HOLE]);
    yajl_gen_integer(g, h->mmio_hole);
    gen_str(g, keys[K_SPECS]);
    yajl_gen_array_open(g);
    for (i = 0; h->specs && i < h->nspecs; i++)
        gen_str(g, h->specs[i]);
    yajl_gen_array_close(g);
    gen_str(g, keys[K_CARDS]);
    gen_cards(g, h);
    gen_str(g, keys[K_HOST]);
    gen_str(g, h->host);
    gen_str(g, keys[K_TIME]);
    yajl_gen_integer(g, (long long)h->time);
    gen_str(g, keys[K_CONFIG]);
    gen_str(g, h->domain_config);
}

/* The JSON of H at OFF bytes into a new buffer of OFF + its length. */
static char *json_at(const xengpu_stream_hdr *h, size_t off, size_t *len_r)
{
    yajl_gen g = yajl_gen_alloc(NULL);
    const unsigned char *buf;
    size_t len;
    char *out;

    if (!g) xengpu__oom();
    yajl_gen_map_open(g);
    gen_body(g, h);
    yajl_gen_map_close(g);
    yajl_gen_get_buf(g, &buf, &len);
    out = xengpu__xmalloc(off + len + 1);
    memcpy(out + off, buf, len);
    out[off + len] = '\0';
    yajl_gen_free(g);
    *len_r = len;
    return out;
}

char *xengpu_stream_hdr_json(const xengpu_stream_hdr *h)
{
    size_t len;

    return json_at(h, 0, &len);
}

static void put_le32(char *p, uint32_t v)
{
    unsigned i;

    for (i = 0; i < 4; i++)
        p[i] = (char)(v >> (8 * i));
}

static uint32_t get_le32(const char *p)
{
    const unsigned char *u = (const unsigned char *)p;

    return u[0] | (uint32_t)u[1] << 8 | (uint32_t)u[2] << 16 |
           (uint32_t)u[3] << 24;
}

/* Check H, then its bytes: preamble and JSON. */
static int encode(const xengpu_stream_hdr *h, char **buf_r, size_t *len_r,
                  char *why, size_t whysize)
{
    size_t len;
    char *buf;
    int rc;

    rc = check_fields(h, why, whysize);
    if (rc) return rc;
    buf = json_at(h, XENGPU_STREAM_PREAMBLE_LEN, &len);
    if (len > XENGPU_STREAM_MAX_JSON) {
        free(buf);
        return say(why, whysize,
                   "the header's JSON would be %zu bytes, over %d", len,
                   XENGPU_STREAM_MAX_JSON);
    }
    memcpy(buf, XENGPU_STREAM_MAGIC, XENGPU_STREAM_MAGIC_LEN);
    put_le32(buf + 8, XENGPU_STREAM_VERSION);
    put_le32(buf + 12, (uint32_t)len);
    *buf_r = buf;
    *len_r = XENGPU_STREAM_PREAMBLE_LEN + len;
    return 0;
}

int xengpu_stream_hdr_check(const xengpu_stream_hdr *h, char *why,
                            size_t whysize)
{
    size_t len;
    char *buf = NULL;
    int rc;

    rc = encode(h, &buf, &len, why, whysize);
    free(buf);
    return rc;
}

int xengpu_stream_hdr_encode(const xengpu_stream_hdr *h, char **buf_r,
                             size_t *len_r, char *why, size_t whysize)
{
    return encode(h, buf_r, len_r, why, whysize);
}

/* --- the header in memory ------------------------------------------------ */

void xengpu_stream_hdr_init(xengpu_stream_hdr *h)
{
    memset(h, 0, sizeof(*h));
    h->unplug = true;
    h->compat = XENGPU_COMPAT_DEFAULT;
}

void xengpu_stream_hdr_dispose(xengpu_stream_hdr *h)
{
    size_t i;

    for (i = 0; h->specs && i < h->nspecs; i++)
        free(h->specs[i]);
    free(h->specs);
    free(h->domain_config);
    xengpu_stream_hdr_init(h);
}

int xengpu_stream_hdr_add_spec(xengpu_stream_hdr *h, const char *spec)
{
    if (h->nspecs >= XENGPU_STREAM_MAX_SPECS) return -E2BIG;
    h->specs =
        xengpu__xreallocarray(h->specs, h->nspecs + 1, sizeof(*h->specs));
    h->specs[h->nspecs++] = xengpu__xstrdup(spec);
    return 0;
}

/* --- JSON in -------------------------------------------------------------- */

/*
 * Refuse what yajl's tree would take but the header must not hold: a
 * nesting deeper than MAX_DEPTH (brackets in comments count too, which
 * only refuses more) and a NUL written as \u0000, which would cut the
 * string it is in short without anyone noticing.
 */
static const char *scan(const char *s, size_t len)
{
    bool in_str = false;
    unsigned depth = 0;
    size_t i;

    for (i = 0; i < len; i++) {
        if (in_str) {
            if (s[i] == '"') in_str = false;
            if (s[i] != '\\') continue;
            if (len - i > 5 && !memcmp(s + i + 1, "u0000", 5))
                return "holds a NUL (\\u0000)";
            i++;
        } else if (s[i] == '"') {
            in_str = true;
        } else if (s[i] == '[' || s[i] == '{') {
            if (++depth > MAX_DEPTH) return "nests over 10 deep";
        } else if ((s[i] == ']' || s[i] == '}') && depth) {
            depth--;
        }
    }
    return NULL;
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
 * The values of OBJ (WHAT names it) for the N KEYS, each present exactly
 * once, into VALS; any other key is refused.
 */
/*
 * The values of OBJ for the N NAMES, each once; those in the OPTIONAL
 * bit mask may be absent (NULL).  Any other key is refused.
 */
static int fields_opt(yajl_val obj, const char *what, const char *const *names,
                      size_t n, unsigned optional, yajl_val *vals, char *why,
                      size_t whysize);

static int fields(yajl_val obj, const char *what, const char *const *names,
                  size_t n, yajl_val *vals, char *why, size_t whysize)
{
    return fields_opt(obj, what, names, n, 0, vals, why, whysize);
}

static int fields_opt(yajl_val obj, const char *what, const char *const *names,
                      size_t n, unsigned optional, yajl_val *vals, char *why,
                      size_t whysize)
{
    char k[40];
    size_t i, j;

    if (!YAJL_IS_OBJECT(obj))
        return say(why, whysize, "%s is not an object", what);
    memset(vals, 0, n * sizeof(*vals));
    for (i = 0; i < obj->u.object.len; i++) {
        for (j = 0; j < n; j++)
            if (!strcmp(obj->u.object.keys[i], names[j])) break;
        quote(obj->u.object.keys[i], k, sizeof(k));
        if (j == n)
            return say(why, whysize, "%s has an unknown key \"%s\"", what, k);
        if (vals[j]) return say(why, whysize, "%s has \"%s\" twice", what, k);
        vals[j] = obj->u.object.values[i];
    }
    for (j = 0; j < n; j++)
        if (!vals[j] && !(optional & 1u << j))
            return say(why, whysize, "%s lacks \"%s\"", what, names[j]);
    return 0;
}

/* String value K into BUF: too long for it is as bad as not a string. */
static int get_str(yajl_val *v, int k, char *buf, size_t size, char *why,
                   size_t whysize)
{
    if (!YAJL_IS_STRING(v[k]) || strlen(v[k]->u.string) >= size)
        return say_key(why, whysize, k);
    memcpy(buf, v[k]->u.string, strlen(v[k]->u.string) + 1);
    return 0;
}

/* Which of the two strings A (true) or B value K is. */
static int get_choice(yajl_val *v, int k, const char *a, const char *b,
                      bool *out, char *why, size_t whysize)
{
    const char *s = YAJL_IS_STRING(v[k]) ? v[k]->u.string : "";

    if (strcmp(s, a) && strcmp(s, b)) return say_key(why, whysize, k);
    *out = !strcmp(s, a);
    return 0;
}

static int get_int(yajl_val *v, int k, long long max, long long *out,
                   char *why, size_t whysize)
{
    if (!YAJL_IS_INTEGER(v[k]) || YAJL_GET_INTEGER(v[k]) < 0 ||
        YAJL_GET_INTEGER(v[k]) > max)
        return say_key(why, whysize, k);
    *out = YAJL_GET_INTEGER(v[k]);
    return 0;
}

/* Everything but the specs, the cards and domain_config. */
static int get_scalars(yajl_val *v, xengpu_stream_hdr *h, char *why,
                       size_t whysize)
{
    const char *compat =
        YAJL_IS_STRING(v[K_COMPAT]) ? v[K_COMPAT]->u.string : NULL;
    long long n = 0;
    int rc;

    rc = get_int(v, K_VERSION, LLONG_MAX, &n, why, whysize);
    if (!rc && n != XENGPU_STREAM_VERSION)
        rc = say_key(why, whysize, K_VERSION);
    if (!rc) rc = get_str(v, K_UUID, h->uuid, sizeof(h->uuid), why, whysize);
    if (!rc) rc = get_str(v, K_NAME, h->name, sizeof(h->name), why, whysize);
    if (!rc) rc = get_choice(v, K_TYPE, "hvm", "pv", &h->hvm, why, whysize);
    if (!rc)
        rc = get_choice(v, K_MIGRATION, "unplug", "refuse", &h->unplug, why,
                        whysize);
    if (!rc && xengpu_compat_parse(compat, &h->compat))
        rc = say_key(why, whysize, K_COMPAT);
    if (!rc) rc = get_int(v, K_HOLE, XENGPU_STREAM_HOLE_MAX, &n, why, whysize);
    if (rc) return rc;
    h->mmio_hole = (unsigned)n;
    rc = get_str(v, K_HOST, h->host, sizeof(h->host), why, whysize);
    if (!rc) rc = get_int(v, K_TIME, LLONG_MAX, &n, why, whysize);
    if (rc) return rc;
    h->time = n;
    return 0;
}

static int get_specs(yajl_val list, xengpu_stream_hdr *h, char *why,
                     size_t whysize)
{
    yajl_val s;
    size_t i;

    if (!YAJL_IS_ARRAY(list) || list->u.array.len > XENGPU_STREAM_MAX_SPECS)
        return say_key(why, whysize, K_SPECS);
    for (i = 0; i < list->u.array.len; i++) {
        s = list->u.array.values[i];
        if (!YAJL_IS_STRING(s))
            return say(why, whysize, "%s[%zu] is not " SPEC_WANT,
                       keys[K_SPECS], i);
        xengpu_stream_hdr_add_spec(h, s->u.string);
    }
    return 0;
}

/* The text of a description is its tree written again. */
static int get_desc(yajl_val v, size_t i, xengpu_card_desc *d, char *why,
                    size_t whysize)
{
    char dwhy[XENGPU_COMPAT_WHYLEN];
    yajl_gen g = yajl_gen_alloc(NULL);
    const unsigned char *text;
    size_t len;
    int rc;

    if (!g) xengpu__oom();
    gen_tree(g, v);
    yajl_gen_get_buf(g, &text, &len);
    rc =
        xengpu_card_desc_parse((const char *)text, len, d, dwhy, sizeof(dwhy));
    yajl_gen_free(g);
    if (rc) return say(why, whysize, "cards[%zu].desc: %s", i, dwhy);
    return 0;
}

static int get_card(yajl_val obj, size_t i, xengpu_stream_card *c, char *why,
                    size_t whysize)
{
    yajl_val v[ARRAY_SIZE(card_keys)];
    char what[32];
    int rc;

    snprintf(what, sizeof(what), "cards[%zu]", i);
    rc = fields_opt(obj, what, card_keys, ARRAY_SIZE(card_keys), 1u << C_OPTS,
                    v, why, whysize);
    if (rc) return rc;
    if (!YAJL_IS_STRING(v[C_BDF]) ||
        xengpu_bdf_parse(v[C_BDF]->u.string, XENGPU_BDF_CANONICAL, &c->bdf))
        return say(why, whysize, "%s.bdf is not " BDF_WANT, what);
    c->opts[0] = '\0';
    if (v[C_OPTS]) {
        if (!YAJL_IS_STRING(v[C_OPTS]) || !is_opts(v[C_OPTS]->u.string))
            return say(why, whysize, "%s.opts is not " OPTS_WANT, what);
        memcpy(c->opts, v[C_OPTS]->u.string, strlen(v[C_OPTS]->u.string) + 1);
    }
    return get_desc(v[C_DESC], i, &c->desc, why, whysize);
}

static int get_cards(yajl_val list, xengpu_stream_hdr *h, char *why,
                     size_t whysize)
{
    size_t i;
    int rc;

    if (!YAJL_IS_ARRAY(list) || list->u.array.len > XENGPU_STREAM_MAX_CARDS)
        return say_key(why, whysize, K_CARDS);
    for (i = 0; i < list->u.array.len; i++) {
        rc = get_card(list->u.array.values[i], i, &h->cards[i], why, whysize);
        if (rc) return rc;
        h->ncards++;
    }
    return 0;
}

static int get_header(yajl_val root, xengpu_stream_hdr *h, char *why,
                      size_t whysize)
{
    yajl_val v[K_COUNT];
    int rc;

    rc = fields(root, "the header", keys, K_COUNT, v, why, whysize);
    if (!rc) rc = get_scalars(v, h, why, whysize);
    if (!rc) rc = get_specs(v[K_SPECS], h, why, whysize);
    if (!rc) rc = get_cards(v[K_CARDS], h, why, whysize);
    if (rc) return rc;
    if (!YAJL_IS_STRING(v[K_CONFIG])) return say_key(why, whysize, K_CONFIG);
    h->domain_config = xengpu__xstrdup(v[K_CONFIG]->u.string);
    return check_fields(h, why, whysize);
}

/* The LEN bytes of JSON at TEXT into *h_r. */
static int parse_json(const char *text, size_t len, xengpu_stream_hdr *h_r,
                      char *why, size_t whysize)
{
    xengpu_stream_hdr h;
    const char *bad;
    char err[160], *buf;
    yajl_val root;
    int rc;

    if (memchr(text, '\0', len))
        return say(why, whysize, "the header holds a NUL byte");
    bad = scan(text, len);
    if (bad) return say(why, whysize, "the header %s", bad);
    buf = xengpu__xmalloc(len + 1);
    memcpy(buf, text, len);
    buf[len] = '\0';
    err[0] = '\0';
    root = yajl_tree_parse(buf, err, sizeof(err));
    free(buf);
    if (!root) {
        err[strcspn(err, "\n")] = '\0';
        quote(err, err, sizeof(err));
        return say(why, whysize, "the header is not JSON: %s", err);
    }
    xengpu_stream_hdr_init(&h);
    rc = get_header(root, &h, why, whysize);
    yajl_tree_free(root);
    if (rc)
        xengpu_stream_hdr_dispose(&h);
    else
        *h_r = h;
    return rc;
}

/*
 * The preamble in the LEN bytes at B (fewer than 16 when that is all
 * there is): 0 with the length of the JSON, or -EINVAL.
 */
static int preamble(const char *b, size_t len, uint32_t *jlen_r, char *why,
                    size_t whysize)
{
    size_t m = len < XENGPU_STREAM_MAGIC_LEN ? len : XENGPU_STREAM_MAGIC_LEN;
    uint32_t v;

    if (memcmp(b, XENGPU_STREAM_MAGIC, m)) {
        if (len >= 8 && !memcmp(b, xl_magic, 8))
            return say(why, whysize,
                       "not a xengpu save file: it starts like an xl save "
                       "file; use xl restore");
        if (len >= 8 && !memcmp(b, libxl_magic, 8))
            return say(why, whysize,
                       "not a xengpu save file: it starts like "
                       "a bare libxl stream");
        return say(why, whysize, "not a xengpu save file: bad magic");
    }
    if (len < XENGPU_STREAM_PREAMBLE_LEN)
        return say(why, whysize, "truncated: %zu of the preamble's %d bytes",
                   len, XENGPU_STREAM_PREAMBLE_LEN);
    v = get_le32(b + 8);
    if (v != XENGPU_STREAM_VERSION)
        return say(why, whysize, "format version %" PRIu32 " is not %d", v,
                   XENGPU_STREAM_VERSION);
    v = get_le32(b + 12);
    if (v < 1 || v > XENGPU_STREAM_MAX_JSON)
        return say(why, whysize,
                   "header length %" PRIu32 " is out of range 1 to %d", v,
                   XENGPU_STREAM_MAX_JSON);
    *jlen_r = v;
    return 0;
}

int xengpu_stream_hdr_parse(const char *buf, size_t len,
                            xengpu_stream_hdr *h_r, char *why, size_t whysize)
{
    uint32_t jlen = 0;
    size_t have;
    int rc;

    rc = preamble(buf, len, &jlen, why, whysize);
    if (rc) return rc;
    have = len - XENGPU_STREAM_PREAMBLE_LEN;
    if (have < jlen)
        return say(why, whysize,
                   "truncated: %zu of the header's %" PRIu32 " bytes of JSON",
                   have, jlen);
    if (have > jlen)
        return say(why, whysize, "%zu bytes follow the header", have - jlen);
    return parse_json(buf + XENGPU_STREAM_PREAMBLE_LEN, jlen, h_r, why,
                      whysize);
}

/* --- file descriptors ---------------------------------------------------- */

/* Wait, without a deadline, until FD is ready for EVENTS. */
static int wait_fd(int fd, short events)
{
    struct pollfd p = { .fd = fd, .events = events };

    while (poll(&p, 1, -1) < 0)
        if (errno != EINTR) return -errno;
    return 0;
}

/*
 * Up to LEN bytes into BUF, fewer only at end of file: the count, or a
 * negative errno.  Never more than LEN, so nothing after is consumed.
 */
static ssize_t read_full(int fd, char *buf, size_t len)
{
    size_t done = 0;
    ssize_t r;
    int rc;

    while (done < len) {
        r = read(fd, buf + done, len - done);
        if (r > 0) {
            done += (size_t)r;
        } else if (r == 0) {
            break;
        } else if (errno == EAGAIN || errno == EWOULDBLOCK) {
            rc = wait_fd(fd, POLLIN);
            if (rc) return rc;
        } else if (errno != EINTR) {
            return -errno;
        }
    }
    return (ssize_t)done;
}

/* All LEN bytes of BUF, with send() on a socket so as to get no SIGPIPE. */
static int write_full(int fd, const char *buf, size_t len)
{
    bool sock = true;
    size_t done = 0;
    ssize_t r;
    int rc;

    while (done < len) {
        if (sock)
            r = send(fd, buf + done, len - done, MSG_NOSIGNAL);
        else
            r = write(fd, buf + done, len - done);
        if (r > 0) {
            done += (size_t)r;
        } else if (r == 0) {
            return -EIO;
        } else if (sock && errno == ENOTSOCK) {
            sock = false;
        } else if (errno == EAGAIN || errno == EWOULDBLOCK) {
            rc = wait_fd(fd, POLLOUT);
            if (rc) return rc;
        } else if (errno != EINTR) {
            return -errno;
        }
    }
    return 0;
}

int xengpu_stream_hdr_write(int fd, const xengpu_stream_hdr *h,
                            xentoollog_logger *lg)
{
    char why[XENGPU_STREAM_WHYLEN], *buf = NULL;
    size_t len = 0;
    int rc;

    rc = encode(h, &buf, &len, why, sizeof(why));
    if (rc) {
        LOG(lg, ERROR, "domain %.*s: cannot write its stream header: %s",
            (int)sizeof(h->name), h->name, why);
        return rc;
    }
    rc = write_full(fd, buf, len);
    free(buf);
    if (rc) {
        LOGE(lg, ERROR, -rc, "domain %s: writing its stream header failed",
             h->name); /* checked: a valid name */
        return rc;
    }
    LOG(lg, DEBUG, "domain %s: wrote a stream header of %zu bytes", h->name,
        len);
    return 0;
}

/* The preamble, then the JSON it announces, into *buf_r and *len_r. */
static int read_raw(int fd, char **buf_r, size_t *len_r, char *why,
                    size_t whysize)
{
    char pre[XENGPU_STREAM_PREAMBLE_LEN], *buf;
    uint32_t jlen = 0;
    ssize_t r;
    int rc;

    r = read_full(fd, pre, sizeof(pre));
    if (r < 0) goto fail;
    rc = preamble(pre, (size_t)r, &jlen, why, whysize);
    if (rc) return rc;
    buf = xengpu__xmalloc(sizeof(pre) + jlen);
    memcpy(buf, pre, sizeof(pre));
    r = read_full(fd, buf + sizeof(pre), jlen);
    if (r < 0) {
        free(buf);
        goto fail;
    }
    *buf_r = buf;
    *len_r = sizeof(pre) + (size_t)r;
    return 0;
fail:
    say(why, whysize, "reading the stream header: %s", strerror((int)-r));
    return (int)r;
}

int xengpu_stream_hdr_read(int fd, xengpu_stream_hdr *h_r, char *why,
                           size_t whysize, xentoollog_logger *lg)
{
    char mywhy[XENGPU_STREAM_WHYLEN], *buf = NULL;
    size_t len = 0;
    int rc;

    if (!why || !whysize) {
        why = mywhy;
        whysize = sizeof(mywhy);
    }
    rc = read_raw(fd, &buf, &len, why, whysize);
    if (!rc) rc = xengpu_stream_hdr_parse(buf, len, h_r, why, whysize);
    free(buf);
    if (rc)
        LOG(lg, DEBUG, "stream header refused: %s", why);
    else
        LOG(lg, DEBUG, "domain %s: read a stream header of %zu bytes",
            h_r->name, len);
    return rc;
}
