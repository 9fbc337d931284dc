/*
 * xengpu-pciback - the privileged half of xengpu: the only program that
 * moves PCI functions between dom0's drivers and xen-pciback.
 *
 * It takes a short allowlist of requests on its command line and parses
 * each argument strictly (a card address must be a PCI address; nothing
 * else is accepted), so a caller cannot make it write anything but the
 * bind/unbind files of the functions of a discovered card:
 *
 *   xengpu-pciback [OPTIONS] prepare CARD [--force]
 *   xengpu-pciback [OPTIONS] release CARD
 *   xengpu-pciback [OPTIONS] recover
 *
 * Exit status: 0 done, 1 refused or failed (the reason on stderr), 2 bad
 * usage.
 */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <xentoollog.h>

#include "pciback.h"

static void usage(FILE *f)
{
    fputs("usage: xengpu-pciback [OPTIONS] prepare CARD [--force]\n"
          "       xengpu-pciback [OPTIONS] release CARD\n"
          "       xengpu-pciback [OPTIONS] recover\n"
          "\n"
          "Moves every function of a GPU card to xen-pciback (prepare) or\n"
          "back to its original drivers (release), journaled so that\n"
          "`recover` can finish or undo an interrupted operation.\n"
          "CARD is any function's PCI address: 0000:01:00.0 or 01:00.0.\n"
          "\n"
          "Options:\n"
          "  --sysfs-root DIR     read and write sysfs below DIR (tests)\n"
          "  --state-dir DIR      journal, locks, records (default\n"
          "                       /var/lib/xengpu or $XENGPU_STATE_DIR)\n"
          "  --modprobe-conf FILE boot-time pciback configuration to keep\n"
          "                       (default /etc/modprobe.d/"
          "xengpu-pciback.conf; \"\" for none)\n"
          "  --force              prepare a boot VGA or non-isolated card\n"
          "  -q, --quiet          errors only\n"
          "  -h, --help           this text\n",
          f);
}

enum { OPT_SYSFS = 256, OPT_STATE, OPT_CONF };

static const struct option longopts[] = {
    { "sysfs-root", required_argument, NULL, OPT_SYSFS },
    { "state-dir", required_argument, NULL, OPT_STATE },
    { "modprobe-conf", required_argument, NULL, OPT_CONF },
    { "force", no_argument, NULL, 'f' },
    { "quiet", no_argument, NULL, 'q' },
    { "help", no_argument, NULL, 'h' },
    { NULL, 0, NULL, 0 },
};

static int run(xengpu_pciback *pb, const char *op, const xengpu_bdf *card,
               unsigned flags)
{
    size_t n = 0;
    int r;

    if (!strcmp(op, "prepare")) return xengpu_pciback_prepare(pb, card, flags);
    if (!strcmp(op, "release")) return xengpu_pciback_release(pb, card, flags);
    r = xengpu_pciback_recover(pb, &n);
    if (!r)
        printf("%zu interrupted operation%s recovered\n", n,
               n == 1 ? "" : "s");
    return r;
}

int main(int argc, char **argv)
{
    xengpu_pciback_opts opts = { NULL, NULL, NULL };
    xentoollog_level level = XTL_NOTICE;
    xentoollog_logger_stdiostream *lg;
    xengpu_pciback *pb = NULL;
    unsigned flags = 0;
    xengpu_bdf card;
    const char *op;
    int c, r;

    while ((c = getopt_long(argc, argv, "+fqh", longopts, NULL)) != -1) {
        switch (c) {
        case OPT_SYSFS:
            opts.sysfs_root = optarg;
            break;
        case OPT_STATE:
            opts.state_dir = optarg;
            break;
        case OPT_CONF:
            opts.modprobe_conf = optarg;
            break;
        case 'f':
            flags |= XENGPU_PCIBACK_FORCE;
            break;
        case 'q':
            level = XTL_ERROR;
            break;
        case 'h':
            usage(stdout);
            return 0;
        default:
            usage(stderr);
            return 2;
        }
    }
    /* "prepare CARD --force" reads naturally: accept it after the card */
    if (argc - optind == 3 && !strcmp(argv[optind], "prepare") &&
        !strcmp(argv[optind + 2], "--force")) {
        flags |= XENGPU_PCIBACK_FORCE;
        argc--;
    }
    if (optind >= argc) {
        usage(stderr);
        return 2;
    }
    op = argv[optind++];
    if (!strcmp(op, "recover")) {
        if (optind != argc) {
            fprintf(stderr, "xengpu-pciback: recover takes no arguments\n");
            return 2;
        }
    } else if (!strcmp(op, "prepare") || !strcmp(op, "release")) {
        if (argc - optind != 1) {
            fprintf(stderr, "xengpu-pciback: %s takes one CARD address\n", op);
            return 2;
        }
        if (xengpu_bdf_parse(argv[optind], 0, &card)) {
            fprintf(stderr,
                    "xengpu-pciback: '%s' is not a PCI address "
                    "(expected DDDD:BB:DD.F or BB:DD.F)\n",
                    argv[optind]);
            return 2;
        }
    } else {
        fprintf(stderr,
                "xengpu-pciback: unknown request '%s' (prepare, "
                "release, recover)\n",
                op);
        return 2;
    }

    lg = xtl_createlogger_stdiostream(stderr, level,
                                      XTL_STDIOSTREAM_HIDE_PROGRESS);
    if (!lg) {
        fprintf(stderr, "xengpu-pciback: out of memory\n");
        return 1;
    }
    r = xengpu_pciback_open(&opts, (xentoollog_logger *)lg, &pb);
    if (!r) r = run(pb, op, &card, flags);
    xengpu_pciback_close(pb);
    xtl_logger_destroy((xentoollog_logger *)lg);
    return r ? 1 : 0;
}
