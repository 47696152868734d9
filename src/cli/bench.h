/* `dnntrouble bench` lives in bench.c (training throughput of the starter
 * models; see SPEC "Performance").  argv[0] is "bench"; the options follow.
 * Returns the process exit code. */
#ifndef DT_CLI_BENCH_H
#define DT_CLI_BENCH_H

int dt_cli_bench(int argc, char **argv);

#endif
