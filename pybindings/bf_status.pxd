# Declarations of common/bf_status.h (the status map). Declarations only; wrappers live in _proto.pyx.

cdef extern from "bf_status.h" nogil:
    ctypedef enum bf_status_t:
        BF_OK
        BF_NO_MEMORY
        BF_INVALID_ARG
        BF_IO
        BF_CLOSED
        BF_TIMEOUT
        BF_PROTOCOL
        BF_VERSION
        BF_UNSUPPORTED
        BF_NOT_FOUND
        BF_BAD_ADDRESS
        BF_UNREACHABLE
        BF_EXISTS

    const char *bf_status_str(bf_status_t status)
    const char *bf_status_name(bf_status_t status)
