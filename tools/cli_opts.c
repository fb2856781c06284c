/* cli_opts.c - option parsing for the subcommands (see tq_opt in tq_cli.h), on top of
 * getopt_long: unambiguous prefixes of long options ("--thre 2"), "--opt=value" and
 * "--opt value", bundled short options ("-qv", "-ofile"), "--" ending options, options
 * anywhere among the positionals; and the options every command has (-h/--help,
 * -q/--quiet, -v/--verbose), added here rather than by each command. */
#include "tq_cli.h"

#include <errno.h>
#include <getopt.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>

int tq_cli_quiet = 0;
int tq_cli_verbose = 0;

/* The options every command has, after the command's own. */
static const char *const builtin_name[] = {"help", "quiet", "verbose"};
static const char builtin_short[] = {'h', 'q', 'v'};
#define NBUILTIN 3
#define VAL_LONG 256          /* a long option's val: VAL_LONG + index of its first alias */

static int is_builtin(const char *name)
{
    for (int b = 0; b < NBUILTIN; b++)
        if (strcmp(name, builtin_name[b]) == 0 ||
            (name[0] == builtin_short[b] && name[1] == '\0'))
            return 1;
    return 0;
}

/* ---- -v: what the run cost, said at exit ---- */

static char verbose_cmd[64];
static double verbose_t0;

static void verbose_at_exit(void)
{
    if (!tq_cli_verbose || tq_cli_quiet)
        return;
    struct rusage ru;
    double mib = getrusage(RUSAGE_SELF, &ru) == 0 ? (double)ru.ru_maxrss / 1024.0 : 0;
    tq_cli_warn("%s: %.3f s, peak memory %.1f MiB", verbose_cmd, tq_cli_now() - verbose_t0,
                mib);
}

static void verbose_start(const char *cmd)
{
    static int registered;
    if (registered)
        return;
    registered = 1;
    snprintf(verbose_cmd, sizeof verbose_cmd, "%s", cmd);
    verbose_t0 = tq_cli_now();
    atexit(verbose_at_exit);
}

/* ---- the tables getopt_long wants, built from the command's ---- */

typedef struct parser {
    struct option *lo;       /* the command's long options, the built-ins, a zero row */
    char *shorts;            /* "-:" then "x" or "x:" per short option, then "hqv" */
    int nopts;
} parser;

static int build(parser *p, tq_opt *opts)
{
    int n = 0;
    while (opts && opts[n].name)
        n++;
    p->nopts = n;
    p->lo = calloc((size_t)n + NBUILTIN + 1, sizeof *p->lo);
    p->shorts = calloc((size_t)n * 2 + NBUILTIN + 3, 1);
    if (p->lo == NULL || p->shorts == NULL)
        return -1;
    int nl = 0;
    char *s = p->shorts;
    *s++ = '-';              /* positionals come back in order, as 1 */
    *s++ = ':';              /* a missing value comes back as ':', and we say it */
    for (int i = 0; i < n; i++) {
        if (is_builtin(opts[i].name))
            continue;
        if (opts[i].name[1] == '\0') {
            *s++ = opts[i].name[0];
            if (opts[i].has_arg)
                *s++ = ':';
            continue;
        }
        /* aliases (two names for one value) share a val, so a prefix of both is not
         * ambiguous to getopt_long */
        int first = i;
        for (int k = 0; k < i; k++)
            if (opts[k].value == opts[i].value && opts[k].name[1] != '\0') {
                first = k;
                break;
            }
        p->lo[nl++] = (struct option){opts[i].name, opts[i].has_arg ? required_argument
                                                                     : no_argument,
                                      NULL, VAL_LONG + first};
    }
    for (int b = 0; b < NBUILTIN; b++) {
        p->lo[nl++] = (struct option){builtin_name[b], no_argument, NULL, builtin_short[b]};
        *s++ = builtin_short[b];
    }
    return 0;
}

static void unbuild(parser *p)
{
    free(p->lo);
    free(p->shorts);
}

/* ---- errors, each naming the option ---- */

/* long_error() - why getopt_long refused the long option tok ("--name[=value]"). */
static int long_error(const char *cmd, const parser *p, const char *tok, int missing)
{
    const char *name = tok + 2, *eq = strchr(name, '=');
    size_t n = eq ? (size_t)(eq - name) : strlen(name);
    const struct option *hit = NULL;
    char cands[256] = "";
    int nhits = 0;
    for (const struct option *o = p->lo; o->name; o++) {
        if (strncmp(o->name, name, n) != 0)
            continue;
        if (strlen(o->name) == n) {        /* exact: that one, whatever else matches */
            hit = o;
            nhits = 1;
            break;
        }
        if (hit == NULL || hit->val != o->val)
            nhits++;
        hit = o;
        size_t used = strlen(cands);
        snprintf(cands + used, sizeof cands - used, "%s--%s", used ? ", " : "", o->name);
    }
    if (nhits == 0)
        return tq_cli_usage(cmd, "unknown option '%.*s'", (int)(n + 2), tok);
    if (nhits > 1)
        return tq_cli_usage(cmd, "option '%.*s' is ambiguous: it could be %s", (int)(n + 2),
                            tok, cands);
    if (missing)
        return tq_cli_usage(cmd, "option '--%s' needs a value", hit->name);
    if (eq && hit->has_arg == no_argument)
        return tq_cli_usage(cmd, "option '--%s' takes no value", hit->name);
    return tq_cli_usage(cmd, "bad option '%s'", tok);
}

static int option_error(const char *cmd, const parser *p, char **av, int c, int long_tok)
{
    if (long_tok > 0 && strncmp(av[long_tok], "--", 2) == 0)
        return long_error(cmd, p, av[long_tok], c == ':');
    if (c == ':')
        return tq_cli_usage(cmd, "option '-%c' needs a value", optopt);
    if (optopt > 0 && optopt < VAL_LONG)
        return tq_cli_usage(cmd, "unknown option '-%c'", optopt);
    return tq_cli_usage(cmd, "bad option '%s'", long_tok > 0 ? av[long_tok] : "?");
}

/* ---- values ---- */

static int set_value(const char *cmd, tq_opt *o, const char *v)
{
    if (!o->has_arg) {
        *o->value = "1";
        return 0;
    }
    if (o->has_arg == TQ_OPT_LIST) {
        int k = 0;
        while (k < TQ_OPT_LIST_MAX && o->value[k])
            k++;
        if (k == TQ_OPT_LIST_MAX)
            return tq_cli_usage(cmd, "option '%s%s' given more than %d times",
                                o->name[1] ? "--" : "-", o->name, TQ_OPT_LIST_MAX);
        o->value[k] = v;
        return 0;
    }
    *o->value = v;
    return 0;
}

/* builtin() - -q or -v: the global, and the command's own row of that name if any. */
static void builtin(tq_opt *opts, int c)
{
    if (c == 'q')
        tq_cli_quiet = 1;
    else
        tq_cli_verbose = 1;
    for (tq_opt *o = opts; o && o->name; o++)
        if (!o->has_arg && (o->name[0] == c && (o->name[1] == '\0' ||
                                                 strcmp(o->name, c == 'q' ? "quiet"
                                                                          : "verbose") == 0)))
            *o->value = "1";
}

static tq_opt *short_opt(tq_opt *opts, int c)
{
    for (tq_opt *o = opts; o && o->name; o++)
        if (o->name[0] == c && o->name[1] == '\0')
            return o;
    return NULL;
}

static int positional(const char *cmd, const char *a, const char **pos, int maxpos, int *npos)
{
    if (*npos >= maxpos)
        return tq_cli_usage(cmd, "unexpected argument '%s'", a);
    pos[(*npos)++] = a;
    return 0;
}

/* run() - the getopt_long loop over av[0..ac) (av[0] a name for messages). */
static int run(const char *cmd, parser *p, int ac, char **av, tq_opt *opts, const char **pos,
               int maxpos, int *npos)
{
    int c, rc = 0;
    optind = 0;              /* glibc: start afresh (nightly parses reconcile's too) */
    opterr = 0;
    for (;;) {
        int at = optind ? optind : 1;      /* the element being read, for messages */
        c = getopt_long(ac, av, p->shorts, p->lo, NULL);
        if (c == -1)
            break;
        if (c == 'h')
            return -1;
        if (c == 1)
            rc = positional(cmd, optarg, pos, maxpos, npos);
        else if (c == 'q' || c == 'v')
            builtin(opts, c);
        else if (c >= VAL_LONG)
            rc = set_value(cmd, &opts[c - VAL_LONG], optarg);
        else if (c == '?' || c == ':')
            return option_error(cmd, p, av, c, optind - 1 >= at ? optind - 1 : at);
        else
            rc = set_value(cmd, short_opt(opts, c), optarg);
        if (rc)
            return rc;
    }
    for (int i = optind; i < ac; i++)       /* after "--" */
        if ((rc = positional(cmd, av[i], pos, maxpos, npos)) != 0)
            return rc;
    return 0;
}

int tq_cli_parse(const char *cmd, int argc, char **argv, tq_opt *opts, const char **pos,
                 int maxpos, int *npos)
{
    *npos = 0;
    parser p = {0};
    char **av = calloc((size_t)argc + 2, sizeof *av);
    if (av == NULL || build(&p, opts) != 0) {
        free(av);
        unbuild(&p);
        return tq_cli_error(TQ_EXIT_SOFTWARE, "out of memory");
    }
    char name[80];
    snprintf(name, sizeof name, "thongquan %s", cmd);
    av[0] = name;
    memcpy(av + 1, argv, (size_t)argc * sizeof *av);
    int rc = run(cmd, &p, argc + 1, av, opts, pos, maxpos, npos);
    free(av);
    unbuild(&p);
    if (rc == 0 && tq_cli_verbose)
        verbose_start(cmd);
    return rc;
}

int tq_cli_u64(const char *cmd, const char *name, const char *s, uint64_t *out)
{
    char *end;
    errno = 0;
    if (s == NULL || *s < '0' || *s > '9')
        return tq_cli_usage(cmd, "--%s needs a whole number, got '%s'", name, s ? s : "");
    unsigned long long v = strtoull(s, &end, 10);
    if (errno || *end != '\0')
        return tq_cli_usage(cmd, "--%s needs a whole number, got '%s'", name, s);
    *out = v;
    return 0;
}
