/* test_pipeline.c - the replay's result does not depend on the thread count.
 *
 * Each test replays the same inputs with the serial reference path (threads = 0) and
 * with the pipeline at 1, 2, 4 and 8 threads, with small frames and small commit
 * batches so that frames, batches and the pipeline's reordering all come into play,
 * and compares the exports and the change feed (every change, numbered) byte for byte.  Inputs: every valid conformance case
 * (and, where a case has no reconcile step, its expected exports), and a generated
 * backlog.  A replay interrupted after some frames and run again must also end in the
 * same exports.
 */
#include <criterion/criterion.h>
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "tq_export.h"
#include "tq_gen.h"
#include "tq_journal.h"
#include "tq_load.h"
#include "tq_ndjson.h"
#include "tq_reconcile.h"
#include "tq_replay.h"

static const unsigned thread_counts[] = {0, 1, 2, 4, 8};

/* Every store these tests open checks the old values the pipeline vouches for
 * (tq_store_put_decl_known()): a wrong one fails the replay at once. */
static void check_old_values(void)
{
    setenv("TQ_STORE_CHECK_OLD", "1", 1);
}
TestSuite(pipeline, .init = check_old_values);

typedef struct exports {
    char *decisions, *permits, *feed;
    size_t dlen, plen, flen;
} exports;

static void exports_free(exports *e)
{
    free(e->decisions);
    free(e->permits);
    free(e->feed);
}

static char *tmpdir(void)
{
    char *d = strdup("/tmp/tqpipe.XXXXXX");
    cr_assert_not_null(mkdtemp(d));
    return d;
}

static void rm_rf(const char *d)
{
    char cmd[600];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", d);
    cr_assert_eq(system(cmd), 0);
}

static int exists(const char *path)
{
    return access(path, R_OK) == 0;
}

/* pack() - NDJSON events into a journal with small frames. */
static void pack(const char *ndjson, const char *journal, size_t frame_bytes)
{
    FILE *in = fopen(ndjson, "rb");
    cr_assert_not_null(in, "%s", ndjson);
    tq_journal_write_opts wo = {.frame_bytes = frame_bytes};
    tq_journal_writer *w;
    cr_assert_eq(tq_journal_create(journal, &wo, &w), TQ_OK);
    tq_linereader lr;
    cr_assert_eq(tq_linereader_init(&lr, in, 1 << 20), TQ_OK);
    const char *line;
    size_t len;
    static tq_event ev;
    tq_diag d;
    while (tq_linereader_next(&lr, &line, &len) == TQ_OK) {
        cr_assert_eq(tq_ndjson_parse_event(line, len, tq_journal_next_seq(w), &ev, &d), TQ_OK,
                     "%s: %s", d.field, d.why);
        cr_assert_eq(tq_journal_add(w, &ev), TQ_OK);
    }
    tq_linereader_release(&lr);
    fclose(in);
    cr_assert_eq(tq_journal_finish(w), TQ_OK);
}

static void load(tq_store *s, const char *path, tq_load_kind kind)
{
    if (!exists(path))
        return;
    tq_load_opts lo = {.kind = kind};
    tq_load_stats st;
    tq_diag d;
    cr_assert_eq(tq_load_file(s, path, &lo, &st, &d), TQ_OK, "%s", path);
}

/* The change feed, every field of every change, one line each. */
static int dump_change(void *ctx, const tq_change *c)
{
    FILE *f = ctx;
    fprintf(f, "%llu,%s,%u,%u,%u,%u,%u,", (unsigned long long)c->no, c->decl_no, c->state,
            c->manual, c->cause, c->reasons, c->version);
    for (int i = 0; i < TQ_JOURNAL_ID_LEN; i++)
        fprintf(f, "%02x", c->src_id[i]);
    fprintf(f, ",%llu\n", (unsigned long long)c->src_seq);
    return 0;
}

static void export_all(tq_store *s, exports *e)
{
    tq_txn *t;
    FILE *ff = open_memstream(&e->feed, &e->flen);
    cr_assert_eq(tq_txn_begin(s, 1, &t), TQ_OK);
    cr_assert_eq(tq_store_each_change(t, 0, dump_change, ff), TQ_OK);
    tq_txn_abort(t);
    fclose(ff);
    FILE *f = open_memstream(&e->decisions, &e->dlen);
    cr_assert_eq(tq_export_decisions(s, f), TQ_OK);
    fclose(f);
    f = open_memstream(&e->permits, &e->plen);
    cr_assert_eq(tq_export_permits(s, f), TQ_OK);
    fclose(f);
}

typedef struct stopper {
    volatile int stop;
    int frames_left;
} stopper;

static void stop_after(void *ctx, uint64_t seq, uint64_t done, uint64_t total)
{
    (void)seq;
    (void)done;
    (void)total;
    stopper *st = ctx;
    if (--st->frames_left <= 0)
        st->stop = 1;
}

/* replay_into() - a fresh database in dir with payments and permits loaded, the journal
 * replayed with `threads` (interrupted once after `stop_after_frames` frames when > 0,
 * then run again), and reconcile inputs applied when present. */
static uint64_t pool_bytes;   /* tq_replay_opts.pool_bytes for replay_into (0: default) */
static uint64_t permit_cache; /* tq_replay_opts.permit_cache for replay_into (0: default) */

static void replay_into(const char *dir, const char *inputs, const char *journal,
                        unsigned threads, uint64_t batch, int stop_after_frames, exports *e)
{
    char path[1024], db[1024];
    snprintf(db, sizeof db, "%s/db-%u-%d", dir, threads, stop_after_frames);
    tq_store *s;
    cr_assert_eq(tq_store_open(db, TQ_STORE_WRITE | TQ_STORE_NOSYNC, NULL, &s, NULL), TQ_OK);
    snprintf(path, sizeof path, "%s/payments.csv", inputs);
    load(s, path, TQ_LOAD_PAYMENTS);
    snprintf(path, sizeof path, "%s/permits.csv", inputs);
    load(s, path, TQ_LOAD_PERMITS);
    tq_replay_opts ro = {.threads = threads, .batch_events = batch, .pool_bytes = pool_bytes,
                         .permit_cache = permit_cache};
    tq_replay_stats st;
    tq_diag d;
    if (stop_after_frames > 0) {
        stopper sp = {.stop = 0, .frames_left = stop_after_frames};
        ro.stop = &sp.stop;
        ro.progress = stop_after;
        ro.progress_ctx = &sp;
        cr_assert_eq(tq_replay_run(s, journal, &ro, &st, &d), TQ_OK, "%s", d.why);
        cr_assert(st.interrupted, "the replay did not stop");
        ro.stop = NULL;
        ro.progress = NULL;
    }
    cr_assert_eq(tq_replay_run(s, journal, &ro, &st, &d), TQ_OK, "%s", d.why);
    cr_assert(!st.interrupted);
    /* The pipeline's timeline: the wait for the first frame and the tail after the last
     * event lie within the pass; the serial path has neither. */
    if (threads > 0 && st.frames > 0) {
        cr_assert(st.first_frame > 0 && st.tail > 0, "first_frame %g tail %g",
                  st.first_frame, st.tail);
        cr_assert(st.first_frame + st.tail <= st.seconds, "first_frame %g + tail %g > %g s",
                  st.first_frame, st.tail, st.seconds);
    } else {
        cr_assert(st.first_frame == 0 && st.tail == 0, "first_frame %g tail %g",
                  st.first_frame, st.tail);
    }
    snprintf(path, sizeof path, "%s/reconcile_payments.csv", inputs);
    int reconcile = exists(path);
    load(s, path, TQ_LOAD_PAYMENTS);
    snprintf(path, sizeof path, "%s/reconcile_permits.csv", inputs);
    reconcile |= exists(path);
    load(s, path, TQ_LOAD_PERMITS);
    snprintf(path, sizeof path, "%s/expect.json", inputs);
    if (!reconcile && exists(path)) {
        char buf[4096] = "";
        FILE *f = fopen(path, "r");
        size_t n = fread(buf, 1, sizeof buf - 1, f);
        buf[n] = '\0';
        fclose(f);
        reconcile = strstr(buf, "\"reconcile\": true") != NULL;
    }
    if (reconcile) {
        tq_reconcile_opts rco = {0};
        tq_reconcile_stats rst;
        cr_assert_eq(tq_reconcile_run(s, &rco, NULL, &rst, &d), TQ_OK);
    }
    export_all(s, e);
    /* The indexes the pipeline's puts kept (the old values it passed, unread by the
     * store) must agree with the declarations: every entry each one implies is there. */
    tq_txn *vt;
    uint64_t records = 0;
    cr_assert_eq(tq_txn_begin(s, 1, &vt), TQ_OK);
    cr_assert_eq(tq_store_verify(vt, NULL, NULL, &records), TQ_OK, "%u threads", threads);
    tq_txn_abort(vt);
    tq_store_close(s);
}

static char *slurp(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    if (f == NULL)
        return NULL;
    char *buf = NULL;
    size_t cap = 0;
    FILE *m = open_memstream(&buf, &cap);
    char chunk[8192];
    size_t n;
    while ((n = fread(chunk, 1, sizeof chunk, f)) > 0)
        fwrite(chunk, 1, n, m);
    fclose(f);
    fclose(m);
    *len = cap;
    return buf;
}

static void check_same(const exports *a, const exports *b, const char *what, unsigned threads)
{
    cr_assert(a->dlen == b->dlen && memcmp(a->decisions, b->decisions, a->dlen) == 0,
              "%s: decisions with %u threads differ from the serial replay", what, threads);
    cr_assert(a->plen == b->plen && memcmp(a->permits, b->permits, a->plen) == 0,
              "%s: permit use with %u threads differs from the serial replay", what, threads);
    const char *nl = memchr(a->decisions, '\n', a->dlen);
    cr_assert(a->flen > 0 || nl == NULL || nl + 1 == a->decisions + a->dlen,
              "%s: declarations but no change in the feed", what);
    cr_assert(a->flen == b->flen && memcmp(a->feed, b->feed, a->flen) == 0,
              "%s: the change feed with %u threads differs from the serial replay", what,
              threads);
}

/* replay_alike() - replay_into() with these settings must export what ref holds. */
static void replay_alike(const char *dir, const char *inputs, const char *journal,
                         unsigned threads, uint64_t batch, int stop, const exports *ref,
                         const char *what)
{
    exports e;
    replay_into(dir, inputs, journal, threads, batch, stop, &e);
    check_same(ref, &e, what, threads);
    exports_free(&e);
}

Test(pipeline, conformance_cases_decide_alike_with_every_thread_count)
{
    char cases[1024];
    snprintf(cases, sizeof cases, "%s/../shared/conformance/cases", TQ_SOURCE_DIR);
    DIR *dir = opendir(cases);
    if (dir == NULL)
        cr_skip_test("../shared/conformance is not beside the checkout");
    char *work = tmpdir();
    struct dirent *de;
    int ran = 0;
    while ((de = readdir(dir)) != NULL) {
        char c[2048], path[3072], journal[3072];
        if (de->d_name[0] == '.')
            continue;
        snprintf(c, sizeof c, "%s/%s", cases, de->d_name);
        snprintf(path, sizeof path, "%s/expected/decisions.csv", c);
        if (!exists(path))
            continue; /* bad-input cases: nothing to replay */
        snprintf(path, sizeof path, "%s/events.ndjson", c);
        snprintf(journal, sizeof journal, "%s/%s.tqj", work, de->d_name);
        pack(path, journal, 4096);
        char cw[3072];
        snprintf(cw, sizeof cw, "%s/%s", work, de->d_name);
        mkdir(cw, 0777);
        exports ref;
        replay_into(cw, c, journal, 0, 3, 0, &ref);
        size_t elen;
        snprintf(path, sizeof path, "%s/expected/decisions.csv", c);
        char *expected = slurp(path, &elen);
        cr_assert(expected && elen == ref.dlen && memcmp(expected, ref.decisions, elen) == 0,
                  "%s: the serial replay does not give the expected decisions", de->d_name);
        free(expected);
        for (size_t i = 1; i < sizeof thread_counts / sizeof *thread_counts; i++) {
            replay_alike(cw, c, journal, thread_counts[i], 3, 0, &ref, de->d_name);
        }
        exports_free(&ref);
        ran++;
    }
    closedir(dir);
    cr_assert_geq(ran, 30, "only %d cases ran", ran);
    rm_rf(work);
    free(work);
}

static void gen_backlog(const char *dir, uint64_t n, uint64_t seed)
{
    tq_gen_opts go = {.declarations = n, .seed = seed, .out_dir = dir, .frame_bytes = 8192};
    tq_gen_stats gs;
    tq_diag d;
    cr_assert_eq(tq_gen_run(&go, &gs, &d), TQ_OK, "%s", d.why);
}

/* backlog_ref() - a fresh work dir (caller frees, rm_rf) with a generated backlog of n
 * declarations from seed; its journal's path in journal (600 bytes) and, in ref, the
 * exports of a single-threaded replay of it in batches of batch (replay_into()). */
static char *backlog_ref(uint64_t n, uint64_t seed, uint64_t batch, char *journal,
                         exports *ref)
{
    char *work = tmpdir();
    gen_backlog(work, n, seed);
    snprintf(journal, 600, "%s/journal.tqj", work);
    replay_into(work, work, journal, 0, batch, 0, ref);
    return work;
}

/* backlog_done() - what backlog_ref() made, gone. */
static void backlog_done(char *work, exports *ref)
{
    exports_free(ref);
    rm_rf(work);
    free(work);
}

Test(pipeline, generated_backlog_decides_alike_with_every_thread_count, .timeout = 600)
{
    char journal[600];
    exports ref;
    char *work = backlog_ref(20000, 11, 1000, journal, &ref);
    cr_assert_gt(ref.dlen, 20000 * 20);
    for (size_t i = 1; i < sizeof thread_counts / sizeof *thread_counts; i++) {
        replay_alike(work, work, journal, thread_counts[i], 1000, 0, &ref, "generated backlog");
    }
    backlog_done(work, &ref);
}

/* A pool of a few KiB: every frame waits for the one before it to be released, and
 * frames with more than a few hundred events are passed "direct" (the applier looks the
 * covers up itself); the result must not change. */
Test(pipeline, a_tiny_frame_pool_decides_alike, .timeout = 600)
{
    char journal[600];
    exports ref;
    char *work = backlog_ref(6000, 14, 700, journal, &ref);
    static const uint64_t pools[] = {1, 12000, 40000};
    for (size_t p = 0; p < 3; p++) {
        pool_bytes = pools[p];
        for (size_t i = 1; i < 4; i++) {
            char sub[700];
            snprintf(sub, sizeof sub, "%s/pool%zu", work, p);
            mkdir(sub, 0777);
            replay_alike(sub, work, journal, thread_counts[i], 700, 0, &ref, "tiny frame pool");
        }
    }
    pool_bytes = 0;
    backlog_done(work, &ref);
}

/* The applier runs a batch ahead of the commit (tq_pipeline_batch.h): a permit it has
 * forgotten (a cache of one entry, forgotten at every batch's end) is loaded again while
 * the batch that last used it may still be committing, so its use must come from that
 * batch, not from the store.  Batches of a few events put every quota permit's use in
 * flight again and again. */
Test(pipeline, a_forgotten_permit_sees_the_use_still_being_committed, .timeout = 600)
{
    char journal[600];
    exports ref;
    char *work = backlog_ref(6000, 15, 9, journal, &ref);
    permit_cache = 1;
    for (size_t i = 1; i < 4; i++)
        replay_alike(work, work, journal, thread_counts[i], 9, 0, &ref, "permit cache of one");
    permit_cache = 0;
    backlog_done(work, &ref);
}

Test(pipeline, interrupted_replay_resumes_to_the_same_result, .timeout = 600)
{
    char journal[600];
    exports ref;
    char *work = backlog_ref(8000, 12, 500, journal, &ref);
    for (int stop = 1; stop <= 13; stop += 4) {
        for (size_t i = 0; i < sizeof thread_counts / sizeof *thread_counts; i += 2) {
            replay_alike(work, work, journal, thread_counts[i], 500, stop, &ref, "interrupted replay");
        }
    }
    backlog_done(work, &ref);
}

Test(pipeline, dry_run_changes_nothing)
{
    char *work = tmpdir();
    gen_backlog(work, 3000, 13);
    char journal[600], db[700];
    snprintf(journal, sizeof journal, "%s/journal.tqj", work);
    snprintf(db, sizeof db, "%s/dry", work);
    tq_store *s;
    cr_assert_eq(tq_store_open(db, TQ_STORE_WRITE | TQ_STORE_NOSYNC, NULL, &s, NULL), TQ_OK);
    exports before, after;
    export_all(s, &before);
    for (size_t i = 0; i < 3; i++) {
        tq_replay_opts ro = {.threads = thread_counts[i], .dry_run = 1, .batch_events = 700};
        tq_replay_stats st;
        tq_diag d;
        cr_assert_eq(tq_replay_run(s, journal, &ro, &st, &d), TQ_OK);
        cr_assert_gt(st.applied, 3000, "a dry run still decides");
    }
    export_all(s, &after);
    cr_assert(before.dlen == after.dlen && memcmp(before.decisions, after.decisions, after.dlen) == 0);
    cr_assert(before.plen == after.plen && memcmp(before.permits, after.permits, after.plen) == 0);
    cr_assert_eq(after.flen, 0, "a dry run records no change");
    exports_free(&before);
    exports_free(&after);
    tq_store_close(s);
    rm_rf(work);
    free(work);
}
