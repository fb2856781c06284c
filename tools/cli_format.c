/* cli_format.c - figures as every summary writes them: grouped numbers, the time now
 * in UTC, a journal id in hex. */
#include "tq_cli.h"
#include "tq_num.h"

#include <stdio.h>
#include <time.h>

char *tq_cli_group(uint64_t v, char out[32])
{
    /* one grouping rule for every figure: tq_num's (a u64 grouped fits 26 bytes) */
    char g[TQ_U128_GROUP_MAX];
    snprintf(out, 32, "%s", tq_u128_group((tq_u128)v, g));
    return out;
}

void tq_cli_utc_now(char out[32])
{
    time_t now = time(NULL);
    struct tm tm;
    gmtime_r(&now, &tm);
    strftime(out, 32, "%Y-%m-%dT%H:%M:%SZ", &tm);
}

void tq_cli_hex_id(const uint8_t *id, char out[2 * TQ_JOURNAL_ID_LEN + 1])
{
    tq_hex(id, TQ_JOURNAL_ID_LEN, out);
}
