/* Private to src/report. */
#ifndef DT_REPORT_INTERNAL_H
#define DT_REPORT_INTERNAL_H

#include <cJSON.h>

#include "dnntrouble/report.h"

/* schema_version, tool, stage, status, started_at, duration_s, seed, config. */
cJSON *dt_report_header(const char *stage, dt_verdict status, const char *started_at, double duration,
                        const dt_config *cfg);
/* Serializes j to DIR/FILE atomically (creates DIR). */
dt_status dt_json_write(const cJSON *j, const char *dir, const char *file);

#endif
