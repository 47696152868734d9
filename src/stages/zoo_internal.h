/* Private to the zoo (src/stages/zoo*.c). */
#ifndef DT_ZOO_INTERNAL_H
#define DT_ZOO_INTERNAL_H

#include "dnntrouble/zoo.h"

#define DT_ZOO_DATA_SETS 8
#define DT_ZOO_SET_LEN 1400

/* Generates the case's data with its planted bug, writes it as .npy files
 * into dir, and returns the config edits that read it (data.format: npy,
 * data.train / data.test, data.modality) in sets[0..*n). */
dt_status dt_zoo_make_data(const dt_zoo_data *z, int quick, unsigned long long seed, const char *dir,
                           char sets[DT_ZOO_DATA_SETS][DT_ZOO_SET_LEN], int *n);

#endif
