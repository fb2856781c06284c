/* tq_nightly.c - the nightly job's library (tq_nightly.h): inbox folders, scan, claim,
 * stage with SHA-256, load with the ledger in the load's transaction, file away. */
#include "tq_nightly.h"
#include "tq_grow.h"
#include "tq_num.h"
#include "tq_out.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/evp.h>

#define STATE_DIR ".thongquan"

enum { F_STATE, F_WORK, F_DONE, F_FAILED, F_DUP, F_COUNT };

static const struct {
    const char *name;
    mode_t mode;
} folders[F_COUNT] = {
    {STATE_DIR, 0700}, {"work", 0700}, {"done", 0750}, {"failed", 0750}, {"duplicate", 0750},
};

struct tq_nightly {
    char *path;                 /* the inbox as given, for messages and state paths */
    int inbox;                  /* the inbox's descriptor */
    int fd[F_COUNT];            /* the folders' descriptors */
};

/* ---- errors ---- */

static int from_errno(int e)
{
    switch (e) {
    case ENOENT: return TQ_ERR_NOTFOUND;
    case EEXIST:
    case ENOTEMPTY: return TQ_ERR_EXISTS;
    default: return tq_errno(e);
    }
}

/* sys_fail() - d names what failed: "permission denied: PATH" for a permission problem
 * (issue 15: never said as busy or full disk), else "PATH: strerror". */
static int sys_fail(tq_diag *d, int e, const char *dir, const char *what)
{
    int rc = from_errno(e);
    char q[80];
    tq_diag_quote(what, strlen(what), q, sizeof q);
    if (rc == TQ_ERR_PERM)
        tq_diag_set(d, "(inbox)", "permission denied: %s/%s", dir, q);
    else
        tq_diag_set(d, "(inbox)", "%s/%s: %s", dir, q, strerror(e));
    return rc;
}

/* ---- names ---- */

int tq_nightly_kind_of(const char *name)
{
    size_t n = strlen(name);
    if (n < 4 || strcmp(name + n - 4, ".csv") != 0 || name[0] == '.')
        return 0;
    if (strncmp(name, "permits", 7) == 0)
        return TQ_LOAD_PERMITS;
    if (strncmp(name, "payments", 8) == 0)
        return TQ_LOAD_PAYMENTS;
    return 0;
}

char *tq_nightly_quote(const char *name)
{
    size_t n = strlen(name), o = 0;
    char *out = malloc(4 * n + 1);
    if (out == NULL)
        return NULL;
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)name[i];
        if (c > 0x20 && c < 0x7f && c != '\\')
            out[o++] = (char)c;
        else
            o += (size_t)sprintf(out + o, "\\x%02x", c);
    }
    out[o] = '\0';
    return out;
}

char *tq_nightly_hex_name(const char *name)
{
    size_t n = strlen(name);
    char *h = malloc(2 * n + 1);
    if (h)
        tq_hex(name, n, h);
    return h;
}

/* ---- folders ---- */

/* check_dir() - fd is a directory of ours that nobody else may write into. */
static int check_dir(int fd, const char *dir, const char *name, tq_diag *d)
{
    struct stat st;
    if (fstat(fd, &st) != 0)
        return sys_fail(d, errno, dir, name);
    if (!S_ISDIR(st.st_mode))
        return tq_diag_set(d, "(inbox)", "%s/%s is not a directory", dir, name);
    if (st.st_uid != geteuid())
        return tq_diag_set(d, "(inbox)",
                           "%s/%s belongs to uid %ld, not to this job's user (uid %ld): "
                           "refused; remove it and let the job create it",
                           dir, name, (long)st.st_uid, (long)geteuid());
    if (st.st_mode & 022)
        return tq_diag_set(d, "(inbox)",
                           "%s/%s is writable by group or others (mode %04o): refused; "
                           "chmod go-w it", dir, name, (unsigned)(st.st_mode & 07777));
    return TQ_OK;
}

/* open_dir() - open (creating with mode) name under parent, never through a link. */
static int open_dir(int parent, const char *dir, const char *name, mode_t mode, int *out,
                    tq_diag *d)
{
    if (mkdirat(parent, name, mode) != 0 && errno != EEXIST)
        return sys_fail(d, errno, dir, name);
    int fd = openat(parent, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    if (fd < 0) {
        if (errno == ELOOP || errno == ENOTDIR)
            return tq_diag_set(d, "(inbox)",
                               "%s/%s is a link or not a directory: refused (remove it)",
                               dir, name);
        return sys_fail(d, errno, dir, name);
    }
    int rc = check_dir(fd, dir, name, d);
    if (rc != TQ_OK) {
        close(fd);
        return rc;
    }
    *out = fd;
    return TQ_OK;
}

/* check_inbox() - the inbox is ours; if others may write it, it is sticky, so that they
 * cannot rename the job's folders or the file it is handling. */
static int check_inbox(tq_nightly *n, tq_diag *d)
{
    struct stat st;
    if (fstat(n->inbox, &st) != 0)
        return sys_fail(d, errno, n->path, ".");
    if (st.st_uid != geteuid())
        return tq_diag_set(d, "(inbox)",
                           "%s belongs to uid %ld, not to this job's user (uid %ld): the job "
                           "must own its inbox (chown it)",
                           n->path, (long)st.st_uid, (long)geteuid());
    if ((st.st_mode & 022) && !(st.st_mode & S_ISVTX))
        return tq_diag_set(d, "(inbox)",
                           "%s is writable by others but not sticky (mode %04o): a sender "
                           "could rename the job's folders; chmod +t it (1770)",
                           n->path, (unsigned)(st.st_mode & 07777));
    return TQ_OK;
}

int tq_nightly_open(const char *path, tq_nightly **out, tq_diag *d)
{
    *out = NULL;
    tq_nightly *n = calloc(1, sizeof *n);
    if (n == NULL || (n->path = strdup(path)) == NULL) {
        free(n);
        return TQ_ERR_NOMEM;
    }
    for (int i = 0; i < F_COUNT; i++)
        n->fd[i] = -1;
    int rc = TQ_OK;
    n->inbox = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (n->inbox < 0) {
        rc = from_errno(errno);
        if (rc == TQ_ERR_PERM)
            tq_diag_set(d, "(inbox)", "permission denied: %s", path);
        else
            tq_diag_set(d, "(inbox)", "the inbox %s: %s", path, strerror(errno));
    }
    if (rc == TQ_OK)
        rc = check_inbox(n, d);
    for (int i = 0; i < F_COUNT && rc == TQ_OK; i++) {
        int parent = i == F_WORK ? n->fd[F_STATE] : n->inbox;
        char *dir = i == F_WORK ? tq_nightly_state_path(n, NULL) : n->path;
        rc = dir ? open_dir(parent, dir, folders[i].name, folders[i].mode, &n->fd[i], d)
                 : TQ_ERR_NOMEM;
        if (dir != n->path)
            free(dir);
    }
    if (rc != TQ_OK) {
        tq_nightly_close(n);
        return rc;
    }
    *out = n;
    return TQ_OK;
}

void tq_nightly_close(tq_nightly *n)
{
    if (n == NULL)
        return;
    for (int i = 0; i < F_COUNT; i++)
        if (n->fd[i] >= 0)
            close(n->fd[i]);
    if (n->inbox >= 0)
        close(n->inbox);
    free(n->path);
    free(n);
}

char *tq_nightly_state_path(const tq_nightly *n, const char *name)
{
    size_t len = strlen(n->path) + sizeof STATE_DIR + (name ? strlen(name) + 1 : 0) + 1;
    char *p = malloc(len);
    if (p)
        snprintf(p, len, "%s/%s%s%s", n->path, STATE_DIR, name ? "/" : "", name ? name : "");
    return p;
}

/* ---- scan ---- */

typedef struct vec {
    tq_nightly_entry *v;
    size_t n, cap;
} vec;

static int vec_push(vec *a, const char *name, int kind, int recovered, const struct stat *st)
{
    if (tq_grow((void **)&a->v, &a->cap, a->n + 1, sizeof *a->v, 16) != TQ_OK)
        return TQ_ERR_NOMEM;
    tq_nightly_entry *e = &a->v[a->n];
    if ((e->name = strdup(name)) == NULL)
        return TQ_ERR_NOMEM;
    e->kind = kind;
    e->recovered = recovered;
    e->mtime_sec = (int64_t)st->st_mtim.tv_sec;
    e->mtime_nsec = st->st_mtim.tv_nsec;
    a->n++;
    return TQ_OK;
}

/* Recovered first (they arrived before anything still in the inbox), then permits
 * before payments, then arrival: mtime, then the name's bytes. */
static int by_order(const void *pa, const void *pb)
{
    const tq_nightly_entry *a = pa, *b = pb;
    if (a->recovered != b->recovered)
        return b->recovered - a->recovered;
    if (a->kind != b->kind)
        return b->kind - a->kind;   /* TQ_LOAD_PERMITS (2) first */
    if (a->mtime_sec != b->mtime_sec)
        return a->mtime_sec < b->mtime_sec ? -1 : 1;
    if (a->mtime_nsec != b->mtime_nsec)
        return a->mtime_nsec < b->mtime_nsec ? -1 : 1;
    return strcmp(a->name, b->name);
}

static int by_name(const void *pa, const void *pb)
{
    return strcmp(((const tq_nightly_entry *)pa)->name, ((const tq_nightly_entry *)pb)->name);
}

/* scan_dir() - add dir's entries: inputs to in (those old enough), others to ignored. */
static int scan_dir(int dirfd, int recovered, time_t now, uint64_t min_age, vec *in,
                    vec *ignored, tq_nightly_list *out)
{
    int fd = dup(dirfd);
    DIR *dp = fd >= 0 ? fdopendir(fd) : NULL;
    if (dp == NULL) {
        if (fd >= 0)
            close(fd);
        return from_errno(errno);
    }
    rewinddir(dp);
    int rc = TQ_OK;
    struct dirent *de;
    while (rc == TQ_OK && (de = readdir(dp)) != NULL) {
        struct stat st;
        if (de->d_name[0] == '.')
            continue;               /* ".", "..", uploads in progress, the state folder */
        if (fstatat(dirfd, de->d_name, &st, AT_SYMLINK_NOFOLLOW) != 0)
            continue;               /* gone meanwhile */
        if (S_ISDIR(st.st_mode))
            continue;               /* done/, failed/, duplicate/, or a sender's folder */
        int kind = tq_nightly_kind_of(de->d_name);
        if (kind == 0) {
            if (out->n_ignored_total++ < TQ_NIGHTLY_MAX_LISTED)
                rc = vec_push(ignored, de->d_name, 0, recovered, &st);
            continue;
        }
        if ((!recovered && min_age > 0 &&
             (int64_t)st.st_mtim.tv_sec > (int64_t)now - (int64_t)min_age) ||
            in->n >= TQ_NIGHTLY_MAX_INPUTS) {
            out->n_waiting++;
            continue;
        }
        rc = vec_push(in, de->d_name, kind, recovered, &st);
    }
    closedir(dp);
    return rc;
}

int tq_nightly_scan(tq_nightly *n, time_t now, uint64_t min_age, tq_nightly_list *out,
                    tq_diag *d)
{
    vec in = {0}, ign = {0};
    memset(out, 0, sizeof *out);
    int rc = scan_dir(n->fd[F_WORK], 1, now, min_age, &in, &ign, out);
    if (rc == TQ_OK)
        rc = scan_dir(n->inbox, 0, now, min_age, &in, &ign, out);
    out->in = in.v;
    out->n_in = in.n;
    out->ignored = ign.v;
    out->n_ignored = ign.n;
    if (rc != TQ_OK) {
        tq_diag_set(d, "(inbox)", "%s: cannot list: %s", n->path, tq_strerror(rc));
        tq_nightly_scan_free(out);
        return rc;
    }
    if (in.n)
        qsort(in.v, in.n, sizeof *in.v, by_order);
    if (ign.n)
        qsort(ign.v, ign.n, sizeof *ign.v, by_name);
    return TQ_OK;
}

void tq_nightly_scan_free(tq_nightly_list *s)
{
    for (size_t i = 0; i < s->n_in; i++)
        free(s->in[i].name);
    for (size_t i = 0; i < s->n_ignored; i++)
        free(s->ignored[i].name);
    free(s->in);
    free(s->ignored);
    memset(s, 0, sizeof *s);
}

/* ---- claim ---- */

/* move_noreplace() - rename, never over an existing name.  A file system without
 * RENAME_NOREPLACE (EINVAL) gets link + unlink, which refuses an existing name too. */
static int move_noreplace(int from, const char *a, int to, const char *b)
{
    if (renameat2(from, a, to, b, RENAME_NOREPLACE) == 0)
        return TQ_OK;
    if (errno != EINVAL)
        return from_errno(errno);
    if (linkat(from, a, to, b, 0) != 0)
        return from_errno(errno);
    return unlinkat(from, a, 0) == 0 ? TQ_OK : from_errno(errno);
}

int tq_nightly_claim(tq_nightly *n, const tq_nightly_entry *e, tq_diag *d)
{
    if (e->recovered)
        return TQ_OK;
    int rc = move_noreplace(n->inbox, e->name, n->fd[F_WORK], e->name);
    if (rc != TQ_OK && rc != TQ_ERR_NOTFOUND && rc != TQ_ERR_EXISTS)
        sys_fail(d, errno, n->path, e->name);
    return rc;
}

int tq_nightly_unclaim(tq_nightly *n, const tq_nightly_entry *e, tq_diag *d)
{
    int rc = move_noreplace(n->fd[F_WORK], e->name, n->inbox, e->name);
    if (rc != TQ_OK)
        sys_fail(d, errno, n->path, e->name);
    return rc;
}

/* ---- stage ---- */

/* open_input() - the claimed entry, only if it is a regular file with a single link.
 * O_NONBLOCK so that a FIFO planted there cannot hang the job. */
static int open_input(tq_nightly *n, int dir, const char *name, struct stat *st, tq_diag *d)
{
    int fd = openat(dir, name, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC | O_NOCTTY);
    if (fd < 0) {
        if (errno == ELOOP)
            return tq_diag_set(d, "(file)", "a symbolic link: not followed");
        return sys_fail(d, errno, n->path, name);
    }
    if (fstat(fd, st) != 0) {
        int e = errno;
        close(fd);
        return sys_fail(d, e, n->path, name);
    }
    const char *why = !S_ISREG(st->st_mode) ? "not a regular file"
                      : st->st_nlink != 1   ? "a file with other (hard) links: refused, it "
                                              "could be a file the sender may not read"
                                            : NULL;
    if (why) {
        close(fd);
        return tq_diag_set(d, "(file)", "%s", why);
    }
    return fd;
}

/* new_stage() - an unlinked private file in the state folder. */
static int new_stage(tq_nightly *n)
{
    int fd = openat(n->fd[F_STATE], ".", O_TMPFILE | O_RDWR | O_CLOEXEC, 0600);
    if (fd >= 0 || (errno != EOPNOTSUPP && errno != EISDIR && errno != EINVAL))
        return fd;
    /* No O_TMPFILE on this file system: a named file, unlinked at once. */
    unlinkat(n->fd[F_STATE], "stage", 0);
    fd = openat(n->fd[F_STATE], "stage", O_RDWR | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
    if (fd >= 0)
        unlinkat(n->fd[F_STATE], "stage", 0);
    return fd;
}

/* copy_hash() - copy in to out (none when out < 0), hashing what was read. */
static int copy_hash(int in, int out, uint8_t sha[32], uint64_t *size)
{
    EVP_MD_CTX *md = EVP_MD_CTX_new();
    if (md == NULL || EVP_DigestInit_ex(md, EVP_sha256(), NULL) != 1) {
        EVP_MD_CTX_free(md);
        return TQ_ERR_NOMEM;
    }
    static __thread char buf[1 << 16];
    int rc = TQ_OK;
    *size = 0;
    for (;;) {
        ssize_t r = read(in, buf, sizeof buf);
        if (r < 0 && errno == EINTR)
            continue;
        if (r < 0) {
            rc = from_errno(errno);
            break;
        }
        if (r == 0)
            break;
        EVP_DigestUpdate(md, buf, (size_t)r);
        for (ssize_t o = 0; out >= 0 && o < r;) {
            ssize_t w = write(out, buf + o, (size_t)(r - o));
            if (w < 0 && errno == EINTR)
                continue;
            if (w < 0) {
                rc = from_errno(errno);
                break;
            }
            o += w;
        }
        if (rc != TQ_OK)
            break;
        *size += (uint64_t)r;
    }
    unsigned len = 0;
    if (rc == TQ_OK && EVP_DigestFinal_ex(md, sha, &len) != 1)
        rc = TQ_ERR_IO;
    EVP_MD_CTX_free(md);
    return rc;
}

int tq_nightly_stage(tq_nightly *n, const tq_nightly_entry *e, tq_nightly_staged *sf,
                     tq_diag *d)
{
    memset(sf, 0, sizeof *sf);
    sf->fd = -1;
    struct stat a, b;
    int in = open_input(n, n->fd[F_WORK], e->name, &a, d);
    if (in < 0)
        return in;
    int rc = TQ_OK;
    if ((sf->fd = new_stage(n)) < 0)
        rc = sys_fail(d, errno, n->path, STATE_DIR "/stage");
    if (rc == TQ_OK && (rc = copy_hash(in, sf->fd, sf->sha256, &sf->size)) != TQ_OK)
        tq_diag_set(d, "(file)", "cannot copy %s into the staging file: %s", "it",
                    tq_strerror(rc));
    if (rc == TQ_OK && fstat(in, &b) != 0)
        rc = sys_fail(d, errno, n->path, e->name);
    /* A sender still writing through a descriptor kept open: what was hashed may not be
     * the whole file, so it waits for the next run. */
    if (rc == TQ_OK && (b.st_size != a.st_size || (uint64_t)b.st_size != sf->size ||
                        b.st_mtim.tv_sec != a.st_mtim.tv_sec ||
                        b.st_mtim.tv_nsec != a.st_mtim.tv_nsec))
    {
        tq_diag_set(d, "(file)", "changed while it was read (a transfer still running)");
        rc = TQ_ERR_MISMATCH;
    }
    /* Its owner could read it, and is not the job itself: quoting it tells the sender
     * nothing it could not read. */
    sf->quotable = a.st_uid != geteuid() && (a.st_mode & S_IRUSR);
    close(in);
    if (rc == TQ_OK && fsync(sf->fd) != 0)
        rc = sys_fail(d, errno, n->path, STATE_DIR "/stage");
    if (rc != TQ_OK)
        tq_nightly_staged_release(sf);
    return rc;
}

void tq_nightly_staged_release(tq_nightly_staged *sf)
{
    if (sf->fd >= 0)
        close(sf->fd);
    sf->fd = -1;
}

/* ---- ledger and load ---- */

int tq_nightly_ledger_get(tq_store *s, const uint8_t sha256[32], tq_ledger_entry *out)
{
    tq_txn *t;
    int rc = tq_txn_begin(s, 1, &t);
    if (rc != TQ_OK)
        return rc;
    rc = tq_store_get_ledger(t, sha256, out);
    tq_txn_abort(t);
    return rc;
}

typedef struct ledger_ctx {
    tq_ledger_entry e;
    tq_ledger_entry *known;
    int called;
} ledger_ctx;

/* Runs inside the load's write transaction: the content is checked against the ledger
 * and recorded in the same commit as the rows, so no crash can separate them. */
static int put_ledger(void *ctx, tq_txn *t, const tq_load_stats *st)
{
    ledger_ctx *c = ctx;
    c->called = 1;
    int rc = tq_store_get_ledger(t, c->e.sha256, c->known);
    if (rc == TQ_OK)
        return TQ_ERR_EXISTS;
    if (rc != TQ_ERR_NOTFOUND)
        return rc;
    c->e.rows = st->rows;
    c->e.outcome = st->rejected ? 1 : 0;
    return tq_store_put_ledger(t, &c->e);
}

int tq_nightly_load(tq_store *s, const tq_nightly_entry *e, const tq_nightly_staged *sf,
                    const tq_load_opts *lo, tq_load_stats *st, tq_ledger_entry *known,
                    tq_diag *d)
{
    ledger_ctx c;
    memset(&c, 0, sizeof c);
    memcpy(c.e.sha256, sf->sha256, 32);
    c.e.kind = (uint8_t)e->kind;
    c.e.loaded_at = (uint64_t)time(NULL);
    snprintf(c.e.name, sizeof c.e.name, "%s", e->name);
    c.known = known;
    tq_load_opts o = *lo;
    o.kind = (tq_load_kind)e->kind;
    o.rejects = NULL;
    o.before_commit = put_ledger;
    o.before_commit_ctx = &c;
    /* The staged copy by its descriptor: no name anyone else could swap. */
    char path[64];
    snprintf(path, sizeof path, "/proc/self/fd/%d", sf->fd);
    int rc = tq_load_file(s, path, &o, st, d);
    if (rc == TQ_OK && !c.called) {
        /* The loader committed without the hook: the rows are in, the ledger entry is
         * not; say so loudly rather than loading this content again later. */
        tq_diag_set(d, "(ledger)", "the loader committed without calling before_commit: "
                                   "this build cannot keep the ledger");
        return TQ_ERR_STORE;
    }
    return rc;
}

/* ---- filing ---- */

/* variant() - NAME, or with "-K" before the extension for K >= 2. */
static char *variant(const char *name, unsigned k)
{
    size_t n = strlen(name);
    char *out = malloc(n + 24);
    if (out == NULL)
        return NULL;
    if (k < 2) {
        memcpy(out, name, n + 1);
        return out;
    }
    const char *dot = strrchr(name, '.');
    size_t stem = dot && dot != name ? (size_t)(dot - name) : n;
    char suffix[16];
    size_t sl = (size_t)snprintf(suffix, sizeof suffix, "-%u", k);
    /* A name may not pass NAME_MAX: the stem gives way, the extension stays. */
    size_t keep = n + sl > NAME_MAX ? (stem > n + sl - NAME_MAX ? stem - (n + sl - NAME_MAX) : 0)
                                    : stem;
    snprintf(out, n + 24, "%.*s%s%s", (int)keep, name, suffix, name + stem);
    return out;
}

static int write_err(int dir, const char *name, const char *text, size_t len)
{
    size_t n = strlen(name);
    char *p = malloc(n + 5);
    if (p == NULL)
        return TQ_ERR_NOMEM;
    memcpy(p, name, n);
    memcpy(p + n, ".err", 5);
    int fd = openat(dir, p, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0640);
    free(p);
    if (fd < 0)
        return from_errno(errno);
    int rc = TQ_OK;
    for (size_t o = 0; o < len && rc == TQ_OK;) {
        ssize_t w = write(fd, text + o, len - o);
        if (w < 0 && errno != EINTR)
            rc = from_errno(errno);
        else if (w > 0)
            o += (size_t)w;
    }
    if (rc == TQ_OK && fsync(fd) != 0)
        rc = from_errno(errno);
    close(fd);
    return rc;
}

int tq_nightly_file_away(tq_nightly *n, const tq_nightly_entry *e, tq_nightly_dest dest,
                         const char *date, const char *err_text, size_t err_len,
                         char **stored, tq_diag *d)
{
    int top = n->fd[dest == TQ_NIGHTLY_DONE     ? F_DONE
                    : dest == TQ_NIGHTLY_FAILED ? F_FAILED
                                                : F_DUP];
    const char *topname = folders[dest == TQ_NIGHTLY_DONE     ? F_DONE
                                  : dest == TQ_NIGHTLY_FAILED ? F_FAILED
                                                              : F_DUP]
                              .name;
    int day;
    int rc = open_dir(top, topname, date, 0750, &day, d);
    if (rc != TQ_OK)
        return rc;
    char *name = NULL;
    for (unsigned k = 1; k < 100000; k++) {
        free(name);
        if ((name = variant(e->name, k)) == NULL) {
            rc = TQ_ERR_NOMEM;
            break;
        }
        /* .err files are written first and may be left by a killed run: skip names
         * whose .err exists too, so an error file never describes another file. */
        size_t nl = strlen(name);
        char errname[nl + 5];
        memcpy(errname, name, nl);
        memcpy(errname + nl, ".err", 5);
        struct stat st;
        if (fstatat(day, name, &st, AT_SYMLINK_NOFOLLOW) == 0 ||
            (err_text && fstatat(day, errname, &st, AT_SYMLINK_NOFOLLOW) == 0))
            continue;
        if (err_text && (rc = write_err(day, name, err_text, err_len)) != TQ_OK)
            break;
        rc = move_noreplace(n->fd[F_WORK], e->name, day, name);
        if (rc != TQ_ERR_EXISTS)
            break;
    }
    if (rc != TQ_OK)
        sys_fail(d, errno, topname, date);
    else if (fsync(day) != 0 || fsync(n->fd[F_WORK]) != 0)
        rc = sys_fail(d, errno, topname, date);
    close(day);
    if (rc == TQ_OK && stored)
        *stored = name;
    else
        free(name);
    return rc;
}

/* ---- pending reconcile and state ---- */

int tq_nightly_set_pending(tq_nightly *n, int on, tq_diag *d)
{
    int st = n->fd[F_STATE];
    if (on) {
        int fd = openat(st, "pending", O_WRONLY | O_CREAT | O_NOFOLLOW | O_CLOEXEC, 0600);
        if (fd < 0)
            return sys_fail(d, errno, n->path, STATE_DIR "/pending");
        close(fd);
    } else if (unlinkat(st, "pending", 0) != 0 && errno != ENOENT) {
        return sys_fail(d, errno, n->path, STATE_DIR "/pending");
    }
    /* The marker must be on disk before the load it announces commits. */
    return fsync(st) == 0 ? TQ_OK : sys_fail(d, errno, n->path, STATE_DIR);
}

int tq_nightly_pending(const tq_nightly *n)
{
    struct stat st;
    return fstatat(n->fd[F_STATE], "pending", &st, AT_SYMLINK_NOFOLLOW) == 0;
}

void tq_nightly_state_read(const tq_nightly *n, tq_nightly_state *out)
{
    memset(out, 0, sizeof *out);
    int fd = openat(n->fd[F_STATE], "state", O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
    if (fd < 0)
        return;
    char buf[256];
    ssize_t r = read(fd, buf, sizeof buf - 1);
    close(fd);
    if (r <= 0)
        return;
    buf[r] = '\0';
    unsigned long long a, b, c;
    if (sscanf(buf, "last_success %llu\nlast_reconcile %llu\ncleared_now %llu", &a, &b, &c) == 3) {
        out->last_success = a;
        out->last_reconcile = b;
        out->cleared_now = c;
    }
}

/* The state is a small file replaced whole: through tq_out (a random temporary beside
 * it, never a planted link, fsync of file and folder, removed on error or signal). */
int tq_nightly_state_write(tq_nightly *n, const tq_nightly_state *s, tq_diag *d)
{
    char buf[256];
    int len =
        snprintf(buf, sizeof buf, "last_success %llu\nlast_reconcile %llu\ncleared_now %llu\n",
                 (unsigned long long)s->last_success, (unsigned long long)s->last_reconcile,
                 (unsigned long long)s->cleared_now);
    char *path = tq_nightly_state_path(n, "state");
    if (path == NULL)
        return TQ_ERR_NOMEM;
    tq_out out;
    int rc = tq_out_open(&out, path, TQ_OUT_NO_STREAM | TQ_OUT_PRIVATE, d);
    free(path);
    if (rc != TQ_OK)
        return rc;
    if ((rc = tq_out_write(&out, buf, (size_t)len)) != TQ_OK) {
        tq_out_rollback(&out);
        return sys_fail(d, rc == TQ_ERR_FULL ? ENOSPC : EIO, n->path, STATE_DIR "/state");
    }
    return tq_out_commit(&out, d);
}

/* ---- seeding the ledger from done/ ---- */

typedef struct seed_run {
    tq_nightly *n;
    tq_store *s;
    uint64_t seen, added;
} seed_run;

/* seed_put() - one ledger entry in a transaction of its own (redone after growing). */
static int seed_put(tq_store *s, const tq_ledger_entry *e)
{
    for (int tries = 0;; tries++) {
        tq_txn *t;
        tq_ledger_entry known;
        int rc = tq_txn_begin(s, 0, &t);
        if (rc != TQ_OK)
            return rc;
        rc = tq_store_get_ledger(t, e->sha256, &known);
        if (rc == TQ_OK) {
            tq_txn_abort(t);
            return 1;                   /* known already */
        }
        rc = rc == TQ_ERR_NOTFOUND ? tq_store_put_ledger(t, e) : rc;
        if (rc == TQ_OK)
            return tq_txn_commit(t);
        tq_txn_abort(t);
        if (rc != TQ_ERR_MAPFULL || tries > 3 || (rc = tq_store_grow(s)) != TQ_OK)
            return rc;
    }
}

/* seed_file() - hash done/DATE/NAME (never through a link) and record it. */
static int seed_file(seed_run *sr, int day, const char *name, tq_diag *d)
{
    struct stat st;
    int kind = tq_nightly_kind_of(name);
    if (kind == 0)
        return TQ_OK;
    int in = open_input(sr->n, day, name, &st, d);
    if (in < 0)
        return in == TQ_ERR_INPUT ? TQ_OK : in;    /* a link or a hard link: not seeded */
    tq_ledger_entry e;
    memset(&e, 0, sizeof e);
    uint64_t size;
    int rc = copy_hash(in, -1, e.sha256, &size);
    close(in);
    if (rc != TQ_OK)
        return sys_fail(d, EIO, "done", name);
    e.kind = (uint8_t)kind;
    e.loaded_at = (uint64_t)st.st_mtim.tv_sec;
    snprintf(e.name, sizeof e.name, "%s", name);
    sr->seen++;
    rc = seed_put(sr->s, &e);
    if (rc == TQ_OK)
        sr->added++;
    return rc == 1 ? TQ_OK : rc;
}

static int seed_day(seed_run *sr, const char *date, tq_diag *d)
{
    int day = openat(sr->n->fd[F_DONE], date, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    if (day < 0)
        return TQ_OK;                   /* a file or a link among the days: skipped */
    DIR *dp = fdopendir(day);
    if (dp == NULL) {
        close(day);
        return from_errno(errno);
    }
    int rc = TQ_OK;
    struct dirent *de;
    while (rc == TQ_OK && (de = readdir(dp)) != NULL)
        if (de->d_name[0] != '.')
            rc = seed_file(sr, dirfd(dp), de->d_name, d);
    closedir(dp);
    return rc;
}

int tq_nightly_seed(tq_nightly *n, tq_store *s, uint64_t *seen, uint64_t *added, tq_diag *d)
{
    seed_run sr = {.n = n, .s = s};
    int fd = dup(n->fd[F_DONE]);
    DIR *dp = fd >= 0 ? fdopendir(fd) : NULL;
    if (dp == NULL) {
        if (fd >= 0)
            close(fd);
        return sys_fail(d, errno, n->path, "done");
    }
    rewinddir(dp);
    int rc = TQ_OK;
    struct dirent *de;
    while (rc == TQ_OK && (de = readdir(dp)) != NULL)
        if (de->d_name[0] != '.')
            rc = seed_day(&sr, de->d_name, d);
    closedir(dp);
    *seen = sr.seen;
    *added = sr.added;
    return rc;
}
