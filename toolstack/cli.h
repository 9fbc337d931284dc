/*
 * cli.h - the xengpu command, callable in-process for tests.
 *
 * Exit status contract (design.md): 0 success; 1 a refused or failed
 * operation, with a one-line reason on stderr naming the device and what
 * to do; 2 bad usage.  xengpu_cli() and the XENGPU_EXIT_* statuses are
 * public, declared in include/xengpu.h.
 */
#ifndef XENGPU_CLI_H
#define XENGPU_CLI_H

#include <stdio.h>
#include <xengpu.h>

#endif /* XENGPU_CLI_H */
