/*
 * bf_trace_format.h: the bf-trace file format (docs/trace.md), shared by libbf.so (the writer),
 * libbftrace_rt.so (runtime events, through libbf) and the Cython reader (pybindings/_trace.pyx).
 *
 * A file is a header, then fixed-size records of BF_TRACE_RECORD_SIZE bytes, little-endian, as the
 * hosts openbf supports lay these structs out. Writers append whole records only (one write(2) of
 * a buffer of records on a file opened with O_APPEND), so a killed program leaves a file that ends
 * at a record boundary; several processes of one recording append to the same file.
 */
#ifndef BF_TRACE_FORMAT_H
#define BF_TRACE_FORMAT_H

#include <stdint.h>

#define BF_TRACE_MAGIC "OPENBFTR"          /* 8 bytes, no terminator in the file */
#define BF_TRACE_VERSION 1u
#define BF_TRACE_RECORD_SIZE 104u

/* The header, written once by `bf-trace record` before the program starts; `command` (cmd_len
 * bytes, UTF-8) follows it, then zero padding up to header_len, a multiple of 8. */
typedef struct {
    char magic[8];
    uint32_t version;
    uint32_t header_len;       /* bytes before the first record */
    uint32_t record_size;      /* BF_TRACE_RECORD_SIZE */
    uint32_t pid;              /* of bf-trace record */
    uint64_t realtime_ns;      /* CLOCK_REALTIME when recording started ... */
    uint64_t monotonic_ns;     /* ... and CLOCK_MONOTONIC at the same moment: every record's times
                                  are CLOCK_MONOTONIC */
    uint32_t cmd_len;
    uint32_t reserved;
} bf_trace_header_t;

/* Record types. */
enum {
    BF_TRACE_REC_CALL    = 1,  /* one API call (driver or runtime) */
    BF_TRACE_REC_DEVICE  = 2,  /* when the device ran the op request_id (of the call with that
                                  request_id in the same pid): start_ns, end_ns on the client's
                                  clock, from the driver's timing events in the worker */
    BF_TRACE_REC_STRING  = 3,  /* a string: arg[0] kind, arg[1] id, arg[2] length; the bytes
                                  follow in ceil(length / 104) records */
    BF_TRACE_REC_PROCESS = 4,  /* a process started recording: arg[0] parent pid, start_ns
                                  CLOCK_MONOTONIC and end_ns CLOCK_REALTIME at that moment */
};

/* String kinds. */
enum {
    BF_TRACE_STR_API    = 1,   /* the name of API id arg[1] */
    BF_TRACE_STR_KERNEL = 2,   /* kernel name id arg[1] (mangled) */
    BF_TRACE_STR_CMDLINE = 3,  /* the command line of process pid */
};

/* Call flags. */
enum {
    BF_TRACE_F_RUNTIME = 1u << 0,  /* a runtime call (libcudart), from libbftrace_rt.so */
    BF_TRACE_F_POSTED  = 1u << 1,  /* it posted at least one operation */
    BF_TRACE_F_WAITED  = 1u << 2,  /* it waited for at least one reply */
    BF_TRACE_F_PTDS    = 1u << 3,  /* a per-thread default stream entry point (_ptds, _ptsz) */
};

/* What arg[] holds, by the call's argument kind (set by the capture function, docs/trace.md). */
enum {
    BF_TRACE_ARGS_NONE   = 0,
    BF_TRACE_ARGS_ALLOC  = 1,  /* arg0 bytes, arg1 resulting pointer (0 on failure) */
    BF_TRACE_ARGS_FREE   = 2,  /* arg1 pointer */
    BF_TRACE_ARGS_COPY   = 3,  /* arg0 bytes, arg1 dst, arg2 src, arg3 copy kind (BF_TRACE_COPY_*) */
    BF_TRACE_ARGS_SET    = 4,  /* arg0 bytes, arg1 dst, arg2 value, arg3 element size */
    BF_TRACE_ARGS_LAUNCH = 5,  /* arg0 grid x | y << 32 (y 16 bits) | z << 48, arg1 block x | y << 16
                                  | z << 32, arg2 shared memory bytes, arg3 kernel name id */
    BF_TRACE_ARGS_HANDLE = 6,  /* arg1 the handle created, destroyed or used (stream, event,
                                  module, function, context), arg2 flags where there are some */
    BF_TRACE_ARGS_SYNC   = 7,  /* a synchronising call: arg1 the handle waited for */
};

/* Copy kinds, numbered as cudaMemcpyKind. */
enum {
    BF_TRACE_COPY_HTOH = 0,
    BF_TRACE_COPY_HTOD = 1,
    BF_TRACE_COPY_DTOH = 2,
    BF_TRACE_COPY_DTOD = 3,
    BF_TRACE_COPY_DEFAULT = 4,  /* inferred from the pointers (cuMemcpy, cudaMemcpyDefault) */
};

/* One record. */
typedef struct {
    uint64_t start_ns;     /* CLOCK_MONOTONIC, client side */
    uint64_t end_ns;
    uint64_t seq;          /* call sequence number, process-wide */
    uint64_t request_id;   /* the last operation the call sent (0: none): DEVICE records name it */
    uint64_t stream;       /* the CUstream / cudaStream_t handle as passed (0: legacy default) */
    uint64_t bytes_sent;   /* bytes of requests this call put on the connection */
    uint64_t bytes_recv;   /* bytes of replies this call received */
    uint64_t arg[4];
    uint32_t pid;
    uint32_t tid;
    int32_t result;        /* CUresult or cudaError_t */
    uint16_t api;          /* driver: its row in cuda_api.def; runtime: 0x8000 + its row */
    uint8_t type;          /* BF_TRACE_REC_* */
    uint8_t flags;         /* BF_TRACE_F_*; for calls, bits 4..7 hold the BF_TRACE_ARGS_* kind */
} bf_trace_record_t;

_Static_assert(sizeof(bf_trace_record_t) == BF_TRACE_RECORD_SIZE, "record layout");
_Static_assert(sizeof(bf_trace_header_t) == 48, "header layout");

#define BF_TRACE_RUNTIME_API_BASE 0x8000u

#endif
