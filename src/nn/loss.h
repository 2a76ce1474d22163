/* loss.h — losses on network outputs f (b, c): value, output gradient, output-Hessian products and
 * the factored output Hessian Q_i = L_i L_i^T used by the Gauss-Newton solvers. */
#ifndef CURVO_NN_LOSS_H
#define CURVO_NN_LOSS_H

#include "curvo.h"

/* Ridge added to Q_i before it is factored for CE and BCE (CE's Q_i is singular). */
#define CURVO_LOSS_FACTOR_EPS 1e-6

/* Loss over the batch's b samples divided by norm (b for the batch's mean; the global batch when
 * this batch is one process's shard of it). Writes p (b, c): softmax (CE), sigmoid (BCE) or f
 * itself (MSE), and dz (b, c) = d(value)/df = (p - y) / norm. Returns CURVO_E_INVALID for a label
 * outside [0, c) and CURVO_E_NUMERIC for a non-finite loss. */
int loss_eval(curvo_loss_kind kind, const float *f, const curvo_batch *batch, int c, int norm, float *p,
              float *dz, double *value);
/* out_j = scale * Q zdot_j for k vectors (k, b, c); Q from p (b, c) (and for the selected-output
 * losses the batch's labels and targets, of which b samples are read). */
void loss_hess_apply(curvo_loss_kind kind, const float *p, const curvo_batch *batch, int b, int c, const float *zdot,
                     int k, float scale, float *out);
/* L_i lower triangular with L_i L_i^T = Q_i + eps I: out (b, c, c). CURVO_E_NUMERIC if a factor
 * fails. */
int loss_hess_factor(curvo_loss_kind kind, const float *p, const curvo_batch *batch, int b, int c, double *out);
/* 1 for the selected-output losses (one output of each sample, chosen by its label). */
int loss_is_selected(curvo_loss_kind kind);
/* q_i + eps of the one-row Gauss-Newton system: the curvature of sample i's selected output (the
 * label's, for CE: p_y (1 - p_y)); CE and the selected-output losses only. */
double loss_row_q(curvo_loss_kind kind, const float *p, const curvo_batch *batch, int c, int i);
/* The output seeds whose Gram is J~ J~^T (J~ = blockdiag(L_i^T) J) in cotangent-major order:
 * seed (j, i) is column j of L_i. Lf (b, c, c) from loss_hess_factor -> seeds (c, b, c). */
void loss_factor_seeds(const double *Lf, int b, int c, double *seeds);
/* r (b, c) with g = -(1/b) J^T r. */
void loss_residual(curvo_loss_kind kind, const float *p, const curvo_batch *batch, int c, double *r);

#endif
