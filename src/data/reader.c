/* Whole-file reading through zlib, which passes plain files through
 * unchanged, so every loader accepts .gz for free. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <zlib.h>

#include "internal.h"

/* zlib's messages repeat the path ("f.gz: unexpected end of file"). */
static const char *zmsg(gzFile f, const char *path, int *zerr)
{
    const char *m = gzerror(f, zerr);
    size_t n = strlen(path);
    if (m && !strncmp(m, path, n) && m[n] == ':' && m[n + 1] == ' ') m += n + 2;
    return m ? m : "read error";
}

dt_status dt_read_file(const char *path, size_t cap, uint8_t **buf, size_t *len)
{
    *buf = NULL;
    *len = 0;
    struct stat sb;
    if (stat(path, &sb) == 0 && S_ISDIR(sb.st_mode)) return dt_fail(DT_EDATA, "%s: is a directory, not a file", path);
    gzFile f = gzopen(path, "rb");
    if (!f) return dt_fail(DT_EDATA, "%s: cannot open: %s", path, strerror(errno ? errno : ENOENT));
    gzbuffer(f, 1 << 17);
    /* Grow geometrically as bytes arrive: the allocation follows what the
     * file really holds, so a lying header can never make us allocate more. */
    size_t size = 0, capacity = 1 << 16;
    uint8_t *b = malloc(capacity);
    if (!b) { gzclose(f); return dt_fail(DT_ENOMEM, "%s: out of memory", path); }
    for (;;) {
        if (size == capacity) {
            if (capacity >= cap) {
                free(b);
                gzclose(f);
                return dt_fail(DT_EDATA, "%s: offset %zu: file is larger than the %zu-byte limit", path,
                               size, cap);
            }
            size_t nc = capacity * 2 > cap ? cap : capacity * 2;
            uint8_t *nb = realloc(b, nc);
            if (!nb) { free(b); gzclose(f); return dt_fail(DT_ENOMEM, "%s: out of memory at %zu bytes", path, size); }
            b = nb;
            capacity = nc;
        }
        /* Small reads keep the offset in an error message close to the damage. */
        size_t want = capacity - size;
        if (want > (1u << 16)) want = 1u << 16;
        int got = gzread(f, b + size, (unsigned)want);
        if (got < 0) {
            int zerr;
            const char *msg = zmsg(f, path, &zerr);
            long raw = (long)gzoffset(f);
            dt_status st = dt_fail(DT_EDATA, "%s: offset %zu (decompressed; compressed offset %ld): corrupt gzip stream: %s",
                                   path, size, raw, msg);
            free(b);
            gzclose(f);
            return st;
        }
        if (got == 0) break;
        size += (size_t)got;
    }
    /* zlib reports a stream cut short only through gzerror after EOF. */
    int zerr = Z_OK;
    const char *msg = zmsg(f, path, &zerr);
    if (zerr != Z_OK && zerr != Z_STREAM_END) {
        dt_status st = dt_fail(DT_EDATA, "%s: offset %zu (decompressed): truncated or corrupt gzip stream: %s",
                               path, size, msg);
        free(b);
        gzclose(f);
        return st;
    }
    gzclose(f);
    uint8_t *shrunk = realloc(b, size ? size : 1);
    *buf = shrunk ? shrunk : b;
    *len = size;
    return DT_OK;
}

void dt_slice_table_free(dt_slice_table *t)
{
    for (int i = 0; i < t->n; i++) free(t->names[i]);
    free(t->names);
    memset(t, 0, sizeof *t);
}
