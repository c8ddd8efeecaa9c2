/*
 * tp.h: the transport layer. It knows bytes and frames, not CUDA.
 *
 * Addresses: "HOST:PORT" or "tcp:HOST:PORT" (TCP), "unix:/path" (filesystem Unix socket),
 * "unix:@name" (Linux abstract Unix socket). Every socket is SOCK_CLOEXEC, sends use MSG_NOSIGNAL,
 * interrupted calls are retried, connects have a timeout.
 *
 * A back-end fills a bf_tp_ops_t; stream sockets (TCP and Unix) share one. The shared-memory ring
 * and RDMA back-ends will be further tables.
 */
#ifndef BF_TP_H
#define BF_TP_H

#include <stddef.h>
#include <stdint.h>
#include <sys/uio.h>

#include "bf_status.h"

/* A frame: a 16-byte little-endian header, then `length` payload bytes. */
typedef struct {
    uint32_t length;      /* payload bytes after the header */
    uint16_t op;
    uint16_t flags;
    uint64_t request_id;
} bf_frame_hdr_t;

#define BF_FRAME_HDR_SIZE 16

enum {
    BF_FRAME_REPLY  = 1u << 0,  /* a reply to request_id */
    BF_FRAME_POSTED = 1u << 1,  /* a request that expects no reply */
};

typedef struct bf_tp_conn bf_tp_conn_t;

typedef struct {
    const char *name;
    /* Writes all of iov (retrying short writes and EINTR); BF_CLOSED if the peer is gone. */
    bf_status_t (*sendv)(bf_tp_conn_t *conn, const struct iovec *iov, int iovcnt);
    /* Reads exactly len bytes, waiting at most timeout_ms for each arrival (-1: forever).
     * BF_TIMEOUT if nothing arrived in time, BF_CLOSED on end of stream. */
    bf_status_t (*recv)(bf_tp_conn_t *conn, void *buf, size_t len, int timeout_ms);
    /* Returns 1 if bytes are ready to read now, 0 if not, a negative status on error. */
    int (*readable)(bf_tp_conn_t *conn, int timeout_ms);
    void (*close)(bf_tp_conn_t *conn);
    /* Writes what it can of iov without waiting; *sent_p gets the byte count (0 when the
     * connection would block). BF_CLOSED if the peer is gone. Lets a sender that shares the
     * connection with readers drain incoming data instead of blocking (optional: NULL when the
     * back-end always completes sends). */
    bf_status_t (*sendv_some)(bf_tp_conn_t *conn, const struct iovec *iov, int iovcnt,
                              size_t *sent_p);
    /* Waits at most timeout_ms until the connection is ready for what events asks (a mask of
     * BF_TP_READABLE and BF_TP_WRITABLE); returns the mask of what is ready, 0 on timeout, a
     * negative status on error. An end of stream or a socket error counts as readable. */
    int (*wait)(bf_tp_conn_t *conn, int events, int timeout_ms);
} bf_tp_ops_t;

enum { BF_TP_READABLE = 1, BF_TP_WRITABLE = 2 };

struct bf_tp_conn {
    const bf_tp_ops_t *ops;
    int fd;
    char peer[128];        /* printable peer address, for logs */
    uint64_t bytes_sent;
    uint64_t bytes_received;
    /* Stream back-end: small reads (frame headers, fixed parts, small tails) are served from one
     * buffered read, so a run of small frames costs one system call, not three per frame. Large
     * reads go straight to their destination. */
    uint8_t *rbuf;
    size_t rbuf_pos, rbuf_len;
};

/* Connects to address within timeout_ms. On failure logs nothing; *conn_p is untouched and the
 * reason is returned (BF_UNREACHABLE, BF_TIMEOUT, BF_INVALID_ARG for a malformed address), with a
 * printable explanation in why (may be NULL). */
bf_status_t bf_tp_connect(const char *address, int timeout_ms, bf_tp_conn_t **conn_p,
                          char *why, size_t why_len);

/* Creates a listening socket on address (backlog 128). */
bf_status_t bf_tp_listen(const char *address, int *fd_p, char *why, size_t why_len);

/* Wraps an accepted or inherited socket descriptor. */
bf_status_t bf_tp_conn_from_fd(int fd, const char *peer, bf_tp_conn_t **conn_p);

/* Closes the connection and frees it; NULL is ignored. */
void bf_tp_conn_close(bf_tp_conn_t *conn);

/*
 * Sends one frame: header (length is set here from fixed_len + tail_len), then the fixed part,
 * then the tail straight from where it lies. Not locked: callers sharing a connection serialise.
 */
bf_status_t bf_tp_send_frame(bf_tp_conn_t *conn, uint16_t op, uint16_t flags, uint64_t request_id,
                             const void *fixed, size_t fixed_len, const void *tail, size_t tail_len);

/* Encodes a frame header (16 bytes, little-endian) for senders that build frames themselves. */
void bf_tp_hdr_encode(const bf_frame_hdr_t *hdr, uint8_t out[BF_FRAME_HDR_SIZE]);

/* Receives a frame header, waiting at most timeout_ms (-1: forever). */
bf_status_t bf_tp_recv_hdr(bf_tp_conn_t *conn, bf_frame_hdr_t *hdr, int timeout_ms);

/* Receives exactly len bytes (payload parts go straight to their destination). */
bf_status_t bf_tp_recv(bf_tp_conn_t *conn, void *buf, size_t len, int timeout_ms);

/* Reads and drops len bytes. */
bf_status_t bf_tp_discard(bf_tp_conn_t *conn, uint64_t len, int timeout_ms);

#endif
