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

#include "diffuse-application.h"
#include "diffuse-window.h"

/* Runs the default main context until *flag is TRUE or the time is up. */
static gboolean
iterate_until (gboolean *flag, guint timeout_ms)
{
  gint64 deadline = g_get_monotonic_time () + (gint64) timeout_ms * 1000;

  while (!*flag && g_get_monotonic_time () < deadline)
    g_main_context_iteration (NULL, FALSE);
  return *flag;
}

static void
on_map (GtkWidget *widget, gpointer user_data)
{
  *(gboolean *) user_data = TRUE;
}

/* Counts frames down; the flag goes TRUE once the window has drawn. */
static gboolean
on_tick (GtkWidget *widget, GdkFrameClock *clock, gpointer user_data)
{
  gboolean *drawn = user_data;
  int frames = GPOINTER_TO_INT (g_object_get_data (G_OBJECT (widget), "frames-left"));

  if (--frames > 0)
    {
      g_object_set_data (G_OBJECT (widget), "frames-left", GINT_TO_POINTER (frames));
      return G_SOURCE_CONTINUE;
    }
  *drawn = TRUE;
  return G_SOURCE_REMOVE;
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

/* Saves what the window shows now to $DIFFUSE_SCREENSHOT_DIR/NAME.png and
 * checks the picture has the window's size. */
static void
save_screenshot (GtkWidget *widget, const char *name)
{
  const char *dir = g_getenv ("DIFFUSE_SCREENSHOT_DIR");
  int width = gtk_widget_get_width (widget);
  int height = gtk_widget_get_height (widget);
  g_autoptr (GdkPaintable) paintable = NULL;
  g_autoptr (GskRenderNode) node = NULL;
  g_autoptr (GdkTexture) texture = NULL;
  g_autoptr (GdkTexture) reloaded = NULL;
  g_autoptr (GError) error = NULL;
  g_autofree char *path = NULL;
  GtkSnapshot *snapshot;
  GskRenderer *renderer;

  if (dir == NULL)
    return;
  g_assert_cmpint (g_mkdir_with_parents (dir, 0755), ==, 0);
  path = g_strdup_printf ("%s/%s.png", dir, name);

  paintable = gtk_widget_paintable_new (widget);
  snapshot = gtk_snapshot_new ();
  gdk_paintable_snapshot (paintable, snapshot, width, height);
  node = gtk_snapshot_free_to_node (snapshot);
  g_assert_nonnull (node);
  renderer = gtk_native_get_renderer (gtk_widget_get_native (widget));
  texture = gsk_renderer_render_texture (renderer, node, &GRAPHENE_RECT_INIT (0, 0, width, height));
  g_assert_true (gdk_texture_save_to_png (texture, path));

  reloaded = gdk_texture_new_from_filename (path, &error);
  g_assert_no_error (error);
  g_assert_cmpint (gdk_texture_get_width (reloaded), ==, width);
  g_assert_cmpint (gdk_texture_get_height (reloaded), ==, height);
  g_test_message ("screenshot: %s", path);
}

static gboolean
iterate_until_items (DiffuseGallery *gallery, guint n)
{
  gint64 deadline = g_get_monotonic_time () + 10 * G_USEC_PER_SEC;
  GListModel *model = diffuse_gallery_get_model (gallery);

  while (g_list_model_get_n_items (model) != n && g_get_monotonic_time () < deadline)
    g_main_context_iteration (NULL, FALSE);
  return g_list_model_get_n_items (model) == n;
}

static void
test_window_lifecycle (void)
{
  g_autoptr (GSettings) settings = NULL;
  g_autoptr (DiffuseApplication) app = NULL;
  g_autoptr (GError) error = NULL;
  GtkWindow *window, *about;
  gboolean mapped = FALSE, drawn = FALSE, destroyed = FALSE, about_destroyed = FALSE;
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
  g_assert_true (iterate_until (&mapped, 10000));
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
  g_object_set_data (G_OBJECT (window), "frames-left", GINT_TO_POINTER (3));
  gtk_widget_add_tick_callback (GTK_WIDGET (window), on_tick, &drawn, NULL);
  g_assert_true (iterate_until (&drawn, 10000));
  save_screenshot (GTK_WIDGET (window), "window");

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
  g_assert_true (iterate_until (&about_destroyed, 5000));

  /* Closing saves the size it has now and destroys the window. */
  gtk_window_set_default_size (window, 1200, 780);
  g_object_weak_ref (G_OBJECT (window), on_destroyed, &destroyed);
  gtk_window_close (window);
  g_assert_true (iterate_until (&destroyed, 5000));
  g_assert_null (gtk_application_get_windows (GTK_APPLICATION (app)));
  g_assert_cmpint (g_settings_get_int (settings, "window-width"), ==, 1200);
  g_assert_cmpint (g_settings_get_int (settings, "window-height"), ==, 780);
  g_assert_false (g_settings_get_boolean (settings, "window-maximized"));

  g_clear_object (&app);
  g_clear_object (&settings);
}

static gboolean
iterate_while_generating (DiffuseWindow *window, guint timeout_ms)
{
  gint64 deadline = g_get_monotonic_time () + (gint64) timeout_ms * 1000;

  while (diffuse_window_get_generating (window) && g_get_monotonic_time () < deadline)
    g_main_context_iteration (NULL, FALSE);
  return !diffuse_window_get_generating (window);
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
  g_autofree char *gallery = g_build_filename (g_get_tmp_dir (), "diffuse-test-gallery-XXXXXX", NULL);
  g_autoptr (DfParams) params = df_params_new ();
  g_autoptr (GSettings) settings = g_settings_new (APP_ID);
  gboolean mapped = FALSE;
  DiffuseWindow *window;
  gint64 deadline;
  const DfImage *result;

  g_assert_nonnull (g_mkdtemp (gallery));
  g_settings_set_string (settings, "gallery-folder", gallery);
  /* (The application registered once above; the window runs without.) */
  window = g_object_new (DIFFUSE_TYPE_WINDOW, NULL);
  gtk_window_present (GTK_WINDOW (window));
  g_signal_connect (window, "map", G_CALLBACK (on_map), &mapped);
  mapped = gtk_widget_get_mapped (GTK_WIDGET (window));
  g_assert_true (iterate_until (&mapped, 10000));

  /* Without a model, Generate is off. */
  gtk_widget_activate_action (GTK_WIDGET (window), "win.generate", NULL);
  g_assert_false (diffuse_window_get_generating (window));

  diffuse_window_load_model_full (window, tiny, vocab);
  deadline = g_get_monotonic_time () + 60 * G_USEC_PER_SEC;
  while (!diffuse_window_get_model_ready (window) && g_get_monotonic_time () < deadline)
    g_main_context_iteration (NULL, FALSE);
  g_assert_true (diffuse_window_get_model_ready (window));

  df_params_set_prompt (params, "a photo of a cat");
  params->steps = 3;
  params->width = params->height = 64;
  params->seed = 5;
  params->cfg_scale = 7.5;
  df_params_set_sampler (params, "euler");
  diffuse_window_apply_params (window, params);

  g_assert_true (gtk_widget_activate_action (GTK_WIDGET (window), "win.generate", NULL));
  g_assert_true (diffuse_window_get_generating (window));
  g_assert_true (iterate_while_generating (window, 120000));
  g_assert_cmpuint (diffuse_window_get_preview_count (window), >=, 1);
  result = diffuse_window_get_result (window);
  g_assert_nonnull (result);
  g_assert_cmpint (result->width, ==, 64);
  g_assert_cmpint (result->height, ==, 64);
  {
    gboolean drawn = FALSE;

    g_object_set_data (G_OBJECT (window), "frames-left", GINT_TO_POINTER (3));
    gtk_widget_add_tick_callback (GTK_WIDGET (window), on_tick, &drawn, NULL);
    g_assert_true (iterate_until (&drawn, 10000));
    save_screenshot (GTK_WIDGET (window), "generated");
  }
  /* The picture went to the history at once. */
  g_assert_true (iterate_until_items (diffuse_window_get_gallery (window), 1));

  /* Escape's action cancels: no new result, the engine stays usable. */
  g_assert_true (gtk_widget_activate_action (GTK_WIDGET (window), "win.generate", NULL));
  g_assert_true (gtk_widget_activate_action (GTK_WIDGET (window), "win.cancel", NULL));
  g_assert_true (iterate_while_generating (window, 60000));
  g_assert_true (diffuse_window_get_result (window) == result);

  gtk_window_destroy (GTK_WINDOW (window));
  g_settings_reset (settings, "gallery-folder");
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  g_test_add_func ("/window/lifecycle", test_window_lifecycle);
  g_test_add_func ("/window/generate", test_window_generate);
  return g_test_run ();
}
