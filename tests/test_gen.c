/* test_gen.c - the backlog generator: determinism, validity of every record, the mix.
 *
 * The journal is read back through tq_journal_open/next_event, and every event and CSV
 * row is checked against SPEC §2 and §7 twice: by checks written here (so that a
 * generator bug and a parser bug cannot hide each other) and by the product's own
 * parsers (so that what gen writes is what load and replay accept).
 */
#include <criterion/criterion.h>

#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <signal.h>
#include <unistd.h>

#include <openssl/evp.h>

#include "tq_gen.h"
#include "../formats/tq_csv.h"
#include "../formats/tq_journal.h"
#include "../formats/tq_ndjson.h"
#include "../formats/tq_time.h"
#include "tq_testfiles.h"

/* ---- helpers ------------------------------------------------------------------ */

static void make_dir(char *dir, size_t cap)
{
    snprintf(dir, cap, "/tmp/tq_test_gen.XXXXXX");
    cr_assert_not_null(mkdtemp(dir), "mkdtemp: %s", strerror(errno));
}

static void remove_dir(const char *dir)
{
    DIR *dp = opendir(dir);
    if (dp == NULL)
        return;
    struct dirent *de;
    char path[4096];
    while ((de = readdir(dp)) != NULL) {
        if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0)
            continue;
        snprintf(path, sizeof path, "%s/%s", dir, de->d_name);
        unlink(path);
    }
    closedir(dp);
    rmdir(dir);
}

static void gen_into(const char *dir, uint64_t n, uint64_t seed, size_t frame_bytes,
                     tq_gen_stats *st)
{
    tq_gen_opts o = {.declarations = n, .seed = seed, .out_dir = dir, .frame_bytes = frame_bytes};
    tq_diag d = {0};
    int rc = tq_gen_run(&o, st, &d);
    cr_assert_eq(rc, TQ_OK, "tq_gen_run: %s: %s: %s", tq_strerror(rc), d.field, d.why);
}

static char *slurp(const char *dir, const char *name, size_t *len)
{
    char path[4096];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    FILE *f = fopen(path, "rb");
    cr_assert_not_null(f, "%s: %s", path, strerror(errno));
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fseek(f, 0, SEEK_SET);
    char *buf = malloc((size_t)n + 1);
    cr_assert_not_null(buf);
    cr_assert_eq(fread(buf, 1, (size_t)n, f), (size_t)n);
    buf[n] = '\0';
    fclose(f);
    *len = (size_t)n;
    return buf;
}

/* Split buf (NUL-terminated, ending in '\n') into lines in place. */
static char **split_lines(char *buf, size_t len, size_t *nlines)
{
    size_t n = 0, cap = 1024;
    char **v = malloc(cap * sizeof *v);
    cr_assert(len > 0 && buf[len - 1] == '\n', "a file must end in a newline");
    for (char *p = buf; p < buf + len;) {
        char *e = memchr(p, '\n', (size_t)(buf + len - p));
        *e = '\0';
        if (n == cap)
            v = realloc(v, (cap *= 2) * sizeof *v);
        v[n++] = p;
        p = e + 1;
    }
    *nlines = n;
    return v;
}

/* Split a CSV row in place; no quoting is used. */
static size_t split_fields(char *row, char **f, size_t max)
{
    size_t n = 0;
    for (char *p = row;; p++) {
        if (n < max)
            f[n] = p;
        n++;
        p = strchr(p, ',');
        if (p == NULL)
            break;
        *p = '\0';
    }
    return n;
}

/* ---- field checks (SPEC §2, §7) ----------------------------------------------- */

static int all_digits(const char *s, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (s[i] < '0' || s[i] > '9')
            return 0;
    return 1;
}

static int ok_decl_no(const char *s)
{
    return strlen(s) == 12 && all_digits(s, 12) && s[0] != '0';
}

static int ok_taxid(const char *s)
{
    size_t n = strlen(s);
    return (n == 10 || n == 13) && all_digits(s, n);
}

static int ok_permit_no(const char *s)
{
    size_t n = strlen(s);
    if (n < 1 || n > 32)
        return 0;
    for (size_t i = 0; i < n; i++)
        if (!strchr("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789./_-", s[i]))
            return 0;
    return 1;
}

static int ok_kind(const char *s)
{
    return strlen(s) == 3 && s[0] >= 'A' && s[0] <= 'Z' &&
           strspn(s + 1, "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ") == 2;
}

static int ok_office(const char *s)
{
    return strlen(s) == 4 && strspn(s, "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ") == 4;
}

static int ok_uint(const char *s, uint64_t max, uint64_t *out)
{
    size_t n = strlen(s);
    if (n == 0 || n > 19 || !all_digits(s, n) || (n > 1 && s[0] == '0'))
        return 0;
    uint64_t v = strtoull(s, NULL, 10);
    if (v > max)
        return 0;
    if (out)
        *out = v;
    return 1;
}

static int64_t days_from_civil(int64_t y, unsigned m, unsigned d)
{
    y -= m <= 2;
    int64_t era = (y >= 0 ? y : y - 399) / 400;
    unsigned yoe = (unsigned)(y - era * 400);
    unsigned doy = (153 * (m > 2 ? m - 3 : m + 9) + 2) / 5 + d - 1;
    unsigned doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    return era * 146097 + (int64_t)doe - 719468;
}

static int parse_date(const char *s, int64_t *day)
{
    static const unsigned mdays[] = {31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    if (strlen(s) < 10 || !all_digits(s, 4) || s[4] != '-' || !all_digits(s + 5, 2) ||
        s[7] != '-' || !all_digits(s + 8, 2))
        return 0;
    int y = atoi(s);
    unsigned m = (unsigned)(s[5] - '0') * 10 + (unsigned)(s[6] - '0');
    unsigned d = (unsigned)(s[8] - '0') * 10 + (unsigned)(s[9] - '0');
    int leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
    if (y < 1 || m < 1 || m > 12 || d < 1 || d > mdays[m - 1] || (m == 2 && d == 29 && !leap))
        return 0;
    *day = days_from_civil(y, m, d);
    return 1;
}

static int ok_date(const char *s, int64_t *day)
{
    return strlen(s) == 10 && parse_date(s, day);
}

/* "YYYY-MM-DDTHH:MM:SS" then "Z" or "+HH:MM"/"-HH:MM" (the generator writes no
 * fractions). */
static int parse_ts(const char *s, int64_t *unix_sec)
{
    int64_t day;
    size_t n = strlen(s);
    if (n < 20 || !parse_date(s, &day) || s[10] != 'T' || !all_digits(s + 11, 2) ||
        s[13] != ':' || !all_digits(s + 14, 2) || s[16] != ':' || !all_digits(s + 17, 2))
        return 0;
    int hh = atoi(s + 11), mi = atoi(s + 14), ss = atoi(s + 17);
    if (hh > 23 || mi > 59 || ss > 59)
        return 0;
    int64_t off = 0;
    if (n == 20 && s[19] == 'Z') {
        off = 0;
    } else if (n == 25 && (s[19] == '+' || s[19] == '-') && all_digits(s + 20, 2) &&
               s[22] == ':' && all_digits(s + 23, 2)) {
        off = (atoi(s + 20) * 60 + atoi(s + 23)) * 60;
        if (s[19] == '-')
            off = -off;
    } else {
        return 0;
    }
    *unix_sec = day * 86400 + hh * 3600 + mi * 60 + ss - off;
    return 1;
}

static void check_line(const tq_line *ln, uint64_t seq)
{
    cr_assert(strlen(ln->hs) == 8 && all_digits(ln->hs, 8), "seq %llu: hs '%s'",
              (unsigned long long)seq, ln->hs);
    cr_assert(ln->permit[0] == '\0' || ok_permit_no(ln->permit), "seq %llu: permit '%s'",
              (unsigned long long)seq, ln->permit);
    cr_assert(ln->qty >= 1 && ln->qty <= TQ_QTY_MAX, "seq %llu: qty", (unsigned long long)seq);
    cr_assert(ln->value <= TQ_MONEY_MAX, "seq %llu: value", (unsigned long long)seq);
}

static void check_officer_id(const char *s, uint64_t seq)
{
    size_t n = strlen(s);
    cr_assert(n >= 1 && n <= 64, "seq %llu: officer length", (unsigned long long)seq);
    for (size_t i = 0; i < n; i++)
        cr_assert(s[i] >= 0x20 && s[i] < 0x7f, "seq %llu: officer byte", (unsigned long long)seq);
}

static void check_event(const tq_event *ev)
{
    unsigned long long seq = (unsigned long long)ev->seq;
    cr_assert(ok_decl_no(ev->decl_no), "seq %llu: decl_no '%s'", seq, ev->decl_no);
    switch (ev->ev) {
    case TQ_EV_DECL: {
        cr_assert(ok_kind(ev->kind), "seq %llu: kind '%s'", seq, ev->kind);
        cr_assert(ok_office(ev->office), "seq %llu: office '%s'", seq, ev->office);
        cr_assert(ok_taxid(ev->declarant), "seq %llu: declarant '%s'", seq, ev->declarant);
        int64_t t;
        cr_assert(parse_ts(ev->registered_at, &t), "seq %llu: registered_at '%s'", seq,
                  ev->registered_at);
        cr_assert(t == ev->registered.sec && ev->registered.nsec == 0,
                  "seq %llu: registered %lld does not match '%s'", seq,
                  (long long)ev->registered.sec, ev->registered_at);
        cr_assert(ev->channel >= 1 && ev->channel <= 3, "seq %llu: channel", seq);
        cr_assert((ev->has & (TQ_HAS_TAX_DUE | TQ_HAS_LINES)) == (TQ_HAS_TAX_DUE | TQ_HAS_LINES));
        cr_assert(ev->tax_due <= TQ_MONEY_MAX, "seq %llu: tax_due", seq);
        cr_assert(ev->nlines >= 1 && ev->nlines <= TQ_LINES_MAX, "seq %llu: nlines", seq);
        for (unsigned i = 0; i < ev->nlines; i++)
            check_line(&ev->lines[i], ev->seq);
        break;
    }
    case TQ_EV_AMEND:
        cr_assert(ev->has & (TQ_HAS_TAX_DUE | TQ_HAS_LINES), "seq %llu: empty AMEND", seq);
        if (ev->has & TQ_HAS_TAX_DUE)
            cr_assert(ev->tax_due <= TQ_MONEY_MAX, "seq %llu: tax_due", seq);
        if (ev->has & TQ_HAS_LINES) {
            cr_assert(ev->nlines >= 1 && ev->nlines <= TQ_LINES_MAX, "seq %llu: nlines", seq);
            for (unsigned i = 0; i < ev->nlines; i++)
                check_line(&ev->lines[i], ev->seq);
        }
        break;
    case TQ_EV_OFFICER:
        cr_assert(ev->result >= TQ_OFFICER_DOCS_OK && ev->result <= TQ_OFFICER_REJECT,
                  "seq %llu: result", seq);
        check_officer_id(ev->officer, ev->seq);
        break;
    case TQ_EV_MANUAL_CLEAR: {
        int64_t t;
        check_officer_id(ev->officer, ev->seq);
        cr_assert(parse_ts(ev->cleared_at, &t), "seq %llu: cleared_at '%s'", seq, ev->cleared_at);
        break;
    }
    case TQ_EV_CANCEL:
        break;
    default:
        cr_assert_fail("seq %llu: event kind %d", seq, ev->ev);
    }
}

/* A canonical text of the parts of an event its kind uses, for comparing runs. */
static void canon(const tq_event *ev, char *out, size_t cap)
{
    int n = snprintf(out, cap, "%d|%s", ev->ev, ev->decl_no);
    if (ev->ev == TQ_EV_DECL)
        n += snprintf(out + n, cap - (size_t)n, "|%s|%s|%s|%s|%lld|%d", ev->kind, ev->office,
                      ev->declarant, ev->registered_at, (long long)ev->registered.sec, ev->channel);
    if (ev->ev == TQ_EV_OFFICER)
        n += snprintf(out + n, cap - (size_t)n, "|%d|%s", ev->result, ev->officer);
    if (ev->ev == TQ_EV_MANUAL_CLEAR)
        n += snprintf(out + n, cap - (size_t)n, "|%s|%s", ev->officer, ev->cleared_at);
    if ((ev->ev == TQ_EV_DECL || ev->ev == TQ_EV_AMEND) && (ev->has & TQ_HAS_TAX_DUE))
        n += snprintf(out + n, cap - (size_t)n, "|tax=%llu", (unsigned long long)ev->tax_due);
    if ((ev->ev == TQ_EV_DECL || ev->ev == TQ_EV_AMEND) && (ev->has & TQ_HAS_LINES))
        for (unsigned i = 0; i < ev->nlines && (size_t)n < cap; i++)
            n += snprintf(out + n, cap - (size_t)n, "|%s,%s,%llu,%llu", ev->lines[i].hs,
                          ev->lines[i].permit, (unsigned long long)ev->lines[i].qty,
                          (unsigned long long)ev->lines[i].value);
}

static tq_journal_reader *open_journal(const char *dir)
{
    char path[4096];
    snprintf(path, sizeof path, "%s/journal.tqj", dir);
    tq_journal_reader *r = NULL;
    int rc = tq_journal_open(path, &r);
    cr_assert_eq(rc, TQ_OK, "open %s: %s", path, tq_strerror(rc));
    return r;
}

/* ---- a whole backlog, read back ----------------------------------------------- */

typedef struct decl_rec {
    char decl_no[13];
    char declarant[14];
    uint64_t tax_due;
    int64_t reg_day;
    double paid;
} decl_rec;

typedef struct permit_rec {
    char permit_no[33];
    char holder[14];
    char status[8];
    int64_t from, to;
    uint64_t quota;
    char prefixes[200];
    uint32_t users;        /* distinct declarations naming it (first DECL only) */
    uint64_t last_user;    /* index+1 of the last declaration counted */
} permit_rec;

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

static int cmp_decl(const void *a, const void *b)
{
    return strcmp(((const decl_rec *)a)->decl_no, ((const decl_rec *)b)->decl_no);
}

static int cmp_permit(const void *a, const void *b)
{
    return strcmp(((const permit_rec *)a)->permit_no, ((const permit_rec *)b)->permit_no);
}

static int hs_matches(const char *hs, const char *prefixes)
{
    const char *p = prefixes;
    while (*p) {
        size_t n = strcspn(p, ";");
        if (strncmp(hs, p, n) == 0)
            return 1;
        p += n;
        if (*p == ';')
            p++;
    }
    return 0;
}

/* csv_lines() - the lines of dir's CSV file name (split_lines(); *buf holds them: free
 * it and the array), checked: header first, then as many rows as the stats say. */
static char **csv_lines(const char *dir, const char *name, const char *header, uint64_t rows,
                        char **buf, size_t *n)
{
    size_t len;
    *buf = slurp(dir, name, &len);
    char **lines = split_lines(*buf, len, n);
    cr_assert_str_eq(lines[0], header, "%s", name);
    cr_assert_eq(rows, *n - 1, "the stats say %llu rows, %s has %zu", (unsigned long long)rows,
                 name, *n - 1);
    return lines;
}

/* same_file() - whether name holds the same bytes in dirs a and b. */
static int same_file(const char *a, const char *b, const char *name)
{
    size_t la, lb;
    char *fa = slurp(a, name, &la), *fb = slurp(b, name, &lb);
    int same = la == lb && memcmp(fa, fb, la) == 0;
    free(fa);
    free(fb);
    return same;
}

/* Two backlogs, each in a directory of its own, with their stats, and their journals
 * read side by side, each event also as canon() text. */
typedef struct journal_pair {
    char dir[2][64];
    tq_gen_stats st[2];
    tq_journal_reader *r[2];
    tq_event ev[2];
    char text[2][65536];
} journal_pair;

/* pair_gen() - two backlogs of n declarations, of seed[0] and seed[1], the second one
 * framed in frame_b bytes, their journals opened.  pair_close() undoes it all. */
static journal_pair *pair_gen(uint64_t n, const uint64_t seed[2], size_t frame_b)
{
    journal_pair *p = calloc(1, sizeof *p);
    cr_assert_not_null(p);
    for (int i = 0; i < 2; i++) {
        make_dir(p->dir[i], sizeof p->dir[i]);
        gen_into(p->dir[i], n, seed[i], i ? frame_b : 0, &p->st[i]);
        p->r[i] = open_journal(p->dir[i]);
    }
    return p;
}

/* pair_next() - the next event of each journal into ev[] and text[]; the status of
 * a's read, b's in *rc_b. */
static int pair_next(journal_pair *p, int *rc_b)
{
    int rc[2];
    for (int i = 0; i < 2; i++) {
        tq_frame_info fi;
        rc[i] = tq_journal_next_event(p->r[i], &p->ev[i], &fi);
        if (rc[i] == TQ_OK)
            canon(&p->ev[i], p->text[i], sizeof p->text[i]);
    }
    *rc_b = rc[1];
    return rc[0];
}

/* expect_csv_same() - the two backlogs' CSV files are byte for byte the same, or (same
 * 0) each one differs. */
static void expect_csv_same(const journal_pair *p, int same)
{
    const char *csv[] = {"payments.csv", "permits.csv"};
    for (int i = 0; i < 2; i++)
        cr_assert_eq(same_file(p->dir[0], p->dir[1], csv[i]), same, "%s %s", csv[i],
                     same ? "differs between runs" : "is the same for both seeds");
}

static void pair_close(journal_pair *p)
{
    for (int i = 0; i < 2; i++) {
        tq_journal_close(p->r[i]);
        remove_dir(p->dir[i]);
    }
    free(p);
}

TestSuite(gen, .timeout = 300);

Test(gen, same_seed_gives_same_backlog)
{
    /* the framing must not change the events */
    journal_pair *p = pair_gen(5000, (const uint64_t[2]){42, 42}, 4096);
    expect_csv_same(p, 1);
    uint64_t n = 0;
    for (;;) {
        int xb, xa = pair_next(p, &xb);
        cr_assert_eq(xa, xb, "journals end differently after %llu events", (unsigned long long)n);
        if (xa == TQ_ERR_EOF)
            break;
        cr_assert_eq(xa, TQ_OK, "reading the journal: %s", tq_strerror(xa));
        cr_assert_eq(p->ev[0].seq, p->ev[1].seq);
        cr_assert_str_eq(p->text[0], p->text[1], "event %llu differs",
                         (unsigned long long)p->ev[0].seq);
        n++;
    }
    cr_assert_eq(n, p->st[0].events);
    cr_assert_eq(p->st[0].events, p->st[1].events);
    cr_assert_eq(p->st[0].payments, p->st[1].payments);
    cr_assert_eq(p->st[0].permits, p->st[1].permits);
    pair_close(p);
}

/* The SHA-256 of a file of dir, or (name NULL) of its journal's events as `journal cat`
 * prints them, in hex. */
static void sha256_hex(const char *dir, const char *name, char hex[65])
{
    unsigned char md[32];
    EVP_MD_CTX *c = EVP_MD_CTX_new();
    cr_assert(c != NULL && EVP_DigestInit_ex(c, EVP_sha256(), NULL) == 1);
    if (name != NULL) {
        size_t len;
        char *f = slurp(dir, name, &len);
        cr_assert_eq(EVP_DigestUpdate(c, f, len), 1);
        free(f);
    } else {
        tq_journal_reader *r = open_journal(dir);
        tq_event *ev = malloc(sizeof *ev);
        static char line[TQ_NDJSON_LINE_MAX];
        int rc;
        while ((rc = tq_journal_next_event(r, ev, NULL)) == TQ_OK) {
            size_t n = tq_ndjson_format_event(ev, 1, line, sizeof line);
            cr_assert(n < sizeof line);
            cr_assert_eq(EVP_DigestUpdate(c, line, n), 1);
        }
        cr_assert_eq(rc, TQ_ERR_EOF);
        free(ev);
        tq_journal_close(r);
    }
    cr_assert_eq(EVP_DigestFinal_ex(c, md, NULL), 1);
    EVP_MD_CTX_free(c);
    for (int i = 0; i < 32; i++)
        snprintf(hex + 2 * i, 3, "%02x", md[i]);
}

/* The bytes are pinned: a backlog made by this version is the one every earlier version
 * made from the same arguments (bench numbers, the demo and saved backlogs stay
 * comparable).  A refactoring must keep these; a change to the mix changes them on
 * purpose, and then the new sums go here with the reason in the commit. */
Test(gen, bytes_are_pinned)
{
    char dir[64];
    make_dir(dir, sizeof dir);
    gen_into(dir, 3000, 99, 4096, NULL);
    char hex[65];
    sha256_hex(dir, "payments.csv", hex);
    cr_expect_str_eq(hex, "b8a87258608e15ca81b5947af486106b6f66d0f45db87b46adeabcc12a793971",
                     "payments.csv changed");
    sha256_hex(dir, "permits.csv", hex);
    cr_expect_str_eq(hex, "713e27741ff83ee4c75bc805c71b6f2f270805272e5f25285f67bb620e67e15a",
                     "permits.csv changed");
    sha256_hex(dir, NULL, hex);
    cr_expect_str_eq(hex, "9485cf6b18bde7f5af7b9a071b1522518d5b7678e72117b535b4699ae6cec6f5",
                     "the journal's events changed");
    remove_dir(dir);
}

Test(gen, different_seed_gives_different_backlog)
{
    journal_pair *p = pair_gen(2000, (const uint64_t[2]){1, 2}, 0);
    expect_csv_same(p, 0);
    int differ = 0;
    for (int i = 0; i < 100 && !differ; i++) {
        int xb;
        cr_assert_eq(pair_next(p, &xb), TQ_OK);
        cr_assert_eq(xb, TQ_OK);
        differ = strcmp(p->text[0], p->text[1]) != 0;
    }
    cr_assert(differ, "the first 100 events are the same for seeds 1 and 2");
    pair_close(p);
}

/* Everything at once on one realistic backlog: validity of every record, the stats,
 * the ordering, and the mix. */
Test(gen, backlog_is_valid_and_realistic)
{
    enum { N = 20000 };
    char dir[64];
    make_dir(dir, sizeof dir);
    tq_gen_stats st;
    gen_into(dir, N, 2024, 0, &st);
    cr_assert_eq(tq_test_count_entries(dir, NULL), 3, "only the three files, no temporaries");

    /* permits.csv */
    char *pbuf;
    size_t npl;
    char **pl = csv_lines(dir, "permits.csv",
                          "permit_no,agency,holder,valid_from,valid_to,status,hs_prefixes,quota",
                          st.permits, &pbuf, &npl);
    permit_rec *perm = calloc(npl, sizeof *perm);
    size_t nperm = 0, revoked = 0, quota_permits = 0;
    for (size_t i = 1; i < npl; i++) {
        char *f[10];
        cr_assert_eq(split_fields(pl[i], f, 10), 8, "permits.csv line %zu: fields", i + 1);
        cr_assert(ok_permit_no(f[0]), "permits.csv line %zu: permit_no '%s'", i + 1, f[0]);
        size_t al = strlen(f[1]);
        cr_assert(al >= 1 && al <= 16 && strspn(f[1], "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789") == al,
                  "permits.csv line %zu: agency '%s'", i + 1, f[1]);
        cr_assert(ok_taxid(f[2]), "permits.csv line %zu: holder '%s'", i + 1, f[2]);
        int64_t from, to;
        cr_assert(ok_date(f[3], &from) && ok_date(f[4], &to), "permits.csv line %zu: dates", i + 1);
        cr_assert(from <= to, "permits.csv line %zu: valid_from > valid_to", i + 1);
        cr_assert(strcmp(f[5], "VALID") == 0 || strcmp(f[5], "REVOKED") == 0,
                  "permits.csv line %zu: status '%s'", i + 1, f[5]);
        size_t np = 0;
        for (const char *p = f[6];;) {
            size_t n = strcspn(p, ";");
            cr_assert(n >= 2 && n <= 8 && all_digits(p, n), "permits.csv line %zu: prefix", i + 1);
            np++;
            p += n;
            if (*p == '\0')
                break;
            p++;
        }
        cr_assert(np >= 1 && np <= 16, "permits.csv line %zu: %zu prefixes", i + 1, np);
        uint64_t quota;
        cr_assert(ok_uint(f[7], 1000000000000000000ULL, &quota), "permits.csv line %zu: quota", i + 1);

        /* a permit_no repeated: the later row wins */
        permit_rec *r = NULL;
        for (size_t k = nperm; k > 0 && k + 4 > nperm; k--)
            if (strcmp(perm[k - 1].permit_no, f[0]) == 0)
                r = &perm[k - 1];
        if (r == NULL)
            r = &perm[nperm++];
        snprintf(r->permit_no, sizeof r->permit_no, "%s", f[0]);
        snprintf(r->holder, sizeof r->holder, "%s", f[2]);
        snprintf(r->status, sizeof r->status, "%s", f[5]);
        snprintf(r->prefixes, sizeof r->prefixes, "%s", f[6]);
        r->from = from;
        r->to = to;
        r->quota = quota;
    }
    qsort(perm, nperm, sizeof *perm, cmp_permit);
    for (size_t i = 0; i < nperm; i++) {
        cr_assert(i == 0 || strcmp(perm[i - 1].permit_no, perm[i].permit_no) != 0,
                  "permit %s repeated apart", perm[i].permit_no);
        revoked += strcmp(perm[i].status, "REVOKED") == 0;
        quota_permits += perm[i].quota > 0;
    }
    cr_assert_geq(nperm, 1000, "a pool of N/20 permits");
    cr_assert_gt(revoked, 0);
    cr_assert_gt(quota_permits, 0);

    /* the journal */
    tq_journal_reader *r = open_journal(dir);
    tq_event *ev = malloc(sizeof *ev);
    tq_frame_info fi;
    decl_rec *decls = calloc(N, sizeof *decls);
    size_t ndecl = 0;
    uint64_t events = 0, ch[4] = {0}, dup = 0, amend = 0, officer[4] = {0}, manual = 0,
             cancel = 0, unknown = 0, with_permit = 0, lines = 0, missing_lines = 0,
             holder_ok = 0, holder_bad = 0, hs_bad = 0, expired_use = 0, revoked_use = 0;
    uint64_t last_no = 0;
    int64_t last_reg = INT64_MIN;
    char last_no_text[13] = "";
    while (1) {
        int rc = tq_journal_next_event(r, ev, &fi);
        if (rc == TQ_ERR_EOF)
            break;
        cr_assert_eq(rc, TQ_OK, "reading the journal: %s", tq_strerror(rc));
        events++;
        cr_assert_eq(ev->seq, events, "seq runs 1, 2, 3...");
        check_event(ev);
        uint64_t no = strtoull(ev->decl_no, NULL, 10);
        decl_rec key;
        snprintf(key.decl_no, sizeof key.decl_no, "%s", ev->decl_no);
        /* decl_no grows with each new DECL, so "known" is a binary search */
        decl_rec *known = bsearch(&key, decls, ndecl, sizeof *decls, cmp_decl);
        if (ev->ev != TQ_EV_DECL) {
            unknown += known == NULL;
            amend += ev->ev == TQ_EV_AMEND;
            manual += ev->ev == TQ_EV_MANUAL_CLEAR;
            cancel += ev->ev == TQ_EV_CANCEL;
            if (ev->ev == TQ_EV_OFFICER)
                officer[ev->result]++;
            continue;
        }
        if (known != NULL) {
            dup++;
            continue;
        }
        cr_assert_gt(no, last_no, "seq %llu: decl_no %s after %s", (unsigned long long)ev->seq,
                     ev->decl_no, last_no_text);
        cr_assert_geq(ev->registered.sec, last_reg, "seq %llu: registered earlier than the "
                      "declaration before it", (unsigned long long)ev->seq);
        last_no = no;
        last_reg = ev->registered.sec;
        snprintf(last_no_text, sizeof last_no_text, "%s", ev->decl_no);
        cr_assert_lt(ndecl, (size_t)N, "more distinct DECLs than declarations");
        decl_rec *d = &decls[ndecl++];
        *d = (decl_rec){0};
        snprintf(d->decl_no, sizeof d->decl_no, "%s", ev->decl_no);
        snprintf(d->declarant, sizeof d->declarant, "%s", ev->declarant);
        d->tax_due = ev->tax_due;
        d->reg_day = (ev->registered.sec + 7 * 3600) / 86400;
        ch[ev->channel]++;
        int named = 0;
        for (unsigned i = 0; i < ev->nlines; i++) {
            const tq_line *ln = &ev->lines[i];
            lines++;
            if (ln->permit[0] == '\0')
                continue;
            named = 1;
            permit_rec pk;
            snprintf(pk.permit_no, sizeof pk.permit_no, "%s", ln->permit);
            permit_rec *p = bsearch(&pk, perm, nperm, sizeof *perm, cmp_permit);
            if (p == NULL) {
                missing_lines++;
                continue;
            }
            if (p->last_user != ndecl) {
                p->last_user = ndecl;
                p->users++;
                if (strcmp(p->holder, ev->declarant) == 0)
                    holder_ok++;
                else
                    holder_bad++;
                expired_use += d->reg_day < p->from || d->reg_day > p->to;
                revoked_use += strcmp(p->status, "REVOKED") == 0;
            }
            hs_bad += !hs_matches(ln->hs, p->prefixes);
        }
        with_permit += named;
    }
    tq_journal_close(r);
    cr_assert_eq(events, st.events, "stats.events %llu, journal has %llu",
                 (unsigned long long)st.events, (unsigned long long)events);
    struct stat sb;
    char jpath[128];
    snprintf(jpath, sizeof jpath, "%s/journal.tqj", dir);
    cr_assert_eq(stat(jpath, &sb), 0);
    cr_assert_eq((uint64_t)sb.st_size, st.journal_bytes);

    /* the mix of SPEC §1 */
    cr_assert_eq(ndecl, (size_t)N, "%zu distinct declarations", ndecl);
    double c1 = (double)ch[1] / N, c2 = (double)ch[2] / N, c3 = (double)ch[3] / N;
    cr_assert(c1 > 0.64 && c1 < 0.70, "channel 1 share %.3f", c1);
    cr_assert(c2 > 0.27 && c2 < 0.33, "channel 2 share %.3f", c2);
    cr_assert(c3 > 0.02 && c3 < 0.04, "channel 3 share %.3f", c3);
    double wp = (double)with_permit / N;
    cr_assert(wp > 0.36 && wp < 0.44, "share naming a permit %.3f", wp);
    cr_assert(dup > N / 1000 && dup < N / 100, "%llu duplicate DECLs", (unsigned long long)dup);
    cr_assert(amend > N / 100 && amend < N / 20, "%llu AMENDs", (unsigned long long)amend);
    cr_assert(cancel > N / 200 && cancel < N / 50, "%llu CANCELs", (unsigned long long)cancel);
    cr_assert(manual > N / 500 && manual < N / 50, "%llu MANUAL_CLEARs", (unsigned long long)manual);
    cr_assert(officer[TQ_OFFICER_REJECT] > N / 200 && officer[TQ_OFFICER_REJECT] < N / 50,
              "%llu REJECTs", (unsigned long long)officer[TQ_OFFICER_REJECT]);
    cr_assert_gt(officer[TQ_OFFICER_DOCS_OK], ch[2] * 3 / 4, "most yellow ones get DOCS_OK");
    cr_assert_gt(officer[TQ_OFFICER_INSPECT_OK], ch[3] * 2 / 3, "most red ones get INSPECT_OK");
    cr_assert(unknown > 0 && unknown < N / 200, "%llu events for unknown declarations",
              (unsigned long long)unknown);
    cr_assert_gt(missing_lines, 0, "lines naming a permit that does not exist");
    cr_assert_lt(missing_lines, lines / 50);
    cr_assert_gt(holder_ok, 4 * holder_bad, "holders are mostly the importers using them");
    cr_assert_gt(holder_bad, 0, "some permits name another holder");
    cr_assert_gt(hs_bad, 0, "some lines fall outside their permit's prefixes");
    cr_assert_gt(expired_use, 0, "some declarations name a permit outside its window");
    cr_assert_gt(revoked_use, 0, "some declarations name a revoked permit");
    size_t contended = 0;
    for (size_t i = 0; i < nperm; i++)
        contended += perm[i].quota > 0 && perm[i].users >= 2;
    cr_assert_gt(contended, 0, "quota permits named by two declarations or more");
    int hot = 0;
    for (size_t i = 0; i < nperm; i++)
        hot |= perm[i].quota > 0 && perm[i].users >= 50;
    cr_assert(hot, "a hot quota permit");

    /* payments.csv */
    char *ybuf;
    size_t nyl;
    char **yl = csv_lines(dir, "payments.csv", "decl_no,receipt_no,kind,amount,valid_until",
                          st.payments, &ybuf, &nyl);
    char **rows = malloc(nyl * sizeof *rows);
    size_t unknown_pay = 0, guarantees = 0, expired_guar = 0;
    for (size_t i = 1; i < nyl; i++) {
        char copy[256];
        snprintf(copy, sizeof copy, "%s", yl[i]);
        /* sortable as "receipt_no decl_no,...": equal receipt_no must be equal rows */
        char *f[6];
        cr_assert_eq(split_fields(yl[i], f, 6), 5, "payments.csv line %zu: fields", i + 1);
        cr_assert(ok_decl_no(f[0]), "payments.csv line %zu: decl_no '%s'", i + 1, f[0]);
        cr_assert(ok_permit_no(f[1]), "payments.csv line %zu: receipt_no '%s'", i + 1, f[1]);
        uint64_t amount;
        cr_assert(ok_uint(f[3], TQ_MONEY_MAX, &amount), "payments.csv line %zu: amount", i + 1);
        int64_t until = 0;
        if (strcmp(f[2], "PAY") == 0) {
            cr_assert_str_empty(f[4], "payments.csv line %zu: PAY with a date", i + 1);
        } else {
            cr_assert_str_eq(f[2], "GUARANTEE", "payments.csv line %zu: kind", i + 1);
            cr_assert(ok_date(f[4], &until), "payments.csv line %zu: valid_until", i + 1);
            guarantees++;
        }
        decl_rec key;
        snprintf(key.decl_no, sizeof key.decl_no, "%s", f[0]);
        decl_rec *d = bsearch(&key, decls, ndecl, sizeof *decls, cmp_decl);
        if (d == NULL) {
            unknown_pay++;
        } else if (strcmp(f[2], "PAY") == 0 || until >= d->reg_day) {
            d->paid += (double)amount;
        } else {
            expired_guar++;
        }
        size_t need = strlen(f[1]) + strlen(copy) + 2;
        rows[i - 1] = malloc(need);
        snprintf(rows[i - 1], need, "%s %s", f[1], copy);
    }
    cr_assert(unknown_pay > 0 && unknown_pay < N / 100, "%zu payments for unknown declarations",
              unknown_pay);
    cr_assert_gt(guarantees, 0);
    cr_assert_gt(expired_guar, 0, "some guarantees expired before registration");
    qsort(rows, nyl - 1, sizeof *rows, cmp_str);
    size_t dup_rows = 0;
    for (size_t i = 1; i + 1 < nyl; i++) {
        size_t ka = strcspn(rows[i - 1], " "), kb = strcspn(rows[i], " ");
        if (ka == kb && memcmp(rows[i - 1], rows[i], ka) == 0) {
            cr_assert_str_eq(rows[i - 1], rows[i], "receipt reused with other content");
            dup_rows++;
        }
    }
    cr_assert_gt(dup_rows, 0, "some rows are loaded twice");
    size_t full = 0, taxed = 0;
    for (size_t i = 0; i < ndecl; i++) {
        if (decls[i].tax_due == 0)
            continue;
        taxed++;
        full += decls[i].paid >= (double)decls[i].tax_due;
    }
    double fs = (double)full / (double)taxed;
    cr_assert(fs > 0.82 && fs < 0.93, "share of taxed declarations covered %.3f", fs);
    cr_assert(taxed > N * 95 / 100, "tax is due on most declarations");

    for (size_t i = 0; i + 1 < nyl; i++)
        free(rows[i]);
    free(rows);
    free(yl);
    free(ybuf);
    free(decls);
    free(ev);
    free(perm);
    free(pl);
    free(pbuf);
    remove_dir(dir);
}

Test(gen, tiny_backlogs)
{
    for (uint64_t n = 1; n <= 5; n++) {
        char dir[64];
        make_dir(dir, sizeof dir);
        tq_gen_stats st;
        gen_into(dir, n, n * 7, 0, &st);
        tq_journal_reader *r = open_journal(dir);
        tq_event *ev = malloc(sizeof *ev);
        tq_frame_info fi;
        uint64_t events = 0, decls = 0;
        char seen[8][13];
        while (tq_journal_next_event(r, ev, &fi) == TQ_OK) {
            events++;
            check_event(ev);
            if (ev->ev != TQ_EV_DECL)
                continue;
            int known = 0;
            for (uint64_t i = 0; i < decls; i++)
                known |= strcmp(seen[i], ev->decl_no) == 0;
            if (!known)
                snprintf(seen[decls++], 13, "%s", ev->decl_no);
        }
        cr_assert_eq(decls, n, "%llu declarations asked, %llu made", (unsigned long long)n,
                     (unsigned long long)decls);
        cr_assert_eq(events, st.events);
        cr_assert_geq(st.permits, 50, "the pool has at least 50 permits");
        tq_journal_close(r);
        free(ev);
        remove_dir(dir);
    }
}

typedef struct progress_log {
    uint64_t calls, last, total;
    int backwards;
} progress_log;

static void on_progress(void *ctx, uint64_t done, uint64_t total)
{
    progress_log *p = ctx;
    p->backwards |= done < p->last;
    p->calls++;
    p->last = done;
    p->total = total;
}

Test(gen, progress_is_reported)
{
    char dir[64];
    make_dir(dir, sizeof dir);
    progress_log log = {0};
    tq_gen_opts o = {.declarations = 200000, .seed = 5, .out_dir = dir,
                     .progress = on_progress, .progress_ctx = &log};
    tq_diag d = {0};
    cr_assert_eq(tq_gen_run(&o, NULL, &d), TQ_OK, "%s: %s", d.field, d.why);
    cr_assert_geq(log.calls, 3, "every 64k declarations and at the end");
    cr_assert_eq(log.last, 200000);
    cr_assert_eq(log.total, 200000);
    cr_assert_not(log.backwards);
    remove_dir(dir);
}

Test(gen, bad_arguments)
{
    tq_diag d = {0};
    tq_gen_opts o = {.declarations = 0, .seed = 1, .out_dir = "/tmp"};
    cr_assert_eq(tq_gen_run(&o, NULL, &d), TQ_ERR_INPUT);
    cr_assert_str_eq(d.field, "declarations");
    o.declarations = 10;
    o.out_dir = NULL;
    cr_assert_eq(tq_gen_run(&o, NULL, &d), TQ_ERR_INPUT);
    cr_assert_eq(tq_gen_run(NULL, NULL, NULL), TQ_ERR_INPUT);
}

Test(gen, missing_directory_names_the_file)
{
    tq_diag d = {0};
    tq_gen_opts o = {.declarations = 10, .seed = 1, .out_dir = "/nonexistent/tq_gen_dir"};
    cr_assert_eq(tq_gen_run(&o, NULL, &d), TQ_ERR_IO);
    cr_assert_str_eq(d.field, "(file)");
    cr_assert_not_null(strstr(d.why, "/nonexistent/tq_gen_dir/"), "why: %s", d.why);
}

/* A write that fails half way (here: the file size limit) is an I/O error naming the
 * file, and leaves neither the files nor their temporaries behind. */
Test(gen, failed_write_leaves_nothing)
{
    char dir[64];
    make_dir(dir, sizeof dir);
    signal(SIGXFSZ, SIG_IGN);   /* so that write() fails with EFBIG instead */
    struct rlimit old, rl;
    cr_assert_eq(getrlimit(RLIMIT_FSIZE, &old), 0);
    rl = old;
    rl.rlim_cur = 1024 * 1024;   /* permits.csv fits; payments and the journal do not */
    cr_assert_eq(setrlimit(RLIMIT_FSIZE, &rl), 0);
    tq_diag d = {0};
    tq_gen_opts o = {.declarations = 100000, .seed = 3, .out_dir = dir};
    int rc = tq_gen_run(&o, NULL, &d);
    setrlimit(RLIMIT_FSIZE, &old);
    cr_assert_eq(rc, TQ_ERR_IO, "got %s", tq_strerror(rc));
    cr_assert_str_eq(d.field, "(file)");
    cr_assert_not_null(strstr(d.why, dir), "why: %s", d.why);
    cr_assert_eq(tq_test_count_entries(dir, NULL), 0, "a failed run leaves nothing in the directory");
    remove_dir(dir);
}

/* A second run over the same directory replaces the files whole. */
Test(gen, rerun_replaces_files)
{
    char dir[64];
    make_dir(dir, sizeof dir);
    tq_gen_stats s1, s2;
    gen_into(dir, 3000, 9, 0, &s1);
    gen_into(dir, 1000, 9, 0, &s2);
    cr_assert_eq(tq_test_count_entries(dir, NULL), 3);
    size_t len;
    char *buf = slurp(dir, "payments.csv", &len);
    size_t rows = 0;
    for (size_t i = 0; i < len; i++)
        rows += buf[i] == '\n';
    cr_assert_eq(rows - 1, s2.payments);
    free(buf);
    remove_dir(dir);
}

/* What gen writes is what the product's parsers accept, and the NDJSON form of each
 * event reads back as the same event. */
Test(gen, product_parsers_accept_everything)
{
    char dir[64];
    make_dir(dir, sizeof dir);
    tq_gen_stats st;
    gen_into(dir, 5000, 77, 0, &st);

    static const char *const files[] = {"payments.csv", "permits.csv"};
    static const char *const headers[] = {TQ_PAYMENTS_HEADER, TQ_PERMITS_HEADER};
    for (int f = 0; f < 2; f++) {
        size_t len, n;
        char *buf = slurp(dir, files[f], &len);
        char **lines = split_lines(buf, len, &n);
        tq_diag d = {0};
        cr_assert_eq(tq_csv_check_header(lines[0], strlen(lines[0]), headers[f], &d), TQ_OK,
                     "%s header: %s", files[f], d.why);
        for (size_t i = 1; i < n; i++) {
            int rc;
            if (f == 0) {
                tq_payment pay;
                rc = tq_csv_parse_payment(lines[i], strlen(lines[i]), &pay, &d);
            } else {
                tq_permit per;
                rc = tq_csv_parse_permit(lines[i], strlen(lines[i]), &per, &d);
            }
            cr_assert_eq(rc, TQ_OK, "%s line %zu: field '%s': %s", files[f], i + 1, d.field,
                         d.why);
        }
        free(lines);
        free(buf);
    }

    tq_journal_reader *r = open_journal(dir);
    tq_event *ev = malloc(sizeof *ev), *back = malloc(sizeof *back);
    static char line[TQ_NDJSON_LINE_MAX], ca[65536], cb[65536];
    tq_frame_info fi;
    uint64_t n = 0;
    int rc;
    while ((rc = tq_journal_next_event(r, ev, &fi)) == TQ_OK) {
        n++;
        size_t len = tq_ndjson_format_event(ev, 0, line, sizeof line);
        cr_assert(len > 0 && len < sizeof line && line[len - 1] == '\n');
        tq_diag d = {0};
        cr_assert_eq(tq_ndjson_parse_event(line, len - 1, ev->seq, back, &d), TQ_OK,
                     "seq %llu: field '%s': %s\n%s", (unsigned long long)ev->seq, d.field,
                     d.why, line);
        canon(ev, ca, sizeof ca);
        canon(back, cb, sizeof cb);
        cr_assert_str_eq(ca, cb, "seq %llu changes through NDJSON", (unsigned long long)ev->seq);
        if (ev->ev == TQ_EV_DECL) {
            tq_instant t;
            cr_assert_eq(tq_time_parse(ev->registered_at, strlen(ev->registered_at), &t, NULL),
                         TQ_OK);
            cr_assert(t.sec == ev->registered.sec && t.nsec == ev->registered.nsec,
                      "seq %llu: registered does not match its text", (unsigned long long)ev->seq);
        }
    }
    cr_assert_eq(rc, TQ_ERR_EOF);
    cr_assert_eq(n, st.events);
    tq_journal_close(r);
    free(ev);
    free(back);
    remove_dir(dir);
}
