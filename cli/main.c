/* main.c — the `curvo` command-line program: subcommands over the public library API only.
 *   curvo train  trains a network on a dataset; curvo eval evaluates a saved one
 *   curvo bench  compares optimizers over seeds: logs and a summary table
 *   curvo plot   draws benchmark logs as a four-panel figure (PNG, SVG)
 *   curvo demo   trains a small network on generated data (two interleaved spirals)
 *   curvo info   prints a model's layers and parameter count
 */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "curvo.h"

static void usage(FILE *to) {
    fprintf(to,
            "usage: curvo [--help] [--version] COMMAND [OPTIONS]\n"
            "\n"
            "curvo trains neural networks with stochastic second-order optimizers.\n"
            "\n"
            "commands:\n"
            "  train   train a network on a dataset (default: Fashion-MNIST) with an optimizer\n"
            "  eval    evaluate a saved model on a dataset\n"
            "  bench   compare optimizers on one dataset and model over seeds (logs, summary tables)\n"
            "  plot    draw benchmark logs as a figure (PNG and SVG; needs PLplot)\n"
            "  demo    train a small network on generated data (spirals) and report progress\n"
            "  info    print a model's layers, output shape and parameter count\n"
            "\n"
            "Run 'curvo COMMAND --help' for the options of a command.\n");
}

int main(int argc, char **argv) {
    if (argc < 2) {
        usage(stderr);
        return 2;
    }
    const char *cmd = argv[1];
    if (!strcmp(cmd, "--help") || !strcmp(cmd, "-h") || !strcmp(cmd, "help")) {
        usage(stdout);
        return 0;
    }
    if (!strcmp(cmd, "--version") || !strcmp(cmd, "version")) {
        printf("curvo %s\n", curvo_version());
        return 0;
    }
    if (!strcmp(cmd, "train")) return cli_train(argc - 1, argv + 1);
    if (!strcmp(cmd, "eval")) return cli_eval(argc - 1, argv + 1);
    if (!strcmp(cmd, "bench")) return cli_bench(argc - 1, argv + 1);
    if (!strcmp(cmd, "plot")) return cli_plot(argc - 1, argv + 1);
    if (!strcmp(cmd, "demo")) return cli_demo(argc - 1, argv + 1);
    if (!strcmp(cmd, "info")) return cli_info(argc - 1, argv + 1);
    fprintf(stderr, "curvo: unknown command '%s' (see 'curvo --help')\n", cmd);
    return 2;
}
