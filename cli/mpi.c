/* mpi.c — the curvo program under mpirun (built only with MPI; docs/DISTRIBUTED.md, "The curvo
 * command under mpirun"). cli_procs_start initializes MPI when a launcher started the process,
 * broadcasts rank 0's command line so that every rank parses the same options, and silences the
 * other ranks (stdout to /dev/null, stderr kept in a temporary file, so that the line a failing rank
 * printed can be reported once as "curvo: rank R: ..."). cli_procs_agree makes every rank leave a
 * phase with one exit code; a rank that failed alone and whose peers do not reach the agreement
 * within CLI_AGREE_TIMEOUT seconds (they wait in a collective of the library) aborts the job. */
#define _POSIX_C_SOURCE 200809L
#include <fcntl.h>
#include <mpi.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "cli.h"
#include "curvo_mpi.h"

#define CLI_AGREE_TIMEOUT 10.0 /* seconds a failed rank waits for the others before MPI_Abort */

static int started, world_rank, world_size;
static curvo_comm *comm;
static int saved_stderr = -1;   /* the rank's real stderr (ranks other than 0) */
static FILE *captured;          /* what the rank printed to stderr (ranks other than 0) */
static char **argv_copy;        /* rank 0's command line, as every rank parses it */

int cli_procs_rank(void) { return world_rank; }
int cli_procs_size(void) { return started ? world_size : 1; }
curvo_comm *cli_procs_comm(void) { return comm; }

/* Rank 0's argv to every rank: lengths, then the bytes; *argc, *argv replaced on every rank. */
static int bcast_argv(int *argc, char ***argv) {
    long len = 0;
    if (world_rank == 0)
        for (int i = 0; i < *argc; i++) len += (long)strlen((*argv)[i]) + 1;
    long head[2] = {*argc, len};
    if (MPI_Bcast(head, 2, MPI_LONG, 0, MPI_COMM_WORLD) != MPI_SUCCESS) return 0;
    char *buf = malloc((size_t)head[1] + 1);
    argv_copy = calloc((size_t)head[0] + 1, sizeof *argv_copy);
    if (!buf || !argv_copy) return 0;
    if (world_rank == 0)
        for (int i = 0, at = 0; i < *argc; i++) at += sprintf(buf + at, "%s", (*argv)[i]) + 1;
    if (MPI_Bcast(buf, (int)head[1], MPI_CHAR, 0, MPI_COMM_WORLD) != MPI_SUCCESS) return 0;
    for (long i = 0, at = 0; i < head[0]; i++) {
        argv_copy[i] = buf + at;
        at += (long)strlen(buf + at) + 1;
    }
    *argc = (int)head[0];
    *argv = argv_copy;
    return 1;
}

/* Ranks other than 0: stdout to /dev/null, stderr into an unlinked temporary file. */
static void silence(void) {
    fflush(stdout);
    fflush(stderr);
    int null = open("/dev/null", O_WRONLY);
    if (null >= 0) dup2(null, STDOUT_FILENO), close(null);
    saved_stderr = dup(STDERR_FILENO);
    captured = tmpfile();
    if (captured) dup2(fileno(captured), STDERR_FILENO);
}

int cli_procs_start(int *argc, char ***argv) {
    int ls, lr;
    if (!cli_launched(&lr, &ls)) return -1; /* a plain run: no MPI at all */
    if (MPI_Init(argc, argv) != MPI_SUCCESS) {
        if (lr == 0) fprintf(stderr, "curvo: MPI could not be initialized\n");
        return 1;
    }
    started = 1;
    MPI_Comm_rank(MPI_COMM_WORLD, &world_rank);
    MPI_Comm_size(MPI_COMM_WORLD, &world_size);
    if (world_rank != 0) silence();
    int ok = bcast_argv(argc, argv);
    int rc = ok ? curvo_comm_from_mpi(MPI_COMM_WORLD, &comm) : CURVO_E_NOMEM;
    if (rc) {
        fprintf(stderr, "curvo: the processes could not be joined: %s\n", curvo_strerror(rc));
        MPI_Abort(MPI_COMM_WORLD, 1);
    }
    return -1;
}

/* The last line this rank printed to stderr, without its "curvo: " or "curvo CMD: " prefix. */
static void last_line(char *out, size_t len) {
    char buf[4096];
    out[0] = '\0';
    struct stat st;
    if (!captured || fstat(fileno(captured), &st) || st.st_size <= 0) return;
    off_t from = st.st_size > (off_t)sizeof buf - 1 ? st.st_size - (off_t)sizeof buf + 1 : 0;
    ssize_t n = pread(fileno(captured), buf, sizeof buf - 1, from);
    if (n <= 0) return;
    while (n > 0 && (buf[n - 1] == '\n' || buf[n - 1] == '\r')) n--;
    buf[n] = '\0';
    char *line = strrchr(buf, '\n');
    line = line ? line + 1 : buf;
    char *cr = strrchr(line, '\r'); /* a progress bar's last redraw */
    if (cr) line = cr + 1;
    if (!strncmp(line, "curvo", 5)) {
        char *colon = strstr(line, ": ");
        if (colon && colon - line < 16) line = colon + 2;
    }
    snprintf(out, len, "%.1000s", line);
}

/* The one line naming this rank and its failure, on its real stderr (once). */
static void report(int code) {
    static int reported;
    if (reported) return;
    reported = 1;
    char line[1024];
    last_line(line, sizeof line);
    char msg[1200];
    int n = line[0] ? snprintf(msg, sizeof msg, "curvo: rank %d: %s\n", world_rank, line)
                    : snprintf(msg, sizeof msg, "curvo: rank %d: failed (exit code %d)\n", world_rank, code);
    if (n > 0 && write(saved_stderr >= 0 ? saved_stderr : STDERR_FILENO, msg, (size_t)n) < 0) return;
}

static double now(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + 1e-9 * (double)t.tv_nsec;
}

/* The first non-zero of the ranks' codes in rank order (0 if none) and its rank; a failed rank
 * (code != 0) aborts the job if the others do not join within CLI_AGREE_TIMEOUT. */
static int first_nonzero(int code, int *from) {
    int *all = malloc((size_t)world_size * sizeof *all);
    if (!all) {
        if (world_rank != 0) report(code);
        MPI_Abort(MPI_COMM_WORLD, code ? code : 1);
    }
    MPI_Request req;
    MPI_Iallgather(&code, 1, MPI_INT, all, 1, MPI_INT, MPI_COMM_WORLD, &req);
    double t0 = now();
    for (int done = 0;;) {
        MPI_Test(&req, &done, MPI_STATUS_IGNORE);
        if (done) break;
        if (code && now() - t0 > CLI_AGREE_TIMEOUT) { /* the others wait elsewhere: end the job */
            if (world_rank != 0) report(code);
            MPI_Abort(MPI_COMM_WORLD, code);
        }
        struct timespec ms = {0, 1000000};
        nanosleep(&ms, NULL);
    }
    int agreed = all[0];
    *from = 0;
    for (int r = 1; r < world_size && !agreed; r++)
        if (all[r]) agreed = all[r], *from = r;
    free(all);
    return agreed;
}

int cli_procs_agree(int code) {
    if (!started || world_size == 1) return code;
    int from, agreed = first_nonzero(code, &from);
    if (agreed > 0 && from == world_rank && world_rank != 0) report(agreed);
    return agreed;
}

int cli_procs_first(int value) {
    if (!started || world_size == 1) return value;
    int from;
    return first_nonzero(value, &from);
}

int cli_procs_end(int code) {
    if (!started) return code;
    int agreed = code;
    MPI_Allreduce(&code, &agreed, 1, MPI_INT, MPI_MAX, MPI_COMM_WORLD);
    curvo_comm_free(comm);
    comm = NULL;
    MPI_Finalize();
    if (argv_copy) free(argv_copy[0]);
    free(argv_copy);
    if (captured) fclose(captured);
    return agreed;
}
