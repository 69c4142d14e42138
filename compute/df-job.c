/* df-job.c — generation jobs: plain data, copied on the caller's thread. */
#include "df-engine.h"

DfJob *
df_job_new (void)
{
  DfJob *job = g_new0 (DfJob, 1);

  job->mode = DF_MODE_TXT2IMG;
  job->prompt = g_strdup ("");
  job->negative_prompt = g_strdup ("");
  job->width = 512;
  job->height = 512;
  job->steps = 20;
  job->cfg_scale = 7.5f;
  job->sampler = DF_SAMPLER_EULER_A;
  job->seed = 0;
  job->seed_b = 0;
  job->batch_count = 1;
  job->frames = 2;
  job->strength = 0.75f;
  job->mask_blur = 0.0f;
  job->preview = DF_PREVIEW_FAST;
  job->preview_every = 5;
  return job;
}

static DfImage *
image_copy_or_null (const DfImage *img)
{
  /* df_image_copy fails only when memory runs out; a job without its image
   * then fails its run with a clear message instead of here. */
  return img != NULL ? df_image_copy (img, NULL) : NULL;
}

DfJob *
df_job_copy (const DfJob *job)
{
  DfJob *copy;

  g_return_val_if_fail (job != NULL, NULL);

  copy = g_memdup2 (job, sizeof *job);
  copy->prompt = g_strdup (job->prompt != NULL ? job->prompt : "");
  copy->negative_prompt = g_strdup (job->negative_prompt != NULL ? job->negative_prompt : "");
  copy->prompt_b = g_strdup (job->prompt_b);
  copy->init_image = image_copy_or_null (job->init_image);
  copy->init_image_b = image_copy_or_null (job->init_image_b);
  copy->mask = image_copy_or_null (job->mask);
  return copy;
}

void
df_job_free (DfJob *job)
{
  if (job == NULL)
    return;
  g_free (job->prompt);
  g_free (job->negative_prompt);
  g_free (job->prompt_b);
  df_image_free (job->init_image);
  df_image_free (job->init_image_b);
  df_image_free (job->mask);
  g_free (job);
}

DfParams *
df_job_to_params (const DfJob *job, uint64_t seed, const char *model_hash,
                  const char *model_name)
{
  DfParams *p;

  g_return_val_if_fail (job != NULL, NULL);

  p = df_params_new ();
  df_params_set_prompt (p, job->prompt != NULL ? job->prompt : "");
  df_params_set_negative_prompt (p, job->negative_prompt != NULL ? job->negative_prompt : "");
  p->steps = job->steps;
  df_params_set_sampler (p, df_sampler_kind_name (job->sampler));
  p->cfg_scale = job->cfg_scale;
  /* the web UIs keep seeds below 2^63; ours are 64-bit but PyTorch only
   * uses the low 32 bits anyway */
  p->seed = (int64_t) (seed & G_MAXINT64);
  /* the size of the picture made: outpainting grows the canvas */
  p->width = job->width;
  p->height = job->height;
  if (job->mode == DF_MODE_OUTPAINT && job->init_image != NULL)
    {
      p->width = job->init_image->width + job->outpaint[0] + job->outpaint[2];
      p->height = job->init_image->height + job->outpaint[1] + job->outpaint[3];
    }
  if (model_hash != NULL || model_name != NULL)
    df_params_set_model (p, model_hash, model_name);
  if (job->mode == DF_MODE_IMG2IMG || job->mode == DF_MODE_INPAINT
      || job->mode == DF_MODE_OUTPAINT
      || (job->mode == DF_MODE_INTERPOLATE && job->init_image != NULL))
    p->denoising_strength = job->strength;
  if (job->mask_blur > 0 && (job->mode == DF_MODE_INPAINT || job->mode == DF_MODE_OUTPAINT))
    {
      char buf[G_ASCII_DTOSTR_BUF_SIZE];

      g_ascii_formatd (buf, sizeof buf, "%g", job->mask_blur);
      df_params_add_extra (p, "Mask blur", buf);
    }
  if (job->clip_skip > 0)
    {
      g_autofree char *skip = g_strdup_printf ("%d", job->clip_skip + 1);

      df_params_add_extra (p, "Clip skip", skip);
    }
  return p;
}
