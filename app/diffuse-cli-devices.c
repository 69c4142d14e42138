/* diffuse-cli-devices.c — `diffuse-cli devices`. */
#include "config.h"

#include <glib/gi18n.h>

#include "diffuse-cli.h"

int
diffuse_cli_devices (int argc, char **argv)
{
  return diffuse_cli_fail (_("devices is not available yet"));
}
