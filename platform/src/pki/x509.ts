// The one adapter for @peculiar/x509: it has global state (its crypto provider, tsyringe's registry).
// tsyringe needs the Reflect metadata API before @peculiar/x509 loads.
import "reflect-metadata";
import * as x509 from "@peculiar/x509";

x509.cryptoProvider.set(crypto);

export { x509 };
