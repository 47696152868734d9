/* The sampler seam (tune_sampler.h): when a trial can be proposed, and the
 * random sampler's coarse-to-fine rounds. */
#include <math.h>
#include <string.h>

#include "tune_sampler.h"

int dt_tune_sampler_rounds(const dt_config *cfg, int trials)
{
    if (cfg->stages.tune.sampler == DT_SAMPLER_TPE) return 1;
    return cfg->stages.tune.rounds < trials ? cfg->stages.tune.rounds : trials;
}

void dt_tune_sampler_init(dt_tune_sampler *s, const dt_config *cfg, int trials, int rounds, dt_tune_ranges *ranges)
{
    memset(s, 0, sizeof *s);
    s->cfg = cfg;
    s->trials = trials;
    s->rounds = rounds;
    s->lag = 1;
    s->ranges = ranges;
    dt_tune_ranges_init(cfg, &ranges[0]);
    s->ranges_set = 1;
}

static int round_of(const dt_tune_sampler *s, int id)
{
    int r = 0;
    while (r + 1 < s->rounds && dt_tune_round_start(s->trials, s->rounds, r + 1) <= id) r++;
    return r;
}

/* Random: round r is drawn from the ranges narrowed around the top_k of
 * rounds < r, so it waits for all of them. */
static int propose_random(dt_tune_sampler *s, const dt_tune_history *h, dt_trial *out)
{
    int round = round_of(s, h->n), start = dt_tune_round_start(s->trials, s->rounds, round);
    for (int i = 0; i < start; i++)
        if (!h->done[i]) return 0;
    for (; s->ranges_set <= round; s->ranges_set++) {
        int r = s->ranges_set, end = dt_tune_round_start(s->trials, s->rounds, r);
        dt_tune_ranges_narrow(s->cfg, &s->ranges[r - 1], h->t, h->r, end, s->cfg->stages.tune.top_k, &s->ranges[r]);
    }
    dt_tune_sample(s->cfg, &s->ranges[round], s->cfg->seed, round, h->n, out);
    return 1;
}

int dt_tune_propose(dt_tune_sampler *s, const dt_tune_history *h, dt_trial *out)
{
    if (s->cfg->stages.tune.sampler == DT_SAMPLER_RANDOM) return propose_random(s, h, out);
    /* TPE's start-up trials are the random sampler's first round (same draws). */
    if (h->n < s->cfg->stages.tune.startup_trials) {
        dt_tune_sample(s->cfg, &s->ranges[0], s->cfg->seed, 0, h->n, out);
        return 1;
    }
    int lag = s->lag > 0 ? s->lag : 1;
    for (int i = 0; i <= h->n - lag; i++)
        if (!h->done[i]) return 0;
    dt_tune_tpe_propose(s->cfg, h, lag, out);
    return 1;
}

int dt_tune_in_space(const dt_config *cfg, const dt_trial *t)
{
    if (t->n != cfg->stages.tune.n_space) return 0;
    for (int i = 0; i < t->n; i++) {
        const dt_space_param *p = &cfg->stages.tune.space[i];
        double v = t->num[i];
        if (p->kind == DT_SPACE_CHOICE) {
            if (t->choice[i] < 0 || t->choice[i] >= p->n_choices) return 0;
        } else if (!isfinite(v) || v < p->lo || v > p->hi || (p->kind == DT_SPACE_INT && v != floor(v))) {
            return 0;
        }
    }
    return 1;
}
