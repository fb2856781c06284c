/* cmd_export.c - the export command: decisions and permits as CSV. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "tq_cli.h"
#include "tq_export.h"
#include "tq_out.h"


/* ---- export ---- */

static const char help_export[] =
    "usage: thongquan export decisions|permits --db DIR [-o FILE.csv] [--json]\n"
    "       thongquan export changes --db DIR --since N [-o FILE] [--csv | --ndjson] [--json]\n"
    "\n"
    "Write the decisions (decl_no,state,version,reasons,tax_short,manual) or the permit\n"
    "use (permit_no,used,quota) as CSV sorted by key, from one consistent snapshot.\n"
    "-o FILE writes a temporary file beside FILE and renames it into place when complete\n"
    "(a symlink at FILE is replaced, never followed); a device, a FIFO, '-' or\n"
    "/dev/stdout is written in place.  --json (with -o FILE) prints what was written,\n"
    "rows and bytes, as one JSON object on stdout.\n"
    "\n"
    "changes: the change feed.  Every change of a declaration's decision (new, or another\n"
    "state, reasons, version or manual flag) has a number from one counter, committed with\n"
    "the decision.  Writes every change numbered above N, in order (CSV: change,decl_no,\n"
    "state,reasons,version,manual,cause,src_id,src_seq; cause is event, reconcile or\n"
    "upgrade; src_id and src_seq name the journal event), then 'last change: M' on stderr\n"
    "(not with -q; with --json and -o FILE, \"last_change\" in the JSON on stdout).\n"
    "Keep M and pass --since M next time: every change arrives exactly once.  Nothing new:\n"
    "the header alone (no line with --ndjson), exit 0.  N beyond the last change: exit 2,\n"
    "nothing written (the feed of another database, or one restored from a backup).\n"
    "\n"
    "examples:\n"
    "  thongquan export decisions --db /var/lib/thongquan/db -o decisions.csv\n"
    "  thongquan export changes --db /var/lib/thongquan/db --since 0 -o feed.csv\n";

/* export_changes() - the feed after --since into f, the last number into *lastp.
 * @return 0 with *err the library's code (TQ_OK or an error left to the caller), or the
 *         exit status of an error said here. */
static int export_changes(tq_store *s, FILE *f, uint64_t since, int ndjson, int *err,
                          uint64_t *lastp)
{
    uint64_t last = 0;
    int rc = tq_export_changes(s, f, since, ndjson, &last, NULL);
    *err = rc;
    *lastp = last;
    if (rc == TQ_ERR_INPUT)
        return tq_cli_error(TQ_EXIT_USAGE,
                            "export changes: --since %llu is beyond the last change (%llu) of "
                            "this database: was the feed read from another database, or this "
                            "one restored from an older backup? nothing written",
                            (unsigned long long)since, (unsigned long long)last);
    if (rc == TQ_ERR_VERSION)
        return tq_cli_error(TQ_EXIT_CORRUPT, "export changes: the database is of an older "
                            "format without the change feed; the first command that writes "
                            "to it (load, replay, reconcile) upgrades it in place");
    return 0;
}

/* print_json() - --json: what went where; last (the last change) only for changes. */
static int print_json(const char *what, const char *out, uint64_t rows, uint64_t bytes,
                      const uint64_t *last)
{
    tq_json j;
    tq_cli_json_begin(&j, stdout);
    tq_json_kv_string(&j, "what", what);
    tq_json_kv_string(&j, "output", out);
    tq_json_kv_u64(&j, "rows", rows);
    tq_json_kv_u64(&j, "bytes", bytes);
    if (last)
        tq_json_kv_u64(&j, "last_change", *last);
    return tq_cli_json_end(&j);
}

typedef struct export_args {
    const char *db, *out, *since, *csv, *ndjson, *json;
    int changes;             /* export changes */
    uint64_t since_n;        /* its --since */
} export_args;

static const char export_needs[] = "needs decisions, permits or changes";

/* export_check() - what to export, and options that go with it.  @return 0 or the exit
 * status (said). */
static int export_check(tq_cli_cmd *c)
{
    export_args *a = c->args;
    const char *what = c->pos[0], *out = a->out;
    a->changes = strcmp(what, "changes") == 0;
    if (!a->changes && strcmp(what, "decisions") != 0 && strcmp(what, "permits") != 0)
        return tq_cli_usage("export", "%s", export_needs);
    if (!a->changes && (a->since || a->csv || a->ndjson))
        return tq_cli_usage("export", "--since, --csv and --ndjson are for 'export changes'");
    if (a->changes && a->since == NULL)
        return tq_cli_usage("export", "export changes needs --since N (0: from the start)");
    if (a->changes && tq_cli_u64("export", "since", a->since, &a->since_n) != 0)
        return TQ_EXIT_USAGE;
    if (a->csv && a->ndjson)
        return tq_cli_usage("export", "give one of --csv and --ndjson");
    if (a->json && (out == NULL || strcmp(out, "-") == 0 || strcmp(out, "/dev/stdout") == 0))
        return tq_cli_usage("export", "--json needs -o FILE: the CSV would share stdout");
    return 0;
}

static int export_run(tq_cli_cmd *c)
{
    const export_args *a = c->args;
    const char *out = a->out, *json = a->json, *ndjson = a->ndjson, *const *pos = c->pos;
    int changes = a->changes, rc;
    tq_store *s = c->s;
    tq_out o;
    tq_diag d;
    memset(&d, 0, sizeof d);
    if ((rc = tq_out_open(&o, out ? out : "-", 0, &d)) != TQ_OK)
        return tq_cli_error(tq_cli_exit_for(rc), "cannot create %s", d.why);
    FILE *f = tq_out_fp(&o);
    uint64_t lines = 0, bytes = 0;
    FILE *cf = f && json ? tq_cli_counting(f, &lines, &bytes) : f;
    int status = 0;
    uint64_t last = 0;
    if (cf == NULL)
        rc = TQ_ERR_NOMEM;
    else if (changes)
        status = export_changes(s, cf, a->since_n, ndjson != NULL, &rc, &last);
    else
        rc = pos[0][0] == 'd' ? tq_export_decisions(s, cf) : tq_export_permits(s, cf);
    if (cf && cf != f && fclose(cf) != 0 && rc == TQ_OK)
        rc = TQ_ERR_IO;
    if (status > 0) {
        tq_out_rollback(&o);
        return status;
    }
    if (rc != TQ_OK && o.err == 0) {
        tq_out_rollback(&o);
        return tq_cli_error(tq_cli_exit_for(rc), "export failed: %s", tq_strerror(rc));
    }
    /* a write error (its reason kept by tq_out) is reported by the commit, which then
     * removes the temporary file */
    if ((rc = tq_out_commit(&o, &d)) != TQ_OK)
        return tq_cli_error(tq_cli_exit_for(rc), "export failed: %s", d.why);
    /* Said only once the output is in place: a reader that keeps N must have the rows. */
    if (changes && !json && !tq_cli_quiet)
        fprintf(stderr, "last change: %llu\n", (unsigned long long)last);
    if (!json)
        return TQ_EXIT_OK;
    /* every output but NDJSON starts with a header line, which is not a row */
    return print_json(pos[0], out, lines && !(changes && ndjson) ? lines - 1 : lines, bytes,
                      changes ? &last : NULL);
}

int tq_cmd_export(int argc, char **argv)
{
    export_args a = {0};
    tq_opt opts[] = {{"db", 1, &a.db},       {"o", 1, &a.out},   {"output", 1, &a.out},
                     {"since", 1, &a.since}, {"csv", 0, &a.csv}, {"ndjson", 0, &a.ndjson},
                     {"json", 0, &a.json},
                     {NULL, 0, NULL}};
    tq_cli_cmd c = {.name = "export", .help = help_export, .opts = opts, .minpos = 1,
                    .maxpos = 1, .needs = export_needs, .store = TQ_CLI_READ, .db = &a.db,
                    .check = export_check, .run = export_run, .args = &a};
    return tq_cli_main(&c, argc, argv);
}
