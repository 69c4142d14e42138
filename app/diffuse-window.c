/* diffuse-window.c — the main window.  For now it greets the person and
 * shows the status of the engine; generation arrives with the app issue. */
#include "config.h"

#include <glib/gi18n.h>

#include "diffuse-window.h"

struct _DiffuseWindow
{
  AdwApplicationWindow parent_instance;

  /* template widgets */
  AdwStatusPage *status_page;
};

G_DEFINE_FINAL_TYPE (DiffuseWindow, diffuse_window, ADW_TYPE_APPLICATION_WINDOW)

static void
diffuse_window_class_init (DiffuseWindowClass *klass)
{
  GtkWidgetClass *widget_class = GTK_WIDGET_CLASS (klass);

  gtk_widget_class_set_template_from_resource (widget_class,
                                               "/org/example/Diffuse/ui/diffuse-window.ui");
  gtk_widget_class_bind_template_child (widget_class, DiffuseWindow, status_page);
}

static void
diffuse_window_init (DiffuseWindow *self)
{
  gtk_widget_init_template (GTK_WIDGET (self));
}

DiffuseWindow *
diffuse_window_new (DiffuseApplication *app)
{
  return g_object_new (DIFFUSE_TYPE_WINDOW, "application", app, NULL);
}
