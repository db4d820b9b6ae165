/*  tb-matching end to end: real tb-intake and tb-matching on a fresh database.
    Publish -> a match with reasons; edit -> re-scored; withdraw -> retired;
    decisions; a request published while matching is down; and exactly-once
    matching across SIGKILLs while 1,000 requests are published. */
#include "intake_fixture.h"

#include <math.h>
#include <signal.h>

#include "matching_score.h"

#include "matching_fixture.h"

#define setup    mx_setup
#define teardown mx_teardown

static char *sql_text(const char *fmt, const char *a)
{
    return tb_arena_printf(g_arena, fmt, a);
}

Test(matching, publish_offer_and_need_gives_a_match_with_reasons, .init = setup,
     .fini = teardown, .timeout = 120)
{
    SKIP_NO_MATCHING();
    fx_start_intake(NULL);
    start_matching();
    Techbridge__Request *offer = publish(fx_load("offer_cn.json", NULL));
    Techbridge__Request *need = publish(fx_load("need_by.json", NULL));
    wait_sql("SELECT count(*) FROM matching_matches WHERE status = 1", 1, 30000);

    Techbridge__ApiReply *reply = m_list(need->id, NULL);
    fx_expect_ok(reply);
    cr_assert_eq(reply->result_case, TECHBRIDGE__API_REPLY__RESULT_MATCHES);
    cr_assert_eq(reply->matches->n_matches, 1);
    Techbridge__Match *m = reply->matches->matches[0];
    cr_assert_str_eq(m->offer_id, offer->id);
    cr_assert_str_eq(m->need_id, need->id);
    cr_assert_eq(m->status, TECHBRIDGE__MATCH_STATUS__PROPOSED);
    cr_assert_geq(m->score, 0.35);
    cr_assert_leq(m->score, 1.0);
    cr_assert_eq(m->n_reasons, 5);
    double sum = 0;
    bool text_has_terms = false;
    for (size_t i = 0; i < m->n_reasons; i++) {
        sum += m->reasons[i]->contribution;
        if (strcmp(m->reasons[i]->component, "text") == 0)
            text_has_terms = m->reasons[i]->n_shared_terms > 0;
        if (strcmp(m->reasons[i]->component, "sector") == 0)
            cr_assert_float_eq(m->reasons[i]->value, 1.0, 1e-9, "both are woodworking");
    }
    cr_assert(text_has_terms, "shared terms (lumber, dri, kiln ...) expected");
    cr_assert_float_eq(sum, m->score, 1e-3);
    cr_assert_str_eq(m->offer->org->id, "cn.jiangsu-hengtai");
    cr_assert_str_eq(m->need->contact->email, "a.kavalchuk@gomeldrev.by");
    cr_assert_eq(fx_count("SELECT count(*) FROM feed_events WHERE stream = 'matches' "
                          "AND type = 10"),
                 1);
    /*  Both keep the idf totals retrieval ranks an offer's candidates by. */
    cr_assert_eq(fx_count("SELECT count(*) FROM matching_requests WHERE status = 2 "
                          "AND idf_words > 0"),
                 2);

    /*  Organisations see their own matches only, and do not decide. */
    fx_expect_ok(m_list(need->id, "by.gomeldrev"));
    fx_expect_code(m_list(need->id, "other.org"), PERMISSION_DENIED);
    fx_expect_ok(m_get(m->id, "cn.jiangsu-hengtai"));
    fx_expect_code(m_get(m->id, "other.org"), NOT_FOUND);
    fx_expect_code(m_decide(m->id, TECHBRIDGE__MATCH_ACTION__ACCEPT, 0, "by.gomeldrev"),
                   PERMISSION_DENIED);
    fx_expect_code(m_decide(m->id, TECHBRIDGE__MATCH_ACTION__CLOSE, 0, NULL),
                   FAILED_PRECONDITION);
    fx_expect_code(m_decide(m->id, TECHBRIDGE__MATCH_ACTION__ACCEPT, 7, NULL), ABORTED);
    reply = m_decide(m->id, TECHBRIDGE__MATCH_ACTION__ACCEPT, m->version, NULL);
    fx_expect_ok(reply);
    cr_assert_eq(reply->match->status, TECHBRIDGE__MATCH_STATUS__ACCEPTED);
    cr_assert_eq(reply->match->version, m->version + 1);
    cr_assert_str_eq(reply->match->reason, "test decision");
    cr_assert_eq(fx_count("SELECT count(*) FROM feed_events WHERE stream = 'matches' "
                          "AND type = 12"),
                 1);
    fx_expect_code(m_decide(m->id, TECHBRIDGE__MATCH_ACTION__DECLINE, 0, NULL),
                   FAILED_PRECONDITION);
    reply = m_decide(m->id, TECHBRIDGE__MATCH_ACTION__CLOSE, 0, NULL);
    fx_expect_ok(reply);
    cr_assert_eq(reply->match->status, TECHBRIDGE__MATCH_STATUS__CLOSED);
}

Test(matching, edit_rescores_and_withdraw_retires, .init = setup, .fini = teardown,
     .timeout = 120)
{
    SKIP_NO_MATCHING();
    fx_start_intake(NULL);
    start_matching();
    Techbridge__Request *offer = publish(fx_load("offer_cn.json", NULL));
    Techbridge__Request *need = publish(fx_load("need_by.json", NULL));
    wait_sql("SELECT count(*) FROM matching_matches WHERE status = 1", 1, 30000);
    double before = 0;
    {
        Techbridge__ApiReply *reply = m_list(need->id, NULL);
        fx_expect_ok(reply);
        before = reply->matches->matches[0]->score;
    }

    /*  The need now names the offer's own keywords: the text score rises. */
    Techbridge__Request *changes = fx_load("need_by.json", NULL);
    static char *kw[] = {"lumber drying", "vacuum kiln", "heat pump", "hardwood",
                         "energy saving"};
    changes->keywords = kw;
    changes->n_keywords = 5;
    Techbridge__EditRequest *e =
        TB_PB_NEW(g_arena, Techbridge__EditRequest, techbridge__edit_request__descriptor);
    e->id = need->id;
    e->version = need->version;
    e->changes = changes;
    static char *fields[] = {"keywords"};
    e->fields = fields;
    e->n_fields = 1;
    Techbridge__ApiRequest req = TECHBRIDGE__API_REQUEST__INIT;
    req.body_case = TECHBRIDGE__API_REQUEST__BODY_EDIT;
    req.edit = e;
    fx_expect_ok(fx_call(&req, NULL));
    wait_sql("SELECT count(*) FROM matching_matches WHERE status = 1 AND version = 2", 1,
             30000);
    Techbridge__ApiReply *reply = m_list(need->id, NULL);
    fx_expect_ok(reply);
    cr_assert_gt(reply->matches->matches[0]->score, before);
    cr_assert_eq(fx_count("SELECT count(*) FROM matching_matches"), 1, "stored once");
    cr_assert_eq(fx_count("SELECT count(*) FROM feed_events WHERE stream = 'matches' "
                          "AND type = 11"),
                 1);

    /*  The offer is withdrawn: its open match retires. */
    fx_act(offer->id, TECHBRIDGE__ACTION__WITHDRAW);
    wait_sql("SELECT count(*) FROM matching_matches WHERE status = 5", 1, 30000);
    cr_assert_eq(fx_count("SELECT count(*) FROM feed_events WHERE stream = 'matches' "
                          "AND type = 15"),
                 1);
    cr_assert_eq(fx_count("SELECT published FROM matching_corpus"), 1);
}

Test(matching, a_request_published_while_matching_is_down_is_matched_later, .init = setup,
     .fini = teardown, .timeout = 120)
{
    SKIP_NO_MATCHING();
    fx_start_intake(NULL);
    start_matching();
    publish(fx_load("offer_cn.json", NULL));
    wait_caught_up(30000);
    tb_test_proc_kill(&g_matching);
    Techbridge__Request *need = publish(fx_load("need_by.json", NULL));
    cr_assert_eq(fx_count("SELECT count(*) FROM matching_matches"), 0);
    start_matching();
    wait_sql(
        sql_text("SELECT count(*) FROM matching_matches WHERE need_id = '%s'", need->id),
        1, 30000);
}

/* ---- a storm: 1,000 requests, matching SIGKILLed along the way ---- */

static const char *const s_sectors[] = {"mechanical_engineering",
                                        "woodworking",
                                        "chemical_production",
                                        "information_technology",
                                        "digitalization",
                                        "green_economy",
                                        "transport",
                                        "energy",
                                        "materials",
                                        "agriculture"};
static const char *const s_words[] = {
    "drying",  "kiln",      "catalyst",   "polymer",    "sensor",     "robot",
    "turbine", "biogas",    "solar",      "battery",    "welding",    "laser",
    "coating", "ceramic",   "logging",    "software",   "platform",   "vision",
    "pump",    "valve",     "fertiliser", "greenhouse", "irrigation", "composite",
    "alloy",   "recycling", "membrane",   "filter"};
static const char *const s_countries[] = {"CN", "BY", "KZ", "UZ", "RU"};

static unsigned s_rand(unsigned *s)
{
    *s = *s * 1103515245u + 12345u;
    return (*s >> 16) & 0x7fff;
}

static Techbridge__Request *s_generated(int i, unsigned *seed)
{
    tb_arena_t *a = g_arena;
    Techbridge__Request *r =
        TB_PB_NEW(a, Techbridge__Request, techbridge__request__descriptor);
    Techbridge__Org *org = TB_PB_NEW(a, Techbridge__Org, techbridge__org__descriptor);
    Techbridge__Contact *ct =
        TB_PB_NEW(a, Techbridge__Contact, techbridge__contact__descriptor);
    r->kind = i % 2 ? TECHBRIDGE__KIND__NEED : TECHBRIDGE__KIND__OFFER;
    r->external_ref = tb_arena_printf(a, "storm-%d", i);
    org->id = tb_arena_printf(a, "org-%d", i % 300);
    org->name = tb_arena_printf(a, "Organisation %d", i % 300);
    org->country = (char *)s_countries[(i % 300) % 5];
    org->region = "Region";
    ct->name = "Contact Person";
    ct->email = tb_arena_printf(a, "c%d@example.org", i % 300);
    r->org = org;
    r->contact = ct;
    const char *w1 = s_words[s_rand(seed) % 28], *w2 = s_words[s_rand(seed) % 28],
               *w3 = s_words[s_rand(seed) % 28];
    r->title = tb_arena_printf(a, "%s %s for %s number %d", w1, w2, w3, i);
    r->summary = tb_arena_printf(a, "A %s and %s solution with %s.", w2, w3, w1);
    r->sector = (char *)s_sectors[s_rand(seed) % 10];
    r->keywords = tb_arena_alloc(a, 3 * sizeof(char *));
    r->keywords[0] = (char *)w1;
    r->n_keywords = 1;
    if (strcmp(w2, w1) != 0)
        r->keywords[r->n_keywords++] = (char *)w2;
    if (strcmp(w3, w1) != 0 && strcmp(w3, w2) != 0)
        r->keywords[r->n_keywords++] = (char *)w3;
    r->trl = 1 + (int)(s_rand(seed) % 9);
    r->cooperation = tb_arena_alloc(a, 2 * sizeof *r->cooperation);
    r->cooperation[0] = (Techbridge__Cooperation)(1 + s_rand(seed) % 7);
    r->n_cooperation = 1;
    if (r->kind == TECHBRIDGE__KIND__OFFER)
        r->ipr = TECHBRIDGE__IPR__KNOW_HOW;
    if (s_rand(seed) % 2) {
        r->target_countries = tb_arena_alloc(a, sizeof(char *));
        r->target_countries[0] = (char *)s_countries[s_rand(seed) % 5];
        r->n_target_countries = 1;
    }
    return r;
}

Test(matching, sigkill_during_1000_publishes_leaves_every_match_exactly_once,
     .init = setup, .fini = teardown, .timeout = 600)
{
    SKIP_NO_MATCHING();
    fx_start_intake(NULL);
    start_matching();
    unsigned seed = 42;
    int kills = 0;
    for (int i = 0; i < 1000; i++) {
        publish(s_generated(i, &seed));
        if (i % 200 == 100) {
            tb_test_proc_kill(&g_matching); /* SIGKILL, mid-stream */
            kills++;
            if (i % 400 == 100) /* sometimes it stays down for a while */
                for (int k = 0; k < 20; k++)
                    publish(s_generated(++i, &seed));
            start_matching();
        }
        if (i % 100 == 0)
            tb_arena_destroy(&g_arena), g_arena = tb_arena_new(0);
    }
    cr_assert_geq(kills, 4);
    wait_caught_up(300000);

    /*  Exactly once: a pair is stored once, document frequencies and N equal
        a recomputation from the projection (an event applied twice would have
        counted its terms twice). */
    cr_assert_gt(fx_count("SELECT count(*) FROM matching_matches"), 0);
    cr_assert_eq(fx_count("SELECT count(*) FROM (SELECT offer_id, need_id FROM "
                          "matching_matches GROUP BY 1, 2 HAVING count(*) > 1) d"),
                 0);
    cr_assert_eq(fx_count("SELECT count(*) FROM matching_requests WHERE status = 2"),
                 1000);
    cr_assert_eq(fx_count("SELECT published FROM matching_corpus"), 1000);
    cr_assert_eq(fx_count("SELECT count(*) FROM ("
                          " SELECT term, count(*)::int AS df FROM matching_requests, "
                          " unnest(terms) AS term WHERE status = 2 GROUP BY term"
                          " EXCEPT SELECT term, df FROM matching_terms WHERE df > 0) d"),
                 0);
    cr_assert_eq(fx_count("SELECT count(*) FROM (SELECT term, df FROM matching_terms "
                          "WHERE df > 0 EXCEPT SELECT term, count(*)::int FROM "
                          "matching_requests, unnest(terms) AS term WHERE status = 2 "
                          "GROUP BY term) d"),
                 0);
    /*  The set equals a recomputation: forget everything matching stored and
        replay the whole feed without interruption. */
    cr_assert_eq(tb_test_sql_exec(g_db, "CREATE TABLE run1 AS SELECT offer_id, need_id, "
                                        "score, status FROM matching_matches"),
                 0);
    tb_test_proc_stop(&g_matching, 5000);
    cr_assert_eq(tb_test_sql_exec(g_db, "TRUNCATE matching_requests, matching_terms, "
                                        "matching_matches"),
                 0);
    cr_assert_eq(tb_test_sql_exec(g_db, "UPDATE matching_corpus SET published = 0"), 0);
    cr_assert_eq(tb_test_sql_exec(g_db, "UPDATE feed_cursors SET last_seq = 0 "
                                        "WHERE consumer = 'matching'"),
                 0);
    start_matching();
    wait_caught_up(300000);
    cr_assert_eq(fx_count("SELECT count(*) FROM (SELECT offer_id, need_id, score, status "
                          "FROM matching_matches EXCEPT SELECT * FROM run1) d"),
                 0);
    cr_assert_eq(
        fx_count("SELECT count(*) FROM (SELECT * FROM run1 EXCEPT "
                 "SELECT offer_id, need_id, score, status FROM matching_matches) d"),
        0);
}

/*  The idf totals the database keeps for retrieval (migration 008) are the
    scorer's: the same idf per term (matching_idf), rounded per term to
    millionths as retrieval's query weights are, words and concepts apart, a
    term nobody holds counted as df 1. */
Test(matching, stored_idf_totals_are_the_scorers_idf, .init = setup, .fini = teardown,
     .timeout = 60)
{
    SKIP_NO_MATCHING();
    fx_start_intake(NULL); /* migrates */
    cr_assert_eq(tb_test_sql_exec(g_db, "INSERT INTO matching_terms (term, df) VALUES "
                                        "('kiln', 3), ('lumber', 40), ('#c1', 7), "
                                        "('#c2', 1000)"),
                 0);
    cr_assert_eq(tb_test_sql_exec(g_db, "UPDATE matching_corpus SET published = 1000"),
                 0);
    long long words = llround(1e6 * matching_idf(3, 1000)) +
                      llround(1e6 * matching_idf(40, 1000)) +
                      llround(1e6 * matching_idf(1, 1000)); /* 'unheard': df 0 */
    long long concepts =
        llround(1e6 * matching_idf(7, 1000)) + llround(1e6 * matching_idf(1000, 1000));
    cr_assert_eq(fx_count("SELECT matching_idf_total('{kiln,lumber,unheard,#c1,#c2}', "
                          "false)"),
                 words);
    cr_assert_eq(fx_count("SELECT matching_idf_total('{kiln,lumber,unheard,#c1,#c2}', "
                          "true)"),
                 concepts);
    cr_assert_eq(fx_count("SELECT matching_idf_total('{}', false)"), 0);
}
