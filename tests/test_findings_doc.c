/* Every finding id the code can emit has its row in docs/findings.md.
 *
 * Ids are read off the sources: the string literal passed as the id of
 * dt_report_finding(rep, "id", ...), and the literals of the helpers that
 * choose an id (a function or table whose name contains `finding_id`). A
 * new finding without a documented rule fails here. */
#define _XOPEN_SOURCE 700
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "support/test_files.h"

#define MAX_IDS 256
static char ids[MAX_IDS][64];
static char where[MAX_IDS][128];
static int n_ids;

static void add(const char *s, size_t n, const char *file)
{
    if (n == 0 || n >= sizeof ids[0]) return;
    for (int i = 0; i < n_ids; i++)
        if (strlen(ids[i]) == n && !strncmp(ids[i], s, n)) return;
    if (n_ids == MAX_IDS) fail_msg("more than %d finding ids", MAX_IDS);
    memcpy(ids[n_ids], s, n);
    ids[n_ids][n] = '\0';
    snprintf(where[n_ids], sizeof where[0], "%s", file);
    n_ids++;
}

/* The literal starting at p (after optional blanks), or NULL. */
static const char *literal(const char *p, size_t *n)
{
    while (*p == ' ' || *p == '\n' || *p == '\t') p++;
    if (*p != '"') return NULL;
    const char *e = strchr(p + 1, '"');
    if (!e) return NULL;
    *n = (size_t)(e - p - 1);
    return p + 1;
}

static void scan(const char *text, const char *file)
{
    for (const char *p = text; (p = strstr(p, "dt_report_finding(")) != NULL; p++) {
        const char *c = strchr(p, ',');
        size_t n;
        const char *s = c ? literal(c + 1, &n) : NULL;
        if (s) add(s, n, file);
    }
    /* Id choosers: `... finding_id...(...) { ... return "x"; ... }` or `finding_ids[] = {"a", "b"}`. */
    for (const char *p = text; (p = strstr(p, "finding_id")) != NULL; p++) {
        const char *open = strpbrk(p, "{;");
        if (!open || *open != '{') continue;
        const char *close = strstr(open, "\n}");
        const char *semi = strstr(open, "};");
        if (semi && (!close || semi < close)) close = semi;
        if (!close) continue;
        for (const char *q = open; q < close; q++)
            if (*q == '"') {
                const char *e = strchr(q + 1, '"');
                if (!e || e > close) break;
                if (strchr(q + 1, '-') && strchr(q + 1, '-') < e) add(q + 1, (size_t)(e - q - 1), file);
                q = e;
            }
        p = close;
    }
}

static int visit(const char *path, const struct stat *sb, int flag, struct FTW *ftw)
{
    (void)sb;
    (void)ftw;
    size_t n = strlen(path);
    if (flag != FTW_F || n < 2 || strcmp(path + n - 2, ".c")) return 0;
    char *text = dt_test_read(path);
    if (text) scan(text, path);
    free(text);
    return 0;
}

static void test_every_finding_id_is_documented(void **state)
{
    char *doc = dt_test_read("docs/findings.md");
    if (!doc) fail_msg("docs/findings.md not found (tests run from the repository root)");
    assert_int_equal(nftw("src", visit, 16, FTW_PHYS), 0);
    print_message("%d finding ids in src/\n", n_ids);
    assert_true(n_ids >= 30);
    int missing = 0;
    for (int i = 0; i < n_ids; i++) {
        char row[96];
        snprintf(row, sizeof row, "| `%.63s`", ids[i]);
        if (!strstr(doc, row)) {
            print_error("docs/findings.md has no row for `%s` (emitted in %s)\n", ids[i], where[i]);
            missing++;
        }
    }
    free(doc);
    assert_int_equal(missing, 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_every_finding_id_is_documented),
    };
    return cmocka_run_group_tests_name("findings catalogue", tests, NULL, NULL);
}
