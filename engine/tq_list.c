/* tq_list.c - filtered, streamed listing of declarations (tq_list.h). */
#include "tq_list.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "../formats/tq_csv.h"
#include "tq_store_held.h"

#define LIST_STOP_LIMIT 1    /* internal: the limit was reached (not an error) */

void tq_list_filter_init(tq_list_filter *f)
{
    memset(f, 0, sizeof *f);
    f->state = -1;
}

int tq_list_check(const tq_list_filter *f, tq_diag *d)
{
    if (f->state != -1 && (f->state < TQ_STATE_CLEARED || f->state > TQ_STATE_CANCELLED))
        return tq_diag_set(d, "state", "must be CLEARED, HELD, REJECTED or CANCELLED");
    if (f->reasons >> TQ_REASON_COUNT)
        return tq_diag_set(d, "reason", "unknown reason bits 0x%x", (unsigned)f->reasons);
    if (memchr(f->office, '\0', sizeof f->office) == NULL ||
        (f->office[0] && !tq_valid_office(f->office, strlen(f->office))))
        return tq_diag_set(d, "office", "must be 4 characters of 0-9 and A-Z");
    if (memchr(f->declarant, '\0', sizeof f->declarant) == NULL ||
        (f->declarant[0] && !tq_valid_taxid(f->declarant, strlen(f->declarant))))
        return tq_diag_set(d, "declarant", "must be a tax id of 10 or 13 digits");
    if (memchr(f->permit, '\0', sizeof f->permit) == NULL ||
        (f->permit[0] && !tq_valid_permit_no(f->permit, strlen(f->permit))))
        return tq_diag_set(d, "permit", "must be 1..32 of A-Z a-z 0-9 . / _ -");
    return TQ_OK;
}

/* ---- the run ---- */

typedef struct run {
    const tq_list_filter *f;
    int (*fn)(void *ctx, const tq_list_row *row);
    void *ctx;
    tq_txn *t;
    tq_guarantee *guar;         /* the cover's scratch, grown to the largest cover met */
    size_t guar_cap;
    tq_list_stats *st;
    int fn_stop;                /* fn asked to stop (its value is the result) */
} run;

static uint32_t shown_reasons(const tq_decl *d)
{
    return d->state == TQ_STATE_HELD || d->state == TQ_STATE_CLEARED ? d->reasons : 0;
}

static int names_permit(const tq_decl *d, const char *permit)
{
    size_t nl = d->nlines <= TQ_LINES_MAX ? d->nlines : TQ_LINES_MAX;
    for (size_t l = 0; l < nl; l++)
        if (strncmp(d->lines[l].permit, permit, TQ_PERMIT_MAX + 1) == 0)
            return 1;
    return 0;
}

/* cheap() - every filter that needs nothing but the declaration itself. */
static int cheap(const tq_list_filter *f, const tq_decl *d)
{
    if (f->state >= 0 && d->state != f->state)
        return 0;
    if (f->reasons && !(shown_reasons(d) & f->reasons))
        return 0;
    if (f->office[0] && strncmp(d->office, f->office, sizeof d->office) != 0)
        return 0;
    if (f->declarant[0] && strncmp(d->declarant, f->declarant, sizeof d->declarant) != 0)
        return 0;
    if (f->permit[0] && !names_permit(d, f->permit))
        return 0;
    if (f->has_before && tq_instant_cmp(d->registered, f->registered_before) >= 0)
        return 0;
    if (f->tax_paid && d->state == TQ_STATE_CLEARED)
        return 0;
    return 1;
}

/* The rest of the filters, on a declaration and its cover, and the row to fn. */
static int each_covered(run *r, const tq_decl *d, const tq_cover *cover)
{
    const tq_list_filter *f = r->f;
    int rc;
    tq_list_row row = {.decl = d, .reasons = shown_reasons(d)};
    row.covered = tq_rules_covered_exact(cover, d->reg_day);
    if (f->tax_paid && row.covered < (tq_u128)d->tax_due)
        return 0;
    row.age = f->as_of.sec - d->registered.sec - (f->as_of.nsec < d->registered.nsec);
    r->st->matched++;
    if ((rc = r->fn(r->ctx, &row)) != 0) {
        r->fn_stop = 1;
        return rc;
    }
    return f->limit && r->st->matched >= f->limit ? LIST_STOP_LIMIT : 0;
}

static int each(void *ctx, const tq_decl *d)
{
    run *r = ctx;
    r->st->read++;
    if (!cheap(r->f, d))
        return 0;
    tq_cover cover;
    int rc = tq_store_get_cover(r->t, d->decl_no, &cover, &r->guar, &r->guar_cap);
    return rc != TQ_OK ? rc : each_covered(r, d, &cover);
}

/* A row of the held table: the declaration and its cover in one read. */
static int each_held(void *ctx, const tq_decl *d, const tq_cover *cover)
{
    run *r = ctx;
    r->st->read++;
    return cheap(r->f, d) ? each_covered(r, d, cover) : 0;
}

/* walk() - the most selective way in; a format 2 database (no index) is walked whole. */
static int walk(run *r)
{
    const tq_list_filter *f = r->f;
    int rc;
    if (f->permit[0]) {
        r->st->way = TQ_LIST_BY_PERMIT;
        rc = tq_store_each_decl_by(r->t, TQ_INDEX_PERMIT, f->permit, f->state, each, r);
    } else if (f->declarant[0]) {
        r->st->way = TQ_LIST_BY_DECLARANT;
        rc = tq_store_each_decl_by(r->t, TQ_INDEX_DECLARANT, f->declarant, f->state, each, r);
    } else if (f->office[0] && f->state == TQ_STATE_HELD &&
               (rc = tq_store_each_held(r->t, f->office, each_held, r)) != TQ_ERR_VERSION) {
        r->st->way = TQ_LIST_BY_HELD;
        return rc;
    } else if (f->office[0]) {
        r->st->way = TQ_LIST_BY_OFFICE;
        rc = tq_store_each_decl_by(r->t, TQ_INDEX_OFFICE, f->office, f->state, each, r);
    } else {
        r->st->way = TQ_LIST_FULL_WALK;
        return tq_store_each_decl(r->t, each, r);
    }
    if (rc == TQ_ERR_VERSION && r->st->read == 0) {
        r->st->way = TQ_LIST_FULL_WALK;
        rc = tq_store_each_decl(r->t, each, r);
    }
    return rc;
}

int tq_list_run(tq_txn *t, const tq_list_filter *f,
                int (*fn)(void *ctx, const tq_list_row *row), void *ctx, tq_list_stats *st)
{
    tq_list_stats local;
    run r = {.f = f, .fn = fn, .ctx = ctx, .t = t, .st = st ? st : &local};
    memset(r.st, 0, sizeof *r.st);
    int rc = tq_list_check(f, NULL);
    if (rc != TQ_OK)
        return rc;
    rc = walk(&r);
    free(r.guar);
    if (rc == LIST_STOP_LIMIT && !r.fn_stop)
        return TQ_OK;
    return rc;
}

/* ---- parsing and formatting ---- */

int tq_list_parse_duration(const char *s, int64_t *sec)
{
    size_t n = strlen(s), digits = 0;
    uint64_t v = 0;
    while (digits < n && s[digits] >= '0' && s[digits] <= '9')
        v = v * 10 + (uint64_t)(s[digits++] - '0');
    if (digits == 0 || digits > 18 || n != digits + 1)
        return TQ_ERR_INPUT;
    uint64_t unit;
    switch (s[digits]) {
    case 's': unit = 1; break;
    case 'm': unit = 60; break;
    case 'h': unit = 3600; break;
    case 'd': unit = 86400; break;
    default: return TQ_ERR_INPUT;
    }
    if (v > (uint64_t)INT64_MAX / unit)
        return TQ_ERR_INPUT;
    *sec = (int64_t)(v * unit);
    return TQ_OK;
}

int tq_list_parse_instant(const char *s, tq_instant *out, tq_diag *d)
{
    int32_t day;
    size_t n = strlen(s);
    /* ten bytes look like a date: its parser's reason is the one that helps */
    if (tq_time_parse(s, n, out, n == 10 ? NULL : d) == TQ_OK)
        return TQ_OK;
    if (tq_date_parse(s, n, &day, n == 10 ? d : NULL) != TQ_OK)
        return TQ_ERR_INPUT;
    out->sec = (int64_t)day * TQ_SECS_PER_DAY - TQ_VN_OFFSET_SECS;
    out->nsec = 0;
    return TQ_OK;
}

int tq_list_parse_reasons(const char *s, uint32_t *bits, const char **bad)
{
    *bits = 0;
    const char *p = s;
    for (;;) {
        const char *end = strchr(p, ',');
        size_t n = end ? (size_t)(end - p) : strlen(p);
        int b = 0;
        while (b < TQ_REASON_COUNT &&
               !(strlen(tq_reason_name(b)) == n && strncasecmp(tq_reason_name(b), p, n) == 0))
            b++;
        if (b == TQ_REASON_COUNT) {
            *bad = p;
            return TQ_ERR_INPUT;
        }
        *bits |= 1u << b;
        if (end == NULL)
            return TQ_OK;
        p = end + 1;
    }
}

int tq_list_parse_state(const char *s, int *state)
{
    for (int i = TQ_STATE_CLEARED; i <= TQ_STATE_CANCELLED; i++)
        if (strcasecmp(s, tq_state_name(i)) == 0) {
            *state = i;
            return TQ_OK;
        }
    return TQ_ERR_INPUT;
}

void tq_list_format_age(int64_t sec, char out[32])
{
    const char *sign = sec < 0 ? "-" : "";
    uint64_t s = sec < 0 ? (uint64_t)0 - (uint64_t)sec : (uint64_t)sec;
    uint64_t d = s / 86400, h = s % 86400 / 3600, m = s % 3600 / 60;
    /* digit by digit (one per row of a worklist): at most 1 + 14 + 1 + 2 + 1 + 2 + 1 + 1
     * bytes, since d <= 2^64 / 86400 has 14 digits */
    char *p = out;
    if (*sign)
        *p++ = '-';
    if (d) {
        p = tq_u64_put_dec(p, d);
        *p++ = 'd';
    }
    if (d || h) {
        p = d ? tq_u64_put_fixed(p, h, 2) : tq_u64_put_dec(p, h);
        *p++ = 'h';
    }
    p = d || h ? tq_u64_put_fixed(p, m, 2) : tq_u64_put_dec(p, m);
    memcpy(p, "m", 2);
}

size_t tq_list_format_permits(const tq_decl *d, char *out, size_t cap)
{
    if (cap == 0)
        return 0;
    const char *names[TQ_LINES_MAX];
    size_t n = tq_rules_permits(d, names), len = 0;
    out[0] = '\0';
    for (size_t i = 0; i < n; i++) {
        int w = snprintf(out + len, cap - len, "%s%s", i ? "|" : "", names[i]);
        if (w < 0 || (size_t)w >= cap - len) {
            out[len] = '\0';
            break;
        }
        len += (size_t)w;
    }
    return len;
}

/* csv_put() - s and a separator at p; @return past them. */
static char *csv_put(char *p, const char *s, char sep)
{
    size_t n = strlen(s);
    memcpy(p, s, n);
    p[n] = sep;
    return p + n + 1;
}

size_t tq_list_csv_row(const tq_list_row *row, char out[TQ_LIST_CSV_MAX])
{
    const tq_decl *d = row->decl;
    char when[TQ_TIME_VN_MAX], age[32], reasons[160], permits[TQ_LIST_PERMITS_MAX + 1];
    char covered[TQ_U128_DEC_MAX];
    tq_time_format_vn(d->registered, when);
    tq_list_format_age(row->age, age);
    tq_reasons_format(row->reasons, reasons, sizeof reasons);
    tq_list_format_permits(d, permits, sizeof permits);
    const char *state = tq_state_name(d->state) ? tq_state_name(d->state) : "PENDING";
    char *p = out;
    p = csv_put(p, d->decl_no, ',');
    p = csv_put(p, d->office, ',');
    p = csv_put(p, d->kind, ',');
    p = csv_put(p, d->declarant, ',');
    p = csv_put(p, state, ',');
    p = csv_put(p, reasons, ',');
    p = csv_put(p, when, ',');
    p = csv_put(p, age, ',');
    p = tq_u64_put_dec(p, d->tax_due);
    *p++ = ',';
    p = csv_put(p, tq_u128_dec(row->covered, covered), ',');
    p = csv_put(p, permits, '\n');
    return (size_t)(p - out);
}
