/* plot_batch_study.c — the "critical batch size" figure of the global-batch study
 * (bench/run_batch_study.sh): median steps to the test-accuracy target (left) and to the
 * training-loss target (right) against the batch size, both axes logarithmic, one line per method,
 * with a dashed line of slope -1 (perfect scaling: twice the batch, half the steps) through the
 * first method's point at its smallest batch. PLplot's pngcairo device, PREFIX.png.
 *
 * Input: curve.dat from bench/batch_study_summary.py, lines "METHOD BATCH STEPS_ACC STEPS_LOSS"
 * ("nan" where most seeds missed the target or the cell was not run; '#' starts a comment). Only
 * the methods named in the list below are drawn (the one-seed sweeps are in summary.md, and so is
 * EGN's true-class variant, which reached neither target anywhere).
 *
 * Usage: plot_batch_study CURVE.dat PREFIX
 */
#include <math.h>
#include <plplot.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MAX_BATCHES 16
static const char *const methods[] = {"sgd", "adam", "sofim", "arturo", "sgn", "egn"};
#define NM ((int)(sizeof methods / sizeof methods[0]))
/* matplotlib's tab10 colours after background, foreground and grid */
static const PLINT palette[][3] = {{255, 255, 255}, {0, 0, 0},    {215, 215, 215}, {31, 119, 180},
                                   {255, 127, 14},  {44, 160, 44}, {214, 39, 40},   {148, 103, 189},
                                   {140, 86, 75},   {227, 119, 194}, {127, 127, 127}};
#define NCOL ((int)(sizeof palette / sizeof palette[0]))
static const char *const markers[] = {"\xe2\x97\x8f", "\xe2\x96\xa0", "\xe2\x96\xb2", "\xe2\x97\x86",
                                      "\xe2\x96\xbc", "\xe2\x97\x8b", "\xe2\x96\xa1"};

typedef struct curve {
    int n;
    double b[MAX_BATCHES], y[2][MAX_BATCHES]; /* y[0]: steps to accuracy, y[1]: steps to loss */
} curve;

static int method_index(const char *name)
{
    for (int i = 0; i < NM; i++)
        if (!strcmp(name, methods[i]))
            return i;
    return -1;
}

static void panel(const curve *c, int which, double x0, double x1, double y0, double y1, const char *title)
{
    double bmin = INFINITY, bmax = -INFINITY, smin = INFINITY, smax = -INFINITY;
    for (int m = 0; m < NM; m++)
        for (int i = 0; i < c[m].n; i++) {
            bmin = fmin(bmin, c[m].b[i]), bmax = fmax(bmax, c[m].b[i]);
            if (isfinite(c[m].y[which][i]) && c[m].y[which][i] > 0)
                smin = fmin(smin, c[m].y[which][i]), smax = fmax(smax, c[m].y[which][i]);
        }
    if (!isfinite(bmin) || !isfinite(smin)) {
        bmin = 128, bmax = 4096, smin = 10, smax = 1000;
    }
    double lx0 = log10(bmin) - 0.08, lx1 = log10(bmax) + 0.08;
    double ly0 = floor(log10(smin) * 4) / 4 - 0.05, ly1 = ceil(log10(smax) * 4) / 4 + 0.05;
    plvpor(x0, x1, y0, y1);
    plwind(lx0, lx1, ly0, ly1);
    plwidth(1);
    plcol0(2);
    plbox("", 0, 0, "", 0, 0);
    plcol0(1);
    plbox("bcstl", 0, 0, "bcstl", 0, 0);
    /* tick labels written out: every batch size on x, 1-2-5 steps on y */
    for (double bb = bmin; bb <= bmax * 1.01; bb *= 2) {
        char t[16];
        snprintf(t, sizeof t, "%.0f", bb);
        plmtex("b", 1.6, (log10(bb) - lx0) / (lx1 - lx0), 0.5, t);
        PLFLT gx[2] = {log10(bb), log10(bb)}, gy[2] = {ly0, ly1};
        plcol0(2);
        plline(2, gx, gy);
        plcol0(1);
    }
    for (double dec = pow(10, floor(ly0)); dec < pow(10, ly1); dec *= 10)
        for (int k = 0; k < 3; k++) {
            double v = dec * (k == 0 ? 1 : k == 1 ? 2 : 5);
            if (log10(v) < ly0 || log10(v) > ly1)
                continue;
            char t[16];
            snprintf(t, sizeof t, "%.0f", v);
            plmtex("lv", 0.6, (log10(v) - ly0) / (ly1 - ly0), 1.0, t);
            PLFLT gx[2] = {lx0, lx1}, gy[2] = {log10(v), log10(v)};
            plcol0(2);
            plline(2, gx, gy);
            plcol0(1);
        }
    plmtex("t", 2.0, 0.5, 0.5, title);
    plmtex("b", 3.4, 0.5, 0.5, "global batch size B");
    plmtex("l", 5.2, 0.5, 0.5, "steps (median over seeds)");
    /* perfect scaling through the first drawn point of the first method that has one */
    for (int m = 0; m < NM; m++) {
        int i = 0;
        while (i < c[m].n && !isfinite(c[m].y[which][i]))
            i++;
        if (i == c[m].n)
            continue;
        PLFLT xs[2] = {lx0, lx1};
        double a = log10(c[m].y[which][i]) + log10(c[m].b[i]);
        PLFLT ys[2] = {a - lx0, a - lx1};
        plcol0(10);
        pllsty(2);
        plwidth(1.5);
        plline(2, xs, ys);
        pllsty(1);
        plcol0(1);
        plschr(0, 0.55);
        char note[96];
        snprintf(note, sizeof note, "dashed: perfect scaling, steps x B constant (through %s at B = %.0f)",
                 methods[m], c[m].b[i]);
        plmtex("t", 0.6, 0.5, 0.5, note);
        plschr(0, 0.7);
        break;
    }
    for (int m = 0; m < NM; m++) {
        PLFLT xs[MAX_BATCHES], ys[MAX_BATCHES];
        int k = 0;
        for (int i = 0; i < c[m].n; i++)
            if (isfinite(c[m].y[which][i]) && c[m].y[which][i] > 0) {
                xs[k] = log10(c[m].b[i]);
                ys[k++] = log10(c[m].y[which][i]);
            }
        if (!k)
            continue;
        plcol0(3 + m);
        plwidth(2.5);
        if (k > 1)
            plline(k, xs, ys);
        plwidth(1);
        plstring(k, xs, ys, markers[m]);
    }
}

int main(int argc, char **argv)
{
    if (argc != 3) {
        fprintf(stderr, "usage: plot_batch_study CURVE.dat PREFIX\n");
        return 2;
    }
    FILE *f = fopen(argv[1], "r");
    if (!f) {
        fprintf(stderr, "plot_batch_study: cannot open %s\n", argv[1]);
        return 1;
    }
    curve c[NM];
    memset(c, 0, sizeof c);
    char line[256], name[64], sa[32], sl[32];
    double b;
    while (fgets(line, sizeof line, f)) {
        if (line[0] == '#' || sscanf(line, "%63s %lf %31s %31s", name, &b, sa, sl) != 4)
            continue;
        int m = method_index(name);
        if (m < 0 || c[m].n == MAX_BATCHES)
            continue;
        c[m].b[c[m].n] = b;
        c[m].y[0][c[m].n] = strtod(sa, NULL); /* "nan" parses to NaN */
        c[m].y[1][c[m].n] = strtod(sl, NULL);
        c[m].n++;
    }
    fclose(f);

    char path[1024];
    snprintf(path, sizeof path, "%s.png", argv[2]);
    plsdev("pngcairo");
    plsfnam(path);
    plspage(0, 0, 1500, 700, 0, 0);
    PLINT r[NCOL], g[NCOL], bl[NCOL];
    for (int i = 0; i < NCOL; i++)
        r[i] = palette[i][0], g[i] = palette[i][1], bl[i] = palette[i][2];
    plscmap0(r, g, bl, NCOL);
    plinit();
    pladv(0);
    plschr(0, 0.7);
    panel(c, 0, 0.08, 0.46, 0.13, 0.76, "steps to 85% test accuracy");
    panel(c, 1, 0.57, 0.95, 0.13, 0.76, "steps to training loss 0.40");
    /* legend across the top */
    PLINT opt[NM], colors[NM], styles[NM], fg[NM], nsym[NM];
    PLFLT widths[NM], scales[NM], w, h;
    const char *text[NM], *syms[NM];
    for (int m = 0; m < NM; m++) {
        opt[m] = PL_LEGEND_LINE | PL_LEGEND_SYMBOL;
        colors[m] = 3 + m, styles[m] = 1, fg[m] = 1, nsym[m] = 1, widths[m] = 2.5, scales[m] = 0.7;
        text[m] = methods[m], syms[m] = markers[m];
    }
    plvpor(0.05, 0.95, 0.86, 0.99);
    plwind(0, 1, 0, 1);
    plschr(0, 0.6);
    pllegend(&w, &h, PL_LEGEND_BACKGROUND | PL_LEGEND_BOUNDING_BOX | PL_LEGEND_ROW_MAJOR,
             PL_POSITION_TOP | PL_POSITION_INSIDE, 0, 0, 0.04, 0, 1, 1, 1, NM, NM, opt, 0.8, 0.6, 2.0, 0, fg, text,
             NULL, NULL, NULL, NULL, colors, styles, widths, colors, scales, nsym, syms);
    plend();
    printf("plot_batch_study: wrote %s\n", path);
    return 0;
}
