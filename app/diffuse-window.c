/* diffuse-window.c — the main window: the prompt and the settings on the
 * left, the canvas and the gallery on the right.
 *
 * All engine work is asynchronous: the model loads and pictures generate
 * on the engine's worker thread, and progress (with a preview) arrives in
 * the main loop.  Settings and the last prompt live in GSettings and come
 * back at the next start.  Errors become a toast (what can be retried) or
 * a dialog (what stops the task), with the details; never a crash. */
#include "config.h"

#include <glib/gi18n.h>
#include <math.h>

#include "diffuse-window.h"
#include "diffuse-preferences.h"

#include "df-engine.h"

struct _DiffuseWindow
{
  AdwApplicationWindow parent_instance;

  /* template widgets */
  AdwToastOverlay *toast_overlay;
  GtkMenuButton *primary_menu_button;
  AdwViewStack *view_stack;
  GtkWidget *canvas_toolbar;
  GtkTextView *prompt_view;
  GtkTextView *negative_view;
  GtkSpinButton *width_spin;
  GtkSpinButton *height_spin;
  GtkSpinButton *steps_spin;
  GtkSpinButton *cfg_spin;
  AdwComboRow *sampler_row;
  GtkSpinButton *seed_spin;
  GtkToggleButton *seed_lock_button;
  GtkSpinButton *batch_spin;
  AdwActionRow *strength_row;
  GtkSpinButton *strength_spin;
  GtkProgressBar *progress_bar;
  GtkLabel *progress_label;
  GtkButton *generate_button;
  GtkToggleButton *eraser_button;
  GtkToggleButton *show_mask_button;
  GtkAdjustment *brush_size_adjustment;
  GtkAdjustment *brush_softness_adjustment;
  DiffuseCanvas *canvas;
  AdwStatusPage *model_page;
  GtkSpinner *model_spinner;
  AdwStatusPage *empty_page;
  DiffuseGallery *gallery;

  /* owned */
  GSettings *settings; /* NULL when the schema is not installed */
  char *model_path;    /* the loaded (or loading) model */
  GCancellable *model_cancellable;
  GCancellable *generate_cancellable; /* non-NULL while generating */
  DfImage *result;
  guint preview_count;
  gboolean model_ready;
  DfEngine *engine;
  DfJob *job; /* the running job */
};

G_DEFINE_FINAL_TYPE (DiffuseWindow, diffuse_window, ADW_TYPE_APPLICATION_WINDOW)

/* --- errors ------------------------------------------------------------------ */

static void
error_details_response (AdwMessageDialog *dialog, const char *response, gpointer user_data)
{
}

/* A dialog for what stops the task. */
static void
show_error_dialog (DiffuseWindow *self, const char *heading, const char *details)
{
  GtkWidget *dialog = adw_message_dialog_new (GTK_WINDOW (self), heading, details);

  adw_message_dialog_add_response (ADW_MESSAGE_DIALOG (dialog), "close", _("_Close"));
  g_signal_connect (dialog, "response", G_CALLBACK (error_details_response), NULL);
  gtk_window_present (GTK_WINDOW (dialog));
}

/* A toast for what can be tried again, with the details a click away. */
static void
show_error_toast (DiffuseWindow *self, const char *title, const GError *error)
{
  AdwToast *toast = adw_toast_new (title);

  g_message ("%s: %s", title, error->message);
  adw_toast_set_button_label (toast, _("_Details"));
  adw_toast_set_action_name (toast, "win.error-details");
  adw_toast_set_action_target_value (toast, g_variant_new_string (error->message));
  adw_toast_set_timeout (toast, 8);
  adw_toast_overlay_add_toast (self->toast_overlay, toast);
}

static void
show_toast (DiffuseWindow *self, const char *title)
{
  adw_toast_overlay_add_toast (self->toast_overlay, adw_toast_new (title));
}

static void
error_details_activated (GtkWidget *widget, const char *name, GVariant *parameter)
{
  show_error_dialog (DIFFUSE_WINDOW (widget), _("What Went Wrong"),
                     g_variant_get_string (parameter, NULL));
}

/* The short, translated sentence for an engine error. */
static const char *
describe_error (const GError *error, gboolean *blocking)
{
  *blocking = FALSE;
  if (error->domain == DF_ERROR)
    switch ((DfError) error->code)
      {
      case DF_ERROR_NO_DEVICE:
        *blocking = TRUE;
        return _("No Vulkan device was found");
      case DF_ERROR_UNSUPPORTED_DEVICE:
        *blocking = TRUE;
        return _("The graphics device cannot run Diffuse");
      case DF_ERROR_OUT_OF_DEVICE_MEMORY:
        return _("Out of memory: try a smaller size or batch");
      case DF_ERROR_DEVICE_LOST:
        return _("The graphics device stopped responding");
      case DF_ERROR_INVALID_MODEL:
        *blocking = TRUE;
        return _("The model file is damaged or not a model");
      case DF_ERROR_UNSUPPORTED_MODEL:
        *blocking = TRUE;
        return _("This kind of model is not supported");
      case DF_ERROR_IO:
        return _("A file could not be read or written");
      default:
        break;
      }
  return _("Something went wrong");
}

static void
show_engine_error (DiffuseWindow *self, const GError *error)
{
  gboolean blocking;
  const char *title = describe_error (error, &blocking);

  if (blocking)
    {
      g_message ("%s: %s", title, error->message);
      show_error_dialog (self, title, error->message);
    }
  else
    show_error_toast (self, title, error);
}

/* --- settings ------------------------------------------------------------------ */

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

static char *
buffer_text (GtkTextView *view)
{
  GtkTextBuffer *buffer = gtk_text_view_get_buffer (view);
  GtkTextIter start, end;

  gtk_text_buffer_get_bounds (buffer, &start, &end);
  return gtk_text_buffer_get_text (buffer, &start, &end, FALSE);
}

static int
round8 (double value)
{
  return MAX (8, (int) lround (value / 8.0) * 8);
}

static void
set_sampler (DiffuseWindow *self, const char *name)
{
  g_autofree char *ours = g_strdelimit (g_strdup (name != NULL ? name : ""), "-", '_');
  DfSamplerKind kind;

  if (df_sampler_kind_from_string (ours, &kind, NULL))
    adw_combo_row_set_selected (self->sampler_row, (guint) kind);
}

/* Fills the controls with the defaults from the preferences. */
static void
apply_defaults (DiffuseWindow *self)
{
  g_autofree char *sampler = NULL;

  if (self->settings == NULL)
    return;
  gtk_spin_button_set_value (self->width_spin,
                             round8 (g_settings_get_uint (self->settings, "default-width")));
  gtk_spin_button_set_value (self->height_spin,
                             round8 (g_settings_get_uint (self->settings, "default-height")));
  gtk_spin_button_set_value (self->steps_spin, g_settings_get_uint (self->settings, "default-steps"));
  gtk_spin_button_set_value (self->cfg_spin,
                             g_settings_get_double (self->settings, "default-cfg-scale"));
  sampler = g_settings_get_string (self->settings, "default-sampler");
  set_sampler (self, sampler);
  gtk_spin_button_set_value (self->batch_spin, 1);
}

static void
restore_state (DiffuseWindow *self)
{
  g_autofree char *prompt = NULL;
  g_autofree char *negative = NULL;
  g_autofree char *sampler = NULL;
  g_autofree char *gallery = NULL;
  int width, height;

  if (self->settings == NULL)
    return;
  width = g_settings_get_int (self->settings, "window-width");
  height = g_settings_get_int (self->settings, "window-height");
  if (width > 0 && height > 0)
    gtk_window_set_default_size (GTK_WINDOW (self), width, height);
  if (g_settings_get_boolean (self->settings, "window-maximized"))
    gtk_window_maximize (GTK_WINDOW (self));

  prompt = g_settings_get_string (self->settings, "last-prompt");
  negative = g_settings_get_string (self->settings, "last-negative-prompt");
  gtk_text_buffer_set_text (gtk_text_view_get_buffer (self->prompt_view), prompt, -1);
  gtk_text_buffer_set_text (gtk_text_view_get_buffer (self->negative_view), negative, -1);

  /* The last settings, or the defaults the first time (0 = never set). */
  apply_defaults (self);
  if (g_settings_get_uint (self->settings, "last-width") > 0)
    {
      gtk_spin_button_set_value (self->width_spin,
                                 round8 (g_settings_get_uint (self->settings, "last-width")));
      gtk_spin_button_set_value (self->height_spin,
                                 round8 (g_settings_get_uint (self->settings, "last-height")));
      gtk_spin_button_set_value (self->steps_spin,
                                 g_settings_get_uint (self->settings, "last-steps"));
      gtk_spin_button_set_value (self->cfg_spin,
                                 g_settings_get_double (self->settings, "last-cfg-scale"));
      sampler = g_settings_get_string (self->settings, "last-sampler");
      set_sampler (self, sampler);
      gtk_spin_button_set_value (self->batch_spin,
                                 g_settings_get_uint (self->settings, "last-batch-count"));
      gtk_spin_button_set_value (self->strength_spin,
                                 g_settings_get_double (self->settings, "last-strength"));
    }
  gtk_toggle_button_set_active (self->seed_lock_button,
                                g_settings_get_boolean (self->settings, "seed-locked"));
  gtk_spin_button_set_value (self->seed_spin, (double) g_settings_get_uint64 (self->settings, "seed"));

  gallery = g_settings_get_string (self->settings, "gallery-folder");
  diffuse_gallery_set_folder (self->gallery, gallery);
}

static void
save_state (DiffuseWindow *self)
{
  gboolean maximized = gtk_window_is_maximized (GTK_WINDOW (self));
  g_autofree char *prompt = buffer_text (self->prompt_view);
  g_autofree char *negative = buffer_text (self->negative_view);
  guint sampler = adw_combo_row_get_selected (self->sampler_row);

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

  g_settings_set_string (self->settings, "last-prompt", prompt);
  g_settings_set_string (self->settings, "last-negative-prompt", negative);
  g_settings_set_uint (self->settings, "last-width", (guint) gtk_spin_button_get_value_as_int (self->width_spin));
  g_settings_set_uint (self->settings, "last-height", (guint) gtk_spin_button_get_value_as_int (self->height_spin));
  g_settings_set_uint (self->settings, "last-steps", (guint) gtk_spin_button_get_value_as_int (self->steps_spin));
  g_settings_set_double (self->settings, "last-cfg-scale", gtk_spin_button_get_value (self->cfg_spin));
  if (sampler < DF_SAMPLER_N_KINDS)
    g_settings_set_string (self->settings, "last-sampler", df_sampler_kind_name ((DfSamplerKind) sampler));
  g_settings_set_uint (self->settings, "last-batch-count", (guint) gtk_spin_button_get_value_as_int (self->batch_spin));
  g_settings_set_double (self->settings, "last-strength", gtk_spin_button_get_value (self->strength_spin));
  g_settings_set_boolean (self->settings, "seed-locked", gtk_toggle_button_get_active (self->seed_lock_button));
  g_settings_set_uint64 (self->settings, "seed", (guint64) gtk_spin_button_get_value (self->seed_spin));
}

/* --- parameters ------------------------------------------------------------------ */

void
diffuse_window_apply_params (DiffuseWindow *self, const DfParams *params)
{
  g_return_if_fail (DIFFUSE_IS_WINDOW (self));
  g_return_if_fail (params != NULL);

  gtk_text_buffer_set_text (gtk_text_view_get_buffer (self->prompt_view), params->prompt, -1);
  gtk_text_buffer_set_text (gtk_text_view_get_buffer (self->negative_view),
                            params->negative_prompt, -1);
  if (params->width > 0 && params->height > 0)
    {
      gtk_spin_button_set_value (self->width_spin, round8 (params->width));
      gtk_spin_button_set_value (self->height_spin, round8 (params->height));
    }
  if (params->steps > 0)
    gtk_spin_button_set_value (self->steps_spin, params->steps);
  if (params->cfg_scale >= 0)
    gtk_spin_button_set_value (self->cfg_spin, params->cfg_scale);
  if (params->sampler != NULL)
    set_sampler (self, params->sampler);
  if (params->seed >= 0)
    {
      gtk_spin_button_set_value (self->seed_spin, (double) params->seed);
      gtk_toggle_button_set_active (self->seed_lock_button, TRUE);
    }
  if (params->denoising_strength >= 0)
    gtk_spin_button_set_value (self->strength_spin, params->denoising_strength);
}

gboolean
diffuse_window_apply_params_from_file (DiffuseWindow *self, const char *path, GError **error)
{
  g_autoptr (DfParams) params = NULL;

  g_return_val_if_fail (DIFFUSE_IS_WINDOW (self), FALSE);

  params = df_params_load_png (path, error);
  if (params == NULL)
    return FALSE;
  diffuse_window_apply_params (self, params);
  return TRUE;
}

/* --- the canvas ------------------------------------------------------------------ */

static void
update_canvas_state (DiffuseWindow *self)
{
  gboolean has_image = diffuse_canvas_get_image (self->canvas) != NULL;
  gboolean has_picture = has_image || diffuse_canvas_has_preview (self->canvas);

  gtk_widget_set_visible (GTK_WIDGET (self->empty_page), !has_picture && self->model_ready);
  gtk_widget_set_visible (GTK_WIDGET (self->model_page), !self->model_ready);
  gtk_widget_set_visible (GTK_WIDGET (self->strength_row), has_image);
  gtk_widget_set_sensitive (self->canvas_toolbar, has_picture);
  gtk_widget_action_set_enabled (GTK_WIDGET (self), "win.mask-undo",
                                 diffuse_canvas_can_undo (self->canvas));
  gtk_widget_action_set_enabled (GTK_WIDGET (self), "win.mask-redo",
                                 diffuse_canvas_can_redo (self->canvas));
  gtk_widget_action_set_enabled (GTK_WIDGET (self), "win.use-result", self->result != NULL);
  gtk_widget_action_set_enabled (GTK_WIDGET (self), "win.remove-image", has_image);
}

static void
set_init_image (DiffuseWindow *self, const DfImage *image)
{
  diffuse_canvas_set_image (self->canvas, image);
  if (image != NULL)
    {
      /* Generate at the picture's size, rounded down to multiples of 8. */
      gtk_spin_button_set_value (self->width_spin, MAX (64, image->width / 8 * 8));
      gtk_spin_button_set_value (self->height_spin, MAX (64, image->height / 8 * 8));
    }
  adw_view_stack_set_visible_child_name (self->view_stack, "canvas");
  update_canvas_state (self);
}

static void
reuse_from_toast (GtkWidget *widget, const char *name, GVariant *parameter)
{
  g_autoptr (GError) error = NULL;

  if (!diffuse_window_apply_params_from_file (DIFFUSE_WINDOW (widget),
                                              g_variant_get_string (parameter, NULL), &error))
    show_error_toast (DIFFUSE_WINDOW (widget), _("The picture has no settings to reuse"), error);
}

static gboolean
load_init_image (DiffuseWindow *self, const char *path)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (DfImage) image = df_image_load_png (path, &error);
  g_autofree char *text = NULL;

  if (image == NULL)
    {
      show_error_toast (self, _("Could not open the image"), error);
      return FALSE;
    }
  set_init_image (self, image);
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

static gboolean
on_drop (GtkDropTarget *target, const GValue *value, double x, double y, DiffuseWindow *self)
{
  if (G_VALUE_HOLDS (value, G_TYPE_FILE))
    {
      GFile *file = g_value_get_object (value);
      g_autofree char *path = g_file_get_path (file);

      return path != NULL && load_init_image (self, path);
    }
  if (G_VALUE_HOLDS (value, GDK_TYPE_TEXTURE))
    {
      g_autoptr (DfImage) image = image_from_texture (g_value_get_object (value));

      if (image != NULL)
        set_init_image (self, image);
      return image != NULL;
    }
  return FALSE;
}

static void
paste_ready (GObject *source, GAsyncResult *result, gpointer user_data)
{
  g_autoptr (DiffuseWindow) self = user_data;
  g_autoptr (GError) error = NULL;
  g_autoptr (GdkTexture) texture = gdk_clipboard_read_texture_finish (GDK_CLIPBOARD (source),
                                                                      result, &error);
  g_autoptr (DfImage) image = NULL;

  if (texture == NULL)
    {
      show_error_toast (self, _("The clipboard holds no picture"), error);
      return;
    }
  image = image_from_texture (texture);
  if (image != NULL)
    set_init_image (self, image);
}

static void
paste_activated (GtkWidget *widget, const char *name, GVariant *parameter)
{
  gdk_clipboard_read_texture_async (gtk_widget_get_clipboard (widget), NULL, paste_ready,
                                    g_object_ref (widget));
}

/* --- file choosers -------------------------------------------------------------- */

typedef void (*ChosenFunc) (DiffuseWindow *self, const char *path);

static void
chooser_response (GtkNativeDialog *dialog, int response, gpointer user_data)
{
  g_autoptr (DiffuseWindow) self = user_data;
  ChosenFunc func = g_object_get_data (G_OBJECT (dialog), "func");

  if (response == GTK_RESPONSE_ACCEPT)
    {
      g_autoptr (GFile) file = gtk_file_chooser_get_file (GTK_FILE_CHOOSER (dialog));
      g_autofree char *path = g_file_get_path (file);

      if (path != NULL)
        func (self, path);
    }
  g_object_unref (dialog);
}

static void
choose_file (DiffuseWindow *self, const char *title, GtkFileChooserAction action,
             const char *filter_name, const char *pattern, ChosenFunc func)
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
image_chosen (DiffuseWindow *self, const char *path)
{
  load_init_image (self, path);
}

static void
settings_chosen (DiffuseWindow *self, const char *path)
{
  g_autoptr (GError) error = NULL;

  if (!diffuse_window_apply_params_from_file (self, path, &error))
    show_error_toast (self, _("The picture has no settings to reuse"), error);
}

static void
model_chosen (DiffuseWindow *self, const char *path)
{
  diffuse_window_load_model (self, path);
}

static void
open_image_activated (GtkWidget *widget, const char *name, GVariant *parameter)
{
  choose_file (DIFFUSE_WINDOW (widget), _("Open Image"), GTK_FILE_CHOOSER_ACTION_OPEN,
               _("PNG Images"), "*.png", image_chosen);
}

static void
open_settings_activated (GtkWidget *widget, const char *name, GVariant *parameter)
{
  choose_file (DIFFUSE_WINDOW (widget), _("Reuse Settings From Picture"),
               GTK_FILE_CHOOSER_ACTION_OPEN, _("PNG Images"), "*.png", settings_chosen);
}

static void
open_model_activated (GtkWidget *widget, const char *name, GVariant *parameter)
{
  choose_file (DIFFUSE_WINDOW (widget), _("Open Model File"), GTK_FILE_CHOOSER_ACTION_OPEN,
               _("Safetensors Models"), "*.safetensors", model_chosen);
}

static void
open_model_folder_activated (GtkWidget *widget, const char *name, GVariant *parameter)
{
  choose_file (DIFFUSE_WINDOW (widget), _("Open Diffusers Folder"),
               GTK_FILE_CHOOSER_ACTION_SELECT_FOLDER, NULL, NULL, model_chosen);
}

/* --- the model ----------------------------------------------------------------- */

gboolean
diffuse_window_get_model_ready (DiffuseWindow *self)
{
  g_return_val_if_fail (DIFFUSE_IS_WINDOW (self), FALSE);
  return self->model_ready;
}

static void
update_actions (DiffuseWindow *self)
{
  gboolean running = self->generate_cancellable != NULL;

  gtk_widget_action_set_enabled (GTK_WIDGET (self), "win.generate", self->model_ready && !running);
  gtk_widget_action_set_enabled (GTK_WIDGET (self), "win.cancel", running);
  gtk_widget_action_set_enabled (GTK_WIDGET (self), "win.open-model", !running);
  gtk_widget_action_set_enabled (GTK_WIDGET (self), "win.open-model-folder", !running);
}

static void
model_loaded (GObject *source, GAsyncResult *result, gpointer user_data)
{
  g_autoptr (DiffuseWindow) self = user_data;
  g_autoptr (GError) error = NULL;
  gboolean ok = df_engine_load_model_finish (self->engine, result, &error);

  if (g_error_matches (error, G_IO_ERROR, G_IO_ERROR_CANCELLED))
    return;
  g_clear_object (&self->model_cancellable);
  gtk_spinner_stop (self->model_spinner);
  gtk_widget_set_visible (GTK_WIDGET (self->model_spinner), FALSE);
  self->model_ready = ok;
  if (ok)
    {
      g_autofree char *name = g_path_get_basename (self->model_path);
      g_autofree char *title = g_strdup_printf (_("Model “%s” is ready"), name);

      if (self->settings != NULL)
        g_settings_set_string (self->settings, "model-path", self->model_path);
      show_toast (self, title);
    }
  else
    {
      g_message ("Cannot load %s: %s", self->model_path, error->message);
      show_error_dialog (self, _("Could Not Load the Model"), error->message);
    }
  update_canvas_state (self);
  update_actions (self);
}

void
diffuse_window_load_model (DiffuseWindow *self, const char *path)
{
  diffuse_window_load_model_full (self, path, NULL);
}

void
diffuse_window_load_model_full (DiffuseWindow *self, const char *path, const char *vocab_path)
{
  g_return_if_fail (DIFFUSE_IS_WINDOW (self));
  g_return_if_fail (path != NULL);

  g_free (self->model_path);
  self->model_path = g_strdup (path);
  self->model_ready = FALSE;
  update_canvas_state (self);
  update_actions (self);
  if (self->engine == NULL)
    {
      g_autofree char *device =
          self->settings != NULL ? g_settings_get_string (self->settings, "device") : NULL;

      self->engine = df_engine_new (device != NULL && device[0] != '\0' ? device : NULL);
    }
  if (self->model_cancellable != NULL)
    g_cancellable_cancel (self->model_cancellable);
  g_clear_object (&self->model_cancellable);
  self->model_cancellable = g_cancellable_new ();
  gtk_widget_set_visible (GTK_WIDGET (self->model_spinner), TRUE);
  gtk_spinner_start (self->model_spinner);
  df_engine_load_model_async (self->engine, path, vocab_path, self->model_cancellable, model_loaded,
                              g_object_ref (self));
}

/* --- generation ------------------------------------------------------------------ */

gboolean
diffuse_window_get_generating (DiffuseWindow *self)
{
  g_return_val_if_fail (DIFFUSE_IS_WINDOW (self), FALSE);
  return self->generate_cancellable != NULL;
}

guint
diffuse_window_get_preview_count (DiffuseWindow *self)
{
  g_return_val_if_fail (DIFFUSE_IS_WINDOW (self), 0);
  return self->preview_count;
}

const DfImage *
diffuse_window_get_result (DiffuseWindow *self)
{
  g_return_val_if_fail (DIFFUSE_IS_WINDOW (self), NULL);
  return self->result;
}

static void
set_running (DiffuseWindow *self, gboolean running)
{
  GtkWidget *button = GTK_WIDGET (self->generate_button);

  gtk_button_set_label (self->generate_button, running ? _("_Cancel") : _("_Generate"));
  gtk_actionable_set_action_name (GTK_ACTIONABLE (button), running ? "win.cancel" : "win.generate");
  gtk_widget_set_tooltip_text (button, running ? _("Cancel (Escape)") : _("Generate (Ctrl+Enter)"));
  if (running)
    {
      gtk_widget_remove_css_class (button, "suggested-action");
      gtk_widget_add_css_class (button, "destructive-action");
    }
  else
    {
      gtk_widget_remove_css_class (button, "destructive-action");
      gtk_widget_add_css_class (button, "suggested-action");
    }
  gtk_widget_set_visible (GTK_WIDGET (self->progress_bar), running);
  gtk_widget_set_visible (GTK_WIDGET (self->progress_label), running);
  if (running)
    {
      gtk_progress_bar_set_fraction (self->progress_bar, 0.0);
      gtk_label_set_text (self->progress_label, _("Preparing…"));
    }
  update_actions (self);
}

static void
on_progress (const DfProgress *progress, gpointer user_data)
{
  DiffuseWindow *self = user_data;
  double total = (double) progress->n_images * progress->total;
  double done = (double) progress->image * progress->total + progress->step;
  g_autofree char *steps = NULL;
  g_autofree char *text = NULL;

  if (total > 0)
    gtk_progress_bar_set_fraction (self->progress_bar, CLAMP (done / total, 0.0, 1.0));
  if (progress->n_images > 1)
    steps = g_strdup_printf (_("Picture %d of %d, step %d of %d"), progress->image + 1,
                             progress->n_images, progress->step, progress->total);
  else
    steps = g_strdup_printf (_("Step %d of %d"), progress->step, progress->total);
  if (done > 0 && done < total)
    {
      int left = (int) ceil (progress->elapsed / done * (total - done));

      if (left >= 120)
        text = g_strdup_printf (_("%s — about %d min left"), steps, (left + 30) / 60);
      else
        text = g_strdup_printf (_("%s — about %d s left"), steps, left);
    }
  gtk_label_set_text (self->progress_label, text != NULL ? text : steps);
  if (progress->preview != NULL)
    {
      diffuse_canvas_set_preview (self->canvas, progress->preview);
      self->preview_count++;
      update_canvas_state (self);
    }
}

static void
generated (GObject *source, GAsyncResult *result, gpointer user_data)
{
  g_autoptr (DiffuseWindow) self = user_data;
  g_autoptr (GError) error = NULL;
  g_autoptr (GArray) seeds = NULL;
  g_autoptr (GPtrArray) images = NULL;
  g_autoptr (DfJob) job = g_steal_pointer (&self->job);
  g_autofree char *model_name = g_path_get_basename (self->model_path);

  images = df_engine_generate_finish (self->engine, result, &seeds, &error);
  g_clear_object (&self->generate_cancellable);
  set_running (self, FALSE);
  if (images == NULL)
    {
      if (g_error_matches (error, G_IO_ERROR, G_IO_ERROR_CANCELLED))
        show_toast (self, _("Cancelled"));
      else
        show_engine_error (self, error);
      if (self->result != NULL)
        diffuse_canvas_set_preview (self->canvas, self->result);
      else
        diffuse_canvas_set_preview (self->canvas, NULL);
      update_canvas_state (self);
      return;
    }

  /* Every finished picture goes to the history at once. */
  for (guint i = 0; i < images->len; i++)
    {
      const DfImage *image = g_ptr_array_index (images, i);
      uint64_t seed = seeds != NULL && i < seeds->len ? g_array_index (seeds, uint64_t, i)
                                                      : job->seed + i;
      g_autoptr (DfParams) params = df_job_to_params (job, seed, NULL, model_name);
      g_autoptr (GError) save_error = NULL;
      g_autoptr (GFile) file = diffuse_gallery_add (self->gallery, image, params, &save_error);

      if (file == NULL)
        show_error_toast (self, _("Could not save the picture"), save_error);
    }
  g_clear_pointer (&self->result, df_image_free);
  if (images->len > 0)
    self->result = df_image_copy (g_ptr_array_index (images, images->len - 1), NULL);
  diffuse_canvas_set_preview (self->canvas, self->result);
  update_canvas_state (self);
}

/* The job the controls describe. */
static DfJob *
make_job (DiffuseWindow *self, GError **error)
{
  g_autoptr (DfJob) job = df_job_new ();
  const DfImage *init = diffuse_canvas_get_image (self->canvas);
  guint sampler = adw_combo_row_get_selected (self->sampler_row);

  job->prompt = buffer_text (self->prompt_view);
  job->negative_prompt = buffer_text (self->negative_view);
  job->width = round8 (gtk_spin_button_get_value (self->width_spin));
  job->height = round8 (gtk_spin_button_get_value (self->height_spin));
  job->steps = gtk_spin_button_get_value_as_int (self->steps_spin);
  job->cfg_scale = (float) gtk_spin_button_get_value (self->cfg_spin);
  job->sampler = sampler < DF_SAMPLER_N_KINDS ? (DfSamplerKind) sampler : DF_SAMPLER_EULER_A;
  job->seed = (uint64_t) gtk_spin_button_get_value (self->seed_spin);
  job->batch_count = gtk_spin_button_get_value_as_int (self->batch_spin);
  job->strength = (float) gtk_spin_button_get_value (self->strength_spin);
  if (self->settings != NULL)
    {
      job->preview = (DfPreviewMode) g_settings_get_enum (self->settings, "preview-mode");
      job->preview_every = (int) g_settings_get_uint (self->settings, "preview-interval");
    }
  if (init != NULL)
    {
      g_autoptr (DfImage) mask = diffuse_canvas_get_mask_image (self->canvas);

      job->init_image = df_image_fit (init, job->width, job->height, DF_FIT_CROP, error);
      if (job->init_image == NULL)
        return NULL;
      job->mode = DF_MODE_IMG2IMG;
      if (mask != NULL)
        {
          job->mask = df_image_fit (mask, job->width, job->height, DF_FIT_CROP, error);
          if (job->mask == NULL)
            return NULL;
          job->mode = DF_MODE_INPAINT;
        }
    }
  return g_steal_pointer (&job);
}

static void
generate_activated (GtkWidget *widget, const char *name, GVariant *parameter)
{
  DiffuseWindow *self = DIFFUSE_WINDOW (widget);
  g_autoptr (GError) error = NULL;

  if (self->generate_cancellable != NULL)
    return;
  if (!self->model_ready)
    {
      show_toast (self, _("Choose a model first"));
      return;
    }
  /* A new seed each time, unless it is kept; shown, so it can be copied. */
  if (!gtk_toggle_button_get_active (self->seed_lock_button))
    gtk_spin_button_set_value (self->seed_spin, (double) g_random_int ());
  save_state (self);

  self->job = make_job (self, &error);
  if (self->job == NULL)
    {
      show_error_toast (self, _("Could not prepare the picture"), error);
      return;
    }
  self->preview_count = 0;
  self->generate_cancellable = g_cancellable_new ();
  set_running (self, TRUE);
  df_engine_generate_async (self->engine, self->job, on_progress, self,
                            self->generate_cancellable, generated, g_object_ref (self));
}

static void
cancel_activated (GtkWidget *widget, const char *name, GVariant *parameter)
{
  DiffuseWindow *self = DIFFUSE_WINDOW (widget);

  if (self->generate_cancellable != NULL)
    {
      g_cancellable_cancel (self->generate_cancellable);
      gtk_label_set_text (self->progress_label, _("Cancelling…"));
    }
}

/* --- small actions ---------------------------------------------------------------- */

static void
copy_seed_activated (GtkWidget *widget, const char *name, GVariant *parameter)
{
  DiffuseWindow *self = DIFFUSE_WINDOW (widget);
  g_autofree char *text = g_strdup_printf ("%.0f", gtk_spin_button_get_value (self->seed_spin));

  gdk_clipboard_set_text (gtk_widget_get_clipboard (widget), text);
  show_toast (self, _("Seed copied"));
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
reset_settings_activated (GtkWidget *widget, const char *name, GVariant *parameter)
{
  apply_defaults (DIFFUSE_WINDOW (widget));
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
    set_init_image (self, self->result);
  else if (g_str_equal (name, "win.remove-image"))
    set_init_image (self, NULL);
  update_canvas_state (self);
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
      set_init_image (self, self->result);
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
      show_error_toast (self, _("Could not extend the canvas"), error);
      return;
    }
  image = diffuse_canvas_get_image (self->canvas);
  gtk_spin_button_set_value (self->width_spin, image->width / 8 * 8);
  gtk_spin_button_set_value (self->height_spin, image->height / 8 * 8);
  update_canvas_state (self);
}

static void
gallery_open (DiffuseGallery *gallery, GFile *file, DiffuseWindow *self)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (DfImage) image = df_image_load_png (g_file_peek_path (file), &error);

  if (image == NULL)
    {
      show_error_toast (self, _("Could not open the image"), error);
      return;
    }
  g_clear_pointer (&self->result, df_image_free);
  self->result = g_steal_pointer (&image);
  diffuse_canvas_set_preview (self->canvas, self->result);
  adw_view_stack_set_visible_child_name (self->view_stack, "canvas");
  update_canvas_state (self);
}

static void
gallery_reuse (DiffuseGallery *gallery, GFile *file, DiffuseWindow *self)
{
  g_autoptr (GError) error = NULL;

  if (!diffuse_window_apply_params_from_file (self, g_file_peek_path (file), &error))
    show_error_toast (self, _("The picture has no settings to reuse"), error);
  else
    show_toast (self, _("Settings restored"));
}

static void
canvas_changed (DiffuseWindow *self)
{
  update_canvas_state (self);
}

static void
gallery_folder_changed (GSettings *settings, const char *key, DiffuseWindow *self)
{
  g_autofree char *folder = g_settings_get_string (settings, key);

  diffuse_gallery_set_folder (self->gallery, folder);
}

/* Every icon-only control gets its tooltip as its accessible name. */
static void
label_icon_buttons (GtkWidget *parent)
{
  for (GtkWidget *child = gtk_widget_get_first_child (parent); child != NULL;
       child = gtk_widget_get_next_sibling (child))
    {
      const char *tooltip = gtk_widget_get_tooltip_text (child);

      if (tooltip != NULL)
        gtk_accessible_update_property (GTK_ACCESSIBLE (child), GTK_ACCESSIBLE_PROPERTY_LABEL,
                                        tooltip, -1);
    }
}

/* --- GObject ----------------------------------------------------------------------- */

DiffuseCanvas *
diffuse_window_get_canvas (DiffuseWindow *self)
{
  g_return_val_if_fail (DIFFUSE_IS_WINDOW (self), NULL);
  return self->canvas;
}

DiffuseGallery *
diffuse_window_get_gallery (DiffuseWindow *self)
{
  g_return_val_if_fail (DIFFUSE_IS_WINDOW (self), NULL);
  return self->gallery;
}

GtkTextBuffer *
diffuse_window_get_prompt_buffer (DiffuseWindow *self)
{
  g_return_val_if_fail (DIFFUSE_IS_WINDOW (self), NULL);
  return gtk_text_view_get_buffer (self->prompt_view);
}

GtkTextBuffer *
diffuse_window_get_negative_prompt_buffer (DiffuseWindow *self)
{
  g_return_val_if_fail (DIFFUSE_IS_WINDOW (self), NULL);
  return gtk_text_view_get_buffer (self->negative_view);
}

static gboolean
diffuse_window_close_request (GtkWindow *window)
{
  DiffuseWindow *self = DIFFUSE_WINDOW (window);

  save_state (self);
  if (self->generate_cancellable != NULL)
    g_cancellable_cancel (self->generate_cancellable);
  return GTK_WINDOW_CLASS (diffuse_window_parent_class)->close_request (window);
}

static void
diffuse_window_dispose (GObject *object)
{
  DiffuseWindow *self = DIFFUSE_WINDOW (object);

  if (self->model_cancellable != NULL)
    g_cancellable_cancel (self->model_cancellable);
  if (self->generate_cancellable != NULL)
    g_cancellable_cancel (self->generate_cancellable);
  g_clear_object (&self->settings);
  G_OBJECT_CLASS (diffuse_window_parent_class)->dispose (object);
}

static void
diffuse_window_finalize (GObject *object)
{
  DiffuseWindow *self = DIFFUSE_WINDOW (object);

  /* Every async call holds a reference, so nothing is in flight now. */
  g_clear_pointer (&self->engine, df_engine_free);
  g_clear_pointer (&self->job, df_job_free);
  g_clear_object (&self->model_cancellable);
  g_clear_object (&self->generate_cancellable);
  g_clear_pointer (&self->result, df_image_free);
  g_free (self->model_path);
  G_OBJECT_CLASS (diffuse_window_parent_class)->finalize (object);
}

static void
diffuse_window_class_init (DiffuseWindowClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);
  GtkWidgetClass *widget_class = GTK_WIDGET_CLASS (klass);
  GtkWindowClass *window_class = GTK_WINDOW_CLASS (klass);
  static const char *mask_actions[] = {
    "win.mask-undo", "win.mask-redo", "win.mask-invert", "win.mask-clear", "win.zoom-fit",
    "win.zoom-original", "win.use-result", "win.remove-image",
  };

  object_class->dispose = diffuse_window_dispose;
  object_class->finalize = diffuse_window_finalize;
  window_class->close_request = diffuse_window_close_request;

  g_type_ensure (DIFFUSE_TYPE_CANVAS);
  g_type_ensure (DIFFUSE_TYPE_GALLERY);
  gtk_widget_class_set_template_from_resource (widget_class,
                                               "/org/example/Diffuse/ui/diffuse-window.ui");
#define BIND(name) gtk_widget_class_bind_template_child (widget_class, DiffuseWindow, name)
  BIND (toast_overlay);
  BIND (primary_menu_button);
  BIND (view_stack);
  BIND (canvas_toolbar);
  BIND (prompt_view);
  BIND (negative_view);
  BIND (width_spin);
  BIND (height_spin);
  BIND (steps_spin);
  BIND (cfg_spin);
  BIND (sampler_row);
  BIND (seed_spin);
  BIND (seed_lock_button);
  BIND (batch_spin);
  BIND (strength_row);
  BIND (strength_spin);
  BIND (progress_bar);
  BIND (progress_label);
  BIND (generate_button);
  BIND (eraser_button);
  BIND (show_mask_button);
  BIND (brush_size_adjustment);
  BIND (brush_softness_adjustment);
  BIND (canvas);
  BIND (model_page);
  BIND (model_spinner);
  BIND (empty_page);
  BIND (gallery);
#undef BIND

  gtk_widget_class_install_action (widget_class, "win.generate", NULL, generate_activated);
  gtk_widget_class_install_action (widget_class, "win.cancel", NULL, cancel_activated);
  gtk_widget_class_install_action (widget_class, "win.open-image", NULL, open_image_activated);
  gtk_widget_class_install_action (widget_class, "win.open-settings", NULL,
                                   open_settings_activated);
  gtk_widget_class_install_action (widget_class, "win.open-model", NULL, open_model_activated);
  gtk_widget_class_install_action (widget_class, "win.open-model-folder", NULL,
                                   open_model_folder_activated);
  gtk_widget_class_install_action (widget_class, "win.paste", NULL, paste_activated);
  gtk_widget_class_install_action (widget_class, "win.copy-seed", NULL, copy_seed_activated);
  gtk_widget_class_install_action (widget_class, "win.size-preset", "s", size_preset_activated);
  gtk_widget_class_install_action (widget_class, "win.reset-settings", NULL,
                                   reset_settings_activated);
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

static void
diffuse_window_init (DiffuseWindow *self)
{
  g_autoptr (GtkStringList) samplers = gtk_string_list_new (NULL);
  GtkDropTarget *drop;
  GtkEventController *shortcuts;
  GtkShortcut *shortcut;
  g_autofree char *model = NULL;

  gtk_widget_init_template (GTK_WIDGET (self));

  for (int k = 0; k < DF_SAMPLER_N_KINDS; k++)
    {
      const char *name = df_sampler_kind_name ((DfSamplerKind) k);
      const char *shown = df_sampler_to_webui (name);

      gtk_string_list_append (samplers, shown != NULL ? shown : name);
    }
  adw_combo_row_set_model (self->sampler_row, G_LIST_MODEL (samplers));

  /* The canvas's controls follow the canvas. */
  g_object_bind_property (self->brush_size_adjustment, "value", self->canvas, "brush-size",
                          G_BINDING_BIDIRECTIONAL | G_BINDING_SYNC_CREATE);
  g_object_bind_property (self->brush_softness_adjustment, "value", self->canvas,
                          "brush-softness", G_BINDING_BIDIRECTIONAL | G_BINDING_SYNC_CREATE);
  g_object_bind_property (self->eraser_button, "active", self->canvas, "eraser",
                          G_BINDING_BIDIRECTIONAL | G_BINDING_SYNC_CREATE);
  g_object_bind_property (self->show_mask_button, "active", self->canvas, "show-mask",
                          G_BINDING_BIDIRECTIONAL | G_BINDING_SYNC_CREATE);
  g_signal_connect_swapped (self->canvas, "notify::can-undo", G_CALLBACK (canvas_changed), self);
  g_signal_connect_swapped (self->canvas, "notify::can-redo", G_CALLBACK (canvas_changed), self);
  g_signal_connect_swapped (self->canvas, "notify::has-image", G_CALLBACK (canvas_changed), self);
  g_signal_connect (self->gallery, "open", G_CALLBACK (gallery_open), self);
  g_signal_connect (self->gallery, "reuse-settings", G_CALLBACK (gallery_reuse), self);

  /* Images dropped on the canvas become the start image. */
  drop = gtk_drop_target_new (G_TYPE_INVALID, GDK_ACTION_COPY);
  gtk_drop_target_set_gtypes (drop, (GType[]){ G_TYPE_FILE, GDK_TYPE_TEXTURE }, 2);
  g_signal_connect (drop, "drop", G_CALLBACK (on_drop), self);
  gtk_widget_add_controller (gtk_widget_get_parent (gtk_widget_get_parent (
                                 gtk_widget_get_parent (GTK_WIDGET (self->canvas)))),
                             GTK_EVENT_CONTROLLER (drop));

  /* Ctrl+V on the canvas pastes a start image (in a text field it
   * pastes text, as it should). */
  shortcuts = gtk_shortcut_controller_new ();
  shortcut = gtk_shortcut_new (gtk_shortcut_trigger_parse_string ("<Control>v"),
                               gtk_named_action_new ("win.paste"));
  gtk_shortcut_controller_add_shortcut (GTK_SHORTCUT_CONTROLLER (shortcuts), shortcut);
  gtk_widget_add_controller (GTK_WIDGET (self->canvas), shortcuts);

  label_icon_buttons (self->canvas_toolbar);

  self->settings = load_settings ();
  restore_state (self);
  if (self->settings != NULL)
    g_signal_connect_object (self->settings, "changed::gallery-folder",
                             G_CALLBACK (gallery_folder_changed), self, 0);
  update_canvas_state (self);
  update_actions (self);

  model = self->settings != NULL ? g_settings_get_string (self->settings, "model-path") : NULL;
  if (model != NULL && model[0] != '\0')
    diffuse_window_load_model (self, model);
}

DiffuseWindow *
diffuse_window_new (DiffuseApplication *app)
{
  return g_object_new (DIFFUSE_TYPE_WINDOW, "application", app, NULL);
}
