/* bench_suite.c - end-to-end and per-stage throughput of the replay, as CI trackers read it.
 *
 * Scenarios (each: gen a backlog once, load its payments and permits into a base
 * database once, then for every run copy the base database and replay the journal into
 * the copy, durably, timing the replay alone):
 *   morning-15k  the incident's morning          day-25k  a national day
 *   1m, 10m      a million / ten million declarations
 *   1m-serial    the serial reference replay (--threads 0) on 1m
 *   1m-threads-1, 1m-threads-2   thread scaling on 1m
 * and per-stage throughput on the 1m journal: read+decompress+verify, decode, lookup
 * (cover and permits in a read transaction, in journal order), apply+commit (the whole
 * replay minus nothing: the end-to-end figure in events/s).
 * and the worklists' queries (lists-1m, lists-10m: the backlog replayed once into a
 * database of its own, then timed from a warm page cache): listing the HELD declarations
 * of the office that has the most of them through the office index, as `thongquan list
 * --office CODE --state HELD --csv` does (rows formatted, written to /dev/null), and the
 * change feed exported from 0 and from the last change minus 1000.
 * Each figure is the median of --runs runs.  Each run is a forked child, so its peak
 * RSS and peak anonymous memory (sampled every 5 ms from /proc/self/status) are its own.
 *
 *   bench_suite [--scenarios morning-15k,day-25k,1m,10m,threads,stages,lists-1m,lists-10m]
 *               [--runs 5]
 *               [--dir /tmp/tqbench] [--json out.json] [--threads N]
 * Output: a table on stdout, and with --json a list of {"name","unit","value"}.
 */
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "tq_export.h"
#include "tq_gen.h"
#include "tq_journal.h"
#include "tq_list.h"
#include "tq_load.h"
#include "tq_out.h"
#include "tq_replay.h"
#include "tq_store.h"

typedef struct result { char name[64]; char unit[24]; double value; } result;
static result results[256];
static int nresults;

static void add_result(const char *name, const char *unit, double v)
{
    if (nresults < 256) {
        result *r = &results[nresults++];
        snprintf(r->name, sizeof r->name, "%s", name);
        snprintf(r->unit, sizeof r->unit, "%s", unit);
        r->value = v;
    }
    printf("  %-40s %14.1f %s\n", name, v, unit);
    fflush(stdout);
}

/* add_named() - add_result() under the name "SCENARIO/WHAT". */
static void add_named(const char *scenario, const char *what, const char *unit, double v)
{
    char name[256];
    snprintf(name, sizeof name, "%s/%s", scenario, what);
    add_result(name, unit, v);
}

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

static double median(double *v, int n)
{
    qsort(v, (size_t)n, sizeof *v, cmp_double);
    return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

static long status_kb(const char *key)
{
    FILE *f = fopen("/proc/self/status", "r");
    char line[256];
    long v = -1;
    size_t kl = strlen(key);
    if (!f)
        return -1;
    while (fgets(line, sizeof line, f))
        if (strncmp(line, key, kl) == 0 && line[kl] == ':') {
            v = atol(line + kl + 1);
            break;
        }
    fclose(f);
    return v;
}

static volatile int sampling;
static long peak_anon_kb;

static void *sample_anon(void *arg)
{
    (void)arg;
    while (sampling) {
        long a = status_kb("RssAnon");
        if (a > peak_anon_kb)
            peak_anon_kb = a;
        usleep(5000);
    }
    return NULL;
}

static int run(const char *cmd)
{
    int rc = system(cmd);
    if (rc != 0)
        fprintf(stderr, "bench: '%s' failed (%d)\n", cmd, rc);
    return rc;
}

static int die(const char *what, int rc)
{
    fprintf(stderr, "bench: %s: %s\n", what, tq_strerror(rc));
    exit(1);
}

/* wait_child() - the untimed child pid (fork()'s result) must exit 0: otherwise say
 * "bench: WHAT DIR failed" and exit 1, as no later measurement would mean anything. */
static void wait_child(pid_t pid, const char *what, const char *dir)
{
    int status = 0;
    if (pid < 0 || waitpid(pid, &status, 0) != pid || !WIFEXITED(status) ||
        WEXITSTATUS(status) != 0) {
        fprintf(stderr, "bench: %s %s failed\n", what, dir);
        exit(1);
    }
}

static void prepare_here(const char *dir, uint64_t n);

/* prepare() - gen the backlog and a base database with payments and permits, in a
 * child process: loading ten million rows leaves LMDB's page buffers in the heap, and
 * every timed replay forked from this process afterwards would count them as its own. */
static void prepare(const char *dir, uint64_t n)
{
    char path[4096];
    snprintf(path, sizeof path, "%s/base/data.mdb", dir);
    if (access(path, R_OK) == 0)
        return;
    pid_t pid = fork();
    if (pid == 0) {
        prepare_here(dir, n);
        _exit(0);
    }
    wait_child(pid, "preparing", dir);
}

static void prepare_here(const char *dir, uint64_t n)
{
    char path[4096];
    mkdir(dir, 0777);
    tq_diag d;
    int rc;
    /* A backlog already generated (thongquan gen --seed 20240806 into DIR, or a run
     * stopped before its base database was loaded) is reused. */
    int have = 1;
    const char *made[3] = {"journal.tqj", "payments.csv", "permits.csv"};
    for (int i = 0; i < 3; i++) {
        snprintf(path, sizeof path, "%s/%s", dir, made[i]);
        have = have && access(path, R_OK) == 0;
    }
    if (!have) {
        fprintf(stderr, "bench: generating %llu declarations in %s\n", (unsigned long long)n,
                dir);
        tq_gen_opts go = {.declarations = n, .seed = 20240806, .out_dir = dir};
        tq_gen_stats gs;
        if ((rc = tq_gen_run(&go, &gs, &d)) != 0)
            die("gen", rc);
    }
    snprintf(path, sizeof path, "%s/base", dir);
    tq_store *s;
    tq_store_opts so = {.map_size = (uint64_t)n * 2048 + (256u << 20)};
    rc = tq_store_open(path, TQ_STORE_WRITE | TQ_STORE_NOSYNC, &so, &s, NULL);
    if (rc)
        die("open base", rc);
    const char *files[2] = {"payments.csv", "permits.csv"};
    for (int i = 0; i < 2; i++) {
        char f[4096];
        snprintf(f, sizeof f, "%s/%s", dir, files[i]);
        tq_load_opts lo = {.kind = i == 0 ? TQ_LOAD_PAYMENTS : TQ_LOAD_PERMITS};
        tq_load_stats ls;
        rc = tq_load_file(s, f, &lo, &ls, &d);
        if (rc)
            die(f, rc);
    }
    tq_store_close(s);
}

typedef struct run_out {
    double seconds;
    uint64_t events;
    long hwm_kb, anon_kb;
    double cpu_read, cpu_workers, cpu_apply, cpu_commit;
    double first_frame, tail;
} run_out;

/* replay_child() - one timed replay into a fresh copy of the base database. */
static run_out replay_once(const char *dir, unsigned threads)
{
    char cmd[8400];
    run_out out = {0};
    if (snprintf(cmd, sizeof cmd, "rm -rf '%s/run' && cp -r '%s/base' '%s/run'", dir, dir,
                 dir) >= (int)sizeof cmd)
        return out;
    if (run(cmd))
        return out;
    int fds[2];
    if (pipe(fds))
        return out;
    pid_t pid = fork();
    if (pid == 0) {
        close(fds[0]);
        char path[4200], j[4200];
        if (snprintf(path, sizeof path, "%s/run", dir) >= (int)sizeof path ||
            snprintf(j, sizeof j, "%s/journal.tqj", dir) >= (int)sizeof j)
            _exit(1);
        sampling = 1;
        pthread_t th;
        pthread_create(&th, NULL, sample_anon, NULL);
        tq_store *s;
        int rc = tq_store_open(path, TQ_STORE_WRITE, NULL, &s, NULL);
        if (rc)
            die("open", rc);
        tq_replay_opts ro = {.threads = threads};
        tq_replay_stats st;
        tq_diag d;
        double t0 = now();
        rc = tq_replay_run(s, j, &ro, &st, &d);
        double el = now() - t0;
        if (rc)
            die("replay", rc);
        tq_store_close(s);
        sampling = 0;
        pthread_join(th, NULL);
        run_out r = {el, st.events, status_kb("VmHWM"), peak_anon_kb,
                     st.cpu_read, st.cpu_workers, st.cpu_apply, st.cpu_commit,
                     st.first_frame, st.tail};
        if (write(fds[1], &r, sizeof r) != (ssize_t)sizeof r)
            _exit(1);
        _exit(0);
    }
    close(fds[1]);
    if (read(fds[0], &out, sizeof out) != (ssize_t)sizeof out)
        memset(&out, 0, sizeof out);
    close(fds[0]);
    waitpid(pid, NULL, 0);
    return out;
}

static void scenario(const char *name, const char *root, uint64_t n, int runs,
                     unsigned threads)
{
    char dir[4096];
    snprintf(dir, sizeof dir, "%s/%llu", root, (unsigned long long)n);
    prepare(dir, n);
    double secs[64], rates[64], evr[64], s_read[64], s_work[64], s_apply[64], s_commit[64];
    double first[64], tail[64];
    long hwm = 0, anon = 0;
    for (int i = 0; i < runs; i++) {
        run_out r = replay_once(dir, threads);
        if (r.seconds <= 0) {
            fprintf(stderr, "bench: %s run %d failed\n", name, i);
            exit(1);
        }
        secs[i] = r.seconds * 1000;
        rates[i] = (double)n / r.seconds;
        evr[i] = (double)r.events / r.seconds;
        s_read[i] = r.cpu_read > 0 ? (double)r.events / r.cpu_read : 0;
        s_work[i] = r.cpu_workers > 0 ? (double)r.events / r.cpu_workers : 0;
        s_apply[i] = r.cpu_apply > 0 ? (double)r.events / r.cpu_apply : 0;
        s_commit[i] = r.cpu_commit > 0 ? (double)r.events / r.cpu_commit : 0;
        first[i] = r.first_frame * 1000;
        tail[i] = r.tail * 1000;
        if (r.hwm_kb > hwm)
            hwm = r.hwm_kb;
        if (r.anon_kb > anon)
            anon = r.anon_kb;
    }
    printf("%s (%llu declarations, %u threads, median of %d)\n", name,
           (unsigned long long)n, threads, runs);
    add_named(name, "replay_time", "ms", median(secs, runs));
    add_named(name, "declarations_per_s", "decl/s", median(rates, runs));
    add_named(name, "events_per_s", "events/s", median(evr, runs));
    if (threads > 0) {
        /* Each stage's own throughput: events over the CPU seconds its threads used.
         * The slowest of them bounds the pipeline on a machine with enough cores. */
        add_named(name, "stage_read_events_per_cpu_s", "events/s", median(s_read, runs));
        add_named(name, "stage_decompress_decode_lookup_events_per_cpu_s", "events/s",
                  median(s_work, runs));
        add_named(name, "stage_apply_events_per_cpu_s", "events/s", median(s_apply, runs));
        add_named(name, "stage_commit_events_per_cpu_s", "events/s", median(s_commit, runs));
        /* The wall time nothing overlaps: waiting for the first frame, and the last
         * batch's write and commit after the last event was decided. */
        add_named(name, "wall_first_frame", "ms", median(first, runs));
        add_named(name, "wall_tail_commit", "ms", median(tail, runs));
    }
    add_named(name, "peak_rss", "MiB", (double)hwm / 1024);
    add_named(name, "peak_anon", "MiB", (double)anon / 1024);
}

/* stage_read() - read + decompress + verify, then decode, of every frame of j: events
 * per second of each (the two timed apart). */
static void stage_read(const char *j, double *dec, double *decode, uint64_t *events,
                       uint64_t *raw_bytes)
{
    static tq_event ev;
    tq_journal_reader *r;
    if (tq_journal_open(j, &r))
        exit(1);
    uint8_t *z = NULL, *raw = NULL;
    size_t zc = 0, rc_ = 0;
    tq_frame_info fi;
    double t_dec = 0, t_decode = 0;
    *events = *raw_bytes = 0;
    for (;;) {
        double t0 = now();
        if (tq_journal_read_frame(r, &fi, &z, &zc) != TQ_OK)
            break;
        if (tq_journal_frame_decode(&fi, z, &raw, &rc_) != TQ_OK)
            exit(1);
        double t1 = now();
        tq_frame_cursor c;
        tq_frame_cursor_init(&c, &fi, raw);
        while (tq_frame_cursor_next(&c, &ev) == TQ_OK)
            (*events)++;
        t_dec += t1 - t0;
        t_decode += now() - t1;
        *raw_bytes += fi.raw_size;
    }
    tq_journal_close(r);
    free(z);
    free(raw);
    *dec = (double)*events / t_dec;
    *decode = (double)*events / t_decode;
}

/* lookup_event() - what a worker looks up for ev: its cover and each permit. */
static void lookup_event(tq_txn *t, const tq_event *ev, tq_guarantee **g, size_t *gc)
{
    tq_cover cv;
    if (tq_store_get_cover(t, ev->decl_no, &cv, g, gc) != TQ_OK)
        exit(1);
    for (int l = 0; l < ev->nlines; l++)
        if (ev->lines[l].permit[0]) {
            tq_permit p;
            int prc = tq_store_get_permit(t, ev->lines[l].permit, &p);
            if (prc != TQ_OK && prc != TQ_ERR_NOTFOUND)
                exit(1);
        }
}

/* stage_lookup() - the lookups of every event of j in db, journal order: events/s. */
static double stage_lookup(const char *j, const char *db)
{
    static tq_event ev;
    tq_store *s;
    tq_journal_reader *r;
    tq_txn *t;
    if (tq_store_open(db, 0, NULL, &s, NULL))
        exit(1);
    if (tq_txn_begin(s, 1, &t) != TQ_OK || tq_journal_open(j, &r) != TQ_OK)
        exit(1);
    uint8_t *z = NULL, *raw = NULL;
    size_t zc = 0, rc_ = 0, gc = 0;
    tq_guarantee *g = NULL;
    tq_frame_info fi;
    uint64_t looked = 0;
    double t_look = 0;
    while (tq_journal_read_frame(r, &fi, &z, &zc) == TQ_OK) {
        if (tq_journal_frame_decode(&fi, z, &raw, &rc_) != TQ_OK)
            exit(1);
        tq_frame_cursor c;
        tq_frame_cursor_init(&c, &fi, raw);
        double t0 = now();
        for (; tq_frame_cursor_next(&c, &ev) == TQ_OK; looked++)
            lookup_event(t, &ev, &g, &gc);
        t_look += now() - t0;
    }
    tq_journal_close(r);
    tq_txn_abort(t);
    tq_store_close(s);
    free(g);
    free(z);
    free(raw);
    return (double)looked / t_look;
}

/* Per-stage figures on one journal: each stage in isolation. */
static void stages(const char *root, uint64_t n, int runs)
{
    char dir[4096], j[4200], db[4200];
    snprintf(dir, sizeof dir, "%s/%llu", root, (unsigned long long)n);
    prepare(dir, n);
    snprintf(j, sizeof j, "%s/journal.tqj", dir);
    snprintf(db, sizeof db, "%s/base", dir);
    double dec[64], decode[64], look[64];
    uint64_t events = 0, raw_bytes = 0;
    for (int i = 0; i < runs; i++) {
        stage_read(j, &dec[i], &decode[i], &events, &raw_bytes);
        look[i] = stage_lookup(j, db);
    }
    printf("stages (%llu declarations, %llu events, %.1f MB raw, median of %d)\n",
           (unsigned long long)n, (unsigned long long)events, (double)raw_bytes / 1e6, runs);
    add_result("stage/read_decompress_verify", "events/s", median(dec, runs));
    add_result("stage/decode", "events/s", median(decode, runs));
    add_result("stage/lookup", "events/s", median(look, runs));
}

/* ---- the worklists' queries ---- */

/* replayed() - DIR/listed: the base database with the journal replayed into it, made
 * once (in a child, untimed) and reused. */
static void replayed(const char *dir, char *db, size_t cap)
{
    snprintf(db, cap, "%s/listed", dir);
    char path[4300], cmd[12800];
    snprintf(path, sizeof path, "%s/data.mdb", db);
    if (access(path, R_OK) == 0)
        return;
    snprintf(cmd, sizeof cmd, "rm -rf '%s' && cp -r '%s/base' '%s'", db, dir, db);
    if (run(cmd))
        exit(1);
    pid_t pid = fork();
    if (pid == 0) {
        char j[4200];
        snprintf(j, sizeof j, "%s/journal.tqj", dir);
        tq_store *s;
        int rc = tq_store_open(db, TQ_STORE_WRITE | TQ_STORE_NOSYNC, NULL, &s, NULL);
        if (rc)
            die("open listed", rc);
        tq_replay_opts ro = {.threads = 1};
        tq_replay_stats st;
        tq_diag d;
        if ((rc = tq_replay_run(s, j, &ro, &st, &d)) != 0)
            die("replay listed", rc);
        tq_store_close(s);
        _exit(0);
    }
    wait_child(pid, "replaying into", db);
}

typedef struct busiest { char office[5]; uint64_t count; } busiest;

static int pick_office(void *ctx, const char *office, uint64_t count)
{
    busiest *b = ctx;
    if (office[0] && count > b->count) {
        snprintf(b->office, sizeof b->office, "%s", office);
        b->count = count;
    }
    return 0;
}

/* list_row() - what `list --csv` does with a row (tools/cmd_list.c): the same line,
 * written to ctx. */
static int list_row(void *ctx, const tq_list_row *row)
{
    char line[TQ_LIST_CSV_MAX];
    fwrite(line, 1, tq_list_csv_row(row, line), ctx);
    return ferror((FILE *)ctx) ? TQ_ERR_IO : 0;
}

static double cpu_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* time_list() - wall ms of one list; *cpu its CPU ms (user + sys of this process: the
 * figure that holds on a loaded machine); *way the way tq_list_run() took. */
static double time_list(tq_store *s, const char *office, FILE *null, uint64_t *rows,
                        double *cpu, int *way)
{
    tq_list_filter f;
    tq_list_filter_init(&f);
    snprintf(f.office, sizeof f.office, "%s", office);
    f.state = TQ_STATE_HELD;
    tq_txn *t;
    tq_list_stats st;
    double t0 = now(), c0 = cpu_now();
    if (tq_txn_begin(s, 1, &t) != TQ_OK || tq_list_run(t, &f, list_row, null, &st) != TQ_OK)
        die("list", TQ_ERR_STORE);
    tq_txn_abort(t);
    fflush(null);
    *rows = st.matched;
    *cpu = (cpu_now() - c0) * 1000;
    *way = st.way;
    return (now() - t0) * 1000;
}

static double time_feed(tq_store *s, uint64_t since, FILE *null, uint64_t *rows)
{
    uint64_t last;
    double t0 = now();
    int rc = tq_export_changes(s, null, since, 0, &last, rows);
    if (rc)
        die("export changes", rc);
    return (now() - t0) * 1000;
}

static void lists(const char *name, const char *root, uint64_t n, int runs)
{
    char dir[4096], db[4200], label[96];
    snprintf(dir, sizeof dir, "%s/%llu", root, (unsigned long long)n);
    prepare(dir, n);
    replayed(dir, db, sizeof db);
    tq_store *s;
    /* a writer's open first: it upgrades a database an older build replayed (format 3:
     * the held table is built, ~9 s at 10m), untimed */
    int rc = tq_store_open(db, TQ_STORE_WRITE | TQ_STORE_NOSYNC, NULL, &s, NULL);
    if (rc)
        die("upgrade listed", rc);
    tq_store_close(s);
    rc = tq_store_open(db, 0, NULL, &s, NULL);
    if (rc)
        die("open listed", rc);
    busiest b = {{0}, 0};
    tq_txn *t;
    uint64_t last = 0;
    if (tq_txn_begin(s, 1, &t) || tq_store_each_office(t, TQ_STATE_HELD, pick_office, &b) ||
        tq_store_last_change(t, &last))
        die("the office index or the feed", TQ_ERR_STORE);
    tq_txn_abort(t);
    FILE *null = fopen("/dev/null", "w");
    if (null == NULL)
        exit(1);
    double l[64], lc[64], f0[64], f1[64];
    uint64_t rows = 0, rows0 = 0, rows1 = 0;
    int way = 0;
    time_list(s, b.office, null, &rows, &lc[0], &way);  /* warm the page cache (the
                                                         * feed's first run warms its own) */
    for (int i = 0; i < runs; i++) {
        l[i] = time_list(s, b.office, null, &rows, &lc[i], &way);
        f0[i] = time_feed(s, 0, null, &rows0);
        f1[i] = time_feed(s, last > 1000 ? last - 1000 : 0, null, &rows1);
    }
    fclose(null);
    tq_store_close(s);
    printf("%s (%llu declarations; office %s: %llu held listed %s; feed: %llu changes; "
           "median of %d, warm cache)\n", name, (unsigned long long)n, b.office,
           (unsigned long long)rows,
           way == TQ_LIST_BY_HELD ? "from the held table" : "through by_office",
           (unsigned long long)rows0, runs);
    snprintf(label, sizeof label, "%s/list_office_held_ms", name);
    add_result(label, "ms", median(l, runs));
    snprintf(label, sizeof label, "%s/list_office_held_cpu_ms", name);
    add_result(label, "ms", median(lc, runs));
    snprintf(label, sizeof label, "%s/list_office_held_rows", name);
    add_result(label, "rows", (double)rows);
    snprintf(label, sizeof label, "%s/export_changes_since_0_ms", name);
    add_result(label, "ms", median(f0, runs));
    snprintf(label, sizeof label, "%s/export_changes_since_0_rows", name);
    add_result(label, "rows", (double)rows0);
    snprintf(label, sizeof label, "%s/export_changes_last_1000_ms", name);
    add_result(label, "ms", median(f1, runs));
}

/* write_json() - the results, one {"name", "unit", "value"} object per line (the layout
 * bench/compare.sh reads), written whole or not at all (tq_out: temp, fsync, rename).
 * @return 0, or 1 after saying why. */
static int write_json(const char *path)
{
    tq_out o;
    tq_diag d;
    int rc = tq_out_open(&o, path, 0, &d);
    FILE *f = rc == TQ_OK ? tq_out_fp(&o) : NULL;
    if (f != NULL) {
        fputs("[\n", f);
        for (int i = 0; i < nresults; i++)
            fprintf(f, "  {\"name\": \"%s\", \"unit\": \"%s\", \"value\": %.3f}%s\n",
                    results[i].name, results[i].unit, results[i].value,
                    i + 1 < nresults ? "," : "");
        fputs("]\n", f);
        rc = tq_out_commit(&o, &d);
    } else if (rc == TQ_OK) {
        tq_out_rollback(&o);
        rc = TQ_ERR_NOMEM;
        snprintf(d.why, sizeof d.why, "no memory for a stream");
    }
    if (rc != TQ_OK) {
        fprintf(stderr, "bench: cannot write %s: %s (%s)\n", path, tq_strerror(rc), d.why);
        return 1;
    }
    return 0;
}

int main(int argc, char **argv)
{
    const char *scen = "morning-15k,day-25k,1m,10m,serial,threads,stages,lists-10m";
    const char *root = "/tmp/tqbench", *json = NULL;
    int runs = 5;
    unsigned threads = (unsigned)sysconf(_SC_NPROCESSORS_ONLN);
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--scenarios") && i + 1 < argc) scen = argv[++i];
        else if (!strcmp(argv[i], "--runs") && i + 1 < argc) runs = atoi(argv[++i]);
        else if (!strcmp(argv[i], "--dir") && i + 1 < argc) root = argv[++i];
        else if (!strcmp(argv[i], "--json") && i + 1 < argc) json = argv[++i];
        else if (!strcmp(argv[i], "--threads") && i + 1 < argc) threads = (unsigned)atoi(argv[++i]);
        else {
            fprintf(stderr, "usage: bench_suite [--scenarios LIST] [--runs N] [--dir DIR] "
                            "[--json FILE] [--threads N]\n"
                            "scenarios: morning-15k,day-25k,1m,10m,serial,threads,stages,"
                            "lists-1m,lists-10m\n");
            return 2;
        }
    }
    if (runs < 1 || runs > 64)
        runs = 5;
    mkdir(root, 0777);
    char list[512];
    snprintf(list, sizeof list, ",%s,", scen);
    if (strstr(list, ",morning-15k,")) scenario("morning-15k", root, 15000, runs, threads);
    if (strstr(list, ",day-25k,")) scenario("day-25k", root, 25000, runs, threads);
    if (strstr(list, ",1m,")) scenario("1m", root, 1000000, runs, threads);
    if (strstr(list, ",10m,")) scenario("10m", root, 10000000, runs < 3 ? runs : 3, threads);
    if (strstr(list, ",serial,"))
        scenario("1m-serial", root, 1000000, runs, 0);
    if (strstr(list, ",threads,")) {
        scenario("1m-threads-1", root, 1000000, runs, 1);
        scenario("1m-threads-2", root, 1000000, runs, 2);
    }
    if (strstr(list, ",stages,")) stages(root, 1000000, runs);
    if (strstr(list, ",lists-1m,")) lists("lists-1m", root, 1000000, runs);
    if (strstr(list, ",lists-10m,")) lists("lists-10m", root, 10000000, runs < 3 ? runs : 3);
    return json ? write_json(json) : 0;
}
