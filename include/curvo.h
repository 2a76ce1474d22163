/* curvo.h — the one public header of libcurvo.
 *
 * curvo trains neural networks with stochastic second-order optimizers. This header exposes:
 *   - status codes and curvo_strerror()
 *   - an explicit-state random number generator (curvo_rng)
 *   - models: a sequence of modules with all parameters in one flat float vector, built from C or
 *     from a spec string ("conv:16:5,relu,maxpool:2,flatten,dense:10")
 *   - losses (softmax cross-entropy, mean squared error, sigmoid binary cross-entropy)
 *   - the curvature operators of one mini-batch (curvo_curv): loss, gradient, Jv, J^T u, GGN-vector,
 *     exact Hessian-vector products (blocked: k vectors at once) and the Gram matrix of whitened
 *     per-sample output Jacobians, formed without materialising J.
 *
 * Conventions
 *   - Tensors are row-major float arrays; a batch of b samples is (b, features...) with images
 *     laid out (b, channels, height, width).
 *   - "k vectors at once" arrays are (k, n) for parameter-space vectors and (k, b, c) for
 *     output-space vectors: vector j starts at offset j*n (resp. j*b*c).
 *   - Functions return CURVO_OK (0) or a negative CURVO_E_* code; none calls exit() or prints.
 *   - Notation (see docs/ENGINE.md): L(w) = (1/b) sum_i l(y_i, f_i), J is the (b*c) x n stacked
 *     output Jacobian with row i*c+k = d f_{i,k} / d w, Q_i = d^2 l / d f_i^2 = L_i L_i^T,
 *     G = (1/b) J^T Q J, H = d^2 L / dw^2.
 */
#ifndef CURVO_H
#define CURVO_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#define CURVO_VERSION_MAJOR 0
#define CURVO_VERSION_MINOR 1
#define CURVO_VERSION_PATCH 0
#define CURVO_VERSION_STRING "0.1.0"

/* ---------------------------------------------------------------- status codes */
typedef enum curvo_status {
    CURVO_OK = 0,
    CURVO_E_NOMEM = -1,        /* an allocation failed */
    CURVO_E_INVALID = -2,      /* an argument is out of range or NULL where it may not be */
    CURVO_E_SPEC = -3,         /* a model spec string could not be parsed */
    CURVO_E_SHAPE = -4,        /* shapes do not fit (e.g. a kernel larger than its padded input) */
    CURVO_E_STATE = -5,        /* call out of order (e.g. a product before curvo_curv_set_batch) */
    CURVO_E_NUMERIC = -6,      /* a non-finite value or a failed factorization */
    CURVO_E_IO = -7,           /* a file could not be read or written */
    CURVO_E_FORMAT = -8,       /* a file's contents are malformed */
    CURVO_E_UNSUPPORTED = -9   /* the operation is not available for this configuration */
} curvo_status;

/* A static English description of a status code; never NULL. */
const char *curvo_strerror(int status);

/* Library version as "MAJOR.MINOR.PATCH". */
const char *curvo_version(void);

/* Sets the number of threads used by BLAS and by curvo's own parallel loops (n >= 1).
 * With one thread every computation is bit-reproducible from its seed. */
void curvo_set_threads(int n);

/* ---------------------------------------------------------------- random numbers */
/* xoshiro256** with explicit state; the same seed gives the same stream on every machine. */
typedef struct curvo_rng {
    uint64_t s[4];
} curvo_rng;

void curvo_rng_seed(curvo_rng *rng, uint64_t seed);
uint64_t curvo_rng_next(curvo_rng *rng);          /* 64 random bits */
double curvo_rng_uniform(curvo_rng *rng);         /* in [0, 1) */
double curvo_rng_normal(curvo_rng *rng);          /* standard normal */
uint64_t curvo_rng_below(curvo_rng *rng, uint64_t n); /* uniform in [0, n), n > 0 */

/* ---------------------------------------------------------------- models */
typedef struct curvo_model curvo_model;

typedef enum curvo_activation {
    CURVO_ACT_RELU = 0,
    CURVO_ACT_TANH = 1,
    CURVO_ACT_SIGMOID = 2,
    CURVO_ACT_SOFTPLUS = 3
} curvo_activation;

/* Length of the error buffers taken by functions that can fail before a handle exists. */
#define CURVO_ERRMSG_LEN 256

/* Creates an empty model whose input is (channels, height, width); a flat vector input of d
 * features is (1, 1, d) or (d, 1, 1). */
int curvo_model_create(int channels, int height, int width, curvo_model **out);
void curvo_model_free(curvo_model *model);

/* Appends modules. Each checks that it fits the current output shape and returns CURVO_E_SHAPE
 * (with a message in curvo_model_errmsg) if it does not.
 *   dense: y = x W^T + b on the flattened input, W (units, in), b (units).
 *   conv2d: out_channels filters of kernel x kernel, given stride (>= 1) and zero padding (>= 0);
 *           W (out_channels, in_channels, kernel, kernel), b (out_channels).
 *   maxpool / avgpool: window kernel x kernel with the given stride, no padding.
 *   flatten: (c, h, w) -> (c*h*w, 1, 1). */
int curvo_model_add_dense(curvo_model *model, int units);
int curvo_model_add_conv2d(curvo_model *model, int out_channels, int kernel, int stride, int padding);
int curvo_model_add_maxpool(curvo_model *model, int kernel, int stride);
int curvo_model_add_avgpool(curvo_model *model, int kernel, int stride);
int curvo_model_add_flatten(curvo_model *model);
int curvo_model_add_activation(curvo_model *model, curvo_activation act);

/* Builds a model from a spec string: comma-separated tokens
 *   dense:UNITS   conv:OUT:K[:STRIDE[:PAD]]   maxpool:K[:STRIDE]   avgpool:K[:STRIDE]
 *   flatten   relu   tanh   sigmoid   softplus
 * or a preset name: "mlp" = "flatten,dense:256,relu,dense:10",
 *                   "cnn" = "conv:16:5,relu,maxpool:2,conv:32:5,relu,maxpool:2,flatten,dense:10".
 * Pool strides default to the kernel size; conv stride to 1 and padding to 0.
 * On failure *out is NULL and errmsg (if not NULL, CURVO_ERRMSG_LEN bytes) names the offending
 * token. The parameters are not initialised: call curvo_model_init. */
int curvo_model_from_spec(const char *spec, int channels, int height, int width,
                          curvo_model **out, char *errmsg);

/* Expands a preset name to its spec string; returns the argument itself if it is no preset. */
const char *curvo_model_preset(const char *name);

/* Deterministic initialization from rng: weights He-normal (std sqrt(2/fan_in)) for layers
 * followed by relu or softplus, Xavier-uniform (limit sqrt(6/(fan_in+fan_out))) otherwise;
 * biases zero. */
int curvo_model_init(curvo_model *model, curvo_rng *rng);

size_t curvo_model_num_params(const curvo_model *model);
float *curvo_model_params(curvo_model *model);          /* theta, length num_params */
size_t curvo_model_input_size(const curvo_model *model);  /* features per sample */
size_t curvo_model_output_size(const curvo_model *model); /* c, outputs per sample */
int curvo_model_num_modules(const curvo_model *model);
/* Writes a one-line description of the model ("conv:16:5:1:0,relu,...") into buf. */
int curvo_model_describe(const curvo_model *model, char *buf, size_t len);
/* The last error message recorded on this model ("" if none). */
const char *curvo_model_errmsg(const curvo_model *model);

/* Network outputs (logits for classification) for b samples: x (b, input_size), y (b, c).
 * Uses the model's own workspace, so it is not thread-safe on one model. */
int curvo_model_predict(curvo_model *model, const float *x, int b, float *y);

/* ---------------------------------------------------------------- losses */
typedef enum curvo_loss_kind {
    CURVO_LOSS_CE = 0,   /* softmax cross-entropy, integer labels in [0, c) */
    CURVO_LOSS_MSE = 1,  /* 1/2 ||y - f||^2 per sample, float targets (b, c) */
    CURVO_LOSS_BCE = 2   /* sigmoid binary cross-entropy per output, float targets in [0,1] (b, c) */
} curvo_loss_kind;

/* A mini-batch. labels is used by CURVO_LOSS_CE, targets by the others. */
typedef struct curvo_batch {
    const float *x;          /* (b, input_size) */
    const int32_t *labels;   /* (b) */
    const float *targets;    /* (b, c) */
    int b;
} curvo_batch;

/* ---------------------------------------------------------------- curvature operators */
/* A curvature context ties a model and a loss to one mini-batch. curvo_curv_set_batch runs the
 * forward pass at the model's current parameters and caches what every product below needs; after
 * the parameters change, call it again. The context keeps a pointer to the batch's arrays, which
 * must stay alive until the next set_batch. */
typedef struct curvo_curv curvo_curv;

int curvo_curv_create(curvo_model *model, curvo_loss_kind loss, curvo_curv **out);
void curvo_curv_free(curvo_curv *cv);
const char *curvo_curv_errmsg(const curvo_curv *cv);

int curvo_curv_set_batch(curvo_curv *cv, const curvo_batch *batch);
/* Mean loss over the batch at the parameters of the last set_batch. */
double curvo_curv_loss(const curvo_curv *cv);
/* Network outputs of the batch, (b, c), valid until the next set_batch. */
const float *curvo_curv_outputs(const curvo_curv *cv);

/* g = dL/dw, length n. */
int curvo_curv_grad(curvo_curv *cv, float *g);
/* Jv for k parameter-space vectors: v (k, n) -> out (k, b, c). */
int curvo_curv_jvp(curvo_curv *cv, const float *v, int k, float *out);
/* J^T u for k output-space vectors: u (k, b, c) -> out (k, n). No 1/b factor. */
int curvo_curv_vjp(curvo_curv *cv, const float *u, int k, float *out);
/* GGN-vector products Gv = J^T Q J v / b: v (k, n) -> out (k, n). Q is the exact loss Hessian. */
int curvo_curv_ggn(curvo_curv *cv, const float *v, int k, float *out);
/* Exact Hessian-vector products Hv: v (k, n) -> out (k, n). */
int curvo_curv_hvp(curvo_curv *cv, const float *v, int k, float *out);

/* The factor of the output Hessian used by the Gauss-Newton solvers, Q_i + eps I = L_i L_i^T with
 * L_i lower triangular (eps = 1e-6 for CE and BCE, 0 for MSE): out (b, c, c), row-major per sample. */
int curvo_curv_hessian_factor(curvo_curv *cv, double *out);
/* The per-sample residual r with g = -(1/b) J^T r (CE: onehot(y) - p; MSE: y - f; BCE: y - p):
 * out (b, c). */
int curvo_curv_residual(curvo_curv *cv, double *out);
/* Gram matrix of the whitened Jacobian, J~ J~^T with J~ = blockdiag(L_i^T) J: out (b*c, b*c),
 * row/column index i*c + k, in double. Formed from per-layer factors, never from J itself. */
int curvo_curv_gram(curvo_curv *cv, double *out);
/* J~^T u = J^T blockdiag(L_i) u for k vectors: u (k, b, c) in double -> out (k, n). */
int curvo_curv_whitened_vjp(curvo_curv *cv, const double *u, int k, float *out);

#ifdef __cplusplus
}
#endif
#endif /* CURVO_H */
