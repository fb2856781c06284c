/* tq_journal.h - the journal file: zstd frames of binary event records.
 *
 * A journal is a header (magic, format version, a 16-byte journal id) followed by
 * frames.  Each frame holds a run of consecutive events (first seq, record count), is
 * compressed on its own with zstd, and carries an XXH3-64 checksum of its uncompressed
 * content, a checksum of its compressed bytes and one of its own header, so that:
 *   - any flipped byte is detected (file header checksum; frame header checksum;
 *     payload checksum, zstd, then content checksum);
 *   - a file that ends inside a frame (the writer died mid-frame) is reported as a
 *     torn tail (TQ_ERR_TORN), distinct from corruption (TQ_ERR_CORRUPT);
 *   - frames can be found by reading headers only and seeking over payloads, so later
 *     stages can decompress frames in parallel (tq_journal_read_frame() hands out the
 *     compressed bytes; tq_journal_frame_decode() may run on any thread).
 * The byte layout is specified in formats/JOURNAL.md.
 *
 * Records inside a frame use the compact encoding of tq_record_encode().
 *
 * Conventions for every function below.  Errors: TQ_OK or a negative TQ_ERR_*
 * (formats/tq_error.h), each listed where declared; the record codec returns sizes (0
 * for "not valid").  Ownership: a writer or reader handed out in *out belongs to the
 * caller until tq_journal_finish()/tq_journal_abandon() or tq_journal_close() frees
 * it; buffers passed as (uint8_t **buf, size_t *cap) are the caller's, grown with
 * realloc and freed with free(); every other pointer is borrowed for the call only.
 * Threads: the record codec, tq_journal_frame_decode() and a tq_frame_cursor need no
 * shared state and run on any thread; a writer or a reader is used by one thread at a
 * time; tq_journal_verify() runs on any thread.
 */
#ifndef TQ_JOURNAL_H
#define TQ_JOURNAL_H

#include <stddef.h>
#include <stdint.h>

#include "tq_error.h"
#include "tq_event.h"
#include "tq_lock.h"

#define TQ_JOURNAL_VERSION 2                   /* written; versions 1 and 2 are read */
#define TQ_JOURNAL_ID_LEN 16
#define TQ_JOURNAL_FRAME_DEFAULT (1u << 20)    /* uncompressed bytes per frame */
/* TQ_JOURNAL_FRAME_MAX - the reader's cap: the largest frame_max a journal header may
 * declare (TQ_ERR_LIMIT above it) and the implied frame_max of a version-1 journal.
 * Why 8 MiB: a reader holds a frame's raw and compressed bytes, and the replay pipeline
 * holds several frames per thread, so this is the unit its memory is budgeted in; it is
 * 8 times the default frame, and larger frames buy nothing (zstd's window at the levels
 * used is 1-8 MiB, and a frame is the unit of parallel decoding). */
#define TQ_JOURNAL_FRAME_MAX (8u << 20)
#define TQ_RECORD_MAX 8192                     /* largest encoded record */
#define TQ_RECORD_MIN 6                        /* smallest record: a CANCEL (tag, decl_no) */

/* ---- records ---------------------------------------------------------------- */

/* tq_record_encode() - encode ev (seq excluded: it follows from the frame) into out.
 * The event is checked as strictly as tq_record_decode() checks a record, so that what
 * is written always reads back; for DECL, ev->registered must be the instant that
 * ev->registered_at denotes.  ev->has's TQ_HAS_SEQ is ignored.
 * @return bytes written (> 0), or 0 when cap is too small (TQ_RECORD_MAX always fits)
 *         or the event is invalid.  No allocation; thread-safe. */
size_t tq_record_encode(const tq_event *ev, uint8_t *out, size_t cap);

/* tq_record_decode() - decode one record from [p, p+n) into ev (ev->seq is not set).
 * Every length and value is checked as strictly as the NDJSON parser checks it, and
 * only the canonical encoding is accepted: decode(x) = e implies encode(e) = x.
 * Members that do not apply to the kind are zeroed; lines[nlines..] are left as they
 * were.  Never reads outside [p, p+n).
 * @return bytes consumed (> 0), or 0 when the bytes are not a valid record.
 *         No allocation; thread-safe. */
size_t tq_record_decode(const uint8_t *p, size_t n, tq_event *ev);

/* ---- writing ---------------------------------------------------------------- */

typedef struct tq_journal_writer tq_journal_writer;

enum {
    TQ_JOURNAL_NO_CLOBBER = 1u << 0,  /* create: an existing regular file is TQ_ERR_EXISTS */
    TQ_JOURNAL_NO_LOCK = 1u << 1      /* the caller guarantees it is the only writer (a
                                       * private file): no PATH.lock is taken */
};

typedef struct tq_journal_write_opts {
    size_t frame_bytes;      /* uncompressed bytes per frame; 0 = default; clamped to
                              * TQ_JOURNAL_FRAME_MAX (and on append to the journal's
                              * frame_max) */
    int level;               /* zstd level; 0 = default (3) */
    unsigned flags;          /* TQ_JOURNAL_* */
    const char *command;     /* written into the lock as the holder; NULL: a default */
    tq_diag *diag;           /* out, may be NULL: why an open failed (field "(lock)",
                              * "(output)", "(journal)", "(header)" or "(frame)") */
    tq_lock_holder *busy;    /* out, may be NULL: who holds the lock on TQ_ERR_BUSY */
} tq_journal_write_opts;

/* Writers.  Every writer of a journal at PATH holds PATH.lock (tq_lock) from open to
 * finish/abandon, so two writers never interleave (a second gets TQ_ERR_BUSY at once,
 * with the holder), and a writer's work is all or nothing: finish publishes it, abandon
 * or any failure undoes it.  Threads: a writer is used by one thread. */

/* tq_journal_create() - write a new journal at path with a fresh random journal id and
 * a version-2 header.  The journal is written through tq_out: into a temporary file
 * beside path that tq_journal_finish() fsyncs and renames over path (then fsyncs the
 * directory), so an existing journal stays whole until the new one is complete and a
 * failure or a signal leaves no trace; "-", /dev/stdout, a device or a FIFO are written
 * in place as a stream (no lock is taken for those).  With TQ_JOURNAL_NO_CLOBBER an
 * existing regular file is refused.  opts may be NULL.
 * @return TQ_OK, TQ_ERR_BUSY (another writer holds PATH.lock; nothing touched),
 *         TQ_ERR_EXISTS, TQ_ERR_PERM, TQ_ERR_INPUT (a directory, or a link or FIFO
 *         planted at PATH.lock), TQ_ERR_IO, TQ_ERR_FULL, TQ_ERR_NOMEM. */
TQ_MUST_USE int tq_journal_create(const char *path, const tq_journal_write_opts *opts,
                      tq_journal_writer **out);

/* tq_journal_append() - extend the journal at path in place: the lock is taken, then
 * its frames are read, decompressed and every record decoded; seq continues after its
 * last event, the id and header are kept, new frames go after the last one (no frame
 * larger than the header's frame_max).  path must be a regular file, not a symbolic
 * link.  Abandoning, or a failed finish, cuts the file back to its size before.
 * @return TQ_OK, TQ_ERR_NOTFOUND (no such file: no lock file is made either),
 *         TQ_ERR_BUSY, TQ_ERR_INPUT (not a regular file), TQ_ERR_PERM, TQ_ERR_IO,
 *         TQ_ERR_CORRUPT or TQ_ERR_TORN (an appender never writes after a damaged
 *         tail), TQ_ERR_VERSION, TQ_ERR_LIMIT, TQ_ERR_NOMEM. */
TQ_MUST_USE int tq_journal_append(const char *path, const tq_journal_write_opts *opts,
                      tq_journal_writer **out);

/* tq_journal_next_seq() - the seq the next added event gets (1 for a new journal, the
 * last seq + 1 on append).  Never fails; w must be a live writer. */
uint64_t tq_journal_next_seq(const tq_journal_writer *w);

/* tq_journal_add() - add one event; its seq is assigned by the writer (ev->seq ignored).
 * A frame is written when it reaches the configured size.  @return TQ_OK, TQ_ERR_IO,
 * TQ_ERR_FULL, TQ_ERR_INPUT (the event cannot be encoded). */
TQ_MUST_USE int tq_journal_add(tq_journal_writer *w, const tq_event *ev);

/* tq_journal_finish() - write the last partial frame, fsync, and publish: a created
 * journal is renamed into place (directory fsynced), an append is synced.  Then the
 * lock is released and w freed (either way).  NULL does nothing.
 * On failure nothing is published: the temporary file is removed, an append is cut
 * back to the journal's size before it (best effort).  After any failed write every
 * later add/finish returns the same error.
 * @return TQ_OK, TQ_ERR_IO, TQ_ERR_FULL, TQ_ERR_PERM, TQ_ERR_NOMEM. */
TQ_MUST_USE int tq_journal_finish(tq_journal_writer *w);

/* tq_journal_abandon() - undo and free: a created journal never appears (its temporary
 * file is removed; the old file at path is untouched), an append is cut back to the
 * journal's size before it.  The lock is released.  NULL does nothing. */
void tq_journal_abandon(tq_journal_writer *w);

/* ---- reading ---------------------------------------------------------------- */

/* A reader is used by one thread at a time; what it hands out (frame bytes in the
 * caller's buffer, tq_frame_info) may go to other threads for tq_journal_frame_decode()
 * and a tq_frame_cursor of their own. */
typedef struct tq_journal_reader tq_journal_reader;

typedef struct tq_frame_info {
    uint64_t index;          /* 0-based frame number */
    uint64_t offset;         /* byte offset of the frame header in the file */
    uint64_t first_seq;      /* seq of its first record */
    uint32_t count;          /* records in it */
    uint32_t raw_size;       /* uncompressed bytes */
    uint32_t zsize;          /* compressed bytes */
    uint64_t checksum;       /* XXH3-64 of the uncompressed bytes */
    uint32_t zchecksum;      /* low 32 bits of XXH3-64 of the compressed bytes */
    uint32_t frame_max;      /* the journal's frame_max (0: TQ_JOURNAL_FRAME_MAX) */
} tq_frame_info;

/* tq_journal_open() - open and check the header.  @return TQ_OK, TQ_ERR_IO,
 * TQ_ERR_PERM, TQ_ERR_CORRUPT (bad magic or header checksum, or a frame_max under
 * TQ_RECORD_MAX), TQ_ERR_TORN (file shorter than a header and what is there is a prefix
 * of the magic), TQ_ERR_VERSION (a checksummed header of another version, or with flags
 * this version does not know), TQ_ERR_LIMIT (the header's frame_max is over
 * TQ_JOURNAL_FRAME_MAX: this reader will not hold frames that large). */
TQ_MUST_USE int tq_journal_open(const char *path, tq_journal_reader **out);

/* tq_journal_open_diag() - tq_journal_open() that also says why in d (may be NULL):
 * field "(journal)" or "(header)", and for TQ_ERR_LIMIT the values. */
TQ_MUST_USE int tq_journal_open_diag(const char *path, tq_journal_reader **out, tq_diag *d);

/* tq_journal_open_fd() - the same on an fd open for reading at the start of a journal
 * (a pipe works: the reader only reads forward).  The fd stays the caller's: close it
 * after tq_journal_close(). */
TQ_MUST_USE int tq_journal_open_fd(int fd, tq_journal_reader **out);  /* as _open */

/* tq_journal_close() - close the file (not an fd given to tq_journal_open_fd()) and
 * free r.  NULL does nothing. */
void tq_journal_close(tq_journal_reader *r);

/* tq_journal_id() - the journal's 16-byte id (valid while r is open; NULL for NULL). */
const uint8_t *tq_journal_id(const tq_journal_reader *r);

/* tq_journal_frame_max() - the largest raw_size any frame of this journal may have
 * (from its header; TQ_JOURNAL_FRAME_MAX for a version-1 journal), never more than
 * TQ_JOURNAL_FRAME_MAX.  A frame over it is corrupt.  What a reader that holds several
 * frames budgets per frame: raw frame_max plus ZSTD_compressBound(frame_max).
 * 0 for NULL. */
uint32_t tq_journal_frame_max(const tq_journal_reader *r);

/* tq_journal_version() - the header's format version (1 or 2); 0 for NULL. */
uint32_t tq_journal_version(const tq_journal_reader *r);

/* tq_journal_read_frame() - read the next frame's header and compressed bytes into a
 * buffer owned by the caller (*buf of *cap bytes, grown with realloc as needed; free it
 * with free()).  Frames must follow each other: the first starts at seq 1 and frame i+1
 * at first_seq(i)+count(i).
 * @return TQ_OK, TQ_ERR_EOF after the last frame, TQ_ERR_TORN when the file ends inside
 *         a frame, TQ_ERR_CORRUPT for a bad header (info->index and offset name it, and
 *         the seq range is filled where the header could still be read: when the header
 *         checksum fails, first_seq is the seq the frame should have started at and
 *         count is 0; when the header is sound but its seq range does not follow the
 *         previous frame, the range it claims), TQ_ERR_IO, TQ_ERR_NOMEM.
 *         EOF, TORN, IO and CORRUPT are sticky: returned again on every later call.
 *         The payload is not checked here (tq_journal_frame_decode() does that), so a
 *         damaged payload does not stop the reader from reaching the frames after it.
 *         A sealed header that breaks the journal's size limits (raw_size over
 *         frame_max, zsize over ZSTD_compressBound(frame_max)) is returned TQ_OK
 *         WITHOUT its payload: the bytes are stepped over, *buf is left as it was and
 *         nothing is allocated for it, and tq_journal_frame_decode() refuses it
 *         (TQ_ERR_CORRUPT) from info alone, so it is skippable like any corrupt payload.
 *         A count that raw_size cannot hold (0, or over raw_size / TQ_RECORD_MIN) is
 *         framing damage: sticky TQ_ERR_CORRUPT, first_seq where the frame should have
 *         started, count 0. */
TQ_MUST_USE int tq_journal_read_frame(tq_journal_reader *r, tq_frame_info *info,
                                      uint8_t **buf, size_t *cap);

/* After TQ_ERR_CORRUPT on a payload (see frame_decode) nothing is needed to go on: the
 * reader is already past it.  After a corrupt header the reader cannot find the next
 * frame and returns TQ_ERR_CORRUPT again. */

/* tq_journal_frame_decode() - check the payload checksum, decompress zbuf (info->zsize
 * bytes) into *out (grown with realloc, owned by the caller) and check the content
 * checksum; on TQ_OK, (*out)[0, info->raw_size) is the frame's records.  On
 * TQ_ERR_CORRUPT the frame is bad but the reader is already past it.  Thread-safe:
 * needs no reader, so frames read by one thread can be decoded on others.  Records are not decoded here (the cursor
 * does that).  The limits (see read_frame) are checked first, from info alone, before
 * zbuf is read or *out grown.  @return TQ_OK, TQ_ERR_CORRUPT, TQ_ERR_NOMEM. */
TQ_MUST_USE int tq_journal_frame_decode(const tq_frame_info *info, const uint8_t *zbuf,
                            uint8_t **out, size_t *cap);

/* tq_frame_cursor - walks the records of a decoded frame. */
typedef struct tq_frame_cursor {
    const uint8_t *p, *end;
    uint64_t next_seq;
    uint32_t left;
} tq_frame_cursor;

/* tq_frame_cursor_init() - start c at the first record of raw, a frame decoded by
 * tq_journal_frame_decode() (info->raw_size bytes).  raw is borrowed: it must outlive
 * the walk.  Cannot fail (a bad record shows at tq_frame_cursor_next()). */
void tq_frame_cursor_init(tq_frame_cursor *c, const tq_frame_info *info, const uint8_t *raw);

/* tq_frame_cursor_next() - @return TQ_OK with ev filled (ev->seq set), TQ_ERR_EOF when
 * all info->count records were read and the bytes are used up exactly, TQ_ERR_CORRUPT
 * otherwise. */
TQ_MUST_USE int tq_frame_cursor_next(tq_frame_cursor *c, tq_event *ev);

/* tq_journal_next_event() - convenience stream over all events (frames read and decoded
 * one at a time; memory bounded by one frame).  *info (may be NULL) describes the frame
 * of the event, or on error the frame at fault.  @return TQ_OK, TQ_ERR_EOF at the end,
 * or the error of read_frame/frame_decode/cursor_next.  After TQ_ERR_CORRUPT from
 * frame_decode or the cursor, the next call goes on with the following frame (what
 * --skip-corrupt needs); after one from read_frame it returns TQ_ERR_CORRUPT again.
 * A record that fails to decode in a frame whose checksum matched (only a forged or buggy writer can do that) is found when the cursor reaches
 * it, so the events before it in that frame have already been returned. */
TQ_MUST_USE int tq_journal_next_event(tq_journal_reader *r, tq_event *ev,
                                      tq_frame_info *info);

/* ---- verifying -------------------------------------------------------------- */

typedef struct tq_verify_result {
    int opened;              /* the header was read (id, version, frame_max are set) */
    int status;              /* what tq_journal_verify() returned */
    uint8_t id[TQ_JOURNAL_ID_LEN];
    uint32_t version, frame_max;
    uint64_t frames, events;          /* complete, sound frames before any fault */
    uint64_t zbytes, rawbytes;        /* their compressed and uncompressed sizes */
    uint64_t first_seq, last_seq;     /* their seq range (0, 0 when none) */
    uint64_t file_size;
    tq_frame_info bad;                /* the frame at fault (TORN: offset and index) */
} tq_verify_result;

/* tq_journal_verify() - read the whole journal at path and check everything a replay
 * would: header, every frame's header, payload and content checksums, zstd, the seq
 * rule and every record.  Stops at the first fault.  Memory: one frame.
 * @return TQ_OK (reads to a clean end), or the fault: TQ_ERR_TORN (res->bad.offset
 *         where the writer stopped), TQ_ERR_CORRUPT (res->bad names the frame),
 *         TQ_ERR_VERSION, TQ_ERR_LIMIT, TQ_ERR_IO, TQ_ERR_PERM, TQ_ERR_NOMEM; d (may be
 *         NULL) says why.  res is filled in every case.  Thread-safe on distinct
 *         results. */
TQ_MUST_USE int tq_journal_verify(const char *path, tq_verify_result *res, tq_diag *d);

#endif
