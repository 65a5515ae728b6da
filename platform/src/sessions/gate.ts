// Whether new remote access may be granted right now: the data plane runs, and access is not cut
// for a lost database.
import { DataPlaneOffError, UnavailableError } from "../shared/index.ts";
import type { DataPlane, DataPlaneStatus } from "./data-plane.ts";

export class AccessGate {
  /**
   * Set while access is cut because the database was lost, until the cut is recorded: nothing new
   * is granted meanwhile, or the recording would end it at once.
   */
  cutForDatabase = false;

  constructor(private readonly dataPlane: Pick<DataPlane, "status">) {}

  status(): DataPlaneStatus {
    return this.dataPlane.status();
  }

  /** Throws unless new access may be granted (UnavailableError, DataPlaneOffError). */
  require(): void {
    if (this.cutForDatabase)
      throw new UnavailableError(
        "The platform lost its database and cut all access; it is recording that now. Try again in a few seconds.",
      );
    const status = this.dataPlane.status();
    if (!status.on) throw new DataPlaneOffError(status.reason);
  }
}
