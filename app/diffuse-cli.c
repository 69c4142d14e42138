/* diffuse-cli.c — the command-line front end to the engine. */
#include "config.h"

#include <glib/gi18n.h>
#include <stdio.h>
#include <string.h>

#include "diffuse-cli.h"
#include "diffuse-locale.h"

typedef struct
{
  const char *name;
  int (*run) (int argc, char **argv);
  const char *summary;
} Command;

static const Command commands[] = {
  { "devices", diffuse_cli_devices, N_("List Vulkan devices and their capabilities") },
  { "tokenize", diffuse_cli_tokenize, N_("Print the CLIP token ids of a text") },
  { "inspect", diffuse_cli_inspect, N_("Describe a model file or folder") },
  { "generate", diffuse_cli_generate, N_("Make pictures from a prompt") },
  { "bench", diffuse_cli_bench, N_("Time the networks on a model or synthetic weights") },
};

int
diffuse_cli_fail (const char *message)
{
  g_printerr ("diffuse-cli: %s\n", message);
  return 1;
}

gboolean
diffuse_cli_parse (GOptionContext *context, int *argc, char ***argv)
{
  g_autoptr (GError) error = NULL;

  if (!g_option_context_parse (context, argc, argv, &error))
    {
      g_printerr ("diffuse-cli: %s\n", error->message);
      return FALSE;
    }
  return TRUE;
}

static void
usage (FILE *out)
{
  fprintf (out, "%s\n  diffuse-cli %s\n\n%s\n", _("Usage:"), _("COMMAND [OPTION…]"),
           _("Commands:"));
  for (size_t i = 0; i < G_N_ELEMENTS (commands); i++)
    fprintf (out, "  %-10s %s\n", commands[i].name, _(commands[i].summary));
  fprintf (out, "\n%s\n", _("Run “diffuse-cli COMMAND --help” for the options of a command."));
}

int
main (int argc, char **argv)
{
  diffuse_init_locale ();

  if (argc < 2)
    {
      usage (stderr);
      return 2;
    }
  if (strcmp (argv[1], "--help") == 0 || strcmp (argv[1], "-h") == 0
      || strcmp (argv[1], "help") == 0)
    {
      usage (stdout);
      return 0;
    }
  if (strcmp (argv[1], "--version") == 0)
    {
      printf ("diffuse-cli %s\n", PACKAGE_VERSION);
      return 0;
    }
  for (size_t i = 0; i < G_N_ELEMENTS (commands); i++)
    if (strcmp (argv[1], commands[i].name) == 0)
      return commands[i].run (argc - 1, argv + 1);

  g_printerr ("diffuse-cli: %s “%s”\n", _("unknown command"), argv[1]);
  usage (stderr);
  return 2;
}
