/* Helpers shared by the tests/test_data_*.c suites: a scratch folder under
 * /tmp, writing plain and gzip files into it, and error assertions. */
#ifndef TEST_DATA_UTIL_H
#define TEST_DATA_UTIL_H

#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <zlib.h>

#include "dnntrouble/data.h"

static char tdir[64];

static inline int rm_entry(const char *p, const struct stat *sb, int flag, struct FTW *ftw)
{
    (void)sb; (void)flag; (void)ftw;
    return remove(p);
}

static inline int tdir_setup(void **state)
{
    (void)state;
    strcpy(tdir, "/tmp/dt_data_test_XXXXXX");
    return mkdtemp(tdir) ? 0 : -1;
}

static inline int tdir_teardown(void **state)
{
    (void)state;
    return nftw(tdir, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
}

/* Path of `name` in the scratch folder (rotating static buffers). */
static inline const char *tpath(const char *name)
{
    static char bufs[8][256];
    static int k;
    char *b = bufs[k++ & 7];
    snprintf(b, 256, "%s/%s", tdir, name);
    return b;
}

/* Writes len bytes (gzip-compressed when name ends in .gz); returns the path. */
static inline const char *twrite(const char *name, const void *data, size_t len)
{
    const char *p = tpath(name);
    size_t n = strlen(name);
    if (n > 3 && !strcmp(name + n - 3, ".gz")) {
        gzFile g = gzopen(p, "wb");
        assert_non_null(g);
        if (len) assert_int_equal(gzwrite(g, data, (unsigned)len), (int)len);
        gzclose(g);
    } else {
        FILE *f = fopen(p, "wb");
        assert_non_null(f);
        if (len) assert_int_equal(fwrite(data, 1, len, f), len);
        fclose(f);
    }
    return p;
}

static inline const char *twrite_str(const char *name, const char *s) { return twrite(name, s, strlen(s)); }

/* Builds an .npy image: header dict `dict` (padded as numpy does) followed
 * by `len` payload bytes.  Returns the total length. */
static inline size_t make_npy(uint8_t *out, int version, const char *dict, const void *data, size_t len)
{
    size_t pre = version == 1 ? 10 : 12, dl = strlen(dict);
    size_t total = pre + dl + 1;
    size_t pad = (64 - total % 64) % 64, hl = dl + pad + 1;
    memcpy(out, "\x93NUMPY", 6);
    out[6] = (uint8_t)version;
    out[7] = 0;
    out[8] = (uint8_t)hl;
    out[9] = (uint8_t)(hl >> 8);
    if (version != 1) { out[10] = (uint8_t)(hl >> 16); out[11] = (uint8_t)(hl >> 24); }
    memcpy(out + pre, dict, dl);
    memset(out + pre + dl, ' ', pad);
    out[pre + dl + pad] = '\n';
    memcpy(out + pre + hl, data, len);
    return pre + hl + len;
}

/* Writes an .npy file with header dict `dict` and `len` payload bytes. */
static inline const char *write_npy(const char *name, int version, const char *dict, const void *data, size_t len)
{
    uint8_t *b = malloc(len + 256 + strlen(dict));
    assert_non_null(b);
    const char *p = twrite(name, b, make_npy(b, version, dict, data, len));
    free(b);
    return p;
}

/* Asserts a data error whose single message names `file` and contains `where`. */
#define assert_data_error(st, file, where) assert_error_msg((st), DT_EDATA, (file), (where))
static inline void assert_error_msg(dt_status st, dt_status want, const char *file, const char *where)
{
    const char *msg = dt_last_error();
    if (st != want || (file && !strstr(msg, file)) || (where && !strstr(msg, where)))
        print_error("status %s, message \"%s\"; wanted %s naming \"%s\" and \"%s\"\n", dt_status_name(st), msg,
                    dt_status_name(want), file ? file : "", where ? where : "");
    assert_int_equal(st, want);
    if (file) assert_non_null(strstr(msg, file));
    if (where) assert_non_null(strstr(msg, where));
}

/* A data spec with defaults and a fixed seed. */
static inline dt_data_spec tspec(dt_format f)
{
    dt_data_spec s;
    dt_data_spec_defaults(&s);
    s.format = f;
    s.seed = 7;
    return s;
}

#endif
