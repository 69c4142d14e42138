/* diffuse-download.c — model files over HTTP(S), resumable and checked.
 *
 * Everything runs in the main context with libsoup's async API: one GET
 * per file, the body read in chunks and appended to NAME.part, then the
 * .part hashed on a worker thread (a model file is gigabytes) and renamed
 * to NAME.  See diffuse-download.h for what is kept and what is deleted. */
#include "config.h"

#include <errno.h>
#include <glib/gstdio.h>
#include <libsoup/soup.h>

#include "diffuse-download.h"

#define CHUNK_SIZE (64 * 1024)
#define PROGRESS_INTERVAL_US (100 * 1000) /* at most ten progress signals a second */

G_DEFINE_QUARK (diffuse-download-error-quark, diffuse_download_error)

/* The files of stable-diffusion-v1-5/stable-diffusion-v1-5 that our
 * diffusers loader reads, with fp16 weights.  Sizes and checksums: we
 * could not look them up when this table was written (no network), so
 * none is given and these files are checked only for a complete transfer
 * (the Content-Length the server announces).  Fill in a size and a
 * SHA-256 (the LFS object id on the model page) to have them verified. */
const DiffuseDownloadFile diffuse_sd15_files[] = {
  { "model_index.json", 0, NULL },
  { "scheduler/scheduler_config.json", 0, NULL },
  { "text_encoder/config.json", 0, NULL },
  { "text_encoder/model.fp16.safetensors", 0, NULL },
  { "tokenizer/vocab.json", 0, NULL },
  { "tokenizer/merges.txt", 0, NULL },
  { "tokenizer/tokenizer_config.json", 0, NULL },
  { "tokenizer/special_tokens_map.json", 0, NULL },
  { "unet/config.json", 0, NULL },
  { "unet/diffusion_pytorch_model.fp16.safetensors", 0, NULL },
  { "vae/config.json", 0, NULL },
  { "vae/diffusion_pytorch_model.fp16.safetensors", 0, NULL },
};
const guint diffuse_sd15_n_files = G_N_ELEMENTS (diffuse_sd15_files);

/* Pinned: the size and SHA-256 of the copy in shared/data/clip, which is
 * the file CLIP's repository serves. */
const DiffuseDownloadFile diffuse_clip_vocab_file = {
  "bpe_simple_vocab_16e6.txt.gz", 1356917,
  "924691ac288e54409236115652ad4aa250f48203de50a9e4722a6ecd48d6804a"
};

typedef struct
{
  char *path;
  guint64 size;
  char *sha256;
  guint64 learned; /* the size found out on the way, when size is 0 */
} FileEntry;

struct _DiffuseDownload
{
  GObject parent_instance;

  /* owned */
  char *base_url;
  char *folder;
  GArray *files; /* FileEntry */
  SoupSession *session;

  /* the run in progress */
  GTask *task;
  guint index;            /* the file being fetched */
  guint64 done_bytes;     /* of the files before index */
  guint64 part_bytes;     /* on disk for the current file */
  gint64 file_size;       /* expected size of the current file, -1 unknown */
  guint64 transferred;    /* bytes received from the server this run */
  gint64 started_us;
  gint64 last_progress_us;
  SoupMessage *message;
  GInputStream *input;
  GOutputStream *output;
  GBytes *chunk;
};

G_DEFINE_FINAL_TYPE (DiffuseDownload, diffuse_download, G_TYPE_OBJECT)

enum
{
  SIGNAL_PROGRESS,
  N_SIGNALS
};

static guint signals[N_SIGNALS];

static void
file_entry_clear (FileEntry *entry)
{
  g_free (entry->path);
  g_free (entry->sha256);
}

/* --- progress ------------------------------------------------------------------- */

guint64
diffuse_download_get_received (DiffuseDownload *self)
{
  g_return_val_if_fail (DIFFUSE_IS_DOWNLOAD (self), 0);
  return self->done_bytes + self->part_bytes;
}

guint64
diffuse_download_get_total (DiffuseDownload *self)
{
  guint64 total = 0;

  g_return_val_if_fail (DIFFUSE_IS_DOWNLOAD (self), 0);
  for (guint i = 0; i < self->files->len; i++)
    {
      const FileEntry *entry = &g_array_index (self->files, FileEntry, i);

      if (entry->size > 0)
        total += entry->size;
      else if (entry->learned > 0)
        total += entry->learned;
      else if (i == self->index && self->file_size >= 0)
        total += (guint64) self->file_size;
      else
        return 0; /* a size not known yet */
    }
  return total;
}

const char *
diffuse_download_get_current (DiffuseDownload *self)
{
  g_return_val_if_fail (DIFFUSE_IS_DOWNLOAD (self), NULL);
  if (self->index >= self->files->len)
    return NULL;
  return g_array_index (self->files, FileEntry, self->index).path;
}

guint64
diffuse_download_get_transferred (DiffuseDownload *self)
{
  g_return_val_if_fail (DIFFUSE_IS_DOWNLOAD (self), 0);
  return self->transferred;
}

int
diffuse_download_get_seconds_left (DiffuseDownload *self)
{
  guint64 total = diffuse_download_get_total (self);
  guint64 received = diffuse_download_get_received (self);
  double elapsed = (double) (g_get_monotonic_time () - self->started_us) / G_USEC_PER_SEC;
  double rate;

  g_return_val_if_fail (DIFFUSE_IS_DOWNLOAD (self), -1);
  /* The rate of this run only: resumed bytes did not cost any time. */
  if (total == 0 || self->transferred == 0 || elapsed < 0.5)
    return -1;
  rate = (double) self->transferred / elapsed;
  return (int) ((double) (total - MIN (total, received)) / rate + 0.5);
}

gboolean
diffuse_download_is_running (DiffuseDownload *self)
{
  g_return_val_if_fail (DIFFUSE_IS_DOWNLOAD (self), FALSE);
  return self->task != NULL;
}

static void
emit_progress (DiffuseDownload *self, gboolean force)
{
  gint64 now = g_get_monotonic_time ();

  /* Forced ones (a file starts or ends) do not count, so the first
   * chunk of each file always shows. */
  if (!force)
    {
      if (now - self->last_progress_us < PROGRESS_INTERVAL_US)
        return;
      self->last_progress_us = now;
    }
  g_signal_emit (self, signals[SIGNAL_PROGRESS], 0);
}

/* --- the run -------------------------------------------------------------------- */

static void next_file (DiffuseDownload *self);

static FileEntry *
current_entry (DiffuseDownload *self)
{
  return &g_array_index (self->files, FileEntry, self->index);
}

static char *
current_path (DiffuseDownload *self, const char *suffix)
{
  g_autofree char *path = g_build_filename (self->folder, current_entry (self)->path, NULL);

  return g_strconcat (path, suffix, NULL);
}

static void
clear_transfer (DiffuseDownload *self)
{
  if (self->output != NULL)
    g_output_stream_close (self->output, NULL, NULL); /* what was written stays */
  g_clear_object (&self->output);
  g_clear_object (&self->input);
  g_clear_object (&self->message);
  g_clear_pointer (&self->chunk, g_bytes_unref);
}

/* Ends the run; takes @error. */
static void
finish (DiffuseDownload *self, GError *error)
{
  g_autoptr (GTask) task = g_steal_pointer (&self->task);

  clear_transfer (self);
  if (error != NULL)
    g_task_return_error (task, error);
  else
    {
      emit_progress (self, TRUE);
      g_task_return_boolean (task, TRUE);
    }
}

static void
file_done (DiffuseDownload *self)
{
  current_entry (self)->learned = self->part_bytes;
  self->done_bytes += self->part_bytes;
  self->part_bytes = 0;
  self->index++;
  next_file (self);
}

/* Hashing the finished .part, on a worker thread. */
typedef struct
{
  char *path;
  char *sha256; /* expected, or NULL */
  guint64 size; /* expected, or 0 */
} VerifyData;

static void
verify_data_free (VerifyData *data)
{
  g_free (data->path);
  g_free (data->sha256);
  g_free (data);
}

static void
verify_thread (GTask *task, gpointer source, gpointer task_data, GCancellable *cancellable)
{
  VerifyData *data = task_data;
  g_autoptr (GChecksum) checksum = g_checksum_new (G_CHECKSUM_SHA256);
  g_autofree guint8 *buffer = g_malloc (1 << 20);
  g_autofree char *name = g_path_get_basename (data->path);
  guint64 size = 0;
  FILE *file;
  size_t n;

  file = g_fopen (data->path, "rb");
  if (file == NULL)
    {
      int saved = errno;

      g_task_return_new_error (task, G_IO_ERROR, g_io_error_from_errno (saved),
                               "cannot read %s: %s", data->path, g_strerror (saved));
      return;
    }
  while ((n = fread (buffer, 1, 1 << 20, file)) > 0)
    {
      if (data->sha256 != NULL)
        g_checksum_update (checksum, buffer, (gssize) n);
      size += n;
      if (g_cancellable_is_cancelled (cancellable))
        break;
    }
  fclose (file);
  if (g_task_return_error_if_cancelled (task))
    return;
  if (data->size > 0 && size != data->size)
    {
      g_task_return_new_error (task, DIFFUSE_DOWNLOAD_ERROR, DIFFUSE_DOWNLOAD_ERROR_SIZE,
                               "%s has %" G_GUINT64_FORMAT " bytes, expected %" G_GUINT64_FORMAT,
                               name, size, data->size);
      return;
    }
  if (data->sha256 != NULL
      && g_ascii_strcasecmp (g_checksum_get_string (checksum), data->sha256) != 0)
    {
      g_task_return_new_error (task, DIFFUSE_DOWNLOAD_ERROR, DIFFUSE_DOWNLOAD_ERROR_CHECKSUM,
                               "%s has SHA-256 %s, expected %s", name,
                               g_checksum_get_string (checksum), data->sha256);
      return;
    }
  g_task_return_boolean (task, TRUE);
}

static void
verified (GObject *source, GAsyncResult *result, gpointer user_data)
{
  DiffuseDownload *self = DIFFUSE_DOWNLOAD (source);
  g_autoptr (GError) error = NULL;
  g_autofree char *part = current_path (self, ".part");
  g_autofree char *final = current_path (self, "");

  if (!g_task_propagate_boolean (G_TASK (result), &error))
    {
      /* A wrong file cannot be mended by resuming it: start afresh. */
      if (error->domain == DIFFUSE_DOWNLOAD_ERROR)
        g_unlink (part);
      finish (self, g_steal_pointer (&error));
      return;
    }
  if (g_rename (part, final) != 0)
    {
      int saved = errno;

      finish (self, g_error_new (G_IO_ERROR, g_io_error_from_errno (saved),
                                 "cannot rename %s: %s", part, g_strerror (saved)));
      return;
    }
  file_done (self);
}

static void
verify (DiffuseDownload *self)
{
  g_autoptr (GTask) task = g_task_new (self, g_task_get_cancellable (self->task), verified, NULL);
  VerifyData *data = g_new0 (VerifyData, 1);
  const FileEntry *entry = current_entry (self);

  clear_transfer (self);
  data->path = current_path (self, ".part");
  data->sha256 = g_strdup (entry->sha256);
  data->size = entry->size;
  if (data->size == 0 && self->file_size >= 0)
    data->size = (guint64) self->file_size;
  g_task_set_task_data (task, data, (GDestroyNotify) verify_data_free);
  g_task_run_in_thread (task, verify_thread);
}

static void read_chunk (DiffuseDownload *self);

static void
chunk_written (GObject *source, GAsyncResult *result, gpointer user_data)
{
  DiffuseDownload *self = user_data;
  GError *error = NULL;
  gsize written = 0;

  if (!g_output_stream_write_all_finish (G_OUTPUT_STREAM (source), result, &written, &error))
    {
      finish (self, error);
      return;
    }
  self->part_bytes += written;
  self->transferred += written;
  g_clear_pointer (&self->chunk, g_bytes_unref);
  emit_progress (self, FALSE);
  read_chunk (self);
}

static void
chunk_read (GObject *source, GAsyncResult *result, gpointer user_data)
{
  DiffuseDownload *self = user_data;
  GError *error = NULL;
  GBytes *bytes = g_input_stream_read_bytes_finish (G_INPUT_STREAM (source), result, &error);

  if (bytes == NULL)
    {
      finish (self, error);
      return;
    }
  if (g_bytes_get_size (bytes) == 0)
    {
      g_bytes_unref (bytes);
      /* The server announced a length: a shorter body was cut off. */
      if (self->file_size >= 0 && self->part_bytes < (guint64) self->file_size)
        {
          finish (self, g_error_new (G_IO_ERROR, G_IO_ERROR_PARTIAL_INPUT,
                                     "the connection closed after %" G_GUINT64_FORMAT " of %"
                                     G_GINT64_FORMAT " bytes of %s",
                                     self->part_bytes, self->file_size,
                                     current_entry (self)->path));
          return;
        }
      emit_progress (self, TRUE);
      verify (self);
      return;
    }
  self->chunk = bytes;
  g_output_stream_write_all_async (self->output, g_bytes_get_data (bytes, NULL),
                                   g_bytes_get_size (bytes), G_PRIORITY_DEFAULT,
                                   g_task_get_cancellable (self->task), chunk_written, self);
}

static void
read_chunk (DiffuseDownload *self)
{
  g_input_stream_read_bytes_async (self->input, CHUNK_SIZE, G_PRIORITY_DEFAULT,
                                   g_task_get_cancellable (self->task), chunk_read, self);
}

static void
sent (GObject *source, GAsyncResult *result, gpointer user_data)
{
  DiffuseDownload *self = user_data;
  GError *error = NULL;
  g_autofree char *part = current_path (self, ".part");
  g_autoptr (GFile) part_file = g_file_new_for_path (part);
  SoupMessageHeaders *headers;
  guint status;
  goffset start, end, length;

  self->input = soup_session_send_finish (SOUP_SESSION (source), result, &error);
  if (self->input == NULL)
    {
      finish (self, error);
      return;
    }
  status = soup_message_get_status (self->message);
  headers = soup_message_get_response_headers (self->message);
  if (status == SOUP_STATUS_REQUESTED_RANGE_NOT_SATISFIABLE && self->part_bytes > 0)
    {
      /* Nothing past what we have: the .part is whole (or wrong, which
       * the check finds). */
      verify (self);
      return;
    }
  if (status == SOUP_STATUS_PARTIAL_CONTENT
      && soup_message_headers_get_content_range (headers, &start, &end, &length)
      && (guint64) start == self->part_bytes)
    self->file_size = length;
  else if (status == SOUP_STATUS_OK)
    {
      /* A server that ignores ranges sends it all again. */
      g_unlink (part);
      self->part_bytes = 0;
      if (soup_message_headers_get_encoding (headers) == SOUP_ENCODING_CONTENT_LENGTH)
        self->file_size = soup_message_headers_get_content_length (headers);
      else
        self->file_size = -1;
    }
  else
    {
      finish (self, g_error_new (DIFFUSE_DOWNLOAD_ERROR, DIFFUSE_DOWNLOAD_ERROR_HTTP,
                                 "%s: the server answered %u %s", current_entry (self)->path,
                                 status, soup_message_get_reason_phrase (self->message)));
      return;
    }
  self->output = G_OUTPUT_STREAM (g_file_append_to (part_file, G_FILE_CREATE_NONE,
                                                    g_task_get_cancellable (self->task), &error));
  if (self->output == NULL)
    {
      finish (self, error);
      return;
    }
  emit_progress (self, TRUE);
  read_chunk (self);
}

/* Fails early when the folder's disk cannot hold what is left. */
static gboolean
check_space (DiffuseDownload *self, GError **error)
{
  g_autoptr (GFile) folder = g_file_new_for_path (self->folder);
  g_autoptr (GFileInfo) info = NULL;
  guint64 needed = 0, free_bytes;

  for (guint i = self->index; i < self->files->len; i++)
    needed += g_array_index (self->files, FileEntry, i).size;
  info = g_file_query_filesystem_info (folder, G_FILE_ATTRIBUTE_FILESYSTEM_FREE, NULL, NULL);
  if (info == NULL || !g_file_info_has_attribute (info, G_FILE_ATTRIBUTE_FILESYSTEM_FREE))
    return TRUE;
  free_bytes = g_file_info_get_attribute_uint64 (info, G_FILE_ATTRIBUTE_FILESYSTEM_FREE);
  if (needed > free_bytes)
    {
      g_set_error (error, G_IO_ERROR, G_IO_ERROR_NO_SPACE,
                   "%s needs %" G_GUINT64_FORMAT " MB and has %" G_GUINT64_FORMAT " MB free",
                   self->folder, needed >> 20, free_bytes >> 20);
      return FALSE;
    }
  return TRUE;
}

static void
next_file (DiffuseDownload *self)
{
  g_autofree char *final = NULL;
  g_autofree char *part = NULL;
  g_autofree char *dir = NULL;
  g_autofree char *url = NULL;
  const FileEntry *entry;
  GStatBuf st;

  if (g_task_return_error_if_cancelled (self->task))
    {
      g_clear_object (&self->task);
      return;
    }
  if (self->index >= self->files->len)
    {
      finish (self, NULL);
      return;
    }
  entry = current_entry (self);
  final = current_path (self, "");
  part = current_path (self, ".part");
  self->file_size = entry->size > 0 ? (gint64) entry->size : -1;
  self->last_progress_us = 0;

  /* A finished name is a checked file (it is renamed only then). */
  if (g_stat (final, &st) == 0)
    {
      self->part_bytes = (guint64) st.st_size;
      self->file_size = st.st_size;
      file_done (self);
      return;
    }
  dir = g_path_get_dirname (final);
  if (g_mkdir_with_parents (dir, 0755) != 0)
    {
      int saved = errno;

      finish (self, g_error_new (G_IO_ERROR, g_io_error_from_errno (saved),
                                 "cannot create %s: %s", dir, g_strerror (saved)));
      return;
    }
  self->part_bytes = g_stat (part, &st) == 0 ? (guint64) st.st_size : 0;
  if (entry->size > 0 && self->part_bytes > entry->size)
    {
      g_unlink (part);
      self->part_bytes = 0;
    }
  if (entry->size > 0 && self->part_bytes == entry->size)
    {
      verify (self);
      return;
    }

  url = g_strconcat (self->base_url, entry->path, NULL);
  self->message = soup_message_new (SOUP_METHOD_GET, url);
  if (self->message == NULL)
    {
      finish (self, g_error_new (G_IO_ERROR, G_IO_ERROR_INVALID_ARGUMENT, "not a URL: %s", url));
      return;
    }
  if (self->part_bytes > 0)
    soup_message_headers_set_range (soup_message_get_request_headers (self->message),
                                    (goffset) self->part_bytes, -1);
  soup_session_send_async (self->session, self->message, G_PRIORITY_DEFAULT,
                           g_task_get_cancellable (self->task), sent, self);
}

void
diffuse_download_run_async (DiffuseDownload *self, GCancellable *cancellable,
                            GAsyncReadyCallback callback, gpointer user_data)
{
  GError *error = NULL;

  g_return_if_fail (DIFFUSE_IS_DOWNLOAD (self));
  g_return_if_fail (self->task == NULL);

  self->task = g_task_new (self, cancellable, callback, user_data);
  g_task_set_source_tag (self->task, diffuse_download_run_async);
  self->index = 0;
  self->done_bytes = self->part_bytes = self->transferred = 0;
  self->file_size = -1;
  self->started_us = g_get_monotonic_time ();
  if (g_mkdir_with_parents (self->folder, 0755) != 0)
    {
      int saved = errno;

      finish (self, g_error_new (G_IO_ERROR, g_io_error_from_errno (saved),
                                 "cannot create %s: %s", self->folder, g_strerror (saved)));
      return;
    }
  if (!check_space (self, &error))
    {
      finish (self, error);
      return;
    }
  next_file (self);
}

gboolean
diffuse_download_run_finish (DiffuseDownload *self, GAsyncResult *result, GError **error)
{
  g_return_val_if_fail (g_task_is_valid (result, self), FALSE);
  return g_task_propagate_boolean (G_TASK (result), error);
}

/* --- GObject -------------------------------------------------------------------- */

void
diffuse_download_add_file (DiffuseDownload *self, const DiffuseDownloadFile *file)
{
  FileEntry entry = { 0 };

  g_return_if_fail (DIFFUSE_IS_DOWNLOAD (self));
  g_return_if_fail (self->task == NULL);
  g_return_if_fail (file != NULL && file->path != NULL);

  entry.path = g_strdup (file->path);
  entry.size = file->size;
  entry.sha256 = g_strdup (file->sha256);
  g_array_append_val (self->files, entry);
}

void
diffuse_download_add_files (DiffuseDownload *self, const DiffuseDownloadFile *files,
                            guint n_files)
{
  for (guint i = 0; i < n_files; i++)
    diffuse_download_add_file (self, &files[i]);
}

static void
diffuse_download_finalize (GObject *object)
{
  DiffuseDownload *self = DIFFUSE_DOWNLOAD (object);

  /* Every async step holds the task, which holds us: no run is left. */
  clear_transfer (self);
  g_clear_object (&self->session);
  g_array_unref (self->files);
  g_free (self->base_url);
  g_free (self->folder);
  G_OBJECT_CLASS (diffuse_download_parent_class)->finalize (object);
}

static void
diffuse_download_class_init (DiffuseDownloadClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);

  object_class->finalize = diffuse_download_finalize;

  /* Emitted when the bytes received (or the total) moved. */
  signals[SIGNAL_PROGRESS] = g_signal_new ("progress", G_TYPE_FROM_CLASS (klass),
                                           G_SIGNAL_RUN_LAST, 0, NULL, NULL, NULL,
                                           G_TYPE_NONE, 0);
}

static void
diffuse_download_init (DiffuseDownload *self)
{
  self->files = g_array_new (FALSE, TRUE, sizeof (FileEntry));
  g_array_set_clear_func (self->files, (GDestroyNotify) file_entry_clear);
  self->session = soup_session_new_with_options ("user-agent", "Diffuse/" PACKAGE_VERSION, NULL);
  self->file_size = -1;
}

DiffuseDownload *
diffuse_download_new (const char *base_url, const char *folder)
{
  DiffuseDownload *self;

  g_return_val_if_fail (base_url != NULL, NULL);
  g_return_val_if_fail (folder != NULL, NULL);

  self = g_object_new (DIFFUSE_TYPE_DOWNLOAD, NULL);
  self->base_url = g_strdup (base_url);
  self->folder = g_strdup (folder);
  return self;
}
