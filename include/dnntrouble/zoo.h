/* The bug zoo (`dnntrouble zoo`, docs/zoo.md): known broken set-ups from
 * the fault-localisation literature, each planted on generated data, run
 * through the stages that should catch it, and scored against the finding
 * ids that should fire.  Clean cases measure false alarms.
 *
 * A case is one entry of dt_zoo_cases (src/stages/zoo_cases.c): the data
 * recipe (what is generated, and what is wrong with it), the config edits
 * that plant the bug (`--set` spellings: model.layers, init, optimizer ...),
 * the stages to run and the ids that detect it.  The runner writes each
 * case's data files (npy) and stage reports under OUT/cases/NAME/. */
#ifndef DT_ZOO_H
#define DT_ZOO_H

#include <stddef.h>

#include "dnntrouble/data_spec.h"
#include "dnntrouble/status.h"

typedef struct cJSON cJSON;

/* The generated data of a case, and the data bug planted in it.  Zero
 * fields mean "as generated". */
typedef struct dt_zoo_data {
    dt_generator generator;  /* spirals | blobs | shapes | sequences | pairs (the data module's generators) */
    int rows;                /* train-file rows in the full profile (0: 2400); the quick profile draws
                                half, and the test file has half as many as the train file */
    double noise;            /* the generator's noise (0: 0.3 for blobs, 0.1 otherwise) */
    int extra_features;      /* spirals, blobs: columns of N(0,1) noise after the two real features */
    int quantity_levels;     /* spirals, blobs: the label is the quantity x0 + 0.5 x1 rounded to this many
                                equal-width levels (ids in value order), not the class */
    double x_scale;          /* every input value multiplied by this (stored as float) */
    double label_noise;      /* share of train-file rows (exact) whose label moves to another class */
    int shuffle_labels;      /* train and test labels permuted against the inputs */
    double imbalance;        /* class k keeps its first imbalance^(-k/(K-1)) of train rows (max:min = imbalance) */
    double leak;             /* share of the test rows copied into the train file */
    double shift_degrees;    /* spirals, blobs: test features rotated by this angle (a shifted distribution) */
    int train_rows;          /* train file cut to this many rows (0: the profile's size) */
} dt_zoo_data;

#define DT_ZOO_MAX_SETS 12

typedef struct dt_zoo_case {
    const char *name;        /* a short id: lr-too-high */
    const char *source;      /* DeepFD | TheDeepChecker | AUTOTRAINER | DeepCrime | UMLAUT | FSDL (Tobin) | clean */
    const char *bug;         /* one line: what is planted */
    dt_zoo_data data;
    const char *sets[DT_ZOO_MAX_SETS];   /* KEY=VALUE config edits over the zoo's base config */
    const char *stages;      /* space-separated stage names, run in this order */
    const char *expected;    /* space-separated finding ids, any of which (as warning or error)
                                detects the case; "" for a clean case */
} dt_zoo_case;

extern const dt_zoo_case dt_zoo_cases[];
extern const int dt_n_zoo_cases;
/* The config every case starts from (KEY=VALUE, NULL-terminated). */
extern const char *const dt_zoo_base_sets[];

/* NULL when there is no case of that name. */
const dt_zoo_case *dt_zoo_find(const char *name);

typedef struct dt_zoo_options {
    const char *out_dir;     /* cases go to OUT/cases/NAME */
    int quick;               /* the quick profile: smaller data (make test) */
    unsigned long long seed;
    int threads;
} dt_zoo_options;

#define DT_ZOO_FIRED_LEN 512

typedef struct dt_zoo_result {
    const dt_zoo_case *c;
    char fired[DT_ZOO_FIRED_LEN];   /* warning/error ids that fired, space-separated, in stage order */
    int detected;            /* bug case: an expected id fired */
    int false_alarm;         /* clean case: some warning or error fired */
    int stopped;             /* a stage (or the case's config) stopped with an error status */
    char error[512];         /* its message */
    char detail[600];        /* "id: message" of an expected finding that fired (else the first alarm) */
    int detail_expected;
    double seconds;
} dt_zoo_result;

/* Builds the case's data and config and runs its stages.  A stage that
 * stops with an error is recorded in r (the case is then missed), not
 * returned; the status is for I/O and memory failures. */
dt_status dt_zoo_run_case(const dt_zoo_case *c, const dt_zoo_options *o, dt_zoo_result *r);

/* Counts over results: bug cases, detected, clean cases, false alarms;
 * recall = detected / bug cases, precision = detected / (detected + false
 * alarms) (1 when nothing was flagged). */
typedef struct dt_zoo_score {
    int bugs, detected, clean, false_alarms;
    double recall, precision;
    int passed;              /* every bug detected and no false alarm */
} dt_zoo_score;
dt_zoo_score dt_zoo_score_results(const dt_zoo_result *r, int n);

/* zoo.json: {schema_version, tool, profile, seed, cases: [...], score}. */
cJSON *dt_zoo_to_json(const dt_zoo_result *r, int n, const dt_zoo_options *o);
/* The table people read: a fixed-width text table with recall and
 * precision at the bottom, or the same as Markdown (docs/zoo.md).  Malloc'd. */
char *dt_zoo_table_text(const dt_zoo_result *r, int n);
char *dt_zoo_table_markdown(const dt_zoo_result *r, int n);
/* OUT/zoo.json, OUT/zoo.md and OUT/zoo.html (one self-contained page that
 * links each case's report.html), each written atomically. */
dt_status dt_zoo_write(const dt_zoo_result *r, int n, const dt_zoo_options *o);

#endif
