/* cmd_replay.c - the replay command: a journal into the database. */
#include <errno.h>
#include <malloc.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "tq_cli.h"
#include "tq_export.h"
#include "tq_load.h"
#include "tq_replay.h"
#include "tq_report.h"


/* ---- replay ---- */

static const char help_replay[] =
    "usage: thongquan replay J.tqj --db DIR [--threads N] [--dry-run] [--json]\n"
    "                        [--skip-corrupt] [--batch EVENTS] [--dirty-mib MIB] [--quiet]\n"
    "                        [--html FILE [--as-of TIMESTAMP]]\n"
    "       thongquan replay --fill-gap INTACT.tqj --db DIR [--dry-run] [--json]\n"
    "\n"
    "Apply the journal's events in order and decide every declaration (SPEC 3).\n"
    "Decisions are committed with the journal's position, so an interrupted or killed\n"
    "replay resumes where it stopped when run again, and a journal already replayed\n"
    "changes nothing.  Ctrl-C (SIGINT) or SIGTERM finishes the current batch, commits\n"
    "and stops.  A corrupt frame stops the replay after committing everything before\n"
    "it; best, replay an intact copy.  --skip-corrupt goes past it, records the frame as\n"
    "a gap (see stat) and exits 5; --fill-gap INTACT.tqj later applies exactly the gaps'\n"
    "events from an intact copy and lists the declarations and quota permits whose\n"
    "events straddle a gap, for review.  A damaged database (exit 5, naming the table\n"
    "and key) is never skipped: restore it from its backup.  --dry-run\n"
    "decides without writing anything.  --threads N sets the decompress and lookup\n"
    "workers (default: one fewer than the cores, as deciding takes a core of its own);\n"
    "--threads 0 runs the serial reference path, which decides exactly alike.\n"
    "A batch is committed after --batch EVENTS (default 100000), or sooner when its\n"
    "changed pages, held in memory until the commit, would pass about --dirty-mib MIB\n"
    "(default 128); decisions are the same at any setting.\n"
    "--html FILE writes the result as one self-contained page (no script, nothing\n"
    "fetched): declarations by state, held by reason and per office, their age since\n"
    "registration (to now, or to --as-of TIMESTAMP), and the throughput of each batch.\n"
    "\n"
    "example:\n"
    "  thongquan replay backlog.tqj --db /var/lib/thongquan/db\n";

typedef struct replay_progress {
    tq_progress p;
    tq_report *html;          /* --html: the batches' throughput goes here */
    struct timespec t0;
} replay_progress;

static void on_replay_progress(void *ctx, uint64_t seq, uint64_t bytes, uint64_t total)
{
    replay_progress *rp = ctx;
    snprintf(rp->p.note, sizeof rp->p.note, "through seq %llu", (unsigned long long)seq);
    tq_progress_update(&rp->p, bytes, total, TQ_PROGRESS_BYTES);
    if (rp->html) {
        struct timespec now;
        clock_gettime(CLOCK_MONOTONIC, &now);
        tq_report_batch(rp->html, (double)(now.tv_sec - rp->t0.tv_sec) +
                        (double)(now.tv_nsec - rp->t0.tv_nsec) / 1e9, seq);
    }
}

/* open_html() - --html FILE is created before the replay changes anything; --as-of
 * (may be NULL) is the instant its ages are counted to. */
static int open_html(const char *html, const char *as_of, const char *journal, tq_out *o,
                     tq_report **h)
{
    char title[160];
    tq_diag d;
    memset(&d, 0, sizeof d);
    snprintf(title, sizeof title, "Replay of %s", journal);
    int rc = tq_report_open(html, title, o, h, &d);
    if (rc)
        return tq_cli_error(tq_cli_exit_for(rc), "cannot create %s", d.why);
    if (as_of && tq_report_as_of(*h, as_of, &d) != TQ_OK) {
        tq_report_close(o, *h);
        *h = NULL;
        return tq_cli_usage("replay", "--as-of %s", d.why);
    }
    return 0;
}

/* write_html() - replay --html FILE: the page of the database after the run (a dry run:
 * its counts, the rest as the database was).  @return 0 or the exit status. */
static int write_html(tq_out *o, tq_report *h, tq_store *s, const char *path,
                      const tq_replay_stats *st, const tq_tally *t, int dry_run)
{
    tq_diag d;
    memset(&d, 0, sizeof d);
    char a[32], b[32];
    int rc = tq_report_collect_store(s, h, &d);
    if (rc != TQ_OK) {
        tq_out_rollback(o);
        return tq_cli_error(tq_cli_exit_for(rc), "cannot write the page: %s", d.why);
    }
    if (dry_run && t) {
        memcpy(h->by_state, t->by_state, sizeof h->by_state);
        memcpy(h->held_by_reason, t->held_by_reason, sizeof h->held_by_reason);
        h->declarations = t->declarations;
        snprintf(h->store_note, sizeof h->store_note, "Dry run: nothing was written. The "
                 "offices and ages below are those of the database before it.");
    }
    h->batch_base = st->first_seq ? st->first_seq - 1 : st->journal_last_seq;
    tq_report_fact(h, "Journal", "%s", path);
    tq_report_fact(h, "Database", "%s", tq_store_dir(s));
    char c[32], e[32];
    if (st->events)
        tq_report_fact(h, "Events", "%s read (seq %s to %s), %s changed a declaration",
                       tq_report_group(st->events, a), tq_report_group(st->first_seq, c),
                       tq_report_group(st->last_seq, e), tq_report_group(st->applied, b));
    else
        tq_report_fact(h, "Events", "no new events (%s applied before)",
                       tq_report_group(st->already_applied, a));
    tq_report_fact(h, "Time", "%.3f s, %s events per second", st->seconds,
                   tq_report_group(st->seconds > 0 ? (uint64_t)((double)st->events /
                                                                st->seconds) : 0, a));
    if (st->nskipped)
        tq_report_fact(h, "Skipped", "%u corrupt frame%s, %s events not applied", st->nskipped,
                       st->nskipped == 1 ? "" : "s", tq_report_group(st->skipped_events, a));
    if ((rc = tq_report_commit(o, h, &d)) != TQ_OK)
        return tq_cli_error(tq_cli_exit_for(rc), "cannot write the page: %s", d.why);
    return 0;
}

/* json_events() - "events": the counts by outcome and by kind. */
static void json_events(tq_json *j, const tq_replay_stats *st)
{
    static const char *kinds[] = {"", "DECL", "AMEND", "OFFICER", "MANUAL_CLEAR", "CANCEL"};
    tq_json_key(j, "events");
    tq_json_begin_object(j);
    TQ_CLI_JSON_U64S(j, {"total", st->events}, {"applied", st->applied},
                     {"duplicate_decl", st->duplicate_decl}, {"ignored_final", st->ignored_final},
                     {"unknown_decl", st->unknown_decl}, {"already_applied", st->already_applied});
    tq_json_key(j, "by_kind");
    tq_json_begin_object(j);
    for (int k = 1; k <= 5; k++)
        tq_json_kv_u64(j, kinds[k], st->by_kind[k]);
    tq_json_end_object(j);
    tq_json_end_object(j);
}

static int print_replay_json(const char *path, const tq_replay_stats *st, const tq_tally *t,
                             int dry_run, int status)
{
    tq_json j;
    tq_cli_json_begin_journal(&j, path, "journal_id", st->journal_id);
    tq_json_kv_bool(&j, "dry_run", dry_run);
    tq_json_key(&j, "status");
    tq_json_i64(&j, status);
    if (t) {
        tq_cli_json_tally(&j, t);
    } else {
        tq_json_key(&j, "declarations");
        tq_json_null(&j);
    }
    json_events(&j, st);
    TQ_CLI_JSON_U64S(&j, {"first_seq", st->first_seq}, {"last_seq", st->last_seq},
                     {"journal_last_seq", st->journal_last_seq}, {"frames", st->frames},
                     {"commits", st->commits});
    tq_json_kv_bool(&j, "torn_tail", st->torn_tail);
    tq_json_kv_bool(&j, "interrupted", st->interrupted);
    tq_json_key(&j, "skipped");
    tq_json_begin_array(&j);
    for (uint32_t i = 0; i < st->nskipped && i < TQ_REPLAY_MAX_SKIPPED; i++) {
        tq_json_begin_object(&j);
        tq_json_kv_u64(&j, "frame", st->skipped[i].frame);
        tq_json_kv_u64(&j, "first_seq", st->skipped[i].first);
        tq_json_kv_u64(&j, "last_seq", st->skipped[i].last);
        tq_json_end_object(&j);
    }
    tq_json_end_array(&j);
    TQ_CLI_JSON_U64S(&j, {"skipped_frames", st->nskipped},
                     {"skipped_events", st->skipped_events},
                     {"frame_pool_peak_bytes", st->pool_peak});
    tq_json_key(&j, "seconds");
    tq_json_double(&j, st->seconds, 6);
    tq_json_key(&j, "events_per_second");
    tq_json_double(&j, st->seconds > 0 ? (double)st->events / st->seconds : 0.0, 0);
    return tq_cli_json_end(&j);
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
    if (t) {
        tq_cli_print_tally_text(stdout, t);
        uint64_t sum = 0;
        for (int b = 0; b < 8; b++)
            sum += t->held_by_reason[b];
        if (sum > t->by_state[TQ_STATE_HELD])
            printf("(a held declaration is counted under each of its reasons, so these "
                   "add up to more than HELD)\n");
    }
    if (st->nskipped) {
        printf("skipped corrupt frames: %u (%llu events):", st->nskipped,
               (unsigned long long)st->skipped_events);
        for (uint32_t i = 0; i < st->nskipped && i < TQ_REPLAY_MAX_SKIPPED; i++)
            printf(" seq %llu..%llu", (unsigned long long)st->skipped[i].first,
                   (unsigned long long)st->skipped[i].last);
        putchar('\n');
    }
    if (tq_cli_verbose)          /* -v: how the run went, beyond what it decided */
        printf("run: %llu frames, %llu commits, frame pool peak %llu bytes\n",
               (unsigned long long)st->frames, (unsigned long long)st->commits,
               (unsigned long long)st->pool_peak);
}

/* report_bad_frame() - the journal stopped the replay.  Only a frame whose own header
 * is sound can be skipped; for one that cannot be framed, its header is not believed
 * and nothing is said from it: what is committed comes from the database's mark. */
static void report_bad_frame(const char *path, const tq_replay_stats *st, int rc, int skip)
{
    const tq_frame_info *f = &st->bad_frame;
    unsigned long long mark = (unsigned long long)st->journal_last_seq;
    if (st->bad_header) {
        tq_cli_warn("%s: frame %llu at byte %llu cannot be read as a frame (a damaged "
                    "header, or a frame missing, duplicated or out of order): the frames "
                    "after it cannot be located, so this damage cannot be skipped, not "
                    "even with --skip-corrupt; the database is committed through seq %llu "
                    "of this journal (its mark); to apply the rest, replay an intact copy "
                    "of the journal with the same command",
                    path, (unsigned long long)f->index, (unsigned long long)f->offset, mark);
        return;
    }
    if (rc == TQ_ERR_LIMIT)
        tq_cli_warn("%s: frame %llu claims %u raw bytes, more than one frame may have (the "
                    "journal's frame limit, or the replay's memory cap): the replay stopped "
                    "there; the database is committed through seq %llu (its mark)",
                    path, (unsigned long long)f->index, f->raw_size, mark);
    else
        tq_cli_warn("%s: frame %llu (seq %llu..%llu) is corrupt: the replay "
                    "stopped there; the database is committed through seq %llu (its mark)",
                    path, (unsigned long long)f->index, (unsigned long long)f->first_seq,
                    (unsigned long long)(f->first_seq + f->count - 1), mark);
    if (!skip)
        tq_cli_warn("best: replay an intact copy of the journal (what is committed is "
                    "kept); otherwise --skip-corrupt goes past this frame, leaving its %u "
                    "events unapplied and recorded as a gap, which `replay --fill-gap "
                    "INTACT.tqj` applies later (listing the declarations whose result may "
                    "depend on the order, for review)",
                    f->count);
}

/* report_failure() - anything but the journal: the open batch was aborted. */
static int report_failure(const char *path, const char *db, const tq_replay_stats *st,
                          int rc, const tq_diag *d)
{
    int status = tq_cli_exit_for(rc);
    unsigned long long mark = (unsigned long long)st->journal_last_seq;
    char at[48] = "";
    if (d->seq)
        snprintf(at, sizeof at, " (at seq %llu)", (unsigned long long)d->seq);
    if (rc == TQ_ERR_DBCORRUPT)
        return tq_cli_error(status,
                            "%s: the database is damaged%s: %s; the replay of %s stopped "
                            "and nothing of its open batch was committed: the database "
                            "is at its last commit, through seq %llu of this journal; "
                            "this is not the journal's fault and --skip-corrupt cannot "
                            "help: restore the database from its backup (or repair it), "
                            "then run the same command again",
                            db, at, d->why[0] ? d->why : tq_strerror(rc), path, mark);
    return tq_cli_error(status,
                        "%s: replay failed%s: %s%s%s; nothing of the open batch was "
                        "committed: the database is at its last commit, through seq %llu "
                        "of this journal; run the same command again once fixed",
                        path, at, tq_strerror(rc), d->why[0] ? ": " : "", d->why, mark);
}

/* report_skipped() - --skip-corrupt went past frames: their events are not applied. */
static void report_skipped(const char *path, const char *db, const tq_replay_stats *st,
                           int dry_run)
{
    if (dry_run) {
        tq_cli_warn("%s: would skip %u corrupt frame%s (%llu events; seq ranges in the "
                    "summary)", path, st->nskipped, st->nskipped == 1 ? "" : "s",
                    (unsigned long long)st->skipped_events);
        return;
    }
    tq_cli_warn("%s: skipped %u corrupt frame%s (%llu events, not applied; seq ranges in "
                "the summary); they are recorded as gaps (thongquan stat --db %s): "
                "`thongquan replay --fill-gap INTACT.tqj --db %s` applies them from an "
                "intact copy of the journal",
                path, st->nskipped, st->nskipped == 1 ? "" : "s",
                (unsigned long long)st->skipped_events, db, db);
}

/* ---- replay --fill-gap ---- */

typedef struct review_out {
    FILE *f;
    int json;
    tq_json w;               /* with --json: the "review" object, written onto f */
    char kind;               /* the list open, 0 before the first */
    uint64_t n;
} review_out;

static void on_review(void *ctx, char kind, const char *name)
{
    review_out *ro = ctx;
    static const char *const text[] = {
        "declarations with events both in the gap and after it (their events were "
        "applied out of order):",
        "quota permits used by events in the gap and by events after it (the quota was "
        "taken in another order):",
        "declarations naming those permits:"};
    static const char *const keys[] = {"declarations", "permits", "by_permit"};
    int k = kind == 'D' ? 0 : kind == 'P' ? 1 : 2;
    if (kind != ro->kind) {
        if (ro->json) {
            if (ro->kind)
                tq_json_end_array(&ro->w);
            tq_json_key(&ro->w, keys[k]);
            tq_json_begin_array(&ro->w);
        } else
            fprintf(ro->f, "  %s\n", text[k]);
        ro->kind = kind;
        ro->n = 0;
    }
    ro->n++;
    if (ro->json) {
        tq_json_string(&ro->w, name);
    } else {
        fprintf(ro->f, "    %s\n", name);
    }
}

static int fill_failed(const char *path, const char *db, int rc, const tq_diag *d)
{
    if (rc == TQ_ERR_MISMATCH || rc == TQ_ERR_CORRUPT)
        return tq_cli_error(TQ_EXIT_CORRUPT, "%s: cannot fill the gaps from this copy: %s; "
                            "nothing was applied", path, d->why[0] ? d->why : tq_strerror(rc));
    return tq_cli_error(tq_cli_exit_for(rc), "%s: --fill-gap failed%s%s: %s%s%s; nothing was "
                        "applied", db, rc == TQ_ERR_DBCORRUPT ? " (the database is damaged: "
                        "restore it from its backup)" : "", "", tq_strerror(rc),
                        d->why[0] ? ": " : "", d->why);
}

/* run_fill() - replay --fill-gap COPY --db DIR: the events of the recorded gaps. */
static int run_fill(const char *path, const char *db, int json, int dry_run, int nosync)
{
    tq_store *s;
    int rc;
    if (access(path, R_OK) != 0)
        return tq_cli_error(TQ_EXIT_IO, "cannot read %s: %s", path, strerror(errno));
    if ((rc = tq_cli_open_store("replay", db, 1, nosync, &s)) != 0)
        return rc;
    char *buf = NULL;
    size_t len = 0;
    review_out ro = {.f = open_memstream(&buf, &len), .json = json};
    if (ro.f == NULL) {
        tq_store_close(s);
        return tq_cli_error(TQ_EXIT_SOFTWARE, "out of memory");
    }
    tq_json_init(&ro.w, ro.f);
    if (json)
        tq_json_begin_object(&ro.w);
    tq_fill_opts fo = {.dry_run = dry_run, .review = on_review, .review_ctx = &ro};
    tq_fill_stats st;
    tq_diag d;
    memset(&d, 0, sizeof d);
    rc = tq_replay_fill_gap(s, path, &fo, &st, &d);
    if (json && ro.kind)
        tq_json_end_array(&ro.w);
    if (json)
        tq_json_end_object(&ro.w);
    fclose(ro.f);
    tq_store_close(s);
    if (rc != TQ_OK) {
        free(buf);
        return fill_failed(path, db, rc, &d);
    }
    char id[2 * TQ_JOURNAL_ID_LEN + 1];
    tq_cli_hex_id(st.journal_id, id);
    if (json) {
        tq_json j;
        tq_cli_json_begin_journal(&j, path, "journal_id", st.journal_id);
        tq_json_kv_bool(&j, "dry_run", dry_run);
        TQ_CLI_JSON_U64S(&j, {"gaps", st.gaps}, {"gaps_filled", st.gaps_filled},
                         {"events", st.events}, {"applied", st.applied});
        tq_json_kv_bool(&j, "review_truncated", st.review_truncated);
        tq_json_key(&j, "review");
        if (ro.w.err == TQ_OK && buf)
            tq_json_raw(&j, buf, len);
        else
            tq_json_null(&j);
        free(buf);
        return tq_cli_json_end(&j);
    } else if (tq_cli_quiet) {
        /* -q: only errors */
    } else if (st.gaps == 0) {
        printf("no gap recorded for journal %s in %s: nothing to fill\n", id, db);
    } else {
        printf("%s %llu gap%s of journal %s from %s: %llu events, %llu applied\n",
               dry_run ? "dry run: would fill" : "filled", (unsigned long long)st.gaps_filled,
               st.gaps_filled == 1 ? "" : "s", id, path, (unsigned long long)st.events,
               (unsigned long long)st.applied);
        if (len)
            printf("review: the gap was applied after the events that follow it, so these "
                   "may differ from an uninterrupted replay:\n%s", buf);
        else
            printf("review: nothing (no declaration or quota permit straddles the gap)\n");
        if (st.review_truncated)
            printf("review list incomplete: more entries than it may hold\n");
    }
    free(buf);
    return TQ_EXIT_OK;
}

static int count_gap(void *ctx, const tq_gap *g)
{
    uint64_t *n = ctx;
    (void)g;
    ++*n;
    return 0;
}

/* report_old_gaps() - a rerun that skipped nothing still says that earlier runs left
 * gaps in this journal, so an exit 0 is not taken for a complete journal. */
static void report_old_gaps(tq_store *s, const char *path, const char *db,
                            const uint8_t *id)
{
    tq_txn *t;
    uint64_t n = 0;
    if (tq_txn_begin(s, 1, &t) != TQ_OK)
        return;
    if (tq_store_each_gap(t, id, count_gap, &n) != TQ_OK)
        n = 0;      /* the count is for a hint; the check command names the damage */
    tq_txn_abort(t);
    if (n)
        tq_cli_warn("%s: %llu gap%s left by an earlier --skip-corrupt %s not applied (thongquan "
                    "stat --db %s); `replay --fill-gap INTACT.tqj` applies them",
                    path, (unsigned long long)n, n == 1 ? "" : "s", n == 1 ? "is" : "are", db);
}

/* replay_numbers() - --threads (default: one worker fewer than the cores, at most 64),
 * --batch and --dirty-mib into ro.  @return 0 or TQ_EXIT_USAGE. */
static int replay_numbers(const char *threads, const char *batch, const char *mib,
                          tq_replay_opts *ro)
{
    uint64_t v;
    if (threads) {
        if (tq_cli_u64("replay", "threads", threads, &v))
            return TQ_EXIT_USAGE;
        if (v > 64)
            return tq_cli_usage("replay", "--threads must be 0..64");
        ro->threads = (unsigned)v;
    } else {
        /* The applier needs a core of its own: one worker fewer than the cores (on the
         * 2-core reference machine one worker replays 1m ~8% faster than two). */
        long n = sysconf(_SC_NPROCESSORS_ONLN);
        ro->threads = n > 65 ? 64 : n > 1 ? (unsigned)(n - 1) : 1;
    }
    if (batch) {
        if (tq_cli_u64("replay", "batch", batch, &v) || v == 0)
            return tq_cli_usage("replay", "--batch needs a positive number of events");
        ro->batch_events = v;
    }
    if (mib) {
        if (tq_cli_u64("replay", "dirty-mib", mib, &v) || v == 0 || v > 65536)
            return tq_cli_usage("replay", "--dirty-mib needs a number of MiB, 1..65536");
        ro->batch_bytes = v << 20;
    }
    return 0;
}

/* replay_outcome() - after a run that committed what it could (rc TQ_OK, or a bad
 * frame it stopped at): say what the operator must know (the bad frame, the frames
 * skipped or the gaps left by an earlier run, a torn tail, an interruption).
 * @return the exit status so far. */
static int replay_outcome(tq_store *s, const char *path, const char *db,
                          const tq_replay_stats *st, int rc, const tq_replay_opts *ro)
{
    int status = TQ_EXIT_OK;
    if (rc == TQ_ERR_CORRUPT || rc == TQ_ERR_LIMIT) {
        report_bad_frame(path, st, rc, ro->skip_corrupt);
        status = TQ_EXIT_CORRUPT;
    }
    if (st->nskipped) {
        report_skipped(path, db, st, ro->dry_run);
        status = TQ_EXIT_CORRUPT;
    } else {
        report_old_gaps(s, path, db, st->journal_id);
    }
    if (st->torn_tail)
        tq_cli_warn("%s: torn tail at byte %llu (the writer stopped mid-frame); every "
                    "complete frame was replayed, through seq %llu",
                    path, (unsigned long long)st->torn_offset,
                    (unsigned long long)st->journal_last_seq);
    if (st->interrupted) {
        tq_cli_warn("interrupted: committed through seq %llu; run the same command again "
                    "to resume",
                    (unsigned long long)st->journal_last_seq);
        status = 128 + (tq_cli_signal ? tq_cli_signal : 2);
    }
    return status;
}

/* replay_summaries() - the summary (text or --json) and the --html page of a run that
 * committed; a dry run's tally t was filled by the run itself, a real run's is read
 * back from the database here (ok: the run itself ended well).  Closes the page.
 * @return the exit status: status, or the first failure of these. */
static int replay_summaries(tq_store *s, const char *path, const char *db,
                            const tq_replay_stats *st, int ok, const tq_replay_opts *ro,
                            tq_tally *t, int json, tq_out *hout, tq_report *html, int status)
{
    int trc = ro->dry_run ? TQ_OK : tq_export_tally(s, t);
    const tq_tally *tally = (ro->dry_run ? ok : trc == TQ_OK) ? t : NULL;
    if (trc != TQ_OK) {
        /* What the replay committed stands, but a declaration it did not touch cannot
         * be read back: the database is damaged, and an exit 0 would hide it. */
        status = tq_cli_error(tq_cli_exit_for(trc),
                              "%s: the replay of %s is committed (through seq %llu), but "
                              "the declarations cannot be read back for the summary: %s; "
                              "run `thongquan check --db %s`",
                              db, path, (unsigned long long)st->journal_last_seq,
                              tq_strerror(trc), db);
    }
    if (html) {
        int hs = write_html(hout, html, s, path, st, tally, ro->dry_run);
        status = status ? status : hs;
        tq_report_close(hout, html);
    }
    if (json) {
        int jrc = print_replay_json(path, st, tally, ro->dry_run, status);
        status = status ? status : jrc;
    } else if (!tq_cli_quiet) {
        print_replay_text(path, st, tally, ro->dry_run);
    }
    return status;
}

typedef struct replay_args {
    const char *db, *threads, *dry, *json, *skip, *batch, *dirty_mib, *quiet, *nosync, *fill,
        *html, *as_of;
    tq_replay_opts ro;       /* --threads, --batch and --dirty-mib, by replay_check */
} replay_args;

/* replay_check() - what each mode (the journal, or --fill-gap COPY) takes, and the
 * numbers. */
static int replay_check(tq_cli_cmd *c)
{
    replay_args *a = c->args;
    if (a->fill) {
        if (c->npos != 0 || a->threads || a->skip || a->batch || a->html)
            return tq_cli_usage("replay", "--fill-gap COPY.tqj takes no journal, --threads, "
                                "--skip-corrupt, --batch or --html");
        return 0;
    }
    if (c->npos != 1)
        return tq_cli_usage("replay", "needs J.tqj");
    if (a->as_of && !a->html)
        return tq_cli_usage("replay", "--as-of goes with --html FILE");
    return replay_numbers(a->threads, a->batch, a->dirty_mib, &a->ro);
}

/* replay_journal() - the journal at path into the database.  The database is opened
 * once the journal is readable and the --html file created, so neither failure ever
 * holds it locked.  @return the exit status. */
static int replay_journal(const replay_args *a, const char *path)
{
    const char *db = a->db, *json = a->json, *html = a->html;
    tq_replay_opts ro = a->ro;
    int rc;
    /* Frame buffers of a MiB and more are mapped on their own and given back when freed.
     * glibc otherwise raises its mmap threshold after the first such free, and each
     * worker's arena then keeps the big frames it once held: the frame pool's bound in
     * bytes would not bound the process. */
    mallopt(M_MMAP_THRESHOLD, 1 << 20);
    ro.dry_run = a->dry != NULL;
    tq_tally t;
    memset(&t, 0, sizeof t);
    if (ro.dry_run)
        ro.dry_tally = &t;
    ro.skip_corrupt = a->skip != NULL;
    if (access(path, R_OK) != 0)
        return tq_cli_error(TQ_EXIT_IO, "cannot read %s: %s", path, strerror(errno));
    replay_progress rp = {.html = NULL};
    tq_diag d;
    memset(&d, 0, sizeof d);
    tq_out hout = {.fd = -1};
    if (html && (rc = open_html(html, a->as_of, path, &hout, &rp.html)) != 0)
        return rc;
    tq_store *s;
    if ((rc = tq_cli_open_store("replay", db, 1, a->nosync != NULL, &s)) != 0) {
        tq_report_close(&hout, rp.html);
        return rc;
    }
    tq_cli_catch_signals();
    ro.stop = &tq_cli_stop;
    clock_gettime(CLOCK_MONOTONIC, &rp.t0);
    tq_progress_init(&rp.p, "replay");
    ro.progress = on_replay_progress;
    ro.progress_ctx = &rp;
    tq_replay_stats st;
    memset(&st, 0, sizeof st);
    rc = tq_replay_run(s, path, &ro, &st, &d);
    tq_progress_done(&rp.p);
    if (rc != TQ_OK && rc != TQ_ERR_CORRUPT && rc != TQ_ERR_LIMIT) {
        int status = report_failure(path, db, &st, rc, &d);
        tq_report_close(&hout, rp.html);
        tq_store_close(s);
        return status;
    }
    int status = replay_outcome(s, path, db, &st, rc, &ro);
    status = replay_summaries(s, path, db, &st, rc == TQ_OK, &ro, &t, json != NULL, &hout,
                              rp.html, status);
    tq_store_close(s);
    return status;
}

static int replay_run(tq_cli_cmd *c)
{
    const replay_args *a = c->args;
    if (a->fill)
        return run_fill(a->fill, a->db, a->json != NULL, a->dry != NULL, a->nosync != NULL);
    return replay_journal(a, c->pos[0]);
}

int tq_cmd_replay(int argc, char **argv)
{
    replay_args a = {0};
    tq_opt opts[] = {{"db", 1, &a.db},           {"threads", 1, &a.threads}, {"dry-run", 0, &a.dry},
                     {"json", 0, &a.json},       {"skip-corrupt", 0, &a.skip},
                     {"batch", 1, &a.batch},     {"dirty-mib", 1, &a.dirty_mib},
                     {"quiet", 0, &a.quiet},
                     {"no-sync", 0, &a.nosync},  {"fill-gap", 1, &a.fill},
                     {"html", 1, &a.html},       {"as-of", 1, &a.as_of},
                     {NULL, 0, NULL}};
    tq_cli_cmd c = {.name = "replay", .help = help_replay, .opts = opts, .maxpos = 1,
                    .check = replay_check, .run = replay_run, .args = &a};
    return tq_cli_main(&c, argc, argv);
}
