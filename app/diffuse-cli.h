/* diffuse-cli.h — the subcommands of diffuse-cli, one file each. */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

/* Each takes the arguments after the subcommand name (argv[0] is the
 * subcommand) and returns the process exit status: 0 on success, 1 on a
 * refused input or failure (after printing one line to stderr), 2 on a
 * usage error. */
int diffuse_cli_devices (int argc, char **argv);
int diffuse_cli_tokenize (int argc, char **argv);
int diffuse_cli_inspect (int argc, char **argv);
int diffuse_cli_generate (int argc, char **argv);
int diffuse_cli_bench (int argc, char **argv);

/* Prints "diffuse-cli: MESSAGE" to stderr and returns 1. */
int diffuse_cli_fail (const char *message);
/* Parses options for one subcommand; on error prints it and returns FALSE. */
gboolean diffuse_cli_parse (GOptionContext *context, int *argc, char ***argv);

G_END_DECLS
