/* outputs.c — checks made before any work starts, so that a long run cannot end in an output it
 * cannot write: an output path's folder exists and takes a new file (a probe file is created and
 * removed there; an existing file at the path is never opened for writing), two outputs are not one
 * file under different spellings; and the warning for more --threads than cores. */
#define _XOPEN_SOURCE 700 /* realpath, O_CLOEXEC */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cli.h"

/* The folder part of path ("." when it has none) into dir. */
static void folder_of(const char *path, char *dir, size_t len) {
    const char *slash = strrchr(path, '/');
    if (!slash) snprintf(dir, len, ".");
    else if (slash == path) snprintf(dir, len, "/");
    else snprintf(dir, len, "%.*s", (int)(slash - path), path);
}

/* Creates and removes a file in dir; 0 and errno set if that fails. */
static int folder_takes_files(const char *dir) {
    char probe[PATH_MAX + 64];
    snprintf(probe, sizeof probe, "%s/.curvo-probe.%ld", dir, (long)getpid());
    int fd = open(probe, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
    if (fd < 0) return 0;
    close(fd);
    unlink(probe);
    return 1;
}

int cli_check_output(const char *opt, const char *given, int is_folder) {
    char dir[PATH_MAX], path[PATH_MAX];
    struct stat st;
    if (!given[0] || strlen(given) >= sizeof path) {
        fprintf(stderr, "curvo: %s: %s\n", opt, given[0] ? "the path is too long" : "an empty path");
        return 0;
    }
    strcpy(path, given);
    for (size_t n = strlen(path); is_folder && n > 1 && path[n - 1] == '/'; n--) path[n - 1] = '\0'; /* "out/" */
    int exists = stat(path, &st) == 0;
    if (is_folder && exists && !S_ISDIR(st.st_mode)) {
        fprintf(stderr, "curvo: %s: '%s' is not a folder\n", opt, path);
        return 0;
    }
    if (!is_folder && exists && S_ISDIR(st.st_mode)) {
        fprintf(stderr, "curvo: %s: '%s' is a folder, not a file\n", opt, path);
        return 0;
    }
    if (is_folder && exists) snprintf(dir, sizeof dir, "%s", path);
    else folder_of(path, dir, sizeof dir);
    if (stat(dir, &st) != 0 || !S_ISDIR(st.st_mode)) {
        fprintf(stderr, "curvo: %s: cannot write '%s': there is no folder '%s'\n", opt, path, dir);
        return 0;
    }
    if (!folder_takes_files(dir)) {
        fprintf(stderr, "curvo: %s: cannot write '%s': the folder '%s' does not take new files (%s)\n", opt,
                path, dir, strerror(errno));
        return 0;
    }
    if (!is_folder && exists && access(path, W_OK) != 0 && errno != ENOENT) {
        fprintf(stderr, "curvo: %s: cannot write '%s': %s\n", opt, path, strerror(errno));
        return 0;
    }
    return 1;
}

/* The path with its folder resolved ("./a/../b.ckpt" and "b.ckpt" alike), or 0. */
static int canonical(const char *path, char *out, size_t len) {
    char dir[PATH_MAX], real[PATH_MAX];
    folder_of(path, dir, sizeof dir);
    if (!realpath(dir, real)) return 0;
    const char *base = strrchr(path, '/');
    base = base ? base + 1 : path;
    return snprintf(out, len, "%s/%s", real, base) < (int)len;
}

int cli_same_file(const char *a, const char *b) {
    struct stat sa, sb;
    if (stat(a, &sa) == 0 && stat(b, &sb) == 0) return sa.st_dev == sb.st_dev && sa.st_ino == sb.st_ino;
    char ca[PATH_MAX + 256], cb[PATH_MAX + 256];
    if (canonical(a, ca, sizeof ca) && canonical(b, cb, sizeof cb)) return strcmp(ca, cb) == 0;
    return strcmp(a, b) == 0;
}

void cli_warn_threads(long threads) {
    long cores = sysconf(_SC_NPROCESSORS_ONLN);
    if (cores > 0 && threads > cores)
        fprintf(stderr, "curvo: --threads %ld is more than the %ld core%s here; runs will be slower\n", threads,
                cores, cores == 1 ? "" : "s");
}
