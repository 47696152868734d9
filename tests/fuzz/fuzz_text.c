/* libFuzzer harness: text corpus.  Byte 0 is seq_len, byte 1 splits the
 * rest into a train corpus (builds the vocabulary) and a test corpus
 * (exercises unknown characters). */
#include <stddef.h>
#include <stdint.h>

#include "dnntrouble/data.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 2) return 0;
    int seq_len = data[0] % 40;
    size_t rest = size - 2, cut = rest ? data[1] % (rest + 1) : 0;
    const uint8_t *train = data + 2, *test = train + cut;
    dt_vocab v;
    dt_text a, b;
    dt_vocab_build(&v, train, cut);
    if (dt_text_parse(train, cut, "train.txt", seq_len, &v, &a) == DT_OK) {
        if (dt_text_parse(test, rest - cut, "test.txt", seq_len, &v, &b) == DT_OK) {
            for (size_t i = 0; i < b.len; i++)
                if (b.ids[i] >= v.size) __builtin_trap();
            dt_text_free(&b);
        }
        dt_text_free(&a);
    }
    return 0;
}
