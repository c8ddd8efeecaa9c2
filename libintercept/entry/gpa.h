/*
 * gpa.h: the cuGetProcAddress tables, generated from cuda_api.def by tools/dev/gen_front.py
 * (entry_gpa_table.c in the build directory) and searched by get_proc_address.c.
 */
#ifndef BF_CL_GPA_H
#define BF_CL_GPA_H

#include <stddef.h>
#include <stdint.h>

/* One ABI of a base name: the exported function serving callers at cuda_version or newer. */
typedef struct {
    int   cuda_version;
    void *fn;
} bf_cl_gpa_variant_t;

/* One base name (what callers pass, e.g. "cuMemAlloc") and its breakpoints in
 * bf_cl_gpa_variants[first ...]: n_default of them for the default and legacy stream, then
 * n_per_thread for the per-thread default stream, each group oldest first. */
typedef struct {
    const char *name;
    uint16_t    first;
    uint8_t     n_default;
    uint8_t     n_per_thread;
} bf_cl_gpa_name_t;

/* Sorted by name in strcmp() order. */
extern const bf_cl_gpa_name_t    bf_cl_gpa_names[];
extern const size_t              bf_cl_gpa_name_count;
extern const bf_cl_gpa_variant_t bf_cl_gpa_variants[];

#endif
