/* diffuse-gallery.c — the grid of finished pictures.
 *
 * A GtkDirectoryList of the history folder (or of the favourites), PNG
 * files only, newest first, shown in a GtkGridView.  Thumbnails are
 * decoded and scaled on a worker thread and cached by path and time.
 * Each item has a star (favourite) and a menu: open, copy, save as,
 * reuse settings, move to trash. */
#include "config.h"

#include <glib/gi18n.h>

#include "diffuse-gallery.h"
#include "diffuse-texture.h"

#define THUMBNAIL_SIZE 176
#define HISTORY_FOLDER "History"

struct _DiffuseGallery
{
  AdwBin parent_instance;

  /* template widgets */
  GtkStack *stack;
  GtkGridView *grid_view;
  GtkToggleButton *favourites_button;

  /* owned */
  GFile *folder;
  GtkDirectoryList *directory;
  GtkFilterListModel *filtered;
  GtkSortListModel *sorted;
  GHashTable *thumbnails; /* "path:mtime" → GdkTexture */
  GCancellable *cancellable;
  gboolean show_favourites;
};

G_DEFINE_FINAL_TYPE (DiffuseGallery, diffuse_gallery, ADW_TYPE_BIN)

enum
{
  SIGNAL_OPEN,
  SIGNAL_REUSE_SETTINGS,
  N_SIGNALS
};

static guint signals[N_SIGNALS];

static void
show_error (DiffuseGallery *self, const char *title, const GError *error)
{
  GtkWidget *overlay = gtk_widget_get_ancestor (GTK_WIDGET (self), ADW_TYPE_TOAST_OVERLAY);

  g_warning ("%s: %s", title, error->message);
  if (overlay != NULL)
    adw_toast_overlay_add_toast (ADW_TOAST_OVERLAY (overlay), adw_toast_new (title));
}

static GFile *
item_file (gpointer item)
{
  return G_FILE (g_file_info_get_attribute_object (G_FILE_INFO (item), "standard::file"));
}

/* --- folders ---------------------------------------------------------------- */

GFile *
diffuse_gallery_get_folder (DiffuseGallery *self)
{
  g_return_val_if_fail (DIFFUSE_IS_GALLERY (self), NULL);
  return self->folder;
}

GFile *
diffuse_gallery_get_history_folder (DiffuseGallery *self)
{
  g_return_val_if_fail (DIFFUSE_IS_GALLERY (self), NULL);
  return g_file_get_child (self->folder, HISTORY_FOLDER);
}

static void
update_directory (DiffuseGallery *self)
{
  g_autoptr (GFile) shown = NULL;

  shown = self->show_favourites ? g_object_ref (self->folder)
                                : diffuse_gallery_get_history_folder (self);
  /* A fresh list each time: one that failed on a missing folder, or was
   * retargeted, does not always pick up what appears later. */
  g_clear_object (&self->directory);
  self->directory = gtk_directory_list_new ("standard::name,standard::display-name,"
                                            "standard::type,time::modified",
                                            shown);
  gtk_directory_list_set_monitored (self->directory, TRUE);
  if (self->filtered != NULL)
    gtk_filter_list_model_set_model (self->filtered, G_LIST_MODEL (self->directory));
}

void
diffuse_gallery_set_folder (DiffuseGallery *self, const char *folder)
{
  g_return_if_fail (DIFFUSE_IS_GALLERY (self));

  g_clear_object (&self->folder);
  if (folder != NULL && folder[0] != '\0')
    self->folder = g_file_new_for_path (folder);
  else
    {
      const char *pictures = g_get_user_special_dir (G_USER_DIRECTORY_PICTURES);
      g_autofree char *path = g_build_filename (pictures != NULL ? pictures : g_get_home_dir (),
                                                "Diffuse", NULL);

      self->folder = g_file_new_for_path (path);
    }
  update_directory (self);
}

void
diffuse_gallery_set_show_favourites (DiffuseGallery *self, gboolean favourites)
{
  g_return_if_fail (DIFFUSE_IS_GALLERY (self));

  self->show_favourites = !!favourites;
  if (gtk_toggle_button_get_active (self->favourites_button) != self->show_favourites)
    gtk_toggle_button_set_active (self->favourites_button, self->show_favourites);
  update_directory (self);
}

GListModel *
diffuse_gallery_get_model (DiffuseGallery *self)
{
  g_return_val_if_fail (DIFFUSE_IS_GALLERY (self), NULL);
  return G_LIST_MODEL (self->sorted);
}

gboolean
diffuse_gallery_is_loading (DiffuseGallery *self)
{
  g_return_val_if_fail (DIFFUSE_IS_GALLERY (self), FALSE);
  return gtk_directory_list_is_loading (self->directory);
}

/* --- files ------------------------------------------------------------------ */

GFile *
diffuse_gallery_add (DiffuseGallery *self, const DfImage *image, const DfParams *params,
                     GError **error)
{
  g_autoptr (GFile) history = NULL;
  g_autoptr (GDateTime) now = g_date_time_new_now_local ();
  g_autofree char *stamp = g_date_time_format (now, "%Y%m%d-%H%M%S");
  g_autofree char *folder_path = NULL;
  gboolean existed;

  g_return_val_if_fail (DIFFUSE_IS_GALLERY (self), NULL);

  history = diffuse_gallery_get_history_folder (self);
  folder_path = g_file_get_path (history);
  existed = g_file_test (folder_path, G_FILE_TEST_IS_DIR);
  if (g_mkdir_with_parents (folder_path, 0755) != 0)
    {
      int saved = errno;

      g_set_error (error, DF_ERROR, DF_ERROR_IO, "cannot create %s: %s", folder_path,
                   g_strerror (saved));
      return NULL;
    }
  /* Names sort by time; the seed and a counter keep a batch apart. */
  for (int n = 0; n < 1000; n++)
    {
      g_autofree char *name = NULL;
      g_autofree char *path = NULL;

      if (params != NULL && params->seed >= 0)
        name = n == 0 ? g_strdup_printf ("%s-%" G_GINT64_FORMAT ".png", stamp, params->seed)
                      : g_strdup_printf ("%s-%" G_GINT64_FORMAT "-%d.png", stamp, params->seed, n);
      else
        name = g_strdup_printf ("%s-%d.png", stamp, n);
      path = g_build_filename (folder_path, name, NULL);
      if (g_file_test (path, G_FILE_TEST_EXISTS))
        continue;
      if (!df_image_save_png (image, path, params, error))
        return NULL;
      /* A folder that did not exist could not be watched: list it anew. */
      if (!existed)
        update_directory (self);
      return g_file_new_for_path (path);
    }
  g_set_error (error, DF_ERROR, DF_ERROR_IO, "too many pictures named %s-… in %s", stamp,
               folder_path);
  return NULL;
}

static GFile *
favourite_for (DiffuseGallery *self, GFile *file)
{
  g_autofree char *name = g_file_get_basename (file);

  return g_file_get_child (self->folder, name);
}

gboolean
diffuse_gallery_is_favourite (DiffuseGallery *self, GFile *file)
{
  g_autoptr (GFile) favourite = NULL;

  g_return_val_if_fail (DIFFUSE_IS_GALLERY (self), FALSE);

  favourite = favourite_for (self, file);
  return g_file_query_exists (favourite, NULL);
}

gboolean
diffuse_gallery_set_favourite (DiffuseGallery *self, GFile *file, gboolean favourite,
                               GError **error)
{
  g_autoptr (GFile) target = NULL;
  g_autofree char *source_path = NULL;
  g_autofree char *target_path = NULL;
  g_autoptr (DfImage) image = NULL;
  g_autoptr (DfParams) params = NULL;
  gboolean existed;

  g_return_val_if_fail (DIFFUSE_IS_GALLERY (self), FALSE);

  target = favourite_for (self, file);
  if (!favourite)
    {
      if (!g_file_query_exists (target, NULL))
        return TRUE;
      return g_file_trash (target, NULL, error);
    }
  if (g_file_equal (target, file) || g_file_query_exists (target, NULL))
    return TRUE;

  /* Written afresh (not copied), atomically, with the settings it has. */
  source_path = g_file_get_path (file);
  target_path = g_file_get_path (target);
  image = df_image_load_png (source_path, error);
  if (image == NULL)
    return FALSE;
  params = df_params_load_png (source_path, NULL);
  existed = g_file_test (g_file_peek_path (self->folder), G_FILE_TEST_IS_DIR);
  if (g_mkdir_with_parents (g_file_peek_path (self->folder), 0755) != 0)
    {
      int saved = errno;

      g_set_error (error, DF_ERROR, DF_ERROR_IO, "cannot create %s: %s",
                   g_file_peek_path (self->folder), g_strerror (saved));
      return FALSE;
    }
  if (!df_image_save_png (image, target_path, params, error))
    return FALSE;
  if (!existed)
    update_directory (self);
  return TRUE;
}

gboolean
diffuse_gallery_trash (DiffuseGallery *self, GFile *file, GError **error)
{
  g_return_val_if_fail (DIFFUSE_IS_GALLERY (self), FALSE);
  return g_file_trash (file, NULL, error);
}

/* --- thumbnails ------------------------------------------------------------- */

static void
thumbnail_thread (GTask *task, gpointer source, gpointer task_data, GCancellable *cancellable)
{
  const char *path = task_data;
  g_autoptr (DfImage) image = NULL;
  g_autoptr (DfImage) small = NULL;
  GError *error = NULL;
  double scale;

  image = df_image_load_png (path, &error);
  if (image == NULL)
    {
      g_task_return_error (task, error);
      return;
    }
  scale = MIN (1.0, (double) THUMBNAIL_SIZE * 2 / MAX (image->width, image->height));
  small = df_image_resize (image, MAX (1, (int) (image->width * scale)),
                           MAX (1, (int) (image->height * scale)), &error);
  if (small == NULL)
    {
      g_task_return_error (task, error);
      return;
    }
  g_task_return_pointer (task, g_steal_pointer (&small), (GDestroyNotify) df_image_free);
}

static void
thumbnail_ready (GObject *source, GAsyncResult *result, gpointer user_data)
{
  g_autoptr (GtkPicture) picture = user_data;
  DiffuseGallery *self = DIFFUSE_GALLERY (source);
  g_autoptr (DfImage) image = NULL;
  g_autoptr (GError) error = NULL;
  g_autoptr (GdkTexture) texture = NULL;
  const char *key = g_object_get_data (G_OBJECT (result), "key");

  image = g_task_propagate_pointer (G_TASK (result), &error);
  if (image == NULL)
    {
      if (!g_error_matches (error, G_IO_ERROR, G_IO_ERROR_CANCELLED))
        g_debug ("No thumbnail: %s", error->message);
      return;
    }
  texture = diffuse_texture_new_for_image (image);
  g_hash_table_replace (self->thumbnails, g_strdup (key), g_object_ref (texture));
  /* The item may show another file by now. */
  if (g_strcmp0 (g_object_get_data (G_OBJECT (picture), "key"), key) == 0)
    gtk_picture_set_paintable (picture, GDK_PAINTABLE (texture));
}

static void
load_thumbnail (DiffuseGallery *self, GtkPicture *picture, GFileInfo *info)
{
  GFile *file = item_file (info);
  g_autoptr (GTask) task = NULL;
  g_autofree char *key = g_strdup_printf ("%s:%" G_GUINT64_FORMAT, g_file_peek_path (file),
                                          g_file_info_get_attribute_uint64 (info, "time::modified"));
  GdkTexture *cached = g_hash_table_lookup (self->thumbnails, key);

  g_object_set_data_full (G_OBJECT (picture), "key", g_strdup (key), g_free);
  gtk_picture_set_paintable (picture, GDK_PAINTABLE (cached));
  if (cached != NULL)
    return;
  task = g_task_new (self, self->cancellable, thumbnail_ready, g_object_ref (picture));
  g_task_set_task_data (task, g_strdup (g_file_peek_path (file)), g_free);
  g_object_set_data_full (G_OBJECT (task), "key", g_steal_pointer (&key), g_free);
  g_task_run_in_thread (task, thumbnail_thread);
}

/* --- items -------------------------------------------------------------------- */

static void
star_toggled (GtkToggleButton *button, DiffuseGallery *self)
{
  GFile *file = g_object_get_data (G_OBJECT (button), "file");
  gboolean active = gtk_toggle_button_get_active (button);
  g_autoptr (GError) error = NULL;

  if (file == NULL)
    return;
  gtk_button_set_icon_name (GTK_BUTTON (button),
                            active ? "starred-symbolic" : "non-starred-symbolic");
  if (!diffuse_gallery_set_favourite (self, file, active, &error))
    show_error (self, _("Could not change the favourites"), error);
}

/* A round on-screen button in the thumbnail's right-hand corner, at the
 * top or the bottom (@valign), 6 pixels in from the edges; @label is its
 * tooltip and its name for screen readers. */
static void
style_corner_button (GtkWidget *button, const char *label, GtkAlign valign)
{
  gtk_widget_set_tooltip_text (button, label);
  gtk_accessible_update_property (GTK_ACCESSIBLE (button), GTK_ACCESSIBLE_PROPERTY_LABEL, label,
                                  -1);
  gtk_widget_set_halign (button, GTK_ALIGN_END);
  gtk_widget_set_valign (button, valign);
  if (valign == GTK_ALIGN_START)
    gtk_widget_set_margin_top (button, 6);
  else
    gtk_widget_set_margin_bottom (button, 6);
  gtk_widget_set_margin_end (button, 6);
  gtk_widget_add_css_class (button, "osd");
  gtk_widget_add_css_class (button, "circular");
}

static void
setup_item (GtkSignalListItemFactory *factory, GtkListItem *item, DiffuseGallery *self)
{
  GtkWidget *overlay = gtk_overlay_new ();
  GtkWidget *picture = gtk_picture_new ();
  GtkWidget *star = gtk_toggle_button_new ();
  GtkWidget *menu = gtk_menu_button_new ();

  gtk_picture_set_can_shrink (GTK_PICTURE (picture), TRUE);
  gtk_picture_set_content_fit (GTK_PICTURE (picture), GTK_CONTENT_FIT_COVER);
  gtk_widget_set_size_request (picture, THUMBNAIL_SIZE, THUMBNAIL_SIZE);
  gtk_widget_add_css_class (picture, "card");
  gtk_widget_set_overflow (overlay, GTK_OVERFLOW_HIDDEN);
  gtk_overlay_set_child (GTK_OVERLAY (overlay), picture);

  gtk_button_set_icon_name (GTK_BUTTON (star), "non-starred-symbolic");
  style_corner_button (star, _("Favourite"), GTK_ALIGN_START);
  g_signal_connect (star, "toggled", G_CALLBACK (star_toggled), self);
  gtk_overlay_add_overlay (GTK_OVERLAY (overlay), star);

  gtk_menu_button_set_icon_name (GTK_MENU_BUTTON (menu), "view-more-symbolic");
  style_corner_button (menu, _("Picture Menu"), GTK_ALIGN_END);
  gtk_overlay_add_overlay (GTK_OVERLAY (overlay), menu);

  g_object_set_data (G_OBJECT (overlay), "picture", picture);
  g_object_set_data (G_OBJECT (overlay), "star", star);
  g_object_set_data (G_OBJECT (overlay), "menu", menu);
  gtk_list_item_set_child (item, overlay);
}

static GMenuModel *
item_menu (GFile *file)
{
  static const struct
  {
    const char *label;
    const char *action;
  } entries[] = {
    { N_("_Open"), "gallery.open" },
    { N_("_Reuse Settings"), "gallery.reuse-settings" },
    { N_("_Copy"), "gallery.copy" },
    { N_("_Save As…"), "gallery.save-as" },
    { N_("Move to _Trash"), "gallery.trash" },
  };
  GMenu *menu = g_menu_new ();
  GMenu *section = NULL;

  for (guint i = 0; i < G_N_ELEMENTS (entries); i++)
    {
      g_autoptr (GMenuItem) entry = NULL;

      if (i == 0 || i == 4)
        {
          section = g_menu_new ();
          g_menu_append_section (menu, NULL, G_MENU_MODEL (section));
          g_object_unref (section);
        }
      entry = g_menu_item_new (_(entries[i].label), NULL);
      g_menu_item_set_action_and_target (entry, entries[i].action, "s", g_file_peek_path (file));
      g_menu_append_item (section, entry);
    }
  return G_MENU_MODEL (menu);
}

static void
bind_item (GtkSignalListItemFactory *factory, GtkListItem *item, DiffuseGallery *self)
{
  GtkWidget *overlay = gtk_list_item_get_child (item);
  GFileInfo *info = gtk_list_item_get_item (item);
  GFile *file = item_file (info);
  GtkWidget *star = g_object_get_data (G_OBJECT (overlay), "star");
  GtkWidget *menu = g_object_get_data (G_OBJECT (overlay), "menu");
  g_autoptr (GMenuModel) model = item_menu (file);
  gboolean favourite = self->show_favourites || diffuse_gallery_is_favourite (self, file);

  load_thumbnail (self, g_object_get_data (G_OBJECT (overlay), "picture"), info);
  g_object_set_data (G_OBJECT (star), "file", NULL);
  gtk_toggle_button_set_active (GTK_TOGGLE_BUTTON (star), favourite);
  gtk_button_set_icon_name (GTK_BUTTON (star),
                            favourite ? "starred-symbolic" : "non-starred-symbolic");
  g_object_set_data_full (G_OBJECT (star), "file", g_object_ref (file), g_object_unref);
  gtk_menu_button_set_menu_model (GTK_MENU_BUTTON (menu), model);
  gtk_widget_set_tooltip_text (overlay, g_file_info_get_display_name (info));
}

static void
unbind_item (GtkSignalListItemFactory *factory, GtkListItem *item, DiffuseGallery *self)
{
  GtkWidget *overlay = gtk_list_item_get_child (item);

  g_object_set_data (g_object_get_data (G_OBJECT (overlay), "star"), "file", NULL);
}

static void
activate_item (GtkGridView *view, guint position, DiffuseGallery *self)
{
  g_autoptr (GFileInfo) info = g_list_model_get_item (G_LIST_MODEL (self->sorted), position);

  if (info != NULL)
    g_signal_emit (self, signals[SIGNAL_OPEN], 0, item_file (info));
}

/* --- actions ---------------------------------------------------------------- */

static void
open_action (GtkWidget *widget, const char *name, GVariant *parameter)
{
  g_autoptr (GFile) file = g_file_new_for_path (g_variant_get_string (parameter, NULL));

  g_signal_emit (widget, signals[SIGNAL_OPEN], 0, file);
}

static void
reuse_action (GtkWidget *widget, const char *name, GVariant *parameter)
{
  g_autoptr (GFile) file = g_file_new_for_path (g_variant_get_string (parameter, NULL));

  g_signal_emit (widget, signals[SIGNAL_REUSE_SETTINGS], 0, file);
}

static void
copy_action (GtkWidget *widget, const char *name, GVariant *parameter)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (GdkTexture) texture =
      gdk_texture_new_from_filename (g_variant_get_string (parameter, NULL), &error);

  if (texture == NULL)
    {
      show_error (DIFFUSE_GALLERY (widget), _("Could not copy the picture"), error);
      return;
    }
  gdk_clipboard_set_texture (gtk_widget_get_clipboard (widget), texture);
}

static void
trash_action (GtkWidget *widget, const char *name, GVariant *parameter)
{
  DiffuseGallery *self = DIFFUSE_GALLERY (widget);
  g_autoptr (GFile) file = g_file_new_for_path (g_variant_get_string (parameter, NULL));
  g_autoptr (GError) error = NULL;

  if (!diffuse_gallery_trash (self, file, &error))
    show_error (self, _("Could not move the picture to the trash"), error);
}

static void
save_as_response (GtkNativeDialog *dialog, int response, gpointer user_data)
{
  g_autoptr (DiffuseGallery) self = user_data;
  const char *source = g_object_get_data (G_OBJECT (dialog), "source");

  if (response == GTK_RESPONSE_ACCEPT)
    {
      g_autoptr (GFile) target = gtk_file_chooser_get_file (GTK_FILE_CHOOSER (dialog));
      g_autoptr (GFile) file = g_file_new_for_path (source);
      g_autoptr (GError) error = NULL;

      if (!g_file_copy (file, target, G_FILE_COPY_OVERWRITE, NULL, NULL, NULL, &error))
        show_error (self, _("Could not save the picture"), error);
    }
  g_object_unref (dialog);
}

static void
save_as_action (GtkWidget *widget, const char *name, GVariant *parameter)
{
  GtkFileChooserNative *dialog;
  g_autofree char *basename = g_path_get_basename (g_variant_get_string (parameter, NULL));

  dialog = gtk_file_chooser_native_new (_("Save Picture"),
                                        GTK_WINDOW (gtk_widget_get_root (widget)),
                                        GTK_FILE_CHOOSER_ACTION_SAVE, _("_Save"), _("_Cancel"));
  gtk_file_chooser_set_current_name (GTK_FILE_CHOOSER (dialog), basename);
  g_object_set_data_full (G_OBJECT (dialog), "source",
                          g_strdup (g_variant_get_string (parameter, NULL)), g_free);
  gtk_native_dialog_set_modal (GTK_NATIVE_DIALOG (dialog), TRUE);
  g_signal_connect (dialog, "response", G_CALLBACK (save_as_response), g_object_ref (widget));
  gtk_native_dialog_show (GTK_NATIVE_DIALOG (dialog));
}

static void
open_folder_action (GtkWidget *widget, const char *name, GVariant *parameter)
{
  DiffuseGallery *self = DIFFUSE_GALLERY (widget);
  g_autofree char *uri = NULL;

  g_mkdir_with_parents (g_file_peek_path (self->folder), 0755);
  uri = g_file_get_uri (self->folder);
  gtk_show_uri (GTK_WINDOW (gtk_widget_get_root (widget)), uri, GDK_CURRENT_TIME);
}

/* --- model ---------------------------------------------------------------------- */

static gboolean
filter_png (gpointer item, gpointer user_data)
{
  GFileInfo *info = item;
  const char *name = g_file_info_get_name (info);

  return g_file_info_get_file_type (info) == G_FILE_TYPE_REGULAR && name[0] != '.'
         && g_str_has_suffix (name, ".png");
}

static int
sort_newest_first (gconstpointer a, gconstpointer b, gpointer user_data)
{
  guint64 ta = g_file_info_get_attribute_uint64 ((GFileInfo *) a, "time::modified");
  guint64 tb = g_file_info_get_attribute_uint64 ((GFileInfo *) b, "time::modified");

  if (ta != tb)
    return ta > tb ? -1 : 1;
  return -g_strcmp0 (g_file_info_get_name ((GFileInfo *) a),
                     g_file_info_get_name ((GFileInfo *) b));
}

static void
items_changed (GListModel *model, guint position, guint removed, guint added,
               DiffuseGallery *self)
{
  gtk_stack_set_visible_child_name (self->stack,
                                    g_list_model_get_n_items (model) > 0 ? "grid" : "empty");
}

static void
favourites_toggled (GtkToggleButton *button, DiffuseGallery *self)
{
  if (gtk_toggle_button_get_active (button) != self->show_favourites)
    diffuse_gallery_set_show_favourites (self, gtk_toggle_button_get_active (button));
}

static void
diffuse_gallery_dispose (GObject *object)
{
  DiffuseGallery *self = DIFFUSE_GALLERY (object);

  g_cancellable_cancel (self->cancellable);
  gtk_widget_dispose_template (GTK_WIDGET (self), DIFFUSE_TYPE_GALLERY);
  G_OBJECT_CLASS (diffuse_gallery_parent_class)->dispose (object);
}

static void
diffuse_gallery_finalize (GObject *object)
{
  DiffuseGallery *self = DIFFUSE_GALLERY (object);

  g_clear_object (&self->folder);
  g_clear_object (&self->directory);
  g_clear_object (&self->filtered);
  g_clear_object (&self->sorted);
  g_clear_object (&self->cancellable);
  g_clear_pointer (&self->thumbnails, g_hash_table_unref);
  G_OBJECT_CLASS (diffuse_gallery_parent_class)->finalize (object);
}

static void
diffuse_gallery_class_init (DiffuseGalleryClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);
  GtkWidgetClass *widget_class = GTK_WIDGET_CLASS (klass);

  object_class->dispose = diffuse_gallery_dispose;
  object_class->finalize = diffuse_gallery_finalize;

  /* DiffuseGallery::open and ::reuse-settings (GFile *file) */
  signals[SIGNAL_OPEN] = g_signal_new ("open", G_TYPE_FROM_CLASS (klass), G_SIGNAL_RUN_LAST, 0,
                                       NULL, NULL, NULL, G_TYPE_NONE, 1, G_TYPE_FILE);
  signals[SIGNAL_REUSE_SETTINGS] =
      g_signal_new ("reuse-settings", G_TYPE_FROM_CLASS (klass), G_SIGNAL_RUN_LAST, 0, NULL,
                    NULL, NULL, G_TYPE_NONE, 1, G_TYPE_FILE);

  gtk_widget_class_set_template_from_resource (widget_class,
                                               "/org/example/Diffuse/ui/diffuse-gallery.ui");
  gtk_widget_class_bind_template_child (widget_class, DiffuseGallery, stack);
  gtk_widget_class_bind_template_child (widget_class, DiffuseGallery, grid_view);
  gtk_widget_class_bind_template_child (widget_class, DiffuseGallery, favourites_button);
  gtk_widget_class_bind_template_callback (widget_class, favourites_toggled);

  gtk_widget_class_install_action (widget_class, "gallery.open", "s", open_action);
  gtk_widget_class_install_action (widget_class, "gallery.reuse-settings", "s", reuse_action);
  gtk_widget_class_install_action (widget_class, "gallery.copy", "s", copy_action);
  gtk_widget_class_install_action (widget_class, "gallery.save-as", "s", save_as_action);
  gtk_widget_class_install_action (widget_class, "gallery.trash", "s", trash_action);
  gtk_widget_class_install_action (widget_class, "gallery.open-folder", NULL,
                                   open_folder_action);
}

static void
diffuse_gallery_init (DiffuseGallery *self)
{
  GtkListItemFactory *factory;
  GtkSingleSelection *selection;

  gtk_widget_init_template (GTK_WIDGET (self));

  self->thumbnails = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, g_object_unref);
  self->cancellable = g_cancellable_new ();
  self->folder = g_file_new_for_path (g_get_home_dir ());
  update_directory (self);
  self->filtered = gtk_filter_list_model_new (
      G_LIST_MODEL (g_object_ref (self->directory)),
      GTK_FILTER (gtk_custom_filter_new (filter_png, NULL, NULL)));
  self->sorted = gtk_sort_list_model_new (
      G_LIST_MODEL (g_object_ref (self->filtered)),
      GTK_SORTER (gtk_custom_sorter_new (sort_newest_first, NULL, NULL)));
  g_signal_connect (self->sorted, "items-changed", G_CALLBACK (items_changed), self);

  factory = gtk_signal_list_item_factory_new ();
  g_signal_connect (factory, "setup", G_CALLBACK (setup_item), self);
  g_signal_connect (factory, "bind", G_CALLBACK (bind_item), self);
  g_signal_connect (factory, "unbind", G_CALLBACK (unbind_item), self);
  selection = gtk_single_selection_new (G_LIST_MODEL (g_object_ref (self->sorted)));
  gtk_single_selection_set_autoselect (selection, FALSE);
  gtk_single_selection_set_can_unselect (selection, TRUE);
  gtk_grid_view_set_model (self->grid_view, GTK_SELECTION_MODEL (selection));
  gtk_grid_view_set_factory (self->grid_view, factory);
  g_signal_connect (self->grid_view, "activate", G_CALLBACK (activate_item), self);
  g_object_unref (selection);
  g_object_unref (factory);

  diffuse_gallery_set_folder (self, NULL);
}

GtkWidget *
diffuse_gallery_new (void)
{
  return g_object_new (DIFFUSE_TYPE_GALLERY, NULL);
}
