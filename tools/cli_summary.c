/* cli_summary.c - the summaries of a database's declarations that replay, stat and
 * reconcile print, as text lines or JSON members. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "tq_cli.h"
#include "tq_export.h"
#include "tq_load.h"
#include "tq_replay.h"


/* ---- shared ---- */

void tq_cli_print_tally_text(FILE *f, const tq_tally *t)
{
    fprintf(f, "declarations %llu: CLEARED %llu, HELD %llu, REJECTED %llu, CANCELLED %llu\n",
            (unsigned long long)t->declarations,
            (unsigned long long)t->by_state[TQ_STATE_CLEARED],
            (unsigned long long)t->by_state[TQ_STATE_HELD],
            (unsigned long long)t->by_state[TQ_STATE_REJECTED],
            (unsigned long long)t->by_state[TQ_STATE_CANCELLED]);
    fprintf(f, "manual clearances %llu, with discrepancies %llu\n",
            (unsigned long long)t->manual_cleared,
            (unsigned long long)t->manual_with_discrepancies);
    tq_cli_print_by_reason_text(f, "held by reason: ", t->held_by_reason);
}

void tq_cli_print_by_reason_text(FILE *f, const char *lead, const uint64_t *by_reason)
{
    int any = 0;
    for (int b = 0; b < TQ_REASON_COUNT; b++) {
        if (!by_reason[b])
            continue;
        fprintf(f, "%s%s %llu", any ? ", " : lead, tq_reason_name(b),
                (unsigned long long)by_reason[b]);
        any = 1;
    }
    if (any)
        fputc('\n', f);
}
