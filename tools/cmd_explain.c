/* cmd_explain.c - thongquan explain: one declaration's decision, the facts behind it and,
 * from journals, its history, in words an operator can act on.
 *
 * The facts and findings come from engine/tq_explain.c (the same rules as the replay);
 * this file only words them.  It opens the database as a reader, so it works while a
 * replay or the nightly job is writing.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "tq_cli.h"
#include "tq_csv.h"
#include "tq_explain_print.h"
#include "tq_ndjson.h"

static const char help_explain[] =
    "usage: thongquan explain DECL_NO --db DIR [--journal J.tqj]... [--json]\n"
    "\n"
    "Show why a declaration is where it is: its state, version and the reasons of its\n"
    "last evaluation and the journal event (id, seq) that last changed it; its\n"
    "registration, office, kind, channel, officer results, tax and lines with their\n"
    "values; every payment and permit that bears on it, with each permit's validity,\n"
    "holder, hs prefixes, quota and use; and the rules applied now to what is loaded,\n"
    "one plain line per reason, so you can see whether a reconcile would clear it.\n"
    "The database keeps no history: --journal (repeatable) lists the declaration's\n"
    "events found in each journal, as NDJSON with their seq, how far that journal was\n"
    "replayed, and each officer result in it with whether it was applied (one that came\n"
    "after the declaration was final changed nothing).  A declaration stored before\n"
    "store format 3 has no office, kind or line values in the database: explain says\n"
    "so, and takes them from its DECL in a --journal.  Sums are in đồng.\n"
    "Reads only; safe while a replay runs.  Exit status 1 when DECL_NO is unknown.\n"
    "\n"
    "example:\n"
    "  thongquan explain 103456789012 --db /var/lib/thongquan/db --journal backlog.tqj\n";

/* ---- history ---- */

static void on_bad_frame(void *ctx, int err, const tq_frame_info *fi)
{
    const char *path = ctx;
    if (err == TQ_ERR_TORN)
        tq_cli_warn("%s: torn tail at byte %llu: events after it are not shown", path,
                    (unsigned long long)fi->offset);
    else if (fi->count)
        tq_cli_warn("%s: frame %llu (seq %llu..%llu) is corrupt: its events are not shown",
                    path, (unsigned long long)fi->index, (unsigned long long)fi->first_seq,
                    (unsigned long long)(fi->first_seq + fi->count - 1));
    else
        tq_cli_warn("%s: frame %llu at byte %llu is corrupt: events from it on are not shown",
                    path, (unsigned long long)fi->index, (unsigned long long)fi->offset);
}

/* history() - one journal's events for decl_no.  @return an exit status. */
static int history(tq_txn *t, const tq_explain *x, const tq_explain_journals *jv, int j,
                   const char *decl_no, tq_json *w, char *line)
{
    const char *path = jv->paths[j];
    if (access(path, R_OK) != 0)
        return tq_cli_error(TQ_EXIT_IO, "cannot read %s: %s", path, strerror(errno));
    tq_explain_history_out out = {.f = stdout, .w = w, .line = line, .bad = on_bad_frame,
                                  .bad_ctx = (void *)path};
    int rc = tq_explain_history_print(&out, t, x, jv, j, decl_no);
    if (rc == TQ_OK)
        return TQ_EXIT_OK;
    if (rc == TQ_ERR_CORRUPT || rc == TQ_ERR_TORN)
        return TQ_EXIT_CORRUPT; /* already reported, frame by frame */
    return tq_cli_error(tq_cli_exit_for(rc), "%s: %s", path, tq_strerror(rc));
}

/* store_failed() - report a store error while reading what is needed; a damaged record
 * is named by table and key (tq_txn_fault), so it is not taken for a journal's fault.
 * @return the exit status. */
static int store_failed(tq_txn *t, const char *db, const char *what, int rc)
{
    if (rc == TQ_ERR_DBCORRUPT) {
        tq_diag d;
        memset(&d, 0, sizeof d);
        tq_txn_fault(t, &d);
        return tq_cli_error(TQ_EXIT_CORRUPT, "%s: cannot read %s: the database is damaged: %s",
                            db, what, d.why[0] ? d.why : tq_strerror(rc));
    }
    return tq_cli_error(tq_cli_exit_for(rc), "%s: cannot read %s: %s", db, what,
                        tq_strerror(rc));
}
static int print_all(tq_txn *t, const tq_explain *x, int known, const tq_explain_payment_list *pays,
                     const tq_explain_journals *jv, const char *decl_no, int json, char *line)
{
    int status = TQ_EXIT_OK;
    tq_json jw, *w = json ? &jw : NULL;
    if (w) {
        tq_cli_json_begin(w, stdout);
        tq_explain_json_head(w, x, known, pays, jv, decl_no);
        tq_json_key(w, "history");
        tq_json_begin_array(w);
    } else {
        tq_explain_text(stdout, x, known, pays, jv, decl_no);
    }
    for (int j = 0; j < jv->n; j++) {
        int hs = history(t, x, jv, j, decl_no, w, line);
        if (hs > status)
            status = hs;
    }
    if (w) {
        tq_json_end_array(w);
        int js = tq_cli_json_end(w);
        return js > status ? js : status;
    }
    if (fflush(stdout) != 0 && status == 0)
        status = tq_cli_error(TQ_EXIT_IO, "write error: %s", strerror(errno));
    return status;
}

/* gather() - everything explain prints, from one read transaction of s: the declaration
 * (*known 0 when unknown), its payments, the skipped gaps and what the --journal files
 * tell of it.  @return an exit status (reported). */
static int gather(tq_store *s, const char *db, const char *decl_no, tq_txn **t,
                  tq_explain *x, int *known, tq_explain_payment_list *pays,
                  tq_explain_journals *jv)
{
    int rc = tq_txn_begin(s, 1, t);
    if (rc != TQ_OK)
        return tq_cli_error(tq_cli_exit_for(rc), "%s: %s", db, tq_strerror(rc));
    *known = 1;
    rc = tq_explain_decl(*t, decl_no, x);
    if (rc == TQ_ERR_NOTFOUND)
        *known = 0;
    else if (rc != TQ_OK)
        return store_failed(*t, db, decl_no, rc);
    if ((rc = tq_explain_payments(*t, decl_no, pays)) != TQ_OK)
        return store_failed(*t, db, "the payments", rc);
    if ((rc = tq_explain_gaps(*t, &jv->gaps)) != TQ_OK)
        return store_failed(*t, db, "the skipped gaps", rc);
    if (*known) {
        tq_explain_journals_backfill(jv, x);
        if (tq_explain_journals_load(jv, *t, decl_no) != TQ_OK)
            return tq_cli_error(TQ_EXIT_SOFTWARE, "out of memory");
    }
    return TQ_EXIT_OK;
}

/* explain() - answer for decl_no from database db and the njournals journals.
 * @return the exit status. */
static int explain(tq_store *s, const char *db, const char *decl_no,
                   const char *const *journals, int njournals, int json)
{
    int status;
    tq_explain *x = tq_explain_new();
    tq_explain_payment_list pays = {0};
    char *line = malloc(TQ_NDJSON_LINE_MAX);
    tq_txn *t = NULL;
    tq_explain_journals jv;
    tq_explain_journals_init(&jv, journals, njournals);
    int known = 0;
    if (x == NULL || line == NULL)
        status = tq_cli_error(TQ_EXIT_SOFTWARE, "out of memory");
    else
        status = gather(s, db, decl_no, &t, x, &known, &pays, &jv);
    if (status != TQ_EXIT_OK)
        goto out;
    status = print_all(t, x, known, &pays, &jv, decl_no, json, line);
    if (!known) {
        tq_cli_warn("%s: no such declaration in %s%s", decl_no, db,
                    njournals ? "" : " (--journal J.tqj shows whether a journal names it)");
        if (status == TQ_EXIT_OK)
            status = TQ_EXIT_INPUT;
    }
out:
    tq_txn_abort(t);
    free(line);
    tq_explain_payment_list_release(&pays);
    tq_explain_journals_release(&jv);
    tq_explain_free(x);
    return status;
}

typedef struct explain_args {
    const char *db, *json;
    const char *journals[TQ_OPT_LIST_MAX + 1];
} explain_args;

/* explain_check() - DECL_NO as the store keeps it. */
static int explain_check(tq_cli_cmd *c)
{
    const char *decl_no = c->pos[0];
    if (!tq_valid_decl_no(decl_no, strlen(decl_no))) {
        char q[80];
        return tq_cli_usage("explain", "DECL_NO must be 12 digits, the first not 0; got '%s'",
                            tq_diag_quote(decl_no, strlen(decl_no), q, sizeof q));
    }
    return 0;
}

static int explain_run(tq_cli_cmd *c)
{
    const explain_args *a = c->args;
    int njournals = 0;
    while (a->journals[njournals])
        njournals++;
    return explain(c->s, a->db, c->pos[0], a->journals, njournals, a->json != NULL);
}

int tq_cmd_explain(int argc, char **argv)
{
    explain_args a = {0};
    tq_opt opts[] = {{"db", 1, &a.db},
                     {"journal", TQ_OPT_LIST, a.journals},
                     {"j", TQ_OPT_LIST, a.journals},
                     {"json", 0, &a.json},
                     {NULL, 0, NULL}};
    tq_cli_cmd c = {.name = "explain", .help = help_explain, .opts = opts, .minpos = 1,
                    .maxpos = 1, .needs = "needs DECL_NO", .store = TQ_CLI_READ, .db = &a.db,
                    .check = explain_check, .run = explain_run, .args = &a};
    return tq_cli_main(&c, argc, argv);
}
