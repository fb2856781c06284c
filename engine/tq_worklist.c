/* tq_worklist.c - the per-office worklists and the tax-paid-held list (tq_worklist.h). */
#include "tq_worklist.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "../formats/tq_out.h"
#include "tq_explain.h"
#include "tq_list.h"
#include "tq_path.h"

#define WAIT_REASONS                                                                     \
    ((uint32_t)(TQ_R_PERMIT_MISSING | TQ_R_PERMIT_REVOKED | TQ_R_PERMIT_EXPIRED |        \
                TQ_R_PERMIT_HOLDER | TQ_R_PERMIT_HS | TQ_R_PERMIT_QUOTA |                \
                TQ_R_AWAIT_OFFICER))

static const char office_header[] =
    "decl_no,office,kind,declarant,registered_at,age,deadline_at,deadline_passed,reasons,"
    "permits,permit_problems\n";
static const char paid_header[] =
    "decl_no,office,kind,declarant,registered_at,age,tax_due,covered,reasons\n";

typedef struct wl {
    tq_txn *t;
    const tq_worklist_opts *o;
    tq_worklist_stats *st;
    tq_diag *d;
    const char *dir;
    unsigned flags;             /* tq_out flags of every file */
    tq_explain *x;
    tq_guarantee *guar;         /* cover scratch */
    size_t guar_cap;
    tq_out office;              /* the open office file (office_open) */
    int office_open;
    char *office_path;
    uint64_t office_rows;
    const char *code;           /* the office being walked ("unknown" for "") */
    tq_out paid;
    FILE *paid_f;
    uint64_t paid_rows;
} wl;

/* ---- files ---- */

static int is_worklist_name(const char *name)
{
    size_t n = strlen(name);
    if (strcmp(name, TQ_WORKLIST_TAX_PAID) == 0)
        return 1;
    return n > 11 && strncmp(name, "office-", 7) == 0 && strcmp(name + n - 4, ".csv") == 0;
}

/* scan_dir() - refuse (TQ_ERR_EXISTS) a worklist already there; with stale_before set,
 * remove instead the office files older than it (not written by this run). */
static int scan_dir(wl *w, const struct timespec *stale_before)
{
    DIR *dp = opendir(w->dir);
    if (dp == NULL)
        return tq_diag_set(w->d, "(output)", "%s: %s", w->dir, strerror(errno)),
               tq_errno(errno);
    int rc = TQ_OK;
    struct dirent *de;
    while (rc == TQ_OK && (de = readdir(dp)) != NULL) {
        if (!is_worklist_name(de->d_name))
            continue;
        if (stale_before == NULL) {
            tq_diag_set(w->d, "(output)", "%s/%s exists (use --force to replace the "
                        "worklists, or another --out)", w->dir, de->d_name);
            rc = TQ_ERR_EXISTS;
            continue;
        }
        struct stat sb;
        if (de->d_name[0] != 'o' ||
            fstatat(dirfd(dp), de->d_name, &sb, AT_SYMLINK_NOFOLLOW) != 0)
            continue;
        if (sb.st_mtim.tv_sec < stale_before->tv_sec ||
            (sb.st_mtim.tv_sec == stale_before->tv_sec &&
             sb.st_mtim.tv_nsec < stale_before->tv_nsec)) {
            if (unlinkat(dirfd(dp), de->d_name, 0) == 0)
                w->st->removed++;
        }
    }
    closedir(dp);
    return rc;
}

/* open_file() - a worklist file through tq_out, its header written. */
static int open_file(wl *w, tq_out *out, const char *path, const char *header, FILE **fp)
{
    int rc = tq_out_open(out, path, w->flags, w->d);
    if (rc != TQ_OK)
        return rc;
    if ((*fp = tq_out_fp(out)) == NULL) {
        tq_out_rollback(out);
        return TQ_ERR_NOMEM;
    }
    fputs(header, *fp);
    return TQ_OK;
}

static int close_file(wl *w, tq_out *out, const char *path, uint64_t rows)
{
    int rc = tq_out_commit(out, w->d);
    if (rc != TQ_OK)
        return rc;
    w->st->files++;
    if (w->o->on_file)
        w->o->on_file(w->o->ctx, path, rows);
    return TQ_OK;
}

/* ---- rows ---- */

/* problems() - "GCN-1:expired+hs|Q-1:quota" for the permits with something wrong. */
static void problems(const tq_explain *x, char *out, size_t cap)
{
    static const struct { uint32_t bit; const char *word; } words[] = {
        {TQ_R_PERMIT_MISSING, "missing"}, {TQ_R_PERMIT_REVOKED, "revoked"},
        {TQ_R_PERMIT_EXPIRED, "expired"}, {TQ_R_PERMIT_HOLDER, "holder"},
        {TQ_R_PERMIT_HS, "hs"},           {TQ_R_PERMIT_QUOTA, "quota"}};
    size_t len = 0;
    out[0] = '\0';
    for (size_t i = 0; i < x->npermits; i++) {
        const tq_explain_permit *p = &x->permits[i];
        if (p->reasons == 0)
            continue;
        char one[TQ_PERMIT_MAX + 64];
        size_t n = (size_t)snprintf(one, sizeof one, "%s%s", len ? "|" : "", p->name);
        char sep = ':';
        for (size_t k = 0; k < sizeof words / sizeof words[0]; k++)
            if (p->reasons & words[k].bit) {
                n += (size_t)snprintf(one + n, sizeof one - n, "%c%s", sep, words[k].word);
                sep = '+';
            }
        if (len + n + 1 > cap)
            return;
        memcpy(out + len, one, n + 1);
        len += n;
    }
}

static int office_row(wl *w, const tq_decl *d)
{
    int rc = tq_explain_decl(w->t, d->decl_no, w->x);
    if (rc != TQ_OK)
        return rc;
    if (!w->office_open) {
        char name[32];
        snprintf(name, sizeof name, "office-%s.csv", w->code);
        free(w->office_path);
        if ((w->office_path = tq_path_join(w->dir, name)) == NULL)
            return TQ_ERR_NOMEM;
        FILE *f;
        if ((rc = open_file(w, &w->office, w->office_path, office_header, &f)) != TQ_OK)
            return rc;
        w->office_open = 1;
        w->office_rows = 0;
    }
    char when[48], age[32], due_at[48], reasons[160], permits[TQ_LIST_PERMITS_MAX + 1];
    char probs[TQ_LINES_MAX * (TQ_PERMIT_MAX + 48) + 1];
    tq_time_format_vn(d->registered, when);
    int64_t age_s = w->o->as_of.sec - d->registered.sec;
    tq_list_format_age(age_s, age);
    tq_instant due = {d->registered.sec + w->o->deadline, d->registered.nsec};
    tq_time_format_vn(due, due_at);
    int passed = tq_instant_cmp(w->o->as_of, due) >= 0;
    tq_reasons_format(d->reasons, reasons, sizeof reasons);
    tq_list_format_permits(d, permits, sizeof permits);
    problems(w->x, probs, sizeof probs);
    FILE *f = tq_out_fp(&w->office);
    fprintf(f, "%s,%s,%s,%s,%s,%s,%s,%s,%s,%s,%s\n", d->decl_no, d->office, d->kind,
            d->declarant, when, age, due_at, passed ? "yes" : "no", reasons, permits, probs);
    w->office_rows++;
    w->st->rows++;
    w->st->past_deadline += (uint64_t)passed;
    return ferror(f) ? TQ_ERR_IO : TQ_OK;
}

static int paid_row(wl *w, const tq_decl *d)
{
    tq_cover cover;
    int rc = tq_store_get_cover(w->t, d->decl_no, &cover, &w->guar, &w->guar_cap);
    if (rc != TQ_OK)
        return rc;
    tq_u128 covered = tq_rules_covered_exact(&cover, d->reg_day);
    if (covered < (tq_u128)d->tax_due)
        return TQ_OK;
    char when[48], age[32], reasons[160], cov[TQ_U128_DEC_MAX];
    tq_time_format_vn(d->registered, when);
    tq_list_format_age(w->o->as_of.sec - d->registered.sec, age);
    tq_reasons_format(d->reasons, reasons, sizeof reasons);
    fprintf(w->paid_f, "%s,%s,%s,%s,%s,%s,%llu,%s,%s\n", d->decl_no, d->office, d->kind,
            d->declarant, when, age, (unsigned long long)d->tax_due, tq_u128_dec(covered, cov),
            reasons);
    w->paid_rows++;
    return ferror(w->paid_f) ? TQ_ERR_IO : TQ_OK;
}

static int each_held(void *ctx, const tq_decl *d)
{
    wl *w = ctx;
    if (d->state != TQ_STATE_HELD)
        return TQ_OK;
    int rc = TQ_OK;
    if (d->reasons & WAIT_REASONS)
        rc = office_row(w, d);
    return rc == TQ_OK ? paid_row(w, d) : rc;
}

static int each_unknown(void *ctx, const tq_decl *d)
{
    return d->office[0] ? TQ_OK : each_held(ctx, d);
}

/* finish_office() - the office file (if any row was written) into place. */
static int finish_office(wl *w)
{
    if (!w->office_open)
        return TQ_OK;
    w->office_open = 0;
    return close_file(w, &w->office, w->office_path, w->office_rows);
}

static int each_office(void *ctx, const char *office, uint64_t count)
{
    wl *w = ctx;
    if (count == 0 || office[0] == '\0')
        return TQ_OK;   /* those without an office: one walk at the end */
    w->code = office;
    int rc = tq_store_each_decl_by(w->t, TQ_INDEX_OFFICE, office, TQ_STATE_HELD, each_held, w);
    return rc == TQ_OK ? finish_office(w) : rc;
}

static int has_unknown(void *ctx, const char *office, uint64_t count)
{
    if (office[0] == '\0' && count > 0)
        *(int *)ctx = 1;
    return 0;
}

/* walk() - every office in order, then those without one. */
static int walk(wl *w)
{
    int unknown = 0;
    int rc = tq_store_each_office(w->t, TQ_STATE_HELD, has_unknown, &unknown);
    if (rc == TQ_OK)
        rc = tq_store_each_office(w->t, TQ_STATE_HELD, each_office, w);
    if (rc == TQ_OK && unknown) {
        w->code = TQ_WORKLIST_UNKNOWN;
        rc = tq_store_each_decl(w->t, each_unknown, w);
        if (rc == TQ_OK)
            rc = finish_office(w);
    }
    if (rc == TQ_ERR_DBCORRUPT)
        tq_txn_fault(w->t, w->d);
    return rc;
}

static int write_all(wl *w, tq_store *s)
{
    char *paid_path = tq_path_join(w->dir, TQ_WORKLIST_TAX_PAID);
    if (paid_path == NULL)
        return TQ_ERR_NOMEM;
    int rc = open_file(w, &w->paid, paid_path, paid_header, &w->paid_f);
    if (rc == TQ_OK && (rc = tq_txn_begin(s, 1, &w->t)) == TQ_OK) {
        rc = walk(w);
        tq_txn_abort(w->t);
        w->t = NULL;
    }
    if (w->office_open)
        tq_out_rollback(&w->office);
    if (rc == TQ_OK)
        rc = close_file(w, &w->paid, paid_path, w->paid_rows);
    else if (w->paid_f)
        tq_out_rollback(&w->paid);
    w->st->tax_paid_held = w->paid_rows;
    free(paid_path);
    return rc;
}

int tq_worklist_write(tq_store *s, const char *out_dir, const tq_worklist_opts *o,
                      tq_worklist_stats *st, tq_diag *d)
{
    tq_worklist_stats local;
    wl w = {.o = o, .st = st ? st : &local, .d = d, .dir = out_dir};
    memset(w.st, 0, sizeof *w.st);
    w.flags = TQ_OUT_NO_STREAM | (o->force ? 0 : TQ_OUT_NO_CLOBBER);
    struct timespec start;
    clock_gettime(CLOCK_REALTIME_COARSE, &start);
    int rc = tq_out_mkdirs(out_dir, 0755, NULL);
    if (rc != TQ_OK)
        return tq_diag_set(d, "(output)", "cannot create %s: %s", out_dir, strerror(errno)), rc;
    if (!o->force && (rc = scan_dir(&w, NULL)) != TQ_OK)
        return rc;
    if ((w.x = tq_explain_new()) == NULL)
        return TQ_ERR_NOMEM;
    rc = write_all(&w, s);
    if (rc == TQ_OK && o->force)
        rc = scan_dir(&w, &start);
    tq_explain_free(w.x);
    free(w.guar);
    free(w.office_path);
    return rc;
}

int tq_worklist_held_by_office(tq_store *s,
                               int (*fn)(void *ctx, const char *office, uint64_t count),
                               void *ctx)
{
    tq_txn *t;
    int rc = tq_txn_begin(s, 1, &t);
    if (rc != TQ_OK)
        return rc;
    rc = tq_store_each_office(t, TQ_STATE_HELD, fn, ctx);
    tq_txn_abort(t);
    return rc;
}
