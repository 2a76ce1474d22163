/* env.h — the built-in environments' states and helpers (internal; tests include it). */
#ifndef CURVO_RL_ENV_H
#define CURVO_RL_ENV_H

#include <stdint.h>

#include "curvo.h"

/* pi as numpy writes it (M_PI is not C11) */
#define RL_PI 3.14159265358979323846

typedef struct rl_cartpole_state {
    double s[4];      /* x, x_dot, theta, theta_dot */
    int64_t steps;    /* in this episode */
} rl_cartpole_state;

typedef struct rl_acrobot_state {
    double s[4];      /* theta1, theta2, dtheta1, dtheta2 */
    int64_t steps;
} rl_acrobot_state;

extern const curvo_env_ops rl_cartpole_ops, rl_acrobot_ops;

/* Acrobot's time derivative of s at the given torque, and one RK4 step of dt in place. */
void rl_acrobot_dsdt(const double s[4], double torque, double out[4]);
void rl_acrobot_rk4(double s[4], double torque, double dt);
/* Gymnasium's wrap into [-pi, pi]. */
double rl_wrap_angle(double x);
/* 1 if ops has every field an agent needs (name, sizes >= 1, reset, step), else 0. */
int rl_env_ops_valid(const curvo_env_ops *ops);

#endif
