/* test_handlers.c: every live op of ops.def has a handler, and nothing else has one. */
#include <stdio.h>

#include "handlers/handlers.h"

int main(void)
{
    int failures = 0;

    for (size_t i = 0; i < bf_proto_op_count; i++) {
        const bf_proto_op_desc_t *op = &bf_proto_ops[i];
        if (op->mode != BF_RETIRED && bf_srv_handlers[op->id] == NULL) {
            fprintf(stderr, "op %s (%u) has no handler in server/dispatch.c\n", op->name, op->id);
            failures++;
        }
    }
    for (unsigned id = 0; id <= BF_OP_MAX_ID; id++) {
        if (bf_srv_handlers[id] != NULL && bf_proto_op((uint16_t)id) == NULL) {
            fprintf(stderr, "id %u has a handler but is not a live op of ops.def\n", id);
            failures++;
        }
    }
    if (failures == 0)
        printf("all %zu ops have handlers\n", bf_proto_op_count);
    return failures == 0 ? 0 : 1;
}
