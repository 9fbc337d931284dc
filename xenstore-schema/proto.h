/*
 * proto.h - the guest cooperation protocol's values (declared in
 * xenstore-schema/schema): what dom0 writes into a guest's
 * data/xengpu/request and how it reads the guest's data/xengpu/agent and
 * data/xengpu/response.
 *
 * Everything a guest writes is hostile: the parsers take a length, never
 * read past it, accept exactly the grammar and nothing near it.  Pure
 * functions; xs.h does the xenstore side.
 */
#ifndef XENGPU_XS_PROTO_H
#define XENGPU_XS_PROTO_H

#include <stddef.h>
#include <stdint.h>

#define XENGPU_PROTO_VERSION 1
#define XENGPU_PROTO_SEQ_MAX 2147483647u
#define XENGPU_PROTO_REASON_MAX 96
#define XENGPU_PROTO_REQUEST_MAX 24
#define XENGPU_PROTO_RESPONSE_MAX 128

typedef enum {
    XENGPU_GUEST_RELEASE, /* let go of the card before an unplug */
    XENGPU_GUEST_PLUGGED, /* a card was plugged (back) */
} xengpu_guest_verb;

typedef enum {
    XENGPU_GUEST_RELEASED, /* to release: the card is idle, unplug it */
    XENGPU_GUEST_DONE,     /* to plugged: the guest took the card */
    XENGPU_GUEST_REFUSED,  /* to either, with a reason */
} xengpu_guest_answer;

typedef struct {
    uint32_t seq;
    xengpu_guest_answer answer;
    char reason[XENGPU_PROTO_REASON_MAX + 1]; /* "" unless refused */
} xengpu_guest_response;

/*
 * "SEQ VERB" into BUF (SIZE bytes).  Returns its length, or -EINVAL for
 * a SEQ of 0 or over XENGPU_PROTO_SEQ_MAX, -ENOSPC when BUF is short.
 */
int xengpu_proto_format_request(uint32_t seq, xengpu_guest_verb verb,
                                char *buf, size_t size);

/* The reverse, for the guest's agent and tests.  0 or -EINVAL. */
int xengpu_proto_parse_request(const char *v, size_t len, uint32_t *seq_r,
                               xengpu_guest_verb *verb_r);

/*
 * A guest's response (LEN bytes at V, not NUL-terminated).  Returns 0
 * and fills *R, or -EINVAL when V is not exactly "SEQ released",
 * "SEQ done" or "SEQ refused REASON" (REASON 1..96 printable ASCII,
 * no leading space) within XENGPU_PROTO_RESPONSE_MAX bytes.
 */
int xengpu_proto_parse_response(const char *v, size_t len,
                                xengpu_guest_response *r);

/*
 * The guest's answer into BUF (SIZE bytes): "SEQ released", "SEQ done"
 * or, for XENGPU_GUEST_REFUSED, "SEQ refused REASON".  Returns its
 * length, -EINVAL for a bad SEQ or a REASON the grammar above refuses,
 * -ENOSPC when BUF is short.
 */
int xengpu_proto_format_response(uint32_t seq, xengpu_guest_answer answer,
                                 const char *reason, char *buf, size_t size);

/* The agent's version: a decimal 1..9999.  0 or -EINVAL. */
int xengpu_proto_parse_agent(const char *v, size_t len, unsigned *version_r);

/* A decimal with no sign, no leading zero, at most MAX.  0 or -EINVAL. */
int xengpu_proto_parse_uint(const char *v, size_t len, uint32_t max,
                            uint32_t *out);

const char *xengpu_proto_verb_name(xengpu_guest_verb verb);
const char *xengpu_proto_answer_name(xengpu_guest_answer answer);

#endif /* XENGPU_XS_PROTO_H */
