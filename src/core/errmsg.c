/* errmsg.c — formatting of error messages into CURVO_ERRMSG_LEN-byte buffers (see errmsg.h). */
#include "core/errmsg.h"

#include <stdio.h>

void curvo_verrf(char *buf, const char *fmt, va_list ap) {
    if (buf) vsnprintf(buf, CURVO_ERRMSG_LEN, fmt, ap);
}

void curvo_errf(char *buf, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    curvo_verrf(buf, fmt, ap);
    va_end(ap);
}
