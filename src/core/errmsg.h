/* errmsg.h — the one helper that formats a message into a caller's CURVO_ERRMSG_LEN-byte buffer
 * (internal). Every module's "put an error message" function is this, or a thin wrapper over it. */
#ifndef CURVO_CORE_ERRMSG_H
#define CURVO_CORE_ERRMSG_H

#include <stdarg.h>

#include "curvo.h"

/* Formats into buf (CURVO_ERRMSG_LEN bytes, truncated to fit); does nothing when buf is NULL. */
void curvo_errf(char *buf, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void curvo_verrf(char *buf, const char *fmt, va_list ap) __attribute__((format(printf, 2, 0)));

#endif
