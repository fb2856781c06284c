/* gen_model.c - the declaration model of the synthetic backlog (bench/gen/): the tables
 * it draws from (kinds, offices, agencies, HS codes), the names it makes (tax ids,
 * permit and officer numbers), the permit pool and permits.csv, and one declaration's
 * DECL from its own random stream.  The shares of the mix are in gen_int.h. */
#include <stdlib.h>
#include <string.h>

#include "gen_int.h"

/* ---- tables ------------------------------------------------------------------- */

/* Declaration kinds and their weights per mille (import A.., export B.., processing
 * E.., temporary G.., others). */
static const struct {
    char code[4];
    uint16_t weight;
} k_kinds[] = {
    {"A11", 400}, {"A12", 120}, {"A31", 20}, {"A41", 30}, {"B11", 120},
    {"B13", 10},  {"C11", 20},  {"E11", 30}, {"E21", 40}, {"E31", 80},
    {"E52", 30},  {"G11", 20},  {"G12", 20}, {"G13", 20}, {"G51", 40},
};
#define NKINDS (sizeof k_kinds / sizeof k_kinds[0])

static const char k_offices[][5] = {
    "01B1", "01B3", "01NV", "01PR", "01SI", "02B1", "02CI", "02CC", "02IK", "03CE", "03CC",
    "03TG", "18A3", "18B1", "20BC", "27NJ", "34CE", "43IH", "43NF", "47D1", "51CB", "60BS",
};
_Static_assert(sizeof k_offices / sizeof k_offices[0] == NOFFICES, "NOFFICES in gen_int.h");

static const char *const k_agencies[] = {
    "BCT", "BYT", "BNNPTNT", "BTTTT", "BKHCN", "BQP", "BCA", "NHNN", "BTNMT", "BGTVT", "BXD",
};
#define NAGENCIES (sizeof k_agencies / sizeof k_agencies[0])

static const char k_seps[4] = {'-', '.', '/', '_'};


/* HS codes of goods that move through Vietnamese customs every day. */
static const char k_hs[][9] = {
    "85171300", "84713020", "84714100", "85423100", "30049099", "30021500", "38089290",
    "04022190", "03061711", "02071400", "10063099", "12019000", "23040090", "27101944",
    "27101224", "72085100", "72104912", "39269099", "39011092", "61091010", "64039990",
    "87032363", "87089980", "90181900", "94036090", "85076090", "29420000", "28151100",
    "31052000", "44071100", "52010000", "08045020", "22030010", "24022090", "33049930",
    "73269099", "84151010", "85287292", "95030099", "15119037",
};
_Static_assert(sizeof k_hs / sizeof k_hs[0] == NHS, "NHS in gen_int.h");

/* ---- names -------------------------------------------------------------------- */

/* Importer i's tax id.  The 8 digits after the province are i * 7919 + off modulo 10^8,
 * a bijection (7919 is prime to 10), so ids are distinct without a table.  About one
 * importer in eight files under a branch's 13-digit id. */
static void fmt_taxid(const gen *g, uint64_t i, char out[TQ_TAXID_MAX + 1], int flip)
{
    uint64_t h = i * 0x9E3779B97F4A7C15ULL;
    int branch = (h >> 61) == 0;
    char *p = put2(out, (unsigned)(1 + i % 96));
    p = put_u64w(p, (i * 7919 + g->tax_off) % 100000000ULL, 8);
    if (branch != flip)   /* flip: the same company under its other form of id */
        p = put_u64w(p, 1 + (h >> 40) % 30, 3);
    *p = '\0';
}

static void fmt_permit_no(char out[TQ_PERMIT_MAX + 1], unsigned agency, unsigned sep,
                          uint64_t serial)
{
    char *p = put_str(out, k_agencies[agency]);
    *p++ = k_seps[sep];
    p = put_str(p, "2024");
    *p++ = k_seps[sep];
    p = put_u64w(p, serial, 6);
    *p = '\0';
}


void gen_fmt_officer(char out[TQ_OFFICER_MAX + 1], unsigned office, unsigned badge)
{
    char *p = put_str(out, "HQ");
    p = put_str(p, k_offices[office]);
    *p++ = '-';
    p = put_u64w(p, badge, 4);
    *p = '\0';
}

/* ---- the permit pool ---------------------------------------------------------- */

static inline uint64_t skewed(uint64_t x, uint64_t n)
{
    /* u^2 for u uniform in [0,1): low indices are popular, as big importers are */
    uint64_t u = x >> 32;
    return bounded((u * u) >> 32 << 32, n);
}

static inline int is_hot(const gen *g, uint32_t p)
{
    return p % g->hot_stride == 0 && p / g->hot_stride < g->nhot;
}

static unsigned draw_prefix_len(gen *g)
{
    uint32_t r = R_PPM(g);
    return r < 150000 ? 2 : r < 600000 ? 4 : r < 850000 ? 6 : 8;
}

/* One row of permits.csv.  older: an earlier version of a reissued permit (VALID,
 * half the quota), which the row after it replaces. */
static void write_permit_row(gen *g, uint32_t p, const gen_permit *pm, const uint8_t *cat,
                             const uint8_t *len, unsigned nprefix, uint64_t quota, int older)
{
    static const int64_t d2023_07_01 = 19539, d2024_01_01 = 19723, d2024_06_01 = 19875,
                         d2024_12_31 = 20088, d2025_05_31 = 20239;
    char row[GEN_ROW_MAX], *s = row;
    fmt_permit_no(s, pm->agency, pm->sep, (uint64_t)p + 1);
    s += strlen(s);
    *s++ = ',';
    s = put_str(s, k_agencies[pm->agency]);
    *s++ = ',';

    char holder[TQ_TAXID_MAX + 1];
    if (pm->cls == PC_HOLDER && R_PPM(g) < 300000) {
        fmt_taxid(g, pm->user, holder, 1);   /* same company, its other id: still wrong */
    } else if (pm->cls == PC_HOLDER) {
        uint64_t other = (pm->user + 1 + R_BELOW(g, g->ndeclarants - 1)) % g->ndeclarants;
        fmt_taxid(g, other, holder, 0);
    } else {
        fmt_taxid(g, pm->user, holder, 0);
    }
    s = put_str(s, holder);
    *s++ = ',';

    int64_t from, to;
    uint32_t r = R_PPM(g);
    if (pm->cls == PC_EXPIRED && r < 600000) {          /* ended before the backlog */
        from = d2023_07_01 + (int64_t)R_BELOW(g, 180);
        to = g->day0 - 1 - (int64_t)R_BELOW(g, 30);
    } else if (pm->cls == PC_EXPIRED) {                 /* starts after it */
        from = g->day1 + 1 + (int64_t)R_BELOW(g, 60);
        to = from + 90 + (int64_t)R_BELOW(g, 270);
    } else if (r < 700000) {
        from = d2024_01_01, to = d2024_12_31;
    } else if (r < 850000) {
        from = d2024_06_01, to = d2025_05_31;
    } else if (r < 950000) {
        from = g->day0 - (int64_t)R_BELOW(g, 90);
        to = g->day1 + (int64_t)R_BELOW(g, 180);
    } else {
        from = g->day0, to = g->day1;   /* exactly the backlog: both ends inclusive */
    }
    if (pm->cls != PC_EXPIRED) {       /* a permit meant valid covers every registration */
        if (from > g->day0)
            from = g->day0;
        if (to < g->day1)
            to = g->day1;
    }
    if (from > to)
        from = to;
    s = gen_put_date(s, from);
    *s++ = ',';
    s = gen_put_date(s, to);
    *s++ = ',';
    s = put_str(s, pm->cls == PC_REVOKED && !older ? "REVOKED" : "VALID");
    *s++ = ',';
    for (unsigned k = 0; k < nprefix; k++) {
        if (k > 0)
            *s++ = ';';
        memcpy(s, k_hs[cat[k]], len[k]);
        s += len[k];
    }
    *s++ = ',';
    s = put_u64(s, older && quota > 0 ? quota / 2 + 1 : quota);
    *s++ = '\n';
    gen_out_write(&g->per, row, (size_t)(s - row));
}

/* A permit's gen_permit_class: the hot ones by position, the others drawn (a draw is
 * made for the hot ones too, so the stream does not depend on which are hot). */
static uint8_t draw_class(gen *g, uint32_t p)
{
    uint32_t r = R_PPM(g);
    if (is_hot(g, p))
        return PC_HOT;
    return r < 120000 ? PC_QUOTA : r < 150000 ? PC_REVOKED : r < 190000 ? PC_EXPIRED
           : r < 220000 ? PC_HOLDER : r < 250000 ? PC_HSBAD : PC_VALID;
}

static int make_permits(gen *g, tq_diag *d)
{
    uint64_t P = g->n / 20;
    if (P < 50)
        P = 50;
    if (P > GEN_MAX_PERMITS)
        P = GEN_MAX_PERMITS;
    g->npermits = (uint32_t)P;
    g->nhot = 3 + g->npermits / 2000;
    g->hot_stride = g->npermits / g->nhot;   /* >= 16: each hot permit has its own group */
    g->permits = calloc(P, sizeof *g->permits);
    if (g->permits == NULL) {
        tq_diag_set(d, "(memory)", "cannot hold %u permits", g->npermits);
        return TQ_ERR_NOMEM;
    }

    /* Demand on one hot permit: the declarations naming a permit, the hot share of
     * those, spread over the hot permits.  Half of it will not fit. */
    uint64_t hot_decls = g->n * (P_HAS_PERMIT / 1000) / 1000 * (P_HOT / 1000) / 1000 / g->nhot;
    uint64_t hot_quota = hot_decls * HOT_QTY_PER_DECL / 2;
    if (hot_quota < 100)
        hot_quota = 100;

    static const char header[] =
        "permit_no,agency,holder,valid_from,valid_to,status,hs_prefixes,quota\n";
    gen_out_write(&g->per, header, sizeof header - 1);
    g->per.rows = 0;

    uint32_t user = 0;
    for (uint32_t p = 0; p < g->npermits; p++) {
        gen_permit *pm = &g->permits[p];
        if ((p & 3) == 0)   /* permits come in groups of four held by one importer */
            user = (uint32_t)skewed(xo_next(&g->rng), g->ndeclarants);
        pm->user = user;
        pm->cls = draw_class(g, p);
        pm->agency = (uint8_t)R_BELOW(g, NAGENCIES);
        pm->sep = (uint8_t)R_BELOW(g, 4);

        uint32_t r = R_PPM(g);
        unsigned nprefix = r < 600000 ? 1 : r < 850000 ? 2 : r < 950000 ? 3
                           : 4 + (unsigned)R_BELOW(g, TQ_PREFIXES_MAX - 3);
        uint8_t cat[TQ_PREFIXES_MAX], len[TQ_PREFIXES_MAX];
        for (unsigned k = 0; k < nprefix; k++) {
            cat[k] = (uint8_t)R_BELOW(g, NHS);
            len[k] = (uint8_t)draw_prefix_len(g);
            pm->chmask |= g->chap_mask[cat[k]];
        }
        pm->nuse = (uint8_t)(nprefix < 4 ? nprefix : 4);
        memcpy(pm->cat, cat, pm->nuse);
        memcpy(pm->len, len, pm->nuse);

        uint64_t quota = 0;
        if (pm->cls == PC_HOT)
            quota = hot_quota;
        else if (pm->cls == PC_QUOTA)
            quota = 200 + R_BELOW(g, 20000);
        else if (pm->cls == PC_REVOKED && R_PPM(g) < 300000)
            quota = 1000 + R_BELOW(g, 10000);

        if (pm->cls != PC_HOT && R_PPM(g) < P_REISSUE)
            write_permit_row(g, p, pm, cat, len, nprefix, quota, 1);
        write_permit_row(g, p, pm, cat, len, nprefix, quota, 0);
    }
    return TQ_OK;
}

/* ---- declarations ------------------------------------------------------------- */

static uint32_t pick_permit(const gen *g, uint64_t *s)
{
    if (S_PPM(s) < P_HOT)
        return (uint32_t)S_BELOW(s, g->nhot) * g->hot_stride;
    return (uint32_t)skewed(splitmix64(s), g->npermits);
}

/* An HS code that starts with one of pm's prefixes. */
static void hs_matching(const gen_permit *pm, uint64_t *s, char hs[9])
{
    unsigned k = (unsigned)S_BELOW(s, pm->nuse), len = pm->len[k];
    memcpy(hs, k_hs[pm->cat[k]], 9);
    if (len < 8 && S_PPM(s) < 300000) {
        uint64_t x = splitmix64(s);
        for (unsigned i = len; i < 8; i++, x /= 10)
            hs[i] = (char)('0' + x % 10);
    }
}

/* An HS code of a chapter none of pm's prefixes is in; 0 if they cover every chapter. */
static int hs_mismatching(const gen_permit *pm, uint64_t *s, char hs[9])
{
    unsigned start = (unsigned)S_BELOW(s, NHS);
    for (unsigned i = 0; i < NHS; i++) {
        unsigned c = (start + i) % NHS;
        if (!(pm->chmask >> c & 1)) {
            memcpy(hs, k_hs[c], 9);
            return 1;
        }
    }
    return 0;
}

void gen_hs_any(uint64_t *s, char hs[9])
{
    memcpy(hs, k_hs[S_BELOW(s, NHS)], 9);
    if (S_PPM(s) < 300000) {
        uint64_t x = splitmix64(s);
        for (unsigned i = 4; i < 8; i++, x /= 10)
            hs[i] = (char)('0' + x % 10);
    }
}

/* qty and value of a line.  Lines under a permit move modest quantities (so hot quota
 * demand is predictable); other lines now and then move bulk goods, up to the 10^12
 * bound itself. */
void gen_fill_amounts(uint64_t *s, tq_line *ln, int permit_line)
{
    uint64_t qty;
    uint32_t r = S_PPM(s);
    if (permit_line || r < 950000)
        qty = 1 + S_BELOW(s, permit_line ? 2000 : 5000);
    else if (r < 995000)
        qty = 5000 + S_BELOW(s, 1000000);
    else if (r < 999900)
        qty = 1000000 + S_BELOW(s, 1000000000);
    else if (r < 999990)
        qty = 1000000000 + S_BELOW(s, TQ_QTY_MAX - 1000000000);
    else
        qty = TQ_QTY_MAX;
    ln->qty = qty;
    if (S_PPM(s) < 10000) {
        ln->value = 0;   /* free samples */
    } else {
        uint64_t v = qty * (1000 + S_BELOW(s, 5000000));   /* < 5.1e18: no overflow */
        ln->value = v > TQ_MONEY_MAX ? TQ_MONEY_MAX : v;
    }
}

/* The permit line i of a declaration naming permits names: an index into the pool,
 * -2 for a permit that does not exist (line 0 now and then, others a little more). */
static int64_t line_permit(const gen *g, uint64_t *s, unsigned i, uint32_t primary)
{
    int64_t q = -1;
    uint32_t r = S_PPM(s);
    if (i == 0)
        q = r < P_PRIMARY_MISSING ? -2 : (int64_t)primary;
    else if (r < P_LINE_SAME)
        q = primary;
    else if (r < P_LINE_SAME + P_LINE_SIBLING)
        q = (primary & ~3u) + S_BELOW(s, 4);
    else if (r < P_LINE_SAME + P_LINE_SIBLING + P_LINE_MISSING)
        q = -2;
    if (q >= (int64_t)g->npermits)
        q = primary;
    return q;
}

/* Fill line ln, which names permit q (an index, -2 missing, -1 none): its permit, HS
 * code and amounts.  @return 1 when the line has a defect no officer can fix (a permit
 * revoked, expired, of another holder, missing, or goods of another chapter). */
static int fill_line(const gen *g, uint64_t *s, tq_line *ln, int64_t q)
{
    int trouble = 0;
    if (q >= 0) {
        const gen_permit *pm = &g->permits[q];
        fmt_permit_no(ln->permit, pm->agency, pm->sep, (uint64_t)q + 1);
        uint32_t bad = pm->cls == PC_HSBAD ? 500000 : 5000;
        if (S_PPM(s) < bad && hs_mismatching(pm, s, ln->hs))
            trouble = 1;
        else
            hs_matching(pm, s, ln->hs);
        if (pm->cls == PC_REVOKED || pm->cls == PC_EXPIRED || pm->cls == PC_HOLDER)
            trouble = 1;
    } else if (q == -2) {
        /* serials above the pool's are never issued */
        fmt_permit_no(ln->permit, (unsigned)S_BELOW(s, NAGENCIES),
                      (unsigned)S_BELOW(s, 4), g->npermits + 1 + S_BELOW(s, g->npermits));
        gen_hs_any(s, ln->hs);
        trouble = 1;
    } else {
        ln->permit[0] = '\0';
        gen_hs_any(s, ln->hs);
    }
    gen_fill_amounts(s, ln, q >= 0);
    return trouble;
}

/* A declaration kind by the weights of k_kinds. */
static void draw_kind(uint64_t *s, char kind[4])
{
    uint32_t w = (uint32_t)S_BELOW(s, 1000), acc = 0;
    size_t k = 0;
    while (k + 1 < NKINDS && w >= acc + k_kinds[k].weight)
        acc += k_kinds[k++].weight;
    memcpy(kind, k_kinds[k].code, 4);
}

static uint8_t pay_fate(uint32_t r)
{
    return r < P_PAY_FULL ? PF_FULL
           : r < P_PAY_FULL + P_PAY_SHORT ? PF_SHORT
           : r < P_PAY_FULL + P_PAY_SHORT + P_PAY_GUAR ? PF_GUARANTEE
           : r < P_PAY_FULL + P_PAY_SHORT + P_PAY_GUAR + P_PAY_UNPAID ? PF_UNPAID
           : PF_ZERO;
}

static unsigned draw_nlines(uint64_t *s)
{
    uint32_t r = S_PPM(s);
    return r < 550000 ? 1 : r < 750000 ? 2 : r < 850000 ? 3
           : r < 930000 ? 4 + (unsigned)S_BELOW(s, 3)
           : r < 980000 ? 7 + (unsigned)S_BELOW(s, 9)
           : 16 + (unsigned)S_BELOW(s, TQ_LINES_MAX - 15);
}

/* The tax due on goods worth total: a rate of it, in whole thousands. */
static uint64_t decl_tax(uint64_t *s, uint8_t fate, uint64_t total)
{
    static const uint8_t rates[] = {1, 3, 5, 8, 10, 10, 15, 20};
    if (fate == PF_ZERO)
        return 0;
    uint64_t tax = total / 100 * rates[S_BELOW(s, sizeof rates)];   /* total <= 5e16 */
    tax -= tax % 1000;
    if (tax > TQ_MONEY_MAX)
        tax = TQ_MONEY_MAX;
    if (tax == 0)
        tax = 1000 * (1 + S_BELOW(s, 500));
    return tax;
}

/* Fill ev with declaration idx's DECL.  Its content comes from the declaration's own
 * stream only, so calling this again gives the same event. */
void gen_decl(const gen *g, uint64_t idx, uint64_t decl_no, int64_t reg_sec,
              tq_event *ev, gen_decl_info *info)
{
    uint64_t s = g->decl_key ^ (idx * 0xD1B54A32D192ED03ULL);
    ev->ev = TQ_EV_DECL;
    ev->has = TQ_HAS_TAX_DUE | TQ_HAS_LINES;
    ev->result = 0;
    ev->officer[0] = '\0';
    ev->cleared_at[0] = '\0';
    fmt_decl_no(ev->decl_no, decl_no);

    /* The permit first: its metadata is a likely cache miss, so fetch it early and do
     * the rest while it comes. */
    uint32_t primary = 0;
    int has_permit = S_PPM(&s) < P_HAS_PERMIT;
    if (has_permit) {
        primary = pick_permit(g, &s);
        __builtin_prefetch(&g->permits[primary]);
    }
    draw_kind(&s, ev->kind);
    unsigned office = (unsigned)S_BELOW(&s, NOFFICES);
    memcpy(ev->office, k_offices[office], 5);
    uint32_t r = S_PPM(&s);
    ev->channel = r < P_CH1 ? 1 : r < P_CH1 + P_CH2 ? 2 : 3;
    uint8_t fate = pay_fate(S_PPM(&s));

    /* Most registrations are stamped in Vietnam time; a few systems send UTC or Tokyo
     * time: the same instants, written so that a date cut from the text would be wrong
     * near midnight. */
    r = S_PPM(&s);
    gen_fmt_ts(ev->registered_at, reg_sec, r < 970000 ? 7 * 60 : r < 990000 ? -1 : 9 * 60);
    ev->registered.sec = reg_sec;
    ev->registered.nsec = 0;
    uint64_t declarant = has_permit ? g->permits[primary].user
                                    : skewed(splitmix64(&s), g->ndeclarants);
    fmt_taxid(g, declarant, ev->declarant, 0);

    unsigned nlines = draw_nlines(&s);
    ev->nlines = (uint16_t)nlines;
    uint64_t total = 0;
    int trouble = 0;
    for (unsigned i = 0; i < nlines; i++) {
        int64_t q = has_permit ? line_permit(g, &s, i, primary) : -1;
        trouble |= fill_line(g, &s, &ev->lines[i], q);
        total += ev->lines[i].value;
    }
    ev->tax_due = decl_tax(&s, fate, total);

    info->tax_due = ev->tax_due;
    info->channel = ev->channel;
    info->office = (uint8_t)office;
    info->fate = fate;
    info->trouble = (uint8_t)trouble;
}

/* ---- the start ---------------------------------------------------------------- */

int gen_setup(gen *g, const tq_gen_opts *opts, tq_diag *d)
{
    g->opts = opts;
    g->n = opts->declarations;
    xo_seed(&g->rng, opts->seed);
    g->decl_key = xo_next(&g->rng);
    g->tax_off = R_BELOW(g, 100000000);
    g->ndeclarants = g->n / 50 + 100;
    if (g->ndeclarants > GEN_MAX_DECLARANTS)
        g->ndeclarants = GEN_MAX_DECLARANTS;

    for (unsigned i = 0; i < NHS; i++)
        for (unsigned j = 0; j < NHS; j++)
            if (memcmp(k_hs[i], k_hs[j], 2) == 0)
                g->chap_mask[i] |= 1ULL << j;

    g->t0_sec = tq_days_from_civil(START_Y, START_M, START_D) * 86400 + START_SOD - VN_OFFSET_SEC;
    g->mean_gap_us = MAX_SPAN_US / (int64_t)g->n;
    if (g->mean_gap_us > MEAN_GAP_US)
        g->mean_gap_us = MEAN_GAP_US;
    g->day0 = vn_day(g->t0_sec);
    /* gaps are drawn from [0, 2 * mean]: the last registration cannot be later */
    g->day1 = vn_day(g->t0_sec + ((int64_t)g->n - 1) * 2 * g->mean_gap_us / 1000000);

    g->no_first = 100000000000ULL + 1000000 + R_BELOW(g, 9000000000ULL);
    g->no_next = g->no_first;
    return make_permits(g, d);
}
