/* epilogue.glsl — the store of matmul.comp and conv2d.comp: an output
 * element (its bias already added) plus, when p.has_residual, the residual
 * tensor at the same index, so the networks' x + f(x) needs no pass of
 * its own.  The residual may be y itself: each element is read and then
 * written by the one invocation that owns it.  With p.residual_div > 1
 * the residual holds one value per residual_div elements of y (a resnet's
 * time embedding: one per image and channel, added to every pixel).
 *
 * The includer declares y (binding 0) and res (binding 4) of type Y_T
 * (STORE_T unless it defines it) and a push block p with has_residual and
 * residual_div. */
#ifndef DF_EPILOGUE_GLSL
#define DF_EPILOGUE_GLSL

#ifndef Y_T
#define Y_T STORE_T
#endif

void
store_y (uint idx, float v)
{
  if (p.has_residual != 0)
    v += float (res[p.residual_div > 1 ? idx / p.residual_div : idx]);
  y[idx] = Y_T (v);
}

#endif /* DF_EPILOGUE_GLSL */
