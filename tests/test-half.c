/* test-half.c — host fp16/bf16 conversions against known bit patterns. */
#include <math.h>

#include "df-test.h"

static void
test_half_known (void)
{
  static const struct { float f; uint16_t h; } cases[] = {
    { 0.0f, 0x0000 },       { -0.0f, 0x8000 },   { 1.0f, 0x3c00 },
    { -2.0f, 0xc000 },      { 65504.0f, 0x7bff }, { 65520.0f, 0x7c00 },
    { 1e-8f, 0x0000 },      { 5.9604645e-8f, 0x0001 }, /* smallest subnormal */
    { 6.1035156e-5f, 0x0400 }, /* smallest normal */
    { 0.333333343f, 0x3555 }, { 1.0009766f, 0x3c01 },
    { 1.00048828f, 0x3c00 }, /* halfway: ties to even */
    { 1.00146484f, 0x3c02 }, /* halfway: ties to even, up */
    { INFINITY, 0x7c00 },
  };

  for (size_t i = 0; i < G_N_ELEMENTS (cases); i++)
    {
      g_assert_cmphex (df_f32_to_f16 (cases[i].f), ==, cases[i].h);
      if (cases[i].f != 65520.0f && cases[i].f != 1e-8f && cases[i].f != 1.00048828f
          && cases[i].f != 1.00146484f && fabsf (cases[i].f) != 0.333333343f)
        g_assert_cmpfloat (df_f16_to_f32 (cases[i].h), ==, cases[i].f);
    }
  g_assert_true (isnan (df_f16_to_f32 (df_f32_to_f16 (NAN))));
  g_assert_cmpfloat (df_bf16_to_f32 (0x3f80), ==, 1.0f);
  g_assert_cmpfloat (df_bf16_to_f32 (0xc040), ==, -3.0f);
}

static void
test_half_roundtrip (void)
{
  /* every finite half survives half → float → half */
  for (uint32_t h = 0; h < 0x10000; h++)
    {
      if ((h & 0x7c00) == 0x7c00)
        continue;
      g_assert_cmphex (df_f32_to_f16 (df_f16_to_f32 ((uint16_t) h)), ==, h);
    }
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  g_test_add_func ("/half/known", test_half_known);
  g_test_add_func ("/half/roundtrip", test_half_roundtrip);
  return g_test_run ();
}
