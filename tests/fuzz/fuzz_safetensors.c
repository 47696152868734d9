/* libFuzzer harness: safetensors reader.  The input is parsed from memory
 * (dt_st_parse) and, written to a temp file, read from disk (dt_st_read);
 * both paths must agree on the status, the names and the values, and every
 * tensor's last value and every metadata entry of a file that reads is
 * looked at. */
#define _XOPEN_SOURCE 700   /* mkstemp */
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "dnntrouble/safetensors.h"

static char path[64];

static void remove_temp(void) { unlink(path); }

static void touch(const dt_st_file *f)
{
    for (int i = 0; i < f->n_tensors; i++) {
        const dt_st_tensor *t = &f->tensors[i];
        if (dt_st_get(f, t->name) != t) __builtin_trap();   /* names are unique */
        if (t->numel) {
            volatile float last = t->data[t->numel - 1];
            (void)last;
        }
    }
    for (int i = 0; i < f->n_meta; i++)
        if (!dt_st_meta(f, f->meta[i].key)) __builtin_trap();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (!path[0]) {
        /* tmpfs when there is one: a disk write per input is most of the time. */
        snprintf(path, sizeof path, "%s/fuzz_safetensors.XXXXXX", access("/dev/shm", W_OK) == 0 ? "/dev/shm" : "/tmp");
        int fd = mkstemp(path);
        if (fd < 0) abort();
        close(fd);
        atexit(remove_temp);
    }
    FILE *fp = fopen(path, "wb");
    if (!fp || fwrite(data, 1, size, fp) != size || fclose(fp) != 0) abort();

    dt_st_file *m = NULL, *f = NULL;
    dt_status sm = dt_st_parse(data, size, "fuzz.safetensors", &m);
    dt_status sf = dt_st_read(path, &f);
    if ((sm == DT_OK) != (sf == DT_OK)) __builtin_trap();
    if (sm == DT_OK) {
        if (m->n_tensors != f->n_tensors || m->n_meta != f->n_meta) __builtin_trap();
        for (int i = 0; i < m->n_tensors; i++)
            if (strcmp(m->tensors[i].name, f->tensors[i].name) != 0 || m->tensors[i].numel != f->tensors[i].numel ||
                memcmp(m->tensors[i].data, f->tensors[i].data, m->tensors[i].numel * sizeof(float)) != 0)
                __builtin_trap();
        touch(m);
        touch(f);
    }
    dt_st_free(m);
    dt_st_free(f);
    return 0;
}
