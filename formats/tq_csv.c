/* tq_csv.c - strict CSV codec for payments and permits, and the field validators that
 * the NDJSON parser shares.
 *
 * A row is a single line without quoting, so parsing is: strip one trailing '\r',
 * refuse a blank line, split on ',' into exactly the header's number of spans (no copy),
 * then check each span left to right against its format and copy it into the record
 * only once it is known to fit.  The first bad field is the one reported, so a message
 * always names the leftmost problem on the line.
 */
#ifndef _GNU_SOURCE
#define _POSIX_C_SOURCE 200809L   /* strnlen */
#endif
#include "tq_csv.h"
#include "tq_buf.h"

#include <stddef.h>
#include <stdio.h>
#include <string.h>

#define QCAP 72   /* tq_diag_quote output: 60 bytes, each as \xNN at worst, plus "..." */

typedef struct span {
    const char *p;
    size_t n;
} span;

static int is_digit(char c)
{
    return c >= '0' && c <= '9';
}

static int all_digits(const char *s, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (!is_digit(s[i]))
            return 0;
    return 1;
}

int tq_valid_decl_no(const char *s, size_t n)
{
    return n == TQ_DECL_NO_LEN && s[0] != '0' && all_digits(s, n);
}

int tq_valid_taxid(const char *s, size_t n)
{
    return (n == 10 || n == 13) && all_digits(s, n);
}

int tq_valid_office(const char *s, size_t n)
{
    if (n != 4)
        return 0;
    for (size_t i = 0; i < n; i++)
        if (!(is_digit(s[i]) || (s[i] >= 'A' && s[i] <= 'Z')))
            return 0;
    return 1;
}

static int permit_char(char c)
{
    return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || is_digit(c) || c == '.' ||
           c == '/' || c == '_' || c == '-';
}

int tq_valid_permit_no(const char *s, size_t n)
{
    if (n < 1 || n > TQ_PERMIT_MAX)
        return 0;
    for (size_t i = 0; i < n; i++)
        if (!permit_char(s[i]))
            return 0;
    return 1;
}

int tq_valid_hs(const char *s, size_t n)
{
    return n == 8 && all_digits(s, n);
}

int tq_parse_u64(const char *s, size_t n, uint64_t max, uint64_t *out)
{
    if (n == 0 || (n > 1 && s[0] == '0'))
        return TQ_ERR_INPUT;
    uint64_t v = 0;
    for (size_t i = 0; i < n; i++) {
        if (!is_digit(s[i]))
            return TQ_ERR_INPUT;
        uint64_t dig = (uint64_t)(s[i] - '0');
        /* v * 10 + dig <= max, asked without computing anything that could wrap */
        if (dig > max || v > (max - dig) / 10)
            return TQ_ERR_INPUT;
        v = v * 10 + dig;
    }
    *out = v;
    return TQ_OK;
}

static int valid_agency(const char *s, size_t n)
{
    if (n < 1 || n > TQ_AGENCY_MAX)
        return 0;
    for (size_t i = 0; i < n; i++)
        if (!((s[i] >= 'A' && s[i] <= 'Z') || is_digit(s[i])))
            return 0;
    return 1;
}

static int span_is(span f, const char *lit)
{
    size_t n = strlen(lit);
    return f.n == n && memcmp(f.p, lit, n) == 0;
}

static void copy_span(char *dst, span f)
{
    memcpy(dst, f.p, f.n);
    dst[f.n] = '\0';
}

/* "got '...'" messages all quote the raw field the same way. */
static int bad_field(tq_diag *d, const char *field, const char *must, span f);

/* A text field of a row, taken as it is once its validator accepts it (which bounds its
 * length to its char array in the record, at off).  Every row starts with its text
 * fields, in the order of its table: adding one is a line here. */
typedef struct text_field {
    const char *name, *must;
    int (*ok)(const char *s, size_t n);
    size_t off;
} text_field;

#define MUST_CODE "must be 1..32 characters of [A-Za-z0-9./_-]"

static const text_field payment_text[] = {
    {"decl_no", "must be 12 ASCII digits, first digit not 0", tq_valid_decl_no,
     offsetof(tq_payment, decl_no)},
    {"receipt_no", MUST_CODE, tq_valid_permit_no, offsetof(tq_payment, receipt_no)},
};

static const text_field permit_text[] = {
    {"permit_no", MUST_CODE, tq_valid_permit_no, offsetof(tq_permit, permit_no)},
    {"agency", "must be 1..16 characters of [A-Z0-9]", valid_agency,
     offsetof(tq_permit, agency)},
    {"holder", "must be a taxpayer id of 10 or 13 ASCII digits", tq_valid_taxid,
     offsetof(tq_permit, holder)},
};

#define NTEXT(t) (sizeof(t) / sizeof((t)[0]))

/* take_texts() - the first n fields of f by the table t, copied with their NUL into
 * out; the first bad one is "FIELD: MUST, got '...'". */
static int take_texts(tq_diag *d, const text_field *t, size_t n, const span *f, void *out)
{
    for (size_t i = 0; i < n; i++) {
        if (!t[i].ok(f[i].p, f[i].n))
            return bad_field(d, t[i].name, t[i].must, f[i]);
        copy_span((char *)out + t[i].off, f[i]);
    }
    return TQ_OK;
}

static int bad_field(tq_diag *d, const char *field, const char *must, span f)
{
    char q[QCAP];
    return tq_diag_set(d, field, "%s, got '%s'", must, tq_diag_quote(f.p, f.n, q, sizeof q));
}

/* Strips one trailing '\r', refuses a blank line and splits on ',' into exactly nf
 * spans. */
static int split_row(const char *line, size_t len, span *f, size_t nf, tq_diag *d);

/* split_into() - split_row(), zero *out (size bytes) for the fields to come, so a
 * parsed row has deterministic bytes (reject files and the store copy it whole), and
 * take the row's ntext leading text fields by the table text. */
static int split_into(const char *line, size_t len, span *f, size_t nf, void *out,
                      size_t size, const text_field *text, size_t ntext, tq_diag *d)
{
    int rc = split_row(line, len, f, nf, d);
    if (rc != TQ_OK)
        return rc;
    memset(out, 0, size);
    return take_texts(d, text, ntext, f, out);
}

static int split_row(const char *line, size_t len, span *f, size_t nf, tq_diag *d)
{
    if (len > 0 && line[len - 1] == '\r')
        len--;
    if (len == 0)
        return tq_diag_set(d, "(line)", "blank line");
    size_t count = 0, start = 0;
    for (size_t i = 0; i <= len; i++) {
        if (i == len || line[i] == ',') {
            if (count < nf)
                f[count] = (span){line + start, i - start};
            count++;
            start = i + 1;
        }
    }
    if (count != nf)
        return tq_diag_set(d, "(line)", "expected %zu fields, got %zu", nf, count);
    return TQ_OK;
}

int tq_csv_check_header(const char *line, size_t len, const char *header, tq_diag *d)
{
    if (len >= 3 && memcmp(line, "\xef\xbb\xbf", 3) == 0) {
        line += 3;
        len -= 3;
    }
    if (len > 0 && line[len - 1] == '\r')
        len--;
    size_t hn = strlen(header);
    if (len == hn && memcmp(line, header, hn) == 0)
        return TQ_OK;
    char q[QCAP];
    tq_diag_quote(line, len, q, sizeof q);
    if (len <= 60)
        return tq_diag_set(d, "(header)", "header must be exactly '%s', got '%s'", header, q);
    /* The quote is cut at 60 bytes; point at the difference, which may lie beyond. */
    size_t i = 0;
    while (i < len && i < hn && line[i] == header[i])
        i++;
    return tq_diag_set(d, "(header)",
                       "header must be exactly '%s', got '%s' (differs at column %zu)",
                       header, q, i + 1);
}

static int parse_date_field(tq_diag *d, const char *field, span f, int32_t *day)
{
    char q[QCAP];
    tq_diag td;
    if (tq_date_parse(f.p, f.n, day, &td) == TQ_OK)
        return TQ_OK;
    return tq_diag_set(d, field, "must be a date YYYY-MM-DD (%s), got '%s'", td.why,
                       tq_diag_quote(f.p, f.n, q, sizeof q));
}

static int parse_money(tq_diag *d, const char *field, span f, uint64_t max, uint64_t *out)
{
    if (tq_parse_u64(f.p, f.n, max, out) == TQ_OK)
        return TQ_OK;
    char must[64];
    snprintf(must, sizeof must, "must be an integer 0..%llu", (unsigned long long)max);
    return bad_field(d, field, must, f);
}

int tq_csv_parse_payment(const char *line, size_t len, tq_payment *out, tq_diag *d)
{
    enum { F_DECL, F_RECEIPT, F_KIND, F_AMOUNT, F_UNTIL, NF };
    span f[NF];
    int rc = split_into(line, len, f, NF, out, sizeof *out, payment_text,
                        NTEXT(payment_text), d);
    if (rc != TQ_OK)
        return rc;
    if (span_is(f[F_KIND], tq_payment_kind_name(TQ_PAY)))
        out->kind = TQ_PAY;
    else if (span_is(f[F_KIND], tq_payment_kind_name(TQ_GUARANTEE)))
        out->kind = TQ_GUARANTEE;
    else
        return bad_field(d, "kind", "must be PAY or GUARANTEE", f[F_KIND]);
    rc = parse_money(d, "amount", f[F_AMOUNT], TQ_MONEY_MAX, &out->amount);
    if (rc != TQ_OK)
        return rc;
    if (out->kind == TQ_PAY) {
        if (f[F_UNTIL].n != 0)
            return bad_field(d, "valid_until", "must be empty for a PAY row", f[F_UNTIL]);
        out->valid_until = TQ_NO_DATE;
        return TQ_OK;
    }
    if (f[F_UNTIL].n == 0)
        return tq_diag_set(d, "valid_until", "a GUARANTEE row needs a date YYYY-MM-DD");
    return parse_date_field(d, "valid_until", f[F_UNTIL], &out->valid_until);
}

/* "8517;8471": 1..16 items of 2..8 digits; an empty item is an error, so no leading,
 * trailing or doubled ';'. */
static int parse_prefixes(span f, tq_permit *out, tq_diag *d)
{
    static const char *must = "must be 1..16 prefixes of 2..8 digits joined by ';'";
    size_t start = 0, count = 0;
    for (size_t i = 0; i <= f.n; i++) {
        if (i < f.n && f.p[i] != ';')
            continue;
        size_t n = i - start;
        if (n < 2 || n > 8 || !all_digits(f.p + start, n) || count == TQ_PREFIXES_MAX)
            return bad_field(d, "hs_prefixes", must, f);
        memcpy(out->prefixes[count], f.p + start, n);
        out->prefixes[count][n] = '\0';
        count++;
        start = i + 1;
    }
    out->nprefixes = (uint8_t)count;
    return TQ_OK;
}

int tq_csv_parse_permit(const char *line, size_t len, tq_permit *out, tq_diag *d)
{
    enum { F_NO, F_AGENCY, F_HOLDER, F_FROM, F_TO, F_STATUS, F_PREFIXES, F_QUOTA, NF };
    span f[NF];
    int rc = split_into(line, len, f, NF, out, sizeof *out, permit_text, NTEXT(permit_text),
                        d);
    if (rc == TQ_OK)
        rc = parse_date_field(d, "valid_from", f[F_FROM], &out->valid_from);
    if (rc == TQ_OK)
        rc = parse_date_field(d, "valid_to", f[F_TO], &out->valid_to);
    if (rc != TQ_OK)
        return rc;
    if (out->valid_from > out->valid_to) {
        char q[QCAP];
        return tq_diag_set(d, "valid_to", "must not be before valid_from %.*s, got '%s'",
                           (int)f[F_FROM].n, f[F_FROM].p,
                           tq_diag_quote(f[F_TO].p, f[F_TO].n, q, sizeof q));
    }
    if (span_is(f[F_STATUS], "VALID"))
        out->status = TQ_PERMIT_VALID;
    else if (span_is(f[F_STATUS], "REVOKED"))
        out->status = TQ_PERMIT_REVOKED;
    else
        return bad_field(d, "status", "must be VALID or REVOKED", f[F_STATUS]);
    if ((rc = parse_prefixes(f[F_PREFIXES], out, d)) != TQ_OK)
        return rc;
    return parse_money(d, "quota", f[F_QUOTA], TQ_QUOTA_MAX, &out->quota);
}

/* A fixed-size string member; strnlen so that a member without its NUL (a caller's
 * bug) cannot make the formatter read past it. */
#define PUT_MEMBER(w, arr) tq_wbuf_put((w), (arr), strnlen((arr), sizeof(arr)))

static void putdate(tq_wbuf *w, int32_t day)
{
    char tmp[11];
    tq_date_format(day, tmp);
    tq_wbuf_put(w, tmp, 10);
}

size_t tq_csv_format_payment(const tq_payment *p, char *out, size_t cap)
{
    tq_wbuf w = {out, cap, 0};
    PUT_MEMBER(&w, p->decl_no);
    tq_wbuf_put(&w, ",", 1);
    PUT_MEMBER(&w, p->receipt_no);
    tq_wbuf_str(&w, p->kind == TQ_GUARANTEE ? ",GUARANTEE," : ",PAY,");
    tq_wbuf_u64(&w, p->amount);
    tq_wbuf_put(&w, ",", 1);
    if (p->kind == TQ_GUARANTEE)
        putdate(&w, p->valid_until);
    tq_wbuf_put(&w, "\n", 1);
    return tq_wbuf_finish(&w);
}

size_t tq_csv_format_permit(const tq_permit *p, char *out, size_t cap)
{
    tq_wbuf w = {out, cap, 0};
    PUT_MEMBER(&w, p->permit_no);
    tq_wbuf_put(&w, ",", 1);
    PUT_MEMBER(&w, p->agency);
    tq_wbuf_put(&w, ",", 1);
    PUT_MEMBER(&w, p->holder);
    tq_wbuf_put(&w, ",", 1);
    putdate(&w, p->valid_from);
    tq_wbuf_put(&w, ",", 1);
    putdate(&w, p->valid_to);
    tq_wbuf_str(&w, p->status == TQ_PERMIT_REVOKED ? ",REVOKED," : ",VALID,");
    for (unsigned i = 0; i < p->nprefixes && i < TQ_PREFIXES_MAX; i++) {
        if (i > 0)
            tq_wbuf_put(&w, ";", 1);
        PUT_MEMBER(&w, p->prefixes[i]);
    }
    tq_wbuf_put(&w, ",", 1);
    tq_wbuf_u64(&w, p->quota);
    tq_wbuf_put(&w, "\n", 1);
    return tq_wbuf_finish(&w);
}
