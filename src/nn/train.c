#include "dnntrouble/train.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

dt_status dt_model_load_batch(dt_model *m, const dt_data *d, dt_split_id s, const size_t *rows, size_t n)
{
    dt_status st = dt_graph_set_batch(m->g, (int)n);
    if (st) return st;
    for (int i = 0; i < m->n_inputs; i++) dt_data_batch_field(d, s, m->field[i], rows, n, m->inputs[i]->val);
    dt_data_batch_labels(d, s, rows, n, m->y->val);
    /* mse on class labels: the one-hot rows, as Keras' MSE on categorical
     * labels sees them (debug reports it as loss-task-mismatch).  Expanded
     * in place from the last row down, so no id is overwritten unread. */
    m->onehot_targets = m->spec.loss == DT_LOSS_MSE && d->task == DT_TASK_CLASSIFICATION;
    if (m->onehot_targets) {
        size_t K = (size_t)m->spec.outputs;
        for (size_t i = n; i-- > 0;) {
            int c = (int)m->y->val[i];
            memset(m->y->val + i * K, 0, K * sizeof(float));
            if (c >= 0 && (size_t)c < K) m->y->val[i * K + (size_t)c] = 1.0f;
        }
    }
    return DT_OK;
}

int dt_model_class_of(const dt_model *m, size_t r)
{
    if (!m->onehot_targets) return (int)m->y->val[r];
    int K = m->spec.outputs, best = 0;
    const float *y = m->y->val + r * (size_t)K;
    for (int j = 1; j < K; j++) if (y[j] > y[best]) best = j;
    return best;
}

/* A regression model: mse on raw targets (mse on class labels trains on
 * one-hot rows and is scored as classification). */
static int regresses(const dt_model *m) { return m->spec.loss == DT_LOSS_MSE && !m->onehot_targets; }

/* Loss of one row from the model output (cross-entropy from logits, or
 * the squared error); the predicted class through *pred. */
static float row_loss_of(const dt_model *m, size_t r, int *pred)
{
    int k = m->out->shape[1];
    const float *z = m->out->val + r * (size_t)k;
    int best = 0;
    for (int j = 1; j < k; j++) if (z[j] > z[best]) best = j;
    *pred = best;
    if (m->spec.loss == DT_LOSS_MSE) {
        double s = 0.0;
        for (int j = 0; j < k; j++) {
            double e = z[j] - m->y->val[r * (size_t)k + j];
            s += e * e;
        }
        return (float)(s / k);
    }
    int c = (int)m->y->val[r];
    if (c < 0 || c >= k) return NAN;
    if (m->output_softmax) return -logf(z[c] > 1e-30f ? z[c] : 1e-30f);
    double mx = z[0], s = 0.0;
    for (int j = 1; j < k; j++) if (z[j] > mx) mx = z[j];
    for (int j = 0; j < k; j++) s += exp(z[j] - mx);
    return (float)(mx + log(s) - z[c]);
}

dt_status dt_model_evaluate(dt_model *m, const dt_data *d, dt_split_id s, dt_eval *res, int *pred,
                            float *row_loss)
{
    return dt_model_evaluate_with(m, d, s, NULL, NULL, res, pred, row_loss);
}

dt_status dt_model_forward_split(dt_model *m, const dt_data *d, dt_split_id s, dt_node *upto, dt_batch_fn tf,
                                 void *tctx, dt_rows_fn visit, void *ctx)
{
    size_t n = dt_data_split_size(d, s), B = (size_t)m->g->max_batch;
    size_t *rows = malloc(B * sizeof *rows);
    if (!rows) return dt_fail(DT_ENOMEM, "forward pass over the %s split: out of memory", dt_split_name(s));
    dt_graph_set_train(m->g, 0);
    dt_status st = DT_OK;
    for (size_t start = 0; start < n && !st; start += B) {
        size_t k = n - start < B ? n - start : B;
        for (size_t i = 0; i < k; i++) rows[i] = start + i;
        st = dt_model_load_batch(m, d, s, rows, k);
        if (!st && tf) tf(tctx, m, k, 0);
        if (!st) st = dt_graph_forward(m->g, upto);
        if (!st) visit(ctx, m, start, k);
    }
    dt_graph_set_train(m->g, 1);
    free(rows);
    return st;
}

typedef struct eval_acc {
    double loss, err, to_raw;
    int *pred;
    float *row_loss;
} eval_acc;

static void eval_rows(void *ctx, const dt_model *m, size_t start, size_t k)
{
    eval_acc *a = ctx;
    for (size_t i = 0; i < k; i++) {
        int p;
        float l = row_loss_of(m, i, &p);
        a->loss += l;
        if (regresses(m)) a->err += l * a->to_raw;
        else a->err += p != dt_model_class_of(m, i);
        if (a->pred) a->pred[start + i] = p;
        if (a->row_loss) a->row_loss[start + i] = (float)(l * a->to_raw);
    }
}

dt_status dt_model_evaluate_with(dt_model *m, const dt_data *d, dt_split_id s, dt_batch_fn tf, void *tctx,
                                 dt_eval *res, int *pred, float *row_loss)
{
    /* Errors are reported in the targets' own units: with standardized
     * targets a squared error scales back by y_std^2 (the loss stays the
     * model's, in the units it trains on). */
    eval_acc a = {0, 0, m->spec.loss == DT_LOSS_MSE && d->targets_standardized ? d->y_std * d->y_std : 1.0, pred,
                  row_loss};
    dt_status st = dt_model_forward_split(m, d, s, m->loss, tf, tctx, eval_rows, &a);
    if (st) return st;
    size_t n = dt_data_split_size(d, s);
    res->n = n;
    res->loss = n ? a.loss / n : 0.0;
    res->error = n ? a.err / n : 0.0;
    return DT_OK;
}

double dt_error_se(double err, size_t n)
{
    if (n == 0) return 0.0;
    double p = err < 0 ? 0 : err > 1 ? 1 : err;
    double v = p * (1 - p);
    if (v < 1.0 / (double)n) v = 1.0 / (double)n; /* 0 errors still leaves about 1/n of doubt */
    return sqrt(v / (double)n);
}

/* Patience counts epochs that made no progress, and on a small split an
 * error one row worse is noise (one row of wine's 14 is 7 points): on error
 * alone wine stopped at epoch 4 of 50 while its validation loss had fallen
 * from 0.67 to 0.16, and went on to 0.01.  So an epoch whose error is within
 * two standard errors of the lowest seen and whose loss is the lowest seen
 * is still learning.  (The best epoch is still chosen by error.)  Regression
 * has no such noise floor: its error is its loss in raw units. */
int dt_fit_still_learning(int regression, const dt_eval *ev, double min_error, double min_loss)
{
    if (regression) return 0;
    return ev->error <= min_error + 2.0 * dt_error_se(min_error, ev->n) && ev->loss < min_loss;
}

long dt_steps_per_epoch(size_t n, size_t batch)
{
    if (batch == 0 || n <= batch) return 1;
    return (long)((n + batch - 1) / batch);
}

long dt_fit_steps(size_t n, size_t batch, int epochs, long max_steps)
{
    return max_steps > 0 ? max_steps : dt_steps_per_epoch(n, batch) * (epochs > 0 ? epochs : 0);
}

long dt_fit_planned_steps(const dt_data *d, const dt_fit_opts *opts, size_t batch)
{
    if (opts->fixed_rows) return dt_fit_steps(opts->n_fixed, opts->n_fixed, opts->epochs, opts->max_steps);
    return dt_fit_steps(dt_data_split_size(d, opts->train_split), batch, opts->epochs, opts->max_steps);
}

size_t dt_model_state_size(const dt_model *m) { return m->g->n_param_values + m->g->state_len; }

void dt_model_state_save(const dt_model *m, float *buf)
{
    const dt_graph *g = m->g;
    memcpy(buf, g->param_val, g->n_param_values * sizeof *buf);
    memcpy(buf + g->n_param_values, g->state_arena, g->state_len * sizeof *buf);
}

void dt_model_state_load(dt_model *m, const float *buf)
{
    dt_graph *g = m->g;
    memcpy(g->param_val, buf, g->n_param_values * sizeof *buf);
    memcpy(g->state_arena, buf + g->n_param_values, g->state_len * sizeof *buf);
}

/* The next training batch: the fixed rows, or the batcher's next batch
 * (starting the next epoch's order when this one is used up). */
static int next_batch(dt_batcher *bt, const dt_fit_opts *opts, size_t *rows, size_t *k, int *epoch_done)
{
    if (opts->fixed_rows) {
        if (*epoch_done) return 0;
        memcpy(rows, opts->fixed_rows, opts->n_fixed * sizeof *rows);
        *k = opts->n_fixed;
        *epoch_done = 1;
        return 1;
    }
    return dt_batcher_next(bt, rows, k);
}

/* Appends one epoch to the history.  The last entry may be an epoch off
 * the stride (the latest one); the next epoch replaces it.  A full array
 * keeps every other entry and doubles the stride. */
static void history_add(dt_fit_result *r, const dt_fit_epoch *h)
{
    int n = r->n_history;
    if (n > 0 && (r->history[n - 1].epoch - 1) % r->history_stride != 0) n--;
    if (n == DT_FIT_HISTORY) {
        int k = 0;
        for (int i = 0; i < n; i += 2) r->history[k++] = r->history[i];
        n = k;
        r->history_stride *= 2;
    }
    r->history[n++] = *h;
    r->n_history = n;
}

dt_status dt_model_fit(dt_model *m, dt_optimizer *o, const dt_data *d, const dt_fit_opts *opts,
                       dt_fit_result *res)
{
    memset(res, 0, sizeof *res);
    res->best_val_error = res->best_val_loss = INFINITY;
    res->history_stride = 1;
    size_t B = (size_t)m->g->max_batch, n = dt_data_split_size(d, opts->train_split);
    if (opts->fixed_rows) {
        if (opts->n_fixed == 0 || opts->n_fixed > B)
            return dt_fail(DT_EINTERNAL, "fit: a fixed batch of %zu rows for a model built for batches of %zu",
                           opts->n_fixed, B);
        n = B = opts->n_fixed;
    }
    int validate = opts->val_split != opts->train_split && dt_data_split_size(d, opts->val_split) > 0;
    long steps_per_epoch = dt_steps_per_epoch(n, B);
    long total = dt_fit_planned_steps(d, opts, B);
    int epochs = opts->max_steps > 0 ? (int)((total + steps_per_epoch - 1) / steps_per_epoch) : opts->epochs;
    dt_rng rng;
    dt_rng_seed(&rng, opts->seed);
    dt_batcher bt;
    dt_status st = dt_batcher_init(&bt, d, opts->train_split, B, 1, &rng);
    if (st) return st;
    size_t *rows = malloc(B * sizeof *rows);
    size_t state_n = dt_model_state_size(m);
    float *best = opts->restore_best && validate ? malloc(state_n * sizeof *best + 1) : NULL;
    if (!rows || (opts->restore_best && validate && !best)) {
        free(rows);
        free(best);
        dt_batcher_free(&bt);
        return dt_fail(DT_ENOMEM, "fit: out of memory");
    }
    int since_best = 0;
    double min_error = INFINITY, min_loss = INFINITY;
    for (int e = 1; e <= epochs && !st && res->steps < total; e++) {
        double sum = 0.0, wrong = 0.0;
        long count = 0;
        size_t rows_seen = 0;
        size_t k;
        int fixed_done = 0;
        while (res->steps < total && next_batch(&bt, opts, rows, &k, &fixed_done)) {
            float loss;
            st = dt_model_load_batch(m, d, opts->train_split, rows, k);
            if (!st && opts->transform) opts->transform(opts->transform_ctx, m, k, 1);
            if (!st) st = dt_model_train_step(m, o, &loss);
            if (st) break;
            res->steps++;
            sum += loss;
            count++;
            for (size_t r = 0; r < k; r++) {   /* the running train error, from this step's forward pass */
                int p;
                float l = row_loss_of(m, r, &p);
                wrong += regresses(m) ? l : p != dt_model_class_of(m, r);
            }
            rows_seen += k;
            if (opts->on_step) {
                dt_fit_step fs = {m, o, e, epochs, res->steps, total, loss, k};
                if (opts->on_step(opts->ctx, &fs)) res->stopped_by_hook = 1;
            }
            if (!isfinite(loss)) res->diverged = 1;
            if (res->diverged || res->stopped_by_hook) break;
        }
        /* A partial epoch (max_steps) must start the next fit fresh, not here. */
        res->epochs_run = e;
        res->last_train_loss = count ? sum / count : NAN;
        dt_fit_epoch h = {e, (float)res->last_train_loss, rows_seen ? (float)(wrong / (double)rows_seen) : NAN,
                          NAN, NAN};
        if (!st && (res->diverged || res->stopped_by_hook || !validate)) history_add(res, &h);
        if (st || res->diverged || res->stopped_by_hook) break;
        dt_fit_epoch_info fe = {e, res->last_train_loss, 0, NAN, NAN};
        if (validate) {
            dt_eval ev = {0};
            st = dt_model_evaluate_with(m, d, opts->val_split, opts->transform, opts->transform_ctx, &ev,
                                        NULL, NULL);
            if (st) break;
            h.val_loss = (float)ev.loss;
            h.val_error = (float)ev.error;
            history_add(res, &h);
            fe.validated = 1;
            fe.val_loss = ev.loss;
            fe.val_error = ev.error;
            if (opts->on_epoch && opts->on_epoch(opts->epoch_ctx, &fe)) {
                res->stopped_by_hook = 1;
                break;
            }
            /* Better: a lower error, or the same error at a lower loss.  The
             * loss breaks ties because error moves in steps: a model stuck
             * at one error while its loss falls (early epochs, small
             * validation sets) is still learning. */
            int better = ev.error < res->best_val_error ||
                         (ev.error == res->best_val_error && ev.loss < res->best_val_loss);
            int learning = dt_fit_still_learning(regresses(m), &ev, min_error, min_loss);
            min_error = fmin(min_error, ev.error);
            min_loss = fmin(min_loss, ev.loss);
            if (better) {
                res->best_val_error = ev.error;
                res->best_val_loss = ev.loss;
                res->best_epoch = e;
                since_best = 0;
                if (best) dt_model_state_save(m, best);
            } else if (learning) {
                since_best = 0;
            } else if (opts->patience > 0 && ++since_best >= opts->patience) {
                res->stopped_early = 1;
                break;
            }
        } else if (opts->on_epoch && opts->on_epoch(opts->epoch_ctx, &fe)) {
            res->stopped_by_hook = 1;
            break;
        }
    }
    /* Parameters and batch-norm running statistics together: the
     * statistics belong to the weights they were gathered with. */
    if (!st && best && res->best_epoch > 0 && !res->diverged) dt_model_state_load(m, best);
    free(rows);
    free(best);
    dt_batcher_free(&bt);
    return st;
}
