/* cmd_upgrade.c - the upgrade command: bring a database to the current store format
 * (engine/STORE.md §3.1), optionally filling office, kind and line values from the
 * journals the declarations came from. */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "tq_cli.h"


static const char help_upgrade[] =
    "usage: thongquan upgrade --db DIR [--journal J.tqj]... [--json]\n"
    "\n"
    "Upgrade the database in DIR to the current store format, in place.  Any writer\n"
    "(load, replay, reconcile, nightly) does the same the first time it opens an older\n"
    "database; this command does it on its own, says what it did, and can fill in what\n"
    "an older format did not keep.  Declarations are rewritten in batches, each\n"
    "committed: a killed upgrade goes on where it stopped when run again (the held\n"
    "table and the era indexes are built again from the start).  Version 3\n"
    "adds the indexes by office, declarant and permit, and the change feed, seeded\n"
    "with one change per declaration already stored.  Version 4 adds the held table,\n"
    "each held declaration with its payments under its office, so an office's\n"
    "worklist is one range read.  Version 5 keys the declarant and permit indexes\n"
    "by era (the decl_no's first seven digits), so a replay of new declarations\n"
    "writes a few pages of them, not all.  A declaration stored by an older\n"
    "version has no office, kind or line values: --journal (repeatable) reads those\n"
    "journals and fills them in from each declaration's DECL and AMEND events.  On a\n"
    "database already current without --journal it says there is nothing to do.\n"
    "--json prints what it did as one JSON object.\n"
    "\n"
    "example:\n"
    "  thongquan upgrade --db /var/lib/thongquan/db --journal /srv/inbox/backlog.tqj\n";

/* Every journal named must be readable before the database is touched. */
static int check_journals(const char *const *journals)
{
    for (int i = 0; journals[i] != NULL; i++)
        if (access(journals[i], R_OK) != 0)
            return tq_cli_error(TQ_EXIT_INPUT, "%s: cannot read the journal: %s",
                                journals[i], strerror(errno));
    return 0;
}

/* Whether dir holds a database at all (a writer would create one). */
static int check_exists(const char *db)
{
    tq_store *s;
    int rc = tq_cli_open_store("upgrade", db, 0, 0, &s);
    if (rc == 0)
        tq_store_close(s);
    return rc;
}

static int say_json(const char *db, const tq_store_upgrade_stats *st, size_t njournals)
{
    tq_json j;
    tq_cli_json_begin(&j, stdout);
    tq_json_kv_string(&j, "command", "upgrade");
    tq_json_kv_string(&j, "database", db);
    tq_json_kv_u64(&j, "from_version", st->from_version);
    tq_json_kv_u64(&j, "version", TQ_STORE_VERSION);
    tq_json_kv_u64(&j, "declarations_rewritten", st->decls);
    tq_json_kv_u64(&j, "journals", njournals);
    tq_json_kv_u64(&j, "backfilled", st->backfilled);
    return tq_cli_json_end(&j);
}

static void say(const char *db, const tq_store_upgrade_stats *st, size_t njournals)
{
    char n1[32], n2[32];
    if (tq_cli_quiet)
        return;
    static const char era[] = "the declarant and permit indexes rebuilt by era";
    if (st->from_version == 4)
        printf("%s: upgraded from store format 4 to %d: %s\n", db, TQ_STORE_VERSION, era);
    else if (st->from_version == 3)
        printf("%s: upgraded from store format 3 to %d: the held table built, and %s\n",
               db, TQ_STORE_VERSION, era);
    else if (st->from_version < TQ_STORE_VERSION)
        printf("%s: upgraded from store format %u to %d: %s declarations rewritten, "
               "each with one change in the feed, the held table built, and %s\n",
               db, st->from_version, TQ_STORE_VERSION, tq_cli_group(st->decls, n1), era);
    else if (njournals == 0)
        printf("%s: already at store format %d: nothing to do\n", db, TQ_STORE_VERSION);
    if (njournals > 0)
        printf("%s: %s declarations given office, kind and line values from %zu journal%s\n",
               db, tq_cli_group(st->backfilled, n2), njournals, njournals == 1 ? "" : "s");
}

typedef struct upgrade_args {
    const char *db, *json;
    const char *journals[TQ_OPT_LIST_MAX + 1];
    size_t nj;
} upgrade_args;

/* upgrade_check() - the journals readable and a database in DIR, before the writer's
 * open (which would create one) upgrades it. */
static int upgrade_check(tq_cli_cmd *c)
{
    upgrade_args *a = c->args;
    while (a->journals[a->nj] != NULL)
        a->nj++;
    int rc = check_journals(a->journals);
    return rc ? rc : check_exists(a->db);
}

static int upgrade_run(tq_cli_cmd *c)
{
    const upgrade_args *a = c->args;
    tq_store_upgrade_stats st;
    tq_diag d;
    memset(&d, 0, sizeof d);
    int err = tq_store_upgrade(c->s, a->journals, a->nj, &st, &d);
    if (err != TQ_OK)
        return tq_cli_error(tq_cli_exit_for(err), "%s: upgrade failed: %s%s%s", a->db,
                            tq_strerror(err), d.why[0] ? ": " : "", d.why);
    if (a->json)
        return say_json(a->db, &st, a->nj);
    say(a->db, &st, a->nj);
    return TQ_EXIT_OK;
}

int tq_cmd_upgrade(int argc, char **argv)
{
    upgrade_args a = {0};
    tq_opt opts[] = {{"db", 1, &a.db},
                     {"journal", TQ_OPT_LIST, a.journals},
                     {"json", 0, &a.json},
                     {NULL, 0, NULL}};
    /* the writer's open upgrades; a failure there is said already */
    tq_cli_cmd c = {.name = "upgrade", .help = help_upgrade, .opts = opts,
                    .store = TQ_CLI_WRITE, .db = &a.db, .db_first = 1,
                    .check = upgrade_check, .run = upgrade_run, .args = &a};
    return tq_cli_main(&c, argc, argv);
}
