/* libFuzzer harness: NPY parser on arbitrary bytes (tools/fuzz.sh). */
#include <stddef.h>
#include <stdint.h>

#include "dnntrouble/data.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    dt_npy a;
    if (dt_npy_parse(data, size, "fuzz.npy", &a) == DT_OK) {
        if (a.count) {
            volatile float last = a.u8 ? a.u8[a.count - 1] : a.f32[a.count - 1];
            (void)last;
        }
        dt_npy_free(&a);
    }
    return 0;
}
