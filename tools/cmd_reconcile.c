/* cmd_reconcile.c - thongquan reconcile: re-decide HELD declarations, then report what an
 * operator works on, as a short summary (stdout), a JSON report (--report, or --json on
 * stdout) and one CSV per list (--csv DIR).
 *
 * The engine streams each list through a callback while it reconciles (the declarations
 * still held and the totals it leaves included); each list goes to a tq_spool, a
 * temporary file and with --csv its CSV file, so a report of a million lines does not
 * sit in memory.  What is left here is wording: which fields an entry has, the summary
 * (which keeps only the first few of each list), the page's facts, the exit statuses.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "tq_cli.h"
#include "tq_out.h"
#include "tq_reconcile.h"
#include "tq_report.h"
#include "tq_spool.h"

#define SHOWN 20            /* entries of a list kept for the text summary: it names */
#define SHOWN_OTHER 10      /* the first 20 cleared now and the first 10 of the others */

static const char help_reconcile[] =
    "usage: thongquan reconcile --db DIR [--report FILE.json] [--csv DIR] [--dry-run]\n"
    "                           [--html FILE [--as-of TIMESTAMP]] [--json] [--quiet]\n"
    "\n"
    "Re-evaluate every HELD declaration against the payments and permits loaded now,\n"
    "oldest registration first, and clear those that qualify, in one transaction.\n"
    "Prints a summary: the declarations cleared now, those still held by reason, manual\n"
    "clearances with discrepancies, payments for unknown declarations and overpaid\n"
    "clearances (refund candidates).\n"
    "  --report FILE.json  write the whole report as JSON (written to a temporary file\n"
    "                      and renamed into place)\n"
    "  --csv DIR           write each list as a CSV file in DIR (created when missing):\n"
    "                      cleared_now.csv, still_held.csv, manual_with_discrepancies.csv,\n"
    "                      payments_for_unknown_declarations.csv, overpaid_cleared.csv\n"
    "  --dry-run           decide and report, change nothing (still_held.csv is then\n"
    "                      not written: the reasons would be those of the last replay)\n"
    "  --html FILE         write the report as one self-contained page (no script,\n"
    "                      nothing fetched; the first 50 of each list)\n"
    "  --as-of TIMESTAMP   count the held declarations' age to this instant (default:\n"
    "                      now), e.g. 2024-08-07T08:00:00+07:00\n"
    "  --json              print the JSON report on stdout instead of the summary\n"
    "  --quiet             print nothing but errors\n"
    "\n"
    "example:\n"
    "  thongquan reconcile --db /var/lib/thongquan/db --report reconcile-2024-08-07.json \\\n"
    "      --csv reports/2024-08-07\n";

enum { L_CLEARED, L_HELD, L_MANUAL, L_UNKNOWN, L_OVERPAID, NLISTS };

static const struct {
    const char *key, *csv, *header;
} lists[NLISTS] = {
    {"cleared_now", "cleared_now.csv", "decl_no\n"},
    {"still_held", "still_held.csv", "decl_no,reasons,tax_short\n"},
    {"manual_with_discrepancies", "manual_with_discrepancies.csv",
     "decl_no,discrepancies,tax_short\n"},
    {"payments_for_unknown_declarations", "payments_for_unknown_declarations.csv",
     "receipt_no,decl_no,kind,amount\n"},
    {"overpaid_cleared", "overpaid_cleared.csv", "decl_no,tax_due,covered,excess\n"},
};

typedef struct rec_list {
    FILE *tmp;               /* the array's temporary file, until the spool takes it */
    tq_spool sp;             /* the list as a JSON array, and with --csv its CSV file */
    uint64_t n;
    char shown[SHOWN][224];   /* the first entries, as the summary prints them */
} rec_list;

typedef struct rec_ctx {
    rec_list l[NLISTS];
    tq_progress prog;
    tq_report *html;            /* --html: the page's lists */
} rec_ctx;

/* html_row() - with --html, one row of a list of the page (TQ_LIST_*). */
static void html_row(rec_ctx *c, int list, const char *a, const char *b, const char *x,
                     const char *y)
{
    if (c->html)
        tq_report_row(c->html, list, (const char *const[]){a, b, x, y}, 4);
}

static const char *kind_name(int kind)
{
    return tq_payment_kind_name(kind);
}

/* add() - one entry counted and, for the first SHOWN, its line in the summary (its JSON
 * element and CSV row go to the list's spool). */
static void add(rec_list *l, const char *shown)
{
    if (l->n < SHOWN)
        snprintf(l->shown[l->n], sizeof l->shown[l->n], "%.223s", shown); /* cut as before */
    l->n++;
}

static void on_cleared(void *ctx, const tq_decl *d)
{
    rec_ctx *c = ctx;
    rec_list *l = &c->l[L_CLEARED];
    tq_json_string(&l->sp.json, d->decl_no);
    tq_spool_csv(&l->sp, "%s\n", d->decl_no);
    add(l, d->decl_no);
    html_row(c, TQ_LIST_CLEARED, d->decl_no, NULL, NULL, NULL);
}

/* reasons_entry() - an entry of a list of declarations with reasons (manual
 * discrepancies, still held): decl_no, the reasons under `key`, and tax_short.  Keeps
 * reasons (>= 160 bytes) and the grouped tax_short (a, >= 32 bytes) for the caller. */
static void reasons_entry(rec_ctx *c, int which, const char *key, const tq_decl *d,
                          char *reasons, char *a)
{
    rec_list *l = &c->l[which];
    char line[224];
    tq_reasons_format(d->reasons, reasons, 160);
    tq_json_begin_object(&l->sp.json);
    tq_json_kv_string(&l->sp.json, "decl_no", d->decl_no);
    tq_json_kv_string(&l->sp.json, key, reasons);
    tq_json_kv_u64(&l->sp.json, "tax_short", d->tax_short);
    tq_json_end_object(&l->sp.json);
    tq_cli_group(d->tax_short, a);
    if (d->tax_short)
        snprintf(line, sizeof line, "%s %s (tax short %s)", d->decl_no, reasons, a);
    else
        snprintf(line, sizeof line, "%s %s", d->decl_no, reasons);
    tq_spool_csv(&l->sp, "%s,%s,%llu\n", d->decl_no, reasons, (unsigned long long)d->tax_short);
    add(l, line);
}

static void on_manual(void *ctx, const tq_decl *d)
{
    rec_ctx *c = ctx;
    char reasons[160], a[32];
    reasons_entry(c, L_MANUAL, "discrepancies", d, reasons, a);
    html_row(c, TQ_LIST_MANUAL, d->decl_no, reasons, a, NULL);
}

/* on_held() - the declarations the run leaves HELD, with their reasons (not asked for in
 * a dry run: the reasons in the database would be those of the last replay). */
static void on_held(void *ctx, const tq_decl *d)
{
    char reasons[160], a[32];
    reasons_entry(ctx, L_HELD, "reasons", d, reasons, a);
}

static void on_unknown(void *ctx, const tq_payment *p)
{
    rec_ctx *c = ctx;
    rec_list *l = &c->l[L_UNKNOWN];
    char line[224], a[32];
    tq_json_begin_object(&l->sp.json);
    tq_json_kv_string(&l->sp.json, "receipt_no", p->receipt_no);
    tq_json_kv_string(&l->sp.json, "decl_no", p->decl_no);
    tq_json_kv_string(&l->sp.json, "kind", kind_name(p->kind));
    tq_json_kv_u64(&l->sp.json, "amount", p->amount);
    tq_json_end_object(&l->sp.json);
    snprintf(line, sizeof line, "%s for %s: %s %s", p->receipt_no, p->decl_no,
             kind_name(p->kind), tq_cli_group(p->amount, a));
    tq_spool_csv(&l->sp, "%s,%s,%s,%llu\n", p->receipt_no, p->decl_no, kind_name(p->kind),
                 (unsigned long long)p->amount);
    add(l, line);
    html_row(c, TQ_LIST_UNKNOWN, p->receipt_no, p->decl_no, kind_name(p->kind), a);
}

/* covered and excess are exact sums (SPEC §2): 128-bit, written in full. */
static void on_overpaid(void *ctx, const tq_decl *d, tq_u128 covered)
{
    rec_ctx *c = ctx;
    rec_list *l = &c->l[L_OVERPAID];
    char line[256], a[32], b[TQ_U128_GROUP_MAX], e[TQ_U128_GROUP_MAX];
    char cd[TQ_U128_DEC_MAX], ed[TQ_U128_DEC_MAX];
    tq_u128 excess = covered - d->tax_due;
    tq_u128_dec(covered, cd);
    tq_u128_dec(excess, ed);
    tq_json_begin_object(&l->sp.json);
    tq_json_kv_string(&l->sp.json, "decl_no", d->decl_no);
    tq_json_kv_u64(&l->sp.json, "tax_due", d->tax_due);
    tq_json_key(&l->sp.json, "covered");
    tq_json_raw(&l->sp.json, cd, strlen(cd));        /* 128-bit decimals, digits only */
    tq_json_key(&l->sp.json, "excess");
    tq_json_raw(&l->sp.json, ed, strlen(ed));
    tq_json_end_object(&l->sp.json);
    snprintf(line, sizeof line, "%s: due %s, covered %s, excess %s", d->decl_no,
             tq_cli_group(d->tax_due, a), tq_u128_group(covered, b), tq_u128_group(excess, e));
    tq_spool_csv(&l->sp, "%s,%llu,%s,%s\n", d->decl_no, (unsigned long long)d->tax_due, cd,
                 ed);
    add(l, line);
    html_row(c, TQ_LIST_REFUND, d->decl_no, a, b, e);
}

/* A run redone after the map grew calls the callbacks again from the start. */
static void on_restart(void *ctx)
{
    rec_ctx *c = ctx;
    for (int i = 0; i < NLISTS; i++) {
        tq_spool_reset(&c->l[i].sp);
        c->l[i].n = 0;
    }
    if (c->html)
        tq_report_lists_reset(c->html);
}

static void on_progress(void *ctx, uint64_t done, uint64_t total)
{
    rec_ctx *c = ctx;
    char n[32];
    snprintf(c->prog.note, sizeof c->prog.note, "%s cleared so far",
             tq_cli_group(c->l[L_CLEARED].n, n));
    tq_progress_update(&c->prog, done, total, "held declarations");
}

/* open_lists() - the temporary files, and with --csv the CSV files (each written beside
 * its final name and renamed into place at the end, so a failed run leaves none). */
static int open_lists(rec_ctx *c, const char *csv_dir, int dry_run)
{
    for (int i = 0; i < NLISTS; i++)
        if ((c->l[i].tmp = tq_cli_tmpfile()) == NULL)
            return tq_cli_error(TQ_EXIT_IO, "cannot create a temporary file in %s: %s",
                                getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp", strerror(errno));
    if (csv_dir && tq_cli_mkdirs(csv_dir) != 0)
        return tq_cli_error(errno == EACCES || errno == EPERM ? TQ_EXIT_PERM : TQ_EXIT_IO,
                            "cannot create %s: %s", csv_dir, strerror(errno));
    for (int i = 0; i < NLISTS; i++) {
        char path[4096];
        tq_diag d;
        memset(&d, 0, sizeof d);
        snprintf(path, sizeof path, "%s/%s", csv_dir ? csv_dir : "", lists[i].csv);
        /* no still_held.csv in a dry run: see the help */
        int with_csv = csv_dir && !(i == L_HELD && dry_run);
        FILE *tmp = c->l[i].tmp;
        c->l[i].tmp = NULL;        /* the spool's now, whatever happens */
        int rc = tq_spool_open(&c->l[i].sp, tmp, with_csv ? path : NULL, lists[i].header, &d);
        if (rc == TQ_ERR_NOMEM)
            return tq_cli_error(TQ_EXIT_SOFTWARE, "out of memory");
        if (rc != TQ_OK)
            return tq_cli_error(tq_cli_exit_for(rc), "cannot create %s", d.why);
    }
    return 0;
}

/* close_lists() - remove the CSV files not committed; free the rest. */
static void close_lists(rec_ctx *c)
{
    for (int i = 0; i < NLISTS; i++) {
        tq_spool_release(&c->l[i].sp);
        if (c->l[i].tmp)
            fclose(c->l[i].tmp);
        c->l[i].tmp = NULL;
    }
}

/* commit_lists() - rename every CSV list into place.  @return TQ_OK or the error of the
 * first that failed (d says which and why). */
static int commit_lists(rec_ctx *c, tq_diag *d)
{
    int rc = TQ_OK;
    for (int i = 0; i < NLISTS && rc == TQ_OK; i++)
        rc = tq_spool_commit(&c->l[i].sp, d);
    return rc;
}

/* end_lists() - close every list's JSON array, once all its entries are in. */
static int end_lists(rec_ctx *c)
{
    int rc = TQ_OK;
    for (int i = 0; i < NLISTS; i++)
        if (tq_spool_end(&c->l[i].sp) != TQ_OK)
            rc = TQ_ERR_IO;
    return rc;
}

/* lists_failed() - whether a list's temporary file could not be written or reset. */
static int lists_failed(const rec_ctx *c)
{
    for (int i = 0; i < NLISTS; i++)
        if (c->l[i].sp.failed)
            return 1;
    return 0;
}

typedef struct rec_report {
    const char *db;
    const char *report;      /* --report, or NULL */
    char generated_at[32];
    int dry_run;
    const tq_reconcile_stats *st;
    const tq_tally *t;
} rec_report;

/* Still held per office: the offices with the most, then how many offices in all. */
static void print_offices(FILE *f, const tq_reconcile_stats *st)
{
    if (!st->held_offices)
        return;
    fprintf(f, "still held by office (%zu with the most, of %llu):", st->ntop_offices,
            (unsigned long long)st->held_offices);
    for (size_t i = 0; i < st->ntop_offices; i++) {
        const char *o = st->top_offices[i].office;
        fprintf(f, "%s %s %llu", i ? "," : "", o[0] ? o : "(none)",
                (unsigned long long)st->top_offices[i].count);
    }
    fputc('\n', f);
}

/* json_offices() - "held_offices" and "held_by_office": the offices with the most. */
static void json_offices(tq_json *j, const tq_reconcile_stats *st)
{
    tq_json_kv_u64(j, "held_offices", st->held_offices);
    tq_json_key(j, "held_by_office");
    tq_json_begin_array(j);
    for (size_t i = 0; i < st->ntop_offices; i++) {
        tq_json_begin_object(j);
        tq_json_kv_string(j, "office", st->top_offices[i].office);
        tq_json_kv_u64(j, "held", st->top_offices[i].count);
        tq_json_end_object(j);
    }
    tq_json_end_array(j);
}

static int write_json(FILE *f, const rec_report *r, rec_ctx *c)
{
    const tq_reconcile_stats *st = r->st;
    tq_json j;
    tq_cli_json_begin(&j, f);
    tq_json_kv_string(&j, "command", "reconcile");
    tq_json_kv_string(&j, "database", r->db);
    tq_json_kv_string(&j, "generated_at", r->generated_at);
    tq_json_kv_bool(&j, "dry_run", r->dry_run);
    tq_json_key(&j, "seconds");
    tq_json_double(&j, st->seconds, 6);
    tq_json_kv_u64(&j, "reevaluated", st->reevaluated);
    tq_json_kv_u64(&j, "cleared_now", st->cleared_now);
    tq_json_kv_u64(&j, "still_held", st->still_held);
    tq_json_key(&j, "still_held_by_reason");
    tq_cli_json_by_reason(&j, st->still_held_by_reason);
    json_offices(&j, st);
    tq_json_kv_u64(&j, "manual_with_discrepancies", st->manual_with_discrepancies);
    tq_json_kv_u64(&j, "payments_for_unknown_declarations", st->unknown_payments);
    tq_json_kv_u64(&j, "overpaid_cleared", st->overpaid);
    tq_json_key(&j, "totals");
    tq_json_begin_object(&j);
    tq_cli_json_tally(&j, r->t);
    tq_json_end_object(&j);
    tq_json_key(&j, "lists");
    tq_json_begin_object(&j);
    int rc = 0;
    for (int i = 0; i < NLISTS; i++) {
        tq_json_key(&j, lists[i].key);
        if (i == L_HELD && r->dry_run)
            tq_json_null(&j);
        else
            rc |= tq_spool_copy(&c->l[i].sp, &j);
    }
    tq_json_end_object(&j);
    tq_json_end_object(&j);
    return rc || tq_json_finish(&j) != TQ_OK ? -1 : 0;
}

/* print_shown() - the first `max` entries, `per_line` to a line, then how many more. */
static void print_shown(const rec_list *l, uint64_t max, int per_line)
{
    uint64_t n = l->n < max ? l->n : max;
    for (uint64_t i = 0; i < n; i++) {
        printf("%s%s", i % (uint64_t)per_line ? " " : "  ", l->shown[i]);
        if ((i + 1) % (uint64_t)per_line == 0 || i + 1 == n)
            putchar('\n');
    }
    if (l->n > max)
        printf("  ... and %llu more\n", (unsigned long long)(l->n - max));
}

static void print_summary(const rec_report *r, const rec_ctx *c, const char *report,
                          const char *csv)
{
    const tq_reconcile_stats *st = r->st;
    if (r->dry_run)
        printf("dry run: nothing was changed; a reconcile now would do this\n");
    printf("reconciled %llu held declarations in %.3f s: %llu cleared now, %llu still held\n",
           (unsigned long long)st->reevaluated, st->seconds, (unsigned long long)st->cleared_now,
           (unsigned long long)st->still_held);
    if (st->cleared_now) {
        printf("cleared now: %llu\n", (unsigned long long)st->cleared_now);
        print_shown(&c->l[L_CLEARED], SHOWN, 5);
    }
    tq_cli_print_by_reason_text(stdout, "still held by reason: ", st->still_held_by_reason);
    if (st->still_held)
        printf("  (a declaration held for several reasons counts under each, so these can "
               "sum to more than the %llu still held)\n", (unsigned long long)st->still_held);
    print_offices(stdout, st);
    printf("manual clearances with discrepancies: %llu\n",
           (unsigned long long)st->manual_with_discrepancies);
    print_shown(&c->l[L_MANUAL], SHOWN_OTHER, 1);
    printf("payments for unknown declarations: %llu\n", (unsigned long long)st->unknown_payments);
    print_shown(&c->l[L_UNKNOWN], SHOWN_OTHER, 1);
    printf("overpaid clearances (refund candidates): %llu\n", (unsigned long long)st->overpaid);
    print_shown(&c->l[L_OVERPAID], SHOWN_OTHER, 1);
    tq_cli_print_tally_text(stdout, r->t);
    if (report)
        printf("report: %s\n", report);
    if (csv)
        printf("lists: %s/\n", csv);
}

/* write_outputs() - the report (rep, may be NULL), the CSV lists, then the summary or
 * the JSON on stdout.  @return the exit status, after saying what failed. */
static int write_outputs(const rec_report *r, rec_ctx *c, tq_out *rep, const char *csv,
                         int committed, int json)
{
    const char *but = committed ? "reconcile committed, but " : "";
    tq_diag d;
    memset(&d, 0, sizeof d);
    int rc;
    if (end_lists(c) != 0)
        return tq_cli_error(TQ_EXIT_IO, "%scannot write a temporary file: %s", but,
                            strerror(errno));
    if (rep) {
        FILE *f = tq_out_fp(rep);
        if ((f == NULL || write_json(f, r, c) != 0) && rep->err == 0) {
            /* not a write error (tq_out keeps those): a temporary list was unreadable */
            tq_out_rollback(rep);
            return tq_cli_error(TQ_EXIT_IO, "%scannot write the report %s: cannot read a "
                                "temporary file back", but, r->report);
        }
        if ((rc = tq_out_commit(rep, &d)) != TQ_OK)
            return tq_cli_error(tq_cli_exit_for(rc), "%scannot write the report: %s", but,
                                d.why);
    }
    if ((rc = commit_lists(c, &d)) != TQ_OK)
        return tq_cli_error(tq_cli_exit_for(rc), "%scannot write the lists: %s", but, d.why);
    if (json) {
        if (write_json(stdout, r, c) != 0 || fflush(stdout) != 0)
            return tq_cli_error(TQ_EXIT_IO, "write error: %s", strerror(errno));
    } else if (!tq_cli_quiet) {
        print_summary(r, c, rep ? r->report : NULL, csv);
        if (fflush(stdout) != 0)
            return tq_cli_error(TQ_EXIT_IO, "write error: %s", strerror(errno));
    }
    return 0;
}

/* write_page() - --html FILE: the database after the run (for a dry run, its totals and
 * the offices and ages before it), the run's figures and the first rows of each list,
 * naming where the whole lists are.  @return 0 or the exit status. */
static int write_page(rec_ctx *c, tq_out *o, tq_store *s, const rec_report *r,
                      const char *csv, int committed)
{
    static const int from[TQ_LIST_COUNT] = {L_CLEARED, L_MANUAL, L_OVERPAID, L_UNKNOWN};
    tq_report *h = c->html;
    const tq_reconcile_stats *st = r->st;
    tq_diag d;
    memset(&d, 0, sizeof d);
    char a[32], b[32];
    int rc = tq_report_collect_store(s, h, &d);
    if (rc == TQ_OK && r->dry_run) {
        memcpy(h->by_state, r->t->by_state, sizeof h->by_state);
        memcpy(h->held_by_reason, r->t->held_by_reason, sizeof h->held_by_reason);
        snprintf(h->store_note, sizeof h->store_note, "Dry run: nothing was changed. The "
                 "offices and ages below are those of the database before it.");
    }
    for (int i = 0; i < TQ_LIST_COUNT; i++)
        snprintf(h->list[i].rest, sizeof h->list[i].rest, "%s%s%s", csv ? csv : "",
                 csv ? "/" : "", csv ? lists[from[i]].csv : r->report ? r->report : "");
    tq_report_fact(h, "Database", "%s", r->db);
    tq_report_fact(h, "Re-evaluated", "%s held declarations in %.3f s",
                   tq_report_group(st->reevaluated, a), st->seconds);
    tq_report_fact(h, "Result", "%s cleared now, %s still held",
                   tq_report_group(st->cleared_now, a), tq_report_group(st->still_held, b));
    h->have_lists = 1;
    if (rc == TQ_OK)
        rc = tq_report_commit(o, h, &d);
    if (rc != TQ_OK)
        return tq_cli_error(tq_cli_exit_for(rc), "%scannot write the page: %s",
                            committed ? "reconcile committed, but " : "", d.why);
    return 0;
}

typedef struct rec_args {
    const char *db, *report, *csv, *html, *as_of;
    const char *dry, *json_opt, *quiet, *nosync;     /* the flags as given */
    int dry_run, json;
} rec_args;

/* rec_check() - --as-of goes with --html; the flags into *a. */
static int rec_check(tq_cli_cmd *cmd)
{
    rec_args *a = cmd->args;
    if (a->as_of && !a->html)
        return tq_cli_usage("reconcile", "--as-of goes with --html FILE");
    a->dry_run = a->dry != NULL;
    a->json = a->json_opt != NULL;
    return 0;
}

/* open_outputs() - every output, created before anything changes, so a report that
 * cannot be written stops the run with the database untouched.  @return 0 or the exit
 * status. */
static int open_outputs(rec_ctx *c, const rec_args *a, tq_out *rep, tq_out *hout)
{
    tq_diag d;
    memset(&d, 0, sizeof d);
    char title[160];
    snprintf(title, sizeof title, "Reconcile of %s", a->db);
    int rc;
    if (a->html && (rc = tq_report_open(a->html, title, hout, &c->html, &d)) != TQ_OK)
        return tq_cli_error(tq_cli_exit_for(rc), "cannot create %s; nothing changed", d.why);
    if (c->html && a->as_of && tq_report_as_of(c->html, a->as_of, &d) != TQ_OK)
        return tq_cli_usage("reconcile", "--as-of %s", d.why);
    if (a->report && (rc = tq_out_open(rep, a->report, 0, &d)) != TQ_OK)
        return tq_cli_error(tq_cli_exit_for(rc), "cannot create %s; nothing changed", d.why);
    int status = open_lists(c, a->csv, a->dry_run);
    if (status != 0 && a->csv)
        tq_cli_warn("nothing changed");
    return status;
}

/* run() - the reconcile, then its outputs.  @return the exit status. */
static int run(rec_ctx *c, tq_store *s, const rec_args *a, tq_out *rep, tq_out *hout)
{
    tq_tally t;
    tq_reconcile_opts ro = {.dry_run = a->dry_run,
                            .cleared_now = on_cleared,
                            .manual_discrepancy = on_manual,
                            .unknown_payment = on_unknown,
                            .overpaid = on_overpaid,
                            .still_held = a->dry_run ? NULL : on_held,
                            .ctx = c,
                            .progress = on_progress,
                            .progress_ctx = c,
                            .tally_after = &t};
    tq_reconcile_stats st;
    tq_diag d;
    memset(&d, 0, sizeof d);
    tq_progress_init(&c->prog, "reconcile");
    int rc = tq_reconcile_run(s, &ro, on_restart, &st, &d);
    tq_progress_done(&c->prog);
    if (rc != TQ_OK)
        return tq_cli_error(tq_cli_exit_for(rc), "%s: reconcile failed, nothing changed: %s%s%s",
                            a->db, tq_strerror(rc), d.why[0] ? ": " : "", d.why);
    int committed = !a->dry_run, status;
    if (lists_failed(c))
        return tq_cli_error(TQ_EXIT_IO, "cannot write a temporary file: %s", strerror(errno));
    rec_report r = {.db = a->db, .report = a->report, .dry_run = a->dry_run, .st = &st, .t = &t};
    tq_cli_utc_now(r.generated_at);
    if (c->html && (status = write_page(c, hout, s, &r, a->csv, committed)) != 0)
        return status;
    return write_outputs(&r, c, a->report ? rep : NULL, a->csv, committed, a->json);
}

static int rec_run(tq_cli_cmd *cmd)
{
    const rec_args *a = cmd->args;
    int status;
    rec_ctx *c = calloc(1, sizeof *c);
    if (c == NULL)
        return tq_cli_error(TQ_EXIT_SOFTWARE, "out of memory");
    tq_store *s = cmd->s;
    tq_out rep, hout;
    memset(&rep, 0, sizeof rep);
    memset(&hout, 0, sizeof hout);
    if ((status = open_outputs(c, a, &rep, &hout)) == 0)
        status = run(c, s, a, &rep, &hout);
    tq_out_rollback(&rep);
    tq_report_close(&hout, c->html);
    close_lists(c);
    free(c);
    return status;
}

int tq_cmd_reconcile(int argc, char **argv)
{
    rec_args a = {0};
    tq_opt opts[] = {{"db", 1, &a.db},       {"report", 1, &a.report}, {"csv", 1, &a.csv},
                     {"html", 1, &a.html},   {"as-of", 1, &a.as_of},
                     {"dry-run", 0, &a.dry}, {"json", 0, &a.json_opt}, {"quiet", 0, &a.quiet},
                     {"q", 0, &a.quiet},     {"no-sync", 0, &a.nosync}, {NULL, 0, NULL}};
    tq_cli_cmd c = {.name = "reconcile", .help = help_reconcile, .opts = opts,
                    .store = TQ_CLI_WRITE, .db = &a.db, .db_first = 1, .nosync = &a.nosync,
                    .check = rec_check, .run = rec_run, .args = &a};
    return tq_cli_main(&c, argc, argv);
}
