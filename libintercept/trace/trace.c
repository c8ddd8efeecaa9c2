/*
 * trace.c: bf-trace's recorder in libbf.so: per-thread buffers of fixed-size records, written to
 * the trace file (BF_TRACE_FILE, opened with O_APPEND) with one write(2) each (docs/trace.md).
 *
 * The hot path takes no lock: a thread appends to its own buffer and publishes the new count with a
 * release store. A buffer's flush lock is taken only to write it out: by its owner when it is full
 * or the thread ends, by the process-exit flush for every buffer (which writes what was published
 * so far). Records are only ever written whole, so a program that is killed leaves a file that
 * ends at a record boundary, holding everything up to each thread's last flush.
 *
 * Nothing happens until the first recorded call: a process started under `bf-trace record` that
 * never calls CUDA (a shell, a compiler) leaves no trace in the file.
 */
#include "trace/trace.h"

#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include "bf_config.h"
#include "code.h"
#include "engine.h"
#include "proto.h"
#include "trace/trace_io.h"
#include "trace_span.h"

/* 64 KiB of records per thread. */
#define BUF_RECORDS ((64u << 10) / BF_TRACE_RECORD_SIZE)

/* Longest string recorded (kernel names are cut there). */
#define STRING_MAX 4000u

/* Kernel names are numbered process-wide: an open-addressing table of their hashes. */
#define NAME_SLOTS 4096u

/* TRACE_START round trips at the start: the first enables, the others measure the clock offset. */
#define CLOCK_PINGS 4

/* Device spans asked for per TRACE_FETCH. */
#define FETCH_MAX 4096u

/* How long the exit waits for the device times of the last ops. */
#define FINAL_FETCH_TRIES 200

typedef struct trace_buf {
    struct trace_buf *next;
    pthread_mutex_t flush_lock;
    uint32_t tid;
    atomic_uint committed;      /* records appended (owner: relaxed load, release store) */
    uint32_t flushed;           /* records already written (flush_lock) */
    bf_trace_record_t rec[BUF_RECORDS];
} trace_buf_t;

int bf_trace_on;

static char trace_path[4096];
static int trace_fd = -1;
static pthread_once_t open_once = PTHREAD_ONCE_INIT;
static atomic_int process_announced;     /* the process record of this pid is out */
static uint32_t trace_pid;
static atomic_uint_fast64_t next_seq = 1;
static atomic_uchar api_named[1u << 16];

static pthread_mutex_t bufs_lock = PTHREAD_MUTEX_INITIALIZER;
static trace_buf_t *bufs;
static pthread_key_t buf_key;
static bool buf_key_ok;
static __thread trace_buf_t *my_buf;
static __thread bool in_trace;   /* a recorded call that records (a name lookup) does not recurse */

static pthread_mutex_t names_lock = PTHREAD_MUTEX_INITIALIZER;
static struct {
    uint64_t hash;
    uint32_t id;
} names[NAME_SLOTS];
static uint32_t names_count;
static __thread const void *cached_kernel, *cached_name;
static __thread uint32_t cached_id;

/* Device times: 0 not asked yet, 1 the worker brackets ops, -1 not available. */
static atomic_int device_state;
static int64_t clock_offset_ns;          /* worker CLOCK_MONOTONIC - ours */
static __thread bf_proto_trace_span_t *fetch_buf;

static uint64_t mono_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

static uint64_t real_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

/* ---- the file ------------------------------------------------------------------------------- */

static void say(const char *what)
{
    char line[4400];
    int n = snprintf(line, sizeof(line), "openbf: bf-trace: %s %s: %s; not recording\n", what,
                     trace_path, strerror(errno));
    if (n > 0)
        (void)!write(STDERR_FILENO, line, (size_t)n < sizeof(line) ? (size_t)n : sizeof(line) - 1);
}

static void open_file(void)
{
    trace_fd = open(trace_path, O_WRONLY | O_APPEND | O_CLOEXEC);
    if (trace_fd < 0) {
        say("cannot open");
        bf_trace_on = 0;
    }
}

/* Writes n whole records; a failed write stops recording (the file keeps what it has). */
static void write_records(const bf_trace_record_t *rec, uint32_t n)
{
    const uint8_t *p = (const uint8_t *)rec;
    size_t left = (size_t)n * BF_TRACE_RECORD_SIZE;

    if (trace_fd < 0)
        return;
    while (left > 0) {
        ssize_t done = write(trace_fd, p, left);
        if (done < 0 && errno == EINTR)
            continue;
        if (done <= 0) {
            say("cannot write");
            bf_trace_on = 0;
            return;
        }
        p += done;
        left -= (size_t)done;
    }
}

/* ---- buffers -------------------------------------------------------------------------------- */

static void buf_write_locked(trace_buf_t *b)
{
    uint32_t n = atomic_load_explicit(&b->committed, memory_order_acquire);
    if (n > b->flushed)
        write_records(&b->rec[b->flushed], n - b->flushed);
    b->flushed = n;
}

static void buf_thread_end(void *arg)
{
    trace_buf_t *b = arg;

    pthread_mutex_lock(&bufs_lock);
    pthread_mutex_lock(&b->flush_lock);
    buf_write_locked(b);
    pthread_mutex_unlock(&b->flush_lock);
    for (trace_buf_t **q = &bufs; *q != NULL; q = &(*q)->next) {
        if (*q == b) {
            *q = b->next;
            break;
        }
    }
    pthread_mutex_unlock(&bufs_lock);
    my_buf = NULL;
    free(b);
}

static trace_buf_t *buf_create(void)
{
    trace_buf_t *b;

    pthread_once(&open_once, open_file);
    if (!bf_trace_on)
        return NULL;
    b = calloc(1, sizeof(*b));
    if (b == NULL)
        return NULL;
    pthread_mutex_init(&b->flush_lock, NULL);
    b->tid = (uint32_t)syscall(SYS_gettid);
    pthread_mutex_lock(&bufs_lock);
    b->next = bufs;
    bufs = b;
    pthread_mutex_unlock(&bufs_lock);
    if (buf_key_ok)
        (void)pthread_setspecific(buf_key, b);
    my_buf = b;
    return b;
}

/* Room for n consecutive records in the calling thread's buffer (written out first if full). */
static bf_trace_record_t *buf_reserve(uint32_t n)
{
    trace_buf_t *b = my_buf != NULL ? my_buf : buf_create();

    if (b == NULL || n > BUF_RECORDS)
        return NULL;
    uint32_t at = atomic_load_explicit(&b->committed, memory_order_relaxed);
    if (at + n > BUF_RECORDS) {
        pthread_mutex_lock(&b->flush_lock);
        buf_write_locked(b);
        b->flushed = 0;
        atomic_store_explicit(&b->committed, 0, memory_order_release);
        pthread_mutex_unlock(&b->flush_lock);
        at = 0;
    }
    return &b->rec[at];
}

static void buf_commit(uint32_t n)
{
    trace_buf_t *b = my_buf;
    uint32_t at = atomic_load_explicit(&b->committed, memory_order_relaxed);
    atomic_store_explicit(&b->committed, at + n, memory_order_release);
}

/* ---- strings and the process record --------------------------------------------------------- */

static void emit_string(uint32_t kind, uint64_t id, const char *text, size_t len)
{
    if (len > STRING_MAX)
        len = STRING_MAX;
    uint32_t extra = (uint32_t)((len + BF_TRACE_RECORD_SIZE - 1) / BF_TRACE_RECORD_SIZE);
    bf_trace_record_t *r = buf_reserve(1 + extra);
    if (r == NULL)
        return;
    memset(r, 0, (size_t)(1 + extra) * BF_TRACE_RECORD_SIZE);
    r->type = BF_TRACE_REC_STRING;
    r->pid = trace_pid;
    r->tid = my_buf->tid;
    r->arg[0] = kind;
    r->arg[1] = id;
    r->arg[2] = len;
    memcpy(r + 1, text, len);
    buf_commit(1 + extra);
}

static void announce_process(void)
{
    char cmdline[STRING_MAX];
    size_t n = 0;

    if (atomic_exchange(&process_announced, 1))
        return;
    bf_trace_record_t *r = buf_reserve(1);
    if (r == NULL)
        return;
    memset(r, 0, sizeof(*r));
    r->type = BF_TRACE_REC_PROCESS;
    r->pid = trace_pid;
    r->tid = my_buf->tid;
    r->start_ns = mono_ns();
    r->end_ns = real_ns();
    r->arg[0] = (uint64_t)getppid();
    buf_commit(1);

    int fd = open("/proc/self/cmdline", O_RDONLY | O_CLOEXEC);
    if (fd >= 0) {
        ssize_t got = read(fd, cmdline, sizeof(cmdline));
        close(fd);
        n = got > 0 ? (size_t)got : 0;
    }
    for (size_t i = 0; i < n; i++)
        if (cmdline[i] == '\0')
            cmdline[i] = ' ';
    while (n > 0 && cmdline[n - 1] == ' ')
        n--;
    emit_string(BF_TRACE_STR_CMDLINE, trace_pid, cmdline, n);
}

static void name_api(uint16_t api, const char *name)
{
    if (atomic_load_explicit(&api_named[api], memory_order_relaxed) ||
        atomic_exchange(&api_named[api], 1))
        return;
    emit_string(BF_TRACE_STR_API, api, name, strlen(name));
}

/* The process-wide id of a kernel name (1 up), emitting it the first time; 0 when unknown. */
static uint32_t kernel_name_id(const char *name)
{
    uint64_t h = 1469598103934665603ull;
    uint32_t id = 0;
    bool fresh = false;

    for (const char *c = name; *c; c++)
        h = (h ^ (uint8_t)*c) * 1099511628211ull;
    h |= 1;  /* 0 marks a free slot */
    pthread_mutex_lock(&names_lock);
    for (uint32_t i = (uint32_t)h % NAME_SLOTS, probes = 0; probes < NAME_SLOTS;
         i = (i + 1) % NAME_SLOTS, probes++) {
        if (names[i].hash == h) {
            id = names[i].id;
            break;
        }
        if (names[i].hash == 0) {
            if (names_count + 1 < NAME_SLOTS) {
                names[i].hash = h;
                names[i].id = id = ++names_count;
                fresh = true;
            }
            break;
        }
    }
    pthread_mutex_unlock(&names_lock);
    if (fresh)
        emit_string(BF_TRACE_STR_KERNEL, id, name, strlen(name));
    return id;
}

/* ---- calls ---------------------------------------------------------------------------------- */

void bf_trace_begin(bf_trace_call_t *t)
{
    memset(&t->rec, 0, sizeof(t->rec));
    t->sent0 = bf_cl_io.bytes_sent;
    t->recv0 = bf_cl_io.bytes_recv;
    t->posted0 = bf_cl_io.posted;
    t->waited0 = bf_cl_io.waited;
    t->req0 = bf_cl_io.last_request_id;
    t->rec.start_ns = mono_ns();
}

/* ---- device times --------------------------------------------------------------------------- */

/* Asks the worker to bracket ops with timing events, and measures the offset between its clock and
 * ours: the worker read its clock between our two readings, so the offset is known to within half
 * the round trip (docs/trace.md). */
static void device_start(void)
{
    bf_req_TRACE_START_t req;
    bf_rep_TRACE_START_t rep;
    uint64_t best_rtt = UINT64_MAX;

    /* The first request switches the brackets on (slow: it times reference events); the next
     * ones are answered at once, and the one with the shortest round trip gives the offset. */
    for (int i = 0; i < CLOCK_PINGS; i++) {
        memset(&rep, 0, sizeof(rep));
        uint64_t t0 = mono_ns();
        req.client_ns = t0;
        CUresult res = bf_cl_rpc_call(BF_OP_TRACE_START, &req, NULL, 0, &rep, NULL);
        uint64_t t1 = mono_ns();
        if (res != CUDA_SUCCESS) {
            atomic_store(&device_state, -1);
            return;
        }
        if (i > 0 && t1 - t0 < best_rtt) {
            best_rtt = t1 - t0;
            clock_offset_ns = (int64_t)rep.worker_ns - (int64_t)(t0 + (t1 - t0) / 2);
        }
    }
    atomic_store(&device_state, 1);
}

/* Records the device spans the worker has; returns how many ops are still running (or -1).
 * relatch: an error the worker is to latch again first (device_final), else CUDA_SUCCESS. */
static int device_fetch(CUresult relatch)
{
    bf_req_TRACE_FETCH_t req = {.max_spans = FETCH_MAX, .relatch = (uint32_t)relatch};
    bf_rep_TRACE_FETCH_t rep;

    if (fetch_buf == NULL)
        fetch_buf = malloc(FETCH_MAX * sizeof(*fetch_buf));
    if (fetch_buf == NULL)
        return -1;
    for (;;) {
        bf_cl_sink_t sink = {.base = fetch_buf, .width = FETCH_MAX * sizeof(*fetch_buf),
                             .pitch = FETCH_MAX * sizeof(*fetch_buf), .rows = 1, .allow_short = 1};
        memset(&rep, 0, sizeof(rep));
        if (bf_cl_rpc_call(BF_OP_TRACE_FETCH, &req, NULL, 0, &rep, &sink) != CUDA_SUCCESS)
            return -1;
        req.relatch = CUDA_SUCCESS;  /* handed back once */
        uint32_t n = rep.count <= FETCH_MAX ? rep.count : FETCH_MAX;
        for (uint32_t i = 0; i < n; i++) {
            bf_trace_record_t *r = buf_reserve(1);
            if (r == NULL)
                return -1;
            memset(r, 0, sizeof(*r));
            r->type = BF_TRACE_REC_DEVICE;
            r->pid = trace_pid;
            r->tid = my_buf->tid;
            r->request_id = fetch_buf[i].request_id;
            r->start_ns = (uint64_t)((int64_t)fetch_buf[i].start_ns - clock_offset_ns);
            r->end_ns = (uint64_t)((int64_t)fetch_buf[i].end_ns - clock_offset_ns);
            buf_commit(1);
        }
        if (n < FETCH_MAX)
            return (int)rep.pending;
    }
}

/* After a recorded call: device times are asked for once connected, and collected at every
 * synchronising call that succeeded (the ops before it have run). */
static void device_after_call(const bf_trace_record_t *rec)
{
    int state = atomic_load(&device_state);

    if (trace_fd < 0)
        return;  /* not recording after all (the file could not be opened) */
    if (state == 0 && bf_cl_check_init() == CUDA_SUCCESS) {
        int expected = 0;
        if (atomic_compare_exchange_strong(&device_state, &expected, 2))
            device_start();
        return;
    }
    if (state == 1 && rec->result == 0 && (rec->flags >> 4) == BF_TRACE_ARGS_SYNC &&
        bf_cl_check_init() == CUDA_SUCCESS)
        (void)device_fetch(CUDA_SUCCESS);
}

/* At exit: the last ops' device times (every device synchronised first, so all have run).
 * CTX_SYNCHRONIZE hands over, and clears, the error a failed posted op latched in the worker; a
 * CUDA call the program still makes after this (cudart's teardown, a later destructor) must see
 * it as if nothing had been recorded, so the first such error goes back with the first fetch. */
static void device_final(void)
{
    CUresult taken = CUDA_SUCCESS;

    if (atomic_load(&device_state) != 1 || bf_cl_check_init() != CUDA_SUCCESS)
        return;
    for (int d = 0; d < bf_cl_device_count(); d++) {
        bf_req_CTX_SYNCHRONIZE_t req = {.device = (uint32_t)d};
        bf_rep_CTX_SYNCHRONIZE_t rep;
        CUresult res = bf_cl_rpc_call(BF_OP_CTX_SYNCHRONIZE, &req, NULL, 0, &rep, NULL);
        /* The worker latches one error per session: the first one taken is the one to restore. */
        if (taken == CUDA_SUCCESS && res != CUDA_SUCCESS && bf_cl_check_init() == CUDA_SUCCESS)
            taken = res;
    }
    for (int i = 0; i < FINAL_FETCH_TRIES; i++) {
        int left = device_fetch(taken);
        taken = CUDA_SUCCESS;
        if (left <= 0)
            break;
        struct timespec pause = {.tv_sec = 0, .tv_nsec = 1000000};
        nanosleep(&pause, NULL);
    }
}

void bf_trace_end(bf_trace_call_t *t, uint16_t api, int result)
{
    bf_trace_record_t *r;

    t->rec.end_ns = mono_ns();
    if (!bf_trace_on || in_trace)
        return;
    in_trace = true;
    if (!atomic_load_explicit(&process_announced, memory_order_relaxed))
        announce_process();
    if (api < bf_trace_api_count)
        name_api(api, bf_trace_api_names[api]);
    r = buf_reserve(1);
    if (r != NULL) {
        t->rec.type = BF_TRACE_REC_CALL;
        t->rec.api = api;
        t->rec.result = result;
        t->rec.pid = trace_pid;
        t->rec.tid = my_buf->tid;
        t->rec.seq = atomic_fetch_add_explicit(&next_seq, 1, memory_order_relaxed);
        t->rec.bytes_sent = bf_cl_io.bytes_sent - t->sent0;
        t->rec.bytes_recv = bf_cl_io.bytes_recv - t->recv0;
        if (bf_cl_io.last_request_id != t->req0)
            t->rec.request_id = bf_cl_io.last_request_id;
        if (bf_cl_io.posted != t->posted0)
            t->rec.flags |= BF_TRACE_F_POSTED;
        if (bf_cl_io.waited != t->waited0)
            t->rec.flags |= BF_TRACE_F_WAITED;
        *r = t->rec;
        buf_commit(1);
    }
    device_after_call(&t->rec);
    in_trace = false;
}

int bf_trace_unsupported(uint16_t api, const char *name)
{
    bf_trace_call_t t;

    bf_trace_begin(&t);
    int result = (int)bf_unsupported(name);
    bf_trace_end(&t, api, result);
    return result;
}

/* ---- argument capture ----------------------------------------------------------------------- */

static void set_kind(bf_trace_call_t *t, unsigned kind)
{
    t->rec.flags = (uint8_t)((t->rec.flags & 0x0f) | (kind << 4));
}

void bf_trace_args_stream(bf_trace_call_t *t, const void *stream)
{
    t->rec.stream = (uint64_t)(uintptr_t)stream;
}

void bf_trace_args_alloc(bf_trace_call_t *t, int result, uint64_t ptr, uint64_t bytes)
{
    set_kind(t, BF_TRACE_ARGS_ALLOC);
    t->rec.arg[0] = bytes;
    t->rec.arg[1] = result == 0 ? ptr : 0;
}

void bf_trace_args_free(bf_trace_call_t *t, uint64_t ptr)
{
    set_kind(t, BF_TRACE_ARGS_FREE);
    t->rec.arg[1] = ptr;
}

void bf_trace_args_copy(bf_trace_call_t *t, uint64_t dst, uint64_t src, uint64_t bytes, int kind,
                        const void *stream)
{
    set_kind(t, BF_TRACE_ARGS_COPY);
    t->rec.arg[0] = bytes;
    t->rec.arg[1] = dst;
    t->rec.arg[2] = src;
    t->rec.arg[3] = (uint64_t)kind;
    bf_trace_args_stream(t, stream);
}

void bf_trace_args_copy_any(bf_trace_call_t *t, uint64_t dst, uint64_t src, uint64_t bytes,
                            const void *stream)
{
    int d = bf_cl_mem_is_device_address(dst), s = bf_cl_mem_is_device_address(src);
    int kind = d ? (s ? BF_TRACE_COPY_DTOD : BF_TRACE_COPY_HTOD)
                 : (s ? BF_TRACE_COPY_DTOH : BF_TRACE_COPY_HTOH);
    bf_trace_args_copy(t, dst, src, bytes, kind, stream);
}

void bf_trace_args_copy_2d(bf_trace_call_t *t, uint64_t bytes, int src_type, int dst_type,
                           const void *stream)
{
    int s = src_type == CU_MEMORYTYPE_DEVICE || src_type == CU_MEMORYTYPE_ARRAY;
    int d = dst_type == CU_MEMORYTYPE_DEVICE || dst_type == CU_MEMORYTYPE_ARRAY;
    int kind = d ? (s ? BF_TRACE_COPY_DTOD : BF_TRACE_COPY_HTOD)
                 : (s ? BF_TRACE_COPY_DTOH : BF_TRACE_COPY_HTOH);
    if (src_type == CU_MEMORYTYPE_UNIFIED || dst_type == CU_MEMORYTYPE_UNIFIED)
        kind = BF_TRACE_COPY_DEFAULT;
    bf_trace_args_copy(t, 0, 0, bytes, kind, stream);
}

void bf_trace_args_set(bf_trace_call_t *t, uint64_t dst, uint64_t value, uint64_t count,
                       unsigned elem_size, const void *stream)
{
    set_kind(t, BF_TRACE_ARGS_SET);
    t->rec.arg[0] = count * elem_size;
    t->rec.arg[1] = dst;
    t->rec.arg[2] = value;
    t->rec.arg[3] = elem_size;
    bf_trace_args_stream(t, stream);
}

/* The name id of a CUfunction / CUkernel handle; 0 when it is not one of ours. */
static uint32_t kernel_id(const void *f)
{
    bf_cl_kernel_t *k = NULL;
    uint32_t id;

    if (f == NULL || bf_cl_code_kernel(f, &k) != CUDA_SUCCESS || k->name == NULL)
        return 0;
    if (f == cached_kernel && k->name == cached_name)
        return cached_id;
    id = kernel_name_id(k->name);
    cached_kernel = f;
    cached_name = k->name;
    cached_id = id;
    return id;
}

void bf_trace_args_launch(bf_trace_call_t *t, const void *f, unsigned gx, unsigned gy, unsigned gz,
                          unsigned bx, unsigned by, unsigned bz, unsigned smem, const void *stream)
{
    set_kind(t, BF_TRACE_ARGS_LAUNCH);
    t->rec.arg[0] = (uint64_t)gx | (uint64_t)(gy & 0xffffu) << 32 | (uint64_t)(gz & 0xffffu) << 48;
    t->rec.arg[1] = (uint64_t)(bx & 0xffffu) | (uint64_t)(by & 0xffffu) << 16 |
                    (uint64_t)(bz & 0xffffu) << 32;
    t->rec.arg[2] = smem;
    bf_trace_args_stream(t, stream);
    t->rec.arg[3] = kernel_id(f);
}

void bf_trace_args_launch_ex(bf_trace_call_t *t, const void *config, const void *f)
{
    const CUlaunchConfig *c = config;

    if (c == NULL) {
        set_kind(t, BF_TRACE_ARGS_LAUNCH);
        return;
    }
    bf_trace_args_launch(t, f, c->gridDimX, c->gridDimY, c->gridDimZ, c->blockDimX, c->blockDimY,
                         c->blockDimZ, c->sharedMemBytes, c->hStream);
}

void bf_trace_args_handle(bf_trace_call_t *t, int result, const void *handle_p, uint64_t flags,
                          const void *stream)
{
    set_kind(t, BF_TRACE_ARGS_HANDLE);
    if (result == 0 && handle_p != NULL)
        t->rec.arg[1] = (uint64_t)(uintptr_t) * (void *const *)handle_p;
    t->rec.arg[2] = flags;
    bf_trace_args_stream(t, stream);
}

void bf_trace_args_sync(bf_trace_call_t *t, uint64_t handle, const void *stream)
{
    set_kind(t, BF_TRACE_ARGS_SYNC);
    t->rec.arg[1] = handle;
    bf_trace_args_stream(t, stream);
}

/* ---- runtime calls (libbftrace_rt.so) ------------------------------------------------------- */

static void record_runtime(const bf_trace_rt_event_t *e)
{
    bf_trace_record_t *r;

    if (!bf_trace_on || in_trace || e->index >= BF_TRACE_RUNTIME_API_BASE)
        return;
    in_trace = true;
    uint16_t api = (uint16_t)(BF_TRACE_RUNTIME_API_BASE + e->index);
    if (!atomic_load_explicit(&process_announced, memory_order_relaxed))
        announce_process();
    name_api(api, e->name);
    /* Before the record is reserved: a new name is a record of its own. */
    uint32_t kid = e->args_kind == BF_TRACE_ARGS_LAUNCH ? kernel_id(e->kernel) : 0;
    r = buf_reserve(1);
    if (r != NULL) {
        memset(r, 0, sizeof(*r));
        r->type = BF_TRACE_REC_CALL;
        r->api = api;
        r->result = e->result;
        r->pid = trace_pid;
        r->tid = my_buf->tid;
        r->seq = atomic_fetch_add_explicit(&next_seq, 1, memory_order_relaxed);
        r->start_ns = e->start_ns;
        r->end_ns = e->end_ns;
        r->stream = e->stream;
        r->bytes_sent = e->bytes_sent;
        r->bytes_recv = e->bytes_recv;
        memcpy(r->arg, e->arg, sizeof(r->arg));
        if (e->args_kind == BF_TRACE_ARGS_LAUNCH)
            r->arg[3] = kid;
        r->flags = (uint8_t)(BF_TRACE_F_RUNTIME | (e->flags & (BF_TRACE_F_POSTED | BF_TRACE_F_WAITED)) |
                             (e->args_kind & 0x0f) << 4);
        buf_commit(1);
    }
    in_trace = false;
}

static const void *thread_io(void)
{
    return &bf_cl_io;
}

/* ---- set-up and tear-down ------------------------------------------------------------------- */

static void after_fork_child(void)
{
    /* The parent writes its own records; this process keeps only what it records from now. */
    trace_pid = (uint32_t)getpid();
    atomic_store(&process_announced, 0);
    pthread_mutex_init(&bufs_lock, NULL);
    pthread_mutex_init(&names_lock, NULL);
    for (trace_buf_t *b = bufs; b != NULL; b = b->next) {
        pthread_mutex_init(&b->flush_lock, NULL);
        b->flushed = 0;
        atomic_store(&b->committed, 0);
    }
    if (my_buf != NULL)
        my_buf->tid = (uint32_t)syscall(SYS_gettid);
}

__attribute__((constructor)) static void trace_init(void)
{
    const char *path = bf_config_get(BF_CONFIG_TRACE_FILE);

    if (path == NULL || path[0] == '\0' || strlen(path) >= sizeof(trace_path))
        return;
    snprintf(trace_path, sizeof(trace_path), "%s", path);
    trace_pid = (uint32_t)getpid();
    buf_key_ok = pthread_key_create(&buf_key, buf_thread_end) == 0;
    (void)pthread_atfork(NULL, NULL, after_fork_child);
    /* The runtime interposer, when bf-trace preloaded it, records through us. */
    bf_trace_rt_io_fn *io = dlsym(RTLD_DEFAULT, BF_TRACE_RT_IO_SYMBOL);
    if (io != NULL)
        *io = thread_io;
    bf_trace_rt_sink_fn *sink = dlsym(RTLD_DEFAULT, BF_TRACE_RT_SINK_SYMBOL);
    if (sink != NULL)
        *sink = record_runtime;
    bf_trace_on = 1;
}

/* After the application's atexit handlers: everything recorded so far goes to the file. */
__attribute__((destructor)) static void trace_fini(void)
{
    if (trace_fd < 0)
        return;
    /* trace.c is linked after engine/connection.c, so this destructor runs before the one that
     * closes the connection (destructors run in the reverse order of .fini_array). */
    if (my_buf != NULL || buf_create() != NULL)
        device_final();
    pthread_mutex_lock(&bufs_lock);
    for (trace_buf_t *b = bufs; b != NULL; b = b->next) {
        pthread_mutex_lock(&b->flush_lock);
        buf_write_locked(b);
        pthread_mutex_unlock(&b->flush_lock);
    }
    pthread_mutex_unlock(&bufs_lock);
}
