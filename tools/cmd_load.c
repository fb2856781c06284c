/* cmd_load.c - the load command: payment and permit files into the database. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "tq_cli.h"
#include "tq_export.h"
#include "tq_load.h"
#include "tq_replay.h"

#define MAX_REPORTED 50

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
    "  thongquan load payments treasury-2024-08-06.csv --db /var/lib/thongquan/db\n";

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
