/* Inline SVG charts for report.html: line charts (curves), scatter plots,
 * horizontal bar charts (one or two values per row), a stacked bar and a
 * heatmap.  A small writer of our own: the charts are a few dozen SVG
 * elements each, text stays text (searchable, crisp at any zoom), and a
 * browser draws them with no library, font or script.  Every data mark has
 * class "mark", so a test can count what was drawn. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "svg.h"

#define W 560.0
#define H 250.0
#define ML 64.0   /* margins */
#define MR 16.0
#define MT 26.0
#define MB 40.0

const char *const dt_svg_palette[] = {"#1f77b4", "#d62728", "#2ca02c", "#ff7f0e", "#9467bd",
                                      "#8c564b", "#e377c2", "#7f7f7f", "#bcbd22", "#17becf"};

static void fmt_tick(double v, int pct, char *buf, size_t size)
{
    if (pct) {
        double p = 100 * v;
        if (fabs(p) < 1e-9) p = 0;
        snprintf(buf, size, fabs(p) >= 10 || p == 0 ? "%.0f%%" : "%.2g%%", p);
        return;
    }
    if (v != 0 && (fabs(v) < 1e-3 || fabs(v) >= 1e5)) snprintf(buf, size, "%.0e", v);
    else snprintf(buf, size, "%.3g", v);
}

/* A scale from data to pixels. */
typedef struct scale {
    double lo, hi, p0, p1;
    int log;
    int integer;
} scale;

static double sc(const scale *s, double v)
{
    double a = s->log ? log10(v > 0 ? v : s->lo) : v, lo = s->log ? log10(s->lo) : s->lo,
           hi = s->log ? log10(s->hi) : s->hi;
    if (hi <= lo) return (s->p0 + s->p1) / 2;
    return s->p0 + (a - lo) / (hi - lo) * (s->p1 - s->p0);
}

/* Range of the finite values (positive only on a log scale), padded. */
static void data_range(const dt_svg_series *ser, int ns, int axis_y, int logscale, double *lo, double *hi)
{
    *lo = INFINITY;
    *hi = -INFINITY;
    for (int s = 0; s < ns; s++)
        for (int i = 0; i < ser[s].n; i++) {
            double v = axis_y ? ser[s].y[i] : ser[s].x[i];
            if (!isfinite(v) || (logscale && v <= 0)) continue;
            if (v < *lo) *lo = v;
            if (v > *hi) *hi = v;
        }
    if (!isfinite(*lo)) {
        *lo = logscale ? 0.1 : 0;
        *hi = 1;
    }
    if (logscale) {
        *lo = pow(10, floor(log10(*lo)));
        *hi = pow(10, ceil(log10(*hi)));
        if (*hi <= *lo) *hi = *lo * 10;
    } else if (*hi - *lo < 1e-12) {
        double pad = fabs(*hi) > 0 ? fabs(*hi) * 0.1 : 1;
        *lo -= pad;
        *hi += pad;
    }
}

/* Round tick step for [lo, hi] with about n ticks. */
static double nice_step(double lo, double hi, int n)
{
    double raw = (hi - lo) / n, mag = pow(10, floor(log10(raw))), f = raw / mag;
    return (f < 1.5 ? 1 : f < 3 ? 2 : f < 7 ? 5 : 10) * mag;
}

static void axis_ticks(dt_sbuf *b, const scale *s, int vertical, int pct, double other0, double other1)
{
    char lab[32];
    if (s->log) {
        for (double v = s->lo; v <= s->hi * 1.0001; v *= 10) {
            double p = sc(s, v);
            fmt_tick(v, pct, lab, sizeof lab);
            if (vertical)
                dt_sb_printf(b, "<line class=\"grid\" x1=\"%.1f\" x2=\"%.1f\" y1=\"%.1f\" y2=\"%.1f\"/><text x=\"%.1f\" y=\"%.1f\" class=\"tick\" text-anchor=\"end\">%s</text>",
                             other0, other1, p, p, other0 - 4, p + 4, lab);
            else
                dt_sb_printf(b, "<line class=\"grid\" x1=\"%.1f\" x2=\"%.1f\" y1=\"%.1f\" y2=\"%.1f\"/><text x=\"%.1f\" y=\"%.1f\" class=\"tick\" text-anchor=\"middle\">%s</text>",
                             p, p, other0, other1, p, other0 + 14, lab);
        }
        return;
    }
    double step = nice_step(s->lo, s->hi, 5);
    if (s->integer && step < 1) step = 1;   /* epochs, steps: no half ticks */
    for (double v = ceil(s->lo / step - 1e-9) * step; v <= s->hi + step * 1e-6; v += step) {
        double p = sc(s, v);
        fmt_tick(fabs(v) < step * 1e-9 ? 0 : v, pct, lab, sizeof lab);
        if (vertical)
            dt_sb_printf(b, "<line class=\"grid\" x1=\"%.1f\" x2=\"%.1f\" y1=\"%.1f\" y2=\"%.1f\"/><text x=\"%.1f\" y=\"%.1f\" class=\"tick\" text-anchor=\"end\">%s</text>",
                         other0, other1, p, p, other0 - 4, p + 4, lab);
        else
            dt_sb_printf(b, "<line class=\"grid\" x1=\"%.1f\" x2=\"%.1f\" y1=\"%.1f\" y2=\"%.1f\"/><text x=\"%.1f\" y=\"%.1f\" class=\"tick\" text-anchor=\"middle\">%s</text>",
                         p, p, other0, other1, p, other0 + 14, lab);
    }
}

static void svg_open(dt_sbuf *b, const char *id, const char *title, double w, double h)
{
    dt_sb_puts(b, "<figure class=\"plot\" id=\"");
    dt_sb_escape(b, id);
    dt_sb_puts(b, "\"><figcaption>");
    dt_sb_escape(b, title);
    dt_sb_printf(b, "</figcaption><svg xmlns=\"http://www.w3.org/2000/svg\" viewBox=\"0 0 %.0f %.0f\" width=\"%.0f\" "
                    "height=\"%.0f\" role=\"img\">",
                 w, h, w, h);
}

static void svg_close(dt_sbuf *b, const char *note)
{
    dt_sb_puts(b, "</svg>");
    if (note && *note) {
        dt_sb_puts(b, "<p class=\"note\">");
        dt_sb_escape(b, note);
        dt_sb_puts(b, "</p>");
    }
    dt_sb_puts(b, "</figure>\n");
}

static void legend(dt_sbuf *b, const dt_svg_series *ser, int ns, double x0)
{
    double x = x0;
    for (int s = 0; s < ns; s++) {
        if (!ser[s].label) continue;
        dt_sb_printf(b, "<line x1=\"%.1f\" x2=\"%.1f\" y1=\"12\" y2=\"12\" stroke=\"%s\" stroke-width=\"2.5\"%s/>", x,
                     x + 18, ser[s].color, ser[s].dashed ? " stroke-dasharray=\"5 3\"" : "");
        dt_sb_printf(b, "<text x=\"%.1f\" y=\"16\" class=\"legend\">", x + 22);
        dt_sb_escape(b, ser[s].label);
        dt_sb_puts(b, "</text>");
        x += 36 + 6.6 * (double)strlen(ser[s].label);
    }
}

static void axis_labels(dt_sbuf *b, const char *xl, const char *yl, double w, double h)
{
    if (xl) {
        dt_sb_printf(b, "<text x=\"%.1f\" y=\"%.1f\" class=\"axis\" text-anchor=\"middle\">", (ML + w - MR) / 2, h - 6);
        dt_sb_escape(b, xl);
        dt_sb_puts(b, "</text>");
    }
    if (yl) {
        dt_sb_printf(b, "<text transform=\"translate(14 %.1f) rotate(-90)\" class=\"axis\" text-anchor=\"middle\">",
                     (MT + h - MB) / 2);
        dt_sb_escape(b, yl);
        dt_sb_puts(b, "</text>");
    }
}

int dt_svg_lines(dt_sbuf *b, const dt_svg_chart *c, const dt_svg_series *ser, int ns)
{
    double xlo, xhi, ylo, yhi;
    data_range(ser, ns, 0, c->logx, &xlo, &xhi);
    data_range(ser, ns, 1, c->logy, &ylo, &yhi);
    if (!c->logy && c->y_from_zero && ylo > 0) ylo = 0;
    if (!c->logy) {
        double step = nice_step(ylo, yhi, 5);
        ylo = floor(ylo / step) * step;
        yhi = ceil(yhi / step) * step;
    }
    scale xs = {xlo, xhi, ML, W - MR, c->logx, c->int_x}, ys = {ylo, yhi, H - MB, MT, c->logy, 0};
    svg_open(b, c->id, c->title, W, H);
    axis_ticks(b, &ys, 1, c->pct_y, ML, W - MR);
    axis_ticks(b, &xs, 0, 0, H - MB, MT);
    dt_sb_printf(b, "<rect class=\"frame\" x=\"%.1f\" y=\"%.1f\" width=\"%.1f\" height=\"%.1f\"/>", ML, MT, W - MR - ML,
                 H - MB - MT);
    int marks = 0;
    for (int s = 0; s < ns; s++) {
        const dt_svg_series *r = &ser[s];
        if (r->points) {
            for (int i = 0; i < r->n; i++) {
                if (!isfinite(r->x[i]) || !isfinite(r->y[i]) || (c->logy && r->y[i] <= 0) || (c->logx && r->x[i] <= 0)) continue;
                dt_sb_printf(b, "<circle class=\"mark\" cx=\"%.1f\" cy=\"%.1f\" r=\"%.1f\" fill=\"%s\"%s/>", sc(&xs, r->x[i]),
                             sc(&ys, r->y[i]), r->highlight == i ? 6.0 : 3.5, r->color,
                             r->highlight == i ? " stroke=\"#000\" stroke-width=\"1.5\"" : " fill-opacity=\"0.75\"");
                marks++;
            }
            continue;
        }
        dt_sbuf d = {0};
        int pen = 0, pts = 0;
        for (int i = 0; i < r->n; i++) {
            if (!isfinite(r->x[i]) || !isfinite(r->y[i]) || (c->logy && r->y[i] <= 0) || (c->logx && r->x[i] <= 0)) {
                pen = 0;
                continue;
            }
            dt_sb_printf(&d, "%s%.1f %.1f ", pen ? "L" : "M", sc(&xs, r->x[i]), sc(&ys, r->y[i]));
            pen = 1;
            pts++;
        }
        if (pts == 1) {   /* one point: a dot, a path of one point draws nothing */
            for (int i = 0; i < r->n; i++)
                if (isfinite(r->x[i]) && isfinite(r->y[i]) && !(c->logy && r->y[i] <= 0))
                    dt_sb_printf(b, "<circle class=\"mark\" cx=\"%.1f\" cy=\"%.1f\" r=\"3\" fill=\"%s\"/>", sc(&xs, r->x[i]),
                                 sc(&ys, r->y[i]), r->color);
            marks++;
        } else if (pts > 1) {
            dt_sb_printf(b, "<path class=\"mark\" d=\"%s\" fill=\"none\" stroke=\"%s\" stroke-width=\"2\"%s/>", d.p,
                         r->color, r->dashed ? " stroke-dasharray=\"5 3\"" : "");
            marks++;
        }
        dt_sb_free(&d);
    }
    for (int i = 0; i < c->n_vlines; i++) {
        double x = sc(&xs, c->vline[i]);
        int right = x > W - MR - 80;   /* near the right edge: the label goes left of the line */
        dt_sb_printf(b, "<line class=\"vline\" x1=\"%.1f\" x2=\"%.1f\" y1=\"%.1f\" y2=\"%.1f\"/>", x, x, MT, H - MB);
        if (c->vline_label[i]) {
            dt_sb_printf(b, "<text x=\"%.1f\" y=\"%.1f\" class=\"tick\" text-anchor=\"%s\">", right ? x - 3 : x + 3,
                         MT + 12, right ? "end" : "start");
            dt_sb_escape(b, c->vline_label[i]);
            dt_sb_puts(b, "</text>");
        }
    }
    legend(b, ser, ns, ML + 4);
    axis_labels(b, c->xlabel, c->ylabel, W, H);
    svg_close(b, c->note);
    return marks;
}

int dt_svg_bars(dt_sbuf *b, const dt_svg_chart *c, const dt_svg_bar *bars, int n, int groups,
                const char *const *group_labels, const char *const *group_colors)
{
    double row = groups > 1 ? 11.0 * groups + 8 : 20.0, label_w = 150;
    double h = MT + row * n + MB;
    if (h < 90) h = 90;
    double lo = INFINITY, hi = -INFINITY;
    for (int i = 0; i < n; i++)
        for (int g = 0; g < groups; g++) {
            double v = bars[i].v[g];
            if (!isfinite(v) || (c->logx && v <= 0)) continue;
            if (v < lo) lo = v;
            if (v > hi) hi = v;
        }
    if (!isfinite(lo)) { lo = c->logx ? 0.1 : 0; hi = 1; }
    if (c->logx) {
        lo = pow(10, floor(log10(lo)));
        hi = pow(10, ceil(log10(hi)));
        if (hi <= lo) hi = lo * 10;
    } else {
        if (lo > 0) lo = 0;
        if (hi <= lo) hi = lo + 1;
        double step = nice_step(lo, hi, 5);
        hi = ceil(hi / step) * step;
    }
    scale xs = {lo, hi, label_w, W - MR - 50, c->logx, 0};
    svg_open(b, c->id, c->title, W, h);
    axis_ticks(b, &xs, 0, c->pct_y, h - MB, MT);
    int marks = 0;
    for (int i = 0; i < n; i++) {
        double y0 = MT + row * i + 4;
        dt_sb_printf(b, "<text x=\"%.1f\" y=\"%.1f\" class=\"tick\" text-anchor=\"end\">", label_w - 6,
                     y0 + (row - 8) / 2 + 4);
        dt_sb_escape(b, bars[i].label);
        dt_sb_puts(b, "</text>");
        for (int g = 0; g < groups; g++) {
            double v = bars[i].v[g];
            double yy = y0 + (groups > 1 ? 11.0 * g : 0), hh = groups > 1 ? 10.0 : row - 8;
            if (!isfinite(v) || (c->logx && v <= 0)) continue;
            double x0 = sc(&xs, c->logx ? lo : (lo < 0 ? 0 : lo)), x1 = sc(&xs, v);
            if (x1 < x0) { double t = x0; x0 = x1; x1 = t; }
            if (x1 - x0 < 1) x1 = x0 + 1;   /* a zero still shows as a sliver */
            const char *color = bars[i].color ? bars[i].color : group_colors ? group_colors[g] : dt_svg_palette[g % 10];
            dt_sb_printf(b, "<rect class=\"mark\" x=\"%.1f\" y=\"%.1f\" width=\"%.1f\" height=\"%.1f\" fill=\"%s\"/>", x0,
                         yy, x1 - x0, hh, color);
            char val[48];
            if (bars[i].text[g][0]) snprintf(val, sizeof val, "%s", bars[i].text[g]);
            else fmt_tick(v, c->pct_y, val, sizeof val);
            dt_sb_printf(b, "<text x=\"%.1f\" y=\"%.1f\" class=\"val\">", x1 + 3, yy + hh / 2 + 4);
            dt_sb_escape(b, val);
            dt_sb_puts(b, "</text>");
            marks++;
        }
    }
    if (groups > 1 && group_labels) {
        dt_svg_series leg[8];
        memset(leg, 0, sizeof leg);
        for (int g = 0; g < groups && g < 8; g++) {
            leg[g].label = group_labels[g];
            leg[g].color = group_colors ? group_colors[g] : dt_svg_palette[g % 10];
        }
        legend(b, leg, groups < 8 ? groups : 8, label_w);
    }
    if (c->xlabel) {
        dt_sb_printf(b, "<text x=\"%.1f\" y=\"%.1f\" class=\"axis\" text-anchor=\"middle\">", (label_w + W - MR) / 2,
                     h - 6);
        dt_sb_escape(b, c->xlabel);
        dt_sb_puts(b, "</text>");
    }
    svg_close(b, c->note);
    return marks;
}

int dt_svg_stacked(dt_sbuf *b, const dt_svg_chart *c, const dt_svg_bar *parts, int n, double total)
{
    double h = 120, x0 = 20, x1 = W - 20, sum = 0;
    for (int i = 0; i < n; i++) sum += parts[i].v[0] > 0 ? parts[i].v[0] : 0;
    if (total < sum) total = sum;
    if (!(total > 0)) total = 1;
    svg_open(b, c->id, c->title, W, h);
    double x = x0;
    int marks = 0;
    for (int i = 0; i < n; i++) {
        double v = parts[i].v[0] > 0 ? parts[i].v[0] : 0, w = v / total * (x1 - x0);
        if (w > 0) {
            dt_sb_printf(b, "<rect class=\"mark\" x=\"%.1f\" y=\"30\" width=\"%.1f\" height=\"34\" fill=\"%s\"/>", x, w,
                         parts[i].color ? parts[i].color : dt_svg_palette[i % 10]);
            marks++;
        }
        /* Labels below, one column per part, so small parts stay legible. */
        double lx = x0 + (x1 - x0) * (i + 0.5) / n;
        dt_sb_printf(b, "<line x1=\"%.1f\" y1=\"64\" x2=\"%.1f\" y2=\"78\" stroke=\"#999\"/>", x + w / 2, lx);
        dt_sb_printf(b, "<rect x=\"%.1f\" y=\"82\" width=\"10\" height=\"10\" fill=\"%s\"/>", lx - 40,
                     parts[i].color ? parts[i].color : dt_svg_palette[i % 10]);
        dt_sb_printf(b, "<text x=\"%.1f\" y=\"91\" class=\"legend\">", lx - 26);
        dt_sb_escape(b, parts[i].label);
        dt_sb_puts(b, "</text>");
        dt_sb_printf(b, "<text x=\"%.1f\" y=\"106\" class=\"val\">", lx - 26);
        dt_sb_escape(b, parts[i].text[0]);
        dt_sb_puts(b, "</text>");
        x += w;
    }
    if (c->xlabel) {
        dt_sb_printf(b, "<text x=\"%.1f\" y=\"20\" class=\"axis\">", x0);
        dt_sb_escape(b, c->xlabel);
        dt_sb_puts(b, "</text>");
    }
    svg_close(b, c->note);
    return marks;
}

int dt_svg_heatmap(dt_sbuf *b, const dt_svg_chart *c, const double *m, int k, const char *const *names)
{
    int show_numbers = k <= 16;
    /* Room for the longest class name (about 6.5 px a character at 11 px). */
    size_t longest = 1;
    for (int i = 0; i < k && k <= 40; i++)
        if (strlen(names[i]) > longest) longest = strlen(names[i]);
    double cell = k <= 10 ? 34 : k <= 20 ? 22 : 420.0 / k, lab = 16 + 6.5 * (double)(longest < 24 ? longest : 24);
    /* The last column's rotated name reaches past the cells: room on the right too. */
    double w = lab + cell * k + 20 + 0.65 * (lab - 16), h = lab + cell * k + 30;
    if (w < lab + 230) w = lab + 230;   /* room for the caption line under the cells */
    svg_open(b, c->id, c->title, w, h);
    int marks = 0;
    if (longest >= 24) lab = 16 + 6.5 * 24;   /* longer names are cut by the frame, the cell titles keep them */
    for (int r = 0; r < k; r++) {
        double row = 0;
        for (int q = 0; q < k; q++) row += m[(size_t)r * k + q];
        for (int q = 0; q < k; q++) {
            double v = m[(size_t)r * k + q], share = row > 0 ? v / row : 0;
            /* Right answers in blue, confusions in red; the shade is the row share. */
            int diag = r == q;
            int R = diag ? (int)(255 - 200 * share) : 255, G = diag ? (int)(255 - 130 * share) : (int)(255 - 200 * share),
                B = diag ? 255 : (int)(255 - 200 * share);
            dt_sb_printf(b, "<rect class=\"mark\" x=\"%.1f\" y=\"%.1f\" width=\"%.1f\" height=\"%.1f\" fill=\"rgb(%d,%d,%d)\" stroke=\"#fff\"><title>",
                         lab + cell * q, lab + cell * r, cell, cell, R, G, B);
            dt_sb_escape(b, names[r]);
            dt_sb_puts(b, " predicted as ");
            dt_sb_escape(b, names[q]);
            dt_sb_printf(b, ": %.0f</title></rect>", v);
            marks++;
            if (show_numbers && v > 0)
                dt_sb_printf(b, "<text x=\"%.1f\" y=\"%.1f\" class=\"cell%s\" text-anchor=\"middle\">%.0f</text>",
                             lab + cell * (q + 0.5), lab + cell * (r + 0.5) + 4, share > 0.6 ? " dark" : "", v);
        }
        if (k <= 40) {
            dt_sb_printf(b, "<text x=\"%.1f\" y=\"%.1f\" class=\"tick\" text-anchor=\"end\">", lab - 4,
                         lab + cell * (r + 0.5) + 4);
            dt_sb_escape(b, names[r]);
            dt_sb_puts(b, "</text>");
            dt_sb_printf(b, "<text transform=\"translate(%.1f %.1f) rotate(-50)\" class=\"tick\">",
                         lab + cell * (r + 0.5) + 3, lab - 4);
            dt_sb_escape(b, names[r]);
            dt_sb_puts(b, "</text>");
        }
    }
    dt_sb_printf(b, "<text x=\"%.1f\" y=\"%.1f\" class=\"axis\">rows: true class, columns: predicted</text>", lab,
                 lab + cell * k + 18);
    svg_close(b, c->note);
    return marks;
}
