/* diffuse-download.h — fetching model files over HTTP(S) with libsoup.
 *
 * A DiffuseDownload fetches a list of files from one base URL into one
 * folder.  Each file is written to NAME.part and renamed to NAME only once
 * it is whole and, where its SHA-256 is known, verified; so a finished
 * name is always a good file.  An interrupted or cancelled download keeps
 * its .part and the next run resumes it with an HTTP Range request.  A
 * file whose checksum (or known size) does not match is refused with
 * DIFFUSE_DOWNLOAD_ERROR_CHECKSUM (or _SIZE) and its .part is deleted,
 * since resuming a corrupt file cannot mend it. */
#pragma once

#include <gio/gio.h>

G_BEGIN_DECLS

#define DIFFUSE_DOWNLOAD_ERROR (diffuse_download_error_quark ())
GQuark diffuse_download_error_quark (void);

typedef enum
{
  DIFFUSE_DOWNLOAD_ERROR_HTTP,     /* the server answered with an error status */
  DIFFUSE_DOWNLOAD_ERROR_CHECKSUM, /* the file's SHA-256 is not the known one */
  DIFFUSE_DOWNLOAD_ERROR_SIZE,     /* the file's size is not the known one */
} DiffuseDownloadError;

/* One file: its path relative to the base URL and to the folder, its size
 * in bytes (0 when not known) and its SHA-256 in hex (NULL when not
 * known: then only the transfer itself is checked). */
typedef struct
{
  const char *path;
  guint64 size;
  const char *sha256;
} DiffuseDownloadFile;

/* Stable Diffusion 1.5 in the diffusers layout with fp16 weights: what
 * our loader reads, and no more. */
#define DIFFUSE_SD15_NAME "stable-diffusion-v1-5"
#define DIFFUSE_SD15_URL                                                                        \
  "https://huggingface.co/stable-diffusion-v1-5/stable-diffusion-v1-5/resolve/main/"
extern const DiffuseDownloadFile diffuse_sd15_files[];
extern const guint diffuse_sd15_n_files;

/* CLIP's BPE vocabulary, for single-file models without a tokenizer. */
#define DIFFUSE_CLIP_VOCAB_URL "https://github.com/openai/CLIP/raw/main/clip/"
extern const DiffuseDownloadFile diffuse_clip_vocab_file;

#define DIFFUSE_TYPE_DOWNLOAD (diffuse_download_get_type ())
G_DECLARE_FINAL_TYPE (DiffuseDownload, diffuse_download, DIFFUSE, DOWNLOAD, GObject)

/* @base_url ends with '/'; @folder is created when needed. */
DiffuseDownload *diffuse_download_new (const char *base_url, const char *folder);
void diffuse_download_add_file (DiffuseDownload *self, const DiffuseDownloadFile *file);
void diffuse_download_add_files (DiffuseDownload *self, const DiffuseDownloadFile *files,
                                 guint n_files);

/* Fetches every file not yet there, one after the other.  Cancelling
 * ends with G_IO_ERROR_CANCELLED and keeps the .part for the next run. */
void diffuse_download_run_async (DiffuseDownload *self, GCancellable *cancellable,
                                 GAsyncReadyCallback callback, gpointer user_data);
gboolean diffuse_download_run_finish (DiffuseDownload *self, GAsyncResult *result,
                                      GError **error);
gboolean diffuse_download_is_running (DiffuseDownload *self);

/* Progress, valid during a run (the "progress" signal says when it moved):
 * bytes on disk so far, the bytes of all files (0 while not known), the
 * file being fetched, and an estimate of the seconds left (-1: none yet). */
guint64 diffuse_download_get_received (DiffuseDownload *self);
guint64 diffuse_download_get_total (DiffuseDownload *self);
const char *diffuse_download_get_current (DiffuseDownload *self);
int diffuse_download_get_seconds_left (DiffuseDownload *self);
/* The bytes this run asked the server for (resumed bytes excluded). */
guint64 diffuse_download_get_transferred (DiffuseDownload *self);

G_END_DECLS
