/* stream.c: the back-end for stream sockets (TCP and Unix): fills bf_tp_ops_t. */
#include "tp.h"

#include <errno.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

static bf_status_t stream_sendv(bf_tp_conn_t *conn, const struct iovec *iov_in, int iovcnt)
{
    struct iovec iov[8];
    struct msghdr msg = {0};

    if (iovcnt > 8)
        return BF_INVALID_ARG;
    for (int i = 0; i < iovcnt; i++)
        iov[i] = iov_in[i];
    msg.msg_iov    = iov;
    msg.msg_iovlen = (size_t)iovcnt;

    while (msg.msg_iovlen > 0) {
        ssize_t n = sendmsg(conn->fd, &msg, MSG_NOSIGNAL);
        if (n < 0) {
            if (errno == EINTR)
                continue;
            if (errno == EAGAIN || errno == EWOULDBLOCK) {
                struct pollfd pfd = {.fd = conn->fd, .events = POLLOUT};
                (void)poll(&pfd, 1, 100);
                continue;
            }
            return (errno == EPIPE || errno == ECONNRESET) ? BF_CLOSED : BF_IO;
        }
        conn->bytes_sent += (uint64_t)n;
        /* Advance past what was written; a short write leaves a partial iovec. */
        while (n > 0 && msg.msg_iovlen > 0) {
            if ((size_t)n >= msg.msg_iov->iov_len) {
                n -= (ssize_t)msg.msg_iov->iov_len;
                msg.msg_iov++;
                msg.msg_iovlen--;
            } else {
                msg.msg_iov->iov_base = (char *)msg.msg_iov->iov_base + n;
                msg.msg_iov->iov_len -= (size_t)n;
                n = 0;
            }
        }
        while (msg.msg_iovlen > 0 && msg.msg_iov->iov_len == 0) {
            msg.msg_iov++;
            msg.msg_iovlen--;
        }
    }
    return BF_OK;
}

/* Reads of at least this many bytes bypass the receive buffer; it holds this many. */
#define RBUF_DIRECT (16u << 10)
#define RBUF_SIZE (64u << 10)

static int stream_readable(bf_tp_conn_t *conn, int timeout_ms)
{
    struct pollfd pfd = {.fd = conn->fd, .events = POLLIN};

    if (conn->rbuf_pos < conn->rbuf_len)
        return 1;  /* buffered bytes are ready to read */

    for (;;) {
        int n = poll(&pfd, 1, timeout_ms);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0)
            return BF_IO;
        return n > 0 ? 1 : 0;
    }
}

static bf_status_t stream_recv(bf_tp_conn_t *conn, void *buf, size_t len, int timeout_ms)
{
    char *p = buf;

    while (len > 0) {
        if (conn->rbuf_pos < conn->rbuf_len) {
            size_t take = conn->rbuf_len - conn->rbuf_pos;
            if (take > len)
                take = len;
            memcpy(p, conn->rbuf + conn->rbuf_pos, take);
            conn->rbuf_pos += take;
            p += take;
            len -= take;
            continue;
        }
        if (len < RBUF_DIRECT && conn->rbuf == NULL)
            conn->rbuf = malloc(RBUF_SIZE);  /* without it, reads simply go direct */
        int buffered = len < RBUF_DIRECT && conn->rbuf != NULL;
        ssize_t n = buffered ? recv(conn->fd, conn->rbuf, RBUF_SIZE, MSG_DONTWAIT)
                             : recv(conn->fd, p, len, MSG_DONTWAIT);
        if (n > 0) {
            conn->bytes_received += (uint64_t)n;
            if (buffered) {
                conn->rbuf_pos = 0;
                conn->rbuf_len = (size_t)n;
            } else {
                p += n;
                len -= (size_t)n;
            }
            continue;
        }
        if (n == 0)
            return BF_CLOSED;
        if (errno == EINTR)
            continue;
        if (errno != EAGAIN && errno != EWOULDBLOCK)
            return errno == ECONNRESET ? BF_CLOSED : BF_IO;
        int ready = stream_readable(conn, timeout_ms);
        if (ready < 0)
            return (bf_status_t)ready;
        if (ready == 0)
            return BF_TIMEOUT;
    }
    return BF_OK;
}

static bf_status_t stream_sendv_some(bf_tp_conn_t *conn, const struct iovec *iov, int iovcnt,
                                     size_t *sent_p)
{
    struct msghdr msg = {.msg_iov = (struct iovec *)iov, .msg_iovlen = (size_t)iovcnt};

    *sent_p = 0;
    for (;;) {
        ssize_t n = sendmsg(conn->fd, &msg, MSG_NOSIGNAL | MSG_DONTWAIT);
        if (n >= 0) {
            conn->bytes_sent += (uint64_t)n;
            *sent_p = (size_t)n;
            return BF_OK;
        }
        if (errno == EINTR)
            continue;
        if (errno == EAGAIN || errno == EWOULDBLOCK)
            return BF_OK;
        return (errno == EPIPE || errno == ECONNRESET) ? BF_CLOSED : BF_IO;
    }
}

static int stream_wait(bf_tp_conn_t *conn, int events, int timeout_ms)
{
    /* Buffered bytes are readable now; whether the socket is writable is still asked. */
    if ((events & BF_TP_READABLE) && conn->rbuf_pos < conn->rbuf_len) {
        events &= ~BF_TP_READABLE;
        if (events == 0)
            return BF_TP_READABLE;
        int more = stream_wait(conn, events, 0);
        return more < 0 ? more : (more | BF_TP_READABLE);
    }
    struct pollfd pfd = {.fd = conn->fd,
                         .events = (short)(((events & BF_TP_READABLE) ? POLLIN : 0) |
                                           ((events & BF_TP_WRITABLE) ? POLLOUT : 0))};

    for (;;) {
        int n = poll(&pfd, 1, timeout_ms);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0)
            return BF_IO;
        if (n == 0)
            return 0;
        /* A hung-up or failed socket counts as readable: the read that follows says why. */
        return ((pfd.revents & (POLLIN | POLLHUP | POLLERR)) ? BF_TP_READABLE : 0) |
               ((pfd.revents & (POLLOUT | POLLERR)) ? BF_TP_WRITABLE : 0);
    }
}

static void stream_close(bf_tp_conn_t *conn)
{
    if (conn->fd >= 0)
        close(conn->fd);
    free(conn->rbuf);
    free(conn);
}

const bf_tp_ops_t bf_tp_stream_ops = {
    .name     = "stream",
    .sendv    = stream_sendv,
    .recv     = stream_recv,
    .readable   = stream_readable,
    .close      = stream_close,
    .sendv_some = stream_sendv_some,
    .wait       = stream_wait,
};
