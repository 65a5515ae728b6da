// The OpenVPN side of the data plane: server configuration, management socket, supervision.
export { dataPlaneProblem, KernelDataPlane, type KernelDataPlaneOptions } from "./data-plane.ts";
export {
  deviceName,
  MINIMUM_OPENVPN,
  parseOpenvpnVersion,
  renderServerConfig,
  type ServerInstance,
  supportedVersion,
} from "./server-config.ts";
