/*  tbctl: the operators' command-line tool (SPEC section 5). */
#include <stdio.h>
#include <string.h>
#include <zmq.h>

#include "tb_log.h"
#include "tbctl.h"

typedef struct {
    const char *name;
    int (*fn)(tbctl_t *t);
} s_command_t;

static const s_command_t s_commands[] = {
    {"submit", tbctl_cmd_submit},
    {"get", tbctl_cmd_get},
    {"history", tbctl_cmd_history},
    {"list", tbctl_cmd_list},
    {"publish", tbctl_cmd_transition},
    {"reject", tbctl_cmd_transition},
    {"withdraw", tbctl_cmd_transition},
    {"negotiate", tbctl_cmd_transition},
    {"agree", tbctl_cmd_transition},
    {"reopen", tbctl_cmd_transition},
    {"renew", tbctl_cmd_transition},
    {"edit", tbctl_cmd_edit},
    {"matches", tbctl_cmd_matches},
    {"accept", tbctl_cmd_decide},
    {"decline", tbctl_cmd_decide},
    {"close", tbctl_cmd_decide},
    {"notifications", tbctl_cmd_notifications},
    {"ack", tbctl_cmd_ack},
    {"watch", tbctl_cmd_watch},
    {"health", tbctl_cmd_health},
    {"keygen", tbctl_cmd_keygen},
    {"thesaurus", tbctl_cmd_thesaurus},
};

static const s_command_t *s_find(const char *name)
{
    for (size_t i = 0; i < sizeof s_commands / sizeof s_commands[0]; i++)
        if (strcmp(s_commands[i].name, name) == 0)
            return &s_commands[i];
    return NULL;
}

int main(int argc, char **argv)
{
    tbctl_t t;
    memset(&t, 0, sizeof t);
    if (tbctl_args_parse(&t, argc, argv) != 0)
        return TBCTL_EXIT_USAGE;
    if (t.help) {
        tbctl_print_help();
        return TBCTL_EXIT_OK;
    }
    if (!t.cmd)
        return tbctl_usage_error("no command given", NULL);
    const s_command_t *cmd = s_find(t.cmd);
    if (!cmd)
        return tbctl_usage_error("unknown command", t.cmd);
    /* common/ logs on stderr; keep tbctl's stderr for its own messages */
    tb_log_setup("tbctl", "error", "text");
    if (cmd->fn != tbctl_cmd_keygen) {
        int src = tbctl_security_init(&t);
        if (src != TBCTL_EXIT_OK)
            return src;
    }
    t.zmq_ctx = zmq_ctx_new();
    if (!t.zmq_ctx) {
        fputs("tbctl: INTERNAL: cannot create a ZeroMQ context\n", stderr);
        return TBCTL_EXIT_UNAVAILABLE;
    }
    int rc = cmd->fn(&t);
    fflush(stdout);
    zmq_ctx_term(t.zmq_ctx);
    return rc;
}
