/* tq_explain_journals.c - what the --journal files tell of one declaration (see the
 * header): read once before explain prints, so the officer line can say which results
 * were applied and why the others changed nothing. */
#include "tq_explain_journals.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

void tq_explain_journals_init(tq_explain_journals *jv, const char *const *paths, int n)
{
    memset(jv, 0, sizeof *jv);
    jv->n = n;
    jv->paths = paths;
    jv->src_j = -1;
}

void tq_explain_journals_backfill(tq_explain_journals *jv, tq_explain *x)
{
    for (int j = 0; !x->decl.office[0] && j < jv->n; j++)
        if (access(jv->paths[j], R_OK) == 0 &&
            tq_explain_backfill(jv->paths[j], &x->decl, &jv->src) == TQ_OK && jv->src.found)
            jv->src_j = j;
}

int tq_explain_journals_load(tq_explain_journals *jv, tq_txn *t, const char *decl_no)
{
    if (jv->n == 0)
        return TQ_OK;
    size_t n = (size_t)jv->n;
    jv->officers = calloc(n, sizeof *jv->officers);
    jv->marks = calloc(n, sizeof *jv->marks);
    jv->have_mark = calloc(n, sizeof *jv->have_mark);
    jv->ids = calloc(n, sizeof *jv->ids);
    jv->have_id = calloc(n, sizeof *jv->have_id);
    if (jv->officers == NULL || jv->marks == NULL || jv->have_mark == NULL || jv->ids == NULL ||
        jv->have_id == NULL)
        return TQ_ERR_NOMEM;
    for (int j = 0; j < jv->n; j++) {
        if (access(jv->paths[j], R_OK) != 0)
            continue;
        int rc = tq_explain_officers(jv->paths[j], decl_no, &jv->officers[j], jv->ids[j]);
        if (rc == TQ_ERR_IO || rc == TQ_ERR_VERSION || rc == TQ_ERR_NOMEM)
            continue;
        jv->have_id[j] = 1;
        jv->have_mark[j] = tq_store_get_journal(t, jv->ids[j], &jv->marks[j]) == TQ_OK;
    }
    return TQ_OK;
}

const tq_gap *tq_explain_journals_gap_of(const tq_explain_journals *jv, int j, uint64_t seq)
{
    return jv->have_id && jv->have_id[j] ? tq_explain_gap_of(&jv->gaps, jv->ids[j], seq) : NULL;
}

void tq_explain_journals_release(tq_explain_journals *jv)
{
    free(jv->officers);
    free(jv->marks);
    free(jv->have_mark);
    free(jv->ids);
    free(jv->have_id);
    tq_explain_journals_init(jv, jv->paths, jv->n);
}

const char *tq_explain_event_name(uint8_t ev)
{
    switch (ev) {
    case TQ_EV_DECL: return "DECL";
    case TQ_EV_AMEND: return "AMEND";
    case TQ_EV_OFFICER: return "OFFICER REJECT";
    case TQ_EV_MANUAL_CLEAR: return "MANUAL_CLEAR";
    case TQ_EV_CANCEL: return "CANCEL";
    }
    return "event";
}

const char *tq_explain_result_name(uint8_t r)
{
    return r == TQ_OFFICER_DOCS_OK      ? "DOCS_OK"
           : r == TQ_OFFICER_INSPECT_OK ? "INSPECT_OK"
           : r == TQ_OFFICER_REJECT     ? "REJECT"
                                        : "?";
}

/* applied() - whether the stored declaration shows result e: its bit among the officer
 * results applied, or REJECTED for a REJECT. */
static int applied(const tq_decl *d, const tq_explain_officer *e)
{
    uint8_t bit = e->result == TQ_OFFICER_DOCS_OK      ? TQ_SEEN_DOCS_OK
                  : e->result == TQ_OFFICER_INSPECT_OK ? TQ_SEEN_INSPECT_OK
                                                       : 0;
    return (bit && (d->officer & bit)) || (!bit && d->state == TQ_STATE_REJECTED);
}

int tq_explain_officer_why(const tq_explain *x, const tq_explain_journals *jv, int j,
                           const tq_explain_officer *e, char *out, size_t cap)
{
    const tq_gap *gap = tq_explain_journals_gap_of(jv, j, e->seq);
    if (gap) {
        snprintf(out, cap,
                 "not applied: seq %llu..%llu of this journal was skipped by --skip-corrupt "
                 "(thongquan replay --fill-gap applies it)",
                 (unsigned long long)gap->first, (unsigned long long)gap->last);
        return 0;
    }
    if (!jv->have_mark[j] || e->seq > jv->marks[j].last_seq) {
        snprintf(out, cap, "not applied yet: this journal is not replayed that far");
        return 0;
    }
    if (e->final_ev && e->final_seq < e->seq) {
        snprintf(out, cap,
                 "not applied: it came after the %s at seq %llu, when the declaration was "
                 "final, and events on a final declaration change nothing",
                 tq_explain_event_name(e->final_ev), (unsigned long long)e->final_seq);
        return 0;
    }
    if (applied(&x->decl, e)) {
        snprintf(out, cap, "applied");
        return 1;
    }
    snprintf(out, cap, "not applied: the declaration was %s when it came",
             e->declared_before ? "already final (cleared by the rules)"
                                : "not yet declared or already final");
    return 0;
}
