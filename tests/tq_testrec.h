/* tq_testrec.h - the record fixtures the format suites and the fuzzers share, written
 * once: equality of events, payments and permits, a fuzzer's CHECK, the checks of the
 * sample declaration of SPEC §2.1 that the NDJSON and journal suites both read, and a
 * table of the fields a test expects of a result (TQ_TEST_EXPECT_FIELDS).
 *
 * Header-only (static functions), included by Criterion suites and by the fuzzers
 * alike; the Criterion part is compiled only where <criterion/criterion.h> was
 * included first.
 */
#ifndef TQ_TESTREC_H
#define TQ_TESTREC_H

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tq_event.h"

/* TQ_TEST_CHECK() - a fuzzer's assertion: print what failed and where, then abort, so
 * libFuzzer keeps the input. */
#define TQ_TEST_CHECK(cond)                                                          \
    do {                                                                             \
        if (!(cond)) {                                                               \
            fprintf(stderr, "%s:%d: check failed: %s\n", __FILE__, __LINE__, #cond); \
            abort();                                                                 \
        }                                                                            \
    } while (0)

/* tq_test_exact_copy() - n bytes of s in a heap block of exactly n bytes (1 for n 0;
 * free it), so that AddressSanitizer catches a parser reading past its length. */
static inline char *tq_test_exact_copy(const char *s, size_t n)
{
    char *c = malloc(n ? n : 1);
    TQ_TEST_CHECK(c != NULL);
    memcpy(c, s, n);
    return c;
}

/* tq_test_lines_equal() - the same number of lines, each with the same hs, permit,
 * qty and value. */
static inline int tq_test_lines_equal(const tq_event *a, const tq_event *b)
{
    if (a->nlines != b->nlines)
        return 0;
    for (unsigned i = 0; i < a->nlines; i++) {
        const tq_line *x = &a->lines[i], *y = &b->lines[i];
        if (strcmp(x->hs, y->hs) || strcmp(x->permit, y->permit) || x->qty != y->qty ||
            x->value != y->value)
            return 0;
    }
    return 1;
}

/* tq_test_event_equal() - every member equal, whatever the kind (for a parser's
 * round trip, where members that do not apply are zero on both sides). */
static inline int tq_test_event_equal(const tq_event *a, const tq_event *b)
{
    if (a->seq != b->seq || a->ev != b->ev || a->has != b->has || a->channel != b->channel ||
        a->result != b->result || a->tax_due != b->tax_due ||
        a->registered.sec != b->registered.sec || a->registered.nsec != b->registered.nsec ||
        strcmp(a->decl_no, b->decl_no) || strcmp(a->kind, b->kind) ||
        strcmp(a->office, b->office) || strcmp(a->declarant, b->declarant) ||
        strcmp(a->registered_at, b->registered_at) || strcmp(a->officer, b->officer) ||
        strcmp(a->cleared_at, b->cleared_at))
        return 0;
    return tq_test_lines_equal(a, b);
}

static inline int tq_test_payment_equal(const tq_payment *a, const tq_payment *b)
{
    return strcmp(a->decl_no, b->decl_no) == 0 && strcmp(a->receipt_no, b->receipt_no) == 0 &&
           a->kind == b->kind && a->amount == b->amount && a->valid_until == b->valid_until;
}

static inline int tq_test_permit_equal(const tq_permit *a, const tq_permit *b)
{
    if (strcmp(a->permit_no, b->permit_no) || strcmp(a->agency, b->agency) ||
        strcmp(a->holder, b->holder) || a->status != b->status ||
        a->valid_from != b->valid_from || a->valid_to != b->valid_to || a->quota != b->quota ||
        a->nprefixes != b->nprefixes)
        return 0;
    for (unsigned i = 0; i < a->nprefixes; i++)
        if (strcmp(a->prefixes[i], b->prefixes[i]))
            return 0;
    return 1;
}

#ifdef CRITERION_H_
/* tq_test_with() - base with the first occurrence of from replaced by to, in one of
 * four static buffers (so a test may hold four at once).  Asserts that from occurs. */
static inline const char *tq_test_with(const char *base, const char *from, const char *to)
{
    static char bufs[4][65536];
    static int next;
    char *out = bufs[next++ % 4];
    const char *at = strstr(base, from);
    cr_assert_not_null(at, "'%s' not in '%.200s'", from, base);
    size_t pre = (size_t)(at - base), tl = strlen(to), fl = strlen(from);
    cr_assert_lt(strlen(base) - fl + tl, sizeof bufs[0]);
    memcpy(out, base, pre);
    memcpy(out + pre, to, tl);
    strcpy(out + pre + tl, at + fl);
    return out;
}

/* tq_test_slurp() - the whole file at path, malloc'd (free it), with one spare byte;
 * *n its size.  Asserts on any failure. */
static inline uint8_t *tq_test_slurp(const char *path, size_t *n)
{
    FILE *f = fopen(path, "rb");
    cr_assert_not_null(f, "open %s", path);
    cr_assert_eq(fseek(f, 0, SEEK_END), 0);
    long sz = ftell(f);
    cr_assert_geq(sz, 0);
    rewind(f);
    uint8_t *b = malloc((size_t)sz + 1);
    cr_assert_not_null(b);
    cr_assert_eq(fread(b, 1, (size_t)sz, f), (size_t)sz);
    fclose(f);
    *n = (size_t)sz;
    return b;
}

/* tq_test_spit() - path made to hold exactly b[0..n) (a test plants bytes by hand,
 * so not through tq_out).  Asserts on any failure. */
static inline void tq_test_spit(const char *path, const uint8_t *b, size_t n)
{
    FILE *f = fopen(path, "wb");
    cr_assert_not_null(f, "create %s", path);
    cr_assert_eq(fwrite(b, 1, n, f), n);
    cr_assert_eq(fclose(f), 0);
}

/* One field a test expects of a result: its name, the value found and the value
 * wanted (integers of any width up to 64 bits). */
typedef struct tq_test_field {
    const char *name;
    uint64_t got, want;
} tq_test_field;

/* tq_test_expect_fields() - each of the n fields has the value wanted; a failure names
 * what and the field. */
static inline void tq_test_expect_fields(const char *what, const tq_test_field *f, size_t n)
{
    for (size_t i = 0; i < n; i++)
        cr_assert_eq(f[i].got, f[i].want, "%s: %s is %llu, not %llu", what, f[i].name,
                     (unsigned long long)f[i].got, (unsigned long long)f[i].want);
}

/* TQ_TEST_EXPECT_FIELDS(what, {name, got, want}, ...) - tq_test_expect_fields() of the
 * fields listed. */
#define TQ_TEST_EXPECT_FIELDS(what, ...)                                              \
    tq_test_expect_fields(what, (const tq_test_field[]){__VA_ARGS__},                 \
                          sizeof((const tq_test_field[]){__VA_ARGS__}) / sizeof(tq_test_field))

/* tq_test_expect_sample_decl() - ev is the sample DECL of SPEC §2.1 (decl_no
 * 103456789012, two lines), seq 1, as a parser or the journal reader gives it. */
static inline void tq_test_expect_sample_decl(const tq_event *ev)
{
    cr_expect_eq(ev->seq, 1);
    cr_expect_eq(ev->ev, TQ_EV_DECL);
    cr_expect_eq(ev->has & ~TQ_HAS_SEQ, TQ_HAS_TAX_DUE | TQ_HAS_LINES);
    cr_expect_str_eq(ev->decl_no, "103456789012");
    cr_expect_str_eq(ev->kind, "A11");
    cr_expect_str_eq(ev->office, "01B1");
    cr_expect_str_eq(ev->declarant, "0101234567");
    cr_expect_str_eq(ev->registered_at, "2024-08-06T09:15:00+07:00");
    cr_expect_eq(ev->registered.sec, 1722910500);
    cr_expect_eq(ev->registered.nsec, 0);
    cr_expect_eq(ev->channel, 1);
    cr_expect_eq(ev->tax_due, 12500000);
    cr_assert_eq(ev->nlines, 2);
    cr_expect_str_eq(ev->lines[0].hs, "85171300");
    cr_expect_eq(ev->lines[0].qty, 100);
    cr_expect_eq(ev->lines[0].value, 250000000);
    cr_expect_str_eq(ev->lines[0].permit, "GCN-2024-000123");
    cr_expect_str_eq(ev->lines[1].hs, "39269099");
    cr_expect_eq(ev->lines[1].qty, 5);
    cr_expect_eq(ev->lines[1].value, 1000000);
    cr_expect_str_eq(ev->lines[1].permit, "");
}
#endif

#endif
