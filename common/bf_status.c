#include "bf_status.h"

const char *bf_status_str(bf_status_t status)
{
    switch (status) {
#define BF_STATUS_STR_ROW(name, code, text, cu) case BF_##name: return text;
    BF_STATUS_MAP(BF_STATUS_STR_ROW)
#undef BF_STATUS_STR_ROW
    }
    return "unknown status";
}

const char *bf_status_name(bf_status_t status)
{
    switch (status) {
#define BF_STATUS_NAME_ROW(name, code, text, cu) case BF_##name: return #name;
    BF_STATUS_MAP(BF_STATUS_NAME_ROW)
#undef BF_STATUS_NAME_ROW
    }
    return "UNKNOWN";
}

CUresult bf_status_to_cu(bf_status_t status)
{
    switch (status) {
#define BF_STATUS_CU_ROW(name, code, text, cu) case BF_##name: return cu;
    BF_STATUS_MAP(BF_STATUS_CU_ROW)
#undef BF_STATUS_CU_ROW
    }
    return CUDA_ERROR_UNKNOWN;
}
