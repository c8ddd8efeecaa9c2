# Declarations of common/bf_config.h (the BF_* variable table).

cdef extern from "bf_config.h" nogil:
    ctypedef struct bf_config_row_t:
        const char *variable
        const char *default_value
        const char *doc

    enum:
        BF_CONFIG_COUNT

    const bf_config_row_t bf_config_table[]
