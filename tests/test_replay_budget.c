/* test_replay_budget.c - the bound on a batch's memory (tq_replay_opts.batch_bytes).
 *
 * A budget smaller than one declaration's pages caps every batch at one declaration,
 * so every frame after the first starts a batch of its own, on the serial path and in
 * the pipeline; the default budget keeps a small backlog in one batch.  Either way the
 * decisions and the change feed are the same bytes: where a batch ends never changes
 * a result.
 */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tq_export.h"
#include "tq_gen.h"
#include "tq_load.h"
#include "tq_replay.h"
#include "tq_testdir.h"

TQ_TESTDIR_SUITE(budget, "tq_budget", 300);

typedef struct replay_out {
    uint64_t commits, frames;
    char *bytes;             /* the decisions export, then the whole change feed */
    size_t len;
} replay_out;

/* generated() - a backlog of n declarations in g_dir, in frames of 8 KiB. */
static void generated(uint64_t n)
{
    tq_gen_opts go = {.declarations = n, .seed = 11, .out_dir = g_dir, .frame_bytes = 8192};
    cr_assert_eq(tq_gen_run(&go, NULL, NULL), TQ_OK);
}

/* replayed() - g_dir's backlog loaded and replayed into the new database g_dir/name. */
static replay_out replayed(const char *name, unsigned threads, uint64_t batch_bytes)
{
    tq_store *s;
    tq_diag d;
    replay_out o = {0};
    cr_assert_eq(tq_store_open(path_in(name), TQ_STORE_WRITE | TQ_STORE_NOSYNC, NULL, &s,
                               NULL), TQ_OK);
    const char *inputs[2] = {"payments.csv", "permits.csv"};
    for (int i = 0; i < 2; i++) {
        tq_load_opts lo = {.kind = i == 0 ? TQ_LOAD_PAYMENTS : TQ_LOAD_PERMITS};
        tq_load_stats ls;
        cr_assert_eq(tq_load_file(s, path_in(inputs[i]), &lo, &ls, &d), TQ_OK, "%s", d.why);
    }
    tq_replay_opts ro = {.threads = threads, .batch_bytes = batch_bytes};
    tq_replay_stats st;
    cr_assert_eq(tq_replay_run(s, path_in("journal.tqj"), &ro, &st, &d), TQ_OK, "%s", d.why);
    o.commits = st.commits;
    o.frames = st.frames;
    FILE *out = open_memstream(&o.bytes, &o.len);
    uint64_t last;
    cr_assert_not_null(out);
    cr_assert_eq(tq_export_decisions(s, out), TQ_OK);
    cr_assert_eq(tq_export_changes(s, out, 0, 0, &last, NULL), TQ_OK);
    cr_assert_eq(fclose(out), 0);
    tq_store_close(s);
    return o;
}

Test(budget, a_tiny_budget_commits_every_frame_and_decides_alike)
{
    generated(3000);
    static const unsigned threads[] = {0, 2};
    for (size_t i = 0; i < sizeof threads / sizeof threads[0]; i++) {
        char name[32], tiny[32];
        snprintf(name, sizeof name, "db-default-%u", threads[i]);
        snprintf(tiny, sizeof tiny, "db-tiny-%u", threads[i]);
        replay_out ref = replayed(name, threads[i], 0);
        replay_out t = replayed(tiny, threads[i], 1);
        cr_assert_gt(ref.frames, 3, "threads %u: the backlog should span frames", threads[i]);
        cr_assert_eq(ref.commits, 1, "threads %u: the default budget holds this backlog "
                     "in one batch, not %llu", threads[i], (unsigned long long)ref.commits);
        cr_assert_eq(t.commits, t.frames, "threads %u: a budget of 1 byte should commit "
                     "every frame (%llu frames, %llu commits)", threads[i],
                     (unsigned long long)t.frames, (unsigned long long)t.commits);
        cr_assert(ref.len == t.len && memcmp(ref.bytes, t.bytes, t.len) == 0,
                  "threads %u: decisions or feed differ with a tiny budget", threads[i]);
        free(ref.bytes);
        free(t.bytes);
    }
}
