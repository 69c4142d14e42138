/* fuzz-model.c — libFuzzer target: arbitrary bytes as a single-file
 * checkpoint, through the whole loader (pickle check, safetensors reader,
 * name tables, detection from names and shapes).  The bytes live in a
 * memfd opened by its /proc path, so nothing touches the disk. */
#include <sys/mman.h>
#include <unistd.h>

#include "df.h"

int LLVMFuzzerTestOneInput (const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput (const uint8_t *data, size_t size)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (DfModel) model = NULL;
  g_autofree char *path = NULL;
  int fd = memfd_create ("fuzz-model", 0);

  if (fd < 0)
    return 0;
  if (size > 0 && write (fd, data, size) != (ssize_t) size)
    {
      close (fd);
      return 0;
    }
  path = g_strdup_printf ("/proc/self/fd/%d", fd);
  model = df_model_open (path, &error);
  close (fd);
  if (model == NULL)
    {
      if (error == NULL || error->domain != DF_ERROR || error->message[0] == '\0')
        __builtin_trap ();
      return 0;
    }
  /* an accepted model describes itself consistently */
  for (const char *const *n = df_model_get_names (model); *n != NULL; n++)
    if (df_model_lookup (model, *n) == NULL)
      __builtin_trap ();
  if (df_model_get_family_name (model) == NULL || df_model_get_unet_config (model)->n_blocks < 1)
    __builtin_trap ();
  return 0;
}
