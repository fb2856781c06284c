/* tq_cli.h - what the thongquan subcommands share: exit statuses, messages, options,
 * progress and signal handling.  Everything here is presentation; the work is done by
 * the engine/ and formats/ libraries.
 *
 * Conventions for every function below unless it says otherwise.  Errors: a function
 * that can fail prints why ("thongquan: ...") and returns the exit status (0 when it
 * went well); none returns a library code.  Ownership: strings and buffers passed in
 * are borrowed for the call.  Threads: call from main's thread, except the messages
 * (tq_cli_error, tq_cli_warn, tq_cli_diag), which any thread may call (they lock
 * stderr); a tq_progress is used by one thread at a time. */
#ifndef TQ_CLI_H
#define TQ_CLI_H

#include <stdint.h>
#include <stdio.h>

#include "tq_error.h"
#include "tq_export.h"
#include "tq_json.h"
#include "tq_store.h"

/* Exit statuses (documented in README.md and thongquan(1)). */
enum {
    TQ_EXIT_OK = 0,
    TQ_EXIT_INPUT = 1,       /* the input had errors; nothing applied unless skipped */
    TQ_EXIT_USAGE = 2,
    TQ_EXIT_BUSY = 3,        /* another writer holds the database */
    TQ_EXIT_IO = 4,          /* I/O error or full disk; database at its last commit */
    TQ_EXIT_CORRUPT = 5,     /* corrupt journal or database (or not the journal replayed
                              * before); the message says which */
    TQ_EXIT_SOFTWARE = 6,    /* database error or other internal failure */
    TQ_EXIT_NOTHING = 7,     /* nothing new to do (nightly only) */
    TQ_EXIT_PERM = 8         /* permission denied (the message names the path) */
};

/* tq_cli_exit_for() - the exit status for a library error code. */
TQ_MUST_USE int tq_cli_exit_for(int err);

/* Messages: "thongquan: ..." on stderr.  tq_cli_error() returns the exit status given. */
int tq_cli_error(int status, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void tq_cli_warn(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* tq_cli_diag() - "thongquan: FILE: line N (seq N): field 'F': why". */
void tq_cli_diag(const char *file, const tq_diag *d);
/* tq_cli_diags: the bad rows or lines of one input, each said with tq_cli_diag() up to
 * TQ_CLI_DIAGS_SHOWN and only counted past that (a tq_diag_cap), so a file of a million
 * bad rows does not bury the terminal.  A library's per-row error callback:
 *     tq_cli_diags r;
 *     tq_cli_diags_init(&r, path);
 *     lo.on_error = tq_cli_diags_say;  lo.ctx = &r;      // tq_load_file, tq_journal_pack
 *     ...
 *     tq_cli_diags_more(&r, "rows");   // "thongquan: PATH: ... and 7 more bad rows"
 * Threads: one tq_cli_diags is used by one thread at a time. */
typedef struct tq_cli_diags {
    const char *file;        /* names the input in each message (borrowed) */
    tq_diag_cap cap;         /* counts them all, passes the first TQ_CLI_DIAGS_SHOWN on */
} tq_cli_diags;
#define TQ_CLI_DIAGS_SHOWN 50
/* tq_cli_diags_init() - r says the bad rows of file (borrowed, outlives r). */
void tq_cli_diags_init(tq_cli_diags *r, const char *file);
/* tq_cli_diags_say() - the callback (ctx is the tq_cli_diags): count d, and say it
 * while under the limit. */
void tq_cli_diags_say(void *ctx, const tq_diag *d);
/* tq_cli_diags_more() - past the limit, how many more bad `what` there were. */
void tq_cli_diags_more(const tq_cli_diags *r, const char *what);
/* tq_cli_usage() - print "thongquan: msg" and a hint to --help; returns TQ_EXIT_USAGE. */
TQ_MUST_USE int tq_cli_usage(const char *cmd, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

/* -q/--quiet and -v/--verbose, which every subcommand accepts (tq_cli_parse adds them):
 *   quiet: only errors and warnings on stderr; no summary, no progress line, no
 *     "done" message.  What a command exists to print is still printed: journal cat's
 *     events, export's CSV, explain's report, and anything asked for with --json.
 *   verbose: extra detail where a command has it; every command says on stderr, as
 *     it exits, what the run cost ("thongquan: replay: 1.234 s, peak memory 52.1 MiB").
 *   Both given: quiet wins. */
extern int tq_cli_quiet;
extern int tq_cli_verbose;

/* Option parsing (cli_opts.c, on getopt_long): a small table per subcommand.  A name
 * of one letter is a short option ("o" is -o; "-ofile", "-o file"); a longer name is a
 * long option ("--db DIR", "--db=DIR", or any unambiguous prefix: "--thre 2").  Short
 * flags bundle ("-qv").  Options may appear anywhere among the positionals; "--" ends
 * them ("-" alone is a positional).  Two names with the same value pointer are
 * aliases.  Every command also has -h/--help, -q/--quiet and -v/--verbose (above): a
 * row named quiet/q/verbose/v in a table is set too, for commands that read their own.
 * An unknown option, an ambiguous prefix (the message lists the candidates), a
 * missing value or a value given to a flag: a message naming the option and
 * TQ_EXIT_USAGE.  A command's table need not list colour options: thongquan writes no
 * colour, and NO_COLOR would be honoured if it ever does (see cli_progress.c). */
typedef struct tq_opt {
    const char *name;        /* "db" for --db; a one-letter name is the short option -x */
    int has_arg;             /* 0 flag, 1 one value, TQ_OPT_LIST a repeatable value */
    const char **value;      /* receives the argument (or "1" for a flag); for a list,
                              * an array of TQ_OPT_LIST_MAX + 1 NULLs filled in order */
} tq_opt;
#define TQ_OPT_LIST 2
#define TQ_OPT_LIST_MAX 16

/* tq_cli_parse() - fills opts' values and the positionals (at most maxpos), for the
 * arguments after the subcommand's name (argv[0] is the first of them); argv is not
 * changed.  Not thread-safe (getopt's globals): call it from main's thread.
 * @return 0, or TQ_EXIT_USAGE after printing why.  "--help"/"-h" returns -1. */
TQ_MUST_USE int tq_cli_parse(const char *cmd, int argc, char **argv, tq_opt *opts, const char **pos,
                 int maxpos, int *npos);

/* A subcommand says once what it takes, in a tq_cli_cmd, and tq_cli_main() does the
 * rest the same way for every command: it parses (tq_cli_parse), answers --help with
 * the help text, says "needs ..." when there are fewer positionals than the command
 * takes, runs the command's own checks, opens the database when the command reads or
 * writes one (tq_cli_open_store: "needs --db DIR" without --db), runs the command and
 * closes the database.  A command:
 *     export_args a = {0};
 *     tq_opt opts[] = {{"db", 1, &a.db}, {"json", 0, &a.json}, {NULL, 0, NULL}};
 *     tq_cli_cmd c = {.name = "export", .help = help_export, .opts = opts, .minpos = 1,
 *                     .maxpos = 1, .needs = "needs decisions, permits or changes",
 *                     .store = TQ_CLI_READ, .db = &a.db, .check = export_check,
 *                     .run = export_run, .args = &a};
 *     return tq_cli_main(&c, argc, argv);
 * A command whose opening of the database waits on something of its own (an input
 * opened first, several opens) says TQ_CLI_NO_STORE and calls tq_cli_open_store(). */
enum {
    TQ_CLI_NO_STORE = 0,     /* tq_cli_main opens no database */
    TQ_CLI_READ,             /* opens --db as a reader */
    TQ_CLI_WRITE             /* opens --db as the writer (creating it when missing) */
};
#define TQ_CLI_POS_MAX 2
typedef struct tq_cli_cmd tq_cli_cmd;
struct tq_cli_cmd {
    const char *name;        /* "export", "journal pack": what the messages call it */
    const char *help;        /* the --help text (tq_cli_help adds the common options) */
    tq_opt *opts;            /* its options, a row with a NULL name last */
    int minpos, maxpos;      /* how many positionals it takes (maxpos <= TQ_CLI_POS_MAX);
                              * more than maxpos: "unexpected argument 'X'" */
    const char *needs;       /* fewer than minpos: "thongquan NAME: <needs>", exit 2 */
    int store;               /* TQ_CLI_NO_STORE, TQ_CLI_READ or TQ_CLI_WRITE */
    const char *const *db;   /* where --db's value lands (NULL: no --db) */
    int db_first;            /* 1: no --db is said before check(); 0: when the store opens */
    const char *const *nosync;   /* TQ_CLI_WRITE: --no-sync's value, or NULL */
    int (*check)(tq_cli_cmd *c); /* its own checks of the values, before the database is
                                  * opened: 0 to go on, else the exit status (said); or NULL */
    int (*run)(tq_cli_cmd *c);   /* the work: the exit status */
    void *args;              /* the command's values, for check and run */
    /* filled by tq_cli_main() */
    const char *pos[TQ_CLI_POS_MAX];
    int npos;
    tq_store *s;             /* the open database (TQ_CLI_READ, TQ_CLI_WRITE), closed after
                              * run; NULL otherwise */
};

/* tq_cli_main() - run the command c describes on the arguments after its name.
 * @return the exit status: TQ_EXIT_OK after the help, TQ_EXIT_USAGE after saying what
 *         is wrong with the arguments, check's or the open's failure, or run's status.
 * Threads: main's thread (as tq_cli_parse()). */
TQ_MUST_USE int tq_cli_main(tq_cli_cmd *c, int argc, char **argv);

/* tq_cli_help() - a command's --help text on stdout, then the paragraph on the options
 * every command has; returns TQ_EXIT_OK. */
TQ_MUST_USE int tq_cli_help(const char *text);

/* tq_cli_u64() - parse a whole decimal number for option name; TQ_EXIT_USAGE on error. */
TQ_MUST_USE int tq_cli_u64(const char *cmd, const char *name, const char *s, uint64_t *out);

/* tq_cli_fancy_stderr() - 1 when stderr is a terminal and TERM is not "dumb": only then
 * may a '\r' redraw or an escape sequence be written there.
 * tq_cli_colour() - 1 when colour could be used: tq_cli_fancy_stderr() and NO_COLOR
 * unset or empty.  Nothing is coloured today; anything that ever is asks this first. */
TQ_MUST_USE int tq_cli_fancy_stderr(void);
TQ_MUST_USE int tq_cli_colour(void);

/* Progress on a terminal: a single line on stderr, redrawn at most 4 times a second,
 * never when stderr is not a terminal, with TERM=dumb or with --quiet (so a pipe, a
 * log file, an Emacs shell or cron never sees a '\r').
 * "what: done/total (P%) unit, rate/s, ETA Ns[, note]". */
typedef struct tq_progress {
    const char *what;
    const char *unit;        /* what tq_progress_step counts: TQ_PROGRESS_BYTES (as set by
                              * tq_progress_init) or a word ("declarations") */
    double start, last;
    int active, drawn;
    char note[64];           /* appended after the figures when not empty */
} tq_progress;
#define TQ_PROGRESS_BYTES NULL   /* unit: done and total are bytes, shown in KiB/MiB/GiB */
void tq_progress_init(tq_progress *p, const char *what);
void tq_progress_update(tq_progress *p, uint64_t done, uint64_t total, const char *unit);
/* tq_progress_step() - a library's progress callback (tq_load_opts.progress,
 * tq_gen_opts.progress) with the tq_progress as its ctx: tq_progress_update() in p->unit. */
void tq_progress_step(void *p, uint64_t done, uint64_t total);
/* tq_progress_elapsed() - for work whose size is unknown: "what: 12 s, note". */
void tq_progress_elapsed(tq_progress *p);
void tq_progress_done(tq_progress *p);

/* Used by the message and progress code to keep the progress line and messages apart:
 * tq_cli_progress_shown() after drawing; tq_cli_erase_progress_locked() with stderr
 * locked, before printing a message. */
void tq_cli_progress_shown(void);
void tq_cli_erase_progress_locked(void);

/* Figures (cli_format.c).  tq_cli_group() - v with thousands separators ("12,500,000")
 * in out; returns out. */
char *tq_cli_group(uint64_t v, char out[32]);

/* Signals (cli_signal.c).  tq_cli_cleanup_on_signals(), called by main() for every
 * command: SIGINT, SIGTERM, SIGHUP, SIGPIPE and SIGQUIT remove the temporary files of
 * unfinished outputs (tq_out) before the process dies by the signal.
 * tq_cli_catch_signals(): a command that can stop cleanly asks for the first SIGINT,
 * SIGTERM or SIGHUP to set tq_cli_stop and tq_cli_signal instead (it then exits
 * 128 + tq_cli_signal); the next one ends the process, cleaning up the same way. */
extern volatile int tq_cli_stop;
extern volatile int tq_cli_signal;
void tq_cli_cleanup_on_signals(void);
void tq_cli_catch_signals(void);

/* Outputs go through formats/tq_out.h (tq_out_open / tq_out_commit). */

/* tq_cli_open_store() - open dir for cmd (writer: take the lock, create when missing),
 * printing why not: busy (naming the holder) is TQ_EXIT_BUSY, no database for a reader
 * is TQ_EXIT_INPUT, no --db is TQ_EXIT_USAGE, a permission problem is TQ_EXIT_PERM with
 * "permission denied" and the path; any other failure says the system's reason with
 * the path (the store's tq_diag), e.g. "Not a directory".  TQ_MAP_SIZE in the environment sets the
 * initial map of a new database (tests use a tiny one).  @return 0 or the exit status. */
TQ_MUST_USE int tq_cli_open_store(const char *cmd, const char *dir, int write, int nosync,
                                  tq_store **s);

/* File-system helpers (cli_files.c).  tq_cli_mkdirs() - mkdir -p.  @return 0 or -1 with errno. */
TQ_MUST_USE int tq_cli_mkdirs(const char *dir);

/* tq_cli_tmpfile() - an anonymous read-write file in $TMPDIR (default /tmp), as sort(1)
 * and git use it: unlike tmpfile(3), the operator can move big temporaries off a small
 * /tmp.  @return NULL with errno set on failure. */
FILE *tq_cli_tmpfile(void);

/* tq_cli_utc_now() - (cli_format.c) the time now as "2024-08-07T02:30:00Z". */
void tq_cli_utc_now(char out[32]);

/* Summaries of the declarations (cli_summary.c), as text lines or JSON members. */
void tq_cli_print_tally_text(FILE *f, const tq_tally *t);
void tq_cli_print_by_reason_text(FILE *f, const char *lead, const uint64_t *by_reason);

/* --json (cli_json.c).  Every command that prints a summary takes --json and then prints
 * one JSON object on stdout instead of its text, with "schema": 1 as its first member
 * (the number goes up when a member changes meaning or goes away, never for a new
 * member), always, -q or not.  All of it is written with formats/tq_json.h:
 *     tq_json j;
 *     tq_cli_json_begin(&j, stdout);               // {"schema":1
 *     tq_json_kv_string(&j, "file", path);         // any bytes: valid UTF-8 out
 *     tq_json_kv_u64(&j, "rows", n);
 *     return tq_cli_json_end(&j);                  // }\n, flush; exit status
 * tq_cli_json_end() returns TQ_EXIT_OK, or TQ_EXIT_IO after saying the write failed
 * ("cannot write standard output: No space left on device"; stdout's error flag is then
 * cleared so that main() does not say it a second time), or TQ_EXIT_SOFTWARE if the
 * writer was misused.  A command that already has a worse status keeps it. */
#define TQ_CLI_JSON_SCHEMA 1
void tq_cli_json_begin(tq_json *j, FILE *f);
TQ_MUST_USE int tq_cli_json_end(tq_json *j);
/* tq_cli_json_begin_journal() - tq_cli_json_begin() on stdout for a report on one
 * journal (verify, replay, replay --fill-gap): then "journal": path and id_key ("id",
 * "journal_id"): the journal's id in 32 hex digits. */
void tq_cli_json_begin_journal(tq_json *j, const char *path, const char *id_key,
                               const uint8_t *id);
/* tq_cli_json_u64s() - whole-number members from a table, in its order, so a summary's
 * figures read as a list of (key, value):
 *     TQ_CLI_JSON_U64S(&j, {"rows", st.rows}, {"new", st.added});
 * Threads: as the tq_json. */
typedef struct tq_cli_kv {
    const char *key;
    uint64_t v;
} tq_cli_kv;
void tq_cli_json_u64s(tq_json *j, const tq_cli_kv *m, size_t n);
#define TQ_CLI_JSON_U64S(j, ...)                                                          \
    tq_cli_json_u64s((j), (const tq_cli_kv[]){__VA_ARGS__},                               \
                     sizeof((const tq_cli_kv[]){__VA_ARGS__}) / sizeof(tq_cli_kv))
/* tq_cli_json_tally() - the tally as members ("declarations", "states", ...). */
void tq_cli_json_tally(tq_json *j, const tq_tally *t);
/* tq_cli_json_by_reason() - an object with every reason, zeros included, as a value. */
void tq_cli_json_by_reason(tq_json *j, const uint64_t *by_reason);

/* tq_cli_counting() - a FILE that writes through to under (not owned) and counts the
 * lines and bytes that went through in *lines and *bytes (zeroed here).  fclose() it
 * (it flushes into under, which stays open); a failed write to under is a failed write
 * to it.  @return NULL when out of memory. */
FILE *tq_cli_counting(FILE *under, uint64_t *lines, uint64_t *bytes);

/* tq_cli_hex_id() - a journal id as 32 lowercase hex digits (cli_format.c): the
 * journal-id shorthand of formats/tq_num.h's tq_hex(). */
void tq_cli_hex_id(const uint8_t *id, char out[2 * TQ_JOURNAL_ID_LEN + 1]);

/* tq_cli_now() - seconds on the monotonic clock, for durations (cli_progress.c). */
double tq_cli_now(void);

/* Subcommands. */
TQ_MUST_USE int tq_cmd_journal(int argc, char **argv);
TQ_MUST_USE int tq_cmd_load(int argc, char **argv);
TQ_MUST_USE int tq_cmd_replay(int argc, char **argv);
TQ_MUST_USE int tq_cmd_reconcile(int argc, char **argv);
TQ_MUST_USE int tq_cmd_export(int argc, char **argv);
TQ_MUST_USE int tq_cmd_stat(int argc, char **argv);
TQ_MUST_USE int tq_cmd_gen(int argc, char **argv);
TQ_MUST_USE int tq_cmd_explain(int argc, char **argv);
TQ_MUST_USE int tq_cmd_check(int argc, char **argv);     /* cmd_check.c: check and backup */
TQ_MUST_USE int tq_cmd_backup(int argc, char **argv);
TQ_MUST_USE int tq_cmd_nightly(int argc, char **argv);   /* cmd_nightly.c */
TQ_MUST_USE int tq_cmd_list(int argc, char **argv);      /* cmd_list.c */
TQ_MUST_USE int tq_cmd_worklist(int argc, char **argv);  /* cmd_worklist.c */
TQ_MUST_USE int tq_cmd_upgrade(int argc, char **argv);   /* cmd_upgrade.c */

#endif
