/* acrobot.c — Gymnasium's Acrobot-v1: two links, the joint between them actuated, with the "book"
 * dynamics of Sutton and Barto (1998) as gymnasium/envs/classic_control/acrobot.py writes them.
 *
 * State s = (theta1, theta2, dtheta1, dtheta2) in double; torque a in {-1, 0, +1} (action 0, 1, 2).
 * With m1 = m2 = 1, l1 = 1, lc1 = lc2 = 0.5, I1 = I2 = 1, g = 9.8:
 *   d1 = m1 lc1^2 + m2 (l1^2 + lc2^2 + 2 l1 lc2 cos theta2) + I1 + I2
 *   d2 = m2 (lc2^2 + l1 lc2 cos theta2) + I2
 *   phi2 = m2 lc2 g cos(theta1 + theta2 - pi/2)
 *   phi1 = -m2 l1 lc2 dtheta2^2 sin theta2 - 2 m2 l1 lc2 dtheta2 dtheta1 sin theta2
 *          + (m1 lc1 + m2 l1) g cos(theta1 - pi/2) + phi2
 *   ddtheta2 = (a + d2/d1 phi1 - m2 l1 lc2 dtheta1^2 sin theta2 - phi2) / (m2 lc2^2 + I2 - d2^2/d1)
 *   ddtheta1 = -(d2 ddtheta2 + phi1) / d1
 * One step is ONE classical Runge-Kutta step over dt = 0.2 (Gymnasium calls its rk4 with
 * t = [0, dt]), then the angles are wrapped into [-pi, pi] (Gymnasium's wrap: subtract or add 2 pi
 * while above pi or below -pi, so pi itself stays) and the velocities clipped to [-4 pi, 4 pi] and
 * [-9 pi, 9 pi]. Terminated when -cos theta1 - cos(theta1 + theta2) > 1 (the tip above the bar);
 * reward -1 per step, 0 on the terminating one; truncated at 500 steps. Reset draws the four
 * state variables uniformly from [-0.1, 0.1). The observation is
 * (cos theta1, sin theta1, cos theta2, sin theta2, dtheta1, dtheta2) as float. */
#include <math.h>

#include "rl/env.h"

#define AB_DT 0.2
#define AB_MAX_VEL_1 (4.0 * RL_PI)
#define AB_MAX_VEL_2 (9.0 * RL_PI)
#define AB_MAX_STEPS 500

void rl_acrobot_dsdt(const double s[4], double torque, double out[4]) {
    const double m1 = 1.0, m2 = 1.0, l1 = 1.0, lc1 = 0.5, lc2 = 0.5, I1 = 1.0, I2 = 1.0, g = 9.8;
    double theta1 = s[0], theta2 = s[1], dtheta1 = s[2], dtheta2 = s[3];
    double d1 = m1 * lc1 * lc1 + m2 * (l1 * l1 + lc2 * lc2 + 2 * l1 * lc2 * cos(theta2)) + I1 + I2;
    double d2 = m2 * (lc2 * lc2 + l1 * lc2 * cos(theta2)) + I2;
    double phi2 = m2 * lc2 * g * cos(theta1 + theta2 - RL_PI / 2.0);
    double phi1 = -m2 * l1 * lc2 * dtheta2 * dtheta2 * sin(theta2) -
                  2 * m2 * l1 * lc2 * dtheta2 * dtheta1 * sin(theta2) +
                  (m1 * lc1 + m2 * l1) * g * cos(theta1 - RL_PI / 2.0) + phi2;
    double ddtheta2 = (torque + d2 / d1 * phi1 - m2 * l1 * lc2 * dtheta1 * dtheta1 * sin(theta2) - phi2) /
                      (m2 * lc2 * lc2 + I2 - d2 * d2 / d1);
    double ddtheta1 = -(d2 * ddtheta2 + phi1) / d1;
    out[0] = dtheta1, out[1] = dtheta2, out[2] = ddtheta1, out[3] = ddtheta2;
}

void rl_acrobot_rk4(double s[4], double torque, double dt) {
    double k1[4], k2[4], k3[4], k4[4], y[4];
    rl_acrobot_dsdt(s, torque, k1);
    for (int j = 0; j < 4; j++) y[j] = s[j] + dt / 2 * k1[j];
    rl_acrobot_dsdt(y, torque, k2);
    for (int j = 0; j < 4; j++) y[j] = s[j] + dt / 2 * k2[j];
    rl_acrobot_dsdt(y, torque, k3);
    for (int j = 0; j < 4; j++) y[j] = s[j] + dt * k3[j];
    rl_acrobot_dsdt(y, torque, k4);
    for (int j = 0; j < 4; j++) s[j] += dt / 6.0 * (k1[j] + 2 * k2[j] + 2 * k3[j] + k4[j]);
}

double rl_wrap_angle(double x) {
    while (x > RL_PI) x -= 2 * RL_PI;
    while (x < -RL_PI) x += 2 * RL_PI;
    return x;
}

static double clip(double x, double lo, double hi) { return x < lo ? lo : x > hi ? hi : x; }

static void observe(const rl_acrobot_state *st, float *obs) {
    obs[0] = (float)cos(st->s[0]), obs[1] = (float)sin(st->s[0]);
    obs[2] = (float)cos(st->s[1]), obs[3] = (float)sin(st->s[1]);
    obs[4] = (float)st->s[2], obs[5] = (float)st->s[3];
}

static void acrobot_reset(void *state, curvo_rng *rng, float *obs) {
    rl_acrobot_state *st = state;
    for (int k = 0; k < 4; k++) st->s[k] = -0.1 + 0.2 * curvo_rng_uniform(rng);
    st->steps = 0;
    observe(st, obs);
}

static void acrobot_step(void *state, int action, float *obs, double *reward, int *terminated, int *truncated) {
    rl_acrobot_state *st = state;
    rl_acrobot_rk4(st->s, (double)action - 1.0, AB_DT);
    st->s[0] = rl_wrap_angle(st->s[0]);
    st->s[1] = rl_wrap_angle(st->s[1]);
    st->s[2] = clip(st->s[2], -AB_MAX_VEL_1, AB_MAX_VEL_1);
    st->s[3] = clip(st->s[3], -AB_MAX_VEL_2, AB_MAX_VEL_2);
    st->steps++;
    observe(st, obs);
    *terminated = -cos(st->s[0]) - cos(st->s[1] + st->s[0]) > 1.0;
    *reward = *terminated ? 0.0 : -1.0;
    *truncated = st->steps >= AB_MAX_STEPS;
}

const curvo_env_ops rl_acrobot_ops = {
    "acrobot", "Acrobot-v1: swing a two-link arm's tip above the bar; 6 observations, 3 actions, -1 per step",
    6, 3, sizeof(rl_acrobot_state), acrobot_reset, acrobot_step,
};
