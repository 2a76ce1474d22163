/* rl.c — `curvo rl`: reinforcement learning with DQN on a built-in environment (docs/RL.md).
 *   curvo rl --env cartpole --opt adam --steps 500000 --log run.jsonl --save run.ckpt
 *   curvo rl --resume run.ckpt --log run.jsonl
 *   curvo rl --bench --env cartpole --opts adam,egn --seeds 3 --out DIR
 * Progress on stderr; a JSON Lines log with a run line, one line per training episode, the periodic
 * greedy evaluations and a final one; checkpoints through curvo_dqn_save. The bench mode runs every
 * optimizer x seed with the same budget, one log each, and prints a summary table. */
#define _POSIX_C_SOURCE 200809L
#include <getopt.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"

#define RL_MAX_OPTS 16

/* Writes s as a JSON string. */
static void json_str(FILE *f, const char *s) {
    fputc('"', f);
    for (; *s; s++) {
        if (*s == '"' || *s == '\\') fprintf(f, "\\%c", *s);
        else if ((unsigned char)*s < 0x20) fprintf(f, "\\u%04x", (unsigned)(unsigned char)*s);
        else fputc(*s, f);
    }
    fputc('"', f);
}

/* A number, or null when it is not finite. */
static void json_num(FILE *f, const char *key, double v) {
    if (isfinite(v)) fprintf(f, ",\"%s\":%.10g", key, v);
    else fprintf(f, ",\"%s\":null", key);
}

typedef struct rl_run {
    FILE *log;
    int quiet;
    const char *label;          /* prefix of progress lines (bench: "adam seed 2") */
    double last_print;          /* seconds at the last progress line */
    double recent[20];          /* returns of the last 20 episodes (ring) */
    int n_recent, at_recent;
    double since_sum;           /* training returns since the last eval line */
    int64_t since_n;
    double eval_last;           /* the last greedy evaluation's mean */
    double threshold;           /* "solved" at a greedy evaluation reaching it (NaN: none) */
    int64_t solved_at;          /* env steps of the first such evaluation (-1: not yet) */
    int64_t total;
} rl_run;

static double recent_mean(const rl_run *r) {
    double s = 0;
    for (int i = 0; i < r->n_recent; i++) s += r->recent[i];
    return r->n_recent ? s / r->n_recent : NAN;
}

static int on_event(const curvo_rl_event *e, void *user) {
    rl_run *r = user;
    if (e->kind == CURVO_RL_EPISODE) {
        r->recent[r->at_recent] = e->episode_return;
        r->at_recent = (r->at_recent + 1) % 20;
        if (r->n_recent < 20) r->n_recent++;
        r->since_sum += e->episode_return, r->since_n++;
        if (r->log) {
            fprintf(r->log, "{\"event\":\"episode\",\"episode\":%lld", (long long)e->episodes);
            json_num(r->log, "return", e->episode_return);
            fprintf(r->log, ",\"length\":%lld", (long long)e->episode_length);
            json_num(r->log, "epsilon", e->epsilon);
            fprintf(r->log, ",\"env_steps\":%lld,\"train_steps\":%lld", (long long)e->env_steps, (long long)e->train_steps);
            json_num(r->log, "loss", e->loss);
            json_num(r->log, "seconds", e->seconds);
            json_num(r->log, "train_seconds", e->train_seconds);
            fputs("}\n", r->log);
        }
    } else {
        r->eval_last = e->episode_return;
        if (r->solved_at < 0 && isfinite(r->threshold) && e->episode_return >= r->threshold) r->solved_at = e->env_steps;
        if (r->log) {
            fprintf(r->log, "{\"event\":\"eval\",\"env_steps\":%lld,\"train_steps\":%lld", (long long)e->env_steps,
                    (long long)e->train_steps);
            json_num(r->log, "eval_return", e->episode_return);
            json_num(r->log, "eval_std", e->eval_std);
            fprintf(r->log, ",\"eval_episodes\":%d,\"rejected_steps\":%lld", e->eval_episodes,
                    (long long)e->rejected_steps);
            json_num(r->log, "train_return", r->since_n ? r->since_sum / (double)r->since_n : NAN);
            json_num(r->log, "epsilon", e->epsilon);
            json_num(r->log, "loss", e->loss);
            json_num(r->log, "seconds", e->seconds);
            json_num(r->log, "train_seconds", e->train_seconds);
            fputs("}\n", r->log);
            fflush(r->log);
        }
        r->since_sum = 0, r->since_n = 0;
    }
    if (!r->quiet && (e->kind == CURVO_RL_EVAL || e->seconds - r->last_print >= 2.0)) {
        r->last_print = e->seconds;
        char eval[32] = "-";
        if (isfinite(r->eval_last)) snprintf(eval, sizeof eval, "%.1f", r->eval_last);
        fprintf(stderr, "%s%sstep %lld/%lld  episodes %lld  return (last %d) %.1f  eval %s  eps %.3f  %.1f s\n",
                r->label ? r->label : "", r->label ? ": " : "", (long long)e->env_steps, (long long)r->total,
                (long long)e->episodes, r->n_recent, recent_mean(r), eval, e->epsilon, e->seconds);
    }
    return 0;
}

static void rl_usage(FILE *to) {
    fprintf(to,
            "usage: curvo rl --env NAME [OPTIONS]\n"
            "       curvo rl --resume CHECKPOINT [--log F] [--save F] [--stop-at N]\n"
            "       curvo rl --bench --env NAME --opts A,B,... [--seeds K] [--out DIR] [OPTIONS]\n"
            "\n"
            "Trains a DQN agent (cleanrl's dqn.py) on a built-in environment with any curvo optimizer: the\n"
            "Q network's regression on the taken action's TD target is an ordinary curvo loss, so every\n"
            "optimizer, EGN included, trains it. Defaults are cleanrl's CartPole settings (docs/RL.md).\n"
            "\n"
            "environment and run:\n"
            "  --env NAME          ");
    for (int i = 0; curvo_env_at(i); i++) fprintf(to, "%s%s", i ? ", " : "", curvo_env_at(i)->name);
    fprintf(to, "\n");
    for (int i = 0; curvo_env_at(i); i++) fprintf(to, "                        %s\n", curvo_env_at(i)->doc);
    fprintf(to,
            "  --steps N           env steps in all; the epsilon schedule scales with it (env default)\n"
            "  --seed S            initialization, resets, exploration, replay (default 1)\n"
            "  --threads N         BLAS and loop threads (default 1: bit-reproducible)\n"
            "optimizer:\n"
            "  --opt NAME          sgd, adam, adamw, egn, sgn, lrsfn, sofim, arturo (default adam)\n"
            "  --lr X              the optimizer's lr (adam and adamw default to cleanrl's 2.5e-4 here)\n"
            "  --opt-param K=V     any optimizer parameter (repeatable; see 'curvo train --help')\n"
            "agent (defaults: cleanrl's, adjusted per env as docs/RL.md lists):\n"
            "  --model SPEC        hidden layers; dense:ACTIONS is appended (default dense:120,relu,dense:84,relu)\n"
            "  --buffer N          replay buffer size (10000)\n"
            "  --gamma X           discount (0.99)\n"
            "  --tau X             target <- tau Q + (1 - tau) target (1: hard copy)\n"
            "  --target-every N    ... every N env steps (500)\n"
            "  --batch N           transitions per optimizer step (128)\n"
            "  --eps-start X, --eps-end X, --eps-fraction X\n"
            "                      epsilon falls linearly from start to end over fraction x steps (1, 0.05, 0.5)\n"
            "  --learning-starts N no training before N env steps (10000)\n"
            "  --train-every N     an optimizer step every N env steps (10)\n"
            "  --huber             Huber loss (delta 1) instead of the squared TD error\n"
            "evaluation and outputs:\n"
            "  --eval-every N      a greedy evaluation every N env steps (10000; 0: none)\n"
            "  --eval-episodes N   episodes per evaluation (10)\n"
            "  --final-eval N      greedy episodes at the end (default 100; 0: none)\n"
            "  --log FILE          JSON Lines: run, episode, eval and final lines (docs/RL.md)\n"
            "  --save FILE         checkpoint at the end (or at --stop-at): resumes exactly\n"
            "  --resume FILE       continue a saved run (its env, agent and optimizer; --log appends)\n"
            "  --stop-at N         stop after N env steps in all, keeping the plan of --steps (then --save)\n"
            "  --quiet             no progress lines\n"
            "bench mode:\n"
            "  --bench             run every optimizer of --opts for every seed 1..K, same budget\n"
            "  --opts A,B,...      the optimizers (each with its defaults; adam and adamw lr 2.5e-4);\n"
            "                      --lr and --opt-param apply to every one of them\n"
            "  --seeds K           seeds 1..K (default 3)\n"
            "  --out DIR           one log per run, DIR/ENV-OPT-sSEED.jsonl (default .); plot with 'curvo plot'\n"
            "  --help              this text\n"
            "\n"
            "Exit status: 0 done; 1 a run failed or a file could not be read or written; 2 bad options.\n");
}

typedef struct rl_opts {
    const char *env, *opt, *log, *save, *resume, *out, *opts;
    const char *opt_params[CLI_MAX_OPT_PARAMS];
    int n_opt_params, have_lr, quiet, bench;
    double lr;
    long threads, seeds, final_eval;
    int64_t stop_at;
    /* agent overrides: set flags say which were given */
    curvo_dqn_params p;
    unsigned long given;
} rl_opts;

enum { G_STEPS = 1, G_SEED = 2, G_MODEL = 4, G_BUFFER = 8, G_GAMMA = 16, G_TAU = 32, G_TARGET = 64, G_BATCH = 128,
       G_EPS0 = 256, G_EPS1 = 512, G_EPSF = 1024, G_LS = 2048, G_TRAIN = 4096, G_HUBER = 8192, G_EVAL = 16384,
       G_EVALN = 32768 };

/* The env's parameter set with the given overrides. */
static void apply_overrides(const rl_opts *o, curvo_dqn_params *p) {
    const curvo_dqn_params *g = &o->p;
#define OV(flag, field) if (o->given & flag) p->field = g->field
    OV(G_STEPS, total_steps); OV(G_SEED, seed); OV(G_MODEL, model); OV(G_BUFFER, buffer_size); OV(G_GAMMA, gamma);
    OV(G_TAU, tau); OV(G_TARGET, target_every); OV(G_BATCH, batch_size); OV(G_EPS0, eps_start); OV(G_EPS1, eps_end);
    OV(G_EPSF, eps_fraction); OV(G_LS, learning_starts); OV(G_TRAIN, train_every); OV(G_HUBER, huber);
    OV(G_EVAL, eval_every); OV(G_EVALN, eval_episodes);
#undef OV
}

static int make_opt(const rl_opts *o, const char *name, curvo_opt_params *op) {
    curvo_algorithm alg;
    if (!cli_parse_algorithm(name, &alg)) return 0;
    curvo_opt_params_init(op, alg);
    if (alg == CURVO_OPT_ADAM || alg == CURVO_OPT_ADAMW) op->adam.lr = 2.5e-4; /* cleanrl's */
    char err[CURVO_ERRMSG_LEN];
    if (o->have_lr && curvo_opt_params_set(op, "lr", o->lr, err)) {
        fprintf(stderr, "curvo rl: --lr: %s\n", err);
        return 0;
    }
    for (int i = 0; i < o->n_opt_params; i++)
        if (!cli_apply_opt_param(op, o->opt_params[i])) return 0;
    if (curvo_opt_params_check(op, err)) {
        fprintf(stderr, "curvo rl: %s\n", err);
        return 0;
    }
    return 1;
}

static void write_run_line(FILE *f, const curvo_dqn *d, const curvo_env_ops *env, long threads) {
    const curvo_dqn_params *p = curvo_dqn_get_params(d);
    fprintf(f, "{\"event\":\"run\",\"framework\":\"curvo\",\"optimizer\":");
    json_str(f, curvo_algorithm_name(curvo_dqn_opt_params(d)->algorithm));
    fprintf(f, ",\"model\":");
    json_str(f, p->model);
    fprintf(f, ",\"dataset\":");
    json_str(f, env->name);
    fprintf(f, ",\"env\":");
    json_str(f, env->name);
    fprintf(f, ",\"seed\":%llu,\"total_steps\":%lld,\"batch_size\":%d,\"threads\":%ld,\"params\":%zu",
            (unsigned long long)p->seed, (long long)p->total_steps, p->batch_size, threads,
            curvo_model_num_params(curvo_dqn_q_model((curvo_dqn *)d)));
    fputs("}\n", f);
}

/* The threshold of "solved" for the built-in envs (NaN: none). */
static double solved_threshold(const char *env) {
    return !strcmp(env, "cartpole") ? 475.0 : !strcmp(env, "acrobot") ? -100.0 : NAN;
}

typedef struct rl_result {
    double final_mean, final_std;
    int64_t steps, solved_at;
} rl_result;

/* One run (new or resumed agent d): runs to stop, saves, evaluates at the end; 0 ok, else exit code. */
static int run_agent(const rl_opts *o, curvo_dqn *d, const curvo_env_ops *env, FILE *log, const char *label,
                     rl_result *res) {
    const curvo_dqn_params *p = curvo_dqn_get_params(d);
    rl_run r = {.log = log, .quiet = o->quiet, .label = label, .last_print = -1e9, .eval_last = NAN,
                .threshold = solved_threshold(env->name), .solved_at = -1, .total = p->total_steps};
    int64_t until = o->stop_at > 0 && o->stop_at < p->total_steps ? o->stop_at : p->total_steps;
    int rc = curvo_dqn_run(d, until, on_event, &r);
    if (rc) {
        fprintf(stderr, "curvo rl: %s\n", curvo_dqn_errmsg(d)[0] ? curvo_dqn_errmsg(d) : curvo_strerror(rc));
        return 1;
    }
    if (o->save && curvo_dqn_save(d, o->save)) {
        fprintf(stderr, "curvo rl: --save: %s\n", curvo_dqn_errmsg(d));
        return 1;
    }
    *res = (rl_result){NAN, NAN, curvo_dqn_env_steps(d), r.solved_at};
    if (o->final_eval > 0 && curvo_dqn_env_steps(d) >= p->total_steps) {
        if (curvo_dqn_evaluate(d, (int)o->final_eval, p->seed + 0x5eedull, &res->final_mean, &res->final_std)) {
            fprintf(stderr, "curvo rl: %s\n", curvo_dqn_errmsg(d));
            return 1;
        }
        if (log) {
            fprintf(log, "{\"event\":\"final_eval\",\"env_steps\":%lld", (long long)res->steps);
            json_num(log, "eval_return", res->final_mean);
            json_num(log, "eval_std", res->final_std);
            fprintf(log, ",\"eval_episodes\":%ld", o->final_eval);
            if (r.solved_at >= 0) fprintf(log, ",\"solved_at\":%lld", (long long)r.solved_at);
            else fputs(",\"solved_at\":null", log);
            fputs("}\n", log);
        }
        if (!o->quiet)
            fprintf(stderr, "%s%sfinal greedy evaluation: %.2f +- %.2f over %ld episodes\n", label ? label : "",
                    label ? ": " : "", res->final_mean, res->final_std, o->final_eval);
    }
    return 0;
}

static FILE *open_log(const char *path, int append) {
    FILE *f = fopen(path, append ? "a" : "w");
    if (!f) fprintf(stderr, "curvo rl: --log: cannot write %s\n", path);
    return f;
}

static int close_log(FILE *f, const char *path) {
    if (f && fclose(f)) {
        fprintf(stderr, "curvo rl: --log: write error on %s\n", path);
        return 1;
    }
    return 0;
}

static int single(const rl_opts *o) {
    char err[CURVO_ERRMSG_LEN], name[64];
    curvo_dqn *d = NULL;
    const curvo_env_ops *env;
    int code = 0;
    if (o->resume) {
        if (curvo_dqn_checkpoint_env(o->resume, name, sizeof name, err)) {
            fprintf(stderr, "curvo rl: --resume: %s\n", err);
            return 1;
        }
        if (!(env = curvo_env_find(name))) {
            fprintf(stderr, "curvo rl: --resume: the checkpoint's environment '%s' is not built in\n", name);
            return 1;
        }
        if (o->env && strcmp(o->env, name)) {
            fprintf(stderr, "curvo rl: --env %s, but the checkpoint is of '%s'\n", o->env, name);
            return 2;
        }
        if (curvo_dqn_resume(o->resume, env, &d, err)) {
            fprintf(stderr, "curvo rl: --resume: %s\n", err);
            return 1;
        }
    } else {
        env = curvo_env_find(o->env);
        curvo_dqn_params p;
        curvo_dqn_params_for_env(&p, o->env);
        apply_overrides(o, &p);
        curvo_opt_params op;
        if (!make_opt(o, o->opt, &op)) return 2;
        if (curvo_dqn_create(env, &p, &op, &d, err)) {
            fprintf(stderr, "curvo rl: %s\n", err);
            return 2;
        }
    }
    FILE *log = NULL;
    if (o->log && !(log = open_log(o->log, o->resume != NULL))) code = 1;
    if (!code && log) {
        if (o->resume)
            fprintf(log, "{\"event\":\"resume\",\"checkpoint\":\"%s\",\"env_steps\":%lld}\n", o->resume,
                    (long long)curvo_dqn_env_steps(d));
        else
            write_run_line(log, d, env, o->threads);
    }
    rl_result res;
    if (!code) code = run_agent(o, d, env, log, NULL, &res);
    if (close_log(log, o->log) && !code) code = 1;
    curvo_dqn_free(d);
    return code;
}

static int bench(const rl_opts *o) {
    char names[RL_MAX_OPTS][32];
    int n = 0;
    for (const char *s = o->opts; *s;) {
        size_t len = strcspn(s, ",");
        if (!len || len >= sizeof names[0] || n == RL_MAX_OPTS) {
            fprintf(stderr, "curvo rl: --opts: '%s' is not a list of up to %d optimizer names\n", o->opts, RL_MAX_OPTS);
            return 2;
        }
        memcpy(names[n], s, len);
        names[n++][len] = '\0';
        s += len + (s[len] == ',');
    }
    curvo_opt_params ops[RL_MAX_OPTS];
    for (int i = 0; i < n; i++)
        if (!make_opt(o, names[i], &ops[i])) return 2;
    const curvo_env_ops *env = curvo_env_find(o->env);
    rl_result res[RL_MAX_OPTS][64];
    int code = 0;
    for (int i = 0; i < n && !code; i++)
        for (long s = 1; s <= o->seeds && !code; s++) {
            curvo_dqn_params p;
            curvo_dqn_params_for_env(&p, o->env);
            apply_overrides(o, &p);
            p.seed = (uint64_t)s;
            char err[CURVO_ERRMSG_LEN], path[4096], label[64];
            snprintf(path, sizeof path, "%s/%s-%s-s%ld.jsonl", o->out, o->env, names[i], s);
            snprintf(label, sizeof label, "%s seed %ld", names[i], s);
            curvo_dqn *d;
            if (curvo_dqn_create(env, &p, &ops[i], &d, err)) {
                fprintf(stderr, "curvo rl: %s\n", err);
                return 2;
            }
            FILE *log = open_log(path, 0);
            if (!log) code = 1;
            if (!code) write_run_line(log, d, env, o->threads);
            if (!code) code = run_agent(o, d, env, log, label, &res[i][s - 1]);
            if (close_log(log, path) && !code) code = 1;
            curvo_dqn_free(d);
        }
    if (code) return code;
    printf("%-8s %5s %14s %14s %22s\n", "opt", "seed", "final return", "solved at", "log");
    for (int i = 0; i < n; i++)
        for (long s = 1; s <= o->seeds; s++) {
            const rl_result *r = &res[i][s - 1];
            char solved[32];
            if (r->solved_at >= 0) snprintf(solved, sizeof solved, "%lld", (long long)r->solved_at);
            else snprintf(solved, sizeof solved, "-");
            printf("%-8s %5ld %8.1f+-%-5.1f %14s %s/%s-%s-s%ld.jsonl\n", names[i], s, r->final_mean, r->final_std, solved,
                   o->out, o->env, names[i], s);
        }
    return 0;
}

int cli_rl(int argc, char **argv) {
    static const struct option opts[] = {
        {"env", required_argument, 0, 'e'},          {"opt", required_argument, 0, 'o'},
        {"lr", required_argument, 0, 'l'},           {"opt-param", required_argument, 0, 'p'},
        {"steps", required_argument, 0, 'n'},        {"seed", required_argument, 0, 's'},
        {"threads", required_argument, 0, 't'},      {"model", required_argument, 0, 'm'},
        {"buffer", required_argument, 0, 'B'},       {"gamma", required_argument, 0, 'g'},
        {"tau", required_argument, 0, 'T'},          {"target-every", required_argument, 0, 'K'},
        {"batch", required_argument, 0, 'b'},        {"eps-start", required_argument, 0, '0'},
        {"eps-end", required_argument, 0, '1'},      {"eps-fraction", required_argument, 0, 'f'},
        {"learning-starts", required_argument, 0, 'L'}, {"train-every", required_argument, 0, 'F'},
        {"huber", no_argument, 0, 'H'},              {"eval-every", required_argument, 0, 'v'},
        {"eval-episodes", required_argument, 0, 'V'}, {"final-eval", required_argument, 0, 'X'},
        {"log", required_argument, 0, 'j'},          {"save", required_argument, 0, 'S'},
        {"resume", required_argument, 0, 'r'},       {"stop-at", required_argument, 0, 'A'},
        {"quiet", no_argument, 0, 'q'},              {"bench", no_argument, 0, 'Z'},
        {"opts", required_argument, 0, 'O'},         {"seeds", required_argument, 0, 'k'},
        {"out", required_argument, 0, 'D'},          {"help", no_argument, 0, 'h'},
        {0, 0, 0, 0}};
    rl_opts o = {.opt = "adam", .threads = 1, .seeds = 3, .final_eval = 100, .out = "."};
    curvo_dqn_params_init(&o.p);
    int c, ok = 1;
    long v;
    optind = 1;
    opterr = 0;
    while ((c = getopt_long(argc, argv, ":", opts, NULL)) != -1) {
        switch (c) {
        case 'e': o.env = optarg; break;
        case 'o': o.opt = optarg; break;
        case 'l': ok = cli_parse_number("--lr", optarg, &o.lr), o.have_lr = 1; break;
        case 'p':
            if (o.n_opt_params == CLI_MAX_OPT_PARAMS) {
                fprintf(stderr, "curvo rl: --opt-param: at most %d\n", CLI_MAX_OPT_PARAMS);
                return 2;
            }
            o.opt_params[o.n_opt_params++] = optarg;
            break;
        case 'n': ok = cli_parse_long("steps", optarg, 1, 1000000000L, &v), o.p.total_steps = v, o.given |= G_STEPS; break;
        case 's': ok = cli_parse_long("seed", optarg, 0, 2147483647L, &v), o.p.seed = (uint64_t)v, o.given |= G_SEED; break;
        case 't': ok = cli_parse_long("threads", optarg, 1, 256, &o.threads); break;
        case 'm': o.p.model = optarg, o.given |= G_MODEL; break;
        case 'B': ok = cli_parse_long("buffer", optarg, 1, 100000000L, &v), o.p.buffer_size = (int)v, o.given |= G_BUFFER; break;
        case 'g': ok = cli_parse_double("gamma", optarg, 0, 1, &o.p.gamma), o.given |= G_GAMMA; break;
        case 'T': ok = cli_parse_double_open("tau", optarg, 0, 1, CLI_LO_OPEN, &o.p.tau), o.given |= G_TAU; break;
        case 'K': ok = cli_parse_long("target-every", optarg, 1, 1000000000L, &v), o.p.target_every = (int)v, o.given |= G_TARGET; break;
        case 'b': ok = cli_parse_long("batch", optarg, 1, 65536, &v), o.p.batch_size = (int)v, o.given |= G_BATCH; break;
        case '0': ok = cli_parse_double("eps-start", optarg, 0, 1, &o.p.eps_start), o.given |= G_EPS0; break;
        case '1': ok = cli_parse_double("eps-end", optarg, 0, 1, &o.p.eps_end), o.given |= G_EPS1; break;
        case 'f': ok = cli_parse_double_open("eps-fraction", optarg, 0, 1, CLI_LO_OPEN, &o.p.eps_fraction), o.given |= G_EPSF; break;
        case 'L': ok = cli_parse_long("learning-starts", optarg, 0, 1000000000L, &v), o.p.learning_starts = v, o.given |= G_LS; break;
        case 'F': ok = cli_parse_long("train-every", optarg, 1, 1000000000L, &v), o.p.train_every = (int)v, o.given |= G_TRAIN; break;
        case 'H': o.p.huber = 1, o.given |= G_HUBER; break;
        case 'v': ok = cli_parse_long("eval-every", optarg, 0, 1000000000L, &v), o.p.eval_every = v, o.given |= G_EVAL; break;
        case 'V': ok = cli_parse_long("eval-episodes", optarg, 1, 1000000, &v), o.p.eval_episodes = (int)v, o.given |= G_EVALN; break;
        case 'X': ok = cli_parse_long("final-eval", optarg, 0, 1000000, &o.final_eval); break;
        case 'j': o.log = optarg; break;
        case 'S': o.save = optarg; break;
        case 'r': o.resume = optarg; break;
        case 'A': ok = cli_parse_long("stop-at", optarg, 1, 1000000000L, &v), o.stop_at = v; break;
        case 'q': o.quiet = 1; break;
        case 'Z': o.bench = 1; break;
        case 'O': o.opts = optarg; break;
        case 'k': ok = cli_parse_long("seeds", optarg, 1, 64, &o.seeds); break;
        case 'D': o.out = optarg; break;
        case 'h': rl_usage(stdout); return 0;
        default: cli_bad_option("rl", argv, c); return 2;
        }
        if (!ok) return 2;
    }
    if (!cli_no_operands("rl", argc, argv)) return 2;
    if (!o.env && !o.resume) {
        fprintf(stderr, "curvo rl: --env is required (one of");
        for (int i = 0; curvo_env_at(i); i++) fprintf(stderr, " %s", curvo_env_at(i)->name);
        fprintf(stderr, "), or --resume\n");
        return 2;
    }
    if (o.env && !curvo_env_find(o.env)) {
        fprintf(stderr, "curvo rl: --env: unknown environment '%s' (one of", o.env);
        for (int i = 0; curvo_env_at(i); i++) fprintf(stderr, " %s", curvo_env_at(i)->name);
        fprintf(stderr, ")\n");
        return 2;
    }
    if (o.resume && (o.given || o.have_lr || o.n_opt_params || o.bench)) {
        fprintf(stderr, "curvo rl: --resume continues the saved run: agent, optimizer and --bench options do not apply\n");
        return 2;
    }
    if (o.bench && (!o.opts || o.save || o.log || o.stop_at)) {
        fprintf(stderr, "curvo rl: --bench needs --opts and writes its own logs (no --log, --save or --stop-at)\n");
        return 2;
    }
    if (!o.bench && o.opts) {
        fprintf(stderr, "curvo rl: --opts belongs to --bench (use --opt for one run)\n");
        return 2;
    }
    if ((o.log && !cli_check_output("--log", o.log, 0)) || (o.save && !cli_check_output("--save", o.save, 0)) ||
        (o.bench && !cli_check_output("--out", o.out, 1)))
        return 1;
    curvo_set_threads((int)o.threads);
    cli_warn_threads(o.threads);
    return o.bench ? bench(&o) : single(&o);
}
