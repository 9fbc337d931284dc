/*
 * test-stream.c - the header in front of libxl's save and migration
 * streams (migrate/stream.h): its exact bytes, reading it back through a
 * pipe, a socket and a file with the fd left at libxl's first byte, and
 * every refusal with its reason.
 *
 * The card descriptions are of real cards: the RTX A6000 of
 * lspci-nvidia-rtx-a6000-x4-romane.txt as realcards.c builds it,
 * discovered and described by the real code, and the Tesla P100 of
 * lspci-nvidia-tesla-p100-pcie-dell-xeon-e5v4-full.txt as JSON (the text
 * test-compat.c's case gives).
 */
#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>
#include <cmocka.h>

#include "capture-log.h"
#include "fake-sysfs.h"
#include "migrate/stream.h"
#include "realcards.h"

#define UUID "3f2a7c1e-9b4d-4e8a-a1c2-0123456789ab"

#define P100                                                                   \
    "{\"version\":1,\"vendor\":\"10de\",\"device\":\"15f7\","                  \
    "\"subsystem_vendor\":\"10de\",\"subsystem_device\":\"11da\","             \
    "\"class\":\"030200\",\"functions\":[{\"function\":0,\"vendor\":\"10de\"," \
    "\"device\":\"15f7\",\"subsystem_vendor\":\"10de\","                       \
    "\"subsystem_device\":\"11da\",\"class\":\"030200\",\"bars\":["            \
    "{\"index\":0,\"size\":16777216,\"is64\":false,\"io\":false},"             \
    "{\"index\":1,\"size\":17179869184,\"is64\":true,\"io\":false},"           \
    "{\"index\":3,\"size\":33554432,\"is64\":true,\"io\":false}]}]}"

/* The P100 with BAR 1 of 17179869183 bytes, no power of two. */
#define P100_BAD_SIZE                                                          \
    "{\"version\":1,\"vendor\":\"10de\",\"device\":\"15f7\","                  \
    "\"subsystem_vendor\":\"10de\",\"subsystem_device\":\"11da\","             \
    "\"class\":\"030200\",\"functions\":[{\"function\":0,\"vendor\":\"10de\"," \
    "\"device\":\"15f7\",\"subsystem_vendor\":\"10de\","                       \
    "\"subsystem_device\":\"11da\",\"class\":\"030200\",\"bars\":["            \
    "{\"index\":1,\"size\":17179869183,\"is64\":true,\"io\":false}]}]}"

/*
 * The header of good_header(), key by key, in the order they are
 * written: joined, the exact JSON text of the format.
 */
static const char *const base[][2] = {
    { "version", "1" },
    { "uuid", "\"" UUID "\"" },
    { "name", "\"gpu-guest\"" },
    { "type", "\"hvm\"" },
    { "gpu_migration", "\"unplug\"" },
    { "gpu_compat", "\"exact\"" },
    { "mmio_hole", "1024" },
    { "specs", "[\"10de:15f7\"]" },
    { "cards", "[{\"bdf\":\"0000:04:00.0\",\"desc\":" P100 "}]" },
    { "host", "\"src-host.example\"" },
    { "time", "1700000000" },
    { "domain_config", "\"{\\\"c_info\\\":{\\\"type\\\":\\\"hvm\\\"}}\"" },
};

#define NKEYS (sizeof(base) / sizeof(base[0]))

/* The trailing bytes that stand for libxl's stream. */
static const char libxl_bytes[] = "LibxlFmt\0\0\0\2 libxl's own stream";

static void good_header(xengpu_stream_hdr *h)
{
    char why[XENGPU_COMPAT_WHYLEN];

    xengpu_stream_hdr_init(h);
    snprintf(h->uuid, sizeof(h->uuid), "%s", UUID);
    snprintf(h->name, sizeof(h->name), "gpu-guest");
    h->hvm = true;
    h->unplug = true;
    h->compat = XENGPU_COMPAT_EXACT;
    h->mmio_hole = 1024;
    assert_int_equal(xengpu_stream_hdr_add_spec(h, "10de:15f7"), 0);
    assert_int_equal(xengpu_bdf_parse("0000:04:00.0", 0, &h->cards[0].bdf), 0);
    if (xengpu_card_desc_parse(P100, strlen(P100), &h->cards[0].desc, why,
                               sizeof(why)))
        fail_msg("P100: %s", why);
    h->ncards = 1;
    snprintf(h->host, sizeof(h->host), "src-host.example");
    h->time = 1700000000;
    h->domain_config = strdup("{\"c_info\":{\"type\":\"hvm\"}}");
    assert_non_null(h->domain_config);
}

/*
 * The JSON of base[] with KEY's value VAL (appended as a further key
 * when KEY is not one of base's, or is given twice with DUP), or without
 * KEY when VAL is NULL.  malloc'ed.
 */
static char *edit(const char *key, const char *val, bool dup)
{
    char *out = NULL;
    size_t size = 0, i;
    FILE *f = open_memstream(&out, &size);
    bool done = false, first = true;

    assert_non_null(f);
    fputc('{', f);
    for (i = 0; i < NKEYS; i++) {
        const char *v = base[i][1];

        if (key && !strcmp(key, base[i][0]) && !dup) {
            done = true;
            if (!val) continue;
            v = val;
        }
        fprintf(f, "%s\"%s\":%s", first ? "" : ",", base[i][0], v);
        first = false;
    }
    if (key && val && !done) fprintf(f, ",\"%s\":%s", key, val);
    fputc('}', f);
    fclose(f);
    return out;
}

/* Preamble with VERSION and LEN, then LEN bytes of JSON; malloc'ed. */
static char *wrap_raw(const char *json, size_t len, uint32_t version,
                      uint32_t announced, size_t *len_r)
{
    char *buf = malloc(16 + len);
    unsigned i;

    assert_non_null(buf);
    memcpy(buf, XENGPU_STREAM_MAGIC, 8);
    for (i = 0; i < 4; i++) {
        buf[8 + i] = (char)(version >> (8 * i));
        buf[12 + i] = (char)(announced >> (8 * i));
    }
    memcpy(buf + 16, json, len);
    *len_r = 16 + len;
    return buf;
}

static char *wrap(const char *json, size_t *len_r)
{
    return wrap_raw(json, strlen(json), 1, (uint32_t)strlen(json), len_r);
}

/* BUF of LEN bytes is refused for WANT. */
static void refused_buf(const char *buf, size_t len, const char *want)
{
    char why[XENGPU_STREAM_WHYLEN] = "";
    xengpu_stream_hdr h;

    xengpu_stream_hdr_init(&h);
    assert_int_equal(xengpu_stream_hdr_parse(buf, len, &h, why, sizeof(why)),
                     -EINVAL);
    assert_string_equal(why, want);
    /* Untouched on failure: still the empty header. */
    assert_null(h.domain_config);
    assert_int_equal(h.ncards, 0);
}

static void refused_json(const char *json, const char *want)
{
    size_t len;
    char *buf = wrap(json, &len);

    refused_buf(buf, len, want);
    free(buf);
}

/* KEY set to VAL (NULL: left out) is refused for WANT. */
static void refused(const char *key, const char *val, const char *want)
{
    char *json = edit(key, val, false);

    refused_json(json, want);
    free(json);
}

static void accepted_json(const char *json, xengpu_stream_hdr *h)
{
    char why[XENGPU_STREAM_WHYLEN] = "";
    size_t len;
    char *buf = wrap(json, &len);

    if (xengpu_stream_hdr_parse(buf, len, h, why, sizeof(why)))
        fail_msg("refused: %s\n%s", why, json);
    free(buf);
}

/* A and B are the same header: the same JSON. */
static void same_header(const xengpu_stream_hdr *a, const xengpu_stream_hdr *b)
{
    char *ja = xengpu_stream_hdr_json(a), *jb = xengpu_stream_hdr_json(b);

    assert_string_equal(ja, jb);
    free(ja);
    free(jb);
}

/* All of FD to its end, malloc'ed, *len_r bytes. */
static char *slurp(int fd, size_t *len_r)
{
    char *buf = NULL;
    size_t len = 0;
    ssize_t r;

    for (;;) {
        buf = realloc(buf, len + 65536);
        assert_non_null(buf);
        r = read(fd, buf + len, 65536);
        if (r < 0 && errno == EINTR) continue;
        if (r < 0 && errno == EAGAIN) {
            usleep(1000);
            continue;
        }
        assert_true(r >= 0);
        if (r == 0) break;
        len += (size_t)r;
    }
    *len_r = len;
    return buf;
}

static void write_all(int fd, const void *buf, size_t len)
{
    assert_int_equal(write(fd, buf, len), (ssize_t)len);
}

/* --- the format ---------------------------------------------------------- */

static void test_exact_bytes(void **state)
{
    xengpu_stream_hdr h;
    char *json, *want = edit(NULL, NULL, false), *buf = NULL, why[256] = "";
    size_t len = 0;

    (void)state;
    good_header(&h);
    json = xengpu_stream_hdr_json(&h);
    assert_string_equal(json, want);
    assert_int_equal(xengpu_stream_hdr_check(&h, why, sizeof(why)), 0);
    assert_int_equal(
        xengpu_stream_hdr_encode(&h, &buf, &len, why, sizeof(why)), 0);
    assert_int_equal(len, 16 + strlen(json));
    assert_memory_equal(buf, "\x89XENGPU\n\1\0\0\0", 12);
    assert_int_equal((unsigned char)buf[12] | (unsigned char)buf[13] << 8 |
                         (unsigned char)buf[14] << 16 |
                         (unsigned char)buf[15] << 24,
                     strlen(json));
    assert_memory_equal(buf + 16, json, strlen(json));
    /* Not what an xl save file or a libxl stream starts with. */
    assert_memory_not_equal(buf, "Xen saved domain, xl format\n", 8);
    assert_memory_not_equal(buf, "LibxlFmt", 8);
    free(buf);
    free(json);
    free(want);
    xengpu_stream_hdr_dispose(&h);
}

static void test_init_dispose(void **state)
{
    xengpu_stream_hdr h;
    char why[XENGPU_STREAM_WHYLEN] = "";

    (void)state;
    xengpu_stream_hdr_init(&h);
    assert_true(h.unplug);
    assert_int_equal(h.compat, XENGPU_COMPAT_EXACT);
    assert_false(h.hvm);
    assert_int_equal(h.nspecs + h.ncards + h.mmio_hole, 0);
    assert_string_equal(h.name, "");
    assert_int_equal(xengpu_stream_hdr_check(&h, why, sizeof(why)), -EINVAL);
    assert_string_equal(why, "uuid is not a UUID of 8-4-4-4-12 lower-case hex "
                             "digits");
    good_header(&h);
    xengpu_stream_hdr_dispose(&h);
    xengpu_stream_hdr_dispose(&h); /* idempotent */
    assert_null(h.specs);
    assert_null(h.domain_config);
    assert_true(h.unplug);
}

/* The A6000 and its audio function, discovered from the fake tree. */
static void a6000_header(xengpu_stream_hdr *h, size_t config_len)
{
    struct fake_sysfs *fs = fake_sysfs_new();
    struct capture_log lg;
    xengpu_host *host = NULL;
    const xengpu_card *card;
    xengpu_bdf b;
    char why[XENGPU_COMPAT_WHYLEN];

    capture_log_init(&lg);
    rc_a6000(fs, false);
    assert_int_equal(xengpu_host_discover(fs->fd, &lg.vtable, &host), 0);
    assert_int_equal(xengpu_bdf_parse("0000:01:00.0", 0, &b), 0);
    card = xengpu_host_find_card(host, &b);
    assert_non_null(card);
    good_header(h);
    h->cards[1].bdf = b;
    if (xengpu_card_desc_from_card(card, &h->cards[1].desc, why, sizeof(why)))
        fail_msg("A6000: %s", why);
    h->ncards = 2;
    assert_int_equal(xengpu_stream_hdr_add_spec(h, "pool=render"), 0);
    assert_int_equal(xengpu_stream_hdr_add_spec(h, "0000:01:00.0"), 0);
    if (config_len) {
        free(h->domain_config);
        h->domain_config = malloc(config_len + 1);
        assert_non_null(h->domain_config);
        memset(h->domain_config, '"', config_len); /* escaped: twice as big */
        memcpy(h->domain_config, "{\n \"c_info\": ", 13);
        h->domain_config[config_len] = '\0';
    }
    xengpu_host_free(host);
    fake_sysfs_free(fs);
    capture_log_dispose(&lg);
}

/* Read a header, then the rest of FD: exactly libxl's bytes. */
static void read_back(int fd, const xengpu_stream_hdr *sent)
{
    char why[XENGPU_STREAM_WHYLEN] = "", *rest;
    xengpu_stream_hdr h;
    size_t len;

    if (xengpu_stream_hdr_read(fd, &h, why, sizeof(why), NULL))
        fail_msg("read: %s", why);
    same_header(&h, sent);
    assert_int_equal(h.ncards, 2);
    assert_int_equal(h.cards[1].bdf.bus, 1);
    assert_int_equal(h.cards[1].desc.device, 0x2230);
    assert_int_equal(h.cards[1].desc.nfns, 2);
    assert_int_equal(h.nspecs, 3);
    assert_string_equal(h.specs[1], "pool=render");
    assert_string_equal(h.domain_config, sent->domain_config);
    rest = slurp(fd, &len);
    assert_int_equal(len, sizeof(libxl_bytes));
    assert_memory_equal(rest, libxl_bytes, sizeof(libxl_bytes));
    free(rest);
    xengpu_stream_hdr_dispose(&h);
}

static void test_pipe(void **state)
{
    struct capture_log lg;
    xengpu_stream_hdr h;
    int p[2];

    (void)state;
    capture_log_init(&lg);
    a6000_header(&h, 0);
    assert_int_equal(pipe2(p, O_CLOEXEC), 0);
    assert_int_equal(xengpu_stream_hdr_write(p[1], &h, &lg.vtable), 0);
    write_all(p[1], libxl_bytes, sizeof(libxl_bytes));
    close(p[1]);
    read_back(p[0], &h);
    close(p[0]);
    assert_int_equal(lg.count, 0);
    xengpu_stream_hdr_dispose(&h);
    capture_log_dispose(&lg);
}

/* A writer process: the header, then libxl's bytes, into FD. */
static pid_t writer(int fd, const xengpu_stream_hdr *h)
{
    pid_t pid = fork();

    assert_true(pid >= 0);
    if (pid == 0) {
        int rc = xengpu_stream_hdr_write(fd, h, NULL);

        if (!rc && write(fd, libxl_bytes, sizeof(libxl_bytes)) < 0) rc = 1;
        _exit(rc ? 1 : 0);
    }
    close(fd);
    return pid;
}

static void reaped(pid_t pid)
{
    int status;

    assert_int_equal(waitpid(pid, &status, 0), pid);
    assert_true(WIFEXITED(status));
    assert_int_equal(WEXITSTATUS(status), 0);
}

/* Far more than a pipe holds: partial writes and reads on both sides. */
static void test_pipe_large(void **state)
{
    xengpu_stream_hdr h;
    int p[2];
    pid_t pid;

    (void)state;
    a6000_header(&h, XENGPU_STREAM_CONFIG_MAX / 2);
    assert_int_equal(pipe2(p, O_CLOEXEC), 0);
    pid = writer(p[1], &h);
    read_back(p[0], &h);
    close(p[0]);
    reaped(pid);
    xengpu_stream_hdr_dispose(&h);
}

/* Non-blocking on both ends: each side waits with poll(). */
static void test_socket_nonblocking(void **state)
{
    xengpu_stream_hdr h;
    int s[2];
    pid_t pid;

    (void)state;
    a6000_header(&h, XENGPU_STREAM_CONFIG_MAX / 2);
    assert_int_equal(
        socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0, s),
        0);
    pid = writer(s[1], &h);
    read_back(s[0], &h);
    close(s[0]);
    reaped(pid);
    xengpu_stream_hdr_dispose(&h);
}

static void test_file(void **state)
{
    char path[] = "/tmp/test-stream-XXXXXX", why[XENGPU_STREAM_WHYLEN];
    xengpu_stream_hdr h, back;
    char *buf = NULL;
    size_t len = 0;
    int fd;

    (void)state;
    a6000_header(&h, 0);
    fd = mkostemp(path, O_CLOEXEC);
    assert_true(fd >= 0);
    unlink(path);
    assert_int_equal(xengpu_stream_hdr_write(fd, &h, NULL), 0);
    write_all(fd, libxl_bytes, sizeof(libxl_bytes));
    assert_int_equal(lseek(fd, 0, SEEK_SET), 0);
    assert_int_equal(xengpu_stream_hdr_read(fd, &back, why, sizeof(why), NULL),
                     0);
    assert_int_equal(
        xengpu_stream_hdr_encode(&h, &buf, &len, why, sizeof(why)), 0);
    assert_int_equal(lseek(fd, 0, SEEK_CUR), (off_t)len);
    same_header(&h, &back);
    close(fd);
    free(buf);
    xengpu_stream_hdr_dispose(&back);
    xengpu_stream_hdr_dispose(&h);
}

/* Any key order, whitespace, comments and escapes; written compact. */
static void test_accepts_variants(void **state)
{
    static const char text[] =
        "/* by hand */ {\n"
        "  \"domain_config\": \"{\\u0022c_info\\\":{\\\"type\\\":\\\"hvm\\\"}}\",\n"
        "  \"time\": 1700000000, \"host\": \"src-host.example\",\n"
        "  \"cards\": [ { \"desc\": " P100
        " , \"bdf\": \"0000:04:00.0\" } ],\n"
        "  \"specs\": [ \"10de:15f7\" ], \"mmio_hole\": 1024,\n"
        "  \"gpu_compat\": \"exact\", \"gpu_migration\": \"unplug\",\n"
        "  \"type\": \"hvm\", \"name\": \"gpu-guest\",\n"
        "  \"uuid\": \"" UUID "\", \"\\u0076ersion\": 1 }\n";
    xengpu_stream_hdr h, good;

    (void)state;
    accepted_json(text, &h);
    good_header(&good);
    same_header(&h, &good);
    xengpu_stream_hdr_dispose(&h);
    /* The limits themselves. */
    accepted_json("{\"version\":1,\"uuid\":\"" UUID "\",\"name\":\"~ a b ~\","
                  "\"type\":\"pv\",\"gpu_migration\":\"refuse\","
                  "\"gpu_compat\":\"any\",\"mmio_hole\":0,\"specs\":[],"
                  "\"cards\":[],\"host\":\"h\",\"time\":0,"
                  "\"domain_config\":\"\\u00e9\"}",
                  &h);
    assert_false(h.hvm);
    assert_false(h.unplug);
    assert_int_equal(h.compat, XENGPU_COMPAT_ANY);
    assert_string_equal(h.domain_config, "\xc3\xa9");
    xengpu_stream_hdr_dispose(&h);
    xengpu_stream_hdr_dispose(&good);
}

/* Every bound at its limit is accepted, and written back the same. */
static void test_limits(void **state)
{
    char why[XENGPU_STREAM_WHYLEN] = "", *buf = NULL;
    xengpu_stream_hdr h, back;
    size_t len = 0, i;

    (void)state;
    good_header(&h);
    memset(h.name, '~', XENGPU_STREAM_NAME_MAX);
    h.name[XENGPU_STREAM_NAME_MAX] = '\0';
    memset(h.host, 'h', XENGPU_STREAM_HOST_MAX);
    h.host[XENGPU_STREAM_HOST_MAX] = '\0';
    for (i = 1; i < XENGPU_STREAM_MAX_SPECS; i++)
        assert_int_equal(xengpu_stream_hdr_add_spec(&h, "pool=x"), 0);
    free(h.specs[0]);
    h.specs[0] = malloc(XENGPU_STREAM_SPEC_MAX + 1);
    assert_non_null(h.specs[0]);
    memset(h.specs[0], '@', XENGPU_STREAM_SPEC_MAX);
    h.specs[0][XENGPU_STREAM_SPEC_MAX] = '\0';
    for (i = 1; i < XENGPU_STREAM_MAX_CARDS; i++) {
        h.cards[i] = h.cards[0];
        h.cards[i].bdf.domain = (uint16_t)(0xffff - i);
        h.cards[i].bdf.fn = 7;
    }
    h.ncards = XENGPU_STREAM_MAX_CARDS;
    h.mmio_hole = XENGPU_STREAM_HOLE_MAX;
    h.time = INT64_MAX;
    free(h.domain_config);
    h.domain_config = malloc(XENGPU_STREAM_CONFIG_MAX + 1);
    assert_non_null(h.domain_config);
    memset(h.domain_config, 'c', XENGPU_STREAM_CONFIG_MAX);
    h.domain_config[XENGPU_STREAM_CONFIG_MAX] = '\0';
    if (xengpu_stream_hdr_encode(&h, &buf, &len, why, sizeof(why)))
        fail_msg("encode: %s", why);
    if (xengpu_stream_hdr_parse(buf, len, &back, why, sizeof(why)))
        fail_msg("parse: %s", why);
    same_header(&h, &back);
    assert_int_equal(back.time, INT64_MAX);
    assert_int_equal(back.cards[15].bdf.domain, 0xfff0);
    xengpu_stream_hdr_dispose(&back);
    h.mmio_hole = XENGPU_STREAM_HOLE_MIN;
    assert_int_equal(xengpu_stream_hdr_check(&h, why, sizeof(why)), 0);
    free(buf);
    xengpu_stream_hdr_dispose(&h);
}

/* --- refusals ------------------------------------------------------------ */

static void test_refuse_preamble(void **state)
{
    static const char xl[] = "Xen saved domain, xl format\n \0 \r";
    char *json = edit(NULL, NULL, false), *buf, want[80];
    size_t len, jlen = strlen(json);

    (void)state;
    refused_buf(xl, sizeof(xl),
                "not a xengpu save file: it starts like an xl save file; use "
                "xl restore");
    refused_buf("LibxlFmt\0\0\0\2\0\0\0\0", 16,
                "not a xengpu save file: it starts like a bare libxl stream");
    refused_buf("XENGPU\0\1\1\0\0\0\1\0\0\0", 16,
                "not a xengpu save file: bad magic");
    refused_buf("\x89XENGPU", 7, "truncated: 7 of the preamble's 16 bytes");
    refused_buf("", 0, "truncated: 0 of the preamble's 16 bytes");
    buf = wrap_raw(json, jlen, 2, (uint32_t)jlen, &len);
    refused_buf(buf, len, "format version 2 is not 1");
    free(buf);
    buf = wrap_raw(json, jlen, 1, 0, &len);
    refused_buf(buf, len, "header length 0 is out of range 1 to 1048576");
    free(buf);
    buf = wrap_raw(json, jlen, 1, 1048577, &len);
    refused_buf(buf, len,
                "header length 1048577 is out of range 1 to 1048576");
    free(buf);
    buf = wrap_raw(json, jlen, 1, (uint32_t)jlen, &len);
    snprintf(want, sizeof(want),
             "truncated: %zu of the header's %zu bytes of JSON", jlen - 1,
             jlen);
    refused_buf(buf, len - 1, want);
    free(buf);
    buf = wrap_raw(json, jlen, 1, (uint32_t)jlen - 3, &len);
    refused_buf(buf, len, "3 bytes follow the header");
    free(buf);
    free(json);
}

static void test_refuse_json(void **state)
{
    char json[] = "{\"version\":1}", deep[64], *buf;
    size_t len;

    (void)state;
    refused_json("[", "the header is not JSON: parse error: premature EOF");
    refused_json("{} {}",
                 "the header is not JSON: parse error: trailing garbage");
    refused_json("[1]", "the header is not an object");
    refused_json("{\"version\":1}", "the header lacks \"uuid\"");
    memset(deep, '[', 11);
    strcpy(deep + 11, "]]]]]]]]]]]");
    refused_json(deep, "the header nests over 10 deep");
    refused("name", "\"gpu\\u0000guest\"", "the header holds a NUL (\\u0000)");
    json[9] = '\0'; /* a raw NUL inside the JSON */
    buf = wrap_raw(json, sizeof(json) - 1, 1, sizeof(json) - 1, &len);
    refused_buf(buf, len, "the header holds a NUL byte");
    free(buf);
}

static void test_refuse_keys(void **state)
{
    char want[64], *json;
    size_t i;

    (void)state;
    for (i = 0; i < NKEYS; i++) {
        snprintf(want, sizeof(want), "the header lacks \"%s\"", base[i][0]);
        refused(base[i][0], NULL, want);
        snprintf(want, sizeof(want), "the header has \"%s\" twice",
                 base[i][0]);
        json = edit(base[i][0], base[i][1], true);
        refused_json(json, want);
        free(json);
    }
    refused("Name", "\"x\"", "the header has an unknown key \"Name\"");
    refused("xen_version", "\"4.17\"",
            "the header has an unknown key \"xen_version\"");
    refused("a\\\"b\\nc", "1", "the header has an unknown key \"a?b?c\"");
}

#define NAME_WANT                                                          \
    "name is not 1 to 64 printable ASCII characters without a leading or " \
    "trailing space"
#define HOST_WANT "host is not 1 to 255 characters of A-Z a-z 0-9 . : _ -"
#define SPEC0_WANT \
    "specs[0] is not 1 to 256 characters of A-Z a-z 0-9 : . , = _ @ -"

/* A JSON string of N copies of C, with its quotes; malloc'ed. */
static char *str_of(size_t n, char c)
{
    char *s = malloc(n + 3);

    assert_non_null(s);
    s[0] = '"';
    memset(s + 1, c, n);
    s[n + 1] = '"';
    s[n + 2] = '\0';
    return s;
}

static void test_refuse_scalars(void **state)
{
    char *s;

    (void)state;
    refused("version", "2", "version is not 1");
    refused("version", "\"1\"", "version is not 1");
    refused("uuid", "\"3F2A7C1E-9B4D-4E8A-A1C2-0123456789AB\"",
            "uuid is not a UUID of 8-4-4-4-12 lower-case hex digits");
    refused("uuid", "\"3f2a7c1e9b4d4e8aa1c20123456789ab\"",
            "uuid is not a UUID of 8-4-4-4-12 lower-case hex digits");
    refused("uuid", "\"" UUID "0\"",
            "uuid is not a UUID of 8-4-4-4-12 lower-case hex digits");
    refused("uuid", "null",
            "uuid is not a UUID of 8-4-4-4-12 lower-case hex digits");
    refused("name", "\"\"", NAME_WANT);
    refused("name", "\" gpu\"", NAME_WANT);
    refused("name", "\"gpu \"", NAME_WANT);
    refused("name", "\"gpu\\tguest\"", NAME_WANT);
    refused("name", "\"gp\xc3\xbc\"", NAME_WANT);
    refused("name", "42", NAME_WANT);
    s = str_of(65, 'n');
    refused("name", s, NAME_WANT);
    free(s);
    refused("type", "\"pvh\"", "type is not \"hvm\" or \"pv\"");
    refused("type", "true", "type is not \"hvm\" or \"pv\"");
    refused("gpu_migration", "\"Unplug\"",
            "gpu_migration is not \"unplug\" or \"refuse\"");
    refused("gpu_compat", "\"strict\"",
            "gpu_compat is not \"exact\", \"device\", \"vendor\" or \"any\"");
    refused("gpu_compat", "[]",
            "gpu_compat is not \"exact\", \"device\", \"vendor\" or \"any\"");
    refused("mmio_hole", "255", "mmio_hole is not 0 or 256 to 3840 (MiB)");
    refused("mmio_hole", "3841", "mmio_hole is not 0 or 256 to 3840 (MiB)");
    refused("mmio_hole", "-256", "mmio_hole is not 0 or 256 to 3840 (MiB)");
    refused("mmio_hole", "256.0", "mmio_hole is not 0 or 256 to 3840 (MiB)");
    refused("mmio_hole", "\"1024\"",
            "mmio_hole is not 0 or 256 to 3840 (MiB)");
    refused("host", "\"\"", HOST_WANT);
    refused("host", "\"src host\"", HOST_WANT);
    refused("host", "\"src/host\"", HOST_WANT);
    s = str_of(256, 'h');
    refused("host", s, HOST_WANT);
    free(s);
    refused("time", "-1",
            "time is not an integer of 0 or more (unix seconds)");
    refused("time", "1.5e9",
            "time is not an integer of 0 or more (unix seconds)");
    refused("time", "99999999999999999999",
            "time is not an integer of 0 or more (unix seconds)");
    refused("domain_config", "\"\"",
            "domain_config is not a string of 1 to 524288 bytes");
    refused("domain_config", "{}",
            "domain_config is not a string of 1 to 524288 bytes");
    refused("domain_config", "\"\\udc00\"",
            "domain_config is not valid UTF-8");
    s = str_of(XENGPU_STREAM_CONFIG_MAX + 1, 'c');
    refused("domain_config", s,
            "domain_config is not a string of 1 to 524288 bytes");
    free(s);
}

/* N entries of ENTRY, joined into a JSON array; malloc'ed. */
static char *array_of(size_t n, const char *entry)
{
    char *out = NULL;
    size_t size = 0, i;
    FILE *f = open_memstream(&out, &size);

    assert_non_null(f);
    fputc('[', f);
    for (i = 0; i < n; i++)
        fprintf(f, "%s%s", i ? "," : "", entry);
    fputc(']', f);
    fclose(f);
    return out;
}

static void test_refuse_specs(void **state)
{
    char *s, *a;

    (void)state;
    refused("specs", "\"10de:15f7\"",
            "specs is not an array of at most 16 strings");
    a = array_of(17, "\"10de:15f7\"");
    refused("specs", a, "specs is not an array of at most 16 strings");
    free(a);
    refused("specs", "[\"\"]", SPEC0_WANT);
    refused("specs", "[\"10de:15f7 \"]", SPEC0_WANT);
    refused("specs", "[\"pool=a/b\"]", SPEC0_WANT);
    refused("specs", "[1]", SPEC0_WANT);
    s = str_of(257, 'a');
    a = array_of(1, s);
    refused("specs", a, SPEC0_WANT);
    free(a);
    free(s);
    refused(
        "specs", "[\"10de:15f7\",null]",
        "specs[1] is not 1 to 256 characters of A-Z a-z 0-9 : . , = _ @ -");
}

#define CARD(bdf, desc) "{\"bdf\":\"" bdf "\",\"desc\":" desc "}"

static void test_refuse_cards(void **state)
{
    char *a;

    (void)state;
    refused("cards", "{}", "cards is not an array of at most 16 objects");
    a = array_of(17, CARD("0000:04:00.0", P100));
    refused("cards", a, "cards is not an array of at most 16 objects");
    free(a);
    refused("cards", "[\"0000:04:00.0\"]", "cards[0] is not an object");
    refused("cards", "[{\"bdf\":\"0000:04:00.0\"}]",
            "cards[0] lacks \"desc\"");
    refused("cards",
            "[{\"bdf\":\"0000:04:00.0\",\"desc\":" P100 ",\"slot\":0}]",
            "cards[0] has an unknown key \"slot\"");
    refused("cards", "[" CARD("04:00.0", P100) "]",
            "cards[0].bdf is not a canonical address such as 0000:01:00.0");
    refused("cards", "[" CARD("0000:0A:00.0", P100) "]",
            "cards[0].bdf is not a canonical address such as 0000:01:00.0");
    refused("cards",
            "[" CARD("0000:04:00.0", P100) "," CARD("0000:04:00.0", P100) "]",
            "cards[1].bdf 0000:04:00.0 is cards[0]'s too");
    refused("cards",
            "[" CARD("0000:04:00.0", P100) "," CARD("0000:05:00.0",
                                                    P100_BAD_SIZE) "]",
            "cards[1].desc: functions[0].bars[0] (index 1) has a size that is "
            "no power of two");
    refused("cards", "[" CARD("0000:04:00.0", "[]") "]",
            "cards[0].desc: the description is not an object");
    refused("cards", "[" CARD("0000:04:00.0", "{\"version\":1}") "]",
            "cards[0].desc: the description lacks \"vendor\"");
}

/*
 * A card's per-device options ride along when it had some: written
 * only then, read back the same, optional when reading (headers written
 * before they existed still read), and held to their characters.
 */
static void test_card_opts(void **state)
{
    xengpu_stream_hdr h, back;
    char *json, *buf = NULL, why[256] = "";
    size_t len = 0;

    (void)state;
    good_header(&h);
    json = xengpu_stream_hdr_json(&h);
    assert_null(strstr(json, "\"opts\""));
    free(json);
    snprintf(h.cards[0].opts, sizeof(h.cards[0].opts), "%s",
             "permissive=1,rdm_policy=relaxed");
    json = xengpu_stream_hdr_json(&h);
    assert_non_null(strstr(json, ",\"opts\":\"permissive=1,rdm_policy="
                                 "relaxed\"}"));
    free(json);
    assert_int_equal(
        xengpu_stream_hdr_encode(&h, &buf, &len, why, sizeof(why)), 0);
    xengpu_stream_hdr_init(&back);
    assert_int_equal(
        xengpu_stream_hdr_parse(buf, len, &back, why, sizeof(why)), 0);
    assert_string_equal(back.cards[0].opts, "permissive=1,rdm_policy=relaxed");
    same_header(&h, &back);
    xengpu_stream_hdr_dispose(&back);
    free(buf);
    snprintf(h.cards[0].opts, sizeof(h.cards[0].opts), "%s", "a b");
    assert_int_equal(xengpu_stream_hdr_check(&h, why, sizeof(why)), -EINVAL);
    assert_string_equal(why, "cards[0].opts is not 1 to 96 characters of "
                             "a-z 0-9 _ = ,");
    xengpu_stream_hdr_dispose(&h);
    refused("cards",
            "[{\"bdf\":\"0000:04:00.0\",\"desc\":" P100
            ",\"opts\":\"Permissive=1\"}]",
            "cards[0].opts is not 1 to 96 characters of a-z 0-9 _ = ,");
    refused("cards",
            "[{\"bdf\":\"0000:04:00.0\",\"desc\":" P100 ",\"opts\":1}]",
            "cards[0].opts is not 1 to 96 characters of a-z 0-9 _ = ,");
    refused("cards",
            "[{\"bdf\":\"0000:04:00.0\",\"desc\":" P100 ",\"opts\":\"\"}]",
            "cards[0].opts is not 1 to 96 characters of a-z 0-9 _ = ,");
}

/* What check() and write() refuse in memory, before any byte is out. */
static void test_check(void **state)
{
    char why[XENGPU_STREAM_WHYLEN] = "", *buf = NULL, want[80];
    struct capture_log lg;
    xengpu_stream_hdr h;
    size_t len = 0, i;
    int p[2];

    (void)state;
    capture_log_init(&lg);
    good_header(&h);
    /* Too long for its array: still too long, not cut to size. */
    memset(h.name, 'n', sizeof(h.name) - 1);
    h.name[sizeof(h.name) - 1] = '\0';
    assert_int_equal(xengpu_stream_hdr_check(&h, why, sizeof(why)), -EINVAL);
    assert_string_equal(why, NAME_WANT);
    assert_int_equal(pipe2(p, O_CLOEXEC | O_NONBLOCK), 0);
    assert_int_equal(xengpu_stream_hdr_write(p[1], &h, &lg.vtable), -EINVAL);
    assert_true(
        capture_log_has(&lg, "cannot write its stream header: " NAME_WANT));
    assert_int_equal(read(p[0], why, 1), -1); /* nothing written */
    assert_int_equal(errno, EAGAIN);
    close(p[0]);
    close(p[1]);
    snprintf(h.name, sizeof(h.name), "gpu-guest");
    memset(h.host, 'h', sizeof(h.host)); /* no NUL at all */
    assert_int_equal(xengpu_stream_hdr_check(&h, why, sizeof(why)), -EINVAL);
    assert_string_equal(why, HOST_WANT);
    snprintf(h.host, sizeof(h.host), "h");
    h.cards[1] = h.cards[0];
    h.cards[1].bdf.dev = 0x20;
    h.ncards = 2;
    assert_int_equal(xengpu_stream_hdr_check(&h, why, sizeof(why)), -EINVAL);
    assert_string_equal(
        why, "cards[1].bdf is not a canonical address such as 0000:01:00.0");
    h.cards[1].bdf.dev = 5;
    h.cards[1].desc.nfns = 0;
    assert_int_equal(xengpu_stream_hdr_check(&h, why, sizeof(why)), -EINVAL);
    assert_string_equal(why,
                        "cards[1].desc: functions has 0 entries, not 1 to 8");
    h.ncards = 17;
    assert_int_equal(xengpu_stream_hdr_check(&h, why, sizeof(why)), -EINVAL);
    assert_string_equal(why, "cards is not an array of at most 16 objects");
    h.ncards = 1;
    h.compat = (xengpu_compat)4;
    assert_int_equal(xengpu_stream_hdr_check(&h, why, sizeof(why)), -EINVAL);
    h.compat = XENGPU_COMPAT_VENDOR;
    h.mmio_hole = 4096;
    assert_int_equal(xengpu_stream_hdr_check(&h, why, sizeof(why)), -EINVAL);
    assert_string_equal(why, "mmio_hole is not 0 or 256 to 3840 (MiB)");
    h.mmio_hole = 3840;
    h.time = -1;
    assert_int_equal(xengpu_stream_hdr_check(&h, why, sizeof(why)), -EINVAL);
    h.time = 0;
    for (i = h.nspecs; i < XENGPU_STREAM_MAX_SPECS; i++)
        assert_int_equal(xengpu_stream_hdr_add_spec(&h, "10de:2204"), 0);
    assert_int_equal(xengpu_stream_hdr_add_spec(&h, "10de:2204"), -E2BIG);
    assert_int_equal(xengpu_stream_hdr_check(&h, why, sizeof(why)), 0);
    free(h.domain_config);
    h.domain_config = NULL;
    assert_int_equal(xengpu_stream_hdr_check(&h, why, sizeof(why)), -EINVAL);
    assert_string_equal(why,
                        "domain_config is not a string of 1 to 524288 bytes");
    h.domain_config = strdup("{\"name\":\"gp\xfc\"}"); /* Latin-1 */
    assert_int_equal(xengpu_stream_hdr_check(&h, why, sizeof(why)), -EINVAL);
    assert_string_equal(why, "domain_config is not valid UTF-8");
    /* 512 KiB of quotes is 1 MiB of JSON once escaped. */
    free(h.domain_config);
    h.domain_config = str_of(XENGPU_STREAM_CONFIG_MAX - 2, '"');
    assert_int_equal(
        xengpu_stream_hdr_encode(&h, &buf, &len, why, sizeof(why)), -EINVAL);
    assert_null(buf);
    buf = xengpu_stream_hdr_json(&h);
    assert_true(strlen(buf) > XENGPU_STREAM_MAX_JSON);
    snprintf(want, sizeof(want),
             "the header's JSON would be %zu bytes, over 1048576",
             strlen(buf));
    assert_string_equal(why, want);
    free(buf);
    xengpu_stream_hdr_dispose(&h);
    capture_log_dispose(&lg);
}

/* Refusals and errors as read() sees them, on real fds. */
static void test_read_refusals(void **state)
{
    static const char xl[] = "Xen saved domain, xl format\n \0 \r"
                             "\0\0\0\0\0\0\0\0 and the rest of it";
    char why[XENGPU_STREAM_WHYLEN] = "", *json = edit(NULL, NULL, false), *buf;
    char want[80];
    struct capture_log lg;
    xengpu_stream_hdr h;
    size_t len;
    int p[2], fd;

    (void)state;
    capture_log_init(&lg);
    xengpu_stream_hdr_init(&h);
    assert_int_equal(pipe2(p, O_CLOEXEC), 0);
    write_all(p[1], xl, sizeof(xl));
    close(p[1]);
    assert_int_equal(
        xengpu_stream_hdr_read(p[0], &h, why, sizeof(why), &lg.vtable),
        -EINVAL);
    assert_string_equal(why, "not a xengpu save file: it starts like an xl "
                             "save file; use xl restore");
    close(p[0]);
    /* Nothing at all, then half a header. */
    assert_int_equal(pipe2(p, O_CLOEXEC), 0);
    close(p[1]);
    assert_int_equal(xengpu_stream_hdr_read(p[0], &h, why, sizeof(why), NULL),
                     -EINVAL);
    assert_string_equal(why, "truncated: 0 of the preamble's 16 bytes");
    close(p[0]);
    assert_int_equal(pipe2(p, O_CLOEXEC), 0);
    buf = wrap(json, &len);
    write_all(p[1], buf, 100);
    close(p[1]);
    assert_int_equal(xengpu_stream_hdr_read(p[0], &h, why, sizeof(why), NULL),
                     -EINVAL);
    snprintf(want, sizeof(want),
             "truncated: 84 of the header's %zu bytes of JSON", strlen(json));
    assert_string_equal(why, want);
    close(p[0]);
    free(buf);
    /* A read error; a NULL reason buffer is fine. */
    fd = open("/", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    assert_true(fd >= 0);
    assert_int_equal(xengpu_stream_hdr_read(fd, &h, why, sizeof(why), NULL),
                     -EISDIR);
    assert_string_equal(why, "reading the stream header: Is a directory");
    assert_int_equal(xengpu_stream_hdr_read(fd, &h, NULL, 0, NULL), -EISDIR);
    close(fd);
    /* Refusals are the caller's to report: nothing above debug. */
    assert_int_equal(lg.count, 0);
    assert_null(h.domain_config);
    free(json);
    capture_log_dispose(&lg);
}

static void test_write_errors(void **state)
{
    struct capture_log lg;
    xengpu_stream_hdr h;
    int p[2], s[2];

    (void)state;
    capture_log_init(&lg);
    good_header(&h);
    assert_int_equal(pipe2(p, O_CLOEXEC), 0);
    assert_int_equal(xengpu_stream_hdr_write(p[0], &h, &lg.vtable), -EBADF);
    assert_true(capture_log_has(
        &lg, "domain gpu-guest: writing its stream header failed: Bad file"));
    close(p[0]);
    close(p[1]);
    /* A peer gone: -EPIPE, and no SIGPIPE to kill this process. */
    assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, s), 0);
    close(s[0]);
    assert_int_equal(xengpu_stream_hdr_write(s[1], &h, &lg.vtable), -EPIPE);
    close(s[1]);
    assert_int_equal(lg.count, 2);
    xengpu_stream_hdr_dispose(&h);
    capture_log_dispose(&lg);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_exact_bytes),
        cmocka_unit_test(test_init_dispose),
        cmocka_unit_test(test_pipe),
        cmocka_unit_test(test_pipe_large),
        cmocka_unit_test(test_socket_nonblocking),
        cmocka_unit_test(test_file),
        cmocka_unit_test(test_accepts_variants),
        cmocka_unit_test(test_limits),
        cmocka_unit_test(test_refuse_preamble),
        cmocka_unit_test(test_refuse_json),
        cmocka_unit_test(test_refuse_keys),
        cmocka_unit_test(test_refuse_scalars),
        cmocka_unit_test(test_refuse_specs),
        cmocka_unit_test(test_card_opts),
        cmocka_unit_test(test_refuse_cards),
        cmocka_unit_test(test_check),
        cmocka_unit_test(test_read_refusals),
        cmocka_unit_test(test_write_errors),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
