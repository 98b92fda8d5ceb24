/* Non-Linux builds: the packet dataplane needs AF_PACKET, so the addon only says so. */
#include <node_api.h>

static napi_value init(napi_env env, napi_value exports) {
  napi_throw_error(env, "ENOTSUP", "the packet dataplane needs Linux (AF_PACKET); use --dataplane proxy");
  return exports;
}

NAPI_MODULE(NODE_GYP_MODULE_NAME, init)
