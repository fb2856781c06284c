/* tq_rules.h - the clearance rules of SPEC §3 and §7, as pure functions.
 *
 * The rules know nothing of LMDB, files or threads: they take a declaration's state,
 * an event, and the facts looked up for it (its cover and its permits with their
 * current use), and say what happens.  A replay drives them in three verbs:
 *
 *   step = tq_rules_begin(&decl, exists, &event);     // apply the event's own effect
 *   if (step needs evaluation) {
 *       n = tq_rules_permits(&decl, names);            // which permits to look up
 *       ... look up cover and facts[i] for names[i] ...
 *       tq_rules_evaluate(&decl, &cover, facts, n, mode, &verdict);
 *       tq_rules_settle(&decl, &verdict);              // CLEARED or HELD
 *       ... add verdict.use[k].qty to facts[use[k].fact].used when verdict.consume ...
 *   }
 *
 * Reconcile calls evaluate + settle on HELD declarations directly.
 *
 * For every function here.  Threads: pure functions of their arguments (no state, no
 * locks, no allocation), so any thread, as long as two threads do not write the same
 * tq_decl or tq_verdict.  Ownership: everything is borrowed for the call, except the
 * names[] of tq_rules_permits(), which point into d.  Errors: the rules cannot fail:
 * they return a step, a count or nothing, never a status.  A malformed input (an event
 * no parser produces) is an outcome (TQ_STEP_UNKNOWN, PERMIT_MISSING), not an error.
 */
#ifndef TQ_RULES_H
#define TQ_RULES_H

#include <stddef.h>
#include <stdint.h>

#include "../formats/tq_event.h"
#include "../formats/tq_num.h"

/* A declaration's states, each name with its number, written once: the enum
 * (TQ_STATE_PENDING ... TQ_STATE_CANCELLED) and tq_state_name()'s spellings both come
 * from this list.  PENDING is internal: created, not yet evaluated.  The numbers are
 * stored (STORE.md): never renumber. */
#define TQ_STATE_LIST(X) X(PENDING, 0) X(CLEARED, 1) X(HELD, 2) X(REJECTED, 3) X(CANCELLED, 4)
#define TQ_STATE_ENUM_(name, n) TQ_STATE_##name = n,
typedef enum tq_state { TQ_STATE_LIST(TQ_STATE_ENUM_) } tq_state;
/* Arrays indexed by tq_state. */
#define TQ_STATE_COUNT (TQ_STATE_CANCELLED + 1)

/* Reasons, as bits; their order is the order of output (SPEC §4). */
enum {
    TQ_R_TAX_SHORT = 1u << 0,
    TQ_R_PERMIT_MISSING = 1u << 1,
    TQ_R_PERMIT_REVOKED = 1u << 2,
    TQ_R_PERMIT_EXPIRED = 1u << 3,
    TQ_R_PERMIT_HOLDER = 1u << 4,
    TQ_R_PERMIT_HS = 1u << 5,
    TQ_R_AWAIT_OFFICER = 1u << 6,
    TQ_R_PERMIT_QUOTA = 1u << 7
};
#define TQ_REASON_COUNT 8

/* Officer results received (tq_decl.officer). */
enum { TQ_SEEN_DOCS_OK = 1u << 0, TQ_SEEN_INSPECT_OK = 1u << 1 };

typedef struct tq_decl_line {
    char hs[9];
    char permit[TQ_PERMIT_MAX + 1];   /* "" for none */
    uint64_t qty;
    uint64_t value;                   /* the line's value (0..10^15) as last declared */
} tq_decl_line;

/* A declaration's whole state: everything needed to re-evaluate it later. */
typedef struct tq_decl {
    char decl_no[TQ_DECL_NO_LEN + 1];
    char declarant[TQ_TAXID_MAX + 1];
    char kind[4];              /* the DECL's kind ("" when stored before store format 3
                                * and not backfilled from its journal) */
    char office[5];            /* the DECL's office ("" likewise) */
    uint8_t state;             /* tq_state */
    uint8_t channel;           /* 1..3 */
    uint8_t officer;           /* TQ_SEEN_* */
    uint8_t manual;            /* cleared by MANUAL_CLEAR */
    uint32_t version;          /* 0 at DECL, +1 per applied AMEND */
    uint32_t reasons;          /* TQ_R_* of the last evaluation (discrepancies if manual) */
    uint64_t tax_due;
    uint64_t tax_short;        /* of the last evaluation */
    tq_instant registered;
    int32_t reg_day;           /* tq_instant_vn_day(registered), computed by begin() */
    /* The event that last changed this declaration (begin() said EVALUATE*, or DONE):
     * its journal's id and its seq.  Set by the replay paths, not by the rules; all
     * zero when unknown (stored before format 3). */
    uint8_t src_id[16];        /* TQ_JOURNAL_ID_LEN */
    uint64_t src_seq;
    uint16_t nlines;
    tq_decl_line lines[TQ_LINES_MAX];
} tq_decl;

/* What a payment record contributes: the PAY total and the guarantees by expiry day. */
typedef struct tq_guarantee {
    int32_t valid_until;       /* day number */
    tq_u128 amount;            /* exact sum of the guarantees of that day */
} tq_guarantee;

typedef struct tq_cover {
    tq_u128 pay_total;         /* exact sum of PAY amounts */
    uint32_t nguar;
    const tq_guarantee *guar;  /* nguar entries, borrowed */
} tq_cover;

/* One distinct permit named by the declaration, as looked up. */
typedef struct tq_permit_fact {
    int found;                 /* 0: no such permit (PERMIT_MISSING) */
    tq_permit permit;          /* valid when found */
    uint64_t used;             /* quantity already used against it */
} tq_permit_fact;

typedef enum tq_step {
    TQ_STEP_EVALUATE = 1,        /* DECL (new), AMEND, OFFICER DOCS_OK/INSPECT_OK */
    TQ_STEP_EVALUATE_MANUAL = 2, /* MANUAL_CLEAR: evaluate in manual mode, then settle */
    TQ_STEP_DONE = 3,            /* REJECT or CANCEL applied; nothing to evaluate */
    TQ_STEP_DUPLICATE = 4,       /* DECL for a known decl_no: ignored */
    TQ_STEP_IGNORED_FINAL = 5,   /* event on a final declaration: ignored */
    TQ_STEP_UNKNOWN = 6          /* non-DECL event for an unknown decl_no: ignored */
} tq_step;

/* tq_rules_begin() - apply an event's own effect to d.  exists says whether d holds a
 * known declaration (for a DECL with !exists, d is overwritten from the event, every
 * byte of it, unused lines and padding zeroed, so equal histories give equal bytes).
 * For TQ_STEP_DUPLICATE, IGNORED_FINAL and UNKNOWN, d is not changed.
 * Notes:
 *   1. A DECL for a known decl_no is DUPLICATE even when that declaration is final.
 *   2. REJECT and CANCEL set reasons and tax_short to 0 and keep the version.
 *   3. MANUAL_CLEAR changes nothing here; settle() records it.
 *   4. An event kind or officer result that no parser produces gives UNKNOWN, d unchanged. */
tq_step tq_rules_begin(tq_decl *d, int exists, const tq_event *ev);

/* tq_rules_permits() - the distinct permits named on d's lines, in order of first
 * appearance; names[i] points into d.  @return their number (0..TQ_LINES_MAX). */
size_t tq_rules_permits(const tq_decl *d, const char *names[TQ_LINES_MAX]);

typedef struct tq_verdict {
    uint32_t reasons;          /* TQ_R_* found */
    uint64_t tax_short;
    int manual;                /* evaluated in manual mode */
    int consume;               /* add use[] to the permits' used (cleared or manual) */
    uint16_t nuse;
    struct { uint16_t fact; uint64_t qty; } use[TQ_LINES_MAX];  /* quota permits only */
} tq_verdict;

/* tq_rules_evaluate() - evaluate d against cover and facts (facts[i] describes the i-th
 * name of tq_rules_permits(d)), per SPEC §3.  manual: ignore AWAIT_OFFICER and quota
 * limits and always consume.  Pure: changes nothing but *out; no allocation.
 * Notes:
 *   1. nfacts should be tq_rules_permits(d); a name without a fact (nfacts smaller,
 *      facts NULL) counts as not found.  cover NULL means no payment at all.
 *   2. use[] lists, by fact index, every found permit with quota > 0 and the summed
 *      qty of d's lines naming it -- whatever the permit's status, as SPEC §7 wants
 *      for a manual clearance.  nuse is 0 unless consume, so adding use[] blindly is
 *      safe.  Unlimited permits (quota 0) are never listed.
 *   3. The quota test cannot overflow whatever facts[i].used holds. */
void tq_rules_evaluate(const tq_decl *d, const tq_cover *cover, const tq_permit_fact *facts,
                       size_t nfacts, int manual, tq_verdict *out);

/* tq_rules_settle() - record the verdict in d: CLEARED (reasons 0, tax_short 0) or HELD
 * with the reasons; in manual mode CLEARED with manual = 1 and the reasons kept as
 * discrepancies (never AWAIT_OFFICER or PERMIT_QUOTA).  d must not be final: callers
 * settle only after begin() said EVALUATE* or on a HELD declaration. */
void tq_rules_settle(tq_decl *d, const tq_verdict *v);

/* tq_rules_covered_exact() - the cover that counts for a declaration registered on
 * reg_day: PAY total plus guarantees with valid_until >= reg_day, exact (SPEC §2). */
tq_u128 tq_rules_covered_exact(const tq_cover *cover, int32_t reg_day);
/* tq_rules_covered() - the same, saturating at UINT64_MAX (for u64 consumers). */
uint64_t tq_rules_covered(const tq_cover *cover, int32_t reg_day);

/* tq_decl_same_lines() - 1 when ev (a DECL or AMEND) carries lines and they are d's
 * lines exactly (hs, permit and qty, in order; values aside), else 0: the event that
 * declared the lines d holds, whose values a backfill may take.  Pure; any thread. */
int tq_decl_same_lines(const tq_decl *d, const tq_event *ev);

/* Names for output: static strings (never freed), NULL when out of range. */
const char *tq_state_name(int state);           /* "CLEARED", ... */
const char *tq_reason_name(int bit_index);      /* 0 -> "TAX_SHORT", ... */
/* tq_reasons_format() - the reasons joined with '|' in output order into out ("" for
 * none; bits above the last reason are ignored).  Always NUL-terminated when cap > 0;
 * cut short if cap is too small.
 * @return bytes written (excluding NUL); 160 bytes are always enough (all eight take 105). */
size_t tq_reasons_format(uint32_t reasons, char *out, size_t cap);

#endif
