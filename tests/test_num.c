/* test_num.c - the shared number writers (formats/tq_num.h) and byte-order helpers
 * (formats/tq_buf.h): every format writes digits and little-endian integers through
 * these, so their edges (0, UINT64_MAX, widths, byte order) are pinned here once. */
#include <criterion/criterion.h>

#include <stdio.h>
#include <string.h>

#include "tq_buf.h"
#include "tq_grow.h"
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

Test(num, grow_first_allocation_then_doubling)
{
    int *v = NULL;
    size_t cap = 0;
    cr_assert_eq(tq_grow((void **)&v, &cap, 0, sizeof *v, 16), TQ_OK);
    cr_expect_null(v, "nothing needed: nothing allocated");
    cr_assert_eq(tq_grow((void **)&v, &cap, 1, sizeof *v, 16), TQ_OK);
    cr_expect_eq(cap, 16);
    cr_assert_not_null(v);
    for (int i = 0; i < 16; i++)
        v[i] = i;
    cr_assert_eq(tq_grow((void **)&v, &cap, 16, sizeof *v, 16), TQ_OK);
    cr_expect_eq(cap, 16, "room enough: unchanged");
    cr_assert_eq(tq_grow((void **)&v, &cap, 17, sizeof *v, 16), TQ_OK);
    cr_expect_eq(cap, 32);
    cr_assert_eq(tq_grow((void **)&v, &cap, 100, sizeof *v, 16), TQ_OK);
    cr_expect_eq(cap, 128, "doubled until it holds need");
    for (int i = 0; i < 16; i++)
        cr_expect_eq(v[i], i, "the contents moved with the array");
    v[127] = 1;
    free(v);
    char *c = NULL;
    cap = 0;
    cr_assert_eq(tq_grow((void **)&c, &cap, 1, 1, 0), TQ_OK);
    cr_expect_eq(cap, 1, "first 0 counts as 1");
    free(c);
}

Test(num, grow_refuses_overflow_and_keeps_the_array)
{
    int *v = NULL;
    size_t cap = 0;
    cr_assert_eq(tq_grow((void **)&v, &cap, 4, sizeof *v, 4), TQ_OK);
    int *old = v;
    /* the element count would pass SIZE_MAX */
    cr_expect_eq(tq_grow((void **)&v, &cap, SIZE_MAX, sizeof *v, 4), TQ_ERR_NOMEM);
    /* the count fits, its size in bytes does not */
    cr_expect_eq(tq_grow((void **)&v, &cap, SIZE_MAX / 4, sizeof(uint64_t), 4), TQ_ERR_NOMEM);
    cr_expect_eq(v, old);
    cr_expect_eq(cap, 4);
    cr_expect_eq(tq_grow((void **)&v, &cap, 5, 0, 4), TQ_ERR_NOMEM);
    free(v);
}

/* realloc failing: a size no machine grants (ASan aborts on such a request instead of
 * returning NULL, so the sanitizer build skips it). */
Test(num, grow_realloc_failure_keeps_the_array)
{
#if defined(__SANITIZE_ADDRESS__)
    cr_skip_test("ASan aborts on an impossible allocation");
#else
    char *v = NULL;
    size_t cap = 0;
    cr_assert_eq(tq_grow((void **)&v, &cap, 8, 1, 8), TQ_OK);
    v[0] = 'k';
    char *old = v;
    cr_expect_eq(tq_grow((void **)&v, &cap, SIZE_MAX / 2 + 1, 1, 8), TQ_ERR_NOMEM);
    cr_expect_eq(v, old);
    cr_expect_eq(cap, 8);
    cr_expect_eq(v[0], 'k');
    free(v);
#endif
}

Test(num, hex_writes_every_byte_lowercase)
{
    char out[2 * 5 + 1];
    memset(out, 'x', sizeof out);
    tq_hex("\x00\x01\xab\xff\x7f", 5, out);
    cr_expect_str_eq(out, "0001abff7f");
    tq_hex("", 0, out);
    cr_expect_str_eq(out, "", "no bytes: an empty string");
}
