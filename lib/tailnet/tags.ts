/**
 * The Tailscale operator's tags (docs/upstream.md#tailscale-operator): its own device and OAuth client carry
 * {@link OPERATOR_TAG}; proxies without tags of their own get {@link PROXY_TAG}. The operator chart's
 * `operatorConfig.defaultTags` must equal the OAuth client's tags.
 */
export const OPERATOR_TAG = "tag:k8s-operator";
export const PROXY_TAG = "tag:k8s";

/**
 * What the operator's OAuth client may do: manage its devices, mint auth keys for its proxies and
 * manage Tailscale Services (write scopes; see the operator's install guide).
 */
export const OPERATOR_OAUTH_SCOPES = ["devices:core", "auth_keys", "services"] as const;
