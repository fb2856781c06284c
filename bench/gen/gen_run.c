/* gen_run.c - the run of the synthetic backlog generator (bench/gen/): one tick per
 * declaration, then the three files' life: opened as temporaries, written, fsynced and
 * published together (tq_gen_run, tq_gen.h). */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE   /* sync_file_range() */
#endif
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "gen_int.h"

/* ---- the run ------------------------------------------------------------------ */

/* Ask the kernel to start writing what is dirty now.  Without this, a machine with
 * plenty of memory keeps the whole output dirty until the final fsync, which then
 * waits for a gigabyte at once; with it, the disk works while we generate.  Only a
 * hint: errors are ignored, and the fsyncs still decide durability. */
static void start_writeback(gen *g)
{
#ifdef SYNC_FILE_RANGE_WRITE
    if (g->pay.fd >= 0)
        (void)sync_file_range(g->pay.fd, 0, 0, SYNC_FILE_RANGE_WRITE);
    if (g->jfd >= 0)
        (void)sync_file_range(g->jfd, 0, 0, SYNC_FILE_RANGE_WRITE);
#else
    (void)g;
#endif
}

static int gen_produce_events(gen *g, tq_diag *d)
{
    const tq_gen_opts *o = g->opts;
    for (uint64_t t = 0; t < g->n || g->npending > 0; t++) {
        int rc = gen_fire_due(g, t, d);
        if (rc != TQ_OK)
            return rc;
        if (t >= g->n)
            continue;
        if (R_PPM(g) < P_UNKNOWN_EVENT && (rc = gen_emit_unknown(g, d)) != TQ_OK)
            return rc;

        if (t > 0)
            g->now_us += (int64_t)R_BELOW(g, 2 * (uint64_t)g->mean_gap_us + 1);
        int64_t reg_sec = g->t0_sec + g->now_us / 1000000;
        uint64_t decl_no = g->no_next;
        g->no_next = decl_no + 1;
        if (R_PPM(g) < 150000) {   /* numbers taken by declarations that never came */
            g->no_next += 1 + R_BELOW(g, 3);
            g->last_gap = g->no_next - 1;
        }

        gen_decl_info info;
        tq_event *ev = ev_slot(g);
        gen_decl(g, t, decl_no, reg_sec, ev, &info);
        gen_pay_decl(g, ev->decl_no, &info, reg_sec);
        if ((rc = ev_commit(g, d)) != TQ_OK)
            return rc;

        uint32_t slot = (uint32_t)(t & (GEN_RING - 1));
        gen_pending *e = &g->ring[slot];
        gen_plan_followups(g, e, &info);
        if (e->nplan > 0) {
            e->idx = t;
            e->decl_no = decl_no;
            e->reg_sec = reg_sec;
            e->tax_due = info.tax_due;
            e->office = info.office;
            g->npending++;
            gen_schedule_next(g, slot, t);
        }

        if (R_PPM(g) < P_UNKNOWN_PAY) {   /* a payment for a declaration that never comes */
            char no[TQ_DECL_NO_LEN + 1];
            fmt_decl_no(no, gen_unknown_decl_no(g));
            gen_pay_row(g, no, 0, 100000 + R_BELOW(g, 1000000000), 0);
        }
        if (g->pay.err != 0)
            return gen_file_error(d, g->pay.out.tmp, g->pay.err);
        if (((t + 1) & GEN_PROGRESS_MASK) == 0) {
            start_writeback(g);
            if (o->progress != NULL)
                o->progress(o->progress_ctx, t + 1, g->n);
        }
    }
    return TQ_OK;
}

/* Create journal.tqj's temporary, its writer and the thread that feeds it. */
static int open_journal(gen *g, const tq_gen_opts *opts, tq_diag *d)
{
    tq_journal_write_opts jo = {.frame_bytes = opts->frame_bytes, .level = 0};
    /* The journal writer opens the temporary by its name: a fresh random one that we
     * created exclusively, so no planted link is followed. */
    int rc = gen_tmp_open(&g->jout, opts->out_dir, "journal.tqj", d);
    if (rc != TQ_OK)
        return rc;
    if ((rc = tq_journal_create(g->jout.tmp, &jo, &g->jw)) != TQ_OK) {
        g->jw = NULL;
        tq_diag_set(d, "(file)", "%s: %s", g->jout.tmp, tq_strerror(rc));
        return rc;
    }
    g->jfd = g->jout.fd;   /* writeback hints only */
    if ((rc = gen_pipe_start(g)) != TQ_OK)
        tq_diag_set(d, "(memory)", "cannot allocate the journal batches");
    return rc;
}

/* write_all() - permits.csv, then the events (journal.tqj) and payments.csv: each
 * complete and fsynced under its temporary name, none published yet. */
static int write_all(gen *g, const tq_gen_opts *opts, tq_diag *d)
{
    const char *dir = opts->out_dir;
    int rc;
    if ((rc = gen_out_open(&g->per, dir, "permits.csv", d)) != TQ_OK ||
        (rc = gen_setup(g, opts, d)) != TQ_OK || (rc = gen_out_close(&g->per, d)) != TQ_OK)
        return rc;

    if ((rc = gen_out_open(&g->pay, dir, "payments.csv", d)) != TQ_OK)
        return rc;
    static const char header[] = "decl_no,receipt_no,kind,amount,valid_until\n";
    gen_out_write(&g->pay, header, sizeof header - 1);
    g->pay.rows = 0;

    if ((rc = open_journal(g, opts, d)) != TQ_OK)
        return rc;
    rc = gen_produce_events(g, d);
    int rc2 = gen_pipe_stop(g, rc != TQ_OK, rc == TQ_OK ? d : NULL);
    if (rc == TQ_OK)
        rc = rc2;
    if (rc != TQ_OK)
        return rc;
    rc = tq_journal_finish(g->jw);
    g->jw = NULL;
    if (rc != TQ_OK) {
        tq_diag_set(d, "(file)", "%s: %s", g->jout.tmp, tq_strerror(rc));
        return rc;
    }
    g->jfd = -1;
    return gen_out_close(&g->pay, d);
}

/* All three are complete and durable: now they take their names (tq_out_commit renames
 * and fsyncs the directory). */
static int publish_all(gen *g, tq_diag *d)
{
    int rc;
    if ((rc = tq_out_commit(&g->per.out, d)) != TQ_OK ||
        (rc = tq_out_commit(&g->pay.out, d)) != TQ_OK)
        return rc;
    return tq_out_commit(&g->jout, d);
}

/* Stop whatever is running and remove what is not published; free g. */
static void gen_free(gen *g)
{
    (void)gen_pipe_stop(g, 1, NULL);   /* a no-op when stopped already */
    if (g->jw != NULL)
        tq_journal_abandon(g->jw);
    tq_out_rollback(&g->jout);
    gen_pipe_free(&g->pipe);
    gen_out_discard(&g->pay);
    gen_out_discard(&g->per);
    free(g->permits);
    free(g);
}

int tq_gen_run(const tq_gen_opts *opts, tq_gen_stats *stats, tq_diag *d)
{
    if (opts == NULL || opts->out_dir == NULL || opts->out_dir[0] == '\0')
        return tq_diag_set(d, "out_dir", "an output directory is required");
    if (opts->declarations < 1 || opts->declarations > GEN_MAX_DECLARATIONS)
        return tq_diag_set(d, "declarations", "must be in 1..%llu, got %llu",
                           (unsigned long long)GEN_MAX_DECLARATIONS,
                           (unsigned long long)opts->declarations);

    gen *g = calloc(1, sizeof *g);
    if (g == NULL) {
        tq_diag_set(d, "(memory)", "cannot allocate the generator");
        return TQ_ERR_NOMEM;
    }
    g->pay.fd = g->per.fd = g->jfd = -1;
    g->pay.out.fd = g->per.out.fd = g->jout.fd = -1;
    int rc;
    char jpath[PATH_MAX];
    if ((size_t)snprintf(jpath, sizeof jpath, "%s/journal.tqj", opts->out_dir) >= sizeof jpath)
        rc = gen_file_error(d, opts->out_dir, ENAMETOOLONG);
    else if ((rc = write_all(g, opts, d)) == TQ_OK)
        rc = publish_all(g, d);

    if (rc == TQ_OK && opts->progress != NULL)
        opts->progress(opts->progress_ctx, g->n, g->n);
    if (rc == TQ_OK && stats != NULL) {
        struct stat st;
        stats->events = g->events;
        stats->payments = g->pay.rows;
        stats->permits = g->per.rows;
        stats->journal_bytes = stat(jpath, &st) == 0 ? (uint64_t)st.st_size : 0;
    }
    gen_free(g);
    return rc;
}
