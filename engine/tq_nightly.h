/* tq_nightly.h - the nightly job's library: the inbox, its folders, the files in it, their
 * content hash and the ledger of loaded files.  The command (tools/cmd_nightly.c) drives
 * it and prints; nothing here prints or exits.
 *
 * The inbox is shared with the senders (organisations that drop files in it), so every
 * name in it is hostile.  Everything below works on directory descriptors: names are
 * opened with openat(O_NOFOLLOW) and checked with fstat, moved with renameat2 within the
 * inbox, and never resolved as paths.  The inbox must belong to the job's user and,
 * when others may write it, carry the sticky bit (chmod 1770), so that a sender can
 * neither rename nor replace the job's own entries.
 *
 * Layout (created on first use, checked on every run: a directory, not a link, owned by
 * the job's user, no group or other write):
 *   INBOX/.thongquan/        0700  the job's state: lock, pending, state, work/
 *   INBOX/.thongquan/work/   0700  the file being handled (claimed from the inbox)
 *   INBOX/done/DATE/         0750  loaded files
 *   INBOX/failed/DATE/       0750  refused files, each with NAME.err beside it
 *   INBOX/duplicate/DATE/    0750  files whose content was loaded before
 *
 * A file's life: claim (rename INBOX/NAME to .thongquan/work/NAME, so nobody can swap
 * the name under the job), stage (copy it through an O_NOFOLLOW descriptor into an
 * unlinked private file while hashing it with SHA-256: the bytes hashed are the bytes
 * loaded), load the staged copy with the ledger entry put in the load's own transaction
 * (tq_load_opts.before_commit), then file it away.  A run killed at any instant leaves
 * at most one file in work/, which the next run handles first; its ledger entry tells
 * whether its rows are in.
 *
 * Threads: a tq_nightly is used by one thread.
 */
#ifndef TQ_NIGHTLY_H
#define TQ_NIGHTLY_H

#include <stdint.h>
#include <time.h>

#include "tq_load.h"
#include "tq_store.h"

typedef struct tq_nightly tq_nightly;

/* Where a file goes when it is done with. */
typedef enum tq_nightly_dest {
    TQ_NIGHTLY_DONE = 0,        /* done/DATE/ */
    TQ_NIGHTLY_FAILED = 1,      /* failed/DATE/ (with NAME.err) */
    TQ_NIGHTLY_DUPLICATE = 2    /* duplicate/DATE/ */
} tq_nightly_dest;

/* One inbox entry seen by the scan. */
typedef struct tq_nightly_entry {
    char *name;                 /* the entry's bytes (any but '/' and NUL); malloc'd */
    int kind;                   /* tq_load_kind by name; 0: not an input name */
    int recovered;              /* 1: found in work/ (a run stopped while handling it) */
    int64_t mtime_sec;          /* arrival: st_mtime, then the name */
    long mtime_nsec;
} tq_nightly_entry;

typedef struct tq_nightly_list {
    tq_nightly_entry *in;       /* inputs in the order they must be loaded */
    size_t n_in;
    tq_nightly_entry *ignored;  /* not input names (notes.txt), in name order: the
                                 * first TQ_NIGHTLY_MAX_LISTED met */
    size_t n_ignored;
    size_t n_ignored_total;     /* all of them */
    size_t n_waiting;           /* inputs changed less than min_age seconds ago, and
                                 * those past TQ_NIGHTLY_MAX_INPUTS */
} tq_nightly_list;

/* Memory is bounded by these, never by what senders put in the inbox: a run takes at
 * most TQ_NIGHTLY_MAX_INPUTS inputs (past that, the first met in the directory; the
 * rest wait for the next run) and lists at most TQ_NIGHTLY_MAX_LISTED other names. */
#define TQ_NIGHTLY_MAX_INPUTS 100000
#define TQ_NIGHTLY_MAX_LISTED 1000

/* A staged file: what was read, and what may be said about it. */
typedef struct tq_nightly_staged {
    int fd;                     /* the private copy (unlinked), -1 when none */
    uint8_t sha256[32];
    uint64_t size;
    int quotable;               /* 1: the file's owner is not the job's user and could
                                 * read it, so its content may be quoted in NAME.err */
} tq_nightly_staged;

/* tq_nightly_kind_of() - the load kind an input name asks for: permits*.csv (2),
 * payments*.csv (1), anything else, or a name starting with '.', 0. */
TQ_MUST_USE int tq_nightly_kind_of(const char *name);

/* tq_nightly_open() - open the inbox at path and create or check its folders (above).
 * @return TQ_OK; TQ_ERR_PERM (d->why "permission denied: PATH"); TQ_ERR_NOTFOUND (no
 *         inbox); TQ_ERR_INPUT (the inbox or a folder is unsafe: a link, not a
 *         directory, someone else's, group/other writable, d says which and how to fix);
 *         TQ_ERR_IO, TQ_ERR_FULL, TQ_ERR_NOMEM.  *out is NULL on error. */
TQ_MUST_USE int tq_nightly_open(const char *path, tq_nightly **out, tq_diag *d);

/* tq_nightly_close() - close every descriptor and free.  NULL does nothing. */
void tq_nightly_close(tq_nightly *n);

/* tq_nightly_state_path() - "INBOX/.thongquan/NAME" for files the job keeps there (lock,
 * state), malloc'd; NULL when out of memory.  The folder is the job's own (0700). */
char *tq_nightly_state_path(const tq_nightly *n, const char *name);

/* tq_nightly_scan() - list work/ (recovered first) and the inbox: input names whose
 * mtime is at least min_age seconds before now, permits before payments, each group by
 * arrival (mtime, then name bytes).  Directories and names starting with '.' are
 * skipped; other names are listed as ignored.  Free with tq_nightly_scan_free().
 * @return TQ_OK, TQ_ERR_IO, TQ_ERR_PERM, TQ_ERR_NOMEM. */
TQ_MUST_USE int tq_nightly_scan(tq_nightly *n, time_t now, uint64_t min_age, tq_nightly_list *out,
                    tq_diag *d);
void tq_nightly_scan_free(tq_nightly_list *s);

/* tq_nightly_claim() - move e from the inbox into work/ (a recovered entry is there
 * already).  @return TQ_OK; TQ_ERR_NOTFOUND (the sender took it away: skip it);
 *         TQ_ERR_EXISTS (work/ holds that name: left for the next run); TQ_ERR_IO. */
TQ_MUST_USE int tq_nightly_claim(tq_nightly *n, const tq_nightly_entry *e, tq_diag *d);

/* tq_nightly_unclaim() - put a claimed entry back into the inbox (it changed while it
 * was read: a transfer still running).  @return TQ_OK, TQ_ERR_EXISTS, TQ_ERR_IO. */
TQ_MUST_USE int tq_nightly_unclaim(tq_nightly *n, const tq_nightly_entry *e, tq_diag *d);

/* tq_nightly_stage() - open the claimed entry without following a link, check it is a
 * regular file with one link, copy it into a private unlinked file while hashing it.
 * @return TQ_OK (st filled, st->fd open: release with tq_nightly_staged_release());
 *         TQ_ERR_INPUT (refused: a link, a hard link, not a regular file; d->why says
 *         which, without any of its content); TQ_ERR_MISMATCH (its size or mtime
 *         changed while it was read: unclaim it); TQ_ERR_IO, TQ_ERR_FULL, TQ_ERR_PERM. */
TQ_MUST_USE int tq_nightly_stage(tq_nightly *n, const tq_nightly_entry *e, tq_nightly_staged *st,
                     tq_diag *d);
void tq_nightly_staged_release(tq_nightly_staged *st);

/* tq_nightly_ledger_get() - is this content in the ledger?  In a read transaction.
 * @return TQ_OK (*out filled), TQ_ERR_NOTFOUND, store errors. */
TQ_MUST_USE int tq_nightly_ledger_get(tq_store *s, const uint8_t sha256[32], tq_ledger_entry *out);

/* tq_nightly_load() - load the staged copy (kind e->kind) and put its ledger entry
 * (name e->name, cut at 255 bytes) in the same transaction; lo supplies on_error, ctx,
 * stop and progress (its kind, rejects and before_commit are set here).
 * @return TQ_OK (loaded; *st filled); TQ_ERR_EXISTS (the ledger already had this content
 *         when the load was about to commit: nothing applied, *known filled);
 *         TQ_ERR_INPUT (bad rows, nothing applied); TQ_ERR_STORE with d->why when the
 *         loader did not call before_commit (a build whose loader lacks the hook:
 *         nothing applied); other tq_load_file() errors. */
TQ_MUST_USE int tq_nightly_load(tq_store *s, const tq_nightly_entry *e, const tq_nightly_staged *sf,
                    const tq_load_opts *lo, tq_load_stats *st, tq_ledger_entry *known,
                    tq_diag *d);

/* tq_nightly_seed() - put into the ledger every input-named regular file with one link
 * found in INBOX/done/DATE/ (never through a link), as loaded at its mtime: for the
 * first run after the shell job, whose text ledger could be forged and is not read, so
 * that an old file sent again is still a duplicate.  Entries already known are kept.
 * *seen counts the files hashed, *added the entries put.
 * @return TQ_OK, TQ_ERR_IO, TQ_ERR_PERM, store errors (entries put so far stay). */
TQ_MUST_USE int tq_nightly_seed(tq_nightly *n, tq_store *s, uint64_t *seen, uint64_t *added,
                                tq_diag *d);

/* tq_nightly_file_away() - move the claimed entry to dest/DATE/ (DATE "YYYY-MM-DD"),
 * never over another file: when NAME is taken, "-2", "-3" ... is put before its
 * extension (payments-x.csv -> payments-x-2.csv), so a stored file can go back into
 * the inbox as it is and still be an input.  With err_text (TQ_NIGHTLY_FAILED), writes
 * STORED.err (mode 0640) first.  *stored gets the name given (malloc'd; may be NULL).
 * @return TQ_OK, TQ_ERR_INPUT (a folder is unsafe), TQ_ERR_IO, TQ_ERR_FULL,
 *         TQ_ERR_PERM, TQ_ERR_NOMEM. */
TQ_MUST_USE int tq_nightly_file_away(tq_nightly *n, const tq_nightly_entry *e, tq_nightly_dest dest,
                         const char *date, const char *err_text, size_t err_len,
                         char **stored, tq_diag *d);

/* Pending reconcile: set before the first load of a run can commit, cleared after a
 * reconcile succeeded, so a run killed in between still reconciles next time.
 * @return TQ_OK or TQ_ERR_IO; tq_nightly_pending() returns 1 when set. */
TQ_MUST_USE int tq_nightly_set_pending(tq_nightly *n, int on, tq_diag *d);
TQ_MUST_USE int tq_nightly_pending(const tq_nightly *n);

/* Figures kept between runs for the metrics (unix seconds, 0 = never): read from and
 * written to .thongquan/state (replaced atomically through formats/tq_out.h: a link
 * planted there is replaced, never written through).  A missing or damaged state reads
 * as zeros.  tq_nightly_state_write() @return TQ_OK, or TQ_ERR_IO, TQ_ERR_FULL,
 * TQ_ERR_PERM, TQ_ERR_INPUT (the name holds a directory or a device), TQ_ERR_NOMEM,
 * with d->why naming the file.  Threads: the job's thread (one tq_nightly each). */
typedef struct tq_nightly_state {
    uint64_t last_success;      /* last run that ended 0 or 7 */
    uint64_t last_reconcile;    /* last reconcile that committed */
    uint64_t cleared_now;       /* what that reconcile cleared */
} tq_nightly_state;
void tq_nightly_state_read(const tq_nightly *n, tq_nightly_state *out);
TQ_MUST_USE int tq_nightly_state_write(tq_nightly *n, const tq_nightly_state *st, tq_diag *d);

/* tq_nightly_quote() - name as printable text of any length: bytes outside 0x21..0x7e
 * (and '\\') as \xNN, so a name with a newline, a tab or invalid UTF-8 is one token
 * on one line.  malloc'd; NULL when out of memory. */
char *tq_nightly_quote(const char *name);

/* tq_nightly_hex_name() - a name's exact bytes in hex (the report's "name_hex"), a new
 * string the caller frees; NULL when out of memory.  Any thread. */
char *tq_nightly_hex_name(const char *name);

#endif
