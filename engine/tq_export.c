/* tq_export.c - the exports of SPEC §4: decisions and permits as CSV.
 *
 * Both walk a cursor in key order inside one read transaction, so an export is a
 * consistent snapshot even while a writer commits, and its order is the byte order of
 * the keys, which is what §7 asks for.  Rows are formatted by hand into a stack buffer:
 * an export of ten million declarations should take seconds, not minutes.
 */
#include "tq_export.h"

#include <string.h>

static char *put_u64(char *p, uint64_t v)
{
    char tmp[20];
    int n = 0;
    do {
        tmp[n++] = (char)('0' + v % 10);
        v /= 10;
    } while (v);
    while (n)
        *p++ = tmp[--n];
    return p;
}

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
    p = put_u64(p, d->version);
    *p++ = ',';
    /* REJECTED and CANCELLED export empty reasons and 0 whatever was recorded before. */
    int keeps_reasons = d->state == TQ_STATE_HELD || d->state == TQ_STATE_CLEARED;
    if (keeps_reasons)
        p += tq_reasons_format(d->reasons, p, 160);
    *p++ = ',';
    p = put_u64(p, keeps_reasons ? d->tax_short : 0);
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
    q = put_u64(q, used);
    *q++ = ',';
    q = put_u64(q, p->quota);
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

static int tally_decl(void *ctx, const tq_decl *d)
{
    tq_tally *t = ctx;
    t->declarations++;
    if (d->state < 5)
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
    return tq_store_each_decl(t, tally_decl, out);
}

int tq_export_tally(tq_store *s, tq_tally *out)
{
    tq_txn *t;
    int rc = tq_txn_begin(s, 1, &t);
    if (rc != TQ_OK)
        return rc;
    rc = tq_export_tally_txn(t, out);
    tq_txn_abort(t);
    return rc;
}
