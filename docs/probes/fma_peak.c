/*
 * Native reference for the float32 FMA peak (docs/performance.md, "The FMA peak probe"): the same
 * loop as daguerre.diffusion.bench.PeakFlops, 12 independent 8-wide AVX2 FMA chains per thread,
 * one thread per CPU, best of 5 rounds, printed in GFLOP/s. Not part of the build: bench needs no
 * compiler. Build and run:
 *
 *   gcc -O3 -mavx2 -mfma -pthread docs/probes/fma_peak.c -o /tmp/fma_peak && /tmp/fma_peak [iterations [threads]]
 */
#include <immintrin.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>
#include <unistd.h>

#define CHAINS 12

static long iterations;

static void *loop(void *result) {
  __m256 m = _mm256_set1_ps(0.999999f), c = _mm256_set1_ps(1e-7f);
  __m256 a[CHAINS];
  for (int k = 0; k < CHAINS; k++) a[k] = _mm256_set1_ps(1.0f);
  for (long i = 0; i < iterations; i++) {
#pragma GCC unroll 12
    for (int k = 0; k < CHAINS; k++) a[k] = _mm256_fmadd_ps(m, c, a[k]);
  }
  __m256 s = a[0];
  for (int k = 1; k < CHAINS; k++) s = _mm256_add_ps(s, a[k]);
  float f[8];
  _mm256_storeu_ps(f, s);
  *(float *)result = f[0];
  return NULL;
}

int main(int argc, char **argv) {
  iterations = argc > 1 ? atol(argv[1]) : 40000000L;
  int threads = argc > 2 ? atoi(argv[2]) : (int)sysconf(_SC_NPROCESSORS_ONLN);
  if (threads < 1 || threads > 256) return 1;
  pthread_t t[256];
  float out[256];
  double best = 0;
  for (int r = 0; r < 5; r++) {
    struct timespec s, e;
    clock_gettime(CLOCK_MONOTONIC, &s);
    for (int i = 0; i < threads; i++) pthread_create(&t[i], NULL, loop, &out[i]);
    for (int i = 0; i < threads; i++) pthread_join(t[i], NULL);
    clock_gettime(CLOCK_MONOTONIC, &e);
    double seconds = (e.tv_sec - s.tv_sec) + (e.tv_nsec - s.tv_nsec) / 1e9;
    double gflops = 2.0 * CHAINS * 8 * iterations * threads / seconds / 1e9;
    if (gflops > best && out[0] == out[0]) best = gflops;
  }
  printf("%.1f\n", best);
  return 0;
}
