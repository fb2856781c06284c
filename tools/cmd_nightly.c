/* cmd_nightly.c - thongquan nightly: load the inbox's payment and permit files (each
 * content once, whatever its name), reconcile, write one report and the metrics.
 *
 * The work on the inbox is engine/tq_nightly.c's, each file's handling
 * engine/tq_nightly_take.c's, the report and metrics engine/tq_nightly_report.c's; this
 * file decides what to say and which exit status to give.  Run by cron or a systemd
 * timer (tools/cron/, tools/systemd/). */
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "tq_cli.h"
#include "tq_export.h"
#include "tq_load.h"
#include "tq_lock.h"
#include "tq_nightly.h"
#include "tq_nightly_report.h"
#include "tq_nightly_take.h"
#include "tq_out.h"
#include "tq_path.h"
#include "tq_list.h"
#include "tq_worklist.h"

static const char help_nightly[] =
    "usage: thongquan nightly --inbox DIR --db DIR [--reports DIR] [--metrics FILE]\n"
    "                         [--min-age SECONDS] [--create] [--seed-ledger] [--quiet]\n"
    "                         [--json] [--deadline DURATION]\n"
    "\n"
    "Load the payment and permit files waiting in the inbox, each content once, then\n"
    "reconcile the database and write one report for the run.\n"
    "  Inputs are the inbox's regular files named permits*.csv and payments*.csv, taken\n"
    "  permits first, then payments, each group by arrival (mtime, then name).  Links,\n"
    "  hard-linked files and anything but a regular file are refused, never followed.\n"
    "  Names starting with '.' (uploads in progress) and files changed in the last\n"
    "  --min-age seconds (default 60) wait for the next run; other names (notes.txt) are\n"
    "  listed in the report and the log, and left alone.\n"
    "  A file whose content (SHA-256) was loaded before is a duplicate: not loaded again.\n"
    "  The ledger of contents is in the database, written in the load's transaction.\n"
    "  Files go to INBOX/done/DATE/, INBOX/failed/DATE/ (with NAME.err) or\n"
    "  INBOX/duplicate/DATE/, under their own name (payments-x-2.csv when taken).\n"
    "  --reports DIR    nightly-STAMP.json, reconcile-STAMP.json, report-STAMP.html (the\n"
    "                   reconcile's page), STAMP/*.csv and the\n"
    "                   officers' worklists in worklists-STAMP/ (thongquan worklist: one\n"
    "                   office-CODE.csv per office, tax-paid-held.csv), written on every\n"
    "                   run (ages and deadlines move even on a night with nothing new)\n"
    "  --deadline DURATION  the worklists' deadline from registration (default 2h)\n"
    "  --metrics FILE   a node_exporter textfile, replaced atomically (a failure to write\n"
    "                   it is a warning: the loading goes on)\n"
    "  --create         make the database when missing (never made otherwise)\n"
    "  --seed-ledger    first, put every file already in INBOX/done/*/ into the ledger\n"
    "                   (once, when moving from the shell job, whose ledger is not read)\n"
    "  --quiet          print only errors (a quiet night prints nothing)\n"
    "  --json           print the run's report as JSON on stdout\n"
    "\n"
    "exit status: 0 done; 1 a file was refused (the rest loaded and reconciled); 2 usage,\n"
    "no database, or an unsafe inbox; 3 busy (another nightly run or writer); 4 I/O error\n"
    "or full disk; 7 nothing new (no reconcile); 8 permission denied; others as thongquan(1).\n"
    "\n"
    "example:\n"
    "  thongquan nightly --inbox /var/spool/thongquan/inbox --db /var/lib/thongquan/db \\\n"
    "      --reports /var/lib/thongquan/reports \\\n"
    "      --metrics /var/lib/prometheus/node-exporter/thongquan.prom\n";


typedef struct run {
    const char *inbox, *db, *reports, *metrics;
    int create, json, nosync;
    uint64_t min_age;
    tq_nightly *n;
    tq_lock lock;
    tq_store *s;
    time_t start;
    double t0;
    tq_nightly_outcome o;       /* what the run did: the report and the metrics */
    int status;                 /* what stopped the run (0 when nothing did) */
    int any_load_step;          /* a load was tried: a reconcile is owed */
    uint64_t held_before;
    int64_t deadline;           /* the worklists' deadline, seconds after registration */
} run;

/* ---- log ---- */

static void say(const run *r, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void say(const run *r, const char *fmt, ...)
{
    if (tq_cli_quiet || r->json)
        return;
    va_list ap;
    va_start(ap, fmt);
    fputs("nightly: ", stdout);
    vprintf(fmt, ap);
    putchar('\n');
    va_end(ap);
}

/* ---- set-up: database, inbox, lock ---- */

/* need_access() - 0, or "permission denied: PATH" with exit 8 (issue 15: a permission
 * problem is never said as busy or a full disk). */
static int need_access(const char *dir, const char *name, int mode)
{
    char *p = name ? tq_path_join(dir, name) : strdup(dir);
    if (p == NULL)
        return tq_cli_error(TQ_EXIT_SOFTWARE, "out of memory");
    int rc = 0;
    if (faccessat(AT_FDCWD, p, mode, AT_EACCESS) != 0 && errno != ENOENT)
        rc = errno == EACCES || errno == EPERM || errno == EROFS
                 ? tq_cli_error(TQ_EXIT_PERM, "permission denied: %s", p)
                 : tq_cli_error(TQ_EXIT_IO, "%s: %s", p, strerror(errno));
    free(p);
    return rc;
}

/* check_db() - the database must exist (unless --create) and be ours to write. */
static int check_db(const run *r)
{
    struct stat st;
    char *data = tq_path_join(r->db, "data.mdb");
    if (data == NULL)
        return tq_cli_error(TQ_EXIT_SOFTWARE, "out of memory");
    int missing = stat(data, &st) != 0 ? errno : 0;
    free(data);
    if (missing == EACCES)
        return tq_cli_error(TQ_EXIT_PERM, "permission denied: %s", r->db);
    if (missing && missing != ENOENT && missing != ENOTDIR)
        return tq_cli_error(TQ_EXIT_IO, "%s: %s", r->db, strerror(missing));
    if (missing && !r->create)
        return tq_cli_error(TQ_EXIT_USAGE,
                            "%s: no database here; the nightly job never makes one by "
                            "itself (check --db: the usual path is /var/lib/thongquan/db; "
                            "--create makes a new, empty database)", r->db);
    if (missing) {
        /* --create: made now, so that a night with nothing new still leaves one. */
        tq_store *s;
        int st = tq_cli_open_store("nightly", r->db, 1, r->nosync, &s);
        if (st == 0)
            tq_store_close(s);
        return st;
    }
    int rc = need_access(r->db, NULL, R_OK | W_OK | X_OK);
    const char *files[] = {"data.mdb", "lock.mdb", "lock"};
    for (int i = 0; i < 3 && rc == 0; i++)
        rc = need_access(r->db, files[i], R_OK | W_OK);
    return rc;
}

static int open_inbox(run *r)
{
    tq_diag d;
    memset(&d, 0, sizeof d);
    int rc = tq_nightly_open(r->inbox, &r->n, &d);
    if (rc == TQ_OK)
        return 0;
    int st = rc == TQ_ERR_INPUT || rc == TQ_ERR_NOTFOUND ? TQ_EXIT_USAGE : tq_cli_exit_for(rc);
    return tq_cli_error(st, "%s", d.why[0] ? d.why : tq_strerror(rc));
}

static int take_lock(run *r)
{
    char *p = tq_nightly_state_path(r->n, "lock");
    if (p == NULL)
        return tq_cli_error(TQ_EXIT_SOFTWARE, "out of memory");
    tq_lock_holder h;
    tq_diag d;
    memset(&h, 0, sizeof h);
    memset(&d, 0, sizeof d);
    int rc = tq_lock_acquire(&r->lock, p, "thongquan nightly", &h, &d);
    int st = 0;
    if (rc == TQ_ERR_BUSY)
        st = tq_cli_error(TQ_EXIT_BUSY,
                          "%s: another nightly run (pid %ld, started %s) is working on this "
                          "inbox; nothing done", r->inbox, h.pid, h.started[0] ? h.started : "?");
    else if (rc == TQ_ERR_PERM)
        st = tq_cli_error(TQ_EXIT_PERM, "permission denied: %s", p);
    else if (rc == TQ_ERR_INPUT)      /* a link or a folder planted at its name */
        st = tq_cli_error(TQ_EXIT_USAGE, "%s: refused as the job's lock: %s", p,
                          d.why[0] ? d.why : tq_strerror(rc));
    else if (rc != TQ_OK)
        st = tq_cli_error(tq_cli_exit_for(rc), "%s: cannot take the lock: %s", p,
                          d.why[0] ? d.why : tq_strerror(rc));
    free(p);
    return st;
}

/* prepare_reports() - the folder and a stamp no earlier run used. */
static int prepare_reports(run *r)
{
    if (r->reports == NULL)
        return 0;
    if (tq_cli_mkdirs(r->reports) != 0)
        return errno == EACCES || errno == EPERM || errno == EROFS
                   ? tq_cli_error(TQ_EXIT_PERM, "permission denied: %s", r->reports)
                   : tq_cli_error(TQ_EXIT_IO, "cannot create %s: %s", r->reports, strerror(errno));
    int rc = need_access(r->reports, NULL, W_OK | X_OK);
    if (rc)
        return rc;
    if (tq_nightly_outcome_stamp(&r->o, r->start) != TQ_OK)
        return tq_cli_error(TQ_EXIT_SOFTWARE, "out of memory");
    return 0;
}

/* ---- one file ---- */

/* took_failed() - the error that stops the run at t->step of file f. */
static int took_failed(const run *r, const tq_nightly_taken *t, int rc, const tq_diag *d)
{
    const char *q = t->f ? t->f->q : "?";
    switch (t->step) {
    case TQ_NIGHTLY_STEP_NOMEM:
        return tq_cli_error(TQ_EXIT_SOFTWARE, "out of memory");
    case TQ_NIGHTLY_STEP_FILE_AWAY:
        return tq_cli_error(tq_cli_exit_for(rc), "%s: cannot file it away: %s", q,
                            d->why[0] ? d->why : tq_strerror(rc));
    case TQ_NIGHTLY_STEP_LEDGER:
        return tq_cli_error(tq_cli_exit_for(rc), "%s: cannot read the ledger: %s", r->db,
                            tq_strerror(rc));
    case TQ_NIGHTLY_STEP_LOAD:
        return tq_cli_error(tq_cli_exit_for(rc), "%s: not loaded: %s; the run stops, the "
                            "file is taken first by the next run", q, t->f->why);
    case TQ_NIGHTLY_STEP_STAGE:
        return tq_cli_error(tq_cli_exit_for(rc), "%s: %s", q, t->f->why);
    default: /* claim, pending */
        return tq_cli_error(tq_cli_exit_for(rc), "%s", d->why);
    }
}

/* one_file() - take e in and say what became of it.  -1 stops the run (r->status says
 * why). */
static int one_file(run *r, const tq_nightly_entry *e)
{
    tq_nightly_take_ctx c = {.n = r->n, .s = r->s, .date = r->o.date, .stop = &tq_cli_stop,
                             .any_load = r->any_load_step};
    tq_nightly_taken t;
    tq_diag d;
    memset(&d, 0, sizeof d);
    int rc = tq_nightly_take(&c, e, &r->o, &t, &d);
    r->any_load_step = c.any_load;
    const tq_nightly_file *f = t.f;
    if (t.took == TQ_NIGHTLY_TOOK_DUPLICATE)
        say(r, "duplicate %s: this content was loaded before", f->q);
    if (rc != TQ_OK)
        return r->status = took_failed(r, &t, rc, &d), -1;
    if (t.took == TQ_NIGHTLY_TOOK_LOADED)
        say(r, "loaded %s %s: %llu rows; moved to %s", tq_nightly_kind_name(e->kind), f->q,
            (unsigned long long)f->rows, f->stored ? f->stored : "done/");
    if (t.took == TQ_NIGHTLY_TOOK_REFUSED)
        /* A refused file needs someone: said on stderr even under --quiet. */
        tq_cli_warn("nightly: refused %s: %s; moved to %s/%s, the reasons in its .err beside "
                    "it", f->q, f->why, r->inbox, f->stored ? f->stored : "failed/");
    if (t.took == TQ_NIGHTLY_TOOK_CHANGED) {
        say(r, "left %s for the next run: %s", f->q, f->why);
        if (t.unclaim_rc != TQ_OK)
            say(r, "%s stays in the job's work folder: %s", f->q, t.unclaim_why);
    }
    return 0;
}

/* ---- the run ---- */

static int load_all(run *r, const tq_nightly_list *sc)
{
    int st = tq_cli_open_store("nightly", r->db, 1, r->nosync, &r->s);
    if (st != 0)
        return r->status = st, -1;
    /* A build whose store has no ledger must not load at all: every file would be
     * loaded again at every run. */
    uint8_t zero[32] = {0};
    tq_ledger_entry le;
    int rc = tq_nightly_ledger_get(r->s, zero, &le);
    if (rc != TQ_OK && rc != TQ_ERR_NOTFOUND) {
        r->status = tq_cli_error(TQ_EXIT_SOFTWARE, "%s: the database has no ledger of loaded "
                                 "files (%s): nothing loaded", r->db, tq_strerror(rc));
        return -1;
    }
    for (size_t i = 0; i < sc->n_in; i++) {
        if (tq_cli_stop) {
            r->status = tq_cli_exit_for(TQ_ERR_INTERRUPTED);
            break;
        }
        if (one_file(r, &sc->in[i]) != 0)
            break;
    }
    if (tq_export_tally(r->s, &r->o.tally) == TQ_OK) {
        r->o.have_tally = 1;
        r->held_before = r->o.tally.by_state[TQ_STATE_HELD];
    }
    tq_store_close(r->s);
    r->s = NULL;
    return r->status ? -1 : 0;
}

/* reconcile() - the reconcile command itself, in this process, once the store is
 * released (it takes the writer lock again). */
static void reconcile(run *r)
{
    char *argv[14];
    int argc = 0;
    argv[argc++] = (char *)"--db";
    argv[argc++] = (char *)r->db;
    argv[argc++] = (char *)"--quiet";
    if (r->reports) {
        argv[argc++] = (char *)"--report";
        argv[argc++] = r->o.reconcile_report;
        argv[argc++] = (char *)"--csv";
        argv[argc++] = r->o.csv_dir;
        argv[argc++] = (char *)"--html";
        argv[argc++] = r->o.html_report;
    }
    if (r->nosync)
        argv[argc++] = (char *)"--no-sync";
    argv[argc] = NULL;
    int quiet = tq_cli_quiet;
    r->o.reconcile_status = tq_cmd_reconcile(argc, argv);
    tq_cli_quiet = quiet;
    if (r->o.reconcile_status != 0) {
        tq_cli_warn("nightly: the reconcile failed (status %d); the next run reconciles",
                    r->o.reconcile_status);
        return;
    }
    r->o.reconciled = 1;
    tq_diag d;
    memset(&d, 0, sizeof d);
    if (tq_nightly_set_pending(r->n, 0, &d) != TQ_OK)
        tq_cli_warn("nightly: %s", d.why);
    tq_store *s;
    r->o.have_tally = 0;
    if (tq_cli_open_store("nightly", r->db, 0, 0, &s) == 0) {
        if (tq_export_tally(s, &r->o.tally) == TQ_OK)
            r->o.have_tally = 1;
        tq_store_close(s);
    }
    r->o.state.last_reconcile = (uint64_t)time(NULL);
    uint64_t after = r->o.tally.by_state[TQ_STATE_HELD];
    r->o.state.cleared_now = r->o.have_tally && r->held_before > after ? r->held_before - after : 0;
    say(r, "reconciled: %llu cleared now%s%s", (unsigned long long)r->o.state.cleared_now,
        r->reports ? "; report " : "", r->reports ? r->o.reconcile_report : "");
}

/* final_status() - what stopped the run, else the reconcile's, else 1 for a refused
 * file, else 7 when nothing was new. */
static int final_status(const run *r, int owed)
{
    if (r->status)
        return r->status;
    if (r->o.reconcile_status)
        return r->o.reconcile_status;
    if (r->o.count[TQ_NIGHTLY_R_FAILED])
        return TQ_EXIT_INPUT;
    return owed ? TQ_EXIT_OK : TQ_EXIT_NOTHING;
}

/* write_metrics() - through tq_out (atomic); a failure is a warning, never a stop. */
static void write_metrics(run *r, int status)
{
    tq_diag d;
    memset(&d, 0, sizeof d);
    int rc = tq_nightly_report_metrics(&r->o, status, tq_cli_now() - r->t0, &d);
    if (rc != TQ_OK) {
        snprintf(r->o.metrics_error, sizeof r->o.metrics_error, "%s%s",
                 rc == TQ_ERR_PERM ? "permission denied: " : "",
                 d.why[0] ? d.why : tq_strerror(rc));
        tq_cli_warn("nightly: cannot write the metrics %s: %s (the run itself went on)",
                    r->metrics, r->o.metrics_error);
    }
}

/* ---- report ---- */

/* write_report() - the run's report as one JSON object (tq_cli_json_end's status). */
static int write_report(FILE *f, const run *r, const tq_nightly_list *sc, int status)
{
    char now[32];
    tq_cli_utc_now(now);
    tq_json j;
    tq_cli_json_begin(&j, f);
    tq_nightly_report_json(&j, &r->o, sc, status, now);
    return tq_cli_json_end(&j);
}

static void report(run *r, const tq_nightly_list *sc, int status)
{
    for (size_t i = 0; i < sc->n_ignored; i++) {
        char *q = tq_nightly_quote(sc->ignored[i].name);
        say(r, "ignored %s: not permits*.csv or payments*.csv (left in the inbox)", q ? q : "?");
        free(q);
    }
    if (sc->n_ignored_total > sc->n_ignored)
        say(r, "... and %zu more names ignored, not listed", sc->n_ignored_total - sc->n_ignored);
    if (r->json)
        write_report(stdout, r, sc, status);
    if (r->o.report_path == NULL)
        return;
    tq_out o;
    tq_diag d;
    memset(&d, 0, sizeof d);
    int rc = tq_out_open(&o, r->o.report_path, TQ_OUT_NO_CLOBBER | TQ_OUT_NO_STREAM, &d);
    FILE *f = rc == TQ_OK ? tq_out_fp(&o) : NULL;
    if (f) {
        write_report(f, r, sc, status);
        rc = tq_out_commit(&o, &d);
    } else if (rc == TQ_OK) {
        tq_out_rollback(&o);
        rc = TQ_ERR_NOMEM;
    }
    if (rc != TQ_OK)
        tq_cli_warn("nightly: cannot write the report %s: %s", r->o.report_path,
                    d.why[0] ? d.why : tq_strerror(rc));
}

static void run_free(run *r)
{
    tq_nightly_outcome_release(&r->o);
    if (r->s)
        tq_store_close(r->s);
    tq_lock_release(&r->lock);
    tq_nightly_close(r->n);
}

/* seed() - --seed-ledger: the files in done/ go into the ledger before anything loads. */
static int seed(run *r)
{
    tq_store *s;
    int st = tq_cli_open_store("nightly", r->db, 1, r->nosync, &s);
    if (st != 0)
        return st;
    uint64_t seen = 0, added = 0;
    tq_diag d;
    memset(&d, 0, sizeof d);
    int rc = tq_nightly_seed(r->n, s, &seen, &added, &d);
    tq_store_close(s);
    if (rc != TQ_OK)
        return tq_cli_error(tq_cli_exit_for(rc), "seeding the ledger from %s/done: %s",
                            r->inbox, d.why[0] ? d.why : tq_strerror(rc));
    say(r, "ledger seeded from done/: %llu files hashed, %llu new entries",
        (unsigned long long)seen, (unsigned long long)added);
    return 0;
}

/* write_worklists() - the officers' worklists beside the report, on every run with
 * --reports; a failure is a warning (like the metrics): the loading is done. */
static void write_worklists(run *r)
{
    const tq_nightly_outcome *o = &r->o;
    tq_diag d;
    memset(&d, 0, sizeof d);
    if (r->reports == NULL)
        return;
    if (tq_nightly_outcome_worklists(&r->o, r->deadline, (int64_t)time(NULL), &d) != TQ_OK) {
        tq_cli_warn("nightly: cannot write the worklists in %s: %s (the run itself went on)",
                    o->worklist_dir, o->worklist_error);
        return;
    }
    say(r, "worklists: %llu files in %s, %llu declarations waiting (%llu past the "
        "deadline), %llu tax paid and still held", (unsigned long long)o->wl.files,
        o->worklist_dir, (unsigned long long)o->wl.rows, (unsigned long long)o->wl.past_deadline,
        (unsigned long long)o->wl.tax_paid_held);
}

/* work() - from the lock on: scan, load, reconcile, metrics, report. */
static int work(run *r)
{
    tq_nightly_list sc;
    tq_diag d;
    memset(&d, 0, sizeof d);
    int rc = tq_nightly_scan(r->n, r->start, r->min_age, &sc, &d);
    if (rc != TQ_OK)
        return tq_cli_error(tq_cli_exit_for(rc), "%s", d.why);
    tq_nightly_state_read(r->n, &r->o.state);
    int pending = tq_nightly_pending(r->n);
    if (sc.n_in > 0 || pending) {
        /* Permits before payments (tq_nightly_scan's order): a run stopped half-way then
         * never holds new payments whose permits' revocation is still waiting. */
        load_all(r, &sc);
        if (r->status == 0 && (r->any_load_step || tq_nightly_pending(r->n)))
            reconcile(r);
    }
    tq_nightly_outcome_count(&r->o, &sc);
    const size_t *n = r->o.count;
    int owed = r->any_load_step || pending || n[TQ_NIGHTLY_R_LOADED] || n[TQ_NIGHTLY_R_FAILED];
    int status = final_status(r, owed);
    if (status == TQ_EXIT_NOTHING)
        say(r, "nothing new in %s", r->inbox);
    if (status == TQ_EXIT_OK || status == TQ_EXIT_NOTHING)
        r->o.state.last_success = (uint64_t)time(NULL);
    if (tq_nightly_state_write(r->n, &r->o.state, &d) != TQ_OK)
        tq_cli_warn("nightly: %s", d.why);
    tq_nightly_outcome_tally(&r->o);
    write_worklists(r);
    write_metrics(r, status);
    report(r, &sc, status);
    say(r, "loaded %zu, refused %zu, duplicates %zu, ignored %zu, waiting %zu; exit status %d",
        n[TQ_NIGHTLY_R_LOADED], n[TQ_NIGHTLY_R_FAILED], n[TQ_NIGHTLY_R_DUPLICATE],
        n[TQ_NIGHTLY_R_IGNORED], n[TQ_NIGHTLY_R_WAITING], status);
    tq_nightly_scan_free(&sc);
    return status;
}

typedef struct nightly_args {
    const char *inbox, *db, *reports, *metrics, *create, *quiet, *json, *nosync, *min_age,
        *seed_ledger, *deadline;
} nightly_args;

static int nightly_run(tq_cli_cmd *c)
{
    const nightly_args *a = c->args;
    const char *inbox = a->inbox, *db = a->db, *reports = a->reports, *metrics = a->metrics,
               *min_age = a->min_age, *deadline = a->deadline;
    run r;
    memset(&r, 0, sizeof r);
    r.lock.fd = -1;
    /* An empty value is "not given": the units pass --metrics=${VAR} whatever it holds. */
    r.inbox = inbox && *inbox ? inbox : NULL;
    r.db = db && *db ? db : NULL;
    r.reports = reports && *reports ? reports : NULL;
    r.metrics = metrics && *metrics ? metrics : NULL;
    r.create = a->create != NULL;
    r.json = a->json != NULL;
    r.nosync = a->nosync != NULL;
    r.min_age = 60;
    if (r.inbox == NULL || r.db == NULL)
        return tq_cli_usage("nightly", "needs --inbox DIR and --db DIR");
    if (min_age && *min_age && tq_cli_u64("nightly", "min-age", min_age, &r.min_age) != 0)
        return TQ_EXIT_USAGE;
    r.deadline = 7200;
    if (deadline && *deadline && tq_list_parse_duration(deadline, &r.deadline) != TQ_OK)
        return tq_cli_usage("nightly", "--deadline: '%s' is not a duration (a whole number "
                            "and s, m, h or d: 90m, 2h, 3d)", deadline);
    r.start = time(NULL);
    r.t0 = tq_cli_now();
    tq_nightly_outcome_init(&r.o, r.inbox, r.db, r.reports, r.metrics, r.start);
    tq_cli_utc_now(r.o.started_at);
    tq_cli_catch_signals();
    int status = check_db(&r);
    if (status == 0)
        status = open_inbox(&r);
    if (status == 0)
        status = take_lock(&r);
    if (status == 0)
        status = prepare_reports(&r);
    if (status == 0 && a->seed_ledger)
        status = seed(&r);
    if (status == 0)
        status = work(&r);
    run_free(&r);
    return status;
}

int tq_cmd_nightly(int argc, char **argv)
{
    nightly_args a = {0};
    tq_opt opts[] = {{"inbox", 1, &a.inbox},   {"db", 1, &a.db},         {"reports", 1, &a.reports},
                     {"metrics", 1, &a.metrics}, {"create", 0, &a.create}, {"quiet", 0, &a.quiet},
                     {"q", 0, &a.quiet},       {"json", 0, &a.json},     {"no-sync", 0, &a.nosync},
                     {"min-age", 1, &a.min_age}, {"seed-ledger", 0, &a.seed_ledger},
                     {"deadline", 1, &a.deadline},
                     {NULL, 0, NULL}};
    tq_cli_cmd c = {.name = "nightly", .help = help_nightly, .opts = opts, .run = nightly_run,
                    .args = &a};
    return tq_cli_main(&c, argc, argv);
}
