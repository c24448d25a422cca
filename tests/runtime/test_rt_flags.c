/* test_rt_flags.c — the command line of generated executables: built-in flags and program
 * settings parsed from good arguments; every kind of bad argument exits with status 2 and
 * a clear message; --help lists everything with defaults and exits 0.
 * Prints one line per failure, then "N passed, M failed"; exits non-zero on any failure. */
#include "rt_test.h"

/* What a generated program declares before parsing. */
static void declare_program_settings(void)
{
    rt_flags_reset();
    rt_flag_int("epochs", 10, RT_FLAG_NONNEGATIVE, NULL); /* the program's own default */
    rt_flag_int("hidden_size", 256, RT_FLAG_POSITIVE, "units in the hidden layer");
    rt_flag_float("dropout", 0.1, RT_FLAG_PROBABILITY, "dropout probability");
    rt_flag_string("run_name", "baseline", "name of this run");
    rt_flag_bool("verbose", 0, "print more");
    rt_flag_bool("augment", 1, "random flips");
}

static void test_defaults(void)
{
    declare_program_settings();
    char *argv[] = {"model", NULL};
    rt_flags_parse(1, argv);
    record(rt_flag_get_int("epochs") == 10 && rt_flag_get_int("batch") == 32 &&
               rt_flag_get_float("lr") == 1e-3 && rt_flag_get_int("seed") == 0 &&
               rt_flag_get_string("save") == NULL && rt_flag_get_bool("eval-only") == 0,
           "defaults of built-in flags (epochs re-declared by the program)");
    record(rt_flag_get_int("hidden_size") == 256 && rt_flag_get_float("dropout") == 0.1 &&
               strcmp(rt_flag_get_string("run_name"), "baseline") == 0 &&
               rt_flag_get_bool("verbose") == 0 && rt_flag_get_bool("augment") == 1,
           "defaults of program settings");
    record(!rt_flag_is_set("epochs") && !rt_flag_is_set("hidden_size"), "nothing is set");
}

static void test_good_values(void)
{
    declare_program_settings();
    char *argv[] = {"model",     "--epochs",      "5",           "--batch=64",
                    "--lr",      "0.01",          "--seed",      "7",
                    "--threads", "2",             "--data",      "/tmp/data",
                    "--save",    "out.st",        "--resume",    "in.st",
                    "--eval-only", "--hidden-size", "128",       "--dropout",
                    "0",         "--run_name=x y", "--verbose",  "--augment=false",
                    NULL};
    rt_flags_parse((int)(sizeof argv / sizeof argv[0]) - 1, argv);
    record(rt_flag_get_int("epochs") == 5 && rt_flag_get_int("batch") == 64 &&
               rt_flag_get_float("lr") == 0.01 && rt_flag_get_int("seed") == 7 &&
               rt_flag_get_int("threads") == 2 && rt_pool_threads() == 2,
           "built-in numbers, --name=value, --threads applied to the pool");
    record(strcmp(rt_flag_get_string("data"), "/tmp/data") == 0 &&
               strcmp(rt_flag_get_string("save"), "out.st") == 0 &&
               strcmp(rt_flag_get_string("resume"), "in.st") == 0 &&
               rt_flag_get_bool("eval-only") == 1 && rt_flag_is_set("eval-only"),
           "built-in strings and switch");
    record(rt_flag_get_int("hidden_size") == 128 && rt_flag_get_float("dropout") == 0 &&
               strcmp(rt_flag_get_string("run_name"), "x y") == 0 &&
               rt_flag_get_bool("verbose") == 1 && rt_flag_get_bool("augment") == 0,
           "program settings, '-' and '_' alike, bool forms");
    rt_pool_set_threads(0);
}

/* ---- bad command lines, each parsed in a child ------------------------------------------- */

typedef struct ParseCall {
    char *argv[8];
} ParseCall;

static void call_parse(void *context)
{
    ParseCall *call = context;
    declare_program_settings();
    int argc = 0;
    while (call->argv[argc] != NULL)
        argc++;
    rt_flags_parse(argc, call->argv);
}

static void bad(const char *name, const char *expected, char *a1, char *a2, char *a3)
{
    ParseCall call = {{"model", a1, a2, a3, NULL}};
    expect_failure(name, call_parse, &call, 2, expected);
}

static void test_bad_values(void)
{
    bad("--epochs abc", "--epochs: expected an integer, got 'abc'", "--epochs", "abc", NULL);
    bad("--epochs 2.5", "--epochs: expected an integer, got '2.5'", "--epochs", "2.5", NULL);
    bad("--epochs too large", "expected an integer, got '99999999999999999999'", "--epochs",
        "99999999999999999999", NULL);
    bad("--epochs -1", "--epochs: must be >= 0, got -1", "--epochs", "-1", NULL);
    bad("--lr -1", "--lr: must be > 0, got -1", "--lr", "-1", NULL);
    bad("--lr 0", "--lr: must be > 0, got 0", "--lr=0", NULL, NULL);
    bad("--lr nan", "--lr: expected a number, got 'nan'", "--lr", "nan", NULL);
    bad("--lr 1e999", "--lr: expected a number, got '1e999'", "--lr", "1e999", NULL);
    bad("--batch 0", "--batch: must be > 0, got 0", "--batch", "0", NULL);
    bad("--dropout 1.5", "--dropout: must be between 0 and 1, got 1.5", "--dropout", "1.5",
        NULL);
    bad("--verbose=maybe", "--verbose: expected true or false, got 'maybe'", "--verbose=maybe",
        NULL, NULL);
    bad("missing value", "--epochs: missing value (--epochs N)", "--epochs", NULL, NULL);
    bad("value that is a flag", "--save: missing value (--save FILE)", "--save", "--epochs",
        "3");
    bad("empty file name", "--save: expected a file name, got an empty string", "--save=",
        NULL, NULL);
    bad("unknown flag with suggestion", "unknown flag --epcohs (did you mean --epochs?)",
        "--epcohs", "3", NULL);
    bad("unknown flag", "unknown flag --frobnicate", "--frobnicate", NULL, NULL);
    bad("stray argument", "unexpected argument 'data.csv' (flags start with --)", "data.csv",
        NULL, NULL);
    bad("single dash", "unexpected argument '-e'", "-e", "3", NULL);
    bad("--threads too many", "--threads: at most 1024", "--threads", "5000", NULL);
    bad("help hint", "run 'model --help' to list the flags", "--bogus", NULL, NULL);
}

static void call_help(void *context)
{
    (void)context;
    declare_program_settings();
    char *argv[] = {"model", "--epochs", "3", "--help", NULL};
    const char *out = scratch("help.txt");
    if (freopen(out, "w", stdout) == NULL)
        _exit(99);
    rt_flags_parse(4, argv);
}

static void call_declare_twice(void *context)
{
    (void)context;
    rt_flags_reset();
    rt_flag_int("width", 1, RT_FLAG_ANY, NULL);
    rt_flag_int("width", 2, RT_FLAG_ANY, NULL);
}

static void call_declare_wrong_type(void *context)
{
    (void)context;
    rt_flags_reset();
    rt_flag_float("epochs", 1, RT_FLAG_ANY, NULL);
}

static void test_help_and_declarations(void)
{
    const char *err;
    int status = run_in_child(call_help, NULL, &err);
    char *help = read_file(scratch("help.txt"), NULL);
    int ok = status == 0 && help != NULL && strstr(help, "usage: model [flags]") &&
             strstr(help, "--epochs N") && strstr(help, "(>= 0, default 10)") &&
             strstr(help, "--lr X") && strstr(help, "(> 0, default 0.001)") &&
             strstr(help, "--eval-only") && strstr(help, "--help") &&
             strstr(help, "settings of this program:") &&
             strstr(help, "--hidden_size N") && strstr(help, "units in the hidden layer") &&
             strstr(help, "(between 0 and 1, default 0.1)") &&
             strstr(help, "(default baseline)") && strstr(help, "--augment=false");
    record(ok, "--help lists flags and settings with defaults, exits 0");
    if (!ok || getenv("RT_TEST_VERBOSE"))
        printf("--- help (exit %d):\n%s---\n", status, help ? help : "(none)");
    free(help);

    expect_failure("a setting declared twice", call_declare_twice, NULL, 1,
                   "setting --width is declared twice");
    expect_failure("a built-in re-declared with another type", call_declare_wrong_type, NULL, 1,
                   "setting --epochs is declared as a number, but the built-in flag is an "
                   "integer");
}

int main(void)
{
    test_defaults();
    test_good_values();
    test_bad_values();
    test_help_and_declarations();
    rt_flags_reset();
    return finish();
}
