import { describe, expect, test } from "bun:test";
import { ManagementClient, ManagementParser, quoteReason } from "./management.ts";

describe("management interface parser", () => {
  test("a CLIENT:CONNECT with its environment becomes one event", () => {
    const parser = new ManagementParser();
    const events = parser.push(
      [
        ">INFO:OpenVPN Management Interface Version 5 -- type 'help' for more info",
        ">CLIENT:CONNECT,7,1",
        ">CLIENT:ENV,common_name=technician.0b6f2a5e-8c1d-4e2f-9a3b-4c5d6e7f8a9b",
        ">CLIENT:ENV,tls_serial_hex_0=7e:12:ab",
        ">CLIENT:ENV,untrusted_ip=198.18.3.2",
        "",
      ].join("\r\n"),
    );
    expect(events).toEqual([]);
    expect(parser.push(">CLIENT:ENV,END\r\n")).toEqual([
      {
        type: "connect",
        cid: 7,
        kid: 1,
        env: {
          common_name: "technician.0b6f2a5e-8c1d-4e2f-9a3b-4c5d6e7f8a9b",
          tls_serial_hex_0: "7e:12:ab",
          untrusted_ip: "198.18.3.2",
        },
      },
    ]);
  });

  test("lines split across chunks, byte counts, hold, disconnects and command answers", () => {
    const parser = new ManagementParser();
    expect(parser.push(">BYTECOUNT_CLI:7,1200")).toEqual([]);
    expect(
      parser.push(
        ",3400\n>HOLD:Waiting for hold release:0\nSUCCESS: client-kill command succeeded\n",
      ),
    ).toEqual([
      { type: "bytecount", cid: 7, bytesIn: 1200, bytesOut: 3400 },
      { type: "hold" },
      { type: "response", ok: true, text: "client-kill command succeeded" },
    ]);
    expect(
      parser.push(
        ">CLIENT:DISCONNECT,7\n>CLIENT:ENV,bytes_received=10\n>CLIENT:ENV,END\nERROR: client-kill command failed\n",
      ),
    ).toEqual([
      { type: "disconnect", cid: 7, env: { bytes_received: "10" } },
      { type: "response", ok: false, text: "client-kill command failed" },
    ]);
  });

  test("a deny reason cannot break out of its quotes", () => {
    expect(quoteReason('bad "quote"\nclient-auth 1 1')).toBe('"bad  quote  client-auth 1 1"');
  });

  test("a client's state changes and fatal errors become events", () => {
    const parser = new ManagementParser();
    expect(
      parser.push(
        ">STATE:1764111600,CONNECTED,SUCCESS,100.127.0.6,198.18.211.1,443,,\r\n>FATAL:Cannot open TUN/TAP dev\r\n",
      ),
    ).toEqual([
      { type: "state", name: "CONNECTED", detail: "SUCCESS", localAddress: "100.127.0.6" },
      { type: "fatal", text: "Cannot open TUN/TAP dev" },
    ]);
    expect(parser.push(">STATE:1764111601,RECONNECTING,connection-reset,,,,,\n")).toEqual([
      { type: "state", name: "RECONNECTING", detail: "connection-reset", localAddress: "" },
    ]);
  });
});

describe("management client", () => {
  /** A management socket that answers each command after `delayMs(command)`, in order. */
  async function server(delayMs: (command: string) => number) {
    const { mkdtempSync } = await import("node:fs");
    const { join } = await import("node:path");
    const { tmpdir } = await import("node:os");
    const path = join(mkdtempSync(join(tmpdir(), "mgmt-")), "s.sock");
    let chain = Promise.resolve();
    const listener = Bun.listen({
      unix: path,
      socket: {
        data(socket, data) {
          for (const command of data.toString().split("\n").filter(Boolean)) {
            chain = chain
              .then(() => Bun.sleep(delayMs(command)))
              .then(() => void socket.write(`SUCCESS: ${command}\n`));
          }
        },
      },
    });
    return { path, stop: () => listener.stop(true) };
  }

  test("a command without an answer times out; its late answer is not taken for the next one's", async () => {
    const s = await server((command) => (command === "slow" ? 300 : 0));
    const client = new ManagementClient(() => {});
    await client.connect(s.path);
    expect(await client.command("slow", 100)).toEqual({
      ok: false,
      text: 'no answer to "slow" within 100 ms',
    });
    expect(await client.command("next")).toEqual({ ok: true, text: "next" });
    client.close();
    s.stop();
  });

  test("a connection that goes away answers every waiting command with why", async () => {
    const s = await server(() => 10_000);
    const logged: string[] = [];
    const client = new ManagementClient(
      () => {},
      (line) => logged.push(line),
    );
    await client.connect(s.path);
    const waiting = client.command("hold release");
    s.stop();
    expect(await waiting).toMatchObject({ ok: false });
    expect(client.connected).toBe(false);
    expect(await client.command("status")).toEqual({ ok: false, text: "not connected" });
  });
});
