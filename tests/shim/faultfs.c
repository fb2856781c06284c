/* faultfs.c - an LD_PRELOAD shim that makes writes and syncs fail like a dying or full
 * disk, for the fault-injection CLI tests (tests/cli/test_io_faults.sh).
 *
 * It wraps write, pwrite, pwrite64, writev, pwritev, pwritev64, fsync, fdatasync,
 * ftruncate, ftruncate64 and fallocate.  Only calls on a file descriptor whose path
 * (readlink of /proc/self/fd/N) contains FAULTFS_MATCH are counted; the first
 * FAULTFS_AFTER of them go through, every later one fails without touching the file.
 *
 *   FAULTFS_MATCH=substring   required; without it the shim does nothing
 *   FAULTFS_AFTER=N           matched calls that succeed first (default 0)
 *   FAULTFS_ERRNO=EIO|ENOSPC|EDQUOT|number   the error (default EIO)
 *   FAULTFS_FAILS=K           fail only K calls, then let calls through again (a
 *                             transient fault); default 0 = fail every later call
 *   FAULTFS_OPS=list          only these calls count, e.g. "fsync,fdatasync" (names as
 *                             above; pwrite covers pwrite64, writev covers pwritev*,
 *                             ftruncate covers ftruncate64); default all
 *   FAULTFS_REPORT=file       at exit, append "matched=M failed=F first=op" to it
 *
 * Nothing is written to stdout or stderr, so the program's own messages are what the
 * tests read.  Thread-safe (atomic counters).  Built by CMake as build/faultfs.so.
 */
#define _GNU_SOURCE 1
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/types.h>
#include <sys/uio.h>
#include <unistd.h>

static const char *g_match;
static long g_after, g_fails;
static int g_errno = EIO, g_inited;
static char g_ops[256];
static long g_seen, g_failed;
static char g_first_op[32];

static void init(void)
{
    if (__atomic_load_n(&g_inited, __ATOMIC_ACQUIRE))
        return;
    g_match = getenv("FAULTFS_MATCH");
    if (g_match && !*g_match)
        g_match = NULL;
    const char *v = getenv("FAULTFS_AFTER");
    g_after = v ? strtol(v, NULL, 10) : 0;
    v = getenv("FAULTFS_FAILS");
    g_fails = v ? strtol(v, NULL, 10) : 0;
    v = getenv("FAULTFS_ERRNO");
    if (v && strcmp(v, "ENOSPC") == 0)
        g_errno = ENOSPC;
    else if (v && strcmp(v, "EDQUOT") == 0)
        g_errno = EDQUOT;
    else if (v && strcmp(v, "EIO") == 0)
        g_errno = EIO;
    else if (v && *v)
        g_errno = (int)strtol(v, NULL, 10);
    v = getenv("FAULTFS_OPS");
    if (v)
        snprintf(g_ops, sizeof g_ops, ",%s,", v);
    __atomic_store_n(&g_inited, 1, __ATOMIC_RELEASE);
}

static int op_selected(const char *op)
{
    if (!g_ops[0])
        return 1;
    char key[40];
    snprintf(key, sizeof key, ",%s,", op);
    return strstr(g_ops, key) != NULL;
}

/* should_fail() - count a call on fd; non-zero when it must fail (errno is set). */
static int should_fail(int fd, const char *op)
{
    init();
    if (g_match == NULL || fd < 0 || !op_selected(op))
        return 0;
    char link[64], path[4096];
    snprintf(link, sizeof link, "/proc/self/fd/%d", fd);
    ssize_t n = readlink(link, path, sizeof path - 1);
    if (n <= 0)
        return 0;
    path[n] = '\0';
    if (strstr(path, g_match) == NULL)
        return 0;
    long k = __atomic_fetch_add(&g_seen, 1, __ATOMIC_RELAXED);
    if (k < g_after)
        return 0;
    if (g_fails > 0 && k >= g_after + g_fails)
        return 0;
    if (__atomic_fetch_add(&g_failed, 1, __ATOMIC_RELAXED) == 0)
        snprintf(g_first_op, sizeof g_first_op, "%s", op);
    errno = g_errno;
    return 1;
}

#define REAL(name)                                                        \
    static __typeof__(&name) real_##name;                                  \
    if (real_##name == NULL)                                               \
        real_##name = (__typeof__(&name))dlsym(RTLD_NEXT, #name)

ssize_t write(int fd, const void *buf, size_t n)
{
    REAL(write);
    if (should_fail(fd, "write"))
        return -1;
    return real_write(fd, buf, n);
}

ssize_t pwrite(int fd, const void *buf, size_t n, off_t off)
{
    REAL(pwrite);
    if (should_fail(fd, "pwrite"))
        return -1;
    return real_pwrite(fd, buf, n, off);
}

ssize_t pwrite64(int fd, const void *buf, size_t n, off64_t off)
{
    REAL(pwrite64);
    if (should_fail(fd, "pwrite"))
        return -1;
    return real_pwrite64(fd, buf, n, off);
}

ssize_t writev(int fd, const struct iovec *iov, int cnt)
{
    REAL(writev);
    if (should_fail(fd, "writev"))
        return -1;
    return real_writev(fd, iov, cnt);
}

ssize_t pwritev(int fd, const struct iovec *iov, int cnt, off_t off)
{
    REAL(pwritev);
    if (should_fail(fd, "writev"))
        return -1;
    return real_pwritev(fd, iov, cnt, off);
}

ssize_t pwritev64(int fd, const struct iovec *iov, int cnt, off64_t off)
{
    REAL(pwritev64);
    if (should_fail(fd, "writev"))
        return -1;
    return real_pwritev64(fd, iov, cnt, off);
}

int fsync(int fd)
{
    REAL(fsync);
    if (should_fail(fd, "fsync"))
        return -1;
    return real_fsync(fd);
}

int fdatasync(int fd)
{
    REAL(fdatasync);
    if (should_fail(fd, "fdatasync"))
        return -1;
    return real_fdatasync(fd);
}

int ftruncate(int fd, off_t len)
{
    REAL(ftruncate);
    if (should_fail(fd, "ftruncate"))
        return -1;
    return real_ftruncate(fd, len);
}

int ftruncate64(int fd, off64_t len)
{
    REAL(ftruncate64);
    if (should_fail(fd, "ftruncate"))
        return -1;
    return real_ftruncate64(fd, len);
}

int fallocate(int fd, int mode, off_t off, off_t len)
{
    REAL(fallocate);
    if (should_fail(fd, "fallocate"))
        return -1;
    return real_fallocate(fd, mode, off, len);
}

__attribute__((destructor)) static void report(void)
{
    const char *f = getenv("FAULTFS_REPORT");
    if (f == NULL || !*f || g_match == NULL)
        return;
    int fd = open(f, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
    if (fd < 0)
        return;
    char line[160];
    int n = snprintf(line, sizeof line, "matched=%ld failed=%ld first=%s\n",
                     __atomic_load_n(&g_seen, __ATOMIC_RELAXED),
                     __atomic_load_n(&g_failed, __ATOMIC_RELAXED),
                     g_first_op[0] ? g_first_op : "-");
    ssize_t (*w)(int, const void *, size_t) =
        (ssize_t (*)(int, const void *, size_t))dlsym(RTLD_NEXT, "write");
    if (w && n > 0)
        (void)w(fd, line, (size_t)n);
    close(fd);
}
