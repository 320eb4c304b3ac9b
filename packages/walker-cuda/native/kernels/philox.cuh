// Philox4x32-10 (Salmon et al., SC'11), the CUDA/C++ twin of src/philox.ts: the same counter and key
// give the same four words on host and device (tests compare against Random123's known answers).
#pragma once
#include <cstdint>

#if defined(__CUDACC__)
#define KVWALK_HD __host__ __device__ __forceinline__
#else
#define KVWALK_HD inline
#endif

namespace kvwalk {

struct Philox4 {
  uint32_t x[4];
};

// High word of the exact 64-bit product of two uint32.
KVWALK_HD uint32_t mulhi32(uint32_t a, uint32_t b) {
#if defined(__CUDA_ARCH__)
  return __umulhi(a, b);
#else
  return static_cast<uint32_t>((static_cast<uint64_t>(a) * b) >> 32);
#endif
}

// Ten rounds; round r uses key (k0 + r*W0, k1 + r*W1).
KVWALK_HD Philox4 philox4x32_10(uint32_t c0, uint32_t c1, uint32_t c2, uint32_t c3, uint32_t k0, uint32_t k1) {
  constexpr uint32_t M0 = 0xD2511F53u, M1 = 0xCD9E8D57u, W0 = 0x9E3779B9u, W1 = 0xBB67AE85u;
#if defined(__CUDA_ARCH__)
#pragma unroll
#endif
  for (int r = 0; r < 10; ++r) {
    const uint32_t hi0 = mulhi32(M0, c0), lo0 = M0 * c0;
    const uint32_t hi1 = mulhi32(M1, c2), lo1 = M1 * c2;
    c0 = hi1 ^ c1 ^ k0;
    c1 = lo1;
    c2 = hi0 ^ c3 ^ k1;
    c3 = lo0;
    k0 += W0;
    k1 += W1;
  }
  return Philox4{{c0, c1, c2, c3}};
}

}  // namespace kvwalk
