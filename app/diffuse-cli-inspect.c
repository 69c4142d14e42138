/* diffuse-cli-inspect.c — `diffuse-cli inspect MODEL`: what a model file or
 * folder is, as the engine sees it.  Needs no Vulkan device. */
#include "config.h"

#include <glib/gi18n.h>
#include <stdio.h>

#include "df.h"
#include "diffuse-cli.h"

/* "F16", "F32", "F16+F32", … from a set of 1 << DfFileDType bits. */
static char *
dtypes_string (guint dtypes)
{
  g_autoptr (GString) s = g_string_new (NULL);

  for (int d = DF_FILE_F32; d <= DF_FILE_OTHER; d++)
    if (dtypes & (1u << d))
      {
        if (s->len > 0)
          g_string_append_c (s, '+');
        g_string_append (s, df_file_dtype_name (d));
      }
  return g_string_free (g_steal_pointer (&s), FALSE);
}

int
diffuse_cli_inspect (int argc, char **argv)
{
  static const char *const components[] = { "unet", "vae", "text_encoder" };
  g_autoptr (GOptionContext) context = g_option_context_new (_("MODEL"));
  g_autoptr (GError) error = NULL;
  g_autoptr (DfModel) model = NULL;
  const DfUNetConfig *unet;
  const DfClipConfig *clip;

  g_option_context_set_summary (context,
                                _("Describe a Stable Diffusion model: a .safetensors file or "
                                  "a diffusers folder."));
  if (!diffuse_cli_parse (context, &argc, &argv))
    return 2;
  if (argc != 2)
    {
      g_printerr ("diffuse-cli: %s\n", _("inspect takes one MODEL (a file or folder)"));
      return 2;
    }

  model = df_model_open (argv[1], &error);
  if (model == NULL)
    {
      /* one line, whatever the message holds */
      g_strdelimit (error->message, "\r\n", ' ');
      return diffuse_cli_fail (error->message);
    }

  printf ("%s: %s\n", _("family"), df_model_get_family_name (model));
  printf ("%s: %s\n", _("layout"),
          df_model_is_diffusers (model) ? _("diffusers folder") : _("single file"));
  printf ("%s: %s\n", _("prediction"),
          df_model_get_prediction (model) == DF_PREDICTION_V ? "v_prediction" : "epsilon");
  for (size_t i = 0; i < G_N_ELEMENTS (components); i++)
    {
      g_autofree char *types = NULL;
      int64_t params = 0;
      int n = 0;
      guint dtypes = 0;
      g_autofree char *count = NULL;

      if (!df_model_component_stats (model, components[i], &n, &params, &dtypes))
        continue;
      types = dtypes_string (dtypes);
      count = g_strdup_printf ("%" G_GINT64_FORMAT, params);
      /* TRANSLATORS: "unet: 859520964 parameters, F16, 686 tensors" */
      printf (_("%s: %s parameters, %s, %d tensors\n"), components[i], count, types, n);
    }
  unet = df_model_get_unet_config (model);
  clip = df_model_get_clip_config (model);
  printf (_("unet config: in_channels %d, cross_attention_dim %d, %s projection\n"),
          unet->in_channels, unet->cross_attention_dim,
          unet->use_linear_projection ? _("linear") : _("convolution"));
  printf (_("text_encoder config: %d layers, hidden size %d, %s\n"), clip->num_hidden_layers,
          clip->hidden_size, clip->hidden_act == DF_ACT_GELU ? "gelu" : "quick_gelu");
  printf ("%s: %d\n", _("tensors"), df_model_n_tensors (model));
  printf ("%s: %d\n", _("ignored"), df_model_n_ignored (model));
  return 0;
}
