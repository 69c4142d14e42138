/* test-cli-inspect.c — `diffuse-cli inspect` (the binary in DIFFUSE_CLI)
 * on fake models in both layouts, on every malformed file of the corpus,
 * and on refused models: exit 0 with a description, or exit 1 with one
 * line on stderr, or 2 on a usage error. */
#include "df-test-model.h"

typedef struct
{
  int status;
  char *out;
  char *err;
} Run;

static void
run_clear (Run *r)
{
  g_clear_pointer (&r->out, g_free);
  g_clear_pointer (&r->err, g_free);
}

G_DEFINE_AUTO_CLEANUP_CLEAR_FUNC (Run, run_clear)

static void
run_cli (Run *r, const char *arg1, const char *arg2)
{
  const char *cli = g_getenv ("DIFFUSE_CLI");
  const char *argv[] = { cli, "inspect", arg1, arg2, NULL };
  g_autoptr (GError) error = NULL;
  g_auto (GStrv) env = g_environ_setenv (g_get_environ (), "LC_ALL", "C.UTF-8", TRUE);
  int wait_status = 0;

  if (cli == NULL)
    g_error ("DIFFUSE_CLI is not set");
  if (!g_spawn_sync (NULL, (char **) argv, env, G_SPAWN_DEFAULT, NULL, NULL, &r->out, &r->err,
                     &wait_status, &error))
    g_error ("cannot run %s: %s", cli, error->message);
  if (WIFEXITED (wait_status))
    r->status = WEXITSTATUS (wait_status);
  else
    r->status = -1; /* killed by a signal: a crash */
}

/* Exit status 1 and exactly one line "diffuse-cli: …" holding @phrase. */
static void
assert_refused (const Run *r, const char *what, const char *phrase)
{
  const char *nl = strchr (r->err, '\n');

  if (r->status != 1 || !g_str_has_prefix (r->err, "diffuse-cli: ") || nl == NULL
      || nl[1] != '\0' || strstr (r->err, phrase) == NULL || r->out[0] != '\0')
    g_error ("%s: status %d, stdout “%s”, stderr “%s” (want 1 and one line with “%s”)", what,
             r->status, r->out, r->err, phrase);
}

static void
test_cli_inspect_models (void)
{
  g_autofree char *dir = test_tmpdir ();
  g_autofree char *sd1 = g_build_filename (dir, "sd1.safetensors", NULL);
  g_autofree char *sd2 = g_build_filename (dir, "sd2.safetensors", NULL);
  g_autofree char *inpaint = g_build_filename (dir, "inpaint.safetensors", NULL);
  g_autofree char *folder = g_build_filename (dir, "folder", NULL);
  TestCkpt c1 = { .in_channels = 4, .dtype = "F16", .ema = TRUE };
  TestCkpt c2 = { .sd2 = TRUE, .in_channels = 4, .dtype = "F32", .v_metadata = "v_prediction" };
  TestCkpt c3 = { .in_channels = 9, .dtype = "BF16" };
  TestFolder f = { .in_channels = 4 };

  test_ckpt_write (&c1, sd1);
  test_ckpt_write (&c2, sd2);
  test_ckpt_write (&c3, inpaint);
  test_folder_write (&f, folder);

  {
    g_auto (Run) r = { 0 };

    run_cli (&r, sd1, NULL);
    g_assert_cmpint (r.status, ==, 0);
    g_assert_cmpstr (r.err, ==, "");
    g_assert_nonnull (strstr (r.out, "family: sd1\n"));
    g_assert_nonnull (strstr (r.out, "layout: single file\n"));
    g_assert_nonnull (strstr (r.out, "unet: "));
    g_assert_nonnull (strstr (r.out, " parameters, F16, 28 tensors\n"));
    g_assert_nonnull (strstr (r.out, "vae: "));
    g_assert_nonnull (strstr (r.out, "text_encoder: "));
    g_assert_nonnull (strstr (r.out, "tensors: 61\n"));
    g_assert_nonnull (strstr (r.out, "ignored: 6\n"));
  }
  {
    g_auto (Run) r = { 0 };

    run_cli (&r, sd2, NULL);
    g_assert_cmpint (r.status, ==, 0);
    g_assert_nonnull (strstr (r.out, "family: sd2-v\n"));
    g_assert_nonnull (strstr (r.out, "prediction: v_prediction\n"));
    g_assert_nonnull (strstr (r.out, ", F32, "));
    g_assert_nonnull (strstr (r.out, "text_encoder config: 2 layers, hidden size 1024, gelu\n"));
  }
  {
    g_auto (Run) r = { 0 };

    run_cli (&r, inpaint, NULL);
    g_assert_cmpint (r.status, ==, 0);
    g_assert_nonnull (strstr (r.out, "family: sd1-inpaint\n"));
    g_assert_nonnull (strstr (r.out, "unet config: in_channels 9, cross_attention_dim 768, convolution projection\n"));
    g_assert_nonnull (strstr (r.out, ", BF16, "));
  }
  {
    g_auto (Run) r = { 0 };

    run_cli (&r, folder, NULL);
    g_assert_cmpint (r.status, ==, 0);
    g_assert_nonnull (strstr (r.out, "family: sd1\n"));
    g_assert_nonnull (strstr (r.out, "layout: diffusers folder\n"));
    g_assert_nonnull (strstr (r.out, "unet: 7296 parameters, F32, 4 tensors\n"));
  }
  test_tmpdir_remove (dir);
}

static void
check_malformed (const TestBadCase *c, GBytes *bytes, const char *path, const char *file)
{
  g_auto (Run) r = { 0 };

  run_cli (&r, path, NULL);
  /* the CLI opens files as models: an I64 tensor passes the reader and
   * the file is then not a Stable Diffusion checkpoint */
  assert_refused (&r, c->name,
                  c->code == DF_ERROR_UNSUPPORTED_MODEL ? "not a Stable Diffusion" : c->phrase);
  g_assert_nonnull (strstr (r.err, file));
}

static void
test_cli_inspect_malformed (void)
{
  test_bad_cases_foreach (check_malformed);
}

static void
test_cli_inspect_refused (void)
{
  g_autofree char *dir = test_tmpdir ();
  g_autofree char *xl = g_build_filename (dir, "xl.safetensors", NULL);
  g_autofree char *ckpt = g_build_filename (dir, "v1-5.ckpt", NULL);
  g_autofree char *absent = g_build_filename (dir, "absent.safetensors", NULL);
  TestCkpt c = { .in_channels = 4, .dtype = "F16", .sdxl = TRUE };

  test_ckpt_write (&c, xl);
  test_write_bytes (ckpt, "PK\x03\x04 a zip archive", 18);
  {
    g_auto (Run) r = { 0 };

    run_cli (&r, xl, NULL);
    assert_refused (&r, "sdxl", "SDXL");
  }
  {
    g_auto (Run) r = { 0 };

    run_cli (&r, ckpt, NULL);
    assert_refused (&r, "ckpt", "convert it to .safetensors");
  }
  {
    g_auto (Run) r = { 0 };

    run_cli (&r, absent, NULL);
    assert_refused (&r, "absent", "no such file");
  }
  test_tmpdir_remove (dir);
}

static void
test_cli_inspect_usage (void)
{
  g_auto (Run) none = { 0 };
  g_auto (Run) two = { 0 };
  g_auto (Run) option = { 0 };

  run_cli (&none, NULL, NULL);
  g_assert_cmpint (none.status, ==, 2);
  g_assert_true (g_str_has_prefix (none.err, "diffuse-cli: "));
  run_cli (&two, "a", "b");
  g_assert_cmpint (two.status, ==, 2);
  run_cli (&option, "--no-such-option", NULL);
  g_assert_cmpint (option.status, ==, 2);
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  g_test_add_func ("/cli-inspect/models", test_cli_inspect_models);
  g_test_add_func ("/cli-inspect/malformed", test_cli_inspect_malformed);
  g_test_add_func ("/cli-inspect/refused", test_cli_inspect_refused);
  g_test_add_func ("/cli-inspect/usage", test_cli_inspect_usage);
  return g_test_run ();
}
