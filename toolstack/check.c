/*
 * check.c - the host's readiness for GPU passthrough.
 *
 * Xen 4.17 prints, once at boot (xen/drivers/passthrough/iommu.c):
 *
 *   I/O virtualisation enabled|disabled
 *    - Dom0 mode: Relaxed|Strict|Passthrough
 *   Interrupt remapping enabled|disabled
 *
 * after the vendor driver's own lines ("Intel VT-d Interrupt Remapping
 * enabled.", "AMD-Vi: ...").  The console ring is small (16 KiB by
 * default) and these lines scroll out on a busy host, so an absent line
 * is "unknown", never "off"; whether the IOMMU is on comes from libxl's
 * physinfo, which is always there.
 */
#include <ctype.h>
#include <dlfcn.h>
#include <errno.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <xenctrl.h>
#include <yajl/yajl_gen.h>

#include "check.h"
#include "pciback-helper/libxl-compat.h"
#include "pciback-helper/sysfs-paths.h"
#include "pciback-helper/util.h"

#define CONSOLE_MAX (16u << 20) /* Xen's conring_size= is at most this */

/* --- the console ------------------------------------------------------ */

/* Skip "(XEN) " and a "[    1.234567] " timestamp, as xl dmesg shows. */
static const char *skip_prefix(const char *l)
{
    const char *close;

    if (!strncmp(l, "(XEN) ", 6)) l += 6;
    if (*l == '[' && (close = strchr(l, ']'))) l = close + 1;
    while (*l == ' ')
        l++;
    return l;
}

static void copy_trimmed(char *dst, size_t size, const char *src)
{
    size_t n = strcspn(src, "\r\n");

    while (n && isspace((unsigned char)src[n - 1]))
        n--;
    if (n >= size) n = size - 1;
    memcpy(dst, src, n);
    dst[n] = '\0';
}

static void console_line(const char *line, xengpu_check_console *con)
{
    const char *l = skip_prefix(line);
    const char *p;

    if (strcasestr(l, "I/O virtualisation enabled"))
        con->iommu = XENGPU_TRI_YES;
    else if (strcasestr(l, "I/O virtualisation disabled"))
        con->iommu = XENGPU_TRI_NO;
    if (strcasestr(l, "Interrupt remapping enabled"))
        con->intremap = XENGPU_TRI_YES;
    else if (strcasestr(l, "Interrupt remapping disabled") ||
             strcasestr(l, "Interrupt remapping not enabled") ||
             strcasestr(l, "Failed to enable Interrupt Remapping"))
        con->intremap = XENGPU_TRI_NO;
    if (strcasestr(l, "VT-d"))
        snprintf(con->hw, sizeof(con->hw), "Intel VT-d");
    else if (strstr(l, "AMD-Vi"))
        snprintf(con->hw, sizeof(con->hw), "AMD-Vi");
    if ((p = strstr(l, "Dom0 mode: ")))
        copy_trimmed(con->dom0_mode, sizeof(con->dom0_mode), p + 11);
    if (strcasestr(l, "quarantin"))
        copy_trimmed(con->quarantine, sizeof(con->quarantine), l);
    if (!strncmp(l, "Command line: ", 14))
        copy_trimmed(con->cmdline, sizeof(con->cmdline), l + 14);
}

void xengpu_check_console_parse(const char *text, size_t len,
                                xengpu_check_console *con_r)
{
    char line[1024];
    size_t start = 0, end, n;

    memset(con_r, 0, sizeof(*con_r));
    con_r->iommu = con_r->intremap = XENGPU_TRI_UNKNOWN;
    while (start < len) {
        for (end = start; end < len && text[end] != '\n'; end++)
            ;
        n = end - start < sizeof(line) ? end - start : sizeof(line) - 1;
        memcpy(line, text + start, n);
        line[n] = '\0';
        if (strlen(line) == n) /* a NUL inside: not console text */
            console_line(line, con_r);
        start = end + 1;
    }
}

/* --- Xen's command line ----------------------------------------------- */

/* Xen's parse_bool(): 1, 0, or -1 when S is not a boolean. */
static int parse_bool(const char *s)
{
    static const char *const no[] = { "no", "off", "false", "disable", "0" };
    static const char *const yes[] = { "yes", "on", "true", "enable", "1" };
    size_t i;

    for (i = 0; i < ARRAY_SIZE(no); i++) {
        if (!strcmp(s, no[i])) return 0;
        if (!strcmp(s, yes[i])) return 1;
    }
    return -1;
}

/* Xen's parse_boolean(NAME): "NAME", "no-NAME", "NAME=BOOL"; else -1. */
static int bool_opt(const char *item, const char *name)
{
    size_t n = strlen(name);

    if (!strncmp(item, "no-", 3) && !strcmp(item + 3, name)) return 0;
    if (strncmp(item, name, n)) return -1;
    if (!item[n]) return 1;
    return item[n] == '=' ? parse_bool(item + n + 1) : -1;
}

static void iommu_item(const char *item, xengpu_check_cmdline *cl)
{
    int v;

    if ((v = parse_bool(item)) >= 0) {
        cl->iommu = v;
    } else if (!strcmp(item, "force") || !strcmp(item, "required")) {
        cl->iommu = XENGPU_TRI_YES;
    } else if ((v = bool_opt(item, "intremap")) >= 0) {
        cl->intremap = v;
    } else if (!strcmp(item, "quarantine=scratch-page")) {
        cl->quarantine = XENGPU_TRI_YES;
        cl->scratch_page = true;
    } else if ((v = bool_opt(item, "quarantine")) >= 0) {
        cl->quarantine = v;
        cl->scratch_page = false;
    }
}

void xengpu_check_cmdline_parse(const char *cmdline,
                                xengpu_check_cmdline *cl_r)
{
    char *copy = xengpu__xstrdup(cmdline ? cmdline : "");
    char *save = NULL, *tok, *isave, *item;

    cl_r->iommu = cl_r->intremap = cl_r->quarantine = XENGPU_TRI_UNKNOWN;
    cl_r->scratch_page = false;
    for (tok = strtok_r(copy, " \t\n", &save); tok;
         tok = strtok_r(NULL, " \t\n", &save)) {
        if (strncmp(tok, "iommu=", 6)) continue;
        for (item = strtok_r(tok + 6, ",", &isave); item;
             item = strtok_r(NULL, ",", &isave))
            iommu_item(item, cl_r);
    }
    free(copy);
}

bool xengpu_check_has_cap(const char *caps, const char *word)
{
    size_t n = strlen(word);
    const char *p = caps;

    while (n && (p = strstr(p, word))) {
        if ((p == caps || p[-1] == ' ') && (!p[n] || p[n] == ' ')) return true;
        p += n;
    }
    return false;
}

void xengpu_check_lib_version(const char *path, char *buf, size_t size)
{
    const char *base = strrchr(path, '/');
    const char *so;

    base = base ? base + 1 : path;
    so = strstr(base, ".so.");
    if (so && isdigit((unsigned char)so[4]))
        snprintf(buf, size, "%s", so + 4);
    else if (size)
        buf[0] = '\0';
}

/* --- gathering -------------------------------------------------------- */

void xengpu_check_facts_init(xengpu_check_facts *facts)
{
    memset(facts, 0, sizeof(*facts));
    facts->console.iommu = facts->console.intremap = XENGPU_TRI_UNKNOWN;
    xengpu_check_cmdline_parse(NULL, &facts->cmdline);
}

static void caps_string(const libxl_physinfo *pi, char *buf, size_t size)
{
    /* the words and their order of `xl info` (tools/xl/xl_info.c) */
    snprintf(buf, size, "%s%s%s%s%s%s%s%s%s%s%s", pi->cap_pv ? " pv" : "",
             pi->cap_hvm ? " hvm" : "",
             pi->cap_hvm && pi->cap_hvm_directio ? " hvm_directio" : "",
             pi->cap_pv && pi->cap_hvm_directio ? " pv_directio" : "",
             pi->cap_hap ? " hap" : "", pi->cap_shadow ? " shadow" : "",
             pi->cap_iommu_hap_pt_share ? " iommu_hap_pt_share" : "",
             pi->cap_vmtrace ? " vmtrace" : "", pi->cap_vpmu ? " vpmu" : "",
             pi->cap_gnttab_v1 ? " gnttab-v1" : "",
             pi->cap_gnttab_v2 ? " gnttab-v2" : "");
    if (buf[0] == ' ') memmove(buf, buf + 1, strlen(buf));
}

static void gather_libxl(xentoollog_logger *quiet, xengpu_check_facts *f)
{
    const libxl_version_info *vi;
    libxl_physinfo pi;
    libxl_ctx *ctx = NULL;

    if (libxl_ctx_alloc(&ctx, LIBXL_VERSION, 0, quiet)) return;
    f->xen = true;
    libxl_physinfo_init(&pi);
    if (!libxl_get_physinfo(ctx, &pi))
        caps_string(&pi, f->virt_caps, sizeof(f->virt_caps));
    libxl_physinfo_dispose(&pi);
    vi = libxl_get_version_info(ctx);
    if (vi) {
        snprintf(f->xen_version, sizeof(f->xen_version), "%d.%d%s",
                 vi->xen_version_major, vi->xen_version_minor,
                 vi->xen_version_extra ? vi->xen_version_extra : "");
        if (vi->commandline)
            xengpu_check_cmdline_parse(vi->commandline, &f->cmdline);
    }
    libxl_ctx_free(ctx);
}

/* The whole ring, read incrementally from its oldest byte, as libxl's
 * console reader does for `xl dmesg`. */
static void gather_console(xentoollog_logger *quiet, xengpu_check_facts *f)
{
    xc_interface *xch = xc_interface_open(quiet, quiet, 0);
    size_t len = 0, cap = 64 << 10;
    char *buf = NULL;
    unsigned int n;
    uint32_t index = 0;

    if (!xch) return;
    buf = xengpu__xmalloc(cap);
    for (;;) {
        if (cap - len < (16 << 10)) buf = xengpu__xrealloc(buf, cap *= 2);
        n = 16 << 10;
        if (xc_readconsolering(xch, buf + len, &n, 0, 1, &index)) break;
        f->console_read = true;
        if (!n || len + n > CONSOLE_MAX) break;
        len += n;
    }
    xc_interface_close(xch);
    if (f->console_read) xengpu_check_console_parse(buf, len, &f->console);
    free(buf);
}

static void libxl_file_version(xengpu_check_facts *f)
{
    char real[PATH_MAX];
    Dl_info info;

    /* libxl has no version call; its file name carries the version */
    if (!dladdr((void *)libxl_physinfo_init, &info) || !info.dli_fname ||
        !realpath(info.dli_fname, real))
        return;
    xengpu_check_lib_version(real, f->libxl_version, sizeof(f->libxl_version));
}

int xengpu_check_gather(int sysfs_fd, xentoollog_logger *lg,
                        xengpu_check_facts *facts_r)
{
    xentoollog_logger *quiet;
    struct stat st;

    (void)lg;
    facts_r->root = geteuid() == 0;
    facts_r->pciback =
        !fstatat(sysfs_fd, SYSFS_PCIBACK_DIR, &st, 0) && S_ISDIR(st.st_mode);
    /* failures here are answers, not errors: keep libxl quiet */
    quiet = (xentoollog_logger *)xtl_createlogger_stdiostream(
        stderr, XTL_NUM_LEVELS, 0);
    if (!quiet) xengpu__oom();
    gather_libxl(quiet, facts_r);
    if (facts_r->xen) gather_console(quiet, facts_r);
    xtl_logger_destroy(quiet);
    if (facts_r->xen) libxl_file_version(facts_r);
    if (facts_r->cmdline.iommu == XENGPU_TRI_UNKNOWN &&
        facts_r->cmdline.intremap == XENGPU_TRI_UNKNOWN &&
        facts_r->cmdline.quarantine == XENGPU_TRI_UNKNOWN)
        xengpu_check_cmdline_parse(facts_r->console.cmdline,
                                   &facts_r->cmdline);
    return 0;
}

/* --- judging ---------------------------------------------------------- */

static void add(xengpu_check_report *rep, xengpu_check_level level,
                const char *id, const char *fix, const char *fmt, ...)
    __attribute__((format(printf, 5, 6)));

static void add(xengpu_check_report *rep, xengpu_check_level level,
                const char *id, const char *fix, const char *fmt, ...)
{
    xengpu_check_finding *f;
    va_list ap;

    if (rep->n == XENGPU_CHECK_MAX_FINDINGS) return;
    f = &rep->f[rep->n++];
    f->level = level;
    f->id = id;
    snprintf(f->fix, sizeof(f->fix), "%s", fix);
    va_start(ap, fmt);
    vsnprintf(f->what, sizeof(f->what), fmt, ap);
    va_end(ap);
    if (level == XENGPU_CHECK_PROBLEM) rep->problems++;
}

static bool directio(const xengpu_check_facts *f)
{
    return xengpu_check_has_cap(f->virt_caps, "hvm_directio") ||
           xengpu_check_has_cap(f->virt_caps, "pv_directio");
}

/* The console's word, else the command line's "off". */
static xengpu_tri intremap(const xengpu_check_facts *f)
{
    if (f->console.intremap != XENGPU_TRI_UNKNOWN) return f->console.intremap;
    return f->cmdline.intremap == XENGPU_TRI_NO ? XENGPU_TRI_NO
                                                : XENGPU_TRI_UNKNOWN;
}

static void assess_no_xen(const xengpu_check_facts *f,
                          xengpu_check_report *rep)
{
    if (!f->root)
        add(rep, XENGPU_CHECK_PROBLEM, "not-root",
            "run `xengpu check` as root",
            "not root: cannot ask Xen's toolstack (libxl) about the IOMMU");
    else
        add(rep, XENGPU_CHECK_PROBLEM, "not-xen",
            "boot the Xen hypervisor (Debian: apt-get install "
            "xen-system-amd64, reboot into the Xen entry) and start "
            "xencommons",
            "cannot talk to Xen's toolstack (libxl): this is not a Xen "
            "dom0, or xenstored is not running");
}

static void assess_iommu(const xengpu_check_facts *f, xengpu_check_report *rep)
{
    if (!directio(f)) {
        add(rep, XENGPU_CHECK_PROBLEM, "iommu-off",
            f->cmdline.iommu == XENGPU_TRI_NO
                ? "remove iommu=0 (or off, no, false) from Xen's command "
                  "line (GRUB_CMDLINE_XEN_DEFAULT in /etc/default/grub, "
                  "then update-grub) and reboot"
                : "enable VT-d (Intel) or AMD-Vi / IOMMU (AMD) in the "
                  "firmware setup and put iommu=1 on Xen's command line "
                  "(GRUB_CMDLINE_XEN_DEFAULT in /etc/default/grub, then "
                  "update-grub), and reboot",
            "Xen has no IOMMU: virt_caps (%s) lack hvm_directio and "
            "pv_directio",
            f->virt_caps[0] ? f->virt_caps : "unreadable");
        return;
    }
    if (intremap(f) == XENGPU_TRI_NO)
        add(rep, XENGPU_CHECK_PROBLEM, "no-intremap",
            f->cmdline.intremap == XENGPU_TRI_NO
                ? "remove no-intremap (or intremap=0) from iommu=... on "
                  "Xen's command line, and reboot"
                : "enable interrupt remapping in the firmware (VT-d / "
                  "AMD-Vi, x2APIC), keep iommu=1 without no-intremap on "
                  "Xen's command line, and reboot",
            "interrupt remapping is off: unsafe, a guest given a card can "
            "send forged interrupts (MSI) to the host");
    else if (intremap(f) == XENGPU_TRI_UNKNOWN)
        add(rep, XENGPU_CHECK_NOTE, "intremap-unknown",
            "look for \"Interrupt remapping enabled\" in Xen's boot log "
            "(`xl dmesg` soon after boot, or the serial console)",
            f->console_read
                ? "interrupt remapping: unknown, Xen's console ring no "
                  "longer holds its boot messages"
                : "interrupt remapping: unknown, Xen's console could not "
                  "be read");
    if (f->cmdline.quarantine == XENGPU_TRI_NO)
        add(rep, XENGPU_CHECK_PROBLEM, "no-quarantine",
            "remove no-quarantine (or quarantine=0) from iommu=... on "
            "Xen's command line, and reboot",
            "Xen's quarantine is off: a card taken from a guest goes back "
            "to dom0 with the guest's DMA still in flight");
}

/* "4.17.3" and "4.17.0" agree; "4.18.0" and "4.17.0" do not. */
static bool same_minor(const char *a, const char *b)
{
    int amaj, amin, bmaj, bmin;

    if (sscanf(a, "%d.%d", &amaj, &amin) != 2 ||
        sscanf(b, "%d.%d", &bmaj, &bmin) != 2)
        return true;
    return amaj == bmaj && amin == bmin;
}

void xengpu_check_assess(const xengpu_check_facts *facts,
                         xengpu_check_report *rep_r)
{
    memset(rep_r, 0, sizeof(*rep_r));
    if (!facts->xen) {
        assess_no_xen(facts, rep_r);
    } else {
        assess_iommu(facts, rep_r);
        if (!same_minor(facts->xen_version, facts->libxl_version))
            add(rep_r, XENGPU_CHECK_NOTE, "version-mismatch",
                "install the tools of the running hypervisor's version",
                "Xen %s runs with libxl %s", facts->xen_version,
                facts->libxl_version);
    }
    if (!facts->pciback)
        add(rep_r, XENGPU_CHECK_PROBLEM, "pciback-missing",
            "modprobe xen-pciback (and add xen-pciback to /etc/modules to "
            "load it at boot)",
            "xen-pciback is not loaded (no %s in sysfs): cards cannot be "
            "prepared for guests",
            SYSFS_PCIBACK_DIR);
}

/* --- reporting -------------------------------------------------------- */

static const char *tri_word(xengpu_tri t)
{
    return t == XENGPU_TRI_YES  ? "enabled"
           : t == XENGPU_TRI_NO ? "disabled"
                                : "unknown";
}

static const char *quarantine_word(const xengpu_check_facts *f)
{
    if (f->cmdline.quarantine == XENGPU_TRI_NO) return "off";
    if (f->cmdline.scratch_page) return "scratch-page";
    return f->cmdline.quarantine == XENGPU_TRI_YES ? "basic"
                                                   : "basic (Xen's default)";
}

static void text_facts(FILE *o, const xengpu_check_facts *f)
{
    const char *hw = f->console.hw;

    if (!f->xen) {
        fprintf(o, "Xen:                 not reachable through libxl\n");
    } else {
        fprintf(o, "Xen:                 %s (libxl %s)\n",
                f->xen_version[0] ? f->xen_version : "unknown",
                f->libxl_version[0] ? f->libxl_version : "unknown");
        fprintf(o, "virt_caps:           %s\n", f->virt_caps);
        fprintf(o, "IOMMU:               %s%s%s%s\n",
                directio(f) ? "enabled" : "disabled", hw[0] ? " (" : "", hw,
                hw[0] ? ")" : "");
        fprintf(o, "interrupt remapping: %s\n", tri_word(intremap(f)));
        fprintf(o, "quarantine:          %s\n", quarantine_word(f));
    }
    fprintf(o, "xen-pciback:         %s\n",
            f->pciback ? "loaded" : "not loaded");
}

int xengpu_check_text(const xengpu_check_facts *facts,
                      const xengpu_check_report *rep, char **text_r)
{
    char *text = NULL;
    size_t len, i;
    FILE *o = open_memstream(&text, &len);

    if (!o) xengpu__oom();
    text_facts(o, facts);
    for (i = 0; i < rep->n; i++)
        fprintf(o, "%s: %s; fix: %s\n",
                rep->f[i].level == XENGPU_CHECK_PROBLEM ? "problem" : "note",
                rep->f[i].what, rep->f[i].fix);
    if (rep->problems)
        fprintf(o, "not ready for GPU passthrough: %zu problem%s\n",
                rep->problems, rep->problems == 1 ? "" : "s");
    else
        fprintf(o, "ready for GPU passthrough\n");
    if (fclose(o)) xengpu__oom();
    *text_r = text;
    return 0;
}

static void str(yajl_gen g, const char *s)
{
    yajl_gen_string(g, (const unsigned char *)s, strlen(s));
}

/* "" and NULL are null. */
static void kv_str(yajl_gen g, const char *k, const char *v)
{
    str(g, k);
    if (v && v[0])
        str(g, v);
    else
        yajl_gen_null(g);
}

static void kv_bool(yajl_gen g, const char *k, bool v)
{
    str(g, k);
    yajl_gen_bool(g, v);
}

static void kv_tri(yajl_gen g, const char *k, xengpu_tri t)
{
    str(g, k);
    if (t == XENGPU_TRI_UNKNOWN)
        yajl_gen_null(g);
    else
        yajl_gen_bool(g, t == XENGPU_TRI_YES);
}

static void gen_findings(yajl_gen g, const xengpu_check_report *rep,
                         xengpu_check_level level)
{
    size_t i;

    yajl_gen_array_open(g);
    for (i = 0; i < rep->n; i++) {
        if (rep->f[i].level != level) continue;
        yajl_gen_map_open(g);
        kv_str(g, "id", rep->f[i].id);
        kv_str(g, level == XENGPU_CHECK_PROBLEM ? "problem" : "note",
               rep->f[i].what);
        kv_str(g, "fix", rep->f[i].fix);
        yajl_gen_map_close(g);
    }
    yajl_gen_array_close(g);
}

static void gen_facts(yajl_gen g, const xengpu_check_facts *f)
{
    kv_bool(g, "root", f->root);
    kv_bool(g, "xen", f->xen);
    kv_str(g, "xen_version", f->xen_version);
    kv_str(g, "libxl_version", f->libxl_version);
    kv_str(g, "virt_caps", f->xen ? f->virt_caps : NULL);
    kv_tri(g, "iommu",
           !f->xen ? XENGPU_TRI_UNKNOWN
                   : (directio(f) ? XENGPU_TRI_YES : XENGPU_TRI_NO));
    kv_str(g, "iommu_hardware", f->console.hw);
    kv_tri(g, "interrupt_remapping",
           f->xen ? intremap(f) : XENGPU_TRI_UNKNOWN);
    kv_str(g, "quarantine",
           !f->xen                                  ? NULL
           : f->cmdline.quarantine == XENGPU_TRI_NO ? "off"
           : f->cmdline.scratch_page                ? "scratch-page"
                                                    : "basic");
    kv_bool(g, "pciback", f->pciback);
}

int xengpu_check_json(const xengpu_check_facts *facts,
                      const xengpu_check_report *rep, char **json_r)
{
    yajl_gen g = yajl_gen_alloc(NULL);
    const unsigned char *buf;
    size_t len;
    int r = 0;

    if (!g) xengpu__oom();
    yajl_gen_config(g, yajl_gen_beautify, 1);
    yajl_gen_config(g, yajl_gen_validate_utf8, 1);
    yajl_gen_map_open(g);
    kv_bool(g, "ready", rep->problems == 0);
    gen_facts(g, facts);
    str(g, "problems");
    gen_findings(g, rep, XENGPU_CHECK_PROBLEM);
    str(g, "notes");
    gen_findings(g, rep, XENGPU_CHECK_NOTE);
    yajl_gen_map_close(g);
    if (yajl_gen_get_buf(g, &buf, &len) != yajl_gen_status_ok) {
        r = -EIO;
    } else {
        *json_r = xengpu__xmalloc(len + 1);
        memcpy(*json_r, buf, len);
        (*json_r)[len] = '\0';
    }
    yajl_gen_free(g);
    return r;
}
