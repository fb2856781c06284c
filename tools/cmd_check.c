/* cmd_check.c - the check and backup commands: is a database sound, and a safe copy. */
#include <stdlib.h>
#include <string.h>

#include "tq_cli.h"
#include "tq_lmdb_check.h"
#include "tq_store_check.h"

/* ---- check ---- */

static const char help_check[] =
    "usage: thongquan check --db DIR [--json] [--quiet] [--max-problems N]\n"
    "\n"
    "Check the whole database and change nothing, like SQLite's PRAGMA integrity_check:\n"
    "  1. DIR/data.mdb's own structure: both meta pages, every page of every tree\n"
    "     (read, never mapped, so a damaged file cannot crash the check);\n"
    "  2. every key and value of every table;\n"
    "  3. what must hold between them: each cover equals the sum of its receipts; no\n"
    "     permit's use exceeds what cleared declarations put on it; declaration states\n"
    "     agree with their reasons; journal marks and skipped gaps are consistent.\n"
    "Every problem is listed (table, key, what), up to --max-problems (default 100).\n"
    "Safe while a writer runs: it reads one snapshot.  --quiet prints nothing when the\n"
    "database is sound.  --json prints one JSON object.\n"
    "\n"
    "exit status: 0 sound; 5 damaged (restore the last backup); 1 no database in DIR;\n"
    "3 a writer kept changing the file under the check (run it again);\n"
    "8 permission denied; 4 I/O error.\n"
    "\n"
    "example:\n"
    "  thongquan check --db /var/lib/thongquan/db || echo 'restore from backup'\n";

typedef struct check_out {
    int json, nprinted;
    tq_json j;                  /* with --json */
    char first[400];            /* the first problem, for the closing message */
} check_out;

static void print_problem(void *ctx, const tq_check_problem *p)
{
    check_out *o = ctx;
    if (o->nprinted == 0) {
        if (snprintf(o->first, sizeof o->first, "%s%s%s%s: %s", p->table,
                     p->key[0] ? " '" : "", p->key, p->key[0] ? "'" : "", p->what) < 0)
            o->first[0] = '\0';
    }
    if (o->json) {
        tq_json_begin_object(&o->j);
        tq_json_kv_string(&o->j, "table", p->table);
        tq_json_kv_string(&o->j, "key", p->key);
        tq_json_kv_string(&o->j, "what", p->what);
        tq_json_end_object(&o->j);
    } else if (p->key[0]) {
        printf("problem: %s '%s': %s\n", p->table, p->key, p->what);
    } else {
        printf("problem: %s: %s\n", p->table, p->what);
    }
    o->nprinted++;
}

static int print_check_json_tail(tq_json *j, const char *db, int rc,
                                 const tq_store_check_report *r)
{
    tq_json_end_array(j);
    tq_json_kv_string(j, "database", db);
    tq_json_kv_bool(j, "ok", rc == TQ_OK);
    tq_json_kv_u64(j, "problem_count", r->problems);
    tq_json_key(j, "steps");
    tq_json_i64(j, r->steps);
    tq_json_key(j, "format");
    tq_json_i64(j, r->format);
    tq_json_key(j, "file");
    tq_json_begin_object(j);
    TQ_CLI_JSON_U64S(j, {"bytes", r->file.file_size}, {"page_size", r->file.page_size},
                     {"txnid", r->file.txnid}, {"last_page", r->file.last_pg},
                     {"pages_visited", r->file.pages_visited});
    tq_json_end_object(j);
    TQ_CLI_JSON_U64S(j, {"records", r->records}, {"declarations", r->decls},
                     {"receipts", r->receipts}, {"permits", r->permits},
                     {"journals", r->journals}, {"gaps", r->gaps}, {"changes", r->changes},
                     {"passes", r->passes});
    return tq_cli_json_end(j);
}

static void print_check_text(const char *db, const tq_store_check_report *r)
{
    char a[32], b[32], c[32];
    printf("ok: %s: %s bytes, %s pages walked; %s records, %llu declarations, "
           "%llu receipts, %llu permits, %llu journals, %llu changes checked\n", db,
           tq_cli_group(r->file.file_size, a), tq_cli_group(r->file.pages_visited, b),
           tq_cli_group(r->records, c), (unsigned long long)r->decls,
           (unsigned long long)r->receipts, (unsigned long long)r->permits,
           (unsigned long long)r->journals, (unsigned long long)r->changes);
}

typedef struct check_args {
    const char *db, *json, *quiet, *maxp;
    tq_store_check_opts co;
} check_args;

/* check_check() - --db (check opens no store: tq_store_check reads the file) and
 * --max-problems.  @return 0 or the exit status (said). */
static int check_check(tq_cli_cmd *c)
{
    check_args *a = c->args;
    if (a->db == NULL)
        return tq_cli_usage("check", "--db DIR is required");
    if (a->maxp != NULL)
        return tq_cli_u64("check", "--max-problems", a->maxp, &a->co.max_problems);
    return 0;
}

static int check_run(tq_cli_cmd *c)
{
    const check_args *a = c->args;
    const char *db = a->db, *quiet = a->quiet;
    tq_store_check_report r;
    check_out o = { 0 };
    tq_diag d;
    int rc;
    memset(&d, 0, sizeof d);
    o.json = a->json != NULL;
    if (o.json) {
        tq_cli_json_begin(&o.j, stdout);
        tq_json_key(&o.j, "problems");
        tq_json_begin_array(&o.j);
    }
    rc = tq_store_check(db, &a->co, print_problem, &o, &r, &d);
    int jrc = o.json ? print_check_json_tail(&o.j, db, rc, &r) : 0;
    if (!o.json && rc == TQ_OK && !quiet && !tq_cli_quiet)
        print_check_text(db, &r);
    fflush(stdout);
    if (rc == TQ_OK)
        return jrc;
    if (rc == TQ_ERR_DBCORRUPT)
        return tq_cli_error(TQ_EXIT_CORRUPT, "%s: the database is damaged: %llu problem%s, "
                            "first: %s; restore the last backup (thongquan backup)", db,
                            (unsigned long long)r.problems, r.problems == 1 ? "" : "s",
                            o.first[0] ? o.first : d.why);
    if (rc == TQ_ERR_BUSY)
        return tq_cli_error(TQ_EXIT_BUSY, "%s: a writer kept changing the file while it was "
                            "checked; nothing is known: run the check again", db);
    if (rc == TQ_ERR_NOTFOUND)
        return tq_cli_error(TQ_EXIT_INPUT, "%s: no database here (%s)", db,
                            d.why[0] ? d.why : tq_strerror(rc));
    return tq_cli_error(tq_cli_exit_for(rc), "%s: cannot check the database: %s%s%s", db,
                        tq_strerror(rc), d.why[0] ? ": " : "", d.why);
}

int tq_cmd_check(int argc, char **argv)
{
    check_args a = {0};
    tq_opt opts[] = {{"db", 1, &a.db}, {"json", 0, &a.json}, {"quiet", 0, &a.quiet},
                     {"max-problems", 1, &a.maxp}, {NULL, 0, NULL}};
    tq_cli_cmd c = {.name = "check", .help = help_check, .opts = opts, .check = check_check,
                    .run = check_run, .args = &a};
    return tq_cli_main(&c, argc, argv);
}

/* ---- backup ---- */

static const char help_backup[] =
    "usage: thongquan backup --db DIR OUT [--json]\n"
    "\n"
    "Copy the database in DIR to the new directory OUT: one consistent snapshot, taken\n"
    "while writers go on, compacted (free pages left out) and synced to disk.  OUT must\n"
    "not exist, or be an empty directory; it is itself a database directory, usable as\n"
    "--db.  The copy's file structure is checked before the command succeeds.  Take one\n"
    "before every replay; to restore, stop the writers and move OUT into DIR's place.\n"
    "\n"
    "exit status: 0 copied; 2 OUT exists and is not empty; 5 the database is damaged;\n"
    "4 I/O error or full disk (nothing is left in OUT); 8 permission denied.\n"
    "\n"
    "example:\n"
    "  thongquan backup --db /var/lib/thongquan/db /backup/thongquan-$(date +%F)\n";

/* check_data_file() - tq_lmdb_check_file() on dir/data.mdb. */
static int check_data_file(const char *dir, unsigned flags, tq_lmdb_check_stats *st,
                           tq_diag *d)
{
    size_t n = strlen(dir) + sizeof "/data.mdb";
    char *path = malloc(n);
    int rc;
    memset(d, 0, sizeof *d);
    if (path == NULL)
        return TQ_ERR_NOMEM;
    snprintf(path, n, "%s/data.mdb", dir);
    rc = tq_lmdb_check_file(path, flags, 0, NULL, NULL, st, d);
    free(path);
    return rc;
}

/* backup_verify() - the copy must be a sound file before it is trusted. */
static int backup_verify(const char *db, const char *out, int json)
{
    tq_lmdb_check_stats st;
    tq_diag d;
    int rc = check_data_file(out, TQ_LMDB_CHECK_TREES, &st, &d);
    if (rc != TQ_OK)
        return tq_cli_error(tq_cli_exit_for(rc), "backup: the copy in %s does not check "
                            "out: %s", out, d.why[0] ? d.why : tq_strerror(rc));
    if (json) {
        tq_json j;
        tq_cli_json_begin(&j, stdout);
        tq_json_kv_string(&j, "database", db);
        tq_json_kv_string(&j, "backup", out);
        tq_json_kv_u64(&j, "bytes", st.file_size);
        tq_json_kv_u64(&j, "txnid", st.txnid);
        return tq_cli_json_end(&j);
    }
    if (!tq_cli_quiet) {
        char b[32];
        printf("backed up to %s: %s bytes, txnid %llu\n", out, tq_cli_group(st.file_size, b),
               (unsigned long long)st.txnid);
    }
    return TQ_EXIT_OK;
}

/* backup_source_ok() - never copy damage silently: a flipped txnid, say, would make
 * LMDB copy the previous commit as if it were the last.  The meta pages cost nothing;
 * the copy's own walk (backup_verify) reads every page the snapshot reaches. */
static int backup_source_ok(const char *db)
{
    tq_diag d;
    int rc = check_data_file(db, TQ_LMDB_CHECK_META, NULL, &d);
    if (rc == TQ_OK || rc == TQ_ERR_NOTFOUND)   /* missing: the open says it better */
        return 0;
    return tq_cli_error(tq_cli_exit_for(rc), "backup: %s: the database is damaged, nothing "
                        "copied: %s", db, d.why[0] ? d.why : tq_strerror(rc));
}

typedef struct backup_args {
    const char *db, *quiet, *json;
} backup_args;

static int backup_check(tq_cli_cmd *c)
{
    const backup_args *a = c->args;
    return backup_source_ok(a->db);
}

static int backup_run(tq_cli_cmd *c)
{
    const backup_args *a = c->args;
    const char *db = a->db, *out = c->pos[0];
    tq_diag d;
    memset(&d, 0, sizeof d);
    int rc = tq_store_backup(c->s, out, &d);
    if (rc != TQ_OK)
        return tq_cli_error(tq_cli_exit_for(rc), "backup of %s to %s failed: %s", db, out,
                            d.why[0] ? d.why : tq_strerror(rc));
    return backup_verify(db, out, a->json != NULL);
}

int tq_cmd_backup(int argc, char **argv)
{
    backup_args a = {0};
    tq_opt opts[] = {{"db", 1, &a.db}, {"quiet", 0, &a.quiet}, {"json", 0, &a.json},
                     {NULL, 0, NULL}};
    /* --db before the source check, which reads DIR/data.mdb */
    tq_cli_cmd c = {.name = "backup", .help = help_backup, .opts = opts, .minpos = 1,
                    .maxpos = 1,
                    .needs = "give the directory to copy into: backup --db DIR OUT",
                    .store = TQ_CLI_READ, .db = &a.db, .db_first = 1, .check = backup_check,
                    .run = backup_run, .args = &a};
    return tq_cli_main(&c, argc, argv);
}
