/*
 * test_engine_conn.c: the connection's failure paths, against a scripted peer that speaks the
 * protocol through the real codec and transport (no worker needed): no server configured,
 * server unreachable, protocol version mismatch, a silent server, heartbeats that keep a long
 * wait alive, a malformed reply, a server that dies, a forked child.
 *
 * "crossed": two threads wait at once and the peer answers their requests in the reverse order;
 * each must get its own reply (the leader/follower reading of rpc.c).
 *
 * "output": OUTPUT frames before a reply reach the program's stdout and stderr before the call
 * returns; one naming a descriptor other than 1 or 2 is a malformed message.
 *
 * "deaf": the peer stays connected but stops reading; a copy larger than the socket's buffers
 * must fail within the heartbeat timeout instead of blocking forever.
 *
 * Usage: test_engine_conn SCENARIO. Each scenario runs in a fresh process because the
 * connection's state is sticky by design. stderr is captured to check that libbf prints exactly
 * one line for an unreachable or lost server.
 */
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define __CUDA_API_VERSION_INTERNAL 1
#include <cuda.h>

#include "engine.h"
#include "proto.h"
#include "tp.h"

static FILE *real_stderr;
#define BF_CHECK_OUT real_stderr  /* the tests capture stderr itself */
#include "../bf_check.h"


static FILE *captured;
static const char *scenario;

/* The "deaf" scenario's copy: far more than a socket buffers. */
#define DEAF_COPY (16u << 20)

CUresult bf_unsupported(const char *name)
{
    (void)name;
    return CUDA_ERROR_NOT_SUPPORTED;
}

/* ---- the scripted peer --------------------------------------------------------------------- */

static int listen_fd = -1;
static uint64_t hello_va_base;

static int recv_request(bf_tp_conn_t *conn, bf_frame_hdr_t *hdr, void *req, uint8_t *tail,
                        size_t tail_cap)
{
    uint8_t fixed[BF_PROTO_MAX_FIXED];
    uint64_t tail_len;

    if (bf_tp_recv_hdr(conn, hdr, 10000) != BF_OK)
        return -1;
    const bf_proto_op_desc_t *op = bf_proto_op(hdr->op);
    if (op == NULL || hdr->length < op->request.wire_size ||
        bf_tp_recv(conn, fixed, op->request.wire_size, 10000) != BF_OK ||
        bf_proto_decode(&op->request, fixed, op->request.wire_size, hdr->length, req, &tail_len) !=
            BF_OK ||
        tail_len > tail_cap || bf_tp_recv(conn, tail, tail_len, 10000) != BF_OK)
        return -1;
    return 0;
}

static void send_reply(bf_tp_conn_t *conn, uint16_t op, uint64_t id, const void *rep,
                       const void *tail, size_t tail_len)
{
    uint8_t fixed[BF_PROTO_MAX_FIXED];
    size_t len = bf_proto_encode(&bf_proto_op(op)->reply, rep, fixed);

    (void)bf_tp_send_frame(conn, op, BF_FRAME_REPLY, id, fixed, len, tail, tail_len);
}

static void send_heartbeat(bf_tp_conn_t *conn, uint64_t sequence)
{
    uint8_t fixed[BF_PROTO_MAX_FIXED];
    bf_req_HEARTBEAT_t beat = {.sequence = sequence};
    size_t len = bf_proto_encode(&bf_proto_op(BF_OP_HEARTBEAT)->request, &beat, fixed);

    (void)bf_tp_send_frame(conn, BF_OP_HEARTBEAT, BF_FRAME_POSTED, 0, fixed, len, NULL, 0);
}

static void send_output(bf_tp_conn_t *conn, uint32_t fd, const char *text)
{
    uint8_t fixed[BF_PROTO_MAX_FIXED];
    bf_req_OUTPUT_t out = {.fd = fd, .len = (uint32_t)strlen(text)};
    size_t len = bf_proto_encode(&bf_proto_op(BF_OP_OUTPUT)->request, &out, fixed);

    (void)bf_tp_send_frame(conn, BF_OP_OUTPUT, BF_FRAME_POSTED, 0, fixed, len, text, out.len);
}

static void sleep_ms(int ms)
{
    struct timespec ts = {.tv_sec = ms / 1000, .tv_nsec = (long)(ms % 1000) * 1000000L};
    while (nanosleep(&ts, &ts) != 0 && errno == EINTR)
        ;
}

static void answer_hello(bf_tp_conn_t *conn, const bf_frame_hdr_t *hdr, const bf_req_HELLO_t *req)
{
    static bf_proto_device_t device;
    bf_rep_HELLO_t rep = {.result = CUDA_SUCCESS, .proto_version = BF_PROTO_VERSION,
                          .driver_version = 13000, .device_count = 1,
                          .devices_len = sizeof(device)};

    hello_va_base = req->va_base;
    if (strcmp(scenario, "version") == 0) {
        rep = (bf_rep_HELLO_t){.result = CUDA_ERROR_NOT_INITIALIZED, .proto_version = 99};
        send_reply(conn, BF_OP_HELLO, hdr->request_id, &rep, NULL, 0);
        return;
    }
    snprintf(device.name, sizeof(device.name), "scripted device");
    device.total_mem = 64u << 20;
    device.window_base = req->va_base;
    device.window_size = 64u << 20;
    device.attributes[CU_DEVICE_ATTRIBUTE_COMPUTE_CAPABILITY_MAJOR] = 7;
    device.attributes[CU_DEVICE_ATTRIBUTE_COMPUTE_CAPABILITY_MINOR] = 5;
    send_reply(conn, BF_OP_HELLO, hdr->request_id, &rep, &device, sizeof(device));
}

/* Serves one session; what it does with CTX_SYNCHRONIZE is the scenario. */
static void *peer_main(void *arg)
{
    (void)arg;
    int fd = accept(listen_fd, NULL, NULL);
    bf_tp_conn_t *conn;
    union {
        bf_req_HELLO_t hello;
        bf_req_MEM_ALLOC_t alloc;
        uint8_t raw[BF_PROTO_MAX_FIXED];
    } req;
    static uint8_t tail[1 << 16];
    uint64_t next_alloc = 0;

    if (fd < 0 || bf_tp_conn_from_fd(fd, "test client", &conn) != BF_OK)
        return NULL;
    for (;;) {
        bf_frame_hdr_t hdr;
        if (recv_request(conn, &hdr, &req, tail, sizeof(tail)) != 0)
            break;
        switch (hdr.op) {
        case BF_OP_HELLO:
            answer_hello(conn, &hdr, &req.hello);
            break;
        case BF_OP_MEM_ALLOC: {
            if (strcmp(scenario, "crossed") == 0 && req.alloc.bytesize != 4096) {
                /* Two allocations from two threads: answered in the reverse order, each at an
                 * address that tells its size. */
                static bf_frame_hdr_t held;
                static uint64_t held_size;
                if (held_size == 0) {
                    held = hdr;
                    held_size = req.alloc.bytesize;
                    break;
                }
                bf_rep_MEM_ALLOC_t second = {.result = CUDA_SUCCESS,
                                             .dptr = hello_va_base + req.alloc.bytesize};
                bf_rep_MEM_ALLOC_t first = {.result = CUDA_SUCCESS,
                                            .dptr = hello_va_base + held_size};
                send_reply(conn, hdr.op, hdr.request_id, &second, NULL, 0);
                send_reply(conn, held.op, held.request_id, &first, NULL, 0);
                held_size = 0;
                break;
            }
            bf_rep_MEM_ALLOC_t rep = {.result = CUDA_SUCCESS,
                                      .dptr = hello_va_base + next_alloc};
            next_alloc += (req.alloc.bytesize + 255) & ~255ull;
            send_reply(conn, hdr.op, hdr.request_id, &rep, NULL, 0);
            if (strcmp(scenario, "deaf") == 0 && req.alloc.bytesize == DEAF_COPY) {
                sleep_ms(4000);  /* connected, reading nothing, sending nothing */
                goto out;
            }
            break;
        }
        case BF_OP_CTX_SYNCHRONIZE: {
            bf_rep_CTX_SYNCHRONIZE_t rep = {.result = CUDA_SUCCESS};
            if (strcmp(scenario, "silence") == 0) {
                sleep_ms(3000);
            } else if (strcmp(scenario, "heartbeat") == 0) {
                for (int i = 0; i < 10; i++) {  /* 1 s of work, four times the timeout */
                    sleep_ms(100);
                    send_heartbeat(conn, (uint64_t)i);
                }
                send_reply(conn, hdr.op, hdr.request_id, &rep, NULL, 0);
            } else if (strcmp(scenario, "output") == 0) {
                static int syncs;
                if (syncs++ == 0) {
                    send_output(conn, 1, "device line 1\ndevice line 2\n");
                    send_output(conn, 2, "device assert message\n");
                } else {
                    send_output(conn, 7, "nowhere\n");
                }
                send_reply(conn, hdr.op, hdr.request_id, &rep, NULL, 0);
            } else if (strcmp(scenario, "malformed") == 0) {
                send_reply(conn, hdr.op, hdr.request_id + 7, &rep, NULL, 0);
            } else if (strcmp(scenario, "dead") == 0) {
                bf_tp_conn_close(conn);
                return NULL;
            } else {
                send_reply(conn, hdr.op, hdr.request_id, &rep, NULL, 0);
            }
            break;
        }
        case BF_OP_GOODBYE:
            goto out;
        default:
            break;  /* posted ops: nothing to answer */
        }
    }
out:
    bf_tp_conn_close(conn);
    return NULL;
}

/* ---- checks ------------------------------------------------------------------------------- */

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* Lines libbf wrote to stderr that start with "openbf: " and contain word. */
static int count_lines(const char *word)
{
    char line[1024];
    int n = 0;

    fflush(stderr);
    rewind(captured);
    while (fgets(line, sizeof(line), captured) != NULL) {
        fputs(line, real_stderr);
        if (strncmp(line, "openbf: ", 8) == 0 && strstr(line, word) != NULL)
            n++;
    }
    return n;
}

static void make_current(void)
{
    CUcontext ctx;
    CHECK(cuDevicePrimaryCtxRetain(&ctx, 0) == CUDA_SUCCESS);
    CHECK(cuCtxSetCurrent(ctx) == CUDA_SUCCESS);
}

/* One of the two threads of the "crossed" scenario: an allocation whose address says its size. */
static void *crossed_main(void *arg)
{
    size_t size = (size_t)(uintptr_t)arg;
    CUdeviceptr dptr = 0;

    make_current();
    CHECK(cuMemAlloc_v2(&dptr, size) == CUDA_SUCCESS);
    CHECK(dptr == hello_va_base + size);
    return NULL;
}

static void run_scenario(void)
{
    CUdeviceptr dptr;
    int count = -1;

    if (strcmp(scenario, "noserver") == 0) {
        unsetenv("BF_SERVER");
        CHECK(cuInit(0) == CUDA_ERROR_NO_DEVICE);
        CHECK(cuInit(0) == CUDA_ERROR_NO_DEVICE);  /* sticky */
        CHECK(cuDeviceGetCount(&count) == CUDA_ERROR_NOT_INITIALIZED);
        CHECK(count_lines("BF_SERVER") == 1);
        return;
    }
    if (strcmp(scenario, "unreachable") == 0) {
        setenv("BF_SERVER", "unix:@bf-engine-test-nobody-listens", 1);
        CHECK(cuInit(0) == CUDA_ERROR_NO_DEVICE);
        CHECK(cuInit(0) == CUDA_ERROR_NO_DEVICE);
        CHECK(count_lines("unreachable") == 1);
        return;
    }
    if (strcmp(scenario, "version") == 0) {
        CHECK(cuInit(0) == CUDA_ERROR_SYSTEM_DRIVER_MISMATCH);
        CHECK(count_lines("protocol version 99, this libbf speaks version") == 1);
        return;
    }

    /* Before cuInit every call but the version and error strings is refused. */
    int version = 0;
    const char *name = NULL;
    CHECK(cuDeviceGetCount(&count) == CUDA_ERROR_NOT_INITIALIZED);
    CHECK(cuMemAlloc_v2(&dptr, 16) == CUDA_ERROR_NOT_INITIALIZED);
    CHECK(cuDriverGetVersion(&version) == CUDA_SUCCESS && version == 13000);
    CHECK(cuGetErrorName(CUDA_ERROR_DEVICE_UNAVAILABLE, &name) == CUDA_SUCCESS &&
          strcmp(name, "CUDA_ERROR_DEVICE_UNAVAILABLE") == 0);

    CHECK(cuInit(0) == CUDA_SUCCESS);
    CHECK(cuDeviceGetCount(&count) == CUDA_SUCCESS && count == 1);
    CHECK(cuMemAlloc_v2(&dptr, 16) == CUDA_ERROR_INVALID_CONTEXT);
    make_current();
    CHECK(cuMemAlloc_v2(&dptr, 4096) == CUDA_SUCCESS && dptr == hello_va_base);

    if (strcmp(scenario, "fork") == 0) {
        pid_t child = fork();
        if (child == 0) {
            /* The child must not touch the parent's connection. */
            int ok = cuMemAlloc_v2(&dptr, 16) == CUDA_ERROR_NOT_INITIALIZED &&
                     cuCtxSynchronize() == CUDA_ERROR_NOT_INITIALIZED &&
                     cuInit(0) == CUDA_ERROR_NOT_INITIALIZED;
            _exit(ok ? 0 : 1);
        }
        int status = 0;
        CHECK(child > 0 && waitpid(child, &status, 0) == child);
        CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 0);
        CHECK(cuCtxSynchronize() == CUDA_SUCCESS);  /* the parent carries on */
        CHECK(cuMemFree_v2(dptr) == CUDA_SUCCESS);
        return;
    }

    if (strcmp(scenario, "crossed") == 0) {
        pthread_t a, b;
        pthread_create(&a, NULL, crossed_main, (void *)(uintptr_t)(64 << 10));
        pthread_create(&b, NULL, crossed_main, (void *)(uintptr_t)(128 << 10));
        pthread_join(a, NULL);
        pthread_join(b, NULL);
        CHECK(cuCtxSynchronize() == CUDA_SUCCESS);
        CHECK(count_lines("lost") == 0);
        return;
    }

    if (strcmp(scenario, "output") == 0) {
        /* stdout goes to a file of ours for the check; what libbf wrote must be there, flushed,
         * after the line printed before the call. */
        FILE *out = tmpfile();
        fflush(stdout);
        int saved = dup(STDOUT_FILENO);
        dup2(fileno(out), STDOUT_FILENO);
        printf("program line\n");
        CHECK(cuCtxSynchronize() == CUDA_SUCCESS);
        char text[256] = {0};
        CHECK(pread(fileno(out), text, sizeof(text) - 1, 0) > 0);
        CHECK(strcmp(text, "program line\ndevice line 1\ndevice line 2\n") == 0);
        fflush(stdout);
        dup2(saved, STDOUT_FILENO);
        close(saved);
        fclose(out);
        CHECK(count_lines("") == 0);  /* no "openbf:" line: the message is the device's */
        char line[256] = {0};
        rewind(captured);
        CHECK(fgets(line, sizeof(line), captured) != NULL &&
              strcmp(line, "device assert message\n") == 0);
        CHECK(cuCtxSynchronize() == CUDA_ERROR_DEVICE_UNAVAILABLE);
        CHECK(count_lines("malformed output frame") == 1);
        return;
    }

    if (strcmp(scenario, "deaf") == 0) {
        CUdeviceptr big;
        uint8_t *data = calloc(1, DEAF_COPY);
        CHECK(cuMemAlloc_v2(&big, DEAF_COPY) == CUDA_SUCCESS);
        double start = now_s();
        CHECK(cuMemcpyHtoD_v2(big, data, DEAF_COPY) == CUDA_ERROR_DEVICE_UNAVAILABLE);
        double waited = now_s() - start;
        CHECK(waited > 0.25 && waited < 2.0);  /* the timeout is 300 ms here */
        CHECK(cuMemAlloc_v2(&dptr, 16) == CUDA_ERROR_DEVICE_UNAVAILABLE);
        CHECK(count_lines("took no data") == 1);
        free(data);
        return;
    }

    double start = now_s();
    CUresult result = cuCtxSynchronize();
    double waited = now_s() - start;
    if (strcmp(scenario, "heartbeat") == 0) {
        CHECK(result == CUDA_SUCCESS);
        CHECK(waited > 0.9);
        CHECK(count_lines("lost") == 0);
        return;
    }
    /* silence, malformed, dead: the server is declared lost, once, and fast. */
    CHECK(result == CUDA_ERROR_DEVICE_UNAVAILABLE);
    CHECK(waited < 2.0);
    start = now_s();
    CHECK(cuMemAlloc_v2(&dptr, 16) == CUDA_ERROR_DEVICE_UNAVAILABLE);
    CHECK(cuMemsetD8_v2(hello_va_base, 0, 16) == CUDA_ERROR_DEVICE_UNAVAILABLE);
    CHECK(cuDeviceGetCount(&count) == CUDA_ERROR_DEVICE_UNAVAILABLE);
    CHECK(cuInit(0) == CUDA_ERROR_DEVICE_UNAVAILABLE);
    CHECK(now_s() - start < 0.1);
    CHECK(count_lines("lost") == 1);
}

int main(int argc, char **argv)
{
    char address[128];
    char why[256];
    pthread_t peer;
    int peer_started = 0;

    if (argc != 2) {
        fprintf(stderr, "usage: %s noserver|unreachable|version|silence|heartbeat|malformed|dead|fork|"
                "crossed|output|deaf\n",
                argv[0]);
        return 2;
    }
    scenario = argv[1];
    /* A peer that stops answering must be noticed quickly in a test. */
    setenv("BF_HEARTBEAT_TIMEOUT_MS", "300", 1);
    unsetenv("BF_LOG");

    int needs_peer = strcmp(scenario, "noserver") != 0 && strcmp(scenario, "unreachable") != 0;
    if (needs_peer) {
        snprintf(address, sizeof(address), "unix:@bf-engine-test-%d-%s", (int)getpid(), scenario);
        if (bf_tp_listen(address, &listen_fd, why, sizeof(why)) != BF_OK) {
            fprintf(stderr, "cannot listen: %s\n", why);
            return 1;
        }
        setenv("BF_SERVER", address, 1);
        pthread_create(&peer, NULL, peer_main, NULL);
        peer_started = 1;
    }

    /* Capture what libbf prints. */
    real_stderr = fdopen(dup(STDERR_FILENO), "w");
    setvbuf(real_stderr, NULL, _IONBF, 0);
    captured = tmpfile();
    dup2(fileno(captured), STDERR_FILENO);

    run_scenario();

    if (peer_started && (strcmp(scenario, "heartbeat") == 0 || strcmp(scenario, "fork") == 0 ||
                         strcmp(scenario, "crossed") == 0))
        pthread_detach(peer);  /* ends with GOODBYE from libbf's destructor */
    if (failures == 0)
        fprintf(real_stderr, "engine connection scenario %s: all checks passed\n", scenario);
    return failures == 0 ? 0 : 1;
}
