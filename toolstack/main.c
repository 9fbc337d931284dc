/*
 * main.c - the xengpu command.
 */
#include <stdio.h>

#include "cli.h"

int main(int argc, char **argv)
{
    return xengpu_cli(argc, argv, stdout, stderr);
}
