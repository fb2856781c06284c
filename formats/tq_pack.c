/* tq_pack.c - NDJSON events into a journal (contract in tq_pack.h).
 *
 * The run is one loop over the input lines with two outputs that commit together: the
 * journal writer (which holds the journal's lock from open to finish and undoes itself
 * on abandon) and, with --skip-invalid, the reject file (a tq_out).  The order of the
 * end is what makes it all or nothing: the reject file is committed first, and the
 * journal only if that worked; any failure before abandons both.
 *
 * Lines are read here rather than with tq_linereader because a line over the limit must
 * still reach the reject file whole: its first line_max bytes are in the buffer when the
 * limit is hit, and those and the rest of the line are streamed to the reject file in
 * small pieces, so memory stays bounded by line_max whatever the input holds.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include "tq_pack.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "tq_ndjson.h"
#include "tq_out.h"

#define PROGRESS_EVERY 4096
#define SPILL_CHUNK 4096

typedef struct pack_run {
    const tq_pack_opts *o;
    tq_pack_stats *st;
    tq_diag *d;
    tq_journal_writer *w;
    tq_out rej;
    int have_rej;
    char *buf;              /* the current line: at most line_max bytes and a NUL */
    size_t len, max;
    int too_long;           /* the line went past max (already streamed to rej) */
    uint64_t start_seq;     /* the journal's next seq when the run began */
    tq_event ev;
} pack_run;

/* Write bytes of a bad line to the reject file.  @return TQ_OK or the error (d says). */
static int reject_write(pack_run *p, const char *s, size_t n)
{
    int rc = tq_out_write(&p->rej, s, n);
    if (rc != TQ_OK)
        tq_diag_set(p->d, "(reject)", "%s: cannot write: %s", p->o->reject, tq_strerror(rc));
    return rc;
}

/* The line has outgrown the buffer at character c: stream what is kept and the rest of
 * the line (to '\n' or EOF) into the reject file, or just step over it when there is
 * none.  @return the character that ended the line, or -2 on a write error. */
static int spill_rest(pack_run *p, FILE *in, int c)
{
    char chunk[SPILL_CHUNK];
    size_t n = 0;
    if (p->have_rej && reject_write(p, p->buf, p->len) != TQ_OK)
        return -2;
    for (; c != EOF && c != '\n'; c = getc_unlocked(in)) {
        chunk[n++] = (char)c;
        if (n == sizeof chunk) {
            if (p->have_rej && reject_write(p, chunk, n) != TQ_OK)
                return -2;
            n = 0;
        }
    }
    if (n > 0 && p->have_rej && reject_write(p, chunk, n) != TQ_OK)
        return -2;
    return c;
}

/* Read the next line into p->buf.  @return TQ_OK (p->too_long says whether it was cut),
 * TQ_ERR_EOF, TQ_ERR_IO (input; d says), or a reject-file error. */
static int next_line(pack_run *p, FILE *in)
{
    int c, rc = TQ_OK;
    p->len = 0;
    p->too_long = 0;
    flockfile(in);
    while ((c = getc_unlocked(in)) != EOF && c != '\n') {
        if (p->len == p->max) {
            p->too_long = 1;
            if ((c = spill_rest(p, in, c)) == -2) {
                rc = TQ_ERR_IO;
                break;
            }
            break;
        }
        p->buf[p->len++] = (char)c;
    }
    if (rc == TQ_OK && ferror(in)) {
        rc = TQ_ERR_IO;
        tq_diag_set(p->d, "(input)", "read error: %s", strerror(errno));
    } else if (rc == TQ_OK && c == EOF && p->len == 0 && !p->too_long) {
        rc = TQ_ERR_EOF;
    }
    funlockfile(in);
    if (rc == TQ_OK) {
        p->buf[p->len] = '\0';
        p->st->lines++;
    }
    return rc;
}

/* One bad line: tell the caller, and keep it in the reject file. */
static int reject_line(pack_run *p, tq_diag *ld)
{
    ld->line = p->st->lines;
    ld->seq = 0;   /* a rejected line never has a seq: it is not in the journal */
    p->st->bad++;
    if (p->o->on_bad != NULL)
        p->o->on_bad(p->o->ctx, ld);
    if (!p->have_rej)
        return TQ_OK;
    if (!p->too_long && reject_write(p, p->buf, p->len) != TQ_OK)
        return TQ_ERR_IO;
    return reject_write(p, "\n", 1);
}

/* Check one line and, when it is good and anything is to be written, add it. */
static int pack_line(pack_run *p)
{
    tq_diag ld;
    memset(&ld, 0, sizeof ld);
    int rc;
    /* the position the line would take: see tq_pack.h, "Numbering" */
    uint64_t seq = p->have_rej ? tq_journal_next_seq(p->w) : p->start_seq + p->st->lines - 1;
    if (p->too_long) {
        tq_diag_set(&ld, "(line)", "line longer than %zu bytes", p->max);
        rc = TQ_ERR_INPUT;
    } else if (p->len == 0) {
        rc = tq_diag_set(&ld, "(line)", "blank line");
    } else {
        rc = tq_ndjson_parse_event(p->buf, p->len, seq, &p->ev, &ld);
    }
    if (rc != TQ_OK)
        return reject_line(p, &ld);
    if (p->st->bad > 0 && !p->have_rej)
        return TQ_OK; /* keep checking, to report every bad line, but write nothing */
    if ((rc = tq_journal_add(p->w, &p->ev)) != TQ_OK) {
        tq_diag_set(p->d, "(output)", "%s: %s", p->o->out, tq_strerror(rc));
        return rc;
    }
    if (p->st->first_seq == 0)
        p->st->first_seq = seq;
    p->st->last_seq = seq;
    p->st->events++;
    if (p->o->on_progress != NULL && p->st->events % PROGRESS_EVERY == 0) {
        long at = ftell(p->o->in);
        p->o->on_progress(p->o->ctx, p->st->events, at > 0 ? (uint64_t)at : 0);
    }
    return TQ_OK;
}

/* Open the journal writer (lock first, inside tq_journal_create/append). */
static int open_writer(pack_run *p)
{
    const tq_pack_opts *o = p->o;
    tq_journal_write_opts wo = {.frame_bytes = o->frame_bytes,
                                .level = o->level,
                                .flags = o->force ? 0 : TQ_JOURNAL_NO_CLOBBER,
                                .command = o->command,
                                .diag = p->d,
                                .busy = &p->st->holder};
    int rc = o->append ? tq_journal_append(o->out, &wo, &p->w)
                       : tq_journal_create(o->out, &wo, &p->w);
    if (rc == TQ_ERR_EXISTS)
        tq_diag_set(p->d, "(output)", "%s already exists", o->out);
    if (rc == TQ_OK)
        p->start_seq = tq_journal_next_seq(p->w);
    return rc;
}

static int open_reject(pack_run *p)
{
    if (p->o->reject == NULL)
        return TQ_OK;
    int rc = tq_out_open(&p->rej, p->o->reject, 0, p->d);
    if (rc != TQ_OK) {
        /* tq_out's why names the reason; say which file it was about */
        char why[sizeof p->d->why];
        snprintf(why, sizeof why, "%s", p->d ? p->d->why : "");
        tq_diag_set(p->d, "(reject)", "%s: %s", p->o->reject, why[0] ? why : tq_strerror(rc));
        return rc;
    }
    p->have_rej = 1;
    return TQ_OK;
}

/* The end: reject file first, then the journal; or undo both. */
static int pack_end(pack_run *p, int rc)
{
    if (rc == TQ_OK && p->st->bad > 0 && !p->have_rej) {
        tq_diag_set(p->d, "(input)", "%llu bad line%s; nothing was written",
                    (unsigned long long)p->st->bad, p->st->bad == 1 ? "" : "s");
        rc = TQ_ERR_INPUT;
    }
    if (rc == TQ_OK && p->have_rej) {
        p->have_rej = 0;
        if ((rc = tq_out_commit(&p->rej, p->d)) != TQ_OK)
            tq_diag_set(p->d, "(reject)", "%s: %s; the journal was not written",
                        p->o->reject, tq_strerror(rc));
    }
    if (rc != TQ_OK) {
        tq_out_rollback(&p->rej);
        tq_journal_abandon(p->w);
    } else if ((rc = tq_journal_finish(p->w)) != TQ_OK) {
        tq_diag_set(p->d, "(output)", "%s: %s", p->o->out, tq_strerror(rc));
    }
    p->w = NULL;
    if (rc != TQ_OK)
        p->st->events = p->st->first_seq = p->st->last_seq = 0;
    return rc;
}

int tq_journal_pack(const tq_pack_opts *o, tq_pack_stats *st, tq_diag *d)
{
    if (o == NULL || st == NULL || o->in == NULL || o->out == NULL)
        return TQ_ERR_INPUT;
    memset(st, 0, sizeof *st);
    pack_run *p = calloc(1, sizeof *p);
    if (p == NULL)
        return TQ_ERR_NOMEM;
    p->o = o;
    p->st = st;
    p->d = d;
    p->rej.fd = -1;
    p->max = o->line_max ? o->line_max : TQ_PACK_LINE_MAX;
    int rc = TQ_ERR_NOMEM;
    if ((p->buf = malloc(p->max + 1)) == NULL || (rc = open_writer(p)) != TQ_OK ||
        (rc = open_reject(p)) != TQ_OK) {
        tq_journal_abandon(p->w);
        free(p->buf);
        free(p);
        return rc;
    }
    for (;;) {
        rc = next_line(p, o->in);
        /* a signal also ends a read that was waiting (EINTR): it is the stop, not an
         * input error */
        if (o->stop != NULL && *o->stop && rc != TQ_ERR_EOF) {
            tq_diag_set(d, "(input)", "interrupted");
            rc = TQ_ERR_INTERRUPTED;
        }
        if (rc != TQ_OK || (rc = pack_line(p)) != TQ_OK)
            break;
    }
    rc = pack_end(p, rc == TQ_ERR_EOF ? TQ_OK : rc);
    free(p->buf);
    free(p);
    return rc;
}
