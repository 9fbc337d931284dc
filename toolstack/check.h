/*
 * check.h - `xengpu check`: is this host ready for GPU passthrough?
 *
 * Facts come from four places, gathered by xengpu_check_gather():
 *
 *   - libxl_get_physinfo(): the capabilities `xl info` prints as
 *     virt_caps; hvm_directio / pv_directio mean Xen drives an IOMMU;
 *   - libxl_get_version_info(): the hypervisor's version and command
 *     line (iommu=... options);
 *   - Xen's console ring (xc_readconsolering(), what `xl dmesg` prints):
 *     "I/O virtualisation enabled|disabled", "Interrupt remapping
 *     enabled|disabled" and the VT-d / AMD-Vi lines before them;
 *   - sysfs: bus/pci/drivers/pciback exists once xen-pciback is loaded.
 *
 * The parsers and xengpu_check_assess() are pure functions of text and
 * of a facts struct, so they are unit-tested on console samples from
 * real hosts; only xengpu_check_gather() talks to Xen.
 */
#ifndef XENGPU_CHECK_H
#define XENGPU_CHECK_H

#include <stdbool.h>
#include <stddef.h>
#include <xentoollog.h>

typedef enum xengpu_tri {
    XENGPU_TRI_UNKNOWN = -1,
    XENGPU_TRI_NO = 0,
    XENGPU_TRI_YES = 1,
} xengpu_tri;

/* What Xen's boot messages say; a plain value. */
typedef struct xengpu_check_console {
    xengpu_tri iommu;    /* "I/O virtualisation enabled|disabled" */
    xengpu_tri intremap; /* "Interrupt remapping enabled|disabled", the
                            vendor lines too; the last one read wins */
    char hw[16];         /* "Intel VT-d", "AMD-Vi" or "" */
    char dom0_mode[24];  /* " - Dom0 mode: Relaxed" -> "Relaxed", or "" */
    char quarantine[96]; /* the last line that mentions quarantine, or "" */
    char cmdline[512];   /* "Command line: ...", or "" */
} xengpu_check_console;

/*
 * Read LEN bytes of console TEXT (as `xl dmesg` prints it: "(XEN) "
 * prefixes and timestamps are skipped; other lines are looked at too)
 * into *con_r.  Never fails; what the text does not say stays unknown.
 */
void xengpu_check_console_parse(const char *text, size_t len,
                                xengpu_check_console *con_r);

/* The iommu= options on Xen's command line; a plain value. */
typedef struct xengpu_check_cmdline {
    xengpu_tri iommu;      /* iommu=0|1|force|required; unknown: not given */
    xengpu_tri intremap;   /* iommu=[no-]intremap[=bool] */
    xengpu_tri quarantine; /* iommu=[no-]quarantine[=bool] */
    bool scratch_page;     /* iommu=quarantine=scratch-page */
} xengpu_check_cmdline;

/*
 * Parse Xen's command line CMDLINE (NULL is an empty one) the way Xen
 * parses its iommu= parameters (comma-separated, later ones win).
 */
void xengpu_check_cmdline_parse(const char *cmdline,
                                xengpu_check_cmdline *cl_r);

/*
 * Whether the virt_caps string CAPS (as `xl info` prints it, e.g.
 * "pv hvm hvm_directio pv_directio hap") lists WORD as a whole word.
 */
bool xengpu_check_has_cap(const char *caps, const char *word);

/* The version in a shared library's file name: "libxenlight.so.4.17.0"
 * -> "4.17.0" in BUF (SIZE bytes), "" when the name has none. */
void xengpu_check_lib_version(const char *path, char *buf, size_t size);

/* Everything xengpu check looked at; a plain value. */
typedef struct xengpu_check_facts {
    bool root;              /* effective uid 0 */
    bool xen;               /* a libxl session could be opened */
    char xen_version[64];   /* "4.17.3", or "" */
    char libxl_version[32]; /* from libxenlight's file name, or "" */
    char virt_caps[192];    /* as `xl info` prints them, or "" */
    bool console_read;      /* Xen's console ring was read */
    xengpu_check_console console;
    xengpu_check_cmdline cmdline; /* from libxl, else from the console */
    bool pciback;                 /* xen-pciback is loaded */
} xengpu_check_facts;

void xengpu_check_facts_init(xengpu_check_facts *facts);

/*
 * Fill *facts_r (init'ed by the caller) from Xen and from the sysfs
 * tree at SYSFS_FD.  Not being able to talk to Xen is a fact (xen =
 * false), not a failure; neither is an unreadable console.  Returns 0;
 * LG gets debug messages only.
 */
int xengpu_check_gather(int sysfs_fd, xentoollog_logger *lg,
                        xengpu_check_facts *facts_r);

typedef enum xengpu_check_level {
    XENGPU_CHECK_NOTE,    /* worth knowing; the host is still ready */
    XENGPU_CHECK_PROBLEM, /* not ready until fixed */
} xengpu_check_level;

typedef struct xengpu_check_finding {
    xengpu_check_level level;
    const char *id; /* "not-root", "not-xen", "iommu-off", "no-intremap",
                       "no-quarantine", "pciback-missing",
                       "intremap-unknown", "version-mismatch" */
    char what[192]; /* what is wrong, naming the thing */
    char fix[256];  /* what to do */
} xengpu_check_finding;

#define XENGPU_CHECK_MAX_FINDINGS 8

typedef struct xengpu_check_report {
    xengpu_check_finding f[XENGPU_CHECK_MAX_FINDINGS];
    size_t n;
    size_t problems; /* findings at XENGPU_CHECK_PROBLEM */
} xengpu_check_report;

/* Judge FACTS: each problem or note with its fix, into *rep_r. */
void xengpu_check_assess(const xengpu_check_facts *facts,
                         xengpu_check_report *rep_r);

/*
 * The report for people: one line per fact, then one line per finding
 * with its fix, then "ready ..." or "not ready ...".  *text_r is
 * malloc'ed (free() it).  Returns 0.
 */
int xengpu_check_text(const xengpu_check_facts *facts,
                      const xengpu_check_report *rep, char **text_r);

/*
 * The same as one JSON object: {"ready": bool, "xen_version", ...,
 * "problems": [{"id", "problem", "fix"}], "notes": [...]}.  *json_r is
 * malloc'ed (free() it).  Returns 0, or -EIO when the generator fails.
 */
int xengpu_check_json(const xengpu_check_facts *facts,
                      const xengpu_check_report *rep, char **json_r);

#endif /* XENGPU_CHECK_H */
