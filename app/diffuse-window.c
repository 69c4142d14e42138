/* diffuse-window.c — the main window's lifecycle: the prompt and the
 * settings on the left, the canvas and the gallery on the right.
 *
 * All engine work is asynchronous: the model loads and pictures generate
 * on the engine's worker thread, and progress (with a preview) arrives in
 * the main loop.  Settings and the last prompt live in GSettings and come
 * back at the next start.  Errors become a toast (what can be retried) or
 * a dialog (what stops the task), with the details; never a crash.  The
 * other concerns live beside this file: see diffuse-window-private.h. */
#include "config.h"

#include "diffuse-window-private.h"

G_DEFINE_FINAL_TYPE (DiffuseWindow, diffuse_window, ADW_TYPE_APPLICATION_WINDOW)

/* --- errors ------------------------------------------------------------------ */

static void
error_details_response (AdwMessageDialog *dialog, const char *response, gpointer user_data)
{
}

/* A dialog for what stops the task. */
void
diffuse_window_show_error_dialog (DiffuseWindow *self, const char *heading, const char *details)
{
  GtkWidget *dialog = adw_message_dialog_new (GTK_WINDOW (self), heading, details);

  adw_message_dialog_add_response (ADW_MESSAGE_DIALOG (dialog), "close", _("_Close"));
  g_signal_connect (dialog, "response", G_CALLBACK (error_details_response), NULL);
  gtk_window_present (GTK_WINDOW (dialog));
}

/* A toast for what can be tried again, with the details a click away. */
void
diffuse_window_show_error_toast (DiffuseWindow *self, const char *title, const GError *error)
{
  AdwToast *toast = adw_toast_new (title);

  g_warning ("%s: %s", title, error->message);
  adw_toast_set_button_label (toast, _("_Details"));
  adw_toast_set_action_name (toast, "win.error-details");
  adw_toast_set_action_target_value (toast, g_variant_new_string (error->message));
  adw_toast_set_timeout (toast, 8);
  adw_toast_overlay_add_toast (self->toast_overlay, toast);
}

void
diffuse_window_show_toast (DiffuseWindow *self, const char *title)
{
  adw_toast_overlay_add_toast (self->toast_overlay, adw_toast_new (title));
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

/* A dialog when the error stops the task (@blocking), else a toast;
 * either way the details are logged. */
void
diffuse_window_show_error (DiffuseWindow *self, const char *title, gboolean blocking,
                           const GError *error)
{
  if (blocking)
    {
      g_warning ("%s: %s", title, error->message);
      diffuse_window_show_error_dialog (self, title, error->message);
    }
  else
    diffuse_window_show_error_toast (self, title, error);
}

void
diffuse_window_show_engine_error (DiffuseWindow *self, const GError *error)
{
  gboolean blocking;
  const char *title = describe_error (error, &blocking);

  diffuse_window_show_error (self, title, blocking, error);
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

char *
diffuse_window_buffer_text (GtkTextView *view)
{
  GtkTextBuffer *buffer = gtk_text_view_get_buffer (view);
  GtkTextIter start, end;

  gtk_text_buffer_get_bounds (buffer, &start, &end);
  return gtk_text_buffer_get_text (buffer, &start, &end, FALSE);
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
void
diffuse_window_apply_defaults (DiffuseWindow *self)
{
  g_autofree char *sampler = NULL;

  if (self->settings == NULL)
    return;
  gtk_spin_button_set_value (self->width_spin,
                             diffuse_round8 (g_settings_get_uint (self->settings,
                                                                  "default-width")));
  gtk_spin_button_set_value (self->height_spin,
                             diffuse_round8 (g_settings_get_uint (self->settings,
                                                                  "default-height")));
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
  diffuse_window_apply_defaults (self);
  if (g_settings_get_uint (self->settings, "last-width") > 0)
    {
      gtk_spin_button_set_value (self->width_spin,
                                 diffuse_round8 (g_settings_get_uint (self->settings,
                                                                      "last-width")));
      gtk_spin_button_set_value (self->height_spin,
                                 diffuse_round8 (g_settings_get_uint (self->settings,
                                                                      "last-height")));
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

void
diffuse_window_save_state (DiffuseWindow *self)
{
  gboolean maximized = gtk_window_is_maximized (GTK_WINDOW (self));
  g_autofree char *prompt = diffuse_window_buffer_text (self->prompt_view);
  g_autofree char *negative = diffuse_window_buffer_text (self->negative_view);
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
      gtk_spin_button_set_value (self->width_spin, diffuse_round8 (params->width));
      gtk_spin_button_set_value (self->height_spin, diffuse_round8 (params->height));
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

void
diffuse_window_update_canvas_state (DiffuseWindow *self)
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

void
diffuse_window_set_init_image (DiffuseWindow *self, const DfImage *image)
{
  diffuse_canvas_set_image (self->canvas, image);
  if (image != NULL)
    {
      /* Generate at the picture's size, rounded down to multiples of 8. */
      gtk_spin_button_set_value (self->width_spin, MAX (64, image->width / 8 * 8));
      gtk_spin_button_set_value (self->height_spin, MAX (64, image->height / 8 * 8));
    }
  adw_view_stack_set_visible_child_name (self->view_stack, "canvas");
  diffuse_window_update_canvas_state (self);
}

/* --- the model ----------------------------------------------------------------- */

gboolean
diffuse_window_get_model_ready (DiffuseWindow *self)
{
  g_return_val_if_fail (DIFFUSE_IS_WINDOW (self), FALSE);
  return self->model_ready;
}

void
diffuse_window_update_actions (DiffuseWindow *self)
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
      diffuse_window_show_toast (self, title);
    }
  else
    {
      g_warning ("Cannot load %s: %s", self->model_path, error->message);
      diffuse_window_show_error_dialog (self, _("Could Not Load the Model"), error->message);
    }
  diffuse_window_update_canvas_state (self);
  diffuse_window_update_actions (self);
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

  if (vocab_path == NULL && diffuse_window_needs_vocabulary (path))
    {
      diffuse_window_offer_vocabulary (self, path);
      return;
    }
  g_free (self->model_path);
  self->model_path = g_strdup (path);
  self->model_ready = FALSE;
  diffuse_window_update_canvas_state (self);
  diffuse_window_update_actions (self);
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

static void
gallery_open (DiffuseGallery *gallery, GFile *file, DiffuseWindow *self)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (DfImage) image = df_image_load_png (g_file_peek_path (file), &error);

  if (image == NULL)
    {
      diffuse_window_show_error_toast (self, _("Could not open the image"), error);
      return;
    }
  g_clear_pointer (&self->result, df_image_free);
  self->result = g_steal_pointer (&image);
  diffuse_canvas_set_preview (self->canvas, self->result);
  adw_view_stack_set_visible_child_name (self->view_stack, "canvas");
  diffuse_window_update_canvas_state (self);
}

static void
gallery_reuse (DiffuseGallery *gallery, GFile *file, DiffuseWindow *self)
{
  g_autoptr (GError) error = NULL;

  if (!diffuse_window_apply_params_from_file (self, g_file_peek_path (file), &error))
    diffuse_window_show_error_toast (self, _("The picture has no settings to reuse"), error);
  else
    diffuse_window_show_toast (self, _("Settings restored"));
}

static void
canvas_changed (DiffuseWindow *self)
{
  diffuse_window_update_canvas_state (self);
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

  diffuse_window_save_state (self);
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
  if (self->download_cancellable != NULL)
    g_cancellable_cancel (self->download_cancellable);
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
  g_clear_object (&self->download);
  g_clear_object (&self->download_cancellable);
  g_clear_pointer (&self->result, df_image_free);
  g_clear_pointer (&self->frames, g_ptr_array_unref);
  g_free (self->model_path);
  g_free (self->after_download_model);
  G_OBJECT_CLASS (diffuse_window_parent_class)->finalize (object);
}

static void
diffuse_window_class_init (DiffuseWindowClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);
  GtkWidgetClass *widget_class = GTK_WIDGET_CLASS (klass);
  GtkWindowClass *window_class = GTK_WINDOW_CLASS (klass);

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
  BIND (download_button);
  BIND (download_box);
  BIND (download_progress);
  BIND (download_label);
  BIND (interpolate_row);
  BIND (prompt_b_row);
  BIND (seed_b_spin);
  BIND (frames_spin);
  BIND (frame_strip_scroller);
  BIND (frame_strip);
#undef BIND

  diffuse_window_class_init_actions (widget_class);
}

static void
diffuse_window_init (DiffuseWindow *self)
{
  g_autoptr (GtkStringList) samplers = gtk_string_list_new (NULL);
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

  diffuse_window_init_dnd (self);
  label_icon_buttons (self->canvas_toolbar);

  self->settings = load_settings ();
  restore_state (self);
  if (self->settings != NULL)
    g_signal_connect_object (self->settings, "changed::gallery-folder",
                             G_CALLBACK (gallery_folder_changed), self, 0);
  diffuse_window_update_canvas_state (self);
  diffuse_window_update_actions (self);
  gtk_widget_action_set_enabled (GTK_WIDGET (self), "win.download-cancel", FALSE);

  model = self->settings != NULL ? g_settings_get_string (self->settings, "model-path") : NULL;
  if (model != NULL && model[0] != '\0')
    diffuse_window_load_model (self, model);
}

DiffuseWindow *
diffuse_window_new (DiffuseApplication *app)
{
  return g_object_new (DIFFUSE_TYPE_WINDOW, "application", app, NULL);
}

