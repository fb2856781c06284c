/* tq_pack.h - NDJSON events into a journal: the work behind `thongquan journal pack`.
 *
 * Every line is checked strictly (tq_ndjson_parse_event, SPEC §2.1) and the good events
 * are written with a journal writer (tq_journal_create or tq_journal_append), which holds
 * the journal's lock for the whole run.  All or nothing: when anything fails (a bad line
 * in strict mode, the reject file, the disk, a signal) the journal is left exactly as it
 * was, and no temporary file remains.
 *
 * Numbering.  A rejected line is named by its line number only (d->line; d->seq is 0),
 * in both modes: a rejected line never gets a seq, because it never enters the journal.
 * The seq a line is checked against (a "seq" key must equal its position) is the one it
 * would take: in strict mode every line holds a position (the file is meant to be packed
 * whole), with a reject file the next seq of the journal.
 *
 * Reject file.  With opts->reject, each bad line is written to it whole, in input order,
 * followed by '\n' -- a line over line_max too: its bytes are streamed into the reject
 * file as they are read, so memory stays bounded by line_max.  The reject file is written
 * through tq_out (temp, fsync, rename; a stream for "-" or a device) and is committed
 * before the journal; if it cannot be written, the journal is not committed.
 *
 * Threads: one call runs on the calling thread; the callbacks are called on it.
 */
#ifndef TQ_PACK_H
#define TQ_PACK_H

#include <stdint.h>
#include <stdio.h>

#include "tq_error.h"
#include "tq_journal.h"

#define TQ_PACK_LINE_MAX (1u << 20)   /* longest NDJSON line parsed (the parser's limit) */

typedef struct tq_pack_opts {
    FILE *in;                    /* the events, read to its end (borrowed) */
    const char *out;             /* the journal path ("-" or a device: a stream) */
    int append;                  /* extend out, continuing its seq, instead of creating */
    int force;                   /* create: replace an existing journal (else EXISTS) */
    const char *reject;          /* NULL: strict; else the file for the bad lines */
    size_t line_max;             /* 0: TQ_PACK_LINE_MAX */
    size_t frame_bytes;          /* 0: the default */
    int level;                   /* zstd level, 0: the default */
    const char *command;         /* the lock's holder text (NULL: a default) */
    const volatile int *stop;    /* may be NULL; non-zero: stop and undo */
    /* on_bad(): one call per rejected line, in order (d->line set, d->seq 0); may be
     * NULL.  on_progress(): every 4096 packed events, with the input offset when known
     * (else 0); may be NULL. */
    void (*on_bad)(void *ctx, const tq_diag *d);
    void (*on_progress)(void *ctx, uint64_t events, uint64_t in_bytes);
    void *ctx;
} tq_pack_opts;

typedef struct tq_pack_stats {
    uint64_t lines;              /* lines read */
    uint64_t events;             /* events packed (0 when nothing was committed) */
    uint64_t bad;                /* lines rejected */
    uint64_t first_seq, last_seq;/* seq range packed (0, 0 when none) */
    tq_lock_holder holder;       /* who holds the journal, on TQ_ERR_BUSY */
} tq_pack_stats;

/* tq_journal_pack() - pack o->in into o->out as described above.
 * @return TQ_OK: committed (with a reject file, st->bad lines were rejected);
 *         TQ_ERR_INPUT: strict mode and st->bad > 0 bad lines: nothing written;
 *         TQ_ERR_BUSY (st->holder), TQ_ERR_EXISTS (create without force),
 *         TQ_ERR_NOTFOUND (append to a missing journal), TQ_ERR_CORRUPT / TORN /
 *         VERSION / LIMIT (append to a journal that does not read to its end),
 *         TQ_ERR_IO, TQ_ERR_FULL, TQ_ERR_PERM, TQ_ERR_INTERRUPTED, TQ_ERR_NOMEM:
 *         nothing committed.  d (may be NULL) says why; its field names the file at
 *         fault: "(input)", "(output)"/"(journal)"/"(header)"/"(frame)" for the journal,
 *         "(lock)", "(reject)". */
TQ_MUST_USE int tq_journal_pack(const tq_pack_opts *o, tq_pack_stats *st, tq_diag *d);

#endif
