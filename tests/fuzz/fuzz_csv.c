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

#define CHECK(cond)                                                                  \
    do {                                                                             \
        if (!(cond)) {                                                               \
            fprintf(stderr, "fuzz_csv: check failed: %s (line %d)\n", #cond, __LINE__); \
            abort();                                                                 \
        }                                                                            \
    } while (0)

static void check_diag(const tq_diag *d)
{
    CHECK(memchr(d->field, '\0', sizeof d->field) != NULL && d->field[0] != '\0');
    CHECK(memchr(d->why, '\0', sizeof d->why) != NULL && d->why[0] != '\0');
}

static int payment_eq(const tq_payment *a, const tq_payment *b)
{
    return strcmp(a->decl_no, b->decl_no) == 0 && strcmp(a->receipt_no, b->receipt_no) == 0 &&
           a->kind == b->kind && a->amount == b->amount && a->valid_until == b->valid_until;
}

static int permit_eq(const tq_permit *a, const tq_permit *b)
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

/* Parses out[0..n-1) (without its '\n') from an exact-size copy. */
static char *exact_copy(const char *out, size_t n)
{
    char *c = malloc(n ? n : 1);
    CHECK(c != NULL);
    memcpy(c, out, n);
    return c;
}

static void check_payment(const char *line, size_t len)
{
    tq_payment p, q;
    tq_diag d;
    char out[512], again[512];
    if (tq_csv_parse_payment(line, len, &p, &d) != TQ_OK) {
        check_diag(&d);
        return;
    }
    CHECK(p.kind == TQ_PAY || p.kind == TQ_GUARANTEE);
    CHECK(p.amount <= TQ_MONEY_MAX);
    size_t n = tq_csv_format_payment(&p, out, sizeof out);
    CHECK(n > 1 && n < sizeof out && out[n - 1] == '\n');
    char *c = exact_copy(out, n - 1);
    int rc = tq_csv_parse_payment(c, n - 1, &q, &d);
    free(c);
    CHECK(rc == TQ_OK);
    CHECK(payment_eq(&p, &q));
    CHECK(tq_csv_format_payment(&q, again, sizeof again) == n && memcmp(out, again, n) == 0);
}

static void check_permit(const char *line, size_t len)
{
    tq_permit p, q;
    tq_diag d;
    char out[1024], again[1024];
    if (tq_csv_parse_permit(line, len, &p, &d) != TQ_OK) {
        check_diag(&d);
        return;
    }
    CHECK(p.status == TQ_PERMIT_VALID || p.status == TQ_PERMIT_REVOKED);
    CHECK(p.nprefixes >= 1 && p.nprefixes <= TQ_PREFIXES_MAX);
    CHECK(p.valid_from <= p.valid_to && p.quota <= TQ_QUOTA_MAX);
    size_t n = tq_csv_format_permit(&p, out, sizeof out);
    CHECK(n > 1 && n < sizeof out && out[n - 1] == '\n');
    char *c = exact_copy(out, n - 1);
    int rc = tq_csv_parse_permit(c, n - 1, &q, &d);
    free(c);
    CHECK(rc == TQ_OK);
    CHECK(permit_eq(&p, &q));
    CHECK(tq_csv_format_permit(&q, again, sizeof again) == n && memcmp(out, again, n) == 0);
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
    if (permits)
        check_permit(line, len);
    else
        check_payment(line, len);
    return 0;
}
