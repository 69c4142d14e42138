/* diffuse-window-download.c — downloads from the window: Stable Diffusion
 * 1.5 from the first-run page, and CLIP's vocabulary when a single-file
 * model comes without one.  A progress bar with the bytes and the time
 * left; Stop keeps what arrived, and the next download resumes it.
 *
 * DIFFUSE_DOWNLOAD_URL replaces the model's base URL (a mirror, or a
 * local server in tests). */
#include "config.h"

#include "diffuse-window-private.h"

#define VOCAB_NAME "bpe_simple_vocab_16e6.txt.gz"

char *
diffuse_window_data_dir (void)
{
  return g_build_filename (g_get_user_data_dir (), "diffuse", NULL);
}

gboolean
diffuse_window_needs_vocabulary (const char *path)
{
  g_autofree char *dir = diffuse_window_data_dir ();
  g_autofree char *user = g_build_filename (dir, VOCAB_NAME, NULL);
  const char *env = g_getenv ("DIFFUSE_CLIP_VOCAB");

  /* A diffusers folder brings its tokenizer; the engine looks in the
   * same places as here for the others. */
  if (!g_file_test (path, G_FILE_TEST_IS_REGULAR))
    return FALSE;
  if (env != NULL && env[0] != '\0')
    return FALSE;
  return !g_file_test (user, G_FILE_TEST_IS_REGULAR)
         && !g_file_test (PKGDATADIR "/" VOCAB_NAME, G_FILE_TEST_IS_REGULAR);
}

static void
update_download_state (DiffuseWindow *self)
{
  gboolean running = self->download != NULL;

  gtk_widget_set_visible (self->download_box, running);
  gtk_widget_set_visible (GTK_WIDGET (self->download_button), !running);
  gtk_widget_action_set_enabled (GTK_WIDGET (self), "win.download-model", !running);
  gtk_widget_action_set_enabled (GTK_WIDGET (self), "win.download-cancel", running);
}

static void
download_progress (DiffuseDownload *download, DiffuseWindow *self)
{
  guint64 received = diffuse_download_get_received (download);
  guint64 total = diffuse_download_get_total (download);
  int left = diffuse_download_get_seconds_left (download);
  g_autofree char *received_text = g_format_size (received);
  g_autofree char *total_text = total > 0 ? g_format_size (total) : NULL;
  g_autofree char *amount = NULL;
  g_autofree char *text = NULL;

  if (total > 0)
    {
      gtk_progress_bar_set_fraction (self->download_progress,
                                     CLAMP ((double) received / (double) total, 0.0, 1.0));
      /* Translators: bytes received of the total, e.g. "1.2 GB of 2.1 GB". */
      amount = g_strdup_printf (_("%s of %s"), received_text, total_text);
    }
  else
    {
      gtk_progress_bar_pulse (self->download_progress);
      amount = g_strdup (received_text);
    }
  if (left >= 120)
    text = g_strdup_printf (_("%s — about %d min left"), amount, (left + 30) / 60);
  else if (left >= 0)
    text = g_strdup_printf (_("%s — about %d s left"), amount, left);
  gtk_label_set_text (self->download_label, text != NULL ? text : amount);
}

/* The short sentence for a failed download; TRUE when it stops the task
 * (a dialog) rather than being worth another try (a toast). */
static const char *
describe_download_error (const GError *error, gboolean *blocking)
{
  *blocking = FALSE;
  if (g_error_matches (error, G_IO_ERROR, G_IO_ERROR_NO_SPACE))
    {
      *blocking = TRUE;
      return _("The disk is full");
    }
  if (g_error_matches (error, DIFFUSE_DOWNLOAD_ERROR, DIFFUSE_DOWNLOAD_ERROR_CHECKSUM)
      || g_error_matches (error, DIFFUSE_DOWNLOAD_ERROR, DIFFUSE_DOWNLOAD_ERROR_SIZE))
    return _("The downloaded file is damaged; try again");
  if (g_error_matches (error, DIFFUSE_DOWNLOAD_ERROR, DIFFUSE_DOWNLOAD_ERROR_HTTP))
    return _("The server refused the download");
  if (error->domain == G_IO_ERROR || error->domain == G_RESOLVER_ERROR
      || error->domain == G_TLS_ERROR)
    return _("Could not download: check the network connection");
  return _("Could not download");
}

typedef void (*DownloadedFunc) (DiffuseWindow *self, const char *folder);

static void
download_done (GObject *source, GAsyncResult *result, gpointer user_data)
{
  g_autoptr (DiffuseWindow) self = user_data;
  g_autoptr (DiffuseDownload) download = g_steal_pointer (&self->download);
  g_autoptr (GError) error = NULL;
  DownloadedFunc func = g_object_get_data (G_OBJECT (source), "done-func");
  const char *folder = g_object_get_data (G_OBJECT (source), "folder");

  g_clear_object (&self->download_cancellable);
  update_download_state (self);
  if (diffuse_download_run_finish (DIFFUSE_DOWNLOAD (source), result, &error))
    {
      func (self, folder);
      return;
    }
  g_clear_pointer (&self->after_download_model, g_free);
  if (g_error_matches (error, G_IO_ERROR, G_IO_ERROR_CANCELLED))
    diffuse_window_show_toast (self, _("Download stopped; it will resume where it stopped"));
  else
    {
      gboolean blocking;
      const char *title = describe_download_error (error, &blocking);

      diffuse_window_show_error (self, title, blocking, error);
    }
}

static void
start_download (DiffuseWindow *self, DiffuseDownload *download, const char *folder,
                DownloadedFunc func)
{
  g_return_if_fail (self->download == NULL);

  self->download = g_object_ref (download);
  self->download_cancellable = g_cancellable_new ();
  g_object_set_data_full (G_OBJECT (download), "folder", g_strdup (folder), g_free);
  g_object_set_data (G_OBJECT (download), "done-func", func);
  g_signal_connect_object (download, "progress", G_CALLBACK (download_progress), self, 0);
  gtk_progress_bar_set_fraction (self->download_progress, 0.0);
  gtk_label_set_text (self->download_label, _("Connecting…"));
  update_download_state (self);
  diffuse_download_run_async (download, self->download_cancellable, download_done,
                              g_object_ref (self));
}

static void
model_downloaded (DiffuseWindow *self, const char *folder)
{
  diffuse_window_load_model (self, folder);
}

void
diffuse_window_download_model (DiffuseWindow *self)
{
  g_autofree char *dir = diffuse_window_data_dir ();
  g_autofree char *folder = g_build_filename (dir, "models", DIFFUSE_SD15_NAME, NULL);
  const char *url = g_getenv ("DIFFUSE_DOWNLOAD_URL");
  g_autoptr (DiffuseDownload) download = NULL;

  if (self->download != NULL)
    return;
  download = diffuse_download_new (url != NULL && url[0] != '\0' ? url : DIFFUSE_SD15_URL, folder);
  diffuse_download_add_files (download, diffuse_sd15_files, diffuse_sd15_n_files);
  start_download (self, download, folder, model_downloaded);
}

void
diffuse_window_download_cancel (DiffuseWindow *self)
{
  if (self->download_cancellable != NULL)
    g_cancellable_cancel (self->download_cancellable);
}

static void
vocabulary_downloaded (DiffuseWindow *self, const char *folder)
{
  g_autofree char *model = g_steal_pointer (&self->after_download_model);
  g_autofree char *vocab = g_build_filename (folder, VOCAB_NAME, NULL);

  if (model != NULL)
    diffuse_window_load_model_full (self, model, vocab);
}

static void
vocabulary_response (AdwMessageDialog *dialog, const char *response, DiffuseWindow *self)
{
  g_autofree char *folder = diffuse_window_data_dir ();
  g_autoptr (DiffuseDownload) download = NULL;

  if (!g_str_equal (response, "download") || self->download != NULL)
    {
      g_clear_pointer (&self->after_download_model, g_free);
      return;
    }
  download = diffuse_download_new (DIFFUSE_CLIP_VOCAB_URL, folder);
  diffuse_download_add_file (download, &diffuse_clip_vocab_file);
  start_download (self, download, folder, vocabulary_downloaded);
}

void
diffuse_window_offer_vocabulary (DiffuseWindow *self, const char *model_path)
{
  GtkWidget *dialog;

  g_free (self->after_download_model);
  self->after_download_model = g_strdup (model_path);
  dialog = adw_message_dialog_new (GTK_WINDOW (self), _("Download the Text Vocabulary?"),
                                   _("This model file has no vocabulary for reading prompts. "
                                     "Diffuse can download CLIP’s vocabulary (1.3 MB) once "
                                     "and use it for every such model."));
  adw_message_dialog_add_responses (ADW_MESSAGE_DIALOG (dialog), "cancel", _("_Cancel"),
                                    "download", _("_Download"), NULL);
  adw_message_dialog_set_response_appearance (ADW_MESSAGE_DIALOG (dialog), "download",
                                              ADW_RESPONSE_SUGGESTED);
  adw_message_dialog_set_default_response (ADW_MESSAGE_DIALOG (dialog), "download");
  adw_message_dialog_set_close_response (ADW_MESSAGE_DIALOG (dialog), "cancel");
  g_signal_connect_object (dialog, "response", G_CALLBACK (vocabulary_response), self, 0);
  gtk_window_present (GTK_WINDOW (dialog));
}
