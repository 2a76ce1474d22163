/* batch_study.c — one run of the global-batch study (bench/run_batch_study.sh, docs/BENCHMARKS.md
 * section 5): steps and samples an optimizer needs on the `mlp` preset on Fashion-MNIST to reach a
 * test-accuracy target and a training-loss target, at one batch size and seed.
 *
 * The run: the `mlp` (curvo_model_for_task("mlp", 1, 28, 28, 10)) initialised from --seed; a
 * curvo_batcher over the 60,000 training images at --batch with drop_last (every step sees exactly
 * B samples; at B = 4096 an epoch is 14 steps and 2,656 images wait for the next reshuffle), its
 * order drawn from seed + 1 and redrawn every epoch; curvo_optimizer_step with the given
 * optimizer. One thread (curvo_set_threads(1)): a run is reproducible from its seed.
 *
 * Evaluations, at steps s_1 < s_2 < ... with s_{j+1} = max(s_j + k_min, ceil(ratio * s_j)),
 * k_min = ceil(--eval-samples / B) (defaults: ratio 1.1, 2048 samples): the relative resolution
 * of "steps to target" is 10 % wherever the schedule is geometric, and no coarser than 2048 samples
 * before that — the same relative resolution at every batch size, which is what a log-log plot of
 * steps against batch needs, at about 10 + 10.5 ln(S / k_min / 10) evaluations for a run of S steps.
 *   - test accuracy: curvo_evaluate_metrics on a fixed half of the test set, --test-eval images
 *     (default 5,000; curvo_dataset_split of the test set with seed 54321, the same images in every
 *     run): half the cost of the whole set, at a standard error of 0.5 points at 85 %;
 *   - training loss: curvo_evaluate_metrics on a fixed subset of --train-eval training images
 *     (default 5,000; curvo_dataset_split of the training set with seed 12345, the same subset in
 *     every run; the model trains on all 60,000 images, this subset included). Not the running mean
 *     of mini-batch losses: that lags behind the parameters and its noise depends on B.
 * Once a target is reached its set is no longer evaluated (the last step evaluates both).
 *
 * Stops when both targets are reached, or at a cap: --max-steps, --max-samples (steps * B),
 * --max-seconds (optimizer steps plus evaluations), or divergence (a non-finite training-subset
 * loss, or one above --diverge-loss).
 *
 * Prints one CSV line (--header: the header first):
 *   label,algorithm,params,batch,seed,steps_acc,samples_acc,steps_loss,samples_loss,
 *   seconds_acc,seconds_loss,final_acc,best_acc,final_loss,steps,stop,train_s,eval_s,ms_per_step,
 *   rejected,evals,target_acc,target_loss
 * steps_* / samples_* / seconds_* are empty when the target was not reached; seconds_* count the
 * optimizer steps only. stop is target, step_cap, sample_cap, time_cap or diverged.
 *
 * Usage: batch_study --opt NAME[:param=value...] --batch B --seed S [--label L] [--header]
 *                    [--target-acc 0.85] [--target-loss 0.40] [--max-steps 4000]
 *                    [--max-samples 2400000] [--max-seconds 300] [--eval-ratio 1.1]
 *                    [--eval-samples 2048] [--train-eval 5000] [--test-eval 5000] [--diverge-loss 10]
 * Only include/curvo.h is used.
 */
#define _POSIX_C_SOURCE 200809L /* clock_gettime, strtok_r */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "benchutil.h"
#include "curvo.h"

typedef struct options {
    const char *opt, *label;
    int batch, header;
    unsigned long long seed;
    double target_acc, target_loss, max_seconds, eval_ratio, diverge_loss;
    long long max_steps, max_samples, eval_samples, train_eval, test_eval;
} options;

static void usage(FILE *to)
{
    fprintf(to, "usage: batch_study --opt NAME[:param=value...] --batch B --seed S [--label L] [--header]\n"
                "       [--target-acc 0.85] [--target-loss 0.40] [--max-steps 4000] [--max-samples 2400000]\n"
                "       [--max-seconds 300] [--eval-ratio 1.1] [--eval-samples 2048] [--train-eval 5000]\n"
                "       [--test-eval 5000] [--diverge-loss 10]\n");
}

static int parse_num(const char *name, const char *s, double *out)
{
    char *end;
    double v = strtod(s, &end);
    if (end == s || *end || !isfinite(v)) {
        fprintf(stderr, "batch_study: %s: '%s' is no number\n", name, s);
        return 1;
    }
    *out = v;
    return 0;
}

static int parse_args(int argc, char **argv, options *o)
{
    *o = (options){.opt = NULL, .label = NULL, .batch = 0, .seed = 1, .target_acc = 0.85,
                   .target_loss = 0.40, .max_seconds = 300, .eval_ratio = 1.1, .diverge_loss = 10,
                   .max_steps = 4000, .max_samples = 2400000, .eval_samples = 2048, .train_eval = 5000,
                   .test_eval = 5000};
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (!strcmp(a, "--header")) {
            o->header = 1;
            continue;
        }
        if (!strcmp(a, "--help")) {
            usage(stdout);
            exit(0);
        }
        if (i + 1 >= argc) {
            fprintf(stderr, "batch_study: %s needs a value\n", a);
            return 1;
        }
        const char *v = argv[++i];
        double x = 0;
        if (!strcmp(a, "--opt"))
            o->opt = v;
        else if (!strcmp(a, "--label"))
            o->label = v;
        else if (parse_num(a, v, &x))
            return 1;
        else if (!strcmp(a, "--batch"))
            o->batch = (int)x;
        else if (!strcmp(a, "--seed"))
            o->seed = (unsigned long long)x;
        else if (!strcmp(a, "--target-acc"))
            o->target_acc = x;
        else if (!strcmp(a, "--target-loss"))
            o->target_loss = x;
        else if (!strcmp(a, "--max-steps"))
            o->max_steps = (long long)x;
        else if (!strcmp(a, "--max-samples"))
            o->max_samples = (long long)x;
        else if (!strcmp(a, "--max-seconds"))
            o->max_seconds = x;
        else if (!strcmp(a, "--eval-ratio"))
            o->eval_ratio = x;
        else if (!strcmp(a, "--eval-samples"))
            o->eval_samples = (long long)x;
        else if (!strcmp(a, "--train-eval"))
            o->train_eval = (long long)x;
        else if (!strcmp(a, "--test-eval"))
            o->test_eval = (long long)x;
        else if (!strcmp(a, "--diverge-loss"))
            o->diverge_loss = x;
        else {
            fprintf(stderr, "batch_study: unknown option %s\n", a);
            usage(stderr);
            return 1;
        }
    }
    if (!o->opt || o->batch < 1 || o->max_steps < 1 || o->max_samples < 1 || o->eval_ratio < 1 ||
        o->eval_samples < 1 || o->train_eval < 1 || o->train_eval >= 60000 ||
        o->test_eval < 1 || o->test_eval > 10000) {
        fprintf(stderr, "batch_study: --opt and --batch (>= 1) are required; caps, --eval-samples and "
                        "--train-eval (< 60000) and --test-eval (<= 10000) positive, --eval-ratio >= 1\n");
        usage(stderr);
        return 1;
    }
    return 0;
}

/* "alg[:name=value...]" into p; 0 on success. */
static int parse_opt(const char *spec, curvo_opt_params *p)
{
    char buf[256], *save = NULL, err[CURVO_ERRMSG_LEN] = "";
    snprintf(buf, sizeof buf, "%s", spec);
    char *name = strtok_r(buf, ":", &save);
    curvo_algorithm alg;
    if (!name || curvo_algorithm_from_name(name, &alg) != CURVO_OK) {
        fprintf(stderr, "batch_study: unknown optimizer in '%s'\n", spec);
        return 1;
    }
    curvo_opt_params_init(p, alg);
    for (char *nv = strtok_r(NULL, ":", &save); nv; nv = strtok_r(NULL, ":", &save)) {
        char *eq = strchr(nv, '=');
        double v;
        if (!eq) {
            fprintf(stderr, "batch_study: expected NAME=VALUE, got '%s'\n", nv);
            return 1;
        }
        *eq = '\0';
        if (parse_num(nv, eq + 1, &v))
            return 1;
        if (curvo_opt_params_set(p, nv, v, err) != CURVO_OK) {
            fprintf(stderr, "batch_study: %s\n", err);
            return 1;
        }
    }
    if (curvo_opt_params_check(p, err) != CURVO_OK) {
        fprintf(stderr, "batch_study: %s: %s\n", spec, err);
        return 1;
    }
    return 0;
}

/* CSV cell of an optional count or time: empty when the target was not reached (v < 0). */
static void cell_ll(char *buf, size_t len, long long v)
{
    if (v < 0)
        buf[0] = '\0';
    else
        snprintf(buf, len, "%lld", v);
}

static void cell_f(char *buf, size_t len, double v)
{
    if (v < 0)
        buf[0] = '\0';
    else
        snprintf(buf, len, "%.3f", v);
}

int main(int argc, char **argv)
{
    options o;
    if (parse_args(argc, argv, &o))
        return 2;
    curvo_opt_params p;
    if (parse_opt(o.opt, &p))
        return 2;
    curvo_set_threads(1);

    char err[CURVO_ERRMSG_LEN] = "";
    curvo_dataset *train = NULL, *test = NULL, *rest = NULL, *sub = NULL;
    curvo_model *model = NULL;
    curvo_curv *cv = NULL;
    curvo_batcher *bt = NULL;
    curvo_optimizer *opt = NULL;
    int ret = 1, st;
    if ((st = curvo_data_open("fashion-mnist", NULL, &train, &test, err)) != CURVO_OK) {
        fprintf(stderr, "batch_study: fashion-mnist: %s: %s\n", curvo_strerror(st), err);
        goto out;
    }
    /* the fixed training subset of the loss target: the same images in every run */
    double frac = (double)o.train_eval / (double)curvo_dataset_count(train);
    if ((st = curvo_dataset_split(train, frac, 12345, &rest, &sub, err)) != CURVO_OK) {
        fprintf(stderr, "batch_study: split: %s: %s\n", curvo_strerror(st), err);
        goto out;
    }
    curvo_dataset_free(rest);
    rest = NULL;
    if (o.test_eval < (long long)curvo_dataset_count(test)) { /* the fixed part of the test set */
        curvo_dataset *part = NULL;
        frac = (double)o.test_eval / (double)curvo_dataset_count(test);
        if ((st = curvo_dataset_split(test, frac, 54321, &rest, &part, err)) != CURVO_OK) {
            fprintf(stderr, "batch_study: split: %s: %s\n", curvo_strerror(st), err);
            goto out;
        }
        curvo_dataset_free(rest);
        curvo_dataset_free(test);
        rest = NULL;
        test = part;
    }
    if ((st = curvo_model_for_task("mlp", 1, 28, 28, 10, &model, err)) != CURVO_OK) {
        fprintf(stderr, "batch_study: model: %s: %s\n", curvo_strerror(st), err);
        goto out;
    }
    curvo_rng init_rng, order_rng;
    curvo_rng_seed(&init_rng, o.seed);
    curvo_rng_seed(&order_rng, o.seed + 1);
    if ((st = curvo_model_init(model, &init_rng)) || (st = curvo_curv_create(model, CURVO_LOSS_CE, &cv)) ||
        (st = curvo_batcher_create(train, o.batch, &bt))) {
        fprintf(stderr, "batch_study: setup: %s\n", curvo_strerror(st));
        goto out;
    }
    curvo_batcher_set_drop_last(bt, 1);
    curvo_batcher_shuffle(bt, &order_rng);
    if (curvo_optimizer_create(&p, curvo_model_num_params(model), &opt, err) != CURVO_OK) {
        fprintf(stderr, "batch_study: optimizer %s: %s\n", o.opt, err);
        goto out;
    }

    const long long B = o.batch;
    long long max_steps = o.max_steps;
    if (o.max_samples / B < max_steps)
        max_steps = o.max_samples / B > 0 ? o.max_samples / B : 1;
    const long long k_min = (o.eval_samples + B - 1) / B;
    long long next_eval = k_min, steps_acc = -1, steps_loss = -1, step = 0, evals = 0;
    double sec_acc = -1, sec_loss = -1, train_ms = 0, eval_ms = 0, t_start = bench_now_ms();
    double acc = NAN, best_acc = 0, loss = NAN;
    int rejected = 0;
    const char *stop = NULL;
    while (!stop) {
        curvo_batch batch;
        if (!curvo_batcher_next(bt, &batch)) {
            curvo_batcher_shuffle(bt, &order_rng);
            if (!curvo_batcher_next(bt, &batch)) {
                fprintf(stderr, "batch_study: batch %d is larger than the training set\n", o.batch);
                goto out;
            }
        }
        curvo_step_info info;
        double t0 = bench_now_ms();
        st = curvo_optimizer_step(opt, cv, &batch, &info);
        train_ms += bench_now_ms() - t0;
        step++;
        if (st == CURVO_E_REJECTED || st == CURVO_E_NUMERIC)
            rejected++;
        else if (st != CURVO_OK) {
            fprintf(stderr, "batch_study: step %lld: %s: %s\n", step, curvo_strerror(st), curvo_curv_errmsg(cv));
            goto out;
        }
        const char *cap = step >= max_steps ? (step >= o.max_steps ? "step_cap" : "sample_cap")
                          : (bench_now_ms() - t_start) * 1e-3 >= o.max_seconds ? "time_cap"
                                                                               : NULL;
        if (step < next_eval && !cap)
            continue;
        /* evaluate: the sets whose target is still open (both at the last step) */
        double e0 = bench_now_ms();
        curvo_metrics m;
        evals++;
        if (steps_loss < 0 || cap) {
            st = curvo_evaluate_metrics(model, CURVO_LOSS_CE, sub, 1000, &m, err);
            if (st == CURVO_E_NUMERIC)
                loss = INFINITY;
            else if (st != CURVO_OK) {
                fprintf(stderr, "batch_study: evaluate: %s: %s\n", curvo_strerror(st), err);
                goto out;
            } else
                loss = m.loss;
            if (steps_loss < 0 && loss <= o.target_loss) {
                steps_loss = step;
                sec_loss = train_ms * 1e-3;
            }
        }
        if (!isfinite(loss) || loss > o.diverge_loss) {
            stop = "diverged";
            eval_ms += bench_now_ms() - e0;
            break;
        }
        if (steps_acc < 0 || cap) {
            if ((st = curvo_evaluate_metrics(model, CURVO_LOSS_CE, test, 1000, &m, err)) != CURVO_OK) {
                fprintf(stderr, "batch_study: evaluate: %s: %s\n", curvo_strerror(st), err);
                goto out;
            }
            acc = m.accuracy;
            if (acc > best_acc)
                best_acc = acc;
            if (steps_acc < 0 && acc >= o.target_acc) {
                steps_acc = step;
                sec_acc = train_ms * 1e-3;
            }
        }
        eval_ms += bench_now_ms() - e0;
        if (steps_acc >= 0 && steps_loss >= 0)
            stop = "target";
        else if (cap)
            stop = cap;
        long long geo = (long long)ceil(o.eval_ratio * (double)step);
        next_eval = step + k_min > geo ? step + k_min : geo;
    }
    if (!strcmp(stop, "target")) { /* the final figures of both sets at the last step */
        curvo_metrics m;
        double e0 = bench_now_ms();
        if (curvo_evaluate_metrics(model, CURVO_LOSS_CE, test, 1000, &m, err) == CURVO_OK)
            acc = m.accuracy, best_acc = acc > best_acc ? acc : best_acc;
        if (curvo_evaluate_metrics(model, CURVO_LOSS_CE, sub, 1000, &m, err) == CURVO_OK)
            loss = m.loss;
        eval_ms += bench_now_ms() - e0;
    }

    char params[256], *q = strchr(o.opt, ':');
    snprintf(params, sizeof params, "%s", q ? q + 1 : "defaults");
    for (char *c = params; *c; c++)
        if (*c == ',')
            *c = ';';
    char sa[32], sma[32], sl[32], sml[32], ta[32], tl[32];
    cell_ll(sa, sizeof sa, steps_acc);
    cell_ll(sma, sizeof sma, steps_acc >= 0 ? steps_acc * B : -1);
    cell_ll(sl, sizeof sl, steps_loss);
    cell_ll(sml, sizeof sml, steps_loss >= 0 ? steps_loss * B : -1);
    cell_f(ta, sizeof ta, sec_acc);
    cell_f(tl, sizeof tl, sec_loss);
    if (o.header)
        printf("label,algorithm,params,batch,seed,steps_acc,samples_acc,steps_loss,samples_loss,"
               "seconds_acc,seconds_loss,final_acc,best_acc,final_loss,steps,stop,train_s,eval_s,"
               "ms_per_step,rejected,evals,target_acc,target_loss\n");
    printf("%s,%s,%s,%d,%llu,%s,%s,%s,%s,%s,%s,%.4f,%.4f,%.4f,%lld,%s,%.2f,%.2f,%.3f,%d,%lld,%.3f,%.3f\n",
           o.label ? o.label : o.opt, curvo_algorithm_name(p.algorithm), params, o.batch, o.seed, sa, sma, sl,
           sml, ta, tl, acc, best_acc, loss, step, stop, train_ms * 1e-3, eval_ms * 1e-3, train_ms / (double)step,
           rejected, evals, o.target_acc, o.target_loss);
    ret = 0;
out:
    curvo_optimizer_free(opt);
    curvo_batcher_free(bt);
    curvo_curv_free(cv);
    curvo_model_free(model);
    curvo_dataset_free(sub);
    curvo_dataset_free(rest);
    curvo_dataset_free(test);
    curvo_dataset_free(train);
    return ret;
}
