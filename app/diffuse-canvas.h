/* diffuse-canvas.h — the picture area: shows the init image, the live
 * preview and the result, zoomed to fit or at 1:1, and paints the
 * inpainting mask over the init image with a brush and an eraser, mouse or
 * tablet (pressure on size or opacity), with undo and redo. */
#pragma once

#include <gtk/gtk.h>

#include "df.h"

G_BEGIN_DECLS

#define DIFFUSE_TYPE_CANVAS (diffuse_canvas_get_type ())
G_DECLARE_FINAL_TYPE (DiffuseCanvas, diffuse_canvas, DIFFUSE, CANVAS, GtkWidget)

typedef enum
{
  DIFFUSE_PRESSURE_NONE,    /* pressure is ignored */
  DIFFUSE_PRESSURE_SIZE,    /* the brush radius scales with pressure */
  DIFFUSE_PRESSURE_OPACITY, /* the mask value scales with pressure */
} DiffusePressureTarget;

/* The largest and smallest brush diameters, in image pixels. */
#define DIFFUSE_BRUSH_SIZE_MIN 1.0
#define DIFFUSE_BRUSH_SIZE_MAX 512.0

GtkWidget *diffuse_canvas_new (void);

/* The init image, which the mask belongs to.  Setting one (a copy is
 * kept) clears the mask and the undo history; NULL removes it. */
void diffuse_canvas_set_image (DiffuseCanvas *self, const DfImage *image);
const DfImage *diffuse_canvas_get_image (DiffuseCanvas *self);
/* A picture shown instead of the init image (a preview or a result), or
 * NULL to show the init image again.  A copy is kept. */
void diffuse_canvas_set_preview (DiffuseCanvas *self, const DfImage *preview);
gboolean diffuse_canvas_has_preview (DiffuseCanvas *self);

/* Zoom: 0 fits the picture into the widget; otherwise widget pixels per
 * image pixel (1 is 1:1). */
void diffuse_canvas_set_zoom (DiffuseCanvas *self, double zoom);
double diffuse_canvas_get_zoom (DiffuseCanvas *self);

/* --- the brush ------------------------------------------------------------ */
void diffuse_canvas_set_brush_size (DiffuseCanvas *self, double diameter);
double diffuse_canvas_get_brush_size (DiffuseCanvas *self);
/* 0 is a hard edge; 1 fades from the centre to the edge. */
void diffuse_canvas_set_brush_softness (DiffuseCanvas *self, double softness);
double diffuse_canvas_get_brush_softness (DiffuseCanvas *self);
void diffuse_canvas_set_eraser (DiffuseCanvas *self, gboolean eraser);
gboolean diffuse_canvas_get_eraser (DiffuseCanvas *self);
void diffuse_canvas_set_pressure_target (DiffuseCanvas *self, DiffusePressureTarget target);
void diffuse_canvas_set_show_mask (DiffuseCanvas *self, gboolean show);
gboolean diffuse_canvas_get_show_mask (DiffuseCanvas *self);

/* --- input: the gestures call these; tests call them directly ------------
 * Coordinates are in widget pixels; @pressure is 0..1 (1 for a mouse);
 * @eraser is TRUE for the stylus's eraser end, and erases whatever the
 * brush mode is. */
void diffuse_canvas_stroke_begin (DiffuseCanvas *self, double x, double y, double pressure,
                                  gboolean eraser);
void diffuse_canvas_stroke_to (DiffuseCanvas *self, double x, double y, double pressure);
void diffuse_canvas_stroke_end (DiffuseCanvas *self);
/* Widget pixels to image pixels (may lie outside the image). */
void diffuse_canvas_widget_to_image (DiffuseCanvas *self, double x, double y, double *ix,
                                     double *iy);

/* --- the mask: one byte per init-image pixel, 255 = repaint ---------------- */
const guint8 *diffuse_canvas_get_mask (DiffuseCanvas *self, int *width, int *height);
gboolean diffuse_canvas_has_mask (DiffuseCanvas *self);
/* The mask as an RGB image (white = repaint), or NULL when there is none. */
DfImage *diffuse_canvas_get_mask_image (DiffuseCanvas *self);
void diffuse_canvas_clear_mask (DiffuseCanvas *self);
void diffuse_canvas_invert_mask (DiffuseCanvas *self);
/* Grows the init image by the given pixels on each side for outpainting:
 * the new border repeats the edge pixels and is masked for repainting. */
gboolean diffuse_canvas_extend (DiffuseCanvas *self, int left, int top, int right, int bottom,
                                GError **error);

gboolean diffuse_canvas_can_undo (DiffuseCanvas *self);
gboolean diffuse_canvas_can_redo (DiffuseCanvas *self);
void diffuse_canvas_undo (DiffuseCanvas *self);
void diffuse_canvas_redo (DiffuseCanvas *self);

G_END_DECLS
