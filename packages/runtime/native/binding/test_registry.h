// Kernel-test bindings registered by addon.cc (one declaration per binding file).
#pragma once
#include <napi.h>

void register_gemm_tests(Napi::Env env, Napi::Object exports);
void register_kernel_tests(Napi::Env env, Napi::Object exports);
void register_evict_tests(Napi::Env env, Napi::Object exports);
void register_prefill_score_tests(Napi::Env env, Napi::Object exports);
