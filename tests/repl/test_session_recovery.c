/* test_session_recovery.c — an entry stopped at any allocation leaves the session as it
 * was (sema_session_abandon, util_set_recovery: what the REPL does on an internal error or
 * a failed allocation in the parent, docs/repl.md).
 *
 * For n = 1, 2, ...: the nth allocation of one entry fails, with a recovery point set as
 * the REPL sets one; the entry is abandoned, and then the session must still know x and f
 * as earlier entries left them, not know what the failed entry defined, and take another
 * entry. The sweep ends at the first n past the entry's allocations (it then succeeds);
 * it must have failed at every n before. Slots are never filled: no entry runs, only
 * checks and traces (the REPL's child runs them). */
#include "sema/sema.h"
#include "util/util.h"

#include <setjmp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* An entry abandoned midway leaks what the frames it jumped out of held (a vector, a
 * map): the REPL accepts that for an internal error or an allocation that failed. So no
 * leak report in sanitizer builds (LeakSanitizer reads this hook). */
int __lsan_is_turned_off(void);
int __lsan_is_turned_off(void) { return 1; }

static DiagSink diags;
static SemaSession *session;
static SemaEntry entry; /* static: the longjmp leaves it as the failure left it */
static jmp_buf at;
static int problems;

static void expect(bool ok, const char *what, long n)
{
    if (!ok) {
        fprintf(stderr, "FAIL (allocation %ld failed): %s\n", n, what);
        diag_print(&diags, stderr);
        problems++;
    }
    diag_clear(&diags);
}

/* Checks and traces text; commits it when `commit`. */
static bool run(const char *text, SemaEntryKind kind, bool commit)
{
    if (!sema_session_begin(session, "<input>", text, kind, &entry))
        return false;
    sema_session_end(session, &entry, commit);
    return true;
}

/* The type of expr, checked against the session ("" on an error). */
static const char *type_of(const char *expr)
{
    static char type[128];
    type[0] = '\0';
    if (sema_session_begin(session, "<input>", expr, SEMA_ENTRY_CHECK, &entry)) {
        snprintf(type, sizeof type, "%s", entry.type);
        sema_session_end(session, &entry, false);
    }
    return type;
}

int main(int argc, char **argv)
{
    if (argc != 2) {
        fputs("usage: test_session_recovery STDLIB_DIR\n", stderr);
        return 2;
    }
    diag_init(&diags);
    session = sema_session_new(argv[1], NULL, &diags);
    expect(run("import std\n", SEMA_ENTRY_LOAD, true), "import std", 0);
    expect(run("x = [1.0, 2.0]\nfn f(a) { a * 2 }\n", SEMA_ENTRY_RUN, true), "setup", 0);
    /* definitions, a model, its gradient and an optimizer step: most of the checker */
    const char *failing = "fn g(b) { b + 1 }\n"
                          "model m() {\n    fc = dense(2, 3)\n    fn forward(v) { fc(v) }\n}\n"
                          "net = m()\nopt = adam(lr = 0.1)\n"
                          "opt.step(sum(tanh(net(reshape(g(f(x)), [1, 2])))))\n"
                          "y = grad(sum(net(reshape(x, [1, 2])) ^ 2), net.fc.w)\ny\n";
    long n = 1;
    for (;; n++) {
        volatile bool recovered = false, ran = false;
        if (setjmp(at) == 0) {
            util_set_recovery(&at);
            util_fail_alloc_after(n);
            ran = run(failing, SEMA_ENTRY_RUN, false);
        } else {
            recovered = true;
            sema_session_abandon(session, &entry);
        }
        util_fail_alloc_after(0);
        util_set_recovery(NULL);
        diag_clear(&diags);
        expect(strcmp(type_of("f(x)"), "f32[2]") == 0, "f(x) is not f32[2] any more", n);
        expect(strcmp(type_of("g"), "") == 0, "g is known", n);
        diag_clear(&diags);
        expect(run("v = f(x) * 3\n", SEMA_ENTRY_RUN, false), "a later entry fails", n);
        if (!recovered) {
            expect(ran, "the entry has an error", n);
            break;
        }
    }
    if (n < 20) {
        fprintf(stderr, "FAIL: the entry made only %ld allocations\n", n - 1);
        problems++;
    }
    sema_session_free(session);
    diag_free(&diags);
    printf("%ld allocations failed in turn, %d problems\n", n - 1, problems);
    return problems != 0;
}
