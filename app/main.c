/* main.c — sets up the locale and runs the application. */
#include "config.h"

#include <glib/gi18n.h>
#include <locale.h>

#include "diffuse-application.h"

int
main (int argc, char **argv)
{
  g_autoptr (DiffuseApplication) app = NULL;
  const char *localedir;

  setlocale (LC_ALL, "");
  /* DIFFUSE_LOCALEDIR lets tests use the translations of a DESTDIR install. */
  localedir = g_getenv ("DIFFUSE_LOCALEDIR");
  bindtextdomain (GETTEXT_PACKAGE, localedir != NULL ? localedir : LOCALEDIR);
  bind_textdomain_codeset (GETTEXT_PACKAGE, "UTF-8");
  textdomain (GETTEXT_PACKAGE);

  app = diffuse_application_new ();
  return g_application_run (G_APPLICATION (app), argc, argv);
}
