// Copied into the `bundler` package as sockeye_init.js: the bundler instantiates the
// wasm itself when sockeye_client.js is imported, so there is nothing to do.
export {};
