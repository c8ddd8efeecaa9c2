/* address.c: parsing "HOST:PORT", "tcp:HOST:PORT", "unix:/path", "unix:@name"; connect and listen. */
#include "tp.h"

#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

extern const bf_tp_ops_t bf_tp_stream_ops;

typedef struct {
    int is_unix;
    char host[256];
    char port[16];
    struct sockaddr_un sun;
    socklen_t sun_len;
} parsed_address_t;

static void explain(char *why, size_t why_len, const char *fmt, const char *a, const char *b)
{
    if (why != NULL && why_len > 0)
        snprintf(why, why_len, fmt, a, b);
}

static bf_status_t parse_address(const char *address, parsed_address_t *out, char *why, size_t why_len)
{
    memset(out, 0, sizeof(*out));
    if (strncmp(address, "unix:", 5) == 0) {
        const char *path = address + 5;
        size_t len = strlen(path);
        if (len == 0 || len >= sizeof(out->sun.sun_path)) {
            explain(why, why_len, "bad unix socket address '%s'%s", address, "");
            return BF_INVALID_ARG;
        }
        out->is_unix = 1;
        out->sun.sun_family = AF_UNIX;
        memcpy(out->sun.sun_path, path, len);
        if (path[0] == '@')  /* abstract namespace: leading NUL, length without terminator */
            out->sun.sun_path[0] = '\0';
        out->sun_len = (socklen_t)(offsetof(struct sockaddr_un, sun_path) + len + (path[0] == '@' ? 0 : 1));
        return BF_OK;
    }
    if (strncmp(address, "tcp:", 4) == 0)
        address += 4;
    const char *colon = strrchr(address, ':');
    if (colon == NULL || colon == address || colon[1] == '\0' ||
        (size_t)(colon - address) >= sizeof(out->host) || strlen(colon + 1) >= sizeof(out->port)) {
        explain(why, why_len, "bad address '%s': expected HOST:PORT, unix:PATH or unix:@NAME%s", address, "");
        return BF_INVALID_ARG;
    }
    memcpy(out->host, address, (size_t)(colon - address));
    /* Accept [v6]:port. */
    if (out->host[0] == '[') {
        size_t n = strlen(out->host);
        if (n >= 2 && out->host[n - 1] == ']') {
            memmove(out->host, out->host + 1, n - 2);
            out->host[n - 2] = '\0';
        }
    }
    strcpy(out->port, colon + 1);
    return BF_OK;
}

static bf_status_t wrap(int fd, const char *peer, bf_tp_conn_t **conn_p)
{
    bf_tp_conn_t *conn = calloc(1, sizeof(*conn));

    if (conn == NULL)
        return BF_NO_MEMORY;
    conn->ops = &bf_tp_stream_ops;
    conn->fd  = fd;
    snprintf(conn->peer, sizeof(conn->peer), "%s", peer);
    *conn_p = conn;
    return BF_OK;
}

bf_status_t bf_tp_conn_from_fd(int fd, const char *peer, bf_tp_conn_t **conn_p)
{
    int one = 1;

    /* Harmless on Unix sockets (fails with EOPNOTSUPP); small frames must not wait for Nagle. */
    (void)setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
    (void)fcntl(fd, F_SETFD, FD_CLOEXEC);
    return wrap(fd, peer, conn_p);
}

/* Connects fd to addr, giving up after timeout_ms. */
static int connect_with_timeout(int fd, const struct sockaddr *addr, socklen_t len, int timeout_ms)
{
    int flags = fcntl(fd, F_GETFL);

    (void)fcntl(fd, F_SETFL, flags | O_NONBLOCK);
    int rc = connect(fd, addr, len);
    if (rc < 0 && errno == EINPROGRESS) {
        struct pollfd pfd = {.fd = fd, .events = POLLOUT};
        do {
            rc = poll(&pfd, 1, timeout_ms);
        } while (rc < 0 && errno == EINTR);
        if (rc == 0) {
            errno = ETIMEDOUT;
            rc = -1;
        } else if (rc > 0) {
            int err = 0;
            socklen_t elen = sizeof(err);
            (void)getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &elen);
            errno = err;
            rc = err == 0 ? 0 : -1;
        }
    }
    /* The stream back-end polls itself; the socket stays non-blocking for sends that would block. */
    return rc;
}

bf_status_t bf_tp_connect(const char *address, int timeout_ms, bf_tp_conn_t **conn_p,
                          char *why, size_t why_len)
{
    parsed_address_t parsed;
    bf_status_t status = parse_address(address, &parsed, why, why_len);

    if (status != BF_OK)
        return status;
    if (parsed.is_unix) {
        int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
        if (fd < 0) {
            explain(why, why_len, "socket: %s%s", strerror(errno), "");
            return BF_IO;
        }
        if (connect_with_timeout(fd, (struct sockaddr *)&parsed.sun, parsed.sun_len, timeout_ms) < 0) {
            explain(why, why_len, "cannot connect to %s: %s", address, strerror(errno));
            close(fd);
            return errno == ETIMEDOUT ? BF_TIMEOUT : BF_UNREACHABLE;
        }
        return bf_tp_conn_from_fd(fd, address, conn_p);
    }

    struct addrinfo hints = {.ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM}, *res, *ai;
    int gai = getaddrinfo(parsed.host, parsed.port, &hints, &res);
    if (gai != 0) {
        explain(why, why_len, "cannot resolve %s: %s", parsed.host, gai_strerror(gai));
        return BF_UNREACHABLE;
    }
    status = BF_UNREACHABLE;
    for (ai = res; ai != NULL; ai = ai->ai_next) {
        int fd = socket(ai->ai_family, ai->ai_socktype | SOCK_CLOEXEC, ai->ai_protocol);
        if (fd < 0)
            continue;
        if (connect_with_timeout(fd, ai->ai_addr, ai->ai_addrlen, timeout_ms) == 0) {
            freeaddrinfo(res);
            return bf_tp_conn_from_fd(fd, address, conn_p);
        }
        explain(why, why_len, "cannot connect to %s: %s", address, strerror(errno));
        status = errno == ETIMEDOUT ? BF_TIMEOUT : BF_UNREACHABLE;
        close(fd);
    }
    freeaddrinfo(res);
    return status;
}

bf_status_t bf_tp_listen(const char *address, int *fd_p, char *why, size_t why_len)
{
    parsed_address_t parsed;
    bf_status_t status = parse_address(address, &parsed, why, why_len);
    int one = 1;

    if (status != BF_OK)
        return status;
    if (parsed.is_unix) {
        int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
        if (fd < 0 || bind(fd, (struct sockaddr *)&parsed.sun, parsed.sun_len) < 0 || listen(fd, 128) < 0) {
            explain(why, why_len, "cannot listen on %s: %s", address, strerror(errno));
            if (fd >= 0)
                close(fd);
            return BF_IO;
        }
        *fd_p = fd;
        return BF_OK;
    }
    struct addrinfo hints = {.ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM, .ai_flags = AI_PASSIVE}, *res;
    int gai = getaddrinfo(parsed.host[0] ? parsed.host : NULL, parsed.port, &hints, &res);
    if (gai != 0) {
        explain(why, why_len, "cannot resolve %s: %s", parsed.host, gai_strerror(gai));
        return BF_INVALID_ARG;
    }
    int fd = socket(res->ai_family, res->ai_socktype | SOCK_CLOEXEC, res->ai_protocol);
    if (fd < 0 || setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) < 0 ||
        bind(fd, res->ai_addr, res->ai_addrlen) < 0 || listen(fd, 128) < 0) {
        explain(why, why_len, "cannot listen on %s: %s", address, strerror(errno));
        if (fd >= 0)
            close(fd);
        freeaddrinfo(res);
        return BF_IO;
    }
    freeaddrinfo(res);
    *fd_p = fd;
    return BF_OK;
}
