/* df-params.c — generation parameters in the web UIs' `parameters` text,
 * sampler names, and the short model hash. */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "df.h"

/* ------------------------------------------------------------------------
 * Sampler names
 * ------------------------------------------------------------------------ */

static const struct
{
  const char *ours;
  const char *webui;
} samplers[] = {
  { "euler", "Euler" },
  { "euler_a", "Euler a" },
  { "heun", "Heun" },
  { "ddim", "DDIM" },
  { "lms", "LMS" },
  { "dpmpp_2m", "DPM++ 2M" },
  { "dpmpp_2m_karras", "DPM++ 2M Karras" },
  { "lcm", "LCM" },
};

const char *
df_sampler_to_webui (const char *sampler)
{
  if (sampler == NULL)
    return NULL;
  for (size_t i = 0; i < G_N_ELEMENTS (samplers); i++)
    if (strcmp (samplers[i].ours, sampler) == 0)
      return samplers[i].webui;
  return NULL;
}

const char *
df_sampler_from_webui (const char *name, const char *schedule_type)
{
  g_autofree char *full = NULL;

  if (name == NULL)
    return NULL;
  /* "Automatic" is the newer UIs' way of saying "the sampler's own". */
  if (schedule_type != NULL && *schedule_type != '\0'
      && g_ascii_strcasecmp (schedule_type, "Automatic") != 0)
    full = g_strdup_printf ("%s %s", name, schedule_type);
  else
    full = g_strdup (name);
  for (size_t i = 0; i < G_N_ELEMENTS (samplers); i++)
    if (g_ascii_strcasecmp (samplers[i].webui, full) == 0)
      return samplers[i].ours;
  return NULL;
}

/* ------------------------------------------------------------------------
 * DfParams
 * ------------------------------------------------------------------------ */

static void
extra_free (gpointer p)
{
  DfParamsExtra *e = p;

  if (e == NULL)
    return;
  g_free (e->key);
  g_free (e->value);
  g_free (e);
}

DfParams *
df_params_new (void)
{
  DfParams *p = g_new0 (DfParams, 1);

  p->prompt = g_strdup ("");
  p->negative_prompt = g_strdup ("");
  p->cfg_scale = -1.0;
  p->seed = -1;
  p->denoising_strength = -1.0;
  p->extra = g_ptr_array_new_with_free_func (extra_free);
  return p;
}

void
df_params_free (DfParams *params)
{
  if (params == NULL)
    return;
  g_free (params->prompt);
  g_free (params->negative_prompt);
  g_free (params->sampler);
  g_free (params->model_hash);
  g_free (params->model);
  g_clear_pointer (&params->extra, g_ptr_array_unref);
  g_free (params);
}

DfParams *
df_params_copy (const DfParams *params)
{
  DfParams *p;

  g_return_val_if_fail (params != NULL, NULL);

  p = df_params_new ();
  df_params_set_prompt (p, params->prompt);
  df_params_set_negative_prompt (p, params->negative_prompt);
  p->steps = params->steps;
  df_params_set_sampler (p, params->sampler);
  p->cfg_scale = params->cfg_scale;
  p->seed = params->seed;
  p->width = params->width;
  p->height = params->height;
  df_params_set_model (p, params->model_hash, params->model);
  p->denoising_strength = params->denoising_strength;
  for (guint i = 0; i < params->extra->len; i++)
    {
      const DfParamsExtra *e = g_ptr_array_index (params->extra, i);

      df_params_add_extra (p, e->key, e->value);
    }
  return p;
}

void
df_params_set_prompt (DfParams *params, const char *prompt)
{
  g_free (params->prompt);
  params->prompt = g_strdup (prompt != NULL ? prompt : "");
}

void
df_params_set_negative_prompt (DfParams *params, const char *negative_prompt)
{
  g_free (params->negative_prompt);
  params->negative_prompt = g_strdup (negative_prompt != NULL ? negative_prompt : "");
}

void
df_params_set_sampler (DfParams *params, const char *sampler)
{
  g_free (params->sampler);
  params->sampler = g_strdup (sampler);
}

void
df_params_set_model (DfParams *params, const char *model_hash, const char *model)
{
  g_free (params->model_hash);
  g_free (params->model);
  params->model_hash = g_strdup (model_hash);
  params->model = g_strdup (model);
}

/* A key the settings line can carry: a letter, digit or underscore, then
 * those, spaces, hyphens and slashes (the web UIs' pattern); non-ASCII
 * letters are allowed. */
static gboolean
key_char (char c, gboolean first)
{
  if (g_ascii_isalnum (c) || c == '_' || (guchar) c >= 0x80)
    return TRUE;
  return !first && (c == ' ' || c == '-' || c == '/');
}

static gboolean
key_is_valid (const char *key)
{
  if (key == NULL || !key_char (key[0], TRUE))
    return FALSE;
  for (const char *s = key + 1; *s; s++)
    if (!key_char (*s, FALSE))
      return FALSE;
  return key[strlen (key) - 1] != ' ';
}

void
df_params_add_extra (DfParams *params, const char *key, const char *value)
{
  DfParamsExtra *e;

  g_return_if_fail (params != NULL);
  g_return_if_fail (key_is_valid (key));

  e = g_new (DfParamsExtra, 1);
  e->key = g_strdup (key);
  e->value = g_strdup (value != NULL ? value : "");
  g_ptr_array_add (params->extra, e);
}

const char *
df_params_get_extra (const DfParams *params, const char *key)
{
  for (guint i = 0; i < params->extra->len; i++)
    {
      const DfParamsExtra *e = g_ptr_array_index (params->extra, i);

      if (strcmp (e->key, key) == 0)
        return e->value;
    }
  return NULL;
}

static gboolean
same_optional (double a, double b)
{
  return (a < 0 && b < 0) || a == b;
}

gboolean
df_params_equal (const DfParams *a, const DfParams *b)
{
  if (g_strcmp0 (a->prompt, b->prompt) != 0
      || g_strcmp0 (a->negative_prompt, b->negative_prompt) != 0 || a->steps != b->steps
      || g_strcmp0 (a->sampler, b->sampler) != 0 || !same_optional (a->cfg_scale, b->cfg_scale)
      || !((a->seed < 0 && b->seed < 0) || a->seed == b->seed) || a->width != b->width
      || a->height != b->height || g_strcmp0 (a->model_hash, b->model_hash) != 0
      || g_strcmp0 (a->model, b->model) != 0
      || !same_optional (a->denoising_strength, b->denoising_strength)
      || a->extra->len != b->extra->len)
    return FALSE;
  for (guint i = 0; i < a->extra->len; i++)
    {
      const DfParamsExtra *x = g_ptr_array_index (a->extra, i);
      const DfParamsExtra *y = g_ptr_array_index (b->extra, i);

      if (strcmp (x->key, y->key) != 0 || strcmp (x->value, y->value) != 0)
        return FALSE;
    }
  return TRUE;
}

/* ------------------------------------------------------------------------
 * Writing
 * ------------------------------------------------------------------------ */

/* The fewest significant digits that read back as the same double, in the
 * C locale: 7 → "7", 7.5 → "7.5", 0.1 → "0.1". */
static char *
format_number (double v)
{
  char buf[G_ASCII_DTOSTR_BUF_SIZE];

  for (int digits = 1; digits <= 17; digits++)
    {
      char format[8];

      g_snprintf (format, sizeof format, "%%.%dg", digits);
      g_ascii_formatd (buf, sizeof buf, format, v);
      if (g_ascii_strtod (buf, NULL) == v)
        break;
    }
  return g_strdup (buf);
}

/* A value as the web UIs write it: as is, or as a JSON string when it
 * would not read back as is (a comma, colon, quote, line break, or spaces
 * at either end). */
static void
append_value (GString *s, const char *v)
{
  size_t n = strlen (v);

  if (strpbrk (v, ",:\"\n\r") == NULL
      && (n == 0 || (!g_ascii_isspace (v[0]) && !g_ascii_isspace (v[n - 1]))))
    {
      g_string_append (s, v);
      return;
    }
  g_string_append_c (s, '"');
  for (const char *c = v; *c; c++)
    switch (*c)
      {
      case '"':
        g_string_append (s, "\\\"");
        break;
      case '\\':
        g_string_append (s, "\\\\");
        break;
      case '\n':
        g_string_append (s, "\\n");
        break;
      case '\r':
        g_string_append (s, "\\r");
        break;
      case '\t':
        g_string_append (s, "\\t");
        break;
      default:
        if ((guchar) *c < 0x20)
          g_string_append_printf (s, "\\u%04x", (guchar) *c);
        else
          g_string_append_c (s, *c);
        break;
      }
  g_string_append_c (s, '"');
}

static void
append_pair (GString *line, const char *key, const char *value)
{
  if (line->len > 0)
    g_string_append (line, ", ");
  g_string_append (line, key);
  g_string_append (line, ": ");
  append_value (line, value);
}

static void
append_number (GString *line, const char *key, double v)
{
  g_autofree char *text = format_number (v);

  append_pair (line, key, text);
}

char *
df_params_to_text (const DfParams *params)
{
  g_autoptr (GString) line = g_string_new (NULL);
  GString *s;

  g_return_val_if_fail (params != NULL, NULL);

  if (params->steps > 0)
    {
      char text[32];

      g_snprintf (text, sizeof text, "%d", params->steps);
      append_pair (line, "Steps", text);
    }
  if (params->sampler != NULL)
    {
      const char *webui = df_sampler_to_webui (params->sampler);

      append_pair (line, "Sampler", webui != NULL ? webui : params->sampler);
    }
  if (params->cfg_scale >= 0)
    append_number (line, "CFG scale", params->cfg_scale);
  if (params->seed >= 0)
    {
      char text[32];

      g_snprintf (text, sizeof text, "%" G_GINT64_FORMAT, params->seed);
      append_pair (line, "Seed", text);
    }
  if (params->width > 0 && params->height > 0)
    {
      char text[32];

      g_snprintf (text, sizeof text, "%dx%d", params->width, params->height);
      append_pair (line, "Size", text);
    }
  if (params->model_hash != NULL)
    append_pair (line, "Model hash", params->model_hash);
  if (params->model != NULL)
    append_pair (line, "Model", params->model);
  if (params->denoising_strength >= 0)
    append_number (line, "Denoising strength", params->denoising_strength);
  for (guint i = 0; i < params->extra->len; i++)
    {
      const DfParamsExtra *e = g_ptr_array_index (params->extra, i);

      append_pair (line, e->key, e->value);
    }

  s = g_string_new (params->prompt != NULL ? params->prompt : "");
  if (params->negative_prompt != NULL && params->negative_prompt[0] != '\0')
    g_string_append_printf (s, "\nNegative prompt: %s", params->negative_prompt);
  if (line->len > 0)
    {
      if (s->len > 0)
        g_string_append_c (s, '\n');
      g_string_append_len (s, line->str, (gssize) line->len);
    }
  return g_string_free (s, FALSE);
}

/* ------------------------------------------------------------------------
 * Reading
 * ------------------------------------------------------------------------ */

/* Decodes a JSON string literal (with its quotes) from [start, end);
 * NULL when it is not one. */
static char *
json_unquote (const char *start, const char *end)
{
  g_autoptr (GString) s = NULL;

  if (end - start < 2 || start[0] != '"' || end[-1] != '"')
    return NULL;
  s = g_string_new (NULL);
  for (const char *c = start + 1; c < end - 1; c++)
    {
      if (*c != '\\')
        {
          g_string_append_c (s, *c);
          continue;
        }
      if (++c >= end - 1)
        return NULL;
      switch (*c)
        {
        case '"': g_string_append_c (s, '"'); break;
        case '\\': g_string_append_c (s, '\\'); break;
        case '/': g_string_append_c (s, '/'); break;
        case 'b': g_string_append_c (s, '\b'); break;
        case 'f': g_string_append_c (s, '\f'); break;
        case 'n': g_string_append_c (s, '\n'); break;
        case 'r': g_string_append_c (s, '\r'); break;
        case 't': g_string_append_c (s, '\t'); break;
        case 'u':
          {
            gunichar u = 0;

            if (end - 1 - c < 5)
              return NULL;
            for (int k = 1; k <= 4; k++)
              {
                int d = g_ascii_xdigit_value (c[k]);

                if (d < 0)
                  return NULL;
                u = u * 16 + (gunichar) d;
              }
            c += 4;
            /* A surrogate pair written as two escapes. */
            if (u >= 0xd800 && u < 0xdc00 && end - 1 - c >= 7 && c[1] == '\\' && c[2] == 'u')
              {
                gunichar lo = 0;
                gboolean ok = TRUE;

                for (int k = 3; k <= 6; k++)
                  {
                    int d = g_ascii_xdigit_value (c[k]);

                    if (d < 0)
                      ok = FALSE;
                    else
                      lo = lo * 16 + (gunichar) d;
                  }
                if (ok && lo >= 0xdc00 && lo < 0xe000)
                  {
                    u = 0x10000 + ((u - 0xd800) << 10) + (lo - 0xdc00);
                    c += 6;
                  }
              }
            if (!g_unichar_validate (u) || u == 0)
              return NULL;
            g_string_append_unichar (s, u);
            break;
          }
        default:
          return NULL;
        }
    }
  return g_string_free (g_steal_pointer (&s), FALSE);
}

/* Splits a settings line into key/value pairs, in order, the way the web
 * UIs' pattern matches it: `key: value` separated by commas, a value either
 * a JSON string or anything up to the next comma.  Text that is not a pair
 * is skipped up to the next comma. */
static GPtrArray *
split_settings (const char *line, int *n_skipped)
{
  GPtrArray *pairs = g_ptr_array_new_with_free_func (extra_free);
  const char *p = line;

  while (*p)
    {
      const char *key_start, *key_end, *v, *v_end;
      DfParamsExtra *e;
      char *value = NULL;

      while (*p == ' ' || *p == '\t')
        p++;
      if (*p == '\0')
        break;
      key_start = p;
      if (key_char (*p, TRUE))
        while (*p && key_char (*p, FALSE))
          p++;
      key_end = p;
      while (key_end > key_start && key_end[-1] == ' ')
        key_end--;
      if (key_end - key_start < 2 || *p != ':')
        {
          /* Not a pair: skip to the next comma. */
          if (n_skipped != NULL)
            (*n_skipped)++;
          while (*p && *p != ',')
            p++;
          if (*p == ',')
            p++;
          continue;
        }
      p++;
      while (*p == ' ' || *p == '\t')
        p++;

      v = p;
      if (*v == '"')
        {
          const char *q = v + 1;

          while (*q && *q != '"')
            q += (*q == '\\' && q[1] != '\0') ? 2 : 1;
          if (*q == '"')
            {
              const char *after = q + 1;

              while (*after == ' ' || *after == '\t')
                after++;
              if (*after == ',' || *after == '\0')
                {
                  value = json_unquote (v, q + 1);
                  if (value == NULL)
                    value = g_strndup (v, (gsize) (q + 1 - v));
                  p = after;
                }
            }
        }
      if (value == NULL)
        {
          v_end = v;
          while (*v_end && *v_end != ',')
            v_end++;
          p = v_end;
          while (v_end > v && g_ascii_isspace (v_end[-1]))
            v_end--;
          value = g_strndup (v, (gsize) (v_end - v));
        }
      if (*p == ',')
        p++;

      e = g_new (DfParamsExtra, 1);
      e->key = g_strndup (key_start, (gsize) (key_end - key_start));
      e->value = value;
      g_ptr_array_add (pairs, e);
    }
  return pairs;
}

static gboolean
parse_double (const char *s, double *out)
{
  char *end = NULL;
  double v;

  if (*s == '\0')
    return FALSE;
  v = g_ascii_strtod (s, &end);
  if (*end != '\0' || !isfinite (v) || v < 0)
    return FALSE;
  *out = v;
  return TRUE;
}

static gboolean
parse_int (const char *s, gint64 max, gint64 *out)
{
  return g_ascii_string_to_signed (s, 10, 0, max, out, NULL);
}

static gboolean
parse_size (const char *s, int *w, int *h)
{
  g_auto (GStrv) parts = g_strsplit (s, "x", 2);
  gint64 a, b;

  if (g_strv_length (parts) != 2 || !parse_int (parts[0], DF_IMAGE_MAX_SIZE, &a)
      || !parse_int (parts[1], DF_IMAGE_MAX_SIZE, &b) || a == 0 || b == 0)
    return FALSE;
  *w = (int) a;
  *h = (int) b;
  return TRUE;
}

/* Takes one pair into a known field; FALSE leaves it for the extras. */
static gboolean
take_known (DfParams *p, const DfParamsExtra *e)
{
  const char *k = e->key;
  gint64 n;
  double d;

  if (g_ascii_strcasecmp (k, "Steps") == 0 && p->steps == 0)
    {
      if (!parse_int (e->value, 1000000, &n) || n == 0)
        return FALSE;
      p->steps = (int) n;
      return TRUE;
    }
  if (g_ascii_strcasecmp (k, "Sampler") == 0 && p->sampler == NULL && e->value[0] != '\0')
    {
      p->sampler = g_strdup (e->value); /* mapped once the schedule type is known */
      return TRUE;
    }
  if (g_ascii_strcasecmp (k, "CFG scale") == 0 && p->cfg_scale < 0)
    return parse_double (e->value, &p->cfg_scale);
  if (g_ascii_strcasecmp (k, "Seed") == 0 && p->seed < 0)
    {
      if (!parse_int (e->value, G_MAXINT64, &n))
        return FALSE;
      p->seed = n;
      return TRUE;
    }
  if (g_ascii_strcasecmp (k, "Size") == 0 && p->width == 0)
    return parse_size (e->value, &p->width, &p->height);
  if (g_ascii_strcasecmp (k, "Model hash") == 0 && p->model_hash == NULL)
    {
      p->model_hash = g_strdup (e->value);
      return TRUE;
    }
  if (g_ascii_strcasecmp (k, "Model") == 0 && p->model == NULL)
    {
      p->model = g_strdup (e->value);
      return TRUE;
    }
  if (g_ascii_strcasecmp (k, "Denoising strength") == 0 && p->denoising_strength < 0)
    {
      if (!parse_double (e->value, &d))
        return FALSE;
      p->denoising_strength = d;
      return TRUE;
    }
  return FALSE;
}

static void
parse_settings (DfParams *p, const char *line)
{
  g_autoptr (GPtrArray) pairs = split_settings (line, NULL);
  int schedule = -1; /* index into p->extra */

  for (guint i = 0; i < pairs->len; i++)
    {
      DfParamsExtra *e = g_ptr_array_index (pairs, i);

      if (take_known (p, e))
        continue;
      if (schedule < 0 && g_ascii_strcasecmp (e->key, "Schedule type") == 0)
        schedule = (int) p->extra->len;
      /* Move the pair over as is. */
      g_ptr_array_add (p->extra, e);
      pairs->pdata[i] = NULL;
    }

  if (p->sampler != NULL)
    {
      const char *sched = NULL;
      const char *ours;

      if (schedule >= 0)
        sched = ((DfParamsExtra *) g_ptr_array_index (p->extra, schedule))->value;
      ours = sched != NULL ? df_sampler_from_webui (p->sampler, sched) : NULL;
      if (ours != NULL)
        g_ptr_array_remove_index (p->extra, (guint) schedule); /* folded in */
      else
        ours = df_sampler_from_webui (p->sampler, NULL);
      if (ours != NULL)
        df_params_set_sampler (p, ours);
    }
}

static const char *const known_keys[] = {
  "Steps", "Sampler", "CFG scale", "Seed", "Size", "Model hash", "Model", "Denoising strength",
};

/* The web UIs take a last line of three or more pairs as settings; we
 * also take a shorter one that is nothing but pairs, one of them ours,
 * so that whatever df_params_to_text() writes reads back. */
static gboolean
is_settings_line (const char *line)
{
  int skipped = 0;
  g_autoptr (GPtrArray) pairs = split_settings (line, &skipped);

  if (pairs->len >= 3 || g_str_has_prefix (line, "Steps:"))
    return TRUE;
  if (skipped > 0)
    return FALSE;
  for (guint i = 0; i < pairs->len; i++)
    for (size_t k = 0; k < G_N_ELEMENTS (known_keys); k++)
      if (g_ascii_strcasecmp (((DfParamsExtra *) g_ptr_array_index (pairs, i))->key,
                              known_keys[k])
          == 0)
        return TRUE;
  return FALSE;
}

static void
append_line (GString *s, const char *line)
{
  if (s->len > 0)
    g_string_append_c (s, '\n');
  g_string_append (s, line);
}

DfParams *
df_params_parse (const char *text, GError **error)
{
  g_autoptr (DfParams) p = NULL;
  g_autoptr (GString) norm = NULL;
  g_autoptr (GString) prompt = NULL;
  g_autoptr (GString) negative = NULL;
  g_auto (GStrv) lines = NULL;
  guint n_lines;
  gboolean in_negative = FALSE;

  g_return_val_if_fail (text != NULL, NULL);

  if (!g_utf8_validate (text, -1, NULL))
    {
      g_set_error (error, DF_ERROR, DF_ERROR_INVALID_ARGUMENT,
                   "The generation parameters are not valid UTF-8 text");
      return NULL;
    }

  /* Line endings to \n (Windows \r\n and old Mac \r); refuse binary. */
  norm = g_string_sized_new (strlen (text));
  for (const char *c = text; *c; c++)
    {
      if (*c == '\r')
        {
          g_string_append_c (norm, '\n');
          if (c[1] == '\n')
            c++;
          continue;
        }
      if (((guchar) *c < 0x20 && *c != '\n' && *c != '\t') || *c == 0x7f)
        {
          g_set_error (error, DF_ERROR, DF_ERROR_INVALID_ARGUMENT,
                       "The generation parameters hold a control character (0x%02x)",
                       (guchar) *c);
          return NULL;
        }
      g_string_append_c (norm, *c);
    }
  g_strstrip (norm->str);
  if (norm->str[0] == '\0')
    {
      g_set_error (error, DF_ERROR, DF_ERROR_INVALID_ARGUMENT,
                   "The generation parameters are empty");
      return NULL;
    }

  p = df_params_new ();
  lines = g_strsplit (norm->str, "\n", -1);
  n_lines = g_strv_length (lines);
  {
    const char *last = lines[n_lines - 1];

    if (is_settings_line (last))
      {
        parse_settings (p, last);
        n_lines--;
      }
  }

  prompt = g_string_new (NULL);
  negative = g_string_new (NULL);
  for (guint i = 0; i < n_lines; i++)
    {
      const char *line = lines[i];

      if (!in_negative && g_str_has_prefix (line, "Negative prompt:"))
        {
          in_negative = TRUE;
          line += strlen ("Negative prompt:");
          while (*line == ' ' || *line == '\t')
            line++;
          g_string_append (negative, line);
          continue;
        }
      append_line (in_negative ? negative : prompt, line);
    }
  /* Blank lines before "Negative prompt:" or the settings are layout. */
  df_params_set_prompt (p, g_strchomp (prompt->str));
  df_params_set_negative_prompt (p, g_strchomp (negative->str));
  return g_steal_pointer (&p);
}

DfParams *
df_params_load_png (const char *path, GError **error)
{
  g_autofree char *text = df_png_read_parameters (path, error);
  g_autoptr (GError) local = NULL;
  DfParams *p;

  if (text == NULL)
    return NULL;
  p = df_params_parse (text, &local);
  if (p == NULL)
    g_set_error (error, DF_ERROR, DF_ERROR_INVALID_ARGUMENT, "“%s”: %s", path,
                 local->message);
  return p;
}

/* ------------------------------------------------------------------------
 * Model hash
 * ------------------------------------------------------------------------ */

char *
df_model_hash (const char *path, GError **error)
{
  g_autoptr (GChecksum) sum = g_checksum_new (G_CHECKSUM_SHA256);
  g_autofree guchar *buf = NULL;
  const size_t chunk = 1 << 20;
  FILE *fp;
  size_t n;
  int saved;

  g_return_val_if_fail (path != NULL, NULL);

  fp = fopen (path, "rb");
  if (fp == NULL)
    {
      saved = errno;
      g_set_error (error, DF_ERROR, DF_ERROR_IO, "Could not open “%s”: %s", path,
                   g_strerror (saved));
      return NULL;
    }
  buf = g_malloc (chunk);
  while ((n = fread (buf, 1, chunk, fp)) > 0)
    g_checksum_update (sum, buf, (gssize) n);
  if (ferror (fp))
    {
      saved = errno;
      fclose (fp);
      g_set_error (error, DF_ERROR, DF_ERROR_IO, "Could not read “%s”: %s", path,
                   g_strerror (saved));
      return NULL;
    }
  fclose (fp);
  return g_strndup (g_checksum_get_string (sum), 10);
}
