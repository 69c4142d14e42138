/* diffuse-preferences.h — the preferences window: device, gallery folder,
 * live preview and the defaults for a new picture, all in GSettings. */
#pragma once

#include <adwaita.h>

G_BEGIN_DECLS

#define DIFFUSE_TYPE_PREFERENCES (diffuse_preferences_get_type ())
G_DECLARE_FINAL_TYPE (DiffusePreferences, diffuse_preferences, DIFFUSE, PREFERENCES,
                      AdwPreferencesWindow)

GtkWindow *diffuse_preferences_new (GtkWindow *parent);

G_END_DECLS
