/* Diagnostics of the eSCL codec: one printable line per refusal. */
#include <stdio.h>
#include <string.h>

#include "escl-internal.h"

void escl_sanitize(char *out, size_t outsz, const char *s, size_t n)
{
    size_t keep = n;
    int cut = 0;

    if (outsz == 0)
        return;
    if (keep > outsz - 1) {
        cut = outsz >= 4;
        keep = cut ? outsz - 4 : outsz - 1;
    }
    for (size_t i = 0; i < keep; i++) {
        unsigned char c = (unsigned char)s[i];
        out[i] = (char)((c >= 0x20 && c < 0x7f) ? c : '?');
    }
    if (cut) {
        memcpy(out + keep, "...", 3);
        keep += 3;
    }
    out[keep] = '\0';
}

void escl_diag_set(proto_escl_diag *diag, int err, const char *element, int line,
                   const char *detail)
{
    char where[32] = "";

    if (diag == NULL)
        return;
    diag->err = err;
    diag->element = element;
    diag->line = line;
    if (line > 0)
        snprintf(where, sizeof(where), " (line %d)", line);
    snprintf(diag->msg, sizeof(diag->msg), "%s%s%s%s", proto_strerror(err),
             detail != NULL ? ": " : "", detail != NULL ? detail : "", where);
}
