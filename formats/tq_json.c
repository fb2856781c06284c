/* tq_json.c - the streaming JSON writer (see tq_json.h). */
#include "tq_json.h"

#include <inttypes.h>
#include <math.h>
#include <string.h>

#include "tq_error.h"
#include "tq_utf8.h"

/* ---- strings: UTF-8 repair and escaping ---- */

int tq_json_escape(FILE *f, const char *str, size_t n)
{
    const unsigned char *s = (const unsigned char *)str;
    fputc('"', f);
    size_t i = 0;
    while (i < n) {
        /* the bytes that need nothing (printable ASCII but '"' and '\\'), in one write */
        size_t run = i;
        while (run < n && s[run] >= 0x20 && s[run] < 0x7F && s[run] != '"' && s[run] != '\\')
            run++;
        if (run > i) {
            fwrite(s + i, 1, run - i, f);
            i = run;
            continue;
        }
        unsigned char c = s[i];
        if (c >= 0x80) {
            size_t bad = 0, len = tq_utf8_len(s + i, n - i, &bad);
            if (len) {
                fwrite(s + i, 1, len, f);
                i += len;
            } else {
                fputs(TQ_UTF8_REPLACEMENT, f);
                i += bad;
            }
            continue;
        }
        i++;
        switch (c) {
        case '"': fputs("\\\"", f); break;
        case '\\': fputs("\\\\", f); break;
        case '\n': fputs("\\n", f); break;
        case '\r': fputs("\\r", f); break;
        case '\t': fputs("\\t", f); break;
        case '\b': fputs("\\b", f); break;
        case '\f': fputs("\\f", f); break;
        default:
            if (c < 0x20 || c == 0x7F)
                fprintf(f, "\\u%04x", c);
            else
                fputc(c, f);
        }
    }
    fputc('"', f);
    return ferror(f) ? TQ_ERR_IO : TQ_OK;
}

void tq_json_str(FILE *f, const char *s)
{
    tq_json_escape(f, s, strlen(s));
}

/* ---- the writer ---- */

void tq_json_init(tq_json *j, FILE *f)
{
    memset(j, 0, sizeof *j);
    j->f = f;
}

static void misuse(tq_json *j)
{
    if (j->err == TQ_OK)
        j->err = TQ_ERR_INPUT;
}

/* before_value() - the comma a value needs; 0 when it may be written. */
static int before_value(tq_json *j)
{
    if (j->err)
        return -1;
    if (j->depth == 0) {
        if (j->done) {
            misuse(j);                    /* a second top-level value */
            return -1;
        }
        return 0;
    }
    int top = j->depth - 1;
    if (j->kind[top] == '{') {
        if (!j->want_value) {
            misuse(j);                    /* a value with no key */
            return -1;
        }
        j->want_value = 0;
        return 0;
    }
    if (j->count[top])
        fputc(',', j->f);
    j->count[top] = 1;
    return 0;
}

/* after_value() - the top-level value is complete once nothing is open. */
static void after_value(tq_json *j)
{
    if (j->depth == 0)
        j->done = 1;
}

static void begin(tq_json *j, char kind)
{
    if (before_value(j))
        return;
    if (j->depth >= TQ_JSON_DEPTH_MAX) {
        misuse(j);
        return;
    }
    j->kind[j->depth] = kind;
    j->count[j->depth] = 0;
    j->depth++;
    fputc(kind, j->f);
}

static void end(tq_json *j, char kind)
{
    if (j->err)
        return;
    if (j->depth == 0 || j->kind[j->depth - 1] != kind || j->want_value) {
        misuse(j);
        return;
    }
    j->depth--;
    fputc(kind == '{' ? '}' : ']', j->f);
    after_value(j);
}

void tq_json_begin_object(tq_json *j) { begin(j, '{'); }
void tq_json_end_object(tq_json *j) { end(j, '{'); }
void tq_json_begin_array(tq_json *j) { begin(j, '['); }
void tq_json_end_array(tq_json *j) { end(j, '['); }

void tq_json_key(tq_json *j, const char *key)
{
    if (j->err)
        return;
    if (j->depth == 0 || j->kind[j->depth - 1] != '{' || j->want_value || key == NULL) {
        misuse(j);
        return;
    }
    if (j->count[j->depth - 1])
        fputc(',', j->f);
    j->count[j->depth - 1] = 1;
    tq_json_escape(j->f, key, strlen(key));
    fputc(':', j->f);
    j->want_value = 1;
}

void tq_json_string_n(tq_json *j, const char *s, size_t n)
{
    if (before_value(j))
        return;
    tq_json_escape(j->f, s, n);
    after_value(j);
}

void tq_json_string(tq_json *j, const char *s)
{
    if (s == NULL)
        tq_json_null(j);
    else
        tq_json_string_n(j, s, strlen(s));
}

void tq_json_raw(tq_json *j, const char *json, size_t n)
{
    if (before_value(j))
        return;
    fwrite(json, 1, n, j->f);
    after_value(j);
}

FILE *tq_json_value_fp(tq_json *j)
{
    if (before_value(j))
        return NULL;
    after_value(j);
    return j->f;
}

void tq_json_u64(tq_json *j, uint64_t v)
{
    char b[24];
    int n = snprintf(b, sizeof b, "%" PRIu64, v);
    tq_json_raw(j, b, (size_t)n);
}

void tq_json_i64(tq_json *j, int64_t v)
{
    char b[24];
    int n = snprintf(b, sizeof b, "%" PRId64, v);
    tq_json_raw(j, b, (size_t)n);
}

void tq_json_double(tq_json *j, double v, int decimals)
{
    if (!isfinite(v)) {
        tq_json_null(j);
        return;
    }
    char b[64];
    if (decimals < 0 || decimals > 17)
        decimals = 6;
    int n = snprintf(b, sizeof b, "%.*f", decimals, v);
    if (n < 0 || (size_t)n >= sizeof b)
        tq_json_null(j);                  /* beyond 1e45: nothing we count gets there */
    else
        tq_json_raw(j, b, (size_t)n);
}

void tq_json_bool(tq_json *j, int v)
{
    if (v)
        tq_json_raw(j, "true", 4);
    else
        tq_json_raw(j, "false", 5);
}

void tq_json_null(tq_json *j)
{
    tq_json_raw(j, "null", 4);
}

void tq_json_kv_array(tq_json *j, const char *key)
{
    tq_json_key(j, key);
    tq_json_begin_array(j);
}

int tq_json_kv_object(tq_json *j, const char *key, int present)
{
    tq_json_key(j, key);
    if (present)
        tq_json_begin_object(j);
    else
        tq_json_null(j);
    return present != 0;
}

void tq_json_kv_string(tq_json *j, const char *key, const char *s)
{
    tq_json_key(j, key);
    tq_json_string(j, s);
}

void tq_json_kv_u64(tq_json *j, const char *key, uint64_t v)
{
    tq_json_key(j, key);
    tq_json_u64(j, v);
}

void tq_json_kv_bool(tq_json *j, const char *key, int v)
{
    tq_json_key(j, key);
    tq_json_bool(j, v);
}

int tq_json_finish(tq_json *j)
{
    if (j->err == TQ_OK && (j->depth || !j->done))
        misuse(j);
    if (j->err == TQ_OK)
        fputc('\n', j->f);
    if (fflush(j->f) != 0 || ferror(j->f))
        return TQ_ERR_IO;
    return j->err;
}

int tq_json_lines_open(tq_json_lines *l, FILE *out, char *buf, size_t cap)
{
    l->out = out;
    l->buf = buf;
    l->cap = cap;
    if ((l->mem = fmemopen(buf, cap, "w")) == NULL)
        return TQ_ERR_NOMEM;
    flockfile(l->mem); /* held throughout: the writer's many small puts skip the lock */
    return TQ_OK;
}

void tq_json_lines_begin(tq_json_lines *l, tq_json *j)
{
    rewind(l->mem);
    tq_json_init(j, l->mem);
    tq_json_begin_object(j);
}

int tq_json_lines_end(tq_json_lines *l, tq_json *j)
{
    tq_json_end_object(j);
    long n = tq_json_finish(j) == TQ_OK ? ftell(l->mem) : -1;
    if (n <= 0 || fwrite(l->buf, 1, (size_t)n, l->out) != (size_t)n)
        return TQ_ERR_IO;
    return TQ_OK;
}

void tq_json_lines_close(tq_json_lines *l)
{
    if (l->mem == NULL)
        return;
    funlockfile(l->mem);
    fclose(l->mem);
    l->mem = NULL;
}
