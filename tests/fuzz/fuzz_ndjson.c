/* fuzz_ndjson.c - libFuzzer target: the NDJSON event parser, formatter and line reader.
 *
 * The input is parsed twice over: whole, as one line, and as a file split by
 * tq_linereader.  Every event that parses must format into a line that parses back
 * into an equal event and formats to the same bytes again; anything else aborts.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tq_ndjson.h"
#include "../tq_testrec.h"

#define CHECK TQ_TEST_CHECK

static void check_diag(const tq_diag *d)
{
    CHECK(memchr(d->field, '\0', sizeof d->field) != NULL && d->field[0] != '\0');
    CHECK(memchr(d->why, '\0', sizeof d->why) != NULL && d->why[0] != '\0');
}

static void check_line(const char *line, size_t len, uint64_t seq)
{
    static tq_event ev, back;
    static char out[TQ_NDJSON_LINE_MAX], again[TQ_NDJSON_LINE_MAX];
    tq_diag d;
    if (tq_ndjson_parse_event(line, len, seq, &ev, &d) != TQ_OK) {
        check_diag(&d);
        return;
    }
    CHECK(ev.seq == seq);
    CHECK(ev.ev >= TQ_EV_DECL && ev.ev <= TQ_EV_CANCEL);
    CHECK(ev.nlines <= TQ_LINES_MAX);
    for (int with_seq = 0; with_seq <= 1; with_seq++) {
        size_t n = tq_ndjson_format_event(&ev, with_seq, out, sizeof out);
        CHECK(n > 1 && n < sizeof out && out[n - 1] == '\n' && out[n] == '\0');
        CHECK(tq_ndjson_format_event(&ev, with_seq, NULL, 0) == n);
        /* exact-size copy so that ASan sees any read past the line */
        char *copy = malloc(n - 1);
        CHECK(copy != NULL);
        memcpy(copy, out, n - 1);
        int rc = tq_ndjson_parse_event(copy, n - 1, seq, &back, &d);
        free(copy);
        if (rc != TQ_OK)
            fprintf(stderr, "reparse failed: field '%s': %s\n%s", d.field, d.why, out);
        CHECK(rc == TQ_OK);
        tq_event want = ev;
        want.has = (uint8_t)((ev.has & ~TQ_HAS_SEQ) | (with_seq ? TQ_HAS_SEQ : 0));
        CHECK(tq_test_event_equal(&want, &back));
        size_t n2 = tq_ndjson_format_event(&back, with_seq, again, sizeof again);
        CHECK(n2 == n && memcmp(out, again, n) == 0);
    }
}

static void check_reader(const uint8_t *data, size_t size)
{
    if (size == 0)
        return;   /* fmemopen refuses an empty buffer */
    FILE *fp = fmemopen((void *)data, size, "rb");
    if (fp == NULL)
        return;
    tq_linereader r;
    CHECK(tq_linereader_init(&r, fp, 512) == TQ_OK);
    const char *line;
    size_t len, seen = 0;
    uint64_t last = 0;
    int rc;
    while ((rc = tq_linereader_next(&r, &line, &len)) == TQ_OK || rc == TQ_ERR_LIMIT) {
        CHECK(r.lineno == last + 1);
        last = r.lineno;
        if (rc == TQ_OK) {
            CHECK(len <= 512 && line[len] == '\0' && memchr(line, '\n', len) == NULL);
            seen += len;
            check_line(line, len, r.lineno);
        }
        CHECK(r.cap <= 513);
    }
    CHECK(rc == TQ_ERR_EOF);
    CHECK(seen <= size);
    tq_linereader_release(&r);
    fclose(fp);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    check_line((const char *)data, size, 1);
    check_reader(data, size);
    return 0;
}
