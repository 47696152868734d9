/* Inline SVG charts for report.html (private to src/report; see svg.c). */
#ifndef DT_REPORT_SVG_H
#define DT_REPORT_SVG_H

#include "internal.h"

extern const char *const dt_svg_palette[10];

typedef struct dt_svg_chart {
    const char *id;          /* the figure's id (tests look plots up by it) */
    const char *title;
    const char *xlabel, *ylabel;
    const char *note;        /* a line under the chart (may be NULL) */
    int logx, logy;
    int pct_y;               /* ticks and values as percentages (bars: the value axis) */
    int y_from_zero;
    int int_x;               /* x is a count (epochs, steps): whole-number ticks */
    int n_vlines;            /* marked x positions (the best epoch, a suggested lr) */
    double vline[4];
    const char *vline_label[4];
} dt_svg_chart;

typedef struct dt_svg_series {
    const double *x, *y;     /* n points; non-finite values leave a gap */
    int n;
    const char *label;       /* legend; NULL: none */
    const char *color;
    int dashed;
    int points;              /* a scatter, not a line */
    int highlight;           /* points: index drawn larger (the best trial); -1 none */
} dt_svg_series;

typedef struct dt_svg_bar {
    char label[96];
    double v[4];             /* one value per group */
    char text[4][48];        /* value labels ("" = the number) */
    const char *color;       /* NULL: the group's colour */
} dt_svg_bar;

/* Each returns the number of data marks drawn (0: an empty plot). */
int dt_svg_lines(dt_sbuf *b, const dt_svg_chart *c, const dt_svg_series *s, int ns);
/* Horizontal bars, `groups` values per row; c->logx for a log value axis. */
int dt_svg_bars(dt_sbuf *b, const dt_svg_chart *c, const dt_svg_bar *bars, int n, int groups,
                const char *const *group_labels, const char *const *group_colors);
/* One bar split into parts (v[0] each, text[0] their labels), out of total. */
int dt_svg_stacked(dt_sbuf *b, const dt_svg_chart *c, const dt_svg_bar *parts, int n, double total);
/* k x k counts, row-major (rows: true class); names[k]. */
int dt_svg_heatmap(dt_sbuf *b, const dt_svg_chart *c, const double *m, int k, const char *const *names);

#endif
