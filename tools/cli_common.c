/* cli_common.c - messages, option parsing, progress, signals and atomic output files
 * shared by the thongquan subcommands. */
#include "tq_cli.h"

#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <signal.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

int tq_cli_quiet = 0;
volatile int tq_cli_stop = 0;
volatile int tq_cli_signal = 0;

int tq_cli_exit_for(int err)
{
    switch (err) {
    case TQ_OK: return TQ_EXIT_OK;
    case TQ_ERR_INPUT: return TQ_EXIT_INPUT;
    case TQ_ERR_BUSY: return TQ_EXIT_BUSY;
    case TQ_ERR_IO:
    case TQ_ERR_FULL: return TQ_EXIT_IO;
    case TQ_ERR_CORRUPT:
    case TQ_ERR_TORN:
    case TQ_ERR_MISMATCH:
    case TQ_ERR_VERSION: return TQ_EXIT_CORRUPT;
    case TQ_ERR_INTERRUPTED: return 128 + (tq_cli_signal ? tq_cli_signal : SIGINT);
    default: return TQ_EXIT_SOFTWARE;
    }
}

static void vmessage(const char *fmt, va_list ap)
{
    fputs("thongquan: ", stderr);
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
}

int tq_cli_error(int status, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vmessage(fmt, ap);
    va_end(ap);
    return status;
}

void tq_cli_warn(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vmessage(fmt, ap);
    va_end(ap);
}

void tq_cli_diag(const char *file, const tq_diag *d)
{
    char where[64] = "";
    if (d->line && d->seq)
        snprintf(where, sizeof where, "line %llu (seq %llu): ", (unsigned long long)d->line,
                 (unsigned long long)d->seq);
    else if (d->line)
        snprintf(where, sizeof where, "line %llu: ", (unsigned long long)d->line);
    else if (d->seq)
        snprintf(where, sizeof where, "seq %llu: ", (unsigned long long)d->seq);
    fprintf(stderr, "thongquan: %s: %sfield '%s': %s\n", file, where, d->field, d->why);
}

int tq_cli_usage(const char *cmd, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fputs("thongquan: ", stderr);
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
    va_end(ap);
    fprintf(stderr, "Try 'thongquan %s --help'.\n", cmd);
    return TQ_EXIT_USAGE;
}

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
            } else if (eq) {
                *o->value = eq + 1;
            } else {
                if (i + 1 >= argc)
                    return tq_cli_usage(cmd, "option '%s' needs a value", a);
                *o->value = argv[++i];
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

double tq_cli_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

void tq_progress_init(tq_progress *p, const char *what)
{
    p->what = what;
    p->start = p->last = tq_cli_now();
    p->active = !tq_cli_quiet && isatty(STDERR_FILENO);
}

void tq_progress_update(tq_progress *p, uint64_t done, uint64_t total, const char *unit)
{
    if (!p->active)
        return;
    double now = tq_cli_now();
    if (now - p->last < 0.25)
        return;
    p->last = now;
    double el = now - p->start;
    double rate = el > 0 ? (double)done / el : 0;
    fprintf(stderr, "\r\033[K%s: %llu", p->what, (unsigned long long)done);
    if (total)
        fprintf(stderr, "/%llu (%.0f%%)", (unsigned long long)total,
                100.0 * (double)done / (double)total);
    fprintf(stderr, " %s, %.0f/s", unit, rate);
    if (total && rate > 0 && done < total)
        fprintf(stderr, ", ETA %.0fs", (double)(total - done) / rate);
    fflush(stderr);
}

void tq_progress_done(tq_progress *p)
{
    if (p->active && p->last != p->start)
        fputs("\r\033[K", stderr);
}

static void on_signal(int sig)
{
    tq_cli_stop = 1;
    tq_cli_signal = sig;
    /* A second signal ends the process at once: the store is durable either way. */
    signal(sig, SIG_DFL);
}

void tq_cli_catch_signals(void)
{
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_signal;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
}

int tq_cli_open_output(tq_output *o, const char *path)
{
    memset(o, 0, sizeof *o);
    if (path == NULL || strcmp(path, "-") == 0) {
        o->fp = stdout;
        return 0;
    }
    o->path = strdup(path);
    size_t n = strlen(path) + 32;
    o->tmp = malloc(n);
    if (o->path == NULL || o->tmp == NULL)
        return -1;
    snprintf(o->tmp, n, "%s.tmp.%ld", path, (long)getpid());
    o->fp = fopen(o->tmp, "wb");
    if (o->fp == NULL)
        return -1;
    return 0;
}

int tq_cli_close_output(tq_output *o, int ok)
{
    int rc = 0;
    if (o->fp == stdout) {
        if (fflush(stdout) != 0)
            rc = -1;
        return rc;
    }
    if (o->fp) {
        if (ok && (fflush(o->fp) != 0 || fsync(fileno(o->fp)) != 0))
            ok = 0, rc = -1;
        if (fclose(o->fp) != 0)
            ok = 0, rc = -1;
    }
    if (o->tmp) {
        if (ok && rename(o->tmp, o->path) == 0) {
            char *dup = strdup(o->path);
            if (dup) {
                int dfd = open(dirname(dup), O_RDONLY | O_DIRECTORY);
                if (dfd >= 0) {
                    fsync(dfd);
                    close(dfd);
                }
                free(dup);
            }
        } else {
            unlink(o->tmp);
            if (ok)
                rc = -1;
        }
    }
    free(o->path);
    free(o->tmp);
    memset(o, 0, sizeof *o);
    return rc;
}

void tq_json_str(FILE *f, const char *s)
{
    fputc('"', f);
    for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
        if (*p == '"' || *p == '\\')
            fprintf(f, "\\%c", *p);
        else if (*p < 0x20)
            fprintf(f, "\\u%04x", *p);
        else
            fputc(*p, f);
    }
    fputc('"', f);
}
