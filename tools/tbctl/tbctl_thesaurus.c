/*  tbctl_thesaurus: `thesaurus check` validates thesaurus files with the
    same parser, analyser and index the services use, without any server;
    `thesaurus load` sends each file to tb-matching, which replaces that
    file's source in one transaction. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tb_thesaurus.h"
#include "tbctl.h"

/*  The whole of a file (malloc'd, NUL-terminated), or NULL (message printed). */
static char *s_read(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    if (!f) {
        fprintf(stderr, "tbctl: cannot open %s\n", path);
        return NULL;
    }
    size_t cap = 64 * 1024, n = 0;
    char *buf = malloc(cap + 1);
    for (size_t got; buf && (got = fread(buf + n, 1, cap - n, f)) > 0;) {
        n += got;
        if (n == cap) {
            char *p = cap < 64u * 1024 * 1024 ? realloc(buf, cap * 2 + 1) : NULL;
            if (!p) {
                free(buf);
                buf = NULL;
                fprintf(stderr, "tbctl: %s is too large\n", path);
                break;
            }
            buf = p;
            cap *= 2;
        }
    }
    fclose(f);
    if (buf) {
        buf[n] = '\0';
        *len = n;
    }
    return buf;
}

static int s_check(tbctl_t *t)
{
    int64_t min = 0;
    if (tbctl_opt_int(t, "min-concepts", 0, 1000000, &min) != 0)
        return TBCTL_EXIT_USAGE;
    tb_thesaurus_t *th = tb_thesaurus_new();
    tb_text_t *an = tb_text_new();
    if (!th || !an) {
        fprintf(stderr, "tbctl: cannot start the analyser (ICU data?)\n");
        tb_thesaurus_destroy(&th);
        tb_text_destroy(&an);
        return TBCTL_EXIT_API;
    }
    char *errors = NULL;
    int bad = 0;
    for (int i = 1; i < t->npos; i++) {
        size_t len = 0;
        char *text = s_read(t->pos[i], &len);
        const char *source;
        int rc =
            text ? tb_thesaurus_parse(th, text, len, t->pos[i], &source, &errors) : 1;
        bad += rc != 0;
        free(text);
    }
    if (tb_thesaurus_index(th, an, &errors) != 0)
        bad++;
    size_t labels[TB_LANG_COUNT] = {0}, n = tb_thesaurus_size(th);
    for (size_t i = 0; i < n; i++)
        for (int l = TB_LANG_EN; l < TB_LANG_COUNT; l++)
            labels[l] += tb_thesaurus_concept(th, i)->n_labels[l];
    if (errors)
        fputs(errors, stderr);
    printf("%zu concepts in %d file(s); labels: en %zu, ru %zu, be %zu, zh %zu\n", n,
           t->npos - 1, labels[TB_LANG_EN], labels[TB_LANG_RU], labels[TB_LANG_BE],
           labels[TB_LANG_ZH]);
    if ((int64_t)n < min) {
        fprintf(stderr, "tbctl: %zu concepts, fewer than --min-concepts %lld\n", n,
                (long long)min);
        bad++;
    }
    free(errors);
    tb_thesaurus_destroy(&th);
    tb_text_destroy(&an);
    return bad ? TBCTL_EXIT_API : TBCTL_EXIT_OK;
}

static int s_load(tbctl_t *t)
{
    int worst = TBCTL_EXIT_OK;
    for (int i = 1; i < t->npos; i++) {
        size_t len = 0;
        char *text = s_read(t->pos[i], &len);
        if (!text)
            return TBCTL_EXIT_USAGE;
        Techbridge__LoadThesaurus lt = TECHBRIDGE__LOAD_THESAURUS__INIT;
        lt.text = text;
        lt.file = (char *)t->pos[i];
        Techbridge__ApiRequest req = TECHBRIDGE__API_REQUEST__INIT;
        req.body_case = TECHBRIDGE__API_REQUEST__BODY_LOAD_THESAURUS;
        req.load_thesaurus = &lt;
        tb_arena_t *arena = tb_arena_new(TBCTL_MAX_REPLY);
        Techbridge__ApiReply *reply = NULL;
        int rc = tbctl_call(t, TBCTL_MATCHING, &req, arena, &reply, false);
        if (rc == TBCTL_EXIT_OK && t->json)
            rc = tbctl_print_json_reply(reply);
        else if (rc == TBCTL_EXIT_OK && reply->thesaurus)
            printf("%s: source %s, %d concepts (all sources: %d, version %lld)\n",
                   t->pos[i], reply->thesaurus->source, reply->thesaurus->concepts,
                   reply->thesaurus->total_concepts,
                   (long long)reply->thesaurus->version);
        tb_arena_destroy(&arena);
        free(text);
        if (rc != TBCTL_EXIT_OK)
            worst = rc;
    }
    return worst;
}

int tbctl_cmd_thesaurus(tbctl_t *t)
{
    if (t->npos < 2 || (strcmp(t->pos[0], "check") && strcmp(t->pos[0], "load")))
        return tbctl_usage_error("thesaurus check|load FILE...", NULL);
    for (int i = 0; i < t->nopt; i++)
        if (strcmp(t->opt_name[i], "min-concepts") != 0 || t->pos[0][0] != 'c')
            return tbctl_usage_error("option not valid for this command", t->opt_name[i]);
    return t->pos[0][0] == 'c' ? s_check(t) : s_load(t);
}
