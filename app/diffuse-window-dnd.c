/* diffuse-window-dnd.c — start images: dropped on the canvas (a file or a
 * picture), pasted with Ctrl+V, or opened with the file chooser.  Each
 * becomes the canvas's init image; a PNG that carries its generation
 * settings offers to reuse them. */
#include "config.h"

#include "diffuse-window-private.h"

gboolean
diffuse_window_load_init_image (DiffuseWindow *self, const char *path)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (DfImage) image = df_image_load_png (path, &error);
  g_autofree char *text = NULL;

  if (image == NULL)
    {
      diffuse_window_show_error_toast (self, _("Could not open the image"), error);
      return FALSE;
    }
  diffuse_window_set_init_image (self, image);
  /* A picture that carries its settings offers to reuse them. */
  text = df_png_read_parameters (path, NULL);
  if (text != NULL)
    {
      AdwToast *toast = adw_toast_new (_("This picture has generation settings"));

      adw_toast_set_button_label (toast, _("_Reuse"));
      adw_toast_set_action_name (toast, "win.reuse-from-file");
      adw_toast_set_action_target_value (toast, g_variant_new_string (path));
      adw_toast_overlay_add_toast (self->toast_overlay, toast);
    }
  return TRUE;
}

/* GdkTexture → RGBA DfImage, for pasted pictures. */
static DfImage *
image_from_texture (GdkTexture *texture)
{
  int w = gdk_texture_get_width (texture), h = gdk_texture_get_height (texture);
  g_autofree guint8 *argb = g_malloc ((gsize) w * (gsize) h * 4);
  DfImage *image = df_image_new (w, h, 4, NULL);

  if (image == NULL)
    return NULL;
  /* gdk_texture_download gives cairo's premultiplied native-endian ARGB. */
  gdk_texture_download (texture, argb, (gsize) w * 4);
  for (int y = 0; y < h; y++)
    for (int x = 0; x < w; x++)
      {
        guint32 v = ((guint32 *) argb)[(gsize) y * (gsize) w + (gsize) x];
        guint a = v >> 24;
        guint8 *p = df_image_pixel (image, x, y);

        p[0] = a ? (guint8) MIN (255u, (((v >> 16) & 0xff) * 255 + a / 2) / a) : 0;
        p[1] = a ? (guint8) MIN (255u, (((v >> 8) & 0xff) * 255 + a / 2) / a) : 0;
        p[2] = a ? (guint8) MIN (255u, ((v & 0xff) * 255 + a / 2) / a) : 0;
        p[3] = (guint8) a;
      }
  return image;
}

gboolean
diffuse_window_paste_texture (DiffuseWindow *self, GdkTexture *texture)
{
  g_autoptr (DfImage) image = NULL;

  g_return_val_if_fail (DIFFUSE_IS_WINDOW (self), FALSE);
  g_return_val_if_fail (GDK_IS_TEXTURE (texture), FALSE);

  image = image_from_texture (texture);
  if (image != NULL)
    diffuse_window_set_init_image (self, image);
  return image != NULL;
}

gboolean
diffuse_window_drop_value (DiffuseWindow *self, const GValue *value)
{
  g_return_val_if_fail (DIFFUSE_IS_WINDOW (self), FALSE);

  if (G_VALUE_HOLDS (value, G_TYPE_FILE))
    {
      GFile *file = g_value_get_object (value);
      g_autofree char *path = g_file_get_path (file);

      return path != NULL && diffuse_window_load_init_image (self, path);
    }
  if (G_VALUE_HOLDS (value, GDK_TYPE_TEXTURE))
    return diffuse_window_paste_texture (self, g_value_get_object (value));
  return FALSE;
}

static gboolean
on_drop (GtkDropTarget *target, const GValue *value, double x, double y, DiffuseWindow *self)
{
  return diffuse_window_drop_value (self, value);
}

static void
paste_ready (GObject *source, GAsyncResult *result, gpointer user_data)
{
  g_autoptr (DiffuseWindow) self = user_data;
  g_autoptr (GError) error = NULL;
  g_autoptr (GdkTexture) texture = gdk_clipboard_read_texture_finish (GDK_CLIPBOARD (source),
                                                                      result, &error);

  if (texture == NULL)
    {
      diffuse_window_show_error_toast (self, _("The clipboard holds no picture"), error);
      return;
    }
  diffuse_window_paste_texture (self, texture);
}

void
diffuse_window_paste (DiffuseWindow *self)
{
  gdk_clipboard_read_texture_async (gtk_widget_get_clipboard (GTK_WIDGET (self)), NULL,
                                    paste_ready, g_object_ref (self));
}

static void
image_chosen (DiffuseWindow *self, const char *path)
{
  diffuse_window_load_init_image (self, path);
}

void
diffuse_window_open_image (DiffuseWindow *self)
{
  diffuse_window_choose_file (self, _("Open Image"), GTK_FILE_CHOOSER_ACTION_OPEN,
                              _("PNG Images"), "*.png", image_chosen);
}

void
diffuse_window_init_dnd (DiffuseWindow *self)
{
  GtkEventController *shortcuts;
  GtkShortcut *shortcut;
  GtkWidget *overlay;

  /* Images dropped on the canvas (or the status pages over it: the
   * overlay holds them all) become the start image. */
  overlay = gtk_widget_get_ancestor (GTK_WIDGET (self->canvas), GTK_TYPE_OVERLAY);
  self->drop_target = gtk_drop_target_new (G_TYPE_INVALID, GDK_ACTION_COPY);
  gtk_drop_target_set_gtypes (self->drop_target, (GType[]){ G_TYPE_FILE, GDK_TYPE_TEXTURE }, 2);
  g_signal_connect (self->drop_target, "drop", G_CALLBACK (on_drop), self);
  gtk_widget_add_controller (overlay, GTK_EVENT_CONTROLLER (self->drop_target));

  /* Ctrl+V on the canvas pastes a start image (in a text field it
   * pastes text, as it should). */
  shortcuts = gtk_shortcut_controller_new ();
  shortcut = gtk_shortcut_new (gtk_shortcut_trigger_parse_string ("<Control>v"),
                               gtk_named_action_new ("win.paste"));
  gtk_shortcut_controller_add_shortcut (GTK_SHORTCUT_CONTROLLER (shortcuts), shortcut);
  gtk_widget_add_controller (GTK_WIDGET (self->canvas), shortcuts);
}
