/* stream.c: the back-end for stream sockets (TCP and Unix): fills bf_tp_ops_t. */
#include "tp.h"

#include <errno.h>
#include <poll.h>
#include <stdlib.h>
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

static int stream_readable(bf_tp_conn_t *conn, int timeout_ms)
{
    struct pollfd pfd = {.fd = conn->fd, .events = POLLIN};

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
        ssize_t n = recv(conn->fd, p, len, MSG_DONTWAIT);
        if (n > 0) {
            p += n;
            len -= (size_t)n;
            conn->bytes_received += (uint64_t)n;
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

static void stream_close(bf_tp_conn_t *conn)
{
    if (conn->fd >= 0)
        close(conn->fd);
    free(conn);
}

const bf_tp_ops_t bf_tp_stream_ops = {
    .name     = "stream",
    .sendv    = stream_sendv,
    .recv     = stream_recv,
    .readable = stream_readable,
    .close    = stream_close,
};
