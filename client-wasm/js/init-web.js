// Copied into the `web` package as sockeye_init.js: fetches and instantiates the wasm
// before the glue runs (top-level await).
import init from "./sockeye_client.js";

await init();
