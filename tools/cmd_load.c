/* cmd_load.c - the load command: payment and permit files into the database. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <sys/stat.h>

#include "tq_cli.h"
#include "tq_load.h"
#include "tq_out.h"

/* ---- load ---- */

static const char help_load[] =
    "usage: thongquan load payments|permits FILE.csv --db DIR\n"
    "                      [--skip-invalid REJECTS.csv] [--json] [--quiet]\n"
    "\n"
    "Check every row strictly (SPEC 2.2, 2.3) and load the file in one transaction: a\n"
    "file with any bad row changes nothing and exits 1, listing each bad row, unless\n"
    "--skip-invalid names a file for the bad rows (the rest is then loaded): it starts\n"
    "with the header line and holds each bad row whole, so once fixed it loads as it\n"
    "is; it is written and synced before the database commits, and if it cannot be\n"
    "written nothing is loaded.  Payments:\n"
    "a row already known counts once; the same receipt_no with other content is a\n"
    "conflict.  Permits: a known permit_no is replaced, its quantity used is kept.\n"
    "\n"
    "example:\n"
    "  thongquan load payments treasury-2024-08-06.csv --db /var/lib/thongquan/db\n";

/* open_input() - the file to load, checked before anything else: a missing file is an
 * input error (1), a permission problem 8, and anything but a regular file is refused
 * (a load reads its file again when the database has to grow).  @return 0 or the exit
 * status, after saying why. */
static int open_input(const char *path, FILE **in)
{
    *in = fopen(path, "rb");
    if (*in == NULL) {
        int e = errno;
        int st = e == EACCES || e == EPERM ? TQ_EXIT_PERM
                 : e == ENOENT || e == ENOTDIR || e == EISDIR ? TQ_EXIT_INPUT : TQ_EXIT_IO;
        return tq_cli_error(st, "cannot read %s: %s", path, strerror(e));
    }
    struct stat sb;
    if (fstat(fileno(*in), &sb) != 0 || !S_ISREG(sb.st_mode)) {
        fclose(*in);
        return tq_cli_error(TQ_EXIT_INPUT, "%s: not a regular file (a load may read its "
                            "file twice: save it to a file first)", path);
    }
    return 0;
}

/* say_failure() - why nothing was loaded; @return the exit status. */
static int say_failure(const char *file, int rc, const tq_load_stats *st, const tq_diag *d)
{
    if (rc == TQ_ERR_INPUT)
        return tq_cli_error(TQ_EXIT_INPUT, "%s: %llu bad row%s; nothing was loaded", file,
                            (unsigned long long)st->rejected, st->rejected == 1 ? "" : "s");
    if (rc == TQ_ERR_INTERRUPTED)
        return tq_cli_error(tq_cli_exit_for(rc),
                            "%s: interrupted; nothing was loaded (run it again)", file);
    return tq_cli_error(tq_cli_exit_for(rc), "%s: nothing was loaded: %s", file,
                        d->why[0] ? d->why : tq_strerror(rc));
}

/* print_result() - the summary line, or with --json one JSON object.
 * @return the exit status of writing it. */
static int print_result(const char *file, const char *what, tq_load_kind kind,
                         const tq_load_stats *sp, double el, int json)
{
    tq_load_stats st = *sp;
    if (json) {
        tq_json j;
        tq_cli_json_begin(&j, stdout);
        tq_json_kv_string(&j, "file", file);
        tq_json_kv_string(&j, "kind", what);
        TQ_CLI_JSON_U64S(&j, {"rows", st.rows}, {"new", st.added},
                         {"duplicates", st.duplicates}, {"replaced", st.replaced},
                         {"rejected", st.rejected}, {"for_unknown_declarations", st.unknown_decl});
        tq_json_key(&j, "seconds");
        tq_json_double(&j, el, 3);
        return tq_cli_json_end(&j);
    } else if (!tq_cli_quiet) {
        if (kind == TQ_LOAD_PAYMENTS)
            printf("loaded %s: %llu rows, %llu new, %llu already known, %llu rejected, "
                   "%llu for declarations not yet known (expected before the replay: a "
                   "payment may arrive before its declaration)\n",
                   file, (unsigned long long)st.rows, (unsigned long long)st.added,
                   (unsigned long long)st.duplicates, (unsigned long long)st.rejected,
                   (unsigned long long)st.unknown_decl);
        else
            printf("loaded %s: %llu rows, %llu new, %llu replaced, %llu rejected\n", file,
                   (unsigned long long)st.rows, (unsigned long long)st.added,
                   (unsigned long long)st.replaced, (unsigned long long)st.rejected);
        if (tq_cli_verbose)
            printf("load took %.3f s\n", el);
    }
    return TQ_EXIT_OK;
}

typedef struct load_args {
    const char *db, *skip, *quiet, *json, *nosync;
    tq_load_kind kind;       /* payments or permits */
} load_args;

static int load_check(tq_cli_cmd *c)
{
    load_args *a = c->args;
    if (strcmp(c->pos[0], "payments") == 0)
        a->kind = TQ_LOAD_PAYMENTS;
    else if (strcmp(c->pos[0], "permits") == 0)
        a->kind = TQ_LOAD_PERMITS;
    else
        return tq_cli_usage("load", "what to load must be payments or permits, got '%s'",
                            c->pos[0]);
    return 0;
}

/* load_run() - the database is opened here, once the input is: a FIFO with no writer,
 * or a file that is not there, never holds the database locked. */
static int load_run(tq_cli_cmd *c)
{
    const load_args *a = c->args;
    const char *db = a->db, *skip = a->skip, *const *pos = c->pos;
    int rc;
    FILE *in = NULL;
    if ((rc = open_input(pos[1], &in)) != 0)
        return rc;
    tq_cli_catch_signals();
    tq_out rej;
    memset(&rej, 0, sizeof rej);
    tq_diag d;
    memset(&d, 0, sizeof d);
    if (skip && (rc = tq_out_open(&rej, skip, 0, &d)) != TQ_OK) {
        fclose(in);
        return tq_cli_error(tq_cli_exit_for(rc), "cannot create the reject file %s; "
                            "nothing was loaded", d.why);
    }
    tq_store *s;
    if ((rc = tq_cli_open_store("load", db, 1, a->nosync != NULL, &s)) != 0) {
        tq_out_rollback(&rej);
        fclose(in);
        return rc;
    }
    tq_cli_diags lr;
    tq_cli_diags_init(&lr, pos[1]);
    tq_progress prog;
    tq_progress_init(&prog, "load");
    tq_load_opts lo = {.kind = a->kind, .reject_out = skip ? &rej : NULL, .in = in,
                       .on_error = tq_cli_diags_say, .ctx = &lr, .stop = &tq_cli_stop,
                       .progress = tq_progress_step, .progress_ctx = &prog};
    tq_load_stats st;
    memset(&st, 0, sizeof st);
    double t0 = tq_cli_now();
    rc = tq_load_file(s, pos[1], &lo, &st, &d);
    tq_progress_done(&prog);
    double el = tq_cli_now() - t0;
    tq_store_close(s);
    fclose(in);
    /* The rejects were synced before the commit; they take their name only now, so a
     * failed load leaves the old reject file (if any) as it was. */
    if (skip && rc == TQ_OK) {
        tq_diag od;
        memset(&od, 0, sizeof od);
        if ((rc = tq_out_commit(&rej, &od)) != TQ_OK)
            return tq_cli_error(tq_cli_exit_for(rc), "%s: loaded, but the reject file could "
                                "not be put in place: %s", pos[1], od.why);
    }
    tq_out_rollback(&rej);
    tq_cli_diags_more(&lr, "rows");
    if (rc != TQ_OK)
        return say_failure(pos[1], rc, &st, &d);
    if ((rc = print_result(pos[1], pos[0], lo.kind, &st, el, a->json != NULL)) != 0)
        return rc;
    return st.rejected ? TQ_EXIT_INPUT : TQ_EXIT_OK;
}

int tq_cmd_load(int argc, char **argv)
{
    load_args a = {0};
    tq_opt opts[] = {{"db", 1, &a.db},     {"skip-invalid", 1, &a.skip}, {"quiet", 0, &a.quiet},
                     {"json", 0, &a.json}, {"no-sync", 0, &a.nosync},    {NULL, 0, NULL}};
    tq_cli_cmd c = {.name = "load", .help = help_load, .opts = opts, .minpos = 2, .maxpos = 2,
                    .needs = "needs payments|permits and FILE.csv", .check = load_check,
                    .run = load_run, .args = &a};
    return tq_cli_main(&c, argc, argv);
}
