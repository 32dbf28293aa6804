/* The op table, keyed by stable op id (designated initialisers, so the
 * order of DC_OP_LIST does not matter). */
#include "../core/internal.h"
#include "op_list.h"

/* dc__unary_backward serves several ids and is declared once. */
#define DECLARE_ONCE(id, name, fn) DC_DECLARE_BACKWARD(id, name, fn)
DC_OP_LIST(DECLARE_ONCE)

#define ENTRY(id, opname, fn) [id] = {opname, fn},
static const dc_op_def op_table[DC_OP_ID_LIMIT] = {DC_OP_LIST(ENTRY)};

const dc_op_def *dc__op_def(int id) {
    if (id <= 0 || id >= DC_OP_ID_LIMIT || op_table[id].name == NULL) return NULL;
    return &op_table[id];
}
