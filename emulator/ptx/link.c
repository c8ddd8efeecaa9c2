/*
 * link.c: links the PTX of several translation units (an -rdc=true program) into one module's
 * text, which bf_ptx_module_load then loads as any other.
 *
 * The units are joined at module scope, statement by statement:
 * - the first unit's .version/.target/.address_size stay, the others' are dropped;
 * - a module-scope name without linkage (no .visible/.extern/.weak/.common: file-static variables,
 *   string constants, static functions) is renamed to "<name>$tu<N>" in its unit, so units may
 *   reuse such names;
 * - an .extern .global/.const variable is dropped when another unit defines it (the loader then
 *   binds every use to that one definition), and is an error naming it when none does;
 * - an .extern .func declaration stays (the loader joins a declaration with its definition), an
 *   .extern .shared array is kept once;
 * - a .weak definition (inline and template functions nvcc emits in every unit) is kept once.
 * Everything else, every function body included, is copied as it is written.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "load.h"

typedef struct {
    size_t first, last;      /* token indexes, inclusive */
    const bf_ptx_tok_t *name;
    int kind;                /* STMT_* */
    bool is_extern, is_weak, is_local, has_body;
} stmt_t;

enum { STMT_HEADER, STMT_FUNC, STMT_VAR, STMT_SHARED, STMT_OTHER };

typedef struct {
    char *s;
    size_t len, cap;
    int failed;
} out_t;

static void put(out_t *o, const char *s, size_t n)
{
    if (o->failed)
        return;
    if (o->len + n + 1 > o->cap) {
        size_t cap = o->cap ? o->cap : 4096;
        while (cap < o->len + n + 1)
            cap *= 2;
        char *p = realloc(o->s, cap);
        if (!p) {
            o->failed = 1;
            return;
        }
        o->s = p;
        o->cap = cap;
    }
    memcpy(o->s + o->len, s, n);
    o->len += n;
    o->s[o->len] = '\0';
}

static int is_dir(const bf_ptx_tok_t *t, const char *s)
{
    return t->kind == BF_PTX_TOK_DIRECTIVE && bf_ptx_tok_eq(t, s);
}

static int same_name(const bf_ptx_tok_t *a, const bf_ptx_tok_t *b)
{
    return a && b && a->len == b->len && memcmp(a->s, b->s, a->len) == 0;
}

/* Splits one unit's tokens into module-scope statements. Returns the count, or -1 (malformed). */
static long split(const bf_ptx_tok_t *t, size_t n, stmt_t **stmts_p)
{
    size_t cap = 64, count = 0, i = 0;
    stmt_t *st = malloc(cap * sizeof(*st));
    if (!st)
        return -1;
    while (i < n && t[i].kind != BF_PTX_TOK_END) {
        if (count == cap) {
            stmt_t *g = realloc(st, 2 * cap * sizeof(*st));
            if (!g)
                goto err;
            st = g;
            cap *= 2;
        }
        stmt_t s = {.first = i, .kind = STMT_OTHER, .is_local = true};
        if (t[i].kind != BF_PTX_TOK_DIRECTIVE)
            goto err;
        while (is_dir(&t[i], ".visible") || is_dir(&t[i], ".extern") || is_dir(&t[i], ".weak") ||
               is_dir(&t[i], ".common")) {
            s.is_extern |= is_dir(&t[i], ".extern");
            s.is_weak |= is_dir(&t[i], ".weak") || is_dir(&t[i], ".common");
            s.is_local = false;
            i++;
        }
        const bf_ptx_tok_t *d = &t[i];
        if (is_dir(d, ".version") || is_dir(d, ".target") || is_dir(d, ".address_size")) {
            s.kind = STMT_HEADER;
            i++;
            while (i < n && t[i].kind != BF_PTX_TOK_END && t[i].kind != BF_PTX_TOK_DIRECTIVE)
                i++;
            s.last = i - 1;
        } else if (is_dir(d, ".section")) {
            /* Debug information: the whole braced block. */
            int brace = 0;
            for (i++; i < n && t[i].kind != BF_PTX_TOK_END; i++) {
                if (bf_ptx_tok_is(&t[i], '{'))
                    brace++;
                else if (bf_ptx_tok_is(&t[i], '}') && --brace == 0)
                    break;
            }
            if (i >= n || t[i].kind == BF_PTX_TOK_END)
                goto err;
            s.last = i++;
            s.is_local = false;
        } else if (is_dir(d, ".file") || is_dir(d, ".loc")) {
            s.is_local = false;
            uint32_t line = d->line;
            while (i < n && t[i].kind != BF_PTX_TOK_END && t[i].line == line)
                i++;
            s.last = i - 1;
        } else {
            int is_func = is_dir(d, ".func") || is_dir(d, ".entry");
            s.kind = is_func ? STMT_FUNC : is_dir(d, ".shared") ? STMT_SHARED
                     : (is_dir(d, ".global") || is_dir(d, ".const")) ? STMT_VAR : STMT_OTHER;
            if (is_dir(d, ".entry"))
                s.is_local = false; /* kernels are found by name */
            i++;
            int paren = 0, brace = 0;
            for (; i < n && t[i].kind != BF_PTX_TOK_END; i++) {
                if (!s.name && t[i].kind == BF_PTX_TOK_IDENT && paren == 0 && brace == 0)
                    s.name = &t[i];
                if (bf_ptx_tok_is(&t[i], '('))
                    paren++;
                else if (bf_ptx_tok_is(&t[i], ')'))
                    paren--;
                else if (bf_ptx_tok_is(&t[i], '{')) {
                    if (is_func && brace == 0 && paren == 0)
                        s.has_body = true;
                    brace++;
                } else if (bf_ptx_tok_is(&t[i], '}')) {
                    brace--;
                    if (brace == 0 && s.has_body)
                        break;
                } else if (bf_ptx_tok_is(&t[i], ';') && paren == 0 && brace == 0)
                    break;
            }
            if (i >= n || t[i].kind == BF_PTX_TOK_END)
                goto err;
            s.last = i++;
            if (s.kind != STMT_VAR && s.kind != STMT_SHARED && s.kind != STMT_FUNC)
                s.is_local = false;
        }
        st[count++] = s;
    }
    *stmts_p = st;
    return (long)count;

err:
    free(st);
    return -1;
}

typedef struct {
    bf_ptx_tok_t *toks;
    size_t ntok;
    stmt_t *stmts;
    long nstmt;
} unit_t;

/* Whether any unit defines name (a variable, or a function with a body), other than as .extern. */
static int defined_anywhere(const unit_t *u, size_t count, const bf_ptx_tok_t *name, int kind)
{
    for (size_t k = 0; k < count; k++)
        for (long j = 0; j < u[k].nstmt; j++) {
            const stmt_t *s = &u[k].stmts[j];
            if (s->kind == kind && !s->is_extern && !s->is_local && same_name(s->name, name) &&
                (kind != STMT_FUNC || s->has_body))
                return 1;
        }
    return 0;
}

bf_status_t bf_ptx_link(const char *const *texts, const size_t *lens, size_t count, char **out_p, size_t *out_len_p,
                        char *err, size_t err_len)
{
    bf_status_t status = BF_OK;
    out_t o = {0};
    unit_t *u = calloc(count ? count : 1, sizeof(*u));
    if (!u)
        return BF_NO_MEMORY;
    for (size_t k = 0; k < count && status == BF_OK; k++) {
        status = bf_ptx_lex(texts[k], lens[k], &u[k].toks, &u[k].ntok, err, err_len);
        if (status == BF_OK && (u[k].nstmt = split(u[k].toks, u[k].ntok, &u[k].stmts)) < 0) {
            snprintf(err, err_len, "translation unit %zu: malformed module-scope statement", k + 1);
            status = BF_INVALID_ARG;
        }
    }
    for (size_t k = 0; k < count && status == BF_OK; k++) {
        for (long j = 0; j < u[k].nstmt && status == BF_OK; j++) {
            const stmt_t *s = &u[k].stmts[j];
            if (s->kind == STMT_HEADER && k > 0)
                continue;
            int keep = 1;
            if (s->is_extern && s->kind == STMT_VAR) {
                if (!s->name || !defined_anywhere(u, count, s->name, STMT_VAR)) {
                    snprintf(err, err_len, "unresolved .extern variable '%.*s'", s->name ? (int)s->name->len : 0,
                             s->name ? s->name->s : "");
                    status = BF_NOT_FOUND;
                    break;
                }
                keep = 0;
            }
            /* The second .extern .shared array of a name, or a .weak definition already kept. */
            for (size_t k2 = 0; k2 <= k && keep && (s->is_weak || (s->is_extern && s->kind == STMT_SHARED)); k2++)
                for (long j2 = 0; j2 < (k2 == k ? j : u[k2].nstmt); j2++) {
                    const stmt_t *e = &u[k2].stmts[j2];
                    if (e->kind == s->kind && !e->is_local && same_name(e->name, s->name) &&
                        (s->kind != STMT_FUNC || (e->has_body && s->has_body))) {
                        keep = 0;
                        break;
                    }
                }
            if (!keep)
                continue;
            const bf_ptx_tok_t *t = u[k].toks;
            for (size_t i = s->first; i <= s->last; i++) {
                if (i > s->first)
                    put(&o, t[i - 1].s + t[i - 1].len, (size_t)(t[i].s - (t[i - 1].s + t[i - 1].len)));
                put(&o, t[i].s, t[i].len);
                if (t[i].kind != BF_PTX_TOK_IDENT)
                    continue;
                /* A name without linkage in this unit: made unique to it. */
                for (long j2 = 0; j2 < u[k].nstmt; j2++)
                    if (u[k].stmts[j2].is_local && same_name(u[k].stmts[j2].name, &t[i])) {
                        char suffix[32];
                        int sl = snprintf(suffix, sizeof(suffix), "$tu%zu", k + 1);
                        put(&o, suffix, (size_t)sl);
                        break;
                    }
            }
            put(&o, "\n", 1);
        }
    }
    if (status == BF_OK && o.failed)
        status = BF_NO_MEMORY;
    for (size_t k = 0; k < count; k++) {
        free(u[k].toks);
        free(u[k].stmts);
    }
    free(u);
    if (status != BF_OK) {
        free(o.s);
        return status;
    }
    *out_p = o.s;
    *out_len_p = o.len;
    return BF_OK;
}
