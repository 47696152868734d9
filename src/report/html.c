/* report.html: one self-contained page per run (report.h).  The verdict on
 * top, then per stage its findings and plots, drawn as inline SVG
 * (src/report/svg.c) and example images as data: PNGs (src/report/png.c).
 * No script, font or stylesheet from anywhere else: the page opens offline.
 * Every plot is a <figure class="plot" id="plot-STAGE-WHAT">. */
#include <dirent.h>
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "svg.h"

const char dt_html_css[] =
    "body{font:14px/1.45 system-ui,-apple-system,'Segoe UI',Roboto,Helvetica,Arial,sans-serif;margin:0;"
    "background:#f6f7f9;color:#1d2330}"
    "main{max-width:1180px;margin:0 auto;padding:16px 24px 48px}"
    "h1{font-size:22px;margin:8px 0 2px}h2{font-size:18px;margin:0 0 8px}h3{font-size:15px;margin:14px 0 6px}"
    ".meta{color:#5a6475;margin:0 0 14px}"
    "section{background:#fff;border:1px solid #dde1e7;border-radius:8px;padding:14px 18px;margin:14px 0}"
    ".verdict{border-left:6px solid #2ca02c}.verdict.st-warn{border-left-color:#e6a700}"
    ".verdict.st-fail{border-left-color:#d62728}"
    ".diag{font-size:16px;font-weight:600;margin:4px 0 8px}"
    ".verdict ol{margin:4px 0 8px 0;padding-left:22px}.verdict dl{margin:6px 0 0;display:grid;"
    "grid-template-columns:max-content 1fr;gap:3px 12px}.verdict dt{font-weight:600;color:#3b4455}"
    ".verdict dd{margin:0}"
    ".badge{display:inline-block;padding:1px 8px;border-radius:10px;font-size:12px;font-weight:600;"
    "vertical-align:2px;margin-left:6px;color:#fff;background:#2ca02c}"
    ".badge.warn{background:#e6a700}.badge.fail{background:#d62728}.badge.skipped{background:#8a93a3}"
    "nav{margin:6px 0}nav a{margin-right:12px;color:#1f5fa8;text-decoration:none}"
    ".finding{border-left:4px solid #8a93a3;padding:4px 10px;margin:6px 0;background:#fafbfc}"
    ".finding.warning{border-left-color:#e6a700}.finding.error{border-left-color:#d62728}"
    ".finding .id{font-family:ui-monospace,Menlo,Consolas,monospace;font-size:12px;color:#5a6475}"
    ".finding ol{margin:2px 0 2px;padding-left:22px;color:#2d3545}"
    ".ev{font-size:12px;color:#5a6475}"
    ".plots{display:flex;flex-wrap:wrap;gap:10px 18px}"
    "figure.plot{margin:6px 0;background:#fff}figcaption{font-weight:600;font-size:13px;margin:0 0 2px}"
    "svg{display:block;max-width:100%;height:auto}"
    "svg text{font:11px system-ui,-apple-system,'Segoe UI',Roboto,Helvetica,Arial,sans-serif;fill:#333}"
    "svg .axis{font-size:12px;fill:#444}svg .legend{font-size:11.5px}svg .val{font-size:10.5px;fill:#444}"
    "svg .cell{font-size:10.5px;fill:#222}svg .cell.dark{fill:#fff}"
    "svg .grid{stroke:#e6e8ec;stroke-width:1}svg .frame{fill:none;stroke:#b8bec9}"
    "svg .vline{stroke:#888;stroke-dasharray:3 3}"
    ".note{font-size:12px;color:#5a6475;margin:2px 0 0;max-width:560px}"
    "table{border-collapse:collapse;font-size:13px;margin:4px 0}td,th{border-bottom:1px solid #e6e8ec;"
    "padding:3px 10px 3px 0;text-align:left;vertical-align:top}th{color:#3b4455}"
    "td.num{font-variant-numeric:tabular-nums;text-align:right}"
    ".examples{display:flex;flex-wrap:wrap;gap:10px}.ex{border:1px solid #dde1e7;border-radius:6px;"
    "padding:6px;width:150px;font-size:12px;background:#fafbfc}"
    ".ex img{width:112px;height:112px;image-rendering:pixelated;display:block;margin:0 auto 4px;"
    "background:#000}"
    ".ex code{display:block;white-space:pre-wrap;word-break:break-all;background:#eef0f3;padding:3px;"
    "font-size:12px;margin-bottom:4px}"
    ".wrong{color:#b11d1d;font-weight:600}"
    "footer{color:#8a93a3;font-size:12px;margin-top:24px}";

/* ------------------------------------------------------------ helpers */

typedef struct page {
    dt_sbuf b;
    const char *out_dir;
    int regression;
    const cJSON *const *reports;
    int n;
    char **class_names;     /* dense class index -> name */
    int n_classes;
} page;

static void esc(page *p, const char *s) { dt_sb_escape(&p->b, s); }

/* A JSON array of numbers (null: NaN) as a malloc'd array; returns n. */
static int doubles(const cJSON *a, double **out)
{
    int n = cJSON_GetArraySize(a);
    *out = NULL;
    if (n <= 0 || !cJSON_IsArray(a)) return 0;
    double *v = malloc((size_t)n * sizeof *v);
    if (!v) return 0;
    int i = 0;
    const cJSON *e;
    cJSON_ArrayForEach(e, a) v[i++] = cJSON_IsNumber(e) ? e->valuedouble : NAN;
    *out = v;
    return n;
}

static void fmt_err(const page *p, double v, char *buf, size_t size) { dt_fmt_error(v, p->regression, buf, size); }

static const char *class_name(const page *p, int c, char *buf, size_t size)
{
    if (c >= 0 && c < p->n_classes && p->class_names[c]) return p->class_names[c];
    snprintf(buf, size, "%d", c);
    return buf;
}

/* Names of the classes: decompose's class_names, else the per-class
 * entries' names, else the class numbers. */
static void load_class_names(page *p)
{
    const cJSON *dec = dt_rj_stage(p->reports, p->n, "decompose");
    const cJSON *names = dt_rj_get(dec, "metrics.class_names");
    const cJSON *pc = dt_rj_get(dec, "metrics.per_class.train_val");
    int n = cJSON_IsArray(names) ? cJSON_GetArraySize(names) : cJSON_GetArraySize(pc);
    if (n <= 0) return;
    p->class_names = calloc((size_t)n, sizeof *p->class_names);
    if (!p->class_names) return;
    p->n_classes = n;
    for (int i = 0; i < n; i++) {
        const cJSON *nm = cJSON_IsArray(names) ? cJSON_GetArrayItem(names, i) : NULL;
        const cJSON *e = cJSON_GetArrayItem(pc, i);
        char buf[32];
        const char *s = cJSON_IsString(nm) ? nm->valuestring : dt_rj_str(e, "name", NULL);
        if (!s) {
            snprintf(buf, sizeof buf, "%.0f", dt_rj_num(e, "class", i));
            s = buf;
        }
        p->class_names[i] = strdup(s);
    }
}

static void badge(page *p, const char *status)
{
    dt_sb_printf(&p->b, "<span class=\"badge %s\">", status);
    esc(p, status);
    dt_sb_puts(&p->b, "</span>");
}

/* ------------------------------------------------------------ verdict */

static void verdict_section(page *p, const cJSON *summary)
{
    dt_run_verdict *v = malloc(sizeof *v);
    if (!v) return;
    dt_verdict_build(p->reports, p->n, summary, p->out_dir, v);
    const char *st = dt_verdict_name(v->status);
    dt_sb_printf(&p->b, "<section id=\"verdict\" class=\"verdict st-%s\"><h2>Verdict", st);
    badge(p, st);
    dt_sb_puts(&p->b, "</h2><p class=\"diag\">");
    esc(p, v->diagnosis);
    if (v->diagnosis_id[0]) {
        dt_sb_puts(&p->b, " <span class=\"id\">[");
        esc(p, v->diagnosis_stage);
        dt_sb_puts(&p->b, ": ");
        esc(p, v->diagnosis_id);
        dt_sb_puts(&p->b, "]</span>");
    }
    dt_sb_puts(&p->b, "</p>");
    if (v->n_steps) {
        dt_sb_puts(&p->b, "<h3>Next steps</h3><ol>");
        for (int i = 0; i < v->n_steps; i++) {
            dt_sb_puts(&p->b, "<li>");
            esc(p, v->steps[i]);
            dt_sb_puts(&p->b, "</li>");
        }
        dt_sb_puts(&p->b, "</ol>");
    }
    if (v->n_notes) {
        dt_sb_puts(&p->b, "<dl>");
        for (int i = 0; i < v->n_notes; i++) {
            if (!strcmp(v->notes[i].label, "Report")) continue;   /* this page */
            dt_sb_puts(&p->b, "<dt>");
            esc(p, v->notes[i].label);
            dt_sb_puts(&p->b, "</dt><dd>");
            esc(p, v->notes[i].text);
            dt_sb_puts(&p->b, "</dd>");
        }
        dt_sb_puts(&p->b, "</dl>");
    }
    dt_sb_puts(&p->b, "</section>\n");
    free(v);
}

static void gates_section(page *p, const cJSON *summary)
{
    const cJSON *gates = cJSON_GetObjectItemCaseSensitive(summary, "gates"), *g;
    if (cJSON_GetArraySize(gates) <= 0) return;
    dt_sb_puts(&p->b, "<section id=\"gates\"><h2>Gates</h2><table><tr><th>gate</th><th>rule</th><th>actual</th>"
                      "<th>result</th></tr>");
    cJSON_ArrayForEach(g, gates)
    {
        const cJSON *act = cJSON_GetObjectItemCaseSensitive(g, "actual");
        char rule[96], actual[64];
        if (!strcmp(dt_rj_str(g, "kind", ""), "stage")) snprintf(rule, sizeof rule, "at worst %s", dt_rj_str(g, "allowed", "?"));
        else snprintf(rule, sizeof rule, "%s %.4g", dt_rj_str(g, "kind", "?"), dt_rj_num(g, "limit", NAN));
        if (cJSON_IsNumber(act)) snprintf(actual, sizeof actual, "%.4g", act->valuedouble);
        else snprintf(actual, sizeof actual, "%s", cJSON_IsString(act) ? act->valuestring : "missing");
        int ok = cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(g, "passed"));
        dt_sb_puts(&p->b, "<tr><td>");
        esc(p, dt_rj_str(g, "name", "?"));
        dt_sb_puts(&p->b, "</td><td>");
        esc(p, rule);
        dt_sb_puts(&p->b, "</td><td>");
        esc(p, actual);
        dt_sb_puts(&p->b, "</td><td>");
        badge(p, ok ? "pass" : "fail");
        dt_sb_puts(&p->b, "</td></tr>");
    }
    dt_sb_puts(&p->b, "</table></section>\n");
}

/* ------------------------------------------------------------ findings */

static void evidence_text(page *p, const cJSON *ev)
{
    const cJSON *e;
    int first = 1;
    cJSON_ArrayForEach(e, ev)
    {
        char val[96];
        if (cJSON_IsNumber(e)) snprintf(val, sizeof val, "%.4g", e->valuedouble);
        else if (cJSON_IsString(e)) snprintf(val, sizeof val, "%.90s", e->valuestring);
        else continue;
        dt_sb_puts(&p->b, first ? "" : ", ");
        esc(p, e->string);
        dt_sb_puts(&p->b, " ");
        esc(p, val);
        first = 0;
    }
}

static void findings(page *p, const cJSON *rep)
{
    const cJSON *fs = cJSON_GetObjectItemCaseSensitive(rep, "findings"), *f, *s;
    if (cJSON_GetArraySize(fs) <= 0) {
        dt_sb_puts(&p->b, "<p class=\"note\">No findings.</p>");
        return;
    }
    cJSON_ArrayForEach(f, fs)
    {
        dt_sb_printf(&p->b, "<div class=\"finding %s\"><span class=\"id\">", dt_rj_str(f, "severity", "info"));
        esc(p, dt_rj_str(f, "severity", "?"));
        dt_sb_puts(&p->b, " · ");
        esc(p, dt_rj_str(f, "id", "?"));
        dt_sb_puts(&p->b, "</span><br>");
        esc(p, dt_rj_str(f, "message", ""));
        const cJSON *ev = cJSON_GetObjectItemCaseSensitive(f, "evidence");
        if (cJSON_GetArraySize(ev) > 0) {
            dt_sb_puts(&p->b, "<div class=\"ev\">evidence: ");
            evidence_text(p, ev);
            dt_sb_puts(&p->b, "</div>");
        }
        const cJSON *sug = cJSON_GetObjectItemCaseSensitive(f, "suggestions");
        if (cJSON_GetArraySize(sug) > 0) {
            dt_sb_puts(&p->b, "<ol>");
            cJSON_ArrayForEach(s, sug)
            {
                dt_sb_puts(&p->b, "<li>");
                esc(p, cJSON_GetStringValue(s));
                dt_sb_puts(&p->b, "</li>");
            }
            dt_sb_puts(&p->b, "</ol>");
        }
        dt_sb_puts(&p->b, "</div>");
    }
}

/* The stage's headline metrics (plain numbers and strings). */
static void headline_table(page *p, const cJSON *rep)
{
    const cJSON *m = cJSON_GetObjectItemCaseSensitive(rep, "metrics"), *e;
    int any = 0;
    cJSON_ArrayForEach(e, m)
    {
        if (!cJSON_IsNumber(e) && !cJSON_IsString(e)) continue;
        if (!any) dt_sb_puts(&p->b, "<details><summary>metrics</summary><table>");
        any = 1;
        dt_sb_puts(&p->b, "<tr><td>");
        esc(p, e->string);
        dt_sb_puts(&p->b, "</td><td class=\"num\">");
        if (cJSON_IsNumber(e)) dt_sb_printf(&p->b, "%.6g", e->valuedouble);
        else esc(p, e->valuestring);
        dt_sb_puts(&p->b, "</td></tr>");
    }
    if (any) dt_sb_puts(&p->b, "</table></details>");
}

/* ------------------------------------------------------------ plots */

/* Per-epoch curves of one fit's history: loss (train, val) or error. */
static void history_plot(page *p, const char *id, const char *title, const cJSON *h, int error, int mark_best)
{
    double *ep = NULL, *tr = NULL, *va = NULL;
    int n = doubles(cJSON_GetObjectItemCaseSensitive(h, "epoch"), &ep);
    doubles(cJSON_GetObjectItemCaseSensitive(h, error ? "train_error" : "train_loss"), &tr);
    int nv = doubles(cJSON_GetObjectItemCaseSensitive(h, error ? "val_error" : "val_loss"), &va);
    if (n > 0 && tr) {
        char vlab[64];
        snprintf(vlab, sizeof vlab, "%s", dt_rj_str(h, "val_split", "validation"));
        dt_svg_series s[2] = {{ep, tr, n, error ? "train (running, on the training batches)" : "train (running)",
                               dt_svg_palette[0], 0, 0, -1},
                              {ep, va, nv == n ? n : 0, vlab, dt_svg_palette[1], 0, 0, -1}};
        char note[160] = "";
        double best = dt_rj_num(h, "best_epoch", 0);
        dt_svg_chart c = {.id = id, .title = title, .xlabel = "epoch", .int_x = 1,
                          .ylabel = error ? (p->regression ? "error (MSE)" : "error") : "loss",
                          .pct_y = error && !p->regression, .y_from_zero = 1};
        if (mark_best && best > 0 && nv == n) {
            c.n_vlines = 1;
            c.vline[0] = best;
            c.vline_label[0] = "best epoch";
        }
        if (dt_rj_num(h, "stride", 1) > 1)
            snprintf(note, sizeof note, "1 in %.0f of the %.0f epochs shown, and the last", dt_rj_num(h, "stride", 1),
                     dt_rj_num(h, "epochs_run", 0));
        c.note = note;
        dt_svg_lines(&p->b, &c, s, nv == n ? 2 : 1);
    }
    free(ep);
    free(tr);
    free(va);
}

static void debug_plots(page *p, const cJSON *rep)
{
    const cJSON *params = dt_rj_get(rep, "metrics.params"), *layers = dt_rj_get(rep, "metrics.layers"), *e;
    int np = cJSON_GetArraySize(params), nl = cJSON_GetArraySize(layers);
    if (np > 0) {
        dt_svg_bar *bars = calloc((size_t)np, sizeof *bars);
        int k = 0;
        cJSON_ArrayForEach(e, params)
        {
            if (!bars) break;
            snprintf(bars[k].label, sizeof bars[k].label, "%s", dt_rj_str(e, "name", "?"));
            bars[k].v[0] = dt_rj_num(e, "init_grad_norm", NAN);
            bars[k].v[1] = dt_rj_num(e, "trained_grad_norm", NAN);
            k++;
        }
        static const char *const groups[] = {"at initialization", "after the debug steps"};
        dt_svg_chart c = {.id = "plot-debug-grad-norms", .title = "Gradient L2 norm per parameter tensor",
                          .xlabel = "gradient norm (log scale)", .logx = 1,
                          .note = "vanishing: the first layers' norms far below the last's; exploding: far above"};
        if (bars) dt_svg_bars(&p->b, &c, bars, k, 2, groups, NULL);
        free(bars);
    }
    if (nl > 0) {
        dt_svg_bar *bars = calloc((size_t)nl, sizeof *bars);
        int k = 0;
        cJSON_ArrayForEach(e, layers)
        {
            if (!bars) break;
            snprintf(bars[k].label, sizeof bars[k].label, "%s (%s)", dt_rj_str(e, "layer", "?"), dt_rj_str(e, "op", "?"));
            bars[k].v[0] = dt_rj_num(e, "mean", NAN);
            bars[k].v[1] = dt_rj_num(e, "std", NAN);
            bars[k].v[2] = dt_rj_num(e, "dead_fraction", NAN);
            k++;
        }
        static const char *const groups[] = {"mean", "std", "dead fraction (ReLU)"};
        dt_svg_chart c = {.id = "plot-debug-activations", .title = "Activation statistics per layer (debug batch)",
                          .xlabel = "value", .note = "after the debug training steps, evaluation mode"};
        if (bars) dt_svg_bars(&p->b, &c, bars, k, 3, groups, NULL);
        free(bars);
    }
}

static void overfit_plots(page *p, const cJSON *rep)
{
    double *y = NULL;
    int n = doubles(dt_rj_get(rep, "metrics.loss_curve"), &y);
    if (n <= 0) return;
    double *x = malloc((size_t)n * sizeof *x);
    if (x) {
        for (int i = 0; i < n; i++) x[i] = i + 1;
        dt_svg_series s = {x, y, n, "loss on the fixed batch", dt_svg_palette[0], 0, 0, -1};
        char note[160];
        snprintf(note, sizeof note, "verdict: %s; target loss %.3g", dt_rj_str(rep, "metrics.verdict", "?"),
                 dt_rj_num(rep, "metrics.target_loss", NAN));
        dt_svg_chart c = {.id = "plot-overfit-curve", .title = "Overfit one batch: training loss per step",
                          .xlabel = "step", .int_x = 1, .ylabel = "loss (log scale)", .logy = 1, .note = note};
        dt_svg_lines(&p->b, &c, &s, 1);
    }
    free(x);
    free(y);
}

/* The lr-find curve: raw and smoothed loss against lr, the suggestion marked. */
static void lr_find_plots(page *p, const cJSON *rep)
{
    double *x = NULL, *raw = NULL, *sm = NULL;
    int n = doubles(dt_rj_get(rep, "metrics.curve.lr"), &x);
    int nr = doubles(dt_rj_get(rep, "metrics.curve.loss"), &raw), ns = doubles(dt_rj_get(rep, "metrics.curve.smoothed"), &sm);
    if (n > 0 && nr == n && ns == n) {
        dt_svg_series s[2] = {{x, raw, n, "loss per step", dt_svg_palette[7], 0, 0, -1},
                              {x, sm, n, "smoothed (bias-corrected exponential average)", dt_svg_palette[0], 0, 0, -1}};
        double lr = dt_rj_num(rep, "metrics.suggested_lr", NAN);
        char label[64], note[200];
        snprintf(label, sizeof label, "suggested %.3g", lr);
        snprintf(note, sizeof note, "one train batch per lr; rule: %s; train.lr %.3g%s", dt_rj_str(rep, "metrics.rule", "?"),
                 dt_rj_num(rep, "metrics.sweep.train_lr", NAN), isfinite(lr) ? "" : "; no suggestion");
        dt_svg_chart c = {.id = "plot-lr-find-curve", .title = "lr-find: training loss against the learning rate",
                          .xlabel = "learning rate (log scale)", .logx = 1, .ylabel = "loss (log scale)", .logy = 1,
                          .note = note, .n_vlines = isfinite(lr), .vline = {lr}, .vline_label = {label}};
        dt_svg_lines(&p->b, &c, s, 2);
    }
    free(x);
    free(raw);
    free(sm);
}

static void compare_plots(page *p, const cJSON *rep)
{
    const cJSON *m = cJSON_GetObjectItemCaseSensitive(rep, "metrics");
    static const char *const keys[][2] = {{"baseline_majority_error", "majority class"},
                                          {"baseline_mean_error", "mean target"},
                                          {"baseline_linear_error", "linear model"},
                                          {"baseline_zero_input_error", "zeroed inputs"},
                                          {"model_error", "the model"},
                                          {"target_error", "known result (target)"},
                                          {"human_level_error", "human level"}};
    dt_svg_bar bars[8];
    memset(bars, 0, sizeof bars);
    int k = 0;
    for (size_t i = 0; i < sizeof keys / sizeof *keys; i++) {
        const cJSON *v = cJSON_GetObjectItemCaseSensitive(m, keys[i][0]);
        if (!cJSON_IsNumber(v)) continue;
        snprintf(bars[k].label, sizeof bars[k].label, "%s", keys[i][1]);
        bars[k].v[0] = v->valuedouble;
        fmt_err(p, v->valuedouble, bars[k].text[0], sizeof bars[k].text[0]);
        bars[k].color = !strcmp(keys[i][0], "model_error") ? dt_svg_palette[1] : dt_svg_palette[7];
        k++;
    }
    dt_svg_chart c = {.id = "plot-compare-baselines", .title = "Error on train_val: the model against baselines",
                      .xlabel = p->regression ? "mean squared error" : "error", .pct_y = !p->regression};
    if (k) dt_svg_bars(&p->b, &c, bars, k, 1, NULL, NULL);
    /* Validation curves of every model compare trained. */
    const cJSON *hist = cJSON_GetObjectItemCaseSensitive(m, "history"), *h;
    dt_svg_series s[4];
    double *xs[4] = {0}, *ys[4] = {0};
    int ns = 0;
    static const char *const names[][2] = {{"model", "the model"}, {"linear", "linear model"}, {"zero_input", "zeroed inputs"}};
    for (size_t i = 0; i < 3; i++) {
        h = cJSON_GetObjectItemCaseSensitive(hist, names[i][0]);
        if (!h) continue;
        int n = doubles(cJSON_GetObjectItemCaseSensitive(h, "epoch"), &xs[ns]);
        int nv = doubles(cJSON_GetObjectItemCaseSensitive(h, "val_error"), &ys[ns]);
        s[ns] = (dt_svg_series){xs[ns], ys[ns], n == nv ? n : 0, names[i][1], dt_svg_palette[i == 0 ? 1 : i == 1 ? 0 : 7],
                                i == 2, 0, -1};
        ns++;
    }
    if (ns) {
        dt_svg_chart hc = {.id = "plot-compare-history", .title = "train_val error per epoch of each model compare trained",
                           .xlabel = "epoch", .int_x = 1, .ylabel = "error", .pct_y = !p->regression, .y_from_zero = 1, .logx = 0};
        dt_svg_lines(&p->b, &hc, s, ns);
    }
    for (int i = 0; i < ns; i++) {
        free(xs[i]);
        free(ys[i]);
    }
}

/* Example pictures for the top-loss rows: one <img> per image input (PNG),
 * text as text, token ids and features as numbers. */
static void example_inputs(page *p, const cJSON *inputs)
{
    const cJSON *in;
    cJSON_ArrayForEach(in, inputs)
    {
        const char *kind = dt_rj_str(in, "kind", "");
        if (!strcmp(kind, "image")) {
            const cJSON *shape = cJSON_GetObjectItemCaseSensitive(in, "shape");
            int nd = cJSON_GetArraySize(shape);
            int C = nd == 3 ? (int)cJSON_GetArrayItem(shape, 0)->valuedouble : 1;
            int Hh = nd >= 2 ? (int)cJSON_GetArrayItem(shape, nd - 2)->valuedouble : 1;
            int Ww = nd >= 1 ? (int)cJSON_GetArrayItem(shape, nd - 1)->valuedouble : 1;
            double *px = NULL;
            int n = doubles(cJSON_GetObjectItemCaseSensitive(in, "pixels"), &px);
            if (Hh <= 0 || Ww <= 0 || C <= 0 || n != C * Hh * Ww || Hh > 512 || Ww > 512) {
                free(px);
                continue;
            }
            int ch = C == 3 ? 3 : 1;
            unsigned char *img = malloc((size_t)Hh * (size_t)Ww * (size_t)ch);
            if (img) {
                for (int y = 0; y < Hh; y++)
                    for (int x = 0; x < Ww; x++)
                        for (int c = 0; c < ch; c++) {
                            double v = px[((size_t)c * (size_t)Hh + (size_t)y) * (size_t)Ww + (size_t)x];
                            img[((size_t)y * (size_t)Ww + (size_t)x) * (size_t)ch + (size_t)c] =
                                (unsigned char)(v < 0 ? 0 : v > 255 ? 255 : v + 0.5);
                        }
                dt_sb_puts(&p->b, "<img class=\"mark\" alt=\"");
                esc(p, dt_rj_str(in, "field", "x"));
                dt_sb_puts(&p->b, "\" src=\"data:image/png;base64,");
                dt_png_base64(img, Ww, Hh, ch, &p->b);
                dt_sb_puts(&p->b, "\">");
                free(img);
            }
            free(px);
        } else if (!strcmp(kind, "text")) {
            dt_sb_puts(&p->b, "<code class=\"mark\">");
            esc(p, dt_rj_str(in, "text", ""));
            dt_sb_puts(&p->b, "</code>");
        } else {
            const cJSON *vals = cJSON_GetObjectItemCaseSensitive(in, !strcmp(kind, "tokens") ? "tokens" : "values"), *v;
            dt_sb_puts(&p->b, "<code class=\"mark\">");
            esc(p, dt_rj_str(in, "field", ""));
            dt_sb_puts(&p->b, ": ");
            int k = 0;
            cJSON_ArrayForEach(v, vals)
                if (k++ < 24) dt_sb_printf(&p->b, "%s%.4g", k > 1 ? " " : "", v->valuedouble);
            if (k > 24) dt_sb_puts(&p->b, " …");
            dt_sb_puts(&p->b, "</code>");
        }
    }
}

static void top_losses(page *p, const cJSON *ea)
{
    static const char *const splits[] = {"test_val", "train_val"};
    for (int s = 0; s < 2; s++) {
        const cJSON *tl = dt_rj_get(cJSON_GetObjectItemCaseSensitive(ea, splits[s]), "top_losses"), *e;
        if (cJSON_GetArraySize(tl) <= 0) continue;
        char id[64], title[96];
        snprintf(id, sizeof id, "plot-decompose-top-losses-%s", splits[s]);
        snprintf(title, sizeof title, "Top losses on %s", splits[s]);
        dt_sb_printf(&p->b, "<figure class=\"plot wide\" id=\"%s\"><figcaption>%s</figcaption><div class=\"examples\">",
                     id, title);
        /* Rows with their inputs recorded (the first DT_EA_TOP_INPUTS), else all. */
        int with_inputs = cJSON_GetObjectItemCaseSensitive(cJSON_GetArrayItem(tl, 0), "inputs") != NULL;
        cJSON_ArrayForEach(e, tl)
        {
            const cJSON *inputs = cJSON_GetObjectItemCaseSensitive(e, "inputs");
            if (with_inputs && !inputs) continue;
            dt_sb_puts(&p->b, "<div class=\"ex\">");
            if (inputs) example_inputs(p, inputs);
            else dt_sb_puts(&p->b, "<span class=\"mark\"></span>");
            char a[32], b2[32];
            if (p->regression) {
                dt_sb_printf(&p->b, "row %.0f<br>target %.4g<br>squared error %.4g", dt_rj_num(e, "row", 0),
                             dt_rj_num(e, "label", NAN), dt_rj_num(e, "loss", NAN));
            } else {
                snprintf(a, sizeof a, "%.0f", dt_rj_num(e, "label", -1));
                snprintf(b2, sizeof b2, "%.0f", dt_rj_num(e, "predicted", -1));
                const char *ln = dt_rj_str(e, "label_name", a), *pn = dt_rj_str(e, "predicted_name", b2);
                dt_sb_printf(&p->b, "row %.0f<br>true: ", dt_rj_num(e, "row", 0));
                esc(p, ln);
                dt_sb_puts(&p->b, "<br>predicted: <span class=\"wrong\">");
                esc(p, pn);
                dt_sb_printf(&p->b, "</span><br>loss %.3g", dt_rj_num(e, "loss", NAN));
            }
            dt_sb_puts(&p->b, "</div>");
        }
        dt_sb_puts(&p->b, "</div></figure>\n");
    }
}

static void decompose_plots(page *p, const cJSON *rep)
{
    const cJSON *m = cJSON_GetObjectItemCaseSensitive(rep, "metrics");
    /* The decomposition: irreducible + bias + variance + shift + val_overfit = test error. */
    static const char *const terms[][3] = {{"irreducible_error", "irreducible", "#7f7f7f"},
                                           {"bias", "bias", "#1f77b4"},
                                           {"variance", "variance", "#d62728"},
                                           {"shift", "shift", "#ff7f0e"},
                                           {"val_overfit", "val overfit", "#9467bd"}};
    dt_svg_bar parts[6];
    memset(parts, 0, sizeof parts);
    int k = 0;
    double sum = 0;
    for (int i = 0; i < 5; i++) {
        const cJSON *v = cJSON_GetObjectItemCaseSensitive(m, terms[i][0]);
        snprintf(parts[k].label, sizeof parts[k].label, "%s", terms[i][1]);
        parts[k].color = terms[i][2];
        if (cJSON_IsNumber(v)) {
            parts[k].v[0] = v->valuedouble;
            sum += v->valuedouble;
            fmt_err(p, v->valuedouble, parts[k].text[0], sizeof parts[k].text[0]);
        } else {
            parts[k].v[0] = 0;
            snprintf(parts[k].text[0], sizeof parts[k].text[0], "not measurable");
        }
        k++;
    }
    double total = dt_rj_num(m, "test_error", 0);
    /* Without data.test the shift term is not measured: the train_val -> test_val gap stays unassigned. */
    if (!cJSON_IsNumber(cJSON_GetObjectItemCaseSensitive(m, "shift")) && total - sum > 1e-9) {
        snprintf(parts[k].label, sizeof parts[k].label, "unassigned");
        parts[k].color = "#c9ced6";
        parts[k].v[0] = total - sum;
        fmt_err(p, total - sum, parts[k].text[0], sizeof parts[k].text[0]);
        k++;
    }
    char xl[128], te[32], note[200];
    fmt_err(p, total, te, sizeof te);
    snprintf(xl, sizeof xl, "test error %s; dominant term: %s", te, dt_rj_str(m, "dominant", "?"));
    snprintf(note, sizeof note, "test error = irreducible + bias + variance + shift + val overfit; negative terms are "
                                "drawn as zero%s",
             k == 6 ? "; unassigned: the train_val to test_val gap when shift is not measurable (no data.test)" : "");
    dt_svg_chart c = {.id = "plot-decompose-terms", .title = "Bias / variance / shift decomposition", .xlabel = xl,
                      .note = note};
    dt_svg_stacked(&p->b, &c, parts, k, total);

    const cJSON *h = cJSON_GetObjectItemCaseSensitive(m, "history");
    if (h) {
        history_plot(p, "plot-decompose-loss", "Loss per epoch (the configured model)", h, 0, 1);
        history_plot(p, "plot-decompose-error", "Error per epoch (the configured model)", h, 1, 1);
    }
    /* Confusion matrices with class names. */
    static const char *const splits[] = {"train_val", "test_val"};
    for (int s = 0; s < 2; s++) {
        const cJSON *cm = dt_rj_get(cJSON_GetObjectItemCaseSensitive(m, "confusion_matrix"), splits[s]), *row, *v;
        int K = cJSON_GetArraySize(cm);
        if (K <= 0 || K > 60) continue;
        double *mat = calloc((size_t)K * (size_t)K, sizeof *mat);
        char **names = calloc((size_t)K, sizeof *names);
        char (*bufs)[32] = calloc((size_t)K, sizeof *bufs);
        if (mat && names && bufs) {
            int r = 0;
            cJSON_ArrayForEach(row, cm)
            {
                int q = 0;
                cJSON_ArrayForEach(v, row) if (q < K && r < K) mat[(size_t)r * K + q++] = v->valuedouble;
                r++;
            }
            for (int i = 0; i < K; i++) names[i] = (char *)class_name(p, i, bufs[i], sizeof bufs[i]);
            char id[64], title[96];
            snprintf(id, sizeof id, "plot-decompose-confusion-%s", splits[s]);
            snprintf(title, sizeof title, "Confusion matrix on %s", splits[s]);
            dt_svg_chart hc = {.id = id, .title = title};
            dt_svg_heatmap(&p->b, &hc, mat, K, (const char *const *)names);
        }
        free(mat);
        free(names);
        free(bufs);
    }
    /* Per-class error, both validation splits side by side. */
    const cJSON *pc = cJSON_GetObjectItemCaseSensitive(m, "per_class");
    int K = cJSON_GetArraySize(cJSON_GetObjectItemCaseSensitive(pc, "train_val"));
    if (K > 0 && K <= 100) {
        dt_svg_bar *bars = calloc((size_t)K, sizeof *bars);
        for (int i = 0; bars && i < K; i++) {
            char buf[32];
            snprintf(bars[i].label, sizeof bars[i].label, "%s", class_name(p, i, buf, sizeof buf));
            for (int s = 0; s < 2; s++) {
                const cJSON *e = cJSON_GetArrayItem(cJSON_GetObjectItemCaseSensitive(pc, splits[s]), i);
                bars[i].v[s] = e && dt_rj_num(e, "n", 0) > 0 ? dt_rj_num(e, "error", NAN) : NAN;
            }
        }
        static const char *const groups[] = {"train_val", "test_val"};
        dt_svg_chart bc = {.id = "plot-decompose-per-class", .title = "Error per class", .xlabel = "error",
                           .pct_y = 1};
        if (bars) dt_svg_bars(&p->b, &bc, bars, K, 2, groups, NULL);
        free(bars);
    }
    /* Per-slice error (data.slice). */
    const cJSON *ea = cJSON_GetObjectItemCaseSensitive(m, "error_analysis");
    for (int s = 0; s < 2; s++) {
        const cJSON *sl = dt_rj_get(cJSON_GetObjectItemCaseSensitive(ea, splits[s]), "slices"), *e;
        int n = cJSON_GetArraySize(sl);
        if (n <= 0) continue;
        if (n > 40) n = 40;
        dt_svg_bar *bars = calloc((size_t)n, sizeof *bars);
        int i = 0;
        cJSON_ArrayForEach(e, sl)
        {
            if (!bars || i >= n) break;
            snprintf(bars[i].label, sizeof bars[i].label, "%s", dt_rj_str(e, "slice", "?"));
            bars[i].v[0] = dt_rj_num(e, "error", NAN);
            bars[i].v[1] = dt_rj_num(e, "share_of_error", NAN);
            i++;
        }
        static const char *const groups[] = {"error", "share of the error"};
        char id[64], title[96];
        snprintf(id, sizeof id, "plot-decompose-slices-%s", splits[s]);
        snprintf(title, sizeof title, "Error per slice on %s (data.slice)", splits[s]);
        dt_svg_chart bc = {.id = id, .title = title, .xlabel = "share", .pct_y = !p->regression};
        if (bars) dt_svg_bars(&p->b, &bc, bars, i, 2, groups, NULL);
        free(bars);
    }
    /* Regression and binary scores per split. */
    const cJSON *scores = cJSON_GetObjectItemCaseSensitive(m, "scores"), *sp, *v;
    if (cJSON_GetArraySize(scores) > 0) {
        dt_sb_puts(&p->b, "<figure class=\"plot\" id=\"table-decompose-scores\"><figcaption>Scores per split</figcaption><table><tr><th>split</th>");
        const cJSON *first = scores->child;
        cJSON_ArrayForEach(v, first)
            if (cJSON_IsNumber(v)) {
                dt_sb_puts(&p->b, "<th>");
                esc(p, v->string);
                dt_sb_puts(&p->b, "</th>");
            }
        dt_sb_puts(&p->b, "</tr>");
        cJSON_ArrayForEach(sp, scores)
        {
            dt_sb_puts(&p->b, "<tr class=\"mark\"><td>");
            esc(p, sp->string);
            dt_sb_puts(&p->b, "</td>");
            cJSON_ArrayForEach(v, sp) if (cJSON_IsNumber(v)) dt_sb_printf(&p->b, "<td class=\"num\">%.4g</td>", v->valuedouble);
            dt_sb_puts(&p->b, "</tr>");
        }
        dt_sb_puts(&p->b, "</table></figure>");
    }
    top_losses(p, ea);
}

static void improve_plots(page *p, const cJSON *rep)
{
    const cJSON *att = dt_rj_get(rep, "metrics.attempts"), *a;
    int n = cJSON_GetArraySize(att);
    if (n <= 0) return;
    dt_svg_bar *bars = calloc((size_t)n, sizeof *bars);
    dt_svg_series *s = calloc((size_t)n, sizeof *s);
    double **xs = calloc((size_t)n, sizeof *xs), **ys = calloc((size_t)n, sizeof *ys);
    char (*labels)[120] = calloc((size_t)n, sizeof *labels);
    int i = 0, ns = 0;
    if (bars && s && xs && ys && labels) {
        cJSON_ArrayForEach(a, att)
        {
            int kept = cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(a, "kept"));
            snprintf(bars[i].label, sizeof bars[i].label, "%s%s", dt_rj_str(a, "remedy", "?"), kept ? " (kept)" : "");
            bars[i].v[0] = dt_rj_num(a, "before", NAN);
            bars[i].v[1] = dt_rj_num(a, "after", NAN);
            fmt_err(p, bars[i].v[0], bars[i].text[0], sizeof bars[i].text[0]);
            fmt_err(p, bars[i].v[1], bars[i].text[1], sizeof bars[i].text[1]);
            const cJSON *h = cJSON_GetObjectItemCaseSensitive(a, "history");
            int ne = doubles(cJSON_GetObjectItemCaseSensitive(h, "epoch"), &xs[ns]);
            int nv = doubles(cJSON_GetObjectItemCaseSensitive(h, "val_error"), &ys[ns]);
            if (ne > 0 && ne == nv) {
                snprintf(labels[ns], sizeof labels[ns], "%s%s", dt_rj_str(a, "remedy", "?"), kept ? " (kept)" : "");
                s[ns] = (dt_svg_series){xs[ns], ys[ns], ne, labels[ns], dt_svg_palette[ns % 10], !kept, 0, -1};
                ns++;
            } else {
                free(xs[ns]);
                free(ys[ns]);
                xs[ns] = ys[ns] = NULL;
            }
            i++;
        }
        static const char *const groups[] = {"before", "after"};
        static const char *const colors[] = {"#9aa3b2", "#1f77b4"};
        char xl[96];
        snprintf(xl, sizeof xl, "%s error", dt_rj_str(rep, "metrics.split", "train_val"));
        dt_svg_chart c = {.id = "plot-improve-attempts", .title = "Remedies tried, one at a time: error before and after",
                          .xlabel = xl, .pct_y = !p->regression};
        dt_svg_bars(&p->b, &c, bars, i, 2, groups, colors);
        if (ns) {
            dt_svg_chart hc = {.id = "plot-improve-history", .title = "train_val error per epoch of each attempt",
                               .xlabel = "epoch", .int_x = 1, .ylabel = "error", .pct_y = !p->regression, .y_from_zero = 1,
                               .note = "dashed: not kept"};
            dt_svg_lines(&p->b, &hc, s, ns);
        }
    }
    for (int k = 0; k < ns; k++) {
        free(xs[k]);
        free(ys[k]);
    }
    free(bars);
    free(s);
    free(xs);
    free(ys);
    free(labels);
}

/* tune: each trial's score against each searched parameter (from the
 * journal, trials.jsonl), the importance, and the best trial's curve. */
static void tune_plots(page *p, const cJSON *rep)
{
    const cJSON *space = dt_rj_get(rep, "config.stages.tune.space"), *par;
    const char *journal = dt_rj_str(rep, "artifacts.trials", NULL);
    enum { MAXT = 4096 };
    cJSON **trials = NULL;
    int nt = 0;
    if (journal && p->out_dir) {
        char path[1400];
        snprintf(path, sizeof path, "%s/%s", p->out_dir, journal);
        FILE *f = fopen(path, "r");
        trials = calloc(MAXT, sizeof *trials);
        char *line = NULL;
        size_t cap = 0;
        while (f && trials && nt < MAXT && getline(&line, &cap, f) > 0) {
            cJSON *t = cJSON_Parse(line);
            if (t && cJSON_GetObjectItemCaseSensitive(t, "trial")) trials[nt++] = t;
            else cJSON_Delete(t);
        }
        free(line);
        if (f) fclose(f);
    }
    int best_id = (int)dt_rj_num(rep, "metrics.best.trial", -1);
    cJSON_ArrayForEach(par, space)
    {
        if (!nt) break;
        const char *key = par->string;
        int logx = cJSON_GetObjectItemCaseSensitive(par, "log_uniform") != NULL;
        int choice = cJSON_GetObjectItemCaseSensitive(par, "choice") != NULL;
        const cJSON *choices = cJSON_GetObjectItemCaseSensitive(par, "choice");
        double *x = calloc((size_t)nt, sizeof *x), *y = calloc((size_t)nt, sizeof *y);
        int k = 0, hl = -1;
        for (int i = 0; x && y && i < nt; i++) {
            if (strcmp(dt_rj_str(trials[i], "status", ""), "ok")) continue;
            const cJSON *v = cJSON_GetObjectItemCaseSensitive(cJSON_GetObjectItemCaseSensitive(trials[i], "params"), key);
            double xv = NAN;
            if (cJSON_IsNumber(v)) xv = v->valuedouble;
            else if (cJSON_IsString(v) && choice) {
                /* A choice: its position in the list (numbers when they are numbers). */
                char *end;
                xv = strtod(v->valuestring, &end);
                if (*end || end == v->valuestring) {
                    int j = 0;
                    const cJSON *c;
                    xv = NAN;
                    cJSON_ArrayForEach(c, choices)
                    {
                        char buf[64];
                        if (cJSON_IsString(c)) snprintf(buf, sizeof buf, "%s", c->valuestring);
                        else snprintf(buf, sizeof buf, "%g", c->valuedouble);
                        if (!strcmp(buf, v->valuestring)) xv = j;
                        j++;
                    }
                }
            }
            x[k] = xv;
            y[k] = dt_rj_num(trials[i], "score", NAN);
            if ((int)dt_rj_num(trials[i], "trial", -2) == best_id) hl = k;
            k++;
        }
        char id[200], title[200];
        snprintf(id, sizeof id, "plot-tune-%s", key);
        snprintf(title, sizeof title, "Trials: train_val error against %s", key);
        dt_svg_series s = {x, y, k, NULL, dt_svg_palette[0], 0, 1, hl};
        int positive = 1;
        for (int i = 0; i < k; i++) positive &= !(x[i] <= 0);
        dt_svg_chart c = {.id = id, .title = title, .xlabel = key, .ylabel = "train_val error",
                          .logx = logx && positive, .pct_y = !p->regression, .y_from_zero = 1,
                          .note = "the large dot is the best trial"};
        if (x && y) dt_svg_lines(&p->b, &c, &s, 1);
        free(x);
        free(y);
    }
    if (!nt && space)
        dt_sb_puts(&p->b, "<p class=\"note\">No trials journal (trials.jsonl) next to the report: trial plots left out.</p>");
    for (int i = 0; i < nt; i++) cJSON_Delete(trials[i]);
    free(trials);
    const cJSON *imp = dt_rj_get(rep, "metrics.importance"), *e;
    int ni = cJSON_GetArraySize(imp);
    if (ni > 0) {
        dt_svg_bar *bars = calloc((size_t)ni, sizeof *bars);
        int i = 0;
        cJSON_ArrayForEach(e, imp)
        {
            if (!bars) break;
            snprintf(bars[i].label, sizeof bars[i].label, "%s", dt_rj_str(e, "key", "?"));
            bars[i].v[0] = dt_rj_num(e, "share", NAN);
            i++;
        }
        dt_svg_chart c = {.id = "plot-tune-importance", .title = "Parameter importance (share of explained variance)",
                          .xlabel = "share", .pct_y = 1};
        if (bars) dt_svg_bars(&p->b, &c, bars, i, 1, NULL, NULL);
        free(bars);
    }
    const cJSON *h = dt_rj_get(rep, "metrics.best.history");
    if (h) history_plot(p, "plot-tune-best-history", "The best trial, retrained: error per epoch", h, 1, 0);
}

/* ------------------------------------------------------------ page */

static void stage_section(page *p, const cJSON *rep)
{
    const char *stage = dt_rj_str(rep, "stage", "?"), *status = dt_rj_str(rep, "status", "?");
    dt_sb_printf(&p->b, "<section class=\"stage\" id=\"stage-%s\"><h2>", stage);
    esc(p, stage);
    badge(p, status);
    dt_sb_printf(&p->b, " <span class=\"ev\">%.1f s</span></h2>", dt_rj_num(rep, "duration_s", 0));
    findings(p, rep);
    dt_sb_puts(&p->b, "<div class=\"plots\">");
    if (!strcmp(stage, "debug")) debug_plots(p, rep);
    else if (!strcmp(stage, "overfit-batch")) overfit_plots(p, rep);
    else if (!strcmp(stage, "compare")) compare_plots(p, rep);
    else if (!strcmp(stage, "decompose")) decompose_plots(p, rep);
    else if (!strcmp(stage, "improve")) improve_plots(p, rep);
    else if (!strcmp(stage, "lr-find")) lr_find_plots(p, rep);
    else if (!strcmp(stage, "tune")) tune_plots(p, rep);
    dt_sb_puts(&p->b, "</div>");
    headline_table(p, rep);
    dt_sb_puts(&p->b, "</section>\n");
}

char *dt_html_render(const cJSON *const *reports, int n, const cJSON *summary, const char *out_dir)
{
    page p = {.out_dir = out_dir, .reports = reports, .n = n, .regression = dt_rj_regression(reports, n)};
    load_class_names(&p);
    const cJSON *head = summary ? summary : (n > 0 ? reports[0] : NULL);
    const char *name = dt_rj_str(head, "config.name", "run");
    dt_sb_puts(&p.b, "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
                     "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">"
                     "<meta name=\"generator\" content=\"" DT_TOOL_NAME " " DT_TOOL_VERSION "\"><title>");
    dt_sb_puts(&p.b, "dnntrouble: ");
    esc(&p, name);
    dt_sb_printf(&p.b, "</title><style>%s</style></head><body><main>\n<h1>", dt_html_css);
    esc(&p, name);
    dt_sb_puts(&p.b, "</h1><p class=\"meta\">dnntrouble " DT_TOOL_VERSION " · ");
    esc(&p, summary ? "run" : "stages");
    dt_sb_puts(&p.b, " started ");
    esc(&p, dt_rj_str(head, "started_at", "?"));
    dt_sb_printf(&p.b, " · seed %.0f", dt_rj_num(head, "seed", 0));
    const char *task = dt_rj_str(head, "config.task", NULL), *arch = dt_rj_str(head, "config.model.arch", NULL);
    if (task) {
        dt_sb_puts(&p.b, " · ");
        esc(&p, task);
    }
    if (arch) {
        dt_sb_puts(&p.b, " · ");
        esc(&p, arch);
    }
    dt_sb_puts(&p.b, "</p>\n");
    verdict_section(&p, summary);
    dt_sb_puts(&p.b, "<nav>");
    if (summary && cJSON_GetArraySize(cJSON_GetObjectItemCaseSensitive(summary, "gates")) > 0)
        dt_sb_puts(&p.b, "<a href=\"#gates\">gates</a>");
    for (int i = 0; i < n; i++) {
        if (!reports[i]) continue;
        const char *st = dt_rj_str(reports[i], "stage", "?");
        dt_sb_printf(&p.b, "<a href=\"#stage-%s\">", st);
        esc(&p, st);
        dt_sb_puts(&p.b, "</a>");
    }
    dt_sb_puts(&p.b, "</nav>\n");
    if (summary) gates_section(&p, summary);
    /* Stages the run did not reach, or that stopped with an error. */
    const cJSON *e;
    cJSON_ArrayForEach(e, cJSON_GetObjectItemCaseSensitive(summary, "stages"))
    {
        const char *st = dt_rj_str(e, "stage", "?");
        if (dt_rj_stage(reports, n, st)) continue;
        dt_sb_printf(&p.b, "<section class=\"stage\" id=\"stage-%s\"><h2>", st);
        esc(&p, st);
        badge(&p, cJSON_GetObjectItemCaseSensitive(e, "error") ? "fail" : "skipped");
        dt_sb_puts(&p.b, "</h2><p class=\"note\">");
        esc(&p, cJSON_GetObjectItemCaseSensitive(e, "error") ? dt_rj_str(e, "error.message", "stopped with an error")
                                                             : dt_rj_str(e, "reason", "not run"));
        dt_sb_puts(&p.b, "</p></section>\n");
    }
    for (int i = 0; i < n; i++)
        if (reports[i]) stage_section(&p, reports[i]);
    dt_sb_puts(&p.b, "<footer>Written by dnntrouble " DT_TOOL_VERSION " from the run's JSON reports "
                     "(dnntrouble report RUN rewrites it). One self-contained file: no scripts, nothing fetched."
                     "</footer>\n</main></body></html>\n");
    for (int i = 0; i < p.n_classes; i++) free(p.class_names[i]);
    free(p.class_names);
    if (p.b.oom) {
        dt_sb_free(&p.b);
        return NULL;
    }
    return p.b.p;
}

dt_status dt_html_write(const cJSON *const *reports, int n, const cJSON *summary, const char *out_dir)
{
    char path[4200];
    if (snprintf(path, sizeof path, "%s/report.html", out_dir) >= (int)sizeof path)
        return dt_fail(DT_EIO, "path too long: '%s/report.html'", out_dir);
    char *html = dt_html_render(reports, n, summary, out_dir);
    if (!html) return dt_fail(DT_ENOMEM, "out of memory writing '%s'", path);
    dt_status st = dt_write_file_atomic(path, html, strlen(html));
    free(html);
    return st;
}

/* ------------------------------------------------------------ loading */

static cJSON *load_json(const char *path)
{
    FILE *f = fopen(path, "rb");
    if (!f) return NULL;
    dt_sbuf b = {0};
    char buf[65536];
    size_t k;
    while ((k = fread(buf, 1, sizeof buf, f)) > 0) dt_sb_putn(&b, buf, k);
    fclose(f);
    cJSON *j = b.p ? cJSON_Parse(b.p) : NULL;
    dt_sb_free(&b);
    return j;
}

/* Seconds since the epoch of an ISO 8601 UTC stamp; -1 when unreadable. */
static double stamp_seconds(const char *s)
{
    struct tm tm;
    memset(&tm, 0, sizeof tm);
    if (!s || !strptime(s, "%Y-%m-%dT%H:%M:%SZ", &tm)) return -1;
    return (double)timegm(&tm);
}

dt_status dt_run_load(const char *out_dir, cJSON **reports, int cap, int *n_out, cJSON **summary)
{
    *n_out = 0;
    *summary = NULL;
    struct stat sb;
    if (stat(out_dir, &sb) != 0 || !S_ISDIR(sb.st_mode))
        return dt_fail(DT_EIO, "'%s' is not a run folder: %s", out_dir, strerror(errno ? errno : ENOTDIR));
    for (int i = 0; i < dt_n_stage_names && *n_out < cap; i++) {
        char path[4200];
        snprintf(path, sizeof path, "%s/%s.json", out_dir, dt_stage_names[i]);
        if (access(path, F_OK) != 0) continue;
        cJSON *j = load_json(path);
        if (!j || !cJSON_IsObject(j) || strcmp(dt_rj_str(j, "stage", ""), dt_stage_names[i]) != 0) {
            cJSON_Delete(j);
            for (int k = 0; k < *n_out; k++) cJSON_Delete(reports[k]);
            *n_out = 0;
            return dt_fail(DT_EDATA, "%s: not a dnntrouble %s report (unreadable JSON or wrong stage)", path,
                           dt_stage_names[i]);
        }
        reports[(*n_out)++] = j;
    }
    char path[4200];
    snprintf(path, sizeof path, "%s/summary.json", out_dir);
    cJSON *sum = load_json(path);
    if (sum) {
        /* A summary belongs to the reports when none of them started after
         * the run ended (a stage run alone later makes it stale). */
        double end = stamp_seconds(dt_rj_str(sum, "started_at", NULL)) + dt_rj_num(sum, "duration_s", 0) + 1;
        for (int i = 0; i < *n_out && sum; i++)
            if (stamp_seconds(dt_rj_str(reports[i], "started_at", NULL)) > end) {
                cJSON_Delete(sum);
                sum = NULL;
            }
    }
    *summary = sum;
    if (*n_out == 0 && !sum) return dt_fail(DT_EIO, "'%s' holds no dnntrouble report (STAGE.json or summary.json)", out_dir);
    return DT_OK;
}
