/* diffuse-gallery.h — every finished picture, kept.
 *
 * The gallery folder (Pictures/Diffuse by default) holds the favourites;
 * its History subfolder holds every picture ever finished.  Both are
 * plain PNG files with the `parameters` chunk, written atomically, so
 * other tools read their settings and nothing is lost in a crash. */
#pragma once

#include <adwaita.h>

#include "df.h"

G_BEGIN_DECLS

#define DIFFUSE_TYPE_GALLERY (diffuse_gallery_get_type ())
G_DECLARE_FINAL_TYPE (DiffuseGallery, diffuse_gallery, DIFFUSE, GALLERY, AdwBin)

GtkWidget *diffuse_gallery_new (void);

/* The folder, or NULL for Pictures/Diffuse. */
void diffuse_gallery_set_folder (DiffuseGallery *self, const char *folder);
GFile *diffuse_gallery_get_folder (DiffuseGallery *self);
GFile *diffuse_gallery_get_history_folder (DiffuseGallery *self);

/* Shows the favourites instead of the whole history. */
void diffuse_gallery_set_show_favourites (DiffuseGallery *self, gboolean favourites);

/* What the grid shows: GFileInfo with the "standard::file" attribute,
 * newest first.  Filled asynchronously; see diffuse_gallery_is_loading(). */
GListModel *diffuse_gallery_get_model (DiffuseGallery *self);
gboolean diffuse_gallery_is_loading (DiffuseGallery *self);

/* Saves a finished picture into the history, with @params as its
 * `parameters` chunk; returns the new file. */
GFile *diffuse_gallery_add (DiffuseGallery *self, const DfImage *image, const DfParams *params,
                            GError **error);

/* A favourite is a copy in the gallery folder, with the same name. */
gboolean diffuse_gallery_is_favourite (DiffuseGallery *self, GFile *file);
gboolean diffuse_gallery_set_favourite (DiffuseGallery *self, GFile *file, gboolean favourite,
                                        GError **error);
/* Moves @file to the trash (and its favourite copy, when it is one). */
gboolean diffuse_gallery_trash (DiffuseGallery *self, GFile *file, GError **error);

G_END_DECLS
