import { expect, test } from "bun:test";
import { sourceOf } from "./source.ts";

test("addresses: IPv4 as they are, IPv4-mapped unwrapped, IPv6 by its /64", () => {
  expect(sourceOf("203.0.113.7")).toBe("203.0.113.7");
  expect(sourceOf("::ffff:203.0.113.7")).toBe("203.0.113.7");
  expect(sourceOf("::ffff:cb00:7107")).toBe("203.0.113.7");
  expect(sourceOf("2001:db8:0:1::5")).toBe("2001:db8:0:1::/64");
  expect(sourceOf("2001:0db8:0000:0001:aaaa:bbbb:cccc:dddd")).toBe("2001:db8:0:1::/64");
  expect(sourceOf("2001:db8::1")).toBe("2001:db8:0:0::/64");
  expect(sourceOf("::1")).toBe("0:0:0:0::/64");
  expect(sourceOf("unknown")).toBe("unknown");
});
