/* diffuse-window-private.h — the window's instance struct and the
 * functions its parts share.  The window is split by concern:
 *
 *   diffuse-window.c           lifecycle, settings, the model, errors
 *   diffuse-window-actions.c   actions, shortcuts and file choosers
 *   diffuse-window-generate.c  jobs from the controls, progress, results
 *   diffuse-window-dnd.c       start images: drop, paste, open
 *   diffuse-window-download.c  model and vocabulary downloads
 *
 * Not installed; tests include it to feed handlers directly. */
#pragma once

#include <glib/gi18n.h>
#include <math.h>

#include "diffuse-window.h"
#include "df-engine.h"
#include "diffuse-download.h"

G_BEGIN_DECLS

struct _DiffuseWindow
{
  AdwApplicationWindow parent_instance;

  /* template widgets */
  AdwToastOverlay *toast_overlay;
  GtkMenuButton *primary_menu_button;
  AdwViewStack *view_stack;
  GtkWidget *canvas_toolbar;
  GtkTextView *prompt_view;
  GtkTextView *negative_view;
  GtkSpinButton *width_spin;
  GtkSpinButton *height_spin;
  GtkSpinButton *steps_spin;
  GtkSpinButton *cfg_spin;
  AdwComboRow *sampler_row;
  GtkSpinButton *seed_spin;
  GtkToggleButton *seed_lock_button;
  GtkSpinButton *batch_spin;
  AdwActionRow *strength_row;
  GtkSpinButton *strength_spin;
  GtkProgressBar *progress_bar;
  GtkLabel *progress_label;
  GtkButton *generate_button;
  GtkToggleButton *eraser_button;
  GtkToggleButton *show_mask_button;
  GtkAdjustment *brush_size_adjustment;
  GtkAdjustment *brush_softness_adjustment;
  DiffuseCanvas *canvas;
  AdwStatusPage *model_page;
  GtkSpinner *model_spinner;
  AdwStatusPage *empty_page;
  DiffuseGallery *gallery;
  GtkButton *download_button;
  GtkWidget *download_box;
  GtkProgressBar *download_progress;
  GtkLabel *download_label;
  AdwExpanderRow *interpolate_row;
  AdwEntryRow *prompt_b_row;
  GtkSpinButton *seed_b_spin;
  GtkSpinButton *frames_spin;
  GtkWidget *frame_strip_scroller;
  GtkBox *frame_strip;

  /* borrowed: the canvas's drop target (owned by the widget it sits on) */
  GtkDropTarget *drop_target;

  /* owned */
  GSettings *settings; /* NULL when the schema is not installed */
  char *model_path;    /* the loaded (or loading) model */
  GCancellable *model_cancellable;
  GCancellable *generate_cancellable; /* non-NULL while generating */
  DfImage *result;
  GPtrArray *frames; /* DfImage: the last interpolation's frames, or NULL */
  guint preview_count;
  gboolean model_ready;
  DfEngine *engine;
  DfJob *job; /* the running job */
  DiffuseDownload *download;          /* non-NULL while downloading */
  GCancellable *download_cancellable;
  char *after_download_model;         /* a model waiting for its vocabulary */
};

/* Multiples of 8, at least 8: the sizes the engine takes. */
static inline int
diffuse_round8 (double value)
{
  return MAX (8, (int) lround (value / 8.0) * 8);
}

/* diffuse-window.c */
void diffuse_window_show_error_dialog (DiffuseWindow *self, const char *heading,
                                       const char *details);
void diffuse_window_show_error_toast (DiffuseWindow *self, const char *title,
                                      const GError *error);
/* A dialog when @blocking (the error stops the task), else a toast. */
void diffuse_window_show_error (DiffuseWindow *self, const char *title, gboolean blocking,
                                const GError *error);
void diffuse_window_show_engine_error (DiffuseWindow *self, const GError *error);
void diffuse_window_show_toast (DiffuseWindow *self, const char *title);
char *diffuse_window_buffer_text (GtkTextView *view);
void diffuse_window_apply_defaults (DiffuseWindow *self);
void diffuse_window_save_state (DiffuseWindow *self);
void diffuse_window_update_canvas_state (DiffuseWindow *self);
void diffuse_window_update_actions (DiffuseWindow *self);
void diffuse_window_set_init_image (DiffuseWindow *self, const DfImage *image);

/* diffuse-window-actions.c */
typedef void (*DiffuseChosenFunc) (DiffuseWindow *self, const char *path);
void diffuse_window_choose_file (DiffuseWindow *self, const char *title,
                                 GtkFileChooserAction action, const char *filter_name,
                                 const char *pattern, DiffuseChosenFunc func);
void diffuse_window_class_init_actions (GtkWidgetClass *widget_class);

/* diffuse-window-generate.c */
void diffuse_window_generate (DiffuseWindow *self);
void diffuse_window_cancel (DiffuseWindow *self);

/* diffuse-window-download.c */
void diffuse_window_download_model (DiffuseWindow *self);
void diffuse_window_download_cancel (DiffuseWindow *self);
/* TRUE when @path is a single-file model and no CLIP vocabulary is
 * installed: then loading it needs one downloaded first. */
gboolean diffuse_window_needs_vocabulary (const char *path);
void diffuse_window_offer_vocabulary (DiffuseWindow *self, const char *model_path);
/* Where downloads go: $XDG_DATA_HOME/diffuse. */
char *diffuse_window_data_dir (void);

/* The frames of the last interpolation (DfImage), or NULL. */
GPtrArray *diffuse_window_get_frames (DiffuseWindow *self);

/* diffuse-window-dnd.c */
void diffuse_window_init_dnd (DiffuseWindow *self);
gboolean diffuse_window_load_init_image (DiffuseWindow *self, const char *path);
/* What a drop on the canvas does with a GFile or GdkTexture value. */
gboolean diffuse_window_drop_value (DiffuseWindow *self, const GValue *value);
/* What a paste does with the clipboard's picture. */
gboolean diffuse_window_paste_texture (DiffuseWindow *self, GdkTexture *texture);
void diffuse_window_paste (DiffuseWindow *self);
void diffuse_window_open_image (DiffuseWindow *self);

G_END_DECLS
