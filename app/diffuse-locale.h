/* diffuse-locale.h — the locale and the translations, set up first thing
 * in main() by both programs, the app and diffuse-cli.  Include it after
 * config.h (GETTEXT_PACKAGE, LOCALEDIR). */
#pragma once

#include <glib/gi18n.h>
#include <locale.h>

G_BEGIN_DECLS

static inline void
diffuse_init_locale (void)
{
  const char *localedir;

  setlocale (LC_ALL, "");
  /* DIFFUSE_LOCALEDIR lets tests use the translations of a DESTDIR install. */
  localedir = g_getenv ("DIFFUSE_LOCALEDIR");
  bindtextdomain (GETTEXT_PACKAGE, localedir != NULL ? localedir : LOCALEDIR);
  bind_textdomain_codeset (GETTEXT_PACKAGE, "UTF-8");
  textdomain (GETTEXT_PACKAGE);
}

G_END_DECLS
