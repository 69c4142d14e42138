/* diffuse-preferences.c — the preferences window.  Every row writes its
 * GSettings key at once; the main window follows the keys it cares
 * about. */
#include "config.h"

#include <glib/gi18n.h>

#include "df.h"
#include "diffuse-preferences.h"

struct _DiffusePreferences
{
  AdwPreferencesWindow parent_instance;

  /* template widgets */
  AdwComboRow *device_row;
  AdwActionRow *gallery_row;
  AdwComboRow *preview_row;
  GtkAdjustment *interval_adjustment;
  GtkAdjustment *width_adjustment;
  GtkAdjustment *height_adjustment;
  GtkAdjustment *steps_adjustment;
  GtkAdjustment *cfg_adjustment;
  AdwComboRow *sampler_row;

  /* owned */
  GSettings *settings;
};

G_DEFINE_FINAL_TYPE (DiffusePreferences, diffuse_preferences, ADW_TYPE_PREFERENCES_WINDOW)

static void
update_gallery_row (DiffusePreferences *self)
{
  g_autofree char *folder = g_settings_get_string (self->settings, "gallery-folder");

  if (folder[0] == '\0')
    {
      const char *pictures = g_get_user_special_dir (G_USER_DIRECTORY_PICTURES);

      g_free (folder);
      folder = g_build_filename (pictures != NULL ? pictures : g_get_home_dir (), "Diffuse",
                                 NULL);
    }
  adw_action_row_set_subtitle (self->gallery_row, folder);
}

static void
device_selected (AdwComboRow *row, GParamSpec *pspec, DiffusePreferences *self)
{
  guint selected = adw_combo_row_get_selected (row);
  g_autofree char *value = selected == 0 ? g_strdup ("") : g_strdup_printf ("%u", selected - 1);

  g_settings_set_string (self->settings, "device", value);
}

static void
preview_selected (AdwComboRow *row, GParamSpec *pspec, DiffusePreferences *self)
{
  g_settings_set_enum (self->settings, "preview-mode", (int) adw_combo_row_get_selected (row));
}

static void
sampler_selected (AdwComboRow *row, GParamSpec *pspec, DiffusePreferences *self)
{
  guint selected = adw_combo_row_get_selected (row);

  if (selected < DF_SAMPLER_N_KINDS)
    g_settings_set_string (self->settings, "default-sampler",
                           df_sampler_kind_name ((DfSamplerKind) selected));
}

void
diffuse_preferences_set_gallery_folder (DiffusePreferences *self, const char *folder)
{
  g_return_if_fail (DIFFUSE_IS_PREFERENCES (self));
  g_return_if_fail (folder != NULL);

  g_settings_set_string (self->settings, "gallery-folder", folder);
  update_gallery_row (self);
}

static void
folder_response (GtkNativeDialog *dialog, int response, gpointer user_data)
{
  g_autoptr (DiffusePreferences) self = user_data;

  if (response == GTK_RESPONSE_ACCEPT)
    {
      g_autoptr (GFile) file = gtk_file_chooser_get_file (GTK_FILE_CHOOSER (dialog));
      g_autofree char *path = g_file_get_path (file);

      if (path != NULL)
        diffuse_preferences_set_gallery_folder (self, path);
    }
  g_object_unref (dialog);
}

static void
choose_folder (GtkButton *button, DiffusePreferences *self)
{
  GtkFileChooserNative *dialog = gtk_file_chooser_native_new (
      _("Gallery Folder"), GTK_WINDOW (self), GTK_FILE_CHOOSER_ACTION_SELECT_FOLDER, _("_Select"),
      _("_Cancel"));

  gtk_native_dialog_set_modal (GTK_NATIVE_DIALOG (dialog), TRUE);
  g_signal_connect (dialog, "response", G_CALLBACK (folder_response), g_object_ref (self));
  gtk_native_dialog_show (GTK_NATIVE_DIALOG (dialog));
}

static void
fill_devices (DiffusePreferences *self)
{
  g_autoptr (GtkStringList) names = gtk_string_list_new (NULL);
  g_autoptr (GArray) devices = NULL;
  g_autoptr (GError) error = NULL;
  g_autofree char *current = g_settings_get_string (self->settings, "device");
  guint selected = 0;

  gtk_string_list_append (names, _("Automatic"));
  devices = df_device_list (&error);
  if (devices == NULL)
    adw_action_row_set_subtitle (ADW_ACTION_ROW (self->device_row), _("No Vulkan device was found"));
  for (guint i = 0; devices != NULL && i < devices->len; i++)
    {
      const DfDeviceInfo *info = &g_array_index (devices, DfDeviceInfo, i);
      g_autofree char *index = g_strdup_printf ("%d", info->index);

      gtk_string_list_append (names, info->name);
      if (g_strcmp0 (current, index) == 0)
        selected = i + 1;
    }
  adw_combo_row_set_model (self->device_row, G_LIST_MODEL (names));
  adw_combo_row_set_selected (self->device_row, selected);
}

static void
diffuse_preferences_dispose (GObject *object)
{
  DiffusePreferences *self = DIFFUSE_PREFERENCES (object);

  g_clear_object (&self->settings);
  G_OBJECT_CLASS (diffuse_preferences_parent_class)->dispose (object);
}

static void
diffuse_preferences_class_init (DiffusePreferencesClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);
  GtkWidgetClass *widget_class = GTK_WIDGET_CLASS (klass);

  object_class->dispose = diffuse_preferences_dispose;
  gtk_widget_class_set_template_from_resource (widget_class,
                                               "/org/example/Diffuse/ui/diffuse-preferences.ui");
  gtk_widget_class_bind_template_child (widget_class, DiffusePreferences, device_row);
  gtk_widget_class_bind_template_child (widget_class, DiffusePreferences, gallery_row);
  gtk_widget_class_bind_template_child (widget_class, DiffusePreferences, preview_row);
  gtk_widget_class_bind_template_child (widget_class, DiffusePreferences, interval_adjustment);
  gtk_widget_class_bind_template_child (widget_class, DiffusePreferences, width_adjustment);
  gtk_widget_class_bind_template_child (widget_class, DiffusePreferences, height_adjustment);
  gtk_widget_class_bind_template_child (widget_class, DiffusePreferences, steps_adjustment);
  gtk_widget_class_bind_template_child (widget_class, DiffusePreferences, cfg_adjustment);
  gtk_widget_class_bind_template_child (widget_class, DiffusePreferences, sampler_row);
  gtk_widget_class_bind_template_callback (widget_class, choose_folder);
}

static void
diffuse_preferences_init (DiffusePreferences *self)
{
  g_autoptr (GtkStringList) samplers = gtk_string_list_new (NULL);
  g_autofree char *sampler = NULL;
  DfSamplerKind kind;

  gtk_widget_init_template (GTK_WIDGET (self));
  self->settings = g_settings_new (APP_ID);

  fill_devices (self);
  g_signal_connect (self->device_row, "notify::selected", G_CALLBACK (device_selected), self);

  update_gallery_row (self);
  adw_combo_row_set_selected (self->preview_row,
                              (guint) g_settings_get_enum (self->settings, "preview-mode"));
  g_signal_connect (self->preview_row, "notify::selected", G_CALLBACK (preview_selected), self);
  g_settings_bind (self->settings, "preview-interval", self->interval_adjustment, "value",
                   G_SETTINGS_BIND_DEFAULT);

  g_settings_bind (self->settings, "default-width", self->width_adjustment, "value",
                   G_SETTINGS_BIND_DEFAULT);
  g_settings_bind (self->settings, "default-height", self->height_adjustment, "value",
                   G_SETTINGS_BIND_DEFAULT);
  g_settings_bind (self->settings, "default-steps", self->steps_adjustment, "value",
                   G_SETTINGS_BIND_DEFAULT);
  g_settings_bind (self->settings, "default-cfg-scale", self->cfg_adjustment, "value",
                   G_SETTINGS_BIND_DEFAULT);

  for (int k = 0; k < DF_SAMPLER_N_KINDS; k++)
    {
      const char *name = df_sampler_kind_name ((DfSamplerKind) k);
      const char *shown = df_sampler_to_webui (name);

      gtk_string_list_append (samplers, shown != NULL ? shown : name);
    }
  adw_combo_row_set_model (self->sampler_row, G_LIST_MODEL (samplers));
  sampler = g_strdelimit (g_settings_get_string (self->settings, "default-sampler"), "-", '_');
  if (df_sampler_kind_from_string (sampler, &kind, NULL))
    adw_combo_row_set_selected (self->sampler_row, (guint) kind);
  g_signal_connect (self->sampler_row, "notify::selected", G_CALLBACK (sampler_selected), self);
}

GtkWindow *
diffuse_preferences_new (GtkWindow *parent)
{
  return g_object_new (DIFFUSE_TYPE_PREFERENCES, "transient-for", parent, "modal", TRUE, NULL);
}
