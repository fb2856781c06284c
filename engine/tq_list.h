/* tq_list.h - which declarations match a set of filters, streamed in decl_no order.
 *
 * `thongquan list` and the worklists ask the same question: "the declarations of this
 * office (or declarant, or permit) in this state, for these reasons, registered before
 * then, whose tax is paid".  tq_list_run() answers it from one read transaction:
 *
 *   1. it picks the most selective way in the store offers (engine/tq_store.h): the
 *      permit index when a permit is given, else the declarant index, else -- for an
 *      office and state HELD, the worklists' question -- the held table of format 4
 *      (engine/tq_store_held.h: each row carries the declaration and its cover, so
 *      nothing else is read), else the office index (restricted to the state when one
 *      is given), else a walk of every declaration;
 *   2. it checks every filter again on each declaration it reads, so the result does not
 *      depend on which way was taken;
 *   3. it hands each match to a callback as it is read, in decl_no order (every index
 *      and the table walk are in decl_no order), and keeps nothing: memory does not
 *      grow with the number of declarations listed.
 *
 * A database of store format 2, opened by a reader, has no indexes (the store answers
 * TQ_ERR_VERSION): tq_list_run() then walks every declaration, which gives the same
 * rows, only slower; one of format 3 has no held table: the office index then.
 *
 * Threads: tq_list_run() uses its transaction only; a filter may be shared read-only.
 */
#ifndef TQ_LIST_H
#define TQ_LIST_H

#include <stddef.h>
#include <stdint.h>

#include "../formats/tq_num.h"
#include "tq_store.h"

/* What to list.  Zero a filter (tq_list_filter_init) and set what you need: every
 * filter set must hold (AND); an unset one (its zero) does not filter. */
typedef struct tq_list_filter {
    int state;                  /* tq_state to keep; -1 (init's default): any */
    uint32_t reasons;           /* keep a declaration with ANY of these TQ_R_* bits among
                                 * the reasons it shows (HELD: why held; CLEARED by hand:
                                 * its discrepancies; REJECTED, CANCELLED: none); 0: any */
    char office[5];             /* "" any; else 4 chars [0-9A-Z] */
    char declarant[TQ_TAXID_MAX + 1];   /* "" any; else 10 or 13 digits */
    char permit[TQ_PERMIT_MAX + 1];     /* "" any; else a line names this permit */
    int has_before;             /* 1: keep declarations registered strictly before */
    tq_instant registered_before;
    int tax_paid;               /* 1: covered >= tax_due and the state is not CLEARED */
    uint64_t limit;             /* stop after this many rows; 0: no limit */
    tq_instant as_of;           /* "now" for the age of each row (tq_list_row.age) */
} tq_list_filter;

/* tq_list_filter_init() - every filter unset (state -1), as_of zero. */
void tq_list_filter_init(tq_list_filter *f);

/* One match, valid during the callback only. */
typedef struct tq_list_row {
    const tq_decl *decl;        /* the stored state */
    uint32_t reasons;           /* the reasons it shows (see tq_list_filter.reasons) */
    tq_u128 covered;            /* PAY total plus guarantees valid on its registration
                                 * day (tq_rules_covered_exact), exact */
    int64_t age;                /* as_of - registered, in whole seconds (may be < 0) */
} tq_list_row;

/* How a run went: which way it took and how much it read. */
typedef enum tq_list_way {
    TQ_LIST_BY_PERMIT = 1,
    TQ_LIST_BY_DECLARANT = 2,
    TQ_LIST_BY_OFFICE = 3,
    TQ_LIST_FULL_WALK = 4,
    TQ_LIST_BY_HELD = 5         /* office and state HELD: the held table (format 4) */
} tq_list_way;

typedef struct tq_list_stats {
    int way;                    /* tq_list_way taken (a format 2 database: FULL_WALK) */
    uint64_t read;              /* declarations read */
    uint64_t matched;           /* rows given to fn */
} tq_list_stats;

/* tq_list_check() - is the filter well-formed (office, declarant and permit as the
 * store keeps them, state in range, reasons within TQ_R_*)?  d (may be NULL) names the
 * field ("office", ...) and the value.  @return TQ_OK or TQ_ERR_INPUT. */
TQ_MUST_USE int tq_list_check(const tq_list_filter *f, tq_diag *d);

/* tq_list_run() - call fn(ctx, row) for every declaration matching f, in decl_no order,
 * from read (or write) transaction t, up to f->limit rows.  fn returns 0 to go on, or
 * non-zero to stop: tq_list_run() then returns that value.  fn must not put through t.
 * st (may be NULL) is filled whatever the outcome.
 * @return TQ_OK, fn's non-zero value, TQ_ERR_INPUT (a malformed filter: tq_list_check),
 *         TQ_ERR_NOMEM, TQ_ERR_DBCORRUPT (tq_txn_fault() names table and key), store
 *         errors. */
TQ_MUST_USE int tq_list_run(tq_txn *t, const tq_list_filter *f,
                int (*fn)(void *ctx, const tq_list_row *row), void *ctx, tq_list_stats *st);

/* ---- helpers the list and worklist outputs share ---- */

/* tq_list_parse_duration() - "90m", "2h", "3d", "45s" (a whole number of 1..18 digits
 * and one unit) into seconds.  @return TQ_OK or TQ_ERR_INPUT (also on overflow). */
TQ_MUST_USE int tq_list_parse_duration(const char *s, int64_t *sec);

/* tq_list_parse_instant() - a timestamp with its offset ("2024-08-07T08:00:00+07:00",
 * tq_time_parse) or a date ("2024-08-07": its 00:00 in Vietnam time).
 * @return TQ_OK, or TQ_ERR_INPUT with the parser's reason in d (may be NULL).
 * Threads: any. */
TQ_MUST_USE int tq_list_parse_instant(const char *s, tq_instant *out, tq_diag *d);

/* tq_list_parse_reasons() - "PERMIT_HS,AWAIT_OFFICER" (names of tq_reason_name, comma
 * separated, any case) into TQ_R_* bits.  @return TQ_OK, or TQ_ERR_INPUT with *bad
 * pointing at the first unknown name (not NUL-terminated at its comma). */
TQ_MUST_USE int tq_list_parse_reasons(const char *s, uint32_t *bits, const char **bad);

/* tq_list_parse_state() - "HELD" (any case) into a tq_state other than PENDING.
 * @return TQ_OK or TQ_ERR_INPUT. */
TQ_MUST_USE int tq_list_parse_state(const char *s, int *state);

/* tq_list_format_age() - seconds as "3d04h05m", "2h15m", "7m", "0m" ('-' first when
 * negative: registered after as_of). */
void tq_list_format_age(int64_t sec, char out[32]);

/* tq_list_format_permits() - the distinct permits named on d's lines, in order of first
 * appearance, joined with '|' ("" for none).  Always NUL-terminated when cap > 0; cut
 * short when cap is too small.  @return the length written.  (50 permits of 32 bytes
 * and their separators need 1650 bytes: TQ_LIST_PERMITS_MAX.) */
#define TQ_LIST_PERMITS_MAX (TQ_LINES_MAX * (TQ_PERMIT_MAX + 1))
size_t tq_list_format_permits(const tq_decl *d, char *out, size_t cap);

/* tq_list_csv_row() - row as one line of `list --csv` (columns decl_no, office, kind,
 * declarant, state, reasons, registered_at, age, tax_due, covered, permits; '\n'-ended,
 * not NUL-ended) in out.  Every field is bounded, so TQ_LIST_CSV_MAX always holds it.
 * The list command and the bench harness write rows with it, so the bench times what
 * an officer waits for.  Written without stdio's format parsing: a worklist is tens of
 * thousands of rows.  @return the line's length.  Threads: pure; any thread. */
#define TQ_LIST_CSV_MAX (TQ_DECL_NO_LEN + TQ_TAXID_MAX + 9 + 16 + 160 + 48 + 32 + 24 + \
                         TQ_U128_DEC_MAX + TQ_LIST_PERMITS_MAX + 16)
size_t tq_list_csv_row(const tq_list_row *row, char out[TQ_LIST_CSV_MAX]);

#endif
