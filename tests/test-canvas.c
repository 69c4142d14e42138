/* test-canvas.c — the mask painter, driven through the canvas's input
 * handling (the functions its mouse and stylus gestures call): a stroke
 * paints the pixels under the brush and nothing else, undo and redo
 * restore them, pressure changes the painted width or value, the stylus
 * eraser end erases, invert, clear and extend do what they say and can be
 * undone, [ and ] change the brush size, and widget coordinates map to
 * image pixels when the picture is zoomed to fit. */
#include "config.h"

#include "diffuse-canvas.h"

static DfImage *
make_image (int width, int height)
{
  g_autoptr (GError) error = NULL;
  DfImage *image = df_image_new (width, height, 3, &error);

  g_assert_no_error (error);
  for (int y = 0; y < height; y++)
    for (int x = 0; x < width; x++)
      {
        guint8 *p = df_image_pixel (image, x, y);

        p[0] = (guint8) (x * 7);
        p[1] = (guint8) (y * 11);
        p[2] = (guint8) (x + y);
      }
  return image;
}

static DiffuseCanvas *
make_canvas (int width, int height)
{
  g_autoptr (DfImage) image = make_image (width, height);
  DiffuseCanvas *canvas = DIFFUSE_CANVAS (g_object_ref_sink (diffuse_canvas_new ()));

  /* Unallocated, the canvas maps widget pixels 1:1 to image pixels. */
  diffuse_canvas_set_image (canvas, image);
  diffuse_canvas_set_pressure_target (canvas, DIFFUSE_PRESSURE_SIZE);
  return canvas;
}

static guint8
mask_at (DiffuseCanvas *canvas, int x, int y)
{
  int width, height;
  const guint8 *mask = diffuse_canvas_get_mask (canvas, &width, &height);

  g_assert_nonnull (mask);
  g_assert_cmpint (x, <, width);
  g_assert_cmpint (y, <, height);
  return mask[y * width + x];
}

static int
count_nonzero (DiffuseCanvas *canvas)
{
  int width, height, n = 0;
  const guint8 *mask = diffuse_canvas_get_mask (canvas, &width, &height);

  for (int i = 0; i < width * height; i++)
    n += mask[i] != 0;
  return n;
}

/* Painted rows in column @x. */
static int
column_extent (DiffuseCanvas *canvas, int x)
{
  int width, height, n = 0;
  const guint8 *mask = diffuse_canvas_get_mask (canvas, &width, &height);

  for (int y = 0; y < height; y++)
    n += mask[y * width + x] != 0;
  return n;
}

static void
test_canvas_stroke_undo (void)
{
  g_autoptr (DiffuseCanvas) canvas = make_canvas (64, 48);
  g_autoptr (DfImage) mask_image = NULL;

  diffuse_canvas_set_brush_size (canvas, 10);
  diffuse_canvas_set_brush_softness (canvas, 0);
  g_assert_false (diffuse_canvas_has_mask (canvas));
  g_assert_false (diffuse_canvas_can_undo (canvas));

  /* A horizontal drag along y = 20 from x = 10 to x = 50. */
  diffuse_canvas_stroke_begin (canvas, 10, 20, 1.0, FALSE);
  diffuse_canvas_stroke_to (canvas, 30, 20, 1.0);
  diffuse_canvas_stroke_to (canvas, 50, 20, 1.0);
  diffuse_canvas_stroke_end (canvas);

  g_assert_true (diffuse_canvas_has_mask (canvas));
  g_assert_cmpuint (mask_at (canvas, 30, 20), ==, 255);
  g_assert_cmpuint (mask_at (canvas, 30, 24), ==, 255); /* centre 24.5: 4.5 from the path */
  g_assert_cmpuint (mask_at (canvas, 30, 25), ==, 0);   /* centre 25.5: 5.5 away */
  g_assert_cmpuint (mask_at (canvas, 30, 15), ==, 255);
  g_assert_cmpuint (mask_at (canvas, 30, 14), ==, 0);
  g_assert_cmpuint (mask_at (canvas, 3, 20), ==, 0);  /* left of the start dab */
  g_assert_cmpuint (mask_at (canvas, 58, 20), ==, 0); /* right of the end dab */
  /* A 40 px long, 10 px wide band with round ends. */
  g_assert_cmpint (count_nonzero (canvas), >, 40 * 10);
  g_assert_cmpint (count_nonzero (canvas), <, 50 * 10 + 20);

  /* The mask the job gets: white where painted. */
  mask_image = diffuse_canvas_get_mask_image (canvas);
  g_assert_nonnull (mask_image);
  g_assert_cmpint (mask_image->width, ==, 64);
  g_assert_cmpuint (df_image_pixel (mask_image, 30, 20)[0], ==, 255);
  g_assert_cmpuint (df_image_pixel (mask_image, 3, 20)[1], ==, 0);

  g_assert_true (diffuse_canvas_can_undo (canvas));
  diffuse_canvas_undo (canvas);
  g_assert_false (diffuse_canvas_has_mask (canvas));
  g_assert_false (diffuse_canvas_can_undo (canvas));
  g_assert_true (diffuse_canvas_can_redo (canvas));
  diffuse_canvas_redo (canvas);
  g_assert_cmpuint (mask_at (canvas, 30, 20), ==, 255);
  g_assert_false (diffuse_canvas_can_redo (canvas));

  /* Ctrl+Z's action undoes too. */
  g_assert_true (gtk_widget_activate_action (GTK_WIDGET (canvas), "canvas.undo", NULL));
  g_assert_false (diffuse_canvas_has_mask (canvas));
}

static void
test_canvas_pressure (void)
{
  g_autoptr (DiffuseCanvas) canvas = make_canvas (64, 64);
  int full, light;

  diffuse_canvas_set_brush_size (canvas, 20);
  diffuse_canvas_set_brush_softness (canvas, 0);

  /* Pressure on size: full pressure paints a 20 px wide band, a quarter
   * of it a 5 px wide one. */
  diffuse_canvas_stroke_begin (canvas, 5, 16, 1.0, FALSE);
  diffuse_canvas_stroke_to (canvas, 60, 16, 1.0);
  diffuse_canvas_stroke_end (canvas);
  full = column_extent (canvas, 32);
  g_assert_cmpint (full, >=, 19);
  g_assert_cmpint (full, <=, 21);

  diffuse_canvas_clear_mask (canvas);
  diffuse_canvas_stroke_begin (canvas, 5, 48, 0.25, FALSE);
  diffuse_canvas_stroke_to (canvas, 60, 48, 0.25);
  diffuse_canvas_stroke_end (canvas);
  light = column_extent (canvas, 32);
  g_assert_cmpint (light, >=, 4);
  g_assert_cmpint (light, <=, 6);
  g_assert_cmpuint (mask_at (canvas, 32, 48), ==, 255);

  /* Pressure on opacity: the width stays, the value follows. */
  diffuse_canvas_clear_mask (canvas);
  diffuse_canvas_set_pressure_target (canvas, DIFFUSE_PRESSURE_OPACITY);
  diffuse_canvas_stroke_begin (canvas, 5, 32, 0.5, FALSE);
  diffuse_canvas_stroke_to (canvas, 60, 32, 0.5);
  diffuse_canvas_stroke_end (canvas);
  g_assert_cmpint (column_extent (canvas, 32), >=, 19);
  g_assert_cmpuint (mask_at (canvas, 32, 32), ==, 128);
}

static void
test_canvas_softness (void)
{
  g_autoptr (DiffuseCanvas) canvas = make_canvas (40, 40);
  guint8 centre, edge;

  diffuse_canvas_set_brush_size (canvas, 30);
  diffuse_canvas_set_brush_softness (canvas, 1.0);
  diffuse_canvas_stroke_begin (canvas, 20, 20, 1.0, FALSE);
  diffuse_canvas_stroke_end (canvas);
  centre = mask_at (canvas, 20, 20);
  edge = mask_at (canvas, 31, 20); /* 11.5 px out of 15 */
  g_assert_cmpuint (centre, >, 240);
  g_assert_cmpuint (edge, >, 0);
  g_assert_cmpuint (edge, <, 128);
  g_assert_cmpuint (mask_at (canvas, 36, 20), ==, 0);
}

static void
test_canvas_eraser (void)
{
  g_autoptr (DiffuseCanvas) canvas = make_canvas (32, 32);

  diffuse_canvas_invert_mask (canvas); /* everything masked */
  g_assert_cmpint (count_nonzero (canvas), ==, 32 * 32);
  diffuse_canvas_set_brush_size (canvas, 6);
  diffuse_canvas_set_brush_softness (canvas, 0);

  /* The stylus's eraser end erases although the brush paints. */
  g_assert_false (diffuse_canvas_get_eraser (canvas));
  diffuse_canvas_stroke_begin (canvas, 4, 10, 1.0, TRUE);
  diffuse_canvas_stroke_to (canvas, 28, 10, 1.0);
  diffuse_canvas_stroke_end (canvas);
  g_assert_cmpuint (mask_at (canvas, 16, 10), ==, 0);
  g_assert_cmpuint (mask_at (canvas, 16, 20), ==, 255);

  /* The eraser tool erases with the mouse. */
  diffuse_canvas_set_eraser (canvas, TRUE);
  diffuse_canvas_stroke_begin (canvas, 4, 20, 1.0, FALSE);
  diffuse_canvas_stroke_to (canvas, 28, 20, 1.0);
  diffuse_canvas_stroke_end (canvas);
  g_assert_cmpuint (mask_at (canvas, 16, 20), ==, 0);
  g_assert_cmpuint (mask_at (canvas, 16, 30), ==, 255);

  /* Two strokes, two undos. */
  diffuse_canvas_undo (canvas);
  g_assert_cmpuint (mask_at (canvas, 16, 20), ==, 255);
  g_assert_cmpuint (mask_at (canvas, 16, 10), ==, 0);
  diffuse_canvas_undo (canvas);
  g_assert_cmpuint (mask_at (canvas, 16, 10), ==, 255);
}

static void
test_canvas_invert_clear (void)
{
  g_autoptr (DiffuseCanvas) canvas = make_canvas (16, 8);

  diffuse_canvas_set_brush_size (canvas, 4);
  diffuse_canvas_set_brush_softness (canvas, 0);
  diffuse_canvas_stroke_begin (canvas, 4, 4, 1.0, FALSE);
  diffuse_canvas_stroke_end (canvas);
  g_assert_cmpuint (mask_at (canvas, 4, 4), ==, 255);
  g_assert_cmpuint (mask_at (canvas, 12, 4), ==, 0);

  diffuse_canvas_invert_mask (canvas);
  g_assert_cmpuint (mask_at (canvas, 4, 4), ==, 0);
  g_assert_cmpuint (mask_at (canvas, 12, 4), ==, 255);

  diffuse_canvas_clear_mask (canvas);
  g_assert_false (diffuse_canvas_has_mask (canvas));

  diffuse_canvas_undo (canvas); /* the clear */
  g_assert_cmpuint (mask_at (canvas, 12, 4), ==, 255);
  diffuse_canvas_undo (canvas); /* the invert */
  g_assert_cmpuint (mask_at (canvas, 4, 4), ==, 255);
  g_assert_cmpuint (mask_at (canvas, 12, 4), ==, 0);

  /* A new init image starts a fresh mask and history. */
  {
    g_autoptr (DfImage) other = make_image (10, 10);

    diffuse_canvas_set_image (canvas, other);
    g_assert_false (diffuse_canvas_has_mask (canvas));
    g_assert_false (diffuse_canvas_can_undo (canvas));
  }
}

static void
test_canvas_extend (void)
{
  g_autoptr (DiffuseCanvas) canvas = make_canvas (8, 6);
  g_autoptr (GError) error = NULL;
  const DfImage *image;
  int width, height;

  diffuse_canvas_set_brush_size (canvas, 2);
  diffuse_canvas_set_brush_softness (canvas, 0);
  diffuse_canvas_stroke_begin (canvas, 5.5, 2.5, 1.0, FALSE); /* just pixel (5, 2) */
  diffuse_canvas_stroke_end (canvas);
  g_assert_cmpint (count_nonzero (canvas), ==, 1);

  g_assert_false (diffuse_canvas_extend (canvas, -1, 0, 0, 0, &error));
  g_assert_error (error, DF_ERROR, DF_ERROR_INVALID_ARGUMENT);
  g_clear_error (&error);

  g_assert_true (diffuse_canvas_extend (canvas, 2, 0, 4, 1, &error));
  g_assert_no_error (error);
  image = diffuse_canvas_get_image (canvas);
  g_assert_cmpint (image->width, ==, 14);
  g_assert_cmpint (image->height, ==, 7);
  diffuse_canvas_get_mask (canvas, &width, &height);
  g_assert_cmpint (width, ==, 14);
  g_assert_cmpint (height, ==, 7);

  /* The old picture moved right by 2; the border repeats its edge. */
  g_assert_cmpmem (df_image_pixel (image, 2 + 3, 4), 3,
                   ((guint8[]){ 3 * 7, 4 * 11, 7 }), 3);
  g_assert_cmpmem (df_image_pixel (image, 0, 0), 3, df_image_pixel (image, 2, 0), 3);
  g_assert_cmpmem (df_image_pixel (image, 13, 6), 3, df_image_pixel (image, 9, 5), 3);
  /* The border is masked, the old mask moved with the picture. */
  g_assert_cmpuint (mask_at (canvas, 0, 3), ==, 255);
  g_assert_cmpuint (mask_at (canvas, 10, 3), ==, 255);
  g_assert_cmpuint (mask_at (canvas, 5, 6), ==, 255);
  g_assert_cmpuint (mask_at (canvas, 2 + 5, 2), ==, 255);
  g_assert_cmpuint (mask_at (canvas, 2 + 4, 2), ==, 0);
  g_assert_cmpint (count_nonzero (canvas), ==, 14 * 7 - 8 * 6 + 1);

  diffuse_canvas_undo (canvas);
  image = diffuse_canvas_get_image (canvas);
  g_assert_cmpint (image->width, ==, 8);
  g_assert_cmpint (image->height, ==, 6);
  g_assert_cmpint (count_nonzero (canvas), ==, 1);
  g_assert_cmpuint (mask_at (canvas, 5, 2), ==, 255);
  diffuse_canvas_redo (canvas);
  g_assert_cmpint (diffuse_canvas_get_image (canvas)->width, ==, 14);
}

static void
test_canvas_brush_keys (void)
{
  g_autoptr (DiffuseCanvas) canvas = make_canvas (8, 8);
  double size;

  diffuse_canvas_set_brush_size (canvas, 40);
  g_assert_true (gtk_widget_activate_action (GTK_WIDGET (canvas), "canvas.brush-larger", NULL));
  size = diffuse_canvas_get_brush_size (canvas);
  g_assert_cmpfloat (size, >, 40);
  g_assert_true (gtk_widget_activate_action (GTK_WIDGET (canvas), "canvas.brush-smaller", NULL));
  g_assert_true (gtk_widget_activate_action (GTK_WIDGET (canvas), "canvas.brush-smaller", NULL));
  g_assert_cmpfloat (diffuse_canvas_get_brush_size (canvas), <, 40);
  diffuse_canvas_set_brush_size (canvas, 1e6);
  g_assert_cmpfloat (diffuse_canvas_get_brush_size (canvas), ==, DIFFUSE_BRUSH_SIZE_MAX);
}

static gboolean
iterate_until_allocated (GtkWidget *widget, int width)
{
  gint64 deadline = g_get_monotonic_time () + 10 * G_USEC_PER_SEC;

  while (gtk_widget_get_width (widget) != width && g_get_monotonic_time () < deadline)
    g_main_context_iteration (NULL, FALSE);
  return gtk_widget_get_width (widget) == width;
}

static void
test_canvas_fit (void)
{
  g_autoptr (DfImage) image = make_image (100, 50);
  GtkWidget *window = gtk_window_new ();
  GtkWidget *canvas = diffuse_canvas_new ();
  double ix, iy;

  diffuse_canvas_set_image (DIFFUSE_CANVAS (canvas), image);
  gtk_widget_set_size_request (canvas, 200, 200);
  gtk_window_set_child (GTK_WINDOW (window), canvas);
  gtk_window_set_decorated (GTK_WINDOW (window), FALSE);
  gtk_window_set_default_size (GTK_WINDOW (window), 200, 200);
  gtk_window_present (GTK_WINDOW (window));
  g_assert_true (iterate_until_allocated (canvas, 200));

  /* Fit: scale 2, the picture centred vertically (50 px above it). */
  diffuse_canvas_widget_to_image (DIFFUSE_CANVAS (canvas), 100, 100, &ix, &iy);
  g_assert_cmpfloat_with_epsilon (ix, 50.0, 1e-9);
  g_assert_cmpfloat_with_epsilon (iy, 25.0, 1e-9);
  diffuse_canvas_widget_to_image (DIFFUSE_CANVAS (canvas), 0, 50, &ix, &iy);
  g_assert_cmpfloat_with_epsilon (ix, 0.0, 1e-9);
  g_assert_cmpfloat_with_epsilon (iy, 0.0, 1e-9);

  /* A stroke in widget pixels lands on the scaled picture. */
  diffuse_canvas_set_brush_size (DIFFUSE_CANVAS (canvas), 4);
  diffuse_canvas_set_brush_softness (DIFFUSE_CANVAS (canvas), 0);
  diffuse_canvas_stroke_begin (DIFFUSE_CANVAS (canvas), 21, 51, 1.0, FALSE); /* pixel (10, 0) */
  diffuse_canvas_stroke_end (DIFFUSE_CANVAS (canvas));
  g_assert_cmpuint (mask_at (DIFFUSE_CANVAS (canvas), 10, 0), ==, 255);
  g_assert_cmpuint (mask_at (DIFFUSE_CANVAS (canvas), 14, 0), ==, 0);

  /* 1:1 asks for the picture's own size and centres it unscaled. */
  diffuse_canvas_set_zoom (DIFFUSE_CANVAS (canvas), 1.0);
  gtk_widget_set_size_request (canvas, -1, -1);
  {
    int minimum, natural;

    gtk_widget_measure (canvas, GTK_ORIENTATION_HORIZONTAL, -1, &minimum, &natural, NULL, NULL);
    g_assert_cmpint (minimum, ==, 100);
    gtk_widget_measure (canvas, GTK_ORIENTATION_VERTICAL, -1, &minimum, &natural, NULL, NULL);
    g_assert_cmpint (minimum, ==, 50);
  }
  diffuse_canvas_widget_to_image (DIFFUSE_CANVAS (canvas), 30 + (gtk_widget_get_width (canvas) - 100) / 2,
                                  20 + (gtk_widget_get_height (canvas) - 50) / 2, &ix, &iy);
  g_assert_cmpfloat_with_epsilon (ix, 30.0, 1e-9);
  g_assert_cmpfloat_with_epsilon (iy, 20.0, 1e-9);

  gtk_window_destroy (GTK_WINDOW (window));
}

int
main (int argc, char **argv)
{
  gtk_test_init (&argc, &argv, NULL);
  g_test_add_func ("/canvas/stroke-undo", test_canvas_stroke_undo);
  g_test_add_func ("/canvas/pressure", test_canvas_pressure);
  g_test_add_func ("/canvas/softness", test_canvas_softness);
  g_test_add_func ("/canvas/eraser", test_canvas_eraser);
  g_test_add_func ("/canvas/invert-clear", test_canvas_invert_clear);
  g_test_add_func ("/canvas/extend", test_canvas_extend);
  g_test_add_func ("/canvas/brush-keys", test_canvas_brush_keys);
  g_test_add_func ("/canvas/fit", test_canvas_fit);
  return g_test_run ();
}
