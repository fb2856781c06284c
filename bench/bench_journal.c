/* bench_journal.c - throughput of the journal: pack (add -> finish) and read (next_event).
 *
 * Usage: bench_journal [--events N] [--runs R] [--frame-bytes B] [--level L] [--dir D]
 *
 * Events are synthetic but shaped like a customs backlog: ~70% DECL with 1-5 lines
 * (8-digit HS codes from a few hundred headings, permits on some lines), and AMEND,
 * OFFICER, MANUAL_CLEAR and CANCEL on earlier declarations.  They are generated in
 * batches of 1024 into a reused array (memory stays a few MB whatever N is) and only
 * the tq_journal_add()/finish() calls are timed, so the figure is the journal's, not
 * the generator's.  Each measurement is the median of R runs.  Raw MB counts the
 * uncompressed record bytes.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "tq_journal.h"
#include "tq_time.h"

#define BATCH 1024

/* Wall time, and this thread's CPU time: on a shared machine the second says what the
 * code costs, the first what a user waited. */
typedef struct stamp {
    double wall, cpu;
} stamp;

static stamp now(void)
{
    struct timespec w, c;
    clock_gettime(CLOCK_MONOTONIC, &w);
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &c);
    return (stamp){(double)w.tv_sec + w.tv_nsec * 1e-9, (double)c.tv_sec + c.tv_nsec * 1e-9};
}

static void since(stamp t0, stamp *acc)
{
    stamp t = now();
    acc->wall += t.wall - t0.wall;
    acc->cpu += t.cpu - t0.cpu;
}

static uint64_t rng(uint64_t *s)
{
    /* splitmix64: cheap and good enough for synthetic data */
    uint64_t z = (*s += 0x9E3779B97F4A7C15ULL);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
    return z ^ (z >> 31);
}

typedef struct gen {
    uint64_t s;
    uint64_t i;          /* events made */
    uint64_t decls;      /* DECLs made: decl_no = base + decls */
    int64_t t0;          /* registration clock, local seconds since 2024-08-06 00:00 */
} gen;

static void fmt_ts(char *out, size_t cap, int64_t local, unsigned frac, tq_instant *inst)
{
    int64_t base = tq_days_from_civil(2024, 8, 6);
    int64_t day = local / 86400, sod = local % 86400;
    int64_t d = base + day;
    /* civil date of day d */
    int64_t z = d + 719468, era = (z >= 0 ? z : z - 146096) / 146097;
    unsigned doe = (unsigned)(z - era * 146097);
    unsigned yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
    unsigned doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    unsigned mp = (5 * doy + 2) / 153, dd = doy - (153 * mp + 2) / 5 + 1;
    unsigned mm = mp < 10 ? mp + 3 : mp - 9;
    int64_t yy = (int64_t)yoe + era * 400 + (mm <= 2);
    if (frac)
        snprintf(out, cap, "%04d-%02u-%02uT%02d:%02d:%02d.%03u+07:00", (int)yy, mm, dd,
                 (int)(sod / 3600), (int)(sod / 60 % 60), (int)(sod % 60), frac);
    else
        snprintf(out, cap, "%04d-%02u-%02uT%02d:%02d:%02d+07:00", (int)yy, mm, dd,
                 (int)(sod / 3600), (int)(sod / 60 % 60), (int)(sod % 60));
    if (inst) {
        inst->sec = d * 86400 + sod - 7 * 3600;
        inst->nsec = frac * 1000000u;
    }
}

static void make_lines(gen *g, tq_event *ev, unsigned n)
{
    ev->nlines = (uint16_t)n;
    for (unsigned j = 0; j < n; j++) {
        tq_line *l = &ev->lines[j];
        static const unsigned chapters[] = {8517, 8471, 3926, 8708, 6109, 9403, 303, 1006, 8542, 7308};
        uint64_t r = rng(&g->s);
        unsigned ch = chapters[r % 10];
        snprintf(l->hs, sizeof l->hs, "%04u%02u%02u", ch, (unsigned)(r >> 8) % 30,
                 (unsigned)((r >> 16) % 5) * 10);
        l->qty = 1 + (r >> 24) % 5000;
        l->value = (1 + (r >> 36) % 100000) * 10000;
        if ((r >> 56) % 4 == 0)
            snprintf(l->permit, sizeof l->permit, "GCN-2024-%06u", (unsigned)((r >> 4) % 200000));
        else
            l->permit[0] = '\0';
    }
}

static void next_event(gen *g, tq_event *ev)
{
    uint64_t r = rng(&g->s);
    unsigned k = (unsigned)(r % 100);
    g->i++;
    ev->has = 0;
    if (k < 70 || g->decls < 100) {
        uint64_t dn = 103000000000ULL + g->decls++;
        ev->ev = TQ_EV_DECL;
        ev->has = TQ_HAS_TAX_DUE | TQ_HAS_LINES;
        snprintf(ev->decl_no, sizeof ev->decl_no, "%012llu", (unsigned long long)dn);
        static const char *kinds[] = {"A11", "A12", "B11", "E31", "G51", "A41"};
        static const char *offices[] = {"01B1", "02CI", "03CE", "01NV", "47NB", "18ID"};
        memcpy(ev->kind, kinds[(r >> 8) % 6], 4);
        memcpy(ev->office, offices[(r >> 12) % 6], 5);
        uint64_t tax = (r >> 16) % 30000;
        if ((r >> 32) % 5 == 0)
            snprintf(ev->declarant, sizeof ev->declarant, "%013llu", (unsigned long long)(100000000000ULL + tax * 7919));
        else
            snprintf(ev->declarant, sizeof ev->declarant, "%010llu", (unsigned long long)(100000000ULL + tax * 7919));
        g->t0 += (int64_t)((r >> 40) % 7);
        fmt_ts(ev->registered_at, sizeof ev->registered_at, g->t0, (r >> 48) % 8 == 0 ? (unsigned)(r % 1000) : 0,
               &ev->registered);
        unsigned c = (unsigned)((r >> 44) % 100);
        ev->channel = c < 67 ? 1 : c < 97 ? 2 : 3;
        ev->tax_due = ((r >> 20) % 50000000) * 100;
        make_lines(g, ev, 1 + (unsigned)((r >> 52) % 5));
        return;
    }
    uint64_t target = 103000000000ULL + (r >> 8) % g->decls;
    snprintf(ev->decl_no, sizeof ev->decl_no, "%012llu", (unsigned long long)(target % 1000000000000ULL));
    if (k < 80) {
        ev->ev = TQ_EV_AMEND;
        if ((r >> 40) % 3 != 1) {
            ev->has |= TQ_HAS_TAX_DUE;
            ev->tax_due = ((r >> 20) % 50000000) * 100;
        }
        if ((r >> 40) % 3 != 0) {
            ev->has |= TQ_HAS_LINES;
            make_lines(g, ev, 1 + (unsigned)((r >> 52) % 5));
        }
    } else if (k < 92) {
        ev->ev = TQ_EV_OFFICER;
        ev->result = (uint8_t)(1 + (r >> 40) % 3);
        snprintf(ev->officer, sizeof ev->officer, "HQ01B1-%04u", (unsigned)((r >> 44) % 500));
    } else if (k < 95) {
        ev->ev = TQ_EV_MANUAL_CLEAR;
        snprintf(ev->officer, sizeof ev->officer, "HQ02CI-%04u", (unsigned)((r >> 44) % 500));
        fmt_ts(ev->cleared_at, sizeof ev->cleared_at, g->t0 + 3600, 0, NULL);
    } else {
        ev->ev = TQ_EV_CANCEL;
    }
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

static double median(double *v, int n)
{
    qsort(v, (size_t)n, sizeof *v, cmp_double);
    return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

static int pack(const char *path, uint64_t n, const tq_journal_write_opts *o, stamp *secs)
{
    static tq_event batch[BATCH];
    gen g = {.s = 42};
    tq_journal_writer *w;
    int rc = tq_journal_create(path, o, &w);
    if (rc != TQ_OK)
        return rc;
    stamp t = {0, 0};
    for (uint64_t done = 0; done < n;) {
        unsigned k = n - done < BATCH ? (unsigned)(n - done) : BATCH;
        for (unsigned i = 0; i < k; i++)
            next_event(&g, &batch[i]);
        stamp t0 = now();
        for (unsigned i = 0; i < k; i++) {
            if ((rc = tq_journal_add(w, &batch[i])) != TQ_OK) {
                tq_journal_abandon(w);
                return rc;
            }
        }
        since(t0, &t);
        done += k;
    }
    stamp t0 = now();
    rc = tq_journal_finish(w);
    since(t0, &t);
    *secs = t;
    return rc;
}

static int readall(const char *path, uint64_t *events, uint64_t *raw, uint64_t *frames,
                   stamp *secs)
{
    tq_journal_reader *r;
    stamp t0 = now();
    int rc = tq_journal_open(path, &r);
    if (rc != TQ_OK)
        return rc;
    static tq_event ev;
    tq_frame_info fi;
    uint64_t last_index = UINT64_MAX;
    *events = *raw = *frames = 0;
    while ((rc = tq_journal_next_event(r, &ev, &fi)) == TQ_OK) {
        (*events)++;
        if (fi.index != last_index) {
            last_index = fi.index;
            *raw += fi.raw_size;
            (*frames)++;
        }
    }
    tq_journal_close(r);
    *secs = (stamp){0, 0};
    since(t0, secs);
    return rc == TQ_ERR_EOF ? TQ_OK : rc;
}

typedef struct bench_args {
    uint64_t n;
    int runs;
    tq_journal_write_opts o;
    const char *dir;
} bench_args;

/* parse_args() - @return 0, or the exit status after a usage message. */
static int parse_args(int argc, char **argv, bench_args *a)
{
    *a = (bench_args){.n = 1000000, .runs = 5};
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--events") && i + 1 < argc)
            a->n = strtoull(argv[++i], NULL, 10);
        else if (!strcmp(argv[i], "--runs") && i + 1 < argc)
            a->runs = atoi(argv[++i]);
        else if (!strcmp(argv[i], "--frame-bytes") && i + 1 < argc)
            a->o.frame_bytes = strtoull(argv[++i], NULL, 10);
        else if (!strcmp(argv[i], "--level") && i + 1 < argc)
            a->o.level = atoi(argv[++i]);
        else if (!strcmp(argv[i], "--dir") && i + 1 < argc)
            a->dir = argv[++i];
        else {
            fprintf(stderr, "usage: %s [--events N] [--runs R] [--frame-bytes B] [--level L] [--dir D]\n",
                    argv[0]);
            return 2;
        }
    }
    if (a->runs < 1 || a->runs > 100 || a->n == 0) {
        fprintf(stderr, "bench_journal: --runs must be 1..100 and --events > 0\n");
        return 2;
    }
    return 0;
}

/* report() - the medians of the runs' pack and read times, as a table. */
static void report(const bench_args *a, const char *path, const stamp *pk, const stamp *rd,
                   uint64_t raw, uint64_t frames)
{
    const int runs = a->runs;
    const uint64_t n = a->n;
    double *pw = calloc((size_t)runs * 4, sizeof *pw);
    if (pw == NULL)
        return;
    double *pc = pw + runs, *rw = pc + runs, *rcpu = rw + runs;
    for (int i = 0; i < runs; i++) {
        pw[i] = pk[i].wall;
        pc[i] = pk[i].cpu;
        rw[i] = rd[i].wall;
        rcpu[i] = rd[i].cpu;
    }
    struct stat st;
    if (stat(path, &st) != 0)
        st.st_size = 1;
    double mb = (double)raw / 1e6;
    double p = median(pw, runs), pcpu = median(pc, runs), r = median(rw, runs),
           rc = median(rcpu, runs);
    printf("journal bench: %llu events, %llu frames, frame_bytes %zu, level %d, median of %d runs\n",
           (unsigned long long)n, (unsigned long long)frames,
           a->o.frame_bytes ? a->o.frame_bytes : (size_t)TQ_JOURNAL_FRAME_DEFAULT,
           a->o.level ? a->o.level : 3, runs);
    printf("  raw records  %10.1f MB  (%.1f bytes/event)\n", mb, (double)raw / (double)n);
    printf("  file         %10.1f MB  (%.1f bytes/event, ratio %.2fx)\n", st.st_size / 1e6,
           (double)st.st_size / (double)n, (double)raw / (double)st.st_size);
    printf("  %-6s %-5s %12s %12s %10s\n", "phase", "clock", "records/s", "raw MB/s", "seconds");
    printf("  %-6s %-5s %12.0f %12.1f %10.3f\n", "pack", "wall", n / p, mb / p, p);
    printf("  %-6s %-5s %12.0f %12.1f %10.3f\n", "pack", "cpu", n / pcpu, mb / pcpu, pcpu);
    printf("  %-6s %-5s %12.0f %12.1f %10.3f\n", "read", "wall", n / r, mb / r, r);
    printf("  %-6s %-5s %12.0f %12.1f %10.3f\n", "read", "cpu", n / rc, mb / rc, rc);
    free(pw);
}

int main(int argc, char **argv)
{
    bench_args a;
    int st = parse_args(argc, argv, &a);
    if (st != 0)
        return st;
    char tmpl[] = "/tmp/bench_journal_XXXXXX", path[4096];
    const char *dir = a.dir;
    if (dir == NULL && (dir = mkdtemp(tmpl)) == NULL) {
        fprintf(stderr, "bench_journal: mkdtemp: %s\n", strerror(errno));
        return 1;
    }
    snprintf(path, sizeof path, "%s/bench.tqj", dir);
    stamp *pk = calloc((size_t)a.runs, sizeof *pk), *rd = calloc((size_t)a.runs, sizeof *rd);
    uint64_t events = 0, raw = 0, frames = 0;
    int rc = pk && rd ? TQ_OK : TQ_ERR_NOMEM;
    for (int i = 0; i < a.runs && rc == TQ_OK; i++) {
        rc = pack(path, a.n, &a.o, &pk[i]);
        if (rc == TQ_OK)
            rc = readall(path, &events, &raw, &frames, &rd[i]);
        if (rc == TQ_OK && events != a.n)
            rc = TQ_ERR_CORRUPT;
    }
    if (rc != TQ_OK)
        fprintf(stderr, "bench_journal: %s (%llu events)\n", tq_strerror(rc),
                (unsigned long long)events);
    else
        report(&a, path, pk, rd, raw, frames);
    unlink(path);
    if (dir == tmpl)
        rmdir(dir);
    free(pk);
    free(rd);
    return rc == TQ_OK ? 0 : 1;
}
