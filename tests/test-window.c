/* test-window.c — the real application and its window under a (virtual) X
 * server: activation opens a DiffuseWindow with a title and the app icon,
 * the window size comes from and goes back to GSettings, the about dialog
 * opens, and closing the window leaves no window behind.
 *
 * Needs GSETTINGS_SCHEMA_DIR with the compiled schema and a private session
 * bus (tests/meson.build sets the one and runs the test under
 * dbus-run-session), and a display (the CI runs meson test in xvfb-run). */
#include "config.h"

#include <glib/gstdio.h>

#include <string.h>
#include <sys/wait.h>

#include "diffuse-application.h"
#include "diffuse-preferences.h"
#include "diffuse-ui-test.h"

static void
on_map (GtkWidget *widget, gpointer user_data)
{
  *(gboolean *) user_data = TRUE;
}

static void
on_destroyed (gpointer data, GObject *where_the_object_was)
{
  *(gboolean *) data = TRUE;
}

static GtkWindow *
find_toplevel (GType type)
{
  GListModel *toplevels = gtk_window_get_toplevels (); /* owned by GTK */

  for (guint i = 0; i < g_list_model_get_n_items (toplevels); i++)
    {
      g_autoptr (GtkWindow) window = g_list_model_get_item (toplevels, i);

      if (G_TYPE_CHECK_INSTANCE_TYPE (window, type))
        return window;
    }
  return NULL;
}

static void
test_window_lifecycle (void)
{
  g_autoptr (GSettings) settings = NULL;
  g_autoptr (DiffuseApplication) app = NULL;
  g_autoptr (GError) error = NULL;
  GtkWindow *window, *about;
  gboolean mapped = FALSE, destroyed = FALSE, about_destroyed = FALSE;
  int width, height;

  /* The window takes its size from GSettings (memory backend in tests). */
  settings = g_settings_new (APP_ID);
  g_settings_set_int (settings, "window-width", 1180);
  g_settings_set_int (settings, "window-height", 760);

  app = diffuse_application_new ();
  g_assert_true (g_application_register (G_APPLICATION (app), NULL, &error));
  g_assert_no_error (error);
  g_assert_true (g_action_group_has_action (G_ACTION_GROUP (app), "about"));
  g_assert_true (g_action_group_has_action (G_ACTION_GROUP (app), "quit"));

  g_application_activate (G_APPLICATION (app));
  window = gtk_application_get_active_window (GTK_APPLICATION (app));
  g_assert_true (DIFFUSE_IS_WINDOW (window));
  g_signal_connect (window, "map", G_CALLBACK (on_map), &mapped);
  mapped = gtk_widget_get_mapped (GTK_WIDGET (window));
  g_assert_true (ui_iterate_until (&mapped, 10000));
  g_assert_true (gtk_widget_get_visible (GTK_WIDGET (window)));

  /* Activating again presents the same window instead of a second one. */
  g_application_activate (G_APPLICATION (app));
  g_assert_cmpuint (g_list_length (gtk_application_get_windows (GTK_APPLICATION (app))), ==, 1);

  g_assert_cmpstr (gtk_window_get_title (window), ==, "Diffuse");
  g_assert_cmpstr (gtk_window_get_icon_name (window), ==, APP_ID);
  /* The icon comes from the GResource, so it is found without an install. */
  g_assert_true (gtk_icon_theme_has_icon (
      gtk_icon_theme_get_for_display (gtk_widget_get_display (GTK_WIDGET (window))), APP_ID));
  gtk_window_get_default_size (window, &width, &height);
  g_assert_cmpint (width, ==, 1180);
  g_assert_cmpint (height, ==, 760);

  /* Let it draw a few frames, then keep a picture of it. */
  ui_wait_frames (GTK_WIDGET (window), 3);
  ui_save_screenshot (GTK_WIDGET (window), "window");

  /* The about dialog opens over the window. */
  g_action_group_activate_action (G_ACTION_GROUP (app), "about", NULL);
  about = find_toplevel (ADW_TYPE_ABOUT_WINDOW);
  g_assert_nonnull (about);
  g_assert_true (gtk_window_get_transient_for (about) == window);
  g_assert_cmpstr (adw_about_window_get_application_name (ADW_ABOUT_WINDOW (about)), ==,
                   "Diffuse");
  g_assert_cmpstr (adw_about_window_get_version (ADW_ABOUT_WINDOW (about)), ==, PACKAGE_VERSION);
  g_object_weak_ref (G_OBJECT (about), on_destroyed, &about_destroyed);
  gtk_window_destroy (about);
  g_assert_true (ui_iterate_until (&about_destroyed, 5000));

  /* The keyboard shortcuts window opens over the window. */
  {
    GtkWindow *shortcuts;

    g_assert_true (gtk_widget_activate_action (GTK_WIDGET (window), "win.show-help-overlay",
                                               NULL));
    shortcuts = find_toplevel (GTK_TYPE_SHORTCUTS_WINDOW);
    g_assert_nonnull (shortcuts);
    g_assert_true (gtk_widget_get_visible (GTK_WIDGET (shortcuts)));
    g_assert_true (gtk_window_get_transient_for (shortcuts) == window);
    /* The window keeps its help overlay: closing only hides it. */
    gtk_window_close (shortcuts);
    g_assert_false (gtk_widget_get_visible (GTK_WIDGET (shortcuts)));
  }

  /* Closing saves the size it has now and destroys the window. */
  gtk_window_set_default_size (window, 1200, 780);
  g_object_weak_ref (G_OBJECT (window), on_destroyed, &destroyed);
  gtk_window_close (window);
  g_assert_true (ui_iterate_until (&destroyed, 5000));
  g_assert_null (gtk_application_get_windows (GTK_APPLICATION (app)));
  g_assert_cmpint (g_settings_get_int (settings, "window-width"), ==, 1200);
  g_assert_cmpint (g_settings_get_int (settings, "window-height"), ==, 780);
  g_assert_false (g_settings_get_boolean (settings, "window-maximized"));

  g_clear_object (&app);
  g_clear_object (&settings);
}

/* The tiny random-weight SD 1.x model on the real window: Generate shows
 * previews and a result of the asked size, the Generate button turns
 * into Cancel meanwhile, and cancelling ends the run without a result. */
static void
test_window_generate (void)
{
  g_autofree char *tiny = g_build_filename (g_getenv ("DIFFUSE_TEST_DATA"), "tiny", "sd1", NULL);
  g_autofree char *vocab =
      g_build_filename (g_getenv ("DIFFUSE_TEST_DATA"), "pipeline", "tokenizer", NULL);
  g_autoptr (GSettings) settings = g_settings_new (APP_ID);
  g_autofree char *gallery = ui_new_gallery (settings);
  gboolean mapped = FALSE;
  DiffuseWindow *window;
  gint64 deadline;
  const DfImage *result;

  /* (The application registered once above; the window runs without.) */
  window = g_object_new (DIFFUSE_TYPE_WINDOW, NULL);
  gtk_window_present (GTK_WINDOW (window));
  g_signal_connect (window, "map", G_CALLBACK (on_map), &mapped);
  mapped = gtk_widget_get_mapped (GTK_WIDGET (window));
  g_assert_true (ui_iterate_until (&mapped, 10000));

  /* Without a model, Generate is off. */
  gtk_widget_activate_action (GTK_WIDGET (window), "win.generate", NULL);
  g_assert_false (diffuse_window_get_generating (window));

  ui_load_model (window, tiny, vocab);
  ui_apply_test_params (window, 3);

  g_assert_true (gtk_widget_activate_action (GTK_WIDGET (window), "win.generate", NULL));
  g_assert_true (diffuse_window_get_generating (window));
  g_assert_true (ui_iterate_while_generating (window, 120000));
  g_assert_cmpuint (diffuse_window_get_preview_count (window), >=, 1);
  result = diffuse_window_get_result (window);
  g_assert_nonnull (result);
  g_assert_cmpint (result->width, ==, 64);
  g_assert_cmpint (result->height, ==, 64);
  ui_wait_frames (GTK_WIDGET (window), 3);
  ui_save_screenshot (GTK_WIDGET (window), "generated");
  /* The picture went to the history at once. */
  g_assert_true (ui_iterate_until_items (diffuse_window_get_gallery (window), 1));

  /* The same settings on the command line give the same pixels. */
  {
    g_autofree char *out = g_build_filename (gallery, "cli.png", NULL);
    g_autofree char *err = NULL;
    g_autoptr (DfImage) cli = NULL;
    g_autoptr (GError) error = NULL;
    const char *argv[] = { g_getenv ("DIFFUSE_CLI"), "generate", "--model", tiny, "--vocab", vocab,
                           "--prompt", "a photo of a cat", "--steps", "3", "--width", "64",
                           "--height", "64", "--seed", "5", "--cfg", "7.5", "--sampler", "euler",
                           "--out", out, NULL };
    int status;

    g_assert_nonnull (argv[0]);
    g_assert_true (g_spawn_sync (NULL, (char **) argv, NULL, G_SPAWN_STDOUT_TO_DEV_NULL, NULL,
                                 NULL, NULL, &err, &status, &error));
    g_assert_no_error (error);
    if (!WIFEXITED (status) || WEXITSTATUS (status) != 0)
      g_error ("diffuse-cli generate failed: %s", err);
    cli = df_image_load_png (out, &error);
    g_assert_no_error (error);
    g_assert_cmpint (cli->width, ==, result->width);
    g_assert_cmpint (cli->height, ==, result->height);
    /* (The PNG reads back as RGBA, opaque.) */
    g_assert_cmpint (result->channels, ==, 3);
    for (int y = 0; y < result->height; y++)
      for (int x = 0; x < result->width; x++)
        {
          const guint8 *a = df_image_pixel (cli, x, y);
          const guint8 *b = df_image_pixel ((DfImage *) result, x, y);

          if (a[0] != b[0] || a[1] != b[1] || a[2] != b[2]
              || (cli->channels == 4 && a[3] != 255))
            g_error ("pixel (%d, %d): window %u %u %u, diffuse-cli %u %u %u", x, y, b[0], b[1],
                     b[2], a[0], a[1], a[2]);
        }
    g_assert_cmpint (g_remove (out), ==, 0);
  }

  /* The result as the start image, with a painted mask over it. */
  {
    DiffuseCanvas *canvas = diffuse_window_get_canvas (window);
    int w = gtk_widget_get_width (GTK_WIDGET (canvas));
    int h = gtk_widget_get_height (GTK_WIDGET (canvas));

    g_assert_true (gtk_widget_activate_action (GTK_WIDGET (window), "win.use-result", NULL));
    g_assert_nonnull (diffuse_canvas_get_image (canvas));
    ui_wait_frames (GTK_WIDGET (window), 2);
    /* A fine brush (image pixels) through the toolbar's slider. */
    gtk_adjustment_set_value (window->brush_size_adjustment, 6);
    g_assert_cmpfloat (diffuse_canvas_get_brush_size (canvas), ==, 6);
    diffuse_canvas_stroke_begin (canvas, w * 0.3, h * 0.3, 1.0, FALSE);
    diffuse_canvas_stroke_to (canvas, w * 0.5, h * 0.6, 1.0);
    diffuse_canvas_stroke_to (canvas, w * 0.7, h * 0.4, 1.0);
    diffuse_canvas_stroke_end (canvas);
    g_assert_true (diffuse_canvas_has_mask (canvas));
    {
      int mw, mh;
      const guint8 *mask = diffuse_canvas_get_mask (canvas, &mw, &mh);
      double ix, iy;

      /* Painted where the stroke began, untouched in a far corner. */
      diffuse_canvas_widget_to_image (canvas, w * 0.3, h * 0.3, &ix, &iy);
      g_assert_cmpint (mw, ==, 64);
      g_assert_cmpint (mask[(int) iy * mw + (int) ix], ==, 255);
      g_assert_cmpint (mask[(mh - 1) * mw + (mw - 1)], ==, 0);
    }
    ui_wait_frames (GTK_WIDGET (window), 3);
    ui_save_screenshot (GTK_WIDGET (window), "mask-painting");
    g_assert_true (gtk_widget_activate_action (GTK_WIDGET (window), "win.mask-undo", NULL));
    g_assert_false (diffuse_canvas_has_mask (canvas));
    g_assert_true (gtk_widget_activate_action (GTK_WIDGET (window), "win.remove-image", NULL));
    g_assert_null (diffuse_canvas_get_image (canvas));
  }

  /* The gallery page with the picture in it. */
  adw_view_stack_set_visible_child_name (window->view_stack, "gallery");
  ui_wait_frames (GTK_WIDGET (window), 5);
  ui_save_screenshot (GTK_WIDGET (window), "gallery");
  adw_view_stack_set_visible_child_name (window->view_stack, "canvas");

  /* Mid-generation the canvas shows the preview; Escape's action then
   * cancels: no new result, the engine stays usable. */
  gtk_spin_button_set_value (window->steps_spin, 40);
  g_assert_true (gtk_widget_activate_action (GTK_WIDGET (window), "win.generate", NULL));
  deadline = g_get_monotonic_time () + 60 * G_USEC_PER_SEC;
  while (diffuse_window_get_preview_count (window) == 0 && g_get_monotonic_time () < deadline)
    g_main_context_iteration (NULL, FALSE);
  g_assert_cmpuint (diffuse_window_get_preview_count (window), >=, 1);
  g_assert_true (diffuse_window_get_generating (window));
  g_assert_true (gtk_widget_get_visible (GTK_WIDGET (window->progress_bar)));
  ui_wait_frames (GTK_WIDGET (window), 2);
  ui_save_screenshot (GTK_WIDGET (window), "mid-generation");
  g_assert_true (diffuse_window_get_generating (window));
  g_assert_true (gtk_widget_activate_action (GTK_WIDGET (window), "win.cancel", NULL));
  g_assert_true (ui_iterate_while_generating (window, 60000));
  g_assert_true (diffuse_window_get_result (window) == result);
  g_assert_true (gtk_widget_activate_action (GTK_WIDGET (window), "win.generate", NULL));
  g_assert_true (gtk_widget_activate_action (GTK_WIDGET (window), "win.cancel", NULL));
  g_assert_true (ui_iterate_while_generating (window, 60000));
  g_assert_true (diffuse_window_get_result (window) == result);

  gtk_window_destroy (GTK_WINDOW (window));
  g_settings_reset (settings, "gallery-folder");
}

/* A window without a model (the generate test left its model in the
 * settings, which a new window would load). */
static DiffuseWindow *
new_mapped_window (void)
{
  g_autoptr (GSettings) settings = g_settings_new (APP_ID);
  DiffuseWindow *window;

  g_settings_reset (settings, "model-path");
  window = g_object_new (DIFFUSE_TYPE_WINDOW, NULL);

  gtk_window_present (GTK_WINDOW (window));
  ui_wait_frames (GTK_WIDGET (window), 2);
  return window;
}

/* Drops and pastes, fed to the handlers as the drop target and the
 * clipboard would: a PNG file and a picture become the start image (the
 * size follows it), anything else is refused with a warning. */
static void
test_window_drop_paste (void)
{
  DiffuseWindow *window = new_mapped_window ();
  DiffuseCanvas *canvas = diffuse_window_get_canvas (window);
  g_autofree char *dir = g_dir_make_tmp ("diffuse-drop-XXXXXX", NULL);
  g_autofree char *png = g_build_filename (dir, "start.png", NULL);
  g_autofree char *text = g_build_filename (dir, "notes.png", NULL);
  g_autoptr (DfImage) image = df_image_new (80, 72, 3, NULL);
  g_autoptr (DfParams) params = df_params_new ();
  g_autoptr (GError) error = NULL;
  g_autoptr (GFile) png_file = g_file_new_for_path (png);
  g_autoptr (GFile) text_file = g_file_new_for_path (text);
  g_autoptr (GBytes) bytes = NULL;
  g_autoptr (GdkTexture) texture = NULL;
  guint8 rgba[24 * 16 * 4];
  GValue value = G_VALUE_INIT;
  const DfImage *got;

  for (int y = 0; y < 72; y++)
    for (int x = 0; x < 80; x++)
      {
        guint8 *p = df_image_pixel (image, x, y);

        p[0] = (guint8) (x * 3), p[1] = (guint8) (y * 3), p[2] = 200;
      }
  df_params_set_prompt (params, "a lighthouse");
  g_assert_true (df_image_save_png (image, png, params, &error));
  g_assert_no_error (error);
  g_assert_true (g_file_set_contents (text, "not a picture", -1, NULL));

  /* A PNG file. */
  g_value_init (&value, G_TYPE_FILE);
  g_value_set_object (&value, png_file);
  g_assert_true (diffuse_window_drop_value (window, &value));
  got = diffuse_canvas_get_image (canvas);
  g_assert_nonnull (got);
  g_assert_cmpint (got->width, ==, 80);
  g_assert_cmpint (got->height, ==, 72);
  g_assert_cmpint (df_image_pixel ((DfImage *) got, 10, 20)[0], ==, 30);
  g_assert_cmpint (df_image_pixel ((DfImage *) got, 10, 20)[1], ==, 60);
  g_assert_cmpint (gtk_spin_button_get_value_as_int (window->width_spin), ==, 80);
  g_assert_cmpint (gtk_spin_button_get_value_as_int (window->height_spin), ==, 72);

  /* A file that is no picture: refused, with the details logged. */
  g_value_set_object (&value, text_file);
  g_test_expect_message (NULL, G_LOG_LEVEL_WARNING, "Could not open the image*");
  g_assert_false (diffuse_window_drop_value (window, &value));
  g_test_assert_expected_messages ();
  g_assert_true (diffuse_canvas_get_image (canvas) == got);
  g_value_unset (&value);

  /* A picture, dropped and pasted. */
  for (int i = 0; i < 24 * 16; i++)
    {
      rgba[i * 4 + 0] = (guint8) i;
      rgba[i * 4 + 1] = 50;
      rgba[i * 4 + 2] = (guint8) (255 - i % 256);
      rgba[i * 4 + 3] = 255;
    }
  bytes = g_bytes_new (rgba, sizeof rgba);
  texture = gdk_memory_texture_new (24, 16, GDK_MEMORY_R8G8B8A8, bytes, 24 * 4);
  g_value_init (&value, GDK_TYPE_TEXTURE);
  g_value_set_object (&value, texture);
  g_assert_true (diffuse_window_drop_value (window, &value));
  g_value_unset (&value);
  got = diffuse_canvas_get_image (canvas);
  g_assert_cmpint (got->width, ==, 24);
  g_assert_cmpint (got->height, ==, 16);
  g_assert_cmpmem (df_image_pixel ((DfImage *) got, 5, 3), 3, &rgba[(3 * 24 + 5) * 4], 3);

  g_assert_true (gtk_widget_activate_action (GTK_WIDGET (window), "win.remove-image", NULL));
  g_assert_null (diffuse_canvas_get_image (canvas));
  g_assert_true (diffuse_window_paste_texture (window, texture));
  got = diffuse_canvas_get_image (canvas);
  g_assert_nonnull (got);
  g_assert_cmpmem (df_image_pixel ((DfImage *) got, 23, 15), 3, &rgba[(15 * 24 + 23) * 4], 3);

  /* Other values are not pictures. */
  g_value_init (&value, G_TYPE_STRING);
  g_value_set_string (&value, "hello");
  g_assert_false (diffuse_window_drop_value (window, &value));
  g_value_unset (&value);

  gtk_window_destroy (GTK_WINDOW (window));
  g_remove (png);
  g_remove (text);
  g_rmdir (dir);
}

/* The preferences open over the window; choosing a gallery folder sets
 * the GSettings key, and the window's gallery follows it. */
static void
test_window_preferences (void)
{
  g_autoptr (GSettings) settings = g_settings_new (APP_ID);
  g_autofree char *folder = g_dir_make_tmp ("diffuse-prefs-XXXXXX", NULL);
  DiffuseWindow *window = new_mapped_window ();
  gboolean destroyed = FALSE;
  GtkWindow *preferences;
  GFile *gallery_folder;

  g_assert_true (gtk_widget_activate_action (GTK_WIDGET (window), "win.preferences", NULL));
  preferences = find_toplevel (DIFFUSE_TYPE_PREFERENCES);
  g_assert_nonnull (preferences);
  g_assert_true (gtk_window_get_transient_for (preferences) == GTK_WINDOW (window));
  ui_wait_frames (GTK_WIDGET (preferences), 2);
  g_assert_true (gtk_widget_get_mapped (GTK_WIDGET (preferences)));

  diffuse_preferences_set_gallery_folder (DIFFUSE_PREFERENCES (preferences), folder);
  {
    g_autofree char *key = g_settings_get_string (settings, "gallery-folder");

    g_assert_cmpstr (key, ==, folder);
  }
  gallery_folder = diffuse_gallery_get_folder (diffuse_window_get_gallery (window));
  g_assert_cmpstr (g_file_peek_path (gallery_folder), ==, folder);

  g_object_weak_ref (G_OBJECT (preferences), on_destroyed, &destroyed);
  gtk_window_destroy (preferences);
  g_assert_true (ui_iterate_until (&destroyed, 5000));
  gtk_window_destroy (GTK_WINDOW (window));
  g_settings_reset (settings, "gallery-folder");
  g_rmdir (folder);
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  g_test_add_func ("/window/lifecycle", test_window_lifecycle);
  g_test_add_func ("/window/generate", test_window_generate);
  g_test_add_func ("/window/drop-paste", test_window_drop_paste);
  g_test_add_func ("/window/preferences", test_window_preferences);
  return g_test_run ();
}
