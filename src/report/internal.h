/* Private to src/report. */
#ifndef DT_REPORT_INTERNAL_H
#define DT_REPORT_INTERNAL_H

#include <cJSON.h>
#include <stddef.h>

#include "dnntrouble/report.h"

/* schema_version, tool, stage, status, started_at, duration_s, seed, config. */
cJSON *dt_report_header(const char *stage, dt_verdict status, const char *started_at, double duration,
                        const dt_config *cfg);
/* Serializes j to DIR/FILE atomically (creates DIR). */
dt_status dt_json_write(const cJSON *j, const char *dir, const char *file);

/* A growing text buffer (HTML, SVG, XML).  Appending never fails loudly:
 * an allocation failure sets oom and later appends do nothing. */
typedef struct dt_sbuf {
    char *p;
    size_t len, cap;
    int oom;
} dt_sbuf;

void dt_sb_puts(dt_sbuf *b, const char *s);
void dt_sb_putn(dt_sbuf *b, const char *s, size_t n);
void dt_sb_printf(dt_sbuf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Text escaped for HTML/XML element content and attribute values (& < > " '),
 * with bytes that are not valid UTF-8 and control characters other than
 * tab, newline and carriage return replaced by U+FFFD (XML 1.0 forbids them). */
void dt_sb_escape(dt_sbuf *b, const char *s);
void dt_sb_free(dt_sbuf *b);

/* Small lookups on report JSON. */
const cJSON *dt_rj_get(const cJSON *o, const char *path);   /* dotted path: "metrics.best.score" */
double dt_rj_num(const cJSON *o, const char *path, double fallback);
const char *dt_rj_str(const cJSON *o, const char *path, const char *fallback);
/* The report of `stage` among reports[0..n), or NULL. */
const cJSON *dt_rj_stage(const cJSON *const *reports, int n, const char *stage);
/* 1 when the run's task is regression (from any report's resolved config). */
int dt_rj_regression(const cJSON *const *reports, int n);
/* Formats an error: a percentage for classification ("6.7%"), a number for
 * regression (MSE). */
void dt_fmt_error(double v, int regression, char *buf, size_t size);

/* The stylesheet of report.html, shared by every page dnntrouble writes (zoo.html). */
extern const char dt_html_css[];

/* PNG (8-bit grey or RGB, zlib from the system) as base64 text, for
 * <img src="data:image/png;base64,...">.  channels 1 or 3, pixels row-major
 * [h][w][channels].  Returns 0 on failure (out of memory). */
int dt_png_base64(const unsigned char *pixels, int w, int h, int channels, dt_sbuf *out);

#endif
