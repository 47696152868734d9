/* Reading a loss curve the way Tobin's "overfit a single batch" step does:
 * goes up, explodes, oscillates, or plateaus.  Pure functions, so the rules
 * are unit-tested on hand-made curves (thresholds: docs/findings.md). */
#ifndef DT_CURVE_H
#define DT_CURVE_H

typedef enum {
    DT_CURVE_DECREASING,   /* healthy descent (no failure mode) */
    DT_CURVE_INCREASES,
    DT_CURVE_EXPLODES,
    DT_CURVE_OSCILLATES,
    DT_CURVE_PLATEAUS
} dt_curve_mode;

typedef struct dt_curve_stats {
    double initial, final, min, max;   /* final: mean of the last tenth */
    double sign_switch_fraction;       /* second half: share of steps whose change flips sign */
    double relative_amplitude;         /* second half: mean |change| / mean loss */
    double second_half_decrease;       /* (first - last) of the second half, relative */
    int nonfinite_step;                /* first step with NaN/Inf, -1 when none */
} dt_curve_stats;

#define DT_CURVE_EXPLODE_FACTOR 10.0   /* max loss > 10x the initial loss */
#define DT_CURVE_INCREASE_FACTOR 1.1   /* final > 1.1x the initial loss */
#define DT_CURVE_SWITCH_FRACTION 0.3   /* >30% sign switches ... */
#define DT_CURVE_AMPLITUDE 0.05        /* ... of more than 5% of the loss each */
#define DT_CURVE_DESCENT 0.05          /* second half still falls by more than 5%: decreasing */

/* Classifies loss[0..n) (n >= 2) and fills *s. */
dt_curve_mode dt_curve_classify(const float *loss, int n, dt_curve_stats *s);
const char *dt_curve_mode_name(dt_curve_mode m);

#endif
