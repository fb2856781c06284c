/* tq_load.c - load payment and permit CSV files into the store, all or nothing.
 *
 * How it works: one write transaction per file.  Rows are parsed with the strict CSV
 * codec and applied as they come, so a receipt repeated later in the same file is
 * checked against the earlier row through the transaction itself.  Errors are counted
 * and reported; at the end the transaction commits only if there were none, or if the
 * caller gave a reject output.  MDB_MAP_FULL kills a transaction, so on TQ_ERR_MAPFULL
 * the file is read again from the start after the map has grown.
 *
 * Rejects and the redo.  The reject output cannot be taken back (it may be a stream),
 * so a redo writes nothing it wrote before: the rows of a file are the same on every
 * pass, so are its rejects, and the first `rej_written` of them are skipped.  For the
 * same reason progress reports the furthest byte reached, never a smaller one.
 * The input's byte offset is counted from the lines read (no ftell per line); a line
 * over the limit is copied to the rejects by seeking back to its first byte.
 */
#include "tq_load.h"

#include <errno.h>
#include <string.h>
#include <sys/stat.h>

#include "tq_csv.h"
#include "tq_ndjson.h"

typedef struct load_run {
    tq_store *s;
    tq_txn *t;
    const tq_load_opts *o;
    tq_load_stats st;
    tq_diag *d;
    const char *path;
    FILE *rej;                  /* the reject stream, or NULL */
    uint64_t rej_written;       /* rejects written, over every pass */
    uint64_t rej_seen;          /* rejects met in this pass */
    uint64_t offset, size;      /* input bytes consumed in this pass; the input's size */
    uint64_t shown, next_show;  /* progress: furthest byte reported; next report at */
} load_run;

#define PROGRESS_STEP 65536

static void report_progress(load_run *r, int final)
{
    if (r->o->progress == NULL || (!final && r->offset < r->next_show))
        return;
    r->next_show = r->offset + PROGRESS_STEP;
    if (r->offset > r->shown || (final && r->shown == 0))
        r->shown = r->offset;
    r->o->progress(r->o->progress_ctx, r->shown, r->size > r->shown ? r->size : r->shown);
}

static void report_row_error(load_run *r, tq_diag *rowd, uint64_t line)
{
    rowd->line = line;
    rowd->seq = 0;
    r->st.rejected++;
    if (r->o->on_error)
        r->o->on_error(r->o->ctx, rowd);
}

static int reject_error(load_run *r)
{
    int e = errno;
    if (r->o->reject_out && r->o->reject_out->err)
        e = r->o->reject_out->err;
    tq_diag_set(r->d, "(rejects)", "cannot write the reject file: %s", strerror(e));
    return tq_errno(e);
}

/* reject_due() - whether this pass writes the reject met now (not written before). */
static int reject_due(load_run *r)
{
    if (r->rej == NULL || r->rej_seen++ < r->rej_written)
        return 0;
    r->rej_written++;
    return 1;
}

static int write_reject(load_run *r, const char *line, size_t len)
{
    if (!reject_due(r))
        return TQ_OK;
    if (fwrite(line, 1, len, r->rej) != len || fputc('\n', r->rej) == EOF)
        return reject_error(r);
    return TQ_OK;
}

/* copy_long_line() - the line that starts at byte `start` of fp, too long to hold, is
 * copied whole to the rejects in pieces; fp is left where the line reader left it. */
static int copy_long_line(load_run *r, FILE *fp, uint64_t start)
{
    off_t end = ftello(fp);
    if (end < 0 || fseeko(fp, (off_t)start, SEEK_SET) != 0) {
        tq_diag_set(r->d, "(file)", "%s: cannot read back a long line for the reject "
                    "file: %s", r->path, strerror(errno));
        return TQ_ERR_IO;
    }
    r->offset = (uint64_t)end;
    int due = reject_due(r), c = 0;
    char buf[8192];
    for (uint64_t left = (uint64_t)end - start; left > 0;) {
        size_t want = left < sizeof buf ? (size_t)left : sizeof buf;
        size_t got = fread(buf, 1, want, fp);
        if (got == 0) {
            tq_diag_set(r->d, "(file)", "%s: read error: %s", r->path, strerror(errno));
            return TQ_ERR_IO;
        }
        if (due && fwrite(buf, 1, got, r->rej) != got)
            return reject_error(r);
        c = buf[got - 1];
        left -= got;
    }
    if (due && c != '\n' && fputc('\n', r->rej) == EOF)   /* a last line without one */
        return reject_error(r);
    return TQ_OK;
}

/* apply_payment_row() - @return TQ_OK, TQ_ERR_INPUT (row refused, rowd filled) or a
 * store error. */
static int apply_payment_row(load_run *r, const char *line, size_t len, tq_diag *rowd)
{
    tq_payment p, known;
    int is_new;
    int rc = tq_csv_parse_payment(line, len, &p, rowd);
    if (rc != TQ_OK)
        return rc;
    rc = tq_store_add_payment(r->t, &p, &known, &is_new);
    if (rc == TQ_ERR_CONFLICT)
        return tq_diag_set(rowd, "receipt_no",
                           "conflict: receipt %s is already known with different content",
                           p.receipt_no);
    if (rc != TQ_OK)
        return rc;
    if (!is_new) {
        r->st.duplicates++;
        return TQ_OK;
    }
    r->st.added++;
    tq_decl probe;
    if (tq_store_get_decl(r->t, p.decl_no, &probe) == TQ_ERR_NOTFOUND)
        r->st.unknown_decl++;
    return TQ_OK;
}

static int apply_permit_row(load_run *r, const char *line, size_t len, tq_diag *rowd)
{
    tq_permit p;
    int rc = tq_csv_parse_permit(line, len, &p, rowd);
    if (rc != TQ_OK)
        return rc;
    rc = tq_store_put_permit(r->t, &p);
    if (rc < 0)
        return rc;
    if (rc == 1)
        r->st.replaced++;
    else
        r->st.added++;
    return TQ_OK;
}

/* long_line() - a line over the limit: reported; as a header it stops the load (the
 * columns cannot be trusted), as a row it goes whole to the rejects. */
static int long_line(load_run *r, FILE *fp, const tq_linereader *lr, uint64_t start,
                     int saw_header)
{
    tq_diag rowd;
    memset(&rowd, 0, sizeof rowd);
    tq_diag_set(&rowd, saw_header ? "(line)" : "(header)", "line longer than %zu bytes",
                lr->max);
    report_row_error(r, &rowd, lr->lineno);
    if (!saw_header)
        return TQ_ERR_INPUT;
    r->st.rows++;
    int rc = r->rej ? copy_long_line(r, fp, start) : TQ_OK;
    report_progress(r, 0);
    return rc;
}

/* load_once() - one pass over the file inside r->t.  @return TQ_OK (commit-worthy),
 * TQ_ERR_INPUT (bad rows and no reject stream), or an I/O or store error. */
static int load_once(load_run *r, FILE *fp)
{
    const char *header = r->o->kind == TQ_LOAD_PAYMENTS ? TQ_PAYMENTS_HEADER
                                                        : TQ_PERMITS_HEADER;
    tq_linereader lr;
    int rc = tq_linereader_init(&lr, fp, r->o->max_line ? r->o->max_line : 65536);
    if (rc != TQ_OK)
        return rc;
    const char *line;
    size_t len;
    int saw_header = 0;
    r->offset = 0;
    r->rej_seen = 0;
    for (;;) {
        uint64_t start = r->offset;
        if (r->o->stop && *r->o->stop) {
            rc = TQ_ERR_INTERRUPTED;
            break;
        }
        rc = tq_linereader_next(&lr, &line, &len);
        if (rc == TQ_ERR_EOF) {
            rc = TQ_OK;
            break;
        }
        tq_diag rowd;
        memset(&rowd, 0, sizeof rowd);
        if (rc == TQ_ERR_LIMIT) {
            if ((rc = long_line(r, fp, &lr, start, saw_header)) != TQ_OK)
                break;
            continue;
        }
        if (rc != TQ_OK) {
            tq_diag_set(r->d, "(file)", "%s: read error: %s", r->path, strerror(errno));
            break;
        }
        r->offset += len + !lr.missing_final_newline;
        report_progress(r, 0);
        if (!saw_header) {
            saw_header = 1;
            if (tq_csv_check_header(line, len, header, &rowd) != TQ_OK) {
                report_row_error(r, &rowd, lr.lineno);
                /* A wrong header means the columns cannot be trusted: stop here, even
                 * with a reject file, rather than load misread data. */
                rc = TQ_ERR_INPUT;
                break;
            }
            continue;
        }
        /* The line reader hides a final newline, so an empty line here is a real
         * blank line, which the row parser refuses. */
        r->st.rows++;
        if (r->o->kind == TQ_LOAD_PAYMENTS)
            rc = apply_payment_row(r, line, len, &rowd);
        else
            rc = apply_permit_row(r, line, len, &rowd);
        if (rc == TQ_ERR_INPUT) {
            report_row_error(r, &rowd, lr.lineno);
            if ((rc = write_reject(r, line, len)) != TQ_OK)
                break;
            continue;
        }
        if (rc != TQ_OK)
            break;
    }
    if (rc == TQ_OK && !saw_header) {
        tq_diag rowd;
        memset(&rowd, 0, sizeof rowd);
        tq_diag_set(&rowd, "(header)", "empty file: header must be exactly '%s'", header);
        report_row_error(r, &rowd, 1);
        rc = TQ_ERR_INPUT;
    }
    if (rc == TQ_OK && r->st.rejected > 0 && r->rej == NULL)
        rc = TQ_ERR_INPUT;
    tq_linereader_release(&lr);
    return rc;
}

/* sync_rejects() - the rejects are durable before the rows they go with commit. */
static int sync_rejects(load_run *r)
{
    if (r->o->reject_out) {
        tq_diag od;
        memset(&od, 0, sizeof od);
        if (tq_out_sync(r->o->reject_out, &od) != TQ_OK)
            return reject_error(r);
    } else if (r->rej && (fflush(r->rej) != 0 || ferror(r->rej))) {
        return reject_error(r);
    }
    return TQ_OK;
}

/* open_input() - the input for one pass: opts->in rewound for a redo, or path. */
static int open_input(load_run *r, int pass, FILE **fp)
{
    *fp = r->o->in;
    if (*fp == NULL)
        *fp = fopen(r->path, "rb");
    else if (pass > 0 && fseeko(*fp, 0, SEEK_SET) != 0)
        *fp = NULL;
    if (*fp == NULL) {
        tq_diag_set(r->d, "(file)", "cannot %s %s: %s", pass ? "read again" : "open",
                    r->path, strerror(errno));
        return errno == EACCES || errno == EPERM ? TQ_ERR_PERM : TQ_ERR_IO;
    }
    struct stat sb;
    r->size = fstat(fileno(*fp), &sb) == 0 && S_ISREG(sb.st_mode) ? (uint64_t)sb.st_size : 0;
    clearerr(*fp);
    return TQ_OK;
}

/* write_header() - a reject file starts with the header, so it loads back as it is. */
static int write_header(load_run *r)
{
    r->rej = r->o->reject_out ? tq_out_fp(r->o->reject_out) : r->o->rejects;
    if (r->o->reject_out && r->rej == NULL)
        return tq_diag_set(r->d, "(rejects)", "no memory for the reject file"), TQ_ERR_NOMEM;
    if (r->rej == NULL)
        return TQ_OK;
    const char *h = r->o->kind == TQ_LOAD_PAYMENTS ? TQ_PAYMENTS_HEADER : TQ_PERMITS_HEADER;
    if (fputs(h, r->rej) == EOF || fputc('\n', r->rej) == EOF)
        return reject_error(r);
    return TQ_OK;
}

/* one_pass() - read and apply the file in a transaction; commit when it is clean (or
 * its bad rows went to the rejects), the rejects synced first. */
static int one_pass(load_run *r, int pass)
{
    FILE *fp;
    int rc = open_input(r, pass, &fp);
    if (rc != TQ_OK)
        return rc;
    memset(&r->st, 0, sizeof r->st);
    rc = tq_txn_begin(r->s, 0, &r->t);
    if (rc == TQ_OK) {
        rc = load_once(r, fp);
        report_progress(r, 1);
        if (rc == TQ_OK && r->o->before_commit)
            rc = r->o->before_commit(r->o->before_commit_ctx, r->t, &r->st);
        if (rc == TQ_OK)
            rc = sync_rejects(r);
        if (rc == TQ_OK)
            rc = tq_txn_commit(r->t);
        else
            tq_txn_abort(r->t);
        r->t = NULL;
    }
    if (fp != r->o->in)
        fclose(fp);
    return rc;
}

int tq_load_file(tq_store *s, const char *path, const tq_load_opts *opts,
                 tq_load_stats *stats, tq_diag *d)
{
    load_run r = {.s = s, .o = opts, .d = d, .path = path};
    int rc = write_header(&r);
    for (int pass = 0; rc == TQ_OK; pass++) {
        rc = one_pass(&r, pass);
        if (rc != TQ_ERR_MAPFULL)
            break;
        /* Rows already reported are reported again on the redo; their rejects are
         * not written twice (see the top of this file). */
        rc = tq_store_grow(s);
    }
    if (stats)
        *stats = r.st;
    return rc;
}
