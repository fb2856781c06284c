/* cmd_replay.c - the replay command: a journal into the database. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "tq_cli.h"
#include "tq_export.h"
#include "tq_load.h"
#include "tq_replay.h"


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
    "  thongquan replay backlog.tqj --db /var/lib/thongquan/db\n";

typedef struct replay_progress {
    tq_progress p;
} replay_progress;

static void on_replay_progress(void *ctx, uint64_t seq, uint64_t bytes, uint64_t total)
{
    replay_progress *rp = ctx;
    snprintf(rp->p.note, sizeof rp->p.note, "through seq %llu", (unsigned long long)seq);
    tq_progress_update(&rp->p, bytes, total, TQ_PROGRESS_BYTES);
}

static void print_replay_json(const char *path, const tq_replay_stats *st, const tq_tally *t,
                              int dry_run, int status)
{
    static const char *kinds[] = {"", "DECL", "AMEND", "OFFICER", "MANUAL_CLEAR", "CANCEL"};
    char id[2 * TQ_JOURNAL_ID_LEN + 1];
    tq_cli_hex_id(st->journal_id, id);
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
