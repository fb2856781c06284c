/* tq_nightly_report.c - a nightly run's JSON report and metrics (see the header). */
#include "tq_nightly_report.h"

#include <stdlib.h>
#include <string.h>

#include "tq_out.h"

/* ---- metrics ---- */

static void prom(FILE *f, const char *name, const char *help)
{
    fprintf(f, "# HELP %s %s\n# TYPE %s gauge\n", name, help, name);
}

typedef struct held_ctx {
    FILE *f;
    uint64_t unknown; /* held without an office */
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
static void write_held_by_office(FILE *f, tq_store *s)
{
    prom(f, "thongquan_held_declarations",
         "Declarations held, by customs office "
         "(\"unknown\": stored without an office).");
    held_ctx h = {f, 0};
    int ok = s && tq_worklist_held_by_office(s, held_gauge, &h) == TQ_OK;
    fprintf(f,
            ok ? "thongquan_held_declarations{office=\"%s\"} %llu\n"
               : "thongquan_held_declarations{office=\"%s\"} NaN\n",
            TQ_WORKLIST_UNKNOWN, (unsigned long long)h.unknown);
}

void tq_nightly_report_prom(FILE *f, const tq_nightly_outcome *o, int status, tq_store *s,
                            double duration, long long now)
{
    static const char *const states[] = {"CLEARED", "HELD", "REJECTED", "CANCELLED"};
    prom(f, "thongquan_declarations", "Declarations in the database, by state.");
    for (int i = 0; i < 4; i++)
        fprintf(f,
                o->have_tally ? "thongquan_declarations{state=\"%s\"} %llu\n"
                              : "thongquan_declarations{state=\"%s\"} NaN\n",
                states[i], (unsigned long long)o->tally.by_state[i + 1]);
    prom(f, "thongquan_held_by_reason",
         "Declarations held, by reason (one held for two "
         "reasons counts under both).");
    for (int b = 0; b < TQ_REASON_COUNT; b++)
        fprintf(f,
                o->have_tally ? "thongquan_held_by_reason{reason=\"%s\"} %llu\n"
                              : "thongquan_held_by_reason{reason=\"%s\"} NaN\n",
                tq_reason_name(b), (unsigned long long)o->tally.held_by_reason[b]);
    write_held_by_office(f, s);
    prom(f, "thongquan_anomalies",
         "What needs an operator: manual clearances whose check "
         "found discrepancies (the other lists are in the report).");
    fprintf(f,
            o->have_tally ? "thongquan_anomalies{kind=\"manual_with_discrepancies\"} %llu\n"
                          : "thongquan_anomalies{kind=\"manual_with_discrepancies\"} NaN\n",
            (unsigned long long)o->tally.manual_with_discrepancies);
    prom(f, "thongquan_reconcile_cleared_now", "Declarations the last reconcile cleared.");
    fprintf(f, "thongquan_reconcile_cleared_now %llu\n", (unsigned long long)o->state.cleared_now);
    prom(f, "thongquan_reconcile_timestamp_seconds",
         "When the last reconcile committed (0: never).");
    fprintf(f, "thongquan_reconcile_timestamp_seconds %llu\n",
            (unsigned long long)o->state.last_reconcile);
    prom(f, "thongquan_nightly_files", "Inbox files handled by the last run, by result.");
    for (int i = 0; i < TQ_NIGHTLY_R_COUNT; i++)
        fprintf(f, "thongquan_nightly_files{result=\"%s\"} %zu\n", tq_nightly_result_name(i),
                o->count[i]);
    prom(f, "thongquan_nightly_duration_seconds", "How long the last run took.");
    fprintf(f, "thongquan_nightly_duration_seconds %.3f\n", duration);
    prom(f, "thongquan_nightly_last_run_timestamp_seconds", "When the last run ended.");
    fprintf(f, "thongquan_nightly_last_run_timestamp_seconds %lld\n", now);
    prom(f, "thongquan_nightly_last_exit_status",
         "Exit status of the last run (0 done, 1 a "
         "file refused, 3 busy, 7 nothing new, ...).");
    fprintf(f, "thongquan_nightly_last_exit_status %d\n", status);
    prom(f, "thongquan_nightly_last_success_timestamp_seconds",
         "When a run last ended with status 0 or 7 (0: never).");
    fprintf(f, "thongquan_nightly_last_success_timestamp_seconds %llu\n",
            (unsigned long long)o->state.last_success);
}

static void json_file(tq_json *j, const tq_nightly_file *x)
{
    tq_json_begin_object(j);
    tq_json_kv_string(j, "name", x->q);
    tq_json_kv_string(j, "name_hex", x->hex);
    tq_json_kv_string(j, "kind", tq_nightly_kind_name(x->kind));
    tq_json_kv_string(j, "result", tq_nightly_result_name(x->result));
    if (x->sha[0])
        tq_json_kv_string(j, "sha256", x->sha);
    if (x->result == TQ_NIGHTLY_R_LOADED)
        tq_json_kv_u64(j, "rows", x->rows);
    if (x->stored)
        tq_json_kv_string(j, "stored", x->stored);
    if (x->why[0])
        tq_json_kv_string(j, "why", x->why);
    tq_json_end_object(j);
}

static void json_ignored(tq_json *j, const tq_nightly_list *sc)
{
    tq_json_kv_array(j, "ignored");
    for (size_t i = 0; i < sc->n_ignored; i++) {
        char *q = tq_nightly_quote(sc->ignored[i].name),
             *h = tq_nightly_hex_name(sc->ignored[i].name);
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
static void json_worklists(tq_json *j, const tq_nightly_outcome *o)
{
    if (!tq_json_kv_object(j, "worklists", o->reports != NULL))
        return;
    tq_json_kv_string(j, "dir", o->worklist_dir);
    tq_json_kv_u64(j, "files", o->wl.files);
    tq_json_kv_u64(j, "waiting", o->wl.rows);
    tq_json_kv_u64(j, "past_deadline", o->wl.past_deadline);
    tq_json_kv_u64(j, "tax_paid_held", o->wl.tax_paid_held);
    tq_json_kv_string(j, "error",
                      o->worklists_done      ? NULL
                      : o->worklist_error[0] ? o->worklist_error
                                             : "not written");
    tq_json_end_object(j);
}

static void json_reconcile_metrics(tq_json *j, const tq_nightly_outcome *o)
{
    tq_json_key(j, "reconcile");
    tq_json_begin_object(j);
    tq_json_kv_bool(j, "ran", o->reconciled);
    tq_json_key(j, "status");
    tq_json_i64(j, o->reconcile_status);
    tq_json_kv_u64(j, "cleared_now", o->reconciled ? o->state.cleared_now : 0);
    tq_json_kv_string(j, "report", o->reconciled && o->reports ? o->reconcile_report : NULL);
    tq_json_kv_string(j, "page", o->reconciled && o->reports ? o->html_report : NULL);
    tq_json_end_object(j);
    json_worklists(j, o);
    if (tq_json_kv_object(j, "metrics", o->metrics != NULL)) {
        tq_json_kv_string(j, "path", o->metrics);
        tq_json_kv_string(j, "error", o->metrics_error[0] ? o->metrics_error : NULL);
        tq_json_end_object(j);
    }
}

void tq_nightly_report_json(tq_json *j, const tq_nightly_outcome *o, const tq_nightly_list *sc,
                            int status, const char *finished_at)
{
    tq_json_kv_string(j, "command", "nightly");
    tq_json_kv_string(j, "inbox", o->inbox);
    tq_json_kv_string(j, "database", o->db);
    tq_json_kv_string(j, "started_at", o->started_at);
    tq_json_kv_string(j, "finished_at", finished_at);
    tq_json_key(j, "exit_status");
    tq_json_i64(j, status);
    tq_json_kv_array(j, "files");
    for (size_t i = 0; i < o->nf; i++)
        json_file(j, &o->f[i]);
    tq_json_end_array(j);
    json_ignored(j, sc);
    tq_json_key(j, "counts");
    tq_json_begin_object(j);
    for (int i = 0; i < TQ_NIGHTLY_R_COUNT; i++)
        tq_json_kv_u64(j, tq_nightly_result_name(i), o->count[i]);
    tq_json_end_object(j);
    json_reconcile_metrics(j, o);
}

int tq_nightly_report_metrics(const tq_nightly_outcome *o, int status, double duration, tq_diag *d)
{
    if (o->metrics == NULL)
        return TQ_OK;
    tq_out out;
    int rc = tq_out_open(&out, o->metrics, TQ_OUT_NO_STREAM, d);
    FILE *f = rc == TQ_OK ? tq_out_fp(&out) : NULL;
    if (rc == TQ_OK && f == NULL) {
        tq_out_rollback(&out);
        return TQ_ERR_NOMEM;
    }
    if (rc != TQ_OK)
        return rc;
    tq_store *s = NULL;
    if (tq_store_open(o->db, 0, NULL, &s, NULL) != TQ_OK)
        s = NULL;
    tq_nightly_report_prom(f, o, status, s, duration, (long long)time(NULL));
    if (s)
        tq_store_close(s);
    return tq_out_commit(&out, d);
}
