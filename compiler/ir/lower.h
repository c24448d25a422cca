/* lower.h — a checked AST becomes a graph: literals become CONST nodes, names resolve to
 * the nodes they were bound to, calls to built-ins become primitives, grad(y, w) becomes a
 * GRAD node that autodiff replaces. */
#ifndef NNC_LOWER_H
#define NNC_LOWER_H

#include "ast/ast.h"
#include "ir/ir.h"

/* The program must have passed sema_check without errors. Lowering covers top-level tensor
 * statements (docs/language.md §3-§7 on tensors); for anything else it reports what it
 * cannot compile yet in `diags` and returns NULL. */
IrGraph *lower_program(const AstNode *program, DiagSink *diags);

#endif
