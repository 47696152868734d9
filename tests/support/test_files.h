/* Temporary folders and files for tests (never inside the repo). */
#ifndef DT_TEST_FILES_H
#define DT_TEST_FILES_H

#include <stddef.h>

/* Creates a fresh folder under $TMPDIR (or /tmp); dir gets its path. */
void dt_test_tmpdir(char *dir, size_t size);
/* Writes text to DIR/NAME; path gets the full path. */
void dt_test_write(const char *dir, const char *name, const char *text, char *path, size_t size);
/* Reads a whole file (malloc'd, NUL-terminated), NULL when missing. */
char *dt_test_read(const char *path);
/* An .npy file (format 1.0): descr "<f4", "<i8", "|u1" ...; shape as numpy
 * writes it, e.g. "(3, 1, 16, 16)" or "(5,)"; bytes of raw little-endian data. */
void dt_test_write_npy(const char *path, const char *descr, const char *shape, const void *data, size_t bytes);
/* Where the real datasets are: $DNNTROUBLE_DATA (as the shipped configs read
 * it), else ../shared/data (tests run from the repository root). */
const char *dt_test_data_root(void);
/* The dnntrouble binary of the build a test binary belongs to
 * (BUILD/tests/test_x -> BUILD/dnntrouble), as an absolute path when it
 * exists (mpirun and chdir'd children look relative paths up elsewhere). */
void dt_test_tool_path(const char *argv0, char *out, size_t size);
/* 1 under `make valgrind` (DT_UNDER_VALGRIND set): memcheck runs code ~60x
 * slower, so a test that repeats one path many times may run fewer of them. */
int dt_test_under_valgrind(void);
/* rm -rf DIR. */
void dt_test_rmtree(const char *dir);

#endif
