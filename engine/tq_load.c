/* tq_load.c - load payment and permit CSV files into the store, all or nothing.
 *
 * How it works: one write transaction per file.  Rows are parsed with the strict CSV
 * codec and applied as they come, so a receipt repeated later in the same file is
 * checked against the earlier row through the transaction itself.  Errors are counted
 * and reported; at the end the transaction commits only if there were none, or if the
 * caller gave a reject stream.  MDB_MAP_FULL kills a transaction, so on TQ_ERR_MAPFULL
 * the file is read again from the start after the map has grown.
 */
#include "tq_load.h"

#include <errno.h>
#include <string.h>

#include "tq_csv.h"
#include "tq_ndjson.h"

typedef struct load_run {
    tq_store *s;
    tq_txn *t;
    const tq_load_opts *o;
    tq_load_stats st;
    tq_diag *d;
    const char *path;
} load_run;

static void report_row_error(load_run *r, tq_diag *rowd, uint64_t line)
{
    rowd->line = line;
    rowd->seq = 0;
    r->st.rejected++;
    if (r->o->on_error)
        r->o->on_error(r->o->ctx, rowd);
}

static int write_reject(load_run *r, const char *line, size_t len)
{
    if (r->o->rejects == NULL)
        return TQ_OK;
    if (fwrite(line, 1, len, r->o->rejects) != len || fputc('\n', r->o->rejects) == EOF)
        return TQ_ERR_IO;
    return TQ_OK;
}

/* apply_payment_row() - @return TQ_OK, TQ_ERR_INPUT (row refused, rowd filled) or a
 * store error. */
static int apply_payment_row(load_run *r, const char *line, size_t len, tq_diag *rowd)
{
    tq_payment p, known;
    int rc = tq_csv_parse_payment(line, len, &p, rowd);
    if (rc != TQ_OK)
        return rc;
    rc = tq_store_add_payment(r->t, &p, &known);
    if (rc == TQ_ERR_CONFLICT)
        return tq_diag_set(rowd, "receipt_no",
                           "conflict: receipt %s is already known with different content",
                           p.receipt_no);
    if (rc < 0)
        return rc;
    if (rc == 1) {
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
    for (;;) {
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
            tq_diag_set(&rowd, "(line)", "line longer than %zu bytes", lr.max);
            report_row_error(r, &rowd, lr.lineno);
            if (r->o->rejects == NULL)
                continue;
            rc = TQ_OK;
            continue;
        }
        if (rc != TQ_OK) {
            tq_diag_set(r->d, "(file)", "%s: read error: %s", r->path, strerror(errno));
            break;
        }
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
            rc = write_reject(r, line, len);
            if (rc != TQ_OK) {
                tq_diag_set(r->d, "(file)", "cannot write the reject file: %s",
                            strerror(errno));
                break;
            }
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
    if (rc == TQ_OK && r->st.rejected > 0 && r->o->rejects == NULL)
        rc = TQ_ERR_INPUT;
    tq_linereader_release(&lr);
    return rc;
}

int tq_load_file(tq_store *s, const char *path, const tq_load_opts *opts,
                 tq_load_stats *stats, tq_diag *d)
{
    load_run r = {.s = s, .o = opts, .d = d, .path = path};
    int rc;
    for (;;) {
        memset(&r.st, 0, sizeof r.st);
        FILE *fp = fopen(path, "rb");
        if (fp == NULL) {
            tq_diag_set(d, "(file)", "cannot open %s: %s", path, strerror(errno));
            return TQ_ERR_IO;
        }
        rc = tq_txn_begin(s, 0, &r.t);
        if (rc != TQ_OK) {
            fclose(fp);
            return rc;
        }
        if (opts->rejects)
            rewind(opts->rejects);
        rc = load_once(&r, fp);
        fclose(fp);
        /* What the caller adds (the nightly job's ledger entry) commits with the rows. */
        if (rc == TQ_OK && opts->before_commit)
            rc = opts->before_commit(opts->before_commit_ctx, r.t, &r.st);
        if (rc == TQ_OK) {
            rc = tq_txn_commit(r.t);
        } else {
            tq_txn_abort(r.t);
        }
        r.t = NULL;
        if (rc == TQ_ERR_MAPFULL) {
            rc = tq_store_grow(s);
            if (rc != TQ_OK)
                break;
            /* Rows already reported are reported again on the redo; the redo only
             * happens for files that were clean so far, so that is nothing. */
            continue;
        }
        break;
    }
    if (stats)
        *stats = r.st;
    return rc;
}
