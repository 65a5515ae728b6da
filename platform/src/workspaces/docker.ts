// The Docker Engine the jump workspaces run on, through dockerode: a Unix socket on this host, or a
// separate workspace host over TCP with mutual TLS (Docker's "protect the daemon socket"). Whoever
// holds that endpoint is root on its host: the README says what trusting it means.
import { readFileSync } from "node:fs";
import { join } from "node:path";
import Docker from "dockerode";
import type { DockerEndpoint } from "../config.ts";

/**
 * A dockerode client for `endpoint`. For TLS it reads ca.pem, cert.pem and key.pem from the
 * endpoint's directory (throws naming the file when one is missing or unreadable) and verifies the
 * Docker host's certificate against ca.pem. Opens no connection: the first API call does.
 */
export function workspaceDocker(endpoint: DockerEndpoint): Docker {
  if (endpoint.kind === "socket") return new Docker({ socketPath: endpoint.socketPath });
  const read = (name: string) => {
    const path = join(endpoint.tlsDir, name);
    try {
      return readFileSync(path);
    } catch (error) {
      throw new Error(`workspace Docker endpoint: cannot read ${path}`, { cause: error });
    }
  };
  return new Docker({
    protocol: "https",
    host: endpoint.host,
    port: endpoint.port,
    ca: read("ca.pem"),
    cert: read("cert.pem"),
    key: read("key.pem"),
  });
}
