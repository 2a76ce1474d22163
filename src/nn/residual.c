/* residual.c — residual blocks, res(SPEC): y = body(x) + shortcut(x) as one composite module.
 *
 * The body is the sequence of modules SPEC describes; the shortcut is the identity when the body
 * keeps the input's shape, else a 1x1 convolution without bias whose stride reproduces the body's
 * height and width, followed by the body's last layer when that is a normalization (spec.c's list).
 * The block's parameters are one contiguous slice of theta: the body's children, then the
 * shortcut's, each child's offset counting from the block's start. Per-module state (batchnorm's
 * running statistics) follows the same rule: the block's slice of the model's state buffer holds
 * its children's, body then shortcut, each child's state_offset counting from the block's start;
 * the block's forward_mode runs every child in the pass's mode with its state (forward, the plain
 * one, runs them with theirs: training mode, no state update), and the block couples the samples
 * (couples_batch) when a child does.
 *
 * Every action is its children's, branch by branch (B = body or shortcut, a sequence
 * f_n o ... o f_1 with activations a_0 = x, a_l = f_l(a_{l-1}), the identity shortcut has none):
 *   forward  y = a_n(body) + a_n(shortcut)                       (identity: + x)
 *   vjp      dx = vjp_body(dy) + vjp_shortcut(dy), each a reverse sweep through the branch seeded
 *            with dy; the parameter adjoints land in the children's slices
 *   jvp      ydot = jvp_body(xdot, thetadot) + jvp_shortcut(xdot, thetadot), a forward sweep each
 *   soa      the R-op of the vjp: per branch, the first-order adjoints dy_l at every child's output
 *            (a reverse sweep of dy), the tangents at every child's input (a forward sweep), then a
 *            reverse sweep of the children's soa seeded with dydot; dxdot is the branches' sum
 *   gram     a sample's parameter gradient is the concatenation of its children's, so the block's
 *            Gram block is the sum of its parametric children's, each given the k cotangents at its
 *            output (dy swept back through the branch by the children's vjp).
 * Tangents and adjoints inside the block go one vector at a time (the workspace is sized by the
 * batch alone); the gram sweep carries all k at once in buffers it allocates.
 * Workspace for b samples (what forward leaves): act (b, A) every child's output, A = the sum of
 * the children's output sizes (child l of a branch at b * act_off[l]), then each child's own
 * workspace. Scratch (module.h: only while an action runs, shared with the pass's other modules):
 * adj (b, A) the first-order adjoints at the children's outputs (soa); tan (b, A) one vector's
 * tangents at them (jvp, soa); ping, pong (b, width) the reverse sweeps' buffers, width the largest
 * input or output of any child; then one area for the children's scratch, the largest of theirs
 * (they run one at a time). Every area starts on a 64-byte boundary.
 */
#include <ctype.h>
#include <stdlib.h>
#include <string.h>

#include "core/errmsg.h"
#include "nn/model.h"

/* below this many elements an elementwise loop is not worth starting threads for */
#define RES_OMP_MIN 65536

/* One branch: a sequence of modules, parameter offsets relative to the block. */
typedef struct branch {
    module *mods; /* (n); n = 0: the identity */
    int n;
    size_t *act_off; /* (n) floats per sample before child l's output in the act/adj/tan areas */
} branch;

struct nn_block {
    branch br[2];  /* body, shortcut */
    size_t acts;   /* A: floats per sample of all children's outputs */
    size_t width;  /* largest input or output size of any child */
};

static size_t round64(size_t bytes) { return (bytes + 63) / 64 * 64; }

/* The workspace (what forward leaves for the actions) and the scratch (what an action uses only
 * while it runs) for b samples. */
typedef struct res_ws {
    float *act;     /* workspace: every child's output */
    char *children; /* workspace: the children's workspaces, body first */
} res_ws;

typedef struct res_scratch {
    float *adj, *tan, *ping, *pong;
    char *children; /* the children's scratch: one area, used by one child at a time */
} res_scratch;

static size_t act_bytes(const struct nn_block *blk, int b) { return round64((size_t)b * blk->acts * sizeof(float)); }

static res_ws ws_of(const module *m, void *ws, int b) {
    res_ws w = {(float *)ws, (char *)ws + act_bytes(m->block, b)};
    return w;
}

static size_t areas_bytes(const struct nn_block *blk, int b) {
    return 2 * act_bytes(blk, b) + 2 * round64((size_t)b * blk->width * sizeof(float));
}

static res_scratch scratch_of(const module *m, void *scratch, int b) {
    const struct nn_block *blk = m->block;
    size_t a = act_bytes(blk, b), p = round64((size_t)b * blk->width * sizeof(float));
    char *base = scratch;
    res_scratch w = {(float *)base, (float *)(base + a), (float *)(base + 2 * a), (float *)(base + 2 * a + p),
                     base + areas_bytes(blk, b)};
    return w;
}

static size_t child_ws_bytes(const module *ch, int b) {
    return round64(ch->ops->ws_bytes ? ch->ops->ws_bytes(ch, b) : 0);
}

static size_t res_ws_bytes(const module *m, int b) {
    size_t bytes = act_bytes(m->block, b);
    for (int r = 0; r < 2; r++)
        for (int l = 0; l < m->block->br[r].n; l++) bytes += child_ws_bytes(&m->block->br[r].mods[l], b);
    return bytes;
}

static size_t res_scratch_bytes(const module *m, int b) {
    size_t most = 0;
    for (int r = 0; r < 2; r++)
        for (int l = 0; l < m->block->br[r].n; l++) {
            size_t c = round64(module_scratch_bytes(&m->block->br[r].mods[l], b));
            most = c > most ? c : most;
        }
    return areas_bytes(m->block, b) + most;
}

/* Child l of branch r's view of the pass: its parameters, input, output, workspace and scratch
 * (NULL: the forward, which has none). */
static nn_ctx child_ctx(const module *m, const float *theta, const float *x, void *ws, void *scratch, int b, int r,
                        int l) {
    const struct nn_block *blk = m->block;
    res_ws w = ws_of(m, ws, b);
    char *cws = w.children;
    for (int r2 = 0; r2 <= r; r2++)
        for (int l2 = 0; l2 < (r2 < r ? blk->br[r2].n : l); l2++) cws += child_ws_bytes(&blk->br[r2].mods[l2], b);
    const branch *br = &blk->br[r];
    nn_ctx c = {theta + br->mods[l].offset, l ? w.act + (size_t)b * br->act_off[l - 1] : x,
                w.act + (size_t)b * br->act_off[l], cws, b, scratch ? scratch_of(m, scratch, b).children : NULL};
    return c;
}

/* The slot of child l's output of branch br in an activation-sized area. */
static float *slot(float *area, const branch *br, int l, int b) { return area + (size_t)b * br->act_off[l]; }

/* The lowest child of br with parameters (br->n if none). */
static int first_parametric(const branch *br) {
    for (int l = 0; l < br->n; l++)
        if (br->mods[l].n_params) return l;
    return br->n;
}

/* y (n) = a + b, or y += a with b NULL; elementwise, so split over the threads freely */
static void add_to(float *y, const float *a, const float *b2, size_t n) {
    long nl = (long)n;
    if (b2) {
#pragma omp parallel for schedule(static) if (n >= RES_OMP_MIN)
        for (long i = 0; i < nl; i++) y[i] = a[i] + b2[i];
    } else {
#pragma omp parallel for schedule(static) if (n >= RES_OMP_MIN)
        for (long i = 0; i < nl; i++) y[i] += a[i];
    }
}

/* The forward of every child, in mode (NULL: each child's plain forward) with its slice of the
 * block's state (NULL: none), then y = body + shortcut. */
static void res_forward_mode(const module *m, const float *theta, float *state, const nn_mode *mode, const float *x,
                             float *y, void *ws, int b) {
    const struct nn_block *blk = m->block;
    res_ws w = ws_of(m, ws, b);
    for (int r = 0; r < 2; r++)
        for (int l = 0; l < blk->br[r].n; l++) {
            const module *ch = &blk->br[r].mods[l];
            nn_ctx c = child_ctx(m, theta, x, ws, NULL, b, r, l);
            if (mode && ch->ops->forward_mode)
                ch->ops->forward_mode(ch, c.theta, state && ch->n_state ? state + ch->state_offset : NULL, mode, c.x,
                                      (float *)c.y, c.ws, b);
            else
                ch->ops->forward(ch, c.theta, c.x, (float *)c.y, c.ws, b);
        }
    const branch *body = &blk->br[0], *sc = &blk->br[1];
    add_to(y, slot(w.act, body, body->n - 1, b), sc->n ? slot(w.act, sc, sc->n - 1, b) : x,
           (size_t)b * module_out_size(m));
}

static void res_forward(const module *m, const float *theta, const float *x, float *y, void *ws, int b) {
    res_forward_mode(m, theta, NULL, NULL, x, y, ws, b);
}

/* Reverse sweep of one cotangent dy (b, out) through branch r: parameter adjoints added to dt (the
 * block's slice; NULL: not needed); the input adjoint into dx (b, in) (NULL: not needed), or added
 * to it with add set. */
static void branch_vjp(const module *m, const nn_ctx *c, int r, const float *dy, float *dt, size_t ldt,
                       float *dx, int add) {
    const branch *br = &m->block->br[r];
    res_scratch w = scratch_of(m, c->scratch, c->b);
    int lo = dx ? 0 : dt ? first_parametric(br) : br->n;
    const float *cur = dy;
    for (int l = br->n - 1; l >= lo; l--) {
        const module *ch = &br->mods[l];
        nn_ctx cc = child_ctx(m, c->theta, c->x, c->ws, c->scratch, c->b, r, l);
        float *next = cur == w.ping ? w.pong : w.ping;
        float *target = l > lo ? next : !dx ? NULL : add ? next : dx;
        ch->ops->vjp(ch, &cc, cur, 1, target, dt && ch->n_params ? dt + ch->offset : NULL, ldt);
        if (l == 0 && dx && add) add_to(dx, next, NULL, (size_t)c->b * module_in_size(m));
        cur = next;
    }
}

static void res_vjp(const module *m, const nn_ctx *c, const float *dy, int k, float *dx, float *dtheta,
                    size_t ldt) {
    if (!dx && !dtheta) return;
    size_t in = (size_t)c->b * module_in_size(m), out = (size_t)c->b * module_out_size(m);
    for (int j = 0; j < k; j++) {
        const float *dyj = dy + j * out;
        float *dxj = dx ? dx + j * in : NULL, *dtj = dtheta ? dtheta + j * ldt : NULL;
        branch_vjp(m, c, 0, dyj, dtj, ldt, dxj, 0);
        if (m->block->br[1].n)
            branch_vjp(m, c, 1, dyj, dtj, ldt, dxj, 1);
        else if (dxj)
            add_to(dxj, dyj, NULL, in);
    }
}

/* Forward sweep of one tangent (xdot (b, in), NULL: zero; td the block's parameter tangent, NULL:
 * zero) through branch r into the tan area. Returns z: the outputs of children below z have a zero
 * tangent and were not written (z = n: the branch's output tangent is zero). */
static int branch_tangents(const module *m, const nn_ctx *c, int r, const float *xdot, const float *td, size_t ldt) {
    const branch *br = &m->block->br[r];
    res_scratch w = scratch_of(m, c->scratch, c->b);
    int z = xdot ? 0 : td ? first_parametric(br) : br->n;
    const float *cur = xdot;
    for (int l = z; l < br->n; l++) {
        const module *ch = &br->mods[l];
        nn_ctx cc = child_ctx(m, c->theta, c->x, c->ws, c->scratch, c->b, r, l);
        float *out = slot(w.tan, br, l, c->b);
        ch->ops->jvp(ch, &cc, cur, td && ch->n_params ? td + ch->offset : NULL, ldt, 1, out);
        cur = out;
    }
    return z;
}

static void res_jvp(const module *m, const nn_ctx *c, const float *xdot, const float *thetadot, size_t ldt, int k,
                    float *ydot) {
    const branch *body = &m->block->br[0], *sc = &m->block->br[1];
    res_scratch w = scratch_of(m, c->scratch, c->b);
    size_t in = (size_t)c->b * module_in_size(m), out = (size_t)c->b * module_out_size(m);
    for (int j = 0; j < k; j++) {
        const float *xj = xdot ? xdot + j * in : NULL, *tj = thetadot ? thetadot + j * ldt : NULL;
        float *yj = ydot + j * out;
        memset(yj, 0, out * sizeof(float));
        if (branch_tangents(m, c, 0, xj, tj, ldt) < body->n) add_to(yj, slot(w.tan, body, body->n - 1, c->b), NULL, out);
        if (!sc->n) {
            if (xj) add_to(yj, xj, NULL, out);
        } else if (branch_tangents(m, c, 1, xj, tj, ldt) < sc->n) {
            add_to(yj, slot(w.tan, sc, sc->n - 1, c->b), NULL, out);
        }
    }
}

/* The first-order adjoints of dy (b, out) at the outputs of branch r's children from lo up, into
 * the adj area. */
static void branch_adjoints(const module *m, const nn_ctx *c, int r, const float *dy, int lo) {
    const branch *br = &m->block->br[r];
    res_scratch w = scratch_of(m, c->scratch, c->b);
    if (lo >= br->n) return;
    memcpy(slot(w.adj, br, br->n - 1, c->b), dy, (size_t)c->b * module_out_size(m) * sizeof(float));
    for (int l = br->n - 1; l > lo; l--) {
        const module *ch = &br->mods[l];
        nn_ctx cc = child_ctx(m, c->theta, c->x, c->ws, c->scratch, c->b, r, l);
        ch->ops->vjp(ch, &cc, slot(w.adj, br, l, c->b), 1, slot(w.adj, br, l - 1, c->b), NULL, 0);
    }
}

/* Reverse sweep of the children's soa through branch r for one vector: xdot and td as in
 * branch_tangents (whose z the tan area holds), dydot (b, out) the adjoint tangent; parameter
 * parts added to dtd (NULL: not needed), the input part into dxdot or added to it with add set. */
static void branch_soa(const module *m, const nn_ctx *c, int r, const float *xdot, const float *td, size_t ldt,
                       int z, int lo, const float *dydot, float *dtd, float *dxdot, int add) {
    const branch *br = &m->block->br[r];
    res_scratch w = scratch_of(m, c->scratch, c->b);
    const float *cur = dydot;
    for (int l = br->n - 1; l >= lo; l--) {
        const module *ch = &br->mods[l];
        nn_ctx cc = child_ctx(m, c->theta, c->x, c->ws, c->scratch, c->b, r, l);
        const float *xd = l == 0 ? xdot : l - 1 < z ? NULL : slot(w.tan, br, l - 1, c->b);
        float *next = cur == w.ping ? w.pong : w.ping;
        float *target = l > lo ? next : !dxdot ? NULL : add ? next : dxdot;
        ch->ops->soa(ch, &cc, xd, td && ch->n_params ? td + ch->offset : NULL, ldt, slot(w.adj, br, l, c->b), cur,
                     1, target, dtd && ch->n_params ? dtd + ch->offset : NULL);
        if (l == 0 && dxdot && add) add_to(dxdot, next, NULL, (size_t)c->b * module_in_size(m));
        cur = next;
    }
}

static void res_soa(const module *m, const nn_ctx *c, const float *xdot, const float *thetadot, size_t ldt,
                    const float *dy, const float *dydot, int k, float *dxdot, float *dthetadot) {
    if (!dxdot && !dthetadot) return;
    size_t in = (size_t)c->b * module_in_size(m), out = (size_t)c->b * module_out_size(m);
    int lo[2];
    for (int r = 0; r < 2; r++) {
        const branch *br = &m->block->br[r];
        lo[r] = dxdot ? 0 : first_parametric(br);
        branch_adjoints(m, c, r, dy, lo[r]);
    }
    for (int j = 0; j < k; j++) {
        const float *xj = xdot ? xdot + j * in : NULL, *tj = thetadot ? thetadot + j * ldt : NULL;
        const float *ddj = dydot + j * out;
        float *dxj = dxdot ? dxdot + j * in : NULL, *dtj = dthetadot ? dthetadot + j * ldt : NULL;
        for (int r = 0; r < 2; r++) {
            if (!m->block->br[r].n) {
                if (dxj) add_to(dxj, ddj, NULL, in); /* the identity: after the body wrote dxj */
                continue;
            }
            int z = branch_tangents(m, c, r, xj, tj, ldt);
            branch_soa(m, c, r, xj, tj, ldt, z, lo[r], ddj, dtj, dxj, r == 1);
        }
    }
}

static int res_gram(const module *m, const nn_ctx *c, const float *dy, int k, double *gram) {
    size_t len = (size_t)k * c->b * m->block->width;
    float *buf[2] = {malloc(len * sizeof(float)), malloc(len * sizeof(float))}; /* (k, b, width) each */
    int rc = buf[0] && buf[1] ? CURVO_OK : CURVO_E_NOMEM;
    for (int r = 0; r < 2 && !rc; r++) {
        const branch *br = &m->block->br[r];
        int lo = first_parametric(br), t = 0;
        const float *cur = dy;
        for (int l = br->n - 1; l >= lo && !rc; l--) {
            const module *ch = &br->mods[l];
            nn_ctx cc = child_ctx(m, c->theta, c->x, c->ws, c->scratch, c->b, r, l);
            if (ch->ops->gram && ch->n_params) rc = ch->ops->gram(ch, &cc, cur, k, gram);
            if (l == lo || rc) break;
            ch->ops->vjp(ch, &cc, cur, k, buf[t], NULL, 0);
            cur = buf[t];
            t ^= 1;
        }
    }
    free(buf[0]);
    free(buf[1]);
    return rc;
}

static void res_init(const module *m, float *theta, curvo_rng *rng, int next_is_rectifier) {
    for (int r = 0; r < 2; r++) nn_init_modules(m->block->br[r].mods, m->block->br[r].n, theta, NULL, rng, next_is_rectifier);
}

/* The children's initial state, each at its offset in the block's slice. */
static void res_init_state(const module *m, float *state) {
    for (int r = 0; r < 2; r++)
        for (int l = 0; l < m->block->br[r].n; l++) {
            const module *ch = &m->block->br[r].mods[l];
            if (ch->n_state && ch->ops->init_state) ch->ops->init_state(ch, state + ch->state_offset);
        }
}

int nn_residual_inner_coupling(const module *m, const char **kind) {
    if (!m->block) return 0;
    for (int r = 0; r < 2; r++) {
        const branch *br = &m->block->br[r];
        int lo = first_parametric(br);
        for (int l = 0; l < br->n; l++) {
            const module *ch = &br->mods[l];
            if (nn_residual_inner_coupling(ch, kind)) return 1;
            if (l > lo && ch->couples_batch) {
                *kind = nn_coupling_kind(ch);
                return 1;
            }
        }
    }
    return 0;
}

const char *nn_coupling_kind(const module *m) {
    if (!m->block) return m->ops->name;
    for (int r = 0; r < 2; r++)
        for (int l = 0; l < m->block->br[r].n; l++)
            if (m->block->br[r].mods[l].couples_batch) return nn_coupling_kind(&m->block->br[r].mods[l]);
    return m->ops->name;
}

static void branch_free(branch *br) {
    for (int l = 0; l < br->n; l++)
        if (br->mods[l].ops->release) br->mods[l].ops->release(&br->mods[l]);
    free(br->mods);
    free(br->act_off);
}

static void res_release(module *m) {
    if (!m->block) return;
    branch_free(&m->block->br[0]);
    branch_free(&m->block->br[1]);
    free(m->block);
    m->block = NULL;
}

int nn_residual_body(const module *block, const module **body) {
    *body = block->block->br[0].mods;
    return block->block->br[0].n;
}

const module_ops nn_residual_ops = {
    .name = "res",
    .ws_bytes = res_ws_bytes,
    .scratch_bytes = res_scratch_bytes,
    .init = res_init,
    .forward = res_forward,
    .vjp = res_vjp,
    .jvp = res_jvp,
    .soa = res_soa,
    .gram = res_gram,
    .gram_reads_ws = 1,
    .release = res_release,
    .forward_mode = res_forward_mode,
    .init_state = res_init_state,
};

/* ---------------------------------------------------------------- building a block */

/* Moves the modules of a model built for a branch into br, their parameter offsets moved by shift
 * and their state offsets by state_shift. */
static int take_branch(curvo_model *from, size_t shift, size_t state_shift, branch *br, size_t *acts, size_t *width) {
    br->n = from->n_mods;
    if (!br->n) return CURVO_OK;
    if (!(br->act_off = malloc((size_t)br->n * sizeof *br->act_off))) return CURVO_E_NOMEM;
    br->mods = from->mods;
    from->mods = NULL;
    from->n_mods = from->cap_mods = 0;
    for (int l = 0; l < br->n; l++) {
        module *ch = &br->mods[l];
        ch->offset += shift;
        ch->state_offset += state_shift;
        br->act_off[l] = *acts;
        *acts += module_out_size(ch);
        if (module_in_size(ch) > *width) *width = module_in_size(ch);
        if (module_out_size(ch) > *width) *width = module_out_size(ch);
    }
    return CURVO_OK;
}

/* Whether the body flattens a spatial input (flatten, or dense on an h x w map with h w > 1). */
static int body_flattens(const curvo_model *body) {
    for (int l = 0; l < body->n_mods; l++) {
        const module *ch = &body->mods[l];
        if ((ch->ops == &nn_flatten_ops || ch->ops == &nn_dense_ops) && ch->in_h * ch->in_w > 1) return 1;
    }
    return 0;
}

/* The shortcut for a body from (c, h, w) to (oc, oh, ow), built into sc: nothing for the identity,
 * else the 1x1 convolution of the smallest stride that gives oh x ow (and the body's trailing
 * normalization token norm, if any). 0 if no stride fits. */
static int build_shortcut(curvo_model *sc, const curvo_model *body, const char *body_spec, char *err) {
    int c = body->in_c, h = body->in_h, w = body->in_w;
    const module *last = &body->mods[body->n_mods - 1];
    if (last->out_c == c && last->out_h == h && last->out_w == w) return CURVO_OK;
    int stride = 0, smax = h > w ? h : w;
    for (int s = 1; s <= smax && !stride; s++)
        if ((h - 1) / s + 1 == last->out_h && (w - 1) / s + 1 == last->out_w) stride = s;
    if (!stride) return CURVO_E_SHAPE;
    module conv = nn_next_module(sc);
    int rc = nn_conv2d_setup(&conv, last->out_c, 1, stride, 0);
    if (rc) return rc;
    nn_conv2d_drop_bias(&conv);
    if ((rc = nn_push_module(sc, &conv))) return rc;
    char norm[64];
    if (nn_spec_last_norm(body_spec, norm, sizeof norm)) rc = nn_spec_append(sc, norm, err);
    return rc;
}

/* err without the "model spec: " its parser starts with */
static const char *inner_message(const char *err) {
    static const char prefix[] = "model spec: ";
    return strncmp(err, prefix, sizeof prefix - 1) ? err : err + sizeof prefix - 1;
}

int curvo_model_add_residual(curvo_model *m, const char *body_spec) {
    if (!m || !body_spec) return CURVO_E_INVALID;
    const char *p = body_spec;
    while (isspace((unsigned char)*p)) p++;
    if (!*p) {
        curvo_errf(m->errmsg, "res(): the block's body is empty (res(SPEC) needs at least one layer)");
        return CURVO_E_SPEC;
    }
    module mod = nn_next_module(m);
    curvo_model *body = NULL, *sc = NULL;
    char err[CURVO_ERRMSG_LEN] = "";
    int rc = curvo_model_create(mod.in_c, mod.in_h, mod.in_w, &body);
    if (!rc) rc = curvo_model_create(mod.in_c, mod.in_h, mod.in_w, &sc);
    if (rc) goto done;
    if ((rc = nn_spec_append(body, body_spec, err))) {
        if (rc != CURVO_E_NOMEM) curvo_errf(m->errmsg, "res(%.60s): %s", body_spec, inner_message(err));
        if (rc != CURVO_E_NOMEM) rc = CURVO_E_SPEC;
        goto done;
    }
    const module *last = &body->mods[body->n_mods - 1];
    if (body_flattens(body)) {
        curvo_errf(m->errmsg, "res(%.60s): the body flattens its %dx%dx%d input, so no shortcut can be added to its output",
                   body_spec, mod.in_c, mod.in_h, mod.in_w);
        rc = CURVO_E_SHAPE;
        goto done;
    }
    if ((rc = build_shortcut(sc, body, body_spec, err))) {
        if (rc == CURVO_E_SHAPE)
            curvo_errf(m->errmsg, "res(%.60s): the body maps %dx%dx%d to %dx%dx%d (channels x height x width), "
                       "which no strided 1x1 convolution reproduces for the shortcut",
                       body_spec, mod.in_c, mod.in_h, mod.in_w, last->out_c, last->out_h, last->out_w);
        else if (rc != CURVO_E_NOMEM)
            curvo_errf(m->errmsg, "res(%.60s): its shortcut: %s", body_spec, inner_message(err));
        goto done;
    }
    struct nn_block *blk = calloc(1, sizeof *blk);
    if (!blk) {
        rc = CURVO_E_NOMEM;
        goto done;
    }
    mod.ops = &nn_residual_ops;
    mod.block = blk;
    mod.out_c = last->out_c, mod.out_h = last->out_h, mod.out_w = last->out_w;
    mod.n_params = body->n_params + sc->n_params;
    mod.n_state = body->n_state + sc->n_state;
    for (int l = 0; l < body->n_mods; l++) mod.couples_batch |= body->mods[l].couples_batch;
    for (int l = 0; l < sc->n_mods; l++) mod.couples_batch |= sc->mods[l].couples_batch;
    blk->width = module_in_size(&mod) > module_out_size(&mod) ? module_in_size(&mod) : module_out_size(&mod);
    rc = take_branch(body, 0, 0, &blk->br[0], &blk->acts, &blk->width);
    if (!rc) rc = take_branch(sc, body->n_params, body->n_state, &blk->br[1], &blk->acts, &blk->width);
    if (!rc) rc = nn_push_module(m, &mod);
    if (rc) res_release(&mod);
done:
    curvo_model_free(body);
    curvo_model_free(sc);
    return rc;
}
