/* tq_journal.c - the journal file: writer (frames of zstd-compressed records) and reader.
 *
 * DESIGN.  The file is a 64-byte header and a run of frames (byte layout in JOURNAL.md).
 * The writer encodes each added event straight into a raw frame buffer; when the next
 * record would push the frame past frame_bytes it compresses the frame and writes header
 * and payload with one write(), so a crash leaves at most one partial frame at the tail
 * and every earlier frame intact.  When a write fails the writer cuts the file back to
 * the last complete frame (best effort) and refuses further work.  Every writer holds
 * PATH.lock (tq_lock) for its whole life; a create writes a tq_out temporary that
 * finish renames into place, an append writes in place and is cut back to its old size
 * when abandoned, so a writer's work is all or nothing.
 *
 * Limits.  The header's frame_max (version 2; the cap for version 1) bounds every
 * frame; a sealed frame header over it is stepped over without its payload being kept
 * and refused by frame_decode from the header alone, before anything is allocated.
 *
 * The reader is a plain state machine over a buffered fd: read a frame header, check it
 * (magic, seeded header checksum, limits, seq continuity), read the payload; decoding is
 * a separate step that needs no reader, so callers can decompress frames on other
 * threads.  Memory is bounded by one frame: the payload buffer grows as bytes actually
 * arrive (a torn or forged length cannot make us allocate what the file does not hold),
 * and the decoded buffer is sized from a checked raw_size.
 *
 * Errors are told apart because an operator acts differently on each: TORN means the
 * bytes stop where a writer could have stopped (a prefix of a valid frame), CORRUPT
 * means bytes are present but wrong; IO and FULL come from the system.
 */
#include "tq_journal.h"
#include "tq_buf.h"

#include "tq_lock.h"
#include "tq_out.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <xxhash.h>
#include <zstd.h>
#include <zstd_errors.h>

/* ---- layout (JOURNAL.md §2, §3) ------------------------------------------------- */

#define FILE_HDR_SIZE 64
#define FILE_HDR_SUM_AT 56
#define FRAME_HDR_SIZE 40
#define FRAME_HDR_SUM_AT 36
#define DEFAULT_LEVEL 3
#define READ_BUF_SIZE (128u << 10)
#define PAYLOAD_CHUNK (1u << 20)

static const uint8_t file_magic[8] = {0x89, 'T', 'Q', 'J', '\r', '\n', 0x1a, '\n'};
static const uint8_t frame_magic[4] = {'T', 'Q', 'F', 'R'};

/* Frame headers are checksummed with a seed taken from the journal id, so a frame
 * pasted in from another journal fails even when its seq range happens to fit. */
static uint64_t id_seed(const uint8_t id[TQ_JOURNAL_ID_LEN]) { return tq_le_get64(id); }

static uint32_t frame_hdr_sum(const uint8_t *hdr, uint64_t seed)
{
    return (uint32_t)XXH3_64bits_withSeed(hdr, FRAME_HDR_SUM_AT, seed);
}

/* The journal limit in force for a frame: the header's frame_max, or the reader's cap
 * for an info made by hand (frame_max 0). */
static uint32_t limit_of(const tq_frame_info *info)
{
    return info->frame_max && info->frame_max < TQ_JOURNAL_FRAME_MAX ? info->frame_max
                                                                     : TQ_JOURNAL_FRAME_MAX;
}

/* A frame no writer of this journal could have written: over the journal's frame_max,
 * more compressed bytes than that size can take, or more records than fit in raw_size
 * (the smallest record is TQ_RECORD_MIN bytes).  Decided from the header alone, before
 * anything is allocated for the frame: this is what stops a decompression bomb. */
static int frame_impossible(const tq_frame_info *info)
{
    uint32_t max = limit_of(info);
    return info->count == 0 || info->raw_size > max || info->count > info->raw_size / TQ_RECORD_MIN ||
           info->zsize == 0 || info->zsize > ZSTD_compressBound(max);
}

/* ---- writer --------------------------------------------------------------------- */

struct tq_journal_writer {
    int fd;
    int appending;           /* 1: an existing journal extended in place */
    int regular;             /* a regular file (not a pipe or device): truncate, fsync */
    int err;                 /* sticky: after a failed write nothing more is written */
    tq_out out;              /* create: the temporary file or stream (tq_out) */
    tq_lock lock;            /* PATH.lock, held while the writer lives (fd -1: none) */
    uint8_t id[TQ_JOURNAL_ID_LEN];
    uint64_t seed;
    uint64_t next_seq;       /* seq of the next added event */
    uint64_t frame_seq;      /* seq of the first record in raw */
    uint32_t count;          /* records in raw */
    uint32_t frame_max;      /* the journal header's limit: no frame is larger */
    size_t frame_bytes;
    int level;
    uint8_t *raw;            /* the frame being filled; see writer_buffers for its size */
    size_t raw_len;
    uint8_t *out_buf;        /* frame header + compressed payload */
    size_t out_cap;
    ZSTD_CCtx *cctx;
    off_t good_size;         /* file size after the last complete frame */
    off_t orig_size;         /* append: the journal's size before us (rollback point) */
};

static int write_all(int fd, const uint8_t *p, size_t n)
{
    while (n > 0) {
        ssize_t k = write(fd, p, n);
        if (k < 0) {
            if (errno == EINTR)
                continue;
            return tq_errno(errno);
        }
        if (k == 0)
            return TQ_ERR_IO;
        p += k;
        n -= (size_t)k;
    }
    return TQ_OK;
}

static int fill_random(uint8_t *p, size_t n)
{
    while (n > 0) {
        ssize_t k = getrandom(p, n, 0);
        if (k < 0) {
            if (errno == EINTR)
                continue;
            return TQ_ERR_IO;
        }
        p += k;
        n -= (size_t)k;
    }
    return TQ_OK;
}

static void writer_free(tq_journal_writer *w)
{
    if (w == NULL)
        return;
    if (w->appending && w->fd >= 0)
        close(w->fd);
    tq_out_rollback(&w->out);   /* create: removes the temporary file; else nothing */
    /* Remove PATH.lock while still holding it, so no litter stays beside journals.  A
     * locker that opened the old file meanwhile either finds it held (BUSY) or locks the
     * unlinked file, sees with tq_lock's inode re-check that it is no longer at the
     * path, and locks a fresh one: removal cannot let two writers in. */
    if (w->lock.path != NULL && w->lock.fd >= 0)
        unlink(w->lock.path);
    tq_lock_release(&w->lock);
    ZSTD_freeCCtx(w->cctx);
    free(w->raw);
    free(w->out_buf);
    free(w);
}

/* Undo everything this writer did, under its lock: a created journal never appears
 * (the temporary file goes), an appended one is cut back to its size before us. */
static void writer_rollback(tq_journal_writer *w)
{
    if (w->appending && w->regular && w->fd >= 0 && ftruncate(w->fd, w->orig_size) != 0) {
        /* the frames we wrote stay; a reader sees a longer but valid journal, or a
         * torn tail when the last write itself failed: both are the truth */
    }
}

/* Size the buffers for frame_bytes (clamped to frame_max). */
static int writer_buffers(tq_journal_writer *w)
{
    if (w->frame_bytes > w->frame_max)
        w->frame_bytes = w->frame_max;
    /* Before an add, raw holds at most max(frame_bytes, one record); the add encodes
     * one more record after that before deciding whether to cut the frame. */
    size_t raw_cap = (w->frame_bytes > TQ_RECORD_MAX ? w->frame_bytes : TQ_RECORD_MAX) +
                     TQ_RECORD_MAX;
    w->raw = malloc(raw_cap);
    w->out_cap = FRAME_HDR_SIZE + ZSTD_compressBound(raw_cap);
    w->out_buf = malloc(w->out_cap);
    return w->raw == NULL || w->out_buf == NULL ? TQ_ERR_NOMEM : TQ_OK;
}

/* Allocate a writer; the caller takes the lock, opens the file and sizes the buffers. */
static int writer_new(const tq_journal_write_opts *opts, tq_journal_writer **out)
{
    tq_journal_writer *w = calloc(1, sizeof *w);
    if (w == NULL)
        return TQ_ERR_NOMEM;
    w->fd = -1;
    w->out.fd = -1;
    w->lock.fd = -1;
    w->frame_bytes = (opts && opts->frame_bytes) ? opts->frame_bytes : TQ_JOURNAL_FRAME_DEFAULT;
    if (w->frame_bytes > TQ_JOURNAL_FRAME_MAX)
        w->frame_bytes = TQ_JOURNAL_FRAME_MAX;
    /* A record larger than frame_bytes gets a frame of its own: the limit covers it. */
    w->frame_max = (uint32_t)(w->frame_bytes > TQ_RECORD_MAX ? w->frame_bytes : TQ_RECORD_MAX);
    w->level = (opts && opts->level) ? opts->level : DEFAULT_LEVEL;
    if (w->level < ZSTD_minCLevel())
        w->level = ZSTD_minCLevel();
    if (w->level > ZSTD_maxCLevel())
        w->level = ZSTD_maxCLevel();
    if ((w->cctx = ZSTD_createCCtx()) == NULL) {
        writer_free(w);
        return TQ_ERR_NOMEM;
    }
    w->next_seq = 1;
    w->frame_seq = 1;
    *out = w;
    return TQ_OK;
}

/* What tq_out writes in place as a stream: no lock file is made beside those (there
 * is no journal to protect, and "/dev/stdout.lock" must never be created). */
static int is_stream_target(const char *path)
{
    struct stat st;
    if (strcmp(path, "-") == 0 || strncmp(path, "/dev/", 5) == 0 ||
        strncmp(path, "/proc/", 6) == 0)
        return 1;
    return stat(path, &st) == 0 && !S_ISREG(st.st_mode);
}

static char *lock_path(const char *path)
{
    size_t n = strlen(path);
    char *lp = malloc(n + sizeof ".lock");
    if (lp != NULL) {
        memcpy(lp, path, n);
        memcpy(lp + n, ".lock", sizeof ".lock");
    }
    return lp;
}

/* Take PATH.lock for the writer.  @return TQ_OK, TQ_ERR_BUSY (opts->busy filled). */
static int writer_lock(tq_journal_writer *w, const char *path, const tq_journal_write_opts *opts)
{
    if (opts && (opts->flags & TQ_JOURNAL_NO_LOCK))
        return TQ_OK;
    char *lp = lock_path(path);
    if (lp == NULL)
        return TQ_ERR_NOMEM;
    const char *cmd = opts && opts->command ? opts->command : "thongquan journal writer";
    int rc = tq_lock_acquire(&w->lock, lp, cmd, opts ? opts->busy : NULL,
                             opts ? opts->diag : NULL);
    free(lp);
    return rc;
}

static int write_file_header(tq_journal_writer *w)
{
    uint8_t h[FILE_HDR_SIZE] = {0};
    struct timespec now;
    clock_gettime(CLOCK_REALTIME, &now);
    memcpy(h, file_magic, sizeof file_magic);
    tq_le_put32(h + 8, TQ_JOURNAL_VERSION);
    tq_le_put32(h + 12, FILE_HDR_SIZE);
    tq_le_put32(h + 16, 0); /* flags */
    tq_le_put32(h + 20, w->frame_max);
    memcpy(h + 24, w->id, TQ_JOURNAL_ID_LEN);
    tq_le_put64(h + 40, (uint64_t)((int64_t)now.tv_sec * 1000000000 + now.tv_nsec));
    tq_le_put64(h + FILE_HDR_SUM_AT, XXH3_64bits(h, FILE_HDR_SUM_AT));
    int rc = write_all(w->fd, h, sizeof h);
    w->good_size = FILE_HDR_SIZE;
    return rc;
}

int tq_journal_create(const char *path, const tq_journal_write_opts *opts,
                      tq_journal_writer **out)
{
    if (path == NULL || out == NULL)
        return TQ_ERR_INPUT;
    *out = NULL;
    tq_journal_writer *w;
    int rc = writer_new(opts, &w);
    if (rc != TQ_OK)
        return rc;
    /* The lock first: the old journal is not even looked at while another writer may
     * be at work on it. */
    if (!is_stream_target(path) && (rc = writer_lock(w, path, opts)) != TQ_OK)
        goto fail;
    unsigned of = opts && (opts->flags & TQ_JOURNAL_NO_CLOBBER) ? TQ_OUT_NO_CLOBBER : 0;
    if ((rc = tq_out_open(&w->out, path, of, opts ? opts->diag : NULL)) != TQ_OK)
        goto fail;
    w->fd = w->out.fd;
    w->regular = !w->out.stream;
    if ((rc = writer_buffers(w)) != TQ_OK || (rc = fill_random(w->id, sizeof w->id)) != TQ_OK)
        goto fail;
    w->seed = id_seed(w->id);
    if ((rc = write_file_header(w)) != TQ_OK)
        goto fail;
    *out = w;
    return TQ_OK;
fail:
    writer_free(w);
    return rc;
}

/* Open path for appending: a regular file, never through a link, never a device. */
static int open_for_append(tq_journal_writer *w, const char *path, tq_diag *d)
{
    struct stat st;
    if (lstat(path, &st) != 0) {
        int e = errno;
        tq_diag_set(d, "(journal)", "%s", strerror(e));
        return e == ENOENT ? TQ_ERR_NOTFOUND : e == EACCES ? TQ_ERR_PERM : TQ_ERR_IO;
    }
    if (!S_ISREG(st.st_mode))
        return tq_diag_set(d, "(journal)", "%s", S_ISLNK(st.st_mode)
                                                     ? "is a symbolic link (append to the file it names)"
                                                     : "is not a regular file");
    w->fd = open(path, O_RDWR | O_APPEND | O_NOFOLLOW | O_NOCTTY | O_NONBLOCK | O_CLOEXEC);
    if (w->fd < 0) {
        int e = errno;
        tq_diag_set(d, "(journal)", "%s", strerror(e));
        return e == EACCES || e == EPERM || e == EROFS ? TQ_ERR_PERM : tq_errno(e);
    }
    if (fstat(w->fd, &st) != 0 || !S_ISREG(st.st_mode))
        return tq_diag_set(d, "(journal)", "is not a regular file");
    w->regular = 1;
    return TQ_OK;
}

/* Read the whole journal on w->fd (from offset 0) and decode every record: a journal
 * that cannot be read to its end must not be made longer. */
static int read_to_end(tq_journal_writer *w, tq_diag *d)
{
    tq_journal_reader *r = NULL;
    int rc = tq_journal_open_fd(w->fd, &r);
    if (rc != TQ_OK) {
        tq_diag_set(d, "(header)", "%s", tq_strerror(rc));
        return rc;
    }
    memcpy(w->id, tq_journal_id(r), TQ_JOURNAL_ID_LEN);
    w->seed = id_seed(w->id);
    w->frame_max = tq_journal_frame_max(r);
    tq_event *ev = malloc(sizeof *ev);
    tq_frame_info info;
    uint64_t end_seq = 1;
    if (ev == NULL)
        rc = TQ_ERR_NOMEM;
    while (ev != NULL && (rc = tq_journal_next_event(r, ev, &info)) == TQ_OK)
        end_seq = ev->seq + 1;
    free(ev);
    tq_journal_close(r);
    if (rc != TQ_ERR_EOF) {
        tq_diag_set(d, "(frame)", "frame %llu at byte %llu: %s (an appender never writes "
                    "after damage)", (unsigned long long)info.index,
                    (unsigned long long)info.offset, tq_strerror(rc));
        return rc;
    }
    w->next_seq = w->frame_seq = end_seq;
    return TQ_OK;
}

int tq_journal_append(const char *path, const tq_journal_write_opts *opts,
                      tq_journal_writer **out)
{
    if (path == NULL || out == NULL)
        return TQ_ERR_INPUT;
    *out = NULL;
    tq_diag *d = opts ? opts->diag : NULL;
    tq_journal_writer *w;
    int rc = writer_new(opts, &w);
    if (rc != TQ_OK)
        return rc;
    w->appending = 1;
    struct stat st;
    /* No lock file is made for a journal that is not there; but one being created has
     * its lock already, and that writer is the answer (BUSY), not "no such file". */
    char *lp = lock_path(path);
    int absent = lp != NULL && lstat(path, &st) != 0 && errno == ENOENT &&
                 lstat(lp, &st) != 0 && errno == ENOENT;
    free(lp);
    if (absent) {
        tq_diag_set(d, "(journal)", "%s", strerror(ENOENT));
        rc = TQ_ERR_NOTFOUND;
        goto fail;
    }
    /* Lock before reading, so that what we verified is what we extend. */
    if ((rc = writer_lock(w, path, opts)) != TQ_OK || (rc = open_for_append(w, path, d)) != TQ_OK ||
        (rc = read_to_end(w, d)) != TQ_OK || (rc = writer_buffers(w)) != TQ_OK)
        goto fail;
    if (fstat(w->fd, &st) != 0) {
        rc = TQ_ERR_IO;
        goto fail;
    }
    w->good_size = w->orig_size = st.st_size;
    *out = w;
    return TQ_OK;
fail:
    writer_free(w);
    return rc;
}

uint64_t tq_journal_next_seq(const tq_journal_writer *w) { return w ? w->next_seq : 0; }

/* Compress raw[0, len) holding w->count records and write it as one frame. */
static int write_frame(tq_journal_writer *w, size_t len)
{
    uint8_t *h = w->out_buf;
    size_t z = ZSTD_compressCCtx(w->cctx, h + FRAME_HDR_SIZE, w->out_cap - FRAME_HDR_SIZE,
                                 w->raw, len, w->level);
    if (ZSTD_isError(z))
        return w->err = TQ_ERR_NOMEM; /* the bound is sized for it: only allocation fails */
    memcpy(h, frame_magic, 4);
    tq_le_put64(h + 4, w->frame_seq);
    tq_le_put32(h + 12, w->count);
    tq_le_put32(h + 16, (uint32_t)len);
    tq_le_put32(h + 20, (uint32_t)z);
    tq_le_put64(h + 24, XXH3_64bits(w->raw, len));
    tq_le_put32(h + 32, (uint32_t)XXH3_64bits(h + FRAME_HDR_SIZE, z));
    tq_le_put32(h + FRAME_HDR_SUM_AT, frame_hdr_sum(h, w->seed));
    int rc = write_all(w->fd, h, FRAME_HDR_SIZE + z);
    if (rc != TQ_OK) {
        /* Cut back to the last whole frame so the file stays a valid, shorter journal;
         * if even that fails, a reader sees a torn tail, which is the truth. */
        if (w->regular && ftruncate(w->fd, w->good_size) != 0) {
            /* nothing more to do: the reader will report the torn tail */
        }
        w->err = rc;
        return rc;
    }
    w->good_size += (off_t)(FRAME_HDR_SIZE + z);
    w->frame_seq += w->count;
    w->count = 0;
    return TQ_OK;
}

int tq_journal_add(tq_journal_writer *w, const tq_event *ev)
{
    if (w == NULL || ev == NULL)
        return TQ_ERR_INPUT;
    if (w->err)
        return w->err;
    size_t n = tq_record_encode(ev, w->raw + w->raw_len, TQ_RECORD_MAX);
    if (n == 0)
        return TQ_ERR_INPUT;
    if (w->raw_len > 0 && w->raw_len + n > w->frame_bytes) {
        int rc = write_frame(w, w->raw_len);
        if (rc != TQ_OK)
            return rc;
        memmove(w->raw, w->raw + w->raw_len, n);
        w->raw_len = 0;
    }
    w->raw_len += n;
    w->count++;
    w->next_seq++;
    return TQ_OK;
}

int tq_journal_finish(tq_journal_writer *w)
{
    if (w == NULL)
        return TQ_OK;
    int rc = w->err;
    if (rc == TQ_OK && w->count > 0)
        rc = write_frame(w, w->raw_len);
    if (!w->appending) {
        /* tq_out: fsync, rename over the target, fsync the directory; on failure the
         * temporary file is removed and the old journal stays. */
        if (rc == TQ_OK)
            rc = tq_out_commit(&w->out, NULL);
    } else {
        if (rc == TQ_OK && fsync(w->fd) != 0)
            rc = tq_errno(errno);
        if (rc != TQ_OK)
            writer_rollback(w);
        if (close(w->fd) != 0 && rc == TQ_OK)
            rc = tq_errno(errno);
        w->fd = -1;
    }
    writer_free(w);
    return rc;
}

void tq_journal_abandon(tq_journal_writer *w)
{
    if (w == NULL)
        return;
    writer_rollback(w);
    writer_free(w);
}

/* ---- reader --------------------------------------------------------------------- */

struct tq_journal_reader {
    int fd;
    int own_fd;
    int err;                 /* sticky: EOF, TORN, IO, or CORRUPT that lost the framing */
    uint8_t id[TQ_JOURNAL_ID_LEN];
    uint32_t version;
    uint32_t frame_max;      /* from the header (version 1: the cap) */
    uint64_t seed;
    uint64_t offset;         /* file offset of the next unconsumed byte */
    uint64_t index;          /* number of the next frame */
    uint64_t next_seq;       /* seq the next frame must start at */
    uint8_t *buf;            /* read buffer */
    size_t pos, len;
    /* next_event's state: the current frame, its bytes and a cursor over them */
    ZSTD_DCtx *dctx;
    uint8_t *zbuf, *raw;
    size_t zcap, rawcap;
    tq_frame_info cur;
    tq_frame_cursor cursor;
    int in_frame;
};

/* Read up to n bytes, through the buffer for small reads and straight into dst for
 * large ones.  @return bytes read (< n only at end of file), or -1 with r->err = IO. */
static ssize_t rd(tq_journal_reader *r, uint8_t *dst, size_t n)
{
    size_t got = 0;
    while (got < n) {
        if (r->pos < r->len) {
            size_t k = r->len - r->pos;
            if (k > n - got)
                k = n - got;
            memcpy(dst + got, r->buf + r->pos, k);
            r->pos += k;
            got += k;
            continue;
        }
        size_t want = n - got;
        uint8_t *to = want >= READ_BUF_SIZE ? dst + got : r->buf;
        size_t cap = want >= READ_BUF_SIZE ? want : READ_BUF_SIZE;
        ssize_t k = read(r->fd, to, cap);
        if (k < 0) {
            if (errno == EINTR)
                continue;
            r->err = TQ_ERR_IO;
            return -1;
        }
        if (k == 0)
            break;
        if (to == r->buf) {
            r->pos = 0;
            r->len = (size_t)k;
        } else {
            got += (size_t)k;
        }
    }
    r->offset += got;
    return (ssize_t)got;
}

/* A short file: TORN when what is there is the start of what should be (the writer
 * stopped), CORRUPT when it is not even that. */
static int short_read(const uint8_t *have, size_t got, const uint8_t *magic, size_t mlen)
{
    return memcmp(have, magic, got < mlen ? got : mlen) == 0 ? TQ_ERR_TORN : TQ_ERR_CORRUPT;
}

/* Check the version-dependent part of a sealed header (JOURNAL.md §2). */
static int header_fields(tq_journal_reader *r, const uint8_t *h, tq_diag *d)
{
    uint32_t version = tq_le_get32(h + 8), fmax = tq_le_get32(h + 20);
    if ((version != 1 && version != 2) || tq_le_get32(h + 12) != FILE_HDR_SIZE ||
        tq_le_get32(h + 16) != 0 || tq_le_get64(h + 48) != 0 || (version == 1 && fmax != 0)) {
        tq_diag_set(d, "(header)", "format version %u with header size %u and flags %#x "
                    "(this reader knows versions 1 and 2)", version, tq_le_get32(h + 12),
                    tq_le_get32(h + 16));
        return TQ_ERR_VERSION;
    }
    /* Version 1 had no limit in its header: frames are held to the reader's cap. */
    if (version == 1)
        fmax = TQ_JOURNAL_FRAME_MAX;
    if (fmax > TQ_JOURNAL_FRAME_MAX) {
        tq_diag_set(d, "(header)", "frame_max %u bytes is over this reader's limit of %u "
                    "bytes (%u MiB)", fmax, TQ_JOURNAL_FRAME_MAX, TQ_JOURNAL_FRAME_MAX >> 20);
        return TQ_ERR_LIMIT;
    }
    if (fmax < TQ_RECORD_MAX) {
        tq_diag_set(d, "(header)", "frame_max %u bytes is under the largest record (%u): "
                    "no writer writes that", fmax, TQ_RECORD_MAX);
        return TQ_ERR_CORRUPT;
    }
    r->version = version;
    r->frame_max = fmax;
    return TQ_OK;
}

static int reader_init(tq_journal_reader *r, tq_diag *d)
{
    uint8_t h[FILE_HDR_SIZE];
    ssize_t got = rd(r, h, sizeof h);
    if (got < 0) {
        tq_diag_set(d, "(header)", "read error: %s", strerror(errno));
        return TQ_ERR_IO;
    }
    if ((size_t)got < sizeof h) {
        int rc = short_read(h, (size_t)got, file_magic, sizeof file_magic);
        tq_diag_set(d, "(header)", "%s", rc == TQ_ERR_TORN ? "file ends inside the header"
                                                           : "not a journal (bad magic)");
        return rc;
    }
    if (memcmp(h, file_magic, sizeof file_magic) != 0)
        return tq_diag_set(d, "(header)", "not a journal (bad magic)"), TQ_ERR_CORRUPT;
    /* Checksum before version: a flipped version byte is damage, not a newer format.
     * Every version keeps the magic, the version and this checksum where they are. */
    if (tq_le_get64(h + FILE_HDR_SUM_AT) != XXH3_64bits(h, FILE_HDR_SUM_AT))
        return tq_diag_set(d, "(header)", "header checksum mismatch"), TQ_ERR_CORRUPT;
    int rc = header_fields(r, h, d);
    if (rc != TQ_OK)
        return rc;
    memcpy(r->id, h + 24, TQ_JOURNAL_ID_LEN);
    r->seed = id_seed(r->id);
    r->next_seq = 1;
    return TQ_OK;
}

static int open_fd(int fd, tq_journal_reader **out, tq_diag *d)
{
    if (out == NULL)
        return TQ_ERR_INPUT;
    *out = NULL;
    tq_journal_reader *r = calloc(1, sizeof *r);
    if (r == NULL)
        return TQ_ERR_NOMEM;
    r->fd = fd;
    r->buf = malloc(READ_BUF_SIZE);
    if (r->buf == NULL) {
        free(r);
        return TQ_ERR_NOMEM;
    }
    int rc = reader_init(r, d);
    if (rc != TQ_OK) {
        tq_journal_close(r);
        return rc;
    }
    *out = r;
    return TQ_OK;
}

int tq_journal_open_fd(int fd, tq_journal_reader **out) { return open_fd(fd, out, NULL); }

int tq_journal_open_diag(const char *path, tq_journal_reader **out, tq_diag *d)
{
    if (path == NULL || out == NULL)
        return TQ_ERR_INPUT;
    *out = NULL;
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        int e = errno;
        tq_diag_set(d, "(journal)", "%s", strerror(e));
        return e == EACCES || e == EPERM ? TQ_ERR_PERM : TQ_ERR_IO;
    }
    int rc = open_fd(fd, out, d);
    if (rc != TQ_OK) {
        close(fd);
        return rc;
    }
    (*out)->own_fd = 1;
    return TQ_OK;
}

int tq_journal_open(const char *path, tq_journal_reader **out)
{
    return tq_journal_open_diag(path, out, NULL);
}

void tq_journal_close(tq_journal_reader *r)
{
    if (r == NULL)
        return;
    if (r->own_fd)
        close(r->fd);
    ZSTD_freeDCtx(r->dctx);
    free(r->buf);
    free(r->zbuf);
    free(r->raw);
    free(r);
}

uint32_t tq_journal_frame_max(const tq_journal_reader *r) { return r ? r->frame_max : 0; }

uint32_t tq_journal_version(const tq_journal_reader *r) { return r ? r->version : 0; }

const uint8_t *tq_journal_id(const tq_journal_reader *r) { return r ? r->id : NULL; }

/* Read exactly n payload bytes into *buf, growing it as the bytes arrive.
 * @return TQ_OK, TQ_ERR_TORN (file ended), TQ_ERR_IO, TQ_ERR_NOMEM. */
static int read_payload(tq_journal_reader *r, size_t n, uint8_t **buf, size_t *cap)
{
    size_t got = 0;
    while (got < n) {
        size_t step = n - got;
        size_t grow = got > PAYLOAD_CHUNK ? got : PAYLOAD_CHUNK;
        if (step > grow)
            step = grow;
        if (*cap < got + step || *buf == NULL) {
            size_t nc = got + step;
            if (*cap > nc)
                nc = *cap;
            uint8_t *nb = realloc(*buf, nc);
            if (nb == NULL)
                return TQ_ERR_NOMEM;
            *buf = nb;
            *cap = nc;
        }
        ssize_t k = rd(r, *buf + got, step);
        if (k < 0)
            return TQ_ERR_IO;
        got += (size_t)k;
        if ((size_t)k < step)
            return TQ_ERR_TORN;
    }
    return TQ_OK;
}

/* Step over n payload bytes through the read buffer: nothing is allocated.
 * @return TQ_OK, TQ_ERR_TORN (file ended), TQ_ERR_IO. */
static int skip_payload(tq_journal_reader *r, size_t n)
{
    while (n > 0) {
        if (r->pos == r->len) {
            ssize_t k;
            do
                k = read(r->fd, r->buf, READ_BUF_SIZE);
            while (k < 0 && errno == EINTR);
            if (k < 0)
                return TQ_ERR_IO;
            if (k == 0)
                return TQ_ERR_TORN;
            r->pos = 0;
            r->len = (size_t)k;
        }
        size_t k = r->len - r->pos < n ? r->len - r->pos : n;
        r->pos += k;
        r->offset += k;
        n -= k;
    }
    return TQ_OK;
}

int tq_journal_read_frame(tq_journal_reader *r, tq_frame_info *info, uint8_t **buf,
                          size_t *cap)
{
    if (r == NULL || info == NULL || buf == NULL || cap == NULL)
        return TQ_ERR_INPUT;
    memset(info, 0, sizeof *info);
    info->index = r->index;
    info->offset = r->offset;
    info->first_seq = r->next_seq;
    if (r->err)
        return r->err;

    uint8_t h[FRAME_HDR_SIZE];
    ssize_t got = rd(r, h, sizeof h);
    if (got < 0)
        return r->err;
    if (got == 0)
        return r->err = TQ_ERR_EOF;
    if ((size_t)got < sizeof h)
        return r->err = short_read(h, (size_t)got, frame_magic, sizeof frame_magic);
    if (memcmp(h, frame_magic, 4) != 0 ||
        tq_le_get32(h + FRAME_HDR_SUM_AT) != frame_hdr_sum(h, r->seed))
        return r->err = TQ_ERR_CORRUPT;

    info->first_seq = tq_le_get64(h + 4);
    info->count = tq_le_get32(h + 12);
    info->raw_size = tq_le_get32(h + 16);
    info->zsize = tq_le_get32(h + 20);
    info->checksum = tq_le_get64(h + 24);
    info->zchecksum = tq_le_get32(h + 32);
    info->frame_max = r->frame_max;
    if (info->first_seq > UINT64_MAX - info->count)
        return r->err = TQ_ERR_CORRUPT;
    /* A count no raw_size can hold (or none at all) says the header's seq range is
     * not what the writer wrote: the frames after it cannot be placed in the sequence,
     * so this is damage to the framing, like a bad header, and not skippable.  The
     * range reported is the one the frame should have started at, never the claim. */
    if (info->count == 0 || info->count > info->raw_size / TQ_RECORD_MIN) {
        info->first_seq = r->next_seq;
        info->count = 0;
        return r->err = TQ_ERR_CORRUPT;
    }

    /* A sealed header that breaks the journal's limits (a decompression bomb) still
     * frames correctly: its payload is stepped over
     * without being kept, and frame_decode refuses the frame from its header alone, so
     * the frame is corrupt on its own and the frames after it stay reachable.  Any
     * failure while reading leaves the stream mid-payload, so it is final. */
    int rc = frame_impossible(info) ? skip_payload(r, info->zsize)
                                    : read_payload(r, info->zsize, buf, cap);
    if (rc != TQ_OK)
        return r->err = rc;
    /* A sound header whose range does not follow means frames were lost, duplicated or
     * spliced in: the sequence cannot be trusted past this point, so it ends reading
     * like any other bad header.  (Payload damage is frame_decode's to find; the
     * framing survives it and the reader goes on.) */
    if (info->first_seq != r->next_seq)
        return r->err = TQ_ERR_CORRUPT;
    r->index++;
    r->next_seq = info->first_seq + info->count;
    return TQ_OK;
}

static int frame_decode_ctx(ZSTD_DCtx *dctx, const tq_frame_info *info, const uint8_t *zbuf,
                            uint8_t **out, size_t *cap)
{
    /* Before zbuf is touched: read_frame did not keep the payload of such a frame. */
    if (frame_impossible(info) || zbuf == NULL)
        return TQ_ERR_CORRUPT;
    /* The payload checksum first: it is cheap, and it catches damage zstd would not
     * notice (a zstd frame header has a bit that decoders ignore). */
    if ((uint32_t)XXH3_64bits(zbuf, info->zsize) != info->zchecksum)
        return TQ_ERR_CORRUPT;
    /* The zstd frame must be exactly one frame of exactly raw_size bytes; checking
     * this before allocating keeps a forged size from costing memory. */
    if (ZSTD_getFrameContentSize(zbuf, info->zsize) != info->raw_size ||
        ZSTD_findFrameCompressedSize(zbuf, info->zsize) != info->zsize)
        return TQ_ERR_CORRUPT;
    if (*cap < info->raw_size || *out == NULL) {
        uint8_t *nb = realloc(*out, info->raw_size);
        if (nb == NULL)
            return TQ_ERR_NOMEM;
        *out = nb;
        *cap = info->raw_size;
    }
    size_t n = ZSTD_decompressDCtx(dctx, *out, info->raw_size, zbuf, info->zsize);
    if (ZSTD_isError(n)) {
        if (ZSTD_getErrorCode(n) == ZSTD_error_memory_allocation)
            return TQ_ERR_NOMEM;
        return TQ_ERR_CORRUPT;
    }
    if (n != info->raw_size || XXH3_64bits(*out, n) != info->checksum)
        return TQ_ERR_CORRUPT;
    return TQ_OK;
}

int tq_journal_frame_decode(const tq_frame_info *info, const uint8_t *zbuf, uint8_t **out,
                            size_t *cap)
{
    if (info == NULL || out == NULL || cap == NULL)
        return TQ_ERR_INPUT;
    ZSTD_DCtx *dctx = ZSTD_createDCtx();
    if (dctx == NULL)
        return TQ_ERR_NOMEM;
    int rc = frame_decode_ctx(dctx, info, zbuf, out, cap);
    ZSTD_freeDCtx(dctx);
    return rc;
}

void tq_frame_cursor_init(tq_frame_cursor *c, const tq_frame_info *info, const uint8_t *raw)
{
    c->p = raw;
    c->end = raw + info->raw_size;
    c->next_seq = info->first_seq;
    c->left = info->count;
}

int tq_frame_cursor_next(tq_frame_cursor *c, tq_event *ev)
{
    if (c->left == 0)
        return c->p == c->end ? TQ_ERR_EOF : TQ_ERR_CORRUPT;
    size_t n = c->p < c->end ? tq_record_decode(c->p, (size_t)(c->end - c->p), ev) : 0;
    /* The last record must end exactly at the end of the frame; checked before the
     * event is handed out so a frame is never half believed. */
    if (n == 0 || (c->left == 1 && n != (size_t)(c->end - c->p))) {
        c->p = c->end;
        c->left = 1; /* stays corrupt: p == end with records still owed */
        return TQ_ERR_CORRUPT;
    }
    ev->seq = c->next_seq++;
    c->p += n;
    c->left--;
    return TQ_OK;
}

int tq_journal_next_event(tq_journal_reader *r, tq_event *ev, tq_frame_info *info)
{
    if (r == NULL || ev == NULL)
        return TQ_ERR_INPUT;
    for (;;) {
        if (r->in_frame) {
            int rc = tq_frame_cursor_next(&r->cursor, ev);
            if (rc != TQ_ERR_EOF) {
                if (rc != TQ_OK)
                    r->in_frame = 0;
                if (info)
                    *info = r->cur;
                return rc;
            }
            r->in_frame = 0;
        }
        int rc = tq_journal_read_frame(r, &r->cur, &r->zbuf, &r->zcap);
        if (rc == TQ_OK) {
            if (r->dctx == NULL && (r->dctx = ZSTD_createDCtx()) == NULL)
                rc = TQ_ERR_NOMEM;
            else
                rc = frame_decode_ctx(r->dctx, &r->cur, r->zbuf, &r->raw, &r->rawcap);
        }
        if (rc != TQ_OK) {
            if (info)
                *info = r->cur;
            return rc;
        }
        tq_frame_cursor_init(&r->cursor, &r->cur, r->raw);
        r->in_frame = 1;
    }
}
