/* test_rl_env.c — the built-in environments against equations written out here independently:
 * CartPole-v1's step from the Barto-Sutton-Anderson equations, Acrobot-v1's from the manipulator
 * form M(q) q'' + h + phi = (0, tau) solved by Cramer's rule and one RK4 step of 0.2 s; termination
 * and truncation rules, angle wrapping and velocity clipping, reset ranges, determinism from a seed,
 * and the RK4 integrator's error against a fine integration (local error of order dt^5). */
#include <math.h>
#include <string.h>

#include "rl/env.h"
#include "testutil.h"

static const double PI = 3.14159265358979323846;

/* ---------------------------------------------------------------- cartpole */
static void cartpole_reference(const double s[4], int action, double out[4]) {
    const double g = 9.8, mc = 1.0, mp = 0.1, half = 0.5, F = action ? 10.0 : -10.0, dt = 0.02;
    double th = s[2], w = s[3];
    /* pole angular acceleration and cart acceleration (Florian 2007, frictionless) */
    double num = g * sin(th) + cos(th) * (-F - mp * half * w * w * sin(th)) / (mc + mp);
    double den = half * (4.0 / 3.0 - mp * cos(th) * cos(th) / (mc + mp));
    double thacc = num / den;
    double xacc = (F + mp * half * (w * w * sin(th) - thacc * cos(th))) / (mc + mp);
    out[0] = s[0] + dt * s[1];
    out[1] = s[1] + dt * xacc;
    out[2] = s[2] + dt * s[3];
    out[3] = s[3] + dt * thacc;
}

static void cartpole(void) {
    const curvo_env_ops *e = curvo_env_find("cartpole");
    TU_CHECK(e && e->obs_size == 4 && e->n_actions == 2, "cartpole registered with 4 observations, 2 actions");
    if (!e) return;
    curvo_rng rng;
    curvo_rng_seed(&rng, 3);
    rl_cartpole_state st;
    float obs[4];
    double worst = 0.0;
    for (int t = 0; t < 200; t++) {
        double s[4], ref[4];
        for (int k = 0; k < 4; k++) s[k] = st.s[k] = (curvo_rng_uniform(&rng) - 0.5) * (k == 2 ? 0.4 : 2.0);
        st.steps = 0;
        int a = t % 2, term, trunc;
        double r;
        e->step(&st, a, obs, &r, &term, &trunc);
        cartpole_reference(s, a, ref);
        for (int k = 0; k < 4; k++) {
            worst = fmax(worst, fabs(st.s[k] - ref[k]) / fmax(1.0, fabs(ref[k])));
            TU_CHECK(obs[k] == (float)st.s[k], "cartpole observation %d is the state as float", k);
        }
        TU_CHECK(r == 1.0 && !trunc, "cartpole reward 1, no truncation at step 1");
        TU_CHECK(term == (fabs(ref[0]) > 2.4 || fabs(ref[2]) > 12 * 2 * PI / 360), "cartpole termination rule");
    }
    TU_CHECK(worst < 1e-14, "cartpole step against the equations: rel err %.3g", worst);
    /* termination just past the limits, both signs, reward still 1; none just inside */
    double cases[][4] = {{2.399, 1.0, 0, 0}, {-2.399, -1.0, 0, 0}, {0, 0, 0.2094, 0.1}, {0, 0, -0.2094, -0.1}};
    for (int c = 0; c < 4; c++) {
        memcpy(st.s, cases[c], sizeof st.s);
        st.steps = 0;
        int term, trunc;
        double r;
        e->step(&st, 0, obs, &r, &term, &trunc);
        TU_CHECK(term && r == 1.0, "cartpole terminates past the limit (case %d)", c);
    }
    memcpy(st.s, (double[]){2.39, 0.1, 0.2, 0.0}, sizeof st.s);
    st.steps = 0;
    int term, trunc;
    double r;
    e->step(&st, 1, obs, &r, &term, &trunc);
    TU_CHECK(!term, "cartpole inside the limits goes on (x %.4f theta %.4f)", st.s[0], st.s[2]);
    /* truncation at 500 steps: a balancing policy (push toward the pole's lean) reaches it */
    e->reset(&st, &rng, obs);
    int t = 0;
    do {
        e->step(&st, obs[2] + 0.5f * obs[3] > 0 ? 1 : 0, obs, &r, &term, &trunc);
        t++;
    } while (!term && !trunc && t < 1000);
    TU_CHECK(trunc && !term && t == 500, "cartpole truncated at step 500 (ended at %d, term %d)", t, term);
    /* resets: uniform in [-0.05, 0.05), the same for the same seed */
    curvo_rng a, b;
    curvo_rng_seed(&a, 11);
    curvo_rng_seed(&b, 11);
    int in_range = 1, same = 1;
    float o2[4];
    rl_cartpole_state s2;
    double lo = 1, hi = -1;
    for (int i = 0; i < 1000; i++) {
        e->reset(&st, &a, obs);
        e->reset(&s2, &b, o2);
        same &= !memcmp(obs, o2, sizeof obs) && st.steps == 0;
        for (int k = 0; k < 4; k++) {
            in_range &= st.s[k] >= -0.05 && st.s[k] < 0.05;
            lo = fmin(lo, st.s[k]), hi = fmax(hi, st.s[k]);
        }
    }
    TU_CHECK(in_range && lo < -0.049 && hi > 0.049, "cartpole reset in [-0.05, 0.05): [%.4f, %.4f]", lo, hi);
    TU_CHECK(same, "cartpole resets reproducible from a seed");
}

/* ---------------------------------------------------------------- acrobot */
/* The acrobot's accelerations from M(q) q'' = (tau, 0) - h - phi, by Cramer's rule. */
static void acrobot_deriv(const double s[4], double tau, double out[4]) {
    const double m1 = 1, m2 = 1, l1 = 1, lc1 = 0.5, lc2 = 0.5, I1 = 1, I2 = 1, g = 9.8;
    double q1 = s[0], q2 = s[1], w1 = s[2], w2 = s[3];
    double M11 = m1 * lc1 * lc1 + m2 * (l1 * l1 + lc2 * lc2 + 2 * l1 * lc2 * cos(q2)) + I1 + I2;
    double M12 = m2 * (lc2 * lc2 + l1 * lc2 * cos(q2)) + I2, M22 = m2 * lc2 * lc2 + I2;
    double h1 = -m2 * l1 * lc2 * sin(q2) * (w2 * w2 + 2 * w1 * w2), h2 = m2 * l1 * lc2 * sin(q2) * w1 * w1;
    double G2 = m2 * lc2 * g * sin(q1 + q2), G1 = (m1 * lc1 + m2 * l1) * g * sin(q1) + G2; /* cos(x - pi/2) = sin x */
    double r1 = -h1 - G1, r2 = tau - h2 - G2, det = M11 * M22 - M12 * M12;
    out[0] = w1, out[1] = w2;
    out[2] = (r1 * M22 - M12 * r2) / det;
    out[3] = (M11 * r2 - M12 * r1) / det;
}

static void rk4_ref(double s[4], double tau, double dt, int substeps) {
    double h = dt / substeps;
    for (int n = 0; n < substeps; n++) {
        double k1[4], k2[4], k3[4], k4[4], y[4];
        acrobot_deriv(s, tau, k1);
        for (int j = 0; j < 4; j++) y[j] = s[j] + 0.5 * h * k1[j];
        acrobot_deriv(y, tau, k2);
        for (int j = 0; j < 4; j++) y[j] = s[j] + 0.5 * h * k2[j];
        acrobot_deriv(y, tau, k3);
        for (int j = 0; j < 4; j++) y[j] = s[j] + h * k3[j];
        acrobot_deriv(y, tau, k4);
        for (int j = 0; j < 4; j++) s[j] += h * (k1[j] + 2 * k2[j] + 2 * k3[j] + k4[j]) / 6;
    }
}

static double wrap_ref(double x) { /* into [-pi, pi], pi itself kept (Gymnasium's wrap) */
    double y = fmod(x + PI, 2 * PI);
    if (y < 0) y += 2 * PI;
    y -= PI;
    return (y == -PI && x > 0) ? PI : y;
}

static void acrobot(void) {
    const curvo_env_ops *e = curvo_env_find("acrobot");
    TU_CHECK(e && e->obs_size == 6 && e->n_actions == 3, "acrobot registered with 6 observations, 3 actions");
    if (!e) return;
    curvo_rng rng;
    curvo_rng_seed(&rng, 5);
    rl_acrobot_state st;
    float obs[6];
    double worst = 0.0;
    for (int t = 0; t < 300; t++) {
        double s[4];
        for (int k = 0; k < 4; k++)
            s[k] = st.s[k] = (curvo_rng_uniform(&rng) - 0.5) * (k < 2 ? 2 * PI : (k == 2 ? 4 : 9));
        st.steps = 0;
        int a = t % 3, term, trunc;
        double r;
        e->step(&st, a, obs, &r, &term, &trunc);
        rk4_ref(s, a - 1.0, 0.2, 1);
        s[0] = wrap_ref(s[0]), s[1] = wrap_ref(s[1]);
        s[2] = fmin(fmax(s[2], -4 * PI), 4 * PI), s[3] = fmin(fmax(s[3], -9 * PI), 9 * PI);
        for (int k = 0; k < 4; k++) worst = fmax(worst, fabs(st.s[k] - s[k]) / fmax(1.0, fabs(s[k])));
        float o[6] = {(float)cos(s[0]), (float)sin(s[0]), (float)cos(s[1]), (float)sin(s[1]), (float)s[2], (float)s[3]};
        double tol[6] = {1e-6, 1e-6, 1e-6, 1e-6, 1e-5, 1e-5};
        for (int k = 0; k < 6; k++) TU_CHECK(fabs(obs[k] - o[k]) <= tol[k], "acrobot observation %d", k);
        int up = -cos(s[0]) - cos(s[1] + s[0]) > 1.0;
        TU_CHECK(term == up && r == (up ? 0.0 : -1.0) && !trunc, "acrobot termination and reward rule");
        TU_CHECK(st.s[0] >= -PI && st.s[0] <= PI && st.s[1] >= -PI && st.s[1] <= PI, "acrobot angles wrapped");
    }
    TU_CHECK(worst < 1e-12, "acrobot step = one RK4 step of 0.2 s of the manipulator equations: rel err %.3g", worst);
    /* wrapping as Gymnasium: pi stays, -pi stays, 7 pi -> pi, -3.5 -> 2 pi - 3.5 */
    TU_CHECK(rl_wrap_angle(PI) == PI && rl_wrap_angle(-PI) == -PI, "wrap keeps +-pi");
    TU_CHECK(fabs(rl_wrap_angle(7 * PI) - PI) < 1e-12 && fabs(rl_wrap_angle(-3.5) - (2 * PI - 3.5)) < 1e-15 &&
                 fabs(rl_wrap_angle(3.5) - (3.5 - 2 * PI)) < 1e-15,
             "wrap into [-pi, pi]");
    /* velocity clipping */
    memcpy(st.s, (double[]){0.0, 0.0, 100.0, -100.0}, sizeof st.s);
    st.steps = 0;
    int term, trunc;
    double r;
    e->step(&st, 1, obs, &r, &term, &trunc);
    TU_CHECK(fabs(st.s[2]) == 4 * PI && fabs(st.s[3]) == 9 * PI, "velocities clipped to 4 pi and 9 pi: %g %g", st.s[2], st.s[3]);
    /* truncation at 500 steps with no torque from rest at the bottom: never up */
    memset(&st, 0, sizeof st);
    int t = 0;
    do {
        e->step(&st, 1, obs, &r, &term, &trunc);
        t++;
    } while (!term && !trunc && t < 1000);
    TU_CHECK(trunc && !term && t == 500 && r == -1.0, "acrobot truncated at step 500 (ended at %d)", t);
    /* resets in [-0.1, 0.1), reproducible episodes from a seed */
    curvo_rng a, b;
    curvo_rng_seed(&a, 8);
    curvo_rng_seed(&b, 8);
    rl_acrobot_state s2;
    float o2[6];
    int same = 1, in_range = 1;
    for (int ep = 0; ep < 20; ep++) {
        e->reset(&st, &a, obs);
        e->reset(&s2, &b, o2);
        for (int k = 0; k < 4; k++) in_range &= st.s[k] >= -0.1 && st.s[k] < 0.1;
        for (int i = 0; i < 100; i++) {
            int act = (int)curvo_rng_below(&a, 3);
            TU_CHECK(act == (int)curvo_rng_below(&b, 3), "same actions");
            int t2, tr2;
            double r2;
            e->step(&st, act, obs, &r, &term, &trunc);
            e->step(&s2, act, o2, &r2, &t2, &tr2);
            same &= !memcmp(obs, o2, sizeof obs) && r == r2 && term == t2;
        }
    }
    TU_CHECK(same && in_range, "acrobot reproducible from a seed, resets in range");
}

/* RK4 over one step of dt against 100 RK4 substeps: local error O(dt^5), so halving dt divides it
 * by about 32; and the error of Gymnasium's dt = 0.2 is small next to the step's motion. */
static void rk4_error(void) {
    curvo_rng rng;
    curvo_rng_seed(&rng, 2);
    double order_min = 1e9, order_max = -1e9, err02 = 0.0;
    for (int trial = 0; trial < 20; trial++) {
        double s0[4];
        for (int k = 0; k < 4; k++) s0[k] = (curvo_rng_uniform(&rng) - 0.5) * (k < 2 ? 2.0 : 2.0);
        double tau = (double)curvo_rng_below(&rng, 3) - 1.0, errs[2];
        double dts[2] = {0.02, 0.01};
        for (int j = 0; j < 2; j++) {
            double a[4], ref[4];
            memcpy(a, s0, sizeof a);
            memcpy(ref, s0, sizeof ref);
            rl_acrobot_rk4(a, tau, dts[j]);
            rk4_ref(ref, tau, dts[j], 100);
            double e2 = 0;
            for (int k = 0; k < 4; k++) e2 = fmax(e2, fabs(a[k] - ref[k]));
            errs[j] = e2;
        }
        double order = log2(errs[0] / errs[1]);
        order_min = fmin(order_min, order), order_max = fmax(order_max, order);
        double a[4], ref[4];
        memcpy(a, s0, sizeof a);
        memcpy(ref, s0, sizeof ref);
        rl_acrobot_rk4(a, tau, 0.2);
        rk4_ref(ref, tau, 0.2, 100);
        for (int k = 0; k < 4; k++) err02 = fmax(err02, fabs(a[k] - ref[k]));
    }
    printf("RK4 local error order %.2f .. %.2f (theory 5); error at dt = 0.2: %.3g\n", order_min, order_max, err02);
    TU_CHECK(order_min > 4.5 && order_max < 5.5, "RK4 local error of order 5: %.2f .. %.2f", order_min, order_max);
    TU_CHECK(err02 < 1e-2, "one RK4 step of 0.2 s within 1e-2 of the fine integration: %.3g", err02);
}

int main(void) {
    cartpole();
    acrobot();
    rk4_error();
    TU_CHECK(curvo_env_find("pong") == NULL && curvo_env_find(NULL) == NULL, "unknown env names give NULL");
    TU_CHECK(curvo_env_at(0) && curvo_env_at(1) && !curvo_env_at(2) && !curvo_env_at(-1), "env listing");
    return tu_finish("test_rl_env");
}
