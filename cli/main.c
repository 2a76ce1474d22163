/* main.c — the `curvo` command-line program: subcommands over the public library API only.
 *   curvo train  trains a network on a dataset; curvo eval evaluates a saved one
 *   curvo bench  compares optimizers over seeds: logs and a summary table
 *   curvo plot   draws benchmark logs as a four-panel figure (PNG, SVG)
 *   curvo demo   trains a small network on generated data (two interleaved spirals)
 *   curvo info   prints a model's layers and parameter count
 *   curvo rl     trains a DQN agent on a built-in environment (docs/RL.md)
 * Under mpirun (built with MPI) `curvo train` trains on all the processes; the other commands run
 * on one process and refuse more (docs/DISTRIBUTED.md).
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
            "  rl      reinforcement learning: DQN on CartPole or Acrobot with any optimizer\n"
            "\n"
            "Run 'curvo COMMAND --help' for the options of a command.\n"
            "Under mpirun, 'curvo train' trains on all the processes (see 'curvo train --help').\n");
}

/* Under a launcher: `train` joins the processes (MPI); other commands run on one process. */
static int run_command(const char *cmd, int argc, char **argv, int rank, int size) {
    if (!strcmp(cmd, "train")) {
        if (size > 1 && !curvo_have_mpi()) {
            if (rank == 0)
                fprintf(stderr, "curvo train: this curvo is built without MPI and cannot train on %d processes; run "
                                "it without mpirun, or rebuild it with Open MPI installed\n", size);
            return 2;
        }
        int rc = cli_procs_start(&argc, &argv);
        if (rc >= 0) return rc;
        return cli_procs_end(cli_train(argc - 1, argv + 1));
    }
    int known = 0;
    for (const char *const *c = (const char *const[]){"eval", "bench", "plot", "demo", "info", "rl", NULL}; *c; c++)
        known |= !strcmp(cmd, *c);
    if (!known) {
        if (rank == 0) fprintf(stderr, "curvo: unknown command '%s' (see 'curvo --help')\n", cmd);
        return 2;
    }
    if (size > 1) {
        if (rank == 0)
            fprintf(stderr, "curvo %s: runs on one process, not %d; under mpirun only 'curvo train' runs on "
                            "several (use -np 1, or run it without mpirun)\n", cmd, size);
        return 2;
    }
    if (!strcmp(cmd, "eval")) return cli_eval(argc - 1, argv + 1);
    if (!strcmp(cmd, "bench")) return cli_bench(argc - 1, argv + 1);
    if (!strcmp(cmd, "plot")) return cli_plot(argc - 1, argv + 1);
    if (!strcmp(cmd, "demo")) return cli_demo(argc - 1, argv + 1);
    if (!strcmp(cmd, "rl")) return cli_rl(argc - 1, argv + 1);
    return cli_info(argc - 1, argv + 1);
}

int main(int argc, char **argv) {
    int rank, size;
    cli_launched(&rank, &size); /* under mpirun: this process's rank and the number of processes */
    FILE *err = rank == 0 ? stderr : NULL; /* the usage and errors below: rank 0's alone */
    if (argc < 2) {
        if (err) usage(err);
        return 2;
    }
    const char *cmd = argv[1];
    if (!strcmp(cmd, "--help") || !strcmp(cmd, "-h") || !strcmp(cmd, "help")) {
        if (rank == 0) usage(stdout);
        return 0;
    }
    if (!strcmp(cmd, "--version") || !strcmp(cmd, "version")) {
        if (rank == 0) printf("curvo %s\n", curvo_version());
        return 0;
    }
    return run_command(cmd, argc, argv, rank, size);
}
