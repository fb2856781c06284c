/* tq_spool.c - one list of a report, streamed to a temporary file and a CSV file
 * (contract in tq_spool.h).
 *
 * The array is written with the one JSON writer onto the temporary file; copying it
 * into the report later streams the bytes through tq_json_value_fp(), 16 KiB at a
 * time.  A reset truncates both files where they are (the CSV's temporary file is the
 * tq_out's descriptor, under its stdio stream), which a stream cannot do.
 */
#include "tq_spool.h"

#include <stdarg.h>
#include <string.h>
#include <unistd.h>

/* begin() - the array opened on an empty temporary file. */
static void begin(tq_spool *sp)
{
    rewind(sp->tmp);
    if (ftruncate(fileno(sp->tmp), 0) != 0)
        sp->failed = 1;
    tq_json_init(&sp->json, sp->tmp);
    tq_json_begin_array(&sp->json);
}

int tq_spool_open(tq_spool *sp, FILE *tmp, const char *csv_path, const char *csv_header,
                  tq_diag *d)
{
    memset(sp, 0, sizeof *sp);
    sp->csv.fd = -1;
    if (tmp == NULL)
        return TQ_ERR_INPUT;
    sp->tmp = tmp;
    sp->header = csv_header ? csv_header : "";
    begin(sp);
    if (csv_path == NULL)
        return TQ_OK;
    int rc = tq_out_open(&sp->csv, csv_path, 0, d);
    if (rc == TQ_OK && (sp->csvf = tq_out_fp(&sp->csv)) == NULL)
        rc = TQ_ERR_NOMEM;
    if (rc != TQ_OK) {
        tq_spool_release(sp);
        return rc;
    }
    fputs(sp->header, sp->csvf);
    return TQ_OK;
}

void tq_spool_csv(tq_spool *sp, const char *fmt, ...)
{
    if (sp->csvf == NULL)
        return;
    va_list ap;
    va_start(ap, fmt);
    vfprintf(sp->csvf, fmt, ap);  /* an error stays in the tq_out: the commit says it */
    va_end(ap);
}

void tq_spool_reset(tq_spool *sp)
{
    begin(sp);
    if (sp->csvf == NULL)
        return;
    if (fflush(sp->csvf) != 0 || sp->csv.stream || ftruncate(sp->csv.fd, 0) != 0 ||
        lseek(sp->csv.fd, 0, SEEK_SET) != 0)
        sp->failed = 1;
    fputs(sp->header, sp->csvf);
}

int tq_spool_end(tq_spool *sp)
{
    tq_json_end_array(&sp->json);
    if (sp->json.err || fflush(sp->tmp) != 0)
        sp->failed = 1;
    return sp->failed ? TQ_ERR_IO : TQ_OK;
}

int tq_spool_copy(tq_spool *sp, tq_json *j)
{
    char buf[1 << 14];
    size_t n;
    FILE *out = tq_json_value_fp(j);
    if (out == NULL)
        return TQ_ERR_IO;
    rewind(sp->tmp);
    while ((n = fread(buf, 1, sizeof buf, sp->tmp)) > 0)
        if (fwrite(buf, 1, n, out) != n)
            return TQ_ERR_IO;
    return ferror(sp->tmp) ? TQ_ERR_IO : TQ_OK;
}

int tq_spool_commit(tq_spool *sp, tq_diag *d)
{
    if (sp->csvf == NULL)
        return TQ_OK;
    sp->csvf = NULL;
    return tq_out_commit(&sp->csv, d);
}

void tq_spool_release(tq_spool *sp)
{
    tq_out_rollback(&sp->csv);   /* nothing left to do after a commit */
    sp->csvf = NULL;
    if (sp->tmp)
        fclose(sp->tmp);
    sp->tmp = NULL;
}
