/* diffuse-window-generate.c — generation: a DfJob from the controls
 * (copied on the main thread), progress with a preview and the time left,
 * and the results, which go to the gallery's history at once. */
#include "config.h"

#include "diffuse-window-private.h"
#include "diffuse-texture.h"

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
  diffuse_window_update_actions (self);
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
      diffuse_window_update_canvas_state (self);
    }
}

GPtrArray *
diffuse_window_get_frames (DiffuseWindow *self)
{
  g_return_val_if_fail (DIFFUSE_IS_WINDOW (self), NULL);
  return self->frames;
}

/* A frame of the strip was clicked: it becomes the picture shown. */
static void
frame_clicked (GtkButton *button, DiffuseWindow *self)
{
  guint index = GPOINTER_TO_UINT (g_object_get_data (G_OBJECT (button), "frame"));

  if (self->frames == NULL || index >= self->frames->len)
    return;
  g_clear_pointer (&self->result, df_image_free);
  self->result = df_image_copy (g_ptr_array_index (self->frames, index), NULL);
  diffuse_canvas_set_preview (self->canvas, self->result);
  diffuse_window_update_canvas_state (self);
}

/* The strip under the canvas: the frames in order, or hidden. */
static void
show_frames (DiffuseWindow *self, GPtrArray *frames)
{
  GtkWidget *child;

  while ((child = gtk_widget_get_first_child (GTK_WIDGET (self->frame_strip))) != NULL)
    gtk_box_remove (self->frame_strip, child);
  g_clear_pointer (&self->frames, g_ptr_array_unref);
  gtk_widget_set_visible (self->frame_strip_scroller, frames != NULL);
  if (frames == NULL)
    return;
  self->frames = g_ptr_array_ref (frames);
  for (guint i = 0; i < frames->len; i++)
    {
      g_autoptr (GdkTexture) texture =
          diffuse_texture_new_for_image (g_ptr_array_index (frames, i));
      g_autofree char *name = g_strdup_printf (_("Frame %u of %u"), i + 1, frames->len);
      GtkWidget *picture = gtk_picture_new_for_paintable (GDK_PAINTABLE (texture));
      GtkWidget *button = gtk_button_new ();

      gtk_widget_set_size_request (picture, 88, 88);
      gtk_button_set_child (GTK_BUTTON (button), picture);
      gtk_widget_add_css_class (button, "flat");
      gtk_widget_set_tooltip_text (button, name);
      gtk_accessible_update_property (GTK_ACCESSIBLE (button), GTK_ACCESSIBLE_PROPERTY_LABEL,
                                      name, -1);
      g_object_set_data (G_OBJECT (button), "frame", GUINT_TO_POINTER (i));
      g_signal_connect (button, "clicked", G_CALLBACK (frame_clicked), self);
      gtk_box_append (self->frame_strip, button);
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
        diffuse_window_show_toast (self, _("Cancelled"));
      else
        diffuse_window_show_engine_error (self, error);
      if (self->result != NULL)
        diffuse_canvas_set_preview (self->canvas, self->result);
      else
        diffuse_canvas_set_preview (self->canvas, NULL);
      diffuse_window_update_canvas_state (self);
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
        diffuse_window_show_error_toast (self, _("Could not save the picture"), save_error);
    }
  /* Interpolated frames went to the history together, one after the
   * other (one seed, numbered in order), and show as a strip. */
  show_frames (self, job->mode == DF_MODE_INTERPOLATE ? images : NULL);
  g_clear_pointer (&self->result, df_image_free);
  if (images->len > 0)
    self->result = df_image_copy (g_ptr_array_index (images, images->len - 1), NULL);
  diffuse_canvas_set_preview (self->canvas, self->result);
  diffuse_window_update_canvas_state (self);
}

/* The job the controls describe. */
static DfJob *
make_job (DiffuseWindow *self, GError **error)
{
  g_autoptr (DfJob) job = df_job_new ();
  const DfImage *init = diffuse_canvas_get_image (self->canvas);
  guint sampler = adw_combo_row_get_selected (self->sampler_row);

  job->prompt = diffuse_window_buffer_text (self->prompt_view);
  job->negative_prompt = diffuse_window_buffer_text (self->negative_view);
  job->width = diffuse_round8 (gtk_spin_button_get_value (self->width_spin));
  job->height = diffuse_round8 (gtk_spin_button_get_value (self->height_spin));
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
  if (adw_expander_row_get_enable_expansion (self->interpolate_row))
    {
      /* From (prompt, seed) to (end prompt, end seed); a start image
       * plays no part. */
      const char *prompt_b = gtk_editable_get_text (GTK_EDITABLE (self->prompt_b_row));

      job->mode = DF_MODE_INTERPOLATE;
      job->prompt_b = prompt_b[0] != '\0' ? g_strdup (prompt_b) : NULL;
      job->seed_b = (uint64_t) gtk_spin_button_get_value (self->seed_b_spin);
      job->frames = gtk_spin_button_get_value_as_int (self->frames_spin);
      job->batch_count = 1;
    }
  else if (init != NULL)
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

void
diffuse_window_generate (DiffuseWindow *self)
{
  g_autoptr (GError) error = NULL;

  if (self->generate_cancellable != NULL)
    return;
  if (!self->model_ready)
    {
      diffuse_window_show_toast (self, _("Choose a model first"));
      return;
    }
  /* A new seed each time, unless it is kept; shown, so it can be copied. */
  if (!gtk_toggle_button_get_active (self->seed_lock_button))
    gtk_spin_button_set_value (self->seed_spin, (double) g_random_int ());
  diffuse_window_save_state (self);

  self->job = make_job (self, &error);
  if (self->job == NULL)
    {
      diffuse_window_show_error_toast (self, _("Could not prepare the picture"), error);
      return;
    }
  self->preview_count = 0;
  self->generate_cancellable = g_cancellable_new ();
  set_running (self, TRUE);
  df_engine_generate_async (self->engine, self->job, on_progress, self,
                            self->generate_cancellable, generated, g_object_ref (self));
}

void
diffuse_window_cancel (DiffuseWindow *self)
{
  if (self->generate_cancellable != NULL)
    {
      g_cancellable_cancel (self->generate_cancellable);
      gtk_label_set_text (self->progress_label, _("Cancelling…"));
    }
}

