/* tq_ndjson.c - strict NDJSON codec for journal events, and the bounded line reader.
 *
 * HOW THE PARSER WORKS.  One left-to-right pass over the line, no allocation, no
 * recursion.  The event is a flat object whose only nested value is "lines", an array
 * of flat objects, so the parser is written for exactly that shape: the top-level
 * object and each line object are read by a loop, and any other object or array is
 * stepped over by an iterative skipper (depth-limited, with a bit stack) and refused as
 * a type error.  Strings are unescaped and UTF-8-checked while they are scanned, into a
 * small scratch buffer: every string the event can hold is at most 64 bytes, so a
 * longer one only needs its length counted, not its bytes kept.
 *
 * Keys may come in any order, and which keys are allowed depends on "ev", which may come
 * last.  So the pass only records, for each known key, the ordinal of its first
 * occurrence (plus the first duplicate and the first unknown name), decodes each value
 * straight into the event, and remembers the first value error.  After the pass the
 * errors are ranked so that one line always gets the same, most useful message:
 *   1. malformed JSON (reported at once, with its column);
 *   2. "ev" missing or not a kind;
 *   3. the leftmost key that is a duplicate, unknown, or not allowed for the kind;
 *   4. the leftmost bad value (including everything inside "lines" and "seq");
 *   5. a required key missing, in the canonical order; an AMEND without fields.
 * Inside "lines" the field is named "lines[I].key" with I counted from 0, as in jq.
 * Columns in "(json)" messages count bytes from 1.  A '\r' after the closing brace is
 * refused with its own message: the line reader keeps it, and NDJSON written by
 * thongquan never has one, so it means a CRLF file.
 */
#ifndef _GNU_SOURCE
#define _POSIX_C_SOURCE 200809L   /* getc_unlocked, flockfile, strnlen */
#endif
#include "tq_ndjson.h"
#include "tq_buf.h"

#include <stdarg.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "tq_csv.h"
#include "tq_utf8.h"

#define QCAP 72          /* tq_diag_quote output for 60 input bytes, worst case */
#define SKIP_DEPTH 64    /* nesting the skipper follows before calling a line hostile */

/* Known keys, in the canonical output order of SPEC §2.1 (also the order in which
 * missing keys are reported). */
enum key_id {
    K_SEQ, K_EV, K_DECL_NO, K_KIND, K_OFFICE, K_DECLARANT, K_REGISTERED_AT, K_CHANNEL,
    K_TAX_DUE, K_LINES, K_RESULT, K_OFFICER, K_CLEARED_AT, K_COUNT
};

/* Names with their lengths, so that a key is matched without strlen. */
typedef struct keyname {
    const char *s;
    size_t n;
} keyname;
#define NAME(lit) {lit, sizeof(lit) - 1}

static const keyname key_name[K_COUNT] = {
    NAME("seq"), NAME("ev"), NAME("decl_no"), NAME("kind"), NAME("office"),
    NAME("declarant"), NAME("registered_at"), NAME("channel"), NAME("tax_due"),
    NAME("lines"), NAME("result"), NAME("officer"), NAME("cleared_at")
};

#define B(k) (1u << (k))

/* Allowed and required keys per tq_ev_kind (index 0 unused). */
static const struct {
    uint16_t allowed, required;
} kind_keys[6] = {
    [TQ_EV_DECL] = {B(K_SEQ) | B(K_EV) | B(K_DECL_NO) | B(K_KIND) | B(K_OFFICE) |
                        B(K_DECLARANT) | B(K_REGISTERED_AT) | B(K_CHANNEL) | B(K_TAX_DUE) |
                        B(K_LINES),
                    B(K_EV) | B(K_DECL_NO) | B(K_KIND) | B(K_OFFICE) | B(K_DECLARANT) |
                        B(K_REGISTERED_AT) | B(K_CHANNEL) | B(K_TAX_DUE) | B(K_LINES)},
    [TQ_EV_AMEND] = {B(K_SEQ) | B(K_EV) | B(K_DECL_NO) | B(K_TAX_DUE) | B(K_LINES),
                     B(K_EV) | B(K_DECL_NO)},
    [TQ_EV_OFFICER] = {B(K_SEQ) | B(K_EV) | B(K_DECL_NO) | B(K_RESULT) | B(K_OFFICER),
                       B(K_EV) | B(K_DECL_NO) | B(K_RESULT) | B(K_OFFICER)},
    [TQ_EV_MANUAL_CLEAR] = {B(K_SEQ) | B(K_EV) | B(K_DECL_NO) | B(K_OFFICER) |
                                B(K_CLEARED_AT),
                            B(K_EV) | B(K_DECL_NO) | B(K_OFFICER) | B(K_CLEARED_AT)},
    [TQ_EV_CANCEL] = {B(K_SEQ) | B(K_EV) | B(K_DECL_NO), B(K_EV) | B(K_DECL_NO)},
};

enum line_key { L_HS, L_QTY, L_VALUE, L_PERMIT, L_COUNT };
static const keyname line_key_name[L_COUNT] = {NAME("hs"), NAME("qty"), NAME("value"),
                                            NAME("permit")};

static int lookup(const keyname *names, int count, const char *k, size_t n)
{
    for (int i = 0; i < count; i++)
        if (n == names[i].n && k[0] == names[i].s[0] && memcmp(k, names[i].s, n) == 0)
            return i;
    return -1;
}

typedef enum jtype { JV_STR, JV_NUM, JV_LIT, JV_OBJ, JV_ARR } jtype;

/* A scalar value as scanned.  For strings, s holds the unescaped bytes, of which only
 * the first `stored` are kept; n is the full unescaped length. */
typedef struct jval {
    jtype type;
    const char *raw;     /* the value's text in the line */
    size_t rawn;
    const char *s;
    size_t n, stored;
} jval;

typedef struct jp {
    const char *start, *p, *end;
    tq_diag *d;
    tq_event *ev;
    uint64_t seq;
    uint32_t nkeys;               /* ordinal of the last key read */
    uint32_t pos[K_COUNT];        /* ordinal of each known key's first occurrence */
    uint32_t dup_pos, unknown_pos;
    int dup_key;
    size_t unknown_len;
    int kind;                     /* tq_ev_kind once "ev" was read and valid */
    bool verr;                    /* vd holds the first value error */
    /* Not cleared per line: each member below is written before it is read. */
    tq_diag vd;
    char ev_got[QCAP + 32];       /* how a bad "ev" value is shown */
    char unknown_name[64];        /* >= 61 so that a quote of it shows "..." if cut */
    char kbuf[64];
    char vbuf[96];
} jp;

_Static_assert(sizeof(((jp *)0)->vbuf) > TQ_OFFICER_MAX && sizeof(((jp *)0)->vbuf) > TQ_TS_MAX,
               "the scratch buffer must hold every string an event keeps");

/* ---------------------------------------------------------------- errors */

static int jerr_at(jp *j, const char *at, const char *what)
{
    return tq_diag_set(j->d, "(json)", "malformed JSON: %s at column %zu", what,
                       (size_t)(at - j->start) + 1);
}

static int jexpect(jp *j, const char *what)
{
    size_t col = (size_t)(j->p - j->start) + 1;
    if (j->p >= j->end)
        return tq_diag_set(j->d, "(json)", "malformed JSON: expected %s at column %zu "
                           "(end of line)", what, col);
    char q[QCAP];
    return tq_diag_set(j->d, "(json)", "malformed JSON: expected %s at column %zu, got '%s'",
                       what, col, tq_diag_quote(j->p, 1, q, sizeof q));
}

static void vfail(jp *j, const char *field, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* Records a value error unless an earlier one is already recorded: the leftmost wins. */
static void vfail(jp *j, const char *field, const char *fmt, ...)
{
    if (j->verr)
        return;
    j->verr = true;
    snprintf(j->vd.field, sizeof j->vd.field, "%s", field);
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(j->vd.why, sizeof j->vd.why, fmt, ap);
    va_end(ap);
}

/* How a value is shown after "got": strings quoted, numbers and literals as written,
 * containers by their type.  The parenthesis tells a string from a number when the
 * wrong one of the two was given. */
static const char *describe(const jval *v, bool want_string, char *out, size_t cap)
{
    char q[QCAP];
    switch (v->type) {
    case JV_STR:
        tq_diag_quote(v->s, v->stored, q, sizeof q);   /* > 60 bytes when cut: "..." */
        snprintf(out, cap, want_string ? "'%s'" : "'%s' (a string, not a number)", q);
        break;
    case JV_NUM:
        tq_diag_quote(v->raw, v->rawn, q, sizeof q);
        snprintf(out, cap, want_string ? "%s (a number, not a string)" : "%s", q);
        break;
    case JV_LIT:
        snprintf(out, cap, "%s", tq_diag_quote(v->raw, v->rawn, q, sizeof q));
        break;
    case JV_OBJ:
        snprintf(out, cap, "an object");
        break;
    case JV_ARR:
        snprintf(out, cap, "an array");
        break;
    }
    return out;
}

/* An unknown key as a field name: quoted for the terminal, and "" when empty, so that
 * the message never names an empty field. */
static const char *key_shown(const char *k, size_t n, char q[QCAP])
{
    if (n == 0)
        return "\"\"";
    return tq_diag_quote(k, n, q, QCAP);
}

/* ---------------------------------------------------------------- lexing */

static void skip_ws(jp *j)
{
    while (j->p < j->end &&
           (*j->p == ' ' || *j->p == '\t' || *j->p == '\n' || *j->p == '\r'))
        j->p++;
}

/* open_container() - step over the opening bracket at j->p and the blanks after it.
 * @return true when the container is empty (its closing bracket is consumed too). */
static bool open_container(jp *j, char close)
{
    j->p++;
    skip_ws(j);
    if (j->p < j->end && *j->p == close) {
        j->p++;
        return true;
    }
    return false;
}

static bool is_digit(char c)
{
    return c >= '0' && c <= '9';
}

static void append(char *buf, size_t cap, size_t *n, const char *src, size_t k)
{
    if (*n < cap) {
        size_t room = cap - *n;
        memcpy(buf + *n, src, k < room ? k : room);
    }
    *n += k;
}

static int hex4(const char *p, const char *end)
{
    if (end - p < 4)
        return -1;
    int v = 0;
    for (int i = 0; i < 4; i++) {
        char c = p[i];
        int h = is_digit(c) ? c - '0'
              : (c >= 'a' && c <= 'f') ? c - 'a' + 10
              : (c >= 'A' && c <= 'F') ? c - 'A' + 10 : -1;
        if (h < 0)
            return -1;
        v = v * 16 + h;
    }
    return v;
}

static size_t utf8_encode(uint32_t cp, char out[4])
{
    if (cp < 0x80) {
        out[0] = (char)cp;
        return 1;
    }
    if (cp < 0x800) {
        out[0] = (char)(0xc0 | (cp >> 6));
        out[1] = (char)(0x80 | (cp & 0x3f));
        return 2;
    }
    if (cp < 0x10000) {
        out[0] = (char)(0xe0 | (cp >> 12));
        out[1] = (char)(0x80 | ((cp >> 6) & 0x3f));
        out[2] = (char)(0x80 | (cp & 0x3f));
        return 3;
    }
    out[0] = (char)(0xf0 | (cp >> 18));
    out[1] = (char)(0x80 | ((cp >> 12) & 0x3f));
    out[2] = (char)(0x80 | ((cp >> 6) & 0x3f));
    out[3] = (char)(0x80 | (cp & 0x3f));
    return 4;
}

/* A "\uXXXX" escape at p (and its low surrogate when XXXX is a high one). */
static int scan_u_escape(jp *j, const char **pp, char *buf, size_t cap, size_t *n)
{
    const char *p = *pp;
    int cp = hex4(p + 2, j->end);
    if (cp < 0)
        return jerr_at(j, p, "invalid \\u escape (4 hex digits needed)");
    p += 6;
    if (cp >= 0xdc00 && cp <= 0xdfff)
        return jerr_at(j, p - 6, "unpaired low surrogate in a \\u escape");
    if (cp >= 0xd800 && cp <= 0xdbff) {
        int lo = (j->end - p >= 6 && p[0] == '\\' && p[1] == 'u') ? hex4(p + 2, j->end) : -1;
        if (lo < 0xdc00 || lo > 0xdfff)
            return jerr_at(j, p - 6, "unpaired high surrogate in a \\u escape");
        cp = 0x10000 + ((cp - 0xd800) << 10) + (lo - 0xdc00);
        p += 6;
    }
    char u[4];
    append(buf, cap, n, u, utf8_encode((uint32_t)cp, u));
    *pp = p;
    return TQ_OK;
}

/* The string whose opening quote is at j->p, unescaped into buf (the first cap bytes);
 * *outn is its full unescaped length.  Leaves j->p after the closing quote. */
static int scan_string(jp *j, char *buf, size_t cap, size_t *outn)
{
    const char *p = j->p + 1, *end = j->end;
    size_t n = 0;
    for (;;) {
        const char *run = p;
        while (p < end && (unsigned char)*p >= 0x20 && (unsigned char)*p < 0x80 && *p != '"' &&
               *p != '\\')
            p++;
        append(buf, cap, &n, run, (size_t)(p - run));
        if (p >= end)
            return jerr_at(j, p, "unterminated string");
        unsigned char c = (unsigned char)*p;
        if (c == '"')
            break;
        if (c == '\\') {
            if (end - p < 2)
                return jerr_at(j, p, "unterminated string");
            char e = p[1], ch;
            switch (e) {
            case '"': ch = '"'; break;
            case '\\': ch = '\\'; break;
            case '/': ch = '/'; break;
            case 'b': ch = '\b'; break;
            case 'f': ch = '\f'; break;
            case 'n': ch = '\n'; break;
            case 'r': ch = '\r'; break;
            case 't': ch = '\t'; break;
            case 'u': {
                int rc = scan_u_escape(j, &p, buf, cap, &n);
                if (rc != TQ_OK)
                    return rc;
                continue;
            }
            default:
                return jerr_at(j, p, "invalid escape in a string");
            }
            append(buf, cap, &n, &ch, 1);
            p += 2;
        } else if (c < 0x20) {
            return jerr_at(j, p, "control character in a string (it must be escaped)");
        } else {
            size_t bad, k = tq_utf8_len((const unsigned char *)p, (size_t)(end - p), &bad);
            if (k == 0)
                return jerr_at(j, p, "invalid UTF-8 in a string");
            append(buf, cap, &n, p, k);
            p += k;
        }
    }
    j->p = p + 1;
    *outn = n;
    return TQ_OK;
}

/* JSON number grammar, except that leading zeros are let through here so that an
 * integer field can refuse "01" by name rather than as malformed JSON. */
static int digit_run(jp *j, const char **pp, const char *what);

static int scan_number(jp *j)
{
    const char *p = j->p, *end = j->end;
    int rc;
    if (*p == '-')
        p++;
    if ((rc = digit_run(j, &p, "a digit")) != TQ_OK)
        return rc;
    if (p < end && *p == '.') {
        p++;
        if ((rc = digit_run(j, &p, "a digit after '.'")) != TQ_OK)
            return rc;
    }
    if (p < end && (*p == 'e' || *p == 'E')) {
        p++;
        if (p < end && (*p == '+' || *p == '-'))
            p++;
        if ((rc = digit_run(j, &p, "a digit in the exponent")) != TQ_OK)
            return rc;
    }
    j->p = p;
    return TQ_OK;
}

/* digit_run() - one or more digits at *pp, which moves past them; otherwise
 * "expected WHAT" at the first byte that is not one. */
static int digit_run(jp *j, const char **pp, const char *what)
{
    const char *p = *pp;
    if (p >= j->end || !is_digit(*p)) {
        j->p = p;
        return jexpect(j, what);
    }
    while (p < j->end && is_digit(*p))
        p++;
    *pp = p;
    return TQ_OK;
}

static int scan_literal(jp *j)
{
    static const char *const lits[] = {"true", "false", "null"};
    for (size_t i = 0; i < 3; i++) {
        size_t n = strlen(lits[i]);
        if ((size_t)(j->end - j->p) >= n && memcmp(j->p, lits[i], n) == 0) {
            j->p += n;
            return TQ_OK;
        }
    }
    return jexpect(j, "a value");
}

/* key_colon() - a string key at j->p (kept in buf when buf is not NULL), the ':' and
 * the whitespace around it. */
static int key_colon(jp *j, char *buf, size_t cap, size_t *klen)
{
    if (j->p >= j->end || *j->p != '"')
        return jexpect(j, "a string key");
    int rc = scan_string(j, buf, cap, klen);
    if (rc != TQ_OK)
        return rc;
    skip_ws(j);
    if (j->p >= j->end || *j->p != ':')
        return jexpect(j, "':'");
    j->p++;
    skip_ws(j);
    return TQ_OK;
}

/* A key for the skipper: checked, not kept. */
static int skip_key(jp *j)
{
    size_t n;
    return key_colon(j, NULL, 0, &n);
}

static int member_end(jp *j, char close, bool *done);

static int skip_scalar(jp *j)
{
    size_t n;
    if (j->p >= j->end)
        return jexpect(j, "a value");
    char c = *j->p;
    if (c == '"')
        return scan_string(j, NULL, 0, &n);
    if (c == '-' || is_digit(c))
        return scan_number(j);
    return scan_literal(j);
}

/* Steps over the object or array at j->p without recursion: bit i of is_obj says
 * whether nesting level i is an object (closed by '}', keys before values). */
static int skip_container(jp *j)
{
    uint64_t is_obj = 0;
    int depth = 0, rc;
    for (;;) {
        bool closed = false;
        char c = j->p < j->end ? *j->p : 0;
        if (c == '{' || c == '[') {
            if (depth == SKIP_DEPTH)
                return jerr_at(j, j->p, "nesting deeper than 64 levels");
            if (c == '{')
                is_obj |= 1ull << depth;
            else
                is_obj &= ~(1ull << depth);
            depth++;
            if (open_container(j, c == '{' ? '}' : ']')) {
                depth--;
                closed = true;
            } else if (c == '{' && (rc = skip_key(j)) != TQ_OK) {
                return rc;
            }
        } else if ((rc = skip_scalar(j)) != TQ_OK) {
            return rc;
        } else {
            closed = true;
        }
        if (!closed)
            continue;   /* at the first value of a new container */
        /* A value ended: close containers until one has a next member. */
        for (;;) {
            if (depth == 0)
                return TQ_OK;
            bool obj = (is_obj >> (depth - 1)) & 1, done;
            if ((rc = member_end(j, obj ? '}' : ']', &done)) != TQ_OK)
                return rc;
            if (done) {
                depth--;
                continue;
            }
            if (obj && (rc = skip_key(j)) != TQ_OK)
                return rc;
            break;
        }
    }
}

/* Any value at j->p; strings are unescaped into vbuf, containers skipped. */
static int scan_value(jp *j, jval *v)
{
    int rc;
    memset(v, 0, sizeof *v);
    v->raw = j->p;
    if (j->p >= j->end)
        return jexpect(j, "a value");
    char c = *j->p;
    if (c == '"') {
        v->type = JV_STR;
        rc = scan_string(j, j->vbuf, sizeof j->vbuf, &v->n);
        v->s = j->vbuf;
        v->stored = v->n < sizeof j->vbuf ? v->n : sizeof j->vbuf;
    } else if (c == '-' || is_digit(c)) {
        v->type = JV_NUM;
        rc = scan_number(j);
    } else if (c == '{' || c == '[') {
        v->type = c == '{' ? JV_OBJ : JV_ARR;
        rc = skip_container(j);
    } else {
        v->type = JV_LIT;
        rc = scan_literal(j);
    }
    v->rawn = (size_t)(j->p - v->raw);
    return rc;
}

/* ---------------------------------------------------------------- values */

/* An integer field: a JSON number that is an integer written plainly, in lo..hi. */
static bool get_int(jp *j, const char *field, const jval *v, uint64_t lo, uint64_t hi,
                    uint64_t *out)
{
    char got[QCAP + 32];
    if (v->type != JV_NUM) {
        vfail(j, field, "must be an integer in %llu..%llu, got %s", (unsigned long long)lo,
              (unsigned long long)hi, describe(v, false, got, sizeof got));
        return false;
    }
    const char *s = v->raw;
    size_t n = v->rawn;
    bool neg = s[0] == '-';
    bool plain = n > (size_t)neg;
    for (size_t i = neg; i < n; i++)
        plain = plain && is_digit(s[i]);
    /* "01" and "-0" denote integers but are not how anyone writes one: a producer
     * that emits them is broken, and SPEC §7 wants integers written as integers. */
    if (!plain || (n - neg > 1 && s[neg] == '0') || (neg && s[1] == '0')) {
        vfail(j, field, "must be an integer in %llu..%llu, got %s", (unsigned long long)lo,
              (unsigned long long)hi, describe(v, false, got, sizeof got));
        return false;
    }
    if (neg || tq_parse_u64(s, n, hi, out) != TQ_OK || *out < lo) {
        vfail(j, field, "must be in %llu..%llu, got %s", (unsigned long long)lo,
              (unsigned long long)hi, describe(v, false, got, sizeof got));
        return false;
    }
    return true;
}

/* A string field: true when v is a string at all.  Callers then check whole(v) (or a
 * length bound below the scratch size) before reading v->n bytes: every string an event
 * holds fits the scratch buffer, so one that did not fit is wrong whatever it says. */
static void bad_str(jp *j, const char *field, const jval *v, const char *must)
{
    char got[QCAP + 32];
    vfail(j, field, "%s, got %s", must, describe(v, true, got, sizeof got));
}

static bool get_str(jp *j, const char *field, const jval *v, const char *must)
{
    if (v->type == JV_STR)
        return true;
    bad_str(j, field, v, must);
    return false;
}

static bool whole(const jval *v)
{
    return v->n <= v->stored;
}

static void copy_str(char *dst, const jval *v)
{
    memcpy(dst, v->s, v->n);
    dst[v->n] = '\0';
}

/* code_chars() - n of [A-Z0-9], the first a letter (a declaration kind: "A11"). */
static bool code_chars(const char *s, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        char c = s[i];
        bool upper = c >= 'A' && c <= 'Z';
        if (!(upper || (is_digit(c) && i > 0)))
            return false;
    }
    return true;
}

static bool printable_ascii(const char *s, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if ((unsigned char)s[i] < 0x20 || (unsigned char)s[i] > 0x7e)
            return false;
    return true;
}

/* take_str() - a string field kept whole and passing ok(): copied into dst; anything
 * else is refused with `must`.  Every plain string field of an event goes through here. */
static void take_str(jp *j, const char *field, const jval *v, const char *must,
                     int (*ok)(const char *s, size_t n), char *dst)
{
    if (!get_str(j, field, v, must))
        return;
    if (whole(v) && ok(v->s, v->n))
        copy_str(dst, v);
    else
        bad_str(j, field, v, must);
}

static int valid_kind(const char *s, size_t n)
{
    return n == 3 && code_chars(s, 3);
}

static int valid_officer(const char *s, size_t n)
{
    return n >= 1 && n <= TQ_OFFICER_MAX && printable_ascii(s, n);
}

static void get_timestamp(jp *j, const char *field, const jval *v, char *text,
                          tq_instant *out)
{
    static const char *must = "must be a timestamp YYYY-MM-DDTHH:MM:SS[.fraction](Z|+HH:MM)";
    if (!get_str(j, field, v, must))
        return;
    tq_instant t;
    tq_diag td;
    if (!whole(v) || tq_time_parse(v->s, v->n, &t, &td) != TQ_OK) {
        char got[QCAP + 32];
        vfail(j, field, "%s (%s), got %s", must,
              whole(v) ? td.why : "too long", describe(v, true, got, sizeof got));
        return;
    }
    copy_str(text, v);   /* tq_time_parse accepted at most TQ_TS_MAX bytes */
    if (out != NULL)
        *out = t;
}

static void get_kind(jp *j, const jval *v)
{
    for (int k = TQ_EV_DECL; k <= TQ_EV_CANCEL; k++) {
        const char *name = tq_ev_kind_name(k);
        if (v->type == JV_STR && v->n == strlen(name) && memcmp(v->s, name, v->n) == 0) {
            j->kind = k;
            return;
        }
    }
    describe(v, true, j->ev_got, sizeof j->ev_got);
}

/* The text fields taken as they are once their validator accepts them: one row each,
 * so that adding one is a line here and its key in kind_keys. */
static const struct text_field {
    int key;
    const char *must;
    int (*ok)(const char *s, size_t n);
    size_t off;             /* of the char array in tq_event */
} text_fields[] = {
    {K_DECL_NO, "must be 12 ASCII digits, first digit not 0", tq_valid_decl_no,
     offsetof(tq_event, decl_no)},
    {K_KIND, "must be a declaration type code [A-Z][0-9A-Z]{2}", valid_kind,
     offsetof(tq_event, kind)},
    {K_OFFICE, "must be a customs office code [0-9A-Z]{4}", tq_valid_office,
     offsetof(tq_event, office)},
    {K_DECLARANT, "must be a taxpayer id of 10 or 13 ASCII digits", tq_valid_taxid,
     offsetof(tq_event, declarant)},
    {K_OFFICER, "must be 1..64 printable ASCII characters", valid_officer,
     offsetof(tq_event, officer)},
};

static void apply(jp *j, int key, const jval *v)
{
    tq_event *ev = j->ev;
    uint64_t x;
    const char *f = key_name[key].s;
    for (size_t i = 0; i < sizeof text_fields / sizeof text_fields[0]; i++) {
        const struct text_field *t = &text_fields[i];
        if (t->key == key) {
            take_str(j, f, v, t->must, t->ok, (char *)ev + t->off);
            return;
        }
    }
    switch (key) {
    case K_SEQ:
        if (get_int(j, f, v, 1, UINT64_MAX, &x) && x != j->seq)
            vfail(j, f, "must equal the event's position in the journal (%llu), got %llu",
                  (unsigned long long)j->seq, (unsigned long long)x);
        break;
    case K_EV:
        get_kind(j, v);
        break;
    case K_REGISTERED_AT:
        get_timestamp(j, f, v, ev->registered_at, &ev->registered);
        break;
    case K_CLEARED_AT:
        get_timestamp(j, f, v, ev->cleared_at, NULL);
        break;
    case K_CHANNEL:
        if (get_int(j, f, v, 1, 3, &x))
            ev->channel = (uint8_t)x;
        break;
    case K_TAX_DUE:
        if (get_int(j, f, v, 0, TQ_MONEY_MAX, &x))
            ev->tax_due = x;
        break;
    case K_LINES: {
        /* an array is handled by parse_lines; reaching here means it was not one */
        char got[QCAP + 32];
        vfail(j, f, "must be an array of 1..%d line objects, got %s", TQ_LINES_MAX,
              describe(v, true, got, sizeof got));
        break;
    }
    case K_RESULT: {
        static const char *must = "must be DOCS_OK, INSPECT_OK or REJECT";
        if (get_str(j, f, v, must)) {
            for (int r = TQ_OFFICER_DOCS_OK; r <= TQ_OFFICER_REJECT; r++) {
                const char *name = tq_officer_result_name(r);
                if (v->n == strlen(name) && memcmp(v->s, name, v->n) == 0)
                    ev->result = (uint8_t)r;
            }
            if (ev->result == 0)
                bad_str(j, f, v, must);
        }
        break;
    }
    }
}

/* ---------------------------------------------------------------- lines */

static void apply_line(jp *j, tq_line *ln, int key, const char *field, const jval *v)
{
    uint64_t x;
    switch (key) {
    case L_HS:
        take_str(j, field, v, "must be an HS code of 8 ASCII digits",
                 tq_valid_hs, ln->hs);
        break;
    case L_QTY:
        if (get_int(j, field, v, 1, TQ_QTY_MAX, &x))
            ln->qty = x;
        break;
    case L_VALUE:
        if (get_int(j, field, v, 0, TQ_MONEY_MAX, &x))
            ln->value = x;
        break;
    case L_PERMIT:
        take_str(j, field, v, "must be a permit number of 1..32 characters [A-Za-z0-9./_-]",
                 tq_valid_permit_no, ln->permit);
        break;
    }
}

/* "lines[IDX].KEY" into a field buffer, without printf: it is built for every member
 * of every line, on the hot path, in case that member turns out to be wrong. */
static void line_field(char out[40], size_t idx, const char *key, size_t n)
{
    size_t o = 0;
    memcpy(out, "lines[", 6);
    o = 6;
    if (idx >= 10)
        out[o++] = (char)('0' + idx / 10 % 10);
    out[o++] = (char)('0' + idx % 10);   /* idx < TQ_LINES_MAX */
    out[o++] = ']';
    if (key != NULL) {
        out[o++] = '.';
        if (n > 40 - 1 - o)
            n = 40 - 1 - o;
        memcpy(out + o, key, n);
        o += n;
    }
    out[o] = '\0';
}

/* Reads '"key"' ':' and the whitespace after it; the key unescaped into kbuf. */
static int scan_key(jp *j, size_t *klen)
{
    return key_colon(j, j->kbuf, sizeof j->kbuf, klen);
}

/* After a member: ',' (and the next key's start) or the closing bracket. */
static int member_end(jp *j, char close, bool *done)
{
    skip_ws(j);
    if (j->p < j->end && *j->p == ',') {
        j->p++;
        skip_ws(j);
        *done = false;
        return TQ_OK;
    }
    if (j->p < j->end && *j->p == close) {
        j->p++;
        *done = true;
        return TQ_OK;
    }
    return jexpect(j, close == '}' ? "',' or '}'" : "',' or ']'");
}

/* One line object at j->p (a '{'), into ev->lines[idx]. */
static int parse_line(jp *j, size_t idx)
{
    tq_line *ln = &j->ev->lines[idx];
    unsigned seen = 0;
    char field[40];
    bool done = open_container(j, '}');
    int rc;
    while (!done) {
        size_t klen;
        jval v;
        if ((rc = scan_key(j, &klen)) != TQ_OK || (rc = scan_value(j, &v)) != TQ_OK)
            return rc;
        size_t kshown = klen < sizeof j->kbuf ? klen : sizeof j->kbuf;
            int key = kshown == klen ? lookup(line_key_name, L_COUNT, j->kbuf, klen) : -1;
        if (key < 0) {
            char q[QCAP];
            const char *k = key_shown(j->kbuf, kshown, q);
            line_field(field, idx, k, strlen(k));
            vfail(j, field, "unknown field in a line (known: hs, qty, value, permit)");
        } else {
            line_field(field, idx, line_key_name[key].s, line_key_name[key].n);
            if (seen & (1u << key))
                vfail(j, field, "duplicate key");
            else {
                seen |= 1u << key;
                apply_line(j, ln, key, field, &v);
            }
        }
        if ((rc = member_end(j, '}', &done)) != TQ_OK)
            return rc;
    }
    for (int k = L_HS; k <= L_VALUE; k++) {
        if (!(seen & (1u << k))) {
            line_field(field, idx, line_key_name[k].s, line_key_name[k].n);
            vfail(j, field, "missing");
        }
    }
    return TQ_OK;
}

/* The "lines" array at j->p (a '[').  Elements past the 50th are only checked for
 * syntax: the count is what is wrong with them. */
static int parse_lines(jp *j)
{
    size_t count = 0;
    bool done = open_container(j, ']');
    int rc;
    while (!done) {
        if (count < TQ_LINES_MAX && j->p < j->end && *j->p == '{') {
            rc = parse_line(j, count);
        } else {
            jval v;
            rc = scan_value(j, &v);
            if (rc == TQ_OK && count < TQ_LINES_MAX) {
                char field[40], got[QCAP + 32];
                line_field(field, count, NULL, 0);
                vfail(j, field, "must be a line object, got %s",
                      describe(&v, true, got, sizeof got));
            }
        }
        if (rc != TQ_OK)
            return rc;
        count++;
        if ((rc = member_end(j, ']', &done)) != TQ_OK)
            return rc;
    }
    if (count < 1 || count > TQ_LINES_MAX)
        vfail(j, "lines", "must have 1..%d lines, got %zu", TQ_LINES_MAX, count);
    j->ev->nlines = (uint16_t)(count < TQ_LINES_MAX ? count : TQ_LINES_MAX);
    return TQ_OK;
}

/* ---------------------------------------------------------------- the event */

static int parse_member(jp *j, size_t klen)
{
    uint32_t ord = ++j->nkeys;
    int key = klen <= sizeof j->kbuf ? lookup(key_name, K_COUNT, j->kbuf, klen) : -1;
    jval v;
    if (key < 0) {
        if (j->unknown_pos == 0) {
            j->unknown_pos = ord;
            j->unknown_len = klen;
            memcpy(j->unknown_name, j->kbuf,
                   klen < sizeof j->unknown_name ? klen : sizeof j->unknown_name);
        }
        return scan_value(j, &v);
    }
    if (j->pos[key] != 0) {
        if (j->dup_pos == 0) {
            j->dup_pos = ord;
            j->dup_key = key;
        }
        return scan_value(j, &v);
    }
    j->pos[key] = ord;
    if (key == K_LINES && j->p < j->end && *j->p == '[')
        return parse_lines(j);
    int rc = scan_value(j, &v);
    if (rc == TQ_OK)
        apply(j, key, &v);
    return rc;
}

/* The whole line as one object; only syntax errors are returned from here. */
static int parse_object(jp *j)
{
    int rc;
    bool done = false;
    skip_ws(j);
    if (j->p >= j->end)
        return tq_diag_set(j->d, "(line)", "blank line");
    if (*j->p != '{')
        return jexpect(j, "'{' (an event is a JSON object)");
    done = open_container(j, '}');
    while (!done) {
        size_t klen;
        if ((rc = scan_key(j, &klen)) != TQ_OK || (rc = parse_member(j, klen)) != TQ_OK ||
            (rc = member_end(j, '}', &done)) != TQ_OK)
            return rc;
    }
    while (j->p < j->end && (*j->p == ' ' || *j->p == '\t' || *j->p == '\n'))
        j->p++;
    if (j->p < j->end && *j->p == '\r')
        return jerr_at(j, j->p, "carriage return after the object (CRLF line endings "
                                "are not accepted)");
    if (j->p < j->end)
        return jerr_at(j, j->p, "unexpected data after the closing '}'");
    return TQ_OK;
}

static const char *article(int kind)
{
    return kind == TQ_EV_AMEND || kind == TQ_EV_OFFICER ? "an" : "a";
}

/* The leftmost key that is a duplicate, an unknown name, or a known key the kind does
 * not allow.  Ordinals are distinct, so "leftmost" is never a tie. */
static int check_keys(jp *j)
{
    enum { NONE, DUP, UNKNOWN, NOT_ALLOWED } what = NONE;
    uint32_t best = UINT32_MAX;
    int best_key = -1;
    uint16_t allowed = kind_keys[j->kind].allowed;
    for (int k = 0; k < K_COUNT; k++) {
        if (j->pos[k] != 0 && !(allowed & B(k)) && j->pos[k] < best) {
            best = j->pos[k];
            best_key = k;
            what = NOT_ALLOWED;
        }
    }
    if (j->unknown_pos != 0 && j->unknown_pos < best) {
        best = j->unknown_pos;
        what = UNKNOWN;
    }
    if (j->dup_pos != 0 && j->dup_pos < best)
        what = DUP;
    const char *kname = tq_ev_kind_name(j->kind);
    switch (what) {
    case DUP:
        return tq_diag_set(j->d, key_name[j->dup_key].s, "duplicate key");
    case UNKNOWN: {
        char q[QCAP];
        size_t n = j->unknown_len < sizeof j->unknown_name ? j->unknown_len
                                                           : sizeof j->unknown_name;
        return tq_diag_set(j->d, key_shown(j->unknown_name, n, q),
                           "unknown field for %s %s event", article(j->kind), kname);
    }
    case NOT_ALLOWED:
        return tq_diag_set(j->d, key_name[best_key].s, "unknown field for %s %s event",
                           article(j->kind), kname);
    case NONE:
        break;
    }
    return TQ_OK;
}

static int check_event(jp *j)
{
    tq_event *ev = j->ev;
    if (j->pos[K_EV] == 0)
        return tq_diag_set(j->d, "ev", "missing");
    if (j->kind == 0)
        return tq_diag_set(j->d, "ev",
                           "must be one of DECL, AMEND, OFFICER, MANUAL_CLEAR, CANCEL; got %s",
                           j->ev_got);
    int rc = check_keys(j);
    if (rc != TQ_OK)
        return rc;
    if (j->verr) {
        if (j->d != NULL) {
            memcpy(j->d->field, j->vd.field, sizeof j->d->field);
            memcpy(j->d->why, j->vd.why, sizeof j->d->why);
        }
        return TQ_ERR_INPUT;
    }
    uint16_t required = kind_keys[j->kind].required;
    for (int k = 0; k < K_COUNT; k++)
        if ((required & B(k)) && j->pos[k] == 0)
            return tq_diag_set(j->d, key_name[k].s, "missing");
    if (j->kind == TQ_EV_AMEND && j->pos[K_TAX_DUE] == 0 && j->pos[K_LINES] == 0)
        return tq_diag_set(j->d, "tax_due", "an AMEND needs tax_due and/or lines");
    ev->ev = (uint8_t)j->kind;
    if (j->pos[K_TAX_DUE])
        ev->has |= TQ_HAS_TAX_DUE;
    if (j->pos[K_LINES])
        ev->has |= TQ_HAS_LINES;
    if (j->pos[K_SEQ])
        ev->has |= TQ_HAS_SEQ;
    return TQ_OK;
}

int tq_ndjson_parse_event(const char *line, size_t len, uint64_t seq, tq_event *ev,
                          tq_diag *d)
{
    jp j;
    if (line == NULL)
        line = "";   /* len is then 0: a blank line, not a null-pointer offset */
    memset(&j, 0, offsetof(jp, vd));
    j.start = j.p = line;
    j.end = line + len;
    j.d = d;
    j.ev = ev;
    j.seq = seq;
    /* Cleared whole so that two parses of one line give byte-identical structs, which
     * whoever stores or hashes them may rely on. */
    memset(ev, 0, sizeof *ev);
    ev->seq = seq;
    int rc = parse_object(&j);
    if (rc != TQ_OK)
        return rc;
    return check_event(&j);
}

/* ---------------------------------------------------------------- formatting */

/* A JSON string: quote, backslash and control bytes escaped; everything else as is
 * (the parser only ever stores valid UTF-8). */
static void put_str(tq_wbuf *w, const char *s, size_t n)
{
    static const char hex[] = "0123456789abcdef";
    tq_wbuf_put(w, "\"", 1);
    size_t run = 0;
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c >= 0x20 && c != '"' && c != '\\')
            continue;
        tq_wbuf_put(w, s + run, i - run);
        run = i + 1;
        if (c == '"' || c == '\\') {
            char e[2] = {'\\', (char)c};
            tq_wbuf_put(w, e, 2);
        } else {
            char e[6] = {'\\', 'u', '0', '0', hex[c >> 4], hex[c & 15]};
            tq_wbuf_put(w, e, 6);
        }
    }
    tq_wbuf_put(w, s + run, n - run);
    tq_wbuf_put(w, "\"", 1);
}

/* A fixed-size member; strnlen so that one without its NUL cannot be overrun. */
#define PUT_MEMBER(w, arr) put_str((w), (arr), strnlen((arr), sizeof(arr)))

/* ,"key": for a literal key, with its length known at compile time */
#define PUT_KEY(w, lit) tq_wbuf_put((w), ",\"" lit "\":", sizeof(lit) + 3)

/* ,"key":"member" for a text member */
#define PUT_TEXT(w, lit, arr) (PUT_KEY(w, lit), PUT_MEMBER(w, arr))

static void put_lines(tq_wbuf *w, const tq_event *ev)
{
    unsigned n = ev->nlines < TQ_LINES_MAX ? ev->nlines : TQ_LINES_MAX;
    PUT_KEY(w, "lines");
    tq_wbuf_put(w, "[", 1);
    for (unsigned i = 0; i < n; i++) {
        const tq_line *ln = &ev->lines[i];
        tq_wbuf_str(w, i == 0 ? "{\"hs\":" : ",{\"hs\":");
        PUT_MEMBER(w, ln->hs);
        PUT_KEY(w, "qty");
        tq_wbuf_u64(w, ln->qty);
        PUT_KEY(w, "value");
        tq_wbuf_u64(w, ln->value);
        if (ln->permit[0] != '\0') {
            PUT_TEXT(w, "permit", ln->permit);
        }
        tq_wbuf_put(w, "}", 1);
    }
    tq_wbuf_put(w, "]", 1);
}

size_t tq_ndjson_format_event(const tq_event *ev, int with_seq, char *out, size_t cap)
{
    tq_wbuf w = {out, cap, 0};
    const char *kind = tq_ev_kind_name(ev->ev);
    tq_wbuf_put(&w, "{", 1);
    if (with_seq) {
        tq_wbuf_str(&w, "\"seq\":");
        tq_wbuf_u64(&w, ev->seq);
        tq_wbuf_put(&w, ",", 1);
    }
    tq_wbuf_str(&w, "\"ev\":");
    put_str(&w, kind ? kind : "?", strlen(kind ? kind : "?"));
    PUT_TEXT(&w, "decl_no", ev->decl_no);
    switch (ev->ev) {
    case TQ_EV_DECL:
        PUT_TEXT(&w, "kind", ev->kind);
        PUT_TEXT(&w, "office", ev->office);
        PUT_TEXT(&w, "declarant", ev->declarant);
        PUT_TEXT(&w, "registered_at", ev->registered_at);
        PUT_KEY(&w, "channel");
        tq_wbuf_u64(&w, ev->channel);
        PUT_KEY(&w, "tax_due");
        tq_wbuf_u64(&w, ev->tax_due);
        put_lines(&w, ev);
        break;
    case TQ_EV_AMEND:
        if (ev->has & TQ_HAS_TAX_DUE) {
            PUT_KEY(&w, "tax_due");
            tq_wbuf_u64(&w, ev->tax_due);
        }
        if (ev->has & TQ_HAS_LINES)
            put_lines(&w, ev);
        break;
    case TQ_EV_OFFICER: {
        const char *r = tq_officer_result_name(ev->result);
        PUT_KEY(&w, "result");
        put_str(&w, r ? r : "?", strlen(r ? r : "?"));
        PUT_TEXT(&w, "officer", ev->officer);
        break;
    }
    case TQ_EV_MANUAL_CLEAR:
        PUT_TEXT(&w, "officer", ev->officer);
        PUT_TEXT(&w, "cleared_at", ev->cleared_at);
        break;
    default:
        break;
    }
    tq_wbuf_put(&w, "}\n", 2);
    if (cap > 0)
        out[w.len < cap ? w.len : cap - 1] = '\0';
    return w.len;
}

/* ---------------------------------------------------------------- line reader */

#define LR_INITIAL_CAP 4096

int tq_linereader_init(tq_linereader *r, FILE *fp, size_t max)
{
    memset(r, 0, sizeof *r);
    r->fp = fp;
    r->max = max;
    /* Room for max bytes and a NUL, but start small: most lines are short. */
    r->cap = max < LR_INITIAL_CAP ? max + 1 : LR_INITIAL_CAP;
    r->buf = malloc(r->cap);
    if (r->buf == NULL) {
        r->cap = 0;
        return TQ_ERR_NOMEM;
    }
    return TQ_OK;
}

/* Makes room for one more byte and the NUL after it, never beyond max + 1. */
static int lr_grow(tq_linereader *r)
{
    size_t want = r->cap > SIZE_MAX / 2 ? SIZE_MAX : r->cap * 2;
    if (r->max < SIZE_MAX && want > r->max + 1)
        want = r->max + 1;
    char *nb = realloc(r->buf, want);
    if (nb == NULL)
        return TQ_ERR_NOMEM;
    r->buf = nb;
    r->cap = want;
    return TQ_OK;
}

int tq_linereader_next(tq_linereader *r, const char **line, size_t *len)
{
    size_t n = 0;
    int c, rc = TQ_OK;
    if (r->buf == NULL)
        return TQ_ERR_NOMEM;
    flockfile(r->fp);
    for (;;) {
        c = getc_unlocked(r->fp);
        if (c == EOF || c == '\n')
            break;
        if (n == r->max) {
            /* Step over the rest of the line without keeping it, so that a caller
             * that reports and goes on resumes at the next line. */
            while (c != EOF && c != '\n')
                c = getc_unlocked(r->fp);
            r->lineno++;
            rc = ferror(r->fp) ? TQ_ERR_IO : TQ_ERR_LIMIT;
            goto out;
        }
        if (n + 1 >= r->cap && (rc = lr_grow(r)) != TQ_OK)
            goto out;
        r->buf[n++] = (char)c;
    }
    if (c == EOF) {
        if (ferror(r->fp)) {
            rc = TQ_ERR_IO;
            goto out;
        }
        if (n == 0) {
            rc = TQ_ERR_EOF;
            goto out;
        }
    }
    r->missing_final_newline = c == EOF;
    r->buf[n] = '\0';
    r->len = n;
    r->lineno++;
    *line = r->buf;
    *len = n;
out:
    funlockfile(r->fp);
    return rc;
}

void tq_linereader_release(tq_linereader *r)
{
    if (r == NULL)
        return;
    free(r->buf);
    r->buf = NULL;
    r->cap = r->len = 0;
}
