/* test_replay_dbfault.c - a damaged database stops the replay without committing any
 * part of a batch, and is never taken for a damaged journal (SPEC 6: decisions and the
 * mark move together).
 *
 * Twenty declarations are replayed from one journal (J1); a second journal (J2) amends
 * them all, in small frames, in one commit batch.  Before J2 is replayed, the stored
 * value of one declaration (or of one cover) is damaged in place through LMDB itself.
 * The replay of J2 must fail with TQ_ERR_DBCORRUPT naming the database, leave J2's mark
 * absent and every declaration as it was, skip nothing even with --skip-corrupt; after
 * the saved bytes are put back, a rerun must end exactly where an uninterrupted replay
 * of J1 then J2 ends (each AMEND counted once: version 1).  Serial path and pipeline at
 * 1 and 2 threads.
 */
#include <criterion/criterion.h>
#include <lmdb.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "tq_export.h"
#include "tq_journal.h"
#include "tq_load.h"
#include "tq_ndjson.h"
#include "tq_replay.h"

#define NDECL 20
#define DAMAGED 15   /* the declaration whose value is damaged */

static char work[64];

static void decl_no(int i, char out[13])
{
    snprintf(out, 13, "1000000000%02d", i);
}

static void add_event(tq_journal_writer *w, const char *json)
{
    static tq_event ev;
    tq_diag d;
    cr_assert_eq(tq_ndjson_parse_event(json, strlen(json), tq_journal_next_seq(w), &ev, &d),
                 TQ_OK, "%s: %s", d.field, d.why);
    cr_assert_eq(tq_journal_add(w, &ev), TQ_OK);
}

/* make_journals() - J1: the declarations (channel 2, so HELD and amendable); J2: one
 * AMEND each, a few per frame. */
static void make_journals(void)
{
    char path[128], no[13], json[512];
    tq_journal_write_opts wo = {.frame_bytes = 64};
    tq_journal_writer *w;
    snprintf(path, sizeof path, "%s/j1.tqj", work);
    cr_assert_eq(tq_journal_create(path, &wo, &w), TQ_OK);
    for (int i = 1; i <= NDECL; i++) {
        decl_no(i, no);
        snprintf(json, sizeof json,
                 "{\"ev\":\"DECL\",\"decl_no\":\"%s\",\"kind\":\"A11\",\"office\":\"01B1\","
                 "\"declarant\":\"0101234567\",\"registered_at\":\"2024-08-06T09:15:00+07:00\","
                 "\"channel\":2,\"tax_due\":100,\"lines\":[{\"hs\":\"85171300\",\"qty\":1,"
                 "\"value\":5}]}", no);
        add_event(w, json);
    }
    cr_assert_eq(tq_journal_finish(w), TQ_OK);
    snprintf(path, sizeof path, "%s/j2.tqj", work);
    cr_assert_eq(tq_journal_create(path, &wo, &w), TQ_OK);
    for (int i = 1; i <= NDECL; i++) {
        decl_no(i, no);
        snprintf(json, sizeof json, "{\"ev\":\"AMEND\",\"decl_no\":\"%s\",\"tax_due\":%d}", no,
                 50 + i);
        add_event(w, json);
    }
    cr_assert_eq(tq_journal_finish(w), TQ_OK);
    snprintf(path, sizeof path, "%s/pay.csv", work);
    FILE *f = fopen(path, "w");
    cr_assert_not_null(f);
    fputs("decl_no,receipt_no,kind,amount,valid_until\n", f);
    for (int i = 1; i <= NDECL; i++) {
        decl_no(i, no);
        fprintf(f, "%s,KB-%d,PAY,%d,\n", no, i, 60);
    }
    fclose(f);
}

static tq_store *open_db(const char *db)
{
    tq_store *s;
    cr_assert_eq(tq_store_open(db, TQ_STORE_WRITE | TQ_STORE_NOSYNC, NULL, &s, NULL), TQ_OK);
    return s;
}

static int replay(tq_store *s, const char *name, unsigned threads, int skip,
                  tq_replay_stats *st, tq_diag *d)
{
    char path[128];
    snprintf(path, sizeof path, "%s/%s", work, name);
    tq_replay_opts ro = {.threads = threads, .skip_corrupt = skip, .batch_events = 1000000};
    memset(d, 0, sizeof *d);
    return tq_replay_run(s, path, &ro, st, d);
}

static char *export_decisions(tq_store *s)
{
    char *buf = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&buf, &len);
    cr_assert_eq(tq_export_decisions(s, f), TQ_OK);
    fclose(f);
    return buf;
}

/* fresh() - a database with the payments and J1 applied. */
static tq_store *fresh(const char *db)
{
    char path[128];
    tq_store *s = open_db(db);
    snprintf(path, sizeof path, "%s/pay.csv", work);
    tq_load_opts lo = {.kind = TQ_LOAD_PAYMENTS};
    tq_load_stats ls;
    tq_diag d;
    cr_assert_eq(tq_load_file(s, path, &lo, &ls, &d), TQ_OK);
    tq_replay_stats st;
    cr_assert_eq(replay(s, "j1.tqj", 0, 0, &st, &d), TQ_OK, "%s", d.why);
    return s;
}

/* poke() - through LMDB itself: save the value of key in table, then replace it with
 * `bad` (len bytes) or, when bad is NULL, put the saved bytes back. */
static void poke(const char *db, const char *table, const char *key, const void *bad,
                 size_t len, void **saved, size_t *saved_len)
{
    MDB_env *env;
    MDB_txn *txn;
    MDB_dbi dbi;
    cr_assert_eq(mdb_env_create(&env), 0);
    cr_assert_eq(mdb_env_set_maxdbs(env, 32), 0);
    cr_assert_eq(mdb_env_open(env, db, 0, 0664), 0, "mdb_env_open %s", db);
    cr_assert_eq(mdb_txn_begin(env, NULL, 0, &txn), 0);
    cr_assert_eq(mdb_dbi_open(txn, table, 0, &dbi), 0, "table %s", table);
    MDB_val k = {strlen(key), (void *)key}, v;
    if (bad) {
        cr_assert_eq(mdb_get(txn, dbi, &k, &v), 0, "%s: no key %s", table, key);
        *saved = malloc(v.mv_size);
        memcpy(*saved, v.mv_data, v.mv_size);
        *saved_len = v.mv_size;
        v.mv_size = len;
        v.mv_data = (void *)bad;
    } else {
        v.mv_size = *saved_len;
        v.mv_data = *saved;
    }
    cr_assert_eq(mdb_put(txn, dbi, &k, &v, 0), 0);
    cr_assert_eq(mdb_txn_commit(txn), 0);
    mdb_env_close(env);
}

static int has_mark(tq_store *s, const char *name)
{
    char path[128];
    snprintf(path, sizeof path, "%s/%s", work, name);
    tq_journal_reader *r;
    cr_assert_eq(tq_journal_open(path, &r), TQ_OK);
    tq_txn *t;
    tq_journal_mark m;
    cr_assert_eq(tq_txn_begin(s, 1, &t), TQ_OK);
    int rc = tq_store_get_journal(t, tq_journal_id(r), &m);
    tq_txn_abort(t);
    tq_journal_close(r);
    cr_assert(rc == TQ_OK || rc == TQ_ERR_NOTFOUND);
    return rc == TQ_OK;
}

static void check_db_diag(const tq_diag *d, const char *table)
{
    cr_assert_str_eq(d->field, "(database)", "blamed on %s: %s", d->field, d->why);
    cr_assert_null(strstr(d->why, "frame"), "a database fault told as a frame's: %s", d->why);
    cr_assert_not_null(strstr(d->why, table), "table %s not named: %s", table, d->why);
    char key[13];
    decl_no(DAMAGED, key);
    cr_assert_not_null(strstr(d->why, key), "key %s not named: %s", key, d->why);
}

/* damage_and_replay() - damage table/key with bad bytes, replay J2 (must fail as the
 * database's fault, committing nothing), repair, rerun; compare with the reference. */
static void damage_and_replay(unsigned threads, const char *table, const void *bad,
                              size_t len, int skip, const char *ref)
{
    char db[128], key[13];
    snprintf(db, sizeof db, "%s/db-%s-%u-%zu-%d", work, table, threads, len, skip);
    decl_no(DAMAGED, key);
    tq_store *s = fresh(db);
    char *before = export_decisions(s);
    tq_store_close(s);
    void *saved;
    size_t saved_len;
    poke(db, table, key, bad, len, &saved, &saved_len);
    s = open_db(db);
    tq_replay_stats st;
    tq_diag d;
    int rc = replay(s, "j2.tqj", threads, skip, &st, &d);
    cr_assert_eq(rc, TQ_ERR_DBCORRUPT, "%s damaged, %u threads: rc %d (%s) %s", table,
                 threads, rc, tq_strerror(rc), d.why);
    check_db_diag(&d, table);
    fprintf(stderr, "%u threads, %s damaged: %s: %s (seq %llu)\n", threads, table, d.field,
            d.why, (unsigned long long)d.seq);
    cr_assert_eq(st.nskipped, 0, "--skip-corrupt skipped a sound frame over a damaged %s",
                 table);
    cr_assert_eq(st.commits, 0);
    cr_assert(!has_mark(s, "j2.tqj"), "the mark moved although the batch failed");
    tq_store_close(s);
    poke(db, table, key, NULL, 0, &saved, &saved_len);
    free(saved);
    s = open_db(db);
    char *after = export_decisions(s);
    cr_assert_str_eq(after, before, "%u threads: declarations changed without the mark",
                     threads);
    cr_assert_eq(replay(s, "j2.tqj", threads, 0, &st, &d), TQ_OK, "%s", d.why);
    char *got = export_decisions(s);
    cr_assert_str_eq(got, ref, "%u threads: the rerun after repair differs from an "
                     "uninterrupted replay", threads);
    tq_store_close(s);
    free(before);
    free(after);
    free(got);
}

static char *reference(void)
{
    char db[128];
    snprintf(db, sizeof db, "%s/ref", work);
    tq_store *s = fresh(db);
    tq_replay_stats st;
    tq_diag d;
    cr_assert_eq(replay(s, "j2.tqj", 0, 0, &st, &d), TQ_OK, "%s", d.why);
    char *ref = export_decisions(s);
    tq_store_close(s);
    /* every AMEND counted once */
    char line[64], no[13];
    decl_no(1, no);
    snprintf(line, sizeof line, "%s,HELD,1,", no);
    cr_assert_not_null(strstr(ref, line), "reference: %s", ref);
    return ref;
}

static void setup(void)
{
    snprintf(work, sizeof work, "/tmp/tqdbf.XXXXXX");
    cr_assert_not_null(mkdtemp(work));
    make_journals();
}

static void teardown(void)
{
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", work);
    if (system(cmd) != 0)
        fprintf(stderr, "could not remove %s\n", work);
}

static const unsigned threads[] = {0, 1, 2};

Test(replay_dbfault, damaged_decl_value_commits_nothing, .init = setup, .fini = teardown)
{
    char *ref = reference();
    static const uint8_t short_value[3] = {2, 2, 0};
    for (size_t i = 0; i < 3; i++)
        damage_and_replay(threads[i], "decls", short_value, sizeof short_value, 0, ref);
    free(ref);
}

Test(replay_dbfault, bad_state_byte_commits_nothing, .init = setup, .fini = teardown)
{
    char *ref = reference();
    /* a whole value with its state byte (the first, STORE.md 3.6) out of range */
    char db[128], key[13];
    snprintf(db, sizeof db, "%s/probe", work);
    decl_no(DAMAGED, key);
    tq_store_close(fresh(db));
    void *saved;
    size_t len;
    static const uint8_t dummy[1] = {0};
    poke(db, "decls", key, dummy, 1, &saved, &len);
    uint8_t *bad = malloc(len);
    memcpy(bad, saved, len);
    bad[0] = 9;
    free(saved);
    for (size_t i = 0; i < 3; i++)
        damage_and_replay(threads[i], "decls", bad, len, 0, ref);
    free(bad);
    free(ref);
}

Test(replay_dbfault, damaged_cover_is_the_database_not_a_frame, .init = setup,
     .fini = teardown)
{
    char *ref = reference();
    static const uint8_t short_value[2] = {1, 0};
    for (size_t i = 0; i < 3; i++)
        damage_and_replay(threads[i], "cover", short_value, sizeof short_value, 1, ref);
    free(ref);
}

/* through the binary: exit 5, the database blamed (not the journal), the mark said, and
 * no advice to skip; a damaged cover with --skip-corrupt skips nothing */
static int run_binary(const char *db, const char *extra, char *err, size_t cap)
{
    char cmd[1024], errf[160];
    snprintf(errf, sizeof errf, "%s/stderr", work);
    snprintf(cmd, sizeof cmd, "'%s' replay '%s/j2.tqj' --db '%s' --quiet %s 2>'%s'",
             TQ_BINARY, work, db, extra, errf);
    int st = system(cmd);
    FILE *f = fopen(errf, "r");
    size_t n = f ? fread(err, 1, cap - 1, f) : 0;
    err[n] = '\0';
    if (f)
        fclose(f);
    return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

Test(replay_dbfault, the_command_blames_the_database, .init = setup, .fini = teardown)
{
    static const char *const tables[] = {"decls", "cover"};
    static const char *const extra[] = {"--threads 0", "--threads 2 --skip-corrupt"};
    for (int i = 0; i < 2; i++) {
        char db[128], key[13], err[4096];
        snprintf(db, sizeof db, "%s/cli-%s", work, tables[i]);
        decl_no(DAMAGED, key);
        tq_store_close(fresh(db));
        void *saved;
        size_t len;
        static const uint8_t short_value[2] = {1, 0};
        poke(db, tables[i], key, short_value, sizeof short_value, &saved, &len);
        free(saved);
        int status = run_binary(db, extra[i], err, sizeof err);
        cr_assert_eq(status, 5, "%s damaged: exit %d: %s", tables[i], status, err);
        cr_assert_not_null(strstr(err, "the database is damaged"), "%s", err);
        cr_assert_not_null(strstr(err, "nothing of its open batch was committed"), "%s", err);
        cr_assert_not_null(strstr(err, "through seq 0 of this journal"), "%s", err);
        cr_assert_not_null(strstr(err, "--skip-corrupt cannot help"), "%s", err);
        cr_assert_null(strstr(err, "is corrupt"), "blamed on the journal: %s", err);
        cr_assert_null(strstr(err, "skipped"), "a frame was skipped: %s", err);
    }
}
