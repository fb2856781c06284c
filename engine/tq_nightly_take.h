/* tq_nightly_take.h - one inbox file taken in by the nightly job: claimed, staged,
 * checked against the ledger, loaded and filed away (done/, duplicate/, or failed/
 * with its NAME.err), or left for the next run.
 *
 * The steps are tq_nightly.h's; this is the one place that decides which follows
 * which and what the file's entry in the run's outcome says.  Nothing is printed: the
 * caller words what tq_nightly_taken tells (tools/cmd_nightly.c), including the errors
 * that stop the run.
 *
 * Threads: one thread per tq_nightly (tq_nightly.h).
 */
#ifndef TQ_NIGHTLY_TAKE_H
#define TQ_NIGHTLY_TAKE_H

#include "tq_nightly_outcome.h"

/* Bad rows written into NAME.err; after them "... and N more bad rows". */
#define TQ_NIGHTLY_ERR_LINES 50

/* What the run is doing, shared by the files it takes. */
typedef struct tq_nightly_take_ctx {
    tq_nightly *n;              /* the inbox, locked by the caller */
    tq_store *s;                /* the database, open for writing */
    const char *date;           /* done/DATE/ ("YYYY-MM-DD") */
    volatile int *stop;         /* a load is abandoned when it becomes non-zero; or NULL */
    int any_load;               /* in/out: a load was tried this run (the reconcile is
                                 * then owed: the inbox's pending mark was set before
                                 * the first) */
} tq_nightly_take_ctx;

/* What became of the file (when tq_nightly_take() returns TQ_OK, and as far as it got
 * when it does not). */
typedef enum tq_nightly_took {
    TQ_NIGHTLY_TOOK_SKIPPED = 0,    /* gone from the inbox, or its name is busy in work/:
                                     * no entry in the outcome */
    TQ_NIGHTLY_TOOK_LOADED,         /* loaded now, moved to done/ */
    TQ_NIGHTLY_TOOK_RECOVERED,      /* loaded by a run that stopped before filing it */
    TQ_NIGHTLY_TOOK_DUPLICATE,      /* the ledger knew its content before the load */
    TQ_NIGHTLY_TOOK_DUPLICATE_LOAD, /* the load found its content in the ledger */
    TQ_NIGHTLY_TOOK_REFUSED,        /* bad rows, a link, a hard link ...: failed/ */
    TQ_NIGHTLY_TOOK_CHANGED,        /* it changed while read: back in the inbox */
    TQ_NIGHTLY_TOOK_WAITING         /* not its fault (busy, full disk, a signal): it
                                     * stays in work/, taken first by the next run */
} tq_nightly_took;

/* Which step failed, when tq_nightly_take() does not return TQ_OK. */
typedef enum tq_nightly_take_step {
    TQ_NIGHTLY_STEP_NONE = 0,
    TQ_NIGHTLY_STEP_NOMEM,      /* out of memory (the outcome's entry, the .err text) */
    TQ_NIGHTLY_STEP_CLAIM,      /* d->why */
    TQ_NIGHTLY_STEP_STAGE,      /* f->why */
    TQ_NIGHTLY_STEP_LEDGER,     /* reading the ledger: the return code says why */
    TQ_NIGHTLY_STEP_PENDING,    /* marking the reconcile owed: d->why */
    TQ_NIGHTLY_STEP_LOAD,       /* f->why; took is TQ_NIGHTLY_TOOK_WAITING */
    TQ_NIGHTLY_STEP_FILE_AWAY   /* moving it to its folder: d->why */
} tq_nightly_take_step;

typedef struct tq_nightly_taken {
    int took;                   /* tq_nightly_took */
    int step;                   /* tq_nightly_take_step */
    tq_nightly_file *f;         /* its entry in the outcome (valid until the next add),
                                 * NULL when skipped or out of memory */
    int unclaim_rc;             /* CHANGED: TQ_OK, or why it stays in work/ ... */
    char unclaim_why[400];      /* ... in words */
} tq_nightly_taken;

/* tq_nightly_take() - take inbox entry e: claim, stage (hash), then a content the
 * ledger knows goes to duplicate/ (or to done/ when it is e itself, recovered from
 * work/ after a stopped run), else it is loaded with its ledger entry and goes to
 * done/; a file with bad rows goes to failed/ with NAME.err (the first
 * TQ_NIGHTLY_ERR_LINES rows, each row's why quoted only when the file is one its
 * sender could read); a link or a hard link is refused the same way; a file that
 * changed while read goes back to the inbox.  The file's entry is added to o.
 * @return TQ_OK (out->took says what became of it), or an error that stops the run:
 *         out->step says which step, with rc, d->why or out->f->why as that step says.
 */
TQ_MUST_USE int tq_nightly_take(tq_nightly_take_ctx *c, const tq_nightly_entry *e,
                                tq_nightly_outcome *o, tq_nightly_taken *out, tq_diag *d);

#endif
