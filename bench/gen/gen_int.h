/* gen_int.h - the insides of the synthetic backlog generator (bench/gen/), shared by
 * its files; callers use tq_gen.h.  Who does what:
 *   gen_model.c    the declaration model: the tables, names, the permit pool, one DECL
 *   gen_records.c  the record writers: CSV rows and files, payments, the journal thread
 *   gen_followups.c  the events after a DECL: officer results, amendments, ...
 *   gen_run.c      the run: the tick loop, the files' life, tq_gen_run()
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
 * file.  All the shares are the P_* constants below (the tables are in
 * gen_model.c).
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
#ifndef GEN_INT_H
#define GEN_INT_H

#include <pthread.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "tq_event.h"
#include "tq_gen.h"
#include "tq_journal.h"
#include "tq_out.h"
#include "tq_time.h"

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

static inline void xo_seed(xoshiro *r, uint64_t seed)
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

/* The sizes of two tables of gen_model.c that other files need (checked there). */
#define NOFFICES 22u
#define NHS 40u
_Static_assert(NHS <= 64, "the chapter masks are 64-bit");

/* ---- numbers ---------------------------------------------------------------- */

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

/* The Vietnam calendar day of an instant in unix seconds (formats/tq_time.h's rule). */
static inline int64_t vn_day(int64_t unix_sec)
{
    return tq_instant_vn_day((tq_instant){.sec = unix_sec, .nsec = 0});
}

static inline void fmt_decl_no(char out[TQ_DECL_NO_LEN + 1], uint64_t no)
{
    put_u64w(out, no, 12)[0] = '\0';
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

/* ---- between the files -------------------------------------------------------- */

/* gen_model.c */
int gen_setup(gen *g, const tq_gen_opts *opts, tq_diag *d);
void gen_decl(const gen *g, uint64_t idx, uint64_t decl_no, int64_t reg_sec, tq_event *ev,
              gen_decl_info *info);
void gen_hs_any(uint64_t *s, char hs[9]);
void gen_fill_amounts(uint64_t *s, tq_line *ln, int permit_line);
void gen_fmt_officer(char out[TQ_OFFICER_MAX + 1], unsigned office, unsigned badge);

/* gen_records.c */
char *gen_put_date(char *p, int64_t day);
void gen_fmt_ts(char *out, int64_t unix_sec, int off_min);
int gen_file_error(tq_diag *d, const char *path, int e);
int gen_tmp_open(tq_out *o, const char *dir, const char *name, tq_diag *d);
int gen_out_open(gen_out *o, const char *dir, const char *name, tq_diag *d);
void gen_out_flush(gen_out *o);
int gen_out_close(gen_out *o, tq_diag *d);
void gen_out_discard(gen_out *o);
int gen_pipe_start(gen *g);
int gen_pipe_hand_off(gen *g, tq_diag *d);
int gen_pipe_stop(gen *g, int abort, tq_diag *d);
void gen_pipe_free(gen_pipe *p);
void gen_pay_row(gen *g, const char *decl_no, int guarantee, uint64_t amount, int64_t until);
void gen_pay_decl(gen *g, const char *decl_no, const gen_decl_info *info, int64_t reg_sec);

/* gen_followups.c */
uint64_t gen_unknown_decl_no(gen *g);
void gen_plan_followups(gen *g, gen_pending *e, const gen_decl_info *info);
void gen_schedule_next(gen *g, uint32_t slot, uint64_t now);
int gen_emit_unknown(gen *g, tq_diag *d);
int gen_fire_due(gen *g, uint64_t tick, tq_diag *d);

/* Append one row.  After a write error the rows are dropped: the error is sticky and
 * checked once per declaration. */
static inline void gen_out_write(gen_out *o, const char *row, size_t n)
{
    if (GEN_OUTBUF - o->len < n)
        gen_out_flush(o);
    memcpy(o->buf + o->len, row, n);
    o->len += n;
    o->rows++;
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
        return gen_pipe_hand_off(g, d);
    return TQ_OK;
}

#endif
