/*
 * trace_io.h: what the calling thread has put on and taken off the connection, counted by rpc.c
 * and read by bf-trace's wrappers before and after each call (a difference per call). Counting
 * costs an add on a thread-local variable, tracing on or off.
 */
#ifndef BF_TRACE_IO_H
#define BF_TRACE_IO_H

#include <stdint.h>

typedef struct {
    uint64_t bytes_sent;   /* frame bytes this thread appended (headers, fields, tails) */
    uint64_t bytes_recv;   /* reply frame bytes of this thread's waited requests */
    uint32_t posted;       /* posted requests */
    uint32_t waited;       /* waited requests */
    uint64_t last_request_id;  /* id of the last request this thread appended */
} bf_cl_io_counters_t;

extern __thread bf_cl_io_counters_t bf_cl_io;

#endif
