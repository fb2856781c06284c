/* tq_lock.c - the one lockfile discipline (contract in tq_lock.h).
 *
 * The holder text is three "key=value" lines (pid=, command=, started=), the layout the
 * database lock has always used, so an older DIR/lock still reads back.  One field per
 * line, and control characters in the command become '?', so a hostile command line
 * cannot forge another field.
 *
 * Opening is the dangerous step: a lock path is usually in a directory other people
 * can write to (beside a journal), so whatever is planted at the name must never be
 * followed, truncated, or opened with side effects.  The path is looked at with lstat
 * first, so a device or FIFO is refused without being opened at all; the open itself is
 * O_NOFOLLOW|O_NONBLOCK|O_NOCTTY so that a link or a FIFO swapped in after the lstat
 * still cannot be followed or block us; and fstat on the descriptor has the last word.
 */
#include "tq_lock.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define HOLDER_TEXT_MAX 512
#define REPLACED_TRIES 64        /* the file swapped under us this often: give up */
#define HOLDER_READ_TRIES 20     /* x 5 ms: how long a refused locker waits for text */

static int lock_errno(int e, tq_diag *d, const char *what)
{
    int rc;
    switch (e) {
    case ELOOP:
        tq_diag_set(d, "(lock)", "is a symbolic link (a lock file is never followed)");
        return TQ_ERR_INPUT;
    case EISDIR:
        tq_diag_set(d, "(lock)", "is a directory, not a lock file");
        return TQ_ERR_INPUT;
    default:
        rc = tq_errno(e);
        break;
    }
    tq_diag_set(d, "(lock)", "%s: %s", what, strerror(e));
    return rc;
}

/* Refuse what is not a regular file, naming what it is. */
static int check_kind(mode_t mode, tq_diag *d)
{
    if (S_ISREG(mode))
        return TQ_OK;
    const char *kind = S_ISLNK(mode)   ? "is a symbolic link (a lock file is never followed)"
                       : S_ISDIR(mode) ? "is a directory, not a lock file"
                       : S_ISFIFO(mode) ? "is a FIFO, not a lock file"
                       : S_ISSOCK(mode) ? "is a socket, not a lock file"
                       : S_ISCHR(mode) || S_ISBLK(mode) ? "is a device, not a lock file"
                                                        : "is not a regular file";
    tq_diag_set(d, "(lock)", "%s", kind);
    return TQ_ERR_INPUT;
}

static void parse_value(char *dst, size_t cap, const char *src, size_t n)
{
    size_t m = n < cap ? n : cap - 1;
    memcpy(dst, src, m);
    dst[m] = '\0';
}

static void holder_parse(const char *text, tq_lock_holder *h)
{
    memset(h, 0, sizeof *h);
    while (*text != '\0') {
        const char *nl = strchr(text, '\n');
        size_t n = nl ? (size_t)(nl - text) : strlen(text);
        if (n > 4 && memcmp(text, "pid=", 4) == 0) {
            long pid = 0;
            for (size_t i = 4; i < n && text[i] >= '0' && text[i] <= '9'; i++) {
                if (pid > (LONG_MAX - 9) / 10)
                    break;
                pid = pid * 10 + (text[i] - '0');
            }
            h->pid = pid;
        } else if (n >= 8 && memcmp(text, "command=", 8) == 0) {
            parse_value(h->command, sizeof h->command, text + 8, n - 8);
        } else if (n >= 8 && memcmp(text, "started=", 8) == 0) {
            parse_value(h->started, sizeof h->started, text + 8, n - 8);
        }
        text += n + (nl != NULL);
    }
}

static void holder_read_fd(int fd, tq_lock_holder *h)
{
    char text[HOLDER_TEXT_MAX];
    ssize_t n = pread(fd, text, sizeof text - 1, 0);
    text[n > 0 ? n : 0] = '\0';
    holder_parse(text, h);
}

/* The holder writes its text right after taking the lock; a refused locker that looks
 * in between sees an empty file, so it looks again for a little while. */
static void holder_read_busy(int fd, tq_lock_holder *h)
{
    for (int tries = 0; tries < HOLDER_READ_TRIES; tries++) {
        holder_read_fd(fd, h);
        if (h->pid != 0)
            return;
        struct timespec ts = {0, 5 * 1000 * 1000};
        nanosleep(&ts, NULL);
    }
}

static int holder_write(int fd, const char *command, tq_diag *d)
{
    char cmd[sizeof ((tq_lock_holder *)0)->command];
    char started[32], text[HOLDER_TEXT_MAX];
    size_t i = 0;
    for (; command != NULL && command[i] != '\0' && i < sizeof cmd - 1; i++) {
        unsigned char c = (unsigned char)command[i];
        cmd[i] = c < 0x20 || c == 0x7f ? '?' : (char)c;
    }
    cmd[i] = '\0';
    time_t now = time(NULL);
    struct tm tm;
    if (gmtime_r(&now, &tm) == NULL ||
        strftime(started, sizeof started, "%Y-%m-%dT%H:%M:%SZ", &tm) == 0)
        started[0] = '\0';
    int n = snprintf(text, sizeof text, "pid=%ld\ncommand=%s\nstarted=%s\n", (long)getpid(),
                     cmd, started);
    if (n < 0 || (size_t)n >= sizeof text)
        n = (int)strlen(text);   /* cannot happen: every field is bounded above */
    if (ftruncate(fd, 0) != 0)
        return lock_errno(errno, d, "cannot write the holder");
    for (size_t off = 0; off < (size_t)n;) {
        ssize_t w = pwrite(fd, text + off, (size_t)n - off, (off_t)off);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0)
            return lock_errno(w < 0 ? errno : EIO, d, "cannot write the holder");
        off += (size_t)w;
    }
    return TQ_OK;
}

/* Open path as a lock file: never through a link, never anything but a regular file. */
static int open_lock_file(const char *path, int *fd, tq_diag *d)
{
    struct stat st;
    if (lstat(path, &st) == 0) {
        int rc = check_kind(st.st_mode, d);
        if (rc != TQ_OK)
            return rc;
    } else if (errno != ENOENT) {
        return lock_errno(errno, d, "cannot look at the lock file");
    }
    *fd = open(path, O_RDWR | O_CREAT | O_NOFOLLOW | O_CLOEXEC | O_NONBLOCK | O_NOCTTY, 0644);
    if (*fd < 0)
        return lock_errno(errno, d, "cannot open the lock file");
    int rc = fstat(*fd, &st) == 0 ? check_kind(st.st_mode, d)
                                  : lock_errno(errno, d, "cannot stat the lock file");
    if (rc != TQ_OK) {
        close(*fd);
        *fd = -1;
    }
    return rc;
}

/* After flock: is the file we locked still the one at path?  Someone may have removed
 * or replaced it between our open and our flock; a lock on an orphan excludes nobody. */
static int still_at_path(int fd, const char *path)
{
    struct stat a, b;
    if (fstat(fd, &a) != 0 || lstat(path, &b) != 0)
        return 0;
    return a.st_dev == b.st_dev && a.st_ino == b.st_ino;
}

/* One attempt.  @return TQ_OK (fd locked), 1 (the file was replaced: try again), or
 * an error. */
static int lock_once(const char *path, int *out_fd, tq_lock_holder *busy, tq_diag *d)
{
    int fd = -1, rc = open_lock_file(path, &fd, d);
    if (rc != TQ_OK)
        return rc;
    while (flock(fd, LOCK_EX | LOCK_NB) != 0) {
        if (errno == EINTR)
            continue;
        if (errno == EWOULDBLOCK) {
            tq_lock_holder h;
            holder_read_busy(fd, &h);
            if (busy != NULL)
                *busy = h;
            tq_diag_set(d, "(lock)", "held by pid %ld (%s) since %s", h.pid,
                        h.command[0] ? h.command : "?", h.started[0] ? h.started : "?");
            rc = TQ_ERR_BUSY;
        } else {
            rc = lock_errno(errno, d, "cannot lock");
        }
        close(fd);
        return rc;
    }
    if (!still_at_path(fd, path)) {
        close(fd);
        return 1;
    }
    *out_fd = fd;
    return TQ_OK;
}

int tq_lock_acquire(tq_lock *l, const char *path, const char *command,
                    tq_lock_holder *busy, tq_diag *d)
{
    if (l == NULL)
        return TQ_ERR_INPUT;
    l->fd = -1;
    l->path = NULL;
    if (path == NULL || path[0] == '\0')
        return tq_diag_set(d, "(lock)", "empty lock path");
    int fd = -1, rc = 1;
    for (int tries = 0; rc == 1 && tries < REPLACED_TRIES; tries++)
        rc = lock_once(path, &fd, busy, d);
    if (rc == 1) {
        tq_diag_set(d, "(lock)", "the lock file keeps being replaced");
        return TQ_ERR_IO;
    }
    if (rc != TQ_OK)
        return rc;
    if ((rc = holder_write(fd, command, d)) != TQ_OK) {
        close(fd);              /* also drops the lock */
        return rc;
    }
    if ((l->path = strdup(path)) == NULL) {
        if (ftruncate(fd, 0) != 0) {
            /* stale text is harmless: the next holder overwrites it */
        }
        close(fd);
        return TQ_ERR_NOMEM;
    }
    l->fd = fd;
    return TQ_OK;
}

void tq_lock_release(tq_lock *l)
{
    if (l == NULL)
        return;
    /* A zeroed tq_lock has fd 0 and no path: fd 0 is not ours to close. */
    if (l->path != NULL && l->fd >= 0) {
        /* Still holding the lock, so nobody reads a half-emptied file as a holder. */
        if (ftruncate(l->fd, 0) != 0) {
            /* stale text is harmless: the next holder overwrites it */
        }
        close(l->fd);
    }
    free(l->path);
    l->path = NULL;
    l->fd = -1;
}

int tq_lock_read_holder(const char *path, tq_lock_holder *out)
{
    if (path == NULL || out == NULL)
        return TQ_ERR_INPUT;
    memset(out, 0, sizeof *out);
    struct stat st;
    if (lstat(path, &st) != 0)
        return errno == ENOENT ? TQ_ERR_NOTFOUND : TQ_ERR_IO;
    if (!S_ISREG(st.st_mode))
        return TQ_ERR_IO;
    int fd = open(path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC | O_NONBLOCK | O_NOCTTY);
    if (fd < 0)
        return errno == ENOENT ? TQ_ERR_NOTFOUND : TQ_ERR_IO;
    int rc = fstat(fd, &st) == 0 && S_ISREG(st.st_mode) ? TQ_OK : TQ_ERR_IO;
    if (rc == TQ_OK)
        holder_read_fd(fd, out);
    close(fd);
    return rc;
}
