/* procs.c — how many processes run this program: cli_launched reads what an MPI launcher (mpirun,
 * mpiexec, srun) puts in the environment, in every build, so that a program built without MPI can
 * refuse to run as N copies. Without MPI the functions of mpi.c are the one-process ones here. */
#include <stdlib.h>

#include "cli.h"

/* The first of the variables that is set, as a whole number, or -1. */
static long env_number(const char *const *names) {
    for (int i = 0; names[i]; i++) {
        const char *s = getenv(names[i]);
        char *end;
        if (s && *s) {
            long v = strtol(s, &end, 10);
            if (!*end && v >= 0) return v;
        }
    }
    return -1;
}

int cli_launched(int *rank, int *size) {
    static const char *const sizes[] = {"OMPI_COMM_WORLD_SIZE", "PMI_SIZE", "PMIX_SIZE", NULL};
    static const char *const ranks[] = {"OMPI_COMM_WORLD_RANK", "PMI_RANK", "PMIX_RANK", NULL};
    long s = env_number(sizes), r = env_number(ranks);
    if (s < 1 || r < 0 || r >= s) {
        *rank = 0, *size = 1;
        return 0;
    }
    *rank = (int)r, *size = (int)s;
    return 1;
}

#ifndef CURVO_HAVE_MPI
int cli_procs_start(int *argc, char ***argv) {
    (void)argc, (void)argv;
    return -1;
}
int cli_procs_rank(void) { return 0; }
int cli_procs_size(void) { return 1; }
curvo_comm *cli_procs_comm(void) { return NULL; }
int cli_procs_agree(int code) { return code; }
int cli_procs_first(int value) { return value; }
int cli_procs_end(int code) { return code; }
#endif
