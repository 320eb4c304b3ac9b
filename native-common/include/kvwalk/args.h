// Argument errors shared by every kvwalk binding (binding layer only: uses Node-API).
// Messages follow the project rule: "Expected <expected> for <parameter> but received <value>".
#pragma once
#include <napi.h>
#include <string>

namespace kvwalk {

// Short printable form of a JS value, as JavaScript would print numbers (5, not 5.000000).
inline std::string describe_value(const Napi::Value& v) {
  if (v.IsUndefined()) return "undefined";
  if (v.IsNull()) return "null";
  if (v.IsNumber()) return v.ToString().Utf8Value();
  if (v.IsBoolean()) return v.As<Napi::Boolean>().Value() ? "true" : "false";
  if (v.IsBigInt()) return v.ToString().Utf8Value() + "n";
  if (v.IsString()) return "\"" + v.As<Napi::String>().Utf8Value() + "\"";
  if (v.IsTypedArray()) {
    static const char* names[] = {"Int8Array", "Uint8Array", "Uint8ClampedArray", "Int16Array", "Uint16Array", "Int32Array",
                                  "Uint32Array", "Float32Array", "Float64Array", "BigInt64Array", "BigUint64Array"};
    Napi::TypedArray t = v.As<Napi::TypedArray>();
    const int k = static_cast<int>(t.TypedArrayType());
    return std::string(k >= 0 && k < 11 ? names[k] : "TypedArray") + " of length " + std::to_string(t.ElementLength());
  }
  if (v.IsArray()) return "array of length " + std::to_string(v.As<Napi::Array>().Length());
  if (v.IsFunction()) return "a function";
  return "an object";
}

// Throws a TypeError (or RangeError when `range`) carrying code KVWALK_INVALID_ARGUMENT and the parameter name.
[[noreturn]] inline void throw_invalid_argument(Napi::Env env, const std::string& param, const std::string& expected, const Napi::Value& got,
                                                bool range = false) {
  const std::string msg = "Expected " + expected + " for " + param + " but received " + describe_value(got);
  Napi::Error e = range ? Napi::Error(Napi::RangeError::New(env, msg)) : Napi::Error(Napi::TypeError::New(env, msg));
  e.Set("code", Napi::String::New(env, "KVWALK_INVALID_ARGUMENT"));
  e.Set("parameter", Napi::String::New(env, param));
  throw e;
}

}  // namespace kvwalk
