/*
 * util.h - allocation and logging helpers shared by all xengpu code.
 *
 * Allocation failure is not an error path anyone can handle usefully in a
 * toolstack command, so the xengpu__x*() family aborts with a message
 * instead of returning NULL; callers never check.
 *
 * Library code never prints: it logs through the caller's
 * xentoollog_logger, once, where the failure happens, naming the device.
 */
#ifndef XENGPU_UTIL_H
#define XENGPU_UTIL_H

#include <stdarg.h>
#include <stddef.h>
#include <xentoollog.h>

/* Report an allocation failure of someone else's allocator and abort. */
void xengpu__oom(void) __attribute__((noreturn));

/* Never return NULL; abort on allocation failure. */
void *xengpu__xmalloc(size_t size);
void *xengpu__xcalloc(size_t nmemb, size_t size);
void *xengpu__xrealloc(void *ptr, size_t size);
/* Reallocates PTR to hold NMEMB elements of SIZE, checking overflow. */
void *xengpu__xreallocarray(void *ptr, size_t nmemb, size_t size);
char *xengpu__xstrdup(const char *s);
/* At most N bytes of S, NUL-terminated. */
char *xengpu__xstrndup(const char *s, size_t n);
char *xengpu__xasprintf(const char *fmt, ...)
    __attribute__((format(printf, 1, 2)));

/*
 * Log through LG (never NULL: see xengpu__logger_default()).  ERRNOVAL is
 * an errno to append, or -1 for none.
 */
void xengpu__log(xentoollog_logger *lg, xentoollog_level level, int errnoval,
                 const char *fmt, ...) __attribute__((format(printf, 4, 5)));

/*
 * The logger library functions use when their caller passes NULL: a
 * process-wide stderr stdiostream logger at XTL_WARN, created on first
 * use and never freed.
 */
xentoollog_logger *xengpu__logger_default(void);

#define LOG(lg, lvl, ...) xengpu__log((lg), XTL_##lvl, -1, __VA_ARGS__)
#define LOGE(lg, lvl, err, ...) \
    xengpu__log((lg), XTL_##lvl, (err), __VA_ARGS__)

#define ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))

#endif /* XENGPU_UTIL_H */
