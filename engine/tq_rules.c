/* tq_rules.c - the clearance rules of SPEC §3 and §7 as pure functions on plain structs.
 *
 * How: tq_rules_begin() applies an event's own effect (create, amend, officer result,
 * reject, cancel) and says whether the declaration must now be evaluated;
 * tq_rules_evaluate() computes the reasons and the quota use from the facts the caller
 * looked up; tq_rules_settle() turns the verdict into CLEARED or HELD.  Nothing here
 * allocates, locks, reads a file or keeps state between calls, so the replay can call it
 * from any thread and the tests can drive it without a database.
 *
 * Deliberately self-contained: it depends on the struct layouts of formats/tq_event.h
 * and formats/tq_time.h only (the Vietnam day is tq_time.h's inline
 * tq_instant_vn_day()), never on their .c files, so the rules can be built and
 * tested on their own.
 *
 * Speed: tq_rules_evaluate() runs once per event in a replay (millions per second), so
 * it works in a few small stack arrays and scans the <= 50 lines a constant number of
 * times; the only quadratic step is finding distinct permit names (<= 50 x 50 compares
 * of short strings, and in practice one or two names).
 */
#include "tq_rules.h"

#include <string.h>

#define NO_PERMIT 0xFFu         /* line_permit[] value for a line naming no permit */

/* Reasons that only exist outside manual mode (SPEC §7: never discrepancies). */
#define AUTO_ONLY_REASONS ((uint32_t)(TQ_R_AWAIT_OFFICER | TQ_R_PERMIT_QUOTA))
#define ALL_REASONS ((uint32_t)((1u << TQ_REASON_COUNT) - 1u))

/* ---- small helpers ------------------------------------------------------------------ */

static uint64_t sat_add(uint64_t a, uint64_t b)
{
    return a > UINT64_MAX - b ? UINT64_MAX : a + b;
}

/* Copy a NUL-terminated string into a fixed array and zero the rest, so that a stored
 * tq_decl has deterministic bytes (the store may write it as it is). */
static void copy_str(char *dst, size_t cap, const char *src)
{
    size_t i = 0;
    while (i + 1 < cap && src[i] != '\0') {
        dst[i] = src[i];
        i++;
    }
    memset(dst + i, 0, cap - i);
}

static int is_final(uint8_t state)
{
    return state == TQ_STATE_CLEARED || state == TQ_STATE_REJECTED ||
           state == TQ_STATE_CANCELLED;
}

/* Replace d's lines (hs, permit, qty, value) by the event's.  A parsed event has 1..50
 * lines; a larger count could only come from a broken caller, and is cut at the array
 * bound rather than read past it. */
static void set_lines(tq_decl *d, const tq_event *ev)
{
    size_t n = ev->nlines <= TQ_LINES_MAX ? ev->nlines : TQ_LINES_MAX;
    memset(d->lines, 0, sizeof d->lines); /* also the padding: deterministic bytes */
    for (size_t i = 0; i < n; i++) {
        copy_str(d->lines[i].hs, sizeof d->lines[i].hs, ev->lines[i].hs);
        copy_str(d->lines[i].permit, sizeof d->lines[i].permit, ev->lines[i].permit);
        d->lines[i].qty = ev->lines[i].qty;
        d->lines[i].value = ev->lines[i].value;
    }
    d->nlines = (uint16_t)n;
}

static size_t line_count(const tq_decl *d)
{
    return d->nlines <= TQ_LINES_MAX ? d->nlines : TQ_LINES_MAX;
}

/* The distinct permit names of d in order of first appearance, and for each line the
 * index of its name (NO_PERMIT when it names none).  line_permit may be NULL. */
static size_t distinct_permits(const tq_decl *d, const char *names[TQ_LINES_MAX],
                               uint8_t *line_permit)
{
    size_t n = 0, nl = line_count(d);
    for (size_t l = 0; l < nl; l++) {
        const char *p = d->lines[l].permit;
        size_t k = NO_PERMIT;
        if (p[0] != '\0') {
            for (k = 0; k < n; k++)
                if (strncmp(names[k], p, TQ_PERMIT_MAX + 1) == 0)
                    break;
            if (k == n)
                names[n++] = p;
        }
        if (line_permit)
            line_permit[l] = (uint8_t)k;
    }
    return n;
}

/* Does hs start with one of the permit's prefixes?  A prefix is compared over its own
 * length (2..8 digits), so an 8-digit prefix must equal the hs.  An empty prefix can
 * only come from a broken caller; it matches nothing rather than everything. */
static int hs_allowed(const tq_permit *p, const char *hs)
{
    size_t np = p->nprefixes <= TQ_PREFIXES_MAX ? p->nprefixes : TQ_PREFIXES_MAX;
    for (size_t i = 0; i < np; i++) {
        const char *pre = p->prefixes[i];
        size_t len = 0;
        while (len < sizeof p->prefixes[i] - 1 && pre[len] != '\0')
            len++;
        if (len > 0 && strncmp(hs, pre, len) == 0)
            return 1;
    }
    return 0;
}

/* ---- the three verbs ---------------------------------------------------------------- */

tq_step tq_rules_begin(tq_decl *d, int exists, const tq_event *ev)
{
    if (ev->ev == TQ_EV_DECL) {
        if (exists)
            return TQ_STEP_DUPLICATE; /* not re-evaluated, even when still HELD */
        memset(d, 0, sizeof *d);      /* version, officer, manual, reasons, tax_short = 0 */
        copy_str(d->decl_no, sizeof d->decl_no, ev->decl_no);
        copy_str(d->declarant, sizeof d->declarant, ev->declarant);
        copy_str(d->kind, sizeof d->kind, ev->kind);
        copy_str(d->office, sizeof d->office, ev->office);
        d->state = TQ_STATE_PENDING;
        d->channel = ev->channel;
        d->tax_due = ev->tax_due;
        d->registered = ev->registered;
        d->reg_day = tq_instant_vn_day(ev->registered);
        set_lines(d, ev);
        return TQ_STEP_EVALUATE;
    }
    if (!exists)
        return TQ_STEP_UNKNOWN;
    if (is_final(d->state))
        return TQ_STEP_IGNORED_FINAL;

    switch (ev->ev) {
    case TQ_EV_AMEND:
        if (ev->has & TQ_HAS_TAX_DUE)
            d->tax_due = ev->tax_due;
        if (ev->has & TQ_HAS_LINES)
            set_lines(d, ev);
        d->version++;
        /* d->officer is kept: results received stay valid across AMENDs (SPEC §7) */
        return TQ_STEP_EVALUATE;
    case TQ_EV_OFFICER:
        switch (ev->result) {
        case TQ_OFFICER_DOCS_OK:
            d->officer |= TQ_SEEN_DOCS_OK;
            return TQ_STEP_EVALUATE;
        case TQ_OFFICER_INSPECT_OK:
            d->officer |= TQ_SEEN_INSPECT_OK;
            return TQ_STEP_EVALUATE;
        case TQ_OFFICER_REJECT:
            d->state = TQ_STATE_REJECTED;
            d->reasons = 0;
            d->tax_short = 0;
            return TQ_STEP_DONE;
        default:
            return TQ_STEP_UNKNOWN; /* not a result a parser produces */
        }
    case TQ_EV_CANCEL:
        d->state = TQ_STATE_CANCELLED;
        d->reasons = 0;
        d->tax_short = 0;
        return TQ_STEP_DONE;
    case TQ_EV_MANUAL_CLEAR:
        return TQ_STEP_EVALUATE_MANUAL; /* settle() sets CLEARED and manual */
    default:
        return TQ_STEP_UNKNOWN; /* not a kind a parser produces */
    }
}

size_t tq_rules_permits(const tq_decl *d, const char *names[TQ_LINES_MAX])
{
    return distinct_permits(d, names, NULL);
}

tq_u128 tq_rules_covered_exact(const tq_cover *cover, int32_t reg_day)
{
    if (cover == NULL)
        return 0;
    tq_u128 covered = cover->pay_total;
    for (uint32_t i = 0; i < cover->nguar; i++)
        if (cover->guar[i].valid_until >= reg_day)
            covered = tq_u128_add(covered, cover->guar[i].amount);
    return covered;
}

uint64_t tq_rules_covered(const tq_cover *cover, int32_t reg_day)
{
    return tq_u128_u64(tq_rules_covered_exact(cover, reg_day));
}

/* permit_reasons() - step 2 of tq_rules_evaluate(): per permit (missing, revoked,
 * expired, holder), then per line (hs, and each permit's quantity in qty[]). */
static uint32_t permit_reasons(const tq_decl *d, const tq_permit_fact *facts, size_t nfacts,
                               size_t n, const uint8_t *line_permit, uint64_t *qty)
{
    uint32_t reasons = 0;
    for (size_t i = 0; i < n; i++) {
        qty[i] = 0;
        if (i >= nfacts || !facts[i].found) {
            reasons |= TQ_R_PERMIT_MISSING;
            continue;
        }
        const tq_permit *p = &facts[i].permit;
        if (p->status == TQ_PERMIT_REVOKED)
            reasons |= TQ_R_PERMIT_REVOKED;
        if (d->reg_day < p->valid_from || d->reg_day > p->valid_to)
            reasons |= TQ_R_PERMIT_EXPIRED;
        if (strncmp(p->holder, d->declarant, TQ_TAXID_MAX + 1) != 0)
            reasons |= TQ_R_PERMIT_HOLDER;
    }
    size_t nl = line_count(d);
    for (size_t l = 0; l < nl; l++) {
        size_t k = line_permit[l];
        if (k == NO_PERMIT)
            continue; /* lines naming no permit are not checked */
        qty[k] = sat_add(qty[k], d->lines[l].qty);
        if (!(reasons & TQ_R_PERMIT_HS) && k < nfacts && facts[k].found &&
            !hs_allowed(&facts[k].permit, d->lines[l].hs))
            reasons |= TQ_R_PERMIT_HS;
    }
    return reasons;
}

/* auto_reasons() - steps 3 and 4 of tq_rules_evaluate(), outside manual mode only:
 * the officer's result the channel needs, then the quota, only when nothing else holds
 * the declaration (every permit is then found).  used + qty > quota is tested as
 * qty > quota || used > quota - qty, which cannot wrap whatever used holds (a manual
 * clearance may push it past quota). */
static uint32_t auto_reasons(const tq_decl *d, const tq_permit_fact *facts, size_t n,
                             const uint64_t *qty, uint32_t reasons)
{
    if ((d->channel == 2 && !(d->officer & (TQ_SEEN_DOCS_OK | TQ_SEEN_INSPECT_OK))) ||
        (d->channel == 3 && !(d->officer & TQ_SEEN_INSPECT_OK)))
        reasons |= TQ_R_AWAIT_OFFICER;
    if (reasons != 0)
        return reasons;
    for (size_t i = 0; i < n; i++) {
        uint64_t quota = facts[i].permit.quota;
        if (quota > 0 && (qty[i] > quota || facts[i].used > quota - qty[i]))
            return reasons | TQ_R_PERMIT_QUOTA;
    }
    return reasons;
}

void tq_rules_evaluate(const tq_decl *d, const tq_cover *cover, const tq_permit_fact *facts,
                       size_t nfacts, int manual, tq_verdict *out)
{
    const char *names[TQ_LINES_MAX];
    uint8_t line_permit[TQ_LINES_MAX];
    uint64_t qty[TQ_LINES_MAX]; /* per distinct permit: sum of its lines' qty */
    size_t n = distinct_permits(d, names, line_permit);
    uint32_t reasons = 0;
    uint64_t tax_short = 0;

    /* A name without a fact (nfacts too small, or facts NULL) counts as not found:
     * a caller's slip then holds the declaration instead of clearing it. */
    if (facts == NULL)
        nfacts = 0;
    if (nfacts > n)
        nfacts = n;

    /* 1. tax */
    tq_u128 covered = tq_rules_covered_exact(cover, d->reg_day);
    if (covered < d->tax_due) {
        reasons |= TQ_R_TAX_SHORT;
        tax_short = d->tax_due - (uint64_t)covered;
    }
    /* 2. permits; 3. officer and 4. quota (not in manual mode) */
    reasons |= permit_reasons(d, facts, nfacts, n, line_permit, qty);
    if (!manual)
        reasons = auto_reasons(d, facts, n, qty, reasons);

    out->reasons = reasons;
    out->tax_short = tax_short;
    out->manual = manual ? 1 : 0;
    out->consume = (manual || reasons == 0) ? 1 : 0;
    out->nuse = 0;
    if (out->consume) {
        /* Every found permit with a quota, whatever its status (SPEC §7 for manual;
         * without manual mode all are valid anyway).  Unlimited permits never. */
        for (size_t i = 0; i < nfacts; i++) {
            if (facts[i].found && facts[i].permit.quota > 0) {
                out->use[out->nuse].fact = (uint16_t)i;
                out->use[out->nuse].qty = qty[i];
                out->nuse++;
            }
        }
    }
}

void tq_rules_settle(tq_decl *d, const tq_verdict *v)
{
    if (v->manual) {
        d->state = TQ_STATE_CLEARED;
        d->manual = 1;
        d->reasons = v->reasons & ALL_REASONS & ~AUTO_ONLY_REASONS;
        d->tax_short = (d->reasons & TQ_R_TAX_SHORT) ? v->tax_short : 0;
    } else if (v->reasons == 0) {
        d->state = TQ_STATE_CLEARED;
        d->reasons = 0;
        d->tax_short = 0;
    } else {
        d->state = TQ_STATE_HELD;
        d->reasons = v->reasons & ALL_REASONS;
        d->tax_short = v->tax_short;
    }
}

/* ---- names -------------------------------------------------------------------------- */

#define STATE_NAME(name, n) [n] = #name,
static const char *const state_names[TQ_STATE_COUNT] = {TQ_STATE_LIST(STATE_NAME)};
#undef STATE_NAME

static const char *const reason_names[TQ_REASON_COUNT] = {
    "TAX_SHORT",     "PERMIT_MISSING", "PERMIT_REVOKED", "PERMIT_EXPIRED",
    "PERMIT_HOLDER", "PERMIT_HS",      "AWAIT_OFFICER",  "PERMIT_QUOTA"};

int tq_decl_same_lines(const tq_decl *d, const tq_event *ev)
{
    if (!(ev->has & TQ_HAS_LINES) || ev->nlines != d->nlines || ev->nlines > TQ_LINES_MAX)
        return 0;
    for (uint16_t l = 0; l < ev->nlines; l++)
        if (strcmp(ev->lines[l].hs, d->lines[l].hs) != 0 ||
            strcmp(ev->lines[l].permit, d->lines[l].permit) != 0 ||
            ev->lines[l].qty != d->lines[l].qty)
            return 0;
    return 1;
}

const char *tq_state_name(int state)
{
    if (state < 0 || (size_t)state >= sizeof state_names / sizeof state_names[0])
        return NULL;
    return state_names[state];
}

const char *tq_reason_name(int bit_index)
{
    if (bit_index < 0 || bit_index >= TQ_REASON_COUNT)
        return NULL;
    return reason_names[bit_index];
}

size_t tq_reasons_format(uint32_t reasons, char *out, size_t cap)
{
    size_t len = 0;
    if (cap == 0)
        return 0;
    for (int b = 0; b < TQ_REASON_COUNT; b++) {
        if (!(reasons & (1u << b)))
            continue;
        const char *name = reason_names[b];
        if (len > 0 && len + 1 < cap)
            out[len++] = '|';
        for (size_t i = 0; name[i] != '\0' && len + 1 < cap; i++)
            out[len++] = name[i];
    }
    out[len] = '\0';
    return len;
}
