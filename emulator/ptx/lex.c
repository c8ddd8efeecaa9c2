/*
 * lex.c: the PTX tokenizer.
 *
 * PTX as nvcc writes it, and as fatbins carry it (minified: no comments, no indentation, NUL at
 * the end). Opcodes and their modifiers stay one token ("ld.global.nc.v4.f32"), as do register
 * names with a component ("%tid.x") and cache-eviction hints ("L2::evict_last"); the decoder splits
 * them at the dots.
 */
#include "lex.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int is_ident_start(int c)
{
    return isalpha(c) || c == '_' || c == '$' || c == '%';
}

static int is_ident_char(int c)
{
    return isalnum(c) || c == '_' || c == '$' || c == '.';
}

int bf_ptx_tok_eq(const bf_ptx_tok_t *t, const char *s)
{
    size_t n = strlen(s);
    return t->len == n && memcmp(t->s, s, n) == 0;
}

static int hex_value(int c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

/* Reads a numeric literal starting at p; fills the token's kind and value, returns its length or
 * 0 when it is malformed. */
static size_t lex_number(const char *p, const char *end, bf_ptx_tok_t *t)
{
    const char *q = p;
    if (end - p > 2 && p[0] == '0' && (p[1] == 'f' || p[1] == 'F' || p[1] == 'd' || p[1] == 'D')) {
        size_t digits = (p[1] == 'f' || p[1] == 'F') ? 8 : 16;
        if ((size_t)(end - p) < 2 + digits)
            return 0;
        uint64_t v = 0;
        for (size_t i = 0; i < digits; i++) {
            int h = hex_value((unsigned char)p[2 + i]);
            if (h < 0)
                return 0;
            v = v << 4 | (uint64_t)h;
        }
        t->kind = BF_PTX_TOK_FLOAT;
        t->fform = digits == 8 ? BF_PTX_FLT_BITS32 : BF_PTX_FLT_BITS64;
        t->ival = v;
        return 2 + digits;
    }
    if (end - p > 2 && p[0] == '0' && (p[1] == 'x' || p[1] == 'X')) {
        uint64_t v = 0;
        q = p + 2;
        if (q >= end || hex_value((unsigned char)*q) < 0)
            return 0;
        while (q < end && hex_value((unsigned char)*q) >= 0)
            v = v << 4 | (uint64_t)hex_value((unsigned char)*q++);
        if (q < end && (*q == 'U' || *q == 'u'))
            q++;
        t->kind = BF_PTX_TOK_INT;
        t->ival = v;
        return (size_t)(q - p);
    }
    if (end - p > 2 && p[0] == '0' && (p[1] == 'b' || p[1] == 'B') && (p[2] == '0' || p[2] == '1')) {
        uint64_t v = 0;
        q = p + 2;
        while (q < end && (*q == '0' || *q == '1'))
            v = v << 1 | (uint64_t)(*q++ - '0');
        if (q < end && (*q == 'U' || *q == 'u'))
            q++;
        t->kind = BF_PTX_TOK_INT;
        t->ival = v;
        return (size_t)(q - p);
    }
    /* Decimal (or octal with a leading 0), possibly a decimal float. */
    while (q < end && isdigit((unsigned char)*q))
        q++;
    int is_float = 0;
    if (q < end && *q == '.' && q + 1 < end && isdigit((unsigned char)q[1])) {
        is_float = 1;
        q++;
        while (q < end && isdigit((unsigned char)*q))
            q++;
    }
    if (q < end && (*q == 'e' || *q == 'E')) {
        const char *r = q + 1;
        if (r < end && (*r == '+' || *r == '-'))
            r++;
        if (r < end && isdigit((unsigned char)*r)) {
            is_float = 1;
            q = r;
            while (q < end && isdigit((unsigned char)*q))
                q++;
        }
    }
    char buf[64];
    size_t n = (size_t)(q - p);
    if (n == 0 || n >= sizeof(buf))
        return 0;
    memcpy(buf, p, n);
    buf[n] = '\0';
    if (is_float) {
        t->kind = BF_PTX_TOK_FLOAT;
        t->fform = BF_PTX_FLT_DECIMAL;
        t->fval = strtod(buf, NULL);
    } else {
        t->kind = BF_PTX_TOK_INT;
        t->ival = strtoull(buf, NULL, buf[0] == '0' && n > 1 ? 8 : 10);
        if (q < end && (*q == 'U' || *q == 'u'))
            q++;
    }
    return (size_t)(q - p);
}

bf_status_t bf_ptx_lex(const char *text, size_t len, bf_ptx_tok_t **toks_p, size_t *count_p, char *err,
                       size_t err_len)
{
    const char *end = memchr(text, '\0', len);
    if (!end)
        end = text + len;
    size_t cap = 1024, count = 0;
    bf_ptx_tok_t *toks = malloc(cap * sizeof(*toks));
    if (!toks)
        return BF_NO_MEMORY;
    uint32_t line = 1;
    const char *p = text;
    for (;;) {
        /* Skip white space and comments, counting lines. */
        while (p < end) {
            if (*p == '\n') {
                line++;
                p++;
            } else if (isspace((unsigned char)*p)) {
                p++;
            } else if (p + 1 < end && p[0] == '/' && p[1] == '/') {
                while (p < end && *p != '\n')
                    p++;
            } else if (p + 1 < end && p[0] == '/' && p[1] == '*') {
                const char *q = p + 2;
                while (q + 1 < end && !(q[0] == '*' && q[1] == '/')) {
                    if (*q == '\n')
                        line++;
                    q++;
                }
                if (q + 1 >= end) {
                    snprintf(err, err_len, "line %u: unterminated comment", line);
                    goto err_free;
                }
                p = q + 2;
            } else {
                break;
            }
        }
        if (count + 1 >= cap) {
            cap *= 2;
            bf_ptx_tok_t *grown = realloc(toks, cap * sizeof(*toks));
            if (!grown) {
                free(toks);
                return BF_NO_MEMORY;
            }
            toks = grown;
        }
        bf_ptx_tok_t *t = &toks[count];
        memset(t, 0, sizeof(*t));
        t->line = line;
        t->s = p;
        if (p >= end) {
            t->kind = BF_PTX_TOK_END;
            count++;
            break;
        }
        size_t n;
        int c = (unsigned char)*p;
        if (is_ident_start(c)) {
            const char *q = p + 1;
            for (;;) {
                while (q < end && is_ident_char((unsigned char)*q))
                    q++;
                /* Eviction hints such as L2::evict_last belong to the opcode token. */
                if (q + 2 < end && q[0] == ':' && q[1] == ':' && is_ident_char((unsigned char)q[2])) {
                    q += 2;
                    continue;
                }
                break;
            }
            t->kind = BF_PTX_TOK_IDENT;
            n = (size_t)(q - p);
        } else if (c == '.' && p + 1 < end && (isalpha((unsigned char)p[1]) || p[1] == '_')) {
            const char *q = p + 1;
            while (q < end && (isalnum((unsigned char)*q) || *q == '_' || *q == '$'))
                q++;
            t->kind = BF_PTX_TOK_DIRECTIVE;
            n = (size_t)(q - p);
        } else if (isdigit(c)) {
            n = lex_number(p, end, t);
            if (n == 0) {
                snprintf(err, err_len, "line %u: malformed number", line);
                goto err_free;
            }
        } else if (c == '"') {
            const char *q = p + 1;
            while (q < end && *q != '"' && *q != '\n') {
                if (*q == '\\' && q + 1 < end)
                    q++;
                q++;
            }
            if (q >= end || *q != '"') {
                snprintf(err, err_len, "line %u: unterminated string", line);
                goto err_free;
            }
            t->kind = BF_PTX_TOK_STRING;
            n = (size_t)(q + 1 - p);
        } else if (strchr(",;:{}[]()<>+-!|@=*/&^~?", c)) {
            t->kind = BF_PTX_TOK_PUNCT;
            n = 1;
        } else {
            snprintf(err, err_len, "line %u: unexpected character '%c'", line, isprint(c) ? c : '?');
            goto err_free;
        }
        if (n > UINT16_MAX) {
            snprintf(err, err_len, "line %u: token too long", line);
            goto err_free;
        }
        t->len = (uint16_t)n;
        p += n;
        count++;
    }
    *toks_p = toks;
    *count_p = count;
    return BF_OK;

err_free:
    free(toks);
    return BF_INVALID_ARG;
}
