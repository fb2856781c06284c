/* cmd_stat.c - the stat command: what a database holds. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "tq_cli.h"
#include "tq_export.h"
#include "tq_load.h"
#include "tq_replay.h"


/* ---- stat ---- */

static const char help_stat[] =
    "usage: thongquan stat --db DIR [--json]\n"
    "\n"
    "Print counts per database and per state, the declarations held per office, the\n"
    "map's size and use, the journals replayed with their last applied seq, and the\n"
    "gaps --skip-corrupt left in them (seq ranges not applied; replay --fill-gap\n"
    "applies them).  Safe while a writer runs.  --json prints it as JSON, with the\n"
    "held declarations by reason and the manual clearances too (one more pass over\n"
    "the declarations).\n"
    "\n"
    "example:\n"
    "  thongquan stat --db /var/lib/thongquan/db\n";

static int print_journal(void *ctx, const tq_journal_mark *m)
{
    int *json = ctx;
    char id[2 * TQ_JOURNAL_ID_LEN + 1];
    tq_cli_hex_id(m->id, id);
    if (*json) {
        printf("%s{\"id\":\"%s\",\"last_seq\":%llu,\"frames\":%llu,\"applied_at\":%llu}",
               *json > 1 ? "," : "", id, (unsigned long long)m->last_seq,
               (unsigned long long)m->frames, (unsigned long long)m->applied_at);
        *json = 2;
    } else {
        printf("journal %s: last applied seq %llu, %llu frames\n", id,
               (unsigned long long)m->last_seq, (unsigned long long)m->frames);
    }
    return 0;
}

/* print_gap() - a seq range that --skip-corrupt passed over and no --fill-gap filled. */
static int print_gap(void *ctx, const tq_gap *g)
{
    int *json = ctx;
    char id[2 * TQ_JOURNAL_ID_LEN + 1];
    tq_cli_hex_id(g->id, id);
    if (*json) {
        printf("%s{\"journal\":\"%s\",\"first_seq\":%llu,\"last_seq\":%llu,\"frame\":%llu,"
               "\"checksum\":\"%016llx\",\"skipped_at\":%llu}",
               *json > 1 ? "," : "", id, (unsigned long long)g->first,
               (unsigned long long)g->last, (unsigned long long)g->frame,
               (unsigned long long)g->checksum, (unsigned long long)g->skipped_at);
        *json = 2;
    } else {
        printf("gap in journal %s: seq %llu..%llu (frame %llu) skipped, not applied; "
               "replay --fill-gap with an intact copy applies it\n",
               id, (unsigned long long)g->first, (unsigned long long)g->last,
               (unsigned long long)g->frame);
    }
    return 0;
}

static int print_office(void *ctx, const char *office, uint64_t count)
{
    int *n = ctx;
    if (*n < 0)
        printf("%s\"%s\":%llu", *n < -1 ? "," : "{", office, (unsigned long long)count);
    else
        printf("  %-6s %llu\n", office[0] ? office : "(none)", (unsigned long long)count);
    *n += *n < 0 ? -1 : 1;
    return 0;
}

/* print_offices() - the held declarations per office, from the office index, in a read
 * transaction of its own.  A database still in format 2 (a reader does not upgrade it)
 * has no index: that is said (JSON: null), and is no error. */
static int print_offices(tq_store *s, int json)
{
    tq_txn *t;
    int rc = tq_txn_begin(s, 1, &t), n = json ? -1 : 0;
    if (rc != TQ_OK)
        return rc;
    printf(json ? ",\"held_by_office\":" : "held per office (office, declarations held):\n");
    rc = tq_store_each_office(t, TQ_STATE_HELD, print_office, &n);
    tq_txn_abort(t);
    if (rc == TQ_ERR_VERSION) {
        printf(json ? "null" : "  not kept before store format 3: thongquan upgrade adds it\n");
        return TQ_OK;
    }
    if (json)
        printf(n == -1 ? "{}" : "}");
    else if (n == 0)
        printf("  none\n");
    return rc;
}

int tq_cmd_stat(int argc, char **argv)
{
    const char *db = NULL, *json = NULL;
    tq_opt opts[] = {{"db", 1, &db}, {"json", 0, &json}, {NULL, 0, NULL}};
    const char *pos[1];
    int npos, rc = tq_cli_parse("stat", argc, argv, opts, pos, 0, &npos);
    if (rc < 0) {
        fputs(help_stat, stdout);
        return TQ_EXIT_OK;
    }
    if (rc)
        return rc;
    tq_store *s;
    if ((rc = tq_cli_open_store("stat", db, 0, 0, &s)) != 0)
        return rc;
    tq_store_info in;
    rc = tq_store_stat(s, &in);
    if (rc != TQ_OK) {
        tq_store_close(s);
        return tq_cli_error(tq_cli_exit_for(rc), "stat failed: %s", tq_strerror(rc));
    }
    /* --json adds held by reason and the manual clearances (what the nightly job's
     * metrics need) at the cost of one more pass over the declarations; the text stays
     * one pass, cheap enough to poll while a replay runs. */
    tq_tally tally;
    memset(&tally, 0, sizeof tally);
    rc = json ? tq_export_tally(s, &tally) : TQ_OK;
    if (rc != TQ_OK) {
        tq_store_close(s);
        return tq_cli_error(tq_cli_exit_for(rc), "stat failed: %s", tq_strerror(rc));
    }
    if (json) {
        printf("{\"map_size\":%llu,\"map_used\":%llu,\"receipts\":%llu,\"covers\":%llu,"
               "\"permits\":%llu,\"declarations\":%llu,\"states\":{\"PENDING\":%llu,"
               "\"CLEARED\":%llu,\"HELD\":%llu,\"REJECTED\":%llu,\"CANCELLED\":%llu},"
               "\"manual_cleared\":%llu,\"manual_with_discrepancies\":%llu,\"held_by_reason\":",
               (unsigned long long)in.map_size, (unsigned long long)in.map_used,
               (unsigned long long)in.receipts, (unsigned long long)in.covers,
               (unsigned long long)in.permits, (unsigned long long)in.decls,
               (unsigned long long)in.by_state[0], (unsigned long long)in.by_state[1],
               (unsigned long long)in.by_state[2], (unsigned long long)in.by_state[3],
               (unsigned long long)in.by_state[4], (unsigned long long)tally.manual_cleared,
               (unsigned long long)tally.manual_with_discrepancies);
        tq_cli_print_by_reason_json(stdout, tally.held_by_reason);
        rc = print_offices(s, 1);
        printf(",\"journals\":[");
    } else {
        printf("database %s\n", db);
        printf("map: %llu bytes, %llu used (%.1f%%)\n", (unsigned long long)in.map_size,
               (unsigned long long)in.map_used,
               in.map_size ? 100.0 * (double)in.map_used / (double)in.map_size : 0.0);
        printf("payments: %llu receipts for %llu declarations\n",
               (unsigned long long)in.receipts, (unsigned long long)in.covers);
        printf("permits: %llu\n", (unsigned long long)in.permits);
        printf("declarations: %llu (CLEARED %llu, HELD %llu, REJECTED %llu, CANCELLED %llu)\n",
               (unsigned long long)in.decls, (unsigned long long)in.by_state[1],
               (unsigned long long)in.by_state[2], (unsigned long long)in.by_state[3],
               (unsigned long long)in.by_state[4]);
        rc = print_offices(s, 0);
        printf("journals replayed: %llu\n", (unsigned long long)in.journals);
    }
    tq_txn *t;
    int jflag = json ? 1 : 0;
    if (rc == TQ_OK && (rc = tq_txn_begin(s, 1, &t)) == TQ_OK) {
        rc = tq_store_each_journal(t, print_journal, &jflag);
        int gflag = json ? 1 : 0;
        if (json)
            printf("],\"gaps\":[");
        if (rc == TQ_OK)
            rc = tq_store_each_gap(t, NULL, print_gap, &gflag);
        tq_txn_abort(t);
    }
    if (json)
        printf("]}\n");
    tq_store_close(s);
    if (rc != TQ_OK)
        return tq_cli_error(tq_cli_exit_for(rc), "stat failed: %s", tq_strerror(rc));
    return TQ_EXIT_OK;
}
