/* tq_export.c - the exports of SPEC §4: decisions and permits as CSV.
 *
 * Both walk a cursor in key order inside one read transaction, so an export is a
 * consistent snapshot even while a writer commits, and its order is the byte order of
 * the keys, which is what §7 asks for.  Rows are formatted by hand into a stack buffer:
 * an export of ten million declarations should take seconds, not minutes.
 */
#include "tq_export.h"
#include "tq_json.h"

#include <pthread.h>
#include <string.h>

size_t tq_export_decision_row(const tq_decl *d, char *out, size_t cap)
{
    if (cap < 256)
        return 0;
    char *p = out;
    memcpy(p, d->decl_no, TQ_DECL_NO_LEN);
    p += TQ_DECL_NO_LEN;
    *p++ = ',';
    const char *state = tq_state_name(d->state);
    if (state == NULL)
        state = "PENDING";
    size_t sl = strlen(state);
    memcpy(p, state, sl);
    p += sl;
    *p++ = ',';
    p = tq_u64_put_dec(p, d->version);
    *p++ = ',';
    /* REJECTED and CANCELLED export empty reasons and 0 whatever was recorded before. */
    int keeps_reasons = d->state == TQ_STATE_HELD || d->state == TQ_STATE_CLEARED;
    if (keeps_reasons)
        p += tq_reasons_format(d->reasons, p, 160);
    *p++ = ',';
    p = tq_u64_put_dec(p, keeps_reasons ? d->tax_short : 0);
    *p++ = ',';
    *p++ = d->manual && d->state == TQ_STATE_CLEARED ? '1' : '0';
    *p++ = '\n';
    return (size_t)(p - out);
}

typedef struct export_ctx {
    FILE *out;
    int failed;
} export_ctx;

static int write_decision(void *ctx, const tq_decl *d)
{
    export_ctx *e = ctx;
    char row[256];
    size_t n = tq_export_decision_row(d, row, sizeof row);
    if (fwrite(row, 1, n, e->out) != n) {
        e->failed = 1;
        return 1;
    }
    return 0;
}

static int write_permit(void *ctx, const tq_permit *p, uint64_t used)
{
    export_ctx *e = ctx;
    char row[128];
    char *q = row;
    size_t n = strlen(p->permit_no);
    memcpy(q, p->permit_no, n);
    q += n;
    *q++ = ',';
    q = tq_u64_put_dec(q, used);
    *q++ = ',';
    q = tq_u64_put_dec(q, p->quota);
    *q++ = '\n';
    n = (size_t)(q - row);
    if (fwrite(row, 1, n, e->out) != n) {
        e->failed = 1;
        return 1;
    }
    return 0;
}

static int export_with(tq_store *s, FILE *out, const char *header, int decisions)
{
    if (fputs(header, out) == EOF)
        return TQ_ERR_IO;
    tq_txn *t;
    int rc = tq_txn_begin(s, 1, &t);
    if (rc != TQ_OK)
        return rc;
    export_ctx e = {.out = out};
    rc = decisions ? tq_store_each_decl(t, write_decision, &e)
                   : tq_store_each_permit(t, write_permit, &e);
    tq_txn_abort(t);
    if (e.failed)
        return TQ_ERR_IO;
    if (rc != TQ_OK)
        return rc;
    return fflush(out) == 0 ? TQ_OK : TQ_ERR_IO;
}

int tq_export_decisions(tq_store *s, FILE *out)
{
    return export_with(s, out, "decl_no,state,version,reasons,tax_short,manual\n", 1);
}

int tq_export_permits(tq_store *s, FILE *out)
{
    return export_with(s, out, "permit_no,used,quota\n", 0);
}

/* ---- the change feed ---- */

static const char *cause_name(int cause)
{
    return cause == TQ_CHANGE_EVENT ? "event" : cause == TQ_CHANGE_RECONCILE ? "reconcile"
           : cause == TQ_CHANGE_UPGRADE ? "upgrade" : "unknown";
}

/* An NDJSON change is a line of tq_json_lines (formats/tq_json.h), built in line.  A
 * change's fields are bounded (the reasons the longest, < 160 bytes), so it fits. */
typedef struct change_ctx {
    FILE *out;
    int ndjson;
    uint64_t rows;
    tq_json_lines nd;               /* NDJSON only */
    char line[1024];
} change_ctx;

static int write_change(void *ctx, const tq_change *c)
{
    change_ctx *e = ctx;
    char reasons[160] = "", id[2 * TQ_JOURNAL_ID_LEN + 1] = "";
    int keeps = c->state == TQ_STATE_HELD || c->state == TQ_STATE_CLEARED;
    if (keeps)
        tq_reasons_format(c->reasons, reasons, sizeof reasons);
    int event = c->cause == TQ_CHANGE_EVENT;
    if (event)
        for (int i = 0; i < TQ_JOURNAL_ID_LEN; i++)
            snprintf(id + 2 * i, 3, "%02x", c->src_id[i]);
    const char *state = tq_state_name(c->state) ? tq_state_name(c->state) : "PENDING";
    int manual = c->manual && c->state == TQ_STATE_CLEARED;
    int n;
    if (e->ndjson) {
        tq_json j;
        tq_json_lines_begin(&e->nd, &j);
        tq_json_kv_u64(&j, "change", c->no);
        tq_json_kv_string(&j, "decl_no", c->decl_no);
        tq_json_kv_string(&j, "state", state);
        tq_json_kv_string(&j, "reasons", reasons);
        tq_json_kv_u64(&j, "version", c->version);
        tq_json_kv_bool(&j, "manual", manual);
        tq_json_kv_string(&j, "cause", cause_name(c->cause));
        tq_json_kv_string(&j, "src_id", event ? id : NULL);
        tq_json_kv_u64(&j, "src_seq", event ? c->src_seq : 0);
        n = tq_json_lines_end(&e->nd, &j) == TQ_OK ? 0 : -1;
    } else {
        char seq[24] = "";
        if (event)
            snprintf(seq, sizeof seq, "%llu", (unsigned long long)c->src_seq);
        n = fprintf(e->out, "%llu,%s,%s,%s,%u,%d,%s,%s,%s\n", (unsigned long long)c->no,
                    c->decl_no, state, reasons, c->version, manual, cause_name(c->cause), id,
                    seq);
    }
    if (n < 0)
        return TQ_ERR_IO;
    e->rows++;
    return 0;
}

int tq_export_changes(tq_store *s, FILE *out, uint64_t since, int ndjson, uint64_t *last,
                      uint64_t *rows)
{
    change_ctx e = {.out = out, .ndjson = ndjson};
    *last = 0;
    if (rows)
        *rows = 0;
    if (ndjson && tq_json_lines_open(&e.nd, out, e.line, sizeof e.line) != TQ_OK)
        return TQ_ERR_NOMEM;
    tq_txn *t = NULL;
    int rc = tq_txn_begin(s, 1, &t);
    if (rc == TQ_OK)
        rc = tq_store_last_change(t, last);
    if (rc == TQ_OK && since > *last)
        rc = TQ_ERR_INPUT;
    if (rc == TQ_OK && !ndjson &&
        fputs("change,decl_no,state,reasons,version,manual,cause,src_id,src_seq\n", out) == EOF)
        rc = TQ_ERR_IO;
    if (rc == TQ_OK)
        rc = tq_store_each_change(t, since, write_change, &e);
    tq_txn_abort(t);
    tq_json_lines_close(&e.nd);
    if (rows)
        *rows = e.rows;
    if (rc == TQ_OK && fflush(out) != 0)
        rc = TQ_ERR_IO;
    return rc;
}

/* The tally reads only heads (state, reasons, manual): tq_store_each_decl_head() checks
 * each record as fully as tq_store_each_decl() would, without copying its lines. */
static int tally_decl(void *ctx, const tq_decl_head *d)
{
    tq_tally *t = ctx;
    t->declarations++;
    if (d->state < TQ_STATE_COUNT)
        t->by_state[d->state]++;
    if (d->state == TQ_STATE_HELD)
        for (int b = 0; b < TQ_REASON_COUNT; b++)
            if (d->reasons & (1u << b))
                t->held_by_reason[b]++;
    if (d->state == TQ_STATE_CLEARED && d->manual) {
        t->manual_cleared++;
        if (d->reasons)
            t->manual_with_discrepancies++;
    }
    return 0;
}

int tq_export_tally_txn(tq_txn *t, tq_tally *out)
{
    memset(out, 0, sizeof *out);
    return tq_store_each_decl_head(t, tally_decl, out);
}

/* ---- the tally on two cores ---- */

/* The upper half of a split tally, walked on a thread of its own through a read
 * transaction of its own, which counts only if it sees the commit the lower half sees. */
typedef struct tally_half {
    tq_store *s;
    uint64_t snapshot;       /* the lower half's */
    char from[TQ_DECL_NO_LEN + 1];
    tq_tally tally;
    int rc;                  /* TQ_OK, a store error, or TQ_ERR_BUSY: another commit */
} tally_half;

static void *tally_upper(void *arg)
{
    tally_half *h = arg;
    tq_txn *t;
    memset(&h->tally, 0, sizeof h->tally);
    if ((h->rc = tq_txn_begin(h->s, 1, &t)) != TQ_OK)
        return NULL;
    if (tq_txn_snapshot(t) != h->snapshot)
        h->rc = TQ_ERR_BUSY;     /* a writer committed between the two begins */
    else
        h->rc = tq_store_each_decl_head_range(t, h->from, NULL, tally_decl, &h->tally);
    tq_txn_abort(t);
    return NULL;
}

static uint64_t decl_number(const char *no)
{
    uint64_t v = 0;
    for (int i = 0; i < TQ_DECL_NO_LEN; i++)
        v = v * 10 + (uint64_t)(no[i] - '0');
    return v;
}

static void tally_add(tq_tally *into, const tq_tally *t)
{
    into->declarations += t->declarations;
    for (int i = 0; i < TQ_STATE_COUNT; i++)
        into->by_state[i] += t->by_state[i];
    for (int i = 0; i < TQ_REASON_COUNT; i++)
        into->held_by_reason[i] += t->held_by_reason[i];
    into->manual_cleared += t->manual_cleared;
    into->manual_with_discrepancies += t->manual_with_discrepancies;
}

/* tally_split() - the decl_nos below the middle of t's range counted through t, those
 * above on a second thread; *done when both halves counted the same commit without a
 * fault.  Otherwise the caller counts in one walk, which also names any fault. */
static void tally_split(tq_store *s, tq_txn *t, tq_tally *out, int *done)
{
    char first[TQ_DECL_NO_LEN + 1], last[TQ_DECL_NO_LEN + 1];
    *done = 0;
    if (tq_store_first_decl(t, first) != TQ_OK || tq_store_last_decl(t, last) != TQ_OK)
        return;
    uint64_t a = decl_number(first), b = decl_number(last);
    if (b <= a)
        return;
    tally_half h = {.s = s, .snapshot = tq_txn_snapshot(t)};
    *tq_u64_put_fixed(h.from, a + (b - a) / 2 + 1, TQ_DECL_NO_LEN) = '\0';
    pthread_t th;
    if (pthread_create(&th, NULL, tally_upper, &h) != 0)
        return;
    tq_tally lo;
    memset(&lo, 0, sizeof lo);
    int rc = tq_store_each_decl_head_range(t, NULL, h.from, tally_decl, &lo);
    pthread_join(th, NULL);
    if (rc != TQ_OK || h.rc != TQ_OK)
        return;
    tally_add(&lo, &h.tally);
    *out = lo;
    *done = 1;
}

int tq_export_tally_split(tq_store *s, tq_tally *out, uint64_t split_min, int *halves)
{
    tq_txn *t;
    int rc = tq_txn_begin(s, 1, &t);
    if (rc != TQ_OK)
        return rc;
    tq_store_info info;
    int done = 0;
    if (tq_store_count(t, &info) == TQ_OK && info.decls >= 2 && info.decls >= split_min)
        tally_split(s, t, out, &done);
    if (!done)
        rc = tq_export_tally_txn(t, out);
    tq_txn_abort(t);
    if (halves != NULL)
        *halves = done;
    return rc;
}

int tq_export_tally(tq_store *s, tq_tally *out)
{
    return tq_export_tally_split(s, out, TQ_EXPORT_TALLY_SPLIT, NULL);
}
