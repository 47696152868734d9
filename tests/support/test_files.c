#define _XOPEN_SOURCE 700
#include "test_files.h"

#include <ftw.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

void dt_test_tmpdir(char *dir, size_t size)
{
    const char *base = getenv("TMPDIR");
    snprintf(dir, size, "%s/dnntrouble-test-XXXXXX", base && *base ? base : "/tmp");
    if (!mkdtemp(dir)) {
        perror("mkdtemp");
        abort();
    }
}

void dt_test_write(const char *dir, const char *name, const char *text, char *path, size_t size)
{
    snprintf(path, size, "%s/%s", dir, name);
    FILE *f = fopen(path, "wb");
    if (!f) {
        perror(path);
        abort();
    }
    fputs(text, f);
    fclose(f);
}

char *dt_test_read(const char *path)
{
    FILE *f = fopen(path, "rb");
    if (!f) return NULL;
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fseek(f, 0, SEEK_SET);
    char *buf = malloc((size_t)n + 1);
    size_t got = fread(buf, 1, (size_t)n, f);
    fclose(f);
    buf[got] = '\0';
    return buf;
}

static int rm_one(const char *path, const struct stat *sb, int flag, struct FTW *ftw)
{
    (void)sb;
    (void)flag;
    (void)ftw;
    return remove(path);
}

void dt_test_rmtree(const char *dir)
{
    nftw(dir, rm_one, 16, FTW_DEPTH | FTW_PHYS);
}

void dt_test_write_npy(const char *path, const char *descr, const char *shape, const void *data, size_t bytes)
{
    char dict[256];
    snprintf(dict, sizeof dict, "{'descr': '%s', 'fortran_order': False, 'shape': %s, }", descr, shape);
    size_t hl = strlen(dict) + 1, pad = (64 - (10 + hl) % 64) % 64;
    FILE *f = fopen(path, "wb");
    if (!f) {
        perror(path);
        abort();
    }
    unsigned short h = (unsigned short)(hl + pad);
    fwrite("\x93NUMPY\x01\x00", 1, 8, f);
    fwrite(&h, 2, 1, f);
    fputs(dict, f);
    for (size_t i = 0; i < pad; i++) fputc(' ', f);
    fputc('\n', f);
    fwrite(data, 1, bytes, f);
    fclose(f);
}

const char *dt_test_data_root(void)
{
    const char *e = getenv("DNNTROUBLE_DATA");
    return e && *e ? e : "../shared/data";
}

void dt_test_tool_path(const char *argv0, char *out, size_t size)
{
    char self[4096], rel[4096 + 16];
    snprintf(self, sizeof self, "%s", argv0 ? argv0 : "");
    char *slash = strrchr(self, '/');
    if (slash) *slash = '\0';
    else snprintf(self, sizeof self, ".");
    snprintf(rel, sizeof rel, "%s/../dnntrouble", self);
    char abs[PATH_MAX];
    snprintf(out, size, "%s", realpath(rel, abs) ? abs : rel);
}

int dt_test_under_valgrind(void) { return getenv("DT_UNDER_VALGRIND") != NULL; }
