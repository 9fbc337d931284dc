/*
 * test-pciback.c - prepare, release and recover, against fake sysfs
 * trees of real cards and a libxl wrapped with -Wl,--wrap.
 *
 * The wrapped libxl behaves like the real one towards sysfs: assignable
 * add moves a function's driver link to pciback and remembers the
 * driver (as libxl does in xenstore); assignable remove moves it back.
 * Tests make single calls fail to walk the failure paths real Xen does
 * not produce on demand.  The real behaviour is proven by the nested
 * scenario 15-prepare-release.
 */
#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

#include "capture-log.h"
#include "fake-sysfs.h"
#include <xenctrl.h>

#include "pciback-helper/libxl-compat.h"
#include "pciback-helper/pciback.h"
#include "pciback-helper/state.h"
#include "realcards.h"

/* --- the wrapped libxl ------------------------------------------------ */

static struct fake_sysfs *cur_fs;
static char remembered[16][2][64]; /* bdf -> original driver */
static int nremembered;
static int fail_add_at = -1, fail_remove_at = -1; /* call index */
static int nadd, nremove;
static int held_domid = -1;
static char held_bdf[16];

static void bdf_of(const libxl_device_pci *pci, char *buf)
{
    snprintf(buf, 16, "%04x:%02x:%02x.%x", (unsigned)pci->domain, pci->bus,
             pci->dev, pci->func);
}

static void set_driver(const char *bdf, const char *driver)
{
    char path[256], target[512];
    const char *dir = fake_sysfs_devdir(cur_fs, bdf);

    assert_non_null(dir);
    snprintf(path, sizeof(path), "%s/%s/driver", cur_fs->root, dir);
    unlink(path);
    if (!driver) return;
    snprintf(path, sizeof(path), "%s/driver", dir);
    snprintf(target, sizeof(target), "%s/bus/pci/drivers/%s", cur_fs->root,
             driver);
    fake_sysfs_symlink(cur_fs, path, target);
}

static void get_driver(const char *bdf, char *buf, size_t size)
{
    char path[256], target[512];
    const char *dir = fake_sysfs_devdir(cur_fs, bdf);
    ssize_t n;

    snprintf(path, sizeof(path), "%s/%s/driver", cur_fs->root, dir);
    n = readlink(path, target, sizeof(target) - 1);
    if (n < 0) {
        snprintf(buf, size, "none");
        return;
    }
    target[n] = '\0';
    snprintf(buf, size, "%s", strrchr(target, '/') + 1);
}

int __wrap_libxl_ctx_alloc(libxl_ctx **pctx, int version, unsigned flags,
                           xentoollog_logger *lg);
int __wrap_libxl_ctx_alloc(libxl_ctx **pctx, int version, unsigned flags,
                           xentoollog_logger *lg)
{
    (void)version, (void)flags, (void)lg;
    *pctx = (libxl_ctx *)&cur_fs;
    return 0;
}

int __wrap_libxl_ctx_free(libxl_ctx *ctx);
int __wrap_libxl_ctx_free(libxl_ctx *ctx)
{
    (void)ctx;
    return 0;
}

int __wrap_libxl_device_pci_assignable_add(libxl_ctx *ctx,
                                           libxl_device_pci *pci, int rebind);
int __wrap_libxl_device_pci_assignable_add(libxl_ctx *ctx,
                                           libxl_device_pci *pci, int rebind)
{
    char b[16], drv[64];

    (void)ctx, (void)rebind;
    if (nadd++ == fail_add_at) return ERROR_FAIL;
    bdf_of(pci, b);
    get_driver(b, drv, sizeof(drv));
    if (strcmp(drv, "none") && strcmp(drv, "pciback")) {
        snprintf(remembered[nremembered][0], 64, "%s", b);
        snprintf(remembered[nremembered++][1], 64, "%s", drv);
    }
    set_driver(b, "pciback");
    return 0;
}

int __wrap_libxl_device_pci_assignable_remove(libxl_ctx *ctx,
                                              libxl_device_pci *pci,
                                              int rebind);
int __wrap_libxl_device_pci_assignable_remove(libxl_ctx *ctx,
                                              libxl_device_pci *pci,
                                              int rebind)
{
    char b[16];
    int i;

    (void)ctx;
    if (nremove++ == fail_remove_at) return ERROR_FAIL;
    bdf_of(pci, b);
    set_driver(b, NULL);
    for (i = 0; rebind && i < nremembered; i++)
        if (!strcmp(remembered[i][0], b)) {
            set_driver(b, remembered[i][1]);
            remembered[i][0][0] = '\0';
        }
    return 0;
}

libxl_dominfo *__wrap_libxl_list_domain(libxl_ctx *ctx, int *nb);
libxl_dominfo *__wrap_libxl_list_domain(libxl_ctx *ctx, int *nb)
{
    libxl_dominfo *d = calloc(1, sizeof(*d));

    (void)ctx;
    d->domid = held_domid >= 0 ? held_domid : 0;
    *nb = 1;
    return d;
}

void __wrap_libxl_dominfo_list_free(libxl_dominfo *list, int nb);
void __wrap_libxl_dominfo_list_free(libxl_dominfo *list, int nb)
{
    (void)nb;
    free(list);
}

libxl_device_pci *__wrap_libxl_device_pci_list(libxl_ctx *ctx, uint32_t domid,
                                               int *num);
libxl_device_pci *__wrap_libxl_device_pci_list(libxl_ctx *ctx, uint32_t domid,
                                               int *num)
{
    libxl_device_pci *p;
    unsigned d, b, s, f;

    (void)ctx;
    *num = 0;
    if (held_domid < 0 || (int)domid != held_domid) return NULL;
    p = calloc(1, sizeof(*p));
    sscanf(held_bdf, "%x:%x:%x.%x", &d, &b, &s, &f);
    p->domain = d, p->bus = b, p->dev = s, p->func = f;
    *num = 1;
    return p;
}

void __wrap_libxl_device_pci_list_free(libxl_device_pci *list, int num);
void __wrap_libxl_device_pci_list_free(libxl_device_pci *list, int num)
{
    (void)num;
    free(list);
}

/* Xen's view: off unless a test sets a group member or an RMRR. */
static int xen_on;
static uint32_t xen_group_member; /* bus << 16 | devfn << 8, 0: none */
static const char *rmrr_bdf[2];   /* functions sharing one RMRR */

xc_interface *__wrap_xc_interface_open(xentoollog_logger *lg,
                                       xentoollog_logger *dlg, unsigned fl);
xc_interface *__wrap_xc_interface_open(xentoollog_logger *lg,
                                       xentoollog_logger *dlg, unsigned fl)
{
    (void)lg, (void)dlg, (void)fl;
    return xen_on ? (xc_interface *)&xen_on : NULL;
}

int __wrap_xc_interface_close(xc_interface *xch);
int __wrap_xc_interface_close(xc_interface *xch)
{
    (void)xch;
    return 0;
}

int __wrap_xc_get_device_group(xc_interface *xch, uint32_t domid,
                               uint32_t sbdf, uint32_t max, uint32_t *num,
                               uint32_t *sdevs);
int __wrap_xc_get_device_group(xc_interface *xch, uint32_t domid,
                               uint32_t sbdf, uint32_t max, uint32_t *num,
                               uint32_t *sdevs)
{
    (void)xch, (void)domid, (void)sbdf, (void)max;
    *num = 0;
    if (xen_group_member) sdevs[(*num)++] = xen_group_member;
    return 0;
}

int __wrap_xc_reserved_device_memory_map(
    xc_interface *xch, uint32_t flags, uint16_t seg, uint8_t bus,
    uint8_t devfn, struct xen_reserved_device_memory entries[], uint32_t *max);
int __wrap_xc_reserved_device_memory_map(
    xc_interface *xch, uint32_t flags, uint16_t seg, uint8_t bus,
    uint8_t devfn, struct xen_reserved_device_memory entries[], uint32_t *max)
{
    char b[16];
    int i;

    (void)xch, (void)flags;
    snprintf(b, sizeof(b), "%04x:%02x:%02x.%x", seg, bus, devfn >> 3,
             devfn & 7);
    for (i = 0; i < 2; i++)
        if (rmrr_bdf[i] && !strcmp(rmrr_bdf[i], b) && *max >= 1) {
            entries[0].start_pfn = 0x7c000; /* an IGD-like stolen region */
            entries[0].nr_pages = 0x800;
            *max = 1;
            return 0;
        }
    *max = 0;
    return 0;
}

/* --- fixture ---------------------------------------------------------- */

struct fix {
    struct fake_sysfs *fs;
    char state[256], conf[300];
    struct capture_log log;
    xengpu_pciback *pb;
};

static void open_pb(struct fix *f)
{
    xengpu_pciback_opts o = { f->fs->root, f->state, f->conf };

    assert_int_equal(xengpu_pciback_open(&o, &f->log.vtable, &f->pb), 0);
}

static int setup_tree(void **st, void (*build)(struct fake_sysfs *))
{
    struct fix *f = calloc(1, sizeof(*f));

    f->fs = fake_sysfs_new();
    cur_fs = f->fs;
    build(f->fs);
    fake_sysfs_write(f->fs, "bus/pci/drivers/pciback/unbind", "");
    fake_sysfs_write(f->fs, "bus/pci/drivers/pciback/remove_slot", "");
    fake_sysfs_write(f->fs, "bus/pci/drivers/nvidia/bind", "");
    fake_sysfs_write(f->fs, "bus/pci/drivers/snd_hda_intel/bind", "");
    snprintf(f->state, sizeof(f->state), "%s/state", f->fs->root);
    snprintf(f->conf, sizeof(f->conf), "%s/xengpu-pciback.conf", f->fs->root);
    capture_log_init(&f->log);
    nremembered = nadd = nremove = 0;
    xen_on = 0;
    xen_group_member = 0;
    rmrr_bdf[0] = rmrr_bdf[1] = NULL;
    fail_add_at = fail_remove_at = held_domid = -1;
    open_pb(f);
    *st = f;
    return 0;
}

static void a6000(struct fake_sysfs *fs)
{
    rc_a6000(fs, false);
}
static void dell(struct fake_sysfs *fs)
{
    rc_dell_p100(fs);
}
static void b550(struct fake_sysfs *fs)
{
    rc_b550(fs);
}

static int setup_a6000(void **st)
{
    return setup_tree(st, a6000);
}
static int setup_dell(void **st)
{
    return setup_tree(st, dell);
}
static int setup_b550(void **st)
{
    return setup_tree(st, b550);
}

static int teardown(void **st)
{
    struct fix *f = *st;

    xengpu_pciback_close(f->pb);
    capture_log_dispose(&f->log);
    fake_sysfs_free(f->fs);
    free(f);
    return 0;
}

static void assert_driver(const char *bdf, const char *want)
{
    char d[64];

    get_driver(bdf, d, sizeof(d));
    assert_string_equal(d, want);
}

static char *slurp(const char *path)
{
    static char buf[4096];
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    ssize_t n;

    if (fd < 0) return NULL;
    n = read(fd, buf, sizeof(buf) - 1);
    close(fd);
    buf[n < 0 ? 0 : n] = '\0';
    return buf;
}

static bool exists(struct fix *f, const char *sub)
{
    char p[512];

    snprintf(p, sizeof(p), "%s/%s", f->state, sub);
    return access(p, F_OK) == 0;
}

static xengpu_bdf B(const char *s)
{
    xengpu_bdf b;

    assert_int_equal(xengpu_bdf_parse(s, 0, &b), 0);
    return b;
}

/* --- tests ------------------------------------------------------------ */

/* realworld/lspci-nvidia-rtx-a6000-x4-romane.txt: GPU + audio */
static void prepare_moves_every_function(void **st)
{
    struct fix *f = *st;
    xengpu_bdf card = B("01:00.1"); /* any function names the card */
    char *conf;

    assert_int_equal(xengpu_pciback_prepare(f->pb, &card, 0), 0);
    assert_driver("0000:01:00.0", "pciback");
    assert_driver("0000:01:00.1", "pciback");
    assert_false(exists(f, "journal/0000:01:00.0.json"));
    assert_non_null(strstr(slurp(strcat(strcpy((char[600]){ 0 }, f->state),
                                        "/cards/0000:01:00.0.json")),
                           "\"driver\":\"snd_hda_intel\""));
    conf = slurp(f->conf);
    assert_non_null(conf);
    assert_non_null(strstr(conf, "hide=(0000:01:00.0)(0000:01:00.1)\n"));
    assert_non_null(strstr(conf, "softdep nvidia pre: xen-pciback\n"));
    /* again: nothing moves */
    assert_int_equal(xengpu_pciback_prepare(f->pb, &card, 0), 0);
    assert_int_equal(nadd, 2);
}

/* realworld/lspci-v-xxx-nvidia-rtx2080ti-x4-4func-old-pciids-bugreport.txt:
 * a Turing card's UCSI function uses nvidia-gpu; nvidia must still get
 * its own softdep line beside it. */
static void boot_config_names_each_driver_once(void **st)
{
    struct fix *f = *st;
    xengpu_cardrec other = { .op = XENGPU_REC_PREPARED, .nfns = 2 };
    xengpu_bdf card = B("01:00.0");
    char *conf;
    int sfd;

    other.card = B("0000:65:00.0");
    other.fns[0].bdf = B("0000:65:00.0");
    strcpy(other.fns[0].driver, "nvidia");
    other.fns[1].bdf = B("0000:65:00.3");
    strcpy(other.fns[1].driver, "nvidia-gpu");
    sfd = open(f->state, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    assert_int_equal(xengpu_rec_write(sfd, XENGPU_CARDREC, &other, NULL), 0);
    close(sfd);
    assert_int_equal(xengpu_pciback_prepare(f->pb, &card, 0), 0);
    conf = slurp(f->conf);
    assert_non_null(strstr(conf, "\nsoftdep nvidia pre: xen-pciback\n"));
    assert_non_null(strstr(conf, "\nsoftdep nvidia-gpu pre: xen-pciback\n"));
    assert_non_null(strstr(conf, "softdep snd_hda_intel pre: xen-pciback\n"));
    assert_null(
        strstr(strstr(conf, "softdep nvidia pre") + 1, "softdep nvidia pre"));
    assert_non_null(strstr(
        conf,
        "hide=(0000:01:00.0)(0000:01:00.1)(0000:65:00.0)(0000:65:00.3)\n"));
}

static void prepare_failure_puts_back(void **st)
{
    struct fix *f = *st;
    xengpu_bdf card = B("0000:01:00.0");

    fail_add_at = 1; /* the audio function */
    assert_int_equal(xengpu_pciback_prepare(f->pb, &card, 0), -EIO);
    assert_driver("0000:01:00.0", "nvidia");
    assert_driver("0000:01:00.1", "snd_hda_intel");
    assert_false(exists(f, "journal/0000:01:00.0.json"));
    assert_false(exists(f, "cards/0000:01:00.0.json"));
    assert_true(capture_log_has(&f->log, "putting the card back"));
    assert_int_equal(access(f->conf, F_OK), -1);
}

/* realworld/lspci-nvidia-tesla-p100-pcie-dell-xeon-e5v4-full.txt */
static void prepare_refuses_boot_vga(void **st)
{
    struct fix *f = *st;
    xengpu_bdf card = B("0a:00.0");
    char before[64];

    get_driver("0000:0a:00.0", before, sizeof(before));
    assert_int_equal(xengpu_pciback_prepare(f->pb, &card, 0), -EPERM);
    assert_true(capture_log_has(&f->log, "boot VGA"));
    assert_true(capture_log_has(&f->log, "--force"));
    assert_driver("0000:0a:00.0", before);
    assert_int_equal(nadd, 0);
    assert_int_equal(
        xengpu_pciback_prepare(f->pb, &card, XENGPU_PCIBACK_FORCE), 0);
    assert_driver("0000:0a:00.0", "pciback");
}

/* realworld/iommu-groups-amd-b550-navi21-rx6950xt-rx550-chipset-group.txt:
 * the RX 550 shares chipset group 15 with USB, SATA and a NIC. */
static void prepare_refuses_shared_group(void **st)
{
    struct fix *f = *st;
    xengpu_bdf card = B("04:00.0");
    char p[256];

    /* it is also the host's boot VGA there; take that refusal away */
    snprintf(p, sizeof(p), "%s/boot_vga",
             fake_sysfs_devdir(f->fs, "0000:04:00.0"));
    fake_sysfs_write(f->fs, p, "0\n");
    assert_int_equal(xengpu_pciback_prepare(f->pb, &card, 0), -EPERM);
    assert_true(capture_log_has(&f->log, "not isolated"));
    assert_true(capture_log_has(&f->log, "0000:02:00.0 can share"));
    assert_driver("0000:04:00.0", "amdgpu");
    assert_int_equal(nadd, 0);
}

/* Xen's device group holds a function outside the card: refused, with
 * Xen named as the witness. */
static void prepare_refuses_xen_group(void **st)
{
    struct fix *f = *st;
    xengpu_bdf card = B("01:00.0");

    xen_on = 1;
    xen_group_member = 0x1f << 16 | (0x1f << 3 | 3) << 8; /* 1f:1f.3 */
    assert_int_equal(xengpu_pciback_prepare(f->pb, &card, 0), -EPERM);
    assert_true(capture_log_has(&f->log, "Xen puts 0000:1f:1f.3"));
    assert_int_equal(nadd, 0);
    /* the card's own functions in the group are fine */
    xen_group_member = 1 << 16 | 1 << 8; /* 01:00.1 */
    assert_int_equal(xengpu_pciback_prepare(f->pb, &card, 0), 0);
}

/* realworld/err-xen-vtd-shared-rmrr-assign-failed-xcpng.txt: Xen refuses
 * a device whose RMRR another device shares; refuse before moving. */
static void prepare_refuses_shared_rmrr(void **st)
{
    struct fix *f = *st;
    xengpu_bdf card = B("01:00.0");

    xen_on = 1;
    rmrr_bdf[0] = "0000:01:00.0";
    rmrr_bdf[1] = "0000:00:01.0"; /* its root port */
    assert_int_equal(xengpu_pciback_prepare(f->pb, &card, 0), -EPERM);
    assert_true(capture_log_has(&f->log, "shared RMRR"));
    assert_true(capture_log_has(&f->log, "with 0000:00:01.0"));
    assert_int_equal(nadd, 0);
    assert_int_equal(
        xengpu_pciback_prepare(f->pb, &card, XENGPU_PCIBACK_FORCE), 0);
}

static void prepare_unknown_card(void **st)
{
    struct fix *f = *st;
    xengpu_bdf card = B("0000:09:00.0");

    assert_int_equal(xengpu_pciback_prepare(f->pb, &card, 0), -ENODEV);
    assert_true(capture_log_has(&f->log, "no GPU card at 0000:09:00.0"));
}

static void release_refuses_held_card(void **st)
{
    struct fix *f = *st;
    xengpu_bdf card = B("01:00.0");

    assert_int_equal(xengpu_pciback_prepare(f->pb, &card, 0), 0);
    held_domid = 7;
    snprintf(held_bdf, sizeof(held_bdf), "0000:01:00.1");
    assert_int_equal(xengpu_pciback_release(f->pb, &card, 0), -EBUSY);
    assert_true(capture_log_has(&f->log, "held by domain 7"));
    assert_driver("0000:01:00.1", "pciback");
    held_domid = -1;
    assert_int_equal(xengpu_pciback_release(f->pb, &card, 0), 0);
    assert_driver("0000:01:00.0", "nvidia");
    assert_driver("0000:01:00.1", "snd_hda_intel");
    assert_false(exists(f, "cards/0000:01:00.0.json"));
    assert_int_equal(access(f->conf, F_OK), -1); /* nothing prepared */
}

/* After a reboot libxl's xenstore record is gone: xengpu's card record
 * names the driver and xengpu binds it itself. */
static void release_after_reboot_binds_recorded_driver(void **st)
{
    struct fix *f = *st;
    xengpu_bdf card = B("01:00.0");
    char p[512];

    assert_int_equal(xengpu_pciback_prepare(f->pb, &card, 0), 0);
    nremembered = 0; /* xenstore emptied by the reboot */
    assert_int_equal(xengpu_pciback_release(f->pb, &card, 0), 0);
    snprintf(p, sizeof(p), "%s/bus/pci/drivers/snd_hda_intel/bind",
             f->fs->root);
    assert_string_equal(slurp(p), "0000:01:00.1");
    snprintf(p, sizeof(p), "%s/bus/pci/drivers/nvidia/bind", f->fs->root);
    assert_string_equal(slurp(p), "0000:01:00.0");
}

static void write_journal(struct fix *f, xengpu_recop op)
{
    xengpu_cardrec rec = { .op = op, .pid = 4242, .time = 1, .nfns = 2 };
    int sfd;

    rec.card = B("0000:01:00.0");
    rec.fns[0].bdf = B("0000:01:00.0");
    strcpy(rec.fns[0].driver, "nvidia");
    rec.fns[1].bdf = B("0000:01:00.1");
    strcpy(rec.fns[1].driver, "snd_hda_intel");
    sfd = open(f->state, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    assert_int_equal(xengpu_rec_write(sfd, XENGPU_JOURNAL, &rec, NULL), 0);
    close(sfd);
}

/* A prepare killed after its first function moved. */
static void recover_undoes_prepare(void **st)
{
    struct fix *f = *st;
    libxl_device_pci pci = { .domain = 0, .bus = 1, .dev = 0, .func = 0 };
    size_t n = 9;

    write_journal(f, XENGPU_REC_PREPARE);
    __wrap_libxl_device_pci_assignable_add(NULL, &pci, 1);
    assert_int_equal(xengpu_pciback_recover(f->pb, &n), 0);
    assert_int_equal(n, 1);
    assert_driver("0000:01:00.0", "nvidia");
    assert_driver("0000:01:00.1", "snd_hda_intel");
    assert_false(exists(f, "journal/0000:01:00.0.json"));
    assert_true(capture_log_has(&f->log, "interrupted prepare (pid 4242)"));
}

/* A release killed after its first function went back. */
static void recover_finishes_release(void **st)
{
    struct fix *f = *st;
    xengpu_bdf card = B("01:00.0");
    size_t n = 0;

    assert_int_equal(xengpu_pciback_prepare(f->pb, &card, 0), 0);
    write_journal(f, XENGPU_REC_RELEASE);
    set_driver("0000:01:00.0", "nvidia");
    assert_int_equal(xengpu_pciback_recover(f->pb, &n), 0);
    assert_int_equal(n, 1);
    assert_driver("0000:01:00.1", "snd_hda_intel");
    assert_false(exists(f, "cards/0000:01:00.0.json"));
    assert_false(exists(f, "journal/0000:01:00.0.json"));
}

/* libxl refuses to let go (a crash left the function bound but not
 * quarantined): xengpu unbinds it from pciback itself. */
static void recover_unbinds_when_libxl_refuses(void **st)
{
    struct fix *f = *st;
    char p[512];

    write_journal(f, XENGPU_REC_PREPARE);
    set_driver("0000:01:00.1", "pciback");
    fail_remove_at = 0;
    assert_int_equal(xengpu_pciback_recover(f->pb, NULL), 0);
    snprintf(p, sizeof(p), "%s/bus/pci/drivers/pciback/unbind", f->fs->root);
    assert_string_equal(slurp(p), "0000:01:00.1");
    assert_true(capture_log_has(&f->log, "unbinding it from pciback"));
}

/* --- records ---------------------------------------------------------- */

static void cardrec_round_trip(void **st)
{
    xengpu_cardrec rec = { .op = XENGPU_REC_PREPARED, .pid = 1, .time = 2 };
    xengpu_cardrec back;
    char *text;

    (void)st;
    rec.card = B("0000:65:00.0");
    rec.nfns = 2;
    rec.fns[0].bdf = B("0000:65:00.0");
    rec.fns[1].bdf = B("0000:65:00.1");
    strcpy(rec.fns[1].driver, "snd_hda_intel");
    text = xengpu_cardrec_format(&rec);
    assert_int_equal(xengpu_cardrec_parse(text, strlen(text), &back), 0);
    assert_int_equal(back.nfns, 2);
    assert_string_equal(back.fns[0].driver, "");
    assert_string_equal(back.fns[1].driver, "snd_hda_intel");
    assert_int_equal(back.op, XENGPU_REC_PREPARED);
    free(text);
}

static void cardrec_rejects_damage(void **st)
{
    static const char *const bad[] = {
        "",
        "{}",
        "[]",
        "{\"version\":2,\"op\":\"prepare\",\"card\":\"0000:01:00.0\","
        "\"pid\":1,\"time\":1,\"functions\":[]}",
        "{\"version\":1,\"op\":\"bind\",\"card\":\"0000:01:00.0\","
        "\"pid\":1,\"time\":1,\"functions\":[]}",
        /* a driver name that would make a path */
        "{\"version\":1,\"op\":\"prepare\",\"card\":\"0000:01:00.0\","
        "\"pid\":1,\"time\":1,\"functions\":[{\"bdf\":\"0000:01:00.0\","
        "\"driver\":\"../../../kernel\"}]}",
        /* a function of another slot */
        "{\"version\":1,\"op\":\"prepare\",\"card\":\"0000:01:00.0\","
        "\"pid\":1,\"time\":1,\"functions\":[{\"bdf\":\"0000:02:00.0\","
        "\"driver\":null}]}",
        /* the same function twice */
        "{\"version\":1,\"op\":\"prepare\",\"card\":\"0000:01:00.0\","
        "\"pid\":1,\"time\":1,\"functions\":[{\"bdf\":\"0000:01:00.0\","
        "\"driver\":null},{\"bdf\":\"0000:01:00.0\",\"driver\":null}]}",
        /* not canonical */
        "{\"version\":1,\"op\":\"prepare\",\"card\":\"01:00.0\","
        "\"pid\":1,\"time\":1,\"functions\":[]}",
        /* an extra member */
        "{\"version\":1,\"op\":\"prepare\",\"card\":\"0000:01:00.0\","
        "\"pid\":1,\"time\":1,\"functions\":[],\"x\":1}",
    };
    xengpu_cardrec rec;
    size_t i;

    (void)st;
    for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
        assert_int_equal(xengpu_cardrec_parse(bad[i], strlen(bad[i]), &rec),
                         -EINVAL);
}

static void driver_names(void **st)
{
    (void)st;
    assert_true(xengpu_driver_name_ok("snd_hda_intel"));
    assert_true(xengpu_driver_name_ok("xen-pciback"));
    assert_false(xengpu_driver_name_ok(""));
    assert_false(xengpu_driver_name_ok("a/b"));
    assert_false(xengpu_driver_name_ok(".."));
    assert_false(xengpu_driver_name_ok("nvidia "));
}

/* A second command on the same card waits, and is told who holds it. */
static void lock_serializes_and_names_holder(void **st)
{
    char dir[] = "/tmp/xengpu-lock-XXXXXX";
    xengpu_bdf card = B("0000:01:00.0");
    int sfd, lfd, pipefd[2], status;
    struct capture_log log;
    pid_t pid;
    char c;

    (void)st;
    assert_non_null(mkdtemp(dir));
    assert_int_equal(xengpu_state_open(dir, NULL, &sfd), 0);
    assert_int_equal(xengpu_state_lock(sfd, &card, "prepare", NULL, &lfd), 0);
    assert_int_equal(pipe(pipefd), 0);
    pid = fork();
    if (pid == 0) {
        int l2;

        close(lfd); /* the parent's lock is on this open file */
        capture_log_init(&log);
        if (xengpu_state_lock(sfd, &card, "release", &log.vtable, &l2))
            _exit(3);
        /* by now the parent has written to the pipe */
        _exit(capture_log_has(&log, "prepare pid") ? 0 : 4);
    }
    usleep(200000);
    assert_int_equal(write(pipefd[1], "x", 1), 1);
    xengpu_state_unlock(lfd);
    assert_int_equal(waitpid(pid, &status, 0), pid);
    assert_true(WIFEXITED(status));
    assert_int_equal(WEXITSTATUS(status), 0);
    assert_int_equal(read(pipefd[0], &c, 1), 1);
    close(pipefd[0]);
    close(pipefd[1]);
    close(sfd);
    fake_rmtree(dir);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(prepare_moves_every_function,
                                        setup_a6000, teardown),
        cmocka_unit_test_setup_teardown(boot_config_names_each_driver_once,
                                        setup_a6000, teardown),
        cmocka_unit_test_setup_teardown(prepare_failure_puts_back, setup_a6000,
                                        teardown),
        cmocka_unit_test_setup_teardown(prepare_refuses_boot_vga, setup_dell,
                                        teardown),
        cmocka_unit_test_setup_teardown(prepare_refuses_shared_group,
                                        setup_b550, teardown),
        cmocka_unit_test_setup_teardown(prepare_refuses_xen_group, setup_a6000,
                                        teardown),
        cmocka_unit_test_setup_teardown(prepare_refuses_shared_rmrr,
                                        setup_a6000, teardown),
        cmocka_unit_test_setup_teardown(prepare_unknown_card, setup_a6000,
                                        teardown),
        cmocka_unit_test_setup_teardown(release_refuses_held_card, setup_a6000,
                                        teardown),
        cmocka_unit_test_setup_teardown(
            release_after_reboot_binds_recorded_driver, setup_a6000, teardown),
        cmocka_unit_test_setup_teardown(recover_undoes_prepare, setup_a6000,
                                        teardown),
        cmocka_unit_test_setup_teardown(recover_finishes_release, setup_a6000,
                                        teardown),
        cmocka_unit_test_setup_teardown(recover_unbinds_when_libxl_refuses,
                                        setup_a6000, teardown),
        cmocka_unit_test(cardrec_round_trip),
        cmocka_unit_test(cardrec_rejects_damage),
        cmocka_unit_test(driver_names),
        cmocka_unit_test(lock_serializes_and_names_holder),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
