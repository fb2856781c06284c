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

/* The journal and gap callbacks get the JSON writer, or NULL for text (and nothing at
 * all to print with -q, when ctx points at a null writer). */
typedef struct stat_out {
    tq_json *j;              /* --json */
    int text;                /* the text lines (not -q) */
    uint64_t offices;        /* offices listed so far */
} stat_out;

static int print_journal(void *ctx, const tq_journal_mark *m)
{
    stat_out *o = ctx;
    char id[2 * TQ_JOURNAL_ID_LEN + 1];
    tq_cli_hex_id(m->id, id);
    if (o->j) {
        tq_json_begin_object(o->j);
        tq_json_kv_string(o->j, "id", id);
        tq_json_kv_u64(o->j, "last_seq", m->last_seq);
        tq_json_kv_u64(o->j, "frames", m->frames);
        tq_json_kv_u64(o->j, "applied_at", m->applied_at);
        tq_json_end_object(o->j);
    } else if (o->text) {
        printf("journal %s: last applied seq %llu, %llu frames\n", id,
               (unsigned long long)m->last_seq, (unsigned long long)m->frames);
    }
    return 0;
}

/* print_gap() - a seq range that --skip-corrupt passed over and no --fill-gap filled. */
static int print_gap(void *ctx, const tq_gap *g)
{
    stat_out *o = ctx;
    char id[2 * TQ_JOURNAL_ID_LEN + 1], sum[17];
    tq_cli_hex_id(g->id, id);
    if (o->j) {
        snprintf(sum, sizeof sum, "%016llx", (unsigned long long)g->checksum);
        tq_json_begin_object(o->j);
        tq_json_kv_string(o->j, "journal", id);
        tq_json_kv_u64(o->j, "first_seq", g->first);
        tq_json_kv_u64(o->j, "last_seq", g->last);
        tq_json_kv_u64(o->j, "frame", g->frame);
        tq_json_kv_string(o->j, "checksum", sum);
        tq_json_kv_u64(o->j, "skipped_at", g->skipped_at);
        tq_json_end_object(o->j);
    } else if (o->text) {
        printf("gap in journal %s: seq %llu..%llu (frame %llu) skipped, not applied; "
               "replay --fill-gap with an intact copy applies it\n",
               id, (unsigned long long)g->first, (unsigned long long)g->last,
               (unsigned long long)g->frame);
    }
    return 0;
}

static int print_office(void *ctx, const char *office, uint64_t count)
{
    stat_out *o = ctx;
    if (o->j)
        tq_json_kv_u64(o->j, office, count);
    else if (o->text)
        printf("  %-6s %llu\n", office[0] ? office : "(none)", (unsigned long long)count);
    o->offices++;
    return 0;
}

/* stat_offices() - the held declarations per office, from the office index, in a read
 * transaction of its own.  A database still in format 2 (a reader does not upgrade it)
 * has no index: that is said (JSON: null), and is no error. */
static int stop_at_first(void *ctx, const char *office, uint64_t count)
{
    (void)ctx, (void)office, (void)count;
    return 1;
}

static int stat_offices(tq_store *s, stat_out *o)
{
    tq_txn *t;
    int rc = tq_txn_begin(s, 1, &t);
    if (rc != TQ_OK)
        return rc;
    rc = tq_store_each_office(t, TQ_STATE_HELD, stop_at_first, NULL);
    if (rc == TQ_ERR_VERSION) {
        tq_txn_abort(t);
        if (o->j)
            tq_json_key(o->j, "held_by_office"), tq_json_null(o->j);
        else if (o->text)
            printf("held per office: not kept before store format 3: thongquan upgrade "
                   "adds it\n");
        return TQ_OK;
    }
    if (o->j) {
        tq_json_key(o->j, "held_by_office");
        tq_json_begin_object(o->j);
    } else if (o->text) {
        printf("held per office (office, declarations held):\n");
    }
    rc = rc < 0 ? rc : tq_store_each_office(t, TQ_STATE_HELD, print_office, o);
    tq_txn_abort(t);
    if (o->j)
        tq_json_end_object(o->j);
    else if (rc == TQ_OK && o->text && o->offices == 0)
        printf("  none\n");
    return rc;
}

static void stat_json_head(tq_json *j, const tq_store_info *in, const tq_tally *tally)
{
    tq_cli_json_begin(j, stdout);
    TQ_CLI_JSON_U64S(j, {"map_size", in->map_size}, {"map_used", in->map_used},
                     {"receipts", in->receipts}, {"covers", in->covers},
                     {"permits", in->permits}, {"declarations", in->decls});
    tq_json_key(j, "states");
    tq_json_begin_object(j);
    for (int st = 0; st <= TQ_STATE_CANCELLED; st++)
        tq_json_kv_u64(j, tq_state_name(st), in->by_state[st]);
    tq_json_end_object(j);
    tq_json_kv_u64(j, "manual_cleared", tally->manual_cleared);
    tq_json_kv_u64(j, "manual_with_discrepancies", tally->manual_with_discrepancies);
    tq_json_key(j, "held_by_reason");
    tq_cli_json_by_reason(j, tally->held_by_reason);
}

static void stat_text_head(const char *db, const tq_store_info *in)
{
    printf("database %s\n", db);
    printf("map: %llu bytes, %llu used (%.1f%%)\n", (unsigned long long)in->map_size,
           (unsigned long long)in->map_used,
           in->map_size ? 100.0 * (double)in->map_used / (double)in->map_size : 0.0);
    printf("payments: %llu receipts for %llu declarations\n",
           (unsigned long long)in->receipts, (unsigned long long)in->covers);
    printf("permits: %llu\n", (unsigned long long)in->permits);
    printf("declarations: %llu (CLEARED %llu, HELD %llu, REJECTED %llu, CANCELLED %llu)\n",
           (unsigned long long)in->decls, (unsigned long long)in->by_state[1],
           (unsigned long long)in->by_state[2], (unsigned long long)in->by_state[3],
           (unsigned long long)in->by_state[4]);
    printf("journals replayed: %llu\n", (unsigned long long)in->journals);
}

/* stat_lists() - the journals and the gaps, as text lines or two JSON arrays. */
static int stat_lists(tq_store *s, stat_out *o)
{
    tq_txn *t;
    int rc = tq_txn_begin(s, 1, &t);
    if (rc != TQ_OK)
        return rc;
    if (o->j) {
        tq_json_key(o->j, "journals");
        tq_json_begin_array(o->j);
    }
    rc = tq_store_each_journal(t, print_journal, o);
    if (o->j) {
        tq_json_end_array(o->j);
        tq_json_key(o->j, "gaps");
        tq_json_begin_array(o->j);
    }
    if (rc == TQ_OK)
        rc = tq_store_each_gap(t, NULL, print_gap, o);
    if (o->j)
        tq_json_end_array(o->j);
    tq_txn_abort(t);
    return rc;
}

typedef struct stat_args {
    const char *db, *json;
} stat_args;

static int stat_run(tq_cli_cmd *c)
{
    const stat_args *a = c->args;
    const char *db = a->db, *json = a->json;
    tq_store *s = c->s;
    tq_store_info in;
    int rc = tq_store_stat(s, &in);
    if (rc != TQ_OK)
        return tq_cli_error(tq_cli_exit_for(rc), "stat failed: %s", tq_strerror(rc));
    /* --json adds held by reason and the manual clearances (what the nightly job's
     * metrics need) at the cost of one more pass over the declarations; the text stays
     * one pass, cheap enough to poll while a replay runs. */
    tq_tally tally;
    memset(&tally, 0, sizeof tally);
    rc = json ? tq_export_tally(s, &tally) : TQ_OK;
    if (rc != TQ_OK)
        return tq_cli_error(tq_cli_exit_for(rc), "stat failed: %s", tq_strerror(rc));
    tq_json j;
    stat_out o = {.j = json ? &j : NULL, .text = !json && !tq_cli_quiet};
    if (json)
        stat_json_head(&j, &in, &tally);
    else if (o.text)
        stat_text_head(db, &in);
    rc = stat_offices(s, &o);
    if (rc == TQ_OK)
        rc = stat_lists(s, &o);
    if (rc != TQ_OK)
        return tq_cli_error(tq_cli_exit_for(rc), "stat failed: %s", tq_strerror(rc));
    return json ? tq_cli_json_end(&j) : TQ_EXIT_OK;
}

int tq_cmd_stat(int argc, char **argv)
{
    stat_args a = {0};
    tq_opt opts[] = {{"db", 1, &a.db}, {"json", 0, &a.json}, {NULL, 0, NULL}};
    tq_cli_cmd c = {.name = "stat", .help = help_stat, .opts = opts, .store = TQ_CLI_READ,
                    .db = &a.db, .run = stat_run, .args = &a};
    return tq_cli_main(&c, argc, argv);
}
