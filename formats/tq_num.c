/* tq_num.c - exact sums: saturating 128-bit addition and decimal writers. */
#include "tq_num.h"

#include <string.h>

tq_u128 tq_u128_add(tq_u128 a, tq_u128 b)
{
    return a > TQ_U128_MAX - b ? TQ_U128_MAX : a + b;
}

char *tq_u128_dec(tq_u128 v, char out[TQ_U128_DEC_MAX])
{
    char tmp[TQ_U128_DEC_MAX];
    size_t n = 0;
    do {
        tmp[n++] = (char)('0' + (unsigned)(v % 10));
        v /= 10;
    } while (v != 0);
    for (size_t i = 0; i < n; i++)
        out[i] = tmp[n - 1 - i];
    out[n] = '\0';
    return out;
}

char *tq_u128_group(tq_u128 v, char out[TQ_U128_GROUP_MAX])
{
    char dec[TQ_U128_DEC_MAX];
    size_t n = strlen(tq_u128_dec(v, dec)), o = 0;
    for (size_t i = 0; i < n; i++) {
        if (i > 0 && (n - i) % 3 == 0)
            out[o++] = ',';
        out[o++] = dec[i];
    }
    out[o] = '\0';
    return out;
}

uint64_t tq_u128_u64(tq_u128 v)
{
    return v > UINT64_MAX ? UINT64_MAX : (uint64_t)v;
}

void tq_hex(const void *bytes, size_t n, char *out)
{
    static const char hx[] = "0123456789abcdef";
    const uint8_t *b = bytes;
    for (size_t i = 0; i < n; i++) {
        out[2 * i] = hx[b[i] >> 4];
        out[2 * i + 1] = hx[b[i] & 15];
    }
    out[2 * n] = '\0';
}
