/* tq_csv.h - strict CSV codec for payments and permits (SPEC §2.2, §2.3, §7).
 *
 * No quoting is used, so a row is split on ',' and must have exactly the header's
 * number of fields.  Headers must match exactly, after an optional UTF-8 byte-order
 * mark on the first line.  A line may end in "\r\n" (files from Windows desktops are
 * common in a customs office): one trailing '\r' is stripped before parsing; any other
 * control byte is an error.  Every field is checked against its format and range.
 *
 * For every function here: pure (no state, no allocation), so any thread; line and
 * out are borrowed for the call (nothing in *out points into line); errors follow
 * tq_error.h (TQ_OK or TQ_ERR_INPUT with d->field naming the CSV column and d->why
 * quoting the value; d may be NULL; *out is unspecified after an error); the
 * formatters return sizes, as snprintf.
 */
#ifndef TQ_CSV_H
#define TQ_CSV_H

#include <stddef.h>

#include "tq_error.h"
#include "tq_event.h"

#define TQ_PAYMENTS_HEADER "decl_no,receipt_no,kind,amount,valid_until"
#define TQ_PERMITS_HEADER "permit_no,agency,holder,valid_from,valid_to,status,hs_prefixes,quota"

/* tq_csv_check_header() - line is the file's first line without '\n' (a BOM and a
 * trailing '\r' are allowed); header is one of the two strings above.
 * @return TQ_OK, or TQ_ERR_INPUT with field "(header)" and why
 *         "header must be exactly '...', got '...'". */
TQ_MUST_USE int tq_csv_check_header(const char *line, size_t len, const char *header, tq_diag *d);

/* tq_csv_parse_payment() - one data row, without '\n'.  A PAY row needs an empty
 * valid_until; a GUARANTEE row needs a date.
 * @return TQ_OK, or TQ_ERR_INPUT with the field named ("(line)" for a blank line or a
 *         wrong number of fields). */
TQ_MUST_USE int tq_csv_parse_payment(const char *line, size_t len, tq_payment *out, tq_diag *d);

/* tq_csv_parse_permit() - one data row, without '\n'.  valid_from > valid_to is an error
 * on field 'valid_to'.  @return as tq_csv_parse_payment(). */
TQ_MUST_USE int tq_csv_parse_permit(const char *line, size_t len, tq_permit *out, tq_diag *d);

/* tq_csv_format_payment() / tq_csv_format_permit() - one row with its '\n', in the input
 * format (used for reject files and tests).  @return bytes needed, as snprintf. */
size_t tq_csv_format_payment(const tq_payment *p, char *out, size_t cap);
size_t tq_csv_format_permit(const tq_permit *p, char *out, size_t cap);

/* Field validators shared with the NDJSON parser, the CLI and explain: each checks
 * exactly n bytes of s (no NUL needed) against SPEC §2's format:
 *   tq_valid_decl_no    12 digits, the first not '0';
 *   tq_valid_taxid      10 or 13 digits;
 *   tq_valid_office     a customs office code: 4 of [0-9A-Z] ("01B1");
 *   tq_valid_permit_no  1..TQ_PERMIT_MAX of [A-Za-z0-9./_-] (also a receipt_no);
 *   tq_valid_hs         8 digits.
 * These are predicates, not status functions, on purpose: @return 1 when s is valid,
 * 0 when not, never a TQ_ERR_* (the tq_valid_ prefix says so).  A yes/no question has
 * no error to report, and every caller words its own message around the field it was
 * checking; an int status would make `if (tq_valid_hs(...))` read backwards.
 * Threads: pure; any thread. */
TQ_MUST_USE int tq_valid_decl_no(const char *s, size_t n);
TQ_MUST_USE int tq_valid_taxid(const char *s, size_t n);
TQ_MUST_USE int tq_valid_office(const char *s, size_t n);
TQ_MUST_USE int tq_valid_permit_no(const char *s, size_t n);
TQ_MUST_USE int tq_valid_hs(const char *s, size_t n);

/* tq_parse_u64() - n bytes of decimal digits only (no sign, no leading zero unless
 * "0"), value <= max, into *out.
 * @return TQ_OK, or TQ_ERR_INPUT (*out unchanged).  No tq_diag: there is one reason
 *         ("not an integer 0..max") and the caller names the field and quotes the value.
 * Threads: pure; any thread. */
TQ_MUST_USE int tq_parse_u64(const char *s, size_t n, uint64_t max, uint64_t *out);

#endif
