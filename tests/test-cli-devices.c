/* test-cli-devices.c — `diffuse-cli devices` lists every device with its
 * capabilities, one block per device. */
#include <string.h>
#include <sys/wait.h>

#include "df-test.h"

/* The environment for the CLI child.  Under AddressSanitizer its leak
 * check is off: the process unloads lavapipe before LeakSanitizer reports,
 * so LLVM's one-off allocation shows as an unknown module that no
 * suppression can name (tests keep the driver loaded; see df-test.c). */
static char **
child_environment (void)
{
  char **env = g_get_environ ();
  const char *asan = g_environ_getenv (env, "ASAN_OPTIONS");
  g_autofree char *value = g_strdup_printf ("%s%sdetect_leaks=0", asan ? asan : "",
                                            asan ? ":" : "");

  return g_environ_setenv (env, "ASAN_OPTIONS", value, TRUE);
}

static void
test_devices (void)
{
  const char *cli = g_getenv ("DIFFUSE_CLI");
  const char *argv[] = { cli, "devices", NULL };
  g_autofree char *out = NULL;
  g_autofree char *err = NULL;
  g_autoptr (GError) error = NULL;
  g_autoptr (GArray) devices = df_device_list (&error);
  g_auto (GStrv) env = child_environment ();
  int status = -1;

  g_assert_nonnull (cli);
  g_assert_no_error (error);
  g_assert_true (g_spawn_sync (NULL, (char **) argv, env, G_SPAWN_DEFAULT, NULL, NULL, &out,
                               &err, &status, &error));
  g_assert_no_error (error);
  g_assert_true (g_spawn_check_wait_status (status, NULL));
  for (guint i = 0; i < devices->len; i++)
    {
      const DfDeviceInfo *d = &g_array_index (devices, DfDeviceInfo, i);
      g_autofree char *head = g_strdup_printf ("%u: %s\n", i, d->name);
      g_assert_nonnull (strstr (out, head));
    }
  for (const char *key = "subgroup size:"; key; key = NULL)
    g_assert_nonnull (strstr (out, key));
  g_assert_nonnull (strstr (out, "16-bit storage:"));
  g_assert_nonnull (strstr (out, "max storage buffer range:"));
  g_assert_nonnull (strstr (out, "cooperative matrix (KHR):"));
  g_assert_nonnull (strstr (out, "cooperative matrix (NV):"));

  /* a usage error is exit status 2 */
  {
    const char *bad[] = { cli, "devices", "--no-such-option", NULL };
    g_assert_true (g_spawn_sync (NULL, (char **) bad, env, G_SPAWN_DEFAULT, NULL, NULL, NULL,
                                 NULL, &status, &error));
    g_assert_true (WIFEXITED (status) && WEXITSTATUS (status) == 2);
  }
}

int
main (int argc, char **argv)
{
  int ret;

  g_test_init (&argc, &argv, NULL);
  /* opens the device as every Vulkan test does (and keeps the driver
   * loaded, see df-test.c) */
  df_test_context ();
  g_test_add_func ("/cli/devices", test_devices);
  ret = g_test_run ();
  df_test_context_free ();
  return ret;
}
