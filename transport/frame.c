/* frame.c: frames over any back-end (header encoding, send of header+fixed+tail in one call). */
#include "tp.h"

#include <string.h>

void bf_tp_hdr_encode(const bf_frame_hdr_t *hdr, uint8_t out[BF_FRAME_HDR_SIZE])
{
    /* The wire is little-endian, as are x86-64 and aarch64. */
    memcpy(out, &hdr->length, 4);
    memcpy(out + 4, &hdr->op, 2);
    memcpy(out + 6, &hdr->flags, 2);
    memcpy(out + 8, &hdr->request_id, 8);
}

bf_status_t bf_tp_send_frame(bf_tp_conn_t *conn, uint16_t op, uint16_t flags, uint64_t request_id,
                             const void *fixed, size_t fixed_len, const void *tail, size_t tail_len)
{
    uint8_t hdr_bytes[BF_FRAME_HDR_SIZE];
    bf_frame_hdr_t hdr = {
        .length = (uint32_t)(fixed_len + tail_len), .op = op, .flags = flags, .request_id = request_id};
    struct iovec iov[3] = {
        {.iov_base = hdr_bytes, .iov_len = sizeof(hdr_bytes)},
        {.iov_base = (void *)fixed, .iov_len = fixed_len},
        {.iov_base = (void *)tail, .iov_len = tail_len},
    };

    if (fixed_len + tail_len > UINT32_MAX)
        return BF_INVALID_ARG;
    bf_tp_hdr_encode(&hdr, hdr_bytes);
    return conn->ops->sendv(conn, iov, tail_len > 0 ? 3 : 2);
}

bf_status_t bf_tp_recv_hdr(bf_tp_conn_t *conn, bf_frame_hdr_t *hdr, int timeout_ms)
{
    uint8_t in[BF_FRAME_HDR_SIZE];
    bf_status_t status = conn->ops->recv(conn, in, sizeof(in), timeout_ms);

    if (status != BF_OK)
        return status;
    memcpy(&hdr->length, in, 4);
    memcpy(&hdr->op, in + 4, 2);
    memcpy(&hdr->flags, in + 6, 2);
    memcpy(&hdr->request_id, in + 8, 8);
    return BF_OK;
}

bf_status_t bf_tp_recv(bf_tp_conn_t *conn, void *buf, size_t len, int timeout_ms)
{
    return conn->ops->recv(conn, buf, len, timeout_ms);
}

bf_status_t bf_tp_discard(bf_tp_conn_t *conn, uint64_t len, int timeout_ms)
{
    uint8_t sink[4096];

    while (len > 0) {
        size_t n = len < sizeof(sink) ? (size_t)len : sizeof(sink);
        bf_status_t status = conn->ops->recv(conn, sink, n, timeout_ms);
        if (status != BF_OK)
            return status;
        len -= n;
    }
    return BF_OK;
}

void bf_tp_conn_close(bf_tp_conn_t *conn)
{
    if (conn != NULL)
        conn->ops->close(conn);
}
