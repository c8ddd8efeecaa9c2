// SIMD intrinsics built on the PTX video instructions (vabsdiff4 and friends).
extern "C" __global__ void simd(const unsigned *in, unsigned *out)
{
    unsigned a = in[0], b = in[1];
    out[0] = __vabsdiffu4(a, b);
    out[1] = __vsads4(a, b);
    out[2] = __vabsdiffs4(a, b);
    out[3] = __vsadu4(a, b);
    out[4] = __vabsdiffu2(a, b);
    out[5] = __vsadu2(a, b);
}
