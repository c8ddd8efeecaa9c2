/*
 * output.c: the driver's stdout and stderr, captured in memory files and sent to the client
 * (see output.h).
 *
 * The memory files are read with pread at our own offsets, so the driver's writes (through fds 1
 * and 2, which share the files' write offsets) never race with our reads; bytes already sent are
 * given back to the kernel by punching holes, so a session that prints a lot does not grow the
 * worker. Offsets only grow: nothing the driver writes while we read is lost.
 */
#include "output.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "bf_log.h"
#include "session.h"

/* Bytes per OUTPUT frame (and read buffer). */
#define CHUNK (64u << 10)

typedef struct {
    int fd;              /* the memory file (our own descriptor, close-on-exec) */
    uint64_t sent;       /* bytes of it sent so far */
    uint64_t released;   /* bytes before this have been punched out */
} capture_t;

static pthread_mutex_t output_lock = PTHREAD_MUTEX_INITIALIZER;
static capture_t captures[2] = {{.fd = -1}, {.fd = -1}};  /* for fds 1 and 2 */
static uint8_t *chunk;

/* Sanitizers write their reports to fd 2 unless told otherwise; those belong in the worker's log,
 * not in the client's stderr (and a report written just before an abort would be lost there). */
extern void __sanitizer_set_report_fd(void *fd) __attribute__((weak));

bf_status_t bf_srv_output_capture(void)
{
    char text[16];
    int log_fd = fcntl(STDERR_FILENO, F_DUPFD_CLOEXEC, 3);

    if (log_fd < 0) {
        bf_log_error("cannot duplicate stderr for the log: %s", strerror(errno));
        return BF_IO;
    }
    snprintf(text, sizeof(text), "%d", log_fd);
    setenv("BF_LOG_FD", text, 1);
    bf_log_init("bf-worker", BF_LOG_INFO);
    if (__sanitizer_set_report_fd != NULL)
        __sanitizer_set_report_fd((void *)(intptr_t)log_fd);

    chunk = malloc(CHUNK);
    int files[2] = {memfd_create("bf-worker-stdout", MFD_CLOEXEC),
                    memfd_create("bf-worker-stderr", MFD_CLOEXEC)};
    if (chunk == NULL || files[0] < 0 || files[1] < 0) {
        bf_log_warn("device output is not captured (memfd_create: %s): it stays in the worker's "
                    "stdout and stderr", strerror(errno));
        goto err_files;
    }
    /* Unbuffered stdout: a driver that prints with stdio must not keep output back from a flush
     * point. */
    fflush(stdout);
    setvbuf(stdout, NULL, _IONBF, 0);
    if (dup2(files[0], STDOUT_FILENO) < 0 || dup2(files[1], STDERR_FILENO) < 0) {
        bf_log_warn("device output is not captured (dup2: %s)", strerror(errno));
        goto err_files;
    }
    for (int i = 0; i < 2; i++)
        captures[i].fd = files[i];
    return BF_OK;

err_files:
    for (int i = 0; i < 2; i++)
        if (files[i] >= 0)
            close(files[i]);
    free(chunk);
    chunk = NULL;
    return BF_OK;
}

/* Lock held: sends [c->sent, end) of one capture. */
static bf_status_t send_new(bf_srv_session_t *session, capture_t *c, uint32_t fd)
{
    const bf_proto_msg_desc_t *desc = &bf_proto_op(BF_OP_OUTPUT)->request;
    uint8_t fixed[BF_PROTO_MAX_FIXED];
    struct stat st;

    if (fstat(c->fd, &st) != 0 || (uint64_t)st.st_size <= c->sent)
        return BF_OK;
    uint64_t end = (uint64_t)st.st_size;
    while (c->sent < end) {
        size_t want = end - c->sent < CHUNK ? (size_t)(end - c->sent) : CHUNK;
        ssize_t got = pread(c->fd, chunk, want, (off_t)c->sent);
        if (got <= 0) {
            bf_log_warn("cannot read the driver's output on fd %u: %s", fd,
                        got < 0 ? strerror(errno) : "end of file");
            c->sent = end;  /* skip it rather than retry forever */
            break;
        }
        bf_req_OUTPUT_t req = {.fd = fd, .len = (uint32_t)got};
        size_t len = bf_proto_encode(desc, &req, fixed);
        bf_status_t status = bf_srv_session_send(session, BF_OP_OUTPUT, BF_FRAME_POSTED, 0, fixed,
                                                 len, chunk, (size_t)got);
        if (status != BF_OK)
            return status;
        c->sent += (uint64_t)got;
    }
    /* Give the pages already sent back (whole pages only; the file keeps its size). */
    uint64_t page = 4096, upto = c->sent / page * page;
    if (upto > c->released &&
        fallocate(c->fd, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE, (off_t)c->released,
                  (off_t)(upto - c->released)) == 0)
        c->released = upto;
    return BF_OK;
}

bf_status_t bf_srv_output_flush(bf_srv_session_t *session)
{
    bf_status_t status = BF_OK;

    if (captures[0].fd < 0)
        return BF_OK;
    pthread_mutex_lock(&output_lock);
    /* Output a driver printed with stdio, in case it set its own buffering. */
    fflush(stdout);
    for (uint32_t i = 0; i < 2 && status == BF_OK; i++)
        status = send_new(session, &captures[i], i + 1);
    pthread_mutex_unlock(&output_lock);
    return status;
}
