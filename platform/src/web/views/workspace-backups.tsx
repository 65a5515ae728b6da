// A workspace's home backups on its page: time, size, SHA-256 prefix, "Back up now" and "Restore".
import type { FC } from "hono/jsx";
import type { WorkspaceBackup } from "../../workspaces/index.ts";
import { ActionButton, DataTable } from "./components.tsx";
import { Time } from "./layout.tsx";

/** Bytes as the page shows them: B, KiB, MiB, GiB (one decimal above bytes). */
export function sizeText(bytes: number): string {
  const units = ["B", "KiB", "MiB", "GiB", "TiB"];
  let value = bytes;
  let unit = 0;
  while (value >= 1024 && unit < units.length - 1) {
    value /= 1024;
    unit++;
  }
  return unit === 0 ? `${bytes} B` : `${value.toFixed(1)} ${units[unit]}`;
}

/** The Backups section: for those who manage the workspace (platform admins, its customer's admins). */
export const BackupsSection: FC<{
  workspaceId: string;
  customerName: string;
  backups: WorkspaceBackup[];
  csrfToken: string;
}> = (p) => (
  <>
    <h2>Backups</h2>
    <p>
      The home directory (<span class="mono">/home/desk</span>) is archived on schedule and kept as
      the newest backups; a restore replaces the whole home with the backup and needs the workspace
      stopped. With several workspace hosts, the home archived and restored is the one on the host
      the workspace last ran on.
    </p>
    <DataTable
      head={["Time", "Size", "SHA-256", "By", ""]}
      rows={p.backups}
      empty="No backups yet (a workspace that never started has no home to back up)."
      row={(b) => (
        <tr>
          <td>
            <Time at={b.createdAt} />
          </td>
          <td>{sizeText(b.sizeBytes)}</td>
          <td class="mono" title={b.sha256}>
            {`${b.sha256.slice(0, 12)}…`}
          </td>
          <td>{b.reason === "scheduled" ? "schedule" : b.createdByName}</td>
          <td>
            <ActionButton
              action={`/workspaces/${p.workspaceId}/backups/${b.id}/restore`}
              csrfToken={p.csrfToken}
              kind="danger"
              confirm={`Replace the home of ${p.customerName}'s workspace with the backup of ${b.createdAt.toISOString().slice(0, 16).replace("T", " ")} UTC? Files made since then are lost.`}
            >
              Restore
            </ActionButton>
          </td>
        </tr>
      )}
    />
    <ActionButton action={`/workspaces/${p.workspaceId}/backups`} csrfToken={p.csrfToken}>
      Back up now
    </ActionButton>
  </>
);
