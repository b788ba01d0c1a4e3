/* floats: float-heavy kernel that produces NaNs on purpose, to show where
 * engines may differ (WebAssembly leaves the sign and payload of a NaN
 * produced by arithmetic nondeterministic) and to prove that NaN
 * canonicalisation makes results bit-identical.
 *
 * Part 1 prints one line per probe: the operation, the result's raw bits
 * (hex) and its value with %g. Inputs come through volatiles so nothing is
 * folded at compile time. Part 2 runs N rounds of a float/double iteration
 * in which NaNs arise and propagate (and are sometimes replaced again), and
 * prints two checksums:
 *   value_checksum: FNV over the results with every NaN replaced by one
 *                   fixed pattern: identical on every engine;
 *   raw_checksum:   FNV over the raw bits: identical across engines only if
 *                   NaNs are canonicalised.
 * Part 2 uses only IEEE-exact operations (+ - * / sqrt trunc min max), so
 * value_checksum is also what a native build prints. Default N = 6000000.
 */
#include <math.h>
#include "common.h"

volatile double vzero = 0.0, vone = 1.0, vminus1 = -1.0, vinf = INFINITY, vtwo = 2.0;
volatile float fzero = 0.0f, fone = 1.0f, fminus1 = -1.0f, finf = INFINITY;
volatile uint64_t snan_bits = 0x7ff4000000000001ULL, qnan_payload_bits = 0x7ff8dead0000beefULL,
                  neg_nan_bits = 0xfff8000000000000ULL;
volatile uint32_t fsnan_bits = 0x7fa00001u, fqnan_payload_bits = 0x7fc0beefu;

static double from_bits(uint64_t u) { double d; memcpy(&d, &u, 8); return d; }
static float from_fbits(uint32_t u) { float f; memcpy(&f, &u, 4); return f; }

static void pd(const char *what, double d) {
    printf("f64 %-28s %016llx %g\n", what, (unsigned long long)dbits(d), d);
}
static void pf(const char *what, float f) {
    printf("f32 %-28s %08x %g\n", what, fbits(f), (double)f);
}

#ifdef __wasm__
#define MIN64(a, b) __builtin_wasm_min_f64(a, b)
#define MAX64(a, b) __builtin_wasm_max_f64(a, b)
#define MIN32(a, b) __builtin_wasm_min_f32(a, b)
#define MAX32(a, b) __builtin_wasm_max_f32(a, b)
#else
/* wasm semantics: NaN if either is NaN (native result is one of the inputs' NaN) */
static double MIN64(double a, double b) { return a != a ? a + b : b != b ? a + b : (a < b || (a == b && signbit(a))) ? a : b; }
static double MAX64(double a, double b) { return a != a ? a + b : b != b ? a + b : (a > b || (a == b && !signbit(a))) ? a : b; }
static float MIN32(float a, float b) { return a != a ? a + b : b != b ? a + b : (a < b || (a == b && signbit(a))) ? a : b; }
static float MAX32(float a, float b) { return a != a ? a + b : b != b ? a + b : (a > b || (a == b && !signbit(a))) ? a : b; }
#endif

static uint64_t canon64(double d) { return d != d ? 0x7ff8000000000000ULL : dbits(d); }
static uint32_t canon32(float f) { return f != f ? 0x7fc00000u : fbits(f); }

int main(int argc, char **argv) {
    long n = arg_size(argc, argv, 6000000);
    double snan = from_bits(snan_bits), pnan = from_bits(qnan_payload_bits), nnan = from_bits(neg_nan_bits);
    float fsnan = from_fbits(fsnan_bits), fpnan = from_fbits(fqnan_payload_bits);

    /* Part 1: probes */
    pd("0/0", vzero / vzero);
    pd("-(0/0)", -(vzero / vzero));
    pd("sqrt(-1)", sqrt(vminus1));
    pd("inf-inf", vinf - vinf);
    pd("inf*0", vinf * vzero);
    pd("fmod(1,0)", fmod(vone, vzero));
    pd("snan+1", snan + vone);
    pd("payload_nan*2", pnan * vtwo);
    pd("neg_nan+0", nnan + vzero);
    pd("1+payload_nan", vone + pnan);
    pd("payload_nan+snan", pnan + snan);
    pd("-payload_nan", -pnan);
    pd("fabs(neg_nan)", fabs(nnan));
    pd("copysign(payload_nan,-1)", copysign(pnan, vminus1));
    pd("fmin(nan,1) libc", fmin(vzero / vzero, vone));
    pd("fmax(1,nan) libc", fmax(vone, vzero / vzero));
    pd("f64.min(nan,1)", MIN64(vzero / vzero, vone));
    pd("f64.max(1,payload_nan)", MAX64(vone, pnan));
    pd("f64.min(-0,0)", MIN64(-vzero, vzero));
    pd("floor(payload_nan)", floor(pnan));
    pd("trunc(snan)", trunc(snan));
    pd("nearest(payload_nan)", nearbyint(pnan));
    pd("sqrt(payload_nan)", sqrt(pnan));
    pd("promote(f32 payload_nan)", (double)fpnan);
    pd("promote(f32 snan)", (double)fsnan);
    pf("demote(f64 payload_nan)", (float)pnan);
    pf("0/0", fzero / fzero);
    pf("sqrt(-1)", sqrtf(fminus1));
    pf("inf-inf", finf - finf);
    pf("snan*1", fsnan * fone);
    pf("payload_nan+1", fpnan + fone);
    pf("f32.min(payload_nan,1)", MIN32(fpnan, fone));
    pf("f32.max(nan,1)", MAX32(fzero / fzero, fone));
    pf("fminf(nan,1) libc", fminf(fzero / fzero, fone));

    /* Part 2: N rounds of arithmetic where NaNs arise and propagate */
    uint64_t s = 11;
    uint64_t hv = MIX_INIT, hr = MIX_INIT;
    double acc = 0.5, prev = 1.0;
    float facc = 0.25f;
    long nans = 0;
    for (long i = 0; i < n; i++) {
        uint64_t r = rng_next(&s);
        double x = (double)(int32_t)(uint32_t)r / 1073741824.0; /* [-2, 2) */
        double y;
        switch ((r >> 32) & 7) {
        case 0: y = sqrt(x); break;                  /* NaN for x < 0 */
        case 1: y = (x - x) / (x - x); break;        /* 0/0 always */
        case 2: y = sqrt(x + 1.5) * (x - 0.25); break; /* NaN for x < -1.5 */
        case 3: y = acc * x + prev; break;           /* propagates */
        case 4: y = MIN64(acc, x); break;             /* wasm min: NaN wins */
        case 5: y = (x * 1e300) * (x * 1e300) - (x * 1e300) * (x * 1e300); break; /* inf-inf */
        case 6: y = x - acc * trunc(x / acc); break; /* NaN if acc is 0, inf or NaN */
        default: y = x / (prev - prev); break;       /* +-inf or NaN */
        }
        float fy = (float)y * facc - (float)x;
        if (fy != fy) nans++;
        hv = mix64(hv, canon64(y));
        hv = mix64(hv, canon32(fy));
        hr = mix64(hr, dbits(y));
        hr = mix64(hr, fbits(fy));
        prev = y;
        acc = (acc != acc || acc > 1e10 || acc < -1e10) ? x : acc * 0.999 + y * 0.001;
        facc = (facc != facc || facc > 1e10f || facc < -1e10f) ? (float)x : MAX32(facc * 0.5f, fy);
    }
    printf("floats n=%ld nans=%ld value_checksum=%016llx raw_checksum=%016llx\n", n, nans,
           (unsigned long long)hv, (unsigned long long)hr);
    return 0;
}
