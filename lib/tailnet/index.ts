export { OPERATOR_OAUTH_SCOPES, OPERATOR_TAG, PROXY_TAG } from "./tags";
export { onTailnet } from "./exposure";
export { buildTailnetPolicy, groupRef, policyFileJson, unmanagedTagOwnersWarning } from "./policy";
export type { TailnetGrant, TailnetPolicy, TailnetPolicyInput, TailnetTest } from "./policy";
