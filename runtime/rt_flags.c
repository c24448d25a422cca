/* rt_flags.c — the command line of every executable nnc builds.
 *
 * One table holds the built-in flags (--epochs, --batch, --lr, ...) and the settings a
 * program declares; rt_flags_parse fills in values, and the program reads them back by
 * name. A mistake on the command line is the user's, not the program's: it prints
 * "nnc: ..." with a pointer to --help and exits with status 2 (as getopt-style tools do),
 * keeping status 1 for runtime failures. Reading an undeclared flag is a program bug and
 * goes through rt_fatal. */
#include "rt_internal.h"

#include <inttypes.h>
#include <signal.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

typedef enum RtFlagType { RT_FLAG_INT, RT_FLAG_FLOAT, RT_FLAG_STRING, RT_FLAG_BOOL } RtFlagType;

typedef struct RtFlag {
    char *name;              /* without the leading "--" */
    RtFlagType type;
    RtFlagCheck check;       /* for INT and FLOAT */
    char *help;              /* may be NULL */
    const char *placeholder; /* "N", "X", "DIR", ... shown after the name in --help */
    int builtin;             /* from rt_flags_add_builtins */
    int declared;            /* declared by the program (a built-in re-declared counts) */
    int set;                 /* given on the command line */
    int64_t int_value;
    double float_value;
    char *string_value; /* rt_alloc'd, or NULL */
    int64_t int_default;
    double float_default;
    char *string_default;
} RtFlag;

typedef struct RtFlagTable {
    RtFlag *flags;
    int32_t count, capacity;
    int builtins_added;
    int compiled_program; /* parsing for a compiled program: unused built-ins are hidden
                             from --help and rejected (rt_flags_parse_command_line) */
    int checkpoints;      /* the program can checkpoint its training (--save, --resume,
                             --eval-only); else checkpoints_why_not says why not */
    char *checkpoints_why_not;
    char *steps_why_not; /* NULL: --save-every and --max-steps act (within checkpoints) */
    const char *program; /* argv[0], for messages */
} RtFlagTable;

static RtFlagTable rt_flags;

/* ---- the table ------------------------------------------------------------------------ */

/* Flag names compare with '-' and '_' alike, so --hidden-size finds hidden_size. */
static int rt_flag_name_equal(const char *a, const char *b, size_t b_length)
{
    size_t i = 0;
    for (; i < b_length && a[i] != '\0'; i++) {
        char x = a[i] == '_' ? '-' : a[i];
        char y = b[i] == '_' ? '-' : b[i];
        if (x != y)
            return 0;
    }
    return i == b_length && a[i] == '\0';
}

static RtFlag *rt_flag_find(const char *name, size_t length)
{
    for (int32_t i = 0; i < rt_flags.count; i++)
        if (rt_flag_name_equal(rt_flags.flags[i].name, name, length))
            return &rt_flags.flags[i];
    return NULL;
}

static const char *rt_flag_type_name(RtFlagType type)
{
    switch (type) {
    case RT_FLAG_INT: return "an integer";
    case RT_FLAG_FLOAT: return "a number";
    case RT_FLAG_STRING: return "a string";
    case RT_FLAG_BOOL: return "a switch";
    }
    return "?";
}

static void rt_flags_add_builtins(void);

/* Declares (or, for a built-in of the same type, re-declares) a flag and returns it with
 * its default and value still to be filled in. */
static RtFlag *rt_flag_declare(const char *name, RtFlagType type, RtFlagCheck check,
                               const char *help, const char *placeholder, int builtin)
{
    if (!builtin)
        rt_flags_add_builtins();
    if (name == NULL || name[0] == '\0' || name[0] == '-' || strchr(name, '=') != NULL)
        rt_fatal("bad setting name '%s': a name has no leading '-' and no '='",
                 name ? name : "(null)");
    RtFlag *flag = rt_flag_find(name, strlen(name));
    if (flag != NULL) {
        if (!flag->builtin || flag->declared)
            rt_fatal("setting --%s is declared twice", name);
        if (flag->type != type)
            rt_fatal("setting --%s is declared as %s, but the built-in flag is %s", name,
                     rt_flag_type_name(type), rt_flag_type_name(flag->type));
        flag->declared = 1;
        if (help != NULL) {
            rt_free(flag->help);
            flag->help = rt_strdup(help);
        }
        /* A setting named like a built-in keeps the built-in's range (--epochs -1 ran
         * nothing, --lr -0.5 ascended) unless it states one of its own. */
        if (check != RT_FLAG_ANY)
            flag->check = check;
        return flag;
    }
    if (rt_flags.count == rt_flags.capacity) {
        rt_flags.capacity = rt_flags.capacity ? 2 * rt_flags.capacity : 32;
        rt_flags.flags = rt_realloc(rt_flags.flags,
                                    rt_size_mul((size_t)rt_flags.capacity, sizeof(RtFlag)));
    }
    flag = &rt_flags.flags[rt_flags.count++];
    *flag = (RtFlag){
        .name = rt_strdup(name),
        .type = type,
        .check = check,
        .help = help ? rt_strdup(help) : NULL,
        .placeholder = placeholder,
        .builtin = builtin,
        .declared = !builtin,
    };
    return flag;
}

static void rt_flag_define_int(const char *name, int64_t value, RtFlagCheck check,
                               const char *help, int builtin)
{
    RtFlag *flag = rt_flag_declare(name, RT_FLAG_INT, check, help, "N", builtin);
    flag->int_default = flag->int_value = value;
}

static void rt_flag_define_float(const char *name, double value, RtFlagCheck check,
                                 const char *help, int builtin)
{
    RtFlag *flag = rt_flag_declare(name, RT_FLAG_FLOAT, check, help, "X", builtin);
    flag->float_default = flag->float_value = value;
}

static void rt_flag_define_string(const char *name, const char *value, const char *help,
                                  const char *placeholder, int builtin)
{
    RtFlag *flag = rt_flag_declare(name, RT_FLAG_STRING, RT_FLAG_ANY, help, placeholder,
                                   builtin);
    rt_free(flag->string_default);
    rt_free(flag->string_value);
    flag->string_default = value ? rt_strdup(value) : NULL;
    flag->string_value = value ? rt_strdup(value) : NULL;
}

static void rt_flags_add_builtins(void)
{
    if (rt_flags.builtins_added)
        return;
    rt_flags.builtins_added = 1;
    rt_flag_define_int("epochs", 1, RT_FLAG_NONNEGATIVE, "passes over the training data", 1);
    rt_flag_define_int("batch", 32, RT_FLAG_POSITIVE, "samples per training step", 1);
    rt_flag_define_float("lr", 1e-3, RT_FLAG_POSITIVE, "learning rate", 1);
    rt_flag_define_int("seed", 0, RT_FLAG_NONNEGATIVE,
                       "seed of initialization, shuffling and dropout", 1);
    rt_flag_define_int("threads", 0, RT_FLAG_NONNEGATIVE, "worker threads (0: one per CPU)",
                       1);
    rt_flag_define_string("data", NULL, "directory of the data set", "DIR", 1);
    rt_flag_define_string("save", NULL, "write a training checkpoint to FILE after every epoch",
                          "FILE", 1);
    rt_flag_define_int("save-every", 0, RT_FLAG_NONNEGATIVE,
                       "with --save: also save every N training steps (0: never)", 1);
    rt_flag_define_int("max-steps", 0, RT_FLAG_NONNEGATIVE,
                       "stop training after step N, resumed steps included (0: never)", 1);
    rt_flag_define_string("resume", NULL, "continue training from checkpoint FILE", "FILE",
                          1);
    RtFlag *eval_only = rt_flag_declare("eval-only", RT_FLAG_BOOL, RT_FLAG_ANY,
                                        "with --resume: evaluate the checkpoint, no training",
                                        "", 1);
    eval_only->int_default = eval_only->int_value = 0;
    rt_flag_define_string("log", NULL, "append logged values to FILE as CSV", "FILE", 1);
}

void rt_flag_int(const char *name, int64_t default_value, RtFlagCheck check, const char *help)
{
    if (check == RT_FLAG_PROBABILITY)
        rt_fatal("setting --%s: an integer cannot be a probability", name);
    rt_flag_define_int(name, default_value, check, help, 0);
}

void rt_flag_float(const char *name, double default_value, RtFlagCheck check, const char *help)
{
    rt_flag_define_float(name, default_value, check, help, 0);
}

void rt_flag_string(const char *name, const char *default_value, const char *help)
{
    rt_flag_define_string(name, default_value, help, "TEXT", 0);
}

void rt_flag_bool(const char *name, int32_t default_value, const char *help)
{
    RtFlag *flag = rt_flag_declare(name, RT_FLAG_BOOL, RT_FLAG_ANY, help, "", 0);
    flag->int_default = flag->int_value = default_value != 0;
}

void rt_flags_reset(void)
{
    for (int32_t i = 0; i < rt_flags.count; i++) {
        RtFlag *flag = &rt_flags.flags[i];
        rt_free(flag->name);
        rt_free(flag->help);
        rt_free(flag->string_value);
        rt_free(flag->string_default);
    }
    rt_free(rt_flags.flags);
    rt_free(rt_flags.checkpoints_why_not);
    rt_free(rt_flags.steps_why_not);
    rt_flags = (RtFlagTable){0};
}

/* ---- reading values ----------------------------------------------------------------------- */

static RtFlag *rt_flag_lookup(const char *name, RtFlagType type)
{
    rt_flags_add_builtins();
    RtFlag *flag = rt_flag_find(name, strlen(name));
    if (flag == NULL)
        rt_fatal("no flag or setting named --%s was declared", name);
    if (flag->type != type)
        rt_fatal("flag --%s is %s, not %s", name, rt_flag_type_name(flag->type),
                 rt_flag_type_name(type));
    return flag;
}

int64_t rt_flag_get_int(const char *name)
{
    return rt_flag_lookup(name, RT_FLAG_INT)->int_value;
}

double rt_flag_get_float(const char *name)
{
    return rt_flag_lookup(name, RT_FLAG_FLOAT)->float_value;
}

const char *rt_flag_get_string(const char *name)
{
    return rt_flag_lookup(name, RT_FLAG_STRING)->string_value;
}

int32_t rt_flag_get_bool(const char *name)
{
    return (int32_t)rt_flag_lookup(name, RT_FLAG_BOOL)->int_value;
}

int32_t rt_flag_is_set(const char *name)
{
    rt_flags_add_builtins();
    RtFlag *flag = rt_flag_find(name, strlen(name));
    if (flag == NULL)
        rt_fatal("no flag or setting named --%s was declared", name);
    return flag->set;
}

/* ---- parsing -------------------------------------------------------------------------------- */

_Noreturn __attribute__((format(printf, 1, 2))) static void rt_usage_error(const char *fmt, ...)
{
    va_list args;
    va_start(args, fmt);
    rt_vmessage(fmt, args);
    va_end(args);
    fprintf(stderr, "nnc: run '%s --help' to list the flags\n",
            rt_flags.program ? rt_flags.program : "PROGRAM");
    exit(2);
}

static const char *rt_check_text(RtFlagCheck check)
{
    switch (check) {
    case RT_FLAG_ANY: return NULL;
    case RT_FLAG_NONNEGATIVE: return ">= 0";
    case RT_FLAG_POSITIVE: return "> 0";
    case RT_FLAG_PROBABILITY: return "between 0 and 1";
    }
    return NULL;
}

static int rt_check_passes(RtFlagCheck check, double value)
{
    switch (check) {
    case RT_FLAG_ANY: return 1;
    case RT_FLAG_NONNEGATIVE: return value >= 0;
    case RT_FLAG_POSITIVE: return value > 0;
    case RT_FLAG_PROBABILITY: return value >= 0 && value <= 1;
    }
    return 1;
}

/* 1 for the texts of true ("true", "1", "yes"), 2 for those of false, 0 for others. */
static int rt_bool_text(const char *value)
{
    if (strcmp(value, "true") == 0 || strcmp(value, "1") == 0 || strcmp(value, "yes") == 0)
        return 1;
    if (strcmp(value, "false") == 0 || strcmp(value, "0") == 0 || strcmp(value, "no") == 0)
        return 2;
    return 0;
}

static void rt_flag_assign(RtFlag *flag, const char *value)
{
    size_t length = strlen(value);
    switch (flag->type) {
    case RT_FLAG_INT: {
        int64_t parsed;
        if (!rt_parse_int64(value, length, &parsed))
            rt_usage_error("--%s: expected an integer, got '%s'", flag->name, value);
        if (!rt_check_passes(flag->check, (double)parsed))
            rt_usage_error("--%s: must be %s, got %s", flag->name, rt_check_text(flag->check),
                           value);
        flag->int_value = parsed;
        break;
    }
    case RT_FLAG_FLOAT: {
        double parsed;
        if (!rt_parse_double(value, length, &parsed))
            rt_usage_error("--%s: expected a number, got '%s'", flag->name, value);
        if (!rt_check_passes(flag->check, parsed))
            rt_usage_error("--%s: must be %s, got %s", flag->name, rt_check_text(flag->check),
                           value);
        flag->float_value = parsed;
        break;
    }
    case RT_FLAG_STRING:
        if (length == 0)
            rt_usage_error("--%s: expected a %s, got an empty string", flag->name,
                           flag->placeholder[0] == 'F'   ? "file name"
                           : flag->placeholder[0] == 'D' ? "directory"
                                                         : "value");
        rt_free(flag->string_value);
        flag->string_value = rt_strdup(value);
        break;
    case RT_FLAG_BOOL:
        if (!rt_bool_text(value))
            rt_usage_error("--%s: expected true or false, got '%s'", flag->name, value);
        flag->int_value = rt_bool_text(value) == 1;
        break;
    }
    flag->set = 1;
}

/* Edit distance (insertions, deletions, substitutions) of two short names, capped. */
static int rt_edit_distance(const char *a, size_t a_length, const char *b)
{
    size_t b_length = strlen(b);
    if (a_length > 63 || b_length > 63)
        return 99;
    int row[64];
    for (size_t j = 0; j <= b_length; j++)
        row[j] = (int)j;
    for (size_t i = 1; i <= a_length; i++) {
        int diagonal = row[0];
        row[0] = (int)i;
        for (size_t j = 1; j <= b_length; j++) {
            int above = row[j];
            int cost = a[i - 1] == b[j - 1] ? 0 : 1;
            int best = diagonal + cost;
            if (row[j] + 1 < best)
                best = row[j] + 1;
            if (row[j - 1] + 1 < best)
                best = row[j - 1] + 1;
            row[j] = best;
            diagonal = above;
        }
    }
    return row[b_length];
}

_Noreturn static void rt_unknown_flag(const char *name, size_t length)
{
    const char *closest = NULL;
    int best = 3; /* suggest only names within two edits */
    for (int32_t i = 0; i < rt_flags.count; i++) {
        int distance = rt_edit_distance(name, length, rt_flags.flags[i].name);
        if (distance < best) {
            best = distance;
            closest = rt_flags.flags[i].name;
        }
    }
    if (closest != NULL)
        rt_usage_error("unknown flag --%.*s (did you mean --%s?)", (int)length, name, closest);
    rt_usage_error("unknown flag --%.*s", (int)length, name);
}

/* The flags that act within the training loop's steps. */
static int rt_flag_is_step(const RtFlag *flag)
{
    return strcmp(flag->name, "save-every") == 0 || strcmp(flag->name, "max-steps") == 0;
}

static int rt_flag_is_checkpoint(const RtFlag *flag)
{
    return strcmp(flag->name, "save") == 0 || strcmp(flag->name, "resume") == 0 ||
           strcmp(flag->name, "eval-only") == 0 || rt_flag_is_step(flag);
}

void rt_flags_allow_checkpoints(const char *why_not, const char *why_no_steps)
{
    rt_flags_add_builtins();
    for (int32_t i = 0; i < rt_flags.count; i++)
        if (rt_flag_is_checkpoint(&rt_flags.flags[i]) && rt_flags.flags[i].declared)
            why_not = "its own settings take the names of checkpoint flags (--save, --resume, "
                      "--eval-only, --save-every, --max-steps)";
    rt_flags.checkpoints = why_not == NULL;
    rt_free(rt_flags.checkpoints_why_not);
    rt_flags.checkpoints_why_not = why_not ? rt_strdup(why_not) : NULL;
    rt_free(rt_flags.steps_why_not);
    rt_flags.steps_why_not = why_not == NULL && why_no_steps ? rt_strdup(why_no_steps) : NULL;
}

int32_t rt_flags_checkpoints_allowed(void)
{
    return rt_flags.checkpoints;
}

int32_t rt_flags_steps_allowed(void)
{
    return rt_flags.checkpoints && rt_flags.steps_why_not == NULL;
}

const char *rt_flags_steps_why_not(void)
{
    return rt_flags.steps_why_not ? rt_flags.steps_why_not : "it cannot checkpoint";
}

/* A built-in flag that has an effect in this program: one the runtime reads itself, or one
 * the program declared as a setting. Only meaningful for a compiled program. */
static int rt_flag_in_use(const RtFlag *flag)
{
    static const char *const runtime_used[] = {"threads", "log", "data", "seed", "help"};
    if (!flag->builtin || flag->declared)
        return 1;
    if (rt_flag_is_step(flag))
        return rt_flags_steps_allowed();
    if (rt_flag_is_checkpoint(flag))
        return rt_flags.checkpoints;
    for (size_t k = 0; k < sizeof runtime_used / sizeof *runtime_used; k++)
        if (strcmp(flag->name, runtime_used[k]) == 0)
            return 1;
    return 0;
}

static void rt_flags_print_help(void)
{
    printf("usage: %s [flags]\n", rt_flags.program ? rt_flags.program : "PROGRAM");
    int width = (int)strlen("--help");
    for (int32_t i = 0; i < rt_flags.count; i++) {
        const RtFlag *flag = &rt_flags.flags[i];
        int length = (int)(strlen(flag->name) + 2 + (flag->placeholder[0] ? 1 : 0) +
                           strlen(flag->placeholder));
        if (length > width)
            width = length;
    }
    for (int section = 0; section < 2; section++) {
        int printed_heading = 0;
        for (int32_t i = 0; i < rt_flags.count; i++) {
            const RtFlag *flag = &rt_flags.flags[i];
            if (flag->builtin != (section == 0) ||
                (rt_flags.compiled_program && !rt_flag_in_use(flag)))
                continue;
            if (!printed_heading) {
                printf(section == 0 ? "\nflags:\n" : "\nsettings of this program:\n");
                printed_heading = 1;
            }
            char left[160];
            snprintf(left, sizeof left, "--%s%s%s", flag->name, flag->placeholder[0] ? " " : "",
                     flag->placeholder);
            printf("  %-*s  %s", width, left, flag->help ? flag->help : "");
            const char *check = rt_check_text(flag->check);
            const char *gap = flag->help ? " " : "";
            switch (flag->type) {
            case RT_FLAG_INT:
                printf("%s(%s%sdefault %" PRId64 ")", gap, check ? check : "",
                       check ? ", " : "", flag->int_default);
                break;
            case RT_FLAG_FLOAT:
                printf("%s(%s%sdefault %g)", gap, check ? check : "", check ? ", " : "",
                       flag->float_default);
                break;
            case RT_FLAG_STRING:
                if (flag->string_default)
                    printf("%s(default %s)", gap, flag->string_default);
                break;
            case RT_FLAG_BOOL:
                if (flag->int_default)
                    printf("%s(default true; --%s=false turns it off)", gap, flag->name);
                break;
            }
            putchar('\n');
        }
        if (section == 0)
            printf("  %-*s  print this list and exit\n", width, "--help");
    }
}

void rt_flags_parse(int argc, char **argv)
{
    rt_flags_add_builtins();
    rt_flags.program = argc > 0 && argv[0] ? argv[0] : "PROGRAM";
    for (int i = 1; i < argc; i++) {
        const char *argument = argv[i];
        if (strncmp(argument, "--", 2) != 0 || argument[2] == '\0')
            rt_usage_error("unexpected argument '%s' (flags start with --)", argument);
        const char *name = argument + 2;
        const char *equals = strchr(name, '=');
        size_t name_length = equals ? (size_t)(equals - name) : strlen(name);
        if (rt_flag_name_equal("help", name, name_length) && equals == NULL) {
            rt_flags_print_help();
            fflush(stdout);
            exit(0);
        }
        RtFlag *flag = rt_flag_find(name, name_length);
        if (flag == NULL)
            rt_unknown_flag(name, name_length);
        if (equals != NULL) {
            rt_flag_assign(flag, equals + 1);
        } else if (flag->type == RT_FLAG_BOOL) {
            /* --NAME alone is true; --NAME false, as nnc's own command line writes it
             * (nnc run FILE -- --NAME false), takes the value */
            rt_flag_assign(flag, i + 1 < argc && rt_bool_text(argv[i + 1]) ? argv[++i] : "true");
        } else {
            /* The value is the next argument; one that looks like another flag means the
             * value was forgotten. (Negative numbers start with a single '-'.) */
            if (i + 1 >= argc || strncmp(argv[i + 1], "--", 2) == 0)
                rt_usage_error("--%s: missing value (--%s %s)", flag->name, flag->name,
                               flag->placeholder);
            rt_flag_assign(flag, argv[++i]);
        }
    }

    int64_t threads = rt_flag_get_int("threads");
    if (threads > 1024)
        rt_usage_error("--threads: at most 1024, got %" PRId64, threads);
    rt_pool_set_threads((int32_t)threads);
    rt_random_set_run_seed((uint64_t)rt_flag_get_int("seed"));
    const char *log = rt_flag_get_string("log");
    if (log != NULL)
        rt_log_set_file(log);
}

static void rt_flags_reject_unused(void)
{
    for (int32_t i = 0; i < rt_flags.count; i++) {
        const RtFlag *flag = &rt_flags.flags[i];
        if (!flag->set || rt_flag_in_use(flag))
            continue;
        if (rt_flag_is_step(flag) && rt_flags.checkpoints)
            rt_usage_error("--%s: this program cannot stop or save inside its training loop: %s",
                           flag->name, rt_flags.steps_why_not);
        if (rt_flag_is_checkpoint(flag))
            rt_usage_error("--%s: this program cannot checkpoint its training: %s", flag->name,
                           rt_flags.checkpoints_why_not ? rt_flags.checkpoints_why_not
                                                        : "it has no train block");
        rt_usage_error("--%s: this program has no setting '%s' (declare it in train(...) "
                       "to use it)",
                       flag->name, flag->name);
    }
    if (rt_flags.checkpoints && rt_flag_get_bool("eval-only")) {
        if (rt_flag_get_string("resume") == NULL)
            rt_usage_error("--eval-only needs --resume FILE, the checkpoint to evaluate");
        if (rt_flag_get_string("save") != NULL)
            rt_usage_error("--eval-only does not train, so --save has nothing to write");
        if (rt_flag_is_set("max-steps") || rt_flag_is_set("save-every"))
            rt_usage_error("--eval-only does not train, so it takes no --max-steps or "
                           "--save-every");
    }
    if (rt_flags_steps_allowed() && rt_flag_get_int("save-every") > 0 &&
        rt_flag_get_string("save") == NULL)
        rt_usage_error("--save-every needs --save FILE, the checkpoint to write");
}

void rt_flags_parse_program_command_line(int argc, char **argv)
{
    rt_flags.compiled_program = 1;
    rt_flags_parse(argc, argv);
    rt_flags_reject_unused();
    /* Every write the runtime makes is checked, so a file size limit (ulimit -f) is an
     * error it reports ("File too large"), not a SIGXFSZ that kills the program. */
    signal(SIGXFSZ, SIG_IGN);
    /* the files written later must be writable now, not after an epoch has trained */
    rt_log_check_file();
    if (rt_flags_checkpoints_allowed())
        rt_check_output_path(rt_flag_get_string("save"));
}
