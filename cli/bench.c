/* bench.c — `curvo bench`: a list of optimizers trained on one dataset and model over several
 * seeds, for a budget of epochs or seconds. Every optimizer of a seed starts from the same initial
 * weights and sees the same batch order. Each run is a child process, so that its peak memory is
 * its own; it writes a JSON Lines log and sends its final figures back through a pipe. The parent
 * writes a summary table as markdown and CSV (and one CSV row per run). The options shared with
 * `curvo train` are read into the recipe (recipe.c); the parent opens the data and probes the model
 * once through it, and each child builds its trainer from it with its optimizer and seed. */
#define _GNU_SOURCE /* wait4 */
#include <errno.h>
#include <getopt.h>
#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "cli.h"

#define MAX_SEEDS 1000

typedef struct {
    cli_recipe r; /* what every run shares: data, model, loss, training options */
    const char *out;
    char opts_list[256];
    long seeds, log_every;
    double target; /* --target-accuracy or --target-rmse */
    int quiet, target_is_rmse;
    const char *opt_params[CLI_MAX_OPT_PARAMS]; /* OPT.NAME=VALUE */
    int n_opt_params;
} bench_args;

/* What a run sends its parent. */
typedef struct {
    int finished;          /* the run reached its budget */
    double loss;           /* last evaluation: mean mini-batch loss since the one before */
    double metric;         /* last evaluation: test accuracy (fraction) or RMSE */
    double test_loss;
    double train_seconds;  /* in optimizer steps */
    long long steps;
    int rejected;
    double time_to_target; /* train_seconds at the first evaluation that met the target (NaN: never) */
    double hwm_start_kib;  /* peak resident memory before training (data and model), KiB */
    char err[256];
} run_result;

typedef struct {
    curvo_algorithm alg;
    long seed;
    run_result r;
    double peak_kib; /* the child's peak resident memory */
} run_record;

/* Ctrl-C (SIGINT) or SIGTERM: the parent passes it on to the run in progress, which stops after its
 * current step. interrupted holds the signal. */
static volatile sig_atomic_t interrupted = 0;
static volatile pid_t running_child = 0;
static void on_stop_signal(int sig) {
    interrupted = sig;
    if (running_child > 0) kill(running_child, sig);
}

static void bench_usage(FILE *to) {
    fprintf(to,
            "usage: curvo bench [OPTIONS]\n"
            "\n"
            "Trains each optimizer of --opts on one dataset and model for a budget of epochs or\n"
            "seconds, once per seed (seeds 1..N). For a given seed every optimizer starts from the\n"
            "same initial weights and sees the same batch order. Each run writes OUT/OPT-seedK.jsonl\n"
            "(the fields of 'curvo train --log'); the summary goes to OUT/summary.md, OUT/summary.csv\n"
            "and standard output, one row per run to OUT/runs.csv. Draw the logs with 'curvo plot'.\n"
            "\n"
            "what to run\n"
            "  --opts LIST           comma-separated optimizers (default:\n"
            "                        sgd,adam,egn,sgn,lrsfn,sofim,arturo; adamw is also known)\n"
            "  --opt-param OPT.NAME=X  an optimizer parameter, e.g. egn.lambda=0.1 (repeatable;\n"
            "                        'curvo train --help' lists them); the papers' defaults otherwise\n"
            "  --data SRC            as for 'curvo train' (default: fashion-mnist)\n"
            "  --target NAME, --test-fraction X, --regression, --classes, --no-standardize-target\n"
            "                        CSV data, as for 'curvo train' (--target-column NAME is the\n"
            "                        same as --target NAME)\n"
            "  --model SPEC          layers or a preset (default: mlp)\n"
            "  --loss ce|mse|bce     default: ce for class labels, mse for real-valued targets\n"
            "budget\n"
            "  --epochs N            passes over the training set (default: 1, or no limit with\n"
            "                        --seconds)\n"
            "  --seconds S           stop each run once S seconds were spent in optimizer steps\n"
            "                        (evaluation is not counted)\n"
            "  --seeds N             runs per optimizer, seeds 1..N (default: 3)\n"
            "  --batch N             mini-batch size (default: 128)\n"
            "  --threads N           BLAS/OpenMP threads of each run (default: 1)\n"
            "measurements\n"
            "  --eval-every S        evaluate every S seconds of optimizer time too, not only at\n"
            "                        epoch ends (default: a tenth of --seconds, else only epochs)\n"
            "  --target-accuracy X   report the optimizer time until the test accuracy first reached\n"
            "                        X, in (0, 100]: a fraction such as 0.85 (up to 1), or a\n"
            "                        percentage such as 85\n"
            "  --target-rmse X       regression: the time until the test RMSE was first at or below X\n"
            "  --no-eval-train       skip the pass over the training set at each evaluation\n"
            "  --eval-batch N        batch size of evaluation passes (default: 1000)\n"
            "  --log-every N         log every N-th step to the run logs (default: 10)\n"
            "  --val-fraction X      hold out this share of the training set (seed 1) for validation\n"
            "  --early-stop N        every run stops once its validation loss has not improved for N\n"
            "                        epochs and keeps its best epoch's parameters; the summary reports\n"
            "                        the test metric of those (needs --val-fraction)\n"
            "schedule (every run, each optimizer's own step size; 'curvo train --help' lists which)\n");
    recipe_schedule_usage(to);
    fprintf(to,
            "output\n"
            "  --out DIR             where logs and summaries go (default: curvo-bench; created)\n"
            "  --quiet               no line per run on standard error\n"
            "  --help                this text\n"
            "\n"
            "The summary reports, per optimizer over the seeds: the final mean mini-batch loss (over\n"
            "the last evaluation interval) and test accuracy as mean +- standard deviation, the\n"
            "median time to the target and how many runs reached it, the median optimizer time per\n"
            "step and its ratio to SGD's, and the largest peak resident memory of a run, in total\n"
            "and above what the run held before training (data and model).\n");
}

static int parse_bench_args(int argc, char **argv, bench_args *a) {
    static const struct option opts[] = {
        CLI_RECIPE_DATA_OPTIONS, CLI_RECIPE_MODEL_OPTIONS, CLI_RECIPE_TRAIN_OPTIONS,
        {"opts", required_argument, 0, 'o'},        {"opt-param", required_argument, 0, 'p'},
        {"target-column", required_argument, 0, 'T'}, {"target-rmse", required_argument, 0, 'M'},
        {"seeds", required_argument, 0, 'n'},       {"target-accuracy", required_argument, 0, 'A'},
        {"log-every", required_argument, 0, 'G'},   {"out", required_argument, 0, 'O'},
        {"quiet", no_argument, 0, 'q'},             {"help", no_argument, 0, 'h'},
        {0, 0, 0, 0}};
    const cli_recipe *r = &a->r;
    opterr = 0;
    optind = 1;
    int c;
    while ((c = getopt_long(argc, argv, ":", opts, NULL)) != -1) {
        int ok = 1;
        switch (c) {
        case 'o': /* --opts, not the recipe's --opt */
            if (strlen(optarg) >= sizeof a->opts_list) {
                fprintf(stderr, "curvo bench: --opts: list too long\n");
                return 2;
            }
            strcpy(a->opts_list, optarg);
            break;
        case 'p': /* OPT.NAME=VALUE */
            if (a->n_opt_params == CLI_MAX_OPT_PARAMS) {
                fprintf(stderr, "curvo bench: at most %d --opt-param\n", CLI_MAX_OPT_PARAMS);
                return 2;
            }
            a->opt_params[a->n_opt_params++] = optarg;
            break;
        case 'n': ok = cli_parse_long("seeds", optarg, 1, MAX_SEEDS, &a->seeds); break;
        case 'A':
            ok = cli_parse_double_open("target-accuracy", optarg, 0.0, 100.0, CLI_LO_OPEN, &a->target);
            a->target_is_rmse = 0;
            if (a->target > 1.0) a->target /= 100.0; /* a percentage */
            break;
        case 'M':
            ok = cli_parse_double_open("target-rmse", optarg, 0.0, 1e300, CLI_LO_OPEN, &a->target);
            a->target_is_rmse = 1;
            break;
        case 'G': ok = cli_parse_long("log-every", optarg, 1, 1L << 40, &a->log_every); break;
        case 'O': a->out = optarg; break;
        case 'q': a->quiet = 1; break;
        case 'h': bench_usage(stdout); return 0;
        default: ok = recipe_option(&a->r, "bench", argv, c, optarg);
        }
        if (!ok) return 2;
    }
    if (!cli_no_operands("bench", argc, argv)) return 2;
    if (r->options.early_stop && !r->val_fraction) {
        fprintf(stderr, "curvo bench: --early-stop needs --val-fraction X (it watches the validation loss)\n");
        return 2;
    }
    return cli_data_flags_ok(r->data_flags) ? -1 : 2;
}

/* "sgd,adam,egn" into distinct algorithms. */
static int parse_opts_list(char *list, curvo_algorithm *algs, int *n) {
    *n = 0;
    for (char *save = NULL, *tok = strtok_r(list, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
        curvo_algorithm alg;
        if (!cli_parse_algorithm(tok, &alg)) return 0;
        for (int i = 0; i < *n; i++)
            if (algs[i] == alg) {
                fprintf(stderr, "curvo bench: --opts: '%s' is listed twice\n", tok);
                return 0;
            }
        algs[(*n)++] = alg;
    }
    if (*n == 0) {
        fprintf(stderr, "curvo bench: --opts: no optimizer given\n");
        return 0;
    }
    return 1;
}

/* The NAME=VALUE parameters given to each optimizer, indexed by algorithm. */
typedef struct {
    const char *params[CURVO_NUM_ALGORITHMS][CLI_MAX_OPT_PARAMS];
    int n[CURVO_NUM_ALGORITHMS];
} bench_params;

/* "egn.lambda=0.1": "lambda=0.1" to the parameters of the named optimizer, which must be benchmarked. */
static int route_bench_param(const char *arg, const curvo_algorithm *algs, int n, bench_params *bp) {
    const char *dot = strchr(arg, '.'), *eq = strchr(arg, '=');
    char name[32];
    if (!dot || !eq || dot > eq || dot == arg || (size_t)(dot - arg) >= sizeof name) {
        fprintf(stderr, "curvo bench: --opt-param: '%s' is not OPT.NAME=VALUE\n", arg);
        return 0;
    }
    memcpy(name, arg, (size_t)(dot - arg));
    name[dot - arg] = '\0';
    curvo_algorithm alg;
    if (!cli_parse_algorithm(name, &alg)) return 0;
    for (int i = 0; i < n; i++)
        if (algs[i] == alg) {
            bp->params[alg][bp->n[alg]++] = dot + 1;
            return 1;
        }
    fprintf(stderr, "curvo bench: --opt-param: '%s' is not in --opts\n", name);
    return 0;
}

/* The peak resident memory of this process so far (VmHWM), in KiB; NaN where unknown. */
static double peak_rss_kib(void) {
    FILE *f = fopen("/proc/self/status", "r");
    if (!f) return NAN;
    char line[256];
    double kib = NAN;
    while (fgets(line, sizeof line, f))
        if (sscanf(line, "VmHWM: %lf", &kib) == 1) break;
    fclose(f);
    return kib;
}

typedef struct {
    curvo_log *log;
    long log_every;
    double target;
    int classification;
    run_result *r;
} run_watch;

static int on_run_progress(const curvo_progress *p, void *user) {
    run_watch *w = user;
    run_result *r = w->r;
    if (p->event != CURVO_EVENT_STEP || p->step % w->log_every == 0) curvo_log_write(w->log, p);
    r->train_seconds = p->train_seconds;
    r->steps = p->step;
    r->rejected = p->rejected_steps;
    if (p->event == CURVO_EVENT_EPOCH || p->event == CURVO_EVENT_EVAL) {
        r->loss = p->loss;
        r->metric = p->test_metric;
        r->test_loss = p->test_loss;
        int met = w->classification ? p->test_metric >= w->target : p->test_metric <= w->target;
        if (w->target > 0 && met && isnan(r->time_to_target)) r->time_to_target = p->train_seconds;
    }
    if (p->event == CURVO_EVENT_EARLY_STOP) { /* the parameters kept */
        r->metric = p->test_metric;
        r->test_loss = p->test_loss;
    }
    return interrupted;
}

/* What every run shares: the options, the recipe (data open, loss chosen, options set) and each
 * optimizer's parameters. */
typedef struct {
    const bench_args *a;
    cli_recipe *recipe;
    const bench_params *params;
} bench_setup;

/* One run, in the child: build the trainer from the recipe, train, log, and fill r. */
static void run_one(const bench_setup *s, curvo_algorithm alg, long seed, const char *log_path, run_result *r) {
    const bench_args *a = s->a;
    cli_recipe *rp = s->recipe; /* the child's copy */
    curvo_log *log = NULL;
    char err[CURVO_ERRMSG_LEN];
    rp->alg = alg;
    rp->n_opt_params = s->params->n[alg];
    memcpy(rp->opt_params, s->params->params[alg], sizeof s->params->params[alg]);
    rp->options.seed = (uint64_t)seed;
    rp->quiet = 1; /* the parent reports the failure */
    if (recipe_build(rp)) {
        snprintf(r->err, sizeof r->err, "%.250s", rp->err);
        goto done;
    }
    if (curvo_log_open(log_path, 0, &log, err)) {
        snprintf(r->err, sizeof r->err, "%.250s", err);
        goto done;
    }
    char sched[1200];
    curvo_run_info run = {"curvo", curvo_algorithm_name(alg), rp->model, rp->data, (uint64_t)seed,
                          rp->options.batch_size, (int)rp->threads, curvo_model_num_params(rp->net), 1,
                          recipe_schedule_spec(rp, sched, sizeof sched)};
    curvo_log_write_run(log, &run);
    run_watch watch = {log, a->log_every, a->target, rp->loss != CURVO_LOSS_MSE, r};
    r->hwm_start_kib = peak_rss_kib();
    int rc = curvo_trainer_run(rp->trainer, on_run_progress, &watch);
    if (rc) {
        snprintf(r->err, sizeof r->err, "%.250s", curvo_trainer_errmsg(rp->trainer));
        goto done;
    }
    r->finished = 1;
done:
    if (log && curvo_log_close(log) && r->finished) {
        snprintf(r->err, sizeof r->err, "writing %.200s failed", log_path);
        r->finished = 0;
    }
    recipe_free(rp);
}

/* Runs one optimizer and seed in a child process; fills rec, or returns 0 if no child could run. */
static int run_child(const bench_setup *s, long seed, const char *log_path, run_record *rec) {
    int fds[2];
    memset(&rec->r, 0, sizeof rec->r);
    rec->r.time_to_target = rec->r.loss = rec->r.metric = rec->r.test_loss = NAN;
    rec->peak_kib = NAN;
    if (pipe(fds)) {
        fprintf(stderr, "curvo bench: pipe: %s\n", strerror(errno));
        return 0;
    }
    fflush(stdout);
    fflush(stderr);
    pid_t pid = fork();
    if (pid < 0) {
        fprintf(stderr, "curvo bench: fork: %s\n", strerror(errno));
        close(fds[0]);
        close(fds[1]);
        return 0;
    }
    if (pid == 0) {
        close(fds[0]);
        running_child = 0;
        curvo_set_threads((int)s->recipe->threads);
        run_result r = rec->r;
        run_one(s, rec->alg, seed, log_path, &r);
        ssize_t wrote = write(fds[1], &r, sizeof r);
        _exit(wrote == (ssize_t)sizeof r ? 0 : 1);
    }
    running_child = pid;
    if (interrupted) kill(pid, interrupted); /* the signal came between the check and the fork */
    close(fds[1]);
    size_t got = 0;
    char *buf = (char *)&rec->r;
    while (got < sizeof rec->r) {
        ssize_t k = read(fds[0], buf + got, sizeof rec->r - got);
        if (k < 0 && errno == EINTR) continue;
        if (k <= 0) break;
        got += (size_t)k;
    }
    close(fds[0]);
    int status = 0;
    struct rusage ru;
    while (wait4(pid, &status, 0, &ru) < 0)
        if (errno != EINTR) {
            memset(&ru, 0, sizeof ru);
            break;
        }
    running_child = 0;
    rec->peak_kib = (double)ru.ru_maxrss;
    if (got != sizeof rec->r) {
        memset(&rec->r, 0, sizeof rec->r);
        rec->r.time_to_target = rec->r.loss = rec->r.metric = rec->r.test_loss = NAN;
        if (WIFSIGNALED(status))
            snprintf(rec->r.err, sizeof rec->r.err, "the run was killed by signal %d", WTERMSIG(status));
        else
            snprintf(rec->r.err, sizeof rec->r.err, "the run ended without a result (exit %d)", WEXITSTATUS(status));
    }
    return 1;
}

/* ---------------------------------------------------------------- summary */

static int cmp_double(const void *x, const void *y) {
    double a = *(const double *)x, b = *(const double *)y;
    return (a > b) - (a < b);
}

/* Median of the finite values among v[0..n) (reordered); NaN if none. */
static double median(double *v, int n) {
    int m = 0;
    for (int i = 0; i < n; i++)
        if (isfinite(v[i])) v[m++] = v[i];
    if (!m) return NAN;
    qsort(v, (size_t)m, sizeof *v, cmp_double);
    return m % 2 ? v[m / 2] : 0.5 * (v[m / 2 - 1] + v[m / 2]);
}

static void mean_std(const double *v, int n, double *mean, double *sd) {
    double s = 0, ss = 0;
    int m = 0;
    for (int i = 0; i < n; i++)
        if (isfinite(v[i])) s += v[i], m++;
    *mean = m ? s / m : NAN;
    for (int i = 0; i < n; i++)
        if (isfinite(v[i])) ss += (v[i] - *mean) * (v[i] - *mean);
    *sd = m > 1 ? sqrt(ss / (m - 1)) : NAN;
}

typedef struct {
    curvo_algorithm alg;
    int runs, failed, reached;
    double loss, loss_sd, metric, metric_sd, to_target, step_ms, ratio, steps, rejected, peak_mib, above_mib;
} opt_summary;

static void summarize(const run_record *recs, int nrec, curvo_algorithm alg, opt_summary *o) {
    double loss[MAX_SEEDS], metric[MAX_SEEDS], target[MAX_SEEDS], ms[MAX_SEEDS], steps[MAX_SEEDS], rej[MAX_SEEDS];
    memset(o, 0, sizeof *o);
    o->alg = alg;
    o->peak_mib = o->above_mib = NAN;
    int n = 0;
    for (int i = 0; i < nrec; i++) {
        const run_record *rec = &recs[i];
        if (rec->alg != alg) continue;
        o->runs++;
        if (isfinite(rec->peak_kib) && !(rec->peak_kib / 1024.0 <= o->peak_mib)) o->peak_mib = rec->peak_kib / 1024.0;
        double above = (rec->peak_kib - rec->r.hwm_start_kib) / 1024.0;
        if (isfinite(above) && !(above <= o->above_mib)) o->above_mib = above;
        if (!rec->r.finished) {
            o->failed++;
            continue;
        }
        loss[n] = rec->r.loss;
        metric[n] = rec->r.metric;
        target[n] = rec->r.time_to_target;
        o->reached += isfinite(rec->r.time_to_target);
        ms[n] = rec->r.steps > 0 ? 1e3 * rec->r.train_seconds / (double)rec->r.steps : NAN;
        steps[n] = (double)rec->r.steps;
        rej[n] = rec->r.rejected;
        n++;
    }
    mean_std(loss, n, &o->loss, &o->loss_sd);
    mean_std(metric, n, &o->metric, &o->metric_sd);
    o->to_target = median(target, n);
    o->step_ms = median(ms, n);
    double sd;
    mean_std(steps, n, &o->steps, &sd);
    mean_std(rej, n, &o->rejected, &sd);
    o->ratio = NAN;
}

/* "1.23" or "—" for NaN, into buf. */
static const char *fmt(char *buf, size_t len, const char *f, double v) {
    if (isfinite(v)) snprintf(buf, len, f, v);
    else snprintf(buf, len, "—");
    return buf;
}

static const char *csv_num(char *buf, size_t len, double v) {
    if (isfinite(v)) snprintf(buf, len, "%.6g", v);
    else buf[0] = '\0';
    return buf;
}

/* Writes the markdown table to f. */
static void write_markdown(FILE *f, const bench_args *a, const opt_summary *sum, int nopt, size_t params,
                           int classification, int completed, int planned) {
    double scale = classification ? 100.0 : 1.0;
    const char *metric = classification ? "test accuracy (%)" : "test RMSE";
    const cli_recipe *r = &a->r;
    double seconds = r->options.max_seconds;
    fprintf(f, "curvo bench: %s, model %s (%zu parameters), ", r->data, r->model, params);
    if (seconds > 0) fprintf(f, "%g s of optimizer time per run", seconds);
    if (seconds > 0 && r->epochs) fprintf(f, " or ");
    if (r->epochs || seconds <= 0) fprintf(f, "%ld epoch%s", r->epochs ? r->epochs : 1, r->epochs > 1 ? "s" : "");
    fprintf(f, ", seeds 1..%ld, batch %d, %ld thread%s; %d of %d runs done.\n\n", a->seeds, r->options.batch_size,
            r->threads, r->threads == 1 ? "" : "s", completed, planned);
    char target_col[64] = "time to target (s)";
    if (a->target > 0)
        snprintf(target_col, sizeof target_col, "time to %s%g%s (s)", classification ? "" : "RMSE ≤ ",
                 classification ? scale * a->target : a->target, classification ? " %" : "");
    fprintf(f, "| optimizer | runs | final loss | %s | %s | reached | ms/step | × SGD | steps | rejected | "
               "peak RSS (MiB) | above data (MiB) |\n",
            metric, target_col);
    fprintf(f, "|---|---|---|---|---|---|---|---|---|---|---|---|\n");
    for (int i = 0; i < nopt; i++) {
        const opt_summary *o = &sum[i];
        char b[12][48];
        char runs[32];
        snprintf(runs, sizeof runs, o->failed ? "%d (%d failed)" : "%d", o->runs, o->failed);
        char loss[112], met[112];
        snprintf(loss, sizeof loss, "%s ± %s", fmt(b[0], 48, "%.4f", o->loss), fmt(b[1], 48, "%.4f", o->loss_sd));
        snprintf(met, sizeof met, "%s ± %s", fmt(b[2], 48, classification ? "%.2f" : "%.4f", scale * o->metric),
                 fmt(b[3], 48, classification ? "%.2f" : "%.4f", scale * o->metric_sd));
        fprintf(f, "| %s | %s | %s | %s | %s | %d/%d | %s | %s | %s | %s | %s | %s |\n",
                curvo_algorithm_name(o->alg), runs, loss, met, fmt(b[4], 48, "%.2f", o->to_target), o->reached,
                o->runs - o->failed, fmt(b[5], 48, "%.3g", o->step_ms), fmt(b[6], 48, "%.2f", o->ratio),
                fmt(b[7], 48, "%.0f", o->steps), fmt(b[8], 48, "%.1f", o->rejected), fmt(b[9], 48, "%.0f", o->peak_mib),
                fmt(b[10], 48, "%.0f", o->above_mib));
    }
    fprintf(f, "\nfinal loss: mean mini-batch training loss over the last evaluation interval; %s at the "
               "last evaluation; mean ± standard deviation over the seeds that finished. Times are "
               "optimizer-step times (evaluation excluded), medians over the seeds.\n",
            metric);
}

static void write_summary_csv(FILE *f, const opt_summary *sum, int nopt) {
    fprintf(f, "optimizer,runs,failed,final_loss_mean,final_loss_std,test_metric_mean,test_metric_std,"
               "time_to_target_median_s,reached,ms_per_step_median,ratio_to_sgd,steps_mean,rejected_mean,"
               "peak_rss_mib,above_data_mib\n");
    for (int i = 0; i < nopt; i++) {
        const opt_summary *o = &sum[i];
        char b[12][32];
        fprintf(f, "%s,%d,%d,%s,%s,%s,%s,%s,%d,%s,%s,%s,%s,%s,%s\n", curvo_algorithm_name(o->alg), o->runs, o->failed,
                csv_num(b[0], 32, o->loss), csv_num(b[1], 32, o->loss_sd), csv_num(b[2], 32, o->metric),
                csv_num(b[3], 32, o->metric_sd), csv_num(b[4], 32, o->to_target), o->reached,
                csv_num(b[5], 32, o->step_ms), csv_num(b[6], 32, o->ratio), csv_num(b[7], 32, o->steps),
                csv_num(b[8], 32, o->rejected), csv_num(b[9], 32, o->peak_mib), csv_num(b[10], 32, o->above_mib));
    }
}

static void write_runs_csv(FILE *f, const run_record *recs, int n) {
    fprintf(f, "optimizer,seed,finished,final_loss,test_metric,test_loss,train_seconds,steps,rejected,"
               "time_to_target_s,peak_rss_kib,start_rss_kib,error\n");
    for (int i = 0; i < n; i++) {
        const run_record *rec = &recs[i];
        const run_result *r = &rec->r;
        char b[8][32];
        fprintf(f, "%s,%ld,%d,%s,%s,%s,%s,%lld,%d,%s,%s,%s,\"", curvo_algorithm_name(rec->alg), rec->seed,
                r->finished, csv_num(b[0], 32, r->loss), csv_num(b[1], 32, r->metric), csv_num(b[2], 32, r->test_loss),
                csv_num(b[3], 32, r->train_seconds), r->steps, r->rejected, csv_num(b[4], 32, r->time_to_target),
                csv_num(b[5], 32, rec->peak_kib), csv_num(b[6], 32, r->hwm_start_kib));
        for (const char *c = r->err; *c; c++) fputc(*c == '"' ? '\'' : *c, f);
        fputs("\"\n", f);
    }
}

/* Writes DIR/name through a temporary file, so a reader never sees half a table. */
static int write_file(const char *dir, const char *name, void (*writer)(FILE *, const void *), const void *ctx) {
    char path[4096], tmp[4200];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    snprintf(tmp, sizeof tmp, "%s.tmp", path);
    FILE *f = fopen(tmp, "w");
    if (!f) {
        fprintf(stderr, "curvo bench: %s: %s\n", tmp, strerror(errno));
        return 0;
    }
    writer(f, ctx);
    int bad = ferror(f) | (fclose(f) != 0);
    if (bad || rename(tmp, path)) {
        fprintf(stderr, "curvo bench: writing %s failed\n", path);
        remove(tmp);
        return 0;
    }
    return 1;
}

typedef struct {
    const bench_args *a;
    const opt_summary *sum;
    int nopt, classification, completed, planned;
    size_t params;
    const run_record *recs;
    int nrec;
} summary_ctx;

static void md_writer(FILE *f, const void *ctx) {
    const summary_ctx *c = ctx;
    write_markdown(f, c->a, c->sum, c->nopt, c->params, c->classification, c->completed, c->planned);
}
static void csv_writer(FILE *f, const void *ctx) {
    const summary_ctx *c = ctx;
    write_summary_csv(f, c->sum, c->nopt);
}
static void runs_writer(FILE *f, const void *ctx) {
    const summary_ctx *c = ctx;
    write_runs_csv(f, c->recs, c->nrec);
}

/* ---------------------------------------------------------------- the command */

int cli_bench(int argc, char **argv) {
    bench_args a = {.out = "curvo-bench", .seeds = 3, .log_every = 10};
    cli_recipe *r = &a.r;
    recipe_init(r);
    r->data = "fashion-mnist"; /* the CSV and validation splits of seed 1, for every run */
    strcpy(a.opts_list, "sgd,adam,egn,sgn,lrsfn,sofim,arturo");
    int rc = parse_bench_args(argc, argv, &a);
    if (rc >= 0) return rc;
    recipe_plan(r);
    if (!(r->options.eval_seconds > 0)) r->options.eval_seconds = r->options.max_seconds / 10.0;
    curvo_algorithm algs[CURVO_NUM_ALGORITHMS];
    bench_params bp = {0};
    int nopt;
    if (!parse_opts_list(a.opts_list, algs, &nopt)) return 2;
    for (int i = 0; i < a.n_opt_params; i++)
        if (!route_bench_param(a.opt_params[i], algs, nopt, &bp)) return 2;
    for (int i = 0; i < nopt; i++) { /* each optimizer's parameters, checked before any run */
        curvo_opt_params op;
        r->alg = algs[i];
        r->n_opt_params = bp.n[algs[i]];
        memcpy(r->opt_params, bp.params[algs[i]], sizeof bp.params[algs[i]]);
        if (recipe_opt_params(r, &op)) return 2;
    }
    cli_warn_threads(r->threads);
    /* Everything is checked before --out is created: a bad input leaves no empty folder behind. */
    if (!cli_check_output("--out", a.out, 1)) return 2;

    /* The data is opened and the model probed once, here; each child inherits the recipe. */
    int exit_code = recipe_open_data(r);
    if (exit_code) goto done;
    exit_code = 2;
    int classification = curvo_dataset_num_classes(r->train) > 0 && r->loss != CURVO_LOSS_MSE;
    if (a.target > 0 && a.target_is_rmse == classification) {
        fprintf(stderr, "curvo bench: --target-%s is for %s data; this data is %s (use --target-%s)\n",
                a.target_is_rmse ? "rmse" : "accuracy", a.target_is_rmse ? "regression" : "classification",
                classification ? "classification" : "regression", classification ? "accuracy" : "rmse");
        goto done;
    }
    size_t params = 0;
    if (recipe_probe_model(r, &params)) goto done;
    if (mkdir(a.out, 0777) && errno != EEXIST) {
        fprintf(stderr, "curvo bench: --out: cannot create '%s': %s\n", a.out, strerror(errno));
        goto done;
    }
    exit_code = 1;

    int planned = (int)a.seeds * nopt, completed = 0, failed = 0;
    run_record *recs = calloc((size_t)planned, sizeof *recs);
    if (!recs) {
        fprintf(stderr, "curvo bench: out of memory\n");
        goto done;
    }
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_stop_signal;
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
    bench_setup setup = {&a, r, &bp};
    if (!a.quiet)
        fprintf(stderr, "curvo bench: %d optimizer%s x %ld seed%s on %s, model %s (%zu parameters); logs in %s/\n",
                nopt, nopt > 1 ? "s" : "", a.seeds, a.seeds > 1 ? "s" : "", r->data, r->model, params, a.out);
    /* Seeds outermost: a slow spell of a shared machine falls on every optimizer alike. */
    for (long seed = 1; seed <= a.seeds && !interrupted; seed++)
        for (int i = 0; i < nopt && !interrupted; i++) {
            run_record *rec = &recs[completed];
            rec->alg = algs[i];
            rec->seed = seed;
            char log_path[4096];
            snprintf(log_path, sizeof log_path, "%s/%s-seed%ld.jsonl", a.out, curvo_algorithm_name(algs[i]), seed);
            if (!run_child(&setup, seed, log_path, rec)) goto done_runs;
            if (interrupted) break; /* the run was cut short: not counted */
            completed++;
            failed += !rec->r.finished;
            if (a.quiet) continue;
            const run_result *r = &rec->r;
            if (!r->finished) {
                fprintf(stderr, "[%d/%d] %s seed %ld failed: %s\n", completed, planned,
                        curvo_algorithm_name(algs[i]), seed, r->err);
                continue;
            }
            fprintf(stderr, "[%d/%d] %s seed %ld: test %s %.4g%s, loss %.4f, %lld steps, %.3g ms/step, peak %.0f MiB\n",
                    completed, planned, curvo_algorithm_name(algs[i]), seed, classification ? "accuracy" : "RMSE",
                    (classification ? 100.0 : 1.0) * r->metric, classification ? "%" : "", r->loss, r->steps, r->steps ? 1e3 * r->train_seconds / (double)r->steps : NAN,
                    rec->peak_kib / 1024.0);
        }
done_runs:;
    opt_summary sum[CURVO_NUM_ALGORITHMS];
    double sgd_ms = NAN;
    for (int i = 0; i < nopt; i++) {
        summarize(recs, completed, algs[i], &sum[i]);
        if (algs[i] == CURVO_OPT_SGD) sgd_ms = sum[i].step_ms;
    }
    for (int i = 0; i < nopt; i++) sum[i].ratio = sum[i].step_ms / sgd_ms;
    summary_ctx ctx = {&a, sum, nopt, classification, completed, planned, params, recs, completed};
    int wrote = write_file(a.out, "summary.md", md_writer, &ctx) && write_file(a.out, "summary.csv", csv_writer, &ctx) &&
                write_file(a.out, "runs.csv", runs_writer, &ctx);
    if (completed) {
        putchar('\n');
        write_markdown(stdout, &a, sum, nopt, params, classification, completed, planned);
    }
    free(recs);
    if (interrupted) {
        fprintf(stderr, "curvo bench: interrupted after %d of %d runs; the summary covers those\n", completed,
                planned);
        exit_code = 128 + interrupted;
    } else if (wrote && completed == planned && !failed) {
        exit_code = 0;
    } else if (failed) {
        fprintf(stderr, "curvo bench: %d of %d runs failed (see %s/runs.csv)\n", failed, planned, a.out);
    }
done:
    recipe_free(r);
    return exit_code;
}
