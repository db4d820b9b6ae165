/*  tbctl_print: human-readable output on stdout. Data is printed with "%s",
    never used as a format. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tb_json.h"
#include "tbctl.h"

const char *tbctl_enum_name(const ProtobufCEnumDescriptor *desc, int value)
{
    const ProtobufCEnumValue *v = protobuf_c_enum_descriptor_get_value(desc, value);
    return v ? v->name : "?";
}

static const char *s_time(int64_t ms, char buf[32])
{
    if (ms <= 0)
        return "-";
    tb_json_format_time(ms, buf);
    return buf;
}

static const char *s_str(const char *s)
{
    return s && *s ? s : "-";
}

static void s_print_list(const char *label, char **items, size_t n)
{
    printf("%-13s", label);
    for (size_t i = 0; i < n; i++)
        printf("%s%s", i ? ", " : "", items[i]);
    printf("%s\n", n ? "" : "-");
}

static void s_print_party_lines(const Techbridge__Request *r)
{
    const Techbridge__Org *o = r->org;
    if (o)
        printf("%-13s%s (%s, %s, %s)\n", "org:", s_str(o->id), s_str(o->name),
               s_str(o->country), s_str(o->region));
    const Techbridge__Contact *c = r->contact;
    if (c)
        printf("%-13s%s <%s>%s%s\n", "contact:", s_str(c->name), s_str(c->email),
               c->phone && *c->phone ? " " : "", c->phone ? c->phone : "");
}

static void s_print_terms(const Techbridge__Request *r)
{
    printf("%-13s", "cooperation:");
    for (size_t i = 0; i < r->n_cooperation; i++)
        printf("%s%s", i ? ", " : "",
               tbctl_enum_name(&techbridge__cooperation__descriptor, r->cooperation[i]));
    printf("%s\n", r->n_cooperation ? "" : "-");
    if (r->ipr)
        printf("%-13s%s\n",
               "ipr:", tbctl_enum_name(&techbridge__ipr__descriptor, r->ipr));
    if (r->budget_usd) {
        printf("%-13s", "budget_usd:");
        if (r->budget_usd->min)
            printf("min %lld ", (long long)r->budget_usd->min->value);
        if (r->budget_usd->max)
            printf("max %lld", (long long)r->budget_usd->max->value);
        printf("\n");
    }
    if (r->n_target_countries)
        s_print_list("countries:", r->target_countries, r->n_target_countries);
}

void tbctl_print_request(const Techbridge__Request *r)
{
    char t1[32], t2[32], t3[32];
    printf("%-13s%s\n", "id:", s_str(r->id));
    printf("%-13s%s\n", "kind:", tbctl_enum_name(&techbridge__kind__descriptor, r->kind));
    printf("%-13s%s\n",
           "status:", tbctl_enum_name(&techbridge__status__descriptor, r->status));
    printf("%-13s%lld\n", "version:", (long long)r->version);
    printf("%-13s%s\n", "external_ref:", s_str(r->external_ref));
    printf("%-13s%s\n", "title:", s_str(r->title));
    printf("%-13s%s\n", "language:", r->language && *r->language ? r->language : "-");
    s_print_party_lines(r);
    printf("%-13s%s\n", "sector:", s_str(r->sector));
    s_print_list("keywords:", r->keywords, r->n_keywords);
    printf("%-13s%d\n", "trl:", (int)r->trl);
    s_print_terms(r);
    printf("%-13s%s%s\n", "expires:", s_time(r->expires_at, t1),
           r->renewed ? " (renewed)" : "");
    printf("%-13s%s\n", "created:", s_time(r->created_at, t2));
    printf("%-13s%s\n", "updated:", s_time(r->updated_at, t3));
    if (r->summary && *r->summary)
        printf("\n%s\n", r->summary);
}

void tbctl_print_request_result(const Techbridge__RequestResult *res)
{
    if (res->request)
        tbctl_print_request(res->request);
    if (res->possible_duplicate_of && *res->possible_duplicate_of)
        printf("\nnote: possible duplicate of %s\n", res->possible_duplicate_of);
}

/*  Truncates `s` to at most `max` bytes on a UTF-8 boundary, into `out`. */
static const char *s_clip(const char *s, size_t max, char *out, size_t cap)
{
    size_t n = strlen(s);
    if (n <= max || max + 4 > cap)
        return s;
    while (max > 0 && ((unsigned char)s[max] & 0xC0) == 0x80)
        max--;
    memcpy(out, s, max);
    memcpy(out + max, "...", 4);
    return out;
}

void tbctl_print_page(const Techbridge__RequestPage *page)
{
    char clip[128];
    printf("%-36s  %-5s  %-14s  %-22s  %-16s  %s\n", "ID", "KIND", "STATUS", "SECTOR",
           "ORG", "TITLE");
    for (size_t i = 0; i < page->n_requests; i++) {
        const Techbridge__Request *r = page->requests[i];
        printf("%-36s  %-5s  %-14s  %-22s  %-16s  %s\n", s_str(r->id),
               tbctl_enum_name(&techbridge__kind__descriptor, r->kind),
               tbctl_enum_name(&techbridge__status__descriptor, r->status),
               s_str(r->sector), r->org ? s_str(r->org->id) : "-",
               s_clip(s_str(r->title), 60, clip, sizeof clip));
        if (i < page->n_hits && page->hits[i]->found_by)
            printf("%-36s  found by %s\n", "", page->hits[i]->found_by);
    }
    printf("(%zu request(s))\n", page->n_requests);
    if (page->next_page_token && *page->next_page_token)
        printf("next page: --page-token %s\n", page->next_page_token);
}

void tbctl_print_history(const Techbridge__History *h)
{
    char ts[32];
    printf("history of %s\n", s_str(h->request_id));
    for (size_t i = 0; i < h->n_entries; i++) {
        const Techbridge__HistoryEntry *e = h->entries[i];
        printf("%s  v%-3lld %-9s %s -> %s  by %s", s_time(e->at, ts),
               (long long)e->version,
               tbctl_enum_name(&techbridge__action__descriptor, e->action),
               tbctl_enum_name(&techbridge__status__descriptor, e->from_status),
               tbctl_enum_name(&techbridge__status__descriptor, e->to_status),
               s_str(e->actor));
        if (e->reason && *e->reason)
            printf("  reason: %s", e->reason);
        printf("\n");
    }
}

static void s_print_reason(const Techbridge__ScoreReason *r)
{
    printf("    %-12s %.2f x %.2f = %.3f", s_str(r->component), r->weight, r->value,
           r->contribution);
    if (r->detail && *r->detail)
        printf("  %s", r->detail);
    for (size_t i = 0; i < r->n_shared_terms; i++)
        printf("%s%s", i ? ", " : "  [", r->shared_terms[i]);
    printf("%s\n", r->n_shared_terms ? "]" : "");
}

static void s_print_party(const char *label, const Techbridge__Party *p, const char *id)
{
    if (!p) {
        printf("  %-6s%s\n", label, s_str(id));
        return;
    }
    printf("  %-6s%s  %s  (%s)\n", label, s_str(p->request_id), s_str(p->title),
           p->org ? s_str(p->org->id) : "-");
}

void tbctl_print_match(const Techbridge__Match *m)
{
    printf("%.3f  %-8s  match %s  v%lld\n", m->score,
           tbctl_enum_name(&techbridge__match_status__descriptor, m->status),
           s_str(m->id), (long long)m->version);
    s_print_party("offer", m->offer, m->offer_id);
    s_print_party("need", m->need, m->need_id);
    for (size_t i = 0; i < m->n_reasons; i++)
        s_print_reason(m->reasons[i]);
    if (m->reason && *m->reason)
        printf("  decision reason: %s\n", m->reason);
}

static int s_by_score_desc(const void *a, const void *b)
{
    const Techbridge__Match *x = *(const Techbridge__Match *const *)a;
    const Techbridge__Match *y = *(const Techbridge__Match *const *)b;
    return (x->score < y->score) - (x->score > y->score);
}

void tbctl_print_matches(const Techbridge__MatchList *list)
{
    size_t n = list->n_matches;
    Techbridge__Match **sorted = calloc(n ? n : 1, sizeof *sorted);
    if (!sorted)
        return;
    memcpy(sorted, list->matches, n * sizeof *sorted);
    qsort(sorted, n, sizeof *sorted, s_by_score_desc);
    for (size_t i = 0; i < n; i++)
        tbctl_print_match(sorted[i]);
    printf("(%zu match(es))\n", n);
    free(sorted);
}

void tbctl_print_notification(const Techbridge__Notification *n)
{
    char ts[32];
    printf("#%-5lld %s  %-22s %s  %s\n", (long long)n->seq, s_time(n->created_at, ts),
           tbctl_enum_name(&techbridge__notification_kind__descriptor, n->kind),
           s_str(n->subject_id), s_str(n->text));
}

void tbctl_print_ack(const Techbridge__RecipientStats *s)
{
    printf("%s: last seq %lld, acknowledged %lld, unacknowledged %lld\n",
           s_str(s->recipient), (long long)s->last_seq, (long long)s->acked,
           (long long)s->unacked);
}

void tbctl_print_health(const char *name, const char *endpoint,
                        const Techbridge__HealthResult *h)
{
    if (!h) {
        printf("%-13s down      %s\n", name, endpoint);
        return;
    }
    printf("%-13s up        %s  database %s  uptime %llds  version %s\n", name, endpoint,
           h->database_ok ? "ok" : "DOWN", (long long)h->uptime_s, s_str(h->version));
    for (size_t i = 0; i < h->n_feeds; i++) {
        const Techbridge__FeedLag *f = h->feeds[i];
        printf("    feed %s <- %s: cursor %lld head %lld lag %lld\n", s_str(f->consumer),
               s_str(f->stream), (long long)f->cursor, (long long)f->head,
               (long long)f->lag);
    }
}
