/* tq_json.h - the one JSON writer: a streaming writer of objects and arrays onto a
 * FILE, for every --json summary and JSON report thongquan prints.
 *
 * It always writes valid JSON in valid UTF-8, whatever bytes it is given: a string is
 * copied through a UTF-8 decoder, and every byte sequence that is not well-formed
 * UTF-8 (a stray continuation byte, a truncated sequence, an overlong form, a UTF-16
 * surrogate U+D800..DFFF, a code point past U+10FFFF, bytes F5..FF) becomes U+FFFD,
 * one per maximal ill-formed subpart (Unicode's "substitution of maximal subparts").
 * '"', '\\' and the control characters U+0000..001F and U+007F are escaped (\n, \t,
 * \r, \b, \f by name, the rest as \u00XX), so a file name holding a newline stays on
 * its line.  Commas, colons and nesting are the writer's business: the caller says
 * begin/end, key, value in order.
 *
 *     tq_json j;
 *     tq_json_init(&j, stdout);
 *     tq_json_begin_object(&j);
 *     tq_json_key(&j, "schema"); tq_json_u64(&j, 1);
 *     tq_json_key(&j, "file");   tq_json_string(&j, path);
 *     tq_json_end_object(&j);
 *     rc = tq_json_finish(&j);          // newline, flush; TQ_OK or the first error
 *
 * Misuse (a value where a key is due, an end that matches no begin, nesting deeper
 * than TQ_JSON_DEPTH_MAX) is a programming error: the writer records TQ_ERR_INPUT,
 * writes nothing more, and tq_json_finish() returns it.  A write error on the FILE is
 * TQ_ERR_IO.  Threads: one tq_json is used by one thread at a time; it owns nothing
 * (the FILE stays the caller's).
 */
#ifndef TQ_JSON_H
#define TQ_JSON_H

#include "tq_error.h"
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#define TQ_JSON_DEPTH_MAX 32

typedef struct tq_json {
    FILE *f;
    int depth;                              /* open objects and arrays */
    int err;                                /* the first error, TQ_OK while none */
    char kind[TQ_JSON_DEPTH_MAX];           /* '{' or '[' for each open level */
    unsigned char count[TQ_JSON_DEPTH_MAX]; /* 0 before the level's first member */
    int want_value;                         /* a key was written, its value is due */
    int done;                               /* the top-level value is complete */
} tq_json;

/* The functions that return void record the first error in j->err (sticky: nothing
 * more is written after it) and tq_json_finish() returns it: a writer is checked once,
 * at the end, not at every value.  Strings are borrowed for the call. */

/* tq_json_init() - a writer onto f (not owned), nothing written yet. */
void tq_json_init(tq_json *j, FILE *f);

/* Containers.  In an object every value is preceded by tq_json_key(). */
void tq_json_begin_object(tq_json *j);
void tq_json_end_object(tq_json *j);
void tq_json_begin_array(tq_json *j);
void tq_json_end_array(tq_json *j);
/* tq_json_key() - the next member's name (escaped and repaired like any string). */
void tq_json_key(tq_json *j, const char *key);

/* Values. */
void tq_json_string(tq_json *j, const char *s);   /* NULL writes null */
/* tq_json_string_n() - n bytes of s, NUL bytes included (written as \u0000). */
void tq_json_string_n(tq_json *j, const char *s, size_t n);
void tq_json_u64(tq_json *j, uint64_t v);
void tq_json_i64(tq_json *j, int64_t v);
/* tq_json_double() - v with the given digits after the point; NaN and infinities,
 * which JSON cannot say, are written as null. */
void tq_json_double(tq_json *j, double v, int decimals);
void tq_json_bool(tq_json *j, int v);
void tq_json_null(tq_json *j);
/* tq_json_raw() - n bytes the caller vouches are one complete JSON value in valid
 * UTF-8 (a line of journal cat, a list built with another tq_json), copied as they are
 * with the comma before it when one is due. */
void tq_json_raw(tq_json *j, const char *json, size_t n);

/* tq_json_value_fp() - for a value the caller streams itself (a long list copied back
 * from a temporary file): does the bookkeeping of one value (the comma before it) and
 * returns the FILE, onto which the caller then writes exactly one complete JSON value
 * in valid UTF-8 before calling the writer again.  NULL after an error. */
FILE *tq_json_value_fp(tq_json *j);

/* Shorthands for a member: key then value. */
void tq_json_kv_string(tq_json *j, const char *key, const char *s);
void tq_json_kv_u64(tq_json *j, const char *key, uint64_t v);
void tq_json_kv_bool(tq_json *j, const char *key, int v);
/* tq_json_kv_array() - a member whose value is an array: writes key and begins the
 * array; the caller writes its values and ends it. */
void tq_json_kv_array(tq_json *j, const char *key);
/* tq_json_kv_object() - a member whose value is an object, or null when it has none:
 * writes key, then begins the object and returns 1 when present (the caller writes its
 * members and ends it), else writes null and returns 0.  Threads: as the writer. */
TQ_MUST_USE int tq_json_kv_object(tq_json *j, const char *key, int present);

/* tq_json_finish() - after the top-level value: a newline and a flush.
 * @return TQ_OK; TQ_ERR_INPUT when a container is still open or the writer was
 * misused; TQ_ERR_IO when the FILE reported an error. */
TQ_MUST_USE int tq_json_finish(tq_json *j);

/* tq_json_lines: NDJSON, one JSON object a line onto out, each line built in a buffer of
 * the caller's and copied onto out whole.  tq_json_finish() flushes, and a flush of out
 * per line made list --ndjson four times slower and the change feed three and a half:
 * the line's writer is a FILE over the buffer, locked from open to close.
 *     char buf[1024];
 *     tq_json_lines l = {0};
 *     if (tq_json_lines_open(&l, out, buf, sizeof buf) != TQ_OK) ...TQ_ERR_NOMEM
 *     for each row:
 *         tq_json j;
 *         tq_json_lines_begin(&l, &j);         // {
 *         tq_json_kv_string(&j, "decl_no", d->decl_no);
 *         rc = tq_json_lines_end(&l, &j);      // }\n onto out
 *     tq_json_lines_close(&l);
 * A line must fit the buffer with its newline: the caller bounds its fields (a line
 * that does not fit is TQ_ERR_IO).  Threads: one tq_json_lines is used by one thread at
 * a time; out and the buffer stay the caller's. */
typedef struct tq_json_lines {
    FILE *out;               /* where the lines go (not owned) */
    FILE *mem;               /* the writer's FILE over buf; NULL when not open */
    char *buf;
    size_t cap;
} tq_json_lines;

/* tq_json_lines_open() - lines onto out, built in buf[0..cap).
 * @return TQ_OK, or TQ_ERR_NOMEM (then nothing to close). */
TQ_MUST_USE int tq_json_lines_open(tq_json_lines *l, FILE *out, char *buf, size_t cap);
/* tq_json_lines_begin() - j becomes the writer of the next line, its object begun. */
void tq_json_lines_begin(tq_json_lines *l, tq_json *j);
/* tq_json_lines_end() - end the line's object and copy the line onto out.
 * @return TQ_OK, or TQ_ERR_IO: the line did not fit, the writer was misused, or the
 *         write onto out failed. */
TQ_MUST_USE int tq_json_lines_end(tq_json_lines *l, tq_json *j);
/* tq_json_lines_close() - give back what open took; a no-op when not open. */
void tq_json_lines_close(tq_json_lines *l);

/* tq_json_escape() - s[0..n) as a quoted JSON string on f, repaired and escaped as
 * above; the building block of the writer, for callers that print JSON by hand.
 * @return TQ_OK, or TQ_ERR_IO when the FILE's error indicator is set (sticky on the
 *         FILE, so a caller may also check ferror() once at the end: hence no
 *         TQ_MUST_USE).  Threads: any, on a FILE of its own. */
int tq_json_escape(FILE *f, const char *s, size_t n);

/* tq_json_str() - NUL-terminated s as a quoted JSON string on f (tq_json_escape); an
 * error stays on the FILE (ferror) for the caller's final check. */
void tq_json_str(FILE *f, const char *s);

#endif
