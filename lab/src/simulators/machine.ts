// A machine on a site's LAN for the lab: its device web UI (HTTP) and a PLC (Modbus/TCP), at the
// address given. Run: bun lab/src/simulators/machine.ts <address> <name>
import { modbusServer } from "./modbus.ts";

const [address = "192.168.0.10", name = "machine"] = process.argv.slice(2);
Bun.serve({
  hostname: address,
  port: 80,
  fetch: () => new Response(`${name} web UI\n`, { headers: { "content-type": "text/plain" } }),
});
// Register n holds n + 1000, register 0 the machine's number (A = 1, B = 2 …) for telling them apart.
modbusServer(address, 502, (n) => (n === 0 ? name.charCodeAt(name.length - 1) : 1000 + n));
console.log(`${name}: HTTP on ${address}:80, Modbus/TCP on ${address}:502`);
