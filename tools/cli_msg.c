/* cli_msg.c - messages on stderr ("thongquan: ..."), the exit status for an error code,
 * and the --help text every command ends with. */
#include "tq_cli.h"
#include "tq_num.h"

#include <signal.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <string.h>
#include <time.h>

int tq_cli_exit_for(int err)
{
    switch (err) {
    case TQ_OK: return TQ_EXIT_OK;
    case TQ_ERR_INPUT:
    case TQ_ERR_NOTFOUND: return TQ_EXIT_INPUT;   /* a named input that is not there */
    case TQ_ERR_BUSY: return TQ_EXIT_BUSY;
    case TQ_ERR_IO:
    case TQ_ERR_FULL: return TQ_EXIT_IO;
    case TQ_ERR_CORRUPT:
    case TQ_ERR_TORN:
    case TQ_ERR_MISMATCH:
    case TQ_ERR_DBCORRUPT:
    case TQ_ERR_LIMIT:          /* a journal whose frames exceed what a reader accepts */
    case TQ_ERR_VERSION: return TQ_EXIT_CORRUPT;
    case TQ_ERR_PERM: return TQ_EXIT_PERM;
    case TQ_ERR_EXISTS: return TQ_EXIT_USAGE;    /* refused to replace: add --force */
    case TQ_ERR_INTERRUPTED: return 128 + (tq_cli_signal ? tq_cli_signal : SIGINT);
    default: return TQ_EXIT_SOFTWARE;
    }
}

/* A progress line may be on the terminal: a message first erases it, under stderr's
 * lock, so the two never share a line. */
static _Atomic int progress_shown = 0;

void tq_cli_progress_shown(void)
{
    atomic_store(&progress_shown, 1);
}

void tq_cli_erase_progress_locked(void)
{
    if (atomic_exchange(&progress_shown, 0))
        fputs("\r\033[K", stderr);
}

static void vmessage(const char *fmt, va_list ap)
{
    flockfile(stderr);
    tq_cli_erase_progress_locked();
    fputs("thongquan: ", stderr);
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
    funlockfile(stderr);
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
    flockfile(stderr);
    tq_cli_erase_progress_locked();
    char where[64] = "";
    if (d->line && d->seq)
        snprintf(where, sizeof where, "line %llu (seq %llu): ", (unsigned long long)d->line,
                 (unsigned long long)d->seq);
    else if (d->line)
        snprintf(where, sizeof where, "line %llu: ", (unsigned long long)d->line);
    else if (d->seq)
        snprintf(where, sizeof where, "seq %llu: ", (unsigned long long)d->seq);
    fprintf(stderr, "thongquan: %s: %sfield '%s': %s\n", file, where, d->field, d->why);
    funlockfile(stderr);
}

static void diags_say_one(void *file, const tq_diag *d)
{
    tq_cli_diag(file, d);
}

void tq_cli_diags_init(tq_cli_diags *r, const char *file)
{
    r->file = file;
    r->cap = (tq_diag_cap){.max = TQ_CLI_DIAGS_SHOWN, .fn = diags_say_one, .ctx = (void *)file};
}

void tq_cli_diags_say(void *ctx, const tq_diag *d)
{
    tq_diag_cap_on_bad(&((tq_cli_diags *)ctx)->cap, d);
}

void tq_cli_diags_more(const tq_cli_diags *r, const char *what)
{
    uint64_t more = tq_diag_cap_more(&r->cap);
    if (more)
        tq_cli_warn("%s: ... and %llu more bad %s", r->file, (unsigned long long)more, what);
}

int tq_cli_usage(const char *cmd, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vmessage(fmt, ap);
    va_end(ap);
    fprintf(stderr, "Try 'thongquan %s --help'.\n", cmd);
    return TQ_EXIT_USAGE;
}
int tq_cli_help(const char *text)
{
    fputs(text, stdout);
    fputs("\n"
          "Every command also takes -q/--quiet (only errors: no summary, no progress; what\n"
          "the command exists to print and --json output still appear), -v/--verbose (more\n"
          "detail where there is some, and the time and memory used, on stderr) and\n"
          "-h/--help.  A long option may be cut to any unambiguous prefix and written\n"
          "with '=' before its value; short flags bundle (-qv); -- ends the options.  Progress\n"
          "is drawn only on a terminal whose TERM is not dumb; nothing is coloured.\n",
          stdout);
    return TQ_EXIT_OK;
}
