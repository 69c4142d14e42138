/* diffuse-texture.h — a DfImage as a GdkTexture, for the widgets that
 * show pictures: the canvas, the frame strip and the gallery's
 * thumbnails. */
#pragma once

#include <gtk/gtk.h>

#include "df.h"

G_BEGIN_DECLS

/* A new texture holding a copy of @image's pixels (RGB or RGBA). */
static inline GdkTexture *
diffuse_texture_new_for_image (const DfImage *image)
{
  g_autoptr (GBytes) bytes = g_bytes_new (image->pixels, image->stride * (size_t) image->height);

  return gdk_memory_texture_new (image->width, image->height,
                                 image->channels == 4 ? GDK_MEMORY_R8G8B8A8 : GDK_MEMORY_R8G8B8,
                                 bytes, image->stride);
}

G_END_DECLS
