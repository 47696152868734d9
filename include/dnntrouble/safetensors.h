/* safetensors files (the Hugging Face format PyTorch users load with
 * safetensors.torch.load_file), float32 tensors only.
 *
 * Layout: 8 bytes little-endian u64 N, then N bytes of JSON
 *     {"name": {"dtype": "F32", "shape": [2,3], "data_offsets": [begin, end]}, ...,
 *      "__metadata__": {"key": "string value", ...}}
 * then the data block; offsets are relative to the start of the data block
 * and every value is little-endian.
 *
 * The reader trusts nothing in the file: the header length is checked against
 * the file size before anything is allocated, the JSON is parsed with cJSON,
 * every tensor must be F32 with shape product x 4 == end - begin, lie within
 * the data block and not overlap another tensor, names are unique and the
 * metadata values are strings.  Any problem is DT_EDATA with a message naming
 * the file and the byte offset or the tensor.  Memory is bounded by the file
 * size, whatever the header claims.
 *
 * The writer lays tensors out in the given order (the header is padded with
 * spaces to a multiple of 8 bytes so the data is aligned) and replaces the
 * target atomically (temp file in the same folder, fsync, rename): a reader
 * sees the old file or the new one, never a part. */
#ifndef DT_SAFETENSORS_H
#define DT_SAFETENSORS_H

#include <stddef.h>
#include <stdint.h>

#include "dnntrouble/status.h"

#define DT_ST_MAX_DIMS 8
/* Largest header accepted (the reference implementation's limit). */
#define DT_ST_MAX_HEADER 100000000u

typedef struct dt_st_tensor {
    const char *name;
    int ndim;                        /* 0 (scalar) .. DT_ST_MAX_DIMS */
    int64_t shape[DT_ST_MAX_DIMS];
    size_t numel;                    /* product of shape (1 for a scalar); set by the reader */
    float *data;                     /* numel values in host order */
} dt_st_tensor;

typedef struct dt_st_kv {
    const char *key, *value;
} dt_st_kv;

typedef struct dt_st_file {
    int n_tensors;
    dt_st_tensor *tensors;           /* in data order (ascending offsets) */
    int n_meta;
    dt_st_kv *meta;                  /* __metadata__, in file order */
    /* private: the storage the pointers above refer to */
    char *strings_;
    float *data_;
} dt_st_file;

/* Reads and validates a whole file.  On success *out owns everything; free
 * with dt_st_free.  On failure *out is NULL. */
dt_status dt_st_read(const char *path, dt_st_file **out);
/* The same over bytes already in memory; `label` names them in messages. */
dt_status dt_st_parse(const void *buf, size_t len, const char *label, dt_st_file **out);
void dt_st_free(dt_st_file *f);

/* NULL when absent. */
const dt_st_tensor *dt_st_get(const dt_st_file *f, const char *name);
const char *dt_st_meta(const dt_st_file *f, const char *key);

/* Writes n tensors (name, ndim, shape, data; numel is ignored and taken from
 * shape) in the given order plus n_meta metadata strings.  Names must be
 * non-empty, unique and not "__metadata__".  DT_EINTERNAL for bad arguments,
 * DT_ENOMEM, DT_EIO for a failed write (the target is then untouched). */
dt_status dt_st_write(const char *path, const dt_st_tensor *tensors, int n, const dt_st_kv *meta,
                      int n_meta);

/* "[2,3,4]" (shape of a tensor), truncated to fit len. */
const char *dt_st_shape_str(const int64_t *shape, int ndim, char *buf, size_t len);

#endif
