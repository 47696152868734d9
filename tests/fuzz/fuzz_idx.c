/* libFuzzer harness: IDX parser on arbitrary bytes (tools/fuzz.sh). */
#include <stddef.h>
#include <stdint.h>

#include "dnntrouble/data.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    dt_idx x;
    if (dt_idx_parse(data, size, "fuzz.idx", &x) == DT_OK) {
        /* Touch the payload end so ASan sees any wrong length. */
        volatile uint8_t last = x.data[x.count * (x.ndim == 3 ? (size_t)x.dims[1] * x.dims[2] : 1) - 1];
        (void)last;
        dt_idx_free(&x);
    }
    return 0;
}
