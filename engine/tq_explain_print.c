/* tq_explain_print.c - an explanation in words: the text an operator reads and the
 * --json object a script reads, from what tq_explain and tq_explain_journals gathered.
 * The wording lives here, next to the facts, so a test can read it without the CLI;
 * thongquan explain adds only its messages, the history and the exit status.
 * Every sum of money is written with its unit (đồng). */
#include "tq_explain_print.h"

#include <stdio.h>
#include <string.h>
#include <time.h>

#include "tq_ndjson.h"
#include "tq_num.h"

/* group() - v with thousands separators ("12,500,000"): tq_num's rule, as tq_cli's. */
static char *group(uint64_t v, char out[TQ_U128_GROUP_MAX])
{
    return tq_u128_group((tq_u128)v, out);
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
static void lines_naming(const tq_decl *d, const char *permit, uint64_t only, char *out, size_t cap)
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

static void format_utc(uint64_t unix_sec, char out[32])
{
    time_t sec = (time_t)unix_sec;
    struct tm tm;
    if (gmtime_r(&sec, &tm) == NULL || strftime(out, 32, "%Y-%m-%dT%H:%M:%SZ", &tm) == 0)
        snprintf(out, 32, "(time %llu)", (unsigned long long)unix_sec);
}

/* print_gaps() - the database's skipped gaps, which any decision may be missing. */
static void print_gaps(FILE *f, const tq_explain_journals *jv)
{
    const tq_explain_gap_list *g = &jv->gaps;
    char hex[2 * TQ_JOURNAL_ID_LEN + 1], when[32];
    if (g->total == 0)
        return;
    fprintf(f,
            "skipped gaps  %llu in this database: their events were not applied, so this "
            "decision may lack some of them\n",
            (unsigned long long)g->total);
    for (size_t i = 0; i < g->n; i++) {
        tq_hex(g->v[i].id, TQ_JOURNAL_ID_LEN, hex);
        format_utc(g->v[i].skipped_at, when);
        fprintf(f, "  journal %s  seq %llu..%llu (frame %llu), skipped %s\n", hex,
                (unsigned long long)g->v[i].first, (unsigned long long)g->v[i].last,
                (unsigned long long)g->v[i].frame, when);
    }
    if (g->total > g->n)
        fprintf(f, "  ... and %llu more (thongquan stat lists them)\n",
                (unsigned long long)(g->total - g->n));
    fprintf(f, "  fill them from an intact copy: thongquan replay --fill-gap J.tqj --db DIR "
               "(docs/RUNBOOK.md 1.10)\n");
}

static void print_json_gaps(tq_json *j, const tq_explain_journals *jv)
{
    const tq_explain_gap_list *g = &jv->gaps;
    char hex[2 * TQ_JOURNAL_ID_LEN + 1], when[32];
    tq_json_key(j, "skipped_gaps");
    tq_json_begin_object(j);
    tq_json_kv_u64(j, "total", g->total);
    tq_json_kv_array(j, "gaps");
    for (size_t i = 0; i < g->n; i++) {
        tq_hex(g->v[i].id, TQ_JOURNAL_ID_LEN, hex);
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

static void print_journal_officers(FILE *f, const tq_explain *x, const tq_explain_journals *jv)
{
    char why[200];
    for (int j = 0; jv->officers && j < jv->n; j++) {
        const tq_explain_officer_list *o = &jv->officers[j];
        for (size_t i = 0; i < o->n; i++) {
            (void)tq_explain_officer_why(x, jv, j, &o->v[i], why, sizeof why);
            fprintf(f, "officer       %s at seq %llu of %s (officer %s): %s\n",
                    tq_explain_result_name(o->v[i].result), (unsigned long long)o->v[i].seq,
                    jv->paths[j], o->v[i].officer, why);
        }
        if (o->more)
            fprintf(f, "officer       and %llu more results in %s (the history below lists them)\n",
                    (unsigned long long)o->more, jv->paths[j]);
    }
}

/* ---- text ---- */

static void print_tax(FILE *f, const tq_explain *x)
{
    char a[DONG_MAX], b[DONG_MAX], c[DONG_MAX], e[DONG_MAX];
    const tq_decl *d = &x->decl;
    uint64_t short_now = x->covered < d->tax_due ? d->tax_due - (uint64_t)x->covered : 0;
    fprintf(f, "tax           due %s; covered %s", dong(d->tax_due, a), dong(x->covered, b));
    if (x->guar_counted)
        fprintf(f, " (paid %s, guaranteed %s)", dong(x->pay_total, c), dong(x->guar_counted, e));
    if (short_now)
        fprintf(f, "; short %s", dong(short_now, a));
    else if (x->covered > d->tax_due)
        fprintf(f, "; over by %s", dong(x->covered - d->tax_due, a));
    fputc('\n', f);
    if (x->guar_expired)
        fprintf(f,
                "              guarantees of %s expired before the registration day and do "
                "not count\n",
                dong(x->guar_expired, a));
}

static void print_permit_fact(FILE *f, const tq_explain *x, const tq_explain_permit *p)
{
    char day1[11], day2[11], pre[160], a[TQ_U128_GROUP_MAX], b[TQ_U128_GROUP_MAX],
        c[TQ_U128_GROUP_MAX], lines[160];
    lines_naming(&x->decl, p->name, 0, lines, sizeof lines);
    if (!p->fact.found) {
        fprintf(f, "  %s  NOT LOADED  (named on line%s %s)\n", p->name,
                strchr(lines, ',') ? "s" : "", lines);
        return;
    }
    const tq_permit *pm = &p->fact.permit;
    tq_date_format(pm->valid_from, day1);
    tq_date_format(pm->valid_to, day2);
    prefixes_words(pm, pre, sizeof pre);
    fprintf(f, "  %s  %s  agency %s  holder %s  valid %s..%s\n", p->name,
            pm->status == TQ_PERMIT_REVOKED ? "REVOKED" : "VALID", pm->agency, pm->holder, day1,
            day2);
    if (pm->quota)
        fprintf(f, "      hs prefixes %s  quota %s  used %s%s  this declaration %s (line%s %s)\n",
                pre, group(pm->quota, a), group(p->fact.used, b),
                p->fact.used > pm->quota ? " (past the quota)" : "", group(p->qty, c),
                strchr(lines, ',') ? "s" : "", lines);
    else
        fprintf(f, "      hs prefixes %s  quota unlimited  this declaration %s (line%s %s)\n", pre,
                group(p->qty, c), strchr(lines, ',') ? "s" : "", lines);
}

/* One plain line per reason of the verdict, tied to the permit or line causing it. */
/* print_permit_reasons() - the lines of the reasons (of those given) permit p causes. */
static void print_permit_reasons(FILE *f, const tq_explain *x, const tq_explain_permit *p,
                                 uint32_t reasons, const char *day)
{
    const tq_decl *d = &x->decl;
    const tq_permit *pm = &p->fact.permit;
    char d1[11], d2[11], pre[160], lines[160];
    uint32_t r = p->reasons & reasons;
    if (r & TQ_R_PERMIT_MISSING) {
        lines_naming(d, p->name, 0, lines, sizeof lines);
        fprintf(f, "  PERMIT_MISSING: permit %s (line%s %s) is not among the permits loaded\n",
                p->name, strchr(lines, ',') ? "s" : "", lines);
        return;
    }
    if (r & TQ_R_PERMIT_REVOKED)
        fprintf(f, "  PERMIT_REVOKED: permit %s was revoked (agency %s)\n", p->name, pm->agency);
    if (r & TQ_R_PERMIT_EXPIRED) {
        tq_date_format(pm->valid_from, d1);
        tq_date_format(pm->valid_to, d2);
        fprintf(f, "  PERMIT_EXPIRED: permit %s valid %s..%s, registered %s\n", p->name, d1, d2,
                day);
    }
    if (r & TQ_R_PERMIT_HOLDER)
        fprintf(f, "  PERMIT_HOLDER: permit %s is issued to %s, the declarant is %s\n", p->name,
                pm->holder, d->declarant);
    if (r & TQ_R_PERMIT_HS) {
        prefixes_words(pm, pre, sizeof pre);
        for (int l = 0; l < d->nlines && l < TQ_LINES_MAX; l++)
            if (p->hs_bad_lines & (1ull << l))
                fprintf(f,
                        "  PERMIT_HS: line %d hs %s starts with none of permit %s's "
                        "prefixes %s\n",
                        l + 1, d->lines[l].hs, p->name, pre);
    }
}

/* print_quota_lines() - each permit whose quota this declaration would pass: as the
 * reason when it is one of reasons, else as a note for once the rest is settled. */
static void print_quota_lines(FILE *f, const tq_explain *x, uint32_t reasons)
{
    char a[TQ_U128_GROUP_MAX], b[TQ_U128_GROUP_MAX], c[TQ_U128_GROUP_MAX];
    for (size_t i = 0; i < x->npermits; i++) {
        const tq_explain_permit *p = &x->permits[i];
        if (!(p->reasons & TQ_R_PERMIT_QUOTA))
            continue;
        uint64_t q = p->fact.permit.quota, over = p->fact.used + p->qty - q;
        char e[TQ_U128_GROUP_MAX];
        fprintf(f, "  %s: permit %s quota %s, used %s, this declaration %s (over by %s)\n",
                reasons & TQ_R_PERMIT_QUOTA ? "PERMIT_QUOTA"
                                            : "note: once the rest is settled, PERMIT_QUOTA",
                p->name, group(q, a), group(p->fact.used, b), group(p->qty, c), group(over, e));
        if (p->fact.used > q)
            fprintf(f,
                    "    used is past the quota: clearances by hand (MANUAL_CLEAR) add their "
                    "quantities in full, even past the quota (SPEC 3, 7), and a permit "
                    "reloaded with a smaller quota keeps what was used; nothing more clears "
                    "against %s unless its quota is raised\n",
                    p->name);
    }
}

static void print_reason_lines(FILE *f, const tq_explain *x, uint32_t reasons)
{
    const tq_decl *d = &x->decl;
    char day[11], a[DONG_MAX], b[DONG_MAX], c[DONG_MAX];
    tq_date_format(d->reg_day, day);
    if (reasons & TQ_R_TAX_SHORT) {
        uint64_t s = x->covered < d->tax_due ? d->tax_due - (uint64_t)x->covered : 0;
        char cov[TQ_U128_GROUP_MAX];
        fprintf(f, "  TAX_SHORT: paid %s of %s (short %s)", tq_u128_group(x->covered, cov),
                dong(d->tax_due, b), dong(s, c));
        if (x->guar_expired)
            fprintf(f, "; guarantees of %s expired before %s do not count",
                    dong(x->guar_expired, a), day);
        fputc('\n', f);
    }
    for (size_t i = 0; i < x->npermits; i++)
        print_permit_reasons(f, x, &x->permits[i], reasons, day);
    if (reasons & TQ_R_AWAIT_OFFICER) {
        char seen[40];
        officer_words(d->officer, seen, sizeof seen);
        if (d->channel == 3)
            fprintf(f,
                    "  AWAIT_OFFICER: channel 3 (red) needs INSPECT_OK from an officer; "
                    "received: %s\n",
                    seen);
        else
            fprintf(f,
                    "  AWAIT_OFFICER: channel 2 (yellow) needs DOCS_OK or INSPECT_OK from an "
                    "officer; received: %s\n",
                    seen);
    }
    print_quota_lines(f, x, reasons);
}

static void print_verdict(FILE *f, const tq_explain *x)
{
    const tq_decl *d = &x->decl;
    char now[160], then[160];
    tq_reasons_format(x->now.reasons, now, sizeof now);
    tq_reasons_format(d->reasons, then, sizeof then);
    switch (d->state) {
    case TQ_STATE_HELD:
        if (x->now.reasons == 0) {
            fprintf(f,
                    "why it is held: nothing holds it any more with what is loaded now "
                    "(its last evaluation found %s)\n",
                    then);
            fprintf(f, "verdict now   would clear: run 'thongquan reconcile' (which clears the "
                       "oldest registrations first where quota is shared)\n");
            return;
        }
        fprintf(f, "why it is held (the rules applied now to the payments and permits loaded):\n");
        print_reason_lines(f, x, x->now.reasons);
        if (x->now.reasons == d->reasons)
            fprintf(f, "verdict now   HELD: %s, as decided\n", now);
        else
            fprintf(f,
                    "verdict now   HELD: %s (its last evaluation found %s; a reconcile "
                    "records the new reasons)\n",
                    now, then);
        return;
    case TQ_STATE_CLEARED:
        if (d->manual) {
            if (d->reasons == 0) {
                fprintf(f, "cleared by hand (MANUAL_CLEAR), with no discrepancy\n");
                return;
            }
            fprintf(f, "cleared by hand (MANUAL_CLEAR) with discrepancies %s", then);
            if (d->tax_short) {
                char a[DONG_MAX];
                fprintf(f, " (tax short %s)", dong(d->tax_short, a));
            }
            fprintf(f, ";\nthe rules applied now give:%s\n",
                    x->now.reasons ? "" : " no discrepancy");
            print_reason_lines(f, x, x->now.reasons);
            return;
        }
        fprintf(f, "cleared by the rules: every check passed at its last evaluation; CLEARED "
                   "is final\n");
        return;
    case TQ_STATE_REJECTED:
        fprintf(f, "rejected by an officer (OFFICER REJECT); REJECTED is final\n");
        return;
    case TQ_STATE_CANCELLED:
        fprintf(f, "withdrawn by the declarant (CANCEL); CANCELLED is final\n");
        return;
    default: fprintf(f, "not yet evaluated (PENDING)\n");
    }
}

/* print_last_event() - the event that last changed the declaration (store format 3;
 * nothing for one stored before). */
static void print_last_event(FILE *f, const tq_decl *d)
{
    char hex[2 * TQ_JOURNAL_ID_LEN + 1];
    tq_hex(d->src_id, TQ_JOURNAL_ID_LEN, hex);
    if (d->src_seq)
        fprintf(f, "last event    seq %llu of journal %s\n", (unsigned long long)d->src_seq, hex);
}

/* print_office() - office and kind: the store's, or for a declaration stored before
 * format 3, a journal's (--journal) or how to find them. */
static void print_office(FILE *f, const tq_decl *d, const tq_explain_journals *jv)
{
    if (jv->src_j < 0 && d->office[0]) {
        fprintf(f, "office        %s, kind %s\n", d->office, d->kind);
        return;
    }
    if (jv->src_j >= 0) {
        fprintf(f,
                "office        %s, kind %s (from the DECL at seq %llu of %s: stored before "
                "store format 3, the database does not keep them)\n",
                d->office, d->kind, (unsigned long long)jv->src.decl_seq, jv->paths[jv->src_j]);
        return;
    }
    fprintf(f,
            "office        not kept: stored before store format 3, as are kind and line "
            "values; %s\n",
            jv->n ? "no --journal given holds its DECL"
                  : "--journal J.tqj reads them from its DECL");
}

static void print_text(FILE *f, const tq_explain *x, const tq_explain_payment_list *pays,
                       const tq_explain_journals *jv)
{
    const tq_decl *d = &x->decl;
    char buf[160], when[48], day[11], a[DONG_MAX];
    const char *state = tq_state_name(d->state);
    fprintf(f, "declaration   %s\n", d->decl_no);
    fprintf(f, "state         %s, version %u%s\n", state ? state : "?", d->version,
            d->manual ? ", cleared by hand (MANUAL_CLEAR)" : "");
    if (d->state == TQ_STATE_HELD || d->manual) {
        tq_reasons_format(d->reasons, buf, sizeof buf);
        fprintf(f, "%s %s", d->manual ? "discrepancies" : "reasons      ",
                d->reasons ? buf : "none");
        if (d->tax_short)
            fprintf(f, " (tax short %s)", dong(d->tax_short, a));
        fprintf(f, ", at its last evaluation\n");
    }
    tq_time_format_vn(d->registered, when);
    tq_date_format(d->reg_day, day);
    fprintf(f, "registered    %s (day %s, Vietnam time)\n", when, day);
    fprintf(f, "declarant     %s\n", d->declarant);
    print_office(f, d, jv);
    print_last_event(f, d);
    officer_words(d->officer, buf, sizeof buf);
    fprintf(f, "channel       %u (%s); officer results applied: %s\n", d->channel,
            channel_words(d->channel), buf);
    print_journal_officers(f, x, jv);
    print_tax(f, x);
    fprintf(f, "lines         %u\n", d->nlines);
    int values = d->office[0] && (jv->src_j < 0 || jv->src.values);
    for (int l = 0; l < d->nlines && l < TQ_LINES_MAX; l++) {
        fprintf(f, "  %2d  hs %s  qty %s", l + 1, d->lines[l].hs, group(d->lines[l].qty, a));
        if (values)
            fprintf(f, "  value %s", dong(d->lines[l].value, a));
        fprintf(f, "%s%s\n", d->lines[l].permit[0] ? "  permit " : "", d->lines[l].permit);
    }
    if (!values && jv->src_j >= 0)
        fprintf(f, "              (line values: no DECL or AMEND in %s has these lines)\n",
                jv->paths[jv->src_j]);
    fprintf(f, "payments      %zu\n", pays->n);
    for (size_t i = 0; i < pays->n; i++) {
        const tq_payment *p = &pays->v[i];
        fprintf(f, "  %-20s %-9s %15s đồng", p->receipt_no, tq_payment_kind_name(p->kind),
                group(p->amount, a));
        if (p->kind == TQ_GUARANTEE) {
            tq_date_format(p->valid_until, buf);
            fprintf(f, "  valid until %s%s", buf,
                    p->valid_until < d->reg_day ? ": expired before the registration day, "
                                                  "does not count"
                                                : "");
        }
        fputc('\n', f);
    }
    fprintf(f, "permits       %zu\n", x->npermits);
    for (size_t i = 0; i < x->npermits; i++)
        print_permit_fact(f, x, &x->permits[i]);
    print_verdict(f, x);
    print_gaps(f, jv);
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
    if (!tq_json_kv_object(j, "last_event", d->src_seq != 0))
        return;
    tq_hex(d->src_id, TQ_JOURNAL_ID_LEN, hex);
    tq_json_kv_string(j, "journal_id", hex);
    tq_json_kv_u64(j, "seq", d->src_seq);
    tq_json_end_object(j);
}

/* "office", "kind" and where they came from: "store", a journal's DECL, or null (stored
 * before format 3, no --journal holds its DECL). */
static void print_json_office(tq_json *j, const tq_decl *d, const tq_explain_journals *jv)
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

static void json_payments(tq_json *j, const tq_explain_payment_list *pays, const int32_t *reg_day)
{
    tq_json_kv_array(j, "payments");
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
    tq_json_kv_array(j, "lines");
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
    if (!tq_json_kv_object(j, "now", x->evaluated))
        return;
    json_reasons(j, "reasons", x->now.reasons);
    tq_json_kv_u64(j, "tax_short", x->now.tax_short);
    tq_json_kv_bool(j, "would_clear", x->decl.state == TQ_STATE_HELD && x->now.reasons == 0);
    tq_json_end_object(j);
}

static void print_json_decl(tq_json *j, const tq_explain *x, const tq_explain_payment_list *pays,
                            const tq_explain_journals *jv)
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
    tq_json_kv_array(j, "officer_results");
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
    tq_json_kv_array(j, "permits");
    for (size_t i = 0; i < x->npermits; i++)
        json_permit(j, &x->permits[i]);
    tq_json_end_array(j);
    json_now(j, x);
}

/* tq_explain_json_officers() - "officer_results":[...] and "officer_results_not_shown" of
 * journal j (nothing when the declaration is unknown: there is nothing to apply them to). */
void tq_explain_json_officers(tq_json *w, const tq_explain *x, const tq_explain_journals *jv, int j)
{
    char why[200];
    if (jv->officers == NULL)
        return;
    const tq_explain_officer_list *o = &jv->officers[j];
    tq_json_kv_array(w, "officer_results");
    for (size_t i = 0; i < o->n; i++) {
        int applied = tq_explain_officer_why(x, jv, j, &o->v[i], why, sizeof why);
        tq_json_begin_object(w);
        tq_json_kv_u64(w, "seq", o->v[i].seq);
        tq_json_kv_string(w, "result", tq_explain_result_name(o->v[i].result));
        tq_json_kv_string(w, "officer", o->v[i].officer);
        tq_json_kv_bool(w, "applied", applied);
        tq_json_kv_string(w, "why", why);
        tq_json_end_object(w);
    }
    tq_json_end_array(w);
    tq_json_kv_u64(w, "officer_results_not_shown", o->more);
}

/* tq_explain_json_head() - --json up to the history: the declaration (or only its payments
 * when unknown) and the database's skipped gaps. */
void tq_explain_json_head(tq_json *w, const tq_explain *x, int known,
                          const tq_explain_payment_list *pays, const tq_explain_journals *jv,
                          const char *decl_no)
{
    tq_json_kv_string(w, "decl_no", decl_no);
    tq_json_kv_bool(w, "known", known);
    if (known)
        print_json_decl(w, x, pays, jv);
    else
        json_payments(w, pays, NULL);
    print_json_gaps(w, jv);
}

void tq_explain_text(FILE *f, const tq_explain *x, int known, const tq_explain_payment_list *pays,
                     const tq_explain_journals *jv, const char *decl_no)
{
    char a[TQ_U128_GROUP_MAX];
    if (known) {
        print_text(f, x, pays, jv);
        return;
    }
    if (pays->n)
        fprintf(f, "payments for %s, a declaration not in the database:\n", decl_no);
    for (size_t i = 0; i < pays->n; i++)
        fprintf(f, "  %-20s %-9s %15s đồng\n", pays->v[i].receipt_no,
                tq_payment_kind_name(pays->v[i].kind), group(pays->v[i].amount, a));
}

/* ---- history: one journal's events for the declaration ---- */

typedef struct hist_ctx {
    FILE *f;
    tq_json *w; /* the --json writer, NULL for text */
    uint64_t n;
    uint64_t in_gap; /* of them, in a skipped gap (not applied) */
    const tq_explain_journals *jv;
    int j;
    char *line;
    void (*bad)(void *ctx, int err, const tq_frame_info *fi);
    void *bad_ctx;
} hist_ctx;

static int on_event(void *ctx, const tq_event *ev)
{
    hist_ctx *h = ctx;
    size_t n = tq_ndjson_format_event(ev, 1, h->line, TQ_NDJSON_LINE_MAX);
    if (n >= TQ_NDJSON_LINE_MAX)
        return 0;
    if (h->w)
        tq_json_raw(h->w, h->line, n - 1); /* the object, without its newline */
    else
        fwrite(h->line, 1, n, h->f);
    h->n++;
    if (tq_explain_journals_gap_of(h->jv, h->j, ev->seq))
        h->in_gap++;
    return 0;
}

static void on_bad(void *ctx, int err, const tq_frame_info *fi)
{
    hist_ctx *h = ctx;
    if (h->bad)
        h->bad(h->bad_ctx, err, fi);
}

/* print_history_gaps() - the skipped gaps of journal id, and how many of the events
 * listed fall in them. */
static void print_history_gaps(const hist_ctx *h, const uint8_t *id)
{
    for (size_t i = 0; i < h->jv->gaps.n; i++) {
        const tq_gap *g = &h->jv->gaps.v[i];
        if (memcmp(g->id, id, TQ_JOURNAL_ID_LEN) != 0)
            continue;
        fprintf(h->f,
                "  (seq %llu..%llu of this journal was skipped by --skip-corrupt: its events "
                "were not applied)\n",
                (unsigned long long)g->first, (unsigned long long)g->last);
    }
    if (h->in_gap)
        fprintf(h->f, "  (%llu of the events above are in a skipped gap and were not applied)\n",
                (unsigned long long)h->in_gap);
}

/* history_tail() - after the events: how far the journal was replayed (have_mark, m),
 * its officer results and gaps. */
static void history_tail(const hist_ctx *h, const tq_explain *x, int rc, const uint8_t *id,
                         int have_mark, const tq_journal_mark *m, const char *decl_no)
{
    tq_json *w = h->w;
    if (w) {
        tq_json_end_array(w);
        tq_json_key(w, "replayed_through_seq");
        if (have_mark)
            tq_json_u64(w, m->last_seq);
        else
            tq_json_null(w);
        tq_explain_json_officers(w, x, h->jv, h->j);
        tq_json_kv_u64(w, "events_in_skipped_gaps", h->in_gap);
        tq_json_end_object(w);
        return;
    }
    print_history_gaps(h, id);
    if (h->n == 0 && (rc == TQ_OK || rc == TQ_ERR_CORRUPT || rc == TQ_ERR_TORN))
        fprintf(h->f, "  (no event for %s)\n", decl_no);
    if (have_mark)
        fprintf(h->f, "  (this journal is replayed into the database through seq %llu)\n",
                (unsigned long long)m->last_seq);
    else if (rc == TQ_OK)
        fprintf(h->f, "  (this journal has not been replayed into the database)\n");
}

int tq_explain_history_print(const tq_explain_history_out *out, tq_txn *t, const tq_explain *x,
                             const tq_explain_journals *jv, int j, const char *decl_no)
{
    const char *path = jv->paths[j];
    hist_ctx h = {.f = out->f,
                  .w = out->w,
                  .line = out->line,
                  .jv = jv,
                  .j = j,
                  .bad = out->bad,
                  .bad_ctx = out->bad_ctx};
    uint8_t id[TQ_JOURNAL_ID_LEN];
    if (h.w) {
        tq_json_begin_object(h.w);
        tq_json_kv_string(h.w, "journal", path);
        tq_json_kv_array(h.w, "events");
    } else {
        /* How far the journal was replayed needs its id, known once it is open, so that
         * line comes after the events: nothing is held back in memory. */
        fprintf(h.f, "history in %s:\n", path);
    }
    int rc = tq_explain_history(path, decl_no, on_event, &h, on_bad, id);
    tq_journal_mark m;
    int have_mark = rc != TQ_ERR_IO && rc != TQ_ERR_VERSION && rc != TQ_ERR_NOMEM && t &&
                    tq_store_get_journal(t, id, &m) == TQ_OK;
    history_tail(&h, x, rc, id, have_mark, &m, decl_no);
    return rc;
}
