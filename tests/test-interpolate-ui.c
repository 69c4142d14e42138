/* test-interpolate-ui.c — interpolation from the real window on the tiny
 * SD 1.x model under Xvfb: with the Interpolation row switched on,
 * Generate makes N frames between two prompts and seeds, shows them as a
 * strip under the canvas, and saves them all to the history; a click on
 * a frame shows it. */
#include "config.h"

#include <string.h>

#include "diffuse-ui-test.h"

static gboolean
images_equal (const DfImage *a, const DfImage *b)
{
  if (a->width != b->width || a->height != b->height || a->channels != b->channels)
    return FALSE;
  for (int y = 0; y < a->height; y++)
    if (memcmp (df_image_pixel ((DfImage *) a, 0, y), df_image_pixel ((DfImage *) b, 0, y),
                (size_t) a->width * (size_t) a->channels) != 0)
      return FALSE;
  return TRUE;
}

static void
test_interpolate (void)
{
  g_autoptr (GSettings) settings = g_settings_new (APP_ID);
  g_autofree char *gallery = NULL;
  DiffuseWindow *window = ui_window_with_tiny_model (settings, &gallery);
  GPtrArray *frames;
  GtkWidget *child;
  guint n_children = 0;

  ui_apply_test_params (window, 2);
  adw_expander_row_set_enable_expansion (window->interpolate_row, TRUE);
  gtk_editable_set_text (GTK_EDITABLE (window->prompt_b_row), "a photo of a dog");
  gtk_spin_button_set_value (window->seed_b_spin, 9);
  gtk_spin_button_set_value (window->frames_spin, 3);
  g_assert_false (gtk_widget_get_visible (window->frame_strip_scroller));

  g_assert_true (gtk_widget_activate_action (GTK_WIDGET (window), "win.generate", NULL));
  g_assert_true (ui_iterate_while_generating (window, 180000));
  frames = diffuse_window_get_frames (window);
  g_assert_nonnull (frames);
  g_assert_cmpuint (frames->len, ==, 3);
  for (guint i = 0; i < frames->len; i++)
    {
      const DfImage *frame = g_ptr_array_index (frames, i);

      g_assert_cmpint (frame->width, ==, 64);
      g_assert_cmpint (frame->height, ==, 64);
    }
  /* Different ends make different pictures. */
  g_assert_false (images_equal (g_ptr_array_index (frames, 0), g_ptr_array_index (frames, 2)));

  /* The strip shows one button per frame. */
  g_assert_true (gtk_widget_get_visible (window->frame_strip_scroller));
  for (child = gtk_widget_get_first_child (GTK_WIDGET (window->frame_strip)); child != NULL;
       child = gtk_widget_get_next_sibling (child))
    n_children++;
  g_assert_cmpuint (n_children, ==, 3);
  /* Every frame is in the history. */
  g_assert_true (ui_iterate_until_items (diffuse_window_get_gallery (window), 3));

  /* Clicking the first frame shows it. */
  g_signal_emit_by_name (gtk_widget_get_first_child (GTK_WIDGET (window->frame_strip)), "clicked");
  g_assert_true (images_equal (diffuse_window_get_result (window), g_ptr_array_index (frames, 0)));
  ui_wait_frames (GTK_WIDGET (window), 3);
  ui_save_screenshot (GTK_WIDGET (window), "interpolation");

  /* Switched off, the next picture is a single one and the strip goes. */
  adw_expander_row_set_enable_expansion (window->interpolate_row, FALSE);
  g_assert_true (gtk_widget_activate_action (GTK_WIDGET (window), "win.generate", NULL));
  g_assert_true (ui_iterate_while_generating (window, 120000));
  g_assert_null (diffuse_window_get_frames (window));
  g_assert_false (gtk_widget_get_visible (window->frame_strip_scroller));

  gtk_window_destroy (GTK_WINDOW (window));
  g_settings_reset (settings, "gallery-folder");
}

int
main (int argc, char **argv)
{
  gtk_test_init (&argc, &argv, NULL);
  adw_init ();
  g_test_add_func ("/interpolate-ui/frames", test_interpolate);
  return g_test_run ();
}
