/* tq_lmdb_check.c - check an LMDB 0.9 data file with pread, before LMDB maps it.
 *
 * DESIGN.  LMDB trusts its file: it follows page numbers, node offsets and sizes as it
 * finds them in the map, so one flipped byte can make it read outside a page, outside
 * the map (SIGBUS past the end of a truncated file), or write through a page it takes
 * for dirty.  This checker never maps the file: it reads it with pread into buffers of
 * its own and checks every number against the page and the file before using it.
 *
 * On-disk layout (lmdb.h and mdb.c of 0.9.x, 64-bit, host byte order):
 *   page header  pgno u64 @0, pad u16 @8, flags u16 @10, lower u16 @12, upper u16 @14
 *                (an overflow page has its page count u32 @12); PAGEHDRSZ 16;
 *                node offsets (mp_ptrs, u16) follow the header, nodes sit at the end.
 *   meta page    page 0 and 1; MDB_meta at offset 16: magic u32, version u32,
 *                address u64, mapsize u64, dbs[2] (free, main) of MDB_db, last_pg u64,
 *                txnid u64.  Transaction t writes its meta into page t & 1.
 *   MDB_db       pad u32 (the page size, in the free DB of a meta), flags u16,
 *                depth u16, branch_pages, leaf_pages, overflow_pages, entries,
 *                root: u64 each (48 bytes).  An empty tree has root ~0 and depth 0.
 *   node         lo u16, hi u16, flags u16, ksize u16, then the key, then the data.
 *                Leaf: data size lo | hi << 16; F_BIGDATA: the data is the u64 number
 *                of its first overflow page; F_SUBDATA: the data is an MDB_db (a named
 *                database in the main tree, or a dup sub-tree with F_DUPDATA);
 *                F_DUPDATA alone: the data is a sub-page.  Branch: child page number
 *                lo | hi << 16 | flags << 32, no data.
 * Threads: none; every call has its own state.
 */
#include "tq_lmdb_check.h"

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define LC_HDR 16u                  /* PAGEHDRSZ */
#define LC_NODESIZE 8u              /* NODESIZE */
#define LC_META_OFF LC_HDR          /* MDB_meta within its page */
#define LC_META_LEN (LC_HDR + 136u) /* what LMDB reads of a meta page */
#define LC_DB_LEN 48u               /* sizeof(MDB_db) */
#define LC_MAGIC 0xBEEFC0DEu
#define LC_VERSION 1u
#define LC_PSIZE_MIN 512u
#define LC_PSIZE_MAX 32768u         /* MAX_PAGESIZE of 0.9 (PAGEBASE 0) */
#define LC_MAXDEPTH 32u             /* CURSOR_STACK: LMDB cannot descend deeper */
#define LC_MAXKEY 511u              /* MDB_MAXKEYSIZE */
#define LC_PINVALID UINT64_MAX      /* P_INVALID: an empty tree's root */
#define LC_MAPSIZE_MAX (1ull << 44) /* 16 TiB: a larger map size is a flipped bit */

enum { LC_P_BRANCH = 0x01, LC_P_LEAF = 0x02, LC_P_OVERFLOW = 0x04, LC_P_META = 0x08,
       LC_P_LEAF2 = 0x20 };
enum { LC_F_BIGDATA = 0x01, LC_F_SUBDATA = 0x02, LC_F_DUPDATA = 0x04 };
/* The environment flags LMDB keeps in the free DB's md_flags: MDB_INTEGERKEY, always,
 * and MDB_NOSUBDIR when used.  (MDB_FIXEDMAP is refused: thongquan never uses it.) */
enum { LC_ENV_NOSUBDIR = 0x4000 };
enum { LC_REVERSEKEY = 0x02, LC_DUPSORT = 0x04, LC_INTEGERKEY = 0x08, LC_DUPFIXED = 0x10,
       LC_INTEGERDUP = 0x20, LC_REVERSEDUP = 0x40 };
enum { LC_DB_FLAGS = 0x7e };

typedef struct lc_db {
    uint32_t pad;
    uint16_t flags, depth;
    uint64_t branch, leaf, overflow, entries, root;
} lc_db;

typedef struct lc_meta {
    uint64_t pgno;
    uint16_t pgpad, pgflags;
    uint32_t pgbounds;
    uint32_t magic, version;
    uint64_t address, mapsize, last_pg, txnid;
    lc_db dbs[2];
    int sound;                      /* every field of this meta checked out */
} lc_meta;

/* The state of one check. */
typedef struct lc {
    int fd;
    const char *path;
    uint64_t file_size, psize, last_pg;
    uint64_t max_problems, problems;
    void (*on_problem)(void *ctx, const char *what);
    void *ctx;
    tq_diag *d;
    tq_lmdb_check_stats *st;
    int io_err;                     /* a TQ_ERR_* from the system, ends the check */
    struct lc_walk *walk;           /* TQ_LMDB_CHECK_TREES */
} lc;

/* ---- small helpers ---- */

static uint16_t lc_u16(const uint8_t *p)
{
    uint16_t v;
    memcpy(&v, p, sizeof v);
    return v;
}

static uint32_t lc_u32(const uint8_t *p)
{
    uint32_t v;
    memcpy(&v, p, sizeof v);
    return v;
}

static uint64_t lc_u64(const uint8_t *p)
{
    uint64_t v;
    memcpy(&v, p, sizeof v);
    return v;
}

static int lc_stopped(const lc *c)
{
    return c->io_err != 0 || c->problems >= c->max_problems;
}

/* lc_problem() - count a problem, hand it to the caller, keep the first in d->why. */
static void lc_problem(lc *c, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void lc_problem(lc *c, const char *fmt, ...)
{
    char msg[320];
    va_list ap;
    if (c->problems >= c->max_problems)
        return;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    if (c->problems == 0 && c->d != NULL) {
        snprintf(c->d->field, sizeof c->d->field, "(database)");
        if (snprintf(c->d->why, sizeof c->d->why, "%s: %s", c->path, msg) < 0)
            c->d->why[0] = '\0';   /* a long path cuts the message: fine */
    }
    c->problems++;
    if (c->on_problem != NULL)
        c->on_problem(c->ctx, msg);
}

static int lc_errno_code(int e)
{
    if (e == ENOENT || e == ENOTDIR)
        return TQ_ERR_NOTFOUND;
    if (e == EACCES || e == EPERM || e == EROFS)
        return TQ_ERR_PERM;
    if (e == ENOMEM)
        return TQ_ERR_NOMEM;
    return TQ_ERR_IO;
}

static void lc_sys_error(lc *c, const char *what)
{
    int e = errno;
    c->io_err = lc_errno_code(e);
    if (c->d != NULL) {
        snprintf(c->d->field, sizeof c->d->field, "(database)");
        if (snprintf(c->d->why, sizeof c->d->why, "%s: %s: %s", c->path, what,
                     strerror(e)) < 0)
            c->d->why[0] = '\0';
    }
}

/* lc_read() - exactly len bytes at off, or fewer at the end of the file.
 * @return the bytes read, or -1 after lc_sys_error(). */
static ssize_t lc_read(lc *c, uint64_t off, void *buf, size_t len)
{
    size_t got = 0;
    while (got < len) {
        ssize_t n = pread(c->fd, (uint8_t *)buf + got, len - got, (off_t)(off + got));
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0) {
            lc_sys_error(c, "read");
            return -1;
        }
        if (n == 0)
            break;
        got += (size_t)n;
    }
    return (ssize_t)got;
}

/* ---- meta pages ---- */

static void lc_parse_db(const uint8_t *p, lc_db *db)
{
    db->pad = lc_u32(p);
    db->flags = lc_u16(p + 4);
    db->depth = lc_u16(p + 6);
    db->branch = lc_u64(p + 8);
    db->leaf = lc_u64(p + 16);
    db->overflow = lc_u64(p + 24);
    db->entries = lc_u64(p + 32);
    db->root = lc_u64(p + 40);
}

static void lc_parse_meta(const uint8_t *p, lc_meta *m)
{
    const uint8_t *mm = p + LC_META_OFF;
    m->pgno = lc_u64(p);
    m->pgpad = lc_u16(p + 8);
    m->pgflags = lc_u16(p + 10);
    m->pgbounds = lc_u32(p + 12);
    m->magic = lc_u32(mm);
    m->version = lc_u32(mm + 4);
    m->address = lc_u64(mm + 8);
    m->mapsize = lc_u64(mm + 16);
    lc_parse_db(mm + 24, &m->dbs[0]);
    lc_parse_db(mm + 24 + LC_DB_LEN, &m->dbs[1]);
    m->last_pg = lc_u64(mm + 24 + 2 * LC_DB_LEN);
    m->txnid = lc_u64(mm + 32 + 2 * LC_DB_LEN);
}

static int lc_psize_ok(uint64_t ps)
{
    return ps >= LC_PSIZE_MIN && ps <= LC_PSIZE_MAX && (ps & (ps - 1)) == 0;
}

/* lc_check_db() - a tree's record (MDB_db) found at where.  In the free DB of a meta,
 * pad is the page size (checked by the caller, is_free set); elsewhere it is 0 but in a
 * DUPFIXED tree. */
static int lc_check_db(lc *c, const char *where, const char *name, const lc_db *db,
                       uint64_t last_pg, unsigned allowed_flags, int is_free)
{
    int ok = 1;
    if (!is_free && db->pad != 0 && (db->flags & LC_DUPFIXED) == 0) {
        lc_problem(c, "%s: %s tree: pad %u, not 0", where, name, db->pad);
        ok = 0;
    }
    if ((db->flags & ~allowed_flags) != 0) {
        lc_problem(c, "%s: %s tree: unknown flags 0x%x", where, name, db->flags);
        ok = 0;
    }
    if (db->root == LC_PINVALID) {
        if (db->depth != 0 || db->entries != 0 || db->branch != 0 || db->leaf != 0 ||
            db->overflow != 0) {
            lc_problem(c, "%s: %s tree: empty (no root) but depth %u, %llu entries, "
                       "%llu pages", where, name, db->depth, (unsigned long long)db->entries,
                       (unsigned long long)(db->branch + db->leaf + db->overflow));
            ok = 0;
        }
        return ok;
    }
    if (db->root < 2 || db->root > last_pg) {
        lc_problem(c, "%s: %s tree: root page %llu outside 2..%llu", where, name,
                   (unsigned long long)db->root, (unsigned long long)last_pg);
        ok = 0;
    }
    if (db->depth < 1 || db->depth > LC_MAXDEPTH) {
        lc_problem(c, "%s: %s tree: depth %u outside 1..%u", where, name, db->depth,
                   LC_MAXDEPTH);
        ok = 0;
    }
    if (db->leaf < 1 || db->branch > last_pg || db->leaf > last_pg ||
        db->overflow > last_pg || db->branch + db->leaf + db->overflow > last_pg) {
        lc_problem(c, "%s: %s tree: page counts %llu branch, %llu leaf, %llu overflow "
                   "do not fit %llu pages", where, name, (unsigned long long)db->branch,
                   (unsigned long long)db->leaf, (unsigned long long)db->overflow,
                   (unsigned long long)last_pg + 1);
        ok = 0;
    }
    return ok;
}

/* lc_check_meta() - the fields of meta page i on their own. */
static void lc_check_meta(lc *c, int i, lc_meta *m)
{
    char where[32];
    uint64_t before = c->problems;
    snprintf(where, sizeof where, "meta page %d", i);
    if (m->magic != LC_MAGIC) {
        lc_problem(c, "%s: magic 0x%08x, not 0x%08x (not an LMDB file, or damaged)", where,
                   m->magic, LC_MAGIC);
        m->sound = 0;
        return;
    }
    if (m->version != LC_VERSION)
        lc_problem(c, "%s: data version %u, not %u", where, m->version, LC_VERSION);
    /* LMDB writes a meta page's header once, when it creates the file (or a copy),
     * and later commits rewrite only the MDB_meta after it: every header byte is
     * known. */
    if (m->pgno != (uint64_t)i || m->pgflags != LC_P_META || m->pgpad != 0 ||
        m->pgbounds != 0)
        lc_problem(c, "%s: page header says page %llu, flags 0x%x, pad %u, bounds 0x%x "
                   "(not page %d, flags 0x8, zeros)", where, (unsigned long long)m->pgno,
                   m->pgflags, m->pgpad, m->pgbounds, i);
    if (m->dbs[0].pad != c->psize)
        lc_problem(c, "%s: page size %u differs from meta page 0's %llu", where,
                   m->dbs[0].pad, (unsigned long long)c->psize);
    if ((m->dbs[0].flags & ~LC_ENV_NOSUBDIR) != LC_INTEGERKEY)
        lc_problem(c, "%s: environment flags 0x%x, not 0x8 (MDB_FIXEDMAP is not "
                   "supported)", where, m->dbs[0].flags);
    if (m->address != 0)
        lc_problem(c, "%s: fixed map address 0x%llx", where,
                   (unsigned long long)m->address);
    if (m->last_pg < 1 || m->last_pg > (LC_MAPSIZE_MAX / c->psize)) {
        lc_problem(c, "%s: last page %llu out of range", where,
                   (unsigned long long)m->last_pg);
    } else {
        if (m->mapsize < (m->last_pg + 1) * c->psize || m->mapsize > LC_MAPSIZE_MAX)
            lc_problem(c, "%s: map size %llu does not fit last page %llu", where,
                       (unsigned long long)m->mapsize, (unsigned long long)m->last_pg);
        lc_check_db(c, where, "free", &m->dbs[0], m->last_pg,
                    LC_INTEGERKEY | LC_ENV_NOSUBDIR, 1);
        lc_check_db(c, where, "main", &m->dbs[1], m->last_pg, LC_DB_FLAGS, 0);
    }
    m->sound = c->problems == before;
}

/* lc_check_pair() - what holds between the two metas: transaction t wrote page t & 1,
 * so the two txnids are consecutive (both 0 in a new environment), and the newer has
 * at least the pages of the older.  A flipped txnid breaks this, and it is exactly the
 * damage LMDB cannot see: it would silently open the older commit. */
static void lc_check_pair(lc *c, const lc_meta m[2])
{
    uint64_t t0 = m[0].txnid, t1 = m[1].txnid;
    const lc_meta *newer = t1 > t0 ? &m[1] : &m[0], *older = t1 > t0 ? &m[0] : &m[1];
    if (t0 == 0 && t1 == 0)
        return;
    if ((t0 & 1) != 0)
        lc_problem(c, "meta page 0: txnid %llu is odd (page 0 holds even transactions)",
                   (unsigned long long)t0);
    if ((t1 & 1) != 1)
        lc_problem(c, "meta page 1: txnid %llu is even (page 1 holds odd transactions)",
                   (unsigned long long)t1);
    if (newer->txnid - older->txnid != 1)
        lc_problem(c, "meta pages: txnids %llu and %llu are not consecutive",
                   (unsigned long long)t0, (unsigned long long)t1);
    if (newer->sound && older->sound && newer->last_pg < older->last_pg)
        lc_problem(c, "meta pages: newer commit %llu has last page %llu, below the older "
                   "commit's %llu", (unsigned long long)newer->txnid,
                   (unsigned long long)newer->last_pg, (unsigned long long)older->last_pg);
}

/* lc_read_metas() - read and check both meta pages; c->psize and c->last_pg are set
 * from them.  @return 0 when the trees may be walked, -1 when not. */
static int lc_read_metas(lc *c, lc_meta m[2])
{
    uint8_t buf[LC_META_LEN];
    ssize_t n = lc_read(c, 0, buf, sizeof buf);
    if (n < 0)
        return -1;
    if (n == 0) {
        lc_problem(c, "empty (0 bytes)");
        return -1;
    }
    if ((size_t)n < sizeof buf) {
        lc_problem(c, "%zd bytes, shorter than a meta page", n);
        return -1;
    }
    lc_parse_meta(buf, &m[0]);
    c->psize = m[0].dbs[0].pad;
    if (m[0].magic == LC_MAGIC && !lc_psize_ok(c->psize)) {
        lc_problem(c, "meta page 0: page size %llu is not a power of two in %u..%u",
                   (unsigned long long)c->psize, LC_PSIZE_MIN, LC_PSIZE_MAX);
        return -1;
    }
    if (m[0].magic != LC_MAGIC) {
        lc_check_meta(c, 0, &m[0]);
        return -1;
    }
    if (c->file_size < 2 * c->psize) {
        lc_problem(c, "%llu bytes, shorter than its two meta pages of %llu",
                   (unsigned long long)c->file_size, (unsigned long long)c->psize);
        return -1;
    }
    n = lc_read(c, c->psize, buf, sizeof buf);
    if (n < 0)
        return -1;
    if ((size_t)n < sizeof buf) {
        lc_problem(c, "meta page 1 cut short");
        return -1;
    }
    lc_parse_meta(buf, &m[1]);
    lc_check_meta(c, 0, &m[0]);
    lc_check_meta(c, 1, &m[1]);
    lc_check_pair(c, m);
    return m[0].sound && m[1].sound ? 0 : -1;
}

/* ---- entry point ---- */

static int lc_open(lc *c)
{
    struct stat sb;
    c->fd = open(c->path, O_RDONLY | O_CLOEXEC);
    if (c->fd < 0) {
        lc_sys_error(c, "open");
        return c->io_err;
    }
    if (fstat(c->fd, &sb) != 0) {
        lc_sys_error(c, "stat");
        return c->io_err;
    }
    if (!S_ISREG(sb.st_mode)) {
        lc_problem(c, "not a regular file");
        return TQ_ERR_DBCORRUPT;
    }
    c->file_size = (uint64_t)sb.st_size;
    return TQ_OK;
}

static int lc_walk_all(lc *c, const lc_meta *newest, unsigned flags);

int tq_lmdb_check_file(const char *data_mdb, unsigned flags, uint64_t max_problems,
                       void (*on_problem)(void *ctx, const char *what), void *ctx,
                       tq_lmdb_check_stats *stats, tq_diag *d)
{
    lc c = { .fd = -1, .path = data_mdb, .on_problem = on_problem, .ctx = ctx, .d = d,
             .max_problems = max_problems ? max_problems : 100 };
    tq_lmdb_check_stats st = { 0 };
    lc_meta m[2];
    int rc;
    c.st = &st;
    memset(m, 0, sizeof m);
    rc = lc_open(&c);
    if (rc == TQ_OK && lc_read_metas(&c, m) == 0 && !lc_stopped(&c)) {
        const lc_meta *newest = m[1].txnid > m[0].txnid ? &m[1] : &m[0];
        c.last_pg = newest->last_pg;
        st.txnid = newest->txnid;
        st.last_pg = newest->last_pg;
        lc_walk_all(&c, newest, flags);
    }
    if (c.fd >= 0)
        close(c.fd);
    st.file_size = c.file_size;
    st.page_size = c.psize;
    st.problems = c.problems;
    if (stats != NULL)
        *stats = st;
    if (c.io_err != 0)
        return c.io_err;
    if (rc != TQ_OK)
        return rc;
    return c.problems ? TQ_ERR_DBCORRUPT : TQ_OK;
}

/* ---- the walk ---- */

static int lc_walk_all(lc *c, const lc_meta *newest, unsigned flags)
{
    uint64_t need = (newest->last_pg + 1) * c->psize;
    (void)flags;
    if (c->file_size < need)
        lc_problem(c, "%llu bytes, shorter than its last page %llu needs (%llu bytes): "
                   "truncated", (unsigned long long)c->file_size,
                   (unsigned long long)newest->last_pg, (unsigned long long)need);
    return 0;
}
