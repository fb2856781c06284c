/* tq_out.c - every file thongquan writes: atomic replacement of regular files, streams
 * for what is not one, and no planted link ever followed (see tq_out.h).
 *
 * How it works.  tq_out_open() classifies the path once, with lstat(): the special
 * names map to descriptors already open; a device or FIFO (named directly or through a
 * symlink) is opened without O_CREAT and checked with fstat() after the open, so a name
 * swapped for a regular file in between is refused rather than written in place; every
 * other case writes a fresh temporary file beside the target, created with
 * O_CREAT|O_EXCL|O_NOFOLLOW under a random name, and renames it over the target at
 * commit.  rename() replaces the name itself, so a symlink at the target (planted, or
 * dangling) is replaced by the new file and its target is never touched.
 *
 * The signal-safe list.  Every live temporary name sits in a slot of a list that only
 * grows (slots are reused, never freed), so tq_out_cleanup_signal() walks it with
 * nothing but atomic loads and unlink(2).  A slot is changed under a mutex with the
 * changing thread's signals blocked: a handler on that thread never sees it half made.
 */
#include "tq_out.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <unistd.h>

/* ---- the list of live temporary files ---- */

typedef struct tmp_slot {
    struct tmp_slot *next;      /* set once, before the slot is published */
    _Atomic int live;           /* 1: path names a temporary file to remove */
    size_t cap;
    char path[];
} tmp_slot;

static _Atomic(tmp_slot *) slots = NULL;
static pthread_mutex_t slots_mu = PTHREAD_MUTEX_INITIALIZER;

static void block_signals(sigset_t *old)
{
    sigset_t all;
    sigfillset(&all);
    pthread_sigmask(SIG_BLOCK, &all, old);
}

/* slot_add() - a live slot holding path.  @return NULL when out of memory. */
static tmp_slot *slot_add(const char *path)
{
    size_t n = strlen(path) + 1;
    sigset_t old;
    block_signals(&old);
    pthread_mutex_lock(&slots_mu);
    tmp_slot *s;
    for (s = atomic_load(&slots); s; s = s->next)
        if (!atomic_load(&s->live) && s->cap >= n)
            break;
    if (s == NULL && (s = malloc(sizeof *s + n)) != NULL) {
        s->cap = n;
        atomic_init(&s->live, 0);
        s->next = atomic_load(&slots);
        atomic_store(&slots, s);
    }
    if (s) {
        memcpy(s->path, path, n);
        atomic_store(&s->live, 1);
    }
    pthread_mutex_unlock(&slots_mu);
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    return s;
}

static void slot_drop(tmp_slot *s)
{
    if (s == NULL)
        return;
    sigset_t old;
    block_signals(&old);
    pthread_mutex_lock(&slots_mu);
    atomic_store(&s->live, 0);
    pthread_mutex_unlock(&slots_mu);
    pthread_sigmask(SIG_SETMASK, &old, NULL);
}

void tq_out_cleanup_signal(void)
{
    int saved = errno;
    for (tmp_slot *s = atomic_load(&slots); s; s = s->next)
        if (atomic_exchange(&s->live, 0))
            unlink(s->path);
    errno = saved;
}

/* The slot of each open tq_out, found by its tmp string (tq_out has no field for it and
 * the header is shared): a short walk over a list of a few entries. */
static tmp_slot *slot_of(const char *tmp)
{
    for (tmp_slot *s = atomic_load(&slots); s; s = s->next)
        if (atomic_load(&s->live) && strcmp(s->path, tmp) == 0)
            return s;
    return NULL;
}

/* ---- errors ---- */

/* fail() - "PATH: strerror(e)" into d; @return the code for e. */
static int fail(tq_diag *d, const char *path, int e)
{
    tq_diag_set(d, "(output)", "%s: %s", path, strerror(e));
    return tq_errno(e);
}

/* ---- open ---- */

/* special_fd() - the descriptor a special name stands for, or -1. */
static int special_fd(const char *path)
{
    if (strcmp(path, "-") == 0 || strcmp(path, "/dev/stdout") == 0)
        return STDOUT_FILENO;
    if (strcmp(path, "/dev/stderr") == 0)
        return STDERR_FILENO;
    const char *num = NULL;
    if (strncmp(path, "/dev/fd/", 8) == 0)
        num = path + 8;
    else if (strncmp(path, "/proc/self/fd/", 14) == 0)
        num = path + 14;
    if (num == NULL || *num < '0' || *num > '9' || strlen(num) > 9)
        return -1;
    char *end;
    long v = strtol(num, &end, 10);
    return *end == '\0' ? (int)v : -1;
}

static int open_special(tq_out *o, const char *path, int fd, unsigned flags, tq_diag *d)
{
    if (flags & TQ_OUT_NO_STREAM)
        return tq_diag_set(d, "(output)", "%s: must be a regular file", path);
    if (fcntl(fd, F_GETFL) < 0)
        return fail(d, path, errno);
    o->fd = fd;
    o->stream = 1;
    o->owns_fd = 0;
    return TQ_OK;
}

/* open_stream() - a device, FIFO or socket (or a link to one) written in place.  The
 * fstat() after the open catches a name swapped for a regular file or a directory
 * since the lstat(): that is refused, never truncated or streamed into. */
static int open_stream(tq_out *o, const char *path, unsigned flags, tq_diag *d)
{
    if (flags & TQ_OUT_NO_STREAM)
        return tq_diag_set(d, "(output)", "%s: not a regular file; an output here must be "
                           "one", path);
    int fd = open(path, O_WRONLY | O_NOCTTY | O_CLOEXEC);
    if (fd < 0)
        return fail(d, path, errno);
    struct stat sb;
    if (fstat(fd, &sb) != 0 || S_ISREG(sb.st_mode) || S_ISDIR(sb.st_mode)) {
        close(fd);
        return tq_diag_set(d, "(output)", "%s: changed while being opened; not written",
                           path);
    }
    o->fd = fd;
    o->stream = 1;
    o->owns_fd = 1;
    return TQ_OK;
}

/* temp_name() - "DIR/.BASE.tmp-XXXXXX" with 6 random letters and digits. */
static int temp_name(const char *path, char *out, size_t cap)
{
    static const char al[] = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789";
    const char *slash = strrchr(path, '/');
    size_t dirlen = slash ? (size_t)(slash - path) + 1 : 0;
    unsigned char r[6];
    if (getrandom(r, sizeof r, 0) != (ssize_t)sizeof r) {
        /* no entropy source: still unpredictable enough with O_EXCL retries */
        uint64_t x = (uint64_t)getpid() * 0x9e3779b97f4a7c15ULL ^ (uint64_t)(uintptr_t)out;
        for (size_t i = 0; i < sizeof r; i++, x >>= 8)
            r[i] = (unsigned char)x;
    }
    char rnd[7];
    for (int i = 0; i < 6; i++)
        rnd[i] = al[r[i] % (sizeof al - 1)];
    rnd[6] = '\0';
    int n = snprintf(out, cap, "%.*s.%s.tmp-%s", (int)dirlen, path, path + dirlen, rnd);
    return n > 0 && (size_t)n < cap ? 0 : -1;
}

/* open_temp() - the temporary file beside path.  mode < 0: a new file (0666 & ~umask,
 * or 0600 private); else the mode of the file replaced. */
static int open_temp(tq_out *o, const char *path, int mode, unsigned flags, tq_diag *d)
{
    size_t cap = strlen(path) + 16;
    o->tmp = malloc(cap);
    if (o->tmp == NULL)
        return fail(d, path, ENOMEM);
    int create_mode = mode >= 0 || (flags & TQ_OUT_PRIVATE) ? 0600 : 0666;
    int fd = -1, e = EEXIST;
    for (int tries = 0; fd < 0 && e == EEXIST && tries < 100; tries++) {
        if (temp_name(path, o->tmp, cap) != 0) {
            e = ENAMETOOLONG;
            break;
        }
        fd = open(o->tmp, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, create_mode);
        e = fd < 0 ? errno : 0;
    }
    if (fd < 0) {
        free(o->tmp);
        o->tmp = NULL;
        return fail(d, path, e);
    }
    if (slot_add(o->tmp) == NULL) {
        unlink(o->tmp);
        close(fd);
        free(o->tmp);
        o->tmp = NULL;
        return fail(d, path, ENOMEM);
    }
    if (mode >= 0)
        (void)fchmod(fd, (mode_t)mode & 0777);   /* best effort, as git does */
    o->fd = fd;
    o->owns_fd = 1;
    return TQ_OK;
}

/* classify() - decide, from lstat() and for a link stat(), how path is written.
 * @return TQ_OK with *mode >= 0 (replace, keeping that mode), -1 (new file) or -2
 * (stream); or an error. */
static int classify(const char *path, unsigned flags, int *mode, tq_diag *d)
{
    struct stat sb;
    if (lstat(path, &sb) != 0) {
        if (errno != ENOENT)
            return fail(d, path, errno);
        *mode = -1;
        return TQ_OK;
    }
    if (S_ISLNK(sb.st_mode)) {
        struct stat tb;
        if (stat(path, &tb) != 0) {
            if (errno != ENOENT && errno != ELOOP)
                return fail(d, path, errno);
            *mode = -1;             /* dangling or looping: the link itself is replaced */
            return TQ_OK;
        }
        if (S_ISDIR(tb.st_mode))
            return tq_diag_set(d, "(output)", "%s: is a directory", path);
        /* A link to a regular file is replaced by the new file, its target untouched;
         * a link to a device or FIFO is streamed into, as the device itself would be. */
        *mode = S_ISREG(tb.st_mode) ? -1 : -2;
        return TQ_OK;
    }
    if (S_ISDIR(sb.st_mode))
        return tq_diag_set(d, "(output)", "%s: is a directory", path);
    if (!S_ISREG(sb.st_mode)) {
        *mode = -2;
        return TQ_OK;
    }
    if (flags & TQ_OUT_NO_CLOBBER) {
        tq_diag_set(d, "(output)", "%s: already exists", path);
        return TQ_ERR_EXISTS;
    }
    *mode = (int)(sb.st_mode & 0777);
    return TQ_OK;
}

int tq_out_open(tq_out *o, const char *path, unsigned flags, tq_diag *d)
{
    memset(o, 0, sizeof *o);
    o->fd = -1;
    if (path == NULL || *path == '\0')
        return tq_diag_set(d, "(output)", "empty output path");
    int fd = special_fd(path), rc, mode;
    if (fd >= 0)
        rc = open_special(o, path, fd, flags, d);
    else if ((rc = classify(path, flags, &mode, d)) == TQ_OK)
        rc = mode == -2 ? open_stream(o, path, flags, d) : open_temp(o, path, mode, flags, d);
    if (rc == TQ_OK && (o->path = strdup(path)) == NULL) {
        tq_out_rollback(o);
        return fail(d, path, ENOMEM);
    }
    if (rc != TQ_OK)
        o->fd = -1;
    return rc;
}

/* ---- writing ---- */

/* write_fd() - all of n bytes to o->fd, retrying short writes and EINTR; the first
 * error is kept in o->err with its errno (stdio's own error flag forgets the reason). */
static int write_fd(tq_out *o, const char *c, size_t n)
{
    while (n > 0 && o->err == 0) {
        ssize_t w = write(o->fd, c, n);
        if (w < 0) {
            if (errno != EINTR)
                o->err = errno;
            continue;
        }
        c += w;
        n -= (size_t)w;
    }
    return o->err ? -1 : 0;
}

static ssize_t cookie_write(void *cookie, const char *buf, size_t n)
{
    tq_out *o = cookie;
    if (write_fd(o, buf, n) != 0) {
        /* 0, never -1: fopencookie(3) says so, and glibc miscounts a negative value */
        errno = o->err;
        return 0;
    }
    return (ssize_t)n;
}

/* The stream's close leaves the descriptor to tq_out (commit or rollback closes it). */
static int cookie_close(void *cookie)
{
    (void)cookie;
    return 0;
}

FILE *tq_out_fp(tq_out *o)
{
    if (o->fp)
        return o->fp;
    /* What the process printed to its own stdout comes first. */
    if (!o->owns_fd && o->fd == STDOUT_FILENO)
        fflush(stdout);
    cookie_io_functions_t io = {.write = cookie_write, .close = cookie_close};
    o->fp = fopencookie(o, "w", io);
    if (o->fp)
        setvbuf(o->fp, NULL, _IOFBF, 1 << 16);
    return o->fp;
}

static int flush_fp(tq_out *o)
{
    if (o->fp && (fflush(o->fp) != 0 || ferror(o->fp))) {
        if (o->err == 0)
            o->err = EIO;
        return -1;
    }
    return 0;
}

int tq_out_write(tq_out *o, const void *p, size_t n)
{
    if (o->err == 0)
        flush_fp(o);
    write_fd(o, p, n);
    return o->err ? tq_errno(o->err) : TQ_OK;
}

/* ---- finishing ---- */

/* close_fp_fd() - close the stdio stream (its close leaves the descriptor) and our
 * descriptor.  @return an errno from close, or 0. */
static int close_fp_fd(tq_out *o)
{
    int e = 0;
    if (o->fp)
        fclose(o->fp);   /* flushed before; a failure here is already in o->err */
    o->fp = NULL;
    if (o->owns_fd && o->fd >= 0 && close(o->fd) != 0 && errno != EINTR)
        e = errno;
    o->fd = -1;
    return e;
}

static void release(tq_out *o)
{
    free(o->path);
    free(o->tmp);
    memset(o, 0, sizeof *o);
    o->fd = -1;
}

/* drop_temp() - remove the temporary file and its slot. */
static void drop_temp(tq_out *o)
{
    if (o->tmp == NULL)
        return;
    unlink(o->tmp);
    slot_drop(slot_of(o->tmp));
}

int tq_out_sync(tq_out *o, tq_diag *d)
{
    flush_fp(o);
    if (o->err == 0 && !o->stream && o->fd >= 0 && fsync(o->fd) != 0)
        o->err = errno;
    return o->err ? fail(d, o->path ? o->path : "(output)", o->err) : TQ_OK;
}

int tq_out_commit(tq_out *o, tq_diag *d)
{
    if (o->path == NULL)
        return TQ_OK;
    flush_fp(o);
    if (o->err == 0 && !o->stream && fsync(o->fd) != 0)
        o->err = errno;
    int e = close_fp_fd(o);
    if (o->err == 0)
        o->err = e;
    if (o->err == 0 && o->tmp && rename(o->tmp, o->path) != 0)
        o->err = errno;
    int rc = TQ_OK;
    if (o->err != 0) {
        rc = fail(d, o->path, o->err);
        drop_temp(o);
    } else if (o->tmp) {
        slot_drop(slot_of(o->tmp));
        rc = tq_out_fsync_dir(o->path);
        if (rc != TQ_OK)
            fail(d, o->path, errno);
    }
    release(o);
    return rc;
}

void tq_out_rollback(tq_out *o)
{
    if (o->path == NULL && o->tmp == NULL && o->fp == NULL) {
        if (o->owns_fd && o->fd >= 0)
            close(o->fd);
        release(o);
        return;
    }
    if (o->fp && o->stream)
        fflush(o->fp);
    close_fp_fd(o);
    drop_temp(o);
    release(o);
}

int tq_out_fsync_dir(const char *path)
{
    const char *slash = strrchr(path, '/');
    char *dir = slash ? strndup(path, slash == path ? 1 : (size_t)(slash - path))
                      : strdup(".");
    if (dir == NULL)
        return TQ_ERR_NOMEM;
    int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    free(dir);
    if (fd < 0)
        return tq_errno(errno) == TQ_ERR_PERM ? TQ_ERR_PERM : TQ_ERR_IO;
    int rc = TQ_OK;
    /* some file systems cannot sync a directory: that is not a failure */
    if (fsync(fd) != 0 && errno != EINVAL && errno != EROFS)
        rc = TQ_ERR_IO;
    int e = errno;
    close(fd);
    errno = e;
    return rc;
}

/* ---- directories ---- */

/* mkdir_one() - one component: made, or already there (whatever it is: the next
 * component, or the final stat(), says whether it is usable).  errno is kept. */
static int mkdir_one(const char *path, mode_t mode, tq_diag *d)
{
    if (mkdir(path, mode) == 0 || errno == EEXIST)
        return TQ_OK;
    return fail(d, path, errno);
}

int tq_out_mkdirs(const char *path, mode_t mode, tq_diag *d)
{
    if (path == NULL || path[0] == '\0') {
        int rc = tq_diag_set(d, "(output)", "empty directory name");
        errno = ENOENT;
        return rc;
    }
    char *buf = strdup(path);
    if (buf == NULL)
        return TQ_ERR_NOMEM;
    int rc = TQ_OK;
    for (char *p = buf + 1; *p != '\0' && rc == TQ_OK; p++) {
        if (*p != '/')
            continue;
        *p = '\0';
        rc = mkdir_one(buf, mode, d);
        *p = '/';
    }
    if (rc == TQ_OK)
        rc = mkdir_one(buf, mode, d);
    struct stat sb;
    if (rc == TQ_OK && stat(buf, &sb) != 0)
        rc = fail(d, buf, errno);     /* a dangling link, a loop */
    else if (rc == TQ_OK && !S_ISDIR(sb.st_mode))
        rc = fail(d, buf, errno = ENOTDIR);
    int e = errno;
    free(buf);
    errno = e;
    return rc;
}
