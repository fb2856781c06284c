/* test_lock.c - the lockfile module (formats/tq_lock.c).
 *
 * Each test works in a fresh directory under /tmp.  Exclusion across processes is shown
 * with fork: flock() belongs to an open file description, so a child holding the lock is
 * a real second writer, and SIGKILLing it shows that a dead holder blocks nobody.
 * Whatever is planted at the lock path (a link, a FIFO, a directory) must be refused
 * without being followed, opened for writing or emptied.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <criterion/criterion.h>

#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <pthread.h>
#include <stdatomic.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "tq_lock.h"

#include "tq_testdir.h"

TQ_TESTDIR_SUITE(lock, "tq_lock", 30);


static void write_file(const char *path, const char *text)
{
    FILE *f = fopen(path, "w");
    cr_assert_not_null(f);
    fputs(text, f);
    cr_assert_eq(fclose(f), 0);
}

static char *slurp(const char *path)
{
    static char buf[1024];
    FILE *f = fopen(path, "r");
    cr_assert_not_null(f, "%s: %s", path, strerror(errno));
    size_t n = fread(buf, 1, sizeof buf - 1, f);
    buf[n] = '\0';
    fclose(f);
    return buf;
}

static off_t size_of(const char *path)
{
    struct stat st;
    cr_assert_eq(stat(path, &st), 0);
    return st.st_size;
}

Test(lock, holder_is_written_and_read_back)
{
    const char *p = path_in("J.tqj.lock");
    tq_lock l;
    tq_diag d = {0};
    cr_assert_eq(tq_lock_acquire(&l, p, "journal pack x.ndjson", NULL, &d), TQ_OK, "%s", d.why);
    cr_assert_geq(l.fd, 0);
    cr_assert_str_eq(l.path, p);
    tq_lock_holder h;
    cr_assert_eq(tq_lock_read_holder(p, &h), TQ_OK);
    cr_assert_eq(h.pid, (long)getpid());
    cr_assert_str_eq(h.command, "journal pack x.ndjson");
    /* "2024-08-06T02:15:00Z" */
    cr_assert_eq(strlen(h.started), 20, "started: %s", h.started);
    cr_assert_eq(h.started[10], 'T');
    cr_assert_eq(h.started[19], 'Z');
    tq_lock_release(&l);
    cr_assert_eq(l.fd, -1);
    cr_assert_null(l.path);
}

Test(lock, release_empties_the_file_and_keeps_it)
{
    const char *p = path_in("lock");
    tq_lock l;
    cr_assert_eq(tq_lock_acquire(&l, p, "x", NULL, NULL), TQ_OK);
    cr_assert_gt(size_of(p), 0);
    tq_lock_release(&l);
    cr_assert_eq(size_of(p), 0, "the holder text must be gone after release");
    tq_lock_holder h;
    cr_assert_eq(tq_lock_read_holder(p, &h), TQ_OK);
    cr_assert_eq(h.pid, 0);
    /* Released twice, and a zeroed lock: nothing happens (fd 0 is not closed). */
    tq_lock_release(&l);
    tq_lock z;
    memset(&z, 0, sizeof z);
    tq_lock_release(&z);
    cr_assert_neq(fcntl(0, F_GETFD), -1, "fd 0 must stay open");
}

Test(lock, hostile_command_cannot_forge_a_field)
{
    const char *p = path_in("lock");
    char cmd[300];
    memset(cmd, 'a', sizeof cmd - 1);
    cmd[sizeof cmd - 1] = '\0';
    memcpy(cmd, "x\npid=1\x1b", 8);
    tq_lock l;
    cr_assert_eq(tq_lock_acquire(&l, p, cmd, NULL, NULL), TQ_OK);
    tq_lock_holder h;
    cr_assert_eq(tq_lock_read_holder(p, &h), TQ_OK);
    cr_assert_eq(h.pid, (long)getpid());
    cr_assert_eq(strncmp(h.command, "x?pid=1?aaa", 11), 0, "command: %s", h.command);
    cr_assert_eq(strlen(h.command), 127);
    tq_lock_release(&l);
    /* NULL command is fine too. */
    cr_assert_eq(tq_lock_acquire(&l, p, NULL, NULL, NULL), TQ_OK);
    tq_lock_release(&l);
}

Test(lock, two_locks_in_one_process_exclude_each_other)
{
    const char *p = path_in("lock");
    tq_lock a, b;
    tq_lock_holder busy;
    tq_diag d = {0};
    cr_assert_eq(tq_lock_acquire(&a, p, "first", NULL, NULL), TQ_OK);
    cr_assert_eq(tq_lock_acquire(&b, p, "second", &busy, &d), TQ_ERR_BUSY);
    cr_assert_eq(b.fd, -1);
    cr_assert_eq(busy.pid, (long)getpid());
    cr_assert_str_eq(busy.command, "first");
    cr_assert_not_null(strstr(d.why, "first"), "why: %s", d.why);
    /* The refused locker did not disturb the holder's text. */
    tq_lock_holder h;
    cr_assert_eq(tq_lock_read_holder(p, &h), TQ_OK);
    cr_assert_str_eq(h.command, "first");
    tq_lock_release(&a);
    cr_assert_eq(tq_lock_acquire(&b, p, "second", NULL, NULL), TQ_OK);
    tq_lock_release(&b);
}

/* Fork a child that takes the lock, says so on a pipe and sleeps until killed. */
static pid_t child_holding(const char *p)
{
    int ready[2];
    cr_assert_eq(pipe(ready), 0);
    pid_t pid = fork();
    cr_assert_neq(pid, -1);
    if (pid == 0) {
        alarm(20);   /* never outlive a failed test */
        tq_lock l;
        char c = tq_lock_acquire(&l, p, "child", NULL, NULL) == TQ_OK ? 'y' : 'n';
        if (write(ready[1], &c, 1) != 1)
            _exit(1);
        for (;;)
            pause();
    }
    close(ready[1]);
    char c = 0;
    cr_assert_eq(read(ready[0], &c, 1), 1);
    close(ready[0]);
    cr_assert_eq(c, 'y');
    return pid;
}

Test(lock, fork_excludes_and_a_killed_holder_releases)
{
    const char *p = path_in("lock");
    pid_t pid = child_holding(p);
    tq_lock l;
    tq_lock_holder busy;
    cr_assert_eq(tq_lock_acquire(&l, p, "parent", &busy, NULL), TQ_ERR_BUSY);
    cr_assert_eq(busy.pid, (long)pid);
    cr_assert_str_eq(busy.command, "child");
    /* SIGKILL: no chance to clean up; the kernel drops the lock. */
    kill(pid, SIGKILL);
    int st;
    cr_assert_eq(waitpid(pid, &st, 0), pid);
    cr_assert_eq(tq_lock_acquire(&l, p, "parent", NULL, NULL), TQ_OK);
    tq_lock_holder h;
    cr_assert_eq(tq_lock_read_holder(p, &h), TQ_OK);
    cr_assert_eq(h.pid, (long)getpid(), "the dead holder's text is replaced");
    tq_lock_release(&l);
}

Test(lock, child_is_refused_while_parent_holds)
{
    const char *p = path_in("lock");
    tq_lock l;
    cr_assert_eq(tq_lock_acquire(&l, p, "parent", NULL, NULL), TQ_OK);
    pid_t pid = fork();
    cr_assert_neq(pid, -1);
    if (pid == 0) {
        /* The child inherits no lock (O_CLOEXEC aside, a new open is a new
         * description): it must be refused and see the parent as holder. */
        tq_lock c;
        tq_lock_holder busy;
        int rc = tq_lock_acquire(&c, p, "child", &busy, NULL);
        if (rc == TQ_OK)
            tq_lock_release(&c);
        _exit(rc == TQ_ERR_BUSY && busy.pid == (long)getppid() ? 0 : 1);
    }
    int st;
    cr_assert_eq(waitpid(pid, &st, 0), pid);
    cr_assert(WIFEXITED(st) && WEXITSTATUS(st) == 0);
    tq_lock_release(&l);
}

Test(lock, symlink_is_refused_and_its_target_untouched)
{
    const char *target = path_in("precious");
    write_file(target, "do not truncate me\n");
    const char *p = path_in("lock");
    cr_assert_eq(symlink(target, p), 0);
    tq_lock l;
    tq_diag d = {0};
    cr_assert_eq(tq_lock_acquire(&l, p, "x", NULL, &d), TQ_ERR_INPUT);
    cr_assert_eq(l.fd, -1);
    cr_assert_not_null(strstr(d.why, "symbolic link"), "why: %s", d.why);
    cr_assert_str_eq(slurp(target), "do not truncate me\n");
    /* A dangling link: its target must not be created. */
    const char *p2 = path_in("lock2");
    const char *ghost = path_in("ghost");
    cr_assert_eq(symlink(ghost, p2), 0);
    cr_assert_eq(tq_lock_acquire(&l, p2, "x", NULL, NULL), TQ_ERR_INPUT);
    cr_assert_eq(access(ghost, F_OK), -1, "a dangling link's target was created");
    /* read_holder does not follow either. */
    tq_lock_holder h;
    cr_assert_neq(tq_lock_read_holder(p, &h), TQ_OK);
}

Test(lock, fifo_and_directory_are_refused)
{
    const char *fifo = path_in("fifo.lock");
    cr_assert_eq(mkfifo(fifo, 0600), 0);
    tq_lock l;
    tq_diag d = {0};
    /* Must return at once (the suite's timeout catches a blocking open). */
    cr_assert_eq(tq_lock_acquire(&l, fifo, "x", NULL, &d), TQ_ERR_INPUT);
    cr_assert_not_null(strstr(d.why, "FIFO"), "why: %s", d.why);
    const char *dir = path_in("dir.lock");
    cr_assert_eq(mkdir(dir, 0700), 0);
    cr_assert_eq(tq_lock_acquire(&l, dir, "x", NULL, &d), TQ_ERR_INPUT);
    cr_assert_not_null(strstr(d.why, "directory"), "why: %s", d.why);
    cr_assert_eq(tq_lock_acquire(&l, "", "x", NULL, &d), TQ_ERR_INPUT);
}

Test(lock, missing_directory_and_no_permission)
{
    tq_lock l;
    tq_diag d = {0};
    cr_assert_eq(tq_lock_acquire(&l, path_in("nodir/lock"), "x", NULL, &d), TQ_ERR_IO);
    cr_assert_not_null(strstr(d.why, "No such file"), "why: %s", d.why);
    tq_lock_holder h;
    cr_assert_eq(tq_lock_read_holder(path_in("nothere"), &h), TQ_ERR_NOTFOUND);
    if (geteuid() == 0)
        return;   /* root opens anything: the permission case cannot be shown */
    const char *p = path_in("ro.lock");
    write_file(p, "");
    cr_assert_eq(chmod(p, 0444), 0);
    cr_assert_eq(tq_lock_acquire(&l, p, "x", NULL, &d), TQ_ERR_PERM);
}

Test(lock, replaced_file_is_locked_anew)
{
    /* The holder's file is renamed away and a fresh one put at the path: a new locker
     * locks the file now at the path, and the holder of the orphan excludes nobody
     * (that is what the inode re-check is for; here the order is forced by hand). */
    const char *p = path_in("lock");
    tq_lock a, b;
    cr_assert_eq(tq_lock_acquire(&a, p, "old", NULL, NULL), TQ_OK);
    cr_assert_eq(rename(p, path_in("old.lock")), 0);
    cr_assert_eq(tq_lock_acquire(&b, p, "new", NULL, NULL), TQ_OK);
    tq_lock_holder h;
    cr_assert_eq(tq_lock_read_holder(p, &h), TQ_OK);
    cr_assert_str_eq(h.command, "new");
    tq_lock_release(&b);
    tq_lock_release(&a);
}

/* Lockers that remove the lock file as they leave (as journal writers do) race with
 * lockers that opened the old file: without the inode re-check, one can lock the
 * unlinked file while another locks a fresh one, and both are "in".  Four threads, each
 * with its own tq_lock (a lock per open file description), hammer one path; the critical
 * section must never hold two. */
static atomic_int g_inside, g_violations, g_entries;
static const char *g_race_path;

static void *race_thread(void *arg)
{
    (void)arg;
    for (int i = 0; i < 10000; i++) {
        tq_lock l;
        if (tq_lock_acquire(&l, g_race_path, "race", NULL, NULL) != TQ_OK)
            continue;
        if (atomic_fetch_add(&g_inside, 1) != 0)
            atomic_fetch_add(&g_violations, 1);
        atomic_fetch_add(&g_entries, 1);
        sched_yield();
        atomic_fetch_sub(&g_inside, 1);
        unlink(g_race_path);     /* while still holding it, as tq_journal does */
        tq_lock_release(&l);
    }
    return NULL;
}

Test(lock, removing_the_file_on_release_never_lets_two_in)
{
    g_race_path = path_in("race.lock");
    pthread_t t[4];
    for (int i = 0; i < 4; i++)
        cr_assert_eq(pthread_create(&t[i], NULL, race_thread, NULL), 0);
    for (int i = 0; i < 4; i++)
        pthread_join(t[i], NULL);
    cr_assert_gt(atomic_load(&g_entries), 100, "the threads hardly ever got the lock");
    cr_assert_eq(atomic_load(&g_violations), 0, "%d times two lockers were in at once",
                 atomic_load(&g_violations));
}
