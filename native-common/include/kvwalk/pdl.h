// Programmatic dependent launch support, shared by the native packages' launchers (CUDA runtime only,
// no Node). PDL needs compute capability 9.0: the kernels' griddepcontrol instructions are compiled for
// sm_90 and later only, so older devices get a plain launch.
#pragma once
#include <cuda_runtime.h>

namespace kvwalk {

// True when the current device can run programmatic dependent launches. Queried once per process
// (a failed query counts as "no" and clears the CUDA error it left).
inline bool device_supports_pdl() {
  static int major = -1;
  if (major < 0) {
    int dev = 0, m = 0;
    if (cudaGetDevice(&dev) != cudaSuccess || cudaDeviceGetAttribute(&m, cudaDevAttrComputeCapabilityMajor, dev) != cudaSuccess) {
      cudaGetLastError();
      return false;
    }
    major = m;
  }
  return major >= 9;
}

}  // namespace kvwalk
