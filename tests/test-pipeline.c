/* test-pipeline.c — the synchronous pipeline on the tiny models of
 * tests/data/tiny against diffusers' pipelines (golden data from
 * tests/reference/make_pipeline_golden.py, fp32 path): txt2img with four
 * samplers, img2img, inpainting with blending (4-channel UNet) and with the
 * 9-channel inpainting UNet.  Then what diffusers has no twin for: progress
 * and previews, cancel, batches, interpolation, outpainting, refusals.
 *
 * The tiny text encoders have a 1000-token vocabulary; the tests tokenize
 * with the matching tiny CLIP tokenizer in tests/data/pipeline/tokenizer
 * (CLIP's first 486 merges), which the reference used too. */
#include <math.h>
#include <string.h>

#include "df-engine.h"
#include "df-test.h"

static DfModel *
open_model (const char *name)
{
  g_autoptr (GError) error = NULL;
  g_autofree char *dir = g_strdup_printf ("%s/tiny/%s", g_getenv ("DIFFUSE_TEST_DATA"), name);
  DfModel *model = df_model_open_full (dir, DF_MODEL_OPEN_ANY_SIZE, &error);

  g_assert_no_error (error);
  return model;
}

static DfPipeline *
open_pipeline (DfModel *model)
{
  g_autoptr (GError) error = NULL;
  g_autofree char *vocab = df_test_data_path ("pipeline/tokenizer");
  DfPipeline *p = df_pipeline_new (df_test_context (), model, vocab, &error);

  g_assert_no_error (error);
  g_assert_nonnull (p);
  return p;
}

static DfImage *
load_png (const char *name)
{
  g_autoptr (GError) error = NULL;
  g_autofree char *path = df_test_data_path (name);
  DfImage *img = df_image_load_png (path, &error);

  g_assert_no_error (error);
  return img;
}

static DfJob *
base_job (DfSamplerKind sampler, int steps)
{
  DfJob *job = df_job_new ();

  g_free (job->prompt);
  g_free (job->negative_prompt);
  job->prompt = g_strdup ("a photo of a cat");
  job->negative_prompt = g_strdup ("blurry, dark");
  job->width = job->height = 16;
  job->steps = steps;
  job->cfg_scale = 7.5f;
  job->sampler = sampler;
  job->seed = 42;
  return job;
}

static GPtrArray *
run_ok (DfPipeline *p, const DfJob *job)
{
  g_autoptr (GError) error = NULL;
  GPtrArray *images = df_pipeline_run (p, job, NULL, NULL, NULL, NULL, &error);

  g_assert_no_error (error);
  g_assert_nonnull (images);
  return images;
}

/* The job is refused with @code and gives no images. */
static void
assert_refused (DfPipeline *p, const DfJob *job, int code)
{
  g_autoptr (GError) error = NULL;

  g_assert_null (df_pipeline_run (p, job, NULL, NULL, NULL, NULL, &error));
  g_assert_error (error, DF_ERROR, code);
}

static float *
golden (const char *key, int64_t *n)
{
  g_autoptr (GError) error = NULL;
  g_autofree char *path = df_test_data_path ("pipeline/golden.safetensors");
  g_autoptr (DfSafetensors) st = df_safetensors_open (path, &error);
  const DfTensorInfo *info;
  float *data;

  g_assert_no_error (error);
  info = df_safetensors_lookup (st, key);
  g_assert_nonnull (info);
  *n = df_tensor_info_numel (info);
  data = g_new (float, *n);
  g_assert_true (df_tensor_info_read_f32 (info, data, *n, &error));
  return data;
}

typedef struct
{
  const char *name;  /* golden key prefix */
  const char *model;
  DfMode mode;
  DfSamplerKind sampler;
  int steps;
  float strength;
} GoldenCase;

static const GoldenCase golden_cases[] = {
  { "txt2img_euler", "sd1", DF_MODE_TXT2IMG, DF_SAMPLER_EULER, 3, 1.0f },
  { "txt2img_euler_a", "sd1", DF_MODE_TXT2IMG, DF_SAMPLER_EULER_A, 3, 1.0f },
  { "txt2img_ddim", "sd1", DF_MODE_TXT2IMG, DF_SAMPLER_DDIM, 3, 1.0f },
  { "txt2img_dpmpp_2m_karras", "sd1", DF_MODE_TXT2IMG, DF_SAMPLER_DPMPP_2M_KARRAS, 3, 1.0f },
  { "img2img_euler_a", "sd1", DF_MODE_IMG2IMG, DF_SAMPLER_EULER_A, 4, 0.6f },
  { "inpaint_euler", "sd1", DF_MODE_INPAINT, DF_SAMPLER_EULER, 3, 1.0f },
  { "inpaint9_euler", "sd1-inpaint", DF_MODE_INPAINT, DF_SAMPLER_EULER, 3, 1.0f },
};

static void
test_golden (gconstpointer data)
{
  const GoldenCase *c = data;
  g_autoptr (DfModel) model = open_model (c->model);
  g_autoptr (DfPipeline) p = open_pipeline (model);
  g_autoptr (DfJob) job = base_job (c->sampler, c->steps);
  g_autoptr (GPtrArray) images = NULL;
  g_autofree char *lkey = g_strconcat (c->name, ".latents", NULL);
  g_autofree char *ikey = g_strconcat (c->name, ".image", NULL);
  g_autofree float *want_lat = NULL;
  g_autofree float *want_img = NULL;
  const float *got_lat;
  int64_t n_lat, n_got, n_img, off = 0, far = 0;
  const DfImage *img;

  job->mode = c->mode;
  job->strength = c->strength;
  if (c->mode != DF_MODE_TXT2IMG)
    job->init_image = load_png ("pipeline/init.png");
  if (c->mode == DF_MODE_INPAINT)
    job->mask = load_png ("pipeline/mask.png");
  images = run_ok (p, job);
  g_assert_cmpuint (images->len, ==, 1);

  /* the final latents, to 1e-3 of their scale */
  want_lat = golden (lkey, &n_lat);
  got_lat = df_pipeline_get_last_latents (p, &n_got);
  g_assert_nonnull (got_lat);
  g_assert_cmpint (n_got, ==, n_lat);
  df_test_assert_close (got_lat, want_lat, n_lat, 1e-3);

  /* the picture: within 2/255 of diffusers' on at least 99% of the
   * samples, and never far off */
  want_img = golden (ikey, &n_img);
  img = g_ptr_array_index (images, 0);
  g_assert_cmpint (img->width, ==, 16);
  g_assert_cmpint (img->height, ==, 16);
  g_assert_cmpint ((int64_t) img->width * img->height * 3, ==, n_img);
  for (int ch = 0; ch < 3; ch++)
    for (int y = 0; y < 16; y++)
      for (int x = 0; x < 16; x++)
        {
          double want = want_img[(ch * 16 + y) * 16 + x] * 255.0;
          double d = fabs (df_image_pixel (img, x, y)[ch] - want);

          off += d > 2.0;
          far += d > 8.0;
        }
  g_assert_cmpint (off * 100, <=, n_img);
  g_assert_cmpint (far, ==, 0);
}

typedef struct
{
  int calls;
  int last_step, last_total;
  int preview_w, preview_h;
  int cancel_at;
  GCancellable *cancellable;
} ProgressLog;

static void
on_progress (const DfProgress *pr, gpointer data)
{
  ProgressLog *log = data;

  log->calls++;
  g_assert_cmpint (pr->step, ==, log->last_step + 1);
  g_assert_cmpfloat (pr->elapsed, >=, 0.0);
  log->last_step = pr->step;
  log->last_total = pr->total;
  if (pr->preview != NULL)
    {
      log->preview_w = pr->preview->width;
      log->preview_h = pr->preview->height;
    }
  if (log->cancel_at > 0 && pr->step == log->cancel_at)
    g_cancellable_cancel (log->cancellable);
}

static gboolean
images_equal (const DfImage *a, const DfImage *b)
{
  if (a->width != b->width || a->height != b->height || a->channels != b->channels)
    return FALSE;
  for (int y = 0; y < a->height; y++)
    if (memcmp (df_image_pixel (a, 0, y), df_image_pixel (b, 0, y),
                (size_t) a->width * a->channels) != 0)
      return FALSE;
  return TRUE;
}

/* Progress arrives once per step with a latent-sized preview; a cancel at
 * step 2 ends the run with G_IO_ERROR_CANCELLED and the next run gives the
 * picture an undisturbed run gives. */
static void
test_progress_cancel (void)
{
  g_autoptr (DfModel) model = open_model ("sd1");
  g_autoptr (DfPipeline) p = open_pipeline (model);
  g_autoptr (DfJob) job = base_job (DF_SAMPLER_EULER, 4);
  g_autoptr (GCancellable) cancellable = g_cancellable_new ();
  g_autoptr (GError) error = NULL;
  g_autoptr (GPtrArray) first = NULL;
  g_autoptr (GPtrArray) again = NULL;
  g_autoptr (GPtrArray) cancelled = NULL;
  g_autoptr (GArray) seeds = NULL;
  ProgressLog log = { 0 };

  first = df_pipeline_run (p, job, on_progress, &log, NULL, &seeds, &error);
  g_assert_no_error (error);
  g_assert_cmpint (log.calls, ==, 4);
  g_assert_cmpint (log.last_total, ==, 4);
  g_assert_cmpint (log.preview_w, ==, 8);
  g_assert_cmpint (log.preview_h, ==, 8);
  g_assert_cmpuint (seeds->len, ==, 1);
  g_assert_cmpuint (g_array_index (seeds, uint64_t, 0), ==, 42);

  memset (&log, 0, sizeof log);
  log.cancel_at = 2;
  log.cancellable = cancellable;
  cancelled = df_pipeline_run (p, job, on_progress, &log, cancellable, NULL, &error);
  g_assert_null (cancelled);
  g_assert_error (error, G_IO_ERROR, G_IO_ERROR_CANCELLED);
  g_assert_cmpint (log.calls, ==, 2);
  g_clear_error (&error);

  /* a full VAE decode every 2 steps: previews at full size on steps 2 */
  memset (&log, 0, sizeof log);
  job->preview = DF_PREVIEW_FULL;
  job->preview_every = 2;
  again = df_pipeline_run (p, job, on_progress, &log, NULL, NULL, &error);
  g_assert_no_error (error);
  g_assert_cmpint (log.calls, ==, 4);
  g_assert_true (images_equal (g_ptr_array_index (first, 0), g_ptr_array_index (again, 0)));
}

static void
test_batch_and_interpolation (void)
{
  g_autoptr (DfModel) model = open_model ("sd1");
  g_autoptr (DfPipeline) p = open_pipeline (model);
  g_autoptr (DfJob) job = base_job (DF_SAMPLER_EULER, 2);
  g_autoptr (GError) error = NULL;
  g_autoptr (GPtrArray) one = NULL;
  g_autoptr (GPtrArray) batch = NULL;
  g_autoptr (GPtrArray) frames = NULL;
  g_autoptr (GPtrArray) end = NULL;
  g_autoptr (GArray) seeds = NULL;

  one = run_ok (p, job);
  job->batch_count = 2;
  batch = df_pipeline_run (p, job, NULL, NULL, NULL, &seeds, &error);
  g_assert_no_error (error);
  g_assert_cmpuint (batch->len, ==, 2);
  g_assert_cmpuint (g_array_index (seeds, uint64_t, 1), ==, 43);
  g_assert_true (images_equal (g_ptr_array_index (one, 0), g_ptr_array_index (batch, 0)));
  g_assert_false (images_equal (g_ptr_array_index (batch, 0), g_ptr_array_index (batch, 1)));

  /* three frames from (prompt, 42) to (prompt_b, 43): the ends are the
   * txt2img pictures of each, the middle neither */
  job->batch_count = 1;
  job->mode = DF_MODE_INTERPOLATE;
  job->frames = 3;
  job->seed_b = 43;
  job->prompt_b = g_strdup ("a red house");
  frames = run_ok (p, job);
  g_assert_cmpuint (frames->len, ==, 3);
  g_assert_true (images_equal (g_ptr_array_index (one, 0), g_ptr_array_index (frames, 0)));
  g_assert_false (images_equal (g_ptr_array_index (frames, 1), g_ptr_array_index (frames, 0)));
  job->mode = DF_MODE_TXT2IMG;
  g_free (job->prompt);
  job->prompt = g_strdup ("a red house");
  job->seed = 43;
  end = run_ok (p, job);
  g_assert_true (images_equal (g_ptr_array_index (end, 0), g_ptr_array_index (frames, 2)));

  /* between two images: three frames of the canvas size */
  {
    g_autoptr (GPtrArray) morph = NULL;

    job->mode = DF_MODE_INTERPOLATE;
    job->init_image = load_png ("pipeline/init.png");
    job->init_image_b = load_png ("pipeline/mask.png");
    job->strength = 0.5f;
    morph = run_ok (p, job);
    g_assert_cmpuint (morph->len, ==, 3);
    g_assert_false (images_equal (g_ptr_array_index (morph, 0), g_ptr_array_index (morph, 2)));
  }
}

/* Outpainting grows the canvas; the 4-channel blending keeps the latents
 * of the old area the init image's (noised to nothing at the end). */
static void
test_outpaint_and_feather (void)
{
  g_autoptr (DfModel) model = open_model ("sd1");
  g_autoptr (DfPipeline) p = open_pipeline (model);
  g_autoptr (DfJob) job = base_job (DF_SAMPLER_EULER, 2);
  g_autoptr (GPtrArray) out = NULL;
  g_autoptr (GPtrArray) sharp = NULL;
  g_autoptr (GPtrArray) soft = NULL;
  g_autoptr (DfParams) params = NULL;
  const DfImage *img;

  job->mode = DF_MODE_OUTPAINT;
  job->strength = 1.0f;
  job->init_image = load_png ("pipeline/init.png");
  job->outpaint[2] = 16; /* 16 px on the right */
  out = run_ok (p, job);
  img = g_ptr_array_index (out, 0);
  g_assert_cmpint (img->width, ==, 32);
  g_assert_cmpint (img->height, ==, 16);
  params = df_job_to_params (job, 42, "0123456789", "tiny");
  g_assert_cmpint (params->width, ==, 32);
  g_assert_cmpfloat (params->denoising_strength, ==, 1.0);

  /* a margin that leaves the size off the grid is refused */
  job->outpaint[2] = 12;
  assert_refused (p, job, DF_ERROR_INVALID_ARGUMENT);

  /* feathering changes the result of the same inpainting */
  job->mode = DF_MODE_INPAINT;
  job->mask = load_png ("pipeline/mask.png");
  sharp = run_ok (p, job);
  job->mask_blur = 2.0f;
  soft = run_ok (p, job);
  g_assert_false (images_equal (g_ptr_array_index (sharp, 0), g_ptr_array_index (soft, 0)));
}

static void
test_refusals (void)
{
  g_autoptr (DfModel) model = open_model ("sd1");
  g_autoptr (DfPipeline) p = open_pipeline (model);
  g_autoptr (DfJob) job = base_job (DF_SAMPLER_EULER, 2);
  g_autoptr (GPtrArray) ok = NULL;

  job->width = 20; /* not a multiple of 8 */
  assert_refused (p, job, DF_ERROR_INVALID_ARGUMENT);
  job->width = 8; /* a 4×4 latent is fine for 2 blocks; 8 px → 4 */
  job->height = 24; /* 12 latent rows: fine too */
  ok = run_ok (p, job);
  g_assert_cmpint (((DfImage *) g_ptr_array_index (ok, 0))->height, ==, 24);

  job->width = job->height = 16;
  job->mode = DF_MODE_INPAINT;
  assert_refused (p, job, DF_ERROR_INVALID_ARGUMENT); /* no init image */

  job->init_image = load_png ("pipeline/init.png");
  assert_refused (p, job, DF_ERROR_INVALID_ARGUMENT); /* no mask */

  {
    g_autoptr (GError) e = NULL;
    job->mask = df_image_new (8, 16, 3, &e);
  }
  assert_refused (p, job, DF_ERROR_INVALID_ARGUMENT); /* mask size */

  job->mode = DF_MODE_IMG2IMG;
  job->strength = 0.1f; /* ⌊2 · 0.1⌋ = 0 steps */
  assert_refused (p, job, DF_ERROR_INVALID_ARGUMENT);

  /* the inpainting model refuses txt2img */
  {
    g_autoptr (DfModel) m9 = open_model ("sd1-inpaint");
    g_autoptr (DfPipeline) p9 = open_pipeline (m9);

    job->mode = DF_MODE_TXT2IMG;
    assert_refused (p9, job, DF_ERROR_UNSUPPORTED_MODEL);
  }
}

static void
test_job (void)
{
  g_autoptr (DfJob) job = base_job (DF_SAMPLER_DPMPP_2M_KARRAS, 20);
  g_autoptr (DfJob) copy = NULL;
  g_autoptr (DfParams) params = NULL;
  g_autoptr (GError) error = NULL;

  job->mode = DF_MODE_IMG2IMG;
  job->init_image = df_image_new (16, 8, 3, &error);
  job->strength = 0.5f;
  copy = df_job_copy (job);
  g_assert_true (copy->prompt != job->prompt);
  g_assert_cmpstr (copy->prompt, ==, job->prompt);
  g_assert_true (copy->init_image != job->init_image);
  g_assert_cmpint (copy->init_image->width, ==, 16);
  params = df_job_to_params (copy, 7, "abcdef0123", "tiny");
  g_assert_cmpstr (params->prompt, ==, "a photo of a cat");
  g_assert_cmpstr (params->negative_prompt, ==, "blurry, dark");
  g_assert_cmpstr (params->sampler, ==, "dpmpp_2m_karras");
  g_assert_cmpint (params->seed, ==, 7);
  g_assert_cmpint (params->steps, ==, 20);
  g_assert_cmpfloat (params->denoising_strength, ==, 0.5);
  g_assert_cmpstr (params->model_hash, ==, "abcdef0123");
}

int
main (int argc, char **argv)
{
  int ret;

  /* the goldens are fp32 */
  g_setenv ("DIFFUSE_FP32", "1", TRUE);
  g_test_init (&argc, &argv, NULL);
  g_test_add_func ("/pipeline/job", test_job);
  for (size_t i = 0; i < G_N_ELEMENTS (golden_cases); i++)
    {
      g_autofree char *path = g_strdup_printf ("/pipeline/golden/%s", golden_cases[i].name);

      g_test_add_data_func (path, &golden_cases[i], test_golden);
    }
  g_test_add_func ("/pipeline/progress-cancel", test_progress_cancel);
  g_test_add_func ("/pipeline/batch-interpolation", test_batch_and_interpolation);
  g_test_add_func ("/pipeline/outpaint-feather", test_outpaint_and_feather);
  g_test_add_func ("/pipeline/refusals", test_refusals);
  ret = g_test_run ();
  df_test_context_free ();
  return ret;
}
