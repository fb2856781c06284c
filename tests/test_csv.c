/* test_csv.c - the strict CSV codec for payments and permits, and the shared validators. */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tq_csv.h"
#include "tq_ndjson.h"
#include "tq_testfiles.h"
#include "tq_testrec.h"

/* with(base, from, to): base with from replaced by to (tq_testrec.h) */
#define with tq_test_with


static const char *PAY = "103456789012,KB-2024-0000001,PAY,12500000,";
static const char *GUAR = "103456789013,BL-VCB-000017,GUARANTEE,8000000,2024-12-31";
static const char *PERMIT = "GCN-2024-000123,BCT,0101234567,2024-01-01,2024-12-31,VALID,8517;8471,0";

/* ------------------------------------------------------------------ helpers */

/* A record of either CSV file: a payment, or (permits set) a permit. */
typedef union row_rec {
    tq_payment pay;
    tq_permit permit;
} row_rec;

/* row_format() - tq_csv_format_permit() or tq_csv_format_payment() of r. */
static size_t row_format(int permits, const row_rec *r, char *out, size_t cap)
{
    return permits ? tq_csv_format_permit(&r->permit, out, cap)
                   : tq_csv_format_payment(&r->pay, out, cap);
}

/* row_equal() - whether a and b are the same record (tq_testrec.h). */
static int row_equal(int permits, const row_rec *a, const row_rec *b)
{
    return permits ? tq_test_permit_equal(&a->permit, &b->permit)
                   : tq_test_payment_equal(&a->pay, &b->pay);
}

/* row_n() - parse n bytes of s as a row of permits.csv (permits set; rec a tq_permit)
 * or of payments.csv (rec a tq_payment), from an exact-size heap copy so that ASan
 * catches a read past n. */
static int row_n(int permits, const char *s, size_t n, void *rec, tq_diag *d)
{
    char *c = tq_test_exact_copy(s, n);
    memset(d, 0, sizeof *d);
    int rc = permits ? tq_csv_parse_permit(c, n, rec, d) : tq_csv_parse_payment(c, n, rec, d);
    free(c);
    return rc;
}

static int pay_n(const char *s, size_t n, tq_payment *p, tq_diag *d)
{
    return row_n(0, s, n, p, d);
}

static int permit_n(const char *s, size_t n, tq_permit *p, tq_diag *d)
{
    return row_n(1, s, n, p, d);
}

/* row_ok() - the row s parses into rec. */
static void row_ok(int permits, const char *s, void *rec)
{
    tq_diag d;
    cr_assert_eq(row_n(permits, s, strlen(s), rec, &d), TQ_OK, "'%s': field '%s': %s", s,
                 d.field, d.why);
}

static void pay_ok(const char *s, tq_payment *p) { row_ok(0, s, p); }

static void permit_ok(const char *s, tq_permit *p) { row_ok(1, s, p); }

/* row_bad() - the row s is refused, naming field, with why in the reason (NULL: any). */
static void row_bad(int permits, const char *s, const char *field, const char *why)
{
    row_rec rec;
    tq_diag d;
    cr_assert_eq(row_n(permits, s, strlen(s), &rec, &d), TQ_ERR_INPUT, "should be refused: '%s'",
                 s);
    cr_expect_str_eq(d.field, field, "'%s': field '%s': %s", s, d.field, d.why);
    if (why != NULL)
        cr_expect(strstr(d.why, why) != NULL, "'%s': why '%s' lacks '%s'", s, d.why, why);
}

/* row_round_trip() - a good row r formats into a line that parses back into the same
 * record (the line's text in out, cap bytes; its length returned, the newline
 * included); what names the row in a failure. */
static size_t row_round_trip(int permits, const row_rec *r, char *out, size_t cap,
                             const char *what)
{
    row_rec back;
    tq_diag d;
    size_t n = row_format(permits, r, out, cap);
    cr_assert(n > 1 && n < cap && out[n - 1] == '\n', "%s: formatted to %zu bytes", what, n);
    cr_assert_eq(row_n(permits, out, n - 1, &back, &d), TQ_OK, "%s: '%s': %s", what, d.field,
                 d.why);
    cr_expect(row_equal(permits, r, &back), "%s: the round trip differs", what);
    return n;
}

/* expect_formats_as_itself() - the row text parses, and formats back into text and a
 * newline, byte for byte. */
static void expect_formats_as_itself(int permits, const char *text)
{
    row_rec r;
    char out[512];
    row_ok(permits, text, &r);
    size_t n = row_round_trip(permits, &r, out, sizeof out, text);
    cr_expect_eq(n, strlen(text) + 1, "%s: formatted to %zu bytes", text, n);
    cr_expect_eq(strncmp(out, text, strlen(text)), 0, "%s: formatted as %s", text, out);
}

/* Rows refused for one field: base with from replaced by each of the texts to (base
 * NULL: each text is the whole row), the field they name, and what their reason says
 * (NULL: anything). */
typedef struct bad_row {
    const char *base, *from, *field, *why;
    const char *to[8]; /* NULL-ended when fewer */
} bad_row;

/* rows_refused() - row_bad() of each of the n rows. */
static void rows_refused(int permits, const bad_row *rows, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        const bad_row *r = &rows[i];
        for (size_t k = 0; k < 8 && r->to[k] != NULL; k++)
            row_bad(permits, r->base ? with(r->base, r->from, r->to[k]) : r->to[k], r->field,
                    r->why);
    }
}

static int32_t day(const char *s)
{
    int32_t d;
    cr_assert_eq(tq_date_parse(s, strlen(s), &d, NULL), TQ_OK);
    return d;
}

/* ------------------------------------------------------------------ validators */

/* What the validators say of each text (its first n bytes): 1 valid, 0 not. */
Test(csv_validators, say_which_texts_are_valid)
{
    static const struct {
        int (*valid)(const char *s, size_t n);
        const char *text;
        size_t n;
        int want;
        const char *what;
    } cases[] = {
        {tq_valid_decl_no, "103456789012", 12, 1, "decl_no"},
        {tq_valid_decl_no, "003456789012", 12, 0, "decl_no"},
        {tq_valid_decl_no, "10345678901", 11, 0, "decl_no"},
        {tq_valid_decl_no, "1034567890123", 13, 0, "decl_no"},
        {tq_valid_decl_no, "10345678901x", 12, 0, "decl_no"},
        {tq_valid_decl_no, "", 0, 0, "decl_no"},
        {tq_valid_taxid, "0101234567", 10, 1, "taxid"},
        {tq_valid_taxid, "0101234567001", 13, 1, "taxid"},
        {tq_valid_taxid, "01012345670", 11, 0, "taxid"},
        {tq_valid_taxid, "010123456700", 12, 0, "taxid"},
        {tq_valid_taxid, "010123456a", 10, 0, "taxid"},
        {tq_valid_office, "01B1", 4, 1, "office"},
        {tq_valid_office, "ZZ09", 4, 1, "office"},
        {tq_valid_office, "01B", 3, 0, "office"},
        {tq_valid_office, "01B12", 5, 0, "office"},
        {tq_valid_office, "01b1", 4, 0, "lower case"},
        {tq_valid_office, "01-1", 4, 0, "office"},
        {tq_valid_office, "01B1X", 4, 1, "only n bytes are read"},
        {tq_valid_permit_no, "a", 1, 1, "permit_no"},
        {tq_valid_permit_no, "AZaz09./_-", 10, 1, "permit_no"},
        {tq_valid_permit_no, "12345678901234567890123456789012", 32, 1, "permit_no"},
        {tq_valid_permit_no, "123456789012345678901234567890123", 33, 0, "permit_no"},
        {tq_valid_permit_no, "", 0, 0, "permit_no"},
        {tq_valid_permit_no, "a b", 3, 0, "permit_no"},
        {tq_valid_permit_no, "a,b", 3, 0, "permit_no"},
        {tq_valid_permit_no, "a+b", 3, 0, "permit_no"},
        {tq_valid_hs, "85171300", 8, 1, "hs"},
        {tq_valid_hs, "8517130", 7, 0, "hs"},
        {tq_valid_hs, "8517130x", 8, 0, "hs"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++)
        cr_expect_eq(cases[i].valid(cases[i].text, cases[i].n), cases[i].want, "%s: '%.*s' %s",
                     cases[i].what, (int)cases[i].n, cases[i].text,
                     cases[i].want ? "refused" : "accepted");
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
    row_bad(0, s, "valid_until", "\\x0d");
}


Test(csv_payments, decl_no_and_receipt_no)
{
    tq_payment p;
    pay_ok(with(PAY, "KB-2024-0000001", "12345678901234567890123456789012"), &p);
    cr_expect_eq(strlen(p.receipt_no), 32);
}


Test(csv_payments, amount_bounds)
{
    tq_payment p;
    pay_ok(with(PAY, "12500000", "0"), &p);
    cr_expect_eq(p.amount, 0);
    pay_ok(with(PAY, "12500000", "1000000000000000"), &p);
    cr_expect_eq(p.amount, TQ_MONEY_MAX);
}

Test(csv_payments, valid_until_depends_on_kind)
{
    tq_payment p;
    pay_ok(with(GUAR, "2024-12-31", "2024-02-29"), &p);
    cr_expect_eq(p.valid_until, day("2024-02-29"));
}

Test(csv_payments, control_bytes_are_refused)
{
    char row[64];
    memcpy(row, "103456789012,KB-1,PA\0Y,1,", 25);
    tq_payment p;
    tq_diag d;
    cr_assert_eq(pay_n(row, 25, &p, &d), TQ_ERR_INPUT);
    cr_expect_str_eq(d.field, "kind");
    cr_expect(strstr(d.why, "PA\\x00Y") != NULL, "%s", d.why);
}


Test(csv_payments, format_round_trips)
{
    const char *rows[] = {PAY, GUAR, "999999999999,a,PAY,0,",
                          "100000000000,12345678901234567890123456789012,GUARANTEE,"
                          "1000000000000000,0001-01-01",
                          "100000000001,x./_-,GUARANTEE,1,9999-12-31"};
    for (size_t i = 0; i < sizeof rows / sizeof *rows; i++)
        expect_formats_as_itself(0, rows[i]);
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

/* Rows of payments.csv that are refused, each naming the field at fault. */
Test(csv_payments, bad_rows_name_their_field)
{
    const bad_row rows[] = {
        /* a blank line, the wrong number of fields */
        {NULL, NULL, "(line)", "blank line", {"", "\r"}},
        {NULL, NULL, "(line)", "expected 5 fields, got 4", {"103456789012,KB-1,PAY,1"}},
        {NULL, NULL, "(line)", "expected 5 fields, got 6", {"103456789012,KB-1,PAY,1,,"}},
        {NULL, NULL, "(line)", "expected 5 fields, got 1", {" "}},
        /* decl_no and receipt_no */
        {PAY, "103456789012", "decl_no",
         "must be 12 ASCII digits, first digit not 0, got '10345678901'",
         {"10345678901"}},
        {PAY, "103456789012", "decl_no", "\\xef", {"\xef\xbb\xbf" "103456789012"}},
        {PAY, "KB-2024-0000001", "receipt_no", "1..32", {""}},
        {PAY, "KB-2024-0000001", "receipt_no", NULL, {"KB 1", "123456789012345678901234567890123"}},
        /* kind is PAY or GUARANTEE */
        {PAY, "PAY", "kind", "must be PAY or GUARANTEE, got 'CASH'", {"CASH"}},
        {PAY, "PAY", "kind", NULL, {"pay", "", "PAY "}},
        /* amount: an integer 0..TQ_MONEY_MAX */
        {PAY, "12500000", "amount", "must be an integer 0..1000000000000000, got '-5'", {"-5"}},
        {PAY, "12500000", "amount", NULL,
         {"1000000000000001", "1.0", "01", "", "+5", "99999999999999999999999999999"}},
        /* valid_until: empty for PAY, a date for GUARANTEE */
        {PAY, "PAY,12500000,", "valid_until", "must be empty for a PAY row",
         {"PAY,12500000,2024-12-31"}},
        {GUAR, "2024-12-31", "valid_until", "GUARANTEE", {""}},
        {GUAR, "2024-12-31", "valid_until", "date", {"2024-13-01"}},
        {GUAR, "2024-12-31", "valid_until", "2023-02-29", {"2023-02-29"}},
        {GUAR, "2024-12-31", "valid_until", NULL, {"31/12/2024"}},
        /* control bytes are refused, shown escaped */
        {PAY, "KB-2024", "receipt_no", "\\x09", {"KB\t2024"}},
        /* of several bad fields, the leftmost is reported */
        {NULL, NULL, "decl_no", NULL, {"1,KB 1,CASH,-5,x"}},
        {NULL, NULL, "receipt_no", NULL, {"103456789012,KB 1,CASH,-5,x"}},
        {NULL, NULL, "kind", NULL, {"103456789012,KB-1,CASH,-5,x"}},
    };
    rows_refused(0, rows, sizeof rows / sizeof rows[0]);
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


Test(csv_permits, agency)
{
    tq_permit p;
    permit_ok(with(PERMIT, "BCT", "BNNPTNT"), &p);
    permit_ok(with(PERMIT, "BCT", "ABCDEFGHIJ012345"), &p);
    cr_expect_str_eq(p.agency, "ABCDEFGHIJ012345");
}

Test(csv_permits, permit_no_and_holder)
{
    tq_permit p;
    permit_ok(with(PERMIT, "0101234567", "0101234567001"), &p);
    cr_expect_str_eq(p.holder, "0101234567001");
}

Test(csv_permits, validity_window)
{
    tq_permit p;
    permit_ok(with(PERMIT, "2024-01-01,2024-12-31", "2024-05-01,2024-05-01"), &p);
    cr_expect_eq(p.valid_from, p.valid_to);
}

Test(csv_permits, status)
{
    tq_permit p;
    permit_ok(with(PERMIT, "VALID", "REVOKED"), &p);
    cr_expect_eq(p.status, TQ_PERMIT_REVOKED);
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
        row_bad(1, with(PERMIT, "8517;8471", bad[i]), "hs_prefixes", "1..16 prefixes");
}

Test(csv_permits, quota_bounds)
{
    tq_permit p;
    permit_ok(with(PERMIT, "8471,0", "8471,1000000000000000000"), &p);
    cr_expect_eq(p.quota, TQ_QUOTA_MAX);
}

Test(csv_permits, format_round_trips)
{
    const char *rows[] = {PERMIT,
                          "GP-NK-2024-77,BNNPTNT,0309876543,2024-06-01,2024-09-30,VALID,0303,50000",
                          "x,A,0101234567001,0001-01-01,9999-12-31,REVOKED,"
                          "01;02;03;04;05;06;07;08;09;10;11;12;13;14;15;16,1000000000000000000"};
    for (size_t i = 0; i < sizeof rows / sizeof *rows; i++)
        expect_formats_as_itself(1, rows[i]);
}

/* Rows of permits.csv that are refused, each naming the field at fault. */
Test(csv_permits, bad_rows_name_their_field)
{
    const bad_row rows[] = {
        /* a blank line, the wrong number of fields */
        {NULL, NULL, "(line)", "blank line", {""}},
        {NULL, NULL, "(line)", "expected 8 fields, got 3", {"a,b,c"}},
        {PERMIT, ",0", "(line)", "expected 8 fields, got 9", {",0,"}},
        /* agency */
        {PERMIT, "BCT", "agency", "1..16", {"ABCDEFGHIJ0123456"}},
        {PERMIT, "BCT", "agency", NULL, {"", "bct", "B-CT"}},
        /* permit_no and holder */
        {PERMIT, "GCN-2024-000123", "permit_no", NULL, {"GCN 1", ""}},
        {PERMIT, "0101234567", "holder", "10 or 13", {"010123456"}},
        /* the validity window */
        {PERMIT, "2024-01-01,2024-12-31", "valid_to", "valid_from", {"2024-06-01,2024-05-31"}},
        {PERMIT, "2024-01-01", "valid_from", NULL, {"2024-1-01"}},
        {PERMIT, "2024-12-31", "valid_to", NULL, {"2024-12-32", ""}},
        /* status: VALID or REVOKED */
        {PERMIT, "VALID", "status", "must be VALID or REVOKED, got 'EXPIRED'", {"EXPIRED"}},
        {PERMIT, "VALID", "status", NULL, {"valid"}},
        /* quota: an integer 0..TQ_QUOTA_MAX */
        {PERMIT, "8471,0", "quota", "must be an integer 0..1000000000000000000",
         {"8471,1000000000000000001"}},
        {PERMIT, "8471,0", "quota", NULL, {"8471,-1", "8471,", "8471,1e3"}},
    };
    rows_refused(1, rows, sizeof rows / sizeof rows[0]);
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
    const char *path = tq_test_case_path(casename, file);
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
        if (r.lineno == 1) {
            rc = tq_csv_check_header(line, len, permits ? TQ_PERMITS_HEADER : TQ_PAYMENTS_HEADER,
                                     d);
        } else {
            row_rec rec;
            rc = row_n(permits, line, len, &rec, d);
            char out[1024], what[1100];
            snprintf(what, sizeof what, "%s line %llu", path, (unsigned long long)r.lineno);
            if (rc == TQ_OK)
                row_round_trip(permits, &rec, out, sizeof out, what);
        }
        if (rc != TQ_OK)
            bad = r.lineno;
    }
    tq_linereader_release(&r);
    fclose(fp);
    return bad;
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
    TQ_TEST_NEED_CASES();
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
    TQ_TEST_NEED_CASES();
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
    TQ_TEST_NEED_CASES();
    int nfiles = 0;
    for (size_t i = 0; i < sizeof names / sizeof *names; i++) {
        for (int f = 0; f < 4; f++) {
            FILE *fp = fopen(tq_test_case_path(names[i], files[f]), "rb");
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
