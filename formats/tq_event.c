/* tq_event.c - printable names for the event kinds, officer results and payment kinds
 * of tq_event.h: the one place that spells them. */
#include "tq_event.h"

#include <stddef.h>

const char *tq_ev_kind_name(int ev)
{
#define KIND_CASE(name, n) case TQ_EV_##name: return #name;
    switch (ev) { TQ_EV_KIND_LIST(KIND_CASE) }
#undef KIND_CASE
    return NULL;
}

const char *tq_payment_kind_name(int kind)
{
    switch (kind) {
    case TQ_PAY: return "PAY";
    case TQ_GUARANTEE: return "GUARANTEE";
    }
    return NULL;
}

const char *tq_officer_result_name(int result)
{
    switch (result) {
    case TQ_OFFICER_DOCS_OK: return "DOCS_OK";
    case TQ_OFFICER_INSPECT_OK: return "INSPECT_OK";
    case TQ_OFFICER_REJECT: return "REJECT";
    }
    return NULL;
}
