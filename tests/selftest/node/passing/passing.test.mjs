// The control: three tests that pass, counted as three passed and none failed.
import { describe, it } from "node:test";

describe("passing", () => {
  it("one", () => {});
  it("two", () => {});
});
it("three", () => {});
