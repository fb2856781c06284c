/* cmd_nightly.c - thongquan nightly: load the inbox's payment and permit files (each
 * content once, whatever its name), reconcile, write one report and the metrics.
 *
 * The work on the inbox is engine/tq_nightly.c's; this file decides what to say and
 * which exit status to give.  Run by cron or a systemd timer (tools/cron/,
 * tools/systemd/). */
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
#include "tq_out.h"
#include "tq_list.h"
#include "tq_worklist.h"

#define ERR_LINES 50        /* bad rows written into NAME.err; then "... and N more" */

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

enum { R_LOADED, R_FAILED, R_DUPLICATE, R_IGNORED, R_WAITING, R_COUNT };
static const char *const result_name[R_COUNT] = {"loaded", "failed", "duplicate", "ignored",
                                                 "waiting"};

typedef struct nfile {
    char *q;                    /* the name, quoted (printable ASCII) */
    char *hex;                  /* the name's bytes in hex */
    int kind, result;
    char sha[65];
    uint64_t rows;
    char *stored;               /* quoted "done/DATE/NAME", or NULL */
    char why[400];              /* for failed and waiting */
} nfile;

typedef struct run {
    const char *inbox, *db, *reports, *metrics;
    int create, json, nosync;
    uint64_t min_age;
    tq_nightly *n;
    tq_lock lock;
    tq_store *s;
    time_t start;
    double t0;
    char date[16], stamp[40], started_at[32];
    nfile *f;
    size_t nf, capf;
    size_t count[R_COUNT];
    int status;                 /* what stopped the run (0 when nothing did) */
    int any_load_step;          /* a load was tried: a reconcile is owed */
    int reconciled, reconcile_status;
    tq_tally tally;
    int have_tally;
    uint64_t held_before;
    tq_nightly_state state;
    char *report_path, *reconcile_report, *csv_dir, *worklist_dir;
    char *html_report;          /* REPORTS/report-STAMP.html: the reconcile's page */
    char metrics_error[400];
    int64_t deadline;           /* the worklists' deadline, seconds after registration */
    int worklists_done;         /* the worklists are in worklist_dir */
    tq_worklist_stats wl;
    char worklist_error[400];
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

static char *hex_of(const char *s)
{
    size_t n = strlen(s);
    char *h = malloc(2 * n + 1);
    if (h)
        tq_nightly_hex(s, n, h);
    return h;
}

static nfile *add_file(run *r, const tq_nightly_entry *e, int result)
{
    if (r->nf == r->capf) {
        size_t cap = r->capf ? 2 * r->capf : 16;
        nfile *v = realloc(r->f, cap * sizeof *v);
        if (v == NULL)
            return NULL;
        r->f = v;
        r->capf = cap;
    }
    nfile *f = &r->f[r->nf];
    memset(f, 0, sizeof *f);
    f->q = tq_nightly_quote(e->name);
    f->hex = hex_of(e->name);
    if (f->q == NULL || f->hex == NULL) {
        free(f->q);
        free(f->hex);
        return NULL;
    }
    f->kind = e->kind;
    f->result = result;
    r->nf++;
    return f;
}

static const char *kind_name(int kind)
{
    return kind == TQ_LOAD_PERMITS ? "permits" : kind == TQ_LOAD_PAYMENTS ? "payments" : "other";
}

/* ---- set-up: database, inbox, lock ---- */

static char *join(const char *a, const char *b)
{
    size_t n = strlen(a) + strlen(b) + 2;
    char *p = malloc(n);
    if (p)
        snprintf(p, n, "%s/%s", a, b);
    return p;
}

/* need_access() - 0, or "permission denied: PATH" with exit 8 (issue 15: a permission
 * problem is never said as busy or a full disk). */
static int need_access(const char *dir, const char *name, int mode)
{
    char *p = name ? join(dir, name) : strdup(dir);
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
    char *data = join(r->db, "data.mdb");
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
    struct tm tm;
    localtime_r(&r->start, &tm);
    strftime(r->date, sizeof r->date, "%Y-%m-%d", &tm);
    if (r->reports == NULL)
        return 0;
    if (tq_cli_mkdirs(r->reports) != 0)
        return errno == EACCES || errno == EPERM || errno == EROFS
                   ? tq_cli_error(TQ_EXIT_PERM, "permission denied: %s", r->reports)
                   : tq_cli_error(TQ_EXIT_IO, "cannot create %s: %s", r->reports, strerror(errno));
    int rc = need_access(r->reports, NULL, W_OK | X_OK);
    if (rc)
        return rc;
    char base[32];
    strftime(base, sizeof base, "%Y-%m-%dT%H%M%S", &tm);
    for (unsigned k = 1;; k++) {
        if (k == 1)
            snprintf(r->stamp, sizeof r->stamp, "%s", base);
        else
            snprintf(r->stamp, sizeof r->stamp, "%s-%u", base, k);
        char name[64];
        snprintf(name, sizeof name, "nightly-%s.json", r->stamp);
        free(r->report_path);
        if ((r->report_path = join(r->reports, name)) == NULL)
            return tq_cli_error(TQ_EXIT_SOFTWARE, "out of memory");
        char rname[64];
        snprintf(rname, sizeof rname, "reconcile-%s.json", r->stamp);
        char wname[64], hname[64];
        snprintf(wname, sizeof wname, "worklists-%s", r->stamp);
        snprintf(hname, sizeof hname, "report-%s.html", r->stamp);
        free(r->html_report);
        r->html_report = join(r->reports, hname);
        free(r->reconcile_report);
        free(r->csv_dir);
        free(r->worklist_dir);
        r->reconcile_report = join(r->reports, rname);
        r->csv_dir = join(r->reports, r->stamp);
        r->worklist_dir = join(r->reports, wname);
        if (r->reconcile_report == NULL || r->csv_dir == NULL || r->worklist_dir == NULL ||
            r->html_report == NULL)
            return tq_cli_error(TQ_EXIT_SOFTWARE, "out of memory");
        /* A stamp none of whose five names exists, as a file, a link or anything. */
        struct stat st;
        if (lstat(r->report_path, &st) != 0 && lstat(r->reconcile_report, &st) != 0 &&
            lstat(r->csv_dir, &st) != 0 && lstat(r->worklist_dir, &st) != 0 &&
            lstat(r->html_report, &st) != 0)
            break;
    }
    return 0;
}

/* ---- one file ---- */

typedef struct err_text {
    FILE *f;
    char *buf;
    size_t len;
    uint64_t lines;
    int quotable;
} err_text;

static void on_row_error(void *ctx, const tq_diag *d)
{
    err_text *e = ctx;
    if (++e->lines > ERR_LINES)
        return;
    fprintf(e->f, "line %llu: field '%s'", (unsigned long long)d->line, d->field);
    /* The why quotes the file's content: only for a file its sender could read. */
    if (e->quotable)
        fprintf(e->f, ": %s", d->why);
    fputc('\n', e->f);
}

static int err_open(err_text *e, const nfile *f, int quotable)
{
    memset(e, 0, sizeof *e);
    e->quotable = quotable;
    if ((e->f = open_memstream(&e->buf, &e->len)) == NULL)
        return -1;
    char now[32];
    tq_cli_utc_now(now);
    fprintf(e->f, "%s: refused by thongquan nightly at %s\n", f->q, now);
    return 0;
}

static void err_close(err_text *e)
{
    if (e->f)
        fclose(e->f);
    free(e->buf);
    memset(e, 0, sizeof *e);
}

/* file_away() - move e and record where it went. */
static int file_away(run *r, const tq_nightly_entry *e, nfile *f, tq_nightly_dest dest,
                     err_text *et)
{
    static const char *const top[] = {"done", "failed", "duplicate"};
    tq_diag d;
    memset(&d, 0, sizeof d);
    char *stored = NULL;
    if (et && et->f)
        fflush(et->f);
    int rc = tq_nightly_file_away(r->n, e, dest, r->date, et ? et->buf : NULL,
                                  et ? et->len : 0, &stored, &d);
    if (rc != TQ_OK) {
        r->status = tq_cli_error(tq_cli_exit_for(rc), "%s: cannot file it away: %s", f->q,
                                 d.why[0] ? d.why : tq_strerror(rc));
        return -1;
    }
    char *q = tq_nightly_quote(stored);
    size_t n = (q ? strlen(q) : 0) + 32;
    if (q && (f->stored = malloc(n)) != NULL)
        snprintf(f->stored, n, "%s/%s/%s", top[dest], r->date, q);
    free(q);
    free(stored);
    return 0;
}

/* refuse() - a file that cannot be an input (a link, a hard link, bad rows). */
static int refuse(run *r, const tq_nightly_entry *e, nfile *f, err_text *et)
{
    f->result = R_FAILED;
    if (file_away(r, e, f, TQ_NIGHTLY_FAILED, et) != 0)
        return -1;
    /* A refused file needs someone: said on stderr even under --quiet. */
    tq_cli_warn("nightly: refused %s: %s; moved to %s/%s, the reasons in its .err beside it",
                f->q, f->why, r->inbox, f->stored ? f->stored : "failed/");
    return 0;
}

static void set_why(nfile *f, const tq_diag *d, int rc)
{
    snprintf(f->why, sizeof f->why, "%s", d->why[0] ? d->why : tq_strerror(rc));
}

/* loaded_step() - after tq_nightly_load(): file it where its outcome says. */
static int loaded_step(run *r, const tq_nightly_entry *e, nfile *f, int rc, const tq_diag *d,
                       const tq_load_stats *st, err_text *et)
{
    if (rc == TQ_OK) {
        f->rows = st->rows;
        if (file_away(r, e, f, TQ_NIGHTLY_DONE, NULL) != 0)
            return -1;
        say(r, "loaded %s %s: %llu rows; moved to %s", kind_name(e->kind), f->q,
            (unsigned long long)st->rows, f->stored ? f->stored : "done/");
        return 0;
    }
    if (rc == TQ_ERR_EXISTS) {
        f->result = R_DUPLICATE;
        return file_away(r, e, f, TQ_NIGHTLY_DUPLICATE, NULL);
    }
    if (rc == TQ_ERR_INPUT) {
        if (et->lines > ERR_LINES)
            fprintf(et->f, "... and %llu more bad rows\n",
                    (unsigned long long)(et->lines - ERR_LINES));
        fputs("nothing of this file was loaded\n", et->f);
        snprintf(f->why, sizeof f->why, "%llu bad row%s, nothing loaded",
                 (unsigned long long)et->lines, et->lines == 1 ? "" : "s");
        return refuse(r, e, f, et);
    }
    /* Not the file's fault (busy, full disk, a signal): it stays in work/ and the next
     * run takes it first. */
    set_why(f, d, rc);
    f->result = R_WAITING;
    r->status = tq_cli_error(tq_cli_exit_for(rc), "%s: not loaded: %s; the run stops, the "
                             "file is taken first by the next run", f->q, f->why);
    return -1;
}

/* load_one() - load a staged file with its ledger entry and file it away. */
static int load_one(run *r, const tq_nightly_entry *e, nfile *f, const tq_nightly_staged *sf)
{
    tq_ledger_entry known;
    int rc = tq_nightly_ledger_get(r->s, sf->sha256, &known);
    if (rc == TQ_OK) {
        /* Loaded before.  A file found in work/ under the name the ledger gives was
         * loaded by the run that stopped before filing it: it goes to done/. */
        int mine = e->recovered && strncmp(known.name, e->name, sizeof known.name - 1) == 0;
        f->result = mine ? R_LOADED : R_DUPLICATE;
        if (mine) {
            f->rows = known.rows;
            return file_away(r, e, f, TQ_NIGHTLY_DONE, NULL);
        }
        say(r, "duplicate %s: this content was loaded before", f->q);
        return file_away(r, e, f, TQ_NIGHTLY_DUPLICATE, NULL);
    }
    if (rc != TQ_ERR_NOTFOUND) {
        r->status = tq_cli_error(tq_cli_exit_for(rc), "%s: cannot read the ledger: %s",
                                 r->db, tq_strerror(rc));
        return -1;
    }
    tq_diag d;
    memset(&d, 0, sizeof d);
    if (!r->any_load_step && (rc = tq_nightly_set_pending(r->n, 1, &d)) != TQ_OK) {
        r->status = tq_cli_error(tq_cli_exit_for(rc), "%s", d.why);
        return -1;
    }
    r->any_load_step = 1;
    err_text et;
    if (err_open(&et, f, sf->quotable) != 0) {
        r->status = tq_cli_error(TQ_EXIT_SOFTWARE, "out of memory");
        return -1;
    }
    tq_load_opts lo = {.on_error = on_row_error, .ctx = &et, .stop = &tq_cli_stop};
    tq_load_stats st;
    memset(&st, 0, sizeof st);
    f->result = R_LOADED;
    rc = tq_nightly_load(r->s, e, sf, &lo, &st, &known, &d);
    int out = loaded_step(r, e, f, rc, &d, &st, &et);
    err_close(&et);
    return out;
}

/* one_file() - claim, stage, load, file away.  -1 stops the run (r->status says why). */
static int one_file(run *r, const tq_nightly_entry *e)
{
    tq_diag d;
    memset(&d, 0, sizeof d);
    int rc = tq_nightly_claim(r->n, e, &d);
    if (rc == TQ_ERR_NOTFOUND || rc == TQ_ERR_EXISTS)
        return 0;                   /* taken away by the sender, or the name is busy */
    nfile *f = add_file(r, e, R_WAITING);
    if (f == NULL)
        return r->status = tq_cli_error(TQ_EXIT_SOFTWARE, "out of memory"), -1;
    if (rc != TQ_OK) {
        r->status = tq_cli_error(tq_cli_exit_for(rc), "%s", d.why);
        return -1;
    }
    tq_nightly_staged sf;
    rc = tq_nightly_stage(r->n, e, &sf, &d);
    if (rc == TQ_OK) {
        tq_nightly_hex(sf.sha256, 32, f->sha);
        rc = load_one(r, e, f, &sf);
        tq_nightly_staged_release(&sf);
        return rc;
    }
    set_why(f, &d, rc);
    if (rc == TQ_ERR_MISMATCH) {
        f->result = R_WAITING;
        say(r, "left %s for the next run: %s", f->q, f->why);
        if (tq_nightly_unclaim(r->n, e, &d) != TQ_OK)
            say(r, "%s stays in the job's work folder: %s", f->q, d.why);
        return 0;
    }
    if (rc == TQ_ERR_INPUT) {
        err_text et;
        if (err_open(&et, f, 0) != 0)
            return r->status = tq_cli_error(TQ_EXIT_SOFTWARE, "out of memory"), -1;
        fprintf(et.f, "%s\nnothing of this file was read\n", f->why);
        int out = refuse(r, e, f, &et);
        err_close(&et);
        return out;
    }
    r->status = tq_cli_error(tq_cli_exit_for(rc), "%s: %s", f->q, f->why);
    return -1;
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
    if (tq_export_tally(r->s, &r->tally) == TQ_OK) {
        r->have_tally = 1;
        r->held_before = r->tally.by_state[TQ_STATE_HELD];
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
        argv[argc++] = r->reconcile_report;
        argv[argc++] = (char *)"--csv";
        argv[argc++] = r->csv_dir;
        argv[argc++] = (char *)"--html";
        argv[argc++] = r->html_report;
    }
    if (r->nosync)
        argv[argc++] = (char *)"--no-sync";
    argv[argc] = NULL;
    int quiet = tq_cli_quiet;
    r->reconcile_status = tq_cmd_reconcile(argc, argv);
    tq_cli_quiet = quiet;
    if (r->reconcile_status != 0) {
        tq_cli_warn("nightly: the reconcile failed (status %d); the next run reconciles",
                    r->reconcile_status);
        return;
    }
    r->reconciled = 1;
    tq_diag d;
    memset(&d, 0, sizeof d);
    if (tq_nightly_set_pending(r->n, 0, &d) != TQ_OK)
        tq_cli_warn("nightly: %s", d.why);
    tq_store *s;
    r->have_tally = 0;
    if (tq_cli_open_store("nightly", r->db, 0, 0, &s) == 0) {
        if (tq_export_tally(s, &r->tally) == TQ_OK)
            r->have_tally = 1;
        tq_store_close(s);
    }
    r->state.last_reconcile = (uint64_t)time(NULL);
    uint64_t after = r->tally.by_state[TQ_STATE_HELD];
    r->state.cleared_now = r->have_tally && r->held_before > after ? r->held_before - after : 0;
    say(r, "reconciled: %llu cleared now%s%s", (unsigned long long)r->state.cleared_now,
        r->reports ? "; report " : "", r->reports ? r->reconcile_report : "");
}

static void count_results(run *r, const tq_nightly_list *sc)
{
    memset(r->count, 0, sizeof r->count);
    for (size_t i = 0; i < r->nf; i++)
        r->count[r->f[i].result]++;
    r->count[R_IGNORED] = sc->n_ignored_total;
    r->count[R_WAITING] += sc->n_waiting;
}

/* final_status() - what stopped the run, else the reconcile's, else 1 for a refused
 * file, else 7 when nothing was new. */
static int final_status(const run *r, int owed)
{
    if (r->status)
        return r->status;
    if (r->reconcile_status)
        return r->reconcile_status;
    if (r->count[R_FAILED])
        return TQ_EXIT_INPUT;
    return owed ? TQ_EXIT_OK : TQ_EXIT_NOTHING;
}

/* ---- metrics ---- */

static void prom(FILE *f, const char *name, const char *help)
{
    fprintf(f, "# HELP %s %s\n# TYPE %s gauge\n", name, help, name);
}

typedef struct held_ctx {
    FILE *f;
    uint64_t unknown;           /* held without an office */
} held_ctx;

static int held_gauge(void *ctx, const char *office, uint64_t count)
{
    held_ctx *h = ctx;
    if (office[0] == '\0')
        h->unknown = count;
    else
        fprintf(h->f, "thongquan_held_declarations{office=\"%s\"} %llu\n", office,
                (unsigned long long)count);
    return 0;
}

/* write_held_by_office() - the per-office gauge, from the office index (no declaration
 * is read), with office="unknown" always present (0 when every held declaration has an
 * office), so the metric exists from the first run on; a database that cannot be read
 * leaves it NaN. */
static void write_held_by_office(FILE *f, const run *r)
{
    prom(f, "thongquan_held_declarations", "Declarations held, by customs office "
                                           "(\"unknown\": stored without an office).");
    tq_store *s;
    held_ctx h = {f, 0};
    int ok = tq_store_open(r->db, 0, NULL, &s, NULL) == TQ_OK;
    if (ok) {
        ok = tq_worklist_held_by_office(s, held_gauge, &h) == TQ_OK;
        tq_store_close(s);
    }
    fprintf(f, ok ? "thongquan_held_declarations{office=\"%s\"} %llu\n"
                  : "thongquan_held_declarations{office=\"%s\"} NaN\n",
            TQ_WORKLIST_UNKNOWN, (unsigned long long)h.unknown);
}

static void write_prom(FILE *f, const run *r, int status)
{
    static const char *const states[] = {"CLEARED", "HELD", "REJECTED", "CANCELLED"};
    prom(f, "thongquan_declarations", "Declarations in the database, by state.");
    for (int i = 0; i < 4; i++)
        fprintf(f, r->have_tally ? "thongquan_declarations{state=\"%s\"} %llu\n"
                                 : "thongquan_declarations{state=\"%s\"} NaN\n",
                states[i], (unsigned long long)r->tally.by_state[i + 1]);
    prom(f, "thongquan_held_by_reason", "Declarations held, by reason (one held for two "
                                        "reasons counts under both).");
    for (int b = 0; b < TQ_REASON_COUNT; b++)
        fprintf(f, r->have_tally ? "thongquan_held_by_reason{reason=\"%s\"} %llu\n"
                                 : "thongquan_held_by_reason{reason=\"%s\"} NaN\n",
                tq_reason_name(b), (unsigned long long)r->tally.held_by_reason[b]);
    write_held_by_office(f, r);
    prom(f, "thongquan_anomalies", "What needs an operator: manual clearances whose check "
                                   "found discrepancies (the other lists are in the report).");
    fprintf(f, r->have_tally ? "thongquan_anomalies{kind=\"manual_with_discrepancies\"} %llu\n"
                             : "thongquan_anomalies{kind=\"manual_with_discrepancies\"} NaN\n",
            (unsigned long long)r->tally.manual_with_discrepancies);
    prom(f, "thongquan_reconcile_cleared_now", "Declarations the last reconcile cleared.");
    fprintf(f, "thongquan_reconcile_cleared_now %llu\n", (unsigned long long)r->state.cleared_now);
    prom(f, "thongquan_reconcile_timestamp_seconds", "When the last reconcile committed (0: never).");
    fprintf(f, "thongquan_reconcile_timestamp_seconds %llu\n",
            (unsigned long long)r->state.last_reconcile);
    prom(f, "thongquan_nightly_files", "Inbox files handled by the last run, by result.");
    for (int i = 0; i < R_COUNT; i++)
        fprintf(f, "thongquan_nightly_files{result=\"%s\"} %zu\n", result_name[i], r->count[i]);
    prom(f, "thongquan_nightly_duration_seconds", "How long the last run took.");
    fprintf(f, "thongquan_nightly_duration_seconds %.3f\n", tq_cli_now() - r->t0);
    prom(f, "thongquan_nightly_last_run_timestamp_seconds", "When the last run ended.");
    fprintf(f, "thongquan_nightly_last_run_timestamp_seconds %lld\n", (long long)time(NULL));
    prom(f, "thongquan_nightly_last_exit_status", "Exit status of the last run (0 done, 1 a "
                                                  "file refused, 3 busy, 7 nothing new, ...).");
    fprintf(f, "thongquan_nightly_last_exit_status %d\n", status);
    prom(f, "thongquan_nightly_last_success_timestamp_seconds",
         "When a run last ended with status 0 or 7 (0: never).");
    fprintf(f, "thongquan_nightly_last_success_timestamp_seconds %llu\n",
            (unsigned long long)r->state.last_success);
}

/* write_metrics() - through tq_out (atomic); a failure is a warning, never a stop. */
static void write_metrics(run *r, int status)
{
    if (r->metrics == NULL)
        return;
    tq_out o;
    tq_diag d;
    memset(&d, 0, sizeof d);
    int rc = tq_out_open(&o, r->metrics, TQ_OUT_NO_STREAM, &d);
    FILE *f = rc == TQ_OK ? tq_out_fp(&o) : NULL;
    if (rc == TQ_OK && f == NULL) {
        tq_out_rollback(&o);
        rc = TQ_ERR_NOMEM;
    }
    if (f) {
        write_prom(f, r, status);
        rc = tq_out_commit(&o, &d);
    }
    if (rc != TQ_OK) {
        snprintf(r->metrics_error, sizeof r->metrics_error, "%s%s",
                 rc == TQ_ERR_PERM ? "permission denied: " : "",
                 d.why[0] ? d.why : tq_strerror(rc));
        tq_cli_warn("nightly: cannot write the metrics %s: %s (the run itself went on)",
                    r->metrics, r->metrics_error);
    }
}

/* ---- report ---- */

static void json_file(tq_json *j, const nfile *x)
{
    tq_json_begin_object(j);
    tq_json_kv_string(j, "name", x->q);
    tq_json_kv_string(j, "name_hex", x->hex);
    tq_json_kv_string(j, "kind", kind_name(x->kind));
    tq_json_kv_string(j, "result", result_name[x->result]);
    if (x->sha[0])
        tq_json_kv_string(j, "sha256", x->sha);
    if (x->result == R_LOADED)
        tq_json_kv_u64(j, "rows", x->rows);
    if (x->stored)
        tq_json_kv_string(j, "stored", x->stored);
    if (x->why[0])
        tq_json_kv_string(j, "why", x->why);
    tq_json_end_object(j);
}

static void json_ignored(tq_json *j, const tq_nightly_list *sc)
{
    tq_json_key(j, "ignored");
    tq_json_begin_array(j);
    for (size_t i = 0; i < sc->n_ignored; i++) {
        char *q = tq_nightly_quote(sc->ignored[i].name), *h = hex_of(sc->ignored[i].name);
        tq_json_begin_object(j);
        tq_json_kv_string(j, "name", q ? q : "?");
        tq_json_kv_string(j, "name_hex", h ? h : "");
        tq_json_end_object(j);
        free(q);
        free(h);
    }
    tq_json_end_array(j);
    tq_json_kv_u64(j, "ignored_not_listed", sc->n_ignored_total - sc->n_ignored);
}

/* json_worklists() - "worklists": where the officers' lists went and what they hold. */
static void json_worklists(tq_json *j, const run *r)
{
    tq_json_key(j, "worklists");
    if (!r->reports) {
        tq_json_null(j);
        return;
    }
    tq_json_begin_object(j);
    tq_json_kv_string(j, "dir", r->worklist_dir);
    tq_json_kv_u64(j, "files", r->wl.files);
    tq_json_kv_u64(j, "waiting", r->wl.rows);
    tq_json_kv_u64(j, "past_deadline", r->wl.past_deadline);
    tq_json_kv_u64(j, "tax_paid_held", r->wl.tax_paid_held);
    tq_json_kv_string(j, "error", r->worklists_done ? NULL
                      : r->worklist_error[0] ? r->worklist_error : "not written");
    tq_json_end_object(j);
}

static void json_reconcile_metrics(tq_json *j, const run *r)
{
    tq_json_key(j, "reconcile");
    tq_json_begin_object(j);
    tq_json_kv_bool(j, "ran", r->reconciled);
    tq_json_key(j, "status");
    tq_json_i64(j, r->reconcile_status);
    tq_json_kv_u64(j, "cleared_now", r->reconciled ? r->state.cleared_now : 0);
    tq_json_kv_string(j, "report", r->reconciled && r->reports ? r->reconcile_report : NULL);
    tq_json_kv_string(j, "page", r->reconciled && r->reports ? r->html_report : NULL);
    tq_json_end_object(j);
    json_worklists(j, r);
    tq_json_key(j, "metrics");
    if (r->metrics) {
        tq_json_begin_object(j);
        tq_json_kv_string(j, "path", r->metrics);
        tq_json_kv_string(j, "error", r->metrics_error[0] ? r->metrics_error : NULL);
        tq_json_end_object(j);
    } else {
        tq_json_null(j);
    }
}

/* write_report() - the run's report as one JSON object (tq_cli_json_end's status). */
static int write_report(FILE *f, const run *r, const tq_nightly_list *sc, int status)
{
    char now[32];
    tq_cli_utc_now(now);
    tq_json j;
    tq_cli_json_begin(&j, f);
    tq_json_kv_string(&j, "command", "nightly");
    tq_json_kv_string(&j, "inbox", r->inbox);
    tq_json_kv_string(&j, "database", r->db);
    tq_json_kv_string(&j, "started_at", r->started_at);
    tq_json_kv_string(&j, "finished_at", now);
    tq_json_key(&j, "exit_status");
    tq_json_i64(&j, status);
    tq_json_key(&j, "files");
    tq_json_begin_array(&j);
    for (size_t i = 0; i < r->nf; i++)
        json_file(&j, &r->f[i]);
    tq_json_end_array(&j);
    json_ignored(&j, sc);
    tq_json_key(&j, "counts");
    tq_json_begin_object(&j);
    for (int i = 0; i < R_COUNT; i++)
        tq_json_kv_u64(&j, result_name[i], r->count[i]);
    tq_json_end_object(&j);
    json_reconcile_metrics(&j, r);
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
    if (r->report_path == NULL)
        return;
    tq_out o;
    tq_diag d;
    memset(&d, 0, sizeof d);
    int rc = tq_out_open(&o, r->report_path, TQ_OUT_NO_CLOBBER | TQ_OUT_NO_STREAM, &d);
    FILE *f = rc == TQ_OK ? tq_out_fp(&o) : NULL;
    if (f) {
        write_report(f, r, sc, status);
        rc = tq_out_commit(&o, &d);
    } else if (rc == TQ_OK) {
        tq_out_rollback(&o);
        rc = TQ_ERR_NOMEM;
    }
    if (rc != TQ_OK)
        tq_cli_warn("nightly: cannot write the report %s: %s", r->report_path,
                    d.why[0] ? d.why : tq_strerror(rc));
}

static void run_free(run *r)
{
    for (size_t i = 0; i < r->nf; i++) {
        free(r->f[i].q);
        free(r->f[i].hex);
        free(r->f[i].stored);
    }
    free(r->f);
    free(r->report_path);
    free(r->reconcile_report);
    free(r->html_report);
    free(r->csv_dir);
    free(r->worklist_dir);
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

/* tally_quiet_night() - a run that neither loaded nor reconciled still reads the
 * database's counts, so its gauges hold figures, not NaN: an alert on HELD must be able
 * to fire on any night.  Only a database that cannot be read leaves them NaN. */
static void tally_quiet_night(run *r)
{
    tq_store *s;
    if (r->have_tally || tq_store_open(r->db, 0, NULL, &s, NULL) != TQ_OK)
        return;
    r->have_tally = tq_export_tally(s, &r->tally) == TQ_OK;
    tq_store_close(s);
}

/* write_worklists() - the officers' worklists beside the report, on every run with
 * --reports; a failure is a warning (like the metrics): the loading is done. */
static void write_worklists(run *r)
{
    if (r->reports == NULL)
        return;
    tq_store *s;
    tq_diag d;
    memset(&d, 0, sizeof d);
    tq_worklist_opts o = {.deadline = r->deadline};
    o.as_of.sec = (int64_t)time(NULL);
    int rc = tq_store_open(r->db, 0, NULL, &s, NULL);
    if (rc == TQ_OK) {
        rc = tq_worklist_write(s, r->worklist_dir, &o, &r->wl, &d);
        tq_store_close(s);
    }
    if (rc == TQ_OK) {
        r->worklists_done = 1;
        say(r, "worklists: %llu files in %s, %llu declarations waiting (%llu past the "
            "deadline), %llu tax paid and still held", (unsigned long long)r->wl.files,
            r->worklist_dir, (unsigned long long)r->wl.rows,
            (unsigned long long)r->wl.past_deadline, (unsigned long long)r->wl.tax_paid_held);
        return;
    }
    snprintf(r->worklist_error, sizeof r->worklist_error, "%s",
             d.why[0] ? d.why : tq_strerror(rc));
    tq_cli_warn("nightly: cannot write the worklists in %s: %s (the run itself went on)",
                r->worklist_dir, r->worklist_error);
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
    tq_nightly_state_read(r->n, &r->state);
    int pending = tq_nightly_pending(r->n);
    if (sc.n_in > 0 || pending) {
        /* Permits before payments (tq_nightly_scan's order): a run stopped half-way then
         * never holds new payments whose permits' revocation is still waiting. */
        load_all(r, &sc);
        if (r->status == 0 && (r->any_load_step || tq_nightly_pending(r->n)))
            reconcile(r);
    }
    count_results(r, &sc);
    int owed = r->any_load_step || pending || r->count[R_LOADED] || r->count[R_FAILED];
    int status = final_status(r, owed);
    if (status == TQ_EXIT_NOTHING)
        say(r, "nothing new in %s", r->inbox);
    if (status == TQ_EXIT_OK || status == TQ_EXIT_NOTHING)
        r->state.last_success = (uint64_t)time(NULL);
    if (tq_nightly_state_write(r->n, &r->state, &d) != TQ_OK)
        tq_cli_warn("nightly: %s", d.why);
    tally_quiet_night(r);
    write_worklists(r);
    write_metrics(r, status);
    report(r, &sc, status);
    say(r, "loaded %zu, refused %zu, duplicates %zu, ignored %zu, waiting %zu; exit status %d",
        r->count[R_LOADED], r->count[R_FAILED], r->count[R_DUPLICATE], r->count[R_IGNORED],
        r->count[R_WAITING], status);
    tq_nightly_scan_free(&sc);
    return status;
}

int tq_cmd_nightly(int argc, char **argv)
{
    const char *inbox = NULL, *db = NULL, *reports = NULL, *metrics = NULL, *create = NULL,
               *quiet = NULL, *json = NULL, *nosync = NULL, *min_age = NULL,
               *seed_ledger = NULL, *deadline = NULL;
    tq_opt opts[] = {{"inbox", 1, &inbox},   {"db", 1, &db},         {"reports", 1, &reports},
                     {"metrics", 1, &metrics}, {"create", 0, &create}, {"quiet", 0, &quiet},
                     {"q", 0, &quiet},       {"json", 0, &json},     {"no-sync", 0, &nosync},
                     {"min-age", 1, &min_age}, {"seed-ledger", 0, &seed_ledger},
                     {"deadline", 1, &deadline},
                     {NULL, 0, NULL}};
    const char *pos[1];
    int npos, rc = tq_cli_parse("nightly", argc, argv, opts, pos, 0, &npos);
    if (rc < 0)
        return tq_cli_help(help_nightly);
    if (rc)
        return rc;
    run r;
    memset(&r, 0, sizeof r);
    r.lock.fd = -1;
    /* An empty value is "not given": the units pass --metrics=${VAR} whatever it holds. */
    r.inbox = inbox && *inbox ? inbox : NULL;
    r.db = db && *db ? db : NULL;
    r.reports = reports && *reports ? reports : NULL;
    r.metrics = metrics && *metrics ? metrics : NULL;
    r.create = create != NULL;
    r.json = json != NULL;
    r.nosync = nosync != NULL;
    r.min_age = 60;
    if (quiet)
        tq_cli_quiet = 1;
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
    tq_cli_utc_now(r.started_at);
    tq_cli_catch_signals();
    int status = check_db(&r);
    if (status == 0)
        status = open_inbox(&r);
    if (status == 0)
        status = take_lock(&r);
    if (status == 0)
        status = prepare_reports(&r);
    if (status == 0 && seed_ledger)
        status = seed(&r);
    if (status == 0)
        status = work(&r);
    run_free(&r);
    return status;
}
