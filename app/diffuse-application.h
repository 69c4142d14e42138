#pragma once

#include <adwaita.h>

G_BEGIN_DECLS

#define DIFFUSE_TYPE_APPLICATION (diffuse_application_get_type ())
G_DECLARE_FINAL_TYPE (DiffuseApplication, diffuse_application, DIFFUSE, APPLICATION,
                      AdwApplication)

DiffuseApplication *diffuse_application_new (void);

G_END_DECLS
