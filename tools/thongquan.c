/* thongquan.c - the command line entry point: finds the subcommand and hands over.
 *
 * Every subcommand lives in a cmd_*.c file and is a thin layer: it parses arguments,
 * calls the engine/ or formats/ library, prints messages in one style
 * ("thongquan: FILE: line N (seq N): field 'F': why") and picks the exit status from
 * the table in tq_cli.h.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "tq_cli.h"

#ifndef TQ_VERSION_STRING
#define TQ_VERSION_STRING "dev"
#endif

static const char usage[] =
    "usage: thongquan COMMAND [ARGS]\n"
    "\n"
    "Replay a backlog of customs declaration events against payments and permits,\n"
    "decide every declaration by fixed rules, store the decisions durably, report.\n"
    "\n"
    "commands:\n"
    "  journal pack EVENTS.ndjson -o J.tqj   pack NDJSON events into a journal ('-' = stdin)\n"
    "  journal cat J.tqj                     print a journal back as NDJSON, with \"seq\"\n"
    "  journal verify J.tqj                  check checksums, seq range and tail\n"
    "  load payments|permits FILE.csv --db DIR   load a payments or permits file\n"
    "  replay J.tqj --db DIR                 decide the journal's declarations\n"
    "  reconcile --db DIR                    re-decide HELD declarations and report\n"
    "  export decisions|permits --db DIR     write the decisions or permit use as CSV\n"
    "  export changes --db DIR --since N     the change feed after N, exactly once\n"
    "  list --db DIR [--office C --state S]  the declarations matching filters\n"
    "  worklist --db DIR --out DIR           per-office CSVs of what officers must clear\n"
    "  explain DECL_NO --db DIR              why a declaration is where it is\n"
    "  stat --db DIR                         counts, map use, journals replayed\n"
    "  gen --declarations N --out DIR        make a realistic synthetic backlog\n"
    "  check --db DIR                        verify every page, key and value of a database\n"
    "  backup --db DIR OUT                   a consistent, compacted copy while writers run\n"
    "  nightly --inbox DIR --db DIR          load the inbox's files once each, reconcile\n"
    "  upgrade --db DIR [--journal J.tqj]    bring a database to the current store format\n"
    "\n"
    "'thongquan COMMAND --help' (or 'thongquan help COMMAND') explains a command with an\n"
    "example; thongquan(1) is the manual, docs/RUNBOOK.md the post-incident runbook.\n"
    "exit status: 0 ok, 1 input errors, 2 usage, 3 database busy, 4 I/O error or full\n"
    "disk, 5 corrupt journal or database, 6 internal error, 7 nothing new (nightly),\n"
    "8 permission denied, 128+N stopped by signal N after committing (130 for Ctrl-C).\n";

/* finish() - a failed write to standard output is an error, never silence: the record
 * of what a command did (a JSON report of skipped ranges, an export) may be all the
 * operator gets.  It is said even when the command failed for another reason (a replay
 * that skipped corrupt frames exits 5, and its --json record is what was lost); a
 * command that exited 4 has said it already.  A success becomes exit 4. */
static int finish(int status)
{
    errno = 0;
    if (fflush(stdout) == 0 && !ferror(stdout))
        return status;
    int e = errno;
    if (status != TQ_EXIT_IO)
        tq_cli_error(TQ_EXIT_IO, "cannot write standard output: %s",
                     e ? strerror(e) : "write error");
    return status == TQ_EXIT_OK ? TQ_EXIT_IO : status;
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        fputs(usage, stderr);
        return TQ_EXIT_USAGE;
    }
    const char *cmd = argv[1];
    /* "thongquan help replay" is "thongquan replay --help", as with git. */
    static char help_opt[] = "--help";
    char *help_argv[4];
    if (strcmp(cmd, "help") == 0 && argc > 2) {
        help_argv[0] = argv[0];
        help_argv[1] = argv[2];
        help_argv[2] = help_opt;
        help_argv[3] = NULL;
        cmd = argv[2];
        argc = 3;
        argv = help_argv;
    } else if (strcmp(cmd, "--help") == 0 || strcmp(cmd, "-h") == 0 ||
               strcmp(cmd, "help") == 0) {
        fputs(usage, stdout);
        return TQ_EXIT_OK;
    }
    if (strcmp(cmd, "--version") == 0 || strcmp(cmd, "-V") == 0) {
        printf("thongquan %s\n", TQ_VERSION_STRING);
        return TQ_EXIT_OK;
    }
    static const struct {
        const char *name;
        int (*fn)(int, char **);
    } cmds[] = {
        {"journal", tq_cmd_journal}, {"load", tq_cmd_load},     {"replay", tq_cmd_replay},
        {"reconcile", tq_cmd_reconcile}, {"export", tq_cmd_export}, {"stat", tq_cmd_stat},
        {"gen", tq_cmd_gen}, {"explain", tq_cmd_explain}, {"check", tq_cmd_check},
        {"backup", tq_cmd_backup}, {"nightly", tq_cmd_nightly},
        {"list", tq_cmd_list}, {"worklist", tq_cmd_worklist},
        {"upgrade", tq_cmd_upgrade},
    };
    for (size_t i = 0; i < sizeof cmds / sizeof cmds[0]; i++)
        if (strcmp(cmd, cmds[i].name) == 0) {
            tq_cli_cleanup_on_signals();
            return finish(cmds[i].fn(argc - 2, argv + 2));
        }
    fprintf(stderr, "thongquan: unknown command '%s'\n", cmd);
    fputs(usage, stderr);
    return TQ_EXIT_USAGE;
}
