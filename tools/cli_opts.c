/* cli_opts.c - option parsing for the subcommands (see tq_opt in tq_cli.h). */
#include "tq_cli.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

int tq_cli_quiet = 0;

static tq_opt *find_opt(tq_opt *opts, const char *name, size_t n)
{
    for (tq_opt *o = opts; o && o->name; o++)
        if (strlen(o->name) == n && strncmp(o->name, name, n) == 0)
            return o;
    return NULL;
}

int tq_cli_parse(const char *cmd, int argc, char **argv, tq_opt *opts, const char **pos,
                 int maxpos, int *npos)
{
    int only_pos = 0;
    *npos = 0;
    for (int i = 0; i < argc; i++) {
        const char *a = argv[i];
        if (!only_pos && (strcmp(a, "--help") == 0 || strcmp(a, "-h") == 0))
            return -1;
        if (!only_pos && strcmp(a, "--") == 0) {
            only_pos = 1;
            continue;
        }
        if (!only_pos && a[0] == '-' && a[1] != '\0') {
            const char *name = a + (a[1] == '-' ? 2 : 1);
            if (a[1] != '-' && strlen(name) != 1)
                return tq_cli_usage(cmd, "unknown option '%s'", a);
            const char *eq = strchr(name, '=');
            size_t n = eq ? (size_t)(eq - name) : strlen(name);
            tq_opt *o = find_opt(opts, name, n);
            if (o == NULL)
                return tq_cli_usage(cmd, "unknown option '%s'", a);
            if (!o->has_arg) {
                if (eq)
                    return tq_cli_usage(cmd, "option '--%s' takes no value", o->name);
                *o->value = "1";
            } else {
                const char *v;
                if (eq) {
                    v = eq + 1;
                } else {
                    if (i + 1 >= argc)
                        return tq_cli_usage(cmd, "option '%s' needs a value", a);
                    v = argv[++i];
                }
                if (o->has_arg == TQ_OPT_LIST) {
                    int k = 0;
                    while (k < TQ_OPT_LIST_MAX && o->value[k])
                        k++;
                    if (k == TQ_OPT_LIST_MAX)
                        return tq_cli_usage(cmd, "option '--%s' given more than %d times",
                                            o->name, TQ_OPT_LIST_MAX);
                    o->value[k] = v;
                } else {
                    *o->value = v;
                }
            }
            if (strcmp(o->name, "quiet") == 0)
                tq_cli_quiet = 1;
            continue;
        }
        if (*npos >= maxpos)
            return tq_cli_usage(cmd, "unexpected argument '%s'", a);
        pos[(*npos)++] = a;
    }
    return 0;
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
