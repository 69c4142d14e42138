/* fuzz-safetensors.c — libFuzzer target: arbitrary bytes as a safetensors
 * file.  Every input must either open, with every tensor's data inside the
 * input, or fail with a GError; nothing may crash or leak.  The tensor
 * names also go through every layout's name tables. */
#include <string.h>

#include "df.h"

int LLVMFuzzerTestOneInput (const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput (const uint8_t *data, size_t size)
{
  g_autoptr (GBytes) bytes = g_bytes_new (data, size);
  g_autoptr (GError) error = NULL;
  g_autoptr (DfSafetensors) st = NULL;
  const uint8_t *base;
  size_t len;

  st = df_safetensors_open_bytes (bytes, "fuzz", DF_SAFETENSORS_ALLOW_OTHER_DTYPES, &error);
  if (st == NULL)
    {
      if (error == NULL || error->domain != DF_ERROR || error->message[0] == '\0')
        __builtin_trap ();
      return 0;
    }
  base = g_bytes_get_data (bytes, &len);
  for (int i = 0; i < df_safetensors_n_tensors (st); i++)
    {
      const DfTensorInfo *t = df_safetensors_get (st, i);
      const uint8_t *p = t->data;

      /* the view lies inside the input and its lookup finds it */
      if (p < base + 8 || p + t->nbytes > base + len || df_safetensors_lookup (st, t->name) != t)
        __builtin_trap ();
      for (int layout = DF_LAYOUT_ORIGINAL; layout <= DF_LAYOUT_DIFFUSERS_TEXT; layout++)
        {
          char *names[3];
          int n = 0;

          if (df_names_map (layout, t->name, names, &n, NULL) == DF_NAME_MAPPED)
            for (int j = 0; j < n; j++)
              g_free (names[j]);
        }
      if (t->dtype != DF_FILE_OTHER && t->nbytes <= 4096)
        {
          int64_t n = df_tensor_info_numel (t);
          float *f = g_new (float, n + 1);

          if (!df_tensor_info_read_f32 (t, f, n, NULL))
            __builtin_trap ();
          g_free (f);
        }
    }
  return 0;
}
