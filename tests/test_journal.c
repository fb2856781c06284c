/* test_journal.c - Criterion suite for the record encoding and the journal file.
 *
 * Records: round trips for every kind and the extreme values, refusal of invalid events,
 * garbage and truncated bytes (never a crash, never a half record), and agreement of
 * the record's own timestamp check with tq_time_parse().  Journal: write/read with many
 * small frames, append, and the damage a journal must survive: every bit of a small
 * journal flipped in turn, the file cut at every length, a corrupt frame in the middle,
 * a seq gap, a frame from another journal, garbage after the end.
 */
#include <criterion/criterion.h>

#include <dirent.h>

#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <signal.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

#include <xxhash.h>
#include <zstd.h>

#include "tq_buf.h"
#include "tq_journal.h"
#include "tq_testdir.h"
#include "tq_testfiles.h"
#include "tq_testrec.h"
#include "tq_time.h"

/* ---- helpers -------------------------------------------------------------------- */

static uint64_t rng_next(uint64_t *s)
{
    uint64_t x = *s;
    x ^= x << 13;
    x ^= x >> 7;
    x ^= x << 17;
    return *s = x;
}

static void set_ts(char *dst, tq_instant *inst, const char *text)
{
    size_t n = strlen(text);
    cr_assert(n <= TQ_TS_MAX);
    memcpy(dst, text, n + 1);
    if (inst)
        cr_assert_eq(tq_time_parse(text, n, inst, NULL), TQ_OK, "bad test timestamp %s", text);
}

/* A varied, valid event of any kind, determined by i. */
static void gen_event(uint64_t i, tq_event *ev)
{
    uint64_t s = i * 0x9E3779B97F4A7C15ULL + 12345;
    memset(ev, 0, sizeof *ev);
    rng_next(&s);
    snprintf(ev->decl_no, sizeof ev->decl_no, "%012llu",
             (unsigned long long)(100000000000ULL + rng_next(&s) % 900000000000ULL));
    unsigned k = (unsigned)(rng_next(&s) % 10);
    ev->ev = k < 5 ? TQ_EV_DECL : k < 6 ? TQ_EV_AMEND : k < 8 ? TQ_EV_OFFICER
             : k < 9 ? TQ_EV_MANUAL_CLEAR : TQ_EV_CANCEL;
    char ts[64];
    snprintf(ts, sizeof ts, "2024-08-%02uT%02u:%02u:%02u%s+07:00", (unsigned)(1 + i % 28),
             (unsigned)(i % 24), (unsigned)(i * 7 % 60), (unsigned)(i * 13 % 60),
             i % 3 == 0 ? ".25" : "");
    if (ev->ev == TQ_EV_DECL || ev->ev == TQ_EV_AMEND) {
        if (ev->ev == TQ_EV_DECL) {
            ev->has = TQ_HAS_TAX_DUE | TQ_HAS_LINES;
            memcpy(ev->kind, "A11", 4);
            memcpy(ev->office, "01B1", 5);
            snprintf(ev->declarant, sizeof ev->declarant, i % 2 ? "%010llu" : "%013llu",
                     (unsigned long long)(rng_next(&s) % 10000000000ULL));
            set_ts(ev->registered_at, &ev->registered, ts);
            ev->channel = (uint8_t)(1 + i % 3);
        } else {
            ev->has = (uint8_t)(1 + i % 3);
        }
        ev->tax_due = rng_next(&s) % 100000000;
        ev->nlines = (uint16_t)(1 + rng_next(&s) % 5);
        for (unsigned j = 0; j < ev->nlines; j++) {
            tq_line *l = &ev->lines[j];
            snprintf(l->hs, sizeof l->hs, "%08llu", (unsigned long long)(rng_next(&s) % 100000000));
            l->qty = 1 + rng_next(&s) % 1000;
            l->value = rng_next(&s) % 1000000000;
            if (j % 2 == 0)
                snprintf(l->permit, sizeof l->permit, "GCN-2024-%06u", (unsigned)(rng_next(&s) % 1000000));
        }
    } else if (ev->ev == TQ_EV_OFFICER) {
        ev->result = (uint8_t)(1 + i % 3);
        snprintf(ev->officer, sizeof ev->officer, "HQ01B1-%04u", (unsigned)(i % 10000));
    } else if (ev->ev == TQ_EV_MANUAL_CLEAR) {
        snprintf(ev->officer, sizeof ev->officer, "HQ01B1-%04u", (unsigned)(i % 10000));
        set_ts(ev->cleared_at, NULL, ts);
    }
}

/* Events equal in every member that the journal carries (seq included). */
static int ev_equal(const tq_event *a, const tq_event *b)
{
    if (a->seq != b->seq || a->ev != b->ev || (a->has & ~TQ_HAS_SEQ) != (b->has & ~TQ_HAS_SEQ))
        return 0;
    if (strcmp(a->decl_no, b->decl_no) != 0)
        return 0;
    int tax = a->ev == TQ_EV_DECL || (a->has & TQ_HAS_TAX_DUE);
    int lines = a->ev == TQ_EV_DECL || (a->has & TQ_HAS_LINES);
    switch (a->ev) {
    case TQ_EV_DECL:
        if (strcmp(a->kind, b->kind) || strcmp(a->office, b->office) ||
            strcmp(a->declarant, b->declarant) || strcmp(a->registered_at, b->registered_at) ||
            a->registered.sec != b->registered.sec || a->registered.nsec != b->registered.nsec ||
            a->channel != b->channel)
            return 0;
        break;
    case TQ_EV_OFFICER:
        if (a->result != b->result || strcmp(a->officer, b->officer))
            return 0;
        break;
    case TQ_EV_MANUAL_CLEAR:
        if (strcmp(a->officer, b->officer) || strcmp(a->cleared_at, b->cleared_at))
            return 0;
        break;
    }
    if (tax && a->tax_due != b->tax_due)
        return 0;
    return !lines || tq_test_lines_equal(a, b);
}

static tq_event *roundtrip(const tq_event *in)
{
    static uint8_t buf[TQ_RECORD_MAX];
    static tq_event out;
    size_t n = tq_record_encode(in, buf, sizeof buf);
    cr_assert(n > 0, "encode failed");
    memset(&out, 0xA5, sizeof out);
    size_t m = tq_record_decode(buf, n, &out);
    cr_assert_eq(m, n, "decode consumed %zu of %zu", m, n);
    out.seq = in->seq;
    cr_assert(ev_equal(in, &out), "round trip changed the event");
    /* Every strict prefix must be refused, and trailing bytes must not be consumed. */
    for (size_t k = 0; k < n; k++) {
        tq_event tmp;
        cr_assert_eq(tq_record_decode(buf, k, &tmp), 0, "prefix %zu of %zu accepted", k, n);
    }
    uint8_t more[TQ_RECORD_MAX + 8];
    memcpy(more, buf, n);
    memset(more + n, 0x01, 8);
    tq_event tmp;
    cr_assert_eq(tq_record_decode(more, n + 8, &tmp), n);
    return &out;
}

/* Write events gen_event(first..first+n-1) as a new journal. */
static void write_journal(const char *path, uint64_t n, size_t frame_bytes)
{
    tq_journal_write_opts o = {.frame_bytes = frame_bytes};
    tq_journal_writer *w;
    cr_assert_eq(tq_journal_create(path, &o, &w), TQ_OK);
    tq_event ev;
    for (uint64_t i = 1; i <= n; i++) {
        gen_event(i, &ev);
        cr_assert_eq(tq_journal_next_seq(w), i);
        cr_assert_eq(tq_journal_add(w, &ev), TQ_OK);
    }
    cr_assert_eq(tq_journal_finish(w), TQ_OK);
}

/* Read every event; check each against gen_event.  @return the final code, with the
 * number of events read in *nread and the last frame info in *info. */
static int read_all(const char *path, uint64_t *nread, tq_frame_info *info)
{
    tq_journal_reader *r;
    *nread = 0;
    int rc = tq_journal_open(path, &r);
    if (rc != TQ_OK)
        return rc;
    tq_event ev, want;
    tq_frame_info fi;
    while ((rc = tq_journal_next_event(r, &ev, &fi)) == TQ_OK) {
        gen_event(ev.seq, &want);
        want.seq = ev.seq;
        cr_assert_eq(ev.seq, *nread + 1, "seq %llu after %llu", (unsigned long long)ev.seq,
                     (unsigned long long)*nread);
        cr_assert(ev_equal(&ev, &want), "event %llu differs", (unsigned long long)ev.seq);
        (*nread)++;
    }
    if (info)
        *info = fi;
    tq_journal_close(r);
    return rc;
}

/* Frame boundaries of a good journal: ends[i] is the file offset after frame i, seqs[i]
 * the number of events in frames 0..i. */
static size_t frame_ends(const char *path, uint64_t *ends, uint64_t *seqs, size_t max)
{
    tq_journal_reader *r;
    cr_assert_eq(tq_journal_open(path, &r), TQ_OK);
    tq_frame_info fi;
    uint8_t *buf = NULL;
    size_t cap = 0, n = 0;
    int rc;
    while ((rc = tq_journal_read_frame(r, &fi, &buf, &cap)) == TQ_OK) {
        cr_assert(n < max);
        ends[n] = fi.offset + 40 + fi.zsize;
        seqs[n] = fi.first_seq + fi.count - 1;
        n++;
    }
    cr_assert_eq(rc, TQ_ERR_EOF);
    free(buf);
    tq_journal_close(r);
    return n;
}

/* A journal a test damages: where it is, its bytes and its frames. */
typedef struct {
    const char *path;            /* path_in(name) */
    uint8_t *b;                  /* its bytes, malloc'd: the test frees them */
    size_t n;                    /* how many */
    size_t nf;                   /* its frames (64 at most), */
    uint64_t ends[64], seqs[64]; /* as frame_ends() gives them */
} jfile;

/* written() - write_journal(path_in(name), n, frame_bytes), then read it back as a
 * jfile. */
static jfile written(const char *name, uint64_t n, size_t frame_bytes)
{
    jfile j = {.path = path_in(name)};
    write_journal(j.path, n, frame_bytes);
    j.nf = frame_ends(j.path, j.ends, j.seqs, 64);
    j.b = tq_test_slurp(j.path, &j.n);
    return j;
}

/* expect_events() - the journal at path reads to a clean end, events gen_event(1..n)
 * and nothing else (read_all). */
static void expect_events(const char *path, uint64_t n)
{
    uint64_t got;
    int rc = read_all(path, &got, NULL);
    cr_assert_eq(rc, TQ_ERR_EOF, "%s ends with %s", path, tq_strerror(rc));
    cr_assert_eq(got, n, "%s: %llu events, not %llu", path, (unsigned long long)got,
                 (unsigned long long)n);
}

/* expect_bytes() - the file at path holds exactly b[0..n): what a failed or abandoned
 * write must leave (why says which). */
static void expect_bytes(const char *path, const uint8_t *b, size_t n, const char *why)
{
    size_t got;
    uint8_t *now = tq_test_slurp(path, &got);
    cr_assert(got == n && memcmp(now, b, n) == 0, "%s: %s", path, why);
    free(now);
}

/* add_events() - gen_event(from..to) added to w, each accepted. */
static void add_events(tq_journal_writer *w, uint64_t from, uint64_t to)
{
    tq_event ev;
    for (uint64_t i = from; i <= to; i++) {
        gen_event(i, &ev);
        cr_assert_eq(tq_journal_add(w, &ev), TQ_OK, "event %llu", (unsigned long long)i);
    }
}

/* ---- records -------------------------------------------------------------------- */

Test(record, every_kind_roundtrips)
{
    tq_event ev;
    int seen[6] = {0};
    for (uint64_t i = 1; i <= 2000; i++) {
        gen_event(i, &ev);
        ev.seq = i;
        seen[ev.ev]++;
        roundtrip(&ev);
    }
    for (int k = 1; k <= 5; k++)
        cr_assert(seen[k] > 0, "kind %d never generated", k);
}

Test(record, extremes_roundtrip)
{
    tq_event ev;
    memset(&ev, 0, sizeof ev);
    ev.ev = TQ_EV_DECL;
    ev.has = TQ_HAS_TAX_DUE | TQ_HAS_LINES | TQ_HAS_SEQ;
    memcpy(ev.decl_no, "999999999999", 13);
    memcpy(ev.kind, "Z9Z", 4);
    memcpy(ev.office, "ZZ99", 5);
    memcpy(ev.declarant, "0000000000001", 14); /* 13 digits, leading zeros matter */
    set_ts(ev.registered_at, &ev.registered, "9999-12-31T23:59:59.999999999-23:59");
    ev.channel = 3;
    ev.tax_due = TQ_MONEY_MAX;
    ev.nlines = TQ_LINES_MAX;
    for (int i = 0; i < TQ_LINES_MAX; i++) {
        snprintf(ev.lines[i].hs, 9, "%08d", i == 0 ? 0 : 99999999 - i);
        memcpy(ev.lines[i].permit, "Az09./_-Az09./_-Az09./_-Az09./_-", 33);
        ev.lines[i].qty = i % 2 ? TQ_QTY_MAX : 1;
        ev.lines[i].value = i % 2 ? TQ_MONEY_MAX : 0;
    }
    tq_event *out = roundtrip(&ev);
    cr_assert_eq(out->has, TQ_HAS_TAX_DUE | TQ_HAS_LINES, "decode must not invent TQ_HAS_SEQ");
    cr_assert_str_eq(out->declarant, "0000000000001");
    cr_assert_str_eq(out->lines[0].hs, "00000000");

    memcpy(ev.decl_no, "100000000000", 13);
    memcpy(ev.declarant, "0101234567", 11);
    set_ts(ev.registered_at, &ev.registered, "0001-01-01T00:00:00+23:59");
    cr_assert(ev.registered.sec < 0);
    ev.channel = 1;
    ev.tax_due = 0;
    ev.nlines = 1;
    ev.lines[0].permit[0] = '\0';
    out = roundtrip(&ev);
    cr_assert_str_eq(out->declarant, "0101234567");
    cr_assert_str_eq(out->lines[0].permit, "");

    set_ts(ev.registered_at, &ev.registered, "2024-02-29T09:15:00.1Z");
    roundtrip(&ev);
    set_ts(ev.registered_at, &ev.registered, "2024-08-06T09:15:00.000000001+07:00");
    out = roundtrip(&ev);
    cr_assert_eq(out->registered.nsec, 1);

    tq_event o;
    memset(&o, 0, sizeof o);
    o.ev = TQ_EV_OFFICER;
    o.result = TQ_OFFICER_REJECT;
    memcpy(o.decl_no, "103456789012", 13);
    /* 64 printable characters with the ones JSON escapes */
    static const char off[] = "He said \"ok\" \\ back\\\\slash ~!@#$%^&*()_+{}|:<>?`-=[];',./ 012345";
    cr_assert_eq(strlen(off), 64);
    memcpy(o.officer, off, 65);
    roundtrip(&o);
    o.ev = TQ_EV_MANUAL_CLEAR;
    o.result = 0;
    set_ts(o.cleared_at, NULL, "2024-08-07T10:00:00.5-05:30");
    out = roundtrip(&o);
    cr_assert_str_eq(out->officer, off);
    cr_assert_str_eq(out->cleared_at, "2024-08-07T10:00:00.5-05:30");

    tq_event a;
    memset(&a, 0, sizeof a);
    a.ev = TQ_EV_AMEND;
    memcpy(a.decl_no, "103456789012", 13);
    a.has = TQ_HAS_TAX_DUE;
    a.tax_due = 13000000;
    roundtrip(&a);
    a.has = TQ_HAS_LINES;
    a.nlines = 1;
    memcpy(a.lines[0].hs, "39269099", 9);
    a.lines[0].qty = 5;
    roundtrip(&a);
    a.ev = TQ_EV_CANCEL;
    a.has = 0;
    out = roundtrip(&a);
    cr_assert_eq(out->nlines, 0);
}

Test(record, encode_refuses_invalid_events)
{
    uint8_t buf[TQ_RECORD_MAX];
    tq_event base, ev;
    for (uint64_t i = 1;; i++) {
        gen_event(i, &base);
        if (base.ev == TQ_EV_DECL)
            break;
    }
    cr_assert(tq_record_encode(&base, buf, sizeof buf) > 0);
#define REFUSE(mutation)                                                               \
    do {                                                                               \
        ev = base;                                                                     \
        mutation;                                                                      \
        cr_assert_eq(tq_record_encode(&ev, buf, sizeof buf), 0, "accepted: " #mutation); \
    } while (0)
    REFUSE(ev.decl_no[0] = '0');
    REFUSE(ev.decl_no[5] = 'x');
    REFUSE(ev.decl_no[12] = '1');
    REFUSE(ev.kind[0] = '1');
    REFUSE(ev.kind[1] = 'a');
    REFUSE(ev.office[3] = '-');
    REFUSE(memcpy(ev.declarant, "12345678901", 12));
    REFUSE(memcpy(ev.declarant, "123456789", 10));
    REFUSE(ev.declarant[2] = 'x');
    REFUSE(ev.channel = 0);
    REFUSE(ev.channel = 4);
    REFUSE(ev.tax_due = TQ_MONEY_MAX + 1);
    REFUSE(ev.nlines = 0);
    REFUSE(ev.nlines = TQ_LINES_MAX + 1);
    REFUSE(ev.has = TQ_HAS_LINES);
    REFUSE(ev.lines[0].qty = 0);
    REFUSE(ev.lines[0].qty = TQ_QTY_MAX + 1);
    REFUSE(ev.lines[0].value = TQ_MONEY_MAX + 1);
    REFUSE(ev.lines[0].hs[7] = 'a');
    REFUSE(memcpy(ev.lines[0].permit, "GCN 1", 6));
    REFUSE(memset(ev.lines[0].permit, 'P', sizeof ev.lines[0].permit));
    REFUSE(ev.registered.sec++);
    REFUSE(ev.registered.nsec++);
    REFUSE(memcpy(ev.registered_at, "2024-02-30T00:00:00Z", 21));
    REFUSE(memset(ev.registered_at, '1', sizeof ev.registered_at));
    REFUSE(ev.ev = 0);
    REFUSE(ev.ev = 6);
    REFUSE((ev.ev = TQ_EV_AMEND, ev.has = 0));
    REFUSE((ev.ev = TQ_EV_OFFICER, ev.result = 0, memcpy(ev.officer, "x", 2)));
    REFUSE((ev.ev = TQ_EV_OFFICER, ev.result = 1, ev.officer[0] = '\0'));
    REFUSE((ev.ev = TQ_EV_OFFICER, ev.result = 1, memcpy(ev.officer, "a\tb", 4)));
    REFUSE((ev.ev = TQ_EV_OFFICER, ev.result = 1, memcpy(ev.officer, "caf\xc3\xa9", 6)));
    REFUSE((ev.ev = TQ_EV_OFFICER, ev.result = 1, memset(ev.officer, 'o', sizeof ev.officer)));
    REFUSE((ev.ev = TQ_EV_MANUAL_CLEAR, memcpy(ev.officer, "x", 2),
            memcpy(ev.cleared_at, "2024-08-07 10:00:00Z", 21)));
#undef REFUSE
    /* A short buffer is refused, not overrun. */
    size_t n = tq_record_encode(&base, buf, sizeof buf);
    cr_assert_eq(tq_record_encode(&base, buf, n - 1), 0);
    cr_assert_eq(tq_record_encode(&base, buf, n), n);
}

/* The record's own timestamp check must accept exactly what tq_time_parse accepts and
 * agree on the instant: differential test on hand-picked and mutated texts. */
Test(record, timestamps_agree_with_tq_time_parse)
{
    static const char *texts[] = {
        "2024-08-06T09:15:00+07:00", "2024-08-06T09:15:00Z", "2024-08-06T09:15:00.5Z",
        "2024-08-06T09:15:00.123456789+07:00", "2024-08-06T09:15:00.1234567890+07:00",
        "2024-08-06T09:15:60Z", "2024-08-06T24:00:00Z", "2024-02-29T00:00:00Z",
        "2023-02-29T00:00:00Z", "1900-02-29T00:00:00Z", "2000-02-29T00:00:00Z",
        "0000-01-01T00:00:00Z", "2024-13-01T00:00:00Z", "2024-08-06t09:15:00Z",
        "2024-08-06T09:15:00z", "2024-08-06T09:15:00+7:00", "2024-08-06T09:15:00+24:00",
        "2024-08-06T09:15:00+07:60", "2024-08-06T09:15:00.Z", "2024-08-06T09:15Z",
        "2024-08-06T09:15:00+07:00Z", "2024-08-06T09:15:00-00:00", "2024-04-31T00:00:00Z",
    };
    uint64_t s = 88172645463325252ULL;
    const char alphabet[] = "0123456789-:T.Z+";
    uint8_t buf[TQ_RECORD_MAX];
    tq_event ev;
    for (uint64_t i = 1;; i++) {
        gen_event(i, &ev);
        if (ev.ev == TQ_EV_DECL)
            break;
    }
    for (int round = 0; round < 200000; round++) {
        char t[TQ_TS_MAX + 1];
        size_t n;
        if (round < (int)(sizeof texts / sizeof texts[0])) {
            n = strlen(texts[round]);
            memcpy(t, texts[round], n + 1);
        } else {
            /* mutate a valid text: replace, insert or delete a character or two */
            const char *b = texts[rng_next(&s) % 4];
            n = strlen(b);
            memcpy(t, b, n + 1);
            int edits = 1 + (int)(rng_next(&s) % 2);
            for (int e = 0; e < edits; e++) {
                size_t at = rng_next(&s) % (n + 1);
                char c = alphabet[rng_next(&s) % (sizeof alphabet - 1)];
                unsigned op = (unsigned)(rng_next(&s) % 3);
                if (op == 0 && at < n) {
                    t[at] = c;
                } else if (op == 1 && n < TQ_TS_MAX) {
                    memmove(t + at + 1, t + at, n - at + 1);
                    t[at] = c;
                    n++;
                } else if (at < n) {
                    memmove(t + at, t + at + 1, n - at);
                    n--;
                }
            }
        }
        tq_instant inst = {0, 0};
        int ok = tq_time_parse(t, n, &inst, NULL) == TQ_OK;
        memcpy(ev.registered_at, t, n + 1);
        ev.registered = inst;
        size_t len = tq_record_encode(&ev, buf, sizeof buf);
        cr_assert_eq(len > 0, ok, "'%s': tq_time_parse %s, record %s", t, ok ? "accepts" : "refuses",
                     len ? "accepts" : "refuses");
        if (ok) {
            tq_event out;
            cr_assert_eq(tq_record_decode(buf, len, &out), len);
            cr_assert(out.registered.sec == inst.sec && out.registered.nsec == inst.nsec);
        }
    }
}

Test(record, garbage_never_crashes_and_is_canonical)
{
    uint64_t s = 0x1234567;
    uint8_t buf[512], again[TQ_RECORD_MAX];
    tq_event ev;
    size_t accepted = 0;
    /* Random bytes, and valid records with a few random bytes changed. */
    uint8_t valid[TQ_RECORD_MAX];
    for (int round = 0; round < 300000; round++) {
        size_t n = rng_next(&s) % sizeof buf;
        if (round % 2) {
            for (size_t i = 0; i < n; i++)
                buf[i] = (uint8_t)rng_next(&s);
        } else {
            tq_event src;
            gen_event(rng_next(&s) % 5000 + 1, &src);
            size_t vn = tq_record_encode(&src, valid, sizeof valid);
            n = vn < sizeof buf ? vn : sizeof buf;
            memcpy(buf, valid, n);
            for (int k = 0; k < 2; k++)
                buf[rng_next(&s) % n] ^= (uint8_t)(1u << (rng_next(&s) % 8));
        }
        size_t m = tq_record_decode(buf, n, &ev);
        cr_assert(m <= n);
        if (m > 0) {
            accepted++;
            size_t e = tq_record_encode(&ev, again, sizeof again);
            cr_assert_eq(e, m, "re-encode length differs");
            cr_assert(memcmp(again, buf, m) == 0, "decode accepted a non-canonical record");
        }
    }
    cr_assert(accepted > 0); /* flips in numbers and permit text give other valid records */
    cr_assert_eq(tq_record_decode(NULL, 10, &ev), 0);
    cr_assert_eq(tq_record_decode(buf, 0, &ev), 0);
}

Test(record, overlong_varints_refused)
{
    /* CANCEL is tag + decl_no; AMEND with tax_due adds one varint. */
    uint8_t rec[16] = {TQ_EV_AMEND | 0x08, 0x00, 0xe8, 0x76, 0x48, 0x17}; /* 100000000000 */
    tq_event ev;
    rec[6] = 0x05;
    cr_assert_eq(tq_record_decode(rec, 7, &ev), 7);
    cr_assert_eq(ev.tax_due, 5);
    cr_assert_str_eq(ev.decl_no, "100000000000");
    rec[6] = 0x85;
    rec[7] = 0x00; /* 5 with a needless continuation */
    cr_assert_eq(tq_record_decode(rec, 8, &ev), 0);
    rec[0] = TQ_EV_CANCEL | 0x80; /* reserved bit */
    cr_assert_eq(tq_record_decode(rec, 6, &ev), 0);
    rec[0] = TQ_EV_CANCEL;
    cr_assert_eq(tq_record_decode(rec, 6, &ev), 6);
    rec[1] = 0xff; /* decl_no 100000000255 is fine, but below 10^11 is not */
    cr_assert_eq(tq_record_decode(rec, 6, &ev), 6);
    rec[4] = 0x00;
    cr_assert_eq(tq_record_decode(rec, 6, &ev), 0);
}

/* ---- journal -------------------------------------------------------------------- */

/* no timeout, as before (0): a Criterion timeout leaks 48 bytes under LeakSanitizer */
TQ_TESTDIR_SUITE(journal, "tqj_test", 0);

Test(journal, roundtrip_many_frames)
{
    const char *p = path_in("j.tqj");
    write_journal(p, 3000, 512);
    uint64_t ends[4096], seqs[4096];
    size_t nf = frame_ends(p, ends, seqs, 4096);
    cr_assert(nf > 50, "only %zu frames", nf);
    expect_events(p, 3000);

    /* frame by frame: seq continuity and sizes */
    tq_journal_reader *r;
    cr_assert_eq(tq_journal_open(p, &r), TQ_OK);
    tq_frame_info fi;
    uint8_t *z = NULL, *raw = NULL;
    size_t zc = 0, rc_ = 0;
    uint64_t next = 1, idx = 0, off = 64;
    while (tq_journal_read_frame(r, &fi, &z, &zc) == TQ_OK) {
        cr_assert_eq(fi.index, idx++);
        cr_assert_eq(fi.first_seq, next);
        cr_assert_eq(fi.offset, off);
        cr_assert(fi.count >= 1);
        cr_assert(fi.raw_size <= 512 || fi.count == 1);
        cr_assert_eq(tq_journal_frame_decode(&fi, z, &raw, &rc_), TQ_OK);
        tq_frame_cursor c;
        tq_frame_cursor_init(&c, &fi, raw);
        tq_event ev;
        for (uint32_t k = 0; k < fi.count; k++)
            cr_assert_eq(tq_frame_cursor_next(&c, &ev), TQ_OK);
        cr_assert_eq(tq_frame_cursor_next(&c, &ev), TQ_ERR_EOF);
        next += fi.count;
        off += 40 + fi.zsize;
    }
    cr_assert_eq(next, 3001);
    cr_assert_eq(tq_journal_read_frame(r, &fi, &z, &zc), TQ_ERR_EOF); /* sticky */
    free(z);
    free(raw);
    tq_journal_close(r);
}

Test(journal, default_frame_size_one_frame)
{
    const char *p = path_in("j.tqj");
    write_journal(p, 500, 0);
    uint64_t ends[8], seqs[8];
    cr_assert_eq(frame_ends(p, ends, seqs, 8), 1);
    expect_events(p, 500);
}

Test(journal, empty_journal_is_eof)
{
    const char *p = path_in("e.tqj");
    write_journal(p, 0, 0);
    struct stat st;
    cr_assert_eq(stat(p, &st), 0);
    cr_assert_eq(st.st_size, 64);
    expect_events(p, 0);
}

Test(journal, append_continues_seq_and_keeps_id)
{
    const char *p = path_in("a.tqj");
    write_journal(p, 100, 300);
    uint8_t id1[16], id2[16];
    tq_journal_reader *r;
    cr_assert_eq(tq_journal_open(p, &r), TQ_OK);
    memcpy(id1, tq_journal_id(r), 16);
    tq_journal_close(r);

    for (int round = 0; round < 3; round++) {
        tq_journal_write_opts o = {.frame_bytes = 300};
        tq_journal_writer *w;
        cr_assert_eq(tq_journal_append(p, &o, &w), TQ_OK);
        uint64_t start = tq_journal_next_seq(w);
        cr_assert_eq(start, 101 + 50 * (uint64_t)round);
        add_events(w, start, start + 49);
        cr_assert_eq(tq_journal_finish(w), TQ_OK);
    }
    expect_events(p, 250);
    cr_assert_eq(tq_journal_open(p, &r), TQ_OK);
    memcpy(id2, tq_journal_id(r), 16);
    tq_journal_close(r);
    cr_assert(memcmp(id1, id2, 16) == 0);

    /* append to an empty journal starts at 1; a fresh journal gets a fresh id */
    const char *e = path_in("e.tqj");
    write_journal(e, 0, 0);
    tq_journal_writer *w;
    cr_assert_eq(tq_journal_append(e, NULL, &w), TQ_OK);
    cr_assert_eq(tq_journal_next_seq(w), 1);
    tq_journal_abandon(w);
    cr_assert_eq(tq_journal_open(e, &r), TQ_OK);
    cr_assert(memcmp(tq_journal_id(r), id1, 16) != 0);
    tq_journal_close(r);
}

Test(journal, append_refuses_damaged_journal)
{
    jfile j = written("d.tqj", 100, 300);
    tq_journal_writer *w = (tq_journal_writer *)1;
    tq_test_spit(j.path, j.b, j.n - 3);
    cr_assert_eq(tq_journal_append(j.path, NULL, &w), TQ_ERR_TORN);
    cr_assert_null(w);
    j.b[j.n / 2] ^= 0x40;
    tq_test_spit(j.path, j.b, j.n);
    cr_assert_eq(tq_journal_append(j.path, NULL, &w), TQ_ERR_CORRUPT);
    j.b[j.n / 2] ^= 0x40;
    tq_test_spit(j.path, j.b, j.n);
    /* the refused appends left the file alone */
    size_t n2;
    uint8_t *b2 = tq_test_slurp(j.path, &n2);
    cr_assert_eq(n2, j.n);
    cr_assert(memcmp(j.b, b2, j.n) == 0);
    cr_assert_eq(tq_journal_append(path_in("missing.tqj"), NULL, &w), TQ_ERR_NOTFOUND);
    cr_assert_eq(access(path_in("missing.tqj.lock"), F_OK), -1, "no lock file for no journal");
    free(j.b);
    free(b2);
}

Test(journal, second_writer_is_busy)
{
    const char *p = path_in("b.tqj");
    tq_journal_writer *w1, *w2;
    cr_assert_eq(tq_journal_create(p, NULL, &w1), TQ_OK);
    tq_event ev;
    gen_event(1, &ev);
    cr_assert_eq(tq_journal_add(w1, &ev), TQ_OK);
    cr_assert_eq(tq_journal_create(p, NULL, &w2), TQ_ERR_BUSY);
    cr_assert_eq(tq_journal_append(p, NULL, &w2), TQ_ERR_BUSY);
    cr_assert_eq(tq_journal_finish(w1), TQ_OK);
    expect_events(p, 1);
}

Test(journal, invalid_event_is_input_error_and_harmless)
{
    const char *p = path_in("i.tqj");
    tq_journal_writer *w;
    cr_assert_eq(tq_journal_create(p, NULL, &w), TQ_OK);
    tq_event ev;
    gen_event(1, &ev);
    cr_assert_eq(tq_journal_add(w, &ev), TQ_OK);
    tq_event bad = ev;
    bad.decl_no[0] = 'x';
    cr_assert_eq(tq_journal_add(w, &bad), TQ_ERR_INPUT);
    cr_assert_eq(tq_journal_next_seq(w), 2);
    gen_event(2, &ev);
    cr_assert_eq(tq_journal_add(w, &ev), TQ_OK);
    cr_assert_eq(tq_journal_finish(w), TQ_OK);
    expect_events(p, 2);
}

/* Flip every bit of a small multi-frame journal, one at a time: the reader must say
 * CORRUPT (a flip never makes the file end early, so never TORN), must never return
 * an event that differs from the original, and a header flip is caught by open. */
Test(journal, every_bit_flip_is_detected, .timeout = 300)
{
    jfile j = written("f.tqj", 12, 160);
    const char *q = path_in("g.tqj");
    cr_assert(j.nf >= 3, "want several frames, got %zu", j.nf);
    cr_assert(j.n < 2000);
    for (size_t pos = 0; pos < j.n; pos++) {
        for (int bit = 0; bit < 8; bit++) {
            j.b[pos] ^= (uint8_t)(1u << bit);
            tq_test_spit(q, j.b, j.n);
            j.b[pos] ^= (uint8_t)(1u << bit);
            uint64_t got;
            tq_frame_info fi;
            int rc = read_all(q, &got, &fi); /* asserts every event returned is right */
            cr_assert_eq(rc, TQ_ERR_CORRUPT, "flip of bit %d at %zu: %s after %llu events", bit,
                         pos, tq_strerror(rc), (unsigned long long)got);
            if (pos < 64) {
                cr_assert_eq(got, 0);
                continue;
            }
            /* the events read are exactly the frames before the damaged one */
            size_t f = 0;
            while (j.ends[f] <= pos)
                f++;
            cr_assert_eq(fi.index, f, "flip at %zu blamed frame %llu, not %zu", pos,
                         (unsigned long long)fi.index, f);
            cr_assert_eq(got, f ? j.seqs[f - 1] : 0);
            cr_assert_eq(fi.first_seq, got + 1);
        }
    }
    free(j.b);
}

/* Cut the journal at every length: a cut exactly at a frame boundary reads as a shorter
 * journal (EOF), any other cut as TORN after every complete frame; a cut inside the
 * 64-byte file header fails open with TORN. */
Test(journal, every_truncation_is_torn_or_clean, .timeout = 300)
{
    jfile j = written("t.tqj", 40, 400);
    const char *q = path_in("u.tqj");
    cr_assert(j.nf >= 4);
    cr_assert_eq(j.ends[j.nf - 1], j.n);
    for (size_t len = 0; len <= j.n; len++) {
        tq_test_spit(q, j.b, len);
        uint64_t got;
        int rc = read_all(q, &got, NULL);
        if (len < 64) {
            cr_assert_eq(rc, TQ_ERR_TORN, "cut at %zu: %s", len, tq_strerror(rc));
            continue;
        }
        uint64_t whole = 0;
        int boundary = len == 64;
        for (size_t f = 0; f < j.nf && j.ends[f] <= len; f++) {
            whole = j.seqs[f];
            boundary |= j.ends[f] == len;
        }
        cr_assert_eq(rc, boundary ? TQ_ERR_EOF : TQ_ERR_TORN, "cut at %zu: %s", len,
                     tq_strerror(rc));
        cr_assert_eq(got, whole, "cut at %zu: %llu events", len, (unsigned long long)got);
    }
    free(j.b);
}

/* Damage the payload of a middle frame: the reader names that frame and its seq range,
 * and a caller that skips it gets the frames after it. */
Test(journal, corrupt_middle_frame_named_and_skippable)
{
    jfile j = written("m.tqj", 60, 300);
    cr_assert(j.nf >= 5);
    size_t bad = j.nf / 2;
    j.b[j.ends[bad] - 3] ^= 0xff; /* inside its payload */
    tq_test_spit(j.path, j.b, j.n);
    free(j.b);

    tq_journal_reader *r;
    cr_assert_eq(tq_journal_open(j.path, &r), TQ_OK);
    tq_event ev;
    tq_frame_info fi;
    uint64_t seen = 0, expect = 1, corrupt = 0;
    int rc;
    while ((rc = tq_journal_next_event(r, &ev, &fi)) != TQ_ERR_EOF) {
        if (rc == TQ_ERR_CORRUPT) {
            corrupt++;
            cr_assert_eq(fi.index, bad);
            cr_assert_eq(fi.first_seq, j.seqs[bad - 1] + 1);
            cr_assert_eq(fi.first_seq + fi.count - 1, j.seqs[bad]);
            cr_assert_eq(fi.offset, j.ends[bad - 1]);
            expect = j.seqs[bad] + 1;
            continue;
        }
        cr_assert_eq(rc, TQ_OK);
        cr_assert_eq(ev.seq, expect++);
        tq_event want;
        gen_event(ev.seq, &want);
        want.seq = ev.seq;
        cr_assert(ev_equal(&ev, &want));
        seen++;
    }
    cr_assert_eq(corrupt, 1);
    cr_assert_eq(seen, 60 - (j.seqs[bad] - j.seqs[bad - 1]));
    tq_journal_close(r);
}

/* Rewrite the file header with a valid checksum. */
static void reseal_file(uint8_t *b)
{
    uint64_t sum = XXH3_64bits(b, 56);
    for (int i = 0; i < 8; i++)
        b[56 + i] = (uint8_t)(sum >> (8 * i));
}

/* Rewrite a frame header with a valid checksum (the seed is the journal id). */
static void reseal_frame(uint8_t *b, size_t at)
{
    uint64_t seed = 0;
    for (int i = 0; i < 8; i++)
        seed |= (uint64_t)b[24 + i] << (8 * i);
    uint32_t sum = (uint32_t)XXH3_64bits_withSeed(b + at, 36, seed);
    for (int i = 0; i < 4; i++)
        b[at + 36 + i] = (uint8_t)(sum >> (8 * i));
}

Test(journal, seq_gap_is_corrupt_and_final)
{
    jfile j = written("s.tqj", 30, 300);
    cr_assert(j.nf >= 3);
    size_t at = j.ends[0];
    j.b[at + 4] += 5; /* frame 1 claims to start 5 seqs later */
    reseal_frame(j.b, at);
    tq_test_spit(j.path, j.b, j.n);
    free(j.b);
    tq_journal_reader *r;
    cr_assert_eq(tq_journal_open(j.path, &r), TQ_OK);
    tq_frame_info fi;
    uint8_t *z = NULL;
    size_t zc = 0;
    cr_assert_eq(tq_journal_read_frame(r, &fi, &z, &zc), TQ_OK);
    cr_assert_eq(tq_journal_read_frame(r, &fi, &z, &zc), TQ_ERR_CORRUPT);
    cr_assert_eq(fi.index, 1);
    cr_assert_eq(fi.first_seq, j.seqs[0] + 1 + 5, "the range the frame claims");
    cr_assert(fi.count > 0);
    /* the sequence is lost: reading stops here for good */
    cr_assert_eq(tq_journal_read_frame(r, &fi, &z, &zc), TQ_ERR_CORRUPT);
    cr_assert_eq(fi.index, 1);
    cr_assert_eq(fi.count, 0);
    free(z);
    tq_journal_close(r);
}

Test(journal, frame_from_another_journal_is_corrupt)
{
    const char *p = path_in("x.tqj"), *q = path_in("y.tqj");
    write_journal(p, 20, 300);
    write_journal(q, 20, 300); /* same content, other id */
    size_t n, m;
    uint8_t *a = tq_test_slurp(p, &n), *b = tq_test_slurp(q, &m);
    cr_assert_eq(n, m);
    cr_assert(memcmp(a + 64, b + 64, n - 64) != 0, "frame headers must depend on the id");
    memcpy(a + 64, b + 64, n - 64);
    tq_test_spit(p, a, n);
    uint64_t got;
    cr_assert_eq(read_all(p, &got, NULL), TQ_ERR_CORRUPT);
    cr_assert_eq(got, 0);
    free(a);
    free(b);
}

Test(journal, garbage_after_the_end_is_corrupt)
{
    jfile j = written("g.tqj", 20, 300);
    uint8_t *c = malloc(j.n + 40);
    memcpy(c, j.b, j.n);
    memset(c + j.n, 0, 40); /* e.g. a zero-filled tail */
    tq_test_spit(j.path, c, j.n + 40);
    uint64_t got;
    cr_assert_eq(read_all(j.path, &got, NULL), TQ_ERR_CORRUPT);
    cr_assert_eq(got, 20);
    memcpy(c + j.n, "TQF", 3); /* a torn prefix of a frame header */
    tq_test_spit(j.path, c, j.n + 3);
    cr_assert_eq(read_all(j.path, &got, NULL), TQ_ERR_TORN);
    tq_test_spit(j.path, c, j.n + 2);
    cr_assert_eq(read_all(j.path, &got, NULL), TQ_ERR_TORN);
    c[j.n + 1] = 'X';
    tq_test_spit(j.path, c, j.n + 2);
    cr_assert_eq(read_all(j.path, &got, NULL), TQ_ERR_CORRUPT);
    free(j.b);
    free(c);
}

Test(journal, header_version_and_magic)
{
    jfile j = written("v.tqj", 5, 0);
    tq_journal_reader *r;
    /* a well-sealed header of version 3 is another format, not damage */
    j.b[8] = 3;
    reseal_file(j.b);
    tq_test_spit(j.path, j.b, j.n);
    cr_assert_eq(tq_journal_open(j.path, &r), TQ_ERR_VERSION);
    /* unknown flags too */
    j.b[8] = 2;
    j.b[16] = 1;
    reseal_file(j.b);
    tq_test_spit(j.path, j.b, j.n);
    cr_assert_eq(tq_journal_open(j.path, &r), TQ_ERR_VERSION);
    /* not a journal at all */
    tq_test_spit(j.path, (const uint8_t *)"{\"ev\":\"DECL\"}\n", 14);
    cr_assert_eq(tq_journal_open(j.path, &r), TQ_ERR_CORRUPT);
    tq_test_spit(j.path, (const uint8_t *)"", 0);
    cr_assert_eq(tq_journal_open(j.path, &r), TQ_ERR_TORN);
    cr_assert_eq(tq_journal_open(path_in("none"), &r), TQ_ERR_IO);
    cr_assert_eq(tq_journal_open(g_dir, &r), TQ_ERR_IO);
    free(j.b);
}

struct decode_job {
    tq_frame_info info;
    uint8_t *z;
    uint64_t events;
    int rc;
};

static void *decode_thread(void *arg)
{
    struct decode_job *j = arg;
    uint8_t *raw = NULL;
    size_t cap = 0;
    j->rc = tq_journal_frame_decode(&j->info, j->z, &raw, &cap);
    if (j->rc == TQ_OK) {
        tq_frame_cursor c;
        tq_frame_cursor_init(&c, &j->info, raw);
        tq_event *ev = malloc(sizeof *ev), want;
        while ((j->rc = tq_frame_cursor_next(&c, ev)) == TQ_OK) {
            gen_event(ev->seq, &want);
            want.seq = ev->seq;
            if (!ev_equal(ev, &want))
                break;
            j->events++;
        }
        free(ev);
    }
    free(raw);
    return NULL;
}

Test(journal, frame_decode_on_other_threads)
{
    const char *p = path_in("p.tqj");
    write_journal(p, 400, 1000);
    tq_journal_reader *r;
    cr_assert_eq(tq_journal_open(p, &r), TQ_OK);
    struct decode_job jobs[64];
    pthread_t th[64];
    size_t nj = 0;
    for (;;) {
        struct decode_job *j = &jobs[nj];
        memset(j, 0, sizeof *j);
        size_t cap = 0;
        int rc = tq_journal_read_frame(r, &j->info, &j->z, &cap);
        if (rc == TQ_ERR_EOF) {
            free(j->z);
            break;
        }
        cr_assert_eq(rc, TQ_OK);
        cr_assert(nj < 63);
        cr_assert_eq(pthread_create(&th[nj], NULL, decode_thread, j), 0);
        nj++;
    }
    cr_assert(nj >= 4);
    uint64_t total = 0;
    for (size_t i = 0; i < nj; i++) {
        pthread_join(th[i], NULL);
        cr_assert_eq(jobs[i].rc, TQ_ERR_EOF, "frame %zu: %s", i, tq_strerror(jobs[i].rc));
        cr_assert_eq(jobs[i].events, jobs[i].info.count);
        total += jobs[i].events;
        free(jobs[i].z);
    }
    cr_assert_eq(total, 400);
    tq_journal_close(r);
}

Test(journal, frame_decode_checks_its_arguments)
{
    const char *p = path_in("c.tqj");
    write_journal(p, 10, 0);
    tq_journal_reader *r;
    cr_assert_eq(tq_journal_open(p, &r), TQ_OK);
    tq_frame_info fi, bad;
    uint8_t *z = NULL, *raw = NULL;
    size_t zc = 0, rc_ = 0;
    cr_assert_eq(tq_journal_read_frame(r, &fi, &z, &zc), TQ_OK);
    bad = fi;
    bad.raw_size = TQ_JOURNAL_FRAME_MAX + 1;
    cr_assert_eq(tq_journal_frame_decode(&bad, z, &raw, &rc_), TQ_ERR_CORRUPT);
    bad = fi;
    bad.raw_size = bad.frame_max + 1;   /* over the journal's own limit */
    cr_assert_eq(tq_journal_frame_decode(&bad, z, &raw, &rc_), TQ_ERR_CORRUPT);
    bad = fi;
    bad.count = bad.raw_size / TQ_RECORD_MIN + 1;   /* more records than can fit */
    cr_assert_eq(tq_journal_frame_decode(&bad, z, &raw, &rc_), TQ_ERR_CORRUPT);
    /* none of those touched zbuf: a NULL one is refused the same way */
    cr_assert_eq(tq_journal_frame_decode(&bad, NULL, &raw, &rc_), TQ_ERR_CORRUPT);
    cr_assert_null(raw, "nothing may be allocated for a refused frame");
    bad = fi;
    bad.raw_size++;
    cr_assert_eq(tq_journal_frame_decode(&bad, z, &raw, &rc_), TQ_ERR_CORRUPT);
    bad = fi;
    bad.zsize--;
    cr_assert_eq(tq_journal_frame_decode(&bad, z, &raw, &rc_), TQ_ERR_CORRUPT);
    bad = fi;
    bad.checksum ^= 1;
    cr_assert_eq(tq_journal_frame_decode(&bad, z, &raw, &rc_), TQ_ERR_CORRUPT);
    bad = fi;
    bad.count = 0;
    cr_assert_eq(tq_journal_frame_decode(&bad, z, &raw, &rc_), TQ_ERR_CORRUPT);
    /* a count that disagrees with the records: the cursor finds it */
    cr_assert_eq(tq_journal_frame_decode(&fi, z, &raw, &rc_), TQ_OK);
    tq_frame_cursor c;
    tq_event ev;
    bad = fi;
    bad.count = fi.count + 1;
    tq_frame_cursor_init(&c, &bad, raw);
    for (uint32_t k = 0; k < fi.count; k++)
        cr_assert_eq(tq_frame_cursor_next(&c, &ev), TQ_OK);
    cr_assert_eq(tq_frame_cursor_next(&c, &ev), TQ_ERR_CORRUPT);
    cr_assert_eq(tq_frame_cursor_next(&c, &ev), TQ_ERR_CORRUPT);
    bad.count = fi.count - 1;
    tq_frame_cursor_init(&c, &bad, raw);
    for (uint32_t k = 0; k + 1 < bad.count; k++)
        cr_assert_eq(tq_frame_cursor_next(&c, &ev), TQ_OK);
    cr_assert_eq(tq_frame_cursor_next(&c, &ev), TQ_ERR_CORRUPT, "last record must end the frame");
    free(z);
    free(raw);
    tq_journal_close(r);
}

Test(journal, reads_from_a_pipe)
{
    jfile j = written("pipe.tqj", 200, 700);
    int fds[2];
    cr_assert_eq(pipe(fds), 0);
    pid_t pid = fork();
    if (pid == 0) {
        close(fds[0]);
        size_t off = 0;
        while (off < j.n) {
            ssize_t k = write(fds[1], j.b + off, j.n - off < 97 ? j.n - off : 97); /* odd pieces */
            if (k <= 0)
                _exit(1);
            off += (size_t)k;
        }
        _exit(0);
    }
    close(fds[1]);
    tq_journal_reader *r;
    cr_assert_eq(tq_journal_open_fd(fds[0], &r), TQ_OK);
    cr_assert_eq(tq_test_count_events(r), 200);
    tq_journal_close(r);
    close(fds[0]);
    free(j.b);
}

Test(journal, full_disk_is_reported_as_full)
{
    /* /dev/full fails every write with ENOSPC. */
    if (access("/dev/full", W_OK) != 0)
        cr_skip_test("no /dev/full");
    tq_journal_writer *w;
    cr_assert_eq(tq_journal_create("/dev/full", NULL, &w), TQ_ERR_FULL);
}

#ifndef TQ_SOURCE_DIR
#define TQ_SOURCE_DIR "."
#endif

/* The worked example of formats/JOURNAL.md §9, byte for byte, read from the document's
 * own `xxd` dump: pins the format, so a change to the layout cannot go unnoticed, and
 * the document cannot go stale.  Returns the bytes (a static buffer), their count in *n. */
static const uint8_t *journal_md_example(size_t *n)
{
    static uint8_t b[256];
    const char *doc = TQ_SOURCE_DIR "/formats/JOURNAL.md";
    FILE *f = fopen(doc, "r");
    cr_assert_not_null(f, "%s", doc);
    char line[256];
    int in = 0;
    *n = 0;
    while (fgets(line, sizeof line, f) != NULL) {
        unsigned off;
        int at = -1;
        in |= strncmp(line, "`xxd example.tqj`", 17) == 0;
        if (!in || sscanf(line, "%8x: %n", &off, &at) != 1 || at < 0) {
            if (*n > 0)
                break; /* the end of the dump */
            continue;
        }
        cr_assert_eq(off, *n, "%s: dump line %#x after %zu bytes", doc, off, *n);
        for (const char *h = line + at; isxdigit((unsigned char)h[0]) &&
                                        isxdigit((unsigned char)h[1]);) {
            unsigned v;
            cr_assert_lt(*n, sizeof b, "%s: the dump is longer than %zu bytes", doc, sizeof b);
            cr_assert_eq(sscanf(h, "%2x", &v), 1);
            b[(*n)++] = (uint8_t)v;
            h += 2;
            h += h[0] == ' ' && h[1] != ' '; /* one space between groups, two before the text */
        }
    }
    fclose(f);
    cr_assert_eq(*n, 211, "%s: the worked example is 211 bytes, not %zu", doc, *n);
    return b;
}

/* example_journal() - path_in(name) made to hold journal_md_example(), as a jfile. */
static jfile example_journal(const char *name)
{
    jfile j = {.path = path_in(name)};
    const uint8_t *b = journal_md_example(&j.n);
    tq_test_spit(j.path, b, j.n);
    j.b = malloc(j.n);
    cr_assert_not_null(j.b);
    memcpy(j.b, b, j.n);
    j.nf = frame_ends(j.path, j.ends, j.seqs, 64);
    return j;
}

Test(journal, golden_example_from_journal_md)
{
    jfile g = example_journal("golden.tqj");
    tq_journal_reader *r;
    cr_assert_eq(tq_journal_open(g.path, &r), TQ_OK);
    tq_event ev;
    tq_frame_info fi;
    cr_assert_eq(tq_journal_next_event(r, &ev, &fi), TQ_OK);
    cr_assert_eq(fi.first_seq, 1);
    cr_assert_eq(fi.count, 2);
    cr_assert_eq(fi.raw_size, 98);
    cr_assert_eq(fi.zsize, 107);
    tq_test_expect_sample_decl(&ev);
    cr_assert_eq(tq_journal_next_event(r, &ev, &fi), TQ_OK);
    cr_assert_eq(ev.seq, 2);
    cr_assert_eq(ev.ev, TQ_EV_AMEND);
    cr_assert_eq(ev.has, TQ_HAS_TAX_DUE);
    cr_assert_eq(ev.tax_due, 13000000);
    cr_assert_eq(tq_journal_next_event(r, &ev, &fi), TQ_ERR_EOF);
    tq_journal_close(r);

    /* and today's writer produces the same frame for the same events */
    tq_journal_writer *w;
    const char *q = path_in("again.tqj");
    cr_assert_eq(tq_journal_create(q, NULL, &w), TQ_OK);
    cr_assert_eq(tq_journal_open(g.path, &r), TQ_OK);
    while (tq_journal_next_event(r, &ev, NULL) == TQ_OK)
        cr_assert_eq(tq_journal_add(w, &ev), TQ_OK);
    tq_journal_close(r);
    cr_assert_eq(tq_journal_finish(w), TQ_OK);
    size_t n;
    uint8_t *b = tq_test_slurp(q, &n);
    cr_assert_eq(n, g.n);
    /* only the file header and the frame header checksum (100..103, seeded with the
     * id) depend on the journal id; the payload assumes zstd stores tiny input raw */
    cr_assert(memcmp(b + 64, g.b + 64, 36) == 0);
    cr_assert(memcmp(b + 104, g.b + 104, n - 104) == 0);
    free(b);
    free(g.b);
}

/* Add events from seq `from` until the writer fails; @return the error. */
static int add_until_error(tq_journal_writer *w, uint64_t from)
{
    tq_event ev;
    int rc = TQ_OK;
    for (uint64_t i = from; i < from + 1000 && rc == TQ_OK; i++) {
        gen_event(i, &ev);
        rc = tq_journal_add(w, &ev);
    }
    gen_event(from, &ev);
    cr_assert_eq(tq_journal_add(w, &ev), rc, "the error must stick");
    return rc;
}

/* A write that fails mid-frame (here: the file size limit, as a full disk would) is
 * reported, the error sticks, and nothing is half done: an append is cut back to the
 * journal as it was, byte for byte, and a create leaves no file and no temporary. */
Test(journal, failed_write_leaves_nothing_half_done)
{
    tq_journal_write_opts o = {.frame_bytes = 400, .level = 1};
    jfile j = written("limit.tqj", 50, 400);
    signal(SIGXFSZ, SIG_IGN);
    struct rlimit rl = {.rlim_cur = j.n + 1500, .rlim_max = RLIM_INFINITY};
    cr_assert_eq(setrlimit(RLIMIT_FSIZE, &rl), 0);
    tq_journal_writer *w;
    cr_assert_eq(tq_journal_append(j.path, &o, &w), TQ_OK);
    int rc = add_until_error(w, 51);
    cr_assert_eq(rc, TQ_ERR_IO, "got %s", tq_strerror(rc)); /* EFBIG; ENOSPC would be FULL */
    cr_assert_eq(tq_journal_finish(w), TQ_ERR_IO);
    expect_bytes(j.path, j.b, j.n, "the failed append must be cut back");
    /* a create that fails: no file, no temporary */
    const char *q = path_in("new.tqj");
    cr_assert_eq(tq_journal_create(q, &o, &w), TQ_OK);
    cr_assert_eq(add_until_error(w, 1), TQ_ERR_IO);
    cr_assert_eq(tq_journal_finish(w), TQ_ERR_IO);
    rl.rlim_cur = RLIM_INFINITY;
    cr_assert_eq(setrlimit(RLIMIT_FSIZE, &rl), 0);
    cr_assert_eq(access(q, F_OK), -1, "a failed create must leave no journal");
    cr_assert_eq(tq_test_count_entries(g_dir, ".tmp"), 0, "a failed create must leave no temporary");
    /* the journal can still be appended to, after its old last event */
    cr_assert_eq(tq_journal_append(j.path, &o, &w), TQ_OK);
    cr_assert_eq(tq_journal_next_seq(w), 51);
    tq_journal_abandon(w);
    free(j.b);
}

/* Abandoning undoes: an appender's frames are cut off again, a creator's file never
 * appears and the old file at the path is untouched. */
Test(journal, abandon_undoes_everything)
{
    jfile j = written("ab.tqj", 30, 300);
    tq_journal_write_opts o = {.frame_bytes = 300};
    tq_journal_writer *w;
    cr_assert_eq(tq_journal_append(j.path, &o, &w), TQ_OK);
    add_events(w, 31, 80); /* several frames reach the file */
    tq_journal_abandon(w);
    expect_bytes(j.path, j.b, j.n, "an abandoned append must be cut back");
    cr_assert_eq(tq_journal_create(j.path, &o, &w), TQ_OK);
    add_events(w, 1, 50);
    tq_journal_abandon(w);
    expect_bytes(j.path, j.b, j.n, "the old journal must be untouched by an abandoned create");
    cr_assert_eq(tq_test_count_entries(g_dir, ".tmp"), 0);
    free(j.b);
}

/* ---- frame_max: the decompression-bomb limit (JOURNAL.md §2, §3) ------------------ */

Test(journal, header_carries_frame_max)
{
    const char *p = path_in("fm.tqj");
    write_journal(p, 10, 300);
    tq_journal_reader *r;
    cr_assert_eq(tq_journal_open(p, &r), TQ_OK);
    cr_assert_eq(tq_journal_version(r), 2);
    cr_assert_eq(tq_journal_frame_max(r), TQ_RECORD_MAX, "a small frame size still fits any record");
    tq_journal_close(r);
    write_journal(p, 10, 0);
    cr_assert_eq(tq_journal_open(p, &r), TQ_OK);
    cr_assert_eq(tq_journal_frame_max(r), TQ_JOURNAL_FRAME_DEFAULT);
    tq_journal_close(r);
    size_t n;
    uint8_t *b = tq_test_slurp(p, &n);
    cr_assert_eq(b[8], 2);
    cr_assert_eq(b[20] | b[21] << 8 | b[22] << 16 | (uint32_t)b[23] << 24, TQ_JOURNAL_FRAME_DEFAULT);
    free(b);
    /* a writer asking for more than the cap gets the cap */
    tq_journal_write_opts o = {.frame_bytes = 64u << 20};
    tq_journal_writer *w;
    cr_assert_eq(tq_journal_create(p, &o, &w), TQ_OK);
    cr_assert_eq(tq_journal_finish(w), TQ_OK);
    cr_assert_eq(tq_journal_open(p, &r), TQ_OK);
    cr_assert_eq(tq_journal_frame_max(r), TQ_JOURNAL_FRAME_MAX);
    tq_journal_close(r);
}

Test(journal, header_claiming_64_MiB_frames_is_refused)
{
    jfile j = written("big.tqj", 10, 0);
    tq_le_put32(j.b + 20, 64u << 20);
    reseal_file(j.b);
    tq_test_spit(j.path, j.b, j.n);
    tq_journal_reader *r;
    tq_diag d = {0};
    cr_assert_eq(tq_journal_open_diag(j.path, &r, &d), TQ_ERR_LIMIT);
    cr_assert_not_null(strstr(d.why, "67108864"), "why: %s", d.why);
    cr_assert_not_null(strstr(d.why, "8388608"), "why: %s", d.why);
    /* an appender refuses it too, and leaves it alone */
    tq_journal_writer *w;
    cr_assert_eq(tq_journal_append(j.path, NULL, &w), TQ_ERR_LIMIT);
    /* one byte over the cap is refused; the cap itself is fine */
    tq_le_put32(j.b + 20, TQ_JOURNAL_FRAME_MAX + 1);
    reseal_file(j.b);
    tq_test_spit(j.path, j.b, j.n);
    cr_assert_eq(tq_journal_open(j.path, &r), TQ_ERR_LIMIT);
    tq_le_put32(j.b + 20, TQ_JOURNAL_FRAME_MAX);
    reseal_file(j.b);
    tq_test_spit(j.path, j.b, j.n);
    cr_assert_eq(tq_journal_open(j.path, &r), TQ_OK);
    tq_journal_close(r);
    /* under the largest record: no writer writes that */
    tq_le_put32(j.b + 20, 100);
    reseal_file(j.b);
    tq_test_spit(j.path, j.b, j.n);
    cr_assert_eq(tq_journal_open(j.path, &r), TQ_ERR_CORRUPT);
    /* version 1 has no such field: a value there is another format */
    tq_le_put32(j.b + 20, 1u << 20);
    j.b[8] = 1;
    reseal_file(j.b);
    tq_test_spit(j.path, j.b, j.n);
    cr_assert_eq(tq_journal_open(j.path, &r), TQ_ERR_VERSION);
    free(j.b);
}

/* Make frame `which` of the journal at p claim raw_size and count (header resealed,
 * payload unchanged), as a crafted bomb would.  @return the frame's first and last seq. */
static void forge_frame(const char *p, size_t which, uint32_t raw_size, uint32_t count,
                        uint64_t *first, uint64_t *last)
{
    uint64_t ends[64], seqs[64];
    size_t nf = frame_ends(p, ends, seqs, 64);
    cr_assert(which + 1 < nf);
    size_t n;
    uint8_t *b = tq_test_slurp(p, &n);
    size_t at = which == 0 ? 64 : ends[which - 1];
    *first = which == 0 ? 1 : seqs[which - 1] + 1;
    *last = seqs[which];
    if (raw_size)
        tq_le_put32(b + at + 16, raw_size);
    if (count)
        tq_le_put32(b + at + 12, count);
    reseal_frame(b, at);
    tq_test_spit(p, b, n);
    free(b);
}

/* Read with next_event going past corrupt frames, as --skip-corrupt does; every event
 * outside [skip_first, skip_last] must come back, in order, and nothing else. */
static void read_skipping(const char *p, uint64_t total, uint64_t skip_first, uint64_t skip_last)
{
    tq_journal_reader *r;
    cr_assert_eq(tq_journal_open(p, &r), TQ_OK);
    tq_event ev;
    tq_frame_info fi;
    uint64_t want = 1;
    int rc, corrupt = 0;
    while ((rc = tq_journal_next_event(r, &ev, &fi)) != TQ_ERR_EOF) {
        if (rc == TQ_ERR_CORRUPT) {
            cr_assert_eq(fi.first_seq, skip_first);
            cr_assert_eq(++corrupt, 1, "one corrupt frame, once");
            want = skip_last + 1;
            continue;
        }
        cr_assert_eq(rc, TQ_OK, "got %s", tq_strerror(rc));
        cr_assert_eq(ev.seq, want);
        want++;
    }
    cr_assert_eq(corrupt, 1);
    cr_assert_eq(want, total + 1);
    tq_journal_close(r);
}

Test(journal, frame_over_frame_max_is_a_skippable_corrupt_frame)
{
    const char *p = path_in("bomb.tqj");
    write_journal(p, 60, 300);
    uint64_t first, last;
    forge_frame(p, 1, 64u << 20, 0, &first, &last);   /* claims 64 MiB of records */
    tq_journal_reader *r;
    cr_assert_eq(tq_journal_open(p, &r), TQ_OK);
    tq_frame_info fi;
    uint8_t *z = NULL, *raw = NULL;
    size_t zc = 0, rc_ = 0;
    cr_assert_eq(tq_journal_read_frame(r, &fi, &z, &zc), TQ_OK);
    cr_assert_eq(tq_journal_frame_decode(&fi, z, &raw, &rc_), TQ_OK);
    size_t zc_before = zc, raw_before = rc_;
    cr_assert_eq(tq_journal_read_frame(r, &fi, &z, &zc), TQ_OK, "the framing holds");
    cr_assert_eq(fi.raw_size, 64u << 20);
    cr_assert_eq(tq_journal_frame_decode(&fi, z, &raw, &rc_), TQ_ERR_CORRUPT);
    cr_assert_eq(zc, zc_before, "nothing may be allocated for the bomb's payload");
    cr_assert_eq(rc_, raw_before, "nothing may be allocated for the bomb's content");
    cr_assert_eq(tq_journal_read_frame(r, &fi, &z, &zc), TQ_OK, "the next frame is reachable");
    cr_assert_eq(fi.first_seq, last + 1);
    free(z);
    free(raw);
    tq_journal_close(r);
    read_skipping(p, 60, first, last);
}

/* A count that no raw_size can hold means the header's seq range is not what the writer
 * wrote: skipping the frame would move the mark to a seq taken from the damage (4.3e9
 * here) and the next frame could not be placed anyway.  So it is framing damage, as a
 * bad header is: reading stops there for good, and the range reported is where the
 * frame should have started, never the claim. */
static void read_until_framing_damage(const char *p, uint64_t first)
{
    tq_journal_reader *r;
    cr_assert_eq(tq_journal_open(p, &r), TQ_OK);
    tq_event ev;
    tq_frame_info fi;
    int rc;
    uint64_t got = 0;
    while ((rc = tq_journal_next_event(r, &ev, &fi)) == TQ_OK)
        got++;
    cr_assert_eq(rc, TQ_ERR_CORRUPT, "got %s", tq_strerror(rc));
    cr_assert_eq(got, first - 1);
    cr_assert_eq(fi.first_seq, first);
    cr_assert_eq(fi.count, 0, "the damaged claim is not reported as a range");
    /* not skippable: the reader says the same again instead of going on */
    cr_assert_eq(tq_journal_next_event(r, &ev, &fi), TQ_ERR_CORRUPT);
    tq_journal_close(r);
}

Test(journal, frame_claiming_0xFFFFFFFF_records_is_unskippable_framing_damage)
{
    jfile j = written("count.tqj", 60, 300);
    size_t at = j.ends[j.nf - 2];
    tq_le_put32(j.b + at + 12, 0xFFFFFFFFu);
    reseal_frame(j.b, at);
    tq_test_spit(j.path, j.b, j.n);
    free(j.b);
    read_until_framing_damage(j.path, j.seqs[j.nf - 2] + 1);
    /* in the middle, with raw_size shrunk so that the true count cannot fit */
    write_journal(j.path, 60, 300);
    uint64_t f2, l2;
    forge_frame(j.path, 1, 7, 0, &f2, &l2);   /* 7 bytes cannot hold more than one record */
    read_until_framing_damage(j.path, f2);
}

Test(journal, append_keeps_the_headers_frame_max)
{
    const char *p = path_in("keep.tqj");
    write_journal(p, 10, 300);          /* frame_max 8192 */
    tq_journal_write_opts o = {.frame_bytes = 1u << 20};
    tq_journal_writer *w;
    cr_assert_eq(tq_journal_append(p, &o, &w), TQ_OK);
    add_events(w, 11, 2000);
    cr_assert_eq(tq_journal_finish(w), TQ_OK);
    tq_journal_reader *r;
    cr_assert_eq(tq_journal_open(p, &r), TQ_OK);
    cr_assert_eq(tq_journal_frame_max(r), TQ_RECORD_MAX);
    tq_frame_info fi;
    uint8_t *z = NULL;
    size_t zc = 0;
    int rc;
    while ((rc = tq_journal_read_frame(r, &fi, &z, &zc)) == TQ_OK)
        cr_assert_leq(fi.raw_size, TQ_RECORD_MAX);
    cr_assert_eq(rc, TQ_ERR_EOF);
    free(z);
    tq_journal_close(r);
    expect_events(p, 2000);
}

Test(journal, version_1_journal_reads_and_appends_as_version_1)
{
    jfile g = example_journal("v1.tqj");
    tq_journal_reader *r;
    cr_assert_eq(tq_journal_open(g.path, &r), TQ_OK);
    cr_assert_eq(tq_journal_version(r), 1);
    cr_assert_eq(tq_journal_frame_max(r), TQ_JOURNAL_FRAME_MAX, "version 1: the reader's cap");
    tq_journal_close(r);
    tq_journal_writer *w;
    cr_assert_eq(tq_journal_append(g.path, NULL, &w), TQ_OK);
    cr_assert_eq(tq_journal_next_seq(w), 3);
    tq_event ev;
    gen_event(3, &ev);
    cr_assert_eq(tq_journal_add(w, &ev), TQ_OK);
    cr_assert_eq(tq_journal_finish(w), TQ_OK);
    size_t n;
    uint8_t *b = tq_test_slurp(g.path, &n);
    cr_assert(n > g.n && memcmp(b, g.b, g.n) == 0,
              "an append never rewrites the header or the frames before it");
    free(b);
    cr_assert_eq(tq_journal_open(g.path, &r), TQ_OK);
    int rc;
    uint64_t got = 0;
    while ((rc = tq_journal_next_event(r, &ev, NULL)) == TQ_OK)
        got++;
    cr_assert_eq(rc, TQ_ERR_EOF);
    cr_assert_eq(got, 3);
    tq_journal_close(r);
    free(g.b);
}

/* A hand-made journal: header of `version` (frame_max in it for version 2), then one
 * frame of `count` CANCEL records, whole and correctly sealed (a real bomb: its zstd
 * frame really holds count * 6 bytes), then a frame of one record. */
static void write_bomb(const char *p, uint32_t version, uint32_t frame_max, uint32_t count)
{
    static const uint8_t cancel[6] = {0x05, 0x14, 0x52, 0x81, 0x16, 0x18};
    size_t raw_n = (size_t)count * 6;
    uint8_t *raw = malloc(raw_n);
    cr_assert_not_null(raw);
    for (size_t i = 0; i < raw_n; i += 6)
        memcpy(raw + i, cancel, 6);
    size_t zcap = ZSTD_compressBound(raw_n);
    uint8_t *f = calloc(1, 64 + 2 * 40 + zcap + 64);
    memcpy(f, "\x89TQJ\r\n\x1a\n", 8); /* the magic */
    tq_le_put32(f + 8, version);
    tq_le_put32(f + 12, 64);
    tq_le_put32(f + 20, version == 2 ? frame_max : 0);
    memset(f + 24, 0x5a, 16);
    reseal_file(f);
    size_t at = 64;
    for (int k = 0; k < 2; k++) {
        uint32_t c = k == 0 ? count : 1;
        size_t rn = (size_t)c * 6;
        uint8_t *h = f + at;
        size_t z = ZSTD_compress(h + 40, zcap, raw, rn, 1);
        cr_assert(!ZSTD_isError(z));
        memcpy(h, "TQFR", 4);
        for (int i = 0; i < 8; i++)
            h[4 + i] = (uint8_t)((k == 0 ? 1 : 1 + (uint64_t)count) >> (8 * i));
        tq_le_put32(h + 12, c);
        tq_le_put32(h + 16, (uint32_t)rn);
        tq_le_put32(h + 20, (uint32_t)z);
        uint64_t sum = XXH3_64bits(raw, rn);
        for (int i = 0; i < 8; i++)
            h[24 + i] = (uint8_t)(sum >> (8 * i));
        tq_le_put32(h + 32, (uint32_t)XXH3_64bits(h + 40, z));
        reseal_frame(f, at);
        at += 40 + z;
    }
    tq_test_spit(p, f, at);
    free(f);
    free(raw);
}

/* Decode every frame with buffers of our own; @return how many frames were corrupt,
 * with the largest buffer ever allocated in *most. */
static int decode_frames(const char *p, uint64_t *events, size_t *most)
{
    tq_journal_reader *r;
    cr_assert_eq(tq_journal_open(p, &r), TQ_OK);
    tq_frame_info fi;
    uint8_t *z = NULL, *raw = NULL;
    size_t zc = 0, rc_ = 0;
    int rc, bad = 0;
    *events = 0;
    while ((rc = tq_journal_read_frame(r, &fi, &z, &zc)) == TQ_OK) {
        rc = tq_journal_frame_decode(&fi, z, &raw, &rc_);
        if (rc == TQ_ERR_CORRUPT) {
            bad++;
            continue;
        }
        cr_assert_eq(rc, TQ_OK);
        *events += fi.count;
    }
    cr_assert_eq(rc, TQ_ERR_EOF);
    *most = zc > rc_ ? zc : rc_;
    free(z);
    free(raw);
    tq_journal_close(r);
    return bad;
}

Test(journal, real_bomb_over_frame_max_is_refused_before_allocating)
{
    const char *p = path_in("realbomb.tqj");
    uint64_t events;
    size_t most;
    /* 1.5 M CANCEL records = 9 MiB of content in a few KiB, in a journal whose header
     * says frames are at most 1 MiB: refused, the one-record frame after it read. */
    write_bomb(p, 2, 1u << 20, 1572864);
    cr_assert_eq(decode_frames(p, &events, &most), 1);
    cr_assert_eq(events, 1);
    cr_assert_lt(most, 1u << 20, "allocated %zu bytes for a refused frame", most);
    /* version 1: held to the reader's cap (8 MiB), so 9 MiB is refused the same way */
    write_bomb(p, 1, 0, 1572864);
    cr_assert_eq(decode_frames(p, &events, &most), 1);
    cr_assert_lt(most, 1u << 20, "allocated %zu bytes for a refused frame", most);
    /* the same content within the limit is a good frame */
    write_bomb(p, 2, TQ_JOURNAL_FRAME_MAX, 1000000);
    cr_assert_eq(decode_frames(p, &events, &most), 0);
    cr_assert_eq(events, 1000001);
}

/* ---- writers and the lock ----------------------------------------------------------- */

Test(journal, busy_writer_is_named_and_the_lock_file_goes_away)
{
    const char *p = path_in("lk.tqj");
    write_journal(p, 5, 0);
    char lockp[128];
    snprintf(lockp, sizeof lockp, "%s.lock", p);
    tq_journal_write_opts o1 = {.command = "journal pack first.ndjson"};
    tq_journal_writer *w1, *w2;
    cr_assert_eq(tq_journal_append(p, &o1, &w1), TQ_OK);
    cr_assert_eq(access(lockp, F_OK), 0, "the lock is beside the journal while it is written");
    tq_lock_holder h;
    tq_diag d = {0};
    tq_journal_write_opts o2 = {.busy = &h, .diag = &d};
    cr_assert_eq(tq_journal_create(p, &o2, &w2), TQ_ERR_BUSY);
    cr_assert_eq(h.pid, (long)getpid());
    cr_assert_str_eq(h.command, "journal pack first.ndjson");
    cr_assert_eq(tq_journal_append(p, &o2, &w2), TQ_ERR_BUSY);
    cr_assert_not_null(strstr(d.why, "first.ndjson"), "why: %s", d.why);
    tq_event ev;
    gen_event(6, &ev);
    cr_assert_eq(tq_journal_add(w1, &ev), TQ_OK);
    cr_assert_eq(tq_journal_finish(w1), TQ_OK);
    cr_assert_eq(access(lockp, F_OK), -1, "no lock file is left beside a finished journal");
    expect_events(p, 6);
}

Test(journal, no_clobber_refuses_an_existing_journal)
{
    jfile j = written("nc.tqj", 5, 0);
    tq_journal_write_opts o = {.flags = TQ_JOURNAL_NO_CLOBBER};
    tq_journal_writer *w;
    cr_assert_eq(tq_journal_create(j.path, &o, &w), TQ_ERR_EXISTS);
    expect_bytes(j.path, j.b, j.n, "refused: the journal must be untouched");
    cr_assert_eq(access(path_in("nc.tqj.lock"), F_OK), -1);
    /* a new path is fine with the flag */
    cr_assert_eq(tq_journal_create(path_in("nc2.tqj"), &o, &w), TQ_OK);
    tq_journal_abandon(w);
    cr_assert_eq(access(path_in("nc2.tqj"), F_OK), -1, "abandoned: never appears");
    free(j.b);
}

Test(journal, planted_links_are_never_followed)
{
    const char *victim = path_in("victim");
    tq_test_spit(victim, (const uint8_t *)"precious\n", 9);
    /* a link at J.tqj.lock: refused, the victim untouched */
    const char *p = path_in("pl.tqj");
    char lockp[128];
    snprintf(lockp, sizeof lockp, "%s.lock", p);
    cr_assert_eq(symlink(victim, lockp), 0);
    tq_journal_writer *w;
    tq_diag d = {0};
    tq_journal_write_opts o = {.diag = &d};
    cr_assert_eq(tq_journal_create(p, &o, &w), TQ_ERR_INPUT);
    cr_assert_not_null(strstr(d.why, "symbolic link"), "why: %s", d.why);
    cr_assert_eq(unlink(lockp), 0);
    /* a link at the journal: append refuses it; create replaces the link itself */
    cr_assert_eq(symlink(victim, p), 0);
    cr_assert_eq(tq_journal_append(p, &o, &w), TQ_ERR_INPUT);
    cr_assert_eq(tq_journal_create(p, NULL, &w), TQ_OK);
    cr_assert_eq(tq_journal_finish(w), TQ_OK);
    size_t n;
    uint8_t *b = tq_test_slurp(victim, &n);
    cr_assert(n == 9 && memcmp(b, "precious\n", 9) == 0, "the link's target was written");
    free(b);
    struct stat st;
    cr_assert_eq(lstat(p, &st), 0);
    cr_assert(S_ISREG(st.st_mode));
}
