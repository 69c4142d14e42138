/* diffuse-cli-devices.c — `diffuse-cli devices`: every Vulkan device with
 * its index, name, type and probed capabilities, one block per device. */
#include "config.h"

#include <glib/gi18n.h>
#include <stdio.h>

#include "df.h"
#include "diffuse-cli.h"

static const char *
yes_no (gboolean b)
{
  return b ? _("yes") : _("no");
}

static void
print_device (const DfDeviceInfo *d)
{
  printf ("%d: %s\n", d->index, d->name);
  printf ("  %-26s %s\n", _("type:"), df_device_type_name (d->type));
  printf ("  %-26s %u.%u.%u\n", _("vulkan:"), (d->api_version >> 22) & 0x7fu,
          (d->api_version >> 12) & 0x3ffu, d->api_version & 0xfffu);
  if (d->driver[0])
    printf ("  %-26s %s\n", _("driver:"), d->driver);
  printf ("  %-26s %04x:%04x\n", _("vendor:device:"), d->vendor_id, d->device_id);
  printf ("  %-26s %s\n", _("usable:"),
          d->usable ? _("yes") : d->unusable_reason);
  printf ("  %-26s %s\n", _("fp16 arithmetic:"), yes_no (d->fp16_arithmetic));
  printf ("  %-26s %s\n", _("16-bit storage:"), yes_no (d->storage_16bit));
  printf ("  %-26s %s", _("cooperative matrix (KHR):"), yes_no (d->cooperative_matrix));
  if (d->cooperative_matrix)
    printf (" (%u×%u×%u)", d->cooperative_matrix_size, d->cooperative_matrix_size,
            d->cooperative_matrix_size);
  printf ("\n");
  printf ("  %-26s %s\n", _("cooperative matrix (NV):"), yes_no (d->cooperative_matrix_nv));
  printf ("  %-26s %u\n", _("subgroup size:"), d->subgroup_size);
  printf ("  %-26s %u KiB\n", _("shared memory:"), d->max_shared_memory / 1024);
  printf ("  %-26s %" G_GUINT64_FORMAT " MiB\n", _("max storage buffer range:"),
          (guint64) (d->max_storage_buffer_range >> 20));
  printf ("  %-26s %u\n", _("max workgroup invocations:"), d->max_workgroup_invocations);
  printf ("  %-26s %" G_GUINT64_FORMAT " MiB\n", _("device-local memory:"),
          (guint64) (d->device_local_bytes >> 20));
  printf ("  %-26s %" G_GUINT64_FORMAT " MiB%s\n", _("memory budget:"),
          (guint64) (d->device_local_budget >> 20),
          d->memory_budget ? "" : _(" (heap size; no budget extension)"));
  printf ("  %-26s %s\n", _("timestamps:"), yes_no (d->timestamp_period_ns > 0));
}

int
diffuse_cli_devices (int argc, char **argv)
{
  g_autoptr (GOptionContext) context = g_option_context_new (NULL);
  g_autoptr (GError) error = NULL;
  g_autoptr (GArray) devices = NULL;

  g_option_context_set_summary (context, _("List Vulkan devices and their capabilities."));
  if (!diffuse_cli_parse (context, &argc, &argv))
    return 2;
  devices = df_device_list (&error);
  if (devices == NULL)
    return diffuse_cli_fail (error->message);
  for (guint i = 0; i < devices->len; i++)
    {
      if (i > 0)
        printf ("\n");
      print_device (&g_array_index (devices, DfDeviceInfo, i));
    }
  return 0;
}
