# Build of the optional native engine (udt_native): node-addon-api, C++17, exceptions on; Linux fast paths inside.
{
  "targets": [
    {
      "target_name": "udt_native",
      "sources": [
        "src/cc/addon.cc",
        "src/cc/udp_engine.cc",
        "src/cc/udp_engine_io.cc",
        "src/cc/pacer.cc",
        "src/cc/batch_io.cc",
        "src/cc/peer_table.cc",
        "src/cc/sock_addr.cc",
        "src/cc/socket_setup.cc",
        "src/cc/region.cc"
      ],
      "dependencies": ["<!(node -p \"require('node-addon-api').targets\"):node_addon_api_except"],
      "defines": ["NAPI_VERSION=8"],
      "cflags_cc": ["-std=c++17", "-O2", "-Wall", "-Wextra", "-Wno-missing-field-initializers"],
      "cflags_cc!": ["-std=gnu++1y", "-std=gnu++17"],
      "ldflags": ["-pthread"],
      "xcode_settings": {
        "CLANG_CXX_LANGUAGE_STANDARD": "c++17",
        "GCC_ENABLE_CPP_EXCEPTIONS": "YES",
        "MACOSX_DEPLOYMENT_TARGET": "10.15"
      }
    }
  ]
}
