/* test_list.c - tq_list_run() (engine/tq_list.c): each filter alone and combined, the way
 * it takes into the store, decl_no order, the limit, the tax-paid test, and the parsers
 * and formatters the list and worklist outputs share. */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE         /* mkdtemp, nftw */
#endif
#include <criterion/criterion.h>

#include <stdio.h>
#include <string.h>

#include "tq_list.h"
#include "tq_store.h"
#include "tq_worklist.h"

#include "tq_testdir.h"
#include "tq_teststore.h"

TQ_TESTDIR_SUITE(list, "tq_list", 60);

/* ---- fixture: eight declarations over two offices, three declarants, two permits ---- */

static tq_store *g_s;

/* 2024-08-06T09:00:00+07:00 */
#define T0 1722909600LL

static tq_decl decl(const char *no, const char *office, const char *declarant, int state,
                    uint32_t reasons, uint64_t tax_due, int64_t reg_sec, const char *permit)
{
    tq_decl d = tq_test_decl(no, office, declarant, state);
    d.reasons = reasons;
    d.tax_due = tax_due;
    d.registered.sec = reg_sec;
    d.reg_day = tq_instant_vn_day(d.registered);
    snprintf(d.lines[0].permit, sizeof d.lines[0].permit, "%s", permit);
    d.lines[0].value = 1000;
    return d;
}

static void pay(tq_txn *t, const char *decl_no, const char *receipt, int kind, uint64_t amount,
                const char *valid_until)
{
    tq_payment p = tq_test_payment(decl_no, receipt, kind, amount, TQ_NO_DATE);
    if (valid_until)
        cr_assert_eq(tq_date_parse(valid_until, 10, &p.valid_until, NULL), TQ_OK);
    cr_assert_eq(tq_store_add_payment(t, &p, NULL, NULL), TQ_OK);
}

static void fixture(void)
{
    tq_store_opts o = {.command = "test_list"};
    int rc = tq_store_open(g_dir, TQ_STORE_WRITE | TQ_STORE_NOSYNC, &o, &g_s, NULL);
    cr_assert_eq(rc, TQ_OK, "open: %s", tq_strerror(rc));
    tq_txn *t;
    cr_assert_eq(tq_txn_begin(g_s, 0, &t), TQ_OK);
    const uint32_t EXP = TQ_R_PERMIT_EXPIRED, TAX = TQ_R_TAX_SHORT, AW = TQ_R_AWAIT_OFFICER;
    tq_decl ds[] = {
        /* put out of order: the list must come back in decl_no order */
        decl("100000000008", "02C1", "0101234567", TQ_STATE_HELD, AW, 0, T0 + 7 * 3600, ""),
        decl("100000000001", "01B1", "0101234567", TQ_STATE_HELD, EXP, 100, T0, "P-1"),
        decl("100000000002", "01B1", "0101234567", TQ_STATE_CLEARED, 0, 100, T0 + 3600, "P-1"),
        decl("100000000003", "01B1", "0202020202", TQ_STATE_HELD, TAX | EXP, 500, T0 + 2 * 3600,
             "P-2"),
        decl("100000000004", "02C1", "0202020202", TQ_STATE_HELD, TAX, 300, T0 + 3 * 3600, ""),
        decl("100000000005", "02C1", "0303030303", TQ_STATE_REJECTED, TAX, 0, T0 + 4 * 3600,
             "P-1"),
        decl("100000000006", "01B1", "0303030303", TQ_STATE_HELD, AW, 50, T0 + 5 * 3600, "P-2"),
        decl("100000000007", "01B1", "0101234567", TQ_STATE_CANCELLED, 0, 0, T0 + 6 * 3600, ""),
    };
    for (size_t i = 0; i < sizeof ds / sizeof ds[0]; i++)
        cr_assert_eq(tq_store_put_decl(t, &ds[i]), TQ_OK, "put %s", ds[i].decl_no);
    pay(t, "100000000001", "KB-1", TQ_PAY, 100, NULL);          /* paid exactly */
    pay(t, "100000000003", "KB-3", TQ_PAY, 200, NULL);          /* 200 + 400 counted */
    pay(t, "100000000003", "BL-3", TQ_GUARANTEE, 400, "2024-08-31");
    pay(t, "100000000004", "KB-4", TQ_PAY, 100, NULL);          /* the guarantee expired */
    pay(t, "100000000004", "BL-4", TQ_GUARANTEE, 900, "2024-08-01");
    pay(t, "100000000002", "KB-2", TQ_PAY, 100, NULL);          /* paid but CLEARED */
    cr_assert_eq(tq_txn_commit(t), TQ_OK);
}

static void teardown(void)
{
    tq_store_close(g_s);
    g_s = NULL;
}

/* ---- running a filter into a string of decl_no tails ---- */

typedef struct got {
    char s[256];
    int stop_at;                /* fn returns 42 at this row (0: never) */
    int n;
    tq_u128 covered[16];
    int64_t age[16];
} got;

static int take(void *ctx, const tq_list_row *row)
{
    got *g = ctx;
    size_t len = strlen(g->s);
    snprintf(g->s + len, sizeof g->s - len, "%s%s", len ? " " : "", row->decl->decl_no + 10);
    if (g->n < 16) {
        g->covered[g->n] = row->covered;
        g->age[g->n] = row->age;
    }
    g->n++;
    return g->stop_at && g->n == g->stop_at ? 42 : 0;
}

static int run(const tq_list_filter *f, got *g, tq_list_stats *st)
{
    tq_txn *t;
    cr_assert_eq(tq_txn_begin(g_s, 1, &t), TQ_OK);
    int rc = tq_list_run(t, f, take, g, st);
    tq_txn_abort(t);
    return rc;
}

static void expect(const tq_list_filter *f, const char *want, int way)
{
    got g = {0};
    tq_list_stats st;
    int rc = run(f, &g, &st);
    cr_assert_eq(rc, TQ_OK, "run: %s", tq_strerror(rc));
    cr_expect_str_eq(g.s, want);
    cr_expect_eq(st.matched, (uint64_t)g.n);
    if (way)
        cr_expect_eq(st.way, way, "way %d, wanted %d", st.way, way);
}

/* ---- filters ---- */

Test(list, no_filter_lists_everything_in_decl_no_order, .init = fixture, .fini = teardown)
{
    tq_list_filter f;
    tq_list_filter_init(&f);
    expect(&f, "01 02 03 04 05 06 07 08", TQ_LIST_FULL_WALK);
}

Test(list, state_alone, .init = fixture, .fini = teardown)
{
    tq_list_filter f;
    tq_list_filter_init(&f);
    f.state = TQ_STATE_HELD;
    expect(&f, "01 03 04 06 08", TQ_LIST_FULL_WALK);
}

Test(list, office_and_state_take_the_held_table_or_the_office_index, .init = fixture,
     .fini = teardown)
{
    tq_list_filter f;
    tq_list_filter_init(&f);
    snprintf(f.office, sizeof f.office, "01B1");
    f.state = TQ_STATE_HELD;
    expect(&f, "01 03 06", TQ_LIST_BY_HELD);
    snprintf(f.office, sizeof f.office, "99Z9");
    expect(&f, "", TQ_LIST_BY_HELD);
    snprintf(f.office, sizeof f.office, "02C1");
    f.state = TQ_STATE_REJECTED;
    expect(&f, "05", TQ_LIST_BY_OFFICE);
    f.state = -1;
    expect(&f, "04 05 08", TQ_LIST_BY_OFFICE);
    snprintf(f.office, sizeof f.office, "99Z9");
    expect(&f, "", TQ_LIST_BY_OFFICE);
}

/* The held table's rows are what the office index and the cover give: rows, covered
 * and age alike, after puts that move declarations in and out of HELD and across
 * offices and payments that change a held declaration's cover. */
Test(list, held_table_gives_what_the_office_index_gives, .init = fixture, .fini = teardown)
{
    tq_txn *t;
    cr_assert_eq(tq_txn_begin(g_s, 0, &t), TQ_OK);
    tq_decl d;
    cr_assert_eq(tq_store_get_decl(t, "100000000006", &d), TQ_OK);
    d.state = TQ_STATE_CLEARED;                              /* leaves HELD */
    cr_assert_eq(tq_store_put_decl(t, &d), TQ_OK);
    cr_assert_eq(tq_store_get_decl(t, "100000000002", &d), TQ_OK);
    d.state = TQ_STATE_HELD;                                 /* enters HELD */
    cr_assert_eq(tq_store_put_decl(t, &d), TQ_OK);
    cr_assert_eq(tq_store_get_decl(t, "100000000004", &d), TQ_OK);
    memcpy(d.office, "01B1", 5);                             /* changes office, HELD */
    cr_assert_eq(tq_store_put_decl(t, &d), TQ_OK);
    pay(t, "100000000004", "KB-4b", TQ_PAY, 7, NULL);         /* a held one's cover */
    pay(t, "100000000003", "BL-3b", TQ_GUARANTEE, 5, "2024-09-30");
    cr_assert_eq(tq_txn_commit(t), TQ_OK);
    const char *offices[] = {"01B1", "02C1", "99Z9"};
    for (int o = 0; o < 3; o++) {
        tq_list_filter f;
        tq_list_filter_init(&f);
        f.state = TQ_STATE_HELD;
        got via_held = {0}, via_walk = {0};
        tq_list_stats st;
        cr_assert_eq(run(&f, &via_walk, &st), TQ_OK);        /* every office: a walk */
        cr_assert_eq(st.way, TQ_LIST_FULL_WALK);
        snprintf(f.office, sizeof f.office, "%s", offices[o]);
        cr_assert_eq(run(&f, &via_held, &st), TQ_OK);
        cr_assert_eq(st.way, TQ_LIST_BY_HELD);
        /* the walk's rows of this office, in order, with their covered and age */
        got want = {0};
        cr_assert_eq(tq_txn_begin(g_s, 1, &t), TQ_OK);
        for (int i = 0, w = 0; i < via_walk.n; i++) {
            char no[13];
            snprintf(no, sizeof no, "1000000000%.2s", via_walk.s + 3 * i);
            cr_assert_eq(tq_store_get_decl(t, no, &d), TQ_OK);
            if (strcmp(d.office, offices[o]) != 0)
                continue;
            size_t len = strlen(want.s);
            snprintf(want.s + len, sizeof want.s - len, "%s%s", len ? " " : "", no + 10);
            want.covered[w] = via_walk.covered[i];
            want.age[w++] = via_walk.age[i];
            want.n = w;
        }
        tq_txn_abort(t);
        cr_expect_str_eq(via_held.s, want.s, "office %s", offices[o]);
        cr_expect_eq(via_held.n, want.n);
        for (int i = 0; i < want.n; i++)
            cr_expect(via_held.covered[i] == want.covered[i] && via_held.age[i] == want.age[i],
                      "office %s row %d: covered and age as the walk gives", offices[o], i);
    }
    /* covered of 04 (PAY 100 + 7, its guarantee expired) and 03 (200 + 400 + 5) */
    tq_list_filter f;
    tq_list_filter_init(&f);
    snprintf(f.office, sizeof f.office, "01B1");
    f.state = TQ_STATE_HELD;
    got g = {0};
    cr_assert_eq(run(&f, &g, NULL), TQ_OK);
    cr_expect(g.covered[2] == 605 && g.covered[3] == 107, "covered kept up by payments");
}

Test(list, declarant_beats_office, .init = fixture, .fini = teardown)
{
    tq_list_filter f;
    tq_list_filter_init(&f);
    snprintf(f.declarant, sizeof f.declarant, "0101234567");
    expect(&f, "01 02 07 08", TQ_LIST_BY_DECLARANT);
    snprintf(f.office, sizeof f.office, "01B1");     /* re-checked on each row */
    expect(&f, "01 02 07", TQ_LIST_BY_DECLARANT);
}

Test(list, permit_beats_declarant_and_office, .init = fixture, .fini = teardown)
{
    tq_list_filter f;
    tq_list_filter_init(&f);
    snprintf(f.permit, sizeof f.permit, "P-1");
    expect(&f, "01 02 05", TQ_LIST_BY_PERMIT);
    snprintf(f.declarant, sizeof f.declarant, "0101234567");
    snprintf(f.office, sizeof f.office, "01B1");
    f.state = TQ_STATE_HELD;
    expect(&f, "01", TQ_LIST_BY_PERMIT);
}

Test(list, reasons_are_any_of_and_only_those_shown, .init = fixture, .fini = teardown)
{
    tq_list_filter f;
    tq_list_filter_init(&f);
    f.reasons = TQ_R_PERMIT_EXPIRED | TQ_R_AWAIT_OFFICER;
    expect(&f, "01 03 06 08", 0);
    /* 05 is REJECTED with a stale TAX_SHORT recorded: a rejected one shows no reason */
    f.reasons = TQ_R_TAX_SHORT;
    expect(&f, "03 04", 0);
}

Test(list, registered_before_is_strict, .init = fixture, .fini = teardown)
{
    tq_list_filter f;
    tq_list_filter_init(&f);
    f.has_before = 1;
    f.registered_before.sec = T0 + 2 * 3600;   /* 03 registered exactly then: not before */
    expect(&f, "01 02", 0);
    f.registered_before.nsec = 1;
    expect(&f, "01 02 03", 0);
}

Test(list, tax_paid_counts_guarantees_valid_on_the_registration_day, .init = fixture,
     .fini = teardown)
{
    tq_list_filter f;
    tq_list_filter_init(&f);
    f.tax_paid = 1;
    /* 01 paid 100 of 100; 03 paid 200 + a 400 guarantee valid on its day, of 500; 04 has
     * 100 and a guarantee that expired before its day, of 300: not paid; 02 paid but
     * CLEARED; 05, 07 and 08 owe nothing (REJECTED, CANCELLED, HELD): 0 >= 0 */
    got g = {0};
    cr_assert_eq(run(&f, &g, NULL), TQ_OK);
    cr_expect_str_eq(g.s, "01 03 05 07 08");
    cr_expect(g.covered[0] == 100 && g.covered[1] == 600, "covered as counted");
    f.state = TQ_STATE_HELD;
    expect(&f, "01 03 08", 0);
}

Test(list, filters_combine, .init = fixture, .fini = teardown)
{
    tq_list_filter f;
    tq_list_filter_init(&f);
    snprintf(f.office, sizeof f.office, "01B1");
    f.state = TQ_STATE_HELD;
    f.reasons = TQ_R_PERMIT_EXPIRED;
    f.tax_paid = 1;
    expect(&f, "01 03", TQ_LIST_BY_HELD);
    f.has_before = 1;
    f.registered_before.sec = T0 + 1;
    expect(&f, "01", TQ_LIST_BY_HELD);
}

Test(list, limit_stops_and_fn_value_is_returned, .init = fixture, .fini = teardown)
{
    tq_list_filter f;
    tq_list_filter_init(&f);
    f.limit = 3;
    expect(&f, "01 02 03", 0);
    f.limit = 0;
    got g = {.stop_at = 2};
    cr_expect_eq(run(&f, &g, NULL), 42);
    cr_expect_str_eq(g.s, "01 02");
}

Test(list, age_counts_to_as_of, .init = fixture, .fini = teardown)
{
    tq_list_filter f;
    tq_list_filter_init(&f);
    snprintf(f.permit, sizeof f.permit, "P-2");
    f.as_of.sec = T0 + 6 * 3600;
    got g = {0};
    cr_assert_eq(run(&f, &g, NULL), TQ_OK);
    cr_assert_str_eq(g.s, "03 06");
    cr_expect_eq(g.age[0], 4 * 3600);
    cr_expect_eq(g.age[1], 3600);
}

Test(list, malformed_filters_are_refused, .init = fixture, .fini = teardown)
{
    tq_list_filter f;
    tq_diag d;
    memset(&d, 0, sizeof d);
    tq_list_filter_init(&f);
    snprintf(f.office, sizeof f.office, "01b1");
    cr_expect_eq(tq_list_check(&f, &d), TQ_ERR_INPUT);
    cr_expect_str_eq(d.field, "office");
    got g = {0};
    cr_expect_eq(run(&f, &g, NULL), TQ_ERR_INPUT);
    tq_list_filter_init(&f);
    snprintf(f.declarant, sizeof f.declarant, "12345");
    cr_expect_eq(tq_list_check(&f, NULL), TQ_ERR_INPUT);
    tq_list_filter_init(&f);
    f.state = TQ_STATE_PENDING;
    cr_expect_eq(tq_list_check(&f, NULL), TQ_ERR_INPUT);
}

/* ---- the worklists' library entry, on what only the store can hold ---- */

static char *slurp(const char *path)
{
    static char buf[4096];
    FILE *f = fopen(path, "r");
    cr_assert_not_null(f, "%s missing", path);
    size_t n = fread(buf, 1, sizeof buf - 1, f);
    buf[n] = '\0';
    fclose(f);
    return buf;
}

Test(list, worklist_puts_declarations_without_an_office_in_office_unknown, .init = fixture,
     .fini = teardown)
{
    /* a declaration stored before format 3 has no office: its own file, not lost */
    tq_txn *t;
    cr_assert_eq(tq_txn_begin(g_s, 0, &t), TQ_OK);
    tq_decl d = decl("100000000009", "", "0101234567", TQ_STATE_HELD, TQ_R_PERMIT_MISSING, 0,
                     T0, "P-9");
    cr_assert_eq(tq_store_put_decl(t, &d), TQ_OK);
    cr_assert_eq(tq_txn_commit(t), TQ_OK);
    tq_worklist_opts o = {.deadline = 7200};
    o.as_of.sec = T0 + 3600;
    tq_worklist_stats st;
    tq_diag dg;
    memset(&dg, 0, sizeof dg);
    int rc = tq_worklist_write(g_s, path_in("wl/today"), &o, &st, &dg);
    cr_assert_eq(rc, TQ_OK, "%s: %s", tq_strerror(rc), dg.why);
    cr_expect_str_eq(slurp(path_in("wl/today/office-unknown.csv")),
                     "decl_no,office,kind,declarant,registered_at,age,deadline_at,"
                     "deadline_passed,reasons,permits,permit_problems\n"
                     "100000000009,,A11,0101234567,2024-08-06T09:00:00+07:00,1h00m,"
                     "2024-08-06T11:00:00+07:00,no,PERMIT_MISSING,P-9,P-9:missing\n");
    /* 01B1: 01, 03 (expired as stored), 06 (officer); 02C1: 08; unknown: 09 */
    cr_expect_eq(st.rows, 5);
    cr_expect_eq(st.files, 4, "three office files and tax-paid-held.csv, got %llu",
                 (unsigned long long)st.files);
    /* a second run refuses to replace them */
    cr_expect_eq(tq_worklist_write(g_s, path_in("wl/today"), &o, &st, &dg), TQ_ERR_EXISTS);
    cr_expect(strstr(dg.why, "exists") != NULL, "%s", dg.why);
}

/* ---- parsers and formatters ---- */

Test(list_text, durations)
{
    int64_t s;
    cr_expect(tq_list_parse_duration("90m", &s) == TQ_OK && s == 5400);
    cr_expect(tq_list_parse_duration("2h", &s) == TQ_OK && s == 7200);
    cr_expect(tq_list_parse_duration("3d", &s) == TQ_OK && s == 3 * 86400);
    cr_expect(tq_list_parse_duration("45s", &s) == TQ_OK && s == 45);
    const char *bad[] = {"", "h", "2", "2x", "-2h", "2h30m", " 2h", "2H", "999999999999999999d"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        cr_expect_eq(tq_list_parse_duration(bad[i], &s), TQ_ERR_INPUT, "'%s'", bad[i]);
}

Test(list_text, reasons_and_states)
{
    uint32_t b;
    const char *badp;
    cr_expect(tq_list_parse_reasons("PERMIT_HS,await_officer", &b, &badp) == TQ_OK &&
              b == (TQ_R_PERMIT_HS | TQ_R_AWAIT_OFFICER));
    cr_expect_eq(tq_list_parse_reasons("TAX_SHORT,NOPE", &b, &badp), TQ_ERR_INPUT);
    cr_expect_str_eq(badp, "NOPE");
    cr_expect_eq(tq_list_parse_reasons("TAX_SHORT,", &b, &badp), TQ_ERR_INPUT);
    int st;
    cr_expect(tq_list_parse_state("held", &st) == TQ_OK && st == TQ_STATE_HELD);
    cr_expect_eq(tq_list_parse_state("PENDING", &st), TQ_ERR_INPUT);
}

Test(list_text, instants_ages_and_permits)
{
    tq_instant t;
    cr_assert_eq(tq_list_parse_instant("2024-08-06", &t, NULL), TQ_OK);
    cr_expect_eq(t.sec, T0 - 9 * 3600);         /* midnight in Vietnam */
    cr_assert_eq(tq_list_parse_instant("2024-08-06T09:00:00+07:00", &t, NULL), TQ_OK);
    cr_expect_eq(t.sec, T0);
    cr_expect_eq(tq_list_parse_instant("2024-08-06T09:00:00", &t, NULL), TQ_ERR_INPUT);
    tq_diag dd = {0};
    cr_expect_eq(tq_list_parse_instant("2024-13-06", &t, &dd), TQ_ERR_INPUT);
    cr_expect(dd.why[0] != '\0', "a bad date says why");
    char out[48];
    tq_time_format_vn(t, out);
    cr_expect_str_eq(out, "2024-08-06T09:00:00+07:00");
    char age[32];
    tq_list_format_age(3 * 86400 + 4 * 3600 + 5 * 60 + 59, age);
    cr_expect_str_eq(age, "3d04h05m");
    tq_list_format_age(2 * 3600 + 15 * 60, age);
    cr_expect_str_eq(age, "2h15m");
    tq_list_format_age(-420, age);
    cr_expect_str_eq(age, "-7m");
    static const struct { int64_t sec; const char *want; } ages[] = {
        {0, "0m"}, {59, "0m"}, {3600, "1h00m"}, {86400, "1d00h00m"}, {-90061, "-1d01h01m"},
        {INT64_MIN, "-106751991167300d15h30m"}, {INT64_MAX, "106751991167300d15h30m"},
    };
    for (size_t i = 0; i < sizeof ages / sizeof ages[0]; i++) {
        tq_list_format_age(ages[i].sec, age);
        cr_expect_str_eq(age, ages[i].want, "age of %lld s", (long long)ages[i].sec);
    }
    tq_decl d = decl("100000000001", "01B1", "0101234567", 2, 0, 0, T0, "P-1");
    d.nlines = 3;
    d.lines[1] = d.lines[0];
    snprintf(d.lines[2].permit, sizeof d.lines[2].permit, "Q/9");
    char p[TQ_LIST_PERMITS_MAX + 1];
    tq_list_format_permits(&d, p, sizeof p);
    cr_expect_str_eq(p, "P-1|Q/9");
    cr_expect_eq(tq_list_format_permits(&d, p, 5), 3u);   /* cut short, never past cap */
    cr_expect_str_eq(p, "P-1");
}

/* One line of `list --csv`, every column, exactly (the CLI and the bench write it). */
Test(list_text, csv_row_has_every_column)
{
    tq_decl d = tq_test_decl("100000000011", "01B1", "0101234567", TQ_STATE_HELD);
    d.registered = (tq_instant){.sec = 1722911402};     /* 2024-08-06T09:30:02+07:00 */
    d.tax_due = 12500000;
    d.nlines = 2;
    d.lines[1] = d.lines[0];
    snprintf(d.lines[0].permit, sizeof d.lines[0].permit, "BKHCN.2024.1");
    snprintf(d.lines[1].permit, sizeof d.lines[1].permit, "BYT.7");
    tq_list_row row = {.decl = &d, .reasons = TQ_R_TAX_SHORT | TQ_R_PERMIT_EXPIRED,
                       .covered = (tq_u128)12000000, .age = 2 * 86400 + 3660};
    char line[TQ_LIST_CSV_MAX + 1];
    size_t n = tq_list_csv_row(&row, line);
    line[n] = '\0';
    cr_expect_str_eq(line, "100000000011,01B1,A11,0101234567,HELD,TAX_SHORT|PERMIT_EXPIRED,"
                           "2024-08-06T09:30:02+07:00,2d01h01m,12500000,12000000,"
                           "BKHCN.2024.1|BYT.7\n");
    d.office[0] = d.kind[0] = '\0';
    row.reasons = 0;
    n = tq_list_csv_row(&row, line);
    line[n] = '\0';
    cr_expect_str_eq(line, "100000000011,,,0101234567,HELD,,2024-08-06T09:30:02+07:00,"
                           "2d01h01m,12500000,12000000,BKHCN.2024.1|BYT.7\n");
}
