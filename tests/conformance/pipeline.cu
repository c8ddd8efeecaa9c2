/* pipeline.cu: a pipeline over three streams ordered only by events and cudaStreamWaitEvent, whose
 * result depends on that order. Per round:
 *
 *   s1: A <- host input (pinned)                          record eA
 *   s2: wait eA; B <- A                                    record eB
 *   s1: wait eB; A <- memset v1    (only after s2 read A)  record eA2
 *   s3: wait eB; C[0, M/2) <- B[0, M/2)
 *       wait eA2; C[M/2, M) <- A[M/2, M)   (sees v1)
 *       host output (pinned) <- C                          record eC
 *   s2: wait eC; B <- memset v2    (only after s3 read B); host check buffer <- B; record eB2
 *
 * so the output is the input's first half followed by v1, and B ends as v2. Any step taken out of
 * order shows in the bytes: the copies are large enough (8 MiB) that an unordered implementation
 * would run them at the same time. The streams differ on purpose: a blocking one, a non-blocking
 * one, one with the greatest priority.
 *
 * Two ways: one round at a time (synchronised on the events), and four rounds queued at once with the
 * same events re-recorded every round (a wait uses the record made before it, not a later one). */
#include "check.h"

static const size_t M = (size_t)8 << 20;
enum { ROUNDS = 4 };

struct round_bufs {
    void *a, *b, *c;
    unsigned char *in, *out, *bcheck;
};

struct pipe {
    cudaStream_t s1, s2, s3;
    cudaEvent_t eA, eB, eA2, eC, eB2;
};

static unsigned char v1(int r) { return (unsigned char)(0x50 + r); }
static unsigned char v2(int r) { return (unsigned char)(0x60 + r); }

static bool issue_round(struct pipe *p, struct round_bufs *rb, int r)
{
    const size_t half = M / 2;
    cudaError_t e[16];
    int k = 0;
    e[k++] = cudaMemcpyAsync(rb->a, rb->in, M, cudaMemcpyHostToDevice, p->s1);
    e[k++] = cudaEventRecord(p->eA, p->s1);
    e[k++] = cudaStreamWaitEvent(p->s2, p->eA, 0);
    e[k++] = cudaMemcpyAsync(rb->b, rb->a, M, cudaMemcpyDeviceToDevice, p->s2);
    e[k++] = cudaEventRecord(p->eB, p->s2);
    e[k++] = cudaStreamWaitEvent(p->s1, p->eB, 0);
    e[k++] = cudaMemsetAsync(rb->a, v1(r), M, p->s1);
    e[k++] = cudaEventRecord(p->eA2, p->s1);
    e[k++] = cudaStreamWaitEvent(p->s3, p->eB, 0);
    e[k++] = cudaMemcpyAsync(rb->c, rb->b, half, cudaMemcpyDeviceToDevice, p->s3);
    e[k++] = cudaStreamWaitEvent(p->s3, p->eA2, 0);
    e[k++] = cudaMemcpyAsync((char *)rb->c + half, (char *)rb->a + half, half, cudaMemcpyDeviceToDevice, p->s3);
    e[k++] = cudaMemcpyAsync(rb->out, rb->c, M, cudaMemcpyDeviceToHost, p->s3);
    e[k++] = cudaEventRecord(p->eC, p->s3);
    e[k++] = cudaStreamWaitEvent(p->s2, p->eC, 0);
    e[k++] = cudaMemsetAsync(rb->b, v2(r), M, p->s2);
    cudaError_t tail1 = cudaMemcpyAsync(rb->bcheck, rb->b, 4096, cudaMemcpyDeviceToHost, p->s2);
    cudaError_t tail2 = cudaEventRecord(p->eB2, p->s2);
    for (int i = 0; i < k; i++)
        if (e[i] != cudaSuccess) {
            check_report("issue_round", false, "round %d: call %d gave %s", r, i, cudaGetErrorName(e[i]));
            return false;
        }
    if (tail1 != cudaSuccess || tail2 != cudaSuccess) {
        check_report("issue_round", false, "round %d: the last calls gave %s, %s", r, cudaGetErrorName(tail1),
                     cudaGetErrorName(tail2));
        return false;
    }
    return true;
}

static void check_round(struct round_bufs *rb, int r, const char *mode)
{
    char name[96];
    const size_t half = M / 2;
    unsigned char *want = (unsigned char *)host_alloc(half);
    fill_pattern(want, half, 1000 + r);
    snprintf(name, sizeof(name), "%s_round_%d_output_first_half", mode, r);
    expect_bytes(name, rb->out, want, half);
    snprintf(name, sizeof(name), "%s_round_%d_output_second_half", mode, r);
    expect_filled(name, rb->out + half, v1(r), half);
    snprintf(name, sizeof(name), "%s_round_%d_b_overwritten_last", mode, r);
    expect_filled(name, rb->bcheck, v2(r), 4096);
    free(want);
}

static bool alloc_round(struct round_bufs *rb, int r)
{
    bool ok = cudaMalloc(&rb->a, M) == cudaSuccess && cudaMalloc(&rb->b, M) == cudaSuccess
        && cudaMalloc(&rb->c, M) == cudaSuccess && cudaMallocHost((void **)&rb->in, M) == cudaSuccess
        && cudaMallocHost((void **)&rb->out, M) == cudaSuccess && cudaMallocHost((void **)&rb->bcheck, 4096) == cudaSuccess;
    if (ok) {
        fill_pattern(rb->in, M, 1000 + r);
        memset(rb->out, 0xff, M);
        memset(rb->bcheck, 0xff, 4096);
    }
    return ok;
}

static void free_round(struct round_bufs *rb)
{
    cudaFree(rb->a);
    cudaFree(rb->b);
    cudaFree(rb->c);
    cudaFreeHost(rb->in);
    cudaFreeHost(rb->out);
    cudaFreeHost(rb->bcheck);
}

int main(void)
{
    check_begin("pipeline");
    expect_ok("set_device", cudaSetDevice(0));
    struct pipe p = {};
    int least = 0, greatest = 0;
    expect_ok("priority_range", cudaDeviceGetStreamPriorityRange(&least, &greatest));
    if (!expect_ok("stream_create_s1", cudaStreamCreate(&p.s1))
        || !expect_ok("stream_create_s2", cudaStreamCreateWithFlags(&p.s2, cudaStreamNonBlocking))
        || !expect_ok("stream_create_s3", cudaStreamCreateWithPriority(&p.s3, cudaStreamNonBlocking, greatest)))
        return check_end();
    cudaEvent_t *events[] = {&p.eA, &p.eB, &p.eA2, &p.eC, &p.eB2};
    int made = 0;
    for (cudaEvent_t *ev : events)
        made += cudaEventCreateWithFlags(ev, made % 2 ? cudaEventDisableTiming : cudaEventDefault) == cudaSuccess;
    if (!expect_i64("events_created", made, 5))
        return check_end();

    struct round_bufs rb[ROUNDS];
    int allocated = 0;
    for (int r = 0; r < ROUNDS; r++)
        allocated += alloc_round(&rb[r], r);
    if (!expect_i64("buffers_allocated", allocated, ROUNDS))
        return check_end();

    /* One round at a time, waiting on the last events only. */
    for (int r = 0; r < ROUNDS; r++) {
        char name[64];
        if (!issue_round(&p, &rb[r], r))
            break;
        snprintf(name, sizeof(name), "single_round_%d_event_synchronize_eC", r);
        expect_ok(name, cudaEventSynchronize(p.eC));
        /* eC's work depends on eA, eB and eA2: they are complete too. */
        snprintf(name, sizeof(name), "single_round_%d_predecessors_complete", r);
        cudaError_t qa = cudaEventQuery(p.eA), qb = cudaEventQuery(p.eB), qa2 = cudaEventQuery(p.eA2);
        check_report(name, qa == cudaSuccess && qb == cudaSuccess && qa2 == cudaSuccess,
                     "expected eA, eB, eA2 complete got %s %s %s", cudaGetErrorName(qa), cudaGetErrorName(qb),
                     cudaGetErrorName(qa2));
        snprintf(name, sizeof(name), "single_round_%d_event_synchronize_eB2", r);
        expect_ok(name, cudaEventSynchronize(p.eB2));
        check_round(&rb[r], r, "single");
    }

    /* Every round queued before any wait, the same events re-recorded each round. */
    for (int r = 0; r < ROUNDS; r++) {
        fill_pattern(rb[r].in, M, 1000 + r);
        memset(rb[r].out, 0xff, M);
        memset(rb[r].bcheck, 0xff, 4096);
    }
    bool issued = true;
    for (int r = 0; r < ROUNDS && issued; r++)
        issued = issue_round(&p, &rb[r], r);
    check_report("queued_rounds_issued", issued, "expected every round issued");
    expect_ok("queued_synchronize_s3", cudaStreamSynchronize(p.s3));
    expect_ok("queued_synchronize_s2", cudaStreamSynchronize(p.s2));
    expect_ok("queued_synchronize_s1", cudaStreamSynchronize(p.s1));
    for (int r = 0; r < ROUNDS; r++)
        check_round(&rb[r], r, "queued");
    expect_ok("queued_streams_idle_s1", cudaStreamQuery(p.s1));
    expect_ok("queued_streams_idle_s2", cudaStreamQuery(p.s2));
    expect_ok("queued_streams_idle_s3", cudaStreamQuery(p.s3));

    for (int r = 0; r < ROUNDS; r++)
        free_round(&rb[r]);
    for (cudaEvent_t *ev : events)
        cudaEventDestroy(*ev);
    expect_ok("stream_destroy_s1", cudaStreamDestroy(p.s1));
    expect_ok("stream_destroy_s2", cudaStreamDestroy(p.s2));
    expect_ok("stream_destroy_s3", cudaStreamDestroy(p.s3));
    expect_ok("final_synchronize", cudaDeviceSynchronize());
    expect_err("no_pending_error", cudaGetLastError(), cudaSuccess);
    return check_end();
}
