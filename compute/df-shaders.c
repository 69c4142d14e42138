/* df-shaders.c — the table of embedded SPIR-V, generated from
 * shaders/meson.build. */
#define DF_SHADER_TABLE_CODE
#include "df-private.h"

static const DfShaderCode shader_table[DF_SHADER_COUNT] = {
#define DF_SHADER_ROW(name) [DF_SHADER_##name] = { #name, df_spv_##name, sizeof (df_spv_##name) },
  DF_SHADER_LIST (DF_SHADER_ROW)
#undef DF_SHADER_ROW
};

const DfShaderCode *
df_shader_get (DfShaderId id)
{
  g_assert ((int) id >= 0 && id < DF_SHADER_COUNT);
  return &shader_table[id];
}
