/*
 * cli.h - the xengpu command, callable in-process for tests.
 *
 * Exit status contract (design.md): 0 success; 1 a refused or failed
 * operation, with a one-line reason on stderr naming the device and what
 * to do; 2 bad usage.
 */
#ifndef XENGPU_CLI_H
#define XENGPU_CLI_H

#include <stdio.h>

#define XENGPU_EXIT_OK 0
#define XENGPU_EXIT_FAIL 1
#define XENGPU_EXIT_USAGE 2

/*
 * Run `xengpu ARGV[1] ...`, writing results to OUT and diagnostics to
 * ERR.  Returns the exit status.  Uses getopt_long, so not reentrant.
 */
int xengpu_cli(int argc, char **argv, FILE *out, FILE *err);

#endif /* XENGPU_CLI_H */
