/* test_rules.c - Criterion suite for engine/tq_rules.c: SPEC §3 and §7 on plain structs.
 *
 * How: one small test per behaviour, named for it, built from a few helpers that make a
 * DECL event, a permit fact and a cover; no database and no parser is involved (dates
 * are turned into day numbers here with a civil-calendar formula, independently of
 * formats/tq_time.c).  The hand-written conformance cases (conformance/cases/INDEX.md)
 * are re-expressed case by case.  Two property tests close the suite: random
 * declarations checked against a naive 128-bit reference model, and random event
 * streams checked for the state-machine invariants (final is absorbing, version counts
 * the AMENDs applied).
 *
 * Build: cc -std=c11 -Iformats -Iengine engine/tq_rules.c tests/test_rules.c -lcriterion
 */
#include <criterion/criterion.h>
#include <stdint.h>
#include <string.h>

#include "tq_rules.h"

/* ---- helpers ------------------------------------------------------------------------ */

#define DECLARANT "0101234567"
#define OTHER_TAXID "0309876543"

/* Days since 1970-01-01 of a proleptic Gregorian date (H. Hinnant's days_from_civil). */
static int32_t day(int y, int m, int d)
{
    y -= m <= 2;
    const int era = (y >= 0 ? y : y - 399) / 400;
    const int yoe = y - era * 400;
    const int doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
    const int doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    return (int32_t)(era * 146097 + doe - 719468);
}

/* The instant of a local time with an offset in minutes east of UTC. */
static tq_instant at(int y, int mo, int d, int h, int mi, int s, int off_min)
{
    tq_instant t;
    t.sec = (int64_t)day(y, mo, d) * 86400 + h * 3600 + mi * 60 + s - off_min * 60;
    t.nsec = 0;
    return t;
}

static void add_line(tq_event *ev, const char *hs, uint64_t qty, const char *permit)
{
    tq_line *l = &ev->lines[ev->nlines++];
    strcpy(l->hs, hs);
    strcpy(l->permit, permit ? permit : "");
    l->qty = qty;
    l->value = 1000000;
}

/* A DECL registered 2024-08-06T09:15:00+07:00 by DECLARANT, with no lines yet. */
static tq_event decl_event(int channel, uint64_t tax_due)
{
    tq_event ev;
    memset(&ev, 0, sizeof ev);
    ev.ev = TQ_EV_DECL;
    ev.has = TQ_HAS_TAX_DUE | TQ_HAS_LINES;
    ev.channel = (uint8_t)channel;
    strcpy(ev.decl_no, "100000000001");
    strcpy(ev.kind, "A11");
    strcpy(ev.office, "01B1");
    strcpy(ev.declarant, DECLARANT);
    strcpy(ev.registered_at, "2024-08-06T09:15:00+07:00");
    ev.registered = at(2024, 8, 6, 9, 15, 0, 420);
    ev.tax_due = tax_due;
    return ev;
}

static tq_event simple_event(int kind, int result)
{
    tq_event ev;
    memset(&ev, 0, sizeof ev);
    ev.ev = (uint8_t)kind;
    ev.result = (uint8_t)result;
    strcpy(ev.decl_no, "100000000001");
    if (kind == TQ_EV_OFFICER || kind == TQ_EV_MANUAL_CLEAR)
        strcpy(ev.officer, "HQ01B1-0042");
    return ev;
}

/* An AMEND of the tax alone, to tax_due. */
static tq_event amend_tax(uint64_t tax_due)
{
    tq_event am = simple_event(TQ_EV_AMEND, 0);
    am.has = TQ_HAS_TAX_DUE;
    am.tax_due = tax_due;
    return am;
}

static tq_decl create(const tq_event *ev)
{
    tq_decl d;
    memset(&d, 0xA5, sizeof d); /* begin() must overwrite everything */
    cr_assert_eq(tq_rules_begin(&d, 0, ev), TQ_STEP_EVALUATE);
    return d;
}

/* One line of a declaration: its hs, its qty and the permit it names (NULL: none). */
typedef struct line_spec {
    const char *hs;
    uint64_t qty;
    const char *permit;
} line_spec;

/* declare() - create() of decl_event(channel, tax_due) with the n lines of spec. */
static tq_decl declare(int channel, uint64_t tax_due, size_t n, const line_spec *spec)
{
    tq_event ev = decl_event(channel, tax_due);
    for (size_t i = 0; i < n; i++)
        add_line(&ev, spec[i].hs, spec[i].qty, spec[i].permit);
    return create(&ev);
}

/* DECLARE(channel, tax_due, {hs, qty, permit}, ...) - declare() of the lines listed. */
#define DECLARE(channel, tax_due, ...)                                                     \
    declare(channel, tax_due, sizeof((const line_spec[]){__VA_ARGS__}) / sizeof(line_spec), \
            (const line_spec[]){__VA_ARGS__})

/* A declaration with one line hs 85171300 x qty naming permit (or none). */
static tq_decl decl1(int channel, uint64_t tax_due, const char *permit, uint64_t qty)
{
    tq_event ev = decl_event(channel, tax_due);
    add_line(&ev, "85171300", qty, permit);
    return create(&ev);
}

/* A found, valid permit for DECLARANT, 2024-01-01..2024-12-31, prefixes 8517;8471. */
static tq_permit_fact fact_ok(const char *permit_no, uint64_t quota, uint64_t used)
{
    tq_permit_fact f;
    memset(&f, 0, sizeof f);
    f.found = 1;
    strcpy(f.permit.permit_no, permit_no);
    strcpy(f.permit.agency, "BCT");
    strcpy(f.permit.holder, DECLARANT);
    f.permit.status = TQ_PERMIT_VALID;
    f.permit.valid_from = day(2024, 1, 1);
    f.permit.valid_to = day(2024, 12, 31);
    f.permit.nprefixes = 2;
    strcpy(f.permit.prefixes[0], "8517");
    strcpy(f.permit.prefixes[1], "8471");
    f.permit.quota = quota;
    f.used = used;
    return f;
}

static tq_permit_fact fact_missing(void)
{
    tq_permit_fact f;
    memset(&f, 0, sizeof f);
    return f;
}

static void set_prefixes(tq_permit_fact *f, int n, const char *const *prefixes)
{
    f->permit.nprefixes = (uint8_t)n;
    for (int i = 0; i < n; i++)
        strcpy(f->permit.prefixes[i], prefixes[i]);
}

static tq_cover pay(uint64_t amount)
{
    tq_cover c = {amount, 0, NULL};
    return c;
}

static tq_verdict eval(const tq_decl *d, const tq_cover *c, const tq_permit_fact *f, size_t n,
                       int manual)
{
    tq_verdict v;
    memset(&v, 0x5A, sizeof v); /* evaluate() must set every field it reports */
    tq_rules_evaluate(d, c, f, n, manual, &v);
    return v;
}

static const char *fmt(uint32_t reasons)
{
    static char buf[160];
    tq_reasons_format(reasons, buf, sizeof buf);
    return buf;
}

/* ---- begin: DECL ------------------------------------------------------------------- */

Test(rules, decl_creates_pending_version0_and_asks_to_evaluate)
{
    tq_event ev = decl_event(2, 12500000);
    add_line(&ev, "85171300", 100, "GCN-2024-000123");
    tq_decl d = create(&ev);
    cr_assert_str_eq(d.decl_no, "100000000001");
    cr_assert_str_eq(d.declarant, DECLARANT);
    cr_assert_eq(d.state, TQ_STATE_PENDING);
    cr_assert_eq(d.channel, 2);
    cr_assert_eq(d.version, 0);
    cr_assert_eq(d.officer, 0);
    cr_assert_eq(d.manual, 0);
    cr_assert_eq(d.reasons, 0);
    cr_assert_eq(d.tax_short, 0);
    cr_assert_eq(d.tax_due, 12500000);
    cr_assert_eq(d.registered.sec, ev.registered.sec);
    cr_assert_eq(d.reg_day, day(2024, 8, 6));
}

Test(rules, decl_copies_lines_hs_permit_qty)
{
    tq_decl d = DECLARE(1, 0, {"85171300", 100, "GCN-2024-000123"}, {"39269099", 5, NULL});
    cr_assert_eq(d.nlines, 2);
    cr_assert_str_eq(d.lines[0].hs, "85171300");
    cr_assert_str_eq(d.lines[0].permit, "GCN-2024-000123");
    cr_assert_eq(d.lines[0].qty, 100);
    cr_assert_str_eq(d.lines[1].hs, "39269099");
    cr_assert_str_eq(d.lines[1].permit, "");
    cr_assert_eq(d.lines[1].qty, 5);
}

Test(rules, decl_keeps_kind_office_and_each_line_value)
{
    tq_event ev = decl_event(1, 0);
    add_line(&ev, "85171300", 100, "GCN-2024-000123");
    add_line(&ev, "39269099", 5, NULL);
    ev.lines[0].value = 987654321;
    ev.lines[1].value = TQ_MONEY_MAX;
    tq_decl d = create(&ev);
    cr_assert_str_eq(d.kind, "A11");
    cr_assert_str_eq(d.office, "01B1");
    cr_assert_eq(d.lines[0].value, 987654321);
    cr_assert_eq(d.lines[1].value, TQ_MONEY_MAX);
    cr_assert_eq(d.lines[2].value, 0, "unused lines stay zero");
    uint8_t zero[16] = {0};
    cr_assert_eq(memcmp(d.src_id, zero, sizeof zero), 0, "the source is the caller's");
    cr_assert_eq(d.src_seq, 0);
}

Test(rules, amend_keeps_kind_and_office_and_replaces_line_values)
{
    tq_event ev = decl_event(1, 1000);
    add_line(&ev, "85171300", 10, NULL);
    ev.lines[0].value = 111;
    tq_decl d = create(&ev);
    tq_event am = amend_tax(5);
    cr_assert_eq(tq_rules_begin(&d, 1, &am), TQ_STEP_EVALUATE);
    cr_assert_eq(d.lines[0].value, 111, "an AMEND without lines keeps the values");
    am.has = TQ_HAS_LINES;
    add_line(&am, "39269099", 1, NULL);
    add_line(&am, "39269099", 2, NULL);
    am.lines[0].value = 222;
    am.lines[1].value = 0;
    cr_assert_eq(tq_rules_begin(&d, 1, &am), TQ_STEP_EVALUATE);
    cr_assert_eq(d.nlines, 2);
    cr_assert_eq(d.lines[0].value, 222);
    cr_assert_eq(d.lines[1].value, 0);
    cr_assert_str_eq(d.kind, "A11");
    cr_assert_str_eq(d.office, "01B1");
}

Test(rules, decl_kind_and_office_fill_their_arrays_and_no_more)
{
    tq_event ev = decl_event(1, 0);
    add_line(&ev, "85171300", 1, NULL);
    strcpy(ev.kind, "B1");  /* shorter than its array: the rest must be zero */
    strcpy(ev.office, "XY");
    tq_decl d = create(&ev);
    cr_assert_str_eq(d.kind, "B1");
    cr_assert_eq(d.kind[3], 0);
    cr_assert_str_eq(d.office, "XY");
    cr_assert_eq(d.office[3], 0);
    cr_assert_eq(d.office[4], 0);
}

Test(rules, decl_gives_the_same_bytes_whatever_the_buffer_held)
{
    tq_event ev = decl_event(1, 7);
    add_line(&ev, "85171300", 1, "P-1");
    tq_decl a, b;
    memset(&a, 0x00, sizeof a);
    memset(&b, 0xFF, sizeof b);
    cr_assert_eq(tq_rules_begin(&a, 0, &ev), TQ_STEP_EVALUATE);
    cr_assert_eq(tq_rules_begin(&b, 0, &ev), TQ_STEP_EVALUATE);
    cr_assert_eq(memcmp(&a, &b, sizeof a), 0, "stored bytes must not depend on garbage");
}

Test(rules, decl_keeps_all_fifty_lines)
{
    tq_event ev = decl_event(1, 0);
    for (int i = 0; i < TQ_LINES_MAX; i++)
        add_line(&ev, "85171300", (uint64_t)i + 1, i % 2 ? "P-ODD" : NULL);
    tq_decl d = create(&ev);
    cr_assert_eq(d.nlines, TQ_LINES_MAX);
    cr_assert_eq(d.lines[49].qty, 50);
    cr_assert_str_eq(d.lines[49].permit, "P-ODD");
}

Test(rules, duplicate_decl_changes_nothing)
{
    tq_decl d = decl1(2, 1000, "P-1", 10);
    d.state = TQ_STATE_HELD;
    d.reasons = TQ_R_TAX_SHORT;
    d.tax_short = 1000;
    tq_decl before = d;
    tq_event again = decl_event(1, 0);
    add_line(&again, "39269099", 99, NULL);
    cr_assert_eq(tq_rules_begin(&d, 1, &again), TQ_STEP_DUPLICATE);
    cr_assert_eq(memcmp(&d, &before, sizeof d), 0);
}

Test(rules, duplicate_decl_on_final_is_reported_as_duplicate)
{
    tq_decl d = decl1(1, 0, NULL, 10);
    d.state = TQ_STATE_CLEARED;
    tq_decl before = d;
    tq_event again = decl_event(1, 0);
    add_line(&again, "85171300", 10, NULL);
    cr_assert_eq(tq_rules_begin(&d, 1, &again), TQ_STEP_DUPLICATE);
    cr_assert_eq(memcmp(&d, &before, sizeof d), 0);
}

/* ---- begin: registration day (UTC+07:00) ------------------------------------------- */

static int32_t reg_day_of(tq_instant t)
{
    tq_event ev = decl_event(1, 0);
    add_line(&ev, "85171300", 1, NULL);
    ev.registered = t;
    tq_decl d = create(&ev);
    return d.reg_day;
}

Test(rules, reg_day_turns_at_17z)
{
    cr_assert_eq(reg_day_of(at(2024, 8, 5, 16, 59, 59, 0)), day(2024, 8, 5));
    cr_assert_eq(reg_day_of(at(2024, 8, 5, 17, 0, 0, 0)), day(2024, 8, 6));
}

Test(rules, reg_day_of_a_negative_offset_timestamp)
{
    /* 2024-08-06T20:30:00-05:00 is 2024-08-07T01:30Z, 08:30 on the 7th in Vietnam */
    cr_assert_eq(reg_day_of(at(2024, 8, 6, 20, 30, 0, -300)), day(2024, 8, 7));
    /* 2024-08-06T11:59:59-05:00 is 16:59:59Z, still the 6th in Vietnam */
    cr_assert_eq(reg_day_of(at(2024, 8, 6, 11, 59, 59, -300)), day(2024, 8, 6));
}

Test(rules, reg_day_ignores_fractional_seconds)
{
    tq_instant t = at(2024, 8, 5, 16, 59, 59, 0);
    t.nsec = 999999999;
    cr_assert_eq(reg_day_of(t), day(2024, 8, 5));
}

Test(rules, reg_day_floors_before_1970)
{
    cr_assert_eq(reg_day_of(at(1969, 12, 31, 16, 59, 59, 0)), -1);
    cr_assert_eq(reg_day_of(at(1969, 12, 31, 17, 0, 0, 0)), 0);
    cr_assert_eq(reg_day_of(at(1969, 12, 31, 23, 59, 59, 420)), -1);
    cr_assert_eq(reg_day_of(at(1, 1, 1, 0, 0, 0, 420)), day(1, 1, 1));
    cr_assert_eq(reg_day_of(at(9999, 12, 31, 23, 59, 59, 420)), day(9999, 12, 31));
}

Test(rules, reg_day_decides_guarantee_and_permit_windows)
{
    /* registered 2024-07-31T20:00:00-05:00 = 2024-08-01 08:00 in Vietnam */
    tq_event ev = decl_event(1, 100);
    ev.registered = at(2024, 7, 31, 20, 0, 0, -300);
    add_line(&ev, "85171300", 1, "PW-1");
    tq_decl d = create(&ev);
    tq_permit_fact f = fact_ok("PW-1", 0, 0);
    f.permit.valid_from = day(2024, 8, 1);
    tq_guarantee g = {day(2024, 8, 1), 100};
    tq_cover c = {0, 1, &g};
    tq_verdict v = eval(&d, &c, &f, 1, 0);
    cr_assert_eq(v.reasons, 0, "got %s", fmt(v.reasons));
}

/* ---- begin: other events ----------------------------------------------------------- */

Test(rules, events_for_an_unknown_decl_are_ignored)
{
    const int kinds[][2] = {{TQ_EV_AMEND, 0},
                            {TQ_EV_OFFICER, TQ_OFFICER_DOCS_OK},
                            {TQ_EV_OFFICER, TQ_OFFICER_REJECT},
                            {TQ_EV_MANUAL_CLEAR, 0},
                            {TQ_EV_CANCEL, 0}};
    for (size_t i = 0; i < sizeof kinds / sizeof kinds[0]; i++) {
        tq_decl d, before;
        memset(&d, 0x33, sizeof d);
        before = d;
        tq_event ev = simple_event(kinds[i][0], kinds[i][1]);
        ev.has = TQ_HAS_TAX_DUE;
        cr_assert_eq(tq_rules_begin(&d, 0, &ev), TQ_STEP_UNKNOWN, "kind %d", kinds[i][0]);
        cr_assert_eq(memcmp(&d, &before, sizeof d), 0);
    }
}

Test(rules, officer_before_its_decl_does_not_count_later)
{
    tq_decl d;
    memset(&d, 0, sizeof d);
    tq_event ok = simple_event(TQ_EV_OFFICER, TQ_OFFICER_DOCS_OK);
    cr_assert_eq(tq_rules_begin(&d, 0, &ok), TQ_STEP_UNKNOWN);
    d = decl1(2, 0, NULL, 10);
    cr_assert_eq(d.officer, 0);
    tq_cover c = pay(0);
    cr_assert_eq(eval(&d, &c, NULL, 0, 0).reasons, TQ_R_AWAIT_OFFICER);
}

Test(rules, amend_tax_replaces_it_bumps_version_and_keeps_lines)
{
    tq_decl d = decl1(1, 1000, "P-1", 10);
    tq_event am = amend_tax(1300);
    cr_assert_eq(tq_rules_begin(&d, 1, &am), TQ_STEP_EVALUATE);
    cr_assert_eq(d.tax_due, 1300);
    cr_assert_eq(d.version, 1);
    cr_assert_eq(d.nlines, 1);
    cr_assert_str_eq(d.lines[0].permit, "P-1");
    cr_assert_eq(tq_rules_begin(&d, 1, &am), TQ_STEP_EVALUATE);
    cr_assert_eq(d.version, 2);
}

Test(rules, amend_lines_replaces_the_whole_list_and_keeps_tax)
{
    tq_decl d = DECLARE(1, 1000, {"85171300", 10, "MISSING-X"}, {"84713020", 20, "OTHER"});
    tq_event am = simple_event(TQ_EV_AMEND, 0);
    am.has = TQ_HAS_LINES;
    am.tax_due = 5; /* not flagged: must not be taken */
    add_line(&am, "39269099", 1, NULL);
    cr_assert_eq(tq_rules_begin(&d, 1, &am), TQ_STEP_EVALUATE);
    cr_assert_eq(d.tax_due, 1000);
    cr_assert_eq(d.version, 1);
    cr_assert_eq(d.nlines, 1);
    cr_assert_str_eq(d.lines[0].hs, "39269099");
    cr_assert_str_eq(d.lines[0].permit, "");
    cr_assert_str_eq(d.lines[1].permit, "", "old lines must not linger");
    const char *names[TQ_LINES_MAX];
    cr_assert_eq(tq_rules_permits(&d, names), 0);
}

Test(rules, amend_keeps_officer_results)
{
    tq_decl d = decl1(3, 0, NULL, 10);
    tq_event ok = simple_event(TQ_EV_OFFICER, TQ_OFFICER_INSPECT_OK);
    cr_assert_eq(tq_rules_begin(&d, 1, &ok), TQ_STEP_EVALUATE);
    tq_event am = simple_event(TQ_EV_AMEND, 0);
    am.has = TQ_HAS_TAX_DUE | TQ_HAS_LINES;
    am.tax_due = 0;
    add_line(&am, "85171300", 3, NULL);
    cr_assert_eq(tq_rules_begin(&d, 1, &am), TQ_STEP_EVALUATE);
    cr_assert_eq(d.officer, TQ_SEEN_INSPECT_OK);
    tq_cover c = pay(0);
    cr_assert_eq(eval(&d, &c, NULL, 0, 0).reasons, 0);
}

Test(rules, amend_on_held_keeps_it_non_final_until_settled)
{
    tq_decl d = decl1(1, 1000, NULL, 10);
    d.state = TQ_STATE_HELD;
    d.reasons = TQ_R_TAX_SHORT;
    tq_event am = amend_tax(0);
    cr_assert_eq(tq_rules_begin(&d, 1, &am), TQ_STEP_EVALUATE);
    cr_assert_eq(d.state, TQ_STATE_HELD);
}

Test(rules, officer_docs_ok_and_inspect_ok_set_their_bits)
{
    tq_decl d = decl1(2, 0, NULL, 10);
    tq_event docs = simple_event(TQ_EV_OFFICER, TQ_OFFICER_DOCS_OK);
    tq_event insp = simple_event(TQ_EV_OFFICER, TQ_OFFICER_INSPECT_OK);
    cr_assert_eq(tq_rules_begin(&d, 1, &docs), TQ_STEP_EVALUATE);
    cr_assert_eq(d.officer, TQ_SEEN_DOCS_OK);
    cr_assert_eq(tq_rules_begin(&d, 1, &insp), TQ_STEP_EVALUATE);
    cr_assert_eq(d.officer, TQ_SEEN_DOCS_OK | TQ_SEEN_INSPECT_OK);
    cr_assert_eq(d.version, 0, "officer results are not amendments");
}

Test(rules, officer_reject_rejects_with_empty_reasons_and_kept_version)
{
    tq_decl d = decl1(1, 1000, NULL, 10);
    d.state = TQ_STATE_HELD;
    d.version = 3;
    d.reasons = TQ_R_TAX_SHORT;
    d.tax_short = 1000;
    tq_event rej = simple_event(TQ_EV_OFFICER, TQ_OFFICER_REJECT);
    cr_assert_eq(tq_rules_begin(&d, 1, &rej), TQ_STEP_DONE);
    cr_assert_eq(d.state, TQ_STATE_REJECTED);
    cr_assert_eq(d.reasons, 0);
    cr_assert_eq(d.tax_short, 0);
    cr_assert_eq(d.version, 3);
    cr_assert_eq(d.manual, 0);
}

Test(rules, cancel_cancels_with_empty_reasons_and_kept_version)
{
    tq_decl d = decl1(1, 1000, NULL, 10);
    d.state = TQ_STATE_HELD;
    d.version = 2;
    d.reasons = TQ_R_TAX_SHORT | TQ_R_AWAIT_OFFICER;
    d.tax_short = 500;
    tq_event c = simple_event(TQ_EV_CANCEL, 0);
    cr_assert_eq(tq_rules_begin(&d, 1, &c), TQ_STEP_DONE);
    cr_assert_eq(d.state, TQ_STATE_CANCELLED);
    cr_assert_eq(d.reasons, 0);
    cr_assert_eq(d.tax_short, 0);
    cr_assert_eq(d.version, 2);
}

Test(rules, cancel_of_a_pending_declaration_cancels)
{
    tq_decl d = decl1(1, 0, NULL, 10);
    tq_event c = simple_event(TQ_EV_CANCEL, 0);
    cr_assert_eq(tq_rules_begin(&d, 1, &c), TQ_STEP_DONE);
    cr_assert_eq(d.state, TQ_STATE_CANCELLED);
}

Test(rules, manual_clear_asks_for_manual_evaluation_and_changes_nothing_yet)
{
    tq_decl d = decl1(3, 1000, NULL, 10);
    d.state = TQ_STATE_HELD;
    tq_decl before = d;
    tq_event m = simple_event(TQ_EV_MANUAL_CLEAR, 0);
    cr_assert_eq(tq_rules_begin(&d, 1, &m), TQ_STEP_EVALUATE_MANUAL);
    cr_assert_eq(memcmp(&d, &before, sizeof d), 0);
}

Test(rules, final_states_ignore_every_later_event)
{
    const uint8_t finals[] = {TQ_STATE_CLEARED, TQ_STATE_REJECTED, TQ_STATE_CANCELLED};
    const int kinds[][2] = {{TQ_EV_AMEND, 0},
                            {TQ_EV_OFFICER, TQ_OFFICER_DOCS_OK},
                            {TQ_EV_OFFICER, TQ_OFFICER_INSPECT_OK},
                            {TQ_EV_OFFICER, TQ_OFFICER_REJECT},
                            {TQ_EV_MANUAL_CLEAR, 0},
                            {TQ_EV_CANCEL, 0}};
    for (size_t s = 0; s < sizeof finals; s++) {
        for (size_t k = 0; k < sizeof kinds / sizeof kinds[0]; k++) {
            tq_decl d = decl1(2, 1000, NULL, 10);
            d.state = finals[s];
            d.manual = finals[s] == TQ_STATE_CLEARED;
            d.reasons = d.manual ? TQ_R_TAX_SHORT : 0;
            d.tax_short = d.manual ? 1000 : 0;
            tq_decl before = d;
            tq_event ev = simple_event(kinds[k][0], kinds[k][1]);
            ev.has = TQ_HAS_TAX_DUE;
            ev.tax_due = 0;
            cr_assert_eq(tq_rules_begin(&d, 1, &ev), TQ_STEP_IGNORED_FINAL,
                         "state %s, kind %d", tq_state_name(finals[s]), kinds[k][0]);
            cr_assert_eq(memcmp(&d, &before, sizeof d), 0, "state %s, kind %d changed it",
                         tq_state_name(finals[s]), kinds[k][0]);
        }
    }
}

Test(rules, amend_after_clear_does_not_bump_version)
{
    tq_decl d = decl1(1, 0, NULL, 10);
    d.state = TQ_STATE_CLEARED;
    tq_event am = amend_tax(99);
    cr_assert_eq(tq_rules_begin(&d, 1, &am), TQ_STEP_IGNORED_FINAL);
    cr_assert_eq(d.version, 0);
    cr_assert_eq(d.tax_due, 0);
}

Test(rules, invalid_kind_or_result_changes_nothing)
{
    tq_decl d = decl1(1, 0, NULL, 10);
    tq_decl before = d;
    tq_event bad = simple_event(99, 0);
    cr_assert_eq(tq_rules_begin(&d, 1, &bad), TQ_STEP_UNKNOWN);
    tq_event badres = simple_event(TQ_EV_OFFICER, 42);
    cr_assert_eq(tq_rules_begin(&d, 1, &badres), TQ_STEP_UNKNOWN);
    cr_assert_eq(memcmp(&d, &before, sizeof d), 0);
}

/* ---- permits ------------------------------------------------------------------------ */

Test(rules, permits_are_distinct_in_order_of_first_appearance)
{
    tq_decl d = DECLARE(1, 0, {"85171300", 1, "B"}, {"85171300", 1, NULL}, {"85171300", 1, "A"},
                        {"85171300", 1, "B"}, {"85171300", 1, "C"}, {"85171300", 1, "A"});
    const char *names[TQ_LINES_MAX];
    size_t n = tq_rules_permits(&d, names);
    cr_assert_eq(n, 3);
    cr_assert_str_eq(names[0], "B");
    cr_assert_str_eq(names[1], "A");
    cr_assert_str_eq(names[2], "C");
    cr_assert(names[0] == d.lines[0].permit, "names point into d");
}

Test(rules, permits_of_a_declaration_without_permits_is_empty)
{
    tq_decl d = decl1(1, 0, NULL, 10);
    const char *names[TQ_LINES_MAX];
    cr_assert_eq(tq_rules_permits(&d, names), 0);
}

Test(rules, permits_compare_names_exactly)
{
    tq_decl d = DECLARE(1, 0, {"85171300", 1, "gp-1"}, {"85171300", 1, "GP-1"},
                        {"85171300", 1, "GP-10"});
    const char *names[TQ_LINES_MAX];
    cr_assert_eq(tq_rules_permits(&d, names), 3);
}

/* ---- evaluate: tax ------------------------------------------------------------------ */

/* A declaration of tax_due on channel 1 (one line, no permit) under a cover of pay and
 * ng guarantees (no cover at all where !cover), evaluated (manual or not): what the
 * cover counts on its registration day and what evaluate() decides. */
Test(rules, tax_against_the_cover)
{
    const int32_t reg = day(2024, 8, 6);
    const struct {
        const char *what;
        uint64_t tax_due;
        int cover;
        uint64_t pay;
        uint32_t ng;
        tq_guarantee g[3];
        int manual;
        uint64_t covered;
        uint32_t reasons;
        uint64_t tax_short;
        int consume; /* -1: not checked */
    } cases[] = {
        {"an exact payment clears", 12500000, 1, 12500000, 0, {{0}}, 0, 12500000, 0, 0, 1},
        {"a partial payment is short by the difference", 1000000, 1, 250000, 0, {{0}}, 0,
         250000, TQ_R_TAX_SHORT, 750000, 0},
        {"an overpayment clears with no short", 1000, 1, 5000, 0, {{0}}, 0, 5000, 0, 0, -1},
        {"tax 0 without a cover clears", 0, 0, 0, 0, {{0}}, 0, 0, 0, 0, -1},
        {"tax 0 with a payment of 0 clears", 0, 1, 0, 0, {{0}}, 0, 0, 0, 0, -1},
        {"no cover at all is short by all the tax", 1000, 0, 0, 0, {{0}}, 0, 0, TQ_R_TAX_SHORT,
         1000, -1},
        {"a guarantee counts on its last day", 1000, 1, 0, 1, {{reg, 1000}}, 0, 1000, 0, 0, -1},
        {"a guarantee counts when it ends later", 1000, 1, 0, 1, {{reg + 1, 1000}}, 0, 1000, 0,
         0, -1},
        {"a guarantee ended the day before does not count", 1000, 1, 0, 1, {{reg - 1, 1000}}, 0,
         0, TQ_R_TAX_SHORT, 1000, -1},
        {"pay and the valid guarantees add up", 1000, 1, 400, 3,
         {{reg, 300}, {day(2024, 8, 1), 5000}, {day(2025, 1, 1), 200}}, 0, 900, TQ_R_TAX_SHORT,
         100, -1},
        {"a manual clearance keeps tax short as a discrepancy", 1000000, 1, 250000, 0, {{0}}, 1,
         250000, TQ_R_TAX_SHORT, 750000, 1},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        const char *what = cases[i].what;
        tq_decl d = decl1(1, cases[i].tax_due, NULL, 10);
        cr_assert_eq(d.reg_day, reg, "%s", what);
        tq_cover c = {cases[i].pay, cases[i].ng, cases[i].g};
        const tq_cover *cover = cases[i].cover ? &c : NULL;
        cr_assert_eq(tq_rules_covered(cover, reg), cases[i].covered, "%s: covered", what);
        tq_verdict v = eval(&d, cover, NULL, 0, cases[i].manual);
        cr_assert_eq(v.reasons, cases[i].reasons, "%s: got %s", what, fmt(v.reasons));
        cr_assert_eq(v.tax_short, cases[i].tax_short, "%s: tax_short", what);
        cr_assert_eq(v.manual, cases[i].manual, "%s: manual", what);
        if (cases[i].consume >= 0)
            cr_assert_eq(v.consume, cases[i].consume, "%s: consume", what);
    }
}

Test(rules, covered_saturates_instead_of_wrapping)
{
    tq_guarantee g[2] = {{100, UINT64_MAX - 5}, {100, 10}};
    tq_cover c = {UINT64_MAX / 2, 2, g};
    cr_assert_eq(tq_rules_covered(&c, 100), UINT64_MAX);
    cr_assert_eq(tq_rules_covered(&c, 101), UINT64_MAX / 2);
    cr_assert_eq(tq_rules_covered(NULL, 0), 0);
}

Test(rules, pay_without_date_is_not_a_guarantee)
{
    /* a PAY row's TQ_NO_DATE must never be mistaken for a guarantee date */
    tq_guarantee g = {TQ_NO_DATE, 1000};
    tq_cover c = {0, 1, &g};
    cr_assert_eq(tq_rules_covered(&c, day(2024, 8, 6)), 0);
    cr_assert_eq(tq_rules_covered(&c, day(1, 1, 1)), 0);
}

/* ---- evaluate: permits -------------------------------------------------------------- */

Test(rules, valid_unlimited_permit_clears)
{
    tq_decl d = decl1(1, 0, "GCN-2024-000123", 100);
    tq_permit_fact f = fact_ok("GCN-2024-000123", 0, 0);
    tq_verdict v = eval(&d, NULL, &f, 1, 0);
    cr_assert_eq(v.reasons, 0, "got %s", fmt(v.reasons));
}

Test(rules, permit_missing)
{
    tq_decl d = decl1(1, 0, "NOPE-9", 10);
    tq_permit_fact f = fact_missing();
    cr_assert_eq(eval(&d, NULL, &f, 1, 0).reasons, TQ_R_PERMIT_MISSING);
}

Test(rules, one_missing_permit_among_good_ones_is_enough)
{
    tq_decl d = DECLARE(1, 0, {"85171300", 1, "G-1"}, {"85171300", 1, "NOPE"},
                        {"84713020", 1, "G-2"});
    tq_permit_fact f[3] = {fact_ok("G-1", 0, 0), fact_missing(), fact_ok("G-2", 0, 0)};
    cr_assert_eq(eval(&d, NULL, f, 3, 0).reasons, TQ_R_PERMIT_MISSING);
}

Test(rules, missing_permit_is_not_checked_further)
{
    /* a not-found fact's permit fields are garbage and must not be read */
    tq_decl d = decl1(1, 0, "NOPE", 10);
    tq_permit_fact f;
    memset(&f, 0xEE, sizeof f);
    f.found = 0;
    cr_assert_eq(eval(&d, NULL, &f, 1, 0).reasons, TQ_R_PERMIT_MISSING);
}

Test(rules, fewer_facts_than_permits_counts_as_missing)
{
    tq_decl d = decl1(1, 0, "P-1", 10);
    cr_assert_eq(eval(&d, NULL, NULL, 0, 0).reasons, TQ_R_PERMIT_MISSING);
}

Test(rules, permit_revoked)
{
    tq_decl d = decl1(1, 0, "R-1", 10);
    tq_permit_fact f = fact_ok("R-1", 0, 0);
    f.permit.status = TQ_PERMIT_REVOKED;
    cr_assert_eq(eval(&d, NULL, &f, 1, 0).reasons, TQ_R_PERMIT_REVOKED);
}

Test(rules, permit_window_includes_both_ends)
{
    tq_decl d = decl1(1, 0, "PW-1", 10);
    tq_permit_fact f = fact_ok("PW-1", 0, 0);
    f.permit.valid_from = d.reg_day;
    f.permit.valid_to = d.reg_day;
    cr_assert_eq(eval(&d, NULL, &f, 1, 0).reasons, 0);
}

Test(rules, permit_expired_when_registered_before_valid_from)
{
    tq_decl d = decl1(1, 0, "PW-1", 10);
    tq_permit_fact f = fact_ok("PW-1", 0, 0);
    f.permit.valid_from = d.reg_day + 1;
    cr_assert_eq(eval(&d, NULL, &f, 1, 0).reasons, TQ_R_PERMIT_EXPIRED);
}

Test(rules, permit_expired_when_registered_after_valid_to)
{
    tq_decl d = decl1(1, 0, "PW-1", 10);
    tq_permit_fact f = fact_ok("PW-1", 0, 0);
    f.permit.valid_to = d.reg_day - 1;
    cr_assert_eq(eval(&d, NULL, &f, 1, 0).reasons, TQ_R_PERMIT_EXPIRED);
}

Test(rules, permit_window_judged_on_vietnam_date_at_midnight)
{
    /* the conformance window case: 2024-08-01T00:00:00+07:00 and 08-31T23:59:59 are in */
    const tq_instant in[] = {at(2024, 8, 1, 0, 0, 0, 420), at(2024, 8, 31, 23, 59, 59, 420)};
    const tq_instant out[] = {at(2024, 7, 31, 23, 59, 59, 420), at(2024, 9, 1, 0, 0, 0, 420)};
    tq_permit_fact f = fact_ok("PW-1", 0, 0);
    f.permit.valid_from = day(2024, 8, 1);
    f.permit.valid_to = day(2024, 8, 31);
    for (int i = 0; i < 2; i++) {
        tq_event ev = decl_event(1, 0);
        add_line(&ev, "85171300", 10, "PW-1");
        ev.registered = in[i];
        tq_decl d = create(&ev);
        cr_assert_eq(eval(&d, NULL, &f, 1, 0).reasons, 0, "in[%d]", i);
        ev.registered = out[i];
        d = create(&ev);
        cr_assert_eq(eval(&d, NULL, &f, 1, 0).reasons, TQ_R_PERMIT_EXPIRED, "out[%d]", i);
    }
}

Test(rules, permit_holder_differs)
{
    tq_decl d = decl1(1, 0, "H-1", 10);
    tq_permit_fact f = fact_ok("H-1", 0, 0);
    strcpy(f.permit.holder, OTHER_TAXID);
    cr_assert_eq(eval(&d, NULL, &f, 1, 0).reasons, TQ_R_PERMIT_HOLDER);
}

Test(rules, permit_holder_13_digits_is_not_the_10_digit_declarant)
{
    tq_decl d = decl1(1, 0, "H-1", 10);
    tq_permit_fact f = fact_ok("H-1", 0, 0);
    strcpy(f.permit.holder, DECLARANT "001");
    cr_assert_eq(eval(&d, NULL, &f, 1, 0).reasons, TQ_R_PERMIT_HOLDER);

    tq_event ev = decl_event(1, 0);
    strcpy(ev.declarant, DECLARANT "001");
    add_line(&ev, "85171300", 10, "H-1");
    d = create(&ev);
    cr_assert_eq(eval(&d, NULL, &f, 1, 0).reasons, 0, "13-digit ids equal");
    strcpy(f.permit.holder, DECLARANT);
    cr_assert_eq(eval(&d, NULL, &f, 1, 0).reasons, TQ_R_PERMIT_HOLDER);
}

Test(rules, hs_matching_any_prefix_passes)
{
    tq_decl d = DECLARE(1, 0, {"85171300", 10, "HSP-1"}, {"84713020", 10, "HSP-1"});
    tq_permit_fact f = fact_ok("HSP-1", 0, 0);
    const char *const pre[] = {"8517", "847130"};
    set_prefixes(&f, 2, pre);
    cr_assert_eq(eval(&d, NULL, &f, 1, 0).reasons, 0);
}

Test(rules, hs_of_any_line_naming_the_permit_outside_its_prefixes)
{
    /* the second line's hs: 8471 but not 847130 */
    tq_decl d = DECLARE(1, 0, {"85171300", 10, "HSP-1"}, {"84714100", 10, "HSP-1"});
    tq_permit_fact f = fact_ok("HSP-1", 0, 0);
    const char *const pre[] = {"8517", "847130"};
    set_prefixes(&f, 2, pre);
    cr_assert_eq(eval(&d, NULL, &f, 1, 0).reasons, TQ_R_PERMIT_HS);
}

Test(rules, hs_of_lines_without_a_permit_is_not_checked)
{
    tq_decl d = DECLARE(1, 0, {"39269099", 10, NULL}, {"85171300", 10, "HSP-1"});
    tq_permit_fact f = fact_ok("HSP-1", 0, 0);
    cr_assert_eq(eval(&d, NULL, &f, 1, 0).reasons, 0);
}

Test(rules, hs_of_a_line_naming_another_permit_is_not_checked_against_this_one)
{
    tq_decl d = DECLARE(1, 0, {"85171300", 10, "ELEC"}, {"03031100", 10, "FISH"});
    tq_permit_fact f[2] = {fact_ok("ELEC", 0, 0), fact_ok("FISH", 0, 0)};
    const char *const fish[] = {"0303"};
    set_prefixes(&f[1], 1, fish);
    cr_assert_eq(eval(&d, NULL, f, 2, 0).reasons, 0);
}

Test(rules, hs_eight_digit_prefix_must_equal_the_hs)
{
    tq_decl ok = decl1(1, 0, "HS8-1", 10);
    strcpy(ok.lines[0].hs, "39269099");
    tq_decl bad = ok;
    strcpy(bad.lines[0].hs, "39269090");
    tq_permit_fact f = fact_ok("HS8-1", 0, 0);
    const char *const pre[] = {"39269099"};
    set_prefixes(&f, 1, pre);
    cr_assert_eq(eval(&ok, NULL, &f, 1, 0).reasons, 0);
    cr_assert_eq(eval(&bad, NULL, &f, 1, 0).reasons, TQ_R_PERMIT_HS);
}

Test(rules, hs_two_digit_prefix_covers_the_chapter)
{
    tq_decl d = decl1(1, 0, "CH-1", 10);
    strcpy(d.lines[0].hs, "03031100");
    tq_permit_fact f = fact_ok("CH-1", 0, 0);
    const char *const pre[] = {"85", "03"};
    set_prefixes(&f, 2, pre);
    cr_assert_eq(eval(&d, NULL, &f, 1, 0).reasons, 0);
    strcpy(d.lines[0].hs, "04031100");
    cr_assert_eq(eval(&d, NULL, &f, 1, 0).reasons, TQ_R_PERMIT_HS);
}

Test(rules, hs_sixteenth_prefix_is_consulted)
{
    tq_decl d = decl1(1, 0, "MANY", 10);
    tq_permit_fact f = fact_ok("MANY", 0, 0);
    const char *const pre[16] = {"01", "02", "03", "04", "05", "06", "07", "08",
                                 "09", "10", "11", "12", "13", "14", "15", "8517"};
    set_prefixes(&f, 16, pre);
    cr_assert_eq(eval(&d, NULL, &f, 1, 0).reasons, 0);
    f.permit.nprefixes = 15;
    cr_assert_eq(eval(&d, NULL, &f, 1, 0).reasons, TQ_R_PERMIT_HS);
}

Test(rules, one_permit_can_fail_every_check_at_once)
{
    tq_decl d = decl1(1, 0, "BAD", 10);
    tq_permit_fact f = fact_ok("BAD", 0, 0);
    f.permit.status = TQ_PERMIT_REVOKED;
    f.permit.valid_to = d.reg_day - 1;
    strcpy(f.permit.holder, OTHER_TAXID);
    const char *const pre[] = {"0303"};
    set_prefixes(&f, 1, pre);
    cr_assert_str_eq(fmt(eval(&d, NULL, &f, 1, 0).reasons),
                     "PERMIT_REVOKED|PERMIT_EXPIRED|PERMIT_HOLDER|PERMIT_HS");
}

Test(rules, reasons_are_united_over_permits_in_fixed_order)
{
    /* conformance case permit_reasons_union_multiple_permits, declaration 1 */
    tq_decl d = DECLARE(2, 1000, {"85171300", 10, "U-REV"}, {"85171300", 10, "U-HOLD"},
                        {"85171300", 10, "U-NONE"}, {"85171300", 10, "U-OLD"});
    tq_permit_fact f[4] = {fact_ok("U-REV", 0, 0), fact_ok("U-HOLD", 0, 0), fact_missing(),
                           fact_ok("U-OLD", 0, 0)};
    f[0].permit.status = TQ_PERMIT_REVOKED;
    strcpy(f[1].permit.holder, OTHER_TAXID);
    const char *const fish[] = {"0303"};
    set_prefixes(&f[1], 1, fish);
    f[3].permit.valid_from = day(2023, 1, 1);
    f[3].permit.valid_to = day(2023, 12, 31);
    tq_verdict v = eval(&d, NULL, f, 4, 0);
    cr_assert_str_eq(fmt(v.reasons), "TAX_SHORT|PERMIT_MISSING|PERMIT_REVOKED|PERMIT_EXPIRED|"
                                     "PERMIT_HOLDER|PERMIT_HS|AWAIT_OFFICER");
    cr_assert_eq(v.tax_short, 1000);
}

Test(rules, reason_order_does_not_follow_line_order)
{
    /* declaration 2 of the same case: U-NONE then U-REV */
    tq_decl d = DECLARE(1, 0, {"85171300", 10, "U-NONE"}, {"85171300", 10, "U-REV"});
    tq_permit_fact f[2] = {fact_missing(), fact_ok("U-REV", 0, 0)};
    f[1].permit.status = TQ_PERMIT_REVOKED;
    cr_assert_str_eq(fmt(eval(&d, NULL, f, 2, 0).reasons), "PERMIT_MISSING|PERMIT_REVOKED");
}

/* ---- evaluate: officer -------------------------------------------------------------- */

/* A declaration on channel (no tax, no permit) with the officer results seen so far:
 * whether evaluate() still waits for an officer. */
Test(rules, channel_and_officer)
{
    const struct {
        const char *what;
        int channel;
        uint8_t officer;
        uint32_t reasons;
    } cases[] = {
        {"channel 1 needs no officer", 1, 0, 0},
        {"channel 2 waits for an officer", 2, 0, TQ_R_AWAIT_OFFICER},
        {"channel 2 clears with DOCS_OK", 2, TQ_SEEN_DOCS_OK, 0},
        {"channel 2 clears with INSPECT_OK", 2, TQ_SEEN_INSPECT_OK, 0},
        {"channel 3: DOCS_OK does not satisfy it", 3, TQ_SEEN_DOCS_OK, TQ_R_AWAIT_OFFICER},
        {"channel 3 clears with INSPECT_OK", 3, TQ_SEEN_INSPECT_OK, 0},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        tq_decl d = decl1(cases[i].channel, 0, NULL, 10);
        d.officer = cases[i].officer;
        tq_verdict v = eval(&d, NULL, NULL, 0, 0);
        cr_assert_eq(v.reasons, cases[i].reasons, "%s: got %s", cases[i].what, fmt(v.reasons));
        cr_assert_eq(v.consume, cases[i].reasons == 0, "%s: consume", cases[i].what);
    }
}

Test(rules, await_officer_comes_after_tax_and_permit_reasons)
{
    tq_decl d = decl1(3, 10, "NOPE", 10);
    tq_permit_fact f = fact_missing();
    cr_assert_str_eq(fmt(eval(&d, NULL, &f, 1, 0).reasons),
                     "TAX_SHORT|PERMIT_MISSING|AWAIT_OFFICER");
}

/* ---- evaluate: quota ---------------------------------------------------------------- */

/* One line of qty naming one permit with quota and used: what evaluate() decides.
 * -1: not checked by that case.  use_qty is the quantity of use[0] when nuse is 1. */
static const struct quota_case {
    const char *what;
    int channel;
    uint64_t tax_due, qty, quota, used;
    uint32_t reasons;
    int consume, nuse;
    uint64_t use_qty;
} quota_cases[] = {
    {"exactly reaching the limit is allowed", 1, 0, 40, 100, 60, 0, 1, 1, 40},
    {"one past the limit is held", 1, 0, 41, 100, 60, TQ_R_PERMIT_QUOTA, 0, 0, 0},
    {"quota checked only without tax short", 1, 1000, 10, 100, 100, TQ_R_TAX_SHORT, 0, -1, 0},
    {"quota 0 is unlimited and never consumed", 1, 0, TQ_QTY_MAX, 0, 0, 0, 1, 0, 0},
    {"a declaration larger than the quota alone is held", 1, 0, 101, 100, 0,
     TQ_R_PERMIT_QUOTA, -1, -1, 0},
    {"a quota already used past its limit holds (manual clearance)", 1, 0, 1, 100, 140,
     TQ_R_PERMIT_QUOTA, -1, -1, 0},
    {"a non-manual held declaration consumes nothing", 1, 5, 10, 100, 0, TQ_R_TAX_SHORT, 0,
     0, 0},
};

Test(rules, quota_of_one_permit)
{
    for (size_t i = 0; i < sizeof quota_cases / sizeof quota_cases[0]; i++) {
        const struct quota_case *q = &quota_cases[i];
        tq_decl d = decl1(q->channel, q->tax_due, "Q-1", q->qty);
        tq_permit_fact f = fact_ok("Q-1", q->quota, q->used);
        tq_verdict v = eval(&d, NULL, &f, 1, 0);
        cr_assert_eq(v.reasons, q->reasons, "%s: got %s", q->what, fmt(v.reasons));
        cr_assert_eq(v.manual, 0, "%s", q->what);
        if (q->consume >= 0)
            cr_assert_eq(v.consume, q->consume, "%s", q->what);
        if (q->nuse >= 0)
            cr_assert_eq(v.nuse, (unsigned)q->nuse, "%s", q->what);
        if (q->nuse == 1) {
            cr_assert_eq(v.use[0].fact, 0, "%s", q->what);
            cr_assert_eq(v.use[0].qty, q->use_qty, "%s", q->what);
        }
    }
}

Test(rules, quota_sums_every_line_naming_the_permit)
{
    tq_decl d = DECLARE(1, 0, {"85171300", 30, "Q-1"}, {"85171300", 1000, NULL},
                        {"84713020", 30, "Q-1"}, {"85171300", 41, "Q-1"});
    tq_permit_fact f = fact_ok("Q-1", 100, 0);
    cr_assert_eq(eval(&d, NULL, &f, 1, 0).reasons, TQ_R_PERMIT_QUOTA, "30+30+41 > 100");
    d.lines[3].qty = 40;
    tq_verdict v = eval(&d, NULL, &f, 1, 0);
    cr_assert_eq(v.reasons, 0);
    cr_assert_eq(v.use[0].qty, 100);
}

Test(rules, quota_of_any_one_permit_holds_the_declaration)
{
    tq_decl d = DECLARE(1, 0, {"85171300", 10, "Q-OK"}, {"85171300", 10, "Q-FULL"});
    tq_permit_fact f[2] = {fact_ok("Q-OK", 100, 0), fact_ok("Q-FULL", 100, 95)};
    cr_assert_eq(eval(&d, NULL, f, 2, 0).reasons, TQ_R_PERMIT_QUOTA);
}

Test(rules, quota_checked_only_without_await_officer)
{
    tq_decl d = decl1(2, 0, "Q-1", 10);
    tq_permit_fact f = fact_ok("Q-1", 100, 100);
    cr_assert_eq(eval(&d, NULL, &f, 1, 0).reasons, TQ_R_AWAIT_OFFICER);
    d.officer = TQ_SEEN_DOCS_OK;
    cr_assert_eq(eval(&d, NULL, &f, 1, 0).reasons, TQ_R_PERMIT_QUOTA);
}

Test(rules, quota_checked_only_without_permit_reasons)
{
    tq_decl d = DECLARE(1, 0, {"85171300", 10, "Q-1"}, {"85171300", 10, "NOPE-9"});
    tq_permit_fact f[2] = {fact_ok("Q-1", 100, 100), fact_missing()};
    cr_assert_eq(eval(&d, NULL, f, 2, 0).reasons, TQ_R_PERMIT_MISSING);
}

Test(rules, cleared_consumes_only_quota_permits_by_fact_index)
{
    tq_decl d = DECLARE(1, 0, {"85171300", 5, "UNLIM"}, {"85171300", 7, "Q-A"},
                        {"85171300", 1, NULL}, {"85171300", 11, "Q-B"}, {"85171300", 2, "Q-A"});
    tq_permit_fact f[3] = {fact_ok("UNLIM", 0, 0), fact_ok("Q-A", 100, 0),
                           fact_ok("Q-B", 100, 0)};
    tq_verdict v = eval(&d, NULL, f, 3, 0);
    cr_assert_eq(v.reasons, 0);
    cr_assert_eq(v.nuse, 2);
    cr_assert_eq(v.use[0].fact, 1);
    cr_assert_eq(v.use[0].qty, 9);
    cr_assert_eq(v.use[1].fact, 2);
    cr_assert_eq(v.use[1].qty, 11);
}

Test(rules, quota_compare_cannot_overflow_with_huge_used)
{
    /* used + qty would wrap to 9 and look within quota if added naively */
    tq_decl d = decl1(1, 0, "Q-1", 10);
    tq_permit_fact f = fact_ok("Q-1", TQ_QUOTA_MAX, UINT64_MAX);
    cr_assert_eq(eval(&d, NULL, &f, 1, 0).reasons, TQ_R_PERMIT_QUOTA);
    f.used = UINT64_MAX - 9;
    cr_assert_eq(eval(&d, NULL, &f, 1, 0).reasons, TQ_R_PERMIT_QUOTA);
}

Test(rules, quota_at_its_maximum_with_the_largest_declaration)
{
    tq_event ev = decl_event(1, 0);
    for (int i = 0; i < TQ_LINES_MAX; i++)
        add_line(&ev, "85171300", TQ_QTY_MAX, "Q-BIG");
    tq_decl d = create(&ev);
    const uint64_t sum = TQ_QTY_MAX * TQ_LINES_MAX;
    tq_permit_fact f = fact_ok("Q-BIG", TQ_QUOTA_MAX, TQ_QUOTA_MAX - sum);
    tq_verdict v = eval(&d, NULL, &f, 1, 0);
    cr_assert_eq(v.reasons, 0);
    cr_assert_eq(v.use[0].qty, sum);
    f.used++;
    cr_assert_eq(eval(&d, NULL, &f, 1, 0).reasons, TQ_R_PERMIT_QUOTA);
}

/* ---- evaluate: manual mode ---------------------------------------------------------- */

Test(rules, manual_clear_ignores_officer_and_quota)
{
    tq_decl d = decl1(3, 0, "Q-1", 50);
    tq_permit_fact f = fact_ok("Q-1", 100, 90);
    tq_verdict v = eval(&d, NULL, &f, 1, 1);
    cr_assert_eq(v.reasons, 0, "got %s", fmt(v.reasons));
    cr_assert_eq(v.manual, 1);
    cr_assert_eq(v.consume, 1);
    cr_assert_eq(v.nuse, 1);
    cr_assert_eq(v.use[0].qty, 50, "consumed in full, past the quota");
}

Test(rules, manual_clear_keeps_permit_discrepancies_and_counts_revoked_quota_permits)
{
    tq_decl d = DECLARE(2, 0, {"85171300", 30, "Q-REV"}, {"85171300", 4, "NOPE"},
                        {"85171300", 5, "UNLIM"});
    tq_permit_fact f[3] = {fact_ok("Q-REV", 10, 10), fact_missing(), fact_ok("UNLIM", 0, 0)};
    f[0].permit.status = TQ_PERMIT_REVOKED;
    tq_verdict v = eval(&d, NULL, f, 3, 1);
    cr_assert_str_eq(fmt(v.reasons), "PERMIT_MISSING|PERMIT_REVOKED");
    cr_assert_eq(v.consume, 1);
    cr_assert_eq(v.nuse, 1, "missing and unlimited permits are not used");
    cr_assert_eq(v.use[0].fact, 0);
    cr_assert_eq(v.use[0].qty, 30);
}

Test(rules, evaluate_changes_neither_declaration_nor_facts)
{
    tq_decl d = decl1(2, 100, "Q-1", 10);
    tq_permit_fact f = fact_ok("Q-1", 100, 0);
    tq_guarantee g = {0, 1};
    tq_cover c = {3, 1, &g};
    tq_decl d0 = d;
    tq_permit_fact f0 = f;
    tq_guarantee g0 = g;
    tq_verdict a = eval(&d, &c, &f, 1, 0);
    tq_verdict b = eval(&d, &c, &f, 1, 1);
    cr_assert_eq(memcmp(&d, &d0, sizeof d), 0);
    cr_assert_eq(memcmp(&f, &f0, sizeof f), 0);
    cr_assert_eq(memcmp(&g, &g0, sizeof g), 0);
    cr_assert_eq(c.pay_total, 3);
    cr_assert_neq(a.reasons, b.reasons);
}

/* ---- settle ------------------------------------------------------------------------- */

/* A declaration (on channel, of tax_due, paid pay; or HELD with TAX_SHORT short by 7
 * where held) evaluated (manual or not) and settled: the state, reasons, tax short and
 * manual flag it is left with. */
Test(rules, settle_records_the_verdict)
{
    const struct {
        const char *what;
        int channel;
        uint64_t tax_due, pay;
        int held, manual;
        uint8_t state;
        const char *reasons;
        uint64_t tax_short;
        int was_manual;
    } cases[] = {
        {"empty reasons clear, the old ones gone", 1, 0, 0, 1, 0, TQ_STATE_CLEARED, "", 0, 0},
        {"reasons hold, with the tax short", 2, 1000, 500, 0, 0, TQ_STATE_HELD,
         "TAX_SHORT|AWAIT_OFFICER", 500, 0},
        {"manual clears with its discrepancies", 3, 1000000, 250000, 0, 1, TQ_STATE_CLEARED,
         "TAX_SHORT", 750000, 1},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        const char *what = cases[i].what;
        tq_decl d = decl1(cases[i].channel, cases[i].tax_due, NULL, 10);
        if (cases[i].held) {
            d.state = TQ_STATE_HELD;
            d.reasons = TQ_R_TAX_SHORT;
            d.tax_short = 7;
        }
        tq_cover c = pay(cases[i].pay);
        tq_verdict v = eval(&d, &c, NULL, 0, cases[i].manual);
        tq_rules_settle(&d, &v);
        cr_assert_eq(d.state, cases[i].state, "%s: state %s", what, tq_state_name(d.state));
        cr_assert_str_eq(fmt(d.reasons), cases[i].reasons, "%s: reasons", what);
        cr_assert_eq(d.tax_short, cases[i].tax_short, "%s: tax_short", what);
        cr_assert_eq(d.manual, cases[i].was_manual, "%s: manual", what);
    }
}

Test(rules, settle_held_again_replaces_the_old_reasons)
{
    tq_decl d = decl1(2, 1000, NULL, 10);
    tq_verdict v = eval(&d, NULL, NULL, 0, 0);
    tq_rules_settle(&d, &v);
    tq_cover c = pay(1000);
    v = eval(&d, &c, NULL, 0, 0);
    tq_rules_settle(&d, &v);
    cr_assert_eq(d.state, TQ_STATE_HELD);
    cr_assert_eq(d.reasons, TQ_R_AWAIT_OFFICER);
    cr_assert_eq(d.tax_short, 0);
}

Test(rules, settle_manual_never_records_await_officer_or_quota)
{
    tq_decl d = decl1(3, 0, NULL, 10);
    tq_verdict v;
    memset(&v, 0, sizeof v);
    v.manual = 1;
    v.consume = 1;
    v.reasons = TQ_R_AWAIT_OFFICER | TQ_R_PERMIT_QUOTA | TQ_R_PERMIT_HS;
    tq_rules_settle(&d, &v);
    cr_assert_eq(d.state, TQ_STATE_CLEARED);
    cr_assert_eq(d.reasons, TQ_R_PERMIT_HS);
}

/* ---- names -------------------------------------------------------------------------- */

Test(rules, state_names)
{
    cr_assert_str_eq(tq_state_name(TQ_STATE_PENDING), "PENDING");
    cr_assert_str_eq(tq_state_name(TQ_STATE_CLEARED), "CLEARED");
    cr_assert_str_eq(tq_state_name(TQ_STATE_HELD), "HELD");
    cr_assert_str_eq(tq_state_name(TQ_STATE_REJECTED), "REJECTED");
    cr_assert_str_eq(tq_state_name(TQ_STATE_CANCELLED), "CANCELLED");
    cr_assert_null(tq_state_name(5));
    cr_assert_null(tq_state_name(-1));
}

Test(rules, reason_names_follow_the_bits)
{
    const char *want[TQ_REASON_COUNT] = {"TAX_SHORT",      "PERMIT_MISSING", "PERMIT_REVOKED",
                                         "PERMIT_EXPIRED", "PERMIT_HOLDER",  "PERMIT_HS",
                                         "AWAIT_OFFICER",  "PERMIT_QUOTA"};
    const uint32_t bits[TQ_REASON_COUNT] = {
        TQ_R_TAX_SHORT,     TQ_R_PERMIT_MISSING, TQ_R_PERMIT_REVOKED, TQ_R_PERMIT_EXPIRED,
        TQ_R_PERMIT_HOLDER, TQ_R_PERMIT_HS,      TQ_R_AWAIT_OFFICER,  TQ_R_PERMIT_QUOTA};
    for (int i = 0; i < TQ_REASON_COUNT; i++) {
        cr_assert_str_eq(tq_reason_name(i), want[i]);
        cr_assert_eq(bits[i], 1u << i);
        cr_assert_str_eq(fmt(bits[i]), want[i]);
    }
    cr_assert_null(tq_reason_name(TQ_REASON_COUNT));
    cr_assert_null(tq_reason_name(-1));
}

Test(rules, reasons_format_empty_is_empty_string)
{
    char buf[8];
    memset(buf, 'x', sizeof buf);
    cr_assert_eq(tq_reasons_format(0, buf, sizeof buf), 0);
    cr_assert_str_eq(buf, "");
}

Test(rules, reasons_format_joins_all_in_output_order)
{
    char buf[160];
    size_t n = tq_reasons_format(0xFFu | 0xFF00u, buf, sizeof buf);
    const char *all = "TAX_SHORT|PERMIT_MISSING|PERMIT_REVOKED|PERMIT_EXPIRED|PERMIT_HOLDER|"
                      "PERMIT_HS|AWAIT_OFFICER|PERMIT_QUOTA";
    cr_assert_str_eq(buf, all);
    cr_assert_eq(n, strlen(all));
    cr_assert_eq(n, 105, "the header promises 105");
}

Test(rules, reasons_format_truncates_safely)
{
    char buf[12];
    memset(buf, 'x', sizeof buf);
    size_t n = tq_reasons_format(TQ_R_TAX_SHORT | TQ_R_PERMIT_HS, buf, sizeof buf);
    cr_assert_eq(n, 11);
    cr_assert_eq(strlen(buf), 11);
    cr_assert_eq(memcmp(buf, "TAX_SHORT|P", 11), 0);
    cr_assert_eq(tq_reasons_format(TQ_R_TAX_SHORT, buf, 0), 0);
    cr_assert_eq(tq_reasons_format(TQ_R_TAX_SHORT, buf, 1), 0);
    cr_assert_eq(buf[0], '\0');
}

/* ---- whole flows --------------------------------------------------------------------- */

/* The replay's calling sequence of tq_rules.h, with one permit fact and its use. */
static tq_step apply(tq_decl *d, int *exists, const tq_event *ev, const tq_cover *c,
                     tq_permit_fact *facts, size_t nfacts)
{
    tq_step st = tq_rules_begin(d, *exists, ev);
    if (st == TQ_STEP_EVALUATE && ev->ev == TQ_EV_DECL)
        *exists = 1;
    if (st == TQ_STEP_EVALUATE || st == TQ_STEP_EVALUATE_MANUAL) {
        const char *names[TQ_LINES_MAX];
        size_t n = tq_rules_permits(d, names);
        cr_assert_leq(n, nfacts);
        tq_verdict v;
        tq_rules_evaluate(d, c, facts, n, st == TQ_STEP_EVALUATE_MANUAL, &v);
        tq_rules_settle(d, &v);
        if (v.consume)
            for (size_t k = 0; k < v.nuse; k++)
                facts[v.use[k].fact].used += v.use[k].qty;
    }
    return st;
}

Test(rules, flow_yellow_waits_then_clears_and_ignores_later_amend)
{
    tq_decl d;
    int exists = 0;
    tq_permit_fact f = fact_ok("Q-1", 100, 0);
    tq_cover c = pay(1000);
    tq_event ev = decl_event(2, 1000);
    add_line(&ev, "85171300", 60, "Q-1");
    cr_assert_eq(apply(&d, &exists, &ev, &c, &f, 1), TQ_STEP_EVALUATE);
    cr_assert_eq(d.state, TQ_STATE_HELD);
    cr_assert_eq(d.reasons, TQ_R_AWAIT_OFFICER);
    cr_assert_eq(f.used, 0);
    tq_event ok = simple_event(TQ_EV_OFFICER, TQ_OFFICER_DOCS_OK);
    cr_assert_eq(apply(&d, &exists, &ok, &c, &f, 1), TQ_STEP_EVALUATE);
    cr_assert_eq(d.state, TQ_STATE_CLEARED);
    cr_assert_eq(f.used, 60);
    tq_event am = amend_tax(5000);
    cr_assert_eq(apply(&d, &exists, &am, &c, &f, 1), TQ_STEP_IGNORED_FINAL);
    cr_assert_eq(d.version, 0);
    cr_assert_eq(f.used, 60);
    cr_assert_eq(apply(&d, &exists, &ev, &c, &f, 1), TQ_STEP_DUPLICATE);
    cr_assert_eq(f.used, 60, "a duplicate DECL uses no quota");
}

Test(rules, flow_quota_goes_to_journal_order_and_manual_passes_it)
{
    /* conformance case manual_clear_ignores_quota_and_officer */
    tq_permit_fact f = fact_ok("Q-1", 100, 0);
    tq_decl d1, d2, d3;
    int e1 = 0, e2 = 0, e3 = 0;
    tq_event ev = decl_event(1, 0);
    add_line(&ev, "85171300", 90, "Q-1");
    apply(&d1, &e1, &ev, NULL, &f, 1);
    ev = decl_event(3, 0);
    add_line(&ev, "85171300", 50, "Q-1");
    apply(&d2, &e2, &ev, NULL, &f, 1);
    tq_event m = simple_event(TQ_EV_MANUAL_CLEAR, 0);
    cr_assert_eq(apply(&d2, &e2, &m, NULL, &f, 1), TQ_STEP_EVALUATE_MANUAL);
    ev = decl_event(1, 0);
    add_line(&ev, "85171300", 5, "Q-1");
    apply(&d3, &e3, &ev, NULL, &f, 1);
    cr_assert_eq(d1.state, TQ_STATE_CLEARED);
    cr_assert_eq(d2.state, TQ_STATE_CLEARED);
    cr_assert_eq(d2.manual, 1);
    cr_assert_eq(d2.reasons, 0);
    cr_assert_eq(d3.state, TQ_STATE_HELD);
    cr_assert_eq(d3.reasons, TQ_R_PERMIT_QUOTA);
    cr_assert_eq(f.used, 140);
}

/* ---- properties ---------------------------------------------------------------------- */

typedef struct rng {
    uint64_t s;
} rng;

static uint64_t next(rng *r) /* xorshift64* */
{
    r->s ^= r->s >> 12;
    r->s ^= r->s << 25;
    r->s ^= r->s >> 27;
    return r->s * 2685821657736338717ULL;
}

static uint64_t below(rng *r, uint64_t n)
{
    return next(r) % n;
}

static const char *pick(rng *r, const char *const *set, size_t n)
{
    return set[below(r, n)];
}

#define PICK(r, set) pick((r), (set), sizeof(set) / sizeof((set)[0]))

static const char *const HS_SET[] = {"85171300", "84713020", "39269099", "03031100",
                                     "85170000", "84714100"};
static const char *const PREFIX_SET[] = {"8517", "8471", "39269099", "0303", "85171300",
                                         "847130", "85", "39"};
static const char *const NAME_SET[] = {"P-A", "P-B", "P-C", "P-D", "P-E"};
static const char *const TAXID_SET[] = {DECLARANT, OTHER_TAXID, DECLARANT "001"};

static uint64_t random_amount(rng *r)
{
    switch (below(r, 8)) {
    case 0:
        return 0;
    case 1:
        return TQ_MONEY_MAX;
    case 2:
        return UINT64_MAX / 2 + below(r, 1000); /* saturation territory */
    default:
        return below(r, 3000);
    }
}

static tq_decl random_decl(rng *r)
{
    tq_event ev = decl_event((int)below(r, 3) + 1, below(r, 4) ? below(r, 3000) : TQ_MONEY_MAX);
    strcpy(ev.declarant, PICK(r, TAXID_SET));
    ev.registered = at(2024, 8, 6, 0, 0, 0, 420);
    ev.registered.sec += (int64_t)below(r, 5 * 86400) - 2 * 86400;
    size_t nl = below(r, 10) == 0 ? 1 + below(r, TQ_LINES_MAX) : 1 + below(r, 5);
    for (size_t i = 0; i < nl; i++) {
        uint64_t qty = below(r, 10) == 0 ? TQ_QTY_MAX : 1 + below(r, 80);
        add_line(&ev, PICK(r, HS_SET), qty, below(r, 10) < 6 ? PICK(r, NAME_SET) : NULL);
    }
    tq_decl d = create(&ev);
    d.officer = (uint8_t)below(r, 4);
    return d;
}

static tq_permit_fact random_fact(rng *r, const char *name, int32_t reg_day)
{
    if (below(r, 8) == 0)
        return fact_missing();
    tq_permit_fact f = fact_ok(name, 0, 0);
    f.permit.status = below(r, 8) == 0 ? TQ_PERMIT_REVOKED : TQ_PERMIT_VALID;
    f.permit.valid_from = reg_day - (int32_t)below(r, 4) + 1;
    f.permit.valid_to = f.permit.valid_from + (int32_t)below(r, 4);
    if (below(r, 4) == 0)
        f.permit.valid_from = f.permit.valid_to = reg_day;
    strcpy(f.permit.holder, below(r, 6) == 0 ? PICK(r, TAXID_SET) : DECLARANT);
    int np = 1 + (int)below(r, 3);
    f.permit.nprefixes = (uint8_t)np;
    for (int i = 0; i < np; i++)
        strcpy(f.permit.prefixes[i], PICK(r, PREFIX_SET));
    switch (below(r, 6)) {
    case 0:
    case 1:
        f.permit.quota = 0;
        break;
    case 2:
        f.permit.quota = TQ_QUOTA_MAX;
        break;
    default:
        f.permit.quota = 1 + below(r, 400);
    }
    switch (below(r, 6)) {
    case 0:
        f.used = UINT64_MAX - below(r, 100);
        break;
    case 1:
        f.used = f.permit.quota;
        break;
    default:
        f.used = below(r, 300);
    }
    return f;
}

/* The naive model of SPEC §3: written as the SPEC reads, with 128-bit sums so that
 * nothing needs saturating or reordering. */
__extension__ typedef unsigned __int128 u128;

typedef struct model {
    uint32_t reasons;
    uint64_t tax_short;
    int consume;
    size_t nuse;
    size_t use_fact[TQ_LINES_MAX];
    uint64_t use_qty[TQ_LINES_MAX];
} model;

static model reference(const tq_decl *d, const tq_cover *c, const char *const *names,
                       const tq_permit_fact *f, size_t n, int manual)
{
    model m;
    memset(&m, 0, sizeof m);
    u128 covered = c->pay_total;
    for (uint32_t i = 0; i < c->nguar; i++)
        if (c->guar[i].valid_until >= d->reg_day)
            covered += c->guar[i].amount;
    if (covered < d->tax_due) {
        m.reasons |= TQ_R_TAX_SHORT;
        m.tax_short = (uint64_t)(d->tax_due - covered);
    }
    u128 sum[TQ_LINES_MAX] = {0};
    for (size_t i = 0; i < n; i++) {
        for (size_t l = 0; l < d->nlines; l++) {
            if (strcmp(d->lines[l].permit, names[i]) != 0)
                continue;
            sum[i] += d->lines[l].qty;
            if (!f[i].found)
                continue;
            int ok = 0;
            for (size_t p = 0; p < f[i].permit.nprefixes; p++) {
                const char *pre = f[i].permit.prefixes[p];
                ok |= strncmp(d->lines[l].hs, pre, strlen(pre)) == 0;
            }
            if (!ok)
                m.reasons |= TQ_R_PERMIT_HS;
        }
        if (!f[i].found) {
            m.reasons |= TQ_R_PERMIT_MISSING;
            continue;
        }
        if (f[i].permit.status == TQ_PERMIT_REVOKED)
            m.reasons |= TQ_R_PERMIT_REVOKED;
        if (d->reg_day < f[i].permit.valid_from || d->reg_day > f[i].permit.valid_to)
            m.reasons |= TQ_R_PERMIT_EXPIRED;
        if (strcmp(f[i].permit.holder, d->declarant) != 0)
            m.reasons |= TQ_R_PERMIT_HOLDER;
    }
    if (!manual) {
        if ((d->channel == 2 && d->officer == 0) ||
            (d->channel == 3 && !(d->officer & TQ_SEEN_INSPECT_OK)))
            m.reasons |= TQ_R_AWAIT_OFFICER;
        if (m.reasons == 0)
            for (size_t i = 0; i < n; i++)
                if (f[i].permit.quota > 0 && (u128)f[i].used + sum[i] > f[i].permit.quota)
                    m.reasons |= TQ_R_PERMIT_QUOTA;
    }
    m.consume = manual || m.reasons == 0;
    if (m.consume)
        for (size_t i = 0; i < n; i++)
            if (f[i].found && f[i].permit.quota > 0) {
                m.use_fact[m.nuse] = i;
                m.use_qty[m.nuse++] = (uint64_t)sum[i];
            }
    return m;
}

Test(rules, property_random_declarations_match_the_reference_model)
{
    rng r = {0x9E3779B97F4A7C15ULL};
    int cleared = 0, held = 0, quota_held = 0, manual_seen = 0;
    for (int iter = 0; iter < 20000; iter++) {
        tq_decl d = random_decl(&r);
        tq_guarantee g[4];
        tq_cover c = {random_amount(&r), (uint32_t)below(&r, 5), g};
        for (uint32_t i = 0; i < c.nguar; i++) {
            g[i].valid_until = d.reg_day + (int32_t)below(&r, 5) - 2;
            g[i].amount = random_amount(&r);
        }
        const char *names[TQ_LINES_MAX];
        size_t n = tq_rules_permits(&d, names);

        /* distinct, named by some line, first appearance order */
        size_t first[TQ_LINES_MAX];
        for (size_t i = 0; i < n; i++) {
            cr_assert_neq(names[i][0], '\0');
            for (size_t j = 0; j < i; j++)
                cr_assert_str_neq(names[i], names[j]);
            first[i] = TQ_LINES_MAX;
            for (size_t l = 0; l < d.nlines && first[i] == TQ_LINES_MAX; l++)
                if (strcmp(d.lines[l].permit, names[i]) == 0)
                    first[i] = l;
            cr_assert_lt(first[i], d.nlines);
            if (i > 0)
                cr_assert_gt(first[i], first[i - 1]);
        }
        for (size_t l = 0; l < d.nlines; l++) {
            int named = d.lines[l].permit[0] == '\0';
            for (size_t i = 0; i < n && !named; i++)
                named = strcmp(d.lines[l].permit, names[i]) == 0;
            cr_assert(named, "line %zu's permit missing from names", l);
        }

        tq_permit_fact f[TQ_LINES_MAX];
        for (size_t i = 0; i < n; i++)
            f[i] = random_fact(&r, names[i], d.reg_day);
        int manual = below(&r, 5) == 0;

        tq_verdict v = eval(&d, &c, f, n, manual);
        model m = reference(&d, &c, names, f, n, manual);
        cr_assert_eq(v.reasons, m.reasons, "iter %d: got %s", iter, fmt(v.reasons));
        cr_assert_eq(v.tax_short, m.tax_short, "iter %d", iter);
        cr_assert_eq(v.consume, m.consume, "iter %d", iter);
        cr_assert_eq(v.manual, manual);
        cr_assert_eq(v.nuse, m.nuse, "iter %d", iter);
        for (size_t k = 0; k < m.nuse; k++) {
            cr_assert_eq(v.use[k].fact, m.use_fact[k], "iter %d", iter);
            cr_assert_eq(v.use[k].qty, m.use_qty[k], "iter %d", iter);
        }

        /* invariants stated by the SPEC, independent of the model */
        cr_assert_eq(v.tax_short != 0, (v.reasons & TQ_R_TAX_SHORT) != 0);
        if (v.reasons & TQ_R_PERMIT_QUOTA)
            cr_assert_eq(v.reasons, TQ_R_PERMIT_QUOTA, "quota only without other reasons");
        if (manual)
            cr_assert_eq(v.reasons & (TQ_R_AWAIT_OFFICER | TQ_R_PERMIT_QUOTA), 0);

        /* the formatted string lists the bits in increasing order, each once */
        char buf[160];
        tq_reasons_format(v.reasons, buf, sizeof buf);
        uint32_t back = 0;
        int last = -1;
        for (char *tok = buf; *tok != '\0';) {
            char *bar = strchr(tok, '|');
            size_t len = bar ? (size_t)(bar - tok) : strlen(tok);
            int bit = -1;
            for (int b = 0; b < TQ_REASON_COUNT; b++)
                if (strlen(tq_reason_name(b)) == len && memcmp(tq_reason_name(b), tok, len) == 0)
                    bit = b;
            cr_assert_gt(bit, last, "iter %d: %s out of order", iter, buf);
            last = bit;
            back |= 1u << bit;
            tok += len + (bar != NULL);
        }
        cr_assert_eq(back, v.reasons);

        tq_rules_settle(&d, &v);
        if (manual) {
            cr_assert_eq(d.state, TQ_STATE_CLEARED);
            cr_assert_eq(d.manual, 1);
            cr_assert_eq(d.reasons, v.reasons);
            cr_assert_eq(d.tax_short, v.tax_short);
            manual_seen++;
        } else if (v.consume) {
            cr_assert_eq(d.state, TQ_STATE_CLEARED);
            cr_assert_eq(d.reasons, 0);
            cr_assert_eq(d.tax_short, 0);
            cleared++;
        } else {
            cr_assert_eq(d.state, TQ_STATE_HELD);
            cr_assert_eq(d.reasons, v.reasons);
            cr_assert_eq(d.tax_short, v.tax_short);
            held++;
            quota_held += v.reasons == TQ_R_PERMIT_QUOTA;
        }
    }
    /* the generator must reach every outcome, or the property proves little */
    cr_assert_gt(cleared, 500);
    cr_assert_gt(held, 500);
    cr_assert_gt(quota_held, 50);
    cr_assert_gt(manual_seen, 500);
}

Test(rules, property_random_event_streams_keep_the_state_machine)
{
    rng r = {12345};
    for (int iter = 0; iter < 3000; iter++) {
        tq_decl d;
        memset(&d, 0, sizeof d);
        int exists = 0, final_seen = 0;
        uint32_t amends = 0;
        tq_permit_fact f = fact_ok("P-A", below(&r, 2) ? 0 : 100, 0);
        tq_cover c = pay(below(&r, 2000));
        int nev = 1 + (int)below(&r, 12);
        for (int e = 0; e < nev; e++) {
            tq_event ev;
            int kind = (int)below(&r, 6); /* 0 = DECL, else a non-DECL kind */
            if (kind == 0) {
                ev = decl_event((int)below(&r, 3) + 1, below(&r, 2000));
                add_line(&ev, "85171300", 1 + below(&r, 60), below(&r, 2) ? "P-A" : NULL);
            } else {
                static const int kinds[] = {TQ_EV_AMEND, TQ_EV_OFFICER, TQ_EV_OFFICER,
                                            TQ_EV_MANUAL_CLEAR, TQ_EV_CANCEL};
                ev = simple_event(kinds[kind - 1], 1 + (int)below(&r, 3));
                if (ev.ev == TQ_EV_AMEND) {
                    ev.has = (uint8_t)(1 + below(&r, 3));
                    ev.tax_due = below(&r, 2000);
                    add_line(&ev, "84713020", 1 + below(&r, 60), below(&r, 2) ? "P-A" : NULL);
                }
            }
            tq_decl before = d;
            uint64_t used_before = f.used;
            int existed = exists;
            tq_step st = apply(&d, &exists, &ev, &c, &f, 1);

            if (!existed) {
                cr_assert_eq(st, ev.ev == TQ_EV_DECL ? TQ_STEP_EVALUATE : TQ_STEP_UNKNOWN);
            } else if (ev.ev == TQ_EV_DECL) {
                cr_assert_eq(st, TQ_STEP_DUPLICATE);
            } else if (final_seen) {
                cr_assert_eq(st, TQ_STEP_IGNORED_FINAL);
            }
            if (st == TQ_STEP_DUPLICATE || st == TQ_STEP_IGNORED_FINAL || st == TQ_STEP_UNKNOWN) {
                cr_assert_eq(memcmp(&d, &before, sizeof d), 0, "iter %d ev %d", iter, e);
                cr_assert_eq(f.used, used_before);
            }
            if (st == TQ_STEP_EVALUATE && ev.ev == TQ_EV_AMEND)
                amends++;
            if (exists) {
                cr_assert_eq(d.version, amends);
                cr_assert_neq(d.state, TQ_STATE_PENDING, "evaluated or finished");
                if (d.state == TQ_STATE_REJECTED || d.state == TQ_STATE_CANCELLED)
                    cr_assert(d.reasons == 0 && d.tax_short == 0);
                if (d.state == TQ_STATE_CLEARED && !d.manual)
                    cr_assert(d.reasons == 0 && d.tax_short == 0);
                if (d.state == TQ_STATE_HELD)
                    cr_assert_neq(d.reasons, 0);
                if (d.manual)
                    cr_assert_eq(d.state, TQ_STATE_CLEARED);
                final_seen = d.state != TQ_STATE_HELD;
            }
            if (f.permit.quota == 0)
                cr_assert_eq(f.used, 0, "unlimited permits are never used");
        }
    }
}
