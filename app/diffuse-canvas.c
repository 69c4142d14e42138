/* diffuse-canvas.c — the picture area and the mask painter.
 *
 * The mask is one byte per pixel of the init image.  A stroke lays round
 * dabs a quarter of the radius apart along the pointer's path; each dab
 * raises the mask to the dab's value (paint) or lowers it (erase), so
 * dabs overlapping within a stroke never build up beyond the brush
 * opacity.  Every stroke, clear, invert and extend first saves the mask
 * (and, for extend, the image) on the undo stack. */
#include "config.h"

#include <glib/gi18n.h>
#include <math.h>
#include <string.h>

#include "diffuse-canvas.h"
#include "diffuse-texture.h"

/* How many steps undo remembers. */
#define UNDO_LIMIT 32
/* The brush grows and shrinks by this factor per [ or ]. */
#define BRUSH_STEP 1.25
/* The mask overlay colour (a red that reads on photos) and its opacity. */
#define OVERLAY_R 0.93
#define OVERLAY_G 0.20
#define OVERLAY_B 0.32
#define OVERLAY_ALPHA 0.55

typedef struct
{
  guint8 *mask;  /* w · h */
  int width, height;
  DfImage *image; /* NULL when the step did not change the image */
} UndoStep;

struct _DiffuseCanvas
{
  GtkWidget parent_instance;

  /* owned */
  DfImage *image;          /* the init image, or NULL */
  DfImage *preview;        /* shown instead of the image, or NULL */
  guint8 *mask;            /* image->width · image->height, or NULL */
  GdkTexture *image_texture;   /* made on demand */
  GdkTexture *preview_texture; /* made on demand */
  GdkTexture *mask_texture;    /* made on demand */
  GPtrArray *undo;         /* UndoStep*, oldest first */
  GPtrArray *redo;         /* UndoStep*, the next redo last */

  double zoom;
  double brush_size;
  double brush_softness;
  gboolean eraser;
  gboolean show_mask;
  DiffusePressureTarget pressure_target;

  /* the stroke in progress */
  gboolean stroking;
  gboolean stroke_erases;
  double last_x, last_y; /* image pixels */
  double last_pressure;
};

G_DEFINE_FINAL_TYPE (DiffuseCanvas, diffuse_canvas, GTK_TYPE_WIDGET)

enum
{
  PROP_0,
  PROP_ZOOM,
  PROP_BRUSH_SIZE,
  PROP_BRUSH_SOFTNESS,
  PROP_ERASER,
  PROP_SHOW_MASK,
  PROP_HAS_IMAGE,
  PROP_HAS_MASK,
  PROP_CAN_UNDO,
  PROP_CAN_REDO,
  N_PROPS
};

static GParamSpec *properties[N_PROPS];

static void
undo_step_free (gpointer data)
{
  UndoStep *step = data;

  g_free (step->mask);
  df_image_free (step->image);
  g_free (step);
}

/* The overlay: the mask colour with the mask as alpha, premultiplied. */
static GdkTexture *
texture_from_mask (const guint8 *mask, int width, int height)
{
  size_t n = (size_t) width * (size_t) height;
  guint8 *rgba = g_malloc (n * 4);
  g_autoptr (GBytes) bytes = NULL;

  for (size_t i = 0; i < n; i++)
    {
      double a = OVERLAY_ALPHA * mask[i] / 255.0;

      rgba[4 * i + 0] = (guint8) lround (255.0 * OVERLAY_R * a);
      rgba[4 * i + 1] = (guint8) lround (255.0 * OVERLAY_G * a);
      rgba[4 * i + 2] = (guint8) lround (255.0 * OVERLAY_B * a);
      rgba[4 * i + 3] = (guint8) lround (255.0 * a);
    }
  bytes = g_bytes_new_take (rgba, n * 4);
  return gdk_memory_texture_new (width, height, GDK_MEMORY_R8G8B8A8_PREMULTIPLIED, bytes,
                                 (gsize) width * 4);
}

static const DfImage *
shown_image (DiffuseCanvas *self)
{
  return self->preview != NULL ? self->preview : self->image;
}

/* Scale and top-left offset of the shown picture in widget pixels. */
static void
get_transform (DiffuseCanvas *self, const DfImage *image, double *scale, double *ox,
               double *oy)
{
  double w = gtk_widget_get_width (GTK_WIDGET (self));
  double h = gtk_widget_get_height (GTK_WIDGET (self));
  double s = self->zoom;

  /* Not allocated yet (or in a test without a window): image pixels. */
  if (image == NULL || w <= 0 || h <= 0)
    {
      *scale = s > 0.0 ? s : 1.0;
      *ox = *oy = 0.0;
      return;
    }
  if (s <= 0.0)
    s = MIN (w / image->width, h / image->height);
  if (s <= 0.0)
    s = 1.0;
  *scale = s;
  *ox = floor ((w - image->width * s) / 2.0);
  *oy = floor ((h - image->height * s) / 2.0);
}

void
diffuse_canvas_widget_to_image (DiffuseCanvas *self, double x, double y, double *ix, double *iy)
{
  double scale, ox, oy;

  g_return_if_fail (DIFFUSE_IS_CANVAS (self));
  get_transform (self, self->image, &scale, &ox, &oy);
  *ix = (x - ox) / scale;
  *iy = (y - oy) / scale;
}

static void
diffuse_canvas_snapshot (GtkWidget *widget, GtkSnapshot *snapshot)
{
  DiffuseCanvas *self = DIFFUSE_CANVAS (widget);
  const DfImage *image = shown_image (self);
  GdkTexture **texture;
  graphene_rect_t bounds;
  double scale, ox, oy;

  if (image == NULL)
    return;
  get_transform (self, image, &scale, &ox, &oy);
  bounds = GRAPHENE_RECT_INIT (ox, oy, image->width * scale, image->height * scale);

  texture = self->preview != NULL ? &self->preview_texture : &self->image_texture;
  if (*texture == NULL)
    *texture = diffuse_texture_new_for_image (image);
  gtk_snapshot_append_texture (snapshot, *texture, &bounds);

  if (self->preview == NULL && self->mask != NULL && self->show_mask)
    {
      if (self->mask_texture == NULL)
        self->mask_texture = texture_from_mask (self->mask, self->image->width,
                                                self->image->height);
      gtk_snapshot_append_texture (snapshot, self->mask_texture, &bounds);
    }
}

static void
diffuse_canvas_measure (GtkWidget *widget, GtkOrientation orientation, int for_size,
                        int *minimum, int *natural, int *minimum_baseline,
                        int *natural_baseline)
{
  DiffuseCanvas *self = DIFFUSE_CANVAS (widget);
  const DfImage *image = shown_image (self);

  if (self->zoom > 0.0 && image != NULL)
    {
      int extent = orientation == GTK_ORIENTATION_HORIZONTAL ? image->width : image->height;

      *minimum = *natural = (int) ceil (extent * self->zoom);
    }
  else
    {
      *minimum = 16;
      *natural = 256;
    }
}

/* --- undo ------------------------------------------------------------------- */

static void
notify_history (DiffuseCanvas *self)
{
  g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_CAN_UNDO]);
  g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_CAN_REDO]);
  g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_HAS_MASK]);
}

static UndoStep *
save_state (DiffuseCanvas *self, gboolean with_image)
{
  UndoStep *step = g_new0 (UndoStep, 1);

  step->width = self->image->width;
  step->height = self->image->height;
  step->mask = g_memdup2 (self->mask, (gsize) step->width * (gsize) step->height);
  if (with_image)
    step->image = df_image_copy (self->image, NULL);
  return step;
}

/* Before a change: remembers the state and forgets what could be redone. */
static void
push_undo (DiffuseCanvas *self, gboolean with_image)
{
  g_ptr_array_add (self->undo, save_state (self, with_image));
  if (self->undo->len > UNDO_LIMIT)
    g_ptr_array_remove_index (self->undo, 0);
  g_ptr_array_set_size (self->redo, 0);
  notify_history (self);
}

static void
invalidate_mask (DiffuseCanvas *self)
{
  g_clear_object (&self->mask_texture);
  gtk_widget_queue_draw (GTK_WIDGET (self));
}

static void
invalidate_image (DiffuseCanvas *self)
{
  g_clear_object (&self->image_texture);
  g_clear_object (&self->mask_texture);
  gtk_widget_queue_resize (GTK_WIDGET (self));
}

/* Moves the top of @from to the current state, and the current state to
 * @to. */
static void
swap_state (DiffuseCanvas *self, GPtrArray *from, GPtrArray *to)
{
  UndoStep *step;
  UndoStep *current;

  if (self->image == NULL || from->len == 0)
    return;
  step = g_ptr_array_steal_index (from, from->len - 1);
  current = save_state (self, FALSE);
  if (step->image != NULL)
    {
      current->image = g_steal_pointer (&self->image);
      self->image = g_steal_pointer (&step->image);
      invalidate_image (self);
    }
  g_free (self->mask);
  self->mask = g_steal_pointer (&step->mask);
  undo_step_free (step);
  g_ptr_array_add (to, current);
  invalidate_mask (self);
  notify_history (self);
}

void
diffuse_canvas_undo (DiffuseCanvas *self)
{
  g_return_if_fail (DIFFUSE_IS_CANVAS (self));
  swap_state (self, self->undo, self->redo);
}

void
diffuse_canvas_redo (DiffuseCanvas *self)
{
  g_return_if_fail (DIFFUSE_IS_CANVAS (self));
  swap_state (self, self->redo, self->undo);
}

gboolean
diffuse_canvas_can_undo (DiffuseCanvas *self)
{
  g_return_val_if_fail (DIFFUSE_IS_CANVAS (self), FALSE);
  return self->undo->len > 0;
}

gboolean
diffuse_canvas_can_redo (DiffuseCanvas *self)
{
  g_return_val_if_fail (DIFFUSE_IS_CANVAS (self), FALSE);
  return self->redo->len > 0;
}

/* --- painting --------------------------------------------------------------- */

/* One round dab at (cx, cy) in image pixels: full strength inside
 * radius · (1 − softness), fading smoothly to nothing at the radius. */
static void
dab (DiffuseCanvas *self, double cx, double cy, double radius, double opacity, gboolean erase)
{
  int w = self->image->width, h = self->image->height;
  double inner = radius * (1.0 - self->brush_softness);
  int x0 = MAX (0, (int) floor (cx - radius));
  int x1 = MIN (w - 1, (int) ceil (cx + radius));
  int y0 = MAX (0, (int) floor (cy - radius));
  int y1 = MIN (h - 1, (int) ceil (cy + radius));

  for (int y = y0; y <= y1; y++)
    for (int x = x0; x <= x1; x++)
      {
        double dx = x + 0.5 - cx, dy = y + 0.5 - cy;
        double d = sqrt (dx * dx + dy * dy);
        double coverage;
        guint8 value;
        guint8 *m = &self->mask[(size_t) y * (size_t) w + (size_t) x];

        if (d >= radius)
          continue;
        if (d <= inner)
          coverage = 1.0;
        else
          {
            double t = (radius - d) / (radius - inner);

            coverage = t * t * (3.0 - 2.0 * t);
          }
        value = (guint8) lround (255.0 * CLAMP (coverage * opacity, 0.0, 1.0));
        if (erase)
          *m = MIN (*m, 255 - value);
        else
          *m = MAX (*m, value);
      }
}

static void
dab_with_pressure (DiffuseCanvas *self, double x, double y, double pressure)
{
  double radius = self->brush_size / 2.0;
  double opacity = 1.0;

  pressure = CLAMP (pressure, 0.0, 1.0);
  if (self->pressure_target == DIFFUSE_PRESSURE_SIZE)
    radius *= pressure;
  else if (self->pressure_target == DIFFUSE_PRESSURE_OPACITY)
    opacity = pressure;
  radius = MAX (radius, 0.5);
  dab (self, x, y, radius, opacity, self->stroke_erases);
}

void
diffuse_canvas_stroke_begin (DiffuseCanvas *self, double x, double y, double pressure,
                             gboolean eraser)
{
  g_return_if_fail (DIFFUSE_IS_CANVAS (self));

  if (self->image == NULL)
    return;
  /* Painting shows the init image and its mask again. */
  diffuse_canvas_set_preview (self, NULL);
  if (!self->show_mask)
    diffuse_canvas_set_show_mask (self, TRUE);
  push_undo (self, FALSE);
  self->stroking = TRUE;
  self->stroke_erases = eraser || self->eraser;
  diffuse_canvas_widget_to_image (self, x, y, &self->last_x, &self->last_y);
  self->last_pressure = pressure;
  dab_with_pressure (self, self->last_x, self->last_y, pressure);
  invalidate_mask (self);
}

void
diffuse_canvas_stroke_to (DiffuseCanvas *self, double x, double y, double pressure)
{
  double ix, iy, dist, spacing;
  int n;

  g_return_if_fail (DIFFUSE_IS_CANVAS (self));

  if (!self->stroking)
    return;
  diffuse_canvas_widget_to_image (self, x, y, &ix, &iy);
  dist = hypot (ix - self->last_x, iy - self->last_y);
  spacing = MAX (0.5, self->brush_size / 8.0);
  n = MAX (1, (int) ceil (dist / spacing));
  for (int i = 1; i <= n; i++)
    {
      double t = (double) i / n;

      dab_with_pressure (self, self->last_x + t * (ix - self->last_x),
                         self->last_y + t * (iy - self->last_y),
                         self->last_pressure + t * (pressure - self->last_pressure));
    }
  self->last_x = ix;
  self->last_y = iy;
  self->last_pressure = pressure;
  invalidate_mask (self);
}

void
diffuse_canvas_stroke_end (DiffuseCanvas *self)
{
  g_return_if_fail (DIFFUSE_IS_CANVAS (self));

  if (!self->stroking)
    return;
  self->stroking = FALSE;
  g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_HAS_MASK]);
}

/* --- gestures --------------------------------------------------------------- */

static void
drag_begin (GtkGestureDrag *gesture, double x, double y, DiffuseCanvas *self)
{
  GdkDevice *device = gtk_gesture_get_device (GTK_GESTURE (gesture));

  /* A pen is the stylus gesture's, with its pressure. */
  if (self->image == NULL
      || (device != NULL && gdk_device_get_source (device) == GDK_SOURCE_PEN))
    {
      gtk_gesture_set_state (GTK_GESTURE (gesture), GTK_EVENT_SEQUENCE_DENIED);
      return;
    }
  gtk_widget_grab_focus (GTK_WIDGET (self));
  diffuse_canvas_stroke_begin (self, x, y, 1.0, FALSE);
}

static void
drag_update (GtkGestureDrag *gesture, double dx, double dy, DiffuseCanvas *self)
{
  double x, y;

  if (gtk_gesture_drag_get_start_point (gesture, &x, &y))
    diffuse_canvas_stroke_to (self, x + dx, y + dy, 1.0);
}

static void
drag_end (GtkGestureDrag *gesture, double dx, double dy, DiffuseCanvas *self)
{
  diffuse_canvas_stroke_end (self);
}

static double
stylus_pressure (GtkGestureStylus *gesture)
{
  double pressure;

  if (!gtk_gesture_stylus_get_axis (gesture, GDK_AXIS_PRESSURE, &pressure))
    return 1.0;
  return pressure;
}

static void
stylus_down (GtkGestureStylus *gesture, double x, double y, DiffuseCanvas *self)
{
  GdkDeviceTool *tool = gtk_gesture_stylus_get_device_tool (gesture);
  gboolean eraser = tool != NULL && gdk_device_tool_get_tool_type (tool) == GDK_DEVICE_TOOL_TYPE_ERASER;

  if (self->image == NULL)
    return;
  gtk_widget_grab_focus (GTK_WIDGET (self));
  diffuse_canvas_stroke_begin (self, x, y, stylus_pressure (gesture), eraser);
}

static void
stylus_motion (GtkGestureStylus *gesture, double x, double y, DiffuseCanvas *self)
{
  diffuse_canvas_stroke_to (self, x, y, stylus_pressure (gesture));
}

static void
stylus_up (GtkGestureStylus *gesture, double x, double y, DiffuseCanvas *self)
{
  diffuse_canvas_stroke_end (self);
}

/* --- the mask --------------------------------------------------------------- */

const guint8 *
diffuse_canvas_get_mask (DiffuseCanvas *self, int *width, int *height)
{
  g_return_val_if_fail (DIFFUSE_IS_CANVAS (self), NULL);

  if (width != NULL)
    *width = self->image != NULL ? self->image->width : 0;
  if (height != NULL)
    *height = self->image != NULL ? self->image->height : 0;
  return self->mask;
}

gboolean
diffuse_canvas_has_mask (DiffuseCanvas *self)
{
  size_t n;

  g_return_val_if_fail (DIFFUSE_IS_CANVAS (self), FALSE);

  if (self->mask == NULL)
    return FALSE;
  n = (size_t) self->image->width * (size_t) self->image->height;
  for (size_t i = 0; i < n; i++)
    if (self->mask[i] != 0)
      return TRUE;
  return FALSE;
}

DfImage *
diffuse_canvas_get_mask_image (DiffuseCanvas *self)
{
  DfImage *out;

  g_return_val_if_fail (DIFFUSE_IS_CANVAS (self), NULL);

  if (!diffuse_canvas_has_mask (self))
    return NULL;
  out = df_image_new (self->image->width, self->image->height, 3, NULL);
  if (out == NULL)
    return NULL;
  for (int y = 0; y < out->height; y++)
    for (int x = 0; x < out->width; x++)
      {
        guint8 *p = df_image_pixel (out, x, y);

        p[0] = p[1] = p[2] = self->mask[(size_t) y * (size_t) out->width + (size_t) x];
      }
  return out;
}

void
diffuse_canvas_clear_mask (DiffuseCanvas *self)
{
  g_return_if_fail (DIFFUSE_IS_CANVAS (self));

  if (!diffuse_canvas_has_mask (self))
    return;
  push_undo (self, FALSE);
  memset (self->mask, 0, (size_t) self->image->width * (size_t) self->image->height);
  invalidate_mask (self);
  g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_HAS_MASK]);
}

void
diffuse_canvas_invert_mask (DiffuseCanvas *self)
{
  size_t n;

  g_return_if_fail (DIFFUSE_IS_CANVAS (self));

  if (self->image == NULL)
    return;
  push_undo (self, FALSE);
  n = (size_t) self->image->width * (size_t) self->image->height;
  for (size_t i = 0; i < n; i++)
    self->mask[i] = 255 - self->mask[i];
  invalidate_mask (self);
  g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_HAS_MASK]);
}

gboolean
diffuse_canvas_extend (DiffuseCanvas *self, int left, int top, int right, int bottom,
                       GError **error)
{
  g_autoptr (DfImage) grown = NULL;
  guint8 *mask;
  int w, h;

  g_return_val_if_fail (DIFFUSE_IS_CANVAS (self), FALSE);

  if (self->image == NULL)
    {
      g_set_error (error, DF_ERROR, DF_ERROR_INVALID_ARGUMENT, "there is no image to extend");
      return FALSE;
    }
  if (left < 0 || top < 0 || right < 0 || bottom < 0)
    {
      g_set_error (error, DF_ERROR, DF_ERROR_INVALID_ARGUMENT,
                   "cannot shrink the canvas (%d, %d, %d, %d)", left, top, right, bottom);
      return FALSE;
    }
  w = self->image->width + left + right;
  h = self->image->height + top + bottom;
  grown = df_image_new (w, h, self->image->channels, error);
  if (grown == NULL)
    return FALSE;

  /* The border repeats the nearest edge pixel, a better start for
   * inpainting than a flat colour; the mask marks it for repainting. */
  mask = g_malloc ((size_t) w * (size_t) h);
  for (int y = 0; y < h; y++)
    for (int x = 0; x < w; x++)
      {
        int sx = CLAMP (x - left, 0, self->image->width - 1);
        int sy = CLAMP (y - top, 0, self->image->height - 1);
        gboolean inside = x >= left && x < left + self->image->width && y >= top
                          && y < top + self->image->height;

        memcpy (df_image_pixel (grown, x, y), df_image_pixel (self->image, sx, sy),
                (size_t) self->image->channels);
        mask[(size_t) y * (size_t) w + (size_t) x] =
            inside ? self->mask[(size_t) sy * (size_t) self->image->width + (size_t) sx] : 255;
      }

  push_undo (self, TRUE);
  df_image_free (self->image);
  self->image = g_steal_pointer (&grown);
  g_free (self->mask);
  self->mask = mask;
  invalidate_image (self);
  g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_HAS_MASK]);
  return TRUE;
}

/* --- images ------------------------------------------------------------------ */

void
diffuse_canvas_set_image (DiffuseCanvas *self, const DfImage *image)
{
  g_autoptr (GError) error = NULL;

  g_return_if_fail (DIFFUSE_IS_CANVAS (self));

  g_clear_pointer (&self->image, df_image_free);
  g_clear_pointer (&self->mask, g_free);
  if (image != NULL)
    {
      self->image = df_image_copy (image, &error);
      if (self->image == NULL)
        g_warning ("Cannot keep the init image: %s", error->message);
      else
        self->mask = g_malloc0 ((size_t) image->width * (size_t) image->height);
    }
  self->stroking = FALSE;
  g_ptr_array_set_size (self->undo, 0);
  g_ptr_array_set_size (self->redo, 0);
  diffuse_canvas_set_preview (self, NULL);
  invalidate_image (self);
  notify_history (self);
  g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_HAS_IMAGE]);
}

const DfImage *
diffuse_canvas_get_image (DiffuseCanvas *self)
{
  g_return_val_if_fail (DIFFUSE_IS_CANVAS (self), NULL);
  return self->image;
}

void
diffuse_canvas_set_preview (DiffuseCanvas *self, const DfImage *preview)
{
  g_return_if_fail (DIFFUSE_IS_CANVAS (self));

  if (preview == NULL && self->preview == NULL)
    return;
  g_clear_pointer (&self->preview, df_image_free);
  g_clear_object (&self->preview_texture);
  if (preview != NULL)
    self->preview = df_image_copy (preview, NULL);
  gtk_widget_queue_resize (GTK_WIDGET (self));
}

gboolean
diffuse_canvas_has_preview (DiffuseCanvas *self)
{
  g_return_val_if_fail (DIFFUSE_IS_CANVAS (self), FALSE);
  return self->preview != NULL;
}

/* --- settings ------------------------------------------------------------------ */

void
diffuse_canvas_set_zoom (DiffuseCanvas *self, double zoom)
{
  g_return_if_fail (DIFFUSE_IS_CANVAS (self));

  zoom = CLAMP (zoom, 0.0, 16.0);
  if (zoom == self->zoom)
    return;
  self->zoom = zoom;
  gtk_widget_queue_resize (GTK_WIDGET (self));
  g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_ZOOM]);
}

double
diffuse_canvas_get_zoom (DiffuseCanvas *self)
{
  g_return_val_if_fail (DIFFUSE_IS_CANVAS (self), 0.0);
  return self->zoom;
}

void
diffuse_canvas_set_brush_size (DiffuseCanvas *self, double diameter)
{
  g_return_if_fail (DIFFUSE_IS_CANVAS (self));

  diameter = CLAMP (diameter, DIFFUSE_BRUSH_SIZE_MIN, DIFFUSE_BRUSH_SIZE_MAX);
  if (diameter == self->brush_size)
    return;
  self->brush_size = diameter;
  g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_BRUSH_SIZE]);
}

double
diffuse_canvas_get_brush_size (DiffuseCanvas *self)
{
  g_return_val_if_fail (DIFFUSE_IS_CANVAS (self), 0.0);
  return self->brush_size;
}

void
diffuse_canvas_set_brush_softness (DiffuseCanvas *self, double softness)
{
  g_return_if_fail (DIFFUSE_IS_CANVAS (self));

  softness = CLAMP (softness, 0.0, 1.0);
  if (softness == self->brush_softness)
    return;
  self->brush_softness = softness;
  g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_BRUSH_SOFTNESS]);
}

double
diffuse_canvas_get_brush_softness (DiffuseCanvas *self)
{
  g_return_val_if_fail (DIFFUSE_IS_CANVAS (self), 0.0);
  return self->brush_softness;
}

void
diffuse_canvas_set_eraser (DiffuseCanvas *self, gboolean eraser)
{
  g_return_if_fail (DIFFUSE_IS_CANVAS (self));

  eraser = !!eraser;
  if (eraser == self->eraser)
    return;
  self->eraser = eraser;
  g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_ERASER]);
}

gboolean
diffuse_canvas_get_eraser (DiffuseCanvas *self)
{
  g_return_val_if_fail (DIFFUSE_IS_CANVAS (self), FALSE);
  return self->eraser;
}

void
diffuse_canvas_set_pressure_target (DiffuseCanvas *self, DiffusePressureTarget target)
{
  g_return_if_fail (DIFFUSE_IS_CANVAS (self));
  self->pressure_target = target;
}

void
diffuse_canvas_set_show_mask (DiffuseCanvas *self, gboolean show)
{
  g_return_if_fail (DIFFUSE_IS_CANVAS (self));

  show = !!show;
  if (show == self->show_mask)
    return;
  self->show_mask = show;
  gtk_widget_queue_draw (GTK_WIDGET (self));
  g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_SHOW_MASK]);
}

gboolean
diffuse_canvas_get_show_mask (DiffuseCanvas *self)
{
  g_return_val_if_fail (DIFFUSE_IS_CANVAS (self), FALSE);
  return self->show_mask;
}

/* --- keyboard actions --------------------------------------------------------- */

static void
brush_larger (GtkWidget *widget, const char *action_name, GVariant *parameter)
{
  DiffuseCanvas *self = DIFFUSE_CANVAS (widget);

  diffuse_canvas_set_brush_size (self, ceil (self->brush_size * BRUSH_STEP));
}

static void
brush_smaller (GtkWidget *widget, const char *action_name, GVariant *parameter)
{
  DiffuseCanvas *self = DIFFUSE_CANVAS (widget);

  diffuse_canvas_set_brush_size (self, floor (self->brush_size / BRUSH_STEP));
}

static void
undo_action (GtkWidget *widget, const char *action_name, GVariant *parameter)
{
  diffuse_canvas_undo (DIFFUSE_CANVAS (widget));
}

static void
redo_action (GtkWidget *widget, const char *action_name, GVariant *parameter)
{
  diffuse_canvas_redo (DIFFUSE_CANVAS (widget));
}

/* --- GObject ------------------------------------------------------------------ */

static void
diffuse_canvas_get_property (GObject *object, guint prop_id, GValue *value, GParamSpec *pspec)
{
  DiffuseCanvas *self = DIFFUSE_CANVAS (object);

  switch (prop_id)
    {
    case PROP_ZOOM:
      g_value_set_double (value, self->zoom);
      break;
    case PROP_BRUSH_SIZE:
      g_value_set_double (value, self->brush_size);
      break;
    case PROP_BRUSH_SOFTNESS:
      g_value_set_double (value, self->brush_softness);
      break;
    case PROP_ERASER:
      g_value_set_boolean (value, self->eraser);
      break;
    case PROP_SHOW_MASK:
      g_value_set_boolean (value, self->show_mask);
      break;
    case PROP_HAS_IMAGE:
      g_value_set_boolean (value, self->image != NULL);
      break;
    case PROP_HAS_MASK:
      g_value_set_boolean (value, diffuse_canvas_has_mask (self));
      break;
    case PROP_CAN_UNDO:
      g_value_set_boolean (value, diffuse_canvas_can_undo (self));
      break;
    case PROP_CAN_REDO:
      g_value_set_boolean (value, diffuse_canvas_can_redo (self));
      break;
    default:
      G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
    }
}

static void
diffuse_canvas_set_property (GObject *object, guint prop_id, const GValue *value,
                             GParamSpec *pspec)
{
  DiffuseCanvas *self = DIFFUSE_CANVAS (object);

  switch (prop_id)
    {
    case PROP_ZOOM:
      diffuse_canvas_set_zoom (self, g_value_get_double (value));
      break;
    case PROP_BRUSH_SIZE:
      diffuse_canvas_set_brush_size (self, g_value_get_double (value));
      break;
    case PROP_BRUSH_SOFTNESS:
      diffuse_canvas_set_brush_softness (self, g_value_get_double (value));
      break;
    case PROP_ERASER:
      diffuse_canvas_set_eraser (self, g_value_get_boolean (value));
      break;
    case PROP_SHOW_MASK:
      diffuse_canvas_set_show_mask (self, g_value_get_boolean (value));
      break;
    default:
      G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
    }
}

static void
diffuse_canvas_finalize (GObject *object)
{
  DiffuseCanvas *self = DIFFUSE_CANVAS (object);

  g_clear_pointer (&self->image, df_image_free);
  g_clear_pointer (&self->preview, df_image_free);
  g_clear_pointer (&self->mask, g_free);
  g_clear_object (&self->image_texture);
  g_clear_object (&self->preview_texture);
  g_clear_object (&self->mask_texture);
  g_clear_pointer (&self->undo, g_ptr_array_unref);
  g_clear_pointer (&self->redo, g_ptr_array_unref);
  G_OBJECT_CLASS (diffuse_canvas_parent_class)->finalize (object);
}

static void
diffuse_canvas_class_init (DiffuseCanvasClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);
  GtkWidgetClass *widget_class = GTK_WIDGET_CLASS (klass);
  GParamFlags rw = G_PARAM_READWRITE | G_PARAM_EXPLICIT_NOTIFY | G_PARAM_STATIC_STRINGS;
  GParamFlags ro = G_PARAM_READABLE | G_PARAM_STATIC_STRINGS;

  object_class->get_property = diffuse_canvas_get_property;
  object_class->set_property = diffuse_canvas_set_property;
  object_class->finalize = diffuse_canvas_finalize;
  widget_class->snapshot = diffuse_canvas_snapshot;
  widget_class->measure = diffuse_canvas_measure;

  properties[PROP_ZOOM] = g_param_spec_double ("zoom", NULL, NULL, 0.0, 16.0, 0.0, rw);
  properties[PROP_BRUSH_SIZE] =
      g_param_spec_double ("brush-size", NULL, NULL, DIFFUSE_BRUSH_SIZE_MIN,
                           DIFFUSE_BRUSH_SIZE_MAX, 48.0, rw);
  properties[PROP_BRUSH_SOFTNESS] =
      g_param_spec_double ("brush-softness", NULL, NULL, 0.0, 1.0, 0.3, rw);
  properties[PROP_ERASER] = g_param_spec_boolean ("eraser", NULL, NULL, FALSE, rw);
  properties[PROP_SHOW_MASK] = g_param_spec_boolean ("show-mask", NULL, NULL, TRUE, rw);
  properties[PROP_HAS_IMAGE] = g_param_spec_boolean ("has-image", NULL, NULL, FALSE, ro);
  properties[PROP_HAS_MASK] = g_param_spec_boolean ("has-mask", NULL, NULL, FALSE, ro);
  properties[PROP_CAN_UNDO] = g_param_spec_boolean ("can-undo", NULL, NULL, FALSE, ro);
  properties[PROP_CAN_REDO] = g_param_spec_boolean ("can-redo", NULL, NULL, FALSE, ro);
  g_object_class_install_properties (object_class, N_PROPS, properties);

  gtk_widget_class_install_action (widget_class, "canvas.brush-larger", NULL, brush_larger);
  gtk_widget_class_install_action (widget_class, "canvas.brush-smaller", NULL, brush_smaller);
  gtk_widget_class_install_action (widget_class, "canvas.undo", NULL, undo_action);
  gtk_widget_class_install_action (widget_class, "canvas.redo", NULL, redo_action);
  gtk_widget_class_add_binding_action (widget_class, GDK_KEY_bracketright, 0,
                                       "canvas.brush-larger", NULL);
  gtk_widget_class_add_binding_action (widget_class, GDK_KEY_bracketleft, 0,
                                       "canvas.brush-smaller", NULL);
  gtk_widget_class_add_binding_action (widget_class, GDK_KEY_z, GDK_CONTROL_MASK, "canvas.undo",
                                       NULL);
  gtk_widget_class_add_binding_action (widget_class, GDK_KEY_z,
                                       GDK_CONTROL_MASK | GDK_SHIFT_MASK, "canvas.redo", NULL);
  gtk_widget_class_add_binding_action (widget_class, GDK_KEY_Z,
                                       GDK_CONTROL_MASK | GDK_SHIFT_MASK, "canvas.redo", NULL);

  gtk_widget_class_set_css_name (widget_class, "diffuse-canvas");
  gtk_widget_class_set_accessible_role (widget_class, GTK_ACCESSIBLE_ROLE_IMG);
}

static void
diffuse_canvas_init (DiffuseCanvas *self)
{
  GtkGesture *drag, *stylus;

  self->brush_size = 48.0;
  self->brush_softness = 0.3;
  self->show_mask = TRUE;
  self->pressure_target = DIFFUSE_PRESSURE_SIZE;
  self->undo = g_ptr_array_new_with_free_func (undo_step_free);
  self->redo = g_ptr_array_new_with_free_func (undo_step_free);

  gtk_widget_set_focusable (GTK_WIDGET (self), TRUE);
  gtk_widget_set_overflow (GTK_WIDGET (self), GTK_OVERFLOW_HIDDEN);
  gtk_accessible_update_property (GTK_ACCESSIBLE (self), GTK_ACCESSIBLE_PROPERTY_LABEL,
                                  _("Picture and mask"), -1);

  /* The stylus gesture sees tablets (with pressure and the eraser end);
   * the drag gesture sees the mouse and touch. */
  stylus = gtk_gesture_stylus_new ();
  g_signal_connect (stylus, "down", G_CALLBACK (stylus_down), self);
  g_signal_connect (stylus, "motion", G_CALLBACK (stylus_motion), self);
  g_signal_connect (stylus, "up", G_CALLBACK (stylus_up), self);
  gtk_widget_add_controller (GTK_WIDGET (self), GTK_EVENT_CONTROLLER (stylus));

  drag = gtk_gesture_drag_new ();
  gtk_gesture_single_set_button (GTK_GESTURE_SINGLE (drag), GDK_BUTTON_PRIMARY);
  g_signal_connect (drag, "drag-begin", G_CALLBACK (drag_begin), self);
  g_signal_connect (drag, "drag-update", G_CALLBACK (drag_update), self);
  g_signal_connect (drag, "drag-end", G_CALLBACK (drag_end), self);
  gtk_widget_add_controller (GTK_WIDGET (self), GTK_EVENT_CONTROLLER (drag));
}

GtkWidget *
diffuse_canvas_new (void)
{
  return g_object_new (DIFFUSE_TYPE_CANVAS, NULL);
}
