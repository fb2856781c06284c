/* tq_num.h - exact sums of money: 128-bit unsigned integers and how to write them.
 *
 * SPEC §2: money is 0..10^15 đồng per amount and sums are exact.  A sum of u64 amounts
 * overflows after 18,447 amounts of 10^15; a 128-bit sum would need more than 3 * 10^23
 * of them, so sums of stored amounts never overflow in practice, and the adders below
 * saturate at 2^128 - 1 rather than wrap if one ever did.
 * Threads: pure functions; any thread.
 */
#ifndef TQ_NUM_H
#define TQ_NUM_H

#include <stddef.h>
#include <stdint.h>

/* An exact sum.  (__extension__: the type is a GCC/Clang extension, not ISO C.) */
__extension__ typedef unsigned __int128 tq_u128;

#define TQ_U128_MAX (~(tq_u128)0)

/* Longest outputs, NUL included: 2^128 - 1 has 39 digits, grouped 39 + 12 commas. */
#define TQ_U128_DEC_MAX 40
#define TQ_U128_GROUP_MAX 52

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

#endif
