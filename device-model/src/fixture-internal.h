/* Fixture loading shared by the profile loader (profile.c), the scenario
 * loader (scenario.c) and the scenario-against-profile checks
 * (fixture_check.c): reading a fixture file, parsing it against a libcyaml
 * schema, and converting scalars strictly.
 *
 * Every message these helpers write is one printable line of the form
 * "FILE: key 'KEY.PATH[i].KEY': PROBLEM" (or "FILE: PROBLEM" when no key is
 * involved), where FILE is the path or name the fixture was loaded under. */
#ifndef SCANEMU_DM_FIXTURE_INTERNAL_H
#define SCANEMU_DM_FIXTURE_INTERNAL_H

#include <cyaml/cyaml.h>

#include "dm-internal.h"

/* Limits of what a fixture may ask for (docs/protocol.md, "Fixture formats"). */
#define DM_LIM_DPI_MIN       50u
#define DM_LIM_DPI_MAX       4800u
#define DM_LIM_AREA_MM_MAX   1000u
#define DM_LIM_FEEDER_MAX    10000u
#define DM_LIM_PAGES_MAX     100000u
#define DM_LIM_BAND_LINES    65535u
#define DM_LIM_BAND_MIN_BYTE 4096u
#define DM_LIM_TIME_MS_MAX   600000u  /* 10 minutes */
#define DM_LIM_LINE_US_MAX   1000000u /* 1 s per line */
#define DM_LIM_BANDS_MAX     1000000u
#define DM_LIM_BYTES_MAX     4000000000u
#define DM_LIM_COUNT_MAX     1000u

/* A number or boolean in a schema: loaded as a string (libcyaml 1.3 reads
 * "1.5" or "12abc" as an integer and "maybe" as true) and converted by
 * dm_fixture_u32 / dm_fixture_real. */
#define DM_FIXTURE_NUM(key, flags, type, member)                                                   \
    CYAML_FIELD_STRING_PTR(key, (flags) | CYAML_FLAG_POINTER, type, member, 1, 40)

/* Names of PROTO_SCAN_SOURCE_* and PROTO_SCAN_MODE_* as fixtures spell
 * them ("adf", "color"); "?" when out of range. */
const char *dm_fixture_source_name(uint32_t source);
const char *dm_fixture_mode_name(uint32_t mode);

/* Where messages go while one fixture is checked. */
typedef struct dm_fixture_msg {
    const char *file; /* path or name of the fixture, first in every message */
    char *errbuf;     /* may be NULL */
    size_t errlen;
} dm_fixture_msg;

/* Writes "FILE: key 'KEY': PROBLEM" (KEY NULL: "FILE: PROBLEM") and returns
 * rc, so a check can end with `return dm_fixture_fail(...)`. */
int dm_fixture_fail(const dm_fixture_msg *m, int rc, const char *key, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

/* Integer in [lo, hi], decimal or 0x hex; s == NULL (optional key absent)
 * leaves *out alone. DM_OK, DM_E_PARSE (not an integer) or DM_E_RANGE. */
int dm_fixture_u32(const dm_fixture_msg *m, const char *key, const char *s, uint32_t lo,
                   uint32_t hi, uint32_t *out);
/* Finite number in (lo, hi]; s == NULL leaves *out alone. */
int dm_fixture_real(const dm_fixture_msg *m, const char *key, const char *s, double lo, double hi,
                    double *out);

/* Parse one YAML document against `schema` into *raw (libcyaml data taken
 * from `a`; free with dm_fixture_free_raw). Refused, with the key path
 * (list indices included) where there is one: YAML syntax errors, a
 * document that does not match the schema (unknown keys and enum values
 * list what is expected), an empty stream, and a second document after the
 * first. *raw is set only on success. */
int dm_fixture_parse(const dm_alloc *a, const char *yaml, size_t len,
                     const cyaml_schema_value_t *schema, void **raw, const dm_fixture_msg *m);
void dm_fixture_free_raw(const dm_alloc *a, const cyaml_schema_value_t *schema, void *raw);

/* Read the fixture file at `path` into a buffer taken from `a` (free with
 * dm_free; NUL-terminated one past *len). Never blocks: anything but a
 * regular file (directory, FIFO, device node, socket) is refused by kind
 * without being opened, a file over DM_FIXTURE_MAX_BYTES without being
 * read, and a file that changes size while it is read. `what` ("profile",
 * "scenario") is used in messages. DM_OK, DM_E_IO or DM_E_NOMEM; *out and
 * *len are set only on success. */
int dm_fixture_read_file(const dm_alloc *a, const char *path, const char *what, char **out,
                         size_t *len, char *errbuf, size_t errlen);

#endif
