/*
 * exec_ext.c: operations the interpreter's loop hands off (exec.c calls these from one case each,
 * so that rare operations cost the hot loop nothing): the device runtime's functions (vprintf,
 * malloc, free, __assertfail), calls of out-of-line (recursive) functions, and the EXT family
 * (match, redux, prmt modes, f16 comparisons, slct).
 */
#include <fenv.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "exec.h"

#define W BF_PTX_WARP

int bf_ptx_exec_fault(bf_ptx_exec_t *x, const bf_ptx_insn_t *in, int kind, uint64_t address, const char *fmt, ...)
{
    va_list ap;
    x->fault.kind = kind;
    x->fault.address = address;
    x->fault.ptx_line = (int)in->line;
    x->fault.kernel = x->k->name;
    va_start(ap, fmt);
    vsnprintf(x->fault.message, sizeof(x->fault.message), fmt, ap);
    va_end(ap);
    return -1;
}

/* --- reading device memory for the runtime's functions ----------------------------------------- */

/* One lane's generic address: the host bytes from it to the end of its region (*avail of them).
 * Returns 0 when no memory of the lane's holds addr. */
static int span(bf_ptx_exec_t *x, bf_ptx_warp_t *w, int lane, uint64_t addr, const uint8_t **p, size_t *avail)
{
    uint64_t tag = addr >> BF_PTX_WINDOW_SHIFT, off = addr & ((1ull << BF_PTX_WINDOW_SHIFT) - 1);
    if (tag == BF_PTX_WINDOW_SHARED) {
        if (off >= x->shared_size)
            return 0;
        *p = x->shared + off;
        *avail = x->shared_size - off;
        return 1;
    }
    if (tag == BF_PTX_WINDOW_LOCAL) {
        if (off >= x->local_bytes)
            return 0;
        *p = w->local + (size_t)lane * x->local_bytes + off;
        *avail = x->local_bytes - off;
        return 1;
    }
    if (tag == BF_PTX_WINDOW_PARAM) {
        if (off >= x->params_size)
            return 0;
        *p = x->params + off;
        *avail = x->params_size - off;
        return 1;
    }
    bf_ptx_region_t r;
    if (!x->memory || !x->memory->lookup(x->memory->ctx, addr, &r) || addr < r.base || addr - r.base >= r.size)
        return 0;
    *p = (const uint8_t *)r.host + (addr - r.base);
    *avail = r.size - (addr - r.base);
    return 1;
}

/* A NUL-terminated string at a generic address (at most max bytes of it are needed); NULL when it
 * is not readable up to its end (or max). *len_p: its length, capped at max. */
static const char *string_at(bf_ptx_exec_t *x, bf_ptx_warp_t *w, int lane, uint64_t addr, size_t max, size_t *len_p)
{
    const uint8_t *p;
    size_t avail;
    if (!span(x, w, lane, addr, &p, &avail))
        return NULL;
    const uint8_t *nul = memchr(p, 0, avail < max ? avail : max);
    if (!nul && avail < max)
        return NULL;
    *len_p = nul ? (size_t)(nul - p) : max;
    return (const char *)p;
}

/* --- vprintf ------------------------------------------------------------------------------------ */
typedef struct {
    char *s;
    size_t len, cap;
    int failed;
} text_t;

#define TEXT_MAX (1u << 20) /* one printf call's output; more is cut */

static void text_put(text_t *t, const char *s, size_t n)
{
    if (t->failed || t->len + n > TEXT_MAX)
        return;
    if (t->len + n + 1 > t->cap) {
        size_t cap = t->cap ? t->cap : 256;
        while (cap < t->len + n + 1)
            cap *= 2;
        char *p = realloc(t->s, cap);
        if (!p) {
            t->failed = 1;
            return;
        }
        t->s = p;
        t->cap = cap;
    }
    memcpy(t->s + t->len, s, n);
    t->len += n;
}

/* Formats one conversion with the host's snprintf; spec is a checked C conversion. */
static void put_formatted(text_t *t, const char *spec, int kind, uint64_t bits, const char *str, size_t str_len)
{
    char small[128];
    int n;
    char *strz = NULL;
    double d;
    switch (kind) {
    case 'i': n = snprintf(small, sizeof(small), spec, (int)(uint32_t)bits); break;
    case 'l': n = snprintf(small, sizeof(small), spec, (long long)bits); break;
    case 'd': memcpy(&d, &bits, 8); n = snprintf(small, sizeof(small), spec, d); break;
    case 'p': n = snprintf(small, sizeof(small), spec, (void *)(uintptr_t)bits); break;
    default: /* 's': a copy, so the host's printf never reads device memory past the string */
        strz = malloc(str_len + 1);
        if (!strz) {
            t->failed = 1;
            return;
        }
        memcpy(strz, str, str_len);
        strz[str_len] = 0;
        n = snprintf(small, sizeof(small), spec, strz);
        break;
    }
    if (n < 0) {
        free(strz);
        return;
    }
    if ((size_t)n < sizeof(small)) {
        text_put(t, small, (size_t)n);
    } else {
        char *big = malloc((size_t)n + 1);
        if (big) {
            switch (kind) {
            case 'i': snprintf(big, (size_t)n + 1, spec, (int)(uint32_t)bits); break;
            case 'l': snprintf(big, (size_t)n + 1, spec, (long long)bits); break;
            case 'd': snprintf(big, (size_t)n + 1, spec, d); break;
            case 'p': snprintf(big, (size_t)n + 1, spec, (void *)(uintptr_t)bits); break;
            default: snprintf(big, (size_t)n + 1, spec, strz); break;
            }
            text_put(t, big, (size_t)n);
            free(big);
        } else {
            t->failed = 1;
        }
    }
    free(strz);
}

/* Reads the next argument of size bytes (at its natural alignment) from the argument buffer. */
static int next_arg(bf_ptx_exec_t *x, bf_ptx_warp_t *w, int lane, uint64_t args, size_t *off, unsigned size,
                    uint64_t *v)
{
    const uint8_t *p;
    size_t avail;
    *off = (*off + size - 1) & ~(size_t)(size - 1);
    if (!args || !span(x, w, lane, args + *off, &p, &avail) || avail < size)
        return 0;
    *v = 0;
    memcpy(v, p, size);
    *off += size;
    return 1;
}

/*
 * CUDA's printf for one lane: the format's conversions are %[flags][width][.precision][size]type
 * with flags "#0- +", width digits or '*', size h hh l ll (also z j t L, read as their 64-bit or
 * double sizes), type one of c d i o u x X p e E f g G a A s. The arguments were packed by the
 * compiler at their natural alignment: 4 bytes for int-sized values, 8 for 64-bit ones, doubles
 * (floats are promoted) and pointers; %s takes a generic pointer to a string. Returns the number of
 * arguments read, -1 for a NULL format; a conversion it cannot read, and any past the 32 arguments
 * CUDA's printf takes, is copied as text.
 */
static int vprintf_lane(bf_ptx_exec_t *x, bf_ptx_warp_t *w, const bf_ptx_insn_t *in, int lane, uint64_t fmt_addr,
                        uint64_t args, text_t *t, int *fault)
{
    size_t fmt_len;
    if (!fmt_addr)
        return -1;
    const char *fmt = string_at(x, w, lane, fmt_addr, SIZE_MAX, &fmt_len);
    if (!fmt) {
        *fault = bf_ptx_exec_fault(x, in, BF_PTX_FAULT_ADDRESS, fmt_addr,
                                   "printf format at 0x%llx is not a string in device memory",
                                   (unsigned long long)fmt_addr);
        return 0;
    }
    size_t off = 0;
    int nargs = 0;
    const char *end = fmt + fmt_len;
    for (const char *p = fmt; p < end;) {
        const char *pct = memchr(p, '%', (size_t)(end - p));
        if (!pct) {
            text_put(t, p, (size_t)(end - p));
            break;
        }
        text_put(t, p, (size_t)(pct - p));
        p = pct + 1;
        if (p < end && *p == '%') {
            text_put(t, "%", 1);
            p++;
            continue;
        }
        char spec[64];
        size_t sl = 0;
        spec[sl++] = '%';
        while (p < end && strchr("#0- +", *p) && *p && sl < 16)
            spec[sl++] = *p++;
        int bad = 0;
        if (p < end && *p == '*') {
            uint64_t v;
            p++;
            if (!next_arg(x, w, lane, args, &off, 4, &v))
                bad = 1;
            else
                sl += (size_t)snprintf(spec + sl, sizeof(spec) - sl, "%d", (int)(uint32_t)v);
            nargs++;
        } else {
            while (p < end && *p >= '0' && *p <= '9' && sl < 40)
                spec[sl++] = *p++;
        }
        if (p < end && *p == '.') {
            spec[sl++] = *p++;
            while (p < end && *p >= '0' && *p <= '9' && sl < 50)
                spec[sl++] = *p++;
        }
        unsigned isize = 4;
        int is_short = 0;
        while (p < end && strchr("hlzjtL", *p) && *p) {
            if (*p == 'h')
                is_short++;
            else
                isize = 8;
            p++;
        }
        if (p >= end || !strchr("cdiouxXpeEfgGaAs", *p) || !*p || bad || nargs >= 32) {
            /* Not a conversion CUDA's printf knows, or past its 32 arguments: the text as it is. */
            text_put(t, pct, (size_t)((p < end ? p + 1 : end) - pct));
            p = p < end ? p + 1 : end;
            continue;
        }
        char conv = *p++;
        int kind;
        unsigned size;
        if (strchr("eEfgGaA", conv)) {
            kind = 'd';
            size = 8;
        } else if (conv == 's') {
            kind = 's';
            size = 8;
        } else if (conv == 'p') {
            kind = 'p';
            size = 8;
        } else if (conv == 'c') {
            kind = 'i';
            size = 4;
        } else {
            kind = isize == 8 ? 'l' : 'i';
            size = isize;
        }
        if (kind == 'l') {
            spec[sl++] = 'l';
            spec[sl++] = 'l';
        } else if (kind == 'i' && conv != 'c') {
            for (int h = 0; h < is_short && h < 2; h++)
                spec[sl++] = 'h';
        }
        spec[sl++] = conv;
        spec[sl] = 0;
        uint64_t v;
        if (!next_arg(x, w, lane, args, &off, size, &v)) {
            *fault = bf_ptx_exec_fault(x, in, BF_PTX_FAULT_ADDRESS, args + off,
                                       "printf argument %d is not in the argument buffer at 0x%llx", nargs + 1,
                                       (unsigned long long)args);
            return 0;
        }
        nargs++;
        if (kind == 's') {
            size_t len = 0;
            const char *s = NULL;
            if (!v) {
                s = "(null)";
                len = 6;
                spec[sl - 1] = 's';
            } else {
                s = string_at(x, w, lane, v, SIZE_MAX, &len);
                if (!s) {
                    *fault = bf_ptx_exec_fault(x, in, BF_PTX_FAULT_ADDRESS, v,
                                               "printf %%s argument 0x%llx is not a string in device memory",
                                               (unsigned long long)v);
                    return 0;
                }
            }
            put_formatted(t, spec, 's', 0, s, len);
        } else {
            put_formatted(t, spec, kind, v, NULL, 0);
        }
    }
    return nargs;
}

/* The assertion message of one lane, in NVIDIA's format. */
static void assert_lane(bf_ptx_exec_t *x, bf_ptx_warp_t *w, int lane, uint64_t msg, uint64_t file, uint32_t line,
                        uint64_t func, text_t *t)
{
    size_t ml = 0, fl = 0, nl = 0;
    const char *m = string_at(x, w, lane, msg, 4096, &ml);
    const char *f = string_at(x, w, lane, file, 4096, &fl);
    const char *n = string_at(x, w, lane, func, 4096, &nl);
    unsigned tid = w->index * W + (unsigned)lane;
    unsigned tx = tid % x->block[0], ty = tid / x->block[0] % x->block[1], tz = tid / (x->block[0] * x->block[1]);
    char head[160];
    text_put(t, f ? f : "?", f ? fl : 1);
    int hl = snprintf(head, sizeof(head), ":%u: ", line);
    text_put(t, head, (size_t)hl);
    text_put(t, n ? n : "?", n ? nl : 1);
    hl = snprintf(head, sizeof(head), ": block: [%u,%u,%u], thread: [%u,%u,%u] Assertion `", x->ctaid[0],
                  x->ctaid[1], x->ctaid[2], tx, ty, tz);
    text_put(t, head, (size_t)hl);
    text_put(t, m ? m : "?", m ? ml : 1);
    text_put(t, "` failed.\n", 10);
}

int bf_ptx_exec_builtin(bf_ptx_exec_t *x, bf_ptx_warp_t *w, const bf_ptx_insn_t *in, uint32_t m)
{
    uint8_t *R = w->regs;
    const uint64_t *a = (const uint64_t *)(R + in->a), *b = (const uint64_t *)(R + in->b);
    const bf_ptx_services_t *sv = x->services;
    switch (in->sub) {
    case BF_PTX_BI_VPRINTF: {
        uint32_t *d = (uint32_t *)(R + in->d);
        for (uint32_t mm = m; mm; mm &= mm - 1) {
            int i = __builtin_ctz(mm), fault = 0;
            text_t t = {0};
            int r = vprintf_lane(x, w, in, i, a[i], b[i], &t, &fault);
            if (fault) {
                free(t.s);
                return -1;
            }
            if (t.failed)
                r = -2; /* CUDA: an internal error */
            else if (sv && sv->output && t.len)
                sv->output(sv->ctx, 1, t.s, t.len);
            free(t.s);
            d[i] = (uint32_t)r;
        }
        return 0;
    }
    case BF_PTX_BI_MALLOC: {
        uint64_t *d = (uint64_t *)(R + in->d);
        for (uint32_t mm = m; mm; mm &= mm - 1) {
            int i = __builtin_ctz(mm);
            d[i] = sv && sv->malloc ? sv->malloc(sv->ctx, a[i]) : 0;
        }
        return 0;
    }
    case BF_PTX_BI_FREE:
        for (uint32_t mm = m; mm; mm &= mm - 1) {
            int i = __builtin_ctz(mm);
            if (a[i] && sv && sv->free)
                sv->free(sv->ctx, a[i]);
        }
        return 0;
    default: { /* __assertfail(message, file, line, function, charSize): every lane's message, then stop */
        const uint32_t *line = (const uint32_t *)(R + in->c);
        const uint64_t *fn = (const uint64_t *)(R + in->e);
        text_t t = {0};
        for (uint32_t mm = m; mm; mm &= mm - 1) {
            int i = __builtin_ctz(mm);
            assert_lane(x, w, i, a[i], b[i], line[i], fn[i], &t);
        }
        if (sv && sv->output && t.len)
            sv->output(sv->ctx, 2, t.s, t.len);
        size_t first = t.s ? strcspn(t.s, "\n") : 0;
        bf_ptx_exec_fault(x, in, BF_PTX_FAULT_ASSERT, 0, "%.*s", (int)(first < 240 ? first : 240),
                          t.s ? t.s : "device-side assertion failed");
        free(t.s);
        return -1;
    }
    }
}

/* --- calls of out-of-line functions ----------------------------------------------------------- */
static int reserve(void **p, size_t elem, size_t need, size_t *cap)
{
    if (need <= *cap)
        return 0;
    size_t n = *cap ? *cap : 8;
    while (n < need)
        n *= 2;
    void *q = realloc(*p, n * elem);
    if (!q)
        return -1;
    *p = q;
    *cap = n;
    return 0;
}

/*
 * Two bounds: what the calls count (bf_ptx_func_rt_t.charge: their .local variables) against
 * CU_LIMIT_STACK_SIZE, and the frames themselves (which also hold parameters and return values)
 * against the local memory the launch set aside for them (16 times the limit).
 */
static int do_call(bf_ptx_exec_t *x, bf_ptx_warp_t *w, const bf_ptx_insn_t *in, uint32_t func, uint32_t pc,
                   uint32_t act)
{
    const bf_ptx_func_rt_t *f = &x->k->funcs[func];
    uint64_t fp = (uint64_t)w->fp + (uint64_t)in->imm;
    size_t used = w->stack_used + f->charge;
    /* Room for the next call's arguments too, which the callee writes before its CALL checks. */
    if (used > x->stack_limit || fp + f->frame_bytes + x->k->max_frame_bytes > x->stack_base + x->stack_bytes)
        return bf_ptx_exec_fault(x, in, BF_PTX_FAULT_STACK, 0,
                                 "call stack overflow: %u nested calls need more than the %zu bytes of stack per "
                                 "thread (CU_LIMIT_STACK_SIZE)",
                                 w->ncalls + 1, x->stack_limit);
    size_t cc = w->calls_cap, sc = w->stack_cap;
    if (reserve((void **)&w->calls, sizeof(*w->calls), w->ncalls + 1, &cc) ||
        reserve((void **)&w->save, 1, w->save_len + f->save_len, &w->save_cap) ||
        reserve((void **)&w->stack, sizeof(*w->stack), (size_t)w->sp + 2, &sc))
        return -2;
    w->calls_cap = (uint32_t)cc;
    w->stack_cap = (uint32_t)sc;
    memcpy(w->save + w->save_len, w->regs + f->save_lo, f->save_len);
    w->calls[w->ncalls++] = (bf_ptx_call_t){
        .ret_pc = pc + 1, .fp = w->fp, .floor = w->call_floor, .func = func, .save_off = w->save_len,
        .stack_used = w->stack_used};
    w->save_len += f->save_len;
    w->stack_used = used;
    w->fp = (uint32_t)fp;
    w->stack[++w->sp] = (bf_ptx_stack_entry_t){f->entry, BF_PTX_NO_PC, act};
    w->call_floor = w->sp;
    return 0;
}

int bf_ptx_exec_call(bf_ptx_exec_t *x, bf_ptx_warp_t *w, const bf_ptx_insn_t *in, uint32_t pc, uint32_t act)
{
    return do_call(x, w, in, in->cache, pc, act);
}

/* The out-of-line function a function pointer names in this kernel, or UINT32_MAX. */
static uint32_t func_of(const bf_ptx_kernel_t *k, uint64_t addr)
{
    uint64_t index = addr & ((1ull << BF_PTX_WINDOW_SHIFT) - 1);
    if (addr >> BF_PTX_WINDOW_SHIFT != BF_PTX_WINDOW_FUNC || index >= k->func_map_len)
        return UINT32_MAX;
    return k->func_map[index];
}

/*
 * CALLI: the lanes that call the function the lowest active lane names go first; when others name
 * other functions, the warp splits as at a divergent branch: the current entry resumes after the
 * call, and one entry (re-running CALLI) is pushed for the others and one for this group, which
 * reconverge there.
 */
int bf_ptx_exec_calli(bf_ptx_exec_t *x, bf_ptx_warp_t *w, const bf_ptx_insn_t *in, uint32_t pc, uint32_t act)
{
    const uint64_t *t = (const uint64_t *)(w->regs + in->a);
    const int first = __builtin_ctz(act);
    const uint64_t addr = t[first];
    uint32_t group = 0;
    for (uint32_t mm = act; mm; mm &= mm - 1)
        group |= (uint32_t)(t[__builtin_ctz(mm)] == addr) << __builtin_ctz(mm);
    if (group == act) {
        uint32_t func = func_of(x->k, addr);
        if (func == UINT32_MAX)
            return bf_ptx_exec_fault(x, in, BF_PTX_FAULT_PC, addr,
                                     "indirect call of 0x%llx, which is not a function of this kernel's module",
                                     (unsigned long long)addr);
        return do_call(x, w, in, func, pc, act);
    }
    size_t sc = w->stack_cap;
    if (reserve((void **)&w->stack, sizeof(*w->stack), (size_t)w->sp + 3, &sc))
        return -2;
    w->stack_cap = (uint32_t)sc;
    const uint32_t r = pc + 1;
    if (w->sp > 0 && w->stack[w->sp].rpc == r && w->sp != w->call_floor)
        w->sp--;
    else
        w->stack[w->sp].pc = r;
    w->stack[++w->sp] = (bf_ptx_stack_entry_t){pc, r, act & ~group};
    w->stack[++w->sp] = (bf_ptx_stack_entry_t){pc, r, group};
    return 0;
}

uint32_t bf_ptx_exec_return(bf_ptx_exec_t *x, bf_ptx_warp_t *w)
{
    const bf_ptx_call_t *c = &w->calls[--w->ncalls];
    const bf_ptx_func_rt_t *f = &x->k->funcs[c->func];
    memcpy(w->regs + f->save_lo, w->save + c->save_off, f->save_len);
    w->save_len = c->save_off;
    w->stack_used = c->stack_used;
    w->fp = c->fp;
    w->sp = w->call_floor - 1;
    w->call_floor = c->floor;
    return c->ret_pc;
}

/* --- directed rounding through the host's rounding mode ------------------------------------- */
static int fe_mode(int rnd)
{
    return rnd == BF_PTX_RND_Z ? FE_TOWARDZERO : rnd == BF_PTX_RND_M ? FE_DOWNWARD
                                               : rnd == BF_PTX_RND_P ? FE_UPWARD : FE_TONEAREST;
}

/* The operands pass through volatile variables so that the operation is done between the two
 * fesetround calls, never folded or moved across them. IEEE division, square root and fused
 * multiply-add are correctly rounded in every mode (the host's instructions, glibc's fma/fmaf). */
float bf_ptx_fdir_fenv_f32(float a, float b, float c, int op, int rnd)
{
    volatile float va = a, vb = b, vc = c, vr;
    int old = fegetround();
    fesetround(fe_mode(rnd));
    switch (op) {
    case BF_PTX_FDIR_DIV: vr = va / vb; break;
    case BF_PTX_FDIR_SQRT: vr = sqrtf(va); break;
    case BF_PTX_FDIR_RCP: vr = 1.0f / va; break;
    default: vr = fmaf(va, vb, vc); break;
    }
    fesetround(old);
    return vr;
}

double bf_ptx_fdir_fenv_f64(double a, double b, double c, int op, int rnd)
{
    volatile double va = a, vb = b, vc = c, vr;
    int old = fegetround();
    fesetround(fe_mode(rnd));
    switch (op) {
    case BF_PTX_FDIR_DIV: vr = va / vb; break;
    case BF_PTX_FDIR_SQRT: vr = sqrt(va); break;
    case BF_PTX_FDIR_RCP: vr = 1.0 / va; break;
    default: vr = fma(va, vb, vc); break;
    }
    fesetround(old);
    return vr;
}

/* --- EXT ---------------------------------------------------------------------------------------- */
static inline float f32_of(uint32_t u)
{
    float f;
    memcpy(&f, &u, 4);
    return f;
}

/* setp's comparisons of two floats (NaN-aware, as exec.c's FLT_CMPS). */
static int cmp_float(float a, float b, int cmp)
{
    switch (cmp) {
    case BF_PTX_CMP_EQ: return a == b;
    case BF_PTX_CMP_NE: return a < b || a > b;
    case BF_PTX_CMP_LT: return a < b;
    case BF_PTX_CMP_LE: return a <= b;
    case BF_PTX_CMP_GT: return a > b;
    case BF_PTX_CMP_GE: return a >= b;
    case BF_PTX_CMP_EQU: return !(a < b || a > b);
    case BF_PTX_CMP_NEU: return !(a == b);
    case BF_PTX_CMP_LTU: return !(a >= b);
    case BF_PTX_CMP_LEU: return !(a > b);
    case BF_PTX_CMP_GTU: return !(a <= b);
    case BF_PTX_CMP_GEU: return !(a < b);
    case BF_PTX_CMP_NUM: return a == a && b == b;
    default: return a != a || b != b;
    }
}

static inline float half_value(uint32_t h, int ftz)
{
    if (ftz && !(h & 0x7c00u))
        h &= 0x8000u;
    return f32_of(f16_to_f32(h & 0xffffu));
}

/* A double to IEEE half with any rounding: the largest half not above |v| (halves are ordered as
 * their bit patterns), then the step the rounding asks for; ties to even for rn. */
static uint32_t half_round(double v, int rnd)
{
    if (v != v)
        return 0x7fffu;
    uint32_t sign = signbit(v) ? 0x8000u : 0;
    double a = fabs(v);
    uint32_t lo = 0, hi = 0x7c00u; /* lo <= a < value(hi) */
    if (a >= (double)half_value(0x7c00u, 0))
        lo = 0x7c00u;
    while (hi - lo > 1 && lo != 0x7c00u) {
        uint32_t mid = (lo + hi) / 2;
        if ((double)half_value(mid, 0) <= a)
            lo = mid;
        else
            hi = mid;
    }
    if (lo == 0x7c00u || (double)half_value(lo, 0) == a)
        return sign | lo;
    hi = lo + 1;
    /* 0x7c00 (infinity) sits where 2^16 would: the midpoint rule gives IEEE's overflow threshold. */
    double lov = half_value(lo, 0), hiv = hi == 0x7c00u ? 65536.0 : (double)half_value(hi, 0);
    int up;
    switch (rnd) {
    case BF_PTX_RND_Z: up = 0; break;
    case BF_PTX_RND_P: up = !sign; break;
    case BF_PTX_RND_M: up = sign != 0; break;
    default: {
        double midv = (lov + hiv) / 2;
        up = a > midv || (a == midv && (lo & 1));
        break;
    }
    }
    return sign | (up ? hi : lo);
}

/* prmt's modes: for each mode and each value of c's two low bits, the source byte (of b:a) of
 * d's bytes 0..3 (PTX ISA, prmt). */
static const uint8_t prmt_modes[6][4][4] = {
    {{0, 1, 2, 3}, {1, 2, 3, 4}, {2, 3, 4, 5}, {3, 4, 5, 6}}, /* f4e */
    {{0, 7, 6, 5}, {1, 0, 7, 6}, {2, 1, 0, 7}, {3, 2, 1, 0}}, /* b4e */
    {{0, 0, 0, 0}, {1, 1, 1, 1}, {2, 2, 2, 2}, {3, 3, 3, 3}}, /* rc8 */
    {{0, 1, 2, 3}, {1, 1, 2, 3}, {2, 2, 2, 3}, {3, 3, 3, 3}}, /* ecl */
    {{0, 0, 0, 0}, {0, 1, 1, 1}, {0, 1, 2, 2}, {0, 1, 2, 3}}, /* ecr */
    {{0, 1, 0, 1}, {2, 3, 2, 3}, {0, 1, 0, 1}, {2, 3, 2, 3}}, /* rc16 */
};

int bf_ptx_exec_ext(bf_ptx_exec_t *x, bf_ptx_warp_t *w, const bf_ptx_insn_t *in, uint32_t m, uint32_t act)
{
    uint8_t *R = w->regs;
    uint32_t *d32 = (uint32_t *)(R + in->d);
    const uint32_t *a32 = (const uint32_t *)(R + in->a), *b32 = (const uint32_t *)(R + in->b);
    const uint32_t *c32 = (const uint32_t *)(R + in->c);
    uint32_t *pd = (uint32_t *)(R + in->d);
    (void)act;
    switch (in->sub) {
    case BF_PTX_EXT_MATCH_ANY:
    case BF_PTX_EXT_MATCH_ALL: {
        /* The active lanes of each lane's member mask (b) take part. */
        const uint64_t *a64 = (const uint64_t *)(R + in->a);
        uint32_t same[W];
        for (uint32_t mm = m; mm; mm &= mm - 1) {
            int i = __builtin_ctz(mm);
            same[i] = 0;
            for (uint32_t nn = m & b32[i]; nn; nn &= nn - 1) {
                int j = __builtin_ctz(nn);
                if ((in->flags & 1) ? a64[j] == a64[i] : a32[j] == a32[i])
                    same[i] |= 1u << j;
            }
        }
        if (in->sub == BF_PTX_EXT_MATCH_ANY) {
            for (uint32_t mm = m; mm; mm &= mm - 1)
                d32[__builtin_ctz(mm)] = same[__builtin_ctz(mm)];
            return 0;
        }
        uint32_t allp = 0;
        for (uint32_t mm = m; mm; mm &= mm - 1) {
            int i = __builtin_ctz(mm);
            int all = same[i] == (m & b32[i]);
            d32[i] = all ? m & b32[i] : 0;
            allp |= (uint32_t)all << i;
        }
        if (in->flags & 2) {
            uint32_t *p = (uint32_t *)(R + in->e);
            *p = (*p & ~m) | allp;
        }
        return 0;
    }
    case BF_PTX_EXT_REDUX: {
        /* Each lane's result is over the active lanes of its member mask (b). */
        uint32_t out[W];
        for (uint32_t ll = m; ll; ll &= ll - 1) {
            const int lane = __builtin_ctz(ll);
            uint32_t r = in->n == BF_PTX_REDUX_AND ? ~0u : 0;
            int first = 1;
            for (uint32_t mm = m & b32[lane]; mm; mm &= mm - 1) {
                uint32_t v = a32[__builtin_ctz(mm)];
                switch (in->n) {
                case BF_PTX_REDUX_ADD: r += v; break;
                case BF_PTX_REDUX_AND: r &= v; break;
                case BF_PTX_REDUX_OR: r |= v; break;
                case BF_PTX_REDUX_XOR: r ^= v; break;
                case BF_PTX_REDUX_MIN:
                    if (first || (in->kind == BF_PTX_K_S32 ? (int32_t)v < (int32_t)r : v < r))
                        r = v;
                    break;
                default:
                    if (first || (in->kind == BF_PTX_K_S32 ? (int32_t)v > (int32_t)r : v > r))
                        r = v;
                    break;
                }
                first = 0;
            }
            out[lane] = r;
        }
        for (uint32_t mm = m; mm; mm &= mm - 1)
            d32[__builtin_ctz(mm)] = out[__builtin_ctz(mm)];
        return 0;
    }
    case BF_PTX_EXT_PRMT:
        for (uint32_t mm = m; mm; mm &= mm - 1) {
            int i = __builtin_ctz(mm);
            uint64_t bytes = (uint64_t)b32[i] << 32 | a32[i];
            const uint8_t *sel = prmt_modes[in->n][c32[i] & 3];
            uint32_t r = 0;
            for (int k = 0; k < 4; k++)
                r |= (uint32_t)((bytes >> (8 * sel[k])) & 0xff) << (8 * k);
            d32[i] = r;
        }
        return 0;
    case BF_PTX_EXT_HSETP: {
        uint32_t lo = 0, hi = 0;
        int ftz = (in->flags & 2) != 0;
        for (uint32_t mm = m; mm; mm &= mm - 1) {
            int i = __builtin_ctz(mm);
            lo |= (uint32_t)cmp_float(half_value(a32[i], ftz), half_value(b32[i], ftz), in->n) << i;
            hi |= (uint32_t)cmp_float(half_value(a32[i] >> 16, ftz), half_value(b32[i] >> 16, ftz), in->n) << i;
        }
        *pd = (*pd & ~m) | lo;
        if (in->flags & 1) {
            uint32_t *q = (uint32_t *)(R + in->e);
            *q = (*q & ~m) | hi;
        }
        return 0;
    }
    case BF_PTX_EXT_SLCT: {
        const uint64_t *a64 = (const uint64_t *)(R + in->a), *b64 = (const uint64_t *)(R + in->b);
        uint64_t *d64 = (uint64_t *)(R + in->d);
        for (uint32_t mm = m; mm; mm &= mm - 1) {
            int i = __builtin_ctz(mm);
            uint32_t cv = c32[i];
            int take_a;
            if (in->kind == BF_PTX_K_F32) {
                if ((in->flags & 2) && !(cv & 0x7f800000u))
                    cv &= 0x80000000u;
                take_a = f32_of(cv) >= 0.0f;
            } else {
                take_a = (int32_t)cv >= 0;
            }
            if (in->flags & 1)
                d64[i] = take_a ? a64[i] : b64[i];
            else
                d32[i] = take_a ? a32[i] : b32[i];
        }
        return 0;
    }
    case BF_PTX_EXT_BARRED_ARRIVE: {
        uint32_t pv = (*(const uint32_t *)(R + in->a) ^ ((in->flags & 1) ? ~0u : 0)) & m;
        x->red_popc += (uint32_t)__builtin_popcount(pv);
        x->red_and &= pv == m;
        x->red_or |= pv != 0;
        return 0;
    }
    case BF_PTX_EXT_BARRED_RESULT:
        if (in->n == 0) {
            for (uint32_t mm = m; mm; mm &= mm - 1)
                d32[__builtin_ctz(mm)] = w->res_popc;
        } else {
            uint32_t r = (in->n == 1 ? w->res_and : w->res_or) ? ~0u : 0;
            *pd = (*pd & ~m) | (r & m);
        }
        return 0;
    case BF_PTX_EXT_FNS:
        /* The offset-th set bit of the mask from bit base, toward the msb (offset > 0) or the lsb
         * (offset < 0); offset 0 asks whether base itself is set. 0xffffffff when there is none. */
        for (uint32_t mm = m; mm; mm &= mm - 1) {
            int i = __builtin_ctz(mm);
            uint32_t mask = a32[i], r = 0xffffffffu;
            int base = (int)(b32[i] & 31), offset = (int32_t)c32[i];
            if (offset == 0) {
                if ((mask >> base) & 1)
                    r = (uint32_t)base;
            } else {
                int inc = offset > 0 ? 1 : -1;
                int64_t count = (offset > 0 ? (int64_t)offset : -(int64_t)offset) - 1;
                for (int pos = base; pos >= 0 && pos < 32; pos += inc)
                    if ((mask >> pos) & 1) {
                        if (count == 0) {
                            r = (uint32_t)pos;
                            break;
                        }
                        count--;
                    }
            }
            d32[i] = r;
        }
        return 0;
    case BF_PTX_EXT_VIDEO: {
        /* vadd4 vsub4 vavrg4 vabsdiff4 vmin4 vmax4 and their 2-way forms, default selectors and mask:
         * each lane of a and b extended by its own signedness, the operation, .sat clamps to the
         * destination's lane range; .add sums the lanes into c, else d takes the lanes' low bits. */
        const unsigned lanes = (in->flags & BF_PTX_VF_QUAD) ? 4 : 2, bits = 32 / lanes;
        const uint32_t lmask = (1u << bits) - 1;
        for (uint32_t mm = m; mm; mm &= mm - 1) {
            int i = __builtin_ctz(mm);
            uint32_t r = 0;
            int64_t sum = 0;
            for (unsigned l = 0; l < lanes; l++) {
                uint32_t ua = (a32[i] >> (l * bits)) & lmask, ub = (b32[i] >> (l * bits)) & lmask;
                int64_t ta = (in->flags & BF_PTX_VF_ASIGNED) && (ua >> (bits - 1)) ? (int64_t)ua - (1 << bits) : ua;
                int64_t tb = (in->flags & BF_PTX_VF_BSIGNED) && (ub >> (bits - 1)) ? (int64_t)ub - (1 << bits) : ub;
                int64_t t;
                switch (in->n) {
                case BF_PTX_VIDEO_ADD: t = ta + tb; break;
                case BF_PTX_VIDEO_SUB: t = ta - tb; break;
                case BF_PTX_VIDEO_AVRG: t = (ta + tb + 1) >> 1; break;
                case BF_PTX_VIDEO_ABSDIFF: t = ta > tb ? ta - tb : tb - ta; break;
                case BF_PTX_VIDEO_MIN: t = ta < tb ? ta : tb; break;
                default: t = ta > tb ? ta : tb; break;
                }
                if (in->flags & BF_PTX_VF_SAT) {
                    int64_t lo = (in->flags & BF_PTX_VF_DSIGNED) ? -(1 << (bits - 1)) : 0;
                    int64_t hi = (in->flags & BF_PTX_VF_DSIGNED) ? (1 << (bits - 1)) - 1 : (int64_t)lmask;
                    t = t < lo ? lo : t > hi ? hi : t;
                }
                sum += t;
                r |= ((uint32_t)t & lmask) << (l * bits);
            }
            d32[i] = (in->flags & BF_PTX_VF_ADD) ? c32[i] + (uint32_t)sum : r;
        }
        return 0;
    }
    case BF_PTX_EXT_CVTH: {
        const uint64_t *a64 = (const uint64_t *)(R + in->a);
        for (uint32_t mm = m; mm; mm &= mm - 1) {
            int i = __builtin_ctz(mm);
            double v;
            switch (in->kind) {
            case BF_PTX_K_F32: v = f32_of(a32[i]); break;
            case BF_PTX_K_F64: memcpy(&v, &a64[i], 8); break;
            case BF_PTX_K_S32: v = (int32_t)a32[i]; break;
            case BF_PTX_K_U32: v = a32[i]; break;
            case BF_PTX_K_S64: v = (double)(int64_t)a64[i]; break; /* rounded only past f16's range */
            default: v = (double)a64[i]; break;
            }
            d32[i] = half_round(v, in->rnd);
        }
        return 0;
    }
    default:
        return bf_ptx_exec_fault(x, in, BF_PTX_FAULT_TRAP, 0, "internal error: extended operation %u", in->sub);
    }
}
