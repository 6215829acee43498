export { compileGlob, globEscape, hasGlobSyntax, literalPrefix } from './glob';
export { DEFAULT_TAG_PREFIX, LEASE_PREFIX, RESERVED_PREFIX, hashTagOf, isReservedKey, leaseKeyOf, tagSetKey } from './key-names';
export { L1InvalidationMessage, L1MessageContext, L1Payload, L1_MESSAGE_VERSION, buildL1Messages } from './l1-message';
