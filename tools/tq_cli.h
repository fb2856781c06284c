/* tq_cli.h - what the thongquan subcommands share: exit statuses, messages, options,
 * progress and signal handling.  Everything here is presentation; the work is done by
 * the engine/ and formats/ libraries. */
#ifndef TQ_CLI_H
#define TQ_CLI_H

#include <stdint.h>
#include <stdio.h>

#include "tq_error.h"

/* Exit statuses (documented in README.md and thongquan(1)). */
enum {
    TQ_EXIT_OK = 0,
    TQ_EXIT_INPUT = 1,       /* the input had errors; nothing applied unless skipped */
    TQ_EXIT_USAGE = 2,
    TQ_EXIT_BUSY = 3,        /* another writer holds the database */
    TQ_EXIT_IO = 4,          /* I/O error or full disk; database at its last commit */
    TQ_EXIT_CORRUPT = 5,     /* corrupt journal (or not the journal replayed before) */
    TQ_EXIT_SOFTWARE = 6,    /* database error or other internal failure */
    TQ_EXIT_NOTHING = 7      /* nightly job: nothing to do (tools/nightly only) */
};

/* tq_cli_exit_for() - the exit status for a library error code. */
int tq_cli_exit_for(int err);

/* Messages: "thongquan: ..." on stderr.  tq_cli_error() returns the exit status given. */
int tq_cli_error(int status, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void tq_cli_warn(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* tq_cli_diag() - "thongquan: FILE: line N (seq N): field 'F': why". */
void tq_cli_diag(const char *file, const tq_diag *d);
/* tq_cli_usage() - print "thongquan: msg" and a hint to --help; returns TQ_EXIT_USAGE. */
int tq_cli_usage(const char *cmd, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

extern int tq_cli_quiet;     /* --quiet: no progress, no summary on stdout */

/* Option parsing: a small table per subcommand; options may appear anywhere among the
 * positional arguments, "--opt value" or "--opt=value"; "--" ends options. */
typedef struct tq_opt {
    const char *name;        /* "db" for --db; a one-letter name also matches -x */
    int has_arg;
    const char **value;      /* receives the argument (or "1" for a flag) */
} tq_opt;

/* tq_cli_parse() - fills opts' values and the positionals (at most maxpos).
 * @return 0, or TQ_EXIT_USAGE after printing why.  "--help"/"-h" returns -1. */
int tq_cli_parse(const char *cmd, int argc, char **argv, tq_opt *opts, const char **pos,
                 int maxpos, int *npos);

/* tq_cli_u64() - parse a whole decimal number for option name; TQ_EXIT_USAGE on error. */
int tq_cli_u64(const char *cmd, const char *name, const char *s, uint64_t *out);

/* Progress on a terminal: a single line on stderr, redrawn at most 4 times a second,
 * never when stderr is not a terminal or with --quiet. */
typedef struct tq_progress {
    const char *what;
    double start, last;
    int active;
} tq_progress;
void tq_progress_init(tq_progress *p, const char *what);
void tq_progress_update(tq_progress *p, uint64_t done, uint64_t total, const char *unit);
void tq_progress_done(tq_progress *p);

/* Signals: SIGINT and SIGTERM set tq_cli_stop (and the next one kills as usual). */
extern volatile int tq_cli_stop;
extern volatile int tq_cli_signal;
void tq_cli_catch_signals(void);

/* tq_cli_open_output() - "-" or NULL is stdout; otherwise a temporary file beside path
 * that tq_cli_close_output() fsyncs and renames into place (or removes on failure). */
typedef struct tq_output {
    FILE *fp;
    char *path, *tmp;
} tq_output;
int tq_cli_open_output(tq_output *o, const char *path);
int tq_cli_close_output(tq_output *o, int ok);

/* Minimal JSON writing for --json and reports. */
void tq_json_str(FILE *f, const char *s);

double tq_cli_now(void);

/* Subcommands. */
int tq_cmd_journal(int argc, char **argv);
int tq_cmd_load(int argc, char **argv);
int tq_cmd_replay(int argc, char **argv);
int tq_cmd_reconcile(int argc, char **argv);
int tq_cmd_export(int argc, char **argv);
int tq_cmd_stat(int argc, char **argv);
int tq_cmd_gen(int argc, char **argv);

#endif
