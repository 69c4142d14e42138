/* diffuse-ui-test.h — helpers the window tests share: running the main
 * loop until something happens, and screenshots of a widget. */
#pragma once

#include <glib/gstdio.h>

#include "diffuse-window-private.h"

/* Runs the default main context until *flag is TRUE or the time is up. */
static inline gboolean
ui_iterate_until (gboolean *flag, guint timeout_ms)
{
  gint64 deadline = g_get_monotonic_time () + (gint64) timeout_ms * 1000;

  while (!*flag && g_get_monotonic_time () < deadline)
    g_main_context_iteration (NULL, FALSE);
  return *flag;
}

static inline gboolean
ui_iterate_while_generating (DiffuseWindow *window, guint timeout_ms)
{
  gint64 deadline = g_get_monotonic_time () + (gint64) timeout_ms * 1000;

  while (diffuse_window_get_generating (window) && g_get_monotonic_time () < deadline)
    g_main_context_iteration (NULL, FALSE);
  return !diffuse_window_get_generating (window);
}

static inline gboolean
ui_iterate_until_items (DiffuseGallery *gallery, guint n)
{
  gint64 deadline = g_get_monotonic_time () + 10 * G_USEC_PER_SEC;
  GListModel *model = diffuse_gallery_get_model (gallery);

  while (g_list_model_get_n_items (model) != n && g_get_monotonic_time () < deadline)
    g_main_context_iteration (NULL, FALSE);
  return g_list_model_get_n_items (model) == n;
}

static inline gboolean
ui_on_tick (GtkWidget *widget, GdkFrameClock *clock, gpointer user_data)
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

/* Lets @widget draw @n frames. */
static inline void
ui_wait_frames (GtkWidget *widget, int n)
{
  gboolean drawn = FALSE;

  g_object_set_data (G_OBJECT (widget), "frames-left", GINT_TO_POINTER (n));
  gtk_widget_add_tick_callback (widget, ui_on_tick, &drawn, NULL);
  g_assert_true (ui_iterate_until (&drawn, 10000));
}

/* Saves what @widget shows now to $DIFFUSE_SCREENSHOT_DIR/NAME.png and
 * checks the picture has the widget's size. */
static inline void
ui_save_screenshot (GtkWidget *widget, const char *name)
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

/* A fresh temporary folder, made the gallery folder in @settings. */
static inline char *
ui_new_gallery (GSettings *settings)
{
  char *gallery = g_build_filename (g_get_tmp_dir (), "diffuse-test-gallery-XXXXXX", NULL);

  g_assert_nonnull (g_mkdtemp (gallery));
  g_settings_set_string (settings, "gallery-folder", gallery);
  return gallery;
}

/* Loads the model at @model with the tokenizer at @vocab into @window and
 * waits up to a minute until it is ready. */
static inline void
ui_load_model (DiffuseWindow *window, const char *model, const char *vocab)
{
  gint64 deadline;

  diffuse_window_load_model_full (window, model, vocab);
  deadline = g_get_monotonic_time () + 60 * G_USEC_PER_SEC;
  while (!diffuse_window_get_model_ready (window) && g_get_monotonic_time () < deadline)
    g_main_context_iteration (NULL, FALSE);
  g_assert_true (diffuse_window_get_model_ready (window));
}

/* A mapped window with the tiny SD 1.x model loaded (tests/data/tiny/sd1
 * with the tiny tokenizer), its gallery in a fresh temporary folder. */
static inline DiffuseWindow *
ui_window_with_tiny_model (GSettings *settings, char **gallery_out)
{
  g_autofree char *tiny = g_build_filename (g_getenv ("DIFFUSE_TEST_DATA"), "tiny", "sd1", NULL);
  g_autofree char *vocab =
      g_build_filename (g_getenv ("DIFFUSE_TEST_DATA"), "pipeline", "tokenizer", NULL);
  DiffuseWindow *window;

  *gallery_out = ui_new_gallery (settings);
  window = g_object_new (DIFFUSE_TYPE_WINDOW, NULL);
  gtk_window_present (GTK_WINDOW (window));
  ui_wait_frames (GTK_WIDGET (window), 2);
  ui_load_model (window, tiny, vocab);
  return window;
}

/* The settings the generation tests ask for: a cat at 64×64, seed 5, CFG
 * 7.5, Euler, @steps steps. */
static inline void
ui_apply_test_params (DiffuseWindow *window, int steps)
{
  g_autoptr (DfParams) params = df_params_new ();

  df_params_set_prompt (params, "a photo of a cat");
  params->steps = steps;
  params->width = params->height = 64;
  params->seed = 5;
  params->cfg_scale = 7.5;
  df_params_set_sampler (params, "euler");
  diffuse_window_apply_params (window, params);
}
