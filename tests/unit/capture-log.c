/*
 * capture-log.c - a xentoollog logger that keeps messages for asserts.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "capture-log.h"

static void __attribute__((format(printf, 5, 0)))
vmessage(xentoollog_logger *logger, xentoollog_level level, int errnoval,
         const char *context, const char *format, va_list al)
{
    struct capture_log *lg = (struct capture_log *)logger;
    size_t old = lg->text ? strlen(lg->text) : 0;
    char *msg = NULL, *line = NULL;

    (void)context;
    if (vasprintf(&msg, format, al) < 0) abort();
    if (asprintf(&line, "%s: %s%s%s\n", xtl_level_to_string(level), msg,
                 errnoval >= 0 ? ": " : "",
                 errnoval >= 0 ? strerror(errnoval) : "") < 0)
        abort();
    lg->text = realloc(lg->text, old + strlen(line) + 1);
    if (!lg->text) abort();
    strcpy(lg->text + old, line);
    if (level >= XTL_WARN) lg->count++;
    free(msg);
    free(line);
}

void capture_log_init(struct capture_log *lg)
{
    memset(lg, 0, sizeof(*lg));
    lg->vtable.vmessage = vmessage;
}

void capture_log_dispose(struct capture_log *lg)
{
    free(lg->text);
    lg->text = NULL;
    lg->count = 0;
}

bool capture_log_has(const struct capture_log *lg, const char *needle)
{
    return lg->text && strstr(lg->text, needle);
}
