/* diffuse-preferences.h — the preferences window: device, gallery folder,
 * live preview and the defaults for a new picture, all in GSettings. */
#pragma once

#include <adwaita.h>

G_BEGIN_DECLS

#define DIFFUSE_TYPE_PREFERENCES (diffuse_preferences_get_type ())
G_DECLARE_FINAL_TYPE (DiffusePreferences, diffuse_preferences, DIFFUSE, PREFERENCES,
                      AdwPreferencesWindow)

GtkWindow *diffuse_preferences_new (GtkWindow *parent);
/* What choosing a folder does: "" is Pictures/Diffuse. */
void diffuse_preferences_set_gallery_folder (DiffusePreferences *self, const char *folder);

G_END_DECLS
