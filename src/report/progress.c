/* Progress lines for the CLI (see progress.h for the rules). */
#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "dnntrouble/progress.h"

#define PLAIN_INTERVAL_S 2.0
#define PLAIN_FRACTION 0.1
#define TTY_INTERVAL_S 0.1     /* redraw rate: fast enough to look live, cheap */

struct dt_progress {
    FILE *out;
    int tty;
    char label[96];
    double t0, last_print, last_fraction;
    int line_open;             /* a TTY line is drawn and not yet ended */
    double (*now)(void);
    pthread_mutex_t lock;
};

static double monotonic_now(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + (double)t.tv_nsec * 1e-9;
}

dt_progress *dt_progress_new(FILE *out, int is_tty)
{
    if (!out) return NULL;
    dt_progress *p = calloc(1, sizeof *p);
    if (!p) return NULL;
    p->out = out;
    p->tty = is_tty;
    p->now = monotonic_now;
    pthread_mutex_init(&p->lock, NULL);
    return p;
}

void dt_progress_free(dt_progress *p)
{
    if (!p) return;
    pthread_mutex_destroy(&p->lock);
    free(p);
}

void dt_progress_set_clock(dt_progress *p, double (*now)(void))
{
    if (p) p->now = now ? now : monotonic_now;
}

void dt_progress_begin(dt_progress *p, const char *label)
{
    if (!p) return;
    pthread_mutex_lock(&p->lock);
    snprintf(p->label, sizeof p->label, "%s", label);
    p->t0 = p->now();
    p->last_print = -1e9;
    p->last_fraction = -1;
    pthread_mutex_unlock(&p->lock);
}

static void format_eta(double s, char *buf, size_t size)
{
    if (!isfinite(s) || s < 0) snprintf(buf, size, "?");
    else if (s < 60) snprintf(buf, size, "%.0fs", s);
    else if (s < 3600) snprintf(buf, size, "%dm%02ds", (int)(s / 60), (int)fmod(s, 60));
    else snprintf(buf, size, "%dh%02dm", (int)(s / 3600), (int)fmod(s / 60, 60));
}

void dt_progress_update(dt_progress *p, int epoch, int epochs, long step, long steps, double loss)
{
    if (!p || epochs <= 0 || steps <= 0) return;
    pthread_mutex_lock(&p->lock);
    double t = p->now(), elapsed = t - p->t0;
    double frac = ((double)(epoch - 1) + (double)step / (double)steps) / (double)epochs;
    int last = epoch >= epochs && step >= steps;
    int due = p->tty ? t - p->last_print >= TTY_INTERVAL_S
                     : t - p->last_print >= PLAIN_INTERVAL_S || frac - p->last_fraction >= PLAIN_FRACTION;
    if (due || last) {
        char eta[32], bar[21];
        format_eta(frac > 0 ? elapsed * (1 - frac) / frac : NAN, eta, sizeof eta);
        if (p->tty) {
            int filled = (int)(frac * 20 + 0.5);
            for (int i = 0; i < 20; i++) bar[i] = i < filled ? '#' : '.';
            bar[20] = '\0';
            fprintf(p->out, "\r%s [%s] %3.0f%% epoch %d/%d step %ld/%ld loss %.4g ETA %s\033[K", p->label, bar,
                    frac * 100, epoch, epochs, step, steps, loss, eta);
            p->line_open = 1;
        } else {
            fprintf(p->out, "%s: %3.0f%% epoch %d/%d step %ld/%ld loss %.4g ETA %s\n", p->label, frac * 100, epoch,
                    epochs, step, steps, loss, eta);
        }
        fflush(p->out);
        p->last_print = t;
        p->last_fraction = frac;
    }
    pthread_mutex_unlock(&p->lock);
}

/* Called with p->lock held. */
static void print_done(dt_progress *p, const char *label, const char *note, double seconds)
{
    if (p->tty && p->line_open) fputs("\r\033[K", p->out);
    fprintf(p->out, "%s: %s (%.1fs)\n", label, note ? note : "done", seconds);
    fflush(p->out);
    p->line_open = 0;
}

void dt_progress_end(dt_progress *p, const char *note)
{
    if (!p) return;
    pthread_mutex_lock(&p->lock);
    print_done(p, p->label, note, p->now() - p->t0);
    pthread_mutex_unlock(&p->lock);
}

void dt_progress_done(dt_progress *p, const char *label, const char *note, double seconds)
{
    if (!p) return;
    pthread_mutex_lock(&p->lock);
    print_done(p, label, note, seconds);
    pthread_mutex_unlock(&p->lock);
}
