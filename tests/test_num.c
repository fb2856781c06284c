/* test_num.c - the shared number writers (formats/tq_num.h) and byte-order helpers
 * (formats/tq_buf.h): every format writes digits and little-endian integers through
 * these, so their edges (0, UINT64_MAX, widths, byte order) are pinned here once. */
#include <criterion/criterion.h>

#include <stdio.h>
#include <string.h>

#include "tq_buf.h"
#include "tq_num.h"

static const char *dec(uint64_t v)
{
    static char buf[TQ_U64_DEC_MAX + 1];
    *tq_u64_put_dec(buf, v) = '\0';
    return buf;
}

Test(num, u64_dec_edges_match_printf)
{
    static const uint64_t cases[] = {0, 1, 9, 10, 99, 100, 1000000000000000ull,
                                     4294967295ull, 4294967296ull, UINT64_MAX - 1, UINT64_MAX};
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char want[32];
        snprintf(want, sizeof want, "%llu", (unsigned long long)cases[i]);
        cr_expect_str_eq(dec(cases[i]), want);
    }
    char buf[TQ_U64_DEC_MAX + 4];
    memset(buf, '#', sizeof buf);
    cr_expect_eq(tq_u64_put_dec(buf, UINT64_MAX) - buf, TQ_U64_DEC_MAX);
    cr_expect_eq(buf[TQ_U64_DEC_MAX], '#', "nothing written past the digits");
}

Test(num, u64_fixed_pads_and_keeps_low_digits)
{
    char buf[16];
    memset(buf, '#', sizeof buf);
    cr_expect_eq(tq_u64_put_fixed(buf, 1234, 8) - buf, 8);
    cr_expect(memcmp(buf, "00001234#", 9) == 0, "%.9s", buf);
    cr_expect(memcmp(tq_u64_put_fixed(buf, 0, 1) - 1, "0", 1) == 0);
    tq_u64_put_fixed(buf, 987654321012ull, 12);
    cr_expect(memcmp(buf, "987654321012", 12) == 0, "%.12s", buf);
    tq_u64_put_fixed(buf, 12345, 3);
    cr_expect(memcmp(buf, "345", 3) == 0, "only the low width digits: %.3s", buf);
}

Test(num, wbuf_u64_counts_what_does_not_fit)
{
    char out[4];
    tq_wbuf w = {.out = out, .cap = sizeof out};
    tq_wbuf_u64(&w, 123456);
    cr_expect_eq(tq_wbuf_finish(&w), 6);
    cr_expect_str_eq(out, "123");
}

Test(num, u128_dec_and_group)
{
    char d[TQ_U128_DEC_MAX], g[TQ_U128_GROUP_MAX];
    cr_expect_str_eq(tq_u128_dec(0, d), "0");
    cr_expect_str_eq(tq_u128_dec(TQ_U128_MAX, d), "340282366920938463463374607431768211455");
    cr_expect_str_eq(tq_u128_group((tq_u128)18447000, g), "18,447,000");
    cr_expect_str_eq(tq_u128_group(999, g), "999");
}

Test(num, little_endian_round_trip_and_byte_order)
{
    uint8_t b[12] = {0};
    cr_expect_eq(tq_le_put32(b, 0x04030201u), b + 4);
    cr_expect(memcmp(b, "\x01\x02\x03\x04", 4) == 0);
    cr_expect_eq(tq_le_get32(b), 0x04030201u);
    cr_expect_eq(tq_le_put64(b + 4, 0x0807060504030201ull), b + 12);
    cr_expect(memcmp(b + 4, "\x01\x02\x03\x04\x05\x06\x07\x08", 8) == 0);
    cr_expect_eq(tq_le_get64(b + 4), 0x0807060504030201ull);
    tq_le_put64(b, UINT64_MAX);
    cr_expect_eq(tq_le_get64(b), UINT64_MAX);
    tq_le_put32(b + 1, 0x80000000u);  /* unaligned */
    cr_expect_eq(tq_le_get32(b + 1), 0x80000000u);
}
