#include "dnntrouble/curve.h"

#include <math.h>
#include <string.h>

const char *dt_curve_mode_name(dt_curve_mode m)
{
    static const char *names[] = {"decreasing", "increases", "explodes", "oscillates", "plateaus"};
    return names[m];
}

dt_curve_mode dt_curve_classify(const float *loss, int n, dt_curve_stats *s)
{
    memset(s, 0, sizeof *s);
    s->nonfinite_step = -1;
    s->initial = loss[0];
    s->min = s->max = loss[0];
    for (int i = 0; i < n; i++) {
        if (!isfinite(loss[i])) {
            if (s->nonfinite_step < 0) s->nonfinite_step = i;
            continue;
        }
        if (loss[i] < s->min) s->min = loss[i];
        if (loss[i] > s->max) s->max = loss[i];
    }
    int tail = n / 10 > 1 ? n / 10 : 1;
    double sum = 0.0;
    for (int i = n - tail; i < n; i++) sum += loss[i];
    s->final = sum / tail;
    if (s->nonfinite_step >= 0 || s->max > DT_CURVE_EXPLODE_FACTOR * s->initial) return DT_CURVE_EXPLODES;
    if (s->final > DT_CURVE_INCREASE_FACTOR * s->initial) return DT_CURVE_INCREASES;

    int h = n / 2, switches = 0, changes = 0;
    double abs_change = 0.0, level = 0.0, prev = 0.0;
    for (int i = h + 1; i < n; i++) {
        double d = (double)loss[i] - loss[i - 1];
        abs_change += fabs(d);
        level += loss[i];
        if (d != 0.0) {
            if (changes > 0 && (d > 0) != (prev > 0)) switches++;
            prev = d;
            changes++;
        }
    }
    int m = n - h - 1;
    if (m > 0 && level > 0.0) {
        s->sign_switch_fraction = changes > 1 ? (double)switches / (changes - 1) : 0.0;
        s->relative_amplitude = abs_change / level; /* (sum |d| / m) / (sum loss / m) */
    }
    double first = loss[h], last = s->final;
    s->second_half_decrease = first > 0.0 ? (first - last) / first : 0.0;
    if (s->sign_switch_fraction > DT_CURVE_SWITCH_FRACTION && s->relative_amplitude > DT_CURVE_AMPLITUDE)
        return DT_CURVE_OSCILLATES;
    if (s->second_half_decrease > DT_CURVE_DESCENT) return DT_CURVE_DECREASING;
    return DT_CURVE_PLATEAUS;
}
