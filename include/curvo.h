/* curvo.h — the one public header of libcurvo.
 *
 * curvo trains neural networks with stochastic second-order optimizers. This header exposes:
 *   - status codes and curvo_strerror()
 *   - an explicit-state random number generator (curvo_rng)
 *   - models: a sequence of modules with all parameters in one flat float vector, built from C or
 *     from a spec string ("conv:16:5,relu,maxpool:2,flatten,dense:10")
 *   - losses (softmax cross-entropy, mean squared error, sigmoid binary cross-entropy, and the
 *     selected-output squared and Huber errors of Q-learning)
 *   - communicators (curvo_comm): several processes training one model, data-parallel (MPI through
 *     curvo_mpi.h; serial by default)
 *   - the curvature operators of one mini-batch (curvo_curv): loss, gradient, Jv, J^T u, GGN-vector,
 *     exact Hessian-vector products (blocked: k vectors at once) and the Gram matrix of whitened
 *     per-sample output Jacobians, formed without materialising J
 *   - datasets (IDX, CSV, Fashion-MNIST, CIFAR-10) and seeded mini-batches
 *   - optimizers behind one handle: SGD, Adam, AdamW, EGN, SGN, LRSFN, SOFIM, arTuRO
 *   - the trainer (epochs, evaluation, progress callback, checkpoints, resume) and JSON Lines logs
 *   - reinforcement learning: environments (CartPole-v1, Acrobot-v1, your own) and a DQN agent
 *     trained by any of the optimizers (docs/RL.md)
 *
 * Conventions
 *   - Tensors are row-major float arrays; a batch of b samples is (b, features...) with images
 *     laid out (b, channels, height, width).
 *   - "k vectors at once" arrays are (k, n) for parameter-space vectors and (k, b, c) for
 *     output-space vectors: vector j starts at offset j*n (resp. j*b*c).
 *   - Functions return CURVO_OK (0) or a negative CURVO_E_* code; none calls exit() or prints.
 *   - Notation (see docs/ENGINE.md): L(w) = (1/b) sum_i l(y_i, f_i), J is the (b*c) x n stacked
 *     output Jacobian with row i*c+k = d f_{i,k} / d w, Q_i = d^2 l / d f_i^2 = L_i L_i^T,
 *     G = (1/b) J^T Q J, H = d^2 L / dw^2. Across processes (docs/DISTRIBUTED.md) the sums run over
 *     the global batch and b is its size.
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
    CURVO_E_UNSUPPORTED = -9,  /* the operation is not available for this configuration */
    CURVO_E_CANCELLED = -10,   /* a progress callback asked to stop */
    CURVO_E_REJECTED = -11     /* an optimizer step found no acceptable point; theta kept */
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
/* n standard normal floats (Marsaglia's polar method in float on 24-bit uniforms, both deviates of
 * each pair used): the fast way to fill a large random matrix. A different stream from repeated
 * curvo_rng_normal calls. */
void curvo_rng_fill_normal(curvo_rng *rng, float *x, size_t n);

/* ---------------------------------------------------------------- models */
typedef struct curvo_model curvo_model;

typedef enum curvo_activation {
    CURVO_ACT_RELU = 0,
    CURVO_ACT_TANH = 1,
    CURVO_ACT_SIGMOID = 2,
    CURVO_ACT_SOFTPLUS = 3,
    CURVO_ACT_EXP = 4
} curvo_activation;

/* Limits of a model: values per sample at any layer, and parameters in all. A module that would
 * exceed them is refused with CURVO_E_SHAPE before anything is allocated. */
#define CURVO_MAX_ACTIVATION ((size_t)1 << 26)
#define CURVO_MAX_PARAMS ((size_t)1 << 27)

/* Length of the error buffers taken by functions that can fail before a handle exists. */
#define CURVO_ERRMSG_LEN 256

/* Creates an empty model whose input is (channels, height, width), at most CURVO_MAX_ACTIVATION
 * values; a flat vector input of d features is (1, 1, d) or (d, 1, 1). */
int curvo_model_create(int channels, int height, int width, curvo_model **out);
void curvo_model_free(curvo_model *model);

/* Appends modules. Each checks that it fits the current output shape and returns CURVO_E_SHAPE
 * (with a message in curvo_model_errmsg) if it does not.
 *   dense: y = x W^T + b on the flattened input, W (units, in), b (units).
 *   conv2d: out_channels filters of kernel x kernel, given stride (>= 1) and zero padding (>= 0);
 *           W (out_channels, in_channels, kernel, kernel), b (out_channels).
 *   maxpool / avgpool: window kernel x kernel with the given stride, no padding.
 *   flatten: (c, h, w) -> (c*h*w, 1, 1).
 *   groupnorm: per sample, normalizes each of `groups` groups of channels (groups must divide the
 *           channels) to mean 0, variance 1 (eps 1e-5), then y = gamma_c xh + beta_c with a learned
 *           scale and shift per channel (init 1, 0): torch.nn.GroupNorm(groups, channels).
 *   layernorm: groupnorm with one group: per sample over all of (c, h, w), gamma and beta per
 *           channel (torch.nn.GroupNorm(1, channels)).
 *   gap: global average pooling, (c, h, w) -> (c, 1, 1), the mean of each channel.
 *   batchnorm: per channel over (batch, height, width), as torch.nn.BatchNorm2d (after a dense layer
 *           the channels are its units): y = gamma (x - mu) / sqrt(var + 1e-5) + beta, gamma (c)
 *           and beta (c) initialised 1 and 0. Training mode (curvo_model_set_training) uses the
 *           batch's mean and biased variance, so every output depends on the whole batch; evaluation
 *           mode uses the running statistics (model state, below), a per-sample affine map. */
int curvo_model_add_dense(curvo_model *model, int units);
int curvo_model_add_conv2d(curvo_model *model, int out_channels, int kernel, int stride, int padding);
int curvo_model_add_maxpool(curvo_model *model, int kernel, int stride);
int curvo_model_add_avgpool(curvo_model *model, int kernel, int stride);
int curvo_model_add_flatten(curvo_model *model);
int curvo_model_add_activation(curvo_model *model, curvo_activation act);
int curvo_model_add_groupnorm(curvo_model *model, int groups);
int curvo_model_add_layernorm(curvo_model *model);
int curvo_model_add_gap(curvo_model *model);
int curvo_model_add_batchnorm(curvo_model *model);

/* Appends a residual block y = body(x) + shortcut(x), body the modules of body_spec (spec syntax
 * as curvo_model_from_spec, nested blocks included) on the current output shape. The shortcut is
 * the identity when the body keeps the shape, else a 1x1 convolution without bias, of the stride
 * that reproduces the body's height and width, followed by the body's last layer if that is a
 * normalization. Parameters: the body's, then the shortcut's. CURVO_E_SPEC for a bad or empty
 * body spec, CURVO_E_SHAPE when no shortcut fits (the body flattens, or changes height and width
 * in a way no strided 1x1 convolution does), with the message in curvo_model_errmsg. */
int curvo_model_add_residual(curvo_model *model, const char *body_spec);

/* Model state that is not a parameter: batchnorm's running mean (c) and variance (c) per module, in
 * module order (0 floats without batchnorm). Optimizers never touch it. A training-mode forward pass
 * moves it (momentum 0.1, unbiased variance, as torch) only when the curvature context is told to
 * (curvo_curv_update_running_stats): once per optimizer step, on the step's batch. Checkpoints save
 * it. curvo_model_state is NULL when the size is 0. */
size_t curvo_model_state_size(const curvo_model *model);
float *curvo_model_state(curvo_model *model);
/* Training (1, the default for a new model) or evaluation (0) mode: what batchnorm normalizes with
 * in the curvature context's passes. The trainer steps in training mode and evaluates in evaluation
 * mode (as curvo_evaluate does); curvo_model_predict always uses evaluation mode. */
int curvo_model_set_training(curvo_model *model, int training);
int curvo_model_training(const curvo_model *model);

/* Builds a model from a spec string: comma-separated tokens
 *   dense:UNITS   conv:OUT:K[:STRIDE[:PAD]]   maxpool:K[:STRIDE]   avgpool:K[:STRIDE]
 *   flatten   relu   tanh   sigmoid   softplus   exp   layernorm   groupnorm:GROUPS   gap
 *   batchnorm
 *   res(SPEC)     a residual block whose body is SPEC (curvo_model_add_residual; the commas inside
 *                 its parentheses belong to the body; blocks nest)
 * or a preset name: "mlp" = "flatten,dense:256,relu,dense:10",
 *                   "cnn" = "conv:16:5,relu,maxpool:2,conv:32:5,relu,maxpool:2,flatten,dense:10",
 *                   "resnet20" (He et al.'s CIFAR ResNet-20, batchnorm, 0.27 M parameters on 3x32x32),
 *                   "resnet18" (ResNet-18 with a 3x3 stem for 28x28/32x32 inputs, 11.2 M).
 * Pool strides default to the kernel size; conv stride to 1 and padding to 0.
 * On failure *out is NULL and errmsg (if not NULL, CURVO_ERRMSG_LEN bytes) names the offending
 * token. The parameters are not initialised: call curvo_model_init. */
int curvo_model_from_spec(const char *spec, int channels, int height, int width,
                          curvo_model **out, char *errmsg);

/* Expands a preset name to its spec string; returns the argument itself if it is no preset. */
const char *curvo_model_preset(const char *name);
/* The name of preset i (0, 1, ...; NULL past the last: mlp, cnn, resnet20, resnet18), and in *about
 * (if not NULL) its spec, or a summary of it where the spec is too long to print. */
const char *curvo_model_preset_at(int i, const char **about);

/* The model for a task of `outputs` network outputs (classes for cross-entropy, 1 otherwise): a
 * preset ("mlp", "cnn", "resnet20", "resnet18") with its last layer resized to dense:OUTPUTS ("mlp" for 3 classes is
 * "flatten,dense:256,relu,dense:3"); any other spec string is built as it is (a mismatch with the
 * task is for the caller, e.g. curvo_trainer_create, to report). Errors as curvo_model_from_spec;
 * CURVO_E_INVALID for a preset with outputs outside [1, 1000000]. */
int curvo_model_for_task(const char *spec_or_preset, int channels, int height, int width, int outputs,
                         curvo_model **out, char *errmsg);

/* Deterministic initialization from rng: weights He-normal (std sqrt(2/fan_in)) for layers
 * followed by relu or softplus, Xavier-uniform (limit sqrt(6/(fan_in+fan_out))) otherwise;
 * biases zero; batchnorm's gamma 1 and beta 0, and its running statistics back to mean 0, var 1. */
int curvo_model_init(curvo_model *model, curvo_rng *rng);

size_t curvo_model_num_params(const curvo_model *model);
float *curvo_model_params(curvo_model *model);          /* theta, length num_params */
size_t curvo_model_input_size(const curvo_model *model);  /* features per sample */
size_t curvo_model_output_size(const curvo_model *model); /* c, outputs per sample */
int curvo_model_num_modules(const curvo_model *model); /* a residual block counts as one */
/* Writes a one-line description of the model ("conv:16:5:1:0,relu,...") into buf. */
int curvo_model_describe(const curvo_model *model, char *buf, size_t len);
/* The last error message recorded on this model ("" if none). */
const char *curvo_model_errmsg(const curvo_model *model);

/* Network outputs (logits for classification) for b samples: x (b, input_size), y (b, c), in
 * evaluation mode (batchnorm uses its running statistics; the model's mode is not changed).
 * Uses the model's own workspace, so it is not thread-safe on one model. A regression model
 * trained on standardized targets (the default for CSV data) outputs standardized values:
 * curvo_unstandardize_targets with the training set's curvo_standardization gives original units. */
int curvo_model_predict(curvo_model *model, const float *x, int b, float *y);

/* ---------------------------------------------------------------- losses */
typedef enum curvo_loss_kind {
    CURVO_LOSS_CE = 0,   /* softmax cross-entropy, integer labels in [0, c) */
    CURVO_LOSS_MSE = 1,  /* 1/2 ||y - f||^2 per sample, float targets (b, c) */
    CURVO_LOSS_BCE = 2,  /* sigmoid binary cross-entropy per output, float targets in [0,1] (b, c) */
    /* Selected-output losses (Q-learning's regression, docs/RL.md): labels (b) select one output
     * a_i of each sample, and only targets[i*c + a_i] of the (b, c) targets is read. The output
     * Hessian Q_i = q_i e_a e_a^T has rank one, so the Gauss-Newton system keeps one row per
     * sample (m = b, curvo_curv_gn_system). */
    CURVO_LOSS_SELECTED_MSE = 3,  /* 1/2 (y_{i,a} - f_{i,a})^2 per sample; q_i = 1 */
    CURVO_LOSS_SELECTED_HUBER = 4 /* Huber with delta 1 of d = f_{i,a} - y_{i,a}: d^2/2 for
                                   * |d| <= 1, |d| - 1/2 beyond; q_i = 1 inside, 0 beyond */
} curvo_loss_kind;

/* A mini-batch. labels is used by CURVO_LOSS_CE, targets by MSE and BCE, both by the selected-output
 * losses. */
typedef struct curvo_batch {
    const float *x;          /* (b, input_size) */
    const int32_t *labels;   /* (b) */
    const float *targets;    /* (b, c) */
    int b;
} curvo_batch;

/* ---------------------------------------------------------------- processes */
/* A communicator: the processes that train one model together, data-parallel (docs/DISTRIBUTED.md).
 * Serial by default: every function that takes one accepts NULL as a single process. A communicator
 * over MPI comes from curvo_comm_from_mpi in curvo_mpi.h (this header never includes <mpi.h>);
 * curvo_comm_create_serial makes a one-process communicator that behaves exactly like NULL. The
 * caller owns a communicator and frees it after every curvature context and trainer that uses it;
 * one communicator may serve several of them, used from one thread. */
typedef struct curvo_comm curvo_comm;

/* What this process sent and received through a communicator since it was made or reset. */
typedef struct curvo_comm_stats {
    uint64_t bytes_sent, bytes_received; /* payload to and from the other processes */
    uint64_t messages;    /* messages sent, counted as if each collective sent one message to each
                           * other process it has a non-empty payload for */
    uint64_t collectives; /* collective operations taken part in */
    double seconds;       /* wall time in them, waiting for the other processes included */
} curvo_comm_stats;

/* 1 when libcurvo was built with MPI (curvo_mpi.h's functions exist), else 0. */
int curvo_have_mpi(void);
int curvo_comm_create_serial(curvo_comm **out);
/* Frees the communicator; for one made by curvo_comm_from_mpi this is collective. */
void curvo_comm_free(curvo_comm *c);
/* This process's rank in [0, size) and the number of processes (NULL: 0 and 1). */
int curvo_comm_rank(const curvo_comm *c);
int curvo_comm_size(const curvo_comm *c);
/* The counters (all zero for NULL and a one-process communicator, which never communicates). */
void curvo_comm_get_stats(const curvo_comm *c, curvo_comm_stats *out);
void curvo_comm_reset_stats(curvo_comm *c);
/* The message of the last failed collective ("" if none). */
const char *curvo_comm_errmsg(const curvo_comm *c);

/* ---------------------------------------------------------------- curvature operators */
/* A curvature context ties a model and a loss to one mini-batch. curvo_curv_set_batch runs the
 * forward pass at the model's current parameters and caches what every product below needs; after
 * the parameters change, call it again. The context keeps a pointer to the batch's arrays, which
 * must stay alive until the next set_batch.
 *
 * Data-parallel (curvo_curv_set_comm with N processes): every rank passes the same, global batch of
 * B samples to set_batch and forward-passes only its shard, the contiguous samples
 * [r*B/N, (r+1)*B/N) (curvo_curv_shard; empty when B < N). Then
 *   global, the same on every rank (sums over the whole batch, normalized by B, reduced in rank
 *   order so the result is bitwise the same on every rank and run to run):
 *     curvo_curv_loss, curvo_curv_grad, curvo_curv_ggn, curvo_curv_hvp, and the Gauss-Newton
 *     system's operators (curvo_curv_gn_system, gn_copy, gn_solve, gn_direction, gn_curvature)
 *   per shard, over this rank's b = count samples only (output-space arrays have b rows; the
 *   parameter-space results are this shard's part of the sum, not reduced):
 *     curvo_curv_outputs, jvp, vjp, hessian_factor, residual, gram, whitened_vjp, seeded_gram,
 *     seeded_vjp
 * The global products are collective: every rank calls them in the same order with the same k.
 * Without a communicator (or with one process) the shard is the whole batch and every result is
 * the same, bit for bit, as before communicators existed. */
typedef struct curvo_curv curvo_curv;

int curvo_curv_create(curvo_model *model, curvo_loss_kind loss, curvo_curv **out);
void curvo_curv_free(curvo_curv *cv);
const char *curvo_curv_errmsg(const curvo_curv *cv);

/* Shares the processes of comm (not owned; NULL: serial) from the next set_batch on; the current
 * batch is dropped. */
int curvo_curv_set_comm(curvo_curv *cv, curvo_comm *comm);
curvo_comm *curvo_curv_comm(const curvo_curv *cv);

/* With a communicator: collective; an error on any rank (a label out of range, a non-finite loss,
 * no memory) fails it on every rank, with the same code. A model with batchnorm in training mode is
 * one function of the whole batch: every product below is exact for it, except the per-sample Gram
 * (curvo_curv_gram, seeded_gram, gn_system), which is refused with CURVO_E_UNSUPPORTED when a
 * batchnorm sits above a parametric layer, and a communicator of more than one process, refused by
 * set_batch (CURVO_E_UNSUPPORTED; groupnorm is the per-sample alternative). */
int curvo_curv_set_batch(curvo_curv *cv, const curvo_batch *batch);
/* on = 1: the next set_batch, if the model is in training mode, also moves the model's running
 * statistics (curvo_model_state) with its batch's; later set_batch calls do not (it turns itself
 * off). curvo_optimizer_step turns it on before each step and off after, so that they move once per
 * step, on the step's batch at the step's starting parameters. */
int curvo_curv_update_running_stats(curvo_curv *cv, int on);
/* Which samples of the last set_batch's batch this process holds: [*offset, *offset + *count)
 * (the whole batch without a communicator). CURVO_E_STATE before the first set_batch. */
int curvo_curv_shard(const curvo_curv *cv, int *offset, int *count);
/* Mean loss over the (global) batch at the parameters of the last set_batch. */
double curvo_curv_loss(const curvo_curv *cv);
/* Network outputs of this process's shard, (count, c), valid until the next set_batch. */
const float *curvo_curv_outputs(const curvo_curv *cv);
/* The model and loss this context was made for. */
curvo_model *curvo_curv_model(const curvo_curv *cv);
curvo_loss_kind curvo_curv_loss_kind(const curvo_curv *cv);

/* In the per-shard operators below b is the shard's count (the batch's size without a communicator). */
/* g = dL/dw, length n; global. */
int curvo_curv_grad(curvo_curv *cv, float *g);
/* Jv for k parameter-space vectors: v (k, n) -> out (k, b, c); per shard. */
int curvo_curv_jvp(curvo_curv *cv, const float *v, int k, float *out);
/* J^T u for k output-space vectors: u (k, b, c) -> out (k, n). No 1/b factor; per shard. */
int curvo_curv_vjp(curvo_curv *cv, const float *u, int k, float *out);
/* GGN-vector products Gv = J^T Q J v / B: v (k, n) -> out (k, n). Q is the exact loss Hessian;
 * global. */
int curvo_curv_ggn(curvo_curv *cv, const float *v, int k, float *out);
/* Exact Hessian-vector products Hv: v (k, n) -> out (k, n); global. */
int curvo_curv_hvp(curvo_curv *cv, const float *v, int k, float *out);

/* The factor of the output Hessian used by the Gauss-Newton solvers, Q_i + eps I = L_i L_i^T with
 * L_i lower triangular (eps = 1e-6 for CE, BCE and the selected-output losses, 0 for MSE): out (b, c, c), row-major per sample;
 * per shard. */
int curvo_curv_hessian_factor(curvo_curv *cv, double *out);
/* The per-sample residual r with g = -(1/B) J^T r (CE: onehot(y) - p; MSE: y - f; BCE: y - p):
 * out (b, c); per shard. */
int curvo_curv_residual(curvo_curv *cv, double *out);
/* Gram matrix of the whitened Jacobian, J~ J~^T with J~ = blockdiag(L_i^T) J: out (b*c, b*c),
 * row/column index i*c + k, in double. Formed from per-layer factors, never from J itself; per
 * shard (the shard's diagonal block of the global Gram). */
int curvo_curv_gram(curvo_curv *cv, double *out);
/* J~^T u = J^T blockdiag(L_i) u for k vectors: u (k, b, c) in double -> out (k, n); per shard. */
int curvo_curv_whitened_vjp(curvo_curv *cv, const double *u, int k, float *out);
/* Gram of arbitrary output seeds: row (j, i) is the per-sample parameter gradient of
 * <seeds_{j,i}, f_i>, i.e. seeds_{j,i}^T J_i, for k seeds per sample: seeds (k, b, c) ->
 * out (k*b, k*b) in double, index j*b + i (cotangent-major). With k = 1 and seed_i = sqrt(q_i) e_{y_i}
 * it is the b x b Gram of the true-class rows (EGN's cheap variant). Per shard. */
int curvo_curv_seeded_gram(curvo_curv *cv, const double *seeds, int k, double *out);
/* sum_{j,i} u_{j,i} (seeds_{j,i}^T J_i)^T: the transpose of the seeded rows applied to u (k*b, index
 * j*b + i) -> out (n); per shard. */
int curvo_curv_seeded_vjp(curvo_curv *cv, const double *seeds, const double *u, int k, float *out);

/* The Gauss-Newton system of the current batch (EGN's operators; Korbit et al. 2024). With
 * Q_i + eps I = L_i L_i^T (curvo_curv_hessian_factor), J~ = blockdiag(L_i^T) J, r the residual
 * (g = -(1/b) J^T r) and G~ = J~^T J~ / b, the Levenberg-Marquardt direction is
 *     d = -(G~ + lambda I)^-1 g = J~^T u,   (J~ J~^T + b lambda I) u = blockdiag(L_i^-1) r.
 * curvo_curv_gn_system forms A = J~ J~^T (m, m) and rhs = blockdiag(L_i^-1) r (m) and keeps them in
 * the context (buffers reused across batches, grown only when the batch or the model grows), in
 * cotangent-major order (index k*b + i, m = b*c). With true_class (cross-entropy only, else
 * CURVO_E_UNSUPPORTED) J~ keeps the true-class row of each sample, whitened by sqrt(q_i),
 * q_i = p_{y_i} (1 - p_{y_i}) + eps, and rhs_i = (1 - p_{y_i}) / sqrt(q_i): m = b. *m receives the
 * order. The selected-output losses always give that one-row system: seed sqrt(q_i + eps) e_{a_i},
 * rhs_i = r_{i,a_i} / sqrt(q_i + eps), m = b. The system stays valid until the next set_batch; the operators below need it
 * (CURVO_E_STATE otherwise) and use its J~ (full or true-class). CURVO_E_NUMERIC when a factor,
 * A or rhs is not finite. b is the whole batch's size. Data-parallel, the system is the GLOBAL one:
 * b = B, i the sample's index in the global batch, A and rhs the same on every rank (A formed from
 * per-layer factors allgathered across the processes, docs/DISTRIBUTED.md), u the same on every
 * rank, d and p^T G~ p global; collective, and a failure on any rank fails every rank. */
int curvo_curv_gn_system(curvo_curv *cv, int true_class, int *m);
/* Copies the system out: A (m, m) and rhs (m); either may be NULL. */
int curvo_curv_gn_copy(curvo_curv *cv, double *A, double *rhs);
/* u (m) = (A + b lambda I)^-1 rhs through the context's SPD solver (dense Cholesky in double, on
 * every rank redundantly; ScaLAPACK over all ranks from the order set below on).
 * CURVO_E_NUMERIC when A + b lambda I is not numerically positive definite or u is not finite
 * (a caller may raise lambda and try again); CURVO_E_INVALID for a non-finite lambda. */
int curvo_curv_gn_solve(curvo_curv *cv, double lambda, double *u);
/* From system order `order` on (0: never, the default), with a communicator of more than one
 * process, curvo_curv_gn_solve factors the system with ScaLAPACK's pdpotrf/pdpotrs over all ranks
 * (2-D block-cyclic) instead of redundantly on each; u is the same on every rank either way. Without
 * MPI or ScaLAPACK built in it is recorded and changes nothing. CURVO_E_INVALID for order < 0. */
int curvo_curv_gn_set_distributed_min(curvo_curv *cv, int order);
/* d (n) = J~^T u for u (m). With u from curvo_curv_gn_solve, d = -(G~ + lambda I)^-1 g. */
int curvo_curv_gn_direction(curvo_curv *cv, const double *u, float *d);
/* *pGp = p^T G~ p = |J~ p|^2 / b for p (n): the curvature of the system's model along p. */
int curvo_curv_gn_curvature(curvo_curv *cv, const float *p, double *pGp);

/* ---------------------------------------------------------------- datasets */
/* A dataset holds n samples in memory: features (n, c*h*w) as floats, and either integer class
 * labels (classification) or one float target per sample (regression). */
typedef struct curvo_dataset curvo_dataset;

/* A dataset of n samples of shape (channels, height, width) from arrays in memory, copied (the
 * caller keeps its own): x (n, channels*height*width) features, and either labels (n) with
 * num_classes >= 1 (classification, each label in [0, num_classes)) or targets (n) with
 * num_classes 0 (regression), not both. Features and targets must be finite. A bad argument gives
 * CURVO_E_INVALID and a message naming it (the first bad sample, say), CURVO_E_NOMEM when the
 * sizes cannot be allocated; *out is NULL then. The set is as read: standardize it with
 * curvo_dataset_standardize if wanted. */
int curvo_dataset_create(size_t n, int channels, int height, int width, const float *x, const int32_t *labels,
                         const float *targets, int num_classes, curvo_dataset **out, char *errmsg);
void curvo_dataset_free(curvo_dataset *d);
size_t curvo_dataset_count(const curvo_dataset *d);
/* Shape of one sample: (channels, height, width); a CSV row of d features is (d, 1, 1). */
void curvo_dataset_shape(const curvo_dataset *d, int *channels, int *height, int *width);
size_t curvo_dataset_features_per_sample(const curvo_dataset *d);
/* Number of classes (labels in [0, classes)), or 0 for a regression dataset. */
int curvo_dataset_num_classes(const curvo_dataset *d);
const float *curvo_dataset_features(const curvo_dataset *d);  /* (n, features) */
const int32_t *curvo_dataset_labels(const curvo_dataset *d);  /* (n), NULL for regression */
/* (n) one value per sample; for classification the label as a float (so a 0/1 label can train a
 * one-output network with CURVO_LOSS_BCE). */
const float *curvo_dataset_targets(const curvo_dataset *d);

/* Reads an IDX image file (uint8, rank 1 to 4: (n, ...)) and its IDX label file (uint8, rank 1),
 * each raw or gzip-compressed. Rank-3 images (n, h, w) become (1, h, w) samples, rank-4
 * (n, c, h, w) stay as they are, rank 2 (n, d) become (d, 1, 1), rank 1 (n) become (1, 1, 1).
 * Pixels are scaled to [0, 1] (byte / 255); classes = max label + 1.
 * Headers are validated before any large allocation: a wrong magic, another data type, absurd
 * dimensions (more than 1e8 samples or 2^31 - 1 bytes), a size that does not match the file
 * ("truncated", "trailing data"), or a label count that differs from the image count gives
 * CURVO_E_FORMAT (or CURVO_E_IO for a missing or unreadable file) and a message naming the file and
 * the problem. */
int curvo_idx_load(const char *images_path, const char *labels_path, curvo_dataset **out,
                   char *errmsg);

/* Reads CIFAR-10 batch files of the binary version (data_batch_1.bin .. data_batch_5.bin,
 * test_batch.bin from cifar-10-binary.tar.gz), count >= 1 of them, into one dataset in file order.
 * A record is 3073 bytes: a label byte (0 to 9), then 1024 red, 1024 green and 1024 blue bytes,
 * each 32 x 32 row-major; a sample is (3, 32, 32) with pixels scaled to [0, 1] (byte / 255, no
 * per-channel standardization); classes = 10. The official files hold 10000 records; any whole
 * number is accepted. Every file's size is checked before any large allocation: a missing or
 * unreadable file (or not a regular file) is CURVO_E_IO; an empty file, a size that is not a whole
 * number of 3073-byte records (truncated), or a label above 9 is CURVO_E_FORMAT, with a message
 * naming the file (and the record). *out is NULL on failure. */
int curvo_cifar10_load(const char *const *paths, int count, curvo_dataset **out, char *errmsg);

/* Reads a CSV file with a header row and numeric cells. The column named target (NULL: "target")
 * holds the label or value; every other column, in file order, is a feature. task says what the
 * target is (CURVO_TASK_AUTO: decided by the rule below; CURVO_TASK_REGRESSION, formerly
 * force_regression = 1: a real value; CURVO_TASK_CLASSIFICATION: class labels, which must be whole
 * numbers in [0, 1000), else CURVO_E_INVALID naming the first other value). The rule, in order:
 *   - a target that is not a whole number, or is negative: regression;
 *   - whole numbers of 1000 or more: regression;
 *   - at most 100 distinct whole numbers in [0, 1000): classification, classes = max + 1;
 *   - more distinct whole numbers in [0, 1000) (a score such as 25..346): ambiguous, refused with
 *     CURVO_E_INVALID and a message asking for one of the two tasks.
 * curvo_dataset_task says which task was chosen and why. Cells may be wrapped in
 * blanks and double quotes; blank lines are skipped. A non-numeric, non-finite or empty cell, a row
 * with the wrong number of cells, an empty file, a header without rows, an empty or duplicate
 * column name, or a missing target column gives CURVO_E_FORMAT with the line and column in errmsg. */
typedef enum curvo_task {
    CURVO_TASK_AUTO = 0,
    CURVO_TASK_REGRESSION = 1,
    CURVO_TASK_CLASSIFICATION = 2
} curvo_task;
int curvo_csv_load(const char *path, const char *target, int task, curvo_dataset **out, char *errmsg);

/* Writes which task d is and why into buf (len bytes, truncated to fit): "regression (target
 * 'price' has non-integer values)", "classification, 3 classes (target 'y' has 3 distinct whole
 * numbers)", "classification, 10 classes" (IDX). Returns CURVO_E_INVALID if d or buf is NULL. */
int curvo_dataset_task(const curvo_dataset *d, char *buf, size_t len);

/* Splits d into two new datasets: round(fraction * n) samples drawn at random (seeded) go to
 * *second, the rest to *first, each part in d's order. fraction in (0, 1) and n >= 2, else
 * CURVO_E_INVALID; the second part's size is clamped to [1, n - 1] so neither part is empty. Both
 * keep d's number of classes. d is left unchanged. */
int curvo_dataset_split(const curvo_dataset *d, double fraction, uint64_t seed,
                        curvo_dataset **first, curvo_dataset **second, char *errmsg);
/* Standardizes each feature of d (and of other, if not NULL) with the mean and (population)
 * standard deviation measured on d; features with zero spread are only centred. CURVO_E_SHAPE if
 * other has another number of features. */
int curvo_dataset_standardize(curvo_dataset *d, curvo_dataset *other);
/* Standardizes the targets of a regression set d (and of other, if not NULL) with the mean and
 * (population) standard deviation of d's targets, recorded in d's curvo_standardization (a zero
 * spread only centres). CURVO_E_INVALID for a classification set, CURVO_E_STATE if the targets
 * were standardized already. Training on standardized targets keeps the loss and the gradients
 * of order one whatever the targets' units (prices of 3e5 make SGD diverge otherwise);
 * curvo_evaluate_metrics reports its errors in the original units. */
int curvo_dataset_standardize_target(curvo_dataset *d, curvo_dataset *other);

/* How a dataset's values were transformed after reading, so that a checkpoint can record it and
 * metrics and predictions can go back to the original units: feature j is stored as
 * (x_j - feature_mean[j]) / feature_std[j], and a standardized real-valued target as
 * (y - target_mean) / target_std. */
typedef struct curvo_standardization {
    size_t features;          /* length of the two arrays; 0: the features are as read */
    const double *feature_mean, *feature_std; /* (features) */
    int target;               /* 1: the targets are standardized (regression only) */
    double target_mean, target_std; /* 0 and 1 when target is 0 */
} curvo_standardization;
/* The dataset's standardization (arrays valid while d lives and is not standardized again). Sets
 * made from d by curvo_dataset_split carry d's. */
void curvo_dataset_standardization(const curvo_dataset *d, curvo_standardization *out);
/* Applies the given statistics to a dataset that is still as read (CURVO_E_STATE if it was already
 * standardized, CURVO_E_SHAPE if s->features is neither 0 nor d's feature count, CURVO_E_INVALID
 * for a zero or non-finite std). Used to reproduce a recorded standardization (resume, eval). */
int curvo_dataset_apply_standardization(curvo_dataset *d, const curvo_standardization *s);
/* Maps n values in standardized target units back to original units in place: y = y * target_std
 * + target_mean (nothing when s->target is 0). A regression model trained on a set with
 * standardized targets predicts standardized values: pass the outputs of curvo_model_predict
 * through this with that set's standardization to get e.g. prices. */
void curvo_unstandardize_targets(const curvo_standardization *s, float *y, size_t n);

/* Where the named datasets come from. Set the fields you need after curvo_data_options_init. */
typedef struct curvo_data_options {
    const char *target;       /* CSV target column (default "target") */
    double test_fraction;     /* csv:PATH test split (default 0.2) */
    uint64_t seed;            /* seed of that split (default 1) */
    int force_regression;     /* CSV: treat the target as a real value (default 0) */
    int force_classes;        /* CSV: treat the target as class labels (default 0; not with
                                 * force_regression) */
    int standardize_target;   /* CSV regression: standardize the targets with the training split's
                                 * mean and std (default 1); 0 keeps them as read. Ignored when
                                 * standardization is given: its target record is applied */
    const char *fashion_mnist_dir; /* default "/usr/share/datasets/fashion-mnist" */
    const curvo_standardization *standardization; /* CSV: apply these statistics instead of
                                 * measuring them on the training split (default NULL) */
} curvo_data_options;
void curvo_data_options_init(curvo_data_options *opt);

/* Opens a training and a test set by name (opt NULL: the defaults):
 *   "fashion-mnist"   Debian's dataset-fashion-mnist package (a missing package is CURVO_E_IO with
 *                     the apt-get command that installs it in errmsg)
 *   "idx:DIR"         DIR/train-images-idx3-ubyte[.gz], train-labels-idx1-ubyte[.gz], and the
 *                     t10k-* pair, as in MNIST's layout (the .gz name is tried first)
 *   "cifar10:DIR"     CIFAR-10's binary version: DIR/data_batch_1.bin .. data_batch_5.bin (training)
 *                     and DIR/test_batch.bin (test), read by curvo_cifar10_load; a missing one is
 *                     CURVO_E_IO naming it
 *   "csv:PATH"        one CSV split into train and test by test_fraction with seed
 *   "csv:TRAIN,TEST"  two CSV files (a comma in PATH always means this form); TEST must have
 *                     TRAIN's feature columns in the same order
 * Both sets get the same number of classes (the larger), or both are regression sets if either is.
 * CSV features, and the targets of a regression set (unless standardize_target is 0), are
 * standardized with the statistics of the training set. An unknown source is
 * CURVO_E_INVALID with the accepted forms in errmsg. */
int curvo_data_open(const char *source, const curvo_data_options *opt, curvo_dataset **train,
                    curvo_dataset **test, char *errmsg);

/* A fingerprint of a data source's files, so that a checkpoint can tell whether the data it was
 * trained on changed: the CRC32 (zlib's) of the bytes of every file the source reads, in order
 * (the CSV file or pair; the four IDX files, compressed as stored; the six CIFAR-10 batches), and
 * their total size. opt supplies fashion_mnist_dir (NULL: the default). CURVO_E_IO with the file in errmsg if one cannot
 * be read, CURVO_E_INVALID for an unknown source. */
int curvo_data_fingerprint(const char *source, const curvo_data_options *opt, uint32_t *crc32,
                           uint64_t *bytes, char *errmsg);

/* Mini-batches over a dataset in a seeded random order, gathered into one reusable buffer (the
 * dataset itself is never copied, and must outlive the batcher). The order is a permutation of
 * [0, n) redrawn each epoch; a new batcher starts in stored order. batch_size >= 1; one larger
 * than n gives a single batch of n (none with drop_last). */
typedef struct curvo_batcher curvo_batcher;
int curvo_batcher_create(const curvo_dataset *d, int batch_size, curvo_batcher **out);
void curvo_batcher_free(curvo_batcher *bt);
/* Draws a new order from rng (Fisher-Yates over the identity, so it depends only on rng's state)
 * and rewinds to its start. */
void curvo_batcher_shuffle(curvo_batcher *bt, curvo_rng *rng);
/* Uses the samples in their stored order (evaluation) and rewinds. */
void curvo_batcher_sequential(curvo_batcher *bt);
/* The next batch of the epoch: fills *batch (pointing into the batcher's buffers, valid until the
 * next call) and returns 1, or returns 0 at the end of the epoch. x is (b, features), targets (b)
 * always, labels (b) for classification and NULL for regression. The last batch of an epoch may
 * be smaller unless drop_last was set with curvo_batcher_set_drop_last. */
int curvo_batcher_next(curvo_batcher *bt, curvo_batch *batch);
void curvo_batcher_set_drop_last(curvo_batcher *bt, int drop_last);
/* Position in the epoch and the order, for checkpoints: order (n) and the next sample index. */
size_t curvo_batcher_position(const curvo_batcher *bt);
const uint32_t *curvo_batcher_order(const curvo_batcher *bt);
/* Restores an order saved with the two functions above; CURVO_E_INVALID if it is not a
 * permutation of [0, n) or position > n. */
int curvo_batcher_restore(curvo_batcher *bt, const uint32_t *order, size_t n, size_t position);

/* ---------------------------------------------------------------- optimizers */
/* Algorithms, with the update formulas and defaults of the papers (docs/OPTIMIZERS.md). */
typedef enum curvo_algorithm {
    CURVO_OPT_SGD = 0,   /* SGD with momentum, dampening, Nesterov, L2 weight decay (torch.optim.SGD) */
    CURVO_OPT_ADAM = 1,  /* Adam with L2 weight decay and AMSGrad option (torch.optim.Adam) */
    CURVO_OPT_ADAMW = 2, /* Adam with decoupled weight decay (torch.optim.AdamW) */
    CURVO_OPT_EGN = 3,   /* exact Gauss-Newton via the Duncan-Guttman identity (Korbit et al. 2024) */
    CURVO_OPT_SGN = 4,   /* stochastic Gauss-Newton by conjugate gradient (Gargiani et al. 2020) */
    CURVO_OPT_LRSFN = 5, /* low-rank saddle-free Newton (O'Leary-Roseberry, Alger, Ghattas) */
    CURVO_OPT_SOFIM = 6, /* rank-one regularized Fisher with Sherman-Morrison (Sen, Qin et al. 2024) */
    CURVO_OPT_ARTURO = 7 /* information-theoretic trust region (Dahlinger et al., arXiv 2310.20574) */
} curvo_algorithm;
#define CURVO_NUM_ALGORITHMS 8

/* "sgd", "adam", "adamw", "egn", "sgn", "lrsfn", "sofim", "arturo" */
const char *curvo_algorithm_name(curvo_algorithm alg);
/* CURVO_E_INVALID for an unknown name. */
int curvo_algorithm_from_name(const char *name, curvo_algorithm *alg);

typedef struct curvo_sgd_params {
    double lr;           /* learning rate (default 0.01) */
    double momentum;     /* default 0 */
    double dampening;    /* default 0 */
    double weight_decay; /* L2 penalty added to the gradient (default 0) */
    int nesterov;        /* default 0; needs momentum > 0 and dampening = 0 */
} curvo_sgd_params;

typedef struct curvo_adam_params {
    double lr;           /* default 1e-3 */
    double beta1;        /* default 0.9 */
    double beta2;        /* default 0.999 */
    double eps;          /* default 1e-8 */
    double weight_decay; /* Adam: L2 added to the gradient (default 0);
                            AdamW: decoupled, theta *= 1 - lr*wd (default 1e-2) */
    int amsgrad;         /* default 0 */
} curvo_adam_params;

/* EGN: d = -(G + lambda I)^-1 g through (J~J~^T + b lambda I) u = L^-1 r, d = J~^T u
 * (docs/OPTIMIZERS.md). */
typedef struct curvo_egn_params {
    double lr;           /* largest step alpha_max of the line search, or the fixed step (default 1) */
    double lambda;       /* initial Levenberg-Marquardt damping (default 1) */
    double lambda_min, lambda_max; /* clamp (defaults 1e-12, 1e6) */
    double lambda_up, lambda_down; /* factors on a bad / good gain ratio (defaults 1.5, 0.5) */
    double gain_low, gain_high;    /* gain-ratio thresholds (defaults 0.25, 0.75) */
    int adaptive;        /* adapt lambda from the gain ratio (default 0: on mini-batches the
                            same-batch gain ratio is biased; 1 for full-batch problems) */
    int line_search;     /* Armijo backtracking (default 1); 0: fixed step lr */
    double ls_c;         /* Armijo constant (default 0.1) */
    double ls_shrink;    /* backtracking factor (default 0.8) */
    int ls_tries;        /* evaluations at most (default 15) */
    double ls_grow;      /* next step starts at min(ls_grow * alpha_prev, lr) (default 1.5) */
    double momentum;     /* mu (default 0) */
    int heavy_ball;      /* 0: bias-corrected average of directions; 1: heavy ball (default 0) */
    int true_class;      /* cross-entropy only: keep the true-class output, a b x b system (default 0) */
    int chol_retries;    /* on a failed Cholesky, retry with 10x lambda this often (default 8) */
    int scalapack_min;   /* data-parallel with more than one process: factor the system with ScaLAPACK
                            over all ranks from this order on, else redundantly on each (0: never;
                            default 4096; no effect without MPI and ScaLAPACK;
                            docs/DISTRIBUTED.md) */
} curvo_egn_params;

/* SGN: (G + rho I) delta = -g_hat by conjugate gradient with Gv = J^T Q J v / b (docs/OPTIMIZERS.md). */
typedef struct curvo_sgn_params {
    double lr;           /* first trial step of the line search, or the fixed step (default 1) */
    double rho;          /* initial damping (default 1e-4) */
    double rho_min, rho_max; /* clamp (defaults 1e-6, 1e6) */
    double rho_up, rho_down; /* factors on a bad / good ratio (defaults 1.5, 2/3) */
    double gain_low, gain_high; /* ratio thresholds (defaults 0.25, 0.75) */
    int adaptive;        /* adapt rho (default 1) */
    int cg_iters;        /* CG iterations K at most (default 3) */
    double cg_tol;       /* stop CG when max|r| <= cg_tol (default 1e-6) */
    double precond_exp;  /* diagonal preconditioner (g_hat^2 + rho)^-exp; 0 = none (default 0) */
    double beta;         /* moving average of the gradient, bias-corrected (default 0) */
    int line_search;     /* Armijo backtracking (default 1); 0: fixed step lr */
    double ls_c;         /* Armijo constant (default 1e-4) */
    double ls_shrink;    /* backtracking factor (default 0.5) */
    int ls_tries;        /* evaluations at most (default 10) */
} curvo_sgn_params;

/* LRSFN: p = -(U|Lambda|U^T + gamma I)^-1 g from a randomized eigendecomposition of the Hessian of a
 * sub-batch (docs/OPTIMIZERS.md). */
typedef struct curvo_lrsfn_params {
    double lr;           /* step alpha (default 1e-3); the first trial of the line search */
    int rank;            /* eigenpairs kept, k (default 20) */
    int oversampling;    /* extra random vectors, p (default 0, as hessianlearn) */
    double gamma;        /* Levenberg-Marquardt damping (default 1e-3) */
    int hess_batch;      /* samples of the Hessian sub-batch (default 32; 0: the whole batch) */
    int refresh;         /* recompute the eigenbasis every N steps (default 1) */
    int step_rule;       /* 0 fixed lr, 1 Armijo from lr, 2 spectral min(1e-2, 0.1/|lambda_1|) (default 1) */
    double ls_c;         /* Armijo constant (default 1e-4) */
    int ls_tries;        /* halvings at most (default 5) */
} curvo_lrsfn_params;

/* SOFIM: w -= lr F^-1 m_hat with F = u u^T + rho I (docs/OPTIMIZERS.md). */
typedef struct curvo_sofim_params {
    double lr;           /* default 1 (with rho = 1; see docs/OPTIMIZERS.md) */
    double beta;         /* first-moment decay (default 0.9) */
    double rho;          /* Fisher regularization (default 1) */
    int fisher;          /* u = first moment (0, default) or the mini-batch gradient (1) */
    double weight_decay; /* L2 (default 0) */
} curvo_sofim_params;

/* arTuRO: per-coordinate recursive-least-squares surrogate and a KL trust region of size eps
 * (docs/OPTIMIZERS.md); defaults are the authors' Fashion-MNIST CNN settings. */
typedef struct curvo_arturo_params {
    double eps;          /* KL bound per step, the learning rate (default 0.0857) */
    double eps_decay;    /* eps_t = eps * eps_decay^t (default 1: constant) */
    double reg_weight;   /* weight of the prior (default 0.0587) */
    double prior_prec;   /* prior precision (default 0.0015); kappa = reg_weight * prior_prec */
    double meas_noise;   /* RLS measurement noise R (default 2.82) */
    double proc_noise;   /* RLS process noise q (default 0.0174) */
    double var_init;     /* initial variance, precision 1/var_init (default 0.01) */
    double nu;           /* precision update weight (default 1.3) */
    double quad_init;    /* initial curvature estimate (default 0.1) */
    double p_init;       /* initial RLS covariance (default 5e-5) */
    double quad_min;     /* curvature floor that keeps the precision positive (default 1e-8) */
} curvo_arturo_params;

/* An optimizer's parameters: the algorithm and its own struct. */
typedef struct curvo_opt_params {
    curvo_algorithm algorithm;
    union {
        curvo_sgd_params sgd;
        curvo_adam_params adam; /* Adam and AdamW */
        curvo_egn_params egn;
        curvo_sgn_params sgn;
        curvo_lrsfn_params lrsfn;
        curvo_sofim_params sofim;
        curvo_arturo_params arturo;
    };
} curvo_opt_params;

/* Fills p with alg's defaults. */
void curvo_opt_params_init(curvo_opt_params *p, curvo_algorithm alg);

/* Description of one named parameter of an algorithm (for help texts and logs). */
typedef struct curvo_param_info {
    const char *name;
    const char *doc;
    double default_value, min, max; /* allowed range: inclusive unless min_open/max_open */
    int is_integer;                 /* flags and counts */
    int min_open, max_open;         /* 1: the bound itself is excluded, e.g. beta2 in [0, 1) */
} curvo_param_info;
int curvo_opt_param_count(curvo_algorithm alg);
/* NULL when i is out of range. */
const curvo_param_info *curvo_opt_param_info(curvo_algorithm alg, int i);
/* A parameter's range as text, e.g. "[0, 1)" or "[1, 100]", into buf (len bytes); returns buf. */
const char *curvo_param_range(const curvo_param_info *info, char *buf, size_t len);
/* Sets or reads a parameter by name ("lr", "momentum", ...). Set checks the range, open bounds
 * excluded: CURVO_E_INVALID with a message naming the parameter and its range ("[0, 1)"). */
int curvo_opt_params_set(curvo_opt_params *p, const char *name, double value, char *errmsg);
int curvo_opt_params_get(const curvo_opt_params *p, const char *name, double *value);
/* Checks every parameter and their combinations; CURVO_E_INVALID with a message if one is bad. */
int curvo_opt_params_check(const curvo_opt_params *p, char *errmsg);

typedef struct curvo_optimizer curvo_optimizer;

#define CURVO_STEP_EXTRA 8

/* What one step did, for logs and progress reports. */
typedef struct curvo_step_info {
    double loss;        /* mini-batch loss at the parameters before the step */
    double grad_norm;   /* ||g||_2 */
    double step_norm;   /* ||theta_after - theta_before||_2 */
    double lr;          /* step size used */
    double damping;     /* damping/regularization used (NaN when the method has none) */
    int ls_tries;       /* line-search evaluations (0 when none) */
    int cg_iters;       /* conjugate-gradient iterations (0 when none) */
    int accepted;       /* 0 when the step was rejected and theta kept */
    int status;         /* CURVO_OK, or why the step was rejected */
    int n_extra;        /* method-specific figures, logged under their names */
    const char *extra_name[CURVO_STEP_EXTRA];
    double extra[CURVO_STEP_EXTRA];
} curvo_step_info;

/* An optimizer for a model of n parameters. Checks p first (CURVO_E_INVALID, message in errmsg). */
int curvo_optimizer_create(const curvo_opt_params *p, size_t n, curvo_optimizer **out, char *errmsg);
void curvo_optimizer_free(curvo_optimizer *opt);
const curvo_opt_params *curvo_optimizer_params(const curvo_optimizer *opt);
/* Steps taken so far, accepted or not; LRSFN, which restores its whole state (this count included)
 * when a step fails or is rejected, counts only the steps it completed. */
int64_t curvo_optimizer_steps(const curvo_optimizer *opt);

/* One step on a mini-batch: evaluates the loss and whatever curvature the method needs at the
 * model's current parameters through cv (calling curvo_curv_set_batch itself), and updates the
 * model's parameters in place. A non-finite loss or gradient never reaches theta: the step is
 * rejected (info->accepted = 0), theta and the optimizer state are unchanged, and the call returns
 * CURVO_E_NUMERIC. info may be NULL. */
int curvo_optimizer_step(curvo_optimizer *opt, curvo_curv *cv, const curvo_batch *batch,
                         curvo_step_info *info);

/* The optimizer's state (moments, step count, damping, its RNG) as a byte blob for checkpoints. */
size_t curvo_optimizer_state_size(const curvo_optimizer *opt);
int curvo_optimizer_save_state(const curvo_optimizer *opt, void *buf, size_t size);
/* CURVO_E_FORMAT if the blob is not a state of this algorithm and size. */
int curvo_optimizer_load_state(curvo_optimizer *opt, const void *buf, size_t size);

/* Scaling the step: a factor (>= 0, finite; 1 at creation) multiplies the method's scheduled
 * quantity, the parameter curvo_opt_scheduled names, from the next step on; a learning-rate
 * schedule (below) sets it before every step. The parameters themselves stay as given
 * (curvo_optimizer_params, checkpoints); step infos report the scaled value used (info->lr).
 *   sgd, adam, adamw, sofim   lr, the learning rate (AdamW's decoupled decay lr*wd with it, as torch)
 *   egn                       lr, the line search's largest step alpha_max (the step without line search)
 *   sgn                       lr, the line search's first trial step (the step without line search)
 *   lrsfn                     lr, the fixed step or the first Armijo trial; step_rule 2's spectral step
 *   arturo                    eps, the KL bound of the trust region (after eps_decay)
 * A scaled value is clamped to the parameter's range (arTuRO's eps stays >= 1e-12). CURVO_E_INVALID
 * for a negative or non-finite factor. */
int curvo_optimizer_set_scale(curvo_optimizer *opt, double factor);
double curvo_optimizer_scale(const curvo_optimizer *opt);
/* The name of the parameter a schedule scales ("lr" or "eps"), and (doc, may be NULL) what it is. */
const char *curvo_opt_scheduled(curvo_algorithm alg, const char **doc);

/* ---------------------------------------------------------------- learning-rate schedules */
/* A schedule multiplies the optimizer's scheduled quantity (curvo_optimizer_set_scale) by a factor
 * that depends on the steps taken, as torch.optim.lr_scheduler's do: an optional linear warm-up,
 * then one main phase (docs/TRAINING.md, "Learning-rate schedules"). Counts are in steps or epochs
 * (each phase says which); a count in epochs is whole epochs completed, so the factor changes at
 * epoch ends only, as a torch scheduler stepped once per epoch. With c the phase's count:
 *   warm-up (LinearLR)          start + (1 - start) * c / W for c < W, then the main phase, whose
 *                               count starts at 0 at the end of the warm-up (SequentialLR)
 *   multistep (MultiStepLR)     gamma ^ (number of milestones <= c)
 *   cosine (CosineAnnealingLR)  min + (1 - min) * (1 + cos(pi * c / T)) / 2 for c <= T, then min
 *                               (torch's closed form would rise again after T; curvo holds min)
 * The spec syntax (curvo_schedule_parse): PHASE or warmup:W[:START]+PHASE, where PHASE is
 *   none | warmup:W[:START] | multistep:M1,M2,...[:GAMMA] | cosine:T[:MIN]
 * and each count is a whole number with an optional unit suffix, s (steps) or e (epochs); without
 * one, warm-up counts steps and milestones and T count epochs (torch's usual practice). START in
 * (0, 1] (default 1/3, torch's), GAMMA in (0, 1000] (default 0.1), MIN in [0, 1] (default 0). */
#define CURVO_SCHEDULE_MAX_MILESTONES 16
typedef enum curvo_schedule_kind {
    CURVO_SCHEDULE_NONE = 0,      /* factor 1 after any warm-up */
    CURVO_SCHEDULE_MULTISTEP = 1,
    CURVO_SCHEDULE_COSINE = 2
} curvo_schedule_kind;
typedef enum curvo_schedule_unit { CURVO_UNIT_STEPS = 0, CURVO_UNIT_EPOCHS = 1 } curvo_schedule_unit;
typedef struct curvo_schedule {
    curvo_schedule_kind kind;
    curvo_schedule_unit unit;  /* of the milestones or of T */
    int n_milestones;          /* multistep: strictly increasing counts >= 1 */
    int64_t milestones[CURVO_SCHEDULE_MAX_MILESTONES];
    double gamma;              /* multistep: the factor per milestone passed, in (0, 1000] */
    int64_t T;                 /* cosine: the length of the annealing (>= 1) */
    double min_factor;         /* cosine: the factor at T and after, in [0, 1] */
    int64_t warmup;            /* warm-up length (0: none) */
    curvo_schedule_unit warmup_unit;
    double warmup_start;       /* the warm-up's first factor, in (0, 1] */
} curvo_schedule;
/* No schedule: kind none, no warm-up, factor 1 always (gamma, min_factor and warmup_start at their
 * defaults, 0.1, 0 and 1/3). */
void curvo_schedule_init(curvo_schedule *s);
/* Parses a spec (above) into s; CURVO_E_INVALID with a message naming the problem (unknown kind,
 * milestones not increasing, gamma <= 0, ...) in errmsg (NULL or CURVO_ERRMSG_LEN bytes). */
int curvo_schedule_parse(const char *spec, curvo_schedule *s, char *errmsg);
/* CURVO_E_INVALID with a message when a field is out of range. */
int curvo_schedule_check(const curvo_schedule *s, char *errmsg);
/* The canonical spec, every count with its unit ("warmup:500s:0.333333+cosine:100e:0"), which
 * curvo_schedule_parse reads back to the same schedule; "none" for no schedule. CURVO_E_INVALID if
 * it does not fit in len bytes. */
int curvo_schedule_format(const curvo_schedule *s, char *buf, size_t len);
/* 1 when s changes nothing (kind none and no warm-up). */
int curvo_schedule_is_none(const curvo_schedule *s);
/* The factor for the step taken after `step` steps (0-based: the first step's factor is at 0) of a
 * run with steps_per_epoch steps per epoch (>= 1; used by counts in epochs). */
double curvo_schedule_factor(const curvo_schedule *s, int64_t step, int64_t steps_per_epoch);

/* ---------------------------------------------------------------- training */
typedef struct curvo_train_options {
    int epochs;               /* passes over the training set (default 1) */
    int batch_size;           /* default 128 */
    uint64_t seed;            /* shuffling (default 1); initialization is the caller's */
    int64_t checkpoint_every; /* write a checkpoint every N steps (default 0: never mid-run) */
    const char *checkpoint_path; /* where checkpoints go (NULL: none) */
    int eval_batch_size;      /* batch of evaluation passes (default 1000) */
    int report_every;         /* a step event every N steps (default 1) */
    int eval_train;           /* evaluate the whole training set after each epoch (default 1) */
    double max_seconds;       /* stop once this much time was spent in optimizer steps (0: no limit;
                               * the epochs still bound the run) */
    double eval_seconds;      /* also evaluate in mid-epoch once so many seconds of optimizer
                               * steps passed since the previous evaluation (0: only at epoch ends) */
    int early_stop;           /* patience: stop once the validation loss, evaluated at epoch ends,
                               * has not improved on its best for this many epochs, and restore
                               * the best epoch's parameters (default 0: off; needs a validation
                               * set, see curvo_trainer_set_validation) */
    const char *log_path;     /* the log the caller writes, recorded in checkpoints so that a
                               * resumed run can append to it (NULL: none); the trainer writes no
                               * log itself */
    curvo_comm *comm;         /* the processes that train together, data-parallel (default NULL:
                               * this one alone; not owned, must outlive the trainer). Every rank
                               * makes its trainer with the same model spec, data, optimizer and
                               * options; batch_size is the global mini-batch. See "Data-parallel
                               * training" below. */
    const curvo_schedule *schedule; /* learning-rate schedule (default NULL: none), copied at
                               * creation; the trainer sets the optimizer's scale from it before
                               * every step, counting the run's steps (resumed ones included) */
} curvo_train_options;
void curvo_train_options_init(curvo_train_options *o);

typedef enum curvo_event {
    CURVO_EVENT_STEP = 0,       /* after an optimizer step */
    CURVO_EVENT_EPOCH = 1,      /* after an epoch, with the train and test metrics */
    CURVO_EVENT_CHECKPOINT = 2, /* after a checkpoint was written */
    CURVO_EVENT_EVAL = 3,       /* a mid-epoch evaluation (eval_seconds, or the end of max_seconds) */
    CURVO_EVENT_EARLY_STOP = 4  /* early stopping ended the run: the best epoch's parameters are back,
                                 * with the metrics of an evaluation of them */
} curvo_event;

typedef struct curvo_progress {
    curvo_event event;
    int epoch, epochs;           /* epoch in progress (or just finished), 1-based */
    int64_t step, steps_total;   /* optimizer steps done, and planned over all epochs */
    int64_t step_in_epoch, steps_per_epoch;
    double loss;                 /* step: mini-batch loss; epoch and eval: mean of the mini-batch
                                  * losses since the previous epoch or eval event */
    int classification;          /* metrics are accuracies (1: loss ce or bce) or RMSEs (0: mse) */
    /* Epoch and eval events (a set whose loss is not finite gives an infinite loss and a NaN
     * metric, and training goes on): */
    double train_metric, train_loss; /* accuracy or RMSE, and mean loss, on the training set (NaN
                                  * when eval_train is off) */
    double test_metric;          /* on the test set (NaN without one) */
    double test_loss;            /* mean loss on the test set */
    double val_metric, val_loss; /* on the validation set (NaN without one) */
    /* Regression (classification 0) also: mean absolute error and R^2 on each set, NaN where the
     * set's metric is NaN. RMSEs (the *_metric fields) and MAEs are in the targets' original
     * units; the losses are the training objective, on standardized targets when they were. */
    double train_mae, train_r2, test_mae, test_r2, val_mae, val_r2;
    double seconds;              /* wall time so far (steps and evaluations), resumed runs included */
    double train_seconds;        /* of which in optimizer steps */
    double samples_per_second;   /* over the last report interval */
    int rejected_steps;          /* steps rejected so far */
    const curvo_step_info *info; /* step events: what the step did */
    const char *checkpoint_path; /* checkpoint events */
    /* With early stopping (0 and NaN without): the epoch of the lowest validation loss so far, and
     * that loss; the early-stop event also has epoch = the last epoch trained. */
    int best_epoch;
    double best_val_loss;
    double lr_factor;            /* the schedule's factor of the last step (of the first before any;
                                  * NaN without a schedule) */
} curvo_progress;

/* Called at every event; a non-zero return stops the run (curvo_trainer_run then returns
 * CURVO_E_CANCELLED after the current step, with the trainer ready to save or resume). */
typedef int (*curvo_progress_fn)(const curvo_progress *p, void *user);

typedef struct curvo_trainer curvo_trainer;

/* Data-parallel training (options->comm with N processes; docs/DISTRIBUTED.md). curvo_trainer_create,
 * curvo_trainer_resume, curvo_trainer_run and curvo_trainer_save are collective: every rank calls
 * them, in the same order. For a given seed the sequence of global batches is the one a single
 * process draws; rank r computes on its contiguous shard of each, and the loss, gradient and
 * curvature products are summed over the global batch in a fixed order, so every rank takes the
 * same step and keeps the same parameters, and a run at a given N and thread count is bitwise
 * reproducible. Creation and resume broadcast rank 0's parameters (its initialization or
 * checkpoint) and fail on every rank when one fails, or when the ranks' models, data sizes or
 * options differ. Evaluations are split across the ranks and reduced: every rank gets the same
 * metrics. The callback runs on every rank (print from rank 0 only); a non-zero return on any
 * rank stops every rank after the same step, as does a time budget or an evaluation interval
 * reached on any rank. Rank 0 alone writes checkpoints, and a failed write fails the save on every
 * rank; a checkpoint does not depend on N, so a run can resume at another number of processes.
 * EGN solves the global Gauss-Newton system of each batch (curvo_curv_gn_system). */

/* A trainer over a model (not owned, must outlive it), a loss, an optimizer made from opt, a
 * training set and an optional test set (not owned). */
int curvo_trainer_create(curvo_model *model, curvo_loss_kind loss, const curvo_opt_params *opt,
                         const curvo_dataset *train, const curvo_dataset *test,
                         const curvo_train_options *options, curvo_trainer **out, char *errmsg);
void curvo_trainer_free(curvo_trainer *tr);
/* Evaluates val (not owned; NULL: none) after every epoch as a validation set. */
int curvo_trainer_set_validation(curvo_trainer *tr, const curvo_dataset *val);
/* Where a run's data came from, recorded in its checkpoints so that resuming and evaluating can
 * reopen exactly the same sets (same split, same standardization) and notice changed files. */
typedef struct curvo_data_record {
    const char *source;      /* as given to curvo_data_open */
    const char *target;      /* CSV target column (NULL: "target") */
    double test_fraction;    /* csv:PATH test split, and its seed */
    uint64_t split_seed;
    int force_regression;    /* the task as opened: a real value (also when the rule chose it) */
    int force_classes;       /* --classes: class labels although the rule would refuse them */
    double val_fraction;     /* validation share of the training set (0: none), and its seed */
    uint64_t val_seed;
    uint32_t crc32;          /* curvo_data_fingerprint of source */
    uint64_t bytes;
} curvo_data_record;
/* Copies rec into the trainer; every later checkpoint records it, with the sizes of the training,
 * test and validation sets and the training set's standardization. */
int curvo_trainer_set_data_record(curvo_trainer *tr, const curvo_data_record *rec);
/* The epoch whose parameters early stopping kept (0: none yet), and whether it ended the run. */
int curvo_trainer_best_epoch(const curvo_trainer *tr);
int curvo_trainer_stopped_early(const curvo_trainer *tr);
/* Trains until the planned epochs are done, the max_seconds budget is spent (then it evaluates,
 * reports an eval event unless the budget ran out at an epoch end, and returns CURVO_OK), fn
 * cancels, or an error occurs. */
int curvo_trainer_run(curvo_trainer *tr, curvo_progress_fn fn, void *user);
const char *curvo_trainer_errmsg(const curvo_trainer *tr);
/* Writes a checkpoint (model spec and parameters, loss, optimizer parameters and state, the
 * shuffling RNG, epoch, step and the data order, the early-stopping state, options->log_path, the
 * data record with the sets' sizes and the training set's standardization) atomically: a crash
 * never leaves a torn file. */
int curvo_trainer_save(curvo_trainer *tr, const char *path);
/* Recreates a trainer from a checkpoint; it continues exactly where the saved one stopped (with
 * one thread, bit for bit). options->epochs is the new plan (more or fewer epochs than the saved
 * run planned; none are trained when they are done already); batch size, seed, early-stopping
 * patience and state, the learning-rate schedule (options->schedule is ignored) and the data record
 * come from the checkpoint. *model_out receives the model
 * (owned by the caller; free it after the trainer). Checkpoints of kind "curvo-train-1" (before
 * data records and early stopping) still load. */
int curvo_trainer_resume(const char *path, const curvo_dataset *train, const curvo_dataset *test,
                         const curvo_train_options *options, curvo_trainer **out,
                         curvo_model **model_out, char *errmsg);

/* Reads the model (and the loss it was trained with) from a checkpoint. */
int curvo_checkpoint_load_model(const char *path, curvo_model **model, curvo_loss_kind *loss,
                                char *errmsg);

/* What a checkpoint says about its run, for checking a resume's options against it and reopening
 * its data. Strings and arrays live in the struct's allocation: free it with
 * curvo_checkpoint_info_free. */
typedef struct curvo_checkpoint_info {
    const char *kind;          /* "curvo-train-2" (or "curvo-train-1") */
    const char *model_spec;    /* as curvo_model_describe writes it */
    int input[3];              /* (channels, height, width) */
    curvo_loss_kind loss;
    curvo_opt_params opt;
    int epochs;                /* planned */
    int epochs_done;           /* completed epochs */
    int in_epoch;              /* 1: saved in the middle of epoch epochs_done + 1 */
    int64_t step;
    int batch_size;
    uint64_t seed;
    int64_t checkpoint_every;
    int early_stop, best_epoch, stopped_early;
    const char *log_path;      /* NULL: none recorded */
    int has_data;              /* 0: no data record (made without one, or kind "curvo-train-1") */
    curvo_data_record data;
    size_t train_count, test_count, val_count;
    curvo_standardization standardization; /* of the training set */
    curvo_schedule schedule;   /* the learning-rate schedule (none in checkpoints made before them) */
} curvo_checkpoint_info;
int curvo_checkpoint_read_info(const char *path, curvo_checkpoint_info **out, char *errmsg);
void curvo_checkpoint_info_free(curvo_checkpoint_info *info);

/* What curvo_evaluate_metrics measures on a dataset. */
typedef struct curvo_metrics {
    size_t n;            /* samples evaluated */
    int classification;  /* 1: loss ce or bce, accuracy is set; 0: loss mse, the regression figures */
    double loss;         /* mean loss (on standardized targets when the set's are standardized) */
    double accuracy;     /* fraction correct (argmax; one-output bce: f > 0); NaN for regression */
    /* Regression, in the targets' original units (NaN for classification): root mean squared and
     * mean absolute error of the first output, and R^2 = 1 - SS_res / SS_tot with SS_tot about the
     * evaluated set's own mean, as sklearn.metrics.r2_score (constant targets: 1 if every
     * prediction is exact, else 0; NaN for one sample). */
    double rmse, mae, r2;
} curvo_metrics;

/* Evaluates model on d in sequential batches. The model must fit d (input size; ce: as many
 * outputs as classes and class labels; mse and bce: one output; bce: classes 0 and 1), else
 * CURVO_E_INVALID or CURVO_E_SHAPE with the reason in errmsg (NULL or CURVO_ERRMSG_LEN bytes).
 * A non-finite loss is CURVO_E_NUMERIC. */
int curvo_evaluate_metrics(curvo_model *model, curvo_loss_kind loss, const curvo_dataset *d, int batch_size,
                           curvo_metrics *out, char *errmsg);

/* Mean loss and metric (accuracy for ce and bce, RMSE in original units for mse) of model on d:
 * curvo_evaluate_metrics without the message. */
int curvo_evaluate(curvo_model *model, curvo_loss_kind loss, const curvo_dataset *d, int batch_size,
                   double *mean_loss, double *metric);

/* ---------------------------------------------------------------- reinforcement learning */
/* Environments and a DQN agent (docs/RL.md). An environment is a table of plain functions over a
 * state of state_size bytes that the caller owns; the state must be plain data with no pointers
 * (a checkpoint copies its bytes), and hold whatever the environment needs, its step count for
 * truncation included. Built in: "cartpole" (Gymnasium's CartPole-v1) and "acrobot" (Acrobot-v1).
 * To use an environment of your own, fill a curvo_env_ops and pass it to curvo_dqn_create. */
typedef struct curvo_env_ops {
    const char *name;
    const char *doc;          /* one line for help texts */
    int obs_size;             /* floats per observation */
    int n_actions;            /* actions are 0 .. n_actions - 1 */
    size_t state_size;        /* bytes of the state */
    /* Starts an episode: a new state drawn from rng, its observation into obs (obs_size). */
    void (*reset)(void *state, curvo_rng *rng, float *obs);
    /* Applies action (in range: the caller checks), writes the next observation, the reward, and
     * whether the episode ended by reaching a terminal state (terminated) or by the time limit
     * (truncated; both may be set). After either, the caller resets. */
    void (*step)(void *state, int action, float *obs, double *reward, int *terminated, int *truncated);
} curvo_env_ops;

/* The built-in environments: the one named (NULL if none), and the i-th of them (NULL past the
 * last) for listing. */
const curvo_env_ops *curvo_env_find(const char *name);
const curvo_env_ops *curvo_env_at(int i);

/* DQN (Mnih et al. 2015) as cleanrl's dqn.py writes it: an epsilon-greedy actor, a replay buffer,
 * a target network, TD targets r + gamma (1 - terminated) max_a Q_target(s', a) (truncation keeps
 * the bootstrap), and the taken action's squared TD error (CURVO_LOSS_SELECTED_MSE, or Huber)
 * minimized by any curvo optimizer through curvo_optimizer_step. Defaults are cleanrl's CartPole
 * settings; curvo_dqn_params_for_env gives the documented set of each built-in environment. */
typedef struct curvo_dqn_params {
    const char *model;        /* hidden layers as a spec, the output layer dense:n_actions is
                               * appended (default "dense:120,relu,dense:84,relu") */
    int64_t total_steps;      /* env steps planned: the epsilon schedule's scale (default 500000) */
    int buffer_size;          /* transitions kept (default 10000) */
    double gamma;             /* discount (default 0.99) */
    double tau;               /* target <- tau Q + (1 - tau) target (default 1: a hard copy) */
    int target_every;         /* ... every this many env steps (default 500) */
    int batch_size;           /* transitions per training step (default 128) */
    double eps_start, eps_end; /* epsilon schedule (defaults 1, 0.05) ... */
    double eps_fraction;      /* ... linear over this share of total_steps (default 0.5) */
    int64_t learning_starts;  /* no training before this many env steps (default 10000) */
    int train_every;          /* a training step every this many env steps (default 10) */
    int huber;                /* 1: CURVO_LOSS_SELECTED_HUBER instead of SELECTED_MSE (default 0) */
    uint64_t seed;            /* initialization, env resets, exploration, replay (default 1) */
    int64_t eval_every;       /* a greedy evaluation every this many env steps (default 10000; 0:
                               * none) ... */
    int eval_episodes;        /* ... of this many episodes (default 10) */
} curvo_dqn_params;
void curvo_dqn_params_init(curvo_dqn_params *p);
/* cleanrl's defaults adjusted for the named built-in environment (docs/RL.md); CURVO_E_INVALID for
 * an unknown name. */
int curvo_dqn_params_for_env(curvo_dqn_params *p, const char *env);

typedef struct curvo_dqn curvo_dqn;

/* An agent for env (not owned; must outlive the agent) trained by an optimizer made from opt.
 * CURVO_E_INVALID with a message for bad parameters or an env table that is incomplete. */
int curvo_dqn_create(const curvo_env_ops *env, const curvo_dqn_params *p, const curvo_opt_params *opt,
                     curvo_dqn **out, char *errmsg);
void curvo_dqn_free(curvo_dqn *d);
const char *curvo_dqn_errmsg(const curvo_dqn *d);

typedef enum curvo_rl_event_kind {
    CURVO_RL_EPISODE = 0,     /* a training episode ended */
    CURVO_RL_EVAL = 1         /* a greedy evaluation finished */
} curvo_rl_event_kind;

typedef struct curvo_rl_event {
    curvo_rl_event_kind kind;
    int64_t env_steps;        /* env steps so far */
    int64_t train_steps;      /* optimizer steps so far */
    int64_t rejected_steps;   /* of which rejected (a non-finite loss or gradient: theta kept) */
    int64_t episodes;         /* training episodes finished */
    double episode_return;    /* episode: its return; eval: the mean return */
    int64_t episode_length;   /* episode: its length; eval: the mean length (rounded) */
    double epsilon;           /* exploration rate at the episode's last step */
    double eval_std;          /* eval: standard deviation of the returns */
    int eval_episodes;        /* eval: episodes run */
    double loss;              /* mean TD loss of the training steps since the previous event (NaN
                               * if none) */
    double seconds;           /* wall time so far, resumed runs included */
    double train_seconds;     /* of which in optimizer steps */
} curvo_rl_event;
typedef int (*curvo_rl_callback)(const curvo_rl_event *e, void *user);

/* Acts and trains until until_steps env steps are done in all (at most total_steps; CURVO_OK at
 * once when done already). fn (may be NULL) sees every event; a non-zero return stops after the
 * current env step with CURVO_E_CANCELLED, the agent ready to save or go on. */
int curvo_dqn_run(curvo_dqn *d, int64_t until_steps, curvo_rl_callback fn, void *user);
/* A greedy evaluation of episodes episodes on an environment of its own seeded from seed (the
 * agent's state and RNG are untouched): mean and standard deviation of the returns. */
int curvo_dqn_evaluate(curvo_dqn *d, int episodes, uint64_t seed, double *mean, double *std);
int64_t curvo_dqn_env_steps(const curvo_dqn *d);
const curvo_dqn_params *curvo_dqn_get_params(const curvo_dqn *d);
const curvo_opt_params *curvo_dqn_opt_params(const curvo_dqn *d);
curvo_model *curvo_dqn_q_model(curvo_dqn *d);
/* Writes a checkpoint that resumes exactly (with one thread, bit for bit): the parameters, the
 * Q and target networks, the optimizer's parameters and state, the replay buffer, the env state
 * and its observation, the episode in progress, the RNG, counters and the clock. Atomic. */
int curvo_dqn_save(curvo_dqn *d, const char *path);
/* Recreates the agent saved at path for env (which must have the saved name and sizes). */
int curvo_dqn_resume(const char *path, const curvo_env_ops *env, curvo_dqn **out, char *errmsg);
/* The environment name and optimizer a checkpoint was saved with (name: up to len bytes). */
int curvo_dqn_checkpoint_env(const char *path, char *name, size_t len, char *errmsg);

/* ---------------------------------------------------------------- logs */
/* Metrics logs in JSON Lines: one object per event. A log may open with a run object (event "run":
 * framework, optimizer, model, dataset, seed, batch_size, threads, params). Step objects carry
 * event, epoch, step, loss, lr, damping, grad_norm, step_norm, ls_tries, cg_iters, accepted,
 * status, the method's own figures, samples_per_second, seconds; epoch and eval objects carry
 * event, epoch, step, epochs_done, loss, train_loss and train_accuracy / train_rmse (when the
 * training set is evaluated), test_accuracy / test_rmse, test_loss, val_accuracy / val_rmse and
 * val_loss (with a validation set), train_seconds, rejected_steps, seconds; regression objects
 * also train_mae, train_r2, test_mae, test_r2, val_mae, val_r2. best_epoch with early
 * stopping; an early_stop object has an epoch object's fields (metrics of the parameters kept),
 * best_epoch and best_val_loss. With a learning-rate schedule the run object has schedule (its
 * canonical spec) and step, epoch and eval objects lr_factor. docs/TRAINING.md describes every field. */
typedef struct curvo_log curvo_log;
/* What a run is, for the first line of its log (strings may be NULL: left out). */
typedef struct curvo_run_info {
    const char *framework;      /* "curvo" */
    const char *optimizer;      /* algorithm name */
    const char *model;          /* preset name or spec string */
    const char *dataset;        /* data source as given */
    uint64_t seed;
    int batch_size, threads;
    size_t params;
    int processes;              /* processes training together (MPI); 0 or 1: one, and not written */
    const char *schedule;       /* learning-rate schedule spec (NULL: none, not written) */
} curvo_run_info;
/* Creates (or, with append, extends) the file; CURVO_E_IO with the reason in errmsg. */
int curvo_log_open(const char *path, int append, curvo_log **out, char *errmsg);
int curvo_log_write_run(curvo_log *log, const curvo_run_info *run);
/* {"event":"resume","checkpoint":PATH,"epoch":E,"step":S,"epochs":N,"threads":T} — appended to a
 * log when a run continues from a checkpoint after step S (epoch E in progress), planning N epochs
 * from there; readers of the log (curvo plot) skip it. */
int curvo_log_write_resume(curvo_log *log, const char *checkpoint, int epoch, int64_t step, int epochs,
                           int threads);
int curvo_log_write(curvo_log *log, const curvo_progress *p);
/* Flushes and closes; CURVO_E_IO if any write failed. */
int curvo_log_close(curvo_log *log);

#ifdef __cplusplus
}
#endif
#endif /* CURVO_H */
