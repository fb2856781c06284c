/* tq_num.h - exact sums of money: 128-bit unsigned integers and how to write them.
 *
 * SPEC §2: money is 0..10^15 đồng per amount and sums are exact.  A sum of u64 amounts
 * overflows after 18,447 amounts of 10^15; a 128-bit sum would need more than 3 * 10^23
 * of them, so sums of stored amounts never overflow in practice, and the adders below
 * saturate at 2^128 - 1 rather than wrap if one ever did.
 * Also bytes written as hex (tq_hex), the other way the tree writes numbers for people.
 * Threads: pure functions; any thread.
 */
#ifndef TQ_NUM_H
#define TQ_NUM_H

#include <stddef.h>
#include <stdint.h>
#include <string.h>

/* An exact sum.  (__extension__: the type is a GCC/Clang extension, not ISO C.) */
__extension__ typedef unsigned __int128 tq_u128;

#define TQ_U128_MAX (~(tq_u128)0)

/* Longest outputs, NUL included: 2^128 - 1 has 39 digits, grouped 39 + 12 commas. */
#define TQ_U128_DEC_MAX 40
#define TQ_U128_GROUP_MAX 52

#define TQ_U64_DEC_MAX 20     /* digits of UINT64_MAX, no NUL */

/* tq_u64_put_dec() - v in decimal, no sign, no leading zeros ("0" for 0), written at p
 * without a NUL; p must have room for TQ_U64_DEC_MAX bytes.  @return p past the last
 * digit.  The one u64 decimal writer: the bounded appender (tq_wbuf_u64), the export
 * rows and the generator all write numbers through it.  Inline because an export of ten
 * million rows writes forty million numbers.  Threads: pure; any thread. */
static inline char *tq_u64_put_dec(char *p, uint64_t v)
{
    char tmp[TQ_U64_DEC_MAX];
    size_t i = sizeof tmp;
    do {
        tmp[--i] = (char)('0' + v % 10);
        v /= 10;
    } while (v != 0);
    memcpy(p, tmp + i, sizeof tmp - i);
    return p + (sizeof tmp - i);
}

/* tq_u64_put_fixed() - the low width decimal digits of v, zero-padded, written at p
 * without a NUL (width 8 of 1234 is "00001234"; digits above width are dropped, so the
 * caller checks the range).  @return p + width.  For the fixed-width numbers of the
 * formats: a decl_no (12 digits), an hs code (8), a date's fields.  Threads: pure. */
static inline char *tq_u64_put_fixed(char *p, uint64_t v, unsigned width)
{
    for (unsigned i = width; i-- > 0; v /= 10)
        p[i] = (char)('0' + v % 10);
    return p + width;
}

/* The functions below cannot fail and allocate nothing; out is the caller's. */

/* tq_u128_add() - a + b, saturating at TQ_U128_MAX. */
tq_u128 tq_u128_add(tq_u128 a, tq_u128 b);

/* tq_u128_dec() - v in decimal, no sign, no leading zeros ("0" for 0), into out (at least
 * TQ_U128_DEC_MAX bytes).  @return out. */
char *tq_u128_dec(tq_u128 v, char out[TQ_U128_DEC_MAX]);

/* tq_u128_group() - v in decimal with a comma every three digits ("18,447,000"), into
 * out (at least TQ_U128_GROUP_MAX bytes).  @return out. */
char *tq_u128_group(tq_u128 v, char out[TQ_U128_GROUP_MAX]);

/* tq_u128_u64() - v, or UINT64_MAX when v does not fit (for a field that is u64 by
 * contract, such as a shortfall, which is never more than a tax_due). */
uint64_t tq_u128_u64(tq_u128 v);

/* tq_hex() - n bytes as 2n lowercase hex digits and a NUL into out, which must hold
 * 2n + 1 bytes: a journal id (TQ_JOURNAL_ID_LEN bytes), a SHA-256, a name's exact
 * bytes.  The one hex writer of the tree (the CLI, explain and the nightly job).
 * Ownership: bytes and out are the caller's; they must not overlap. */
void tq_hex(const void *bytes, size_t n, char *out);

#endif
