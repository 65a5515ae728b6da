#!/usr/bin/env bun
// A stand-in for the openvpn executable: reads --config (the profile names the scenario), opens
// the --management Unix socket and answers like OpenVPN's management interface.
//   scenario up:       reports CONNECTED after "state on" (after "hold release" when started with
//                      --management-hold, as OpenVPN does), exits on "signal SIGTERM"
//   scenario fail:     prints an AUTH_FAILED line and exits 1 without a management socket
//   scenario stubborn: like up, but ignores SIGTERM (management and signal) until SIGKILL
import { readFileSync } from "node:fs";
import { createServer } from "node:net";

const argv = process.argv.slice(2);
if (argv[0] === "--version") {
  console.log("OpenVPN 2.6.14 x86_64-pc-linux-gnu [SSL (OpenSSL)]");
  process.exit(1);
}
const option = (name: string) => argv[argv.indexOf(name) + 1] ?? "";
const scenario = readFileSync(option("--config"), "utf8").match(/scenario (\w+)/)?.[1] ?? "up";
console.log(`2025-01-01 10:00:00 argv ${argv.join(" ")}`);
if (scenario === "fail") {
  console.log("2025-01-01 10:00:01 AUTH_FAILED,certificate revoked");
  process.exit(1);
}
if (scenario === "stubborn") process.on("SIGTERM", () => {});
const held = argv.includes("--management-hold");
let listening = false;
createServer((socket) => {
  socket.write(">INFO:OpenVPN Management Interface Version 5\n");
  if (held) socket.write(">HOLD:Waiting for hold release:0\n");
  socket.on("data", (data) => {
    for (const command of data.toString().split("\n").filter(Boolean)) {
      socket.write("SUCCESS: done\n");
      if (command === "state on") listening = true;
      // Connected once running (no hold, or released) and once the client listens for it.
      if (
        listening &&
        (!held || command === "hold release") &&
        ["state on", "hold release"].includes(command)
      )
        socket.write(">STATE:1735725600,CONNECTED,SUCCESS,100.127.0.2,198.18.0.1,1194,,\n");
      if (command === "signal SIGTERM" && scenario !== "stubborn") process.exit(0);
    }
  });
}).listen(option("--management"));
