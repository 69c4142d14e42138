/* epilogue.glsl — the store of matmul.comp and conv2d.comp: an output
 * element (its bias already added) plus, when p.has_residual, the residual
 * tensor at the same index, so the networks' x + f(x) needs no pass of
 * its own.  The residual may be y itself: each element is read and then
 * written by the one invocation that owns it.
 *
 * The includer declares y (binding 0) and res (binding 4) of type Y_T
 * (STORE_T unless it defines it) and a push block p with has_residual. */
#ifndef DF_EPILOGUE_GLSL
#define DF_EPILOGUE_GLSL

#ifndef Y_T
#define Y_T STORE_T
#endif

void
store_y (uint idx, float v)
{
  y[idx] = Y_T (p.has_residual != 0 ? v + float (res[idx]) : v);
}

#endif /* DF_EPILOGUE_GLSL */
