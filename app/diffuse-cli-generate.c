/* diffuse-cli-generate.c — `diffuse-cli generate`: one job through the
 * synchronous pipeline, progress on stderr, PNGs with their parameters. */
#include "config.h"

#include <glib/gi18n.h>
#include <errno.h>
#include <glib/gstdio.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "df-engine.h"
#include "diffuse-cli.h"

typedef struct
{
  gboolean tty;
  gboolean line_open;
  const char *preview_dir;
  int preview_failures;
} Progress;

static void
on_progress (const DfProgress *pr, gpointer data)
{
  Progress *p = data;

  if (p->tty)
    {
      g_printerr ("\r");
      p->line_open = TRUE;
    }
  /* TRANSLATORS: progress line: image 1/2, step 3/20, seconds so far */
  g_printerr (_("image %d/%d, step %d/%d, %.1f s"), pr->image + 1, pr->n_images, pr->step,
              pr->total, pr->elapsed);
  if (!p->tty)
    g_printerr ("\n");

  if (p->preview_dir != NULL && pr->preview != NULL)
    {
      g_autofree char *name = g_strdup_printf ("preview-%d-%03d.png", pr->image + 1, pr->step);
      g_autofree char *path = g_build_filename (p->preview_dir, name, NULL);
      g_autoptr (GError) error = NULL;

      if (!df_image_save_png (pr->preview, path, NULL, &error) && p->preview_failures++ == 0)
        g_warning ("%s", error->message);
    }
}

static void
end_progress_line (Progress *p)
{
  if (p->line_open)
    g_printerr ("\n");
  p->line_open = FALSE;
}

/* "L,T,R,B" → four non-negative pixel counts. */
static gboolean
parse_outpaint (const char *text, int out[4])
{
  g_auto (GStrv) parts = g_strsplit (text, ",", -1);

  if (g_strv_length (parts) != 4)
    return FALSE;
  for (int i = 0; i < 4; i++)
    {
      guint64 v;

      if (!g_ascii_string_to_unsigned (g_strstrip (parts[i]), 10, 0, DF_IMAGE_MAX_SIZE, &v, NULL))
        return FALSE;
      out[i] = (int) v;
    }
  return TRUE;
}

/* FILE.png for one picture; FILE-1.png, FILE-2.png, … for several. */
static char *
output_path (const char *out, guint index, guint count)
{
  g_autofree char *stem = NULL;

  if (count == 1)
    return g_strdup (out);
  stem = g_str_has_suffix (out, ".png") ? g_strndup (out, strlen (out) - 4) : g_strdup (out);
  return g_strdup_printf ("%s-%u.png", stem, index + 1);
}

static char *
model_name (const char *path)
{
  g_autofree char *trimmed = g_strdup (path);
  g_autofree char *base = NULL;
  char *dot;

  /* a folder given as "dir/" names the folder */
  while (strlen (trimmed) > 1 && G_IS_DIR_SEPARATOR (trimmed[strlen (trimmed) - 1]))
    trimmed[strlen (trimmed) - 1] = '\0';
  base = g_path_get_basename (trimmed);
  if ((dot = strrchr (base, '.')) != NULL && dot != base)
    *dot = '\0';
  return g_steal_pointer (&base);
}

int
diffuse_cli_generate (int argc, char **argv)
{
  g_autofree char *model_path = NULL;
  g_autofree char *prompt = NULL;
  g_autofree char *negative = NULL;
  g_autofree char *sampler = NULL;
  g_autofree char *seed_text = NULL;
  g_autofree char *init_path = NULL;
  g_autofree char *mask_path = NULL;
  g_autofree char *outpaint = NULL;
  g_autofree char *vocab = NULL;
  g_autofree char *device = NULL;
  g_autofree char *preview_dir = NULL;
  g_autofree char *out = NULL;
  int steps = 20, width = 0, height = 0, batch = 1;
  double cfg = 7.5, strength = 0.75, mask_blur = 0;
  const GOptionEntry entries[] = {
    { "model", 0, 0, G_OPTION_ARG_FILENAME, &model_path,
      N_("Model: a .safetensors checkpoint or a diffusers folder"), N_("PATH") },
    { "prompt", 0, 0, G_OPTION_ARG_STRING, &prompt, N_("What to draw"), N_("TEXT") },
    { "negative", 0, 0, G_OPTION_ARG_STRING, &negative, N_("What to avoid"), N_("TEXT") },
    { "steps", 0, 0, G_OPTION_ARG_INT, &steps, N_("Sampling steps (default 20)"), N_("N") },
    { "cfg", 0, 0, G_OPTION_ARG_DOUBLE, &cfg, N_("Guidance scale (default 7.5)"), N_("F") },
    { "sampler", 0, 0, G_OPTION_ARG_STRING, &sampler,
      N_("euler, euler_a (default), heun, ddim, lms, dpmpp_2m, dpmpp_2m_karras or lcm"),
      N_("NAME") },
    { "seed", 0, 0, G_OPTION_ARG_STRING, &seed_text, N_("Seed (default: random)"), N_("N") },
    { "width", 0, 0, G_OPTION_ARG_INT, &width,
      N_("Width in pixels, a multiple of 8 (default 512, or the init image's)"), N_("W") },
    { "height", 0, 0, G_OPTION_ARG_INT, &height,
      N_("Height in pixels, a multiple of 8 (default 512, or the init image's)"), N_("H") },
    { "batch", 0, 0, G_OPTION_ARG_INT, &batch,
      N_("Pictures to make, with seeds N, N + 1, …"), N_("N") },
    { "init", 0, 0, G_OPTION_ARG_FILENAME, &init_path,
      N_("Start from this picture (image to image)"), N_("PNG") },
    { "strength", 0, 0, G_OPTION_ARG_DOUBLE, &strength,
      N_("How much of the init picture to repaint, 0 to 1 (default 0.75)"), N_("F") },
    { "mask", 0, 0, G_OPTION_ARG_FILENAME, &mask_path,
      N_("Inpaint where this mask is white (the init picture's size)"), N_("PNG") },
    { "mask-blur", 0, 0, G_OPTION_ARG_DOUBLE, &mask_blur,
      N_("Feather the mask by this many pixels"), N_("F") },
    { "outpaint", 0, 0, G_OPTION_ARG_STRING, &outpaint,
      N_("Grow the init picture by these pixels on each side, then paint the new area"),
      N_("L,T,R,B") },
    { "vocab", 0, 0, G_OPTION_ARG_FILENAME, &vocab,
      N_("CLIP vocabulary, for a model without a tokenizer folder"), N_("FILE") },
    { "device", 0, 0, G_OPTION_ARG_STRING, &device,
      N_("Vulkan device: an index or part of its name"), N_("N") },
    { "preview-dir", 0, 0, G_OPTION_ARG_FILENAME, &preview_dir,
      N_("Write each step's preview here"), N_("DIR") },
    { "out", 0, 0, G_OPTION_ARG_FILENAME, &out,
      N_("Output PNG; several pictures are named FILE-1.png, FILE-2.png, …"), N_("FILE.png") },
    { NULL },
  };
  g_autoptr (GOptionContext) context = g_option_context_new (NULL);
  g_autoptr (GError) error = NULL;
  g_autoptr (DfJob) job = df_job_new ();
  g_autoptr (DfContext) ctx = NULL;
  g_autoptr (DfModel) model = NULL;
  g_autoptr (DfPipeline) pipeline = NULL;
  g_autoptr (GPtrArray) images = NULL;
  g_autoptr (GArray) seeds = NULL;
  g_autofree char *hash = NULL;
  g_autofree char *name = NULL;
  Progress progress = { 0 };

  g_option_context_set_summary (context, _("Make pictures from a prompt."));
  g_option_context_add_main_entries (context, entries, GETTEXT_PACKAGE);
  if (!diffuse_cli_parse (context, &argc, &argv))
    return 2;
  if (model_path == NULL || prompt == NULL || out == NULL)
    {
      g_printerr ("diffuse-cli: %s\n", _("generate needs --model, --prompt and --out"));
      return 2;
    }

  /* the job, checked before anything slow */
  g_free (job->prompt);
  job->prompt = g_strdup (prompt);
  g_free (job->negative_prompt);
  job->negative_prompt = g_strdup (negative != NULL ? negative : "");
  job->steps = steps;
  job->cfg_scale = (float) cfg;
  job->strength = (float) strength;
  job->mask_blur = (float) mask_blur;
  job->batch_count = batch;
  job->preview = preview_dir != NULL ? DF_PREVIEW_FAST : DF_PREVIEW_OFF;
  if (sampler != NULL && !df_sampler_kind_from_string (sampler, &job->sampler, &error))
    return diffuse_cli_fail (error->message);
  if (seed_text != NULL)
    {
      guint64 seed;

      if (!g_ascii_string_to_unsigned (seed_text, 10, 0, G_MAXUINT64, &seed, NULL))
        {
          g_autofree char *msg = g_strdup_printf (_("not a seed: %s"), seed_text);
          return diffuse_cli_fail (msg);
        }
      job->seed = seed;
    }
  else
    job->seed = g_random_int ();
  if (steps < 1 || batch < 1 || strength < 0 || strength > 1 || mask_blur < 0)
    return diffuse_cli_fail (
      _("steps and batch must be at least 1, strength between 0 and 1, mask blur not negative"));
  if (outpaint != NULL && !parse_outpaint (outpaint, job->outpaint))
    {
      g_autofree char *msg = g_strdup_printf (
        _("--outpaint takes four pixel counts LEFT,TOP,RIGHT,BOTTOM, not “%s”"), outpaint);
      return diffuse_cli_fail (msg);
    }
  if ((mask_path != NULL || outpaint != NULL) && init_path == NULL)
    return diffuse_cli_fail (_("--mask and --outpaint need an --init picture"));

  if (init_path != NULL)
    {
      if ((job->init_image = df_image_load_png (init_path, &error)) == NULL)
        return diffuse_cli_fail (error->message);
      job->mode = DF_MODE_IMG2IMG;
    }
  if (mask_path != NULL)
    {
      if ((job->mask = df_image_load_png (mask_path, &error)) == NULL)
        return diffuse_cli_fail (error->message);
      if (job->mask->width != job->init_image->width
          || job->mask->height != job->init_image->height)
        {
          g_autofree char *msg = g_strdup_printf (
            _("the mask is %d×%d but the init picture is %d×%d"), job->mask->width,
            job->mask->height, job->init_image->width, job->init_image->height);
          return diffuse_cli_fail (msg);
        }
      job->mode = DF_MODE_INPAINT;
    }
  if (outpaint != NULL)
    job->mode = DF_MODE_OUTPAINT;
  job->width = width > 0 ? width : job->init_image != NULL ? job->init_image->width : 512;
  job->height = height > 0 ? height : job->init_image != NULL ? job->init_image->height : 512;
  if (job->mode == DF_MODE_OUTPAINT)
    {
      if (!df_image_check_size (job->init_image->width + job->outpaint[0] + job->outpaint[2],
                                job->init_image->height + job->outpaint[1] + job->outpaint[3],
                                &error))
        return diffuse_cli_fail (error->message);
    }
  else if (!df_image_check_size (job->width, job->height, &error))
    return diffuse_cli_fail (error->message);

  /* the device and the model; scaled-down test models are accepted */
  if ((ctx = df_context_new (device, &error)) == NULL
      || (model = df_model_open_full (model_path, DF_MODEL_OPEN_ANY_SIZE, &error)) == NULL
      || (pipeline = df_pipeline_new (ctx, model, vocab, &error)) == NULL)
    return diffuse_cli_fail (error->message);
  if (!df_model_is_diffusers (model) && (hash = df_model_hash (model_path, &error)) == NULL)
    return diffuse_cli_fail (error->message);
  name = model_name (model_path);

  if (preview_dir != NULL && g_mkdir_with_parents (preview_dir, 0755) != 0)
    {
      g_autofree char *msg = g_strdup_printf (_("cannot create %s: %s"), preview_dir,
                                              g_strerror (errno));
      return diffuse_cli_fail (msg);
    }
  progress.tty = isatty (STDERR_FILENO);
  progress.preview_dir = preview_dir;
  images = df_pipeline_run (pipeline, job, on_progress, &progress, NULL, &seeds, &error);
  end_progress_line (&progress);
  if (images == NULL)
    return diffuse_cli_fail (error->message);

  for (guint i = 0; i < images->len; i++)
    {
      g_autofree char *path = output_path (out, i, images->len);
      g_autoptr (DfParams) params = df_job_to_params (job, g_array_index (seeds, uint64_t, i),
                                                      hash, name);

      if (!df_image_save_png (g_ptr_array_index (images, i), path, params, &error))
        return diffuse_cli_fail (error->message);
      printf ("%s\n", path);
    }
  return 0;
}
