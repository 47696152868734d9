/* The data layer: loaders for IDX / CSV / NPY / text / generated data, the
 * four splits of SPEC (train, train_val, test_val, test), normalization
 * statistics from the train split, "simplify the problem" subsets, a data
 * profile for reports, and seeded batching.
 *
 * Fields (several inputs).  A sample is one or more named *fields*, each
 * with its own modality, per-sample shape and normalization:
 *
 *   int n = dt_data_n_fields(d);                      1 for every single-input format
 *   const dt_field *f = dt_data_field(d, i);          name, modality, tokens, vocab, shape, sample_dim
 *   int i = dt_data_field_index(d, "caption");        -1 when there is no such field
 *   dt_data_batch_field(d, split, i, rows, n, x);     n * f->sample_dim floats, normalized
 *   dt_data_batch_field_raw(d, split, i, rows, n, x); the same in raw stored units
 *   dt_data_batch_labels(d, split, rows, n, y);       n labels
 *   dt_data_field_norm_stats(d, i, &mean, &std);      the field's train statistics (0: not normalized)
 *
 * Every single-input format is one field named "x" with the shapes below;
 * npy `x` given as a map ({image: a.npy, caption: b.npy}) gives one field
 * per entry in the map's order; `synthetic: {generator: pairs}` gives the
 * fields "image" and "caption".  Shapes per sample: image {C,H,W}, sequence
 * {T,F}, tabular {D}, token sequence {T} (tokens = 1: integer ids in
 * [0, vocab), handed out as floats and never normalized).
 *
 * The single-input calls (dt_data_batch, dt_data_sample_shape, ...,
 * dt_data_norm_stats) describe field 0, with one exception kept until text
 * models read token ids: for text they give the one-hot view [T, V] while
 * field 0 ("x") gives the ids [T].
 *
 * Memory model: every source (train file set, test file set) is loaded once
 * and kept in its stored type (uint8 images stay uint8, text stays one byte
 * per character); splits are lists of row indices into a source, and
 * normalization / one-hot expansion happen only when a batch is fetched.
 *
 * Errors: every function that can fail returns dt_status and leaves one
 * message (dt_last_error) naming the file and the byte offset or line/column.
 * Malformed input is DT_EDATA; a request the config cannot satisfy (label
 * column name not in the header, impossible modality) is DT_ECONFIG.
 * See docs/data.md. */
#ifndef DT_DATA_H
#define DT_DATA_H

#include <stddef.h>
#include <stdint.h>

#include "dnntrouble/data_spec.h"
#include "dnntrouble/rng.h"
#include "dnntrouble/status.h"

#define DT_MAX_CLASSES 256          /* class labels are integers in [0, 255] */
#define DT_MAX_INPUT_BYTES ((size_t)1 << 32)  /* cap on one (decompressed) input file */
#define DT_HOLDOUT_FRACTION 0.2     /* share of train carved out as test source when data.test is absent */
#define DT_DUP_EXAMPLES 5
#define DT_MAX_VOCAB (1 << 20)      /* token ids must be below this (an embedding table of that many rows) */

typedef enum { DT_SPLIT_TRAIN, DT_SPLIT_TRAIN_VAL, DT_SPLIT_TEST_VAL, DT_SPLIT_TEST, DT_SPLIT_COUNT } dt_split_id;

/* Name of a split as used in reports: "train", "train_val", "test_val", "test". */
const char *dt_split_name(dt_split_id s);

/* ---------------------------------------------------------------- files */

/* Reads a whole file, plain or gzip (zlib detects which), into a malloc'd
 * buffer.  The buffer grows as data arrives, so its size is bounded by what
 * the file really holds (never by a header's claim) and by `cap` bytes.
 * Errors: missing/unreadable file, truncated or corrupt gzip (with the
 * decompressed offset), more than `cap` bytes. */
dt_status dt_read_file(const char *path, size_t cap, uint8_t **buf, size_t *len);

/* Distinct string values of a CSV slice column, shared by train and test so
 * that ids mean the same in both. */
typedef struct dt_slice_table {
    char **names;
    int n, cap;
} dt_slice_table;
void dt_slice_table_free(dt_slice_table *t);

/* ----------------------------------------------------------------- IDX */

/* An IDX array of unsigned bytes: 1-D (labels: dims[0] = count) or 3-D
 * (images: dims = {count, rows, cols}). */
typedef struct dt_idx {
    int ndim;
    uint32_t dims[3];
    size_t count;        /* dims[0] */
    uint8_t *data;       /* count * dims[1] * dims[2] bytes (malloc'd) */
} dt_idx;

/* Parses an IDX file held in memory (copies the payload).  Accepts magic
 * 0x00000801 (labels) and 0x00000803 (images); checks that the payload has
 * exactly the length the header states.  `name` is used in messages. */
dt_status dt_idx_parse(const uint8_t *buf, size_t len, const char *name, dt_idx *out);
/* Reads and parses an IDX file (plain or .gz) without copying the payload. */
dt_status dt_idx_load(const char *path, dt_idx *out);
/* dt_idx_load that also requires images (3-D) / labels (1-D). */
dt_status dt_idx_load_images(const char *path, dt_idx *out);
dt_status dt_idx_load_labels(const char *path, dt_idx *out);
void dt_idx_free(dt_idx *x);

/* ----------------------------------------------------------------- CSV */

#define DT_CSV_NO_LABEL (-2147483647 - 1)   /* label_index: file has no label column */

typedef struct dt_csv_options {
    char delimiter;          /* ' ' means: runs of blanks separate fields */
    int header;              /* first row after skip_rows holds column names */
    int skip_rows;           /* lines skipped before anything else */
    int label_index;         /* used when label_name is NULL/""; negative counts from the end */
    const char *label_name;  /* label column by header name */
    const char *slice_column;/* optional string column kept as slice ids (needs header) */
    int classification;      /* labels must be integers in [0, DT_MAX_CLASSES) */
} dt_csv_options;

typedef struct dt_csv {
    size_t rows, cols;       /* cols = number of feature columns */
    float *x;                /* rows * cols */
    float *y;                /* rows, or NULL with DT_CSV_NO_LABEL */
    int *slice;              /* rows slice ids, or NULL */
} dt_csv;

/* Parses CSV text held in memory.  LF or CRLF, blank lines skipped, simple
 * double quotes ("a,b", "" for a quote) on one line.  Every feature cell
 * must be a finite number.  `slices` collects slice-column values (may be
 * NULL when o->slice_column is empty). */
dt_status dt_csv_parse(const uint8_t *buf, size_t len, const char *name, const dt_csv_options *o,
                       dt_slice_table *slices, dt_csv *out);
dt_status dt_csv_load(const char *path, const dt_csv_options *o, dt_slice_table *slices, dt_csv *out);
void dt_csv_free(dt_csv *c);

/* ----------------------------------------------------------------- NPY */

typedef enum { DT_NPY_F4, DT_NPY_F8, DT_NPY_U1, DT_NPY_I4, DT_NPY_I8 } dt_npy_dtype;

typedef struct dt_npy {
    dt_npy_dtype dtype;      /* as stored in the file */
    int ndim;
    size_t shape[8];
    size_t count;            /* product of shape */
    size_t data_offset;      /* byte offset of element 0 in the file */
    size_t itemsize;         /* bytes per stored element */
    uint8_t *u8;             /* |u1 data kept as bytes ... */
    float *f32;              /* ... every other dtype converted to float32 */
} dt_npy;

/* Parses an .npy file (format versions 1-3) held in memory: dtypes <f4 <f8
 * |u1 <i4 <i8, C order only; the payload must match the shape exactly. */
dt_status dt_npy_parse(const uint8_t *buf, size_t len, const char *name, dt_npy *out);
dt_status dt_npy_load(const char *path, dt_npy *out);
void dt_npy_free(dt_npy *a);

/* ---------------------------------------------------------------- text */

/* Byte-level vocabulary.  ids are dense in byte order; `unk` (>= 0 when
 * present) is the id given to bytes that are not in the vocabulary. */
typedef struct dt_vocab {
    int size;
    int id_of[256];          /* -1: not in the vocabulary */
    uint8_t byte_of[257];    /* inverse map (the unk id maps to '?') */
    int unk;
} dt_vocab;

typedef struct dt_text {
    uint8_t *ids;            /* corpus as vocabulary ids */
    size_t len;
    size_t unknown;          /* bytes mapped to vocab->unk */
} dt_text;

/* Builds the vocabulary from the bytes of a (train) corpus. */
void dt_vocab_build(dt_vocab *v, const uint8_t *buf, size_t len);
/* Maps a corpus to ids with `v`; bytes not in `v` get an unknown id, which
 * is added to `v` on first need.  Fails when len < seq_len + 1. */
dt_status dt_text_parse(const uint8_t *buf, size_t len, const char *name, int seq_len, dt_vocab *v,
                        dt_text *out);
dt_status dt_text_load(const char *path, int seq_len, dt_vocab *v, int build_vocab, dt_text *out);
void dt_text_free(dt_text *t);

/* ----------------------------------------------------------- generated */

/* Sizes of the generated problems (see docs/data.md for their design). */
#define DT_SHAPES_CLASSES 4      /* square outline, disk, triangle, cross; 1x28x28 */
#define DT_BLOBS_CLASSES 4
#define DT_BLOBS_FEATURES 2
#define DT_SPIRALS_CLASSES 3
#define DT_SEQ_CLASSES 4
#define DT_SEQ_STEPS 12
/* pairs: field "image" 1 x DT_PAIRS_SIDE x DT_PAIRS_SIDE uint8 (a bar in one
 * of 4 orientations) and field "caption", DT_PAIRS_STEPS token ids with one
 * marker (ids 0..3) among fillers (4..DT_PAIRS_VOCAB-1); label =
 * (orientation + marker) mod DT_PAIRS_CLASSES, so each field alone is at chance. */
#define DT_PAIRS_CLASSES 4
#define DT_PAIRS_SIDE 16
#define DT_PAIRS_STEPS 10
#define DT_PAIRS_VOCAB 16

/* ------------------------------------------------------------ dataset */

/* One field of a sample: what a model input binds to.  Read-only. */
typedef struct dt_field {
    char name[DT_FIELD_NAME_LEN];  /* "x" for single-input data; the map key for npy x maps */
    dt_modality modality;    /* image | sequence | tabular (never AUTO); token sequences are sequence */
    int tokens;              /* 1: integer token ids [T], never normalized */
    int vocab;               /* tokens: ids are in [0, vocab) (max id + 1 over train and test, or the text vocabulary) */
    int ndim;
    int shape[3];            /* per sample: {C,H,W}, {T,F}, {T} (tokens) or {D} */
    size_t sample_dim;
    int inputs_u8;           /* stored as uint8 */
    int normalized;          /* batches of this field are standardized */
    int n_norm;              /* statistics: per channel (image), feature per step (sequence), feature (tabular) */
    size_t norm_div;         /* element e uses statistic (e / norm_div) % n_norm */
    float *mean, *std;       /* n_norm values in raw units (std 0 replaced by 1); NULL for tokens */
} dt_field;

/* Stored values of one field of one source. */
typedef struct dt_field_store {
    uint8_t *u8;             /* n * sample_dim bytes, or NULL ... */
    float *f32;              /* ... n * sample_dim floats (text: neither, ids come from the corpus) */
    char file[1040];         /* the file it came from, for messages */
    size_t data_offset, itemsize;  /* npy: where element 0 is and its stored size, for messages */
} dt_field_store;

/* One loaded source: the train file set or the test file set. */
typedef struct dt_data_source {
    size_t n;                /* samples */
    dt_field_store fx[DT_MAX_FIELDS];  /* per field (dt_data.n_fields of them) */
    uint8_t *text;           /* text: corpus as vocab ids; sample i = text[i*stride ..+seq_len) */
    size_t text_len, stride;
    float *y;                /* n labels: class index (after subset) or regression target */
    int *slice;              /* n slice ids, or NULL */
    char name[1040];         /* file named in messages (the features / first field's file) */
} dt_data_source;

/* Train-split statistics of one field (or of the single-input view). */
typedef struct dt_field_profile {
    int n_stats;             /* channels (image), features (tabular / per step); 1 for tokens (the ids) */
    float *min, *max, *mean, *std;
    size_t nan_count;        /* non-finite input values over all splits */
    size_t constant_features;/* input elements constant over the train split */
    size_t input_elements;   /* sample_dim */
} dt_field_profile;

/* Numbers for reports (start-simple, debug).  Statistics are over the train
 * split in raw stored units; one entry per image channel / feature.  The
 * top-level statistics describe what dt_data_batch hands out (field 0; for
 * text the one-hot view); nan_count, constant_features and input_elements
 * are totals over every field.  fields[i] has each field's own. */
typedef struct dt_data_profile {
    size_t split_count[DT_SPLIT_COUNT];
    size_t *class_count;     /* [split * classes + class]; NULL for regression */
    int n_stats;             /* channels (image) or features (tabular / per step) */
    float *min, *max, *mean, *std;
    size_t nan_count;        /* non-finite input values over all splits */
    double label_min, label_max;
    size_t duplicates;       /* test_val+test samples whose input bytes (every field) equal a train sample's */
    int n_dup_examples;
    struct { dt_split_id split; size_t row; size_t train_row; } dup_examples[DT_DUP_EXAMPLES];
    size_t constant_features;/* input elements (pixels, features) constant over the train split */
    size_t input_elements;   /* sample_dim, for context */
    int n_fields;
    dt_field_profile fields[DT_MAX_FIELDS];
} dt_data_profile;

/* A loaded, split, normalized dataset.  Fields are documented for reading;
 * change them only through the functions below. */
typedef struct dt_data {
    dt_format format;
    dt_task task;
    int n_fields;            /* >= 1 */
    dt_field fields[DT_MAX_FIELDS];
    /* The single-input view (dt_data_batch): field 0, or the one-hot text view. */
    dt_modality modality;    /* resolved: never AUTO */
    int ndim;
    int shape[4];            /* per-sample shape: {C,H,W}, {T,F} or {D} */
    size_t sample_dim;
    int classes;             /* classification: classes after subset; regression: 1 */
    int inputs_u8;           /* stored inputs are uint8 */
    int shift_measurable;    /* 0 when test_val/test were carved from train */
    int normalized;          /* batches are standardized */
    int n_norm;              /* == profile.n_stats */
    size_t norm_div;         /* element e uses statistic (e / norm_div) % n_norm */
    float *mean, *std;       /* n_norm values in raw units (std 0 replaced by 1) */
    /* Regression targets standardized with train statistics (data.standardize_targets):
     * dt_data_batch_labels hands out (y - y_mean) / y_std; dt_data_label stays raw. */
    int targets_standardized;
    double y_mean, y_std;
    dt_data_source src[2];   /* 0: train source, 1: test source (may be empty) */
    size_t *rows[DT_SPLIT_COUNT];
    size_t count[DT_SPLIT_COUNT];
    int split_src[DT_SPLIT_COUNT];
    int class_map[DT_MAX_CLASSES];  /* subset: new class -> original label */
    int n_class_map;                /* 0: no class subset */
    dt_slice_table slices;
    dt_vocab vocab;                 /* text only */
    float *y_override[DT_SPLIT_COUNT];  /* dt_data_shuffle_labels */
    dt_data_profile profile;
} dt_data;

/* Defaults as documented in docs/config.md (splits 0.1 / 0.5, normalize on,
 * csv: label -1, header on, ',' ...). */
void dt_data_spec_defaults(dt_data_spec *s);

/* Loads the sources named in `spec` (relative paths resolved against
 * base_dir, which may be NULL or ""), resolves the modality, applies the
 * subset, makes the four splits, computes normalization and the profile. */
dt_status dt_data_load(const dt_data_spec *spec, const char *base_dir, dt_data **out);
void dt_data_free(dt_data *d);

size_t dt_data_split_size(const dt_data *d, dt_split_id s);

/* Fields (see the top of this file).  Indices run 0..dt_data_n_fields()-1. */
int dt_data_n_fields(const dt_data *d);
const dt_field *dt_data_field(const dt_data *d, int i);          /* NULL when i is out of range */
int dt_data_field_index(const dt_data *d, const char *name);     /* -1 when there is no such field */
/* x: n * field sample_dim floats for rows[0..n) of split s, normalized when
 * the field is (token ids as floats, never normalized). */
void dt_data_batch_field(const dt_data *d, dt_split_id s, int field, const size_t *rows, size_t n, float *x);
void dt_data_batch_field_raw(const dt_data *d, dt_split_id s, int field, const size_t *rows, size_t n, float *x);
/* y: n labels (class index or regression target). */
void dt_data_batch_labels(const dt_data *d, dt_split_id s, const size_t *rows, size_t n, float *y);
/* The field's normalization statistics (n values each, raw units); returns
 * n, or 0 when the field is not normalized (tokens, normalize: false). */
int dt_data_field_norm_stats(const dt_data *d, int field, const float **mean, const float **std);

/* The single-input view: field 0 (text: one-hot steps [T, V]). */
int dt_data_sample_ndim(const dt_data *d);
const int *dt_data_sample_shape(const dt_data *d);
size_t dt_data_sample_dim(const dt_data *d);
int dt_data_classes(const dt_data *d);
dt_modality dt_data_modality(const dt_data *d);
/* Normalization statistics (n values each, raw units: x = (raw - mean) / std)
 * for checkpoint metadata; returns n (0 when normalization is off). */
int dt_data_norm_stats(const dt_data *d, const float **mean, const float **std);
const dt_data_profile *dt_data_get_profile(const dt_data *d);

/* Fills x (n * sample_dim floats, normalized when d->normalized) and y (n
 * floats; may be NULL) for rows[0..n) of split s (row = index within the split). */
void dt_data_batch(const dt_data *d, dt_split_id s, const size_t *rows, size_t n, float *x, float *y);
/* The same without normalization (raw units), e.g. to check input scale. */
void dt_data_batch_raw(const dt_data *d, dt_split_id s, const size_t *rows, size_t n, float *x, float *y);
/* Label of one row (class index or target). */
float dt_data_label(const dt_data *d, dt_split_id s, size_t row);
/* Slice id of one row (-1 without a slice column) and the name of an id. */
int dt_data_slice(const dt_data *d, dt_split_id s, size_t row);
const char *dt_data_slice_name(const dt_data *d, int id);
/* Original label of a (possibly relabelled) class. */
int dt_data_original_class(const dt_data *d, int cls);

/* Experiments: replace the labels of split s by a seeded permutation of
 * themselves (a broken setup a model must not learn), and undo it. */
dt_status dt_data_shuffle_labels(dt_data *d, dt_split_id s, dt_rng *rng);
void dt_data_restore_labels(dt_data *d, dt_split_id s);

/* ------------------------------------------------------------ batching */

/* Walks one split in batches; an epoch visits every row once, in a fresh
 * seeded order when shuffle is on. */
typedef struct dt_batcher {
    const dt_data *d;
    dt_split_id split;
    size_t batch, n, pos;
    int shuffle;
    dt_rng *rng;
    size_t *order;
} dt_batcher;

dt_status dt_batcher_init(dt_batcher *b, const dt_data *d, dt_split_id s, size_t batch, int shuffle,
                          dt_rng *rng);
/* Writes up to b->batch row indices to rows_out and their number to n_out;
 * returns 1, or 0 at the end of an epoch (the next call starts a new one). */
int dt_batcher_next(dt_batcher *b, size_t *rows_out, size_t *n_out);
void dt_batcher_free(dt_batcher *b);

#endif
