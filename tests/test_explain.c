/* test_explain.c - explain's library half: whether each officer result of a journal was
 * applied and why not (tq_explain_officer_why), what the --journal files are read for
 * (tq_explain_journals_load, _backfill), the payments collected for one declaration,
 * and the words printed (tq_explain_text, tq_explain_json_head). */
#include <criterion/criterion.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tq_explain_print.h"
#include "tq_journal.h"
#include "tq_ndjson.h"
#include "tq_testdir.h"
#include "tq_teststore.h"

TQ_TESTDIR_SUITE(explain, "tq_explain", 60);

#define NO "100000000011"

/* write_journal() - a journal at path holding the NDJSON events of lines (NULL-ended);
 * its id into id. */
static void write_journal(const char *path, const char *const *lines, uint8_t id[TQ_JOURNAL_ID_LEN])
{
    tq_journal_writer *w = NULL;
    cr_assert_eq(tq_journal_create(path, NULL, &w), TQ_OK);
    for (uint64_t i = 0; lines[i]; i++) {
        tq_event ev;
        tq_diag d;
        memset(&d, 0, sizeof d);
        cr_assert_eq(tq_ndjson_parse_event(lines[i], strlen(lines[i]), i + 1, &ev, &d), TQ_OK,
                     "%s: %s", lines[i], d.why);
        cr_assert_eq(tq_journal_add(w, &ev), TQ_OK);
    }
    cr_assert_eq(tq_journal_finish(w), TQ_OK);
    tq_explain_officer_list o;
    cr_assert_eq(tq_explain_officers(path, NO, &o, id), TQ_OK);
}

static const char decl_line[] =
    "{\"ev\":\"DECL\",\"decl_no\":\"" NO "\",\"kind\":\"A11\",\"office\":\"01B1\","
    "\"declarant\":\"0101234567\",\"registered_at\":\"2024-08-06T09:15:00+07:00\","
    "\"channel\":2,\"tax_due\":0,\"lines\":[{\"hs\":\"85171300\",\"qty\":1,\"value\":777}]}";
static const char manual_line[] =
    "{\"ev\":\"MANUAL_CLEAR\",\"decl_no\":\"" NO "\",\"officer\":\"HQ-1\","
    "\"cleared_at\":\"2024-08-07T10:00:00+07:00\"}";
static const char docs_line[] =
    "{\"ev\":\"OFFICER\",\"decl_no\":\"" NO "\",\"result\":\"DOCS_OK\",\"officer\":\"HQ-2\"}";

/* A journals view by hand: journal 0 of id {7,...}, replayed through mark (0: never). */
typedef struct view {
    tq_explain_journals jv;
    const char *paths[1];
    tq_journal_mark marks[1];
    int have_mark[1], have_id[1];
    uint8_t ids[1][TQ_JOURNAL_ID_LEN];
} view;

static void view_make(view *v, uint64_t mark)
{
    memset(v, 0, sizeof *v);
    v->paths[0] = "j.tqj";
    tq_explain_journals_init(&v->jv, v->paths, 1);
    memset(v->ids[0], 7, TQ_JOURNAL_ID_LEN);
    v->have_id[0] = 1;
    v->have_mark[0] = mark != 0;
    v->marks[0].last_seq = mark;
    v->jv.marks = v->marks;
    v->jv.have_mark = v->have_mark;
    v->jv.have_id = v->have_id;
    v->jv.ids = v->ids;
}

static tq_explain_officer docs_ok_at(uint64_t seq)
{
    tq_explain_officer e;
    memset(&e, 0, sizeof e);
    e.seq = seq;
    e.result = TQ_OFFICER_DOCS_OK;
    e.declared_before = 1;
    return e;
}

/* officer_case() - journal 0 replayed through mark, a declaration that shows the
 * officer results seen (TQ_SEEN_* bits), and a DOCS_OK result at seq. */
static void officer_case(view *v, uint64_t mark, tq_explain *x, unsigned seen,
                         tq_explain_officer *e, uint64_t seq)
{
    view_make(v, mark);
    memset(x, 0, sizeof *x);
    x->decl.officer = (uint8_t)seen;
    *e = docs_ok_at(seq);
}

/* EXPECT_WHY() - tq_explain_officer_why() on journal 0 of view v says applied (1 or 0)
 * and, unless text is NULL, exactly text; a failure names the test's line. */
#define EXPECT_WHY(x, v, e, applied, text)                                              \
    do {                                                                                \
        char why_[200];                                                                 \
        const char *want_ = (text);                                                     \
        cr_expect_eq(tq_explain_officer_why(&(x), &(v).jv, 0, &(e), why_, sizeof why_), \
                     (applied));                                                        \
        if (want_)                                                                      \
            cr_expect_str_eq(why_, want_);                                              \
    } while (0)

Test(explain, officer_applied_when_the_store_shows_it)
{
    view v;
    tq_explain x;
    tq_explain_officer e;
    officer_case(&v, 3, &x, TQ_SEEN_DOCS_OK, &e, 3); /* replayed through the result itself */
    EXPECT_WHY(x, v, e, 1, "applied");
    e.result = TQ_OFFICER_INSPECT_OK; /* DOCS_OK's bit is not INSPECT_OK's */
    EXPECT_WHY(x, v, e, 0, NULL);
    x.decl.officer = TQ_SEEN_INSPECT_OK;
    EXPECT_WHY(x, v, e, 1, NULL);
    e.result = TQ_OFFICER_DOCS_OK;
    x.decl.officer = TQ_SEEN_INSPECT_OK; /* another result's bit is not this one's */
    EXPECT_WHY(x, v, e, 0, "not applied: the declaration was already final (cleared by the "
               "rules) when it came");
    e.result = TQ_OFFICER_REJECT;
    x.decl.state = TQ_STATE_REJECTED;
    EXPECT_WHY(x, v, e, 1, NULL);
}

Test(explain, officer_not_applied_past_the_replay_mark)
{
    view v;
    tq_explain x;
    tq_explain_officer e;
    officer_case(&v, 2, &x, TQ_SEEN_DOCS_OK, &e, 3);
    EXPECT_WHY(x, v, e, 0, "not applied yet: this journal is not replayed that far");
    view_make(&v, 0); /* never replayed */
    EXPECT_WHY(x, v, e, 0, "not applied yet: this journal is not replayed that far");
}

Test(explain, officer_not_applied_in_a_skipped_gap)
{
    view v;
    tq_explain x;
    tq_explain_officer e;
    officer_case(&v, 9, &x, TQ_SEEN_DOCS_OK, &e, 4);
    tq_gap *g = &v.jv.gaps.v[0];
    memset(g->id, 7, TQ_JOURNAL_ID_LEN);
    g->first = 3;
    g->last = 4;
    v.jv.gaps.n = v.jv.gaps.total = 1;
    EXPECT_WHY(x, v, e, 0, "not applied: seq 3..4 of this journal was skipped by --skip-corrupt "
               "(thongquan replay --fill-gap applies it)");
    e.seq = 5; /* past the gap */
    EXPECT_WHY(x, v, e, 1, NULL);
    v.have_id[0] = 0; /* a journal whose id is unknown has no gap */
    e.seq = 4;
    EXPECT_WHY(x, v, e, 1, NULL);
}

Test(explain, officer_not_applied_after_a_final_event)
{
    view v;
    tq_explain x;
    tq_explain_officer e;
    officer_case(&v, 9, &x, 0, &e, 3);
    e.final_ev = TQ_EV_MANUAL_CLEAR;
    e.final_seq = 2;
    EXPECT_WHY(x, v, e, 0, "not applied: it came after the MANUAL_CLEAR at seq 2, when the "
               "declaration was final, and events on a final declaration change "
               "nothing");
    e.declared_before = 0;
    e.final_ev = 0;
    EXPECT_WHY(x, v, e, 0, "not applied: the declaration was not yet declared or already final "
               "when it came");
}

/* journal_and_store() - g_dir/j.tqj of a DECL, its MANUAL_CLEAR and a DOCS_OK (its id
 * into id; the path returned, malloc'd) and an empty store g_dir/db open for writing. */
static char *journal_and_store(uint8_t id[TQ_JOURNAL_ID_LEN], tq_store **s)
{
    const char *lines[] = {decl_line, manual_line, docs_line, NULL};
    char *jpath = strdup(path_in("j.tqj"));
    write_journal(jpath, lines, id);
    *s = tq_test_open(path_in("db"), TQ_STORE_WRITE);
    return jpath;
}

/* mark_replayed() - the store s records the journal id as replayed through last_seq;
 * returns a read transaction on s. */
static tq_txn *mark_replayed(tq_store *s, const uint8_t id[TQ_JOURNAL_ID_LEN], uint64_t last_seq)
{
    tq_txn *t = tq_test_begin(s, 0);
    tq_journal_mark m = {.last_seq = last_seq};
    memcpy(m.id, id, sizeof m.id);
    cr_assert_eq(tq_store_put_journal(t, &m), TQ_OK);
    cr_assert_eq(tq_txn_commit(t), TQ_OK);
    return tq_test_begin(s, 1);
}

/* A real journal and store: load finds the officer results, their finality and the
 * replay mark; a missing journal is left for its history to report. */
Test(explain, journals_load_reads_officers_and_marks)
{
    uint8_t id[TQ_JOURNAL_ID_LEN];
    tq_store *s;
    char *jpath = journal_and_store(id, &s);
    tq_txn *t = mark_replayed(s, id, 3);

    const char *paths[] = {jpath, path_in("missing.tqj")};
    tq_explain_journals jv;
    tq_explain_journals_init(&jv, paths, 2);
    cr_assert_eq(tq_explain_journals_load(&jv, t, NO), TQ_OK);
    cr_expect_eq(jv.have_id[0], 1);
    cr_expect_eq(jv.have_mark[0], 1);
    cr_expect_eq(jv.marks[0].last_seq, 3);
    cr_expect_eq(memcmp(jv.ids[0], id, TQ_JOURNAL_ID_LEN), 0);
    cr_assert_eq(jv.officers[0].n, 1);
    cr_expect_eq(jv.officers[0].v[0].seq, 3);
    cr_expect_eq(jv.officers[0].v[0].final_ev, TQ_EV_MANUAL_CLEAR);
    cr_expect_eq(jv.officers[0].v[0].final_seq, 2);
    cr_expect_eq(jv.have_id[1], 0);
    cr_expect_eq(jv.officers[1].n, 0);
    tq_explain_journals_release(&jv);
    cr_expect_null(jv.officers);
    tq_txn_abort(t);
    tq_store_close(s);
    free(jpath);
}

/* Each officer result is stamped with what the journal said before it: whether its DECL
 * came earlier, and the first event that made the declaration final (a later one does
 * not replace it). */
Test(explain, officer_results_stamped_with_what_came_before)
{
    static const char reject_line[] =
        "{\"ev\":\"OFFICER\",\"decl_no\":\"" NO "\",\"result\":\"REJECT\","
        "\"officer\":\"HQ-3\"}";
    const char *lines[] = {docs_line, decl_line, docs_line, manual_line, docs_line,
                           reject_line, docs_line, NULL};
    uint8_t id[TQ_JOURNAL_ID_LEN];
    const char *path = path_in("stamps.tqj");
    write_journal(path, lines, id);
    tq_explain_officer_list o;
    cr_assert_eq(tq_explain_officers(path, NO, &o, id), TQ_OK);
    cr_assert_eq(o.n, 5);
    /* seq, declared before, final_ev, final_seq */
    const struct { uint64_t seq; int declared; int final_ev; uint64_t final_seq; } want[] = {
        {1, 0, 0, 0},
        {3, 1, 0, 0},
        {5, 1, TQ_EV_MANUAL_CLEAR, 4},
        {6, 1, TQ_EV_MANUAL_CLEAR, 4},
        {7, 1, TQ_EV_MANUAL_CLEAR, 4},
    };
    for (size_t i = 0; i < 5; i++) {
        cr_expect_eq(o.v[i].seq, want[i].seq, "result %zu: seq", i);
        cr_expect_eq(o.v[i].declared_before, want[i].declared, "result %zu (seq %llu): declared_before",
                     i, (unsigned long long)want[i].seq);
        cr_expect_eq(o.v[i].final_ev, want[i].final_ev, "result %zu (seq %llu): final_ev", i,
                     (unsigned long long)want[i].seq);
        cr_expect_eq(o.v[i].final_seq, want[i].final_seq, "result %zu (seq %llu): final_seq", i,
                     (unsigned long long)want[i].seq);
    }
    cr_expect_eq(o.v[4].result, TQ_OFFICER_DOCS_OK);
    cr_expect_eq(o.v[3].result, TQ_OFFICER_REJECT);
    cr_expect_str_eq(o.v[3].officer, "HQ-3");
}

/* A declaration stored before format 3 (no office) takes office, kind and line values
 * from the first journal holding its DECL; one with an office is left alone. */
Test(explain, journals_backfill_from_the_first_journal_with_the_decl)
{
    uint8_t id[TQ_JOURNAL_ID_LEN];
    const char *none[] = {docs_line, NULL};
    const char *with[] = {decl_line, NULL};
    char *p0 = strdup(path_in("a.tqj")), *p1 = strdup(path_in("b.tqj"));
    write_journal(p0, none, id);
    write_journal(p1, with, id);
    const char *paths[] = {path_in("missing.tqj"), p0, p1};
    tq_explain *x = tq_explain_new();
    cr_assert_not_null(x);
    x->decl = tq_test_decl(NO, NULL, "0101234567", TQ_STATE_HELD);
    tq_explain_journals jv;
    tq_explain_journals_init(&jv, paths, 3);
    tq_explain_journals_backfill(&jv, x);
    cr_expect_eq(jv.src_j, 2);
    cr_expect_eq(jv.src.decl_seq, 1);
    cr_expect_eq(jv.src.values, 1);
    cr_expect_str_eq(x->decl.office, "01B1");
    cr_expect_eq(x->decl.lines[0].value, 777);

    x->decl = tq_test_decl(NO, "02C2", "0101234567", TQ_STATE_HELD);
    tq_explain_journals_init(&jv, paths, 3);
    tq_explain_journals_backfill(&jv, x);
    cr_expect_eq(jv.src_j, -1);
    cr_expect_str_eq(x->decl.office, "02C2");
    tq_explain_journals_release(&jv);
    tq_explain_free(x);
    free(p0);
    free(p1);
}

#define payment tq_test_pay

/* The declaration's payments only, in receipt order; then the words for an unknown
 * declaration list them, text and JSON. */
Test(explain, payments_of_one_declaration_and_their_words)
{
    tq_store *s = tq_test_open(path_in("db"), TQ_STORE_WRITE);
    tq_txn *t = tq_test_begin(s, 0);
    tq_payment p[] = {payment(NO, "KB-2", 2500000), payment("100000000012", "KB-1", 1),
                      payment(NO, "KB-0", 1000)};
    for (size_t i = 0; i < 3; i++)
        cr_assert_eq(tq_store_add_payment(t, &p[i], NULL, NULL), TQ_OK);
    cr_assert_eq(tq_txn_commit(t), TQ_OK);
    t = tq_test_begin(s, 1);
    tq_explain_payment_list l = {0};
    cr_assert_eq(tq_explain_payments(t, NO, &l), TQ_OK);
    cr_assert_eq(l.n, 2);
    cr_expect_str_eq(l.v[0].receipt_no, "KB-0");
    cr_expect_str_eq(l.v[1].receipt_no, "KB-2");

    char *buf = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&buf, &len);
    tq_explain_journals jv;
    tq_explain_journals_init(&jv, NULL, 0);
    tq_explain_text(f, NULL, 0, &l, &jv, NO);
    tq_json w;
    tq_json_init(&w, f);
    tq_json_begin_object(&w);
    tq_explain_json_head(&w, NULL, 0, &l, &jv, NO);
    tq_json_end_object(&w);
    fclose(f);
    cr_expect_str_eq(buf, "payments for " NO ", a declaration not in the database:\n"
                          "  KB-0                 PAY                 1,000 đồng\n"
                          "  KB-2                 PAY             2,500,000 đồng\n"
                          "{\"decl_no\":\"" NO "\",\"known\":false,\"payments\":["
                          "{\"receipt_no\":\"KB-0\",\"kind\":\"PAY\",\"amount\":1000},"
                          "{\"receipt_no\":\"KB-2\",\"kind\":\"PAY\",\"amount\":2500000}],"
                          "\"skipped_gaps\":{\"total\":0,\"gaps\":[]}}");
    free(buf);
    tq_explain_payment_list_release(&l);
    cr_expect_null(l.v);
    cr_expect_eq(l.n, 0);
    tq_txn_abort(t);
    tq_store_close(s);
}

/* A held declaration's text: the tax it is short of, the verdict now, and an officer
 * result of a journal with why it changed nothing. */
Test(explain, text_of_a_held_declaration)
{
    tq_store *s = tq_test_open(path_in("db"), TQ_STORE_WRITE);
    tq_txn *t = tq_test_begin(s, 0);
    tq_decl d = tq_test_decl(NO, "01B1", "0101234567", TQ_STATE_HELD);
    d.tax_due = 12500000;
    d.reasons = TQ_R_TAX_SHORT;
    d.tax_short = 12500000;
    cr_assert_eq(tq_store_put_decl(t, &d), TQ_OK);
    tq_payment p = payment(NO, "KB-1", 12000000);
    cr_assert_eq(tq_store_add_payment(t, &p, NULL, NULL), TQ_OK);
    cr_assert_eq(tq_txn_commit(t), TQ_OK);
    t = tq_test_begin(s, 1);
    tq_explain *x = tq_explain_new();
    cr_assert_eq(tq_explain_decl(t, NO, x), TQ_OK);
    tq_explain_payment_list l = {0};
    cr_assert_eq(tq_explain_payments(t, NO, &l), TQ_OK);
    view v;
    view_make(&v, 1);
    tq_explain_officer_list o = {.n = 1};
    o.v[0] = docs_ok_at(2);
    snprintf(o.v[0].officer, sizeof o.v[0].officer, "HQ-2");
    v.jv.officers = &o;

    char *buf = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&buf, &len);
    tq_explain_text(f, x, 1, &l, &v.jv, NO);
    fclose(f);
    cr_expect_not_null(strstr(buf, "declaration   " NO "\nstate         HELD, version 0\n"), "%s",
                       buf);
    cr_expect_not_null(strstr(buf, "officer       DOCS_OK at seq 2 of j.tqj (officer HQ-2): "
                                   "not applied yet: this journal is not replayed that far\n"),
                       "%s", buf);
    cr_expect_not_null(strstr(buf, "tax           due 12,500,000 đồng; covered 12,000,000 đồng; "
                                   "short 500,000 đồng\n"),
                       "%s", buf);
    cr_expect_not_null(strstr(buf, "  TAX_SHORT: paid 12,000,000 of 12,500,000 đồng (short "
                                   "500,000 đồng)\n"),
                       "%s", buf);
    cr_expect_not_null(strstr(buf, "verdict now   HELD: TAX_SHORT, as decided\n"), "%s", buf);
    free(buf);
    tq_explain_payment_list_release(&l);
    tq_explain_free(x);
    tq_txn_abort(t);
    tq_store_close(s);
}

static char *history_text(tq_txn *t, const tq_explain *x, const tq_explain_journals *jv,
                          const char *decl_no, int *rc)
{
    char *buf = NULL, *line = malloc(TQ_NDJSON_LINE_MAX);
    size_t len = 0;
    FILE *f = open_memstream(&buf, &len);
    tq_explain_history_out out = {.f = f, .line = line};
    *rc = tq_explain_history_print(&out, t, x, jv, 0, decl_no);
    fclose(f);
    free(line);
    return buf;
}

/* A journal's events for the declaration, then how far it was replayed (or that it was
 * not, or that it holds nothing for the declaration). */
Test(explain, history_of_one_journal)
{
    uint8_t id[TQ_JOURNAL_ID_LEN];
    tq_store *s;
    char *jpath = journal_and_store(id, &s);
    tq_txn *t = tq_test_begin(s, 1);
    const char *paths[] = {jpath};
    tq_explain_journals jv;
    tq_explain_journals_init(&jv, paths, 1);
    tq_explain x;
    memset(&x, 0, sizeof x);
    int rc;
    char *b = history_text(t, &x, &jv, NO, &rc);
    cr_expect_eq(rc, TQ_OK);
    char head[160];
    snprintf(head, sizeof head, "history in %s:\n{\"seq\":1,\"ev\":\"DECL\"", jpath);
    cr_expect_eq(strncmp(b, head, strlen(head)), 0, "%s", b);
    cr_expect_not_null(strstr(b, "\n{\"seq\":3,\"ev\":\"OFFICER\""), "%s", b);
    cr_expect_not_null(strstr(b, "}\n  (this journal has not been replayed into the database)\n"),
                       "%s", b);
    free(b);
    tq_txn_abort(t);

    t = mark_replayed(s, id, 2);
    b = history_text(t, &x, &jv, NO, &rc);
    cr_expect_not_null(strstr(b, "}\n  (this journal is replayed into the database through seq "
                                 "2)\n"),
                       "%s", b);
    free(b);
    b = history_text(t, &x, &jv, "100000000012", &rc);
    snprintf(head, sizeof head,
             "history in %s:\n  (no event for 100000000012)\n  (this journal is replayed "
             "into the database through seq 2)\n",
             jpath);
    cr_expect_str_eq(b, head);
    free(b);
    tq_txn_abort(t);
    tq_store_close(s);
    free(jpath);
}
