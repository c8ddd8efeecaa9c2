/* rdc_part.cu: the second translation unit of rdc.cu (built with it by -rdc=true). */
#include "rdc_part.h"

__device__ int rdc_total;
__constant__ int rdc_table[RDC_TABLE_SIZE];

__device__ int rdc_mix(int value, int index)
{
    return (value ^ (index * 2654435761u)) % 1000 - (index & 15);
}

__global__ void rdc_scale(int *data, int n, int factor)
{
    int i = blockIdx.x * blockDim.x + threadIdx.x;
    if (i < n) {
        data[i] = data[i] * factor + 1;
        atomicAdd(&rdc_total, 1);
    }
}
