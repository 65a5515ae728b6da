// The technician's optional corporate proxy on the Connect form: host and port only, written into
// the one-time .ovpn as `http-proxy host port` (their OpenVPN client asks for credentials itself).
import type { FC } from "hono/jsx";
import { Field } from "./layout.tsx";

export const HttpProxyFields: FC = () => (
  <details>
    <summary>Behind a corporate HTTP proxy?</summary>
    <Field
      label="Proxy host (name or IPv4 address, no http://)"
      name="proxyHost"
      placeholder="proxy.example.com"
      required={false}
    />
    <Field
      label="Proxy port"
      name="proxyPort"
      placeholder="3128"
      inputmode="numeric"
      required={false}
    />
  </details>
);
