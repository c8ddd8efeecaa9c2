/*
 * test_ptx_table: runs the table rows of PTX test files (tests/emulator/ptx/<family>.ptx).
 *
 * Usage: test_ptx_table [--driver LIBCUDA] FILE.ptx...
 *
 * With --driver the rows run through that CUDA driver library (cuModuleLoadData, cuLaunchKernel:
 * libbfemu.so, or NVIDIA's libcuda.so.1 on a GPU host) instead of the engine; a fault= row then
 * only expects the launch to fail (drivers word their faults differently).
 *
 * Every kernel of such a file takes (.param .u64 in, .param .u64 out). A row, written as a PTX
 * comment, names a kernel, its launch and the buffers:
 *
 *   //@ add_s32 in=s32:5,-7 out=s32:-2
 *   //@ shfl_down threads=32 in=u32:0..31 out=u32:1..31,31
 *   //@ sqrt_approx in=f32:2 out=f32:1.41421356 tol=1e-6
 *
 * in=/out= segments (several allowed) give values, each aligned to its size: "type:v,v,type:v,..."
 * (a type prefix switches the type for the values after it); integers, floats (nan, inf, -inf), 0x bit patterns, a..b ranges, vN*k repeats (k copies of v).
 * threads= and blocks= (default 1) set a 1-D launch, block=XxYxZ and grid=XxYxZ a 3-D one;
 * shared= adds dynamic shared bytes; tol= a
 * relative tolerance for floats (default exact; a NaN matches any NaN). The out buffer starts
 * filled with 0xcd bytes, then init= values (same syntax as out=) over them. fault=some_words
 * expects the launch to stop with a fault whose message holds the words (underscores for spaces);
 * out= values are still checked (what ran before the fault). Prints "PASS kernel" or "FAIL kernel: ..." per row, "ROWS n" at the end;
 * exits 1 if any row failed, 2 if a file did not load.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ptx_driver.h"
#include "ptx_host.h"

#define MAX_VALUES 4096

typedef enum { T_U8, T_S8, T_U16, T_S16, T_U32, T_S32, T_U64, T_S64, T_F32, T_F64 } vtype_t;

static const struct {
    const char *name;
    vtype_t type;
    size_t size;
} types[] = {
    {"u8", T_U8, 1},   {"s8", T_S8, 1},   {"u16", T_U16, 2}, {"s16", T_S16, 2}, {"u32", T_U32, 4},
    {"s32", T_S32, 4}, {"u64", T_U64, 8}, {"s64", T_S64, 8}, {"f32", T_F32, 4}, {"f64", T_F64, 8},
    {"b32", T_U32, 4}, {"b64", T_U64, 8},
};

typedef struct {
    uint8_t bytes[MAX_VALUES * 8];
    size_t len;
    /* Per element, for comparing and printing. */
    struct {
        size_t offset;
        vtype_t type;
    } elem[MAX_VALUES];
    size_t count;
} buffer_t;

static int find_type(const char *s, size_t len, vtype_t *type_p, size_t *size_p)
{
    for (size_t i = 0; i < sizeof(types) / sizeof(types[0]); i++)
        if (strlen(types[i].name) == len && memcmp(types[i].name, s, len) == 0) {
            *type_p = types[i].type;
            *size_p = types[i].size;
            return 1;
        }
    return 0;
}

static int is_float(vtype_t t)
{
    return t == T_F32 || t == T_F64;
}

static int put_value(buffer_t *b, vtype_t type, size_t size, const char *text)
{
    if (b->count == MAX_VALUES || b->len + size > sizeof(b->bytes))
        return 0;
    uint8_t *p = b->bytes + b->len;
    if (strncmp(text, "0x", 2) == 0) {
        uint64_t v = strtoull(text, NULL, 16);
        memcpy(p, &v, size);
    } else if (is_float(type)) {
        double d;
        if (strcmp(text, "nan") == 0)
            d = NAN;
        else if (strcmp(text, "inf") == 0)
            d = INFINITY;
        else if (strcmp(text, "-inf") == 0)
            d = -INFINITY;
        else
            d = strtod(text, NULL);
        if (type == T_F32) {
            float f = (float)d;
            memcpy(p, &f, 4);
        } else {
            memcpy(p, &d, 8);
        }
    } else {
        uint64_t v = text[0] == '-' ? (uint64_t)strtoll(text, NULL, 10) : strtoull(text, NULL, 10);
        memcpy(p, &v, size);
    }
    b->elem[b->count].offset = b->len;
    b->elem[b->count].type = type;
    b->count++;
    b->len += size;
    return 1;
}

/* "type:v,v,a..b,v*k" appended to b. */
static int parse_segment(buffer_t *b, const char *spec)
{
    const char *colon = strchr(spec, ':');
    vtype_t type;
    size_t size;
    if (!colon || !find_type(spec, (size_t)(colon - spec), &type, &size))
        return 0;
    b->len = (b->len + size - 1) / size * size;
    const char *p = colon + 1;
    while (*p) {
        char item[64];
        size_t n = strcspn(p, ",");
        if (n == 0 || n >= sizeof(item))
            return 0;
        memcpy(item, p, n);
        item[n] = '\0';
        p += n + (p[n] == ',');
        /* "u64:5" inside the list switches the type. */
        char *colon2 = strchr(item, ':');
        if (colon2) {
            if (!find_type(item, (size_t)(colon2 - item), &type, &size))
                return 0;
            b->len = (b->len + size - 1) / size * size;
            memmove(item, colon2 + 1, strlen(colon2 + 1) + 1);
        }
        char *range = strstr(item, "..");
        char *star = strchr(item, '*');
        if (range && !is_float(type)) {
            *range = '\0';
            long long from = strtoll(item, NULL, 0), to = strtoll(range + 2, NULL, 0);
            long long step = from <= to ? 1 : -1;
            for (long long v = from; v != to + step; v += step) {
                char num[32];
                snprintf(num, sizeof(num), "%lld", v);
                if (!put_value(b, type, size, num))
                    return 0;
            }
        } else if (star) {
            *star = '\0';
            long k = strtol(star + 1, NULL, 10);
            for (long i = 0; i < k; i++)
                if (!put_value(b, type, size, item))
                    return 0;
        } else if (!put_value(b, type, size, item)) {
            return 0;
        }
    }
    return 1;
}

/* "XxYxZ" (Y and Z default to 1). */
static int parse_dims(const char *s, unsigned *dims)
{
    char *end;
    for (int i = 0; i < 3; i++) {
        dims[i] = (unsigned)strtoul(s, &end, 10);
        if (end == s || dims[i] == 0)
            return 0;
        if (*end != 'x')
            return *end == '\0';
        s = end + 1;
    }
    return 0;
}

static void format_elem(const buffer_t *b, const uint8_t *bytes, size_t i, char *out, size_t out_len)
{
    const uint8_t *p = bytes + b->elem[i].offset;
    switch (b->elem[i].type) {
    case T_U8: snprintf(out, out_len, "%u", *p); break;
    case T_S8: snprintf(out, out_len, "%d", (int8_t)*p); break;
    case T_U16: { uint16_t v; memcpy(&v, p, 2); snprintf(out, out_len, "%u", v); break; }
    case T_S16: { int16_t v; memcpy(&v, p, 2); snprintf(out, out_len, "%d", v); break; }
    case T_U32: { uint32_t v; memcpy(&v, p, 4); snprintf(out, out_len, "%u", v); break; }
    case T_S32: { int32_t v; memcpy(&v, p, 4); snprintf(out, out_len, "%d", v); break; }
    case T_U64: { uint64_t v; memcpy(&v, p, 8); snprintf(out, out_len, "%llu", (unsigned long long)v); break; }
    case T_S64: { int64_t v; memcpy(&v, p, 8); snprintf(out, out_len, "%lld", (long long)v); break; }
    case T_F32: { float v; uint32_t u; memcpy(&v, p, 4); memcpy(&u, p, 4); snprintf(out, out_len, "%.9g (0x%08x)", v, u); break; }
    case T_F64: { double v; memcpy(&v, p, 8); snprintf(out, out_len, "%.17g", v); break; }
    }
}

static int elem_matches(const buffer_t *want, const uint8_t *got, size_t i, double tol)
{
    const uint8_t *w = want->bytes + want->elem[i].offset, *g = got + want->elem[i].offset;
    if (want->elem[i].type == T_F32 || want->elem[i].type == T_F64) {
        double a, b;
        if (want->elem[i].type == T_F32) {
            float fa, fb;
            memcpy(&fa, w, 4);
            memcpy(&fb, g, 4);
            if (tol == 0)
                return memcmp(w, g, 4) == 0 || (fa != fa && fb != fb);
            a = fa;
            b = fb;
        } else {
            memcpy(&a, w, 8);
            memcpy(&b, g, 8);
            if (tol == 0)
                return memcmp(w, g, 8) == 0 || (a != a && b != b);
        }
        if (a != a || b != b)
            return a != a && b != b;
        if (isinf(a) || isinf(b))
            return a == b;
        return fabs(a - b) <= tol * fmax(fabs(a), 1e-30) || fabs(a - b) <= tol;
    }
    size_t size = (i + 1 < want->count ? want->elem[i + 1].offset : want->len) - want->elem[i].offset;
    static const size_t sizes[] = {1, 1, 2, 2, 4, 4, 8, 8, 4, 8};
    size = sizes[want->elem[i].type];
    return memcmp(w, g, size) == 0;
}

static ptx_driver_t *driver; /* --driver: rows run through it */

/* The current file's module globals: host memory bound as their device addresses. */
static struct {
    void *host;
    size_t size;
} globals[64];
static size_t global_count;

static int bind_globals(bf_ptx_module_t *module)
{
    global_count = 0;
    for (size_t i = 0; i < bf_ptx_module_global_count(module) && i < 64; i++) {
        const char *name;
        size_t size;
        const void *init;
        int is_const;
        bf_ptx_module_global(module, i, &name, &size, &init, &is_const);
        void *p = calloc(1, size ? size : 1);
        if (!p)
            return 0;
        if (init)
            memcpy(p, init, size);
        globals[global_count].host = p;
        globals[global_count++].size = size ? size : 1;
        bf_ptx_module_bind_global(module, i, (uint64_t)(uintptr_t)p);
    }
    return 1;
}

static void free_globals(void)
{
    for (size_t i = 0; i < global_count; i++)
        free(globals[i].host);
    global_count = 0;
}

static int run_row(const bf_ptx_module_t *module, const char *path, int line, char *row)
{
    char *save = NULL;
    char *name = strtok_r(row, " \t\r\n", &save);
    if (!name) {
        printf("FAIL %s:%d: empty row\n", path, line);
        return 0;
    }
    static buffer_t in, want, init;
    memset(&in, 0, sizeof(in));
    memset(&want, 0, sizeof(want));
    memset(&init, 0, sizeof(init));
    unsigned block[3] = {1, 1, 1}, grid[3] = {1, 1, 1};
    size_t shared = 0;
    double tol = 0;
    const char *want_fault = NULL;
    for (char *tok; (tok = strtok_r(NULL, " \t\r\n", &save)) != NULL;) {
        int ok = 1;
        if (strncmp(tok, "in=", 3) == 0)
            ok = parse_segment(&in, tok + 3);
        else if (strncmp(tok, "out=", 4) == 0)
            ok = parse_segment(&want, tok + 4);
        else if (strncmp(tok, "init=", 5) == 0)
            ok = parse_segment(&init, tok + 5);
        else if (strncmp(tok, "threads=", 8) == 0)
            block[0] = (unsigned)strtoul(tok + 8, NULL, 10);
        else if (strncmp(tok, "blocks=", 7) == 0)
            grid[0] = (unsigned)strtoul(tok + 7, NULL, 10);
        else if (strncmp(tok, "block=", 6) == 0)
            ok = parse_dims(tok + 6, block);
        else if (strncmp(tok, "grid=", 5) == 0)
            ok = parse_dims(tok + 5, grid);
        else if (strncmp(tok, "shared=", 7) == 0)
            shared = strtoul(tok + 7, NULL, 10);
        else if (strncmp(tok, "tol=", 4) == 0)
            tol = strtod(tok + 4, NULL);
        else if (strncmp(tok, "fault=", 6) == 0)
            want_fault = tok + 6;
        else
            ok = 0;
        if (!ok) {
            printf("FAIL %s: %s:%d: bad field '%s'\n", name, path, line, tok);
            return 0;
        }
    }
    const bf_ptx_kernel_t *k = bf_ptx_module_find_kernel(module, name);
    if (driver) {
        size_t in_len = in.len ? in.len : 8, out_len = want.len ? want.len : 8;
        uint8_t *out_buf = malloc(out_len);
        char msg[160];
        int failed = 0, pass = 1;
        memset(out_buf, 0xcd, out_len);
        memcpy(out_buf, init.bytes, init.len < out_len ? init.len : out_len);
        if (!ptx_driver_run(driver, name, grid, block, shared, in.bytes, in_len, out_buf, out_len, &failed, msg,
                            sizeof(msg))) {
            printf("FAIL %s: %s:%d: %s\n", name, path, line, msg);
            pass = 0;
        } else if (failed != (want_fault != NULL)) {
            printf("FAIL %s: %s:%d: %s\n", name, path, line, failed ? msg : "expected the launch to fail");
            pass = 0;
        }
        for (size_t i = 0; pass && !failed && i < want.count; i++) {
            if (!elem_matches(&want, out_buf, i, tol)) {
                char w[64], g[64];
                format_elem(&want, want.bytes, i, w, sizeof(w));
                format_elem(&want, out_buf, i, g, sizeof(g));
                printf("FAIL %s: %s:%d: out[%zu] is %s, expected %s\n", name, path, line, i, g, w);
                pass = 0;
            }
        }
        if (pass)
            printf("PASS %s\n", name);
        free(out_buf);
        return pass;
    }
    if (!k) {
        printf("FAIL %s: %s:%d: no such kernel\n", name, path, line);
        return 0;
    }
    size_t in_len = in.len ? in.len : 8, out_len = want.len ? want.len : 8;
    uint8_t *in_buf = malloc(in_len), *out_buf = malloc(out_len);
    memcpy(in_buf, in.bytes, in.len);
    memset(out_buf, 0xcd, out_len);
    memcpy(out_buf, init.bytes, init.len < out_len ? init.len : out_len);
    ptx_host_memory_t mem = {0};
    uint64_t params[2] = {ptx_host_add(&mem, in_buf, in_len), ptx_host_add(&mem, out_buf, out_len)};
    for (size_t i = 0; i < global_count; i++)
        ptx_host_add(&mem, globals[i].host, globals[i].size);
    bf_ptx_memory_t memory = ptx_host_memory(&mem);
    bf_ptx_launch_t launch = {
        .grid = {grid[0], grid[1], grid[2]}, .block = {block[0], block[1], block[2]}, .dynamic_shared_bytes = shared,
        .params = params, .params_size = sizeof(params), .memory = &memory, .worker_threads = 1,
    };
    bf_ptx_fault_t fault;
    bf_status_t status = bf_ptx_launch(k, &launch, &fault);
    int pass = 1;
    if (want_fault) {
        /* fault=words_with_underscores: the launch must stop, the message containing the words. */
        char words[128];
        snprintf(words, sizeof(words), "%s", want_fault);
        for (char *u = words; *u; u++)
            if (*u == '_')
                *u = ' ';
        if (status != BF_BAD_ADDRESS || !strstr(fault.message, words) || fault.ptx_line <= 0 ||
            strcmp(fault.kernel, name) != 0) {
            printf("FAIL %s: %s:%d: expected a fault with '%s', got %s%s%s\n", name, path, line, words,
                   bf_status_name(status), status == BF_BAD_ADDRESS ? ": " : "",
                   status == BF_BAD_ADDRESS ? fault.message : "");
            pass = 0;
        }
    } else if (status != BF_OK) {
        printf("FAIL %s: %s:%d: launch returned %s", name, path, line, bf_status_name(status));
        if (status == BF_BAD_ADDRESS)
            printf(" (line %d: %s)", fault.ptx_line, fault.message);
        printf("\n");
        pass = 0;
    }
    for (size_t i = 0; pass && i < want.count; i++) {
        if (!elem_matches(&want, out_buf, i, tol)) {
            char w[64], g[64];
            format_elem(&want, want.bytes, i, w, sizeof(w));
            format_elem(&want, out_buf, i, g, sizeof(g));
            printf("FAIL %s: %s:%d: out[%zu] is %s, expected %s\n", name, path, line, i, g, w);
            pass = 0;
        }
    }
    if (pass)
        printf("PASS %s\n", name);
    free(in_buf);
    free(out_buf);
    return pass;
}

int main(int argc, char **argv)
{
    int first = 1;
    if (argc > 2 && strcmp(argv[1], "--driver") == 0) {
        char err[256];
        if (!ptx_driver_open(argv[2], &driver, err, sizeof(err))) {
            printf("FAIL %s\n", err);
            return 2;
        }
        first = 3;
    }
    if (argc <= first) {
        fprintf(stderr, "usage: %s [--driver LIBCUDA] FILE.ptx...\n", argv[0]);
        return 2;
    }
    int failed = 0, rows = 0;
    for (int f = first; f < argc; f++) {
        size_t len;
        char *text = ptx_host_read_file(argv[f], &len);
        if (!text) {
            printf("FAIL %s: cannot read\n", argv[f]);
            return 2;
        }
        char err[256];
        bf_ptx_module_t *module;
        bf_status_t status = bf_ptx_module_load(text, len, &module, err, sizeof(err));
        if (status != BF_OK) {
            printf("FAIL %s: load: %s: %s\n", argv[f], bf_status_name(status), err);
            free(text);
            return 2;
        }
        if (!bind_globals(module)) {
            printf("FAIL %s: out of memory\n", argv[f]);
            return 2;
        }
        if (driver && !ptx_driver_load(driver, text, len, err, sizeof(err))) {
            printf("FAIL %s: driver load: %s\n", argv[f], err);
            failed++;
            free_globals();
            bf_ptx_module_free(module);
            free(text);
            continue;
        }
        int line = 1;
        for (char *p = text; *p; line++) {
            char *eol = strchr(p, '\n');
            size_t n = eol ? (size_t)(eol - p) : strlen(p);
            if (n > 3 && strncmp(p, "//@", 3) == 0) {
                char row[8192];
                if (n - 3 >= sizeof(row)) {
                    printf("FAIL %s:%d: row too long\n", argv[f], line);
                    failed++;
                } else {
                    memcpy(row, p + 3, n - 3);
                    row[n - 3] = '\0';
                    rows++;
                    failed += !run_row(module, argv[f], line, row);
                }
            }
            p += n + (eol != NULL);
        }
        if (driver)
            ptx_driver_unload(driver);
        free_globals();
        bf_ptx_module_free(module);
        free(text);
    }
    ptx_driver_close(driver);
    printf("ROWS %d\n", rows);
    return failed ? 1 : 0;
}
