/* cartpole.c — Gymnasium's CartPole-v1: the cart-pole of Barto, Sutton and Anderson (1983) with the
 * equations, constants and rules of gymnasium/envs/classic_control/cartpole.py.
 *
 * State s = (x, x_dot, theta, theta_dot) in double; one step with force F = +-10 (action 1 pushes
 * right, 0 left) and an explicit Euler step of tau = 0.02 s:
 *   temp      = (F + m_p l theta_dot^2 sin theta) / (m_c + m_p)
 *   theta_acc = (g sin theta - cos theta temp) / (l (4/3 - m_p cos^2 theta / (m_c + m_p)))
 *   x_acc     = temp - m_p l theta_acc cos theta / (m_c + m_p)
 *   x += tau x_dot; x_dot += tau x_acc; theta += tau theta_dot; theta_dot += tau theta_acc
 * with g = 9.8, m_c = 1, m_p = 0.1, l = 0.5 (half the pole's length). Reward 1 every step (the
 * terminating one included); terminated when |x| > 2.4 or |theta| > 12 degrees
 * (12 * 2 pi / 360 rad); truncated at 500 steps (the TimeLimit of CartPole-v1). Reset draws each
 * state variable uniformly from [-0.05, 0.05). The observation is the state as float. */
#include <math.h>

#include "rl/env.h"

#define CP_GRAVITY 9.8
#define CP_MASSCART 1.0
#define CP_MASSPOLE 0.1
#define CP_TOTAL_MASS (CP_MASSCART + CP_MASSPOLE)
#define CP_LENGTH 0.5
#define CP_POLEMASS_LENGTH (CP_MASSPOLE * CP_LENGTH)
#define CP_FORCE_MAG 10.0
#define CP_TAU 0.02
#define CP_THETA_LIMIT (12.0 * 2.0 * RL_PI / 360.0)
#define CP_X_LIMIT 2.4
#define CP_MAX_STEPS 500

static void observe(const rl_cartpole_state *st, float *obs) {
    for (int k = 0; k < 4; k++) obs[k] = (float)st->s[k];
}

static void cartpole_reset(void *state, curvo_rng *rng, float *obs) {
    rl_cartpole_state *st = state;
    for (int k = 0; k < 4; k++) st->s[k] = -0.05 + 0.1 * curvo_rng_uniform(rng);
    st->steps = 0;
    observe(st, obs);
}

static void cartpole_step(void *state, int action, float *obs, double *reward, int *terminated, int *truncated) {
    rl_cartpole_state *st = state;
    double x = st->s[0], x_dot = st->s[1], theta = st->s[2], theta_dot = st->s[3];
    double force = action == 1 ? CP_FORCE_MAG : -CP_FORCE_MAG;
    double costheta = cos(theta), sintheta = sin(theta);
    double temp = (force + CP_POLEMASS_LENGTH * theta_dot * theta_dot * sintheta) / CP_TOTAL_MASS;
    double thetaacc = (CP_GRAVITY * sintheta - costheta * temp) /
                      (CP_LENGTH * (4.0 / 3.0 - CP_MASSPOLE * costheta * costheta / CP_TOTAL_MASS));
    double xacc = temp - CP_POLEMASS_LENGTH * thetaacc * costheta / CP_TOTAL_MASS;
    x += CP_TAU * x_dot;
    x_dot += CP_TAU * xacc;
    theta += CP_TAU * theta_dot;
    theta_dot += CP_TAU * thetaacc;
    st->s[0] = x, st->s[1] = x_dot, st->s[2] = theta, st->s[3] = theta_dot;
    st->steps++;
    observe(st, obs);
    *reward = 1.0;
    *terminated = x < -CP_X_LIMIT || x > CP_X_LIMIT || theta < -CP_THETA_LIMIT || theta > CP_THETA_LIMIT;
    *truncated = st->steps >= CP_MAX_STEPS;
}

const curvo_env_ops rl_cartpole_ops = {
    "cartpole", "CartPole-v1: balance a pole on a cart; 4 observations, 2 actions, return up to 500",
    4, 2, sizeof(rl_cartpole_state), cartpole_reset, cartpole_step,
};
