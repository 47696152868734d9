/* IDX files (the MNIST family): big-endian header, unsigned-byte payload. */
#include <stdlib.h>
#include <string.h>

#include "internal.h"

static uint32_t be32(const uint8_t *p)
{
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

/* Validates the header against the real length; on success sets the
 * dimensions and returns the payload offset in *hdr. */
static dt_status parse_header(const uint8_t *buf, size_t len, const char *name, dt_idx *out, size_t *hdr)
{
    memset(out, 0, sizeof *out);
    if (len < 4)
        return dt_fail(DT_EDATA, "%s: offset %zu: file too short for an IDX magic number (%zu bytes)", name,
                       len, len);
    uint32_t magic = be32(buf);
    if (magic != 0x00000801u && magic != 0x00000803u)
        return dt_fail(DT_EDATA,
                       "%s: offset 0: bad IDX magic 0x%08x (expected 0x00000801 labels or 0x00000803 images)",
                       name, (unsigned)magic);
    int ndim = (int)(magic & 0xff);
    *hdr = 4 + 4 * (size_t)ndim;
    if (len < *hdr)
        return dt_fail(DT_EDATA, "%s: offset %zu: truncated IDX header (needs %zu bytes)", name, len, *hdr);
    size_t total = 1;
    int overflow = 0;
    for (int i = 0; i < ndim; i++) {
        out->dims[i] = be32(buf + 4 + 4 * i);
        if (i > 0 && out->dims[i] == 0)
            return dt_fail(DT_EDATA, "%s: offset %d: dimension %d is 0", name, 4 + 4 * i, i);
        overflow |= __builtin_mul_overflow(total, (size_t)out->dims[i], &total);
    }
    out->ndim = ndim;
    out->count = out->dims[0];
    if (out->count == 0) return dt_fail(DT_EDATA, "%s: offset 4: header says 0 items", name);
    size_t have = len - *hdr;
    if (overflow || total > have)
        return dt_fail(DT_EDATA,
                       "%s: offset %zu: data ends early: header says %u items (%zu bytes), file has %zu bytes",
                       name, len, (unsigned)out->dims[0], overflow ? SIZE_MAX : total, have);
    if (total < have)
        return dt_fail(DT_EDATA, "%s: offset %zu: %zu trailing bytes after the %u items the header states",
                       name, *hdr + total, have - total, (unsigned)out->dims[0]);
    return DT_OK;
}

dt_status dt_idx_parse(const uint8_t *buf, size_t len, const char *name, dt_idx *out)
{
    size_t hdr;
    dt_status st = parse_header(buf, len, name, out, &hdr);
    if (st) return st;
    size_t n = len - hdr;
    out->data = malloc(n ? n : 1);
    if (!out->data) return dt_fail(DT_ENOMEM, "%s: out of memory", name);
    memcpy(out->data, buf + hdr, n);
    return DT_OK;
}

dt_status dt_idx_load(const char *path, dt_idx *out)
{
    uint8_t *buf;
    size_t len, hdr;
    memset(out, 0, sizeof *out);
    dt_status st = dt_read_file(path, DT_MAX_INPUT_BYTES, &buf, &len);
    if (st) return st;
    st = parse_header(buf, len, path, out, &hdr);
    if (st) { free(buf); return st; }
    /* Reuse the read buffer: shifting the payload down avoids a second
     * copy of e.g. 47 MB of MNIST pixels. */
    memmove(buf, buf + hdr, len - hdr);
    uint8_t *shrunk = realloc(buf, len - hdr);
    out->data = shrunk ? shrunk : buf;
    return DT_OK;
}

static dt_status load_kind(const char *path, dt_idx *out, int ndim, const char *what)
{
    dt_status st = dt_idx_load(path, out);
    if (st) return st;
    if (out->ndim != ndim) {
        dt_idx_free(out);
        return dt_fail(DT_EDATA, "%s: offset 0: expected an IDX %s file (magic 0x0000080%d)", path, what, ndim);
    }
    return DT_OK;
}

dt_status dt_idx_load_images(const char *path, dt_idx *out) { return load_kind(path, out, 3, "images"); }
dt_status dt_idx_load_labels(const char *path, dt_idx *out) { return load_kind(path, out, 1, "labels"); }

void dt_idx_free(dt_idx *x)
{
    free(x->data);
    memset(x, 0, sizeof *x);
}
