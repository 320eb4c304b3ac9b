// Device probe and error helpers shared by every kvwalk addon (binding layer only: uses Node-API).
#pragma once
#include <napi.h>
#include <string>
#ifdef KVWALK_WITH_CUDA
#include <cuda_runtime.h>
#endif

namespace kvwalk {

inline bool cuda_compiled() {
#ifdef KVWALK_WITH_CUDA
  return true;
#else
  return false;
#endif
}

#ifdef KVWALK_WITH_CUDA
// Throws a JS Error naming the operation and CUDA's message; never aborts the process.
inline void check_cuda(Napi::Env env, cudaError_t err, const char* op) {
  if (err != cudaSuccess) {
    std::string msg = std::string("CUDA error in ") + op + ": " + cudaGetErrorName(err) + " (" + cudaGetErrorString(err) + ")";
    throw Napi::Error::New(env, msg);
  }
}
#endif

// { ok: true, device: {...} } or { ok: false, kind, error } without throwing.
inline Napi::Value probe_device(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  Napi::Object out = Napi::Object::New(env);
#ifdef KVWALK_WITH_CUDA
  int count = 0;
  cudaError_t err = cudaGetDeviceCount(&count);
  if (err != cudaSuccess) {
    out.Set("ok", false);
    out.Set("kind", err == cudaErrorNoDevice ? "no device" : (err == cudaErrorInsufficientDriver ? "no driver" : "CUDA initialisation failed"));
    out.Set("error", std::string(cudaGetErrorName(err)) + " (" + std::to_string(static_cast<int>(err)) + "): " + cudaGetErrorString(err));
    cudaGetLastError();
    return out;
  }
  if (count == 0) {
    out.Set("ok", false);
    out.Set("kind", "no device");
    out.Set("error", "cudaGetDeviceCount returned 0");
    return out;
  }
  int dev = 0;
  cudaGetDevice(&dev);
  cudaDeviceProp prop{};
  err = cudaGetDeviceProperties(&prop, dev);
  if (err != cudaSuccess) {
    out.Set("ok", false);
    out.Set("kind", "no device");
    out.Set("error", std::string(cudaGetErrorName(err)) + ": " + cudaGetErrorString(err));
    return out;
  }
  int driver = 0, runtime = 0;
  cudaDriverGetVersion(&driver);
  cudaRuntimeGetVersion(&runtime);
  Napi::Object d = Napi::Object::New(env);
  d.Set("name", prop.name);
  d.Set("computeCapability", std::to_string(prop.major) + "." + std::to_string(prop.minor));
  d.Set("totalMemoryBytes", static_cast<double>(prop.totalGlobalMem));
  d.Set("multiprocessors", prop.multiProcessorCount);
  d.Set("driverVersion", driver);
  d.Set("runtimeVersion", runtime);
  out.Set("ok", true);
  out.Set("device", d);
#else
  out.Set("ok", false);
  out.Set("kind", "not compiled");
  out.Set("error", "addon built without CUDA");
#endif
  return out;
}

inline void export_probe(Napi::Env env, Napi::Object exports) {
  exports.Set("cudaCompiled", Napi::Function::New(env, [](const Napi::CallbackInfo& info) { return Napi::Boolean::New(info.Env(), cuda_compiled()); }));
  exports.Set("probeDevice", Napi::Function::New(env, probe_device));
}

}  // namespace kvwalk
