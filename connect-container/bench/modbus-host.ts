// The processes of the Modbus filter benchmark, each run inside its own network namespace:
//   plc <address>                 the lab's Modbus/TCP simulator on <address>:502
//   filter <machine address>      the agent's read-only filter (ModbusListener), printing its port
//   load <host> <seconds> <conns> read holding registers over <conns> connections, one request
//                                 outstanding on each; prints {requests, seconds, latenciesMs}
import { connect } from "node:net";
import { modbusServer } from "@meetpoint/lab";
import { ModbusListener } from "../src/modbus/relay.ts";

const [role, a = "", b = "5", c = "1"] = process.argv.slice(2);

if (role === "plc") {
  modbusServer(a, 502, (n) => 1000 + n);
  console.log("plc ready");
} else if (role === "filter") {
  const listener = await ModbusListener.start({
    upstream: { host: a, port: 502 },
    sessionOf: () => "bench",
    record: () => {},
  });
  console.log(`filter port ${listener.port}`);
} else if (role === "load") {
  const seconds = Number(b);
  const until = performance.now() + seconds * 1000;
  const latencies: number[] = [];
  const one = () =>
    new Promise<void>((resolve, reject) => {
      const socket = connect({ host: a, port: 502, noDelay: true });
      let transaction = 0;
      let sent = 0;
      let buffer = Buffer.alloc(0);
      const request = () => {
        transaction = (transaction + 1) & 0xffff;
        sent = performance.now();
        socket.write(
          Buffer.from([transaction >> 8, transaction & 0xff, 0, 0, 0, 6, 1, 3, 0, 1, 0, 4]),
        );
      };
      socket.on("connect", request);
      socket.on("data", (chunk: Buffer) => {
        buffer = Buffer.concat([buffer, chunk]);
        if (buffer.length < 7 || buffer.length < 6 + buffer.readUInt16BE(4)) return;
        buffer = buffer.subarray(6 + buffer.readUInt16BE(4));
        latencies.push(performance.now() - sent);
        if (performance.now() < until) request();
        else {
          socket.destroy();
          resolve();
        }
      });
      socket.on("error", reject);
    });
  const started = performance.now();
  await Promise.all(Array.from({ length: Number(c) }, one));
  console.log(
    JSON.stringify({
      requests: latencies.length,
      seconds: (performance.now() - started) / 1000,
      latenciesMs: latencies,
    }),
  );
} else {
  throw new Error(`unknown role ${role}`);
}
