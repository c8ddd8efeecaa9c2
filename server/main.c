/*
 * main.c: bf-worker, the per-session process bf-server starts for each accepted connection.
 *
 *   bf-worker --fd N --driver PATH --backend emu|cuda --peer TEXT [--stats-fd M]
 *
 * The connection is fd N; the session is served by session.c and the process exits when it ends.
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <unistd.h>

#include "bf_config.h"
#include "bf_log.h"
#include "crash_report.h"
#include "output.h"
#include "session.h"

#define DEFAULT_HELLO_TIMEOUT_MS 5000

static void usage(FILE *out)
{
    fprintf(out,
            "usage: bf-worker --fd N --driver PATH --backend emu|cuda --peer TEXT [--stats-fd M]\n"
            "                 [--die-with PID]\n"
            "\n"
            "Serves one openbf session on the connected socket N, executing its operations\n"
            "through the driver library PATH (NVIDIA's libcuda.so.1 for --backend cuda, openbf's\n"
            "libbfemu.so for --backend emu). Started by bf-server, one process per session.\n"
            "\n"
            "  --fd N                 the accepted connection\n"
            "  --driver PATH          the driver library to dlopen\n"
            "  --backend emu|cuda     how device windows are placed\n"
            "  --peer TEXT            the client's address, for logs and the stats line\n"
            "  --stats-fd M           where to write the JSON stats line at the end (default:\n"
            "                         BF_WORKER_STATS_FD, else none)\n"
            "  --hello-timeout-ms MS  how long to wait for the client's HELLO (default %d)\n"
            "  --die-with PID         end the session when process PID (the parent) exits\n",
            DEFAULT_HELLO_TIMEOUT_MS);
}

/* Parses a non-negative int option value; returns -1 when it is not one. */
static int parse_int(const char *text)
{
    char *end;
    long value;

    errno = 0;
    value = strtol(text, &end, 10);
    if (errno != 0 || end == text || *end != '\0' || value < 0 || value > 1 << 30)
        return -1;
    return (int)value;
}

static int bad_number(const char *option, const char *text)
{
    bf_log_error("--%s needs a non-negative number, not '%s'", option, text);
    return -1;
}

/* --die-with: the parent whose exit ends the session (0: none). */
static int die_with;

static int parse_options(int argc, char **argv, bf_srv_options_t *options)
{
    static const struct option longopts[] = {
        {"fd", required_argument, NULL, 'f'},
        {"driver", required_argument, NULL, 'd'},
        {"backend", required_argument, NULL, 'b'},
        {"peer", required_argument, NULL, 'p'},
        {"stats-fd", required_argument, NULL, 's'},
        {"hello-timeout-ms", required_argument, NULL, 't'},
        {"die-with", required_argument, NULL, 'w'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    const char *backend = NULL;
    int opt;

    *options = (bf_srv_options_t){.fd = -1, .stats_fd = -1, .peer = "unknown peer",
                                  .hello_timeout_ms = DEFAULT_HELLO_TIMEOUT_MS};
    const char *stats_env = bf_config_get(BF_CONFIG_WORKER_STATS_FD);
    if (stats_env[0] != '\0')
        options->stats_fd = parse_int(stats_env);

    while ((opt = getopt_long(argc, argv, "h", longopts, NULL)) != -1) {
        switch (opt) {
        case 'f':
            if ((options->fd = parse_int(optarg)) < 0)
                return bad_number("fd", optarg);
            break;
        case 'd': options->driver_path = optarg; break;
        case 'b': backend = optarg; break;
        case 'p': options->peer = optarg; break;
        case 's':
            if ((options->stats_fd = parse_int(optarg)) < 0)
                return bad_number("stats-fd", optarg);
            break;
        case 't':
            if ((options->hello_timeout_ms = parse_int(optarg)) < 0)
                return bad_number("hello-timeout-ms", optarg);
            break;
        case 'w':
            if ((die_with = parse_int(optarg)) <= 0)
                return bad_number("die-with", optarg);
            break;
        case 'h': usage(stdout); exit(0);
        default: usage(stderr); return -1;
        }
    }
    if (optind != argc || options->fd < 0 || options->driver_path == NULL || backend == NULL) {
        usage(stderr);
        return -1;
    }
    if (strcmp(backend, "emu") == 0) {
        options->backend = BF_SRV_BACKEND_EMU;
    } else if (strcmp(backend, "cuda") == 0) {
        options->backend = BF_SRV_BACKEND_CUDA;
    } else {
        bf_log_error("unknown backend '%s' (expected emu or cuda)", backend);
        return -1;
    }
    if (fcntl(options->fd, F_GETFD) < 0) {
        bf_log_error("--fd %d is not an open descriptor: %s", options->fd, strerror(errno));
        return -1;
    }
    if (options->stats_fd >= 0 && fcntl(options->stats_fd, F_GETFD) < 0) {
        bf_log_warn("stats fd %d is not open (%s): no stats line", options->stats_fd,
                    strerror(errno));
        options->stats_fd = -1;
    }
    return 0;
}

static sigset_t stop_signals;
static int connection_fd = -1;

/*
 * Waits for SIGTERM, SIGINT or SIGHUP (blocked in every other thread), records it and shuts the
 * connection down: the session loop then sees the end of stream and ends the session with the
 * signal as its reason, releasing everything on the normal path.
 */
static void *signal_main(void *arg)
{
    int signo = 0;

    (void)arg;
    if (sigwait(&stop_signals, &signo) != 0)
        return NULL;
    atomic_store(&bf_srv_stop_signal, signo);
    bf_log_info("received signal %d: ending the session", signo);
    shutdown(connection_fd, SHUT_RDWR);
    return NULL;
}

int main(int argc, char **argv)
{
    bf_srv_options_t options;
    pthread_t signal_thread;
    int rc;

    bf_log_init("bf-worker", BF_LOG_INFO);
    if (parse_options(argc, argv, &options) != 0)
        return 2;
    bf_srv_crash_report_install();
    /* Before any thread exists and before the driver is loaded: the driver's stdout and stderr
     * (device printf, assert messages) go to the client; the log goes to the original stderr. */
    if (bf_srv_output_capture() != BF_OK)
        return 1;

    /* Replies use MSG_NOSIGNAL, but the stats fd is a pipe whose reader may be gone. */
    signal(SIGPIPE, SIG_IGN);
    sigemptyset(&stop_signals);
    sigaddset(&stop_signals, SIGTERM);
    sigaddset(&stop_signals, SIGINT);
    sigaddset(&stop_signals, SIGHUP);
    /* Blocked before any thread exists (ours and the driver's) so that only signal_main sees them. */
    pthread_sigmask(SIG_BLOCK, &stop_signals, NULL);
    /* The worker asks for the signal itself, after exec: bf-server then needs no code between fork
     * and exec (a preexec hook runs Python in the forked child). SIGTERM takes the normal path. */
    if (die_with > 0) {
        prctl(PR_SET_PDEATHSIG, SIGTERM);
        if (getppid() != (pid_t)die_with) {
            bf_log_error("parent %d is gone before the session started", die_with);
            return 1;
        }
    }
    connection_fd = options.fd;
    rc = pthread_create(&signal_thread, NULL, signal_main, NULL);
    if (rc != 0) {
        bf_log_error("cannot start the signal thread: %s", strerror(rc));
        return 1;
    }
    pthread_detach(signal_thread);

    return bf_srv_session_run(&options);
}
