/* fork.cu: a process that used CUDA forks. The child's CUDA calls fail cleanly (an error, no hang,
 * no crash), the child exits normally (the runtime's and the driver's exit handlers run in it and
 * must not touch the parent's device state or connection), and the parent goes on working: its
 * memory, streams and queued work are intact, new work succeeds. Three children: one that calls
 * CUDA, one that exits at once, one that forks while the parent has asynchronous work queued.
 *
 * The child reports through a pipe (never stdout, so the check lines stay the parent's), and an
 * alarm ends a child that hangs; the parent waits at most CHILD_TIMEOUT_S for it. */
#include "check.h"

#include <signal.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static const size_t N = (size_t)1 << 20;
enum { CHILD_TIMEOUT_S = 20, CALLS = 8 };

static const char *const CALL_NAMES[CALLS] = {
    "malloc", "memcpy_htod", "memcpy_dtoh", "memset", "stream_create", "event_create", "malloc_host",
    "device_synchronize",
};

/* In the child: every call on the parent's objects or new ones must fail. */
static void child_calls(int fd, void *d)
{
    alarm(CHILD_TIMEOUT_S);
    int codes[CALLS];
    unsigned char h[256] = {0};
    void *p = NULL;
    cudaStream_t s = NULL;
    cudaEvent_t e = NULL;
    codes[0] = cudaMalloc(&p, N);
    codes[1] = cudaMemcpy(d, h, sizeof(h), cudaMemcpyHostToDevice);
    codes[2] = cudaMemcpy(h, d, sizeof(h), cudaMemcpyDeviceToHost);
    codes[3] = cudaMemset(d, 0x66, N);
    codes[4] = cudaStreamCreate(&s);
    codes[5] = cudaEventCreate(&e);
    codes[6] = cudaMallocHost(&p, N);
    codes[7] = cudaDeviceSynchronize();
    ssize_t w = write(fd, codes, sizeof(codes));
    close(fd);
    exit(w == (ssize_t)sizeof(codes) ? 0 : 3);
}

/* Waits for the child: true when it exited normally with status 0 within the time limit. */
static bool wait_child(const char *name, pid_t pid)
{
    int status = 0;
    struct timespec start, now;
    clock_gettime(CLOCK_MONOTONIC, &start);
    for (;;) {
        pid_t got = waitpid(pid, &status, WNOHANG);
        if (got == pid)
            break;
        clock_gettime(CLOCK_MONOTONIC, &now);
        if (got < 0 || now.tv_sec - start.tv_sec > CHILD_TIMEOUT_S + 5) {
            kill(pid, SIGKILL);
            waitpid(pid, &status, 0);
            return check_report(name, false, "expected the child to exit got no exit within %d s", CHILD_TIMEOUT_S + 5);
        }
        usleep(10000);
    }
    if (WIFSIGNALED(status))
        return check_report(name, false, "expected a normal exit got signal %d%s", WTERMSIG(status),
                            WTERMSIG(status) == SIGALRM ? " (the child hung)" : "");
    return check_report(name, WIFEXITED(status) && WEXITSTATUS(status) == 0, "expected exit status 0 got %d",
                        WEXITSTATUS(status));
}

/* The parent's state after a child: d still holds `value` everywhere, and new work succeeds. */
static void parent_still_works(const char *tag, void *d, unsigned char value, cudaStream_t s)
{
    char name[96];
    unsigned char *back = (unsigned char *)host_alloc(N);
    snprintf(name, sizeof(name), "%s_parent_dtoh", tag);
    expect_ok(name, cudaMemcpy(back, d, N, cudaMemcpyDeviceToHost));
    snprintf(name, sizeof(name), "%s_parent_memory_intact", tag);
    expect_filled(name, back, value, N);
    void *fresh = NULL;
    snprintf(name, sizeof(name), "%s_parent_malloc", tag);
    if (expect_ok(name, cudaMalloc(&fresh, N))) {
        snprintf(name, sizeof(name), "%s_parent_memset_async", tag);
        expect_ok(name, cudaMemsetAsync(fresh, 0x3d, N, s));
        snprintf(name, sizeof(name), "%s_parent_dtoh_async", tag);
        expect_ok(name, cudaMemcpyAsync(back, fresh, N, cudaMemcpyDeviceToHost, s));
        snprintf(name, sizeof(name), "%s_parent_stream_synchronize", tag);
        expect_ok(name, cudaStreamSynchronize(s));
        snprintf(name, sizeof(name), "%s_parent_new_work", tag);
        expect_filled(name, back, 0x3d, N);
        snprintf(name, sizeof(name), "%s_parent_free", tag);
        expect_ok(name, cudaFree(fresh));
    }
    snprintf(name, sizeof(name), "%s_parent_device_synchronize", tag);
    expect_ok(name, cudaDeviceSynchronize());
    free(back);
}

int main(void)
{
    check_begin("fork");
    expect_ok("set_device", cudaSetDevice(0));
    void *d = NULL;
    cudaStream_t s = NULL;
    if (!expect_ok("malloc", cudaMalloc(&d, N)))
        return check_end();
    if (!expect_ok("stream_create", cudaStreamCreate(&s)))
        s = 0; /* the fork checks still run, on stream 0 */
    expect_ok("memset", cudaMemset(d, 0x42, N));
    expect_ok("synchronize_before_fork", cudaDeviceSynchronize());
    fflush(stdout);

    /* 1: a child that calls CUDA. */
    int fds[2];
    if (pipe(fds) != 0)
        return check_end();
    pid_t pid = fork();
    if (pid == 0) {
        close(fds[0]);
        child_calls(fds[1], d);
    }
    close(fds[1]);
    check_report("fork_calls", pid > 0, "fork failed");
    int codes[CALLS];
    ssize_t got = 0, r;
    while (got < (ssize_t)sizeof(codes) && (r = read(fds[0], (char *)codes + got, sizeof(codes) - got)) > 0)
        got += r;
    close(fds[0]);
    wait_child("child_calls_exit_normally", pid);
    if (check_report("child_reported", got == (ssize_t)sizeof(codes), "expected %zu bytes got %zd", sizeof(codes), got)) {
        for (int i = 0; i < CALLS; i++) {
            char name[64];
            snprintf(name, sizeof(name), "child_%s_fails", CALL_NAMES[i]);
            /* NVIDIA's driver answers CUDA_ERROR_NOT_INITIALIZED in a forked child; the runtime
             * reports it as cudaErrorInitializationError. */
            check_report(name, codes[i] == cudaErrorInitializationError,
                         "expected cudaErrorInitializationError got %s (%d)",
                         cudaGetErrorName((cudaError_t)codes[i]), codes[i]);
        }
    }
    parent_still_works("after_calling_child", d, 0x42, s);

    /* 2: a child that exits at once, through exit(), so that every exit handler runs. */
    fflush(stdout);
    pid = fork();
    if (pid == 0)
        exit(0);
    check_report("fork_exiting", pid > 0, "fork failed");
    wait_child("exiting_child_exit_normally", pid);
    parent_still_works("after_exiting_child", d, 0x42, s);

    /* 3: fork with asynchronous work queued in the parent; the child exits at once. The queued work
     * happens once, in the parent's order. */
    fflush(stdout);
    unsigned char *pinned = NULL;
    if (expect_ok("malloc_host", cudaMallocHost((void **)&pinned, N))) {
        memset(pinned, 0x24, N);
        expect_ok("queued_memset", cudaMemsetAsync(d, 0x11, N, s));
        expect_ok("queued_htod", cudaMemcpyAsync(d, pinned, N / 2, cudaMemcpyHostToDevice, s));
        pid = fork();
        if (pid == 0)
            exit(0);
        check_report("fork_queued", pid > 0, "fork failed");
        wait_child("queued_child_exit_normally", pid);
        expect_ok("queued_memset_after_fork", cudaMemsetAsync((char *)d + N / 2, 0x42, N / 2, s));
        expect_ok("queued_synchronize", cudaStreamSynchronize(s));
        unsigned char *back = (unsigned char *)host_alloc(N);
        expect_ok("queued_dtoh", cudaMemcpy(back, d, N, cudaMemcpyDeviceToHost));
        expect_filled("queued_first_half", back, 0x24, N / 2);
        expect_filled("queued_second_half", back + N / 2, 0x42, N / 2);
        free(back);
        expect_ok("memset_back", cudaMemset(d, 0x42, N));
        expect_ok("free_host", cudaFreeHost(pinned));
    }
    parent_still_works("after_queued_child", d, 0x42, s);

    if (s != 0)
        expect_ok("stream_destroy", cudaStreamDestroy(s));
    expect_ok("free", cudaFree(d));
    expect_ok("final_synchronize", cudaDeviceSynchronize());
    expect_err("no_pending_error", cudaGetLastError(), cudaSuccess);
    return check_end();
}
