/* gen_records.c - the record writers of the synthetic backlog (bench/gen/): dates and
 * timestamps as text, the CSV files (buffered rows, tq_out temporaries), the payment
 * rows of a declaration, and the thread that encodes the journal's events. */
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "gen_int.h"

/* ---- dates -------------------------------------------------------------------- */

/* Floor division (local times of any offset; Vietnam's day is vn_day()). */
static inline int64_t floor_div(int64_t a, int64_t b)
{
    int64_t q = a / b;
    return (a % b != 0 && (a < 0) != (b < 0)) ? q - 1 : q;
}

/* "YYYY-MM-DD" (years 1000..9999 are all we make). */
char *gen_put_date(char *p, int64_t day)
{
    int64_t y;
    int m, d;
    tq_civil_from_days(day, &y, &m, &d);
    p = put_u64w(p, (uint64_t)y, 4);
    *p++ = '-';
    p = put2(p, (unsigned)m);
    *p++ = '-';
    return put2(p, (unsigned)d);
}

/* A timestamp as "YYYY-MM-DDTHH:MM:SS+HH:MM" (or "...Z" when off_min is -1), NUL-ended. */
void gen_fmt_ts(char *out, int64_t unix_sec, int off_min)
{
    int zulu = off_min < 0;
    int64_t local = unix_sec + (zulu ? 0 : (int64_t)off_min * 60);
    int64_t day = floor_div(local, 86400);
    unsigned sod = (unsigned)(local - day * 86400);
    char *p = gen_put_date(out, day);
    *p++ = 'T';
    p = put2(p, sod / 3600);
    *p++ = ':';
    p = put2(p, sod / 60 % 60);
    *p++ = ':';
    p = put2(p, sod % 60);
    if (zulu) {
        *p++ = 'Z';
    } else {
        *p++ = '+';
        p = put2(p, (unsigned)off_min / 60);
        *p++ = ':';
        p = put2(p, (unsigned)off_min % 60);
    }
    *p = '\0';
}

/* ---- output files ------------------------------------------------------------- */

int gen_file_error(tq_diag *d, const char *path, int e)
{
    tq_diag_set(d, "(file)", "%s: %s", path, strerror(e));
    return tq_errno(e);
}

/* gen_tmp_open() - DIR/NAME through tq_out: a regular file only (these three are
 * published together, which a stream cannot be). */
int gen_tmp_open(tq_out *o, const char *dir, const char *name, tq_diag *d)
{
    char path[PATH_MAX];
    if ((size_t)snprintf(path, sizeof path, "%s/%s", dir, name) >= sizeof path)
        return gen_file_error(d, dir, ENAMETOOLONG);
    int rc = tq_out_open(o, path, TQ_OUT_NO_STREAM, d);
    if (rc != TQ_OK && d != NULL)
        snprintf(d->field, sizeof d->field, "(file)");   /* as tq_gen.h says */
    return rc;
}

int gen_out_open(gen_out *o, const char *dir, const char *name, tq_diag *d)
{
    o->fd = -1;
    o->buf = malloc(GEN_OUTBUF);
    if (o->buf == NULL) {
        tq_diag_set(d, "(memory)", "no memory for the buffer of %s/%s", dir, name);
        return TQ_ERR_NOMEM;
    }
    int rc = gen_tmp_open(&o->out, dir, name, d);
    if (rc == TQ_OK)
        o->fd = o->out.fd;
    return rc;
}

/* Write the buffered rows (tq_out_write: short writes and EINTR retried); the first
 * error is kept, with its errno, in o->err. */
void gen_out_flush(gen_out *o)
{
    size_t n = o->len;
    o->len = 0;
    if (o->err == 0 && n > 0 && tq_out_write(&o->out, o->buf, n) != TQ_OK)
        o->err = o->out.err;
}

/* Flush and fsync; the file keeps its temporary name until publish_all() (gen_run.c). */
int gen_out_close(gen_out *o, tq_diag *d)
{
    gen_out_flush(o);
    o->fd = -1;
    if (o->err != 0)
        return gen_file_error(d, o->out.tmp, o->err);
    return tq_out_sync(&o->out, d);
}

void gen_out_discard(gen_out *o)
{
    tq_out_rollback(&o->out);
    o->fd = -1;
    free(o->buf);
    o->buf = NULL;
}

/* ---- the journal thread ------------------------------------------------------- */

static int write_batch(tq_journal_writer *jw, const gen_batch *b)
{
    for (uint32_t i = 0; i < b->n; i++) {
        int rc = tq_journal_add(jw, &b->ev[i]);
        if (rc != TQ_OK)
            return rc;
    }
    return TQ_OK;
}

static void *journal_thread(void *arg)
{
    gen_pipe *p = arg;
    pthread_mutex_lock(&p->mu);
    for (;;) {
        while (p->consumed == p->produced && !p->done && !p->abort)
            pthread_cond_wait(&p->cv, &p->mu);
        if (p->abort || p->consumed == p->produced)
            break;
        const gen_batch *b = p->batch[p->consumed % GEN_NBATCH];
        pthread_mutex_unlock(&p->mu);
        int rc = write_batch(p->jw, b);
        pthread_mutex_lock(&p->mu);
        if (rc != TQ_OK) {
            p->err = rc;
            pthread_cond_broadcast(&p->cv);
            break;
        }
        p->consumed++;
        pthread_cond_broadcast(&p->cv);
    }
    pthread_mutex_unlock(&p->mu);
    return NULL;
}

static int journal_error(gen *g, int rc, tq_diag *d)
{
    if (rc == TQ_ERR_INPUT)   /* the encoder refused an event: a bug here, not in the disk */
        tq_diag_set(d, "(journal)", "%s: the generator made an event the journal refuses",
                    g->jout.tmp);
    else
        tq_diag_set(d, "(file)", "%s: %s", g->jout.tmp, tq_strerror(rc));
    return rc;
}

int gen_pipe_start(gen *g)
{
    gen_pipe *p = &g->pipe;
    p->jw = g->jw;
    for (unsigned i = 0; i < GEN_NBATCH; i++) {
        p->batch[i] = malloc(sizeof *p->batch[i]);
        if (p->batch[i] == NULL)
            return TQ_ERR_NOMEM;
    }
    p->cur = p->batch[0];
    p->cur->n = 0;
    if (pthread_mutex_init(&p->mu, NULL) != 0)
        return TQ_OK;                        /* unthreaded, then */
    if (pthread_cond_init(&p->cv, NULL) != 0) {
        pthread_mutex_destroy(&p->mu);
        return TQ_OK;
    }
    p->threaded = pthread_create(&p->thread, NULL, journal_thread, p) == 0;
    if (!p->threaded) {
        pthread_cond_destroy(&p->cv);
        pthread_mutex_destroy(&p->mu);
    }
    return TQ_OK;
}

/* Hand the current batch over and take the next free one. */
int gen_pipe_hand_off(gen *g, tq_diag *d)
{
    gen_pipe *p = &g->pipe;
    if (!p->threaded) {
        int rc = write_batch(p->jw, p->cur);
        p->cur->n = 0;
        return rc == TQ_OK ? TQ_OK : journal_error(g, rc, d);
    }
    pthread_mutex_lock(&p->mu);
    p->produced++;
    pthread_cond_broadcast(&p->cv);
    while (p->produced - p->consumed == GEN_NBATCH && p->err == TQ_OK)
        pthread_cond_wait(&p->cv, &p->mu);
    int rc = p->err;
    pthread_mutex_unlock(&p->mu);
    if (rc != TQ_OK)
        return journal_error(g, rc, d);
    p->cur = p->batch[p->produced % GEN_NBATCH];
    p->cur->n = 0;
    return TQ_OK;
}

/* Write what is left and stop the thread (abort: drop what is queued).  After this
 * the writer belongs to the calling thread again. */
int gen_pipe_stop(gen *g, int abort, tq_diag *d)
{
    gen_pipe *p = &g->pipe;
    int rc = TQ_OK;
    if (!abort && p->cur != NULL && p->cur->n > 0)
        rc = gen_pipe_hand_off(g, d);
    if (p->threaded) {
        pthread_mutex_lock(&p->mu);
        p->done = 1;
        p->abort |= abort || rc != TQ_OK;
        pthread_cond_broadcast(&p->cv);
        pthread_mutex_unlock(&p->mu);
        pthread_join(p->thread, NULL);
        pthread_cond_destroy(&p->cv);
        pthread_mutex_destroy(&p->mu);
        p->threaded = 0;
        if (rc == TQ_OK && p->err != TQ_OK)
            rc = journal_error(g, p->err, d);
    }
    return rc;
}

void gen_pipe_free(gen_pipe *p)
{
    for (unsigned i = 0; i < GEN_NBATCH; i++)
        free(p->batch[i]);
}



/* ---- payments ----------------------------------------------------------------- */

static const char *const k_banks[] = {"KB", "VCB", "BIDV", "VTB", "ACB", "TCB", "MB", "AGR"};
#define NBANKS (sizeof k_banks / sizeof k_banks[0])
_Static_assert(NBANKS == 8, "gen_pay_row picks a bank with the top 3 bits of a hash");

void gen_pay_row(gen *g, const char *decl_no, int guarantee, uint64_t amount, int64_t until)
{
    char row[GEN_ROW_MAX], *s = row;
    if (amount > TQ_MONEY_MAX)
        amount = TQ_MONEY_MAX;
    s = put_str(s, decl_no);
    *s++ = ',';
    uint64_t no = ++g->receipts;   /* the serial alone makes receipt_no unique */
    const char *bank = k_banks[no * 0x9E3779B97F4A7C15ULL >> 61];
    if (guarantee) {
        s = put_str(s, "BL-");
        s = put_str(s, bank);
        *s++ = '-';
        s = put_u64w(s, no, 9);
        s = put_str(s, ",GUARANTEE,");
    } else {
        s = put_str(s, bank);
        s = put_str(s, "-2024-");
        s = put_u64w(s, no, 9);
        s = put_str(s, ",PAY,");
    }
    s = put_u64(s, amount);
    *s++ = ',';
    if (guarantee)
        s = gen_put_date(s, until);
    *s++ = '\n';
    gen_out_write(&g->pay, row, (size_t)(s - row));
    if (R_PPM(g) < P_DUP_ROW)   /* the same row twice: it must count once */
        gen_out_write(&g->pay, row, (size_t)(s - row));
}

void gen_pay_decl(gen *g, const char *decl_no, const gen_decl_info *info, int64_t reg_sec)
{
    uint64_t tax = info->tax_due, amount, part;
    int64_t day = vn_day(reg_sec);
    switch (info->fate) {
    case PF_FULL:
        amount = tax;
        if (R_PPM(g) < P_OVERPAY)   /* a refund candidate */
            amount += 1 + R_BELOW(g, tax / 20 + 1000);
        if (R_PPM(g) < P_SPLIT) {
            part = amount * (20 + R_BELOW(g, 61)) / 100;
            gen_pay_row(g, decl_no, 0, part, 0);
            gen_pay_row(g, decl_no, 0, amount - part, 0);
        } else {
            gen_pay_row(g, decl_no, 0, amount, 0);
        }
        break;
    case PF_SHORT:
        amount = R_PPM(g) < 50000 ? tax - 1 : tax * (10 + R_BELOW(g, 86)) / 100;
        gen_pay_row(g, decl_no, 0, amount, 0);
        break;
    case PF_GUARANTEE: {
        part = R_PPM(g) < 200000 ? tax / 2 : 0;
        if (part > 0)
            gen_pay_row(g, decl_no, 0, part, 0);
        uint32_t r = R_PPM(g);
        int64_t until = r < 800000 ? day + 30 + (int64_t)R_BELOW(g, 335)
                        : r < 880000 ? day   /* expires that very day: still counts */
                        : day - 1 - (int64_t)R_BELOW(g, 60);
        gen_pay_row(g, decl_no, 1, tax - part, until);
        break;
    }
    case PF_UNPAID:
        break;
    case PF_ZERO:
        if (R_PPM(g) < 10000)   /* paid though nothing was due: a refund candidate */
            gen_pay_row(g, decl_no, 0, 1000 * (1 + R_BELOW(g, 100)), 0);
        break;
    }
}
