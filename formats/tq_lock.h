/* tq_lock.h - the one lockfile discipline: who writes a database or a journal.
 *
 * A lock is a small file (DIR/lock for a database, J.tqj.lock beside a journal) opened
 * O_RDWR|O_CREAT|O_NOFOLLOW|O_CLOEXEC (a link planted at its name is refused, never
 * followed or truncated), checked to be a regular file with fstat, and locked with
 * flock(LOCK_EX|LOCK_NB).  The holder writes "pid command started-at" into it, so a
 * second writer's message names the holder.  The kernel drops the lock when the holder
 * dies, so a killed process never blocks the next run.  After flock succeeds the inode
 * of the open file is compared with the path's (fstat against lstat): if the file was
 * replaced in between, the lock is taken again on the new one.  The file is left in
 * place on release (emptied), since removing it would race with a waiting locker.
 *
 * Threads: a tq_lock is used by one thread; locks are per open file description, so
 * two tq_locks on one path in one process exclude each other as two processes would.
 */
#ifndef TQ_LOCK_H
#define TQ_LOCK_H

#include "tq_error.h"

typedef struct tq_lock_holder {
    long pid;
    char command[128];
    char started[32];           /* ISO-8601 UTC, "2024-08-06T02:15:00Z" */
} tq_lock_holder;

typedef struct tq_lock {
    int fd;                     /* -1 when not held */
    char *path;                 /* malloc'd */
} tq_lock;

/* tq_lock_acquire() - take the lock at path for command (written into the file;
 * control characters become '?', cut at 127 bytes; may be NULL).
 * @return TQ_OK; TQ_ERR_BUSY (another holder: *busy filled when busy is not NULL);
 *         TQ_ERR_PERM; TQ_ERR_INPUT (path is a symlink, a directory or not a regular
 *         file: d says which); TQ_ERR_IO; TQ_ERR_FULL; TQ_ERR_NOMEM.  d may be NULL.
 *         Ownership: on TQ_OK l holds the descriptor and a malloc'd copy of path until
 *         tq_lock_release(); on error l needs no release (it is safe anyway). */
TQ_MUST_USE int tq_lock_acquire(tq_lock *l, const char *path, const char *command,
                    tq_lock_holder *busy, tq_diag *d);

/* tq_lock_release() - empty the holder text and unlock.  Safe on a zeroed or released
 * lock (fd -1 or 0 with path NULL).  Never fails: the kernel drops the lock at close
 * whatever happens to the emptying write. */
void tq_lock_release(tq_lock *l);

/* tq_lock_read_holder() - read who holds path (no locking; the text may be mid-write,
 * so it is a hint for a message, never a decision) into *out.
 * @return TQ_OK or TQ_ERR_NOTFOUND / TQ_ERR_IO.  Threads: any. */
TQ_MUST_USE int tq_lock_read_holder(const char *path, tq_lock_holder *out);

#endif
