/* model.h — the model's internals (a sequence of modules over one flat parameter vector) and the
 * forward-pass workspace shared by prediction and the curvature operators. */
#ifndef CURVO_NN_MODEL_H
#define CURVO_NN_MODEL_H

#include "nn/module.h"

struct curvo_model {
    int in_c, in_h, in_w;     /* input shape */
    module *mods;             /* (n_mods) */
    int n_mods, cap_mods;
    float *theta;             /* (n_params) all parameters, module l at mods[l].offset */
    size_t n_params;
    float *state;             /* (n_state) non-parameter state (running statistics), module l's at
                               * mods[l].state_offset; optimizers never see it */
    size_t n_state;
    int training;             /* 1 (the default): batch-coupled modules use the batch's statistics */
    char errmsg[CURVO_ERRMSG_LEN];
    struct nn_pass *predict_pass; /* lazily made by curvo_model_predict */
};

/* Activations and module workspaces of one forward pass over up to b_cap samples. A forward-only
 * pass (nn_pass_reserve_forward) keeps only what the next module reads: its act[l] alternate
 * between two buffers of the widest output, and every module's workspace is the same one buffer of
 * the largest size (nothing reads a module's workspace after its forward); only act[n_mods], the
 * outputs, is valid after the pass. Evaluation and prediction run such passes. */
typedef struct nn_pass {
    int n_mods;
    int b_cap, b;
    int forward_only;  /* 1: made by nn_pass_reserve_forward */
    const float **act; /* (n_mods + 1): act[0] = the input (not owned), act[l+1] = output of module l */
    float **buf;       /* (n_mods) owned storage behind act[1..]: (b_cap, out_size_l); forward-only: 2
                        * buffers (b_cap, widest output) */
    void **ws;         /* (n_mods) module workspaces (forward-only: all ws[l] = ws[0] or NULL) */
    void *scratch;     /* the modules' shared scratch: the largest scratch_bytes (NULL: none, forward-only) */
    const float *theta;
} nn_pass;

/* Makes sure the pass can hold b samples of this model (reallocates as needed): a full pass, whose
 * activations and workspaces the backward and tangent sweeps read, or a forward-only one. */
int nn_pass_reserve(nn_pass *p, const curvo_model *m, int b);
int nn_pass_reserve_forward(nn_pass *p, const curvo_model *m, int b);
void nn_pass_release(nn_pass *p);
/* Forward through all modules at parameters theta; outputs in p->act[n_mods]. nn_pass_forward runs
 * in the model's mode without updating its state; nn_pass_forward_mode in the given mode (with
 * mode.update_state, a training-mode pass also updates the model's running statistics). */
void nn_pass_forward(nn_pass *p, const curvo_model *m, const float *theta, const float *x, int b);
void nn_pass_forward_mode(nn_pass *p, const curvo_model *m, const float *theta, const float *x, int b,
                          nn_mode mode);
/* The first module that couples the samples in the model's current mode (training mode and
 * couples_batch), or -1 when every output depends on its own sample only. */
int nn_coupled_module(const curvo_model *m);
/* The view module l has of the pass. */
nn_ctx nn_pass_ctx(const nn_pass *p, const curvo_model *m, int l);
/* The shape-checked append of a module made by a setup function (theta grows, zeroed; mod->offset
 * set), and a module whose input shape is the model's current output shape (model.c). */
int nn_push_module(curvo_model *m, module *mod);
module nn_next_module(const curvo_model *m);
/* Initializes the parameters of the sequence mods (n), theta the base their offsets count from,
 * and (state not NULL) their state, state the base their state offsets count from;
 * last_next_is_rectifier: what follows the last module is relu/softplus. */
void nn_init_modules(const module *mods, int n, float *theta, float *state, curvo_rng *rng,
                     int last_next_is_rectifier);
/* Appends the modules of a spec string ("conv:8:3,relu,res(...)") to m (spec.c); errmsg
 * (CURVO_ERRMSG_LEN) gets "model spec: ..." on failure. */
int nn_spec_append(curvo_model *m, const char *spec, char *errmsg);
/* Whether the last top-level token of spec names a normalization layer (spec.c's list): then it
 * is copied into tok (len bytes) and 1 is returned. */
int nn_spec_last_norm(const char *spec, char *tok, size_t len);
/* A residual block's body modules (residual.c): their number, and the array in *body. */
int nn_residual_body(const module *block, const module **body);
/* Whether, inside residual block m (0 for any other module), a module that couples the samples in
 * training mode sits above a parametric one of its branch (nested blocks included): then *kind is
 * the coupling module's name. */
int nn_residual_inner_coupling(const module *m, const char **kind);
/* The name of the module that makes m couple the samples: m's own, or for a residual block the
 * name of its first coupling child (nested blocks looked into). */
const char *nn_coupling_kind(const module *m);

/* Largest activation size (features per sample) over the input and all module outputs. */
size_t nn_max_width(const curvo_model *m);

#endif
