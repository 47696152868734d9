/* Defaults of the `data:` section (docs/config.md). */
#include <string.h>

#include "dnntrouble/data.h"

void dt_data_spec_defaults(dt_data_spec *s)
{
    memset(s, 0, sizeof *s);
    s->format = DT_FORMAT_SYNTHETIC;
    s->task = DT_TASK_CLASSIFICATION;
    s->modality = DT_MODALITY_AUTO;
    s->csv_label_index = -1;
    s->csv_header = 1;
    s->csv_delimiter = ',';
    s->seq_len = 32;
    s->generator = DT_GEN_BLOBS;
    s->samples = 3000;
    s->noise = 0.1;
    s->train_val_fraction = 0.1;
    s->test_val_fraction = 0.5;
    s->normalize = 1;
    s->standardize_targets = 1;
}

int dt_data_spec_fields(const dt_data_spec *s)
{
    if (s->format == DT_FORMAT_SYNTHETIC && s->generator == DT_GEN_PAIRS) return 2;   /* image, caption */
    if (s->format == DT_FORMAT_NPY && s->train.n_fields > 0) return s->train.n_fields;
    return 1;
}
