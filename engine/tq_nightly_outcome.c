/* tq_nightly_outcome.c - what one nightly run did (see the header). */
#include "tq_nightly_outcome.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "tq_grow.h"
#include "tq_path.h"

static const char *const result_names[TQ_NIGHTLY_R_COUNT] = {"loaded", "failed", "duplicate",
                                                             "ignored", "waiting"};

const char *tq_nightly_result_name(int result)
{
    return result >= 0 && result < TQ_NIGHTLY_R_COUNT ? result_names[result] : "?";
}

const char *tq_nightly_kind_name(int kind)
{
    return kind == TQ_LOAD_PERMITS ? "permits" : kind == TQ_LOAD_PAYMENTS ? "payments" : "other";
}

void tq_nightly_outcome_init(tq_nightly_outcome *o, const char *inbox, const char *db,
                             const char *reports, const char *metrics, time_t start)
{
    memset(o, 0, sizeof *o);
    o->inbox = inbox;
    o->db = db;
    o->reports = reports;
    o->metrics = metrics;
    struct tm tm;
    localtime_r(&start, &tm);
    strftime(o->date, sizeof o->date, "%Y-%m-%d", &tm);
}

/* stamp_paths() - the five report names of stamp o->stamp.  @return TQ_OK, NOMEM. */
static int stamp_paths(tq_nightly_outcome *o)
{
    char name[5][64];
    snprintf(name[0], sizeof name[0], "nightly-%s.json", o->stamp);
    snprintf(name[1], sizeof name[1], "reconcile-%s.json", o->stamp);
    snprintf(name[2], sizeof name[2], "%s", o->stamp);
    snprintf(name[3], sizeof name[3], "worklists-%s", o->stamp);
    snprintf(name[4], sizeof name[4], "report-%s.html", o->stamp);
    char **path[5] = {&o->report_path, &o->reconcile_report, &o->csv_dir, &o->worklist_dir,
                      &o->html_report};
    int rc = TQ_OK;
    for (int i = 0; i < 5; i++) {
        free(*path[i]);
        if ((*path[i] = tq_path_join(o->reports, name[i])) == NULL)
            rc = TQ_ERR_NOMEM;
    }
    return rc;
}

int tq_nightly_outcome_stamp(tq_nightly_outcome *o, time_t start)
{
    struct tm tm;
    localtime_r(&start, &tm);
    char base[32];
    strftime(base, sizeof base, "%Y-%m-%dT%H%M%S", &tm);
    for (unsigned k = 1;; k++) {
        if (k == 1)
            snprintf(o->stamp, sizeof o->stamp, "%s", base);
        else
            snprintf(o->stamp, sizeof o->stamp, "%s-%u", base, k);
        if (stamp_paths(o) != TQ_OK)
            return TQ_ERR_NOMEM;
        /* A stamp none of whose five names exists, as a file, a link or anything. */
        struct stat st;
        if (lstat(o->report_path, &st) != 0 && lstat(o->reconcile_report, &st) != 0 &&
            lstat(o->csv_dir, &st) != 0 && lstat(o->worklist_dir, &st) != 0 &&
            lstat(o->html_report, &st) != 0)
            return TQ_OK;
    }
}

tq_nightly_file *tq_nightly_outcome_add(tq_nightly_outcome *o, const tq_nightly_entry *e,
                                        int result)
{
    if (tq_grow((void **)&o->f, &o->capf, o->nf + 1, sizeof *o->f, 16) != TQ_OK)
        return NULL;
    tq_nightly_file *f = &o->f[o->nf];
    memset(f, 0, sizeof *f);
    f->q = tq_nightly_quote(e->name);
    f->hex = tq_nightly_hex_name(e->name);
    if (f->q == NULL || f->hex == NULL) {
        free(f->q);
        free(f->hex);
        return NULL;
    }
    f->kind = e->kind;
    f->result = result;
    o->nf++;
    return f;
}

void tq_nightly_file_stored(tq_nightly_file *f, tq_nightly_dest dest, const char *date,
                            const char *stored)
{
    static const char *const top[] = {"done", "failed", "duplicate"};
    char *q = tq_nightly_quote(stored);
    size_t n = (q ? strlen(q) : 0) + 32;
    free(f->stored);
    f->stored = NULL;
    if (q && (f->stored = malloc(n)) != NULL)
        snprintf(f->stored, n, "%s/%s/%s", top[dest], date, q);
    free(q);
}

void tq_nightly_outcome_count(tq_nightly_outcome *o, const tq_nightly_list *sc)
{
    memset(o->count, 0, sizeof o->count);
    for (size_t i = 0; i < o->nf; i++)
        o->count[o->f[i].result]++;
    o->count[TQ_NIGHTLY_R_IGNORED] = sc->n_ignored_total;
    o->count[TQ_NIGHTLY_R_WAITING] += sc->n_waiting;
}

void tq_nightly_outcome_tally(tq_nightly_outcome *o)
{
    tq_store *s;
    if (o->have_tally || tq_store_open(o->db, 0, NULL, &s, NULL) != TQ_OK)
        return;
    o->have_tally = tq_export_tally(s, &o->tally) == TQ_OK;
    tq_store_close(s);
}

int tq_nightly_outcome_worklists(tq_nightly_outcome *o, int64_t deadline, int64_t now, tq_diag *d)
{
    if (o->reports == NULL)
        return TQ_OK;
    tq_store *s;
    tq_worklist_opts wo = {.deadline = deadline};
    wo.as_of.sec = now;
    int rc = tq_store_open(o->db, 0, NULL, &s, NULL);
    if (rc == TQ_OK) {
        rc = tq_worklist_write(s, o->worklist_dir, &wo, &o->wl, d);
        tq_store_close(s);
    }
    if (rc == TQ_OK)
        o->worklists_done = 1;
    else
        snprintf(o->worklist_error, sizeof o->worklist_error, "%s",
                 d->why[0] ? d->why : tq_strerror(rc));
    return rc;
}

void tq_nightly_outcome_release(tq_nightly_outcome *o)
{
    /* the strings o owns (the others are borrowed) */
    char **owned[] = {&o->report_path, &o->reconcile_report, &o->html_report, &o->csv_dir,
                      &o->worklist_dir};
    for (size_t i = 0; i < o->nf; i++) {
        free(o->f[i].q);
        free(o->f[i].hex);
        free(o->f[i].stored);
    }
    free(o->f);
    o->f = NULL;
    o->nf = o->capf = 0;
    for (size_t i = 0; i < sizeof owned / sizeof owned[0]; i++) {
        free(*owned[i]);
        *owned[i] = NULL;
    }
}
