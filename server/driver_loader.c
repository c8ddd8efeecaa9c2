/* driver_loader.c: dlopen the driver and resolve the worker's entry points through it. */
#include "driver_loader.h"

#include <dlfcn.h>
#include <stddef.h>
#include <string.h>

#include "bf_log.h"

typedef struct {
    const char *name;  /* base name asked of cuGetProcAddress_v2 */
    size_t offset;     /* slot in bf_srv_driver_t */
} entry_row_t;

static const entry_row_t entry_rows[] = {
#define ENTRY_ROW(slot, pfn) {"cu" #slot, offsetof(bf_srv_driver_t, slot)},
    BF_SRV_DRIVER_ENTRIES(ENTRY_ROW)
#undef ENTRY_ROW
};

bf_status_t bf_srv_driver_load(const char *path, bf_srv_driver_t *drv)
{
    bf_srv_driver_t loaded = {0};
    PFN_cuGetProcAddress_v12000 get_proc;
    size_t missing = 0;

    loaded.library = dlopen(path, RTLD_NOW | RTLD_LOCAL);
    if (loaded.library == NULL) {
        bf_log_error("cannot load driver %s: %s", path, dlerror());
        return BF_UNREACHABLE;
    }
    /* The only symbol taken by name: everything else comes from the driver's own resolver. */
    get_proc = (PFN_cuGetProcAddress_v12000)dlsym(loaded.library, "cuGetProcAddress_v2");
    if (get_proc == NULL) {
        bf_log_error("driver %s has no cuGetProcAddress_v2: %s", path, dlerror());
        dlclose(loaded.library);
        return BF_UNREACHABLE;
    }
    for (size_t i = 0; i < sizeof(entry_rows) / sizeof(entry_rows[0]); i++) {
        CUdriverProcAddressQueryResult found = CU_GET_PROC_ADDRESS_SYMBOL_NOT_FOUND;
        void *fn = NULL;
        CUresult res = get_proc(entry_rows[i].name, &fn, BF_SRV_DRIVER_API_VERSION,
                                CU_GET_PROC_ADDRESS_DEFAULT, &found);

        /* A driver may say "missing" by an error or by success with a NULL pointer: take both. */
        if (res != CUDA_SUCCESS || found != CU_GET_PROC_ADDRESS_SUCCESS || fn == NULL) {
            bf_log_debug("driver lacks %s (result %d, query result %d): its ops answer "
                         "CUDA_ERROR_NOT_SUPPORTED", entry_rows[i].name, (int)res, (int)found);
            missing++;
            continue;
        }
        memcpy((char *)&loaded + entry_rows[i].offset, &fn, sizeof(fn));
    }
    bf_log_debug("driver %s: %zu of %zu entry points resolved", path,
                 sizeof(entry_rows) / sizeof(entry_rows[0]) - missing,
                 sizeof(entry_rows) / sizeof(entry_rows[0]));
    *drv = loaded;
    return BF_OK;
}
