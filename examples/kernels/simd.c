/* simd: explicit 128-bit SIMD (wasm_simd128.h; a scalar fallback that
 * computes lane by lane in the same order when not compiled for wasm
 * SIMD). Over arrays of N floats and N ints, 40 rounds of: f32x4 saxpy,
 * f32x4 dot product (4 lane accumulators), i32x4 multiply-add with shuffles
 * and min/max. No NaNs arise. Prints the results and their bits.
 * Default N = 2000000 (N is rounded down to a multiple of 4). */
#include "common.h"
#ifdef __wasm_simd128__
#include <wasm_simd128.h>
#endif

#define ROUNDS 40

int main(int argc, char **argv) {
    long n = arg_size(argc, argv, 2000000) & ~3L;
    if (n < 4) n = 4;
    float *x = malloc(sizeof(float) * n), *y = malloc(sizeof(float) * n);
    int32_t *p = malloc(sizeof(int32_t) * n), *q = malloc(sizeof(int32_t) * n);
    if (!x || !y || !p || !q) { fprintf(stderr, "out of memory\n"); return 1; }
    uint64_t s = 3;
    for (long i = 0; i < n; i++) {
        uint64_t r = rng_next(&s);
        x[i] = (float)(r & 0xffff) / 65536.0f - 0.5f;
        y[i] = (float)((r >> 16) & 0xffff) / 65536.0f - 0.5f;
        p[i] = (int32_t)(uint32_t)(r >> 32);
        q[i] = (int32_t)(uint32_t)(r >> 3);
    }
    float dots[4] = {0, 0, 0, 0};
    int32_t iacc[4] = {0, 0, 0, 0};
    for (int round = 0; round < ROUNDS; round++) {
        float a = 0.5f / (float)(round + 1);
#ifdef __wasm_simd128__
        v128_t va = wasm_f32x4_splat(a), vd = wasm_f32x4_splat(0.0f), vi = wasm_i32x4_splat(round);
        for (long i = 0; i < n; i += 4) {
            v128_t vx = wasm_v128_load(x + i), vy = wasm_v128_load(y + i);
            vy = wasm_f32x4_sub(wasm_f32x4_add(wasm_f32x4_mul(va, vx), vy), wasm_f32x4_mul(vy, wasm_f32x4_splat(0.25f)));
            wasm_v128_store(y + i, vy);
            vd = wasm_f32x4_add(vd, wasm_f32x4_mul(vx, vy));
            v128_t vp = wasm_v128_load(p + i), vq = wasm_v128_load(q + i);
            v128_t t = wasm_i32x4_add(wasm_i32x4_mul(vp, vq), wasm_i32x4_shuffle(vq, vq, 3, 2, 1, 0));
            t = wasm_v128_xor(t, wasm_i32x4_shr(vp, 7));
            wasm_v128_store(p + i, wasm_i32x4_max(t, wasm_i32x4_min(vp, vq)));
            vi = wasm_i32x4_add(vi, t);
        }
        float d[4];
        int32_t ii[4];
        wasm_v128_store(d, vd);
        wasm_v128_store(ii, vi);
        for (int k = 0; k < 4; k++) { dots[k] += d[k]; iacc[k] ^= ii[k]; }
#else
        float vd[4] = {0, 0, 0, 0};
        int32_t vi[4] = {round, round, round, round};
        for (long i = 0; i < n; i += 4) {
            int32_t t[4], vp[4], vq[4];
            for (int k = 0; k < 4; k++) {
                float vx = x[i + k], vy = y[i + k];
                float ax = a * vx;
                float s1 = ax + vy;
                float s2 = vy * 0.25f;
                vy = s1 - s2;
                y[i + k] = vy;
                float pr = vx * vy;
                vd[k] = vd[k] + pr;
                vp[k] = p[i + k];
                vq[k] = q[i + k];
            }
            for (int k = 0; k < 4; k++) {
                t[k] = (int32_t)((uint32_t)vp[k] * (uint32_t)vq[k] + (uint32_t)vq[3 - k]);
                t[k] ^= vp[k] >> 7;
                int32_t mn = vp[k] < vq[k] ? vp[k] : vq[k];
                p[i + k] = t[k] > mn ? t[k] : mn;
                vi[k] = (int32_t)((uint32_t)vi[k] + (uint32_t)t[k]);
            }
        }
        for (int k = 0; k < 4; k++) { dots[k] += vd[k]; iacc[k] ^= vi[k]; }
#endif
    }
    double dot = (double)dots[0] + dots[1] + dots[2] + dots[3];
    uint64_t h = MIX_INIT;
    for (long i = 0; i < n; i++) { h = mix64(h, fbits(y[i])); h = mix64(h, (uint32_t)p[i]); }
    printf("simd n=%ld dot=%.9g dotbits=%08x,%08x,%08x,%08x iacc=%08x,%08x,%08x,%08x checksum=%016llx\n", n, dot,
           fbits(dots[0]), fbits(dots[1]), fbits(dots[2]), fbits(dots[3]), (uint32_t)iacc[0], (uint32_t)iacc[1],
           (uint32_t)iacc[2], (uint32_t)iacc[3], (unsigned long long)h);
    return 0;
}
