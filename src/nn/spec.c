/* spec.c — model spec strings: "conv:16:5,relu,maxpool:2,flatten,dense:10", the presets, and a
 * preset made for a task (its output layer sized to the task's outputs). A token res(SPEC) is a
 * residual block whose body is SPEC (residual.c): commas inside parentheses belong to the body, so
 * tokens are split at the commas outside every parenthesis. */
#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/errmsg.h"
#include "nn/model.h"

#define SPEC_MAX_TOKEN 64
#define SPEC_MAX_FIELDS 5
#define SPEC_MAX_INT 1000000
#define SPEC_MAX_DEPTH 16 /* residual blocks nested deeper than this are refused */

/* The normalization layers: a residual block whose body ends in one gives its projection shortcut
 * the same token (residual.c). Kinds not built in (yet) are simply never matched. */
static const char *const norm_kinds[] = {"layernorm", "groupnorm", "batchnorm"};

/* A basic residual block of C channels whose first convolution has stride S (He et al. 2016): two
 * 3x3 convolutions with batchnorm, relu between them and after the sum; the shortcut is the identity,
 * or a 1x1 convolution with batchnorm where the block changes the shape (residual.c). */
#define BASIC_BLOCK(C, S) "res(conv:" #C ":3:" #S ":1,batchnorm,relu,conv:" #C ":3:1:1,batchnorm),relu"

/* Every preset ends in its output layer, a dense layer (curvo_model_for_task resizes it).
 * resnet20: He et al.'s CIFAR ResNet-20 (3 stages of 3 basic blocks, 16/32/64 channels);
 * resnet18: ResNet-18 for 28x28 and 32x32 inputs (a 3x3 stem without max-pooling, 4 stages of 2
 * basic blocks, 64/128/256/512 channels). Both end in global average pooling. */
static const struct {
    const char *name, *spec, *about; /* about: a summary of a spec too long to print (NULL: print it) */
} presets[] = {
    {"mlp", "flatten,dense:256,relu,dense:10", NULL},
    {"cnn", "conv:16:5,relu,maxpool:2,conv:32:5,relu,maxpool:2,flatten,dense:10", NULL},
    {"resnet20", "conv:16:3:1:1,batchnorm,relu,"
                 BASIC_BLOCK(16, 1) "," BASIC_BLOCK(16, 1) "," BASIC_BLOCK(16, 1) ","
                 BASIC_BLOCK(32, 2) "," BASIC_BLOCK(32, 1) "," BASIC_BLOCK(32, 1) ","
                 BASIC_BLOCK(64, 2) "," BASIC_BLOCK(64, 1) "," BASIC_BLOCK(64, 1) ","
                 "gap,flatten,dense:10",
     "conv:16:3:1:1,batchnorm,relu, 3 stages of 3 basic blocks (16/32/64 channels, stride 2 "
     "entering stages 2-3) res(conv:C:3:S:1,batchnorm,relu,conv:C:3:1:1,batchnorm),relu, "
     "gap,flatten,dense:10 (ResNet-20 for CIFAR)"},
    {"resnet18", "conv:64:3:1:1,batchnorm,relu,"
                 BASIC_BLOCK(64, 1) "," BASIC_BLOCK(64, 1) ","
                 BASIC_BLOCK(128, 2) "," BASIC_BLOCK(128, 1) ","
                 BASIC_BLOCK(256, 2) "," BASIC_BLOCK(256, 1) ","
                 BASIC_BLOCK(512, 2) "," BASIC_BLOCK(512, 1) ","
                 "gap,flatten,dense:10",
     "conv:64:3:1:1,batchnorm,relu, 4 stages of 2 basic blocks (64/128/256/512 channels, stride 2 "
     "entering stages 2-4), gap,flatten,dense:10 (ResNet-18 for 28x28 and 32x32 inputs)"},
};

#define N_PRESETS (int)(sizeof presets / sizeof presets[0])

const char *curvo_model_preset_at(int i, const char **about) {
    if (i < 0 || i >= N_PRESETS) return NULL;
    if (about) *about = presets[i].about ? presets[i].about : presets[i].spec;
    return presets[i].name;
}

/* The presets' names, comma-separated, into buf (len bytes). */
static void preset_names(char *buf, size_t len) {
    size_t used = 0;
    buf[0] = '\0';
    for (int i = 0; i < N_PRESETS && used < len; i++) {
        int w = snprintf(buf + used, len - used, "%s%s", i ? ", " : "", presets[i].name);
        if (w < 0) break;
        used += (size_t)w;
    }
}

const char *curvo_model_preset(const char *name) {
    if (!name) return name;
    for (int i = 0; i < N_PRESETS; i++)
        if (strcmp(name, presets[i].name) == 0) return presets[i].spec;
    return name;
}

/* Parses a whole decimal field in [lo, SPEC_MAX_INT]. */
static int parse_int(const char *s, int lo, int *out) {
    if (!*s || !(isdigit((unsigned char)*s) || *s == '-' || *s == '+')) return 0;
    errno = 0;
    char *end;
    long v = strtol(s, &end, 10);
    if (errno || *end || v < lo || v > SPEC_MAX_INT) return 0;
    *out = (int)v;
    return 1;
}

typedef struct {
    const char *name;
    int min_args, max_args; /* numeric fields after the name */
    int arg_min[4];         /* smallest allowed value of each field */
} layer_syntax;

static const layer_syntax syntaxes[] = {
    {"dense", 1, 1, {1}},        {"conv", 2, 4, {1, 1, 1, 0}}, {"maxpool", 1, 2, {1, 1}},
    {"avgpool", 1, 2, {1, 1}},   {"flatten", 0, 0, {0}},       {"relu", 0, 0, {0}},
    {"tanh", 0, 0, {0}},         {"sigmoid", 0, 0, {0}},       {"softplus", 0, 0, {0}},
    {"exp", 0, 0, {0}},
    {"layernorm", 0, 0, {0}},    {"groupnorm", 1, 1, {1}},     {"gap", 0, 0, {0}}, {"batchnorm", 0, 0, {0}},
};

static int add_layer(curvo_model *m, const char *name, const int *a, int na) {
    if (!strcmp(name, "dense")) return curvo_model_add_dense(m, a[0]);
    if (!strcmp(name, "conv"))
        return curvo_model_add_conv2d(m, a[0], a[1], na > 2 ? a[2] : 1, na > 3 ? a[3] : 0);
    if (!strcmp(name, "maxpool")) return curvo_model_add_maxpool(m, a[0], na > 1 ? a[1] : a[0]);
    if (!strcmp(name, "avgpool")) return curvo_model_add_avgpool(m, a[0], na > 1 ? a[1] : a[0]);
    if (!strcmp(name, "flatten")) return curvo_model_add_flatten(m);
    if (!strcmp(name, "relu")) return curvo_model_add_activation(m, CURVO_ACT_RELU);
    if (!strcmp(name, "tanh")) return curvo_model_add_activation(m, CURVO_ACT_TANH);
    if (!strcmp(name, "sigmoid")) return curvo_model_add_activation(m, CURVO_ACT_SIGMOID);
    if (!strcmp(name, "exp")) return curvo_model_add_activation(m, CURVO_ACT_EXP);
    if (!strcmp(name, "layernorm")) return curvo_model_add_layernorm(m);
    if (!strcmp(name, "groupnorm")) return curvo_model_add_groupnorm(m, a[0]);
    if (!strcmp(name, "gap")) return curvo_model_add_gap(m);
    if (!strcmp(name, "batchnorm")) return curvo_model_add_batchnorm(m);
    return curvo_model_add_activation(m, CURVO_ACT_SOFTPLUS);
}

/* Parses one token (already trimmed) and appends its module. */
static int parse_token(curvo_model *m, const char *tok, char *errmsg) {
    char buf[SPEC_MAX_TOKEN];
    if (strlen(tok) >= sizeof buf) {
        curvo_errf(errmsg, "model spec: token '%.40s...' is too long", tok);
        return CURVO_E_SPEC;
    }
    strcpy(buf, tok);
    char *fields[SPEC_MAX_FIELDS + 1];
    int nf = 0;
    for (char *p = buf;; p++) {
        if (nf <= SPEC_MAX_FIELDS) fields[nf] = p;
        nf++;
        p = strchr(p, ':');
        if (!p) break;
        *p = '\0';
    }
    const layer_syntax *syn = NULL;
    for (size_t i = 0; i < sizeof syntaxes / sizeof syntaxes[0]; i++)
        if (!strcmp(fields[0], syntaxes[i].name)) syn = &syntaxes[i];
    if (!syn) {
        char names[128];
        preset_names(names, sizeof names);
        curvo_errf(errmsg,
                   "model spec: unknown layer '%s' (known: dense, conv, maxpool, avgpool, flatten, "
                   "relu, tanh, sigmoid, softplus, exp, layernorm, groupnorm, gap, batchnorm, res(SPEC), or the presets "
                   "%s)",
                   tok, names);
        return CURVO_E_SPEC;
    }
    int na = nf - 1;
    if (na < syn->min_args || na > syn->max_args) {
        static const char *usage[] = {"dense:UNITS", "conv:OUT:K[:STRIDE[:PAD]]", "maxpool:K[:STRIDE]",
                                      "avgpool:K[:STRIDE]", "flatten", "relu", "tanh", "sigmoid",
                                      "softplus", "exp", "layernorm", "groupnorm:GROUPS", "gap",
                                      "batchnorm"};
        curvo_errf(errmsg, "model spec: '%s' has the wrong number of fields (expected %s)", tok,
                   usage[syn - syntaxes]);
        return CURVO_E_SPEC;
    }
    int a[4] = {0, 0, 0, 0};
    for (int i = 0; i < na; i++)
        if (!parse_int(fields[i + 1], syn->arg_min[i], &a[i])) {
            curvo_errf(errmsg, "model spec: '%s': field '%s' is not a whole number in [%d, %d]", tok,
                       fields[i + 1], syn->arg_min[i], SPEC_MAX_INT);
            return CURVO_E_SPEC;
        }
    int rc = add_layer(m, fields[0], a, na);
    if (rc == CURVO_E_SHAPE) {
        curvo_errf(errmsg, "model spec: '%s': %s", tok, curvo_model_errmsg(m));
        return CURVO_E_SPEC;
    }
    return rc;
}

/* The end of the token that starts at p: the first comma outside parentheses, or the end. */
static const char *token_end(const char *p) {
    int depth = 0;
    for (; *p; p++) {
        if (*p == '(') depth++;
        else if (*p == ')') depth--;
        else if (*p == ',' && depth == 0) break;
    }
    return p;
}

/* Checks that spec's parentheses pair up and nest at most SPEC_MAX_DEPTH deep. */
static int check_parentheses(const char *spec, char *errmsg) {
    int depth = 0, max = 0;
    for (const char *p = spec; *p; p++) {
        if (*p == '(' && ++depth > max) max = depth;
        if (*p == ')' && --depth < 0) {
            curvo_errf(errmsg, "model spec: unbalanced parentheses: ')' without '(' at '%.40s' in '%.120s'", p, spec);
            return CURVO_E_SPEC;
        }
    }
    if (depth > 0) {
        curvo_errf(errmsg, "model spec: unbalanced parentheses: %d '(' not closed in '%.160s'", depth, spec);
        return CURVO_E_SPEC;
    }
    if (max > SPEC_MAX_DEPTH) {
        curvo_errf(errmsg, "model spec: residual blocks nested %d deep (at most %d)", max, SPEC_MAX_DEPTH);
        return CURVO_E_SPEC;
    }
    return CURVO_OK;
}

/* A token res(BODY) (tok, len; parentheses balanced): its residual block appended to m. */
static int parse_block(curvo_model *m, const char *tok, size_t len, char *errmsg) {
    if (len < 5 || tok[len - 1] != ')') {
        curvo_errf(errmsg, "model spec: '%.*s': a block is res(SPEC), nothing after its ')'", (int)(len > 80 ? 80 : len), tok);
        return CURVO_E_SPEC;
    }
    int depth = 0;
    for (size_t q = 3; q < len; q++) { /* the opening parenthesis closes at tok[len - 1] only */
        depth += tok[q] == '(' ? 1 : tok[q] == ')' ? -1 : 0;
        if (depth == 0 && q + 1 < len) {
            curvo_errf(errmsg, "model spec: '%.*s': a block is res(SPEC), nothing after its ')'", (int)(len > 80 ? 80 : len), tok);
            return CURVO_E_SPEC;
        }
    }
    char *body = malloc(len - 3);
    if (!body) return CURVO_E_NOMEM;
    memcpy(body, tok + 4, len - 5);
    body[len - 5] = '\0';
    int rc = curvo_model_add_residual(m, body);
    free(body);
    if (rc == CURVO_E_SPEC || rc == CURVO_E_SHAPE) {
        curvo_errf(errmsg, "model spec: %s", curvo_model_errmsg(m));
        return CURVO_E_SPEC;
    }
    return rc;
}

int nn_spec_append(curvo_model *m, const char *spec, char *errmsg) {
    int rc = check_parentheses(spec, errmsg);
    const char *p = spec;
    int ntok = 0;
    while (rc == CURVO_OK) {
        const char *end = token_end(p);
        size_t len = (size_t)(end - p);
        while (len && isspace((unsigned char)*p)) p++, len--;
        while (len && isspace((unsigned char)p[len - 1])) len--;
        if (len == 0) {
            curvo_errf(errmsg, "model spec: empty layer token in '%.200s'", spec);
            rc = CURVO_E_SPEC;
            break;
        }
        if (len >= 4 && !strncmp(p, "res(", 4)) {
            rc = parse_block(m, p, len, errmsg);
        } else {
            char tok[SPEC_MAX_TOKEN + 8];
            if (len >= sizeof tok) len = sizeof tok - 1;
            memcpy(tok, p, len);
            tok[len] = '\0';
            rc = parse_token(m, tok, errmsg);
        }
        ntok++;
        if (!*end) break;
        p = end + 1;
    }
    if (rc == CURVO_OK && ntok == 0) rc = CURVO_E_SPEC;
    return rc;
}

int nn_spec_last_norm(const char *spec, char *tok, size_t len) {
    const char *p = spec, *end;
    while (*(end = token_end(p))) p = end + 1;
    const char *last = p;
    while (isspace((unsigned char)*last)) last++;
    size_t n = strlen(last);
    while (n && isspace((unsigned char)last[n - 1])) n--;
    for (size_t i = 0; i < sizeof norm_kinds / sizeof norm_kinds[0]; i++) {
        size_t k = strlen(norm_kinds[i]);
        if (n >= k && !strncmp(last, norm_kinds[i], k) && (n == k || last[k] == ':') && n < len) {
            memcpy(tok, last, n);
            tok[n] = '\0';
            return 1;
        }
    }
    return 0;
}

int curvo_model_from_spec(const char *spec, int channels, int height, int width, curvo_model **out,
                          char *errmsg) {
    if (errmsg) errmsg[0] = '\0';
    if (!out) return CURVO_E_INVALID;
    *out = NULL;
    if (!spec) {
        curvo_errf(errmsg, "model spec: missing");
        return CURVO_E_INVALID;
    }
    spec = curvo_model_preset(spec);
    curvo_model *m;
    int rc = curvo_model_create(channels, height, width, &m);
    if (rc) {
        curvo_errf(errmsg, "model spec: invalid input shape");
        return rc;
    }
    if ((rc = nn_spec_append(m, spec, errmsg))) {
        curvo_model_free(m);
        return rc;
    }
    *out = m;
    return CURVO_OK;
}

int curvo_model_for_task(const char *model, int channels, int height, int width, int outputs,
                         curvo_model **out, char *errmsg) {
    const char *spec = curvo_model_preset(model);
    if (!model || spec == model) return curvo_model_from_spec(model, channels, height, width, out, errmsg);
    if (out) *out = NULL;
    if (outputs < 1 || outputs > SPEC_MAX_INT) {
        curvo_errf(errmsg, "model spec: %d outputs for preset '%s' (must be in [1, %d])", outputs, model,
                   SPEC_MAX_INT);
        return CURVO_E_INVALID;
    }
    const char *last = strrchr(spec, ','); /* the preset's output layer, "dense:10" */
    size_t len = (size_t)(last - spec) + 32;
    char *sized = malloc(len);
    if (!sized) return CURVO_E_NOMEM;
    snprintf(sized, len, "%.*s,dense:%d", (int)(last - spec), spec, outputs);
    int rc = curvo_model_from_spec(sized, channels, height, width, out, errmsg);
    free(sized);
    return rc;
}
