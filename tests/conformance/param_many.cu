/* param_many.cu: a kernel with 48 parameters of twelve scalar types in an order that needs padding
 * between them (char before long long, bool before double, ...), plus a pointer last; every value
 * written back and compared with the host's. The parameter list was written out by a script once. */
#include "check.h"

__global__ void many(char p0,
                     double p1,
                     bool p2,
                     long long p3,
                     unsigned p4,
                     short p5,
                     unsigned char p6,
                     signed char p7,
                     float p8,
                     unsigned long long p9,
                     int p10,
                     unsigned short p11,
                     char p12,
                     double p13,
                     bool p14,
                     long long p15,
                     unsigned p16,
                     short p17,
                     unsigned char p18,
                     signed char p19,
                     float p20,
                     unsigned long long p21,
                     int p22,
                     unsigned short p23,
                     char p24,
                     double p25,
                     bool p26,
                     long long p27,
                     unsigned p28,
                     short p29,
                     unsigned char p30,
                     signed char p31,
                     float p32,
                     unsigned long long p33,
                     int p34,
                     unsigned short p35,
                     char p36,
                     double p37,
                     bool p38,
                     long long p39,
                     unsigned p40,
                     short p41,
                     unsigned char p42,
                     signed char p43,
                     float p44,
                     unsigned long long p45,
                     int p46,
                     unsigned short p47,
                     double *out)
{
    out[0] = (double)p0;
    out[1] = (double)p1;
    out[2] = (double)p2;
    out[3] = (double)p3;
    out[4] = (double)p4;
    out[5] = (double)p5;
    out[6] = (double)p6;
    out[7] = (double)p7;
    out[8] = (double)p8;
    out[9] = (double)p9;
    out[10] = (double)p10;
    out[11] = (double)p11;
    out[12] = (double)p12;
    out[13] = (double)p13;
    out[14] = (double)p14;
    out[15] = (double)p15;
    out[16] = (double)p16;
    out[17] = (double)p17;
    out[18] = (double)p18;
    out[19] = (double)p19;
    out[20] = (double)p20;
    out[21] = (double)p21;
    out[22] = (double)p22;
    out[23] = (double)p23;
    out[24] = (double)p24;
    out[25] = (double)p25;
    out[26] = (double)p26;
    out[27] = (double)p27;
    out[28] = (double)p28;
    out[29] = (double)p29;
    out[30] = (double)p30;
    out[31] = (double)p31;
    out[32] = (double)p32;
    out[33] = (double)p33;
    out[34] = (double)p34;
    out[35] = (double)p35;
    out[36] = (double)p36;
    out[37] = (double)p37;
    out[38] = (double)p38;
    out[39] = (double)p39;
    out[40] = (double)p40;
    out[41] = (double)p41;
    out[42] = (double)p42;
    out[43] = (double)p43;
    out[44] = (double)p44;
    out[45] = (double)p45;
    out[46] = (double)p46;
    out[47] = (double)p47;
}

int main(void)
{
    check_begin("param_many");
    double *d_out;
    cudaMalloc(&d_out, 48 * sizeof(double));
    cudaMemset(d_out, 0, 48 * sizeof(double));
    many<<<1, 1>>>((char)(-120),
                        (double)(-83) * 0.125,
                        (bool)((-46) & 1),
                        (long long)(-9) * 1000000007LL,
                        (unsigned)(28) * 65537u,
                        (short)(65),
                        (unsigned char)(102),
                        (signed char)(-112),
                        (float)(-75) * 0.5f,
                        (unsigned long long)(-38) << 33,
                        (int)(-1),
                        (unsigned short)(36),
                        (char)(73),
                        (double)(110) * 0.125,
                        (bool)((-104) & 1),
                        (long long)(-67) * 1000000007LL,
                        (unsigned)(-30) * 65537u,
                        (short)(7),
                        (unsigned char)(44),
                        (signed char)(81),
                        (float)(118) * 0.5f,
                        (unsigned long long)(-96) << 33,
                        (int)(-59),
                        (unsigned short)(-22),
                        (char)(15),
                        (double)(52) * 0.125,
                        (bool)((89) & 1),
                        (long long)(126) * 1000000007LL,
                        (unsigned)(-88) * 65537u,
                        (short)(-51),
                        (unsigned char)(-14),
                        (signed char)(23),
                        (float)(60) * 0.5f,
                        (unsigned long long)(97) << 33,
                        (int)(-117),
                        (unsigned short)(-80),
                        (char)(-43),
                        (double)(-6) * 0.125,
                        (bool)((31) & 1),
                        (long long)(68) * 1000000007LL,
                        (unsigned)(105) * 65537u,
                        (short)(-109),
                        (unsigned char)(-72),
                        (signed char)(-35),
                        (float)(2) * 0.5f,
                        (unsigned long long)(39) << 33,
                        (int)(76),
                        (unsigned short)(113),
                        d_out);
    expect_ok("launch", cudaGetLastError());
    double got[48];
    expect_ok("copy", cudaMemcpy(got, d_out, sizeof(got), cudaMemcpyDeviceToHost));
    const double want[48] = {
        (double)((char)(-120)),
        (double)((double)(-83) * 0.125),
        (double)((bool)((-46) & 1)),
        (double)((long long)(-9) * 1000000007LL),
        (double)((unsigned)(28) * 65537u),
        (double)((short)(65)),
        (double)((unsigned char)(102)),
        (double)((signed char)(-112)),
        (double)((float)(-75) * 0.5f),
        (double)((unsigned long long)(-38) << 33),
        (double)((int)(-1)),
        (double)((unsigned short)(36)),
        (double)((char)(73)),
        (double)((double)(110) * 0.125),
        (double)((bool)((-104) & 1)),
        (double)((long long)(-67) * 1000000007LL),
        (double)((unsigned)(-30) * 65537u),
        (double)((short)(7)),
        (double)((unsigned char)(44)),
        (double)((signed char)(81)),
        (double)((float)(118) * 0.5f),
        (double)((unsigned long long)(-96) << 33),
        (double)((int)(-59)),
        (double)((unsigned short)(-22)),
        (double)((char)(15)),
        (double)((double)(52) * 0.125),
        (double)((bool)((89) & 1)),
        (double)((long long)(126) * 1000000007LL),
        (double)((unsigned)(-88) * 65537u),
        (double)((short)(-51)),
        (double)((unsigned char)(-14)),
        (double)((signed char)(23)),
        (double)((float)(60) * 0.5f),
        (double)((unsigned long long)(97) << 33),
        (double)((int)(-117)),
        (double)((unsigned short)(-80)),
        (double)((char)(-43)),
        (double)((double)(-6) * 0.125),
        (double)((bool)((31) & 1)),
        (double)((long long)(68) * 1000000007LL),
        (double)((unsigned)(105) * 65537u),
        (double)((short)(-109)),
        (double)((unsigned char)(-72)),
        (double)((signed char)(-35)),
        (double)((float)(2) * 0.5f),
        (double)((unsigned long long)(39) << 33),
        (double)((int)(76)),
        (double)((unsigned short)(113))};
    for (int k = 0; k < 48; k++) {
        char name[32];
        snprintf(name, sizeof(name), "param_%d", k);
        check_report(name, got[k] == want[k], "expected %.17g got %.17g", want[k], got[k]);
    }
    cudaFree(d_out);
    return check_end();
}
