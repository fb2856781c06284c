/* cli_json.c - how every --json summary starts and ends, and the JSON of the figures
 * several commands share, all written with the one writer (formats/tq_json.h). */
#include "tq_cli.h"

#include <errno.h>
#include <string.h>

void tq_cli_json_begin(tq_json *j, FILE *f)
{
    tq_json_init(j, f);
    tq_json_begin_object(j);
    tq_json_kv_u64(j, "schema", TQ_CLI_JSON_SCHEMA);
}

void tq_cli_json_begin_journal(tq_json *j, const char *path, const char *id_key,
                               const uint8_t *id)
{
    char hex[2 * TQ_JOURNAL_ID_LEN + 1];
    tq_cli_hex_id(id, hex);
    tq_cli_json_begin(j, stdout);
    tq_json_kv_string(j, "journal", path);
    tq_json_kv_string(j, id_key, hex);
}

int tq_cli_json_end(tq_json *j)
{
    tq_json_end_object(j);
    errno = 0;
    int rc = tq_json_finish(j), e = errno;
    if (rc == TQ_OK)
        return TQ_EXIT_OK;
    if (rc != TQ_ERR_IO)
        return tq_cli_error(TQ_EXIT_SOFTWARE, "internal error: malformed JSON summary");
    /* said once, here, with the system's reason: main()'s own check of stdout would
     * only find the error flag, the reason gone with the buffer */
    if (j->f == stdout)
        clearerr(stdout);
    return tq_cli_error(TQ_EXIT_IO, "cannot write %s: %s",
                        j->f == stdout ? "standard output" : "the JSON report",
                        e ? strerror(e) : "write error");
}

void tq_cli_json_u64s(tq_json *j, const tq_cli_kv *m, size_t n)
{
    for (size_t i = 0; i < n; i++)
        tq_json_kv_u64(j, m[i].key, m[i].v);
}

/* Every reason is present, zeros included, so a consumer (the nightly job's metrics,
 * a dashboard) always finds the same keys. */
void tq_cli_json_by_reason(tq_json *j, const uint64_t *by_reason)
{
    tq_json_begin_object(j);
    for (int b = 0; b < TQ_REASON_COUNT; b++)
        tq_json_kv_u64(j, tq_reason_name(b), by_reason[b]);
    tq_json_end_object(j);
}

void tq_cli_json_tally(tq_json *j, const tq_tally *t)
{
    static const int states[] = {TQ_STATE_CLEARED, TQ_STATE_HELD, TQ_STATE_REJECTED,
                                 TQ_STATE_CANCELLED};
    tq_json_kv_u64(j, "declarations", t->declarations);
    tq_json_key(j, "states");
    tq_json_begin_object(j);
    for (size_t i = 0; i < sizeof states / sizeof states[0]; i++)
        tq_json_kv_u64(j, tq_state_name(states[i]), t->by_state[states[i]]);
    tq_json_end_object(j);
    tq_json_kv_u64(j, "manual_cleared", t->manual_cleared);
    tq_json_kv_u64(j, "manual_with_discrepancies", t->manual_with_discrepancies);
    tq_json_key(j, "held_by_reason");
    tq_cli_json_by_reason(j, t->held_by_reason);
}
