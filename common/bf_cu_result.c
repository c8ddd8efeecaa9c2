#include "bf_cu_result.h"

#include <stddef.h>

typedef struct {
    CUresult result;
    const char *name;
    const char *text;
} cu_result_row_t;

/* Values are sparse (0..999), so a short sorted table and a linear scan beat an indexed array. */
static const cu_result_row_t cu_result_rows[] = {
#define BF_CU_RESULT_ROW(value, text) {value, #value, text},
    BF_CU_RESULT_MAP(BF_CU_RESULT_ROW)
#undef BF_CU_RESULT_ROW
};

static const cu_result_row_t *find_row(CUresult result)
{
    for (size_t i = 0; i < sizeof(cu_result_rows) / sizeof(cu_result_rows[0]); i++) {
        if (cu_result_rows[i].result == result)
            return &cu_result_rows[i];
    }
    return NULL;
}

const char *bf_cu_result_name(CUresult result)
{
    const cu_result_row_t *row = find_row(result);

    return row != NULL ? row->name : NULL;
}

const char *bf_cu_result_text(CUresult result)
{
    const cu_result_row_t *row = find_row(result);

    return row != NULL ? row->text : NULL;
}
