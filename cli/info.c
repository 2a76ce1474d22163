/* info.c — `curvo info`: a model's layers, output size and parameter count. */
#include <getopt.h>
#include <stdio.h>

#include "cli.h"
#include "curvo.h"

static void info_usage(FILE *to) {
    fprintf(to,
            "usage: curvo info [--model SPEC] [--input C,H,W]\n"
            "\n"
            "Builds a model and prints its layers, output size and number of parameters.\n"
            "  --model SPEC   layers, comma-separated (default: mlp); presets:\n");
    const char *about;
    for (int i = 0; curvo_model_preset_at(i, &about); i++)
        fprintf(to, "                   %s = %s\n", curvo_model_preset_at(i, NULL), about);
    fprintf(to,
            "                 tokens: dense:UNITS conv:OUT:K[:STRIDE[:PAD]] maxpool:K[:STRIDE]\n"
            "                 avgpool:K[:STRIDE] flatten relu tanh sigmoid softplus exp\n"
            "                 layernorm groupnorm:GROUPS gap\n"
            "                 batchnorm (per channel over the batch; evaluation uses running stats)\n"
            "                 res(SPEC): a residual block y = SPEC(x) + shortcut(x), the shortcut\n"
            "                 the identity, or a 1x1 convolution (stride to match) when SPEC changes\n"
            "                 the shape; blocks nest, e.g. conv:16:3:1:1,res(conv:16:3:1:1,relu,\n"
            "                 conv:16:3:1:1),relu,res(conv:32:3:2:1,relu,conv:32:3:1:1),relu\n"
            "  --input C,H,W  input shape (default: 1,28,28, as Fashion-MNIST; CIFAR-10: 3,32,32)\n"
            "  --help         this text\n");
}

int cli_info(int argc, char **argv) {
    static const struct option opts[] = {{"model", required_argument, 0, 'm'},
                                         {"input", required_argument, 0, 'i'},
                                         {"help", no_argument, 0, 'h'},
                                         {0, 0, 0, 0}};
    const char *spec = "mlp";
    int shape[3] = {1, 28, 28};
    int o;
    optind = 1;
    opterr = 0;
    while ((o = getopt_long(argc, argv, ":", opts, NULL)) != -1) {
        switch (o) {
        case 'm': spec = optarg; break;
        case 'i':
            if (!cli_parse_shape(optarg, shape)) return 2;
            break;
        case 'h': info_usage(stdout); return 0;
        default: cli_bad_option("info", argv, o); return 2;
        }
    }
    if (!cli_no_operands("info", argc, argv)) return 2;
    char err[CURVO_ERRMSG_LEN], desc[4096];
    curvo_model *m;
    if (curvo_model_from_spec(spec, shape[0], shape[1], shape[2], &m, err) != CURVO_OK) {
        fprintf(stderr, "curvo: %s\n", err);
        return 2;
    }
    curvo_model_describe(m, desc, sizeof desc);
    printf("model:      %s\ninput:      %d x %d x %d\noutputs:    %zu\nparameters: %zu\n", desc,
           shape[0], shape[1], shape[2], curvo_model_output_size(m), curvo_model_num_params(m));
    curvo_model_free(m);
    return 0;
}
