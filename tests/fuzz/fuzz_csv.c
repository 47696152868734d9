/* libFuzzer harness: CSV parser.  The first byte picks the options
 * (delimiter, header, label column, classification, slice column) so the
 * fuzzer explores every code path; the rest is the file. */
#include <stddef.h>
#include <stdint.h>

#include "dnntrouble/data.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1) return 0;
    static const char delims[] = {',', ';', ' ', '\t'};
    uint8_t b = data[0];
    dt_csv_options o = {delims[b & 3], (b >> 2) & 1, (b >> 3) & 1, (b >> 4) & 1 ? 0 : -1, NULL,
                        (b >> 5) & 1 ? "s" : NULL, (b >> 6) & 1};
    if (b >> 7) o.label_name = "y";
    dt_slice_table t = {0};
    dt_csv c;
    if (dt_csv_parse(data + 1, size - 1, "fuzz.csv", &o, &t, &c) == DT_OK) {
        volatile float last = c.x[c.rows * c.cols - 1];
        (void)last;
        dt_csv_free(&c);
    }
    dt_slice_table_free(&t);
    return 0;
}
