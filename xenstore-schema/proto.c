/*
 * proto.c - values of the guest cooperation protocol.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "proto.h"

static const char *const verbs[] = {
    [XENGPU_GUEST_RELEASE] = "release",
    [XENGPU_GUEST_PLUGGED] = "plugged",
};

static const char *const answers[] = {
    [XENGPU_GUEST_RELEASED] = "released",
    [XENGPU_GUEST_DONE] = "done",
    [XENGPU_GUEST_REFUSED] = "refused",
};

const char *xengpu_proto_verb_name(xengpu_guest_verb verb)
{
    return (unsigned)verb < 2 ? verbs[verb] : "?";
}

const char *xengpu_proto_answer_name(xengpu_guest_answer answer)
{
    return (unsigned)answer < 3 ? answers[answer] : "?";
}

int xengpu_proto_parse_uint(const char *v, size_t len, uint32_t max,
                            uint32_t *out)
{
    uint64_t n = 0;
    size_t i;

    if (len == 0 || len > 10 || (v[0] == '0' && len > 1)) return -EINVAL;
    for (i = 0; i < len; i++) {
        if (v[i] < '0' || v[i] > '9') return -EINVAL;
        n = n * 10 + (uint64_t)(v[i] - '0');
    }
    if (n > max) return -EINVAL;
    *out = (uint32_t)n;
    return 0;
}

int xengpu_proto_format_request(uint32_t seq, xengpu_guest_verb verb,
                                char *buf, size_t size)
{
    int n;

    if (seq == 0 || seq > XENGPU_PROTO_SEQ_MAX || (unsigned)verb > 1)
        return -EINVAL;
    n = snprintf(buf, size, "%u %s", seq, verbs[verb]);
    return n < 0 || (size_t)n >= size ? -ENOSPC : n;
}

/* "SEQ " then the rest: the length of SEQ's digits, or 0. */
static size_t seq_prefix(const char *v, size_t len, uint32_t *seq)
{
    const char *sp = memchr(v, ' ', len);

    if (!sp) return 0;
    if (xengpu_proto_parse_uint(v, (size_t)(sp - v), XENGPU_PROTO_SEQ_MAX,
                                seq) ||
        *seq == 0)
        return 0;
    return (size_t)(sp - v);
}

static int word_is(const char *v, size_t len, const char *word)
{
    return len == strlen(word) && !memcmp(v, word, len);
}

int xengpu_proto_parse_request(const char *v, size_t len, uint32_t *seq_r,
                               xengpu_guest_verb *verb_r)
{
    size_t d;
    unsigned i;

    if (len > XENGPU_PROTO_REQUEST_MAX) return -EINVAL;
    d = seq_prefix(v, len, seq_r);
    if (!d) return -EINVAL;
    for (i = 0; i < 2; i++)
        if (word_is(v + d + 1, len - d - 1, verbs[i])) {
            *verb_r = (xengpu_guest_verb)i;
            return 0;
        }
    return -EINVAL;
}

static int reason_ok(const char *v, size_t len)
{
    size_t i;

    if (len == 0 || len > XENGPU_PROTO_REASON_MAX || v[0] == ' ') return 0;
    for (i = 0; i < len; i++)
        if (v[i] < 0x20 || v[i] > 0x7e) return 0;
    return 1;
}

int xengpu_proto_parse_response(const char *v, size_t len,
                                xengpu_guest_response *r)
{
    static const char refused[] = "refused ";
    const char *rest;
    size_t d, n;

    if (len > XENGPU_PROTO_RESPONSE_MAX) return -EINVAL;
    memset(r, 0, sizeof(*r));
    d = seq_prefix(v, len, &r->seq);
    if (!d) return -EINVAL;
    rest = v + d + 1;
    n = len - d - 1;
    if (word_is(rest, n, "released")) {
        r->answer = XENGPU_GUEST_RELEASED;
    } else if (word_is(rest, n, "done")) {
        r->answer = XENGPU_GUEST_DONE;
    } else if (n > sizeof(refused) - 1 &&
               !memcmp(rest, refused, sizeof(refused) - 1) &&
               reason_ok(rest + sizeof(refused) - 1,
                         n - (sizeof(refused) - 1))) {
        r->answer = XENGPU_GUEST_REFUSED;
        memcpy(r->reason, rest + sizeof(refused) - 1,
               n - (sizeof(refused) - 1));
    } else {
        return -EINVAL;
    }
    return 0;
}

int xengpu_proto_parse_agent(const char *v, size_t len, unsigned *version_r)
{
    uint32_t n;

    if (xengpu_proto_parse_uint(v, len, 9999, &n) || n == 0) return -EINVAL;
    *version_r = n;
    return 0;
}

int xengpu_proto_format_response(uint32_t seq, xengpu_guest_answer answer,
                                 const char *reason, char *buf, size_t size)
{
    int n;

    if (seq == 0 || seq > XENGPU_PROTO_SEQ_MAX || (unsigned)answer > 2)
        return -EINVAL;
    if (answer != XENGPU_GUEST_REFUSED)
        n = snprintf(buf, size, "%u %s", seq, answers[answer]);
    else if (reason && reason_ok(reason, strlen(reason)))
        n = snprintf(buf, size, "%u refused %s", seq, reason);
    else
        return -EINVAL;
    return n < 0 || (size_t)n >= size ? -ENOSPC : n;
}
