/* diffuse-cli-bench.c — `diffuse-cli bench`: how long loading, the text
 * encoder, one guided UNet step and the VAE decode take, the peak device
 * memory, and a per-shader breakdown of one UNet step from GPU timestamps.
 *
 * The figures are of the networks alone, as the pipeline runs them: each
 * UNet step uploads its inputs, runs at batch 2 ([uncond, cond]), waits
 * and reads back; the step is recorded once and its command buffer
 * submitted again for the later steps.  The first step includes the
 * recording and the driver's shader compilation, so unet_step_s is the
 * mean of the steps after it (of the only one when --steps is 1), and
 * unet_first_step_s is reported apart.  Then as many steps (at least one)
 * are recorded anew every time, as before replay: unet_step_rerecord_s is
 * their mean and unet_record_ms the mean CPU time of their recording.
 * unet_pinned_mib is the memory of the freed intermediates that the kept
 * recording reserves (counted in mem_unet_peak_mib).
 *
 * Memory timeline: mem_weights_mib after loading, then the peak of each
 * phase (mem_clip_peak_mib, mem_unet_peak_mib, mem_vae_peak_mib) from the
 * allocator's own accounting; peak_device_mib is the largest of them.
 * --profile adds each shader's share of the UNet step (op.<shader>_pct)
 * and a per-shader breakdown of the VAE decode (vae_op.<shader>_ms).
 * --memory-only records the text encoder, one guided UNet step and the
 * whole VAE decode without submitting them: the memory timeline of any
 * size in seconds, even on a device far too slow to run it.  It also
 * reports unet_record_ms, the CPU time of recording one guided UNet step
 * once its pipelines exist (the step is recorded twice, the second timed,
 * kept for replay as the pipeline keeps it, so that unet_pinned_mib and
 * mem_unet_peak_mib include the memory it reserves), and unet_dispatches
 * and unet_barriers, the dispatches in that recording and the barriers
 * between them (on a GPU each costs a few microseconds of idle time). */
#include "config.h"

#include <glib/gi18n.h>
#include <stdio.h>
#include <string.h>

#include "df-engine.h"
#include "diffuse-cli.h"

typedef struct
{
  const char *name;
  double value;
} Figure;

static double
seconds_since (gint64 start)
{
  return (double) (g_get_monotonic_time () - start) / G_USEC_PER_SEC;
}

static int
compare_names (gconstpointer a, gconstpointer b)
{
  return strcmp (*(const char *const *) a, *(const char *const *) b);
}

static double
mib (uint64_t bytes)
{
  return (double) bytes / (1 << 20);
}

/* Records the phase's peak and keeps the largest in *peak. */
static void
note_peak (GArray *figures, const char *name, DfContext *ctx, double *peak)
{
  double value = mib (df_context_get_peak_allocated (ctx));

  g_array_append_val (figures, ((Figure) { name, value }));
  *peak = MAX (*peak, value);
}

/* One line per shader, sorted by name ("<prefix><shader><suffix>: ms" or,
 * with @share, the percentage of the total), or one JSON member @key. */
static void
print_profile (GHashTable *profile, gboolean json, const char *key, const char *prefix,
               const char *suffix, gboolean share)
{
  guint n;
  g_autofree gpointer *names = NULL;
  GHashTableIter iter;
  gpointer value;
  double total = 0;

  if (profile == NULL || g_hash_table_size (profile) == 0)
    return;
  g_hash_table_iter_init (&iter, profile);
  while (g_hash_table_iter_next (&iter, NULL, &value))
    total += *(const double *) value;
  names = g_hash_table_get_keys_as_array (profile, &n);
  qsort (names, n, sizeof (gpointer), compare_names);
  if (json)
    printf (", \"%s\": {", key);
  for (guint i = 0; i < n; i++)
    {
      const double *ms = g_hash_table_lookup (profile, names[i]);
      double v = share ? (total > 0 ? 100.0 * *ms / total : 0) : *ms;
      char buf[G_ASCII_DTOSTR_BUF_SIZE];

      g_ascii_formatd (buf, sizeof buf, share ? "%.1f" : "%.4f", v);
      if (json)
        printf ("%s\"%s\": %s", i ? ", " : "", (const char *) names[i], buf);
      else
        printf ("%s%s%s: %s\n", prefix, (const char *) names[i], suffix, buf);
    }
  if (json)
    printf ("}");
}

static void
print_figures (GArray *figures, gboolean json)
{
  for (guint i = 0; i < figures->len; i++)
    {
      const Figure *fig = &g_array_index (figures, Figure, i);
      char buf[G_ASCII_DTOSTR_BUF_SIZE];

      g_ascii_formatd (buf, sizeof buf, "%.4f", fig->value);
      if (json)
        printf ("%s\"%s\": %s", i ? ", " : "", fig->name, buf);
      else
        printf ("%s: %s\n", fig->name, buf);
    }
}

/* --memory-only: record, never submit, and report the allocator's peaks. */
static int
memory_timeline (DfContext *ctx, DfClip *clip, DfUNet *unet, DfVae *vae, DfDType dtype, int lw,
                 int lh, gboolean json, GArray *figures)
{
  const DfUNetConfig *uc = df_unet_get_config (unet);
  const DfVAEConfig *vc = df_vae_get_config (vae);
  const DfClipConfig *cc = df_clip_get_config (clip);
  int f = 1 << (vc->n_blocks - 1);
  g_autoptr (GError) error = NULL;
  g_autoptr (DfCmd) cmd = NULL;
  g_autoptr (DfTensor) ids = NULL;
  g_autoptr (DfTensor) text = NULL;
  g_autoptr (DfTensor) sample = NULL;
  g_autoptr (DfTensor) t = NULL;
  g_autoptr (DfTensor) context = NULL;
  g_autoptr (DfUNetText) kv = NULL;
  g_autoptr (DfTensor) out = NULL;
  g_autoptr (DfTensor) latent = NULL;
  g_autoptr (DfTensor) image = NULL;
  double peak = 0;
  int tile, th, tw;
  gint64 start;

  df_context_reset_peak (ctx);
  if ((cmd = df_cmd_new (ctx, &error)) == NULL
      || (ids = df_tensor_new4 (ctx, DF_DTYPE_U32, 2, 77, 0, 0, &error)) == NULL
      || (text = df_tensor_new4 (ctx, dtype, 2, 77, cc->hidden_size, 0, &error)) == NULL
      || !df_clip_forward (clip, cmd, text, ids, 0, &error))
    return diffuse_cli_fail (error->message);
  note_peak (figures, "mem_clip_peak_mib", ctx, &peak);
  g_clear_pointer (&cmd, df_cmd_free);

  df_context_reset_peak (ctx);
  if ((cmd = df_cmd_new (ctx, &error)) == NULL
      || (sample = df_tensor_new4 (ctx, dtype, 2, uc->in_channels, lh, lw, &error)) == NULL
      || (t = df_tensor_new4 (ctx, DF_DTYPE_F32, 2, 0, 0, 0, &error)) == NULL
      || (context = df_tensor_new4 (ctx, dtype, 2, 77, uc->cross_attention_dim, 0, &error))
             == NULL
      || (out = df_tensor_new4 (ctx, dtype, 2, uc->out_channels, lh, lw, &error)) == NULL)
    return diffuse_cli_fail (error->message);
  /* the cross-attentions' keys and values once, then the step as the
   * pipeline records it */
  if ((kv = df_unet_text_new (unet, cmd, context, &error)) == NULL
      || !df_unet_forward_text (unet, cmd, out, sample, t, kv, &error))
    return diffuse_cli_fail (error->message);
  g_clear_pointer (&cmd, df_cmd_free);
  if ((cmd = df_cmd_new_replayable (ctx, &error)) == NULL)
    return diffuse_cli_fail (error->message);
  start = g_get_monotonic_time ();
  if (!df_unet_forward_text (unet, cmd, out, sample, t, kv, &error))
    return diffuse_cli_fail (error->message);
  g_array_append_val (figures, ((Figure) { "unet_record_ms", 1000 * seconds_since (start) }));
  {
    guint barriers;
    guint dispatches = df_cmd_get_dispatches (cmd, &barriers);

    g_array_append_val (figures, ((Figure) { "unet_dispatches", dispatches }));
    g_array_append_val (figures, ((Figure) { "unet_barriers", barriers }));
  }
  if (!df_cmd_end (cmd, &error))
    return diffuse_cli_fail (error->message);
  g_array_append_val (figures, ((Figure) { "unet_pinned_mib", mib (df_cmd_get_pinned (cmd)) }));
  note_peak (figures, "mem_unet_peak_mib", ctx, &peak);
  g_clear_pointer (&cmd, df_cmd_free);
  g_clear_pointer (&kv, df_unet_text_free);
  g_clear_pointer (&sample, df_tensor_free);
  g_clear_pointer (&out, df_tensor_free);

  /* the decode as the pipeline runs it: whole, or one tile at a time */
  tile = df_vae_choose_tile (vae, lh, lw);
  th = tile > 0 ? MIN (tile, lh) : lh;
  tw = tile > 0 ? MIN (tile, lw) : lw;
  df_context_reset_peak (ctx);
  if ((cmd = df_cmd_new (ctx, &error)) == NULL
      || (latent = df_tensor_new4 (ctx, dtype, 1, vc->latent_channels, th, tw, &error)) == NULL
      || (image = df_tensor_new4 (ctx, dtype, 1, vc->out_channels, th * f, tw * f, &error))
             == NULL
      || !df_vae_decode (vae, cmd, image, latent, &error))
    return diffuse_cli_fail (error->message);
  note_peak (figures, "mem_vae_peak_mib", ctx, &peak);
  g_array_append_val (figures, ((Figure) { "vae_tile", (double) tile }));
  g_array_append_val (figures, ((Figure) { "peak_device_mib", peak }));
  if (json)
    printf ("{");
  print_figures (figures, json);
  if (json)
    printf ("}\n");
  return 0;
}

int
diffuse_cli_bench (int argc, char **argv)
{
  g_autofree char *model_path = NULL;
  g_autofree char *synthetic = NULL;
  g_autofree char *device = NULL;
  int width = 512, height = 512, steps = 3;
  gboolean json = FALSE;
  gboolean profile_all = FALSE;
  gboolean memory_only = FALSE;
  const GOptionEntry entries[] = {
    { "model", 0, 0, G_OPTION_ARG_FILENAME, &model_path,
      N_("Model: a .safetensors checkpoint or a diffusers folder"), N_("PATH") },
    { "synthetic", 0, 0, G_OPTION_ARG_STRING, &synthetic,
      N_("Full-size model with synthetic weights instead of a file: sd15"), N_("NAME") },
    { "width", 0, 0, G_OPTION_ARG_INT, &width, N_("Width in pixels (default 512)"), N_("W") },
    { "height", 0, 0, G_OPTION_ARG_INT, &height, N_("Height in pixels (default 512)"), N_("H") },
    { "steps", 0, 0, G_OPTION_ARG_INT, &steps, N_("UNet steps to time (default 3)"), N_("N") },
    { "json", 0, 0, G_OPTION_ARG_NONE, &json, N_("Print one JSON object"), NULL },
    { "memory-only", 0, 0, G_OPTION_ARG_NONE, &memory_only,
      N_("Only record the networks, without running them, and print the memory figures"),
      NULL },
    { "profile", 0, 0, G_OPTION_ARG_NONE, &profile_all,
      N_("Also print each shader’s share of the UNet step and a VAE breakdown"), NULL },
    { "device", 0, 0, G_OPTION_ARG_STRING, &device,
      N_("Vulkan device: an index or part of its name"), N_("N") },
    { NULL },
  };
  g_autoptr (GOptionContext) context = g_option_context_new (NULL);
  g_autoptr (GError) error = NULL;
  g_autoptr (DfContext) ctx = NULL;
  g_autoptr (DfModel) model = NULL;
  g_autoptr (DfClip) clip = NULL;
  g_autoptr (DfUNet) unet = NULL;
  g_autoptr (DfVae) vae = NULL;
  g_autoptr (DfCmd) cmd = NULL;
  g_autoptr (DfCmd) replayed = NULL;
  g_autoptr (DfCmd) profiled = NULL;
  g_autoptr (DfCmd) vae_profiled = NULL;
  g_autoptr (DfTensor) sample = NULL;
  g_autoptr (DfTensor) timestep = NULL;
  g_autoptr (DfTensor) ctx_t = NULL;
  g_autoptr (DfUNetText) kv = NULL;
  g_autoptr (DfTensor) out = NULL;
  g_autoptr (DfTensor) latent = NULL;
  g_autoptr (DfTensor) image = NULL;
  g_autoptr (DfRng) rng = df_rng_new (0);
  g_autoptr (GArray) figures = g_array_new (FALSE, FALSE, sizeof (Figure));
  g_autofree uint32_t *ids = NULL;
  g_autofree float *text = NULL;
  g_autofree float *x = NULL;
  g_autofree float *eps = NULL;
  g_autofree float *rgb = NULL;
  const DfUNetConfig *uc;
  const DfVAEConfig *vc;
  const DfClipConfig *cc;
  GHashTable *profile;
  GHashTable *vae_profile = NULL;
  DfDType dtype;
  double peak = 0;
  int f, lw, lh;
  int64_t n_lat, n_ctx;
  gint64 start, t;
  double first_step = 0, later_steps = 0, rerecord_steps = 0, record_ms = 0;
  int n_rerecord = MAX (steps - 1, 1);
  const float ts[2] = { 999.0f, 999.0f };

  g_option_context_set_summary (
    context, _("Time the text encoder, the UNet and the VAE, and print the figures."));
  g_option_context_add_main_entries (context, entries, GETTEXT_PACKAGE);
  if (!diffuse_cli_parse (context, &argc, &argv))
    return 2;
  if ((model_path == NULL) == (synthetic == NULL))
    {
      g_printerr ("diffuse-cli: %s\n", _("bench needs either --model or --synthetic"));
      return 2;
    }
  if (steps < 1 || !df_image_check_size (width, height, &error))
    return diffuse_cli_fail (error != NULL ? error->message : _("steps must be at least 1"));

  start = g_get_monotonic_time ();
  if ((ctx = df_context_new (device, &error)) == NULL)
    return diffuse_cli_fail (error->message);
  t = g_get_monotonic_time ();
  if (synthetic != NULL)
    model = df_synthetic_model_new (synthetic, &error);
  else
    model = df_model_open_full (model_path, DF_MODEL_OPEN_ANY_SIZE, &error);
  dtype = df_networks_default_dtype (ctx);
  if (model == NULL || (clip = df_clip_new (ctx, model, dtype, &error)) == NULL
      || (unet = df_unet_new (ctx, model, dtype, &error)) == NULL
      || (vae = df_vae_new (ctx, model, dtype, &error)) == NULL
      || (cmd = df_cmd_new (ctx, &error)) == NULL
      || (profiled = df_cmd_new (ctx, &error)) == NULL)
    return diffuse_cli_fail (error->message);
  g_array_append_val (figures, ((Figure) { "load_s", seconds_since (t) }));
  g_array_append_val (figures, ((Figure) { "mem_weights_mib", mib (df_context_get_allocated (ctx)) }));

  uc = df_unet_get_config (unet);
  vc = df_vae_get_config (vae);
  cc = df_clip_get_config (clip);
  f = 1 << (vc->n_blocks - 1);
  lw = width / f;
  lh = height / f;
  if (width % f || height % f || lw % (1 << (uc->n_blocks - 1)) || lh % (1 << (uc->n_blocks - 1)))
    {
      g_autofree char *msg = g_strdup_printf (
        _("this model needs a width and height that are multiples of %d"),
        f << (uc->n_blocks - 1));
      return diffuse_cli_fail (msg);
    }
  if (memory_only)
    return memory_timeline (ctx, clip, unet, vae, dtype, lw, lh, json, figures);

  /* the text encoder: two chunks (negative and positive prompt), ids of a
   * short prompt within any vocabulary */
  ids = g_new (uint32_t, 2 * 77);
  for (int i = 0; i < 2 * 77; i++)
    ids[i] = (uint32_t) (i % 77 == 0 ? cc->vocab_size - 2
                         : i % 77 < 8 ? 300 + i % 77
                                      : cc->vocab_size - 1);
  text = g_new (float, (size_t) 2 * 77 * cc->hidden_size);
  t = g_get_monotonic_time ();
  df_context_reset_peak (ctx);
  if (!df_clip_encode (clip, cmd, ids, NULL, 2, 0, text, &error))
    return diffuse_cli_fail (error->message);
  g_array_append_val (figures, ((Figure) { "clip_s", seconds_since (t) }));
  note_peak (figures, "mem_clip_peak_mib", ctx, &peak);

  /* the UNet at batch 2 */
  n_lat = (int64_t) 2 * uc->in_channels * lw * lh;
  n_ctx = (int64_t) 2 * 77 * uc->cross_attention_dim;
  x = g_new (float, n_lat);
  eps = g_new (float, (int64_t) 2 * uc->out_channels * lw * lh);
  df_rng_randn (rng, x, n_lat);
  if ((sample = df_tensor_new4 (ctx, dtype, 2, uc->in_channels, lh, lw, &error)) == NULL
      || (timestep = df_tensor_new4 (ctx, DF_DTYPE_F32, 2, 0, 0, 0, &error)) == NULL
      || (ctx_t = df_tensor_new4 (ctx, dtype, 2, 77, uc->cross_attention_dim, 0, &error)) == NULL
      || (out = df_tensor_new4 (ctx, dtype, 2, uc->out_channels, lh, lw, &error)) == NULL
      || !df_tensor_upload_f32 (ctx_t, text, MIN (n_ctx, (int64_t) 2 * 77 * cc->hidden_size),
                                &error)
      || !df_tensor_upload_f32 (timestep, ts, 2, &error)
      || (kv = df_unet_text_new (unet, cmd, ctx_t, &error)) == NULL
      || !df_cmd_submit_wait (cmd, &error))
    return diffuse_cli_fail (error->message);
  df_context_reset_peak (ctx);
  if ((replayed = df_cmd_new_replayable (ctx, &error)) == NULL)
    return diffuse_cli_fail (error->message);
  for (int s = 0; s < steps; s++)
    {
      double dt;

      t = g_get_monotonic_time ();
      if (!df_tensor_upload_f32 (sample, x, n_lat, &error)
          || (!df_cmd_is_recorded (replayed)
              && !df_unet_forward_text (unet, replayed, out, sample, timestep, kv, &error))
          || !df_cmd_submit_wait (replayed, &error)
          || !df_tensor_download_f32 (out, eps, df_tensor_numel (out), &error))
        return diffuse_cli_fail (error->message);
      dt = seconds_since (t);
      if (s == 0)
        first_step = dt;
      else
        later_steps += dt;
    }
  g_array_append_val (figures, ((Figure) { "unet_first_step_s", first_step }));
  g_array_append_val (figures,
                      ((Figure) { "unet_step_s",
                                  steps > 1 ? later_steps / (steps - 1) : first_step }));
  g_array_append_val (figures,
                      ((Figure) { "unet_pinned_mib", mib (df_cmd_get_pinned (replayed)) }));
  g_clear_pointer (&replayed, df_cmd_free);

  /* the same steps recorded anew each time */
  for (int s = 0; s < n_rerecord; s++)
    {
      gint64 r;

      t = g_get_monotonic_time ();
      if (!df_tensor_upload_f32 (sample, x, n_lat, &error))
        return diffuse_cli_fail (error->message);
      r = g_get_monotonic_time ();
      if (!df_unet_forward_text (unet, cmd, out, sample, timestep, kv, &error))
        return diffuse_cli_fail (error->message);
      record_ms += 1000 * seconds_since (r);
      if (!df_cmd_submit_wait (cmd, &error)
          || !df_tensor_download_f32 (out, eps, df_tensor_numel (out), &error))
        return diffuse_cli_fail (error->message);
      rerecord_steps += seconds_since (t);
    }
  g_array_append_val (figures,
                      ((Figure) { "unet_step_rerecord_s", rerecord_steps / n_rerecord }));
  g_array_append_val (figures, ((Figure) { "unet_record_ms", record_ms / n_rerecord }));
  note_peak (figures, "mem_unet_peak_mib", ctx, &peak);

  /* the VAE decoder, as the pipeline runs it (tiled when the image does
   * not fit the device) */
  rgb = g_new (float, (int64_t) vc->out_channels * width * height);
  df_context_reset_peak (ctx);
  t = g_get_monotonic_time ();
  if (!df_vae_decode_host (vae, cmd, eps, lh, lw, -1, rgb, &error))
    return diffuse_cli_fail (error->message);
  g_array_append_val (figures, ((Figure) { "vae_decode_s", seconds_since (t) }));
  g_array_append_val (figures, ((Figure) { "vae_tile", (double) df_vae_choose_tile (vae, lh, lw) }));
  note_peak (figures, "mem_vae_peak_mib", ctx, &peak);
  g_array_append_val (figures, ((Figure) { "total_s", seconds_since (start) }));
  g_array_append_val (figures, ((Figure) { "peak_device_mib", peak }));

  /* one more UNet step with a timestamp after every dispatch */
  df_cmd_set_profiling (profiled, TRUE);
  if (!df_unet_forward_text (unet, profiled, out, sample, timestep, kv, &error)
      || !df_cmd_submit_wait (profiled, &error))
    return diffuse_cli_fail (error->message);
  profile = df_cmd_get_profile (profiled);
  if (profile_all)
    {
      /* the VAE decode once more, whole, with timestamps */
      if ((vae_profiled = df_cmd_new (ctx, &error)) == NULL)
        return diffuse_cli_fail (error->message);
      df_cmd_set_profiling (vae_profiled, TRUE);
      if ((latent = df_tensor_new4 (ctx, dtype, 1, vc->latent_channels, lh, lw, &error)) == NULL
          || (image = df_tensor_new4 (ctx, dtype, 1, vc->out_channels, height, width, &error))
                 == NULL
          || !df_tensor_upload_f32 (latent, eps, df_tensor_numel (latent), &error)
          || !df_vae_decode (vae, vae_profiled, image, latent, &error)
          || !df_cmd_submit_wait (vae_profiled, &error))
        return diffuse_cli_fail (error->message);
      vae_profile = df_cmd_get_profile (vae_profiled);
    }

  if (json)
    printf ("{");
  print_figures (figures, json);
  print_profile (profile, json, "ops_ms", "op.", "_ms", FALSE);
  if (profile_all)
    {
      print_profile (profile, json, "ops_pct", "op.", "_pct", TRUE);
      print_profile (vae_profile, json, "vae_ops_ms", "vae_op.", "_ms", FALSE);
    }
  if (json)
    printf ("}\n");
  return 0;
}
