/*
 * main.c - the xengpu-guest command: options, signals and the loop
 * around agent.c.  See xengpu-guest(8).
 */
#include <errno.h>
#include <getopt.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/signalfd.h>
#include <unistd.h>

#include "agent.h"

#define VERSION "0.1"

static void usage(FILE *f)
{
    fprintf(f,
            "Usage: xengpu-guest [OPTION]...\n"
            "The guest's side of xengpu's cooperation protocol: let go of "
            "the GPU\nbefore dom0 unplugs it, run hooks around it.  Runs "
            "as root in a Linux\nXen guest, until stopped.\n\n"
            "  -d, --hooks DIR     run the hooks in DIR (default %s)\n"
            "  -t, --timeout S     seconds all hooks of one request get "
            "(default %d)\n"
            "      --no-unbind     leave the card's drivers bound on "
            "release\n"
            "      --base PATH     the protocol's xenstore directory "
            "(default %s)\n"
            "  -h, --help          this help\n"
            "  -V, --version       the version\n\n"
            "Hooks run as `HOOK release` in name order before the card "
            "goes,\n`HOOK plugged` in reverse order after it came (back).  "
            "A hook that\nexits non-zero on release refuses the unplug; "
            "its first line of\noutput is the reason dom0 prints.\n",
            XENGPU_GUEST_HOOKS_DIR, XENGPU_GUEST_DEADLINE, XENGPU_GUEST_BASE);
}

static int parse_args(int argc, char **argv, struct xengpu_agent_cfg *cfg)
{
    static const struct option opts[] = {
        { "hooks", required_argument, NULL, 'd' },
        { "timeout", required_argument, NULL, 't' },
        { "no-unbind", no_argument, NULL, 'U' },
        { "base", required_argument, NULL, 'B' },
        { "help", no_argument, NULL, 'h' },
        { "version", no_argument, NULL, 'V' },
        { NULL, 0, NULL, 0 },
    };
    char *end;
    long v;
    int c;

    while ((c = getopt_long(argc, argv, "d:t:hV", opts, NULL)) != -1) {
        switch (c) {
        case 'd':
            cfg->hooks_dir = optarg;
            break;
        case 't':
            errno = 0;
            v = strtol(optarg, &end, 10);
            if (errno || *end || v < 1 || v > 3600) {
                fprintf(stderr,
                        "xengpu-guest: --timeout '%s': give "
                        "whole seconds, 1 to 3600\n",
                        optarg);
                return 2;
            }
            cfg->deadline_s = (unsigned)v;
            break;
        case 'U':
            cfg->unbind = false;
            break;
        case 'B':
            cfg->base = optarg;
            break;
        case 'h':
            usage(stdout);
            return 0;
        case 'V':
            printf("xengpu-guest %s\n", VERSION);
            return 0;
        default:
            usage(stderr);
            return 2;
        }
    }
    if (optind != argc) {
        fprintf(stderr, "xengpu-guest: unexpected argument '%s'\n",
                argv[optind]);
        return 2;
    }
    return -1;
}

/* Serve until a signal or a xenstore failure.  The exit status. */
static int serve(xengpu_agent *agent, struct xs_handle *xs, int sfd)
{
    struct pollfd p[2] = { { xs_fileno(xs), POLLIN, 0 }, { sfd, POLLIN, 0 } };
    struct signalfd_siginfo si;
    int r;

    for (;;) {
        if (poll(p, 2, -1) < 0) {
            if (errno == EINTR) continue;
            xengpu_agent_log("poll: %s", strerror(errno));
            return 1;
        }
        if (p[1].revents) {
            if (read(sfd, &si, sizeof(si)) == (ssize_t)sizeof(si))
                xengpu_agent_log("stopping on signal %u", si.ssi_signo);
            return 0;
        }
        if ((r = xengpu_agent_step(agent)) < 0) {
            xengpu_agent_log("xenstore failed: %s", strerror(-r));
            return 1;
        }
    }
}

int main(int argc, char **argv)
{
    struct xengpu_agent_cfg cfg;
    xengpu_agent *agent = NULL;
    struct xs_handle *xs;
    sigset_t set;
    int rc, sfd;

    xengpu_agent_cfg_init(&cfg);
    if ((rc = parse_args(argc, argv, &cfg)) >= 0) return rc;
    sigemptyset(&set);
    sigaddset(&set, SIGTERM);
    sigaddset(&set, SIGINT);
    sigaddset(&set, SIGHUP);
    if (sigprocmask(SIG_BLOCK, &set, NULL) < 0 ||
        (sfd = signalfd(-1, &set, SFD_CLOEXEC)) < 0) {
        xengpu_agent_log("signalfd: %s", strerror(errno));
        return 1;
    }
    signal(SIGPIPE, SIG_IGN);
    if (!(xs = xs_open(0))) {
        xengpu_agent_log("cannot reach xenstore (%s): is this a Xen guest "
                         "with xenfs or /dev/xen/xenbus?",
                         strerror(errno));
        return 1;
    }
    if ((rc = xengpu_agent_start(&cfg, xs, &agent))) {
        xs_close(xs);
        return 1;
    }
    xengpu_agent_log("serving %s, hooks in %s", cfg.base, cfg.hooks_dir);
    rc = serve(agent, xs, sfd);
    xengpu_agent_stop(agent);
    xs_close(xs);
    return rc;
}
