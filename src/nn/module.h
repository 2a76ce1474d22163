/* module.h — the internal module interface: one table of actions per module kind.
 *
 * Every module acts on a batch of b samples and implements, exactly:
 *   forward  y = f(x; theta)
 *   vjp      dx = (df/dx)^T dy,  dtheta += (df/dtheta)^T dy                      (reverse mode)
 *   jvp      ydot = (df/dx) xdot + (df/dtheta) thetadot                          (forward mode)
 *   soa      the tangent of the vjp along (xdot, thetadot) with adjoint tangent dydot
 *            (Pearlmutter's R-op of the backward pass), used for exact Hessian-vector products
 *   gram     (parametric modules) its contribution to the Gram matrix of per-sample parameter
 *            gradients of k cotangent rows per sample.
 * Tangent/cotangent arrays carry k vectors at once, laid out (k, b, features); parameter tangents
 * and parameter adjoints are (k, ldt) with this module's slice starting at column 0 (the caller
 * passes a pointer already offset to the module's parameters, and ldt = the model's n).
 * A NULL xdot or thetadot means zero; a NULL dx/dxdot/dtheta/dthetadot means "not needed".
 * A NULL ws_bytes means no workspace. Actions may use the workspace's scratch, so one pass runs
 * one action at a time, and a module's workspace must stay as forward left it until the next
 * forward. What an action needs only while it runs can instead be scratch (scratch_bytes,
 * nn_ctx.scratch), which the modules of a pass share.
 * Shapes: x (b, in_size), y (b, out_size) where in_size = in_c*in_h*in_w and likewise out.
 * A batch-coupled module (couples_batch: batchnorm in training mode) is a function of the whole
 * batch, y = f(X; theta): its vjp, jvp and soa are those of that function, exactly (sums over the
 * batch included); only gram, which asks for per-sample rows, is per sample by its definition.
 */
#ifndef CURVO_NN_MODULE_H
#define CURVO_NN_MODULE_H

#include <stddef.h>
#include "curvo.h"

typedef struct module module;

/* What a module sees of one pass: its parameters, its input and output activations, and the
 * workspace that its forward call filled (im2col columns, argmax indices). */
typedef struct nn_ctx {
    const float *theta; /* this module's parameters */
    const float *x;     /* (b, in_size) */
    const float *y;     /* (b, out_size) */
    void *ws;           /* ws_bytes(m, b) bytes, filled by forward */
    int b;
    void *scratch;      /* scratch_bytes(m, b) bytes the action may overwrite (NULL when 0) */
} nn_ctx;

/* The mode of a forward pass (model.h: the model's training flag). training: batch-coupled modules
 * (batchnorm) normalize with the batch's own statistics, else with their running statistics (the
 * module is then a per-sample map). update_state: a training-mode pass also folds the batch's
 * statistics into the module's state (once per optimizer step; curvature.c decides when). */
typedef struct nn_mode {
    int training;
    int update_state;
} nn_mode;

typedef struct module_ops {
    const char *name;
    /* Bytes of per-pass workspace for batch size b (may be 0). */
    size_t (*ws_bytes)(const module *m, int b);
    /* Optional (NULL: none): bytes of scratch for batch size b that vjp, jvp, soa and gram use only
     * while they run (nn_ctx.scratch; forward never does). A pass keeps one scratch buffer, the
     * largest any module asks for, and hands it to every module in turn. */
    size_t (*scratch_bytes)(const module *m, int b);
    /* Fills theta (n_params) from rng. next_is_rectifier: the following module is relu/softplus. */
    void (*init)(const module *m, float *theta, curvo_rng *rng, int next_is_rectifier);
    void (*forward)(const module *m, const float *theta, const float *x, float *y, void *ws, int b);
    /* dy (k, b, out) -> dx (k, b, in) (overwritten), dtheta (k, ldt) (accumulated). */
    void (*vjp)(const module *m, const nn_ctx *c, const float *dy, int k, float *dx, float *dtheta,
                size_t ldt);
    /* xdot (k, b, in), thetadot (k, ldt) -> ydot (k, b, out) (overwritten). */
    void (*jvp)(const module *m, const nn_ctx *c, const float *xdot, const float *thetadot,
                size_t ldt, int k, float *ydot);
    /* dy (b, out): the adjoint of the output; dydot (k, b, out) its tangents.
     * -> dxdot (k, b, in) (overwritten), dthetadot (k, ldt) (accumulated). */
    void (*soa)(const module *m, const nn_ctx *c, const float *xdot, const float *thetadot,
                size_t ldt, const float *dy, const float *dydot, int k, float *dxdot,
                float *dthetadot);
    /* Adds to the upper triangle (row <= column) of gram (k*b, k*b), index j*b + i for cotangent j
     * of sample i, the inner products of per-sample parameter gradients: sum over this module's
     * parameters of (d<dy_{j,i}, y_i>/dtheta) . (d<dy_{j',i'}, y_{i'}>/dtheta). The lower triangle
     * may be left as it is: the caller mirrors the upper one. NULL for modules without parameters.
     * Returns CURVO_OK or CURVO_E_NOMEM. */
    int (*gram)(const module *m, const nn_ctx *c, const float *dy, int k, double *gram);
    /* Optional (modules that materialise them, conv2d): the per-sample parameter gradients
     * themselves, rows (k*b, n_params), row j*b + i, so that gram adds rows rows^T
     * (nn_gram_add_rows). The data-parallel Gram gathers these rows across processes in place of
     * the module's input and output cotangents when they are fewer bytes. NULL otherwise.
     * Returns CURVO_OK or CURVO_E_NOMEM. */
    int (*gram_rows)(const module *m, const nn_ctx *c, const float *dy, int k, float *rows);
    /* Fixed linear maps without parameters (avgpool, gap): y = A x on n rows (x (n, in), y (n, out))
     * and dx = A^T d (overwrites dx); their tables take the nn_linear_* actions (linear_map.c),
     * which are built from these two. NULL for other modules. */
    void (*apply)(const module *m, const float *x, float *y, long n);
    void (*adjoint)(const module *m, const float *d, float *dx, long n);
    /* 1 when gram (and gram_rows) read what forward left in the workspace (batchnorm's statistics,
     * a residual block's children's activations). The data-parallel Gram, which has no workspace
     * for other ranks' samples, then gathers the module's rows when it has gram_rows, and otherwise
     * runs forward on the gathered inputs first (forward_mode in the model's mode, when the module
     * has one: a block's batchnorm children in evaluation mode use their running statistics). */
    int gram_reads_ws;
    /* Optional: frees what the module owns (a residual block: its children). */
    void (*release)(module *m);
    /* Optional (modules with state, n_state > 0, or with modes): forward in the given mode with the
     * module's state (n_state floats at state_offset of the model's state buffer, read in
     * evaluation mode, updated when mode->update_state). A pass calls it in place of forward,
     * which is then the training-mode forward without a state update. */
    void (*forward_mode)(const module *m, const float *theta, float *state, const nn_mode *mode,
                         const float *x, float *y, void *ws, int b);
    /* Optional: the state's initial values (n_state floats). */
    void (*init_state)(const module *m, float *state);
} module_ops;

struct module {
    const module_ops *ops;
    int in_c, in_h, in_w;    /* input shape (channels, height, width) */
    int out_c, out_h, out_w; /* output shape */
    size_t n_params;
    size_t offset;           /* start of this module's parameters in the flat theta */
    int units;               /* dense: output units; conv2d: output channels */
    int kernel, stride, pad; /* conv2d and pooling */
    curvo_activation act;    /* activation modules */
    int groups;              /* groupnorm: channel groups (layernorm: 1) */
    int no_bias;             /* conv2d: no bias term (nn_conv2d_drop_bias) */
    struct nn_block *block;  /* residual blocks: the body and shortcut modules (owned; residual.c) */
    size_t n_state;          /* floats of non-parameter state (running statistics), 0 for most */
    size_t state_offset;     /* start of this module's state in the model's state buffer */
    int couples_batch;       /* in training mode an output depends on other samples (batchnorm, or
                              * a residual block with such a child): no per-sample Jacobian rows
                              * below it, no shard-local statistics */
};

static inline size_t module_in_size(const module *m) { return (size_t)m->in_c * m->in_h * m->in_w; }
static inline size_t module_out_size(const module *m) { return (size_t)m->out_c * m->out_h * m->out_w; }
static inline size_t module_scratch_bytes(const module *m, int b) {
    return m->ops->scratch_bytes ? m->ops->scratch_bytes(m, b) : 0;
}

/* The four actions of a fixed linear map without parameters, from its table's apply and adjoint. */
void nn_linear_forward(const module *m, const float *theta, const float *x, float *y, void *ws, int b);
void nn_linear_vjp(const module *m, const nn_ctx *c, const float *dy, int k, float *dx, float *dtheta,
                   size_t ldt);
void nn_linear_jvp(const module *m, const nn_ctx *c, const float *xdot, const float *thetadot, size_t ldt,
                   int k, float *ydot);
void nn_linear_soa(const module *m, const nn_ctx *c, const float *xdot, const float *thetadot, size_t ldt,
                   const float *dy, const float *dydot, int k, float *dxdot, float *dthetadot);

/* Adds the upper triangle of rows rows^T (rows (kb, n) float, accumulated in float by one syrk) to
 * gram (kb, kb) double: the Gram block of materialised per-sample gradients. CURVO_E_NOMEM. */
int nn_gram_add_rows(const float *rows, size_t kb, size_t n, double *gram);
/* The gram action of a module that has gram_rows: its rows (k*b, n_params) materialised, then
 * added by nn_gram_add_rows. CURVO_E_NOMEM. */
int nn_gram_from_rows(const module *m, const nn_ctx *c, const float *dy, int k, double *gram);

/* Module kinds; each file defines its table and a constructor that fills shapes and n_params
 * from the input shape already set in *m, returning CURVO_E_SHAPE if it does not fit. */
extern const module_ops nn_dense_ops, nn_conv2d_ops, nn_maxpool_ops, nn_avgpool_ops,
    nn_flatten_ops, nn_activation_ops, nn_residual_ops;
extern const module_ops nn_batchnorm_ops; /* couples the samples in training mode; has state */
int nn_dense_setup(module *m, int units);
int nn_conv2d_setup(module *m, int out_channels, int kernel, int stride, int padding);
/* Turns a conv2d module set up by nn_conv2d_setup into one without bias (n_params shrinks). */
void nn_conv2d_drop_bias(module *m);
int nn_pool_setup(module *m, const module_ops *ops, int kernel, int stride);
int nn_flatten_setup(module *m);
int nn_activation_setup(module *m, curvo_activation act);
/* Normalization (norm.c): ops is nn_groupnorm_ops or nn_layernorm_ops (groups ignored, 1). */
extern const module_ops nn_groupnorm_ops, nn_layernorm_ops, nn_gap_ops;
int nn_groupnorm_setup(module *m, const module_ops *ops, int groups);
int nn_gap_setup(module *m);
int nn_batchnorm_setup(module *m);

#endif
