/* main.c — sets up the locale and runs the application. */
#include "config.h"

#include "diffuse-application.h"
#include "diffuse-locale.h"

int
main (int argc, char **argv)
{
  g_autoptr (DiffuseApplication) app = NULL;

  diffuse_init_locale ();

  app = diffuse_application_new ();
  return g_application_run (G_APPLICATION (app), argc, argv);
}
