/* rdc_part.h: what rdc/rdc_part.cu defines for rdc.cu (separate compilation, -rdc=true). */
#ifndef BF_CONFORMANCE_RDC_PART_H
#define BF_CONFORMANCE_RDC_PART_H

#define RDC_TABLE_SIZE 64

extern __device__ int rdc_total;
extern __constant__ int rdc_table[RDC_TABLE_SIZE];
__device__ int rdc_mix(int value, int index);
__global__ void rdc_scale(int *data, int n, int factor);

static inline int rdc_mix_host(int value, int index)
{
    return (value ^ (index * 2654435761u)) % 1000 - (index & 15);
}

#endif
