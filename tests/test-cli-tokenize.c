/* test-cli-tokenize.c — `diffuse-cli tokenize`: exact output lines, the
 * vocabulary search, and exit statuses. */
#include <glib/gstdio.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "df-test.h"

static char *
vocab_path (void)
{
  g_assert_nonnull (g_getenv ("DIFFUSE_SHARED_DATA"));
  return g_build_filename (g_getenv ("DIFFUSE_SHARED_DATA"), "clip",
                           "bpe_simple_vocab_16e6.txt.gz", NULL);
}

/* Runs diffuse-cli with @args in an environment with no vocabulary to find
 * unless @env adds one; returns the exit status. */
static int
run_cli (const char *const *args, const char *const *env, char **out, char **err)
{
  g_autoptr (GPtrArray) argv = g_ptr_array_new ();
  g_autoptr (GError) error = NULL;
  g_autofree char *data_home = g_dir_make_tmp ("df-cli-XXXXXX", &error);
  g_auto (GStrv) envp = g_get_environ ();
  int status = -1;

  g_assert_no_error (error);
  g_assert_nonnull (g_getenv ("DIFFUSE_CLI"));
  g_ptr_array_add (argv, (char *) g_getenv ("DIFFUSE_CLI"));
  g_ptr_array_add (argv, (char *) "tokenize");
  for (guint i = 0; args[i] != NULL; i++)
    g_ptr_array_add (argv, (char *) args[i]);
  g_ptr_array_add (argv, NULL);

  envp = g_environ_unsetenv (envp, "DIFFUSE_CLIP_VOCAB");
  envp = g_environ_setenv (envp, "XDG_DATA_HOME", data_home, TRUE);
  envp = g_environ_setenv (envp, "LC_ALL", "C.UTF-8", TRUE);
  for (guint i = 0; env != NULL && env[i] != NULL; i += 2)
    envp = g_environ_setenv (envp, env[i], env[i + 1], TRUE);

  g_spawn_sync (NULL, (char **) argv->pdata, envp, G_SPAWN_DEFAULT, NULL, NULL, out, err,
                &status, &error);
  g_assert_no_error (error);
  g_rmdir (data_home);
  return WIFEXITED (status) ? WEXITSTATUS (status) : -1;
}

static void
test_cli_tokenize_plain (void)
{
  g_autofree char *vocab = vocab_path ();
  g_autofree char *out = NULL, *err = NULL;
  const char *args[] = { "--vocab", vocab, "a photo of a cat", NULL };

  g_assert_cmpint (run_cli (args, NULL, &out, &err), ==, 0);
  g_assert_cmpstr (out, ==, "49406 320 1125 539 320 2368 49407\n");
  g_clear_pointer (&out, g_free);
  g_clear_pointer (&err, g_free);

  /* plain text: brackets are tokens, not syntax */
  {
    const char *args2[] = { "--vocab", vocab, "(a) ", NULL };

    g_assert_cmpint (run_cli (args2, NULL, &out, &err), ==, 0);
    g_assert_cmpstr (out, ==, "49406 263 320 264 49407\n");
  }
}

static void
test_cli_tokenize_weights (void)
{
  g_autofree char *vocab = vocab_path ();
  g_autofree char *out = NULL, *err = NULL;
  const char *args[] = { "--weights", "--vocab", vocab, "a (cat:1.3) [dog] ((cat))", NULL };

  g_assert_cmpint (run_cli (args, NULL, &out, &err), ==, 0);
  g_assert_cmpstr (out, ==, "49406:1 320:1 2368:1.3 1929:0.909091 2368:1.21 49407:1\n");
}

/* The search order: DIFFUSE_CLIP_VOCAB, then $XDG_DATA_HOME/diffuse/. */
static void
test_cli_tokenize_search (void)
{
  g_autofree char *vocab = vocab_path ();
  g_autofree char *out = NULL, *err = NULL;
  const char *args[] = { "cat", NULL };
  const char *env[] = { "DIFFUSE_CLIP_VOCAB", vocab, NULL };

  g_assert_cmpint (run_cli (args, env, &out, &err), ==, 0);
  g_assert_cmpstr (out, ==, "49406 2368 49407\n");
}

/* With no variable set, $XDG_DATA_HOME/diffuse/bpe_simple_vocab_16e6.txt.gz */
static void
test_cli_tokenize_data_home (void)
{
  g_autofree char *vocab = vocab_path ();
  g_autoptr (GError) error = NULL;
  g_autofree char *home = g_dir_make_tmp ("df-cli-home-XXXXXX", &error);
  g_autofree char *dir = g_build_filename (home, "diffuse", NULL);
  g_autofree char *link = g_build_filename (dir, "bpe_simple_vocab_16e6.txt.gz", NULL);
  g_autofree char *out = NULL, *err = NULL;
  const char *args[] = { "dog", NULL };
  const char *env[] = { "XDG_DATA_HOME", home, NULL };

  g_assert_no_error (error);
  g_assert_cmpint (g_mkdir (dir, 0700), ==, 0);
  g_assert_cmpint (symlink (vocab, link), ==, 0);
  g_assert_cmpint (run_cli (args, env, &out, &err), ==, 0);
  g_assert_cmpstr (out, ==, "49406 1929 49407\n");
  g_remove (link);
  g_rmdir (dir);
  g_rmdir (home);
}

static void
test_cli_tokenize_failures (void)
{
  g_autofree char *out = NULL, *err = NULL;
  const char *none[] = { "cat", NULL };
  const char *missing[] = { "--vocab", "/nonexistent/bpe.txt.gz", "cat", NULL };
  const char *no_text[] = { NULL };
  const char *bad_env[] = { "DIFFUSE_CLIP_VOCAB", "/nonexistent/x.gz", NULL };

  /* nothing to find: status 1 and a message that says what to do */
  g_assert_cmpint (run_cli (none, NULL, &out, &err), ==, 1);
  g_assert_cmpstr (out, ==, "");
  g_assert_nonnull (strstr (err, "--vocab"));
  g_assert_nonnull (strstr (err, "bpe_simple_vocab_16e6.txt.gz"));
  g_clear_pointer (&out, g_free);
  g_clear_pointer (&err, g_free);

  g_assert_cmpint (run_cli (missing, NULL, &out, &err), ==, 1);
  g_assert_nonnull (strstr (err, "/nonexistent/bpe.txt.gz"));
  g_clear_pointer (&out, g_free);
  g_clear_pointer (&err, g_free);

  g_assert_cmpint (run_cli (none, bad_env, &out, &err), ==, 1);
  g_clear_pointer (&out, g_free);
  g_clear_pointer (&err, g_free);

  g_assert_cmpint (run_cli (no_text, NULL, &out, &err), ==, 2);
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  g_test_add_func ("/cli/tokenize/plain", test_cli_tokenize_plain);
  g_test_add_func ("/cli/tokenize/weights", test_cli_tokenize_weights);
  g_test_add_func ("/cli/tokenize/search", test_cli_tokenize_search);
  g_test_add_func ("/cli/tokenize/data-home", test_cli_tokenize_data_home);
  g_test_add_func ("/cli/tokenize/failures", test_cli_tokenize_failures);
  return g_test_run ();
}
