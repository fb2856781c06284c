/* fuzz_store_value.c - libFuzzer target for what reads bytes the store or an operator
 * hands over: the declaration value codec (format 2 and 3, engine/STORE.md) and the
 * list filters' parsers (engine/tq_list.h).
 *
 * The first byte picks a mode:
 *   0 mod 2: the rest is a stored declaration value.  Whatever decode accepts must
 *            encode (a decoded value is a storable one), and the encoding must decode
 *            to the very same declaration, byte for byte.
 *   1 mod 2: the rest, NUL-terminated, goes to the duration, instant, reasons and state
 *            parsers; they must not read past it, and what they accept must be sane.
 * Any mismatch aborts, which libFuzzer reports as a crash.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "tq_list.h"
#include "tq_store.h"

static void value_roundtrip(const uint8_t *v, size_t n)
{
    static tq_decl d, again;
    static uint8_t enc[TQ_STORE_DECL_ENC_MAX];
    size_t len = 0;
    memset(&d, 0, sizeof d);
    if (tq_store_decl_decode("100000000001", v, n, &d) != TQ_OK)
        return;
    if (tq_store_decl_encode(&d, enc, &len) != TQ_OK || len > sizeof enc)
        abort();
    memset(&again, 0, sizeof again);
    if (tq_store_decl_decode("100000000001", enc, len, &again) != TQ_OK ||
        memcmp(&d, &again, sizeof d) != 0)
        abort();
}

static void parsers(const uint8_t *p, size_t n)
{
    char *s = malloc(n + 1);
    if (s == NULL)
        return;
    memcpy(s, p, n);
    s[n] = '\0';
    int64_t sec;
    if (tq_list_parse_duration(s, &sec) == TQ_OK && sec < 0)
        abort();
    tq_instant when;
    tq_diag why = {0};
    if (tq_list_parse_instant(s, &when, &why) != TQ_OK &&
        memchr(why.why, '\0', sizeof why.why) == NULL)
        abort();
    uint32_t bits;
    const char *bad = NULL;
    if (tq_list_parse_reasons(s, &bits, &bad) == TQ_OK && bits >> TQ_REASON_COUNT)
        abort();
    int state;
    if (tq_list_parse_state(s, &state) == TQ_OK && (state < 0 || state > TQ_STATE_CANCELLED))
        abort();
    free(s);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1)
        return 0;
    if ((data[0] & 1) == 0)
        value_roundtrip(data + 1, size - 1);
    else
        parsers(data + 1, size - 1);
    return 0;
}
