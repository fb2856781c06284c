/* cmd_list.c - thongquan list: the declarations matching filters, as a table, CSV or
 * NDJSON, streamed (engine/tq_list.c does the choosing and the filtering). */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "tq_cli.h"
#include "tq_csv.h"
#include "tq_list.h"
#include "tq_out.h"

static const char help_list[] =
    "usage: thongquan list --db DIR [--state S] [--reason R[,R...]] [--office CODE]\n"
    "                      [--declarant TAXID] [--permit PERMIT_NO]\n"
    "                      [--registered-before T | --older-than DURATION] [--as-of T]\n"
    "                      [--tax-paid] [--limit N] [--csv | --ndjson | --table]\n"
    "                      [-o FILE]\n"
    "\n"
    "List the declarations that match every filter given, in decl_no order, streamed\n"
    "from one consistent snapshot (a writer may run meanwhile).\n"
    "  --state S              CLEARED, HELD, REJECTED or CANCELLED\n"
    "  --reason R[,R...]      any of these reasons (TAX_SHORT, PERMIT_MISSING,\n"
    "                         PERMIT_REVOKED, PERMIT_EXPIRED, PERMIT_HOLDER, PERMIT_HS,\n"
    "                         AWAIT_OFFICER, PERMIT_QUOTA): why a HELD one is held, the\n"
    "                         discrepancies of one cleared by hand\n"
    "  --office CODE          the customs office (4 characters, 01B1)\n"
    "  --declarant TAXID      the declarant's tax id (10 or 13 digits)\n"
    "  --permit PERMIT_NO     a line names this permit\n"
    "  --registered-before T  registered strictly before T (a timestamp with its offset,\n"
    "                         2024-08-07T08:00:00+07:00, or a date: its 00:00 in Vietnam)\n"
    "  --older-than DURATION  registered more than DURATION before --as-of (45s, 90m, 2h,\n"
    "                         3d); with --registered-before both must hold\n"
    "  --as-of T              'now' for ages and --older-than (default: the clock)\n"
    "  --tax-paid             tax paid (payments and guarantees valid on the\n"
    "                         registration day cover tax_due) and not CLEARED\n"
    "  --limit N              at most N rows\n"
    "Output: an aligned table when standard output is a terminal (or --table), else CSV\n"
    "(--csv); --ndjson gives one JSON object a line.  Columns: decl_no, office, kind,\n"
    "declarant, state, reasons, registered_at (Vietnam time), age, tax_due, covered\n"
    "(đồng), permits ('|' between; the table puts reasons and permits last).  -o FILE\n"
    "writes a temporary file beside FILE and renames it into place when complete.\n"
    "Nothing matches: the CSV header alone, no NDJSON line, or 'no declarations match'\n"
    "on stderr; exit 0.  A bad filter value exits 2 naming the option and the value.\n"
    "\n"
    "example:\n"
    "  thongquan list --db /var/lib/thongquan/db --office 01B1 --state HELD \\\n"
    "      --reason PERMIT_EXPIRED,PERMIT_HS --older-than 2h\n";

enum { FMT_TABLE, FMT_CSV, FMT_NDJSON };

static const char csv_header[] =
    "decl_no,office,kind,declarant,state,reasons,registered_at,age,tax_due,covered,permits\n";

/* An NDJSON row is a line of tq_json_lines (formats/tq_json.h), built in line.  Every
 * field is bounded (the permits the longest, TQ_LIST_PERMITS_MAX, all of a checked
 * alphabet), so a row fits. */
#define LINE_MAX_ROW (4 * TQ_LIST_PERMITS_MAX + 1024)
typedef struct out_ctx {
    FILE *f;
    int fmt;
    int rows;
    tq_json_lines nd;               /* NDJSON only */
    char line[LINE_MAX_ROW];
} out_ctx;

static void table_header(FILE *f)
{
    fprintf(f, "%-12s  %-6s  %-4s  %-13s  %-9s  %-25s  %10s  %17s  %17s  %-28s  %s\n",
            "DECL_NO", "OFFICE", "KIND", "DECLARANT", "STATE", "REGISTERED_AT", "AGE",
            "TAX_DUE", "COVERED", "REASONS", "PERMITS");
}

/* ndjson_row() - one row as one line of JSON, written with the one writer
 * (formats/tq_json.h) like every JSON thongquan prints; covered is an exact integer
 * that may pass 2^64.  @return 0 or TQ_ERR_IO. */
static int ndjson_row(out_ctx *o, const tq_list_row *row, const char *state,
                      const char *reasons, const char *when, const char *age,
                      const char *permits)
{
    const tq_decl *d = row->decl;
    char covered[TQ_U128_DEC_MAX];
    const char *cv = tq_u128_dec(row->covered, covered);
    tq_json j;
    tq_json_lines_begin(&o->nd, &j);
    tq_json_kv_string(&j, "decl_no", d->decl_no);
    tq_json_kv_string(&j, "office", d->office);
    tq_json_kv_string(&j, "kind", d->kind);
    tq_json_kv_string(&j, "declarant", d->declarant);
    tq_json_kv_string(&j, "state", state);
    tq_json_kv_string(&j, "reasons", reasons);
    tq_json_kv_string(&j, "registered_at", when);
    tq_json_kv_string(&j, "age", age);
    tq_json_key(&j, "age_s");
    tq_json_i64(&j, (int64_t)row->age);
    tq_json_kv_u64(&j, "tax_due", d->tax_due);
    tq_json_key(&j, "covered");
    tq_json_raw(&j, cv, strlen(cv));
    tq_json_kv_string(&j, "permits", permits);
    return tq_json_lines_end(&o->nd, &j);
}

static int print_row(void *ctx, const tq_list_row *row)
{
    out_ctx *o = ctx;
    const tq_decl *d = row->decl;
    char when[48], age[32], reasons[160], permits[TQ_LIST_PERMITS_MAX + 1];
    char covered[TQ_U128_GROUP_MAX], due[32];
    tq_time_format_vn(d->registered, when);
    tq_list_format_age(row->age, age);
    tq_reasons_format(row->reasons, reasons, sizeof reasons);
    tq_list_format_permits(d, permits, sizeof permits);
    const char *state = tq_state_name(d->state) ? tq_state_name(d->state) : "PENDING";
    if (o->fmt == FMT_TABLE && o->rows++ == 0)
        table_header(o->f);
    if (o->fmt == FMT_TABLE) {
        fprintf(o->f, "%-12s  %-6s  %-4s  %-13s  %-9s  %-25s  %10s  %17s  %17s  %-28s  %s\n",
                d->decl_no, d->office[0] ? d->office : "-", d->kind[0] ? d->kind : "-",
                d->declarant, state, when, age, tq_cli_group(d->tax_due, due),
                tq_u128_group(row->covered, covered), reasons[0] ? reasons : "-", permits);
    } else if (o->fmt == FMT_CSV) {
        char line[TQ_LIST_CSV_MAX];
        fwrite(line, 1, tq_list_csv_row(row, line), o->f);
    } else {
        return ndjson_row(o, row, state, reasons, when, age, permits);
    }
    return ferror(o->f) ? TQ_ERR_IO : 0;
}

/* bad() - "thongquan list: --office: '01b1' is not ...", exit 2. */
static int bad(const char *opt, const char *val, const char *why)
{
    return tq_cli_usage("list", "--%s: '%s' %s", opt, val, why);
}

/* parse_instant() - a timestamp with its offset, or a date (its 00:00 in Vietnam). */
static int parse_instant(const char *opt, const char *s, tq_instant *out)
{
    tq_diag why = {0};
    if (tq_list_parse_instant(s, out, &why) == TQ_OK)
        return 0;
    char msg[448];
    snprintf(msg, sizeof msg, "is neither a timestamp with its offset "
             "(2024-08-07T08:00:00+07:00) nor a date (2024-08-07): %s", why.why);
    return bad(opt, s, msg);
}

/* copy_key() - an office, declarant or permit value, checked as the store keeps it. */
static int copy_key(const char *opt, const char *s, char *dst, size_t cap,
                    int (*valid)(const char *, size_t), const char *why)
{
    size_t n = strlen(s);
    if (n == 0 || n >= cap || !valid(s, n))
        return bad(opt, s, why);
    memcpy(dst, s, n + 1);
    return 0;
}

typedef struct list_args {
    const char *db, *state, *reason, *office, *declarant, *permit, *before, *older,
        *as_of, *tax_paid, *limit, *csv, *ndjson, *table, *out;
} list_args;

/* build_filter() - every option into f; a bad value exits 2 naming option and value. */
static int build_filter(const list_args *a, tq_list_filter *f)
{
    tq_list_filter_init(f);
    f->as_of.sec = (int64_t)time(NULL);
    if (a->as_of && parse_instant("as-of", a->as_of, &f->as_of))
        return TQ_EXIT_USAGE;
    if (a->state && tq_list_parse_state(a->state, &f->state) != TQ_OK)
        return bad("state", a->state, "is not a state (CLEARED, HELD, REJECTED, CANCELLED)");
    const char *which;
    if (a->reason && tq_list_parse_reasons(a->reason, &f->reasons, &which) != TQ_OK) {
        char msg[256];
        int n = (int)strcspn(which, ",");
        snprintf(msg, sizeof msg, "names an unknown reason '%.*s' (TAX_SHORT, PERMIT_MISSING, "
                 "PERMIT_REVOKED, PERMIT_EXPIRED, PERMIT_HOLDER, PERMIT_HS, AWAIT_OFFICER, "
                 "PERMIT_QUOTA)", n > 64 ? 64 : n, which);
        return bad("reason", a->reason, msg);
    }
    if ((a->office && copy_key("office", a->office, f->office, sizeof f->office, tq_valid_office,
                               "is not an office code (4 characters of 0-9 and A-Z: 01B1)")) ||
        (a->declarant && copy_key("declarant", a->declarant, f->declarant, sizeof f->declarant,
                                  tq_valid_taxid, "is not a tax id (10 or 13 digits)")) ||
        (a->permit && copy_key("permit", a->permit, f->permit, sizeof f->permit,
                               tq_valid_permit_no,
                               "is not a permit number (1..32 of A-Z a-z 0-9 . / _ -)")))
        return TQ_EXIT_USAGE;
    if (a->before && parse_instant("registered-before", a->before, &f->registered_before))
        return TQ_EXIT_USAGE;
    f->has_before = a->before != NULL;
    int64_t dur;
    if (a->older) {
        if (tq_list_parse_duration(a->older, &dur) != TQ_OK)
            return bad("older-than", a->older, "is not a duration (a whole number and s, m, "
                       "h or d: 45s, 90m, 2h, 3d)");
        tq_instant cut = {f->as_of.sec - dur, f->as_of.nsec};
        if (!f->has_before || tq_instant_cmp(cut, f->registered_before) < 0)
            f->registered_before = cut;
        f->has_before = 1;
    }
    f->tax_paid = a->tax_paid != NULL;
    if (a->limit && (tq_cli_u64("list", "limit", a->limit, &f->limit) != 0))
        return TQ_EXIT_USAGE;
    if (a->limit && f->limit == 0)
        return bad("limit", a->limit, "must be at least 1");
    return 0;
}

static int pick_format(const list_args *a, int *fmt)
{
    if ((a->csv != NULL) + (a->ndjson != NULL) + (a->table != NULL) > 1)
        return tq_cli_usage("list", "give one of --csv, --ndjson and --table");
    if (a->table && a->out)
        return tq_cli_usage("list", "--table is for a terminal; -o FILE takes --csv or --ndjson");
    *fmt = a->ndjson ? FMT_NDJSON : a->csv ? FMT_CSV : a->table ? FMT_TABLE
           : (!a->out && isatty(STDOUT_FILENO)) ? FMT_TABLE : FMT_CSV;
    return 0;
}

/* run_list() - one read transaction, the header, the rows. */
static int run_list(tq_store *s, const tq_list_filter *f, out_ctx *o, tq_list_stats *st,
                    tq_diag *fault)
{
    if (o->fmt == FMT_CSV)
        fputs(csv_header, o->f);
    if (o->fmt == FMT_NDJSON &&
        tq_json_lines_open(&o->nd, o->f, o->line, sizeof o->line) != TQ_OK)
        return TQ_ERR_NOMEM;
    tq_txn *t;
    int rc = tq_txn_begin(s, 1, &t);
    if (rc == TQ_OK) {
        rc = tq_list_run(t, f, print_row, o, st);
        if (rc == TQ_ERR_DBCORRUPT)
            tq_txn_fault(t, fault);
        tq_txn_abort(t);
    }
    tq_json_lines_close(&o->nd);
    return rc;
}

/* What list takes (its options), and what list_check makes of them. */
typedef struct list_cmd {
    list_args a;
    tq_list_filter f;
    int fmt;
} list_cmd;

/* list_check() - the filter and the format; a bad value exits 2 naming it. */
static int list_check(tq_cli_cmd *c)
{
    list_cmd *l = c->args;
    int rc = build_filter(&l->a, &l->f);
    return rc ? rc : pick_format(&l->a, &l->fmt);
}

static int list_run(tq_cli_cmd *c)
{
    const list_cmd *l = c->args;
    const list_args *a = &l->a;
    const tq_list_filter *f = &l->f;
    out_ctx o = {.fmt = l->fmt};
    tq_store *s = c->s;
    int rc;
    tq_out out;
    tq_diag d;
    memset(&d, 0, sizeof d);
    if ((rc = tq_out_open(&out, a->out ? a->out : "-", 0, &d)) != TQ_OK)
        return tq_cli_error(tq_cli_exit_for(rc), "cannot create %s", d.why);
    o.f = tq_out_fp(&out);
    tq_list_stats st;
    rc = o.f ? run_list(s, f, &o, &st, &d) : TQ_ERR_NOMEM;
    if (rc != TQ_OK && out.err == 0) {
        tq_out_rollback(&out);
        if (rc == TQ_ERR_DBCORRUPT && d.why[0])
            return tq_cli_error(TQ_EXIT_CORRUPT, "list failed: %s", d.why);
        return tq_cli_error(tq_cli_exit_for(rc), "list failed: %s", tq_strerror(rc));
    }
    if ((rc = tq_out_commit(&out, &d)) != TQ_OK)
        return tq_cli_error(tq_cli_exit_for(rc), "list failed: %s", d.why);
    if (st.matched == 0 && o.fmt == FMT_TABLE)
        fputs("no declarations match\n", stderr);
    return TQ_EXIT_OK;
}

int tq_cmd_list(int argc, char **argv)
{
    list_cmd l = {0};
    list_args *a = &l.a;
    tq_opt opts[] = {{"db", 1, &a->db},         {"state", 1, &a->state},
                     {"reason", 1, &a->reason}, {"office", 1, &a->office},
                     {"declarant", 1, &a->declarant}, {"permit", 1, &a->permit},
                     {"registered-before", 1, &a->before}, {"older-than", 1, &a->older},
                     {"as-of", 1, &a->as_of},   {"tax-paid", 0, &a->tax_paid},
                     {"limit", 1, &a->limit},   {"csv", 0, &a->csv},
                     {"ndjson", 0, &a->ndjson}, {"table", 0, &a->table},
                     {"o", 1, &a->out},         {"output", 1, &a->out},
                     {NULL, 0, NULL}};
    tq_cli_cmd c = {.name = "list", .help = help_list, .opts = opts, .store = TQ_CLI_READ,
                    .db = &a->db, .check = list_check, .run = list_run, .args = &l};
    return tq_cli_main(&c, argc, argv);
}
