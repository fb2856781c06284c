/* tq_event.h - the records thongquan reads: journal events, payments, permits.
 *
 * These are plain structs of fixed size whose every bound comes from SPEC §2 and §7;
 * parsers check each length before copying, so no input can overflow them.  Strings
 * are stored NUL-terminated with their bounds in the array sizes.  Nothing here owns
 * memory: a struct can be copied with '=' and freed with nothing.
 */
#ifndef TQ_EVENT_H
#define TQ_EVENT_H

#include <stdint.h>

#include "tq_time.h"

#define TQ_DECL_NO_LEN 12        /* decl_no: 12 digits, first not 0 */
#define TQ_TAXID_MAX 13          /* declarant/holder: 10 or 13 digits */
#define TQ_PERMIT_MAX 32         /* permit_no / receipt_no: 1..32 of [A-Za-z0-9./_-] */
#define TQ_OFFICER_MAX 64        /* officer: 1..64 printable ASCII */
#define TQ_AGENCY_MAX 16         /* agency: 1..16 of [A-Z0-9] */
#define TQ_LINES_MAX 50          /* a declaration has 1..50 lines */
#define TQ_PREFIXES_MAX 16       /* a permit has 1..16 hs prefixes */
#define TQ_MONEY_MAX 1000000000000000ULL       /* 10^15 dong */
#define TQ_QTY_MAX 1000000000000ULL            /* 10^12 */
#define TQ_QUOTA_MAX 1000000000000000000ULL    /* 10^18 */

/* The event kinds, each name with its number, written once: the enum (TQ_EV_DECL ...
 * TQ_EV_CANCEL) and tq_ev_kind_name()'s spellings both come from this list.  The numbers
 * are stored in the journal's records (JOURNAL.md): never renumber. */
#define TQ_EV_KIND_LIST(X) X(DECL, 1) X(AMEND, 2) X(OFFICER, 3) X(MANUAL_CLEAR, 4) X(CANCEL, 5)
#define TQ_EV_KIND_ENUM_(name, n) TQ_EV_##name = n,
typedef enum tq_ev_kind { TQ_EV_KIND_LIST(TQ_EV_KIND_ENUM_) } tq_ev_kind;
/* Arrays indexed by tq_ev_kind (slot 0 unused). */
#define TQ_EV_KIND_SLOTS (TQ_EV_CANCEL + 1)

typedef enum tq_officer_result {
    TQ_OFFICER_DOCS_OK = 1,
    TQ_OFFICER_INSPECT_OK = 2,
    TQ_OFFICER_REJECT = 3
} tq_officer_result;

/* Which optional members of an event are present (tq_event.has). */
enum {
    TQ_HAS_TAX_DUE = 1u << 0,   /* DECL always; AMEND when given */
    TQ_HAS_LINES = 1u << 1,     /* DECL always; AMEND when given */
    TQ_HAS_SEQ = 1u << 2        /* the NDJSON line carried "seq" (parser input only) */
};

typedef struct tq_line {
    char hs[9];                       /* 8 digits */
    char permit[TQ_PERMIT_MAX + 1];   /* "" when the line names no permit */
    uint64_t qty;                     /* 1..10^12 */
    uint64_t value;                   /* 0..10^15 */
} tq_line;

typedef struct tq_event {
    uint64_t seq;                 /* 1-based position in its journal */
    uint8_t ev;                   /* tq_ev_kind */
    uint8_t has;                  /* TQ_HAS_* */
    uint8_t channel;              /* DECL: 1..3 */
    uint8_t result;               /* OFFICER: tq_officer_result */
    uint16_t nlines;              /* 1..50 when TQ_HAS_LINES */
    char decl_no[TQ_DECL_NO_LEN + 1];
    char kind[4];                 /* DECL: [A-Z][0-9A-Z]{2} */
    char office[5];               /* DECL: [0-9A-Z]{4} */
    char declarant[TQ_TAXID_MAX + 1];
    char registered_at[TQ_TS_MAX + 1];  /* DECL: the text as given (kept for cat) */
    tq_instant registered;        /* DECL: registered_at parsed */
    char officer[TQ_OFFICER_MAX + 1];   /* OFFICER, MANUAL_CLEAR */
    char cleared_at[TQ_TS_MAX + 1];     /* MANUAL_CLEAR: the text as given */
    uint64_t tax_due;             /* 0..10^15 when TQ_HAS_TAX_DUE */
    tq_line lines[TQ_LINES_MAX];  /* nlines used */
} tq_event;

typedef enum tq_payment_kind { TQ_PAY = 1, TQ_GUARANTEE = 2 } tq_payment_kind;

typedef struct tq_payment {
    char decl_no[TQ_DECL_NO_LEN + 1];
    char receipt_no[TQ_PERMIT_MAX + 1];
    uint8_t kind;                 /* tq_payment_kind */
    uint64_t amount;              /* 0..10^15 */
    int32_t valid_until;          /* day number; TQ_NO_DATE for PAY */
} tq_payment;

typedef enum tq_permit_status { TQ_PERMIT_VALID = 1, TQ_PERMIT_REVOKED = 2 } tq_permit_status;

typedef struct tq_permit {
    char permit_no[TQ_PERMIT_MAX + 1];
    char agency[TQ_AGENCY_MAX + 1];
    char holder[TQ_TAXID_MAX + 1];
    uint8_t status;               /* tq_permit_status */
    uint8_t nprefixes;            /* 1..16 */
    int32_t valid_from, valid_to; /* day numbers, valid_from <= valid_to */
    uint64_t quota;               /* 0..10^18, 0 = unlimited */
    char prefixes[TQ_PREFIXES_MAX][9];  /* 2..8 digits each */
} tq_permit;

/* Names for printing, as the records spell them ("DECL", "DOCS_OK", "PAY"); NULL for a
 * value out of range.  Static strings: never freed.  Any thread. */
const char *tq_ev_kind_name(int ev);
const char *tq_officer_result_name(int result);
const char *tq_payment_kind_name(int kind);

#endif
