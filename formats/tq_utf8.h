/* tq_utf8.h - UTF-8 as the writers of text for people and programs check it (the JSON
 * writer, the HTML report): one decoder, so "valid" means the same everywhere.
 *
 * Valid is RFC 3629: no overlong form, no surrogate (U+D800..DFFF), nothing past
 * U+10FFFF.  An ill-formed sequence is replaced by the callers with one U+FFFD per
 * maximal subpart (Unicode's recommended practice), which tq_utf8_len()'s *bad gives.
 * Pure functions; no allocation; any thread. */
#ifndef TQ_UTF8_H
#define TQ_UTF8_H

#include <stddef.h>

#define TQ_UTF8_REPLACEMENT "\xEF\xBF\xBD"   /* U+FFFD, 3 bytes */

/* tq_utf8_len() - the length (1..4) of the well-formed sequence at s, of which n > 0
 * bytes may be read; 0 when the bytes there are ill-formed, with *bad the length of the
 * maximal subpart to replace (1..3, never past n).  A length, not a status: 0 is
 * "ill-formed", never an error code.  s is borrowed for the call. */
size_t tq_utf8_len(const unsigned char *s, size_t n, size_t *bad);

#endif
