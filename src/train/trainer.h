/* trainer.h — the trainer's internals (private), shared by the training loop (trainer.c) and the
 * checkpoints that save and restore it (checkpoint.c). */
#ifndef CURVO_TRAIN_TRAINER_H
#define CURVO_TRAIN_TRAINER_H

#include "curvo.h"

struct ckpt_writer;
struct ckpt_reader;
/* The optimizer's algorithm ("opt.algorithm") and parameters ("opt.param.NAME") as checkpoint
 * sections, and back (a parameter the checkpoint lacks keeps its default); checkpoint.c, also
 * used by the RL agent's checkpoints (src/rl/dqn_ckpt.c). */
int train_put_opt(struct ckpt_writer *w, const curvo_opt_params *op);
int train_read_opt(struct ckpt_reader *r, curvo_opt_params *op, char *errmsg);

struct curvo_trainer {
    curvo_model *model;              /* not owned */
    curvo_loss_kind loss;
    curvo_optimizer *opt;
    curvo_curv *cv;
    curvo_curv *eval_cv;             /* evaluation passes' own context, made at the first one */
    const curvo_dataset *train, *test, *val; /* not owned */
    curvo_batcher *batcher;
    curvo_train_options o;           /* o.schedule points to sched, or is NULL */
    curvo_schedule sched;            /* the learning-rate schedule (kind none: none) */
    curvo_rng rng;                   /* shuffling */
    int epoch;                       /* epoch in progress (1-based) */
    int in_epoch;                    /* the batcher holds this epoch's order, partly consumed */
    int64_t step, step_in_epoch, steps_per_epoch;
    double loss_sum;                 /* over the finite batch losses since the last evaluation */
    int64_t loss_count;
    int rejected, consecutive_rejected;
    double seconds, train_seconds;   /* accumulated over this and earlier (resumed) runs */
    /* early stopping (o.early_stop > 0) */
    float *best_params;              /* (num_params) the parameters after best_epoch */
    float *best_state;               /* (model state size) its running statistics then; NULL if none */
    int best_epoch;                  /* 0: no finite validation loss yet */
    int since_best;                  /* epochs ended since best_epoch */
    int stopped_early;               /* the patience ran out; best_params are back in the model */
    double best_loss;                /* validation loss after best_epoch (INFINITY: none) */
    /* where the data came from (curvo_trainer_set_data_record), strings owned */
    int has_data;
    curvo_data_record data;
    char errmsg[CURVO_ERRMSG_LEN];
};

/* curvo_trainer_create without its collective part: checks, allocates, returns rc with *out set
 * (NULL on failure) and the reason in errmsg (CURVO_ERRMSG_LEN bytes). */
int trainer_create_local(curvo_model *model, curvo_loss_kind loss, const curvo_opt_params *opt,
                         const curvo_dataset *train, const curvo_dataset *test,
                         const curvo_train_options *options, curvo_trainer **out, char *errmsg);
/* The collective end of creating or resuming a trainer *trp (NULL when this rank's rc failed) over
 * comm (NULL or one process: nothing is exchanged): the ranks agree on one outcome (the first
 * failure in rank order, with a message naming the rank), check that they built the same setup,
 * and take rank 0's parameters. On failure *trp is freed and NULL on every rank. */
int trainer_join(curvo_trainer **trp, int rc, curvo_comm *comm, char *errmsg);

/* Formats the trainer's error message and returns rc. */
#if defined(__GNUC__)
__attribute__((format(printf, 3, 4)))
#endif
int trainer_fail(curvo_trainer *tr, int rc, const char *fmt, ...);

#endif
