/* test_csv.c - the strict CSV codec for payments and permits, and the shared validators. */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tq_csv.h"
#include "tq_ndjson.h"
#include "tq_testrec.h"

/* with(base, from, to): base with from replaced by to (tq_testrec.h) */
#define with tq_test_with

#ifndef TQ_SOURCE_DIR
#define TQ_SOURCE_DIR "."
#endif
#define CASES_DIR TQ_SOURCE_DIR "/../shared/conformance/cases"

static const char *PAY = "103456789012,KB-2024-0000001,PAY,12500000,";
static const char *GUAR = "103456789013,BL-VCB-000017,GUARANTEE,8000000,2024-12-31";
static const char *PERMIT = "GCN-2024-000123,BCT,0101234567,2024-01-01,2024-12-31,VALID,8517;8471,0";

/* ------------------------------------------------------------------ helpers */

/* Exact-size heap copies, so that ASan catches a read past len. */
static int pay_n(const char *s, size_t n, tq_payment *p, tq_diag *d)
{
    char *c = tq_test_exact_copy(s, n);
    memset(d, 0, sizeof *d);
    int rc = tq_csv_parse_payment(c, n, p, d);
    free(c);
    return rc;
}

static int permit_n(const char *s, size_t n, tq_permit *p, tq_diag *d)
{
    char *c = tq_test_exact_copy(s, n);
    memset(d, 0, sizeof *d);
    int rc = tq_csv_parse_permit(c, n, p, d);
    free(c);
    return rc;
}

static void pay_ok(const char *s, tq_payment *p)
{
    tq_diag d;
    cr_assert_eq(pay_n(s, strlen(s), p, &d), TQ_OK, "'%s': field '%s': %s", s, d.field, d.why);
}

static void pay_bad(const char *s, const char *field, const char *why)
{
    tq_payment p;
    tq_diag d;
    cr_assert_eq(pay_n(s, strlen(s), &p, &d), TQ_ERR_INPUT, "should be refused: '%s'", s);
    cr_expect_str_eq(d.field, field, "'%s': field '%s': %s", s, d.field, d.why);
    if (why != NULL)
        cr_expect(strstr(d.why, why) != NULL, "'%s': why '%s' lacks '%s'", s, d.why, why);
}

static void permit_ok(const char *s, tq_permit *p)
{
    tq_diag d;
    cr_assert_eq(permit_n(s, strlen(s), p, &d), TQ_OK, "'%s': field '%s': %s", s, d.field,
                 d.why);
}

static void permit_bad(const char *s, const char *field, const char *why)
{
    tq_permit p;
    tq_diag d;
    cr_assert_eq(permit_n(s, strlen(s), &p, &d), TQ_ERR_INPUT, "should be refused: '%s'", s);
    cr_expect_str_eq(d.field, field, "'%s': field '%s': %s", s, d.field, d.why);
    if (why != NULL)
        cr_expect(strstr(d.why, why) != NULL, "'%s': why '%s' lacks '%s'", s, d.why, why);
}

static int32_t day(const char *s)
{
    int32_t d;
    cr_assert_eq(tq_date_parse(s, strlen(s), &d, NULL), TQ_OK);
    return d;
}

static void expect_payment_eq(const tq_payment *a, const tq_payment *b)
{
    cr_expect_str_eq(a->decl_no, b->decl_no);
    cr_expect_str_eq(a->receipt_no, b->receipt_no);
    cr_expect_eq(a->kind, b->kind);
    cr_expect_eq(a->amount, b->amount);
    cr_expect_eq(a->valid_until, b->valid_until);
}

static void expect_permit_eq(const tq_permit *a, const tq_permit *b)
{
    cr_expect_str_eq(a->permit_no, b->permit_no);
    cr_expect_str_eq(a->agency, b->agency);
    cr_expect_str_eq(a->holder, b->holder);
    cr_expect_eq(a->status, b->status);
    cr_expect_eq(a->valid_from, b->valid_from);
    cr_expect_eq(a->valid_to, b->valid_to);
    cr_expect_eq(a->quota, b->quota);
    cr_assert_eq(a->nprefixes, b->nprefixes);
    for (unsigned i = 0; i < a->nprefixes; i++)
        cr_expect_str_eq(a->prefixes[i], b->prefixes[i]);
}

/* ------------------------------------------------------------------ validators */

Test(csv_validators, decl_no)
{
    cr_expect(tq_valid_decl_no("103456789012", 12));
    cr_expect(!tq_valid_decl_no("003456789012", 12));
    cr_expect(!tq_valid_decl_no("10345678901", 11));
    cr_expect(!tq_valid_decl_no("1034567890123", 13));
    cr_expect(!tq_valid_decl_no("10345678901x", 12));
    cr_expect(!tq_valid_decl_no("", 0));
}

Test(csv_validators, taxid_has_10_or_13_digits)
{
    cr_expect(tq_valid_taxid("0101234567", 10));
    cr_expect(tq_valid_taxid("0101234567001", 13));
    cr_expect(!tq_valid_taxid("01012345670", 11));
    cr_expect(!tq_valid_taxid("010123456700", 12));
    cr_expect(!tq_valid_taxid("010123456a", 10));
}

Test(csv_validators, office_is_four_of_digits_and_capitals)
{
    cr_expect(tq_valid_office("01B1", 4));
    cr_expect(tq_valid_office("ZZ09", 4));
    cr_expect(!tq_valid_office("01B", 3));
    cr_expect(!tq_valid_office("01B12", 5));
    cr_expect(!tq_valid_office("01b1", 4), "lower case");
    cr_expect(!tq_valid_office("01-1", 4));
    cr_expect(tq_valid_office("01B1X", 4), "only n bytes are read");
}

Test(csv_validators, permit_no)
{
    cr_expect(tq_valid_permit_no("a", 1));
    cr_expect(tq_valid_permit_no("AZaz09./_-", 10));
    cr_expect(tq_valid_permit_no("12345678901234567890123456789012", 32));
    cr_expect(!tq_valid_permit_no("123456789012345678901234567890123", 33));
    cr_expect(!tq_valid_permit_no("", 0));
    cr_expect(!tq_valid_permit_no("a b", 3));
    cr_expect(!tq_valid_permit_no("a,b", 3));
    cr_expect(!tq_valid_permit_no("a+b", 3));
}

Test(csv_validators, hs)
{
    cr_expect(tq_valid_hs("85171300", 8));
    cr_expect(!tq_valid_hs("8517130", 7));
    cr_expect(!tq_valid_hs("8517130x", 8));
}

Test(csv_validators, parse_u64_bounds_and_form)
{
    uint64_t v = 7;
    cr_expect_eq(tq_parse_u64("0", 1, 10, &v), TQ_OK);
    cr_expect_eq(v, 0);
    cr_expect_eq(tq_parse_u64("10", 2, 10, &v), TQ_OK);
    cr_expect_eq(v, 10);
    cr_expect_eq(tq_parse_u64("11", 2, 10, &v), TQ_ERR_INPUT);
    cr_expect_eq(v, 10, "*out unchanged on error");
    cr_expect_eq(tq_parse_u64("01", 2, 10, &v), TQ_ERR_INPUT);
    cr_expect_eq(tq_parse_u64("", 0, 10, &v), TQ_ERR_INPUT);
    cr_expect_eq(tq_parse_u64("-1", 2, 10, &v), TQ_ERR_INPUT);
    cr_expect_eq(tq_parse_u64("+1", 2, 10, &v), TQ_ERR_INPUT);
    cr_expect_eq(tq_parse_u64("1 ", 2, 10, &v), TQ_ERR_INPUT);
    cr_expect_eq(tq_parse_u64("18446744073709551615", 20, UINT64_MAX, &v), TQ_OK);
    cr_expect_eq(v, UINT64_MAX);
    cr_expect_eq(tq_parse_u64("18446744073709551616", 20, UINT64_MAX, &v), TQ_ERR_INPUT);
    cr_expect_eq(tq_parse_u64("99999999999999999999999999999999", 32, UINT64_MAX, &v), TQ_ERR_INPUT);
    cr_expect_eq(tq_parse_u64("1000000000000000", 16, TQ_MONEY_MAX, &v), TQ_OK);
    cr_expect_eq(tq_parse_u64("1000000000000001", 16, TQ_MONEY_MAX, &v), TQ_ERR_INPUT);
    cr_expect_eq(tq_parse_u64("5", 1, 4, &v), TQ_ERR_INPUT);
    cr_expect_eq(tq_parse_u64("0", 1, 0, &v), TQ_OK);
    cr_expect_eq(tq_parse_u64("1", 1, 0, &v), TQ_ERR_INPUT);
}

Test(csv_validators, parse_u64_reads_only_n_bytes)
{
    uint64_t v;
    cr_expect_eq(tq_parse_u64("12abc", 2, 100, &v), TQ_OK);
    cr_expect_eq(v, 12);
}

/* ------------------------------------------------------------------ headers */

Test(csv_header, exact_headers_pass)
{
    tq_diag d;
    cr_expect_eq(tq_csv_check_header(TQ_PAYMENTS_HEADER, strlen(TQ_PAYMENTS_HEADER),
                                     TQ_PAYMENTS_HEADER, &d), TQ_OK);
    cr_expect_eq(tq_csv_check_header(TQ_PERMITS_HEADER, strlen(TQ_PERMITS_HEADER),
                                     TQ_PERMITS_HEADER, &d), TQ_OK);
}

Test(csv_header, bom_and_crlf_are_allowed)
{
    tq_diag d;
    const char *s = "\xef\xbb\xbf" TQ_PAYMENTS_HEADER "\r";
    cr_expect_eq(tq_csv_check_header(s, strlen(s), TQ_PAYMENTS_HEADER, &d), TQ_OK);
}

Test(csv_header, misspelled_header_quotes_both)
{
    tq_diag d;
    const char *s = "decl_no,receipt,kind,amount,valid_until";
    cr_assert_eq(tq_csv_check_header(s, strlen(s), TQ_PAYMENTS_HEADER, &d), TQ_ERR_INPUT);
    cr_expect_str_eq(d.field, "(header)");
    cr_expect_str_eq(d.why, "header must be exactly 'decl_no,receipt_no,kind,amount,valid_until',"
                            " got 'decl_no,receipt,kind,amount,valid_until'");
}

Test(csv_header, near_misses_are_refused)
{
    const char *bad[] = {TQ_PAYMENTS_HEADER ",", " " TQ_PAYMENTS_HEADER, TQ_PAYMENTS_HEADER " ",
                         "DECL_NO,RECEIPT_NO,KIND,AMOUNT,VALID_UNTIL", "", TQ_PAYMENTS_HEADER "\r\r",
                         "decl_no,receipt_no,kind,amount", TQ_PERMITS_HEADER,
                         "\xef\xbb\xbf\xef\xbb\xbf" TQ_PAYMENTS_HEADER};
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        tq_diag d;
        cr_expect_eq(tq_csv_check_header(bad[i], strlen(bad[i]), TQ_PAYMENTS_HEADER, &d),
                     TQ_ERR_INPUT, "'%s' accepted", bad[i]);
        cr_expect_str_eq(d.field, "(header)");
    }
}

Test(csv_header, long_header_points_at_the_difference)
{
    tq_diag d;
    const char *s = "permit_no,agency,holder,valid_from,valid_to,status,hs_prefixes,quotas";
    cr_assert_eq(tq_csv_check_header(s, strlen(s), TQ_PERMITS_HEADER, &d), TQ_ERR_INPUT);
    cr_expect(strstr(d.why, "column 69") != NULL, "%s", d.why);
}

/* ------------------------------------------------------------------ payments */

Test(csv_payments, pay_row)
{
    tq_payment p;
    pay_ok(PAY, &p);
    cr_expect_str_eq(p.decl_no, "103456789012");
    cr_expect_str_eq(p.receipt_no, "KB-2024-0000001");
    cr_expect_eq(p.kind, TQ_PAY);
    cr_expect_eq(p.amount, 12500000);
    cr_expect_eq(p.valid_until, TQ_NO_DATE);
}

Test(csv_payments, guarantee_row)
{
    tq_payment p;
    pay_ok(GUAR, &p);
    cr_expect_eq(p.kind, TQ_GUARANTEE);
    cr_expect_eq(p.amount, 8000000);
    cr_expect_eq(p.valid_until, day("2024-12-31"));
}

Test(csv_payments, one_trailing_cr_is_stripped)
{
    tq_payment p;
    char s[128];
    snprintf(s, sizeof s, "%s\r", GUAR);
    pay_ok(s, &p);
    cr_expect_eq(p.valid_until, day("2024-12-31"));
    snprintf(s, sizeof s, "%s\r", PAY);
    pay_ok(s, &p);
    snprintf(s, sizeof s, "%s\r\r", PAY);
    pay_bad(s, "valid_until", "\\x0d");
}

Test(csv_payments, blank_line_and_field_count)
{
    pay_bad("", "(line)", "blank line");
    pay_bad("\r", "(line)", "blank line");
    pay_bad("103456789012,KB-1,PAY,1", "(line)", "expected 5 fields, got 4");
    pay_bad("103456789012,KB-1,PAY,1,,", "(line)", "expected 5 fields, got 6");
    pay_bad(" ", "(line)", "expected 5 fields, got 1");
}

Test(csv_payments, decl_no_and_receipt_no)
{
    pay_bad(with(PAY, "103456789012", "10345678901"), "decl_no",
            "must be 12 ASCII digits, first digit not 0, got '10345678901'");
    pay_bad(with(PAY, "103456789012", "\xef\xbb\xbf" "103456789012"), "decl_no", "\\xef");
    pay_bad(with(PAY, "KB-2024-0000001", ""), "receipt_no", "1..32");
    pay_bad(with(PAY, "KB-2024-0000001", "KB 1"), "receipt_no", NULL);
    pay_bad(with(PAY, "KB-2024-0000001", "123456789012345678901234567890123"), "receipt_no",
            NULL);
    tq_payment p;
    pay_ok(with(PAY, "KB-2024-0000001", "12345678901234567890123456789012"), &p);
    cr_expect_eq(strlen(p.receipt_no), 32);
}

Test(csv_payments, kind_is_pay_or_guarantee)
{
    pay_bad(with(PAY, "PAY", "CASH"), "kind", "must be PAY or GUARANTEE, got 'CASH'");
    pay_bad(with(PAY, "PAY", "pay"), "kind", NULL);
    pay_bad(with(PAY, "PAY", ""), "kind", NULL);
    pay_bad(with(PAY, "PAY", "PAY "), "kind", NULL);
}

Test(csv_payments, amount_bounds)
{
    tq_payment p;
    pay_ok(with(PAY, "12500000", "0"), &p);
    cr_expect_eq(p.amount, 0);
    pay_ok(with(PAY, "12500000", "1000000000000000"), &p);
    cr_expect_eq(p.amount, TQ_MONEY_MAX);
    pay_bad(with(PAY, "12500000", "-5"), "amount",
            "must be an integer 0..1000000000000000, got '-5'");
    pay_bad(with(PAY, "12500000", "1000000000000001"), "amount", NULL);
    pay_bad(with(PAY, "12500000", "1.0"), "amount", NULL);
    pay_bad(with(PAY, "12500000", "01"), "amount", NULL);
    pay_bad(with(PAY, "12500000", ""), "amount", NULL);
    pay_bad(with(PAY, "12500000", "+5"), "amount", NULL);
    pay_bad(with(PAY, "12500000", "99999999999999999999999999999"), "amount", NULL);
}

Test(csv_payments, valid_until_depends_on_kind)
{
    pay_bad(with(PAY, "PAY,12500000,", "PAY,12500000,2024-12-31"), "valid_until",
            "must be empty for a PAY row");
    pay_bad(with(GUAR, "2024-12-31", ""), "valid_until", "GUARANTEE");
    pay_bad(with(GUAR, "2024-12-31", "2024-13-01"), "valid_until", "date");
    pay_bad(with(GUAR, "2024-12-31", "2023-02-29"), "valid_until", "2023-02-29");
    pay_bad(with(GUAR, "2024-12-31", "31/12/2024"), "valid_until", NULL);
    tq_payment p;
    pay_ok(with(GUAR, "2024-12-31", "2024-02-29"), &p);
    cr_expect_eq(p.valid_until, day("2024-02-29"));
}

Test(csv_payments, control_bytes_are_refused)
{
    pay_bad(with(PAY, "KB-2024", "KB\t2024"), "receipt_no", "\\x09");
    char row[64];
    memcpy(row, "103456789012,KB-1,PA\0Y,1,", 25);
    tq_payment p;
    tq_diag d;
    cr_assert_eq(pay_n(row, 25, &p, &d), TQ_ERR_INPUT);
    cr_expect_str_eq(d.field, "kind");
    cr_expect(strstr(d.why, "PA\\x00Y") != NULL, "%s", d.why);
}

Test(csv_payments, leftmost_bad_field_is_reported)
{
    pay_bad("1,KB 1,CASH,-5,x", "decl_no", NULL);
    pay_bad("103456789012,KB 1,CASH,-5,x", "receipt_no", NULL);
    pay_bad("103456789012,KB-1,CASH,-5,x", "kind", NULL);
}

Test(csv_payments, format_round_trips)
{
    const char *rows[] = {PAY, GUAR, "999999999999,a,PAY,0,",
                          "100000000000,12345678901234567890123456789012,GUARANTEE,"
                          "1000000000000000,0001-01-01",
                          "100000000001,x./_-,GUARANTEE,1,9999-12-31"};
    for (size_t i = 0; i < sizeof rows / sizeof *rows; i++) {
        tq_payment p, q;
        char out[256];
        pay_ok(rows[i], &p);
        size_t n = tq_csv_format_payment(&p, out, sizeof out);
        cr_assert_lt(n, sizeof out);
        cr_expect_eq(n, strlen(rows[i]) + 1);
        cr_expect_eq(strncmp(out, rows[i], strlen(rows[i])), 0, "%s", out);
        cr_expect_eq(out[n - 1], '\n');
        pay_ok(with(out, "\n", ""), &q);
        expect_payment_eq(&p, &q);
    }
}

Test(csv_payments, format_truncates_like_snprintf)
{
    tq_payment p;
    char out[8];
    pay_ok(GUAR, &p);
    size_t n = tq_csv_format_payment(&p, out, sizeof out);
    cr_expect_eq(n, strlen(GUAR) + 1);
    cr_expect_str_eq(out, "1034567");
    cr_expect_eq(tq_csv_format_payment(&p, NULL, 0), n);
}

/* ------------------------------------------------------------------ permits */

Test(csv_permits, full_row)
{
    tq_permit p;
    permit_ok(PERMIT, &p);
    cr_expect_str_eq(p.permit_no, "GCN-2024-000123");
    cr_expect_str_eq(p.agency, "BCT");
    cr_expect_str_eq(p.holder, "0101234567");
    cr_expect_eq(p.valid_from, day("2024-01-01"));
    cr_expect_eq(p.valid_to, day("2024-12-31"));
    cr_expect_eq(p.status, TQ_PERMIT_VALID);
    cr_assert_eq(p.nprefixes, 2);
    cr_expect_str_eq(p.prefixes[0], "8517");
    cr_expect_str_eq(p.prefixes[1], "8471");
    cr_expect_eq(p.quota, 0);
}

Test(csv_permits, field_count_and_blank_line)
{
    permit_bad("", "(line)", "blank line");
    permit_bad("a,b,c", "(line)", "expected 8 fields, got 3");
    permit_bad(with(PERMIT, ",0", ",0,"), "(line)", "expected 8 fields, got 9");
}

Test(csv_permits, agency)
{
    tq_permit p;
    permit_ok(with(PERMIT, "BCT", "BNNPTNT"), &p);
    permit_ok(with(PERMIT, "BCT", "ABCDEFGHIJ012345"), &p);
    cr_expect_str_eq(p.agency, "ABCDEFGHIJ012345");
    permit_bad(with(PERMIT, "BCT", "ABCDEFGHIJ0123456"), "agency", "1..16");
    permit_bad(with(PERMIT, "BCT", ""), "agency", NULL);
    permit_bad(with(PERMIT, "BCT", "bct"), "agency", NULL);
    permit_bad(with(PERMIT, "BCT", "B-CT"), "agency", NULL);
}

Test(csv_permits, permit_no_and_holder)
{
    tq_permit p;
    permit_bad(with(PERMIT, "GCN-2024-000123", "GCN 1"), "permit_no", NULL);
    permit_bad(with(PERMIT, "GCN-2024-000123", ""), "permit_no", NULL);
    permit_ok(with(PERMIT, "0101234567", "0101234567001"), &p);
    cr_expect_str_eq(p.holder, "0101234567001");
    permit_bad(with(PERMIT, "0101234567", "010123456"), "holder", "10 or 13");
}

Test(csv_permits, validity_window)
{
    tq_permit p;
    permit_ok(with(PERMIT, "2024-01-01,2024-12-31", "2024-05-01,2024-05-01"), &p);
    cr_expect_eq(p.valid_from, p.valid_to);
    permit_bad(with(PERMIT, "2024-01-01,2024-12-31", "2024-06-01,2024-05-31"), "valid_to",
               "valid_from");
    permit_bad(with(PERMIT, "2024-01-01", "2024-1-01"), "valid_from", NULL);
    permit_bad(with(PERMIT, "2024-12-31", "2024-12-32"), "valid_to", NULL);
    permit_bad(with(PERMIT, "2024-12-31", ""), "valid_to", NULL);
}

Test(csv_permits, status)
{
    tq_permit p;
    permit_ok(with(PERMIT, "VALID", "REVOKED"), &p);
    cr_expect_eq(p.status, TQ_PERMIT_REVOKED);
    permit_bad(with(PERMIT, "VALID", "EXPIRED"), "status",
               "must be VALID or REVOKED, got 'EXPIRED'");
    permit_bad(with(PERMIT, "VALID", "valid"), "status", NULL);
}

Test(csv_permits, hs_prefixes)
{
    tq_permit p;
    permit_ok(with(PERMIT, "8517;8471", "03"), &p);
    cr_expect_eq(p.nprefixes, 1);
    permit_ok(with(PERMIT, "8517;8471", "85171300"), &p);
    cr_expect_str_eq(p.prefixes[0], "85171300");
    permit_ok(with(PERMIT, "8517;8471", "01;02;03;04;05;06;07;08;09;10;11;12;13;14;15;16"), &p);
    cr_expect_eq(p.nprefixes, 16);
    cr_expect_str_eq(p.prefixes[15], "16");
    const char *bad[] = {"", "8", "851713001", "8517;", ";8517", "8517;;8471", "85a7",
                         "01;02;03;04;05;06;07;08;09;10;11;12;13;14;15;16;17", "8517 ", "8517|8471"};
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++)
        permit_bad(with(PERMIT, "8517;8471", bad[i]), "hs_prefixes", "1..16 prefixes");
}

Test(csv_permits, quota_bounds)
{
    tq_permit p;
    permit_ok(with(PERMIT, "8471,0", "8471,1000000000000000000"), &p);
    cr_expect_eq(p.quota, TQ_QUOTA_MAX);
    permit_bad(with(PERMIT, "8471,0", "8471,1000000000000000001"), "quota",
               "must be an integer 0..1000000000000000000");
    permit_bad(with(PERMIT, "8471,0", "8471,-1"), "quota", NULL);
    permit_bad(with(PERMIT, "8471,0", "8471,"), "quota", NULL);
    permit_bad(with(PERMIT, "8471,0", "8471,1e3"), "quota", NULL);
}

Test(csv_permits, format_round_trips)
{
    const char *rows[] = {PERMIT,
                          "GP-NK-2024-77,BNNPTNT,0309876543,2024-06-01,2024-09-30,VALID,0303,50000",
                          "x,A,0101234567001,0001-01-01,9999-12-31,REVOKED,"
                          "01;02;03;04;05;06;07;08;09;10;11;12;13;14;15;16,1000000000000000000"};
    for (size_t i = 0; i < sizeof rows / sizeof *rows; i++) {
        tq_permit p, q;
        char out[512];
        permit_ok(rows[i], &p);
        size_t n = tq_csv_format_permit(&p, out, sizeof out);
        cr_assert_lt(n, sizeof out);
        cr_expect_eq(strncmp(out, rows[i], strlen(rows[i])), 0, "%s", out);
        cr_expect_str_eq(out + n - 1, "\n");
        permit_ok(with(out, "\n", ""), &q);
        expect_permit_eq(&p, &q);
    }
}

Test(csv_permits, every_prefix_of_a_row_is_handled_without_overread)
{
    size_t n = strlen(PERMIT);
    for (size_t k = 0; k < n; k++) {
        tq_permit p;
        tq_diag d;
        cr_expect_eq(permit_n(PERMIT, k, &p, &d), TQ_ERR_INPUT, "prefix %zu accepted", k);
    }
    n = strlen(GUAR);
    for (size_t k = 0; k < n; k++) {
        tq_payment p;
        tq_diag d;
        int rc = pay_n(GUAR, k, &p, &d);
        cr_expect(rc == TQ_ERR_INPUT, "prefix %zu accepted", k);
    }
}

/* ------------------------------------------------------------------ conformance files */

/* Reads a case's CSV file: the header, then every row; the first error's line and
 * field.  Good rows are round-tripped through the formatter. */
static uint64_t first_bad_row(const char *casename, const char *file, int permits, tq_diag *d)
{
    char path[1024];
    snprintf(path, sizeof path, "%s/%s/%s", CASES_DIR, casename, file);
    FILE *fp = fopen(path, "rb");
    cr_assert_not_null(fp, "%s", path);
    tq_linereader r;
    cr_assert_eq(tq_linereader_init(&r, fp, 4096), TQ_OK);
    const char *line;
    size_t len;
    uint64_t bad = 0;
    memset(d, 0, sizeof *d);
    while (bad == 0 && tq_linereader_next(&r, &line, &len) == TQ_OK) {
        int rc;
        char out[1024];
        if (r.lineno == 1) {
            rc = tq_csv_check_header(line, len, permits ? TQ_PERMITS_HEADER : TQ_PAYMENTS_HEADER,
                                     d);
        } else if (permits) {
            tq_permit p, q;
            rc = tq_csv_parse_permit(line, len, &p, d);
            if (rc == TQ_OK) {
                size_t n = tq_csv_format_permit(&p, out, sizeof out);
                cr_assert_eq(tq_csv_parse_permit(out, n - 1, &q, d), TQ_OK);
                expect_permit_eq(&p, &q);
            }
        } else {
            tq_payment p, q;
            rc = tq_csv_parse_payment(line, len, &p, d);
            if (rc == TQ_OK) {
                size_t n = tq_csv_format_payment(&p, out, sizeof out);
                cr_assert_eq(tq_csv_parse_payment(out, n - 1, &q, d), TQ_OK);
                expect_payment_eq(&p, &q);
            }
        }
        if (rc != TQ_OK)
            bad = r.lineno;
    }
    tq_linereader_release(&r);
    fclose(fp);
    return bad;
}

static int have_cases(void)
{
    FILE *fp = fopen(CASES_DIR "/green_clear_basic/payments.csv", "rb");
    if (fp == NULL)
        return 0;
    fclose(fp);
    return 1;
}

Test(csv_conformance, bad_csv_cases_name_line_and_field)
{
    static const struct {
        const char *name, *file, *field, *why;
        uint64_t line;
        int permits;
    } cases[] = {
        {"bad_negative_amount", "payments.csv", "amount",
         "must be an integer 0..1000000000000000, got '-5'", 3, 0},
        {"bad_payment_kind", "payments.csv", "kind", "must be PAY or GUARANTEE, got 'CASH'", 2, 0},
        {"bad_payments_header", "payments.csv", "(header)",
         "header must be exactly 'decl_no,receipt_no,kind,amount,valid_until', got "
         "'decl_no,receipt,kind,amount,valid_until'", 1, 0},
        {"bad_permit_status", "permits.csv", "status", "must be VALID or REVOKED, got 'EXPIRED'",
         2, 1},
    };
    if (!have_cases())
        cr_skip_test("no conformance cases at %s", CASES_DIR);
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        tq_diag d;
        uint64_t line = first_bad_row(cases[i].name, cases[i].file, cases[i].permits, &d);
        cr_expect_eq(line, cases[i].line, "%s: line %llu", cases[i].name,
                     (unsigned long long)line);
        cr_expect_str_eq(d.field, cases[i].field, "%s", cases[i].name);
        cr_expect_str_eq(d.why, cases[i].why, "%s", cases[i].name);
    }
}

Test(csv_conformance, receipt_conflict_rows_are_each_well_formed)
{
    /* the conflict is for the loader to find; every row on its own is valid */
    if (!have_cases())
        cr_skip_test("no conformance cases at %s", CASES_DIR);
    tq_diag d;
    cr_expect_eq(first_bad_row("bad_receipt_conflict", "payments.csv", 0, &d), 0, "%s", d.why);
}

Test(csv_conformance, every_good_file_parses_and_round_trips)
{
    static const char *names[] = {
        "amend_after_clear_ignored", "amend_lines_replaces_permits", "green_clear_basic",
        "guarantee_expired_on_boundary_date", "permit_reload_keeps_used",
        "permit_revocation_via_reload", "random_02k_seed101", "random_05k_seed202",
        "reconcile_clears_tax_paid_stuck", "reconcile_order_by_registration",
        "tax_short_partial_payment", "bad_unknown_field"};
    static const char *files[] = {"payments.csv", "permits.csv", "reconcile_payments.csv",
                                  "reconcile_permits.csv"};
    if (!have_cases())
        cr_skip_test("no conformance cases at %s", CASES_DIR);
    int nfiles = 0;
    for (size_t i = 0; i < sizeof names / sizeof *names; i++) {
        for (int f = 0; f < 4; f++) {
            char path[1024];
            snprintf(path, sizeof path, "%s/%s/%s", CASES_DIR, names[i], files[f]);
            FILE *fp = fopen(path, "rb");
            if (fp == NULL)
                continue;
            fclose(fp);
            tq_diag d;
            cr_expect_eq(first_bad_row(names[i], files[f], f % 2, &d), 0, "%s/%s: '%s': %s",
                         names[i], files[f], d.field, d.why);
            nfiles++;
        }
    }
    cr_expect_gt(nfiles, 20);
}
