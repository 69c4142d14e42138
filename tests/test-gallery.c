/* test-gallery.c — the gallery on real PNG files in a temporary folder:
 * finished pictures are saved into the history with their settings and
 * listed (other files are not); a star writes a favourite whose
 * `parameters` chunk reads back to the same settings, and taking it away
 * removes it; deleting moves a picture to the trash; and "reuse settings"
 * on a PNG made by another tool puts its settings into the window. */
#include "config.h"

#include <glib/gstdio.h>

#include "diffuse-gallery.h"
#include "diffuse-window.h"

static DfImage *
make_image (guint8 shade)
{
  DfImage *image = df_image_new (24, 16, 3, NULL);

  g_assert_nonnull (image);
  for (int y = 0; y < image->height; y++)
    for (int x = 0; x < image->width; x++)
      {
        guint8 *p = df_image_pixel (image, x, y);

        p[0] = shade;
        p[1] = (guint8) (x * 10);
        p[2] = (guint8) (y * 15);
      }
  return image;
}

static DfParams *
make_params (gint64 seed)
{
  DfParams *params = df_params_new ();

  df_params_set_prompt (params, "a lighthouse at dusk, oil painting");
  df_params_set_negative_prompt (params, "blurry");
  params->steps = 20;
  df_params_set_sampler (params, "euler_a");
  params->cfg_scale = 7.5;
  params->seed = seed;
  params->width = 24;
  params->height = 16;
  return params;
}

/* Waits until the gallery has listed @n pictures. */
static gboolean
wait_for_items (DiffuseGallery *gallery, guint n)
{
  gint64 deadline = g_get_monotonic_time () + 10 * G_USEC_PER_SEC;
  GListModel *model = diffuse_gallery_get_model (gallery);

  while ((diffuse_gallery_is_loading (gallery) || g_list_model_get_n_items (model) != n)
         && g_get_monotonic_time () < deadline)
    g_main_context_iteration (NULL, FALSE);
  if (g_list_model_get_n_items (model) != n)
    for (guint i = 0; i < g_list_model_get_n_items (model); i++)
      {
        g_autoptr (GFileInfo) info = g_list_model_get_item (model, i);
        g_test_message ("item %s", g_file_peek_path (G_FILE (g_file_info_get_attribute_object (info, "standard::file"))));
      }
  return g_list_model_get_n_items (model) == n;
}

static char *
make_folder (const char *name)
{
  char *path = g_build_filename (g_get_user_data_dir (), name, NULL);

  g_assert_cmpint (g_mkdir_with_parents (path, 0755), ==, 0);
  return path;
}

static void
test_gallery_history_favourite_trash (void)
{
  g_autofree char *folder = make_folder ("gallery");
  GtkWidget *gallery = g_object_ref_sink (diffuse_gallery_new ());
  DiffuseGallery *g = DIFFUSE_GALLERY (gallery);
  g_autoptr (DfImage) first = make_image (10);
  g_autoptr (DfImage) second = make_image (200);
  g_autoptr (DfParams) params1 = make_params (1234);
  g_autoptr (DfParams) params2 = make_params (99);
  g_autoptr (GFile) file1 = NULL;
  g_autoptr (GFile) file2 = NULL;
  g_autoptr (GFile) favourite = NULL;
  g_autoptr (GFile) history = NULL;
  g_autoptr (DfParams) read_back = NULL;
  g_autoptr (DfImage) pixels = NULL;
  g_autoptr (GError) error = NULL;
  g_autofree char *stray = g_build_filename (folder, "notes.txt", NULL);

  /* The trash goes where the home folder is, so it must exist. */
  g_assert_cmpint (g_mkdir_with_parents (g_get_home_dir (), 0755), ==, 0);
  diffuse_gallery_set_folder (g, folder);
  g_assert_true (wait_for_items (g, 0));

  /* Finished pictures go to History/, with their settings. */
  file1 = diffuse_gallery_add (g, first, params1, &error);
  g_assert_no_error (error);
  file2 = diffuse_gallery_add (g, second, params2, &error);
  g_assert_no_error (error);
  history = diffuse_gallery_get_history_folder (g);
  g_assert_true (g_file_has_parent (file1, history));
  g_assert_true (g_str_has_suffix (g_file_peek_path (file1), "-1234.png"));
  read_back = df_params_load_png (g_file_peek_path (file2), &error);
  g_assert_no_error (error);
  g_assert_true (df_params_equal (read_back, params2));
  g_clear_pointer (&read_back, df_params_free);
  g_assert_true (wait_for_items (g, 2));

  /* Only PNG files are listed. */
  g_assert_true (g_file_set_contents (stray, "hello", -1, NULL));
  diffuse_gallery_set_show_favourites (g, TRUE);
  g_assert_true (wait_for_items (g, 0));
  diffuse_gallery_set_show_favourites (g, FALSE);
  g_assert_true (wait_for_items (g, 2));

  /* A star writes the favourite: same pixels, same settings. */
  g_assert_false (diffuse_gallery_is_favourite (g, file1));
  g_assert_true (diffuse_gallery_set_favourite (g, file1, TRUE, &error));
  g_assert_no_error (error);
  g_assert_true (diffuse_gallery_is_favourite (g, file1));
  g_assert_false (diffuse_gallery_is_favourite (g, file2));
  {
    g_autofree char *name = g_file_get_basename (file1);

    favourite = g_file_new_build_filename (folder, name, NULL);
  }
  g_assert_true (g_file_query_exists (favourite, NULL));
  read_back = df_params_load_png (g_file_peek_path (favourite), &error);
  g_assert_no_error (error);
  g_assert_true (df_params_equal (read_back, params1));
  g_assert_cmpint (read_back->seed, ==, 1234);
  pixels = df_image_load_png (g_file_peek_path (favourite), &error);
  g_assert_no_error (error);
  g_assert_cmpuint (df_image_pixel (pixels, 3, 2)[0], ==, 10);
  g_assert_cmpuint (df_image_pixel (pixels, 3, 2)[1], ==, 30);

  diffuse_gallery_set_show_favourites (g, TRUE);
  g_assert_true (wait_for_items (g, 1));

  /* Taking the star away removes the copy, not the history entry. */
  diffuse_gallery_set_favourite (g, file1, FALSE, &error);
  g_assert_no_error (error);
  g_assert_false (g_file_query_exists (favourite, NULL));
  g_assert_true (g_file_query_exists (file1, NULL));
  g_assert_true (wait_for_items (g, 0));

  /* Deleting moves a picture to the trash. */
  diffuse_gallery_set_show_favourites (g, FALSE);
  g_assert_true (wait_for_items (g, 2));
  diffuse_gallery_trash (g, file2, &error);
  g_assert_no_error (error);
  g_assert_false (g_file_query_exists (file2, NULL));
  g_assert_true (wait_for_items (g, 1));
  {
    g_autofree char *name = g_file_get_basename (file2);
    g_autofree char *trashed =
        g_build_filename (g_get_user_data_dir (), "Trash", "files", name, NULL);

    g_assert_true (g_file_test (trashed, G_FILE_TEST_IS_REGULAR));
  }

  g_object_unref (gallery);
}

static void
test_gallery_reuse_settings (void)
{
  g_autofree char *path = g_build_filename (g_getenv ("DIFFUSE_TEST_DATA"), "image",
                                            "params-pil-text.png", NULL);
  g_autoptr (DfParams) expected = NULL;
  g_autoptr (GError) error = NULL;
  g_autoptr (GSettings) settings = g_settings_new (APP_ID);
  g_autofree char *prompt = NULL;
  GtkTextIter start, end;
  DiffuseWindow *window;
  GtkTextBuffer *buffer;

  /* The settings of a PNG written by another tool (PIL, web-UI text). */
  expected = df_params_load_png (path, &error);
  g_assert_no_error (error);
  g_assert_cmpstr (expected->prompt, !=, "");
  g_assert_cmpint (expected->steps, >, 0);
  g_assert_cmpint (expected->seed, >=, 0);

  window = g_object_ref_sink (g_object_new (DIFFUSE_TYPE_WINDOW, NULL));
  g_assert_false (diffuse_window_apply_params_from_file (window, "/nonexistent.png", &error));
  g_assert_nonnull (error);
  g_clear_error (&error);

  g_assert_true (diffuse_window_apply_params_from_file (window, path, &error));
  g_assert_no_error (error);
  buffer = diffuse_window_get_prompt_buffer (window);
  gtk_text_buffer_get_bounds (buffer, &start, &end);
  prompt = gtk_text_buffer_get_text (buffer, &start, &end, FALSE);
  g_assert_cmpstr (prompt, ==, expected->prompt);

  /* Closing keeps them: the settings read back from GSettings. */
  gtk_window_present (GTK_WINDOW (window));
  while (!gtk_widget_get_realized (GTK_WIDGET (window)))
    g_main_context_iteration (NULL, TRUE);
  gtk_window_close (GTK_WINDOW (window));
  g_assert_cmpstr (g_settings_get_string (settings, "last-prompt"), ==, expected->prompt);
  g_assert_cmpuint (g_settings_get_uint (settings, "last-steps"), ==, (guint) expected->steps);
  g_assert_true (g_settings_get_boolean (settings, "seed-locked"));
  g_assert_cmpuint (g_settings_get_uint64 (settings, "seed"), ==, (guint64) expected->seed);
  if (expected->cfg_scale >= 0)
    g_assert_cmpfloat_with_epsilon (g_settings_get_double (settings, "last-cfg-scale"),
                                    expected->cfg_scale, 1e-6);
  if (expected->width > 0)
    g_assert_cmpuint (g_settings_get_uint (settings, "last-width"), ==,
                      (guint) (expected->width + 4) / 8 * 8);
  g_object_unref (window);
}

int
main (int argc, char **argv)
{
  /* Data, trash and settings in a temporary home, not the real one. */
  g_test_init (&argc, &argv, G_TEST_OPTION_ISOLATE_DIRS, NULL);
  gtk_init ();
  g_test_add_func ("/gallery/history-favourite-trash", test_gallery_history_favourite_trash);
  g_test_add_func ("/gallery/reuse-settings", test_gallery_reuse_settings);
  return g_test_run ();
}
