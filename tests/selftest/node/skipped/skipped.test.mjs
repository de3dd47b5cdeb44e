// One test that passes beside a skipped one and a todo one: both count as failures.
import { it } from "node:test";

it("passes", () => {});
it("is skipped", { skip: "deliberately" }, () => {});
it("is todo", { todo: "deliberately" }, () => {});
