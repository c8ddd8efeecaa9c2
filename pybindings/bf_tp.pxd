# Declarations of transport/tp.h used from Python: frame header layout and listening sockets.

from libc.stdint cimport uint16_t, uint32_t, uint64_t

from bf_status cimport bf_status_t


cdef extern from "tp.h" nogil:
    ctypedef struct bf_frame_hdr_t:
        uint32_t length
        uint16_t op
        uint16_t flags
        uint64_t request_id

    enum:
        BF_FRAME_HDR_SIZE
        BF_FRAME_REPLY
        BF_FRAME_POSTED

    bf_status_t bf_tp_listen(const char *address, int *fd_p, char *why, size_t why_len)
