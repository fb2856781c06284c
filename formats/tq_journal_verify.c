/* tq_journal_verify.c - walk a whole journal and check everything (tq_journal_verify()).
 *
 * Every frame is read, its checksums and zstd checked, and every record decoded, as a
 * replay would; the walk stops at the first fault, since after a damaged frame the
 * answer an operator needs is where (the frame, its byte offset and seq range), and
 * --skip-corrupt is a decision for the replay, not for a check.
 */
#include "tq_journal.h"

#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

/* Check one frame that read_frame returned: payload, content, every record. */
static int check_frame(const tq_frame_info *fi, const uint8_t *z, uint8_t **raw, size_t *cap,
                       tq_event *ev)
{
    int rc = tq_journal_frame_decode(fi, z, raw, cap);
    if (rc != TQ_OK)
        return rc;
    tq_frame_cursor c;
    tq_frame_cursor_init(&c, fi, *raw);
    while ((rc = tq_frame_cursor_next(&c, ev)) == TQ_OK)
        ;
    return rc == TQ_ERR_EOF ? TQ_OK : rc;
}

static void count_frame(tq_verify_result *res, const tq_frame_info *fi)
{
    if (res->frames == 0)
        res->first_seq = fi->first_seq;
    res->last_seq = fi->first_seq + fi->count - 1;
    res->frames++;
    res->events += fi->count;
    res->zbytes += fi->zsize;
    res->rawbytes += fi->raw_size;
}

static int walk(tq_journal_reader *r, tq_verify_result *res, tq_diag *d)
{
    uint8_t *z = NULL, *raw = NULL;
    size_t zcap = 0, rawcap = 0;
    tq_event *ev = malloc(sizeof *ev);
    tq_frame_info fi;
    int rc = ev == NULL ? TQ_ERR_NOMEM : TQ_OK;
    while (rc == TQ_OK) {
        memset(&fi, 0, sizeof fi);
        rc = tq_journal_read_frame(r, &fi, &z, &zcap);
        if (rc == TQ_OK)
            rc = check_frame(&fi, z, &raw, &rawcap, ev);
        if (rc == TQ_OK)
            count_frame(res, &fi);
    }
    if (rc != TQ_ERR_EOF) {
        res->bad = fi;
        tq_diag_set(d, "(frame)", "frame %llu at byte %llu: %s", (unsigned long long)fi.index,
                    (unsigned long long)fi.offset, tq_strerror(rc));
    }
    free(ev);
    free(z);
    free(raw);
    return rc == TQ_ERR_EOF ? TQ_OK : rc;
}

int tq_journal_verify(const char *path, tq_verify_result *res, tq_diag *d)
{
    if (path == NULL || res == NULL)
        return TQ_ERR_INPUT;
    memset(res, 0, sizeof *res);
    tq_journal_reader *r;
    int rc = tq_journal_open_diag(path, &r, d);
    if (rc != TQ_OK) {
        res->opened = 0;
        return res->status = rc;
    }
    res->opened = 1;
    memcpy(res->id, tq_journal_id(r), TQ_JOURNAL_ID_LEN);
    res->version = tq_journal_version(r);
    res->frame_max = tq_journal_frame_max(r);
    rc = walk(r, res, d);
    tq_journal_close(r);
    struct stat sb;
    res->file_size = stat(path, &sb) == 0 ? (uint64_t)sb.st_size : 0;
    return res->status = rc;
}
