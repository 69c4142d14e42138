/* diffuse-application.c — the AdwApplication: app-wide actions and the
 * main window. */
#include "config.h"

#include <glib/gi18n.h>

#include "diffuse-application.h"
#include "diffuse-window.h"

struct _DiffuseApplication
{
  AdwApplication parent_instance;
};

G_DEFINE_FINAL_TYPE (DiffuseApplication, diffuse_application, ADW_TYPE_APPLICATION)

static void
diffuse_application_activate (GApplication *app)
{
  GtkWindow *window = gtk_application_get_active_window (GTK_APPLICATION (app));

  if (window == NULL)
    window = GTK_WINDOW (diffuse_window_new (DIFFUSE_APPLICATION (app)));
  gtk_window_present (window);
}

static void
quit_activated (GSimpleAction *action, GVariant *parameter, gpointer user_data)
{
  g_application_quit (G_APPLICATION (user_data));
}

static void
about_activated (GSimpleAction *action, GVariant *parameter, gpointer user_data)
{
  static const char *developers[] = { "The Diffuse developers", NULL };
  GtkWindow *parent = gtk_application_get_active_window (GTK_APPLICATION (user_data));
  GtkWidget *about;

  about = g_object_new (ADW_TYPE_ABOUT_WINDOW,
                        "transient-for", parent,
                        "modal", TRUE,
                        "application-icon", APP_ID,
                        "application-name", _("Diffuse"),
                        "developer-name", _("The Diffuse developers"),
                        "version", PACKAGE_VERSION,
                        "comments", _("Create pictures from text with Stable Diffusion on your "
                                      "own GPU."),
                        "website", "https://example.org/diffuse",
                        "issue-url", "https://example.org/diffuse/issues",
                        "license-type", GTK_LICENSE_MIT_X11,
                        "copyright", "© 2026 The Diffuse developers",
                        "developers", developers,
                        /* Translators: Put your names here, one per line. */
                        "translator-credits", _("translator-credits"),
                        NULL);
  gtk_window_present (GTK_WINDOW (about));
}

static const GActionEntry app_actions[] = {
  { "about", about_activated, NULL, NULL, NULL, { 0 } },
  { "quit", quit_activated, NULL, NULL, NULL, { 0 } },
};

static void
diffuse_application_startup (GApplication *app)
{
  static const char *quit_accels[] = { "<Control>q", NULL };

  G_APPLICATION_CLASS (diffuse_application_parent_class)->startup (app);
  g_action_map_add_action_entries (G_ACTION_MAP (app), app_actions, G_N_ELEMENTS (app_actions),
                                   app);
  gtk_application_set_accels_for_action (GTK_APPLICATION (app), "app.quit", quit_accels);
}

static void
diffuse_application_class_init (DiffuseApplicationClass *klass)
{
  GApplicationClass *app_class = G_APPLICATION_CLASS (klass);

  app_class->activate = diffuse_application_activate;
  app_class->startup = diffuse_application_startup;
}

static void
diffuse_application_init (DiffuseApplication *self)
{
}

DiffuseApplication *
diffuse_application_new (void)
{
  return g_object_new (DIFFUSE_TYPE_APPLICATION, "application-id", APP_ID, "flags",
                       G_APPLICATION_DEFAULT_FLAGS, "resource-base-path",
                       "/org/example/Diffuse", NULL);
}
