/*
 * capture-log.h - a xentoollog logger that keeps messages for asserts.
 */
#ifndef XENGPU_CAPTURE_LOG_H
#define XENGPU_CAPTURE_LOG_H

#include <stdbool.h>
#include <xentoollog.h>

struct capture_log {
    xentoollog_logger vtable; /* first: the library sees this */
    char *text;               /* all messages, one per line */
    unsigned count;           /* messages at XTL_WARN or above */
};

void capture_log_init(struct capture_log *lg);
void capture_log_dispose(struct capture_log *lg);
/* True when some message contains NEEDLE. */
bool capture_log_has(const struct capture_log *lg, const char *needle);

#endif /* XENGPU_CAPTURE_LOG_H */
