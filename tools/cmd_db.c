/* cmd_db.c - the database commands load, replay, export and stat, and the summaries
 * of a database's declarations they share with reconcile (cmd_reconcile.c). */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "tq_cli.h"
#include "tq_export.h"
#include "tq_load.h"
#include "tq_replay.h"

#define MAX_REPORTED 50

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

/* Every reason is present, zeros included, so a consumer (the nightly job's metrics,
 * a dashboard) always finds the same keys. */
void tq_cli_print_by_reason_json(FILE *f, const uint64_t *by_reason)
{
    fputc('{', f);
    for (int b = 0; b < TQ_REASON_COUNT; b++)
        fprintf(f, "%s\"%s\":%llu", b ? "," : "", tq_reason_name(b),
                (unsigned long long)by_reason[b]);
    fputc('}', f);
}

void tq_cli_print_tally_json(FILE *f, const tq_tally *t)
{
    fprintf(f,
            "\"declarations\":%llu,\"states\":{\"CLEARED\":%llu,\"HELD\":%llu,"
            "\"REJECTED\":%llu,\"CANCELLED\":%llu},\"manual_cleared\":%llu,"
            "\"manual_with_discrepancies\":%llu,\"held_by_reason\":",
            (unsigned long long)t->declarations,
            (unsigned long long)t->by_state[TQ_STATE_CLEARED],
            (unsigned long long)t->by_state[TQ_STATE_HELD],
            (unsigned long long)t->by_state[TQ_STATE_REJECTED],
            (unsigned long long)t->by_state[TQ_STATE_CANCELLED],
            (unsigned long long)t->manual_cleared,
            (unsigned long long)t->manual_with_discrepancies);
    tq_cli_print_by_reason_json(f, t->held_by_reason);
}

/* ---- load ---- */

static const char help_load[] =
    "usage: thongquan load payments|permits FILE.csv --db DIR\n"
    "                      [--skip-invalid REJECTS.csv] [--json] [--quiet]\n"
    "\n"
    "Check every row strictly (SPEC 2.2, 2.3) and load the file in one transaction: a\n"
    "file with any bad row changes nothing and exits 1, listing each bad row, unless\n"
    "--skip-invalid names a file for the bad rows (the rest is then loaded).  Payments:\n"
    "a row already known counts once; the same receipt_no with other content is a\n"
    "conflict.  Permits: a known permit_no is replaced, its quantity used is kept.\n"
    "\n"
    "example:\n"
    "  thongquan load payments treasury-2024-08-06.csv --db /var/lib/thongquan\n";

typedef struct load_report {
    const char *file;
    uint64_t shown;
} load_report;

static void on_load_error(void *ctx, const tq_diag *d)
{
    load_report *r = ctx;
    if (++r->shown <= MAX_REPORTED)
        tq_cli_diag(r->file, d);
}

int tq_cmd_load(int argc, char **argv)
{
    const char *db = NULL, *skip = NULL, *quiet = NULL, *json = NULL, *nosync = NULL;
    tq_opt opts[] = {{"db", 1, &db},       {"skip-invalid", 1, &skip}, {"quiet", 0, &quiet},
                     {"json", 0, &json},   {"no-sync", 0, &nosync},    {NULL, 0, NULL}};
    const char *pos[2];
    int npos, rc = tq_cli_parse("load", argc, argv, opts, pos, 2, &npos);
    if (rc < 0) {
        fputs(help_load, stdout);
        return TQ_EXIT_OK;
    }
    if (rc)
        return rc;
    if (npos != 2)
        return tq_cli_usage("load", "needs payments|permits and FILE.csv");
    tq_load_opts lo = {0};
    if (strcmp(pos[0], "payments") == 0)
        lo.kind = TQ_LOAD_PAYMENTS;
    else if (strcmp(pos[0], "permits") == 0)
        lo.kind = TQ_LOAD_PERMITS;
    else
        return tq_cli_usage("load", "what to load must be payments or permits, got '%s'",
                            pos[0]);
    if (access(pos[1], R_OK) != 0)
        return tq_cli_error(TQ_EXIT_IO, "cannot read %s: %s", pos[1], strerror(errno));
    tq_store *s;
    if ((rc = tq_cli_open_store("load", db, 1, nosync != NULL, &s)) != 0)
        return rc;
    tq_cli_catch_signals();
    FILE *rej = NULL;
    if (skip && (rej = fopen(skip, "wb")) == NULL) {
        tq_store_close(s);
        return tq_cli_error(TQ_EXIT_IO, "cannot create %s: %s", skip, strerror(errno));
    }
    load_report lr = {.file = pos[1]};
    lo.rejects = rej;
    lo.on_error = on_load_error;
    lo.ctx = &lr;
    lo.stop = &tq_cli_stop;
    tq_load_stats st;
    memset(&st, 0, sizeof st);
    tq_diag d;
    memset(&d, 0, sizeof d);
    double t0 = tq_cli_now();
    /* The loader reports nothing while it reads, so the progress line follows the read
     * offset of its descriptor from a thread of its own. */
    tq_progress_watch *pw = tq_progress_watch_file("load", pos[1]);
    rc = tq_load_file(s, pos[1], &lo, &st, &d);
    tq_progress_watch_stop(pw);
    double el = tq_cli_now() - t0;
    tq_store_close(s);
    if (rej && fclose(rej) != 0 && rc == TQ_OK)
        rc = TQ_ERR_IO;
    if (lr.shown > MAX_REPORTED)
        tq_cli_warn("%s: ... and %llu more bad rows", pos[1],
                    (unsigned long long)(lr.shown - MAX_REPORTED));
    if (rc == TQ_ERR_INPUT)
        return tq_cli_error(TQ_EXIT_INPUT, "%s: %llu bad row%s; nothing was loaded", pos[1],
                            (unsigned long long)st.rejected, st.rejected == 1 ? "" : "s");
    if (rc == TQ_ERR_INTERRUPTED)
        return tq_cli_error(tq_cli_exit_for(rc),
                            "%s: interrupted; nothing was loaded (run it again)", pos[1]);
    if (rc != TQ_OK) {
        if (d.why[0])
            tq_cli_warn("%s", d.why);
        return tq_cli_error(tq_cli_exit_for(rc), "%s: not loaded: %s", pos[1],
                            tq_strerror(rc));
    }
    if (json) {
        printf("{\"file\":");
        tq_json_str(stdout, pos[1]);
        printf(",\"kind\":\"%s\",\"rows\":%llu,\"new\":%llu,\"duplicates\":%llu,"
               "\"replaced\":%llu,\"rejected\":%llu,\"for_unknown_declarations\":%llu,"
               "\"seconds\":%.3f}\n",
               pos[0], (unsigned long long)st.rows, (unsigned long long)st.added,
               (unsigned long long)st.duplicates, (unsigned long long)st.replaced,
               (unsigned long long)st.rejected, (unsigned long long)st.unknown_decl, el);
    } else if (!tq_cli_quiet) {
        if (lo.kind == TQ_LOAD_PAYMENTS)
            printf("loaded %s: %llu rows, %llu new, %llu already known, %llu rejected, "
                   "%llu for declarations not yet known\n",
                   pos[1], (unsigned long long)st.rows, (unsigned long long)st.added,
                   (unsigned long long)st.duplicates, (unsigned long long)st.rejected,
                   (unsigned long long)st.unknown_decl);
        else
            printf("loaded %s: %llu rows, %llu new, %llu replaced, %llu rejected\n", pos[1],
                   (unsigned long long)st.rows, (unsigned long long)st.added,
                   (unsigned long long)st.replaced, (unsigned long long)st.rejected);
    }
    return st.rejected ? TQ_EXIT_INPUT : TQ_EXIT_OK;
}

/* ---- replay ---- */

static const char help_replay[] =
    "usage: thongquan replay J.tqj --db DIR [--threads N] [--dry-run] [--json]\n"
    "                        [--skip-corrupt] [--batch EVENTS] [--quiet]\n"
    "\n"
    "Apply the journal's events in order and decide every declaration (SPEC 3).\n"
    "Decisions are committed with the journal's position, so an interrupted or killed\n"
    "replay resumes where it stopped when run again, and a journal already replayed\n"
    "changes nothing.  Ctrl-C (SIGINT) or SIGTERM finishes the current batch, commits\n"
    "and stops.  A corrupt frame stops the replay after committing everything before\n"
    "it; --skip-corrupt goes past it and reports the seq ranges skipped.  --dry-run\n"
    "decides without writing anything.  --threads N sets the decompress and lookup\n"
    "workers (default: one fewer than the cores, as deciding takes a core of its own);\n"
    "--threads 0 runs the serial reference path, which decides exactly alike.\n"
    "\n"
    "example:\n"
    "  thongquan replay backlog.tqj --db /var/lib/thongquan\n";

typedef struct replay_progress {
    tq_progress p;
} replay_progress;

static void on_replay_progress(void *ctx, uint64_t seq, uint64_t bytes, uint64_t total)
{
    replay_progress *rp = ctx;
    snprintf(rp->p.note, sizeof rp->p.note, "through seq %llu", (unsigned long long)seq);
    tq_progress_update(&rp->p, bytes, total, TQ_PROGRESS_BYTES);
}

static void hex_id(const uint8_t *id, char out[2 * TQ_JOURNAL_ID_LEN + 1])
{
    for (int i = 0; i < TQ_JOURNAL_ID_LEN; i++)
        snprintf(out + 2 * i, 3, "%02x", id[i]);
}

static void print_replay_json(const char *path, const tq_replay_stats *st, const tq_tally *t,
                              int dry_run, int status)
{
    static const char *kinds[] = {"", "DECL", "AMEND", "OFFICER", "MANUAL_CLEAR", "CANCEL"};
    char id[2 * TQ_JOURNAL_ID_LEN + 1];
    hex_id(st->journal_id, id);
    printf("{\"journal\":");
    tq_json_str(stdout, path);
    printf(",\"journal_id\":\"%s\",\"dry_run\":%s,\"status\":%d,", id,
           dry_run ? "true" : "false", status);
    if (t)
        tq_cli_print_tally_json(stdout, t);
    else
        printf("\"declarations\":null");
    printf(",\"events\":{\"total\":%llu,\"applied\":%llu,\"duplicate_decl\":%llu,"
           "\"ignored_final\":%llu,\"unknown_decl\":%llu,\"already_applied\":%llu,"
           "\"by_kind\":{",
           (unsigned long long)st->events, (unsigned long long)st->applied,
           (unsigned long long)st->duplicate_decl, (unsigned long long)st->ignored_final,
           (unsigned long long)st->unknown_decl, (unsigned long long)st->already_applied);
    for (int k = 1; k <= 5; k++)
        printf("%s\"%s\":%llu", k > 1 ? "," : "", kinds[k], (unsigned long long)st->by_kind[k]);
    printf("}},\"first_seq\":%llu,\"last_seq\":%llu,\"journal_last_seq\":%llu,"
           "\"frames\":%llu,\"commits\":%llu,\"torn_tail\":%s,\"interrupted\":%s,"
           "\"skipped\":[",
           (unsigned long long)st->first_seq, (unsigned long long)st->last_seq,
           (unsigned long long)st->journal_last_seq, (unsigned long long)st->frames,
           (unsigned long long)st->commits, st->torn_tail ? "true" : "false",
           st->interrupted ? "true" : "false");
    for (uint32_t i = 0; i < st->nskipped && i < TQ_REPLAY_MAX_SKIPPED; i++)
        printf("%s{\"frame\":%llu,\"first_seq\":%llu,\"last_seq\":%llu}", i ? "," : "",
               (unsigned long long)st->skipped[i].frame,
               (unsigned long long)st->skipped[i].first,
               (unsigned long long)st->skipped[i].last);
    printf("],\"skipped_frames\":%u,\"skipped_events\":%llu,\"seconds\":%.6f,"
           "\"events_per_second\":%.0f}\n",
           st->nskipped, (unsigned long long)st->skipped_events, st->seconds,
           st->seconds > 0 ? (double)st->events / st->seconds : 0.0);
}

static void print_replay_text(const char *path, const tq_replay_stats *st, const tq_tally *t,
                              int dry_run)
{
    static const char *kinds[] = {"", "DECL", "AMEND", "OFFICER", "MANUAL_CLEAR", "CANCEL"};
    printf("%s %s: ", dry_run ? "dry run of" : "replayed", path);
    if (st->events)
        printf("seq %llu..%llu, %llu events", (unsigned long long)st->first_seq,
               (unsigned long long)st->last_seq, (unsigned long long)st->events);
    else
        printf("no new events");
    if (st->already_applied)
        printf(" (%llu applied before)", (unsigned long long)st->already_applied);
    printf(" in %.3f s, %.0f events/s\n", st->seconds,
           st->seconds > 0 ? (double)st->events / st->seconds : 0.0);
    printf("events: applied %llu, duplicate DECL %llu, ignored on final %llu, "
           "unknown declaration %llu\n",
           (unsigned long long)st->applied, (unsigned long long)st->duplicate_decl,
           (unsigned long long)st->ignored_final, (unsigned long long)st->unknown_decl);
    printf("by kind:");
    for (int k = 1; k <= 5; k++)
        printf(" %s %llu", kinds[k], (unsigned long long)st->by_kind[k]);
    putchar('\n');
    if (t)
        tq_cli_print_tally_text(stdout, t);
    if (st->nskipped) {
        printf("skipped corrupt frames: %u (%llu events):", st->nskipped,
               (unsigned long long)st->skipped_events);
        for (uint32_t i = 0; i < st->nskipped && i < TQ_REPLAY_MAX_SKIPPED; i++)
            printf(" seq %llu..%llu", (unsigned long long)st->skipped[i].first,
                   (unsigned long long)st->skipped[i].last);
        putchar('\n');
    }
}

int tq_cmd_replay(int argc, char **argv)
{
    const char *db = NULL, *threads = NULL, *dry = NULL, *json = NULL, *skip = NULL,
               *batch = NULL, *quiet = NULL, *nosync = NULL;
    tq_opt opts[] = {{"db", 1, &db},           {"threads", 1, &threads}, {"dry-run", 0, &dry},
                     {"json", 0, &json},       {"skip-corrupt", 0, &skip},
                     {"batch", 1, &batch},     {"quiet", 0, &quiet},
                     {"no-sync", 0, &nosync},  {NULL, 0, NULL}};
    const char *pos[1];
    int npos, rc = tq_cli_parse("replay", argc, argv, opts, pos, 1, &npos);
    if (rc < 0) {
        fputs(help_replay, stdout);
        return TQ_EXIT_OK;
    }
    if (rc)
        return rc;
    if (npos != 1)
        return tq_cli_usage("replay", "needs J.tqj");
    tq_replay_opts ro = {0};
    uint64_t v;
    if (threads) {
        if (tq_cli_u64("replay", "threads", threads, &v))
            return TQ_EXIT_USAGE;
        if (v > 64)
            return tq_cli_usage("replay", "--threads must be 0..64");
        ro.threads = (unsigned)v;
    } else {
        /* The applier needs a core of its own: one worker fewer than the cores (on the
         * 2-core reference machine one worker replays 1m ~8% faster than two). */
        long n = sysconf(_SC_NPROCESSORS_ONLN);
        ro.threads = n > 1 && n <= 65 ? (unsigned)(n - 1) : 1;
    }
    if (batch) {
        if (tq_cli_u64("replay", "batch", batch, &v) || v == 0)
            return tq_cli_usage("replay", "--batch needs a positive number of events");
        ro.batch_events = v;
    }
    ro.dry_run = dry != NULL;
    tq_tally t;
    memset(&t, 0, sizeof t);
    if (ro.dry_run)
        ro.dry_tally = &t;
    ro.skip_corrupt = skip != NULL;
    if (access(pos[0], R_OK) != 0)
        return tq_cli_error(TQ_EXIT_IO, "cannot read %s: %s", pos[0], strerror(errno));
    tq_store *s;
    if ((rc = tq_cli_open_store("replay", db, 1, nosync != NULL, &s)) != 0)
        return rc;
    tq_cli_catch_signals();
    ro.stop = &tq_cli_stop;
    replay_progress rp;
    tq_progress_init(&rp.p, "replay");
    ro.progress = on_replay_progress;
    ro.progress_ctx = &rp;
    tq_replay_stats st;
    memset(&st, 0, sizeof st);
    tq_diag d;
    memset(&d, 0, sizeof d);
    rc = tq_replay_run(s, pos[0], &ro, &st, &d);
    tq_progress_done(&rp.p);
    int status = TQ_EXIT_OK;
    if (rc == TQ_ERR_CORRUPT) {
        const tq_frame_info *f = &st.bad_frame;
        if (f->count)
            tq_cli_warn("%s: frame %llu (seq %llu..%llu) is corrupt: the replay stopped "
                        "there; everything before seq %llu is committed; rerun with "
                        "--skip-corrupt to go past it",
                        pos[0], (unsigned long long)f->index,
                        (unsigned long long)f->first_seq,
                        (unsigned long long)(f->first_seq + f->count - 1),
                        (unsigned long long)f->first_seq);
        else
            tq_cli_warn("%s: %s; everything before it is committed", pos[0], d.why);
        status = TQ_EXIT_CORRUPT;
    } else if (rc != TQ_OK) {
        status = tq_cli_error(tq_cli_exit_for(rc), "%s: replay failed: %s%s%s", pos[0],
                              tq_strerror(rc), d.why[0] ? ": " : "", d.why);
        tq_store_close(s);
        return status;
    }
    if (st.torn_tail)
        tq_cli_warn("%s: torn tail at byte %llu (the writer stopped mid-frame); every "
                    "complete frame was replayed, through seq %llu",
                    pos[0], (unsigned long long)st.torn_offset,
                    (unsigned long long)st.journal_last_seq);
    if (st.interrupted) {
        tq_cli_warn("interrupted: committed through seq %llu; run the same command again "
                    "to resume",
                    (unsigned long long)st.journal_last_seq);
        status = 128 + (tq_cli_signal ? tq_cli_signal : 2);
    }
    int have_tally = ro.dry_run ? rc == TQ_OK : tq_export_tally(s, &t) == TQ_OK;
    if (json)
        print_replay_json(pos[0], &st, have_tally ? &t : NULL, ro.dry_run, status);
    else if (!tq_cli_quiet)
        print_replay_text(pos[0], &st, have_tally ? &t : NULL, ro.dry_run);
    tq_store_close(s);
    return status;
}

/* ---- export ---- */

static const char help_export[] =
    "usage: thongquan export decisions|permits --db DIR [-o FILE.csv]\n"
    "\n"
    "Write the decisions (decl_no,state,version,reasons,tax_short,manual) or the permit\n"
    "use (permit_no,used,quota) as CSV sorted by key, from one consistent snapshot.\n"
    "-o writes a temporary file and renames it into place when complete.\n"
    "\n"
    "example:\n"
    "  thongquan export decisions --db /var/lib/thongquan -o decisions.csv\n";

int tq_cmd_export(int argc, char **argv)
{
    const char *db = NULL, *out = NULL;
    tq_opt opts[] = {{"db", 1, &db}, {"o", 1, &out}, {"output", 1, &out}, {NULL, 0, NULL}};
    const char *pos[1];
    int npos, rc = tq_cli_parse("export", argc, argv, opts, pos, 1, &npos);
    if (rc < 0) {
        fputs(help_export, stdout);
        return TQ_EXIT_OK;
    }
    if (rc)
        return rc;
    if (npos != 1 || (strcmp(pos[0], "decisions") != 0 && strcmp(pos[0], "permits") != 0))
        return tq_cli_usage("export", "needs decisions or permits");
    tq_store *s;
    if ((rc = tq_cli_open_store("export", db, 0, 0, &s)) != 0)
        return rc;
    tq_output o;
    if (tq_cli_open_output(&o, out) != 0) {
        tq_store_close(s);
        return tq_cli_error(TQ_EXIT_IO, "cannot create %s: %s", out, strerror(errno));
    }
    rc = pos[0][0] == 'd' ? tq_export_decisions(s, o.fp) : tq_export_permits(s, o.fp);
    tq_store_close(s);
    if (tq_cli_close_output(&o, rc == TQ_OK) != 0 && rc == TQ_OK)
        rc = TQ_ERR_IO;
    if (rc != TQ_OK)
        return tq_cli_error(tq_cli_exit_for(rc), "export failed: %s", tq_strerror(rc));
    return TQ_EXIT_OK;
}

/* ---- stat ---- */

static const char help_stat[] =
    "usage: thongquan stat --db DIR [--json]\n"
    "\n"
    "Print counts per database and per state, the map's size and use, and the journals\n"
    "replayed with their last applied seq.  Safe while a writer runs.  --json prints it\n"
    "as JSON, with the held declarations by reason and the manual clearances too (one\n"
    "more pass over the declarations).\n"
    "\n"
    "example:\n"
    "  thongquan stat --db /var/lib/thongquan\n";

static int print_journal(void *ctx, const tq_journal_mark *m)
{
    int *json = ctx;
    char id[2 * TQ_JOURNAL_ID_LEN + 1];
    hex_id(m->id, id);
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
        printf("journals replayed: %llu\n", (unsigned long long)in.journals);
    }
    tq_txn *t;
    int jflag = json ? 1 : 0;
    if ((rc = tq_txn_begin(s, 1, &t)) == TQ_OK) {
        rc = tq_store_each_journal(t, print_journal, &jflag);
        tq_txn_abort(t);
    }
    if (json)
        printf("]}\n");
    tq_store_close(s);
    if (rc != TQ_OK)
        return tq_cli_error(tq_cli_exit_for(rc), "stat failed: %s", tq_strerror(rc));
    return TQ_EXIT_OK;
}
