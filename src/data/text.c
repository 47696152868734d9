/* Character corpora for next-character classification.  The corpus is
 * stored once as vocabulary ids (one byte each); a sample is a window of
 * seq_len ids and its label the id that follows, one-hot expanded only when
 * a batch is fetched. */
#include <stdlib.h>
#include <string.h>

#include "internal.h"

void dt_vocab_build(dt_vocab *v, const uint8_t *buf, size_t len)
{
    int seen[256] = {0};
    for (size_t i = 0; i < len; i++) seen[buf[i]] = 1;
    memset(v, 0, sizeof *v);
    v->unk = -1;
    for (int b = 0; b < 256; b++) {
        v->id_of[b] = -1;
        if (seen[b]) {
            v->id_of[b] = v->size;
            v->byte_of[v->size++] = (uint8_t)b;
        }
    }
}

dt_status dt_text_parse(const uint8_t *buf, size_t len, const char *name, int seq_len, dt_vocab *v,
                        dt_text *out)
{
    memset(out, 0, sizeof *out);
    if (seq_len < 1) return dt_fail(DT_ECONFIG, "%s: seq_len must be at least 1 (got %d)", name, seq_len);
    if (len < (size_t)seq_len + 1)
        return dt_fail(DT_EDATA, "%s: offset %zu: text is shorter than seq_len + 1 = %d characters", name, len,
                       seq_len + 1);
    if (!(out->ids = malloc(len))) return dt_fail(DT_ENOMEM, "%s: out of memory", name);
    for (size_t i = 0; i < len; i++) {
        int id = v->id_of[buf[i]];
        if (id < 0) {
            /* A byte the train corpus never showed: one shared "unknown"
             * id, added on first need (it exists only if such bytes do). */
            if (v->unk < 0) {
                v->unk = v->size;
                v->byte_of[v->size++] = '?';
            }
            id = v->unk;
            out->unknown++;
        }
        out->ids[i] = (uint8_t)id;
    }
    out->len = len;
    return DT_OK;
}

dt_status dt_text_load(const char *path, int seq_len, dt_vocab *v, int build_vocab, dt_text *out)
{
    uint8_t *buf;
    size_t len;
    memset(out, 0, sizeof *out);
    dt_status st = dt_read_file(path, DT_MAX_INPUT_BYTES, &buf, &len);
    if (st) return st;
    if (len == 0) { free(buf); return dt_fail(DT_EDATA, "%s: offset 0: empty file", path); }
    if (build_vocab) dt_vocab_build(v, buf, len);
    st = dt_text_parse(buf, len, path, seq_len, v, out);
    free(buf);
    return st;
}

void dt_text_free(dt_text *t)
{
    free(t->ids);
    memset(t, 0, sizeof *t);
}
