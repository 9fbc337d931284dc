/*
 * util.c - allocation that aborts on failure, and logging.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util.h"

static void __attribute__((noreturn)) oom(size_t size)
{
    fprintf(stderr, "xengpu: out of memory allocating %zu bytes\n", size);
    abort();
}

void xengpu__oom(void)
{
    oom(0);
}

void *xengpu__xmalloc(size_t size)
{
    void *p = malloc(size ? size : 1);

    if (!p) oom(size);
    return p;
}

void *xengpu__xcalloc(size_t nmemb, size_t size)
{
    void *p = calloc(nmemb ? nmemb : 1, size ? size : 1);

    if (!p) oom(nmemb * size);
    return p;
}

void *xengpu__xrealloc(void *ptr, size_t size)
{
    void *p = realloc(ptr, size ? size : 1);

    if (!p) oom(size);
    return p;
}

void *xengpu__xreallocarray(void *ptr, size_t nmemb, size_t size)
{
    void *p = reallocarray(ptr, nmemb ? nmemb : 1, size ? size : 1);

    if (!p) oom(nmemb * size);
    return p;
}

char *xengpu__xstrdup(const char *s)
{
    char *p = strdup(s);

    if (!p) oom(strlen(s) + 1);
    return p;
}

char *xengpu__xstrndup(const char *s, size_t n)
{
    char *p = strndup(s, n);

    if (!p) oom(n + 1);
    return p;
}

char *xengpu__xasprintf(const char *fmt, ...)
{
    va_list ap;
    char *s;
    int r;

    va_start(ap, fmt);
    r = vasprintf(&s, fmt, ap);
    va_end(ap);
    if (r < 0) oom(0);
    return s;
}

void xengpu__log(xentoollog_logger *lg, xentoollog_level level, int errnoval,
                 const char *fmt, ...)
{
    va_list ap;

    va_start(ap, fmt);
    xtl_logv(lg ? lg : xengpu__logger_default(), level, errnoval, "xengpu",
             fmt, ap);
    va_end(ap);
}

xentoollog_logger *xengpu__logger_default(void)
{
    static xentoollog_logger *lg;

    if (!lg)
        lg = (xentoollog_logger *)xtl_createlogger_stdiostream(stderr,
                                                               XTL_WARN, 0);
    if (!lg) oom(0);
    return lg;
}
