/* diffuse-cli-tokenize.c — `diffuse-cli tokenize`. */
#include "config.h"

#include <glib/gi18n.h>

#include "diffuse-cli.h"

int
diffuse_cli_tokenize (int argc, char **argv)
{
  return diffuse_cli_fail (_("tokenize is not available yet"));
}
