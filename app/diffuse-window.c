/* diffuse-window.c — the main window.  For now it greets the person and
 * shows the status of the engine; generation arrives with the app issue.
 * The window remembers its size in GSettings. */
#include "config.h"

#include <glib/gi18n.h>

#include "diffuse-window.h"

struct _DiffuseWindow
{
  AdwApplicationWindow parent_instance;

  /* template widgets */
  AdwStatusPage *status_page;
  GtkMenuButton *primary_menu_button;

  /* owned */
  GSettings *settings; /* NULL when the schema is not installed */
};

G_DEFINE_FINAL_TYPE (DiffuseWindow, diffuse_window, ADW_TYPE_APPLICATION_WINDOW)

/* Returns the app's settings, or NULL (with a warning) when the schema is
 * missing, so that a broken install shows a window instead of aborting. */
static GSettings *
load_settings (void)
{
  GSettingsSchemaSource *source = g_settings_schema_source_get_default ();
  g_autoptr (GSettingsSchema) schema = NULL;

  if (source != NULL)
    schema = g_settings_schema_source_lookup (source, APP_ID, TRUE);
  if (schema == NULL)
    {
      g_warning ("GSettings schema %s is not installed; settings will not be kept", APP_ID);
      return NULL;
    }
  return g_settings_new_full (schema, NULL, NULL);
}

static void
restore_window_state (DiffuseWindow *self)
{
  int width, height;

  if (self->settings == NULL)
    return;
  width = g_settings_get_int (self->settings, "window-width");
  height = g_settings_get_int (self->settings, "window-height");
  if (width > 0 && height > 0)
    gtk_window_set_default_size (GTK_WINDOW (self), width, height);
  if (g_settings_get_boolean (self->settings, "window-maximized"))
    gtk_window_maximize (GTK_WINDOW (self));
}

static void
save_window_state (DiffuseWindow *self)
{
  gboolean maximized = gtk_window_is_maximized (GTK_WINDOW (self));

  if (self->settings == NULL)
    return;
  /* A maximized window keeps the size it had before, to return to it. */
  if (!maximized)
    {
      int width, height;

      gtk_window_get_default_size (GTK_WINDOW (self), &width, &height);
      g_settings_set_int (self->settings, "window-width", width);
      g_settings_set_int (self->settings, "window-height", height);
    }
  g_settings_set_boolean (self->settings, "window-maximized", maximized);
}

static gboolean
diffuse_window_close_request (GtkWindow *window)
{
  save_window_state (DIFFUSE_WINDOW (window));
  return GTK_WINDOW_CLASS (diffuse_window_parent_class)->close_request (window);
}

static void
diffuse_window_dispose (GObject *object)
{
  DiffuseWindow *self = DIFFUSE_WINDOW (object);

  g_clear_object (&self->settings);
  G_OBJECT_CLASS (diffuse_window_parent_class)->dispose (object);
}

static void
diffuse_window_class_init (DiffuseWindowClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);
  GtkWidgetClass *widget_class = GTK_WIDGET_CLASS (klass);
  GtkWindowClass *window_class = GTK_WINDOW_CLASS (klass);

  object_class->dispose = diffuse_window_dispose;
  window_class->close_request = diffuse_window_close_request;

  gtk_widget_class_set_template_from_resource (widget_class,
                                               "/org/example/Diffuse/ui/diffuse-window.ui");
  gtk_widget_class_bind_template_child (widget_class, DiffuseWindow, status_page);
  gtk_widget_class_bind_template_child (widget_class, DiffuseWindow, primary_menu_button);
}

static void
diffuse_window_init (DiffuseWindow *self)
{
  gtk_widget_init_template (GTK_WIDGET (self));
  self->settings = load_settings ();
  restore_window_state (self);
}

DiffuseWindow *
diffuse_window_new (DiffuseApplication *app)
{
  return g_object_new (DIFFUSE_TYPE_WINDOW, "application", app, NULL);
}
