/* cmd_worklist.c - thongquan worklist: one CSV per customs office of the declarations
 * officers must clear, and the tax-paid-held list (engine/tq_worklist.c). */
#include <string.h>
#include <time.h>

#include "tq_cli.h"
#include "tq_list.h"
#include "tq_worklist.h"

static const char help_worklist[] =
    "usage: thongquan worklist --db DIR --out DIR [--as-of T] [--deadline DURATION]\n"
    "                          [--force] [--json]\n"
    "\n"
    "Write the officers' worklists into the folder --out (created when missing):\n"
    "  office-CODE.csv    per customs office, the HELD declarations waiting on a permit\n"
    "                     (a PERMIT_* reason) or on an officer (AWAIT_OFFICER), in decl_no\n"
    "                     order: decl_no,office,kind,declarant,registered_at,age,\n"
    "                     deadline_at,deadline_passed,reasons,permits,permit_problems.\n"
    "                     permit_problems says what is wrong with each permit, evaluated\n"
    "                     alone against the permit rows loaded now:\n"
    "                     GCN-1:expired+hs|Q-1:quota (missing, revoked, expired, holder,\n"
    "                     hs, quota).  office-unknown.csv: declarations stored without an\n"
    "                     office (before store format 3).\n"
    "  tax-paid-held.csv  every HELD declaration whose payments and guarantees cover its\n"
    "                     tax, with its reasons (the header alone when none).\n"
    "The deadline (default 2h, as the instruction on supplementary declarations asks) is\n"
    "counted from the registration: deadline_at = registered_at + DURATION, and\n"
    "deadline_passed is yes when --as-of (default: the clock) is at or past it.  Times are\n"
    "Vietnam time; ages 3d04h05m.  Each file is written to a temporary file and renamed\n"
    "into place.  Worklists already in the folder are never replaced without --force\n"
    "(exit 2); with --force, the office files of an earlier run that this run did not\n"
    "write (nothing waits there any more) are removed.  --json prints the summary (files,\n"
    "rows, past the deadline, tax paid and held) as one JSON object.\n"
    "\n"
    "example:\n"
    "  thongquan worklist --db /var/lib/thongquan/db --out /var/lib/thongquan/worklists/today\n";

static void on_file(void *ctx, const char *path, uint64_t rows)
{
    const int *json = ctx;
    if (!tq_cli_quiet && !*json)
        printf("worklist: %s: %llu row%s\n", path, (unsigned long long)rows, rows == 1 ? "" : "s");
}

static int worklist_status(int rc, const tq_diag *d)
{
    const char *why = d->why[0] ? d->why : tq_strerror(rc);
    if (rc == TQ_ERR_EXISTS)
        return tq_cli_error(TQ_EXIT_USAGE, "%s", why);
    if (rc == TQ_ERR_VERSION)
        return tq_cli_error(TQ_EXIT_CORRUPT, "the database is of an older format without the "
                            "office index; the first command that writes to it (load, "
                            "replay, reconcile) upgrades it in place");
    if (rc == TQ_ERR_PERM)
        return tq_cli_error(TQ_EXIT_PERM, "permission denied: %s", why);
    return tq_cli_error(tq_cli_exit_for(rc), "worklist failed: %s", why);
}

static int worklist_json(const char *out, const tq_worklist_opts *o,
                         const tq_worklist_stats *st)
{
    tq_json j;
    tq_cli_json_begin(&j, stdout);
    tq_json_kv_string(&j, "command", "worklist");
    tq_json_kv_string(&j, "out", out);
    TQ_CLI_JSON_U64S(&j, {"deadline_seconds", (uint64_t)o->deadline}, {"files", st->files},
                     {"waiting", st->rows}, {"past_deadline", st->past_deadline},
                     {"tax_paid_held", st->tax_paid_held}, {"stale_removed", st->removed});
    return tq_cli_json_end(&j);
}

typedef struct worklist_args {
    const char *db, *out, *as_of, *deadline, *force, *json;
    int as_json;             /* for on_file */
    tq_worklist_opts o;
} worklist_args;

/* worklist_check() - --out, --as-of and --deadline into a->o.  @return 0 or the exit
 * status (said). */
static int worklist_check(tq_cli_cmd *c)
{
    worklist_args *a = c->args;
    if (a->out == NULL || a->out[0] == '\0')
        return tq_cli_usage("worklist", "needs --out DIR");
    a->as_json = a->json != NULL;
    a->o = (tq_worklist_opts){.deadline = 7200, .force = a->force != NULL, .on_file = on_file,
                              .ctx = &a->as_json};
    a->o.as_of.sec = (int64_t)time(NULL);
    tq_diag why = {0};
    if (a->as_of && tq_list_parse_instant(a->as_of, &a->o.as_of, &why) != TQ_OK)
        return tq_cli_usage("worklist", "--as-of: '%s' is neither a timestamp with its "
                            "offset (2024-08-07T08:00:00+07:00) nor a date (2024-08-07): %s",
                            a->as_of, why.why);
    if (a->deadline && tq_list_parse_duration(a->deadline, &a->o.deadline) != TQ_OK)
        return tq_cli_usage("worklist", "--deadline: '%s' is not a duration (a whole number "
                            "and s, m, h or d: 90m, 2h, 3d)", a->deadline);
    return 0;
}

static int worklist_run(tq_cli_cmd *c)
{
    const worklist_args *a = c->args;
    tq_worklist_stats st;
    tq_diag d;
    memset(&d, 0, sizeof d);
    int rc = tq_worklist_write(c->s, a->out, &a->o, &st, &d);
    if (rc != TQ_OK)
        return worklist_status(rc, &d);
    if (a->json)
        return worklist_json(a->out, &a->o, &st);
    if (!tq_cli_quiet)
        printf("worklist: %llu file%s in %s; %llu declaration%s waiting, %llu past the "
               "deadline; %llu tax paid and still held%s\n",
               (unsigned long long)st.files, st.files == 1 ? "" : "s", a->out,
               (unsigned long long)st.rows, st.rows == 1 ? "" : "s",
               (unsigned long long)st.past_deadline, (unsigned long long)st.tax_paid_held,
               st.removed ? "; stale office files removed" : "");
    return TQ_EXIT_OK;
}

int tq_cmd_worklist(int argc, char **argv)
{
    worklist_args a = {0};
    tq_opt opts[] = {{"db", 1, &a.db},        {"out", 1, &a.out},   {"as-of", 1, &a.as_of},
                     {"deadline", 1, &a.deadline}, {"force", 0, &a.force},
                     {"json", 0, &a.json},    {NULL, 0, NULL}};
    tq_cli_cmd c = {.name = "worklist", .help = help_worklist, .opts = opts,
                    .store = TQ_CLI_READ, .db = &a.db, .check = worklist_check,
                    .run = worklist_run, .args = &a};
    return tq_cli_main(&c, argc, argv);
}
