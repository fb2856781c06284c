/* test_ndjson.c - the strict NDJSON event codec and the bounded line reader. */
#include <criterion/criterion.h>
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tq_ndjson.h"
#include "tq_testfiles.h"
#include "tq_testrec.h"

/* with(base, from, to): base with from replaced by to (tq_testrec.h) */
#define with tq_test_with


/* The example of SPEC §2.1, in canonical key order. */
static const char *DECL =
    "{\"ev\":\"DECL\",\"decl_no\":\"103456789012\",\"kind\":\"A11\",\"office\":\"01B1\","
    "\"declarant\":\"0101234567\",\"registered_at\":\"2024-08-06T09:15:00+07:00\","
    "\"channel\":1,\"tax_due\":12500000,\"lines\":[{\"hs\":\"85171300\",\"qty\":100,"
    "\"value\":250000000,\"permit\":\"GCN-2024-000123\"},{\"hs\":\"39269099\",\"qty\":5,"
    "\"value\":1000000}]}";

/* ------------------------------------------------------------------ helpers */

/* base with the first occurrence of `from` replaced by `to`, in one of a few rotating
 * static buffers (enough for the nesting the tests use). */
/* Parses from an exact-size heap copy so that ASan catches any read past len. */
static int parse_n(const char *s, size_t n, uint64_t seq, tq_event *ev, tq_diag *d)
{
    char *copy = tq_test_exact_copy(s, n);
    memset(d, 0, sizeof *d);
    int rc = tq_ndjson_parse_event(copy, n, seq, ev, d);
    free(copy);
    return rc;
}

static int parse(const char *s, uint64_t seq, tq_event *ev, tq_diag *d)
{
    return parse_n(s, strlen(s), seq, ev, d);
}

static void ok(const char *s, tq_event *ev)
{
    tq_diag d;
    int rc = parse(s, 1, ev, &d);
    cr_assert_eq(rc, TQ_OK, "should parse: %s\n  got field '%s': %s", s, d.field, d.why);
}

/* Refused, naming `field`, with `why` contained in the reason (NULL: any reason). */
static void bad(const char *s, const char *field, const char *why)
{
    tq_event ev;
    tq_diag d;
    int rc = parse(s, 1, &ev, &d);
    cr_assert_eq(rc, TQ_ERR_INPUT, "should be refused: %s", s);
    cr_expect_str_eq(d.field, field, "field '%s' (want '%s'): %s\n  line: %s", d.field, field,
                     d.why, s);
    if (why != NULL)
        cr_expect(strstr(d.why, why) != NULL, "why '%s' lacks '%s'\n  line: %s", d.why, why, s);
}

static void bad_exact(const char *s, const char *field, const char *why)
{
    tq_event ev;
    tq_diag d;
    cr_assert_eq(parse(s, 1, &ev, &d), TQ_ERR_INPUT, "should be refused: %s", s);
    cr_expect_str_eq(d.field, field);
    cr_expect_str_eq(d.why, why);
}

/* expect_event_eq() - every member the same (tq_test_event_equal()). */
static void expect_event_eq(const tq_event *a, const tq_event *b)
{
    cr_expect(tq_test_event_equal(a, b), "the events differ: seq %llu and %llu, decl_no %s and %s",
              (unsigned long long)a->seq, (unsigned long long)b->seq, a->decl_no, b->decl_no);
}

/* format -> parse gives the same event, and formatting that gives the same bytes. */
static void expect_round_trip(const tq_event *ev, int with_seq)
{
    static char out[TQ_NDJSON_LINE_MAX], again[TQ_NDJSON_LINE_MAX];
    size_t n = tq_ndjson_format_event(ev, with_seq, out, sizeof out);
    cr_assert_lt(n, sizeof out);
    cr_assert_eq(out[n - 1], '\n');
    tq_event back;
    tq_diag d;
    int rc = parse_n(out, n - 1, ev->seq, &back, &d);
    cr_assert_eq(rc, TQ_OK, "formatted line does not parse: %s  field '%s': %s", out, d.field,
                 d.why);
    tq_event want = *ev;
    want.has = (uint8_t)((ev->has & ~TQ_HAS_SEQ) | (with_seq ? TQ_HAS_SEQ : 0));
    expect_event_eq(&back, &want);
    size_t n2 = tq_ndjson_format_event(&back, with_seq, again, sizeof again);
    cr_expect_eq(n2, n);
    cr_expect(memcmp(out, again, n) == 0, "not canonical:\n%s%s", out, again);
}

/* expect_same_as_decl() - the line parses into the very event DECL does. */
static void expect_same_as_decl(const char *line)
{
    tq_event a, b;
    ok(DECL, &a);
    ok(line, &b);
    expect_event_eq(&a, &b);
}

static const char *lines_json(int nlines, char *buf, size_t cap)
{
    size_t o = 0;
    o += (size_t)snprintf(buf + o, cap - o, "[");
    for (int i = 0; i < nlines; i++)
        o += (size_t)snprintf(buf + o, cap - o, "%s{\"hs\":\"85171300\",\"qty\":%d,\"value\":0}",
                              i ? "," : "", i + 1);
    snprintf(buf + o, cap - o, "]");
    return buf;
}

/* ------------------------------------------------------------------ each kind */

Test(ndjson_kinds, decl_fills_every_field)
{
    tq_event ev;
    ok(DECL, &ev);
    cr_expect_eq(ev.has, TQ_HAS_TAX_DUE | TQ_HAS_LINES);
    tq_test_expect_sample_decl(&ev);
}

Test(ndjson_kinds, amend_with_tax_due_only)
{
    tq_event ev;
    ok("{\"ev\":\"AMEND\",\"decl_no\":\"103456789012\",\"tax_due\":13000000}", &ev);
    cr_expect_eq(ev.ev, TQ_EV_AMEND);
    cr_expect_eq(ev.has, TQ_HAS_TAX_DUE);
    cr_expect_eq(ev.tax_due, 13000000);
    cr_expect_eq(ev.nlines, 0);
}

Test(ndjson_kinds, amend_with_lines_only)
{
    tq_event ev;
    ok("{\"ev\":\"AMEND\",\"decl_no\":\"103456789012\",\"lines\":[{\"hs\":\"85171300\","
       "\"qty\":1,\"value\":2,\"permit\":\"P1\"}]}", &ev);
    cr_expect_eq(ev.has, TQ_HAS_LINES);
    cr_expect_eq(ev.nlines, 1);
    cr_expect_str_eq(ev.lines[0].permit, "P1");
}

Test(ndjson_kinds, amend_with_both)
{
    tq_event ev;
    ok("{\"ev\":\"AMEND\",\"decl_no\":\"103456789012\",\"lines\":[{\"hs\":\"85171300\","
       "\"qty\":1,\"value\":2}],\"tax_due\":0}", &ev);
    cr_expect_eq(ev.has, TQ_HAS_LINES | TQ_HAS_TAX_DUE);
    cr_expect_eq(ev.tax_due, 0);
}

Test(ndjson_kinds, amend_without_fields_names_tax_due)
{
    bad_exact("{\"ev\":\"AMEND\",\"decl_no\":\"100000000001\"}", "tax_due",
              "an AMEND needs tax_due and/or lines");
}

Test(ndjson_kinds, officer_results)
{
    const char *names[] = {"DOCS_OK", "INSPECT_OK", "REJECT"};
    for (int i = 0; i < 3; i++) {
        char buf[256];
        snprintf(buf, sizeof buf, "{\"ev\":\"OFFICER\",\"decl_no\":\"103456789012\","
                 "\"result\":\"%s\",\"officer\":\"HQ01B1-0042\"}", names[i]);
        tq_event ev;
        ok(buf, &ev);
        cr_expect_eq(ev.ev, TQ_EV_OFFICER);
        cr_expect_eq(ev.result, i + 1);
        cr_expect_str_eq(ev.officer, "HQ01B1-0042");
        cr_expect_eq(ev.has, 0);
    }
    bad("{\"ev\":\"OFFICER\",\"decl_no\":\"103456789012\",\"result\":\"docs_ok\","
        "\"officer\":\"X\"}", "result", "must be DOCS_OK, INSPECT_OK or REJECT, got 'docs_ok'");
}

Test(ndjson_kinds, manual_clear)
{
    tq_event ev;
    ok("{\"ev\":\"MANUAL_CLEAR\",\"decl_no\":\"103456789012\",\"officer\":\"HQ01B1-0042\","
       "\"cleared_at\":\"2024-08-07T10:00:00Z\"}", &ev);
    cr_expect_eq(ev.ev, TQ_EV_MANUAL_CLEAR);
    cr_expect_str_eq(ev.officer, "HQ01B1-0042");
    cr_expect_str_eq(ev.cleared_at, "2024-08-07T10:00:00Z");
}

Test(ndjson_kinds, cancel)
{
    tq_event ev;
    ok("{\"ev\":\"CANCEL\",\"decl_no\":\"103456789012\"}", &ev);
    cr_expect_eq(ev.ev, TQ_EV_CANCEL);
    cr_expect_str_eq(ev.decl_no, "103456789012");
}

Test(ndjson_kinds, unknown_kind_lists_the_kinds)
{
    bad_exact("{\"ev\":\"PAYMENT\",\"decl_no\":\"100000000001\"}", "ev",
              "must be one of DECL, AMEND, OFFICER, MANUAL_CLEAR, CANCEL; got 'PAYMENT'");
    bad("{\"ev\":\"decl\",\"decl_no\":\"100000000001\"}", "ev", "got 'decl'");
    bad("{\"ev\":1,\"decl_no\":\"100000000001\"}", "ev", "got 1");
    bad("{\"ev\":null,\"decl_no\":\"100000000001\"}", "ev", "got null");
}

Test(ndjson_kinds, missing_ev)
{
    bad_exact("{\"decl_no\":\"100000000001\"}", "ev", "missing");
    bad_exact("{}", "ev", "missing");
}

/* ------------------------------------------------------------------ keys */

Test(ndjson_keys, any_order_with_ev_last)
{
    expect_same_as_decl("{\"lines\":[{\"value\":250000000,\"permit\":\"GCN-2024-000123\",\"qty\":100,"
       "\"hs\":\"85171300\"},{\"qty\":5,\"value\":1000000,\"hs\":\"39269099\"}],"
       "\"tax_due\":12500000,\"channel\":1,\"registered_at\":\"2024-08-06T09:15:00+07:00\","
       "\"declarant\":\"0101234567\",\"office\":\"01B1\",\"kind\":\"A11\","
       "\"decl_no\":\"103456789012\",\"ev\":\"DECL\"}");
}

Test(ndjson_keys, whitespace_between_tokens)
{
    expect_same_as_decl(" \t{ \"ev\" : \"DECL\" , \"decl_no\":\"103456789012\",\"kind\":\"A11\",\"office\":"
       "\"01B1\",\"declarant\":\"0101234567\",\"registered_at\":\"2024-08-06T09:15:00+07:00\","
       "\"channel\" :\t1,\"tax_due\": 12500000 ,\"lines\": [ { \"hs\" : \"85171300\" , "
       "\"qty\" : 100 , \"value\" : 250000000 , \"permit\" : \"GCN-2024-000123\" } , { \"hs\":"
       "\"39269099\",\"qty\":5,\"value\":1000000 } ] }  \t");
}

Test(ndjson_keys, escaped_keys_match_after_unescaping)
{
    const char *s = with(DECL, "\"ev\"", "\"\\u0065v\"");
    s = with(s, "\"decl_no\"", "\"decl\\u005Fno\"");
    s = with(s, "\"permit\"", "\"perm\\u0069t\"");
    expect_same_as_decl(s);
}

Test(ndjson_keys, escaped_values_are_unescaped)
{
    tq_event ev;
    ok(with(DECL, "\"103456789012\"", "\"\\u0031\\u00303456789012\""), &ev);
    cr_expect_str_eq(ev.decl_no, "103456789012");
    ok(with(DECL, "\"GCN-2024-000123\"", "\"GCN\\/2024\\/000123\""), &ev);
    cr_expect_str_eq(ev.lines[0].permit, "GCN/2024/000123");
}

Test(ndjson_keys, duplicate_key_is_refused)
{
    bad_exact(with(DECL, "\"channel\":1", "\"channel\":1,\"channel\":1"), "channel",
              "duplicate key");
    bad_exact("{\"ev\":\"CANCEL\",\"decl_no\":\"100000000001\",\"decl_no\":\"100000000001\"}",
              "decl_no", "duplicate key");
    bad_exact("{\"ev\":\"CANCEL\",\"ev\":\"CANCEL\",\"decl_no\":\"100000000001\"}", "ev",
              "duplicate key");
}

Test(ndjson_keys, duplicate_found_after_unescaping)
{
    bad_exact(with(DECL, "\"channel\":1", "\"channel\":1,\"\\u0063hannel\":2"), "channel",
              "duplicate key");
}

Test(ndjson_keys, duplicate_key_in_a_line)
{
    bad(with(DECL, "\"qty\":5", "\"qty\":5,\"qty\":5"), "lines[1].qty", "duplicate key");
}

Test(ndjson_keys, unknown_field_is_named)
{
    bad_exact(with(DECL, "}]}", "}],\"note\":\"urgent\"}"), "note",
              "unknown field for a DECL event");
    bad_exact("{\"note\":1,\"ev\":\"CANCEL\",\"decl_no\":\"100000000001\"}", "note",
              "unknown field for a CANCEL event");
}

Test(ndjson_keys, field_of_another_kind_is_unknown)
{
    bad_exact("{\"ev\":\"CANCEL\",\"decl_no\":\"100000000001\",\"tax_due\":5}", "tax_due",
              "unknown field for a CANCEL event");
    bad_exact("{\"ev\":\"AMEND\",\"decl_no\":\"100000000001\",\"tax_due\":5,\"channel\":1}",
              "channel", "unknown field for an AMEND event");
    bad_exact("{\"ev\":\"OFFICER\",\"decl_no\":\"100000000001\",\"result\":\"REJECT\","
              "\"officer\":\"A\",\"cleared_at\":\"2024-08-07T10:00:00Z\"}",
              "cleared_at", "unknown field for an OFFICER event");
    bad(with(DECL, "\"channel\":1", "\"channel\":1,\"officer\":\"X\""), "officer",
        "unknown field for a DECL event");
}

Test(ndjson_keys, unknown_field_with_odd_bytes_is_quoted)
{
    bad("{\"ev\":\"CANCEL\",\"decl_no\":\"100000000001\",\"a\\u0007b\":1}", "a\\x07b",
        "unknown field");
}

/* fuzz regression: an empty key left the field name empty */
Test(ndjson_keys, empty_unknown_key_is_shown_as_quotes)
{
    bad_exact("{\"ev\":\"CANCEL\",\"decl_no\":\"100000000001\",\"\":1}", "\"\"",
              "unknown field for a CANCEL event");
    bad(with(DECL, "\"qty\":5", "\"qty\":5,\"\":0"), "lines[1].\"\"", "unknown field");
}

Test(ndjson_keys, unknown_field_in_a_line_names_the_key)
{
    bad(with(DECL, "\"qty\":5", "\"qty\":5,\"note\":\"x\""), "lines[1].note", "unknown field");
}

Test(ndjson_keys, the_leftmost_key_problem_is_reported)
{
    bad("{\"ev\":\"CANCEL\",\"zz\":1,\"decl_no\":\"100000000001\",\"decl_no\":\"1\"}", "zz",
        "unknown field");
    bad("{\"ev\":\"CANCEL\",\"decl_no\":\"100000000001\",\"decl_no\":\"1\",\"zz\":1}",
        "decl_no", "duplicate key");
}

Test(ndjson_keys, key_problems_come_before_value_problems)
{
    bad("{\"ev\":\"CANCEL\",\"decl_no\":\"1\",\"tax_due\":5}", "tax_due", "unknown field");
}

Test(ndjson_keys, missing_required_fields)
{
    const char *keys[] = {"\"decl_no\":\"103456789012\",", "\"kind\":\"A11\",",
                          "\"office\":\"01B1\",", "\"declarant\":\"0101234567\",",
                          "\"registered_at\":\"2024-08-06T09:15:00+07:00\",", "\"channel\":1,",
                          "\"tax_due\":12500000,"};
    const char *names[] = {"decl_no", "kind", "office", "declarant", "registered_at",
                           "channel", "tax_due"};
    for (int i = 0; i < 7; i++)
        bad_exact(with(DECL, keys[i], ""), names[i], "missing");
    bad_exact("{\"ev\":\"DECL\",\"decl_no\":\"103456789012\",\"kind\":\"A11\",\"office\":"
              "\"01B1\",\"declarant\":\"0101234567\",\"registered_at\":"
              "\"2024-08-06T09:15:00+07:00\",\"channel\":1,\"tax_due\":1}", "lines", "missing");
    bad_exact("{\"ev\":\"OFFICER\",\"decl_no\":\"103456789012\",\"result\":\"REJECT\"}",
              "officer", "missing");
    bad_exact("{\"ev\":\"OFFICER\",\"decl_no\":\"103456789012\",\"officer\":\"X\"}", "result",
              "missing");
    bad_exact("{\"ev\":\"MANUAL_CLEAR\",\"decl_no\":\"103456789012\",\"officer\":\"X\"}",
              "cleared_at", "missing");
    bad_exact("{\"ev\":\"CANCEL\"}", "decl_no", "missing");
}

Test(ndjson_keys, missing_field_in_a_line)
{
    bad_exact(with(DECL, "\"qty\":5,", ""), "lines[1].qty", "missing");
    bad_exact(with(DECL, "\"hs\":\"39269099\",", ""), "lines[1].hs", "missing");
    bad_exact(with(DECL, ",\"value\":1000000", ""), "lines[1].value", "missing");
}

/* ------------------------------------------------------------------ seq */

Test(ndjson_seq, matching_seq_is_accepted_and_flagged)
{
    tq_event ev;
    tq_diag d;
    cr_assert_eq(parse("{\"seq\":7,\"ev\":\"CANCEL\",\"decl_no\":\"100000000001\"}", 7, &ev,
                       &d), TQ_OK, "%s", d.why);
    cr_expect_eq(ev.seq, 7);
    cr_expect_eq(ev.has, TQ_HAS_SEQ);
    cr_assert_eq(parse("{\"ev\":\"CANCEL\",\"decl_no\":\"100000000001\"}", 9, &ev, &d), TQ_OK);
    cr_expect_eq(ev.seq, 9);
    cr_expect_eq(ev.has, 0);
}

Test(ndjson_seq, mismatching_seq_is_refused)
{
    tq_event ev;
    tq_diag d;
    cr_assert_eq(parse("{\"seq\":7,\"ev\":\"CANCEL\",\"decl_no\":\"100000000001\"}", 8, &ev,
                       &d), TQ_ERR_INPUT);
    cr_expect_str_eq(d.field, "seq");
    cr_expect(strstr(d.why, "8") && strstr(d.why, "7"), "%s", d.why);
    bad("{\"seq\":0,\"ev\":\"CANCEL\",\"decl_no\":\"100000000001\"}", "seq", NULL);
    bad("{\"seq\":\"1\",\"ev\":\"CANCEL\",\"decl_no\":\"100000000001\"}", "seq", "integer");
    bad("{\"seq\":1.0,\"ev\":\"CANCEL\",\"decl_no\":\"100000000001\"}", "seq", "integer");
    bad("{\"seq\":99999999999999999999999,\"ev\":\"CANCEL\",\"decl_no\":\"100000000001\"}",
        "seq", NULL);
}

Test(ndjson_seq, seq_anywhere_in_the_object)
{
    tq_event ev;
    tq_diag d;
    cr_assert_eq(parse(with(DECL, "\"channel\":1", "\"channel\":1,\"seq\":3"), 3, &ev, &d),
                 TQ_OK, "%s", d.why);
    cr_expect_eq(ev.has & TQ_HAS_SEQ, TQ_HAS_SEQ);
}

/* ------------------------------------------------------------------ field formats */

Test(ndjson_fields, decl_no_formats)
{
    tq_event ev;
    ok(with(DECL, "103456789012", "999999999999"), &ev);
    bad_exact(with(DECL, "\"103456789012\"", "\"10345678901\""), "decl_no",
              "must be 12 ASCII digits, first digit not 0, got '10345678901'");
    bad(with(DECL, "\"103456789012\"", "\"1034567890123\""), "decl_no", "12 ASCII digits");
    bad(with(DECL, "\"103456789012\"", "\"003456789012\""), "decl_no", "first digit not 0");
    bad(with(DECL, "\"103456789012\"", "\"10345678901a\""), "decl_no", NULL);
    bad(with(DECL, "\"103456789012\"", "\"\""), "decl_no", NULL);
    bad(with(DECL, "\"103456789012\"", "103456789012"), "decl_no", "not a string");
    bad(with(DECL, "\"103456789012\"", "\"１03456789012\""), "decl_no", NULL);
}

Test(ndjson_fields, declarant_has_10_or_13_digits)
{
    tq_event ev;
    ok(with(DECL, "\"0101234567\"", "\"0101234567001\""), &ev);
    cr_expect_str_eq(ev.declarant, "0101234567001");
    bad(with(DECL, "\"0101234567\"", "\"01012345678\""), "declarant", "10 or 13");
    bad(with(DECL, "\"0101234567\"", "\"010123456700\""), "declarant", NULL);
    bad(with(DECL, "\"0101234567\"", "\"010123456\""), "declarant", NULL);
    bad(with(DECL, "\"0101234567\"", "\"010123456x\""), "declarant", NULL);
}

Test(ndjson_fields, declaration_kind_code)
{
    tq_event ev;
    ok(with(DECL, "\"A11\"", "\"E31\""), &ev);
    ok(with(DECL, "\"A11\"", "\"GZZ\""), &ev);
    cr_expect_str_eq(ev.kind, "GZZ");
    const char *badv[] = {"\"1AB\"", "\"a11\"", "\"A1\"", "\"A111\"", "\"A1a\"", "\"\"", "11"};
    for (size_t i = 0; i < sizeof badv / sizeof *badv; i++)
        bad(with(DECL, "\"A11\"", badv[i]), "kind", NULL);
}

Test(ndjson_fields, customs_office_code)
{
    tq_event ev;
    ok(with(DECL, "\"01B1\"", "\"ZZZZ\""), &ev);
    ok(with(DECL, "\"01B1\"", "\"0000\""), &ev);
    const char *badv[] = {"\"01b1\"", "\"01B\"", "\"01B12\"", "\"01-1\"", "\"\""};
    for (size_t i = 0; i < sizeof badv / sizeof *badv; i++)
        bad(with(DECL, "\"01B1\"", badv[i]), "office", NULL);
}

Test(ndjson_fields, channel_range)
{
    tq_event ev;
    for (int c = 1; c <= 3; c++) {
        char v[16];
        snprintf(v, sizeof v, "\"channel\":%d", c);
        ok(with(DECL, "\"channel\":1", v), &ev);
        cr_expect_eq(ev.channel, c);
    }
    bad_exact(with(DECL, "\"channel\":1", "\"channel\":4"), "channel", "must be in 1..3, got 4");
    bad_exact(with(DECL, "\"channel\":1", "\"channel\":0"), "channel", "must be in 1..3, got 0");
    bad(with(DECL, "\"channel\":1", "\"channel\":-1"), "channel", "must be in 1..3");
}

Test(ndjson_fields, integers_must_be_plain_integers)
{
    const char *badv[] = {"1.0", "1e0", "1E0", "-0", "01", "\"1\"", "true", "false", "null",
                          "[1]", "{}", "1.5", "0.0", "-01"};
    for (size_t i = 0; i < sizeof badv / sizeof *badv; i++) {
        char v[32];
        snprintf(v, sizeof v, "\"channel\":%s", badv[i]);
        bad(with(DECL, "\"channel\":1", v), "channel", "must be an integer");
    }
}

Test(ndjson_fields, json_number_grammar_errors_are_malformed_json)
{
    const char *badv[] = {"1.", "1e", "1e+", "-", "+1", ".5", "0x1", "1_0", "Infinity", "NaN"};
    for (size_t i = 0; i < sizeof badv / sizeof *badv; i++) {
        char v[32];
        snprintf(v, sizeof v, "\"channel\":%s", badv[i]);
        bad(with(DECL, "\"channel\":1", v), "(json)", "malformed JSON");
    }
}

Test(ndjson_fields, tax_due_bounds)
{
    tq_event ev;
    ok(with(DECL, "12500000", "0"), &ev);
    cr_expect_eq(ev.tax_due, 0);
    ok(with(DECL, "12500000", "1000000000000000"), &ev);
    cr_expect_eq(ev.tax_due, 1000000000000000ULL);
    bad_exact(with(DECL, "12500000", "1000000000000001"), "tax_due",
              "must be in 0..1000000000000000, got 1000000000000001");
    bad(with(DECL, "12500000", "-5"), "tax_due", "must be in 0..1000000000000000, got -5");
    bad(with(DECL, "12500000", "18446744073709551616"), "tax_due", "must be in");
    bad(with(DECL, "12500000", "99999999999999999999999999999999999999999999999999999999999999"
                               "9999999999999999999999"), "tax_due", "...");
}

Test(ndjson_fields, line_count_bounds)
{
    static char arr[8192];
    tq_event ev;
    ok(with(DECL, "[{\"hs\":\"85171300\",\"qty\":100,\"value\":250000000,\"permit\":"
                  "\"GCN-2024-000123\"},{\"hs\":\"39269099\",\"qty\":5,\"value\":1000000}]",
            lines_json(50, arr, sizeof arr)), &ev);
    cr_expect_eq(ev.nlines, 50);
    cr_expect_eq(ev.lines[49].qty, 50);
    bad_exact(with(DECL, "[{\"hs\":\"85171300\",\"qty\":100,\"value\":250000000,\"permit\":"
                         "\"GCN-2024-000123\"},{\"hs\":\"39269099\",\"qty\":5,\"value\":1000000}]",
                   lines_json(51, arr, sizeof arr)), "lines", "must have 1..50 lines, got 51");
    bad_exact(with(DECL, "[{\"hs\":\"85171300\",\"qty\":100,\"value\":250000000,\"permit\":"
                         "\"GCN-2024-000123\"},{\"hs\":\"39269099\",\"qty\":5,\"value\":1000000}]",
                   "[]"), "lines", "must have 1..50 lines, got 0");
}

Test(ndjson_fields, many_lines_do_not_overflow_the_event)
{
    static char arr[300000];
    tq_event ev;
    tq_diag d;
    const char *s = with(DECL, "[{\"hs\":\"85171300\",\"qty\":100,\"value\":250000000,\"permit\":"
                               "\"GCN-2024-000123\"},{\"hs\":\"39269099\",\"qty\":5,\"value\":"
                               "1000000}]", lines_json(1000, arr, sizeof arr));
    cr_assert_eq(parse(s, 1, &ev, &d), TQ_ERR_INPUT);
    cr_expect_str_eq(d.field, "lines");
    cr_expect(strstr(d.why, "got 1000") != NULL, "%s", d.why);
}

Test(ndjson_fields, lines_must_be_an_array_of_objects)
{
    const char *l = "[{\"hs\":\"85171300\",\"qty\":100,\"value\":250000000,\"permit\":"
                    "\"GCN-2024-000123\"},{\"hs\":\"39269099\",\"qty\":5,\"value\":1000000}]";
    bad(with(DECL, l, "{\"hs\":\"85171300\",\"qty\":1,\"value\":0}"), "lines", "array");
    bad(with(DECL, l, "\"x\""), "lines", "array");
    bad(with(DECL, l, "[1]"), "lines[0]", "line object");
    bad(with(DECL, l, "[{\"hs\":\"85171300\",\"qty\":1,\"value\":0},[]]"), "lines[1]",
        "line object");
    bad(with(DECL, l, "[{\"hs\":[\"85171300\"],\"qty\":1,\"value\":0}]"), "lines[0].hs",
        "got an array");
    bad(with(DECL, l, "[{}]"), "lines[0].hs", "missing");
}

Test(ndjson_fields, hs_code_has_8_digits)
{
    bad(with(DECL, "\"85171300\"", "\"8517130\""), "lines[0].hs", "8 ASCII digits");
    bad(with(DECL, "\"85171300\"", "\"851713001\""), "lines[0].hs", NULL);
    bad(with(DECL, "\"85171300\"", "\"8517130a\""), "lines[0].hs", NULL);
    bad(with(DECL, "\"85171300\"", "85171300"), "lines[0].hs", "not a string");
}

Test(ndjson_fields, qty_bounds)
{
    tq_event ev;
    ok(with(DECL, "\"qty\":100", "\"qty\":1000000000000"), &ev);
    cr_expect_eq(ev.lines[0].qty, 1000000000000ULL);
    bad_exact(with(DECL, "\"qty\":100", "\"qty\":0"), "lines[0].qty",
              "must be in 1..1000000000000, got 0");
    bad(with(DECL, "\"qty\":100", "\"qty\":1000000000001"), "lines[0].qty", "must be in");
    bad(with(DECL, "\"qty\":100", "\"qty\":1.5"), "lines[0].qty", "integer");
}

Test(ndjson_fields, value_bounds)
{
    tq_event ev;
    ok(with(DECL, "\"value\":250000000", "\"value\":0"), &ev);
    ok(with(DECL, "\"value\":250000000", "\"value\":1000000000000000"), &ev);
    cr_expect_eq(ev.lines[0].value, 1000000000000000ULL);
    bad(with(DECL, "\"value\":250000000", "\"value\":1000000000000001"), "lines[0].value",
        "must be in 0..1000000000000000");
}

Test(ndjson_fields, permit_number_format)
{
    tq_event ev;
    const char *p32 = "\"ABCDEFGHIJKLMNOPQRSTUVWXYZ.-_/09\"";
    ok(with(DECL, "\"GCN-2024-000123\"", p32), &ev);
    cr_expect_str_eq(ev.lines[0].permit, "ABCDEFGHIJKLMNOPQRSTUVWXYZ.-_/09");
    bad(with(DECL, "\"GCN-2024-000123\"", "\"ABCDEFGHIJKLMNOPQRSTUVWXYZ.-_/09a\""),
        "lines[0].permit", "1..32");
    bad(with(DECL, "\"GCN-2024-000123\"", "\"\""), "lines[0].permit", NULL);
    bad(with(DECL, "\"GCN-2024-000123\"", "\"GCN 1\""), "lines[0].permit", NULL);
    bad(with(DECL, "\"GCN-2024-000123\"", "\"GCN,1\""), "lines[0].permit", NULL);
    bad(with(DECL, "\"GCN-2024-000123\"", "null"), "lines[0].permit", NULL);
}

static const char *OFFICER = "{\"ev\":\"OFFICER\",\"decl_no\":\"103456789012\","
                             "\"result\":\"DOCS_OK\",\"officer\":\"HQ01B1-0042\"}";

Test(ndjson_fields, officer_length_bounds)
{
    char v[128];
    tq_event ev;
    memset(v, 0, sizeof v);
    v[0] = '"';
    memset(v + 1, 'x', 64);
    v[65] = '"';
    ok(with(OFFICER, "\"HQ01B1-0042\"", v), &ev);
    cr_expect_eq(strlen(ev.officer), 64);
    v[65] = 'x';
    v[66] = '"';
    bad(with(OFFICER, "\"HQ01B1-0042\"", v), "officer", "1..64 printable ASCII");
    bad(with(OFFICER, "\"HQ01B1-0042\"", "\"\""), "officer", "1..64");
}

Test(ndjson_fields, officer_escapes_and_printable_ascii)
{
    tq_event ev;
    ok(with(OFFICER, "\"HQ01B1-0042\"", "\"a \\\"b\\\" \\\\ c/~\""), &ev);
    cr_expect_str_eq(ev.officer, "a \"b\" \\ c/~");
    bad(with(OFFICER, "\"HQ01B1-0042\"", "\"a\\u0001\""), "officer", "printable");
    bad(with(OFFICER, "\"HQ01B1-0042\"", "\"a\\t\""), "officer", "printable");
    bad(with(OFFICER, "\"HQ01B1-0042\"", "\"a\\u007f\""), "officer", "printable");
    bad(with(OFFICER, "\"HQ01B1-0042\"", "\"Nguy\xe1\xbb\x85n\""), "officer", "printable");
    bad(with(OFFICER, "\"HQ01B1-0042\"", "\"\\ud83d\\ude00\""), "officer", "printable");
    bad(with(OFFICER, "\"HQ01B1-0042\"", "\"a\\u0000b\""), "officer", "printable");
}

Test(ndjson_fields, registered_at_keeps_its_text)
{
    tq_event ev;
    ok(with(DECL, "2024-08-06T09:15:00+07:00", "2024-08-06T02:15:00.5Z"), &ev);
    cr_expect_str_eq(ev.registered_at, "2024-08-06T02:15:00.5Z");
    cr_expect_eq(ev.registered.sec, 1722910500);
    cr_expect_eq(ev.registered.nsec, 500000000);
}

Test(ndjson_fields, bad_timestamps)
{
    const char *badv[] = {"2024-08-06T09:15:00", "2024-08-06 09:15:00+07:00",
                          "2023-02-29T09:15:00+07:00", "2024-08-06T09:15+07:00",
                          "2024-08-06T09:15:00+24:00", ""};
    for (size_t i = 0; i < sizeof badv / sizeof *badv; i++) {
        bad(with(DECL, "2024-08-06T09:15:00+07:00", badv[i]), "registered_at", "timestamp");
        bad(with("{\"ev\":\"MANUAL_CLEAR\",\"decl_no\":\"103456789012\",\"officer\":\"X\","
                 "\"cleared_at\":\"2024-08-07T10:00:00Z\"}", "2024-08-07T10:00:00Z", badv[i]),
            "cleared_at", "timestamp");
    }
    bad(with(DECL, "\"2024-08-06T09:15:00+07:00\"", "1722910500"), "registered_at",
        "not a string");
}

Test(ndjson_fields, leap_day_registration)
{
    tq_event ev;
    ok(with(DECL, "2024-08-06T09:15:00+07:00", "2024-02-29T09:15:00+07:00"), &ev);
    bad(with(DECL, "2024-08-06T09:15:00+07:00", "2023-02-29T09:15:00+07:00"), "registered_at",
        "day 29");
}

Test(ndjson_fields, nested_values_are_type_errors)
{
    bad(with(DECL, "\"A11\"", "{\"a\":[1,{\"b\":2}]}"), "kind", "got an object");
    bad(with(DECL, "\"channel\":1", "\"channel\":[1]"), "channel", "got an array");
}

Test(ndjson_fields, leftmost_bad_value_is_reported)
{
    const char *s = with(DECL, "\"A11\"", "\"a11\"");
    s = with(s, "\"channel\":1", "\"channel\":9");
    bad(s, "kind", NULL);
}

/* ------------------------------------------------------------------ JSON syntax */

Test(ndjson_syntax, truncated_line_names_the_column)
{
    bad_exact("{\"ev\":\"OFFICER\",\"decl_no\"", "(json)",
              "malformed JSON: expected ':' at column 26 (end of line)");
}

Test(ndjson_syntax, blank_line)
{
    bad_exact("", "(line)", "blank line");
    bad_exact("   \t", "(line)", "blank line");
}

Test(ndjson_syntax, not_an_object)
{
    bad("[1,2]", "(json)", "column 1");
    bad("\"ev\"", "(json)", NULL);
    bad("null", "(json)", NULL);
}

Test(ndjson_syntax, trailing_bytes)
{
    bad(with(DECL, "}]}", "}]}x"), "(json)", "after the closing");
    bad(with(DECL, "}]}", "}]}{}"), "(json)", NULL);
    bad(with(DECL, "}]}", "}]},"), "(json)", NULL);
    tq_event ev;
    ok(with(DECL, "}]}", "}]}  "), &ev);
}

Test(ndjson_syntax, carriage_return_at_the_end_is_refused)
{
    bad(with(DECL, "}]}", "}]}\r"), "(json)", "CRLF");
}

Test(ndjson_syntax, structural_errors)
{
    bad("{\"ev\":\"CANCEL\" \"decl_no\":\"100000000001\"}", "(json)", "expected ',' or '}'");
    bad("{\"ev\":\"CANCEL\",}", "(json)", "string key");
    bad("{\"ev\":\"CANCEL\",\"decl_no\":\"100000000001\"", "(json)", "end of line");
    bad("{ev:\"CANCEL\"}", "(json)", "string key");
    bad("{'ev':'CANCEL'}", "(json)", NULL);
    bad("{\"ev\"=\"CANCEL\"}", "(json)", "':'");
    bad("{\"ev\":}", "(json)", "value");
    bad("{\"ev\":tru}", "(json)", NULL);
    bad(with(DECL, "}]}", "}]"), "(json)", NULL);
    bad(with(DECL, "}]}", "},]}"), "(json)", NULL);
    bad(with(DECL, "}]}", "}}}"), "(json)", "',' or ']'");
}

Test(ndjson_syntax, raw_control_characters_in_strings)
{
    bad("{\"ev\":\"CAN\tCEL\",\"decl_no\":\"100000000001\"}", "(json)", "control character");
    bad("{\"ev\":\"CANCEL\",\"decl_no\":\"1000000\n00001\"}", "(json)", "control character");
    bad("{\"ev\":\"CANCEL\",\"decl_no\":\"1000000\x1f" "00001\"}", "(json)", "control character");
    bad("{\"ev\":\"CANCEL\",\"decl_no\":\"1000000\x01\"}", "(json)", "control character");
}

Test(ndjson_syntax, invalid_utf8_in_strings)
{
    const char *seqs[] = {"\xff", "\xc0\xaf", "\xe0\x80\xaf", "\xed\xa0\x80", "\xf4\x90\x80\x80",
                          "\xc3", "\xe1\x80", "\x80", "\xf8\x88\x80\x80\x80"};
    for (size_t i = 0; i < sizeof seqs / sizeof *seqs; i++) {
        char buf[128];
        snprintf(buf, sizeof buf, "{\"ev\":\"CANCEL\",\"decl_no\":\"100000000001\",\"x\":\"a%sb\"}",
                 seqs[i]);
        bad(buf, "(json)", "UTF-8");
    }
}

Test(ndjson_syntax, valid_utf8_is_accepted_as_json)
{
    /* well-formed JSON; what is wrong is the field, not the syntax */
    bad("{\"ev\":\"CANCEL\",\"decl_no\":\"100000000001\",\"gi\xe1\xba\xa5y\":\"\xf0\x9f\x98\x80\"}",
        "gi\\xe1\\xba\\xa5y", "unknown field");
}

Test(ndjson_syntax, bad_escapes)
{
    const char *esc[] = {"\\x41", "\\u12", "\\u12G4", "\\ud800", "\\udc00", "\\ud800\\u0041",
                         "\\ud800x", "\\'", "\\"};
    for (size_t i = 0; i < sizeof esc / sizeof *esc; i++) {
        char buf[128];
        snprintf(buf, sizeof buf, "{\"ev\":\"CANCEL\",\"decl_no\":\"100000000001\",\"x\":\"%s\"}",
                 esc[i]);
        bad(buf, "(json)", NULL);
    }
}

Test(ndjson_syntax, deep_nesting_is_refused_without_recursion)
{
    static char buf[200000];
    size_t o = (size_t)snprintf(buf, sizeof buf, "{\"ev\":\"CANCEL\",\"decl_no\":\"100000000001\","
                                "\"x\":");
    for (int i = 0; i < 50000; i++)
        buf[o++] = '[';
    for (int i = 0; i < 50000; i++)
        buf[o++] = ']';
    buf[o++] = '}';
    buf[o] = '\0';
    bad(buf, "(json)", "nesting");
}

Test(ndjson_syntax, moderate_nesting_in_an_unknown_field_is_skipped)
{
    bad("{\"ev\":\"CANCEL\",\"decl_no\":\"100000000001\",\"x\":{\"a\":[1,{\"b\":[[],{}]},"
        "\"s\",true,null,-1.5e3],\"c\":{}}}", "x", "unknown field for a CANCEL event");
}

Test(ndjson_syntax, every_prefix_is_refused_without_reading_past_len)
{
    size_t n = strlen(DECL);
    for (size_t k = 0; k < n; k++) {
        tq_event ev;
        tq_diag d;
        cr_expect_eq(parse_n(DECL, k, 1, &ev, &d), TQ_ERR_INPUT, "prefix of %zu accepted", k);
        cr_expect_lt(strlen(d.field), sizeof d.field);
    }
}

Test(ndjson_syntax, null_diag_is_allowed)
{
    tq_event ev;
    cr_expect_eq(tq_ndjson_parse_event("{", 1, 1, &ev, NULL), TQ_ERR_INPUT);
    cr_expect_eq(tq_ndjson_parse_event("{\"ev\":\"X\"}", 10, 1, &ev, NULL), TQ_ERR_INPUT);
    cr_expect_eq(tq_ndjson_parse_event(NULL, 0, 1, &ev, NULL), TQ_ERR_INPUT);
}

Test(ndjson_syntax, long_values_are_quoted_short)
{
    static char v[4096];
    tq_diag d;
    tq_event ev;
    v[0] = '"';
    memset(v + 1, '7', 3000);
    v[3001] = '"';
    cr_assert_eq(parse(with(DECL, "\"103456789012\"", v), 1, &ev, &d), TQ_ERR_INPUT);
    cr_expect_str_eq(d.field, "decl_no");
    cr_expect(strstr(d.why, "...") != NULL, "%s", d.why);
    cr_expect_lt(strlen(d.why), 200);
}

/* ------------------------------------------------------------------ formatting */

Test(ndjson_format, canonical_decl_is_byte_identical)
{
    tq_event ev;
    char out[TQ_NDJSON_LINE_MAX];
    ok(DECL, &ev);
    size_t n = tq_ndjson_format_event(&ev, 0, out, sizeof out);
    cr_expect_eq(n, strlen(DECL) + 1);
    cr_expect_eq(strncmp(out, DECL, strlen(DECL)), 0, "%s", out);
    cr_expect_str_eq(out + strlen(DECL), "\n");
}

Test(ndjson_format, seq_comes_first)
{
    tq_event ev;
    char out[256];
    ok("{\"ev\":\"CANCEL\",\"decl_no\":\"100000000001\"}", &ev);
    ev.seq = 42;
    tq_ndjson_format_event(&ev, 1, out, sizeof out);
    cr_expect_str_eq(out, "{\"seq\":42,\"ev\":\"CANCEL\",\"decl_no\":\"100000000001\"}\n");
    tq_ndjson_format_event(&ev, 0, out, sizeof out);
    cr_expect_str_eq(out, "{\"ev\":\"CANCEL\",\"decl_no\":\"100000000001\"}\n");
}

Test(ndjson_format, each_kind_in_canonical_order)
{
    const char *lines[] = {
        "{\"ev\":\"AMEND\",\"decl_no\":\"103456789012\",\"tax_due\":13000000}",
        "{\"ev\":\"AMEND\",\"decl_no\":\"103456789012\",\"tax_due\":1,\"lines\":[{\"hs\":"
        "\"85171300\",\"qty\":1,\"value\":0}]}",
        "{\"ev\":\"AMEND\",\"decl_no\":\"103456789012\",\"lines\":[{\"hs\":\"85171300\","
        "\"qty\":1,\"value\":0,\"permit\":\"P\"}]}",
        "{\"ev\":\"OFFICER\",\"decl_no\":\"103456789012\",\"result\":\"INSPECT_OK\","
        "\"officer\":\"HQ01B1-0042\"}",
        "{\"ev\":\"MANUAL_CLEAR\",\"decl_no\":\"103456789012\",\"officer\":\"HQ01B1-0042\","
        "\"cleared_at\":\"2024-08-07T10:00:00+07:00\"}",
        "{\"ev\":\"CANCEL\",\"decl_no\":\"103456789012\"}",
    };
    for (size_t i = 0; i < sizeof lines / sizeof *lines; i++) {
        tq_event ev;
        char out[1024];
        ok(lines[i], &ev);
        tq_ndjson_format_event(&ev, 0, out, sizeof out);
        cr_expect_eq(strncmp(out, lines[i], strlen(lines[i])), 0, "%s\n%s", lines[i], out);
    }
}

Test(ndjson_format, officer_quotes_and_backslashes_are_escaped)
{
    tq_event ev;
    char out[512];
    ok(with(OFFICER, "\"HQ01B1-0042\"", "\"a\\\"b\\\\c\""), &ev);
    tq_ndjson_format_event(&ev, 0, out, sizeof out);
    cr_expect(strstr(out, "\"officer\":\"a\\\"b\\\\c\"") != NULL, "%s", out);
    expect_round_trip(&ev, 0);
}

Test(ndjson_format, control_bytes_are_escaped_even_if_unexpected)
{
    tq_event ev;
    char out[512];
    ok(OFFICER, &ev);
    strcpy(ev.officer, "a\x01" "b");
    tq_ndjson_format_event(&ev, 0, out, sizeof out);
    cr_expect(strstr(out, "a\\u0001b") != NULL, "%s", out);
}

Test(ndjson_format, truncation_reports_the_needed_size)
{
    tq_event ev;
    char full[TQ_NDJSON_LINE_MAX], small[40];
    ok(DECL, &ev);
    size_t need = tq_ndjson_format_event(&ev, 1, full, sizeof full);
    memset(small, 'x', sizeof small);
    size_t n = tq_ndjson_format_event(&ev, 1, small, 10);
    cr_expect_eq(n, need);
    cr_expect_eq(small[9], '\0');
    cr_expect_eq(strncmp(small, full, 9), 0);
    cr_expect_eq(small[10], 'x');
    cr_expect_eq(tq_ndjson_format_event(&ev, 1, NULL, 0), need);
}

Test(ndjson_format, largest_event_fits_line_max)
{
    tq_event ev;
    memset(&ev, 0, sizeof ev);
    ev.seq = UINT64_MAX;
    ev.ev = TQ_EV_DECL;
    ev.has = TQ_HAS_TAX_DUE | TQ_HAS_LINES;
    ev.channel = 3;
    strcpy(ev.decl_no, "999999999999");
    strcpy(ev.kind, "Z99");
    strcpy(ev.office, "ZZZZ");
    strcpy(ev.declarant, "9999999999999");
    strcpy(ev.registered_at, "9999-12-31T23:59:59.999999999-23:59");
    ev.tax_due = TQ_MONEY_MAX;
    ev.nlines = TQ_LINES_MAX;
    for (int i = 0; i < TQ_LINES_MAX; i++) {
        strcpy(ev.lines[i].hs, "99999999");
        memset(ev.lines[i].permit, 'P', TQ_PERMIT_MAX);
        ev.lines[i].qty = TQ_QTY_MAX;
        ev.lines[i].value = TQ_MONEY_MAX;
    }
    cr_expect_lt(tq_ndjson_format_event(&ev, 1, NULL, 0), TQ_NDJSON_LINE_MAX);
    tq_instant t;
    cr_assert_eq(tq_time_parse(ev.registered_at, strlen(ev.registered_at), &t, NULL), TQ_OK);
    ev.registered = t;
    expect_round_trip(&ev, 1);
}

/* xorshift64*: the same pseudo-random events on every run. */
static uint64_t rnd(uint64_t *s)
{
    *s ^= *s >> 12;
    *s ^= *s << 25;
    *s ^= *s >> 27;
    return *s * 2685821657736338717ULL;
}

static void random_digits(uint64_t *s, char *out, int n, int first_nonzero)
{
    for (int i = 0; i < n; i++)
        out[i] = (char)('0' + (first_nonzero && i == 0 ? 1 + rnd(s) % 9 : rnd(s) % 10));
    out[n] = '\0';
}

static void random_event(uint64_t *s, tq_event *ev, uint64_t seq)
{
    static const char pchars[] = "ABCXYZabcxyz0123456789./_-";
    static const char ochars[] = " !\"#\\/AZaz09~{}[]:,";
    memset(ev, 0, sizeof *ev);
    ev->seq = seq;
    ev->ev = (uint8_t)(1 + rnd(s) % 5);
    random_digits(s, ev->decl_no, 12, 1);
    switch (ev->ev) {
    case TQ_EV_DECL:
    case TQ_EV_AMEND:
        if (ev->ev == TQ_EV_DECL) {
            ev->has = TQ_HAS_TAX_DUE | TQ_HAS_LINES;
            ev->kind[0] = (char)('A' + rnd(s) % 26);
            ev->kind[1] = (char)('0' + rnd(s) % 10);
            ev->kind[2] = (char)('A' + rnd(s) % 26);
            for (int i = 0; i < 4; i++)
                ev->office[i] = (char)(rnd(s) % 2 ? 'A' + rnd(s) % 26 : '0' + rnd(s) % 10);
            random_digits(s, ev->declarant, rnd(s) % 2 ? 10 : 13, 0);
            static const char *stamps[] = {"2024-08-06T09:15:00+07:00", "2024-02-29T23:59:59Z",
                                           "1999-12-31T00:00:00.123-05:30",
                                           "2030-01-01T12:00:00.000000001+00:00"};
            strcpy(ev->registered_at, stamps[rnd(s) % 4]);
            cr_assert_eq(tq_time_parse(ev->registered_at, strlen(ev->registered_at),
                                       &ev->registered, NULL), TQ_OK);
            ev->channel = (uint8_t)(1 + rnd(s) % 3);
        } else {
            ev->has = (uint8_t)(1 + rnd(s) % 3);
        }
        ev->tax_due = ev->has & TQ_HAS_TAX_DUE ? rnd(s) % (TQ_MONEY_MAX + 1) : 0;
        if (ev->has & TQ_HAS_LINES) {
            ev->nlines = (uint16_t)(1 + rnd(s) % TQ_LINES_MAX);
            for (unsigned i = 0; i < ev->nlines; i++) {
                tq_line *ln = &ev->lines[i];
                random_digits(s, ln->hs, 8, 0);
                ln->qty = 1 + rnd(s) % TQ_QTY_MAX;
                ln->value = rnd(s) % (TQ_MONEY_MAX + 1);
                int plen = (int)(rnd(s) % (TQ_PERMIT_MAX + 1));
                for (int k = 0; k < plen; k++)
                    ln->permit[k] = pchars[rnd(s) % (sizeof pchars - 1)];
            }
        }
        break;
    case TQ_EV_OFFICER:
    case TQ_EV_MANUAL_CLEAR: {
        int olen = 1 + (int)(rnd(s) % TQ_OFFICER_MAX);
        for (int k = 0; k < olen; k++)
            ev->officer[k] = ochars[rnd(s) % (sizeof ochars - 1)];
        if (ev->ev == TQ_EV_OFFICER)
            ev->result = (uint8_t)(1 + rnd(s) % 3);
        else
            strcpy(ev->cleared_at, "2024-08-07T10:00:00.5+07:00");
        break;
    }
    default:
        break;
    }
}

Test(ndjson_format, random_events_round_trip)
{
    uint64_t s = 0x9e3779b97f4a7c15ULL;
    for (uint64_t i = 1; i <= 5000; i++) {
        tq_event ev;
        random_event(&s, &ev, i);
        expect_round_trip(&ev, (int)(i % 2));
    }
}

/* ------------------------------------------------------------------ conformance files */

/* Parses every line of a case's events.ndjson; returns the first failing line (0 if
 * none) with its diag, and checks the round trip of every good line. */
static uint64_t first_bad_event(const char *casename, tq_diag *d, uint64_t *good)
{
    FILE *fp = fopen(tq_test_case_path(casename, "events.ndjson"), "rb");
    cr_assert_not_null(fp, "%s/events.ndjson", casename);
    tq_linereader r;
    cr_assert_eq(tq_linereader_init(&r, fp, TQ_NDJSON_LINE_MAX), TQ_OK);
    const char *line;
    size_t len;
    uint64_t bad_line = 0;
    *good = 0;
    int rc;
    while ((rc = tq_linereader_next(&r, &line, &len)) == TQ_OK) {
        tq_event ev;
        if (tq_ndjson_parse_event(line, len, r.lineno, &ev, d) != TQ_OK) {
            bad_line = r.lineno;
            break;
        }
        expect_round_trip(&ev, 1);
        expect_round_trip(&ev, 0);
        (*good)++;
    }
    cr_expect(rc == TQ_OK || rc == TQ_ERR_EOF);
    tq_linereader_release(&r);
    fclose(fp);
    return bad_line;
}

Test(ndjson_conformance, bad_event_cases_name_line_and_field)
{
    static const struct {
        const char *name, *field;
        uint64_t line;
    } cases[] = {
        {"bad_amend_without_fields", "tax_due", 4},
        {"bad_channel_out_of_range", "channel", 2},
        {"bad_decl_no_11_digits", "decl_no", 2},
        {"bad_malformed_json_line", "(json)", 3},
        {"bad_tax_due_over_max", "tax_due", 1},
        {"bad_unknown_event_kind", "ev", 4},
        {"bad_unknown_field", "note", 2},
    };
    TQ_TEST_NEED_CASES();
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        tq_diag d;
        uint64_t good;
        memset(&d, 0, sizeof d);
        uint64_t line = first_bad_event(cases[i].name, &d, &good);
        cr_expect_eq(line, cases[i].line, "%s: line %llu", cases[i].name,
                     (unsigned long long)line);
        cr_expect_str_eq(d.field, cases[i].field, "%s: field '%s': %s", cases[i].name, d.field,
                         d.why);
    }
}

Test(ndjson_conformance, oracle_messages)
{
    TQ_TEST_NEED_CASES();
    tq_diag d;
    uint64_t good;
    first_bad_event("bad_channel_out_of_range", &d, &good);
    cr_expect_str_eq(d.why, "must be in 1..3, got 4");
    first_bad_event("bad_decl_no_11_digits", &d, &good);
    cr_expect_str_eq(d.why, "must be 12 ASCII digits, first digit not 0, got '10345678901'");
    first_bad_event("bad_unknown_event_kind", &d, &good);
    cr_expect_str_eq(d.why,
                     "must be one of DECL, AMEND, OFFICER, MANUAL_CLEAR, CANCEL; got 'PAYMENT'");
    first_bad_event("bad_unknown_field", &d, &good);
    cr_expect_str_eq(d.why, "unknown field for a DECL event");
    first_bad_event("bad_tax_due_over_max", &d, &good);
    cr_expect_str_eq(d.why, "must be in 0..1000000000000000, got 1000000000000001");
    first_bad_event("bad_amend_without_fields", &d, &good);
    cr_expect_str_eq(d.why, "an AMEND needs tax_due and/or lines");
    first_bad_event("bad_malformed_json_line", &d, &good);
    cr_expect(strstr(d.why, "column 26") != NULL, "%s", d.why);
}

Test(ndjson_conformance, every_other_case_parses_and_round_trips, .timeout = 120)
{
    TQ_TEST_NEED_CASES();
    DIR *dir = opendir(TQ_TEST_CASES_DIR);
    struct dirent *de;
    uint64_t total = 0;
    int ncases = 0;
    while ((de = readdir(dir)) != NULL) {
        if (de->d_name[0] == '.' || strncmp(de->d_name, "bad_", 4) == 0)
            continue;
        FILE *fp = fopen(tq_test_case_path(de->d_name, "events.ndjson"), "rb");
        if (fp == NULL)
            continue;
        fclose(fp);
        tq_diag d;
        uint64_t good;
        uint64_t line = first_bad_event(de->d_name, &d, &good);
        cr_expect_eq(line, 0, "%s: line %llu field '%s': %s", de->d_name,
                     (unsigned long long)line, d.field, d.why);
        total += good;
        ncases++;
    }
    closedir(dir);
    cr_expect_gt(ncases, 20);
    cr_expect_gt(total, 10000);
}

Test(ndjson_conformance, bad_csv_cases_still_have_good_events)
{
    const char *names[] = {"bad_negative_amount", "bad_payment_kind", "bad_payments_header",
                           "bad_permit_status", "bad_receipt_conflict"};
    TQ_TEST_NEED_CASES();
    for (size_t i = 0; i < sizeof names / sizeof *names; i++) {
        tq_diag d;
        uint64_t good;
        cr_expect_eq(first_bad_event(names[i], &d, &good), 0, "%s: %s", names[i], d.why);
    }
}

/* ------------------------------------------------------------------ line reader */

static FILE *mem(const char *s, size_t n)
{
    FILE *fp = tmpfile();
    cr_assert_not_null(fp);
    cr_assert_eq(fwrite(s, 1, n, fp), n);
    rewind(fp);
    return fp;
}

/* A line reader over n bytes of s, and its last line: lines_open() asserts the init,
 * lines_next() reads one line into l/n, lines_close() releases and closes. */
typedef struct lines {
    FILE *fp;
    tq_linereader r;
    const char *l;
    size_t n;
} lines;

static void lines_open(lines *x, const char *s, size_t n, size_t max)
{
    x->fp = mem(s, n);
    cr_assert_eq(tq_linereader_init(&x->r, x->fp, max), TQ_OK);
}

static int lines_next(lines *x)
{
    return tq_linereader_next(&x->r, &x->l, &x->n);
}

static void lines_close(lines *x)
{
    tq_linereader_release(&x->r);
    fclose(x->fp);
}

/* expect_line() - the next line of x is the n bytes of text (a NUL after them),
 * numbered lineno (0: the number not checked). */
static void expect_line(lines *x, const char *text, size_t n, uint64_t lineno)
{
    int rc = lines_next(x);
    cr_assert_eq(rc, TQ_OK, "want the line '%.*s': %s", (int)n, text, tq_strerror(rc));
    cr_assert_eq(x->n, n, "the line '%.*s' has %zu bytes, not %zu", (int)n, text, x->n, n);
    cr_expect(memcmp(x->l, text, n) == 0 && x->l[n] == '\0', "the line is '%.*s', not '%.*s'",
              (int)x->n, x->l, (int)n, text);
    if (lineno != 0)
        cr_expect_eq(x->r.lineno, lineno, "the line '%.*s' is numbered %llu, not %llu", (int)n,
                     text, (unsigned long long)x->r.lineno, (unsigned long long)lineno);
}

Test(linereader, lines_and_numbers)
{
    lines x;
    lines_open(&x, "a\n\nbc\n", 6, 100);
    expect_line(&x, "a", 1, 1);
    expect_line(&x, "", 0, 2);
    expect_line(&x, "bc", 2, 3);
    cr_expect_eq(x.r.missing_final_newline, 0);
    cr_expect_eq(lines_next(&x), TQ_ERR_EOF);
    cr_expect_eq(lines_next(&x), TQ_ERR_EOF);
    cr_expect_eq(x.r.lineno, 3);
    tq_linereader_release(&x.r);   /* release is safe twice */
    lines_close(&x);
}

Test(linereader, missing_final_newline_is_flagged)
{
    lines x;
    lines_open(&x, "a\nlast", 6, 100);
    expect_line(&x, "a", 1, 1);
    cr_expect_eq(x.r.missing_final_newline, 0);
    expect_line(&x, "last", 4, 2);
    cr_expect_eq(x.r.missing_final_newline, 1);
    cr_expect_eq(lines_next(&x), TQ_ERR_EOF);
    lines_close(&x);
}

Test(linereader, crlf_is_not_stripped)
{
    lines x;
    lines_open(&x, "ab\r\n", 4, 100);
    expect_line(&x, "ab\r", 3, 1);
    lines_close(&x);
}

Test(linereader, nul_bytes_are_kept_in_the_length)
{
    lines x;
    lines_open(&x, "a\0b\n", 4, 100);
    expect_line(&x, "a\0b", 3, 1);
    lines_close(&x);
}

Test(linereader, line_of_exactly_max_is_accepted_one_more_is_limit)
{
    static char data[64];
    memset(data, 'x', 10);
    data[10] = '\n';
    memset(data + 11, 'y', 11);
    data[22] = '\n';
    memcpy(data + 23, "ok\n", 3);
    lines x;
    lines_open(&x, data, 26, 10);
    expect_line(&x, "xxxxxxxxxx", 10, 1);
    cr_expect_eq(lines_next(&x), TQ_ERR_LIMIT);
    cr_expect_eq(x.r.lineno, 2);
    /* the rest of the long line is stepped over */
    expect_line(&x, "ok", 2, 3);
    lines_close(&x);
}

Test(linereader, huge_line_is_refused_with_bounded_memory)
{
    size_t big = 10u << 20;
    char *data = malloc(big + 4);
    cr_assert_not_null(data);
    memset(data, 'z', big);
    memcpy(data + big, "\nA\n", 3);
    lines x;
    lines_open(&x, data, big + 3, 5000);
    free(data);
    cr_expect_eq(lines_next(&x), TQ_ERR_LIMIT);
    cr_expect_leq(x.r.cap, 5001);
    expect_line(&x, "A", 1, 2);
    lines_close(&x);
}

Test(linereader, buffer_grows_for_long_lines_within_max)
{
    size_t big = 100000;
    char *data = malloc(big + 1);
    cr_assert_not_null(data);
    for (size_t i = 0; i < big; i++)
        data[i] = (char)('a' + i % 26);
    data[big] = '\n';
    lines x;
    lines_open(&x, data, big + 1, big);
    expect_line(&x, data, big, 1);
    free(data);
    lines_close(&x);
}

Test(linereader, empty_file_is_eof)
{
    lines x;
    lines_open(&x, "", 0, 10);
    cr_expect_eq(lines_next(&x), TQ_ERR_EOF);
    cr_expect_eq(x.r.lineno, 0);
    lines_close(&x);
}
