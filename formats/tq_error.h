/* tq_error.h - one error convention for every thongquan library.
 *
 * Every library function that can fail returns an int: 0 (TQ_OK) on success or a
 * negative code from the table below.  Library code never prints and never exits: it
 * fills a tq_diag with the field and the reason, and the command-line tool decides what
 * to print and which exit status to use.  CORRUPT, TORN, IO, FULL and INPUT are kept
 * apart on purpose: an operator acts differently on each.  CORRUPT is a damaged journal
 * (skip the frame, or get an intact copy); DBCORRUPT is a damaged database (restore the
 * backup): the two are never confused, so --skip-corrupt can never skip a sound frame
 * because the database failed under it.  PERM is a permission problem (EACCES, EPERM,
 * EROFS), never reported as I/O or a full disk.
 */
#ifndef TQ_ERROR_H
#define TQ_ERROR_H

#include <stddef.h>
#include <stdint.h>

/* X-macro table: name, value, text.  Values are stable (they appear in logs). */
#define TQ_ERRNO_MAP(X)                                                          \
    X(OK,          0,   "success")                                               \
    X(INPUT,      -1,   "invalid input")                                         \
    X(CORRUPT,    -2,   "corrupt data (checksum or structure mismatch)")         \
    X(TORN,       -3,   "torn tail (the writer stopped in the middle of a frame)") \
    X(IO,         -4,   "I/O error")                                             \
    X(FULL,       -5,   "no space left on device")                               \
    X(NOMEM,      -6,   "out of memory")                                         \
    X(BUSY,       -7,   "database is locked by another writer")                  \
    X(MAPFULL,    -8,   "database map is full (grow and retry)")                 \
    X(VERSION,    -9,   "unsupported format version")                            \
    X(MISMATCH,  -10,   "journal content differs from what was replayed")        \
    X(INTERRUPTED,-11,  "interrupted")                                           \
    X(NOTFOUND,  -12,   "not found")                                             \
    X(CONFLICT,  -13,   "conflicting record")                                    \
    X(STORE,     -14,   "database error")                                        \
    X(LIMIT,     -15,   "configured limit exceeded")                             \
    X(EOF,       -16,   "end of stream")                                         \
    X(DBCORRUPT, -17,   "corrupt database")                                      \
    X(PERM,      -18,   "permission denied")                                     \
    X(EXISTS,    -19,   "already exists")

enum {
#define TQ_ERRNO_ENUM(name, val, text) TQ_ERR_##name = (val),
    TQ_ERRNO_MAP(TQ_ERRNO_ENUM)
#undef TQ_ERRNO_ENUM
};
#define TQ_OK 0

/* TQ_MUST_USE: on every function whose int result says whether it worked, so a caller
 * cannot drop an error (a dropped TQ_ERR_NOMEM is a lost write). */
#define TQ_MUST_USE __attribute__((warn_unused_result))

/* Threads: every function here is pure or writes only the tq_diag it is given: any
 * thread, each on its own tq_diag.  Nothing allocates. */

/* tq_strerror() - a static, lowercase description of an error code.
 * @return never NULL; "unknown error" for a value outside the table (never freed). */
const char *tq_strerror(int err);

/* tq_errno() - the code for a failed system call's errno: ENOSPC/EDQUOT are
 * TQ_ERR_FULL, EACCES/EPERM/EROFS TQ_ERR_PERM, ENOMEM TQ_ERR_NOMEM, anything else
 * TQ_ERR_IO (always negative: a code, not an errno).  The one mapping every module uses, so a permission problem is never
 * reported as an I/O error or a full disk in one place and rightly in another. */
int tq_errno(int e);

/* tq_diag - where and why an input was refused.  Filled by parsers and loaders; the
 * caller adds the file name and prints "FILE: line N (seq N): field 'F': why".
 * line and seq are 0 when they do not apply.  All strings are NUL-terminated and
 * truncated (never overflowed) when a reason is longer than the buffer. */
typedef struct tq_diag {
    uint64_t line;      /* 1-based line of the input file, 0 if none */
    uint64_t seq;       /* journal seq, 0 if none */
    char field[40];     /* field name, or "(json)", "(header)", "(line)", "(frame)" */
    char why[320];      /* what was wrong, with the offending value quoted */
} tq_diag;

/* tq_diag_set() - fill d->field and a printf-formatted d->why; returns TQ_ERR_INPUT so
 * that parsers can write `return tq_diag_set(d, "kind", "got '%s'", v);`.  d may be NULL.
 * Not TQ_MUST_USE: its status is a convenience, the same every time. */
int tq_diag_set(tq_diag *d, const char *field, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* tq_diag_quote() - copy at most 60 bytes of untrusted input into out (cap >= 72) as a
 * printable string: control and non-ASCII bytes become \xNN, longer input ends in "...".
 * Messages quote input through this so a hostile line cannot mess up a terminal.
 * @return out (s is borrowed for the call; out is the caller's). */
const char *tq_diag_quote(const char *s, size_t n, char *out, size_t cap);

/* tq_diag_cap - the reports of bad rows, capped: passes the first max on to fn and
 * counts them all, so that a file of a million bad rows gives max lines and a count.
 *     tq_diag_cap cap = {.max = 50, .fn = print_one, .ctx = &mine};
 *     opts.on_error = tq_diag_cap_on_bad; opts.ctx = &cap;
 *     ... run ...; then cap.n reports, tq_diag_cap_more(&cap) of them not passed on.
 * Ownership: ctx stays the caller's.  Threads: a cap is the thread's that reports into
 * it (as the callbacks of a load or a pack are). */
typedef struct tq_diag_cap {
    uint64_t n;                                 /* reports so far */
    uint64_t max;                               /* how many go on to fn */
    void (*fn)(void *ctx, const tq_diag *d);    /* NULL: only count */
    void *ctx;
} tq_diag_cap;

/* tq_diag_cap_on_bad() - an on_bad/on_error callback whose ctx is a tq_diag_cap: counts
 * d and passes it on while no more than max have been. */
void tq_diag_cap_on_bad(void *cap, const tq_diag *d);
/* tq_diag_cap_more() - how many reports were counted but not passed on. */
uint64_t tq_diag_cap_more(const tq_diag_cap *cap);

#endif
