// The technician's host in the lab: the lab technicians, their sign-in at the lab OpenID provider,
// the stock openvpn client, and the probes a technician would make towards a machine.
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { eventually, type Netns, OutputLog } from "./netns.ts";
import { PortalClient } from "./portal.ts";
import { type Process, ROOT, stopProcess } from "./processes.ts";
import { PORTAL } from "./wan.ts";

/** The technicians the lab OpenID provider knows, with their groups and the MFA it asserts. */
export const TECHNICIANS = [
  {
    username: "tina",
    password: "tina-lab-pw",
    name: "Tina Technician",
    groups: ["acme-service", "bolt-service"],
    amr: ["pwd", "otp"],
  },
  {
    username: "tom",
    password: "tom-lab-pw",
    name: "Tom Technician",
    groups: ["acme-service"],
    amr: ["pwd", "otp"],
  },
];

export interface TechnicianHost {
  /** A technician signed in through the lab OpenID provider. */
  technician(username?: string): Promise<PortalClient>;
  /** The stock openvpn client in the technician's namespace with `profile` (and `options`). */
  openvpn(profile: string, options?: string[]): Promise<Process & { stop(): Promise<void> }>;
  /** An HTTP GET from the technician's host; the body, or null when it does not answer. */
  fetchFromTechnician(url: string, timeoutMs?: number): string | null;
  /** Modbus holding register `register` (0 by default) read from the technician's host, or null. */
  modbusFromTechnician(host: string, register?: number): number | null;
  /**
   * A Modbus write from the technician's host: function 6 (one value) or 16 (several) to `register`
   * — "written", "exception <code>", or "no answer".
   */
  modbusWriteFromTechnician(host: string, register: number, values: number[]): string;
  /** What a TCP server says first (an SSH banner), from the technician's host; null if nothing. */
  bannerFromTechnician(host: string, port: number): string | null;
}

/** The technician's host in `technicianNs`; profiles are written under `dir`. */
export function technicianHost(
  technicianNs: Netns,
  dir: string,
  hosts: Record<string, string>,
): TechnicianHost {
  return {
    technician: async (username = "tina") => {
      const user = TECHNICIANS.find((t) => t.username === username);
      const client = new PortalClient(PORTAL, hosts);
      await client.signInWithProvider("lab", username, user?.password ?? "");
      return client;
    },
    openvpn: async (profile, options = []) => {
      const file = join(dir, `technician-${crypto.randomUUID()}.ovpn`);
      writeFileSync(file, profile, { mode: 0o600 });
      const child = technicianNs.spawn(["openvpn", "--config", file, "--verb", "3", ...options]);
      const process = { child, log: new OutputLog(child) };
      // Until it connects, the platform refuses it, or it gives up (a TLS-level refusal).
      await eventually(
        async () =>
          process.log.has("Initialization Sequence Completed") ||
          process.log.has("AUTH_FAILED") ||
          child.exitCode !== null,
        30_000,
        100,
      );
      if (!process.log.has("Initialization Sequence Completed")) {
        await stopProcess(process);
        throw new Error(
          process.log.has("AUTH_FAILED")
            ? "the platform refused the connection (AUTH_FAILED)"
            : `the technician's openvpn did not connect:\n${process.log.text.slice(-1500)}`,
        );
      }
      return { ...process, stop: () => stopProcess(process) };
    },
    fetchFromTechnician: (url, timeoutMs = 1500) => {
      const script = `try { const r = await fetch(${JSON.stringify(url)}, { signal: AbortSignal.timeout(${timeoutMs}) }); process.stdout.write("OK:" + await r.text()); } catch { process.stdout.write("NONE"); }`;
      const out = technicianNs.exec("bun", "-e", script);
      return out.startsWith("OK:") ? out.slice(3) : null;
    },
    modbusFromTechnician: (host, register = 0) => {
      const script = `import { readHoldingRegisters } from ${JSON.stringify(join(ROOT, "lab/src/simulators/modbus.ts"))}; try { const [v] = await readHoldingRegisters(${JSON.stringify(host)}, 502, ${register}, 1, 1500); process.stdout.write(String(v)); } catch { process.stdout.write("NONE"); }`;
      const out = technicianNs.exec("bun", "-e", script);
      return out === "NONE" ? null : Number(out);
    },
    modbusWriteFromTechnician: (host, register, values) =>
      technicianNs.exec("bun", "-e", modbusWriteScript(host, register, values)),
    bannerFromTechnician: (host, port) => {
      const script = `import { connect } from "node:net"; const s = connect({ host: ${JSON.stringify(host)}, port: ${port} }); const t = setTimeout(() => { process.stdout.write("NONE"); process.exit(0); }, 1500); s.on("data", (d) => { clearTimeout(t); process.stdout.write("OK:" + d.toString().split("\\n")[0]); process.exit(0); }); s.on("error", () => { clearTimeout(t); process.stdout.write("NONE"); process.exit(0); });`;
      const out = technicianNs.exec("bun", "-e", script);
      return out.startsWith("OK:") ? out.slice(3).trim() : null;
    },
  };
}

/** A script that writes Modbus registers and prints "written", "exception <code>" or "no answer". */
export function modbusWriteScript(host: string, register: number, values: number[]): string {
  const write =
    values.length === 1
      ? `writeRegister(${JSON.stringify(host)}, 502, ${register}, ${values[0]}, 1500)`
      : `writeRegisters(${JSON.stringify(host)}, 502, ${register}, ${JSON.stringify(values)}, 1500)`;
  return `import { ModbusException, writeRegister, writeRegisters } from ${JSON.stringify(join(ROOT, "lab/src/simulators/modbus.ts"))}; try { await ${write}; process.stdout.write("written"); } catch (e) { process.stdout.write(e instanceof ModbusException ? "exception " + e.code : "no answer"); }`;
}
