/*
 * test-domains.c - attach and detach against a libxl wrapped with
 * -Wl,--wrap, for the failure paths real Xen does not produce on demand:
 * a function that fails half way, a guest that never lets go, domains
 * that cannot take a device.  The real behaviour is proven by the nested
 * scenarios 50-attach-detach and 55-create-hvm.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "capture-log.h"
#include "fake-sysfs.h"
#include "pciback-helper/libxl-compat.h"
#include "realcards.h"
#include "toolstack/domains.h"
#include "toolstack/qmp.h"

/* --- the wrapped libxl ------------------------------------------------ */

static int fail_add_at = -1; /* index of the add call that fails */
static int remove_rc;        /* what every remove returns */
static int remove_lies;      /* removes that say done but leave it listed */
static int nadd, nremove, ndestroy;
static char calls[512]; /* "add 01:00.0;remove 01:00.0;..." */
static libxl_domain_type dom_type = LIBXL_DOMAIN_TYPE_PV;
static uint64_t dom_hole_kb = LIBXL_MEMKB_DEFAULT;
static libxl_passthrough dom_pt = LIBXL_PASSTHROUGH_ENABLED;
static libxl_device_pci held[8];
static int nheld;
static bool dom_multifn;     /* the device model has XENGPU_MULTIFN_ARG */
static uint32_t qmp_used[4]; /* what each query-pci answers, in turn */
static int nqmp, qmp_rc;

int __wrap_xengpu__qmp_used_slots(xentoollog_logger *lg,
                                  xentoollog_level level, const char *dir,
                                  uint32_t domid, int timeout_ms,
                                  uint32_t *used_r);
int __wrap_xengpu__qmp_used_slots(xentoollog_logger *lg,
                                  xentoollog_level level, const char *dir,
                                  uint32_t domid, int timeout_ms,
                                  uint32_t *used_r)
{
    (void)lg, (void)level, (void)dir, (void)domid, (void)timeout_ms;
    if (qmp_rc) return qmp_rc;
    *used_r = qmp_used[nqmp < 3 ? nqmp++ : 3];
    return 0;
}

static void note(const char *what, const libxl_device_pci *p)
{
    size_t n = strlen(calls);

    if (p->vdevfn)
        snprintf(calls + n, sizeof(calls) - n, "%s %02x:%02x.%x@%02x.%x;",
                 what, p->bus, p->dev, p->func, p->vdevfn >> 3, p->vdevfn & 7);
    else
        snprintf(calls + n, sizeof(calls) - n, "%s %02x:%02x.%x;", what,
                 p->bus, p->dev, p->func);
}

int __wrap_libxl_ctx_alloc(libxl_ctx **pctx, int version, unsigned flags,
                           xentoollog_logger *lg);
int __wrap_libxl_ctx_alloc(libxl_ctx **pctx, int version, unsigned flags,
                           xentoollog_logger *lg)
{
    (void)version, (void)flags, (void)lg;
    *pctx = (libxl_ctx *)&nadd;
    return 0;
}

int __wrap_libxl_ctx_free(libxl_ctx *ctx);
int __wrap_libxl_ctx_free(libxl_ctx *ctx)
{
    (void)ctx;
    return 0;
}

int __wrap_libxl_device_pci_add(libxl_ctx *ctx, uint32_t domid,
                                libxl_device_pci *pci,
                                const libxl_asyncop_how *how);
int __wrap_libxl_device_pci_add(libxl_ctx *ctx, uint32_t domid,
                                libxl_device_pci *pci,
                                const libxl_asyncop_how *how)
{
    (void)ctx, (void)domid, (void)how;
    note("add", pci);
    if (nadd++ == fail_add_at) return ERROR_FAIL;
    held[nheld++] = *pci;
    return 0;
}

static void unhold(const libxl_device_pci *p)
{
    int i;

    for (i = 0; i < nheld; i++)
        if (held[i].bus == p->bus && held[i].dev == p->dev &&
            held[i].func == p->func) {
            held[i] = held[--nheld];
            return;
        }
}

int __wrap_libxl_device_pci_remove(libxl_ctx *ctx, uint32_t domid,
                                   libxl_device_pci *pci,
                                   const libxl_asyncop_how *how);
int __wrap_libxl_device_pci_remove(libxl_ctx *ctx, uint32_t domid,
                                   libxl_device_pci *pci,
                                   const libxl_asyncop_how *how)
{
    (void)ctx, (void)domid, (void)how;
    note("remove", pci);
    nremove++;
    if (remove_rc) return remove_rc;
    if (remove_lies > 0) {
        remove_lies--;
        return 0;
    }
    unhold(pci);
    return 0;
}

int __wrap_libxl_device_pci_destroy(libxl_ctx *ctx, uint32_t domid,
                                    libxl_device_pci *pci,
                                    const libxl_asyncop_how *how);
int __wrap_libxl_device_pci_destroy(libxl_ctx *ctx, uint32_t domid,
                                    libxl_device_pci *pci,
                                    const libxl_asyncop_how *how)
{
    (void)ctx, (void)domid, (void)how;
    note("destroy", pci);
    ndestroy++;
    unhold(pci);
    return 0;
}

libxl_device_pci *__wrap_libxl_device_pci_list(libxl_ctx *ctx, uint32_t domid,
                                               int *num);
libxl_device_pci *__wrap_libxl_device_pci_list(libxl_ctx *ctx, uint32_t domid,
                                               int *num)
{
    libxl_device_pci *p;

    (void)ctx;
    *num = domid == 5 ? nheld : 0;
    if (!*num) return NULL;
    p = calloc(nheld, sizeof(*p));
    memcpy(p, held, nheld * sizeof(*p));
    return p;
}

void __wrap_libxl_device_pci_list_free(libxl_device_pci *list, int num);
void __wrap_libxl_device_pci_list_free(libxl_device_pci *list, int num)
{
    (void)num;
    free(list);
}

int __wrap_libxl_retrieve_domain_configuration(libxl_ctx *ctx, uint32_t domid,
                                               libxl_domain_config *cfg,
                                               const libxl_asyncop_how *how);
int __wrap_libxl_retrieve_domain_configuration(libxl_ctx *ctx, uint32_t domid,
                                               libxl_domain_config *cfg,
                                               const libxl_asyncop_how *how)
{
    (void)ctx, (void)domid, (void)how;
    cfg->c_info.type = dom_type;
    cfg->c_info.passthrough = dom_pt;
    /* What libxl reports for an HVM config without mmio_hole. */
    if (dom_type == LIBXL_DOMAIN_TYPE_HVM)
        cfg->b_info.u.hvm.mmio_hole_memkb = dom_hole_kb;
    if (dom_multifn) {
        cfg->b_info.extra_hvm = calloc(3, sizeof(char *));
        cfg->b_info.extra_hvm[0] = strdup("-global");
        cfg->b_info.extra_hvm[1] = strdup(XENGPU_MULTIFN_ARG);
    }
    return 0;
}

int __wrap_libxl_domain_info(libxl_ctx *ctx, libxl_dominfo *info,
                             uint32_t domid);
int __wrap_libxl_domain_info(libxl_ctx *ctx, libxl_dominfo *info,
                             uint32_t domid)
{
    (void)ctx;
    info->domid = domid;
    info->domain_type = dom_type;
    return domid == 5 ? 0 : ERROR_DOMAIN_NOTFOUND;
}

int __wrap_libxl_name_to_domid(libxl_ctx *ctx, const char *name,
                               uint32_t *domid);
int __wrap_libxl_name_to_domid(libxl_ctx *ctx, const char *name,
                               uint32_t *domid)
{
    (void)ctx;
    if (strcmp(name, "gpu-guest")) return ERROR_INVAL;
    *domid = 5;
    return 0;
}

/* --- fixture: the A6000 box, its card on pciback ---------------------- */

struct fix {
    struct fake_sysfs *fs;
    struct capture_log log;
    xengpu_host *host;
    xengpu_xl *xl;
    const xengpu_card *card;
};

static void on_pciback(struct fake_sysfs *fs, const char *bdf)
{
    char path[256], target[512], abs[512];

    snprintf(abs, sizeof(abs), "%s/%s/driver", fs->root,
             fake_sysfs_devdir(fs, bdf));
    unlink(abs);
    snprintf(path, sizeof(path), "%s/driver", fake_sysfs_devdir(fs, bdf));
    snprintf(target, sizeof(target), "%s/bus/pci/drivers/pciback", fs->root);
    fake_sysfs_symlink(fs, path, target);
}

static int setup(void **st)
{
    struct fix *f = calloc(1, sizeof(*f));
    xengpu_bdf b = { 0, 1, 0, 0 };

    f->fs = fake_sysfs_new();
    rc_a6000(f->fs, false); /* lspci-nvidia-rtx-a6000-x4-romane.txt */
    on_pciback(f->fs, "0000:01:00.0");
    on_pciback(f->fs, "0000:01:00.1");
    capture_log_init(&f->log);
    assert_int_equal(xengpu_host_discover(f->fs->fd, &f->log.vtable, &f->host),
                     0);
    f->card = xengpu_host_find_card(f->host, &b);
    assert_non_null(f->card);
    assert_int_equal(f->card->state, XENGPU_CARD_PREPARED);
    assert_int_equal(xengpu_xl_open(&f->log.vtable, false, &f->xl), 0);
    fail_add_at = -1;
    remove_rc = remove_lies = 0;
    nadd = nremove = ndestroy = nheld = 0;
    calls[0] = '\0';
    dom_type = LIBXL_DOMAIN_TYPE_PV;
    dom_pt = LIBXL_PASSTHROUGH_ENABLED;
    dom_hole_kb = LIBXL_MEMKB_DEFAULT;
    dom_multifn = false;
    memset(qmp_used, 0, sizeof(qmp_used));
    nqmp = qmp_rc = 0;
    *st = f;
    return 0;
}

static int teardown(void **st)
{
    struct fix *f = *st;

    xengpu_xl_close(f->xl);
    xengpu_host_free(f->host);
    capture_log_dispose(&f->log);
    fake_sysfs_free(f->fs);
    free(f);
    return 0;
}

/* --- tests ------------------------------------------------------------ */

static void attach_adds_every_function(void **st)
{
    struct fix *f = *st;

    assert_int_equal(xengpu_xl_attach(f->xl, 5, f->card), 0);
    assert_string_equal(calls, "add 01:00.0;add 01:00.1;");
    assert_int_equal(nheld, 2);
}

static void attach_failure_removes_what_was_added(void **st)
{
    struct fix *f = *st;

    fail_add_at = 1;
    assert_int_equal(xengpu_xl_attach(f->xl, 5, f->card), -EIO);
    assert_string_equal(calls, "add 01:00.0;add 01:00.1;remove 01:00.0;");
    assert_int_equal(nheld, 0);
    assert_true(capture_log_has(&f->log, "removing what was added"));
}

/* A remove that fails during the rollback falls back to destroy. */
static void attach_rollback_destroys_when_remove_fails(void **st)
{
    struct fix *f = *st;

    fail_add_at = 1;
    remove_rc = ERROR_FAIL;
    assert_int_equal(xengpu_xl_attach(f->xl, 5, f->card), -EIO);
    assert_string_equal(
        calls, "add 01:00.0;add 01:00.1;remove 01:00.0;destroy 01:00.0;");
    assert_int_equal(nheld, 0);
}

static void attach_refusals(void **st)
{
    struct fix *f = *st;
    xengpu_host *h = f->host;

    dom_type = LIBXL_DOMAIN_TYPE_PVH;
    assert_int_equal(xengpu_xl_attach(f->xl, 5, f->card), -EPERM);
    assert_true(capture_log_has(&f->log, "PVH guest"));
    dom_type = LIBXL_DOMAIN_TYPE_HVM;
    dom_pt = LIBXL_PASSTHROUGH_DISABLED;
    assert_int_equal(xengpu_xl_attach(f->xl, 5, f->card), -EPERM);
    assert_true(capture_log_has(&f->log, "passthrough = \"enabled\""));
    /* "default": allowed to try, and a failure says why it may be */
    dom_pt = LIBXL_PASSTHROUGH_DEFAULT;
    fail_add_at = 0;
    assert_int_equal(xengpu_xl_attach(f->xl, 5, f->card), -EIO);
    assert_true(capture_log_has(&f->log, "does not say passthrough"));
    assert_int_equal(nheld, 0);
    xengpu_host_set_holder(h, 0, 7);
    assert_int_equal(xengpu_xl_attach(f->xl, 5, f->card), -EBUSY);
    assert_true(capture_log_has(&f->log, "held by domain 7"));
}

/*
 * An HVM guest without mmio_hole: libxl says LIBXL_MEMKB_DEFAULT, which
 * is libxl's default hole, not a hole of 2^32 MiB (the nested bed caught
 * that).  The A6000 fits the default hole: its 64-bit BARs go high.
 */
static void attach_hvm_hole(void **st)
{
    struct fix *f = *st;

    dom_type = LIBXL_DOMAIN_TYPE_HVM;
    assert_int_equal(xengpu_xl_attach(f->xl, 5, f->card), 0);
    assert_int_equal(nheld, 2);
    assert_int_equal(xengpu_xl_detach(f->xl, 5, f->card, 0, false), 0);
    dom_hole_kb = 100 * 1024; /* below xl's range: refused, said why */
    assert_int_equal(xengpu_xl_attach(f->xl, 5, f->card), -ENOSPC);
    assert_true(capture_log_has(&f->log, "domain 5's MMIO hole is too small"));
    assert_int_equal(nheld, 0);
}

/*
 * An HVM guest whose device model takes a function 0 into a slot in use:
 * the card goes into the lowest free slot, at the host's function
 * numbers, function 0 last (QEMU refuses a function hot-plugged into a
 * slot whose function 0 is there).  On detach, the guest ejects the slot
 * whole: once it is empty, the rest is destroyed, not waited for.
 */
static void hvm_card_in_one_slot(void **st)
{
    struct fix *f = *st;

    dom_type = LIBXL_DOMAIN_TYPE_HVM;
    dom_multifn = true;
    qmp_used[0] = 0x0f; /* host bridge, PIIX, platform, VGA */
    assert_int_equal(xengpu_xl_attach(f->xl, 5, f->card), 0);
    assert_string_equal(calls, "add 01:00.1@04.1;add 01:00.0@04.0;");
    calls[0] = '\0';
    qmp_used[1] = 0x0f; /* slot 4 ejected */
    assert_int_equal(xengpu_xl_detach(f->xl, 5, f->card, 0, false), 0);
    assert_string_equal(calls, "remove 01:00.1@04.1;destroy 01:00.0@04.0;");
    assert_int_equal(nheld, 0);

    /* a device model that kept function 0: removed with consent */
    qmp_used[2] = 0x0f;
    qmp_used[3] = 0x1f;
    assert_int_equal(xengpu_xl_attach(f->xl, 5, f->card), 0);
    calls[0] = '\0';
    assert_int_equal(xengpu_xl_detach(f->xl, 5, f->card, 0, false), 0);
    assert_string_equal(calls, "remove 01:00.1@04.1;remove 01:00.0@04.0;");
}

/* A failure half way removes the functions added, in the same slot. */
static void hvm_one_slot_rollback(void **st)
{
    struct fix *f = *st;

    dom_type = LIBXL_DOMAIN_TYPE_HVM;
    dom_multifn = true;
    qmp_used[0] = 0x0000000f;
    fail_add_at = 1;
    assert_int_equal(xengpu_xl_attach(f->xl, 5, f->card), -EIO);
    assert_string_equal(
        calls, "add 01:00.1@04.1;add 01:00.0@04.0;remove 01:00.1@04.1;");
    assert_int_equal(nheld, 0);
}

/* No multifunction argument, no free slot, no answer: a slot each. */
static void hvm_slot_per_function(void **st)
{
    struct fix *f = *st;

    dom_type = LIBXL_DOMAIN_TYPE_HVM;
    assert_int_equal(xengpu_xl_attach(f->xl, 5, f->card), 0);
    assert_string_equal(calls, "add 01:00.0;add 01:00.1;");
    assert_true(capture_log_has(&f->log, "started without \"-global "
                                         "xen-pci-passthrough.multifunction"
                                         "=on\""));
    assert_int_equal(xengpu_xl_detach(f->xl, 5, f->card, 0, false), 0);
    dom_multifn = true;
    qmp_used[0] = 0xffffffff;
    calls[0] = '\0';
    assert_int_equal(xengpu_xl_attach(f->xl, 5, f->card), 0);
    assert_string_equal(calls, "add 01:00.0;add 01:00.1;");
    assert_true(capture_log_has(&f->log, "has no free PCI slot"));
    assert_int_equal(xengpu_xl_detach(f->xl, 5, f->card, 0, false), 0);
    qmp_rc = -ENOENT;
    calls[0] = '\0';
    assert_int_equal(xengpu_xl_attach(f->xl, 5, f->card), 0);
    assert_string_equal(calls, "add 01:00.0;add 01:00.1;");
    assert_true(capture_log_has(&f->log, "gets a slot of its own"));
}

static void attach_refuses_unprepared(void **st)
{
    struct fix *f = *st;
    xengpu_host *host = NULL;
    struct fake_sysfs *fs = fake_sysfs_new();
    xengpu_bdf b = { 0, 1, 0, 0 };

    rc_a6000(fs, false); /* nvidia and snd_hda_intel own it */
    assert_int_equal(xengpu_host_discover(fs->fd, NULL, &host), 0);
    assert_int_equal(
        xengpu_xl_attach(f->xl, 5, xengpu_host_find_card(host, &b)), -EINVAL);
    assert_true(capture_log_has(&f->log, "xengpu prepare 0000:01:00.0"));
    assert_int_equal(nadd, 0);
    xengpu_host_free(host);
    fake_sysfs_free(fs);
}

static void detach_removes_last_function_first(void **st)
{
    struct fix *f = *st;

    assert_int_equal(xengpu_xl_attach(f->xl, 5, f->card), 0);
    calls[0] = '\0';
    assert_int_equal(xengpu_xl_detach(f->xl, 5, f->card, 0, false), 0);
    assert_string_equal(calls, "remove 01:00.1;remove 01:00.0;");
}

/* A guest that never lets go: reported, not waited on forever. */
static void detach_timeout_and_force(void **st)
{
    struct fix *f = *st;

    assert_int_equal(xengpu_xl_attach(f->xl, 5, f->card), 0);
    remove_rc = ERROR_TIMEDOUT;
    assert_int_equal(xengpu_xl_detach(f->xl, 5, f->card, 0, false),
                     -ETIMEDOUT);
    assert_true(capture_log_has(&f->log, "did not release 0000:01:00.1"));
    assert_true(capture_log_has(&f->log, "--force"));
    assert_int_equal(nheld, 2);
    assert_int_equal(xengpu_xl_detach(f->xl, 5, f->card, 0, true), 0);
    assert_int_equal(ndestroy, 2);
    assert_int_equal(nheld, 0);
}

/*
 * libxl 4.17 says a PV remove is done when the guest had not yet
 * acknowledged the previous one: the backend still lists the function
 * (seen in nested scenario 70 on a loaded host).  Removed again; if it
 * stays, the detach fails and says so, or --force destroys it.
 */
static void detach_retries_half_removed(void **st)
{
    struct fix *f = *st;

    assert_int_equal(xengpu_xl_attach(f->xl, 5, f->card), 0);
    xengpu__relist_ms = 1;
    remove_lies = 1;
    calls[0] = '\0';
    assert_int_equal(xengpu_xl_detach(f->xl, 5, f->card, 0, false), 0);
    assert_string_equal(calls,
                        "remove 01:00.1;remove 01:00.1;remove 01:00.0;");
    assert_int_equal(nheld, 0);

    assert_int_equal(xengpu_xl_attach(f->xl, 5, f->card), 0);
    remove_lies = 100;
    assert_int_equal(xengpu_xl_detach(f->xl, 5, f->card, 0, false), -EBUSY);
    assert_true(capture_log_has(&f->log, "libxl removed 0000:01:00.1 from "
                                         "domain 5, but the domain's PCI "
                                         "backend still lists it"));
    assert_int_equal(nheld, 2);
    assert_int_equal(xengpu_xl_detach(f->xl, 5, f->card, 0, true), 0);
    assert_int_equal(nheld, 0);
    remove_lies = 0;
}

static void detach_not_held(void **st)
{
    struct fix *f = *st;

    assert_int_equal(xengpu_xl_detach(f->xl, 5, f->card, 0, false), -ENOENT);
    assert_true(capture_log_has(&f->log, "does not hold card 0000:01:00.0"));
}

static void domain_names(void **st)
{
    struct fix *f = *st;
    uint32_t d = 0;

    assert_int_equal(xengpu_xl_domid(f->xl, "5", &d), 0);
    assert_int_equal(d, 5);
    assert_int_equal(xengpu_xl_domid(f->xl, "gpu-guest", &d), 0);
    assert_int_equal(xengpu_xl_domid(f->xl, "6", &d), -ENOENT);
    assert_int_equal(xengpu_xl_domid(f->xl, "nosuch", &d), -ENOENT);
    assert_true(capture_log_has(&f->log, "no domain 'nosuch'"));
    assert_int_equal(xengpu_xl_domid(f->xl, "99999999999", &d), -ENOENT);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(attach_adds_every_function, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(attach_failure_removes_what_was_added,
                                        setup, teardown),
        cmocka_unit_test_setup_teardown(
            attach_rollback_destroys_when_remove_fails, setup, teardown),
        cmocka_unit_test_setup_teardown(attach_refusals, setup, teardown),
        cmocka_unit_test_setup_teardown(attach_hvm_hole, setup, teardown),
        cmocka_unit_test_setup_teardown(hvm_card_in_one_slot, setup, teardown),
        cmocka_unit_test_setup_teardown(hvm_one_slot_rollback, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(hvm_slot_per_function, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(attach_refuses_unprepared, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(detach_removes_last_function_first,
                                        setup, teardown),
        cmocka_unit_test_setup_teardown(detach_timeout_and_force, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(detach_retries_half_removed, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(detach_not_held, setup, teardown),
        cmocka_unit_test_setup_teardown(domain_names, setup, teardown),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
