/* recursion.cu: recursive device functions (not inlinable): factorial, Fibonacci, Ackermann,
 * a recursive quicksort of a thread-local array, a recursive depth-first walk of a tree stored in
 * global memory, mutual recursion; with divergent recursion depths across the lanes of a warp.
 * Against the host. The default device stack (1 KiB per thread) is enough for every depth used. */
#include "check.h"

#include <vector>

__host__ __device__ unsigned long long factorial(unsigned n)
{
    return n <= 1 ? 1ull : n * factorial(n - 1);
}

__host__ __device__ int fib(int n)
{
    return n < 2 ? n : fib(n - 1) + fib(n - 2);
}

__host__ __device__ int ackermann(int m, int n)
{
    if (m == 0)
        return n + 1;
    if (n == 0)
        return ackermann(m - 1, 1);
    return ackermann(m - 1, ackermann(m, n - 1));
}

__host__ __device__ bool is_odd(unsigned n);
__host__ __device__ bool is_even(unsigned n)
{
    return n == 0 ? true : is_odd(n - 1);
}
__host__ __device__ bool is_odd(unsigned n)
{
    return n == 0 ? false : is_even(n - 1);
}

__host__ __device__ void quicksort(int *v, int lo, int hi)
{
    if (lo >= hi)
        return;
    int pivot = v[(lo + hi) / 2], i = lo, j = hi;
    while (i <= j) {
        while (v[i] < pivot)
            i++;
        while (v[j] > pivot)
            j--;
        if (i <= j) {
            int t = v[i];
            v[i] = v[j];
            v[j] = t;
            i++;
            j--;
        }
    }
    quicksort(v, lo, j);
    quicksort(v, i, hi);
}

struct node {
    int value;
    int left, right; /* indices, -1 for none */
};

/* sum of the values on the deepest path, and the depth */
__host__ __device__ long long tree_sum(const node *nodes, int i, int depth, int *max_depth)
{
    if (i < 0)
        return 0;
    if (depth > *max_depth)
        *max_depth = depth;
    return nodes[i].value + tree_sum(nodes, nodes[i].left, depth + 1, max_depth) +
           tree_sum(nodes, nodes[i].right, depth + 1, max_depth);
}

__global__ void recurse(int *out_int, unsigned long long *out_fact, const node *tree, long long *out_tree)
{
    int t = threadIdx.x;
    out_fact[t] = factorial((unsigned)t % 21u);
    out_int[t * 6 + 0] = fib(t % 16);                /* lanes recurse to different depths */
    out_int[t * 6 + 1] = ackermann(t % 3, t % 5);
    out_int[t * 6 + 2] = is_even((unsigned)t * 3u);
    int v[12];
    for (int i = 0; i < 12; i++)
        v[i] = (int)((t * 7 + i * 13) % 29) - 14;
    quicksort(v, 0, 11);
    out_int[t * 6 + 3] = v[0];
    out_int[t * 6 + 4] = v[11] * 100 + v[5];
    int depth = 0;
    out_tree[t] = tree_sum(tree, t % 7, 0, &depth);
    out_int[t * 6 + 5] = depth;
}

int main(void)
{
    check_begin("recursion");
    /* a complete-ish binary tree of 127 nodes in heap order, the right children of some missing */
    const int nodes_n = 127;
    std::vector<node> tree(nodes_n);
    for (int i = 0; i < nodes_n; i++) {
        tree[i].value = i * 3 - 50;
        tree[i].left = 2 * i + 1 < nodes_n ? 2 * i + 1 : -1;
        tree[i].right = 2 * i + 2 < nodes_n && i % 5 != 2 ? 2 * i + 2 : -1;
    }
    const int threads = 64;
    int *d_int;
    unsigned long long *d_fact;
    node *d_tree;
    long long *d_tree_out;
    cudaMalloc(&d_int, threads * 6 * sizeof(int));
    cudaMalloc(&d_fact, threads * sizeof(unsigned long long));
    cudaMalloc(&d_tree, nodes_n * sizeof(node));
    cudaMalloc(&d_tree_out, threads * sizeof(long long));
    cudaMemcpy(d_tree, tree.data(), nodes_n * sizeof(node), cudaMemcpyHostToDevice);
    recurse<<<1, threads>>>(d_int, d_fact, d_tree, d_tree_out);
    expect_ok("launch", cudaGetLastError());
    expect_ok("synchronize", cudaDeviceSynchronize());
    std::vector<int> got(threads * 6);
    std::vector<unsigned long long> fact(threads);
    std::vector<long long> sums(threads);
    cudaMemcpy(got.data(), d_int, got.size() * sizeof(int), cudaMemcpyDeviceToHost);
    cudaMemcpy(fact.data(), d_fact, fact.size() * sizeof(unsigned long long), cudaMemcpyDeviceToHost);
    cudaMemcpy(sums.data(), d_tree_out, sums.size() * sizeof(long long), cudaMemcpyDeviceToHost);
    int bad[7] = {0};
    for (int t = 0; t < threads; t++) {
        bad[0] += fact[t] != factorial((unsigned)t % 21u);
        bad[1] += got[t * 6] != fib(t % 16);
        bad[2] += got[t * 6 + 1] != ackermann(t % 3, t % 5);
        bad[3] += got[t * 6 + 2] != (int)is_even((unsigned)t * 3u);
        int v[12];
        for (int i = 0; i < 12; i++)
            v[i] = (int)((t * 7 + i * 13) % 29) - 14;
        quicksort(v, 0, 11);
        bad[4] += got[t * 6 + 3] != v[0] || got[t * 6 + 4] != v[11] * 100 + v[5];
        int depth = 0;
        bad[5] += sums[t] != tree_sum(tree.data(), t % 7, 0, &depth);
        bad[6] += got[t * 6 + 5] != depth;
    }
    const char *names[7] = {"factorial", "fibonacci", "ackermann", "mutual", "quicksort", "tree_sum", "tree_depth"};
    for (int i = 0; i < 7; i++)
        check_report(names[i], bad[i] == 0, "%d threads wrong", bad[i]);
    cudaFree(d_int);
    cudaFree(d_fact);
    cudaFree(d_tree);
    cudaFree(d_tree_out);
    return check_end();
}
