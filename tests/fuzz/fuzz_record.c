/* fuzz_record.c - libFuzzer target for tq_record_decode() and tq_record_encode().
 *
 * The first byte picks a mode:
 *   even: the rest is a record.  Whatever decode accepts must re-encode to exactly the
 *         bytes it consumed (the encoding is canonical) and decode again the same way.
 *   odd:  the rest is the raw bytes of a tq_event (unterminated strings, wild numbers).
 *         encode must not read past the struct; whatever it accepts must decode and
 *         re-encode to the same bytes.
 * Any mismatch aborts, which libFuzzer reports as a crash.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "tq_journal.h"

static void check_canonical(const uint8_t *rec, size_t n)
{
    static tq_event ev;
    static uint8_t again[TQ_RECORD_MAX];
    if (tq_record_decode(rec, n, &ev) != n)
        abort();
    size_t e = tq_record_encode(&ev, again, sizeof again);
    if (e != n || memcmp(again, rec, n) != 0)
        abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static tq_event ev;
    static uint8_t out[TQ_RECORD_MAX];
    if (size < 1)
        return 0;
    if ((data[0] & 1) == 0) {
        size_t n = tq_record_decode(data + 1, size - 1, &ev);
        if (n > size - 1)
            abort();
        if (n > 0)
            check_canonical(data + 1, n);
    } else {
        /* A struct exactly the size of tq_event on the heap, so ASan sees any over-read. */
        tq_event *raw = malloc(sizeof *raw);
        if (raw == NULL)
            return 0;
        size_t k = size - 1 < sizeof *raw ? size - 1 : sizeof *raw;
        memset(raw, 0, sizeof *raw);
        memcpy(raw, data + 1, k);
        size_t n = tq_record_encode(raw, out, sizeof out);
        if (n > 0)
            check_canonical(out, n);
        /* a short buffer must be refused, never overrun */
        if (n > 1 && tq_record_encode(raw, out, n - 1) != 0)
            abort();
        free(raw);
    }
    return 0;
}
