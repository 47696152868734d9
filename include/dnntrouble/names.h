/* Names users type: identifiers and "did you mean" (src/core/names.c). */
#ifndef DT_NAMES_H
#define DT_NAMES_H

/* [A-Za-z_][A-Za-z0-9_]*: field names, and what torch accepts as an attribute. */
int dt_is_identifier(const char *s);
/* Levenshtein distance (1000 for strings of 256 characters or more). */
int dt_edit_distance(const char *a, const char *b);

#endif
