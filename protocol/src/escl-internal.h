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
/* OTHER when s is not a name (Idle and Pending are 0, so these never give
 * NONE). */
enum proto_escl_adf_state escl_adf_state_from(const char *s);
enum proto_escl_state escl_state_from(const char *s);
enum proto_escl_job_state escl_job_state_from(const char *s);

/* Fill diag (if not NULL): err, element, line, and msg = the error's
 * message, then detail when given (escl_diag.c). */
void escl_diag_set(proto_escl_diag *diag, int err, const char *element, int line,
                   const char *detail);

/* Copy at most n bytes of s into out (size outsz) as printable ASCII:
 * other bytes become '?', and "..." marks a cut. */
void escl_sanitize(char *out, size_t outsz, const char *s, size_t n);

/* Parse an untrusted XML document with the hardening escl_parse.c
 * describes (size capped at max before libxml2 sees a byte, no DTD, depth
 * bounded, namespaces well-formed, errors recorded, not printed).
 * utf8_only: bytes that are not UTF-8 (or NUL) are refused up front and an
 * encoding declaration is ignored (what the front takes from clients); a
 * driver reading a device's documents passes false, so that libxml2 honours
 * a declared encoding such as ISO-8859-1. On PROTO_OK *doc is a well-formed
 * document with a root element, to free with xmlFreeDoc; else one of the
 * PROTO_E_ESCL_ TOO_LARGE, XML, DOCTYPE, TOO_DEEP or NOMEM rejections, diag
 * filled. */
struct _xmlDoc;
int escl_doc_read(const uint8_t *xml, size_t len, size_t max, bool utf8_only, struct _xmlDoc **doc,
                  proto_escl_diag *diag);

#endif
