// The platform's entry point: reads the configuration, starts the platform (platform.ts), prints
// how to reach it, and stops it cleanly on SIGINT/SIGTERM.
import { configOrExit, privateDataDirectory, privateSecretFile } from "@meetpoint/common";
import { readConfig } from "./config.ts";
import { StartRefused, startPlatform } from "./platform.ts";

const config = configOrExit(() => {
  const read = readConfig(process.env);
  privateDataDirectory("MEETPOINT_DATA_DIR", read.dataDir);
  // Key files, inside the data directory or elsewhere: only the service's own user may read them.
  if ("file" in read.kek) privateSecretFile("MEETPOINT_KEK_FILE", read.kek.file);
  if (read.tls) privateSecretFile("MEETPOINT_TLS_KEY", read.tls.keyFile);
  return read;
});
const platform = await startPlatform(config).catch((error: unknown) => {
  if (!(error instanceof StartRefused)) throw error;
  console.error(error.message);
  process.exit(2);
});
let stopping = false;
const stop = async () => {
  if (stopping) return;
  stopping = true;
  await platform.stop();
  process.exit(0);
};
platform.refused.then(async (reason) => {
  console.error(reason);
  if (stopping) return;
  stopping = true;
  await platform.stop();
  process.exit(2);
});
process.on("SIGINT", stop);
process.on("SIGTERM", stop);
