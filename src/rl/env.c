/* env.c — the registry of built-in environments: one table, looked up by name. */
#include <string.h>

#include "rl/env.h"

static const curvo_env_ops *const envs[] = {&rl_cartpole_ops, &rl_acrobot_ops};

const curvo_env_ops *curvo_env_at(int i) {
    return i >= 0 && i < (int)(sizeof envs / sizeof *envs) ? envs[i] : NULL;
}

const curvo_env_ops *curvo_env_find(const char *name) {
    if (!name) return NULL;
    for (int i = 0; curvo_env_at(i); i++)
        if (!strcmp(envs[i]->name, name)) return envs[i];
    return NULL;
}

int rl_env_ops_valid(const curvo_env_ops *ops) {
    return ops && ops->name && ops->name[0] && ops->obs_size >= 1 && ops->n_actions >= 1 && ops->state_size >= 1 &&
           ops->reset && ops->step;
}
