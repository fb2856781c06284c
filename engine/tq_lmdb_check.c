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
#include <stddef.h>
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
#define LC_TRIES 5                  /* attempts while a writer keeps committing */

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
    char *msgs;                     /* problems of this attempt, NUL-separated: handed */
    size_t msgs_len, msgs_cap;      /* to on_problem once the file held still */
    uint8_t raw[2][LC_META_LEN];    /* the meta pages as read at the start */
    size_t raw_len[2];
    int raw_have[2];                /* whether meta page i was read */
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
    c->problems++;
    {
        size_t n = strlen(msg) + 1;
        if (c->msgs_len + n > c->msgs_cap) {
            size_t cap = c->msgs_cap ? 2 * c->msgs_cap : 4096;
            char *p = cap >= c->msgs_len + n ? realloc(c->msgs, cap) : NULL;
            if (p == NULL)
                return;             /* counted, not kept: the first ones are */
            c->msgs = p;
            c->msgs_cap = cap;
        }
        memcpy(c->msgs + c->msgs_len, msg, n);
        c->msgs_len += n;
    }
}

/* lc_deliver() - hand the problems found to the caller; the first goes into d->why. */
static void lc_deliver(lc *c)
{
    for (size_t at = 0; at < c->msgs_len; at += strlen(c->msgs + at) + 1) {
        if (at == 0 && c->d != NULL) {
            snprintf(c->d->field, sizeof c->d->field, "(database)");
            if (snprintf(c->d->why, sizeof c->d->why, "%s: %s", c->path, c->msgs) < 0)
                c->d->why[0] = '\0';   /* a long path cuts the message: fine */
        }
        if (c->on_problem != NULL)
            c->on_problem(c->ctx, c->msgs + at);
    }
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

/* A field of an LMDB record on disk: LMDB writes its structs as they are in memory
 * (native byte order), so each field is its member's bytes at a fixed offset. */
typedef struct lc_field {
    uint16_t at, size, to;   /* offset in the record; bytes; offset in the parsed struct */
} lc_field;

#define LC_FIELD(at, type, member) {(at), sizeof(((type *)0)->member), offsetof(type, member)}

/* MDB_db, a tree's record (in a meta page, and as the value of a named database). */
static const lc_field lc_db_layout[] = {
    LC_FIELD(0, lc_db, pad),     LC_FIELD(4, lc_db, flags),   LC_FIELD(6, lc_db, depth),
    LC_FIELD(8, lc_db, branch),  LC_FIELD(16, lc_db, leaf),   LC_FIELD(24, lc_db, overflow),
    LC_FIELD(32, lc_db, entries), LC_FIELD(40, lc_db, root),
};

/* A meta page: the page header, then MDB_meta (its two MDB_db parsed apart). */
static const lc_field lc_meta_layout[] = {
    LC_FIELD(0, lc_meta, pgno),
    LC_FIELD(8, lc_meta, pgpad),
    LC_FIELD(10, lc_meta, pgflags),
    LC_FIELD(12, lc_meta, pgbounds),
    LC_FIELD(LC_META_OFF, lc_meta, magic),
    LC_FIELD(LC_META_OFF + 4, lc_meta, version),
    LC_FIELD(LC_META_OFF + 8, lc_meta, address),
    LC_FIELD(LC_META_OFF + 16, lc_meta, mapsize),
    LC_FIELD(LC_META_OFF + 24 + 2 * LC_DB_LEN, lc_meta, last_pg),
    LC_FIELD(LC_META_OFF + 32 + 2 * LC_DB_LEN, lc_meta, txnid),
};

static void lc_parse(const uint8_t *p, const lc_field *f, size_t n, void *out)
{
    for (size_t i = 0; i < n; i++)
        memcpy((uint8_t *)out + f[i].to, p + f[i].at, f[i].size);
}

static void lc_parse_db(const uint8_t *p, lc_db *db)
{
    lc_parse(p, lc_db_layout, sizeof lc_db_layout / sizeof lc_db_layout[0], db);
}

static void lc_parse_meta(const uint8_t *p, lc_meta *m)
{
    lc_parse(p, lc_meta_layout, sizeof lc_meta_layout / sizeof lc_meta_layout[0], m);
    lc_parse_db(p + LC_META_OFF + 24, &m->dbs[0]);
    lc_parse_db(p + LC_META_OFF + 24 + LC_DB_LEN, &m->dbs[1]);
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

/* lc_check_meta() - the fields of meta page i on their own.  The trees and sizes are
 * checked only in the meta LMDB will use (in_use: the greater txnid, page 0 on a tie).
 * The other one is never read by LMDB, and after a commit whose meta write failed LMDB
 * itself leaves it inconsistent on purpose (mdb_env_write_meta writes the old last_pg
 * and txnid back over the new roots, so the page is never picked): judging its roots
 * would call a database damaged after a mere transient I/O error. */
static void lc_check_meta(lc *c, int i, lc_meta *m, int in_use)
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
    if (!in_use) {
        /* the header fields above, and the txnid checks of lc_check_pair(), only */
    } else if (m->last_pg < 1 || m->last_pg > (LC_MAPSIZE_MAX / c->psize)) {
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
    memcpy(c->raw[0], buf, (size_t)n);
    c->raw_len[0] = (size_t)n;
    c->raw_have[0] = 1;
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
        lc_check_meta(c, 0, &m[0], 1);
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
    memcpy(c->raw[1], buf, (size_t)n);
    c->raw_len[1] = (size_t)n;
    c->raw_have[1] = 1;
    if ((size_t)n < sizeof buf) {
        lc_problem(c, "meta page 1 cut short");
        return -1;
    }
    lc_parse_meta(buf, &m[1]);
    int in_use = m[1].txnid > m[0].txnid;      /* LMDB's mdb_env_pick_meta() */
    lc_check_meta(c, 0, &m[0], in_use == 0);
    lc_check_meta(c, 1, &m[1], in_use == 1);
    lc_check_pair(c, m);
    return m[0].sound && m[1].sound ? 0 : -1;
}

/* ---- the walk (TQ_LMDB_CHECK_TREES) ---- */

#define LC_LEVELS 96                 /* main tree and a named tree under it: 2 x 32 */
#define LC_RA_MAX 16u                /* read-ahead: at most 16 pages per pread */

enum { LC_T_FREE, LC_T_MAIN, LC_T_NAMED, LC_T_DUP };
/* The one kind of sorted duplicates thongquan uses (its indexes): fixed-size values. */
enum { LC_DUPS = LC_DUPSORT | LC_DUPFIXED, LC_P_SUBP = 0x40, LC_P_DIRTY = 0x10 };

/* One tree being walked: what its record says, and what the walk counted. */
typedef struct lc_tree {
    char name[96];                  /* for messages: "free", "main", "'decls'" */
    int kind;                       /* LC_T_* */
    lc_db db;
    uint64_t branch, leaf, overflow, entries;
    int dups;                       /* an LC_DUPS tree */
    unsigned dupsize;               /* its values' size: set by the first it holds */
} lc_tree;

/* A key bound handed from a branch page to a child: a slice of the parent's buffer. */
typedef struct lc_key {
    const uint8_t *p;
    size_t n;
} lc_key;

typedef struct lc_walk {
    uint8_t *seen;                  /* pages reached in a tree, 1 bit each */
    uint8_t *freed;                 /* pages listed in the free tree */
    uint64_t npages;                /* bits in each map: pages of the file, <= last_pg+1 */
    uint8_t *bufs[LC_LEVELS];       /* one page per nesting level */
    int level;
    uint16_t *spans;                /* scratch: node offsets of a page, for overlaps */
    uint8_t *ra;                    /* read-ahead: pages ra_pg .. ra_pg + ra_n - 1 */
    uint64_t ra_pg, ra_n, ra_want;
} lc_walk;

static int lc_bit_test_set(uint8_t *map, uint64_t i)
{
    uint8_t m = (uint8_t)(1u << (i & 7));
    int was = (map[i >> 3] & m) != 0;
    map[i >> 3] |= m;
    return was;
}

/* lc_page() - page pgno (within the file) into buf, through the read-ahead buffer:
 * trees written in order are read in order, so a miss just past the buffer doubles
 * the next read (up to LC_RA_MAX pages) and any other miss reads one page.
 * @return 0, or -1 (I/O error, or the file changed under us). */
static int lc_page(lc *c, uint64_t pgno, uint8_t *buf)
{
    lc_walk *w = c->walk;
    if (pgno < w->ra_pg || pgno >= w->ra_pg + w->ra_n) {
        uint64_t n;
        ssize_t got;
        w->ra_want = pgno == w->ra_pg + w->ra_n ? w->ra_want * 2 : 1;
        if (w->ra_want > LC_RA_MAX)
            w->ra_want = LC_RA_MAX;
        n = w->ra_want;
        if (pgno + n > w->npages)
            n = w->npages - pgno;
        got = lc_read(c, pgno * c->psize, w->ra, n * c->psize);
        if (got < 0)
            return -1;
        if ((uint64_t)got < c->psize) {
            lc_problem(c, "page %llu: cut short while reading", (unsigned long long)pgno);
            return -1;
        }
        w->ra_pg = pgno;
        w->ra_n = (uint64_t)got / c->psize;
    }
    memcpy(buf, w->ra + (pgno - w->ra_pg) * c->psize, c->psize);
    c->st->pages_visited++;
    return 0;
}

/* lc_claim() - page pgno of tree t is reached: it must be in the file and reached once.
 * @return 0 when it may be read. */
static int lc_claim(lc *c, const lc_tree *t, uint64_t pgno, const char *what)
{
    if (pgno < 2 || pgno > c->last_pg) {
        lc_problem(c, "tree %s: %s page %llu outside 2..%llu", t->name, what,
                   (unsigned long long)pgno, (unsigned long long)c->last_pg);
        return -1;
    }
    if (pgno >= c->walk->npages) {
        lc_problem(c, "tree %s: %s page %llu is beyond the end of the file (%llu bytes)",
                   t->name, what, (unsigned long long)pgno,
                   (unsigned long long)c->file_size);
        return -1;
    }
    if (lc_bit_test_set(c->walk->seen, pgno)) {
        lc_problem(c, "tree %s: %s page %llu reached twice (a loop, or pages shared)",
                   t->name, what, (unsigned long long)pgno);
        return -1;
    }
    return 0;
}

/* lc_cmp() - LMDB's key order for a tree of these flags (mdb_cmp_memn, mdb_cmp_memnr,
 * mdb_cmp_cint on a little-endian host).  Integer keys of unequal sizes were refused
 * before. */
static int lc_cmp(unsigned flags, const uint8_t *a, size_t an, const uint8_t *b, size_t bn)
{
    size_t n = an < bn ? an : bn;
    if (flags & LC_INTEGERKEY) {
        for (size_t i = an; i-- > 0;)
            if (a[i] != b[i])
                return a[i] < b[i] ? -1 : 1;
        return 0;
    }
    if (flags & LC_REVERSEKEY) {
        for (size_t i = 1; i <= n; i++)
            if (a[an - i] != b[bn - i])
                return a[an - i] < b[bn - i] ? -1 : 1;
    } else {
        int r = n ? memcmp(a, b, n) : 0;
        if (r != 0)
            return r;
    }
    return an < bn ? -1 : an > bn;
}

static int lc_span_cmp(const void *a, const void *b)
{
    uint16_t x = *(const uint16_t *)a, y = *(const uint16_t *)b;
    return x < y ? -1 : x > y;
}

/* lc_node_end() - where node i of page p ends, or 0 when its header or key leave the
 * page.  A leaf node's data is the 8-byte page number when F_BIGDATA. */
static uint64_t lc_node_end(const lc *c, const uint8_t *p, unsigned off, int leaf)
{
    uint64_t end;
    if (off + LC_NODESIZE > c->psize)
        return 0;
    end = off + LC_NODESIZE + lc_u16(p + off + 6);
    if (leaf) {
        uint16_t fl = lc_u16(p + off + 4);
        end += (fl & LC_F_BIGDATA) ? 8 : (lc_u16(p + off) | (uint64_t)lc_u16(p + off + 2) << 16);
    }
    return end <= c->psize ? end : 0;
}

/* lc_check_layout() - header, bounds and node offsets of a branch or leaf page.
 * @return the number of nodes, or 0 when the page cannot be read further. */
static unsigned lc_check_layout(lc *c, const lc_tree *t, uint64_t pgno, const uint8_t *p,
                                int leaf)
{
    uint16_t flags = lc_u16(p + 10), lower = lc_u16(p + 12), upper = lc_u16(p + 14);
    unsigned n, i;
    if (lc_u64(p) != pgno) {
        lc_problem(c, "tree %s: page %llu says it is page %llu", t->name,
                   (unsigned long long)pgno, (unsigned long long)lc_u64(p));
        return 0;
    }
    if (flags != (leaf ? LC_P_LEAF : LC_P_BRANCH)) {
        lc_problem(c, "tree %s: page %llu: flags 0x%x, expected a %s page", t->name,
                   (unsigned long long)pgno, flags, leaf ? "leaf" : "branch");
        return 0;
    }
    if (lower < LC_HDR + 2 || (lower & 1) || lower > upper || upper > c->psize) {
        lc_problem(c, "tree %s: page %llu: bounds lower %u, upper %u out of order or size",
                   t->name, (unsigned long long)pgno, lower, upper);
        return 0;
    }
    n = (lower - LC_HDR) >> 1;
    for (i = 0; i < n; i++) {
        unsigned off = lc_u16(p + LC_HDR + 2 * i);
        if (off < upper || (off & 1) || lc_node_end(c, p, off, leaf) == 0) {
            lc_problem(c, "tree %s: page %llu: node %u at offset %u outside %u..%llu or "
                       "overrunning the page", t->name, (unsigned long long)pgno, i, off,
                       upper, (unsigned long long)c->psize);
            return 0;
        }
        c->walk->spans[i] = (uint16_t)off;
    }
    /* LMDB packs nodes from upper to the end of the page, each rounded up to an even
     * size (mdb_node_add, mdb_node_del): sorted by offset, each must end where the next
     * begins.  A flipped offset, key size or data size breaks that chain. */
    qsort(c->walk->spans, n, sizeof *c->walk->spans, lc_span_cmp);
    for (i = 0; i < n; i++) {
        uint64_t end = (lc_node_end(c, p, c->walk->spans[i], leaf) + 1) & ~(uint64_t)1;
        uint64_t next = i + 1 < n ? c->walk->spans[i + 1] : c->psize;
        if ((i == 0 && c->walk->spans[0] != upper) || end != next) {
            lc_problem(c, "tree %s: page %llu: nodes do not fill %u..%llu (node at offset "
                       "%u ends at %llu, next at %llu: overlap or gap)", t->name,
                       (unsigned long long)pgno, upper, (unsigned long long)c->psize,
                       c->walk->spans[i], (unsigned long long)end,
                       (unsigned long long)next);
            return 0;
        }
    }
    return n;
}

/* lc_check_keys() - key sizes, order within the page and within the bounds the parent
 * gave (lo <= key < hi).  Node 0 of a branch page has no key LMDB looks at. */
static int lc_check_keys(lc *c, const lc_tree *t, uint64_t pgno, const uint8_t *p,
                         unsigned n, int leaf, lc_key lo, lc_key hi)
{
    unsigned fl = t->db.flags;
    const uint8_t *prev = NULL;
    size_t prevn = 0;
    for (unsigned i = leaf ? 0 : 1; i < n; i++) {
        unsigned off = lc_u16(p + LC_HDR + 2 * i);
        size_t kn = lc_u16(p + off + 6);
        const uint8_t *k = p + off + LC_NODESIZE;
        const char *bad = NULL;
        if (kn < 1 || kn > LC_MAXKEY)
            bad = "key size outside 1..511";
        else if ((fl & LC_INTEGERKEY) && kn != 4 && kn != 8)
            bad = "integer key not 4 or 8 bytes";
        else if ((fl & LC_INTEGERKEY) && prev != NULL && kn != prevn)
            bad = "integer keys of different sizes";
        else if (prev != NULL && lc_cmp(fl, prev, prevn, k, kn) >= 0)
            bad = "key not above the one before";
        else if (lo.p != NULL && (((fl & LC_INTEGERKEY) && kn != lo.n) ||
                                  lc_cmp(fl, k, kn, lo.p, lo.n) < 0))
            bad = "key below its parent's separator";
        else if (hi.p != NULL && (((fl & LC_INTEGERKEY) && kn != hi.n) ||
                                  lc_cmp(fl, k, kn, hi.p, hi.n) >= 0))
            bad = "key not below the next separator";
        if (bad != NULL) {
            lc_problem(c, "tree %s: page %llu: node %u: %s", t->name,
                       (unsigned long long)pgno, i, bad);
            return -1;
        }
        prev = k;
        prevn = kn;
    }
    return 0;
}

static uint8_t *lc_level_buf(lc *c, int level)
{
    lc_walk *w = c->walk;
    if (level >= LC_LEVELS) {
        lc_problem(c, "trees nested deeper than %d levels", LC_LEVELS);
        return NULL;
    }
    if (w->bufs[level] == NULL && (w->bufs[level] = malloc(c->psize)) == NULL) {
        errno = ENOMEM;
        lc_sys_error(c, "page buffer");
    }
    return w->bufs[level];
}

/* lc_overflow() - the overflow run holding dsize bytes of node i: within the file,
 * reached once, with a header that says so. */
static int lc_overflow(lc *c, lc_tree *t, uint64_t pgno, unsigned i, uint64_t opg,
                       uint64_t dsize)
{
    uint64_t np = (LC_HDR - 1 + dsize) / c->psize + 1;   /* OVPAGES */
    uint8_t *p = lc_level_buf(c, c->walk->level);
    if (p == NULL)
        return -1;
    if (opg < 2 || opg > c->last_pg || np > c->last_pg - opg + 1) {
        lc_problem(c, "tree %s: page %llu: node %u: overflow pages %llu..%llu outside "
                   "2..%llu", t->name, (unsigned long long)pgno, i, (unsigned long long)opg,
                   (unsigned long long)(opg + np - 1), (unsigned long long)c->last_pg);
        return -1;
    }
    for (uint64_t k = 0; k < np; k++)
        if (lc_claim(c, t, opg + k, "overflow") != 0)
            return -1;
    if (lc_page(c, opg, p) != 0)
        return -1;
    if (lc_u64(p) != opg || lc_u16(p + 10) != LC_P_OVERFLOW || lc_u32(p + 12) != np) {
        lc_problem(c, "tree %s: overflow page %llu says page %llu, flags 0x%x, %u pages "
                   "(expected %llu)", t->name, (unsigned long long)opg,
                   (unsigned long long)lc_u64(p), lc_u16(p + 10), lc_u32(p + 12),
                   (unsigned long long)np);
        return -1;
    }
    t->overflow += np;
    return 0;
}

/* lc_free_ids() - a free-tree record: a count then that many page numbers (an MDB_IDL;
 * a record reserved longer than its list has spare room after it).  Every page listed
 * must be a page of the file's range, listed once. */
static void lc_free_ids(lc *c, const lc_tree *t, uint64_t pgno, const uint8_t *inline_data,
                        uint64_t opg, uint64_t dsize)
{
    uint8_t *blk = NULL;
    uint64_t count = 0, blk_off = 0, blk_len = 0;
    if (dsize < 8 || dsize % 8 != 0) {
        lc_problem(c, "tree %s: page %llu: free list of %llu bytes, not a multiple of 8",
                   t->name, (unsigned long long)pgno, (unsigned long long)dsize);
        return;
    }
    if (inline_data == NULL && (blk = lc_level_buf(c, c->walk->level)) == NULL)
        return;
    for (uint64_t j = 0; j * 8 < dsize && (j == 0 || j <= count); j++) {
        uint64_t id;
        if (inline_data != NULL) {
            id = lc_u64(inline_data + j * 8);
        } else {
            if (j * 8 >= blk_off + blk_len) {   /* next block of the overflow run */
                blk_off = j * 8;
                blk_len = dsize - blk_off < c->psize ? dsize - blk_off : c->psize;
                if (lc_read(c, opg * c->psize + LC_HDR + blk_off, blk, blk_len) !=
                    (ssize_t)blk_len)
                    return;
            }
            id = lc_u64(blk + (j * 8 - blk_off));
        }
        if (j == 0) {
            count = id;
            if (count > dsize / 8 - 1) {
                lc_problem(c, "tree %s: page %llu: free list claims %llu pages in %llu "
                           "bytes", t->name, (unsigned long long)pgno,
                           (unsigned long long)count, (unsigned long long)dsize);
                return;
            }
        } else if (id < 2 || id > c->last_pg) {
            lc_problem(c, "tree %s: page %llu: free page %llu outside 2..%llu", t->name,
                       (unsigned long long)pgno, (unsigned long long)id,
                       (unsigned long long)c->last_pg);
            return;
        } else if (id < c->walk->npages && lc_bit_test_set(c->walk->freed, id)) {
            lc_problem(c, "tree %s: page %llu: page %llu listed free twice", t->name,
                       (unsigned long long)pgno, (unsigned long long)id);
            return;
        }
    }
}

static void lc_walk_tree(lc *c, lc_tree *t);

/* lc_named() - a main-tree node that names a database: its MDB_db, then its tree. */
static void lc_named(lc *c, const lc_tree *main, uint64_t pgno, const uint8_t *node)
{
    lc_tree sub;
    char q[80], where[256];
    size_t kn = lc_u16(node + 6);
    memset(&sub, 0, sizeof sub);
    tq_diag_quote((const char *)node + LC_NODESIZE, kn, q, sizeof q);
    snprintf(sub.name, sizeof sub.name, "'%s'", q);
    snprintf(where, sizeof where, "tree %s: page %llu: database '%s'", main->name,
             (unsigned long long)pgno, q);
    if ((lc_u16(node) | (uint64_t)lc_u16(node + 2) << 16) != LC_DB_LEN) {
        lc_problem(c, "%s: record of %u bytes, not %u", where,
                   lc_u16(node) | (unsigned)lc_u16(node + 2) << 16, LC_DB_LEN);
        return;
    }
    lc_parse_db(node + LC_NODESIZE + kn, &sub.db);
    if (!lc_check_db(c, where, "its", &sub.db, c->last_pg, LC_DB_FLAGS, 0))
        return;
    if ((sub.db.flags & (LC_DUPSORT | LC_DUPFIXED | LC_INTEGERDUP | LC_REVERSEDUP)) != 0 &&
        (sub.db.flags & ~(unsigned)LC_REVERSEKEY) != LC_DUPS) {
        lc_problem(c, "%s: sorted duplicates (flags 0x%x, size %u) other than fixed-size "
                   "ones are not checked: not a thongquan table", where, sub.db.flags,
                   sub.db.pad);
        return;
    }
    sub.dups = (sub.db.flags & LC_DUPSORT) != 0;
    sub.kind = LC_T_NAMED;
    lc_walk_tree(c, &sub);
}

/* lc_leaf2_keys() - n fixed-size keys packed after a LEAF2 header at p (a page of a
 * dup tree, or a sub-page of size `size`): within it and strictly ascending, within
 * [lo, hi).  @return 0, or -1 (problem reported). */
static int lc_leaf2_keys(lc *c, const lc_tree *t, uint64_t pgno, const uint8_t *p,
                         uint64_t size, unsigned ks, lc_key lo, lc_key hi)
{
    uint16_t lower = lc_u16(p + 12), upper = lc_u16(p + 14);
    unsigned n = lower >= LC_HDR ? (lower - LC_HDR) / 2u : 0;
    if (lower < LC_HDR + 2 || (lower & 1) || lower > upper || upper > size ||
        LC_HDR + (uint64_t)n * ks > size) {
        lc_problem(c, "tree %s: page %llu: fixed-size entries: bounds lower %u, upper %u "
                   "do not fit %u entries of %u bytes in %llu", t->name,
                   (unsigned long long)pgno, lower, upper, n, ks, (unsigned long long)size);
        return -1;
    }
    for (unsigned i = 0; i < n; i++) {
        const uint8_t *k = p + LC_HDR + (size_t)i * ks;
        if ((i > 0 && memcmp(k - ks, k, ks) >= 0) ||
            (i == 0 && lo.p != NULL && lc_cmp(0, k, ks, lo.p, lo.n) < 0) ||
            (i + 1 == n && hi.p != NULL && lc_cmp(0, k, ks, hi.p, hi.n) >= 0)) {
            lc_problem(c, "tree %s: page %llu: fixed-size entry %u out of order", t->name,
                       (unsigned long long)pgno, i);
            return -1;
        }
    }
    return (int)n;
}

/* lc_dups() - the duplicates of one key of an LC_DUPS tree: a sub-page in the node
 * (F_DUPDATA) or a tree of their own (F_DUPDATA | F_SUBDATA), walked and counted.
 * @return the number of values, or -1. */
static long long lc_dups(lc *c, lc_tree *t, uint64_t pgno, unsigned i, uint16_t fl,
                         const uint8_t *data, uint64_t dsize)
{
    const lc_key none = { NULL, 0 };
    char where[160];
    if (!(fl & LC_F_SUBDATA)) {
        uint16_t pf = dsize >= LC_HDR ? lc_u16(data + 10) : 0;
        if ((pf & ~(unsigned)LC_P_DIRTY) != (LC_P_LEAF | LC_P_LEAF2 | LC_P_SUBP)) {
            lc_problem(c, "tree %s: page %llu: node %u: sub-page of %llu bytes, flags 0x%x",
                       t->name, (unsigned long long)pgno, i, (unsigned long long)dsize, pf);
            return -1;
        }
        return lc_leaf2_keys(c, t, pgno, data, dsize, t->dupsize, none, none);
    }
    lc_tree sub;
    memset(&sub, 0, sizeof sub);
    snprintf(sub.name, sizeof sub.name, "%.60s (duplicates)", t->name);
    snprintf(where, sizeof where, "tree %s: page %llu: node %u", t->name,
             (unsigned long long)pgno, i);
    if (dsize != LC_DB_LEN) {
        lc_problem(c, "%s: duplicates record of %llu bytes, not %u", where,
                   (unsigned long long)dsize, LC_DB_LEN);
        return -1;
    }
    lc_parse_db(data, &sub.db);
    if (!lc_check_db(c, where, "duplicates", &sub.db, c->last_pg, LC_DUPFIXED, 0))
        return -1;
    if (sub.db.pad != t->dupsize || sub.db.root == LC_PINVALID) {
        lc_problem(c, "%s: duplicates tree of %u-byte values (or empty), not %u", where,
                   sub.db.pad, t->dupsize);
        return -1;
    }
    sub.kind = LC_T_DUP;
    sub.dupsize = t->dupsize;
    uint64_t before = c->problems;
    lc_walk_tree(c, &sub);
    return c->problems == before ? (long long)sub.entries : -1;
}

/* lc_leaf_nodes() - the data of each node of a leaf page, by the kind of tree. */
static void lc_leaf_nodes(lc *c, lc_tree *t, uint64_t pgno, const uint8_t *p, unsigned n)
{
    for (unsigned i = 0; i < n && !lc_stopped(c); i++) {
        const uint8_t *node = p + lc_u16(p + LC_HDR + 2 * i);
        uint16_t fl = lc_u16(node + 4), kn = lc_u16(node + 6);
        uint64_t dsize = lc_u16(node) | (uint64_t)lc_u16(node + 2) << 16;
        const uint8_t *data = node + LC_NODESIZE + kn;
        if (t->dups) {
            /* a key with one value holds it plainly; with more, F_DUPDATA: a sub-page
             * (its size in the header's pad) or a tree (its size in the record's) */
            unsigned ks = fl == 0 ? (unsigned)dsize
                          : fl & LC_F_SUBDATA ? (dsize == LC_DB_LEN ? lc_u32(data) : 0)
                                              : (dsize >= LC_HDR ? lc_u16(data + 8) : 0);
            if (t->dupsize == 0)
                t->dupsize = ks;
            if (ks != t->dupsize || ks == 0 || ks > LC_MAXKEY) {
                lc_problem(c, "tree %s: page %llu: node %u: values of %u bytes, not %u",
                           t->name, (unsigned long long)pgno, i, ks, t->dupsize);
                return;
            }
            long long nd = fl == 0 ? 1
                           : fl == LC_F_DUPDATA || fl == (LC_F_DUPDATA | LC_F_SUBDATA)
                               ? lc_dups(c, t, pgno, i, fl, data, dsize)
                               : -2;
            if (nd == -2)
                lc_problem(c, "tree %s: page %llu: node %u: flags 0x%x, %llu bytes", t->name,
                           (unsigned long long)pgno, i, fl, (unsigned long long)dsize);
            if (nd < 0)
                return;
            t->entries += (uint64_t)nd - 1;
            continue;
        }
        unsigned allowed = t->kind == LC_T_MAIN ? (LC_F_BIGDATA | LC_F_SUBDATA) : LC_F_BIGDATA;
        if ((fl & ~allowed) != 0 || fl == (LC_F_BIGDATA | LC_F_SUBDATA)) {
            lc_problem(c, "tree %s: page %llu: node %u: flags 0x%x", t->name,
                       (unsigned long long)pgno, i, fl);
            return;
        }
        if ((fl & LC_F_BIGDATA) && lc_overflow(c, t, pgno, i, lc_u64(data), dsize) != 0)
            return;
        if (t->kind == LC_T_FREE)
            lc_free_ids(c, t, pgno, (fl & LC_F_BIGDATA) ? NULL : data,
                        (fl & LC_F_BIGDATA) ? lc_u64(data) : 0, dsize);
        else if (fl & LC_F_SUBDATA)
            lc_named(c, t, pgno, node);
    }
}

/* lc_walk_page() - page pgno of tree t at depth (the root is 1), its keys within
 * [lo, hi), then its children or its data. */
static void lc_walk_page(lc *c, lc_tree *t, uint64_t pgno, unsigned depth, lc_key lo,
                         lc_key hi)
{
    uint8_t *p = lc_level_buf(c, c->walk->level);
    int leaf = depth == t->db.depth;
    unsigned n;
    if (p == NULL || lc_page(c, pgno, p) != 0)
        return;
    if (leaf && t->kind == LC_T_DUP) {
        int got = -1;
        if (lc_u64(p) != pgno || lc_u16(p + 10) != (LC_P_LEAF | LC_P_LEAF2))
            lc_problem(c, "tree %s: page %llu says page %llu, flags 0x%x (a leaf of "
                       "fixed-size entries expected)", t->name, (unsigned long long)pgno,
                       (unsigned long long)lc_u64(p), lc_u16(p + 10));
        else
            got = lc_leaf2_keys(c, t, pgno, p, c->psize, t->dupsize, lo, hi);
        if (got > 0) {
            t->leaf++;
            t->entries += (uint64_t)got;
        }
        return;
    }
    n = lc_check_layout(c, t, pgno, p, leaf);
    if (n == 0 || lc_check_keys(c, t, pgno, p, n, leaf, lo, hi) != 0)
        return;
    c->walk->level++;
    if (leaf) {
        t->leaf++;
        t->entries += n;
        lc_leaf_nodes(c, t, pgno, p, n);
    } else {
        t->branch++;
        for (unsigned i = 0; i < n && !lc_stopped(c); i++) {
            const uint8_t *node = p + lc_u16(p + LC_HDR + 2 * i);
            uint64_t child = lc_u16(node) | (uint64_t)lc_u16(node + 2) << 16 |
                             (uint64_t)lc_u16(node + 4) << 32;
            lc_key clo = lo, chi = hi;
            if (i > 0)
                clo = (lc_key){ node + LC_NODESIZE, lc_u16(node + 6) };
            if (i + 1 < n) {
                const uint8_t *next = p + lc_u16(p + LC_HDR + 2 * (i + 1));
                chi = (lc_key){ next + LC_NODESIZE, lc_u16(next + 6) };
            }
            if (lc_claim(c, t, child, "child") == 0)
                lc_walk_page(c, t, child, depth + 1, clo, chi);
        }
    }
    c->walk->level--;
}

/* lc_walk_tree() - every page of tree t, then its counts against its record. */
static void lc_walk_tree(lc *c, lc_tree *t)
{
    uint64_t before = c->problems;
    const lc_key none = { NULL, 0 };
    if (t->db.root == LC_PINVALID)
        return;
    if (lc_claim(c, t, t->db.root, "root") != 0)
        return;
    lc_walk_page(c, t, t->db.root, 1, none, none);
    if (c->problems != before || lc_stopped(c))
        return;
    if (t->branch != t->db.branch || t->leaf != t->db.leaf ||
        t->overflow != t->db.overflow || t->entries != t->db.entries)
        lc_problem(c, "tree %s: has %llu branch, %llu leaf, %llu overflow pages and %llu "
                   "entries; its record says %llu, %llu, %llu and %llu", t->name,
                   (unsigned long long)t->branch, (unsigned long long)t->leaf,
                   (unsigned long long)t->overflow, (unsigned long long)t->entries,
                   (unsigned long long)t->db.branch, (unsigned long long)t->db.leaf,
                   (unsigned long long)t->db.overflow, (unsigned long long)t->db.entries);
}

/* lc_free_in_use() - a page both listed free and used by a tree would be handed out
 * by LMDB while still in use: the next commits would overwrite live data. */
static void lc_free_in_use(lc *c)
{
    const lc_walk *w = c->walk;
    for (uint64_t b = 0; b < (w->npages + 7) / 8 && !lc_stopped(c); b++) {
        uint8_t both = w->seen[b] & w->freed[b];
        for (unsigned k = 0; both != 0 && k < 8; k++, both >>= 1)
            if (both & 1)
                lc_problem(c, "page %llu is listed free but used by a tree",
                           (unsigned long long)(b * 8 + k));
    }
}

static void lc_walk_release(lc_walk *w)
{
    for (int i = 0; i < LC_LEVELS; i++)
        free(w->bufs[i]);
    free(w->seen);
    free(w->freed);
    free(w->spans);
    free(w->ra);
}

/* lc_walk_all() - with TQ_LMDB_CHECK_TREES, or when the file is shorter than the newest
 * meta's last page: LMDB may leave trailing free pages unwritten (mdb.c: "the file may
 * be shorter if the freeDB lists the final pages"; mdb_env_copy clamps to the file
 * size), so a short file is damage only when a page in use lies past its end, and only
 * the walk can tell. */
static void lc_walk_all(lc *c, const lc_meta *newest, unsigned flags)
{
    lc_walk w;
    lc_tree free_t = { .name = "free", .kind = LC_T_FREE, .db = newest->dbs[0] };
    lc_tree main_t = { .name = "main", .kind = LC_T_MAIN, .db = newest->dbs[1] };
    uint64_t file_pages = c->file_size / c->psize;
    if (!(flags & TQ_LMDB_CHECK_TREES) && file_pages > newest->last_pg)
        return;
    memset(&w, 0, sizeof w);
    w.npages = file_pages < newest->last_pg + 1 ? file_pages : newest->last_pg + 1;
    w.seen = calloc((size_t)(w.npages + 7) / 8, 1);
    w.freed = calloc((size_t)(w.npages + 7) / 8, 1);
    w.spans = malloc(c->psize / 2 * sizeof *w.spans);
    w.ra = malloc(LC_RA_MAX * c->psize);
    c->walk = &w;
    if (w.seen == NULL || w.freed == NULL || w.spans == NULL || w.ra == NULL) {
        errno = ENOMEM;
        lc_sys_error(c, "page maps");
    } else {
        free_t.db.pad = 0;          /* the page size there, not a key size */
        lc_walk_tree(c, &free_t);
        lc_walk_tree(c, &main_t);
        lc_free_in_use(c);
    }
    c->walk = NULL;
    lc_walk_release(&w);
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
    return TQ_OK;
}

/* lc_attempt() - one check of the open file, from its current size. */
static void lc_attempt(lc *c, unsigned flags)
{
    struct stat sb;
    lc_meta m[2];
    memset(m, 0, sizeof m);
    memset(c->st, 0, sizeof *c->st);
    c->problems = 0;
    c->msgs_len = 0;
    c->raw_have[0] = c->raw_have[1] = 0;
    if (fstat(c->fd, &sb) != 0) {
        lc_sys_error(c, "stat");
        return;
    }
    c->file_size = (uint64_t)sb.st_size;
    if (lc_read_metas(c, m) == 0 && !lc_stopped(c)) {
        const lc_meta *newest = m[1].txnid > m[0].txnid ? &m[1] : &m[0];
        c->last_pg = newest->last_pg;
        c->st->txnid = newest->txnid;
        c->st->last_pg = newest->last_pg;
        lc_walk_all(c, newest, flags);
    }
}

/* lc_moved() - whether a writer committed since the attempt began: the meta pages or
 * the size differ.  Readers of LMDB are not seen by LMDB's writer, so two commits
 * during a walk may recycle the pages of the snapshot being walked, and a meta page
 * read while it is written may be torn: problems found then prove nothing. */
static int lc_moved(lc *c)
{
    uint8_t buf[LC_META_LEN];
    struct stat sb;
    if (fstat(c->fd, &sb) != 0 || (uint64_t)sb.st_size != c->file_size)
        return 1;
    for (int i = 0; i < 2; i++) {
        uint64_t off = i == 0 ? 0 : c->psize;
        ssize_t n;
        if (!c->raw_have[i])
            continue;
        n = lc_read(c, off, buf, sizeof buf);
        if (n < 0 || (size_t)n != c->raw_len[i] || memcmp(buf, c->raw[i], (size_t)n) != 0)
            return 1;
    }
    return 0;
}

int tq_lmdb_check_file(const char *data_mdb, unsigned flags, uint64_t max_problems,
                       void (*on_problem)(void *ctx, const char *what), void *ctx,
                       tq_lmdb_check_stats *stats, tq_diag *d)
{
    lc c = { .fd = -1, .path = data_mdb, .on_problem = on_problem, .ctx = ctx, .d = d,
             .max_problems = max_problems ? max_problems : 100 };
    tq_lmdb_check_stats st = { 0 };
    int rc, tries = 0;
    c.st = &st;
    rc = lc_open(&c);
    if (rc == TQ_OK) {
        for (;;) {
            lc_attempt(&c, flags);
            if (c.problems == 0 || c.io_err != 0 || !lc_moved(&c))
                break;
            if (++tries == LC_TRIES) {
                c.problems = 0;
                c.msgs_len = 0;
                lc_problem(&c, "changed under the check %d times running (a writer "
                           "committing fast?): not checked", LC_TRIES);
                rc = TQ_ERR_BUSY;
                break;
            }
        }
    }
    if (c.io_err == 0)
        lc_deliver(&c);
    if (c.fd >= 0)
        close(c.fd);
    free(c.msgs);
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
