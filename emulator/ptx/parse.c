/*
 * parse.c: module-level PTX: directives, module variables, the list of .entry and .func with
 * their parameters, and bf_ptx_module_load, which then decodes every .entry (decode.c).
 *
 * The parser only finds where things are; function bodies are read by the decoder, from the token
 * array, as often as needed (a .func body once per call site that inlines it).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "load.h"

/* The token at i, or the END token past the end. */
static inline const bf_ptx_tok_t *TOK(const bf_ptx_loader_t *L, size_t i)
{
    return &L->toks[i < L->tok_count ? i : L->tok_count - 1];
}

static int is_dir(const bf_ptx_tok_t *t, const char *s)
{
    return t->kind == BF_PTX_TOK_DIRECTIVE && bf_ptx_tok_eq(t, s);
}

static bf_status_t expect_punct(bf_ptx_loader_t *L, size_t *pos, char c)
{
    const bf_ptx_tok_t *t = TOK(L, *pos);
    if (!bf_ptx_tok_is(t, c))
        return bf_ptx_fail(L, BF_INVALID_ARG, t->line, "expected '%c' before '%.*s'", c, (int)t->len, t->s);
    (*pos)++;
    return BF_OK;
}

/* Reads an integer, with an optional minus sign. */
static bf_status_t parse_int(bf_ptx_loader_t *L, size_t *pos, int64_t *value_p)
{
    int neg = 0;
    if (bf_ptx_tok_is(TOK(L, *pos), '-')) {
        neg = 1;
        (*pos)++;
    }
    const bf_ptx_tok_t *t = TOK(L, *pos);
    if (t->kind != BF_PTX_TOK_INT)
        return bf_ptx_fail(L, BF_INVALID_ARG, t->line, "expected a number before '%.*s'", (int)t->len, t->s);
    (*pos)++;
    *value_p = (int64_t)(neg ? 0 - t->ival : t->ival);
    return BF_OK;
}

/* Stores one initializer element of type type at dst. */
static bf_status_t init_element(bf_ptx_loader_t *L, const bf_ptx_tok_t *t, int neg, bf_ptx_type_t type,
                                uint8_t *dst)
{
    unsigned bits = bf_ptx_type_bits(type);
    uint64_t v;
    if (type == BF_PTX_T_F32 || type == BF_PTX_T_F64) {
        double d;
        if (t->kind == BF_PTX_TOK_FLOAT && t->fform == BF_PTX_FLT_BITS32 && type == BF_PTX_T_F32) {
            uint32_t u = (uint32_t)t->ival ^ (neg ? 0x80000000u : 0);
            memcpy(dst, &u, 4);
            return BF_OK;
        }
        if (t->kind == BF_PTX_TOK_FLOAT && t->fform == BF_PTX_FLT_BITS64 && type == BF_PTX_T_F64) {
            uint64_t u = t->ival ^ (neg ? 0x8000000000000000ull : 0);
            memcpy(dst, &u, 8);
            return BF_OK;
        }
        if (t->kind == BF_PTX_TOK_FLOAT && t->fform == BF_PTX_FLT_BITS32) {
            float f;
            uint32_t u = (uint32_t)t->ival;
            memcpy(&f, &u, 4);
            d = f;
        } else if (t->kind == BF_PTX_TOK_FLOAT && t->fform == BF_PTX_FLT_BITS64) {
            memcpy(&d, &t->ival, 8);
        } else if (t->kind == BF_PTX_TOK_FLOAT) {
            d = t->fval;
        } else {
            d = (double)t->ival;
        }
        if (neg)
            d = -d;
        if (type == BF_PTX_T_F32) {
            float f = (float)d;
            memcpy(dst, &f, 4);
        } else {
            memcpy(dst, &d, 8);
        }
        return BF_OK;
    }
    if (t->kind == BF_PTX_TOK_INT) {
        v = neg ? 0 - t->ival : t->ival;
    } else if (t->kind == BF_PTX_TOK_FLOAT && t->fform != BF_PTX_FLT_DECIMAL) {
        v = t->ival; /* a bit pattern given for an integer-typed element */
    } else if (t->kind == BF_PTX_TOK_IDENT) {
        /* A function's address (a table of function pointers) is a constant here. */
        uint32_t sym;
        if (bits != 64 || neg || !bf_ptx_map_get(&L->syms, t->s, t->len, &sym) ||
            BF_PTX_MSYM_KIND(sym) != BF_PTX_MSYM_FUNC)
            return bf_ptx_fail(L, BF_UNSUPPORTED, t->line,
                               "unsupported initializer: address of '%.*s'", (int)t->len, t->s);
        v = BF_PTX_FUNC_ADDR(BF_PTX_MSYM_INDEX(sym));
    } else {
        return bf_ptx_fail(L, BF_INVALID_ARG, t->line, "malformed initializer '%.*s'", (int)t->len, t->s);
    }
    memcpy(dst, &v, bits / 8); /* little-endian: the low bytes */
    return BF_OK;
}

/* Reads "= value" or "= { ... }" (nested braces flattened) into a buffer of elements. */
static bf_status_t parse_init(bf_ptx_loader_t *L, size_t *pos, bf_ptx_var_decl_t *var)
{
    size_t elem = bf_ptx_type_bits(var->type) / 8;
    size_t cap = 16, n = 0;
    uint8_t *buf = calloc(cap, elem);
    if (!buf)
        return BF_NO_MEMORY;
    int depth = 0;
    do {
        const bf_ptx_tok_t *t = TOK(L, *pos);
        if (bf_ptx_tok_is(t, '{')) {
            depth++;
            (*pos)++;
        } else if (bf_ptx_tok_is(t, '}')) {
            depth--;
            (*pos)++;
        } else if (bf_ptx_tok_is(t, ',')) {
            (*pos)++;
        } else {
            int neg = 0;
            if (bf_ptx_tok_is(t, '-')) {
                neg = 1;
                t = TOK(L, ++*pos);
            }
            if (n == cap) {
                uint8_t *grown = realloc(buf, cap * 2 * elem);
                if (!grown) {
                    free(buf);
                    return BF_NO_MEMORY;
                }
                buf = grown;
                cap *= 2;
            }
            if (init_element(L, t, neg, var->type, buf + n * elem) != BF_OK) {
                free(buf);
                return L->status;
            }
            n++;
            (*pos)++;
            if (t->kind == BF_PTX_TOK_END)
                break;
        }
    } while (depth > 0);
    if (depth != 0) {
        free(buf);
        return bf_ptx_fail(L, BF_INVALID_ARG, TOK(L, *pos)->line, "unbalanced braces in initializer");
    }
    /* A vector type's elements are the components. */
    size_t want = var->count * (var->elem_size / elem);
    if (var->unsized) {
        var->count = n / (var->elem_size / elem);
        want = n;
        var->unsized = false;
    }
    if (n > want) {
        free(buf);
        return bf_ptx_fail(L, BF_INVALID_ARG, var->name->line, "too many initializers for '%.*s'",
                           (int)var->name->len, var->name->s);
    }
    uint8_t *init = calloc(want ? want : 1, elem);
    if (!init) {
        free(buf);
        return BF_NO_MEMORY;
    }
    memcpy(init, buf, n * elem);
    free(buf);
    var->init = init;
    return BF_OK;
}

bf_status_t bf_ptx_parse_var(bf_ptx_loader_t *L, size_t *pos, bool allow_init, bf_ptx_var_decl_t *var_p)
{
    bf_ptx_var_decl_t var = {0};
    size_t vec = 1;
    bool pointee = false; /* after .ptr: .space and .align describe what the pointer points to */
    var.count = 1;
    for (;;) {
        const bf_ptx_tok_t *t = TOK(L, *pos);
        if (t->kind != BF_PTX_TOK_DIRECTIVE)
            break;
        (*pos)++;
        if (is_dir(t, ".align")) {
            int64_t a;
            if (parse_int(L, pos, &a) != BF_OK)
                return L->status;
            if (a <= 0 || (a & (a - 1)))
                return bf_ptx_fail(L, BF_INVALID_ARG, t->line, "alignment %lld is not a power of two", (long long)a);
            if (!pointee)
                var.align = (size_t)a;
        } else if (is_dir(t, ".v2") || is_dir(t, ".v4") || is_dir(t, ".v8")) {
            vec = (size_t)(t->s[2] - '0');
        } else if (is_dir(t, ".ptr")) {
            /* .ptr .space .align N: what a kernel's pointer parameter points to; no effect on layout. */
            pointee = true;
        } else if (pointee && (is_dir(t, ".global") || is_dir(t, ".shared") || is_dir(t, ".const") ||
                               is_dir(t, ".local"))) {
            continue;
        } else {
            bf_ptx_type_t type = bf_ptx_type_parse(t->s, t->len);
            if (type == BF_PTX_T_NONE || type == BF_PTX_T_PRED)
                return bf_ptx_fail(L, BF_UNSUPPORTED, t->line, "unsupported directive '%.*s' in a declaration",
                                   (int)t->len, t->s);
            var.type = type;
        }
    }
    const bf_ptx_tok_t *name = TOK(L, *pos);
    if (var.type == BF_PTX_T_NONE || name->kind != BF_PTX_TOK_IDENT)
        return bf_ptx_fail(L, BF_INVALID_ARG, name->line, "malformed declaration near '%.*s'", (int)name->len,
                           name->s);
    (*pos)++;
    var.name = name;
    var.elem_size = bf_ptx_type_bits(var.type) / 8 * vec;
    while (bf_ptx_tok_is(TOK(L, *pos), '[')) {
        (*pos)++;
        if (bf_ptx_tok_is(TOK(L, *pos), ']')) {
            var.unsized = true;
        } else {
            int64_t n;
            if (parse_int(L, pos, &n) != BF_OK)
                return L->status;
            if (n < 0)
                return bf_ptx_fail(L, BF_INVALID_ARG, name->line, "negative array size");
            var.count *= (size_t)n;
        }
        if (expect_punct(L, pos, ']') != BF_OK)
            return L->status;
    }
    if (!var.align)
        var.align = var.elem_size;
    if (bf_ptx_tok_is(TOK(L, *pos), '=')) {
        if (!allow_init)
            return bf_ptx_fail(L, BF_UNSUPPORTED, name->line, "unsupported initializer of '%.*s'",
                               (int)name->len, name->s);
        (*pos)++;
        if (parse_init(L, pos, &var) != BF_OK)
            return L->status;
    }
    *var_p = var;
    return BF_OK;
}

/* Reads "( .param ..., .param ... )" into an array of declarations. */
static bf_status_t parse_param_list(bf_ptx_loader_t *L, size_t *pos, bf_ptx_param_decl_t **params_p,
                                    size_t *count_p)
{
    if (expect_punct(L, pos, '(') != BF_OK)
        return L->status;
    size_t count = 0, cap = 0;
    bf_ptx_param_decl_t *params = NULL;
    while (!bf_ptx_tok_is(TOK(L, *pos), ')')) {
        const bf_ptx_tok_t *t = TOK(L, *pos);
        if (!is_dir(t, ".param")) {
            free(params);
            return bf_ptx_fail(L, BF_UNSUPPORTED, t->line, "unsupported parameter '%.*s' (only .param)",
                               (int)t->len, t->s);
        }
        (*pos)++;
        bf_ptx_var_decl_t var;
        if (bf_ptx_parse_var(L, pos, false, &var) != BF_OK) {
            free(params);
            return L->status;
        }
        if (count == cap) {
            cap = cap ? cap * 2 : 8;
            bf_ptx_param_decl_t *grown = realloc(params, cap * sizeof(*params));
            if (!grown) {
                free(params);
                return BF_NO_MEMORY;
            }
            params = grown;
        }
        params[count].name = var.name;
        params[count].type = var.type;
        params[count].size = var.elem_size * var.count;
        params[count].align = var.align;
        count++;
        if (bf_ptx_tok_is(TOK(L, *pos), ','))
            (*pos)++;
        else if (!bf_ptx_tok_is(TOK(L, *pos), ')')) {
            free(params);
            return expect_punct(L, pos, ')');
        }
    }
    (*pos)++;
    *params_p = params;
    *count_p = count;
    return BF_OK;
}

static bf_status_t add_func(bf_ptx_loader_t *L, bf_ptx_func_t *f)
{
    uint32_t value;
    if (bf_ptx_map_get(&L->syms, f->name->s, f->name->len, &value)) {
        if (BF_PTX_MSYM_KIND(value) != BF_PTX_MSYM_FUNC && BF_PTX_MSYM_KIND(value) != BF_PTX_MSYM_ENTRY)
            return bf_ptx_fail(L, BF_INVALID_ARG, f->name->line, "'%.*s' redeclared", (int)f->name->len, f->name->s);
        bf_ptx_func_t *old = &L->funcs[BF_PTX_MSYM_INDEX(value)];
        if (f->body_begin && old->body_begin)
            return bf_ptx_fail(L, BF_INVALID_ARG, f->name->line, "'%.*s' defined twice", (int)f->name->len,
                               f->name->s);
        if (f->body_begin) {
            free(old->params);
            free(old->rets);
            *old = *f;
        } else {
            free(f->params);
            free(f->rets);
        }
        return BF_OK;
    }
    if (L->func_count == L->func_cap) {
        size_t cap = L->func_cap ? L->func_cap * 2 : 16;
        bf_ptx_func_t *grown = realloc(L->funcs, cap * sizeof(*grown));
        if (!grown)
            return BF_NO_MEMORY;
        L->funcs = grown;
        L->func_cap = cap;
    }
    L->funcs[L->func_count] = *f;
    bf_status_t status = bf_ptx_map_add(&L->syms, f->name->s, f->name->len,
                                        BF_PTX_MSYM(f->is_entry ? BF_PTX_MSYM_ENTRY : BF_PTX_MSYM_FUNC, L->func_count));
    if (status != BF_OK)
        return status;
    L->func_count++;
    return BF_OK;
}

/* .entry name (params) [perf directives] { body } and .func [(rets)] name [(params)] ... */
static bf_status_t parse_function(bf_ptx_loader_t *L, size_t *pos, bool is_entry)
{
    bf_ptx_func_t f = {0};
    f.is_entry = is_entry;
    if (!is_entry && bf_ptx_tok_is(TOK(L, *pos), '(')) {
        if (parse_param_list(L, pos, &f.rets, &f.ret_count) != BF_OK)
            return L->status;
    }
    const bf_ptx_tok_t *name = TOK(L, *pos);
    if (name->kind != BF_PTX_TOK_IDENT) {
        free(f.rets);
        return bf_ptx_fail(L, BF_INVALID_ARG, name->line, "expected a function name");
    }
    f.name = name;
    (*pos)++;
    if (bf_ptx_tok_is(TOK(L, *pos), '(') && parse_param_list(L, pos, &f.params, &f.param_count) != BF_OK)
        goto err_free;
    for (;;) {
        const bf_ptx_tok_t *t = TOK(L, *pos);
        if (is_dir(t, ".maxntid") || is_dir(t, ".reqntid")) {
            int *dims = is_dir(t, ".maxntid") ? f.maxntid : f.reqntid;
            (*pos)++;
            for (int i = 0; i < 3; i++) {
                int64_t v;
                if (parse_int(L, pos, &v) != BF_OK)
                    goto err_free;
                dims[i] = (int)v;
                if (!bf_ptx_tok_is(TOK(L, *pos), ','))
                    break;
                (*pos)++;
            }
        } else if (is_dir(t, ".minnctapersm") || is_dir(t, ".maxnreg") || is_dir(t, ".maxnctapersm") ||
                   is_dir(t, ".maxclusterrank")) {
            int64_t v;
            (*pos)++;
            if (parse_int(L, pos, &v) != BF_OK)
                goto err_free;
        } else if (is_dir(t, ".noreturn")) {
            (*pos)++;
        } else if (is_dir(t, ".pragma")) {
            (*pos)++;
            while (TOK(L, *pos)->kind == BF_PTX_TOK_STRING || bf_ptx_tok_is(TOK(L, *pos), ','))
                (*pos)++;
            if (expect_punct(L, pos, ';') != BF_OK)
                goto err_free;
        } else {
            break;
        }
    }
    const bf_ptx_tok_t *t = TOK(L, *pos);
    if (bf_ptx_tok_is(t, ';')) {
        (*pos)++;
    } else if (bf_ptx_tok_is(t, '{')) {
        f.body_begin = *pos;
        int depth = 0;
        do {
            t = TOK(L, *pos);
            if (t->kind == BF_PTX_TOK_END) {
                bf_ptx_fail(L, BF_INVALID_ARG, name->line, "body of '%.*s' is not closed", (int)name->len, name->s);
                goto err_free;
            }
            if (bf_ptx_tok_is(t, '{'))
                depth++;
            else if (bf_ptx_tok_is(t, '}'))
                depth--;
            (*pos)++;
        } while (depth > 0);
        f.body_end = *pos - 1;
    } else {
        bf_ptx_fail(L, t->kind == BF_PTX_TOK_DIRECTIVE ? BF_UNSUPPORTED : BF_INVALID_ARG, t->line,
                    "unsupported directive '%.*s' in the declaration of '%.*s'", (int)t->len, t->s,
                    (int)name->len, name->s);
        goto err_free;
    }
    if (add_func(L, &f) != BF_OK)
        goto err_free;
    return BF_OK;

err_free:
    free(f.params);
    free(f.rets);
    return L->status != BF_OK ? L->status : BF_NO_MEMORY;
}

static bf_status_t add_global(bf_ptx_loader_t *L, const bf_ptx_var_decl_t *var, bool is_const)
{
    bf_ptx_module_t *m = L->module;
    bf_ptx_global_t *grown = realloc(m->globals, (m->global_count + 1) * sizeof(*grown));
    if (!grown)
        return BF_NO_MEMORY;
    m->globals = grown;
    bf_ptx_global_t *g = &m->globals[m->global_count];
    memset(g, 0, sizeof(*g));
    g->name = strndup(var->name->s, var->name->len);
    if (!g->name)
        return BF_NO_MEMORY;
    g->size = var->elem_size * var->count;
    g->align = var->align;
    g->init = var->init;
    g->is_const = is_const;
    if (is_const)
        m->const_bytes += g->size;
    bf_status_t status = bf_ptx_map_add(&L->syms, var->name->s, var->name->len,
                                        BF_PTX_MSYM(BF_PTX_MSYM_GLOBAL, m->global_count));
    m->global_count++;
    return status;
}

static bf_status_t add_shared(bf_ptx_loader_t *L, const bf_ptx_var_decl_t *var, bool is_extern)
{
    if (L->shared_var_count == L->shared_var_cap) {
        size_t cap = L->shared_var_cap ? L->shared_var_cap * 2 : 8;
        bf_ptx_shared_var_t *grown = realloc(L->shared_vars, cap * sizeof(*grown));
        if (!grown)
            return BF_NO_MEMORY;
        L->shared_vars = grown;
        L->shared_var_cap = cap;
    }
    bf_ptx_shared_var_t *s = &L->shared_vars[L->shared_var_count];
    s->name = var->name;
    s->size = var->elem_size * var->count;
    s->align = var->align;
    s->is_extern = is_extern || var->unsized;
    return bf_ptx_map_add(&L->syms, var->name->s, var->name->len,
                          BF_PTX_MSYM(BF_PTX_MSYM_SHARED, L->shared_var_count++));
}

/* Skips the rest of a line (directives such as .file and .loc have no terminator). */
static void skip_line(bf_ptx_loader_t *L, size_t *pos)
{
    uint32_t line = TOK(L, *pos)->line;
    while (TOK(L, *pos)->kind != BF_PTX_TOK_END && TOK(L, *pos)->line == line)
        (*pos)++;
}

static bf_status_t parse_module(bf_ptx_loader_t *L)
{
    size_t pos = 0;
    bool is_extern = false;
    while (TOK(L, pos)->kind != BF_PTX_TOK_END) {
        const bf_ptx_tok_t *t = TOK(L, pos);
        if (t->kind != BF_PTX_TOK_DIRECTIVE)
            return bf_ptx_fail(L, BF_INVALID_ARG, t->line, "unexpected '%.*s' at module scope", (int)t->len, t->s);
        pos++;
        if (is_dir(t, ".version")) {
            const bf_ptx_tok_t *v = TOK(L, pos++);
            int major = 0, minor = 0;
            if ((v->kind != BF_PTX_TOK_FLOAT && v->kind != BF_PTX_TOK_INT) ||
                sscanf(v->s, "%d.%d", &major, &minor) < 1)
                return bf_ptx_fail(L, BF_INVALID_ARG, t->line, "malformed .version");
            L->module->ptx_version = major * 10 + minor;
        } else if (is_dir(t, ".target")) {
            while (TOK(L, pos)->kind == BF_PTX_TOK_IDENT) {
                pos++;
                if (!bf_ptx_tok_is(TOK(L, pos), ','))
                    break;
                pos++;
            }
        } else if (is_dir(t, ".address_size")) {
            int64_t bits;
            if (parse_int(L, &pos, &bits) != BF_OK)
                return L->status;
            if (bits != 64)
                return bf_ptx_fail(L, BF_UNSUPPORTED, t->line, "unsupported .address_size %lld (only 64)",
                                   (long long)bits);
        } else if (is_dir(t, ".file") || is_dir(t, ".loc")) {
            pos--;
            skip_line(L, &pos);
        } else if (is_dir(t, ".section")) {
            /* Debug sections (-G, -lineinfo): skipped whole. */
            while (TOK(L, pos)->kind != BF_PTX_TOK_END && !bf_ptx_tok_is(TOK(L, pos), '{'))
                pos++;
            int depth = 0;
            do {
                const bf_ptx_tok_t *s = TOK(L, pos);
                if (s->kind == BF_PTX_TOK_END)
                    return bf_ptx_fail(L, BF_INVALID_ARG, t->line, ".section is not closed");
                if (bf_ptx_tok_is(s, '{'))
                    depth++;
                else if (bf_ptx_tok_is(s, '}'))
                    depth--;
                pos++;
            } while (depth > 0);
        } else if (is_dir(t, ".pragma")) {
            while (TOK(L, pos)->kind == BF_PTX_TOK_STRING || bf_ptx_tok_is(TOK(L, pos), ','))
                pos++;
            if (expect_punct(L, &pos, ';') != BF_OK)
                return L->status;
        } else if (is_dir(t, ".visible") || is_dir(t, ".weak") || is_dir(t, ".common")) {
            continue;
        } else if (is_dir(t, ".extern")) {
            is_extern = true;
            continue;
        } else if (is_dir(t, ".entry") || is_dir(t, ".func")) {
            if (parse_function(L, &pos, is_dir(t, ".entry")) != BF_OK)
                return L->status;
        } else if (is_dir(t, ".global") || is_dir(t, ".const") || is_dir(t, ".shared")) {
            bf_ptx_var_decl_t var;
            if (bf_ptx_parse_var(L, &pos, !is_dir(t, ".shared"), &var) != BF_OK)
                return L->status;
            bf_status_t status;
            if (is_dir(t, ".shared")) {
                status = add_shared(L, &var, is_extern);
            } else if (is_extern) {
                free(var.init);
                status = bf_ptx_fail(L, BF_UNSUPPORTED, t->line, "unsupported .extern variable '%.*s'",
                                     (int)var.name->len, var.name->s);
            } else {
                status = add_global(L, &var, is_dir(t, ".const"));
                if (status != BF_OK)
                    free(var.init);
            }
            if (status != BF_OK)
                return status;
            if (expect_punct(L, &pos, ';') != BF_OK)
                return L->status;
        } else {
            return bf_ptx_fail(L, BF_UNSUPPORTED, t->line, "unsupported directive '%.*s'", (int)t->len, t->s);
        }
        is_extern = false;
    }
    return BF_OK;
}

static void loader_fini(bf_ptx_loader_t *L)
{
    for (size_t i = 0; i < L->func_count; i++) {
        free(L->funcs[i].params);
        free(L->funcs[i].rets);
    }
    free(L->funcs);
    free(L->shared_vars);
    bf_ptx_map_fini(&L->syms);
}

bf_status_t bf_ptx_module_load(const char *ptx, size_t len, bf_ptx_module_t **module_p, char *err, size_t err_len)
{
    char dummy[1];
    if (!err || !err_len) {
        err = dummy;
        err_len = sizeof(dummy);
    }
    err[0] = '\0';
    if (!ptx || !module_p) {
        snprintf(err, err_len, "no PTX text");
        return BF_INVALID_ARG;
    }
    bf_ptx_loader_t L = {0};
    L.err = err;
    L.err_len = err_len;
    bf_ptx_tok_t *toks;
    size_t count;
    bf_status_t status = bf_ptx_lex(ptx, len, &toks, &count, err, err_len);
    if (status != BF_OK)
        return status;
    L.toks = toks;
    L.tok_count = count;
    L.module = calloc(1, sizeof(*L.module));
    if (!L.module) {
        status = BF_NO_MEMORY;
        goto err_free_toks;
    }
    status = bf_ptx_map_init(&L.syms, 256);
    if (status != BF_OK)
        goto err_free_module;
    status = parse_module(&L);
    if (status != BF_OK)
        goto err_fini;
    size_t entries = 0;
    for (size_t i = 0; i < L.func_count; i++)
        entries += L.funcs[i].is_entry && L.funcs[i].body_begin;
    L.module->kernels = calloc(entries ? entries : 1, sizeof(*L.module->kernels));
    if (!L.module->kernels) {
        status = BF_NO_MEMORY;
        goto err_fini;
    }
    for (size_t i = 0; i < L.func_count; i++) {
        if (!L.funcs[i].is_entry || !L.funcs[i].body_begin)
            continue;
        bf_ptx_kernel_t *kernel;
        status = bf_ptx_decode_kernel(&L, i, &kernel);
        if (status != BF_OK)
            goto err_fini;
        kernel->module = L.module;
        L.module->kernels[L.module->kernel_count++] = kernel;
    }
    loader_fini(&L);
    free(toks);
    *module_p = L.module;
    return BF_OK;

err_fini:
    if (status == BF_NO_MEMORY && !err[0])
        snprintf(err, err_len, "out of memory");
    loader_fini(&L);
err_free_module:
    bf_ptx_module_free(L.module);
err_free_toks:
    free(toks);
    return status;
}
