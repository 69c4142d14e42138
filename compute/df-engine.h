/* df-engine.h — generation: a job description, the synchronous pipeline
 * that turns a job into images (layer 6), and the engine worker thread the
 * UI talks to through GTask (layer 7).
 *
 * Include after (or instead of) df.h; it is not part of df.h. */
#pragma once

#include "df.h"
#include "df-networks.h"

G_BEGIN_DECLS

/* ------------------------------------------------------------------------
 * Jobs: plain data, copied on the caller's thread.
 * ------------------------------------------------------------------------ */

typedef enum
{
  DF_MODE_TXT2IMG,
  DF_MODE_IMG2IMG,     /* init_image, strength */
  DF_MODE_INPAINT,     /* init_image, mask (white = repaint), strength */
  DF_MODE_OUTPAINT,    /* init_image grown by outpaint[] pixels, then inpainted */
  DF_MODE_INTERPOLATE, /* frames between (prompt, seed) and (prompt_b, seed_b),
                        * or between init_image and init_image_b */
} DfMode;

typedef enum
{
  DF_PREVIEW_FAST, /* the latent→RGB linear map every step (on the device) */
  DF_PREVIEW_FULL, /* a full VAE decode every preview_every steps, fast otherwise */
  DF_PREVIEW_OFF,
} DfPreviewMode;

typedef struct
{
  DfMode mode;
  char *prompt;
  char *negative_prompt;
  char *prompt_b;          /* interpolation end prompt, or NULL for prompt */
  int width, height;       /* multiples of 8 */
  int steps;
  float cfg_scale;
  DfSamplerKind sampler;
  uint64_t seed;
  uint64_t seed_b;         /* interpolation end seed */
  int batch_count;         /* images made with seed, seed + 1, … */
  int frames;              /* interpolation frames, ≥ 2 */
  float strength;          /* img2img / inpaint denoising strength, 0..1 */
  DfImage *init_image;     /* owned */
  DfImage *init_image_b;   /* owned; interpolation between images */
  DfImage *mask;           /* owned; grey, white = repaint */
  float mask_blur;         /* feathering radius in pixels */
  int outpaint[4];         /* pixels added left, top, right, bottom */
  int clip_skip;           /* 0 = last layer */
  DfPreviewMode preview;
  int preview_every;       /* for DF_PREVIEW_FULL */
} DfJob;

DfJob *df_job_new (void); /* txt2img 512×512, 20 steps, CFG 7.5, euler_a, seed 0 */
DfJob *df_job_copy (const DfJob *job);
void df_job_free (DfJob *job);
G_DEFINE_AUTOPTR_CLEANUP_FUNC (DfJob, df_job_free)
/* The generation parameters a finished image carries (PNG `parameters`). */
DfParams *df_job_to_params (const DfJob *job, uint64_t seed, const char *model_hash,
                            const char *model_name);

/* ------------------------------------------------------------------------
 * Progress, reported between steps.
 * ------------------------------------------------------------------------ */

typedef struct
{
  int image;           /* index of the image (batch entry or frame) */
  int n_images;
  int step;            /* 1-based UNet evaluation count for this image */
  int total;
  double elapsed;      /* seconds since the job started */
  const DfImage *preview; /* may be NULL; valid only during the call */
} DfProgress;

typedef void (*DfProgressFunc) (const DfProgress *progress, gpointer user_data);

/* ------------------------------------------------------------------------
 * The pipeline: synchronous, on the calling thread, which must be the only
 * thread using the context.
 * ------------------------------------------------------------------------ */

typedef struct _DfPipeline DfPipeline;

/* Loads the three networks of @model (weights uploaded once) and the
 * tokenizer (the model's own, else @vocab_path, else the installed
 * vocabulary). */
DfPipeline *df_pipeline_new (DfContext *ctx, DfModel *model, const char *vocab_path,
                             GError **error);
void df_pipeline_free (DfPipeline *pipeline);
G_DEFINE_AUTOPTR_CLEANUP_FUNC (DfPipeline, df_pipeline_free)

/* Runs @job.  Returns a GPtrArray of DfImage (owned, with free func), one
 * per batch entry or frame; seeds_out (optional) receives the seed of each.
 * @cancellable is checked before each UNet evaluation: a cancelled job
 * ends with G_IO_ERROR_CANCELLED and the pipeline stays usable. */
GPtrArray *df_pipeline_run (DfPipeline *pipeline, const DfJob *job, DfProgressFunc progress,
                            gpointer progress_data, GCancellable *cancellable,
                            GArray **seeds_out, GError **error);

/* The final latents of the last image the last run made, before the VAE
 * decode ([latent_channels, h, w], scaled as the UNet sees them; *n gets
 * the element count), or NULL.  For tests and tools; owned by @pipeline,
 * valid until the next run. */
const float *df_pipeline_get_last_latents (DfPipeline *pipeline, int64_t *n);

/* ------------------------------------------------------------------------
 * The engine: one long-lived worker thread that owns the Vulkan context,
 * the model and the pipeline.  Calls are made from one thread (the UI's);
 * callbacks and progress arrive in that thread's thread-default main
 * context, progress coalesced so at most one is pending.
 * ------------------------------------------------------------------------ */

typedef struct _DfEngine DfEngine;

/* Starts the worker; the device opens on the worker (errors arrive with
 * the first request). */
DfEngine *df_engine_new (const char *device_selector);
void df_engine_free (DfEngine *engine); /* cancels and joins */

void df_engine_load_model_async (DfEngine *engine, const char *path, const char *vocab_path,
                                 GCancellable *cancellable, GAsyncReadyCallback callback,
                                 gpointer user_data);
gboolean df_engine_load_model_finish (DfEngine *engine, GAsyncResult *result, GError **error);

/* @progress is called in the caller's main context (never after the
 * completion callback).  The result is the GPtrArray of DfImage from
 * df_pipeline_run. */
void df_engine_generate_async (DfEngine *engine, const DfJob *job, DfProgressFunc progress,
                               gpointer progress_data, GCancellable *cancellable,
                               GAsyncReadyCallback callback, gpointer user_data);
GPtrArray *df_engine_generate_finish (DfEngine *engine, GAsyncResult *result, GArray **seeds_out,
                                      GError **error);

G_END_DECLS
