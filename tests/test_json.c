/* test_json.c - the one JSON writer: escaping, UTF-8 repair, nesting and misuse. */
#include <criterion/criterion.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tq_error.h"
#include "tq_json.h"

/* esc() - what tq_json_escape() writes for n bytes of s (a static buffer). */
static const char *esc(const char *s, size_t n)
{
    static char out[1024];
    FILE *f = fmemopen(out, sizeof out, "w");
    cr_assert_not_null(f);
    cr_assert_eq(tq_json_escape(f, s, n), TQ_OK);
    fclose(f);
    return out;
}
#define ESC(lit) esc(lit, sizeof(lit) - 1)

/* A writer onto memory, and what it wrote. */
typedef struct mem {
    char *buf;
    size_t len;
    FILE *f;
    tq_json j;
} mem;

static void mem_open(mem *m)
{
    m->buf = NULL;
    m->len = 0;
    m->f = open_memstream(&m->buf, &m->len);
    cr_assert_not_null(m->f);
    tq_json_init(&m->j, m->f);
}

static int mem_close(mem *m)
{
    int rc = tq_json_finish(&m->j);
    fclose(m->f);
    return rc;
}

Test(json, plain_and_escaped)
{
    cr_assert_str_eq(ESC("abc"), "\"abc\"");
    cr_assert_str_eq(ESC(""), "\"\"");
    cr_assert_str_eq(ESC("a\"b\\c"), "\"a\\\"b\\\\c\"");
    cr_assert_str_eq(ESC("l1\nl2\r\t\b\f"), "\"l1\\nl2\\r\\t\\b\\f\"");
    cr_assert_str_eq(ESC("\x01\x1f\x7f/"), "\"\\u0001\\u001f\\u007f/\"");
    cr_assert_str_eq(esc("a\0b", 3), "\"a\\u0000b\"");
}

Test(json, valid_utf8_is_kept)
{
    cr_assert_str_eq(ESC("Hải quan"), "\"Hải quan\"");
    cr_assert_str_eq(ESC("đồng €"), "\"đồng €\"");
    cr_assert_str_eq(ESC("\xF0\x9F\x98\x80"), "\"\xF0\x9F\x98\x80\"");       /* U+1F600 */
    cr_assert_str_eq(ESC("\xF4\x8F\xBF\xBF"), "\"\xF4\x8F\xBF\xBF\"");       /* U+10FFFF */
    cr_assert_str_eq(ESC("\xED\x9F\xBF"), "\"\xED\x9F\xBF\"");               /* U+D7FF */
    cr_assert_str_eq(ESC("\xEE\x80\x80"), "\"\xEE\x80\x80\"");               /* U+E000 */
}

#define FFFD "\xEF\xBF\xBD"

Test(json, invalid_bytes_become_fffd)
{
    cr_assert_str_eq(ESC("a\xFF" "b"), "\"a" FFFD "b\"");
    cr_assert_str_eq(ESC("\x80"), "\"" FFFD "\"");                 /* stray continuation */
    cr_assert_str_eq(ESC("\xBF\x80"), "\"" FFFD FFFD "\"");
    cr_assert_str_eq(ESC("\xF5\x80\x80\x80"), "\"" FFFD FFFD FFFD FFFD "\"");
    cr_assert_str_eq(ESC("latin1 caf\xE9!"), "\"latin1 caf" FFFD "!\"");
}

Test(json, overlong_forms)
{
    cr_assert_str_eq(ESC("\xC0\xAF"), "\"" FFFD FFFD "\"");        /* '/' in 2 bytes */
    cr_assert_str_eq(ESC("\xC1\xBF"), "\"" FFFD FFFD "\"");
    cr_assert_str_eq(ESC("\xE0\x80\xAF"), "\"" FFFD FFFD FFFD "\"");
    cr_assert_str_eq(ESC("\xF0\x80\x80\xAF"), "\"" FFFD FFFD FFFD FFFD "\"");
    cr_assert_str_eq(ESC("\xC0\x80"), "\"" FFFD FFFD "\"");        /* "modified UTF-8" NUL */
}

Test(json, surrogates_and_beyond_10ffff)
{
    cr_assert_str_eq(ESC("\xED\xA0\x80"), "\"" FFFD FFFD FFFD "\"");   /* U+D800 */
    cr_assert_str_eq(ESC("\xED\xBF\xBF"), "\"" FFFD FFFD FFFD "\"");   /* U+DFFF */
    cr_assert_str_eq(ESC("\xF4\x90\x80\x80"), "\"" FFFD FFFD FFFD FFFD "\"");
}

Test(json, truncated_sequences)
{
    /* one U+FFFD for the maximal subpart, then what follows is read afresh */
    cr_assert_str_eq(ESC("\xE2\x82"), "\"" FFFD "\"");
    cr_assert_str_eq(ESC("\xE2\x82x"), "\"" FFFD "x\"");
    cr_assert_str_eq(ESC("\xF0\x9F\x98"), "\"" FFFD "\"");
    cr_assert_str_eq(ESC("\xF0\x9F\x98\"q"), "\"" FFFD "\\\"q\"");
    cr_assert_str_eq(ESC("\xC3"), "\"" FFFD "\"");
    cr_assert_str_eq(ESC("\xC3\xC3\xA9"), "\"" FFFD "\xC3\xA9\"");
    cr_assert_str_eq(esc("\xE2\x82\xAC", 2), "\"" FFFD "\"");     /* cut by the length */
}

/* valid_json_string() - out is a quoted string of well-formed UTF-8 with no raw control
 * character: decoded by value (the code point's range), not by the writer's table. */
static int valid_json_string(const unsigned char *o, size_t n)
{
    if (n < 2 || o[0] != '"' || o[n - 1] != '"')
        return 0;
    for (size_t i = 1; i + 1 < n;) {
        unsigned c = o[i];
        if (c < 0x20 || c == 0x7F)
            return 0;
        if (c == '\\') {
            i += o[i + 1] == 'u' ? 6 : 2;
            continue;
        }
        if (c == '"')
            return 0;
        int len = c < 0x80 ? 1 : (c & 0xE0) == 0xC0 ? 2 : (c & 0xF0) == 0xE0 ? 3
                : (c & 0xF8) == 0xF0 ? 4 : 0;
        if (len == 0 || i + (size_t)len > n - 1)
            return 0;
        unsigned cp = len == 1 ? c : c & (0xFF >> (len + 1));
        for (int k = 1; k < len; k++) {
            if ((o[i + k] & 0xC0) != 0x80)
                return 0;
            cp = cp << 6 | (o[i + k] & 0x3F);
        }
        static const unsigned min[] = {0, 0, 0x80, 0x800, 0x10000};
        if (cp < min[len] || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF))
            return 0;
        i += (size_t)len;
    }
    return 1;
}

Test(json, random_bytes_always_give_a_valid_string)
{
    /* bytes drawn mostly from the troublesome ranges: continuation bytes, lead bytes,
     * C0/C1/E0/ED/F0/F4/F5+, controls, quote and backslash */
    static const unsigned char pick[] = {0x00, 0x0A, 0x1F, 0x22, 0x5C, 0x41, 0x7F, 0x80,
                                         0x8F, 0x90, 0x9F, 0xA0, 0xBF, 0xC0, 0xC1, 0xC2,
                                         0xDF, 0xE0, 0xE1, 0xED, 0xEE, 0xEF, 0xF0, 0xF1,
                                         0xF4, 0xF5, 0xFF};
    unsigned seed = 12345;
    for (int t = 0; t < 20000; t++) {
        char in[16];
        size_t n = (size_t)(t % 16);
        for (size_t i = 0; i < n; i++) {
            seed = seed * 1103515245u + 12345u;
            in[i] = (char)pick[(seed >> 16) % sizeof pick];
        }
        const char *out = esc(in, n);
        cr_assert(valid_json_string((const unsigned char *)out, strlen(out)),
                  "case %d: invalid output '%s'", t, out);
    }
}

Test(json, nesting_and_commas)
{
    mem m;
    mem_open(&m);
    tq_json *j = &m.j;
    tq_json_begin_object(j);
    tq_json_kv_u64(j, "schema", 1);
    tq_json_kv_string(j, "file", "a\nb");
    tq_json_key(j, "list");
    tq_json_begin_array(j);
    tq_json_u64(j, 1);
    tq_json_begin_object(j);
    tq_json_end_object(j);
    tq_json_begin_array(j);
    tq_json_end_array(j);
    tq_json_string(j, NULL);
    tq_json_i64(j, -5);
    tq_json_end_array(j);
    tq_json_kv_bool(j, "ok", 1);
    tq_json_key(j, "t");
    tq_json_double(j, 1.5, 3);
    tq_json_key(j, "nan");
    tq_json_double(j, NAN, 3);
    tq_json_key(j, "raw");
    tq_json_raw(j, "{\"x\":[]}", 8);
    tq_json_end_object(j);
    cr_assert_eq(mem_close(&m), TQ_OK);
    cr_assert_str_eq(m.buf, "{\"schema\":1,\"file\":\"a\\nb\",\"list\":[1,{},[],null,-5],"
                            "\"ok\":true,\"t\":1.500,\"nan\":null,\"raw\":{\"x\":[]}}\n");
    free(m.buf);
}

Test(json, a_value_streamed_by_the_caller)
{
    mem m;
    mem_open(&m);
    tq_json_begin_object(&m.j);
    tq_json_kv_u64(&m.j, "a", 1);
    tq_json_key(&m.j, "list");
    FILE *f = tq_json_value_fp(&m.j);
    cr_assert_eq(f, m.f);
    fputs("[1,2]", f);
    tq_json_key(&m.j, "b");
    tq_json_begin_array(&m.j);
    tq_json_u64(&m.j, 1);
    cr_assert_eq(tq_json_value_fp(&m.j), m.f);   /* the comma before it is written */
    fputs("{}", m.f);
    tq_json_end_array(&m.j);
    tq_json_end_object(&m.j);
    cr_assert_eq(mem_close(&m), TQ_OK);
    cr_assert_str_eq(m.buf, "{\"a\":1,\"list\":[1,2],\"b\":[1,{}]}\n");
    free(m.buf);
    /* in an object, without a key first: refused */
    mem_open(&m);
    tq_json_begin_object(&m.j);
    cr_assert_null(tq_json_value_fp(&m.j));
    tq_json_end_object(&m.j);
    cr_assert_eq(mem_close(&m), TQ_ERR_INPUT);
    free(m.buf);
}

Test(json, misuse_is_an_error_not_bad_output)
{
    mem m;
    /* a value where a key is due */
    mem_open(&m);
    tq_json_begin_object(&m.j);
    tq_json_u64(&m.j, 1);
    tq_json_end_object(&m.j);
    cr_assert_eq(mem_close(&m), TQ_ERR_INPUT);
    free(m.buf);
    /* an unclosed container */
    mem_open(&m);
    tq_json_begin_array(&m.j);
    cr_assert_eq(mem_close(&m), TQ_ERR_INPUT);
    free(m.buf);
    /* a mismatched end */
    mem_open(&m);
    tq_json_begin_array(&m.j);
    tq_json_end_object(&m.j);
    cr_assert_eq(mem_close(&m), TQ_ERR_INPUT);
    free(m.buf);
    /* a key with no value */
    mem_open(&m);
    tq_json_begin_object(&m.j);
    tq_json_key(&m.j, "k");
    tq_json_end_object(&m.j);
    cr_assert_eq(mem_close(&m), TQ_ERR_INPUT);
    free(m.buf);
    /* two top-level values */
    mem_open(&m);
    tq_json_u64(&m.j, 1);
    tq_json_u64(&m.j, 2);
    cr_assert_eq(mem_close(&m), TQ_ERR_INPUT);
    free(m.buf);
}

Test(json, depth_is_bounded)
{
    mem m;
    mem_open(&m);
    for (int i = 0; i < TQ_JSON_DEPTH_MAX; i++)
        tq_json_begin_array(&m.j);
    cr_assert_eq(m.j.err, TQ_OK);
    tq_json_begin_array(&m.j);
    cr_assert_eq(m.j.err, TQ_ERR_INPUT);
    cr_assert_eq(mem_close(&m), TQ_ERR_INPUT);
    free(m.buf);
}

Test(json, write_error_is_reported)
{
    FILE *f = fopen("/dev/full", "w");
    if (f == NULL)
        cr_skip_test("no /dev/full");
    tq_json j;
    tq_json_init(&j, f);
    tq_json_begin_array(&j);
    tq_json_end_array(&j);
    cr_assert_eq(tq_json_finish(&j), TQ_ERR_IO);
    fclose(f);
}

/* tq_json_lines: each line whole onto out, in order; a line that does not fit the
 * buffer is TQ_ERR_IO and writes nothing of itself; close is a no-op when not open. */
Test(json, lines_copy_whole_lines_and_refuse_what_does_not_fit)
{
    char *got = NULL;
    size_t len = 0;
    FILE *out = open_memstream(&got, &len);
    cr_assert_not_null(out);
    char buf[32];
    tq_json_lines l = {0};
    tq_json_lines_close(&l);                       /* not open: nothing to do */
    cr_assert_eq(tq_json_lines_open(&l, out, buf, sizeof buf), TQ_OK);
    tq_json j;
    tq_json_lines_begin(&l, &j);
    tq_json_kv_u64(&j, "n", 1);
    cr_assert_eq(tq_json_lines_end(&l, &j), TQ_OK);
    tq_json_lines_begin(&l, &j);
    tq_json_kv_string(&j, "s", "a string longer than the thirty-two byte buffer");
    cr_assert_eq(tq_json_lines_end(&l, &j), TQ_ERR_IO, "a line past the buffer must fail");
    tq_json_lines_begin(&l, &j);
    tq_json_kv_string(&j, "s", "b");
    cr_assert_eq(tq_json_lines_end(&l, &j), TQ_OK);
    tq_json_lines_close(&l);
    tq_json_lines_close(&l);
    fclose(out);
    cr_assert_str_eq(got, "{\"n\":1}\n{\"s\":\"b\"}\n");
    free(got);
}
