/* df-pipeline.c — a job turned into images, synchronously (layer 6).
 *
 * Every mode follows its diffusers pipeline, including the order in which
 * random numbers are drawn from the one CPU generator per image (seeded
 * with the image's seed), so a seed gives what diffusers gives:
 *
 *   txt2img   StableDiffusionPipeline: noise = randn (latent shape) ·
 *             init_noise_sigma, then the sampler's own draws.
 *   img2img   StableDiffusionImg2ImgPipeline: the init image's latents are
 *             sampled from the VAE posterior (mean + std · randn, one draw),
 *             times the scaling factor; then noise = randn, added at the
 *             first timestep of the schedule cut by strength.
 *   inpaint   StableDiffusionInpaintPipeline: (image latents: a posterior
 *             draw, when the UNet has 4 channels or strength < 1), noise,
 *             then the masked image's latents (a posterior draw, also for 4
 *             channels where only the blending uses them).  A 9-channel UNet
 *             sees cat (latents, mask, masked-image latents); a 4-channel
 *             one gets latents = mask · latents + (1 − mask) · (image latents
 *             noised to the next timestep) after each step.  The mask is
 *             binarised at 0.5 as diffusers does, unless mask_blur feathers
 *             it (a Gaussian blur of that radius, kept soft), and brought to
 *             the latent size by nearest-neighbour sampling (F.interpolate).
 *   outpaint  the canvas grown by outpaint[] pixels, the new area filled by
 *             repeating the edge pixels outwards, the mask white there, then
 *             inpaint.
 *   interpolate  frame k of n at t = k / (n − 1): noise = slerp (noise of
 *             seed, noise of seed_b, t), text = lerp (prompt, prompt_b, t);
 *             with two images, latents = slerp (mean latents of both, t)
 *             then img2img from there (posterior means, no draw).
 *
 * Prompts and negative prompts go through the prompt syntax in 77-token
 * chunks; the shorter is padded with empty chunks so both have the same
 * length, as the web UIs do.  Classifier-free guidance runs the UNet at
 * batch 2, [uncond, cond] as diffusers orders it; at cfg ≤ 1 only the cond
 * half runs (diffusers' do_classifier_free_guidance).
 *
 * The UNet step is recorded once per image and the same command buffer is
 * submitted for every sampler call (a replayable DfCmd: only the uploaded
 * sample and timestep change); it is dropped before each VAE decode, so
 * that the decoder reuses the memory of its intermediates. */
#include "config.h"

#include <math.h>
#include <string.h>

#include "df-engine.h"

/* SD 1.x latent → RGB: the widely published least-squares fit of the four
 * latent channels to the decoded colours (rows: latent channel, columns:
 * R, G, B), giving RGB in about [−1, 1] with no bias term needed. */
static const float latent_rgb[4][3] = {
  { 0.3512f, 0.2297f, 0.3227f },
  { 0.3250f, 0.4974f, 0.2350f },
  { -0.2829f, 0.1762f, 0.2721f },
  { -0.2120f, -0.2616f, -0.7177f },
};
static const float latent_rgb_bias[3] = { 0.0f, 0.0f, 0.0f };

struct _DfPipeline
{
  DfContext *ctx;  /* borrowed */
  DfModel *model;  /* borrowed; outlives the pipeline */
  DfDType dtype;
  DfClip *clip;
  DfUNet *unet;
  DfVae *vae;
  DfTokenizer *tok;
  DfCmd *cmd;
  int vae_factor;   /* pixels per latent */
  int unet_factor;  /* the latent size must be a multiple of this */
  int latent_channels;
  int context_dim;
  float scaling_factor;
  DfSamplerPrediction prediction;
  float *last_latents;
  int64_t n_last;
};

/* ------------------------------------------------------------------------
 * Loading
 * ------------------------------------------------------------------------ */

#define VOCAB_NAME "bpe_simple_vocab_16e6.txt.gz"

static DfTokenizer *
tokenizer_from_path (const char *path, GError **error)
{
  if (g_file_test (path, G_FILE_TEST_IS_DIR))
    return df_tokenizer_new_from_dir (path, error);
  if (g_str_has_suffix (path, ".json"))
    {
      g_autofree char *dir = g_path_get_dirname (path);
      g_autofree char *merges = g_build_filename (dir, "merges.txt", NULL);

      return df_tokenizer_new_from_vocab_merges (path, merges, NULL, error);
    }
  return df_tokenizer_new_from_file (path, error);
}

/* The model's own tokenizer, else @vocab_path (a tokenizer folder, a
 * vocab.json beside its merges.txt, or CLIP's merges file), else
 * DIFFUSE_CLIP_VOCAB, the user's data folder, the installed copy. */
static DfTokenizer *
load_tokenizer (DfModel *model, const char *vocab_path, GError **error)
{
  const char *dir = df_model_get_tokenizer_dir (model);
  const char *env = g_getenv ("DIFFUSE_CLIP_VOCAB");
  g_autofree char *user = g_build_filename (g_get_user_data_dir (), "diffuse", VOCAB_NAME, NULL);

  if (dir != NULL && g_file_test (dir, G_FILE_TEST_IS_DIR))
    return df_tokenizer_new_from_dir (dir, error);
  if (vocab_path != NULL)
    return tokenizer_from_path (vocab_path, error);
  if (env != NULL && *env != '\0')
    return tokenizer_from_path (env, error);
  if (g_file_test (user, G_FILE_TEST_IS_REGULAR))
    return df_tokenizer_new_from_file (user, error);
  if (g_file_test (PKGDATADIR "/" VOCAB_NAME, G_FILE_TEST_IS_REGULAR))
    return df_tokenizer_new_from_file (PKGDATADIR "/" VOCAB_NAME, error);
  g_set_error (error, DF_ERROR, DF_ERROR_IO,
               "no CLIP vocabulary: the model has no tokenizer folder; pass a vocabulary, set "
               "DIFFUSE_CLIP_VOCAB, or copy %s to %s", VOCAB_NAME, user);
  return NULL;
}

DfPipeline *
df_pipeline_new (DfContext *ctx, DfModel *model, const char *vocab_path, GError **error)
{
  g_autoptr (DfPipeline) p = g_new0 (DfPipeline, 1);
  const DfVAEConfig *vc;
  const DfUNetConfig *uc;

  g_return_val_if_fail (ctx != NULL && model != NULL, NULL);

  p->ctx = ctx;
  p->model = model;
  p->dtype = df_networks_default_dtype (ctx);
  if ((p->tok = load_tokenizer (model, vocab_path, error)) == NULL
      || (p->clip = df_clip_new (ctx, model, p->dtype, error)) == NULL
      || (p->unet = df_unet_new (ctx, model, p->dtype, error)) == NULL
      || (p->vae = df_vae_new (ctx, model, p->dtype, error)) == NULL
      || (p->cmd = df_cmd_new (ctx, error)) == NULL)
    return NULL;

  vc = df_vae_get_config (p->vae);
  uc = df_unet_get_config (p->unet);
  p->vae_factor = 1 << (vc->n_blocks - 1);
  p->unet_factor = 1 << (uc->n_blocks - 1);
  p->latent_channels = vc->latent_channels;
  p->context_dim = uc->cross_attention_dim;
  p->scaling_factor = vc->scaling_factor;
  p->prediction = df_model_get_prediction (model) == DF_PREDICTION_V ? DF_SAMPLER_V_PREDICTION
                                                                       : DF_SAMPLER_EPSILON;
  if (uc->out_channels != vc->latent_channels
      || uc->in_channels != (df_model_is_inpaint (model) ? 2 * vc->latent_channels + 1
                                                          : vc->latent_channels))
    {
      g_set_error (error, DF_ERROR, DF_ERROR_UNSUPPORTED_MODEL,
                   "a UNet of %d → %d channels does not fit a VAE of %d latent channels",
                   uc->in_channels, uc->out_channels, vc->latent_channels);
      return NULL;
    }
  return g_steal_pointer (&p);
}

void
df_pipeline_free (DfPipeline *p)
{
  if (p == NULL)
    return;
  g_clear_pointer (&p->cmd, df_cmd_free);
  g_clear_pointer (&p->clip, df_clip_free);
  g_clear_pointer (&p->unet, df_unet_free);
  g_clear_pointer (&p->vae, df_vae_free);
  g_clear_pointer (&p->tok, df_tokenizer_free);
  g_free (p->last_latents);
  g_free (p);
}

/* ------------------------------------------------------------------------
 * Text
 * ------------------------------------------------------------------------ */

/* Chunks of a prompt, padded with empty chunks to at least @n_chunks. */
static GArray *
prompt_chunks (DfPipeline *p, const char *text, guint n_chunks)
{
  GArray *chunks = df_tokenizer_encode_prompt (p->tok, text != NULL ? text : "", -1);

  while (chunks->len < n_chunks)
    {
      g_autoptr (GArray) empty = df_tokenizer_encode_prompt (p->tok, "", -1);

      g_array_append_vals (chunks, empty->data, 1);
    }
  return chunks;
}

/* [chunks · 77, context_dim] floats. */
static float *
encode_chunks (DfPipeline *p, GArray *chunks, int clip_skip, GError **error)
{
  const int n = (int) chunks->len;
  g_autofree uint32_t *ids = g_new (uint32_t, (size_t) n * DF_CLIP_CONTEXT);
  g_autofree float *weights = g_new (float, (size_t) n * DF_CLIP_CONTEXT);
  g_autofree float *out = g_new (float, (size_t) n * DF_CLIP_CONTEXT * p->context_dim);

  for (int c = 0; c < n; c++)
    {
      const DfPromptChunk *chunk = &g_array_index (chunks, DfPromptChunk, c);

      for (int i = 0; i < DF_CLIP_CONTEXT; i++)
        {
          ids[c * DF_CLIP_CONTEXT + i] = (uint32_t) chunk->ids[i];
          weights[c * DF_CLIP_CONTEXT + i] = chunk->weights[i];
        }
    }
  if (!df_clip_encode (p->clip, p->cmd, ids, weights, n, clip_skip, out, error))
    return NULL;
  return g_steal_pointer (&out);
}

/* Encodes up to three texts padded to one chunk count; texts[i] NULL
 * leaves out[i] NULL.  *rows receives chunks · 77. */
static gboolean
encode_texts (DfPipeline *p, const char *const texts[3], int clip_skip, float *out[3], int *rows,
              GError **error)
{
  GArray *chunks[3] = { NULL, NULL, NULL };
  guint n = 1;
  gboolean ok = TRUE;

  for (int i = 0; i < 3; i++)
    if (texts[i] != NULL)
      {
        chunks[i] = prompt_chunks (p, texts[i], 1);
        n = MAX (n, chunks[i]->len);
      }
  for (int i = 0; i < 3; i++)
    {
      out[i] = NULL;
      if (chunks[i] == NULL)
        continue;
      while (chunks[i]->len < n)
        {
          g_autoptr (GArray) empty = df_tokenizer_encode_prompt (p->tok, "", -1);

          g_array_append_vals (chunks[i], empty->data, 1);
        }
      if (ok && (out[i] = encode_chunks (p, chunks[i], clip_skip, error)) == NULL)
        ok = FALSE;
      g_array_unref (chunks[i]);
    }
  if (!ok)
    for (int i = 0; i < 3; i++)
      g_clear_pointer (&out[i], g_free);
  *rows = (int) n * DF_CLIP_CONTEXT;
  return ok;
}

/* ------------------------------------------------------------------------
 * VAE
 * ------------------------------------------------------------------------ */

/* image (RGB, size a multiple of the VAE factor) → the posterior's mean
 * and standard deviation, [latent_channels, h, w] each, times the scaling
 * factor (so mean + std · ε is what diffusers' pipelines feed on). */
static gboolean
vae_encode_planar (DfPipeline *p, const float *planar, int width, int height, float **mean_out,
                   float **std_out, GError **error)
{
  const int lc = p->latent_channels, f = p->vae_factor;
  const int64_t hw = (int64_t) (height / f) * (width / f), n = lc * hw;
  g_autofree float *m = g_new (float, 2 * n);
  float *mean, *sd;

  /* tiled automatically when the image does not fit the device */
  if (!df_vae_encode_host (p->vae, p->cmd, planar, height, width, -1, m, error))
    return FALSE;

  mean = g_new (float, n);
  sd = g_new (float, n);
  for (int64_t i = 0; i < n; i++)
    {
      /* DiagonalGaussianDistribution: logvar clamped to [−30, 20] */
      float logvar = CLAMP (m[n + i], -30.0f, 20.0f);

      mean[i] = m[i] * p->scaling_factor;
      sd[i] = expf (0.5f * logvar) * p->scaling_factor;
    }
  *mean_out = mean;
  *std_out = sd;
  return TRUE;
}

static gboolean
vae_encode (DfPipeline *p, const DfImage *img, float **mean_out, float **std_out,
            GError **error)
{
  g_autofree float *planar = df_image_to_planar (img);

  return vae_encode_planar (p, planar, img->width, img->height, mean_out, std_out, error);
}

/* latents (scaled, as the UNet sees them) [latent_channels, h, w] → RGB. */
static DfImage *
vae_decode (DfPipeline *p, const float *latent, int lw, int lh, GError **error)
{
  const int lc = p->latent_channels, f = p->vae_factor;
  const int64_t n = (int64_t) lc * lw * lh, npix = (int64_t) 3 * lw * f * lh * f;
  g_autofree float *z = g_new (float, n);
  g_autofree float *rgb = g_new (float, npix);

  for (int64_t i = 0; i < n; i++)
    z[i] = latent[i] / p->scaling_factor;
  /* tiled automatically when the image does not fit the device */
  if (!df_vae_decode_host (p->vae, p->cmd, z, lh, lw, -1, rgb, error))
    return NULL;
  return df_image_from_planar (rgb, 3, lw * f, lh * f, error);
}

/* The cheap preview: the fixed linear map at latent resolution. */
static DfImage *
fast_preview (DfPipeline *p, const float *x, int lw, int lh)
{
  const int64_t hw = (int64_t) lw * lh;
  g_autofree float *rgb = NULL;

  if (p->latent_channels != 4)
    return NULL;
  rgb = g_new (float, 3 * hw);
  for (int c = 0; c < 3; c++)
    for (int64_t i = 0; i < hw; i++)
      {
        float v = latent_rgb_bias[c];

        for (int k = 0; k < 4; k++)
          v += latent_rgb[k][c] * x[k * hw + i];
        rgb[c * hw + i] = v;
      }
  return df_image_from_planar (rgb, 3, lw, lh, NULL);
}

/* ------------------------------------------------------------------------
 * Masks and images
 * ------------------------------------------------------------------------ */

/* Separable Gaussian blur of a [h, w] mask in place, σ = radius (as PIL's
 * GaussianBlur takes its radius), edges clamped. */
static void
blur_mask (float *m, int w, int h, float radius)
{
  const int r = (int) ceilf (3.0f * radius);
  g_autofree float *k = g_new (float, 2 * r + 1);
  g_autofree float *tmp = g_new (float, (size_t) w * h);
  double sum = 0;

  for (int i = -r; i <= r; i++)
    sum += k[i + r] = expf (-(float) (i * i) / (2.0f * radius * radius));
  for (int i = 0; i <= 2 * r; i++)
    k[i] = (float) (k[i] / sum);
  for (int y = 0; y < h; y++)
    for (int x = 0; x < w; x++)
      {
        float v = 0;

        for (int i = -r; i <= r; i++)
          v += k[i + r] * m[y * w + CLAMP (x + i, 0, w - 1)];
        tmp[y * w + x] = v;
      }
  for (int y = 0; y < h; y++)
    for (int x = 0; x < w; x++)
      {
        float v = 0;

        for (int i = -r; i <= r; i++)
          v += k[i + r] * tmp[CLAMP (y + i, 0, h - 1) * w + x];
        m[y * w + x] = v;
      }
}

/* The outpainting canvas: @img placed at (left, top) of a grown canvas,
 * the new area filled with the nearest edge pixel; @mask_out (w·h) is 1
 * in the new area. */
static DfImage *
outpaint_canvas (const DfImage *img, const int pad[4], float **mask_out, GError **error)
{
  const int w = img->width + pad[0] + pad[2], h = img->height + pad[1] + pad[3];
  g_autoptr (DfImage) canvas = NULL;
  float *mask;

  if (pad[0] < 0 || pad[1] < 0 || pad[2] < 0 || pad[3] < 0)
    {
      g_set_error (error, DF_ERROR, DF_ERROR_INVALID_ARGUMENT,
                   "outpainting margins must not be negative");
      return NULL;
    }
  if (!df_image_check_size (w, h, error) || (canvas = df_image_new (w, h, 3, error)) == NULL)
    return NULL;
  mask = g_new (float, (size_t) w * h);
  for (int y = 0; y < h; y++)
    for (int x = 0; x < w; x++)
      {
        int sx = CLAMP (x - pad[0], 0, img->width - 1), sy = CLAMP (y - pad[1], 0, img->height - 1);
        gboolean inside = sx == x - pad[0] && sy == y - pad[1];

        memcpy (df_image_pixel (canvas, x, y), df_image_pixel (img, sx, sy), 3);
        mask[(size_t) y * w + x] = inside ? 0.0f : 1.0f;
      }
  *mask_out = mask;
  return g_steal_pointer (&canvas);
}

/* ------------------------------------------------------------------------
 * Vectors
 * ------------------------------------------------------------------------ */

static void
slerp (float *out, const float *a, const float *b, int64_t n, double t)
{
  double dot = 0, na = 0, nb = 0, theta, s;

  for (int64_t i = 0; i < n; i++)
    {
      dot += (double) a[i] * b[i];
      na += (double) a[i] * a[i];
      nb += (double) b[i] * b[i];
    }
  dot = na > 0 && nb > 0 ? dot / sqrt (na * nb) : 1.0;
  if (fabs (dot) > 0.9995)
    {
      for (int64_t i = 0; i < n; i++)
        out[i] = (float) ((1 - t) * a[i] + t * b[i]);
      return;
    }
  theta = acos (dot);
  s = sin (theta);
  for (int64_t i = 0; i < n; i++)
    out[i] = (float) (sin ((1 - t) * theta) / s * a[i] + sin (t * theta) / s * b[i]);
}

static void
lerp (float *out, const float *a, const float *b, int64_t n, double t)
{
  for (int64_t i = 0; i < n; i++)
    out[i] = (float) ((1 - t) * a[i] + t * b[i]);
}

/* ------------------------------------------------------------------------
 * One run
 * ------------------------------------------------------------------------ */

typedef struct
{
  DfPipeline *p;
  const DfJob *job;
  DfMode mode;
  int width, height; /* pixels of the result */
  int lw, lh;        /* latent size */
  int64_t n;         /* latent elements (one image) */
  int rows;          /* context rows: chunks · 77 */
  gboolean guided;
  gboolean inpaint_unet; /* 9 channels */

  float *uncond, *cond, *cond_b; /* [rows, context_dim] */

  /* img2img / inpaint: the posterior of the init image */
  float *init_mean, *init_std;
  /* inpaint: mask at latent size (1 = repaint), masked image posterior */
  float *mask_lat;
  float *masked_mean, *masked_std;
  float *masked_lat; /* this image's draw from it */
  /* interpolation between images: the mean latents of both */
  float *lat_a, *lat_b;

  DfTensor *sample, *timestep, *context, *out;
  /* the UNet step, recorded once on these tensors and submitted for every
   * sampler call; dropped before each VAE decode so that the decoder can
   * use the intermediates' memory, and recorded again after it */
  DfCmd *unet_step;
  /* the cross-attentions' keys and values of the uploaded context,
   * computed before the step is recorded; the step reads them, and they
   * go with it */
  DfUNetText *text;

  DfProgressFunc progress;
  gpointer progress_data;
  GCancellable *cancellable;
  gint64 start;
  int image, n_images;
} Run;

static void
run_clear (Run *r)
{
  g_clear_pointer (&r->unet_step, df_cmd_free);
  g_clear_pointer (&r->text, df_unet_text_free);
  g_free (r->uncond);
  g_free (r->cond);
  g_free (r->cond_b);
  g_free (r->init_mean);
  g_free (r->init_std);
  g_free (r->mask_lat);
  g_free (r->masked_mean);
  g_free (r->masked_std);
  g_free (r->masked_lat);
  g_free (r->lat_a);
  g_free (r->lat_b);
  g_clear_pointer (&r->sample, df_tensor_free);
  g_clear_pointer (&r->timestep, df_tensor_free);
  g_clear_pointer (&r->context, df_tensor_free);
  g_clear_pointer (&r->out, df_tensor_free);
}

static void
report (Run *r, int step, int total, const DfImage *preview)
{
  DfProgress pr = {
    .image = r->image,
    .n_images = r->n_images,
    .step = step,
    .total = total,
    .elapsed = (double) (g_get_monotonic_time () - r->start) / G_USEC_PER_SEC,
    .preview = preview,
  };

  if (r->progress != NULL)
    r->progress (&pr, r->progress_data);
}

static void drop_unet_step (Run *r);

/* Uploads the context for one image: [uncond; cond] or [cond].  The step
 * and the keys and values of the previous one go. */
static gboolean
upload_context (Run *r, const float *cond, GError **error)
{
  const int64_t per = (int64_t) r->rows * r->p->context_dim;
  g_autofree float *both = NULL;

  drop_unet_step (r);

  if (!r->guided)
    return df_tensor_upload_f32 (r->context, cond, per, error);
  both = g_new (float, 2 * per);
  memcpy (both, r->uncond, per * sizeof (float));
  memcpy (both + per, cond, per * sizeof (float));
  return df_tensor_upload_f32 (r->context, both, 2 * per, error);
}

/* One guided UNet evaluation: x_in (already scaled for the sampler) →
 * eps (guided).  */
static gboolean
unet_eval (Run *r, const float *x_in, float t, float *eps, GError **error)
{
  DfPipeline *p = r->p;
  const int batch = r->guided ? 2 : 1;
  const int lc = p->latent_channels;
  const int64_t hw = (int64_t) r->lw * r->lh, n = r->n;
  const int64_t per_in = r->inpaint_unet ? (2 * lc + 1) * hw : n;
  g_autofree float *in = g_new (float, batch * per_in);
  g_autofree float *out = g_new (float, batch * n);
  float ts[2] = { t, t };

  for (int b = 0; b < batch; b++)
    {
      float *dst = in + b * per_in;

      memcpy (dst, x_in, n * sizeof (float));
      if (r->inpaint_unet)
        {
          memcpy (dst + n, r->mask_lat, hw * sizeof (float));
          memcpy (dst + n + hw, r->masked_lat, n * sizeof (float));
        }
    }
  /* the uploads write the tensors directly or through their own command
   * buffer, never into the recording */
  if (!df_tensor_upload_f32 (r->sample, in, batch * per_in, error)
      || !df_tensor_upload_f32 (r->timestep, ts, batch, error))
    return FALSE;
  if (r->text == NULL)
    {
      g_autoptr (DfCmd) cmd = df_cmd_new (p->ctx, error);

      if (cmd == NULL || (r->text = df_unet_text_new (p->unet, cmd, r->context, error)) == NULL
          || !df_cmd_submit_wait (cmd, error))
        {
          g_clear_pointer (&r->text, df_unet_text_free);
          return FALSE;
        }
    }
  if (r->unet_step == NULL
      && ((r->unet_step = df_cmd_new_replayable (p->ctx, error)) == NULL
          || !df_unet_forward_text (p->unet, r->unet_step, r->out, r->sample, r->timestep,
                                    r->text, error)))
    {
      g_clear_pointer (&r->unet_step, df_cmd_free);
      return FALSE;
    }
  if (!df_cmd_submit_wait (r->unet_step, error))
    {
      g_clear_pointer (&r->unet_step, df_cmd_free);
      return FALSE;
    }
  if (!df_tensor_download_f32 (r->out, out, batch * n, error))
    return FALSE;

  if (!r->guided)
    memcpy (eps, out, n * sizeof (float));
  else
    for (int64_t i = 0; i < n; i++)
      eps[i] = out[i] + r->job->cfg_scale * (out[n + i] - out[i]);
  return TRUE;
}

static gboolean
check_cancel (Run *r, GError **error)
{
  return !g_cancellable_set_error_if_cancelled (r->cancellable, error);
}

/* Drops the recorded UNet step, its keys and values and the memory it
 * keeps, before a VAE decode that needs that memory; the next step
 * computes and records them again. */
static void
drop_unet_step (Run *r)
{
  g_clear_pointer (&r->unet_step, df_cmd_free);
  g_clear_pointer (&r->text, df_unet_text_free);
}

/* The sampler loop from call @first; x is updated in place.  @image_lat
 * and @noise non-NULL: masked latent blending (4-channel inpainting). */
static gboolean
denoise (Run *r, DfSampler *s, int first, float *x, DfRng *rng, const float *image_lat,
         const float *noise, GError **error)
{
  const int64_t n = r->n, hw = (int64_t) r->lw * r->lh;
  const int n_calls = df_sampler_n_calls (s);
  const int total = n_calls - first;
  g_autofree float *in = g_new (float, n);
  g_autofree float *eps = g_new (float, n);
  g_autofree float *proper = image_lat != NULL ? g_new (float, n) : NULL;

  for (int i = first; i < n_calls; i++)
    {
      const int step = i - first + 1;
      g_autoptr (DfImage) preview = NULL;

      if (!check_cancel (r, error))
        return FALSE;
      memcpy (in, x, n * sizeof (float));
      df_sampler_scale_model_input (s, i, in, n);
      if (!unet_eval (r, in, df_sampler_timestep (s, i), eps, error)
          || !df_sampler_step (s, i, eps, x, n, rng, error))
        return FALSE;

      if (image_lat != NULL)
        {
          memcpy (proper, image_lat, n * sizeof (float));
          if (i < n_calls - 1)
            df_sampler_add_noise (s, i + 1, proper, noise, n);
          for (int64_t k = 0; k < n; k++)
            {
              float m = r->mask_lat[k % hw];

              x[k] = (1.0f - m) * proper[k] + m * x[k];
            }
        }

      switch (r->job->preview)
        {
        case DF_PREVIEW_FULL:
          if (r->job->preview_every > 0 && step % r->job->preview_every == 0 && step < total)
            {
              drop_unet_step (r);
              if (!check_cancel (r, error)
                  || (preview = vae_decode (r->p, x, r->lw, r->lh, error)) == NULL)
                return FALSE;
              break;
            }
          G_GNUC_FALLTHROUGH;
        case DF_PREVIEW_FAST:
          preview = fast_preview (r->p, x, r->lw, r->lh);
          break;
        case DF_PREVIEW_OFF:
        default:
          break;
        }
      report (r, step, total, preview);
    }
  return TRUE;
}

static DfSampler *
new_sampler (Run *r, GError **error)
{
  return df_sampler_new (r->job->sampler, r->p->prediction, r->job->steps, NULL, error);
}

/* The first call for the job's strength, or an error when it leaves none. */
static gboolean
cut_schedule (Run *r, DfSampler *s, int *first, GError **error)
{
  double strength = CLAMP (r->job->strength, 0.0f, 1.0f);

  *first = df_sampler_set_strength (s, strength);
  if (*first >= df_sampler_n_calls (s))
    {
      g_set_error (error, DF_ERROR, DF_ERROR_INVALID_ARGUMENT,
                   "strength %g leaves no step of %d; raise the strength or the steps",
                   strength, r->job->steps);
      return FALSE;
    }
  return TRUE;
}

/* x = mean + std · randn (one draw). */
static void
sample_posterior (float *x, const float *mean, const float *sd, int64_t n, DfRng *rng)
{
  df_rng_randn (rng, x, n);
  for (int64_t i = 0; i < n; i++)
    x[i] = mean[i] + sd[i] * x[i];
}

/* One picture (batch entry or frame).  t is the interpolation position. */
static DfImage *
run_one (Run *r, uint64_t seed, double t, GError **error)
{
  const int64_t n = r->n;
  g_autoptr (DfRng) rng = df_rng_new (seed);
  g_autoptr (DfSampler) s = NULL;
  g_autofree float *x = g_new (float, n);
  g_autofree float *noise = g_new (float, n);
  g_autofree float *image_lat = NULL;
  g_autofree float *cond = NULL;
  const float *cond_used = r->cond;
  gboolean blend = FALSE;
  int first = 0;

  if ((s = new_sampler (r, error)) == NULL)
    return NULL;

  switch (r->mode)
    {
    case DF_MODE_TXT2IMG:
      df_rng_randn (rng, noise, n);
      for (int64_t i = 0; i < n; i++)
        x[i] = noise[i] * df_sampler_init_noise_sigma (s);
      break;

    case DF_MODE_IMG2IMG:
      if (!cut_schedule (r, s, &first, error))
        return NULL;
      sample_posterior (x, r->init_mean, r->init_std, n, rng);
      df_rng_randn (rng, noise, n);
      df_sampler_add_noise (s, first, x, noise, n);
      break;

    case DF_MODE_INPAINT:
    case DF_MODE_OUTPAINT:
      {
        const gboolean strength_max = r->job->strength >= 1.0f;

        if (!cut_schedule (r, s, &first, error))
          return NULL;
        if (!r->inpaint_unet || !strength_max)
          {
            image_lat = g_new (float, n);
            sample_posterior (image_lat, r->init_mean, r->init_std, n, rng);
          }
        df_rng_randn (rng, noise, n);
        if (strength_max)
          for (int64_t i = 0; i < n; i++)
            x[i] = noise[i] * df_sampler_init_noise_sigma (s);
        else
          {
            memcpy (x, image_lat, n * sizeof (float));
            df_sampler_add_noise (s, first, x, noise, n);
          }
        /* the masked image's latents are a posterior draw too, made after
         * the noise (prepare_mask_latents) */
        sample_posterior (r->masked_lat, r->masked_mean, r->masked_std, n, rng);
        blend = !r->inpaint_unet;
        break;
      }

    case DF_MODE_INTERPOLATE:
      {
        g_autofree float *noise_b = g_new (float, n);
        g_autoptr (DfRng) rng_b = df_rng_new (r->job->seed_b);

        df_rng_randn (rng, noise, n);
        df_rng_randn (rng_b, noise_b, n);
        slerp (noise, noise, noise_b, n, t);
        if (r->cond_b != NULL)
          {
            const int64_t per = (int64_t) r->rows * r->p->context_dim;

            cond = g_new (float, per);
            lerp (cond, r->cond, r->cond_b, per, t);
            cond_used = cond;
          }
        if (r->lat_a != NULL)
          {
            if (!cut_schedule (r, s, &first, error))
              return NULL;
            slerp (x, r->lat_a, r->lat_b, n, t);
            df_sampler_add_noise (s, first, x, noise, n);
          }
        else
          for (int64_t i = 0; i < n; i++)
            x[i] = noise[i] * df_sampler_init_noise_sigma (s);
        break;
      }
    }

  if (!upload_context (r, cond_used, error)
      || !denoise (r, s, first, x, rng, blend ? image_lat : NULL, noise, error)
      || !check_cancel (r, error))
    return NULL;
  g_free (r->p->last_latents);
  r->p->last_latents = g_memdup2 (x, n * sizeof (float));
  r->p->n_last = n;
  drop_unet_step (r);
  return vae_decode (r->p, x, r->lw, r->lh, error);
}

/* The init image at the run's size (stretched, as diffusers resizes). */
static DfImage *
fitted (const DfImage *img, int w, int h, GError **error)
{
  return df_image_fit (img, w, h, DF_FIT_STRETCH, error);
}

static gboolean
prepare (Run *r, GError **error)
{
  DfPipeline *p = r->p;
  const DfJob *job = r->job;
  g_autoptr (DfImage) init = NULL;
  g_autofree float *mask = NULL;
  const char *texts[3];
  float *enc[3];
  r->mode = job->mode;
  r->width = job->width;
  r->height = job->height;

  if (job->steps < 1 || job->steps > 1000)
    {
      g_set_error (error, DF_ERROR, DF_ERROR_INVALID_ARGUMENT,
                   "steps must be between 1 and 1000, not %d", job->steps);
      return FALSE;
    }
  if (job->mode != DF_MODE_TXT2IMG && job->mode != DF_MODE_INTERPOLATE
      && job->init_image == NULL)
    {
      g_set_error (error, DF_ERROR, DF_ERROR_INVALID_ARGUMENT, "this mode needs an init image");
      return FALSE;
    }
  if (job->mode == DF_MODE_INPAINT && job->mask == NULL)
    {
      g_set_error (error, DF_ERROR, DF_ERROR_INVALID_ARGUMENT, "inpainting needs a mask");
      return FALSE;
    }
  if (job->mode == DF_MODE_INTERPOLATE && job->init_image_b != NULL && job->init_image == NULL)
    {
      g_set_error (error, DF_ERROR, DF_ERROR_INVALID_ARGUMENT,
                   "interpolating between images needs both images");
      return FALSE;
    }

  /* the canvas */
  if (job->mode == DF_MODE_OUTPAINT)
    {
      if ((init = outpaint_canvas (job->init_image, job->outpaint, &mask, error)) == NULL)
        return FALSE;
      r->width = init->width;
      r->height = init->height;
    }
  if (!df_image_check_size (r->width, r->height, error))
    return FALSE;
  if (r->width % p->vae_factor || r->height % p->vae_factor
      || (r->width / p->vae_factor) % p->unet_factor
      || (r->height / p->vae_factor) % p->unet_factor)
    {
      g_set_error (error, DF_ERROR, DF_ERROR_INVALID_ARGUMENT,
                   "this model needs a width and height that are multiples of %d, not %d×%d",
                   p->vae_factor * p->unet_factor, r->width, r->height);
      return FALSE;
    }
  r->lw = r->width / p->vae_factor;
  r->lh = r->height / p->vae_factor;
  r->n = (int64_t) p->latent_channels * r->lw * r->lh;
  r->inpaint_unet = df_model_is_inpaint (p->model);
  r->guided = job->cfg_scale > 1.0f;

  if (r->inpaint_unet && job->mode != DF_MODE_INPAINT && job->mode != DF_MODE_OUTPAINT)
    {
      g_set_error (error, DF_ERROR, DF_ERROR_UNSUPPORTED_MODEL,
                   "an inpainting model only inpaints and outpaints");
      return FALSE;
    }

  /* the text */
  texts[0] = r->guided ? (job->negative_prompt != NULL ? job->negative_prompt : "") : NULL;
  texts[1] = job->prompt != NULL ? job->prompt : "";
  texts[2] = job->mode == DF_MODE_INTERPOLATE && job->prompt_b != NULL ? job->prompt_b : NULL;
  if (!check_cancel (r, error) || !encode_texts (p, texts, job->clip_skip, enc, &r->rows, error))
    return FALSE;
  r->uncond = enc[0];
  r->cond = enc[1];
  r->cond_b = enc[2];

  /* the images */
  if (job->mode == DF_MODE_IMG2IMG || job->mode == DF_MODE_INPAINT)
    {
      if ((init = fitted (job->init_image, r->width, r->height, error)) == NULL)
        return FALSE;
    }
  if (job->mode == DF_MODE_INPAINT)
    {
      if (job->mask->width != job->init_image->width
          || job->mask->height != job->init_image->height)
        {
          g_set_error (error, DF_ERROR, DF_ERROR_INVALID_ARGUMENT,
                       "the mask is %d×%d but the init image is %d×%d", job->mask->width,
                       job->mask->height, job->init_image->width, job->init_image->height);
          return FALSE;
        }
      {
        g_autoptr (DfImage) m = NULL;
        if ((m = fitted (job->mask, r->width, r->height, error)) == NULL)
          return FALSE;
        mask = df_image_to_mask (m);
      }
    }
  if (init != NULL && !check_cancel (r, error))
    return FALSE;
  if (init != NULL && !vae_encode (p, init, &r->init_mean, &r->init_std, error))
    return FALSE;

  if (mask != NULL)
    {
      const int w = r->width, h = r->height, f = p->vae_factor;
      const int64_t npix = (int64_t) w * h;
      g_autofree float *masked = df_image_to_planar (init);

      if (job->mask_blur > 0)
        blur_mask (mask, w, h, job->mask_blur);
      else
        for (int64_t i = 0; i < (int64_t) w * h; i++)
          mask[i] = mask[i] < 0.5f ? 0.0f : 1.0f;
      /* the masked image: diffusers multiplies the normalised image by
       * (mask < 0.5), so the repainted area is 0, mid grey */
      for (int c = 0; c < 3; c++)
        for (int64_t i = 0; i < npix; i++)
          if (mask[i] >= 0.5f)
            masked[c * npix + i] = 0.0f;
      r->masked_lat = g_new (float, r->n);
      r->mask_lat = g_new (float, (size_t) r->lw * r->lh);
      for (int y = 0; y < r->lh; y++)
        for (int x = 0; x < r->lw; x++)
          r->mask_lat[y * r->lw + x] = mask[(size_t) y * f * w + (size_t) x * f];
      if (r->inpaint_unet)
        {
          if (!vae_encode_planar (p, masked, w, h, &r->masked_mean, &r->masked_std, error))
            return FALSE;
        }
      else
        {
          /* only the draw matters for the 4-channel UNet */
          r->masked_mean = g_new0 (float, r->n);
          r->masked_std = g_new0 (float, r->n);
        }
    }

  if (job->mode == DF_MODE_INTERPOLATE && job->init_image != NULL)
    {
      g_autoptr (DfImage) a = NULL;
      g_autoptr (DfImage) b = NULL;
      g_autofree float *sa = NULL;
      g_autofree float *sb = NULL;

      if ((a = fitted (job->init_image, r->width, r->height, error)) == NULL
          || (b = fitted (job->init_image_b != NULL ? job->init_image_b : job->init_image,
                          r->width, r->height, error)) == NULL
          || !vae_encode (p, a, &r->lat_a, &sa, error) || !vae_encode (p, b, &r->lat_b, &sb, error))
        return FALSE;
    }

  /* device buffers for the UNet */
  {
    const int batch = r->guided ? 2 : 1;
    const DfUNetConfig *uc = df_unet_get_config (p->unet);

    if ((r->sample = df_tensor_new4 (p->ctx, p->dtype, batch, uc->in_channels, r->lh, r->lw,
                                     error)) == NULL
        || (r->timestep = df_tensor_new4 (p->ctx, DF_DTYPE_F32, batch, 0, 0, 0, error)) == NULL
        || (r->context = df_tensor_new4 (p->ctx, p->dtype, batch, r->rows, p->context_dim, 0,
                                         error)) == NULL
        || (r->out = df_tensor_new4 (p->ctx, p->dtype, batch, uc->out_channels, r->lh, r->lw,
                                     error)) == NULL)
      return FALSE;
  }
  return TRUE;
}

const float *
df_pipeline_get_last_latents (DfPipeline *p, int64_t *n)
{
  g_return_val_if_fail (p != NULL, NULL);

  if (n != NULL)
    *n = p->last_latents != NULL ? p->n_last : 0;
  return p->last_latents;
}

GPtrArray *
df_pipeline_run (DfPipeline *p, const DfJob *job, DfProgressFunc progress,
                 gpointer progress_data, GCancellable *cancellable, GArray **seeds_out,
                 GError **error)
{
  Run r = { 0 };
  g_autoptr (GPtrArray) images = g_ptr_array_new_with_free_func ((GDestroyNotify) df_image_free);
  g_autoptr (GArray) seeds = g_array_new (FALSE, FALSE, sizeof (uint64_t));
  gboolean ok;

  g_return_val_if_fail (p != NULL && job != NULL, NULL);

  r.p = p;
  r.job = job;
  r.progress = progress;
  r.progress_data = progress_data;
  r.cancellable = cancellable;
  r.start = g_get_monotonic_time ();
  g_clear_pointer (&p->last_latents, g_free);
  r.n_images = job->mode == DF_MODE_INTERPOLATE ? job->frames : job->batch_count;
  if (r.n_images < 1 || r.n_images > 10000
      || (job->mode == DF_MODE_INTERPOLATE && job->frames < 2))
    {
      g_set_error (error, DF_ERROR, DF_ERROR_INVALID_ARGUMENT,
                   job->mode == DF_MODE_INTERPOLATE ? "interpolation needs at least 2 frames"
                                                    : "the batch count must be at least 1");
      return NULL;
    }

  ok = prepare (&r, error);
  for (int i = 0; ok && i < r.n_images; i++)
    {
      uint64_t seed = job->mode == DF_MODE_INTERPOLATE ? job->seed : job->seed + (uint64_t) i;
      double t = r.n_images > 1 ? (double) i / (r.n_images - 1) : 0.0;
      DfImage *img;

      r.image = i;
      if ((img = run_one (&r, seed, t, error)) == NULL)
        ok = FALSE;
      else
        {
          g_ptr_array_add (images, img);
          g_array_append_val (seeds, seed);
        }
    }
  run_clear (&r);
  if (!ok)
    return NULL;
  if (seeds_out != NULL)
    *seeds_out = g_steal_pointer (&seeds);
  return g_steal_pointer (&images);
}
