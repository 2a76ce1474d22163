/* status.c — status codes to messages, the library version. */
#include "curvo.h"

const char *curvo_strerror(int status) {
    switch (status) {
    case CURVO_OK: return "success";
    case CURVO_E_NOMEM: return "out of memory";
    case CURVO_E_INVALID: return "invalid argument";
    case CURVO_E_SPEC: return "invalid model spec";
    case CURVO_E_SHAPE: return "shapes do not fit";
    case CURVO_E_STATE: return "call out of order";
    case CURVO_E_NUMERIC: return "non-finite value or failed factorization";
    case CURVO_E_IO: return "input/output error";
    case CURVO_E_FORMAT: return "malformed file";
    case CURVO_E_UNSUPPORTED: return "not supported for this configuration";
    case CURVO_E_CANCELLED: return "cancelled";
    case CURVO_E_REJECTED: return "step rejected: no trial point decreased the loss enough";
    default: return "unknown status code";
    }
}

const char *curvo_version(void) { return CURVO_VERSION_STRING; }
