/* Workgroup sum and maximum for the normalisation and softmax shaders.  The workgroup size must be
 * a power of two (the C side picks it) and every invocation must call
 * df_reduce_sum in uniform control flow.
 *
 * Include this after DF_WORKGROUP_LAYOUT: before that declaration
 * glslang takes gl_WorkGroupSize as the constant (1, 1, 1) and folds it,
 * silently making a one-element array and a reduction that does nothing. */
#ifndef DF_REDUCE_GLSL
#define DF_REDUCE_GLSL

shared float df_red[gl_WorkGroupSize.x];

float
df_reduce_sum (float v)
{
  uint lid = gl_LocalInvocationID.x;

  df_red[lid] = v;
  barrier ();
  for (uint s = gl_WorkGroupSize.x / 2; s > 0; s >>= 1)
    {
      if (lid < s)
        df_red[lid] += df_red[lid + s];
      barrier ();
    }
  float sum = df_red[0];
  /* everyone has read df_red[0] before the next call overwrites it */
  barrier ();
  return sum;
}

float
df_reduce_max (float v)
{
  uint lid = gl_LocalInvocationID.x;

  df_red[lid] = v;
  barrier ();
  for (uint s = gl_WorkGroupSize.x / 2; s > 0; s >>= 1)
    {
      if (lid < s)
        df_red[lid] = max (df_red[lid], df_red[lid + s]);
      barrier ();
    }
  float m = df_red[0];
  barrier ();
  return m;
}

#endif /* DF_REDUCE_GLSL */
