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
/* rm -rf DIR. */
void dt_test_rmtree(const char *dir);

#endif
