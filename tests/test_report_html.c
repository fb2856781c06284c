/* test_report_html.c - Criterion suite for the HTML report (engine/tq_report_html.h) and
 * its collector (engine/tq_report.h): escaping and UTF-8 repair of anything printed
 * from data, lists cut at TQ_REPORT_ROWS with the CSV that has the rest named, numbers
 * and times for people, the batch points' fixed memory, the age buckets, the top
 * offices, and the page written through tq_out. */
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "tq_report.h"
#include "tq_testdir.h"

TQ_TESTDIR_SUITE(report_html, "tq_report_html", 60);

/* text() - what tq_report_html_text() writes for s (static buffer). */
static const char *text(const char *s)
{
    static char *buf;
    size_t len;
    free(buf);
    FILE *f = open_memstream(&buf, &len);
    cr_assert_not_null(f);
    tq_report_html_text(f, s);
    fclose(f);
    return buf;
}

/* page() - the whole page of r, malloc'd. */
static char *page(const tq_report *r)
{
    char *buf;
    size_t len;
    FILE *f = open_memstream(&buf, &len);
    cr_assert_not_null(f);
    cr_assert_eq(tq_report_html_print(f, r), 0);
    fclose(f);
    return buf;
}

/* expect_page() - the page of r holds each text of has and none of lacks (NULL-ended
 * lists; NO_TEXT for none). */
static void expect_page(const tq_report *r, const char *const *has, const char *const *lacks)
{
    char *p = page(r);
    for (; *has != NULL; has++)
        cr_assert_not_null(strstr(p, *has), "the page lacks '%s'", *has);
    for (; *lacks != NULL; lacks++)
        cr_assert_null(strstr(p, *lacks), "the page holds '%s'", *lacks);
    free(p);
}

/* TEXTS(...) - a NULL-ended list of texts for expect_page(); NO_TEXT the empty one. */
#define TEXTS(...) ((const char *const[]){__VA_ARGS__, NULL})
#define NO_TEXT ((const char *const[]){NULL})

/* valid_utf8() - 1 when s is valid UTF-8 with no C0 control but tab and newline. */
static int valid_utf8(const char *s)
{
    const unsigned char *p = (const unsigned char *)s;
    while (*p) {
        unsigned c = *p, cp, n;
        if (c < 0x80) {
            if (c < 0x20 && c != '\t' && c != '\n')
                return 0;
            p++;
            continue;
        }
        n = c >= 0xF0 ? 3 : c >= 0xE0 ? 2 : c >= 0xC0 ? 1 : 9;
        if (n == 9 || c > 0xF4)
            return 0;
        cp = c & (0x3F >> n);
        for (unsigned i = 1; i <= n; i++) {
            if ((p[i] & 0xC0) != 0x80)
                return 0;
            cp = cp << 6 | (p[i] & 0x3F);
        }
        if ((n == 1 && cp < 0x80) || (n == 2 && cp < 0x800) || (n == 3 && cp < 0x10000) ||
            cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF))
            return 0;
        p += n + 1;
    }
    return 1;
}

static tq_report *new_report(const char *title)
{
    tq_report *r = malloc(sizeof *r);
    cr_assert_not_null(r);
    tq_report_init(r, title, (tq_instant){1722913200, 0});   /* 2024-08-06T03:00:00Z */
    return r;
}

#define FFFD "\xEF\xBF\xBD"

Test(report_html, escapes_markup)
{
    cr_assert_str_eq(text("<script>alert(\"x\")</script>&'"),
                     "&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt;&amp;&#39;");
    cr_assert_str_eq(text("a\tb\nc"), "a\tb\nc");
    cr_assert_str_eq(text(NULL), "");
}

Test(report_html, repairs_invalid_utf8)
{
    cr_assert_str_eq(text("\xC4\x91\xE1\xBB\x93ng"), "\xC4\x91\xE1\xBB\x93ng");  /* đồng */
    cr_assert_str_eq(text("\xF0\x9F\x93\xA6"), "\xF0\x9F\x93\xA6");             /* U+1F4E6 */
    cr_assert_str_eq(text("a\xFF" "b"), "a" FFFD "b");
    cr_assert_str_eq(text("\xC0\xAF"), FFFD FFFD);             /* overlong '/' */
    cr_assert_str_eq(text("\xE0\x80\xBC"), FFFD FFFD FFFD);     /* overlong '<' */
    cr_assert_str_eq(text("\xED\xA0\x80"), FFFD FFFD FFFD);     /* a surrogate */
    cr_assert_str_eq(text("\xF4\x90\x80\x80"), FFFD FFFD FFFD FFFD);   /* > U+10FFFF */
    /* a sequence cut short is one maximal subpart: one U+FFFD, as the JSON writer does
     * (formats/tq_utf8.h) */
    cr_assert_str_eq(text("x\xE2\x82"), "x" FFFD);              /* cut short at the end */
    cr_assert_str_eq(text("\xE2\x82<"), FFFD "&lt;");           /* cut short before '<' */
    cr_assert_str_eq(text("\xE2\x82\xE2\x82\xAC"), FFFD "\xE2\x82\xAC");  /* then a euro sign */
    cr_assert_str_eq(text("\x01\x1B[31m\x7F"), FFFD FFFD "[31m" FFFD);   /* C0, DEL */
    cr_assert_str_eq(text("\xC2\x85"), FFFD);                   /* C1 control */
}

Test(report_html, hostile_data_adds_no_markup)
{
    const char *evil = "<img src=x onerror=alert(1)>\xFF\xC0<a href=\"http://e.vn\">";
    tq_report *r = new_report(evil);
    r->have_store = 1;
    r->declarations = 1;
    r->by_state[TQ_STATE_HELD] = 1;
    snprintf(r->office[0].office, sizeof r->office[0].office, "<i>");
    r->office[0].held = 1;
    r->noffices = 1;
    tq_report_fact(r, evil, "%s", evil);
    tq_report_row(r, TQ_LIST_UNKNOWN, (const char *const[]){evil, evil, evil, evil}, 4);
    snprintf(r->list[TQ_LIST_UNKNOWN].rest, sizeof r->list[0].rest, "%s", evil);
    char *p = page(r);
    cr_assert(valid_utf8(p), "the page is not valid UTF-8");
    cr_assert_null(strstr(p, "<img"));
    cr_assert_null(strstr(p, "<a "));
    cr_assert_null(strstr(p, "<i>"));
    cr_assert_not_null(strstr(p, "&lt;i&gt;"));
    cr_assert_null(strstr(p, "=\"http"));       /* as text it is harmless */
    cr_assert_null(strstr(p, "<script"));
    cr_assert_not_null(strstr(p, "&lt;img src=x onerror=alert(1)&gt;" FFFD FFFD));
    free(p);
    free(r);
}

Test(report_html, lists_cut_at_rows_naming_the_csv)
{
    tq_report *r = new_report("t");
    char no[16];
    for (int i = 0; i < 120; i++) {
        snprintf(no, sizeof no, "1000000%05d", i);
        tq_report_row(r, TQ_LIST_CLEARED, (const char *const[]){no}, 1);
    }
    snprintf(r->list[TQ_LIST_CLEARED].rest, sizeof r->list[0].rest, "lists/cleared_now.csv");
    cr_assert_eq(r->list[TQ_LIST_CLEARED].total, 120);
    cr_assert_eq(r->list[TQ_LIST_CLEARED].shown, TQ_REPORT_ROWS);
    /* the 50th row, not the 51st */
    expect_page(r,
                TEXTS("100000000049", "Cleared now: 120",
                      "The first 50 of 120 are shown; the whole list: <b>lists/cleared_now.csv</b>"),
                TEXTS("100000000050"));
    /* a short list says nothing of a rest; a reset list starts again */
    tq_report_lists_reset(r);
    tq_report_row(r, TQ_LIST_CLEARED, (const char *const[]){"100000000777"}, 1);
    expect_page(r, TEXTS("100000000777"), TEXTS("are shown", "100000000001"));
    free(r);
}

Test(report_html, numbers_and_times_for_people)
{
    char b[32];
    cr_assert_str_eq(tq_report_group(0, b), "0");
    cr_assert_str_eq(tq_report_group(999, b), "999");
    cr_assert_str_eq(tq_report_group(15000, b), "15,000");
    cr_assert_str_eq(tq_report_group(1234567, b), "1,234,567");
    cr_assert_str_eq(tq_report_group(UINT64_MAX, b), "18,446,744,073,709,551,615");
    cr_assert_str_eq(tq_report_vn_time((tq_instant){0, 0}, b), "1970-01-01 07:00:00 +07:00");
    cr_assert_str_eq(tq_report_vn_time((tq_instant){-25201, 0}, b),
                     "1969-12-31 23:59:59 +07:00");
    cr_assert_str_eq(tq_report_vn_time((tq_instant){1722913200, 5}, b),
                     "2024-08-06 10:00:00 +07:00");
    /* Vietnam midnight, and the second before: the day turns at 17:00 UTC. */
    cr_assert_str_eq(tq_report_vn_time((tq_instant){1722963599, 0}, b),
                     "2024-08-06 23:59:59 +07:00");
    cr_assert_str_eq(tq_report_vn_time((tq_instant){1722963600, 0}, b),
                     "2024-08-07 00:00:00 +07:00");
    tq_report *r = new_report("t");
    cr_assert_eq(tq_report_as_of(r, "2024-08-07T01:00:00Z", NULL), TQ_OK);
    tq_diag d;
    memset(&d, 0, sizeof d);
    cr_assert_eq(tq_report_as_of(r, "2024-08-07 08:00", &d), TQ_ERR_INPUT);
    cr_assert_not_null(strstr(d.why, "2024-08-07 08:00"));
    r->have_store = 1;
    r->declarations = 15000;
    r->by_state[TQ_STATE_CLEARED] = 11718;
    r->age[TQ_AGE_OLDER] = 3056;
    tq_report_row(r, TQ_LIST_REFUND,
                  (const char *const[]){"100000000001", "12,500,000", "13,000,000", "500,000"},
                  4);
    expect_page(r,
                TEXTS("<b>15,000</b>", "11,718", "3,056", "As of 2024-08-07 08:00:00 +07:00",
                      "<td class=\"n\">12,500,000</td>"),
                NO_TEXT);
    free(r);
}

Test(report_html, batches_keep_fixed_memory_and_exact_totals)
{
    tq_report *r = new_report("t");
    r->batch_base = 100;
    for (uint64_t i = 1; i <= 1000; i++)
        tq_report_batch(r, (double)i / 100, 100 + i * 7);
    cr_assert_leq(r->nbatches, TQ_REPORT_BATCHES);
    cr_assert_geq(r->nbatches, TQ_REPORT_BATCHES / 2);
    cr_assert_eq(r->batch_seq[r->nbatches - 1], 7100);     /* the last point is kept */
    for (uint32_t i = 1; i < r->nbatches; i++)
        cr_assert_gt(r->batch_seq[i], r->batch_seq[i - 1]);
    expect_page(r, TEXTS("7,000 events in 10.000 s", "fastest batch 700 events/s"), NO_TEXT);
    /* a point not past the base (a frame an earlier run applied) counts no events */
    tq_report_init(r, "t", (tq_instant){0, 0});
    r->batch_base = 500;
    tq_report_batch(r, 1.0, 400);
    tq_report_batch(r, 2.0, 600);
    expect_page(r, TEXTS("2 batches, 100 events in 2.000 s"), NO_TEXT);
    free(r);
}

Test(report_html, age_buckets)
{
    tq_instant now = {1000000, 0};
    int64_t h = 3600;
    cr_assert_eq(tq_report_age_bucket((tq_instant){now.sec + 5, 0}, now), TQ_AGE_2H);
    cr_assert_eq(tq_report_age_bucket((tq_instant){now.sec - 2 * h + 1, 0}, now), TQ_AGE_2H);
    cr_assert_eq(tq_report_age_bucket((tq_instant){now.sec - 2 * h, 0}, now), TQ_AGE_6H);
    cr_assert_eq(tq_report_age_bucket((tq_instant){now.sec - 6 * h, 0}, now), TQ_AGE_24H);
    cr_assert_eq(tq_report_age_bucket((tq_instant){now.sec - 24 * h, 0}, now), TQ_AGE_3D);
    cr_assert_eq(tq_report_age_bucket((tq_instant){now.sec - 72 * h + 1, 0}, now), TQ_AGE_3D);
    cr_assert_eq(tq_report_age_bucket((tq_instant){now.sec - 72 * h, 0}, now), TQ_AGE_OLDER);
}

static void put(tq_txn *t, int n, const char *office, int state, int64_t reg)
{
    tq_decl d;
    memset(&d, 0, sizeof d);
    snprintf(d.decl_no, sizeof d.decl_no, "1%011d", n);
    snprintf(d.declarant, sizeof d.declarant, "0101234567");
    snprintf(d.office, sizeof d.office, "%s", office);
    snprintf(d.kind, sizeof d.kind, "A11");
    d.state = (uint8_t)state;
    d.channel = 1;
    d.reasons = state == TQ_STATE_HELD ? TQ_R_TAX_SHORT | TQ_R_AWAIT_OFFICER : 0;
    d.registered.sec = reg;
    d.reg_day = tq_instant_vn_day(d.registered);
    cr_assert_eq(tq_store_put_decl(t, &d), TQ_OK);
}

/* new_store() - a new store "db" in the test's directory, a write transaction on it in
 * *t. */
static tq_store *new_store(tq_txn **t)
{
    tq_store *s;
    cr_assert_eq(tq_store_open(path_in("db"), TQ_STORE_WRITE | TQ_STORE_NOSYNC, NULL, &s, NULL),
                 TQ_OK);
    cr_assert_eq(tq_txn_begin(s, 0, t), TQ_OK);
    return s;
}

/* The collector: 20 offices with 1..20 held (office Onn holds nn), some cleared: the top
 * 15 offices most first, the 5 others summed (1+2+3+4+5), states, reasons and ages. */
Test(report_html, collect_top_offices_states_ages)
{
    tq_txn *t;
    tq_store *s = new_store(&t);
    int n = 0;
    uint64_t want_age[TQ_AGE_BUCKETS] = {0};
    tq_instant as_of = {1722913200, 0};
    for (int o = 1; o <= 20; o++) {
        char office[5];
        snprintf(office, sizeof office, "O%03d", o);
        static const int64_t age[5] = {60, 3 * 3600, 8 * 3600, 30 * 3600, 5 * 86400};
        for (int k = 0; k < o; k++) {   /* ages: one per bucket in turn */
            n++;
            put(t, n, office, TQ_STATE_HELD, as_of.sec - age[n % 5]);
            want_age[n % 5]++;
        }
        put(t, ++n, office, TQ_STATE_CLEARED, as_of.sec - 60);
    }
    cr_assert_eq(tq_txn_commit(t), TQ_OK);
    tq_report *r = new_report("t");
    r->as_of = as_of;
    tq_diag d;
    memset(&d, 0, sizeof d);
    cr_assert_eq(tq_report_collect_store(s, r, &d), TQ_OK, "%s", d.why);
    tq_store_close(s);
    cr_assert(r->have_store);
    cr_assert_eq(r->declarations, 230);
    cr_assert_eq(r->by_state[TQ_STATE_HELD], 210);
    cr_assert_eq(r->by_state[TQ_STATE_CLEARED], 20);
    cr_assert_eq(r->held_by_reason[0], 210);      /* TAX_SHORT */
    cr_assert_eq(r->held_by_reason[6], 210);      /* AWAIT_OFFICER */
    cr_assert_eq(r->held_by_reason[1], 0);
    for (int i = 0; i < TQ_AGE_BUCKETS; i++)
        cr_assert_eq(r->age[i], want_age[i], "bucket %d: %llu", i,
                     (unsigned long long)r->age[i]);
    cr_assert_eq(r->noffices, TQ_REPORT_TOP);
    for (int i = 0; i < TQ_REPORT_TOP; i++) {
        char want[5];
        snprintf(want, sizeof want, "O%03d", 20 - i);
        cr_assert_str_eq(r->office[i].office, want);
        cr_assert_eq(r->office[i].held, (uint64_t)(20 - i));
    }
    cr_assert_eq(r->other_offices, 5);
    cr_assert_eq(r->other_held, 15);
    expect_page(r, TEXTS("The 5 other offices hold 15."), NO_TEXT);
    free(r);
}

/* The page goes through tq_out: written whole at its name; a directory is refused and
 * nothing is left behind. */
Test(report_html, write_through_tq_out)
{
    tq_report *r = new_report("Replay of backlog.tqj");
    tq_diag d;
    memset(&d, 0, sizeof d);
    cr_assert_eq(tq_report_html_write(r, path_in("r.html"), &d), TQ_OK, "%s", d.why);
    struct stat sb;
    cr_assert_eq(stat(path_in("r.html"), &sb), 0);
    cr_assert_gt(sb.st_size, 1000);
    cr_assert_eq(mkdir(path_in("dir"), 0700), 0);
    cr_assert_neq(tq_report_html_write(r, path_in("dir"), &d), TQ_OK);
    free(r);
}

/* Offices with as many held: the first in office order are named, the last summed. */
Test(report_html, collect_ties_go_by_office_order)
{
    tq_txn *t;
    tq_store *s = new_store(&t);
    for (int o = 1; o <= TQ_REPORT_TOP + 2; o++) {
        char office[5];
        snprintf(office, sizeof office, "T%03d", o);
        put(t, o, office, TQ_STATE_HELD, 1722913200);
    }
    cr_assert_eq(tq_txn_commit(t), TQ_OK);
    tq_report *r = new_report("t");
    cr_assert_eq(tq_report_collect_store(s, r, NULL), TQ_OK);
    tq_store_close(s);
    cr_assert_eq(r->noffices, TQ_REPORT_TOP);
    cr_assert_str_eq(r->office[0].office, "T001");
    cr_assert_str_eq(r->office[TQ_REPORT_TOP - 1].office, "T015");
    cr_assert_eq(r->other_offices, 2);
    cr_assert_eq(r->other_held, 2);
    free(r);
}

/* A version 1 database read as it is (a reader never upgrades) has no office index:
 * the rest is collected, and the page says why the offices are missing. */
Test(report_html, collect_old_database_without_office_index)
{
    char dir[256], cmd[600];
    snprintf(dir, sizeof dir, "%s/v1", g_dir);
    snprintf(cmd, sizeof cmd, "mkdir -p '%s' && cp '%s/tests/data/store-v1/data.mdb' '%s/'",
             dir, TQ_SOURCE_DIR, dir);
    cr_assert_eq(system(cmd), 0);
    tq_store *s;
    cr_assert_eq(tq_store_open(dir, 0, NULL, &s, NULL), TQ_OK);
    tq_report *r = new_report("t");
    tq_diag d;
    memset(&d, 0, sizeof d);
    cr_assert_eq(tq_report_collect_store(s, r, &d), TQ_OK, "%s", d.why);
    tq_store_close(s);
    cr_assert(r->have_store);
    cr_assert(r->offices_unknown);
    cr_assert_eq(r->declarations, 50);
    expect_page(r, TEXTS("keeps no office index"), NO_TEXT);
    free(r);
}
