import { expect, test } from "bun:test";
import { run } from "./run.ts";

test("a command's exit code and output come back; a non-zero exit is a result, not an error", async () => {
  expect(await run(["sh", "-c", "echo out; echo err >&2; exit 3"])).toEqual({
    code: 3,
    stdout: "out\n",
    stderr: "err\n",
  });
});

test("input goes to the command's stdin", async () => {
  const result = await run(["sh", "-c", "tr a-z A-Z"], { input: "flush ruleset\n" });
  expect(result).toEqual({ code: 0, stdout: "FLUSH RULESET\n", stderr: "" });
});

test("a missing executable answers 127 with its name", async () => {
  expect(await run(["meetpoint-no-such-command", "--version"])).toEqual({
    code: 127,
    stdout: "",
    stderr: "meetpoint-no-such-command: command not found",
  });
});

test("a command past its deadline is killed and answers 124, keeping what it printed", async () => {
  const started = Date.now();
  const result = await run(["sh", "-c", "echo started; exec sleep 10"], { timeoutMs: 200 });
  expect(Date.now() - started).toBeLessThan(2000);
  expect(result.code).toBe(124);
  expect(result.stdout).toBe("started\n");
  expect(result.stderr).toBe("sh: no result within 200 ms (killed)");
});

test("a grandchild holding the output open does not hold the result back", async () => {
  const started = Date.now();
  const result = await run(["sh", "-c", "sleep 3 & echo parent; exit 0"]);
  expect(result).toMatchObject({ code: 0, stdout: "parent\n" });
  expect(Date.now() - started).toBeLessThan(2000);
});
