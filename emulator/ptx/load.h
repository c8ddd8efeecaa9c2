/*
 * load.h: what the module parser (parse.c), the kernel decoder (decode.c) and the instruction
 * decoders (insn_*.c) share while a module loads. Nothing here outlives bf_ptx_module_load.
 */
#ifndef BF_PTX_LOAD_H
#define BF_PTX_LOAD_H

#include <stdarg.h>

#include "lex.h"
#include "ptx_ir.h"

/* --- a small map from names (or byte keys) to 32-bit values, with shadowing for nested scopes ---- */
typedef struct {
    const char *key;
    uint32_t len;
    uint32_t value;
    int32_t next; /* next entry in the bucket */
    uint32_t bucket;
} bf_ptx_map_entry_t;

typedef struct {
    int32_t *buckets;
    uint32_t bucket_count;
    bf_ptx_map_entry_t *entries;
    uint32_t count, cap;
} bf_ptx_map_t;

bf_status_t bf_ptx_map_init(bf_ptx_map_t *map, uint32_t buckets);
void bf_ptx_map_fini(bf_ptx_map_t *map);
/* Adds key → value; a later add of the same key shadows it until bf_ptx_map_truncate. */
bf_status_t bf_ptx_map_add(bf_ptx_map_t *map, const char *key, uint32_t len, uint32_t value);
/* 1 and *value_p when found (the newest entry of that key), else 0. */
int bf_ptx_map_get(const bf_ptx_map_t *map, const char *key, uint32_t len, uint32_t *value_p);
/* Removes the entries added after the map had mark entries (closing a scope). */
void bf_ptx_map_truncate(bf_ptx_map_t *map, uint32_t mark);

/* --- PTX data types -------------------------------------------------------------------------- */
typedef enum {
    BF_PTX_T_NONE,
    BF_PTX_T_B8, BF_PTX_T_B16, BF_PTX_T_B32, BF_PTX_T_B64,
    BF_PTX_T_U8, BF_PTX_T_U16, BF_PTX_T_U32, BF_PTX_T_U64,
    BF_PTX_T_S8, BF_PTX_T_S16, BF_PTX_T_S32, BF_PTX_T_S64,
    BF_PTX_T_F16, BF_PTX_T_F16X2, BF_PTX_T_BF16, BF_PTX_T_BF16X2, BF_PTX_T_F32, BF_PTX_T_F64,
    BF_PTX_T_PRED, BF_PTX_T_B128,
} bf_ptx_type_t;

/* Parses ".u32" or "u32" (len bytes). Returns BF_PTX_T_NONE when it is not a type. */
bf_ptx_type_t bf_ptx_type_parse(const char *s, size_t len);
unsigned bf_ptx_type_bits(bf_ptx_type_t t);
int bf_ptx_type_is_signed(bf_ptx_type_t t);
int bf_ptx_type_is_float(bf_ptx_type_t t);
const char *bf_ptx_type_name(bf_ptx_type_t t);

/* --- module-level symbols -------------------------------------------------------------------- */
typedef enum {
    BF_PTX_MSYM_GLOBAL,  /* .global/.const variable: index into module->globals */
    BF_PTX_MSYM_SHARED,  /* module-scope .shared variable: index into loader->shared_vars */
    BF_PTX_MSYM_FUNC,    /* .func: index into loader->funcs */
    BF_PTX_MSYM_ENTRY,   /* .entry: index into loader->entries */
} bf_ptx_msym_kind_t;

#define BF_PTX_MSYM(kind, index) ((uint32_t)(kind) << 28 | (uint32_t)(index))
#define BF_PTX_MSYM_KIND(v) ((v) >> 28)
#define BF_PTX_MSYM_INDEX(v) ((v) & 0x0fffffffu)

typedef struct {
    const bf_ptx_tok_t *name;
    size_t size, align;
    bool is_extern;      /* extern .shared x[]: the dynamic shared array */
} bf_ptx_shared_var_t;

/* A .param declaration (kernel parameter, function parameter or return value). */
typedef struct {
    const bf_ptx_tok_t *name;
    bf_ptx_type_t type;
    size_t size, align;
} bf_ptx_param_decl_t;

/* A .entry or .func: where its pieces are in the token array. */
typedef struct {
    const bf_ptx_tok_t *name;
    bf_ptx_param_decl_t *params;
    size_t param_count;
    bf_ptx_param_decl_t *rets;   /* .func only */
    size_t ret_count;
    size_t body_begin, body_end; /* token indexes of '{' and the matching '}'; 0 when declared only */
    int maxntid[3], reqntid[3];
    bool is_entry;
} bf_ptx_func_t;

typedef struct {
    const bf_ptx_tok_t *toks;
    size_t tok_count;
    bf_ptx_module_t *module;
    bf_ptx_map_t syms;              /* module-scope names → BF_PTX_MSYM */
    bf_ptx_shared_var_t *shared_vars;
    size_t shared_var_count, shared_var_cap;
    bf_ptx_func_t *funcs;
    size_t func_count, func_cap;
    char *err;
    size_t err_len;
    bf_status_t status;             /* the first failure */
} bf_ptx_loader_t;

/* Records the first error ("line N: " + message) and returns status. */
bf_status_t bf_ptx_fail(bf_ptx_loader_t *L, bf_status_t status, uint32_t line, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

/* Decodes the index-th function (a .entry) into a kernel. */
bf_status_t bf_ptx_decode_kernel(bf_ptx_loader_t *L, size_t func_index, bf_ptx_kernel_t **kernel_p);

/* Parses "[.align N] .type name[dims] [= init]" of a variable declaration starting at *pos. Used
 * for module globals, .shared/.local variables and .param declarations. init/init_size only for
 * module globals (NULL otherwise). */
typedef struct {
    const bf_ptx_tok_t *name;
    bf_ptx_type_t type;
    size_t elem_size, count, align;
    bool unsized;        /* name[] */
    uint8_t *init;       /* malloc'ed initial bytes or NULL */
} bf_ptx_var_decl_t;
bf_status_t bf_ptx_parse_var(bf_ptx_loader_t *L, size_t *pos, bool allow_init, bf_ptx_var_decl_t *var_p);

#endif
