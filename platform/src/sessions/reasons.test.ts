import { describe, expect, test } from "bun:test";
import fc from "fast-check";
import { END_REASONS } from "./lifecycle.ts";
import {
  CLOSE_REASONS,
  closeAfterEnd,
  closeReasonText,
  endReasonOf,
  endText,
  isCloseReason,
  operatorMustReconnect,
} from "./reasons.ts";

describe("close reasons", () => {
  test("only a technician's or an admin's end leaves the re-arm to the operator", () => {
    fc.assert(
      fc.property(fc.constantFrom(...CLOSE_REASONS), (reason) => {
        expect(operatorMustReconnect(reason)).toBe(reason === "technician" || reason === "admin");
      }),
    );
    expect(operatorMustReconnect(null)).toBe(false);
  });

  test("an end closes the data channel exactly when it takes the re-arm away", () => {
    fc.assert(
      fc.property(fc.constantFrom(...END_REASONS), (reason) => {
        const close = closeAfterEnd(reason);
        expect(close !== null).toBe(reason === "technician" || reason === "admin");
        if (close) expect(operatorMustReconnect(close)).toBe(true);
      }),
    );
  });

  test("under every approval policy a person's end leaves the channel while others are open; the last one closes it", () => {
    const approving = ["operator_approval", "customer_approval", "two_party"] as const;
    fc.assert(
      fc.property(
        fc.constantFrom(...END_REASONS),
        fc.constantFrom(...approving),
        fc.boolean(),
        (reason, policy, othersOpen) => {
          const close = closeAfterEnd(reason, policy, othersOpen);
          const personal = reason === "technician" || reason === "admin";
          expect(close).toBe(personal && !othersOpen ? reason : null);
          // Under operator Connect the others do not matter.
          expect(closeAfterEnd(reason, "operator_connect", othersOpen)).toBe(
            personal ? reason : null,
          );
        },
      ),
    );
  });

  test("the remote sessions of a closed channel never end as if a person had ended them", () => {
    fc.assert(
      fc.property(fc.constantFrom(...CLOSE_REASONS), (reason) => {
        const end = endReasonOf(reason);
        expect(END_REASONS).toContain(end);
        expect(["technician", "admin", "expiry", "config_unused"]).not.toContain(end);
      }),
    );
  });

  test("every reason has words; only known values are reasons", () => {
    for (const reason of CLOSE_REASONS) expect(closeReasonText(reason).length).toBeGreaterThan(0);
    expect(closeReasonText("technician")).toBe("remote session ended by technician");
    expect(isCloseReason("operator")).toBe(true);
    expect(isCloseReason("remote session ended by technician")).toBe(false);
  });
});

describe("end texts", () => {
  test("a channel closed by a person's end ends the others as channel_closed, a fault as gateway_lost", () => {
    expect(endReasonOf("technician")).toBe("channel_closed");
    expect(endReasonOf("admin")).toBe("channel_closed");
    for (const fault of ["gateway_lost", "replaced", "renewal"] as const)
      expect(endReasonOf(fault)).toBe("gateway_lost");
  });

  test("the technician reads who closed the channel and who must re-arm; every reason has words", () => {
    expect(endText({ endReason: "channel_closed", endedByName: "Ann" })).toBe(
      "ended because Ann disconnected and the gateway's data channel closed; the operator at the machine must connect again",
    );
    expect(endText({ endReason: "channel_closed", endedByName: null })).toContain(
      "another technician disconnected",
    );
    expect(endText({ endReason: null })).toBe("");
    for (const reason of END_REASONS)
      expect(endText({ endReason: reason }).length).toBeGreaterThan(8);
    expect(endText({ endReason: "request_expired" })).toBe("ended by request expired");
  });
});
