/* Declarations shared by the eSCL codec's files (not installed). */
#ifndef SCANEMU_PROTOCOL_ESCL_INTERNAL_H
#define SCANEMU_PROTOCOL_ESCL_INTERNAL_H

#include "protocol/escl.h"

/* Wire name to enum for the parser (escl_names.c): the NONE value when s is
 * not one of the names, except intent and format, which give OTHER. */
enum proto_escl_color_mode escl_color_mode_from(const char *s);
enum proto_escl_source escl_source_from(const char *s);
enum proto_escl_intent escl_intent_from(const char *s);
enum proto_escl_format escl_format_from(const char *s);

/* Fill diag (if not NULL): err, element, line, and msg = the error's
 * message, then detail when given (escl_diag.c). */
void escl_diag_set(proto_escl_diag *diag, int err, const char *element, int line,
                   const char *detail);

/* Copy at most n bytes of s into out (size outsz) as printable ASCII:
 * other bytes become '?', and "..." marks a cut. */
void escl_sanitize(char *out, size_t outsz, const char *s, size_t n);

#endif
