import { describe, expect, test } from "bun:test";
import { formatIpv4, parseCidr } from "@meetpoint/common";
import {
  endpointOfRun,
  endpointOrder,
  endpointPool,
  unreachable,
  type WorkspaceEndpoint,
} from "./endpoints.ts";

const A = "tcp://ws-a:2376";
const B = "tcp://ws-b:2376";
const C = "unix:///var/run/docker.sock";

describe("endpointOrder", () => {
  test("never ran: replicas go through the endpoints in their configured order", () => {
    expect(endpointOrder([A, B], null, 2)).toEqual([A, B]);
    expect(endpointOrder([A, B, C], null, 2)).toEqual([A, B]);
  });

  test("the endpoint last run on goes first, then the others in configured order", () => {
    expect(endpointOrder([A, B], B, 2)).toEqual([B, A]);
    expect(endpointOrder([A, B, C], B, 3)).toEqual([B, A, C]);
    expect(endpointOrder([A, B, C], C, 3)).toEqual([C, A, B]);
  });

  test("more replicas than endpoints cycle; one endpoint takes every replica", () => {
    expect(endpointOrder([A, B], B, 5)).toEqual([B, A, B, A, B]);
    expect(endpointOrder([C], C, 2)).toEqual([C, C]);
    expect(endpointOrder([C], null, 3)).toEqual([C, C, C]);
  });

  test("an endpoint last run on that is no longer configured is ignored; at least one replica", () => {
    expect(endpointOrder([A, B], "tcp://gone:2376", 2)).toEqual([A, B]);
    expect(endpointOrder([A, B], B, 0)).toEqual([B]);
  });

  test("no endpoint at all is an error", () => {
    expect(() => endpointOrder([], null, 2)).toThrow("no workspace Docker endpoint configured");
  });
});

describe("endpointOfRun", () => {
  // Only the names matter here; the clients are never called.
  const endpoints = [A, B].map((name) => ({ name }) as WorkspaceEndpoint);

  test("the recorded endpoint; a run from before endpoints were recorded ran on the first", () => {
    expect(endpointOfRun(endpoints, { dockerEndpoint: B })?.name).toBe(B);
    expect(endpointOfRun(endpoints, { dockerEndpoint: null })?.name).toBe(A);
  });

  test("an endpoint no longer configured: null", () => {
    expect(endpointOfRun(endpoints, { dockerEndpoint: "tcp://gone:2376" })).toBeNull();
  });
});

test("unreachable: the messages dockerFailure gives for an endpoint that cannot be reached", () => {
  expect(unreachable(`The workspace Docker endpoint ${A} cannot be reached (ECONNREFUSED).`)).toBe(
    true,
  );
  expect(
    unreachable(
      `The workspace Docker endpoint ${A} did not answer (create network: no answer within 30 s).`,
    ),
  ).toBe(true);
  expect(unreachable("The image x is not on the Docker host: load or pull it there.")).toBe(false);
  expect(unreachable("the desktop did not answer within 60 s")).toBe(false);
});

test("each endpoint cuts its networks from a block of the pool of its own", () => {
  const pool = parseCidr("198.19.232.0/21") ?? { base: 0, prefix: 32 };
  const text = (c: { base: number; prefix: number } | null) =>
    c ? `${formatIpv4(c.base)}/${c.prefix}` : null;
  expect(text(endpointPool(pool, 28, 0, 1))).toBe("198.19.232.0/21");
  expect(text(endpointPool(pool, 28, 0, 2))).toBe("198.19.232.0/22");
  expect(text(endpointPool(pool, 28, 1, 2))).toBe("198.19.236.0/22");
  expect(text(endpointPool(pool, 28, 2, 3))).toBe("198.19.236.0/23");
  // Too small to give each a network of the configured size.
  expect(endpointPool(pool, 22, 1, 4)).toBeNull();
  expect(endpointPool(pool, 28, 0, 256)).toBeNull();
});
