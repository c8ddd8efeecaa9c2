/* duplex.cu: a large host-to-device and a large device-to-host copy in flight at once, from two
 * threads on two streams: 256 MiB each way, first through pinned memory, then through pageable
 * memory (where both directions cross the one connection at the same time: a client that stopped
 * reading while it sends, or a worker that stopped reading while it answers, would deadlock here;
 * the runner's timeout turns that into a failure). Then both directions from one thread on two
 * streams, synchronised together. Checksums compare the whole buffers. */
#include "check.h"

#include <atomic>
#include <thread>

static const size_t BIG = (size_t)256 << 20;

struct job {
    void *d;
    unsigned char *h;
    bool to_device;
    cudaError_t copy, sync;
};

static std::atomic<int> started{0};

/* check.h's byte-wise pattern and checksum, eight bytes at a time: 256 MiB buffers are filled and
 * summed several times, and the byte-wise loops would dominate the program's run time. */
static void fill_words(unsigned char *buf, size_t n, uint64_t seed)
{
    uint64_t x = seed * 0x9e3779b97f4a7c15ull + 1;
    for (size_t i = 0; i + 8 <= n; i += 8) {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        uint64_t v = x + i;
        memcpy(buf + i, &v, 8);
    }
}

static uint64_t sum_words(const unsigned char *buf, size_t n)
{
    uint64_t h = 1469598103934665603ull;
    for (size_t i = 0; i + 8 <= n; i += 8) {
        uint64_t v;
        memcpy(&v, buf + i, 8);
        h = (h ^ v) * 1099511628211ull;
    }
    return h;
}

static void run(job *j)
{
    cudaStream_t s = NULL;
    j->copy = j->sync = cudaStreamCreateWithFlags(&s, cudaStreamNonBlocking);
    started++;
    while (started.load() < 2)
        std::this_thread::yield();
    if (j->copy != cudaSuccess)
        return;
    j->copy = j->to_device ? cudaMemcpyAsync(j->d, j->h, BIG, cudaMemcpyHostToDevice, s)
                           : cudaMemcpyAsync(j->h, j->d, BIG, cudaMemcpyDeviceToHost, s);
    j->sync = cudaStreamSynchronize(s);
    cudaStreamDestroy(s);
}

static void duplex_round(const char *mode, bool pinned, uint32_t seed)
{
    char name[96];
    void *d_in = NULL, *d_out = NULL;
    unsigned char *h_in = NULL, *h_out = NULL;
#define NAME(what) (snprintf(name, sizeof(name), "%s_%s", mode, what), name)
    if (!expect_ok(NAME("malloc_in"), cudaMalloc(&d_in, BIG)) || !expect_ok(NAME("malloc_out"), cudaMalloc(&d_out, BIG)))
        return;
    if (pinned) {
        if (!expect_ok(NAME("malloc_host_in"), cudaMallocHost((void **)&h_in, BIG))
            || !expect_ok(NAME("malloc_host_out"), cudaMallocHost((void **)&h_out, BIG)))
            return;
    } else {
        h_in = (unsigned char *)host_alloc(BIG);
        h_out = (unsigned char *)host_alloc(BIG);
    }
    /* d_out holds a known pattern for the device-to-host direction. */
    fill_words(h_out, BIG, seed + 1);
    uint64_t want_out = sum_words(h_out, BIG);
    expect_ok(NAME("prefill_device"), cudaMemcpy(d_out, h_out, BIG, cudaMemcpyHostToDevice));
    memset(h_out, 0, BIG);
    fill_words(h_in, BIG, seed);
    uint64_t want_in = sum_words(h_in, BIG);

    started = 0;
    job up = {d_in, h_in, true, cudaSuccess, cudaSuccess};
    job down = {d_out, h_out, false, cudaSuccess, cudaSuccess};
    std::thread t1(run, &up), t2(run, &down);
    t1.join();
    t2.join();
    expect_ok(NAME("htod_call"), up.copy);
    expect_ok(NAME("htod_synchronize"), up.sync);
    expect_ok(NAME("dtoh_call"), down.copy);
    expect_ok(NAME("dtoh_synchronize"), down.sync);
    expect_u64(NAME("dtoh_checksum"), sum_words(h_out, BIG), want_out);
    memset(h_in, 0, BIG);
    expect_ok(NAME("read_back_htod"), cudaMemcpy(h_in, d_in, BIG, cudaMemcpyDeviceToHost));
    expect_u64(NAME("htod_checksum"), sum_words(h_in, BIG), want_in);

    /* One thread, two streams, both directions queued before either is waited for. */
    cudaStream_t a = NULL, b = NULL;
    if (expect_ok(NAME("stream_a"), cudaStreamCreate(&a)) && expect_ok(NAME("stream_b"), cudaStreamCreate(&b))) {
        fill_words(h_in, BIG, seed + 2);
        want_in = sum_words(h_in, BIG);
        memset(h_out, 0, BIG);
        expect_ok(NAME("one_thread_htod"), cudaMemcpyAsync(d_in, h_in, BIG, cudaMemcpyHostToDevice, a));
        expect_ok(NAME("one_thread_dtoh"), cudaMemcpyAsync(h_out, d_out, BIG, cudaMemcpyDeviceToHost, b));
        expect_ok(NAME("one_thread_synchronize_a"), cudaStreamSynchronize(a));
        expect_ok(NAME("one_thread_synchronize_b"), cudaStreamSynchronize(b));
        expect_u64(NAME("one_thread_dtoh_checksum"), sum_words(h_out, BIG), want_out);
        memset(h_out, 0, BIG);
        expect_ok(NAME("one_thread_read_back"), cudaMemcpy(h_out, d_in, BIG, cudaMemcpyDeviceToHost));
        expect_u64(NAME("one_thread_htod_checksum"), sum_words(h_out, BIG), want_in);
        cudaStreamDestroy(a);
        cudaStreamDestroy(b);
    }
#undef NAME
    if (pinned) {
        cudaFreeHost(h_in);
        cudaFreeHost(h_out);
    } else {
        free(h_in);
        free(h_out);
    }
    cudaFree(d_in);
    cudaFree(d_out);
}

int main(void)
{
    check_begin("duplex");
    expect_ok("set_device", cudaSetDevice(0));
    expect_ok("warm_up", cudaFree(NULL));
    duplex_round("pinned", true, 500);
    duplex_round("pageable", false, 600);
    expect_ok("final_synchronize", cudaDeviceSynchronize());
    expect_err("no_pending_error", cudaGetLastError(), cudaSuccess);
    return check_end();
}
