// A describe whose before hook throws: node reports its tests as cancelled.
import { before, describe, it } from "node:test";

describe("a describe whose before hook throws", () => {
  before(() => {
    throw new Error("deliberate failure in a hook");
  });
  it("never runs", () => {});
});
