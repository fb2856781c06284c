/* cmd_explain.c - thongquan explain: one declaration's decision, the facts behind it and,
 * from journals, its history, in words an operator can act on.
 *
 * The facts and findings come from engine/tq_explain.c (the same rules as the replay);
 * this file only words them.  It opens the database as a reader, so it works while a
 * replay or the nightly job is writing.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "tq_cli.h"
#include "tq_explain.h"
#include "tq_ndjson.h"

static const char help_explain[] =
    "usage: thongquan explain DECL_NO --db DIR [--journal J.tqj]... [--json]\n"
    "\n"
    "Show why a declaration is where it is: its state, version and the reasons of its\n"
    "last evaluation and the journal event (id, seq) that last changed it; its\n"
    "registration, office, kind, channel, officer results, tax and lines with their\n"
    "values; every payment and permit that bears on it, with each permit's validity,\n"
    "holder, hs prefixes, quota and use; and the rules applied now to what is loaded,\n"
    "one plain line per reason, so you can see whether a reconcile would clear it.\n"
    "The database keeps no history: --journal (repeatable) lists the declaration's\n"
    "events found in each journal, as NDJSON with their seq, how far that journal was\n"
    "replayed, and each officer result in it with whether it was applied (one that came\n"
    "after the declaration was final changed nothing).  A declaration stored before\n"
    "store format 3 has no office, kind or line values in the database: explain says\n"
    "so, and takes them from its DECL in a --journal.  Sums are in đồng.\n"
    "Reads only; safe while a replay runs.  Exit status 1 when DECL_NO is unknown.\n"
    "\n"
    "example:\n"
    "  thongquan explain 103456789012 --db /var/lib/thongquan/db --journal backlog.tqj\n";

typedef struct pay_list {
    tq_payment *v;
    size_t n, cap;
} pay_list;

static int collect_payment(void *ctx, const tq_payment *p)
{
    pay_list *l = ctx;
    if (l->n == l->cap) {
        size_t cap = l->cap ? l->cap * 2 : 8;
        tq_payment *v = realloc(l->v, cap * sizeof *v);
        if (v == NULL)
            return TQ_ERR_NOMEM;
        l->v = v;
        l->cap = cap;
    }
    l->v[l->n++] = *p;
    return 0;
}

/* dong() - a sum of money as the operator reads it: "12,500,000 đồng" (SPEC §2: money
 * is a whole number of đồng; sums are exact, so 128 bits). */
#define DONG_MAX (TQ_U128_GROUP_MAX + 8)
static char *dong(tq_u128 v, char out[DONG_MAX])
{
    char g[TQ_U128_GROUP_MAX];
    snprintf(out, DONG_MAX, "%s đồng", tq_u128_group(v, g));
    return out;
}

static int valid_decl_no(const char *s)
{
    if (strlen(s) != TQ_DECL_NO_LEN || s[0] < '1' || s[0] > '9')
        return 0;
    for (const char *p = s; *p; p++)
        if (*p < '0' || *p > '9')
            return 0;
    return 1;
}

static const char *channel_words(int channel)
{
    switch (channel) {
    case 1: return "green, no check";
    case 2: return "yellow, document check";
    case 3: return "red, physical inspection";
    }
    return "unknown";
}

static void officer_words(uint8_t seen, char *out, size_t cap)
{
    snprintf(out, cap, "%s%s%s", seen & TQ_SEEN_DOCS_OK ? "DOCS_OK" : "",
             (seen & TQ_SEEN_DOCS_OK) && (seen & TQ_SEEN_INSPECT_OK) ? ", " : "",
             seen & TQ_SEEN_INSPECT_OK ? "INSPECT_OK" : "");
    if (!seen)
        snprintf(out, cap, "none");
}

static void prefixes_words(const tq_permit *p, char *out, size_t cap)
{
    size_t o = 0;
    out[0] = '\0';
    for (int i = 0; i < p->nprefixes && i < TQ_PREFIXES_MAX && o < cap; i++)
        o += (size_t)snprintf(out + o, cap - o, "%s%s", i ? ";" : "", p->prefixes[i]);
}

/* lines_naming() - "lines 1, 3" (1-based) of d naming permit. */
static void lines_naming(const tq_decl *d, const char *permit, uint64_t only, char *out,
                         size_t cap)
{
    size_t o = 0;
    int k = 0;
    out[0] = '\0';
    for (int l = 0; l < d->nlines && l < TQ_LINES_MAX && o < cap; l++) {
        if (strcmp(d->lines[l].permit, permit) != 0 || (only && !(only & (1ull << l))))
            continue;
        o += (size_t)snprintf(out + o, cap - o, "%s%d", k++ ? ", " : "", l + 1);
    }
}

/* ---- what the journals given with --journal say about the declaration ---- */

/* The store keeps only the officer results applied; the journals hold every one.  The
 * journals are scanned once for them before anything is printed, so that the officer
 * line can say which results were applied and why the others changed nothing. */
typedef struct journal_view {
    int n;
    const char **paths;
    tq_explain_officer_list *officers;  /* n of them, or NULL */
    tq_journal_mark *marks;
    int *have_mark;
    uint8_t (*ids)[TQ_JOURNAL_ID_LEN];  /* each journal's id, when it could be read */
    int *have_id;
    tq_explain_gap_list gaps;          /* every journal's skipped gaps in the database */
    /* a declaration stored before format 3 (no office): what a journal told of it */
    int src_j;                         /* the journal, or -1 */
    tq_explain_decl_src src;
} journal_view;

static const char *ev_name(uint8_t ev)
{
    switch (ev) {
    case TQ_EV_DECL: return "DECL";
    case TQ_EV_AMEND: return "AMEND";
    case TQ_EV_OFFICER: return "OFFICER REJECT";
    case TQ_EV_MANUAL_CLEAR: return "MANUAL_CLEAR";
    case TQ_EV_CANCEL: return "CANCEL";
    }
    return "event";
}

static const char *result_name(uint8_t r)
{
    return r == TQ_OFFICER_DOCS_OK      ? "DOCS_OK"
           : r == TQ_OFFICER_INSPECT_OK ? "INSPECT_OK"
           : r == TQ_OFFICER_REJECT     ? "REJECT"
                                        : "?";
}

/* officer_why() - whether officer result e of a journal (replayed through m when
 * have_mark) was applied to x's declaration, and why not in words.  @return 1 applied. */
static int officer_why(const tq_explain *x, const tq_explain_officer *e,
                       const tq_journal_mark *m, int have_mark, const tq_gap *gap, char *out,
                       size_t cap)
{
    const tq_decl *d = &x->decl;
    if (gap) {
        snprintf(out, cap,
                 "not applied: seq %llu..%llu of this journal was skipped by --skip-corrupt "
                 "(thongquan replay --fill-gap applies it)",
                 (unsigned long long)gap->first, (unsigned long long)gap->last);
        return 0;
    }
    if (!have_mark || e->seq > m->last_seq) {
        snprintf(out, cap, "not applied yet: this journal is not replayed that far");
        return 0;
    }
    if (e->final_ev && e->final_seq < e->seq) {
        snprintf(out, cap,
                 "not applied: it came after the %s at seq %llu, when the declaration was "
                 "final, and events on a final declaration change nothing",
                 ev_name(e->final_ev), (unsigned long long)e->final_seq);
        return 0;
    }
    uint8_t bit = e->result == TQ_OFFICER_DOCS_OK      ? TQ_SEEN_DOCS_OK
                  : e->result == TQ_OFFICER_INSPECT_OK ? TQ_SEEN_INSPECT_OK
                                                       : 0;
    if ((bit && (d->officer & bit)) || (!bit && d->state == TQ_STATE_REJECTED)) {
        snprintf(out, cap, "applied");
        return 1;
    }
    snprintf(out, cap, "not applied: the declaration was %s when it came",
             e->declared_before ? "already final (cleared by the rules)"
                                : "not yet declared or already final");
    return 0;
}

/* gap_of() - the skipped gap holding seq of journal j, or NULL. */
static const tq_gap *gap_of(const journal_view *jv, int j, uint64_t seq)
{
    return jv->have_id && jv->have_id[j] ? tq_explain_gap_of(&jv->gaps, jv->ids[j], seq) : NULL;
}

static void print_journal_officers(const tq_explain *x, const journal_view *jv)
{
    char why[200];
    for (int j = 0; jv->officers && j < jv->n; j++) {
        const tq_explain_officer_list *o = &jv->officers[j];
        for (size_t i = 0; i < o->n; i++) {
            officer_why(x, &o->v[i], &jv->marks[j], jv->have_mark[j], gap_of(jv, j, o->v[i].seq),
                        why, sizeof why);
            printf("officer       %s at seq %llu of %s (officer %s): %s\n",
                   result_name(o->v[i].result), (unsigned long long)o->v[i].seq, jv->paths[j],
                   o->v[i].officer, why);
        }
        if (o->more)
            printf("officer       and %llu more results in %s (the history below lists them)\n",
                   (unsigned long long)o->more, jv->paths[j]);
    }
}

/* journal_view_load() - scan each journal for the officer results of decl_no and read
 * how far each was replayed.  A journal that cannot be read is left empty here: its
 * history pass reports why.  @return 0, or -1 out of memory. */
static int journal_view_load(journal_view *jv, tq_txn *t, const char *decl_no)
{
    if (jv->n == 0)
        return 0;
    jv->officers = calloc((size_t)jv->n, sizeof *jv->officers);
    jv->marks = calloc((size_t)jv->n, sizeof *jv->marks);
    jv->have_mark = calloc((size_t)jv->n, sizeof *jv->have_mark);
    jv->ids = calloc((size_t)jv->n, sizeof *jv->ids);
    jv->have_id = calloc((size_t)jv->n, sizeof *jv->have_id);
    if (jv->officers == NULL || jv->marks == NULL || jv->have_mark == NULL || jv->ids == NULL ||
        jv->have_id == NULL)
        return -1;
    for (int j = 0; j < jv->n; j++) {
        if (access(jv->paths[j], R_OK) != 0)
            continue;
        int rc = tq_explain_officers(jv->paths[j], decl_no, &jv->officers[j], jv->ids[j]);
        if (rc == TQ_ERR_IO || rc == TQ_ERR_VERSION || rc == TQ_ERR_NOMEM)
            continue;
        jv->have_id[j] = 1;
        jv->have_mark[j] = tq_store_get_journal(t, jv->ids[j], &jv->marks[j]) == TQ_OK;
    }
    return 0;
}

static void format_utc(uint64_t unix_sec, char out[32])
{
    time_t sec = (time_t)unix_sec;
    struct tm tm;
    if (gmtime_r(&sec, &tm) == NULL || strftime(out, 32, "%Y-%m-%dT%H:%M:%SZ", &tm) == 0)
        snprintf(out, 32, "(time %llu)", (unsigned long long)unix_sec);
}

/* print_gaps() - the database's skipped gaps, which any decision may be missing. */
static void print_gaps(const journal_view *jv)
{
    const tq_explain_gap_list *g = &jv->gaps;
    char hex[2 * TQ_JOURNAL_ID_LEN + 1], when[32];
    if (g->total == 0)
        return;
    printf("skipped gaps  %llu in this database: their events were not applied, so this "
           "decision may lack some of them\n",
           (unsigned long long)g->total);
    for (size_t i = 0; i < g->n; i++) {
        tq_cli_hex_id(g->v[i].id, hex);
        format_utc(g->v[i].skipped_at, when);
        printf("  journal %s  seq %llu..%llu (frame %llu), skipped %s\n", hex,
               (unsigned long long)g->v[i].first, (unsigned long long)g->v[i].last,
               (unsigned long long)g->v[i].frame, when);
    }
    if (g->total > g->n)
        printf("  ... and %llu more (thongquan stat lists them)\n",
               (unsigned long long)(g->total - g->n));
    printf("  fill them from an intact copy: thongquan replay --fill-gap J.tqj --db DIR "
           "(docs/RUNBOOK.md 1.10)\n");
}

static void print_json_gaps(tq_json *j, const journal_view *jv)
{
    const tq_explain_gap_list *g = &jv->gaps;
    char hex[2 * TQ_JOURNAL_ID_LEN + 1], when[32];
    tq_json_key(j, "skipped_gaps");
    tq_json_begin_object(j);
    tq_json_kv_u64(j, "total", g->total);
    tq_json_key(j, "gaps");
    tq_json_begin_array(j);
    for (size_t i = 0; i < g->n; i++) {
        tq_cli_hex_id(g->v[i].id, hex);
        format_utc(g->v[i].skipped_at, when);
        tq_json_begin_object(j);
        tq_json_kv_string(j, "journal_id", hex);
        tq_json_kv_u64(j, "first_seq", g->v[i].first);
        tq_json_kv_u64(j, "last_seq", g->v[i].last);
        tq_json_kv_u64(j, "frame", g->v[i].frame);
        tq_json_kv_string(j, "skipped_at", when);
        tq_json_end_object(j);
    }
    tq_json_end_array(j);
    tq_json_end_object(j);
}

static void journal_view_free(journal_view *jv)
{
    free(jv->officers);
    free(jv->marks);
    free(jv->have_mark);
    free(jv->ids);
    free(jv->have_id);
}

/* ---- text ---- */

static void print_tax(const tq_explain *x)
{
    char a[DONG_MAX], b[DONG_MAX], c[DONG_MAX], e[DONG_MAX];
    const tq_decl *d = &x->decl;
    uint64_t short_now = x->covered < d->tax_due ? d->tax_due - (uint64_t)x->covered : 0;
    printf("tax           due %s; covered %s", dong(d->tax_due, a), dong(x->covered, b));
    if (x->guar_counted)
        printf(" (paid %s, guaranteed %s)", dong(x->pay_total, c), dong(x->guar_counted, e));
    if (short_now)
        printf("; short %s", dong(short_now, a));
    else if (x->covered > d->tax_due)
        printf("; over by %s", dong(x->covered - d->tax_due, a));
    putchar('\n');
    if (x->guar_expired)
        printf("              guarantees of %s expired before the registration day and do "
               "not count\n",
               dong(x->guar_expired, a));
}

static void print_permit_fact(const tq_explain *x, const tq_explain_permit *p)
{
    char day1[11], day2[11], pre[160], a[32], b[32], c[32], lines[160];
    lines_naming(&x->decl, p->name, 0, lines, sizeof lines);
    if (!p->fact.found) {
        printf("  %s  NOT LOADED  (named on line%s %s)\n", p->name, strchr(lines, ',') ? "s" : "",
               lines);
        return;
    }
    const tq_permit *pm = &p->fact.permit;
    tq_date_format(pm->valid_from, day1);
    tq_date_format(pm->valid_to, day2);
    prefixes_words(pm, pre, sizeof pre);
    printf("  %s  %s  agency %s  holder %s  valid %s..%s\n", p->name,
           pm->status == TQ_PERMIT_REVOKED ? "REVOKED" : "VALID", pm->agency, pm->holder, day1,
           day2);
    if (pm->quota)
        printf("      hs prefixes %s  quota %s  used %s%s  this declaration %s (line%s %s)\n",
               pre, tq_cli_group(pm->quota, a), tq_cli_group(p->fact.used, b),
               p->fact.used > pm->quota ? " (past the quota)" : "", tq_cli_group(p->qty, c),
               strchr(lines, ',') ? "s" : "", lines);
    else
        printf("      hs prefixes %s  quota unlimited  this declaration %s (line%s %s)\n", pre,
               tq_cli_group(p->qty, c), strchr(lines, ',') ? "s" : "", lines);
}

/* One plain line per reason of the verdict, tied to the permit or line causing it. */
static void print_reason_lines(const tq_explain *x, uint32_t reasons)
{
    const tq_decl *d = &x->decl;
    char day[11], a[DONG_MAX], b[DONG_MAX], c[DONG_MAX];
    tq_date_format(d->reg_day, day);
    if (reasons & TQ_R_TAX_SHORT) {
        uint64_t s = x->covered < d->tax_due ? d->tax_due - (uint64_t)x->covered : 0;
        char cov[TQ_U128_GROUP_MAX];
        printf("  TAX_SHORT: paid %s of %s (short %s)", tq_u128_group(x->covered, cov),
               dong(d->tax_due, b), dong(s, c));
        if (x->guar_expired)
            printf("; guarantees of %s expired before %s do not count",
                   dong(x->guar_expired, a), day);
        putchar('\n');
    }
    for (size_t i = 0; i < x->npermits; i++) {
        const tq_explain_permit *p = &x->permits[i];
        const tq_permit *pm = &p->fact.permit;
        char d1[11], d2[11], pre[160], lines[160];
        uint32_t r = p->reasons & reasons;
        if (r & TQ_R_PERMIT_MISSING) {
            lines_naming(d, p->name, 0, lines, sizeof lines);
            printf("  PERMIT_MISSING: permit %s (line%s %s) is not among the permits loaded\n",
                   p->name, strchr(lines, ',') ? "s" : "", lines);
            continue;
        }
        if (r & TQ_R_PERMIT_REVOKED)
            printf("  PERMIT_REVOKED: permit %s was revoked (agency %s)\n", p->name, pm->agency);
        if (r & TQ_R_PERMIT_EXPIRED) {
            tq_date_format(pm->valid_from, d1);
            tq_date_format(pm->valid_to, d2);
            printf("  PERMIT_EXPIRED: permit %s valid %s..%s, registered %s\n", p->name, d1, d2,
                   day);
        }
        if (r & TQ_R_PERMIT_HOLDER)
            printf("  PERMIT_HOLDER: permit %s is issued to %s, the declarant is %s\n", p->name,
                   pm->holder, d->declarant);
        if (r & TQ_R_PERMIT_HS) {
            prefixes_words(pm, pre, sizeof pre);
            for (int l = 0; l < d->nlines && l < TQ_LINES_MAX; l++)
                if (p->hs_bad_lines & (1ull << l))
                    printf("  PERMIT_HS: line %d hs %s starts with none of permit %s's "
                           "prefixes %s\n",
                           l + 1, d->lines[l].hs, p->name, pre);
        }
    }
    if (reasons & TQ_R_AWAIT_OFFICER) {
        char seen[40];
        officer_words(d->officer, seen, sizeof seen);
        if (d->channel == 3)
            printf("  AWAIT_OFFICER: channel 3 (red) needs INSPECT_OK from an officer; "
                   "received: %s\n",
                   seen);
        else
            printf("  AWAIT_OFFICER: channel 2 (yellow) needs DOCS_OK or INSPECT_OK from an "
                   "officer; received: %s\n",
                   seen);
    }
    for (size_t i = 0; i < x->npermits; i++) {
        const tq_explain_permit *p = &x->permits[i];
        if (!(p->reasons & TQ_R_PERMIT_QUOTA))
            continue;
        uint64_t q = p->fact.permit.quota, over = p->fact.used + p->qty - q;
        char e[32];
        printf("  %s: permit %s quota %s, used %s, this declaration %s (over by %s)\n",
               reasons & TQ_R_PERMIT_QUOTA ? "PERMIT_QUOTA"
                                           : "note: once the rest is settled, PERMIT_QUOTA",
               p->name, tq_cli_group(q, a), tq_cli_group(p->fact.used, b),
               tq_cli_group(p->qty, c), tq_cli_group(over, e));
        if (p->fact.used > q)
            printf("    used is past the quota: clearances by hand (MANUAL_CLEAR) add their "
                   "quantities in full, even past the quota (SPEC 3, 7), and a permit "
                   "reloaded with a smaller quota keeps what was used; nothing more clears "
                   "against %s unless its quota is raised\n",
                   p->name);
    }
}

static void print_verdict(const tq_explain *x)
{
    const tq_decl *d = &x->decl;
    char now[160], then[160];
    tq_reasons_format(x->now.reasons, now, sizeof now);
    tq_reasons_format(d->reasons, then, sizeof then);
    switch (d->state) {
    case TQ_STATE_HELD:
        if (x->now.reasons == 0) {
            printf("why it is held: nothing holds it any more with what is loaded now "
                   "(its last evaluation found %s)\n",
                   then);
            printf("verdict now   would clear: run 'thongquan reconcile' (which clears the "
                   "oldest registrations first where quota is shared)\n");
            return;
        }
        printf("why it is held (the rules applied now to the payments and permits loaded):\n");
        print_reason_lines(x, x->now.reasons);
        if (x->now.reasons == d->reasons)
            printf("verdict now   HELD: %s, as decided\n", now);
        else
            printf("verdict now   HELD: %s (its last evaluation found %s; a reconcile "
                   "records the new reasons)\n",
                   now, then);
        return;
    case TQ_STATE_CLEARED:
        if (d->manual) {
            if (d->reasons == 0) {
                printf("cleared by hand (MANUAL_CLEAR), with no discrepancy\n");
                return;
            }
            printf("cleared by hand (MANUAL_CLEAR) with discrepancies %s", then);
            if (d->tax_short) {
                char a[DONG_MAX];
                printf(" (tax short %s)", dong(d->tax_short, a));
            }
            printf(";\nthe rules applied now give:%s\n", x->now.reasons ? "" : " no discrepancy");
            print_reason_lines(x, x->now.reasons);
            return;
        }
        printf("cleared by the rules: every check passed at its last evaluation; CLEARED "
               "is final\n");
        return;
    case TQ_STATE_REJECTED:
        printf("rejected by an officer (OFFICER REJECT); REJECTED is final\n");
        return;
    case TQ_STATE_CANCELLED:
        printf("withdrawn by the declarant (CANCEL); CANCELLED is final\n");
        return;
    default:
        printf("not yet evaluated (PENDING)\n");
    }
}

/* print_last_event() - the event that last changed the declaration (store format 3;
 * nothing for one stored before). */
static void print_last_event(const tq_decl *d)
{
    char hex[2 * TQ_JOURNAL_ID_LEN + 1];
    tq_cli_hex_id(d->src_id, hex);
    if (d->src_seq)
        printf("last event    seq %llu of journal %s\n", (unsigned long long)d->src_seq, hex);
}

/* print_office() - office and kind: the store's, or for a declaration stored before
 * format 3, a journal's (--journal) or how to find them. */
static void print_office(const tq_decl *d, const journal_view *jv)
{
    if (jv->src_j < 0 && d->office[0]) {
        printf("office        %s, kind %s\n", d->office, d->kind);
        return;
    }
    if (jv->src_j >= 0) {
        printf("office        %s, kind %s (from the DECL at seq %llu of %s: stored before "
               "store format 3, the database does not keep them)\n",
               d->office, d->kind, (unsigned long long)jv->src.decl_seq, jv->paths[jv->src_j]);
        return;
    }
    printf("office        not kept: stored before store format 3, as are kind and line "
           "values; %s\n",
           jv->n ? "no --journal given holds its DECL"
                 : "--journal J.tqj reads them from its DECL");
}

static void print_text(const tq_explain *x, const pay_list *pays, const journal_view *jv)
{
    const tq_decl *d = &x->decl;
    char buf[160], when[48], day[11], a[DONG_MAX];
    const char *state = tq_state_name(d->state);
    printf("declaration   %s\n", d->decl_no);
    printf("state         %s, version %u%s\n", state ? state : "?", d->version,
           d->manual ? ", cleared by hand (MANUAL_CLEAR)" : "");
    if (d->state == TQ_STATE_HELD || d->manual) {
        tq_reasons_format(d->reasons, buf, sizeof buf);
        printf("%s %s", d->manual ? "discrepancies" : "reasons      ", d->reasons ? buf : "none");
        if (d->tax_short)
            printf(" (tax short %s)", dong(d->tax_short, a));
        printf(", at its last evaluation\n");
    }
    tq_time_format_vn(d->registered, when);
    tq_date_format(d->reg_day, day);
    printf("registered    %s (day %s, Vietnam time)\n", when, day);
    printf("declarant     %s\n", d->declarant);
    print_office(d, jv);
    print_last_event(d);
    officer_words(d->officer, buf, sizeof buf);
    printf("channel       %u (%s); officer results applied: %s\n", d->channel,
           channel_words(d->channel), buf);
    print_journal_officers(x, jv);
    print_tax(x);
    printf("lines         %u\n", d->nlines);
    int values = d->office[0] && (jv->src_j < 0 || jv->src.values);
    for (int l = 0; l < d->nlines && l < TQ_LINES_MAX; l++) {
        printf("  %2d  hs %s  qty %s", l + 1, d->lines[l].hs, tq_cli_group(d->lines[l].qty, a));
        if (values)
            printf("  value %s", dong(d->lines[l].value, a));
        printf("%s%s\n", d->lines[l].permit[0] ? "  permit " : "", d->lines[l].permit);
    }
    if (!values && jv->src_j >= 0)
        printf("              (line values: no DECL or AMEND in %s has these lines)\n",
               jv->paths[jv->src_j]);
    printf("payments      %zu\n", pays->n);
    for (size_t i = 0; i < pays->n; i++) {
        const tq_payment *p = &pays->v[i];
        printf("  %-20s %-9s %15s đồng", p->receipt_no,
               tq_payment_kind_name(p->kind), tq_cli_group(p->amount, a));
        if (p->kind == TQ_GUARANTEE) {
            tq_date_format(p->valid_until, buf);
            printf("  valid until %s%s", buf,
                   p->valid_until < d->reg_day ? ": expired before the registration day, "
                                                 "does not count"
                                               : "");
        }
        putchar('\n');
    }
    printf("permits       %zu\n", x->npermits);
    for (size_t i = 0; i < x->npermits; i++)
        print_permit_fact(x, &x->permits[i]);
    print_verdict(x);
    print_gaps(jv);
}

/* ---- JSON ---- */

static void json_reasons(tq_json *j, const char *key, uint32_t r)
{
    char buf[160];
    tq_reasons_format(r, buf, sizeof buf);
    tq_json_kv_string(j, key, buf);
}

/* json_u128() - a member whose sum may pass 2^64, as an exact integer. */
static void json_u128(tq_json *j, const char *key, tq_u128 v)
{
    char buf[TQ_U128_DEC_MAX];
    const char *s = tq_u128_dec(v, buf);
    tq_json_key(j, key);
    tq_json_raw(j, s, strlen(s));
}

/* json_last_event() - "last_event": the event that last changed the declaration, or
 * null (stored before format 3). */
static void json_last_event(tq_json *j, const tq_decl *d)
{
    char hex[2 * TQ_JOURNAL_ID_LEN + 1];
    tq_json_key(j, "last_event");
    if (!d->src_seq) {
        tq_json_null(j);
        return;
    }
    tq_cli_hex_id(d->src_id, hex);
    tq_json_begin_object(j);
    tq_json_kv_string(j, "journal_id", hex);
    tq_json_kv_u64(j, "seq", d->src_seq);
    tq_json_end_object(j);
}

/* "office", "kind" and where they came from: "store", a journal's DECL, or null (stored
 * before format 3, no --journal holds its DECL). */
static void print_json_office(tq_json *j, const tq_decl *d, const journal_view *jv)
{
    tq_json_kv_string(j, "office", d->office[0] ? d->office : NULL);
    tq_json_kv_string(j, "kind", d->office[0] ? d->kind : NULL);
    tq_json_key(j, "office_from");
    if (jv->src_j >= 0) {
        tq_json_begin_object(j);
        tq_json_kv_string(j, "journal", jv->paths[jv->src_j]);
        tq_json_kv_u64(j, "seq", jv->src.decl_seq);
        tq_json_end_object(j);
    } else {
        tq_json_string(j, d->office[0] ? "store" : NULL);
    }
}

/* json_payment() - one payment; with reg_day (a known declaration) a guarantee's
 * validity and whether it counts. */
static void json_payment(tq_json *j, const tq_payment *p, const int32_t *reg_day)
{
    char buf[11];
    tq_json_begin_object(j);
    tq_json_kv_string(j, "receipt_no", p->receipt_no);
    tq_json_kv_string(j, "kind", tq_payment_kind_name(p->kind));
    tq_json_kv_u64(j, "amount", p->amount);
    if (reg_day && p->kind == TQ_GUARANTEE) {
        tq_date_format(p->valid_until, buf);
        tq_json_kv_string(j, "valid_until", buf);
        tq_json_kv_bool(j, "counts", p->valid_until >= *reg_day);
    }
    tq_json_end_object(j);
}

static void json_payments(tq_json *j, const pay_list *pays, const int32_t *reg_day)
{
    tq_json_key(j, "payments");
    tq_json_begin_array(j);
    for (size_t i = 0; i < pays->n; i++)
        json_payment(j, &pays->v[i], reg_day);
    tq_json_end_array(j);
}

static void json_permit(tq_json *j, const tq_explain_permit *p)
{
    const tq_permit *pm = &p->fact.permit;
    char d1[11], d2[11], buf[160];
    tq_json_begin_object(j);
    tq_json_kv_string(j, "permit_no", p->name);
    tq_json_kv_bool(j, "found", p->fact.found);
    tq_json_kv_u64(j, "qty", p->qty);
    json_reasons(j, "reasons", p->reasons);
    if (p->fact.found) {
        tq_date_format(pm->valid_from, d1);
        tq_date_format(pm->valid_to, d2);
        prefixes_words(pm, buf, sizeof buf);
        tq_json_kv_string(j, "agency", pm->agency);
        tq_json_kv_string(j, "holder", pm->holder);
        tq_json_kv_string(j, "status", pm->status == TQ_PERMIT_REVOKED ? "REVOKED" : "VALID");
        tq_json_kv_string(j, "valid_from", d1);
        tq_json_kv_string(j, "valid_to", d2);
        tq_json_kv_string(j, "hs_prefixes", buf);
        tq_json_kv_u64(j, "quota", pm->quota);
        tq_json_kv_u64(j, "used", p->fact.used);
    }
    tq_json_end_object(j);
}

static void json_lines(tq_json *j, const tq_decl *d, int values)
{
    tq_json_key(j, "lines");
    tq_json_begin_array(j);
    for (int l = 0; l < d->nlines && l < TQ_LINES_MAX; l++) {
        tq_json_begin_object(j);
        tq_json_kv_string(j, "hs", d->lines[l].hs);
        tq_json_kv_u64(j, "qty", d->lines[l].qty);
        if (values)
            tq_json_kv_u64(j, "value", d->lines[l].value);
        if (d->lines[l].permit[0])
            tq_json_kv_string(j, "permit", d->lines[l].permit);
        tq_json_end_object(j);
    }
    tq_json_end_array(j);
}

/* json_now() - "now": the rules applied now, or null when not evaluated. */
static void json_now(tq_json *j, const tq_explain *x)
{
    tq_json_key(j, "now");
    if (!x->evaluated) {
        tq_json_null(j);
        return;
    }
    tq_json_begin_object(j);
    json_reasons(j, "reasons", x->now.reasons);
    tq_json_kv_u64(j, "tax_short", x->now.tax_short);
    tq_json_kv_bool(j, "would_clear", x->decl.state == TQ_STATE_HELD && x->now.reasons == 0);
    tq_json_end_object(j);
}

static void print_json_decl(tq_json *j, const tq_explain *x, const pay_list *pays,
                            const journal_view *jv)
{
    const tq_decl *d = &x->decl;
    char when[48], day[11];
    print_json_office(j, d, jv);
    json_last_event(j, d);
    tq_time_format_vn(d->registered, when);
    tq_date_format(d->reg_day, day);
    tq_json_kv_string(j, "state", tq_state_name(d->state));
    tq_json_kv_u64(j, "version", d->version);
    tq_json_kv_bool(j, "manual", d->manual);
    json_reasons(j, "reasons", d->reasons);
    tq_json_kv_u64(j, "tax_short", d->tax_short);
    tq_json_kv_string(j, "registered_at", when);
    tq_json_kv_string(j, "registration_day", day);
    tq_json_kv_string(j, "declarant", d->declarant);
    tq_json_kv_u64(j, "channel", d->channel);
    tq_json_key(j, "officer_results");
    tq_json_begin_array(j);
    if (d->officer & TQ_SEEN_DOCS_OK)
        tq_json_string(j, "DOCS_OK");
    if (d->officer & TQ_SEEN_INSPECT_OK)
        tq_json_string(j, "INSPECT_OK");
    tq_json_end_array(j);
    tq_json_kv_u64(j, "tax_due", d->tax_due);
    json_u128(j, "covered", x->covered);
    json_u128(j, "paid", x->pay_total);
    json_u128(j, "guaranteed", x->guar_counted);
    json_u128(j, "guarantees_expired", x->guar_expired);
    json_lines(j, d, d->office[0] && (jv->src_j < 0 || jv->src.values));
    json_payments(j, pays, &d->reg_day);
    tq_json_key(j, "permits");
    tq_json_begin_array(j);
    for (size_t i = 0; i < x->npermits; i++)
        json_permit(j, &x->permits[i]);
    tq_json_end_array(j);
    json_now(j, x);
}

/* ---- history ---- */

typedef struct hist_ctx {
    const char *path;
    tq_json *w;                     /* the --json writer, NULL for text */
    uint64_t n;
    uint64_t in_gap;                /* of them, in a skipped gap (not applied) */
    const journal_view *jv;
    int j;
    char *line;
} hist_ctx;

static int on_event(void *ctx, const tq_event *ev)
{
    hist_ctx *h = ctx;
    size_t n = tq_ndjson_format_event(ev, 1, h->line, TQ_NDJSON_LINE_MAX);
    if (n >= TQ_NDJSON_LINE_MAX)
        return 0;
    if (h->w) {
        tq_json_raw(h->w, h->line, n - 1); /* the object, without its newline */
    } else {
        fwrite(h->line, 1, n, stdout);
    }
    h->n++;
    if (gap_of(h->jv, h->j, ev->seq))
        h->in_gap++;
    return 0;
}

static void on_bad_frame(void *ctx, int err, const tq_frame_info *fi)
{
    hist_ctx *h = ctx;
    if (err == TQ_ERR_TORN)
        tq_cli_warn("%s: torn tail at byte %llu: events after it are not shown", h->path,
                    (unsigned long long)fi->offset);
    else if (fi->count)
        tq_cli_warn("%s: frame %llu (seq %llu..%llu) is corrupt: its events are not shown",
                    h->path, (unsigned long long)fi->index, (unsigned long long)fi->first_seq,
                    (unsigned long long)(fi->first_seq + fi->count - 1));
    else
        tq_cli_warn("%s: frame %llu at byte %llu is corrupt: events from it on are not shown",
                    h->path, (unsigned long long)fi->index, (unsigned long long)fi->offset);
}

/* print_json_officers() - "officer_results":[...] and "officer_results_not_shown" of
 * journal j (nothing when the declaration is unknown: there is nothing to apply them to). */
static void print_json_officers(tq_json *w, const tq_explain *x, const journal_view *jv, int j)
{
    char why[200];
    if (jv->officers == NULL)
        return;
    const tq_explain_officer_list *o = &jv->officers[j];
    tq_json_key(w, "officer_results");
    tq_json_begin_array(w);
    for (size_t i = 0; i < o->n; i++) {
        int applied = officer_why(x, &o->v[i], &jv->marks[j], jv->have_mark[j],
                                  gap_of(jv, j, o->v[i].seq), why, sizeof why);
        tq_json_begin_object(w);
        tq_json_kv_u64(w, "seq", o->v[i].seq);
        tq_json_kv_string(w, "result", result_name(o->v[i].result));
        tq_json_kv_string(w, "officer", o->v[i].officer);
        tq_json_kv_bool(w, "applied", applied);
        tq_json_kv_string(w, "why", why);
        tq_json_end_object(w);
    }
    tq_json_end_array(w);
    tq_json_kv_u64(w, "officer_results_not_shown", o->more);
}

/* print_history_gaps() - the skipped gaps of journal id, and how many of the events
 * listed fall in them. */
static void print_history_gaps(const journal_view *jv, const uint8_t *id, const hist_ctx *h)
{
    for (size_t i = 0; i < jv->gaps.n; i++) {
        const tq_gap *g = &jv->gaps.v[i];
        if (memcmp(g->id, id, TQ_JOURNAL_ID_LEN) != 0)
            continue;
        printf("  (seq %llu..%llu of this journal was skipped by --skip-corrupt: its events "
               "were not applied)\n",
               (unsigned long long)g->first, (unsigned long long)g->last);
    }
    if (h->in_gap)
        printf("  (%llu of the events above are in a skipped gap and were not applied)\n",
               (unsigned long long)h->in_gap);
}

/* history() - one journal's events for decl_no.  @return an exit status. */
static int history(tq_txn *t, const tq_explain *x, const journal_view *jv, int j,
                   const char *decl_no, tq_json *w, char *line)
{
    const char *path = jv->paths[j];
    hist_ctx h = {.path = path, .w = w, .line = line, .jv = jv, .j = j};
    uint8_t id[TQ_JOURNAL_ID_LEN];
    if (access(path, R_OK) != 0)
        return tq_cli_error(TQ_EXIT_IO, "cannot read %s: %s", path, strerror(errno));
    if (w) {
        tq_json_begin_object(w);
        tq_json_kv_string(w, "journal", path);
        tq_json_key(w, "events");
        tq_json_begin_array(w);
    }
    /* How far the journal was replayed needs its id, known once it is open, so that
     * line comes after the events: nothing is held back in memory. */
    if (!w)
        printf("history in %s:\n", path);
    int rc = tq_explain_history(path, decl_no, on_event, &h, on_bad_frame, id);
    tq_journal_mark m;
    int have_mark = 0;
    if (rc != TQ_ERR_IO && rc != TQ_ERR_VERSION && rc != TQ_ERR_NOMEM && t &&
        tq_store_get_journal(t, id, &m) == TQ_OK)
        have_mark = 1;
    if (w) {
        tq_json_end_array(w);
        tq_json_key(w, "replayed_through_seq");
        if (have_mark)
            tq_json_u64(w, m.last_seq);
        else
            tq_json_null(w);
        print_json_officers(w, x, jv, j);
        tq_json_kv_u64(w, "events_in_skipped_gaps", h.in_gap);
        tq_json_end_object(w);
    } else {
        print_history_gaps(jv, id, &h);
        if (h.n == 0 && (rc == TQ_OK || rc == TQ_ERR_CORRUPT || rc == TQ_ERR_TORN))
            printf("  (no event for %s)\n", decl_no);
        if (have_mark)
            printf("  (this journal is replayed into the database through seq %llu)\n",
                   (unsigned long long)m.last_seq);
        else if (rc == TQ_OK)
            printf("  (this journal has not been replayed into the database)\n");
    }
    if (rc == TQ_OK)
        return TQ_EXIT_OK;
    if (rc == TQ_ERR_CORRUPT || rc == TQ_ERR_TORN)
        return TQ_EXIT_CORRUPT; /* already reported, frame by frame */
    return tq_cli_error(tq_cli_exit_for(rc), "%s: %s", path, tq_strerror(rc));
}

/* store_failed() - report a store error while reading what is needed; a damaged record
 * is named by table and key (tq_txn_fault), so it is not taken for a journal's fault.
 * @return the exit status. */
static int store_failed(tq_txn *t, const char *db, const char *what, int rc)
{
    if (rc == TQ_ERR_DBCORRUPT) {
        tq_diag d;
        memset(&d, 0, sizeof d);
        tq_txn_fault(t, &d);
        return tq_cli_error(TQ_EXIT_CORRUPT, "%s: cannot read %s: the database is damaged: %s",
                            db, what, d.why[0] ? d.why : tq_strerror(rc));
    }
    return tq_cli_error(tq_cli_exit_for(rc), "%s: cannot read %s: %s", db, what,
                        tq_strerror(rc));
}

/* print_json_head() - --json up to the history: the declaration (or only its payments
 * when unknown) and the database's skipped gaps. */
static void print_json_head(tq_json *w, const tq_explain *x, int known, const pay_list *pays,
                            const journal_view *jv, const char *decl_no)
{
    tq_json_kv_string(w, "decl_no", decl_no);
    tq_json_kv_bool(w, "known", known);
    if (known)
        print_json_decl(w, x, pays, jv);
    else
        json_payments(w, pays, NULL);
    print_json_gaps(w, jv);
}

static void print_text_head(const tq_explain *x, int known, const pay_list *pays,
                            const journal_view *jv, const char *decl_no)
{
    char a[32];
    if (known) {
        print_text(x, pays, jv);
        return;
    }
    if (pays->n)
        printf("payments for %s, a declaration not in the database:\n", decl_no);
    for (size_t i = 0; i < pays->n; i++)
        printf("  %-20s %-9s %15s đồng\n", pays->v[i].receipt_no,
               tq_payment_kind_name(pays->v[i].kind),
               tq_cli_group(pays->v[i].amount, a));
}

/* print_all() - the whole answer on stdout, text or JSON (written with formats/tq_json.h,
 * so any bytes of a journal's name come out as valid UTF-8), and each journal's history.
 * @return an exit status. */
static int print_all(tq_txn *t, const tq_explain *x, int known, const pay_list *pays,
                     const journal_view *jv, const char *decl_no, int json, char *line)
{
    int status = TQ_EXIT_OK;
    tq_json jw, *w = json ? &jw : NULL;
    if (w) {
        tq_cli_json_begin(w, stdout);
        print_json_head(w, x, known, pays, jv, decl_no);
        tq_json_key(w, "history");
        tq_json_begin_array(w);
    } else {
        print_text_head(x, known, pays, jv, decl_no);
    }
    for (int j = 0; j < jv->n; j++) {
        int hs = history(t, x, jv, j, decl_no, w, line);
        if (hs > status)
            status = hs;
    }
    if (w) {
        tq_json_end_array(w);
        int js = tq_cli_json_end(w);
        return js > status ? js : status;
    }
    if (fflush(stdout) != 0 && status == 0)
        status = tq_cli_error(TQ_EXIT_IO, "write error: %s", strerror(errno));
    return status;
}

/* backfill() - for a declaration stored before format 3 (no office), office, kind and
 * line values from the first --journal that holds its DECL (jv->src_j, jv->src). */
static void backfill(tq_explain *x, journal_view *jv)
{
    for (int j = 0; !x->decl.office[0] && j < jv->n; j++)
        if (access(jv->paths[j], R_OK) == 0 &&
            tq_explain_backfill(jv->paths[j], &x->decl, &jv->src) == TQ_OK && jv->src.found)
            jv->src_j = j;
}

int tq_cmd_explain(int argc, char **argv)
{
    const char *db = NULL, *json = NULL;
    const char *journals[TQ_OPT_LIST_MAX + 1] = {NULL};
    tq_opt opts[] = {{"db", 1, &db},
                     {"journal", TQ_OPT_LIST, journals},
                     {"j", TQ_OPT_LIST, journals},
                     {"json", 0, &json},
                     {NULL, 0, NULL}};
    const char *pos[1];
    int npos, rc = tq_cli_parse("explain", argc, argv, opts, pos, 1, &npos);
    if (rc < 0)
        return tq_cli_help(help_explain);
    if (rc)
        return rc;
    if (npos != 1)
        return tq_cli_usage("explain", "needs DECL_NO");
    if (!valid_decl_no(pos[0])) {
        char q[80];
        return tq_cli_usage("explain", "DECL_NO must be 12 digits, the first not 0; got '%s'",
                            tq_diag_quote(pos[0], strlen(pos[0]), q, sizeof q));
    }
    if (db == NULL)
        return tq_cli_usage("explain", "needs --db DIR");
    int njournals = 0;
    while (journals[njournals])
        njournals++;
    tq_store *s = NULL;
    int status = tq_cli_open_store("explain", db, 0, 0, &s);
    if (status != 0)
        return status;
    tq_explain *x = tq_explain_new();
    pay_list pays = {0};
    char *line = malloc(TQ_NDJSON_LINE_MAX);
    tq_txn *t = NULL;
    journal_view jv = {.n = njournals, .paths = journals, .src_j = -1};
    if (x == NULL || line == NULL) {
        status = tq_cli_error(TQ_EXIT_SOFTWARE, "out of memory");
        goto out;
    }
    if ((rc = tq_txn_begin(s, 1, &t)) != TQ_OK) {
        status = tq_cli_error(tq_cli_exit_for(rc), "%s: %s", db, tq_strerror(rc));
        goto out;
    }
    int known = 1;
    rc = tq_explain_decl(t, pos[0], x);
    if (rc == TQ_ERR_NOTFOUND) {
        known = 0;
    } else if (rc != TQ_OK) {
        status = store_failed(t, db, pos[0], rc);
        goto out;
    }
    rc = tq_explain_each_payment(t, pos[0], collect_payment, &pays, NULL);
    if (rc != TQ_OK) {
        status = store_failed(t, db, "the payments", rc);
        goto out;
    }

    if ((rc = tq_explain_gaps(t, &jv.gaps)) != TQ_OK) {
        status = store_failed(t, db, "the skipped gaps", rc);
        goto out;
    }
    if (known)
        backfill(x, &jv);
    if (known && journal_view_load(&jv, t, pos[0]) != 0) {
        status = tq_cli_error(TQ_EXIT_SOFTWARE, "out of memory");
        goto out;
    }
    status = print_all(t, x, known, &pays, &jv, pos[0], json != NULL, line);
    if (!known) {
        tq_cli_warn("%s: no such declaration in %s%s", pos[0], db,
                    njournals ? "" : " (--journal J.tqj shows whether a journal names it)");
        if (status == TQ_EXIT_OK)
            status = TQ_EXIT_INPUT;
    }
out:
    tq_txn_abort(t);
    tq_store_close(s);
    free(line);
    free(pays.v);
    journal_view_free(&jv);
    tq_explain_free(x);
    return status;
}
