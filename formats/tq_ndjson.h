/* tq_ndjson.h - strict NDJSON codec for journal events (SPEC §2.1, §7).
 *
 * The parser accepts exactly one JSON object per line and checks every field: the
 * allowed keys for each event kind, no duplicate keys (compared after unescaping), no
 * unknown keys, integers that are integers (no 1.0, no "1", no true, no leading '+',
 * no leading zeros), every string against its format.  JSON whitespace between tokens
 * is allowed; any byte after the closing brace other than whitespace is an error.
 * It never reads past len and never writes past the event struct.
 *
 * Errors are reported in a tq_diag: field is the offending key (or "(json)" when the
 * text is not well-formed JSON, "ev" for an unknown kind, the unknown key's name for an
 * unknown field) and why quotes the bad value, as in
 *   field 'channel': must be in 1..3, got 4
 *   field 'note': unknown field for a DECL event
 *   field 'tax_due': an AMEND needs tax_due and/or lines
 *
 * Threads: the parser and the formatter are pure (no state, no allocation): any thread.
 * A tq_linereader is used by one thread at a time.
 */
#ifndef TQ_NDJSON_H
#define TQ_NDJSON_H

#include <stddef.h>
#include <stdio.h>

#include "tq_error.h"
#include "tq_event.h"

/* tq_ndjson_parse_event() - parse one line (without its '\n'; a trailing '\r' is an
 * error) into ev.  seq is the position the event will have in its journal: ev->seq is
 * set to it, and a "seq" key in the line must equal it.
 * @return TQ_OK, or TQ_ERR_INPUT with d->field and d->why filled (d->line/seq untouched;
 *         the caller knows them).  ev is unspecified after an error.  line and d are
 *         borrowed for the call; nothing in ev points into line. */
TQ_MUST_USE int tq_ndjson_parse_event(const char *line, size_t len, uint64_t seq, tq_event *ev,
                          tq_diag *d);

/* tq_ndjson_format_event() - write ev as one NDJSON line with a trailing '\n' into out
 * (keys in the canonical order of SPEC §2.1, "seq" first when with_seq).  The output
 * parses back with tq_ndjson_parse_event() into an equal event.
 * @return the number of bytes the line needs (excluding a NUL); when that is >= cap the
 *         output is truncated and the caller retries with a larger buffer.
 *         TQ_NDJSON_LINE_MAX is always enough. */
size_t tq_ndjson_format_event(const tq_event *ev, int with_seq, char *out, size_t cap);
#define TQ_NDJSON_LINE_MAX 16384

/* tq_linereader - reads '\n'-terminated lines of any length up to a configured maximum
 * from a FILE*, with memory bounded by that maximum.  Used for NDJSON and CSV input. */
typedef struct tq_linereader {
    FILE *fp;
    char *buf;          /* owned */
    size_t cap, len;    /* allocation, current line length */
    size_t max;         /* longest line accepted */
    uint64_t lineno;    /* 1-based number of the line last returned */
    int missing_final_newline; /* the last line returned had no '\n' */
} tq_linereader;

/* tq_linereader_init() - read lines from fp (borrowed: the caller closes it after
 * tq_linereader_release()); max is the longest line accepted in bytes.  The buffer
 * grows as lines need it, never past max + 1 bytes.
 * @return TQ_OK or TQ_ERR_NOMEM (nothing to release then). */
TQ_MUST_USE int tq_linereader_init(tq_linereader *r, FILE *fp, size_t max);
/* tq_linereader_next() - *line points into r's buffer until the next call; *len excludes
 * the '\n'.  @return TQ_OK, TQ_ERR_EOF at the end, TQ_ERR_LIMIT for a line over max
 * (r->lineno names it), TQ_ERR_IO on a read error. */
TQ_MUST_USE int tq_linereader_next(tq_linereader *r, const char **line, size_t *len);

/* tq_linereader_release() - free the buffer (fp is not closed).  Safe twice and on a
 * zeroed reader. */
void tq_linereader_release(tq_linereader *r);

#endif
