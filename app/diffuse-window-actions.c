/* diffuse-window-actions.c — the window's actions (win.*), their
 * keyboard shortcuts, and the file choosers they open. */
#include "config.h"

#include <stdio.h>

#include "diffuse-preferences.h"
#include "diffuse-window-private.h"

/* --- errors ----------------------------------------------------------------------- */

static void
error_details_activated (GtkWidget *widget, const char *name, GVariant *parameter)
{
  diffuse_window_show_error_dialog (DIFFUSE_WINDOW (widget), _("What Went Wrong"),
                                    g_variant_get_string (parameter, NULL));
}

static void
reuse_from_toast (GtkWidget *widget, const char *name, GVariant *parameter)
{
  g_autoptr (GError) error = NULL;

  if (!diffuse_window_apply_params_from_file (DIFFUSE_WINDOW (widget),
                                              g_variant_get_string (parameter, NULL), &error))
    diffuse_window_show_error_toast (DIFFUSE_WINDOW (widget),
                                     _("The picture has no settings to reuse"), error);
}

/* --- file choosers -------------------------------------------------------------- */

static void
chooser_response (GtkNativeDialog *dialog, int response, gpointer user_data)
{
  g_autoptr (DiffuseWindow) self = user_data;
  DiffuseChosenFunc func = g_object_get_data (G_OBJECT (dialog), "func");

  if (response == GTK_RESPONSE_ACCEPT)
    {
      g_autoptr (GFile) file = gtk_file_chooser_get_file (GTK_FILE_CHOOSER (dialog));
      g_autofree char *path = g_file_get_path (file);

      if (path != NULL)
        func (self, path);
    }
  g_object_unref (dialog);
}

void
diffuse_window_choose_file (DiffuseWindow *self, const char *title, GtkFileChooserAction action,
                            const char *filter_name, const char *pattern, DiffuseChosenFunc func)
{
  GtkFileChooserNative *dialog =
      gtk_file_chooser_native_new (title, GTK_WINDOW (self), action, _("_Open"), _("_Cancel"));

  if (pattern != NULL)
    {
      GtkFileFilter *filter = gtk_file_filter_new ();

      gtk_file_filter_set_name (filter, filter_name);
      gtk_file_filter_add_pattern (filter, pattern);
      gtk_file_chooser_add_filter (GTK_FILE_CHOOSER (dialog), filter);
      g_object_unref (filter);
    }
  g_object_set_data (G_OBJECT (dialog), "func", func);
  gtk_native_dialog_set_modal (GTK_NATIVE_DIALOG (dialog), TRUE);
  g_signal_connect (dialog, "response", G_CALLBACK (chooser_response), g_object_ref (self));
  gtk_native_dialog_show (GTK_NATIVE_DIALOG (dialog));
}

static void
settings_chosen (DiffuseWindow *self, const char *path)
{
  g_autoptr (GError) error = NULL;

  if (!diffuse_window_apply_params_from_file (self, path, &error))
    diffuse_window_show_error_toast (self, _("The picture has no settings to reuse"), error);
}

static void
model_chosen (DiffuseWindow *self, const char *path)
{
  diffuse_window_load_model (self, path);
}

static void
open_settings_activated (GtkWidget *widget, const char *name, GVariant *parameter)
{
  diffuse_window_choose_file (DIFFUSE_WINDOW (widget), _("Reuse Settings From Picture"),
                              GTK_FILE_CHOOSER_ACTION_OPEN, _("PNG Images"), "*.png",
                              settings_chosen);
}

static void
open_model_activated (GtkWidget *widget, const char *name, GVariant *parameter)
{
  diffuse_window_choose_file (DIFFUSE_WINDOW (widget), _("Open Model File"),
                              GTK_FILE_CHOOSER_ACTION_OPEN, _("Safetensors Models"),
                              "*.safetensors", model_chosen);
}

static void
open_model_folder_activated (GtkWidget *widget, const char *name, GVariant *parameter)
{
  diffuse_window_choose_file (DIFFUSE_WINDOW (widget), _("Open Diffusers Folder"),
                              GTK_FILE_CHOOSER_ACTION_SELECT_FOLDER, NULL, NULL, model_chosen);
}

/* --- actions that call one window function ------------------------------------ */

typedef void (*DiffuseWindowFunc) (DiffuseWindow *self);

static const struct
{
  const char *name;
  DiffuseWindowFunc func;
} window_actions[] = {
  { "win.generate", diffuse_window_generate },
  { "win.cancel", diffuse_window_cancel },
  { "win.open-image", diffuse_window_open_image },
  { "win.paste", diffuse_window_paste },
  { "win.reset-settings", diffuse_window_apply_defaults },
  { "win.download-model", diffuse_window_download_model },
  { "win.download-cancel", diffuse_window_download_cancel },
};

static void
window_action_activated (GtkWidget *widget, const char *name, GVariant *parameter)
{
  for (guint i = 0; i < G_N_ELEMENTS (window_actions); i++)
    if (g_str_equal (name, window_actions[i].name))
      {
        window_actions[i].func (DIFFUSE_WINDOW (widget));
        return;
      }
}

/* --- small actions ---------------------------------------------------------------- */

static void
copy_seed_activated (GtkWidget *widget, const char *name, GVariant *parameter)
{
  DiffuseWindow *self = DIFFUSE_WINDOW (widget);
  g_autofree char *text = g_strdup_printf ("%.0f", gtk_spin_button_get_value (self->seed_spin));

  gdk_clipboard_set_text (gtk_widget_get_clipboard (widget), text);
  diffuse_window_show_toast (self, _("Seed copied"));
}

static void
size_preset_activated (GtkWidget *widget, const char *name, GVariant *parameter)
{
  DiffuseWindow *self = DIFFUSE_WINDOW (widget);
  int width, height;

  if (sscanf (g_variant_get_string (parameter, NULL), "%dx%d", &width, &height) == 2)
    {
      gtk_spin_button_set_value (self->width_spin, width);
      gtk_spin_button_set_value (self->height_spin, height);
    }
}

static void
preferences_activated (GtkWidget *widget, const char *name, GVariant *parameter)
{
  GtkWindow *preferences = diffuse_preferences_new (GTK_WINDOW (widget));

  gtk_window_present (preferences);
}

static void
mask_action_activated (GtkWidget *widget, const char *name, GVariant *parameter)
{
  DiffuseWindow *self = DIFFUSE_WINDOW (widget);

  if (g_str_equal (name, "win.mask-undo"))
    diffuse_canvas_undo (self->canvas);
  else if (g_str_equal (name, "win.mask-redo"))
    diffuse_canvas_redo (self->canvas);
  else if (g_str_equal (name, "win.mask-invert"))
    diffuse_canvas_invert_mask (self->canvas);
  else if (g_str_equal (name, "win.mask-clear"))
    diffuse_canvas_clear_mask (self->canvas);
  else if (g_str_equal (name, "win.zoom-fit"))
    diffuse_canvas_set_zoom (self->canvas, 0.0);
  else if (g_str_equal (name, "win.zoom-original"))
    diffuse_canvas_set_zoom (self->canvas, 1.0);
  else if (g_str_equal (name, "win.use-result") && self->result != NULL)
    diffuse_window_set_init_image (self, self->result);
  else if (g_str_equal (name, "win.remove-image"))
    diffuse_window_set_init_image (self, NULL);
  diffuse_window_update_canvas_state (self);
}

/* Grows the canvas by a quarter of its size, in multiples of 8. */
static void
extend_activated (GtkWidget *widget, const char *name, GVariant *parameter)
{
  DiffuseWindow *self = DIFFUSE_WINDOW (widget);
  const DfImage *image = diffuse_canvas_get_image (self->canvas);
  const char *side = g_variant_get_string (parameter, NULL);
  int grow_x, grow_y;
  g_autoptr (GError) error = NULL;
  gboolean ok;

  if (image == NULL && self->result != NULL)
    {
      diffuse_window_set_init_image (self, self->result);
      image = diffuse_canvas_get_image (self->canvas);
    }
  if (image == NULL)
    return;
  grow_x = MAX (8, image->width / 4 / 8 * 8);
  grow_y = MAX (8, image->height / 4 / 8 * 8);
  ok = diffuse_canvas_extend (self->canvas, g_str_equal (side, "left") ? grow_x : 0,
                              g_str_equal (side, "top") ? grow_y : 0,
                              g_str_equal (side, "right") ? grow_x : 0,
                              g_str_equal (side, "bottom") ? grow_y : 0, &error);
  if (!ok)
    {
      diffuse_window_show_error_toast (self, _("Could not extend the canvas"), error);
      return;
    }
  image = diffuse_canvas_get_image (self->canvas);
  gtk_spin_button_set_value (self->width_spin, image->width / 8 * 8);
  gtk_spin_button_set_value (self->height_spin, image->height / 8 * 8);
  diffuse_window_update_canvas_state (self);
}

void
diffuse_window_class_init_actions (GtkWidgetClass *widget_class)
{
  static const char *mask_actions[] = {
    "win.mask-undo", "win.mask-redo", "win.mask-invert", "win.mask-clear", "win.zoom-fit",
    "win.zoom-original", "win.use-result", "win.remove-image",
  };

  for (guint i = 0; i < G_N_ELEMENTS (window_actions); i++)
    gtk_widget_class_install_action (widget_class, window_actions[i].name, NULL,
                                     window_action_activated);
  gtk_widget_class_install_action (widget_class, "win.open-settings", NULL,
                                   open_settings_activated);
  gtk_widget_class_install_action (widget_class, "win.open-model", NULL, open_model_activated);
  gtk_widget_class_install_action (widget_class, "win.open-model-folder", NULL,
                                   open_model_folder_activated);
  gtk_widget_class_install_action (widget_class, "win.copy-seed", NULL, copy_seed_activated);
  gtk_widget_class_install_action (widget_class, "win.size-preset", "s", size_preset_activated);
  gtk_widget_class_install_action (widget_class, "win.preferences", NULL, preferences_activated);
  gtk_widget_class_install_action (widget_class, "win.error-details", "s",
                                   error_details_activated);
  gtk_widget_class_install_action (widget_class, "win.reuse-from-file", "s", reuse_from_toast);
  gtk_widget_class_install_action (widget_class, "win.extend", "s", extend_activated);
  for (guint i = 0; i < G_N_ELEMENTS (mask_actions); i++)
    gtk_widget_class_install_action (widget_class, mask_actions[i], NULL, mask_action_activated);

  /* Ctrl+Enter works inside the prompt too; Escape cancels. */
  gtk_widget_class_add_binding_action (widget_class, GDK_KEY_Return, GDK_CONTROL_MASK,
                                       "win.generate", NULL);
  gtk_widget_class_add_binding_action (widget_class, GDK_KEY_KP_Enter, GDK_CONTROL_MASK,
                                       "win.generate", NULL);
  gtk_widget_class_add_binding_action (widget_class, GDK_KEY_Escape, 0, "win.cancel", NULL);
  gtk_widget_class_add_binding_action (widget_class, GDK_KEY_o, GDK_CONTROL_MASK,
                                       "win.open-image", NULL);
  gtk_widget_class_add_binding_action (widget_class, GDK_KEY_comma, GDK_CONTROL_MASK,
                                       "win.preferences", NULL);
}

