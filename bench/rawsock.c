/*
 * rawsock.c: bf-bench-rawsock, the physical limit openbf's copies are compared with.
 *
 * Measures, over the same kind of socket openbf uses (made by the transport layer: bf_tp_listen and
 * bf_tp_connect, so TCP_NODELAY, SOCK_CLOEXEC, non-blocking sends with poll), the round trip of a
 * 4-byte ping-pong and the bandwidth of a large transfer in each direction. The program forks: the
 * child serves, the parent measures. No CUDA, no protocol: only bytes.
 *
 * Usage: bf-bench-rawsock [--address ADDR] [--iterations N] [--repeat R] [--bytes B]
 *   ADDR: 127.0.0.1:0 (default; a free TCP port) or unix:@NAME / unix:/path
 * Prints one JSON object on stdout: per repetition, the median ping-pong in microseconds and the
 * bandwidth in GB/s (10^9 bytes per second) client-to-server ("up", like HtoD) and back ("down").
 */
#include <errno.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "tp.h"

enum { CMD_PING = 1, CMD_UP = 2, CMD_DOWN = 3, CMD_QUIT = 4 };

#define MAX_REPEAT 100
#define IO_TIMEOUT_MS 60000

typedef struct {
    const char *address;
    int iterations;
    int repeat;
    size_t bytes;
} options_t;

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

static double median(double *v, int n)
{
    qsort(v, (size_t)n, sizeof(*v), cmp_double);
    return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

static int send_all(bf_tp_conn_t *conn, const void *buf, size_t len)
{
    struct iovec iov = {.iov_base = (void *)buf, .iov_len = len};
    return conn->ops->sendv(conn, &iov, 1) == BF_OK ? 0 : -1;
}

static int recv_all(bf_tp_conn_t *conn, void *buf, size_t len)
{
    return conn->ops->recv(conn, buf, len, IO_TIMEOUT_MS) == BF_OK ? 0 : -1;
}

/* The child: answers commands until told to quit or the connection ends. */
static int serve(int listen_fd, size_t bytes)
{
    int fd = accept4(listen_fd, NULL, NULL, SOCK_CLOEXEC);
    bf_tp_conn_t *conn = NULL;
    char *buf = malloc(bytes);

    if (fd < 0 || buf == NULL || bf_tp_conn_from_fd(fd, "bench client", &conn) != BF_OK) {
        fprintf(stderr, "bf-bench-rawsock: server side could not start: %s\n", strerror(errno));
        return 1;
    }
    memset(buf, 0x5a, bytes);
    for (;;) {
        uint32_t cmd;
        uint64_t size;
        if (recv_all(conn, &cmd, sizeof(cmd)) < 0)
            break;
        if (cmd == CMD_PING) {
            if (send_all(conn, &cmd, sizeof(cmd)) < 0)
                break;
        } else if (cmd == CMD_UP || cmd == CMD_DOWN) {
            if (recv_all(conn, &size, sizeof(size)) < 0 || size > bytes)
                break;
            if (cmd == CMD_UP && (recv_all(conn, buf, size) < 0 || send_all(conn, &cmd, sizeof(cmd)) < 0))
                break;
            if (cmd == CMD_DOWN && send_all(conn, buf, size) < 0)
                break;
        } else {
            break;
        }
    }
    bf_tp_conn_close(conn);
    free(buf);
    return 0;
}

/* The parent: measures; fills per-repetition figures. */
static int measure(bf_tp_conn_t *conn, const options_t *opt, double *lat_us, double *up_gbps, double *down_gbps)
{
    double *samples = malloc(sizeof(double) * (size_t)opt->iterations);
    char *buf = malloc(opt->bytes);
    uint32_t cmd, reply;
    uint64_t size = opt->bytes;

    if (samples == NULL || buf == NULL)
        return -1;
    memset(buf, 0xa5, opt->bytes);
    /* Warm up: the first transfers touch fresh pages and grow socket buffers. */
    for (int i = 0; i < 100; i++) {
        cmd = CMD_PING;
        if (send_all(conn, &cmd, 4) < 0 || recv_all(conn, &reply, 4) < 0)
            return -1;
    }
    cmd = CMD_UP;
    if (send_all(conn, &cmd, 4) < 0 || send_all(conn, &size, 8) < 0 || send_all(conn, buf, opt->bytes) < 0 ||
        recv_all(conn, &reply, 4) < 0)
        return -1;

    for (int r = 0; r < opt->repeat; r++) {
        for (int i = 0; i < opt->iterations; i++) {
            double t0 = now_s();
            cmd = CMD_PING;
            if (send_all(conn, &cmd, 4) < 0 || recv_all(conn, &reply, 4) < 0)
                return -1;
            samples[i] = (now_s() - t0) * 1e6;
        }
        lat_us[r] = median(samples, opt->iterations);

        double t0 = now_s();
        cmd = CMD_UP;
        if (send_all(conn, &cmd, 4) < 0 || send_all(conn, &size, 8) < 0 ||
            send_all(conn, buf, opt->bytes) < 0 || recv_all(conn, &reply, 4) < 0)
            return -1;
        up_gbps[r] = (double)opt->bytes / (now_s() - t0) / 1e9;

        t0 = now_s();
        cmd = CMD_DOWN;
        if (send_all(conn, &cmd, 4) < 0 || send_all(conn, &size, 8) < 0 || recv_all(conn, buf, opt->bytes) < 0)
            return -1;
        down_gbps[r] = (double)opt->bytes / (now_s() - t0) / 1e9;
    }
    cmd = CMD_QUIT;
    (void)send_all(conn, &cmd, 4);
    free(samples);
    free(buf);
    return 0;
}

static void print_array(const char *name, const double *v, int n, const char *end)
{
    printf("\"%s\": [", name);
    for (int i = 0; i < n; i++)
        printf("%s%.6g", i ? ", " : "", v[i]);
    printf("]%s", end);
}

static int parse_options(int argc, char **argv, options_t *opt)
{
    opt->address = "127.0.0.1:0";
    opt->iterations = 2000;
    opt->repeat = 5;
    opt->bytes = (size_t)64 << 20;
    for (int i = 1; i < argc; i++) {
        const char *value = i + 1 < argc ? argv[i + 1] : NULL;
        if (value == NULL)
            return -1;
        if (strcmp(argv[i], "--address") == 0)
            opt->address = value;
        else if (strcmp(argv[i], "--iterations") == 0)
            opt->iterations = atoi(value);
        else if (strcmp(argv[i], "--repeat") == 0)
            opt->repeat = atoi(value);
        else if (strcmp(argv[i], "--bytes") == 0)
            opt->bytes = (size_t)strtoull(value, NULL, 0);
        else
            return -1;
        i++;
    }
    if (opt->iterations < 1 || opt->repeat < 1 || opt->repeat > MAX_REPEAT || opt->bytes < 1)
        return -1;
    return 0;
}

int main(int argc, char **argv)
{
    options_t opt;
    char why[256] = "", address[160];
    int listen_fd = -1;
    double lat[MAX_REPEAT], up[MAX_REPEAT], down[MAX_REPEAT];

    if (parse_options(argc, argv, &opt) < 0) {
        fprintf(stderr, "usage: %s [--address ADDR] [--iterations N] [--repeat R<=%d] [--bytes B]\n", argv[0],
                MAX_REPEAT);
        return 2;
    }
    signal(SIGPIPE, SIG_IGN);
    if (bf_tp_listen(opt.address, &listen_fd, why, sizeof(why)) != BF_OK) {
        fprintf(stderr, "bf-bench-rawsock: %s\n", why);
        return 1;
    }
    /* A TCP port 0 means "any": connect to the port the kernel chose. */
    snprintf(address, sizeof(address), "%s", opt.address);
    if (strncmp(opt.address, "unix:", 5) != 0) {
        struct sockaddr_storage ss;
        socklen_t len = sizeof(ss);
        if (getsockname(listen_fd, (struct sockaddr *)&ss, &len) == 0 && ss.ss_family == AF_INET)
            snprintf(address, sizeof(address), "127.0.0.1:%u", ntohs(((struct sockaddr_in *)&ss)->sin_port));
    }

    pid_t child = fork();
    if (child < 0) {
        perror("bf-bench-rawsock: fork");
        return 1;
    }
    if (child == 0)
        _exit(serve(listen_fd, opt.bytes));
    close(listen_fd);

    bf_tp_conn_t *conn = NULL;
    int status = 1;
    if (bf_tp_connect(address, 5000, &conn, why, sizeof(why)) != BF_OK) {
        fprintf(stderr, "bf-bench-rawsock: %s\n", why);
    } else if (measure(conn, &opt, lat, up, down) < 0) {
        fprintf(stderr, "bf-bench-rawsock: transfer failed\n");
    } else {
        printf("{\"address\": \"%s\", \"iterations\": %d, \"bytes\": %zu, ", address, opt.iterations, opt.bytes);
        print_array("latency_us", lat, opt.repeat, ", ");
        print_array("up_gbps", up, opt.repeat, ", ");
        print_array("down_gbps", down, opt.repeat, "}\n");
        status = 0;
    }
    bf_tp_conn_close(conn);
    int wstatus = 0;
    (void)waitpid(child, &wstatus, 0);
    return status;
}
