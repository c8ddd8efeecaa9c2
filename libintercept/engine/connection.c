/*
 * connection.c: the one connection of this process to its bf-worker.
 *
 * Opened by the first cuInit, never before: libbf.so is preloaded into every child of `bf run`
 * and must stay inert in processes that make no CUDA call. The first contact reserves the device
 * address range, connects, says HELLO and keeps the device descriptions of the reply, from which
 * every device query is answered locally.
 *
 * Errors a user sees:
 *   - no BF_SERVER, server unreachable, HELLO not answered: cuInit returns CUDA_ERROR_NO_DEVICE,
 *     which the runtime reports as "no CUDA-capable device is detected"; one line on stderr says
 *     why.
 *   - protocol versions differ: CUDA_ERROR_SYSTEM_DRIVER_MISMATCH, with one line naming both
 *     versions and the server.
 *   - the server goes away later: one line "openbf: server ADDRESS lost: REASON"; every later call
 *     returns CUDA_ERROR_DEVICE_UNAVAILABLE at once.
 *   - a forked child of a process that used CUDA: its calls return CUDA_ERROR_NOT_INITIALIZED, as
 *     NVIDIA's driver does in that case; the parent's connection is left alone.
 */
#include "engine_int.h"

#include <errno.h>
#include <pwd.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "bf_config.h"
#include "bf_cu_result.h"
#include "bf_log.h"

/* Where the device windows go: 32 TiB, 1 TiB long, far from where Linux puts heaps and
 * libraries, so device pointers never alias host memory of this process. Not 16 TiB: on x86-64
 * AddressSanitizer's shadow memory ends just above 16 TiB, and the sanitizer job preloads it. */
#define VA_HINT ((uintptr_t)0x200000000000ull)
#define VA_SIZE ((size_t)1 << 40)

/* How long the destructor waits for a thread still inside a call before giving up on GOODBYE. */
#define TEARDOWN_LOCK_WAIT_MS 1000

bf_cl_conn_t bf_cl_conn = {
    .lock       = PTHREAD_MUTEX_INITIALIZER,
    .cond       = PTHREAD_COND_INITIALIZER,
    .send_lock  = PTHREAD_MUTEX_INITIALIZER,
    .flush_cond = PTHREAD_COND_INITIALIZER,
    .next_id    = 1,
};

const bf_proto_device_t *bf_cl_devices;
int bf_cl_devices_count;

static pthread_mutex_t init_lock = PTHREAD_MUTEX_INITIALIZER;
static CUresult init_result = CUDA_ERROR_NOT_INITIALIZED;  /* meaningful once state != IDLE */
static int init_in_progress;
static pthread_once_t log_once = PTHREAD_ONCE_INIT;
static pthread_once_t atfork_once = PTHREAD_ONCE_INIT;

static void log_setup_once(void)
{
    bf_log_init("libbf", BF_LOG_OFF);
}

void bf_cl_log_setup(void)
{
    pthread_once(&log_once, log_setup_once);
}

/* The few lines libbf prints whatever BF_LOG says: one write so that lines do not interleave. */
static void say(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void say(const char *fmt, ...)
{
    char line[1024];
    va_list ap;

    va_start(ap, fmt);
    int n = vsnprintf(line, sizeof(line) - 1, fmt, ap);
    va_end(ap);
    if (n < 0)
        return;
    if ((size_t)n > sizeof(line) - 2)
        n = (int)sizeof(line) - 2;
    line[n++] = '\n';
    (void)!write(STDERR_FILENO, line, (size_t)n);
}

void bf_cl_conn_fail(const char *reason)
{
    static bool reported;

    pthread_mutex_lock(&bf_cl_conn.lock);
    int state = atomic_load(&bf_cl_conn.state);
    bool first = !reported;
    reported = true;

    /* Only the first failure is reported: "ONE line", later calls fail silently and fast. */
    if (state == BF_CL_CONN_READY)
        say("openbf: server %s lost: %s", bf_cl_conn.address, reason);
    else if (state == BF_CL_CONN_IDLE && first)
        say("openbf: server %s unreachable: %s", bf_cl_conn.address, reason);
    if (first)
        bf_log_debug("connection to %s given up: %s", bf_cl_conn.address, reason);
    bf_cl_conn.broken = true;
    /* Shut down, not closed: other threads may be inside a send or receive on the descriptor,
     * which must not be reused under them. It is closed at teardown. */
    if (bf_cl_conn.tp != NULL && bf_cl_conn.tp->fd >= 0)
        (void)shutdown(bf_cl_conn.tp->fd, SHUT_RDWR);
    if (state == BF_CL_CONN_READY)
        atomic_store(&bf_cl_conn.state, BF_CL_CONN_LOST);
    pthread_cond_broadcast(&bf_cl_conn.cond);
    pthread_mutex_unlock(&bf_cl_conn.lock);
}

/* "user@host pid N: cmdline", what the server shows for this session. */
static void describe_self(char *who, size_t len)
{
    char user[64] = "", host[128] = "", cmdline[512] = "";
    struct passwd pw, *found = NULL;
    char pwbuf[1024];

    if (getpwuid_r(geteuid(), &pw, pwbuf, sizeof(pwbuf), &found) == 0 && found != NULL)
        snprintf(user, sizeof(user), "%s", found->pw_name);
    else
        snprintf(user, sizeof(user), "uid%u", (unsigned)geteuid());
    if (gethostname(host, sizeof(host) - 1) != 0)
        snprintf(host, sizeof(host), "?");

    FILE *f = fopen("/proc/self/cmdline", "re");
    if (f != NULL) {
        size_t n = fread(cmdline, 1, sizeof(cmdline) - 1, f);
        fclose(f);
        /* Arguments are NUL-separated; show them space-separated. */
        for (size_t i = 0; i < n; i++)
            if (cmdline[i] == '\0')
                cmdline[i] = ' ';
        while (n > 0 && cmdline[n - 1] == ' ')
            n--;
        cmdline[n] = '\0';
    }
    snprintf(who, len, "%s@%s pid %d: %s", user, host, (int)getpid(), cmdline);
}

/* Reserves the device address range; returns its base, or NULL. */
static void *reserve_device_range(void)
{
    void *base = mmap((void *)VA_HINT, VA_SIZE, PROT_NONE,
                      MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);

    if (base == MAP_FAILED) {
        say("openbf: cannot reserve %zu bytes of address space for device memory: %s", VA_SIZE,
            strerror(errno));
        return NULL;
    }
    if ((uintptr_t)base != VA_HINT)
        bf_log_info("device address range at %p instead of %#lx (hint taken)", base,
                    (unsigned long)VA_HINT);
    return base;
}

static void check_windows(const bf_proto_device_t *devices, int count, uint64_t va_base)
{
    for (int i = 0; i < count; i++) {
        const bf_proto_device_t *d = &devices[i];
        if (d->window_size != 0 &&
            (d->window_base < va_base || d->window_base - va_base > VA_SIZE ||
             d->window_size > VA_SIZE - (d->window_base - va_base)))
            bf_log_warn("device %d window [%#llx, +%#llx) lies outside the reserved range "
                        "[%#llx, +%#zx): its pointers may alias host memory",
                        i, (unsigned long long)d->window_base, (unsigned long long)d->window_size,
                        (unsigned long long)va_base, VA_SIZE);
    }
}

/* HELLO: sends who we are and the reserved range, keeps the device descriptions.
 * Only the initialising thread uses the connection yet. Returns the CUresult cuInit reports. */
static CUresult say_hello(void *va_base)
{
    char who[1024], why[256];
    bf_req_HELLO_t req = {
        .proto_version = BF_PROTO_VERSION,
        .pid           = (uint32_t)getpid(),
        .va_base       = (uint64_t)(uintptr_t)va_base,
        .va_size       = VA_SIZE,
    };
    bf_rep_HELLO_t rep;
    size_t capacity = BF_CL_MAX_DEVICES * sizeof(bf_proto_device_t);
    bf_proto_device_t *devices = calloc(BF_CL_MAX_DEVICES, sizeof(*devices));
    bf_cl_sink_t sink = {.base = devices, .width = capacity, .pitch = capacity, .rows = 1,
                         .allow_short = 1};

    if (devices == NULL) {
        bf_cl_conn_fail("out of memory");
        return CUDA_ERROR_OUT_OF_MEMORY;
    }
    describe_self(who, sizeof(who));
    req.who_len = (uint32_t)strlen(who);

    bf_status_t status = bf_cl_rpc_call_raw(BF_OP_HELLO, &req, who, req.who_len, &rep, &sink,
                                            why, sizeof(why));
    if (status == BF_PROTOCOL) {
        /* Whatever answered there does not speak our protocol (a web server, an old worker). */
        char reason[300];
        snprintf(reason, sizeof(reason), "not an openbf server (%s)", why);
        bf_cl_conn_fail(reason);
        goto err_free;
    }
    if (status != BF_OK) {
        bf_cl_conn_fail(why);
        goto err_free;
    }
    if (rep.proto_version != BF_PROTO_VERSION) {
        say("openbf: server %s speaks protocol version %u, this libbf speaks version %u: "
            "use matching openbf versions", bf_cl_conn.address, rep.proto_version,
            BF_PROTO_VERSION);
        free(devices);
        return CUDA_ERROR_SYSTEM_DRIVER_MISMATCH;
    }
    if (rep.result != CUDA_SUCCESS) {
        const char *name = bf_cu_result_name((CUresult)rep.result);
        snprintf(why, sizeof(why), "the worker could not start its driver (%s)",
                 name != NULL ? name : "unknown error");
        bf_cl_conn_fail(why);
        goto err_free;
    }
    if (rep.device_count > BF_CL_MAX_DEVICES ||
        rep.devices_len != (uint64_t)rep.device_count * sizeof(bf_proto_device_t)) {
        snprintf(why, sizeof(why), "malformed HELLO reply (%u devices in %u bytes)",
                 rep.device_count, rep.devices_len);
        bf_cl_conn_fail(why);
        goto err_free;
    }
    for (uint32_t i = 0; i < rep.device_count; i++) {
        /* Strings from the wire end where we say they end. */
        devices[i].name[sizeof(devices[i].name) - 1] = '\0';
        devices[i].pci_bus_id[sizeof(devices[i].pci_bus_id) - 1] = '\0';
    }
    check_windows(devices, (int)rep.device_count, req.va_base);
    bf_log_info("connected to %s: %u device(s), worker driver %u", bf_cl_conn.address,
                rep.device_count, rep.driver_version);
    bf_cl_devices = devices;
    bf_cl_devices_count = (int)rep.device_count;
    return CUDA_SUCCESS;

err_free:
    free(devices);
    return CUDA_ERROR_NO_DEVICE;
}

static void atfork_child(void)
{
    /* Only the forking thread exists here: locks held by the parent's other threads are reset
     * instead of taken, and the parent's socket is closed in this process only. */
    pthread_mutex_init(&init_lock, NULL);
    bf_cl_rpc_forget_after_fork();
    int state = atomic_load(&bf_cl_conn.state);
    if (state == BF_CL_CONN_IDLE && !init_in_progress)
        return;  /* the parent never reached a server: the child may connect itself */
    bf_tp_conn_close(bf_cl_conn.tp);
    bf_cl_conn.tp = NULL;
    init_in_progress = 0;
    atomic_store(&bf_cl_conn.state, BF_CL_CONN_FORKED);
}

static void atfork_register(void)
{
    (void)pthread_atfork(NULL, NULL, atfork_child);
}

/* First contact; init_lock held, state IDLE. */
static CUresult connect_server(void)
{
    const char *address = bf_config_get(BF_CONFIG_SERVER);
    char why[256] = "";
    CUresult result;

    pthread_once(&atfork_once, atfork_register);
    if (address[0] == '\0') {
        say("openbf: no server configured (BF_SERVER is unset; run the program with `bf run`)");
        return CUDA_ERROR_NO_DEVICE;
    }
    snprintf(bf_cl_conn.address, sizeof(bf_cl_conn.address), "%s", address);
    bf_cl_conn.heartbeat_timeout_ms = (int)bf_config_get_long(BF_CONFIG_HEARTBEAT_TIMEOUT_MS);

    void *va_base = reserve_device_range();
    if (va_base == NULL)
        return CUDA_ERROR_OPERATING_SYSTEM;

    bf_tp_conn_t *tp;
    int timeout_ms = (int)bf_config_get_long(BF_CONFIG_CONNECT_TIMEOUT_MS);
    bf_status_t status = bf_tp_connect(address, timeout_ms, &tp, why, sizeof(why));
    if (status != BF_OK) {
        /* The transport's reason repeats the address; say it once. */
        char prefix[300];
        const char *reason = why[0] ? why : bf_status_str(status);
        snprintf(prefix, sizeof(prefix), "cannot connect to %s: ", address);
        if (strncmp(reason, prefix, strlen(prefix)) == 0)
            reason += strlen(prefix);
        say("openbf: server %s unreachable: %s", address, reason);
        result = CUDA_ERROR_NO_DEVICE;
        goto err_unmap;
    }

    bf_cl_conn.tp = tp;
    bf_cl_conn.broken = false;
    if (bf_cl_rpc_setup() != BF_OK) {
        result = CUDA_ERROR_OUT_OF_MEMORY;
        goto err_close;
    }
    result = say_hello(va_base);
    if (result == CUDA_SUCCESS && bf_cl_ctx_setup(bf_cl_devices_count) != BF_OK) {
        bf_cl_conn_fail("out of memory");
        result = CUDA_ERROR_OUT_OF_MEMORY;
    }
    if (result != CUDA_SUCCESS)
        goto err_close;
    bf_cl_mem_setup((uint64_t)(uintptr_t)va_base, VA_SIZE);
    /* Release: whoever sees READY also sees the devices, contexts and windows set up above. */
    atomic_store(&bf_cl_conn.state, BF_CL_CONN_READY);
    return CUDA_SUCCESS;

err_close:
    /* No other thread uses a connection that never became READY. */
    bf_tp_conn_close(bf_cl_conn.tp);
    bf_cl_conn.tp = NULL;
err_unmap:
    munmap(va_base, VA_SIZE);
    return result;
}

CUresult bf_cl_init(void)
{
    CUresult result;

    if (atomic_load(&bf_cl_conn.state) == BF_CL_CONN_READY)
        return CUDA_SUCCESS;
    bf_cl_log_setup();
    pthread_mutex_lock(&init_lock);
    switch (atomic_load(&bf_cl_conn.state)) {
    case BF_CL_CONN_IDLE:
        init_in_progress = 1;
        result = connect_server();
        init_in_progress = 0;
        init_result = result;
        if (result != CUDA_SUCCESS)
            atomic_store(&bf_cl_conn.state, BF_CL_CONN_FAILED);
        break;
    case BF_CL_CONN_READY:
        result = CUDA_SUCCESS;
        break;
    case BF_CL_CONN_FAILED:
        result = init_result;
        break;
    case BF_CL_CONN_FORKED:
        result = CUDA_ERROR_NOT_INITIALIZED;
        break;
    default:
        result = CUDA_ERROR_DEVICE_UNAVAILABLE;
        break;
    }
    pthread_mutex_unlock(&init_lock);
    return result;
}

CUresult bf_cl_check_init(void)
{
    switch (atomic_load(&bf_cl_conn.state)) {
    case BF_CL_CONN_READY:
        return CUDA_SUCCESS;
    case BF_CL_CONN_LOST:
    case BF_CL_CONN_CLOSED:
        return CUDA_ERROR_DEVICE_UNAVAILABLE;
    default:
        return CUDA_ERROR_NOT_INITIALIZED;
    }
}

int bf_cl_device_count(void)
{
    return bf_cl_check_init() == CUDA_SUCCESS ? bf_cl_devices_count : 0;
}

const bf_proto_device_t *bf_cl_device(int ordinal)
{
    if (bf_cl_check_init() != CUDA_SUCCESS || ordinal < 0 || ordinal >= bf_cl_devices_count)
        return NULL;
    return &bf_cl_devices[ordinal];
}

static int lock_with_timeout(pthread_mutex_t *lock, int timeout_ms)
{
    struct timespec deadline;

    clock_gettime(CLOCK_REALTIME, &deadline);
    deadline.tv_sec += timeout_ms / 1000;
    deadline.tv_nsec += (long)(timeout_ms % 1000) * 1000000L;
    if (deadline.tv_nsec >= 1000000000L) {
        deadline.tv_sec++;
        deadline.tv_nsec -= 1000000000L;
    }
    return pthread_mutex_timedlock(lock, &deadline);
}

/* Runs after the application's atexit handlers (the runtime's cleanup included): a clean end of
 * the session. A thread still stuck in a call does not hold up exit; the socket then closes with
 * the process and the worker cleans up all the same. */
__attribute__((destructor)) static void conn_teardown(void)
{
    char why[128];

    if (atomic_load(&bf_cl_conn.state) != BF_CL_CONN_READY)
        return;
    /* Device printf output of the last kernels arrives with the reply of a synchronisation. */
    bf_cl_rpc_final_flush();
    /* The flusher first (it holds send_lock while it sends); then what is left in the batch and
     * GOODBYE go out together. */
    bool flusher_gone = bf_cl_rpc_stop_flusher(TEARDOWN_LOCK_WAIT_MS);
    if (lock_with_timeout(&bf_cl_conn.send_lock, TEARDOWN_LOCK_WAIT_MS) != 0)
        return;
    if (atomic_load(&bf_cl_conn.state) == BF_CL_CONN_READY) {
        bf_req_GOODBYE_t req = {.reason = 0};
        if (bf_cl_rpc_post_raw_locked(BF_OP_GOODBYE, &req, why, sizeof(why)) != BF_OK)
            bf_log_debug("goodbye not sent: %s", why);
        atomic_store(&bf_cl_conn.state, BF_CL_CONN_CLOSED);
        /* A thread still inside a call (or a flusher that did not stop) may use the socket:
         * then it stays open and closes with the process. */
        pthread_mutex_lock(&bf_cl_conn.lock);
        bool idle = !bf_cl_conn.reading && flusher_gone;
        pthread_mutex_unlock(&bf_cl_conn.lock);
        if (idle && bf_cl_conn.tp != NULL && bf_cl_conn.tp->fd >= 0)
            (void)shutdown(bf_cl_conn.tp->fd, SHUT_RDWR);
    }
    pthread_mutex_unlock(&bf_cl_conn.send_lock);
}
