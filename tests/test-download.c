/* test-download.c — DiffuseDownload against a SoupServer in this process,
 * on 127.0.0.1 only, serving files from a temporary folder with Range
 * support: progress, files in subfolders renamed only when whole, resume
 * with a Range request after a cancelled transfer, a checksum or size
 * mismatch refused (and the .part deleted), an HTTP error, and the pinned
 * CLIP vocabulary accepted.  Nothing here reaches past the loopback. */
#include "config.h"

#include <glib/gstdio.h>
#include <libsoup/soup.h>
#include <string.h>

#include "diffuse-download.h"

typedef struct
{
  SoupServer *server;
  char *served;  /* the folder the server serves */
  char *target;  /* the folder downloads go to */
  char *url;     /* http://127.0.0.1:PORT/ */
  guint requests;
  gint64 last_range_start; /* -1: the last request had no Range */
} Fixture;

static void
serve (SoupServer *server, SoupServerMessage *msg, const char *path, GHashTable *query,
       gpointer user_data)
{
  Fixture *f = user_data;
  g_autofree char *file = g_build_filename (f->served, path, NULL);
  g_autofree char *contents = NULL;
  SoupMessageHeaders *request = soup_server_message_get_request_headers (msg);
  SoupMessageHeaders *response = soup_server_message_get_response_headers (msg);
  SoupRange *ranges = NULL;
  int n_ranges = 0;
  gsize length;

  f->requests++;
  f->last_range_start = -1;
  if (!g_file_get_contents (file, &contents, &length, NULL))
    {
      soup_server_message_set_status (msg, SOUP_STATUS_NOT_FOUND, NULL);
      return;
    }
  if (soup_message_headers_get_ranges (request, (goffset) length, &ranges, &n_ranges))
    {
      goffset start = ranges[0].start, end = ranges[0].end;

      f->last_range_start = start;
      soup_message_headers_free_ranges (request, ranges);
      soup_message_headers_set_content_range (response, start, end, (goffset) length);
      soup_server_message_set_status (msg, SOUP_STATUS_PARTIAL_CONTENT, NULL);
      soup_server_message_set_response (msg, "application/octet-stream", SOUP_MEMORY_COPY,
                                        contents + start, (gsize) (end - start + 1));
      return;
    }
  if (soup_message_headers_get_one (request, "Range") != NULL)
    {
      soup_server_message_set_status (msg, SOUP_STATUS_REQUESTED_RANGE_NOT_SATISFIABLE, NULL);
      return;
    }
  soup_server_message_set_status (msg, SOUP_STATUS_OK, NULL);
  soup_server_message_set_response (msg, "application/octet-stream", SOUP_MEMORY_COPY, contents,
                                    length);
}

static void
fixture_set_up (Fixture *f, gconstpointer data)
{
  g_autoptr (GError) error = NULL;
  GSList *uris;

  f->served = g_dir_make_tmp ("diffuse-served-XXXXXX", &error);
  g_assert_no_error (error);
  f->target = g_dir_make_tmp ("diffuse-models-XXXXXX", &error);
  g_assert_no_error (error);
  f->server = soup_server_new (NULL, NULL);
  soup_server_add_handler (f->server, NULL, serve, f, NULL);
  /* Loopback only: the test never listens beyond this machine. */
  g_assert_true (soup_server_listen_local (f->server, 0, SOUP_SERVER_LISTEN_IPV4_ONLY, &error));
  g_assert_no_error (error);
  uris = soup_server_get_uris (f->server);
  g_assert_nonnull (uris);
  f->url = g_uri_to_string (uris->data);
  g_assert_true (g_str_has_prefix (f->url, "http://127.0.0.1:"));
  g_assert_true (g_str_has_suffix (f->url, "/"));
  g_slist_free_full (uris, (GDestroyNotify) g_uri_unref);
}

static void
remove_tree (const char *path)
{
  g_autoptr (GDir) dir = g_dir_open (path, 0, NULL);
  const char *name;

  if (dir != NULL)
    while ((name = g_dir_read_name (dir)) != NULL)
      {
        g_autofree char *child = g_build_filename (path, name, NULL);

        remove_tree (child);
      }
  g_remove (path);
}

static void
fixture_tear_down (Fixture *f, gconstpointer data)
{
  soup_server_disconnect (f->server);
  g_clear_object (&f->server);
  remove_tree (f->served);
  remove_tree (f->target);
  g_free (f->served);
  g_free (f->target);
  g_free (f->url);
}

/* Writes @size bytes of a pattern to served/@path; returns its SHA-256. */
static char *
serve_file (Fixture *f, const char *path, gsize size, guint8 salt)
{
  g_autofree char *file = g_build_filename (f->served, path, NULL);
  g_autofree char *dir = g_path_get_dirname (file);
  g_autofree guint8 *data = g_malloc (size);
  g_autoptr (GError) error = NULL;

  for (gsize i = 0; i < size; i++)
    data[i] = (guint8) ((i * 2654435761u) >> 13) ^ salt;
  g_assert_cmpint (g_mkdir_with_parents (dir, 0755), ==, 0);
  g_assert_true (g_file_set_contents (file, (char *) data, (gssize) size, &error));
  g_assert_no_error (error);
  return g_compute_checksum_for_data (G_CHECKSUM_SHA256, data, size);
}

static gboolean
files_equal (const char *a, const char *b)
{
  g_autofree char *da = NULL;
  g_autofree char *db = NULL;
  gsize la, lb;

  if (!g_file_get_contents (a, &da, &la, NULL) || !g_file_get_contents (b, &db, &lb, NULL))
    return FALSE;
  return la == lb && memcmp (da, db, la) == 0;
}

typedef struct
{
  gboolean done;
  gboolean ok;
  GError *error;
  guint progress_calls;
  guint64 last_received;
  gboolean went_back;
  GCancellable *cancel_after_data; /* cancelled once some bytes are on disk */
  guint64 received_at_cancel;
} Run;

static void
on_progress (DiffuseDownload *download, Run *run)
{
  guint64 received = diffuse_download_get_received (download);

  run->progress_calls++;
  if (received < run->last_received)
    run->went_back = TRUE;
  run->last_received = received;
  if (run->cancel_after_data != NULL && received > 0
      && !g_cancellable_is_cancelled (run->cancel_after_data))
    {
      run->received_at_cancel = received;
      g_cancellable_cancel (run->cancel_after_data);
    }
}

static void
run_done (GObject *source, GAsyncResult *result, gpointer user_data)
{
  Run *run = user_data;

  run->ok = diffuse_download_run_finish (DIFFUSE_DOWNLOAD (source), result, &run->error);
  run->done = TRUE;
}

static void
run_download (DiffuseDownload *download, GCancellable *cancellable, Run *run)
{
  gint64 deadline = g_get_monotonic_time () + 30 * G_USEC_PER_SEC;
  gulong id = g_signal_connect (download, "progress", G_CALLBACK (on_progress), run);

  diffuse_download_run_async (download, cancellable, run_done, run);
  while (!run->done && g_get_monotonic_time () < deadline)
    g_main_context_iteration (NULL, TRUE);
  g_assert_true (run->done);
  g_assert_false (diffuse_download_is_running (download));
  g_signal_handler_disconnect (download, id);
}

static char *
target_path (Fixture *f, const char *path)
{
  return g_build_filename (f->target, path, NULL);
}

/* Two files, one in a subfolder, one with its checksum known: both
 * arrive whole, progress climbs to the total, no .part is left. */
static void
test_download_complete (Fixture *f, gconstpointer data)
{
  g_autofree char *sum = serve_file (f, "unet/weights.bin", 300 * 1024 + 7, 1);
  g_autofree char *unused = serve_file (f, "model_index.json", 123, 2);
  g_autoptr (DiffuseDownload) download = diffuse_download_new (f->url, f->target);
  g_autofree char *got = target_path (f, "unet/weights.bin");
  g_autofree char *got_index = target_path (f, "model_index.json");
  g_autofree char *served = g_build_filename (f->served, "unet/weights.bin", NULL);
  g_autofree char *part = g_strconcat (got, ".part", NULL);
  const DiffuseDownloadFile files[] = {
    { "model_index.json", 0, NULL },
    { "unet/weights.bin", 300 * 1024 + 7, sum },
  };
  Run run = { 0 };

  diffuse_download_add_files (download, files, G_N_ELEMENTS (files));
  run_download (download, NULL, &run);
  g_assert_no_error (run.error);
  g_assert_true (run.ok);
  g_assert_true (files_equal (got, served));
  g_assert_true (g_file_test (got_index, G_FILE_TEST_IS_REGULAR));
  g_assert_false (g_file_test (part, G_FILE_TEST_EXISTS));
  g_assert_cmpuint (run.progress_calls, >=, 2);
  g_assert_false (run.went_back);
  g_assert_cmpuint (run.last_received, ==, 300 * 1024 + 7 + 123);
  g_assert_cmpuint (diffuse_download_get_total (download), ==, 300 * 1024 + 7 + 123);
  g_assert_cmpuint (diffuse_download_get_transferred (download), ==, 300 * 1024 + 7 + 123);
  g_assert_cmpuint (f->requests, ==, 2);

  /* Run again: what is there is not fetched twice. */
  memset (&run, 0, sizeof run);
  f->requests = 0;
  run_download (download, NULL, &run);
  g_assert_true (run.ok);
  g_assert_cmpuint (f->requests, ==, 0);
  g_assert_cmpuint (diffuse_download_get_received (download), ==, 300 * 1024 + 7 + 123);
}

/* A transfer cancelled midway keeps its .part; the next run asks only
 * for the rest (Range) and the joined file is the served one. */
static void
test_download_resume (Fixture *f, gconstpointer data)
{
  const gsize size = 1024 * 1024 + 13;
  g_autofree char *sum = serve_file (f, "vae/weights.bin", size, 3);
  g_autoptr (DiffuseDownload) download = diffuse_download_new (f->url, f->target);
  g_autoptr (GCancellable) cancellable = g_cancellable_new ();
  g_autofree char *got = target_path (f, "vae/weights.bin");
  g_autofree char *part = g_strconcat (got, ".part", NULL);
  g_autofree char *served = g_build_filename (f->served, "vae/weights.bin", NULL);
  const DiffuseDownloadFile file = { "vae/weights.bin", size, sum };
  GStatBuf st;
  Run run = { 0 };
  guint64 kept;

  diffuse_download_add_file (download, &file);
  run.cancel_after_data = cancellable;
  run_download (download, cancellable, &run);
  g_assert_error (run.error, G_IO_ERROR, G_IO_ERROR_CANCELLED);
  g_clear_error (&run.error);
  g_assert_false (run.ok);
  g_assert_false (g_file_test (got, G_FILE_TEST_EXISTS));
  g_assert_cmpint (g_stat (part, &st), ==, 0);
  kept = (guint64) st.st_size;
  g_assert_cmpuint (kept, >=, run.received_at_cancel);
  g_assert_cmpuint (kept, >, 0);
  g_assert_cmpuint (kept, <, size);

  memset (&run, 0, sizeof run);
  run_download (download, NULL, &run);
  g_assert_no_error (run.error);
  g_assert_true (run.ok);
  g_assert_cmpint (f->last_range_start, ==, (gint64) kept);
  g_assert_cmpuint (diffuse_download_get_transferred (download), ==, size - kept);
  g_assert_true (files_equal (got, served));
  g_assert_false (g_file_test (part, G_FILE_TEST_EXISTS));
}

/* A .part left by an earlier run (a crash, a lost connection) resumes
 * the same way, and a whole .part of the known size is only checked. */
static void
test_download_resume_left_part (Fixture *f, gconstpointer data)
{
  const gsize size = 200 * 1024;
  g_autofree char *sum = serve_file (f, "weights.bin", size, 4);
  g_autofree char *served = g_build_filename (f->served, "weights.bin", NULL);
  g_autofree char *got = target_path (f, "weights.bin");
  g_autofree char *part = g_strconcat (got, ".part", NULL);
  g_autofree char *contents = NULL;
  g_autoptr (DiffuseDownload) download = diffuse_download_new (f->url, f->target);
  const DiffuseDownloadFile file = { "weights.bin", size, sum };
  Run run = { 0 };

  g_assert_true (g_file_get_contents (served, &contents, NULL, NULL));
  g_assert_true (g_file_set_contents (part, contents, 5000, NULL));
  diffuse_download_add_file (download, &file);
  run_download (download, NULL, &run);
  g_assert_no_error (run.error);
  g_assert_cmpint (f->last_range_start, ==, 5000);
  g_assert_cmpuint (diffuse_download_get_transferred (download), ==, size - 5000);
  g_assert_true (files_equal (got, served));

  /* The whole file as a .part: no request at all. */
  g_assert_cmpint (g_rename (got, part), ==, 0);
  f->requests = 0;
  memset (&run, 0, sizeof run);
  run_download (download, NULL, &run);
  g_assert_true (run.ok);
  g_assert_cmpuint (f->requests, ==, 0);
  g_assert_true (files_equal (got, served));
}

/* Wrong bytes are refused by the checksum (and a wrong length by the
 * size): no file under the final name, and the .part deleted. */
static void
test_download_corrupt (Fixture *f, gconstpointer data)
{
  g_autofree char *good = serve_file (f, "weights.bin", 100 * 1024, 5);
  g_autofree char *corrupt = serve_file (f, "weights.bin", 100 * 1024, 6); /* replaces it */
  g_autofree char *got = target_path (f, "weights.bin");
  g_autofree char *part = g_strconcat (got, ".part", NULL);
  g_autoptr (DiffuseDownload) download = diffuse_download_new (f->url, f->target);
  g_autoptr (DiffuseDownload) sized = diffuse_download_new (f->url, f->target);
  const DiffuseDownloadFile file = { "weights.bin", 100 * 1024, good };
  const DiffuseDownloadFile longer = { "weights.bin", 100 * 1024 + 1, NULL };
  Run run = { 0 };

  g_assert_cmpstr (good, !=, corrupt);
  diffuse_download_add_file (download, &file);
  run_download (download, NULL, &run);
  g_assert_error (run.error, DIFFUSE_DOWNLOAD_ERROR, DIFFUSE_DOWNLOAD_ERROR_CHECKSUM);
  g_assert_nonnull (strstr (run.error->message, good));
  g_clear_error (&run.error);
  g_assert_false (g_file_test (got, G_FILE_TEST_EXISTS));
  g_assert_false (g_file_test (part, G_FILE_TEST_EXISTS));

  diffuse_download_add_file (sized, &longer);
  memset (&run, 0, sizeof run);
  run_download (sized, NULL, &run);
  g_assert_nonnull (run.error);
  g_assert_true (run.error->domain == DIFFUSE_DOWNLOAD_ERROR);
  g_clear_error (&run.error);
  g_assert_false (g_file_test (got, G_FILE_TEST_EXISTS));
}

static void
test_download_not_found (Fixture *f, gconstpointer data)
{
  g_autoptr (DiffuseDownload) download = diffuse_download_new (f->url, f->target);
  const DiffuseDownloadFile file = { "missing.bin", 0, NULL };
  g_autofree char *got = target_path (f, "missing.bin");
  Run run = { 0 };

  diffuse_download_add_file (download, &file);
  run_download (download, NULL, &run);
  g_assert_error (run.error, DIFFUSE_DOWNLOAD_ERROR, DIFFUSE_DOWNLOAD_ERROR_HTTP);
  g_assert_nonnull (strstr (run.error->message, "404"));
  g_clear_error (&run.error);
  g_assert_false (g_file_test (got, G_FILE_TEST_EXISTS));
}

/* Cancelled before it starts: G_IO_ERROR_CANCELLED, nothing written. */
static void
test_download_cancel (Fixture *f, gconstpointer data)
{
  g_autofree char *unused = serve_file (f, "weights.bin", 1000, 7);
  g_autoptr (DiffuseDownload) download = diffuse_download_new (f->url, f->target);
  g_autoptr (GCancellable) cancellable = g_cancellable_new ();
  const DiffuseDownloadFile file = { "weights.bin", 0, NULL };
  g_autofree char *got = target_path (f, "weights.bin");
  Run run = { 0 };

  diffuse_download_add_file (download, &file);
  g_cancellable_cancel (cancellable);
  run_download (download, cancellable, &run);
  g_assert_error (run.error, G_IO_ERROR, G_IO_ERROR_CANCELLED);
  g_clear_error (&run.error);
  g_assert_false (g_file_test (got, G_FILE_TEST_EXISTS));
}

/* The real CLIP vocabulary, served locally, passes its pinned size and
 * checksum; the Stable Diffusion table names what our loader reads. */
static void
test_download_pinned_vocab (Fixture *f, gconstpointer data)
{
  g_autofree char *copy = g_build_filename (g_getenv ("DIFFUSE_SHARED_DATA"), "clip",
                                            diffuse_clip_vocab_file.path, NULL);
  g_autofree char *served = g_build_filename (f->served, diffuse_clip_vocab_file.path, NULL);
  g_autofree char *got = target_path (f, diffuse_clip_vocab_file.path);
  g_autofree char *contents = NULL;
  g_autoptr (DiffuseDownload) download = diffuse_download_new (f->url, f->target);
  gsize length;
  Run run = { 0 };
  gboolean has_unet = FALSE, has_vocab = FALSE;

  g_assert_true (g_file_get_contents (copy, &contents, &length, NULL));
  g_assert_true (g_file_set_contents (served, contents, (gssize) length, NULL));
  diffuse_download_add_file (download, &diffuse_clip_vocab_file);
  run_download (download, NULL, &run);
  g_assert_no_error (run.error);
  g_assert_true (files_equal (got, copy));

  for (guint i = 0; i < diffuse_sd15_n_files; i++)
    {
      has_unet |= g_str_equal (diffuse_sd15_files[i].path,
                               "unet/diffusion_pytorch_model.fp16.safetensors");
      has_vocab |= g_str_equal (diffuse_sd15_files[i].path, "tokenizer/vocab.json");
    }
  g_assert_true (has_unet && has_vocab);
  g_assert_cmpuint (diffuse_sd15_n_files, ==, 12);
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
#define ADD(path, func) g_test_add (path, Fixture, NULL, fixture_set_up, func, fixture_tear_down)
  ADD ("/download/complete", test_download_complete);
  ADD ("/download/resume", test_download_resume);
  ADD ("/download/resume-left-part", test_download_resume_left_part);
  ADD ("/download/corrupt", test_download_corrupt);
  ADD ("/download/not-found", test_download_not_found);
  ADD ("/download/cancel", test_download_cancel);
  ADD ("/download/pinned-vocab", test_download_pinned_vocab);
#undef ADD
  return g_test_run ();
}
