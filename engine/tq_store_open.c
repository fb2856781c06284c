/* tq_store_open.c - opening a database directory: the writer lock, the marker file, the
 * LMDB environment, the layout, and the upgrade of a version 1 database.
 *
 * Writer lock.  DIR/lock is taken with the lockfile module (formats/tq_lock.h), apart
 * from LMDB's lock.mdb: LMDB locks lock.mdb with fcntl() locks, which belong to the
 * process and vanish when any descriptor of the file is closed, whereas flock() belongs
 * to one open file description and is dropped by the kernel exactly when its holder
 * dies.  The lock is taken before LMDB opens anything, so a refused writer never
 * touches the environment.  A link planted at DIR/lock is refused, never followed.
 *
 * Marker.  DIR/thongquan.db is written when a database is created (and added by a
 * writer to an older one).  A directory with the marker held a database, so a missing
 * or empty data.mdb there is damage to restore from the backup, never a new database.
 */
#include "tq_store_int.h"

#include "../formats/tq_out.h"
#include "tq_lmdb_check.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define TQ__MAXDBS 24           /* sixteen are used */
#define TQ__UPGRADE_VAL_MAX 4096 /* longer than any version 1 value */

/* ---- diagnostics ---- */

/* "PATH: reason" into d, and the code of errno e. */
int tq__sys(tq_diag *d, const char *path, int e)
{
    tq_diag_set(d, "(database)", "%s: %s", path, strerror(e));
    return tq_errno(e);
}

static int tq__say(tq_diag *d, int err, const char *fmt, const char *path)
{
    tq_diag_set(d, "(database)", fmt, path);
    return err;
}

/* ---- the writer lock ---- */

/* The lockfile module (formats/tq_lock.h) takes DIR/lock; its reasons get the path. */
static int tq__lock(tq_store *s, const char *path, const char *command, tq_store_holder *busy,
                    tq_diag *d)
{
    tq_diag ld;
    memset(&ld, 0, sizeof ld);
    int rc = tq_lock_acquire(&s->lock, path, command, busy, &ld);
    if (rc != TQ_OK)
        tq_diag_set(d, "(database)", "%s: %s", path, ld.why);
    return rc;
}

static void tq__unlock(tq_store *s)
{
    tq_lock_release(&s->lock);
}

static void tq__utc_now(char out[32])
{
    time_t now = time(NULL);
    struct tm tm;
    if (gmtime_r(&now, &tm) == NULL || strftime(out, 32, "%Y-%m-%dT%H:%M:%SZ", &tm) == 0)
        out[0] = '\0';
}

/* ---- directories and the marker ---- */

static char *tq__path(const char *dir, const char *name)
{
    size_t n = strlen(dir) + 1 + strlen(name) + 1;
    char *p = n <= PATH_MAX ? malloc(n) : NULL;
    if (p) {
        size_t nd = strlen(dir);
        memcpy(p, dir, nd);
        p[nd] = '/';
        memcpy(p + nd + 1, name, strlen(name) + 1);
    }
    return p;
}

/* The marker's text: format version, a random database id, creation time. */
static int tq__marker_text(char *text, size_t cap)
{
    uint8_t id[16];
    char hex[33], created[32];
    size_t got = 0;
    while (got < sizeof id) {
        ssize_t n = getrandom(id + got, sizeof id - got, 0);
        if (n < 0 && errno != EINTR)
            return errno;
        got += n > 0 ? (size_t)n : 0;
    }
    for (int i = 0; i < 16; i++)
        snprintf(hex + 2 * i, 3, "%02x", id[i]);
    tq__utc_now(created);
    int n = snprintf(text, cap, "thongquan database\nformat=%d\nid=%s\ncreated=%s\n",
                     TQ_STORE_VERSION, hex, created);
    return n > 0 && (size_t)n < cap ? 0 : EINVAL;
}

/* tq__marker_write() - write DIR/thongquan.db atomically (formats/tq_out.h: a temp file,
 * fsync, rename, fsync of DIR; a link planted there is replaced, never followed), unless
 * something is there already. */
int tq__marker_write(const char *dir, tq_diag *d)
{
    char text[160];
    struct stat sb;
    tq_out o;
    char *path = tq__path(dir, TQ_STORE_MARKER);
    int rc, e;
    if (path == NULL)
        return TQ_ERR_NOMEM;
    if (lstat(path, &sb) == 0) {
        free(path);
        return TQ_OK;
    }
    if ((e = tq__marker_text(text, sizeof text)) != 0) {
        rc = tq__sys(d, path, e);
    } else if ((rc = tq_out_open(&o, path, TQ_OUT_NO_CLOBBER | TQ_OUT_NO_STREAM, d)) ==
               TQ_OK) {
        rc = tq_out_write(&o, text, strlen(text));
        if (rc == TQ_OK)
            rc = tq_out_commit(&o, d);
        else
            tq_out_rollback(&o);
    }
    free(path);
    return rc == TQ_ERR_EXISTS ? TQ_OK : rc;    /* another writer made it meanwhile */
}

/* ---- the layout ---- */

static int tq__meta_put(tq_txn *t, const char *key, const uint8_t *v, size_t n)
{
    MDB_val k = {7, (void *)key};
    return tq__put(t, DB_META, &k, v, n, 0);
}

/* The indexes hold sets of 12-byte decl_no under each key (STORE.md §3.10). */
static unsigned tq__db_flags(int db)
{
    return tq__is_index(db) ? MDB_DUPSORT | MDB_DUPFIXED : 0;
}

/* Opens the tables [from, to) of format version (0: every one), creating them when
 * create. */
static int tq__dbi_open_v(tq_txn *t, int from, int to, int version, int create)
{
    for (int i = from; i < to; i++) {
        if (version != 0 && !tq__db_in(i, version))
            continue;
        int rc = mdb_dbi_open(t->txn, tq__db_name[i], tq__db_flags(i) | (create ? MDB_CREATE : 0),
                              &t->s->dbi[i]);
        if (rc != MDB_SUCCESS)
            return create ? tq__mdb(rc)
                          : tq__fault(t, i, NULL, "table missing (%s)", mdb_strerror(rc));
    }
    return TQ_OK;
}

/* Opens every table of [from, to). */
static int tq__dbi_open(tq_txn *t, int from, int to, int create)
{
    return tq__dbi_open_v(t, from, to, 0, create);
}

/* The declarant and permit indexes the upkeep and the walks use (STORE.md §3.10). */
static void tq__use_era(tq_store *s, int era)
{
    s->db_taxid = era ? DB_ERA_TAXID : DB_BY_TAXID;
    s->db_permit = era ? DB_ERA_PERMIT : DB_BY_PERMIT;
}

static int tq__create_dbs(tq_txn *t)
{
    uint8_t version[4], created[8];
    int rc = tq__dbi_open_v(t, 0, DB_COUNT, TQ_STORE_VERSION, 1);
    if (rc != TQ_OK)
        return rc;
    tq__use_era(t->s, 1);
    t->s->sealed = t->s->has_log = t->s->has_v3 = t->s->has_held = 1;
    t->s->version = TQ_STORE_VERSION;
    tq_le_put32(version, TQ_STORE_VERSION);
    tq_le_put64(created, (uint64_t)time(NULL));
    rc = tq__meta_put(t, "version", version, sizeof version);
    return rc != TQ_OK ? rc : tq__meta_put(t, "created", created, sizeof created);
}

/* Reseals every record of a version 1 table, checking each as a get would first (a
 * seal must never bless damage).  Keys and values are copied out of the map before the
 * put, and the cursor is put back on the key after it. */
static int tq__reseal(tq_txn *t, int db, tq_diag *d)
{
    uint8_t kb[TQ__KEY_MAX], vb[TQ__UPGRADE_VAL_MAX];
    MDB_cursor *c;
    MDB_val k, v;
    int rc = mdb_cursor_open(t->txn, t->s->dbi[db], &c);
    if (rc != MDB_SUCCESS)
        return tq__mdb(rc);
    for (MDB_cursor_op op = MDB_FIRST;; op = MDB_NEXT) {
        rc = mdb_cursor_get(c, &k, &v, op);
        if (rc != MDB_SUCCESS) {
            rc = rc == MDB_NOTFOUND ? TQ_OK : tq__mdb(rc);
            break;
        }
        const char *bad = tq__key_bad(db, &k);
        if (bad == NULL && v.mv_size > sizeof vb)
            bad = "value longer than any of its table";
        if (bad == NULL)
            bad = tq__value_bad(t->s, db, &k, &v);
        if (bad != NULL) {
            rc = tq__fault(t, db, &k, "%s", bad);
            tq_txn_fault(t, d);
            break;
        }
        MDB_val kk = {k.mv_size, kb};
        memcpy(kb, k.mv_data, k.mv_size);
        memcpy(vb, v.mv_data, v.mv_size);
        rc = tq__put(t, db, &kk, vb, v.mv_size, 0);
        if (rc == TQ_OK)
            rc = tq__mdb(mdb_cursor_get(c, &kk, &v, MDB_SET));
        if (rc != TQ_OK)
            break;
    }
    mdb_cursor_close(c);
    return rc;
}

/* Version 1 -> 2 in the caller's write transaction: seals on every value, covers
 * recomputed in 128 bits, the gaps and ledger tables, version 2.  All or nothing.
 * tq_store_upgrade() then takes it to 3. */
static int tq__upgrade(tq_txn *t, tq_diag *d)
{
    MDB_val k = {7, "created"}, v;
    uint8_t created[8];
    int rc = tq__mdb(mdb_get(t->txn, t->s->dbi[DB_META], &k, &v));
    if (rc == TQ_OK && v.mv_size != 8)
        rc = tq__fault(t, DB_META, &k, "value is not 8 bytes");
    if (rc != TQ_OK)
        return rc;
    memcpy(created, v.mv_data, 8);
    rc = tq__dbi_open(t, TQ__DB_V1, TQ__DB_V2, 1);
    if (rc != TQ_OK)
        return rc;
    t->s->sealed = t->s->has_log = 1;
    static const int tables[] = {DB_RECEIPTS, DB_PERMITS, DB_USAGE, DB_DECLS, DB_JOURNALS};
    for (size_t i = 0; i < sizeof tables / sizeof tables[0] && rc == TQ_OK; i++)
        rc = tq__reseal(t, tables[i], d);
    if (rc == TQ_OK)
        rc = tq__cover_rebuild(t);
    uint8_t version[4];
    tq_le_put32(version, 2);    /* then 2 -> 3, in batches (tq_store_upgrade.c) */
    t->s->version = 2;
    if (rc == TQ_OK)
        rc = tq__meta_put(t, "created", created, sizeof created);
    if (rc == TQ_OK)
        rc = tq__meta_put(t, "version", version, sizeof version);
    if (rc == TQ_ERR_DBCORRUPT)
        tq_txn_fault(t, d);
    return rc;
}

/* The format version of an open meta table: 1 (unsealed, 4 bytes), 2 or 3 (sealed), or
 * an error. */
static int tq__read_version(tq_txn *t, int *version)
{
    MDB_val k = {7, "version"}, v;
    int rc = mdb_get(t->txn, t->s->dbi[DB_META], &k, &v);
    if (rc == MDB_NOTFOUND)
        return TQ_ERR_VERSION;
    if (rc != MDB_SUCCESS)
        return tq__mdb(rc);
    if (v.mv_size == 4 && tq_le_get32(v.mv_data) == 1) {
        *version = 1;
        return TQ_OK;
    }
    if (v.mv_size != 4 + TQ__SEAL_LEN)
        return TQ_ERR_VERSION;
    t->s->sealed = 1;
    const char *bad = tq__unseal(t->s, DB_META, &k, &v);
    if (bad)
        return tq__fault(t, DB_META, &k, "%s", bad);
    *version = (int)tq_le_get32(v.mv_data);
    return *version >= 2 && *version <= TQ_STORE_VERSION ? TQ_OK : TQ_ERR_VERSION;
}

static int tq__open_tables(tq_txn *t, int from, int to)
{
    return tq__dbi_open(t, from, to, 0);
}

/* A database without meta: new (empty main table) or an LMDB file not ours. */
static int tq__open_fresh(tq_txn *t)
{
    MDB_dbi main_dbi;
    MDB_stat st;
    int rc = mdb_dbi_open(t->txn, NULL, 0, &main_dbi);
    if (rc == MDB_SUCCESS)
        rc = mdb_stat(t->txn, main_dbi, &st);
    if (rc != MDB_SUCCESS)
        return tq__mdb(rc);
    if (st.ms_entries != 0)
        return TQ_ERR_VERSION;
    if (t->rdonly)
        return TQ_ERR_NOTFOUND;         /* a writer created the file, committed nothing */
    return tq__create_dbs(t);
}

/* Opens the named databases (creating them in a new environment, upgrading a version 1
 * one when writing) and checks the format version.  The transaction is committed even
 * when read-only: that is what makes LMDB keep the DBI handles for later ones. */
static int tq__open_dbs(tq_store *s, tq_diag *d)
{
    tq_txn *t;
    int version = 0;
    int err = tq_txn_begin(s, s->rdonly, &t);
    if (err != TQ_OK)
        return err;
    s->sealed = s->has_log = 0;
    int rc = mdb_dbi_open(t->txn, tq__db_name[DB_META], 0, &s->dbi[DB_META]);
    if (rc == MDB_NOTFOUND)
        err = tq__open_fresh(t);
    else if (rc != MDB_SUCCESS)
        err = tq__mdb(rc);
    else if ((err = tq__read_version(t, &version)) == TQ_OK || version == 1)
        err = tq__open_tables(t, DB_META + 1, TQ__DB_V1);
    if (err == TQ_OK && version != 0)
        s->version = version;
    if (err == TQ_OK && version != 0 && s->up.from_version == 0)
        s->up.from_version = (uint32_t)version;
    if (err == TQ_OK && version == 0)
        s->up.from_version = TQ_STORE_VERSION;     /* a new database */
    if (err == TQ_OK && version == 1 && !s->rdonly)
        err = tq__upgrade(t, d);
    else if (err == TQ_OK && version >= 2)
        err = tq__dbi_open_v(t, TQ__DB_V1, DB_COUNT, version, 0);
    s->has_log = s->has_log || version >= 2;
    if (version != 0) {
        s->has_v3 = version >= 3;
        s->has_held = version >= 4;
        tq__use_era(s, version >= 5);
    }
    /* A writer of an older version creates the tables of the versions after it for the
     * upgrade (tq_store_upgrade(), after this transaction, which fills held and then
     * sets has_held, then builds the era indexes and switches to them). */
    if (err == TQ_OK && version != 0 && version < 5 && !s->rdonly) {
        err = tq__dbi_open(t, version < 3 ? TQ__DB_V2 : version < 4 ? TQ__DB_V3 : TQ__DB_V4,
                           DB_COUNT, 1);
        s->has_v3 = err == TQ_OK;
    }
    return tq__txn_finish(t, err, d, tq__txn_commit_handles);
}

/* ---- open / close ---- */

/* What is at DIR before LMDB sees it: *exists when data.mdb holds bytes.  A missing or
 * empty data.mdb beside the marker is damage. */
static int tq__probe(tq_store *s, int writer, int *exists, tq_diag *d)
{
    struct stat sb, mb;
    char *marker = tq__path(s->dir, TQ_STORE_MARKER);
    if (marker == NULL)
        return TQ_ERR_NOMEM;
    int have_marker = lstat(marker, &mb) == 0;
    free(marker);
    *exists = 0;
    if (stat(s->data_path, &sb) == 0) {
        if (!S_ISREG(sb.st_mode))
            return tq__say(d, TQ_ERR_DBCORRUPT, "%s is not a regular file", s->data_path);
        *exists = sb.st_size > 0;
    } else if (errno != ENOENT) {
        return tq__sys(d, s->data_path, errno);
    }
    if (!*exists && have_marker)
        return tq__say(d, TQ_ERR_DBCORRUPT,
                       "%s is empty or missing but its directory held a database "
                       "(thongquan.db is there): restore the backup",
                       s->data_path);
    if (!*exists && !writer)
        return TQ_ERR_NOTFOUND;
    return TQ_OK;
}

static int tq__check_once(const tq_store *s, unsigned flags, uint64_t *txnid, tq_diag *d)
{
    tq_lmdb_check_stats st;
    memset(&st, 0, sizeof st);
    int rc = tq_lmdb_check_file(s->data_path, flags, 1, NULL, NULL, &st, d);
    *txnid = st.txnid;
    return rc;
}

/* tq__check_file() - check data.mdb's own structure with pread before LMDB maps it (a
 * damaged file must never SIGBUS or corrupt LMDB's heap).  TQ_STORE_VERIFY_AUTO walks
 * every tree of a file up to TQ_STORE_VERIFY_FULL_MAX bytes, else the metas only.  A
 * reader may race a writer that commits (and reuses old pages) during the walk, so a
 * problem found while the newest txnid moved is looked at again. */
static int tq__check_file(const tq_store *s, int level, tq_diag *d)
{
    struct stat sb;
    unsigned flags = TQ_LMDB_CHECK_META;
    if (level == TQ_STORE_VERIFY_FULL ||
        (level == TQ_STORE_VERIFY_AUTO && stat(s->data_path, &sb) == 0 &&
         (uint64_t)sb.st_size <= TQ_STORE_VERIFY_FULL_MAX))
        flags = TQ_LMDB_CHECK_TREES;
    int rc;
    uint64_t txnid = 0, last = 0;
    tq_diag dd;
    for (int tries = 0;; tries++) {
        memset(&dd, 0, sizeof dd);
        rc = tq__check_once(s, flags, &txnid, &dd);
        /* a writer holds the lock (no commit can race), or the same commit failed twice */
        if (rc != TQ_ERR_DBCORRUPT || !s->rdonly || (tries > 0 && txnid == last) ||
            tries == 2)
            break;
        last = txnid;
    }
    /* The file kept moving under the walk: a writer is committing fast.  A reader can
     * only be sure of what does not move, so it falls back to the meta pages (never
     * less), as for a file too big to walk; the writer itself walked it at its open. */
    if (rc == TQ_ERR_BUSY && s->rdonly && flags != TQ_LMDB_CHECK_META) {
        memset(&dd, 0, sizeof dd);
        rc = tq__check_once(s, TQ_LMDB_CHECK_META, &txnid, &dd);
    }
    if (rc != TQ_OK && d != NULL)
        *d = dd;
    return rc == TQ_ERR_NOTFOUND ? TQ_ERR_DBCORRUPT : rc;  /* gone since the probe */
}

/* LMDB opens lock.mdb read-write even for a reader; say so plainly when it cannot. */
static int tq__reader_access(const tq_store *s, tq_diag *d)
{
    char *lock = tq__path(s->dir, "lock.mdb");
    int rc = TQ_OK;
    if (lock == NULL)
        return TQ_ERR_NOMEM;
    /* AT_EACCESS: the effective ids are the ones open() will use */
    if (access(lock, F_OK) == 0
            ? faccessat(AT_FDCWD, lock, R_OK | W_OK, AT_EACCESS) != 0
            : faccessat(AT_FDCWD, s->dir, W_OK | X_OK, AT_EACCESS) != 0) {
        int e = errno;
        rc = tq_errno(e);
        tq_diag_set(d, "(database)",
                    "%s: %s (LMDB readers need write access to lock.mdb, or to the "
                    "directory to create it: run as the database's owner or group)",
                    lock, strerror(e));
    }
    free(lock);
    return rc;
}

static int tq__env_open(tq_store *s, unsigned flags, int exists, uint64_t want, tq_diag *d)
{
    int writer = !s->rdonly;
    int rc = mdb_env_create(&s->env);
    if (rc != MDB_SUCCESS) {
        s->env = NULL;
        return tq__mdb(rc);
    }
    rc = mdb_env_set_maxdbs(s->env, TQ__MAXDBS);
    /* A new environment starts at the size asked for.  An existing one opens at the
     * size its last writer committed (LMDB's default when none is set), which may
     * exceed what we ask; setting ours before the open would shrink it instead. */
    if (rc == MDB_SUCCESS && !exists)
        rc = mdb_env_set_mapsize(s->env, (size_t)want);
    if (rc == MDB_SUCCESS)
        rc = mdb_env_open(s->env, s->dir,
                          MDB_NOTLS | (writer ? 0 : MDB_RDONLY) |
                              (flags & TQ_STORE_NOSYNC ? MDB_NOSYNC : 0),
                          0644);
    if (rc > 0)
        return tq__sys(d, s->dir, rc);
    if (rc == MDB_INVALID || rc == MDB_VERSION_MISMATCH || rc == MDB_CORRUPTED)
        return tq__say(d, rc == MDB_VERSION_MISMATCH ? TQ_ERR_VERSION : TQ_ERR_DBCORRUPT,
                       "%s: not a readable LMDB file", s->data_path);
    MDB_envinfo info;
    if (rc == MDB_SUCCESS && writer && exists) {
        rc = mdb_env_info(s->env, &info);
        if (rc == MDB_SUCCESS && info.me_mapsize < want)
            rc = mdb_env_set_mapsize(s->env, (size_t)want);
    }
    if (rc == MDB_SUCCESS && writer) {
        int dead;
        /* Reader slots of killed readers pin old pages and make the file grow. */
        rc = mdb_reader_check(s->env, &dead);
    }
    return tq__mdb(rc);
}

/* The layout, growing the map of a new or upgraded database until it fits (map_size is
 * a hint, not a limit). */
static int tq__layout(tq_store *s, tq_diag *d)
{
    MDB_envinfo info;
    int err = tq__open_dbs(s, d);
    for (int tries = 0; err == TQ_ERR_MAPFULL && !s->rdonly && tries < 32; tries++) {
        int rc = mdb_env_info(s->env, &info);
        if (rc == MDB_SUCCESS)
            rc = mdb_env_set_mapsize(s->env, info.me_mapsize * 2);
        err = rc == MDB_SUCCESS ? tq__open_dbs(s, d) : tq__mdb(rc);
    }
    if (err == TQ_ERR_LIMIT)
        tq_diag_set(d, "(database)", "%s: the upgrade to version %d needs more pages than "
                    "one LMDB transaction may dirty", s->data_path, TQ_STORE_VERSION);
    else if (err == TQ_ERR_VERSION)
        tq_diag_set(d, "(database)", "%s: not a thongquan database of version 1 to %d",
                    s->data_path, TQ_STORE_VERSION);
    return err;
}

static void tq__free(tq_store *s)
{
    if (s->env)
        mdb_env_close(s->env);  /* also required after a failed mdb_env_open */
    tq__unlock(s);
    pthread_mutex_destroy(&s->mu);
    free(s->dir);
    free(s->data_path);
    free(s);
}

static int tq__store_new(const char *dir, int writer, tq_store **out)
{
    tq_store *s = calloc(1, sizeof *s);
    if (s == NULL)
        return TQ_ERR_NOMEM;
    s->lock.fd = -1;
    s->rdonly = !writer;
    const char *chk = getenv("TQ_STORE_CHECK_OLD");
    s->check_old = chk != NULL && chk[0] != '\0' && strcmp(chk, "0") != 0;
    s->dir = strdup(dir);
    s->data_path = tq__path(dir, "data.mdb");
    if (s->dir == NULL || s->data_path == NULL || pthread_mutex_init(&s->mu, NULL) != 0) {
        free(s->dir);
        free(s->data_path);
        free(s);
        return TQ_ERR_NOMEM;
    }
    *out = s;
    return TQ_OK;
}

int tq_store_open(const char *dir, unsigned flags, const tq_store_opts *opts,
                  tq_store **out, tq_store_holder *busy)
{
    uint64_t want = opts && opts->map_size ? opts->map_size : TQ_STORE_MAP_DEFAULT;
    tq_diag *d = opts ? opts->diag : NULL;
    int writer = (flags & TQ_STORE_WRITE) != 0;
    int err, exists;
    tq_store *s;

    *out = NULL;
    if (dir == NULL || dir[0] == '\0' || strlen(dir) + sizeof "/thongquan.db" > PATH_MAX ||
        want > SIZE_MAX)
        return TQ_ERR_INPUT;
    err = tq__store_new(dir, writer, &s);
    if (err != TQ_OK)
        return err;
    if (writer) {
        char *lock = tq__path(dir, "lock");
        err = lock ? tq_out_mkdirs(dir, 0755, d) : TQ_ERR_NOMEM;
        if (err == TQ_OK)
            err = tq__lock(s, lock, opts ? opts->command : NULL, busy, d);
        free(lock);
    }
    if (err == TQ_OK)
        err = tq__probe(s, writer, &exists, d);
    if (err == TQ_OK && !writer)
        err = tq__reader_access(s, d);
    if (err == TQ_OK && exists)
        err = tq__check_file(s, opts ? opts->verify : TQ_STORE_VERIFY_AUTO, d);
    if (err == TQ_OK)
        err = tq__env_open(s, flags, exists, want, d);
    if (err == TQ_OK)
        err = tq__layout(s, d);
    if (err == TQ_OK && writer && s->version < TQ_STORE_VERSION)
        err = tq_store_upgrade(s, NULL, 0, NULL, d);
    if (err == TQ_OK && writer)
        err = tq__marker_write(dir, d);
    if (err != TQ_OK) {
        tq__free(s);
        return err;
    }
    *out = s;
    return TQ_OK;
}

int tq_store_format(const tq_store *s)
{
    return s->version;
}

void tq_store_close(tq_store *s)
{
    if (s != NULL)
        tq__free(s);
}
