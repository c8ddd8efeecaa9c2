/* dispatch.c: the handler of every op, indexed by op id (ops.def). */
#include "handlers/handlers.h"

const bf_srv_handler_fn_t bf_srv_handlers[BF_OP_MAX_ID + 1] = {
    [BF_OP_HELLO]           = bf_srv_handle_hello,
    [BF_OP_HEARTBEAT]       = bf_srv_handle_heartbeat,
    [BF_OP_GOODBYE]         = bf_srv_handle_goodbye,
    [BF_OP_CTX_SYNCHRONIZE] = bf_srv_handle_ctx_synchronize,
    [BF_OP_CTX_RESET]       = bf_srv_handle_ctx_reset,
    [BF_OP_MEM_ALLOC]       = bf_srv_handle_mem_alloc,
    [BF_OP_MEM_ALLOC_PITCH] = bf_srv_handle_mem_alloc_pitch,
    [BF_OP_MEM_FREE]        = bf_srv_handle_mem_free,
    [BF_OP_MEM_GET_INFO]    = bf_srv_handle_mem_get_info,
    [BF_OP_MEMCPY_HTOD]     = bf_srv_handle_memcpy_htod,
    [BF_OP_MEMCPY_DTOH]     = bf_srv_handle_memcpy_dtoh,
    [BF_OP_MEMCPY_DTOD]     = bf_srv_handle_memcpy_dtod,
    [BF_OP_MEMCPY_2D_HTOD]  = bf_srv_handle_memcpy_2d_htod,
    [BF_OP_MEMCPY_2D_DTOH]  = bf_srv_handle_memcpy_2d_dtoh,
    [BF_OP_MEMCPY_2D_DTOD]  = bf_srv_handle_memcpy_2d_dtod,
    [BF_OP_MEMSET]          = bf_srv_handle_memset,
    [BF_OP_MEMSET_2D]       = bf_srv_handle_memset_2d,
};
