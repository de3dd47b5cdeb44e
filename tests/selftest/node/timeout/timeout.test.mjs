// A test that never settles: node cancels it at its timeout.
import { it } from "node:test";

it("never settles", { timeout: 100 }, () => new Promise(() => {}));
