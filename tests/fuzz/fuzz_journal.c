/* fuzz_journal.c - libFuzzer target for the journal reader (and append on what it accepts).
 *
 * Checksums stop a mutating fuzzer at the first header, so the first input byte picks
 * how the rest becomes a journal file:
 *   mode 0 (and 3): as it is (exercises magic, header, torn/corrupt classification);
 *   mode 1: as it is, but the harness re-seals every checksum it can find: the file
 *           header, each frame header, the payload checksum, and (when the payload
 *           decompresses) raw_size and the content checksum; bit 2 also sets each
 *           frame's first_seq to the expected one.  This reaches zstd and the records;
 *   mode 2: the rest is a stream of records; the harness cuts it into frames at record
 *           boundaries (frame size from the second byte), compresses and seals them, and
 *           bit 2 makes one frame's count wrong.  This reaches the cursor with any
 *           record bytes.
 * The file lives in a memfd.  The reader must never crash or leak; whenever it reads
 * the file to a clean EOF, appending one event must work and read back with seq + 1
 * (in a real file under $TMPDIR: an appender takes J.tqj.lock beside the journal and
 * refuses links such as /proc/self/fd/N).  Headers may be of version 1 (no frame_max)
 * or 2 (frame_max at byte 20): mode 2 picks from the second byte's top bit, and its
 * frame_max is small enough that big record streams make frames over it.
 * The harness writes the layout of formats/JOURNAL.md on its own, so it also checks
 * that document against the code.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <fcntl.h>
#include <sys/mman.h>
#include <unistd.h>

#include <xxhash.h>
#include <zstd.h>

#include "tq_buf.h"
#include "tq_journal.h"

#define HDR 64
#define FHDR 40
#define RAW_LIMIT (1u << 20)

static void seal_file_header(uint8_t *b) { tq_le_put64(b + 56, XXH3_64bits(b, 56)); }

static void seal_frame_header(uint8_t *h, const uint8_t *file)
{
    tq_le_put32(h + 36, (uint32_t)XXH3_64bits_withSeed(h, 36, tq_le_get64(file + 24)));
}

/* mode 1: re-seal what is there, in place. */
static void reseal(uint8_t *b, size_t n, int fix_seq)
{
    if (n < HDR)
        return;
    seal_file_header(b);
    size_t at = HDR;
    uint64_t next = 1;
    static uint8_t raw[RAW_LIMIT]; /* static: a fresh megabyte per run costs more than the run */
    while (n - at >= FHDR) {
        uint8_t *h = b + at;
        uint32_t zsize = tq_le_get32(h + 20);
        if (fix_seq)
            tq_le_put64(h + 4, next);
        if (zsize <= n - at - FHDR) {
            const uint8_t *z = h + FHDR;
            size_t r = ZSTD_decompress(raw, RAW_LIMIT, z, zsize);
            if (!ZSTD_isError(r)) {
                tq_le_put32(h + 16, (uint32_t)r);
                tq_le_put64(h + 24, XXH3_64bits(raw, r));
            }
            tq_le_put32(h + 32, (uint32_t)XXH3_64bits(z, zsize));
        }
        seal_frame_header(h, b);
        next = tq_le_get64(h + 4) + tq_le_get32(h + 12);
        if (zsize > n - at - FHDR)
            break;
        at += FHDR + zsize;
    }
}

/* mode 2: build a sealed journal from a record stream.  @return malloc'd file. */
static uint8_t *build(const uint8_t *rec, size_t n, unsigned frame_hint, int bad_count,
                      size_t *outn)
{
    size_t frame_bytes = frame_hint & 0x80 ? 16 + (size_t)(frame_hint & 0x7f) * 128
                                           : 16 + (size_t)frame_hint * 8;
    size_t cap = HDR + (n + 1) * (FHDR + 128) + 2 * n; /* every frame takes >= 1 byte */
    uint8_t *f = calloc(1, cap);
    if (f == NULL)
        return NULL;
    static const uint8_t magic[8] = {0x89, 'T', 'Q', 'J', '\r', '\n', 0x1a, '\n'};
    memcpy(f, magic, 8);
    /* version 2 with a small frame_max (frames past it must be refused, skippably),
     * or version 1 (frames held to the reader's cap) */
    tq_le_put32(f + 8, frame_hint & 0x80 ? 2 : 1);
    tq_le_put32(f + 12, 64);
    if (frame_hint & 0x80)
        tq_le_put32(f + 20, 8192);
    memset(f + 24, 0x5a, 16);
    seal_file_header(f);
    size_t at = HDR, pos = 0, frame_no = 0;
    uint64_t seq = 1;
    static tq_event ev;
    while (pos < n) {
        /* take whole records up to frame_bytes; bytes that decode as nothing go in as
         * they are, closing the frame */
        size_t start = pos;
        uint32_t count = 0;
        while (pos < n && (pos == start || pos - start < frame_bytes)) {
            size_t k = tq_record_decode(rec + pos, n - pos, &ev);
            if (k == 0) {
                pos = n;
                count++;
                break;
            }
            pos += k;
            count++;
        }
        if (bad_count && frame_no == 1)
            count = count > 1 ? count - 1 : count + 1;
        uint8_t *h = f + at;
        size_t z = ZSTD_compress(h + FHDR, cap - at - FHDR, rec + start, pos - start, 1);
        if (ZSTD_isError(z))
            break;
        memcpy(h, "TQFR", 4);
        tq_le_put64(h + 4, seq);
        tq_le_put32(h + 12, count);
        tq_le_put32(h + 16, (uint32_t)(pos - start));
        tq_le_put32(h + 20, (uint32_t)z);
        tq_le_put64(h + 24, XXH3_64bits(rec + start, pos - start));
        tq_le_put32(h + 32, (uint32_t)XXH3_64bits(h + FHDR, z));
        seal_frame_header(h, f);
        at += FHDR + z;
        seq += count;
        frame_no++;
    }
    *outn = at;
    return f;
}

/* Read every event, going on past corrupt frames as --skip-corrupt would.
 * @return events read when the file reads to a clean EOF, -1 when open fails, -2 when
 *         anything was damaged. */
static int64_t read_all(int fd)
{
    lseek(fd, 0, SEEK_SET);
    tq_journal_reader *r;
    if (tq_journal_open_fd(fd, &r) != TQ_OK)
        return -1;
    static tq_event ev;
    tq_frame_info fi;
    int64_t got = 0;
    int damaged = 0, last_rc = 0;
    uint64_t last_off = UINT64_MAX;
    int rc;
    while ((rc = tq_journal_next_event(r, &ev, &fi)) != TQ_ERR_EOF) {
        if (rc == TQ_OK) {
            if (ev.seq < fi.first_seq || ev.seq - fi.first_seq >= fi.count)
                abort();
            got++;
            continue;
        }
        if (rc != TQ_ERR_CORRUPT && rc != TQ_ERR_TORN && rc != TQ_ERR_NOMEM)
            abort();
        damaged = 1;
        /* a sticky error comes back for the same place: the reader cannot go on */
        if (rc == last_rc && fi.offset == last_off)
            break;
        last_rc = rc;
        last_off = fi.offset;
    }
    tq_journal_close(r);
    return damaged ? -2 : got;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1 || size > (1u << 20))
        return 0;
    unsigned mode = data[0] & 3, flag = data[0] & 4;
    uint8_t *file = NULL;
    size_t n = 0;
    if (mode == 2) {
        if (size < 2)
            return 0;
        file = build(data + 2, size - 2, data[1], flag != 0, &n);
    } else {
        n = size - 1;
        file = malloc(n + 1);
        if (file != NULL) {
            memcpy(file, data + 1, n);
            if (mode == 1)
                reseal(file, n, flag != 0);
        }
    }
    if (file == NULL)
        return 0;
    int fd = memfd_create("fuzz_journal", 0);
    if (fd < 0 || write(fd, file, n) != (ssize_t)n) {
        free(file);
        if (fd >= 0)
            close(fd);
        return 0;
    }
    free(file);
    int64_t got = read_all(fd);
    if (got >= 0) {
        /* read to a clean end: appending must work and give the next seq */
        char path[512];
        const char *tmp = getenv("TMPDIR");
        snprintf(path, sizeof path, "%s/fuzz_journal.%ld.tqj", tmp ? tmp : "/tmp", (long)getpid());
        int out = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
        lseek(fd, 0, SEEK_SET);
        char chunk[65536];
        ssize_t k;
        while (out >= 0 && (k = read(fd, chunk, sizeof chunk)) > 0)
            if (write(out, chunk, (size_t)k) != k)
                abort();
        if (out < 0 || close(out) != 0)
            abort();
        close(fd);
        fd = open(path, O_RDONLY | O_CLOEXEC);
        tq_journal_writer *w;
        tq_journal_write_opts o = {.frame_bytes = 4096};
        if (tq_journal_append(path, &o, &w) != TQ_OK)
            abort();
        if (tq_journal_next_seq(w) != (uint64_t)got + 1)
            abort();
        static tq_event ev;
        memset(&ev, 0, sizeof ev);
        ev.ev = TQ_EV_CANCEL;
        memcpy(ev.decl_no, "103456789012", 13);
        if (tq_journal_add(w, &ev) != TQ_OK || tq_journal_finish(w) != TQ_OK)
            abort();
        if (read_all(fd) != got + 1)
            abort();
        unlink(path);
    }
    close(fd);
    return 0;
}
