/*
 * module.c: the accessors of a loaded module and its kernels, and freeing them.
 */
#include <stdlib.h>
#include <string.h>

#include "ptx_ir.h"

void bf_ptx_kernel_free(bf_ptx_kernel_t *kernel)
{
    if (!kernel)
        return;
    free(kernel->name);
    free(kernel->params);
    free(kernel->code);
    free(kernel->const_image);
    free(kernel->global_refs);
    free(kernel->funcs);
    free(kernel->func_map);
    free(kernel);
}

void bf_ptx_module_free(bf_ptx_module_t *module)
{
    if (!module)
        return;
    for (size_t i = 0; i < module->kernel_count; i++)
        bf_ptx_kernel_free(module->kernels[i]);
    free(module->kernels);
    for (size_t i = 0; i < module->global_count; i++) {
        free(module->globals[i].name);
        free(module->globals[i].init);
    }
    free(module->globals);
    free(module);
}

size_t bf_ptx_module_kernel_count(const bf_ptx_module_t *module)
{
    return module->kernel_count;
}

const bf_ptx_kernel_t *bf_ptx_module_kernel(const bf_ptx_module_t *module, size_t index)
{
    return index < module->kernel_count ? module->kernels[index] : NULL;
}

const bf_ptx_kernel_t *bf_ptx_module_find_kernel(const bf_ptx_module_t *module, const char *name)
{
    for (size_t i = 0; i < module->kernel_count; i++)
        if (strcmp(module->kernels[i]->name, name) == 0)
            return module->kernels[i];
    return NULL;
}

const char *bf_ptx_kernel_name(const bf_ptx_kernel_t *kernel)
{
    return kernel->name;
}

size_t bf_ptx_kernel_param_count(const bf_ptx_kernel_t *kernel)
{
    return kernel->param_count;
}

void bf_ptx_kernel_param(const bf_ptx_kernel_t *kernel, size_t index, size_t *offset_p, size_t *size_p)
{
    size_t offset = 0, size = 0;
    if (index < kernel->param_count) {
        offset = kernel->params[index].offset;
        size = kernel->params[index].size;
    }
    if (offset_p)
        *offset_p = offset;
    if (size_p)
        *size_p = size;
}

size_t bf_ptx_kernel_param_bytes(const bf_ptx_kernel_t *kernel)
{
    return kernel->param_bytes;
}

void bf_ptx_kernel_attrs(const bf_ptx_kernel_t *kernel, bf_ptx_kernel_attrs_t *attrs_p)
{
    memset(attrs_p, 0, sizeof(*attrs_p));
    attrs_p->static_shared_bytes = kernel->static_shared_bytes;
    attrs_p->local_bytes = kernel->local_bytes;
    attrs_p->const_bytes = kernel->module ? kernel->module->const_bytes : 0;
    attrs_p->max_threads_per_block = kernel->max_threads;
    attrs_p->num_regs = kernel->num_regs;
    attrs_p->ptx_version = kernel->module ? kernel->module->ptx_version : 0;
    attrs_p->uses_printf = (kernel->builtins >> BF_PTX_BI_VPRINTF) & 1;
    attrs_p->uses_malloc = (kernel->builtins & (1u << BF_PTX_BI_MALLOC | 1u << BF_PTX_BI_FREE)) != 0;
}

size_t bf_ptx_kernel_op_count(const bf_ptx_kernel_t *kernel)
{
    return kernel->code_len;
}

size_t bf_ptx_module_global_count(const bf_ptx_module_t *module)
{
    return module->global_count;
}

void bf_ptx_module_global(const bf_ptx_module_t *module, size_t index, const char **name_p, size_t *size_p,
                          const void **init_p, int *is_const_p)
{
    const bf_ptx_global_t *g = index < module->global_count ? &module->globals[index] : NULL;
    if (name_p)
        *name_p = g ? g->name : NULL;
    if (size_p)
        *size_p = g ? g->size : 0;
    if (init_p)
        *init_p = g ? g->init : NULL;
    if (is_const_p)
        *is_const_p = g ? g->is_const : 0;
}

void bf_ptx_module_bind_global(bf_ptx_module_t *module, size_t index, uint64_t device_address)
{
    if (index < module->global_count)
        __atomic_store_n(&module->globals[index].address, device_address, __ATOMIC_RELEASE);
}
