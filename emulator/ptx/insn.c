/*
 * insn.c: opcode modifiers and the table from instruction names to their decoders.
 *
 * An opcode token such as "ld.global.nc.v4.f32" splits into its base name and modifiers. Cache
 * hints (.ca .cg .cs .lu .cv, .nc, L1::/L2:: eviction and prefetch-size hints) have no meaning in
 * this engine and are dropped here; every other modifier must be consumed by the instruction's
 * decoder, and one that is not makes the load fail naming it (docs/ptx-engine.md lists both).
 */
#include <string.h>

#include "insn.h"

static const char *const mod_names[] = {
    "",
#define BF_PTX_MOD_NAME(name) #name,
    BF_PTX_MODS(BF_PTX_MOD_NAME)
#undef BF_PTX_MOD_NAME
};

/* Modifiers without meaning here: cache operators and hints. */
static int is_cache_hint(const char *s, size_t len)
{
    static const char *const hints[] = {"ca", "cg", "cs", "lu", "cv", "wb", "wt", "nc"};
    for (size_t i = 0; i < sizeof(hints) / sizeof(hints[0]); i++)
        if (strlen(hints[i]) == len && memcmp(hints[i], s, len) == 0)
            return 1;
    /* L1::evict_last, L2::evict_first, L2::64B, L2::cache_hint, ... */
    return len > 4 && (memcmp(s, "L1::", 4) == 0 || memcmp(s, "L2::", 4) == 0);
}

bf_status_t bf_ptx_mods_parse(bf_ptx_dec_t *D, const bf_ptx_tok_t *opcode, const char **base_p, size_t *base_len_p,
                              bf_ptx_mods_t *m)
{
    const char *s = opcode->s, *end = opcode->s + opcode->len;
    const char *dot = memchr(s, '.', opcode->len);
    *base_p = s;
    *base_len_p = dot ? (size_t)(dot - s) : opcode->len;
    memset(m, 0, sizeof(*m));
    while (dot && dot < end) {
        const char *p = dot + 1;
        dot = memchr(p, '.', (size_t)(end - p));
        size_t len = dot ? (size_t)(dot - p) : (size_t)(end - p);
        if (is_cache_hint(p, len))
            continue;
        if (m->count == BF_PTX_MAX_MODS)
            return bf_ptx_unsupported(D, "too many modifiers");
        int id = BF_PTX_M_UNKNOWN;
        bf_ptx_type_t t = bf_ptx_type_parse(p, len);
        if (t != BF_PTX_T_NONE) {
            id = BF_PTX_M_TYPE + (int)t;
        } else if (len == 11 && memcmp(p, "shared::cta", 11) == 0) {
            id = BF_PTX_M_shared;
        } else {
            for (size_t i = 1; i < sizeof(mod_names) / sizeof(mod_names[0]); i++)
                if (strlen(mod_names[i]) == len && memcmp(mod_names[i], p, len) == 0) {
                    id = (int)i;
                    break;
                }
        }
        m->id[m->count] = (uint16_t)id;
        m->s[m->count] = p;
        m->len[m->count] = (uint16_t)len;
        m->count++;
    }
    return BF_OK;
}

int bf_ptx_take(bf_ptx_mods_t *m, int id)
{
    for (int i = 0; i < m->count; i++)
        if (m->id[i] == id && !m->used[i]) {
            m->used[i] = 1;
            return 1;
        }
    return 0;
}

bf_ptx_type_t bf_ptx_take_type(bf_ptx_mods_t *m)
{
    for (int i = 0; i < m->count; i++)
        if (m->id[i] >= BF_PTX_M_TYPE && !m->used[i]) {
            m->used[i] = 1;
            return (bf_ptx_type_t)(m->id[i] - BF_PTX_M_TYPE);
        }
    return BF_PTX_T_NONE;
}

bf_ptx_type_t bf_ptx_need_type(bf_ptx_dec_t *D, bf_ptx_mods_t *m)
{
    bf_ptx_type_t t = bf_ptx_take_type(m);
    if (t == BF_PTX_T_NONE)
        bf_ptx_bad(D, "no type");
    return t;
}

bf_status_t bf_ptx_mods_done(bf_ptx_dec_t *D, bf_ptx_mods_t *m)
{
    for (int i = 0; i < m->count; i++)
        if (!m->used[i])
            return bf_ptx_unsupported(D, "modifier .%.*s", (int)m->len[i], m->s[i]);
    return BF_OK;
}

void bf_ptx_take_ordering(bf_ptx_mods_t *m)
{
    static const int ids[] = {BF_PTX_M_volatile, BF_PTX_M_relaxed, BF_PTX_M_acquire, BF_PTX_M_release,
                              BF_PTX_M_acq_rel, BF_PTX_M_weak, BF_PTX_M_cta, BF_PTX_M_gpu, BF_PTX_M_sys,
                              BF_PTX_M_cluster, BF_PTX_M_mmio};
    for (size_t i = 0; i < sizeof(ids) / sizeof(ids[0]); i++)
        while (bf_ptx_take(m, ids[i]))
            ;
}

bf_status_t bf_ptx_nopd(bf_ptx_dec_t *D, int n, int want_min, int want_max)
{
    if (n < want_min || n > want_max) {
        if (want_min == want_max)
            return bf_ptx_bad(D, "expects %d operands, has %d", want_min, n);
        return bf_ptx_bad(D, "expects %d to %d operands, has %d", want_min, want_max, n);
    }
    return BF_OK;
}

int bf_ptx_is_int(bf_ptx_type_t t)
{
    return (t >= BF_PTX_T_B8 && t <= BF_PTX_T_S64);
}

static const struct {
    const char *name;
    bf_ptx_insn_fn_t fn;
} insn_table[] = {
    {"add", bf_ptx_insn_add},     {"sub", bf_ptx_insn_sub},       {"mul", bf_ptx_insn_mul},
    {"mad", bf_ptx_insn_mad},     {"mul24", bf_ptx_insn_mul24},   {"mad24", bf_ptx_insn_mad24},
    {"fma", bf_ptx_insn_fma},     {"div", bf_ptx_insn_div},       {"rem", bf_ptx_insn_rem},
    {"min", bf_ptx_insn_min},     {"max", bf_ptx_insn_max},       {"neg", bf_ptx_insn_neg},
    {"abs", bf_ptx_insn_abs},     {"and", bf_ptx_insn_and},       {"or", bf_ptx_insn_or},
    {"xor", bf_ptx_insn_xor},     {"not", bf_ptx_insn_not},       {"cnot", bf_ptx_insn_cnot},
    {"shl", bf_ptx_insn_shl},     {"shr", bf_ptx_insn_shr},       {"popc", bf_ptx_insn_popc},
    {"clz", bf_ptx_insn_clz},     {"brev", bf_ptx_insn_brev},     {"bfe", bf_ptx_insn_bfe},
    {"bfi", bf_ptx_insn_bfi},     {"prmt", bf_ptx_insn_prmt},     {"lop3", bf_ptx_insn_lop3},
    {"setp", bf_ptx_insn_setp},   {"selp", bf_ptx_insn_selp},     {"mov", bf_ptx_insn_mov},
    {"cvt", bf_ptx_insn_cvt},     {"cvta", bf_ptx_insn_cvta},     {"rcp", bf_ptx_insn_rcp},
    {"sqrt", bf_ptx_insn_sqrt},   {"rsqrt", bf_ptx_insn_rsqrt},   {"ex2", bf_ptx_insn_ex2},
    {"lg2", bf_ptx_insn_lg2},     {"sin", bf_ptx_insn_sin},       {"cos", bf_ptx_insn_cos},
    {"tanh", bf_ptx_insn_tanh},   {"copysign", bf_ptx_insn_copysign}, {"testp", bf_ptx_insn_testp},
    {"ld", bf_ptx_insn_ld},       {"ldu", bf_ptx_insn_ldu},       {"st", bf_ptx_insn_st},
    {"atom", bf_ptx_insn_atom},   {"red", bf_ptx_insn_red},       {"bra", bf_ptx_insn_bra},
    {"ret", bf_ptx_insn_ret},     {"exit", bf_ptx_insn_exit},     {"trap", bf_ptx_insn_trap},
    {"brkpt", bf_ptx_insn_trap},  {"bar", bf_ptx_insn_bar},       {"barrier", bf_ptx_insn_barrier},
    {"membar", bf_ptx_insn_membar}, {"fence", bf_ptx_insn_fence}, {"shfl", bf_ptx_insn_shfl},
    {"vote", bf_ptx_insn_vote},   {"activemask", bf_ptx_insn_activemask},
    {"addc", bf_ptx_insn_addc},   {"subc", bf_ptx_insn_subc},     {"madc", bf_ptx_insn_madc},
    {"bfind", bf_ptx_insn_bfind}, {"shf", bf_ptx_insn_shf},       {"sad", bf_ptx_insn_sad},
    {"match", bf_ptx_insn_match}, {"redux", bf_ptx_insn_redux},   {"slct", bf_ptx_insn_slct},
    {"set", bf_ptx_insn_set},     {"fns", bf_ptx_insn_fns},
    {"vadd2", bf_ptx_insn_vadd2}, {"vsub2", bf_ptx_insn_vsub2},   {"vavrg2", bf_ptx_insn_vavrg2},
    {"vabsdiff2", bf_ptx_insn_vabsdiff2}, {"vmin2", bf_ptx_insn_vmin2}, {"vmax2", bf_ptx_insn_vmax2},
    {"vadd4", bf_ptx_insn_vadd4}, {"vsub4", bf_ptx_insn_vsub4},   {"vavrg4", bf_ptx_insn_vavrg4},
    {"vabsdiff4", bf_ptx_insn_vabsdiff4}, {"vmin4", bf_ptx_insn_vmin4}, {"vmax4", bf_ptx_insn_vmax4},
    /* No effect in an interpreter: hints and timing. */
    {"prefetch", bf_ptx_insn_nothing}, {"prefetchu", bf_ptx_insn_nothing},
    {"nanosleep", bf_ptx_insn_nothing}, {"pmevent", bf_ptx_insn_nothing},
};

int bf_ptx_insn_known(const char *base, size_t base_len)
{
    if (base_len == 4 && memcmp(base, "call", 4) == 0)
        return 1;
    for (size_t i = 0; i < sizeof(insn_table) / sizeof(insn_table[0]); i++)
        if (strlen(insn_table[i].name) == base_len && memcmp(insn_table[i].name, base, base_len) == 0)
            return 1;
    return 0;
}

bf_status_t bf_ptx_decode_insn(bf_ptx_dec_t *D, const char *base, size_t base_len, bf_ptx_mods_t *mods,
                               bf_ptx_opd_t *opds, int nopd)
{
    for (size_t i = 0; i < sizeof(insn_table) / sizeof(insn_table[0]); i++) {
        if (strlen(insn_table[i].name) != base_len || memcmp(insn_table[i].name, base, base_len) != 0)
            continue;
        if (insn_table[i].fn(D, mods, opds, nopd) != BF_OK)
            return D->L->status;
        return bf_ptx_mods_done(D, mods);
    }
    return bf_ptx_unsupported(D, "%s", "");
}
