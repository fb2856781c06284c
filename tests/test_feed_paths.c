/* test_feed_paths.c - every path that changes a decision writes the change feed.
 *
 * The serial replay, the pipeline (1 and 2 workers, batches of two events so its
 * flushes fall mid-journal), fill-gap and reconcile each record one numbered change per
 * decision that changed (a new declaration; another state, reasons, version or manual
 * flag), none for an event that changed no decision, with the event (journal id, seq)
 * as the source; the declaration keeps the event that last changed it.  A dry run
 * records nothing.  Whatever the path, the feed's numbers run 1, 2, ... without a gap,
 * and its last change of each declaration is the declaration's stored decision.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tq_apply.h"
#include "tq_gen.h"
#include "tq_journal.h"
#include "tq_load.h"
#include "tq_ndjson.h"
#include "tq_reconcile.h"
#include "tq_replay.h"
#include "tq_testdir.h"

TQ_TESTDIR_SUITE(feed, "tq_feed", 300);

/* ---- helpers ---- */

#define DECL(no, ch, tax, office, lines)                                                  \
    "{\"ev\":\"DECL\",\"decl_no\":\"" no "\",\"kind\":\"A11\",\"office\":\"" office        \
    "\",\"declarant\":\"0101234567\",\"registered_at\":\"2024-08-06T09:15:00+07:00\","     \
    "\"channel\":" #ch ",\"tax_due\":" #tax ",\"lines\":" lines "}"
#define LINE0 "[{\"hs\":\"85171300\",\"qty\":1,\"value\":1000}]"
#define LINE_P "[{\"hs\":\"85171300\",\"qty\":1,\"value\":1000,\"permit\":\"NOPE-1\"}]"
#define OFFICER(no, r)                                                                    \
    "{\"ev\":\"OFFICER\",\"decl_no\":\"" no "\",\"result\":\"" r                           \
    "\",\"officer\":\"HQ01B1-0042\"}"

/* pack() - the NDJSON lines into a journal with frames of frame_bytes. */
static void pack(const char *const *lines, size_t n, const char *path, size_t frame_bytes)
{
    tq_journal_write_opts wo = {.frame_bytes = frame_bytes};
    tq_journal_writer *w;
    static tq_event ev;
    tq_diag d;
    cr_assert_eq(tq_journal_create(path, &wo, &w), TQ_OK);
    for (size_t i = 0; i < n; i++) {
        cr_assert_eq(tq_ndjson_parse_event(lines[i], strlen(lines[i]), tq_journal_next_seq(w),
                                           &ev, &d),
                     TQ_OK, "line %zu: %s: %s", i + 1, d.field, d.why);
        cr_assert_eq(tq_journal_add(w, &ev), TQ_OK);
    }
    cr_assert_eq(tq_journal_finish(w), TQ_OK);
}

static void journal_id(const char *path, uint8_t id[TQ_JOURNAL_ID_LEN])
{
    tq_journal_reader *r;
    cr_assert_eq(tq_journal_open(path, &r), TQ_OK);
    memcpy(id, tq_journal_id(r), TQ_JOURNAL_ID_LEN);
    tq_journal_close(r);
}

static tq_store *open_db(const char *name)
{
    tq_store *s;
    cr_assert_eq(tq_store_open(path_in(name), TQ_STORE_WRITE | TQ_STORE_NOSYNC, NULL, &s, NULL),
                 TQ_OK);
    return s;
}

static void replay(tq_store *s, const char *journal, unsigned threads, uint64_t batch,
                   int dry_run)
{
    tq_replay_opts ro = {.threads = threads, .batch_events = batch, .dry_run = dry_run};
    tq_replay_stats st;
    tq_diag d;
    memset(&d, 0, sizeof d);
    cr_assert_eq(tq_replay_run(s, journal, &ro, &st, &d), TQ_OK, "%s", d.why);
}

static void load_csv(tq_store *s, const char *name, const char *text, tq_load_kind kind)
{
    const char *p = path_in(name);
    FILE *f = fopen(p, "w");
    cr_assert_not_null(f);
    fputs(text, f);
    fclose(f);
    tq_load_opts lo = {.kind = kind};
    tq_load_stats st;
    tq_diag d;
    cr_assert_eq(tq_load_file(s, p, &lo, &st, &d), TQ_OK, "%s", d.why);
}

typedef struct feed {
    tq_change v[64];
    size_t n;
} feed;

static int keep_change(void *ctx, const tq_change *c)
{
    feed *f = ctx;
    cr_assert_lt(f->n, 64);
    f->v[f->n++] = *c;
    return 0;
}

static void read_feed(tq_store *s, uint64_t since, feed *f)
{
    tq_txn *t;
    f->n = 0;
    cr_assert_eq(tq_txn_begin(s, 1, &t), TQ_OK);
    cr_assert_eq(tq_store_each_change(t, since, keep_change, f), TQ_OK);
    tq_txn_abort(t);
}

static tq_decl get_decl(tq_store *s, const char *no)
{
    tq_txn *t;
    tq_decl d;
    cr_assert_eq(tq_txn_begin(s, 1, &t), TQ_OK);
    cr_assert_eq(tq_store_get_decl(t, no, &d), TQ_OK, "%s", no);
    tq_txn_abort(t);
    return d;
}

/* ---- the invariant: numbers 1..n, the last change of each declaration is its state ---- */

typedef struct last_change {
    char decl_no[TQ_DECL_NO_LEN + 1];
    uint64_t no;
    uint8_t state, manual;
    uint32_t reasons, version;
} last_change;

typedef struct consistency {
    last_change *v;
    size_t n, cap;
    uint64_t expect_no;
    size_t decls;
} consistency;

static int collect_last(void *ctx, const tq_change *c)
{
    consistency *k = ctx;
    cr_assert_eq(c->no, k->expect_no, "change %llu where %llu was due",
                 (unsigned long long)c->no, (unsigned long long)k->expect_no);
    k->expect_no++;
    cr_assert_neq(c->state, TQ_STATE_PENDING);
    if (k->n == k->cap) {
        k->cap = k->cap ? k->cap * 2 : 1024;
        k->v = realloc(k->v, k->cap * sizeof *k->v);
        cr_assert_not_null(k->v);
    }
    last_change *l = &k->v[k->n++];
    memcpy(l->decl_no, c->decl_no, sizeof l->decl_no);
    l->no = c->no;
    l->state = c->state;
    l->manual = c->manual;
    l->reasons = c->reasons;
    l->version = c->version;
    return 0;
}

static int by_decl_then_no(const void *a, const void *b)
{
    const last_change *x = a, *y = b;
    int c = strcmp(x->decl_no, y->decl_no);
    return c ? c : (x->no < y->no ? -1 : x->no > y->no);
}

static int check_decl(void *ctx, const tq_decl *d)
{
    consistency *k = ctx;
    last_change key;
    memcpy(key.decl_no, d->decl_no, sizeof key.decl_no);
    key.no = UINT64_MAX;
    /* the last change of d: the entry before where (decl_no, max) would go */
    size_t lo = 0, hi = k->n;
    while (lo < hi) {
        size_t mid = (lo + hi) / 2;
        if (by_decl_then_no(&k->v[mid], &key) < 0)
            lo = mid + 1;
        else
            hi = mid;
    }
    cr_assert(lo > 0 && strcmp(k->v[lo - 1].decl_no, d->decl_no) == 0,
              "declaration %s has no change in the feed", d->decl_no);
    const last_change *l = &k->v[lo - 1];
    cr_assert(l->state == d->state && l->manual == d->manual && l->reasons == d->reasons &&
                  l->version == d->version,
              "%s: the feed ends in state %u reasons %u version %u manual %u, the store has "
              "%u %u %u %u",
              d->decl_no, l->state, l->reasons, l->version, l->manual, d->state, d->reasons,
              d->version, d->manual);
    k->decls++;
    return 0;
}

/* feed_agrees() - the feed of s has no gap and ends, per declaration, in its decision.
 * @return the number of changes. */
static uint64_t feed_agrees(tq_store *s)
{
    consistency k = {.expect_no = 1};
    tq_txn *t;
    cr_assert_eq(tq_txn_begin(s, 1, &t), TQ_OK);
    cr_assert_eq(tq_store_each_change(t, 0, collect_last, &k), TQ_OK);
    uint64_t last;
    cr_assert_eq(tq_store_last_change(t, &last), TQ_OK);
    cr_assert_eq(last, k.expect_no - 1);
    qsort(k.v, k.n, sizeof *k.v, by_decl_then_no);
    cr_assert_eq(tq_store_each_decl(t, check_decl, &k), TQ_OK);
    tq_txn_abort(t);
    free(k.v);
    return last;
}

/* ---- the one rule: what is a change ---- */

Test(feed, a_change_is_a_new_declaration_or_another_state_reasons_version_or_manual)
{
    tq_decl d;
    memset(&d, 0, sizeof d);
    strcpy(d.decl_no, "100000000001");
    d.state = TQ_STATE_HELD;
    d.reasons = TQ_R_TAX_SHORT;
    d.src_seq = 9;
    memset(d.src_id, 0xAB, sizeof d.src_id);
    tq_change c;
    tq_decision none = tq_apply_decision(&d, 0);
    cr_assert_eq(tq_apply_change(&none, &d, TQ_CHANGE_EVENT, &c), 1, "a new declaration");
    cr_assert_str_eq(c.decl_no, "100000000001");
    cr_assert_eq(c.no, 0);
    cr_assert_eq(c.src_seq, 9);
    cr_assert_eq(c.src_id[15], 0xAB);
    tq_decision same = tq_apply_decision(&d, 1);
    d.officer = TQ_SEEN_DOCS_OK;   /* not part of the decision */
    d.tax_short = 5;
    d.tax_due = 7;
    cr_assert_eq(tq_apply_change(&same, &d, TQ_CHANGE_EVENT, &c), 0);
    tq_decl e = d;
    e.state = TQ_STATE_CLEARED;
    cr_assert_eq(tq_apply_change(&same, &e, TQ_CHANGE_EVENT, &c), 1, "state");
    e = d;
    e.reasons |= TQ_R_PERMIT_MISSING;
    cr_assert_eq(tq_apply_change(&same, &e, TQ_CHANGE_EVENT, &c), 1, "reasons");
    e = d;
    e.version = 1;
    cr_assert_eq(tq_apply_change(&same, &e, TQ_CHANGE_EVENT, &c), 1, "version");
    e = d;
    e.manual = 1;
    cr_assert_eq(tq_apply_change(&same, &e, TQ_CHANGE_RECONCILE, &c), 1, "manual");
    cr_assert_eq(c.cause, TQ_CHANGE_RECONCILE);
    cr_assert_eq(c.src_seq, 0, "only an event names a source");
    cr_assert_eq(c.src_id[0], 0);
    /* the source moves only when the rules changed the declaration */
    tq_decl f = d;
    uint8_t id[TQ_JOURNAL_ID_LEN];
    memset(id, 0x11, sizeof id);
    tq_apply_source(&f, TQ_STEP_DUPLICATE, id, 44);
    tq_apply_source(&f, TQ_STEP_IGNORED_FINAL, id, 44);
    tq_apply_source(&f, TQ_STEP_UNKNOWN, id, 44);
    cr_assert_eq(f.src_seq, 9);
    tq_apply_source(&f, TQ_STEP_DONE, id, 45);
    cr_assert_eq(f.src_seq, 45);
    cr_assert_eq(f.src_id[3], 0x11);
}

/* ---- replay: serial and pipeline ---- */

static const char *const story[] = {
    DECL("100000000001", 2, 0, "01B1", LINE0),         /* 1: HELD AWAIT_OFFICER */
    DECL("100000000002", 1, 0, "01B1", LINE0),         /* 2: CLEARED */
    DECL("100000000001", 1, 0, "01B1", LINE0),         /* 3: duplicate: nothing */
    OFFICER("100000000001", "DOCS_OK"),                /* 4: CLEARED */
    DECL("100000000003", 3, 100, "02AA", LINE0),       /* 5: HELD TAX_SHORT|AWAIT */
    OFFICER("100000000003", "DOCS_OK"),                /* 6: still the same: nothing */
    "{\"ev\":\"AMEND\",\"decl_no\":\"100000000003\",\"tax_due\":200}", /* 7: version 1 */
    "{\"ev\":\"CANCEL\",\"decl_no\":\"100000000003\"}",                 /* 8: CANCELLED */
    "{\"ev\":\"AMEND\",\"decl_no\":\"100000000003\",\"tax_due\":5}",   /* 9: final: nothing */
    OFFICER("100000000009", "DOCS_OK"),                /* 10: unknown: nothing */
    DECL("100000000005", 1, 50, "01B1", LINE0),        /* 11: HELD TAX_SHORT */
    ("{\"ev\":\"MANUAL_CLEAR\",\"decl_no\":\"100000000005\",\"officer\":\"HQ01B1-0042\","
     "\"cleared_at\":\"2024-08-07T10:00:00+07:00\"}"),   /* 12: CLEARED by hand */
};

static const struct {
    const char *decl_no;
    uint64_t seq;
    uint8_t state, manual;
    uint32_t reasons, version;
} story_feed[] = {
    {"100000000001", 1, TQ_STATE_HELD, 0, TQ_R_AWAIT_OFFICER, 0},
    {"100000000002", 2, TQ_STATE_CLEARED, 0, 0, 0},
    {"100000000001", 4, TQ_STATE_CLEARED, 0, 0, 0},
    {"100000000003", 5, TQ_STATE_HELD, 0, TQ_R_TAX_SHORT | TQ_R_AWAIT_OFFICER, 0},
    {"100000000003", 7, TQ_STATE_HELD, 0, TQ_R_TAX_SHORT | TQ_R_AWAIT_OFFICER, 1},
    {"100000000003", 8, TQ_STATE_CANCELLED, 0, 0, 1},
    {"100000000005", 11, TQ_STATE_HELD, 0, TQ_R_TAX_SHORT, 0},
    {"100000000005", 12, TQ_STATE_CLEARED, 1, TQ_R_TAX_SHORT, 0},
};

static void check_story(unsigned threads, uint64_t batch, size_t frame_bytes)
{
    char name[64];
    snprintf(name, sizeof name, "story-%u-%llu-%zu", threads, (unsigned long long)batch,
             frame_bytes);
    const char *j = path_in("story.tqj");
    pack(story, sizeof story / sizeof *story, j, frame_bytes);
    uint8_t id[TQ_JOURNAL_ID_LEN];
    journal_id(j, id);
    tq_store *s = open_db(name);
    replay(s, j, threads, batch, 0);
    feed f;
    read_feed(s, 0, &f);
    size_t want = sizeof story_feed / sizeof *story_feed;
    cr_assert_eq(f.n, want, "%u threads, batch %llu: %zu changes, wanted %zu", threads,
                 (unsigned long long)batch, f.n, want);
    for (size_t i = 0; i < want; i++) {
        const tq_change *c = &f.v[i];
        cr_assert_eq(c->no, i + 1);
        cr_assert_str_eq(c->decl_no, story_feed[i].decl_no, "change %zu", i + 1);
        cr_assert_eq(c->src_seq, story_feed[i].seq, "change %zu (%u threads)", i + 1, threads);
        cr_assert_eq(c->state, story_feed[i].state, "change %zu", i + 1);
        cr_assert_eq(c->reasons, story_feed[i].reasons, "change %zu", i + 1);
        cr_assert_eq(c->version, story_feed[i].version, "change %zu", i + 1);
        cr_assert_eq(c->manual, story_feed[i].manual, "change %zu", i + 1);
        cr_assert_eq(c->cause, TQ_CHANGE_EVENT);
        cr_assert_eq(memcmp(c->src_id, id, TQ_JOURNAL_ID_LEN), 0, "change %zu's journal", i + 1);
    }
    /* the event that last changed each declaration, decision or not */
    static const struct { const char *no; uint64_t seq; } src[] = {
        {"100000000001", 4}, {"100000000002", 2}, {"100000000003", 8}, {"100000000005", 12}};
    for (size_t i = 0; i < 4; i++) {
        tq_decl d = get_decl(s, src[i].no);
        cr_assert_eq(d.src_seq, src[i].seq, "%s (%u threads)", src[i].no, threads);
        cr_assert_eq(memcmp(d.src_id, id, TQ_JOURNAL_ID_LEN), 0);
        cr_assert_str_eq(d.office, strcmp(src[i].no, "100000000003") ? "01B1" : "02AA");
        cr_assert_str_eq(d.kind, "A11");
        cr_assert_eq(d.lines[0].value, 1000);
    }
    /* a second replay of the same journal changes nothing, and records nothing */
    replay(s, j, threads, batch, 0);
    read_feed(s, 0, &f);
    cr_assert_eq(f.n, want, "a second replay added changes");
    feed_agrees(s);
    tq_store_close(s);
}

Test(feed, serial_replay_records_each_change_with_its_event)
{
    check_story(0, 100000, 0);
    check_story(0, 2, 64);
}

Test(feed, pipeline_records_the_same_changes_at_every_batch_size)
{
    for (unsigned threads = 1; threads <= 2; threads++) {
        check_story(threads, 100000, 0);
        check_story(threads, 2, 64);
        check_story(threads, 1, 64);
    }
}

Test(feed, an_officer_result_that_changes_no_decision_still_names_its_event)
{
    const char *ev[] = {DECL("100000000003", 3, 0, "02AA", LINE0),
                        OFFICER("100000000003", "DOCS_OK")};
    const char *j = path_in("officer.tqj");
    pack(ev, 2, j, 0);
    for (unsigned threads = 0; threads <= 1; threads++) {
        tq_store *s = open_db(threads ? "o1" : "o0");
        replay(s, j, threads, 0, 0);
        tq_decl d = get_decl(s, "100000000003");
        cr_assert_eq(d.state, TQ_STATE_HELD);
        cr_assert_eq(d.officer, TQ_SEEN_DOCS_OK);
        cr_assert_eq(d.src_seq, 2, "the OFFICER event changed it (its officer results)");
        feed f;
        read_feed(s, 0, &f);
        cr_assert_eq(f.n, 1, "the decision did not change: one change, the DECL's");
        cr_assert_eq(f.v[0].src_seq, 1);
        tq_store_close(s);
    }
}

Test(feed, a_dry_run_records_nothing)
{
    const char *j = path_in("story.tqj");
    pack(story, sizeof story / sizeof *story, j, 64);
    for (unsigned threads = 0; threads <= 2; threads++) {
        char name[16];
        snprintf(name, sizeof name, "dry%u", threads);
        tq_store *s = open_db(name);
        replay(s, j, threads, 2, 1);
        feed f;
        read_feed(s, 0, &f);
        cr_assert_eq(f.n, 0, "%u threads: a dry run recorded %zu changes", threads, f.n);
        tq_store_close(s);
    }
}

/* ---- reconcile ---- */

static void office_seen(void *ctx, const char *office, uint64_t count)
{
    char *buf = ctx;
    size_t n = strlen(buf);
    snprintf(buf + n, 256 - n, "%s=%llu;", office, (unsigned long long)count);
}

Test(feed, reconcile_records_the_decisions_it_changes_and_counts_held_per_office)
{
    const char *ev[] = {
        DECL("100000000011", 1, 100, "01B1", LINE0),   /* cleared by the payment */
        DECL("100000000012", 1, 100, "02AA", LINE_P),  /* loses TAX_SHORT, keeps MISSING */
        DECL("100000000013", 1, 0, "03CC", LINE_P),    /* no change */
        DECL("100000000014", 2, 0, "03CC", LINE0),     /* no change */
    };
    const char *j = path_in("rec.tqj");
    pack(ev, 4, j, 0);
    tq_store *s = open_db("rec");
    replay(s, j, 0, 0, 0);
    cr_assert_eq(feed_agrees(s), 4);
    load_csv(s, "pay.csv",
             "decl_no,receipt_no,kind,amount,valid_until\n"
             "100000000011,KB-1,PAY,100,\n100000000012,KB-2,PAY,100,\n",
             TQ_LOAD_PAYMENTS);
    tq_reconcile_stats st;
    tq_diag d;
    char offices[256] = "";
    tq_reconcile_opts dry = {.dry_run = 1};
    cr_assert_eq(tq_reconcile_run(s, &dry, NULL, &st, &d), TQ_OK);
    cr_assert_eq(st.cleared_now, 1);
    feed f;
    read_feed(s, 4, &f);
    cr_assert_eq(f.n, 0, "a dry-run reconcile recorded changes");

    tq_reconcile_opts ro = {.held_office = office_seen, .ctx = offices};
    cr_assert_eq(tq_reconcile_run(s, &ro, NULL, &st, &d), TQ_OK);
    read_feed(s, 4, &f);
    cr_assert_eq(f.n, 2, "%zu changes", f.n);
    cr_assert_str_eq(f.v[0].decl_no, "100000000011", "held ones in (registered, decl_no) order");
    cr_assert_eq(f.v[0].state, TQ_STATE_CLEARED);
    cr_assert_eq(f.v[0].reasons, 0);
    cr_assert_str_eq(f.v[1].decl_no, "100000000012");
    cr_assert_eq(f.v[1].state, TQ_STATE_HELD, "a new reason set is a change too");
    cr_assert_eq(f.v[1].reasons, TQ_R_PERMIT_MISSING);
    static const uint8_t zero[TQ_JOURNAL_ID_LEN];
    for (size_t i = 0; i < 2; i++) {
        cr_assert_eq(f.v[i].cause, TQ_CHANGE_RECONCILE);
        cr_assert_eq(memcmp(f.v[i].src_id, zero, TQ_JOURNAL_ID_LEN), 0);
        cr_assert_eq(f.v[i].src_seq, 0);
    }
    tq_decl dd = get_decl(s, "100000000011");
    cr_assert_eq(dd.src_seq, 1, "reconcile is no event: the source stays the DECL");
    cr_assert_eq(feed_agrees(s), 6);

    cr_assert_eq(st.held_offices, 2);
    cr_assert_eq(st.ntop_offices, 2);
    cr_assert_str_eq(st.top_offices[0].office, "03CC");
    cr_assert_eq(st.top_offices[0].count, 2);
    cr_assert_str_eq(st.top_offices[1].office, "02AA");
    cr_assert_eq(st.top_offices[1].count, 1);
    cr_assert_str_eq(offices, "02AA=1;03CC=2;", "every office, in office order");

    /* a second reconcile changes nothing and records nothing */
    cr_assert_eq(tq_reconcile_run(s, &ro, NULL, &st, &d), TQ_OK);
    read_feed(s, 6, &f);
    cr_assert_eq(f.n, 0);
    tq_store_close(s);
}

Test(feed, reconcile_keeps_the_offices_with_the_most_held)
{
    /* 12 offices, office k holding k+1 declarations: the top 10 are the last 10 */
    static char lines[78][400];
    const char *ev[78];
    size_t n = 0;
    for (int k = 0; k < 12; k++)
        for (int i = 0; i <= k; i++, n++) {
            snprintf(lines[n], sizeof lines[n],
                     DECL("1000000%05zu", 2, 0, "0%03d", LINE0), n + 100, k);
            ev[n] = lines[n];
        }
    const char *j = path_in("offices.tqj");
    pack(ev, n, j, 0);
    tq_store *s = open_db("offices");
    replay(s, j, 2, 0, 0);
    tq_reconcile_stats st;
    tq_diag d;
    tq_reconcile_opts ro = {0};
    cr_assert_eq(tq_reconcile_run(s, &ro, NULL, &st, &d), TQ_OK);
    cr_assert_eq(st.held_offices, 12);
    cr_assert_eq(st.ntop_offices, TQ_RECONCILE_TOP_OFFICES);
    for (int i = 0; i < TQ_RECONCILE_TOP_OFFICES; i++) {
        char want[8];
        snprintf(want, sizeof want, "0%03d", 11 - i);
        cr_assert_str_eq(st.top_offices[i].office, want, "place %d", i);
        cr_assert_eq(st.top_offices[i].count, (uint64_t)(12 - i));
    }
    tq_store_close(s);
}

/* ---- fill-gap ---- */

/* damage_frame() - flip the last byte of frame k's compressed payload. */
static void damage_frame(const char *path, uint64_t k)
{
    tq_journal_reader *r;
    tq_frame_info info;
    uint8_t *buf = NULL;
    size_t cap = 0;
    cr_assert_eq(tq_journal_open(path, &r), TQ_OK);
    for (uint64_t i = 0; i <= k; i++)
        cr_assert_eq(tq_journal_read_frame(r, &info, &buf, &cap), TQ_OK);
    tq_journal_close(r);
    free(buf);
    FILE *f = fopen(path, "r+b");
    cr_assert_not_null(f);
    long at = (long)(info.offset + 40 + info.zsize - 1);
    fseek(f, at, SEEK_SET);
    int c = fgetc(f);
    fseek(f, at, SEEK_SET);
    fputc(c ^ 0xFF, f);
    fclose(f);
}

typedef struct gap_check {
    uint64_t first, last, prev, n;
    uint8_t id[TQ_JOURNAL_ID_LEN];
} gap_check;

static int in_gap(void *ctx, const tq_change *c)
{
    gap_check *g = ctx;
    cr_assert_eq(c->cause, TQ_CHANGE_EVENT);
    cr_assert(c->src_seq >= g->first && c->src_seq <= g->last && c->src_seq >= g->prev,
              "change %llu from seq %llu, out of the gap %llu..%llu or of order",
              (unsigned long long)c->no, (unsigned long long)c->src_seq,
              (unsigned long long)g->first, (unsigned long long)g->last);
    cr_assert_eq(memcmp(c->src_id, g->id, TQ_JOURNAL_ID_LEN), 0);
    g->prev = c->src_seq;
    g->n++;
    return 0;
}

Test(feed, fill_gap_records_the_changes_of_the_events_it_applies)
{
    tq_gen_opts go = {.declarations = 3000, .seed = 21, .out_dir = g_dir, .frame_bytes = 4096};
    tq_gen_stats gs;
    tq_diag d;
    cr_assert_eq(tq_gen_run(&go, &gs, &d), TQ_OK, "%s", d.why);
    char good[300], bad[300];
    snprintf(good, sizeof good, "%s/journal.tqj", g_dir);
    snprintf(bad, sizeof bad, "%s/bad.tqj", g_dir);
    char cmd[700];
    snprintf(cmd, sizeof cmd, "cp '%s' '%s'", good, bad);
    cr_assert_eq(system(cmd), 0);
    damage_frame(bad, 3);
    for (unsigned threads = 0; threads <= 1; threads++) {
        tq_store *s = open_db(threads ? "gap1" : "gap0");
        char p[300];
        snprintf(p, sizeof p, "%s/payments.csv", g_dir);
        tq_load_opts lo = {.kind = TQ_LOAD_PAYMENTS};
        tq_load_stats ls;
        cr_assert_eq(tq_load_file(s, p, &lo, &ls, &d), TQ_OK);
        snprintf(p, sizeof p, "%s/permits.csv", g_dir);
        lo.kind = TQ_LOAD_PERMITS;
        cr_assert_eq(tq_load_file(s, p, &lo, &ls, &d), TQ_OK);
        tq_replay_opts ro = {.threads = threads, .batch_events = 500, .skip_corrupt = 1};
        tq_replay_stats st;
        cr_assert_eq(tq_replay_run(s, bad, &ro, &st, &d), TQ_OK);
        cr_assert_eq(st.nskipped, 1);
        uint64_t before = feed_agrees(s);
        tq_fill_opts fo = {.dry_run = 1};
        tq_fill_stats fs;
        cr_assert_eq(tq_replay_fill_gap(s, good, &fo, &fs, &d), TQ_OK, "%s", d.why);
        feed f;
        read_feed(s, before, &f);
        cr_assert_eq(f.n, 0, "a dry fill recorded changes");
        fo.dry_run = 0;
        cr_assert_eq(tq_replay_fill_gap(s, good, &fo, &fs, &d), TQ_OK, "%s", d.why);
        cr_assert_eq(fs.gaps_filled, 1);
        uint64_t after = feed_agrees(s);
        cr_assert_gt(after, before, "the gap's events changed decisions");
        /* every change the fill made names an event of the gap, in seq order */
        gap_check gc = {.first = st.skipped[0].first, .last = st.skipped[0].last};
        journal_id(good, gc.id);
        tq_txn *t;
        cr_assert_eq(tq_txn_begin(s, 1, &t), TQ_OK);
        cr_assert_eq(tq_store_each_change(t, before, in_gap, &gc), TQ_OK);
        tq_txn_abort(t);
        cr_assert_eq(gc.n, after - before);
        tq_store_close(s);
    }
}
