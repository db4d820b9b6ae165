/*  tbctl_keygen: makes a CURVE key pair file for a service, tbctl or an
    integration (docs/security.md). Prints only the public line. */
#include <jansson.h>
#include <stdio.h>

#include "tb_auth.h"
#include "tbctl.h"

int tbctl_cmd_keygen(tbctl_t *t)
{
    if (t->npos != 1)
        return tbctl_usage_error("keygen FILE",
                                 t->npos < 1 ? "missing argument" : "too many arguments");
    if (t->nopt > 0)
        return tbctl_usage_error("option not valid for keygen", t->opt_name[0]);
    const char *path = t->pos[0];
    char pub[41];
    if (tb_auth_keypair_write(path) != 0 || tb_auth_public_load(path, pub) != 0) {
        fprintf(stderr,
                "tbctl: keygen: cannot write a new key pair to %s (an existing "
                "file is never overwritten)\n",
                path);
        return TBCTL_EXIT_API;
    }
    if (t->json) {
        json_t *doc = json_pack("{s:s, s:s}", "file", path, "public", pub);
        json_dumpf(doc, stdout, JSON_INDENT(2) | JSON_SORT_KEYS);
        fputc('\n', stdout);
        json_decref(doc);
    } else {
        printf("public %s\n", pub);
    }
    return TBCTL_EXIT_OK;
}
