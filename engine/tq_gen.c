/* tq_gen.c - the synthetic backlog behind `thongquan gen`: a journal, payments, permits.
 *
 * DESIGN
 *
 * What it makes.  The mix of one real outage (SPEC §1): channels 67/30/3; registrations
 * from 2024-08-06 13:30 +07:00 on, about 0.72 s apart (so 20,000 declarations fill the
 * 13:30-17:30 incident) but never spread over more than three days; decl_no grows with
 * registration, in steps of 1 with an occasional small gap.  Per declaration a payment
 * fate is drawn: paid in full (85%, some in two receipts, a few overpaid), short (5%),
 * a bank guarantee (4%, some expired before registration, some expiring that very day),
 * unpaid (3%), no tax at all (3%).  40% of declarations name permits, drawn from a pool
 * of N/20 (at least 50) with a skew, so some permits are named by thousands; a few hot
 * quota permits get a quota of about half the demand they will see, so quota
 * contention is certain.  The pool has every defect the rules know: revoked, windows
 * that end before or start after the backlog, a holder other than the importer who
 * uses it (sometimes the same company's 10- vs 13-digit id), importers who put goods
 * of another HS chapter under it, and lines naming permits that do not exist.  After a
 * declaration come officer results (most yellow ones DOCS_OK, most red ones
 * INSPECT_OK, some only DOCS_OK, some nothing), rejections, amendments of tax and
 * lines (a tax rise sometimes paid by a supplementary receipt), manual clearances
 * and cancellations (both mostly of declarations that would be held), resent DECLs,
 * events for decl_nos that do not exist (or exist only later), payments for decl_nos
 * that never come, identical payment rows loaded twice and permits reissued within the
 * file.  All the shares are the P_* constants below.
 *
 * Streaming, bounded memory.  The permit pool is drawn first and permits.csv written
 * from it, since declarations must name permits whose holder and HS prefixes they know.
 * What a declaration needs of a permit is kept in 24 bytes (the pool is capped at
 * GEN_MAX_PERMITS).  Importers are not stored at all: an importer's tax id is a
 * bijective function of its index.  Declarations are never kept: the last GEN_RING of
 * them sit in a ring, and their follow-up events in a timing wheel of the same size.
 * Each declaration's events are planned when it is declared, and fire one by one at
 * later ticks (one tick per declaration), each due before the declaration leaves the
 * ring; so follow-ups interleave with newer DECLs within a window of GEN_RING.
 *
 * Determinism.  Everything derives from (declarations, seed).  The main stream is
 * xoshiro256** seeded through splitmix64 and drives the order of things (gaps, plans,
 * payments, permits).  A DECL's content comes from its own splitmix64 stream keyed by
 * (seed, declaration index) instead, so a resent DECL or an AMEND of its lines can
 * regenerate the original exactly without anyone storing it.  Only the journal's id is
 * random (the journal writer draws it), so journal.tqj differs in 16 bytes between
 * runs while the events inside are identical.
 *
 * Threads.  Encoding and compressing the journal costs more than making the events,
 * so a second thread does it: the caller's thread builds events in place in batches
 * of GEN_BATCH slots and hands each full batch over (GEN_NBATCH in flight, then it
 * waits); the journal thread adds them in order, so the order of events is the order
 * they were built.  The writer is touched by one thread at a time: the journal thread
 * between start and stop, the caller's before and after.  If no thread can be
 * started, the caller writes its batches itself.  Everything else (payments, the
 * progress callback) stays on the caller's thread.
 *
 * Speed.  No allocation after setup, no stdio formatting in the loop: numbers, dates
 * and names are written by hand into the event slots or a 1 MiB output buffer.  Every
 * 64k declarations the kernel is asked to start writing back what is dirty, so the
 * disk works during the run rather than all in the final fsync.
 *
 * Files.  Each file goes through tq_out (formats/tq_out.h): a temporary file with a
 * random name beside its final name, never a planted link followed; each is renamed to
 * its name only after all three are complete and fsynced, and the directory fsynced: a
 * failed or killed run leaves any earlier set of files untouched (and removes its
 * temporaries, on SIGINT, SIGTERM and SIGHUP too).
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE   /* sync_file_range(), O_DIRECTORY */
#endif
#include "tq_gen.h"


#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "../formats/tq_event.h"
#include "../formats/tq_journal.h"
#include "../formats/tq_out.h"
#include "../formats/tq_time.h"

/* ---- limits and shape --------------------------------------------------------- */

#define GEN_MAX_DECLARATIONS 10000000000ULL  /* decl_no stays 12 digits up to here */
#define GEN_MAX_PERMITS 2000000u             /* 48 MB of permit metadata at most */
#define GEN_MAX_DECLARANTS 99999999ULL       /* tax ids are unique below 10^8 */
#define GEN_RING 4096u                       /* follow-up window, power of two */
#define GEN_PLAN_MAX 8
#define GEN_BATCH 512u                       /* events per hand-over to the journal thread */
#define GEN_NBATCH 4u                        /* batches in flight: 4 x 1.7 MB */
#define GEN_PROGRESS_MASK 0xFFFFu            /* progress every 65,536 declarations */
#define GEN_OUTBUF (1u << 20)
#define GEN_ROW_MAX 512                      /* longest CSV row we write, with margin */

#define PPM 1000000u
#define VN_OFFSET_SEC (7 * 3600)

/* The backlog starts 2024-08-06 13:30 +07:00 (the incident's start). */
#define START_Y 2024
#define START_M 8
#define START_D 6
#define START_SOD (13 * 3600 + 30 * 60)
#define MEAN_GAP_US 720000LL                 /* 20,000 declarations in four hours */
#define MAX_SPAN_US (3LL * 86400 * 1000000)  /* ...but never more than three days */

/* Shares of the mix, in parts per million. */
#define P_CH1 670000u
#define P_CH2 300000u                        /* channel 3 is the rest (3%) */
#define P_HAS_PERMIT 400000u
#define P_PAY_FULL 850000u
#define P_PAY_SHORT 50000u
#define P_PAY_GUAR 40000u
#define P_PAY_UNPAID 30000u                  /* tax_due 0 is the rest (3%) */
#define P_SPLIT 150000u                      /* of full payments: two receipts */
#define P_OVERPAY 15000u
#define P_DUP_ROW 1000u                      /* a payment row loaded twice */
#define P_HOT 100000u                        /* of permit declarations: a hot permit */
#define P_LINE_SAME 350000u                  /* a further line names the same permit */
#define P_LINE_SIBLING 80000u                /* ... or another permit of the holder */
#define P_LINE_MISSING 20000u                /* ... or a permit that does not exist */
#define P_PRIMARY_MISSING 10000u
#define P_DUP_DECL 3000u
#define P_AMEND 20000u
#define P_CANCEL 5000u                       /* ... 5% with a defect: about 1% in all */
#define P_CANCEL_DEFECT 50000u
#define P_UNKNOWN_EVENT 1000u                /* per tick */
#define P_UNKNOWN_PAY 2000u                  /* per tick */
#define P_REISSUE 3000u                      /* a permit row written twice */

/* Expected demand on a hot permit per declaration naming it: line 0 and 35% of the
 * other 1.86 lines (the mean of the line-count mix below is 2.86), qty 1..2000. */
#define HOT_QTY_PER_DECL 1600u

/* ---- random numbers ----------------------------------------------------------- */

static inline uint64_t splitmix64(uint64_t *s)
{
    uint64_t z = (*s += 0x9e3779b97f4a7c15ULL);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
}

typedef struct xoshiro {
    uint64_t s[4];
} xoshiro;

static inline uint64_t rotl64(uint64_t x, int k)
{
    return (x << k) | (x >> (64 - k));
}

static inline uint64_t xo_next(xoshiro *r)
{
    uint64_t *s = r->s;
    uint64_t result = rotl64(s[1] * 5, 7) * 9;
    uint64_t t = s[1] << 17;
    s[2] ^= s[0];
    s[3] ^= s[1];
    s[1] ^= s[2];
    s[0] ^= s[3];
    s[2] ^= t;
    s[3] = rotl64(s[3], 45);
    return result;
}

static void xo_seed(xoshiro *r, uint64_t seed)
{
    uint64_t sm = seed;
    for (int i = 0; i < 4; i++)
        r->s[i] = splitmix64(&sm);
}

/* Map a random 64-bit x onto [0, n).  Multiply-shift on the high half for the small
 * ranges we mostly use (no division); modulo otherwise, whose bias is below 2^-30. */
static inline uint64_t bounded(uint64_t x, uint64_t n)
{
    if (n <= UINT32_MAX)
        return ((x >> 32) * n) >> 32;
    return x % n;
}

/* The two streams share these helpers: R is the main stream, S a declaration's. */
#define R_BELOW(g, n) bounded(xo_next(&(g)->rng), (n))
#define R_PPM(g) ((uint32_t)R_BELOW(g, PPM))
#define S_BELOW(s, n) bounded(splitmix64(s), (n))
#define S_PPM(s) ((uint32_t)S_BELOW(s, PPM))

/* ---- tables ------------------------------------------------------------------- */

/* Declaration kinds and their weights per mille (import A.., export B.., processing
 * E.., temporary G.., others). */
static const struct {
    char code[4];
    uint16_t weight;
} k_kinds[] = {
    {"A11", 400}, {"A12", 120}, {"A31", 20}, {"A41", 30}, {"B11", 120},
    {"B13", 10},  {"C11", 20},  {"E11", 30}, {"E21", 40}, {"E31", 80},
    {"E52", 30},  {"G11", 20},  {"G12", 20}, {"G13", 20}, {"G51", 40},
};
#define NKINDS (sizeof k_kinds / sizeof k_kinds[0])

static const char k_offices[][5] = {
    "01B1", "01B3", "01NV", "01PR", "01SI", "02B1", "02CI", "02CC", "02IK", "03CE", "03CC",
    "03TG", "18A3", "18B1", "20BC", "27NJ", "34CE", "43IH", "43NF", "47D1", "51CB", "60BS",
};
#define NOFFICES (sizeof k_offices / sizeof k_offices[0])

static const char *const k_agencies[] = {
    "BCT", "BYT", "BNNPTNT", "BTTTT", "BKHCN", "BQP", "BCA", "NHNN", "BTNMT", "BGTVT", "BXD",
};
#define NAGENCIES (sizeof k_agencies / sizeof k_agencies[0])

static const char k_seps[4] = {'-', '.', '/', '_'};

static const char *const k_banks[] = {"KB", "VCB", "BIDV", "VTB", "ACB", "TCB", "MB", "AGR"};
#define NBANKS (sizeof k_banks / sizeof k_banks[0])
_Static_assert(NBANKS == 8, "pay_row picks a bank with the top 3 bits of a hash");

/* HS codes of goods that move through Vietnamese customs every day. */
static const char k_hs[][9] = {
    "85171300", "84713020", "84714100", "85423100", "30049099", "30021500", "38089290",
    "04022190", "03061711", "02071400", "10063099", "12019000", "23040090", "27101944",
    "27101224", "72085100", "72104912", "39269099", "39011092", "61091010", "64039990",
    "87032363", "87089980", "90181900", "94036090", "85076090", "29420000", "28151100",
    "31052000", "44071100", "52010000", "08045020", "22030010", "24022090", "33049930",
    "73269099", "84151010", "85287292", "95030099", "15119037",
};
#define NHS (sizeof k_hs / sizeof k_hs[0])
_Static_assert(NHS <= 64, "the chapter masks are 64-bit");

/* ---- dates and numbers -------------------------------------------------------- */

static inline int64_t floor_div(int64_t a, int64_t b)
{
    int64_t q = a / b;
    return (a % b != 0 && (a < 0) != (b < 0)) ? q - 1 : q;
}

static inline int64_t vn_day(int64_t unix_sec)
{
    return floor_div(unix_sec + VN_OFFSET_SEC, 86400);
}

static inline char *put2(char *p, unsigned v)
{
    p[0] = (char)('0' + v / 10);
    p[1] = (char)('0' + v % 10);
    return p + 2;
}

/* v in decimal, at least width digits (zero-padded); returns the end. */
static inline char *put_u64w(char *p, uint64_t v, unsigned width)
{
    char tmp[24];
    unsigned n = 0;
    do {
        tmp[n++] = (char)('0' + v % 10);
        v /= 10;
    } while (v != 0);
    while (n < width)
        tmp[n++] = '0';
    while (n > 0)
        *p++ = tmp[--n];
    return p;
}

static inline char *put_u64(char *p, uint64_t v)
{
    return put_u64w(p, v, 1);
}

static inline char *put_str(char *p, const char *s)
{
    while (*s)
        *p++ = *s++;
    return p;
}

/* "YYYY-MM-DD" (years 1000..9999 are all we make). */
static char *put_date(char *p, int64_t day)
{
    int64_t y;
    int m, d;
    tq_civil_from_days(day, &y, &m, &d);
    p = put_u64w(p, (uint64_t)y, 4);
    *p++ = '-';
    p = put2(p, (unsigned)m);
    *p++ = '-';
    return put2(p, (unsigned)d);
}

/* A timestamp as "YYYY-MM-DDTHH:MM:SS+HH:MM" (or "...Z" when off_min is -1), NUL-ended. */
static void fmt_ts(char *out, int64_t unix_sec, int off_min)
{
    int zulu = off_min < 0;
    int64_t local = unix_sec + (zulu ? 0 : (int64_t)off_min * 60);
    int64_t day = floor_div(local, 86400);
    unsigned sod = (unsigned)(local - day * 86400);
    char *p = put_date(out, day);
    *p++ = 'T';
    p = put2(p, sod / 3600);
    *p++ = ':';
    p = put2(p, sod / 60 % 60);
    *p++ = ':';
    p = put2(p, sod % 60);
    if (zulu) {
        *p++ = 'Z';
    } else {
        *p++ = '+';
        p = put2(p, (unsigned)off_min / 60);
        *p++ = ':';
        p = put2(p, (unsigned)off_min % 60);
    }
    *p = '\0';
}

/* ---- state -------------------------------------------------------------------- */

typedef enum gen_permit_class {
    PC_VALID = 0,
    PC_QUOTA,
    PC_HOT,       /* quota about half its demand, picked often */
    PC_REVOKED,
    PC_EXPIRED,   /* window before or after the backlog */
    PC_HOLDER,    /* the file names another holder than the importer who uses it */
    PC_HSBAD      /* its users often declare goods of another chapter under it */
} gen_permit_class;

/* What declarations need to know of a permit. */
typedef struct gen_permit {
    uint64_t chmask;     /* k_hs entries whose chapter some prefix of it starts */
    uint32_t user;       /* declarant index that names it */
    uint8_t cls;         /* gen_permit_class */
    uint8_t agency, sep;
    uint8_t nuse;        /* prefixes that lines draw from (its first 1..4) */
    uint8_t cat[4];      /* k_hs index each of those prefixes was cut from */
    uint8_t len[4];      /* their lengths: 2, 4, 6 or 8 */
} gen_permit;

typedef enum gen_plan_step {
    PL_DUP = 1,
    PL_AMEND_TAX,
    PL_AMEND_LINES,
    PL_AMEND_BOTH,
    PL_DOCS_OK,
    PL_INSPECT_OK,
    PL_REJECT,
    PL_MANUAL,
    PL_CANCEL
} gen_plan_step;

typedef enum gen_pay_fate {
    PF_FULL = 0,
    PF_SHORT,
    PF_GUARANTEE,
    PF_UNPAID,
    PF_ZERO
} gen_pay_fate;

/* A recent declaration with events still to come. */
typedef struct gen_pending {
    uint64_t idx;        /* declaration index (0-based) */
    uint64_t decl_no;
    int64_t reg_sec;
    uint64_t tax_due;    /* as last amended */
    uint32_t next;       /* wheel chain: ring slot + 1, 0 ends it */
    uint8_t office;
    uint8_t nplan, pos;
    uint8_t plan[GEN_PLAN_MAX];
} gen_pending;

/* What the main stream needs to know of a generated DECL. */
typedef struct gen_decl_info {
    uint64_t tax_due;
    uint8_t channel;
    uint8_t office;
    uint8_t fate;        /* gen_pay_fate */
    uint8_t trouble;     /* a permit defect: likely held for a reason an officer can't fix */
} gen_decl_info;

typedef struct gen_out {
    tq_out out;          /* the file, a temporary until published */
    int fd;              /* out.fd while writing, else -1 */
    int err;             /* first errno; sticky */
    char *buf;
    size_t len;
    uint64_t rows;
} gen_out;

/* Batches of events on their way to the journal thread.  Events are built in place in
 * a batch's slots (a slot is reused for any kind: the encoder reads only the members
 * its kind uses), so nothing is copied between the threads. */
typedef struct gen_batch {
    uint32_t n;
    tq_event ev[GEN_BATCH];
} gen_batch;

typedef struct gen_pipe {
    gen_batch *batch[GEN_NBATCH];
    gen_batch *cur;          /* the batch being filled (producer only) */
    uint64_t produced, consumed;   /* batches handed over, batches written */
    int threaded;            /* 0: the producer writes its batches itself */
    int done, abort;         /* producer: no more batches / stop writing */
    int err;                 /* the journal writer's error, sticky */
    pthread_t thread;
    pthread_mutex_t mu;
    pthread_cond_t cv;       /* any change of produced, consumed, done, abort, err */
    tq_journal_writer *jw;
} gen_pipe;

typedef struct gen {
    const tq_gen_opts *opts;
    xoshiro rng;
    uint64_t decl_key;   /* keys the per-declaration streams */
    uint64_t n;
    uint64_t ndeclarants;
    uint64_t tax_off;    /* tax id permutation offset */
    uint32_t npermits, nhot, hot_stride;
    gen_permit *permits;
    uint64_t chap_mask[NHS];

    int64_t t0_sec;      /* first registration, unix seconds */
    int64_t mean_gap_us;
    int64_t day0, day1;  /* VN days of the first and (at the latest) last registration */
    int64_t now_us;      /* the current registration, microseconds after t0_sec */
    uint64_t no_first, no_next, last_gap;  /* decl_no numbering */
    uint64_t receipts;

    gen_pending ring[GEN_RING];
    uint32_t wheel[GEN_RING];  /* tick % GEN_RING -> chain of ring slots + 1 */
    uint64_t npending;

    tq_journal_writer *jw;
    tq_out jout;         /* journal.tqj: jout.tmp is what the journal writer writes */
    int jfd;             /* read-only, for writeback hints only; -1 if none */
    uint64_t events;
    gen_out pay, per;

    gen_pipe pipe;
    tq_event ev_aux;     /* a regenerated DECL (resend, or the base of an AMEND) */
} gen;

/* ---- output files ------------------------------------------------------------- */

static int file_error(tq_diag *d, const char *path, int e)
{
    tq_diag_set(d, "(file)", "%s: %s", path, strerror(e));
    return tq_errno(e);
}

/* open_out() - DIR/NAME through tq_out: a regular file only (these three are
 * published together, which a stream cannot be). */
static int open_out(tq_out *o, const char *dir, const char *name, tq_diag *d)
{
    char path[PATH_MAX];
    if ((size_t)snprintf(path, sizeof path, "%s/%s", dir, name) >= sizeof path)
        return file_error(d, dir, ENAMETOOLONG);
    int rc = tq_out_open(o, path, TQ_OUT_NO_STREAM, d);
    if (rc != TQ_OK && d != NULL)
        snprintf(d->field, sizeof d->field, "(file)");   /* as tq_gen.h says */
    return rc;
}

static int out_open(gen_out *o, const char *dir, const char *name, tq_diag *d)
{
    o->fd = -1;
    o->buf = malloc(GEN_OUTBUF);
    if (o->buf == NULL) {
        tq_diag_set(d, "(memory)", "no memory for the buffer of %s/%s", dir, name);
        return TQ_ERR_NOMEM;
    }
    int rc = open_out(&o->out, dir, name, d);
    if (rc == TQ_OK)
        o->fd = o->out.fd;
    return rc;
}

static void out_flush(gen_out *o)
{
    const char *p = o->buf;
    size_t left = o->len;
    o->len = 0;
    while (left > 0 && o->err == 0) {
        ssize_t w = write(o->fd, p, left);
        if (w < 0) {
            if (errno != EINTR)
                o->err = errno;
            continue;
        }
        p += w;
        left -= (size_t)w;
    }
}

/* Append one row.  After a write error the rows are dropped: the error is sticky and
 * checked once per declaration. */
static inline void out_write(gen_out *o, const char *row, size_t n)
{
    if (GEN_OUTBUF - o->len < n)
        out_flush(o);
    memcpy(o->buf + o->len, row, n);
    o->len += n;
    o->rows++;
}

/* Flush and fsync; the file keeps its temporary name until publish(). */
static int out_close(gen_out *o, tq_diag *d)
{
    out_flush(o);
    o->fd = -1;
    if (o->err != 0)
        return file_error(d, o->out.tmp, o->err);
    return tq_out_sync(&o->out, d);
}

static void out_discard(gen_out *o)
{
    tq_out_rollback(&o->out);
    o->fd = -1;
    free(o->buf);
    o->buf = NULL;
}

/* ---- the journal thread ------------------------------------------------------- */

static int write_batch(tq_journal_writer *jw, const gen_batch *b)
{
    for (uint32_t i = 0; i < b->n; i++) {
        int rc = tq_journal_add(jw, &b->ev[i]);
        if (rc != TQ_OK)
            return rc;
    }
    return TQ_OK;
}

static void *journal_thread(void *arg)
{
    gen_pipe *p = arg;
    pthread_mutex_lock(&p->mu);
    for (;;) {
        while (p->consumed == p->produced && !p->done && !p->abort)
            pthread_cond_wait(&p->cv, &p->mu);
        if (p->abort || p->consumed == p->produced)
            break;
        const gen_batch *b = p->batch[p->consumed % GEN_NBATCH];
        pthread_mutex_unlock(&p->mu);
        int rc = write_batch(p->jw, b);
        pthread_mutex_lock(&p->mu);
        if (rc != TQ_OK) {
            p->err = rc;
            pthread_cond_broadcast(&p->cv);
            break;
        }
        p->consumed++;
        pthread_cond_broadcast(&p->cv);
    }
    pthread_mutex_unlock(&p->mu);
    return NULL;
}

static int journal_error(gen *g, int rc, tq_diag *d)
{
    if (rc == TQ_ERR_INPUT)   /* the encoder refused an event: a bug here, not in the disk */
        tq_diag_set(d, "(journal)", "%s: the generator made an event the journal refuses",
                    g->jout.tmp);
    else
        tq_diag_set(d, "(file)", "%s: %s", g->jout.tmp, tq_strerror(rc));
    return rc;
}

static int pipe_start(gen *g)
{
    gen_pipe *p = &g->pipe;
    p->jw = g->jw;
    for (unsigned i = 0; i < GEN_NBATCH; i++) {
        p->batch[i] = malloc(sizeof *p->batch[i]);
        if (p->batch[i] == NULL)
            return TQ_ERR_NOMEM;
    }
    p->cur = p->batch[0];
    p->cur->n = 0;
    if (pthread_mutex_init(&p->mu, NULL) != 0)
        return TQ_OK;                        /* unthreaded, then */
    if (pthread_cond_init(&p->cv, NULL) != 0) {
        pthread_mutex_destroy(&p->mu);
        return TQ_OK;
    }
    p->threaded = pthread_create(&p->thread, NULL, journal_thread, p) == 0;
    if (!p->threaded) {
        pthread_cond_destroy(&p->cv);
        pthread_mutex_destroy(&p->mu);
    }
    return TQ_OK;
}

/* Hand the current batch over and take the next free one. */
static int pipe_hand_off(gen *g, tq_diag *d)
{
    gen_pipe *p = &g->pipe;
    if (!p->threaded) {
        int rc = write_batch(p->jw, p->cur);
        p->cur->n = 0;
        return rc == TQ_OK ? TQ_OK : journal_error(g, rc, d);
    }
    pthread_mutex_lock(&p->mu);
    p->produced++;
    pthread_cond_broadcast(&p->cv);
    while (p->produced - p->consumed == GEN_NBATCH && p->err == TQ_OK)
        pthread_cond_wait(&p->cv, &p->mu);
    int rc = p->err;
    pthread_mutex_unlock(&p->mu);
    if (rc != TQ_OK)
        return journal_error(g, rc, d);
    p->cur = p->batch[p->produced % GEN_NBATCH];
    p->cur->n = 0;
    return TQ_OK;
}

/* Write what is left and stop the thread (abort: drop what is queued).  After this
 * the writer belongs to the calling thread again. */
static int pipe_stop(gen *g, int abort, tq_diag *d)
{
    gen_pipe *p = &g->pipe;
    int rc = TQ_OK;
    if (!abort && p->cur != NULL && p->cur->n > 0)
        rc = pipe_hand_off(g, d);
    if (p->threaded) {
        pthread_mutex_lock(&p->mu);
        p->done = 1;
        p->abort |= abort || rc != TQ_OK;
        pthread_cond_broadcast(&p->cv);
        pthread_mutex_unlock(&p->mu);
        pthread_join(p->thread, NULL);
        pthread_cond_destroy(&p->cv);
        pthread_mutex_destroy(&p->mu);
        p->threaded = 0;
        if (rc == TQ_OK && p->err != TQ_OK)
            rc = journal_error(g, p->err, d);
    }
    return rc;
}

static void pipe_free(gen_pipe *p)
{
    for (unsigned i = 0; i < GEN_NBATCH; i++)
        free(p->batch[i]);
}

/* The slot for the next event, and its commit. */
static inline tq_event *ev_slot(gen *g)
{
    return &g->pipe.cur->ev[g->pipe.cur->n];
}

static inline int ev_commit(gen *g, tq_diag *d)
{
    g->events++;
    if (++g->pipe.cur->n == GEN_BATCH)
        return pipe_hand_off(g, d);
    return TQ_OK;
}

/* ---- names -------------------------------------------------------------------- */

/* Importer i's tax id.  The 8 digits after the province are i * 7919 + off modulo 10^8,
 * a bijection (7919 is prime to 10), so ids are distinct without a table.  About one
 * importer in eight files under a branch's 13-digit id. */
static void fmt_taxid(const gen *g, uint64_t i, char out[TQ_TAXID_MAX + 1], int flip)
{
    uint64_t h = i * 0x9E3779B97F4A7C15ULL;
    int branch = (h >> 61) == 0;
    char *p = put2(out, (unsigned)(1 + i % 96));
    p = put_u64w(p, (i * 7919 + g->tax_off) % 100000000ULL, 8);
    if (branch != flip)   /* flip: the same company under its other form of id */
        p = put_u64w(p, 1 + (h >> 40) % 30, 3);
    *p = '\0';
}

static void fmt_permit_no(char out[TQ_PERMIT_MAX + 1], unsigned agency, unsigned sep,
                          uint64_t serial)
{
    char *p = put_str(out, k_agencies[agency]);
    *p++ = k_seps[sep];
    p = put_str(p, "2024");
    *p++ = k_seps[sep];
    p = put_u64w(p, serial, 6);
    *p = '\0';
}

static void fmt_decl_no(char out[TQ_DECL_NO_LEN + 1], uint64_t no)
{
    put_u64w(out, no, 12)[0] = '\0';
}

static void fmt_officer(char out[TQ_OFFICER_MAX + 1], unsigned office, unsigned badge)
{
    char *p = put_str(out, "HQ");
    p = put_str(p, k_offices[office]);
    *p++ = '-';
    p = put_u64w(p, badge, 4);
    *p = '\0';
}

/* ---- the permit pool ---------------------------------------------------------- */

static inline uint64_t skewed(uint64_t x, uint64_t n)
{
    /* u^2 for u uniform in [0,1): low indices are popular, as big importers are */
    uint64_t u = x >> 32;
    return bounded((u * u) >> 32 << 32, n);
}

static inline int is_hot(const gen *g, uint32_t p)
{
    return p % g->hot_stride == 0 && p / g->hot_stride < g->nhot;
}

static unsigned draw_prefix_len(gen *g)
{
    uint32_t r = R_PPM(g);
    return r < 150000 ? 2 : r < 600000 ? 4 : r < 850000 ? 6 : 8;
}

/* One row of permits.csv.  older: an earlier version of a reissued permit (VALID,
 * half the quota), which the row after it replaces. */
static void write_permit_row(gen *g, uint32_t p, const gen_permit *pm, const uint8_t *cat,
                             const uint8_t *len, unsigned nprefix, uint64_t quota, int older)
{
    static const int64_t d2023_07_01 = 19539, d2024_01_01 = 19723, d2024_06_01 = 19875,
                         d2024_12_31 = 20088, d2025_05_31 = 20239;
    char row[GEN_ROW_MAX], *s = row;
    fmt_permit_no(s, pm->agency, pm->sep, (uint64_t)p + 1);
    s += strlen(s);
    *s++ = ',';
    s = put_str(s, k_agencies[pm->agency]);
    *s++ = ',';

    char holder[TQ_TAXID_MAX + 1];
    if (pm->cls == PC_HOLDER && R_PPM(g) < 300000) {
        fmt_taxid(g, pm->user, holder, 1);   /* same company, its other id: still wrong */
    } else if (pm->cls == PC_HOLDER) {
        uint64_t other = (pm->user + 1 + R_BELOW(g, g->ndeclarants - 1)) % g->ndeclarants;
        fmt_taxid(g, other, holder, 0);
    } else {
        fmt_taxid(g, pm->user, holder, 0);
    }
    s = put_str(s, holder);
    *s++ = ',';

    int64_t from, to;
    uint32_t r = R_PPM(g);
    if (pm->cls == PC_EXPIRED && r < 600000) {          /* ended before the backlog */
        from = d2023_07_01 + (int64_t)R_BELOW(g, 180);
        to = g->day0 - 1 - (int64_t)R_BELOW(g, 30);
    } else if (pm->cls == PC_EXPIRED) {                 /* starts after it */
        from = g->day1 + 1 + (int64_t)R_BELOW(g, 60);
        to = from + 90 + (int64_t)R_BELOW(g, 270);
    } else if (r < 700000) {
        from = d2024_01_01, to = d2024_12_31;
    } else if (r < 850000) {
        from = d2024_06_01, to = d2025_05_31;
    } else if (r < 950000) {
        from = g->day0 - (int64_t)R_BELOW(g, 90);
        to = g->day1 + (int64_t)R_BELOW(g, 180);
    } else {
        from = g->day0, to = g->day1;   /* exactly the backlog: both ends inclusive */
    }
    if (pm->cls != PC_EXPIRED) {       /* a permit meant valid covers every registration */
        if (from > g->day0)
            from = g->day0;
        if (to < g->day1)
            to = g->day1;
    }
    if (from > to)
        from = to;
    s = put_date(s, from);
    *s++ = ',';
    s = put_date(s, to);
    *s++ = ',';
    s = put_str(s, pm->cls == PC_REVOKED && !older ? "REVOKED" : "VALID");
    *s++ = ',';
    for (unsigned k = 0; k < nprefix; k++) {
        if (k > 0)
            *s++ = ';';
        memcpy(s, k_hs[cat[k]], len[k]);
        s += len[k];
    }
    *s++ = ',';
    s = put_u64(s, older && quota > 0 ? quota / 2 + 1 : quota);
    *s++ = '\n';
    out_write(&g->per, row, (size_t)(s - row));
}

static int make_permits(gen *g, tq_diag *d)
{
    uint64_t P = g->n / 20;
    if (P < 50)
        P = 50;
    if (P > GEN_MAX_PERMITS)
        P = GEN_MAX_PERMITS;
    g->npermits = (uint32_t)P;
    g->nhot = 3 + g->npermits / 2000;
    g->hot_stride = g->npermits / g->nhot;   /* >= 16: each hot permit has its own group */
    g->permits = calloc(P, sizeof *g->permits);
    if (g->permits == NULL) {
        tq_diag_set(d, "(memory)", "cannot hold %u permits", g->npermits);
        return TQ_ERR_NOMEM;
    }

    /* Demand on one hot permit: the declarations naming a permit, the hot share of
     * those, spread over the hot permits.  Half of it will not fit. */
    uint64_t hot_decls = g->n * (P_HAS_PERMIT / 1000) / 1000 * (P_HOT / 1000) / 1000 / g->nhot;
    uint64_t hot_quota = hot_decls * HOT_QTY_PER_DECL / 2;
    if (hot_quota < 100)
        hot_quota = 100;

    static const char header[] =
        "permit_no,agency,holder,valid_from,valid_to,status,hs_prefixes,quota\n";
    out_write(&g->per, header, sizeof header - 1);
    g->per.rows = 0;

    uint32_t user = 0;
    for (uint32_t p = 0; p < g->npermits; p++) {
        gen_permit *pm = &g->permits[p];
        if ((p & 3) == 0)   /* permits come in groups of four held by one importer */
            user = (uint32_t)skewed(xo_next(&g->rng), g->ndeclarants);
        pm->user = user;
        uint32_t r = R_PPM(g);
        if (is_hot(g, p))
            pm->cls = PC_HOT;
        else if (r < 120000)
            pm->cls = PC_QUOTA;
        else if (r < 150000)
            pm->cls = PC_REVOKED;
        else if (r < 190000)
            pm->cls = PC_EXPIRED;
        else if (r < 220000)
            pm->cls = PC_HOLDER;
        else if (r < 250000)
            pm->cls = PC_HSBAD;
        else
            pm->cls = PC_VALID;
        pm->agency = (uint8_t)R_BELOW(g, NAGENCIES);
        pm->sep = (uint8_t)R_BELOW(g, 4);

        r = R_PPM(g);
        unsigned nprefix = r < 600000 ? 1 : r < 850000 ? 2 : r < 950000 ? 3
                           : 4 + (unsigned)R_BELOW(g, TQ_PREFIXES_MAX - 3);
        uint8_t cat[TQ_PREFIXES_MAX], len[TQ_PREFIXES_MAX];
        for (unsigned k = 0; k < nprefix; k++) {
            cat[k] = (uint8_t)R_BELOW(g, NHS);
            len[k] = (uint8_t)draw_prefix_len(g);
            pm->chmask |= g->chap_mask[cat[k]];
        }
        pm->nuse = (uint8_t)(nprefix < 4 ? nprefix : 4);
        memcpy(pm->cat, cat, pm->nuse);
        memcpy(pm->len, len, pm->nuse);

        uint64_t quota = 0;
        if (pm->cls == PC_HOT)
            quota = hot_quota;
        else if (pm->cls == PC_QUOTA)
            quota = 200 + R_BELOW(g, 20000);
        else if (pm->cls == PC_REVOKED && R_PPM(g) < 300000)
            quota = 1000 + R_BELOW(g, 10000);

        if (pm->cls != PC_HOT && R_PPM(g) < P_REISSUE)
            write_permit_row(g, p, pm, cat, len, nprefix, quota, 1);
        write_permit_row(g, p, pm, cat, len, nprefix, quota, 0);
    }
    return TQ_OK;
}

/* ---- declarations ------------------------------------------------------------- */

static uint32_t pick_permit(const gen *g, uint64_t *s)
{
    if (S_PPM(s) < P_HOT)
        return (uint32_t)S_BELOW(s, g->nhot) * g->hot_stride;
    return (uint32_t)skewed(splitmix64(s), g->npermits);
}

/* An HS code that starts with one of pm's prefixes. */
static void hs_matching(const gen_permit *pm, uint64_t *s, char hs[9])
{
    unsigned k = (unsigned)S_BELOW(s, pm->nuse), len = pm->len[k];
    memcpy(hs, k_hs[pm->cat[k]], 9);
    if (len < 8 && S_PPM(s) < 300000) {
        uint64_t x = splitmix64(s);
        for (unsigned i = len; i < 8; i++, x /= 10)
            hs[i] = (char)('0' + x % 10);
    }
}

/* An HS code of a chapter none of pm's prefixes is in; 0 if they cover every chapter. */
static int hs_mismatching(const gen_permit *pm, uint64_t *s, char hs[9])
{
    unsigned start = (unsigned)S_BELOW(s, NHS);
    for (unsigned i = 0; i < NHS; i++) {
        unsigned c = (start + i) % NHS;
        if (!(pm->chmask >> c & 1)) {
            memcpy(hs, k_hs[c], 9);
            return 1;
        }
    }
    return 0;
}

static void hs_any(uint64_t *s, char hs[9])
{
    memcpy(hs, k_hs[S_BELOW(s, NHS)], 9);
    if (S_PPM(s) < 300000) {
        uint64_t x = splitmix64(s);
        for (unsigned i = 4; i < 8; i++, x /= 10)
            hs[i] = (char)('0' + x % 10);
    }
}

/* qty and value of a line.  Lines under a permit move modest quantities (so hot quota
 * demand is predictable); other lines now and then move bulk goods, up to the 10^12
 * bound itself. */
static void fill_amounts(uint64_t *s, tq_line *ln, int permit_line)
{
    uint64_t qty;
    uint32_t r = S_PPM(s);
    if (permit_line || r < 950000)
        qty = 1 + S_BELOW(s, permit_line ? 2000 : 5000);
    else if (r < 995000)
        qty = 5000 + S_BELOW(s, 1000000);
    else if (r < 999900)
        qty = 1000000 + S_BELOW(s, 1000000000);
    else if (r < 999990)
        qty = 1000000000 + S_BELOW(s, TQ_QTY_MAX - 1000000000);
    else
        qty = TQ_QTY_MAX;
    ln->qty = qty;
    if (S_PPM(s) < 10000) {
        ln->value = 0;   /* free samples */
    } else {
        uint64_t v = qty * (1000 + S_BELOW(s, 5000000));   /* < 5.1e18: no overflow */
        ln->value = v > TQ_MONEY_MAX ? TQ_MONEY_MAX : v;
    }
}

/* Fill ev with declaration idx's DECL.  Its content comes from the declaration's own
 * stream only, so calling this again gives the same event. */
static void gen_decl(const gen *g, uint64_t idx, uint64_t decl_no, int64_t reg_sec,
                     tq_event *ev, gen_decl_info *info)
{
    uint64_t s = g->decl_key ^ (idx * 0xD1B54A32D192ED03ULL);
    ev->ev = TQ_EV_DECL;
    ev->has = TQ_HAS_TAX_DUE | TQ_HAS_LINES;
    ev->result = 0;
    ev->officer[0] = '\0';
    ev->cleared_at[0] = '\0';
    fmt_decl_no(ev->decl_no, decl_no);

    /* The permit first: its metadata is a likely cache miss, so fetch it early and do
     * the rest while it comes. */
    uint32_t primary = 0;
    int has_permit = S_PPM(&s) < P_HAS_PERMIT;
    if (has_permit) {
        primary = pick_permit(g, &s);
        __builtin_prefetch(&g->permits[primary]);
    }

    uint32_t w = (uint32_t)S_BELOW(&s, 1000), acc = 0;
    size_t k = 0;
    while (k + 1 < NKINDS && w >= acc + k_kinds[k].weight)
        acc += k_kinds[k++].weight;
    memcpy(ev->kind, k_kinds[k].code, 4);
    unsigned office = (unsigned)S_BELOW(&s, NOFFICES);
    memcpy(ev->office, k_offices[office], 5);

    uint32_t r = S_PPM(&s);
    ev->channel = r < P_CH1 ? 1 : r < P_CH1 + P_CH2 ? 2 : 3;
    r = S_PPM(&s);
    uint8_t fate = r < P_PAY_FULL ? PF_FULL
                   : r < P_PAY_FULL + P_PAY_SHORT ? PF_SHORT
                   : r < P_PAY_FULL + P_PAY_SHORT + P_PAY_GUAR ? PF_GUARANTEE
                   : r < P_PAY_FULL + P_PAY_SHORT + P_PAY_GUAR + P_PAY_UNPAID ? PF_UNPAID
                   : PF_ZERO;

    /* Most registrations are stamped in Vietnam time; a few systems send UTC or Tokyo
     * time: the same instants, written so that a date cut from the text would be wrong
     * near midnight. */
    r = S_PPM(&s);
    fmt_ts(ev->registered_at, reg_sec, r < 970000 ? 7 * 60 : r < 990000 ? -1 : 9 * 60);
    ev->registered.sec = reg_sec;
    ev->registered.nsec = 0;

    int trouble = 0;
    uint64_t declarant;
    if (has_permit) {
        declarant = g->permits[primary].user;
    } else {
        declarant = skewed(splitmix64(&s), g->ndeclarants);
    }
    fmt_taxid(g, declarant, ev->declarant, 0);

    r = S_PPM(&s);
    unsigned nlines = r < 550000 ? 1 : r < 750000 ? 2 : r < 850000 ? 3
                      : r < 930000 ? 4 + (unsigned)S_BELOW(&s, 3)
                      : r < 980000 ? 7 + (unsigned)S_BELOW(&s, 9)
                      : 16 + (unsigned)S_BELOW(&s, TQ_LINES_MAX - 15);
    ev->nlines = (uint16_t)nlines;

    uint64_t total = 0;
    for (unsigned i = 0; i < nlines; i++) {
        tq_line *ln = &ev->lines[i];
        int64_t q = -1;   /* the permit the line names: an index, -2 missing, -1 none */
        if (has_permit) {
            r = S_PPM(&s);
            if (i == 0)
                q = r < P_PRIMARY_MISSING ? -2 : (int64_t)primary;
            else if (r < P_LINE_SAME)
                q = primary;
            else if (r < P_LINE_SAME + P_LINE_SIBLING)
                q = (primary & ~3u) + S_BELOW(&s, 4);
            else if (r < P_LINE_SAME + P_LINE_SIBLING + P_LINE_MISSING)
                q = -2;
            if (q >= (int64_t)g->npermits)
                q = primary;
        }
        if (q >= 0) {
            const gen_permit *pm = &g->permits[q];
            fmt_permit_no(ln->permit, pm->agency, pm->sep, (uint64_t)q + 1);
            uint32_t bad = pm->cls == PC_HSBAD ? 500000 : 5000;
            if (S_PPM(&s) < bad && hs_mismatching(pm, &s, ln->hs))
                trouble = 1;
            else
                hs_matching(pm, &s, ln->hs);
            if (pm->cls == PC_REVOKED || pm->cls == PC_EXPIRED || pm->cls == PC_HOLDER)
                trouble = 1;
        } else if (q == -2) {
            /* serials above the pool's are never issued */
            fmt_permit_no(ln->permit, (unsigned)S_BELOW(&s, NAGENCIES),
                          (unsigned)S_BELOW(&s, 4), g->npermits + 1 + S_BELOW(&s, g->npermits));
            hs_any(&s, ln->hs);
            trouble = 1;
        } else {
            ln->permit[0] = '\0';
            hs_any(&s, ln->hs);
        }
        fill_amounts(&s, ln, q >= 0);
        total += ln->value;
    }

    uint64_t tax = 0;
    if (fate != PF_ZERO) {
        static const uint8_t rates[] = {1, 3, 5, 8, 10, 10, 15, 20};
        tax = total / 100 * rates[S_BELOW(&s, sizeof rates)];   /* total <= 5e16 */
        tax -= tax % 1000;
        if (tax > TQ_MONEY_MAX)
            tax = TQ_MONEY_MAX;
        if (tax == 0)
            tax = 1000 * (1 + S_BELOW(&s, 500));
    }
    ev->tax_due = tax;

    info->tax_due = tax;
    info->channel = ev->channel;
    info->office = (uint8_t)office;
    info->fate = fate;
    info->trouble = (uint8_t)trouble;
}

/* ---- payments ----------------------------------------------------------------- */

static void pay_row(gen *g, const char *decl_no, int guarantee, uint64_t amount, int64_t until)
{
    char row[GEN_ROW_MAX], *s = row;
    if (amount > TQ_MONEY_MAX)
        amount = TQ_MONEY_MAX;
    s = put_str(s, decl_no);
    *s++ = ',';
    uint64_t no = ++g->receipts;   /* the serial alone makes receipt_no unique */
    const char *bank = k_banks[no * 0x9E3779B97F4A7C15ULL >> 61];
    if (guarantee) {
        s = put_str(s, "BL-");
        s = put_str(s, bank);
        *s++ = '-';
        s = put_u64w(s, no, 9);
        s = put_str(s, ",GUARANTEE,");
    } else {
        s = put_str(s, bank);
        s = put_str(s, "-2024-");
        s = put_u64w(s, no, 9);
        s = put_str(s, ",PAY,");
    }
    s = put_u64(s, amount);
    *s++ = ',';
    if (guarantee)
        s = put_date(s, until);
    *s++ = '\n';
    out_write(&g->pay, row, (size_t)(s - row));
    if (R_PPM(g) < P_DUP_ROW)   /* the same row twice: it must count once */
        out_write(&g->pay, row, (size_t)(s - row));
}

static void pay_decl(gen *g, const char *decl_no, const gen_decl_info *info, int64_t reg_sec)
{
    uint64_t tax = info->tax_due, amount, part;
    int64_t day = vn_day(reg_sec);
    switch (info->fate) {
    case PF_FULL:
        amount = tax;
        if (R_PPM(g) < P_OVERPAY)   /* a refund candidate */
            amount += 1 + R_BELOW(g, tax / 20 + 1000);
        if (R_PPM(g) < P_SPLIT) {
            part = amount * (20 + R_BELOW(g, 61)) / 100;
            pay_row(g, decl_no, 0, part, 0);
            pay_row(g, decl_no, 0, amount - part, 0);
        } else {
            pay_row(g, decl_no, 0, amount, 0);
        }
        break;
    case PF_SHORT:
        amount = R_PPM(g) < 50000 ? tax - 1 : tax * (10 + R_BELOW(g, 86)) / 100;
        pay_row(g, decl_no, 0, amount, 0);
        break;
    case PF_GUARANTEE: {
        part = R_PPM(g) < 200000 ? tax / 2 : 0;
        if (part > 0)
            pay_row(g, decl_no, 0, part, 0);
        uint32_t r = R_PPM(g);
        int64_t until = r < 800000 ? day + 30 + (int64_t)R_BELOW(g, 335)
                        : r < 880000 ? day   /* expires that very day: still counts */
                        : day - 1 - (int64_t)R_BELOW(g, 60);
        pay_row(g, decl_no, 1, tax - part, until);
        break;
    }
    case PF_UNPAID:
        break;
    case PF_ZERO:
        if (R_PPM(g) < 10000)   /* paid though nothing was due: a refund candidate */
            pay_row(g, decl_no, 0, 1000 * (1 + R_BELOW(g, 100)), 0);
        break;
    }
}

/* ---- follow-up events --------------------------------------------------------- */

/* A decl_no that is never declared: a number skipped in the sequence, or one below its
 * start. */
static uint64_t unknown_decl_no(gen *g)
{
    if (g->last_gap != 0)
        return g->last_gap;
    return g->no_first - 1 - R_BELOW(g, 1000);
}

static void plan_followups(gen *g, gen_pending *e, const gen_decl_info *info)
{
    unsigned n = 0, amend = 0;
    uint8_t *pl = e->plan;
    if (R_PPM(g) < P_DUP_DECL)
        pl[n++] = PL_DUP;
    if (R_PPM(g) < P_AMEND) {
        uint32_t r = R_PPM(g);
        amend = r < 600000 ? PL_AMEND_TAX : r < 850000 ? PL_AMEND_LINES : PL_AMEND_BOTH;
    }
    int amend_late = amend != 0 && R_PPM(g) < 300000;   /* after the officer's result */
    /* Officers cleared by hand what the outage held, and importers withdrew what could
     * not clear: both mostly declarations with a defect. */
    int defect = info->trouble || info->fate == PF_SHORT || info->fate == PF_UNPAID;
    uint32_t manual_ppm = defect ? 30000 : info->channel > 1 ? 5000 : 1000;
    int manual = R_PPM(g) < manual_ppm;
    int manual_early = manual && R_PPM(g) < 700000;

    if (amend && !amend_late)
        pl[n++] = (uint8_t)amend;
    if (manual_early)
        pl[n++] = PL_MANUAL;
    uint32_t r = R_PPM(g);
    switch (info->channel) {
    case 1:
        if (r < 3000)
            pl[n++] = PL_REJECT;
        break;
    case 2:
        if (r < 20000)
            pl[n++] = PL_REJECT;
        else if (r < 860000)
            pl[n++] = PL_DOCS_OK;
        else if (r < 870000)
            pl[n++] = PL_INSPECT_OK;   /* inspected though only documents were due */
        break;
    default:
        if (r < 40000) {
            pl[n++] = PL_REJECT;
        } else if (r < 760000) {
            pl[n++] = PL_INSPECT_OK;
        } else if (r < 800000) {
            pl[n++] = PL_DOCS_OK;
            pl[n++] = PL_INSPECT_OK;
        } else if (r < 900000) {
            pl[n++] = PL_DOCS_OK;      /* not enough for red */
        }
        break;
    }
    if (amend && amend_late)
        pl[n++] = (uint8_t)amend;
    if (manual && !manual_early)
        pl[n++] = PL_MANUAL;
    if (R_PPM(g) < (defect ? P_CANCEL_DEFECT : P_CANCEL))
        pl[n++] = PL_CANCEL;
    e->nplan = (uint8_t)n;
    e->pos = 0;
}

/* Put ring slot on the wheel at tick. */
static void schedule(gen *g, uint32_t slot, uint64_t tick)
{
    uint32_t b = (uint32_t)(tick & (GEN_RING - 1));
    g->ring[slot].next = g->wheel[b];
    g->wheel[b] = slot + 1;
}

/* The next event of e is due within its remaining budget: every event fires before
 * its declaration leaves the ring (tick idx + GEN_RING - 1 at the latest).  Taking at
 * most budget/remaining keeps enough budget for the events after it. */
static void schedule_next(gen *g, uint32_t slot, uint64_t now)
{
    const gen_pending *e = &g->ring[slot];
    uint64_t budget = e->idx + GEN_RING - 1 - now;
    uint64_t rem = (uint64_t)(e->nplan - e->pos);
    schedule(g, slot, now + 1 + R_BELOW(g, budget / rem));
}

static tq_event *small_event(gen *g, uint8_t kind, uint64_t decl_no)
{
    tq_event *ev = ev_slot(g);
    ev->ev = kind;
    ev->has = 0;
    ev->result = 0;
    fmt_decl_no(ev->decl_no, decl_no);
    ev->officer[0] = '\0';
    ev->cleared_at[0] = '\0';
    return ev;
}

static int emit_officer(gen *g, uint64_t decl_no, uint8_t result, unsigned office, tq_diag *d)
{
    tq_event *ev = small_event(g, TQ_EV_OFFICER, decl_no);
    ev->result = result;
    fmt_officer(ev->officer, office, 1 + (unsigned)R_BELOW(g, 300));
    return ev_commit(g, d);
}

static int emit_manual(gen *g, uint64_t decl_no, int64_t reg_sec, unsigned office, tq_diag *d)
{
    tq_event *ev = small_event(g, TQ_EV_MANUAL_CLEAR, decl_no);
    fmt_officer(ev->officer, office, 1 + (unsigned)R_BELOW(g, 300));
    /* cleared on paper during the outage, from ten minutes to eight hours later */
    fmt_ts(ev->cleared_at, reg_sec + 600 + (int64_t)R_BELOW(g, 8 * 3600), 7 * 60);
    return ev_commit(g, d);
}

static int emit_cancel(gen *g, uint64_t decl_no, tq_diag *d)
{
    small_event(g, TQ_EV_CANCEL, decl_no);
    return ev_commit(g, d);
}

static uint64_t amended_tax(gen *g, uint64_t old)
{
    uint64_t t = old / 100 * (80 + R_BELOW(g, 51));
    t -= t % 1000;
    if (t == old)
        t += 1000;
    return t > TQ_MONEY_MAX ? TQ_MONEY_MAX : t;
}

/* A supplementary declaration: a new tax (sometimes paid at once), or a new list of
 * lines derived from the original one. */
static int emit_amend(gen *g, gen_pending *e, unsigned step, tq_diag *d)
{
    tq_event *ev = ev_slot(g);
    ev->ev = TQ_EV_AMEND;
    ev->has = 0;
    fmt_decl_no(ev->decl_no, e->decl_no);
    if (step == PL_AMEND_TAX || step == PL_AMEND_BOTH) {
        uint64_t t = amended_tax(g, e->tax_due);
        if (t > e->tax_due && R_PPM(g) < 500000)
            pay_row(g, ev->decl_no, 0, t - e->tax_due, 0);
        e->tax_due = t;
        ev->tax_due = t;
        ev->has |= TQ_HAS_TAX_DUE;
    }
    if (step == PL_AMEND_LINES || step == PL_AMEND_BOTH) {
        gen_decl_info info;
        tq_event *base = &g->ev_aux;
        gen_decl(g, e->idx, e->decl_no, e->reg_sec, base, &info);
        unsigned n = base->nlines;
        uint32_t r = R_PPM(g);
        if (r < 550000 && n > 1) {
            n--;                                         /* a line withdrawn */
        } else if (r < 750000 && n < TQ_LINES_MAX) {
            uint64_t s = xo_next(&g->rng);               /* a line added, no permit */
            tq_line *ln = &base->lines[n++];
            ln->permit[0] = '\0';
            hs_any(&s, ln->hs);
            fill_amounts(&s, ln, 0);
        } else if (r < 850000) {
            for (unsigned i = 0; i < n; i++)             /* permit references dropped */
                base->lines[i].permit[0] = '\0';
        } else {
            tq_line *ln = &base->lines[R_BELOW(g, n)];   /* a quantity corrected */
            ln->qty = 1 + R_BELOW(g, 2000);
        }
        memcpy(ev->lines, base->lines, n * sizeof ev->lines[0]);
        ev->nlines = (uint16_t)n;
        ev->has |= TQ_HAS_LINES;
    }
    return ev_commit(g, d);
}

static int fire(gen *g, gen_pending *e, unsigned step, tq_diag *d)
{
    switch (step) {
    case PL_DUP: {
        /* the front end resent it; now and then with a corrected tax */
        gen_decl_info info;
        tq_event *ev = ev_slot(g);
        gen_decl(g, e->idx, e->decl_no, e->reg_sec, ev, &info);
        if (R_PPM(g) < 200000)
            ev->tax_due = amended_tax(g, ev->tax_due);
        return ev_commit(g, d);
    }
    case PL_AMEND_TAX:
    case PL_AMEND_LINES:
    case PL_AMEND_BOTH:
        return emit_amend(g, e, step, d);
    case PL_DOCS_OK:
        return emit_officer(g, e->decl_no, TQ_OFFICER_DOCS_OK, e->office, d);
    case PL_INSPECT_OK:
        return emit_officer(g, e->decl_no, TQ_OFFICER_INSPECT_OK, e->office, d);
    case PL_REJECT:
        return emit_officer(g, e->decl_no, TQ_OFFICER_REJECT, e->office, d);
    case PL_MANUAL:
        return emit_manual(g, e->decl_no, e->reg_sec, e->office, d);
    default:
        return emit_cancel(g, e->decl_no, d);
    }
}

/* An event for a declaration that does not exist when it is applied: a skipped
 * number, or (three times in ten) the declaration registered right after it, which
 * must not count the event later. */
static int emit_unknown(gen *g, tq_diag *d)
{
    uint64_t no = R_PPM(g) < 300000 ? g->no_next : unknown_decl_no(g);
    unsigned office = (unsigned)R_BELOW(g, NOFFICES);
    switch (R_BELOW(g, 6)) {
    case 0:
        return emit_officer(g, no, TQ_OFFICER_DOCS_OK, office, d);
    case 1:
        return emit_officer(g, no, TQ_OFFICER_INSPECT_OK, office, d);
    case 2:
        return emit_officer(g, no, TQ_OFFICER_REJECT, office, d);
    case 3: {
        tq_event *ev = ev_slot(g);
        ev->ev = TQ_EV_AMEND;
        ev->has = TQ_HAS_TAX_DUE;
        fmt_decl_no(ev->decl_no, no);
        ev->tax_due = 1000 * (1 + R_BELOW(g, 1000000));
        return ev_commit(g, d);
    }
    case 4:
        return emit_cancel(g, no, d);
    default:
        return emit_manual(g, no, g->t0_sec + g->now_us / 1000000, office, d);
    }
}

static int fire_due(gen *g, uint64_t tick, tq_diag *d)
{
    uint32_t b = (uint32_t)(tick & (GEN_RING - 1));
    uint32_t link = g->wheel[b];
    g->wheel[b] = 0;
    while (link != 0) {
        uint32_t slot = link - 1;
        gen_pending *e = &g->ring[slot];
        link = e->next;
        int rc = fire(g, e, e->plan[e->pos++], d);
        if (rc != TQ_OK)
            return rc;
        if (e->pos < e->nplan)
            schedule_next(g, slot, tick);
        else
            g->npending--;
    }
    return TQ_OK;
}

/* ---- the run ------------------------------------------------------------------ */

static int setup(gen *g, const tq_gen_opts *opts, tq_diag *d)
{
    g->opts = opts;
    g->n = opts->declarations;
    xo_seed(&g->rng, opts->seed);
    g->decl_key = xo_next(&g->rng);
    g->tax_off = R_BELOW(g, 100000000);
    g->ndeclarants = g->n / 50 + 100;
    if (g->ndeclarants > GEN_MAX_DECLARANTS)
        g->ndeclarants = GEN_MAX_DECLARANTS;

    for (unsigned i = 0; i < NHS; i++)
        for (unsigned j = 0; j < NHS; j++)
            if (memcmp(k_hs[i], k_hs[j], 2) == 0)
                g->chap_mask[i] |= 1ULL << j;

    g->t0_sec = tq_days_from_civil(START_Y, START_M, START_D) * 86400 + START_SOD - VN_OFFSET_SEC;
    g->mean_gap_us = MAX_SPAN_US / (int64_t)g->n;
    if (g->mean_gap_us > MEAN_GAP_US)
        g->mean_gap_us = MEAN_GAP_US;
    g->day0 = vn_day(g->t0_sec);
    /* gaps are drawn from [0, 2 * mean]: the last registration cannot be later */
    g->day1 = vn_day(g->t0_sec + ((int64_t)g->n - 1) * 2 * g->mean_gap_us / 1000000);

    g->no_first = 100000000000ULL + 1000000 + R_BELOW(g, 9000000000ULL);
    g->no_next = g->no_first;
    return make_permits(g, d);
}

/* Ask the kernel to start writing what is dirty now.  Without this, a machine with
 * plenty of memory keeps the whole output dirty until the final fsync, which then
 * waits for a gigabyte at once; with it, the disk works while we generate.  Only a
 * hint: errors are ignored, and the fsyncs still decide durability. */
static void start_writeback(gen *g)
{
#ifdef SYNC_FILE_RANGE_WRITE
    if (g->pay.fd >= 0)
        (void)sync_file_range(g->pay.fd, 0, 0, SYNC_FILE_RANGE_WRITE);
    if (g->jfd >= 0)
        (void)sync_file_range(g->jfd, 0, 0, SYNC_FILE_RANGE_WRITE);
#else
    (void)g;
#endif
}

static int run(gen *g, tq_diag *d)
{
    const tq_gen_opts *o = g->opts;
    for (uint64_t t = 0; t < g->n || g->npending > 0; t++) {
        int rc = fire_due(g, t, d);
        if (rc != TQ_OK)
            return rc;
        if (t >= g->n)
            continue;
        if (R_PPM(g) < P_UNKNOWN_EVENT && (rc = emit_unknown(g, d)) != TQ_OK)
            return rc;

        if (t > 0)
            g->now_us += (int64_t)R_BELOW(g, 2 * (uint64_t)g->mean_gap_us + 1);
        int64_t reg_sec = g->t0_sec + g->now_us / 1000000;
        uint64_t decl_no = g->no_next;
        g->no_next = decl_no + 1;
        if (R_PPM(g) < 150000) {   /* numbers taken by declarations that never came */
            g->no_next += 1 + R_BELOW(g, 3);
            g->last_gap = g->no_next - 1;
        }

        gen_decl_info info;
        tq_event *ev = ev_slot(g);
        gen_decl(g, t, decl_no, reg_sec, ev, &info);
        pay_decl(g, ev->decl_no, &info, reg_sec);
        if ((rc = ev_commit(g, d)) != TQ_OK)
            return rc;

        uint32_t slot = (uint32_t)(t & (GEN_RING - 1));
        gen_pending *e = &g->ring[slot];
        plan_followups(g, e, &info);
        if (e->nplan > 0) {
            e->idx = t;
            e->decl_no = decl_no;
            e->reg_sec = reg_sec;
            e->tax_due = info.tax_due;
            e->office = info.office;
            g->npending++;
            schedule_next(g, slot, t);
        }

        if (R_PPM(g) < P_UNKNOWN_PAY) {   /* a payment for a declaration that never comes */
            char no[TQ_DECL_NO_LEN + 1];
            fmt_decl_no(no, unknown_decl_no(g));
            pay_row(g, no, 0, 100000 + R_BELOW(g, 1000000000), 0);
        }
        if (g->pay.err != 0)
            return file_error(d, g->pay.out.tmp, g->pay.err);
        if (((t + 1) & GEN_PROGRESS_MASK) == 0) {
            start_writeback(g);
            if (o->progress != NULL)
                o->progress(o->progress_ctx, t + 1, g->n);
        }
    }
    return TQ_OK;
}

/* publish() - rename into place and fsync the directory (tq_out_commit). */
static int publish(tq_out *o, tq_diag *d)
{
    return tq_out_commit(o, d);
}

int tq_gen_run(const tq_gen_opts *opts, tq_gen_stats *stats, tq_diag *d)
{
    if (opts == NULL || opts->out_dir == NULL || opts->out_dir[0] == '\0')
        return tq_diag_set(d, "out_dir", "an output directory is required");
    if (opts->declarations < 1 || opts->declarations > GEN_MAX_DECLARATIONS)
        return tq_diag_set(d, "declarations", "must be in 1..%llu, got %llu",
                           (unsigned long long)GEN_MAX_DECLARATIONS,
                           (unsigned long long)opts->declarations);

    gen *g = calloc(1, sizeof *g);
    if (g == NULL) {
        tq_diag_set(d, "(memory)", "cannot allocate the generator");
        return TQ_ERR_NOMEM;
    }
    g->pay.fd = g->per.fd = g->jfd = -1;
    g->pay.out.fd = g->per.out.fd = g->jout.fd = -1;
    const char *dir = opts->out_dir;
    int rc;
    char jpath[PATH_MAX];
    if ((size_t)snprintf(jpath, sizeof jpath, "%s/journal.tqj", dir) >= sizeof jpath) {
        rc = file_error(d, dir, ENAMETOOLONG);
        goto fail;
    }

    if ((rc = out_open(&g->per, dir, "permits.csv", d)) != TQ_OK ||
        (rc = setup(g, opts, d)) != TQ_OK || (rc = out_close(&g->per, d)) != TQ_OK)
        goto fail;

    if ((rc = out_open(&g->pay, dir, "payments.csv", d)) != TQ_OK)
        goto fail;
    static const char header[] = "decl_no,receipt_no,kind,amount,valid_until\n";
    out_write(&g->pay, header, sizeof header - 1);
    g->pay.rows = 0;

    tq_journal_write_opts jo = {.frame_bytes = opts->frame_bytes, .level = 0};
    /* The journal writer opens the temporary by its name: a fresh random one that we
     * created exclusively, so no planted link is followed. */
    if ((rc = open_out(&g->jout, dir, "journal.tqj", d)) != TQ_OK)
        goto fail;
    if ((rc = tq_journal_create(g->jout.tmp, &jo, &g->jw)) != TQ_OK) {
        g->jw = NULL;
        tq_diag_set(d, "(file)", "%s: %s", g->jout.tmp, tq_strerror(rc));
        goto fail;
    }
    g->jfd = g->jout.fd;   /* writeback hints only */
    if ((rc = pipe_start(g)) != TQ_OK) {
        tq_diag_set(d, "(memory)", "cannot allocate the journal batches");
        goto fail;
    }
    rc = run(g, d);
    int rc2 = pipe_stop(g, rc != TQ_OK, rc == TQ_OK ? d : NULL);
    if (rc == TQ_OK)
        rc = rc2;
    if (rc != TQ_OK)
        goto fail;
    rc = tq_journal_finish(g->jw);
    g->jw = NULL;
    if (rc != TQ_OK) {
        tq_diag_set(d, "(file)", "%s: %s", g->jout.tmp, tq_strerror(rc));
        goto fail;
    }
    g->jfd = -1;
    if ((rc = out_close(&g->pay, d)) != TQ_OK)
        goto fail;

    /* All three are complete and durable: now they take their names. */
    if ((rc = publish(&g->per.out, d)) != TQ_OK || (rc = publish(&g->pay.out, d)) != TQ_OK ||
        (rc = publish(&g->jout, d)) != TQ_OK)
        goto fail;

    if (opts->progress != NULL)
        opts->progress(opts->progress_ctx, g->n, g->n);
    if (stats != NULL) {
        struct stat st;
        stats->events = g->events;
        stats->payments = g->pay.rows;
        stats->permits = g->per.rows;
        stats->journal_bytes = stat(jpath, &st) == 0 ? (uint64_t)st.st_size : 0;
    }

fail:
    pipe_stop(g, 1, NULL);   /* a no-op when stopped already */
    if (g->jw != NULL)
        tq_journal_abandon(g->jw);
    tq_out_rollback(&g->jout);
    pipe_free(&g->pipe);
    out_discard(&g->pay);
    out_discard(&g->per);
    free(g->permits);
    free(g);
    return rc;
}
