// Runs a system command (nft, ip, sysctl) and returns its result; a missing command answers 127.
export interface CommandResult {
  code: number;
  stdout: string;
  stderr: string;
}

export type Runner = (args: string[], stdin?: string) => Promise<CommandResult>;

export const run: Runner = async (args, stdin) => {
  try {
    const child = Bun.spawn(args, {
      stdin: stdin === undefined ? "ignore" : new TextEncoder().encode(stdin),
      stdout: "pipe",
      stderr: "pipe",
    });
    const [stdout, stderr, code] = await Promise.all([
      new Response(child.stdout).text(),
      new Response(child.stderr).text(),
      child.exited,
    ]);
    return { code, stdout, stderr };
  } catch (error) {
    return { code: 127, stdout: "", stderr: `${args[0]}: ${String(error)}` };
  }
};
