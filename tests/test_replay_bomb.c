/* test_replay_bomb.c - memory is bounded by configuration, never by what a journal
 * claims (decompression bombs), and header-level damage is reported from the store's
 * mark, not from the damaged header.
 *
 * Journals are crafted byte by byte as formats/JOURNAL.md lays them out (sound header
 * checksums, so the reader accepts the headers), and the real binary replays them in a
 * child whose peak RSS (wait4's ru_maxrss) is checked:
 *   - bomb: 60 frames each of the largest raw size a journal may declare
 *     (TQ_JOURNAL_FRAME_MAX of zeros, which zstd holds in a few KiB) and claiming
 *     a record per 8 bytes: not records at all, so each frame is corrupt; and 40
 *     frames each claiming 64 MiB (over any journal's limit); replayed with and
 *     without --skip-corrupt;
 *   - cancels: a VALID journal of 3 maximum-size frames (TQ_JOURNAL_FRAME_MAX) of
 *     6-byte CANCEL records (11 million per frame at 64 MiB): replayed correctly.
 * at --threads 0, 1, 4 and 32; peak RSS must stay under 256 MiB (not checked under
 * AddressSanitizer, whose shadow memory and quarantine are not the program's) and the
 * outcome must be a clear error or a correct replay.
 *   - a frame header whose count is 0xFFFFFFFF (checksum recomputed): exit 5, the
 *     message says what is committed from the mark and that it cannot be skipped.
 */
#include <criterion/criterion.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>
#include <xxhash.h>
#include <zstd.h>

#include "tq_buf.h"
#include "tq_journal.h"
#include "tq_replay.h"

#define BOMB_RAW (64u << 20)          /* what the bomb's headers claim */
#define RAW_MAX TQ_JOURNAL_FRAME_MAX     /* the largest frame a journal may hold */
#define RSS_LIMIT_KIB (256u * 1024)

#if defined(__SANITIZE_ADDRESS__)
#define TQ_UNDER_ASAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define TQ_UNDER_ASAN 1
#endif
#endif
#ifndef TQ_UNDER_ASAN
#define TQ_UNDER_ASAN 0
#endif

static char work[64];

/* header_only() - a journal with its file header and no frame; returns the fd to
 * append frames to and the header-checksum seed (JOURNAL.md 3). */
static int header_only(const char *path, uint64_t *seed)
{
    tq_journal_writer *w;
    tq_journal_write_opts wo = {.frame_bytes = TQ_JOURNAL_FRAME_MAX};
    cr_assert_eq(tq_journal_create(path, &wo, &w), TQ_OK);
    cr_assert_eq(tq_journal_finish(w), TQ_OK);
    int fd = open(path, O_RDWR | O_APPEND);
    cr_assert_geq(fd, 0);
    uint8_t h[64];
    cr_assert_eq(pread(fd, h, sizeof h, 0), 64);
    *seed = 0;
    for (int i = 7; i >= 0; i--)
        *seed = (*seed << 8) | h[24 + i];
    return fd;
}

static void frame_header(uint8_t h[40], uint64_t seed, uint64_t first, uint32_t count,
                         uint32_t raw, uint32_t zsize, uint64_t content, uint32_t zsum)
{
    memcpy(h, "TQFR", 4);
    tq_le_put64(h + 4, first);
    tq_le_put32(h + 12, count);
    tq_le_put32(h + 16, raw);
    tq_le_put32(h + 20, zsize);
    tq_le_put64(h + 24, content);
    tq_le_put32(h + 32, zsum);
    tq_le_put32(h + 36, (uint32_t)XXH3_64bits_withSeed(h, 36, seed));
}

/* write_frames() - nframes frames of the same raw content, each claiming count
 * records. */
static void write_frames(const char *path, const uint8_t *raw, uint32_t rawn, uint32_t count,
                         int nframes)
{
    uint64_t seed;
    int fd = header_only(path, &seed);
    size_t cap = ZSTD_compressBound(rawn);
    uint8_t *z = malloc(cap);
    size_t zn = ZSTD_compress(z, cap, raw, rawn, 1);
    cr_assert(!ZSTD_isError(zn));
    uint64_t content = XXH3_64bits(raw, rawn);
    uint32_t zsum = (uint32_t)XXH3_64bits(z, zn);
    for (int i = 0; i < nframes; i++) {
        uint8_t h[40];
        frame_header(h, seed, 1 + (uint64_t)i * count, count, rawn, (uint32_t)zn, content,
                     zsum);
        cr_assert_eq(write(fd, h, sizeof h), 40);
        cr_assert_eq(write(fd, z, zn), (ssize_t)zn);
    }
    free(z);
    close(fd);
}

typedef struct run_result {
    int status;              /* exit status, or 128 + signal */
    long maxrss_kib;
    char err[2048];
} run_result;

/* run() - the binary with args, stdout to /dev/null, stderr kept. */
static void run(run_result *res, char *const argv[])
{
    char errpath[128];
    snprintf(errpath, sizeof errpath, "%s/stderr", work);
    pid_t pid = fork();
    cr_assert_geq(pid, 0);
    if (pid == 0) {
        int out = open("/dev/null", O_WRONLY);
        int err = open(errpath, O_WRONLY | O_CREAT | O_TRUNC, 0644);
        dup2(out, 1);
        dup2(err, 2);
        execv(TQ_BINARY, argv);
        _exit(127);
    }
    int st;
    struct rusage ru;
    cr_assert_eq(wait4(pid, &st, 0, &ru), pid);
    res->status = WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
    res->maxrss_kib = ru.ru_maxrss;
    FILE *f = fopen(errpath, "r");
    size_t n = f ? fread(res->err, 1, sizeof res->err - 1, f) : 0;
    res->err[n] = '\0';
    if (f)
        fclose(f);
}

static void replay(run_result *res, const char *journal, const char *threads, int skip,
                   const char *tag)
{
    char db[128];
    snprintf(db, sizeof db, "%s/db-%s-%s-%d", work, tag, threads, skip);
    char *argv[] = {"thongquan", "replay", (char *)journal, "--db", db, "--threads",
                    (char *)threads, "--no-sync", "--quiet", skip ? "--skip-corrupt" : NULL,
                    NULL};
    run(res, argv);
    fprintf(stderr, "%s --threads %s%s: exit %d, peak RSS %ld KiB\n", tag, threads,
            skip ? " --skip-corrupt" : "", res->status, res->maxrss_kib);
    if (!TQ_UNDER_ASAN)
        cr_assert_lt(res->maxrss_kib, RSS_LIMIT_KIB, "%s at %s threads: peak RSS %ld KiB",
                     tag, threads, res->maxrss_kib);
}

static void setup(void)
{
    snprintf(work, sizeof work, "/tmp/tqbomb.XXXXXX");
    cr_assert_not_null(mkdtemp(work));
}

static void teardown(void)
{
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", work);
    if (system(cmd) != 0)
        fprintf(stderr, "could not remove %s\n", work);
}

static const char *const thread_counts[] = {"0", "1", "4", "32"};

/* bomb() - nframes frames each claiming rawn bytes of zeros (which are no records),
 * replayed at every thread count with and without --skip-corrupt. */
static void bomb(const char *tag, uint32_t rawn, int nframes)
{
    char path[128], want[64];
    snprintf(path, sizeof path, "%s/%s.tqj", work, tag);
    uint8_t *zeros = calloc(1, rawn);
    cr_assert_not_null(zeros);
    write_frames(path, zeros, rawn, rawn / 8, nframes);
    free(zeros);
    snprintf(want, sizeof want, "skipped %d corrupt frames", nframes);
    for (size_t i = 0; i < sizeof thread_counts / sizeof *thread_counts; i++) {
        for (int skip = 0; skip <= 1; skip++) {
            run_result res;
            replay(&res, path, thread_counts[i], skip, tag);
            cr_assert_eq(res.status, 5, "exit %d: %s", res.status, res.err);
            if (!skip)
                cr_assert_not_null(strstr(res.err, "frame 0 "), "%s", res.err);
            else
                cr_assert_not_null(strstr(res.err, want), "%s", res.err);
        }
    }
}

/* 60 frames of the largest size a journal may declare: without a pool bounded in
 * bytes, 32 workers hold dozens of them decompressed at once. */
Test(replay_bomb, frames_of_the_largest_size_each, .init = setup, .fini = teardown,
     .timeout = 300)
{
    bomb("bomb", RAW_MAX, 60);
}

/* 40 frames claiming 64 MiB each, over what the journal allows: refused unread. */
Test(replay_bomb, frames_claiming_64_mib_each, .init = setup, .fini = teardown,
     .timeout = 300)
{
    bomb("bomb64", BOMB_RAW, 40);
}

Test(replay_bomb, valid_frames_of_64_mib_of_cancels, .init = setup, .fini = teardown,
     .timeout = 300)
{
    char path[128];
    snprintf(path, sizeof path, "%s/cancels.tqj", work);
    uint32_t count = RAW_MAX / 6, rawn = count * 6;
    uint8_t *raw = malloc(rawn);
    cr_assert_not_null(raw);
    uint64_t dn = 100000000001ULL;
    for (uint32_t i = 0; i < count; i++) {
        raw[6 * i] = 5; /* CANCEL, no flags */
        for (int b = 0; b < 5; b++)
            raw[6 * i + 1 + b] = (uint8_t)(dn >> (8 * b));
    }
    write_frames(path, raw, rawn, count, 3);
    free(raw);
    for (size_t i = 0; i < sizeof thread_counts / sizeof *thread_counts; i++) {
        run_result res;
        replay(&res, path, thread_counts[i], 0, "cancels");
        cr_assert_eq(res.status, 0, "exit %d: %s", res.status, res.err);
    }
}

Test(replay_bomb, count_ffffffff_is_reported_from_the_mark, .init = setup, .fini = teardown)
{
    /* a sound journal of 4 frames of 10 CANCELs, then frame 2's count made 0xFFFFFFFF */
    char path[128];
    snprintf(path, sizeof path, "%s/count.tqj", work);
    uint8_t raw[60];
    for (int i = 0; i < 10; i++) {
        uint64_t dn = 100000000001ULL + (uint64_t)i;
        raw[6 * i] = 5;
        for (int b = 0; b < 5; b++)
            raw[6 * i + 1 + b] = (uint8_t)(dn >> (8 * b));
    }
    write_frames(path, raw, sizeof raw, 10, 4);
    uint64_t seed;
    int fd = open(path, O_RDWR);
    cr_assert_geq(fd, 0);
    uint8_t h[40], fh[64];
    cr_assert_eq(pread(fd, fh, 64, 0), 64);
    seed = 0;
    for (int i = 7; i >= 0; i--)
        seed = (seed << 8) | fh[24 + i];
    cr_assert_eq(pread(fd, h, 40, 64), 40);
    off_t fsize = 40 + (off_t)(h[20] | h[21] << 8 | h[22] << 16 | (uint32_t)h[23] << 24);
    off_t off = 64 + 2 * fsize;
    cr_assert_eq(pread(fd, h, 40, off), 40);
    tq_le_put32(h + 12, 0xFFFFFFFFu);
    tq_le_put32(h + 36, (uint32_t)XXH3_64bits_withSeed(h, 36, seed));
    cr_assert_eq(pwrite(fd, h, 40, off), 40);
    close(fd);
    for (int skip = 0; skip <= 1; skip++) {
        run_result res;
        replay(&res, path, skip ? "2" : "0", skip, "count");
        cr_assert_eq(res.status, 5, "exit %d: %s", res.status, res.err);
        cr_assert_not_null(strstr(res.err, "cannot be skipped"), "%s", res.err);
        cr_assert_not_null(strstr(res.err, "committed through seq 20 "), "%s", res.err);
        cr_assert_not_null(strstr(res.err, "intact copy"), "%s", res.err);
        cr_assert_null(strstr(res.err, "--skip-corrupt goes past"), "%s", res.err);
        cr_assert_null(strstr(res.err, "4294967"), "a count from the damaged header: %s",
                       res.err);
    }
}

/* A frame over the configured hard cap is refused as a bad frame, on the serial path
 * and in the pipeline, before its raw buffer is grown; with --skip-corrupt it is
 * skipped (and recorded as a gap). */
Test(replay_bomb, a_frame_over_the_cap_is_refused, .init = setup, .fini = teardown)
{
    char path[128], db[128];
    snprintf(path, sizeof path, "%s/big.tqj", work);
    uint32_t count = (2u << 20) / 6, rawn = count * 6;
    uint8_t *raw = malloc(rawn);
    cr_assert_not_null(raw);
    uint64_t dn = 100000000001ULL;
    for (uint32_t i = 0; i < count; i++) {
        raw[6 * i] = 5;
        for (int b = 0; b < 5; b++)
            raw[6 * i + 1 + b] = (uint8_t)(dn >> (8 * b));
    }
    write_frames(path, raw, rawn, count, 2);
    free(raw);
    for (unsigned threads = 0; threads <= 2; threads += 2) {
        for (int skip = 0; skip <= 1; skip++) {
            snprintf(db, sizeof db, "%s/cap-%u-%d", work, threads, skip);
            tq_store *s;
            cr_assert_eq(tq_store_open(db, TQ_STORE_WRITE | TQ_STORE_NOSYNC, NULL, &s, NULL),
                         TQ_OK);
            tq_replay_opts ro = {.threads = threads, .frame_cap = 1u << 20,
                                 .skip_corrupt = skip};
            tq_replay_stats st;
            tq_diag d;
            memset(&d, 0, sizeof d);
            int rc = tq_replay_run(s, path, &ro, &st, &d);
            if (skip) {
                cr_assert_eq(rc, TQ_OK, "%s", d.why);
                cr_assert_eq(st.nskipped, 2);
            } else {
                cr_assert_eq(rc, TQ_ERR_LIMIT, "%u threads: rc %d %s", threads, rc, d.why);
                cr_assert_eq(st.bad_rc, TQ_ERR_LIMIT);
                cr_assert_eq(st.bad_frame.index, 0);
                cr_assert_eq(st.journal_last_seq, 0);
            }
            tq_store_close(s);
        }
    }
}
