/* diffuse-cli-inspect.c — `diffuse-cli inspect`. */
#include "config.h"

#include <glib/gi18n.h>

#include "diffuse-cli.h"

int
diffuse_cli_inspect (int argc, char **argv)
{
  return diffuse_cli_fail (_("inspect is not available yet"));
}
