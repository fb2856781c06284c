/* tq_time.c - strict ISO-8601 timestamps and dates, and the calendar day in Vietnam.
 *
 * Parsing is positional: a timestamp has a fixed layout up to the seconds, then an
 * optional fraction and a mandatory offset, so each field is read at a known column and
 * range-checked before anything is computed.  Day numbers come from Howard Hinnant's
 * days-from-civil algorithm (proleptic Gregorian, exact integer arithmetic), never from
 * timegm() or mktime(): those depend on the process's time zone and locale, and the
 * result of a replay must not.
 */
#include "tq_time.h"
#include "tq_num.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "tq_error.h"

#define SECS_PER_DAY TQ_SECS_PER_DAY
#define VN_OFFSET_SECS TQ_VN_OFFSET_SECS

/* fail() - the reason into d (field "timestamp"; tq_date_parse() renames it "date");
 * @return TQ_ERR_INPUT.  d may be NULL. */
static int fail(tq_diag *d, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static int fail(tq_diag *d, const char *fmt, ...)
{
    if (d != NULL) {
        va_list ap;
        va_start(ap, fmt);
        snprintf(d->field, sizeof d->field, "timestamp");
        vsnprintf(d->why, sizeof d->why, fmt, ap);
        va_end(ap);
    }
    return TQ_ERR_INPUT;
}

static int is_digit(char c)
{
    return c >= '0' && c <= '9';
}

/* Reads k ASCII digits at s; -1 when any of them is not a digit. */
static int read_digits(const char *s, size_t k)
{
    int v = 0;
    for (size_t i = 0; i < k; i++) {
        if (!is_digit(s[i]))
            return -1;
        v = v * 10 + (s[i] - '0');
    }
    return v;
}

static int is_leap(int y)
{
    return (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
}

static int days_in_month(int y, int m)
{
    static const unsigned char dim[12] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    return m == 2 && is_leap(y) ? 29 : dim[m - 1];
}

/* Hinnant's days_from_civil: days since 1970-01-01 for a valid y-m-d.  Shifting the
 * year to start in March puts the leap day last, so the day of the year is a linear
 * formula of the month. */
int64_t tq_days_from_civil(int64_t y, int m, int d)
{
    y -= m <= 2;
    int64_t era = (y >= 0 ? y : y - 399) / 400;
    int64_t yoe = y - era * 400;
    int64_t doy = (153 * (m > 2 ? m - 3 : m + 9) + 2) / 5 + d - 1;
    int64_t doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    return era * 146097 + doe - 719468;
}

/* Hinnant's civil_from_days, the inverse of days_from_civil. */
void tq_civil_from_days(int64_t z, int64_t *y, int *m, int *d)
{
    z += 719468;
    int64_t era = (z >= 0 ? z : z - 146096) / 146097;
    int64_t doe = z - era * 146097;
    int64_t yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
    int64_t doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    int64_t mp = (5 * doy + 2) / 153;
    *d = (int)(doy - (153 * mp + 2) / 5 + 1);
    *m = (int)(mp < 10 ? mp + 3 : mp - 9);
    *y = yoe + era * 400 + (*m <= 2);
}

/* The 10 bytes at s as YYYY-MM-DD, range-checked; the day number in *day. */
static int parse_ymd(const char *s, int64_t *day, tq_diag *dg)
{
    int y = read_digits(s, 4);
    if (y < 0 || s[4] != '-')
        return fail(dg, "expected YYYY- at the start");
    int m = read_digits(s + 5, 2);
    if (m < 0 || s[7] != '-')
        return fail(dg, "expected MM- after the year");
    int d = read_digits(s + 8, 2);
    if (d < 0)
        return fail(dg, "expected DD after the month");
    if (y < 1)
        return fail(dg, "year must be 0001..9999");
    if (m < 1 || m > 12)
        return fail(dg, "month %02d is not 01..12", m);
    if (d < 1 || d > days_in_month(y, m))
        return fail(dg, "day %02d does not exist in %04d-%02d", d, y, m);
    *day = tq_days_from_civil(y, m, d);
    return TQ_OK;
}

int tq_date_parse(const char *s, size_t n, int32_t *day, tq_diag *dg)
{
    int64_t d;
    int rc = n == 10 ? parse_ymd(s, &d, dg)
                     : fail(dg, "a date must be exactly YYYY-MM-DD (10 characters)");
    if (rc != TQ_OK) {
        if (dg != NULL)
            snprintf(dg->field, sizeof dg->field, "date");
        return rc;
    }
    *day = (int32_t)d;   /* years 1..9999 keep |d| < 3 million */
    return TQ_OK;
}

/* Reads the fraction after the '.' at s[*pos]: 1..9 digits, scaled to nanoseconds. */
static int parse_fraction(const char *s, size_t n, size_t *pos, uint32_t *nsec, tq_diag *d)
{
    size_t i = *pos + 1, start = i;
    uint32_t v = 0;
    while (i < n && is_digit(s[i])) {
        if (i - start == 9)
            return fail(d, "fractional seconds longer than 9 digits");
        v = v * 10 + (uint32_t)(s[i] - '0');
        i++;
    }
    if (i == start)
        return fail(d, "expected digits after '.'");
    for (size_t k = i - start; k < 9; k++)
        v *= 10;
    *nsec = v;
    *pos = i;
    return TQ_OK;
}

/* Reads "Z" or "+HH:MM" / "-HH:MM" at s[pos], which must end the text. */
static int parse_offset(const char *s, size_t n, size_t pos, int32_t *off, tq_diag *d)
{
    if (pos >= n)
        return fail(d, "missing offset (Z or +HH:MM)");
    if (s[pos] == 'Z') {
        if (pos + 1 != n)
            return fail(d, "unexpected characters after 'Z'");
        *off = 0;
        return TQ_OK;
    }
    if (s[pos] != '+' && s[pos] != '-')
        return fail(d, "expected an offset (Z or +HH:MM) at position %zu", pos + 1);
    if (n - pos != 6 || s[pos + 3] != ':')
        return fail(d, "offset must be +HH:MM or -HH:MM");
    int hh = read_digits(s + pos + 1, 2), mm = read_digits(s + pos + 4, 2);
    if (hh < 0 || mm < 0)
        return fail(d, "offset must be +HH:MM or -HH:MM");
    if (hh > 23 || mm > 59)
        return fail(d, "offset %c%02d:%02d is out of range", s[pos], hh, mm);
    *off = (hh * 3600 + mm * 60) * (s[pos] == '-' ? -1 : 1);
    return TQ_OK;
}

int tq_time_parse(const char *s, size_t n, tq_instant *out, tq_diag *d)
{
    /* "YYYY-MM-DDTHH:MM:SS" is 19 bytes; an offset adds at least 1. */
    if (n < 20)
        return fail(d, "too short for YYYY-MM-DDTHH:MM:SS and an offset");
    if (n > TQ_TS_MAX)
        return fail(d, "longer than %d characters", TQ_TS_MAX);
    int64_t day;
    int rc = parse_ymd(s, &day, d);
    if (rc != TQ_OK)
        return rc;
    if (s[10] != 'T')
        return fail(d, "expected 'T' between the date and the time");
    int hh = read_digits(s + 11, 2), mi = read_digits(s + 14, 2), ss = read_digits(s + 17, 2);
    if (hh < 0 || s[13] != ':' || mi < 0 || s[16] != ':' || ss < 0)
        return fail(d, "time must be HH:MM:SS");
    if (hh > 23)
        return fail(d, "hour %02d is not 00..23", hh);
    if (mi > 59)
        return fail(d, "minute %02d is not 00..59", mi);
    if (ss > 59)
        return fail(d, "second %02d is not 00..59", ss);
    size_t pos = 19;
    uint32_t nsec = 0;
    if (s[pos] == '.') {
        rc = parse_fraction(s, n, &pos, &nsec, d);
        if (rc != TQ_OK)
            return rc;
    }
    int32_t off = 0;
    rc = parse_offset(s, n, pos, &off, d);
    if (rc != TQ_OK)
        return rc;
    out->sec = day * SECS_PER_DAY + hh * 3600 + mi * 60 + ss - off;
    out->nsec = nsec;
    return TQ_OK;
}

void tq_date_format(int32_t day, char out[11])
{
    /* Only days of years 0001..9999 have a YYYY-MM-DD form; anything else (TQ_NO_DATE
     * included) prints as an impossible date rather than overflowing the 11 bytes. */
    static const int32_t first = -719162, last = 2932896;  /* 0001-01-01, 9999-12-31 */
    int64_t y = 0;
    int m = 0, d = 0;
    if (day >= first && day <= last)
        tq_civil_from_days(day, &y, &m, &d);
    /* written digit by digit: the ranges above fit the layout exactly */
    int v[3] = {(int)y, m, d}, width[3] = {4, 2, 2};
    char *o = out;
    for (int f = 0; f < 3; f++) {
        o = tq_u64_put_fixed(o, (uint64_t)v[f], (unsigned)width[f]);
        *o++ = f < 2 ? '-' : '\0';
    }
}

int tq_instant_cmp(tq_instant a, tq_instant b)
{
    if (a.sec != b.sec)
        return a.sec < b.sec ? -1 : 1;
    if (a.nsec != b.nsec)
        return a.nsec < b.nsec ? -1 : 1;
    return 0;
}

/* The years 1000..9999 without the C library: a day, its date, then the clock, each
 * through the one fixed-width digit writer (a worklist formats one per row: gmtime_r
 * and strftime were a tenth of listing an office).  @return 0 outside those years. */
static int format_vn_fast(tq_instant t, char out[TQ_TIME_VN_MAX])
{
    int32_t day = tq_instant_vn_day(t);
    tq_date_format(day, out);
    if (out[0] < '1' || out[0] > '9')
        return 0;
    int64_t sod = t.sec + TQ_VN_OFFSET_SECS - (int64_t)day * TQ_SECS_PER_DAY;
    char *p = out + 10;
    *p++ = 'T';
    p = tq_u64_put_fixed(p, (uint64_t)(sod / 3600), 2);
    *p++ = ':';
    p = tq_u64_put_fixed(p, (uint64_t)(sod / 60 % 60), 2);
    *p++ = ':';
    p = tq_u64_put_fixed(p, (uint64_t)(sod % 60), 2);
    if (t.nsec) {
        if (t.nsec >= 1000000000u)
            return 0;
        *p++ = '.';
        p = tq_u64_put_fixed(p, t.nsec, 9);
    }
    memcpy(p, "+07:00", 7);
    return 1;
}

void tq_time_format_vn(tq_instant t, char out[TQ_TIME_VN_MAX])
{
    if (format_vn_fast(t, out))
        return;
    time_t sec = (time_t)(t.sec + TQ_VN_OFFSET_SECS);
    struct tm tm;
    if (gmtime_r(&sec, &tm) == NULL) {
        snprintf(out, TQ_TIME_VN_MAX, "(instant %lld)", (long long)t.sec);
        return;
    }
    size_t n = strftime(out, TQ_TIME_VN_MAX, "%Y-%m-%dT%H:%M:%S", &tm);
    if (t.nsec)
        n += (size_t)snprintf(out + n, TQ_TIME_VN_MAX - n, ".%09u", t.nsec);
    snprintf(out + n, TQ_TIME_VN_MAX - n, "+07:00");
}
