{
  "targets": [
    {
      "target_name": "tslvs_packet",
      "sources": ["src/packet.c"],
      "cflags": ["-O2", "-Wall", "-Wextra", "-Wno-unused-parameter", "-std=gnu11"],
      "defines": ["NAPI_VERSION=8", "_GNU_SOURCE"],
      "conditions": [
        ["OS!='linux'", { "sources!": ["src/packet.c"], "sources": ["src/unsupported.c"] }]
      ]
    },
    {
      "target_name": "tslvs_relay",
      "sources": ["src/relay.c"],
      "cflags": ["-O2", "-Wall", "-Wextra", "-Wno-unused-parameter", "-std=gnu11"],
      "defines": ["NAPI_VERSION=8", "_GNU_SOURCE"],
      "conditions": [
        ["OS!='linux'", { "sources!": ["src/relay.c"], "sources": ["src/unsupported.c"] }]
      ]
    }
  ]
}
