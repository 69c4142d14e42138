#pragma once

#include <adwaita.h>

#include "diffuse-application.h"
#include "diffuse-canvas.h"
#include "diffuse-gallery.h"

G_BEGIN_DECLS

#define DIFFUSE_TYPE_WINDOW (diffuse_window_get_type ())
G_DECLARE_FINAL_TYPE (DiffuseWindow, diffuse_window, DIFFUSE, WINDOW, AdwApplicationWindow)

DiffuseWindow *diffuse_window_new (DiffuseApplication *app);

DiffuseCanvas *diffuse_window_get_canvas (DiffuseWindow *self);
DiffuseGallery *diffuse_window_get_gallery (DiffuseWindow *self);
GtkTextBuffer *diffuse_window_get_prompt_buffer (DiffuseWindow *self);
GtkTextBuffer *diffuse_window_get_negative_prompt_buffer (DiffuseWindow *self);

/* Puts the settings a picture was made with into the controls: prompts,
 * size, steps, guidance scale, sampler, and the seed (which is kept). */
void diffuse_window_apply_params (DiffuseWindow *self, const DfParams *params);
/* Reads a PNG's `parameters` chunk (from any tool) and applies it. */
gboolean diffuse_window_apply_params_from_file (DiffuseWindow *self, const char *path,
                                                GError **error);

/* Starts loading a model (file or diffusers folder) in the background. */
void diffuse_window_load_model (DiffuseWindow *self, const char *path);
/* The same with a CLIP vocabulary for a model that has none. */
void diffuse_window_load_model_full (DiffuseWindow *self, const char *path,
                                     const char *vocab_path);
gboolean diffuse_window_get_model_ready (DiffuseWindow *self);
gboolean diffuse_window_get_generating (DiffuseWindow *self);
/* How many preview frames the current or last generation showed. */
guint diffuse_window_get_preview_count (DiffuseWindow *self);
/* The last finished picture, or NULL. */
const DfImage *diffuse_window_get_result (DiffuseWindow *self);

G_END_DECLS
