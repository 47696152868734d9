/* What the `data:` section of a config asks for: filled in by the config
 * module, consumed by the data module.  Plain values only; paths are as
 * written in the config, resolved relative to the config file's folder. */
#ifndef DT_DATA_SPEC_H
#define DT_DATA_SPEC_H

#include <stddef.h>

typedef enum { DT_FORMAT_IDX, DT_FORMAT_CSV, DT_FORMAT_NPY, DT_FORMAT_TEXT, DT_FORMAT_SYNTHETIC } dt_format;
typedef enum { DT_MODALITY_AUTO, DT_MODALITY_IMAGE, DT_MODALITY_SEQUENCE, DT_MODALITY_TABULAR } dt_modality;
typedef enum { DT_TASK_CLASSIFICATION, DT_TASK_REGRESSION } dt_task;
typedef enum { DT_GEN_SHAPES, DT_GEN_BLOBS, DT_GEN_SPIRALS, DT_GEN_SEQUENCES, DT_GEN_PAIRS } dt_generator;

#define DT_MAX_SUBSET_CLASSES 256
#define DT_MAX_CLASS_NAMES 256
#define DT_CLASS_NAME_LEN 128        /* bytes per name, with the NUL */
#define DT_CLASS_NAMES_BYTES 8192

/* Several inputs: npy `x` given as a map of named fields, one file each
 * (data.train.x: {image: a.npy, caption: b.npy}).  Names are identifiers
 * ([A-Za-z_][A-Za-z0-9_]*, at most DT_FIELD_NAME_LEN - 1 characters). */
#define DT_MAX_FIELDS 8
#define DT_FIELD_NAME_LEN 32

typedef struct dt_field_spec {
    char name[DT_FIELD_NAME_LEN];
    char path[1024];          /* the field's .npy file */
    dt_modality modality;     /* AUTO: from the array's dtype and shape */
    int line;                 /* config line it was given on (0: not from a file) */
} dt_field_spec;

/* One source (train or test).  Which fields count depends on the format. */
typedef struct dt_source_spec {
    int present;              /* 0: this source was not given (e.g. no data.test) */
    char images[1024];        /* idx: image file  (plain or .gz) */
    char labels[1024];        /* idx: label file */
    char path[1024];          /* csv / text: the file */
    char x[1024], y[1024];    /* npy: features and labels */
    int n_fields;             /* npy: > 0 when x is a map of named fields (then x is "") */
    dt_field_spec fields[DT_MAX_FIELDS];
} dt_source_spec;

typedef struct dt_data_spec {
    dt_format format;
    dt_task task;
    dt_modality modality;     /* AUTO until resolved by the data module */
    dt_source_spec train, test;
    /* csv */
    int csv_label_index;      /* used when csv_label_name is empty; negative counts from the end */
    char csv_label_name[256];
    int csv_header;           /* 1: first (non-skipped) row is a header */
    int csv_skip_rows;
    char csv_delimiter;
    char slice_column[256];   /* csv: optional column used for per-slice error analysis ("" = none) */
    /* text */
    int seq_len;
    /* synthetic */
    dt_generator generator;
    size_t samples;
    double noise;
    double label_noise;          /* share of labels replaced by another class (planted label errors) */
    int shuffle_labels;          /* labels permuted against the inputs (nothing left to learn) */
    /* splits, normalization, simplification */
    double train_val_fraction;   /* data.splits.train_val, held out of train */
    double test_val_fraction;    /* data.splits.test_val, carved out of test */
    int normalize;
    int standardize_targets;     /* regression: train the model on standardized targets */
    size_t subset_samples;       /* 0 = all */
    int subset_classes[DT_MAX_SUBSET_CLASSES];
    int n_subset_classes;        /* 0 = all classes */
    /* data.class_names: the name of label 0, 1, ... (original labels, before
     * a subset), n_class_names NUL-terminated strings one after another. */
    char class_names[DT_CLASS_NAMES_BYTES];
    int n_class_names;
    unsigned long long seed;
} dt_data_spec;

/* The name data.class_names gives label `label`, or NULL. */
static inline const char *dt_data_spec_class_name(const dt_data_spec *s, int label)
{
    if (label < 0 || label >= s->n_class_names) return 0;
    const char *p = s->class_names;
    for (int i = 0; i < label; i++)
        while (*p++) {}
    return p;
}

/* Defaults as documented in docs/config.md. */
void dt_data_spec_defaults(dt_data_spec *s);
/* How many input fields the data will have (1 for every single-input format). */
int dt_data_spec_fields(const dt_data_spec *s);

#endif
