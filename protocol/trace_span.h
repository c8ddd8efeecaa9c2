/*
 * trace_span.h: one element of a TRACE_FETCH reply (bf-trace, docs/trace.md): when the device ran
 * the op sent with request_id, in the worker's CLOCK_MONOTONIC nanoseconds, as the driver's own
 * timing events measured it.
 */
#ifndef BF_PROTO_TRACE_SPAN_H
#define BF_PROTO_TRACE_SPAN_H

#include <stdint.h>

typedef struct {
    uint64_t request_id;
    uint64_t start_ns;
    uint64_t end_ns;
} bf_proto_trace_span_t;

#endif
