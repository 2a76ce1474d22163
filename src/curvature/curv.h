/* curv.h — the curvature context's internals, shared by the files of src/curvature/ (the operators
 * in curvature.c and those built on them). Nothing outside src/curvature/ includes it. */
#ifndef CURVO_CURVATURE_CURV_H
#define CURVO_CURVATURE_CURV_H

#include "curvo.h"
#include "nn/model.h"

struct curvo_curv {
    curvo_model *model;
    curvo_loss_kind loss;
    char errmsg[CURVO_ERRMSG_LEN];
    int c;              /* outputs per sample */
    int first_param;    /* index of the lowest module with parameters (n_mods if none) */
    nn_pass pass;       /* forward activations and module workspaces */
    curvo_comm *comm;   /* the processes sharing the batch (not owned; NULL: serial) */
    curvo_batch batch;  /* this process's shard of the current batch (arrays not owned): b samples */
    int shard_off;      /* the shard's first sample in the global batch */
    int b_global;       /* B, the global batch: the 1/B of the loss and of every product */
    int have_batch, have_adj;
    double loss_value;
    int b_cap;
    float *p, *dz;      /* (b_cap, c) */
    float **adj;        /* (n_mods + 1): adj[l] (b_cap, size of a_l) for l >= 1 */
    float *gscratch;    /* (n) gradient computed only for its adjoints */
    int k_cap;          /* tangent capacity, in vectors */
    float **tan;        /* (n_mods + 1): tan[l] (k_cap, b_cap, size of a_l) for l >= 1 */
    float *ping, *pong; /* (k_cap, b_cap, max width) reverse-sweep buffers */
    float *seed;        /* (k_cap, b_cap, c) output-space seeds */
    unsigned long long batch_gen; /* set_batch calls so far: what is built from a batch is valid while it holds */
    struct curv_gn *gn; /* the Gauss-Newton system (gn.c), made on first use */
    int gn_dist_min;    /* gn_solve's distributed Cholesky from this order on, N > 1 (0: never) */
    int update_stats;   /* the next training-mode set_batch moves the running statistics (then 0) */
    int forward_only;   /* curv_forward_only (forward.h): loss and outputs only, a forward-only pass */
};

/* Records a printf-style message on cv and returns rc. */
#if defined(__GNUC__)
__attribute__((format(printf, 3, 4)))
#endif
int curv_fail(curvo_curv *cv, int rc, const char *fmt, ...);
/* CURVO_OK when cv holds a batch its operators can use (set, and not a forward-only context: forward.h);
 * else CURVO_E_STATE with the reason recorded on cv. */
int curv_need_batch(curvo_curv *cv);

/* The Gram of the seeded rows over the GLOBAL batch: seeds (k, b, c) are this shard's, out
 * (k B, k B) in double, index j*B + i with i the global sample index, the same on every rank. Each
 * parametric module's block is formed from factors allgathered across the processes (its input
 * activations and output cotangents, or its per-sample gradient rows, whichever is smaller; see
 * curvature.c). Collective; without a communicator (or with one process) it is
 * curvo_curv_seeded_gram, bit for bit. A failure on any rank fails every rank. */
int curv_global_seeded_gram(curvo_curv *cv, const double *seeds, int k, double *out);
/* Releases the Gauss-Newton system (gn.c); NULL is allowed. */
void curv_gn_free(struct curv_gn *gn);

#endif
