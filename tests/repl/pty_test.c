/* pty_test.c — drives `nnc repl` through a real pseudo-terminal, as a person would: line
 * editing, multi-line input, Ctrl-C on a line and on a running computation, Ctrl-D, and
 * the history file. Usage: pty_test NNC STDLIB_DIR. Each step waits (at most a stated
 * time) for the text it expects; the first miss fails the test with the output so far. */
#include <errno.h>
#include <poll.h>
#include <pty.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static int master = -1;
static pid_t child;
static char seen[1 << 16];   /* output not yet consumed by an expect */
static size_t nseen;

static void fail(const char *what)
{
    fprintf(stderr, "pty_test: FAIL: %s\n--- output since the last match ---\n%.*s\n---\n",
            what, (int)nseen, seen);
    if (child > 0)
        kill(child, SIGKILL);
    exit(1);
}

static void send_text(const char *s)
{
    size_t n = strlen(s);
    if (write(master, s, n) != (ssize_t)n)
        fail("cannot write to the terminal");
}

static double now(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + 1e-9 * (double)t.tv_nsec;
}

/* Reads until `text` has appeared, within `seconds`; consumes the output up to its end. */
static void expect(const char *text, double seconds)
{
    double end = now() + seconds;
    for (;;) {
        seen[nseen] = '\0';
        char *at = strstr(seen, text);
        if (at) {
            size_t used = (size_t)(at - seen) + strlen(text);
            memmove(seen, seen + used, nseen - used);
            nseen -= used;
            return;
        }
        double left = end - now();
        if (left <= 0) {
            char msg[300];
            snprintf(msg, sizeof msg, "no '%s' within %.0f s", text, seconds);
            fail(msg);
        }
        struct pollfd p = {master, POLLIN, 0};
        if (poll(&p, 1, (int)(left * 1000) + 1) > 0) {
            ssize_t n = read(master, seen + nseen, sizeof seen - 1 - nseen);
            if (n <= 0)
                fail("the REPL closed the terminal");
            nseen += (size_t)n;
        }
    }
}

/* Fails if `text` shows up within `seconds`. */
static void expect_not(const char *text, double seconds)
{
    double end = now() + seconds;
    while (now() < end) {
        struct pollfd p = {master, POLLIN, 0};
        if (poll(&p, 1, 50) > 0) {
            ssize_t n = read(master, seen + nseen, sizeof seen - 1 - nseen);
            if (n > 0)
                nseen += (size_t)n;
        }
        seen[nseen] = '\0';
        if (strstr(seen, text)) {
            char msg[300];
            snprintf(msg, sizeof msg, "unexpected '%s'", text);
            fail(msg);
        }
    }
}

int main(int argc, char **argv)
{
    if (argc != 3) {
        fprintf(stderr, "usage: pty_test NNC STDLIB_DIR\n");
        return 2;
    }
    char home[] = "/tmp/nnc_pty_XXXXXX";
    if (!mkdtemp(home))
        fail("cannot make a home directory");
    child = forkpty(&master, NULL, NULL, NULL);
    if (child < 0)
        fail("forkpty failed");
    if (child == 0) {
        setenv("HOME", home, 1);
        setenv("NNC_STDLIB", argv[2], 1);
        setenv("TERM", "xterm", 1);
        unsetenv("NO_COLOR");
        execl(argv[1], argv[1], "repl", "--color=never", (char *)NULL);
        _exit(127);
    }
    const double T = 30; /* generous: the machine may be loaded */
    expect("nnc> ", T);

    /* a value, kept for later entries */
    send_text("x = 40 + 2\r");
    expect("nnc> ", T);
    send_text("x\r");
    expect("42", T);
    expect("nnc> ", T);

    /* line editing: "prnt(x + 7)", nine times left, insert 'i': print(x + 7) */
    send_text("prnt(x + 7)");
    for (int i = 0; i < 9; i++)
        send_text("\x1b[D");
    send_text("i\r");
    expect("49", T);
    expect("nnc> ", T);

    /* Ctrl-C cancels the line being typed */
    send_text("no_such_name");
    send_text("\x03");
    expect("nnc> ", T);
    send_text("x * 2\r");
    expect("84", T);
    expect("nnc> ", T);
    seen[nseen] = '\0';

    /* input goes on while a bracket is open */
    send_text("fn twice(a) {\r");
    expect("...> ", T);
    send_text("a * 2 }\r");
    expect("nnc> ", T);
    send_text("twice(x)\r");
    expect("84", T);
    expect("nnc> ", T);

    /* Ctrl-C stops a running computation; the session and its state stay */
    send_text("k = 1\r");
    expect("nnc> ", T);
    send_text("big = uniform([1500, 1500])\r");
    expect("nnc> ", T);
    send_text("for i in 0..400 { big = tanh(big @ big) / 1500\r");
    expect("...> ", T);
    send_text("k = k + 1 }\r");
    usleep(1500 * 1000);
    send_text("\x03");
    expect("interrupted", T);
    expect("nnc> ", T);
    send_text("k\r");
    expect("k\r\n1\r\n", T); /* not 401: the interrupted entry changed nothing */
    expect("nnc> ", T);
    send_text(":shape big\r");
    expect("[1500, 1500]", T);
    expect("nnc> ", T);

    /* an error shows a caret and the session goes on */
    send_text("x + nope\r");
    expect("^~~~", T);
    expect("nnc> ", T);
    send_text("x\r");
    expect("42", T);
    expect("nnc> ", T);

    /* Ctrl-D leaves with status 0. The prompt is printed just before libedit puts the
     * terminal into raw mode; a Ctrl-D typed in between meets the cooked terminal, which
     * takes it as end-of-line and does not keep it, so wait until the prompt has settled
     * (a person cannot type that fast). */
    usleep(300 * 1000);
    send_text("\x04");
    int status = 0;
    double end = now() + T;
    while (waitpid(child, &status, WNOHANG) == 0) {
        if (now() > end)
            fail("Ctrl-D did not end the REPL");
        char buf[4096];
        struct pollfd p = {master, POLLIN, 0};
        if (poll(&p, 1, 50) > 0 && read(master, buf, sizeof buf) < 0 && errno != EIO)
            break;
    }
    child = 0;
    if (!WIFEXITED(status) || WEXITSTATUS(status) != 0)
        fail("the REPL did not exit with status 0 after Ctrl-D");
    expect_not("no_such_name", 0);

    /* the history file holds the entries */
    char path[256], text[8192] = {0};
    snprintf(path, sizeof path, "%s/.nnc_history", home);
    FILE *f = fopen(path, "r");
    if (!f)
        fail("no ~/.nnc_history");
    size_t n = fread(text, 1, sizeof text - 1, f);
    fclose(f);
    text[n] = '\0';
    /* libedit writes a space as \040 */
    char *w = text;
    for (const char *p = text; *p; p++) {
        if (p[0] == '\\' && p[1] == '0' && p[2] == '4' && p[3] == '0') {
            *w++ = ' ';
            p += 3;
        } else {
            *w++ = *p;
        }
    }
    *w = '\0';
    if (!strstr(text, "x = 40 + 2") || !strstr(text, "twice(x)"))
        fail("~/.nnc_history lacks the entries");
    unlink(path);
    rmdir(home);
    printf("pty_test: ok\n");
    return 0;
}
