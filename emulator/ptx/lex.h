/*
 * lex.h: the PTX tokenizer. The whole text is split into an array of tokens once; the loader then
 * walks that array (function bodies more than once when calls are inlined).
 */
#ifndef BF_PTX_LEX_H
#define BF_PTX_LEX_H

#include <stddef.h>
#include <stdint.h>

#include "bf_status.h"

typedef enum {
    BF_PTX_TOK_END,       /* end of text */
    BF_PTX_TOK_IDENT,     /* names, opcodes with their modifiers (ld.global.u32), %registers */
    BF_PTX_TOK_DIRECTIVE, /* .reg, .u32, .align, ... (the text includes the dot) */
    BF_PTX_TOK_INT,       /* integer literal; value in ival */
    BF_PTX_TOK_FLOAT,     /* 0f/0d bit patterns or decimal floating literal; value in fval or bits */
    BF_PTX_TOK_STRING,    /* "..." (text includes the quotes) */
    BF_PTX_TOK_PUNCT,     /* one character: , ; : { } [ ] ( ) < > + - ! | @ = */
} bf_ptx_tok_kind_t;

/* Float literal forms. */
#define BF_PTX_FLT_DECIMAL 0 /* fval holds the value */
#define BF_PTX_FLT_BITS32 1  /* 0fXXXXXXXX: ival holds the 32 bits */
#define BF_PTX_FLT_BITS64 2  /* 0dXXXXXXXXXXXXXXXX: ival holds the 64 bits */

typedef struct {
    uint8_t kind;
    uint8_t fform;    /* BF_PTX_FLT_* for FLOAT tokens */
    uint16_t len;
    uint32_t line;
    const char *s;    /* into the module text */
    uint64_t ival;
    double fval;
} bf_ptx_tok_t;

/*
 * Tokenizes text (up to len bytes or the first NUL).
 * toks_p  out  a malloc'ed array ending in a BF_PTX_TOK_END token
 * count_p out  number of tokens, the END token included
 * err     out  "line N: ..." on failure
 * Returns BF_OK, BF_INVALID_ARG (a character PTX does not use, an unterminated string or comment)
 * or BF_NO_MEMORY.
 */
bf_status_t bf_ptx_lex(const char *text, size_t len, bf_ptx_tok_t **toks_p, size_t *count_p, char *err,
                       size_t err_len);

/* 1 when a token is the punctuation character c / the exact text s. */
static inline int bf_ptx_tok_is(const bf_ptx_tok_t *t, char c)
{
    return t->kind == BF_PTX_TOK_PUNCT && t->s[0] == c;
}

int bf_ptx_tok_eq(const bf_ptx_tok_t *t, const char *s);

#endif
