#pragma once

#include <adwaita.h>

#include "diffuse-application.h"

G_BEGIN_DECLS

#define DIFFUSE_TYPE_WINDOW (diffuse_window_get_type ())
G_DECLARE_FINAL_TYPE (DiffuseWindow, diffuse_window, DIFFUSE, WINDOW, AdwApplicationWindow)

DiffuseWindow *diffuse_window_new (DiffuseApplication *app);

G_END_DECLS
