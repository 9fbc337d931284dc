/*
 * schema.h - xengpu's xenstore schema: parse the declaration
 * (xenstore-schema/schema), match paths against it, check values and
 * permissions.
 *
 * Everything here is pure: no xenstore connection, no allocation that
 * outlives the schema.  xs.h builds the checked write and the validator
 * of the live store on top.
 */
#ifndef XENGPU_XS_SCHEMA_H
#define XENGPU_XS_SCHEMA_H

#include <stdbool.h>
#include <stddef.h>

typedef enum {
    XENGPU_XS_TOOLSTACK,
    XENGPU_XS_BACKEND,
    XENGPU_XS_GUEST,
} xengpu_xs_writer;

typedef enum {
    XENGPU_XS_G_EMPTY,
    XENGPU_XS_G_NAME,
    XENGPU_XS_G_DOMID,
    XENGPU_XS_G_UINT,
    XENGPU_XS_G_VERSION,
    XENGPU_XS_G_UUID,
    XENGPU_XS_G_BDF,
    XENGPU_XS_G_VBDF,
    XENGPU_XS_G_HEX,
    XENGPU_XS_G_XBSTATE,
    XENGPU_XS_G_PCIOPTS,
    XENGPU_XS_G_GPUSPEC,
    XENGPU_XS_G_DRVPATH,
    XENGPU_XS_G_HOST,
    XENGPU_XS_G_REQUEST,
    XENGPU_XS_G_RESPONSE,
    XENGPU_XS_G_ENUM,
} xengpu_xs_grammar;

/* Placeholders of a path segment. */
typedef enum {
    XENGPU_XS_P_NONE,
    XENGPU_XS_P_UUID,
    XENGPU_XS_P_DOMID,
    XENGPU_XS_P_N,
    XENGPU_XS_P_BDFXS,
} xengpu_xs_placeholder;

/* One segment of a pattern: a literal prefix and at most one placeholder. */
typedef struct {
    char *lit;
    xengpu_xs_placeholder ph;
} xengpu_xs_seg;

typedef struct {
    char *path; /* as declared */
    xengpu_xs_seg *segs;
    size_t nsegs;
    char *perms; /* as declared, {domid} not yet bound */
    bool owner_is_domid;
    xengpu_xs_writer writer;
    xengpu_xs_grammar grammar;
    char **words; /* of enum(...) */
    size_t nwords;
    size_t maxlen;
    int line;
} xengpu_xs_rule;

/* An `own PATH` line. */
typedef struct {
    char *path;
    xengpu_xs_seg *segs;
    size_t nsegs;
    int line;
} xengpu_xs_tree;

typedef struct xengpu_xs_schema {
    xengpu_xs_rule *rules;
    size_t nrules;
    xengpu_xs_tree *trees;
    size_t ntrees;
} xengpu_xs_schema;

/* What a path's placeholders bound to; -1 / "" when absent. */
typedef struct {
    long domid;
    char uuid[37];
    char bdfxs[13];
} xengpu_xs_vars;

#define XENGPU_XS_ERRLEN 160

/*
 * Parse schema TEXT (LEN bytes, need not be NUL-terminated).  Returns 0
 * and the schema in *SCHEMA_R (free with xengpu_xs_schema_free()), or
 * -EINVAL with "line N: what is wrong" in ERR (XENGPU_XS_ERRLEN bytes).
 * Rejects: unknown keywords, writers, grammars and placeholders, more
 * than one placeholder in a segment, a MAXLEN over 4096, an OWNER that
 * is not the first entry of PERMS, a pattern declared twice, an own
 * tree that contains no node line.
 */
int xengpu_xs_schema_parse(const char *text, size_t len,
                           xengpu_xs_schema **schema_r, char *err);
void xengpu_xs_schema_free(xengpu_xs_schema *s);

/*
 * The schema built into this library from xenstore-schema/schema.
 * Parsed on first use and never freed; a broken built-in schema is a
 * build bug and aborts.
 */
const xengpu_xs_schema *xengpu_xs_schema_builtin(void);
extern const char xengpu__xs_schema_text[];

/*
 * The rule declaring PATH, with its placeholders bound in *VARS (may be
 * NULL); NULL when no rule matches.
 */
const xengpu_xs_rule *xengpu_xs_match(const xengpu_xs_schema *s,
                                      const char *path, xengpu_xs_vars *vars);

/* True when PATH is a proper ancestor of some declared node. */
bool xengpu_xs_is_dir(const xengpu_xs_schema *s, const char *path);

/*
 * Bind *VARS from the first declared node or own tree whose leading
 * segments match all of PATH; returns the placeholder of PATH's last
 * segment in that pattern (XENGPU_XS_P_NONE for a literal, or when
 * nothing matches, VARS then empty).
 */
xengpu_xs_placeholder xengpu_xs_bind(const xengpu_xs_schema *s,
                                     const char *path, xengpu_xs_vars *vars);

/* The own tree PATH lies in (or is), or NULL. */
const xengpu_xs_tree *xengpu_xs_own_tree(const xengpu_xs_schema *s,
                                         const char *path);

/*
 * Does VALUE (LEN bytes) satisfy RULE's grammar and MAXLEN?  Returns
 * NULL when it does, otherwise a static phrase saying why not.
 */
const char *xengpu_xs_check_value(const xengpu_xs_rule *rule,
                                  const char *value, size_t len);

/* Grammar check alone, for callers that hold no rule. */
bool xengpu_xs_grammar_ok(xengpu_xs_grammar g, const char *v, size_t len);

/*
 * RULE's permissions with {domid} bound from VARS, into BUF (SIZE
 * bytes).  Returns BUF.
 */
const char *xengpu_xs_rule_perms(const xengpu_xs_rule *rule,
                                 const xengpu_xs_vars *vars, char *buf,
                                 size_t size);

/* Does segment SEG match path component C (LEN bytes)?  Binds VARS. */
bool xengpu_xs_seg_match(const xengpu_xs_seg *seg, const char *c, size_t len,
                         xengpu_xs_vars *vars);

const char *xengpu_xs_writer_name(xengpu_xs_writer w);

#endif /* XENGPU_XS_SCHEMA_H */
