/* test_time.c - strict timestamps and dates, day numbers and Vietnam's calendar day. */
#include <criterion/criterion.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "tq_error.h"
#include "tq_time.h"

static int ts(const char *s, tq_instant *t)
{
    tq_diag d;
    return tq_time_parse(s, strlen(s), t, &d);
}

static void ts_ok(const char *s, int64_t sec, uint32_t nsec)
{
    tq_instant t = {0, 0};
    tq_diag d = {0};
    cr_assert_eq(tq_time_parse(s, strlen(s), &t, &d), TQ_OK, "%s: %s", s, d.why);
    cr_expect_eq(t.sec, sec, "%s: sec %lld, want %lld", s, (long long)t.sec, (long long)sec);
    cr_expect_eq(t.nsec, nsec, "%s: nsec %u, want %u", s, t.nsec, nsec);
}

static void ts_bad(const char *s)
{
    tq_instant t;
    tq_diag d = {0};
    cr_expect_eq(tq_time_parse(s, strlen(s), &t, &d), TQ_ERR_INPUT, "'%s' should be refused", s);
    cr_expect_neq(d.why[0], '\0', "'%s': a reason is given", s);
    cr_expect_str_eq(d.field, "timestamp");
}

static int32_t day_of(const char *s)
{
    int32_t d = 0;
    cr_assert_eq(tq_date_parse(s, strlen(s), &d, NULL), TQ_OK, "%s", s);
    return d;
}

/* Timestamps SPEC §2.2 accepts: an instant and the texts that spell it. */
Test(time_parse, accepted_timestamps_and_their_instants)
{
    static const struct {
        int64_t sec;
        uint32_t nsec;
        const char *texts[3]; /* NULL-ended when fewer */
    } cases[] = {
        {0, 0, {"1970-01-01T00:00:00Z"}}, /* the epoch is zero */
        /* Vietnam's offset is subtracted; other offsets, with minutes, negative */
        {1722910500, 0,
         {"2024-08-06T09:15:00+07:00", "2024-08-06T02:15:00Z", "2024-08-06T02:15:00+00:00"}},
        {1722955500, 0, {"2024-08-06T09:15:00-05:30"}},
        /* fractions of one to nine digits */
        {0, 500000000, {"1970-01-01T00:00:00.5Z"}},
        {1, 1, {"1970-01-01T00:00:01.000000001Z"}},
        {0, 123456789, {"1970-01-01T00:00:00.123456789+00:00"}},
        /* before 1970 is negative; the extremes of the range */
        {-1, 0, {"1969-12-31T23:59:59Z"}},
        {-62135596800LL, 0, {"0001-01-01T00:00:00Z"}},
        {253402387139LL, 0, {"9999-12-31T23:59:59-23:59"}},
        /* leap days, the last day of a month, the last second of a day */
        {1709182800, 0, {"2024-02-29T12:00:00+07:00"}},
        {951800400, 0, {"2000-02-29T12:00:00+07:00"}},
        {1706659200, 0, {"2024-01-31T00:00:00Z"}},
        {1704153599, 0, {"2024-01-01T23:59:59Z"}},
        /* offsets up to 23:59 either way */
        {1703980860, 0, {"2024-01-01T00:00:00+23:59"}},
        {1704153540, 0, {"2024-01-01T00:00:00-23:59"}},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++)
        for (size_t k = 0; k < 3 && cases[i].texts[k] != NULL; k++)
            ts_ok(cases[i].texts[k], cases[i].sec, cases[i].nsec);
}

/* Timestamps SPEC §2.2 refuses: each with a reason, for the field "timestamp". */
Test(time_parse, refused_timestamps)
{
    static const char *const cases[] = {
        /* fractions: ten digits, none, a comma */
        "1970-01-01T00:00:00.1234567890Z", "1970-01-01T00:00:00.Z", "1970-01-01T00:00:00,5Z",
        "0000-01-01T00:00:00Z", /* below the range */
        /* days that do not exist, months out of range */
        "2023-02-29T12:00:00+07:00", "1900-02-29T12:00:00+07:00", "2024-02-30T12:00:00+07:00",
        "2024-04-31T00:00:00Z", "2024-06-31T00:00:00Z", "2024-01-32T00:00:00Z",
        "2024-01-00T00:00:00Z", "2024-00-10T00:00:00Z", "2024-13-10T00:00:00Z",
        /* clock fields out of range; no leap seconds */
        "2024-01-01T24:00:00Z", "2024-01-01T12:60:00Z", "2024-12-31T23:59:60Z",
        /* offsets past 23:59 or not written +hh:mm */
        "2024-01-01T00:00:00+24:00", "2024-01-01T00:00:00+07:60", "2024-01-01T00:00:00+0700",
        "2024-01-01T00:00:00+07", "2024-01-01T00:00:00+7:00", "2024-01-01T00:00:00 07:00",
        /* the separators, the seconds and the offset are required */
        "2024-08-06 09:15:00+07:00", "2024-08-06t09:15:00+07:00", "2024-08-06T09:15+07:00",
        "2024-08-06T09:15:00", "2024-08-06T09:15:00z", "2024/08/06T09:15:00Z",
        "20240806T091500Z", "2024-08-06", "",
        /* trailing bytes */
        "2024-08-06T09:15:00ZZ", "2024-08-06T09:15:00+07:00 ", "2024-08-06T09:15:00+07:00:00",
        /* non-digits in numeric fields */
        "2O24-08-06T09:15:00Z", "2024-08-0xT09:15:00Z", "2024-08-06T09:1a:00Z",
        "2024-08-06T09:15:00.5aZ", "2024-08-06T09:15:00+0a:00", "-024-08-06T09:15:00Z",
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++)
        ts_bad(cases[i]);
}

Test(time_parse, only_the_given_length_is_read)
{
    tq_instant t;
    const char *s = "2024-08-06T09:15:00+07:00garbage";
    cr_expect_eq(tq_time_parse(s, 25, &t, NULL), TQ_OK);
    cr_expect_eq(t.sec, 1722910500);
    cr_expect_eq(tq_time_parse(s, 24, &t, NULL), TQ_ERR_INPUT);
}

Test(time_parse, longer_than_ts_max_is_refused)
{
    char s[64] = "2024-08-06T09:15:00.123456789+07:00";
    tq_instant t;
    cr_expect_eq(ts(s, &t), TQ_OK);
    memset(s, '1', sizeof s - 1);
    s[sizeof s - 1] = '\0';
    ts_bad(s);
}

/* The reason is the error convention's tq_diag: a reason, no value (callers quote it). */
Test(time_parse, reason_goes_to_the_diag_and_null_is_allowed)
{
    tq_diag d = {0};
    tq_instant t = {42, 7};
    cr_expect_eq(tq_time_parse("2024-13-06T09:15:00Z", 20, &t, &d), TQ_ERR_INPUT);
    cr_expect_str_eq(d.why, "month 13 is not 01..12");
    cr_expect_str_eq(d.field, "timestamp");
    cr_expect_eq(t.sec, 42, "*out unchanged on error");
    cr_expect_eq(tq_time_parse("2024-13-06T09:15:00Z", 20, &t, NULL), TQ_ERR_INPUT);
}

Test(date_parse, known_day_numbers)
{
    cr_expect_eq(day_of("1970-01-01"), 0);
    cr_expect_eq(day_of("1969-12-31"), -1);
    cr_expect_eq(day_of("2024-08-06"), 19941);
    cr_expect_eq(day_of("2024-02-29"), 19782);
    cr_expect_eq(day_of("0001-01-01"), -719162);
    cr_expect_eq(day_of("9999-12-31"), 2932896);
}

Test(date_parse, refuses_bad_dates)
{
    const char *bad[] = {"2023-02-29", "2024-02-30", "2024-13-01", "2024-00-01", "2024-01-00",
                         "0000-01-01", "2024-1-01", "2024-01-1", "24-01-01", "2024-01-01 ",
                         "2024/01/01", "2024-01-01T00:00:00Z", "", "abcd-ef-gh"};
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        int32_t d;
        tq_diag dg = {0};
        cr_expect_eq(tq_date_parse(bad[i], strlen(bad[i]), &d, &dg), TQ_ERR_INPUT,
                     "'%s' should be refused", bad[i]);
        cr_expect_neq(dg.why[0], '\0');
        cr_expect_str_eq(dg.field, "date", "'%s'", bad[i]);
    }
}

Test(date_format, round_trips_every_day_of_years_1_to_9999)
{
    char buf[11];
    int32_t prev = -719163;
    for (int32_t d = -719162; d <= 2932896; d++) {
        tq_date_format(d, buf);
        int32_t back;
        if (tq_date_parse(buf, strlen(buf), &back, NULL) != TQ_OK || back != d)
            cr_assert_fail("day %d formats as '%s' which does not parse back", d, buf);
        prev = d;
    }
    cr_expect_eq(prev, 2932896);
}

Test(date_format, known_dates)
{
    char buf[11];
    tq_date_format(0, buf);
    cr_expect_str_eq(buf, "1970-01-01");
    tq_date_format(19782, buf);
    cr_expect_str_eq(buf, "2024-02-29");
    tq_date_format(-1, buf);
    cr_expect_str_eq(buf, "1969-12-31");
}

Test(date_format, out_of_range_days_stay_in_11_bytes)
{
    char buf[12];
    buf[11] = 'Z';
    tq_date_format(TQ_NO_DATE, buf);
    cr_expect_str_eq(buf, "0000-00-00");
    tq_date_format(INT32_MAX, buf);
    cr_expect_str_eq(buf, "0000-00-00");
    tq_date_format(2932897, buf);
    cr_expect_str_eq(buf, "0000-00-00");
    cr_expect_eq(buf[11], 'Z');
}

static int32_t vn_day(const char *s)
{
    tq_instant t;
    cr_assert_eq(ts(s, &t), TQ_OK, "%s", s);
    return tq_instant_vn_day(t);
}

Test(vn_day, utc_afternoon_boundary_is_midnight_in_vietnam)
{
    int32_t aug6 = day_of("2024-08-06");
    cr_expect_eq(vn_day("2024-08-06T16:59:59Z"), aug6);
    cr_expect_eq(vn_day("2024-08-06T16:59:59.999999999Z"), aug6);
    cr_expect_eq(vn_day("2024-08-06T17:00:00Z"), aug6 + 1);
}

Test(vn_day, local_midnight_in_vietnam)
{
    int32_t aug6 = day_of("2024-08-06");
    cr_expect_eq(vn_day("2024-08-06T00:00:00+07:00"), aug6);
    cr_expect_eq(vn_day("2024-08-05T23:59:59+07:00"), aug6 - 1);
    cr_expect_eq(vn_day("2024-08-06T23:59:59+07:00"), aug6);
}

Test(vn_day, other_offsets_are_converted_first)
{
    /* 13:00 in New York on the 5th is midnight of the 6th in Hanoi */
    cr_expect_eq(vn_day("2024-08-05T13:00:00-04:00"), day_of("2024-08-06"));
    cr_expect_eq(vn_day("2024-08-05T12:59:59-04:00"), day_of("2024-08-05"));
}

Test(vn_day, floors_before_1970)
{
    cr_expect_eq(vn_day("1969-12-31T16:59:59Z"), -1);
    cr_expect_eq(vn_day("1969-12-31T17:00:00Z"), 0);
    cr_expect_eq(vn_day("1969-12-31T00:00:00+07:00"), -1);
    cr_expect_eq(vn_day("0001-01-01T00:00:00+07:00"), -719162);
}

Test(vn_day, extreme_instants_do_not_overflow)
{
    tq_instant lo = {INT64_MIN, 0}, hi = {INT64_MAX, 999999999};
    cr_expect_eq(tq_instant_vn_day(hi), INT32_MAX);
    cr_expect_eq(tq_instant_vn_day(lo), INT32_MIN + 1);
}

Test(instant_cmp, orders_by_seconds_then_nanoseconds)
{
    tq_instant a = {10, 5}, b = {10, 6}, c = {11, 0}, m = {-1, 999999999};
    cr_expect_lt(tq_instant_cmp(a, b), 0);
    cr_expect_gt(tq_instant_cmp(b, a), 0);
    cr_expect_lt(tq_instant_cmp(b, c), 0);
    cr_expect_eq(tq_instant_cmp(a, a), 0);
    cr_expect_lt(tq_instant_cmp(m, a), 0);
}

Test(instant_cmp, same_instant_in_different_offsets_is_equal)
{
    tq_instant a, b, c;
    cr_assert_eq(ts("2024-08-06T09:15:00+07:00", &a), TQ_OK);
    cr_assert_eq(ts("2024-08-06T02:15:00Z", &b), TQ_OK);
    cr_assert_eq(ts("2024-08-06T02:15:00.000000001Z", &c), TQ_OK);
    cr_expect_eq(tq_instant_cmp(a, b), 0);
    cr_expect_lt(tq_instant_cmp(a, c), 0);
}

/* What tq_time_format_vn() wrote through the C library before it had a fast path for
 * the years 1000..9999: the reference the fast path must match byte for byte. */
static void format_vn_reference(tq_instant t, char out[TQ_TIME_VN_MAX])
{
    time_t sec = (time_t)(t.sec + TQ_VN_OFFSET_SECS);
    struct tm tm;
    cr_assert_not_null(gmtime_r(&sec, &tm));
    size_t n = strftime(out, TQ_TIME_VN_MAX, "%Y-%m-%dT%H:%M:%S", &tm);
    if (t.nsec)
        n += (size_t)snprintf(out + n, TQ_TIME_VN_MAX - n, ".%09u", t.nsec);
    snprintf(out + n, TQ_TIME_VN_MAX - n, "+07:00");
}

Test(time_format, vn_matches_the_c_library_across_the_years)
{
    uint64_t x = 88172645463325252ull;
    const int64_t lo = -30610224000ll, hi = 253402300799ll - 7 * 3600; /* 1000..9999 */
    for (int i = 0; i < 200000; i++) {
        x ^= x << 13, x ^= x >> 7, x ^= x << 17;
        tq_instant t = {.sec = lo + (int64_t)(x % (uint64_t)(hi - lo)),
                        .nsec = i % 3 ? 0 : (uint32_t)(x >> 40) % 1000000000u};
        if (i % 5 == 0)
            t.sec -= t.sec % 86400 + (i % 10 ? 7 * 3600 : 7 * 3600 + 1); /* midnights */
        char got[TQ_TIME_VN_MAX], want[TQ_TIME_VN_MAX];
        tq_time_format_vn(t, got);
        format_vn_reference(t, want);
        cr_assert_str_eq(got, want, "sec %lld nsec %u", (long long)t.sec, t.nsec);
    }
    char out[TQ_TIME_VN_MAX], want[TQ_TIME_VN_MAX];   /* year 1 is the library's */
    tq_time_format_vn((tq_instant){.sec = -62135596800ll}, out);
    format_vn_reference((tq_instant){.sec = -62135596800ll}, want);
    cr_expect_str_eq(out, want);
}
