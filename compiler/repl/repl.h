/* repl.h — `nnc repl`: the interactive session (docs/repl.md). */
#ifndef NNC_REPL_H
#define NNC_REPL_H

#include "util/diag.h"

typedef struct ReplOptions {
    const char *stdlib_dir;    /* NULL: no standard library (no `import std` at start) */
    const char *search_path;   /* NNC_PATH */
    DiagColor color;
} ReplOptions;

/* Reads entries from stdin until end of input or :quit; with a terminal, with line
 * editing, prompts and history (~/.nnc_history). Returns the exit status. */
int repl_main(const ReplOptions *o);

#endif
