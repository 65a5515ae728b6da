// iperf3 between two namespaces: a one-shot server on `address` in `serverNs`, the client in
// `clientNs` sending for `seconds`; the receiver's bits per second.
import { eventually, type Netns, OutputLog } from "../src/netns.ts";

export async function iperf(
  serverNs: Netns,
  address: string,
  clientNs: Netns,
  seconds: number,
  target = address,
): Promise<number> {
  const server = serverNs.spawn(["iperf3", "-s", "-1", "-B", address, "-p", "5201"]);
  const log = new OutputLog(server);
  await eventually(async () => log.has("Server listening"), 5000);
  const out = clientNs.exec("iperf3", "-c", target, "-p", "5201", "-t", String(seconds), "-J");
  const result = JSON.parse(out) as {
    end?: { sum_received?: { bits_per_second?: number } };
    error?: string;
  };
  if (result.error) throw new Error(`iperf3: ${result.error}`);
  return result.end?.sum_received?.bits_per_second ?? 0;
}
