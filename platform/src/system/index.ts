// Running system commands (nft, conntrack, ip, openvpn), optionally inside a network namespace.
export { type CommandRunner, commandRunner } from "./commands.ts";
