/* tq_nightly_take.c - one inbox file taken in by the nightly job (see the header). */
#include "tq_nightly_take.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "tq_num.h"

/* ---- NAME.err: why a file was refused ---- */

typedef struct err_text {
    FILE *f;
    char *buf;
    size_t len;
    tq_diag_cap rows;           /* the bad rows: the first TQ_NIGHTLY_ERR_LINES written */
    int quotable;
} err_text;

static void on_row_error(void *ctx, const tq_diag *d)
{
    err_text *e = ctx;
    fprintf(e->f, "line %llu: field '%s'", (unsigned long long)d->line, d->field);
    /* The why quotes the file's content: only for a file its sender could read. */
    if (e->quotable)
        fprintf(e->f, ": %s", d->why);
    fputc('\n', e->f);
}

static int err_open(err_text *e, const tq_nightly_file *f, int quotable)
{
    memset(e, 0, sizeof *e);
    e->quotable = quotable;
    e->rows = (tq_diag_cap){.max = TQ_NIGHTLY_ERR_LINES, .fn = on_row_error, .ctx = e};
    if ((e->f = open_memstream(&e->buf, &e->len)) == NULL)
        return TQ_ERR_NOMEM;
    char now[32];
    time_t t = time(NULL);
    struct tm tm;
    gmtime_r(&t, &tm);
    strftime(now, sizeof now, "%Y-%m-%dT%H:%M:%SZ", &tm);
    fprintf(e->f, "%s: refused by thongquan nightly at %s\n", f->q, now);
    return TQ_OK;
}

static void err_close(err_text *e)
{
    if (e->f)
        fclose(e->f);
    free(e->buf);
    memset(e, 0, sizeof *e);
}

/* ---- the steps ---- */

/* file_away() - move e to dest and record where it went in f. */
static int file_away(tq_nightly_take_ctx *c, const tq_nightly_entry *e, tq_nightly_file *f,
                     tq_nightly_dest dest, err_text *et, tq_nightly_taken *out, tq_diag *d)
{
    char *stored = NULL;
    if (et && et->f)
        fflush(et->f);
    int rc = tq_nightly_file_away(c->n, e, dest, c->date, et ? et->buf : NULL, et ? et->len : 0,
                                  &stored, d);
    if (rc != TQ_OK) {
        out->step = TQ_NIGHTLY_STEP_FILE_AWAY;
        return rc;
    }
    tq_nightly_file_stored(f, dest, c->date, stored);
    free(stored);
    return TQ_OK;
}

static int refuse(tq_nightly_take_ctx *c, const tq_nightly_entry *e, tq_nightly_file *f,
                  err_text *et, tq_nightly_taken *out, tq_diag *d)
{
    f->result = TQ_NIGHTLY_R_FAILED;
    out->took = TQ_NIGHTLY_TOOK_REFUSED;
    return file_away(c, e, f, TQ_NIGHTLY_FAILED, et, out, d);
}

static void set_why(tq_nightly_file *f, const tq_diag *d, int rc)
{
    snprintf(f->why, sizeof f->why, "%s", d->why[0] ? d->why : tq_strerror(rc));
}

/* loaded() - after tq_nightly_load() returned rc: file it where that outcome says. */
static int loaded(tq_nightly_take_ctx *c, const tq_nightly_entry *e, tq_nightly_file *f, int rc,
                  const tq_load_stats *st, err_text *et, tq_nightly_taken *out, tq_diag *d)
{
    if (rc == TQ_OK) {
        f->rows = st->rows;
        out->took = TQ_NIGHTLY_TOOK_LOADED;
        return file_away(c, e, f, TQ_NIGHTLY_DONE, NULL, out, d);
    }
    if (rc == TQ_ERR_EXISTS) {
        f->result = TQ_NIGHTLY_R_DUPLICATE;
        out->took = TQ_NIGHTLY_TOOK_DUPLICATE_LOAD;
        return file_away(c, e, f, TQ_NIGHTLY_DUPLICATE, NULL, out, d);
    }
    if (rc == TQ_ERR_INPUT) {
        if (tq_diag_cap_more(&et->rows))
            fprintf(et->f, "... and %llu more bad rows\n",
                    (unsigned long long)tq_diag_cap_more(&et->rows));
        fputs("nothing of this file was loaded\n", et->f);
        snprintf(f->why, sizeof f->why, "%llu bad row%s, nothing loaded",
                 (unsigned long long)et->rows.n, et->rows.n == 1 ? "" : "s");
        return refuse(c, e, f, et, out, d);
    }
    /* Not the file's fault (busy, full disk, a signal): it stays in work/ and the next
     * run takes it first. */
    set_why(f, d, rc);
    f->result = TQ_NIGHTLY_R_WAITING;
    out->took = TQ_NIGHTLY_TOOK_WAITING;
    out->step = TQ_NIGHTLY_STEP_LOAD;
    return rc;
}

/* known_content() - the ledger knows sf's content: to done/ when it is e itself
 * (recovered from work/ under the name the ledger gives: the run that loaded it stopped
 * before filing it), else to duplicate/. */
static int known_content(tq_nightly_take_ctx *c, const tq_nightly_entry *e, tq_nightly_file *f,
                         const tq_ledger_entry *known, tq_nightly_taken *out, tq_diag *d)
{
    int mine = e->recovered && strncmp(known->name, e->name, sizeof known->name - 1) == 0;
    f->result = mine ? TQ_NIGHTLY_R_LOADED : TQ_NIGHTLY_R_DUPLICATE;
    if (mine) {
        f->rows = known->rows;
        out->took = TQ_NIGHTLY_TOOK_RECOVERED;
        return file_away(c, e, f, TQ_NIGHTLY_DONE, NULL, out, d);
    }
    out->took = TQ_NIGHTLY_TOOK_DUPLICATE;
    return file_away(c, e, f, TQ_NIGHTLY_DUPLICATE, NULL, out, d);
}

/* load_staged() - a staged file: by the ledger, or loaded and filed away. */
static int load_staged(tq_nightly_take_ctx *c, const tq_nightly_entry *e, tq_nightly_file *f,
                       const tq_nightly_staged *sf, tq_nightly_taken *out, tq_diag *d)
{
    tq_ledger_entry known;
    memset(d, 0, sizeof *d);
    int rc = tq_nightly_ledger_get(c->s, sf->sha256, &known);
    if (rc == TQ_OK)
        return known_content(c, e, f, &known, out, d);
    if (rc != TQ_ERR_NOTFOUND)
        return out->step = TQ_NIGHTLY_STEP_LEDGER, rc;
    if (!c->any_load && (rc = tq_nightly_set_pending(c->n, 1, d)) != TQ_OK)
        return out->step = TQ_NIGHTLY_STEP_PENDING, rc;
    c->any_load = 1;
    err_text et;
    if (err_open(&et, f, sf->quotable) != TQ_OK)
        return out->step = TQ_NIGHTLY_STEP_NOMEM, TQ_ERR_NOMEM;
    tq_load_opts lo = {.on_error = tq_diag_cap_on_bad, .ctx = &et.rows, .stop = c->stop};
    tq_load_stats st;
    memset(&st, 0, sizeof st);
    f->result = TQ_NIGHTLY_R_LOADED;
    rc = tq_nightly_load(c->s, e, sf, &lo, &st, &known, d);
    rc = loaded(c, e, f, rc, &st, &et, out, d);
    err_close(&et);
    return rc;
}

/* not_staged() - staging failed with rc: changed while read (back to the inbox), not a
 * file that can be an input (refused), or an error that stops the run. */
static int not_staged(tq_nightly_take_ctx *c, const tq_nightly_entry *e, tq_nightly_file *f, int rc,
                      tq_nightly_taken *out, tq_diag *d)
{
    set_why(f, d, rc);
    if (rc == TQ_ERR_MISMATCH) {
        f->result = TQ_NIGHTLY_R_WAITING;
        out->took = TQ_NIGHTLY_TOOK_CHANGED;
        tq_diag u;
        memset(&u, 0, sizeof u);
        out->unclaim_rc = tq_nightly_unclaim(c->n, e, &u);
        snprintf(out->unclaim_why, sizeof out->unclaim_why, "%s", u.why);
        return TQ_OK;
    }
    if (rc != TQ_ERR_INPUT)
        return out->step = TQ_NIGHTLY_STEP_STAGE, rc;
    err_text et;
    if (err_open(&et, f, 0) != TQ_OK)
        return out->step = TQ_NIGHTLY_STEP_NOMEM, TQ_ERR_NOMEM;
    fprintf(et.f, "%s\nnothing of this file was read\n", f->why);
    rc = refuse(c, e, f, &et, out, d);
    err_close(&et);
    return rc;
}

int tq_nightly_take(tq_nightly_take_ctx *c, const tq_nightly_entry *e, tq_nightly_outcome *o,
                    tq_nightly_taken *out, tq_diag *d)
{
    memset(out, 0, sizeof *out);
    int rc = tq_nightly_claim(c->n, e, d);
    if (rc == TQ_ERR_NOTFOUND || rc == TQ_ERR_EXISTS)
        return TQ_OK; /* taken away by the sender, or the name is busy */
    tq_nightly_file *f = out->f = tq_nightly_outcome_add(o, e, TQ_NIGHTLY_R_WAITING);
    if (f == NULL)
        return out->step = TQ_NIGHTLY_STEP_NOMEM, TQ_ERR_NOMEM;
    if (rc != TQ_OK)
        return out->step = TQ_NIGHTLY_STEP_CLAIM, rc;
    tq_nightly_staged sf;
    rc = tq_nightly_stage(c->n, e, &sf, d);
    if (rc != TQ_OK)
        return not_staged(c, e, f, rc, out, d);
    tq_hex(sf.sha256, 32, f->sha);
    rc = load_staged(c, e, f, &sf, out, d);
    tq_nightly_staged_release(&sf);
    return rc;
}
