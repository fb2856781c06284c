/* fuzz_csv.c - libFuzzer target: the payments and permits CSV codec.
 *
 * The first byte picks the format (even: payments, odd: permits); the rest is one row,
 * also tried as a header.  A row that parses must format into a row that parses back
 * into an equal record and formats to the same bytes again; anything else aborts.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tq_csv.h"
#include "../tq_testrec.h"

#define CHECK TQ_TEST_CHECK

static void check_diag(const tq_diag *d)
{
    CHECK(memchr(d->field, '\0', sizeof d->field) != NULL && d->field[0] != '\0');
    CHECK(memchr(d->why, '\0', sizeof d->why) != NULL && d->why[0] != '\0');
}

/* ROUND_TRIP() - format the parsed record p, parse an exact-size copy of that line back
 * and check both agree: the same record, then the same bytes.  One body for both
 * record types (the parser, formatter and equality differ by type only). */
#define ROUND_TRIP(type, parse, format, equal, p, cap)                               \
    do {                                                                             \
        type q_;                                                                     \
        tq_diag d_;                                                                  \
        char out_[cap], again_[cap];                                                 \
        size_t n_ = format(p, out_, sizeof out_);                                    \
        CHECK(n_ > 1 && n_ < sizeof out_ && out_[n_ - 1] == '\n');                   \
        char *c_ = tq_test_exact_copy(out_, n_ - 1);                                 \
        int rc_ = parse(c_, n_ - 1, &q_, &d_);                                       \
        free(c_);                                                                    \
        CHECK(rc_ == TQ_OK);                                                         \
        CHECK(equal(p, &q_));                                                        \
        CHECK(format(&q_, again_, sizeof again_) == n_ && memcmp(out_, again_, n_) == 0); \
    } while (0)

/* check_row() - one row of payments.csv (or, permits set, of permits.csv): refused with
 * a diagnostic, or a record within its bounds that round-trips. */
static void check_row(int permits, const char *line, size_t len)
{
    union {
        tq_payment pay;
        tq_permit permit;
    } r;
    tq_diag d;
    int rc = permits ? tq_csv_parse_permit(line, len, &r.permit, &d)
                     : tq_csv_parse_payment(line, len, &r.pay, &d);
    if (rc != TQ_OK) {
        check_diag(&d);
        return;
    }
    if (permits) {
        const tq_permit *p = &r.permit;
        CHECK(p->status == TQ_PERMIT_VALID || p->status == TQ_PERMIT_REVOKED);
        CHECK(p->nprefixes >= 1 && p->nprefixes <= TQ_PREFIXES_MAX);
        CHECK(p->valid_from <= p->valid_to && p->quota <= TQ_QUOTA_MAX);
        ROUND_TRIP(tq_permit, tq_csv_parse_permit, tq_csv_format_permit, tq_test_permit_equal,
                   p, 1024);
    } else {
        const tq_payment *p = &r.pay;
        CHECK(p->kind == TQ_PAY || p->kind == TQ_GUARANTEE);
        CHECK(p->amount <= TQ_MONEY_MAX);
        ROUND_TRIP(tq_payment, tq_csv_parse_payment, tq_csv_format_payment, tq_test_payment_equal,
                   p, 512);
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size == 0)
        return 0;
    int permits = data[0] & 1;
    const char *line = (const char *)data + 1;
    size_t len = size - 1;
    tq_diag d;
    if (tq_csv_check_header(line, len, permits ? TQ_PERMITS_HEADER : TQ_PAYMENTS_HEADER, &d) !=
        TQ_OK)
        check_diag(&d);
    check_row(permits, line, len);
    return 0;
}
