/*
 * cli.c - option parsing and the verbs.
 *
 * Only verbs that work are listed; the others in design.md arrive with
 * the code that implements them.
 */
#include <errno.h>
#include <signal.h>
#include <getopt.h>
#include <limits.h>
#include <spawn.h>
#include <sys/wait.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "check.h"
#include "events.h"
#include "reserve.h"
#include "xstore.h"
#include "migrate/save.h"
#include "cli.h"
#include "domains.h"
#include "record.h"
#include "create.h"
#include "inventory.h"
#include "pciback-helper/host.h"
#include "pciback-helper/snapshot.h"
#include "pciback-helper/state.h"
#include "pciback-helper/util.h"

extern char **environ;

struct cli {
    FILE *out, *err;
    const char *sysfs_root; /* NULL: $XENGPU_SYSFS_ROOT or /sys */
    const char *state_dir;  /* NULL: $XENGPU_STATE_DIR or default */
    bool json, verbose, help, force, dry_run, prepare, xenstore;
    int timeout;        /* seconds for the guest (its agent, libxl's remove) */
    const char *domain; /* check --xenstore, events: --domain */
    const char *card;   /* events --card */
    bool follow;        /* events --follow */
    const char *ssh;    /* migrate -s: the transport */
    xentoollog_logger *lg;
};

struct verb {
    const char *name;
    int (*run)(struct cli *cli, int argc, char **argv);
    const char *args;
    const char *summary;
};

static int cmd_list(struct cli *cli, int argc, char **argv);
static int cmd_show(struct cli *cli, int argc, char **argv);
static int cmd_snapshot(struct cli *cli, int argc, char **argv);
static int cmd_prepare(struct cli *cli, int argc, char **argv);
static int cmd_release(struct cli *cli, int argc, char **argv);
static int cmd_recover(struct cli *cli, int argc, char **argv);
static int cmd_attach(struct cli *cli, int argc, char **argv);
static int cmd_detach(struct cli *cli, int argc, char **argv);
static int cmd_migrate(struct cli *cli, int argc, char **argv);
static int cmd_migrate_receive(struct cli *cli, int argc, char **argv);
static int cmd_create(struct cli *cli, int argc, char **argv);
static int cmd_check(struct cli *cli, int argc, char **argv);
static int cmd_events(struct cli *cli, int argc, char **argv);
static int cmd_save(struct cli *cli, int argc, char **argv);
static int cmd_restore(struct cli *cli, int argc, char **argv);

static const struct verb verbs[] = {
    { "list", cmd_list, "[--json]", "show the host's GPU cards" },
    { "show", cmd_show, "[--json] CARD",
      "show one card; CARD is any of its functions' addresses or its slot" },
    { "snapshot", cmd_snapshot, "DIR",
      "copy the sysfs attributes of every PCI device into DIR (new or\n"
      "      empty) for a bug report; `xengpu --sysfs-root DIR list` reads\n"
      "      it back.  Run as root: others see only 64 bytes of config" },
    { "prepare", cmd_prepare, "[--force] CARD",
      "move every function of CARD to xen-pciback, remembering its\n"
      "      drivers; refuses dom0's boot VGA and cards that are not\n"
      "      isolated unless --force" },
    { "release", cmd_release, "CARD",
      "give every function of CARD back to its original driver" },
    { "recover", cmd_recover, "",
      "finish or undo operations a crash or kill interrupted" },
    { "attach", cmd_attach, "[--prepare] [--timeout S] [--force] DOMAIN CARD",
      "hot-plug every function of a prepared CARD into DOMAIN (a name\n"
      "      or id); --prepare prepares it first; refuses a host without\n"
      "      interrupt remapping unless --force" },
    { "detach", cmd_detach, "[--timeout S] [--force] DOMAIN CARD",
      "remove every function of CARD from DOMAIN, waiting up to S\n"
      "      seconds for the guest to let go; --force removes it anyway" },
    { "create", cmd_create,
      "[--dry-run] [--force] CONFIG [KEY=VALUE...] [-- XL-OPTIONS]",
      "create a domain whose xl CONFIG has gpu = [...]: pick free cards,\n"
      "      prepare them and run xl create with their pci entries;\n"
      "      --dry-run prints the resolved lines instead" },
    { "check", cmd_check, "[--json] [--xenstore [--domain DOMAIN]]",
      "is this host ready for GPU passthrough (Xen, IOMMU, interrupt\n"
      "      remapping, quarantine, xen-pciback)?  One line per problem\n"
      "      with its fix; exit status 1 when there is a problem.\n"
      "      --xenstore checks the live xenstore against xengpu's schema\n"
      "      instead (only DOMAIN's nodes with --domain)" },
    { "save", cmd_save, "[--timeout S] [--force] DOMAIN FILE",
      "save DOMAIN with its cards to FILE: ask its agent to let go, unplug\n"
      "      the cards (reserved for it meanwhile), xl save, then the cards\n"
      "      go back to the pool; on failure they go back into the guest" },
    { "restore", cmd_restore, "[--timeout S] [--force] FILE",
      "restore a domain saved by `xengpu save`, plugging in for each of\n"
      "      its cards a free one its gpu_compat allows (the same one when\n"
      "      free); on failure nothing is left and FILE is unchanged" },
    { "migrate", cmd_migrate,
      "[-s COMMAND] [--timeout S] [--force] DOMAIN HOST",
      "move the HVM DOMAIN with its cards to HOST, live: HOST reserves a\n"
      "      compatible card first, the guest lets go of its own, xl\n"
      "      migrate moves it, HOST plugs the reserved card in before the\n"
      "      guest runs there; on any failure it runs here with its cards.\n"
      "      -s replaces ssh (run as COMMAND HOST xengpu migrate-receive)" },
    { "migrate-receive", cmd_migrate_receive,
      "check|incoming|finish|cancel UUID",
      "the destination's side of migrate, run by it through ssh" },
    { "events", cmd_events,
      "[--json] [--follow] [--domain DOMAIN] [--card CARD]",
      "print the log of what xengpu did (prepare, release, attach,\n"
      "      detach, recover: before and after each), one line per event;\n"
      "      --follow keeps printing new events until interrupted" },
};

static const struct option options[] = {
    { "sysfs-root", required_argument, NULL, 'r' },
    { "state-dir", required_argument, NULL, 'D' },
    { "ssh", required_argument, NULL, 's' },
    { "json", no_argument, NULL, 'j' },
    { "verbose", no_argument, NULL, 'v' },
    { "force", no_argument, NULL, 'f' },
    { "prepare", no_argument, NULL, 'p' },
    { "timeout", required_argument, NULL, 't' },
    { "dry-run", no_argument, NULL, 'n' },
    { "xenstore", no_argument, NULL, 'x' },
    { "domain", required_argument, NULL, 'd' },
    { "card", required_argument, NULL, 'c' },
    { "follow", no_argument, NULL, 'F' },
    { "help", no_argument, NULL, 'h' },
    { NULL, 0, NULL, 0 },
};

static void usage(FILE *f)
{
    size_t i;

    fprintf(f, "usage: xengpu [--sysfs-root DIR] [--state-dir DIR] [-v] "
               "VERB [ARGS]\n\nverbs:\n");
    for (i = 0; i < ARRAY_SIZE(verbs); i++)
        fprintf(f, "  %s %s\n      %s\n", verbs[i].name, verbs[i].args,
                verbs[i].summary);
    fprintf(f, "\noptions:\n"
               "  --sysfs-root DIR  read sysfs from DIR (default "
               "$XENGPU_SYSFS_ROOT, else /sys)\n"
               "  --state-dir DIR   state directory (default "
               "$XENGPU_STATE_DIR, else /var/lib/xengpu)\n"
               "  --json            print JSON instead of text\n"
               "  -v, --verbose     log more\n"
               "  --force           prepare a boot VGA or non-isolated card\n"
               "  -h, --help        print this help (also after a verb)\n"
               "\nexit status: 0 success, 1 refused or failed, 2 bad "
               "usage\n");
}

static int bad_usage(struct cli *cli, const char *what, const char *arg)
{
    fprintf(cli->err, "xengpu: %s%s%s\nTry 'xengpu --help'.\n", what,
            arg ? ": " : "", arg ? arg : "");
    return XENGPU_EXIT_USAGE;
}

/* Parse options from ARGV[optind]; STOP_AT_VERB for the global ones. */
static int parse_options(struct cli *cli, int argc, char **argv,
                         bool stop_at_verb)
{
    int c;

    opterr = 0;
    while ((c = getopt_long(argc, argv, stop_at_verb ? "+vh" : "vhs:", options,
                            NULL)) != -1) {
        switch (c) {
        case 'r':
            cli->sysfs_root = optarg;
            break;
        case 'D':
            cli->state_dir = optarg;
            break;
        case 's':
            cli->ssh = optarg;
            break;
        case 'j':
            cli->json = true;
            break;
        case 'v':
            cli->verbose = true;
            break;
        case 'h':
            cli->help = true;
            break;
        case 'f':
            cli->force = true;
            break;
        case 'p':
            cli->prepare = true;
            break;
        case 't': {
            char *end;
            long t = strtol(optarg, &end, 10);

            if (*end || end == optarg || t < 0 || t > 3600)
                return bad_usage(cli, "--timeout wants seconds, 0 to 3600",
                                 optarg);
            cli->timeout = t;
            break;
        }
        case 'n':
            cli->dry_run = true;
            break;
        case 'x':
            cli->xenstore = true;
            break;
        case 'd':
            cli->domain = optarg;
            break;
        case 'c':
            cli->card = optarg;
            break;
        case 'F':
            cli->follow = true;
            break;
        default:
            return bad_usage(cli, "unknown or incomplete option",
                             argv[optind - 1]);
        }
    }
    return XENGPU_EXIT_OK;
}

/*
 * Which domain holds which card: only libxl knows, and only for root on
 * a Xen dom0.  Elsewhere (a snapshot, a user) cards show no domain.
 */
static void annotate(struct cli *cli, xengpu_host *host)
{
    xengpu_xl *xl = NULL;

    if (cli->sysfs_root || getenv("XENGPU_SYSFS_ROOT") ||
        xengpu_xl_open(cli->lg, true, &xl))
        return;
    xengpu_xl_annotate(xl, host);
    xengpu_xl_close(xl);
}

static int discover(struct cli *cli, xengpu_host **host_r)
{
    int fd, rc;

    rc = xengpu_sysfs_open_root(cli->sysfs_root, cli->lg, &fd);
    if (rc) return rc;
    rc = xengpu_host_discover(fd, cli->lg, host_r);
    close(fd);
    if (!rc) annotate(cli, *host_r);
    return rc;
}

static int print_json(struct cli *cli, int rc, char *json)
{
    if (rc) {
        fprintf(cli->err, "xengpu: cannot generate JSON\n");
        return XENGPU_EXIT_FAIL;
    }
    fputs(json, cli->out);
    free(json);
    return XENGPU_EXIT_OK;
}

static void notes(const xengpu_card *card, char *buf, size_t size)
{
    snprintf(buf, size, "%s%s%s%s%s%s", card->boot_vga ? " boot-vga" : "",
             card->is_vf ? " vf" : "", card->dead ? " fell-off-bus" : "",
             card->reset_quirk ? " reset-quirk" : "",
             card->shares_with ? " shares-iommu-with:" : "",
             card->shares_with ? card->shares_with->name : "");
}

static void list_text(struct cli *cli, const xengpu_host *host)
{
    const xengpu_card *card;
    char note[128];
    size_t i;

    fprintf(cli->out, "%-13s %-9s %-6s %3s %-15s %-8s %-8s %s\n", "CARD", "ID",
            "CLASS", "FNS", "RESET", "ISOLATED", "STATE", "NOTES");
    for (i = 0; i < xengpu_host_ncards(host); i++) {
        card = xengpu_host_card(host, i);
        notes(card, note, sizeof(note));
        fprintf(cli->out, "%-13s %04x:%04x %06x %3zu %-15s %-8s %-8s %s\n",
                card->fns[0]->name, card->fns[0]->vendor, card->fns[0]->device,
                card->fns[0]->class, card->nfns,
                xengpu_reset_name(card->reset), card->isolated ? "yes" : "no",
                xengpu_card_state_name(card->state), note[0] ? note + 1 : "-");
    }
}

static int cmd_list(struct cli *cli, int argc, char **argv)
{
    xengpu_host *host = NULL;
    char *json = NULL;
    int rc;

    (void)argv;
    if (argc > 0) return bad_usage(cli, "list takes no arguments", argv[0]);
    if (discover(cli, &host)) return XENGPU_EXIT_FAIL;
    if (cli->json) {
        rc = xengpu_inventory_json(host, true, &json);
        rc = print_json(cli, rc, json);
    } else {
        list_text(cli, host);
        rc = XENGPU_EXIT_OK;
    }
    xengpu_host_free(host);
    return rc;
}

static void human_size(uint64_t size, char *buf, size_t len)
{
    static const char units[] = "KMGTPE";
    int u = -1;

    while (size >= 1024 && !(size % 1024) && u < 5) {
        size /= 1024;
        u++;
    }
    if (u < 0)
        snprintf(buf, len, "%llu", (unsigned long long)size);
    else
        snprintf(buf, len, "%llu%c", (unsigned long long)size, units[u]);
}

static void show_bars(struct cli *cli, const xengpu_pcidev *dev)
{
    const xengpu_bar *bar;
    char size[24];
    unsigned i;

    for (i = 0; dev->res_known && i < dev->res.nbars; i++) {
        bar = &dev->res.bars[i];
        human_size(bar->size, size, sizeof(size));
        fprintf(cli->out, "      BAR%u %s %s%s%s\n", bar->index,
                bar->assigned ? size : "unassigned",
                bar->io     ? "io"
                : bar->is64 ? "mem64"
                            : "mem32",
                bar->prefetch ? " prefetchable" : "",
                dev->res.has_rom && i + 1 == dev->res.nbars ? " (+ROM)" : "");
    }
}

static void show_function(struct cli *cli, const xengpu_pcidev *dev)
{
    fprintf(cli->out, "    %s %04x:%04x class %06x driver %s reset %s",
            dev->name, dev->vendor, dev->device, dev->class,
            dev->driver ? dev->driver : "-", xengpu_reset_name(dev->reset));
    if (dev->iommu_group >= 0)
        fprintf(cli->out, " iommu_group %d", dev->iommu_group);
    fprintf(cli->out, "%s\n", dev->dead ? " FELL OFF THE BUS" : "");
    show_bars(cli, dev);
}

static void show_text(struct cli *cli, const xengpu_card *card)
{
    size_t i;

    fprintf(cli->out, "card %s (%04x:%04x, class %06x)%s\n",
            card->fns[0]->name, card->primary->vendor, card->primary->device,
            card->primary->class, card->is_vf ? ", SR-IOV VF" : "");
    fprintf(cli->out, "  state:    %s\n", xengpu_card_state_name(card->state));
    fprintf(cli->out, "  reset:    %s%s\n", xengpu_reset_name(card->reset),
            card->reset_quirk ? " (model known to misbehave on reset)" : "");
    fprintf(cli->out, "  isolated: %s (from %s)%s%s%s%s\n",
            card->isolated ? "yes" : "no",
            card->groups_from_sysfs ? "IOMMU groups" : "PCIe topology/ACS",
            card->not_isolated_why ? ": " : "",
            card->not_isolated_why ? card->not_isolated_why : "",
            card->shares_with ? " with " : "",
            card->shares_with ? card->shares_with->name : "");
    fprintf(cli->out, "  boot VGA: %s\n", card->boot_vga ? "yes" : "no");
    for (i = 0; i < card->nupstream; i++)
        fprintf(cli->out, "  upstream: %s%s\n", card->upstream[i]->name,
                i < card->nswitch_ports ? " (on-card switch port)" : "");
    fprintf(cli->out, "  functions:\n");
    for (i = 0; i < card->nfns; i++)
        show_function(cli, card->fns[i]);
}

static int find_card(struct cli *cli, const xengpu_host *host, const char *arg,
                     const xengpu_card **card_r)
{
    xengpu_bdf bdf;
    size_t i;

    if (!xengpu_bdf_parse(arg, 0, &bdf)) {
        *card_r = xengpu_host_find_card(host, &bdf);
    } else if (!xengpu_slot_parse(arg, 0, &bdf)) {
        *card_r = NULL;
        for (i = 0; i < xengpu_host_ncards(host) && !*card_r; i++)
            if (xengpu_bdf_same_slot(&xengpu_host_card(host, i)->fns[0]->bdf,
                                     &bdf))
                *card_r = xengpu_host_card(host, i);
    } else {
        return bad_usage(cli, "not a PCI address (DDDD:BB:DD.F or BB:DD)",
                         arg);
    }
    if (*card_r) return XENGPU_EXIT_OK;
    fprintf(cli->err,
            "xengpu: show: no GPU card has a function at %s; "
            "'xengpu list' shows the cards\n",
            arg);
    return XENGPU_EXIT_FAIL;
}

static int cmd_show(struct cli *cli, int argc, char **argv)
{
    const xengpu_card *card = NULL;
    xengpu_host *host = NULL;
    char *json = NULL;
    int rc;

    if (argc != 1) return bad_usage(cli, "show needs exactly one CARD", NULL);
    if (xengpu_bdf_parse(argv[0], 0, &(xengpu_bdf){ 0 }) &&
        xengpu_slot_parse(argv[0], 0, &(xengpu_bdf){ 0 }))
        return bad_usage(cli, "not a PCI address (DDDD:BB:DD.F or BB:DD)",
                         argv[0]);
    if (discover(cli, &host)) return XENGPU_EXIT_FAIL;
    rc = find_card(cli, host, argv[0], &card);
    if (rc) goto out;
    if (cli->json) {
        rc = xengpu_card_json(host, card, true, &json);
        rc = print_json(cli, rc, json);
    } else {
        show_text(cli, card);
    }
out:
    xengpu_host_free(host);
    return rc;
}

static void snapshot_report(struct cli *cli, const char *dir,
                            const xengpu_snapshot_info *info)
{
    fprintf(cli->out, "snapshot of %u PCI functions written to %s\n",
            info->copied, dir);
    if (info->skipped)
        fprintf(cli->err,
                "xengpu: snapshot: %u PCI functions left out, see the "
                "warnings above\n",
                info->skipped);
    if (info->cfg_short)
        fprintf(cli->err,
                "xengpu: snapshot: config space of %u functions is "
                "incomplete (only %zu bytes readable: Linux shows the rest "
                "only to root); run 'xengpu snapshot' as root for a "
                "complete one (see %s/%s)\n",
                info->cfg_short, info->cfg_short_len, dir,
                XENGPU_SNAPSHOT_NOTE);
}

static int cmd_snapshot(struct cli *cli, int argc, char **argv)
{
    xengpu_snapshot_info info;
    int fd, rc;

    if (argc != 1)
        return bad_usage(cli, "snapshot needs exactly one DIR", NULL);
    if (cli->json)
        return bad_usage(cli, "snapshot prints no data; --json does not apply",
                         NULL);
    if (xengpu_sysfs_open_root(cli->sysfs_root, cli->lg, &fd))
        return XENGPU_EXIT_FAIL;
    rc = xengpu_snapshot_take(fd, argv[0], cli->lg, &info);
    close(fd);
    if (rc) return XENGPU_EXIT_FAIL;
    snapshot_report(cli, argv[0], &info);
    return XENGPU_EXIT_OK;
}

/*
 * prepare, release and recover run in the privileged helper, which
 * sits beside this program (both are installed in the same directory);
 * never looked up in $PATH.
 */
static int helper_path(struct cli *cli, char *buf, size_t size)
{
    char self[PATH_MAX];
    ssize_t n = readlink("/proc/self/exe", self, sizeof(self) - 1);
    char *slash;

    if (n <= 0) {
        fprintf(cli->err, "xengpu: cannot find its own path in /proc\n");
        return -1;
    }
    self[n] = '\0';
    slash = strrchr(self, '/');
    *slash = '\0';
    if ((size_t)snprintf(buf, size, "%s/xengpu-pciback", self) >= size ||
        access(buf, X_OK)) {
        fprintf(cli->err,
                "xengpu: %s/xengpu-pciback is missing; "
                "reinstall xengpu\n",
                self);
        return -1;
    }
    return 0;
}

/* Run xengpu-pciback OP [CARD] and return its exit status. */
/*
 * The pre and post events around an operation.  The pre event runs the
 * admin's hooks; one that refuses stops the operation (its reason is
 * logged).  Every begun operation ends with exactly one post event.
 */
struct op_events {
    xengpu_events *h;
    xengpu_event e;
};

static int op_begin(struct cli *cli, struct op_events *o,
                    xengpu_event_kind kind, const xengpu_bdf *card, long domid,
                    const char *name)
{
    xengpu_events_config cfg;
    char *reason = NULL;
    int r;

    xengpu_events_config_init(&cfg);
    cfg.state_dir = cli->state_dir;
    xengpu_events_open(&cfg, cli->lg, &o->h);
    xengpu_event_init(&o->e, kind, XENGPU_PHASE_PRE);
    xengpu_event_set_card(&o->e, card);
    if (domid >= 0) xengpu_event_set_domain(&o->e, domid, name);
    r = xengpu_event_emit(o->h, &o->e, &reason);
    if (!r) return 0;
    xengpu_event_init(&o->e, kind, XENGPU_PHASE_POST);
    xengpu_event_set_card(&o->e, card);
    if (domid >= 0) xengpu_event_set_domain(&o->e, domid, name);
    xengpu_event_set_result(&o->e, r, reason);
    xengpu_event_emit(o->h, &o->e, NULL);
    xengpu_events_close(o->h);
    free(reason);
    return r;
}

/* RC: an exit status. */
static void op_end(struct op_events *o, int rc)
{
    xengpu_event post;

    xengpu_event_init(&post, o->e.kind, XENGPU_PHASE_POST);
    post.has_card = o->e.has_card;
    post.card = o->e.card;
    post.domid = o->e.domid;
    memcpy(post.domain, o->e.domain, sizeof(post.domain));
    xengpu_event_set_result(&post, rc ? -EIO : 0,
                            rc ? "failed; the command said why" : NULL);
    xengpu_event_emit(o->h, &post, NULL);
    xengpu_events_close(o->h);
}

static int run_helper(struct cli *cli, const char *op, const char *card)
{
    char path[PATH_MAX], bdf[XENGPU_BDF_STRLEN];
    char *argv[12];
    int argc = 0, status = 0, rc;
    struct op_events ev;
    xengpu_bdf b;
    pid_t pid;

    if (cli->json) return bad_usage(cli, "--json does not apply to", op);
    if (card) {
        if (xengpu_bdf_parse(card, 0, &b))
            return bad_usage(cli,
                             "not a PCI address (DDDD:BB:DD.F or "
                             "BB:DD.F)",
                             card);
        xengpu_bdf_format(&b, bdf, sizeof(bdf));
    }
    if (helper_path(cli, path, sizeof(path))) return XENGPU_EXIT_FAIL;
    argv[argc++] = path;
    if (cli->sysfs_root) {
        argv[argc++] = "--sysfs-root";
        argv[argc++] = (char *)cli->sysfs_root;
    }
    if (cli->state_dir) {
        argv[argc++] = "--state-dir";
        argv[argc++] = (char *)cli->state_dir;
    }
    if (cli->force) argv[argc++] = "--force";
    argv[argc++] = (char *)op;
    if (card) argv[argc++] = bdf;
    argv[argc] = NULL;
    if (op_begin(cli, &ev,
                 !strcmp(op, "prepare")   ? XENGPU_EVENT_PREPARE
                 : !strcmp(op, "release") ? XENGPU_EVENT_RELEASE
                                          : XENGPU_EVENT_RECOVER,
                 card ? &b : NULL, -1, NULL))
        return XENGPU_EXIT_FAIL;
    fflush(cli->out);
    fflush(cli->err);
    rc = XENGPU_EXIT_FAIL;
    if (posix_spawn(&pid, path, NULL, NULL, argv, environ)) {
        fprintf(cli->err, "xengpu: cannot run %s\n", path);
    } else {
        while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
            ;
        if (WIFEXITED(status)) rc = WEXITSTATUS(status);
    }
    op_end(&ev, rc);
    return rc;
}

static int cmd_prepare(struct cli *cli, int argc, char **argv)
{
    if (argc != 1)
        return bad_usage(cli, "prepare needs exactly one CARD", NULL);
    return run_helper(cli, "prepare", argv[0]);
}

static int cmd_release(struct cli *cli, int argc, char **argv)
{
    if (argc != 1)
        return bad_usage(cli, "release needs exactly one CARD", NULL);
    if (cli->force)
        return bad_usage(cli, "--force does not apply to", "release");
    return run_helper(cli, "release", argv[0]);
}

static int cmd_recover(struct cli *cli, int argc, char **argv)
{
    (void)argv;
    if (argc != 0) return bad_usage(cli, "recover takes no arguments", NULL);
    int rc, n;

    if (cli->force)
        return bad_usage(cli, "--force does not apply to", "recover");
    rc = run_helper(cli, "recover", NULL);
    if (rc) return rc;
    n = xengpu_save_recover(cli->state_dir, cli->lg);
    if (n > 0)
        fprintf(cli->out,
                "finished or undid %d interrupted save, restore or "
                "migration%s\n",
                n, n == 1 ? "" : "s");
    n = xengpu_request_prune(cli->state_dir, cli->lg);
    if (n > 0)
        fprintf(cli->out,
                "forgot the GPU requests of %d domain%s that no "
                "longer run\n",
                n, n == 1 ? "" : "s");
    return n < 0 ? XENGPU_EXIT_FAIL : XENGPU_EXIT_OK;
}

static int create_prepare(void *opaque, const char *bdf)
{
    return run_helper(opaque, "prepare", bdf);
}

/* The domain's request, by UUID, for restore and migration. */
static int create_record(void *opaque, const xengpu_domcfg *cfg,
                         const xengpu_resolution *res)
{
    struct cli *cli = opaque;
    const char **specs;
    xengpu_bdf *cards;
    xengpu_request req;
    size_t i;
    int r;

    if (!cfg->name) return -EINVAL;
    specs = xengpu__xcalloc(cfg->ngpus, sizeof(*specs));
    cards = xengpu__xcalloc(res->n, sizeof(*cards));
    for (i = 0; i < cfg->ngpus; i++)
        specs[i] = cfg->gpus[i].text;
    for (i = 0; i < res->n; i++)
        cards[i] = res->choices[i].card->fns[0]->bdf;
    req = (xengpu_request){ cfg->name, specs,           cfg->ngpus,     cards,
                            res->n,    cfg->gpu_unplug, cfg->gpu_compat };
    xengpu_request_prune(cli->state_dir, cli->lg); /* best effort */
    r = xengpu_request_record(cli->state_dir, &req, cli->lg);
    free(specs);
    free(cards);
    return r;
}

static int create_release(void *opaque, const char *bdf)
{
    struct cli *cli = opaque;
    bool force = cli->force;
    int rc;

    cli->force = false;
    rc = run_helper(cli, "release", bdf);
    cli->force = force;
    return rc;
}

/*
 * A guest given a device on a host without interrupt remapping can
 * forge interrupts (MSIs) into the host: refuse, naming the fix, unless
 * --force.  Where Xen's boot messages have left its console ring and the
 * command line does not say, nothing is known and nothing refused.
 */
static int check_intremap(struct cli *cli)
{
    xengpu_check_facts facts;
    int fd;

    if (cli->force || cli->dry_run) return 0;
    if (xengpu_sysfs_open_root(cli->sysfs_root, cli->lg, &fd)) return -1;
    xengpu_check_facts_init(&facts);
    xengpu_check_gather(fd, cli->lg, &facts);
    close(fd);
    if (facts.console.intremap != XENGPU_TRI_NO &&
        facts.cmdline.intremap != XENGPU_TRI_NO)
        return 0;
    fprintf(cli->err, "xengpu: Xen runs without interrupt remapping, so a "
                      "guest given a card could inject interrupts into the "
                      "host; enable it (firmware, and no iommu=no-intremap "
                      "on Xen's command line) or use --force to accept "
                      "that\n");
    return -1;
}

/* Cards reserved for a domain on the move count as held (not dry runs). */
static void add_reserved(struct cli *cli, const xengpu_host *host,
                         xengpu_held_fn **fns, size_t *n)
{
    const xengpu_card *c;
    size_t i;

    if (cli->dry_run) return;
    for (i = 0; i < xengpu_host_ncards(host); i++) {
        c = xengpu_host_card(host, i);
        if (xengpu_reserved(&c->fns[0]->bdf, NULL, cli->lg) != 1) continue;
        *fns = xengpu__xreallocarray(*fns, *n + 1, sizeof(**fns));
        (*fns)[*n].bdf = c->fns[0]->bdf;
        (*fns)[(*n)++].domid = XENGPU_DOMID_RESERVED;
    }
}

static int cmd_create(struct cli *cli, int argc, char **argv)
{
    xengpu_create_ops ops = { create_prepare, create_release, create_record,
                              cli };
    xengpu_create_req req = { .dry_run = cli->dry_run,
                              .force = cli->force,
                              .ops = &ops,
                              .out = cli->out };
    xengpu_held held = { NULL, 0 };
    xengpu_held_fn *fns = NULL;
    xengpu_host *host = NULL;
    int rc, lock = -1;

    if (argc < 1) return bad_usage(cli, "create needs a CONFIG", NULL);
    if (cli->json) return bad_usage(cli, "--json does not apply to", "create");
    if (check_intremap(cli)) return XENGPU_EXIT_FAIL;
    /* from looking at the host until the cards are in the domain */
    if (!cli->dry_run &&
        (lock = xengpu__choose_lock(cli->state_dir, cli->lg)) < 0)
        return XENGPU_EXIT_FAIL;
    if (discover(cli, &host)) {
        xengpu__choose_unlock(lock);
        return XENGPU_EXIT_FAIL;
    }
    if (xengpu_held_query(cli->lg, &fns, &held.n)) {
        if (!cli->dry_run) {
            xengpu_host_free(host);
            xengpu__choose_unlock(lock);
            return XENGPU_EXIT_FAIL;
        }
        fprintf(cli->err, "xengpu: create: dry run without libxl: assuming "
                          "no domain holds a card\n");
    }
    add_reserved(cli, host, &fns, &held.n);
    held.fns = fns;
    req.config = argv[0];
    req.args = argv + 1;
    req.nargs = (size_t)argc - 1;
    req.host = host;
    req.held = &held;
    rc = xengpu_create(&req, cli->lg);
    xengpu__choose_unlock(lock);
    free(fns);
    xengpu_host_free(host);
    return rc;
}

/* check --xenstore [--domain D] */
static int check_xenstore(struct cli *cli)
{
    xengpu_xl *xl = NULL;
    uint32_t domid;
    long dom = -1;
    int r;

    if (cli->domain) {
        r = xengpu_xl_open(cli->lg, false, &xl);
        if (!r) r = xengpu_xl_domid(xl, cli->domain, &domid);
        xengpu_xl_close(xl);
        if (r) return XENGPU_EXIT_FAIL;
        dom = domid;
    }
    r = xengpu_xstore_check(cli->out, cli->json, dom, cli->lg);
    if (r < 0) return XENGPU_EXIT_FAIL;
    if (r == 0) return XENGPU_EXIT_OK;
    fprintf(cli->err,
            "xengpu: check: %d xenstore node%s break%s xengpu's schema "
            "(/usr/share/xengpu/xenstore-schema)\n",
            r, r == 1 ? "" : "s", r == 1 ? "s" : "");
    return XENGPU_EXIT_FAIL;
}

static int cmd_check(struct cli *cli, int argc, char **argv)
{
    xengpu_check_facts facts;
    xengpu_check_report rep;
    char *text = NULL;
    int fd, rc;

    if (argc > 0) return bad_usage(cli, "check takes no arguments", argv[0]);
    if (cli->domain && !cli->xenstore)
        return bad_usage(cli, "--domain is for", "check --xenstore");
    if (cli->xenstore) return check_xenstore(cli);
    if (xengpu_sysfs_open_root(cli->sysfs_root, cli->lg, &fd))
        return XENGPU_EXIT_FAIL;
    xengpu_check_facts_init(&facts);
    xengpu_check_gather(fd, cli->lg, &facts);
    close(fd);
    xengpu_check_assess(&facts, &rep);
    if (cli->json) {
        rc = xengpu_check_json(&facts, &rep, &text);
        if (print_json(cli, rc, text)) return XENGPU_EXIT_FAIL;
    } else {
        xengpu_check_text(&facts, &rep, &text);
        fputs(text, cli->out);
        free(text);
    }
    if (!rep.problems) return XENGPU_EXIT_OK;
    fprintf(cli->err,
            "xengpu: check: not ready for GPU passthrough; fix the "
            "problem%s above\n",
            rep.problems == 1 ? "" : "s");
    return XENGPU_EXIT_FAIL;
}

/* Look CARD up in a fresh, annotated view of the host. */
static int card_for(struct cli *cli, const char *arg, xengpu_host **host_r,
                    const xengpu_card **card_r)
{
    xengpu_bdf b;

    if (xengpu_bdf_parse(arg, 0, &b))
        return bad_usage(cli, "not a PCI address (DDDD:BB:DD.F or BB:DD.F)",
                         arg);
    if (discover(cli, host_r)) return XENGPU_EXIT_FAIL;
    *card_r = xengpu_host_find_card(*host_r, &b);
    if (!*card_r) {
        fprintf(cli->err,
                "xengpu: no GPU card at %s; `xengpu list` shows "
                "the host's cards\n",
                arg);
        return XENGPU_EXIT_FAIL;
    }
    return XENGPU_EXIT_OK;
}

/* A card reserved for a domain on the move is not for attach. */
static int not_reserved(struct cli *cli, const xengpu_card *card)
{
    char uuid[XENGPU_UUID_STRLEN];
    int r = xengpu_reserved(&card->fns[0]->bdf, uuid, cli->lg);

    if (r == 1 && !cli->force) {
        LOG(cli->lg, ERROR,
            "card %s is reserved for domain %s by a save, restore or "
            "migration in progress; wait for it to finish, run `xengpu "
            "recover` if it was interrupted, or attach with --force",
            card->fns[0]->name, uuid);
        return -EBUSY;
    }
    return 0;
}

/* CARD and the cards DOMID holds already, in DOMID's MMIO hole. */
static int fits_with_others(struct cli *cli, xengpu_xl *xl,
                            const xengpu_host *host, uint32_t domid,
                            const xengpu_card *card)
{
    size_t i, n = 0, total = xengpu_host_ncards(host);
    const xengpu_card **cards = xengpu__xcalloc(total + 1, sizeof(*cards));
    int r;

    (void)cli;
    for (i = 0; i < total; i++) {
        const xengpu_card *c = xengpu_host_card(host, i);
        if (c->state == XENGPU_CARD_ASSIGNED && c->domid == (long)domid &&
            c != card)
            cards[n++] = c;
    }
    cards[n++] = card;
    r = xengpu__xl_fits(xl, domid, cards, n);
    free(cards);
    return r;
}

/* How long a guest's agent gets to answer, seconds. */
#define AGENT_TIMEOUT(cli) ((cli)->timeout ? (cli)->timeout : 10)

static int attach_detach(struct cli *cli, int argc, char **argv, bool attach)
{
    struct op_events ev;
    bool begun = false;
    const xengpu_card *card = NULL;
    xengpu_host *host = NULL;
    xengpu_xl *xl = NULL;
    uint32_t domid;
    int rc;

    if (argc != 2)
        return bad_usage(cli, "needs DOMAIN and CARD",
                         attach ? "attach" : "detach");
    if (cli->json)
        return bad_usage(cli, "--json does not apply to",
                         attach ? "attach" : "detach");
    rc = card_for(cli, argv[1], &host, &card);
    if (rc) goto out;
    rc = XENGPU_EXIT_FAIL;
    if (xengpu_xl_open(cli->lg, false, &xl) ||
        xengpu_xl_domid(xl, argv[0], &domid))
        goto out;
    if (attach && cli->prepare && card->state == XENGPU_CARD_HOST) {
        rc = run_helper(cli, "prepare", argv[1]);
        if (rc) goto out;
        xengpu_host_free(host);
        host = NULL;
        rc = card_for(cli, argv[1], &host, &card);
        if (rc) goto out;
        rc = XENGPU_EXIT_FAIL;
    }
    if (op_begin(cli, &ev, attach ? XENGPU_EVENT_ATTACH : XENGPU_EVENT_DETACH,
                 &card->fns[0]->bdf, domid,
                 strspn(argv[0], "0123456789") == strlen(argv[0]) ? NULL
                                                                  : argv[0]))
        goto out;
    begun = true;
    if (attach && not_reserved(cli, card)) goto out;
    if (attach && fits_with_others(cli, xl, host, domid, card)) goto out;
    if (!attach &&
        xengpu_guest_release(domid, card->fns[0]->name, AGENT_TIMEOUT(cli),
                             cli->force, cli->lg))
        goto out;
    if (attach ? xengpu_xl_attach(xl, domid, card)
               : xengpu_xl_detach(xl, domid, card, cli->timeout, cli->force))
        goto out;
    if (attach)
        xengpu_guest_plugged(domid, card->fns[0]->name, AGENT_TIMEOUT(cli),
                             cli->lg);
    fprintf(cli->out, "card %s %s domain %u\n", card->fns[0]->name,
            attach ? "attached to" : "detached from", domid);
    rc = XENGPU_EXIT_OK;
out:
    if (begun) op_end(&ev, rc);
    xengpu_xl_close(xl);
    xengpu_host_free(host);
    return rc;
}

static int cmd_attach(struct cli *cli, int argc, char **argv)
{
    if (argc == 2 && check_intremap(cli)) return XENGPU_EXIT_FAIL;
    return attach_detach(cli, argc, argv, true);
}

static int cmd_detach(struct cli *cli, int argc, char **argv)
{
    if (cli->prepare) return bad_usage(cli, "--prepare is for", "attach");
    return attach_detach(cli, argc, argv, false);
}

static int save_restore(struct cli *cli, int argc, char **argv, bool save)
{
    xengpu_save_ops ops = { create_prepare, create_release, cli };
    xengpu_save_req req = { .state_dir = cli->state_dir,
                            .timeout = cli->timeout,
                            .force = cli->force,
                            .out = cli->out,
                            .ops = &ops };

    if (argc != (save ? 2 : 1))
        return bad_usage(
            cli, save ? "save needs DOMAIN and FILE" : "restore needs a FILE",
            NULL);
    if (cli->json || cli->prepare || cli->dry_run)
        return bad_usage(cli, "only --timeout and --force apply to",
                         save ? "save" : "restore");
    if (check_intremap(cli)) return XENGPU_EXIT_FAIL;
    req.domain = save ? argv[0] : NULL;
    req.file = argv[save ? 1 : 0];
    return (save ? xengpu_save(&req, cli->lg) : xengpu_restore(&req, cli->lg))
               ? XENGPU_EXIT_FAIL
               : XENGPU_EXIT_OK;
}

static int cmd_save(struct cli *cli, int argc, char **argv)
{
    return save_restore(cli, argc, argv, true);
}

static int cmd_restore(struct cli *cli, int argc, char **argv)
{
    return save_restore(cli, argc, argv, false);
}

static int cmd_migrate(struct cli *cli, int argc, char **argv)
{
    xengpu_save_ops ops = { create_prepare, create_release, cli };
    xengpu_save_req req = { .state_dir = cli->state_dir,
                            .timeout = cli->timeout,
                            .force = cli->force,
                            .out = cli->out,
                            .ops = &ops,
                            .transport = cli->ssh };

    if (argc != 2)
        return bad_usage(cli, "migrate needs DOMAIN and HOST", NULL);
    if (cli->json || cli->prepare || cli->dry_run)
        return bad_usage(cli, "only -s, --timeout and --force apply to",
                         "migrate");
    if (check_intremap(cli)) return XENGPU_EXIT_FAIL;
    req.domain = argv[0];
    req.host = argv[1];
    return xengpu_migrate(&req, cli->lg) ? XENGPU_EXIT_FAIL : XENGPU_EXIT_OK;
}

static int cmd_migrate_receive(struct cli *cli, int argc, char **argv)
{
    xengpu_save_ops ops = { create_prepare, create_release, cli };
    /* Standard output is the migration's channel: progress to stderr. */
    xengpu_save_req req = { .state_dir = cli->state_dir,
                            .timeout = cli->timeout,
                            .force = cli->force,
                            .out = cli->err,
                            .ops = &ops };

    if (argc != 2)
        return bad_usage(cli, "migrate-receive needs a mode and a UUID", NULL);
    if (cli->json || cli->prepare || cli->dry_run || cli->ssh)
        return bad_usage(cli, "no options apply to", "migrate-receive");
    req.uuid = argv[1];
    return xengpu_migrate_receive(&req, argv[0], cli->lg) ? XENGPU_EXIT_FAIL
                                                          : XENGPU_EXIT_OK;
}

static volatile sig_atomic_t interrupted;

static void on_signal(int sig)
{
    (void)sig;
    interrupted = 1;
}

static bool stop_following(void *arg)
{
    (void)arg;
    return interrupted;
}

static int cmd_events(struct cli *cli, int argc, char **argv)
{
    struct sigaction sa = { .sa_handler = on_signal };
    xengpu_events_config cfg;
    xengpu_events_query q;
    xengpu_events *h = NULL;
    xengpu_xl *xl = NULL;
    uint32_t domid;
    int r;

    if (argc > 0) return bad_usage(cli, "events takes no arguments", argv[0]);
    xengpu_events_query_init(&q);
    q.text = !cli->json;
    q.follow = cli->follow;
    if (cli->card) {
        if (xengpu_bdf_parse(cli->card, 0, &q.card))
            return bad_usage(cli, "not a PCI address (DDDD:BB:DD.F)",
                             cli->card);
        q.has_card = true;
    }
    if (cli->domain) {
        r = xengpu_xl_open(cli->lg, false, &xl);
        if (!r) r = xengpu_xl_domid(xl, cli->domain, &domid);
        xengpu_xl_close(xl);
        if (r) return XENGPU_EXIT_FAIL;
        q.domid = domid;
    }
    if (q.follow) {
        sigaction(SIGINT, &sa, NULL);
        sigaction(SIGTERM, &sa, NULL);
        q.stop = stop_following;
    }
    xengpu_events_config_init(&cfg);
    cfg.state_dir = cli->state_dir;
    xengpu_events_open(&cfg, cli->lg, &h);
    r = xengpu_events_print(h, &q, cli->out);
    xengpu_events_close(h);
    return r ? XENGPU_EXIT_FAIL : XENGPU_EXIT_OK;
}

static const struct verb *find_verb(const char *name)
{
    size_t i;

    for (i = 0; i < ARRAY_SIZE(verbs); i++)
        if (!strcmp(verbs[i].name, name)) return &verbs[i];
    return NULL;
}

static int run_verb(struct cli *cli, int argc, char **argv)
{
    const struct verb *verb = find_verb(argv[0]);
    int rc;

    if (!verb) return bad_usage(cli, "unknown verb", argv[0]);
    optind = 0; /* glibc: full reinitialisation for the verb's options */
    rc = parse_options(cli, argc, argv, false);
    if (rc) return rc;
    if (cli->help) {
        fprintf(cli->out, "usage: xengpu %s %s\n  %s\n", verb->name,
                verb->args, verb->summary);
        return XENGPU_EXIT_OK;
    }
    cli->lg = (xentoollog_logger *)xtl_createlogger_stdiostream(
        cli->err, cli->verbose ? XTL_DEBUG : XTL_WARN, 0);
    if (!cli->lg) xengpu__oom();
    rc = verb->run(cli, argc - optind, argv + optind);
    xtl_logger_destroy(cli->lg);
    return rc;
}

int xengpu_cli(int argc, char **argv, FILE *out, FILE *err)
{
    struct cli cli = { .out = out, .err = err };
    int rc;

    optind = 0;
    rc = parse_options(&cli, argc, argv, true);
    if (rc) return rc;
    if (optind >= argc) {
        if (cli.help) {
            usage(out);
            return XENGPU_EXIT_OK;
        }
        usage(err);
        return XENGPU_EXIT_USAGE;
    }
    rc = run_verb(&cli, argc - optind, argv + optind);
    fflush(out);
    return rc;
}
