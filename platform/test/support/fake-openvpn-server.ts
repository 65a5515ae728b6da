#!/usr/bin/env bun
// A stand-in for an openvpn server process, for supervision tests without root: reads --config,
// writes its pid file, opens the management Unix socket and answers every command with SUCCESS.
// While the file "fail-remaining" beside the config holds a number above 0, it counts it down and
// exits 1 at once, as openvpn does when its tun device cannot be opened.
import { existsSync, readFileSync, writeFileSync } from "node:fs";
import { createServer } from "node:net";
import { dirname, join } from "node:path";

const argv = process.argv.slice(2);
const config = readFileSync(argv[argv.indexOf("--config") + 1] ?? "", "utf8");
const option = (name: string) => config.match(new RegExp(`^${name} (\\S+)`, "m"))?.[1] ?? "";
const failFile = join(dirname(argv[argv.indexOf("--config") + 1] ?? ""), "fail-remaining");
const remaining = existsSync(failFile) ? Number(readFileSync(failFile, "utf8")) : 0;
if (remaining > 0) {
  writeFileSync(failFile, String(remaining - 1));
  console.log("ERROR: Cannot open TUN/TAP dev /dev/net/tun: No such device (errno=19)");
  console.log("Exiting due to fatal error");
  process.exit(1);
}
writeFileSync(option("writepid"), String(process.pid));
process.on("SIGTERM", () => process.exit(0));
createServer((socket) => {
  socket.write(">INFO:OpenVPN Management Interface Version 5\n>HOLD:Waiting for hold release:0\n");
  socket.on("data", (data) => {
    for (const command of data.toString().split("\n").filter(Boolean))
      socket.write(`SUCCESS: ${command}\n`);
  });
}).listen(option("management"));
console.log(`fake openvpn server ${process.pid} running with ${option("cert")}`);
// What a real server prints when a client with an expired certificate tries to connect.
console.log(
  "198.18.3.2:51234 VERIFY ERROR: depth=0, error=certificate has expired: CN=technician.x",
);
console.log("198.18.3.2:51234 TLS Error: TLS handshake failed");
