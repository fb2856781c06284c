/* tq_time.h - strict ISO-8601 timestamps and dates, and Vietnam's calendar day.
 *
 * SPEC §2: timestamps carry an explicit offset ("+07:00", "-05:30" or "Z"), 'T' and
 * seconds are required, fractional seconds are allowed (at most 9 digits here: finer
 * than a nanosecond has no meaning for a registration).  A date "YYYY-MM-DD" means the
 * whole day in Vietnam time (UTC+07:00).  Years 0001..9999 are accepted; every field
 * is range-checked, including the day of the month against leap years.
 *
 * For every function here: pure (no state, no allocation, no locale, no time zone of
 * the machine), so any thread; input strings are borrowed for the call; the parsers
 * follow tq_error.h (TQ_OK or TQ_ERR_INPUT, the reason in a tq_diag), the rest cannot
 * fail.
 */
#ifndef TQ_TIME_H
#define TQ_TIME_H

#include "tq_error.h"
#include <stddef.h>
#include <stdint.h>

#define TQ_TS_MAX 40          /* longest timestamp text we accept, in bytes */
#define TQ_NO_DATE INT32_MIN  /* "no date" (a PAY row's empty valid_until) */

/* An instant: seconds since 1970-01-01T00:00:00Z (may be negative) and nanoseconds.
 * Instants compare as (sec, nsec). */
typedef struct tq_instant {
    int64_t sec;
    uint32_t nsec;
} tq_instant;

/* tq_time_parse() - parse a timestamp of exactly n bytes (no NUL needed) into *out.
 * @return TQ_OK, or TQ_ERR_INPUT with d->field "timestamp" and d->why a short reason
 *         without the value ("hour 24 is not 00..23"): callers quote the value and name
 *         their own field around it.  d may be NULL; *out is unchanged on error.
 * Threads: pure; any thread. */
TQ_MUST_USE int tq_time_parse(const char *s, size_t n, tq_instant *out, tq_diag *d);

/* tq_date_parse() - parse "YYYY-MM-DD" of exactly n bytes into a day number
 * (days since 1970-01-01, may be negative).
 * @return TQ_OK, or TQ_ERR_INPUT with d->field "date" and d->why as tq_time_parse().
 *         d may be NULL.  Threads: pure; any thread. */
TQ_MUST_USE int tq_date_parse(const char *s, size_t n, int32_t *day, tq_diag *d);

/* tq_date_format() - write "YYYY-MM-DD" and a NUL into out (11 bytes); a day outside
 * years 0001..9999 (TQ_NO_DATE included) is written "0000-00-00", never overflowing. */
void tq_date_format(int32_t day, char out[11]);

#define TQ_SECS_PER_DAY 86400
#define TQ_VN_OFFSET_SECS (7 * 3600)   /* Vietnam time is UTC+07:00, no summer time */

/* tq_instant_vn_day() - the calendar day (days since 1970-01-01) on which the instant
 * falls in Vietnam time, UTC+07:00.  Total: any t gives a day, clamped to
 * INT32_MIN + 1 .. INT32_MAX (never TQ_NO_DATE), far outside the years 0001..9999 a
 * parser accepts.  Threads: pure; any thread.
 * Why inline here: the rules call it once per event in a replay and must not link
 * against the parsers (engine/tq_rules.c depends on this header's layouts only), so the
 * one definition lives in the header rather than being copied there.
 * Floor division, done on the quotient and remainder separately so that no sum can
 * overflow whatever t.sec holds (instants before 1970 have negative seconds, and C
 * division truncates toward zero); the nanoseconds never matter since day boundaries
 * fall on whole seconds. */
static inline int32_t tq_instant_vn_day(tq_instant t)
{
    int64_t q = t.sec / TQ_SECS_PER_DAY, r = t.sec % TQ_SECS_PER_DAY;
    if (r < 0) {
        q--;
        r += TQ_SECS_PER_DAY;
    }
    if (r + TQ_VN_OFFSET_SECS >= TQ_SECS_PER_DAY)
        q++;
    if (q > INT32_MAX)
        return INT32_MAX;
    if (q <= INT32_MIN)
        return INT32_MIN + 1;   /* INT32_MIN is TQ_NO_DATE */
    return (int32_t)q;
}

/* tq_days_from_civil() - days since 1970-01-01 of the proleptic Gregorian date y-m-d
 * (m 1..12, d 1..31, not checked: validate first).  tq_civil_from_days() inverts it. */
int64_t tq_days_from_civil(int64_t y, int m, int d);
void tq_civil_from_days(int64_t day, int64_t *y, int *m, int *d);

/* tq_time_format_vn() - the instant in Vietnam time as the journals give it,
 * "2024-08-06T13:30:02+07:00" (with ".NNNNNNNNN" when it has nanoseconds), NUL-ended in
 * out; "(instant N)" for one the C library cannot break down. */
#define TQ_TIME_VN_MAX 48
void tq_time_format_vn(tq_instant t, char out[TQ_TIME_VN_MAX]);

/* tq_instant_cmp() - -1, 0, 1 as a is before, equal to, after b (a comparison, not a
 * status: marked TQ_MUST_USE because dropping it is always a bug). */
TQ_MUST_USE int tq_instant_cmp(tq_instant a, tq_instant b);

#endif
