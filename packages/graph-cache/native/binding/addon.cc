// Node-API binding of @kvwalk/graph-cache: the only node-addon-api code of the package.
#include <napi.h>
#include <kvwalk/probe.h>

Napi::Object Init(Napi::Env env, Napi::Object exports) {
  kvwalk::export_probe(env, exports);
  return exports;
}

NODE_API_MODULE(graph_cache, Init)
