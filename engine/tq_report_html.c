/* tq_report_html.c - a run's results as one self-contained HTML page (inline CSS and
 * SVG, no script, nothing fetched). */
#include "tq_report_html.h"

#include <errno.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "../formats/tq_num.h"
#include "../formats/tq_out.h"
#include "../formats/tq_utf8.h"

/* ---- filling the report ---- */

static void copy_cut(char *dst, size_t cap, const char *src)
{
    snprintf(dst, cap, "%s", src ? src : "");
}

void tq_report_init(tq_report *r, const char *title, tq_instant as_of)
{
    memset(r, 0, sizeof *r);
    copy_cut(r->title, sizeof r->title, title);
    r->as_of = as_of;
}

int tq_report_as_of(tq_report *r, const char *timestamp, tq_diag *d)
{
    char q[72];
    tq_diag td;
    tq_instant t;
    if (tq_time_parse(timestamp, strlen(timestamp), &t, &td) != TQ_OK)
        return tq_diag_set(d, "as-of", "'%s': %s",
                           tq_diag_quote(timestamp, strlen(timestamp), q, sizeof q), td.why);
    r->as_of = t;
    return TQ_OK;
}

void tq_report_fact(tq_report *r, const char *label, const char *fmt, ...)
{
    if (r->nfacts >= TQ_REPORT_FACTS)
        return;
    copy_cut(r->fact_label[r->nfacts], sizeof r->fact_label[0], label);
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(r->fact_value[r->nfacts], sizeof r->fact_value[0], fmt, ap);
    va_end(ap);
    r->nfacts++;
}

void tq_report_row(tq_report *r, int list, const char *const *cells, int ncells)
{
    if (list < 0 || list >= TQ_LIST_COUNT)
        return;
    tq_report_list *l = &r->list[list];
    r->have_lists = 1;
    if (l->shown < TQ_REPORT_ROWS) {
        for (int i = 0; i < TQ_REPORT_COLS; i++)
            copy_cut(l->cell[l->shown][i], TQ_REPORT_CELL,
                     i < ncells && cells ? cells[i] : "");
        l->shown++;
    }
    l->total++;
}

void tq_report_lists_reset(tq_report *r)
{
    for (int i = 0; i < TQ_LIST_COUNT; i++)
        r->list[i].total = r->list[i].shown = 0;
}

void tq_report_batch(tq_report *r, double at, uint64_t seq)
{
    if (r->nbatches == TQ_REPORT_BATCHES) {
        /* keep points 1, 3, 5, ...: each new batch spans two old ones */
        for (uint32_t i = 0; i < TQ_REPORT_BATCHES / 2; i++) {
            r->batch_at[i] = r->batch_at[2 * i + 1];
            r->batch_seq[i] = r->batch_seq[2 * i + 1];
        }
        r->nbatches = TQ_REPORT_BATCHES / 2;
    }
    r->batch_at[r->nbatches] = at;
    r->batch_seq[r->nbatches] = seq;
    r->nbatches++;
}

/* ---- text ---- */

/* The characters HTML gives a meaning, by byte: their entities. */
static const char *const html_entity[128] = {
    ['&'] = "&amp;", ['<'] = "&lt;", ['>'] = "&gt;", ['"'] = "&quot;", ['\''] = "&#39;",
};

void tq_report_html_text(FILE *f, const char *s)
{
    const unsigned char *p = (const unsigned char *)(s ? s : "");
    size_t left = strlen((const char *)p);
    while (left > 0) {
        size_t bad = 1, n = tq_utf8_len(p, left, &bad);
        unsigned c = *p;
        if (n == 0 || (c < 0x20 && c != '\t' && c != '\n') || c == 0x7F ||
            (c == 0xC2 && p[1] < 0xA0)) {    /* C1 controls too */
            fputs(TQ_UTF8_REPLACEMENT, f);
            p += n ? n : bad;
            left -= n ? n : bad;
            continue;
        }
        if (c < 128 && html_entity[c] != NULL)
            fputs(html_entity[c], f);
        else
            fwrite(p, 1, n, f);
        p += n;
        left -= n;
    }
}

char *tq_report_group(uint64_t v, char out[32])
{
    char buf[TQ_U128_GROUP_MAX];
    tq_u128_group(v, buf);
    size_t n = strlen(buf);  /* a u64 grouped is at most 26 bytes */
    memcpy(out, buf, n < 31 ? n + 1 : 32);
    out[31] = '\0';
    return out;
}

char *tq_report_vn_time(tq_instant t, char out[32])
{
    /* The day from the one Vietnam-day rule; the second of that day from the remainder
     * alone, so no sum can overflow whatever t.sec holds. */
    int32_t day = tq_instant_vn_day(t);
    int64_t sod = (t.sec % TQ_SECS_PER_DAY + TQ_SECS_PER_DAY + TQ_VN_OFFSET_SECS) %
                  TQ_SECS_PER_DAY, y;
    int m, d;
    tq_civil_from_days(day, &y, &m, &d);
    snprintf(out, 32, "%04lld-%02d-%02d %02d:%02d:%02d +07:00", (long long)y, m, d,
             (int)(sod / 3600), (int)(sod / 60 % 60), (int)(sod % 60));
    return out;
}

static const char *num(uint64_t v, char out[32])
{
    return tq_report_group(v, out);
}

/* ---- the style sheet: sober, legible, printable ---- */

static const char css[] =
    ":root{--ink:#1d2733;--mute:#5b6673;--line:#d5dbe2;--bg:#f4f6f8;--navy:#1f3a5f;"
    "--clr:#2e7d4f;--held:#b7791f;--rej:#b23b3b;--can:#7a8591;--bar:#2f5d8a}\n"
    "*{box-sizing:border-box}\n"
    "body{margin:0;background:var(--bg);color:var(--ink);font:15px/1.45 'Noto Sans',"
    "'DejaVu Sans','Liberation Sans',Arial,sans-serif}\n"
    "header{background:var(--navy);color:#fff;padding:18px 32px 16px}\n"
    "header h1{margin:0 0 4px;font-size:22px;font-weight:600;letter-spacing:.2px}\n"
    "header p{margin:0;color:#d6e0ec;font-size:14px}\n"
    "main{max-width:1180px;margin:0 auto;padding:20px 32px 32px}\n"
    "section{background:#fff;border:1px solid var(--line);border-radius:4px;"
    "padding:14px 20px 16px;margin:0 0 18px}\n"
    "h2{font-size:16px;margin:0 0 10px;color:var(--navy);font-weight:600}\n"
    ".cards{display:flex;flex-wrap:wrap;gap:12px;margin:0 0 18px}\n"
    ".card{flex:1 1 150px;background:#fff;border:1px solid var(--line);border-top:4px solid "
    "var(--bar);border-radius:4px;padding:10px 14px}\n"
    ".card b{display:block;font-size:26px;font-weight:600;font-variant-numeric:tabular-nums}\n"
    ".card span{color:var(--mute);font-size:13px}\n"
    ".c1{border-top-color:var(--clr)}.c2{border-top-color:var(--held)}"
    ".c3{border-top-color:var(--rej)}.c4{border-top-color:var(--can)}\n"
    ".grid{display:grid;grid-template-columns:1fr 1fr;gap:18px;margin:0 0 18px}\n"
    ".grid section{margin:0}\n"
    "table{border-collapse:collapse;width:100%;font-size:14px}\n"
    "th,td{text-align:left;padding:4px 8px;border-bottom:1px solid var(--line)}\n"
    "th{color:var(--mute);font-weight:600;font-size:13px}\n"
    "td.n,th.n{text-align:right;font-variant-numeric:tabular-nums}\n"
    "table.facts td:first-child{color:var(--mute);width:30%}\n"
    ".note{color:var(--mute);font-size:13px;margin:8px 0 0}\n"
    "svg{display:block;width:100%;height:auto}\n"
    "svg text{font-family:inherit;font-size:13px;fill:var(--ink)}\n"
    "svg .m{fill:var(--mute);font-size:12px}\n"
    "svg.bars{max-width:560px}\n"
    "footer{color:var(--mute);font-size:12px;text-align:center;padding:0 0 24px}\n"
    "@media (max-width:900px){.grid{grid-template-columns:1fr}}\n"
    "@page{size:A4;margin:14mm}\n"
    "@media print{body{background:#fff;font-size:11pt}header{background:#fff;color:#000;"
    "border-bottom:2px solid #000;padding:0 0 8px}header p{color:#333}main{padding:12px 0;"
    "max-width:none}section,.card{break-inside:avoid;border-color:#999}"
    ".cards{gap:8px}.card{flex-basis:90px;padding:6px 10px}.card b{font-size:20px}"
    "svg.wide text{font-size:16px}svg.wide .m{font-size:15px}"
    ".grid{display:block}.grid section{margin:0 0 12px}"
    "*{-webkit-print-color-adjust:exact;print-color-adjust:exact}}\n";

/* ---- pieces of the page ---- */

static const char *const state_label[5] = {"Pending", "Cleared", "Held", "Rejected",
                                           "Cancelled"};
static const char *const state_color[5] = {"#9aa5b1", "#2e7d4f", "#b7791f", "#b23b3b",
                                           "#7a8591"};

static void cards(FILE *f, const tq_report *r)
{
    char a[32];
    fprintf(f, "<div class=\"cards\"><div class=\"card\"><b>%s</b><span>Declarations"
            "</span></div>\n", num(r->declarations, a));
    for (int s = 1; s <= 4; s++)
        fprintf(f, "<div class=\"card c%d\"><b>%s</b><span>%s</span></div>\n", s,
                num(r->by_state[s], a), state_label[s]);
    fputs("</div>\n", f);
}

static void facts(FILE *f, const tq_report *r)
{
    if (r->nfacts == 0)
        return;
    fputs("<section><h2>This run</h2><table class=\"facts\">\n", f);
    for (uint32_t i = 0; i < r->nfacts; i++) {
        fputs("<tr><td>", f);
        tq_report_html_text(f, r->fact_label[i]);
        fputs("</td><td>", f);
        tq_report_html_text(f, r->fact_value[i]);
        fputs("</td></tr>\n", f);
    }
    fputs("</table></section>\n", f);
}

/* states_bar() - one bar split by state, with a legend below. */
static void states_bar(FILE *f, const tq_report *r)
{
    char a[32];
    double x = 0, w = 1000;
    fputs("<section><h2>Declarations by state</h2>\n<svg class=\"wide\" viewBox=\"0 0 1000 64\" role=\"img\" "
          "aria-label=\"declarations by state\">\n", f);
    for (int s = 0; s <= 4 && r->declarations; s++) {
        double bw = w * (double)r->by_state[s] / (double)r->declarations;
        if (bw <= 0)
            continue;
        fprintf(f, "<rect x=\"%.1f\" y=\"4\" width=\"%.1f\" height=\"26\" fill=\"%s\"/>\n", x,
                bw, state_color[s]);
        x += bw;
    }
    if (r->declarations == 0)
        fputs("<rect x=\"0\" y=\"4\" width=\"1000\" height=\"26\" fill=\"#e6eaee\"/>\n", f);
    x = 0;
    for (int s = 1; s <= 4; s++) {
        double pct = r->declarations ? 100.0 * (double)r->by_state[s] / (double)r->declarations : 0;
        fprintf(f, "<rect x=\"%.0f\" y=\"44\" width=\"12\" height=\"12\" fill=\"%s\"/>"
                "<text x=\"%.0f\" y=\"55\">%s %s (%.1f%%)</text>\n", x, state_color[s], x + 18,
                state_label[s], num(r->by_state[s], a), pct);
        x += 250;
    }
    fputs("</svg>\n", f);
    if (r->by_state[0])
        fprintf(f, "<p class=\"note\">Pending (not yet decided): %s</p>\n",
                num(r->by_state[0], a));
    fputs("</section>\n", f);
}

/* hbars() - a horizontal bar per label (text, escaped), longest = max. */
static void hbars(FILE *f, const char *const *labels, const uint64_t *v, int n,
                  const char *color)
{
    uint64_t max = 1;
    char a[32];
    for (int i = 0; i < n; i++)
        max = v[i] > max ? v[i] : max;
    fprintf(f, "<svg class=\"bars\" viewBox=\"0 0 560 %d\" role=\"img\">\n", n * 26 + 4);
    for (int i = 0; i < n; i++) {
        double w = 300.0 * (double)v[i] / (double)max;
        int y = i * 26 + 2;
        fprintf(f, "<text x=\"0\" y=\"%d\">", y + 16);
        tq_report_html_text(f, labels[i]);
        fprintf(f, "</text><rect x=\"170\" y=\"%d\" width=\"%.1f\" height=\"18\" fill=\"%s\"/>"
                "<text x=\"%.1f\" y=\"%d\">%s</text>\n", y + 2, w < 1 && v[i] ? 1.0 : w, color,
                176 + w, y + 16, num(v[i], a));
    }
    fputs("</svg>\n", f);
}

static void reasons(FILE *f, const tq_report *r)
{
    const char *labels[TQ_REASON_COUNT];
    uint64_t sum = 0;
    for (int b = 0; b < TQ_REASON_COUNT; b++) {
        labels[b] = tq_reason_name(b);
        sum += r->held_by_reason[b];
    }
    fputs("<section><h2>Held by reason</h2>\n", f);
    hbars(f, labels, r->held_by_reason, TQ_REASON_COUNT, "#b7791f");
    if (sum > r->by_state[TQ_STATE_HELD])
        fputs("<p class=\"note\">A declaration held for several reasons counts under each.</p>\n",
              f);
    fputs("</section>\n", f);
}

/* offices() - the top offices as bars; the others summed in a line below (a bar of
 * their sum would dwarf the offices it is there to rank). */
static void offices(FILE *f, const tq_report *r)
{
    const char *labels[TQ_REPORT_TOP];
    uint64_t v[TQ_REPORT_TOP];
    char a[32], b[32];
    int n = 0;
    fputs("<section><h2>Held per office</h2>\n", f);
    if (r->offices_unknown) {
        fputs("<p class=\"note\">This database keeps no office index (it predates store "
              "format 3): the next command that writes to it upgrades it.</p></section>\n", f);
        return;
    }
    for (uint32_t i = 0; i < r->noffices && i < TQ_REPORT_TOP; i++, n++) {
        labels[n] = r->office[i].office[0] ? r->office[i].office : "(no office)";
        v[n] = r->office[i].held;
    }
    if (n)
        hbars(f, labels, v, n, "#2f5d8a");
    else
        fputs("<p class=\"note\">No declaration is held.</p>\n", f);
    if (r->other_offices)
        fprintf(f, "<p class=\"note\">The %s other office%s hold%s %s.</p>\n",
                num(r->other_offices, a), r->other_offices == 1 ? "" : "s",
                r->other_offices == 1 ? "s" : "", num(r->other_held, b));
    fputs("</section>\n", f);
}

static void ages(FILE *f, const tq_report *r)
{
    static const char *const label[TQ_AGE_BUCKETS] = {"under 2 h", "2 h to 6 h",
                                                      "6 h to 24 h", "1 to 3 days",
                                                      "over 3 days"};
    uint64_t max = 1;
    char a[32], t[32];
    for (int i = 0; i < TQ_AGE_BUCKETS; i++)
        max = r->age[i] > max ? r->age[i] : max;
    fputs("<section><h2>Held: time since registration</h2>\n"
          "<svg class=\"wide\" viewBox=\"0 0 1100 200\" role=\"img\" aria-label=\"age of the backlog\">\n"
          "<line x1=\"20\" y1=\"170\" x2=\"1080\" y2=\"170\" stroke=\"#9aa5b1\"/>\n", f);
    for (int i = 0; i < TQ_AGE_BUCKETS; i++) {
        double h = 140.0 * (double)r->age[i] / (double)max;
        int x = 60 + i * 205;
        fprintf(f, "<rect x=\"%d\" y=\"%.1f\" width=\"160\" height=\"%.1f\" fill=\"%s\"/>"
                "<text x=\"%d\" y=\"%.1f\" text-anchor=\"middle\">%s</text>"
                "<text class=\"m\" x=\"%d\" y=\"190\" text-anchor=\"middle\">%s</text>\n",
                x, 170 - h, h, i >= TQ_AGE_24H ? "#9c4f2a" : "#b7791f", x + 80, 164 - h,
                num(r->age[i], a), x + 80, label[i]);
    }
    fprintf(f, "</svg>\n<p class=\"note\">Counted to %s (Vietnam time).</p></section>\n",
            tq_report_vn_time(r->as_of, t));
}

/* nice_max() - the smallest 1, 2 or 5 times a power of ten at or above v. */
static double nice_max(double v)
{
    double p = 1;
    while (p * 10 <= v)
        p *= 10;
    return v <= p ? p : v <= 2 * p ? 2 * p : v <= 5 * p ? 5 * p : 10 * p;
}

/* nice_steps() - grid lines for an axis up to nice_max()'s m: round values each. */
static int nice_steps(double m)
{
    while (m >= 10)
        m /= 10;
    return m > 1.5 && m < 2.5 ? 4 : 5;     /* 2: by 0.5; 1 and 5: by 0.2 and 1 */
}

/* duration() - t seconds with as many decimals as a scale up to total needs. */
static const char *duration(double t, double total, char out[32])
{
    if (total < 1)
        snprintf(out, 32, total < 0.01 ? "%.2f ms" : total < 0.1 ? "%.1f ms" : "%.0f ms",
                 t * 1000);
    else
        snprintf(out, 32, total < 10 ? "%.2f s" : total < 100 ? "%.1f s" : "%.0f s", t);
    return out;
}

/* batch_events() - the events of batch i (0 when its point is not past the one before:
 * frames already applied by an earlier run). */
static uint64_t batch_events(const tq_report *r, uint32_t i)
{
    uint64_t prev = i && r->batch_seq[i - 1] > r->batch_base ? r->batch_seq[i - 1]
                                                             : r->batch_base;
    return r->batch_seq[i] > prev ? r->batch_seq[i] - prev : 0;
}

/* throughput() - each batch as a bar from its start to its end (x: seconds since the
 * start of the run), as high as its events per second. */
static void throughput(FILE *f, const tq_report *r)
{
    if (r->nbatches == 0)
        return;
    double total = r->batch_at[r->nbatches - 1], peak = 0;
    char a[32];
    for (uint32_t i = 0; i < r->nbatches; i++) {
        double t0 = i ? r->batch_at[i - 1] : 0, dt = r->batch_at[i] - t0;
        uint64_t ev = batch_events(r, i);
        double rate = dt > 0 ? (double)ev / dt : 0;
        peak = rate > peak ? rate : peak;
    }
    double ymax = nice_max(peak > 0 ? peak : 1), xs = total > 0 ? 960.0 / total : 0;
    fputs("<section><h2>Throughput per batch (events per second)</h2>\n"
          "<svg class=\"wide\" viewBox=\"0 0 1100 260\" role=\"img\" aria-label=\"throughput\">\n", f);
    int steps = nice_steps(ymax);
    for (int k = 0; k <= steps; k++) {
        double y = 220 - 200.0 * k / steps;
        fprintf(f, "<line x1=\"100\" y1=\"%.1f\" x2=\"1070\" y2=\"%.1f\" stroke=\"%s\"/>"
                "<text class=\"m\" x=\"92\" y=\"%.1f\" text-anchor=\"end\">%s</text>\n", y, y,
                k ? "#e3e7ec" : "#9aa5b1", y + 4, num((uint64_t)(ymax * k / steps), a));
    }
    for (uint32_t i = 0; i < r->nbatches; i++) {
        double t0 = i ? r->batch_at[i - 1] : 0, dt = r->batch_at[i] - t0;
        uint64_t ev = batch_events(r, i);
        double h = dt > 0 ? 200.0 * (double)ev / dt / ymax : 0, w = dt * xs;
        fprintf(f, "<rect x=\"%.2f\" y=\"%.2f\" width=\"%.2f\" height=\"%.2f\" fill=\"#2f5d8a\" "
                "stroke=\"#fff\" stroke-width=\"%s\"/>\n", 100 + t0 * xs, 220 - h,
                w < 0.5 ? 0.5 : w, h, w > 4 ? "1" : "0");
    }
    for (int k = 0; k <= 4; k++)
        fprintf(f, "<text class=\"m\" x=\"%.1f\" y=\"240\" text-anchor=\"middle\">%s</text>\n",
                100 + 960.0 * k / 4, duration(total * k / 4, total, a));
    fputs("</svg>\n", f);
    uint64_t events = 0;
    for (uint32_t i = 0; i < r->nbatches; i++)
        events += batch_events(r, i);
    char b[32], c[32];
    fprintf(f, "<p class=\"note\">%s batch%s, %s events in %.3f s; fastest batch %s events/s.",
            num(r->nbatches, a), r->nbatches == 1 ? "" : "es", num(events, b), total,
            num((uint64_t)peak, c));
    fputs("</p></section>\n", f);
}

static const struct {
    const char *title, *cols[TQ_REPORT_COLS];
    unsigned numeric;                     /* bit i: column i is a number */
} list_def[TQ_LIST_COUNT] = {
    {"Cleared now", {"Declaration"}, 0},
    {"Manual clearances with discrepancies",
     {"Declaration", "Discrepancies", "Tax short (VND)"}, 4},
    {"Refund candidates (overpaid)",
     {"Declaration", "Tax due (VND)", "Covered (VND)", "Excess (VND)"}, 14},
    {"Payments for unknown declarations",
     {"Receipt", "Declaration", "Kind", "Amount (VND)"}, 8},
};

static void list_table(FILE *f, const tq_report *r, int which)
{
    const tq_report_list *l = &r->list[which];
    char a[32];
    int ncols = 0;
    while (ncols < TQ_REPORT_COLS && list_def[which].cols[ncols])
        ncols++;
    fprintf(f, "<section><h2>%s: %s</h2>\n", list_def[which].title, num(l->total, a));
    if (l->total == 0) {
        fputs("<p class=\"note\">None.</p></section>\n", f);
        return;
    }
    fputs("<table><tr>", f);
    for (int c = 0; c < ncols; c++)
        fprintf(f, "<th%s>%s</th>", list_def[which].numeric >> c & 1 ? " class=\"n\"" : "",
                list_def[which].cols[c]);
    fputs("</tr>\n", f);
    for (uint32_t i = 0; i < l->shown; i++) {
        fputs("<tr>", f);
        for (int c = 0; c < ncols; c++) {
            fputs(list_def[which].numeric >> c & 1 ? "<td class=\"n\">" : "<td>", f);
            tq_report_html_text(f, l->cell[i][c]);
            fputs("</td>", f);
        }
        fputs("</tr>\n", f);
    }
    fputs("</table>\n", f);
    if (l->total > l->shown) {
        char b[32];
        fprintf(f, "<p class=\"note\">The first %s of %s are shown; ", num(l->shown, a),
                num(l->total, b));
        if (l->rest[0]) {
            fputs("the whole list: <b>", f);
            tq_report_html_text(f, l->rest);
            fputs("</b>.</p>\n", f);
        } else {
            fputs("the whole list is not part of this page.</p>\n", f);
        }
    }
    fputs("</section>\n", f);
}

int tq_report_html_print(FILE *f, const tq_report *r)
{
    char t[32];
    fputs("<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n"
          "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n"
          "<meta name=\"generator\" content=\"thongquan\">\n<title>", f);
    tq_report_html_text(f, r->title);
    fprintf(f, "</title>\n<style>\n%s</style>\n</head>\n<body>\n<header><h1>", css);
    tq_report_html_text(f, r->title);
    fprintf(f, "</h1><p>As of %s (Vietnam time)</p></header>\n<main>\n",
            tq_report_vn_time(r->as_of, t));
    if (r->have_store) {
        cards(f, r);
        if (r->store_note[0]) {
            fputs("<p class=\"note\">", f);
            tq_report_html_text(f, r->store_note);
            fputs("</p>\n", f);
        }
    }
    facts(f, r);
    if (r->have_store) {
        states_bar(f, r);
        fputs("<div class=\"grid\">\n", f);
        reasons(f, r);
        offices(f, r);
        fputs("</div>\n", f);
        ages(f, r);
    }
    throughput(f, r);
    for (int i = 0; r->have_lists && i < TQ_LIST_COUNT; i++)
        list_table(f, r, i);
    fputs("</main>\n<footer>Written by thongquan. Times are Vietnam time (UTC+07:00); "
          "amounts are in đồng (VND).</footer>\n</body>\n</html>\n", f);
    return ferror(f) ? -1 : 0;
}

int tq_report_commit(tq_out *o, const tq_report *r, tq_diag *d)
{
    FILE *f = tq_out_fp(o);
    if (f == NULL) {
        tq_out_rollback(o);
        return TQ_ERR_NOMEM;
    }
    /* a write error is kept in o->err and reported by the commit */
    if (tq_report_html_print(f, r) != 0 && o->err == 0)
        o->err = EIO;
    return tq_out_commit(o, d);
}

int tq_report_html_write(const tq_report *r, const char *path, tq_diag *d)
{
    tq_out o;
    int rc = tq_out_open(&o, path, 0, d);
    return rc != TQ_OK ? rc : tq_report_commit(&o, r, d);
}

int tq_report_open(const char *path, const char *title, tq_out *o, tq_report **r,
                   tq_diag *d)
{
    struct timespec now;
    clock_gettime(CLOCK_REALTIME, &now);
    *r = malloc(sizeof **r);
    if (*r == NULL)
        return TQ_ERR_NOMEM;
    tq_report_init(*r, title, (tq_instant){now.tv_sec, (uint32_t)now.tv_nsec});
    int rc = tq_out_open(o, path, 0, d);
    if (rc != TQ_OK) {
        free(*r);
        *r = NULL;
    }
    return rc;
}

void tq_report_close(tq_out *o, tq_report *r)
{
    if (o)
        tq_out_rollback(o);
    free(r);
}
